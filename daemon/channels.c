// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "channels.h"
#include "log.h"
#include "sample.h"

static const char *const kind_names[] = { "tcp", "vsock", "serial" };

void channels_init(struct channels *ch, int epfd, void (*get_view)(void *, struct view *),
		   void *arg)
{
	memset(ch, 0, sizeof(*ch));
	ch->epfd = epfd;
	ch->tcp.fd = -1;
	ch->vsock.fd = -1;
	ch->max_clients = 16;
	ch->timeout_ms = 10000;
	ch->get_view = get_view;
	ch->arg = arg;
}

unsigned int channels_count(const struct channels *ch)
{
	return ch->nclients + (ch->serial ? 1 : 0);
}

/* ---- output ------------------------------------------------------------- */

static void client_close(struct client *c);

/* (Re)register for exactly the events the client needs now. */
static void client_arm(struct client *c)
{
	uint32_t want = EPOLLIN | (c->out.len ? EPOLLOUT : 0);

	if (c->kind == CHANNEL_SERIAL) {
		want |= EPOLLET;	/* a port without a host stays EPOLLHUP: edges only */
		if (c->gone_ms)
			want |= EPOLLOUT;	/* the edge that says the host is back */
	}
	if (want != c->armed && loop_mod(c->ch->epfd, &c->src, want) == 0)
		c->armed = want;
}

/* Write what we can.  false if the connection is gone (and was closed). */
static bool client_flush(struct client *c)
{
	while (c->out.len) {
		ssize_t n;

		if (c->kind == CHANNEL_SERIAL)
			n = write(c->src.fd, c->out.buf, c->out.len);
		else
			n = send(c->src.fd, c->out.buf, c->out.len, MSG_NOSIGNAL);
		if (n > 0) {
			sb_consume(&c->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		log_info("%s %s: write: %s", kind_names[c->kind], c->peer,
			 n < 0 ? strerror(errno) : "closed");
		if (c->kind == CHANNEL_SERIAL) {
			/* the host went away; the port stays */
			sb_reset(&c->out);
			break;
		}
		client_close(c);
		return false;
	}
	client_arm(c);
	return true;
}

/* Queue bytes; a reader that lets CLIENT_OUT_MAX pile up is cut off. */
static bool client_queue(struct client *c, const char *data, size_t len)
{
	sb_add(&c->out, data, len);
	if (!sb_failed(&c->out))
		return true;
	log_warn("%s %s: not reading, %zu bytes queued: %s", kind_names[c->kind], c->peer,
		 c->out.len, c->kind == CHANNEL_SERIAL ? "dropping output" : "disconnecting");
	if (c->kind == CHANNEL_SERIAL) {
		sb_reset(&c->out);
		proto_conn_init(&c->proto, false);
		return true;
	}
	client_close(c);
	return false;
}

/* ---- connections -------------------------------------------------------- */

static void client_event(struct source *src, uint32_t events);

static struct client *client_new(struct channels *ch, int fd, enum channel_kind kind,
				 const char *peer)
{
	struct client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->src.fd = fd;
	c->src.handler = client_event;
	c->ch = ch;
	c->kind = kind;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	proto_conn_init(&c->proto, kind != CHANNEL_SERIAL);
	sb_init(&c->out, CLIENT_OUT_MAX);
	c->armed = EPOLLIN | (kind == CHANNEL_SERIAL ? EPOLLET : 0);
	if (loop_add(ch->epfd, &c->src, c->armed) < 0) {
		sb_free(&c->out);
		free(c);
		return NULL;
	}
	return c;
}

static void client_close(struct client *c)
{
	struct channels *ch = c->ch;

	if (c->kind == CHANNEL_SERIAL) {
		ch->serial = NULL;
	} else {
		for (struct client **pp = &ch->clients; *pp; pp = &(*pp)->next) {
			if (*pp == c) {
				*pp = c->next;
				break;
			}
		}
		ch->nclients--;
		log_info("%s %s: disconnected", kind_names[c->kind], c->peer);
	}
	loop_del(ch->epfd, &c->src);
	close(c->src.fd);
	sb_free(&c->out);
	free(c);
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
	    (c->proto.kind != PROTO_UNDECIDED || c->out.len)) {
		log_info("serial %s: host reconnected, new conversation", c->peer);
		proto_conn_init(&c->proto, false);
		sb_reset(&c->out);
	}
	c->gone_ms = 0;
	client_arm(c);
}

static void client_event(struct source *src, uint32_t events)
{
	struct client *c = container_of(src, struct client, src);
	struct strbuf reply;
	struct view v;
	char buf[4096];

	if (c->kind == CHANNEL_SERIAL && !(events & (EPOLLHUP | EPOLLERR)))
		serial_host_back(c, mono_now_ms());	/* an event without HUP: host there */
	if (events & EPOLLOUT && !client_flush(c))
		return;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;

	sb_init(&reply, CLIENT_OUT_MAX);
	for (bool got_data = false;; got_data = true) {
		ssize_t n = read(c->src.fd, buf, sizeof(buf));
		enum proto_result r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			sb_free(&reply);
			if (c->kind != CHANNEL_SERIAL) {
				client_close(c);
			} else if (n < 0 && errno == ENODEV) {
				log_info("serial %s: port removed", c->peer);
				client_close(c);
			} else if (!got_data) {
				/* read() == 0: no data and (perhaps stale) no host */
				serial_host_gone(c, mono_now_ms());
			} else {
				client_flush(c);
			}
			return;
		}
		if (c->kind == CHANNEL_SERIAL)
			serial_host_back(c, mono_now_ms());	/* data: a host is there */
		c->ch->get_view(c->ch->arg, &v);
		r = proto_feed(&c->proto, buf, (size_t)n, &v, &reply, mono_now_ms());
		if (reply.len) {
			if (!client_queue(c, reply.buf, reply.len)) {
				sb_free(&reply);
				return;
			}
			sb_reset(&reply);
		}
		if (r == PROTO_CLOSE) {
			sb_free(&reply);
			log_info("%s %s: hanging up (bad or oversized requests)", kind_names[c->kind], c->peer);
			client_flush(c);	/* best effort: the error line */
			if (c->kind != CHANNEL_SERIAL)
				client_close(c);
			return;
		}
		/* level-triggered sockets: one read per wakeup is enough */
		if (c->kind != CHANNEL_SERIAL)
			break;
	}
	sb_free(&reply);
	client_flush(c);
}

void channels_broadcast(struct channels *ch, const struct strbuf *line, bool sample)
{
	struct client *c, *next;

	if (ch->serial && proto_wants_event(&ch->serial->proto, sample) &&
	    client_queue(ch->serial, line->buf, line->len))
		client_flush(ch->serial);
	for (c = ch->clients; c; c = next) {
		next = c->next;
		if (proto_wants_event(&c->proto, sample) && client_queue(c, line->buf, line->len))
			client_flush(c);
	}
}

uint64_t channels_next_deadline(const struct channels *ch)
{
	uint64_t best = 0, d;

	if (ch->serial) {
		d = proto_deadline(&ch->serial->proto, ch->timeout_ms);
		if (d && (!best || d < best))
			best = d;
	}
	for (const struct client *c = ch->clients; c; c = c->next) {
		d = proto_deadline(&c->proto, ch->timeout_ms);
		if (d && (!best || d < best))
			best = d;
	}
	return best;
}

static void client_expire(struct client *c, uint64_t now_ms)
{
	uint64_t d = proto_deadline(&c->proto, c->ch->timeout_ms);
	struct strbuf reply;

	if (!d || d > now_ms)
		return;
	log_info("%s %s: request timed out", kind_names[c->kind], c->peer);
	sb_init(&reply, 0);
	if (proto_timeout(&c->proto, &reply) == PROTO_CLOSE) {
		if (client_queue(c, reply.buf, reply.len)) {
			client_flush(c);
			client_close(c);
		}
	} else if (client_queue(c, reply.buf, reply.len)) {
		client_flush(c);
	}
	sb_free(&reply);
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
}

/* ---- listeners ---------------------------------------------------------- */

static void accept_client(struct channels *ch, struct source *src, enum channel_kind kind)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_vm vm;
	} peer;
	socklen_t plen = sizeof(peer);
	char name[80], host[INET6_ADDRSTRLEN];
	struct client *c;
	int fd;

	fd = accept4(src->fd, &peer.sa, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("%s: accept: %s", kind_names[kind], strerror(errno));
		return;
	}
	if (peer.sa.sa_family == AF_INET)
		snprintf(name, sizeof(name), "%s:%u",
			 inet_ntop(AF_INET, &peer.in.sin_addr, host, sizeof(host)) ? host : "?",
			 ntohs(peer.in.sin_port));
	else if (peer.sa.sa_family == AF_INET6)
		snprintf(name, sizeof(name), "[%s]:%u",
			 inet_ntop(AF_INET6, &peer.in6.sin6_addr, host, sizeof(host)) ? host : "?",
			 ntohs(peer.in6.sin6_port));
	else if (peer.sa.sa_family == AF_VSOCK)
		snprintf(name, sizeof(name), "cid %u port %u", peer.vm.svm_cid, peer.vm.svm_port);
	else
		snprintf(name, sizeof(name), "?");
	if (ch->nclients >= ch->max_clients) {
		log_warn("%s %s: refused, %u clients already", kind_names[kind], name,
			 ch->nclients);
		close(fd);
		return;
	}
	c = client_new(ch, fd, kind, name);
	if (!c) {
		log_warn("%s %s: %s", kind_names[kind], name, strerror(errno));
		close(fd);
		return;
	}
	c->next = ch->clients;
	ch->clients = c;
	ch->nclients++;
	log_info("%s %s: connected", kind_names[kind], name);
}

static void tcp_listener_event(struct source *src, uint32_t events)
{
	(void)events;
	accept_client(container_of(src, struct channels, tcp), src, CHANNEL_TCP);
}

static void vsock_listener_event(struct source *src, uint32_t events)
{
	(void)events;
	accept_client(container_of(src, struct channels, vsock), src, CHANNEL_VSOCK);
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
		err = -errno;
		close(fd);
		return err ? err : -ENOMEM;
	}
	ch->serial = c;
	snprintf(ch->serial_node, sizeof(ch->serial_node), "%s", devnode);
	return 0;
}

void channels_serial_close(struct channels *ch)
{
	if (ch->serial)
		client_close(ch->serial);
	ch->serial_node[0] = '\0';
}

void channels_close_all(struct channels *ch)
{
	while (ch->clients)
		client_close(ch->clients);
	channels_serial_close(ch);
	channels_stop_tcp(ch);
	channels_stop_vsock(ch);
}
