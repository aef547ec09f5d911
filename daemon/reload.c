// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration: read at startup and on SIGHUP from the main file,
 * its drop-ins and the command line (config.h), and applied to the running
 * parts.  A reload that does not parse changes nothing; a key whose new
 * value needs a capability the daemon no longer holds keeps its running
 * value (priv_reload_filter); connections stay unless their channel was
 * turned off or an allowlist now refuses them.
 */
#include <errno.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "privileges.h"
#include "sdnotify.h"

int daemon_load_config(struct daemon *d, struct config *c)
{
	char err[400];

	config_defaults(c);
	if (config_load_all(d->config_path, d->config_explicit, c, err, sizeof(err))) {
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

void daemon_listen(struct daemon *d)
{
	const struct config *c = &d->cfg;
	int rc;

	if (c->tcp_port) {
		rc = channels_listen_tcp(&d->ch, c->tcp_addr, c->tcp_port);
		if (rc)
			log_err("tcp: %s port %u: %s", c->tcp_addr, c->tcp_port, strerror(-rc));
		else
			log_info("tcp: listening on %s port %u", c->tcp_addr, c->tcp_port);
	}
	if (c->vsock_port) {
		rc = channels_listen_vsock(&d->ch, c->vsock_port);
		if (rc)
			log_err("vsock: port %u: %s", c->vsock_port, strerror(-rc));
		else
			log_info("vsock: listening on port %u", c->vsock_port);
	}
}

void daemon_apply_channel_limits(struct daemon *d)
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

static void apply_listeners(struct daemon *d, const struct config *old)
{
	const struct config *c = &d->cfg;

	if (c->tcp_port == old->tcp_port && !strcmp(c->tcp_addr, old->tcp_addr) &&
	    c->vsock_port == old->vsock_port)
		return;
	channels_stop_tcp(&d->ch);
	channels_stop_vsock(&d->ch);
	/* connections stay across a new address or port, not a channel turned off */
	if (!c->tcp_port)
		channels_close_kind(&d->ch, CHANNEL_TCP, "tcp turned off");
	if (!c->vsock_port)
		channels_close_kind(&d->ch, CHANNEL_VSOCK, "vsock turned off");
	daemon_listen(d);
}

void daemon_reload(void *arg)
{
	struct daemon *d = arg;
	struct config c, old = d->cfg;

	sdnotify_send("RELOADING=1");
	log_info("reloading %s", d->config_path);
	if (daemon_load_config(d, &c)) {
		log_err("reload failed; keeping the running configuration");
		sdnotify_send("READY=1");
		return;
	}
	priv_reload_filter(&old, &c, d->caps, priv_psi_rules());
	d->cfg = c;
	log_set_level(c.log_level);
	daemon_apply_channel_limits(d);
	if (c.sample_interval_s != old.sample_interval_s)
		sampler_set_interval(&d->sampler, c.sample_interval_s);
	if (memcmp(&c.trigger, &old.trigger, sizeof(c.trigger)))
		sampler_set_trigger(&d->sampler, &c.trigger);
	apply_listeners(d, &old);
	portwatch_set_name(&d->ports, c.serial_port);
	if (memcmp(&c.policy, &old.policy, sizeof(c.policy))) {
		/* a new floor applies to the devices present now */
		policy_state_init(&d->pstate);
		guardrails_run(d);
	}
	sdnotify_send("READY=1");
}
