/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host channels: TCP and AF_VSOCK listeners and their connections, and the
 * virtio-serial port.  Each connection runs its own protocol state
 * (protocol.h); replies and pushed events queue in a bounded output buffer.
 *
 * Every peer is untrusted.  Per connection: a line budget (token bucket,
 * request_rate lines per second, as many in a burst; with none left the
 * socket is not read, so a flood only fills the peer's own socket buffer),
 * a deadline for a started line, an idle timeout, at most CLIENT_OUT_MAX
 * bytes of queued output.  Per channel (TCP and vsock separately): at most
 * max_clients connections and an allowlist checked at accept.
 *
 * Lifetime: one place closes a connection.  I/O helpers never free; an
 * error marks the connection dead and the top-level handler that was
 * called (a client event, a broadcast, the deadlines, a reconfiguration,
 * shutdown) closes it once: unregistered from epoll and its fd closed at
 * once, the struct kept on a graveyard list until channels_reap(), which
 * the loop calls after each epoll batch (the batch may still hold an event
 * whose data.ptr points at it; a closed connection ignores it).
 */
#ifndef MB_CHANNELS_H
#define MB_CHANNELS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "acl.h"
#include "loop.h"
#include "protocol.h"
#include "report.h"
#include "strbuf.h"

#define CLIENT_OUT_MAX (256u << 10)	/* queued output before a reader counts as stuck */
#define CLIENT_IN_MAX 4096		/* one read; lines beyond the budget wait here */
#define CLIENT_SOCKBUF (16u << 10)	/* TCP SO_SNDBUF/SO_RCVBUF (the kernel doubles it) */
#define CONN_LOG_BURST 10		/* connection log lines per channel ... */
#define CONN_LOG_WINDOW_MS 10000	/* ... per window; the rest are counted */

enum channel_kind {
	CHANNEL_TCP,
	CHANNEL_VSOCK,
	CHANNEL_SERIAL,
	CHANNEL_KINDS
};

struct channels;

struct client {
	struct source src;
	struct channels *ch;
	enum channel_kind kind;
	char peer[80];			/* for logs */
	struct sockaddr_storage addr;	/* the peer (TCP, vsock), for the allowlists */
	bool dead;			/* to be closed by the top-level handler */
	bool closed;			/* closed: waiting in the graveyard to be freed */
	bool eof;			/* the peer sent FIN: close once the output drained */
	char why[96];			/* dead: what to log when closing */
	int why_prio;			/* and at which level */
	struct proto_conn proto;
	struct strbuf out;
	char in[CLIENT_IN_MAX];		/* read but not yet handled: in[in_off..in_len) */
	size_t in_off, in_len;
	uint32_t armed;			/* epoll events currently registered */
	uint64_t gone_ms;		/* serial: when the host last looked gone, 0 if there */
	uint64_t last_line_ms;		/* last complete line (or the accept) */
	uint64_t out_since_ms;		/* output queued and not drained since; 0: none queued */
	uint64_t tokens;		/* line budget, in 1/1000 lines */
	uint64_t tokens_ms;		/* when the budget was last topped up */
	uint64_t resume_ms;		/* out of budget: read again at; 0: reading */
	struct client *next;
};

/* What reload may change (memballoond.conf(5)). */
struct channel_policy {
	unsigned int max_clients;	/* per channel: TCP and vsock each */
	unsigned int request_timeout_ms;	/* a started line must complete within */
	unsigned int idle_timeout_ms;	/* 0: off */
	unsigned int request_rate;	/* lines per second, burst as many */
	struct ip_acl tcp_allow;
	struct cid_acl vsock_allow;
};

struct conn_log_limit {
	uint64_t start_ms;		/* window start */
	unsigned int lines;		/* logged in this window */
	unsigned int suppressed;	/* not logged in this window */
};

struct channels {
	int epfd;
	struct channel_policy pol;
	struct source tcp, vsock;	/* listeners, fd -1 when off */
	struct client *clients;		/* TCP and vsock connections */
	unsigned int nclients[CHANNEL_KINDS];	/* open connections per channel */
	struct client *serial;		/* the virtio-serial port, NULL if not open */
	char serial_node[128];		/* its /dev node */
	struct client *graveyard;	/* closed, freed by channels_reap() */
	struct conn_log_limit loglim[CHANNEL_KINDS];
	/* the daemon's current state for replies */
	void (*get_view)(void *arg, struct view *v);
	void *arg;
	uint64_t (*now_ms)(void);	/* CLOCK_MONOTONIC ms; tests replace it */
};

void channels_init(struct channels *ch, int epfd, void (*get_view)(void *, struct view *),
		   void *arg);
/* Apply limits and allowlists; open connections the new allowlists refuse are closed. */
void channels_configure(struct channels *ch, const struct channel_policy *pol);
int channels_listen_tcp(struct channels *ch, const char *addr, unsigned int port);
int channels_listen_vsock(struct channels *ch, unsigned int port);
void channels_stop_tcp(struct channels *ch);
void channels_stop_vsock(struct channels *ch);
/* Close every connection of one channel (it was turned off). */
void channels_close_kind(struct channels *ch, enum channel_kind kind, const char *why);
/*
 * Serve an accepted socket (what the listeners do after their checks; the
 * tests hand it socket pairs).  NULL, and fd left open, if it cannot be
 * registered.
 */
struct client *channels_adopt(struct channels *ch, int fd, enum channel_kind kind,
			      const char *peer, const struct sockaddr *sa, socklen_t salen);
int channels_serial_open(struct channels *ch, const char *devnode);
void channels_serial_close(struct channels *ch);
/* Push an event line to every connection that subscribed (sample: periodic sample). */
void channels_broadcast(struct channels *ch, const struct strbuf *line, bool sample);
/* Earliest deadline of any connection (CLOCK_MONOTONIC ms), 0 if none; and their handling. */
uint64_t channels_next_deadline(const struct channels *ch);
void channels_expire(struct channels *ch, uint64_t now_ms);
/* Free the connections closed since the last call: after each epoll batch. */
void channels_reap(struct channels *ch);
unsigned int channels_count(const struct channels *ch);
void channels_close_all(struct channels *ch);

#endif
