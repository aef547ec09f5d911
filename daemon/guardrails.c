// SPDX-License-Identifier: GPL-2.0
/*
 * The guard rails carried out: policy_evaluate() (policy.c, a pure
 * function) decides from the configuration, the latest PSI reading and the
 * devices; each action goes to the driver over netlink, is logged with
 * its reason and reported to the hosts.
 */
#include <string.h>

#include "daemon.h"
#include "linux/memballoon.h"
#include "log.h"

void guardrails_forget(struct daemon *d, uint32_t dev_id)
{
	policy_forget_device(&d->pstate, dev_id);
}

void guardrails_run(struct daemon *d)
{
	struct policy_action act[POLICY_MAX_DEVS];
	struct mbnl *nl = &d->devs.nl;
	size_t n;

	if (!devtrack_loaded(&d->devs))
		return;
	n = policy_evaluate(&d->cfg.policy, &d->pstate, sampler_psi(&d->sampler), d->devs.devs,
			    d->devs.ndevs, mono_now_ms(), act, POLICY_MAX_DEVS);
	for (size_t i = 0; i < n; i++) {
		struct mb_dev *dev = devtrack_find(&d->devs, act[i].dev_id);
		unsigned long long mib = act[i].pages / MB_PAGES_PER_MIB;
		struct mb_dev reply;
		const char *what;
		int rc;

		if (!dev)
			continue;
		if (act[i].kind == POLICY_RELEASE) {
			what = "release";
			rc = mbnl_release(nl, dev->id, (uint32_t)act[i].pages, &reply);
		} else {
			what = "set_floor";
			rc = mbnl_set_floor(nl, dev->id, act[i].pages, &reply);
		}
		if (rc)
			log_err("%s: %s %llu MiB (%s) failed: %s%s%s", dev->name, what, mib,
				act[i].reason, strerror(-rc), nl->errmsg[0] ? ": " : "", nl->errmsg);
		else if (mbnl_has(&reply, MEMBALLOON_A_DEV_RELEASE_PAGES))
			/* the driver releases in the background; its RELEASED event follows */
			log_notice("%s: %s %llu MiB (%s): %u pages accepted", dev->name, what, mib,
				   act[i].reason, reply.release_pages);
		else
			log_notice("%s: %s %llu MiB (%s)", dev->name, what, mib, act[i].reason);
		daemon_push_action(d, what, dev, act[i].pages, act[i].reason, rc);
		if (!rc && reply.have)
			*dev = reply;
	}
}
