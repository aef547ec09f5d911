// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "config.h"
#include "log.h"
#include "privileges.h"

#define RESOURCE PRIV_CAP(CAP_SYS_RESOURCE)
#define RAILS (PRIV_CAP(CAP_SYS_ADMIN) | PRIV_CAP(CAP_NET_ADMIN))
#define BIND PRIV_CAP(CAP_NET_BIND_SERVICE)

static void set(struct config *c, const char *key, const char *value)
{
	char err[256];

	assert_int_equal(config_set(c, key, value, err, sizeof(err)), 0);
}

static void psi_rules_from_release(void **state)
{
	(void)state;
	/* a Debian ABI name hides the stable sublevel: 6.1.42 has the 6.5 rule, 6.1.41 not */
	assert_int_equal(priv_psi_rules_for_release("6.1.0-57-amd64"), PSI_RULES_PRIVILEGED);
	assert_int_equal(priv_psi_rules_for_release("6.4.16"), PSI_RULES_PRIVILEGED);
	assert_int_equal(priv_psi_rules_for_release("6.5"), PSI_RULES_UNPRIV_2S);
	assert_int_equal(priv_psi_rules_for_release("6.12.95+deb12-amd64"), PSI_RULES_UNPRIV_2S);
	assert_int_equal(priv_psi_rules_for_release("7.3.4+deb13-amd64"), PSI_RULES_UNPRIV_2S);
	assert_int_equal(priv_psi_rules_for_release("5.19.0"), PSI_RULES_PRIVILEGED);
	assert_int_equal(priv_psi_rules_for_release("linux"), PSI_RULES_PRIVILEGED);
	assert_int_equal(priv_psi_rules_for_release("6"), PSI_RULES_PRIVILEGED);
}

/* kernel/sched/psi.c: psi_open() up to 6.4, psi_trigger_create() from 6.5 and 6.1.42 */
static void psi_trigger_rules(void **state)
{
	static const struct {
		unsigned int window_us;
		bool unpriv_2s;
	} cases[] = {
		{ 500000, true },
		{ 1000000, true },	/* the default */
		{ 1500000, true },
		{ 2000000, false },
		{ 3000000, true },
		{ 4000000, false },
		{ 10000000, false },
	};
	struct psi_trigger t = { .enabled = true, .stall_us = 100000 };
	struct psi_trigger off = { .enabled = false, .window_us = 1000000 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t.window_us = cases[i].window_us;
		t.full = i % 2;
		assert_true(priv_trigger_needs_cap(&t, PSI_RULES_PRIVILEGED));
		assert_int_equal(priv_trigger_needs_cap(&t, PSI_RULES_UNPRIV_2S), cases[i].unpriv_2s);
		/* no PSI: the trigger cannot open, with or without the capability */
		assert_false(priv_trigger_needs_cap(&t, PSI_RULES_NONE));
	}
	assert_false(priv_trigger_needs_cap(&off, PSI_RULES_PRIVILEGED));
	assert_false(priv_trigger_needs_cap(&off, PSI_RULES_UNPRIV_2S));
}

/* The probe on this machine's kernel: a real trigger, and the effective set comes back. */
static void psi_probe(void **state)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct before[2], after[2];
	enum psi_rules rules;
	struct utsname u;

	(void)state;
	assert_int_equal(priv_psi_probe("/nonexistent/pressure/memory"), PSI_RULES_NONE);
	assert_int_equal(syscall(SYS_capget, &hdr, before), 0);
	rules = priv_psi_probe("/proc/pressure/memory");
	assert_int_equal(syscall(SYS_capget, &hdr, after), 0);
	assert_memory_equal(before, after, sizeof(before));
	assert_int_equal(uname(&u), 0);
	if (access("/proc/pressure/memory", F_OK) < 0)
		assert_int_equal(rules, PSI_RULES_NONE);
	else if (priv_psi_rules_for_release(u.release) == PSI_RULES_UNPRIV_2S)
		assert_int_equal(rules, PSI_RULES_UNPRIV_2S);
	else
		assert_int_not_equal(rules, PSI_RULES_NONE);
	assert_int_equal(priv_psi_rules(), rules);
}

static void needed_by_config(void **state)
{
	struct config c;
	char buf[256];

	(void)state;
	/* the defaults: a 1 s trigger, no guard rails, no listener */
	config_defaults(&c);
	assert_int_equal(priv_needed(&c, PSI_RULES_PRIVILEGED), RESOURCE);
	assert_int_equal(priv_needed(&c, PSI_RULES_UNPRIV_2S), RESOURCE);
	assert_string_equal(priv_format_caps(priv_needed(&c, PSI_RULES_PRIVILEGED), buf, sizeof(buf)),
			    "CAP_SYS_RESOURCE");
	assert_string_equal(priv_explain(&c, PSI_RULES_PRIVILEGED, buf, sizeof(buf)),
			    "CAP_SYS_RESOURCE (psi_trigger = some 150000 1000000: this kernel "
			    "refuses any trigger without it)");
	assert_string_equal(priv_explain(&c, PSI_RULES_UNPRIV_2S, buf, sizeof(buf)),
			    "CAP_SYS_RESOURCE (psi_trigger = some 150000 1000000: a window that "
			    "is not a multiple of 2 s)");

	/* no trigger, no guard rails: nothing */
	set(&c, "psi_trigger", "off");
	assert_int_equal(priv_needed(&c, PSI_RULES_PRIVILEGED), 0);
	assert_string_equal(priv_format_caps(0, buf, sizeof(buf)), "none");
	assert_string_equal(priv_explain(&c, PSI_RULES_PRIVILEGED, buf, sizeof(buf)), "none");

	/* a 2 s multiple is unprivileged from 6.5 on */
	set(&c, "psi_trigger", "full 100000 4000000");
	assert_int_equal(priv_needed(&c, PSI_RULES_PRIVILEGED), RESOURCE);
	assert_int_equal(priv_needed(&c, PSI_RULES_UNPRIV_2S), 0);
	assert_int_equal(priv_needed(&c, PSI_RULES_UNPRIV_2S), 0);

	/* guard rails: DEV_SET/DEV_RELEASE check CAP_SYS_ADMIN and GENL_ADMIN_PERM */
	set(&c, "release_on_pressure", "yes");
	assert_int_equal(priv_needed(&c, PSI_RULES_UNPRIV_2S), RAILS);
	assert_string_equal(priv_format_caps(RAILS, buf, sizeof(buf)),
			    "CAP_NET_ADMIN CAP_SYS_ADMIN");
	set(&c, "inflate_floor", "512");
	assert_string_equal(priv_explain(&c, PSI_RULES_UNPRIV_2S, buf, sizeof(buf)),
			    "CAP_SYS_ADMIN CAP_NET_ADMIN (release_on_pressure, inflate_floor)");
	set(&c, "release_on_pressure", "no");
	assert_int_equal(priv_needed(&c, PSI_RULES_UNPRIV_2S), RAILS);
	set(&c, "inflate_floor", "25%");
	assert_int_equal(priv_needed(&c, PSI_RULES_UNPRIV_2S), RAILS);
	assert_string_equal(priv_explain(&c, PSI_RULES_UNPRIV_2S, buf, sizeof(buf)),
			    "CAP_SYS_ADMIN CAP_NET_ADMIN (inflate_floor)");
	set(&c, "inflate_floor", "off");
	assert_int_equal(priv_needed(&c, PSI_RULES_UNPRIV_2S), 0);

	/* ports below 1024, on either listener */
	set(&c, "tcp", "127.0.0.1:1024");
	set(&c, "vsock", "2187");
	assert_int_equal(priv_needed(&c, PSI_RULES_UNPRIV_2S), 0);
	set(&c, "tcp", "[::1]:1023");
	assert_int_equal(priv_needed(&c, PSI_RULES_UNPRIV_2S), BIND);
	assert_string_equal(priv_explain(&c, PSI_RULES_UNPRIV_2S, buf, sizeof(buf)),
			    "CAP_NET_BIND_SERVICE (tcp port below 1024)");
	set(&c, "tcp", "off");
	set(&c, "vsock", "22");
	assert_int_equal(priv_needed(&c, PSI_RULES_UNPRIV_2S), BIND);
	assert_string_equal(priv_explain(&c, PSI_RULES_UNPRIV_2S, buf, sizeof(buf)),
			    "CAP_NET_BIND_SERVICE (vsock port below 1024)");

	/* all of it, explained in one line */
	set(&c, "psi_trigger", "some 150000 1000000");
	set(&c, "release_on_pressure", "yes");
	assert_int_equal(priv_needed(&c, PSI_RULES_PRIVILEGED), RESOURCE | RAILS | BIND);
	assert_string_equal(priv_format_caps(RESOURCE | RAILS | BIND, buf, sizeof(buf)),
			    "CAP_NET_BIND_SERVICE CAP_NET_ADMIN CAP_SYS_ADMIN CAP_SYS_RESOURCE");
	assert_string_equal(priv_explain(&c, PSI_RULES_PRIVILEGED, buf, sizeof(buf)),
			    "CAP_SYS_RESOURCE (psi_trigger = some 150000 1000000: this kernel "
			    "refuses any trigger without it); CAP_SYS_ADMIN CAP_NET_ADMIN "
			    "(release_on_pressure); CAP_NET_BIND_SERVICE (vsock port below 1024)");
	/* a short buffer is cut, never overrun */
	assert_string_equal(priv_format_caps(RAILS, buf, 9), "CAP_NET_");
	assert_int_equal(strlen(priv_explain(&c, PSI_RULES_PRIVILEGED, buf, 20)), 19);
}

static void user_key(void **state)
{
	static const char *const bad[] = { "", "0day", "-x", "a/b", "a b", "root\n",
					   "abcdefghijklmnopqrstuvwxyz012345" };
	struct config c;
	char err[256], *out = NULL;
	size_t size = 0;
	FILE *f;

	(void)state;
	config_defaults(&c);
	assert_string_equal(c.user, "memballoon");
	set(&c, "user", "mb_daemon-2.x");
	assert_string_equal(c.user, "mb_daemon-2.x");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(config_set(&c, "user", bad[i], err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "user: expected a user name");
	}
	assert_string_equal(c.user, "mb_daemon-2.x");
	f = open_memstream(&out, &size);
	config_write(&c, f);
	fclose(f);
	assert_non_null(strstr(out, "\nuser = mb_daemon-2.x\n"));
	free(out);
}

static void reload_keeps_what_needs_a_dropped_capability(void **state)
{
	struct config run, next, want;

	(void)state;
	log_set_level(LOG_ERR);		/* the warnings are the expected outcome here */
	config_defaults(&run);
	set(&run, "psi_trigger", "off");

	/* started with nothing held: each key that would need a capability keeps its value */
	next = run;
	set(&next, "psi_trigger", "some 150000 1000000");
	set(&next, "release_on_pressure", "yes");
	set(&next, "inflate_floor", "10%");
	set(&next, "tcp", "0.0.0.0:80");
	set(&next, "vsock", "1000");
	set(&next, "user", "other");
	set(&next, "sample_interval", "9");
	set(&next, "release_mib", "64");
	assert_int_equal(priv_reload_filter(&run, &next, 0, PSI_RULES_UNPRIV_2S), 6);
	want = run;
	set(&want, "sample_interval", "9");
	set(&want, "release_mib", "64");
	assert_memory_equal(&next, &want, sizeof(next));

	/* a 2 s trigger needs nothing on 6.5+, but does on 6.1 */
	next = run;
	set(&next, "psi_trigger", "full 100000 2000000");
	assert_int_equal(priv_reload_filter(&run, &next, 0, PSI_RULES_UNPRIV_2S), 0);
	assert_true(next.trigger.enabled && next.trigger.window_us == 2000000);
	next = run;
	set(&next, "psi_trigger", "full 100000 2000000");
	assert_int_equal(priv_reload_filter(&run, &next, 0, PSI_RULES_PRIVILEGED), 1);
	assert_false(next.trigger.enabled);

	/* held: everything applies */
	next = run;
	set(&next, "psi_trigger", "some 150000 1000000");
	set(&next, "release_on_pressure", "yes");
	set(&next, "inflate_floor", "512");
	set(&next, "tcp", "127.0.0.1:443");
	set(&next, "vsock", "1000");
	want = next;
	assert_int_equal(priv_reload_filter(&run, &next, RESOURCE | RAILS | BIND,
					    PSI_RULES_PRIVILEGED), 0);
	assert_memory_equal(&next, &want, sizeof(next));

	/* half the guard rails' capabilities is not enough */
	next = run;
	set(&next, "inflate_floor", "512");
	assert_int_equal(priv_reload_filter(&run, &next, PRIV_CAP(CAP_SYS_ADMIN),
					    PSI_RULES_PRIVILEGED), 1);
	assert_int_equal(next.policy.floor_pages, 0);

	/* turning things off, or high ports, never needs anything */
	set(&run, "psi_trigger", "some 150000 1000000");
	set(&run, "inflate_floor", "512");
	set(&run, "tcp", "127.0.0.1:80");
	next = run;
	set(&next, "psi_trigger", "off");
	set(&next, "inflate_floor", "off");
	set(&next, "tcp", "127.0.0.1:8080");
	want = next;
	assert_int_equal(priv_reload_filter(&run, &next, 0, PSI_RULES_PRIVILEGED), 0);
	assert_memory_equal(&next, &want, sizeof(next));

	/* unchanged values are not "new": nothing to keep */
	next = run;
	assert_int_equal(priv_reload_filter(&run, &next, 0, PSI_RULES_PRIVILEGED), 0);
	log_set_level(LOG_INFO);
}

/* ---- priv_drop, for real, in a child (it changes the process for good) ---- */

struct child_report {
	int rc;
	char err[400];
	struct priv_result res;
	unsigned int uid[4], gid[4];
	unsigned long long inh, prm, eff, bnd, amb;
	int nnp;
};

static void read_status(struct child_report *r)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "Uid: %u %u %u %u", &r->uid[0], &r->uid[1], &r->uid[2], &r->uid[3]);
		sscanf(line, "Gid: %u %u %u %u", &r->gid[0], &r->gid[1], &r->gid[2], &r->gid[3]);
		sscanf(line, "CapInh: %llx", &r->inh);
		sscanf(line, "CapPrm: %llx", &r->prm);
		sscanf(line, "CapEff: %llx", &r->eff);
		sscanf(line, "CapBnd: %llx", &r->bnd);
		sscanf(line, "CapAmb: %llx", &r->amb);
		sscanf(line, "NoNewPrivs: %d", &r->nnp);
	}
	fclose(f);
}

static void drop_in_child(const char *user, uint64_t keep, struct child_report *r)
{
	int fds[2], status;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct child_report c;

		memset(&c, 0, sizeof(c));
		close(fds[0]);
		c.rc = priv_drop(user, keep, &c.res, c.err, sizeof(c.err));
		c.nnp = -1;
		read_status(&c);
		if (write(fds[1], &c, sizeof(c)) != (ssize_t)sizeof(c))
			_exit(2);
		_exit(0);	/* no atexit leak check: the child may not ptrace itself now */
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], r, sizeof(*r)), (ssize_t)sizeof(*r));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void drop_for_real(void **state)
{
	struct child_report r, self;

	(void)state;
	if (getuid() == 0) {
		/* root: switch to nobody (Debian's 65534), keep one capability */
		drop_in_child("nobody", BIND, &r);
		assert_int_equal(r.rc, 0);
		assert_true(r.res.switched && r.res.bounding);
		for (int i = 0; i < 4; i++) {
			assert_int_equal(r.uid[i], 65534);
			assert_int_equal(r.gid[i], 65534);
		}
		assert_int_equal(r.res.uid, 65534);
		assert_int_equal(r.res.held, BIND);
		assert_int_equal(r.res.missing, 0);
		assert_int_equal(r.inh, BIND);
		assert_int_equal(r.prm, BIND);
		assert_int_equal(r.eff, BIND);
		assert_int_equal(r.bnd, BIND);
		assert_int_equal(r.amb, BIND);
		assert_int_equal(r.nnp, 1);

		/* nothing needed: nothing held anywhere */
		drop_in_child("nobody", 0, &r);
		assert_int_equal(r.rc, 0);
		assert_int_equal(r.uid[0], 65534);
		assert_int_equal(r.inh | r.prm | r.eff | r.bnd | r.amb, 0);
		assert_int_equal(r.nnp, 1);

		/* an unknown user: refused, with the fix named, before anything changed */
		memset(&self, 0, sizeof(self));
		read_status(&self);
		drop_in_child("no-such-user-mb", BIND, &r);
		assert_int_equal(r.rc, -ENOENT);
		assert_non_null(strstr(r.err, "user 'no-such-user-mb' does not exist: create it"));
		assert_non_null(strstr(r.err, "systemd-sysusers"));
		assert_int_equal(r.uid[0], 0);
		assert_int_equal(r.bnd, self.bnd);
		assert_int_equal(r.eff, self.eff);
		assert_int_equal(r.nnp, self.nnp);

		/* root itself is refused */
		drop_in_child("root", 0, &r);
		assert_int_equal(r.rc, -EPERM);
		assert_non_null(strstr(r.err, "has uid 0"));
	} else {
		/* unprivileged already: no switch, the user is not even looked up */
		drop_in_child("no-such-user-mb", RESOURCE, &r);
		assert_int_equal(r.rc, 0);
		assert_false(r.res.switched);
		assert_int_equal(r.uid[0], getuid());
		assert_int_equal(r.res.held, 0);
		assert_int_equal(r.res.missing, RESOURCE);
		assert_int_equal(r.inh | r.prm | r.eff | r.amb, 0);
		assert_int_equal(r.nnp, 1);
	}
}

int run_privileges_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(psi_rules_from_release),
		cmocka_unit_test(psi_trigger_rules),
		cmocka_unit_test(psi_probe),
		cmocka_unit_test(needed_by_config),
		cmocka_unit_test(user_key),
		cmocka_unit_test(reload_keeps_what_needs_a_dropped_capability),
		cmocka_unit_test(drop_for_real),
	};

	return RUN_GROUP(tests);
}
