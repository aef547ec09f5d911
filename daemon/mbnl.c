// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "linux/memballoon.h"
#include "mbnl.h"
#include "memballoon-names.h"
#include "sample.h"

#define MBNL_EVENT_RCVBUF (1 << 20)

/* ---- messages ---------------------------------------------------------- */

static struct nl_msg *msg_new(int family, int flags, uint8_t cmd)
{
	struct nl_msg *m = nlmsg_alloc();

	if (!m)
		return NULL;
	if (!genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, cmd,
			 MEMBALLOON_FAMILY_VERSION)) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

/*
 * Requests carry u64s unpadded: the kernel reads attributes with memcpy, and
 * its strict per-command policies would reject a PAD attribute.
 */
static int put_u64(struct nl_msg *m, int type, uint64_t v)
{
	return nla_put_u64(m, type, v);
}

struct nl_msg *mbnl_msg_get(int family, bool dump, uint32_t dev_id)
{
	/* a doit reply has no end marker of its own: ask for the ACK that follows it */
	struct nl_msg *m = msg_new(family, dump ? NLM_F_DUMP : NLM_F_ACK, MEMBALLOON_CMD_DEV_GET);

	if (m && !dump && nla_put_u32(m, MEMBALLOON_A_DEV_ID, dev_id) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

struct nl_msg *mbnl_msg_set_floor(int family, uint32_t dev_id, uint64_t floor_pages)
{
	struct nl_msg *m = msg_new(family, NLM_F_ACK, MEMBALLOON_CMD_DEV_SET);

	if (m && (nla_put_u32(m, MEMBALLOON_A_DEV_ID, dev_id) < 0 ||
		  put_u64(m, MEMBALLOON_A_DEV_FLOOR_PAGES, floor_pages) < 0)) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

struct nl_msg *mbnl_msg_release(int family, uint32_t dev_id, uint32_t pages)
{
	struct nl_msg *m = msg_new(family, NLM_F_ACK, MEMBALLOON_CMD_DEV_RELEASE);

	if (m && (nla_put_u32(m, MEMBALLOON_A_DEV_ID, dev_id) < 0 ||
		  nla_put_u32(m, MEMBALLOON_A_DEV_RELEASE_PAGES, pages) < 0)) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

/*
 * libnl's checks of a DEV_GET reply or DEV_NTF: the spec's payload types
 * (memballoon-names.h), and a name that fits struct mb_dev.
 */
static const struct nla_policy *dev_policy(void)
{
	static struct nla_policy policy[MEMBALLOON_A_DEV_MAX + 1];
	static bool ready;

	if (ready)
		return policy;
	for (unsigned int a = 0; a <= MEMBALLOON_A_DEV_MAX; a++) {
		const struct memballoon_attr_info *info = memballoon_dev_attr(a);

		switch (info ? info->type : MEMBALLOON_ATTR_NONE) {
		case MEMBALLOON_ATTR_U32:
			policy[a].type = NLA_U32;
			break;
		case MEMBALLOON_ATTR_U64:
			policy[a].type = NLA_U64;
			break;
		case MEMBALLOON_ATTR_STRING:
			policy[a].type = NLA_STRING;
			policy[a].maxlen = sizeof(((struct mb_dev *)0)->name);
			break;
		default:	/* padding: never read */
			break;
		}
	}
	ready = true;
	return policy;
}

int mbnl_parse_dev(struct nlmsghdr *nlh, struct mb_dev *dev)
{
	static const struct {
		int attr;
		size_t off;
	} u64s[] = {
#define A(a, f) { MEMBALLOON_A_DEV_##a, offsetof(struct mb_dev, f) }
		A(FEATURES, features), A(RAM_PAGES, ram_pages), A(FLOOR_PAGES, floor_pages),
		A(RESERVE_PAGES, reserve_pages), A(INFLATED, inflated), A(DEFLATED, deflated),
		A(ALLOC_FAILURES, alloc_failures), A(OOM_DEFLATES, oom_deflates),
		A(OOM_PAGES, oom_pages), A(REPORTED_PAGES, reported_pages),
		A(HINTED_PAGES, hinted_pages), A(STATS_REQUESTS, stats_requests),
		A(MIGRATED, migrated),
#undef A
	};
	struct nlattr *tb[MEMBALLOON_A_DEV_MAX + 1];

	_Static_assert(MEMBALLOON_A_DEV_MAX < 64, "struct mb_dev's have has a bit per attribute");
	memset(dev, 0, sizeof(*dev));
	if (genlmsg_parse(nlh, 0, tb, MEMBALLOON_A_DEV_MAX, dev_policy()) < 0)
		return -EINVAL;
	if (!tb[MEMBALLOON_A_DEV_ID])
		return -EINVAL;
	for (int a = 0; a <= MEMBALLOON_A_DEV_MAX; a++)
		if (tb[a])
			dev->have |= 1ull << a;
	dev->id = nla_get_u32(tb[MEMBALLOON_A_DEV_ID]);
	if (tb[MEMBALLOON_A_DEV_NAME])
		snprintf(dev->name, sizeof(dev->name), "%s",
			 (const char *)nla_data(tb[MEMBALLOON_A_DEV_NAME]));
	else
		snprintf(dev->name, sizeof(dev->name), "virtio%u", dev->id);
	if (tb[MEMBALLOON_A_DEV_TARGET_PAGES])
		dev->target_pages = nla_get_u32(tb[MEMBALLOON_A_DEV_TARGET_PAGES]);
	if (tb[MEMBALLOON_A_DEV_ACTUAL_PAGES])
		dev->actual_pages = nla_get_u32(tb[MEMBALLOON_A_DEV_ACTUAL_PAGES]);
	if (tb[MEMBALLOON_A_DEV_EVENT])
		dev->event = nla_get_u32(tb[MEMBALLOON_A_DEV_EVENT]);
	if (tb[MEMBALLOON_A_DEV_RELEASE_PAGES])
		dev->release_pages = nla_get_u32(tb[MEMBALLOON_A_DEV_RELEASE_PAGES]);
	for (size_t i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++)
		if (tb[u64s[i].attr])
			*(uint64_t *)((char *)dev + u64s[i].off) = nla_get_u64(tb[u64s[i].attr]);
	return 0;
}

/* ---- connection -------------------------------------------------------- */

static int nle_to_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case 0: return 0;
	case NLE_AGAIN: return -EAGAIN;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_PERM: return -EPERM;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_NODEV: return -ENODEV;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_INVAL: return -EINVAL;
	case NLE_BUSY: return -EBUSY;
	case NLE_RANGE: return -ERANGE;
	case NLE_EXIST: return -EEXIST;
	case NLE_INTR: return -EINTR;
	case NLE_DUMP_INTR: return -EINTR;
	case NLE_BAD_SOCK: return -EBADF;
	case NLE_MSG_TRUNC: return -EMSGSIZE;
	case NLE_SEQ_MISMATCH: return -EPROTO;
	default: return -EIO;
	}
}

/* The request socket: non-blocking (request() waits in poll), errors with the kernel's reason. */
static int cmd_socket_open(struct mbnl *nl)
{
	int one = 1, rc;

	nl->cmd = nl_socket_alloc();
	if (!nl->cmd)
		return -NLE_NOMEM;
	rc = genl_connect(nl->cmd);
	if (rc >= 0)
		rc = nl_socket_set_nonblocking(nl->cmd);
	if (rc < 0) {
		nl_socket_free(nl->cmd);
		nl->cmd = NULL;
		return rc;
	}
	/* errors carry the kernel's reason; do not echo our request back */
	setsockopt(nl_socket_get_fd(nl->cmd), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(nl->cmd), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return 0;
}

int mbnl_open(struct mbnl *nl, bool events)
{
	int rc;

	memset(nl, 0, sizeof(*nl));
	nl->timeout_ms = MBNL_REQUEST_TIMEOUT_MS;
	rc = cmd_socket_open(nl);
	if (rc < 0)
		goto fail;
	if (!events)
		return 0;

	nl->ev = nl_socket_alloc();
	if (!nl->ev) {
		rc = -NLE_NOMEM;
		goto fail;
	}
	nl_socket_disable_seq_check(nl->ev);
	rc = genl_connect(nl->ev);
	if (rc < 0)
		goto fail;
	rc = nl_socket_set_nonblocking(nl->ev);
	if (rc < 0)
		goto fail;
	nl_socket_set_buffer_size(nl->ev, MBNL_EVENT_RCVBUF, 0);
	/* nlctrl announces families coming and going */
	rc = mbnl_lookup(nl, "nlctrl", "notify", &(int){ 0 }, &nl->ctrl_grp);
	if (rc) {
		mbnl_close(nl);
		return rc;
	}
	rc = nl_socket_add_membership(nl->ev, nl->ctrl_grp);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	mbnl_close(nl);
	return nle_to_errno(rc);
}

void mbnl_close(struct mbnl *nl)
{
	if (nl->ev)
		nl_socket_free(nl->ev);
	if (nl->cmd)
		nl_socket_free(nl->cmd);
	nl->ev = nl->cmd = NULL;
	nl->family = nl->events_grp = 0;
}

int mbnl_event_fd(const struct mbnl *nl)
{
	return nl->ev ? nl_socket_get_fd(nl->ev) : -1;
}

void mbnl_forget(struct mbnl *nl)
{
	if (nl->ev && nl->events_grp)
		nl_socket_drop_membership(nl->ev, nl->events_grp);
	nl->family = 0;
	nl->events_grp = 0;
}

int mbnl_resolve(struct mbnl *nl)
{
	int fam, grp = 0, rc;

	rc = mbnl_lookup(nl, MEMBALLOON_FAMILY_NAME, nl->ev ? MEMBALLOON_MCGRP_EVENTS : NULL,
			 &fam, &grp);
	if (rc) {
		if (rc == -ENOENT)
			mbnl_forget(nl);
		return rc;
	}
	if (!nl->ev) {
		nl->family = fam;
		return 0;
	}
	if (nl->events_grp && nl->events_grp != grp)
		nl_socket_drop_membership(nl->ev, nl->events_grp);
	rc = nl_socket_add_membership(nl->ev, grp);
	if (rc < 0)
		return nle_to_errno(rc);
	nl->family = fam;
	nl->events_grp = grp;
	return 0;
}

/* nlctrl notifications about our family. */
static void ctrl_notice(struct mbnl *nl, struct nlmsghdr *nlh)
{
	struct genlmsghdr *gh = nlmsg_data(nlh);
	struct nlattr *tb[CTRL_ATTR_MAX + 1];

	if (genlmsg_parse(nlh, 0, tb, CTRL_ATTR_MAX, NULL) < 0 || !tb[CTRL_ATTR_FAMILY_NAME])
		return;
	if (nla_strcmp(tb[CTRL_ATTR_FAMILY_NAME], MEMBALLOON_FAMILY_NAME))
		return;
	if (gh->cmd == CTRL_CMD_NEWFAMILY)
		nl->notify(nl->notify_arg, MBNL_FAMILY_NEW, NULL);
	else if (gh->cmd == CTRL_CMD_DELFAMILY)
		nl->notify(nl->notify_arg, MBNL_FAMILY_GONE, NULL);
}

static int event_valid(struct nl_msg *m, void *arg)
{
	struct mbnl *nl = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(m);
	struct genlmsghdr *gh;
	struct mb_dev dev;

	if (!genlmsg_valid_hdr(nlh, 0))
		return NL_SKIP;
	gh = nlmsg_data(nlh);
	if (nlh->nlmsg_type == GENL_ID_CTRL) {
		ctrl_notice(nl, nlh);
		return NL_OK;
	}
	if (!nl->family || nlh->nlmsg_type != nl->family ||
	    gh->cmd != MEMBALLOON_CMD_DEV_NTF)
		return NL_SKIP;
	if (mbnl_parse_dev(nlh, &dev) == 0)
		nl->notify(nl->notify_arg, MBNL_DEVICE_EVENT, &dev);
	return NL_OK;
}

/* Notifications carry sequence number 0: never check them. */
static int no_seq_check(struct nl_msg *m, void *arg)
{
	(void)m;
	(void)arg;
	return NL_OK;
}

int mbnl_receive(struct mbnl *nl)
{
	struct nl_cb *cb;
	int rc;

	if (!nl->ev)
		return -EBADF;
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, event_valid, nl);
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, no_seq_check, NULL);
	for (;;) {
		rc = nl_recvmsgs_report(nl->ev, cb);
		if (rc > 0)
			continue;
		if (rc == -NLE_NOMEM) {
			/* ENOBUFS: the kernel dropped notifications for us */
			nl->notify(nl->notify_arg, MBNL_OVERRUN, NULL);
			continue;
		}
		break;
	}
	nl_cb_put(cb);
	return rc == 0 || rc == -NLE_AGAIN ? 0 : nle_to_errno(rc);
}

/* ---- requests ---------------------------------------------------------- */

struct request {
	struct mbnl *nl;
	/* replies: a handler of our own, else device states */
	int (*parse)(struct nlmsghdr *nlh, struct request *r);
	struct mb_dev *devs;	/* dump: growing array */
	size_t ndevs, cap;
	struct mb_dev *one;	/* single reply wanted here */
	bool got_one;
	const char *group;	/* lookup: the multicast group wanted */
	int id, grp;		/* lookup: what the kernel said */
	bool done;
	int err;
};

static int req_valid(struct nl_msg *m, void *arg)
{
	struct request *r = arg;
	struct mb_dev dev;

	if (r->parse)
		return r->parse(nlmsg_hdr(m), r);
	if (mbnl_parse_dev(nlmsg_hdr(m), &dev) < 0)
		return NL_SKIP;
	if (r->one) {
		*r->one = dev;
		r->got_one = true;
		return NL_OK;
	}
	if (r->ndevs == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		struct mb_dev *p = realloc(r->devs, cap * sizeof(*p));

		if (!p) {
			r->err = -ENOMEM;
			return NL_STOP;
		}
		r->devs = p;
		r->cap = cap;
	}
	r->devs[r->ndevs++] = dev;
	return NL_OK;
}

static int req_finish(struct nl_msg *m, void *arg)
{
	struct request *r = arg;

	(void)m;
	r->done = true;
	return NL_STOP;
}

/*
 * The extended-ACK message (NLMSGERR_ATTR_MSG) after an error, if any.  e
 * sits right after its nlmsghdr, which tells how long the TLVs run.
 */
void mbnl_extack_msg(const struct nlmsgerr *e, char *buf, size_t len)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)((const char *)e - NLMSG_HDRLEN);
	size_t off = sizeof(*e), total;
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];

	buf[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || nlh->nlmsg_len < NLMSG_HDRLEN + off)
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len > NLMSG_HDRLEN ? NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN) : 0;
	total = nlh->nlmsg_len - NLMSG_HDRLEN;
	if (off >= total)
		return;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)e + off),
		      (int)(total - off), NULL) < 0 || !tb[NLMSGERR_ATTR_MSG])
		return;
	snprintf(buf, len, "%.*s", nla_len(tb[NLMSGERR_ATTR_MSG]),
		 (const char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
	/* the attribute is NUL-terminated; nla_len counts the NUL */
	buf[strcspn(buf, "\n")] = '\0';
}

static int req_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct request *r = arg;

	(void)who;
	r->err = e->error;
	mbnl_extack_msg(e, r->nl->errmsg, sizeof(r->nl->errmsg));
	r->done = true;
	return NL_STOP;
}

/* A request that timed out: its reply may still come; a new socket never sees it. */
static void cmd_socket_replace(struct mbnl *nl)
{
	if (nl->cmd)
		nl_socket_free(nl->cmd);
	nl->cmd = NULL;
	nl->timeouts++;
	cmd_socket_open(nl);	/* on failure the next request tries again */
}

/* Wait for the socket until deadline: 1 readable, 0 timed out. */
static int wait_readable(int fd, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = mono_now_ms();
		int n;

		if (now >= deadline)
			return 0;
		n = poll(&p, 1, (int)(deadline - now));
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return 1;	/* let recv report it */
	}
}

/*
 * Send m and handle the replies until the ACK, NLMSG_DONE or an error, all
 * within nl->timeout_ms.
 */
static int request(struct mbnl *nl, struct nl_msg *m, struct request *r)
{
	uint64_t deadline = mono_now_ms() + nl->timeout_ms;
	bool timed_out = false;
	struct nl_cb *cb;
	int rc;

	if (!m)
		return -ENOMEM;
	if (!nl->cmd && cmd_socket_open(nl) < 0) {
		nlmsg_free(m);
		return -ENOTCONN;
	}
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, req_valid, r);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, req_finish, r);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, req_finish, r);
	nl_cb_err(cb, NL_CB_CUSTOM, req_error, r);
	nl->errmsg[0] = '\0';
	rc = nl_send_auto(nl->cmd, m);
	nlmsg_free(m);
	while (rc >= 0 && !r->done) {
		if (!wait_readable(nl_socket_get_fd(nl->cmd), deadline)) {
			timed_out = true;
			break;
		}
		rc = nl_recvmsgs(nl->cmd, cb);
		if (rc == -NLE_AGAIN)
			rc = 0;		/* woken without a whole reply: wait again */
	}
	nl_cb_put(cb);
	if (timed_out) {
		cmd_socket_replace(nl);
		nl->err = -ETIMEDOUT;
		return -ETIMEDOUT;
	}
	nl->err = r->err;
	if (r->err)
		return r->err;
	if (rc < 0) {
		/* a stale family id after a reload reads as "no such family" */
		return nle_to_errno(rc);
	}
	return 0;
}

static int lookup_parse(struct nlmsghdr *nlh, struct request *r)
{
	struct nlattr *tb[CTRL_ATTR_MAX + 1], *g;
	int rem;

	if (genlmsg_parse(nlh, 0, tb, CTRL_ATTR_MAX, NULL) < 0 || !tb[CTRL_ATTR_FAMILY_ID])
		return NL_SKIP;
	r->id = nla_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	if (!r->group || !tb[CTRL_ATTR_MCAST_GROUPS])
		return NL_OK;
	nla_for_each_nested(g, tb[CTRL_ATTR_MCAST_GROUPS], rem) {
		struct nlattr *gb[CTRL_ATTR_MCAST_GRP_MAX + 1];

		if (nla_parse_nested(gb, CTRL_ATTR_MCAST_GRP_MAX, g, NULL) < 0 ||
		    !gb[CTRL_ATTR_MCAST_GRP_NAME] || !gb[CTRL_ATTR_MCAST_GRP_ID])
			continue;
		if (!nla_strcmp(gb[CTRL_ATTR_MCAST_GRP_NAME], r->group))
			r->grp = (int)nla_get_u32(gb[CTRL_ATTR_MCAST_GRP_ID]);
	}
	return NL_OK;
}

int mbnl_lookup(struct mbnl *nl, const char *family, const char *group, int *id, int *grp)
{
	struct request r = { .nl = nl, .parse = lookup_parse, .group = group };
	struct nl_msg *m = nlmsg_alloc();
	int rc;

	if (m && (!genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, GENL_ID_CTRL, 0, NLM_F_ACK,
			       CTRL_CMD_GETFAMILY, 1) ||
		  nla_put_string(m, CTRL_ATTR_FAMILY_NAME, family) < 0)) {
		nlmsg_free(m);
		m = NULL;
	}
	rc = request(nl, m, &r);
	if (rc)
		return rc;
	if (!r.id || (group && !r.grp))
		return -ENOENT;
	*id = r.id;
	if (grp)
		*grp = r.grp;
	return 0;
}

int mbnl_dump(struct mbnl *nl, struct mb_dev **devs, size_t *ndevs)
{
	struct request r = { .nl = nl };
	int rc;

	*devs = NULL;
	*ndevs = 0;
	if (!nl->family)
		return -ENOENT;
	rc = request(nl, mbnl_msg_get(nl->family, true, 0), &r);
	if (rc) {
		free(r.devs);
		return rc;
	}
	*devs = r.devs;
	*ndevs = r.ndevs;
	return 0;
}

int mbnl_get(struct mbnl *nl, uint32_t dev_id, struct mb_dev *dev)
{
	struct request r = { .nl = nl, .one = dev };
	int rc;

	if (!nl->family)
		return -ENOENT;
	rc = request(nl, mbnl_msg_get(nl->family, false, dev_id), &r);
	if (rc)
		return rc;
	return r.got_one ? 0 : -EIO;
}

static int admin(struct mbnl *nl, struct nl_msg *m, struct mb_dev *reply)
{
	struct mb_dev tmp;
	struct request r = { .nl = nl, .one = reply ? reply : &tmp };

	/* no stale state on any path: a bare ACK leaves have == 0 */
	memset(r.one, 0, sizeof(*r.one));
	if (!nl->family) {
		nlmsg_free(m);
		return -ENOENT;
	}
	return request(nl, m, &r);
}

int mbnl_set_floor(struct mbnl *nl, uint32_t dev_id, uint64_t floor_pages, struct mb_dev *reply)
{
	return admin(nl, mbnl_msg_set_floor(nl->family, dev_id, floor_pages), reply);
}

int mbnl_release(struct mbnl *nl, uint32_t dev_id, uint32_t pages, struct mb_dev *reply)
{
	return admin(nl, mbnl_msg_release(nl->family, dev_id, pages), reply);
}
