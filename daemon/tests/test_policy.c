// SPDX-License-Identifier: GPL-2.0
#include "unit.h"
#include "config.h"
#include "policy.h"

#define DOO (1ull << MB_FEATURE_DEFLATE_ON_OOM)

/* The guard rails as memballoond.conf's defaults set them. */
static void policy_defaults(struct policy_config *pc)
{
	struct config c;

	config_defaults(&c);
	*pc = c.policy;
}

static struct psi_memory full(double avg10)
{
	struct psi_memory p = { .have_some = true, .have_full = true };

	p.some.avg10 = avg10;
	p.full.avg10 = avg10;
	return p;
}

static void off_by_default(void **state)
{
	struct policy_config pc;
	struct policy_state ps;
	struct policy_action a[4];
	struct mb_dev d = { .id = 1, .features = DOO, .ram_pages = 524288, .actual_pages = 262144 };
	struct psi_memory p = full(90);

	(void)state;
	policy_defaults(&pc);
	policy_state_init(&ps);
	for (uint64_t t = 1000; t < 100000; t += 1000)
		assert_int_equal(policy_evaluate(&pc, &ps, &p, &d, 1, t, a, 4), 0);
}

static void release_after_hold(void **state)
{
	struct policy_config pc;
	struct policy_state ps;
	struct policy_action a[4];
	struct mb_dev d[2] = {
		{ .id = 1, .features = DOO, .actual_pages = 262144 },
		{ .id = 2, .features = 0, .actual_pages = 262144 },	/* no DEFLATE_ON_OOM */
	};
	struct psi_memory hi = full(20), lo = full(5);

	(void)state;
	policy_defaults(&pc);
	pc.release_enabled = true;
	pc.release_full_avg10 = 10;
	pc.release_hold_s = 10;
	pc.release_interval_s = 30;
	pc.release_pages = 65536;
	policy_state_init(&ps);
	assert_int_equal(policy_evaluate(&pc, &ps, &hi, d, 2, 1000, a, 4), 0);
	assert_int_equal(policy_evaluate(&pc, &ps, &hi, d, 2, 10999, a, 4), 0);
	assert_int_equal(policy_evaluate(&pc, &ps, &hi, d, 2, 11000, a, 4), 1);
	assert_int_equal(a[0].kind, POLICY_RELEASE);
	assert_int_equal(a[0].dev_id, 1);
	assert_int_equal(a[0].pages, 65536);
	assert_non_null(strstr(a[0].reason, "full pressure avg10 20.00% >= 10.00% for 10 s"));
	/* not again before release_interval */
	assert_int_equal(policy_evaluate(&pc, &ps, &hi, d, 2, 40999, a, 4), 0);
	assert_int_equal(policy_evaluate(&pc, &ps, &hi, d, 2, 41000, a, 4), 1);
	/* pressure gone: the hold starts over */
	assert_int_equal(policy_evaluate(&pc, &ps, &lo, d, 2, 42000, a, 4), 0);
	assert_int_equal(policy_evaluate(&pc, &ps, &hi, d, 2, 80000, a, 4), 0);
	assert_int_equal(policy_evaluate(&pc, &ps, &hi, d, 2, 90000, a, 4), 1);
}

static void release_edges(void **state)
{
	struct policy_config pc;
	struct policy_state ps;
	struct policy_action a[4];
	struct mb_dev d = { .id = 1, .features = DOO, .actual_pages = 100 };
	struct psi_memory hi = full(50), nofull = full(50);

	(void)state;
	policy_defaults(&pc);
	pc.release_enabled = true;
	pc.release_hold_s = 0;
	policy_state_init(&ps);
	/* never more than the balloon holds */
	assert_int_equal(policy_evaluate(&pc, &ps, &hi, &d, 1, 5, a, 4), 1);
	assert_int_equal(a[0].pages, 100);
	/* an empty balloon, no "full" line, no PSI at all: nothing */
	policy_state_init(&ps);
	d.actual_pages = 0;
	assert_int_equal(policy_evaluate(&pc, &ps, &hi, &d, 1, 5, a, 4), 0);
	d.actual_pages = 100;
	nofull.have_full = false;
	assert_int_equal(policy_evaluate(&pc, &ps, &nofull, &d, 1, 5, a, 4), 0);
	assert_int_equal(policy_evaluate(&pc, &ps, NULL, &d, 1, 5, a, 4), 0);
	/* room for fewer actions than devices */
	assert_int_equal(policy_evaluate(&pc, &ps, &hi, &d, 1, 5, a, 0), 0);
}

static void floor_once(void **state)
{
	struct policy_config pc;
	struct policy_state ps;
	struct policy_action a[4];
	struct mb_dev d = { .id = 4, .ram_pages = 524288 };

	(void)state;
	policy_defaults(&pc);
	pc.floor_percent = 25;
	policy_state_init(&ps);
	assert_int_equal(policy_floor_pages(&pc, &d), 131072);
	assert_int_equal(policy_evaluate(&pc, &ps, NULL, &d, 1, 1, a, 4), 1);
	assert_int_equal(a[0].kind, POLICY_SET_FLOOR);
	assert_int_equal(a[0].pages, 131072);
	assert_string_equal(a[0].reason, "configured floor 512 MiB");
	/* once per appearance: an admin's later change stands */
	d.floor_pages = 7;
	assert_int_equal(policy_evaluate(&pc, &ps, NULL, &d, 1, 2, a, 4), 0);
	policy_forget_device(&ps, 4);
	assert_int_equal(policy_evaluate(&pc, &ps, NULL, &d, 1, 3, a, 4), 1);
	/* already at the floor: nothing to do */
	policy_state_init(&ps);
	d.floor_pages = 131072;
	assert_int_equal(policy_evaluate(&pc, &ps, NULL, &d, 1, 4, a, 4), 0);
	/* an absolute floor wins over a percentage */
	pc.floor_pages = 1000;
	assert_int_equal(policy_floor_pages(&pc, &d), 1000);
	/* percent of a huge RAM does not overflow */
	pc.floor_pages = 0;
	pc.floor_percent = 100;
	d.ram_pages = UINT64_MAX;
	assert_true(policy_floor_pages(&pc, &d) == UINT64_MAX);
}

int run_policy_tests(void)
{
	const struct CMUnitTest policy[] = {
		cmocka_unit_test(off_by_default),
		cmocka_unit_test(release_after_hold),
		cmocka_unit_test(release_edges),
		cmocka_unit_test(floor_once),
	};

	return RUN_GROUP(policy);
}
