// SPDX-License-Identifier: GPL-2.0
/*
 * memballoon: moving the balloon towards the host's target.
 *
 * Inflating: pages are allocated outside any lock, 2 MiB blocks first (split
 * into 4 KiB balloon pages, so the host can drop whole huge pages), falling
 * back to single pages.  Allocations never dip into reserves, never retry
 * hard and never warn; the balloon also stops short of eating the guest's
 * last MemAvailable (see reserve_mib), because a guest without swap whose
 * memory is all ballooned can only OOM-kill its own workload.  A batch of up
 * to MB_PFNS_PER_REQ PFNs goes to the host in one request; only once the
 * host has used the request do the pages join the balloon list (and become
 * movable by compaction) and does "actual" grow.
 *
 * Deflating: pages leave the balloon list, the host is told, and only after
 * it used the request are the pages freed (MUST_TELL_HOST).
 *
 * When the balloon cannot grow, resize_work backs off exponentially (and
 * says so once per target) instead of spinning; a config change cuts the
 * wait short.
 */
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/scatterlist.h>

#include <uapi/linux/memballoon.h>

#include "memballoon.h"

static unsigned int reserve_mib;
module_param(reserve_mib, uint, 0644);
MODULE_PARM_DESC(reserve_mib,
		 "MemAvailable (MiB) the balloon never inflates into; 0 = automatic (2% of RAM, at least 64 MiB)");

static bool overlap = true;
module_param(overlap, bool, 0644);
MODULE_PARM_DESC(overlap,
		 "Allocate two inflate batches at once, one on another CPU, then hand both to the host (default on)");

static bool free_blocks = true;
module_param(free_blocks, bool, 0644);
MODULE_PARM_DESC(free_blocks,
		 "Free each whole 2 MiB block that leaves the balloon in one call, not 512 (default on)");

void mb_vq_acked(struct virtqueue *vq)
{
	struct memballoon *mb = vq->vdev->priv;

	wake_up(&mb->acked);
}

/*
 * Hand the first @n entries of pfns to the device on @vq and wait until it
 * has used them.  Returns -EIO when the device broke (hot-unplug, reset).
 */
int mb_tell_host(struct memballoon *mb, struct virtqueue *vq, unsigned int n)
{
	struct scatterlist sg;
	u64 t0 = ktime_get_ns();
	unsigned int len;
	int err;

	lockdep_assert_held(&mb->lock);
	sg_init_one(&sg, mb->pfns, n * sizeof(mb->pfns[0]));
	/* The queue is empty here: each request is used before the next. */
	err = virtqueue_add_outbuf(vq, &sg, 1, mb, GFP_KERNEL);
	if (err)
		return err;
	virtqueue_kick(vq);
	/* Recheck now and then: a broken device never interrupts us. */
	while (!wait_event_timeout(mb->acked, virtqueue_get_buf(vq, &len), HZ))
		if (virtqueue_is_broken(vq))
			return -EIO;
	mb_count(mb, &mb->counters.host_ns, ktime_get_ns() - t0);
	return 0;
}

/* Write the PFNs of @page at pfns[@idx]; returns the next free index. */
unsigned int mb_page_to_pfns(struct memballoon *mb, unsigned int idx,
			     struct page *page)
{
	unsigned long pfn = page_to_pfn(page) <<
			    (PAGE_SHIFT - VIRTIO_BALLOON_PFN_SHIFT);
	unsigned int i;

	BUILD_BUG_ON(PAGE_SHIFT < VIRTIO_BALLOON_PFN_SHIFT);
	BUILD_BUG_ON(MB_PFNS_PER_REQ % MB_PFNS_PER_PAGE);
	for (i = 0; i < MB_PFNS_PER_PAGE; i++)
		mb->pfns[idx + i] = cpu_to_virtio32(mb->vdev, pfn + i);
	return idx + MB_PFNS_PER_PAGE;
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

/*
 * Allocate up to @want guest pages onto @pages, 2 MiB blocks first.  The
 * high-order attempt neither reclaims nor compacts: it only takes blocks
 * that are free right now, so it never stalls the guest.
 */
static unsigned int mb_alloc_pages(struct memballoon *mb,
				   struct list_head *pages, unsigned int want)
{
	const unsigned int order = MB_HIGH_ORDER;
	gfp_t high_gfp = (MB_BALLOON_GFP | __GFP_NOMEMALLOC | __GFP_NORETRY |
			  __GFP_NOWARN) & ~__GFP_RECLAIM;
	unsigned int got = 0, i;
	struct page *page;

	while (READ_ONCE(mb->try_high_order) && want - got >= (1U << order)) {
		page = alloc_pages(high_gfp, order);
		if (!page) {
			WRITE_ONCE(mb->try_high_order, false);
			break;
		}
		split_page(page, order);
		for (i = 0; i < (1U << order); i++)
			list_add_tail(&page[i].lru, pages);
		got += 1U << order;
	}
	while (got < want) {
		page = balloon_page_alloc();
		if (!page)
			break;
		list_add_tail(&page->lru, pages);
		got++;
	}
	return got;
}

/*
 * If @first starts a run of (1 << @order) list entries on @pages that are
 * the pages of one naturally aligned block, in ascending or descending
 * order, return the block's first page; NULL otherwise.
 */
static struct page *mb_block_run(struct list_head *pages, struct page *first,
				 unsigned int order)
{
	unsigned long nr = 1UL << order, pfn = page_to_pfn(first), i;
	struct page *head, *page = first;
	long step;

	if (IS_ALIGNED(pfn, nr)) {
		head = first;
		step = 1;
	} else if (IS_ALIGNED(pfn + 1, nr)) {
		head = first - (nr - 1);
		step = -1;
	} else {
		return NULL;
	}
	for (i = 1; i < nr; i++) {
		if (list_is_last(&page->lru, pages))
			return NULL;
		page = list_next_entry(page, lru);
		if (page != first + step * (long)i)
			return NULL;
	}
	/* The buddy allocator never merges across zones. */
	if (page_zone(head) != page_zone(head + nr - 1))
		return NULL;
	return head;
}

/*
 * Give the block of (1 << @order) pages at @head back to the allocator in
 * one call instead of one per page.  Each is a separate page with one
 * reference (split_page() or single allocations) that is no longer the
 * host's, and each is on a private list.  Anyone else holding a reference
 * (a compaction scanner's speculative one) keeps the block apart: returns
 * false and changes nothing then.
 */
static bool mb_free_block(struct page *head, unsigned int order)
{
	unsigned long nr = 1UL << order, i;

	/* Refcount 1 -> 0 on every tail: nobody can take a reference now. */
	for (i = 1; i < nr; i++)
		if (!page_ref_freeze(head + i, 1))
			break;
	if (i < nr) {
		while (--i)
			page_ref_unfreeze(head + i, 1);
		return false;
	}
	for (i = 0; i < nr; i++) {
		list_del(&head[i].lru);
		mb_page_unballoon(&head[i]);
	}
	/* A racing reference on @head makes this free only the tails. */
	__free_pages(head, order);
	return true;
}

/*
 * Free pages that are no longer the host's (deflated, or never sent); each
 * whole aligned 2 MiB block among them goes back in one call.  Returns how
 * many guest pages went back as blocks.
 */
static unsigned long mb_free_page_list(struct list_head *pages)
{
	const unsigned int order = MB_HIGH_ORDER;
	bool blocks_ok = READ_ONCE(free_blocks);
	unsigned long blocks = 0;
	struct page *page, *head;

	while (!list_empty(pages)) {
		page = list_first_entry(pages, struct page, lru);
		head = blocks_ok ? mb_block_run(pages, page, order) : NULL;
		if (head && mb_free_block(head, order)) {
			blocks += 1UL << order;
			continue;
		}
		list_del(&page->lru);
		put_page(page);
	}
	return blocks;
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

/*
 * Request the host to take @pages (@got guest pages); 0 or -errno, -EAGAIN
 * when a release has put inflation on hold since the pass started: the
 * batch must not go to the host then, however far the pass has come.
 */
static int mb_inflate_send(struct memballoon *mb, struct list_head *pages,
			   unsigned int got)
{
	unsigned int n = 0;
	struct page *page;
	int err;

	mutex_lock(&mb->lock);
	if (mb->frozen || mb_hold_left(mb)) {
		err = mb->frozen ? -EBUSY : -EAGAIN;
		mutex_unlock(&mb->lock);
		return err;
	}
	list_for_each_entry(page, pages, lru)
		n = mb_page_to_pfns(mb, n, page);
	err = mb_tell_host(mb, mb->vqs[MB_VQ_INFLATE], n);
	if (err) {
		mutex_unlock(&mb->lock);
		dev_err_ratelimited(&mb->vdev->dev,
				    "inflate request failed: %d\n", err);
		return err;
	}
	mb_balloon_enqueue(&mb->b_dev_info, pages, mb_counts_managed(mb));
	spin_lock(&mb->state_lock);
	WRITE_ONCE(mb->num_pages, mb->num_pages + n);
	mb->counters.inflated += n;
	spin_unlock(&mb->state_lock);
	mb_write_actual(mb);
	mutex_unlock(&mb->lock);
	return 0;
}

/* Send @pages (@got guest pages, one request), or free them if that fails. */
static int mb_inflate_batch(struct memballoon *mb, struct list_head *pages,
			    unsigned int got)
{
	int err;

	if (!got)
		return 0;
	err = mb_inflate_send(mb, pages, got);
	if (err)
		mb_free_page_list(pages);
	return err;
}

/*
 * Allocate one batch of up to @want guest pages; mb_inflate() has already
 * capped @want (over both of a round's batches) by what the reserve leaves.
 */
static unsigned int mb_inflate_alloc(struct memballoon *mb,
				     struct list_head *pages, unsigned long want)
{
	want = min_t(unsigned long, want, MB_PAGES_PER_REQ);
	return want ? mb_alloc_pages(mb, pages, want) : 0;
}

void mb_prealloc_work(struct work_struct *work)
{
	struct memballoon *mb = container_of(work, struct memballoon,
					     prealloc_work);

	mb->prealloc_got = mb_inflate_alloc(mb, &mb->prealloc_pages,
					    mb->prealloc_want);
}

/*
 * Grow the balloon by up to @want guest pages, at most MB_REQS_PER_PASS
 * requests, stopping early if the host's target changes; returns how many
 * pages it took.  With overlap on, each round allocates two batches at
 * once, one here and one by a work item on another CPU, and then hands
 * both to the host one after the other.  The guest's allocating (mostly
 * zeroing) and the host's discarding do not run at the same time: under
 * TCG the host's part runs in the vCPU that kicked the queue, and every
 * discard it makes while another vCPU runs costs that vCPU's thread a
 * TLB-shootdown IPI, which made true overlap slower than one thing at a
 * time on a quiet 2-core host (docs/bench.md, scenario 7).
 */
static unsigned long mb_inflate(struct memballoon *mb, unsigned long want,
				u32 target)
{
	bool par = READ_ONCE(overlap) && num_online_cpus() > 1;
	unsigned long done = 0, rest, spare;
	unsigned int got, got2, reqs = 0;
	LIST_HEAD(pages);
	u64 alloc_ns = 0, t0;
	bool pre;
	int err = 0;

	want = min(want, (unsigned long)MB_REQS_PER_PASS * MB_PAGES_PER_REQ);
	while (done < want && reqs < MB_REQS_PER_PASS) {
		rest = want - done;
		t0 = ktime_get_ns();
		/* The two batches split what the reserve leaves, never more. */
		spare = mb_spare_pages(mb);
		pre = par && reqs + 1 < MB_REQS_PER_PASS &&
		      min(rest, spare) > MB_PAGES_PER_REQ;
		if (pre) {
			mb->prealloc_want = min(rest, spare) - MB_PAGES_PER_REQ;
			mb->prealloc_got = 0;
			queue_work(system_unbound_wq, &mb->prealloc_work);
		}
		got = mb_inflate_alloc(mb, &pages, min(rest, spare));
		got2 = 0;
		if (pre) {
			flush_work(&mb->prealloc_work);
			got2 = mb->prealloc_got;
		}
		alloc_ns += ktime_get_ns() - t0;
		err = mb_inflate_batch(mb, &pages, got);
		if (!err)
			done += got;
		/* The second batch only while the target still wants it. */
		if (!err && got2 && (!got || mb_read_target(mb) == target)) {
			err = mb_inflate_batch(mb, &mb->prealloc_pages, got2);
			if (!err)
				done += got2;
		} else if (got2) {
			mb_free_page_list(&mb->prealloc_pages);
		}
		reqs += pre ? 2 : 1;
		if (err || (!got && !got2) || mb_read_target(mb) != target)
			break;
	}
	mb_count(mb, &mb->counters.alloc_ns, alloc_ns);
	return done;
}

/*
 * Shrink the balloon by up to @want guest pages; returns how many it freed.
 * May return 0 while pages are isolated for migration.
 */
static unsigned int mb_deflate(struct memballoon *mb, unsigned long want)
{
	unsigned int got, n = 0;
	unsigned long blocks;
	struct page *page;
	LIST_HEAD(pages);
	int err;

	mutex_lock(&mb->lock);
	want = min3(want, (unsigned long)MB_PAGES_PER_REQ,
		    (unsigned long)mb->num_pages / MB_PFNS_PER_PAGE);
	got = mb->frozen ? 0 : mb_balloon_dequeue(&mb->b_dev_info, &pages,
						  want, mb_counts_managed(mb));
	if (!got) {
		mutex_unlock(&mb->lock);
		return 0;
	}
	list_for_each_entry(page, &pages, lru)
		n = mb_page_to_pfns(mb, n, page);
	/*
	 * With MUST_TELL_HOST no page may be reused before the host used the
	 * request.  If the device broke, nobody is left to tell: free anyway.
	 */
	err = mb_tell_host(mb, mb->vqs[MB_VQ_DEFLATE], n);
	if (err)
		dev_err_ratelimited(&mb->vdev->dev,
				    "deflate request failed: %d\n", err);
	spin_lock(&mb->state_lock);
	WRITE_ONCE(mb->num_pages, mb->num_pages - n);
	mb->counters.deflated += n;
	spin_unlock(&mb->state_lock);
	if (!err)
		mb_write_actual(mb);
	mutex_unlock(&mb->lock);
	blocks = mb_free_page_list(&pages);
	if (blocks)
		mb_count(mb, &mb->counters.deflated_block_pages,
			 blocks * MB_PFNS_PER_PAGE);
	return got;
}

/*
 * Shrink the balloon by up to @want guest pages in at most MB_REQS_PER_PASS
 * requests, stopping early if the host's target changes; returns how many.
 * Freeing stays on this CPU: under TCG, freeing on another vCPU while the
 * host takes the next request cost more than it saved (docs/measurements.md).
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
		WRITE_ONCE(mb->try_high_order, true);
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
