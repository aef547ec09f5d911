/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pressure samples (sample.h) taken on time: every sample_interval seconds
 * from a timerfd, at once when the PSI trigger fires (POLLPRI on
 * /proc/pressure/memory), and whenever a host asks.  No PSI (CONFIG_PSI=n,
 * psi=0) means periodic samples only; a trigger the kernel withdraws
 * (EPOLLERR) is opened again a minute later.
 */
#ifndef MB_SAMPLER_H
#define MB_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "sample.h"

#define SAMPLER_PSI_RETRY_MS 60000

struct sampler_ops {
	void (*sample)(void *arg);	/* the periodic sample was taken */
	void (*pressure)(void *arg);	/* the trigger fired; a sample was taken */
};

struct sampler {
	struct loop *loop;
	const char *proc_root;		/* "/proc", or the tests' fixtures */
	struct source timer;		/* timerfd: sample_interval */
	struct source psi;		/* the trigger's fd, -1 if none */
	struct timer psi_retry;
	struct psi_trigger want;	/* the configured trigger */
	char trigger[64];		/* the active trigger, "" if none */
	struct sample cur;		/* the latest sample */
	bool have;			/* cur is valid */
	const struct sampler_ops *ops;
	void *arg;
};

/* Start the timer and the trigger, and take the first sample: 0 or -errno. */
int sampler_open(struct sampler *s, struct loop *l, const char *proc_root,
		 unsigned int interval_s, const struct psi_trigger *trigger,
		 const struct sampler_ops *ops, void *arg);
void sampler_close(struct sampler *s);
/* Read /proc now. */
void sampler_take(struct sampler *s);
/* The latest sample, NULL before the first. */
const struct sample *sampler_latest(const struct sampler *s);
/* The latest PSI reading, NULL if none. */
const struct psi_memory *sampler_psi(const struct sampler *s);
/* The active trigger ("some 150000 1000000"), NULL if none. */
const char *sampler_trigger(const struct sampler *s);
/* Reload: a new interval, a new trigger (the old one is closed). */
void sampler_set_interval(struct sampler *s, unsigned int interval_s);
void sampler_set_trigger(struct sampler *s, const struct psi_trigger *trigger);

#endif
