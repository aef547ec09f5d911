// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <libudev.h>

#include "devices.h"
#include "log.h"

#define DRIVER_NAME "memballoon"

static bool is_memballoon(struct udev_device *d)
{
	const char *drv = udev_device_get_driver(d);

	return drv && !strcmp(drv, DRIVER_NAME);
}

static void report_port(struct devwatch *w, struct udev_device *d, bool present)
{
	const char *name = udev_device_get_sysattr_value(d, "name");
	const char *node = udev_device_get_devnode(d);

	/* the port's name arrives from the host after "add", with a "change" */
	if (!name || !*name)
		return;
	w->ops->port(w->arg, name, present ? node : NULL);
}

static void monitor_event(struct source *src, uint32_t events)
{
	struct devwatch *w = container_of(src, struct devwatch, src);
	struct udev_device *d;

	(void)events;
	while ((d = udev_monitor_receive_device(w->mon))) {
		const char *subsys = udev_device_get_subsystem(d);
		const char *action = udev_device_get_action(d);
		const char *sysname = udev_device_get_sysname(d);

		if (!subsys || !action || !sysname) {
			udev_device_unref(d);
			continue;
		}
		log_debug("udev: %s %s %s", action, subsys, sysname);
		if (!strcmp(subsys, "virtio")) {
			if (!strcmp(action, "bind") && is_memballoon(d))
				w->ops->balloon(w->arg, sysname, true);
			else if (!strcmp(action, "unbind") || !strcmp(action, "remove"))
				w->ops->balloon(w->arg, sysname, false);
		} else if (!strcmp(subsys, "virtio-ports")) {
			if (!strcmp(action, "add") || !strcmp(action, "change"))
				report_port(w, d, true);
			else if (!strcmp(action, "remove"))
				report_port(w, d, false);
		} else if (!strcmp(subsys, "module") && !strcmp(sysname, DRIVER_NAME)) {
			if (!strcmp(action, "add"))
				w->ops->module(w->arg, true);
			else if (!strcmp(action, "remove"))
				w->ops->module(w->arg, false);
		}
		udev_device_unref(d);
	}
}

int devwatch_open(struct devwatch *w, int epfd, const struct devwatch_ops *ops, void *arg)
{
	/* without udevd (an initramfs, a container) listen to the kernel itself */
	const char *source = access("/run/udev/control", F_OK) == 0 ? "udev" : "kernel";
	int err;

	memset(w, 0, sizeof(*w));
	w->ops = ops;
	w->arg = arg;
	w->src.fd = -1;
	w->udev = udev_new();
	if (!w->udev)
		return -ENOMEM;
	w->mon = udev_monitor_new_from_netlink(w->udev, source);
	if (!w->mon) {
		err = errno ? -errno : -ENOMEM;
		goto fail;
	}
	if (udev_monitor_filter_add_match_subsystem_devtype(w->mon, "virtio", NULL) < 0 ||
	    udev_monitor_filter_add_match_subsystem_devtype(w->mon, "virtio-ports", NULL) < 0 ||
	    udev_monitor_filter_add_match_subsystem_devtype(w->mon, "module", NULL) < 0) {
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
	return 0;
fail:
	if (w->mon)
		udev_monitor_unref(w->mon);
	udev_unref(w->udev);
	memset(w, 0, sizeof(*w));
	w->src.fd = -1;
	return err;
}

void devwatch_enumerate(struct devwatch *w)
{
	static const char *const subsystems[] = { "virtio", "virtio-ports" };
	struct udev_enumerate *e;
	struct udev_list_entry *entry;

	for (size_t i = 0; i < sizeof(subsystems) / sizeof(subsystems[0]); i++) {
		e = udev_enumerate_new(w->udev);
		if (!e)
			return;
		udev_enumerate_add_match_subsystem(e, subsystems[i]);
		udev_enumerate_scan_devices(e);
		udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
			struct udev_device *d = udev_device_new_from_syspath(
				w->udev, udev_list_entry_get_name(entry));

			if (!d)
				continue;
			if (i == 0 && is_memballoon(d))
				w->ops->balloon(w->arg, udev_device_get_sysname(d), true);
			else if (i == 1)
				report_port(w, d, true);
			udev_device_unref(d);
		}
		udev_enumerate_unref(e);
	}
}

void devwatch_close(struct devwatch *w, int epfd)
{
	if (w->src.fd >= 0)
		loop_del(epfd, &w->src);
	if (w->mon)
		udev_monitor_unref(w->mon);
	if (w->udev)
		udev_unref(w->udev);
	memset(w, 0, sizeof(*w));
	w->src.fd = -1;
}
