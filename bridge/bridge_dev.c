// SPDX-License-Identifier: GPL-2.0
/* bridge_dev.c: a bridge instance as a VFIO device: the edu model behind vfio_device_ops (regions, RAM BAR mmap, DMA through vfio_dma_rw, reset, the device request), its snapshot and its faults. */

#include <linux/delay.h>
#include <linux/iommu.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/vmalloc.h>

#include "bridge_dev.h"
#include "bridge_irq.h"

#define VUPB_MAX_STALL_MS 10000u

static struct vupb_dev *to_vupb(struct vfio_device *vdev)
{
	return container_of(vdev, struct vupb_dev, vdev);
}

void vupb_default_params(struct vupb_params *p, const guid_t *uuid)
{
	char text[VUP_BRIDGE_UUID_LEN + 1];

	memset(p, 0, sizeof(*p));
	p->uuid = *uuid;
	snprintf(text, sizeof(text), "%pUl", uuid);
	snprintf(p->name, sizeof(p->name), "mdev-%.8s", text);
	p->msix = EDU_MSIX_VECTORS;
	p->vendor = EDU_VENDOR_ID;
	p->device = EDU_DEVICE_ID;
	p->subsys_vendor = EDU_SUBSYS_VENDOR_ID;
	p->subsys_device = EDU_SUBSYS_ID;
}

/* The instance's IDs and MSI-X table size over the model's power-on config space; d->lock held. */
static void vupb_apply_params(struct vupb_dev *d)
{
	u8 *c = d->model.config;
	u16 msix_ctrl = c[EDU_CAP_MSIX + 2] | c[EDU_CAP_MSIX + 3] << 8;

	c[0x00] = d->params.vendor & 0xff;
	c[0x01] = d->params.vendor >> 8;
	c[0x02] = d->params.device & 0xff;
	c[0x03] = d->params.device >> 8;
	c[0x2c] = d->params.subsys_vendor & 0xff;
	c[0x2d] = d->params.subsys_vendor >> 8;
	c[0x2e] = d->params.subsys_device & 0xff;
	c[0x2f] = d->params.subsys_device >> 8;
	msix_ctrl = (msix_ctrl & ~0x7ffu) | (d->params.msix - 1);
	c[EDU_CAP_MSIX + 2] = msix_ctrl & 0xff;
	c[EDU_CAP_MSIX + 3] = msix_ctrl >> 8;
}

/* Power-on state for the next user, or after VFIO_DEVICE_RESET; d->lock held. */
static void vupb_power_on(struct vupb_dev *d)
{
	edu_model_reset(&d->model);
	vupb_apply_params(d);
	memset(d->ram, 0, EDU_BAR_RAM_SIZE);
	d->dma_fail = false;
}

/* ---- DMA: synchronous, in the process context of the register write that starts it ---- */

static int vupb_model_dma(void *opaque, u64 iova, void *buf, u32 len, bool to_ram)
{
	struct vupb_dev *d = opaque;
	int ret;

	if (d->dma_fail) {
		d->dma_fail = false;
		return -EFAULT;
	}
	if (!d->open)
		return -EFAULT;
	ret = vfio_dma_rw(&d->vdev, iova, buf, len, to_ram);
	if (!ret)
		d->dma_bytes += len;
	return ret;
}

static const struct edu_ops vupb_model_ops = {
	.dma = vupb_model_dma,
	.irq = vupb_model_irq,
};

/*
 * The user unmapped [iova, iova + length): a DMA runs under d->lock and keeps nothing of the range
 * afterwards, so once the lock was ours no transfer uses it any more.
 */
static void vupb_dma_unmap(struct vfio_device *vdev, u64 iova, u64 length)
{
	struct vupb_dev *d = to_vupb(vdev);

	mutex_lock(&d->lock);
	mutex_unlock(&d->lock);
}

/* ---- life cycle ---- */

static int vupb_init_dev(struct vfio_device *vdev)
{
	struct vupb_dev *d = to_vupb(vdev);

	d->ram = vmalloc_user(EDU_BAR_RAM_SIZE);
	if (!d->ram)
		return -ENOMEM;
	mutex_init(&d->igate);
	mutex_init(&d->lock);
	INIT_LIST_HEAD(&d->node);
	d->irq_type = VUPB_IRQ_NONE;
	d->group = -1;
	edu_model_init(&d->model, &vupb_model_ops, d);
	return 0;
}

static void vupb_release_dev(struct vfio_device *vdev)
{
	struct vupb_dev *d = to_vupb(vdev);

	mutex_destroy(&d->lock);
	mutex_destroy(&d->igate);
	vfree(d->ram);
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
	vfio_free_device(vdev); /* 6.1's core leaves the free to the driver */
#endif
}

void vupb_event(struct vupb_dev *d, u32 event)
{
	struct vupb_info *info = kmalloc(sizeof(*info), GFP_KERNEL);

	if (!info)
		return;
	vupb_get_info(d, info);
	vupb_notify(info, event);
	kfree(info);
}

/* dev_set->lock held by the core. */
static int vupb_open_device(struct vfio_device *vdev)
{
	struct vupb_dev *d = to_vupb(vdev);

	mutex_lock(&d->lock);
	vupb_power_on(d);
	d->open = true;
	d->opens++;
	mutex_unlock(&d->lock);
	vupb_event(d, VUP_BRIDGE_EV_OPENED);
	return 0;
}

/* dev_set->lock held by the core; no mapping of the device fd is left (it holds the file). */
static void vupb_close_device(struct vfio_device *vdev)
{
	struct vupb_dev *d = to_vupb(vdev);

	vupb_irqs_disable_all(d);
	mutex_lock(&d->lock);
	vupb_power_on(d);
	d->open = false;
	mutex_unlock(&d->lock);
	vupb_event(d, VUP_BRIDGE_EV_CLOSED);
}

/* Called by vfio_unregister_group_dev() while a user has the device open, until it lets go. */
static void vupb_request(struct vfio_device *vdev, unsigned int count)
{
	struct vupb_dev *d = to_vupb(vdev);
	struct eventfd_ctx *req;

	mutex_lock(&d->lock);
	req = d->trigger[VFIO_PCI_REQ_IRQ_INDEX][0];
	if (req) {
		if (!(count % 10))
			dev_notice_ratelimited(vdev->dev, "asking the user to release the device\n");
		vupb_signal(d, req);
	} else if (count == 0) {
		dev_notice(vdev->dev, "no device request eventfd: waiting for the user to close the device\n");
	}
	mutex_unlock(&d->lock);
}

/* ---- regions ---- */

static u64 vupb_region_size(unsigned int index)
{
	switch (index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		return EDU_CONFIG_SIZE;
	case VFIO_PCI_BAR0_REGION_INDEX + EDU_BAR_REGS:
		return EDU_BAR_REGS_SIZE;
	case VFIO_PCI_BAR0_REGION_INDEX + EDU_BAR_MSIX:
		return EDU_BAR_MSIX_SIZE;
	case VFIO_PCI_BAR0_REGION_INDEX + EDU_BAR_RAM:
		return EDU_BAR_RAM_SIZE;
	default:
		return 0; /* BAR1, BAR3, BAR5 (BAR4's upper half), ROM, VGA: absent */
	}
}

/* Config space and the trapped BARs, split into naturally aligned accesses of at most max bytes. */
static ssize_t vupb_model_rw(struct vupb_dev *d, unsigned int index, u64 off, char __user *ubuf,
			     size_t count, bool write)
{
	u32 max = index == VFIO_PCI_CONFIG_REGION_INDEX ? 4 : 8;
	size_t done = 0;

	while (done < count) {
		u32 n = max;
		u8 tmp[8];
		int ret;

		while (n > 1 && ((off & (n - 1)) || count - done < n))
			n >>= 1;
		if (write && copy_from_user(tmp, ubuf + done, n))
			return -EFAULT;
		mutex_lock(&d->lock);
		if (index == VFIO_PCI_CONFIG_REGION_INDEX)
			ret = write ? edu_model_config_write(&d->model, off, tmp, n) :
				      edu_model_config_read(&d->model, off, tmp, n);
		else
			ret = write ? edu_model_bar_write(&d->model, index, off, tmp, n) :
				      edu_model_bar_read(&d->model, index, off, tmp, n);
		mutex_unlock(&d->lock);
		if (ret)
			return -EINVAL;
		if (!write && copy_to_user(ubuf + done, tmp, n))
			return -EFAULT;
		off += n;
		done += n;
	}
	return done;
}

/* STALL_READS: sleeps outside every lock; the first read that slept the whole time disarms it. */
static int vupb_stall(struct vupb_dev *d)
{
	unsigned int ms = READ_ONCE(d->stall_ms);

	if (!ms)
		return 0;
	if (msleep_interruptible(ms))
		return -EINTR;
	mutex_lock(&d->lock);
	if (d->stall_ms == ms)
		d->stall_ms = 0;
	mutex_unlock(&d->lock);
	return 0;
}

static ssize_t vupb_rw(struct vfio_device *vdev, char __user *ubuf, size_t count, loff_t *ppos,
		       bool write)
{
	struct vupb_dev *d = to_vupb(vdev);
	unsigned int index = *ppos >> VUPB_OFFSET_SHIFT;
	u64 off = *ppos & VUPB_OFFSET_MASK;
	u64 size = index < VFIO_PCI_NUM_REGIONS ? vupb_region_size(index) : 0;
	ssize_t ret;

	if (!count || off >= size || count > size - off)
		return -EINVAL;
	mutex_lock(&d->lock);
	d->mmio++;
	mutex_unlock(&d->lock);
	if (READ_ONCE(d->surprise)) {
		/* gone from the bus: reads float high, writes go nowhere */
		if (!write) {
			size_t i;

			for (i = 0; i < count; i++)
				if (put_user((u8)0xff, ubuf + i))
					return -EFAULT;
		}
		return count;
	}
	if (!write && index != VFIO_PCI_CONFIG_REGION_INDEX) {
		ret = vupb_stall(d);
		if (ret)
			return ret;
	}
	if (index == VFIO_PCI_BAR0_REGION_INDEX + EDU_BAR_RAM) {
		/* plain memory, alive as long as d: no lock, as a CPU's access to RAM */
		if (write)
			ret = copy_from_user(d->ram + off, ubuf, count) ? -EFAULT : count;
		else
			ret = copy_to_user(ubuf, d->ram + off, count) ? -EFAULT : count;
	} else {
		ret = vupb_model_rw(d, index, off, ubuf, count, write);
	}
	if (ret > 0)
		*ppos += ret;
	return ret;
}

static ssize_t vupb_read(struct vfio_device *vdev, char __user *buf, size_t count, loff_t *ppos)
{
	return vupb_rw(vdev, buf, count, ppos, false);
}

static ssize_t vupb_write(struct vfio_device *vdev, const char __user *buf, size_t count,
			  loff_t *ppos)
{
	return vupb_rw(vdev, (char __user *)buf, count, ppos, true);
}

/* The RAM BAR's mappable areas: all but the trapped page. */
static int vupb_mmap(struct vfio_device *vdev, struct vm_area_struct *vma)
{
	struct vupb_dev *d = to_vupb(vdev);
	u64 pos = (u64)vma->vm_pgoff << PAGE_SHIFT;
	unsigned int index = pos >> VUPB_OFFSET_SHIFT;
	u64 off = pos & VUPB_OFFSET_MASK;
	u64 len = vma->vm_end - vma->vm_start;

	if (index != VFIO_PCI_BAR0_REGION_INDEX + EDU_BAR_RAM || !(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (off >= EDU_BAR_RAM_SIZE || len > EDU_BAR_RAM_SIZE - off)
		return -EINVAL;
	if (off < VUPB_RAM_TRAP_OFFSET + VUPB_RAM_TRAP_SIZE && off + len > VUPB_RAM_TRAP_OFFSET)
		return -EINVAL;
	return remap_vmalloc_range(vma, d->ram, off >> PAGE_SHIFT);
}

static int vupb_sparse_cap(struct vfio_info_cap *caps)
{
	struct vfio_region_info_cap_sparse_mmap *sparse;
	size_t size = struct_size(sparse, areas, 2);
	int ret;

	sparse = kzalloc(size, GFP_KERNEL);
	if (!sparse)
		return -ENOMEM;
	sparse->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
	sparse->header.version = 1;
	sparse->nr_areas = 2;
	sparse->areas[0].offset = 0;
	sparse->areas[0].size = VUPB_RAM_TRAP_OFFSET;
	sparse->areas[1].offset = VUPB_RAM_TRAP_OFFSET + VUPB_RAM_TRAP_SIZE;
	sparse->areas[1].size = EDU_BAR_RAM_SIZE - VUPB_RAM_TRAP_OFFSET - VUPB_RAM_TRAP_SIZE;
	ret = vfio_info_add_capability(caps, &sparse->header, size);
	kfree(sparse);
	return ret;
}

/* .get_region_info_caps from 6.19; below, the ioctl's body. */
static int vupb_get_region_info_caps(struct vfio_device *vdev, struct vfio_region_info *info,
				     struct vfio_info_cap *caps)
{
	if (info->index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;
	info->offset = VUPB_INDEX_TO_OFFSET(info->index);
	info->size = vupb_region_size(info->index);
	info->flags = info->size ? VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE : 0;
	if (info->index != VFIO_PCI_BAR0_REGION_INDEX + EDU_BAR_RAM)
		return 0;
	info->flags |= VFIO_REGION_INFO_FLAG_MMAP;
	return vupb_sparse_cap(caps);
}

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 19, 0)
/* What 6.19's core does around .get_region_info_caps. */
static long vupb_ioctl_region_info(struct vfio_device *vdev, unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_region_info, offset);
	struct vfio_region_info __user *uarg = (void __user *)arg;
	struct vfio_region_info info = {};
	struct vfio_info_cap caps = {};
	long ret;

	if (copy_from_user(&info, uarg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	ret = vupb_get_region_info_caps(vdev, &info, &caps);
	if (ret)
		goto out;
	if (caps.size) {
		info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
		if (info.argsz < sizeof(info) + caps.size) {
			info.argsz = sizeof(info) + caps.size;
			info.cap_offset = 0;
		} else {
			vfio_info_cap_shift(&caps, sizeof(info));
			if (copy_to_user(uarg + 1, caps.buf, caps.size)) {
				ret = -EFAULT;
				goto out;
			}
			info.cap_offset = sizeof(info);
		}
	}
	if (copy_to_user(uarg, &info, minsz))
		ret = -EFAULT;
out:
	kfree(caps.buf);
	return ret;
}
#endif

static long vupb_ioctl_device_info(unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_device_info, num_irqs);
	struct vfio_device_info info;

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	info.num_regions = VFIO_PCI_NUM_REGIONS;
	info.num_irqs = VFIO_PCI_NUM_IRQS;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static long vupb_ioctl_reset(struct vupb_dev *d)
{
	mutex_lock(&d->lock);
	vupb_power_on(d);
	d->resets++;
	mutex_unlock(&d->lock);
	vupb_event(d, VUP_BRIDGE_EV_RESET);
	return 0;
}

static long vupb_ioctl(struct vfio_device *vdev, unsigned int cmd, unsigned long arg)
{
	struct vupb_dev *d = to_vupb(vdev);

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO:
		return vupb_ioctl_device_info(arg);
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 19, 0)
	case VFIO_DEVICE_GET_REGION_INFO:
		return vupb_ioctl_region_info(vdev, arg);
#endif
	case VFIO_DEVICE_GET_IRQ_INFO:
		return vupb_ioctl_irq_info(d, arg);
	case VFIO_DEVICE_SET_IRQS:
		return vupb_ioctl_set_irqs(d, arg);
	case VFIO_DEVICE_RESET:
		return vupb_ioctl_reset(d);
	default:
		return -ENOTTY;
	}
}

static const struct vfio_device_ops vupb_dev_ops = {
	.name = "vup_bridge",
	.init = vupb_init_dev,
	.release = vupb_release_dev,
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
	/* NULL where the kernel has no CONFIG_IOMMUFD; required where it has */
	.bind_iommufd = vfio_iommufd_emulated_bind,
	.unbind_iommufd = vfio_iommufd_emulated_unbind,
	.attach_ioas = vfio_iommufd_emulated_attach_ioas,
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	.detach_ioas = vfio_iommufd_emulated_detach_ioas,
#endif
	.open_device = vupb_open_device,
	.close_device = vupb_close_device,
	.read = vupb_read,
	.write = vupb_write,
	.ioctl = vupb_ioctl,
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 19, 0)
	.get_region_info_caps = vupb_get_region_info_caps,
#endif
	.mmap = vupb_mmap,
	.request = vupb_request,
	.dma_unmap = vupb_dma_unmap,
};

/* ---- for bridge_main.c and the control ---- */

struct vupb_dev *vupb_dev_create(struct mdev_device *mdev, const struct vupb_params *p)
{
	struct iommu_group *group;
	struct vupb_dev *d;
	int ret;

	d = vfio_alloc_device(vupb_dev, vdev, &mdev->dev, &vupb_dev_ops);
	if (IS_ERR(d))
		return d;
	d->mdev = mdev;
	d->params = *p;
	mutex_lock(&d->lock);
	vupb_power_on(d);
	mutex_unlock(&d->lock);
	ret = vfio_register_emulated_iommu_dev(&d->vdev);
	if (ret) {
		vfio_put_device(&d->vdev);
		return ERR_PTR(ret);
	}
	group = iommu_group_get(&mdev->dev);
	if (group) {
		d->group = iommu_group_id(group);
		iommu_group_put(group);
	}
	return d;
}

void vupb_dev_unregister(struct vupb_dev *d)
{
	vfio_unregister_group_dev(&d->vdev);
}

void vupb_dev_put(struct vupb_dev *d)
{
	vfio_put_device(&d->vdev);
}

void vupb_get_info(struct vupb_dev *d, struct vupb_info *out)
{
	memset(out, 0, sizeof(*out));
	mutex_lock(&d->lock);
	out->params = d->params;
	snprintf(out->sysfs_path, sizeof(out->sysfs_path), "/sys/bus/mdev/devices/%pUl",
		 &d->params.uuid);
	out->group = d->group;
	if (IS_ENABLED(CONFIG_VFIO_DEVICE_CDEV))
		strscpy(out->cdev, dev_name(&d->vdev.device), sizeof(out->cdev));
	out->open = d->open;
	out->mmio = d->mmio;
	out->dma_bytes = d->dma_bytes;
	out->irqs = d->irqs;
	out->resets = d->resets;
	out->opens = d->opens;
	mutex_unlock(&d->lock);
}

int vupb_inject(struct vupb_dev *d, u32 fault, u32 arg)
{
	int ret = 0;

	mutex_lock(&d->lock);
	switch (fault) {
	case VUP_BRIDGE_FAULT_DMA_FAIL:
		d->dma_fail = true;
		break;
	case VUP_BRIDGE_FAULT_ERR_IRQ:
		vupb_signal(d, d->trigger[VFIO_PCI_ERR_IRQ_INDEX][0]);
		break;
	case VUP_BRIDGE_FAULT_STALL_READS:
		if (arg < 1 || arg > VUPB_MAX_STALL_MS)
			ret = -EINVAL;
		else
			WRITE_ONCE(d->stall_ms, arg);
		break;
	case VUP_BRIDGE_FAULT_SURPRISE_REMOVAL:
		WRITE_ONCE(d->surprise, true);
		vupb_signal(d, d->trigger[VFIO_PCI_REQ_IRQ_INDEX][0]);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	mutex_unlock(&d->lock);
	return ret;
}
