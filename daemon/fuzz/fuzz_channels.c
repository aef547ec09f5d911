// SPDX-License-Identifier: GPL-2.0
/*
 * The connection state machine of channels.c, driven the way the daemon's
 * loop drives it, by a script in the input: peers connect (socket pairs,
 * some with a tiny send buffer on the daemon's side, so writes are
 * partial), send valid and invalid lines or raw bytes, read a little,
 * half-close or vanish; time passes (request deadlines, idle, the line
 * budget); events are broadcast, also in the middle of an epoll batch
 * (as a netlink event would be); the policy is reloaded; everything is
 * shut down.  ASan catches a connection freed twice or used after it was
 * freed; the invariants below catch bookkeeping that drifts.
 *
 * Script: one opcode byte, then its arguments (see the switch).
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channels.h"
#include "fuzz.h"

#define MAX_PEERS 8
#define MAX_OPS 256

enum op {
	OP_CONNECT,	/* kind+buffer byte */
	OP_LINE,	/* peer, line index */
	OP_BYTES,	/* peer, length, bytes */
	OP_READ,	/* peer, how much (x 97 bytes) */
	OP_CLOSE,	/* peer: vanishes (unread replies: the daemon sees a reset) */
	OP_SHUT,	/* peer: half-close (FIN) */
	OP_TIME,	/* ms, two bytes */
	OP_BROADCAST,	/* size and sample bit */
	OP_PUMP,	/* one loop round; a broadcast after the event given */
	OP_CONFIGURE,	/* rate, idle, timeout, max_clients */
	OP_CLOSE_KIND,	/* kind */
	OP_SHUTDOWN,	/* everything closed; new peers may come */
	OP_COUNT
};

static const char *const lines[] = {
	"stats\n", "stats", "\n", "\r\n", "{\"cmd\":\"ping\",\"id\":1}\n",
	"{\"cmd\":\"snapshot\"}\n", "{\"cmd\":\"subscribe\"}\n",
	"{\"cmd\":\"subscribe\",\"samples\":true}\n", "{\"cmd\":\"unsubscribe\"}\n",
	"{\"cmd\":\"reboot\"}\n", "{\"cmd\":", "garbage\n", "\x00\xff\n", "{{{{\n",
	"stats\nstats\nstats\nstats\nstats\nstats\nstats\nstats\nstats\nstats\n",
	"x\nx\nx\nx\nx\nx\nx\nx\n",
};

static uint64_t now;
static struct sample sample;

static uint64_t fake_clock(void)
{
	return now;
}

static void fake_view(void *arg, struct view *v)
{
	(void)arg;
	memset(v, 0, sizeof(*v));
	v->sample = &sample;
	v->mono_ms = now;
}

struct state {
	int epfd;
	struct channels ch;
	int peer[MAX_PEERS];		/* the host's ends, -1: none */
	char big[6000];			/* an oversized line */
};

static void check(const struct channels *ch)
{
	unsigned int n[CHANNEL_KINDS] = { 0 };

	for (const struct client *c = ch->clients; c; c = c->next) {
		if (c->closed || c->dead || c->kind == CHANNEL_SERIAL)
			__builtin_trap();	/* a handler left it unsettled */
		if (sb_len(&c->out) > CLIENT_OUT_MAX || c->in_off > c->in_len ||
		    c->in_len > CLIENT_IN_MAX || c->proto.len > PROTO_LINE_MAX)
			__builtin_trap();
		if (!!sb_len(&c->out) != !!c->out_since_ms)
			__builtin_trap();
		n[c->kind]++;
	}
	if (n[CHANNEL_TCP] != ch->nclients[CHANNEL_TCP] ||
	    n[CHANNEL_VSOCK] != ch->nclients[CHANNEL_VSOCK])
		__builtin_trap();
	for (const struct client *c = ch->graveyard; c; c = c->next)
		if (!c->closed || c->src.fd != -1)
			__builtin_trap();
}

static void broadcast(struct state *st, size_t size, bool sample_event)
{
	struct strbuf ev;

	sb_init(&ev, 0);
	sb_puts(&ev, "{\"event\":\"x\",\"pad\":\"");
	while (sb_len(&ev) + 3 < size)
		sb_puts(&ev, "0123456789abcdef");
	sb_puts(&ev, "\"}\n");
	channels_broadcast(&st->ch, &ev, sample_event);
	sb_free(&ev);
}

/* One round of memballoond's run(): a batch, the deadlines, the reaping. */
static void pump(struct state *st, int broadcast_after)
{
	struct epoll_event evs[16];
	int n = epoll_wait(st->epfd, evs, 16, 0);

	for (int i = 0; i < n; i++) {
		struct source *src = evs[i].data.ptr;

		src->handler(src, evs[i].events);
		if (i == broadcast_after)
			broadcast(st, 1500, false);
		check(&st->ch);
	}
	channels_expire(&st->ch, now);
	check(&st->ch);
	channels_reap(&st->ch);
}

static void peer_connect(struct state *st, uint8_t arg)
{
	enum channel_kind kind = arg & 1 ? CHANNEL_VSOCK : CHANNEL_TCP;
	int fds[2], slot = -1;

	for (int i = 0; i < MAX_PEERS; i++)
		if (st->peer[i] < 0)
			slot = i;
	/* the listeners' check, as accept_client does it */
	if (slot < 0 || st->ch.nclients[kind] >= st->ch.pol.max_clients)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds))
		return;
	if (arg & 2) {
		int sz = 1024 * (1 + (arg >> 2));	/* a peer that takes little */

		setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (!channels_adopt(&st->ch, fds[0], kind, "fuzz", NULL, 0)) {
		close(fds[0]);
		close(fds[1]);
		return;
	}
	st->peer[slot] = fds[1];
}

static int *peer(struct state *st, uint8_t arg)
{
	for (int i = 0; i < MAX_PEERS; i++) {
		int *p = &st->peer[(arg + i) % MAX_PEERS];

		if (*p >= 0)
			return p;
	}
	return NULL;
}

static void configure(struct state *st, const uint8_t *a)
{
	struct channel_policy pol = st->ch.pol;

	pol.request_rate = 1 + a[0] % 50;
	pol.idle_timeout_ms = (a[1] % 8) * 500;
	pol.request_timeout_ms = 100 + (a[2] % 16) * 250;
	pol.max_clients = 1 + a[3] % MAX_PEERS;
	channels_configure(&st->ch, &pol);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state st;
	static const struct channel_policy pol0 = {
		.max_clients = 4, .request_timeout_ms = 1000, .idle_timeout_ms = 2000,
		.request_rate = 5,
	};
	size_t i = 0;
	int ops = 0;

	log_set_level(LOG_ERR);
	now = 1000;
	sample.meminfo_ok = true;
	sample.mem.total = 1000;
	memset(st.big, 'x', sizeof(st.big) - 1);
	st.big[sizeof(st.big) - 1] = '\n';
	st.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (st.epfd < 0)
		return 0;
	channels_init(&st.ch, st.epfd, fake_view, NULL);
	st.ch.now_ms = fake_clock;
	channels_configure(&st.ch, &pol0);
	for (int p = 0; p < MAX_PEERS; p++)
		st.peer[p] = -1;

	while (i < size && ops++ < MAX_OPS) {
		uint8_t op = data[i++] % OP_COUNT;
		uint8_t a = i < size ? data[i] : 0, b = i + 1 < size ? data[i + 1] : 0;
		char buf[16384];
		int *p;

		switch (op) {
		case OP_CONNECT:
			peer_connect(&st, a);
			i += 1;
			break;
		case OP_LINE:
			p = peer(&st, a);
			if (p) {
				size_t n = sizeof(lines) / sizeof(lines[0]), k = b % (n + 1);

				if (k == n)	/* the last one: an oversized line */
					(void)!send(*p, st.big, sizeof(st.big), MSG_NOSIGNAL);
				else
					(void)!send(*p, lines[k], strlen(lines[k]), MSG_NOSIGNAL);
			}
			i += 2;
			break;
		case OP_BYTES: {
			size_t len = b;

			i += 2;
			if (len > size - i)
				len = size - i;
			p = peer(&st, a);
			if (p)
				(void)!send(*p, data + i, len, MSG_NOSIGNAL);
			i += len;
			break;
		}
		case OP_READ:
			p = peer(&st, a);
			if (p)
				(void)!recv(*p, buf, (size_t)(b + 1) * 97 % sizeof(buf) + 1, MSG_DONTWAIT);
			i += 2;
			break;
		case OP_CLOSE:
		case OP_SHUT:
			p = peer(&st, a);
			if (p && op == OP_SHUT) {
				shutdown(*p, SHUT_WR);
			} else if (p) {
				close(*p);
				*p = -1;
			}
			i += 1;
			break;
		case OP_TIME:
			now += (uint64_t)a << 8 | b;
			i += 2;
			break;
		case OP_BROADCAST:
			broadcast(&st, 40 + (size_t)a * 64, b & 1);
			i += 2;
			break;
		case OP_PUMP:
			pump(&st, a % 8 == 7 ? -1 : a % 8);
			i += 1;
			break;
		case OP_CONFIGURE:
			if (size - i >= 4)
				configure(&st, data + i);
			i += 4;
			break;
		case OP_CLOSE_KIND:
			channels_close_kind(&st.ch, a & 1 ? CHANNEL_VSOCK : CHANNEL_TCP, "fuzz");
			i += 1;
			break;
		case OP_SHUTDOWN:
			channels_close_all(&st.ch);
			break;
		}
		check(&st.ch);
		/* the daemon sleeps until the next deadline: sometimes jump right to it */
		if (op == OP_PUMP && a & 0x80) {
			uint64_t d = channels_next_deadline(&st.ch);

			if (d > now)
				now = d;
		}
	}
	pump(&st, -1);
	channels_close_all(&st.ch);
	if (st.ch.clients || st.ch.graveyard || channels_count(&st.ch))
		__builtin_trap();
	for (int p = 0; p < MAX_PEERS; p++)
		if (st.peer[p] >= 0)
			close(st.peer[p]);
	close(st.epfd);
	return 0;
}
