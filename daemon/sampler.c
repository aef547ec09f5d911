// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sampler.h"

void sampler_take(struct sampler *s)
{
	struct sample next;

	if (sample_collect(&next, s->proc_root) < 0)
		log_debug("sample: %s/meminfo unreadable", s->proc_root);
	sample_rates(s->have ? &s->cur : NULL, &next);
	s->cur = next;
	s->have = true;
}

const struct sample *sampler_latest(const struct sampler *s)
{
	return s->have ? &s->cur : NULL;
}

const struct psi_memory *sampler_psi(const struct sampler *s)
{
	return s->have && s->cur.psi_ok ? &s->cur.psi : NULL;
}

const char *sampler_trigger(const struct sampler *s)
{
	return s->trigger[0] ? s->trigger : NULL;
}

static void timer_event(struct source *src, uint32_t events)
{
	struct sampler *s = container_of(src, struct sampler, timer);

	(void)events;
	if (!periodic_timerfd_ack(src->fd))
		return;
	sampler_take(s);
	s->ops->sample(s->arg);
}

void sampler_set_interval(struct sampler *s, unsigned int interval_s)
{
	periodic_timerfd_set(s->timer.fd, (uint64_t)interval_s * 1000000);
}

/* ---- the PSI trigger ---------------------------------------------------- */

static void psi_close(struct sampler *s)
{
	if (s->psi.fd >= 0) {
		loop_del(s->loop->epfd, &s->psi);
		close(s->psi.fd);
	}
	s->psi.fd = -1;
	s->trigger[0] = '\0';
	timer_cancel(s->loop, &s->psi_retry);
}

static void psi_event(struct source *src, uint32_t events)
{
	struct sampler *s = container_of(src, struct sampler, psi);

	if (events & EPOLLERR) {
		log_warn("psi: trigger went away, retrying in %d s", SAMPLER_PSI_RETRY_MS / 1000);
		psi_close(s);
		timer_arm(s->loop, &s->psi_retry, mono_now_ms() + SAMPLER_PSI_RETRY_MS);
		return;
	}
	if (!(events & EPOLLPRI))
		return;
	sampler_take(s);
	log_info("psi: pressure (%s): some avg10 %.2f%% full avg10 %.2f%%", s->trigger,
		 s->cur.psi.some.avg10, s->cur.psi.have_full ? s->cur.psi.full.avg10 : 0.0);
	s->ops->pressure(s->arg);
}

static void psi_open(struct sampler *s)
{
	char path[256], trig[64];
	int fd;

	if (!s->want.enabled)
		return;
	psi_trigger_format(&s->want, trig, sizeof(trig));
	snprintf(path, sizeof(path), "%s/pressure/memory", s->proc_root);
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		/* no PSI (CONFIG_PSI=n or psi=0): periodic samples only */
		log_notice("psi: %s: %s; pressure spikes are seen at the next sample only",
			   path, strerror(errno));
		return;
	}
	if (write(fd, trig, strlen(trig) + 1) < 0) {
		log_warn("psi: trigger \"%s\": %s", trig, strerror(errno));
		close(fd);
		return;
	}
	s->psi.fd = fd;
	s->psi.handler = psi_event;
	if (loop_add(s->loop->epfd, &s->psi, EPOLLPRI) < 0) {
		log_warn("psi: epoll: %s", strerror(errno));
		close(fd);
		s->psi.fd = -1;
		return;
	}
	snprintf(s->trigger, sizeof(s->trigger), "%s", trig);
	log_info("psi: trigger \"%s\" on %s", trig, path);
}

static void psi_retry_fire(struct timer *t)
{
	psi_open(container_of(t, struct sampler, psi_retry));
}

void sampler_set_trigger(struct sampler *s, const struct psi_trigger *trigger)
{
	psi_close(s);
	s->want = *trigger;
	psi_open(s);
}

/* ---- lifetime ------------------------------------------------------------ */

int sampler_open(struct sampler *s, struct loop *l, const char *proc_root,
		 unsigned int interval_s, const struct psi_trigger *trigger,
		 const struct sampler_ops *ops, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->loop = l;
	s->proc_root = proc_root;
	s->ops = ops;
	s->arg = arg;
	s->psi.fd = -1;
	s->psi_retry.fire = psi_retry_fire;
	s->want = *trigger;
	psi_open(s);

	s->timer.fd = periodic_timerfd((uint64_t)interval_s * 1000000);
	s->timer.handler = timer_event;
	if (s->timer.fd < 0)
		return s->timer.fd;
	if (loop_add(l->epfd, &s->timer, EPOLLIN) < 0)
		return -errno;
	sampler_take(s);
	return 0;
}

void sampler_close(struct sampler *s)
{
	if (!s->loop)
		return;
	psi_close(s);
	if (s->timer.fd >= 0)
		close(s->timer.fd);
	s->timer.fd = -1;
}
