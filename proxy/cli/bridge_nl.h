/* bridge_nl.h: the bridge module's generic netlink family from userspace (libnl-genl-3): connecting (loading the module on demand), CREATE, LIST, INJECT, the events group, and the parsers of its messages. */
#ifndef CLI_BRIDGE_NL_H
#define CLI_BRIDGE_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/netlink.h>

#include "vup_bridge.h"

/* One instance, as a LIST reply describes it. */
struct bridge_instance {
	char name[VUP_BRIDGE_NAME_MAX];
	char uuid[VUP_BRIDGE_UUID_LEN + 1];
	char sysfs_path[256];
	int group; /* /dev/vfio/N, or -1 */
	char cdev[32]; /* "vfioX", or "" */
	uint32_t msix;
	uint16_t vendor, device, subsys_vendor, subsys_device;
	bool open;
	uint64_t mmio, dma_bytes, irqs, resets, opens;
};

/* One multicast event. */
struct bridge_event {
	uint32_t type; /* enum vup_bridge_event */
	char name[VUP_BRIDGE_NAME_MAX];
	char uuid[VUP_BRIDGE_UUID_LEN + 1];
};

/* What CREATE sends: name "" for the module's default, the IDs < 0 for theirs, msix 0 for its default. */
struct bridge_create_req {
	char name[VUP_BRIDGE_NAME_MAX];
	char uuid[VUP_BRIDGE_UUID_LEN + 1];
	uint32_t msix;
	int vendor, device, subsys_vendor, subsys_device;
};

struct bridge_nl;

/*
 * Connects to the family, loading the module (libkmod, as modprobe; modules from PCI_MODULES_DIR_ENV or
 * the running kernel's) when it is missing. 0, or a negative errno with why saying it in one line:
 * -ENOENT the module is not built or installed for this kernel, -ENOEXEC it is but VFIO or mdev is missing
 * (unknown symbols), -EPERM not root (or blacklisted), another errno.
 */
int bridge_nl_open(struct bridge_nl **out, char *why, size_t why_len);
void bridge_nl_close(struct bridge_nl *nl);
/* The kernel's extended ack text for the last failed request, or "". */
const char *bridge_nl_ext_msg(const struct bridge_nl *nl);

/* CREATE: 0 with uuid_out (VUP_BRIDGE_UUID_LEN + 1) set from the reply, or a negative errno (-EEXIST the
 * name is taken, -EBUSY the UUID, -EPERM not root). */
int bridge_nl_create(struct bridge_nl *nl, const struct bridge_create_req *req, char *uuid_out);
/* LIST of one instance by NAME or UUID (which one: bridge_is_uuid): 0, -ENOENT none, or a negative errno. */
int bridge_nl_get(struct bridge_nl *nl, const char *name_or_uuid, struct bridge_instance *out);
/* LIST of every instance, fn called for each in the kernel's order (a non-zero result stops it and is
 * returned): 0 or a negative errno. */
int bridge_nl_dump(struct bridge_nl *nl, int (*fn)(const struct bridge_instance *in, void *arg), void *arg);
/* INJECT: 0, -ENOENT no such instance, -EPERM not root, or a negative errno. */
int bridge_nl_inject(struct bridge_nl *nl, const char *name_or_uuid, uint32_t fault, uint32_t arg);

/* Joins the events group: 0 or a negative errno. Then bridge_nl_event_fd() is readable when events wait. */
int bridge_nl_subscribe(struct bridge_nl *nl);
int bridge_nl_event_fd(const struct bridge_nl *nl);
/* Reads what waits on the events socket, fn called per event (non-blocking): 0, fn's first non-zero
 * result, or a negative errno (-EAGAIN: nothing was there). */
int bridge_nl_read_events(struct bridge_nl *nl, int (*fn)(const struct bridge_event *ev, void *arg), void *arg);

/* A 36-character UUID (8-4-4-4-12 hex digits): what tells a UUID from a NAME. */
bool bridge_is_uuid(const char *s);
/* The attributes of a LIST reply or an event (nlh: a whole generic netlink message of the family): 0, or
 * -EINVAL when one is missing or malformed. */
int bridge_parse_instance(struct nlmsghdr *nlh, struct bridge_instance *out);
int bridge_parse_event(struct nlmsghdr *nlh, struct bridge_event *out);

#endif /* CLI_BRIDGE_NL_H */
