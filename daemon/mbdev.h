/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One balloon device as the driver's netlink family reports it (DEV_GET
 * replies and DEV_NTF notifications).  Sizes are 4 KiB balloon pages.
 */
#ifndef MB_MBDEV_H
#define MB_MBDEV_H

#include <stdint.h>

#define MB_PAGES_PER_MIB 256u		/* 4 KiB balloon pages */
#define MB_FEATURE_DEFLATE_ON_OOM 2	/* VIRTIO_BALLOON_F_DEFLATE_ON_OOM */

struct mb_dev {
	uint32_t id;			/* N of virtioN */
	char name[32];			/* "virtioN" */
	uint64_t features;		/* negotiated feature bits */
	uint64_t ram_pages;		/* guest RAM when bound */
	uint32_t target_pages;		/* host's target balloon size */
	uint32_t actual_pages;		/* pages in the balloon */
	uint64_t floor_pages;		/* guest size never inflated below; 0: none */
	uint64_t reserve_pages;		/* MemAvailable never inflated into */
	uint64_t inflated, deflated;
	uint64_t alloc_failures;
	uint64_t oom_deflates, oom_pages;
	uint64_t reported_pages, hinted_pages;
	uint64_t stats_requests;
	uint64_t migrated;
	uint32_t event;			/* enum memballoon_event, DEV_NTF only */
	uint32_t release_pages;		/* DEV_RELEASE reply: accepted; RELEASED: released */
	uint64_t have;			/* bit (1 << MEMBALLOON_A_DEV_x) per attribute present */
};

/* A virtio balloon device as sysfs shows it, bound to any driver or none. */
struct mb_sysdev {
	char name[32];			/* "virtioN" */
	char driver[32];		/* "memballoon", "virtio_balloon"; "" when unbound */
};

/*
 * The balloon devices (virtio device ID 5) under bus, the virtio bus's
 * devices directory ("/sys/bus/virtio/devices"; a test passes its own
 * tree): up to max of them in out; returns how many there are (more than
 * max when some did not fit), -errno when bus cannot be read.
 */
int mb_sysfs_balloons(const char *bus, struct mb_sysdev *out, size_t max);

/* "MUST_TELL_HOST", ..., "VERSION_1"; NULL for a bit without a name. */
const char *mb_feature_name(unsigned int bit);
/* "target_changed", ... (the spec's names, memballoon-names.h); "unknown" for anything else. */
const char *mb_event_name(uint32_t event);

static inline uint64_t mb_pages_to_mib(uint64_t pages)
{
	return pages / MB_PAGES_PER_MIB;
}

#endif
