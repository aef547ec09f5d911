/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest-side guard rails, as a pure function: (config, state, sample,
 * devices, now) -> actions.  The daemon carries the actions out over
 * netlink, logs them and reports them to the host.  Both rails are off
 * unless configured.
 *
 * - Pressure release: when PSI "full" avg10 stays at or above a threshold
 *   for release_hold seconds, release release_pages from every device that
 *   negotiated DEFLATE_ON_OOM (the virtio spec lets such a driver take
 *   pages back for the guest's stability), then wait release_interval
 *   seconds before releasing again.
 * - Inflation floor: when a device appears, set its floor (guest size the
 *   balloon never inflates below) once; later changes by an admin stand.
 */
#ifndef MB_POLICY_H
#define MB_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mbdev.h"
#include "procfs.h"

#define POLICY_MAX_DEVS 64

struct policy_config {
	bool release_enabled;
	double release_full_avg10;	/* percent */
	unsigned int release_hold_s;
	uint64_t release_pages;
	unsigned int release_interval_s;
	uint64_t floor_pages;		/* absolute floor; 0: none */
	unsigned int floor_percent;	/* of the device's RAM; 0: none (floor_pages wins) */
};

struct policy_state {
	uint64_t full_since_ms;		/* when full avg10 went above the threshold; 0: below */
	uint64_t last_release_ms;	/* 0: never */
	uint32_t floor_done[POLICY_MAX_DEVS];	/* devices whose floor was handled */
	size_t nfloor_done;
};

enum policy_action_kind {
	POLICY_RELEASE,
	POLICY_SET_FLOOR,
};

struct policy_action {
	enum policy_action_kind kind;
	uint32_t dev_id;
	uint64_t pages;
	char reason[128];
};

void policy_state_init(struct policy_state *ps);
/* A device went away (or the driver was reloaded): set its floor again when it returns. */
void policy_forget_device(struct policy_state *ps, uint32_t id);

/* psi may be NULL (no PSI on this kernel).  Returns the number of actions written. */
size_t policy_evaluate(const struct policy_config *pc, struct policy_state *ps,
		       const struct psi_memory *psi, const struct mb_dev *devs, size_t ndevs,
		       uint64_t now_ms, struct policy_action *out, size_t max);

/* The floor the config asks for on this device, in pages; 0: none. */
uint64_t policy_floor_pages(const struct policy_config *pc, const struct mb_dev *dev);

#endif
