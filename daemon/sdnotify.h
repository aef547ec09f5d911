/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The sd_notify(3) datagram protocol without libsystemd: one AF_UNIX
 * datagram of "KEY=VALUE\n..." to $NOTIFY_SOCKET ("@" = abstract name).
 */
#ifndef MB_SDNOTIFY_H
#define MB_SDNOTIFY_H

#include <stdint.h>

/* 0 sent, 0 also when NOTIFY_SOCKET is unset (not under systemd), -errno. */
int sdnotify_send(const char *state);
/* Watchdog period in microseconds if systemd expects pings from us, else 0. */
uint64_t sdnotify_watchdog_usec(void);

#endif
