/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memballoond configuration: "key = value" lines (see memballoond.conf(5))
 * in the main file, then in its drop-ins (FILE.d/NAME.conf, in lexical
 * order of NAME, as systemd's own daemons read theirs: a later file
 * overrides an earlier one key by key), then command-line overrides, all
 * through the same config_set().
 *
 * Every key is one entry of config_keys[]: its type, range, default and a
 * line of help.  The table drives the parser, the defaults, config_write()
 * (--print-config), and the unit test that holds the man page and the
 * example file to exactly these keys and defaults.
 */
#ifndef MB_CONFIG_H
#define MB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "acl.h"
#include "policy.h"

#define CONFIG_DEFAULT_PATH "/etc/memballoon/memballoond.conf"
#define CONFIG_DROPIN_SUFFIX ".d"	/* drop-ins: CONFIG_DEFAULT_PATH ".d/" NAME ".conf" */
#define CONFIG_MOM_PORT 2187		/* MOM's GuestNetworkDaemon connects here */

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

enum config_type {
	CONFIG_LOG_LEVEL,	/* int: a level name */
	CONFIG_UINT,		/* unsigned int: decimal in [min, max] */
	CONFIG_UINT_OFF,	/* unsigned int: the same, or 0/off for none */
	CONFIG_BOOL,		/* bool: yes/no, on/off, true/false, 1/0 */
	CONFIG_PERCENT,		/* double: a percentage in (0, max], two decimals */
	CONFIG_MIB,		/* uint64_t pages: MiB in [min, max] */
	CONFIG_TRIGGER,		/* struct psi_trigger */
	CONFIG_PORT_NAME,	/* char[128]: a virtio-serial port name, or off ("") */
	CONFIG_TCP,		/* tcp_addr and tcp_port (off is ignored) */
	CONFIG_IP_ACL,		/* struct ip_acl */
	CONFIG_CID_ACL,		/* struct cid_acl */
	CONFIG_USER,		/* char[64]: a user name */
	CONFIG_FLOOR,		/* struct policy_config's floor_pages or floor_percent */
};

struct config_key {
	const char *key;
	enum config_type type;
	size_t off;			/* the value's offset in struct config */
	unsigned long long min, max;	/* CONFIG_UINT, CONFIG_UINT_OFF, CONFIG_MIB, CONFIG_PERCENT */
	const char *unit;		/* in error messages after the range, or NULL */
	const char *def;		/* the default, as config_write() writes it */
	const char *help;		/* one line: what the key does */
};

extern const struct config_key config_keys[];
extern const size_t config_nkeys;

/* The table entry for key, or NULL. */
const struct config_key *config_key(const char *key);

void config_defaults(struct config *c);
/* Set one key; 0 or -EINVAL with a message in err. */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);
/* Parse a whole file; stops at the first error ("line N: message" in err). */
int config_parse(FILE *f, struct config *c, char *err, size_t errlen);
/* Load path; a missing file is fine when !must_exist (the values stand). */
int config_load(const char *path, bool must_exist, struct config *c, char *err, size_t errlen);
/*
 * The drop-ins of path: path.d/NAME.conf, regular files (or links to
 * them) whose NAME does not start with '.', sorted by NAME in byte order.
 * *paths is malloc'd (config_free_paths).  0 (also when path.d does not
 * exist), or -errno.
 */
int config_dropins(const char *path, char ***paths, size_t *n);
void config_free_paths(char **paths, size_t n);
/* config_load(path), then every drop-in in order; "FILE: line N: message" in err. */
int config_load_all(const char *path, bool must_exist, struct config *c, char *err,
		    size_t errlen);
/* One key's value in the file's syntax. */
void config_format(const struct config *c, const struct config_key *k, char *buf, size_t len);
/* The whole configuration in the file's syntax: each key after a "# help" line. */
void config_write(const struct config *c, FILE *f);
/* A decimal in [min, max] and nothing else (no sign, no blank): 0 or -EINVAL. */
int parse_decimal(const char *v, unsigned long long min, unsigned long long max,
		  unsigned long long *out);
/* "some 150000 1000000" */
int psi_trigger_format(const struct psi_trigger *t, char *buf, size_t len);

#endif
