// SPDX-License-Identifier: GPL-2.0
/* bridge_irq.c: a bridge instance's interrupts: the model's IRQ output to the user's eventfds (INTx with mask/unmask, MSI, MSI-X, ERR, REQ), VFIO_DEVICE_SET_IRQS and GET_IRQ_INFO. */

#include <linux/err.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>

#include "bridge_dev.h"
#include "bridge_irq.h"

static const u32 vupb_irq_counts[VUPB_NUM_IRQS] = {
	[VFIO_PCI_INTX_IRQ_INDEX] = 1,
	[VFIO_PCI_MSI_IRQ_INDEX] = 1,
	[VFIO_PCI_MSIX_IRQ_INDEX] = EDU_MSIX_VECTORS,
	[VFIO_PCI_ERR_IRQ_INDEX] = 1,
	[VFIO_PCI_REQ_IRQ_INDEX] = 1,
};

static u32 vupb_irq_count(const struct vupb_dev *d, unsigned int index)
{
	if (index == VFIO_PCI_MSIX_IRQ_INDEX)
		return d->params.msix;
	return vupb_irq_counts[index];
}

/* Signals an eventfd; d->lock held. */
void vupb_signal(struct vupb_dev *d, struct eventfd_ctx *ctx)
{
	if (!ctx)
		return;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
	d->irqs++;
}

/* INTx is level-triggered and automasked: the user unmasks once it has serviced it. */
static void vupb_intx_deliver(struct vupb_dev *d)
{
	if (d->irq_type != VFIO_PCI_INTX_IRQ_INDEX || !d->intx_asserted || d->intx_masked)
		return;
	if (edu_model_intx_disabled(&d->model))
		return;
	d->intx_masked = true;
	vupb_signal(d, d->trigger[VFIO_PCI_INTX_IRQ_INDEX][0]);
}

/* The model's IRQ output (edu_ops.irq): d->lock held, process context. */
void vupb_model_irq(void *opaque, unsigned int vector, bool level)
{
	struct vupb_dev *d = opaque;

	switch (d->irq_type) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		d->intx_asserted = level;
		vupb_intx_deliver(d);
		break;
	case VFIO_PCI_MSI_IRQ_INDEX:
		if (level && edu_model_bus_master(&d->model))
			vupb_signal(d, d->trigger[VFIO_PCI_MSI_IRQ_INDEX][0]);
		break;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		if (!level || !edu_model_bus_master(&d->model) || vector >= d->params.msix)
			break;
		if (d->trigger[VFIO_PCI_MSIX_IRQ_INDEX][vector])
			vupb_signal(d, d->trigger[VFIO_PCI_MSIX_IRQ_INDEX][vector]);
		else
			d->model.msix_pba |= 1ULL << vector; /* pending until a vector is set up */
		break;
	default:
		/* remembered, so enabling INTx later sees the line as it is */
		d->intx_asserted = level;
		break;
	}
}

/* The INTx unmask eventfd's work (vfio_virqfd's thread: process context, no lock held). */
static void vupb_unmask_thread(void *opaque, void *data)
{
	struct vupb_dev *d = opaque;

	mutex_lock(&d->lock);
	d->intx_masked = false;
	vupb_intx_deliver(d);
	mutex_unlock(&d->lock);
}

static void vupb_put_trigger(struct eventfd_ctx **slot)
{
	if (*slot)
		eventfd_ctx_put(*slot);
	*slot = NULL;
}

/* igate held, d->lock not: vfio_virqfd_disable() waits for vupb_unmask_thread(). */
static void vupb_unmask_fd_disable(struct vupb_dev *d)
{
#if IS_ENABLED(CONFIG_VFIO_VIRQFD)
	vfio_virqfd_disable(&d->intx_unmask);
#endif
}

/* Disables an index (its eventfds put); igate held, d->lock not. */
static void vupb_disable_index(struct vupb_dev *d, unsigned int index)
{
	unsigned int v;

	if (index == VFIO_PCI_INTX_IRQ_INDEX)
		vupb_unmask_fd_disable(d);
	mutex_lock(&d->lock);
	for (v = 0; v < EDU_MSIX_VECTORS; v++)
		vupb_put_trigger(&d->trigger[index][v]);
	if (index == VFIO_PCI_INTX_IRQ_INDEX)
		d->intx_masked = false;
	if ((int)index == d->irq_type)
		d->irq_type = VUPB_IRQ_NONE;
	mutex_unlock(&d->lock);
}

void vupb_irqs_disable_all(struct vupb_dev *d)
{
	unsigned int i;

	mutex_lock(&d->igate);
	for (i = 0; i < VUPB_NUM_IRQS; i++)
		vupb_disable_index(d, i);
	mutex_unlock(&d->igate);
	mutex_lock(&d->lock);
	d->intx_asserted = false;
	mutex_unlock(&d->lock);
}

/*
 * Holds the eventfds of fds[0..count) in ctxs (NULL for -1): 0, or -EINVAL /
 * -EBADF with nothing held.
 */
static int vupb_get_ctxs(const s32 *fds, u32 count, struct eventfd_ctx **ctxs)
{
	u32 i;

	for (i = 0; i < count; i++) {
		ctxs[i] = NULL;
		if (fds[i] < 0)
			continue;
		ctxs[i] = eventfd_ctx_fdget(fds[i]);
		if (IS_ERR(ctxs[i])) {
			int ret = PTR_ERR(ctxs[i]);

			while (i--)
				if (ctxs[i])
					eventfd_ctx_put(ctxs[i]);
			return ret;
		}
	}
	return 0;
}

static bool vupb_bool(u32 flags, const u8 *data, u32 i)
{
	return (flags & VFIO_IRQ_SET_DATA_NONE) || data[i];
}

/* INTx mask and unmask, as vfio-pci: INTx must be the enabled type; no mask eventfd. */
static int vupb_intx_mask(struct vupb_dev *d, u32 flags, const void *data)
{
	bool unmask = (flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) == VFIO_IRQ_SET_ACTION_UNMASK;

	if (READ_ONCE(d->irq_type) != VFIO_PCI_INTX_IRQ_INDEX)
		return -EINVAL;
	if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		s32 fd = *(const s32 *)data;

		if (!unmask)
			return -ENOTTY;
#if IS_ENABLED(CONFIG_VFIO_VIRQFD)
		if (fd >= 0)
			return vfio_virqfd_enable(d, NULL, vupb_unmask_thread, NULL,
						  &d->intx_unmask, fd);
		vupb_unmask_fd_disable(d);
		return 0;
#else
		return fd >= 0 ? -ENOTTY : 0;
#endif
	}
	if (!vupb_bool(flags, data, 0))
		return 0;
	mutex_lock(&d->lock);
	if (unmask) {
		d->intx_masked = false;
		vupb_intx_deliver(d); /* still asserted: it fires again */
	} else {
		d->intx_masked = true;
	}
	mutex_unlock(&d->lock);
	return 0;
}

/* TRIGGER on INTx, MSI or MSI-X: one type at a time, as vfio-pci. */
static int vupb_set_trigger(struct vupb_dev *d, unsigned int index, u32 flags, u32 start,
			    u32 count, const void *data)
{
	struct eventfd_ctx *ctxs[EDU_MSIX_VECTORS];
	int type = READ_ONCE(d->irq_type);
	u32 i;
	int ret;

	if (type == (int)index && !count && (flags & VFIO_IRQ_SET_DATA_NONE)) {
		vupb_disable_index(d, index);
		return 0;
	}
	if (type != (int)index && type != VUPB_IRQ_NONE)
		return -EINVAL;
	if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		ret = vupb_get_ctxs(data, count, ctxs);
		if (ret)
			return ret;
		mutex_lock(&d->lock);
		for (i = 0; i < count; i++) {
			u32 v = start + i;

			vupb_put_trigger(&d->trigger[index][v]);
			d->trigger[index][v] = ctxs[i];
			if (index == VFIO_PCI_MSIX_IRQ_INDEX && ctxs[i] &&
			    (d->model.msix_pba & (1ULL << v))) {
				d->model.msix_pba &= ~(1ULL << v);
				vupb_signal(d, ctxs[i]);
			}
		}
		d->irq_type = index;
		if (index == VFIO_PCI_INTX_IRQ_INDEX) {
			d->intx_masked = false;
			vupb_intx_deliver(d);
		}
		mutex_unlock(&d->lock);
		return 0;
	}
	if (type != (int)index)
		return -EINVAL;
	/* DATA_NONE / DATA_BOOL: the user fires the interrupt itself (loopback) */
	mutex_lock(&d->lock);
	for (i = 0; i < count; i++)
		if (vupb_bool(flags, data, i))
			vupb_signal(d, d->trigger[index][start + i]);
	mutex_unlock(&d->lock);
	return 0;
}

/* ERR and REQ: one eventfd each, as vfio-pci's single-context triggers. */
static int vupb_set_single(struct vupb_dev *d, unsigned int index, u32 flags, u32 count,
			   const void *data)
{
	struct eventfd_ctx **slot = &d->trigger[index][0];
	struct eventfd_ctx *ctx;
	int ret = 0;

	if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		s32 fd = *(const s32 *)data;

		ctx = NULL;
		if (fd >= 0) {
			ctx = eventfd_ctx_fdget(fd);
			if (IS_ERR(ctx))
				return PTR_ERR(ctx);
		}
		mutex_lock(&d->lock);
		vupb_put_trigger(slot);
		*slot = ctx;
		mutex_unlock(&d->lock);
		return 0;
	}
	mutex_lock(&d->lock);
	if (!*slot)
		ret = -EINVAL;
	else if (!count)
		vupb_put_trigger(slot);
	else if (vupb_bool(flags, data, 0))
		vupb_signal(d, *slot);
	mutex_unlock(&d->lock);
	return ret;
}

long vupb_ioctl_set_irqs(struct vupb_dev *d, unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	struct vfio_irq_set hdr;
	size_t data_size = 0;
	u32 action;
	void *data = NULL;
	int ret;

	if (copy_from_user(&hdr, (void __user *)arg, minsz))
		return -EFAULT;
	if (hdr.index >= VUPB_NUM_IRQS)
		return -EINVAL;
	ret = vfio_set_irqs_validate_and_prepare(&hdr, vupb_irq_count(d, hdr.index),
						 VUPB_NUM_IRQS, &data_size);
	if (ret)
		return ret;
	/* only DATA_NONE may come without data: count 0 disables an index */
	if (!hdr.count && !(hdr.flags & VFIO_IRQ_SET_DATA_NONE))
		return -EINVAL;
	if (data_size) {
		data = memdup_user((void __user *)(arg + minsz), data_size);
		if (IS_ERR(data))
			return PTR_ERR(data);
	}
	action = hdr.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;

	mutex_lock(&d->igate);
	switch (hdr.index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		if (action != VFIO_IRQ_SET_ACTION_TRIGGER) {
			ret = hdr.count ? vupb_intx_mask(d, hdr.flags, data) : -EINVAL;
			break;
		}
		fallthrough;
	case VFIO_PCI_MSI_IRQ_INDEX:
	case VFIO_PCI_MSIX_IRQ_INDEX:
		if (action != VFIO_IRQ_SET_ACTION_TRIGGER) {
			ret = -ENOTTY;
			break;
		}
		ret = vupb_set_trigger(d, hdr.index, hdr.flags, hdr.start, hdr.count, data);
		break;
	default:
		if (action != VFIO_IRQ_SET_ACTION_TRIGGER) {
			ret = -ENOTTY;
			break;
		}
		ret = vupb_set_single(d, hdr.index, hdr.flags, hdr.count, data);
		break;
	}
	mutex_unlock(&d->igate);
	kfree(data);
	return ret;
}

long vupb_ioctl_irq_info(struct vupb_dev *d, unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);
	struct vfio_irq_info info;

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index >= VUPB_NUM_IRQS)
		return -EINVAL;
	info.flags = VFIO_IRQ_INFO_EVENTFD;
	info.count = vupb_irq_count(d, info.index);
	if (info.index == VFIO_PCI_INTX_IRQ_INDEX)
		info.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else if (info.index == VFIO_PCI_MSI_IRQ_INDEX || info.index == VFIO_PCI_MSIX_IRQ_INDEX)
		info.flags |= VFIO_IRQ_INFO_NORESIZE;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}
