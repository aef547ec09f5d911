// SPDX-License-Identifier: GPL-2.0
/*
 * memballoon: the statistics queue.
 *
 * One buffer always sits in the stats queue.  The host returns it when it
 * wants fresh numbers (QEMU does so every guest-stats-polling-interval); the
 * queue callback only queues stats_work, which refills the buffer and hands
 * it back at once, then tells the netlink family's listeners
 * (STATS_REQUESTED).  Every buffer carries the same 16 tags in the same
 * order, as the spec asks; a host that does not know tags 10-15 ignores
 * them.
 */
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmstat.h>
#include <uapi/linux/memballoon.h>

#include "memballoon.h"

/* Tags added by Linux 6.12 (virtio spec 1.4); older headers lack them. */
#ifndef VIRTIO_BALLOON_S_OOM_KILL
#define VIRTIO_BALLOON_S_OOM_KILL	10
#define VIRTIO_BALLOON_S_ALLOC_STALL	11
#define VIRTIO_BALLOON_S_ASYNC_SCAN	12
#define VIRTIO_BALLOON_S_DIRECT_SCAN	13
#define VIRTIO_BALLOON_S_ASYNC_RECLAIM	14
#define VIRTIO_BALLOON_S_DIRECT_RECLAIM	15
#endif

static unsigned int mb_set_stat(struct memballoon *mb, unsigned int idx,
				u16 tag, u64 val)
{
	mb->stats[idx].tag = cpu_to_virtio16(mb->vdev, tag);
	mb->stats[idx].val = cpu_to_virtio64(mb->vdev, val);
	return idx + 1;
}

static u64 mb_pages_to_bytes(unsigned long pages)
{
	return (u64)pages << PAGE_SHIFT;
}

/* Fill the stats buffer from the kernel's counters; returns the tag count. */
static unsigned int mb_collect_stats(struct memballoon *mb)
{
	unsigned long *ev = mb->vm_events;
	unsigned long stalls = 0, htlb_alloc = 0, htlb_fail = 0;
	unsigned int idx = 0, zid;
	struct sysinfo si;

	all_vm_events(ev);
	si_meminfo(&si);
	for (zid = 0; zid < MAX_NR_ZONES; zid++)
		stalls += ev[ALLOCSTALL_NORMAL - ZONE_NORMAL + zid];
#ifdef CONFIG_HUGETLB_PAGE
	htlb_alloc = ev[HTLB_BUDDY_PGALLOC];
	htlb_fail = ev[HTLB_BUDDY_PGALLOC_FAIL];
#endif

	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_SWAP_IN,
			  mb_pages_to_bytes(ev[PSWPIN]));
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_SWAP_OUT,
			  mb_pages_to_bytes(ev[PSWPOUT]));
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_MAJFLT, ev[PGMAJFAULT]);
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_MINFLT, ev[PGFAULT]);
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_MEMFREE,
			  mb_pages_to_bytes(si.freeram));
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_MEMTOT,
			  mb_pages_to_bytes(si.totalram));
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_AVAIL,
			  mb_pages_to_bytes(si_mem_available()));
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_CACHES,
			  mb_pages_to_bytes(global_node_page_state(NR_FILE_PAGES)));
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_HTLB_PGALLOC, htlb_alloc);
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_HTLB_PGFAIL, htlb_fail);
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_OOM_KILL, ev[OOM_KILL]);
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_ALLOC_STALL, stalls);
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_ASYNC_SCAN,
			  mb_pages_to_bytes(mb_reclaim_pages(ev, PGSCAN_KSWAPD)));
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_DIRECT_SCAN,
			  mb_pages_to_bytes(mb_reclaim_pages(ev, PGSCAN_DIRECT)));
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_ASYNC_RECLAIM,
			  mb_pages_to_bytes(mb_reclaim_pages(ev, PGSTEAL_KSWAPD)));
	idx = mb_set_stat(mb, idx, VIRTIO_BALLOON_S_DIRECT_RECLAIM,
			  mb_pages_to_bytes(mb_reclaim_pages(ev, PGSTEAL_DIRECT)));
	return idx;
}

/* Put a freshly filled buffer into the stats queue; the caller kicks. */
static int mb_stats_push(struct memballoon *mb)
{
	struct virtqueue *vq = mb->vqs[MB_VQ_STATS];
	struct scatterlist sg;
	unsigned int n;

	n = mb_collect_stats(mb);
	sg_init_one(&sg, mb->stats, n * sizeof(mb->stats[0]));
	return virtqueue_add_outbuf(vq, &sg, 1, mb, GFP_KERNEL);
}

void mb_stats_requested(struct virtqueue *vq)
{
	struct memballoon *mb = vq->vdev->priv;

	mb_queue_work(mb, &mb->stats_work);
}

void mb_stats_work(struct work_struct *work)
{
	struct memballoon *mb = container_of(work, struct memballoon,
					     stats_work);
	unsigned int len;
	int err;

	if (!virtqueue_get_buf(mb->vqs[MB_VQ_STATS], &len))
		return;
	mb_count(mb, &mb->counters.stats_requests, 1);
	err = mb_stats_push(mb);
	if (err)
		dev_warn_ratelimited(&mb->vdev->dev,
				     "cannot refill the stats queue: %d\n", err);
	else
		virtqueue_kick(mb->vqs[MB_VQ_STATS]);
	/* After the kick: the host has its answer before anyone is told. */
	mb_nl_notify(mb, MEMBALLOON_EVENT_STATS_REQUESTED);
}

int mb_stats_alloc(struct memballoon *mb)
{
	BUILD_BUG_ON(sizeof(struct virtio_balloon_stat) != 10);

	mb->stats = kcalloc(MB_NR_STATS, sizeof(*mb->stats), GFP_KERNEL);
	mb->vm_events = kcalloc(NR_VM_EVENT_ITEMS, sizeof(*mb->vm_events),
				GFP_KERNEL);
	return mb->stats && mb->vm_events ? 0 : -ENOMEM;
}

/*
 * Prime the queue with one buffer, so the host can ask for stats by
 * returning it.  Called before the device is ready, so the caller kicks
 * the queue once it is.
 */
int mb_stats_prime(struct memballoon *mb)
{
	if (!mb->vqs[MB_VQ_STATS])
		return 0;
	return mb_stats_push(mb);
}
