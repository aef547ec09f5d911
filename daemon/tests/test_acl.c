// SPDX-License-Identifier: GPL-2.0
/* tcp_allow and vsock_allow: parsing, matching, the canonical form. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include "unit.h"
#include "acl.h"

static bool allows(const struct ip_acl *a, const char *addr)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, addr, &in.sin_addr) == 1)
		return acl_allows_ip(a, (struct sockaddr *)&in);
	assert_int_equal(inet_pton(AF_INET6, addr, &in6.sin6_addr), 1);
	return acl_allows_ip(a, (struct sockaddr *)&in6);
}

static void ip_prefixes(void **state)
{
	struct ip_acl a;

	(void)state;
	assert_int_equal(acl_parse_ip("any", &a), 0);
	assert_true(allows(&a, "192.0.2.1"));
	assert_true(allows(&a, "2001:db8::1"));

	assert_int_equal(acl_parse_ip("10.0.0.0/8 192.168.1.7, 2001:db8::/32 fe80::/10", &a), 0);
	assert_int_equal(a.n, 4);
	assert_true(allows(&a, "10.255.0.1"));
	assert_false(allows(&a, "11.0.0.1"));
	assert_true(allows(&a, "192.168.1.7"));
	assert_false(allows(&a, "192.168.1.8"));
	assert_true(allows(&a, "2001:db8:ffff::1"));
	assert_false(allows(&a, "2001:db9::1"));
	assert_true(allows(&a, "febf::1"));		/* /10: fe80..febf */
	assert_false(allows(&a, "fec0::1"));
	/* an IPv4 peer on a dual-stack listener arrives IPv4-mapped */
	assert_true(allows(&a, "::ffff:10.1.2.3"));
	assert_false(allows(&a, "::ffff:127.0.0.1"));
	assert_false(allows(&a, "127.0.0.1"));

	/* odd prefix lengths, host bits dropped */
	assert_int_equal(acl_parse_ip("172.16.5.4/12", &a), 0);
	assert_true(allows(&a, "172.31.255.255"));
	assert_false(allows(&a, "172.32.0.0"));
	assert_int_equal(a.net[0].addr[1], 16);
	assert_int_equal(acl_parse_ip("0.0.0.0/0", &a), 0);
	assert_true(allows(&a, "203.0.113.9"));
	assert_false(allows(&a, "2001:db8::1"));	/* an IPv4 prefix says nothing of IPv6 */
}

static void ip_errors(void **state)
{
	static const char *const bad[] = {
		"", " , ", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x",
		"host.example", "10.0.0/8", "1.2.3.4/8/8",
		"1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5 6.6.6.6 7.7.7.7 8.8.8.8 9.9.9.9 "
		"10.10.10.10 11.11.11.11 12.12.12.12 13.13.13.13 14.14.14.14 15.15.15.15 "
		"16.16.16.16 17.17.17.17",
	};
	struct ip_acl a = { .n = 1 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (acl_parse_ip(bad[i], &a) != -EINVAL)
			fail_msg("accepted: '%s'", bad[i]);
		assert_int_equal(a.n, 1);	/* unchanged on error */
	}
}

static void cids(void **state)
{
	struct cid_acl a;

	(void)state;
	assert_int_equal(acl_parse_cid("2", &a), 0);
	assert_true(acl_allows_cid(&a, 2));
	assert_false(acl_allows_cid(&a, 1));		/* the guest's own loopback */
	assert_false(acl_allows_cid(&a, 3));
	assert_int_equal(acl_parse_cid("2, 1 4294967294", &a), 0);
	assert_true(acl_allows_cid(&a, 1));
	assert_true(acl_allows_cid(&a, 4294967294u));
	assert_int_equal(acl_parse_cid("any", &a), 0);
	assert_true(acl_allows_cid(&a, 12345));
	assert_int_equal(acl_parse_cid("4294967295", &a), -EINVAL);	/* VMADDR_CID_ANY */
	assert_int_equal(acl_parse_cid("-2", &a), -EINVAL);
	assert_int_equal(acl_parse_cid("", &a), -EINVAL);
	assert_int_equal(acl_parse_cid("2 two", &a), -EINVAL);
}

static void formats(void **state)
{
	struct ip_acl a;
	struct cid_acl c;
	char buf[ACL_MAX * 48];

	(void)state;
	assert_int_equal(acl_parse_ip("10.1.2.3/8,2001:db8::5/32 ::1", &a), 0);
	acl_format_ip(&a, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.0/8 2001:db8::/32 ::1/128");
	assert_int_equal(acl_parse_ip("any", &a), 0);
	acl_format_ip(&a, buf, sizeof(buf));
	assert_string_equal(buf, "any");
	assert_int_equal(acl_parse_cid("2,3", &c), 0);
	acl_format_cid(&c, buf, sizeof(buf));
	assert_string_equal(buf, "2 3");
	assert_int_equal(acl_parse_cid("any", &c), 0);
	acl_format_cid(&c, buf, sizeof(buf));
	assert_string_equal(buf, "any");
}

int run_acl_tests(void)
{
	const struct CMUnitTest acl[] = {
		cmocka_unit_test(ip_prefixes),
		cmocka_unit_test(ip_errors),
		cmocka_unit_test(cids),
		cmocka_unit_test(formats),
	};

	return RUN_GROUP(acl);
}
