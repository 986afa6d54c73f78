/* vfio_discover.h: from the DEVICE argument to a checked VFIO target: address forms, sysfs and /dev checks, each failure explained in one line. */
#ifndef BACKEND_VFIO_DISCOVER_H
#define BACKEND_VFIO_DISCOVER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define VFIO_BDF_MAX 40         /* "dddddddd:bb:dd.f", or an mdev's 36-character UUID, and the NUL */
#define VFIO_DRIVER_MAX 64
#define VFIO_WHY_MAX 768        /* one explanation line */
#define VFIO_MEMLOCK_MIN (64ull << 20)

/* Where sysfs and /dev are: "/sys" and "/dev", or what the tests (or the environment) say. */
struct vfio_paths {
	char sysfs[PATH_MAX];
	char dev[PATH_MAX];
};

#define VFIO_SYSFS_ROOT_ENV "VFIO_USER_PROXY_SYSFS_ROOT"
#define VFIO_DEV_ROOT_ENV "VFIO_USER_PROXY_DEV_ROOT"

/* Each root: the argument when non-NULL, else the environment variable above, else the real one. */
void vfio_paths_init(struct vfio_paths *p, const char *sysfs_root, const char *dev_root);

/* A device that passed every check: what the IOMMU paths need to open it. */
struct vfio_target {
	char bdf[VFIO_BDF_MAX];          /* canonical: 0000:00:03.0; an mdev's UUID (the name VFIO knows it by) */
	bool mdev;                       /* a mediated device (/sys/bus/mdev/devices/UUID), not a PCI function */
	char driver[VFIO_DRIVER_MAX];    /* vfio-pci, or a vfio-pci variant driver; an mdev's parent driver */
	unsigned int group;              /* IOMMU group number */
	char group_path[PATH_MAX];       /* /dev/vfio/N */
	char container_path[PATH_MAX];   /* /dev/vfio/vfio */
	char iommufd_path[PATH_MAX];     /* /dev/iommu */
	char cdev_path[PATH_MAX];        /* /dev/vfio/devices/vfioX from sysfs .../vfio-dev/vfioX; "" when none */
	bool cdev_given;                 /* DEVICE named the cdev itself */
};

/*
 * Canonical PCI address from "0000:00:03.0" or "00:03.0" (domain 0000), hex digits in either case:
 * 0 or -EINVAL.
 */
int vfio_parse_bdf(const char *s, char *out, size_t out_len);

/*
 * DEVICE (a PCI address, a sysfs path of a PCI device, or a VFIO cdev path /dev/vfio/devices/vfioX, found
 * through sysfs) to a canonical PCI address, without checking that the device exists; *cdev tells whether
 * it was the cdev form. 0, or -EINVAL / -ENODEV with why saying what forms are accepted.
 */
int vfio_resolve_bdf(const char *device, const struct vfio_paths *p, char *bdf, size_t len, bool *cdev, char *why,
		     size_t why_len);
/* Formats a path into a PATH_MAX buffer: 0, or -ENAMETOOLONG when it does not fit. */
int vfio_pathf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last component of a symlink's target (a driver's or a group's name): 0 or -errno (-ENOENT: no such link). */
int vfio_link_basename(const char *path, char *out, size_t out_len);
/* vfio-pci itself, or a vendor's variant of it (mlx5_vfio_pci, hisi_acc_vfio_pci, ...): the same uAPI. */
bool vfio_driver_is_vfio_pci(const char *drv);
/* Drivers the kernel lets share an IOMMU group with a VFIO user (vfio-pci, pci-stub, pcieport): no DMA of their own. */
bool vfio_driver_allowed_in_group(const char *drv);

/* An mdev's UUID (8-4-4-4-12 hex digits, either case) in lower case: 0 or -EINVAL. */
int vfio_parse_uuid(const char *s, char *out, size_t out_len);

/*
 * Resolves DEVICE (a PCI address, a sysfs path of a PCI device, or a VFIO cdev path
 * /dev/vfio/devices/vfioX; or a mediated device: its UUID, its sysfs path /sys/bus/mdev/devices/UUID or its
 * cdev) and checks that VFIO can serve it: VFIO present, the device there, in an IOMMU group, bound to
 * vfio-pci (an mdev: to any driver, its parent's), every other device of its group bound to vfio-pci (or
 * pci-stub, pcieport, no driver). Fills both paths' nodes (the group's, and the cdev's when the kernel made one). 0, or a
 * negative errno with why holding one line saying what is wrong and what to do:
 *   -EINVAL  DEVICE is none of the accepted forms
 *   -ENOTSUP a device in VFIO no-IOMMU mode
 *   -ENOENT  no VFIO in the kernel (/dev/vfio missing)
 *   -ENODEV  no such device, or no IOMMU group
 *   -EBUSY   the device or a device of its group is bound to another driver
 */
int vfio_discover(const char *device, const struct vfio_paths *p, struct vfio_target *t, char *why,
		  size_t why_len);

/*
 * Whether the iommufd path can serve t: 0 when /dev/iommu and the device's VFIO cdev exist, else -ENOENT
 * with why saying which is missing (one line, without what to do: that depends on the caller).
 */
int vfio_iommufd_available(const struct vfio_target *t, char *why, size_t why_len);

/*
 * Opens a VFIO node (container or group) read-write, close-on-exec. The fd, or a negative errno with
 * why explaining it (permission, busy, missing).
 */
int vfio_open_node(const char *path, const struct vfio_target *t, char *why, size_t why_len);
/* vfio_open_node() that logs the explanation itself (one line): the fd or a negative errno. */
int vfio_open_node_logged(const char *path, const struct vfio_target *t);
/* The explanation vfio_open_node() gives for err (a positive errno) on path. */
void vfio_explain_open_error(const char *path, int err, const struct vfio_target *t, char *why, size_t why_len);

/*
 * Whether RLIMIT_MEMLOCK will get in the way of pinning DMA windows: 1 with a warning in why when the
 * limit is finite, below VFIO_MEMLOCK_MIN, and the process lacks CAP_IPC_LOCK; 0 otherwise.
 */
int vfio_memlock_check(char *why, size_t why_len);
/* Whether a /proc/PID/status text gives the process capability cap in its effective set (CapEff). */
bool vfio_status_has_cap(const char *status, unsigned int cap);

/* Whether fd is a file of the node at path (the same inode: a device node, or a test's stand-in). */
bool vfio_fd_is_node(int fd, const char *path);

#endif /* BACKEND_VFIO_DISCOVER_H */
