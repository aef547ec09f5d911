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
 * Range blocks (balloon.c): the same queue carries the balloon's 2 MiB
 * blocks as ranges, one buffer entry per block, so the host drops each with
 * one call instead of 512.  The spec lets the driver reuse a reported page
 * without telling the device; the balloon simply keeps it until it deflates.
 * report_lock keeps the two users of the queue apart.  Ranges are used only
 * where the host drops them and nobody must hear of their reuse: not with
 * MUST_TELL_HOST, and not with a non-zero poison_val (QEMU then keeps every
 * reported page, so the PFN path, which it does drop, is better).
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

	/* One request at a time on the queue: the balloon's ranges use it too. */
	mutex_lock(&mb->report_lock);
	err = virtqueue_add_inbuf(vq, sg, nents, mb, GFP_NOWAIT | __GFP_NOWARN);
	if (!err)
		err = mb_kick_wait(mb, vq);
	mutex_unlock(&mb->report_lock);
	if (err)
		return err;

	for_each_sg(sg, s, nents, i)
		bytes += s->length;
	mb_count(mb, &mb->counters.reported, bytes >> VIRTIO_BALLOON_PFN_SHIFT);
	return 0;
}

/*
 * Hand the @nr blocks on @blocks (first pages, linked by lru) to the host
 * as ranges and wait until it used them; the caller holds lock.  Returns
 * -EIO when the device broke.
 */
int mb_report_ranges(struct memballoon *mb, struct list_head *blocks,
		     unsigned int nr)
{
	struct virtqueue *vq = mb->vqs[MB_VQ_REPORTING];
	struct page *page;
	unsigned int i = 0;
	int err;

	lockdep_assert_held(&mb->lock);
	if (WARN_ON_ONCE(!nr || nr > mb->range_max))
		return -EINVAL;
	mutex_lock(&mb->report_lock);
	sg_init_table(mb->range_sg, nr);
	list_for_each_entry(page, blocks, lru)
		sg_set_page(&mb->range_sg[i++], page,
			    MB_BLOCK_PAGES * PAGE_SIZE, 0);
	/* Device-writable, as the spec wants reported buffers. */
	err = virtqueue_add_inbuf(vq, mb->range_sg, nr, mb, GFP_KERNEL);
	if (!err)
		err = mb_kick_wait(mb, vq);
	mutex_unlock(&mb->report_lock);
	return err;
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
	unsigned int vring_size;
	u32 poison_val = 0;

	if (mb_negotiated(mb, VIRTIO_BALLOON_F_PAGE_POISON)) {
		/* 0 for init_on_free; PAGE_POISON is one byte, no swap needed. */
		if (!want_init_on_free())
			memset(&poison_val, PAGE_POISON, sizeof(poison_val));
		virtio_cwrite_le(mb->vdev, struct virtio_balloon_config,
				 poison_val, &poison_val);
	}

	mb->range_ok = false;
	if (!mb_negotiated(mb, VIRTIO_BALLOON_F_REPORTING))
		return 0;
	vring_size = virtqueue_get_vring_size(mb->vqs[MB_VQ_REPORTING]);
	if (vring_size < PAGE_REPORTING_CAPACITY)
		return -ENOSPC;
	/*
	 * A split range block's kept pages go to the host as PFNs in one
	 * request (balloon.c), so a block must fit one.
	 */
	mb->range_ok = !mb_negotiated(mb, VIRTIO_BALLOON_F_MUST_TELL_HOST) &&
		       !poison_val &&
		       MB_BLOCK_PAGES * MB_PFNS_PER_PAGE <= MB_PFNS_PER_REQ;
	mb->range_max = min(vring_size, MB_RANGES_PER_REQ);
	mb->pr_dev_info.report = mb_report;
	mb->pr_dev_info.order = MB_BLOCK_ORDER;
	return page_reporting_register(&mb->pr_dev_info);
}

void mb_reporting_exit(struct memballoon *mb)
{
	if (mb_negotiated(mb, VIRTIO_BALLOON_F_REPORTING))
		page_reporting_unregister(&mb->pr_dev_info);
}
