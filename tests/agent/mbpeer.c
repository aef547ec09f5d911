// SPDX-License-Identifier: GPL-2.0
/*
 * mbpeer - a peer of memballoond's host channels for the VM tests, well
 * behaved or hostile, over AF_VSOCK (in the guest: the loopback, CID 1) or
 * TCP.  Static, no libraries.
 *
 *   mbpeer ADDR ask LINE             one request; its answer on stdout; exit 3
 *                                    if the daemon hangs up without one
 *   mbpeer ADDR badreset N           N times: 8 bad lines, then gone at once
 *   mbpeer ADDR bigreset N           N times: a 5000-byte line, then gone at once
 *   mbpeer ADDR idle N SECONDS       N connections that send nothing: when each
 *                                    was closed (ms), -1 if still open
 *   mbpeer ADDR stuck SECONDS        subscribe with samples, ask for snapshots,
 *                                    never read for SECONDS; then: closed or not
 *   mbpeer ADDR flood SECONDS        requests as fast as they go, answers read
 *   mbpeer ADDR monitor SECONDS HZ   a ping at HZ: count, latency p50/p99/max,
 *                                    errors (SIGTERM ends it early, with the summary)
 *
 * ADDR is vsock:CID:PORT or tcp:IPV4:PORT.  "Gone at once" is a reset on
 * TCP (SO_LINGER 0) and a plain close on vsock.  Results are key=value
 * lines on stdout; exit 1 on a failure to connect or a usage error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

static struct {
	int family;
	struct sockaddr_vm vm;
	struct sockaddr_in in;
} addr;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_addr(const char *s)
{
	char host[64];
	unsigned int cid, port;

	if (sscanf(s, "vsock:%u:%u", &cid, &port) == 2) {
		addr.family = AF_VSOCK;
		addr.vm = (struct sockaddr_vm){ .svm_family = AF_VSOCK, .svm_cid = cid,
						.svm_port = port };
		return 0;
	}
	if (sscanf(s, "tcp:%63[0-9.]:%u", host, &port) == 2 &&
	    inet_pton(AF_INET, host, &addr.in.sin_addr) == 1) {
		addr.family = AF_INET;
		addr.in.sin_family = AF_INET;
		addr.in.sin_port = htons((uint16_t)port);
		return 0;
	}
	return -1;
}

/* A connected socket; small_rcvbuf: a peer that takes little. */
static int peer_connect(int small_rcvbuf)
{
	int fd = socket(addr.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return -1;
	if (small_rcvbuf && addr.family == AF_INET) {
		int sz = 1024;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	} else if (small_rcvbuf) {
		unsigned long long sz = 4096;

		setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &sz, sizeof(sz));
	}
	if (addr.family == AF_VSOCK)
		rc = connect(fd, (struct sockaddr *)&addr.vm, sizeof(addr.vm));
	else
		rc = connect(fd, (struct sockaddr *)&addr.in, sizeof(addr.in));
	if (rc < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void gone(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (addr.family == AF_INET)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;		/* refused or reset: the caller finds out */
		buf += n;
		len -= (size_t)n;
	}
}

/* One line within timeout_ms: its length, 0 if the daemon hung up, -1 on timeout. */
static ssize_t read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	size_t len = 0;

	while (len + 1 < cap) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t t = now_ms();
		ssize_t n;

		if (t >= deadline || poll(&p, 1, (int)(deadline - t)) <= 0)
			return -1;
		n = recv(fd, buf + len, 1, 0);
		if (n <= 0)
			return 0;
		if (buf[len++] == '\n')
			break;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

static int cmd_ask(const char *line)
{
	char buf[65536];
	int fd = peer_connect(0);
	ssize_t n;

	if (fd < 0) {
		perror("mbpeer: connect");
		return 1;
	}
	send_all(fd, line, strlen(line));
	send_all(fd, "\n", 1);
	n = read_line(fd, buf, sizeof(buf), 10000);
	close(fd);
	if (n == 0) {
		printf("closed=1\n");
		return 3;
	}
	if (n < 0) {
		printf("timeout=1\n");
		return 2;
	}
	fputs(buf, stdout);
	return 0;
}

/*
 * Connect, retrying for up to 5 s: a peer faster than the daemon fills the
 * listen queue, and then connect() fails until the daemon catches up.
 */
static int peer_connect_retry(unsigned int *retries)
{
	uint64_t deadline = now_ms() + 5000;
	int fd;

	while ((fd = peer_connect(0)) < 0 && now_ms() < deadline) {
		++*retries;
		usleep(20000);
	}
	return fd;
}

static int cmd_reset(unsigned int rounds, int big)
{
	static char line[5001];
	unsigned int i, retries = 0;

	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	for (i = 0; i < rounds; i++) {
		int fd = peer_connect_retry(&retries);

		if (fd < 0)
			break;
		if (big)
			send_all(fd, line, sizeof(line));
		else
			send_all(fd, "bad\nbad\nbad\nbad\nbad\nbad\nbad\nbad\n", 32);
		gone(fd);
	}
	printf("rounds=%u connect_retries=%u\n", i, retries);
	return i == rounds ? 0 : 1;
}

/* Did the daemon hang up within timeout_ms?  Reads (and drops) what comes. */
static int hung_up(int fd, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	char buf[65536];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t t = now_ms();
		ssize_t n;

		if (t >= deadline || poll(&p, 1, (int)(deadline - t)) <= 0)
			return 0;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return 1;
	}
}

static int cmd_idle(unsigned int n, unsigned int seconds)
{
	int fds[64];
	long closed[64];
	uint64_t t0, deadline;
	unsigned int open = 0;

	if (n > 64)
		return 1;
	t0 = now_ms();
	for (unsigned int i = 0; i < n; i++) {
		fds[i] = peer_connect(0);
		closed[i] = -1;
		if (fds[i] < 0) {
			perror("mbpeer: connect");
			return 1;
		}
		open++;
	}
	deadline = t0 + seconds * 1000ull;
	while (open && now_ms() < deadline) {
		struct pollfd p[64];

		for (unsigned int i = 0; i < n; i++)
			p[i] = (struct pollfd){ .fd = closed[i] < 0 ? fds[i] : -1, .events = POLLIN };
		if (poll(p, n, (int)(deadline - now_ms())) <= 0)
			break;
		for (unsigned int i = 0; i < n; i++) {
			char buf[4096];

			if (!p[i].revents)
				continue;
			if (recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT) <= 0) {
				closed[i] = (long)(now_ms() - t0);
				open--;
			}
		}
	}
	printf("closed_ms=");
	for (unsigned int i = 0; i < n; i++) {
		printf("%s%ld", i ? "," : "", closed[i]);
		close(fds[i]);
	}
	printf("\n");
	return 0;
}

static int cmd_stuck(unsigned int seconds)
{
	static const char sub[] = "{\"cmd\":\"subscribe\",\"samples\":true}\n";
	static const char snap[] = "{\"cmd\":\"snapshot\"}\n";
	int fd = peer_connect(1);

	if (fd < 0) {
		perror("mbpeer: connect");
		return 1;
	}
	send_all(fd, sub, sizeof(sub) - 1);
	/* three bursts within the line budget (20/s by default), never read */
	for (int b = 0; b < 3; b++) {
		for (int i = 0; i < 20; i++)
			send_all(fd, snap, sizeof(snap) - 1);
		usleep(1050000);
	}
	sleep(seconds);
	printf("closed=%d\n", hung_up(fd, 1000));
	close(fd);
	return 0;
}

static int cmd_flood(unsigned int seconds)
{
	static char req[64 * 19 + 1];
	uint64_t deadline = now_ms() + seconds * 1000ull;
	unsigned long answers = 0;
	int fd = peer_connect(0), closed = 0;

	if (fd < 0) {
		perror("mbpeer: connect");
		return 1;
	}
	for (int i = 0; i < 64; i++)
		memcpy(req + i * 19, "{\"cmd\":\"snapshot\"}\n", 19);
	while (now_ms() < deadline && !closed) {
		struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
		char buf[65536];

		if (poll(&p, 1, 100) <= 0)
			continue;
		if (p.revents & POLLOUT)
			send(fd, req, sizeof(req) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN))
				closed = 1;
			for (ssize_t i = 0; i < n; i++)
				answers += buf[i] == '\n';
		}
	}
	close(fd);
	printf("answers=%lu closed=%d\n", answers, closed);
	return 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmd_monitor(unsigned int seconds, unsigned int hz)
{
	double *lat = calloc((size_t)seconds * hz + 16, sizeof(double));
	uint64_t deadline = now_ms() + seconds * 1000ull;
	unsigned int n = 0, errors = 0, cap = seconds * hz + 16;
	struct sigaction sa = { .sa_handler = on_term };
	int fd = peer_connect(0);

	if (fd < 0 || !lat) {
		perror("mbpeer: connect");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);		/* no SA_RESTART: a sleep ends at once */
	while (now_ms() < deadline && n < cap && !stop) {
		char req[64], buf[4096];
		double t0 = now_s();
		ssize_t len;

		snprintf(req, sizeof(req), "{\"cmd\":\"ping\",\"id\":%u}\n", n);
		send_all(fd, req, strlen(req));
		len = read_line(fd, buf, sizeof(buf), 5000);
		if (stop)
			break;
		if (len <= 0 || !strstr(buf, "\"reply\":\"ping\"")) {
			errors++;
			if (len == 0)
				break;		/* hung up on us */
			continue;
		}
		lat[n++] = now_s() - t0;
		usleep(1000000 / hz);
	}
	close(fd);
	qsort(lat, n, sizeof(double), cmp_double);
	printf("pings=%u errors=%u p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n", n, errors,
	       n ? lat[n / 2] * 1000 : -1.0, n ? lat[(n * 99) / 100] * 1000 : -1.0,
	       n ? lat[n - 1] * 1000 : -1.0);
	free(lat);
	return 0;
}

static unsigned int num(const char *s)
{
	return (unsigned int)strtoul(s, NULL, 10);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3 || parse_addr(argv[1])) {
		fprintf(stderr, "usage: mbpeer vsock:CID:PORT|tcp:IPV4:PORT MODE [ARGS]\n");
		return 1;
	}
	if (!strcmp(argv[2], "ask") && argc == 4)
		return cmd_ask(argv[3]);
	if (!strcmp(argv[2], "badreset") && argc == 4)
		return cmd_reset(num(argv[3]), 0);
	if (!strcmp(argv[2], "bigreset") && argc == 4)
		return cmd_reset(num(argv[3]), 1);
	if (!strcmp(argv[2], "idle") && argc == 5)
		return cmd_idle(num(argv[3]), num(argv[4]));
	if (!strcmp(argv[2], "stuck") && argc == 4)
		return cmd_stuck(num(argv[3]));
	if (!strcmp(argv[2], "flood") && argc == 4)
		return cmd_flood(num(argv[3]));
	if (!strcmp(argv[2], "monitor") && argc == 5 && num(argv[4]))
		return cmd_monitor(num(argv[3]), num(argv[4]));
	fprintf(stderr, "mbpeer: bad mode or arguments\n");
	return 1;
}
