/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsers for /proc/pressure/memory, /proc/vmstat and /proc/meminfo.
 * They take a FILE * so tests and fuzzers feed fixtures; none trusts the
 * input (truncated files, missing lines, absurd values are all expected).
 */
#ifndef MB_PROCFS_H
#define MB_PROCFS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* One line of a PSI file: "some avg10=0.12 avg60=0.05 avg300=0.01 total=12345". */
struct psi_line {
	double avg10, avg60, avg300;	/* percent of wall time stalled */
	uint64_t total_us;		/* cumulative stall time */
};

struct psi_memory {
	bool have_some;
	bool have_full;		/* "full" is missing on some kernels/resources */
	struct psi_line some;
	struct psi_line full;
};

/* 0 when the "some" line parsed; -EINVAL on a malformed/truncated file, -ENODATA if empty. */
int psi_parse(FILE *f, struct psi_memory *out);

/* The /proc/vmstat counters a pressure sample needs, summed over variants. */
struct vmstat {
	uint64_t pgscan_background;	/* pgscan_kswapd + pgscan_khugepaged */
	uint64_t pgscan_direct;
	uint64_t pgsteal_background;
	uint64_t pgsteal_direct;
	uint64_t refault;		/* workingset_refault{,_anon,_file} */
	uint64_t allocstall;		/* allocstall{,_dma,_dma32,_normal,_movable,_device} */
	uint64_t oom_kill;
	uint64_t pswpin, pswpout;	/* pages */
	uint64_t pgfault, pgmajfault;
	unsigned int present;		/* VMSTAT_HAVE_* bits */
};

enum {
	VMSTAT_HAVE_PGSCAN = 1 << 0,
	VMSTAT_HAVE_PGSTEAL = 1 << 1,
	VMSTAT_HAVE_REFAULT = 1 << 2,
	VMSTAT_HAVE_ALLOCSTALL = 1 << 3,
	VMSTAT_HAVE_OOM_KILL = 1 << 4,
	VMSTAT_HAVE_SWAP = 1 << 5,
	VMSTAT_HAVE_FAULTS = 1 << 6,
};

/* 0 if any known counter was found, -ENODATA otherwise.  Bad lines are skipped. */
int vmstat_parse(FILE *f, struct vmstat *out);

/* /proc/meminfo, in KiB. */
struct meminfo {
	uint64_t total, free, available, buffers, cached, swap_cached;
	uint64_t swap_total, swap_free;
	unsigned int present;		/* MEMINFO_HAVE_* bits */
};

enum {
	MEMINFO_HAVE_TOTAL = 1 << 0,
	MEMINFO_HAVE_FREE = 1 << 1,
	MEMINFO_HAVE_AVAILABLE = 1 << 2,
	MEMINFO_HAVE_BUFFERS = 1 << 3,
	MEMINFO_HAVE_CACHED = 1 << 4,
	MEMINFO_HAVE_SWAP = 1 << 5,
};

/* 0 if MemTotal and MemFree were found, -ENODATA otherwise. */
int meminfo_parse(FILE *f, struct meminfo *out);

/* MemAvailable, or its pre-3.14 estimate MemFree + Buffers + Cached. */
uint64_t meminfo_available(const struct meminfo *mi);

#endif
