/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who may connect to the host channels: IPv4/IPv6 prefixes for TCP
 * (tcp_allow) and context IDs for AF_VSOCK (vsock_allow), checked when a
 * connection is accepted (and again for every open one on reload).
 */
#ifndef MB_ACL_H
#define MB_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#define ACL_MAX 16
#define ACL_CID_HOST 2		/* VMADDR_CID_HOST: the hypervisor's host */

struct cidr {
	int family;			/* AF_INET or AF_INET6 */
	unsigned int prefix;		/* leading bits that must match */
	uint8_t addr[16];		/* network byte order; AF_INET uses 4 */
};

struct ip_acl {
	unsigned int n;			/* 0: every address */
	struct cidr net[ACL_MAX];
};

struct cid_acl {
	unsigned int n;			/* 0: every CID */
	uint32_t cid[ACL_MAX];
};

/* "any", or up to ACL_MAX of ADDR[/BITS] separated by blanks or commas: 0 or -EINVAL. */
int acl_parse_ip(const char *v, struct ip_acl *a);
/* "any", or up to ACL_MAX CIDs: 0 or -EINVAL. */
int acl_parse_cid(const char *v, struct cid_acl *a);
/* An IPv4 peer also matches an IPv4 prefix when it arrives IPv4-mapped (::ffff:a.b.c.d). */
bool acl_allows_ip(const struct ip_acl *a, const struct sockaddr *sa);
bool acl_allows_cid(const struct cid_acl *a, uint32_t cid);
/* The value in the file's syntax ("any", "10.0.0.0/8 fd00::/8", "2 3"). */
void acl_format_ip(const struct ip_acl *a, char *buf, size_t len);
void acl_format_cid(const struct cid_acl *a, char *buf, size_t len);

#endif
