/* vfio_iommu.h: the IOMMU side of the VFIO backend behind one small ops table: the legacy container (vfio_container.c) and iommufd (vfio_iommufd.c). */
#ifndef BACKEND_VFIO_IOMMU_H
#define BACKEND_VFIO_IOMMU_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/vfio.h>

#include "backend/vfio_discover.h"

/* What the device may do with a mapping (map() prot). */
#define VFIO_IOMMU_READ (1u << 0)  /* the device reads the memory */
#define VFIO_IOMMU_WRITE (1u << 1) /* the device writes it */

struct vfio_iommu;

/* The files and ids of an IOMMU context, as a hand-over carries them (the context keeps owning them). */
struct vfio_iommu_handle {
	int container_fd, group_fd; /* legacy, else -1 */
	int iommufd;                /* iommufd, else -1 */
	uint32_t ioas_id, dev_id;   /* iommufd, else 0 */
};

struct vfio_iommu_ops {
	/* Pins [vaddr, vaddr + size) and maps it at iova. 0 or a negative errno (not logged: the caller decides). */
	int (*map)(struct vfio_iommu *io, uint64_t iova, uint64_t size, void *vaddr, uint32_t prot);
	/* Removes exactly the mapping made at iova with size. 0 or a negative errno. */
	int (*unmap)(struct vfio_iommu *io, uint64_t iova, uint64_t size);
	/* The IOVA ranges maps must stay inside (*ranges valid until close); 0 when the IOMMU did not say. */
	uint32_t (*iova_ranges)(struct vfio_iommu *io, const struct vfio_iova_range **ranges);
	/*
	 * The fds that prove ownership of every device a PCI hot reset would touch (devs from
	 * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO), for VFIO_DEVICE_PCI_HOT_RESET: how many it put in fds (at most
	 * max; 0 on iommufd, where the kernel checks ownership itself), or -EPERM with *foreign the index of
	 * a device that is not ours.
	 */
	int (*hot_reset_fds)(struct vfio_iommu *io, const struct vfio_pci_dependent_device *devs, uint32_t n,
			     int32_t *fds, uint32_t max, uint32_t *foreign);
	/*
	 * Revokes whatever the fd the client was given still reaches: closes *device_fd (ours; the client may
	 * hold the same file), proves with the kernel that no other reference to the device is left, and
	 * opens the device afresh into *device_fd, attached to an IOMMU context with nothing mapped. -EBUSY
	 * when another reference is left (nothing is attached then and *device_fd is -1); other negative
	 * errnos for other failures. Logs nothing: the backend says what it means.
	 */
	int (*reacquire)(struct vfio_iommu *io, const struct vfio_target *t, int *device_fd);
	/* Releases everything: the device fd must be closed before. */
	void (*close)(struct vfio_iommu *io);
	/* What a hand-over passes on (the files stay the context's). */
	void (*handle)(struct vfio_iommu *io, struct vfio_iommu_handle *h);
	/* Frees the context without closing or touching its files: a successor that refuses a hand-over
	 * leaves them as its predecessor had them. */
	void (*disown)(struct vfio_iommu *io);
};

struct vfio_iommu {
	const struct vfio_iommu_ops *ops;
	const char *name;  /* for the log: "legacy VFIO container (type1v2 IOMMU)" */
	uint64_t pgsizes;  /* the page sizes it maps (bit n: 2^n bytes); 0 when it did not say */
};

/*
 * Each path opens the device its own way and hands back the device fd with the IOMMU context; they log
 * their own failures (one line) and return a negative errno.
 */
int vfio_container_open(const struct vfio_target *t, struct vfio_iommu **out, int *device_fd);
/* t->iommufd_path and t->cdev_path: vfio_iommufd_available() said yes. */
int vfio_iommufd_open(const struct vfio_target *t, struct vfio_iommu **out, int *device_fd);

/*
 * A hand-over's successor: the context its predecessor had, from the files in h (checked to be the
 * target's container and group, or its iommufd with the IOAS; its IOVA ranges read again). The mappings
 * in it stay as they are. On failure (logged, one line) nothing of h is closed.
 */
int vfio_container_adopt(const struct vfio_target *t, const struct vfio_iommu_handle *h, struct vfio_iommu **out);
int vfio_iommufd_adopt(const struct vfio_target *t, const struct vfio_iommu_handle *h, struct vfio_iommu **out);

#endif /* BACKEND_VFIO_IOMMU_H */
