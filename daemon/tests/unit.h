/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the unit tests: cmocka, fixtures (run from daemon/tests), group runner. */
#ifndef MB_UNIT_H
#define MB_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

extern unsigned int unit_total;

/* fixtures/NAME, opened for reading; fails the test if missing */
static inline FILE *fixture(const char *name)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "fixtures/%s", name);
	f = fopen(path, "re");
	if (!f)
		fail_msg("fixture %s missing", path);
	return f;
}

/* A FILE over a string (fmemopen refuses a zero size). */
static inline FILE *text(const char *s)
{
	static char empty[1];

	return *s ? fmemopen((void *)s, strlen(s), "r") : fmemopen(empty, 1, "r");
}

#define RUN_GROUP(tests) \
	(unit_total += sizeof(tests) / sizeof((tests)[0]), \
	 cmocka_run_group_tests_name(#tests, tests, NULL, NULL))

int run_procfs_tests(void);
int run_sample_tests(void);
int run_config_tests(void);
int run_json_tests(void);
int run_protocol_tests(void);
int run_policy_tests(void);
int run_mbnl_tests(void);
int run_devtrack_tests(void);
int run_sdnotify_tests(void);
int run_strbuf_tests(void);
int run_acl_tests(void);
int run_channels_tests(void);
int run_privileges_tests(void);
int run_mbdev_tests(void);

#endif
