/* bridge.h: what the bridge module's parts share: the parameters of an instance, what the netlink control (bridge_genl.c) asks of the device side (bridge_main.c, bridge_dev.c), and the events it sends. */
#ifndef VUP_BRIDGE_INTERNAL_H
#define VUP_BRIDGE_INTERNAL_H

#include <linux/types.h>
#include <linux/uuid.h>

#include "vup_bridge.h"

struct vupb_dev;

/* What an instance is made with: from a netlink CREATE, or the defaults for a bare sysfs create. */
struct vupb_params {
	char name[VUP_BRIDGE_NAME_MAX];
	guid_t uuid;
	u32 msix; /* MSI-X vectors */
	u16 vendor, device, subsys_vendor, subsys_device;
};

/* A snapshot of one instance, for LIST and for events. */
struct vupb_info {
	struct vupb_params params;
	char sysfs_path[96]; /* /sys/bus/mdev/devices/UUID */
	int group;           /* VFIO group number, or -1 */
	char cdev[16];       /* "vfioX", or "" where the kernel has no VFIO cdev */
	bool open;
	u64 mmio, dma_bytes, irqs, resets, opens;
};

/* ---- the device side (bridge_main.c), for the control; process context, may sleep ---- */

/*
 * Keeps p for the instance the next create of p->uuid makes (for 30 s). 0, -EEXIST when the name is
 * taken (by an instance or a kept create), -EBUSY when the UUID is, -EINVAL for bad parameters.
 */
int vupb_keep_params(const struct vupb_params *p);
/*
 * Calls fn for each instance (name or uuid NULL: every one; else the one that matches) with the device
 * list locked: fn must not call back into vupb_*. Returns fn's first non-zero result, 0, or -ENOENT when
 * a name or UUID was given and nothing matched.
 */
int vupb_for_each(const char *name, const guid_t *uuid, int (*fn)(struct vupb_dev *d, void *arg), void *arg);
void vupb_get_info(struct vupb_dev *d, struct vupb_info *out);
/* Arms a fault (enum vup_bridge_fault) on d: 0, -EINVAL (unknown fault or bad arg). */
int vupb_inject(struct vupb_dev *d, u32 fault, u32 arg);

/* ---- the control (bridge_genl.c), for the device side ---- */

int vupb_genl_init(void);
void vupb_genl_exit(void);
/* Multicasts an event (enum vup_bridge_event) about the instance described by info; process context,
 * takes no lock of the device side. A no-op when nobody listens. */
void vupb_notify(const struct vupb_info *info, u32 event);

#endif /* VUP_BRIDGE_INTERNAL_H */
