// SPDX-License-Identifier: GPL-2.0
/*
 * memballoon: the device's configuration space.
 *
 * The host writes num_pages (its target, in 4 KiB pages); we write actual
 * (what the balloon holds).  The spec wants actual written as one 32-bit
 * little-endian store, so the host never sees a torn value.  The modern PCI
 * and MMIO transports do that for a 4-byte field, but the legacy PCI
 * transport copies config writes byte by byte, and QEMU then reports every
 * intermediate value as a BALLOON_CHANGE.  For a legacy PCI device we
 * therefore write the field ourselves through the device's I/O BAR.
 */
#include <linux/io.h>
#include <linux/pci.h>
#include <linux/virtio_pci.h>

#include "memballoon.h"

u32 mb_read_target(struct memballoon *mb)
{
	u32 num_pages;

	/* The balloon's config space is little-endian even on legacy devices. */
	virtio_cread_le(mb->vdev, struct virtio_balloon_config, num_pages,
			&num_pages);
	/* A target that is not a whole number of guest pages would never settle. */
	return ALIGN(num_pages, MB_PFNS_PER_PAGE);
}

/* The legacy virtio-pci device behind @vdev, if that is its transport. */
static struct pci_dev *mb_legacy_pci_dev(struct virtio_device *vdev)
{
	struct device *parent = vdev->dev.parent;
	struct pci_dev *pdev;

	if (virtio_has_feature(vdev, VIRTIO_F_VERSION_1) || !parent ||
	    !dev_is_pci(parent))
		return NULL;
	pdev = to_pci_dev(parent);
	/* Only the legacy layout: virtio's vendor ID and an I/O port BAR 0. */
	if (pdev->vendor != PCI_VENDOR_ID_REDHAT_QUMRANET ||
	    !(pci_resource_flags(pdev, 0) & IORESOURCE_IO))
		return NULL;
	return pdev;
}

void mb_write_actual(struct memballoon *mb)
{
	struct pci_dev *pdev = mb_legacy_pci_dev(mb->vdev);
	u32 actual = mb->num_pages;
	void __iomem *base;

	lockdep_assert_held(&mb->lock);
	if (pdev) {
		base = pci_iomap(pdev, 0, 0);
		if (base) {
			iowrite32(actual, base +
				  VIRTIO_PCI_CONFIG_OFF(pdev->msix_enabled) +
				  offsetof(struct virtio_balloon_config, actual));
			pci_iounmap(pdev, base);
			return;
		}
	}
	virtio_cwrite_le(mb->vdev, struct virtio_balloon_config, actual,
			 &actual);
}
