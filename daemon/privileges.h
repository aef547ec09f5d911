/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memballoond never runs as root.  Started as root it switches to the
 * configured user (key "user", default "memballoon"); started as that
 * user with ambient capabilities (systemd's AmbientCapabilities=) it
 * stays.  Either way it keeps only the capabilities its configuration
 * needs, in every set (effective, permitted, inheritable, ambient and,
 * when it may, bounding), and sets no_new_privs.  See docs/security.md.
 */
#ifndef MB_PRIVILEGES_H
#define MB_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* A capability set as a bit mask: bit CAP_x (linux/capability.h). */
#define PRIV_CAP(c) (UINT64_C(1) << (c))

/*
 * What the running kernel lets a process without CAP_SYS_RESOURCE do with a
 * PSI trigger (kernel/sched/psi.c).  Up to 6.4 psi_open() refuses to open a
 * pressure file for writing; 6.5 (and 6.1.y from 6.1.42, where the change
 * was backported) let anyone open it, and psi_trigger_create() refuses only
 * a window that is not a multiple of 2 s unless the opener had
 * CAP_SYS_RESOURCE effective.  A Debian ABI name such as 6.1.0-57 does not
 * tell 6.1.41 from 6.1.42, so the daemon tries it (priv_psi_probe).
 */
enum psi_rules {
	PSI_RULES_NONE,			/* no /proc/pressure/memory: a trigger cannot open anyway */
	PSI_RULES_PRIVILEGED,		/* every trigger needs CAP_SYS_RESOURCE */
	PSI_RULES_UNPRIV_2S,		/* only a window that is not a multiple of 2 s does */
};

/* From a uname release alone: 6.5 and later, else (not knowing) the strict rule. */
enum psi_rules priv_psi_rules_for_release(const char *release);
/*
 * Try it: create and close a 2 s trigger on path with CAP_SYS_RESOURCE out
 * of the effective set (both rules check at open time), then restore it.
 * Falls back to the release when the answer is not clear.
 */
enum psi_rules priv_psi_probe(const char *path);
/* priv_psi_probe("/proc/pressure/memory"), once. */
enum psi_rules priv_psi_rules(void);

/* Whether the kernel refuses this trigger to a process without CAP_SYS_RESOURCE. */
bool priv_trigger_needs_cap(const struct psi_trigger *t, enum psi_rules rules);
/* Whether a guard rail (release_on_pressure, inflate_floor) is on. */
bool priv_guard_rails_on(const struct config *c);

/* The capabilities configuration c needs under rules. */
uint64_t priv_needed(const struct config *c, enum psi_rules rules);
/* "CAP_SYS_ADMIN CAP_NET_ADMIN" or "none"; returns buf. */
const char *priv_format_caps(uint64_t caps, char *buf, size_t len);
/* One "CAP_x (why)" per needed capability, "; "-separated, or "none". */
const char *priv_explain(const struct config *c, enum psi_rules rules, char *buf, size_t len);

struct priv_result {
	bool switched;			/* started as root, now the configured user */
	unsigned int uid, gid;
	uint64_t held;			/* kept, in every set */
	uint64_t missing;		/* needed but not ours to keep (never had it) */
	bool bounding;			/* the bounding set was reduced to held */
};

/*
 * Switch to user (if root) and keep exactly keep & the permitted set.
 * 0, or -errno with the reason in err: an unknown user, a user with uid 0,
 * a failed system call.  Never returns 0 with uid or euid 0.
 */
int priv_drop(const char *user, uint64_t keep, struct priv_result *res, char *err,
	      size_t errlen);

/* priv_drop for configuration c on the running kernel, logged; 0 or -1. */
int priv_setup(const struct config *c, uint64_t *held);

/*
 * On reload, a key whose new value needs a capability not in held (or a new
 * user) keeps its running value; each such key is logged with "restart
 * memballoond to apply".  Returns how many keys were kept.
 */
unsigned int priv_reload_filter(const struct config *running, struct config *next,
				uint64_t held, enum psi_rules rules);

#endif
