/* SPDX-License-Identifier: GPL-2.0 */
/* bridge_irq.h: what bridge_irq.c (a bridge instance's interrupts) offers bridge_dev.c. */
#ifndef VUP_BRIDGE_IRQ_H
#define VUP_BRIDGE_IRQ_H

#include "bridge_dev.h"

/* edu_ops.irq: d->lock held. */
void vupb_model_irq(void *opaque, unsigned int vector, bool level);
/* Signals ctx (NULL: nothing) and counts it; d->lock held. */
void vupb_signal(struct vupb_dev *d, struct eventfd_ctx *ctx);
/* Every index disabled, every eventfd put; neither igate nor d->lock held. */
void vupb_irqs_disable_all(struct vupb_dev *d);
/* VFIO_DEVICE_SET_IRQS and VFIO_DEVICE_GET_IRQ_INFO; no lock held. */
long vupb_ioctl_set_irqs(struct vupb_dev *d, unsigned long arg);
long vupb_ioctl_irq_info(struct vupb_dev *d, unsigned long arg);

#endif /* VUP_BRIDGE_IRQ_H */
