/* SPDX-License-Identifier: GPL-2.0 */
/*
 * udev: balloon devices bound to memballoon (subsystem virtio), the
 * virtio-serial ports (subsystem virtio-ports, matched by their sysfs
 * "name"), and the memballoon module itself (subsystem module).  As in
 * libinput's udev-seat.c: subscribe to the monitor first, then enumerate,
 * so nothing slips between the two.
 */
#ifndef MB_DEVICES_H
#define MB_DEVICES_H

#include <stdbool.h>

#include "loop.h"

struct udev;
struct udev_monitor;

struct devwatch_ops {
	/* a virtio device was bound to (bound) or unbound from memballoon */
	void (*balloon)(void *arg, const char *sysname, bool bound);
	/* a virtio-serial port appeared (devnode set) or went away (devnode NULL) */
	void (*port)(void *arg, const char *port_name, const char *devnode);
	/* the memballoon module was loaded or unloaded */
	void (*module)(void *arg, bool loaded);
};

struct devwatch {
	struct source src;
	struct udev *udev;
	struct udev_monitor *mon;
	const struct devwatch_ops *ops;
	void *arg;
};

/* Subscribe (udevd's events, or the kernel's when no udevd runs), then enumerate. */
int devwatch_open(struct devwatch *w, int epfd, const struct devwatch_ops *ops, void *arg);
/* Report every present balloon and port through ops (used at start and on reload). */
void devwatch_enumerate(struct devwatch *w);
void devwatch_close(struct devwatch *w, int epfd);

#endif
