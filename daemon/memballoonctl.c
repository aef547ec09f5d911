// SPDX-License-Identifier: GPL-2.0
/*
 * memballoonctl: the memballoon driver's state and admin commands, straight
 * from its generic netlink family (no daemon needed).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "linux/memballoon.h"
#include "mbnl.h"
#include "report.h"
#include "sample.h"

#define RELEASE_WAIT_S 30	/* release: wait this long for the driver's RELEASED event */

static bool opt_json;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: memballoonctl [--json] COMMAND [ARG]...\n\n"
		"  status [DEV]          balloon devices: target, actual, floor, features, counters\n"
		"  watch [--interval S]  print driver events as they happen, state every S s (default 5)\n"
		"  set-floor DEV MIB     never inflate DEV's guest below MIB MiB (0: no floor)\n"
		"  release DEV MIB [--no-wait] [--timeout S]\n"
		"                        give MIB MiB of DEV's balloon back to the guest now and\n"
		"                        wait up to S s (default %d) for the driver to finish\n\n"
		"  -j, --json            JSON output (status: one object; watch: one object per line)\n"
		"  -h, --help, -V, --version\n\n"
		"DEV is virtioN or N.  set-floor and release need CAP_SYS_ADMIN and CAP_NET_ADMIN.  See memballoonctl(8).\n",
		RELEASE_WAIT_S);
}

static const char *errmsg(int err)
{
	switch (err) {
	case -EPERM:
	case -EACCES:
		return "permission denied (needs CAP_SYS_ADMIN and CAP_NET_ADMIN)";
	case -EBUSY:
		return "rate-limited by the driver (too many admin changes; try again later)";
	case -ETIMEDOUT:
		return "the driver did not answer in time";
	case -EOPNOTSUPP:
		return "not supported (the device did not negotiate DEFLATE_ON_OOM)";
	case -ENODEV:
		return "no such balloon device";
	default:
		return strerror(-err);
	}
}

/*
 * Open (with the events group joined if events) and find the family; prints
 * the error and closes, except for a family not loaded yet when
 * wait_for_module.
 */
static int connect_family(struct mbnl *nl, bool events, bool wait_for_module)
{
	int rc = mbnl_open(nl, events);

	if (rc) {
		fprintf(stderr, "memballoonctl: netlink: %s\n", strerror(-rc));
		return rc;
	}
	rc = mbnl_resolve(nl);
	if (rc == -ENOENT && !wait_for_module)
		fprintf(stderr, "memballoonctl: memballoon module not loaded "
			"(no generic netlink family \"%s\")\n", MEMBALLOON_FAMILY_NAME);
	else if (rc && rc != -ENOENT)
		fprintf(stderr, "memballoonctl: netlink: %s\n", strerror(-rc));
	if (rc && !(rc == -ENOENT && wait_for_module))
		mbnl_close(nl);
	return rc;
}

static int parse_dev(const char *s, uint32_t *id)
{
	unsigned long long v;

	if (!strncmp(s, "virtio", 6))
		s += 6;
	if (parse_decimal(s, 0, UINT32_MAX, &v))
		return -EINVAL;
	*id = (uint32_t)v;
	return 0;
}

/* An option's seconds, 0 to max; prints the error. */
static int parse_seconds(const char *s, unsigned long max, const char *what, unsigned long *out)
{
	unsigned long long v;

	if (parse_decimal(s, 0, max, &v)) {
		fprintf(stderr, "memballoonctl: bad %s '%s'\n", what, s);
		return -EINVAL;
	}
	*out = (unsigned long)v;
	return 0;
}

static void mib_pages(char *buf, size_t len, uint64_t pages)
{
	snprintf(buf, len, "%llu MiB (%llu)", (unsigned long long)mb_pages_to_mib(pages),
		 (unsigned long long)pages);
}

static void print_features(const struct mb_dev *d)
{
	printf("  features:");
	for (unsigned int bit = 0; bit < 64; bit++) {
		const char *name;

		if (!(d->features & (1ull << bit)))
			continue;
		name = mb_feature_name(bit);
		if (name)
			printf(" %s", name);
		else
			printf(" bit%u", bit);
	}
	printf("\n");
}

static void print_table(const struct mb_dev *devs, size_t n)
{
	char target[48], actual[48], floor[32], reserve[32], ram[32];

	if (!n) {
		printf("no balloon device is bound to memballoon\n");
		return;
	}
	printf("%-9s %-10s %-22s %-22s %-10s %s\n", "DEVICE", "RAM", "TARGET", "ACTUAL",
	       "FLOOR", "RESERVE");
	for (size_t i = 0; i < n; i++) {
		const struct mb_dev *d = &devs[i];

		mib_pages(target, sizeof(target), d->target_pages);
		mib_pages(actual, sizeof(actual), d->actual_pages);
		snprintf(ram, sizeof(ram), "%llu MiB", (unsigned long long)mb_pages_to_mib(d->ram_pages));
		if (d->floor_pages)
			snprintf(floor, sizeof(floor), "%llu MiB",
				 (unsigned long long)mb_pages_to_mib(d->floor_pages));
		else
			snprintf(floor, sizeof(floor), "none");
		snprintf(reserve, sizeof(reserve), "%llu MiB",
			 (unsigned long long)mb_pages_to_mib(d->reserve_pages));
		printf("%-9s %-10s %-22s %-22s %-10s %s\n", d->name, ram, target, actual, floor,
		       reserve);
		print_features(d);
		printf("  counters: inflated %llu, deflated %llu, alloc failures %llu, "
		       "OOM deflates %llu (%llu pages), reported %llu, hinted %llu, "
		       "stats requests %llu, migrated %llu\n",
		       (unsigned long long)d->inflated, (unsigned long long)d->deflated,
		       (unsigned long long)d->alloc_failures, (unsigned long long)d->oom_deflates,
		       (unsigned long long)d->oom_pages, (unsigned long long)d->reported_pages,
		       (unsigned long long)d->hinted_pages, (unsigned long long)d->stats_requests,
		       (unsigned long long)d->migrated);
	}
}

static void print_json_devices(const struct mb_dev *devs, size_t n)
{
	struct strbuf sb;

	sb_init(&sb, 0);
	sb_puts(&sb, "{\"devices\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_puts(&sb, ",");
		report_device(&sb, &devs[i]);
	}
	sb_puts(&sb, "]}\n");
	fputs(sb_str(&sb), stdout);
	sb_free(&sb);
}

/*
 * Without the family, say why from sysfs: a guest with no virtio balloon
 * (libvirt's <memballoon model='none'/>, oVirt's "balloon disabled") has
 * nothing for memballoon to load for, which is a state, not an error; a
 * balloon device bound to another driver (virtio_balloon where DKMS could
 * not build memballoon for this kernel) is.  Returns the exit status.
 */
static int status_without_module(void)
{
	struct mb_sysdev devs[8];
	int n = mb_sysfs_balloons("/sys/bus/virtio/devices", devs, 8);
	int i;

	for (i = 0; i < n && i < 8; i++)
		fprintf(stderr, "memballoonctl: memballoon module not loaded; "
			"balloon device %s %s%s\n", devs[i].name,
			devs[i].driver[0] ? "is driven by " : "has no driver", devs[i].driver);
	if (n > 8)
		fprintf(stderr, "memballoonctl: and %d more balloon devices\n", n - 8);
	if (n > 0)
		return 1;
	if (opt_json)
		print_json_devices(NULL, 0);
	else
		printf("no balloon device: this guest has no virtio balloon "
		       "(memballoon not loaded)\n");
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	struct mbnl nl;
	struct mb_dev *devs = NULL, one;
	size_t n = 0;
	uint32_t id;
	int rc;

	if (argc > 1) {
		usage(stderr);
		return 2;
	}
	if (argc == 1 && parse_dev(argv[0], &id)) {
		fprintf(stderr, "memballoonctl: bad device '%s' (virtioN or N)\n", argv[0]);
		return 2;
	}
	rc = connect_family(&nl, false, true);
	if (rc == -ENOENT) {
		mbnl_close(&nl);
		return status_without_module();
	}
	if (rc)
		return 1;
	if (argc == 1) {
		rc = mbnl_get(&nl, id, &one);
		if (!rc) {
			devs = &one;
			n = 1;
		}
	} else {
		rc = mbnl_dump(&nl, &devs, &n);
	}
	mbnl_close(&nl);
	if (rc) {
		fprintf(stderr, "memballoonctl: status%s%s: %s\n", argc ? " " : "",
			argc ? argv[0] : "", rc == -ENOENT && argc ? "no such balloon device" :
			errmsg(rc));
		return 1;
	}
	if (opt_json)
		print_json_devices(devs, n);
	else
		print_table(devs, n);
	if (devs != &one)
		free(devs);
	return 0;
}

static int admin_error(struct mbnl *nl, const char *cmd, const char *dev, int rc)
{
	/* the kernel's own words, except where ours say what to do */
	if (rc == -EPERM || rc == -EACCES || rc == -ETIMEDOUT || !nl->errmsg[0])
		fprintf(stderr, "memballoonctl: %s %s: %s\n", cmd, dev, errmsg(rc));
	else if (rc == -EBUSY)
		fprintf(stderr, "memballoonctl: %s %s: rate-limited by the driver: %s\n", cmd, dev,
			nl->errmsg);
	else
		fprintf(stderr, "memballoonctl: %s %s: %s\n", cmd, dev, nl->errmsg);
	mbnl_close(nl);
	return 1;
}

/* Parse "DEV MIB" of set-floor and release. */
static int admin_args(int argc, char **argv, bool release, uint32_t *id, uint64_t *mib)
{
	unsigned long long v;

	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	if (parse_dev(argv[0], id)) {
		fprintf(stderr, "memballoonctl: bad device '%s' (virtioN or N)\n", argv[0]);
		return 2;
	}
	/* a release of nothing is no request */
	if (parse_decimal(argv[1], release ? 1 : 0, release ? UINT32_MAX / MB_PAGES_PER_MIB :
			  UINT64_MAX / MB_PAGES_PER_MIB, &v)) {
		fprintf(stderr, "memballoonctl: bad size '%s' (MiB)\n", argv[1]);
		return 2;
	}
	*mib = v;
	return 0;
}

static int cmd_set_floor(int argc, char **argv)
{
	struct mbnl nl;
	struct mb_dev reply;
	uint64_t mib;
	uint32_t id;
	int rc;

	rc = admin_args(argc, argv, false, &id, &mib);
	if (rc)
		return rc;
	if (connect_family(&nl, false, false))
		return 1;
	rc = mbnl_set_floor(&nl, id, mib * MB_PAGES_PER_MIB, &reply);
	if (rc)
		return admin_error(&nl, "set-floor", argv[0], rc);
	mbnl_close(&nl);
	if (opt_json && reply.have)
		print_json_devices(&reply, 1);
	else if (mib)
		printf("%s: inflation floor %llu MiB\n", argv[0], (unsigned long long)mib);
	else
		printf("%s: inflation floor removed\n", argv[0]);
	return 0;
}

struct release_wait {
	uint32_t id;
	bool seen;
	struct mb_dev ev;
};

static void release_notify(void *arg, enum mbnl_notice what, const struct mb_dev *dev)
{
	struct release_wait *w = arg;

	if (what == MBNL_DEVICE_EVENT && !w->seen && dev->id == w->id &&
	    dev->event == MEMBALLOON_EVENT_RELEASED) {
		w->seen = true;
		w->ev = *dev;
	}
}

/* The driver's RELEASED event for w->id, within timeout_s: 0, or -ETIMEDOUT. */
static int release_wait(struct mbnl *nl, struct release_wait *w, unsigned long timeout_s)
{
	uint64_t deadline = mono_now_ms() + timeout_s * 1000;

	nl->notify = release_notify;
	nl->notify_arg = w;
	while (!w->seen) {
		struct pollfd p = { .fd = mbnl_event_fd(nl), .events = POLLIN };
		uint64_t now = mono_now_ms();
		int rc;

		if (now >= deadline)
			return -ETIMEDOUT;
		rc = poll(&p, 1, (int)(deadline - now));
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc > 0) {
			rc = mbnl_receive(nl);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static void print_release_json(const struct mb_dev *dev, const struct mb_dev *accepted,
			       const struct mb_dev *released)
{
	struct strbuf sb;

	sb_init(&sb, 0);
	sb_puts(&sb, "{");
	if (accepted)
		sb_printf(&sb, "\"accepted_pages\":%u,", accepted->release_pages);
	if (released && mbnl_has(released, MEMBALLOON_A_DEV_RELEASE_PAGES))
		sb_printf(&sb, "\"released_pages\":%u,", released->release_pages);
	sb_puts(&sb, "\"devices\":[");
	report_device(&sb, dev);
	sb_puts(&sb, "]}\n");
	fputs(sb_str(&sb), stdout);
	sb_free(&sb);
}

/*
 * The driver either releases before it answers (no RELEASE_PAGES in the
 * reply), or accepts at once and releases in the background: then the reply
 * says how many pages it accepted (clamped to the balloon) and a RELEASED
 * event, which we join the events group for before asking, says how many it
 * gave back.
 */
static int cmd_release(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-wait", no_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long timeout_s = RELEASE_WAIT_S;
	struct release_wait w = { 0 };
	struct mb_dev reply;
	bool wait = true;
	struct mbnl nl;
	uint64_t mib;
	const char *name;
	int opt, rc;

	optind = 0;	/* a fresh scan that permutes: options after DEV MIB too */
	while ((opt = getopt_long(argc, argv, "njt:", opts, NULL)) != -1) {
		if (opt == 'n') {
			wait = false;
		} else if (opt == 'j') {
			opt_json = true;
		} else if (opt == 't') {
			if (parse_seconds(optarg, 3600, "timeout", &timeout_s))
				return 2;
		} else {
			usage(stderr);
			return 2;
		}
	}
	rc = admin_args(argc - optind, argv + optind, true, &w.id, &mib);
	if (rc)
		return rc;
	name = argv[optind];
	if (connect_family(&nl, true, false))
		return 1;
	rc = mbnl_release(&nl, w.id, (uint32_t)(mib * MB_PAGES_PER_MIB), &reply);
	if (rc)
		return admin_error(&nl, "release", name, rc);
	if (!mbnl_has(&reply, MEMBALLOON_A_DEV_RELEASE_PAGES)) {
		/* released already (or a bare ACK) */
		mbnl_close(&nl);
		if (opt_json && reply.have) {
			print_release_json(&reply, NULL, NULL);
			return 0;
		}
		printf("%s: released %llu MiB", name, (unsigned long long)mib);
		if (reply.have)
			printf(", balloon now %llu MiB (target %llu MiB)",
			       (unsigned long long)mb_pages_to_mib(reply.actual_pages),
			       (unsigned long long)mb_pages_to_mib(reply.target_pages));
		printf("\n");
		return 0;
	}
	if (!opt_json) {
		printf("%s: release accepted: %u pages (%u MiB)%s\n", name, reply.release_pages,
		       reply.release_pages / MB_PAGES_PER_MIB,
		       reply.release_pages < mib * MB_PAGES_PER_MIB ? ", all the balloon holds" : "");
		fflush(stdout);
	}
	if (!reply.release_pages || !wait) {
		mbnl_close(&nl);
		if (opt_json)
			print_release_json(&reply, &reply, NULL);
		return 0;
	}
	rc = release_wait(&nl, &w, timeout_s);
	mbnl_close(&nl);
	if (rc) {
		fprintf(stderr, "memballoonctl: release %s: %s\n", name, rc == -ETIMEDOUT ?
			"no RELEASED event from the driver in time (it may still be releasing)" :
			strerror(-rc));
		return 1;
	}
	if (opt_json) {
		print_release_json(&w.ev, &reply, &w.ev);
		return 0;
	}
	if (mbnl_has(&w.ev, MEMBALLOON_A_DEV_RELEASE_PAGES))
		printf("%s: released %u pages (%u MiB)", name, w.ev.release_pages,
		       w.ev.release_pages / MB_PAGES_PER_MIB);
	else
		printf("%s: released", name);
	printf(", balloon now %llu MiB (target %llu MiB)\n",
	       (unsigned long long)mb_pages_to_mib(w.ev.actual_pages),
	       (unsigned long long)mb_pages_to_mib(w.ev.target_pages));
	return 0;
}

/* ---- watch ---------------------------------------------------------------- */

struct watch {
	struct mbnl nl;
	bool gone_reported;
};

static void stamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
		 ts.tv_nsec / 1000000);
}

static void watch_line(const char *what, const struct mb_dev *d)
{
	char ts[32];

	if (opt_json) {
		struct strbuf sb;

		sb_init(&sb, 0);
		sb_puts(&sb, "{\"event\":");
		json_str(&sb, what);
		sb_printf(&sb, ",\"wall_ms\":%llu", (unsigned long long)wall_now_ms());
		if (d) {
			sb_puts(&sb, ",\"device\":");
			report_device(&sb, d);
		}
		sb_puts(&sb, "}\n");
		fputs(sb_str(&sb), stdout);
		sb_free(&sb);
	} else {
		stamp(ts, sizeof(ts));
		if (d) {
			printf("%s %-9s %-16s target %llu MiB  actual %llu MiB  (%u/%u pages)",
			       ts, d->name, what, (unsigned long long)mb_pages_to_mib(d->target_pages),
			       (unsigned long long)mb_pages_to_mib(d->actual_pages), d->target_pages,
			       d->actual_pages);
			if (d->floor_pages)
				printf("  floor %llu MiB",
				       (unsigned long long)mb_pages_to_mib(d->floor_pages));
			printf("\n");
		} else
			printf("%s %s\n", ts, what);
	}
	fflush(stdout);
}

static void watch_refresh(struct watch *w)
{
	struct mb_dev *devs;
	size_t n;

	if (!w->nl.family)
		return;
	if (mbnl_dump(&w->nl, &devs, &n))
		return;
	for (size_t i = 0; i < n; i++)
		watch_line("state", &devs[i]);
	free(devs);
}

static void watch_connect(struct watch *w)
{
	int rc = mbnl_resolve(&w->nl);

	if (rc == 0) {
		w->gone_reported = false;
		watch_line("driver loaded", NULL);
		watch_refresh(w);
	} else if (!w->gone_reported) {
		watch_line("memballoon module not loaded; waiting for it", NULL);
		w->gone_reported = true;
	}
}

static void watch_notify(void *arg, enum mbnl_notice what, const struct mb_dev *dev)
{
	struct watch *w = arg;

	switch (what) {
	case MBNL_DEVICE_EVENT:
		watch_line(mb_event_name(dev->event), dev);
		break;
	case MBNL_FAMILY_NEW:
		mbnl_forget(&w->nl);
		watch_connect(w);
		break;
	case MBNL_FAMILY_GONE:
		mbnl_forget(&w->nl);
		watch_line("driver unloaded", NULL);
		w->gone_reported = true;
		break;
	case MBNL_OVERRUN:
		watch_refresh(w);
		break;
	}
}

static int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct watch w = { 0 };
	struct pollfd pfd[2];
	unsigned long interval = 5;
	uint64_t next;
	sigset_t mask;
	int opt, rc, sfd;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+i:j", opts, NULL)) != -1) {
		if (opt == 'j') {
			opt_json = true;
		} else if (opt == 'i') {
			if (parse_seconds(optarg, 86400, "interval", &interval))
				return 2;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("memballoonctl: signalfd");
		return 1;
	}
	rc = connect_family(&w.nl, true, true);
	if (rc && rc != -ENOENT)
		return 1;
	w.nl.notify = watch_notify;
	w.nl.notify_arg = &w;
	if (rc == -ENOENT) {
		watch_line("memballoon module not loaded; waiting for it", NULL);
		w.gone_reported = true;
	} else {
		watch_refresh(&w);
	}
	pfd[0] = (struct pollfd){ .fd = mbnl_event_fd(&w.nl), .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	next = mono_now_ms() + interval * 1000;
	for (;;) {
		uint64_t now = mono_now_ms();
		int timeout = interval ? (int)(next > now ? next - now : 0) : -1;

		rc = poll(pfd, 2, timeout);
		if (rc < 0 && errno != EINTR) {
			perror("memballoonctl: poll");
			break;
		}
		if (pfd[1].revents)
			break;	/* SIGINT/SIGTERM: a clean exit */
		if (pfd[0].revents) {
			rc = mbnl_receive(&w.nl);
			if (rc)
				fprintf(stderr, "memballoonctl: netlink: %s\n", strerror(-rc));
		}
		if (interval && mono_now_ms() >= next) {
			if (w.nl.family)
				watch_refresh(&w);
			else
				watch_connect(&w);	/* a missed registration: look again */
			next = mono_now_ms() + interval * 1000;
		}
	}
	mbnl_close(&w.nl);
	close(sfd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	int opt;

	while ((opt = getopt_long(argc, argv, "+jhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			opt_json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("memballoonctl %s\n", MB_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	argc -= optind + 1;
	argv += optind + 1;
	/* "status --json" as well as "--json status" */
	if (strcmp(cmd, "watch") && argc && (!strcmp(argv[argc - 1], "--json") ||
					      !strcmp(argv[argc - 1], "-j"))) {
		opt_json = true;
		argc--;
	}
	if (!strcmp(cmd, "status"))
		return cmd_status(argc, argv);
	if (!strcmp(cmd, "watch"))
		return cmd_watch(argc + 1, argv - 1);
	if (!strcmp(cmd, "set-floor"))
		return cmd_set_floor(argc, argv);
	if (!strcmp(cmd, "release"))
		return cmd_release(argc + 1, argv - 1);
	fprintf(stderr, "memballoonctl: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
