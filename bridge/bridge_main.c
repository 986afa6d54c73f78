// SPDX-License-Identifier: GPL-2.0
/* bridge_main.c: the vup_bridge module: init and exit, the mdev parent and its one type, the mdev driver's probe and remove, the instance list, the parameters kept for a create, and the device side's interface to the control (bridge.h). */

/*
 * Lock order (outermost first); lockdep checks it:
 *
 *   vupb_lock (the instance list and the kept parameters)
 *     -> d->lock
 *   dev_set->lock (the VFIO core's, around open_device and close_device)
 *     -> d->igate (SET_IRQS, the INTx unmask virqfd)
 *       -> d->lock (the model, interrupts, counters, faults)
 *         -> the VFIO IOMMU's locks (type1's iommu->lock, iommufd's
 *            iova_rwsem), inside vfio_dma_rw()
 *
 * The INTx unmask virqfd's work takes d->lock alone, and vfio_virqfd_disable()
 * (which waits for that work) runs with igate held but never d->lock. The VFIO
 * core calls .dma_unmap with none of its IOMMU locks held (type1 and iommufd
 * drop them first), and it takes d->lock alone. vupb_notify() is called with
 * neither vupb_lock nor d->lock held. remove() waits in
 * vfio_unregister_group_dev() (the device request, for a user that has the
 * device open) holding no lock of ours. Everything here runs in process
 * context; nothing sleeps under a spinlock (there is none).
 */

#include <linux/device.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/version.h>

#include "bridge_dev.h"

#define VUPB_MAX_INSTANCES 16
#define VUPB_KEEP_JIFFIES (30 * HZ)

/* Parameters a CREATE kept for the next create of their UUID. */
struct vupb_kept {
	struct list_head node;
	struct vupb_params params;
	unsigned long expires;
};

static DEFINE_MUTEX(vupb_lock);
static LIST_HEAD(vupb_devs);
static LIST_HEAD(vupb_kept_list);

static struct class *vupb_class;
static struct device vupb_parent_dev;
static struct mdev_parent vupb_parent;

/* vupb_lock held. */
static void vupb_expire_kept(void)
{
	struct vupb_kept *k, *tmp;

	list_for_each_entry_safe(k, tmp, &vupb_kept_list, node) {
		if (time_after(jiffies, k->expires)) {
			list_del(&k->node);
			kfree(k);
		}
	}
}

/* vupb_lock held. */
static bool vupb_name_taken(const char *name)
{
	struct vupb_kept *k;
	struct vupb_dev *d;

	list_for_each_entry(d, &vupb_devs, node)
		if (!strcmp(d->params.name, name))
			return true;
	list_for_each_entry(k, &vupb_kept_list, node)
		if (!strcmp(k->params.name, name))
			return true;
	return false;
}

/* vupb_lock held. */
static bool vupb_uuid_taken(const guid_t *uuid)
{
	struct vupb_kept *k;
	struct vupb_dev *d;

	list_for_each_entry(d, &vupb_devs, node)
		if (guid_equal(&d->params.uuid, uuid))
			return true;
	list_for_each_entry(k, &vupb_kept_list, node)
		if (guid_equal(&k->params.uuid, uuid))
			return true;
	return false;
}

int vupb_keep_params(const struct vupb_params *p)
{
	struct vupb_kept *k;
	int ret = 0;

	/* the model has EDU_MSIX_VECTORS table entries: fewer can be shown, no more */
	if (!p->name[0] || strnlen(p->name, sizeof(p->name)) == sizeof(p->name) ||
	    p->msix < 1 || p->msix > EDU_MSIX_VECTORS)
		return -EINVAL;
	k = kzalloc(sizeof(*k), GFP_KERNEL);
	if (!k)
		return -ENOMEM;
	k->params = *p;
	k->expires = jiffies + VUPB_KEEP_JIFFIES;

	mutex_lock(&vupb_lock);
	vupb_expire_kept();
	if (vupb_name_taken(p->name))
		ret = -EEXIST;
	else if (vupb_uuid_taken(&p->uuid))
		ret = -EBUSY;
	else
		list_add_tail(&k->node, &vupb_kept_list);
	mutex_unlock(&vupb_lock);
	if (ret)
		kfree(k);
	return ret;
}

/* The kept parameters of uuid, taken off the list, or the defaults; vupb_lock held. */
static void vupb_take_params(const guid_t *uuid, struct vupb_params *p)
{
	struct vupb_kept *k;

	vupb_expire_kept();
	list_for_each_entry(k, &vupb_kept_list, node) {
		if (guid_equal(&k->params.uuid, uuid)) {
			*p = k->params;
			list_del(&k->node);
			kfree(k);
			return;
		}
	}
	vupb_default_params(p, uuid);
}

int vupb_for_each(const char *name, const guid_t *uuid, int (*fn)(struct vupb_dev *d, void *arg),
		  void *arg)
{
	bool matched = false;
	struct vupb_dev *d;
	int ret = 0;

	mutex_lock(&vupb_lock);
	list_for_each_entry(d, &vupb_devs, node) {
		if (name && strcmp(d->params.name, name))
			continue;
		if (uuid && !guid_equal(&d->params.uuid, uuid))
			continue;
		matched = true;
		ret = fn(d, arg);
		if (ret)
			break;
	}
	mutex_unlock(&vupb_lock);
	if (!ret && !matched && (name || uuid))
		ret = -ENOENT;
	return ret;
}

/* ---- the mdev driver ---- */

static int vupb_probe(struct mdev_device *mdev)
{
	struct vupb_params p;
	struct vupb_dev *d;

	mutex_lock(&vupb_lock);
	vupb_take_params(&mdev->uuid, &p);
	mutex_unlock(&vupb_lock);

	d = vupb_dev_create(mdev, &p);
	if (IS_ERR(d))
		return PTR_ERR(d);
	dev_set_drvdata(&mdev->dev, d);
	mutex_lock(&vupb_lock);
	list_add_tail(&d->node, &vupb_devs);
	mutex_unlock(&vupb_lock);
	dev_info(&mdev->dev, "%s: edu-compatible device %04x:%04x, %u MSI-X vectors, IOMMU group %d\n",
		 p.name, p.vendor, p.device, p.msix, d->group);
	vupb_event(d, VUP_BRIDGE_EV_CREATED);
	return 0;
}

static void vupb_remove(struct mdev_device *mdev)
{
	struct vupb_dev *d = dev_get_drvdata(&mdev->dev);
	struct vupb_info *info;

	/* a user that has the device open is asked to let go (the device request) */
	vupb_dev_unregister(d);
	info = kmalloc(sizeof(*info), GFP_KERNEL);
	if (info)
		vupb_get_info(d, info);
	mutex_lock(&vupb_lock);
	list_del(&d->node);
	mutex_unlock(&vupb_lock);
	if (info) {
		vupb_notify(info, VUP_BRIDGE_EV_DESTROYED);
		kfree(info);
	}
	vupb_dev_put(d);
}

static ssize_t vupb_show_description(struct mdev_type *mtype, char *buf)
{
	return sysfs_emit(buf, "%s (%04x:%04x): %s\n", "edu-compatible PCI device",
			  EDU_VENDOR_ID, EDU_DEVICE_ID,
			  "MSI, MSI-X, INTx, DMA and a 1 MiB RAM BAR");
}

static struct mdev_driver vupb_mdev_driver = {
	.device_api = VFIO_DEVICE_API_PCI_STRING,
	.max_instances = VUPB_MAX_INSTANCES,
	.driver = {
		.name = VUP_BRIDGE_MODULE,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
	},
	.probe = vupb_probe,
	.remove = vupb_remove,
	.show_description = vupb_show_description,
};

static struct mdev_type vupb_type = {
	.sysfs_name = VUP_BRIDGE_TYPE,
	.pretty_name = "vfio-user-proxy edu",
};

static struct mdev_type *vupb_types[] = {
	&vupb_type,
};

/* ---- the parent device ---- */

static void vupb_parent_release(struct device *dev)
{
	/* static: nothing to free */
}

static int __init vupb_init(void)
{
	int ret;

	ret = vupb_genl_init();
	if (ret)
		return ret;
	ret = mdev_register_driver(&vupb_mdev_driver);
	if (ret)
		goto err_genl;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	vupb_class = class_create(VUP_BRIDGE_PARENT);
#else
	vupb_class = class_create(THIS_MODULE, VUP_BRIDGE_PARENT);
#endif
	if (IS_ERR(vupb_class)) {
		ret = PTR_ERR(vupb_class);
		goto err_driver;
	}
	vupb_parent_dev.class = vupb_class;
	vupb_parent_dev.release = vupb_parent_release;
	dev_set_name(&vupb_parent_dev, "%s", VUP_BRIDGE_PARENT);
	ret = device_register(&vupb_parent_dev);
	if (ret)
		goto err_put;
	ret = mdev_register_parent(&vupb_parent, &vupb_parent_dev, &vupb_mdev_driver, vupb_types,
				   ARRAY_SIZE(vupb_types));
	if (ret)
		goto err_device;
	pr_info("vup_bridge: parent %s, type %s-%s\n", VUP_BRIDGE_PARENT, VUP_BRIDGE_PARENT,
		VUP_BRIDGE_TYPE);
	return 0;

err_device:
	device_del(&vupb_parent_dev);
err_put:
	put_device(&vupb_parent_dev);
	class_destroy(vupb_class);
err_driver:
	mdev_unregister_driver(&vupb_mdev_driver);
err_genl:
	vupb_genl_exit();
	return ret;
}

static void __exit vupb_exit(void)
{
	struct vupb_kept *k, *tmp;

	/* removes every instance first (remove() above, each asking its user to let go) */
	mdev_unregister_parent(&vupb_parent);
	device_unregister(&vupb_parent_dev);
	class_destroy(vupb_class);
	mdev_unregister_driver(&vupb_mdev_driver);
	vupb_genl_exit();
	list_for_each_entry_safe(k, tmp, &vupb_kept_list, node) {
		list_del(&k->node);
		kfree(k);
	}
}

module_init(vupb_init);
module_exit(vupb_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-user-proxy bridge: an emulated edu-compatible PCI device as a VFIO mdev, controlled over generic netlink");
MODULE_AUTHOR("vfio-user-proxy");
