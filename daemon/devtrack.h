/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The balloon devices, from one source: the memballoon netlink family
 * (mbnl.h).  Its dump is the truth when the family appears and at every
 * refresh; between dumps its events keep the table current: DEVICE_ADDED
 * makes a device known, DEVICE_REMOVED (a device's last event) forgets
 * it, every other event carries the device's whole state.  nlctrl says
 * when the family is registered (the module loaded) and unregistered;
 * while it is not, it is looked up again every DEVTRACK_RETRY_MS as well.
 *
 * The table logic (devtrack_replace, devtrack_apply, devtrack_clear)
 * needs no socket: the unit tests drive it directly.
 */
#ifndef MB_DEVTRACK_H
#define MB_DEVTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "mbdev.h"
#include "mbnl.h"

#define DEVTRACK_RETRY_MS 60000

struct devtrack_ops {
	/* the family was registered (loaded) or went away */
	void (*driver)(void *arg, bool loaded);
	/* the devices were read afresh after the family was found */
	void (*connected)(void *arg);
	/* a device event, already applied to the table (a DEVICE_ADDED device is in it) */
	void (*event)(void *arg, const struct mb_dev *ev);
	/* a device left the table (removed, unbound, the module unloaded) */
	void (*forget)(void *arg, uint32_t id);
};

struct devtrack {
	struct mbnl nl;
	bool open;			/* nl is usable */
	struct source src;		/* nl's notification socket */
	struct timer retry;		/* look the family up again */
	struct loop *loop;
	struct mb_dev *devs;		/* the table */
	size_t ndevs;
	const struct devtrack_ops *ops;
	void *arg;
};

enum devtrack_change {
	DEVTRACK_IGNORED,		/* an event for a device not known */
	DEVTRACK_ADDED,
	DEVTRACK_UPDATED,
	DEVTRACK_REMOVED,
};

/*
 * Open the netlink sockets and look the family up.  Failing to open is
 * not fatal to the daemon (it runs without balloon state): 0 or -errno.
 */
int devtrack_open(struct devtrack *t, struct loop *l, const struct devtrack_ops *ops, void *arg);
void devtrack_close(struct devtrack *t);
/* Read every device again (a sample, a snapshot); keeps the table on failure. */
void devtrack_refresh(struct devtrack *t);
bool devtrack_loaded(const struct devtrack *t);
struct mb_dev *devtrack_find(struct devtrack *t, uint32_t id);

/* The table: take devs (malloc'd) as the new contents, forgetting the devices not in it. */
void devtrack_replace(struct devtrack *t, struct mb_dev *devs, size_t n);
/* Apply one event. */
enum devtrack_change devtrack_apply(struct devtrack *t, const struct mb_dev *ev);
/* Forget every device. */
void devtrack_clear(struct devtrack *t);

#endif
