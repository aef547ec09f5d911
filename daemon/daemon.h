/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memballoond's parts and how they meet.  Each part has its own file:
 *
 *   memballoond.c  command line, startup and shutdown
 *   loop.c         the epoll loop: sources, timers, signals, watchdog
 *   devtrack.c     the balloon devices, from the driver's netlink family
 *   sampler.c      pressure samples: the sample timer and the PSI trigger
 *   portwatch.c    the virtio-serial port, through udev
 *   channels.c     the host connections (protocol.c speaks on them)
 *   events.c       what the hosts are told: replies' view, pushed events
 *   guardrails.c   the guard rails (policy.c decides, this carries out)
 *   reload.c       the configuration: loaded, and applied on SIGHUP
 *
 * The parts report to the daemon through callbacks (devtrack_ops,
 * sampler_ops, loop_hooks) rather than call into each other (portwatch
 * only hands the port it found to the channels); struct daemon,
 * which holds them all, is seen by memballoond.c, events.c, guardrails.c
 * and reload.c only.  docs/daemon.md tells the whole story.
 */
#ifndef MB_DAEMON_H
#define MB_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channels.h"
#include "config.h"
#include "devtrack.h"
#include "loop.h"
#include "policy.h"
#include "portwatch.h"
#include "report.h"
#include "sampler.h"
#include "strbuf.h"

/* MB_VERSION, the release, comes from daemon/Makefile (scripts/version.sh). */
#define MAX_OVERRIDES 64

/* A --set KEY=VALUE (or an option that names a key), applied after the files. */
struct override {
	const char *key;
	char *value;
};

struct daemon {
	struct config cfg;
	const char *config_path;
	bool config_explicit;		/* --config given: the file must exist */
	struct override overrides[MAX_OVERRIDES];	/* re-applied on reload */
	size_t noverrides;
	const char *proc_root;
	uint64_t caps;			/* kept at startup (privileges.h) */

	struct loop loop;
	struct devtrack devs;
	struct sampler sampler;
	struct channels ch;
	struct portwatch ports;
	struct policy_state pstate;	/* the guard rails' memory */
	char status[160];		/* last STATUS= sent to systemd */
};

/* events.c */
extern const struct devtrack_ops daemon_devtrack_ops;
extern const struct sampler_ops daemon_sampler_ops;
/* The state replies and events describe (channels' get_view). */
void daemon_view(void *d, struct view *v);
/* Tell subscribers what a guard rail did (err: 0 or -errno). */
void daemon_push_action(struct daemon *d, const char *what, const struct mb_dev *dev,
			uint64_t pages, const char *reason, int err);
/* Send STATUS= to systemd if it changed. */
void daemon_update_status(struct daemon *d);

/* guardrails.c: evaluate the guard rails now and carry out what they decide. */
void guardrails_run(struct daemon *d);
/* Forget a device's guard rail state (devtrack_ops.forget). */
void guardrails_forget(struct daemon *d, uint32_t dev_id);

/* reload.c */
/* The files (main, then drop-ins), then the command line, into c: 0 or -EINVAL (logged). */
int daemon_load_config(struct daemon *d, struct config *c);
/* Open the TCP and vsock listeners the configuration names (failures are logged). */
void daemon_listen(struct daemon *d);
/* The channels' limits and allowlists from the configuration. */
void daemon_apply_channel_limits(struct daemon *d);
/* SIGHUP (loop_hooks.reload). */
void daemon_reload(void *d);

#endif
