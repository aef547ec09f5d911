// SPDX-License-Identifier: GPL-2.0
/*
 * memballoon: free page reporting (VIRTIO_BALLOON_F_REPORTING) and page
 * poison (VIRTIO_BALLOON_F_PAGE_POISON).
 *
 * Reporting: the kernel's page_reporting core hands us batches of free
 * buddy blocks; we pass them to the host on the reporting queue (as device-
 * writable buffers, as the spec says) and wait until it used them, and the
 * host drops their backing memory.  The guest keeps the pages: nothing
 * moves in the balloon.
 *
 * The order is 2 MiB (pageblock size) on x86, chosen deliberately: hosts
 * back guest RAM with transparent huge pages, and a reported 2 MiB block
 * lets the host free a whole huge page without splitting it, while smaller
 * blocks would split host huge pages and cost more round trips for memory
 * the guest is likely to reuse soon anyway.
 *
 * Poison: if the guest fills freed pages (page_poison=1) or zeroes them
 * (init_on_free=1), a reported page must read back with that content after
 * the host dropped it.  We tell the host the value (poison_val), and offer
 * reporting only when the host accepted PAGE_POISON in that case.
 */
#include <linux/mm.h>
#include <linux/page_reporting.h>
#include <linux/poison.h>
#include <linux/scatterlist.h>

#include "memballoon.h"

static int mb_report(struct page_reporting_dev_info *prdev,
		     struct scatterlist *sg, unsigned int nents)
{
	struct memballoon *mb = container_of(prdev, struct memballoon,
					     pr_dev_info);
	struct virtqueue *vq = mb->vqs[MB_VQ_REPORTING];
	struct scatterlist *s;
	unsigned int i;
	u64 bytes = 0;
	int err;

	/* The reporting core calls us one batch at a time: the queue is empty. */
	err = virtqueue_add_inbuf(vq, sg, nents, mb, GFP_NOWAIT | __GFP_NOWARN);
	if (err)
		return err;
	err = mb_kick_wait(mb, vq);
	if (err)
		return err;

	for_each_sg(sg, s, nents, i)
		bytes += s->length;
	mb_count(mb, &mb->counters.reported, bytes >> VIRTIO_BALLOON_PFN_SHIFT);
	return 0;
}

/* Whether freed pages have a known content the host must preserve. */
static bool mb_pages_poisoned(void)
{
	return want_init_on_free() || page_poisoning_enabled_static();
}

/* At validation: offer PAGE_POISON only when it means something. */
void mb_reporting_validate(struct virtio_device *vdev)
{
	if (!mb_pages_poisoned())
		__virtio_clear_bit(vdev, VIRTIO_BALLOON_F_PAGE_POISON);
	else if (!virtio_has_feature(vdev, VIRTIO_BALLOON_F_PAGE_POISON))
		__virtio_clear_bit(vdev, VIRTIO_BALLOON_F_REPORTING);
}

int mb_reporting_init(struct memballoon *mb)
{
	if (mb_negotiated(mb, VIRTIO_BALLOON_F_PAGE_POISON)) {
		/* 0 for init_on_free; PAGE_POISON is one byte, no swap needed. */
		u32 poison_val = 0;

		if (!want_init_on_free())
			memset(&poison_val, PAGE_POISON, sizeof(poison_val));
		virtio_cwrite_le(mb->vdev, struct virtio_balloon_config,
				 poison_val, &poison_val);
	}

	if (!mb_negotiated(mb, VIRTIO_BALLOON_F_REPORTING))
		return 0;
	if (virtqueue_get_vring_size(mb->vqs[MB_VQ_REPORTING]) <
	    PAGE_REPORTING_CAPACITY)
		return -ENOSPC;
	mb->pr_dev_info.report = mb_report;
	mb->pr_dev_info.order = MB_BLOCK_ORDER;
	return page_reporting_register(&mb->pr_dev_info);
}

void mb_reporting_exit(struct memballoon *mb)
{
	if (mb_negotiated(mb, VIRTIO_BALLOON_F_REPORTING))
		page_reporting_unregister(&mb->pr_dev_info);
}
