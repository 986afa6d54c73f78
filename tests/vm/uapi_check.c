/* uapi_check.c: the bench checks proxy/backend/vfio_iommufd_uapi.h (written for hosts with 6.1 headers) against the real uAPI headers of the kernel it built (kernel-build.sh: make headers_install); one PASS/FAIL line. */
#include <stddef.h>
#include <stdio.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "backend/vfio_iommufd_uapi.h"

/* a mirrored value against the kernel's own */
#define EQ(a, b)                                                                                       \
	do {                                                                                           \
		if ((unsigned long)(a) != (unsigned long)(b)) {                                        \
			printf("INFO uapi mismatch: %s is %lu, the kernel's %lu\n", #a, (unsigned long)(a), \
			       (unsigned long)(b));                                                    \
			bad = 1;                                                                       \
		}                                                                                      \
	} while (0)

int main(void)
{
	int bad = 0;

	EQ(VUP_IOMMU_DESTROY, IOMMU_DESTROY);
	EQ(VUP_IOMMU_IOAS_ALLOC, IOMMU_IOAS_ALLOC);
	EQ(VUP_IOMMU_IOAS_IOVA_RANGES, IOMMU_IOAS_IOVA_RANGES);
	EQ(VUP_IOMMU_IOAS_MAP, IOMMU_IOAS_MAP);
	EQ(VUP_IOMMU_IOAS_UNMAP, IOMMU_IOAS_UNMAP);
	EQ(VUP_VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_BIND_IOMMUFD);
	EQ(VUP_VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_ATTACH_IOMMUFD_PT);
	EQ(VUP_IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_FIXED_IOVA);
	EQ(VUP_IOMMU_IOAS_MAP_WRITEABLE, IOMMU_IOAS_MAP_WRITEABLE);
	EQ(VUP_IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_READABLE);
	EQ(VUP_VFIO_PCI_HOT_RESET_FLAG_DEV_ID, VFIO_PCI_HOT_RESET_FLAG_DEV_ID);
	EQ(VUP_VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED, VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED);
	EQ(VUP_VFIO_PCI_DEVID_NOT_OWNED, (unsigned)VFIO_PCI_DEVID_NOT_OWNED);
	EQ(sizeof(struct vup_iommu_ioas_map), sizeof(struct iommu_ioas_map));
	EQ(sizeof(struct vup_iommu_ioas_unmap), sizeof(struct iommu_ioas_unmap));
	EQ(sizeof(struct vup_iommu_ioas_alloc), sizeof(struct iommu_ioas_alloc));
	EQ(sizeof(struct vup_iommu_ioas_iova_ranges), sizeof(struct iommu_ioas_iova_ranges));
	EQ(offsetof(struct vup_iommu_ioas_iova_ranges, out_iova_alignment), offsetof(struct iommu_ioas_iova_ranges, out_iova_alignment));
	EQ(offsetof(struct vup_iommu_ioas_map, user_va), offsetof(struct iommu_ioas_map, user_va));
	EQ(offsetof(struct vup_iommu_ioas_map, length), offsetof(struct iommu_ioas_map, length));
	EQ(offsetof(struct vup_iommu_ioas_unmap, length), offsetof(struct iommu_ioas_unmap, length));
	EQ(sizeof(struct vup_vfio_device_bind_iommufd), sizeof(struct vfio_device_bind_iommufd));
	EQ(offsetof(struct vup_vfio_device_bind_iommufd, out_devid), offsetof(struct vfio_device_bind_iommufd, out_devid));
	EQ(sizeof(struct vup_vfio_device_attach_iommufd_pt), sizeof(struct vfio_device_attach_iommufd_pt));
	EQ(sizeof(struct vup_iommu_destroy), sizeof(struct iommu_destroy));
	if (bad)
		puts("FAIL uapi-mirror: proxy/backend/vfio_iommufd_uapi.h disagrees with the kernel's headers");
	else
		puts("PASS uapi-mirror");
	return bad;
}
