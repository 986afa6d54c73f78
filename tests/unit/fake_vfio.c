/* fake_vfio.c: the fake VFIO kernel: ioctl() for the whole test binary, answering the legacy container/group (6.1 semantics), iommufd and the device cdev (6.12) and a memfd as the device fd, with vfio-pci's device request channel; the fake device's defaults and its sysfs tree. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "backend/vfio_iommufd_uapi.h"
#include "fake_vfio.h"

struct fake fk;

static const struct vfio_iova_range fake_ranges[2] = { { 0, 0xfedfffff }, { 0xfef00000, 0xffffffffffffull } };

/* ---- the fake kernel ---- */

enum fd_kind fd_kind(int fd)
{
	char link[64], target[PATH_MAX], want[PATH_MAX + 32];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return FD_OTHER;
	target[n] = '\0';
	if (strstr(target, "memfd:" DEV_MEMFD_NAME))
		return FD_DEVICE;
	if (strstr(target, "memfd:" CDEV_MEMFD_NAME))
		return FD_CDEV;
	if (strcmp(target, "anon_inode:[eventfd]") == 0)
		return FD_EVENTFD;
	snprintf(want, sizeof(want), "%s/dev/vfio/vfio", fk.root);
	if (strcmp(target, want) == 0)
		return FD_CONTAINER;
	snprintf(want, sizeof(want), "%s/dev/vfio/%d", fk.root, GROUP);
	if (strcmp(target, want) == 0)
		return FD_GROUP;
	snprintf(want, sizeof(want), "%s/dev/iommu", fk.root);
	if (strcmp(target, want) == 0)
		return FD_IOMMUFD;
	return FD_OTHER;
}

static void put_cap_hdr(uint8_t *p, uint16_t id, uint32_t next)
{
	struct vfio_info_cap_header h = { .id = id, .version = 1, .next = next };

	memcpy(p, &h, sizeof(h));
}

static int container_ioctl(unsigned long req, void *arg)
{
	switch (req) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		return (unsigned long)arg == VFIO_TYPE1v2_IOMMU && fk.type1v2;
	case VFIO_SET_IOMMU:
		if (!fk.container_set || (unsigned long)arg != VFIO_TYPE1v2_IOMMU)
			return -EINVAL;
		fk.iommu_set = true;
		return 0;
	case VFIO_IOMMU_GET_INFO: {
		struct vfio_iommu_type1_info *i = arg;
		const size_t caps = 16 + sizeof(fake_ranges);
		uint8_t *cap = (uint8_t *)arg + sizeof(*i);
		uint32_t nr[2] = { 2, 0 };

		if (!fk.iommu_set || i->argsz < offsetof(struct vfio_iommu_type1_info, cap_offset))
			return -EINVAL;
		i->flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
		i->iova_pgsizes = 0x40201000;
		i->cap_offset = 0;
		if (i->argsz < sizeof(*i) + caps) {
			i->argsz = (uint32_t)(sizeof(*i) + caps);
			return 0;
		}
		put_cap_hdr(cap, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 0);
		memcpy(cap + 8, nr, sizeof(nr));
		memcpy(cap + 16, fake_ranges, sizeof(fake_ranges));
		i->cap_offset = sizeof(*i);
		return 0;
	}
	case VFIO_IOMMU_MAP_DMA: {
		struct vfio_iommu_type1_dma_map *m = arg;
		bool inside = false;

		fk.map_calls++;
		if (m->argsz < sizeof(*m) || !(m->flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)))
			return -EINVAL;
		for (int i = 0; i < 2; i++)
			inside |= m->iova >= fake_ranges[i].start && m->iova + m->size - 1 <= fake_ranges[i].end;
		if (!inside)
			return -EINVAL;
		if (fk.map_errno)
			return -fk.map_errno;
		assert_true(fk.nmaps < MAX_MAPS);
		fk.maps[fk.nmaps++] = (struct fake_map){ m->iova, m->size, m->vaddr, m->flags };
		return 0;
	}
	case VFIO_IOMMU_UNMAP_DMA: {
		struct vfio_iommu_type1_dma_unmap *u = arg;
		uint64_t size = u->size;

		fk.unmap_calls++;
		fk.unmap_seq = ++fk.seq;
		u->size = 0;
		for (unsigned int i = 0; i < fk.nmaps; i++) {
			if (fk.maps[i].iova == u->iova && fk.maps[i].size == size) {
				fk.maps[i] = fk.maps[--fk.nmaps];
				u->size = size;
				break;
			}
		}
		return 0;
	}
	default:
		return -ENOTTY;
	}
}

static void write_config(int fd, uint32_t off, const void *v, size_t len)
{
	assert_int_equal(pwrite(fd, v, len, ((off_t)VFIO_PCI_CONFIG_REGION_INDEX << REGION_SHIFT) + off), (ssize_t)len);
}

uint16_t read_command(int fd)
{
	uint16_t cmd;

	assert_int_equal(pread(fd, &cmd, 2, ((off_t)VFIO_PCI_CONFIG_REGION_INDEX << REGION_SHIFT) + PCI_COMMAND), 2);
	return cmd;
}

static int new_device_fd_named(const char *name)
{
	const uint16_t ids[2] = { 0x1234, 0x11e8 }, sub[2] = { 0x1af4, 0x1100 };
	const uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	write_config(fd, PCI_VENDOR_ID, ids, sizeof(ids));
	write_config(fd, PCI_COMMAND, &cmd, sizeof(cmd));
	write_config(fd, PCI_SUBSYSTEM_VENDOR_ID, sub, sizeof(sub));
	return fd;
}

static int new_device_fd(void)
{
	return new_device_fd_named(DEV_MEMFD_NAME);
}

/* The IOAS: maps go to fk.maps with the legacy flag names, so the same assertions read both paths. */
static int iommufd_ioctl(unsigned long req, void *arg)
{
	switch (req) {
	case VUP_IOMMU_IOAS_ALLOC: {
		struct vup_iommu_ioas_alloc *a = arg;

		if (a->size < sizeof(*a) || a->flags)
			return -EINVAL;
		if (fk.ioas_allocs++)
			return -ENOSPC; /* one IOAS is all the proxy needs */
		a->out_ioas_id = IOAS_ID;
		return 0;
	}
	case VUP_IOMMU_IOAS_IOVA_RANGES: {
		struct vup_iommu_ioas_iova_ranges *q = arg;
		struct vup_iommu_iova_range *r = (void *)(uintptr_t)q->allowed_iovas;

		if (q->size < sizeof(*q) || q->ioas_id != IOAS_ID || q->reserved)
			return -EINVAL;
		if (q->num_iovas < 2) {
			q->num_iovas = 2;
			return -EMSGSIZE;
		}
		for (int i = 0; i < 2; i++)
			r[i] = (struct vup_iommu_iova_range){ fake_ranges[i].start, fake_ranges[i].end };
		q->num_iovas = 2;
		q->out_iova_alignment = 4096;
		return 0;
	}
	case VUP_IOMMU_IOAS_MAP: {
		struct vup_iommu_ioas_map *m = arg;
		const uint32_t rw = VUP_IOMMU_IOAS_MAP_READABLE | VUP_IOMMU_IOAS_MAP_WRITEABLE;
		bool inside = false;

		fk.map_calls++;
		if (m->size < sizeof(*m) || m->ioas_id != IOAS_ID || m->reserved || !(m->flags & rw) ||
		    !(m->flags & VUP_IOMMU_IOAS_MAP_FIXED_IOVA) || !m->length)
			return -EINVAL;
		for (int i = 0; i < 2; i++)
			inside |= m->iova >= fake_ranges[i].start && m->iova + m->length - 1 <= fake_ranges[i].end;
		if (!inside)
			return -ENOSPC;
		for (unsigned int i = 0; i < fk.nmaps; i++)
			if (m->iova < fk.maps[i].iova + fk.maps[i].size && fk.maps[i].iova < m->iova + m->length)
				return -EEXIST; /* a stale mapping would show here */
		if (fk.map_errno)
			return -fk.map_errno;
		assert_true(fk.nmaps < MAX_MAPS);
		fk.maps[fk.nmaps++] = (struct fake_map){
			m->iova, m->length, m->user_va,
			((m->flags & VUP_IOMMU_IOAS_MAP_READABLE) ? VFIO_DMA_MAP_FLAG_READ : 0) |
				((m->flags & VUP_IOMMU_IOAS_MAP_WRITEABLE) ? VFIO_DMA_MAP_FLAG_WRITE : 0)
		};
		return 0;
	}
	case VUP_IOMMU_IOAS_UNMAP: {
		struct vup_iommu_ioas_unmap *u = arg;

		fk.unmap_calls++;
		fk.unmap_seq = ++fk.seq;
		if (u->size < sizeof(*u) || u->ioas_id != IOAS_ID)
			return -EINVAL;
		for (unsigned int i = 0; i < fk.nmaps; i++) {
			if (fk.maps[i].iova == u->iova && fk.maps[i].size == u->length) {
				fk.maps[i] = fk.maps[--fk.nmaps];
				return 0;
			}
		}
		u->length = 0;
		return -ENOENT;
	}
	default:
		return -ENOTTY;
	}
}

/* Device fds open in this process (the proxy's and what its "client" received): the kernel's count. */
static int open_device_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			n += fd_kind(atoi(e->d_name)) == FD_DEVICE;
	closedir(d);
	return n;
}

static int group_ioctl(unsigned long req, void *arg)
{
	switch (req) {
	case VFIO_GROUP_GET_STATUS: {
		struct vfio_group_status *s = arg;

		if (s->argsz < sizeof(*s))
			return -EINVAL;
		s->flags = (fk.viable ? VFIO_GROUP_FLAGS_VIABLE : 0) |
			   (fk.container_set ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
		return 0;
	}
	case VFIO_GROUP_SET_CONTAINER:
		if (fd_kind(*(int *)arg) != FD_CONTAINER)
			return -EBADF;
		if (fk.container_set)
			return -EBUSY;
		fk.container_set = true;
		return 0;
	case VFIO_GROUP_UNSET_CONTAINER:
		if (!fk.container_set)
			return -EINVAL;
		if (open_device_fds() > 0)
			return -EBUSY; /* a device fd of the group is open somewhere (here: in this process) */
		fk.container_set = false;
		fk.iommu_set = false;
		fk.unsets++;
		return 0;
	case VFIO_GROUP_GET_DEVICE_FD:
		if (!fk.iommu_set)
			return -EINVAL;
		if (strcmp(arg, BDF) != 0)
			return -ENODEV;
		if (open_device_fds() == 0)
			fake_release_req(); /* the device's first file: the last one's close dropped its triggers */
		return new_device_fd();
	default:
		return -ENOTTY;
	}
}

void fake_disable_msi(void)
{
	for (uint32_t i = 0; i < MAX_VEC; i++) {
		if (fk.ctx[i] >= 0)
			close(fk.ctx[i]);
		fk.ctx[i] = -1;
	}
	fk.num_ctx = 0;
	fk.irq_type = -1;
}

/* vfio_msi_set_block(): vectors inside the enabled block, or beyond it when the index can grow. */
static int fake_set_block(uint32_t index, uint32_t start, uint32_t count, const int32_t *fds)
{
	if (start + count > fk.num_ctx) {
		if (fk.irq_flags[index] & VFIO_IRQ_INFO_NORESIZE)
			return -EINVAL;
		fk.num_ctx = start + count; /* dynamic MSI-X (6.5+) */
	}
	for (uint32_t i = 0; i < count; i++) {
		int32_t fd = fds[i];

		if (fd >= 0 && fd_kind(fd) != FD_EVENTFD) {
			for (uint32_t j = 0; j < i; j++) {
				close(fk.ctx[start + j]);
				fk.ctx[start + j] = -1;
			}
			return -EINVAL;
		}
		if (fk.ctx[start + i] >= 0)
			close(fk.ctx[start + i]);
		fk.ctx[start + i] = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	}
	return 0;
}

void fake_release_req(void)
{
	if (fk.req_ctx >= 0)
		close(fk.req_ctx);
	fk.req_ctx = -1;
}

bool fake_request(void)
{
	uint64_t one = 1;

	fk.requests++;
	return fk.req_ctx >= 0 && write(fk.req_ctx, &one, sizeof(one)) == sizeof(one);
}

bool fake_req_is(int fd)
{
	uint64_t v = 5, got = 0;

	return fk.req_ctx >= 0 && fd >= 0 && write(fk.req_ctx, &v, sizeof(v)) == sizeof(v) &&
	       read(fd, &got, sizeof(got)) == sizeof(got) && got == 5;
}

/* vfio_pci_set_req_trigger() through vfio_pci_set_ctx_trigger_single(), 6.1. */
static int fake_set_req(uint32_t data, uint32_t action, uint32_t start, uint32_t count, const void *d)
{
	uint64_t one = 1;
	int32_t fd;

	fk.req_calls++;
	if (action != VFIO_IRQ_SET_ACTION_TRIGGER)
		return -ENOTTY;
	if (start != 0 || count > 1)
		return -EINVAL;
	switch (data) {
	case VFIO_IRQ_SET_DATA_NONE:
		if (fk.req_ctx < 0)
			return -EINVAL;
		if (count)
			assert_int_equal(write(fk.req_ctx, &one, sizeof(one)), sizeof(one));
		else
			fake_release_req();
		return 0;
	case VFIO_IRQ_SET_DATA_BOOL:
		if (!count)
			return -EINVAL;
		if (*(const uint8_t *)d && fk.req_ctx >= 0)
			assert_int_equal(write(fk.req_ctx, &one, sizeof(one)), sizeof(one));
		return 0;
	default:
		if (!count)
			return -EINVAL;
		memcpy(&fd, d, sizeof(fd));
		if (fd == -1) {
			fake_release_req();
		} else if (fd >= 0) {
			if (fd_kind(fd) != FD_EVENTFD)
				return -EINVAL;
			fake_release_req();
			fk.req_ctx = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		}
		return 0;
	}
}

static int fake_set_irqs(struct vfio_irq_set *s)
{
	uint32_t data = s->flags & VFIO_IRQ_SET_DATA_TYPE_MASK, action = s->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	size_t dsize = data == VFIO_IRQ_SET_DATA_BOOL ? 1 : data == VFIO_IRQ_SET_DATA_EVENTFD ? 4 : 0;
	const int32_t *fds = (const int32_t *)s->data;
	struct set_call *c;
	uint32_t max;
	int ret;

	if (s->argsz < sizeof(*s) || s->index >= fk.num_irqs ||
	    (s->flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)))
		return -EINVAL;
	max = fk.irq_count[s->index];
	if (s->start >= max || s->start + s->count > max)
		return -EINVAL;
	if (s->argsz - sizeof(*s) < s->count * dsize || s->count > MAX_VEC)
		return -EINVAL;
	assert_true(fk.ncalls < MAX_CALLS);
	c = &fk.calls[fk.ncalls++];
	*c = (struct set_call){ .flags = s->flags, .index = s->index, .start = s->start, .count = s->count };
	if (data == VFIO_IRQ_SET_DATA_EVENTFD)
		memcpy(c->fds, fds, s->count * sizeof(int32_t));

	switch (s->index) {
	case VFIO_PCI_MSI_IRQ_INDEX:
	case VFIO_PCI_MSIX_IRQ_INDEX:
		if (action != VFIO_IRQ_SET_ACTION_TRIGGER)
			return -ENOTTY;
		if (fk.irq_type == (int)s->index && s->count == 0 && data == VFIO_IRQ_SET_DATA_NONE) {
			fake_disable_msi();
			return 0;
		}
		if (fk.irq_type != -1 && fk.irq_type != (int)s->index)
			return -EINVAL;
		if (data == VFIO_IRQ_SET_DATA_EVENTFD) {
			if (fk.irq_type == (int)s->index)
				return fake_set_block(s->index, s->start, s->count, fds);
			fk.irq_type = (int)s->index;
			fk.num_ctx = s->start + s->count;
			ret = fake_set_block(s->index, s->start, s->count, fds);
			if (ret)
				fake_disable_msi();
			return ret;
		}
		return fk.irq_type == (int)s->index && s->start + s->count <= fk.num_ctx ? 0 : -EINVAL;
	case VFIO_PCI_INTX_IRQ_INDEX:
		if (action != VFIO_IRQ_SET_ACTION_TRIGGER)
			return 0;
		if (fk.irq_type == VFIO_PCI_INTX_IRQ_INDEX && s->count == 0 && data == VFIO_IRQ_SET_DATA_NONE) {
			fake_disable_msi();
			return 0;
		}
		if ((fk.irq_type != -1 && fk.irq_type != VFIO_PCI_INTX_IRQ_INDEX) || s->start != 0 || s->count != 1)
			return -EINVAL;
		if (data == VFIO_IRQ_SET_DATA_EVENTFD) {
			if (fds[0] < 0) {
				fake_disable_msi();
				return 0;
			}
			fk.irq_type = VFIO_PCI_INTX_IRQ_INDEX;
			fk.num_ctx = 1;
			return fake_set_block(s->index, 0, 1, fds);
		}
		return 0;
	case VFIO_PCI_REQ_IRQ_INDEX:
		return fake_set_req(data, action, s->start, s->count, s->data);
	default:
		return 0; /* ERR */
	}
}

static int device_ioctl(int fd, unsigned long req, void *arg)
{
	bool cdev = fd_kind(fd) == FD_CDEV;

	switch (req) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info *i = arg;

		if (i->argsz < offsetof(struct vfio_device_info, cap_offset))
			return -EINVAL;
		i->flags = fk.dev_flags;
		i->num_regions = fk.num_regions;
		i->num_irqs = fk.num_irqs;
		return 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO: {
		struct vfio_region_info *i = arg;
		const struct fake_region *r;

		if (i->argsz < sizeof(*i) || i->index >= fk.num_regions)
			return -EINVAL;
		r = &fk.regions[i->index];
		i->flags = r->flags;
		i->size = r->size;
		i->offset = (uint64_t)i->index << REGION_SHIFT;
		i->cap_offset = 0;
		if (r->caps_len) {
			i->flags |= VFIO_REGION_INFO_FLAG_CAPS;
			if (i->argsz < sizeof(*i) + r->caps_len) {
				i->argsz = (uint32_t)(sizeof(*i) + r->caps_len);
			} else {
				memcpy((uint8_t *)arg + sizeof(*i), r->caps + sizeof(*i), r->caps_len);
				i->cap_offset = sizeof(*i);
			}
		}
		return 0;
	}
	case VFIO_DEVICE_GET_IRQ_INFO: {
		struct vfio_irq_info *i = arg;

		if (i->argsz < sizeof(*i) || i->index >= fk.num_irqs)
			return -EINVAL;
		i->flags = fk.irq_flags[i->index];
		i->count = fk.irq_count[i->index];
		return 0;
	}
	case VFIO_DEVICE_SET_IRQS:
		return fake_set_irqs(arg);
	case VFIO_DEVICE_RESET:
		if (!(fk.dev_flags & VFIO_DEVICE_FLAGS_RESET))
			return -EINVAL;
		fk.resets++;
		fk.reset_seq = ++fk.seq;
		return 0;
	case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: {
		struct vfio_pci_hot_reset_info *i = arg;

		if (i->argsz < sizeof(*i))
			return -EINVAL;
		if (!fk.n_hot)
			return -ENODEV;
		i->count = fk.n_hot;
		if (i->argsz < sizeof(*i) + fk.n_hot * sizeof(i->devices[0]))
			return -ENOSPC;
		i->flags = cdev ? VUP_VFIO_PCI_HOT_RESET_FLAG_DEV_ID | VUP_VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED : 0;
		for (uint32_t k = 0; k < fk.n_hot; k++) {
			/* on a cdev the field holds device ids: ours, or NOT_OWNED */
			uint32_t id = !cdev ? fk.hot_groups[k] : fk.hot_groups[k] == GROUP ? DEVID : VUP_VFIO_PCI_DEVID_NOT_OWNED;

			if (cdev && id == VUP_VFIO_PCI_DEVID_NOT_OWNED)
				i->flags &= ~VUP_VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED;
			i->devices[k] = (struct vfio_pci_dependent_device){ .group_id = id,
									    .devfn = (uint8_t)((3 + k) << 3) };
		}
		return 0;
	}
	case VFIO_DEVICE_PCI_HOT_RESET: {
		struct vfio_pci_hot_reset *r = arg;

		if (r->argsz < sizeof(*r) + r->count * sizeof(int32_t))
			return -EINVAL;
		if (r->count == 0) {
			/* the cdev form: the kernel checks that the iommufd owns every affected device */
			if (!cdev)
				return -EINVAL;
			for (uint32_t k = 0; k < fk.n_hot; k++)
				if (fk.hot_groups[k] != GROUP)
					return -EPERM;
			fk.hot_reset_empty++;
			fk.hot_resets++;
			return 0;
		}
		if (cdev)
			return -EINVAL; /* group fds do not prove ownership to a cdev-bound device */
		for (uint32_t k = 0; k < r->count; k++)
			if (fd_kind(r->group_fds[k]) != FD_GROUP)
				return -EINVAL;
		fk.hot_resets++;
		return 0;
	}
	default:
		return -ENOTTY;
	}
}

/* The cdev: nothing but BIND_IOMMUFD until bound, then ATTACH; the device ioctls once both are done. */
static int cdev_ioctl(int fd, unsigned long req, void *arg)
{
	switch (req) {
	case VUP_VFIO_DEVICE_BIND_IOMMUFD: {
		struct vup_vfio_device_bind_iommufd *b = arg;

		/* The bound file carries an OFD lock: it goes when the last fd of that file closes, wherever. */
		struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };

		if (b->argsz < sizeof(*b) || b->flags)
			return -EINVAL;
		if (fd_kind(b->iommufd) != FD_IOMMUFD)
			return -EBADF;
		if (fk.container_set)
			return -EBUSY; /* the group is in use by a container */
		if (fcntl(fd, F_OFD_SETLK, &lk))
			return -EINVAL; /* another file of the device is still open and bound: the kernel's answer */
		fake_release_req(); /* no other bound file: the last one's close dropped the device's triggers */
		fk.cdev_bound = true;
		fk.binds++;
		b->out_devid = DEVID;
		return 0;
	}
	case VUP_VFIO_DEVICE_ATTACH_IOMMUFD_PT: {
		struct vup_vfio_device_attach_iommufd_pt *a = arg;

		if (!fk.cdev_bound || a->argsz < sizeof(*a) || a->flags)
			return -EINVAL;
		if (a->pt_id != IOAS_ID || !fk.ioas_allocs)
			return -ENOENT;
		fk.attached_pt = a->pt_id;
		return 0;
	}
	default:
		if (!fk.cdev_bound || !fk.attached_pt)
			return -EINVAL;
		return device_ioctl(fd, req, arg);
	}
}

/* Every ioctl of the process comes here: VFIO ones are answered by the fake, the rest go to the kernel. */
int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	switch (fd_kind(fd)) {
	case FD_CONTAINER:
		ret = container_ioctl(req, arg);
		break;
	case FD_GROUP:
		ret = group_ioctl(req, arg);
		break;
	case FD_DEVICE:
		ret = device_ioctl(fd, req, arg);
		break;
	case FD_IOMMUFD:
		ret = iommufd_ioctl(req, arg);
		break;
	case FD_CDEV:
		ret = cdev_ioctl(fd, req, arg);
		break;
	default:
		return (int)syscall(SYS_ioctl, fd, req, arg);
	}
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

/* ---- the fake device and its sysfs ---- */

static size_t put_sparse(uint8_t *caps, size_t off, uint32_t next, uint32_t nr, const uint64_t *areas)
{
	uint32_t nr_res[2] = { nr, 0 };

	put_cap_hdr(caps + off, VFIO_REGION_INFO_CAP_SPARSE_MMAP, next);
	memcpy(caps + off + 8, nr_res, sizeof(nr_res));
	memcpy(caps + off + 16, areas, nr * 16);
	return 16 + nr * 16;
}

void fake_defaults(void)
{
	static const uint64_t bar0_areas[4] = { 0, 0x1000, 0x2000, 0xfe000 };
	struct fake_region *r;
	uint32_t type[2] = { 0x80001af4, 3 };

	memset(&fk, 0, sizeof(fk));
	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	fk.num_regions = REGION9 + 1;
	fk.num_irqs = VFIO_PCI_NUM_IRQS;
	fk.viable = true;
	fk.type1v2 = true;
	fk.irq_type = -1;
	fk.cdev_memfd = -1;
	fk.req_ctx = -1;
	for (int i = 0; i < MAX_VEC; i++)
		fk.ctx[i] = -1;

	/* BAR0: 1 MiB, mmappable but for the page at 0x1000, MSI-X mappable */
	r = &fk.regions[VFIO_PCI_BAR0_REGION_INDEX];
	r->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP;
	r->size = 1 << 20;
	r->caps_len = put_sparse(r->caps, 32, 80, 2, bar0_areas);
	put_cap_hdr(r->caps + 80, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 0);
	r->caps_len += 8;
	/* BAR2: 16 KiB, mmappable, no capabilities */
	r = &fk.regions[VFIO_PCI_BAR2_REGION_INDEX];
	r->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP;
	r->size = 0x4000;
	/* ROM, config */
	fk.regions[VFIO_PCI_ROM_REGION_INDEX] =
		(struct fake_region){ .flags = VFIO_REGION_INFO_FLAG_READ, .size = 0x10000 };
	fk.regions[VFIO_PCI_CONFIG_REGION_INDEX] =
		(struct fake_region){ .flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE, .size = 4096 };
	/* a device-specific region with its type */
	r = &fk.regions[REGION9];
	r->flags = VFIO_REGION_INFO_FLAG_READ;
	r->size = 0x1000;
	put_cap_hdr(r->caps + 32, VFIO_REGION_INFO_CAP_TYPE, 0);
	memcpy(r->caps + 40, type, sizeof(type));
	r->caps_len = 16;

	fk.irq_count[VFIO_PCI_INTX_IRQ_INDEX] = 1;
	fk.irq_flags[VFIO_PCI_INTX_IRQ_INDEX] =
		VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	fk.irq_count[VFIO_PCI_MSI_IRQ_INDEX] = 1;
	fk.irq_flags[VFIO_PCI_MSI_IRQ_INDEX] = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE;
	fk.irq_count[VFIO_PCI_MSIX_IRQ_INDEX] = 32;
	fk.irq_flags[VFIO_PCI_MSIX_IRQ_INDEX] = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE;
	fk.irq_count[VFIO_PCI_ERR_IRQ_INDEX] = 1;
	fk.irq_flags[VFIO_PCI_ERR_IRQ_INDEX] = VFIO_IRQ_INFO_EVENTFD;
	fk.irq_count[VFIO_PCI_REQ_IRQ_INDEX] = 1;
	fk.irq_flags[VFIO_PCI_REQ_IRQ_INDEX] = VFIO_IRQ_INFO_EVENTFD;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command built from fmt (tree set-up only). */
static void sh(const char *fmt, ...)
{
	char cmd[4 * PATH_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	assert_int_equal(system(cmd), 0);
}

/* The device in sysfs, in IOMMU group GROUP, bound to driver; /dev/vfio with the container and the group. */
void fake_tree(const char *driver)
{
	const char *r = fk.root;

	sh("cd %s && mkdir -p sys/devices/pci0000:00/%s sys/bus/pci/devices sys/bus/pci/drivers/%s "
	   "sys/kernel/iommu_groups/%d/devices dev/vfio && touch dev/vfio/vfio dev/vfio/%d && "
	   "ln -s ../../../devices/pci0000:00/%s sys/bus/pci/devices/%s && "
	   "ln -s ../../../bus/pci/drivers/%s sys/devices/pci0000:00/%s/driver && "
	   "ln -s ../../../kernel/iommu_groups/%d sys/devices/pci0000:00/%s/iommu_group && "
	   "ln -s ../../../../devices/pci0000:00/%s sys/kernel/iommu_groups/%d/devices/%s",
	   r, BDF, driver, GROUP, GROUP, BDF, BDF, driver, BDF, GROUP, BDF, BDF, GROUP, BDF);
}

/*
 * The same, on a kernel with iommufd and the VFIO cdev: /dev/iommu, sysfs's vfio-dev/vfio0 and
 * class/vfio-dev/vfio0, and /dev/vfio/devices/vfio0 opening (through /proc/PID/fd) a memfd the fake knows.
 */
void fake_tree_iommufd(const char *driver)
{
	fake_tree(driver);
	fk.cdev_memfd = new_device_fd_named(CDEV_MEMFD_NAME);
	assert_true(fk.cdev_memfd >= 0);
	sh("cd %s && touch dev/iommu && mkdir -p dev/vfio/devices sys/devices/pci0000:00/%s/vfio-dev/vfio0 "
	   "sys/class/vfio-dev/vfio0 && ln -s ../../../devices/pci0000:00/%s sys/class/vfio-dev/vfio0/device && "
	   "ln -s /proc/%d/fd/%d dev/vfio/devices/vfio0",
	   fk.root, BDF, BDF, (int)getpid(), fk.cdev_memfd);
}
