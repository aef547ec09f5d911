/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host channels: TCP and AF_VSOCK listeners and their clients, and the
 * virtio-serial port.  Each connection runs its own protocol state
 * (protocol.h); replies and pushed events queue in a bounded output buffer.
 */
#ifndef MB_CHANNELS_H
#define MB_CHANNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "protocol.h"
#include "report.h"
#include "strbuf.h"

#define CLIENT_OUT_MAX (1u << 20)	/* queued output before a reader counts as stuck */

enum channel_kind {
	CHANNEL_TCP,
	CHANNEL_VSOCK,
	CHANNEL_SERIAL,
};

struct channels;

struct client {
	struct source src;
	struct channels *ch;
	enum channel_kind kind;
	char peer[80];			/* for logs */
	struct proto_conn proto;
	struct strbuf out;
	uint32_t armed;			/* epoll events currently registered */
	uint64_t gone_ms;		/* serial: when the host last looked gone, 0 if there */
	struct client *next;
};

struct channels {
	int epfd;
	unsigned int max_clients;
	unsigned int timeout_ms;
	struct source tcp, vsock;	/* listeners, fd -1 when off */
	struct client *clients;		/* accepted connections */
	unsigned int nclients;
	struct client *serial;		/* the virtio-serial port, NULL if not open */
	char serial_node[128];		/* its /dev node */
	/* the daemon's current state for replies */
	void (*get_view)(void *arg, struct view *v);
	void *arg;
};

void channels_init(struct channels *ch, int epfd, void (*get_view)(void *, struct view *),
		   void *arg);
int channels_listen_tcp(struct channels *ch, const char *addr, unsigned int port);
int channels_listen_vsock(struct channels *ch, unsigned int port);
void channels_stop_tcp(struct channels *ch);
void channels_stop_vsock(struct channels *ch);
int channels_serial_open(struct channels *ch, const char *devnode);
void channels_serial_close(struct channels *ch);
/* Push an event line to every connection that subscribed (sample: periodic sample). */
void channels_broadcast(struct channels *ch, const struct strbuf *line, bool sample);
/* Earliest request deadline (CLOCK_MONOTONIC ms), 0 if none; and expiry handling. */
uint64_t channels_next_deadline(const struct channels *ch);
void channels_expire(struct channels *ch, uint64_t now_ms);
unsigned int channels_count(const struct channels *ch);
void channels_close_all(struct channels *ch);

#endif
