/* vfio_iommufd_uapi.h: the few iommufd and VFIO-cdev uAPI definitions the iommufd path uses, for hosts whose kernel headers predate them (Debian 12's 6.1). */
#ifndef BACKEND_VFIO_IOMMUFD_UAPI_H
#define BACKEND_VFIO_IOMMUFD_UAPI_H

/*
 * These mirror the Linux uAPI of <linux/iommufd.h> (since 6.2) and the cdev part of <linux/vfio.h>
 * (since 6.6), as documented there and checked against the 6.12 headers: each ioctl is _IO(type, nr)
 * with the argument's own leading size field telling the kernel its length, so these values never
 * change once released, and a struct may only grow at its end (the kernel accepts the older, shorter
 * size). They are written here rather than taken from the build host's headers so that the proxy
 * builds the same on a 6.1 host (no linux/iommufd.h) and runs on any kernel; the sizes are asserted
 * below. Names carry a VUP_ prefix so they cannot clash with a newer header that defines the originals.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include <linux/vfio.h> /* VFIO_TYPE, VFIO_BASE */

/* ---- iommufd: /dev/iommu ---- */

#define VUP_IOMMUFD_TYPE ';'

/* IOMMU_DESTROY: frees an object (IOAS, ...) by id. */
struct vup_iommu_destroy {
	uint32_t size;
	uint32_t id;
};
#define VUP_IOMMU_DESTROY _IO(VUP_IOMMUFD_TYPE, 0x80)

/* IOMMU_IOAS_ALLOC: a new I/O address space; its id comes back in out_ioas_id. */
struct vup_iommu_ioas_alloc {
	uint32_t size;
	uint32_t flags; /* must be 0 */
	uint32_t out_ioas_id;
};
#define VUP_IOMMU_IOAS_ALLOC _IO(VUP_IOMMUFD_TYPE, 0x81)

/* One usable IOVA range, inclusive at both ends. */
struct vup_iommu_iova_range {
	uint64_t start;
	uint64_t last;
};

/*
 * IOMMU_IOAS_IOVA_RANGES: the ranges mapping is allowed in, written to the user array allowed_iovas
 * (num_iovas entries). Too small an array: EMSGSIZE, with num_iovas set to the count needed.
 */
struct vup_iommu_ioas_iova_ranges {
	uint32_t size;
	uint32_t ioas_id;
	uint32_t num_iovas;
	uint32_t reserved; /* must be 0 */
	uint64_t allowed_iovas;
	uint64_t out_iova_alignment;
};
#define VUP_IOMMU_IOAS_IOVA_RANGES _IO(VUP_IOMMUFD_TYPE, 0x84)

/* IOMMU_IOAS_MAP: pins [user_va, user_va + length) and maps it; with FIXED_IOVA exactly at iova. */
struct vup_iommu_ioas_map {
	uint32_t size;
	uint32_t flags;
	uint32_t ioas_id;
	uint32_t reserved; /* must be 0 */
	uint64_t user_va;
	uint64_t length;
	uint64_t iova; /* in with FIXED_IOVA, else out */
};
#define VUP_IOMMU_IOAS_MAP_FIXED_IOVA (1u << 0)
#define VUP_IOMMU_IOAS_MAP_WRITEABLE (1u << 1)
#define VUP_IOMMU_IOAS_MAP_READABLE (1u << 2)
#define VUP_IOMMU_IOAS_MAP _IO(VUP_IOMMUFD_TYPE, 0x85)

/* IOMMU_IOAS_UNMAP: removes the whole mappings inside [iova, iova + length); length out: bytes unmapped. */
struct vup_iommu_ioas_unmap {
	uint32_t size;
	uint32_t ioas_id;
	uint64_t iova;
	uint64_t length;
};
#define VUP_IOMMU_IOAS_UNMAP _IO(VUP_IOMMUFD_TYPE, 0x86)

/* ---- VFIO device cdev: /dev/vfio/devices/vfioX ---- */

/* VFIO_DEVICE_BIND_IOMMUFD: binds the cdev's device to an iommufd; out_devid names it there. */
struct vup_vfio_device_bind_iommufd {
	uint32_t argsz;
	uint32_t flags; /* 0 */
	int32_t iommufd;
	uint32_t out_devid;
};
#define VUP_VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)

/* VFIO_DEVICE_ATTACH_IOMMUFD_PT: attaches the bound device to a page table (an IOAS id here). */
struct vup_vfio_device_attach_iommufd_pt {
	uint32_t argsz;
	uint32_t flags; /* 0 */
	uint32_t pt_id;
};
#define VUP_VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)

/*
 * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO on a cdev-bound device: the info flags gain DEV_ID (devices[] hold
 * device ids in the iommufd instead of group numbers) and DEV_ID_OWNED (every affected device is ours);
 * a device that is not ours reads NOT_OWNED. VFIO_DEVICE_PCI_HOT_RESET then takes an empty group array.
 */
#define VUP_VFIO_PCI_HOT_RESET_FLAG_DEV_ID (1u << 0)
#define VUP_VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED (1u << 1)
#define VUP_VFIO_PCI_DEVID_OWNED 0u
#define VUP_VFIO_PCI_DEVID_NOT_OWNED 0xffffffffu

static_assert(sizeof(struct vup_iommu_destroy) == 8, "iommu_destroy is 8 bytes");
static_assert(sizeof(struct vup_iommu_ioas_alloc) == 12, "iommu_ioas_alloc is 12 bytes");
static_assert(sizeof(struct vup_iommu_iova_range) == 16, "iommu_iova_range is 16 bytes");
static_assert(sizeof(struct vup_iommu_ioas_iova_ranges) == 32, "iommu_ioas_iova_ranges is 32 bytes");
static_assert(offsetof(struct vup_iommu_ioas_iova_ranges, allowed_iovas) == 16, "allowed_iovas at 16");
static_assert(sizeof(struct vup_iommu_ioas_map) == 40, "iommu_ioas_map is 40 bytes");
static_assert(offsetof(struct vup_iommu_ioas_map, iova) == 32, "iommu_ioas_map.iova at 32");
static_assert(sizeof(struct vup_iommu_ioas_unmap) == 24, "iommu_ioas_unmap is 24 bytes");
static_assert(sizeof(struct vup_vfio_device_bind_iommufd) == 16, "vfio_device_bind_iommufd is 16 bytes");
static_assert(sizeof(struct vup_vfio_device_attach_iommufd_pt) == 12, "vfio_device_attach_iommufd_pt is 12 bytes");
static_assert(VUP_IOMMU_IOAS_MAP == 0x3b85, "IOMMU_IOAS_MAP is _IO(';', 0x85)");
static_assert(VUP_VFIO_DEVICE_BIND_IOMMUFD == 0x3b76, "VFIO_DEVICE_BIND_IOMMUFD is _IO(';', 118)");

#endif /* BACKEND_VFIO_IOMMUFD_UAPI_H */
