// SPDX-License-Identifier: GPL-2.0
/*
 * memballoon: the "memballoon" generic netlink family.
 *
 * DEV_GET (do by ID, or dump) reports every bound device's state and
 * counters to anyone; DEV_SET (inflation floor) and DEV_RELEASE (give pages
 * back now, only with DEFLATE_ON_OOM) need CAP_NET_ADMIN (GENL_ADMIN_PERM).
 * Every command has its own strict policy.  Notifications (DEV_NTF) go to
 * the "events" group and are only built when somebody listens.
 * The family is described by Documentation/netlink/specs/memballoon.yaml.
 */
#include <linux/list.h>
#include <linux/mutex.h>
#include <net/genetlink.h>
#include <uapi/linux/memballoon.h>

#include "memballoon.h"

/* Every bound device, for DEV_GET and lookups by ID. */
static LIST_HEAD(mb_nl_devices);
/* Protects mb_nl_devices; taken before any device's lock. */
static DEFINE_MUTEX(mb_nl_devices_lock);

static struct genl_family mb_nl_family;

static const struct nla_policy mb_nl_get_policy[MEMBALLOON_A_DEV_ID + 1] = {
	[MEMBALLOON_A_DEV_ID] = { .type = NLA_U32 },
};

static const struct nla_policy mb_nl_set_policy[MEMBALLOON_A_DEV_FLOOR_PAGES + 1] = {
	[MEMBALLOON_A_DEV_ID] = { .type = NLA_U32 },
	[MEMBALLOON_A_DEV_FLOOR_PAGES] = { .type = NLA_U64 },
};

static const struct nla_policy mb_nl_release_policy[MEMBALLOON_A_DEV_RELEASE_PAGES + 1] = {
	[MEMBALLOON_A_DEV_ID] = { .type = NLA_U32 },
	[MEMBALLOON_A_DEV_RELEASE_PAGES] = NLA_POLICY_MIN(NLA_U32, 1),
};

static int mb_nl_put_u64(struct sk_buff *skb, int attr, u64 val)
{
	return nla_put_u64_64bit(skb, attr, val, MEMBALLOON_A_DEV_PAD);
}

/* One device's state; read without its lock, each value is consistent. */
static int mb_nl_fill(struct sk_buff *skb, struct memballoon *mb, u8 cmd,
		      u32 portid, u32 seq, int flags, u32 event)
{
	const struct mb_counters *c = &mb->counters;
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &mb_nl_family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, MEMBALLOON_A_DEV_ID, mb->vdev->index) ||
	    nla_put_string(skb, MEMBALLOON_A_DEV_NAME, dev_name(&mb->vdev->dev)) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_FEATURES, mb->vdev->features) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_RAM_PAGES,
			  (u64)mb->ram_pages * MB_PFNS_PER_PAGE) ||
	    nla_put_u32(skb, MEMBALLOON_A_DEV_TARGET_PAGES,
			READ_ONCE(mb->last_target)) ||
	    nla_put_u32(skb, MEMBALLOON_A_DEV_ACTUAL_PAGES,
			READ_ONCE(mb->num_pages)) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_FLOOR_PAGES,
			  READ_ONCE(mb->floor_pages)) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_RESERVE_PAGES,
			  (u64)mb_reserve_pages(mb) * MB_PFNS_PER_PAGE) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_INFLATED, READ_ONCE(c->inflated)) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_DEFLATED, READ_ONCE(c->deflated)) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_ALLOC_FAILURES,
			  READ_ONCE(c->alloc_failures)) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_OOM_DEFLATES,
			  READ_ONCE(c->oom_deflates)) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_OOM_PAGES,
			  READ_ONCE(c->oom_pages)) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_REPORTED_PAGES,
			  READ_ONCE(c->reported)) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_HINTED_PAGES,
			  READ_ONCE(c->hinted)) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_STATS_REQUESTS,
			  READ_ONCE(c->stats_requests)) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_MIGRATED,
			  READ_ONCE(c->migrated)) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_ALLOC_NS,
			  READ_ONCE(c->alloc_ns)) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_HOST_NS,
			  READ_ONCE(c->host_ns)) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_DEFLATED_BLOCK_PAGES,
			  READ_ONCE(c->deflated_block_pages)) ||
	    (event && nla_put_u32(skb, MEMBALLOON_A_DEV_EVENT, event))) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/* The device with @id; the caller holds mb_nl_devices_lock. */
static struct memballoon *mb_nl_find(u32 id)
{
	struct memballoon *mb;

	list_for_each_entry(mb, &mb_nl_devices, nl_node)
		if (mb->vdev->index == id)
			return mb;
	return NULL;
}

/* Look up the device a request names; sets extack when there is none. */
static struct memballoon *mb_nl_lookup(struct genl_info *info)
{
	struct memballoon *mb;

	if (GENL_REQ_ATTR_CHECK(info, MEMBALLOON_A_DEV_ID))
		return ERR_PTR(-EINVAL);
	mb = mb_nl_find(nla_get_u32(info->attrs[MEMBALLOON_A_DEV_ID]));
	if (!mb) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[MEMBALLOON_A_DEV_ID],
				    "no memballoon device with this ID");
		return ERR_PTR(-ENODEV);
	}
	return mb;
}

/* Reply to @info with @mb's state. */
static int mb_nl_reply(struct memballoon *mb, struct genl_info *info)
{
	struct sk_buff *msg;
	int err;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	err = mb_nl_fill(msg, mb, MEMBALLOON_CMD_DEV_GET, info->snd_portid,
			 info->snd_seq, 0, 0);
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	return genlmsg_reply(msg, info);
}

static int mb_nl_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct memballoon *mb;
	int err;

	mutex_lock(&mb_nl_devices_lock);
	mb = mb_nl_lookup(info);
	err = IS_ERR(mb) ? PTR_ERR(mb) : mb_nl_reply(mb, info);
	mutex_unlock(&mb_nl_devices_lock);
	return err;
}

static int mb_nl_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	unsigned long idx = 0, start = cb->args[0];
	struct memballoon *mb;

	mutex_lock(&mb_nl_devices_lock);
	list_for_each_entry(mb, &mb_nl_devices, nl_node) {
		if (idx < start) {
			idx++;
			continue;
		}
		if (mb_nl_fill(skb, mb, MEMBALLOON_CMD_DEV_GET,
			       NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			       NLM_F_MULTI, 0))
			break;
		idx++;
	}
	mutex_unlock(&mb_nl_devices_lock);
	cb->args[0] = idx;
	return skb->len;
}

static int mb_nl_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *attr = info->attrs[MEMBALLOON_A_DEV_FLOOR_PAGES];
	struct memballoon *mb;
	u64 floor;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, MEMBALLOON_A_DEV_FLOOR_PAGES))
		return -EINVAL;
	floor = nla_get_u64(attr);

	mutex_lock(&mb_nl_devices_lock);
	mb = mb_nl_lookup(info);
	if (IS_ERR(mb)) {
		err = PTR_ERR(mb);
		goto out;
	}
	if (floor > (u64)mb->ram_pages * MB_PFNS_PER_PAGE) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "floor is larger than the guest's RAM");
		err = -ERANGE;
		goto out;
	}
	mb_set_floor(mb, floor);
	err = mb_nl_reply(mb, info);
out:
	mutex_unlock(&mb_nl_devices_lock);
	return err;
}

static int mb_nl_release_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct memballoon *mb;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, MEMBALLOON_A_DEV_RELEASE_PAGES))
		return -EINVAL;

	mutex_lock(&mb_nl_devices_lock);
	mb = mb_nl_lookup(info);
	if (IS_ERR(mb)) {
		err = PTR_ERR(mb);
		goto out;
	}
	if (!mb_negotiated(mb, VIRTIO_BALLOON_F_DEFLATE_ON_OOM)) {
		NL_SET_ERR_MSG(info->extack,
			       "device did not negotiate DEFLATE_ON_OOM: the host's target binds");
		err = -EOPNOTSUPP;
		goto out;
	}
	mb_release(mb, nla_get_u32(info->attrs[MEMBALLOON_A_DEV_RELEASE_PAGES]),
		   MEMBALLOON_EVENT_RELEASED);
	err = mb_nl_reply(mb, info);
out:
	mutex_unlock(&mb_nl_devices_lock);
	return err;
}

static const struct genl_ops mb_nl_ops[] = {
	{
		.cmd = MEMBALLOON_CMD_DEV_GET,
		.doit = mb_nl_get_doit,
		.dumpit = mb_nl_get_dumpit,
		.policy = mb_nl_get_policy,
		.maxattr = ARRAY_SIZE(mb_nl_get_policy) - 1,
	},
	{
		.cmd = MEMBALLOON_CMD_DEV_SET,
		.doit = mb_nl_set_doit,
		.policy = mb_nl_set_policy,
		.maxattr = ARRAY_SIZE(mb_nl_set_policy) - 1,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = MEMBALLOON_CMD_DEV_RELEASE,
		.doit = mb_nl_release_doit,
		.policy = mb_nl_release_policy,
		.maxattr = ARRAY_SIZE(mb_nl_release_policy) - 1,
		.flags = GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group mb_nl_mcgrps[] = {
	{ .name = MEMBALLOON_MCGRP_EVENTS },
};

static struct genl_family mb_nl_family __ro_after_init = {
	.name = MEMBALLOON_FAMILY_NAME,
	.version = MEMBALLOON_FAMILY_VERSION,
	.module = THIS_MODULE,
	.ops = mb_nl_ops,
	.n_ops = ARRAY_SIZE(mb_nl_ops),
	.mcgrps = mb_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(mb_nl_mcgrps),
};

/* Tell listeners of the "events" group about @event on @mb. */
void mb_nl_notify(struct memballoon *mb, u32 event)
{
	struct sk_buff *msg;

	if (!genl_has_listeners(&mb_nl_family, &init_net, 0))
		return;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return;
	if (mb_nl_fill(msg, mb, MEMBALLOON_CMD_DEV_NTF, 0, 0, 0, event)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_multicast(&mb_nl_family, msg, 0, 0, GFP_KERNEL);
}

void mb_nl_add_device(struct memballoon *mb)
{
	mutex_lock(&mb_nl_devices_lock);
	list_add_tail(&mb->nl_node, &mb_nl_devices);
	mutex_unlock(&mb_nl_devices_lock);
	mb_nl_notify(mb, MEMBALLOON_EVENT_DEVICE_ADDED);
}

/* After this returns no netlink request can reach @mb. */
void mb_nl_del_device(struct memballoon *mb)
{
	mutex_lock(&mb_nl_devices_lock);
	list_del(&mb->nl_node);
	mutex_unlock(&mb_nl_devices_lock);
	mb_nl_notify(mb, MEMBALLOON_EVENT_DEVICE_REMOVED);
}

int __init mb_nl_init(void)
{
	return genl_register_family(&mb_nl_family);
}

void mb_nl_exit(void)
{
	genl_unregister_family(&mb_nl_family);
}
