/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the host sees: JSON objects for snapshots, devices and events
 * (docs/protocol.md), and the one-line MOM stats reply.
 */
#ifndef MB_REPORT_H
#define MB_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mbdev.h"
#include "sample.h"
#include "strbuf.h"

/* The daemon's current state, as replies and events need it. */
struct view {
	const struct sample *sample;	/* latest sample; NULL before the first */
	const struct mb_dev *devs;
	size_t ndevs;
	bool driver_loaded;		/* the netlink family is registered */
	const char *trigger;		/* active PSI trigger, NULL if none */
	uint64_t mono_ms, wall_ms;	/* now */
	/* re-read everything now and fill *fresh (snapshot and MOM requests); may be NULL */
	void (*refresh)(void *arg, struct view *fresh);
	void *refresh_arg;
};

/* {"name":"virtio3",...} */
void report_device(struct strbuf *sb, const struct mb_dev *d);
/* "mono_ms":..,"wall_ms":..,"psi":{..},"memory_kib":{..},"vmstat":{..},"rates":{..},"driver":..,"devices":[..] */
void report_snapshot_fields(struct strbuf *sb, const struct view *v);
/* {"event":"balloon","type":"target_changed",...,"device":{..}}\n */
void report_balloon_event(struct strbuf *sb, const struct view *v, const struct mb_dev *d);
/* {"event":"pressure",...}\n: a PSI trigger fired */
void report_pressure_event(struct strbuf *sb, const struct view *v);
/* {"event":"sample",...}\n */
void report_sample_event(struct strbuf *sb, const struct view *v);
/* {"event":"driver","state":"loaded"|"unloaded",...}\n */
void report_driver_event(struct strbuf *sb, const struct view *v, bool loaded);
/* {"event":"action","action":"release",...}\n; err 0 or -errno */
void report_action_event(struct strbuf *sb, const struct view *v, const char *action,
			 const struct mb_dev *d, uint64_t pages, const char *reason, int err);
/*
 * One connection's swap counters at its previous MOM "stats" reply: MOM's
 * swap_in/swap_out are pages swapped since then.  Zeroed: no reply yet.
 */
struct mom_swap {
	bool valid;
	uint64_t pswpin, pswpout;	/* /proc/vmstat, pages */
};

/*
 * mem_available:N,mem_unused:N,mem_free:N,swap_in:N,swap_out:N,major_fault:N,minor_fault:N\n
 * swap_in/swap_out since the reply *prev remembers (0 on the first), which
 * is then moved on to this one.
 */
void report_mom_stats(struct strbuf *sb, const struct view *v, struct mom_swap *prev);

#endif
