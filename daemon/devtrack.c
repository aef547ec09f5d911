// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devtrack.h"
#include "linux/memballoon.h"
#include "log.h"
#include "sample.h"

/* ---- the table -------------------------------------------------------- */

static void forget(struct devtrack *t, uint32_t id)
{
	if (t->ops && t->ops->forget)
		t->ops->forget(t->arg, id);
}

struct mb_dev *devtrack_find(struct devtrack *t, uint32_t id)
{
	for (size_t i = 0; i < t->ndevs; i++)
		if (t->devs[i].id == id)
			return &t->devs[i];
	return NULL;
}

void devtrack_clear(struct devtrack *t)
{
	for (size_t i = 0; i < t->ndevs; i++)
		forget(t, t->devs[i].id);
	free(t->devs);
	t->devs = NULL;
	t->ndevs = 0;
}

void devtrack_replace(struct devtrack *t, struct mb_dev *devs, size_t n)
{
	for (size_t i = 0; i < t->ndevs; i++) {
		bool still = false;

		for (size_t j = 0; j < n; j++)
			still |= devs[j].id == t->devs[i].id;
		if (!still)
			forget(t, t->devs[i].id);
	}
	free(t->devs);
	t->devs = devs;
	t->ndevs = n;
}

enum devtrack_change devtrack_apply(struct devtrack *t, const struct mb_dev *ev)
{
	struct mb_dev *dev = devtrack_find(t, ev->id), *p;

	if (ev->event == MEMBALLOON_EVENT_DEVICE_REMOVED) {
		if (!dev)
			return DEVTRACK_IGNORED;
		*dev = t->devs[--t->ndevs];
		forget(t, ev->id);
		return DEVTRACK_REMOVED;
	}
	if (dev) {
		*dev = *ev;
		return DEVTRACK_UPDATED;
	}
	/* only DEVICE_ADDED or a dump makes a device known (a removed one stays gone) */
	if (ev->event != MEMBALLOON_EVENT_DEVICE_ADDED)
		return DEVTRACK_IGNORED;
	p = realloc(t->devs, (t->ndevs + 1) * sizeof(*p));
	if (!p) {
		log_err("%s: out of memory, device not tracked", ev->name);
		return DEVTRACK_IGNORED;
	}
	t->devs = p;
	t->devs[t->ndevs++] = *ev;
	/* a device id the driver reuses starts with no policy history */
	forget(t, ev->id);
	return DEVTRACK_ADDED;
}

/* ---- the family -------------------------------------------------------- */

bool devtrack_loaded(const struct devtrack *t)
{
	return t->nl.family != 0;
}

void devtrack_refresh(struct devtrack *t)
{
	struct mb_dev *devs;
	size_t n;
	int rc;

	if (!t->nl.family)
		return;
	rc = mbnl_dump(&t->nl, &devs, &n);
	if (rc) {
		log_warn("netlink: device dump: %s", strerror(-rc));
		return;
	}
	devtrack_replace(t, devs, n);
}

static void driver_gone(struct devtrack *t)
{
	devtrack_clear(t);
	t->ops->driver(t->arg, false);
	timer_arm(t->loop, &t->retry, mono_now_ms() + DEVTRACK_RETRY_MS);
}

/* Find the family (again); on success read every device. */
static void connect_family(struct devtrack *t)
{
	bool was = t->nl.family != 0;
	int rc;

	if (!t->open)
		return;
	rc = mbnl_resolve(&t->nl);
	if (rc) {
		if (rc != -ENOENT)
			log_warn("netlink: resolving %s: %s", MEMBALLOON_FAMILY_NAME, strerror(-rc));
		else if (was)
			log_notice("netlink: family %s is gone", MEMBALLOON_FAMILY_NAME);
		if (was)
			driver_gone(t);
		else
			timer_arm(t->loop, &t->retry, mono_now_ms() + DEVTRACK_RETRY_MS);
		return;
	}
	timer_cancel(t->loop, &t->retry);
	if (!was)
		log_info("netlink: family %s id %d, events group %d", MEMBALLOON_FAMILY_NAME,
			 t->nl.family, t->nl.events_grp);
	devtrack_clear(t);
	devtrack_refresh(t);
	for (size_t i = 0; i < t->ndevs; i++)
		log_info("%s: balloon target %u actual %u pages", t->devs[i].name,
			 t->devs[i].target_pages, t->devs[i].actual_pages);
	if (!was)
		t->ops->driver(t->arg, true);
	t->ops->connected(t->arg);
}

static void retry_fire(struct timer *tm)
{
	connect_family(container_of(tm, struct devtrack, retry));
}

static void family_gone(struct devtrack *t)
{
	if (!t->nl.family)
		return;
	log_notice("netlink: family %s unregistered (module unloaded?)", MEMBALLOON_FAMILY_NAME);
	mbnl_forget(&t->nl);
	driver_gone(t);
}

static void device_event(struct devtrack *t, const struct mb_dev *ev)
{
	bool notable = ev->event != MEMBALLOON_EVENT_ACTUAL_CHANGED &&
		       ev->event != MEMBALLOON_EVENT_STATS_REQUESTED &&
		       ev->event != MEMBALLOON_EVENT_TARGET_REACHED;

	if (devtrack_apply(t, ev) == DEVTRACK_IGNORED) {
		log_debug("%s: %s for a device not known (ignored)", ev->name,
			  mb_event_name(ev->event));
		return;
	}
	if (ev->event == MEMBALLOON_EVENT_RELEASED && mbnl_has(ev, MEMBALLOON_A_DEV_RELEASE_PAGES))
		log_notice("%s: released %u pages (%u MiB), balloon now %u pages", ev->name,
			   ev->release_pages, ev->release_pages / MB_PAGES_PER_MIB, ev->actual_pages);
	else
		log_msg(notable ? LOG_INFO : LOG_DEBUG, "%s: %s: target %u actual %u pages",
			ev->name, mb_event_name(ev->event), ev->target_pages, ev->actual_pages);
	t->ops->event(t->arg, ev);
}

static void nl_notify(void *arg, enum mbnl_notice what, const struct mb_dev *dev)
{
	struct devtrack *t = arg;

	switch (what) {
	case MBNL_DEVICE_EVENT:
		device_event(t, dev);
		break;
	case MBNL_FAMILY_NEW:
		log_info("netlink: family %s registered", MEMBALLOON_FAMILY_NAME);
		/* the group id may have changed: leave the old one first */
		mbnl_forget(&t->nl);
		connect_family(t);
		break;
	case MBNL_FAMILY_GONE:
		family_gone(t);
		break;
	case MBNL_OVERRUN:
		log_warn("netlink: notifications lost, re-reading the devices");
		devtrack_refresh(t);
		break;
	}
}

static void nl_readable(struct source *src, uint32_t events)
{
	struct devtrack *t = container_of(src, struct devtrack, src);
	int rc;

	(void)events;
	rc = mbnl_receive(&t->nl);
	if (rc)
		log_warn("netlink: receive: %s", strerror(-rc));
}

int devtrack_open(struct devtrack *t, struct loop *l, const struct devtrack_ops *ops, void *arg)
{
	int rc;

	memset(t, 0, sizeof(*t));
	t->loop = l;
	t->ops = ops;
	t->arg = arg;
	t->src.fd = -1;
	t->retry.fire = retry_fire;
	rc = mbnl_open(&t->nl, true);
	if (rc)
		return rc;
	t->open = true;
	t->src.fd = mbnl_event_fd(&t->nl);
	t->src.handler = nl_readable;
	t->nl.notify = nl_notify;
	t->nl.notify_arg = t;
	if (loop_add(l->epfd, &t->src, EPOLLIN) < 0) {
		rc = -errno;
		devtrack_close(t);
		return rc;
	}
	connect_family(t);
	if (!t->nl.family)
		log_notice("netlink: family %s not registered yet (memballoon not loaded)",
			   MEMBALLOON_FAMILY_NAME);
	return 0;
}

void devtrack_close(struct devtrack *t)
{
	if (t->loop)
		timer_cancel(t->loop, &t->retry);
	if (t->open) {
		if (t->src.fd >= 0 && t->loop)
			loop_del(t->loop->epfd, &t->src);
		mbnl_close(&t->nl);
	}
	t->open = false;
	t->src.fd = -1;
	devtrack_clear(t);
}
