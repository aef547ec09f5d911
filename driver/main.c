// SPDX-License-Identifier: GPL-2.0
/*
 * memballoon: a driver for the virtio traditional memory balloon (device ID 5).
 *
 * The host sets a target size in the device's config space; we allocate
 * guest pages and hand their frame numbers to the host on the inflate queue
 * (the host may then drop their backing memory), or take pages back on the
 * deflate queue, until the balloon holds exactly the target.  The stats
 * queue tells the host how the guest's memory is used.
 *
 * Files: main.c binds the device (features, queues, life cycle); config.c
 * reads the target and writes "actual"; balloon.c inflates and deflates
 * (and releases pages on request); trace.h declares its tracepoints;
 * stats.c answers the stats queue; migrate.c lets compaction move balloon
 * pages; oom.c deflates on OOM; reporting.c reports free pages (and the
 * balloon's range blocks) and sets page poison; hint.c hints free pages
 * for migration; netlink.c is the memballoon generic netlink family, whose
 * policies and ops netlink-gen.[ch] hold (generated from its spec: make
 * netlink); memballoon.h holds the
 * shared state and its locking; compat.h (with compat-probe.sh) every kernel-version
 * difference.
 *
 * Life cycle: probe creates only the queues of negotiated features (later
 * queues number down, as QEMU and Linux expect), primes the stats queue and
 * marks the device ready.  Transport callbacks only wake a waiter or queue
 * work, and only while stop_work is clear.  Removal, in this order: netlink
 * stops finding the device (and waits for requests using it), the OOM
 * notifier and reporting go, stop_work is set and the work cancelled (no
 * work item waits for a host that does not answer), every page goes back
 * to the guest (telling the host), the device is reset, hinted blocks the
 * host never used go back, the queues are deleted, and only then is
 * DEVICE_REMOVED sent: no event of the device can follow it.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <uapi/linux/memballoon.h>

#include "memballoon.h"

/* Queue work unless the device is going away; returns whether it was queued. */
bool mb_queue_work(struct memballoon *mb, struct work_struct *work)
{
	unsigned long flags;
	bool queued = false;

	spin_lock_irqsave(&mb->stop_lock, flags);
	if (!mb->stop_work)
		queued = queue_work(system_freezable_wq, work);
	spin_unlock_irqrestore(&mb->stop_lock, flags);
	return queued;
}

/*
 * Run resize_work after @delay jiffies; a zero delay also cuts short a
 * pending back-off.
 */
void mb_queue_resize(struct memballoon *mb, unsigned long delay)
{
	unsigned long flags;

	spin_lock_irqsave(&mb->stop_lock, flags);
	if (!mb->stop_work) {
		if (delay)
			queue_delayed_work(system_freezable_wq,
					   &mb->resize_work, delay);
		else
			mod_delayed_work(system_freezable_wq,
					 &mb->resize_work, 0);
	}
	spin_unlock_irqrestore(&mb->stop_lock, flags);
}

static void mb_config_changed(struct virtio_device *vdev)
{
	mb_queue_resize(vdev->priv, 0);
	mb_hint_config_changed(vdev->priv);
}

/* Queues in spec order, each with the feature that brings it (-1: always). */
static const struct {
	int feature;
	struct mb_vq_info info;
} mb_vq_table[MB_VQ_MAX] = {
	[MB_VQ_INFLATE] = { -1, { "inflate", mb_vq_acked } },
	[MB_VQ_DEFLATE] = { -1, { "deflate", mb_vq_acked } },
	[MB_VQ_STATS] = { VIRTIO_BALLOON_F_STATS_VQ,
			  { "stats", mb_stats_requested } },
	[MB_VQ_FREE_PAGE] = { VIRTIO_BALLOON_F_FREE_PAGE_HINT,
			      { "free_page_vq", mb_hint_vq_done } },
	[MB_VQ_REPORTING] = { VIRTIO_BALLOON_F_REPORTING,
			      { "reporting_vq", mb_vq_acked } },
};

/*
 * Only the queues the device offers are asked for, with no holes between
 * them: virtio-pci in Debian's 6.12 files a queue's state by its place in
 * the request but looks it up by its queue index on removal, and the two
 * differ past a hole (reporting without free page hinting), which oopses
 * in vp_del_vqs() on rmmod, hot-unplug and freeze.  Without holes they are
 * the same on every kernel.
 */
static int mb_init_vqs(struct memballoon *mb)
{
	struct mb_vq_info info[MB_VQ_MAX] = {};
	struct virtqueue *vqs[MB_VQ_MAX] = {};
	enum mb_vq which[MB_VQ_MAX];
	unsigned int i, n = 0;
	int err;

	for (i = 0; i < MB_VQ_MAX; i++) {
		mb->vqs[i] = NULL;
		if (mb_vq_table[i].feature >= 0 &&
		    !mb_negotiated(mb, mb_vq_table[i].feature))
			continue;
		which[n] = i;
		info[n++] = mb_vq_table[i].info;
	}
	err = mb_find_vqs(mb->vdev, n, vqs, info);
	if (err)
		return err;
	for (i = 0; i < n; i++)
		mb->vqs[which[i]] = vqs[i];
	return 0;
}

static void mb_free(struct memballoon *mb)
{
	mb_config_exit(mb);
	kfree(mb->range_sg);
	kfree(mb->vm_events);
	kfree(mb->stats);
	kfree(mb->pfns);
	kfree(mb);
}

/*
 * Create the queues, prime the stats queue, set up reporting and mark the
 * device ready (probe and restore).  On failure the device is reset.
 */
static int mb_start_device(struct memballoon *mb)
{
	struct virtio_device *vdev = mb->vdev;
	int err;

	err = mb_init_vqs(mb);
	if (err)
		return err;
	err = mb_stats_prime(mb);
	if (!err)
		err = mb_reporting_init(mb);
	if (err) {
		virtio_reset_device(vdev);
		vdev->config->del_vqs(vdev);
		return err;
	}
	virtio_device_ready(vdev);
	if (mb->vqs[MB_VQ_STATS])
		virtqueue_kick(mb->vqs[MB_VQ_STATS]);
	return 0;
}

/*
 * No work runs or can be queued after this.  A release accepted but not
 * carried out is dropped: the caller gives every page back anyway.
 */
static void mb_stop_work(struct memballoon *mb)
{
	spin_lock_irq(&mb->stop_lock);
	mb->stop_work = true;
	spin_unlock_irq(&mb->stop_lock);
	cancel_delayed_work_sync(&mb->resize_work);
	cancel_work_sync(&mb->release_work);
	cancel_work_sync(&mb->stats_work);
	cancel_work_sync(&mb->event_work);
	cancel_work_sync(&mb->hint_work);
	spin_lock(&mb->state_lock);
	mb->release_pending = 0;
	spin_unlock(&mb->state_lock);
}

static int mb_probe(struct virtio_device *vdev)
{
	struct memballoon *mb;
	int err;

	if (!vdev->config->get) {
		dev_err(&vdev->dev, "device has no config space access\n");
		return -EINVAL;
	}

	mb = kzalloc(sizeof(*mb), GFP_KERNEL);
	if (!mb)
		return -ENOMEM;
	mb->vdev = vdev;
	vdev->priv = mb;
	spin_lock_init(&mb->stop_lock);
	mutex_init(&mb->lock);
	spin_lock_init(&mb->state_lock);
	init_waitqueue_head(&mb->acked);
	INIT_DELAYED_WORK(&mb->resize_work, mb_resize_work);
	INIT_WORK(&mb->release_work, mb_release_work);
	INIT_WORK(&mb->alloc_work, mb_alloc_work);
	INIT_LIST_HEAD(&mb->blocks);
	INIT_LIST_HEAD(&mb->ranges);
	mutex_init(&mb->report_lock);
	INIT_WORK(&mb->stats_work, mb_stats_work);
	INIT_WORK(&mb->event_work, mb_event_work);
	mb_hint_setup(mb);
	mb_balloon_init(&mb->b_dev_info, mb_counts_managed(mb));
	mb_migrate_init(mb);
	mb->ram_pages = totalram_pages();
	mb->backoff_ms = MB_BACKOFF_MIN_MS;

	mb->pfns = kmalloc_array(MB_PFNS_PER_REQ, sizeof(*mb->pfns),
				 GFP_KERNEL);
	mb->range_sg = kmalloc_array(MB_RANGES_PER_REQ, sizeof(*mb->range_sg),
				     GFP_KERNEL);
	if (!mb->pfns || !mb->range_sg) {
		err = -ENOMEM;
		goto err_free;
	}

	mb_config_init(mb);
	err = mb_stats_alloc(mb);
	if (err)
		goto err_free;
	err = mb_start_device(mb);
	if (err)
		goto err_free;
	err = mb_hint_init(mb);
	if (err)
		goto err_stop;
	err = mb_oom_init(mb);
	if (err)
		goto err_stop;
	mb_nl_add_device(mb);
	mb_queue_resize(mb, 0);
	dev_info(&vdev->dev, "memballoon bound: features 0x%llx, reserve %lu MiB\n",
		 vdev->features, mb_reserve_pages(mb) >> (20 - PAGE_SHIFT));
	return 0;

err_stop:
	mb_stop_work(mb);
	mb_hint_exit(mb);
	mb_reporting_exit(mb);
	virtio_reset_device(vdev);
	mb_hint_reset(mb);
	vdev->config->del_vqs(vdev);
err_free:
	mb_free(mb);
	return err;
}

static void mb_remove(struct virtio_device *vdev)
{
	struct memballoon *mb = vdev->priv;

	/* First nobody can ask for pages any more, then stop the work. */
	mb_nl_del_device(mb);
	mb_oom_exit(mb);
	mb_reporting_exit(mb);
	mb_stop_work(mb);
	mb_hint_exit(mb);

	mb_deflate_all(mb);

	virtio_reset_device(vdev);
	/* The host can no longer use a hinted block: all of them go back. */
	mb_hint_reset(mb);
	vdev->config->del_vqs(vdev);
	/* The device's last event: nothing of it runs any more. */
	mb_nl_notify(mb, MEMBALLOON_EVENT_DEVICE_REMOVED);
	mb_free(mb);
}

static int mb_validate(struct virtio_device *vdev)
{
	mb_reporting_validate(vdev);
	/* No indirect descriptors: reporting must not allocate in virtqueue_add. */
	__virtio_clear_bit(vdev, VIRTIO_RING_F_INDIRECT_DESC);
	/* The balloon speaks guest-physical frame numbers: no IOMMU mapping. */
	__virtio_clear_bit(vdev, VIRTIO_F_ACCESS_PLATFORM);
	return 0;
}

#ifdef CONFIG_PM_SLEEP
/*
 * Suspend and hibernation reset the device, and the host forgets the
 * balloon with it: give every page back first (telling the host), then let
 * restore inflate again to whatever target the host has by then.
 */
static int mb_freeze(struct virtio_device *vdev)
{
	struct memballoon *mb = vdev->priv;

	mb_reporting_exit(mb);
	mb_stop_work(mb);
	mb_deflate_all(mb);

	mutex_lock(&mb->lock);
	mb->frozen = true;
	mutex_unlock(&mb->lock);
	virtio_reset_device(vdev);
	/* Only now can no hinted block be used by the host any more. */
	mb_hint_reset(mb);
	vdev->config->del_vqs(vdev);
	return 0;
}

static int mb_restore(struct virtio_device *vdev)
{
	struct memballoon *mb = vdev->priv;
	int err;

	err = mb_start_device(mb);
	if (err)
		return err;
	mutex_lock(&mb->lock);
	mb->frozen = false;
	mutex_unlock(&mb->lock);

	spin_lock_irq(&mb->stop_lock);
	mb->stop_work = false;
	spin_unlock_irq(&mb->stop_lock);
	mb_queue_resize(mb, 0);
	return 0;
}
#endif

static unsigned int mb_features[] = {
	VIRTIO_BALLOON_F_MUST_TELL_HOST,
	VIRTIO_BALLOON_F_STATS_VQ,
	VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
	VIRTIO_BALLOON_F_FREE_PAGE_HINT,
	VIRTIO_BALLOON_F_PAGE_POISON,
	VIRTIO_BALLOON_F_REPORTING,
};

static const struct virtio_device_id mb_id_table[] = {
	{ VIRTIO_ID_BALLOON, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, mb_id_table);

static struct virtio_driver mb_driver = {
	.feature_table = mb_features,
	.feature_table_size = ARRAY_SIZE(mb_features),
	.driver.name = KBUILD_MODNAME,
	MB_DRIVER_OWNER
	.id_table = mb_id_table,
	.validate = mb_validate,
	.probe = mb_probe,
	.remove = mb_remove,
	.config_changed = mb_config_changed,
#ifdef CONFIG_PM_SLEEP
	.freeze = mb_freeze,
	.restore = mb_restore,
#endif
};

static int __init mb_init(void)
{
	int err;

	err = mb_nl_init();
	if (err)
		return err;
	err = register_virtio_driver(&mb_driver);
	if (err)
		mb_nl_exit();
	return err;
}
module_init(mb_init);

static void __exit mb_exit(void)
{
	unregister_virtio_driver(&mb_driver);
	mb_nl_exit();
}
module_exit(mb_exit);

MODULE_DESCRIPTION("Virtio memory balloon driver with stats, built for speed and safety");
MODULE_LICENSE("GPL");
#ifdef MEMBALLOON_VERSION
MODULE_VERSION(MEMBALLOON_VERSION);
#endif
