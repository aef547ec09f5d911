/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memballoon: every difference between the kernel APIs the driver builds
 * against lives here, so the driver's own files carry no version checks.
 * The MB_HAVE_* flags come from compat-probe.sh, which asks the headers
 * themselves: distribution kernels backport API changes, so
 * LINUX_VERSION_CODE would lie.
 *
 * Balloon page bookkeeping comes in two shapes:
 *  - <linux/balloon_compaction.h> (up to 6.x): the driver adjusts the
 *    managed page count itself and, when compaction migrates a page,
 *    inserts the new page and releases the old one;
 *  - <linux/balloon.h> (7.x): the core does both, driven by the
 *    adjust_managed_page_count flag; the driver only tells the host.
 */
#ifndef _MEMBALLOON_COMPAT_H
#define _MEMBALLOON_COMPAT_H

#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/virtio_config.h>
#include <linux/vmstat.h>

#ifdef MB_HAVE_BALLOON_CORE
#include <linux/balloon.h>
#else
#include <linux/balloon_compaction.h>
#endif

/* Largest order the buddy allocator hands out. */
#ifdef MAX_PAGE_ORDER
#define MB_MAX_PAGE_ORDER	MAX_PAGE_ORDER
#else
/* MAX_ORDER was exclusive before 6.4, inclusive after: MAX_ORDER - 1 is safe. */
#define MB_MAX_PAGE_ORDER	(MAX_ORDER - 1)
#endif

/*
 * Compaction can migrate balloon pages: CONFIG_BALLOON_COMPACTION up to
 * 6.x, renamed CONFIG_BALLOON_MIGRATION in 7.x.  The core then calls
 * ->migratepage for every balloon page it moves, so it must be set.
 */
#if defined(CONFIG_BALLOON_COMPACTION) || defined(CONFIG_BALLOON_MIGRATION)
#define MB_BALLOON_MIGRATION
#endif

/*
 * A reclaim counter (PGSCAN_KSWAPD, PGSCAN_DIRECT, PGSTEAL_KSWAPD,
 * PGSTEAL_DIRECT), in pages: a vm event up to 6.x, a node stat in 7.x.
 * The enum names are the same in both, so using the wrong one compiles
 * and silently reads another counter.
 */
#ifdef MB_HAVE_NODE_STAT_RECLAIM
#define mb_reclaim_pages(events, item)	global_node_page_state(item)
#else
#define mb_reclaim_pages(events, item)	((events)[item])
#endif

/* ---- virtqueues ---------------------------------------------------------- */

#ifdef MB_HAVE_VIRTQUEUE_INFO
#define mb_vq_info virtqueue_info
#else
struct mb_vq_info {
	const char *name;	/* NULL: the queue is not created */
	vq_callback_t *callback;
};
#endif

/* Create the queues of info[0..nvqs), in the spec's order. */
static inline int mb_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			      struct virtqueue *vqs[], struct mb_vq_info info[])
{
#ifdef MB_HAVE_VIRTQUEUE_INFO
	return virtio_find_vqs(vdev, nvqs, vqs, info, NULL);
#else
	vq_callback_t *callbacks[8];
	const char *names[8];
	unsigned int i;

	if (nvqs > ARRAY_SIZE(names))
		return -EINVAL;
	for (i = 0; i < nvqs; i++) {
		callbacks[i] = info[i].callback;
		names[i] = info[i].name;
	}
	return virtio_find_vqs(vdev, nvqs, vqs, callbacks, names, NULL);
#endif
}

/* ---- the driver structure ------------------------------------------------ */

#ifdef MB_HAVE_VIRTIO_DRIVER_OWNER
#define MB_DRIVER_OWNER
#else
#define MB_DRIVER_OWNER		.driver.owner = THIS_MODULE,
#endif

/* ---- generic netlink ----------------------------------------------------- */

/*
 * What a family's pre_doit is given: the split ops since 6.2.  The
 * family's UAPI, policies and ops table are generated from its spec
 * (netlink-gen.[ch]) as struct genl_ops, which every kernel has and the
 * 6.2+ core splits itself; the family struct and its pre_doit are written
 * by hand in netlink.c, for both.
 */
#ifdef MB_HAVE_GENL_SPLIT_OPS
#define mb_genl_split_ops	genl_split_ops
#else
#define mb_genl_split_ops	genl_ops
#endif

/* ---- balloon page bookkeeping -------------------------------------------- */

/*
 * @managed: whether balloon pages leave the managed page count (MemTotal);
 * fixed once features are negotiated.
 */
static inline void mb_balloon_init(struct balloon_dev_info *b, bool managed)
{
	balloon_devinfo_init(b);
#ifdef MB_HAVE_BALLOON_CORE
	b->adjust_managed_page_count = managed;
#endif
}

/* Move pages the host acknowledged into the balloon (and out of MemTotal). */
static inline void mb_balloon_enqueue(struct balloon_dev_info *b,
				      struct list_head *pages, bool managed)
{
#ifndef MB_HAVE_BALLOON_CORE
	struct page *page;

	if (managed)
		list_for_each_entry(page, pages, lru)
			adjust_managed_page_count(page, -1);
#endif
	balloon_page_list_enqueue(b, pages);
}

/* Take up to @n pages out of the balloon (and back into MemTotal). */
static inline size_t mb_balloon_dequeue(struct balloon_dev_info *b,
					struct list_head *pages, size_t n,
					bool managed)
{
	size_t got = balloon_page_list_dequeue(b, pages, n);
#ifndef MB_HAVE_BALLOON_CORE
	struct page *page;

	if (managed)
		list_for_each_entry(page, pages, lru)
			adjust_managed_page_count(page, 1);
#endif
	return got;
}

/*
 * Count @nr pages into or out of the balloon in /proc/meminfo's "Balloon:"
 * (a node stat since 7.x; none before).  The balloon core counts its own
 * pages; this is for the driver's blocks.
 */
static inline void mb_count_balloon_pages(struct page *page, long nr)
{
#ifdef MB_HAVE_NR_BALLOON_PAGES
	mod_node_page_state(page_pgdat(page), NR_BALLOON_PAGES, nr);
#endif
}

/*
 * Compaction moved a balloon page: once the host knows, @newpage replaces
 * @page in the balloon and @page goes back to the allocator.  Called with
 * the driver's lock held; the 7.x core does this itself after we return.
 */
static inline void mb_balloon_migrated(struct balloon_dev_info *b,
				       struct page *newpage, struct page *page,
				       bool managed)
{
#ifndef MB_HAVE_BALLOON_CORE
	unsigned long flags;

	get_page(newpage);	/* the balloon's reference */
	if (managed && page_zone(page) != page_zone(newpage)) {
		adjust_managed_page_count(page, 1);
		adjust_managed_page_count(newpage, -1);
	}
	spin_lock_irqsave(&b->pages_lock, flags);
	balloon_page_insert(b, newpage);
	b->isolated_pages--;
	__count_vm_event(BALLOON_MIGRATE);
	spin_unlock_irqrestore(&b->pages_lock, flags);
	balloon_page_finalize(page);
	put_page(page);		/* the balloon's reference */
#endif
}

/* ---- shrinkers ----------------------------------------------------------- */

#include <linux/shrinker.h>
#include <linux/slab.h>

#ifdef MB_HAVE_SHRINKER_ALLOC
/* The core allocates the shrinker and carries our pointer for us. */
static inline struct shrinker *
mb_shrinker_create(unsigned long (*count)(struct shrinker *,
					  struct shrink_control *),
		   unsigned long (*scan)(struct shrinker *,
					 struct shrink_control *),
		   void *priv, const char *name)
{
	struct shrinker *s = shrinker_alloc(0, "%s", name);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->private_data = priv;
	shrinker_register(s);
	return s;
}

static inline void *mb_shrinker_priv(struct shrinker *s)
{
	return s->private_data;
}

static inline void mb_shrinker_destroy(struct shrinker *s)
{
	shrinker_free(s);
}
#else
/* Before 6.7 the driver owns the shrinker: wrap it to carry our pointer. */
struct mb_shrinker {
	struct shrinker shrinker;
	void *priv;
};

static inline struct shrinker *
mb_shrinker_create(unsigned long (*count)(struct shrinker *,
					  struct shrink_control *),
		   unsigned long (*scan)(struct shrinker *,
					 struct shrink_control *),
		   void *priv, const char *name)
{
	struct mb_shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return NULL;
	s->shrinker.count_objects = count;
	s->shrinker.scan_objects = scan;
	s->shrinker.seeks = DEFAULT_SEEKS;
	s->priv = priv;
	if (register_shrinker(&s->shrinker, "%s", name)) {
		kfree(s);
		return NULL;
	}
	return &s->shrinker;
}

static inline void *mb_shrinker_priv(struct shrinker *s)
{
	return container_of(s, struct mb_shrinker, shrinker)->priv;
}

static inline void mb_shrinker_destroy(struct shrinker *s)
{
	unregister_shrinker(s);
	kfree(container_of(s, struct mb_shrinker, shrinker));
}
#endif

/*
 * The unbound system workqueue: system_dfl_wq since 6.17 (and its stable
 * backports); 7.x warns about work queued on system_unbound_wq.
 */
#ifdef MB_HAVE_SYSTEM_DFL_WQ
#define mb_unbound_wq system_dfl_wq
#else
#define mb_unbound_wq system_unbound_wq
#endif

#endif /* _MEMBALLOON_COMPAT_H */
