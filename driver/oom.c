// SPDX-License-Identifier: GPL-2.0
/*
 * memballoon: deflate on OOM (VIRTIO_BALLOON_F_DEFLATE_ON_OOM).
 *
 * When the guest runs out of memory, the OOM killer first asks its
 * notifiers to free memory; if they free anything, it kills nobody and the
 * allocation is retried.  The in-tree driver frees 1 MiB per call, so a
 * workload that needs a lot more goes round reclaim and the OOM path once
 * per MiB and can spin for minutes.  We release a large chunk at once
 * (oom_release_mib, by default 1/32 of RAM and at least 64 MiB) with
 * 16 MiB requests, and keep the balloon from taking it straight back
 * (release_holdoff_s), so the workload runs on and nobody is killed while
 * the balloon still holds pages.
 *
 * A deeply ballooned guest whose workload needs far more than one chunk
 * would still go through reclaim and the OOM path once per chunk, and each
 * of those rounds costs the workload a full reclaim pass.  So notifications
 * that come in quick succession (within MB_OOM_STREAK_MS of the last
 * release) release twice, then four times the chunk: a workload needing a
 * GiB in a 2 GiB guest takes six rounds instead of sixteen, and the balloon
 * releases at most one 4x chunk (1/8 of RAM) more than the workload needed.
 * A chunk set by oom_release_mib is released as set, without escalation.
 */
#include <linux/jiffies.h>
#include <linux/oom.h>

#include <uapi/linux/memballoon.h>

#include "memballoon.h"

static unsigned int oom_release_mib;
module_param(oom_release_mib, uint, 0644);
MODULE_PARM_DESC(oom_release_mib,
		 "MiB released per OOM notification; 0 = automatic (1/32 of RAM, at least 64 MiB, up to 4x when notifications come in quick succession)");

/* A release this soon after the last one continues a streak. */
#define MB_OOM_STREAK_MS	5000
/* The chunk doubles per quick release up to this many times. */
#define MB_OOM_STREAK_MAX	2

/* 4 KiB pages to release on this notification; the caller holds oom_lock. */
static unsigned long mb_oom_chunk(struct memballoon *mb)
{
	unsigned long mib = READ_ONCE(oom_release_mib);
	unsigned long pages;

	if (mib)
		return mib << (20 - VIRTIO_BALLOON_PFN_SHIFT);
	if (mb->oom_last &&
	    time_before(jiffies, mb->oom_last + msecs_to_jiffies(MB_OOM_STREAK_MS)))
		mb->oom_streak = min(mb->oom_streak + 1, MB_OOM_STREAK_MAX);
	else
		mb->oom_streak = 0;
	pages = (unsigned long)mb->ram_pages * MB_PFNS_PER_PAGE / 32;
	pages = max(pages, 64UL << (20 - VIRTIO_BALLOON_PFN_SHIFT));
	return pages << mb->oom_streak;
}

static int mb_oom_notify(struct notifier_block *nb, unsigned long dummy,
			 void *parm)
{
	struct memballoon *mb = container_of(nb, struct memballoon, oom_nb);
	unsigned long *freed = parm;
	unsigned long done;

	done = mb_release(mb, mb_oom_chunk(mb), MEMBALLOON_EVENT_OOM_DEFLATE);
	if (done) {
		mb->oom_last = jiffies ?: 1;
		spin_lock(&mb->state_lock);
		mb->counters.oom_deflates++;
		mb->counters.oom_pages += done;
		spin_unlock(&mb->state_lock);
		*freed += done / MB_PFNS_PER_PAGE;
	}
	return NOTIFY_OK;
}

int mb_oom_init(struct memballoon *mb)
{
	if (!mb_negotiated(mb, VIRTIO_BALLOON_F_DEFLATE_ON_OOM))
		return 0;
	mb->oom_nb.notifier_call = mb_oom_notify;
	mb->oom_nb.priority = 0;
	return register_oom_notifier(&mb->oom_nb);
}

void mb_oom_exit(struct memballoon *mb)
{
	if (mb_negotiated(mb, VIRTIO_BALLOON_F_DEFLATE_ON_OOM))
		unregister_oom_notifier(&mb->oom_nb);
}
