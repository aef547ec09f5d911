// SPDX-License-Identifier: GPL-2.0
/*
 * memballoon: the "memballoon" generic netlink family.
 *
 * DEV_GET (do by ID, or dump) reports every bound device's state and
 * counters to anyone.  DEV_SET (inflation floor) and DEV_RELEASE (give
 * pages back now, only with DEFLATE_ON_OOM) need CAP_NET_ADMIN
 * (GENL_ADMIN_PERM) and CAP_SYS_ADMIN (pre_doit): CAP_NET_ADMIN alone is
 * common in host-network containers, and these commands take memory from
 * the host.  Each device accepts at most MB_ADMIN_BURST of them in any
 * MB_ADMIN_WINDOW (-EBUSY beyond), and logs every one with its caller.
 * Notifications (DEV_NTF) go to the "events" group and are only built when
 * somebody listens.
 *
 * No request waits for the host: the family runs without genl_mutex
 * (parallel_ops), mb_nl_devices_lock is only held to find a device and
 * take a reference that removal waits for, state is read under the
 * device's state_lock, and DEV_RELEASE only accepts the release (clamped
 * to the balloon, inflation held off at once) and replies; release_work
 * gives the pages back and sends RELEASED.
 * The family is described by Documentation/netlink/specs/memballoon.yaml;
 * ynl-gen-c writes from it the UAPI header, every command's strict policy
 * and the ops table (netlink-gen.[ch], `make netlink`).  The family struct
 * and pre_doit are written here: ynl-gen-c writes a family struct only for
 * specs of the newer "genetlink" protocol, with split ops, which 6.1 does
 * not have (compat.h), and visible in every network namespace.
 */
#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/stringify.h>
#include <linux/wait_bit.h>
#include <net/genetlink.h>
#include <uapi/linux/memballoon.h>

#include "memballoon.h"
#include "netlink-gen.h"

/* Every bound device, for DEV_GET and lookups by ID. */
static LIST_HEAD(mb_nl_devices);
/*
 * Protects mb_nl_devices.  Held to walk it and take a device's nl_users
 * reference, never across a host round trip; taken before state_lock.
 */
static DEFINE_MUTEX(mb_nl_devices_lock);

static struct genl_family mb_nl_family;

static int mb_nl_put_u64(struct sk_buff *skb, int attr, u64 val)
{
	return nla_put_u64_64bit(skb, attr, val, MEMBALLOON_A_DEV_PAD);
}

/* What a message carries beyond the device's state. */
struct mb_nl_extra {
	u32 event;		/* MEMBALLOON_A_DEV_EVENT; 0: none */
	bool has_release;
	u32 release_pages;	/* MEMBALLOON_A_DEV_RELEASE_PAGES */
};

/*
 * One device's state.  Everything that moves with the balloon is read in
 * one state_lock section: inflated - deflated == actual in every message.
 */
static int mb_nl_fill(struct sk_buff *skb, struct memballoon *mb, u8 cmd,
		      u32 portid, u32 seq, int flags,
		      const struct mb_nl_extra *x)
{
	struct mb_counters c;
	u64 floor;
	u32 actual;
	void *hdr;

	spin_lock(&mb->state_lock);
	c = mb->counters;
	actual = mb->num_pages;
	floor = mb->floor_pages;
	spin_unlock(&mb->state_lock);

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
	    nla_put_u32(skb, MEMBALLOON_A_DEV_ACTUAL_PAGES, actual) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_FLOOR_PAGES, floor) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_RESERVE_PAGES,
			  (u64)mb_reserve_pages(mb) * MB_PFNS_PER_PAGE) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_INFLATED, c.inflated) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_DEFLATED, c.deflated) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_ALLOC_FAILURES,
			  c.alloc_failures) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_OOM_DEFLATES, c.oom_deflates) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_OOM_PAGES, c.oom_pages) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_REPORTED_PAGES, c.reported) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_HINTED_PAGES, c.hinted) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_STATS_REQUESTS,
			  c.stats_requests) ||
	    mb_nl_put_u64(skb, MEMBALLOON_A_DEV_MIGRATED, c.migrated) ||
	    (x && x->event &&
	     nla_put_u32(skb, MEMBALLOON_A_DEV_EVENT, x->event)) ||
	    (x && x->has_release &&
	     nla_put_u32(skb, MEMBALLOON_A_DEV_RELEASE_PAGES,
			 x->release_pages))) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/*
 * The device a request names, with a reference (mb_nl_put()) that keeps
 * it from going away; sets extack when there is none.
 */
static struct memballoon *mb_nl_get(struct genl_info *info)
{
	struct memballoon *mb;
	u32 id;

	if (GENL_REQ_ATTR_CHECK(info, MEMBALLOON_A_DEV_ID))
		return ERR_PTR(-EINVAL);
	id = nla_get_u32(info->attrs[MEMBALLOON_A_DEV_ID]);
	mutex_lock(&mb_nl_devices_lock);
	list_for_each_entry(mb, &mb_nl_devices, nl_node) {
		if (mb->vdev->index == id) {
			atomic_inc(&mb->nl_users);
			mutex_unlock(&mb_nl_devices_lock);
			return mb;
		}
	}
	mutex_unlock(&mb_nl_devices_lock);
	NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[MEMBALLOON_A_DEV_ID],
			    "no memballoon device with this ID");
	return ERR_PTR(-ENODEV);
}

static void mb_nl_put(struct memballoon *mb)
{
	if (atomic_dec_and_test(&mb->nl_users))
		wake_up_var(&mb->nl_users);
}

/* Reply to @info with @mb's state (and @x). */
static int mb_nl_reply(struct memballoon *mb, struct genl_info *info,
		       const struct mb_nl_extra *x)
{
	struct sk_buff *msg;
	int err;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	err = mb_nl_fill(msg, mb, MEMBALLOON_CMD_DEV_GET, info->snd_portid,
			 info->snd_seq, 0, x);
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	return genlmsg_reply(msg, info);
}

/*
 * Admin commands (admin-perm in the spec: GENL_ADMIN_PERM, which the core
 * checks as CAP_NET_ADMIN) need CAP_SYS_ADMIN in the initial user
 * namespace too.
 */
static int mb_nl_pre_doit(const struct mb_genl_split_ops *ops,
			  struct sk_buff *skb, struct genl_info *info)
{
	if ((ops->flags & GENL_ADMIN_PERM) &&
	    !netlink_capable(skb, CAP_SYS_ADMIN)) {
		NL_SET_ERR_MSG(info->extack, "needs CAP_SYS_ADMIN");
		return -EPERM;
	}
	return 0;
}

/*
 * Whether @mb accepts another admin change now: at most MB_ADMIN_BURST in
 * any MB_ADMIN_WINDOW.  An accepted change is logged with its caller.
 */
static bool mb_nl_admin_allowed(struct memballoon *mb, struct genl_info *info)
{
	unsigned long now = jiffies;
	bool ok;

	spin_lock(&mb->state_lock);
	ok = !time_before(now, mb->admin_times[mb->admin_next] +
				MB_ADMIN_WINDOW);
	if (ok) {
		mb->admin_times[mb->admin_next] = now;
		mb->admin_next = (mb->admin_next + 1) % MB_ADMIN_BURST;
	}
	spin_unlock(&mb->state_lock);
	if (!ok)
		NL_SET_ERR_MSG(info->extack,
			       "rate limit: at most " __stringify(MB_ADMIN_BURST)
			       " changes in " __stringify(MB_ADMIN_WINDOW_S)
			       " s per device, try again later");
	return ok;
}

int mb_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct memballoon *mb;
	int err;

	mb = mb_nl_get(info);
	if (IS_ERR(mb))
		return PTR_ERR(mb);
	err = mb_nl_reply(mb, info, NULL);
	mb_nl_put(mb);
	return err;
}

/* Filling a message never waits for the host: the walk holds the list lock. */
int mb_nl_dev_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
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
			       NLM_F_MULTI, NULL))
			break;
		idx++;
	}
	mutex_unlock(&mb_nl_devices_lock);
	cb->args[0] = idx;
	return skb->len;
}

int mb_nl_dev_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *attr = info->attrs[MEMBALLOON_A_DEV_FLOOR_PAGES];
	struct memballoon *mb;
	u64 floor;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, MEMBALLOON_A_DEV_FLOOR_PAGES))
		return -EINVAL;
	floor = nla_get_u64(attr);

	mb = mb_nl_get(info);
	if (IS_ERR(mb))
		return PTR_ERR(mb);
	if (floor > (u64)mb->ram_pages * MB_PFNS_PER_PAGE) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "floor is larger than the guest's RAM");
		err = -ERANGE;
		goto out;
	}
	if (!mb_nl_admin_allowed(mb, info)) {
		err = -EBUSY;
		goto out;
	}
	dev_info(&mb->vdev->dev, "inflation floor set to %llu MiB by %s[%d]\n",
		 floor >> (20 - VIRTIO_BALLOON_PFN_SHIFT), current->comm,
		 task_pid_nr(current));
	mb_set_floor(mb, floor);
	err = mb_nl_reply(mb, info, NULL);
out:
	mb_nl_put(mb);
	return err;
}

int mb_nl_dev_release_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct mb_nl_extra x = { .has_release = true };
	struct memballoon *mb;
	u32 pages;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, MEMBALLOON_A_DEV_RELEASE_PAGES))
		return -EINVAL;
	pages = nla_get_u32(info->attrs[MEMBALLOON_A_DEV_RELEASE_PAGES]);

	mb = mb_nl_get(info);
	if (IS_ERR(mb))
		return PTR_ERR(mb);
	if (!mb_negotiated(mb, VIRTIO_BALLOON_F_DEFLATE_ON_OOM)) {
		NL_SET_ERR_MSG(info->extack,
			       "device did not negotiate DEFLATE_ON_OOM: the host's target binds");
		err = -EOPNOTSUPP;
		goto out;
	}
	if (!mb_nl_admin_allowed(mb, info)) {
		err = -EBUSY;
		goto out;
	}
	x.release_pages = mb_release_async(mb, pages);
	dev_info(&mb->vdev->dev,
		 "release of %u pages (%u MiB) accepted of %u asked by %s[%d]\n",
		 x.release_pages, x.release_pages >> (20 - VIRTIO_BALLOON_PFN_SHIFT),
		 pages, current->comm, task_pid_nr(current));
	err = mb_nl_reply(mb, info, &x);
out:
	mb_nl_put(mb);
	return err;
}

/*
 * netlink-gen.c has the same table, static: the generator means it for the
 * family struct it writes only with split ops (so netlink-gen.o is built
 * with -Wno-unused-const-variable).  The index is the generated one.
 */
static const struct genl_multicast_group mb_nl_mcgrps[] = {
	[MEMBALLOON_NLGRP_EVENTS] = { .name = MEMBALLOON_MCGRP_EVENTS },
};

static struct genl_family mb_nl_family __ro_after_init = {
	.name = MEMBALLOON_FAMILY_NAME,
	.version = MEMBALLOON_FAMILY_VERSION,
	.module = THIS_MODULE,
	/* No genl_mutex: the driver's own locking, which never waits for the host. */
	.parallel_ops = true,
	.pre_doit = mb_nl_pre_doit,
	.ops = memballoon_nl_ops,
	.n_ops = ARRAY_SIZE(memballoon_nl_ops),
	.mcgrps = mb_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(mb_nl_mcgrps),
};

static void mb_nl_multicast(struct memballoon *mb, const struct mb_nl_extra *x)
{
	struct sk_buff *msg;

	if (!genl_has_listeners(&mb_nl_family, &init_net,
				MEMBALLOON_NLGRP_EVENTS))
		return;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return;
	if (mb_nl_fill(msg, mb, MEMBALLOON_CMD_DEV_NTF, 0, 0, 0, x)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_multicast(&mb_nl_family, msg, 0, MEMBALLOON_NLGRP_EVENTS,
			  GFP_KERNEL);
}

/* Tell listeners of the "events" group about @event on @mb. */
void mb_nl_notify(struct memballoon *mb, u32 event)
{
	struct mb_nl_extra x = { .event = event };

	mb_nl_multicast(mb, &x);
}

/* release_work gave @pages back: RELEASED, with the count. */
void mb_nl_notify_released(struct memballoon *mb, u32 pages)
{
	struct mb_nl_extra x = {
		.event = MEMBALLOON_EVENT_RELEASED,
		.has_release = true,
		.release_pages = pages,
	};

	mb_nl_multicast(mb, &x);
}

void mb_nl_add_device(struct memballoon *mb)
{
	unsigned int i;

	/* No admin change yet: a full burst is allowed at once. */
	for (i = 0; i < MB_ADMIN_BURST; i++)
		mb->admin_times[i] = jiffies - MB_ADMIN_WINDOW;
	mutex_lock(&mb_nl_devices_lock);
	list_add_tail(&mb->nl_node, &mb_nl_devices);
	mutex_unlock(&mb_nl_devices_lock);
	mb_nl_notify(mb, MEMBALLOON_EVENT_DEVICE_ADDED);
}

/*
 * After this returns no netlink request can reach @mb and none is using
 * it.  DEVICE_REMOVED is sent by removal once the device's work stopped.
 */
void mb_nl_del_device(struct memballoon *mb)
{
	mutex_lock(&mb_nl_devices_lock);
	list_del(&mb->nl_node);
	mutex_unlock(&mb_nl_devices_lock);
	wait_var_event(&mb->nl_users, !atomic_read(&mb->nl_users));
}

int __init mb_nl_init(void)
{
	return genl_register_family(&mb_nl_family);
}

void mb_nl_exit(void)
{
	genl_unregister_family(&mb_nl_family);
}
