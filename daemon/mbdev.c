// SPDX-License-Identifier: GPL-2.0
#include <stddef.h>

#include "mbdev.h"
#include "memballoon-names.h"

const char *mb_feature_name(unsigned int bit)
{
	static const char *const names[] = {
		[0] = "MUST_TELL_HOST", [1] = "STATS_VQ", [2] = "DEFLATE_ON_OOM",
		[3] = "FREE_PAGE_HINT", [4] = "PAGE_POISON", [5] = "REPORTING",
		/* transport features (virtio spec 6) */
		[28] = "RING_INDIRECT_DESC", [29] = "RING_EVENT_IDX", [32] = "VERSION_1",
		[33] = "ACCESS_PLATFORM", [34] = "RING_PACKED", [35] = "IN_ORDER",
		[36] = "ORDER_PLATFORM", [37] = "SR_IOV", [38] = "NOTIFICATION_DATA",
		[39] = "NOTIF_CONFIG_DATA", [40] = "RING_RESET",
	};

	if (bit >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[bit];
}

const char *mb_event_name(uint32_t event)
{
	const char *name = memballoon_event_name(event);

	return name ? name : "unknown";
}
