// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

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

/* The virtio device ID in DIR/NAME/device ("0x0005"); 0 when unreadable. */
static unsigned long sysfs_device_id(const char *bus, const char *name)
{
	char path[PATH_MAX], id[16];
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/device", bus, name);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(id, sizeof(id), f))
		v = strtoul(id, NULL, 16);
	fclose(f);
	return v;
}

int mb_sysfs_balloons(const char *bus, struct mb_sysdev *out, size_t max)
{
	DIR *dir = opendir(bus);
	struct dirent *de;
	int found = 0;

	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		char path[PATH_MAX], link[PATH_MAX];
		struct mb_sysdev *d;
		const char *slash;
		ssize_t n;

		if (de->d_name[0] == '.' ||
		    sysfs_device_id(bus, de->d_name) != VIRTIO_ID_BALLOON)
			continue;
		if ((size_t)found++ >= max)
			continue;
		d = &out[found - 1];
		snprintf(d->name, sizeof(d->name), "%.31s", de->d_name);
		d->driver[0] = 0;
		snprintf(path, sizeof(path), "%s/%s/driver", bus, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = 0;
			slash = strrchr(link, '/');
			snprintf(d->driver, sizeof(d->driver), "%.31s",
				 slash ? slash + 1 : link);
		}
	}
	closedir(dir);
	return found;
}
