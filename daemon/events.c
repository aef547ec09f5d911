// SPDX-License-Identifier: GPL-2.0
/*
 * What the hosts are told: the view of the daemon's state that replies
 * read, and the events pushed to subscribed connections as the parts
 * report what they saw (devtrack_ops, sampler_ops).  The STATUS= line
 * systemd shows is kept here too: it sums up the same state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "linux/memballoon.h"
#include "log.h"
#include "sdnotify.h"

#define REFRESH_MIN_MS 200	/* a request re-reads /proc unless the last sample is this fresh */

static void refresh_view(void *arg, struct view *v);

void daemon_view(void *arg, struct view *v)
{
	struct daemon *d = arg;

	memset(v, 0, sizeof(*v));
	v->sample = sampler_latest(&d->sampler);
	v->devs = d->devs.devs;
	v->ndevs = d->devs.ndevs;
	v->driver_loaded = devtrack_loaded(&d->devs);
	v->trigger = sampler_trigger(&d->sampler);
	v->mono_ms = mono_now_ms();
	v->wall_ms = wall_now_ms();
	v->refresh = refresh_view;
	v->refresh_arg = d;
}

/* A host asked for the current state: read it (unless just read). */
static void refresh_view(void *arg, struct view *v)
{
	struct daemon *d = arg;
	const struct sample *s = sampler_latest(&d->sampler);

	if (!s || mono_now_ms() - s->mono_ms >= REFRESH_MIN_MS) {
		sampler_take(&d->sampler);
		devtrack_refresh(&d->devs);
	}
	daemon_view(d, v);
	v->refresh = NULL;
}

/* An event for subscribers: begin(), a report_*_event() fills line, push() sends it. */
struct event {
	struct strbuf line;
	struct view v;
};

static void begin(struct daemon *d, struct event *e)
{
	sb_init(&e->line, 0);
	daemon_view(d, &e->v);
}

static void push(struct daemon *d, struct event *e, bool sample)
{
	if (!sb_failed(&e->line) && e->line.len)
		channels_broadcast(&d->ch, &e->line, sample);
	sb_free(&e->line);
}

void daemon_update_status(struct daemon *d)
{
	const struct psi_memory *psi = sampler_psi(&d->sampler);
	char buf[160];

	if (!getenv("NOTIFY_SOCKET"))
		return;
	snprintf(buf, sizeof(buf), "STATUS=%zu balloon(s)%s, %u host connection(s), "
		 "PSI some avg10 %.2f%%", d->devs.ndevs,
		 devtrack_loaded(&d->devs) ? "" : " (driver not loaded)",
		 channels_count(&d->ch), psi ? psi->some.avg10 : 0);
	if (strcmp(buf, d->status)) {
		sdnotify_send(buf);
		snprintf(d->status, sizeof(d->status), "%s", buf);
	}
}

/* ---- the balloon devices ------------------------------------------------- */

static void on_driver(void *arg, bool loaded)
{
	struct daemon *d = arg;
	struct event e;

	begin(d, &e);
	report_driver_event(&e.line, &e.v, loaded);
	push(d, &e, false);
}

static void on_connected(void *arg)
{
	guardrails_run(arg);
}

static void on_device_event(void *arg, const struct mb_dev *ev)
{
	struct daemon *d = arg;
	struct event e;

	begin(d, &e);
	report_balloon_event(&e.line, &e.v, ev);
	push(d, &e, false);
	/* a new device gets its floor */
	if (ev->event == MEMBALLOON_EVENT_DEVICE_ADDED)
		guardrails_run(d);
}

static void on_forget(void *arg, uint32_t id)
{
	guardrails_forget(arg, id);
}

const struct devtrack_ops daemon_devtrack_ops = {
	.driver = on_driver,
	.connected = on_connected,
	.event = on_device_event,
	.forget = on_forget,
};

/* ---- samples ------------------------------------------------------------ */

static void on_sample(void *arg)
{
	struct daemon *d = arg;
	struct event e;

	devtrack_refresh(&d->devs);
	guardrails_run(d);
	begin(d, &e);
	report_sample_event(&e.line, &e.v);
	push(d, &e, true);
	daemon_update_status(d);
}

static void on_pressure(void *arg)
{
	struct daemon *d = arg;
	struct event e;

	begin(d, &e);
	report_pressure_event(&e.line, &e.v);
	push(d, &e, false);
	guardrails_run(d);
}

const struct sampler_ops daemon_sampler_ops = {
	.sample = on_sample,
	.pressure = on_pressure,
};

/* ---- the guard rails' actions ---------------------------------------- */

void daemon_push_action(struct daemon *d, const char *what, const struct mb_dev *dev,
			uint64_t pages, const char *reason, int err)
{
	struct event e;

	begin(d, &e);
	report_action_event(&e.line, &e.v, what, dev, pages, reason, err);
	push(d, &e, false);
}
