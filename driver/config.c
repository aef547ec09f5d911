// SPDX-License-Identifier: GPL-2.0
/*
 * memballoon: the device's configuration space.
 *
 * The host writes num_pages (its target, in 4 KiB pages); we write actual
 * (what the balloon holds).  The spec wants actual written as one 32-bit
 * little-endian store, so the host never sees a torn value.  The modern PCI
 * and MMIO transports do that for a 4-byte field, but the legacy ones (PCI
 * with disable-modern=on, and virtio-mmio version 1, QEMU microvm's default)
 * copy config writes byte by byte, and QEMU reports the value after each
 * byte as a BALLOON_CHANGE: deflating from 0x40000 pages, the first event
 * says 0x4f000, 240 MiB more than the balloon ever held, and libvirt takes
 * it as the guest's balloon.  For a legacy device we therefore map the
 * field ourselves and store it in one go.  Tests: legacy_actual (PCI; the
 * in-tree driver, which writes through the transport, shows the torn
 * value there) and mmio (legacy MMIO).
 */
#include <linux/io.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/virtio_mmio.h>
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

/* Legacy virtio-pci: the config space follows the header in I/O BAR 0. */
static void mb_map_legacy_pci(struct memballoon *mb, struct pci_dev *pdev)
{
	if (pdev->vendor != PCI_VENDOR_ID_REDHAT_QUMRANET ||
	    !(pci_resource_flags(pdev, 0) & IORESOURCE_IO))
		return;
	mb->actual_base = pci_iomap(pdev, 0, 0);
	if (!mb->actual_base)
		return;
	mb->actual_pdev = pdev;
	mb->actual_reg = mb->actual_base +
			 VIRTIO_PCI_CONFIG_OFF(pdev->msix_enabled) +
			 offsetof(struct virtio_balloon_config, actual);
}

/* Legacy virtio-mmio: version 1 registers, config space at 0x100. */
static void mb_map_legacy_mmio(struct memballoon *mb,
			       struct platform_device *pdev)
{
	struct resource *res = platform_get_resource(pdev, IORESOURCE_MEM, 0);
	void __iomem *base;

	if (!res || resource_size(res) < VIRTIO_MMIO_CONFIG +
					 sizeof(struct virtio_balloon_config))
		return;
	base = ioremap(res->start, resource_size(res));
	if (!base)
		return;
	if (readl(base + VIRTIO_MMIO_MAGIC_VALUE) != 0x74726976 ||	/* "virt" */
	    readl(base + VIRTIO_MMIO_VERSION) != 1) {
		iounmap(base);
		return;
	}
	mb->actual_base = base;
	mb->actual_reg = base + VIRTIO_MMIO_CONFIG +
			 offsetof(struct virtio_balloon_config, actual);
}

/* Find a legacy transport's config field for one-store writes of actual. */
void mb_config_init(struct memballoon *mb)
{
	struct device *parent = mb->vdev->dev.parent;

	if (virtio_has_feature(mb->vdev, VIRTIO_F_VERSION_1) || !parent)
		return;
	if (dev_is_pci(parent))
		mb_map_legacy_pci(mb, to_pci_dev(parent));
	else if (dev_is_platform(parent))
		mb_map_legacy_mmio(mb, to_platform_device(parent));
}

void mb_config_exit(struct memballoon *mb)
{
	if (!mb->actual_base)
		return;
	if (mb->actual_pdev)
		pci_iounmap(mb->actual_pdev, mb->actual_base);
	else
		iounmap(mb->actual_base);
	mb->actual_base = NULL;
	mb->actual_reg = NULL;
}

void mb_write_actual(struct memballoon *mb)
{
	u32 actual = mb->num_pages;

	u32 seen;

	lockdep_assert_held(&mb->lock);
	if (mb->actual_reg) {
		iowrite32(actual, mb->actual_reg);
		/* Trust the mapping only while the device reads back what we wrote. */
		virtio_cread_le(mb->vdev, struct virtio_balloon_config, actual,
				&seen);
		if (seen == actual)
			return;
		dev_warn(&mb->vdev->dev,
			 "device ignored a 32-bit write of actual (%u, reads %u): writing it through the transport from now on\n",
			 actual, seen);
		mb_config_exit(mb);
	}
	virtio_cwrite_le(mb->vdev, struct virtio_balloon_config, actual,
			 &actual);
}
