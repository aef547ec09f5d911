/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/memballoon.yaml */
/* YNL-GEN kernel header */
/* YNL-ARG --function-prefix mb-nl */
/* To regenerate run: make netlink */

#ifndef _LINUX_MEMBALLOON_GEN_H
#define _LINUX_MEMBALLOON_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/memballoon.h>

extern const struct nla_policy memballoon_dev_get_nl_policy[MEMBALLOON_A_DEV_ID + 1];

extern const struct nla_policy memballoon_dev_set_nl_policy[MEMBALLOON_A_DEV_FLOOR_PAGES + 1];

extern const struct nla_policy memballoon_dev_release_nl_policy[MEMBALLOON_A_DEV_RELEASE_PAGES + 1];

/* Ops table for memballoon */
extern const struct genl_ops memballoon_nl_ops[3];

int mb_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info);
int mb_nl_dev_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int mb_nl_dev_set_doit(struct sk_buff *skb, struct genl_info *info);
int mb_nl_dev_release_doit(struct sk_buff *skb, struct genl_info *info);

enum {
	MEMBALLOON_NLGRP_EVENTS,
};

#endif /* _LINUX_MEMBALLOON_GEN_H */
