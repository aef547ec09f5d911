// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "json.h"
#include "report.h"

#define U64(x) ((unsigned long long)(x))

void report_device(struct strbuf *sb, const struct mb_dev *d)
{
	bool first = true;

	sb_puts(sb, "{\"name\":");
	json_str(sb, d->name);
	sb_printf(sb, ",\"id\":%u", d->id);
	sb_printf(sb, ",\"ram_pages\":%llu,\"ram_mib\":%llu", U64(d->ram_pages),
		  U64(mb_pages_to_mib(d->ram_pages)));
	sb_printf(sb, ",\"target_pages\":%u,\"target_mib\":%llu", d->target_pages,
		  U64(mb_pages_to_mib(d->target_pages)));
	sb_printf(sb, ",\"actual_pages\":%u,\"actual_mib\":%llu", d->actual_pages,
		  U64(mb_pages_to_mib(d->actual_pages)));
	sb_printf(sb, ",\"floor_pages\":%llu,\"reserve_pages\":%llu", U64(d->floor_pages),
		  U64(d->reserve_pages));
	sb_printf(sb, ",\"features_raw\":%llu,\"features\":[", U64(d->features));
	for (unsigned int bit = 0; bit < 64; bit++) {
		const char *name;
		char tmp[16];

		if (!(d->features & (1ull << bit)))
			continue;
		name = mb_feature_name(bit);
		if (!name) {
			snprintf(tmp, sizeof(tmp), "bit%u", bit);
			name = tmp;
		}
		if (!first)
			sb_puts(sb, ",");
		json_str(sb, name);
		first = false;
	}
	sb_printf(sb, "],\"counters\":{\"inflated\":%llu,\"deflated\":%llu,"
		  "\"alloc_failures\":%llu,\"oom_deflates\":%llu,\"oom_pages\":%llu,"
		  "\"reported_pages\":%llu,\"hinted_pages\":%llu,\"stats_requests\":%llu,"
		  "\"migrated\":%llu}}",
		  U64(d->inflated), U64(d->deflated), U64(d->alloc_failures),
		  U64(d->oom_deflates), U64(d->oom_pages), U64(d->reported_pages),
		  U64(d->hinted_pages), U64(d->stats_requests), U64(d->migrated));
}

/* "name":1.23 after sep (a percentage or a rate: two decimals) */
static void num2(struct strbuf *sb, const char *sep, const char *name, double v)
{
	sb_printf(sb, "%s\"%s\":", sep, name);
	json_num2(sb, v);
}

static void psi_line(struct strbuf *sb, const struct psi_line *l)
{
	num2(sb, "{", "avg10", l->avg10);
	num2(sb, ",", "avg60", l->avg60);
	num2(sb, ",", "avg300", l->avg300);
	sb_printf(sb, ",\"total_us\":%llu}", U64(l->total_us));
}

static void report_psi(struct strbuf *sb, const struct sample *s)
{
	if (!s || !s->psi_ok) {
		sb_puts(sb, "\"psi\":null");
		return;
	}
	sb_puts(sb, "\"psi\":{\"some\":");
	psi_line(sb, &s->psi.some);
	sb_puts(sb, ",\"full\":");
	if (s->psi.have_full)
		psi_line(sb, &s->psi.full);
	else
		sb_puts(sb, "null");
	sb_puts(sb, "}");
}

static void report_memory(struct strbuf *sb, const struct sample *s)
{
	const struct meminfo *m;

	if (!s || !s->meminfo_ok) {
		sb_puts(sb, "\"memory_kib\":null");
		return;
	}
	m = &s->mem;
	sb_printf(sb, "\"memory_kib\":{\"total\":%llu,\"free\":%llu,\"available\":%llu,"
		  "\"buffers\":%llu,\"cached\":%llu,\"swap_total\":%llu,\"swap_free\":%llu}",
		  U64(m->total), U64(m->free), U64(meminfo_available(m)), U64(m->buffers),
		  U64(m->cached), U64(m->swap_total), U64(m->swap_free));
}

static void report_vmstat(struct strbuf *sb, const struct sample *s)
{
	const struct vmstat *v;
	const struct sample_rates *r;

	if (!s || !s->vmstat_ok) {
		sb_puts(sb, "\"vmstat\":null,\"rates\":null");
		return;
	}
	v = &s->vm;
	sb_printf(sb, "\"vmstat\":{\"pgscan\":%llu,\"pgscan_direct\":%llu,\"pgsteal\":%llu,"
		  "\"refault\":%llu,\"allocstall\":%llu,\"oom_kill\":%llu,\"pswpin\":%llu,"
		  "\"pswpout\":%llu,\"pgfault\":%llu,\"pgmajfault\":%llu}",
		  U64(v->pgscan_background + v->pgscan_direct), U64(v->pgscan_direct),
		  U64(v->pgsteal_background + v->pgsteal_direct), U64(v->refault),
		  U64(v->allocstall), U64(v->oom_kill), U64(v->pswpin), U64(v->pswpout),
		  U64(v->pgfault), U64(v->pgmajfault));
	r = &s->rate;
	if (!r->valid) {
		sb_puts(sb, ",\"rates\":null");
		return;
	}
	num2(sb, ",\"rates\":{", "interval_s", r->interval_s);
	num2(sb, ",", "pgscan", r->pgscan);
	num2(sb, ",", "pgscan_direct", r->pgscan_direct);
	num2(sb, ",", "pgsteal", r->pgsteal);
	num2(sb, ",", "refault", r->refault);
	num2(sb, ",", "allocstall", r->allocstall);
	num2(sb, ",", "pswpin", r->pswpin);
	num2(sb, ",", "pswpout", r->pswpout);
	num2(sb, ",", "pgmajfault", r->pgmajfault);
	sb_printf(sb, ",\"oom_kills\":%llu}", U64(r->oom_kills));
}

static void report_time(struct strbuf *sb, const struct view *v)
{
	sb_printf(sb, "\"mono_ms\":%llu,\"wall_ms\":%llu", U64(v->mono_ms), U64(v->wall_ms));
}

void report_snapshot_fields(struct strbuf *sb, const struct view *v)
{
	const struct sample *s = v->sample;

	report_time(sb, v);
	if (s)
		sb_printf(sb, ",\"sample_mono_ms\":%llu", U64(s->mono_ms));
	sb_puts(sb, ",");
	report_psi(sb, s);
	sb_puts(sb, ",");
	report_memory(sb, s);
	sb_puts(sb, ",");
	report_vmstat(sb, s);
	sb_printf(sb, ",\"driver\":\"%s\",\"devices\":[", v->driver_loaded ? "loaded" : "unloaded");
	for (size_t i = 0; i < v->ndevs; i++) {
		if (i)
			sb_puts(sb, ",");
		report_device(sb, &v->devs[i]);
	}
	sb_puts(sb, "]");
}

void report_balloon_event(struct strbuf *sb, const struct view *v, const struct mb_dev *d)
{
	sb_puts(sb, "{\"event\":\"balloon\",\"type\":");
	json_str(sb, mb_event_name(d->event));
	sb_puts(sb, ",");
	report_time(sb, v);
	sb_puts(sb, ",\"device\":");
	report_device(sb, d);
	sb_puts(sb, "}\n");
}

void report_pressure_event(struct strbuf *sb, const struct view *v)
{
	sb_puts(sb, "{\"event\":\"pressure\",\"trigger\":");
	json_str(sb, v->trigger ? v->trigger : "");
	sb_puts(sb, ",");
	report_time(sb, v);
	sb_puts(sb, ",");
	report_psi(sb, v->sample);
	sb_puts(sb, ",");
	report_memory(sb, v->sample);
	sb_puts(sb, "}\n");
}

void report_sample_event(struct strbuf *sb, const struct view *v)
{
	sb_puts(sb, "{\"event\":\"sample\",");
	report_snapshot_fields(sb, v);
	sb_puts(sb, "}\n");
}

void report_driver_event(struct strbuf *sb, const struct view *v, bool loaded)
{
	sb_printf(sb, "{\"event\":\"driver\",\"state\":\"%s\",", loaded ? "loaded" : "unloaded");
	report_time(sb, v);
	sb_puts(sb, "}\n");
}

void report_action_event(struct strbuf *sb, const struct view *v, const char *action,
			 const struct mb_dev *d, uint64_t pages, const char *reason, int err)
{
	sb_puts(sb, "{\"event\":\"action\",\"action\":");
	json_str(sb, action);
	sb_puts(sb, ",\"device\":");
	json_str(sb, d->name);
	sb_printf(sb, ",\"pages\":%llu,\"mib\":%llu,\"reason\":", U64(pages),
		  U64(mb_pages_to_mib(pages)));
	json_str(sb, reason);
	if (err) {
		sb_puts(sb, ",\"result\":\"error\",\"error\":");
		json_str(sb, strerror(-err));
	} else {
		sb_puts(sb, ",\"result\":\"ok\"");
	}
	sb_puts(sb, ",");
	report_time(sb, v);
	sb_puts(sb, "}\n");
}

/*
 * MOM's GuestNetworkDaemon collector stores these under the names its
 * libvirt collector (GuestMemory) uses, so the memory fields carry
 * libvirt's meanings (virsh dommemstat): mem_available is "available" =
 * the guest's total memory, mem_unused is "unused" = MemFree, mem_free is
 * "usable" = MemAvailable, all in KiB; faults are cumulative counts (minor
 * = pgfault, as the virtio balloon's stats queue reports it).  swap_in and
 * swap_out follow the collector's own contract and MOM's guest daemon:
 * pages swapped since the previous reply on this connection, 0 on the
 * first (docs/ovirt.md).
 */
static uint64_t mom_swap_delta(uint64_t now, uint64_t before)
{
	/* vmstat counters only grow; a smaller value means a new count began */
	return now >= before ? now - before : 0;
}

void report_mom_stats(struct strbuf *sb, const struct view *v, struct mom_swap *prev)
{
	const struct sample *s = v->sample;
	unsigned long long total = 0, unused = 0, usable = 0, swin = 0, swout = 0, maj = 0, min = 0;

	if (s && s->meminfo_ok) {
		total = s->mem.total;
		unused = s->mem.free;
		usable = meminfo_available(&s->mem);
	}
	if (s && s->vmstat_ok) {
		if (prev->valid) {
			swin = mom_swap_delta(s->vm.pswpin, prev->pswpin);
			swout = mom_swap_delta(s->vm.pswpout, prev->pswpout);
		}
		prev->valid = true;
		prev->pswpin = s->vm.pswpin;
		prev->pswpout = s->vm.pswpout;
		maj = s->vm.pgmajfault;
		min = s->vm.pgfault;
	}
	sb_printf(sb, "mem_available:%llu,mem_unused:%llu,mem_free:%llu,swap_in:%llu,"
		  "swap_out:%llu,major_fault:%llu,minor_fault:%llu\n",
		  total, unused, usable, swin, swout, maj, min);
}
