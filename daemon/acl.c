// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl.h"

/* Split v at blanks and commas; call fn for each token (at most ACL_MAX). */
static int each_token(const char *v, int (*fn)(const char *tok, void *arg), void *arg)
{
	char tok[64];
	unsigned int n = 0;

	for (;;) {
		size_t len;

		v += strspn(v, " \t,");
		if (!*v)
			break;
		len = strcspn(v, " \t,");
		if (len >= sizeof(tok) || ++n > ACL_MAX)
			return -EINVAL;
		memcpy(tok, v, len);
		tok[len] = '\0';
		if (fn(tok, arg))
			return -EINVAL;
		v += len;
	}
	return n ? 0 : -EINVAL;
}

static int parse_bits(const char *s, unsigned int max, unsigned int *bits)
{
	char *end;
	unsigned long x;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	x = strtoul(s, &end, 10);
	if (*end || x > max)
		return -EINVAL;
	*bits = (unsigned int)x;
	return 0;
}

static int add_cidr(const char *tok, void *arg)
{
	struct ip_acl *a = arg;
	struct cidr *c = &a->net[a->n];
	char addr[64];
	const char *slash = strchr(tok, '/');
	size_t alen = slash ? (size_t)(slash - tok) : strlen(tok);

	memcpy(addr, tok, alen);
	addr[alen] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, addr, c->addr) == 1) {
		c->family = AF_INET;
		c->prefix = 32;
	} else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
		c->family = AF_INET6;
		c->prefix = 128;
	} else {
		return -EINVAL;
	}
	if (slash && parse_bits(slash + 1, c->prefix, &c->prefix))
		return -EINVAL;
	/* keep the network part only, so the canonical form prints it */
	for (unsigned int bit = c->prefix; bit < (c->family == AF_INET ? 32u : 128u); bit++)
		c->addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	a->n++;
	return 0;
}

int acl_parse_ip(const char *v, struct ip_acl *a)
{
	struct ip_acl tmp = { 0 };

	if (!strcasecmp(v, "any")) {
		memset(a, 0, sizeof(*a));
		return 0;
	}
	if (each_token(v, add_cidr, &tmp))
		return -EINVAL;
	*a = tmp;
	return 0;
}

static int add_cid(const char *tok, void *arg)
{
	struct cid_acl *a = arg;
	unsigned long long x;
	char *end;

	if (*tok < '0' || *tok > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(tok, &end, 10);
	/* VMADDR_CID_ANY (-1U) is not a peer */
	if (errno || *end || x >= UINT32_MAX)
		return -EINVAL;
	a->cid[a->n++] = (uint32_t)x;
	return 0;
}

int acl_parse_cid(const char *v, struct cid_acl *a)
{
	struct cid_acl tmp = { 0 };

	if (!strcasecmp(v, "any")) {
		memset(a, 0, sizeof(*a));
		return 0;
	}
	if (each_token(v, add_cid, &tmp))
		return -EINVAL;
	*a = tmp;
	return 0;
}

static bool prefix_match(const uint8_t *net, const uint8_t *addr, unsigned int bits)
{
	unsigned int whole = bits / 8, rest = bits % 8;

	if (memcmp(net, addr, whole))
		return false;
	if (!rest)
		return true;
	return !((net[whole] ^ addr[whole]) & (uint8_t)(0xff00u >> rest));
}

bool acl_allows_ip(const struct ip_acl *a, const struct sockaddr *sa)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *v4 = NULL, *v6 = NULL;

	if (!a->n)
		return true;
	if (sa->sa_family == AF_INET) {
		v4 = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		v6 = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		if (!memcmp(v6, v4mapped, sizeof(v4mapped)))
			v4 = v6 + 12;
	} else {
		return false;
	}
	for (unsigned int i = 0; i < a->n; i++) {
		const struct cidr *c = &a->net[i];

		if (c->family == AF_INET && v4 && prefix_match(c->addr, v4, c->prefix))
			return true;
		if (c->family == AF_INET6 && v6 && prefix_match(c->addr, v6, c->prefix))
			return true;
	}
	return false;
}

bool acl_allows_cid(const struct cid_acl *a, uint32_t cid)
{
	if (!a->n)
		return true;
	for (unsigned int i = 0; i < a->n; i++)
		if (a->cid[i] == cid)
			return true;
	return false;
}

void acl_format_ip(const struct ip_acl *a, char *buf, size_t len)
{
	size_t used = 0;

	snprintf(buf, len, "any");
	for (unsigned int i = 0; i < a->n && used < len; i++) {
		char addr[INET6_ADDRSTRLEN];

		if (!inet_ntop(a->net[i].family, a->net[i].addr, addr, sizeof(addr)))
			snprintf(addr, sizeof(addr), "?");
		used += (size_t)snprintf(buf + used, len - used, "%s%s/%u", i ? " " : "", addr,
					 a->net[i].prefix);
	}
}

void acl_format_cid(const struct cid_acl *a, char *buf, size_t len)
{
	size_t used = 0;

	snprintf(buf, len, "any");
	for (unsigned int i = 0; i < a->n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%u", i ? " " : "", a->cid[i]);
}
