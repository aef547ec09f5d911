// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libudev.h>

#include "log.h"
#include "portwatch.h"

#define SUBSYSTEM "virtio-ports"

/* A port appeared or changed (present) or went away. */
static void port_event(struct portwatch *w, struct udev_device *d, bool present)
{
	const char *name = udev_device_get_sysattr_value(d, "name");
	const char *node = udev_device_get_devnode(d);
	struct channels *ch = w->ch;
	int rc;

	/* the port's name arrives from the host after "add", with a "change" */
	if (!name || !*name || !w->name[0] || strcmp(name, w->name))
		return;
	if (!present || !node) {
		if (ch->serial) {
			log_info("serial: port %s removed", name);
			channels_serial_close(ch);
		}
		return;
	}
	if (ch->serial)
		return;
	rc = channels_serial_open(ch, node);
	if (rc)
		log_warn("serial: port %s (%s): %s", name, node, strerror(-rc));
	else
		log_info("serial: port %s on %s", name, node);
}

static void monitor_event(struct source *src, uint32_t events)
{
	struct portwatch *w = container_of(src, struct portwatch, src);
	struct udev_device *d;

	(void)events;
	while ((d = udev_monitor_receive_device(w->mon))) {
		const char *action = udev_device_get_action(d);
		const char *sysname = udev_device_get_sysname(d);

		if (action && sysname) {
			log_debug("udev: %s %s %s", action, SUBSYSTEM, sysname);
			if (!strcmp(action, "add") || !strcmp(action, "change"))
				port_event(w, d, true);
			else if (!strcmp(action, "remove"))
				port_event(w, d, false);
		}
		udev_device_unref(d);
	}
}

static void enumerate(struct portwatch *w)
{
	struct udev_enumerate *e = udev_enumerate_new(w->udev);
	struct udev_list_entry *entry;

	if (!e)
		return;
	udev_enumerate_add_match_subsystem(e, SUBSYSTEM);
	udev_enumerate_scan_devices(e);
	udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
		struct udev_device *d = udev_device_new_from_syspath(
			w->udev, udev_list_entry_get_name(entry));

		if (!d)
			continue;
		port_event(w, d, true);
		udev_device_unref(d);
	}
	udev_enumerate_unref(e);
}

void portwatch_set_name(struct portwatch *w, const char *name)
{
	if (!strcmp(w->name, name))
		return;
	channels_serial_close(w->ch);
	snprintf(w->name, sizeof(w->name), "%s", name);
	if (w->udev)
		enumerate(w);
}

int portwatch_open(struct portwatch *w, int epfd, struct channels *ch, const char *name)
{
	/* without udevd (an initramfs, a container) listen to the kernel itself */
	const char *source = access("/run/udev/control", F_OK) == 0 ? "udev" : "kernel";
	int err;

	memset(w, 0, sizeof(*w));
	w->epfd = epfd;
	w->ch = ch;
	w->src.fd = -1;
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->udev = udev_new();
	if (!w->udev)
		return -ENOMEM;
	w->mon = udev_monitor_new_from_netlink(w->udev, source);
	if (!w->mon) {
		err = errno ? -errno : -ENOMEM;
		goto fail;
	}
	if (udev_monitor_filter_add_match_subsystem_devtype(w->mon, SUBSYSTEM, NULL) < 0) {
		err = -EINVAL;
		goto fail;
	}
	err = udev_monitor_enable_receiving(w->mon);
	if (err < 0)
		goto fail;
	w->src.fd = udev_monitor_get_fd(w->mon);
	w->src.handler = monitor_event;
	if (loop_add(epfd, &w->src, EPOLLIN) < 0) {
		err = -errno;
		goto fail;
	}
	log_debug("udev: monitoring %s events", source);
	enumerate(w);
	return 0;
fail:
	portwatch_close(w);
	return err;
}

void portwatch_close(struct portwatch *w)
{
	if (w->src.fd >= 0)
		loop_del(w->epfd, &w->src);
	if (w->mon)
		udev_monitor_unref(w->mon);
	if (w->udev)
		udev_unref(w->udev);
	w->src.fd = -1;
	w->mon = NULL;
	w->udev = NULL;
}
