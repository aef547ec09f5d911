// SPDX-License-Identifier: GPL-2.0
/*
 * memballoon: balloon compaction.
 *
 * Balloon pages are movable: when compaction wants a ballooned page's frame,
 * the core isolates it and calls us with a new page.  We swap the two in
 * the host's view (inflate the new page, then deflate the old one, each
 * acknowledged before going on) and in ours, so ballooned memory never pins
 * a pageblock and the guest can still build huge pages.
 */
#include <linux/migrate.h>
#include <linux/mm.h>

#include "memballoon.h"

#ifdef MB_BALLOON_MIGRATION
static int mb_migratepage(struct balloon_dev_info *b_dev_info,
			  struct page *newpage, struct page *page,
			  enum migrate_mode mode)
{
	struct memballoon *mb = container_of(b_dev_info, struct memballoon,
					     b_dev_info);
	unsigned int n;

	/*
	 * Never wait for the lock: inflation may itself have triggered this
	 * compaction while holding it.  The core retries later.
	 */
	if (!mutex_trylock(&mb->lock))
		return -EAGAIN;

	n = mb_page_to_pfns(mb, 0, newpage, 1);
	mb_tell_host(mb, mb->vqs[MB_VQ_INFLATE], n);
	n = mb_page_to_pfns(mb, 0, page, 1);
	mb_tell_host(mb, mb->vqs[MB_VQ_DEFLATE], n);
	mb_count(mb, &mb->counters.migrated, n);

	mb_balloon_migrated(b_dev_info, newpage, page, mb_counts_managed(mb));
	mutex_unlock(&mb->lock);
	return 0;	/* MIGRATEPAGE_SUCCESS, which 7.x dropped */
}

void mb_migrate_init(struct memballoon *mb)
{
	mb->b_dev_info.migratepage = mb_migratepage;
}
#else
void mb_migrate_init(struct memballoon *mb)
{
}
#endif
