// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/memballoon.yaml */
/* YNL-GEN kernel source */
/* YNL-ARG --function-prefix mb-nl */
/* To regenerate run: make netlink */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "netlink-gen.h"

#include <uapi/linux/memballoon.h>

/* MEMBALLOON_CMD_DEV_GET - do */
const struct nla_policy memballoon_dev_get_nl_policy[MEMBALLOON_A_DEV_ID + 1] = {
	[MEMBALLOON_A_DEV_ID] = { .type = NLA_U32, },
};

/* MEMBALLOON_CMD_DEV_SET - do */
const struct nla_policy memballoon_dev_set_nl_policy[MEMBALLOON_A_DEV_FLOOR_PAGES + 1] = {
	[MEMBALLOON_A_DEV_ID] = { .type = NLA_U32, },
	[MEMBALLOON_A_DEV_FLOOR_PAGES] = { .type = NLA_U64, },
};

/* MEMBALLOON_CMD_DEV_RELEASE - do */
const struct nla_policy memballoon_dev_release_nl_policy[MEMBALLOON_A_DEV_RELEASE_PAGES + 1] = {
	[MEMBALLOON_A_DEV_ID] = { .type = NLA_U32, },
	[MEMBALLOON_A_DEV_RELEASE_PAGES] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* Ops table for memballoon */
const struct genl_ops memballoon_nl_ops[3] = {
	{
		.cmd		= MEMBALLOON_CMD_DEV_GET,
		.doit		= mb_nl_dev_get_doit,
		.dumpit		= mb_nl_dev_get_dumpit,
		.policy		= memballoon_dev_get_nl_policy,
		.maxattr	= MEMBALLOON_A_DEV_ID,
	},
	{
		.cmd		= MEMBALLOON_CMD_DEV_SET,
		.doit		= mb_nl_dev_set_doit,
		.policy		= memballoon_dev_set_nl_policy,
		.maxattr	= MEMBALLOON_A_DEV_FLOOR_PAGES,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= MEMBALLOON_CMD_DEV_RELEASE,
		.doit		= mb_nl_dev_release_doit,
		.policy		= memballoon_dev_release_nl_policy,
		.maxattr	= MEMBALLOON_A_DEV_RELEASE_PAGES,
		.flags		= GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group memballoon_nl_mcgrps[] = {
	[MEMBALLOON_NLGRP_EVENTS] = { "events", },
};
