/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The virtio-serial port the configuration names (serial_port), served on
 * the host channels whenever it is present.  udev tells: udevd's events,
 * or the kernel's when no udevd runs, for the subsystem virtio-ports,
 * matched by the port's sysfs "name" (which the host sets, so it arrives
 * with a "change" after the "add").  As in libinput's udev-seat.c: subscribe
 * to the monitor first, then enumerate, so no port slips between the two.
 *
 * udev is for the ports only: the balloon devices come from the driver's
 * netlink family (devtrack.h).
 */
#ifndef MB_PORTWATCH_H
#define MB_PORTWATCH_H

#include "channels.h"
#include "loop.h"

struct udev;
struct udev_monitor;

struct portwatch {
	struct source src;
	struct udev *udev;
	struct udev_monitor *mon;
	int epfd;
	struct channels *ch;		/* where the port is served */
	char name[128];			/* the port wanted; "": none */
};

/* Subscribe, then open the port if it is present: 0 or -errno. */
int portwatch_open(struct portwatch *w, int epfd, struct channels *ch, const char *name);
/* A new port name (reload): the old port is closed, the new one opened if present. */
void portwatch_set_name(struct portwatch *w, const char *name);
void portwatch_close(struct portwatch *w);

#endif
