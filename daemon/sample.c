// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sample.h"

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t mono_now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

uint64_t wall_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

static FILE *open_proc(const char *root, const char *name)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, name) >= sizeof(path))
		return NULL;
	return fopen(path, "re");
}

int sample_collect(struct sample *s, const char *proc_root)
{
	FILE *f;

	memset(s, 0, sizeof(*s));
	s->mono_ms = mono_now_ms();
	s->wall_ms = wall_now_ms();

	f = open_proc(proc_root, "pressure/memory");
	if (f) {
		s->psi_ok = psi_parse(f, &s->psi) == 0;
		fclose(f);
	}
	f = open_proc(proc_root, "vmstat");
	if (f) {
		s->vmstat_ok = vmstat_parse(f, &s->vm) == 0;
		fclose(f);
	}
	f = open_proc(proc_root, "meminfo");
	if (f) {
		s->meminfo_ok = meminfo_parse(f, &s->mem) == 0;
		fclose(f);
	}
	return s->meminfo_ok ? 0 : -ENODATA;
}

/* Counters only grow; a smaller value means a reset (or a bad read): rate 0. */
static double per_sec(uint64_t before, uint64_t after, double secs)
{
	return after >= before ? (double)(after - before) / secs : 0.0;
}

void sample_rates(const struct sample *prev, struct sample *cur)
{
	const struct vmstat *a, *b;
	double dt;

	memset(&cur->rate, 0, sizeof(cur->rate));
	if (!prev || !prev->vmstat_ok || !cur->vmstat_ok || cur->mono_ms <= prev->mono_ms)
		return;
	a = &prev->vm;
	b = &cur->vm;
	dt = (double)(cur->mono_ms - prev->mono_ms) / 1000.0;
	cur->rate.valid = true;
	cur->rate.interval_s = dt;
	cur->rate.pgscan = per_sec(a->pgscan_background + a->pgscan_direct,
				   b->pgscan_background + b->pgscan_direct, dt);
	cur->rate.pgscan_direct = per_sec(a->pgscan_direct, b->pgscan_direct, dt);
	cur->rate.pgsteal = per_sec(a->pgsteal_background + a->pgsteal_direct,
				    b->pgsteal_background + b->pgsteal_direct, dt);
	cur->rate.refault = per_sec(a->refault, b->refault, dt);
	cur->rate.allocstall = per_sec(a->allocstall, b->allocstall, dt);
	cur->rate.pswpin = per_sec(a->pswpin, b->pswpin, dt);
	cur->rate.pswpout = per_sec(a->pswpout, b->pswpout, dt);
	cur->rate.pgmajfault = per_sec(a->pgmajfault, b->pgmajfault, dt);
	cur->rate.oom_kills = b->oom_kill >= a->oom_kill ? b->oom_kill - a->oom_kill : 0;
}
