// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

/*
 * Read one line into buf.  Returns its length (without the newline), or -1
 * at EOF.  A line longer than the buffer is consumed to its end and reported
 * as too long (*toolong) so callers skip it instead of misparsing its tail
 * as the next line.
 */
static long read_line(FILE *f, char *buf, size_t size, bool *toolong)
{
	size_t len;
	int c;

	*toolong = false;
	if (!fgets(buf, (int)size, f))
		return -1;
	len = strlen(buf);
	if (len && buf[len - 1] == '\n') {
		buf[--len] = '\0';
		return (long)len;
	}
	if (len + 1 == size) {
		/* no newline in a full buffer: swallow the rest */
		while ((c = fgetc(f)) != EOF && c != '\n')
			;
		*toolong = true;
	}
	return (long)len;
}

/* Unsigned decimal, no sign, no whitespace, fits in 64 bits. */
static bool parse_u64(const char *s, const char *end, uint64_t *out)
{
	uint64_t v = 0;

	if (s == end)
		return false;
	for (; s < end; s++) {
		unsigned int d;

		if (*s < '0' || *s > '9')
			return false;
		d = (unsigned int)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* A PSI average: "12.34" (digits, optional fraction), finite and >= 0. */
static bool parse_avg(const char *s, const char *end, double *out)
{
	char tmp[32];
	char *e;
	size_t n = (size_t)(end - s);
	double v;

	if (n == 0 || n >= sizeof(tmp))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
			return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	v = strtod(tmp, &e);
	if (*e || !isfinite(v) || v < 0)
		return false;
	*out = v;
	return true;
}

static int psi_parse_fields(char *p, struct psi_line *pl)
{
	unsigned int seen = 0;

	while (*p) {
		char *tok = p, *eq, *end;

		while (*p && *p != ' ')
			p++;
		end = p;
		while (*p == ' ')
			p++;
		eq = memchr(tok, '=', (size_t)(end - tok));
		if (!eq)
			return -EINVAL;
		if (!strncmp(tok, "avg10=", 6)) {
			if (!parse_avg(eq + 1, end, &pl->avg10))
				return -EINVAL;
			seen |= 1;
		} else if (!strncmp(tok, "avg60=", 6)) {
			if (!parse_avg(eq + 1, end, &pl->avg60))
				return -EINVAL;
			seen |= 2;
		} else if (!strncmp(tok, "avg300=", 7)) {
			if (!parse_avg(eq + 1, end, &pl->avg300))
				return -EINVAL;
			seen |= 4;
		} else if (!strncmp(tok, "total=", 6)) {
			if (!parse_u64(eq + 1, end, &pl->total_us))
				return -EINVAL;
			seen |= 8;
		}
		/* unknown key=value fields: a newer kernel, ignore */
	}
	return seen == 15 ? 0 : -EINVAL;
}

int psi_parse(FILE *f, struct psi_memory *out)
{
	char line[256];
	bool toolong, any = false;
	long n;

	memset(out, 0, sizeof(*out));
	while ((n = read_line(f, line, sizeof(line), &toolong)) >= 0) {
		struct psi_line pl = { 0 };
		bool *have;
		struct psi_line *dst;

		any = true;
		if (toolong)
			continue;
		if (!strncmp(line, "some ", 5)) {
			have = &out->have_some;
			dst = &out->some;
		} else if (!strncmp(line, "full ", 5)) {
			have = &out->have_full;
			dst = &out->full;
		} else {
			continue;
		}
		if (psi_parse_fields(line + 5, &pl) < 0)
			continue;
		*dst = pl;
		*have = true;
	}
	if (!any)
		return -ENODATA;
	/* a broken or missing "full" line still leaves a usable "some" */
	return out->have_some ? 0 : -EINVAL;
}

static void add_sat(uint64_t *acc, uint64_t v)
{
	*acc = *acc > UINT64_MAX - v ? UINT64_MAX : *acc + v;
}

/* Split "name value" (one or more spaces).  false for anything else. */
static bool split_name_value(char *line, char **name, uint64_t *val)
{
	char *sp = strchr(line, ' ');
	char *v;

	if (!sp || sp == line)
		return false;
	*sp = '\0';
	v = sp + 1;
	while (*v == ' ')
		v++;
	*name = line;
	return parse_u64(v, v + strlen(v), val);
}

int vmstat_parse(FILE *f, struct vmstat *out)
{
	static const struct {
		const char *name;
		size_t off;
		unsigned int bit;
		bool prefix;	/* name is a prefix (per-zone/per-type variants) */
	} keys[] = {
#define K(n, field, bit, pfx) { n, offsetof(struct vmstat, field), bit, pfx }
		K("pgscan_kswapd", pgscan_background, VMSTAT_HAVE_PGSCAN, false),
		K("pgscan_khugepaged", pgscan_background, VMSTAT_HAVE_PGSCAN, false),
		K("pgscan_direct", pgscan_direct, VMSTAT_HAVE_PGSCAN, false),
		K("pgsteal_kswapd", pgsteal_background, VMSTAT_HAVE_PGSTEAL, false),
		K("pgsteal_khugepaged", pgsteal_background, VMSTAT_HAVE_PGSTEAL, false),
		K("pgsteal_direct", pgsteal_direct, VMSTAT_HAVE_PGSTEAL, false),
		K("workingset_refault", refault, VMSTAT_HAVE_REFAULT, false),
		K("workingset_refault_anon", refault, VMSTAT_HAVE_REFAULT, false),
		K("workingset_refault_file", refault, VMSTAT_HAVE_REFAULT, false),
		K("allocstall", allocstall, VMSTAT_HAVE_ALLOCSTALL, false),
		K("allocstall_", allocstall, VMSTAT_HAVE_ALLOCSTALL, true),
		K("oom_kill", oom_kill, VMSTAT_HAVE_OOM_KILL, false),
		K("pswpin", pswpin, VMSTAT_HAVE_SWAP, false),
		K("pswpout", pswpout, VMSTAT_HAVE_SWAP, false),
		K("pgfault", pgfault, VMSTAT_HAVE_FAULTS, false),
		K("pgmajfault", pgmajfault, VMSTAT_HAVE_FAULTS, false),
#undef K
	};
	char line[128];
	bool toolong;

	memset(out, 0, sizeof(*out));
	while (read_line(f, line, sizeof(line), &toolong) >= 0) {
		char *name;
		uint64_t val;

		if (toolong || !split_name_value(line, &name, &val))
			continue;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			bool match = keys[i].prefix ?
				!strncmp(name, keys[i].name, strlen(keys[i].name)) :
				!strcmp(name, keys[i].name);

			if (match) {
				add_sat((uint64_t *)((char *)out + keys[i].off), val);
				out->present |= keys[i].bit;
				break;
			}
		}
	}
	return out->present ? 0 : -ENODATA;
}

int meminfo_parse(FILE *f, struct meminfo *out)
{
	static const struct {
		const char *name;
		size_t off;
		unsigned int bit;
	} keys[] = {
#define K(n, field, bit) { n, offsetof(struct meminfo, field), bit }
		K("MemTotal", total, MEMINFO_HAVE_TOTAL),
		K("MemFree", free, MEMINFO_HAVE_FREE),
		K("MemAvailable", available, MEMINFO_HAVE_AVAILABLE),
		K("Buffers", buffers, MEMINFO_HAVE_BUFFERS),
		K("Cached", cached, MEMINFO_HAVE_CACHED),
		K("SwapCached", swap_cached, 0),
		K("SwapTotal", swap_total, MEMINFO_HAVE_SWAP),
		K("SwapFree", swap_free, 0),
#undef K
	};
	char line[128];
	bool toolong;

	memset(out, 0, sizeof(*out));
	while (read_line(f, line, sizeof(line), &toolong) >= 0) {
		char *colon, *v, *end;
		uint64_t val;

		if (toolong || !(colon = strchr(line, ':')))
			continue;
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ')
			v++;
		end = v;
		while (*end >= '0' && *end <= '9')
			end++;
		/* "N kB" or a bare count; anything else is not a size */
		if (*end && strcmp(end, " kB"))
			continue;
		if (!parse_u64(v, end, &val))
			continue;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (!strcmp(line, keys[i].name)) {
				*(uint64_t *)((char *)out + keys[i].off) = val;
				out->present |= keys[i].bit;
				break;
			}
		}
	}
	if ((out->present & (MEMINFO_HAVE_TOTAL | MEMINFO_HAVE_FREE)) !=
	    (MEMINFO_HAVE_TOTAL | MEMINFO_HAVE_FREE))
		return -ENODATA;
	return 0;
}

uint64_t meminfo_available(const struct meminfo *mi)
{
	uint64_t v;

	if (mi->present & MEMINFO_HAVE_AVAILABLE)
		return mi->available;
	v = mi->free;
	add_sat(&v, mi->buffers);
	add_sat(&v, mi->cached);
	return v;
}
