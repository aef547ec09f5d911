// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "channels.h"
#include "log.h"
#include "sample.h"

#define ACCEPT_BATCH 16		/* connections accepted per listener wakeup */

static const char *const kind_names[] = { "tcp", "vsock", "serial" };

void channels_init(struct channels *ch, int epfd, void (*get_view)(void *, struct view *),
		   void *arg)
{
	memset(ch, 0, sizeof(*ch));
	ch->epfd = epfd;
	ch->tcp.fd = -1;
	ch->vsock.fd = -1;
	ch->pol.max_clients = 16;
	ch->pol.request_timeout_ms = 10000;
	ch->pol.idle_timeout_ms = 60000;
	ch->pol.request_rate = 20;
	ch->pol.vsock_allow = (struct cid_acl){ .n = 1, .cid = { ACL_CID_HOST } };
	ch->get_view = get_view;
	ch->arg = arg;
	ch->now_ms = mono_now_ms;
}

unsigned int channels_count(const struct channels *ch)
{
	return ch->nclients[CHANNEL_TCP] + ch->nclients[CHANNEL_VSOCK] + (ch->serial ? 1 : 0);
}

/* ---- logging: a flood of peers must not flood the journal ---------------- */

static void conn_log_roll(struct channels *ch, enum channel_kind kind, uint64_t now)
{
	struct conn_log_limit *l = &ch->loglim[kind];

	if (l->lines && now - l->start_ms < CONN_LOG_WINDOW_MS)
		return;
	if (l->suppressed)
		log_notice("%s: %u more connection messages in %u s not logged", kind_names[kind],
			   l->suppressed, CONN_LOG_WINDOW_MS / 1000);
	l->start_ms = now;
	l->lines = 0;
	l->suppressed = 0;
}

/* Connection lifecycle messages: CONN_LOG_BURST per window and channel (serial: all). */
static void conn_log(struct channels *ch, enum channel_kind kind, int prio, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void conn_log(struct channels *ch, enum channel_kind kind, int prio, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (prio > log_get_level())
		return;
	if (kind != CHANNEL_SERIAL) {
		struct conn_log_limit *l = &ch->loglim[kind];

		conn_log_roll(ch, kind, ch->now_ms());
		if (l->lines >= CONN_LOG_BURST) {
			l->suppressed++;
			return;
		}
		l->lines++;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg(prio, "%s", line);
}

/* ---- the line budget (token bucket) ------------------------------------- */

static uint64_t budget_full(const struct client *c)
{
	return (uint64_t)c->ch->pol.request_rate * 1000;
}

/* Top up and return the whole lines available now. */
static unsigned int client_budget(struct client *c, uint64_t now)
{
	uint64_t full = budget_full(c);

	if (now > c->tokens_ms) {
		uint64_t dt = now - c->tokens_ms;

		/* rate tokens per second are rate thousandths per ms */
		if (dt >= 1000)
			c->tokens = full;
		else
			c->tokens += dt * c->ch->pol.request_rate;
		c->tokens_ms = now;
	}
	if (c->tokens > full)
		c->tokens = full;
	return (unsigned int)(c->tokens / 1000);
}

static void client_spend(struct client *c, unsigned int lines)
{
	uint64_t cost = (uint64_t)lines * 1000;

	c->tokens = cost > c->tokens ? 0 : c->tokens - cost;
}

/* ---- output ------------------------------------------------------------- */

/* (Re)register for exactly the events the client needs now. */
static void client_arm(struct client *c)
{
	uint32_t want = 0;

	if (c->closed)
		return;
	if (!c->resume_ms && !c->eof)
		want |= EPOLLIN;	/* out of budget: the peer's data waits in its socket */
	if (sb_len(&c->out))
		want |= EPOLLOUT;
	if (c->kind == CHANNEL_SERIAL) {
		want |= EPOLLET;	/* a port without a host stays EPOLLHUP: edges only */
		if (c->gone_ms)
			want |= EPOLLOUT;	/* the edge that says the host is back */
	}
	if (want != c->armed && loop_mod(c->ch->epfd, &c->src, want) == 0)
		c->armed = want;
}

/* Mark the connection for closing (the first reason is the one logged). */
static void client_fail(struct client *c, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void client_fail(struct client *c, int prio, const char *fmt, ...)
{
	va_list ap;

	if (c->dead)
		return;
	c->dead = true;
	c->why_prio = prio;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

/* Write what the socket takes.  false if the connection is now dead. */
static bool client_flush(struct client *c)
{
	while (!c->dead && sb_len(&c->out)) {
		ssize_t n;

		if (c->kind == CHANNEL_SERIAL)
			n = write(c->src.fd, sb_data(&c->out), sb_len(&c->out));
		else
			n = send(c->src.fd, sb_data(&c->out), sb_len(&c->out), MSG_NOSIGNAL);
		if (n > 0) {
			sb_consume(&c->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (c->kind == CHANNEL_SERIAL) {
			/* the host went away; the port stays */
			log_info("serial %s: write: %s", c->peer, n < 0 ? strerror(errno) : "closed");
			sb_reset(&c->out);
			break;
		}
		client_fail(c, LOG_INFO, "write: %s", n < 0 ? strerror(errno) : "closed");
	}
	if (c->dead)
		return false;
	if (!sb_len(&c->out)) {
		c->out_since_ms = 0;
		if (c->eof) {
			/* the peer sent FIN and has every answer now */
			client_fail(c, LOG_INFO, "closed by peer");
			return false;
		}
	}
	client_arm(c);
	return true;
}

/* After appending to c->out (which held `before` bytes): overflow, stall clock. */
static bool client_queued(struct client *c, size_t before)
{
	if (sb_failed(&c->out)) {
		if (c->kind != CHANNEL_SERIAL) {
			client_fail(c, LOG_WARNING, "not reading, %zu bytes queued", before);
			return false;
		}
		log_warn("serial %s: host not reading, %zu bytes queued: dropping output",
			 c->peer, before);
		sb_reset(&c->out);
		proto_conn_init(&c->proto, false);
		c->out_since_ms = 0;
		return true;
	}
	if (!before && sb_len(&c->out))
		c->out_since_ms = c->ch->now_ms();
	return true;
}

/* Queue bytes; a reader that lets CLIENT_OUT_MAX pile up is cut off. */
static bool client_queue(struct client *c, const char *data, size_t len)
{
	size_t before = sb_len(&c->out);

	if (c->dead)
		return false;
	sb_add(&c->out, data, len);
	return client_queued(c, before);
}

/* ---- connections -------------------------------------------------------- */

static void client_event(struct source *src, uint32_t events);

static struct client *client_new(struct channels *ch, int fd, enum channel_kind kind,
				 const char *peer)
{
	struct client *c = calloc(1, sizeof(*c));
	uint64_t now = ch->now_ms();

	if (!c)
		return NULL;
	c->src.fd = fd;
	c->src.handler = client_event;
	c->ch = ch;
	c->kind = kind;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	proto_conn_init(&c->proto, kind != CHANNEL_SERIAL);
	sb_init(&c->out, CLIENT_OUT_MAX);
	c->last_line_ms = now;
	c->tokens = budget_full(c);
	c->tokens_ms = now;
	c->armed = EPOLLIN | (kind == CHANNEL_SERIAL ? EPOLLET : 0);
	if (loop_add(ch->epfd, &c->src, c->armed) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

/*
 * The one place a connection ends: out of the lists and epoll, fd closed,
 * the struct parked until channels_reap() (an event of this epoll batch
 * may still point at it).
 */
static void client_close(struct client *c)
{
	struct channels *ch = c->ch;

	if (c->closed)
		return;
	if (c->kind == CHANNEL_SERIAL) {
		if (ch->serial == c)
			ch->serial = NULL;
	} else {
		for (struct client **pp = &ch->clients; *pp; pp = &(*pp)->next) {
			if (*pp == c) {
				*pp = c->next;
				break;
			}
		}
		ch->nclients[c->kind]--;
		conn_log(ch, c->kind, c->why[0] ? c->why_prio : LOG_INFO, "%s %s: disconnected%s%s%s",
			 kind_names[c->kind], c->peer, c->why[0] ? " (" : "", c->why,
			 c->why[0] ? ")" : "");
	}
	loop_del(ch->epfd, &c->src);
	close(c->src.fd);
	c->src.fd = -1;
	sb_free(&c->out);
	c->dead = true;
	c->closed = true;
	c->next = ch->graveyard;
	ch->graveyard = c;
}

/* End of a top-level handler: close what died in it. */
static void client_settle(struct client *c)
{
	if (c->dead && !c->closed)
		client_close(c);
}

void channels_reap(struct channels *ch)
{
	while (ch->graveyard) {
		struct client *c = ch->graveyard;

		ch->graveyard = c->next;
		free(c);
	}
}

/*
 * virtio-serial tells the guest about the host only through read() == 0 and
 * EPOLLHUP while no host is connected, and the host's first bytes can
 * overtake its "port open" message, so a read() == 0 right after a request
 * may be stale.  The conversation (protocol, subscription, queued output)
 * is reset only when the host has been gone for a while (longer than the
 * race ever lasts) and comes back.
 */
#define SERIAL_NEW_HOST_MS	250

static void serial_host_gone(struct client *c, uint64_t now_ms)
{
	if (!c->gone_ms)
		c->gone_ms = now_ms ? now_ms : 1;
	client_arm(c);
}

static void serial_host_back(struct client *c, uint64_t now_ms)
{
	if (!c->gone_ms)
		return;
	if (now_ms - c->gone_ms >= SERIAL_NEW_HOST_MS &&
	    (c->proto.kind != PROTO_UNDECIDED || sb_len(&c->out) || c->in_off < c->in_len)) {
		log_info("serial %s: host reconnected, new conversation", c->peer);
		proto_conn_init(&c->proto, false);
		sb_reset(&c->out);
		c->out_since_ms = 0;
		c->in_off = c->in_len = 0;
	}
	c->gone_ms = 0;
	client_arm(c);
}

/* Out of budget: stop reading until the next line is due. */
static void client_throttle(struct client *c, uint64_t now)
{
	uint64_t missing = 1000 - c->tokens % 1000;
	unsigned int rate = c->ch->pol.request_rate;

	c->resume_ms = now + (missing + rate - 1) / rate;
	client_arm(c);
}

/* read() returned 0 or an error (n < 0, errno set). */
static void client_read_end(struct client *c, ssize_t n, bool got_data, uint64_t now)
{
	int err = n < 0 ? errno : 0;

	if (c->kind == CHANNEL_SERIAL) {
		if (err == ENODEV) {
			log_info("serial %s: port removed", c->peer);
			client_fail(c, LOG_INFO, "port removed");
		} else if (!got_data) {
			/* read() == 0: no data and (perhaps stale) no host */
			serial_host_gone(c, now);
		}
		return;
	}
	if (err) {
		client_fail(c, LOG_INFO, "read: %s", strerror(err));
		return;
	}
	/* FIN: answer what was asked, then close (client_flush) */
	c->eof = true;
	client_flush(c);
}

/*
 * Read and handle requests while the line budget lasts.  A socket is read
 * once per wakeup (level-triggered); the serial port until EAGAIN (edges).
 */
static void client_input(struct client *c, uint64_t now)
{
	bool did_read = false;

	while (!c->dead && !c->eof) {
		enum proto_result r;
		unsigned int budget, lines;
		size_t used, before;
		struct view v;
		ssize_t n;

		if (c->in_off < c->in_len || proto_pending(&c->proto)) {
			budget = client_budget(c, now);
			if (!budget) {
				client_throttle(c, now);
				return;
			}
			before = sb_len(&c->out);
			c->ch->get_view(c->ch->arg, &v);
			r = proto_feed_limited(&c->proto, c->in + c->in_off, c->in_len - c->in_off,
					       budget, &v, &c->out, now, &used, &lines);
			c->in_off += used;
			client_spend(c, lines);
			if (lines)
				c->last_line_ms = now;
			if (!client_queued(c, before))
				return;
			if (r == PROTO_CLOSE) {
				client_flush(c);	/* best effort: the error line */
				client_fail(c, LOG_NOTICE, "hung up: bad or oversized requests");
				return;
			}
			continue;
		}
		c->in_off = c->in_len = 0;
		if (did_read && c->kind != CHANNEL_SERIAL)
			return;
		if (!client_budget(c, now)) {
			client_throttle(c, now);
			return;
		}
		n = read(c->src.fd, c->in, sizeof(c->in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			client_read_end(c, n, did_read, now);
			return;
		}
		did_read = true;
		/* data: a host is there (a new one forgets what the old one left) */
		if (c->kind == CHANNEL_SERIAL)
			serial_host_back(c, now);
		c->in_off = 0;
		c->in_len = (size_t)n;
	}
}

static const char *socket_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || !err)
		return "hung up";
	return strerror(err);
}

static void client_event(struct source *src, uint32_t events)
{
	struct client *c = container_of(src, struct client, src);
	uint64_t now;

	if (c->closed)
		return;		/* closed earlier in this epoll batch */
	now = c->ch->now_ms();
	if (c->kind == CHANNEL_SERIAL && !(events & (EPOLLHUP | EPOLLERR)))
		serial_host_back(c, now);	/* an event without HUP: host there */
	if (events & EPOLLOUT)
		client_flush(c);
	if (!c->dead && events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (!c->resume_ms && !c->eof)
			client_input(c, now);
		else if (c->kind != CHANNEL_SERIAL && events & (EPOLLHUP | EPOLLERR))
			client_fail(c, LOG_INFO, "%s", socket_error(c->src.fd));
	}
	if (!c->dead)
		client_flush(c);
	client_settle(c);
}

void channels_broadcast(struct channels *ch, const struct strbuf *line, bool sample)
{
	struct client *c, *next;

	c = ch->serial;
	if (c && proto_wants_event(&c->proto, sample) && client_queue(c, sb_data(line), sb_len(line)))
		client_flush(c);
	for (c = ch->clients; c; c = next) {
		next = c->next;
		if (proto_wants_event(&c->proto, sample) &&
		    client_queue(c, sb_data(line), sb_len(line)))
			client_flush(c);
		client_settle(c);
	}
}

/* ---- deadlines: started lines, idle connections, paused input ------------ */

/*
 * Idle: no line (a request or an empty keep-alive) for idle_timeout, unless
 * the connection subscribed and keeps up with its events (nothing queued).
 * A subscriber's queued output that has not drained for idle_timeout while
 * it sent nothing makes it idle too.
 */
static uint64_t client_idle_deadline(const struct client *c)
{
	uint64_t idle = c->ch->pol.idle_timeout_ms, since = c->last_line_ms;

	if (!idle || c->kind == CHANNEL_SERIAL)
		return 0;
	if (proto_wants_event(&c->proto, false)) {
		if (!sb_len(&c->out))
			return 0;
		if (c->out_since_ms > since)
			since = c->out_since_ms;
	}
	return since + idle;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return !a || (b && b < a) ? b : a;
}

static uint64_t client_deadline(const struct client *c)
{
	uint64_t d = proto_deadline(&c->proto, c->ch->pol.request_timeout_ms);

	d = earliest(d, c->resume_ms);
	return earliest(d, client_idle_deadline(c));
}

uint64_t channels_next_deadline(const struct channels *ch)
{
	uint64_t best = 0;

	if (ch->serial)
		best = client_deadline(ch->serial);
	for (const struct client *c = ch->clients; c; c = c->next)
		best = earliest(best, client_deadline(c));
	for (int k = 0; k < CHANNEL_KINDS; k++)
		if (ch->loglim[k].suppressed)
			best = earliest(best, ch->loglim[k].start_ms + CONN_LOG_WINDOW_MS);
	return best;
}

static void client_expire(struct client *c, uint64_t now)
{
	uint64_t d = proto_deadline(&c->proto, c->ch->pol.request_timeout_ms);

	if (d && d <= now) {
		size_t before = sb_len(&c->out);
		enum proto_result r = proto_timeout(&c->proto, &c->out);

		if (client_queued(c, before)) {
			client_flush(c);
			if (r == PROTO_CLOSE)
				client_fail(c, LOG_NOTICE, "request timed out (no complete line)");
			else
				log_info("%s %s: request timed out", kind_names[c->kind], c->peer);
		}
	}
	if (!c->dead && c->resume_ms && c->resume_ms <= now) {
		c->resume_ms = 0;
		client_input(c, now);
		if (!c->dead)
			client_flush(c);
	}
	d = client_idle_deadline(c);
	if (!c->dead && d && d <= now)
		client_fail(c, LOG_NOTICE, "idle for %u s%s", c->ch->pol.idle_timeout_ms / 1000,
			    sb_len(&c->out) ? ", not reading" : "");
	client_settle(c);
}

void channels_expire(struct channels *ch, uint64_t now_ms)
{
	struct client *c, *next;

	if (ch->serial)
		client_expire(ch->serial, now_ms);
	for (c = ch->clients; c; c = next) {
		next = c->next;
		client_expire(c, now_ms);
	}
	for (int k = 0; k < CHANNEL_KINDS; k++)
		if (ch->loglim[k].suppressed && now_ms - ch->loglim[k].start_ms >= CONN_LOG_WINDOW_MS)
			conn_log_roll(ch, (enum channel_kind)k, now_ms);
}

/* ---- configuration ------------------------------------------------------ */

static bool client_allowed(const struct channels *ch, const struct client *c)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->addr;

	if (c->kind == CHANNEL_TCP)
		return acl_allows_ip(&ch->pol.tcp_allow, sa) || sa->sa_family == AF_UNSPEC;
	if (c->kind == CHANNEL_VSOCK && sa->sa_family == AF_VSOCK)
		return acl_allows_cid(&ch->pol.vsock_allow,
				      ((const struct sockaddr_vm *)(const void *)sa)->svm_cid);
	return true;
}

void channels_configure(struct channels *ch, const struct channel_policy *pol)
{
	struct client *c, *next;

	ch->pol = *pol;
	if (!ch->pol.request_rate)
		ch->pol.request_rate = 1;
	if (ch->serial)
		client_budget(ch->serial, ch->now_ms());
	for (c = ch->clients; c; c = next) {
		next = c->next;
		client_budget(c, ch->now_ms());		/* clamps to the new burst */
		if (!client_allowed(ch, c))
			client_fail(c, LOG_NOTICE, "no longer in %s_allow", kind_names[c->kind]);
		client_settle(c);
	}
}

void channels_close_kind(struct channels *ch, enum channel_kind kind, const char *why)
{
	struct client *c, *next;

	for (c = ch->clients; c; c = next) {
		next = c->next;
		if (c->kind != kind)
			continue;
		client_fail(c, LOG_INFO, "%s", why);
		client_settle(c);
	}
}

/* ---- listeners ---------------------------------------------------------- */

struct client *channels_adopt(struct channels *ch, int fd, enum channel_kind kind,
			      const char *peer, const struct sockaddr *sa, socklen_t salen)
{
	struct client *c = client_new(ch, fd, kind, peer);

	if (!c)
		return NULL;
	if (sa && salen <= sizeof(c->addr))
		memcpy(&c->addr, sa, salen);
	c->next = ch->clients;
	ch->clients = c;
	ch->nclients[kind]++;
	return c;
}

static void peer_name(const struct sockaddr *sa, char *name, size_t len)
{
	const struct sockaddr_in *in = (const void *)sa;
	const struct sockaddr_in6 *in6 = (const void *)sa;
	const struct sockaddr_vm *vm = (const void *)sa;
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET)
		snprintf(name, len, "%s:%u",
			 inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host)) ? host : "?",
			 ntohs(in->sin_port));
	else if (sa->sa_family == AF_INET6)
		snprintf(name, len, "[%s]:%u",
			 inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host)) ? host : "?",
			 ntohs(in6->sin6_port));
	else if (sa->sa_family == AF_VSOCK)
		snprintf(name, len, "cid %u port %u", vm->svm_cid, vm->svm_port);
	else
		snprintf(name, len, "?");
}

/* One connection off the listen queue: false when the queue is empty. */
static bool accept_client(struct channels *ch, struct source *src, enum channel_kind kind)
{
	struct sockaddr_storage peer;
	struct sockaddr *sa = (struct sockaddr *)&peer;
	socklen_t plen = sizeof(peer);
	char name[80];
	struct client *c;
	bool allowed;
	int fd;

	memset(&peer, 0, sizeof(peer));
	fd = accept4(src->fd, sa, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EINTR || errno == ECONNABORTED)
			return true;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("%s: accept: %s", kind_names[kind], strerror(errno));
		return false;
	}
	peer_name(sa, name, sizeof(name));
	if (kind == CHANNEL_VSOCK)
		allowed = sa->sa_family == AF_VSOCK &&
			  acl_allows_cid(&ch->pol.vsock_allow, ((struct sockaddr_vm *)sa)->svm_cid);
	else
		allowed = acl_allows_ip(&ch->pol.tcp_allow, sa);
	if (!allowed) {
		conn_log(ch, kind, LOG_WARNING, "%s %s: refused, not in %s_allow", kind_names[kind],
			 name, kind_names[kind]);
		close(fd);
		return true;
	}
	if (ch->nclients[kind] >= ch->pol.max_clients) {
		conn_log(ch, kind, LOG_WARNING, "%s %s: refused, %u %s clients already",
			 kind_names[kind], name, ch->nclients[kind], kind_names[kind]);
		close(fd);
		return true;
	}
	if (kind == CHANNEL_TCP) {
		/*
		 * Fixed socket buffers: autotuning would let a peer that does
		 * not read park megabytes of our output in the kernel, out of
		 * sight of CLIENT_OUT_MAX (vsock's buffers are bounded already).
		 */
		int sz = CLIENT_SOCKBUF;

		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	c = channels_adopt(ch, fd, kind, name, sa, plen);
	if (!c) {
		conn_log(ch, kind, LOG_WARNING, "%s %s: %s", kind_names[kind], name, strerror(errno));
		close(fd);
		return true;
	}
	conn_log(ch, kind, LOG_INFO, "%s %s: connected", kind_names[kind], name);
	return true;
}

static void listener_event(struct channels *ch, struct source *src, enum channel_kind kind)
{
	/* a listener closed on reload earlier in this batch has fd -1 */
	for (int i = 0; i < ACCEPT_BATCH && src->fd >= 0; i++)
		if (!accept_client(ch, src, kind))
			break;
}

static void tcp_listener_event(struct source *src, uint32_t events)
{
	(void)events;
	listener_event(container_of(src, struct channels, tcp), src, CHANNEL_TCP);
}

static void vsock_listener_event(struct source *src, uint32_t events)
{
	(void)events;
	listener_event(container_of(src, struct channels, vsock), src, CHANNEL_VSOCK);
}

static int listen_on(struct channels *ch, struct source *src, int family,
		     const struct sockaddr *sa, socklen_t salen)
{
	int one = 1, fd, err;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family != AF_VSOCK)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, salen) < 0 || listen(fd, 16) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	src->fd = fd;
	src->handler = family == AF_VSOCK ? vsock_listener_event : tcp_listener_event;
	if (loop_add(ch->epfd, src, EPOLLIN) < 0) {
		err = -errno;
		close(fd);
		src->fd = -1;
		return err;
	}
	return 0;
}

int channels_listen_tcp(struct channels *ch, const char *addr, unsigned int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };

	if (inet_pton(AF_INET, addr, &in.sin_addr) == 1)
		return listen_on(ch, &ch->tcp, AF_INET, (struct sockaddr *)&in, sizeof(in));
	if (inet_pton(AF_INET6, addr, &in6.sin6_addr) == 1)
		return listen_on(ch, &ch->tcp, AF_INET6, (struct sockaddr *)&in6, sizeof(in6));
	return -EINVAL;
}

int channels_listen_vsock(struct channels *ch, unsigned int port)
{
	struct sockaddr_vm vm = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				  .svm_port = port };

	return listen_on(ch, &ch->vsock, AF_VSOCK, (struct sockaddr *)&vm, sizeof(vm));
}

static void stop_listener(struct channels *ch, struct source *src)
{
	if (src->fd < 0)
		return;
	loop_del(ch->epfd, src);
	close(src->fd);
	src->fd = -1;
}

void channels_stop_tcp(struct channels *ch)
{
	stop_listener(ch, &ch->tcp);
}

void channels_stop_vsock(struct channels *ch)
{
	stop_listener(ch, &ch->vsock);
}

/* ---- the virtio-serial port --------------------------------------------- */

int channels_serial_open(struct channels *ch, const char *devnode)
{
	struct client *c;
	int fd, err;

	if (ch->serial)
		return -EBUSY;
	fd = open(devnode, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	c = client_new(ch, fd, CHANNEL_SERIAL, devnode);
	if (!c) {
		err = errno ? -errno : -ENOMEM;
		close(fd);
		return err;
	}
	ch->serial = c;
	snprintf(ch->serial_node, sizeof(ch->serial_node), "%s", devnode);
	return 0;
}

void channels_serial_close(struct channels *ch)
{
	if (ch->serial) {
		client_fail(ch->serial, LOG_INFO, "port closed");
		client_settle(ch->serial);
	}
	ch->serial_node[0] = '\0';
}

void channels_close_all(struct channels *ch)
{
	while (ch->clients) {
		client_fail(ch->clients, LOG_INFO, "shutting down");
		client_settle(ch->clients);
	}
	channels_serial_close(ch);
	channels_stop_tcp(ch);
	channels_stop_vsock(ch);
	channels_reap(ch);
}
