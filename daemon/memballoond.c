// SPDX-License-Identifier: GPL-2.0
/*
 * memballoond: makes the guest's memory pressure visible to the host.
 *
 * One epoll loop, nothing polled: the sample timer (timerfd) reads PSI,
 * vmstat, meminfo and the balloon's state every sample_interval seconds;
 * a PSI trigger (POLLPRI on /proc/pressure/memory) reports spikes at once;
 * the driver's netlink events report what the balloon does; udev reports
 * balloons, virtio-serial ports and the module coming and going; a
 * signalfd handles SIGTERM/SIGINT (exit) and SIGHUP (reload the config).
 * Everything is pushed to the host channels that subscribed.  An idle
 * daemon wakes only for the sample timer and the systemd watchdog.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "channels.h"
#include "config.h"
#include "devices.h"
#include "linux/memballoon.h"
#include "log.h"
#include "loop.h"
#include "mbnl.h"
#include "policy.h"
#include "privileges.h"
#include "report.h"
#include "sample.h"
#include "sdnotify.h"

#define MB_VERSION "0.1"
#define NL_RETRY_MS 60000	/* family absent: look again this often (udev/nlctrl usually tell us first) */
#define PSI_RETRY_MS 60000
#define MAX_OVERRIDES 64
#define REFRESH_MIN_MS 200	/* a request re-reads /proc unless the last sample is this fresh */

struct override {
	const char *key;
	char *value;
};

struct daemon {
	struct config cfg;
	const char *config_path;
	bool config_explicit;		/* --config given: the file must exist */
	struct override overrides[MAX_OVERRIDES];	/* command line, re-applied on reload */
	size_t noverrides;
	const char *proc_root;
	uint64_t caps;			/* kept at startup (privileges.h) */

	int epfd;
	struct source sig, sample_timer, watchdog_timer, psi;
	uint64_t psi_retry_ms;		/* reopen the PSI trigger at; 0: not needed */

	struct mbnl nl;
	struct source nl_src;
	bool nl_open;
	uint64_t nl_retry_ms;		/* resolve the family again at; 0: not needed */

	struct devwatch udev;
	bool udev_open;
	struct channels ch;

	struct sample cur;		/* latest sample */
	bool have_sample;
	char trigger[64];		/* active PSI trigger, "" if none */

	struct mb_dev *devs;		/* from the last dump, kept current by events */
	size_t ndevs;
	struct policy_state pstate;

	bool quit;
	char status[160];		/* last STATUS= sent to systemd */
};

/* ---- state for replies ------------------------------------------------ */

static void take_sample(struct daemon *d);
static void devs_refresh(struct daemon *d);
static void refresh_view(void *arg, struct view *v);

static void get_view(void *arg, struct view *v)
{
	struct daemon *d = arg;

	memset(v, 0, sizeof(*v));
	v->sample = d->have_sample ? &d->cur : NULL;
	v->devs = d->devs;
	v->ndevs = d->ndevs;
	v->driver_loaded = d->nl.family != 0;
	v->trigger = d->trigger[0] ? d->trigger : NULL;
	v->mono_ms = mono_now_ms();
	v->wall_ms = wall_now_ms();
	v->page_kib = (unsigned int)(sysconf(_SC_PAGESIZE) / 1024);
	v->refresh = refresh_view;
	v->refresh_arg = d;
}

/* A host asked for the current state: read it (unless just read). */
static void refresh_view(void *arg, struct view *v)
{
	struct daemon *d = arg;

	if (!d->have_sample || mono_now_ms() - d->cur.mono_ms >= REFRESH_MIN_MS) {
		take_sample(d);
		devs_refresh(d);
	}
	get_view(d, v);
	v->refresh = NULL;
}

static void push(struct daemon *d, struct strbuf *line, bool sample)
{
	if (!sb_failed(line) && line->len)
		channels_broadcast(&d->ch, line, sample);
	sb_free(line);
}

/* ---- devices ---------------------------------------------------------- */

static struct mb_dev *dev_find(struct daemon *d, uint32_t id)
{
	for (size_t i = 0; i < d->ndevs; i++)
		if (d->devs[i].id == id)
			return &d->devs[i];
	return NULL;
}

static void devs_clear(struct daemon *d)
{
	for (size_t i = 0; i < d->ndevs; i++)
		policy_forget_device(&d->pstate, d->devs[i].id);
	free(d->devs);
	d->devs = NULL;
	d->ndevs = 0;
}

/* Re-read every device from the driver; forget devices that vanished. */
static void devs_refresh(struct daemon *d)
{
	struct mb_dev *devs;
	size_t n;
	int rc;

	if (!d->nl.family)
		return;
	rc = mbnl_dump(&d->nl, &devs, &n);
	if (rc) {
		log_warn("netlink: device dump: %s", strerror(-rc));
		return;
	}
	for (size_t i = 0; i < d->ndevs; i++) {
		bool still = false;

		for (size_t j = 0; j < n; j++)
			still |= devs[j].id == d->devs[i].id;
		if (!still)
			policy_forget_device(&d->pstate, d->devs[i].id);
	}
	free(d->devs);
	d->devs = devs;
	d->ndevs = n;
}

/* ---- guard rails ------------------------------------------------------ */

static void run_policy(struct daemon *d)
{
	struct policy_action act[POLICY_MAX_DEVS];
	const struct psi_memory *psi = d->have_sample && d->cur.psi_ok ? &d->cur.psi : NULL;
	size_t n;

	if (!d->nl.family)
		return;
	n = policy_evaluate(&d->cfg.policy, &d->pstate, psi, d->devs, d->ndevs, mono_now_ms(),
			    act, POLICY_MAX_DEVS);
	for (size_t i = 0; i < n; i++) {
		struct mb_dev *dev = dev_find(d, act[i].dev_id);
		struct mb_dev reply;
		const char *what;
		struct strbuf line;
		struct view v;
		int rc;

		if (!dev)
			continue;
		if (act[i].kind == POLICY_RELEASE) {
			what = "release";
			rc = mbnl_release(&d->nl, dev->id, (uint32_t)act[i].pages, &reply);
		} else {
			what = "set_floor";
			rc = mbnl_set_floor(&d->nl, dev->id, act[i].pages, &reply);
		}
		if (rc)
			log_err("%s: %s %llu MiB (%s) failed: %s%s%s", dev->name, what,
				(unsigned long long)(act[i].pages / MB_PAGES_PER_MIB),
				act[i].reason, strerror(-rc), d->nl.errmsg[0] ? ": " : "",
				d->nl.errmsg);
		else if (mbnl_has(&reply, MEMBALLOON_A_DEV_RELEASE_PAGES))
			/* the driver releases in the background; its RELEASED event follows */
			log_notice("%s: %s %llu MiB (%s): %u pages accepted", dev->name, what,
				   (unsigned long long)(act[i].pages / MB_PAGES_PER_MIB),
				   act[i].reason, reply.release_pages);
		else
			log_notice("%s: %s %llu MiB (%s)", dev->name, what,
				   (unsigned long long)(act[i].pages / MB_PAGES_PER_MIB),
				   act[i].reason);
		sb_init(&line, 0);
		get_view(d, &v);
		report_action_event(&line, &v, what, dev, act[i].pages, act[i].reason, rc);
		push(d, &line, false);
		if (!rc && reply.have)
			*dev = reply;
	}
}

/* ---- sampling --------------------------------------------------------- */

static void update_status(struct daemon *d)
{
	char buf[160];

	if (!getenv("NOTIFY_SOCKET"))
		return;
	snprintf(buf, sizeof(buf), "STATUS=%zu balloon(s)%s, %u host connection(s), "
		 "PSI some avg10 %.2f%%", d->ndevs, d->nl.family ? "" : " (driver not loaded)",
		 channels_count(&d->ch), d->have_sample && d->cur.psi_ok ? d->cur.psi.some.avg10 : 0);
	if (strcmp(buf, d->status)) {
		sdnotify_send(buf);
		snprintf(d->status, sizeof(d->status), "%s", buf);
	}
}

static void take_sample(struct daemon *d)
{
	struct sample s;

	if (sample_collect(&s, d->proc_root) < 0)
		log_debug("sample: %s/meminfo unreadable", d->proc_root);
	sample_rates(d->have_sample ? &d->cur : NULL, &s);
	d->cur = s;
	d->have_sample = true;
}

static void sample_timer_event(struct source *src, uint32_t events)
{
	struct daemon *d = container_of(src, struct daemon, sample_timer);
	uint64_t ticks;
	struct strbuf line;
	struct view v;

	(void)events;
	if (read(src->fd, &ticks, sizeof(ticks)) < 0)
		return;
	take_sample(d);
	devs_refresh(d);
	run_policy(d);
	sb_init(&line, 0);
	get_view(d, &v);
	report_sample_event(&line, &v);
	push(d, &line, true);
	update_status(d);
}

static void arm_sample_timer(struct daemon *d)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = d->cfg.sample_interval_s },
		.it_value = { .tv_sec = d->cfg.sample_interval_s },
	};

	timerfd_settime(d->sample_timer.fd, 0, &its, NULL);
}

/* ---- PSI trigger ------------------------------------------------------ */

static void psi_close(struct daemon *d)
{
	if (d->psi.fd >= 0) {
		loop_del(d->epfd, &d->psi);
		close(d->psi.fd);
	}
	d->psi.fd = -1;
	d->trigger[0] = '\0';
}

static void psi_event(struct source *src, uint32_t events)
{
	struct daemon *d = container_of(src, struct daemon, psi);
	struct strbuf line;
	struct view v;

	if (events & EPOLLERR) {
		log_warn("psi: trigger went away, retrying in %d s", PSI_RETRY_MS / 1000);
		psi_close(d);
		d->psi_retry_ms = mono_now_ms() + PSI_RETRY_MS;
		return;
	}
	if (!(events & EPOLLPRI))
		return;
	take_sample(d);
	log_info("psi: pressure (%s): some avg10 %.2f%% full avg10 %.2f%%", d->trigger,
		 d->cur.psi.some.avg10, d->cur.psi.have_full ? d->cur.psi.full.avg10 : 0.0);
	sb_init(&line, 0);
	get_view(d, &v);
	report_pressure_event(&line, &v);
	push(d, &line, false);
	run_policy(d);
}

static void psi_open(struct daemon *d)
{
	char path[256], trig[64];
	int fd;

	d->psi_retry_ms = 0;
	if (!d->cfg.trigger.enabled)
		return;
	psi_trigger_format(&d->cfg.trigger, trig, sizeof(trig));
	snprintf(path, sizeof(path), "%s/pressure/memory", d->proc_root);
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
	d->psi.fd = fd;
	d->psi.handler = psi_event;
	if (loop_add(d->epfd, &d->psi, EPOLLPRI) < 0) {
		log_warn("psi: epoll: %s", strerror(errno));
		close(fd);
		d->psi.fd = -1;
		return;
	}
	snprintf(d->trigger, sizeof(d->trigger), "%s", trig);
	log_info("psi: trigger \"%s\" on %s", trig, path);
}

/* ---- netlink ---------------------------------------------------------- */

static void driver_changed(struct daemon *d, bool loaded)
{
	struct strbuf line;
	struct view v;

	sb_init(&line, 0);
	get_view(d, &v);
	report_driver_event(&line, &v, loaded);
	push(d, &line, false);
}

/* Find the family (again); on success read every device. */
static void driver_connect(struct daemon *d)
{
	bool was = d->nl.family != 0;
	int rc;

	if (!d->nl_open)
		return;
	rc = mbnl_resolve(&d->nl);
	if (rc) {
		if (rc != -ENOENT)
			log_warn("netlink: resolving %s: %s", MEMBALLOON_FAMILY_NAME, strerror(-rc));
		else if (was)
			log_notice("netlink: family %s is gone", MEMBALLOON_FAMILY_NAME);
		d->nl_retry_ms = mono_now_ms() + NL_RETRY_MS;
		if (was) {
			devs_clear(d);
			driver_changed(d, false);
		}
		return;
	}
	d->nl_retry_ms = 0;
	if (!was)
		log_info("netlink: family %s id %d, events group %d", MEMBALLOON_FAMILY_NAME,
			 d->nl.family, d->nl.events_grp);
	devs_clear(d);
	devs_refresh(d);
	for (size_t i = 0; i < d->ndevs; i++)
		log_info("%s: balloon target %u actual %u pages", d->devs[i].name,
			 d->devs[i].target_pages, d->devs[i].actual_pages);
	if (!was)
		driver_changed(d, true);
	run_policy(d);
}

static void nl_family_gone(struct daemon *d)
{
	if (!d->nl.family)
		return;
	log_notice("netlink: family %s unregistered (module unloaded?)", MEMBALLOON_FAMILY_NAME);
	mbnl_forget(&d->nl);
	devs_clear(d);
	driver_changed(d, false);
	d->nl_retry_ms = mono_now_ms() + NL_RETRY_MS;
}

static void nl_device_event(struct daemon *d, const struct mb_dev *ev)
{
	struct mb_dev *dev = dev_find(d, ev->id);
	bool notable = ev->event != MEMBALLOON_EVENT_ACTUAL_CHANGED &&
		       ev->event != MEMBALLOON_EVENT_STATS_REQUESTED &&
		       ev->event != MEMBALLOON_EVENT_TARGET_REACHED;
	struct strbuf line;
	struct view v;

	if (!dev && ev->event != MEMBALLOON_EVENT_DEVICE_ADDED) {
		/* only DEVICE_ADDED or a dump makes a device known (a removed one stays gone) */
		log_debug("%s: %s for a device not known (ignored)", ev->name,
			  mb_event_name(ev->event));
		return;
	}
	if (ev->event == MEMBALLOON_EVENT_RELEASED && mbnl_has(ev, MEMBALLOON_A_DEV_RELEASE_PAGES))
		log_notice("%s: released %u pages (%u MiB), balloon now %u pages", ev->name,
			   ev->release_pages, ev->release_pages / MB_PAGES_PER_MIB, ev->actual_pages);
	else
		log_msg(notable ? LOG_INFO : LOG_DEBUG, "%s: %s: target %u actual %u pages",
			ev->name, mb_event_name(ev->event), ev->target_pages, ev->actual_pages);
	if (ev->event == MEMBALLOON_EVENT_DEVICE_REMOVED) {
		*dev = d->devs[--d->ndevs];
		policy_forget_device(&d->pstate, ev->id);
	} else if (dev) {
		*dev = *ev;
	} else {
		struct mb_dev *p = realloc(d->devs, (d->ndevs + 1) * sizeof(*p));

		if (p) {
			d->devs = p;
			d->devs[d->ndevs++] = *ev;
			policy_forget_device(&d->pstate, ev->id);
		}
	}
	sb_init(&line, 0);
	get_view(d, &v);
	report_balloon_event(&line, &v, ev);
	push(d, &line, false);
	if (ev->event == MEMBALLOON_EVENT_DEVICE_ADDED)
		run_policy(d);
}

static void nl_notify(void *arg, enum mbnl_notice what, const struct mb_dev *dev)
{
	struct daemon *d = arg;

	switch (what) {
	case MBNL_DEVICE_EVENT:
		nl_device_event(d, dev);
		break;
	case MBNL_FAMILY_NEW:
		log_info("netlink: family %s registered", MEMBALLOON_FAMILY_NAME);
		/* the group id may have changed: leave the old one first */
		mbnl_forget(&d->nl);
		driver_connect(d);
		break;
	case MBNL_FAMILY_GONE:
		nl_family_gone(d);
		break;
	case MBNL_OVERRUN:
		log_warn("netlink: notifications lost, re-reading the devices");
		devs_refresh(d);
		break;
	}
}

static void nl_event(struct source *src, uint32_t events)
{
	struct daemon *d = container_of(src, struct daemon, nl_src);
	int rc;

	(void)events;
	rc = mbnl_receive(&d->nl);
	if (rc)
		log_warn("netlink: receive: %s", strerror(-rc));
}

/* ---- udev ------------------------------------------------------------- */

static void udev_balloon(void *arg, const char *sysname, bool bound)
{
	struct daemon *d = arg;

	log_info("udev: %s %s memballoon", sysname, bound ? "bound to" : "unbound from");
	if (!d->nl.family)
		driver_connect(d);
	else
		devs_refresh(d);
}

static void udev_port(void *arg, const char *name, const char *devnode)
{
	struct daemon *d = arg;
	int rc;

	if (!d->cfg.serial_port[0] || strcmp(name, d->cfg.serial_port))
		return;
	if (!devnode) {
		if (d->ch.serial) {
			log_info("serial: port %s removed", name);
			channels_serial_close(&d->ch);
		}
		return;
	}
	if (d->ch.serial)
		return;
	rc = channels_serial_open(&d->ch, devnode);
	if (rc)
		log_warn("serial: port %s (%s): %s", name, devnode, strerror(-rc));
	else
		log_info("serial: port %s on %s", name, devnode);
}

static void udev_module(void *arg, bool loaded)
{
	struct daemon *d = arg;

	log_info("udev: module memballoon %s", loaded ? "loaded" : "unloaded");
	if (loaded)
		driver_connect(d);
	else
		nl_family_gone(d);
}

static const struct devwatch_ops udev_ops = {
	.balloon = udev_balloon,
	.port = udev_port,
	.module = udev_module,
};

/* ---- configuration ---------------------------------------------------- */

static int load_config(struct daemon *d, struct config *c)
{
	char err[400];

	config_defaults(c);
	if (config_load(d->config_path, d->config_explicit, c, err, sizeof(err))) {
		log_err("config: %s", err);
		return -EINVAL;
	}
	for (size_t i = 0; i < d->noverrides; i++) {
		if (config_set(c, d->overrides[i].key, d->overrides[i].value, err, sizeof(err))) {
			log_err("command line: %s", err);
			return -EINVAL;
		}
	}
	return 0;
}

static void start_listeners(struct daemon *d)
{
	int rc;

	if (d->cfg.tcp_port) {
		rc = channels_listen_tcp(&d->ch, d->cfg.tcp_addr, d->cfg.tcp_port);
		if (rc)
			log_err("tcp: %s port %u: %s", d->cfg.tcp_addr, d->cfg.tcp_port,
				strerror(-rc));
		else
			log_info("tcp: listening on %s port %u", d->cfg.tcp_addr, d->cfg.tcp_port);
	}
	if (d->cfg.vsock_port) {
		rc = channels_listen_vsock(&d->ch, d->cfg.vsock_port);
		if (rc)
			log_err("vsock: port %u: %s", d->cfg.vsock_port, strerror(-rc));
		else
			log_info("vsock: listening on port %u", d->cfg.vsock_port);
	}
}

static void apply_channel_limits(struct daemon *d)
{
	struct channel_policy pol = {
		.max_clients = d->cfg.max_clients,
		.request_timeout_ms = d->cfg.request_timeout_s * 1000,
		.idle_timeout_ms = d->cfg.idle_timeout_s * 1000,
		.request_rate = d->cfg.request_rate,
		.tcp_allow = d->cfg.tcp_allow,
		.vsock_allow = d->cfg.vsock_allow,
	};

	channels_configure(&d->ch, &pol);
}

static void reload(struct daemon *d)
{
	struct config c, old = d->cfg;

	log_info("reloading %s", d->config_path);
	if (load_config(d, &c)) {
		log_err("reload failed; keeping the running configuration");
		return;
	}
	priv_reload_filter(&old, &c, d->caps, priv_psi_rules());
	d->cfg = c;
	log_set_level(c.log_level);
	apply_channel_limits(d);
	if (c.sample_interval_s != old.sample_interval_s)
		arm_sample_timer(d);
	if (memcmp(&c.trigger, &old.trigger, sizeof(c.trigger))) {
		psi_close(d);
		psi_open(d);
	}
	if (c.tcp_port != old.tcp_port || strcmp(c.tcp_addr, old.tcp_addr) ||
	    c.vsock_port != old.vsock_port) {
		channels_stop_tcp(&d->ch);
		channels_stop_vsock(&d->ch);
		/* connections stay across a new address or port, not a channel turned off */
		if (!c.tcp_port)
			channels_close_kind(&d->ch, CHANNEL_TCP, "tcp turned off");
		if (!c.vsock_port)
			channels_close_kind(&d->ch, CHANNEL_VSOCK, "vsock turned off");
		start_listeners(d);
	}
	if (strcmp(c.serial_port, old.serial_port)) {
		channels_serial_close(&d->ch);
		if (d->udev_open)
			devwatch_enumerate(&d->udev);
	}
	if (memcmp(&c.policy, &old.policy, sizeof(c.policy))) {
		/* a new floor applies to the devices present now */
		policy_state_init(&d->pstate);
		run_policy(d);
	}
	sdnotify_send("READY=1");
}

/* ---- signals, watchdog ------------------------------------------------ */

static void signal_event(struct source *src, uint32_t events)
{
	struct daemon *d = container_of(src, struct daemon, sig);
	struct signalfd_siginfo si;

	(void)events;
	while (read(src->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			sdnotify_send("RELOADING=1");
			reload(d);
			break;
		case SIGTERM:
		case SIGINT:
			log_info("signal %u: exiting", si.ssi_signo);
			d->quit = true;
			break;
		}
	}
}

static void watchdog_event(struct source *src, uint32_t events)
{
	uint64_t ticks;

	(void)events;
	if (read(src->fd, &ticks, sizeof(ticks)) > 0)
		sdnotify_send("WATCHDOG=1");
}

static int setup_watchdog(struct daemon *d)
{
	uint64_t usec = sdnotify_watchdog_usec() / 2;
	struct itimerspec its;

	d->watchdog_timer.fd = -1;
	if (!usec)
		return 0;
	its.it_value.tv_sec = (time_t)(usec / 1000000);
	its.it_value.tv_nsec = (long)(usec % 1000000) * 1000;
	its.it_interval = its.it_value;
	d->watchdog_timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->watchdog_timer.fd < 0)
		return -errno;
	d->watchdog_timer.handler = watchdog_event;
	timerfd_settime(d->watchdog_timer.fd, 0, &its, NULL);
	log_debug("watchdog: ping every %llu ms", (unsigned long long)(usec / 1000));
	return loop_add(d->epfd, &d->watchdog_timer, EPOLLIN);
}

/* ---- main loop -------------------------------------------------------- */

static int next_timeout_ms(struct daemon *d)
{
	uint64_t now = mono_now_ms(), next = 0;
	uint64_t cand[] = { d->nl_retry_ms, d->psi_retry_ms, channels_next_deadline(&d->ch) };

	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++)
		if (cand[i] && (!next || cand[i] < next))
			next = cand[i];
	if (!next)
		return -1;
	return next <= now ? 0 : (int)(next - now > 3600000 ? 3600000 : next - now);
}

static void run_deadlines(struct daemon *d)
{
	uint64_t now = mono_now_ms();

	if (d->nl_retry_ms && d->nl_retry_ms <= now) {
		d->nl_retry_ms = 0;
		driver_connect(d);
	}
	if (d->psi_retry_ms && d->psi_retry_ms <= now)
		psi_open(d);
	channels_expire(&d->ch, now);
}

static int setup(struct daemon *d)
{
	sigset_t mask;
	int rc;

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return -errno;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->sig.handler = signal_event;
	if (d->sig.fd < 0 || loop_add(d->epfd, &d->sig, EPOLLIN) < 0)
		return -errno;

	channels_init(&d->ch, d->epfd, get_view, d);
	apply_channel_limits(d);
	policy_state_init(&d->pstate);

	/* netlink first, so udev's enumeration can find the family */
	rc = mbnl_open(&d->nl, true);
	if (rc) {
		log_err("netlink: %s; the balloon's state will be missing", strerror(-rc));
	} else {
		d->nl_open = true;
		d->nl_src.fd = mbnl_event_fd(&d->nl);
		d->nl_src.handler = nl_event;
		d->nl.notify = nl_notify;
		d->nl.notify_arg = d;
		if (loop_add(d->epfd, &d->nl_src, EPOLLIN) < 0)
			return -errno;
		driver_connect(d);
		if (!d->nl.family)
			log_notice("netlink: family %s not registered yet (memballoon not loaded)",
				   MEMBALLOON_FAMILY_NAME);
	}

	rc = devwatch_open(&d->udev, d->epfd, &udev_ops, d);
	if (rc) {
		log_warn("udev: %s; virtio-serial ports are not watched", strerror(-rc));
	} else {
		d->udev_open = true;
		devwatch_enumerate(&d->udev);
	}

	start_listeners(d);

	d->psi.fd = -1;
	psi_open(d);

	d->sample_timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->sample_timer.handler = sample_timer_event;
	if (d->sample_timer.fd < 0 || loop_add(d->epfd, &d->sample_timer, EPOLLIN) < 0)
		return -errno;
	arm_sample_timer(d);
	take_sample(d);
	run_policy(d);

	return setup_watchdog(d);
}

static void teardown(struct daemon *d)
{
	channels_close_all(&d->ch);
	if (d->udev_open)
		devwatch_close(&d->udev, d->epfd);
	if (d->nl_open)
		mbnl_close(&d->nl);
	psi_close(d);
	devs_clear(d);
	if (d->sample_timer.fd >= 0)
		close(d->sample_timer.fd);
	if (d->watchdog_timer.fd >= 0)
		close(d->watchdog_timer.fd);
	if (d->sig.fd >= 0)
		close(d->sig.fd);
	close(d->epfd);
	for (size_t i = 0; i < d->noverrides; i++)
		free(d->overrides[i].value);
}

static int run(struct daemon *d)
{
	struct epoll_event evs[16];

	while (!d->quit) {
		int n = epoll_wait(d->epfd, evs, 16, next_timeout_ms(d));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n && !d->quit; i++) {
			struct source *src = evs[i].data.ptr;

			src->handler(src, evs[i].events);
		}
		run_deadlines(d);
		/* connections closed above may still have had events in evs[] */
		channels_reap(&d->ch);
	}
	return 0;
}

/* ---- command line ----------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: memballoond [OPTION]...\n"
		"Report the guest's memory pressure and balloon state to the host.\n\n"
		"  -c, --config FILE          configuration file (default %s)\n"
		"      --serial-port NAME|off virtio-serial port name (default org.memballoon.0)\n"
		"      --tcp ADDR:PORT|off    TCP listener, e.g. 0.0.0.0:%d (MOM's port; default off)\n"
		"      --vsock PORT|off       AF_VSOCK listener (default off)\n"
		"  -i, --sample-interval SEC  seconds between samples (default 5)\n"
		"      --psi-trigger SPEC     \"some|full STALL_US WINDOW_US\" or off\n"
		"  -s, --set KEY=VALUE        set any configuration key (repeatable)\n"
		"  -v, --verbose              log_level = debug\n"
		"      --print-config         print the effective configuration and exit\n"
		"  -h, --help                 this text\n"
		"  -V, --version\n\n"
		"See memballoond(8) and memballoond.conf(5).\n",
		CONFIG_DEFAULT_PATH, CONFIG_MOM_PORT);
}

static int add_override(struct daemon *d, const char *key, const char *value)
{
	if (d->noverrides >= MAX_OVERRIDES) {
		fprintf(stderr, "memballoond: too many overrides\n");
		return -1;
	}
	d->overrides[d->noverrides].key = key;
	d->overrides[d->noverrides].value = strdup(value);
	if (!d->overrides[d->noverrides].value)
		return -1;
	d->noverrides++;
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_SERIAL = 256, OPT_TCP, OPT_VSOCK, OPT_TRIGGER, OPT_PRINT, OPT_PROC };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "serial-port", required_argument, NULL, OPT_SERIAL },
		{ "tcp", required_argument, NULL, OPT_TCP },
		{ "vsock", required_argument, NULL, OPT_VSOCK },
		{ "sample-interval", required_argument, NULL, 'i' },
		{ "psi-trigger", required_argument, NULL, OPT_TRIGGER },
		{ "set", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "print-config", no_argument, NULL, OPT_PRINT },
		{ "proc-root", required_argument, NULL, OPT_PROC },	/* tests */
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct daemon daemon;
	struct daemon *d = &daemon;
	bool print = false;
	int opt, rc;

	d->config_path = CONFIG_DEFAULT_PATH;
	d->proc_root = "/proc";
	log_setup("memballoond");
	while ((opt = getopt_long(argc, argv, "c:i:s:vhV", opts, NULL)) != -1) {
		char *eq;

		rc = 0;
		switch (opt) {
		case 'c':
			d->config_path = optarg;
			d->config_explicit = true;
			break;
		case OPT_SERIAL:
			rc = add_override(d, "serial_port", optarg);
			break;
		case OPT_TCP:
			rc = add_override(d, "tcp", optarg);
			break;
		case OPT_VSOCK:
			rc = add_override(d, "vsock", optarg);
			break;
		case 'i':
			rc = add_override(d, "sample_interval", optarg);
			break;
		case OPT_TRIGGER:
			rc = add_override(d, "psi_trigger", optarg);
			break;
		case 's':
			eq = strchr(optarg, '=');
			if (!eq) {
				fprintf(stderr, "memballoond: --set expects KEY=VALUE\n");
				return 2;
			}
			*eq = '\0';
			rc = add_override(d, optarg, eq + 1);
			break;
		case 'v':
			rc = add_override(d, "log_level", "debug");
			break;
		case OPT_PRINT:
			print = true;
			break;
		case OPT_PROC:
			d->proc_root = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("memballoond %s\n", MB_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (rc)
			return 1;
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (load_config(d, &d->cfg))
		return 1;
	if (print) {
		config_write(&d->cfg, stdout);
		return 0;
	}
	log_set_level(d->cfg.log_level);
	if (priv_setup(&d->cfg, &d->caps))
		return 1;

	rc = setup(d);
	if (rc) {
		log_err("startup: %s", strerror(-rc));
		return 1;
	}
	log_info("started: %zu balloon(s), sampling every %u s", d->ndevs,
		 d->cfg.sample_interval_s);
	sdnotify_send("READY=1");
	update_status(d);
	rc = run(d);
	sdnotify_send("STOPPING=1");
	teardown(d);
	return rc;
}
