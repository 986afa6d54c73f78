/* vfio_iommufd.c: the iommufd IOMMU path: /dev/iommu and the device's VFIO cdev, one IOAS, DMA maps at the client's IOVA checked against the IOAS's ranges, cdev hot reset. */
#include "backend/vfio_iommu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "backend/vfio_info.h"
#include "backend/vfio_iommufd_uapi.h"
#include "util/log.h"
#include "util/privsep.h"

#define RANGES_MAX 4096u /* far more than any IOMMU reports */
#define NAME_MAX_LEN (2 * PATH_MAX + 96)

struct vfio_iommufd {
	struct vfio_iommu base;
	int iommufd;
	uint32_t ioas;
	uint32_t devid;
	struct vfio_iova_range *ranges;
	uint32_t nranges;
	char name[NAME_MAX_LEN];
};

static struct vfio_iommufd *to_fd(struct vfio_iommu *io)
{
	return (struct vfio_iommufd *)io;
}

static int fd_map(struct vfio_iommu *io, uint64_t iova, uint64_t size, void *vaddr, uint32_t prot)
{
	struct vfio_iommufd *f = to_fd(io);
	struct vup_iommu_ioas_map m = {
		.size = sizeof(m),
		.flags = VUP_IOMMU_IOAS_MAP_FIXED_IOVA | ((prot & VFIO_IOMMU_READ) ? VUP_IOMMU_IOAS_MAP_READABLE : 0) |
			 ((prot & VFIO_IOMMU_WRITE) ? VUP_IOMMU_IOAS_MAP_WRITEABLE : 0),
		.ioas_id = f->ioas,
		.user_va = (uint64_t)(uintptr_t)vaddr,
		.length = size,
		.iova = iova,
	};

	return ioctl(f->iommufd, VUP_IOMMU_IOAS_MAP, &m) ? -errno : 0;
}

static int fd_unmap(struct vfio_iommu *io, uint64_t iova, uint64_t size)
{
	struct vfio_iommufd *f = to_fd(io);
	struct vup_iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = f->ioas, .iova = iova, .length = size };

	if (ioctl(f->iommufd, VUP_IOMMU_IOAS_UNMAP, &u))
		return -errno;
	/* The kernel answers with what it unmapped: anything else means our books and its disagree. */
	return u.length == size ? 0 : -ENOENT;
}

static uint32_t fd_iova_ranges(struct vfio_iommu *io, const struct vfio_iova_range **ranges)
{
	*ranges = to_fd(io)->ranges;
	return to_fd(io)->nranges;
}

/*
 * With the device bound to an iommufd, the kernel proves ownership itself: devices[] hold device ids
 * (the field the group number occupies on the legacy path), NOT_OWNED for a device outside our iommufd,
 * and the reset takes an empty group array.
 */
static int fd_hot_reset_fds(struct vfio_iommu *io, const struct vfio_pci_dependent_device *devs, uint32_t n,
			    int32_t *fds, uint32_t max, uint32_t *foreign)
{
	for (uint32_t i = 0; i < n; i++) {
		if (devs[i].group_id == VUP_VFIO_PCI_DEVID_NOT_OWNED) {
			*foreign = i;
			return -EPERM;
		}
	}
	return 0;
}

/*
 * A cdev binds to an iommufd only while no other file of the device is open (the kernel refuses the bind
 * otherwise): binding a fresh file is the proof. It needs the node opened again, through the privileged
 * helper once the proxy has dropped its privileges.
 */
static int fd_reacquire(struct vfio_iommu *io, const struct vfio_target *t, int *device_fd)
{
	struct vfio_iommufd *f = to_fd(io);
	struct vup_vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = f->iommufd };
	struct vup_vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at), .pt_id = f->ioas };
	int fd, ret;

	if (*device_fd >= 0)
		close(*device_fd);
	*device_fd = -1;
	fd = privsep_open_node(t->cdev_path);
	if (fd < 0)
		return fd;
	if (ioctl(fd, VUP_VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
		ret = errno == EBUSY || errno == EINVAL ? -EBUSY : -errno;
		close(fd);
		return ret;
	}
	f->devid = bind.out_devid;
	if (ioctl(fd, VUP_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*device_fd = fd;
	return 0;
}

static void fd_close(struct vfio_iommu *io)
{
	struct vfio_iommufd *f = to_fd(io);

	/* The device fd is closed first (it detaches and unbinds); the IOAS and its maps go with the iommufd. */
	if (f->iommufd >= 0)
		close(f->iommufd);
	free(f->ranges);
	free(f);
}

static void fd_handle(struct vfio_iommu *io, struct vfio_iommu_handle *h)
{
	struct vfio_iommufd *f = to_fd(io);

	*h = (struct vfio_iommu_handle){ .container_fd = -1, .group_fd = -1, .iommufd = f->iommufd, .ioas_id = f->ioas,
					 .dev_id = f->devid };
}

static void fd_disown(struct vfio_iommu *io)
{
	to_fd(io)->iommufd = -1;
	fd_close(io);
}

static const struct vfio_iommu_ops iommufd_ops = {
	.map = fd_map,
	.unmap = fd_unmap,
	.iova_ranges = fd_iova_ranges,
	.hot_reset_fds = fd_hot_reset_fds,
	.reacquire = fd_reacquire,
	.close = fd_close,
	.handle = fd_handle,
	.disown = fd_disown,
};

struct ranges_query {
	int iommufd;
	struct vup_iommu_ioas_iova_ranges q;
};

/* One try of IOMMU_IOAS_IOVA_RANGES into buf: EMSGSIZE says how many ranges there are. */
static ssize_t ask_ranges(void *ctx, void *buf, size_t len)
{
	struct ranges_query *a = ctx;
	uint32_t room = (uint32_t)(len / sizeof(struct vup_iommu_iova_range));

	a->q.num_iovas = room;
	a->q.allowed_iovas = (uint64_t)(uintptr_t)buf;
	if (ioctl(a->iommufd, VUP_IOMMU_IOAS_IOVA_RANGES, &a->q) == 0)
		return 0;
	if (errno != EMSGSIZE)
		return -errno;
	return a->q.num_iovas > room ? (ssize_t)(a->q.num_iovas * sizeof(struct vup_iommu_iova_range)) : -EMSGSIZE;
}

/* IOMMU_IOAS_IOVA_RANGES, grown to the count the kernel asks for. */
static int read_ranges(struct vfio_iommufd *f)
{
	struct ranges_query a = { .iommufd = f->iommufd, .q = { .size = sizeof(a.q), .ioas_id = f->ioas } };
	struct vup_iommu_iova_range *r = NULL;
	size_t len;
	int ret;

	ret = vfio_query_grow(ask_ranges, &a, 4 * sizeof(*r), RANGES_MAX * sizeof(*r), (void **)&r, &len);
	if (ret) {
		if (ret == -E2BIG)
			free(r);
		log_error("IOMMU_IOAS_IOVA_RANGES on IOAS %u failed: %s", f->ioas, strerror(-ret));
		return ret;
	}
	if (a.q.num_iovas > len / sizeof(*r))
		a.q.num_iovas = (uint32_t)(len / sizeof(*r));
	f->nranges = a.q.num_iovas;
	f->ranges = calloc(f->nranges ? f->nranges : 1, sizeof(*f->ranges));
	if (!f->ranges) {
		free(r);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < f->nranges; i++)
		f->ranges[i] = (struct vfio_iova_range){ .start = r[i].start, .end = r[i].last };
	free(r);
	/* The IOAS maps at any multiple of its alignment: that is the page size a client must use. */
	if (a.q.out_iova_alignment && !(a.q.out_iova_alignment & (a.q.out_iova_alignment - 1)) &&
	    a.q.out_iova_alignment < (1ull << 63))
		f->base.pgsizes = a.q.out_iova_alignment;
	if (a.q.out_iova_alignment > 4096)
		log_warn("the IOAS maps in %llu KiB steps: DMA windows not aligned to it will be refused",
			 (unsigned long long)a.q.out_iova_alignment / 1024);
	if (!f->nranges)
		log_info("the IOAS reports no IOVA ranges: DMA windows are not checked against them");
	for (uint32_t i = 0; i < f->nranges; i++)
		log_debug("IOAS %u: usable IOVA range %#llx-%#llx", f->ioas, (unsigned long long)f->ranges[i].start,
			  (unsigned long long)f->ranges[i].end);
	return 0;
}

/* /dev/iommu, one IOAS in it. */
static int open_iommufd(struct vfio_iommufd *f, const struct vfio_target *t)
{
	struct vup_iommu_ioas_alloc a = { .size = sizeof(a) };
	int fd, ret;

	fd = vfio_open_node_logged(t->iommufd_path, NULL);
	if (fd < 0)
		return fd;
	f->iommufd = fd;
	if (ioctl(fd, VUP_IOMMU_IOAS_ALLOC, &a)) {
		ret = -errno;
		log_error("IOMMU_IOAS_ALLOC on %s failed (%s): is it the iommufd device?", t->iommufd_path,
			  strerror(-ret));
		return ret;
	}
	f->ioas = a.out_ioas_id;
	return 0;
}

/* The cdev, bound to our iommufd and attached to the IOAS: the device fd. */
static int open_cdev(struct vfio_iommufd *f, const struct vfio_target *t, int *device_fd)
{
	struct vup_vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = f->iommufd };
	struct vup_vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at), .pt_id = f->ioas };
	char why[VFIO_WHY_MAX];
	int fd, ret;

	fd = vfio_open_node(t->cdev_path, NULL, why, sizeof(why));
	if (fd < 0) {
		if (fd == -EBUSY)
			log_error("%s is busy: another process (a VMM or another proxy) holds %s; stop it first",
				  t->cdev_path, t->bdf);
		else
			log_error("%s", why);
		return fd;
	}
	if (ioctl(fd, VUP_VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
		ret = -errno;
		if (ret == -EBUSY)
			log_error("cannot bind %s to iommufd: the device is in use (opened through its group "
				  "%s by another process?); stop that process first",
				  t->bdf, t->group_path);
		else
			log_error("VFIO_DEVICE_BIND_IOMMUFD of %s (%s) failed: %s", t->bdf, t->cdev_path,
				  strerror(-ret));
		close(fd);
		return ret;
	}
	f->devid = bind.out_devid;
	if (ioctl(fd, VUP_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at)) {
		ret = -errno;
		log_error("VFIO_DEVICE_ATTACH_IOMMUFD_PT of %s to IOAS %u failed: %s", t->bdf, f->ioas,
			  strerror(-ret));
		close(fd);
		return ret;
	}
	*device_fd = fd;
	return 0;
}

static void name_it(struct vfio_iommufd *f, const struct vfio_target *t)
{
	snprintf(f->name, sizeof(f->name), "iommufd (%s, IOAS %u, device cdev %s, devid %u)", t->iommufd_path,
		 f->ioas, t->cdev_path, f->devid);
	f->base.name = f->name;
}

int vfio_iommufd_adopt(const struct vfio_target *t, const struct vfio_iommu_handle *h, struct vfio_iommu **out)
{
	struct vfio_iommufd *f;
	int ret;

	if (!vfio_fd_is_node(h->iommufd, t->iommufd_path)) {
		log_error("hand-over: fd %d is not %s", h->iommufd, t->iommufd_path);
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->base.ops = &iommufd_ops;
	f->iommufd = h->iommufd;
	f->ioas = h->ioas_id;
	f->devid = h->dev_id;
	ret = read_ranges(f); /* also the proof that the IOAS is there */
	if (ret) {
		fd_disown(&f->base);
		return ret;
	}
	name_it(f, t);
	*out = &f->base;
	return 0;
}

int vfio_iommufd_open(const struct vfio_target *t, struct vfio_iommu **out, int *device_fd)
{
	struct vfio_iommufd *f = calloc(1, sizeof(*f));
	int ret, fd = -1;

	if (!f)
		return -ENOMEM;
	f->base.ops = &iommufd_ops;
	f->iommufd = -1;
	ret = open_iommufd(f, t);
	if (!ret)
		ret = open_cdev(f, t, &fd);
	if (!ret)
		ret = read_ranges(f);
	if (ret) {
		if (fd >= 0)
			close(fd);
		fd_close(&f->base);
		return ret;
	}
	name_it(f, t);
	*device_fd = fd;
	*out = &f->base;
	return 0;
}
