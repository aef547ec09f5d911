/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Event sources of the daemon's one epoll loop: each registered fd carries a
 * struct source whose handler runs when the fd is ready.
 */
#ifndef MB_LOOP_H
#define MB_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct source {
	int fd;
	void (*handler)(struct source *src, uint32_t events);
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

#endif
