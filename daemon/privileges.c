// SPDX-License-Identifier: GPL-2.0
/*
 * Privileges: which capabilities a configuration needs (pure, unit-tested)
 * and dropping everything else (system calls, tested in the VM).
 *
 * The capabilities are set with capset(2) and prctl(2) directly rather than
 * through libcap or libcap-ng: the daemon needs five calls in a fixed order
 * (bounding set, keep-caps across setresuid, capset, ambient, no_new_privs)
 * and a new shared library in every guest would buy nothing for them.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "log.h"
#include "privileges.h"

#define PSI_UNPRIV_WINDOW_US 2000000	/* PSI_RULES_UNPRIV_2S */
#define PSI_PROBE_TRIGGER "some 150000 2000000"
#define FIRST_RESERVED_FREE_PORT 1024	/* TCP and vsock ports below need CAP_NET_BIND_SERVICE */

#define CAPS_GUARD_RAILS (PRIV_CAP(CAP_SYS_ADMIN) | PRIV_CAP(CAP_NET_ADMIN))

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- what a configuration needs (pure) -------------------------------- */

enum psi_rules priv_psi_rules_for_release(const char *release)
{
	unsigned int major, minor;

	if (sscanf(release, "%u.%u", &major, &minor) == 2 &&
	    (major > 6 || (major == 6 && minor >= 5)))
		return PSI_RULES_UNPRIV_2S;
	return PSI_RULES_PRIVILEGED;
}

static enum psi_rules rules_for_running_kernel(void)
{
	struct utsname u;

	return uname(&u) < 0 ? PSI_RULES_PRIVILEGED : priv_psi_rules_for_release(u.release);
}

bool priv_trigger_needs_cap(const struct psi_trigger *t, enum psi_rules rules)
{
	if (!t->enabled)
		return false;
	switch (rules) {
	case PSI_RULES_NONE:
		return false;
	case PSI_RULES_UNPRIV_2S:
		return t->window_us % PSI_UNPRIV_WINDOW_US != 0;
	default:
		return true;
	}
}

bool priv_guard_rails_on(const struct config *c)
{
	return c->policy.release_enabled || c->policy.floor_pages || c->policy.floor_percent;
}

static bool low_port(unsigned int port)
{
	return port && port < FIRST_RESERVED_FREE_PORT;
}

uint64_t priv_needed(const struct config *c, enum psi_rules rules)
{
	uint64_t caps = 0;

	if (priv_trigger_needs_cap(&c->trigger, rules))
		caps |= PRIV_CAP(CAP_SYS_RESOURCE);
	/*
	 * The driver's DEV_SET and DEV_RELEASE check CAP_SYS_ADMIN in pre_doit
	 * and keep GENL_ADMIN_PERM (CAP_NET_ADMIN, on the socket's opener and
	 * the caller): both are needed.
	 */
	if (priv_guard_rails_on(c))
		caps |= CAPS_GUARD_RAILS;
	if (low_port(c->tcp_port) || low_port(c->vsock_port))
		caps |= PRIV_CAP(CAP_NET_BIND_SERVICE);
	return caps;
}

static const char *cap_name(unsigned int cap)
{
	switch (cap) {
	case CAP_SYS_ADMIN: return "CAP_SYS_ADMIN";
	case CAP_NET_ADMIN: return "CAP_NET_ADMIN";
	case CAP_SYS_RESOURCE: return "CAP_SYS_RESOURCE";
	case CAP_NET_BIND_SERVICE: return "CAP_NET_BIND_SERVICE";
	case CAP_SETPCAP: return "CAP_SETPCAP";
	default: return NULL;
	}
}

static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Add to a string that may be cut short, never overrun. */
static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

/* Nothing appended: "none". */
static const char *finish(char *buf, size_t len, size_t off)
{
	if (len && !off)
		snprintf(buf, len, "none");
	return buf;
}

const char *priv_format_caps(uint64_t caps, char *buf, size_t len)
{
	size_t off = 0;

	for (unsigned int cap = 0; cap < 64; cap++) {
		const char *name = cap_name(cap);

		if (!(caps & PRIV_CAP(cap)))
			continue;
		if (name)
			append(buf, len, &off, "%s%s", off ? " " : "", name);
		else
			append(buf, len, &off, "%scap_%u", off ? " " : "", cap);
	}
	return finish(buf, len, off);
}

const char *priv_explain(const struct config *c, enum psi_rules rules, char *buf, size_t len)
{
	uint64_t caps = priv_needed(c, rules);
	size_t off = 0;
	char trig[64];

	if (caps & PRIV_CAP(CAP_SYS_RESOURCE)) {
		psi_trigger_format(&c->trigger, trig, sizeof(trig));
		append(buf, len, &off, "CAP_SYS_RESOURCE (psi_trigger = %s: %s)", trig,
		       rules == PSI_RULES_UNPRIV_2S ? "a window that is not a multiple of 2 s"
						    : "this kernel refuses any trigger "
						      "without it");
	}
	if (caps & CAPS_GUARD_RAILS)
		append(buf, len, &off, "%sCAP_SYS_ADMIN CAP_NET_ADMIN (%s%s%s)", off ? "; " : "",
		       c->policy.release_enabled ? "release_on_pressure" : "",
		       c->policy.release_enabled &&
		       (c->policy.floor_pages || c->policy.floor_percent) ? ", " : "",
		       c->policy.floor_pages || c->policy.floor_percent ? "inflate_floor" : "");
	if (caps & PRIV_CAP(CAP_NET_BIND_SERVICE))
		append(buf, len, &off, "%sCAP_NET_BIND_SERVICE (%s port below %d)", off ? "; " : "",
		       low_port(c->tcp_port) ? "tcp" : "vsock", FIRST_RESERVED_FREE_PORT);
	return finish(buf, len, off);
}

/* ---- reload ----------------------------------------------------------- */

static void keep_running(const char *key, const char *want, const char *was, uint64_t missing)
{
	char names[96];

	log_warn("reload: %s = %s needs %s, which memballoond does not hold (it keeps only what "
		 "the configuration it started with needs); keeping %s = %s: restart memballoond "
		 "to apply", key, want, priv_format_caps(missing, names, sizeof(names)), key, was);
}

static void format_floor(const struct policy_config *p, char *buf, size_t len)
{
	if (p->floor_pages)
		snprintf(buf, len, "%llu", (unsigned long long)(p->floor_pages / MB_PAGES_PER_MIB));
	else if (p->floor_percent)
		snprintf(buf, len, "%u%%", p->floor_percent);
	else
		snprintf(buf, len, "off");
}

unsigned int priv_reload_filter(const struct config *running, struct config *next,
				uint64_t held, enum psi_rules rules)
{
	const uint64_t bind = PRIV_CAP(CAP_NET_BIND_SERVICE);
	const uint64_t resource = PRIV_CAP(CAP_SYS_RESOURCE);
	struct policy_config *np = &next->policy;
	const struct policy_config *rp = &running->policy;
	unsigned int kept = 0;
	char want[80], was[80];

	if (strcmp(next->user, running->user)) {
		log_warn("reload: user = %s: memballoond runs as %s until it is restarted; "
			 "restart memballoond to apply", next->user, running->user);
		memcpy(next->user, running->user, sizeof(next->user));
		kept++;
	}
	if (memcmp(&next->trigger, &running->trigger, sizeof(next->trigger)) &&
	    priv_trigger_needs_cap(&next->trigger, rules) && !(held & resource)) {
		psi_trigger_format(&next->trigger, want, sizeof(want));
		psi_trigger_format(&running->trigger, was, sizeof(was));
		keep_running("psi_trigger", want, was, resource);
		next->trigger = running->trigger;
		kept++;
	}
	if (np->release_enabled && !rp->release_enabled &&
	    (held & CAPS_GUARD_RAILS) != CAPS_GUARD_RAILS) {
		keep_running("release_on_pressure", "yes", "no", CAPS_GUARD_RAILS & ~held);
		np->release_enabled = false;
		kept++;
	}
	if ((np->floor_pages || np->floor_percent) &&
	    (np->floor_pages != rp->floor_pages || np->floor_percent != rp->floor_percent) &&
	    (held & CAPS_GUARD_RAILS) != CAPS_GUARD_RAILS) {
		format_floor(np, want, sizeof(want));
		format_floor(rp, was, sizeof(was));
		keep_running("inflate_floor", want, was, CAPS_GUARD_RAILS & ~held);
		np->floor_pages = rp->floor_pages;
		np->floor_percent = rp->floor_percent;
		kept++;
	}
	if ((next->tcp_port != running->tcp_port || strcmp(next->tcp_addr, running->tcp_addr)) &&
	    low_port(next->tcp_port) && !(held & bind)) {
		snprintf(want, sizeof(want), "%s port %u", next->tcp_addr, next->tcp_port);
		if (running->tcp_port)
			snprintf(was, sizeof(was), "%s port %u", running->tcp_addr,
				 running->tcp_port);
		else
			snprintf(was, sizeof(was), "off");
		keep_running("tcp", want, was, bind);
		memcpy(next->tcp_addr, running->tcp_addr, sizeof(next->tcp_addr));
		next->tcp_port = running->tcp_port;
		kept++;
	}
	if (next->vsock_port != running->vsock_port && low_port(next->vsock_port) &&
	    !(held & bind)) {
		snprintf(want, sizeof(want), "%u", next->vsock_port);
		if (running->vsock_port)
			snprintf(was, sizeof(was), "%u", running->vsock_port);
		else
			snprintf(was, sizeof(was), "off");
		keep_running("vsock", want, was, bind);
		next->vsock_port = running->vsock_port;
		kept++;
	}
	return kept;
}

/* ---- dropping them (system calls) ------------------------------------- */

static int cap_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };

	memset(data, 0, 2 * sizeof(*data));
	return syscall(SYS_capget, &hdr, data) < 0 ? -errno : 0;
}

static uint64_t cap_mask(uint32_t lo, uint32_t hi)
{
	return (uint64_t)hi << 32 | lo;
}

/* eff = perm = inh = caps */
static int cap_set_all(uint64_t caps)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(caps >> (32 * i));
		data[i].permitted = data[i].effective;
		data[i].inheritable = data[i].effective;
	}
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

/* Every capability the kernel knows that is not in keep leaves the bounding set. */
static int bounding_drop(uint64_t keep)
{
	for (unsigned int cap = 0; cap < 64; cap++) {
		int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

		if (in < 0)
			break;		/* EINVAL: past the last capability */
		if (in && !(keep & PRIV_CAP(cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
	}
	return 0;
}

static int ambient_set(uint64_t caps)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return errno == EINVAL ? 0 : -errno;	/* before Linux 4.3: no ambient set */
	for (unsigned int cap = 0; cap < 64; cap++)
		if ((caps & PRIV_CAP(cap)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return -errno;
	return 0;
}

struct target_user {
	char name[64];
	uid_t uid;
	gid_t gid;
};

static int lookup_user(const char *user, struct target_user *t, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		if (errno && errno != ENOENT && errno != ESRCH)
			return fail(err, errlen, -errno, "looking up user '%s': %s", user,
				    strerror(errno));
		return fail(err, errlen, -ENOENT,
			    "user '%s' does not exist: create it (systemd-sysusers memballoon.conf; "
			    "make -C daemon install does) or name an existing unprivileged user "
			    "with user = in memballoond.conf", user);
	}
	if (pw->pw_uid == 0)
		return fail(err, errlen, -EPERM,
			    "user '%s' has uid 0: memballoond does not run as root", user);
	snprintf(t->name, sizeof(t->name), "%s", pw->pw_name);
	t->uid = pw->pw_uid;
	t->gid = pw->pw_gid;
	return 0;
}

static int switch_user(const struct target_user *t, char *err, size_t errlen)
{
	/* keep the permitted set across setresuid; capset trims it right after */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, -errno, "PR_SET_KEEPCAPS: %s", strerror(errno));
	if (initgroups(t->name, t->gid) < 0)
		return fail(err, errlen, -errno, "initgroups(%s): %s", t->name, strerror(errno));
	if (setresgid(t->gid, t->gid, t->gid) < 0)
		return fail(err, errlen, -errno, "setresgid(%u): %s", (unsigned int)t->gid,
			    strerror(errno));
	if (setresuid(t->uid, t->uid, t->uid) < 0)
		return fail(err, errlen, -errno, "setresuid(%u): %s", (unsigned int)t->uid,
			    strerror(errno));
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return 0;
}

int priv_drop(const char *user, uint64_t keep, struct priv_result *res, char *err,
	      size_t errlen)
{
	bool root = getuid() == 0 || geteuid() == 0;
	struct __user_cap_data_struct data[2];
	struct target_user target;
	uint64_t permitted;
	int rc;

	memset(res, 0, sizeof(*res));
	/* nothing changes before the user is known to be fine */
	if (root) {
		rc = lookup_user(user, &target, err, errlen);
		if (rc)
			return rc;
	}
	rc = cap_get(data);
	if (rc)
		return fail(err, errlen, rc, "capget: %s", strerror(-rc));
	/* the bounding set shrinks only with CAP_SETPCAP: root has it, the unit's user not */
	if (cap_mask(data[0].effective, data[1].effective) & PRIV_CAP(CAP_SETPCAP)) {
		rc = bounding_drop(keep);
		if (rc)
			return fail(err, errlen, rc, "dropping the bounding set: %s", strerror(-rc));
		res->bounding = true;
	}
	if (root) {
		rc = switch_user(&target, err, errlen);
		if (rc)
			return rc;
		res->switched = true;
	}
	rc = cap_get(data);
	if (rc)
		return fail(err, errlen, rc, "capget: %s", strerror(-rc));
	permitted = cap_mask(data[0].permitted, data[1].permitted);
	res->held = keep & permitted;
	res->missing = keep & ~permitted;
	rc = cap_set_all(res->held);
	if (rc)
		return fail(err, errlen, rc, "capset: %s", strerror(-rc));
	rc = ambient_set(res->held);
	if (rc)
		return fail(err, errlen, rc, "ambient capabilities: %s", strerror(-rc));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, -errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (getuid() == 0 || geteuid() == 0)
		return fail(err, errlen, -EPERM, "still uid 0 after dropping privileges");
	res->uid = (unsigned int)getuid();
	res->gid = (unsigned int)getgid();
	return 0;
}

enum psi_rules priv_psi_probe(const char *path)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct saved[2], lowered[2];
	static const char trigger[] = PSI_PROBE_TRIGGER;
	enum psi_rules rules;
	int fd;

	if (cap_get(saved))
		return rules_for_running_kernel();
	memcpy(lowered, saved, sizeof(lowered));
	lowered[CAP_TO_INDEX(CAP_SYS_RESOURCE)].effective &= ~CAP_TO_MASK(CAP_SYS_RESOURCE);
	if (syscall(SYS_capset, &hdr, lowered) < 0)
		return rules_for_running_kernel();
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			rules = PSI_RULES_NONE;
		else if (errno == EPERM || errno == EACCES)
			rules = PSI_RULES_PRIVILEGED;
		else
			rules = rules_for_running_kernel();
	} else {
		/* the trigger exists until close(); an unprivileged one starts no thread */
		rules = write(fd, trigger, sizeof(trigger)) == (ssize_t)sizeof(trigger) ?
			PSI_RULES_UNPRIV_2S : rules_for_running_kernel();
		close(fd);
	}
	syscall(SYS_capset, &hdr, saved);	/* priv_drop sets every set again anyway */
	return rules;
}

enum psi_rules priv_psi_rules(void)
{
	static enum psi_rules rules;
	static bool done;

	/* the real file, not --proc-root: the kernel's rule is what counts */
	if (!done) {
		rules = priv_psi_probe("/proc/pressure/memory");
		done = true;
	}
	return rules;
}

int priv_setup(const struct config *c, uint64_t *held)
{
	enum psi_rules rules = priv_psi_rules();
	uint64_t need = priv_needed(c, rules);
	struct priv_result res;
	char err[400], why[400], names[96];
	struct passwd *pw;

	if (priv_drop(c->user, need, &res, err, sizeof(err))) {
		log_err("privileges: %s", err);
		return -1;
	}
	*held = res.held;
	pw = getpwuid(res.uid);
	log_info("privileges: running as %s (uid %u, gid %u)%s; capabilities: %s",
		 pw ? pw->pw_name : "?", res.uid, res.gid,
		 res.switched ? ", switched from root" : "", priv_explain(c, rules, why, sizeof(why)));
	log_debug("privileges: PSI triggers without CAP_SYS_RESOURCE: %s",
		  rules == PSI_RULES_NONE ? "no PSI on this kernel" :
		  rules == PSI_RULES_UNPRIV_2S ? "windows that are multiples of 2 s" : "none");
	if (res.missing)
		log_warn("privileges: the configuration needs %s, which memballoond was not "
			 "given (systemd: AmbientCapabilities=); what needs it will fail with "
			 "EPERM", priv_format_caps(res.missing, names, sizeof(names)));
	if (!res.bounding)
		log_debug("privileges: bounding set left as started (no CAP_SETPCAP; "
			  "no_new_privs makes it moot)");
	return 0;
}
