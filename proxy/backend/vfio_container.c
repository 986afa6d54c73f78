/* vfio_container.c: the legacy IOMMU path: /dev/vfio/vfio container, /dev/vfio/GROUP, type1v2 IOMMU, DMA maps checked against the IOVA ranges. */
#include "backend/vfio_iommu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "backend/vfio_caps.h"
#include "backend/vfio_info.h"
#include "util/log.h"

#define IOMMU_INFO_MAX (64u * 1024) /* bigger than any real IOMMU info with its capabilities */

struct vfio_container {
	struct vfio_iommu base;
	int container_fd;
	int group_fd;
	unsigned int group;
	struct vfio_iova_range *ranges;
	uint32_t nranges;
};

static struct vfio_container *to_ct(struct vfio_iommu *io)
{
	return (struct vfio_container *)io;
}

static int ct_map(struct vfio_iommu *io, uint64_t iova, uint64_t size, void *vaddr, uint32_t prot)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = ((prot & VFIO_IOMMU_READ) ? VFIO_DMA_MAP_FLAG_READ : 0) |
			 ((prot & VFIO_IOMMU_WRITE) ? VFIO_DMA_MAP_FLAG_WRITE : 0),
		.vaddr = (uint64_t)(uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	return ioctl(to_ct(io)->container_fd, VFIO_IOMMU_MAP_DMA, &m) ? -errno : 0;
}

static int ct_unmap(struct vfio_iommu *io, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .flags = 0, .iova = iova, .size = size };

	if (ioctl(to_ct(io)->container_fd, VFIO_IOMMU_UNMAP_DMA, &u))
		return -errno;
	/* The kernel answers with what it unmapped: nothing there means our books and its disagree. */
	return u.size == size ? 0 : -ENOENT;
}

static uint32_t ct_iova_ranges(struct vfio_iommu *io, const struct vfio_iova_range **ranges)
{
	*ranges = to_ct(io)->ranges;
	return to_ct(io)->nranges;
}

static int ct_hot_reset_fds(struct vfio_iommu *io, const struct vfio_pci_dependent_device *devs, uint32_t n,
			    int32_t *fds, uint32_t max, uint32_t *foreign)
{
	struct vfio_container *c = to_ct(io);

	/* We hold one group: the reset may only touch devices in it. */
	for (uint32_t i = 0; i < n; i++) {
		if (devs[i].group_id != c->group) {
			*foreign = i;
			return -EPERM;
		}
	}
	if (max < 1)
		return -ENOSPC;
	fds[0] = c->group_fd;
	return 1;
}

/*
 * The group leaves its container only once no device fd of it is open anywhere (the kernel counts every
 * open device file, whoever holds it, in flight in a socket included): that is the proof. Then the group
 * joins the container again (the IOMMU, set anew, maps nothing) and the device is opened afresh.
 */
static int ct_reacquire(struct vfio_iommu *io, const struct vfio_target *t, int *device_fd)
{
	struct vfio_container *c = to_ct(io);
	int fd;

	if (*device_fd >= 0)
		close(*device_fd);
	*device_fd = -1;
	if (ioctl(c->group_fd, VFIO_GROUP_UNSET_CONTAINER))
		return errno == EBUSY ? -EBUSY : -errno;
	if (ioctl(c->group_fd, VFIO_GROUP_SET_CONTAINER, &c->container_fd) ||
	    ioctl(c->container_fd, VFIO_SET_IOMMU, (unsigned long)VFIO_TYPE1v2_IOMMU))
		return -errno;
	fd = ioctl(c->group_fd, VFIO_GROUP_GET_DEVICE_FD, t->bdf);
	if (fd < 0)
		return -errno;
	*device_fd = fd;
	return 0;
}

static void ct_close(struct vfio_iommu *io)
{
	struct vfio_container *c = to_ct(io);

	if (c->group_fd >= 0)
		close(c->group_fd); /* detaches the group from the container */
	if (c->container_fd >= 0)
		close(c->container_fd);
	free(c->ranges);
	free(c);
}

static void ct_handle(struct vfio_iommu *io, struct vfio_iommu_handle *h)
{
	struct vfio_container *c = to_ct(io);

	*h = (struct vfio_iommu_handle){ .container_fd = c->container_fd, .group_fd = c->group_fd, .iommufd = -1 };
}

static void ct_disown(struct vfio_iommu *io)
{
	struct vfio_container *c = to_ct(io);

	c->container_fd = c->group_fd = -1;
	ct_close(io);
}

static const struct vfio_iommu_ops container_ops = {
	.map = ct_map,
	.unmap = ct_unmap,
	.iova_ranges = ct_iova_ranges,
	.hot_reset_fds = ct_hot_reset_fds,
	.reacquire = ct_reacquire,
	.close = ct_close,
	.handle = ct_handle,
	.disown = ct_disown,
};

/* VFIO_IOMMU_GET_INFO with its whole capability chain. */
static int get_iommu_info(struct vfio_container *c, struct vfio_iommu_type1_info **out, size_t *out_len)
{
	struct vfio_iommu_type1_info hdr = { 0 };

	return vfio_info_ioctl(c->container_fd, VFIO_IOMMU_GET_INFO, &hdr, sizeof(hdr), IOMMU_INFO_MAX, (void **)out,
			       out_len);
}

static void log_ranges(const struct vfio_container *c)
{
	char line[512];
	size_t n = 0;

	line[0] = '\0';
	for (uint32_t i = 0; i < c->nranges && n < sizeof(line); i++) {
		int w = snprintf(line + n, sizeof(line) - n, "%s%#llx-%#llx", i ? ", " : "",
				 (unsigned long long)c->ranges[i].start, (unsigned long long)c->ranges[i].end);

		if (w < 0)
			break;
		n += (size_t)w;
	}
	log_debug("IOMMU group %u: usable IOVA ranges %s", c->group, line);
}

/* The IOVA ranges and page sizes; neither is fatal when missing (older kernels did not report ranges). */
static int read_iommu_info(struct vfio_container *c)
{
	struct vfio_iommu_type1_info *info = NULL;
	size_t len = 0;
	int n, ret;

	ret = get_iommu_info(c, &info, &len);
	if (ret) {
		log_error("VFIO_IOMMU_GET_INFO on the container failed: %s", strerror(-ret));
		return ret;
	}
	if ((info->flags & VFIO_IOMMU_INFO_PGSIZES) && info->iova_pgsizes) {
		uint64_t smallest = info->iova_pgsizes & -info->iova_pgsizes;

		if (smallest > 4096)
			log_warn("the IOMMU's smallest page is %llu KiB: DMA windows not aligned to it will be refused",
				 (unsigned long long)smallest / 1024);
		/* advertised to the client as they are; bit 63 would not survive the JSON number */
		c->base.pgsizes = info->iova_pgsizes & ~(1ull << 63);
	}
	n = -ENOENT;
	if ((info->flags & VFIO_IOMMU_INFO_CAPS) && info->cap_offset)
		n = vfio_iova_ranges_parse(info, len, info->cap_offset, sizeof(*info), NULL, 0);
	if (n > 0) {
		c->ranges = calloc((size_t)n, sizeof(*c->ranges));
		if (!c->ranges) {
			free(info);
			return -ENOMEM;
		}
		vfio_iova_ranges_parse(info, len, info->cap_offset, sizeof(*info), c->ranges, (uint32_t)n);
		c->nranges = (uint32_t)n;
		log_ranges(c);
	} else if (n == -ENOENT || n == 0) {
		log_info("the IOMMU reports no IOVA ranges: DMA windows are not checked against them");
	} else {
		log_warn("the IOMMU's IOVA-range capability is malformed: DMA windows are not checked against it");
	}
	free(info);
	return 0;
}

/* /dev/vfio/vfio: a container of the API we know, with type1v2. */
static int open_container(struct vfio_container *c, const struct vfio_target *t)
{
	int fd, ret;

	fd = vfio_open_node_logged(t->container_path, t);
	if (fd < 0)
		return fd;
	c->container_fd = fd;
	ret = ioctl(fd, VFIO_GET_API_VERSION);
	if (ret < 0) {
		ret = -errno;
		log_error("VFIO_GET_API_VERSION on %s failed (%s): is it the VFIO container device?", t->container_path,
			  strerror(-ret));
		return ret;
	}
	if (ret != VFIO_API_VERSION) {
		log_error("%s speaks VFIO API version %d, the proxy knows %d: update the proxy", t->container_path, ret,
			  VFIO_API_VERSION);
		return -ENOTSUP;
	}
	ret = ioctl(fd, VFIO_CHECK_EXTENSION, (unsigned long)VFIO_TYPE1v2_IOMMU);
	if (ret <= 0) {
		log_error("the kernel's VFIO offers no type1v2 IOMMU (%s): load vfio_iommu_type1 (modprobe "
			  "vfio_iommu_type1) and check that the IOMMU is on",
			  ret < 0 ? strerror(errno) : "VFIO_CHECK_EXTENSION says no");
		return -ENOTSUP;
	}
	return 0;
}

/* /dev/vfio/GROUP: viable, free, then attached to the container. */
static int open_group(struct vfio_container *c, const struct vfio_target *t)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	int fd, ret;

	fd = vfio_open_node_logged(t->group_path, t);
	if (fd < 0)
		return fd;
	c->group_fd = fd;
	c->group = t->group;
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &status)) {
		ret = -errno;
		log_error("VFIO_GROUP_GET_STATUS on %s failed: %s", t->group_path, strerror(-ret));
		return ret;
	}
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		log_error("IOMMU group %u is not viable: a device in it is still used by a host driver; bind every "
			  "device of the group to vfio-pci or unbind it (see /sys/kernel/iommu_groups/%u/devices)",
			  t->group, t->group);
		return -EBUSY;
	}
	if (status.flags & VFIO_GROUP_FLAGS_CONTAINER_SET) {
		log_error("IOMMU group %u is already attached to a VFIO container: another process uses it; stop it "
			  "first",
			  t->group);
		return -EBUSY;
	}
	if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &c->container_fd)) {
		ret = -errno;
		log_error("cannot attach IOMMU group %u to the VFIO container: %s", t->group, strerror(-ret));
		return ret;
	}
	if (ioctl(c->container_fd, VFIO_SET_IOMMU, (unsigned long)VFIO_TYPE1v2_IOMMU)) {
		ret = -errno;
		log_error("cannot give the VFIO container a type1v2 IOMMU: %s (is the IOMMU on and vfio_iommu_type1 "
			  "loaded?)",
			  strerror(-ret));
		return ret;
	}
	return 0;
}

static struct vfio_container *container_new(void)
{
	struct vfio_container *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->base.ops = &container_ops;
	c->base.name = "the legacy VFIO container (type1v2 IOMMU)";
	c->container_fd = -1;
	c->group_fd = -1;
	return c;
}

int vfio_container_adopt(const struct vfio_target *t, const struct vfio_iommu_handle *h, struct vfio_iommu **out)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfio_container *c;
	int ret;

	if (!vfio_fd_is_node(h->group_fd, t->group_path) || !vfio_fd_is_node(h->container_fd, t->container_path)) {
		log_error("hand-over: fds %d and %d are not %s and %s", h->group_fd, h->container_fd, t->group_path,
			  t->container_path);
		return -EINVAL;
	}
	if (ioctl(h->group_fd, VFIO_GROUP_GET_STATUS, &status) ||
	    (status.flags & (VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET)) !=
		    (VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET) ||
	    ioctl(h->container_fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		log_error("hand-over: IOMMU group %u is not viable and in a container of the VFIO API we know", t->group);
		return -EINVAL;
	}
	c = container_new();
	if (!c)
		return -ENOMEM;
	c->container_fd = h->container_fd;
	c->group_fd = h->group_fd;
	c->group = t->group;
	ret = read_iommu_info(c);
	if (ret) {
		ct_disown(&c->base);
		return ret;
	}
	*out = &c->base;
	return 0;
}

int vfio_container_open(const struct vfio_target *t, struct vfio_iommu **out, int *device_fd)
{
	struct vfio_container *c = container_new();
	int ret, fd;

	if (!c)
		return -ENOMEM;
	ret = open_container(c, t);
	if (!ret)
		ret = open_group(c, t);
	if (!ret)
		ret = read_iommu_info(c);
	if (ret)
		goto fail;
	fd = ioctl(c->group_fd, VFIO_GROUP_GET_DEVICE_FD, t->bdf);
	if (fd < 0) {
		ret = -errno;
		log_error("cannot open VFIO device %s in IOMMU group %u: %s", t->bdf, t->group, strerror(-ret));
		goto fail;
	}
	*device_fd = fd;
	*out = &c->base;
	return 0;
fail:
	ct_close(&c->base);
	return ret;
}
