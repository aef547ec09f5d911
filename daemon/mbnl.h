/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The memballoon generic netlink family (include/uapi/linux/memballoon.h)
 * through libnl-3: message construction and parsing (pure, unit-tested
 * without a kernel), and a connection that survives the family going away
 * and coming back (module unload/reload).
 *
 * Two sockets, as wpa_supplicant does: one for requests (dumps, admin
 * commands, family lookups) with sequence checks, and one for notifications
 * (our "events" group and nlctrl's "notify" group, which announces the
 * family's registration and removal) with sequence checks off and a larger
 * receive buffer.  Both are non-blocking: a request waits in poll() for at
 * most MBNL_REQUEST_TIMEOUT_MS in all (the daemon's loop must stay far
 * inside systemd's watchdog), and after a timeout the request socket is
 * replaced, so a late reply cannot be taken for the next request's.
 * All functions return 0 or -errno.
 */
#ifndef MB_MBNL_H
#define MB_MBNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netlink/msg.h>

#include "mbdev.h"

#define MBNL_REQUEST_TIMEOUT_MS 1000	/* a whole request: send, replies, ACK */

/* ---- messages ---------------------------------------------------------- */

/* DEV_GET for one device, or a dump of all when dump is true. */
struct nl_msg *mbnl_msg_get(int family, bool dump, uint32_t dev_id);
struct nl_msg *mbnl_msg_set_floor(int family, uint32_t dev_id, uint64_t floor_pages);
struct nl_msg *mbnl_msg_release(int family, uint32_t dev_id, uint32_t pages);
/* Parse a DEV_GET reply or DEV_NTF notification. */
int mbnl_parse_dev(struct nlmsghdr *nlh, struct mb_dev *dev);
/* The kernel's extended-ACK text of an error message (NLMSGERR_ATTR_MSG), or "". */
void mbnl_extack_msg(const struct nlmsgerr *e, char *buf, size_t len);

/* ---- connection -------------------------------------------------------- */

enum mbnl_notice {
	MBNL_DEVICE_EVENT,	/* dev: a DEV_NTF, dev->event says what happened */
	MBNL_FAMILY_NEW,	/* the family was (re)registered: call mbnl_resolve() */
	MBNL_FAMILY_GONE,	/* the family was unregistered (module unloaded) */
	MBNL_OVERRUN,		/* notifications were lost: re-read the state */
};

typedef void (*mbnl_notify_fn)(void *arg, enum mbnl_notice what, const struct mb_dev *dev);

struct mbnl {
	struct nl_sock *cmd;	/* requests */
	struct nl_sock *ev;	/* notifications; NULL unless opened with events */
	int family;		/* 0 while the family is not registered */
	int events_grp;		/* joined "events" group; 0 if none */
	int ctrl_grp;		/* joined nlctrl "notify" group */
	mbnl_notify_fn notify;
	void *notify_arg;
	int err;		/* errno of the last request's netlink error */
	char errmsg[128];	/* the kernel's extended-ACK message for it, or "" */
	unsigned int timeout_ms;	/* per request; MBNL_REQUEST_TIMEOUT_MS from mbnl_open */
	unsigned int timeouts;	/* requests that timed out (the socket was replaced) */
};

/* Did the message carry attribute MEMBALLOON_A_DEV_x? */
static inline bool mbnl_has(const struct mb_dev *d, int attr)
{
	return d->have & (1ull << attr);
}

int mbnl_open(struct mbnl *nl, bool events);
void mbnl_close(struct mbnl *nl);
/* Look the family up and join its events group: 0, -ENOENT if not registered. */
int mbnl_resolve(struct mbnl *nl);
/* The family went away: forget its ids. */
void mbnl_forget(struct mbnl *nl);
/* The notification socket's fd, for the event loop. */
int mbnl_event_fd(const struct mbnl *nl);
/* Drain pending notifications, calling nl->notify for each. */
int mbnl_receive(struct mbnl *nl);

/* All devices (*devs malloc'd, free() it). */
int mbnl_dump(struct mbnl *nl, struct mb_dev **devs, size_t *ndevs);
int mbnl_get(struct mbnl *nl, uint32_t dev_id, struct mb_dev *dev);
/*
 * Admin commands.  reply may be NULL; it is zeroed first, so reply->have is
 * 0 when the kernel answered with a bare ACK.  A release the driver carries
 * out asynchronously answers with MEMBALLOON_A_DEV_RELEASE_PAGES, the pages
 * it accepted (clamped to the balloon), and multicasts a RELEASED event
 * with the pages released when it is done; a driver that releases before it
 * answers sends no RELEASE_PAGES and its RELEASED event came first.
 */
int mbnl_set_floor(struct mbnl *nl, uint32_t dev_id, uint64_t floor_pages, struct mb_dev *reply);
int mbnl_release(struct mbnl *nl, uint32_t dev_id, uint32_t pages, struct mb_dev *reply);
/* A generic netlink family's id and (group not NULL) its multicast group's: 0 or -ENOENT. */
int mbnl_lookup(struct mbnl *nl, const char *family, const char *group, int *id, int *grp);

#endif
