// SPDX-License-Identifier: GPL-2.0
#include "unit.h"
#include "sample.h"

static void collect_guest(void **state)
{
	struct sample s;

	(void)state;
	assert_int_equal(sample_collect(&s, "fixtures/proc-guest"), 0);
	assert_true(s.psi_ok && s.vmstat_ok && s.meminfo_ok);
	assert_int_equal(s.psi.some.total_us, 5723361);
	assert_int_equal(s.mem.total, 2014152);
	assert_true(s.mono_ms > 0 && s.wall_ms > 0);
}

static void collect_without_psi(void **state)
{
	struct sample s;

	(void)state;
	/* a kernel without PSI (CONFIG_PSI=n, psi=0): no pressure/ directory */
	assert_int_equal(sample_collect(&s, "fixtures/proc-nopsi"), 0);
	assert_false(s.psi_ok);
	assert_true(s.vmstat_ok && s.meminfo_ok);
	assert_int_not_equal(sample_collect(&s, "fixtures/does-not-exist"), 0);
	assert_false(s.psi_ok || s.vmstat_ok || s.meminfo_ok);
}

static void rates(void **state)
{
	struct sample a = { 0 }, b = { 0 };

	(void)state;
	a.vmstat_ok = b.vmstat_ok = true;
	a.mono_ms = 1000;
	b.mono_ms = 3000;
	a.vm.pgscan_background = 100;
	b.vm.pgscan_background = 300;
	a.vm.pgscan_direct = 10;
	b.vm.pgscan_direct = 50;
	b.vm.pgsteal_direct = 20;
	a.vm.refault = 5;
	b.vm.refault = 1;		/* went backwards: no negative rate */
	b.vm.allocstall = 4;
	b.vm.pswpout = 8;
	a.vm.oom_kill = 1;
	b.vm.oom_kill = 3;
	sample_rates(&a, &b);
	assert_true(b.rate.valid);
	assert_true(b.rate.interval_s == 2.0);
	assert_true(b.rate.pgscan == 120.0);
	assert_true(b.rate.pgscan_direct == 20.0);
	assert_true(b.rate.pgsteal == 10.0);
	assert_true(b.rate.refault == 0.0);
	assert_true(b.rate.allocstall == 2.0);
	assert_true(b.rate.pswpout == 4.0);
	assert_int_equal(b.rate.oom_kills, 2);
	/* first sample, or time not moving: no rates */
	sample_rates(NULL, &b);
	assert_false(b.rate.valid);
	a.mono_ms = 3000;
	sample_rates(&a, &b);
	assert_false(b.rate.valid);
}

int run_sample_tests(void)
{
	const struct CMUnitTest sample[] = {
		cmocka_unit_test(collect_guest),
		cmocka_unit_test(collect_without_psi),
		cmocka_unit_test(rates),
	};

	return RUN_GROUP(sample);
}
