// SPDX-License-Identifier: GPL-2.0
/*
 * memballoond: makes the guest's memory pressure visible to the host.
 *
 * This file: the command line, startup and shutdown.  One epoll loop
 * (loop.c), nothing polled: the sampler reads /proc every sample_interval
 * seconds and when the PSI trigger fires, the driver's netlink family
 * reports the balloons (devtrack.c), udev the virtio-serial port
 * (portwatch.c); everything is pushed to the host channels that
 * subscribed (events.c).  SIGHUP reloads the configuration (reload.c).
 * An idle daemon wakes only for the sample timer and the systemd watchdog.
 * daemon.h lists the parts.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "linux/memballoon.h"
#include "log.h"
#include "privileges.h"
#include "sdnotify.h"

static uint64_t next_deadline(void *arg)
{
	struct daemon *d = arg;

	return channels_next_deadline(&d->ch);
}

static void expire(void *arg, uint64_t now_ms)
{
	struct daemon *d = arg;

	channels_expire(&d->ch, now_ms);
}

static void after_round(void *arg)
{
	struct daemon *d = arg;

	channels_reap(&d->ch);
}

/* The parts, in an order where each finds what it needs. */
static int start(struct daemon *d)
{
	const struct loop_hooks h = {
		.reload = daemon_reload,
		.next_deadline = next_deadline,
		.expire = expire,
		.after_round = after_round,
		.arg = d,
	};
	int rc;

	rc = loop_init(&d->loop, &h);
	if (rc)
		return rc;
	channels_init(&d->ch, d->loop.epfd, daemon_view, d);
	daemon_apply_channel_limits(d);
	policy_state_init(&d->pstate);

	rc = devtrack_open(&d->devs, &d->loop, &daemon_devtrack_ops, d);
	if (rc)
		log_err("netlink: %s; the balloon's state will be missing", strerror(-rc));

	rc = portwatch_open(&d->ports, d->loop.epfd, &d->ch, d->cfg.serial_port);
	if (rc)
		log_warn("udev: %s; virtio-serial ports are not watched", strerror(-rc));

	daemon_listen(d);

	rc = sampler_open(&d->sampler, &d->loop, d->proc_root, d->cfg.sample_interval_s,
			  &d->cfg.trigger, &daemon_sampler_ops, d);
	if (rc)
		return rc;
	guardrails_run(d);
	return 0;
}

static void stop(struct daemon *d)
{
	channels_close_all(&d->ch);
	portwatch_close(&d->ports);
	devtrack_close(&d->devs);
	sampler_close(&d->sampler);
	loop_fini(&d->loop);
	for (size_t i = 0; i < d->noverrides; i++)
		free(d->overrides[i].value);
}

/* ---- command line ----------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: memballoond [OPTION]...\n"
		"Report the guest's memory pressure and balloon state to the host.\n\n"
		"  -c, --config FILE          configuration file (default %s),\n"
		"                             then FILE.d/*.conf\n"
		"      --serial-port NAME|off virtio-serial port name (default %s)\n"
		"      --tcp ADDR:PORT|off    TCP listener, e.g. 0.0.0.0:%d (MOM's port; default %s)\n"
		"      --vsock PORT|off       AF_VSOCK listener (default %s)\n"
		"  -i, --sample-interval SEC  seconds between samples (default %s)\n"
		"      --psi-trigger SPEC     \"some|full STALL_US WINDOW_US\" or off\n"
		"  -s, --set KEY=VALUE        set any configuration key (repeatable)\n"
		"  -v, --verbose              log_level = debug\n"
		"      --print-config         print the effective configuration and exit\n"
		"  -h, --help                 this text\n"
		"  -V, --version\n\n"
		"See memballoond(8) and memballoond.conf(5).\n",
		CONFIG_DEFAULT_PATH, config_key("serial_port")->def, CONFIG_MOM_PORT,
		config_key("tcp")->def, config_key("vsock")->def,
		config_key("sample_interval")->def);
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

/* --print-config: where the values came from, then the merged result. */
static void print_config(const struct daemon *d)
{
	char **dropins;
	size_t n;

	printf("# memballoond configuration: %s", d->config_path);
	if (config_dropins(d->config_path, &dropins, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			printf(", %s", dropins[i]);
		config_free_paths(dropins, n);
	}
	printf("%s\n\n", d->noverrides ? ", the command line" : "");
	config_write(&d->cfg, stdout);
}

/* 0 to go on, or the exit status. */
static int parse_args(struct daemon *d, int argc, char **argv, bool *print)
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
	int opt, rc;

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
			*print = true;
			break;
		case OPT_PROC:
			d->proc_root = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("memballoond %s\n", MB_VERSION);
			exit(0);
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
	return 0;
}

int main(int argc, char **argv)
{
	static struct daemon daemon;
	struct daemon *d = &daemon;
	bool print = false;
	int rc;

	d->config_path = CONFIG_DEFAULT_PATH;
	d->proc_root = "/proc";
	log_setup("memballoond");
	rc = parse_args(d, argc, argv, &print);
	if (rc)
		return rc;
	if (daemon_load_config(d, &d->cfg))
		return 1;
	if (print) {
		print_config(d);
		return 0;
	}
	log_set_level(d->cfg.log_level);
	if (priv_setup(&d->cfg, &d->caps))
		return 1;

	rc = start(d);
	if (rc) {
		log_err("startup: %s", strerror(-rc));
		return 1;
	}
	log_info("started: %zu balloon(s), sampling every %u s", d->devs.ndevs,
		 d->cfg.sample_interval_s);
	sdnotify_send("READY=1");
	daemon_update_status(d);
	rc = loop_run(&d->loop);
	sdnotify_send("STOPPING=1");
	stop(d);
	return rc;
}
