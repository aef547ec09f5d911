// SPDX-License-Identifier: GPL-2.0
/*
 * memballoon: free page hinting (VIRTIO_BALLOON_F_FREE_PAGE_HINT).
 *
 * During live migration the host writes a new command ID into the config
 * space.  We answer with that ID on the free page queue, then hand over
 * free memory in 4 MiB blocks (the largest buddy order) that we allocate
 * without any reclaim, so only memory that is free right now is hinted,
 * and finish with the STOP ID.  The host skips sending hinted memory; if
 * the guest needs a block again, the host's dirty tracking sends it after
 * all.  We keep the blocks until the host says DONE, and a shrinker gives
 * them back early whenever the guest is short of memory.
 *
 * hint_work never waits for the host: when the queue is full it returns,
 * and the queue's callback brings it back once the host used entries.  So
 * removal and freeze (which cancel the work) never depend on a host that
 * stopped consuming hints.  A block the host has not used yet stays ours
 * until the device is reset: a block the guest wrote before the host
 * processed its hint would have that write skipped by the migration.
 */
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>

#include "memballoon.h"

#define MB_HINT_ORDER		MB_MAX_PAGE_ORDER
/* No reclaim, no reserves, no warnings: only what is free right now. */
#define MB_HINT_GFP		(__GFP_NORETRY | __GFP_NOWARN | __GFP_NOMEMALLOC)
#define MB_HINT_READ_ID		0	/* bit in hint_flags: reread the command ID */

/*
 * Collect what the host has used.  A block becomes returnable (to the
 * shrinker) only once the host used its buffer: a block the guest wrote
 * before the host processed the hint would have that write skipped by the
 * migration.  hint_work context only (or after the device was reset).
 */
static unsigned int mb_hint_detach(struct memballoon *mb)
{
	struct virtqueue *vq = mb->vqs[MB_VQ_FREE_PAGE];
	unsigned int len, n = 0;
	void *token;

	while ((token = virtqueue_get_buf(vq, &len))) {
		n++;
		if (token == &mb->hint_cmd_active || token == &mb->hint_cmd_stop)
			continue;
		spin_lock_irq(&mb->hint_lock);
		list_move(&virt_to_page(token)->lru, &mb->hint_pages);
		WRITE_ONCE(mb->hint_blocks, mb->hint_blocks + 1);
		spin_unlock_irq(&mb->hint_lock);
	}
	return n;
}

/* The host's current command ID, reread only after a config change. */
static u32 mb_hint_cmd_id(struct memballoon *mb)
{
	if (test_and_clear_bit(MB_HINT_READ_ID, &mb->hint_flags))
		virtio_cread_le(mb->vdev, struct virtio_balloon_config,
				free_page_hint_cmd_id, &mb->hint_cmd_received);
	return mb->hint_cmd_received;
}

static int mb_hint_send_id(struct memballoon *mb, __virtio32 *id)
{
	struct virtqueue *vq = mb->vqs[MB_VQ_FREE_PAGE];
	struct scatterlist sg;
	int err;

	mb_hint_detach(mb);
	sg_init_one(&sg, id, sizeof(*id));
	err = virtqueue_add_outbuf(vq, &sg, 1, id, GFP_KERNEL);
	if (!err)
		virtqueue_kick(vq);
	return err;
}

/*
 * Give up to @blocks hinted blocks back to the guest; returns pages freed.
 * Only blocks the host has used, unless @all (the device was reset).
 */
static unsigned long mb_hint_return(struct memballoon *mb, unsigned long blocks,
				    bool all)
{
	unsigned long freed = 0;
	struct page *page;

	while (freed < blocks) {
		spin_lock_irq(&mb->hint_lock);
		page = list_first_entry_or_null(&mb->hint_pages, struct page, lru);
		if (page) {
			WRITE_ONCE(mb->hint_blocks, mb->hint_blocks - 1);
		} else if (all) {
			page = list_first_entry_or_null(&mb->hint_sent,
							struct page, lru);
		}
		if (page)
			list_del(&page->lru);
		spin_unlock_irq(&mb->hint_lock);
		if (!page)
			break;
		__free_pages(page, MB_HINT_ORDER);
		freed++;
	}
	return freed << MB_HINT_ORDER;
}

/* Finish the running command with the STOP ID (one entry is kept for it). */
static void mb_hint_finish(struct memballoon *mb, int err)
{
	mb->hint_running = false;
	mb->hint_cmd_stop = cpu_to_virtio32(mb->vdev, VIRTIO_BALLOON_CMD_ID_STOP);
	if (mb_hint_send_id(mb, &mb->hint_cmd_stop) || err)
		dev_warn_ratelimited(&mb->vdev->dev,
				     "free page hinting stopped early: %d\n", err);
}

/*
 * Hint free blocks while the host's command stays @cmd, until no free
 * block is left or the queue is full (then the queue's callback runs us
 * again once the host used entries).
 */
static void mb_hint_fill(struct memballoon *mb, u32 cmd)
{
	struct virtqueue *vq = mb->vqs[MB_VQ_FREE_PAGE];
	const unsigned int bytes = PAGE_SIZE << MB_HINT_ORDER;
	unsigned long hinted = 0;
	struct scatterlist sg;
	struct page *page;
	int err;

	/* One entry stays free for the STOP ID. */
	while (mb_hint_cmd_id(mb) == cmd && vq->num_free > 1) {
		page = alloc_pages(MB_HINT_GFP, MB_HINT_ORDER);
		if (!page) {
			mb_hint_finish(mb, 0);
			break;
		}
		sg_init_one(&sg, page_address(page), bytes);
		err = virtqueue_add_inbuf(vq, &sg, 1, page_address(page),
					  GFP_KERNEL);
		if (err) {
			__free_pages(page, MB_HINT_ORDER);
			mb_hint_finish(mb, err);
			break;
		}
		virtqueue_kick(vq);
		spin_lock_irq(&mb->hint_lock);
		list_add(&page->lru, &mb->hint_sent);
		spin_unlock_irq(&mb->hint_lock);
		hinted += bytes >> VIRTIO_BALLOON_PFN_SHIFT;
		cond_resched();
	}
	if (hinted)
		mb_count(mb, &mb->counters.hinted, hinted);
}

/* Send @cmd's ID and start hinting for it; 0 or -errno. */
static int mb_hint_start(struct memballoon *mb, u32 cmd)
{
	int err;

	mb_hint_detach(mb);
	/*
	 * A full queue may still hold our last ID buffer: leave it alone and
	 * try again when the host used entries (the queue's callback).
	 */
	if (!mb->vqs[MB_VQ_FREE_PAGE]->num_free)
		return -ENOSPC;
	mb->hint_cmd_active = cpu_to_virtio32(mb->vdev, cmd);
	err = mb_hint_send_id(mb, &mb->hint_cmd_active);
	if (err) {
		dev_warn_ratelimited(&mb->vdev->dev,
				     "cannot start free page hinting: %d\n", err);
		return err;
	}
	mb->hint_running = true;
	return 0;
}

static void mb_hint_work(struct work_struct *work)
{
	struct memballoon *mb = container_of(work, struct memballoon,
					     hint_work);
	u32 cmd = mb_hint_cmd_id(mb);
	u32 active = virtio32_to_cpu(mb->vdev, mb->hint_cmd_active);

	mb_hint_detach(mb);
	if (mb->hint_running && cmd != active)
		mb_hint_finish(mb, 0);
	if (cmd == VIRTIO_BALLOON_CMD_ID_DONE) {
		/*
		 * The host is done: every block it used goes back now, the
		 * rest as it uses them (this work runs again then) or at reset.
		 */
		mb_hint_return(mb, ULONG_MAX, false);
		return;
	}
	if (cmd != VIRTIO_BALLOON_CMD_ID_STOP && cmd != active &&
	    mb_hint_start(mb, cmd))
		return;
	if (mb->hint_running)
		mb_hint_fill(mb, cmd);
}

/* The host used free page queue entries: collect them, hint on. */
void mb_hint_vq_done(struct virtqueue *vq)
{
	struct memballoon *mb = vq->vdev->priv;

	mb_queue_work(mb, &mb->hint_work);
}

/* From config_changed (any context): look at the command ID in work. */
void mb_hint_config_changed(struct memballoon *mb)
{
	if (!mb_negotiated(mb, VIRTIO_BALLOON_F_FREE_PAGE_HINT))
		return;
	set_bit(MB_HINT_READ_ID, &mb->hint_flags);
	mb_queue_work(mb, &mb->hint_work);
}

static unsigned long mb_hint_count(struct shrinker *s,
				   struct shrink_control *sc)
{
	struct memballoon *mb = mb_shrinker_priv(s);

	return READ_ONCE(mb->hint_blocks) << MB_HINT_ORDER;
}

static unsigned long mb_hint_scan(struct shrinker *s,
				  struct shrink_control *sc)
{
	struct memballoon *mb = mb_shrinker_priv(s);
	unsigned long freed;

	freed = mb_hint_return(mb, DIV_ROUND_UP(sc->nr_to_scan,
						1UL << MB_HINT_ORDER), false);
	return freed ? freed : SHRINK_STOP;
}

/* Called before the device can raise a config change (probe). */
void mb_hint_setup(struct memballoon *mb)
{
	spin_lock_init(&mb->hint_lock);
	INIT_LIST_HEAD(&mb->hint_pages);
	INIT_LIST_HEAD(&mb->hint_sent);
	INIT_WORK(&mb->hint_work, mb_hint_work);
}

int mb_hint_init(struct memballoon *mb)
{
	if (!mb_negotiated(mb, VIRTIO_BALLOON_F_FREE_PAGE_HINT))
		return 0;
	/* One entry for the command ID and at least one for a block. */
	if (virtqueue_get_vring_size(mb->vqs[MB_VQ_FREE_PAGE]) < 2)
		return -ENOSPC;
	mb->hint_shrinker = mb_shrinker_create(mb_hint_count, mb_hint_scan, mb,
					       "memballoon-hints");
	return mb->hint_shrinker ? 0 : -ENOMEM;
}

/*
 * After the device was reset (so the host can no longer use a block we
 * hinted) and hint_work cannot run: every hinted block back, including
 * those still in the queue; a new ID starts afresh.
 */
void mb_hint_reset(struct memballoon *mb)
{
	mb_hint_return(mb, ULONG_MAX, true);
	mb->hint_cmd_active = 0;
	mb->hint_cmd_received = 0;
	mb->hint_running = false;
}

/* Removal, before the reset: the shrinker goes; mb_hint_reset() follows. */
void mb_hint_exit(struct memballoon *mb)
{
	if (mb->hint_shrinker)
		mb_shrinker_destroy(mb->hint_shrinker);
	mb->hint_shrinker = NULL;
}
