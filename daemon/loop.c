// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "sample.h"
#include "sdnotify.h"

#define LOOP_EVENTS 16
#define LOOP_MAX_WAIT_MS 3600000	/* epoll_wait's timeout is an int */

int periodic_timerfd_set(int fd, uint64_t period_us)
{
	struct itimerspec its;

	its.it_value.tv_sec = (time_t)(period_us / 1000000);
	its.it_value.tv_nsec = (long)(period_us % 1000000) * 1000;
	its.it_interval = its.it_value;
	return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

int periodic_timerfd(uint64_t period_us)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	int rc;

	if (fd < 0)
		return -errno;
	rc = periodic_timerfd_set(fd, period_us);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

uint64_t periodic_timerfd_ack(int fd)
{
	uint64_t ticks;

	return read(fd, &ticks, sizeof(ticks)) == sizeof(ticks) ? ticks : 0;
}

void timer_cancel(struct loop *l, struct timer *t)
{
	for (struct timer **p = &l->timers; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	t->next = NULL;
	t->due_ms = 0;
}

void timer_arm(struct loop *l, struct timer *t, uint64_t due_ms)
{
	timer_cancel(l, t);
	t->due_ms = due_ms ? due_ms : 1;
	t->next = l->timers;
	l->timers = t;
}

void loop_quit(struct loop *l)
{
	l->quit = true;
}

static void signal_event(struct source *src, uint32_t events)
{
	struct loop *l = container_of(src, struct loop, sig);
	struct signalfd_siginfo si;

	(void)events;
	while (read(src->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			if (l->hooks.reload)
				l->hooks.reload(l->hooks.arg);
			break;
		case SIGTERM:
		case SIGINT:
			log_info("signal %u: exiting", si.ssi_signo);
			l->quit = true;
			break;
		}
	}
}

static void watchdog_event(struct source *src, uint32_t events)
{
	(void)events;
	if (periodic_timerfd_ack(src->fd))
		sdnotify_send("WATCHDOG=1");
}

/* Ping at half systemd's WatchdogSec=, as sd_watchdog_enabled(3) advises. */
static int watchdog_open(struct loop *l)
{
	uint64_t usec = sdnotify_watchdog_usec() / 2;
	int fd;

	if (!usec)
		return 0;
	fd = periodic_timerfd(usec);
	if (fd < 0)
		return fd;
	l->watchdog.fd = fd;
	l->watchdog.handler = watchdog_event;
	log_debug("watchdog: ping every %llu ms", (unsigned long long)(usec / 1000));
	return loop_add(l->epfd, &l->watchdog, EPOLLIN) < 0 ? -errno : 0;
}

int loop_init(struct loop *l, const struct loop_hooks *hooks)
{
	sigset_t mask;

	memset(l, 0, sizeof(*l));
	l->sig.fd = -1;
	l->watchdog.fd = -1;
	l->hooks = *hooks;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -errno;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	l->sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	l->sig.handler = signal_event;
	if (l->sig.fd < 0 || loop_add(l->epfd, &l->sig, EPOLLIN) < 0)
		return -errno;
	return watchdog_open(l);
}

void loop_fini(struct loop *l)
{
	if (l->watchdog.fd >= 0)
		close(l->watchdog.fd);
	if (l->sig.fd >= 0)
		close(l->sig.fd);
	if (l->epfd >= 0)
		close(l->epfd);
	l->watchdog.fd = l->sig.fd = l->epfd = -1;
	l->timers = NULL;
}

static int next_timeout_ms(struct loop *l)
{
	uint64_t now = mono_now_ms(), next = 0;

	for (struct timer *t = l->timers; t; t = t->next)
		if (!next || t->due_ms < next)
			next = t->due_ms;
	if (l->hooks.next_deadline) {
		uint64_t d = l->hooks.next_deadline(l->hooks.arg);

		if (d && (!next || d < next))
			next = d;
	}
	if (!next)
		return -1;
	if (next <= now)
		return 0;
	return next - now > LOOP_MAX_WAIT_MS ? LOOP_MAX_WAIT_MS : (int)(next - now);
}

/* Fire the timers that are due; a callback may arm or cancel any timer. */
static void run_timers(struct loop *l, uint64_t now)
{
	bool fired;

	do {
		fired = false;
		for (struct timer *t = l->timers; t; t = t->next) {
			if (t->due_ms > now)
				continue;
			timer_cancel(l, t);
			t->fire(t);
			fired = true;
			break;		/* the list may have changed: look again */
		}
	} while (fired && !l->quit);
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_EVENTS];

	while (!l->quit) {
		int n = epoll_wait(l->epfd, evs, LOOP_EVENTS, next_timeout_ms(l));
		uint64_t now;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n && !l->quit; i++) {
			struct source *src = evs[i].data.ptr;

			src->handler(src, evs[i].events);
		}
		now = mono_now_ms();
		run_timers(l, now);
		if (l->hooks.expire)
			l->hooks.expire(l->hooks.arg, now);
		/* sources closed above may still have had events in evs[] */
		if (l->hooks.after_round)
			l->hooks.after_round(l->hooks.arg);
	}
	return 0;
}
