/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memballoon: every difference between the kernel APIs the driver builds
 * against lives here, so the driver's own files carry no version checks.
 * Where a version number would lie (distribution backports), a decision
 * must come from a probe of the headers, never from LINUX_VERSION_CODE.
 */
#ifndef _MEMBALLOON_COMPAT_H
#define _MEMBALLOON_COMPAT_H

#include <linux/mmzone.h>
#include <linux/virtio_config.h>

/* Largest order the buddy allocator hands out (MAX_ORDER became inclusive in 6.4). */
#define MB_MAX_PAGE_ORDER	(MAX_ORDER - 1)

struct mb_vq_info {
	const char *name;	/* NULL: the queue is not created */
	vq_callback_t *callback;
};

/* Create the queues whose name is set, numbering them down past absent ones. */
static inline int mb_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			      struct virtqueue *vqs[],
			      const struct mb_vq_info info[])
{
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
}

#endif /* _MEMBALLOON_COMPAT_H */
