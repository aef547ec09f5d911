// SPDX-License-Identifier: GPL-2.0
#include <errno.h>

#include "unit.h"
#include "procfs.h"

static int psi_file(const char *name, struct psi_memory *p)
{
	FILE *f = fixture(name);
	int rc = psi_parse(f, p);

	fclose(f);
	return rc;
}

static void psi_guest_pressure(void **state)
{
	struct psi_memory p;

	(void)state;
	assert_int_equal(psi_file("psi-guest-6.1-pressure.txt", &p), 0);
	assert_true(p.have_some && p.have_full);
	assert_true(p.some.avg10 > 34.76 && p.some.avg10 < 34.78);
	assert_true(p.some.avg60 > 6.91 && p.some.avg60 < 6.93);
	assert_true(p.some.avg300 > 1.46 && p.some.avg300 < 1.48);
	assert_int_equal(p.some.total_us, 5723361);
	assert_true(p.full.avg10 > 33.73 && p.full.avg10 < 33.75);
	assert_int_equal(p.full.total_us, 5493866);
}

static void psi_guest_idle(void **state)
{
	struct psi_memory p;

	(void)state;
	assert_int_equal(psi_file("psi-guest-6.1-idle.txt", &p), 0);
	assert_true(p.have_some && p.have_full);
	assert_true(p.some.avg10 == 0 && p.full.avg300 == 0);
	assert_int_equal(p.some.total_us, 0);
	assert_int_equal(p.full.total_us, 0);
}

/*
 * A 6.18 host while a 48 MiB memory cgroup re-read a 512 MiB file: "full"
 * stalls add up to a total whose averages still round to 0.00.
 */
static void psi_host_reclaim(void **state)
{
	struct psi_memory p;

	(void)state;
	assert_int_equal(psi_file("psi-host-6.18.txt", &p), 0);
	assert_true(p.have_some && p.have_full);
	assert_true(p.some.avg10 > 4.39 && p.some.avg10 < 4.41);
	assert_true(p.some.avg60 > 1.37 && p.some.avg60 < 1.39);
	assert_true(p.some.avg300 > 0.31 && p.some.avg300 < 0.33);
	assert_int_equal(p.some.total_us, 1083674);
	assert_true(p.full.avg10 == 0 && p.full.avg60 == 0 && p.full.avg300 == 0);
	assert_int_equal(p.full.total_us, 80534);
}

static void psi_missing_full(void **state)
{
	struct psi_memory p;

	(void)state;
	assert_int_equal(psi_file("psi-no-full.txt", &p), 0);
	assert_true(p.have_some);
	assert_false(p.have_full);
	assert_int_equal(p.some.total_us, 424242);
	/* a cut-off "full" line is the same as none */
	assert_int_equal(psi_file("psi-truncated-full.txt", &p), 0);
	assert_true(p.have_some);
	assert_false(p.have_full);
	assert_int_equal(p.some.total_us, 123);
}

static void psi_broken(void **state)
{
	struct psi_memory p;

	(void)state;
	assert_int_equal(psi_file("psi-truncated-some.txt", &p), -EINVAL);
	assert_int_equal(psi_file("psi-empty.txt", &p), -ENODATA);
	assert_int_equal(psi_file("psi-nan.txt", &p), -EINVAL);
	/* total one past 2^64-1: that line is unusable */
	assert_int_equal(psi_file("psi-overflow.txt", &p), -EINVAL);
	assert_true(p.have_full);
}

static void psi_extremes(void **state)
{
	struct psi_memory p;
	FILE *f;

	(void)state;
	assert_int_equal(psi_file("psi-huge.txt", &p), 0);
	assert_true(p.some.total_us == UINT64_MAX && p.full.total_us == UINT64_MAX);
	assert_true(p.some.avg10 == 100.0);
	assert_int_equal(psi_file("psi-extra-field.txt", &p), 0);
	assert_int_equal(p.full.total_us, 50);
	/* signs, exponents, spaces in values are not PSI */
	f = text("some avg10=-1.00 avg60=0.00 avg300=0.00 total=1\n");
	assert_int_equal(psi_parse(f, &p), -EINVAL);
	fclose(f);
	f = text("some avg10=1e3 avg60=0.00 avg300=0.00 total=1\n");
	assert_int_equal(psi_parse(f, &p), -EINVAL);
	fclose(f);
	f = text("some avg10=1.00 avg60=0.00 avg300=0.00 total=+1\n");
	assert_int_equal(psi_parse(f, &p), -EINVAL);
	fclose(f);
}

static void psi_long_line(void **state)
{
	char buf[2048];
	struct psi_memory p;
	FILE *f;

	(void)state;
	/* an overlong first line must not spill into the next one */
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "full avg10=1.00 avg60=0.00 avg300=0.00 total=5 ", 47);
	snprintf(buf + 1500, sizeof(buf) - 1500,
		 "\nsome avg10=2.00 avg60=0.00 avg300=0.00 total=7\n");
	f = text(buf);
	assert_int_equal(psi_parse(f, &p), 0);
	assert_false(p.have_full);
	assert_int_equal(p.some.total_us, 7);
	fclose(f);
}

static int vm_file(const char *name, struct vmstat *v)
{
	FILE *f = fixture(name);
	int rc = vmstat_parse(f, v);

	fclose(f);
	return rc;
}

static void vmstat_real(void **state)
{
	struct vmstat v;

	(void)state;
	assert_int_equal(vm_file("vmstat-guest-6.1-pressure.txt", &v), 0);
	assert_int_equal(v.pgfault, 4261);
	assert_int_equal(v.pgmajfault, 0);
	assert_int_equal(v.present & (VMSTAT_HAVE_PGSCAN | VMSTAT_HAVE_PGSTEAL | VMSTAT_HAVE_REFAULT |
				      VMSTAT_HAVE_ALLOCSTALL | VMSTAT_HAVE_OOM_KILL |
				      VMSTAT_HAVE_SWAP | VMSTAT_HAVE_FAULTS), 0x7f);
	assert_int_equal(vm_file("vmstat-host-6.18.txt", &v), 0);
	assert_int_equal(v.pgfault, 25314026);
	assert_int_equal(v.pgmajfault, 766);
}

static void vmstat_old_names(void **state)
{
	struct vmstat v;

	(void)state;
	assert_int_equal(vm_file("vmstat-4.9.txt", &v), 0);
	assert_int_equal(v.refault, 100);
	assert_int_equal(v.allocstall, 7);
	assert_int_equal(v.pgscan_background, 10);
	assert_int_equal(v.pgscan_direct, 5);
	assert_int_equal(v.pgsteal_background, 8);
	assert_int_equal(v.pgsteal_direct, 4);
	assert_int_equal(v.pswpin, 3);
	assert_int_equal(v.pswpout, 6);
	assert_false(v.present & VMSTAT_HAVE_OOM_KILL);
}

static void vmstat_sums(void **state)
{
	struct vmstat v;
	FILE *f;

	(void)state;
	f = text("pgscan_kswapd 1\npgscan_khugepaged 2\npgscan_direct 4\npgscan_direct_throttle 99\n"
		 "pgscan_anon 50\npgsteal_kswapd 10\npgsteal_khugepaged 20\n"
		 "workingset_refault_anon 3\nworkingset_refault_file 4\nworkingset_refault_foo 100\n"
		 "allocstall_dma 1\nallocstall_dma32 2\nallocstall_normal 3\nallocstall_movable 4\n"
		 "allocstall_device 5\n");
	assert_int_equal(vmstat_parse(f, &v), 0);
	fclose(f);
	assert_int_equal(v.pgscan_background, 3);
	assert_int_equal(v.pgscan_direct, 4);
	assert_int_equal(v.pgsteal_background, 30);
	assert_int_equal(v.refault, 7);
	assert_int_equal(v.allocstall, 15);
}

static void vmstat_edges(void **state)
{
	struct vmstat v;
	FILE *f;

	(void)state;
	/* saturating sums, a value past 2^64 ignored */
	assert_int_equal(vm_file("vmstat-huge.txt", &v), 0);
	assert_true(v.pgscan_background == UINT64_MAX);
	assert_true(v.allocstall == UINT64_MAX);
	assert_true(v.oom_kill == UINT64_MAX);
	assert_int_equal(v.pgfault, 0);
	/* cut mid-line: what came before still counts */
	assert_int_equal(vm_file("vmstat-truncated.txt", &v), 0);
	assert_true(v.present & VMSTAT_HAVE_SWAP);
	assert_true(v.present & VMSTAT_HAVE_ALLOCSTALL);
	assert_false(v.present & (VMSTAT_HAVE_FAULTS | VMSTAT_HAVE_OOM_KILL));
	/* bad lines are skipped, good ones kept */
	assert_int_equal(vm_file("vmstat-garbage.txt", &v), 0);
	assert_int_equal(v.pgfault, 0);
	assert_int_equal(v.pgmajfault, 0);
	assert_int_equal(v.oom_kill, 0);
	assert_int_equal(v.pswpin, 4);
	assert_int_equal(v.allocstall, 2);
	f = text("");
	assert_int_equal(vmstat_parse(f, &v), -ENODATA);
	fclose(f);
}

static int mi_file(const char *name, struct meminfo *m)
{
	FILE *f = fixture(name);
	int rc = meminfo_parse(f, m);

	fclose(f);
	return rc;
}

static void meminfo_real(void **state)
{
	struct meminfo m;

	(void)state;
	assert_int_equal(mi_file("meminfo-guest-6.1.txt", &m), 0);
	assert_int_equal(m.total, 2014152);
	assert_int_equal(m.free, 1965296);
	assert_int_equal(m.available, 1894428);
	assert_int_equal(m.cached, 9348);
	assert_int_equal(meminfo_available(&m), 1894428);
	assert_int_equal(mi_file("meminfo-host-6.18.txt", &m), 0);
	assert_int_equal(m.total, 24731708);
	assert_int_equal(m.buffers, 202416);
}

static void meminfo_edges(void **state)
{
	struct meminfo m;

	(void)state;
	/* before Linux 3.14: MemFree + Buffers + Cached */
	assert_int_equal(mi_file("meminfo-no-available.txt", &m), 0);
	assert_false(m.present & MEMINFO_HAVE_AVAILABLE);
	assert_int_equal(meminfo_available(&m), 1965296 + 0 + 9348);
	assert_int_equal(mi_file("meminfo-truncated.txt", &m), -ENODATA);
	assert_int_equal(mi_file("meminfo-huge.txt", &m), 0);
	assert_true(meminfo_available(&m) == UINT64_MAX);
}

int run_procfs_tests(void)
{
	const struct CMUnitTest procfs[] = {
		cmocka_unit_test(psi_guest_pressure),
		cmocka_unit_test(psi_guest_idle),
		cmocka_unit_test(psi_host_reclaim),
		cmocka_unit_test(psi_missing_full),
		cmocka_unit_test(psi_broken),
		cmocka_unit_test(psi_extremes),
		cmocka_unit_test(psi_long_line),
		cmocka_unit_test(vmstat_real),
		cmocka_unit_test(vmstat_old_names),
		cmocka_unit_test(vmstat_sums),
		cmocka_unit_test(vmstat_edges),
		cmocka_unit_test(meminfo_real),
		cmocka_unit_test(meminfo_edges),
	};

	return RUN_GROUP(procfs);
}
