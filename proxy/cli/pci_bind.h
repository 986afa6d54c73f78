/* pci_bind.h: one PCI device bound to vfio-pci or given back to the driver it had (remembered in the state directory), the IOMMU group rule, one line said per device. */
#ifndef CLI_PCI_BIND_H
#define CLI_PCI_BIND_H

#include <limits.h>
#include <stdio.h>

#include "backend/vfio_discover.h"
#include "cli/pci_sysfs.h"

#define PCI_BIND_STATE_ENV "VFIO_USER_PROXY_STATE_DIR"
#define PCI_BIND_STATE_DEFAULT "/run/vfio-user-proxy"
#define PCI_BIND_VFIO_PCI "vfio-pci"

struct pci_bind {
	struct pci_sysfs sys;
	struct vfio_paths paths;  /* for DEVICE's forms: the same roots as sys */
	char state_dir[PATH_MAX / 2]; /* the remembered drivers are in STATE/bind/ADDRESS; "" when too long */
	const char *prog;         /* "vfio-user-proxy bind": the prefix of each failure's line */
	FILE *out;                /* one line per device done */
	FILE *err;                /* one line per failure */
	int notice_ms;            /* a vfio-pci unbind the kernel holds that long is announced on err */
	int vfio_pci_err;         /* vfio-pci could not be loaded: said once, later devices refer to it */
};

/* The roots from the environment (VFIO_USER_PROXY_SYSFS_ROOT, PCI_BIND_STATE_ENV), stdout and stderr. */
void pci_bind_init(struct pci_bind *b, const char *prog);

/*
 * DEVICE (a PCI address, a sysfs path, a VFIO cdev) to its canonical address bdf (VFIO_BDF_MAX bytes):
 * 0, or a negative errno said on err (-EINVAL: none of the accepted forms).
 */
int pci_bind_resolve(struct pci_bind *b, const char *device, char *bdf);
/*
 * --group: adds to l every device of bdf's IOMMU group but bridges (class 0x0604xx), bdf first. A device
 * missing or in no group is added alone (binding it says what is wrong). 0 or -ENOMEM.
 */
int pci_bind_add_group(struct pci_bind *b, const char *bdf, struct pci_bdf_list *l);

/*
 * Binds bdf to vfio-pci: the IOMMU group check (members in also, being bound in the same run, count as
 * fine; also may be NULL), vfio-pci loaded if missing, the old driver remembered, driver_override set, the
 * old driver unbound, the kernel asked to probe, the result checked. Already on vfio-pci: said, nothing
 * touched, 0. Returns 0 with one line on out, or a negative errno with one line on err.
 */
int pci_bind_device(struct pci_bind *b, const char *bdf, const struct pci_bdf_list *also);
/*
 * Gives bdf back: unbound from vfio-pci (the kernel waits for the device's users), driver_override
 * cleared, the remembered driver bound again (its module loaded if needed; without a record the kernel
 * probes it), the record removed. A device on no driver with a record (a bind that failed half way) gets
 * its driver back too; one on another driver is left alone. 0 with one line on out, or a negative errno
 * with one line on err.
 */
int pci_unbind_device(struct pci_bind *b, const char *bdf);

#endif /* CLI_PCI_BIND_H */
