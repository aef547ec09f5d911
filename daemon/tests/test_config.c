// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

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
	};

	return RUN_GROUP(config);
}
