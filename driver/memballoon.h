/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memballoon: private state shared by the driver's files.
 *
 * One struct memballoon per bound virtio balloon device.  Each field (or
 * group) says what protects it.  Callbacks from the transport (virtqueue
 * done, config changed) only wake a waiter or queue work; pages move only
 * in work items, the OOM notifier, the compaction migration hook, and in
 * removal and freeze once the work has stopped.  No netlink request waits
 * for the host.
 */
#ifndef _MEMBALLOON_H
#define _MEMBALLOON_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/page_reporting.h>
#include <linux/scatterlist.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/virtio_balloon.h>
#include <linux/vmstat.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "compat.h"

/* Virtqueues in the order the spec numbers them; absent ones are skipped. */
enum mb_vq {
	MB_VQ_INFLATE,
	MB_VQ_DEFLATE,
	MB_VQ_STATS,
	MB_VQ_FREE_PAGE,
	MB_VQ_REPORTING,
	MB_VQ_MAX
};

/* 4 KiB balloon pages (the unit of the wire format) per guest page. */
#define MB_PFNS_PER_PAGE	(PAGE_SIZE >> VIRTIO_BALLOON_PFN_SHIFT)

/*
 * PFNs per inflate or deflate request: 4096 entries (a 16 KiB buffer) move
 * 16 MiB per round trip, where the in-tree driver moves 1 MiB.
 */
#define MB_PFNS_PER_REQ		4096U
#define MB_PAGES_PER_REQ	(MB_PFNS_PER_REQ / MB_PFNS_PER_PAGE)
/* Inflate requests per pass of resize_work (freeze and removal wait for one). */
#define MB_REQS_PER_PASS	16U

/*
 * Range blocks per reporting queue request (one buffer entry each, no
 * indirect descriptors, so also at most the queue's size): QEMU's queue has
 * 32 entries, 64 MiB per round trip.
 */
#define MB_RANGES_PER_REQ	64U

/* Statistics tags sent on every request: the spec's 0-9 and Linux 6.12's 10-15. */
#define MB_NR_STATS		16

/* Retry delays after the balloon could not grow (memory short, allocation failed). */
#define MB_BACKOFF_MIN_MS	100U
#define MB_BACKOFF_MAX_MS	5000U

/*
 * The balloon's blocks: 2 MiB on x86 (a PMD), so the host can drop a whole
 * huge page; each stays one allocation while it is in the balloon.
 */
#define MB_BLOCK_ORDER		min_t(unsigned int, PMD_SHIFT - PAGE_SHIFT, \
				      MB_MAX_PAGE_ORDER)
#define MB_BLOCK_PAGES		BIT(MB_BLOCK_ORDER)

/* Admin changes (DEV_SET, DEV_RELEASE) accepted per device in any window. */
#define MB_ADMIN_BURST		5
#define MB_ADMIN_WINDOW_S	5
#define MB_ADMIN_WINDOW		(MB_ADMIN_WINDOW_S * HZ)

/* Counters of one device, read by DEV_GET as one snapshot (state_lock). */
struct mb_counters {
	u64 inflated;		/* 4 KiB pages ever given to the host */
	u64 deflated;		/* 4 KiB pages ever taken back */
	u64 alloc_failures;	/* inflate passes that got no page or hit the reserve */
	u64 migrated;		/* balloon pages moved by compaction */
	u64 stats_requests;	/* stats buffers the host returned to us */
	u64 oom_deflates;	/* OOM notifier calls that released pages */
	u64 oom_pages;		/* 4 KiB pages released to the OOM path */
	u64 reported;		/* 4 KiB free pages reported to the host */
	u64 hinted;		/* 4 KiB free pages hinted for migration */
};

/*
 * The pages of one inflate or deflate request: whole blocks (their first
 * pages, linked by lru) and single pages, told to the host as PFNs; on
 * deflate also range blocks and the loose pages of a split range block,
 * which go back without a message (the host forgot them when it used the
 * range).  An inflate batch with as_ranges set sends its blocks as ranges.
 */
struct mb_batch {
	struct list_head blocks;
	struct list_head pages;
	struct list_head ranges;
	struct list_head loose;
	unsigned int nr_blocks;
	unsigned int nr_pages;
	unsigned int nr_ranges;
	unsigned int nr_loose;
	bool as_ranges;
	u64 alloc_ns;		/* inflate: time its pages took to allocate */
};

/*
 * Locking, outermost first:
 *  - mb_nl_devices_lock (netlink.c): the device list; held only to walk it
 *    (a lookup and its nl_users reference, or a dump filling its messages),
 *    never across a host round trip;
 *  - lock: the inflate and deflate queues, held across their round trips;
 *  - report_lock: the reporting queue, held across its round trips;
 *  - hint_lock, b_dev_info.pages_lock, stop_lock: leaves;
 *  - state_lock: a leaf; what netlink reads without waiting for the host.
 */
struct memballoon {
	/* Set at probe, never changes. */
	struct virtio_device *vdev;
	unsigned long ram_pages;	/* guest RAM at probe, for the reserve */
	/*
	 * Written at probe and restore before the device is ready, when no
	 * work can run; gone (dangling) between freeze and restore, when no
	 * work runs either.  NULL when the feature was not negotiated.
	 */
	struct virtqueue *vqs[MB_VQ_MAX];

	/* Protects stop_work against the transport callbacks (any context). */
	spinlock_t stop_lock;
	/* Set when the device goes away or freezes: no work is queued after it. */
	bool stop_work;

	/* Moves the balloon towards the host's target; runs freezable. */
	struct delayed_work resize_work;

	/*
	 * Serialises every use of the inflate and deflate queues, and is held
	 * while the host acknowledges a request.  The compaction hook only
	 * trylocks it.  Protects pfns, frozen, actual_base/actual_reg, blocks,
	 * ranges and every change of the balloon's page list.
	 */
	struct mutex lock;
	/* Single pages we hold, movable by compaction; has its own pages_lock. */
	struct balloon_dev_info b_dev_info;
	/* Whole blocks we hold (first pages, linked by lru); not movable. */
	struct list_head blocks;
	/*
	 * Range blocks: whole blocks the host was given as ranges on the
	 * reporting queue (first pages, linked by lru); not movable.
	 */
	struct list_head ranges;
	/* Request buffer for the inflate and deflate queues (DMA-able). */
	__virtio32 *pfns;
	/* Woken by the inflate, deflate and reporting queue callbacks. */
	wait_queue_head_t acked;
	/* Between freeze and restore: the queues are gone, pages stay put. */
	bool frozen;
	/* Legacy transports: our own mapping of the actual field, or NULL. */
	void __iomem *actual_base;
	void __iomem *actual_reg;
	struct pci_dev *actual_pdev;	/* set when actual_base is a PCI iomap */

	/*
	 * What netlink reports and admin requests change, so that neither
	 * waits for the host (lock is held across round trips): a leaf,
	 * taken inside lock, never across a sleep.
	 */
	spinlock_t state_lock;
	/*
	 * 4 KiB pages in the balloon, acknowledged by the host: our "actual".
	 * Written under lock and state_lock together (with the counter it
	 * moves with, so inflated - deflated == num_pages in every snapshot);
	 * read under either, or with READ_ONCE() where a stale value only
	 * costs another pass.
	 */
	u32 num_pages;
	struct mb_counters counters;		/* state_lock */
	/*
	 * After a release (OOM, admin), inflation waits until hold_until
	 * unless the host sets a new target; 0: no hold.  state_lock.  An
	 * inflate pass checks it (under lock) before each batch goes to the
	 * host, so a release stops a pass that is already running.
	 */
	unsigned long hold_until;
	/* Guest size (4 KiB pages) the balloon never inflates below; 0: none. */
	u64 floor_pages;			/* state_lock */
	/* Pages accepted by DEV_RELEASE, not yet released by release_work. */
	u32 release_pending;			/* state_lock */
	/*
	 * When the last MB_ADMIN_BURST admin changes were accepted (a ring;
	 * set before the device is listed).
	 */
	unsigned long admin_times[MB_ADMIN_BURST];	/* state_lock */
	unsigned int admin_next;			/* state_lock */

	/* Carries out the releases DEV_RELEASE accepted; runs freezable. */
	struct work_struct release_work;

	/* Written only by resize_work (WRITE_ONCE); netlink reads it. */
	u32 last_target;	/* target of the previous pass, to spot changes */
	/* resize_work only. */
	unsigned long ntf_actual_next;	/* next ACTUAL_CHANGED event, jiffies */
	unsigned int backoff_ms;	/* next retry delay when stuck */
	bool stuck_logged;	/* said once why the target is out of reach */
	/*
	 * Cleared when no block was free, set again on a new target:
	 * resize_work and the alloc_work it waits for, which may both clear
	 * it at once (READ_ONCE/WRITE_ONCE).
	 */
	bool try_blocks;
	/*
	 * A second inflate batch, allocated on another CPU while resize_work
	 * allocates its own; never outlives an inflate round.  Handed between
	 * the two by queue_work() and flush_work().
	 */
	struct work_struct alloc_work;
	struct mb_batch alloc_batch;
	unsigned int alloc_want;	/* guest pages alloc_work allocates */

	/* On mb_nl_devices (netlink.c), under mb_nl_devices_lock. */
	struct list_head nl_node;
	/* Netlink requests using the device; removal waits for 0. */
	atomic_t nl_users;
	/* Events raised where no message can be built (OOM path). */
	struct work_struct event_work;
	unsigned long pending_events;	/* bit N: event N is pending (atomic) */

	/* DEFLATE_ON_OOM: releases pages when the guest is out of memory. */
	struct notifier_block oom_nb;
	/* The OOM notifier's last release and run of quick ones (oom_lock). */
	unsigned long oom_last;
	unsigned int oom_streak;
	/* REPORTING: the page_reporting core calls us through this. */
	struct page_reporting_dev_info pr_dev_info;
	/*
	 * The reporting queue has two users, free page reporting and the
	 * balloon's range blocks: this serialises them, held while the host
	 * uses a request.  Taken inside lock, never the other way round.
	 */
	struct mutex report_lock;
	/*
	 * Whether blocks may go to the host as ranges (REPORTING, no
	 * MUST_TELL_HOST, no non-zero poison_val) and how many per request:
	 * set at probe and restore before the device is ready, when no work
	 * runs.
	 */
	bool range_ok;
	unsigned int range_max;
	struct scatterlist *range_sg;	/* MB_RANGES_PER_REQ entries; report_lock */

	/*
	 * FREE_PAGE_HINT.  hint_work runs on a config change and whenever the
	 * host used free page queue entries; it never waits for the host.
	 */
	struct work_struct hint_work;
	spinlock_t hint_lock;	/* protects hint_sent, hint_pages, hint_blocks */
	struct list_head hint_sent;	/* in the queue, not yet used by the host */
	struct list_head hint_pages;	/* used by the host: may go back early */
	unsigned long hint_blocks;	/* on hint_pages; the shrinker READ_ONCEs it */
	unsigned long hint_flags;	/* MB_HINT_READ_ID (atomic bitops) */
	/* hint_work only (and mb_hint_reset() once it cannot run). */
	u32 hint_cmd_received;		/* last ID read */
	bool hint_running;		/* blocks go out for hint_cmd_active */
	__virtio32 hint_cmd_active;	/* outbufs: DMA-able, so not on stack */
	__virtio32 hint_cmd_stop;
	struct shrinker *hint_shrinker;	/* set at probe, cleared at removal */

	/* Stats: exactly one buffer lives in the stats queue. */
	struct work_struct stats_work;
	/* stats_work only (probe and restore prime it before any work runs). */
	struct virtio_balloon_stat *stats;	/* MB_NR_STATS entries, DMA-able */
	unsigned long *vm_events;	/* scratch for all_vm_events() */
};

/*
 * Whether @fbit was negotiated.  Unlike virtio_has_feature() this may ask
 * about a feature the driver does not offer yet (the answer is then no).
 */
static inline bool mb_negotiated(struct memballoon *mb, unsigned int fbit)
{
	return __virtio_test_bit(mb->vdev, fbit);
}

/* Whether balloon pages leave MemTotal (not with DEFLATE_ON_OOM, as Linux). */
static inline bool mb_counts_managed(struct memballoon *mb)
{
	return !mb_negotiated(mb, VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
}

/* Add @n to one of @mb's counters (a DEV_GET snapshot sees all or none). */
static inline void mb_count(struct memballoon *mb, u64 *counter, u64 n)
{
	spin_lock(&mb->state_lock);
	*counter += n;
	spin_unlock(&mb->state_lock);
}

/* main.c */
bool mb_queue_work(struct memballoon *mb, struct work_struct *work);
void mb_queue_resize(struct memballoon *mb, unsigned long delay);

/* config.c: the device's config space */
u32 mb_read_target(struct memballoon *mb);
void mb_write_actual(struct memballoon *mb);
void mb_config_init(struct memballoon *mb);
void mb_config_exit(struct memballoon *mb);

/* balloon.c: inflate and deflate */
void mb_vq_acked(struct virtqueue *vq);
int mb_kick_wait(struct memballoon *mb, struct virtqueue *vq);
int mb_tell_host(struct memballoon *mb, struct virtqueue *vq, unsigned int n);
unsigned int mb_page_to_pfns(struct memballoon *mb, unsigned int idx,
			     struct page *page, unsigned int nr);
void mb_resize_work(struct work_struct *work);
void mb_alloc_work(struct work_struct *work);
void mb_deflate_all(struct memballoon *mb);
unsigned long mb_release(struct memballoon *mb, unsigned long pages,
			 u32 event);
u32 mb_release_async(struct memballoon *mb, u32 pages);
void mb_release_work(struct work_struct *work);
void mb_set_floor(struct memballoon *mb, u64 floor_pages);
void mb_event_work(struct work_struct *work);
unsigned long mb_reserve_pages(struct memballoon *mb);

/* stats.c: the stats queue */
void mb_stats_requested(struct virtqueue *vq);
void mb_stats_work(struct work_struct *work);
int mb_stats_alloc(struct memballoon *mb);
int mb_stats_prime(struct memballoon *mb);

/* migrate.c: balloon compaction */
void mb_migrate_init(struct memballoon *mb);

/* oom.c: deflate on OOM */
int mb_oom_init(struct memballoon *mb);
void mb_oom_exit(struct memballoon *mb);

/* reporting.c: free page reporting, range blocks and page poison */
void mb_reporting_validate(struct virtio_device *vdev);
int mb_report_ranges(struct memballoon *mb, struct list_head *blocks,
		     unsigned int nr);
int mb_reporting_init(struct memballoon *mb);
void mb_reporting_exit(struct memballoon *mb);

/* hint.c: free page hinting */
void mb_hint_setup(struct memballoon *mb);
int mb_hint_init(struct memballoon *mb);
void mb_hint_exit(struct memballoon *mb);
void mb_hint_reset(struct memballoon *mb);
void mb_hint_config_changed(struct memballoon *mb);
void mb_hint_vq_done(struct virtqueue *vq);

/* netlink.c: the memballoon generic netlink family */
int mb_nl_init(void);
void mb_nl_exit(void);
void mb_nl_add_device(struct memballoon *mb);
void mb_nl_del_device(struct memballoon *mb);
void mb_nl_notify(struct memballoon *mb, u32 event);
void mb_nl_notify_released(struct memballoon *mb, u32 pages);

#endif /* _MEMBALLOON_H */
