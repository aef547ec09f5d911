// SPDX-License-Identifier: GPL-2.0
/*
 * mbnl - talk to the memballoon generic netlink family from the test guest,
 * with nothing but raw netlink sockets (the guest has no libnl).
 *
 *   mbnl [-u UID] dump                 one line per device
 *   mbnl [-u UID] get ID
 *   mbnl [-u UID] floor ID PAGES       DEV_SET floor (4 KiB pages)
 *   mbnl [-u UID] release ID PAGES     DEV_RELEASE
 *   mbnl listen SECONDS [COUNT]        print events until SECONDS or COUNT
 *   mbnl dumploop SECONDS              dump again and again: latency, and
 *                                      inflated - deflated == actual each time
 *   mbnl fuzz COUNT SEED               send malformed requests, expect errors
 *   mbnl now                           print the wall clock (s.ms), for latencies
 *
 * -u drops to UID before talking (the unprivileged-caller tests).
 * -c CAPS keeps only these capabilities (comma separated, e.g. net_admin or
 * net_admin,sys_admin; "none" for none), also across -u: a CAP_NET_ADMIN-only
 * caller is "-u 65534 -c net_admin".
 * -T prints "elapsed_ms=N" after a request's answer (send to last reply).
 * -F marks this task for fault injection (/proc/self/make-it-fail) once its
 * socket is set up, so that failslab/fail_page_alloc with task-filter hit the
 * kernel's handling of the requests, not the exec or the socket (debug tier);
 * with -u, before dropping privileges (an unprivileged task cannot mark
 * itself), so the socket's setup can fail too.
 * Errors print "error: <errno> <strerror>: <extack message>" and exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../../include/memballoon-names.h"

#define BUF_SIZE 65536

static int sock;
static uint16_t family_id;
static uint32_t events_group;
static uint32_t seq = 1;
static int print_elapsed;

/* Walk the top-level attributes of a generic netlink message @h. */
#define for_each_genl_attr(a, len, h)						\
	for ((a) = (struct nlattr *)((char *)NLMSG_DATA(h) + GENL_HDRLEN),	\
	     (len) = (h)->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);		\
	     (len) >= NLA_HDRLEN && (a)->nla_len >= NLA_HDRLEN &&		\
	     (a)->nla_len <= (len);						\
	     (len) -= NLA_ALIGN((a)->nla_len),					\
	     (a) = (struct nlattr *)((char *)(a) + NLA_ALIGN((a)->nla_len)))

struct req {
	struct nlmsghdr nlh;
	struct genlmsghdr genl;
	char attrs[1024];
};

static void die(const char *what)
{
	fprintf(stderr, "mbnl: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void put_attr(struct req *r, uint16_t type, const void *data,
		     uint16_t len)
{
	struct nlattr *a = (struct nlattr *)((char *)r + NLMSG_ALIGN(r->nlh.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	r->nlh.nlmsg_len = NLMSG_ALIGN(r->nlh.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static void init_req(struct req *r, uint16_t type, uint16_t flags, uint8_t cmd)
{
	memset(r, 0, sizeof(*r));
	r->nlh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r->nlh.nlmsg_type = type;
	r->nlh.nlmsg_flags = NLM_F_REQUEST | flags;
	r->nlh.nlmsg_seq = seq++;
	r->genl.cmd = cmd;
	r->genl.version = 1;
}

static void send_req(struct req *r)
{
	if (send(sock, r, r->nlh.nlmsg_len, 0) < 0)
		die("send");
}

/* The extack message of an error, if the kernel attached one. */
static const char *extack_msg(struct nlmsghdr *h)
{
	struct nlmsgerr *e = NLMSG_DATA(h);
	size_t off = sizeof(*e);
	struct nlattr *a;

	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return "";
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	for (a = (struct nlattr *)((char *)e + off);
	     (char *)a + NLA_HDRLEN <= (char *)h + h->nlmsg_len && a->nla_len >= NLA_HDRLEN;
	     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
		if (a->nla_type == NLMSGERR_ATTR_MSG)
			return (char *)a + NLA_HDRLEN;
	return "";
}

typedef void (*msg_fn)(struct nlmsghdr *h);

/* Read replies to the last request until DONE or an ACK/error; returns -errno or 0. */
static int recv_replies(msg_fn fn, int quiet)
{
	static char buf[BUF_SIZE];
	struct nlmsghdr *h;
	ssize_t n;

	for (;;) {
		n = recv(sock, buf, sizeof(buf), 0);
		if (n < 0 && errno == EAGAIN && quiet)
			return 1;	/* no answer at all: the caller reports it */
		if (n < 0)
			die("recv");
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				if (e->error && !quiet)
					printf("error: %d %s: %s\n", -e->error,
					       strerror(-e->error), extack_msg(h));
				return e->error;
			}
			if (fn)
				fn(h);
		}
	}
}

/* One device message as name=value pairs, named as the daemon names them. */
static void print_dev(struct nlmsghdr *h)
{
	struct nlattr *a;
	int len;
	const char *sep = "";

	for_each_genl_attr(a, len, h) {
		int t = a->nla_type & NLA_TYPE_MASK;
		const struct memballoon_attr_info *info = memballoon_dev_attr(t);
		void *d = (char *)a + NLA_HDRLEN;
		int dl = a->nla_len - NLA_HDRLEN;
		const char *ev;

		if (!info)
			continue;
		if (info->type == MEMBALLOON_ATTR_STRING)
			printf("%s%s=%.*s", sep, info->name, dl, (char *)d);
		else if (info->type == MEMBALLOON_ATTR_U32 && dl == 4 &&
			 t == MEMBALLOON_A_DEV_EVENT &&
			 (ev = memballoon_event_name(*(uint32_t *)d)))
			printf("%s%s=%s", sep, info->name, ev);
		else if (info->type == MEMBALLOON_ATTR_U32 && dl == 4)
			printf("%s%s=%u", sep, info->name, *(uint32_t *)d);
		else if (info->type == MEMBALLOON_ATTR_U64 && dl == 8 &&
			 t == MEMBALLOON_A_DEV_FEATURES)
			printf("%s%s=0x%llx", sep, info->name, (unsigned long long)*(uint64_t *)d);
		else if (info->type == MEMBALLOON_ATTR_U64 && dl == 8)
			printf("%s%s=%llu", sep, info->name, (unsigned long long)*(uint64_t *)d);
		else
			continue;	/* padding, or a payload of the wrong size */
		sep = " ";
	}
	printf("\n");
	fflush(stdout);
}

static void parse_family(struct nlmsghdr *h)
{
	struct nlattr *a;
	int len;

	for_each_genl_attr(a, len, h) {
		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			family_id = *(uint16_t *)((char *)a + NLA_HDRLEN);
		if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_MCAST_GROUPS) {
			/* nested: [ {NAME, ID}, ... ] */
			struct nlattr *grp = (struct nlattr *)((char *)a + NLA_HDRLEN);
			int glen = a->nla_len - NLA_HDRLEN;

			for (; glen >= NLA_HDRLEN && grp->nla_len >= NLA_HDRLEN;
			     glen -= NLA_ALIGN(grp->nla_len),
			     grp = (struct nlattr *)((char *)grp + NLA_ALIGN(grp->nla_len))) {
				struct nlattr *f = (struct nlattr *)((char *)grp + NLA_HDRLEN);
				int flen = grp->nla_len - NLA_HDRLEN;
				uint32_t id = 0;
				int match = 0;

				for (; flen >= NLA_HDRLEN && f->nla_len >= NLA_HDRLEN;
				     flen -= NLA_ALIGN(f->nla_len),
				     f = (struct nlattr *)((char *)f + NLA_ALIGN(f->nla_len))) {
					if (f->nla_type == CTRL_ATTR_MCAST_GRP_ID)
						id = *(uint32_t *)((char *)f + NLA_HDRLEN);
					if (f->nla_type == CTRL_ATTR_MCAST_GRP_NAME &&
					    !strcmp((char *)f + NLA_HDRLEN, MEMBALLOON_MCGRP_EVENTS))
						match = 1;
				}
				if (match)
					events_group = id;
			}
		}
	}
}

static void resolve_family(void)
{
	struct req r;

	init_req(&r, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY);
	put_attr(&r, CTRL_ATTR_FAMILY_NAME, MEMBALLOON_FAMILY_NAME,
		 sizeof(MEMBALLOON_FAMILY_NAME));
	send_req(&r);
	if (recv_replies(parse_family, 1) || !family_id) {
		printf("error: family %s not found (is memballoon loaded?)\n",
		       MEMBALLOON_FAMILY_NAME);
		exit(1);
	}
}

static uint32_t arg_u32(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (*s == '\0' || *end != '\0') {
		fprintf(stderr, "mbnl: bad number '%s'\n", s);
		exit(2);
	}
	return (uint32_t)v;
}

static double now_ms(clockid_t clk)
{
	struct timespec t;

	clock_gettime(clk, &t);
	return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

static int do_request(uint8_t cmd, uint16_t flags, int argc, char **argv)
{
	struct req r;
	uint32_t id;
	uint64_t floor;
	uint32_t pages;
	double t0;
	int rc;

	init_req(&r, family_id, flags | NLM_F_ACK, cmd);
	if (argc > 0) {
		id = arg_u32(argv[0]);
		put_attr(&r, MEMBALLOON_A_DEV_ID, &id, 4);
	}
	if (cmd == MEMBALLOON_CMD_DEV_SET && argc > 1) {
		floor = arg_u32(argv[1]);
		put_attr(&r, MEMBALLOON_A_DEV_FLOOR_PAGES, &floor, 8);
	}
	if (cmd == MEMBALLOON_CMD_DEV_RELEASE && argc > 1) {
		pages = arg_u32(argv[1]);
		put_attr(&r, MEMBALLOON_A_DEV_RELEASE_PAGES, &pages, 4);
	}
	t0 = now_ms(CLOCK_MONOTONIC);
	send_req(&r);
	rc = recv_replies(print_dev, 0) ? 1 : 0;
	if (print_elapsed)
		printf("elapsed_ms=%.1f\n", now_ms(CLOCK_MONOTONIC) - t0);
	return rc;
}

/* The u32/u64 value of attribute @type in a device message, or -1. */
static long long dev_attr(struct nlmsghdr *h, int type)
{
	struct nlattr *a;
	int len;

	for_each_genl_attr(a, len, h) {
		void *d = (char *)a + NLA_HDRLEN;

		if ((a->nla_type & NLA_TYPE_MASK) != type)
			continue;
		if (a->nla_len - NLA_HDRLEN == 4)
			return *(uint32_t *)d;
		if (a->nla_len - NLA_HDRLEN == 8)
			return (long long)*(uint64_t *)d;
	}
	return -1;
}

static unsigned long loop_devs, loop_bad;

/* One device of a dumploop dump: its counters must agree with actual. */
static void check_dev(struct nlmsghdr *h)
{
	long long actual = dev_attr(h, MEMBALLOON_A_DEV_ACTUAL_PAGES);
	long long inflated = dev_attr(h, MEMBALLOON_A_DEV_INFLATED);
	long long deflated = dev_attr(h, MEMBALLOON_A_DEV_DEFLATED);

	loop_devs++;
	if (actual < 0 || inflated < 0 || deflated < 0 ||
	    inflated - deflated != actual) {
		if (loop_bad++ < 3) {
			printf("inconsistent: ");
			print_dev(h);
		}
	}
}

/*
 * Dump for SECONDS, one request after another; print how many, their
 * latency (average, and the worst with its wall-clock time) and how many
 * devices disagreed with inflated - deflated == actual.
 */
static int do_dumploop(int seconds)
{
	double start = now_ms(CLOCK_MONOTONIC), t0, dt, sum = 0, worst = 0;
	double worst_at = 0;
	unsigned long n = 0;
	struct req r;

	while (now_ms(CLOCK_MONOTONIC) - start < seconds * 1000.0) {
		init_req(&r, family_id, NLM_F_ACK | NLM_F_DUMP,
			 MEMBALLOON_CMD_DEV_GET);
		t0 = now_ms(CLOCK_MONOTONIC);
		send_req(&r);
		if (recv_replies(check_dev, 0))
			return 1;
		dt = now_ms(CLOCK_MONOTONIC) - t0;
		sum += dt;
		if (dt > worst) {
			worst = dt;
			worst_at = now_ms(CLOCK_REALTIME);
		}
		n++;
	}
	printf("dumploop: dumps=%lu devices=%lu inconsistent=%lu avg_ms=%.2f max_ms=%.1f max_at=%.3f\n",
	       n, loop_devs, loop_bad, n ? sum / n : 0, worst, worst_at / 1000.0);
	return 0;
}

static int do_listen(int seconds, int count)
{
	static char buf[BUF_SIZE];
	struct timespec t0, t;
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct nlmsghdr *h;
	ssize_t n;
	int seen = 0;

	if (setsockopt(sock, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &events_group,
		       sizeof(events_group)) < 0)
		die("join events group");
	printf("listening\n");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!count || seen < count) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left = seconds * 1000L - ((t.tv_sec - t0.tv_sec) * 1000L +
					       (t.tv_nsec - t0.tv_nsec) / 1000000L);
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			break;
		n = recv(sock, buf, sizeof(buf), 0);
		if (n < 0)
			die("recv");
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type != family_id)
				continue;
			clock_gettime(CLOCK_REALTIME, &t);
			printf("t=%ld.%03ld ", (long)t.tv_sec, t.tv_nsec / 1000000L);
			print_dev(h);
			seen++;
		}
	}
	return 0;
}

/* Malformed and random requests: every one must get an error or a reply. */
static int do_fuzz(unsigned long count, unsigned int seed)
{
	unsigned long i, errors = 0, ok = 0, silent = 0;
	struct req r;

	srandom(seed);
	for (i = 0; i < count; i++) {
		int nattrs = random() % 5, k, res;

		init_req(&r, family_id, NLM_F_ACK | ((random() % 4 == 0) ? NLM_F_DUMP : 0),
			 random() % 8);
		r.genl.version = random() % 3;
		if (random() % 8 == 0)
			r.genl.reserved = random();
		for (k = 0; k < nattrs; k++) {
			unsigned char data[64];
			uint16_t len = random() % sizeof(data);
			uint16_t type = random() % (MEMBALLOON_A_DEV_MAX + 3);
			int b;

			for (b = 0; b < (int)sizeof(data); b++)
				data[b] = random();
			if (type == MEMBALLOON_A_DEV_ID && random() % 2) {
				/* a plausible ID, so some requests reach a device */
				len = 4;
				memset(data, 0, 4);
				data[0] = random() % 8;
			}
			put_attr(&r, type, data, len);
		}
		/* Truncate the last attribute (not the headers: short messages are dropped unanswered by netlink itself). */
		if (nattrs && random() % 10 == 0)
			r.nlh.nlmsg_len -= random() % 4;
		send_req(&r);
		res = recv_replies(NULL, 1);
		if (res == 1) {
			unsigned int b;

			silent++;
			printf("no answer to request %lu (%s):", i,
			       memballoon_cmd_name(r.genl.cmd) ?: "no such command");
			for (b = 0; b < r.nlh.nlmsg_len; b++)
				printf(" %02x", ((unsigned char *)&r)[b]);
			printf("\n");
		} else if (res) {
			errors++;
		} else {
			ok++;
		}
	}
	printf("fuzz: %lu requests, %lu errors, %lu accepted, %lu unanswered\n",
	       count, errors, ok, silent);
	return silent ? 1 : 0;
}

/* Capability names -c knows: the ones the tests need. */
static const struct {
	const char *name;
	int cap;
} cap_names[] = {
	{ "net_admin", CAP_NET_ADMIN },
	{ "sys_admin", CAP_SYS_ADMIN },
	{ "setuid", CAP_SETUID },
	{ "setgid", CAP_SETGID },
};

static uint64_t parse_caps(const char *spec)
{
	char buf[256], *tok, *save;
	uint64_t caps = 0;
	size_t i;

	if (!strcmp(spec, "none"))
		return 0;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
			if (!strcmp(tok, cap_names[i].name))
				break;
		if (i == sizeof(cap_names) / sizeof(cap_names[0])) {
			fprintf(stderr, "mbnl: unknown capability '%s'\n", tok);
			exit(2);
		}
		caps |= 1ULL << cap_names[i].cap;
	}
	return caps;
}

/* Keep exactly @caps (effective and permitted), nothing inheritable. */
static void set_caps(uint64_t caps)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = {
		{ .effective = (uint32_t)caps, .permitted = (uint32_t)caps },
		{ .effective = (uint32_t)(caps >> 32), .permitted = (uint32_t)(caps >> 32) },
	};

	if (syscall(SYS_capset, &hdr, data))
		die("capset");
}

static void mark_make_it_fail(void)
{
	FILE *f = fopen("/proc/self/make-it-fail", "w");

	if (!f || fputs("1", f) == EOF || fclose(f))
		die("/proc/self/make-it-fail");
}

int main(int argc, char **argv)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tmo = { .tv_sec = 5 };
	int one = 1, opt, make_it_fail = 0, have_caps = 0;
	uint64_t caps = 0;
	long uid = -1;

	while ((opt = getopt(argc, argv, "u:c:FT")) != -1) {
		if (opt == 'u') {
			uid = strtol(optarg, NULL, 10);
		} else if (opt == 'c') {
			caps = parse_caps(optarg);
			have_caps = 1;
		} else if (opt == 'F') {
			make_it_fail = 1;
		} else if (opt == 'T') {
			print_elapsed = 1;
		} else {
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 1 && !strcmp(argv[0], "now")) {
		struct timespec t;

		clock_gettime(CLOCK_REALTIME, &t);
		printf("%ld.%03ld\n", (long)t.tv_sec, t.tv_nsec / 1000000L);
		return 0;
	}
	if (argc < 1) {
		fprintf(stderr, "usage: mbnl [-u UID] [-c CAPS] [-F] [-T] dump|get|floor|release|listen|dumploop|fuzz ...\n");
		return 2;
	}

	if (make_it_fail && uid >= 0)
		mark_make_it_fail();
	/* Capabilities survive the uid change only when asked to. */
	if (have_caps && uid >= 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		die("PR_SET_KEEPCAPS");
	if (uid >= 0 && (setgid(uid) || setuid(uid)))
		die("setuid");
	if (have_caps)
		set_caps(caps);
	sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (sock < 0)
		die("socket");
	/* Never hang: every request asks for an ACK. */
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	if (bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	setsockopt(sock, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(sock, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	resolve_family();
	if (make_it_fail && uid < 0)
		mark_make_it_fail();

	if (!strcmp(argv[0], "dump"))
		return do_request(MEMBALLOON_CMD_DEV_GET, NLM_F_DUMP, 0, NULL);
	if (!strcmp(argv[0], "get") && argc == 2)
		return do_request(MEMBALLOON_CMD_DEV_GET, 0, 1, argv + 1);
	if (!strcmp(argv[0], "floor") && argc == 3)
		return do_request(MEMBALLOON_CMD_DEV_SET, 0, 2, argv + 1);
	if (!strcmp(argv[0], "release") && argc == 3)
		return do_request(MEMBALLOON_CMD_DEV_RELEASE, 0, 2, argv + 1);
	if (!strcmp(argv[0], "dumploop") && argc == 2)
		return do_dumploop(arg_u32(argv[1]));
	if (!strcmp(argv[0], "listen") && argc >= 2)
		return do_listen(arg_u32(argv[1]), argc > 2 ? arg_u32(argv[2]) : 0);
	if (!strcmp(argv[0], "fuzz") && argc == 3)
		return do_fuzz(arg_u32(argv[1]), arg_u32(argv[2]));
	fprintf(stderr, "mbnl: bad command\n");
	return 2;
}
