/* bridge_nl.c: the bridge module's generic netlink family through libnl-genl-3: connecting and loading the module (kmod_load.c), requests and their replies (the kernel's extended ack kept), the events socket, the message parsers. */
#include "cli/bridge_nl.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "cli/kmod_load.h"
#include "cli/pci_sysfs.h"
#include "util/log.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

struct bridge_nl {
	struct nl_sock *sk; /* requests */
	struct nl_sock *ev; /* the events group, once subscribed */
	int family;
	char ext_msg[256];
};

static struct nla_policy attr_policy[VUP_BRIDGE_A_MAX + 1] = {
	[VUP_BRIDGE_A_NAME] = { .type = NLA_STRING, .maxlen = VUP_BRIDGE_NAME_MAX },
	[VUP_BRIDGE_A_UUID] = { .type = NLA_STRING, .maxlen = VUP_BRIDGE_UUID_LEN + 1 },
	[VUP_BRIDGE_A_MSIX] = { .type = NLA_U32 },
	[VUP_BRIDGE_A_VENDOR] = { .type = NLA_U16 },
	[VUP_BRIDGE_A_DEVICE] = { .type = NLA_U16 },
	[VUP_BRIDGE_A_SUBSYS_VENDOR] = { .type = NLA_U16 },
	[VUP_BRIDGE_A_SUBSYS_DEVICE] = { .type = NLA_U16 },
	[VUP_BRIDGE_A_SYSFS_PATH] = { .type = NLA_STRING },
	[VUP_BRIDGE_A_GROUP] = { .type = NLA_U32 },
	[VUP_BRIDGE_A_CDEV] = { .type = NLA_STRING },
	[VUP_BRIDGE_A_OPEN] = { .type = NLA_U8 },
	[VUP_BRIDGE_A_COUNTER_MMIO] = { .type = NLA_U64 },
	[VUP_BRIDGE_A_COUNTER_DMA_BYTES] = { .type = NLA_U64 },
	[VUP_BRIDGE_A_COUNTER_IRQS] = { .type = NLA_U64 },
	[VUP_BRIDGE_A_COUNTER_RESETS] = { .type = NLA_U64 },
	[VUP_BRIDGE_A_COUNTER_OPENS] = { .type = NLA_U64 },
	[VUP_BRIDGE_A_FAULT] = { .type = NLA_U32 },
	[VUP_BRIDGE_A_FAULT_ARG] = { .type = NLA_U32 },
	[VUP_BRIDGE_A_EVENT_TYPE] = { .type = NLA_U32 },
};

bool bridge_is_uuid(const char *s)
{
	for (int i = 0; i < VUP_BRIDGE_UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return s[VUP_BRIDGE_UUID_LEN] == '\0';
}

/* A string attribute into buf: 0, or -EINVAL when absent, empty or too long. */
static int get_str(struct nlattr **tb, int type, char *buf, size_t len)
{
	if (!tb[type] || !nla_get_string(tb[type])[0] || strlen(nla_get_string(tb[type])) >= len)
		return -EINVAL;
	snprintf(buf, len, "%s", nla_get_string(tb[type]));
	return 0;
}

static uint64_t get_u64(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u64(tb[type]) : 0;
}

int bridge_parse_instance(struct nlmsghdr *nlh, struct bridge_instance *out)
{
	struct nlattr *tb[VUP_BRIDGE_A_MAX + 1];

	memset(out, 0, sizeof(*out));
	out->group = -1;
	if (genlmsg_parse(nlh, 0, tb, VUP_BRIDGE_A_MAX, attr_policy) < 0)
		return -EINVAL;
	if (get_str(tb, VUP_BRIDGE_A_NAME, out->name, sizeof(out->name)) ||
	    get_str(tb, VUP_BRIDGE_A_UUID, out->uuid, sizeof(out->uuid)) ||
	    get_str(tb, VUP_BRIDGE_A_SYSFS_PATH, out->sysfs_path, sizeof(out->sysfs_path)))
		return -EINVAL;
	if (tb[VUP_BRIDGE_A_GROUP])
		out->group = (int)nla_get_u32(tb[VUP_BRIDGE_A_GROUP]);
	if (tb[VUP_BRIDGE_A_CDEV] && get_str(tb, VUP_BRIDGE_A_CDEV, out->cdev, sizeof(out->cdev)))
		return -EINVAL;
	out->msix = tb[VUP_BRIDGE_A_MSIX] ? nla_get_u32(tb[VUP_BRIDGE_A_MSIX]) : 0;
	out->vendor = tb[VUP_BRIDGE_A_VENDOR] ? nla_get_u16(tb[VUP_BRIDGE_A_VENDOR]) : 0;
	out->device = tb[VUP_BRIDGE_A_DEVICE] ? nla_get_u16(tb[VUP_BRIDGE_A_DEVICE]) : 0;
	out->subsys_vendor = tb[VUP_BRIDGE_A_SUBSYS_VENDOR] ? nla_get_u16(tb[VUP_BRIDGE_A_SUBSYS_VENDOR]) : 0;
	out->subsys_device = tb[VUP_BRIDGE_A_SUBSYS_DEVICE] ? nla_get_u16(tb[VUP_BRIDGE_A_SUBSYS_DEVICE]) : 0;
	out->open = tb[VUP_BRIDGE_A_OPEN] && nla_get_u8(tb[VUP_BRIDGE_A_OPEN]);
	out->mmio = get_u64(tb, VUP_BRIDGE_A_COUNTER_MMIO);
	out->dma_bytes = get_u64(tb, VUP_BRIDGE_A_COUNTER_DMA_BYTES);
	out->irqs = get_u64(tb, VUP_BRIDGE_A_COUNTER_IRQS);
	out->resets = get_u64(tb, VUP_BRIDGE_A_COUNTER_RESETS);
	out->opens = get_u64(tb, VUP_BRIDGE_A_COUNTER_OPENS);
	return 0;
}

int bridge_parse_event(struct nlmsghdr *nlh, struct bridge_event *out)
{
	struct nlattr *tb[VUP_BRIDGE_A_MAX + 1];

	memset(out, 0, sizeof(*out));
	if (genlmsg_parse(nlh, 0, tb, VUP_BRIDGE_A_MAX, attr_policy) < 0 || !tb[VUP_BRIDGE_A_EVENT_TYPE])
		return -EINVAL;
	out->type = nla_get_u32(tb[VUP_BRIDGE_A_EVENT_TYPE]);
	if (get_str(tb, VUP_BRIDGE_A_NAME, out->name, sizeof(out->name)) ||
	    get_str(tb, VUP_BRIDGE_A_UUID, out->uuid, sizeof(out->uuid)))
		return -EINVAL;
	return 0;
}

/* libnl's error codes as errno, for what fails before the kernel answers. */
static int nlerr(int e)
{
	switch (e < 0 ? -e : e) {
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_INTR:
		return -EINTR;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_PROTO_MISMATCH:
		return -EPROTONOSUPPORT;
	default:
		return -EIO;
	}
}

/* ---- loading the module ---- */

/* vup_bridge loaded (kmod_load()), said in the bridge's words when it is not built or its symbols are missing. */
static int load_module(char *why, size_t len)
{
	struct kmod_load_info in;
	int ret = kmod_load(getenv(PCI_MODULES_DIR_ENV), VUP_BRIDGE_MODULE, &in, why, len);

	if (ret == -ENOENT && !in.found) {
		snprintf(why, len,
			 "module " VUP_BRIDGE_MODULE " is not available: not built or installed for this kernel (none in "
			 "%s): build it with `make module KDIR=/lib/modules/$(uname -r)/build` and install it, or "
			 "through dkms",
			 in.dir);
	} else if (ret == -ENOENT || ret == -EINVAL) {
		/* the kernel's answer to unknown symbols (or symbols of another build) */
		bool vfio = access("/sys/module/vfio", F_OK) == 0, mdev = access("/sys/module/mdev", F_OK) == 0;

		snprintf(why, len,
			 "module " VUP_BRIDGE_MODULE " (%s) does not load: %s%s%s; the kernel needs VFIO and mdev "
			 "(CONFIG_VFIO_MDEV), and the module this kernel's build (dmesg names the symbols)",
			 in.path, !vfio ? "/sys/module/vfio missing" : "", !vfio && !mdev ? ", " : "",
			 !mdev ? "/sys/module/mdev missing" : (vfio ? "unknown symbols or another kernel's build" : ""));
		ret = -ENOEXEC;
	}
	return ret;
}

/* ---- the request socket ---- */

static struct nl_sock *connect_sock(int *err)
{
	struct nl_sock *sk = nl_socket_alloc();
	int one = 1, r;

	if (!sk) {
		*err = -ENOMEM;
		return NULL;
	}
	r = genl_connect(sk);
	if (r < 0) {
		*err = nlerr(r);
		nl_socket_free(sk);
		return NULL;
	}
	/* the kernel's reason in the error (extended ack), without the request echoed back */
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return sk;
}

int bridge_nl_open(struct bridge_nl **out, char *why, size_t why_len)
{
	struct bridge_nl *nl = calloc(1, sizeof(*nl));
	int ret = 0, fam;

	*out = NULL;
	if (!nl || !(nl->sk = connect_sock(&ret))) {
		ret = ret ? ret : -ENOMEM;
		snprintf(why, why_len, "cannot open a generic netlink socket: %s", strerror(-ret));
		free(nl);
		return ret;
	}
	fam = genl_ctrl_resolve(nl->sk, VUP_BRIDGE_GENL_NAME);
	if (fam == -NLE_OBJ_NOTFOUND) {
		log_debug("bridge: no generic netlink family " VUP_BRIDGE_GENL_NAME ": loading the module");
		ret = load_module(why, why_len);
		if (!ret) {
			fam = genl_ctrl_resolve(nl->sk, VUP_BRIDGE_GENL_NAME);
			if (fam == -NLE_OBJ_NOTFOUND) {
				snprintf(why, why_len, "module " VUP_BRIDGE_MODULE " is loaded but registers no "
					 "generic netlink family " VUP_BRIDGE_GENL_NAME " (another build?)");
				ret = -ENOENT;
			}
		}
	}
	if (!ret && fam < 0) {
		ret = nlerr(fam);
		snprintf(why, why_len, "cannot look up generic netlink family " VUP_BRIDGE_GENL_NAME ": %s",
			 nl_geterror(fam));
	}
	if (ret) {
		bridge_nl_close(nl);
		return ret;
	}
	nl->family = fam;
	*out = nl;
	return 0;
}

void bridge_nl_close(struct bridge_nl *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk);
	if (nl->ev)
		nl_socket_free(nl->ev);
	free(nl);
}

const char *bridge_nl_ext_msg(const struct bridge_nl *nl)
{
	return nl->ext_msg;
}

/* One request in flight: its replies go to fn, its end (ack, dump done or error) ends it. */
struct request {
	struct bridge_nl *nl;
	int (*fn)(struct nlmsghdr *nlh, void *arg);
	void *arg;
	int err;
	bool done;
};

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct request *r = arg;
	int ret = r->fn ? r->fn(nlmsg_hdr(msg), r->arg) : 0;

	if (ret) {
		r->err = ret;
		r->done = true;
		return NL_STOP;
	}
	return NL_OK;
}

static int on_done(struct nl_msg *msg, void *arg)
{
	((struct request *)arg)->done = true;
	return NL_STOP;
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct request *r = arg;
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t off = NLMSG_HDRLEN + sizeof(*e);

	r->err = e->error < 0 ? e->error : -EIO;
	r->done = true;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && nlh->nlmsg_len > off &&
	    nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)nlh + off), (int)(nlh->nlmsg_len - off),
		      NULL) == 0 &&
	    tb[NLMSGERR_ATTR_MSG])
		snprintf(r->nl->ext_msg, sizeof(r->nl->ext_msg), "%.*s", nla_len(tb[NLMSGERR_ATTR_MSG]),
			 (const char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
	return NL_STOP;
}

/* Sends msg (freed) and reads until its end: 0, fn's first non-zero result, or a negative errno. */
static int transact(struct bridge_nl *nl, struct nl_msg *msg, int (*fn)(struct nlmsghdr *, void *), void *arg)
{
	struct request r = { .nl = nl, .fn = fn, .arg = arg };
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int ret;

	nl->ext_msg[0] = '\0';
	if (!cb) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, &r);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_done, &r);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_done, &r);
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, &r);
	ret = nl_send_auto(nl->sk, msg);
	nlmsg_free(msg);
	if (ret < 0) {
		nl_cb_put(cb);
		return nlerr(ret);
	}
	while (!r.done) {
		ret = nl_recvmsgs(nl->sk, cb);
		if (ret < 0 && !r.done) {
			r.err = nlerr(ret);
			break;
		}
	}
	nl_cb_put(cb);
	return r.err;
}

static struct nl_msg *new_msg(struct bridge_nl *nl, uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (msg && !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, flags, cmd, VUP_BRIDGE_GENL_VERSION)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return msg;
}

static int put_target(struct nl_msg *msg, const char *name_or_uuid)
{
	return nla_put_string(msg, bridge_is_uuid(name_or_uuid) ? VUP_BRIDGE_A_UUID : VUP_BRIDGE_A_NAME,
			      name_or_uuid);
}

static int create_reply(struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *tb[VUP_BRIDGE_A_MAX + 1];

	if (genlmsg_parse(nlh, 0, tb, VUP_BRIDGE_A_MAX, attr_policy) < 0 ||
	    get_str(tb, VUP_BRIDGE_A_UUID, arg, VUP_BRIDGE_UUID_LEN + 1))
		return -EPROTO;
	return 0;
}

int bridge_nl_create(struct bridge_nl *nl, const struct bridge_create_req *req, char *uuid_out)
{
	struct nl_msg *msg = new_msg(nl, VUP_BRIDGE_CMD_CREATE, 0);
	const struct {
		int type, value;
	} ids[] = {
		{ VUP_BRIDGE_A_VENDOR, req->vendor },
		{ VUP_BRIDGE_A_DEVICE, req->device },
		{ VUP_BRIDGE_A_SUBSYS_VENDOR, req->subsys_vendor },
		{ VUP_BRIDGE_A_SUBSYS_DEVICE, req->subsys_device },
	};
	int bad = 0;

	if (!msg)
		return -ENOMEM;
	uuid_out[0] = '\0';
	bad |= nla_put_string(msg, VUP_BRIDGE_A_UUID, req->uuid);
	if (req->name[0])
		bad |= nla_put_string(msg, VUP_BRIDGE_A_NAME, req->name);
	if (req->msix)
		bad |= nla_put_u32(msg, VUP_BRIDGE_A_MSIX, req->msix);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (ids[i].value >= 0)
			bad |= nla_put_u16(msg, ids[i].type, (uint16_t)ids[i].value);
	if (bad) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return transact(nl, msg, create_reply, uuid_out);
}

static int get_reply(struct nlmsghdr *nlh, void *arg)
{
	return bridge_parse_instance(nlh, arg) ? -EPROTO : 0;
}

int bridge_nl_get(struct bridge_nl *nl, const char *name_or_uuid, struct bridge_instance *out)
{
	struct nl_msg *msg = new_msg(nl, VUP_BRIDGE_CMD_LIST, 0);

	if (!msg)
		return -ENOMEM;
	out->name[0] = '\0';
	if (put_target(msg, name_or_uuid)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return transact(nl, msg, get_reply, out);
}

struct dump_arg {
	int (*fn)(const struct bridge_instance *in, void *arg);
	void *arg;
};

static int dump_reply(struct nlmsghdr *nlh, void *arg)
{
	struct dump_arg *d = arg;
	struct bridge_instance in;

	if (bridge_parse_instance(nlh, &in))
		return -EPROTO;
	return d->fn(&in, d->arg);
}

int bridge_nl_dump(struct bridge_nl *nl, int (*fn)(const struct bridge_instance *in, void *arg), void *arg)
{
	struct nl_msg *msg = new_msg(nl, VUP_BRIDGE_CMD_LIST, NLM_F_DUMP);
	struct dump_arg d = { fn, arg };

	if (!msg)
		return -ENOMEM;
	return transact(nl, msg, dump_reply, &d);
}

int bridge_nl_inject(struct bridge_nl *nl, const char *name_or_uuid, uint32_t fault, uint32_t arg)
{
	struct nl_msg *msg = new_msg(nl, VUP_BRIDGE_CMD_INJECT, 0);

	if (!msg)
		return -ENOMEM;
	if (put_target(msg, name_or_uuid) || nla_put_u32(msg, VUP_BRIDGE_A_FAULT, fault) ||
	    (arg && nla_put_u32(msg, VUP_BRIDGE_A_FAULT_ARG, arg))) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return transact(nl, msg, NULL, NULL);
}

/* ---- events ---- */

int bridge_nl_subscribe(struct bridge_nl *nl)
{
	int grp, ret = 0;

	grp = genl_ctrl_resolve_grp(nl->sk, VUP_BRIDGE_GENL_NAME, VUP_BRIDGE_MCGRP_EVENTS);
	if (grp < 0)
		return nlerr(grp);
	nl->ev = connect_sock(&ret);
	if (!nl->ev)
		return ret;
	ret = nl_socket_add_membership(nl->ev, grp);
	if (!ret)
		ret = nl_socket_set_nonblocking(nl->ev);
	return ret < 0 ? nlerr(ret) : 0;
}

int bridge_nl_event_fd(const struct bridge_nl *nl)
{
	return nl->ev ? nl_socket_get_fd(nl->ev) : -1;
}

struct event_arg {
	int (*fn)(const struct bridge_event *ev, void *arg);
	void *arg;
	int ret;
};

static int on_event(struct nl_msg *msg, void *arg)
{
	struct event_arg *a = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct genlmsghdr *g = nlmsg_data(nlh);
	struct bridge_event ev;

	if (g->cmd != VUP_BRIDGE_CMD_EVENT || bridge_parse_event(nlh, &ev)) {
		log_debug("bridge: a malformed message on the events group, skipped");
		return NL_SKIP;
	}
	a->ret = a->fn(&ev, a->arg);
	return a->ret ? NL_STOP : NL_OK;
}

/* events carry no sequence number of ours */
static int any_seq(struct nl_msg *msg, void *arg)
{
	return NL_OK;
}

int bridge_nl_read_events(struct bridge_nl *nl, int (*fn)(const struct bridge_event *ev, void *arg), void *arg)
{
	struct event_arg a = { fn, arg, 0 };
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int ret;

	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_event, &a);
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, any_seq, NULL);
	ret = nl_recvmsgs(nl->ev, cb);
	nl_cb_put(cb);
	if (a.ret)
		return a.ret;
	return ret < 0 ? nlerr(ret) : 0;
}
