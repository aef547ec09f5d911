/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/memballoon.yaml */
/* by scripts/nl-names.py: the names userspace uses */
/* To regenerate run: make netlink */

#ifndef MEMBALLOON_NAMES_H
#define MEMBALLOON_NAMES_H

#include <stddef.h>
/* beside this file, whatever the include path */
#include "uapi/linux/memballoon.h"

/* The payload of a dev attribute. */
enum memballoon_attr_type {
	MEMBALLOON_ATTR_NONE,	/* not an attribute of the spec */
	MEMBALLOON_ATTR_PAD,
	MEMBALLOON_ATTR_U32,
	MEMBALLOON_ATTR_U64,
	MEMBALLOON_ATTR_STRING,
};

struct memballoon_attr_info {
	const char *name;
	enum memballoon_attr_type type;
};

/* Attribute @i of the dev set, or NULL when the spec has no such attribute. */
static inline const struct memballoon_attr_info *memballoon_dev_attr(unsigned int i)
{
	static const struct memballoon_attr_info attrs[MEMBALLOON_A_DEV_MAX + 1] = {
		[MEMBALLOON_A_DEV_PAD] = { "pad", MEMBALLOON_ATTR_PAD },
		[MEMBALLOON_A_DEV_ID] = { "id", MEMBALLOON_ATTR_U32 },
		[MEMBALLOON_A_DEV_NAME] = { "name", MEMBALLOON_ATTR_STRING },
		[MEMBALLOON_A_DEV_FEATURES] = { "features", MEMBALLOON_ATTR_U64 },
		[MEMBALLOON_A_DEV_RAM_PAGES] = { "ram_pages", MEMBALLOON_ATTR_U64 },
		[MEMBALLOON_A_DEV_TARGET_PAGES] = { "target_pages", MEMBALLOON_ATTR_U32 },
		[MEMBALLOON_A_DEV_ACTUAL_PAGES] = { "actual_pages", MEMBALLOON_ATTR_U32 },
		[MEMBALLOON_A_DEV_FLOOR_PAGES] = { "floor_pages", MEMBALLOON_ATTR_U64 },
		[MEMBALLOON_A_DEV_RESERVE_PAGES] = { "reserve_pages", MEMBALLOON_ATTR_U64 },
		[MEMBALLOON_A_DEV_INFLATED] = { "inflated", MEMBALLOON_ATTR_U64 },
		[MEMBALLOON_A_DEV_DEFLATED] = { "deflated", MEMBALLOON_ATTR_U64 },
		[MEMBALLOON_A_DEV_ALLOC_FAILURES] = { "alloc_failures", MEMBALLOON_ATTR_U64 },
		[MEMBALLOON_A_DEV_OOM_DEFLATES] = { "oom_deflates", MEMBALLOON_ATTR_U64 },
		[MEMBALLOON_A_DEV_OOM_PAGES] = { "oom_pages", MEMBALLOON_ATTR_U64 },
		[MEMBALLOON_A_DEV_REPORTED_PAGES] = { "reported_pages", MEMBALLOON_ATTR_U64 },
		[MEMBALLOON_A_DEV_HINTED_PAGES] = { "hinted_pages", MEMBALLOON_ATTR_U64 },
		[MEMBALLOON_A_DEV_STATS_REQUESTS] = { "stats_requests", MEMBALLOON_ATTR_U64 },
		[MEMBALLOON_A_DEV_MIGRATED] = { "migrated", MEMBALLOON_ATTR_U64 },
		[MEMBALLOON_A_DEV_RELEASE_PAGES] = { "release_pages", MEMBALLOON_ATTR_U32 },
		[MEMBALLOON_A_DEV_EVENT] = { "event", MEMBALLOON_ATTR_U32 },
	};

	return i < MEMBALLOON_A_DEV_MAX + 1 && attrs[i].name ? &attrs[i] : NULL;
}

/* The name of event (enum memballoon_event) @i, or NULL. */
static inline const char *memballoon_event_name(unsigned int i)
{
	static const char *const names[MEMBALLOON_EVENT_MAX + 1] = {
		[MEMBALLOON_EVENT_DEVICE_ADDED] = "device_added",
		[MEMBALLOON_EVENT_DEVICE_REMOVED] = "device_removed",
		[MEMBALLOON_EVENT_TARGET_CHANGED] = "target_changed",
		[MEMBALLOON_EVENT_ACTUAL_CHANGED] = "actual_changed",
		[MEMBALLOON_EVENT_ALLOC_FAILURE] = "alloc_failure",
		[MEMBALLOON_EVENT_OOM_DEFLATE] = "oom_deflate",
		[MEMBALLOON_EVENT_STATS_REQUESTED] = "stats_requested",
		[MEMBALLOON_EVENT_RELEASED] = "released",
		[MEMBALLOON_EVENT_FLOOR_CHANGED] = "floor_changed",
		[MEMBALLOON_EVENT_TARGET_REACHED] = "target_reached",
	};

	return i < MEMBALLOON_EVENT_MAX + 1 ? names[i] : NULL;
}

/* The name of command @i, or NULL. */
static inline const char *memballoon_cmd_name(unsigned int i)
{
	static const char *const names[MEMBALLOON_CMD_MAX + 1] = {
		[MEMBALLOON_CMD_DEV_GET] = "dev_get",
		[MEMBALLOON_CMD_DEV_SET] = "dev_set",
		[MEMBALLOON_CMD_DEV_RELEASE] = "dev_release",
		[MEMBALLOON_CMD_DEV_NTF] = "dev_ntf",
	};

	return i < MEMBALLOON_CMD_MAX + 1 ? names[i] : NULL;
}

#endif /* MEMBALLOON_NAMES_H */
