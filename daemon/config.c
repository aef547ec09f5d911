// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "config.h"
#include "log.h"

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->log_level = LOG_INFO;
	c->sample_interval_s = 5;
	c->trigger = (struct psi_trigger){ .enabled = true, .full = false,
					   .stall_us = 150000, .window_us = 1000000 };
	snprintf(c->serial_port, sizeof(c->serial_port), "org.memballoon.0");
	snprintf(c->tcp_addr, sizeof(c->tcp_addr), "0.0.0.0");
	c->max_clients = 16;
	c->request_timeout_s = 10;
	c->idle_timeout_s = CONFIG_IDLE_TIMEOUT_S;
	c->request_rate = CONFIG_REQUEST_RATE;
	c->vsock_allow = (struct cid_acl){ .n = 1, .cid = { ACL_CID_HOST } };
	snprintf(c->user, sizeof(c->user), "%s", CONFIG_DEFAULT_USER);
	policy_defaults(&c->policy);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool is_off(const char *v)
{
	return !strcasecmp(v, "off") || !strcasecmp(v, "no") || !strcasecmp(v, "none") ||
	       !strcasecmp(v, "false") || !strcmp(v, "0") || !*v;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcasecmp(v, "true") ||
	    !strcmp(v, "1")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(v, "no") || !strcasecmp(v, "off") || !strcasecmp(v, "false") ||
	    !strcmp(v, "0")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

/* Decimal in [min, max], nothing else on the value. */
static int parse_uint(const char *v, unsigned long long min, unsigned long long max,
		      unsigned long long *out)
{
	unsigned long long x;
	char *end;

	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || x < min || x > max)
		return -EINVAL;
	*out = x;
	return 0;
}

static int parse_trigger(const char *v, struct psi_trigger *t)
{
	char kind[8];
	unsigned long long stall, window;
	char extra;

	if (is_off(v)) {
		memset(t, 0, sizeof(*t));
		return 0;
	}
	if (sscanf(v, "%7s %llu %llu %c", kind, &stall, &window, &extra) != 3)
		return -EINVAL;
	if (strcmp(kind, "some") && strcmp(kind, "full"))
		return -EINVAL;
	/* the kernel's limits: window 500 ms .. 10 s, stall within the window */
	if (window < 500000 || window > 10000000 || stall == 0 || stall > window)
		return -EINVAL;
	t->enabled = true;
	t->full = !strcmp(kind, "full");
	t->stall_us = (unsigned int)stall;
	t->window_us = (unsigned int)window;
	return 0;
}

int psi_trigger_format(const struct psi_trigger *t, char *buf, size_t len)
{
	if (!t->enabled)
		return snprintf(buf, len, "off");
	return snprintf(buf, len, "%s %u %u", t->full ? "full" : "some", t->stall_us,
			t->window_us);
}

/*
 * "ADDR:PORT" or "[V6ADDR]:PORT" or off.  A bare port is refused (1): it
 * used to mean every interface, which exposes the guest's statistics to
 * whoever can reach it; the address is now always written out.
 */
static int parse_tcp(const char *v, struct config *c)
{
	const char *colon = strrchr(v, ':');
	unsigned long long port;
	struct in6_addr a6;
	struct in_addr a4;
	char addr[64];

	if (is_off(v)) {
		c->tcp_port = 0;
		memset(c->tcp_addr, 0, sizeof(c->tcp_addr));
		snprintf(c->tcp_addr, sizeof(c->tcp_addr), "0.0.0.0");
		return 0;
	}
	if (!colon)
		return parse_uint(v, 1, 65535, &port) ? -EINVAL : 1;
	if (parse_uint(colon + 1, 1, 65535, &port))
		return -EINVAL;
	if ((size_t)(colon - v) >= sizeof(addr) || colon == v)
		return -EINVAL;
	memcpy(addr, v, (size_t)(colon - v));
	addr[colon - v] = '\0';
	if (addr[0] == '[') {
		size_t n = strlen(addr);

		if (n < 3 || addr[n - 1] != ']')
			return -EINVAL;
		memmove(addr, addr + 1, n - 2);
		addr[n - 2] = '\0';
		if (inet_pton(AF_INET6, addr, &a6) != 1)
			return -EINVAL;
	} else if (inet_pton(AF_INET, addr, &a4) != 1) {
		return -EINVAL;	/* IPv6 needs its brackets */
	}
	memset(c->tcp_addr, 0, sizeof(c->tcp_addr));
	snprintf(c->tcp_addr, sizeof(c->tcp_addr), "%s", addr);
	c->tcp_port = (unsigned int)port;
	return 0;
}

/* "N" MiB or "N%" of the device's RAM, or off. */
static int parse_floor(const char *v, struct policy_config *pc)
{
	unsigned long long x;
	size_t n = strlen(v);
	char num[32];

	if (is_off(v)) {
		pc->floor_pages = 0;
		pc->floor_percent = 0;
		return 0;
	}
	if (n && n < sizeof(num) && v[n - 1] == '%') {
		memcpy(num, v, n - 1);
		num[n - 1] = '\0';
		if (parse_uint(num, 1, 100, &x))
			return -EINVAL;
		pc->floor_percent = (unsigned int)x;
		pc->floor_pages = 0;
		return 0;
	}
	if (parse_uint(v, 1, UINT64_MAX / MB_PAGES_PER_MIB, &x))
		return -EINVAL;
	pc->floor_pages = x * MB_PAGES_PER_MIB;
	pc->floor_percent = 0;
	return 0;
}

static bool valid_port_name(const char *v)
{
	/* virtio-serial names are short printable tokens ("org.qemu.guest_agent.0") */
	if (strlen(v) >= 128)
		return false;
	for (; *v; v++)
		if (*v <= ' ' || *v > '~' || *v == '/')
			return false;
	return true;
}

/* A POSIX-portable user name, as useradd and systemd-sysusers accept it. */
static bool valid_user_name(const char *v)
{
	size_t n = strlen(v);

	if (!n || n > 31 || *v == '-' || (*v >= '0' && *v <= '9'))
		return false;
	for (; *v; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		      (*v >= '0' && *v <= '9') || *v == '_' || *v == '-' || *v == '.'))
			return false;
	return true;
}

int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
	unsigned long long x;

	if (!strcmp(key, "log_level")) {
		int l = log_level_from_name(value);

		if (l < 0)
			return fail(err, errlen, "log_level: expected error, warning, notice, info or debug");
		c->log_level = l;
	} else if (!strcmp(key, "sample_interval")) {
		if (parse_uint(value, 1, 3600, &x))
			return fail(err, errlen, "sample_interval: expected 1..3600 seconds");
		c->sample_interval_s = (unsigned int)x;
	} else if (!strcmp(key, "psi_trigger")) {
		if (parse_trigger(value, &c->trigger))
			return fail(err, errlen, "psi_trigger: expected \"some|full STALL_US WINDOW_US\" "
				    "(window 500000..10000000) or off");
	} else if (!strcmp(key, "serial_port")) {
		if (is_off(value)) {
			memset(c->serial_port, 0, sizeof(c->serial_port));
		} else {
			if (!valid_port_name(value))
				return fail(err, errlen, "serial_port: not a port name");
			memset(c->serial_port, 0, sizeof(c->serial_port));
			snprintf(c->serial_port, sizeof(c->serial_port), "%s", value);
		}
	} else if (!strcmp(key, "tcp")) {
		int rc = parse_tcp(value, c);

		if (rc > 0)
			return fail(err, errlen, "tcp: a bare port is refused, name the address to "
				    "listen on: 0.0.0.0:%s (every IPv4 interface), [::]:%s, or the "
				    "guest's own address", value, value);
		if (rc)
			return fail(err, errlen, "tcp: expected ADDRESS:PORT, [IPV6-ADDRESS]:PORT or off");
	} else if (!strcmp(key, "vsock")) {
		if (is_off(value))
			c->vsock_port = 0;
		else if (parse_uint(value, 1, UINT32_MAX - 1, &x))
			return fail(err, errlen, "vsock: expected a port number or off");
		else
			c->vsock_port = (unsigned int)x;
	} else if (!strcmp(key, "max_clients")) {
		if (parse_uint(value, 1, 1024, &x))
			return fail(err, errlen, "max_clients: expected 1..1024");
		c->max_clients = (unsigned int)x;
	} else if (!strcmp(key, "request_timeout")) {
		if (parse_uint(value, 1, 3600, &x))
			return fail(err, errlen, "request_timeout: expected 1..3600 seconds");
		c->request_timeout_s = (unsigned int)x;
	} else if (!strcmp(key, "idle_timeout")) {
		if (is_off(value))
			c->idle_timeout_s = 0;
		else if (parse_uint(value, 1, 86400, &x))
			return fail(err, errlen, "idle_timeout: expected 0..86400 seconds (0: off)");
		else
			c->idle_timeout_s = (unsigned int)x;
	} else if (!strcmp(key, "request_rate")) {
		if (parse_uint(value, 1, 1000, &x))
			return fail(err, errlen, "request_rate: expected 1..1000 requests per second");
		c->request_rate = (unsigned int)x;
	} else if (!strcmp(key, "tcp_allow")) {
		if (acl_parse_ip(value, &c->tcp_allow))
			return fail(err, errlen, "tcp_allow: expected any, or up to %d of "
				    "ADDRESS[/BITS] (IPv4 or IPv6)", ACL_MAX);
	} else if (!strcmp(key, "vsock_allow")) {
		if (acl_parse_cid(value, &c->vsock_allow))
			return fail(err, errlen, "vsock_allow: expected any, or up to %d CIDs "
				    "(2 is the host)", ACL_MAX);
	} else if (!strcmp(key, "user")) {
		if (!valid_user_name(value))
			return fail(err, errlen, "user: expected a user name");
		memset(c->user, 0, sizeof(c->user));
		snprintf(c->user, sizeof(c->user), "%s", value);
	} else if (!strcmp(key, "release_on_pressure")) {
		if (parse_bool(value, &c->policy.release_enabled))
			return fail(err, errlen, "release_on_pressure: expected yes or no");
	} else if (!strcmp(key, "release_full_avg10")) {
		char *end;
		double d;

		errno = 0;
		d = strtod(value, &end);
		/* PSI averages have two decimals */
		if (!errno && end != value && !*end && isfinite(d))
			d = round(d * 100) / 100;
		if (errno || end == value || *end || !(d > 0 && d <= 100))
			return fail(err, errlen, "release_full_avg10: expected a percentage in "
				    "(0, 100], two decimals");
		c->policy.release_full_avg10 = d;
	} else if (!strcmp(key, "release_hold")) {
		if (parse_uint(value, 0, 3600, &x))
			return fail(err, errlen, "release_hold: expected 0..3600 seconds");
		c->policy.release_hold_s = (unsigned int)x;
	} else if (!strcmp(key, "release_mib")) {
		if (parse_uint(value, 1, UINT32_MAX / MB_PAGES_PER_MIB, &x))
			return fail(err, errlen, "release_mib: expected 1..%u", UINT32_MAX / MB_PAGES_PER_MIB);
		c->policy.release_pages = x * MB_PAGES_PER_MIB;
	} else if (!strcmp(key, "release_interval")) {
		if (parse_uint(value, 1, 86400, &x))
			return fail(err, errlen, "release_interval: expected 1..86400 seconds");
		c->policy.release_interval_s = (unsigned int)x;
	} else if (!strcmp(key, "inflate_floor")) {
		if (parse_floor(value, &c->policy))
			return fail(err, errlen, "inflate_floor: expected MiB, N%% of RAM, or off");
	} else {
		return fail(err, errlen, "unknown key '%.64s'", key);
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int config_parse(FILE *f, struct config *c, char *err, size_t errlen)
{
	char *line = NULL, msg[256];
	size_t size = 0;
	unsigned int lineno = 0;
	ssize_t len;
	int rc = 0;

	while ((len = getline(&line, &size, f)) >= 0) {
		char *s, *eq, *key, *value;

		lineno++;
		if (len > 1024) {
			rc = fail(err, errlen, "line %u: too long", lineno);
			break;
		}
		if (strlen(line) != (size_t)len) {
			rc = fail(err, errlen, "line %u: NUL byte", lineno);
			break;
		}
		s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			rc = fail(err, errlen, "line %u: expected key = value", lineno);
			break;
		}
		*eq = '\0';
		key = trim(s);
		value = trim(eq + 1);
		if (!*key) {
			rc = fail(err, errlen, "line %u: expected key = value", lineno);
			break;
		}
		if (config_set(c, key, value, msg, sizeof(msg))) {
			rc = fail(err, errlen, "line %u: %s", lineno, msg);
			break;
		}
	}
	if (!rc && ferror(f))
		rc = fail(err, errlen, "read error");
	free(line);
	return rc;
}

int config_load(const char *path, bool must_exist, struct config *c, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char msg[300];
	int rc;

	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	}
	rc = config_parse(f, c, msg, sizeof(msg));
	fclose(f);
	if (rc)
		return fail(err, errlen, "%s: %s", path, msg);
	return 0;
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE: return "notice";
	case LOG_DEBUG: return "debug";
	default: return "info";
	}
}

void config_write(const struct config *c, FILE *f)
{
	const struct policy_config *p = &c->policy;
	char trig[64], acl[ACL_MAX * 48];

	psi_trigger_format(&c->trigger, trig, sizeof(trig));
	fprintf(f, "log_level = %s\n", level_name(c->log_level));
	fprintf(f, "sample_interval = %u\n", c->sample_interval_s);
	fprintf(f, "psi_trigger = %s\n", trig);
	fprintf(f, "serial_port = %s\n", c->serial_port[0] ? c->serial_port : "off");
	if (!c->tcp_port)
		fprintf(f, "tcp = off\n");
	else if (strchr(c->tcp_addr, ':'))
		fprintf(f, "tcp = [%s]:%u\n", c->tcp_addr, c->tcp_port);
	else
		fprintf(f, "tcp = %s:%u\n", c->tcp_addr, c->tcp_port);
	if (c->vsock_port)
		fprintf(f, "vsock = %u\n", c->vsock_port);
	else
		fprintf(f, "vsock = off\n");
	fprintf(f, "max_clients = %u\n", c->max_clients);
	fprintf(f, "request_timeout = %u\n", c->request_timeout_s);
	fprintf(f, "idle_timeout = %u\n", c->idle_timeout_s);
	fprintf(f, "request_rate = %u\n", c->request_rate);
	acl_format_ip(&c->tcp_allow, acl, sizeof(acl));
	fprintf(f, "tcp_allow = %s\n", acl);
	acl_format_cid(&c->vsock_allow, acl, sizeof(acl));
	fprintf(f, "vsock_allow = %s\n", acl);
	fprintf(f, "user = %s\n", c->user);
	fprintf(f, "release_on_pressure = %s\n", p->release_enabled ? "yes" : "no");
	fprintf(f, "release_full_avg10 = %.2f\n", p->release_full_avg10);
	fprintf(f, "release_hold = %u\n", p->release_hold_s);
	fprintf(f, "release_mib = %llu\n", (unsigned long long)(p->release_pages / MB_PAGES_PER_MIB));
	fprintf(f, "release_interval = %u\n", p->release_interval_s);
	if (p->floor_pages)
		fprintf(f, "inflate_floor = %llu\n",
			(unsigned long long)(p->floor_pages / MB_PAGES_PER_MIB));
	else if (p->floor_percent)
		fprintf(f, "inflate_floor = %u%%\n", p->floor_percent);
	else
		fprintf(f, "inflate_floor = off\n");
}
