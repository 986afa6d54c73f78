/* pci_sysfs.h: PCI devices and drivers as sysfs shows them to bind and unbind: a device's driver, IOMMU group, group members and class; the driver core's control files written and their effect awaited; a driver's module loaded (kmod_load.h) from the modules directory. */
#ifndef CLI_PCI_SYSFS_H
#define CLI_PCI_SYSFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "backend/vfio_discover.h"

/* Where libkmod looks for modules (modules.dep and the .ko files); unset: /lib/modules/$(uname -r). */
#define PCI_MODULES_DIR_ENV "VFIO_USER_PROXY_MODULES_DIR"
#define PCI_CLASS_BRIDGE_PCI 0x0604 /* class >> 8 of a PCI-to-PCI bridge (root and downstream ports) */

struct pci_sysfs {
	char root[PATH_MAX];     /* "/sys", or VFIO_USER_PROXY_SYSFS_ROOT */
	const char *modules_dir; /* PCI_MODULES_DIR_ENV, or NULL for the running kernel's */
	int timeout_ms;          /* how long the driver core gets to show a bind or unbind in sysfs */
};

/* A set of canonical PCI addresses, in the order they were added. */
struct pci_bdf_list {
	char (*bdf)[VFIO_BDF_MAX];
	size_t n, cap;
};

/* The sysfs root from the environment (as the VFIO backend takes it), the modules directory, a 5 s wait. */
void pci_sysfs_init(struct pci_sysfs *s);

/* root/bus/pci/devices/BDF, then "/attr" when attr is non-NULL: 0 or -ENAMETOOLONG. */
int pci_dev_path(const struct pci_sysfs *s, const char *bdf, const char *attr, char *path);
/* root/bus/pci/NAME (drivers_probe), or root/bus/pci/drivers/NAME/attr when attr is non-NULL. */
int pci_bus_path(const struct pci_sysfs *s, const char *name, const char *attr, char *path);
bool pci_dev_exists(const struct pci_sysfs *s, const char *bdf);
/* The driver a device is bound to: 0, -ENOENT when it has none, or another negative errno. */
int pci_dev_driver(const struct pci_sysfs *s, const char *bdf, char *drv, size_t len);
/* The device's IOMMU group number: 0, -ENOENT when it has none (the IOMMU is off), or a negative errno. */
int pci_dev_group(const struct pci_sysfs *s, const char *bdf, unsigned int *group);
/* The device's 24-bit class code (0x010802 for NVMe): 0 or a negative errno. */
int pci_dev_class(const struct pci_sysfs *s, const char *bdf, unsigned int *class_code);
/* Every PCI device of the device's IOMMU group (it included), sorted, added to out: 0 or a negative errno. */
int pci_dev_group_members(const struct pci_sysfs *s, const char *bdf, struct pci_bdf_list *out);
/* Whether root/bus/pci/drivers/NAME exists: the driver is registered (loaded or built in). */
bool pci_driver_registered(const struct pci_sysfs *s, const char *name);

/* Writes value to a sysfs file in one write: 0 or a negative errno (EACCES when not root, EBUSY, ...). */
int pci_write(const char *path, const char *value);
/*
 * pci_write() for a write the kernel may hold (vfio-pci's unbind waits until every user of the device
 * closes it): when it has not returned after notice_ms, notice (one line) goes to out, once.
 */
int pci_write_noticed(const char *path, const char *value, int notice_ms, FILE *out, const char *notice);
/*
 * Polls until the device's driver is want (NULL: until it has none; "": any), for timeout_ms (< 0:
 * s->timeout_ms): 0 or -ETIMEDOUT.
 */
int pci_wait_driver(const struct pci_sysfs *s, const char *bdf, const char *want, int timeout_ms);

/*
 * Loads module name (a driver's name or any alias: vfio-pci, nvme) and what it depends on from
 * s->modules_dir, as modprobe would (kmod_load()). 0 (loaded, or already there, or built in), or a negative
 * errno with why saying it in one line: -ENOENT no such module for this kernel, -EPERM not root or
 * blacklisted, another errno from the kernel.
 */
int pci_load_module(const struct pci_sysfs *s, const char *name, char *why, size_t why_len);

int pci_bdf_list_add(struct pci_bdf_list *l, const char *bdf);     /* 0 (added or already in) or -ENOMEM */
bool pci_bdf_list_has(const struct pci_bdf_list *l, const char *bdf);
void pci_bdf_list_free(struct pci_bdf_list *l);

#endif /* CLI_PCI_SYSFS_H */
