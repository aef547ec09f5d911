// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>

#include "policy.h"

void policy_state_init(struct policy_state *ps)
{
	memset(ps, 0, sizeof(*ps));
}

void policy_forget_device(struct policy_state *ps, uint32_t id)
{
	for (size_t i = 0; i < ps->nfloor_done; i++) {
		if (ps->floor_done[i] == id) {
			ps->floor_done[i] = ps->floor_done[--ps->nfloor_done];
			return;
		}
	}
}

static bool floor_done(const struct policy_state *ps, uint32_t id)
{
	for (size_t i = 0; i < ps->nfloor_done; i++)
		if (ps->floor_done[i] == id)
			return true;
	return false;
}

uint64_t policy_floor_pages(const struct policy_config *pc, const struct mb_dev *dev)
{
	if (pc->floor_pages)
		return pc->floor_pages;
	if (pc->floor_percent && dev->ram_pages)
		return dev->ram_pages / 100 * pc->floor_percent +
		       dev->ram_pages % 100 * pc->floor_percent / 100;
	return 0;
}

size_t policy_evaluate(const struct policy_config *pc, struct policy_state *ps,
		       const struct psi_memory *psi, const struct mb_dev *devs, size_t ndevs,
		       uint64_t now_ms, struct policy_action *out, size_t max)
{
	size_t n = 0;

	/* inflation floor: once per device appearance */
	for (size_t i = 0; i < ndevs; i++) {
		const struct mb_dev *d = &devs[i];
		uint64_t want = policy_floor_pages(pc, d);

		if (!want || floor_done(ps, d->id) || ps->nfloor_done >= POLICY_MAX_DEVS)
			continue;
		ps->floor_done[ps->nfloor_done++] = d->id;
		if (d->floor_pages == want || n >= max)
			continue;
		out[n] = (struct policy_action){ .kind = POLICY_SET_FLOOR, .dev_id = d->id,
						 .pages = want };
		snprintf(out[n].reason, sizeof(out[n].reason), "configured floor %llu MiB",
			 (unsigned long long)(want / MB_PAGES_PER_MIB));
		n++;
	}

	/* release under sustained full pressure */
	if (!pc->release_enabled || !psi || !psi->have_full ||
	    psi->full.avg10 < pc->release_full_avg10) {
		ps->full_since_ms = 0;
		return n;
	}
	if (!ps->full_since_ms)
		ps->full_since_ms = now_ms;
	if (now_ms - ps->full_since_ms < (uint64_t)pc->release_hold_s * 1000)
		return n;
	if (ps->last_release_ms &&
	    now_ms - ps->last_release_ms < (uint64_t)pc->release_interval_s * 1000)
		return n;

	for (size_t i = 0; i < ndevs && n < max; i++) {
		const struct mb_dev *d = &devs[i];
		uint64_t pages = pc->release_pages;

		if (!(d->features & (1ull << MB_FEATURE_DEFLATE_ON_OOM)) || !d->actual_pages)
			continue;
		if (pages > d->actual_pages)
			pages = d->actual_pages;
		if (!pages)
			continue;
		out[n] = (struct policy_action){ .kind = POLICY_RELEASE, .dev_id = d->id,
						 .pages = pages };
		snprintf(out[n].reason, sizeof(out[n].reason),
			 "full pressure avg10 %.2f%% >= %.2f%% for %llu s",
			 psi->full.avg10, pc->release_full_avg10,
			 (unsigned long long)((now_ms - ps->full_since_ms) / 1000));
		n++;
		ps->last_release_ms = now_ms;
	}
	return n;
}
