/* vup_bridge.h: the bridge module's generic netlink interface (family, commands, attributes, faults, events), shared by bridge/ and `vfio-user-proxy bridge`. */
#ifndef VUP_BRIDGE_H
#define VUP_BRIDGE_H

/*
 * Family VUP_BRIDGE_GENL_NAME, version VUP_BRIDGE_GENL_VERSION, one multicast group for events. Every
 * command but LIST needs CAP_NET_ADMIN (GENL_ADMIN_PERM). Instances are mdev devices of the parent
 * device VUP_BRIDGE_PARENT (/sys/class/mdev_bus/vup_bridge), type "vup_bridge-edu" in its
 * mdev_supported_types; the mdev core makes them from a UUID written to that type's `create` and
 * removes them through /sys/bus/mdev/devices/UUID/remove (it exports no way for a module to do either).
 *
 * CREATE    UUID [NAME] [MSIX] [VENDOR] [DEVICE] [SUBSYS_VENDOR] [SUBSYS_DEVICE]: keeps these parameters
 *           for the instance the next write of UUID to `create` makes (for 30 s); `vfio-user-proxy bridge
 *           create` sends it, writes the UUID, then LISTs the instance. EEXIST: the name is taken.
 *           An instance created through sysfs alone gets the defaults and the name mdev-<first 8 of UUID>.
 * LIST      dump, or one instance by NAME or UUID: NAME UUID SYSFS_PATH [GROUP] [CDEV] MSIX VENDOR DEVICE
 *           SUBSYS_VENDOR SUBSYS_DEVICE OPEN and the COUNTER_* attributes.
 * INJECT    NAME or UUID, FAULT [FAULT_ARG].
 * EVENT     (multicast, module to user) EVENT_TYPE NAME UUID.
 * (Destroying is the mdev core's `remove`: a connected VFIO user is asked to let go through the device
 * request, and the write returns once it has.)
 */
#define VUP_BRIDGE_GENL_NAME "vup_bridge"
#define VUP_BRIDGE_GENL_VERSION 1
#define VUP_BRIDGE_MCGRP_EVENTS "events"
#define VUP_BRIDGE_MODULE "vup_bridge"
#define VUP_BRIDGE_PARENT "vup_bridge"
#define VUP_BRIDGE_TYPE "edu" /* the type directory is "vup_bridge-edu" */
#define VUP_BRIDGE_NAME_MAX 32 /* with its NUL */
#define VUP_BRIDGE_UUID_LEN 36 /* text form, without its NUL */
#define VUP_BRIDGE_MAX_MSIX 8u /* the model's MSI-X table (EDU_MSIX_VECTORS) */

enum vup_bridge_cmd {
	VUP_BRIDGE_CMD_UNSPEC,
	VUP_BRIDGE_CMD_CREATE,
	VUP_BRIDGE_CMD_LIST,
	VUP_BRIDGE_CMD_INJECT,
	VUP_BRIDGE_CMD_EVENT,
	__VUP_BRIDGE_CMD_MAX,
};
#define VUP_BRIDGE_CMD_MAX (__VUP_BRIDGE_CMD_MAX - 1)

enum vup_bridge_attr {
	VUP_BRIDGE_A_UNSPEC,
	VUP_BRIDGE_A_NAME,          /* string, < VUP_BRIDGE_NAME_MAX, [A-Za-z0-9_.-] */
	VUP_BRIDGE_A_UUID,          /* string, 36 characters */
	VUP_BRIDGE_A_MSIX,          /* u32 vectors, 1..VUP_BRIDGE_MAX_MSIX (default 8) */
	VUP_BRIDGE_A_VENDOR,        /* u16 PCI IDs (defaults: the edu device's) */
	VUP_BRIDGE_A_DEVICE,        /* u16 */
	VUP_BRIDGE_A_SUBSYS_VENDOR, /* u16 */
	VUP_BRIDGE_A_SUBSYS_DEVICE, /* u16 */
	VUP_BRIDGE_A_SYSFS_PATH,    /* string: /sys/bus/mdev/devices/UUID */
	VUP_BRIDGE_A_GROUP,         /* u32: the VFIO group number (/dev/vfio/N) */
	VUP_BRIDGE_A_CDEV,          /* string: vfioX (/dev/vfio/devices/vfioX), where the kernel has them */
	VUP_BRIDGE_A_OPEN,          /* u8: a VFIO user has the device open */
	VUP_BRIDGE_A_COUNTER_MMIO,  /* u64: region reads and writes */
	VUP_BRIDGE_A_COUNTER_DMA_BYTES, /* u64: bytes the DMA engine moved */
	VUP_BRIDGE_A_COUNTER_IRQS,  /* u64: interrupts signalled */
	VUP_BRIDGE_A_COUNTER_RESETS, /* u64 */
	VUP_BRIDGE_A_COUNTER_OPENS, /* u64 */
	VUP_BRIDGE_A_FAULT,         /* u32: enum vup_bridge_fault */
	VUP_BRIDGE_A_FAULT_ARG,     /* u32: STALL_READS: milliseconds (1..10000) */
	VUP_BRIDGE_A_EVENT_TYPE,    /* u32: enum vup_bridge_event */
	VUP_BRIDGE_A_PAD,
	__VUP_BRIDGE_A_MAX,
};
#define VUP_BRIDGE_A_MAX (__VUP_BRIDGE_A_MAX - 1)

enum vup_bridge_fault {
	VUP_BRIDGE_FAULT_DMA_FAIL = 1, /* the next DMA fails as an IOMMU fault would (EDU_DMA_CMD_ERROR) */
	VUP_BRIDGE_FAULT_ERR_IRQ,      /* signal the ERR interrupt (VFIO_PCI_ERR_IRQ_INDEX) */
	VUP_BRIDGE_FAULT_STALL_READS,  /* BAR reads take FAULT_ARG ms each until it has passed once */
	VUP_BRIDGE_FAULT_SURPRISE_REMOVAL, /* reads all-ones from now on, then the device request, then gone */
};

enum vup_bridge_event {
	VUP_BRIDGE_EV_CREATED = 1,
	VUP_BRIDGE_EV_OPENED,
	VUP_BRIDGE_EV_RESET,
	VUP_BRIDGE_EV_CLOSED,
	VUP_BRIDGE_EV_DESTROYED,
};

#endif /* VUP_BRIDGE_H */
