// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "config.h"
#include "log.h"

static int parse(const char *s, struct config *c, char *err, size_t len)
{
	FILE *f = text(s);
	int rc;

	config_defaults(c);
	rc = config_parse(f, c, err, len);
	fclose(f);
	return rc;
}

static void defaults(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.sample_interval_s, 5);
	assert_true(c.trigger.enabled && !c.trigger.full);
	assert_int_equal(c.trigger.stall_us, 150000);
	assert_string_equal(c.serial_port, "org.memballoon.0");
	assert_int_equal(c.tcp_port, 0);
	assert_int_equal(c.vsock_port, 0);
	assert_int_equal(c.max_clients, 16);
	assert_int_equal(c.idle_timeout_s, 60);
	assert_int_equal(c.request_rate, 20);
	assert_int_equal(c.tcp_allow.n, 0);		/* any address */
	assert_int_equal(c.vsock_allow.n, 1);		/* the host only */
	assert_int_equal(c.vsock_allow.cid[0], 2);
	assert_false(c.policy.release_enabled);
	assert_int_equal(c.policy.floor_pages, 0);
}

/* The shipped example file is all defaults, and parses. */
static void example_file(void **state)
{
	struct config c, d;
	char err[256];

	(void)state;
	config_defaults(&c);
	config_defaults(&d);
	assert_int_equal(config_load("../memballoond.conf", true, &c, err, sizeof(err)), 0);
	assert_memory_equal(&c, &d, sizeof(c));
}

static void all_keys(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	assert_int_equal(parse("# comment\n; other comment\n\n"
			       "log_level = debug\n"
			       "  sample_interval=2  \n"
			       "psi_trigger = full 50000 2000000\n"
			       "serial_port = com.example.port.1\n"
			       "tcp = 127.0.0.1:2187\n"
			       "vsock = 1234\n"
			       "max_clients = 4\n"
			       "request_timeout = 3\n"
			       "idle_timeout = 0\n"
			       "request_rate = 5\n"
			       "tcp_allow = 10.0.0.0/8, fd00::/8 192.168.1.7\n"
			       "vsock_allow = 2 1\n"
			       "release_on_pressure = yes\n"
			       "release_full_avg10 = 12.5\n"
			       "release_hold = 0\n"
			       "release_mib = 64\n"
			       "release_interval = 9\n"
			       "inflate_floor = 25%\r\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_int_equal(c.sample_interval_s, 2);
	assert_true(c.trigger.full);
	assert_int_equal(c.trigger.stall_us, 50000);
	assert_int_equal(c.trigger.window_us, 2000000);
	assert_string_equal(c.serial_port, "com.example.port.1");
	assert_string_equal(c.tcp_addr, "127.0.0.1");
	assert_int_equal(c.tcp_port, 2187);
	assert_int_equal(c.vsock_port, 1234);
	assert_int_equal(c.max_clients, 4);
	assert_int_equal(c.request_timeout_s, 3);
	assert_int_equal(c.idle_timeout_s, 0);
	assert_int_equal(c.request_rate, 5);
	assert_int_equal(c.tcp_allow.n, 3);
	assert_int_equal(c.tcp_allow.net[1].family, AF_INET6);
	assert_int_equal(c.tcp_allow.net[1].prefix, 8);
	assert_int_equal(c.tcp_allow.net[2].prefix, 32);
	assert_int_equal(c.vsock_allow.n, 2);
	assert_int_equal(c.vsock_allow.cid[1], 1);
	assert_true(c.policy.release_enabled);
	assert_true(c.policy.release_full_avg10 == 12.5);
	assert_int_equal(c.policy.release_hold_s, 0);
	assert_int_equal(c.policy.release_pages, 64 * 256);
	assert_int_equal(c.policy.release_interval_s, 9);
	assert_int_equal(c.policy.floor_percent, 25);
	assert_int_equal(c.policy.floor_pages, 0);
}

static void values(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_set(&c, "tcp", "0.0.0.0:2187", err, sizeof(err)), 0);
	assert_string_equal(c.tcp_addr, "0.0.0.0");
	assert_int_equal(c.tcp_port, 2187);
	assert_int_equal(config_set(&c, "tcp", "[::1]:99", err, sizeof(err)), 0);
	assert_string_equal(c.tcp_addr, "::1");
	assert_int_equal(c.tcp_port, 99);
	assert_int_equal(config_set(&c, "tcp", "off", err, sizeof(err)), 0);
	assert_int_equal(c.tcp_port, 0);
	assert_string_equal(c.tcp_addr, "0.0.0.0");
	assert_int_equal(config_set(&c, "serial_port", "off", err, sizeof(err)), 0);
	assert_string_equal(c.serial_port, "");
	assert_int_equal(config_set(&c, "psi_trigger", "off", err, sizeof(err)), 0);
	assert_false(c.trigger.enabled);
	assert_int_equal(config_set(&c, "inflate_floor", "1024", err, sizeof(err)), 0);
	assert_int_equal(c.policy.floor_pages, 1024 * 256);
	assert_int_equal(config_set(&c, "inflate_floor", "off", err, sizeof(err)), 0);
	assert_int_equal(c.policy.floor_pages, 0);
	assert_int_equal(config_set(&c, "idle_timeout", "off", err, sizeof(err)), 0);
	assert_int_equal(c.idle_timeout_s, 0);
	assert_int_equal(config_set(&c, "idle_timeout", "86400", err, sizeof(err)), 0);
	assert_int_equal(c.idle_timeout_s, 86400);
	assert_int_equal(config_set(&c, "vsock_allow", "any", err, sizeof(err)), 0);
	assert_int_equal(c.vsock_allow.n, 0);
	assert_int_equal(config_set(&c, "tcp_allow", "127.0.0.1/8", err, sizeof(err)), 0);
	assert_int_equal(c.tcp_allow.n, 1);
	assert_int_equal(c.tcp_allow.net[0].addr[3], 0);	/* host bits cleared */
	assert_int_equal(config_set(&c, "tcp_allow", "any", err, sizeof(err)), 0);
	assert_int_equal(c.tcp_allow.n, 0);
}

/* A bare port used to mean every interface; now the error names the fix. */
static void bare_port(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_set(&c, "tcp", "2187", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "tcp: a bare port is refused, name the address to listen on: "
			    "0.0.0.0:2187 (every IPv4 interface), [::]:2187, or the guest's own "
			    "address");
	assert_int_equal(c.tcp_port, 0);
	assert_int_equal(parse("tcp = 2187\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 1: tcp: a bare port is refused"));
	/* not a port at all: the usual message */
	assert_int_equal(config_set(&c, "tcp", "99999", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "tcp: expected ADDRESS:PORT, [IPV6-ADDRESS]:PORT or off");
}

static void errors(void **state)
{
	static const char *const bad[] = {
		"sample_interval = 0\n", "sample_interval = 3601\n", "sample_interval = -1\n",
		"sample_interval = 5s\n", "sample_interval =\n", "psi_trigger = some 1 100\n",
		"psi_trigger = some 2000000 1000000\n", "psi_trigger = both 1 1000000\n",
		"psi_trigger = some 1 1000000 x\n", "tcp = 65536\n", "tcp = :80\n",
		"tcp = 1.2.3.4:\n", "tcp = [::1:80\n", "tcp = 1=120:2\n", "tcp = ::1:80\n",
		"tcp = [1.2.3.4]:80\n", "tcp = host.example:80\n", "vsock = abc\n", "max_clients = 0\n",
		"release_on_pressure = maybe\n", "release_full_avg10 = 0\n",
		"release_full_avg10 = 101\n", "release_full_avg10 = nan\n", "release_mib = 0\n",
		"inflate_floor = 0%\n", "inflate_floor = 101%\n", "inflate_floor = 12MB\n",
		"serial_port = a/b\n", "log_level = loud\n", "no_such_key = 1\n", "just words\n",
		" = 5\n", "tcp = 2187\n", "idle_timeout = -1\n", "idle_timeout = 86401\n",
		"request_rate = 0\n", "request_rate = 1001\n", "tcp_allow =\n",
		"tcp_allow = 10.0.0.0/33\n", "tcp_allow = ::/129\n", "tcp_allow = 10.0.0.0/\n",
		"tcp_allow = example.org\n", "tcp_allow = 1.2.3.4/8/8\n",
		"vsock_allow = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n", "vsock_allow =\n",
		"vsock_allow = -1\n", "vsock_allow = 4294967295\n", "vsock_allow = host\n",
		"vsock_allow = 2,x\n",
	};
	struct config c;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &c, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err, "line 1"));
	}
	assert_int_equal(parse("log_level = info\nbogus\n", &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 2: expected key = value");
}

static void nul_and_long_lines(void **state)
{
	char buf[3000];
	struct config c;
	char err[256];
	FILE *f;

	(void)state;
	f = fmemopen((void *)"tcp = 1\0 = 2\n", 13, "r");
	config_defaults(&c);
	assert_int_equal(config_parse(f, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: NUL byte");
	fclose(f);
	memset(buf, 'a', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	assert_int_equal(parse(buf, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: too long");
}

static void missing_file(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load("fixtures/none.conf", false, &c, err, sizeof(err)), 0);
	assert_int_equal(config_load("fixtures/none.conf", true, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "No such file"));
}

/* config_write's output parses back to the same configuration. */
static void round_trip(void **state)
{
	struct config c, d;
	char err[256], *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(parse("tcp = [fe80::1]:2187\nvsock = 7\ninflate_floor = 512\n"
			       "tcp_allow = 192.168.0.0/16 2001:db8::/32\nvsock_allow = 2 3 1000\n"
			       "idle_timeout = 5\nrequest_rate = 100\n"
			       "psi_trigger = full 100000 500000\nrelease_full_avg10 = 7.5\n"
			       "serial_port = off\nlog_level = warning\n", &c, err, sizeof(err)), 0);
	f = open_memstream(&buf, &len);
	config_write(&c, f);
	fclose(f);
	assert_int_equal(parse(buf, &d, err, sizeof(err)), 0);
	assert_memory_equal(&c, &d, sizeof(c));
	free(buf);
}

/* ---- drop-ins: FILE.d/NAME.conf in byte order of NAME, each overriding what came before */

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A scratch directory with FILE = tmp/memballoond.conf and tmp/memballoond.conf.d. */
static void scratch(char *tmp, size_t len, char *file, char *dropdir)
{
	snprintf(tmp, len, "/tmp/mbd-config-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	snprintf(file, 512, "%s/memballoond.conf", tmp);
	snprintf(dropdir, 512, "%s.d", file);
	assert_int_equal(mkdir(dropdir, 0755), 0);
}

static void remove_tree(const char *tmp)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	assert_int_equal(system(cmd), 0);
}

static void dropin_order(void **state)
{
	char tmp[64], file[512], dir[512], path[600], err[400], **paths;
	struct config c;
	size_t n;

	(void)state;
	scratch(tmp, sizeof(tmp), file, dir);
	put(tmp, "memballoond.conf", "sample_interval = 2\nmax_clients = 3\nrequest_rate = 4\n");
	put(dir, "20-b.conf", "sample_interval = 20\n");
	put(dir, "10-a.conf", "sample_interval = 10\nmax_clients = 10\n");
	/* byte order, not numeric: "9-..." comes after "20-..." */
	put(dir, "9-late.conf", "sample_interval = 9\n");
	/* not drop-ins: hidden, another suffix, a directory, a link to /dev/null (masked) */
	put(dir, ".hidden.conf", "bogus = 1\n");
	put(dir, "notes.txt", "bogus = 1\n");
	put(dir, "10-a.conf~", "bogus = 1\n");
	snprintf(path, sizeof(path), "%s/dir.conf", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/50-masked.conf", dir);
	assert_int_equal(symlink("/dev/null", path), 0);

	assert_int_equal(config_dropins(file, &paths, &n), 0);
	assert_int_equal(n, 3);
	snprintf(path, sizeof(path), "%s/10-a.conf", dir);
	assert_string_equal(paths[0], path);
	snprintf(path, sizeof(path), "%s/20-b.conf", dir);
	assert_string_equal(paths[1], path);
	snprintf(path, sizeof(path), "%s/9-late.conf", dir);
	assert_string_equal(paths[2], path);
	config_free_paths(paths, n);

	config_defaults(&c);
	assert_int_equal(config_load_all(file, true, &c, err, sizeof(err)), 0);
	assert_int_equal(c.sample_interval_s, 9);	/* the last drop-in */
	assert_int_equal(c.max_clients, 10);		/* a drop-in over the main file */
	assert_int_equal(c.request_rate, 4);		/* the main file where no drop-in speaks */
	assert_int_equal(c.idle_timeout_s, 60);		/* the default where no file does */

	/* an error names the drop-in and its line */
	put(dir, "30-bad.conf", "\nmax_clients = 0\n");
	config_defaults(&c);
	assert_int_equal(config_load_all(file, true, &c, err, sizeof(err)), -EINVAL);
	snprintf(path, sizeof(path), "%s/30-bad.conf: line 2: max_clients: expected 1..1024", dir);
	assert_string_equal(err, path);
	remove_tree(tmp);
}

/* No main file (the package's default is all defaults): its drop-ins still count. */
static void dropin_without_main(void **state)
{
	char tmp[64], file[512], dir[512], err[400], **paths;
	struct config c;
	size_t n;

	(void)state;
	scratch(tmp, sizeof(tmp), file, dir);
	put(dir, "50-tcp.conf", "tcp = 127.0.0.1:2187\n");
	config_defaults(&c);
	assert_int_equal(config_load_all(file, false, &c, err, sizeof(err)), 0);
	assert_int_equal(c.tcp_port, 2187);
	remove_tree(tmp);
	/* no drop-in directory at all, or a path that cannot have one */
	assert_int_equal(config_dropins(file, &paths, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(config_dropins("/dev/null", &paths, &n), 0);
	assert_int_equal(n, 0);
}

/* ---- the table and its documentation ------------------------------------ */

/* Each default is the text config_write() writes for it, so the docs can quote it. */
static void defaults_are_canonical(void **state)
{
	char value[ACL_MAX * 48];
	struct config c;

	(void)state;
	config_defaults(&c);
	for (size_t i = 0; i < config_nkeys; i++) {
		config_format(&c, &config_keys[i], value, sizeof(value));
		if (strcmp(value, config_keys[i].def))
			fail_msg("%s: default \"%s\" is written \"%s\"", config_keys[i].key,
				 config_keys[i].def, value);
		assert_ptr_equal(config_key(config_keys[i].key), &config_keys[i]);
		assert_non_null(config_keys[i].help);
	}
}

/*
 * The "key = default" pairs a document lists, in order: the example file's
 * setting lines, or the man page's ".B "key = default"" entry tags.
 */
static size_t doc_pairs(const char *path, bool man, char pairs[][160], size_t max)
{
	char line[512];
	size_t n = 0;
	FILE *f = fopen(path, "re");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *e;

		line[strcspn(line, "\n")] = '\0';
		if (man) {
			if (strncmp(s, ".B \"", 4) || !strstr(s, " = "))
				continue;
			s += 4;
			e = strrchr(s, '"');
			if (!e)
				continue;
			*e = '\0';
		} else if (!*s || *s == '#' || *s == ';') {
			continue;
		}
		assert_true(n < max);
		snprintf(pairs[n++], 160, "%.159s", s);
	}
	fclose(f);
	return n;
}

static void docs_list_every_key(void **state)
{
	static const char *const docs[] = { "../memballoond.conf", "../memballoond.conf.5" };
	char pairs[64][160], want[160];

	(void)state;
	for (size_t d = 0; d < 2; d++) {
		size_t n = doc_pairs(docs[d], d == 1, pairs, 64);

		for (size_t i = 0; i < config_nkeys || i < n; i++) {
			if (i < config_nkeys)
				snprintf(want, sizeof(want), "%s = %s", config_keys[i].key,
					 config_keys[i].def);
			if (i >= n)
				fail_msg("%s: \"%s\" missing at the end", docs[d], want);
			if (i >= config_nkeys)
				fail_msg("%s: \"%s\" is no key of config_keys[]", docs[d], pairs[i]);
			if (strcmp(pairs[i], want))
				fail_msg("%s: entry %zu is \"%s\", config_keys[] says \"%s\"", docs[d],
					 i + 1, pairs[i], want);
		}
	}
}

int run_config_tests(void)
{
	const struct CMUnitTest config[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(example_file),
		cmocka_unit_test(all_keys),
		cmocka_unit_test(values),
		cmocka_unit_test(bare_port),
		cmocka_unit_test(errors),
		cmocka_unit_test(nul_and_long_lines),
		cmocka_unit_test(missing_file),
		cmocka_unit_test(round_trip),
		cmocka_unit_test(dropin_order),
		cmocka_unit_test(dropin_without_main),
		cmocka_unit_test(defaults_are_canonical),
		cmocka_unit_test(docs_list_every_key),
	};

	return RUN_GROUP(config);
}
