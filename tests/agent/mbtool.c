// SPDX-License-Identifier: GPL-2.0
/*
 * mbtool - tiny static helper run inside the test guest.
 *
 *   mbtool touch MIB          allocate MIB MiB, write every page, free, exit
 *   mbtool hog MIB [SECONDS]  allocate and write MIB MiB, print "hogging",
 *                             hold it SECONDS (default: until killed)
 *   mbtool frag MIB [SECONDS] allocate and write MIB MiB, give every other
 *                             128 KiB back, print "fragmented", hold the
 *                             rest SECONDS (default: until killed)
 *   mbtool fill MIB           allocate MIB MiB, write a pattern unique to
 *                             each 8-byte word, read it all back, free
 *   mbtool meminfo            print /proc/meminfo as "Key kB" lines
 *   mbtool probe PERIOD_US    a workload's latency: every PERIOD_US (absolute
 *                             deadlines) write a byte to each page of a
 *                             1 MiB buffer; on SIGTERM print the latency
 *                             percentiles, deadline to the work's end
 *
 * fill catches a page frame handed out twice (two virtual pages of the
 * mapping would share it) and lost or corrupted contents.
 *
 * Exit codes: 0 ok, 1 allocation failed, 2 usage, 3 pattern mismatch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long parse_ulong(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *s == '\0' || *end != '\0') {
		fprintf(stderr, "mbtool: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

/* The arguments "MIB [SECONDS]"; false for a wrong count. */
static bool parse_mib_secs(int argc, char **argv, unsigned long *mib,
			   unsigned long *secs)
{
	if (argc < 1 || argc > 2)
		return false;
	*mib = parse_ulong(argv[0], "MiB");
	*secs = argc == 2 ? parse_ulong(argv[1], "seconds") : 0;
	return true;
}

/* Keep what was taken for @secs seconds, or until killed (0). */
static void hold(unsigned long secs)
{
	if (secs) {
		sleep((unsigned int)secs);
	} else {
		for (;;)
			pause();
	}
}

/* Map and write every page; returns the mapping or NULL. */
static char *alloc_touch(unsigned long mib)
{
	size_t len = mib * MIB;
	long pg = sysconf(_SC_PAGESIZE);
	char *p;
	size_t off;
	double t0 = now();

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "mbtool: mmap %lu MiB: %s\n", mib, strerror(errno));
		return NULL;
	}
	for (off = 0; off < len; off += (size_t)pg)
		p[off] = (char)(off / (size_t)pg) | 1;
	printf("touched %lu MiB in %.3f s\n", mib, now() - t0);
	fflush(stdout);
	return p;
}

static int cmd_touch(int argc, char **argv)
{
	unsigned long mib;
	char *p;

	if (argc != 1)
		return 2;
	mib = parse_ulong(argv[0], "MiB");
	p = alloc_touch(mib);
	if (!p)
		return 1;
	munmap(p, mib * MIB);
	return 0;
}

static int cmd_fill(int argc, char **argv)
{
	const uint64_t seed = 0x9e3779b97f4a7c15ULL;
	unsigned long mib;
	uint64_t *w, i, n, bad = 0;
	double t0;

	if (argc != 1)
		return 2;
	mib = parse_ulong(argv[0], "MiB");
	w = mmap(NULL, mib * MIB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (w == MAP_FAILED) {
		fprintf(stderr, "mbtool: mmap %lu MiB: %s\n", mib, strerror(errno));
		return 1;
	}
	t0 = now();
	n = mib * MIB / sizeof(*w);
	for (i = 0; i < n; i++)
		w[i] = (i + 1) * seed;
	for (i = 0; i < n; i++) {
		if (w[i] != (i + 1) * seed) {
			if (!bad)
				fprintf(stderr, "mbtool: word %llu (page %llu) holds %#llx, wrote %#llx\n",
					(unsigned long long)i,
					(unsigned long long)(i * sizeof(*w) / 4096),
					(unsigned long long)w[i],
					(unsigned long long)((i + 1) * seed));
			bad++;
		}
	}
	munmap(w, mib * MIB);
	if (bad) {
		printf("filled %lu MiB: %llu words differ\n", mib, (unsigned long long)bad);
		return 3;
	}
	printf("filled and verified %lu MiB in %.3f s\n", mib, now() - t0);
	return 0;
}

static int cmd_hog(int argc, char **argv)
{
	unsigned long mib, secs;
	char *p;

	if (!parse_mib_secs(argc, argv, &mib, &secs))
		return 2;
	p = alloc_touch(mib);
	if (!p)
		return 1;
	printf("hogging\n");
	fflush(stdout);
	hold(secs);
	munmap(p, mib * MIB);
	return 0;
}

/*
 * Leave the memory frag gave back as holes between pages still in use, so
 * that no free 2 MiB block forms from it: the pages it keeps are 4 KiB
 * anonymous pages (movable), in 128 KiB runs.
 */
#define FRAG_CHUNK (128UL * 1024UL)

static int cmd_frag(int argc, char **argv)
{
	unsigned long mib, secs;
	size_t len, off;
	char *p;

	if (!parse_mib_secs(argc, argv, &mib, &secs))
		return 2;
	len = mib * MIB;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "mbtool: mmap %lu MiB: %s\n", mib, strerror(errno));
		return 1;
	}
	/* 4 KiB pages: a huge page would be freed whole or not at all. */
	madvise(p, len, MADV_NOHUGEPAGE);
	for (off = 0; off < len; off += 4096)
		p[off] = 1;
	/* All touched first: a page given back early would be taken again. */
	for (off = FRAG_CHUNK; off + FRAG_CHUNK <= len; off += 2 * FRAG_CHUNK)
		madvise(p + off, FRAG_CHUNK, MADV_DONTNEED);
	printf("fragmented %lu MiB, keeping half\n", mib);
	fflush(stdout);
	hold(secs);
	munmap(p, len);
	return 0;
}

static int cmd_meminfo(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];

	if (!f) {
		perror("mbtool: /proc/meminfo");
		return 1;
	}
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
	return 0;
}

static volatile sig_atomic_t probe_stop;

static void probe_signal(int sig)
{
	(void)sig;
	probe_stop = 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double ts_us(const struct timespec *ts)
{
	return (double)ts->tv_sec * 1e6 + (double)ts->tv_nsec / 1e3;
}

/* Until SIGTERM/SIGINT: "probe N ticks p50 A p99 B max C us late D". */
static int cmd_probe(int argc, char **argv)
{
	const size_t cap = 1UL << 20, len = MIB;
	long pg = sysconf(_SC_PAGESIZE);
	struct sigaction sa = { .sa_handler = probe_signal };
	struct timespec next, end;
	unsigned long period_us;
	size_t n = 0, late = 0, off;
	double *lat;
	char *buf;

	if (argc != 1)
		return 2;
	period_us = parse_ulong(argv[0], "period");
	if (!period_us || period_us >= 1000000)
		return 2;
	lat = malloc(cap * sizeof(*lat));
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!lat || buf == MAP_FAILED) {
		fprintf(stderr, "mbtool: probe: no memory\n");
		return 1;
	}
	memset(buf, 1, len);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("probing every %lu us\n", period_us);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!probe_stop && n < cap) {
		next.tv_nsec += (long)period_us * 1000;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL))
			continue;	/* a signal: the loop's test ends it */
		for (off = 0; off < len; off += (size_t)pg)
			buf[off]++;
		clock_gettime(CLOCK_MONOTONIC, &end);
		lat[n++] = ts_us(&end) - ts_us(&next);
		if (ts_us(&end) - ts_us(&next) > (double)period_us) {
			next = end;	/* ticks missed: no burst to catch up */
			late++;
		}
	}
	if (!n) {
		fprintf(stderr, "mbtool: probe: no tick\n");
		return 1;
	}
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("probe %zu ticks p50 %.0f p99 %.0f max %.0f us late %zu\n", n,
	       lat[(n - 1) / 2], lat[(size_t)((double)(n - 1) * 0.99)], lat[n - 1], late);
	free(lat);
	munmap(buf, len);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: mbtool touch MIB | hog MIB [SECONDS] | frag MIB [SECONDS] | fill MIB | meminfo\n"
		"       | probe PERIOD_US\n");
}

int main(int argc, char **argv)
{
	int rc = 2;

	if (argc < 2) {
		usage();
		return 2;
	}
	if (!strcmp(argv[1], "touch"))
		rc = cmd_touch(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "fill"))
		rc = cmd_fill(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "hog"))
		rc = cmd_hog(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "frag"))
		rc = cmd_frag(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "meminfo"))
		rc = cmd_meminfo();
	else if (!strcmp(argv[1], "probe"))
		rc = cmd_probe(argc - 2, argv + 2);
	if (rc == 2)
		usage();
	return rc;
}
