// SPDX-License-Identifier: GPL-2.0
/* Netlink messages built and parsed with libnl, no kernel involved. */
#include <errno.h>

#include <linux/genetlink.h>
#include <netlink/genl/genl.h>

#include "unit.h"
#include "linux/memballoon.h"
#include "mbnl.h"

#define FAMILY 0x1234

static struct genlmsghdr *ghdr(struct nl_msg *m)
{
	return nlmsg_data(nlmsg_hdr(m));
}

static struct nlattr *attr(struct nl_msg *m, int type)
{
	return nlmsg_find_attr(nlmsg_hdr(m), GENL_HDRLEN, type);
}

/* An empty DEV_NTF for the parser tests to fill. */
static struct nl_msg *ntf(void)
{
	struct nl_msg *m = nlmsg_alloc();

	assert_non_null(m);
	genlmsg_put(m, 0, 0, FAMILY, 0, 0, MEMBALLOON_CMD_DEV_NTF, 1);
	return m;
}

static void build_get(void **state)
{
	struct nl_msg *m;

	(void)state;
	m = mbnl_msg_get(FAMILY, true, 0);
	assert_non_null(m);
	assert_int_equal(nlmsg_hdr(m)->nlmsg_type, FAMILY);
	assert_true(nlmsg_hdr(m)->nlmsg_flags & NLM_F_DUMP);
	assert_int_equal(ghdr(m)->cmd, MEMBALLOON_CMD_DEV_GET);
	assert_int_equal(ghdr(m)->version, MEMBALLOON_FAMILY_VERSION);
	assert_null(attr(m, MEMBALLOON_A_DEV_ID));
	nlmsg_free(m);
	m = mbnl_msg_get(FAMILY, false, 7);
	assert_false(nlmsg_hdr(m)->nlmsg_flags & NLM_F_DUMP);
	assert_true(nlmsg_hdr(m)->nlmsg_flags & NLM_F_ACK);
	assert_int_equal(nla_get_u32(attr(m, MEMBALLOON_A_DEV_ID)), 7);
	nlmsg_free(m);
}

static void build_admin(void **state)
{
	struct nl_msg *m;

	(void)state;
	m = mbnl_msg_set_floor(FAMILY, 3, 0x123456789ull);
	assert_int_equal(ghdr(m)->cmd, MEMBALLOON_CMD_DEV_SET);
	assert_true(nlmsg_hdr(m)->nlmsg_flags & NLM_F_ACK);
	assert_int_equal(nla_get_u32(attr(m, MEMBALLOON_A_DEV_ID)), 3);
	assert_true(nla_get_u64(attr(m, MEMBALLOON_A_DEV_FLOOR_PAGES)) == 0x123456789ull);
	/* the kernel's strict policy would refuse a PAD attribute in a request */
	assert_null(attr(m, MEMBALLOON_A_DEV_PAD));
	nlmsg_free(m);
	m = mbnl_msg_release(FAMILY, 3, 65536);
	assert_int_equal(ghdr(m)->cmd, MEMBALLOON_CMD_DEV_RELEASE);
	assert_int_equal(nla_get_u32(attr(m, MEMBALLOON_A_DEV_RELEASE_PAGES)), 65536);
	nlmsg_free(m);
}

/* A DEV_NTF as the kernel builds it, u64s padded with MEMBALLOON_A_DEV_PAD. */
static struct nl_msg *kernel_ntf(void)
{
	struct nl_msg *m = ntf();
	uint64_t vals[][2] = {
		{ MEMBALLOON_A_DEV_FEATURES, 0x100000026ull },
		{ MEMBALLOON_A_DEV_RAM_PAGES, 524288 },
		{ MEMBALLOON_A_DEV_FLOOR_PAGES, 131072 },
		{ MEMBALLOON_A_DEV_RESERVE_PAGES, 16384 },
		{ MEMBALLOON_A_DEV_INFLATED, 1000 },
		{ MEMBALLOON_A_DEV_DEFLATED, 900 },
		{ MEMBALLOON_A_DEV_ALLOC_FAILURES, 2 },
		{ MEMBALLOON_A_DEV_OOM_DEFLATES, 3 },
		{ MEMBALLOON_A_DEV_OOM_PAGES, 4 },
		{ MEMBALLOON_A_DEV_REPORTED_PAGES, 5 },
		{ MEMBALLOON_A_DEV_HINTED_PAGES, 6 },
		{ MEMBALLOON_A_DEV_STATS_REQUESTS, 7 },
		{ MEMBALLOON_A_DEV_MIGRATED, UINT64_MAX },
	};

	nla_put_u32(m, MEMBALLOON_A_DEV_ID, 3);
	nla_put_string(m, MEMBALLOON_A_DEV_NAME, "virtio3");
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		if ((nlmsg_hdr(m)->nlmsg_len + NLA_HDRLEN) % 8)
			nla_put(m, MEMBALLOON_A_DEV_PAD, 0, NULL);
		nla_put_u64(m, (int)vals[i][0], vals[i][1]);
	}
	nla_put_u32(m, MEMBALLOON_A_DEV_TARGET_PAGES, 262144);
	nla_put_u32(m, MEMBALLOON_A_DEV_ACTUAL_PAGES, 131072);
	nla_put_u32(m, MEMBALLOON_A_DEV_EVENT, MEMBALLOON_EVENT_TARGET_CHANGED);
	return m;
}

static void parse_ntf(void **state)
{
	struct nl_msg *m = kernel_ntf();
	struct mb_dev d;

	(void)state;
	assert_int_equal(mbnl_parse_dev(nlmsg_hdr(m), &d), 0);
	assert_int_equal(d.id, 3);
	assert_string_equal(d.name, "virtio3");
	assert_true(d.features == 0x100000026ull);
	assert_int_equal(d.ram_pages, 524288);
	assert_int_equal(d.target_pages, 262144);
	assert_int_equal(d.actual_pages, 131072);
	assert_int_equal(d.floor_pages, 131072);
	assert_int_equal(d.reserve_pages, 16384);
	assert_int_equal(d.inflated, 1000);
	assert_int_equal(d.deflated, 900);
	assert_int_equal(d.alloc_failures, 2);
	assert_int_equal(d.oom_deflates, 3);
	assert_int_equal(d.oom_pages, 4);
	assert_int_equal(d.reported_pages, 5);
	assert_int_equal(d.hinted_pages, 6);
	assert_int_equal(d.stats_requests, 7);
	assert_true(d.migrated == UINT64_MAX);
	assert_int_equal(d.event, MEMBALLOON_EVENT_TARGET_CHANGED);
	assert_true(d.have & (1ull << MEMBALLOON_A_DEV_PAD));
	assert_string_equal(mb_event_name(d.event), "target_changed");
	nlmsg_free(m);
}

/* RELEASE_PAGES: the accepted count in a DEV_RELEASE reply, the released one in RELEASED. */
static void parse_release_pages(void **state)
{
	struct nl_msg *m = kernel_ntf();
	struct mb_dev d;

	(void)state;
	assert_int_equal(mbnl_parse_dev(nlmsg_hdr(m), &d), 0);
	assert_false(mbnl_has(&d, MEMBALLOON_A_DEV_RELEASE_PAGES));
	assert_int_equal(d.release_pages, 0);
	nla_put_u32(m, MEMBALLOON_A_DEV_RELEASE_PAGES, 32768);
	assert_int_equal(mbnl_parse_dev(nlmsg_hdr(m), &d), 0);
	assert_true(mbnl_has(&d, MEMBALLOON_A_DEV_RELEASE_PAGES));
	assert_int_equal(d.release_pages, 32768);
	nlmsg_free(m);
}

/*
 * Requests against the kernel's own nlctrl family (always there): a lookup,
 * an unknown family, a request past its deadline, and that the reply it
 * left behind is not taken for the next request's.
 */
static void requests_and_deadline(void **state)
{
	struct mbnl nl;
	struct mb_dev reply;
	int id = 0, grp = 0;

	(void)state;
	assert_int_equal(mbnl_open(&nl, false), 0);
	assert_int_equal(nl.timeout_ms, MBNL_REQUEST_TIMEOUT_MS);
	assert_int_equal(mbnl_lookup(&nl, "nlctrl", "notify", &id, &grp), 0);
	assert_int_equal(id, GENL_ID_CTRL);
	assert_true(grp > 0);
	assert_int_equal(mbnl_lookup(&nl, "no-such-fam", NULL, &id, NULL), -ENOENT);
	assert_int_equal(mbnl_lookup(&nl, "nlctrl", "no-such-group", &id, &grp), -ENOENT);
	/* a deadline already past: the kernel's answer stays unread */
	nl.timeout_ms = 0;
	assert_int_equal(mbnl_lookup(&nl, "nlctrl", "notify", &id, &grp), -ETIMEDOUT);
	assert_int_equal(nl.timeouts, 1);
	assert_non_null(nl.cmd);		/* a fresh socket */
	nl.timeout_ms = MBNL_REQUEST_TIMEOUT_MS;
	id = 0;
	assert_int_equal(mbnl_lookup(&nl, "no-such-fam", NULL, &id, NULL), -ENOENT);
	assert_int_equal(id, 0);
	assert_int_equal(mbnl_lookup(&nl, "nlctrl", NULL, &id, NULL), 0);
	assert_int_equal(id, GENL_ID_CTRL);
	/* an admin reply is zeroed whatever happens (here: no such family) */
	memset(&reply, 0xa5, sizeof(reply));
	nl.family = 0;
	assert_int_equal(mbnl_release(&nl, 0, 1, &reply), -ENOENT);
	assert_int_equal(reply.have, 0);
	assert_int_equal(reply.release_pages, 0);
	nl.family = 0x7ff0;	/* an id no family has */
	memset(&reply, 0xa5, sizeof(reply));
	assert_true(mbnl_set_floor(&nl, 0, 1, &reply) < 0);
	assert_int_equal(reply.have, 0);
	mbnl_close(&nl);
}

static void parse_bad(void **state)
{
	struct nl_msg *m;
	struct mb_dev d;

	(void)state;
	/* no device id */
	m = ntf();
	nla_put_u32(m, MEMBALLOON_A_DEV_TARGET_PAGES, 1);
	assert_int_equal(mbnl_parse_dev(nlmsg_hdr(m), &d), -EINVAL);
	nlmsg_free(m);
	/* a u64 attribute that is 4 bytes long */
	m = ntf();
	nla_put_u32(m, MEMBALLOON_A_DEV_ID, 1);
	nla_put_u32(m, MEMBALLOON_A_DEV_FEATURES, 1);
	assert_int_equal(mbnl_parse_dev(nlmsg_hdr(m), &d), -EINVAL);
	nlmsg_free(m);
	/* a name without its NUL */
	m = ntf();
	nla_put_u32(m, MEMBALLOON_A_DEV_ID, 1);
	nla_put(m, MEMBALLOON_A_DEV_NAME, 3, "abc");
	assert_int_equal(mbnl_parse_dev(nlmsg_hdr(m), &d), -EINVAL);
	nlmsg_free(m);
	/* unknown attributes (a newer kernel) are fine; no name: virtioN */
	m = ntf();
	nla_put_u32(m, MEMBALLOON_A_DEV_ID, 9);
	nla_put_u32(m, MEMBALLOON_A_DEV_MAX + 5, 1);
	assert_int_equal(mbnl_parse_dev(nlmsg_hdr(m), &d), 0);
	assert_string_equal(d.name, "virtio9");
	nlmsg_free(m);
}

static void extack(void **state)
{
	struct {
		struct nlmsghdr nlh;
		struct nlmsgerr err;
		char attrs[64];
	} msg;
	struct nlattr *a = (struct nlattr *)msg.attrs;
	static const char text[] = "floor is larger than the guest's RAM";
	char buf[128];

	(void)state;
	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_type = NLMSG_ERROR;
	msg.nlh.nlmsg_flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
	msg.err.error = -ERANGE;
	msg.err.msg.nlmsg_len = 64;	/* capped: the request is not echoed */
	a->nla_type = NLMSGERR_ATTR_MSG;
	a->nla_len = (unsigned short)(NLA_HDRLEN + sizeof(text));
	memcpy(msg.attrs + NLA_HDRLEN, text, sizeof(text));
	msg.nlh.nlmsg_len = (unsigned int)(NLMSG_HDRLEN + sizeof(msg.err) + NLA_ALIGN(a->nla_len));
	mbnl_extack_msg(&msg.err, buf, sizeof(buf));
	assert_string_equal(buf, text);
	/* no TLVs: no message */
	msg.nlh.nlmsg_flags = NLM_F_CAPPED;
	mbnl_extack_msg(&msg.err, buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* a length that lies about the TLVs */
	msg.nlh.nlmsg_flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
	a->nla_len = 60000;
	mbnl_extack_msg(&msg.err, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

static void names(void **state)
{
	(void)state;
	assert_string_equal(mb_feature_name(2), "DEFLATE_ON_OOM");
	assert_string_equal(mb_feature_name(32), "VERSION_1");
	assert_null(mb_feature_name(7));
	assert_null(mb_feature_name(63));
	assert_string_equal(mb_event_name(0), "unknown");
	assert_string_equal(mb_event_name(MEMBALLOON_EVENT_TARGET_REACHED), "target_reached");
	assert_string_equal(mb_event_name(999), "unknown");
}

int run_mbnl_tests(void)
{
	const struct CMUnitTest mbnl[] = {
		cmocka_unit_test(build_get),
		cmocka_unit_test(build_admin),
		cmocka_unit_test(parse_ntf),
		cmocka_unit_test(parse_release_pages),
		cmocka_unit_test(requests_and_deadline),
		cmocka_unit_test(parse_bad),
		cmocka_unit_test(extack),
		cmocka_unit_test(names),
	};

	return RUN_GROUP(mbnl);
}
