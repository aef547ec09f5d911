// SPDX-License-Identifier: GPL-2.0
/*
 * memballoon: moving the balloon towards the host's target.
 *
 * The balloon holds two kinds of pages.  Blocks are 2 MiB allocations
 * (MB_BLOCK_ORDER), taken only when one is free right now; each stays one
 * allocation from inflate until it is freed with one __free_pages(), and
 * the host can drop it as a whole huge page.  Blocks cannot move; they come
 * from the Movable free lists of the kernel zones (never ZONE_MOVABLE), and
 * each fills its pageblock, so compaction has nothing to gain from them and
 * the guest reuses a deflated block as readily as any other free memory.
 * Single pages are the balloon core's 4 KiB balloon pages, movable by
 * compaction (migrate.c): taken when no block is free, and for what is
 * left of a target smaller than a block.
 *
 * Inflating: pages are allocated outside any lock, never dipping into
 * reserves, never retrying hard and never warning; the balloon also stops
 * short of eating the guest's last MemAvailable (see reserve_mib), because a
 * guest without swap whose memory is all ballooned can only OOM-kill its own
 * workload.  Each round allocates the pages of two requests at once, on two
 * CPUs, then hands them to the host one request (up to MB_PFNS_PER_REQ
 * PFNs) after the other.  Only once the host has used a request do its
 * pages join the balloon and does "actual" grow.
 *
 * Range blocks: where the device offers free page reporting (and neither
 * MUST_TELL_HOST nor a non-zero poison_val rules it out, and range_blocks
 * is set), an inflate request hands its blocks to the host as ranges on the
 * reporting queue, one buffer entry each, up to range_max (QEMU: 32, so
 * 64 MiB per round trip), and its single pages as PFNs as before.  The host
 * drops each range with one call where a PFN costs it one per 4 KiB.  The
 * balloon keeps them on their own list and counts them in "actual" like any
 * inflated page; the spec lets a driver reuse reported pages without telling
 * the device, so they go back with no deflate request.  docs/driver.md says
 * why that is within the spec and what each host does with them.
 *
 * Deflating: range blocks leave first (no round trip, which matters most
 * to the OOM notifier), then blocks, then single pages.  A rest smaller
 * than a block that no single page can make up splits one block, a PFN
 * block rather than a range block: the pages needed leave, the others stay
 * in the balloon as single pages.  A split range block's kept pages are
 * told to the host on the inflate queue first, so that every single page
 * in the balloon is one the host knows as inflated.  The host is told of
 * PFN pages, and only after it used the request are they freed
 * (MUST_TELL_HOST).
 *
 * When the balloon cannot grow, resize_work backs off exponentially (and
 * says so once per target) instead of spinning; a config change cuts the
 * wait short.
 */
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/page-flags.h>
#include <linux/scatterlist.h>
#include <linux/vmstat.h>

#include <uapi/linux/memballoon.h>

#include "memballoon.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/*
 * Blocks: only memory free right now (no reclaim, no compaction, no
 * kswapd), so a failed attempt never stalls the guest.  __GFP_MOVABLE picks
 * the Movable free lists, where the guest's workload allocates: a deflated
 * block goes back there and is used again, rather than sitting in an
 * Unmovable pageblock the workload leaves alone until the next inflate
 * takes it back, memory the host already has.  No __GFP_HIGHMEM, so never
 * ZONE_MOVABLE, whose memory must stay movable for offlining.  A block
 * fills its pageblock (order 9 on x86), so it fragments nothing.
 */
#define MB_BLOCK_GFP	(((GFP_USER | __GFP_MOVABLE) & ~__GFP_RECLAIM) | \
			 __GFP_NOWARN | __GFP_NOMEMALLOC)

/* Whether blocks go to the host as ranges where the device allows it. */
static bool range_blocks = true;
module_param(range_blocks, bool, 0644);
MODULE_PARM_DESC(range_blocks,
		 "Hand 2 MiB blocks to the host as ranges on the free page reporting queue when the device allows it (default Y)");

static unsigned int reserve_mib;
module_param(reserve_mib, uint, 0644);
MODULE_PARM_DESC(reserve_mib,
		 "MemAvailable (MiB) the balloon never inflates into; 0 = automatic (2% of RAM, at least 64 MiB)");

void mb_vq_acked(struct virtqueue *vq)
{
	struct memballoon *mb = vq->vdev->priv;

	wake_up(&mb->acked);
}

/*
 * Kick @vq and wait until the device has used the one buffer on it.
 * Returns -EIO when the device broke (hot-unplug, reset).
 */
int mb_kick_wait(struct memballoon *mb, struct virtqueue *vq)
{
	unsigned int len;

	virtqueue_kick(vq);
	/* Recheck now and then: a broken device never interrupts us. */
	while (!wait_event_timeout(mb->acked, virtqueue_get_buf(vq, &len), HZ))
		if (virtqueue_is_broken(vq))
			return -EIO;
	return 0;
}

/*
 * Hand the first @n entries of pfns to the device on @vq and wait until it
 * has used them.  Returns -EIO when the device broke (hot-unplug, reset).
 */
int mb_tell_host(struct memballoon *mb, struct virtqueue *vq, unsigned int n)
{
	struct scatterlist sg;
	int err;

	lockdep_assert_held(&mb->lock);
	sg_init_one(&sg, mb->pfns, n * sizeof(mb->pfns[0]));
	/* The queue is empty here: each request is used before the next. */
	err = virtqueue_add_outbuf(vq, &sg, 1, mb, GFP_KERNEL);
	if (err)
		return err;
	return mb_kick_wait(mb, vq);
}

/*
 * Write the PFNs of the @nr guest pages from @page at pfns[@idx]; returns
 * the next free index.
 */
unsigned int mb_page_to_pfns(struct memballoon *mb, unsigned int idx,
			     struct page *page, unsigned int nr)
{
	unsigned long pfn = page_to_pfn(page) <<
			    (PAGE_SHIFT - VIRTIO_BALLOON_PFN_SHIFT);
	unsigned int i, n = nr * MB_PFNS_PER_PAGE;

	BUILD_BUG_ON(PAGE_SHIFT < VIRTIO_BALLOON_PFN_SHIFT);
	BUILD_BUG_ON(MB_PFNS_PER_REQ % MB_PFNS_PER_PAGE);
	for (i = 0; i < n; i++)
		mb->pfns[idx + i] = cpu_to_virtio32(mb->vdev, pfn + i);
	return idx + n;
}

/* MemAvailable the balloon leaves alone; reserve_mib may change at any time. */
unsigned long mb_reserve_pages(struct memballoon *mb)
{
	unsigned int mib = READ_ONCE(reserve_mib);

	if (mib)
		return (unsigned long)mib << (20 - PAGE_SHIFT);
	return max(mb->ram_pages / 50, 64UL << (20 - PAGE_SHIFT));
}

/* How many more guest pages the guest can spare without eating its reserve. */
static unsigned long mb_spare_pages(struct memballoon *mb)
{
	long available = si_mem_available();
	unsigned long reserve = mb_reserve_pages(mb);

	if (available <= (long)reserve)
		return 0;
	return available - reserve;
}

static void mb_batch_init(struct mb_batch *b, bool as_ranges)
{
	INIT_LIST_HEAD(&b->blocks);
	INIT_LIST_HEAD(&b->pages);
	INIT_LIST_HEAD(&b->ranges);
	INIT_LIST_HEAD(&b->loose);
	b->nr_blocks = 0;
	b->nr_pages = 0;
	b->nr_ranges = 0;
	b->nr_loose = 0;
	b->as_ranges = as_ranges;
	b->alloc_ns = 0;
}

/* Guest pages in @b. */
static unsigned int mb_batch_size(const struct mb_batch *b)
{
	return (b->nr_blocks + b->nr_ranges) * MB_BLOCK_PAGES + b->nr_pages +
	       b->nr_loose;
}

/* Whether the next inflate pass hands its blocks to the host as ranges. */
static bool mb_use_ranges(struct memballoon *mb)
{
	return mb->range_ok && READ_ONCE(range_blocks);
}

/*
 * Guest pages one inflate request carries: MB_PAGES_PER_REQ as PFNs, or
 * with ranges up to range_max blocks (and single pages as PFNs).
 */
static unsigned long mb_req_pages(struct memballoon *mb, bool as_ranges)
{
	if (!as_ranges)
		return MB_PAGES_PER_REQ;
	return max_t(unsigned long, mb->range_max * MB_BLOCK_PAGES,
		     MB_PAGES_PER_REQ);
}

/* Write the PFNs of every page in @b into pfns; returns how many. */
static unsigned int mb_batch_to_pfns(struct memballoon *mb, struct mb_batch *b)
{
	unsigned int n = 0;
	struct page *page;

	list_for_each_entry(page, &b->blocks, lru)
		n = mb_page_to_pfns(mb, n, page, MB_BLOCK_PAGES);
	list_for_each_entry(page, &b->pages, lru)
		n = mb_page_to_pfns(mb, n, page, 1);
	return n;
}

/* Free the pages of @b, which are not the host's (deflated, or never sent). */
static void mb_batch_free(struct mb_batch *b)
{
	struct page *page, *next;

	list_splice_init(&b->ranges, &b->blocks);
	list_splice_init(&b->loose, &b->pages);
	list_for_each_entry_safe(page, next, &b->blocks, lru) {
		list_del(&page->lru);
		__free_pages(page, MB_BLOCK_ORDER);
	}
	list_for_each_entry_safe(page, next, &b->pages, lru) {
		list_del(&page->lru);
		put_page(page);
	}
	b->nr_blocks = 0;
	b->nr_pages = 0;
	b->nr_ranges = 0;
	b->nr_loose = 0;
}

/*
 * Allocate up to @want guest pages onto @b, blocks first (as many as one
 * request carries), then single pages (MB_PAGES_PER_REQ at most).  The
 * first block that is not free stops block attempts until the host sets a
 * new target.
 */
static void mb_batch_alloc(struct memballoon *mb, struct mb_batch *b,
			   unsigned int want, bool as_ranges)
{
	unsigned int max_blocks = as_ranges ? mb->range_max : UINT_MAX;
	u64 t0 = ktime_get_ns();
	struct page *page;

	mb_batch_init(b, as_ranges);
	while (READ_ONCE(mb->try_blocks) && b->nr_blocks < max_blocks &&
	       want - mb_batch_size(b) >= MB_BLOCK_PAGES) {
		page = alloc_pages(MB_BLOCK_GFP, MB_BLOCK_ORDER);
		if (!page) {
			WRITE_ONCE(mb->try_blocks, false);
			break;
		}
		list_add_tail(&page->lru, &b->blocks);
		b->nr_blocks++;
		/*
		 * MB_BLOCK_GFP cannot sleep, so the allocator has no
		 * preemption point of its own, and zeroing a batch of
		 * blocks (init_on_alloc) takes tens of ms under TCG while
		 * both CPUs allocate: let a waiting task run between blocks.
		 */
		cond_resched();
	}
	while (mb_batch_size(b) < want && b->nr_pages < MB_PAGES_PER_REQ) {
		page = balloon_page_alloc();
		if (!page)
			break;
		list_add_tail(&page->lru, &b->pages);
		b->nr_pages++;
	}
	b->alloc_ns = ktime_get_ns() - t0;
}

void mb_alloc_work(struct work_struct *work)
{
	struct memballoon *mb = container_of(work, struct memballoon,
					     alloc_work);

	mb_batch_alloc(mb, &mb->alloc_batch, mb->alloc_want,
		       mb->alloc_batch.as_ranges);
}

/*
 * A block the host acknowledged joins the balloon on @list (blocks or
 * ranges) and leaves MemTotal.  Its pages are marked offline, as the
 * balloon core marks single pages, so that kdump, /proc/kcore and
 * hibernation do not read them.
 */
static void mb_block_enqueue(struct memballoon *mb, struct page *page,
			     struct list_head *list)
{
	unsigned int i;

	lockdep_assert_held(&mb->lock);
	for (i = 0; i < MB_BLOCK_PAGES; i++)
		__SetPageOffline(page + i);
	if (mb_counts_managed(mb))
		adjust_managed_page_count(page, -(long)MB_BLOCK_PAGES);
	count_vm_events(BALLOON_INFLATE, MB_BLOCK_PAGES);
	mb_count_balloon_pages(page, MB_BLOCK_PAGES);
	list_move(&page->lru, list);
}

/* The newest block on @list leaves the balloon (and rejoins MemTotal). */
static struct page *mb_block_dequeue(struct memballoon *mb,
				     struct list_head *list)
{
	struct page *page = list_first_entry(list, struct page, lru);
	unsigned int i;

	lockdep_assert_held(&mb->lock);
	list_del(&page->lru);
	for (i = 0; i < MB_BLOCK_PAGES; i++)
		__ClearPageOffline(page + i);
	if (mb_counts_managed(mb))
		adjust_managed_page_count(page, MB_BLOCK_PAGES);
	count_vm_events(BALLOON_DEFLATE, MB_BLOCK_PAGES);
	mb_count_balloon_pages(page, -(long)MB_BLOCK_PAGES);
	return page;
}

/* Jiffies left of the inflation hold; 0 when there is none. */
static unsigned long mb_hold_left(struct memballoon *mb)
{
	unsigned long left = 0;

	spin_lock(&mb->state_lock);
	if (mb->hold_until && time_before(jiffies, mb->hold_until))
		left = mb->hold_until - jiffies;
	spin_unlock(&mb->state_lock);
	return left;
}

/* @n 4 KiB pages joined the balloon (lock held): count them in actual. */
static void mb_joined(struct memballoon *mb, unsigned int n)
{
	lockdep_assert_held(&mb->lock);
	spin_lock(&mb->state_lock);
	WRITE_ONCE(mb->num_pages, mb->num_pages + n);
	mb->counters.inflated += n;
	spin_unlock(&mb->state_lock);
}

/*
 * Hand @b to the host: its blocks as ranges on the reporting queue when
 * @b->as_ranges, the rest as PFNs on the inflate queue; once the host used
 * a request, its pages join the balloon (and leave @b).  Returns 0 or
 * -errno, -EAGAIN when a release has put inflation on hold since the pass
 * started: the batch must not go to the host then, however far the pass
 * has come.  On failure the pages still on @b are the caller's to free.
 */
static int mb_inflate_send(struct memballoon *mb, struct mb_batch *b)
{
	unsigned int n = 0, pfns, blocks = b->nr_blocks, ranges = 0;
	struct page *page, *next;
	u64 t0, host_ns;
	int err = 0;

	if (!mb_batch_size(b))
		return 0;
	mutex_lock(&mb->lock);
	if (mb->frozen || mb_hold_left(mb)) {
		err = mb->frozen ? -EBUSY : -EAGAIN;
		mutex_unlock(&mb->lock);
		return err;
	}
	t0 = ktime_get_ns();
	if (b->as_ranges && b->nr_blocks) {
		err = mb_report_ranges(mb, &b->blocks, b->nr_blocks);
		if (err)
			goto out;
		ranges = b->nr_blocks;
		list_for_each_entry_safe(page, next, &b->blocks, lru)
			mb_block_enqueue(mb, page, &mb->ranges);
		b->nr_blocks = 0;
		n = ranges * MB_BLOCK_PAGES * MB_PFNS_PER_PAGE;
		mb_joined(mb, n);
	}
	pfns = mb_batch_to_pfns(mb, b);
	if (pfns) {
		err = mb_tell_host(mb, mb->vqs[MB_VQ_INFLATE], pfns);
		if (err)
			goto out;
		list_for_each_entry_safe(page, next, &b->blocks, lru)
			mb_block_enqueue(mb, page, &mb->blocks);
		mb_balloon_enqueue(&mb->b_dev_info, &b->pages,
				   mb_counts_managed(mb));
		b->nr_blocks = 0;
		b->nr_pages = 0;
		n += pfns;
		mb_joined(mb, pfns);
	}
out:
	host_ns = ktime_get_ns() - t0;
	if (n)
		mb_write_actual(mb);
	mutex_unlock(&mb->lock);
	if (err)
		dev_err_ratelimited(&mb->vdev->dev,
				    "inflate request failed: %d\n", err);
	if (n)
		trace_memballoon_inflate(mb->vdev->index, n,
					 blocks - b->nr_blocks, ranges,
					 b->alloc_ns, host_ns);
	return err;
}

/*
 * Allocate the pages of @nr requests (1 or 2) of @req guest pages each,
 * @room guest pages at most (the caller caps it by what the reserve
 * leaves): the second batch on another CPU at the same time.  Returns the
 * guest pages allocated.
 */
static unsigned long mb_inflate_alloc(struct memballoon *mb,
				      struct mb_batch *batch[],
				      unsigned int nr, unsigned long room,
				      unsigned long req, bool as_ranges)
{
	unsigned long got;

	if (nr > 1) {
		mb->alloc_want = min(room - req, req);
		mb->alloc_batch.as_ranges = as_ranges;
		queue_work(mb_unbound_wq, &mb->alloc_work);
	}
	mb_batch_alloc(mb, batch[0], min(room, req), as_ranges);
	got = mb_batch_size(batch[0]);
	if (nr > 1) {
		flush_work(&mb->alloc_work);
		got += mb_batch_size(batch[1]);
	}
	return got;
}

/*
 * Grow the balloon by up to @want guest pages in at most MB_REQS_PER_PASS
 * requests, stopping early when the host's target changes; returns how
 * many pages it took.  Allocating (with init_on_alloc, zeroing every page)
 * is most of the guest's cost, so each round allocates two requests' pages
 * at once, one batch here and one by alloc_work on another CPU, and then
 * hands them to the host one after the other.  Whether blocks go as ranges
 * is decided once per pass, so range_blocks may change at any time.
 */
static unsigned long mb_inflate(struct memballoon *mb, unsigned long want,
				u32 target)
{
	struct mb_batch here, *batch[2] = { &here, &mb->alloc_batch };
	bool as_ranges = mb_use_ranges(mb);
	unsigned long req = mb_req_pages(mb, as_ranges);
	unsigned long done = 0, room, got;
	unsigned int i, nr, size, reqs = 0;
	int err = 0;

	want = min(want, MB_REQS_PER_PASS * req);
	while (!err && done < want && reqs < MB_REQS_PER_PASS) {
		room = min(want - done, mb_spare_pages(mb));
		nr = room > req && reqs + 1 < MB_REQS_PER_PASS &&
		     num_online_cpus() > 1 ? 2 : 1;
		got = mb_inflate_alloc(mb, batch, nr, room, req, as_ranges);
		reqs += nr;
		for (i = 0; i < nr; i++) {
			size = mb_batch_size(batch[i]);
			/* The second batch only while the target still wants it. */
			if (!err && (!i || mb_read_target(mb) == target)) {
				err = mb_inflate_send(mb, batch[i]);
				done += size - mb_batch_size(batch[i]);
			}
			mb_batch_free(batch[i]);
		}
		if (!got || mb_read_target(mb) != target)
			break;
	}
	return done;
}

/*
 * The pages of a split range block that stay in the balloon become single
 * pages: the host hears of them on the inflate queue first, so that every
 * single page in the balloon is one it knows as inflated (it dropped them
 * already: nothing more to free).  A broken device cannot hear it: they
 * join anyway, and go back with the rest at removal.
 */
static void mb_keep_split_range(struct memballoon *mb, struct list_head *keep)
{
	struct page *page;
	unsigned int n = 0;
	int err;

	lockdep_assert_held(&mb->lock);
	list_for_each_entry(page, keep, lru)
		n = mb_page_to_pfns(mb, n, page, 1);
	err = mb_tell_host(mb, mb->vqs[MB_VQ_INFLATE], n);
	if (err)
		dev_err_ratelimited(&mb->vdev->dev,
				    "inflate request for %lu kept pages failed: %d\n",
				    n / MB_PFNS_PER_PAGE, err);
	mb_balloon_enqueue(&mb->b_dev_info, keep, mb_counts_managed(mb));
}

/*
 * Take up to @want guest pages out of the balloon onto @b: range blocks
 * first (they need no message), then blocks, then single pages.  A rest
 * that no single page can make up splits one block, a PFN block if there
 * is one: the pages needed go on @b, the others stay in the balloon as
 * single pages (the host holds them all and hears only of those on @b).
 * A split range block's pages on @b need no message either; the caller
 * tells the host of those it keeps (@keep).
 */
static void mb_deflate_take(struct memballoon *mb, struct mb_batch *b,
			    unsigned int want, struct list_head *keep)
{
	bool managed = mb_counts_managed(mb);
	bool range = false;
	unsigned int i, rest;
	struct page *page;
	LIST_HEAD(kept);

	while (want - mb_batch_size(b) >= MB_BLOCK_PAGES &&
	       !list_empty(&mb->ranges)) {
		list_add_tail(&mb_block_dequeue(mb, &mb->ranges)->lru,
			      &b->ranges);
		b->nr_ranges++;
	}
	while (want - mb_batch_size(b) >= MB_BLOCK_PAGES &&
	       !list_empty(&mb->blocks)) {
		list_add_tail(&mb_block_dequeue(mb, &mb->blocks)->lru,
			      &b->blocks);
		b->nr_blocks++;
	}
	rest = want - mb_batch_size(b);
	if (rest)
		b->nr_pages = mb_balloon_dequeue(&mb->b_dev_info, &b->pages,
						 rest, managed);
	rest = want - mb_batch_size(b);
	if (!rest)
		return;
	if (!list_empty(&mb->blocks)) {
		page = mb_block_dequeue(mb, &mb->blocks);
	} else if (!list_empty(&mb->ranges)) {
		page = mb_block_dequeue(mb, &mb->ranges);
		range = true;
	} else {
		return;
	}
	split_page(page, MB_BLOCK_ORDER);
	for (i = 0; i < MB_BLOCK_PAGES; i++)
		list_add_tail(&page[i].lru, i >= rest ? &kept :
					    range ? &b->loose : &b->pages);
	if (range) {
		b->nr_loose += rest;
		list_splice(&kept, keep);
	} else {
		b->nr_pages += rest;
		mb_balloon_enqueue(&mb->b_dev_info, &kept, managed);
	}
}

/*
 * Shrink the balloon by up to @want guest pages in one request; returns how
 * many it freed.  May return 0 while pages are isolated for migration.
 */
static unsigned int mb_deflate(struct memballoon *mb, unsigned long want)
{
	unsigned int n, pfns, blocks, ranges;
	u64 t0, host_ns = 0;
	struct mb_batch b;
	LIST_HEAD(keep);
	int err = 0;

	mb_batch_init(&b, false);
	mutex_lock(&mb->lock);
	want = min3(want, (unsigned long)MB_PAGES_PER_REQ,
		    (unsigned long)mb->num_pages / MB_PFNS_PER_PAGE);
	if (!mb->frozen)
		mb_deflate_take(mb, &b, want, &keep);
	if (!mb_batch_size(&b)) {
		mutex_unlock(&mb->lock);
		return 0;
	}
	if (!list_empty(&keep))
		mb_keep_split_range(mb, &keep);
	n = mb_batch_size(&b) * MB_PFNS_PER_PAGE;
	pfns = mb_batch_to_pfns(mb, &b);
	/*
	 * With MUST_TELL_HOST no page may be reused before the host used the
	 * request.  If the device broke, nobody is left to tell: free anyway.
	 * Range pages need no message: the host forgot them already.
	 */
	if (pfns) {
		t0 = ktime_get_ns();
		err = mb_tell_host(mb, mb->vqs[MB_VQ_DEFLATE], pfns);
		host_ns = ktime_get_ns() - t0;
		if (err)
			dev_err_ratelimited(&mb->vdev->dev,
					    "deflate request failed: %d\n", err);
	}
	spin_lock(&mb->state_lock);
	WRITE_ONCE(mb->num_pages, mb->num_pages - n);
	mb->counters.deflated += n;
	spin_unlock(&mb->state_lock);
	if (!err)
		mb_write_actual(mb);
	mutex_unlock(&mb->lock);
	blocks = b.nr_blocks + b.nr_ranges;
	ranges = b.nr_ranges;
	t0 = ktime_get_ns();
	mb_batch_free(&b);
	trace_memballoon_deflate(mb->vdev->index, n, blocks, ranges, host_ns,
				 ktime_get_ns() - t0);
	return n / MB_PFNS_PER_PAGE;
}

/*
 * Shrink the balloon by up to @want guest pages in at most MB_REQS_PER_PASS
 * requests, stopping early if the host's target changes; returns how many.
 */
static unsigned long mb_deflate_pass(struct memballoon *mb, unsigned long want,
				     u32 target)
{
	unsigned int got, reqs = 0;
	unsigned long done = 0;

	while (done < want && reqs++ < MB_REQS_PER_PASS) {
		got = mb_deflate(mb, want - done);
		if (!got)
			break;
		done += got;
		if (mb_read_target(mb) != target)
			break;
	}
	return done;
}

/* Called when the balloon could not grow: log once, retry later. */
static unsigned long mb_inflate_stuck(struct memballoon *mb, u32 target,
				      const char *why)
{
	unsigned long delay = msecs_to_jiffies(mb->backoff_ms);

	mb_count(mb, &mb->counters.alloc_failures, 1);
	if (!mb->stuck_logged) {
		dev_info(&mb->vdev->dev,
			 "balloon held at %u of %u pages: %s (%lu MiB available, reserve %lu MiB); retrying\n",
			 READ_ONCE(mb->num_pages), target, why,
			 si_mem_available() >> (20 - PAGE_SHIFT),
			 mb_reserve_pages(mb) >> (20 - PAGE_SHIFT));
		mb->stuck_logged = true;
		mb_nl_notify(mb, MEMBALLOON_EVENT_ALLOC_FAILURE);
	}
	mb->backoff_ms = min(mb->backoff_ms * 2, MB_BACKOFF_MAX_MS);
	return delay;
}

/* 4 KiB pages the balloon may still grow by without crossing the floor. */
static u64 mb_floor_room(struct memballoon *mb)
{
	u64 ram = (u64)mb->ram_pages * MB_PFNS_PER_PAGE;
	u64 floor;
	u32 held;

	spin_lock(&mb->state_lock);
	floor = mb->floor_pages;
	held = mb->num_pages;
	spin_unlock(&mb->state_lock);
	if (!floor)
		return U64_MAX;
	if (floor + held >= ram)
		return 0;
	return ram - floor - held;
}

/* Grow towards @diff more 4 KiB pages; returns the delay before the next pass. */
static unsigned long mb_resize_up(struct memballoon *mb, u32 target, u64 diff)
{
	unsigned long hold = mb_hold_left(mb);
	u64 room = mb_floor_room(mb);
	unsigned long done;

	if (hold)
		return hold;
	if (!room)
		return mb_inflate_stuck(mb, target, "inflation floor reached");
	done = mb_inflate(mb, min(diff, room) / MB_PFNS_PER_PAGE, target);
	/* A release stopped the pass: wait the hold out, nothing is stuck. */
	hold = mb_hold_left(mb);
	if (hold)
		return hold;
	if (!done)
		return mb_inflate_stuck(mb, target, "guest memory is short");
	mb->backoff_ms = MB_BACKOFF_MIN_MS;
	return 0;
}

void mb_resize_work(struct work_struct *work)
{
	struct memballoon *mb = container_of(to_delayed_work(work),
					     struct memballoon, resize_work);
	u32 target = mb_read_target(mb);
	unsigned long delay = 0;
	s64 diff;

	if (target != mb->last_target) {
		/* A new target: forget the last one's failures and holds. */
		WRITE_ONCE(mb->last_target, target);
		spin_lock(&mb->state_lock);
		mb->hold_until = 0;
		spin_unlock(&mb->state_lock);
		mb->backoff_ms = MB_BACKOFF_MIN_MS;
		mb->stuck_logged = false;
		WRITE_ONCE(mb->try_blocks, true);
		mb_nl_notify(mb, MEMBALLOON_EVENT_TARGET_CHANGED);
	}

	/* Releases change num_pages too: a stale value only costs a pass. */
	diff = (s64)target - READ_ONCE(mb->num_pages);
	if (diff > 0) {
		delay = mb_resize_up(mb, target, diff);
	} else if (diff < 0) {
		/* Nothing dequeued: pages are being migrated, try again soon. */
		if (!mb_deflate_pass(mb, -diff / MB_PFNS_PER_PAGE, target))
			delay = 1;
	}

	if (READ_ONCE(mb->num_pages) == target) {
		if (diff)
			mb_nl_notify(mb, MEMBALLOON_EVENT_TARGET_REACHED);
		return;
	}
	if (!delay && time_after_eq(jiffies, mb->ntf_actual_next)) {
		mb->ntf_actual_next = jiffies + HZ / 2;
		mb_nl_notify(mb, MEMBALLOON_EVENT_ACTUAL_CHANGED);
	}
	mb_queue_resize(mb, delay);
}

/* How long inflation waits after a release, unless the host sets a new target. */
static unsigned int release_holdoff_s = 30;
module_param(release_holdoff_s, uint, 0644);
MODULE_PARM_DESC(release_holdoff_s,
		 "Seconds the balloon does not re-inflate after an OOM or admin release (default 30)");

/* Hold inflation off from now on; the caller holds state_lock. */
static void mb_hold_locked(struct memballoon *mb)
{
	unsigned long until = jiffies +
			      max(1UL, (unsigned long)READ_ONCE(release_holdoff_s) * HZ);

	lockdep_assert_held(&mb->state_lock);
	mb->hold_until = until ?: 1;	/* 0 means no hold */
}

/*
 * Give up to @pages 4 KiB pages back to the guest now (DEFLATE_ON_OOM
 * only), telling the host first, and hold inflation off for a while so the
 * balloon does not take them straight back: an inflate pass that is
 * running stops before its next batch.  Returns the pages released.
 * The OOM notifier calls this directly (it must report what it freed);
 * admin releases go through release_work.
 */
unsigned long mb_release(struct memballoon *mb, unsigned long pages,
			 u32 event)
{
	unsigned long done = 0;
	unsigned int n;

	spin_lock(&mb->state_lock);
	mb_hold_locked(mb);
	spin_unlock(&mb->state_lock);
	while (done < pages && READ_ONCE(mb->num_pages)) {
		n = mb_deflate(mb, DIV_ROUND_UP(pages - done, MB_PFNS_PER_PAGE));
		if (!n)
			break;
		done += n * MB_PFNS_PER_PAGE;
		/* A host that acks at once never lets us sleep in between. */
		cond_resched();
	}
	if (event == MEMBALLOON_EVENT_OOM_DEFLATE) {
		/* Called with the OOM lock held: no messages built here. */
		set_bit(event, &mb->pending_events);
		mb_queue_work(mb, &mb->event_work);
	} else if (event == MEMBALLOON_EVENT_RELEASED) {
		mb_nl_notify_released(mb, min_t(unsigned long, done, U32_MAX));
	}
	if (done)
		dev_info_ratelimited(&mb->vdev->dev,
				     "released %lu pages (%lu MiB) of %u held\n",
				     done, done >> (20 - VIRTIO_BALLOON_PFN_SHIFT),
				     READ_ONCE(mb->num_pages) + (u32)done);
	return done;
}

/*
 * Accept a release of up to @pages 4 KiB pages (DEV_RELEASE) without
 * waiting for the host: clamp it to what the balloon holds beyond releases
 * already accepted, hold inflation off at once and let release_work give
 * the pages back.  Returns the pages accepted (0 for an empty balloon).
 */
u32 mb_release_async(struct memballoon *mb, u32 pages)
{
	u32 accepted;

	spin_lock(&mb->state_lock);
	accepted = min(pages, mb->num_pages - min(mb->num_pages,
						  mb->release_pending));
	mb->release_pending += accepted;
	mb_hold_locked(mb);
	spin_unlock(&mb->state_lock);
	/* Already queued: that run releases this request's pages too. */
	mb_queue_work(mb, &mb->release_work);
	return accepted;
}

/* Carry out the releases accepted so far; one RELEASED event per run. */
void mb_release_work(struct work_struct *work)
{
	struct memballoon *mb = container_of(work, struct memballoon,
					     release_work);
	u32 pages;

	spin_lock(&mb->state_lock);
	pages = mb->release_pending;
	mb->release_pending = 0;
	spin_unlock(&mb->state_lock);
	mb_release(mb, pages, MEMBALLOON_EVENT_RELEASED);
}

/* Events raised where no message could be built. */
void mb_event_work(struct work_struct *work)
{
	struct memballoon *mb = container_of(work, struct memballoon,
					     event_work);
	unsigned int event;

	for (event = 1; event <= MEMBALLOON_EVENT_MAX; event++)
		if (test_and_clear_bit(event, &mb->pending_events))
			mb_nl_notify(mb, event);
}

void mb_set_floor(struct memballoon *mb, u64 floor_pages)
{
	spin_lock(&mb->state_lock);
	mb->floor_pages = floor_pages;
	spin_unlock(&mb->state_lock);
	mb_nl_notify(mb, MEMBALLOON_EVENT_FLOOR_CHANGED);
	mb_queue_resize(mb, 0);
}

/* Give every page back (removal, freeze); the device must still work. */
void mb_deflate_all(struct memballoon *mb)
{
	u32 held;

	while ((held = READ_ONCE(mb->num_pages))) {
		if (!mb_deflate(mb, held / MB_PFNS_PER_PAGE))
			schedule_timeout_uninterruptible(1);
		cond_resched();
	}
	/* Wait out a compaction hook that may still be running. */
	mutex_lock(&mb->lock);
	mutex_unlock(&mb->lock);
}
