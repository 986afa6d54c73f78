// SPDX-License-Identifier: GPL-2.0
/* bridge_genl.c: the bridge module's generic netlink control: the vup_bridge family (CREATE, LIST, INJECT), its policy and the events multicast group. */

#include <linux/ctype.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/uuid.h>
#include <linux/version.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "bridge.h"
#include "edu_model.h"

#define VUPB_DEFAULT_MSIX 8

static const struct nla_policy vupb_policy[VUP_BRIDGE_A_MAX + 1] = {
	[VUP_BRIDGE_A_NAME] = { .type = NLA_NUL_STRING, .len = VUP_BRIDGE_NAME_MAX - 1 },
	[VUP_BRIDGE_A_UUID] = { .type = NLA_NUL_STRING, .len = VUP_BRIDGE_UUID_LEN },
	[VUP_BRIDGE_A_MSIX] = NLA_POLICY_RANGE(NLA_U32, 1, VUP_BRIDGE_MAX_MSIX),
	[VUP_BRIDGE_A_VENDOR] = { .type = NLA_U16 },
	[VUP_BRIDGE_A_DEVICE] = { .type = NLA_U16 },
	[VUP_BRIDGE_A_SUBSYS_VENDOR] = { .type = NLA_U16 },
	[VUP_BRIDGE_A_SUBSYS_DEVICE] = { .type = NLA_U16 },
	[VUP_BRIDGE_A_FAULT] = NLA_POLICY_RANGE(NLA_U32, VUP_BRIDGE_FAULT_DMA_FAIL,
						VUP_BRIDGE_FAULT_SURPRISE_REMOVAL),
	[VUP_BRIDGE_A_FAULT_ARG] = NLA_POLICY_MAX(NLA_U32, 10000),
};

static struct genl_family vupb_genl_family;

enum vupb_mcgrp {
	VUPB_MCGRP_EVENTS,
};

static const struct genl_multicast_group vupb_mcgrps[] = {
	[VUPB_MCGRP_EVENTS] = { .name = VUP_BRIDGE_MCGRP_EVENTS },
};

/* A name is [A-Za-z0-9_.-]+: it lands in log lines and file names of the tools. */
static bool vupb_name_valid(const char *name)
{
	const char *c;

	if (!*name)
		return false;
	for (c = name; *c; c++)
		if (!isalnum(*c) && *c != '_' && *c != '.' && *c != '-')
			return false;
	return true;
}

/* The UUID attribute: 0, -ENODATA when absent, -EINVAL when malformed (said in the extack). */
static int vupb_get_uuid(struct genl_info *info, guid_t *uuid)
{
	struct nlattr *a = info->attrs[VUP_BRIDGE_A_UUID];

	if (!a)
		return -ENODATA;
	if (nla_len(a) != VUP_BRIDGE_UUID_LEN + 1 || guid_parse(nla_data(a), uuid)) {
		NL_SET_ERR_MSG_ATTR(info->extack, a,
				    "UUID must be 36 characters as 01234567-89ab-cdef-0123-456789abcdef");
		return -EINVAL;
	}
	return 0;
}

/* The NAME or UUID that picks one instance: 0 with *name or *uuid set (the other NULL). */
static int vupb_get_target(struct genl_info *info, const char **name, guid_t *uuid_buf,
			   const guid_t **uuid)
{
	int ret;

	*name = NULL;
	*uuid = NULL;
	if (info->attrs[VUP_BRIDGE_A_NAME]) {
		*name = nla_data(info->attrs[VUP_BRIDGE_A_NAME]);
		return 0;
	}
	ret = vupb_get_uuid(info, uuid_buf);
	if (ret == -ENODATA) {
		GENL_SET_ERR_MSG(info, "give the instance's NAME or UUID");
		return -EINVAL;
	}
	if (!ret)
		*uuid = uuid_buf;
	return ret;
}

static int vupb_nl_create(struct sk_buff *skb, struct genl_info *info)
{
	struct vupb_params p = {
		.msix = VUPB_DEFAULT_MSIX,
		.vendor = EDU_VENDOR_ID,
		.device = EDU_DEVICE_ID,
		.subsys_vendor = EDU_SUBSYS_VENDOR_ID,
		.subsys_device = EDU_SUBSYS_ID,
	};
	struct nlattr **a = info->attrs;
	struct sk_buff *msg;
	char uuid[VUP_BRIDGE_UUID_LEN + 1];
	void *hdr;
	int ret;

	ret = vupb_get_uuid(info, &p.uuid);
	if (ret == -ENODATA) {
		GENL_SET_ERR_MSG(info, "CREATE needs the instance's UUID");
		return -EINVAL;
	}
	if (ret)
		return ret;
	snprintf(uuid, sizeof(uuid), "%pUl", &p.uuid);
	if (a[VUP_BRIDGE_A_NAME]) {
		nla_strscpy(p.name, a[VUP_BRIDGE_A_NAME], sizeof(p.name));
		if (!vupb_name_valid(p.name)) {
			NL_SET_ERR_MSG_ATTR(info->extack, a[VUP_BRIDGE_A_NAME],
					    "a name is letters, digits, '_', '.' and '-'");
			return -EINVAL;
		}
	} else {
		/* as for an instance created through sysfs alone */
		snprintf(p.name, sizeof(p.name), "mdev-%.8s", uuid);
	}
	if (a[VUP_BRIDGE_A_MSIX])
		p.msix = nla_get_u32(a[VUP_BRIDGE_A_MSIX]);
	if (a[VUP_BRIDGE_A_VENDOR])
		p.vendor = nla_get_u16(a[VUP_BRIDGE_A_VENDOR]);
	if (a[VUP_BRIDGE_A_DEVICE])
		p.device = nla_get_u16(a[VUP_BRIDGE_A_DEVICE]);
	if (a[VUP_BRIDGE_A_SUBSYS_VENDOR])
		p.subsys_vendor = nla_get_u16(a[VUP_BRIDGE_A_SUBSYS_VENDOR]);
	if (a[VUP_BRIDGE_A_SUBSYS_DEVICE])
		p.subsys_device = nla_get_u16(a[VUP_BRIDGE_A_SUBSYS_DEVICE]);

	ret = vupb_keep_params(&p);
	if (ret == -EEXIST)
		NL_SET_ERR_MSG_ATTR(info->extack, a[VUP_BRIDGE_A_NAME], "the name is taken");
	else if (ret == -EBUSY)
		NL_SET_ERR_MSG_ATTR(info->extack, a[VUP_BRIDGE_A_UUID], "the UUID is taken");
	if (ret)
		return ret;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &vupb_genl_family, 0, VUP_BRIDGE_CMD_CREATE);
	if (!hdr)
		goto too_big;
	if (nla_put_string(msg, VUP_BRIDGE_A_UUID, uuid) || nla_put_string(msg, VUP_BRIDGE_A_NAME, p.name))
		goto too_big;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

too_big:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* The attributes of one instance, as LIST replies and events carry them. */
static int vupb_put_info(struct sk_buff *msg, const struct vupb_info *in)
{
	char uuid[VUP_BRIDGE_UUID_LEN + 1];

	snprintf(uuid, sizeof(uuid), "%pUl", &in->params.uuid);
	if (nla_put_string(msg, VUP_BRIDGE_A_NAME, in->params.name) ||
	    nla_put_string(msg, VUP_BRIDGE_A_UUID, uuid) ||
	    nla_put_string(msg, VUP_BRIDGE_A_SYSFS_PATH, in->sysfs_path) ||
	    (in->group >= 0 && nla_put_u32(msg, VUP_BRIDGE_A_GROUP, in->group)) ||
	    (in->cdev[0] && nla_put_string(msg, VUP_BRIDGE_A_CDEV, in->cdev)) ||
	    nla_put_u32(msg, VUP_BRIDGE_A_MSIX, in->params.msix) ||
	    nla_put_u16(msg, VUP_BRIDGE_A_VENDOR, in->params.vendor) ||
	    nla_put_u16(msg, VUP_BRIDGE_A_DEVICE, in->params.device) ||
	    nla_put_u16(msg, VUP_BRIDGE_A_SUBSYS_VENDOR, in->params.subsys_vendor) ||
	    nla_put_u16(msg, VUP_BRIDGE_A_SUBSYS_DEVICE, in->params.subsys_device) ||
	    nla_put_u8(msg, VUP_BRIDGE_A_OPEN, in->open) ||
	    nla_put_u64_64bit(msg, VUP_BRIDGE_A_COUNTER_MMIO, in->mmio, VUP_BRIDGE_A_PAD) ||
	    nla_put_u64_64bit(msg, VUP_BRIDGE_A_COUNTER_DMA_BYTES, in->dma_bytes, VUP_BRIDGE_A_PAD) ||
	    nla_put_u64_64bit(msg, VUP_BRIDGE_A_COUNTER_IRQS, in->irqs, VUP_BRIDGE_A_PAD) ||
	    nla_put_u64_64bit(msg, VUP_BRIDGE_A_COUNTER_RESETS, in->resets, VUP_BRIDGE_A_PAD) ||
	    nla_put_u64_64bit(msg, VUP_BRIDGE_A_COUNTER_OPENS, in->opens, VUP_BRIDGE_A_PAD))
		return -EMSGSIZE;
	return 0;
}

/* vupb_for_each's callback for LIST's doit: the snapshot of the one instance that matched. */
static int vupb_snapshot(struct vupb_dev *d, void *arg)
{
	vupb_get_info(d, arg);
	return 1;
}

static int vupb_nl_list_one(struct sk_buff *skb, struct genl_info *info)
{
	struct vupb_info *in;
	const guid_t *uuid;
	struct sk_buff *msg;
	const char *name;
	guid_t uuid_buf;
	void *hdr;
	int ret;

	ret = vupb_get_target(info, &name, &uuid_buf, &uuid);
	if (ret)
		return ret;
	in = kzalloc(sizeof(*in), GFP_KERNEL);
	if (!in)
		return -ENOMEM;
	ret = vupb_for_each(name, uuid, vupb_snapshot, in);
	if (ret <= 0) {
		if (ret == -ENOENT)
			GENL_SET_ERR_MSG(info, "no such instance");
		goto out;
	}
	ret = -ENOMEM;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		goto out;
	hdr = genlmsg_put_reply(msg, info, &vupb_genl_family, 0, VUP_BRIDGE_CMD_LIST);
	if (!hdr || vupb_put_info(msg, in)) {
		nlmsg_free(msg);
		ret = -EMSGSIZE;
		goto out;
	}
	genlmsg_end(msg, hdr);
	ret = genlmsg_reply(msg, info);
out:
	kfree(in);
	return ret;
}

/* A dump in progress: cb->args[0] counts the instances already sent in earlier parts. */
struct vupb_dump {
	struct sk_buff *skb;
	struct netlink_callback *cb;
	struct vupb_info info;
	long index;
};

static int vupb_dump_one(struct vupb_dev *d, void *arg)
{
	struct vupb_dump *dump = arg;
	struct netlink_callback *cb = dump->cb;
	void *hdr;

	if (dump->index++ < cb->args[0])
		return 0;
	vupb_get_info(d, &dump->info);
	hdr = genlmsg_put(dump->skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq, &vupb_genl_family,
			  NLM_F_MULTI, VUP_BRIDGE_CMD_LIST);
	if (!hdr)
		return -EMSGSIZE;
	if (vupb_put_info(dump->skb, &dump->info)) {
		genlmsg_cancel(dump->skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(dump->skb, hdr);
	cb->args[0]++;
	return 0;
}

static int vupb_nl_list_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct vupb_dump *dump;
	long sent = cb->args[0];
	int ret;

	dump = kzalloc(sizeof(*dump), GFP_KERNEL);
	if (!dump)
		return -ENOMEM;
	dump->skb = skb;
	dump->cb = cb;
	ret = vupb_for_each(NULL, NULL, vupb_dump_one, dump);
	kfree(dump);
	/* a full part ends this one: the next goes on after what it holds; nothing new ends the dump */
	if (ret == -EMSGSIZE && cb->args[0] > sent)
		return skb->len;
	if (ret)
		return ret;
	return skb->len;
}

struct vupb_inject_arg {
	u32 fault, arg;
};

static int vupb_inject_one(struct vupb_dev *d, void *arg)
{
	struct vupb_inject_arg *f = arg;
	int ret = vupb_inject(d, f->fault, f->arg);

	/* vupb_for_each stops at a non-zero result: a success must say it found the instance */
	return ret ? ret : 1;
}

static int vupb_nl_inject(struct sk_buff *skb, struct genl_info *info)
{
	struct vupb_inject_arg f = { 0 };
	const guid_t *uuid;
	const char *name;
	guid_t uuid_buf;
	int ret;

	ret = vupb_get_target(info, &name, &uuid_buf, &uuid);
	if (ret)
		return ret;
	if (GENL_REQ_ATTR_CHECK(info, VUP_BRIDGE_A_FAULT))
		return -EINVAL;
	f.fault = nla_get_u32(info->attrs[VUP_BRIDGE_A_FAULT]);
	if (info->attrs[VUP_BRIDGE_A_FAULT_ARG])
		f.arg = nla_get_u32(info->attrs[VUP_BRIDGE_A_FAULT_ARG]);
	if (f.fault == VUP_BRIDGE_FAULT_STALL_READS && !f.arg) {
		GENL_SET_ERR_MSG(info, "stall-reads needs FAULT_ARG: milliseconds, 1 to 10000");
		return -EINVAL;
	}
	ret = vupb_for_each(name, uuid, vupb_inject_one, &f);
	if (ret == -ENOENT)
		GENL_SET_ERR_MSG(info, "no such instance");
	else if (ret == -EINVAL)
		GENL_SET_ERR_MSG(info, "the device refused the fault");
	return ret < 0 ? ret : 0;
}

static const struct genl_small_ops vupb_genl_ops[] = {
	{
		.cmd = VUP_BRIDGE_CMD_CREATE,
		.flags = GENL_ADMIN_PERM,
		.doit = vupb_nl_create,
	},
	{
		.cmd = VUP_BRIDGE_CMD_LIST,
		.doit = vupb_nl_list_one,
		.dumpit = vupb_nl_list_dump,
	},
	{
		.cmd = VUP_BRIDGE_CMD_INJECT,
		.flags = GENL_ADMIN_PERM,
		.doit = vupb_nl_inject,
	},
};

/*
 * One policy for the family: every kernel from 6.1 on applies it to small ops (which have none
 * of their own) with strict validation. .resv_start_op stays 0, as a family new in 6.1 must have
 * it: reserved header fields are checked and unknown attributes refused for every command.
 */
static struct genl_family vupb_genl_family __ro_after_init = {
	.name = VUP_BRIDGE_GENL_NAME,
	.version = VUP_BRIDGE_GENL_VERSION,
	.maxattr = VUP_BRIDGE_A_MAX,
	.policy = vupb_policy,
	.module = THIS_MODULE,
	.small_ops = vupb_genl_ops,
	.n_small_ops = ARRAY_SIZE(vupb_genl_ops),
	.mcgrps = vupb_mcgrps,
	.n_mcgrps = ARRAY_SIZE(vupb_mcgrps),
};

void vupb_notify(const struct vupb_info *info, u32 event)
{
	char uuid[VUP_BRIDGE_UUID_LEN + 1];
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&vupb_genl_family, &init_net, VUPB_MCGRP_EVENTS))
		return;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return;
	snprintf(uuid, sizeof(uuid), "%pUl", &info->params.uuid);
	hdr = genlmsg_put(msg, 0, 0, &vupb_genl_family, 0, VUP_BRIDGE_CMD_EVENT);
	if (!hdr || nla_put_u32(msg, VUP_BRIDGE_A_EVENT_TYPE, event) ||
	    nla_put_string(msg, VUP_BRIDGE_A_NAME, info->params.name) ||
	    nla_put_string(msg, VUP_BRIDGE_A_UUID, uuid)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	/* -ESRCH: the last listener just left */
	genlmsg_multicast(&vupb_genl_family, msg, 0, VUPB_MCGRP_EVENTS, GFP_KERNEL);
}

int vupb_genl_init(void)
{
	return genl_register_family(&vupb_genl_family);
}

void vupb_genl_exit(void)
{
	genl_unregister_family(&vupb_genl_family);
}
