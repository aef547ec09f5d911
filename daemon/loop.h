/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's one epoll loop, as systemd-oomd's sd-event loop has it:
 * fd sources, one-shot timers, signals and the systemd watchdog.
 *
 * - A source is an fd with a handler, run when epoll reports the fd ready.
 * - A timer is a CLOCK_MONOTONIC deadline in ms with a callback, run once
 *   (a retry in a minute); it needs no fd: epoll_wait's timeout is the
 *   earliest deadline.  Periodic work (samples) uses a timerfd source.
 * - SIGTERM and SIGINT stop the loop, SIGHUP runs the reload hook; they
 *   arrive through a signalfd, so a handler never interrupts the loop.
 * - Under systemd with WatchdogSec=, WATCHDOG=1 goes out every half period
 *   from a timerfd of the loop's own: a loop that hangs stops pinging.
 */
#ifndef MB_LOOP_H
#define MB_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct source {
	int fd;
	void (*handler)(struct source *src, uint32_t events);
};

struct timer {
	uint64_t due_ms;		/* CLOCK_MONOTONIC; 0: not armed */
	void (*fire)(struct timer *t);
	struct timer *next;		/* on the loop's list while armed */
};

struct loop_hooks {
	void (*reload)(void *arg);	/* SIGHUP */
	/*
	 * Deadlines the loop asks for rather than holds (one per host
	 * connection): the earliest (0: none), and their handling, run after
	 * every wake-up.  Either may be NULL.
	 */
	uint64_t (*next_deadline)(void *arg);
	void (*expire)(void *arg, uint64_t now_ms);
	/* After each round of events (free what the round closed); may be NULL. */
	void (*after_round)(void *arg);
	void *arg;
};

struct loop {
	int epfd;
	bool quit;
	struct source sig;		/* signalfd: SIGTERM, SIGINT, SIGHUP */
	struct source watchdog;		/* timerfd, fd -1 without a watchdog */
	struct timer *timers;		/* armed timers, unordered */
	struct loop_hooks hooks;
};

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline int loop_add(int epfd, struct source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, src->fd, &ev);
}

static inline int loop_mod(int epfd, struct source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(epfd, EPOLL_CTL_MOD, src->fd, &ev);
}

static inline void loop_del(int epfd, struct source *src)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, src->fd, NULL);
}

/* The epoll fd, the signals (blocked, SIGPIPE ignored), the watchdog: 0 or -errno. */
int loop_init(struct loop *l, const struct loop_hooks *hooks);
/* Run until SIGTERM/SIGINT or loop_quit(): 0, or 1 if epoll failed. */
int loop_run(struct loop *l);
void loop_quit(struct loop *l);
void loop_fini(struct loop *l);

/* Arm t to fire at due_ms (re-arming moves it); cancelling an unarmed timer is fine. */
void timer_arm(struct loop *l, struct timer *t, uint64_t due_ms);
void timer_cancel(struct loop *l, struct timer *t);
static inline bool timer_armed(const struct timer *t)
{
	return t->due_ms != 0;
}

/* A CLOCK_MONOTONIC timerfd (non-blocking) firing every period_us: the fd, or -errno. */
int periodic_timerfd(uint64_t period_us);
/* Change its period: 0 or -errno. */
int periodic_timerfd_set(int fd, uint64_t period_us);
/* Read a timerfd's expirations (to re-arm epoll); 0 if there were none. */
uint64_t periodic_timerfd_ack(int fd);

#endif
