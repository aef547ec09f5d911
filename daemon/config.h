/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memballoond configuration: "key = value" lines (see memballoond.conf(5)),
 * then command-line overrides, which go through the same config_set().
 */
#ifndef MB_CONFIG_H
#define MB_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "acl.h"
#include "policy.h"

#define CONFIG_DEFAULT_PATH "/etc/memballoon/memballoond.conf"
#define CONFIG_MOM_PORT 2187
#define CONFIG_IDLE_TIMEOUT_S 60
#define CONFIG_REQUEST_RATE 20
#define CONFIG_DEFAULT_USER "memballoon"

struct psi_trigger {
	bool enabled;
	bool full;			/* "full" rather than "some" */
	unsigned int stall_us;
	unsigned int window_us;
};

struct config {
	int log_level;			/* LOG_ERR .. LOG_DEBUG */
	unsigned int sample_interval_s;
	struct psi_trigger trigger;
	char serial_port[128];		/* virtio-serial port name; "": off */
	char tcp_addr[64];		/* IPv4/IPv6 literal to bind */
	unsigned int tcp_port;		/* 0: off */
	unsigned int vsock_port;	/* 0: off */
	unsigned int max_clients;	/* per channel: TCP and vsock each */
	unsigned int request_timeout_s;	/* a partial request line may wait this long */
	unsigned int idle_timeout_s;	/* no line and no reading for this long: closed; 0: off */
	unsigned int request_rate;	/* lines per second per connection, burst as many */
	struct ip_acl tcp_allow;	/* peers TCP accepts; empty: any */
	struct cid_acl vsock_allow;	/* peers vsock accepts */
	char user[64];			/* runs as this user when started as root */
	struct policy_config policy;
};

void config_defaults(struct config *c);
/* Set one key; 0 or -EINVAL with a message in err. */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);
/* Parse a whole file; stops at the first error ("LINE: message" in err). */
int config_parse(FILE *f, struct config *c, char *err, size_t errlen);
/* Load path; a missing file is fine when !must_exist (defaults stand). */
int config_load(const char *path, bool must_exist, struct config *c, char *err, size_t errlen);
/* The effective configuration, in the file's own syntax. */
void config_write(const struct config *c, FILE *f);
/* "some 150000 1000000" */
int psi_trigger_format(const struct psi_trigger *t, char *buf, size_t len);

#endif
