/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A pressure sample: PSI, the vmstat counters and meminfo at one instant,
 * plus rates against the previous sample.
 */
#ifndef MB_SAMPLE_H
#define MB_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#include "procfs.h"

struct sample_rates {
	bool valid;		/* false for the first sample */
	double interval_s;	/* seconds since the previous sample */
	double pgscan;		/* pages scanned per second (background + direct) */
	double pgscan_direct;
	double pgsteal;		/* pages reclaimed per second */
	double refault;		/* working-set refaults per second */
	double allocstall;	/* direct-reclaim allocation stalls per second */
	double pswpin, pswpout;	/* pages swapped per second */
	double pgmajfault;
	uint64_t oom_kills;	/* OOM kills since the previous sample */
};

struct sample {
	uint64_t mono_ms;	/* CLOCK_MONOTONIC */
	uint64_t wall_ms;	/* CLOCK_REALTIME */
	bool psi_ok;
	bool vmstat_ok;
	bool meminfo_ok;
	struct psi_memory psi;
	struct vmstat vm;
	struct meminfo mem;
	struct sample_rates rate;
};

/*
 * Read PROC_ROOT/pressure/memory, PROC_ROOT/vmstat and PROC_ROOT/meminfo
 * (PROC_ROOT is "/proc" except in tests).  Missing files leave the part
 * invalid.  Returns 0 if at least meminfo could be read.
 */
int sample_collect(struct sample *s, const char *proc_root);

/* Fill cur->rate from the counter deltas since prev (NULL: none yet). */
void sample_rates(const struct sample *prev, struct sample *cur);

uint64_t mono_now_ms(void);
uint64_t wall_now_ms(void);

#endif
