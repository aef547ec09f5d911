/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/*
 * memballoon generic netlink family: the state of every bound virtio
 * balloon, events as they happen, and guest-side policy.
 * Described by Documentation/netlink/specs/memballoon.yaml in this tree.
 *
 * All sizes are in balloon pages of 4 KiB (the virtio balloon's unit),
 * whatever the guest's page size.
 */
#ifndef _UAPI_LINUX_MEMBALLOON_H
#define _UAPI_LINUX_MEMBALLOON_H

#define MEMBALLOON_FAMILY_NAME		"memballoon"
#define MEMBALLOON_FAMILY_VERSION	1
#define MEMBALLOON_MCGRP_EVENTS		"events"

/* What a MEMBALLOON_CMD_DEV_NTF notification reports (MEMBALLOON_A_DEV_EVENT). */
enum memballoon_event {
	MEMBALLOON_EVENT_DEVICE_ADDED = 1,	/* a device was bound */
	MEMBALLOON_EVENT_DEVICE_REMOVED,	/* a device was unbound: its last event */
	MEMBALLOON_EVENT_TARGET_CHANGED,	/* the host set a new target */
	MEMBALLOON_EVENT_ACTUAL_CHANGED,	/* the balloon moved (rate-limited) */
	MEMBALLOON_EVENT_ALLOC_FAILURE,		/* the balloon cannot grow for now */
	MEMBALLOON_EVENT_OOM_DEFLATE,		/* pages released to the OOM path */
	MEMBALLOON_EVENT_STATS_REQUESTED,	/* the host asked for stats */
	MEMBALLOON_EVENT_RELEASED,		/* an admin release was carried out (+ RELEASE_PAGES) */
	MEMBALLOON_EVENT_FLOOR_CHANGED,		/* an admin set the inflation floor */
	MEMBALLOON_EVENT_TARGET_REACHED,	/* actual == target, after a move */

	__MEMBALLOON_EVENT_MAX,
	MEMBALLOON_EVENT_MAX = __MEMBALLOON_EVENT_MAX - 1
};

/* Device attributes: DEV_GET replies, DEV_SET/DEV_RELEASE requests, DEV_NTF. */
enum {
	MEMBALLOON_A_DEV_UNSPEC,
	MEMBALLOON_A_DEV_PAD,			/* padding for u64s */
	MEMBALLOON_A_DEV_ID,			/* u32: N of virtioN */
	MEMBALLOON_A_DEV_NAME,			/* string: "virtioN" */
	MEMBALLOON_A_DEV_FEATURES,		/* u64: negotiated feature bits */
	MEMBALLOON_A_DEV_RAM_PAGES,		/* u64: guest RAM when bound */
	MEMBALLOON_A_DEV_TARGET_PAGES,		/* u32: host's target (num_pages) */
	MEMBALLOON_A_DEV_ACTUAL_PAGES,		/* u32: pages in the balloon */
	MEMBALLOON_A_DEV_FLOOR_PAGES,		/* u64: guest size never inflated below; 0: none */
	MEMBALLOON_A_DEV_RESERVE_PAGES,		/* u64: MemAvailable never inflated into */
	MEMBALLOON_A_DEV_INFLATED,		/* u64: pages ever inflated */
	MEMBALLOON_A_DEV_DEFLATED,		/* u64: pages ever deflated */
	MEMBALLOON_A_DEV_ALLOC_FAILURES,	/* u64: inflate passes that could not grow */
	MEMBALLOON_A_DEV_OOM_DEFLATES,		/* u64: OOM notifier calls that released pages */
	MEMBALLOON_A_DEV_OOM_PAGES,		/* u64: pages released to the OOM path */
	MEMBALLOON_A_DEV_REPORTED_PAGES,	/* u64: free pages reported to the host */
	MEMBALLOON_A_DEV_HINTED_PAGES,		/* u64: free pages hinted for migration */
	MEMBALLOON_A_DEV_STATS_REQUESTS,	/* u64: stats requests answered */
	MEMBALLOON_A_DEV_MIGRATED,		/* u64: balloon pages moved by compaction */
	/* u32: DEV_RELEASE: pages to release; its reply: accepted; RELEASED: released */
	MEMBALLOON_A_DEV_RELEASE_PAGES,
	MEMBALLOON_A_DEV_EVENT,			/* u32: DEV_NTF: enum memballoon_event */
	MEMBALLOON_A_DEV_ALLOC_NS,		/* u64: time spent allocating pages to inflate */
	MEMBALLOON_A_DEV_HOST_NS,		/* u64: time spent waiting for the host to use requests */
	MEMBALLOON_A_DEV_DEFLATED_BLOCK_PAGES,	/* u64: deflated pages freed as whole 2 MiB blocks */

	__MEMBALLOON_A_DEV_MAX,
	MEMBALLOON_A_DEV_MAX = __MEMBALLOON_A_DEV_MAX - 1
};

enum {
	MEMBALLOON_CMD_UNSPEC,
	/* Get one device (by MEMBALLOON_A_DEV_ID) or dump all; anyone may. */
	MEMBALLOON_CMD_DEV_GET,
	/*
	 * Set policy: MEMBALLOON_A_DEV_FLOOR_PAGES.  CAP_NET_ADMIN and
	 * CAP_SYS_ADMIN (-EPERM); at most 5 DEV_SET/DEV_RELEASE per device in
	 * any 5 s (-EBUSY).  Replies with the device's state.
	 */
	MEMBALLOON_CMD_DEV_SET,
	/*
	 * Release MEMBALLOON_A_DEV_RELEASE_PAGES pages now, for the guest's
	 * stability; only when DEFLATE_ON_OOM was negotiated (-EOPNOTSUPP
	 * otherwise).  Permissions and rate limit as DEV_SET.  Asynchronous:
	 * clamped to the balloon, inflation is held off at once, and the reply
	 * (the device's state + RELEASE_PAGES, the pages accepted) comes
	 * before the host is told; a DEV_NTF with event RELEASED and
	 * RELEASE_PAGES (the pages given back) follows once they are.
	 */
	MEMBALLOON_CMD_DEV_RELEASE,
	/* Notification on the "events" group: device attributes + EVENT. */
	MEMBALLOON_CMD_DEV_NTF,

	__MEMBALLOON_CMD_MAX,
	MEMBALLOON_CMD_MAX = __MEMBALLOON_CMD_MAX - 1
};

#endif /* _UAPI_LINUX_MEMBALLOON_H */
