// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "config.h"
#include "log.h"

#define KEY(k, t, field) .key = k, .type = t, .off = offsetof(struct config, field)

/* Every key, in the order --print-config, the man page and the example file list them. */
const struct config_key config_keys[] = {
	/* general */
	{ KEY("log_level", CONFIG_LOG_LEVEL, log_level), .def = "info",
	  .help = "error, warning, notice, info or debug" },
	{ KEY("sample_interval", CONFIG_UINT, sample_interval_s), .min = 1, .max = 3600,
	  .unit = "seconds", .def = "5",
	  .help = "seconds between samples of PSI, vmstat, meminfo and the balloons" },
	{ KEY("psi_trigger", CONFIG_TRIGGER, trigger), .def = "some 150000 1000000",
	  .help = "PSI trigger for pressure events: \"some|full STALL_US WINDOW_US\" or off" },
	/* host channels */
	{ KEY("serial_port", CONFIG_PORT_NAME, serial_port), .def = "org.memballoon.0",
	  .help = "name of the virtio-serial port to serve, or off" },
	{ KEY("tcp", CONFIG_TCP, tcp_port), .def = "off",
	  .help = "TCP listener: ADDRESS:PORT, [IPV6-ADDRESS]:PORT or off" },
	{ KEY("tcp_allow", CONFIG_IP_ACL, tcp_allow), .def = "any",
	  .help = "peers TCP accepts: any, or ADDRESS[/BITS] ..." },
	{ KEY("vsock", CONFIG_UINT_OFF, vsock_port), .min = 1, .max = UINT32_MAX - 1,
	  .def = "off", .help = "AF_VSOCK listener port, or off" },
	{ KEY("vsock_allow", CONFIG_CID_ACL, vsock_allow), .def = "2",
	  .help = "peer CIDs vsock accepts (2: the host), or any" },
	{ KEY("max_clients", CONFIG_UINT, max_clients), .min = 1, .max = 1024, .def = "16",
	  .help = "connections at once on each of TCP and vsock" },
	{ KEY("request_timeout", CONFIG_UINT, request_timeout_s), .min = 1, .max = 3600,
	  .unit = "seconds", .def = "10",
	  .help = "seconds a started request line may take to complete" },
	{ KEY("idle_timeout", CONFIG_UINT_OFF, idle_timeout_s), .min = 1, .max = 86400,
	  .unit = "seconds", .def = "60",
	  .help = "seconds without a line before a connection is closed, or off" },
	{ KEY("request_rate", CONFIG_UINT, request_rate), .min = 1, .max = 1000,
	  .unit = "requests per second", .def = "20",
	  .help = "request lines per second per connection, as many in a burst" },
	/* guard rails */
	{ KEY("release_on_pressure", CONFIG_BOOL, policy.release_enabled), .def = "no",
	  .help = "release balloon pages under sustained full memory pressure" },
	{ KEY("release_full_avg10", CONFIG_PERCENT, policy.release_full_avg10), .max = 100,
	  .def = "10", .help = "PSI full avg10 (percent) that counts as sustained pressure" },
	{ KEY("release_hold", CONFIG_UINT, policy.release_hold_s), .min = 0, .max = 3600,
	  .unit = "seconds", .def = "10",
	  .help = "seconds the pressure must last before a release" },
	{ KEY("release_mib", CONFIG_MIB, policy.release_pages), .min = 1,
	  .max = UINT32_MAX / MB_PAGES_PER_MIB, .unit = "MiB", .def = "256",
	  .help = "MiB released from each device at a time" },
	{ KEY("release_interval", CONFIG_UINT, policy.release_interval_s), .min = 1,
	  .max = 86400, .unit = "seconds", .def = "30",
	  .help = "seconds between two releases" },
	{ KEY("inflate_floor", CONFIG_FLOOR, policy), .def = "off",
	  .help = "guest size no balloon inflates below: MiB, N% of RAM, or off" },
	/* privileges */
	{ KEY("user", CONFIG_USER, user), .def = "memballoon",
	  .help = "the user memballoond runs as when started as root" },
};

const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);

const struct config_key *config_key(const char *key)
{
	for (size_t i = 0; i < config_nkeys; i++)
		if (!strcmp(config_keys[i].key, key))
			return &config_keys[i];
	return NULL;
}

static void *field(struct config *c, const struct config_key *k)
{
	return (char *)c + k->off;
}

static const void *cfield(const struct config *c, const struct config_key *k)
{
	return (const char *)c + k->off;
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

int parse_decimal(const char *v, unsigned long long min, unsigned long long max,
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
 * "ADDR:PORT" or "[V6ADDR]:PORT" or off.  A bare port is refused (1): the
 * address is always written out, so no one exposes the guest's statistics
 * on every interface without saying so.
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
		return parse_decimal(v, 1, 65535, &port) ? -EINVAL : 1;
	if (parse_decimal(colon + 1, 1, 65535, &port))
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
		if (parse_decimal(num, 1, 100, &x))
			return -EINVAL;
		pc->floor_percent = (unsigned int)x;
		pc->floor_pages = 0;
		return 0;
	}
	if (parse_decimal(v, 1, UINT64_MAX / MB_PAGES_PER_MIB, &x))
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

/* PSI averages have two decimals: "12.5" and "12.50" are the same value. */
static int parse_percent(const char *v, double max, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(d))
		return -EINVAL;
	d = round(d * 100) / 100;
	if (!(d > 0 && d <= max))
		return -EINVAL;
	*out = d;
	return 0;
}

/* "12.5" rather than "12.50": the shortest text that parses back to the value. */
static void format_percent(double d, char *buf, size_t len)
{
	size_t n;

	snprintf(buf, len, "%.2f", d);
	n = strlen(buf);
	while (n && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n && buf[n - 1] == '.')
		buf[--n] = '\0';
}

static void set_string(char *dst, size_t size, const char *v)
{
	/* zero the rest: configurations are compared with memcmp */
	memset(dst, 0, size);
	snprintf(dst, size, "%s", v);
}

/* What an error says the key expects. */
static void expected(const struct config_key *k, char *buf, size_t len)
{
	const char *unit = k->unit ? k->unit : "";
	const char *sp = k->unit ? " " : "";

	switch (k->type) {
	case CONFIG_LOG_LEVEL:
		snprintf(buf, len, "error, warning, notice, info or debug");
		break;
	case CONFIG_UINT:
	case CONFIG_MIB:
		snprintf(buf, len, "%llu..%llu%s%s", k->min, k->max, sp, unit);
		break;
	case CONFIG_UINT_OFF:
		snprintf(buf, len, "%llu..%llu%s%s, or off", k->min, k->max, sp, unit);
		break;
	case CONFIG_BOOL:
		snprintf(buf, len, "yes or no");
		break;
	case CONFIG_PERCENT:
		snprintf(buf, len, "a percentage in (0, %llu], two decimals", k->max);
		break;
	case CONFIG_TRIGGER:
		snprintf(buf, len, "\"some|full STALL_US WINDOW_US\" (window 500000..10000000) "
			 "or off");
		break;
	case CONFIG_PORT_NAME:
		snprintf(buf, len, "a virtio-serial port name or off");
		break;
	case CONFIG_TCP:
		snprintf(buf, len, "ADDRESS:PORT, [IPV6-ADDRESS]:PORT or off");
		break;
	case CONFIG_IP_ACL:
		snprintf(buf, len, "any, or up to %d of ADDRESS[/BITS] (IPv4 or IPv6)", ACL_MAX);
		break;
	case CONFIG_CID_ACL:
		snprintf(buf, len, "any, or up to %d CIDs (2 is the host)", ACL_MAX);
		break;
	case CONFIG_USER:
		snprintf(buf, len, "a user name");
		break;
	case CONFIG_FLOOR:
		snprintf(buf, len, "MiB, N%% of RAM, or off");
		break;
	}
}

/* 0, -EINVAL, or 1 for a bare TCP port (an error with a message of its own). */
static int parse_value(struct config *c, const struct config_key *k, const char *v)
{
	void *p = field(c, k);
	unsigned long long x;
	int level;

	switch (k->type) {
	case CONFIG_LOG_LEVEL:
		level = log_level_from_name(v);
		if (level < 0)
			return -EINVAL;
		*(int *)p = level;
		return 0;
	case CONFIG_UINT_OFF:
		if (is_off(v)) {
			*(unsigned int *)p = 0;
			return 0;
		}
		/* fall through */
	case CONFIG_UINT:
		if (parse_decimal(v, k->min, k->max, &x))
			return -EINVAL;
		*(unsigned int *)p = (unsigned int)x;
		return 0;
	case CONFIG_BOOL:
		return parse_bool(v, p);
	case CONFIG_PERCENT:
		return parse_percent(v, (double)k->max, p);
	case CONFIG_MIB:
		if (parse_decimal(v, k->min, k->max, &x))
			return -EINVAL;
		*(uint64_t *)p = x * MB_PAGES_PER_MIB;
		return 0;
	case CONFIG_TRIGGER:
		return parse_trigger(v, p);
	case CONFIG_PORT_NAME:
		if (!is_off(v) && !valid_port_name(v))
			return -EINVAL;
		set_string(p, sizeof(c->serial_port), is_off(v) ? "" : v);
		return 0;
	case CONFIG_TCP:
		return parse_tcp(v, c);
	case CONFIG_IP_ACL:
		return acl_parse_ip(v, p);
	case CONFIG_CID_ACL:
		return acl_parse_cid(v, p);
	case CONFIG_USER:
		if (!valid_user_name(v))
			return -EINVAL;
		set_string(p, sizeof(c->user), v);
		return 0;
	case CONFIG_FLOOR:
		return parse_floor(v, p);
	}
	return -EINVAL;
}

int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
	const struct config_key *k = config_key(key);
	char want[128];
	int rc;

	if (!k)
		return fail(err, errlen, "unknown key '%.64s'", key);
	rc = parse_value(c, k, value);
	if (rc > 0)
		return fail(err, errlen, "tcp: a bare port is refused, name the address to "
			    "listen on: 0.0.0.0:%s (every IPv4 interface), [::]:%s, or the "
			    "guest's own address", value, value);
	if (rc) {
		expected(k, want, sizeof(want));
		return fail(err, errlen, "%s: expected %s", k->key, want);
	}
	return 0;
}

void config_defaults(struct config *c)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	/* the table's defaults are checked by the unit tests: they always parse */
	for (size_t i = 0; i < config_nkeys; i++)
		if (config_set(c, config_keys[i].key, config_keys[i].def, err, sizeof(err)))
			abort();
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

static int cmp_paths(const void *a, const void *b)
{
	/* one directory: comparing the paths compares the names */
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dropin(const char *dir, const char *name, char **path)
{
	size_t n = strlen(name);
	struct stat st;

	*path = NULL;
	if (name[0] == '.' || n <= 5 || strcmp(name + n - 5, ".conf"))
		return false;
	if (asprintf(path, "%s/%s", dir, name) < 0) {
		*path = NULL;
		return false;
	}
	/* a link to /dev/null masks a drop-in, as with systemd */
	if (stat(*path, &st) == 0 && S_ISREG(st.st_mode))
		return true;
	free(*path);
	*path = NULL;
	return false;
}

int config_dropins(const char *path, char ***paths, size_t *n)
{
	char *dir = NULL, **v = NULL, *p;
	size_t cap = 0;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	*paths = NULL;
	*n = 0;
	if (asprintf(&dir, "%s%s", path, CONFIG_DROPIN_SUFFIX) < 0)
		return -ENOMEM;
	d = opendir(dir);
	if (!d) {
		rc = errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
		free(dir);
		return rc;
	}
	while ((e = readdir(d))) {
		if (!is_dropin(dir, e->d_name, &p))
			continue;
		if (*n == cap) {
			char **nv = realloc(v, (cap ? cap * 2 : 8) * sizeof(*v));

			if (!nv) {
				free(p);
				rc = -ENOMEM;
				break;
			}
			v = nv;
			cap = cap ? cap * 2 : 8;
		}
		v[(*n)++] = p;
	}
	closedir(d);
	free(dir);
	if (rc) {
		config_free_paths(v, *n);
		*n = 0;
		return rc;
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_paths);
	*paths = v;
	return 0;
}

void config_free_paths(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

int config_load_all(const char *path, bool must_exist, struct config *c, char *err,
		    size_t errlen)
{
	char **dropins;
	size_t n;
	int rc;

	rc = config_load(path, must_exist, c, err, errlen);
	if (rc)
		return rc;
	rc = config_dropins(path, &dropins, &n);
	if (rc)
		return fail(err, errlen, "%s%s: %s", path, CONFIG_DROPIN_SUFFIX, strerror(-rc));
	for (size_t i = 0; i < n && !rc; i++)
		rc = config_load(dropins[i], true, c, err, errlen);
	config_free_paths(dropins, n);
	return rc;
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

void config_format(const struct config *c, const struct config_key *k, char *buf, size_t len)
{
	const struct policy_config *pc = cfield(c, k);
	const void *p = cfield(c, k);

	switch (k->type) {
	case CONFIG_LOG_LEVEL:
		snprintf(buf, len, "%s", level_name(*(const int *)p));
		break;
	case CONFIG_UINT:
		snprintf(buf, len, "%u", *(const unsigned int *)p);
		break;
	case CONFIG_UINT_OFF:
		if (*(const unsigned int *)p)
			snprintf(buf, len, "%u", *(const unsigned int *)p);
		else
			snprintf(buf, len, "off");
		break;
	case CONFIG_BOOL:
		snprintf(buf, len, "%s", *(const bool *)p ? "yes" : "no");
		break;
	case CONFIG_PERCENT:
		format_percent(*(const double *)p, buf, len);
		break;
	case CONFIG_MIB:
		snprintf(buf, len, "%llu",
			 (unsigned long long)(*(const uint64_t *)p / MB_PAGES_PER_MIB));
		break;
	case CONFIG_TRIGGER:
		psi_trigger_format(p, buf, len);
		break;
	case CONFIG_PORT_NAME:
	case CONFIG_USER:
		snprintf(buf, len, "%s", *(const char *)p ? (const char *)p : "off");
		break;
	case CONFIG_TCP:
		if (!c->tcp_port)
			snprintf(buf, len, "off");
		else if (strchr(c->tcp_addr, ':'))
			snprintf(buf, len, "[%s]:%u", c->tcp_addr, c->tcp_port);
		else
			snprintf(buf, len, "%s:%u", c->tcp_addr, c->tcp_port);
		break;
	case CONFIG_IP_ACL:
		acl_format_ip(p, buf, len);
		break;
	case CONFIG_CID_ACL:
		acl_format_cid(p, buf, len);
		break;
	case CONFIG_FLOOR:
		if (pc->floor_pages)
			snprintf(buf, len, "%llu",
				 (unsigned long long)(pc->floor_pages / MB_PAGES_PER_MIB));
		else if (pc->floor_percent)
			snprintf(buf, len, "%u%%", pc->floor_percent);
		else
			snprintf(buf, len, "off");
		break;
	}
}

void config_write(const struct config *c, FILE *f)
{
	char value[ACL_MAX * 48];

	for (size_t i = 0; i < config_nkeys; i++) {
		config_format(c, &config_keys[i], value, sizeof(value));
		fprintf(f, "%s# %s\n%s = %s\n", i ? "\n" : "", config_keys[i].help,
			config_keys[i].key, value);
	}
}
