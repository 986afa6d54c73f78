/* SPDX-License-Identifier: GPL-2.0 */
/* bridge_dev.h: one bridge instance (struct vupb_dev) as bridge_main.c (the mdev parent, the instance list) and bridge_dev.c (its VFIO device) share it. */
#ifndef VUP_BRIDGE_DEV_H
#define VUP_BRIDGE_DEV_H

#include <linux/eventfd.h>
#include <linux/list.h>
#include <linux/mdev.h>
#include <linux/mutex.h>
#include <linux/vfio.h>

#include "bridge.h"
#include "edu_model.h"

/* Region offsets in the device fd: index << 40, as vfio-pci lays them out. */
#define VUPB_OFFSET_SHIFT 40
#define VUPB_INDEX_TO_OFFSET(i) ((u64)(i) << VUPB_OFFSET_SHIFT)
#define VUPB_OFFSET_MASK ((1ULL << VUPB_OFFSET_SHIFT) - 1)

/*
 * The RAM BAR is mmappable but for one page in the middle, trapped: the sparse
 * layout the userspace emulated backend (proxy/backend/emulated.c) shows too.
 */
#define VUPB_RAM_TRAP_OFFSET 0x80000u
#define VUPB_RAM_TRAP_SIZE 0x1000u

#define VUPB_NUM_IRQS VFIO_PCI_NUM_IRQS
#define VUPB_IRQ_NONE (-1)

struct vupb_dev {
	struct vfio_device vdev;	/* first: vfio_alloc_device() wants it at offset 0 */
	struct mdev_device *mdev;
	struct list_head node;		/* on bridge_main.c's instance list, under its lock */
	struct vupb_params params;
	int group;			/* the IOMMU group number, or -1 */

	/* igate: SET_IRQS, the INTx unmask virqfd; taken before lock, never under */
	struct mutex igate;
	/* lock: everything below; the model's callbacks run under it */
	struct mutex lock;
	struct edu_model model;
	void *ram;			/* EDU_BAR_RAM_SIZE of vmalloc_user() memory: BAR4 */
	bool open;

	int irq_type;			/* the index whose trigger is set up */
	struct eventfd_ctx *trigger[VUPB_NUM_IRQS][EDU_MSIX_VECTORS];
	struct virqfd *intx_unmask;	/* under igate */
	bool intx_masked, intx_asserted;

	/* faults (enum vup_bridge_fault) */
	bool dma_fail;
	bool surprise;			/* READ_ONCE outside the lock too */
	unsigned int stall_ms;		/* likewise */

	u64 mmio, dma_bytes, irqs, resets, opens;
};

/* bridge_dev.c, for bridge_main.c: process context, no lock of ours held. */
struct vupb_dev *vupb_dev_create(struct mdev_device *mdev, const struct vupb_params *p);
/* Waits for the VFIO user to let go (the device request), then nobody reaches d through VFIO. */
void vupb_dev_unregister(struct vupb_dev *d);
void vupb_dev_put(struct vupb_dev *d);

/* Sends event about d (a snapshot taken under d->lock, sent with no lock of ours held). */
void vupb_event(struct vupb_dev *d, u32 event);
/* Defaults for an instance created through sysfs alone. */
void vupb_default_params(struct vupb_params *p, const guid_t *uuid);

#endif /* VUP_BRIDGE_DEV_H */
