// SPDX-License-Identifier: GPL-2.0
/* The daemon's unit tests; the last line is the count. */
#include "unit.h"

unsigned int unit_total;

int main(void)
{
	int failed = 0;

	failed += run_procfs_tests();
	failed += run_sample_tests();
	failed += run_config_tests();
	failed += run_json_tests();
	failed += run_protocol_tests();
	failed += run_policy_tests();
	failed += run_mbnl_tests();
	failed += run_devtrack_tests();
	failed += run_sdnotify_tests();
	failed += run_strbuf_tests();
	failed += run_acl_tests();
	failed += run_channels_tests();
	failed += run_privileges_tests();
	failed += run_mbdev_tests();
	printf("daemon unit tests: %u passed, %d failed\n", unit_total - (unsigned int)failed,
	       failed);
	return failed ? 1 : 0;
}
