// SPDX-License-Identifier: GPL-2.0
/*
 * The host channels driven directly: an epoll fd, the handlers, real socket
 * pairs and TCP loopback connections, a clock the test moves.  Under ASan,
 * a connection freed twice or used after it was freed fails the test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"
#include "channels.h"
#include "log.h"

static uint64_t fake_now;
static struct sample fake_sample;

static uint64_t fake_clock(void)
{
	return fake_now;
}

static void fake_view(void *arg, struct view *v)
{
	(void)arg;
	memset(v, 0, sizeof(*v));
	v->sample = &fake_sample;
	v->mono_ms = fake_now;
}

struct rig {
	int epfd;
	struct channels ch;
};

static void rig_init(struct rig *r, unsigned int rate, unsigned int idle_ms)
{
	struct channel_policy pol = {
		.max_clients = 4, .request_timeout_ms = 2000, .idle_timeout_ms = idle_ms,
		.request_rate = rate, .vsock_allow = { .n = 1, .cid = { ACL_CID_HOST } },
	};

	log_set_level(LOG_ERR);
	if (!fake_sample.meminfo_ok)
		assert_int_equal(sample_collect(&fake_sample, "fixtures/proc-guest"), 0);
	fake_now = 1000000;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(r->epfd >= 0);
	channels_init(&r->ch, r->epfd, fake_view, NULL);
	r->ch.now_ms = fake_clock;
	channels_configure(&r->ch, &pol);
}

static void rig_done(struct rig *r)
{
	channels_close_all(&r->ch);
	assert_null(r->ch.clients);
	assert_null(r->ch.graveyard);
	close(r->epfd);
	log_set_level(LOG_INFO);
}

/* One round of the daemon's loop: a batch, the deadlines, then the reaping. */
static int pump_once(struct rig *r, int timeout_ms)
{
	struct epoll_event evs[16];
	int n = epoll_wait(r->epfd, evs, 16, timeout_ms);

	for (int i = 0; i < n; i++) {
		struct source *src = evs[i].data.ptr;

		src->handler(src, evs[i].events);
	}
	channels_expire(&r->ch, fake_now);
	channels_reap(&r->ch);
	return n;
}

/* Until nothing happens for 20 ms (loopback TCP may take a moment). */
static void pump(struct rig *r)
{
	for (int i = 0; i < 200 && pump_once(r, i ? 20 : 0) > 0; i++)
		;
}

static unsigned int clients(const struct channels *ch)
{
	unsigned int n = 0;

	for (const struct client *c = ch->clients; c; c = c->next)
		n++;
	assert_int_equal(n, ch->nclients[CHANNEL_TCP] + ch->nclients[CHANNEL_VSOCK]);
	return n;
}

/* A connection over a socket pair; *peer is the host's end. */
static struct client *pair(struct rig *r, enum channel_kind kind, int *peer)
{
	struct client *c;
	int fds[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
	c = channels_adopt(&r->ch, fds[0], kind, "pair", NULL, 0);
	assert_non_null(c);
	*peer = fds[1];
	return c;
}

static void put(int fd, const char *s)
{
	size_t len = strlen(s);

	assert_int_equal(send(fd, s, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Everything the peer can read now ("" if nothing); -1: EOF or reset seen. */
static ssize_t take(int fd, char *buf, size_t cap)
{
	size_t got = 0;

	buf[0] = '\0';
	while (got + 1 < cap) {
		ssize_t n = recv(fd, buf + got, cap - 1 - got, MSG_DONTWAIT);

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			break;
		buf[got] = '\0';
		return got ? (ssize_t)got : -1;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

static unsigned int count_lines(const char *s, const char *prefix)
{
	unsigned int n = 0;

	for (const char *p = s; (p = strstr(p, prefix)); p += strlen(prefix))
		n++;
	return n;
}

/* The peer's end sees the daemon hang up (EOF or a reset), after any data. */
static bool hung_up(int fd)
{
	char buf[65536];

	for (int i = 0; i < 100; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN))
			return true;
		if (n < 0)
			return false;
	}
	return false;
}

static int tcp_listener(struct rig *r)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	assert_int_equal(channels_listen_tcp(&r->ch, "127.0.0.1", 0), 0);
	assert_int_equal(getsockname(r->ch.tcp.fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

static int tcp_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* close() that sends a RST instead of a FIN */
static void tcp_reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
	close(fd);
}

/*
 * The crash: 8 bad lines (or one oversized line) and a reset at
 * once.  The daemon's last error reply fails to write, and the connection
 * used to be freed there and again by its caller.
 */
static void bad_lines_then_reset(void **state)
{
	char bad[8 * 4 + 1] = "", big[5002];
	struct rig r;
	int port;

	(void)state;
	for (int i = 0; i < 8; i++)
		strcat(bad, "bad\n");
	memset(big, 'x', 5000);
	big[5000] = '\n';
	big[5001] = '\0';
	rig_init(&r, 1000, 0);
	port = tcp_listener(&r);
	for (int i = 0; i < 20; i++) {
		int fd = tcp_connect(port);

		put(fd, i % 2 ? big : bad);
		tcp_reset(fd);
		pump(&r);
		assert_int_equal(clients(&r.ch), 0);
	}
	/* over socket pairs too: the peer closes with our replies unread */
	for (int i = 0; i < 20; i++) {
		int peer;

		pair(&r, CHANNEL_VSOCK, &peer);
		put(peer, i % 2 ? big : bad);
		close(peer);
		pump(&r);
		assert_int_equal(clients(&r.ch), 0);
	}
	rig_done(&r);
}

/* Too many bad lines: the error lines arrive, then the hang-up. */
static void too_many_bad_lines(void **state)
{
	char buf[4096];
	struct rig r;
	int peer;

	(void)state;
	rig_init(&r, 1000, 0);
	pair(&r, CHANNEL_TCP, &peer);
	for (int i = 0; i < 7; i++)
		put(peer, "nonsense\n");
	pump(&r);
	assert_int_equal(clients(&r.ch), 1);
	put(peer, "nonsense\n");
	pump(&r);
	assert_int_equal(clients(&r.ch), 0);
	assert_true(take(peer, buf, sizeof(buf)) > 0);
	assert_int_equal(count_lines(buf, "error:unknown request\n"), 8);
	assert_true(hung_up(peer));
	close(peer);
	rig_done(&r);
}

/* A read error: the peer closes with our reply unread (AF_UNIX: ECONNRESET). */
static void read_error(void **state)
{
	struct rig r;
	int peer;

	(void)state;
	rig_init(&r, 1000, 0);
	pair(&r, CHANNEL_TCP, &peer);
	put(peer, "stats\n");
	pump(&r);
	close(peer);
	pump(&r);
	assert_int_equal(clients(&r.ch), 0);
	rig_done(&r);
}

/* A FIN after the requests: every answer is delivered, then the close. */
static void eof_after_requests(void **state)
{
	char buf[8192];
	struct rig r;
	int peer;

	(void)state;
	rig_init(&r, 1000, 0);
	pair(&r, CHANNEL_TCP, &peer);
	put(peer, "stats\nstats\n");
	shutdown(peer, SHUT_WR);
	pump(&r);
	assert_int_equal(clients(&r.ch), 0);
	assert_true(take(peer, buf, sizeof(buf)) > 0);
	assert_int_equal(count_lines(buf, "mem_available:"), 2);
	assert_true(hung_up(peer));
	close(peer);
	rig_done(&r);
}

/*
 * A broadcast that fails to write closes the connection there; an event of
 * the same epoll batch that still points at it is ignored, and the struct
 * is freed only by channels_reap().
 */
static void write_error_in_broadcast(void **state)
{
	struct strbuf ev;
	struct client *c;
	char buf[4096];
	struct rig r;
	int peer;

	(void)state;
	rig_init(&r, 1000, 0);
	c = pair(&r, CHANNEL_TCP, &peer);
	put(peer, "{\"cmd\":\"subscribe\"}\n");
	pump(&r);
	assert_true(take(peer, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"ok\":true"));
	close(peer);
	sb_init(&ev, 0);
	sb_puts(&ev, "{\"event\":\"test\"}\n");
	channels_broadcast(&r.ch, &ev, false);
	sb_free(&ev);
	assert_int_equal(clients(&r.ch), 0);
	assert_ptr_equal(r.ch.graveyard, c);
	assert_true(c->closed);
	/* the rest of the batch: an event still pointing at it */
	c->src.handler(&c->src, EPOLLIN | EPOLLHUP | EPOLLERR);
	c->src.handler(&c->src, EPOLLOUT);
	assert_ptr_equal(r.ch.graveyard, c);
	channels_reap(&r.ch);
	assert_null(r.ch.graveyard);
	rig_done(&r);
}

/* A started line that never completes: error line, then closed (peer gone or not). */
static void request_timeout(void **state)
{
	char buf[4096];
	struct rig r;
	int peer, gone;

	(void)state;
	rig_init(&r, 1000, 0);
	pair(&r, CHANNEL_TCP, &peer);
	pair(&r, CHANNEL_TCP, &gone);
	put(peer, "{\"cmd\":");
	put(gone, "sta");
	pump(&r);
	assert_int_equal(channels_next_deadline(&r.ch), fake_now + 2000);
	/* the second peer resets before the deadline: the error line cannot be written */
	put(gone, "t");
	pump(&r);
	close(gone);
	fake_now += 1999;
	pump(&r);
	assert_int_equal(clients(&r.ch), 1);	/* gone's read error closed it */
	fake_now += 1;
	pump(&r);
	assert_int_equal(clients(&r.ch), 0);
	assert_true(take(peer, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"error\":\"request timed out (no complete line)\"}\n");
	assert_true(hung_up(peer));
	close(peer);
	rig_done(&r);
}

/* A hang-up while out of budget (EPOLLIN off: only EPOLLHUP/EPOLLERR come). */
static void hangup_while_paused(void **state)
{
	struct rig r;
	int port, fd;

	(void)state;
	rig_init(&r, 2, 0);
	port = tcp_listener(&r);
	fd = tcp_connect(port);
	pump(&r);
	assert_int_equal(clients(&r.ch), 1);
	put(fd, "stats\nstats\nstats\nstats\n");
	pump(&r);
	assert_true(r.ch.clients->resume_ms != 0);
	tcp_reset(fd);
	pump(&r);
	assert_int_equal(clients(&r.ch), 0);
	rig_done(&r);
}

/* Idle: no line for idle_timeout closes; a keep-alive line counts. */
static void idle_timeout(void **state)
{
	char buf[4096];
	struct rig r;
	int quiet, chatty;

	(void)state;
	rig_init(&r, 1000, 1000);
	pair(&r, CHANNEL_TCP, &quiet);
	pair(&r, CHANNEL_VSOCK, &chatty);
	assert_int_equal(channels_next_deadline(&r.ch), fake_now + 1000);
	fake_now += 900;
	put(chatty, "\n");		/* an empty line is a keep-alive */
	pump(&r);
	fake_now += 99;
	pump(&r);
	assert_int_equal(clients(&r.ch), 2);
	fake_now += 1;
	pump(&r);
	assert_int_equal(clients(&r.ch), 1);
	assert_true(hung_up(quiet));
	assert_int_equal(r.ch.nclients[CHANNEL_VSOCK], 1);
	assert_int_equal(channels_next_deadline(&r.ch), fake_now - 100 + 1000);
	fake_now += 900;
	pump(&r);
	assert_int_equal(clients(&r.ch), 0);
	assert_int_equal(take(chatty, buf, sizeof(buf)), -1);
	close(quiet);
	close(chatty);
	rig_done(&r);
}

static void broadcast_n(struct rig *r, size_t size, unsigned int n)
{
	struct strbuf ev;

	sb_init(&ev, 0);
	sb_puts(&ev, "{\"event\":\"sample\",\"pad\":\"");
	while (sb_len(&ev) < size - 3)
		sb_puts(&ev, "x");
	sb_puts(&ev, "\"}\n");
	for (unsigned int i = 0; i < n; i++)
		channels_broadcast(&r->ch, &ev, true);
	sb_free(&ev);
}

/*
 * A subscriber that reads its events is never idle; one whose output
 * stays queued for idle_timeout while it sends nothing is closed.
 */
static void subscriber_idle(void **state)
{
	char buf[65536];
	struct rig r;
	int reader, stuck, sz = 4096;

	(void)state;
	rig_init(&r, 1000, 1000);
	pair(&r, CHANNEL_TCP, &reader);
	pair(&r, CHANNEL_TCP, &stuck);
	/* the stuck peer's socket takes little */
	assert_int_equal(setsockopt(r.ch.clients->src.fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	put(reader, "{\"cmd\":\"subscribe\",\"samples\":true}\n");
	put(stuck, "{\"cmd\":\"subscribe\",\"samples\":true}\n");
	pump(&r);
	take(reader, buf, sizeof(buf));
	for (int t = 0; t < 10; t++) {
		fake_now += 400;
		broadcast_n(&r, 2000, 4);
		pump(&r);
		assert_true(take(reader, buf, sizeof(buf)) >= 8000);
		if (t < 2)
			assert_int_equal(clients(&r.ch), 2);
	}
	/* 4 s without a line: the reader stays, the stuck one went after its 1 s */
	assert_int_equal(clients(&r.ch), 1);
	assert_true(hung_up(stuck));
	assert_int_equal(channels_next_deadline(&r.ch), 0);
	close(reader);
	close(stuck);
	rig_done(&r);
}

/* Output overflow: a peer that sends requests but never reads is cut off. */
static void output_overflow(void **state)
{
	struct rig r;
	int peer;
	unsigned int sent = 0;

	(void)state;
	rig_init(&r, 1000, 0);
	pair(&r, CHANNEL_TCP, &peer);
	put(peer, "{\"cmd\":\"subscribe\",\"samples\":true}\n");
	pump(&r);
	while (clients(&r.ch) && sent < 10 * CLIENT_OUT_MAX) {
		broadcast_n(&r, 4000, 1);
		sent += 4000;
	}
	assert_int_equal(clients(&r.ch), 0);
	/* what the socket took plus at most CLIENT_OUT_MAX */
	assert_true(sent < 2 * CLIENT_OUT_MAX + (1 << 20));
	close(peer);
	rig_done(&r);
}

/*
 * The line budget: `rate` lines at once, then one per 1/rate s; meanwhile
 * the socket is not read (the flood stays in the peer's socket buffer).
 */
static void rate_limit(void **state)
{
	char buf[65536];
	struct rig r;
	int peer;

	(void)state;
	rig_init(&r, 5, 0);
	pair(&r, CHANNEL_TCP, &peer);
	for (int i = 0; i < 20; i++)
		put(peer, "stats\n");
	pump(&r);
	take(peer, buf, sizeof(buf));
	assert_int_equal(count_lines(buf, "mem_available:"), 5);
	assert_int_equal(r.ch.clients->resume_ms, fake_now + 200);
	assert_false(r.ch.clients->armed & EPOLLIN);
	assert_int_equal(channels_next_deadline(&r.ch), fake_now + 200);
	/* nothing more at the same instant, however often the loop turns */
	pump(&r);
	pump(&r);
	assert_int_equal(take(peer, buf, sizeof(buf)), 0);
	fake_now += 199;
	pump(&r);
	assert_int_equal(take(peer, buf, sizeof(buf)), 0);
	fake_now += 1;
	pump(&r);
	take(peer, buf, sizeof(buf));
	assert_int_equal(count_lines(buf, "mem_available:"), 1);
	fake_now += 1000;		/* a full second: the burst again */
	pump(&r);
	take(peer, buf, sizeof(buf));
	assert_int_equal(count_lines(buf, "mem_available:"), 5);
	fake_now += 5000;		/* never more than the burst */
	pump(&r);
	take(peer, buf, sizeof(buf));
	assert_int_equal(count_lines(buf, "mem_available:"), 5);
	fake_now += 10000;
	pump(&r);
	take(peer, buf, sizeof(buf));
	assert_int_equal(count_lines(buf, "mem_available:"), 4);	/* 20 in all */
	assert_int_equal(r.ch.clients->resume_ms, 0);
	assert_true(r.ch.clients->armed & EPOLLIN);
	/* a bare "stats" (answered before its newline) costs a line too */
	fake_now += 1000;
	for (int i = 0; i < 8; i++) {
		put(peer, "stats");
		pump(&r);
		put(peer, "\n");
		pump(&r);
	}
	take(peer, buf, sizeof(buf));
	assert_int_equal(count_lines(buf, "mem_available:"), 3);
	close(peer);
	rig_done(&r);
}

/* Partial writes: a peer that takes a little at a time gets every byte, in order. */
static void partial_writes(void **state)
{
	static char got[300000];
	struct strbuf ev;
	size_t have = 0, want;
	struct client *c;
	struct rig r;
	int peer, sz = 4096;

	(void)state;
	rig_init(&r, 1000, 0);
	c = pair(&r, CHANNEL_TCP, &peer);
	assert_int_equal(setsockopt(c->src.fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	put(peer, "{\"cmd\":\"subscribe\"}\n");
	pump(&r);
	have = (size_t)take(peer, got, sizeof(got));
	have = 0;
	sb_init(&ev, 0);
	for (int i = 0; i < 100; i++)
		sb_printf(&ev, "{\"event\":\"n\",\"i\":%04d,\"pad\":\"%01000d\"}\n", i, 0);
	want = sb_len(&ev);
	channels_broadcast(&r.ch, &ev, false);
	assert_true(sb_len(&c->out) > 0);	/* the socket took only part */
	while (have < want) {
		ssize_t n = recv(peer, got + have, 777, MSG_DONTWAIT);

		if (n > 0)
			have += (size_t)n;
		pump_once(&r, 0);
	}
	assert_int_equal(have, want);
	assert_memory_equal(got, sb_data(&ev), want);
	assert_int_equal(sb_len(&c->out), 0);
	assert_int_equal(c->out_since_ms, 0);
	assert_false(c->armed & EPOLLOUT);
	sb_free(&ev);
	close(peer);
	rig_done(&r);
}

/* max_clients counts each channel apart: a full vsock does not lock TCP out. */
static void limits_per_channel(void **state)
{
	int peers[4], fds[6], port;
	char buf[256];
	struct rig r;

	(void)state;
	rig_init(&r, 1000, 0);
	port = tcp_listener(&r);
	for (int i = 0; i < 4; i++)
		pair(&r, CHANNEL_VSOCK, &peers[i]);
	assert_int_equal(r.ch.nclients[CHANNEL_VSOCK], 4);
	for (int i = 0; i < 6; i++) {
		fds[i] = tcp_connect(port);
		pump(&r);
	}
	assert_int_equal(r.ch.nclients[CHANNEL_TCP], 4);
	assert_int_equal(channels_count(&r.ch), 8);
	/* the 5th and 6th were closed right after accept */
	for (int i = 4; i < 6; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };

		assert_int_equal(poll(&p, 1, 1000), 1);
		assert_true(recv(fds[i], buf, sizeof(buf), 0) <= 0);
	}
	put(fds[0], "stats\n");
	pump(&r);
	assert_true(recv(fds[0], buf, sizeof(buf), 0) > 0);
	for (int i = 0; i < 6; i++)
		close(fds[i]);
	for (int i = 0; i < 4; i++)
		close(peers[i]);
	rig_done(&r);
}

/* The host's MOM request on fd, answered: its swap_in and swap_out. */
static void tcp_mom_swap(struct rig *r, int fd, unsigned long long *in, unsigned long long *out)
{
	char buf[256];
	const char *p;

	put(fd, "stats\n");
	pump(r);
	assert_true(take(fd, buf, sizeof(buf)) > 0);
	assert_int_equal(count_lines(buf, "mem_available:"), 1);
	p = strstr(buf, ",swap_in:");
	assert_non_null(p);
	assert_int_equal(sscanf(p, ",swap_in:%llu,swap_out:%llu,", in, out), 2);
}

/*
 * Two MOM collectors on TCP: each gets the pages swapped since its own
 * previous "stats", 0 on its first; a collector that reconnects starts over.
 */
static void mom_swap_per_connection(void **state)
{
	unsigned long long in, out;
	struct vmstat saved;
	int port, a, b;
	struct rig r;

	(void)state;
	rig_init(&r, 1000, 0);
	saved = fake_sample.vm;
	fake_sample.vm.pswpin = 4000;
	fake_sample.vm.pswpout = 9000;
	port = tcp_listener(&r);
	a = tcp_connect(port);
	b = tcp_connect(port);
	pump(&r);

	tcp_mom_swap(&r, a, &in, &out);
	assert_true(in == 0 && out == 0);
	fake_sample.vm.pswpin += 12;
	fake_sample.vm.pswpout += 30;
	tcp_mom_swap(&r, a, &in, &out);
	assert_true(in == 12 && out == 30);

	fake_sample.vm.pswpin += 5;
	tcp_mom_swap(&r, b, &in, &out);
	assert_true(in == 0 && out == 0);
	fake_sample.vm.pswpout += 2;
	tcp_mom_swap(&r, b, &in, &out);
	assert_true(in == 0 && out == 2);
	tcp_mom_swap(&r, a, &in, &out);
	assert_true(in == 5 && out == 2);

	close(a);
	pump(&r);
	fake_sample.vm.pswpin += 1;
	a = tcp_connect(port);
	pump(&r);
	tcp_mom_swap(&r, a, &in, &out);
	assert_true(in == 0 && out == 0);
	tcp_mom_swap(&r, b, &in, &out);
	assert_true(in == 1 && out == 0);

	close(a);
	close(b);
	fake_sample.vm = saved;
	rig_done(&r);
}

/* tcp_allow is checked at accept, and again for open connections on reload. */
static void tcp_allowlist(void **state)
{
	struct channel_policy pol;
	struct pollfd p;
	int port, fd, kept;
	char buf[64];
	struct rig r;

	(void)state;
	rig_init(&r, 1000, 0);
	port = tcp_listener(&r);
	kept = tcp_connect(port);
	pump(&r);
	assert_int_equal(clients(&r.ch), 1);
	pol = r.ch.pol;
	assert_int_equal(acl_parse_ip("127.0.0.0/8", &pol.tcp_allow), 0);
	channels_configure(&r.ch, &pol);
	assert_int_equal(clients(&r.ch), 1);		/* still allowed */
	assert_int_equal(acl_parse_ip("10.0.0.0/8 ::1", &pol.tcp_allow), 0);
	channels_configure(&r.ch, &pol);
	assert_int_equal(clients(&r.ch), 0);		/* not any more */
	assert_true(hung_up(kept));
	fd = tcp_connect(port);
	pump(&r);
	assert_int_equal(clients(&r.ch), 0);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 1000), 1);
	assert_true(recv(fd, buf, sizeof(buf), 0) <= 0);	/* closed without a word */
	close(fd);
	close(kept);
	rig_done(&r);
}

/*
 * Reload replaces the listeners: an event of the same batch for the old
 * listener finds it gone; connections stay unless their channel is off.
 */
static void reload_listeners(void **state)
{
	int port, fd, peer;
	char buf[4096];
	struct rig r;

	(void)state;
	rig_init(&r, 1000, 0);
	port = tcp_listener(&r);
	fd = tcp_connect(port);
	pair(&r, CHANNEL_VSOCK, &peer);
	pump(&r);
	assert_int_equal(clients(&r.ch), 2);
	channels_stop_tcp(&r.ch);
	r.ch.tcp.handler(&r.ch.tcp, EPOLLIN);		/* stale listener event */
	put(fd, "stats\n");
	pump(&r);
	assert_true(take(fd, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "mem_available:"));
	channels_close_kind(&r.ch, CHANNEL_TCP, "tcp turned off");
	assert_int_equal(clients(&r.ch), 1);
	assert_true(hung_up(fd));
	close(fd);
	close(peer);
	rig_done(&r);
}

/* Shutdown with connections in every state: each closed once, all freed. */
static void shutdown_all(void **state)
{
	int quiet, partial, paused, stuck, sub, sz = 4096;
	struct client *c;
	struct rig r;

	(void)state;
	rig_init(&r, 1, 60000);
	pair(&r, CHANNEL_TCP, &quiet);
	pair(&r, CHANNEL_TCP, &partial);
	pair(&r, CHANNEL_VSOCK, &paused);
	c = pair(&r, CHANNEL_VSOCK, &stuck);
	assert_int_equal(setsockopt(c->src.fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	put(partial, "{\"cmd\":\"sn");
	put(paused, "stats\nstats\nstats\n");
	put(stuck, "{\"cmd\":\"subscribe\",\"samples\":true}\n");
	pump(&r);
	broadcast_n(&r, 4000, 30);
	assert_true(sb_len(&c->out) > 0);
	pair(&r, CHANNEL_TCP, &sub);
	close(sub);			/* dead peer, not noticed yet */
	channels_close_all(&r.ch);
	assert_int_equal(channels_count(&r.ch), 0);
	assert_true(hung_up(quiet) && hung_up(partial) && hung_up(paused) && hung_up(stuck));
	close(quiet);
	close(partial);
	close(paused);
	close(stuck);
	rig_done(&r);
}

int run_channels_tests(void)
{
	const struct CMUnitTest channels[] = {
		cmocka_unit_test(bad_lines_then_reset),
		cmocka_unit_test(too_many_bad_lines),
		cmocka_unit_test(read_error),
		cmocka_unit_test(eof_after_requests),
		cmocka_unit_test(write_error_in_broadcast),
		cmocka_unit_test(request_timeout),
		cmocka_unit_test(hangup_while_paused),
		cmocka_unit_test(idle_timeout),
		cmocka_unit_test(subscriber_idle),
		cmocka_unit_test(output_overflow),
		cmocka_unit_test(rate_limit),
		cmocka_unit_test(partial_writes),
		cmocka_unit_test(limits_per_channel),
		cmocka_unit_test(mom_swap_per_connection),
		cmocka_unit_test(tcp_allowlist),
		cmocka_unit_test(reload_listeners),
		cmocka_unit_test(shutdown_all),
	};

	return RUN_GROUP(channels);
}
