/* test_vfio_backend.c: the VFIO backend end to end against a fake VFIO kernel (ioctl() defined here: the legacy container with 6.1 semantics, iommufd and the device cdev as in 6.12; a memfd as the device fd; fake sysfs), alone and through the real server and client library. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "backend/backend.h"
#include "backend/vfio_iommufd_uapi.h"
#include "client/client.h"
#include "server/dma_table.h"
#include "server/server.h"
#include "util/log.h"

#define BDF "0000:00:03.0"
#define GROUP 7
#define REGION_SHIFT 40
#define REGION9 9
#define MAX_CALLS 128
#define MAX_MAPS 32
#define MAX_VEC 64
#define DEV_MEMFD_NAME "fake-vfio-device"
#define CDEV_MEMFD_NAME "fake-vfio-cdev"
#define IOAS_ID 2
#define DEVID 5

struct fake_region {
	uint32_t flags;
	uint64_t size;
	uint8_t caps[256]; /* the chain as the kernel copies it out: offsets from the info struct's start */
	size_t caps_len;
};

struct set_call {
	uint32_t flags, index, start, count;
	int32_t fds[MAX_VEC];
};

struct fake_map {
	uint64_t iova, size, vaddr;
	uint32_t flags;
};

/* The fake kernel: the device as a test sets it up, and what the proxy did to it. */
static struct fake {
	char root[PATH_MAX];
	uint32_t dev_flags;
	uint32_t num_regions, num_irqs;
	struct fake_region regions[16];
	uint32_t irq_count[8], irq_flags[8];
	bool viable, type1v2;
	uint32_t hot_groups[4]; /* groups of the devices a hot reset touches; n_hot 0: no hot reset */
	uint32_t n_hot;
	int map_errno;

	bool container_set, iommu_set;
	struct set_call calls[MAX_CALLS];
	unsigned int ncalls;
	int irq_type; /* the enabled MSI/MSI-X/INTx index, -1 */
	uint32_t num_ctx;
	int ctx[MAX_VEC]; /* the kernel's references to the trigger eventfds */
	struct fake_map maps[MAX_MAPS];
	unsigned int nmaps, map_calls, unmap_calls;
	unsigned int seq, reset_seq, unmap_seq; /* the order of the last reset and the last unmap */
	unsigned int resets, hot_resets;

	/* iommufd and the device cdev (fake_tree_iommufd) */
	int cdev_memfd;        /* what dev/vfio/devices/vfio0 opens (through /proc/self/fd), or -1 */
	bool cdev_bound;       /* VFIO_DEVICE_BIND_IOMMUFD done */
	unsigned int binds;    /* BIND_IOMMUFD calls that succeeded */
	unsigned int unsets;   /* VFIO_GROUP_UNSET_CONTAINER calls that succeeded */
	uint32_t attached_pt;  /* VFIO_DEVICE_ATTACH_IOMMUFD_PT's pt_id, 0 none */
	unsigned int ioas_allocs, hot_reset_empty;
} fk;

static const struct vfio_iova_range fake_ranges[2] = { { 0, 0xfedfffff }, { 0xfef00000, 0xffffffffffffull } };

/* ---- the fake kernel ---- */

enum fd_kind { FD_OTHER, FD_CONTAINER, FD_GROUP, FD_DEVICE, FD_EVENTFD, FD_IOMMUFD, FD_CDEV };

static enum fd_kind fd_kind(int fd)
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

static uint16_t read_command(int fd)
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
		return new_device_fd();
	default:
		return -ENOTTY;
	}
}

static void fake_disable_msi(void)
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
	default:
		return 0; /* ERR, REQ */
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

static void fake_defaults(void)
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
static void fake_tree(const char *driver)
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
static void fake_tree_iommufd(const char *driver)
{
	fake_tree(driver);
	fk.cdev_memfd = new_device_fd_named(CDEV_MEMFD_NAME);
	assert_true(fk.cdev_memfd >= 0);
	sh("cd %s && touch dev/iommu && mkdir -p dev/vfio/devices sys/devices/pci0000:00/%s/vfio-dev/vfio0 "
	   "sys/class/vfio-dev/vfio0 && ln -s ../../../devices/pci0000:00/%s sys/class/vfio-dev/vfio0/device && "
	   "ln -s /proc/%d/fd/%d dev/vfio/devices/vfio0",
	   fk.root, BDF, BDF, (int)getpid(), fk.cdev_memfd);
}

/* ---- fixture ---- */

struct fixture {
	struct device_backend *b;
	int fds_before;
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int create_as(struct fixture *f, const char *device, bool trap_bars, enum vfio_iommu_kind kind)
{
	char sysfs[PATH_MAX + 8], dev[PATH_MAX + 8];
	struct vfio_backend_options o = { .device = device, .trap_bars = trap_bars, .iommu = kind };

	snprintf(sysfs, sizeof(sysfs), "%s/sys", fk.root);
	snprintf(dev, sizeof(dev), "%s/dev", fk.root);
	o.sysfs_root = sysfs;
	o.dev_root = dev;
	return vfio_backend_create(&o, &f->b);
}

static int create(struct fixture *f, bool trap_bars)
{
	return create_as(f, BDF, trap_bars, VFIO_IOMMU_KIND_LEGACY);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	log_threshold = LOG_LVL_WARN;
	fake_defaults();
	strcpy(fk.root, "/tmp/vfio-backend-XXXXXX");
	if (!mkdtemp(fk.root))
		return -1;
	f->fds_before = count_fds();
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int leaked;

	if (f->b)
		f->b->ops->destroy(f->b);
	fake_disable_msi();
	if (fk.cdev_memfd >= 0)
		close(fk.cdev_memfd);
	nftw(fk.root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	leaked = count_fds() - f->fds_before;
	free(f);
	if (leaked) {
		print_error("%d file descriptors leaked\n", leaked);
		return -1;
	}
	return 0;
}

static struct device_backend *create_ok(struct fixture *f, bool trap_bars)
{
	fake_tree("vfio-pci");
	assert_int_equal(create(f, trap_bars), 0);
	return f->b;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Whether eventfd e reaches the kernel's reference k: a count written to one is read from the other. */
static bool same_eventfd(int e, int k)
{
	uint64_t v = 7, got = 0;

	if (e < 0 || k < 0 || write(e, &v, sizeof(v)) != sizeof(v))
		return false;
	return read(k, &got, sizeof(got)) == sizeof(got) && got == 7;
}

static int new_eventfd(void)
{
	int e = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_true(e >= 0);
	return e;
}

/* The backend owns what it is given: hand it copies. */
static void dup_all(const int *src, int *dst, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		dst[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 0);
}

/* ---- tests ---- */

static void test_create_describes(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	struct vfio_user_device_info info;
	struct vfio_user_irq_info irq = { .index = VFIO_PCI_MSIX_IRQ_INDEX };

	assert_int_equal(b->ops->device_info(b, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(info.num_regions, REGION9 + 1);
	assert_int_equal(info.num_irqs, VFIO_PCI_NUM_IRQS);
	assert_string_equal(b->name, "VFIO device 0000:00:03.0 (1234:11e8)");
	assert_null(b->ops->device_feature);
	assert_int_equal(b->ops->irq_info(b, &irq), 0);
	assert_int_equal(irq.count, 32);
	assert_int_equal(irq.flags, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE);
	/* whatever ran before is stopped: every index off, bus mastering off, INTx disabled */
	assert_int_equal(fk.ncalls, VFIO_PCI_NUM_IRQS);
	for (unsigned int i = 0; i < fk.ncalls; i++) {
		assert_int_equal(fk.calls[i].flags, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER);
		assert_int_equal(fk.calls[i].count, 0);
	}
}

static void test_region_info(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	struct vfio_user_region_info info = { .index = VFIO_PCI_BAR0_REGION_INDEX };
	uint8_t caps[512];
	struct vfio_info_cap_header h;
	size_t len;
	uint32_t nr;
	uint64_t area[4];
	int fd;

	assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
	assert_int_equal(info.flags,
			 VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP);
	assert_int_equal(info.size, 1 << 20);
	assert_int_equal(info.offset, 0);
	assert_int_equal(fd_kind(fd), FD_DEVICE);
	/* the chain: sparse mmap at 32 (the reply's offset), then MSI-X mappable */
	assert_int_equal(len, 48 + 8);
	memcpy(&h, caps, sizeof(h));
	assert_int_equal(h.id, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	assert_int_equal(h.next, 32 + 48);
	memcpy(&nr, caps + 8, sizeof(nr));
	assert_int_equal(nr, 2);
	memcpy(area, caps + 16, sizeof(area));
	assert_int_equal(area[2], 0x2000);
	assert_int_equal(area[3], 0xfe000);
	memcpy(&h, caps + 48, sizeof(h));
	assert_int_equal(h.id, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
	assert_int_equal(h.next, 0);

	/* config: trapped, no fd */
	info.index = VFIO_PCI_CONFIG_REGION_INDEX;
	assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
	assert_int_equal(info.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
	assert_int_equal(info.size, 4096);
	assert_int_equal(fd, -1);
	assert_int_equal(len, 0);
	/* an absent BAR */
	info.index = VFIO_PCI_BAR1_REGION_INDEX;
	assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
	assert_int_equal(info.flags, 0);
	assert_int_equal(info.size, 0);
	/* the device-specific region keeps its type */
	info.index = REGION9;
	assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
	assert_int_equal(len, 16);
	memcpy(&h, caps, sizeof(h));
	assert_int_equal(h.id, VFIO_REGION_INFO_CAP_TYPE);
	/* BAR2 mmappable at its kernel offset */
	info.index = VFIO_PCI_BAR2_REGION_INDEX;
	assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
	assert_int_equal(info.offset, 2ull << REGION_SHIFT);
	assert_int_equal(fd_kind(fd), FD_DEVICE);
	assert_int_equal(len, 0);
}

static void test_trap_bars(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, true);
	struct vfio_user_region_info info = { .index = VFIO_PCI_BAR0_REGION_INDEX };
	uint8_t caps[512];
	size_t len;
	int fd;

	for (uint32_t i = 0; i <= REGION9; i++) {
		info.index = i;
		assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
		assert_int_equal(fd, -1);
		assert_false(info.flags & VFIO_REGION_INFO_FLAG_MMAP);
		if (i == VFIO_PCI_BAR0_REGION_INDEX)
			assert_int_equal(len, 0); /* sparse mmap and MSI-X mappable dropped */
	}
	assert_int_equal(len, 16); /* region 9's type stays */
	/* the BARs still work, trapped */
	assert_int_equal(b->ops->region_write(b, VFIO_PCI_BAR0_REGION_INDEX, 0x1000, "abcd", 4), 0);
}

static void test_region_rw(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	uint8_t big[8192], back[8192];
	uint32_t v = 0xdeadbeef, got = 0;
	uint16_t ids[2];
	int fd;
	size_t len;
	struct vfio_user_region_info info = { .index = VFIO_PCI_BAR0_REGION_INDEX };

	assert_int_equal(b->ops->region_info(b, &info, NULL, 0, &len, &fd), 0);
	assert_int_equal(b->ops->region_write(b, VFIO_PCI_BAR0_REGION_INDEX, 0x10, &v, 4), 0);
	assert_int_equal(pread(fd, &got, 4, 0x10), 4);
	assert_int_equal(got, 0xdeadbeef);
	got = 0;
	assert_int_equal(b->ops->region_read(b, VFIO_PCI_BAR0_REGION_INDEX, 0x10, &got, 4), 0);
	assert_int_equal(got, 0xdeadbeef);
	/* at the region's own offset in the device fd */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(b->ops->region_write(b, VFIO_PCI_BAR2_REGION_INDEX, 0x100, big, sizeof(big)), 0);
	assert_int_equal(pread(fd, back, sizeof(back), (2ll << REGION_SHIFT) + 0x100), (ssize_t)sizeof(back));
	assert_memory_equal(big, back, sizeof(big));
	assert_int_equal(b->ops->region_read(b, VFIO_PCI_CONFIG_REGION_INDEX, 0, ids, 4), 0);
	assert_int_equal(ids[0], 0x1234);
	assert_int_equal(ids[1], 0x11e8);
	/* the ROM reads as the device has it (zeros here) */
	assert_int_equal(b->ops->region_read(b, VFIO_PCI_ROM_REGION_INDEX, 0, back, 16), 0);
}

static void test_irqs_intx(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	int e = new_eventfd(), u = new_eventfd(), mine[1];
	const uint32_t trig = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;

	fk.ncalls = 0;
	dup_all(&e, mine, 1);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, mine), 0);
	assert_false(fd_open(mine[0])); /* the kernel holds its own reference; ours is gone */
	assert_int_equal(fk.irq_type, VFIO_PCI_INTX_IRQ_INDEX);
	assert_true(same_eventfd(e, fk.ctx[0]));
	/* the unmask eventfd, as QEMU sets it */
	dup_all(&u, mine, 1);
	assert_int_equal(b->ops->set_irqs(b, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK,
					  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, mine), 0);
	assert_false(fd_open(mine[0]));
	assert_int_equal(fk.calls[1].flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK);
	assert_int_not_equal(fk.calls[1].fds[0], -1);
	/* a bool unmask passes its bools */
	assert_int_equal(b->ops->set_irqs(b, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_UNMASK,
					  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, (const uint8_t[]){ 1 }, NULL), 0);
	/* no fds: de-assign, as an array of -1 */
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, NULL), 0);
	assert_int_equal(fk.calls[3].fds[0], -1);
	assert_int_equal(fk.irq_type, -1);
	/* a non-eventfd is the kernel's to refuse; ours is closed all the same */
	mine[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, mine), -EINVAL);
	assert_false(fd_open(mine[0]));
	close(e);
	close(u);
}

/* MSI-X on a kernel that cannot grow an enabled block: the client's chunks still end as one block. */
static void test_irqs_msix_chunks(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	const uint32_t trig = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	const uint32_t off = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	int e[32], mine[32];
	unsigned int first;

	for (int i = 0; i < 32; i++)
		e[i] = new_eventfd();
	fk.ncalls = 0;
	dup_all(e, mine, 16);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 0, 16, NULL, mine), 0);
	assert_int_equal(fk.num_ctx, 16);
	assert_true(fd_open(mine[0])); /* kept, to enable the block again larger */
	dup_all(e + 16, mine + 16, 16);
	first = fk.ncalls;
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 16, 16, NULL, mine + 16), 0);
	/* disable, then all 32 at once */
	assert_int_equal(fk.ncalls, first + 2);
	assert_int_equal(fk.calls[first].flags, off);
	assert_int_equal(fk.calls[first].count, 0);
	assert_int_equal(fk.calls[first + 1].start, 0);
	assert_int_equal(fk.calls[first + 1].count, 32);
	assert_int_equal(fk.num_ctx, 32);
	for (int i = 0; i < 32; i++)
		assert_true(same_eventfd(e[i], fk.ctx[i]));
	/* a vector inside the block: straight through */
	first = fk.ncalls;
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 3, 1, NULL, NULL), 0);
	assert_int_equal(fk.ncalls, first + 1);
	assert_int_equal(fk.ctx[3], -1);
	assert_false(fd_open(mine[3]));
	/* loopback trigger */
	assert_int_equal(b->ops->set_irqs(b, off, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, NULL, NULL), 0);
	/* off: every kept eventfd goes */
	assert_int_equal(b->ops->set_irqs(b, off, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL, NULL), 0);
	assert_int_equal(fk.irq_type, -1);
	for (int i = 0; i < 32; i++)
		assert_false(fd_open(mine[i]));

	/* QEMU's runs: [fd] [-1 -1 -1] [fd] */
	dup_all(e, mine, 1);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, NULL, mine), 0);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 1, 3, NULL, NULL), 0);
	dup_all(e + 4, mine + 4, 1);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 4, 1, NULL, mine + 4), 0);
	assert_int_equal(fk.num_ctx, 5);
	assert_true(same_eventfd(e[0], fk.ctx[0]));
	assert_int_equal(fk.ctx[1], -1);
	assert_int_equal(fk.ctx[3], -1);
	assert_true(same_eventfd(e[4], fk.ctx[4]));
	/* another interrupt type while MSI-X is on: the kernel refuses, nothing kept */
	dup_all(e + 5, mine + 5, 1);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, mine + 5), -EINVAL);
	assert_false(fd_open(mine[5]));
	/* the client goes: everything off and released */
	b->ops->quiesce(b);
	b->ops->client_gone(b);
	assert_int_equal(fk.irq_type, -1);
	assert_false(fd_open(mine[0]));
	assert_false(fd_open(mine[4]));
	for (int i = 0; i < 32; i++)
		close(e[i]);
}

/* A kernel that grows MSI-X in place (no NORESIZE): chunks go straight through, nothing is kept. */
static void test_irqs_msix_dynamic(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;
	const uint32_t trig = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	int e[20], mine[20];
	unsigned int first;

	fk.irq_flags[VFIO_PCI_MSIX_IRQ_INDEX] = VFIO_IRQ_INFO_EVENTFD;
	b = create_ok(f, false);
	for (int i = 0; i < 20; i++)
		e[i] = new_eventfd();
	dup_all(e, mine, 20);
	first = fk.ncalls;
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 0, 16, NULL, mine), 0);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 16, 4, NULL, mine + 16), 0);
	assert_int_equal(fk.ncalls, first + 2);
	assert_int_equal(fk.num_ctx, 20);
	for (int i = 0; i < 20; i++) {
		assert_false(fd_open(mine[i]));
		assert_true(same_eventfd(e[i], fk.ctx[i]));
		close(e[i]);
	}
}

static void test_reset_flr(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);

	assert_int_equal(b->ops->reset(b), 0);
	assert_int_equal(fk.resets, 1);
	assert_int_equal(fk.hot_resets, 0);
}

static void test_reset_none(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;
	struct vfio_user_device_info info;

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI; /* like QEMU's edu: no reset at all */
	b = create_ok(f, false);
	assert_int_equal(b->ops->device_info(b, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI);
	assert_int_equal(b->ops->reset(b), -ENOTTY);
	/* client_gone still leaves it quiet */
	b->ops->quiesce(b);
	b->ops->client_gone(b);
	assert_int_equal(fk.resets + fk.hot_resets, 0);
}

static void test_reset_hot(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;
	struct vfio_user_device_info info;

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	fk.hot_groups[0] = GROUP;
	fk.hot_groups[1] = GROUP;
	fk.n_hot = 2;
	b = create_ok(f, false);
	assert_int_equal(b->ops->device_info(b, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(b->ops->reset(b), 0);
	assert_int_equal(fk.hot_resets, 1);
	assert_int_equal(fk.resets, 0);
}

static void test_reset_hot_foreign(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;
	struct vfio_user_device_info info;

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	fk.hot_groups[0] = GROUP;
	fk.hot_groups[1] = GROUP + 1; /* a device that is not ours shares the bus */
	fk.n_hot = 2;
	b = create_ok(f, false);
	assert_int_equal(b->ops->device_info(b, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI);
	assert_int_equal(b->ops->reset(b), -ENOTTY);
}

static void test_client_gone_quiet(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	const uint32_t trig = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	int e = new_eventfd(), mine[1], dev;
	size_t len;
	struct vfio_user_region_info info = { .index = VFIO_PCI_BAR0_REGION_INDEX };

	assert_int_equal(b->ops->region_info(b, &info, NULL, 0, &len, &dev), 0);
	assert_int_equal(read_command(dev), PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE); /* quiet from the start */
	assert_int_equal(b->ops->region_write(b, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, 2), 0);
	dup_all(&e, mine, 1);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, mine), 0);
	assert_int_equal(fk.irq_type, VFIO_PCI_MSI_IRQ_INDEX);
	fk.ncalls = 0;
	b->ops->quiesce(b);
	b->ops->client_gone(b);
	assert_int_equal(fk.irq_type, -1);
	assert_false(fd_open(mine[0]));
	assert_int_equal(fk.ncalls, VFIO_PCI_NUM_IRQS); /* every index turned off */
	assert_int_equal(fk.resets, 1);
	assert_int_equal(read_command(dev), PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	close(e);
}

static void test_dma_windows(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	const uint32_t rw = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
	void *mem = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct dma_window w = { .iova = 0x100000, .size = 0x2000, .prot = rw, .fd = -1, .vaddr = mem };

	assert_true(mem != MAP_FAILED);
	assert_int_equal(b->ops->dma_map(b, &w), 0);
	assert_int_equal(fk.nmaps, 1);
	assert_int_equal(fk.maps[0].iova, 0x100000);
	assert_int_equal(fk.maps[0].size, 0x2000);
	assert_int_equal(fk.maps[0].vaddr, (uintptr_t)mem);
	assert_int_equal(fk.maps[0].flags, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	b->ops->dma_unmap(b, &w);
	assert_int_equal(fk.nmaps, 0);

	/* read-only for the device */
	w.prot = VFIO_USER_F_DMA_REGION_READ;
	assert_int_equal(b->ops->dma_map(b, &w), 0);
	assert_int_equal(fk.maps[0].flags, VFIO_DMA_MAP_FLAG_READ);
	b->ops->dma_unmap(b, &w);

	/* fd-less: read-only (ROM/BIOS) accepted and never mapped, writable refused */
	w.vaddr = NULL;
	fk.map_calls = fk.unmap_calls = 0;
	assert_int_equal(b->ops->dma_map(b, &w), 0);
	assert_int_equal(b->ops->dma_map(b, &(struct dma_window){ .iova = 0xc0000, .size = 0x1000,
								    .prot = VFIO_USER_F_DMA_REGION_READ }), 0);
	b->ops->dma_unmap(b, &w);
	assert_int_equal(fk.map_calls + fk.unmap_calls, 0);
	w.prot = rw;
	assert_int_equal(b->ops->dma_map(b, &w), -ENOTSUP);
	assert_int_equal(b->ops->dma_map(b, &w), -ENOTSUP);
	assert_int_equal(fk.map_calls, 0);

	/* outside the IOMMU's IOVA ranges: refused before the kernel sees it */
	w.vaddr = mem;
	w.iova = 0xfee00000;
	assert_int_equal(b->ops->dma_map(b, &w), -EINVAL);
	w.iova = 0xfedff000;
	assert_int_equal(b->ops->dma_map(b, &w), -EINVAL); /* straddles the hole */
	assert_int_equal(fk.map_calls, 0);

	/* pinning beyond RLIMIT_MEMLOCK */
	w.iova = 0x200000;
	fk.map_errno = ENOMEM;
	assert_int_equal(b->ops->dma_map(b, &w), -ENOMEM);
	assert_int_equal(b->ops->dma_map(b, &w), -ENOMEM);
	assert_int_equal(fk.nmaps, 0);
	munmap(mem, 0x4000);
}

static void test_open_failures(void **state)
{
	struct fixture *f = *state;

	fake_tree("vfio-pci");
	fk.viable = false;
	assert_int_equal(create(f, false), -EBUSY);
	fk.viable = true;
	fk.type1v2 = false;
	assert_int_equal(create(f, false), -ENOTSUP);
	fk.type1v2 = true;
	fk.dev_flags = 0; /* not a PCI device */
	assert_int_equal(create(f, false), -ENODEV);
	assert_null(f->b);
}

static void test_wrong_driver(void **state)
{
	struct fixture *f = *state;

	fake_tree("e1000e");
	assert_int_equal(create(f, false), -EBUSY);
	assert_null(f->b);
}

static void test_too_many(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;
	struct vfio_user_device_info info;

	fk.num_regions = 20; /* clamped to the server's 16 and 8 */
	fk.num_irqs = 10;
	b = create_ok(f, false);
	assert_int_equal(b->ops->device_info(b, &info), 0);
	assert_int_equal(info.num_regions, 16);
	assert_int_equal(info.num_irqs, 8);
}

/* ---- through the real server and the client library ---- */

struct served {
	struct server *srv;
	pthread_t thread;
	char sock[PATH_MAX + 16];
};

static void *serve(void *arg)
{
	struct served *s = arg;

	server_run(s->srv);
	return NULL;
}

static void test_through_server(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	struct served sv;
	struct server_options so;
	struct vuc *c;
	struct vuc_server_caps caps;
	struct vfio_user_device_info info;
	struct vfio_user_region_info rinfo;
	uint8_t cbuf[256];
	size_t clen;
	int e[20], fd, mem;
	uint32_t id;
	sigset_t mask, old;

	snprintf(sv.sock, sizeof(sv.sock), "%s/proxy.sock", fk.root);
	server_options_init(&so);
	so.socket_path = sv.sock;
	assert_int_equal(server_create(&so, b, &sv.srv), 0);
	/* the server thread takes SIGTERM through its signalfd: keep it blocked everywhere */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, &old);
	assert_int_equal(pthread_create(&sv.thread, NULL, serve, &sv), 0);

	assert_int_equal(vuc_connect(sv.sock, &c), 0);
	assert_int_equal(vuc_negotiate(c, &caps), 0);
	assert_int_equal(caps.pgsizes, 0x40201000); /* what the IOMMU maps, not a constant */
	assert_int_equal(vuc_device_info(c, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(info.num_regions, REGION9 + 1);
	assert_int_equal(vuc_region_info(c, VFIO_PCI_BAR0_REGION_INDEX, &rinfo, cbuf, sizeof(cbuf), &clen, &fd), 0);
	assert_true(rinfo.flags & VFIO_REGION_INFO_FLAG_CAPS);
	assert_int_equal(rinfo.cap_offset, 32);
	assert_int_equal(clen, 56);
	assert_true(fd >= 0);
	assert_int_equal(fd_kind(fd), FD_DEVICE); /* the same device, through SCM_RIGHTS */
	close(fd);
	assert_int_equal(vuc_config_read(c, PCI_VENDOR_ID, &id, 4), 0);
	assert_int_equal(id, 0x11e81234);

	/* 20 MSI-X vectors: the client sends 16 + 4, the kernel ends with one block of 20 */
	for (int i = 0; i < 20; i++)
		e[i] = new_eventfd();
	assert_int_equal(vuc_set_irqs(c, VFIO_PCI_MSIX_IRQ_INDEX,
				      VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 20, e, NULL), 0);
	assert_int_equal(fk.num_ctx, 20);
	for (int i = 0; i < 20; i++)
		assert_true(same_eventfd(e[i], fk.ctx[i]));

	/* shared guest RAM: the server mmaps it and the IOMMU maps that */
	mem = memfd_create("guest-ram", MFD_CLOEXEC);
	assert_int_equal(ftruncate(mem, 1 << 20), 0);
	assert_int_equal(vuc_dma_map_fd(c, 0x100000, 1 << 20, mem, 0,
					VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE), 0);
	assert_int_equal(fk.nmaps, 1);
	assert_int_equal(fk.maps[0].iova, 0x100000);
	assert_int_not_equal(fk.maps[0].vaddr, 0);
	/* fd-less: ROM accepted, RAM refused with ENOTSUP */
	assert_int_equal(vuc_dma_map_mem(c, 0xc0000, 0x1000, cbuf, VFIO_USER_F_DMA_REGION_READ), 0);
	assert_int_equal(vuc_dma_map_mem(c, 0x400000, 0x1000, cbuf,
					 VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE), -ENOTSUP);
	assert_int_equal(vuc_dma_unmap(c, 0xc0000, 0x1000, 0), 0);
	assert_int_equal(fk.nmaps, 1);
	assert_int_equal(vuc_reset(c), 0);
	assert_int_equal(fk.resets, 1);

	/* the client goes without unmapping: the window is unmapped, the device quiet and reset */
	vuc_close(c);
	pthread_kill(sv.thread, SIGTERM);
	pthread_join(sv.thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	server_destroy(sv.srv);
	assert_int_equal(fk.nmaps, 0);
	assert_int_equal(fk.irq_type, -1);
	assert_int_equal(fk.resets, 2);
	/* the device was stopped before its window went: no DMA in flight can fault on it */
	assert_true(fk.reset_seq < fk.unmap_seq);
	close(mem);
	for (int i = 0; i < 20; i++)
		close(e[i]);
}

/* ---- the iommufd path ---- */

static struct device_backend *create_iommufd(struct fixture *f, enum vfio_iommu_kind kind)
{
	fake_tree_iommufd("vfio-pci");
	assert_int_equal(create_as(f, BDF, false, kind), 0);
	return f->b;
}

static void test_iommufd_auto(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_iommufd(f, VFIO_IOMMU_KIND_AUTO);
	struct vfio_user_region_info info = { .index = VFIO_PCI_BAR0_REGION_INDEX };
	struct vfio_user_device_info dinfo;
	uint8_t caps[512];
	size_t len;
	uint32_t id;
	int fd;

	/* both paths exist: iommufd is preferred; the container is never touched */
	assert_true(fk.cdev_bound);
	assert_int_equal(fk.attached_pt, IOAS_ID);
	assert_false(fk.container_set);
	assert_int_equal(b->ops->device_info(b, &dinfo), 0);
	assert_int_equal(dinfo.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(dinfo.num_regions, REGION9 + 1);
	/* regions, mmap fd and config reads: the shared code, on the cdev's fd */
	assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
	assert_int_equal(info.size, 1 << 20);
	assert_int_equal(fd_kind(fd), FD_CDEV);
	assert_int_equal(b->ops->region_read(b, VFIO_PCI_CONFIG_REGION_INDEX, PCI_VENDOR_ID, &id, 4), 0);
	assert_int_equal(id, 0x11e81234);
	assert_string_equal(b->name, "VFIO device 0000:00:03.0 (1234:11e8)");
	/* IRQs through the same code: every index turned off at start */
	assert_int_equal(fk.ncalls, VFIO_PCI_NUM_IRQS);
	assert_int_equal(b->ops->reset(b), 0);
	assert_int_equal(fk.resets, 1);
}

static void test_iommufd_cdev_argument(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32];

	fake_tree_iommufd("vfio-pci");
	snprintf(path, sizeof(path), "%s/dev/vfio/devices/vfio0", fk.root);
	assert_int_equal(create_as(f, path, false, VFIO_IOMMU_KIND_AUTO), 0);
	assert_true(fk.cdev_bound);
	assert_string_equal(f->b->name, "VFIO device 0000:00:03.0 (1234:11e8)");
}

static void test_iommufd_forced_legacy(void **state)
{
	struct fixture *f = *state;

	create_iommufd(f, VFIO_IOMMU_KIND_LEGACY);
	assert_true(fk.container_set);
	assert_false(fk.cdev_bound);
	assert_int_equal(fk.ioas_allocs, 0);
}

static void test_iommufd_missing(void **state)
{
	struct fixture *f = *state;

	/* a 6.1 kernel: forced iommufd fails, automatic falls back to the container */
	fake_tree("vfio-pci");
	assert_int_equal(create_as(f, BDF, false, VFIO_IOMMU_KIND_IOMMUFD), -ENOENT);
	assert_null(f->b);
	assert_false(fk.container_set);
	assert_int_equal(create_as(f, BDF, false, VFIO_IOMMU_KIND_AUTO), 0);
	assert_true(fk.container_set);
}

static void test_iommufd_bind_busy(void **state)
{
	struct fixture *f = *state;

	fake_tree_iommufd("vfio-pci");
	fk.container_set = true; /* another process holds the group through a container */
	assert_int_equal(create_as(f, BDF, false, VFIO_IOMMU_KIND_IOMMUFD), -EBUSY);
	assert_null(f->b);
}

static void test_iommufd_dma(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_iommufd(f, VFIO_IOMMU_KIND_IOMMUFD);
	const uint32_t rw = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
	void *mem = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct dma_window w = { .iova = 0x100000, .size = 0x2000, .prot = rw, .fd = -1, .vaddr = mem };

	assert_true(mem != MAP_FAILED);
	/* at the client's IOVA exactly */
	assert_int_equal(b->ops->dma_map(b, &w), 0);
	assert_int_equal(fk.nmaps, 1);
	assert_int_equal(fk.maps[0].iova, 0x100000);
	assert_int_equal(fk.maps[0].size, 0x2000);
	assert_int_equal(fk.maps[0].vaddr, (uintptr_t)mem);
	assert_int_equal(fk.maps[0].flags, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	assert_int_equal(b->ops->dma_map(b, &w), -EEXIST);
	b->ops->dma_unmap(b, &w);
	assert_int_equal(fk.nmaps, 0);
	w.prot = VFIO_USER_F_DMA_REGION_READ;
	assert_int_equal(b->ops->dma_map(b, &w), 0);
	assert_int_equal(fk.maps[0].flags, VFIO_DMA_MAP_FLAG_READ);
	b->ops->dma_unmap(b, &w);
	/* outside the IOAS's ranges (IOMMU_IOAS_IOVA_RANGES, grown after EMSGSIZE): refused before the kernel */
	fk.map_calls = 0;
	w.iova = 0xfee00000;
	assert_int_equal(b->ops->dma_map(b, &w), -EINVAL);
	assert_int_equal(fk.map_calls, 0);
	/* 20 clients that map the same IOVA and vanish: the IOAS keeps nothing stale */
	w.iova = 0x100000;
	w.prot = rw;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(b->ops->dma_map(b, &w), 0);
		b->ops->dma_unmap(b, &w);
		b->ops->quiesce(b);
	b->ops->client_gone(b);
	}
	assert_int_equal(fk.nmaps, 0);
	assert_int_equal(b->ops->dma_map(b, &w), 0);
	b->ops->dma_unmap(b, &w);
	/* pinning refused */
	fk.map_errno = ENOMEM;
	assert_int_equal(b->ops->dma_map(b, &w), -ENOMEM);
	assert_int_equal(fk.nmaps, 0);
	munmap(mem, 0x4000);
}

static void test_iommufd_hot_reset(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;
	struct vfio_user_device_info info;

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	fk.hot_groups[0] = GROUP;
	fk.hot_groups[1] = GROUP;
	fk.n_hot = 2;
	b = create_iommufd(f, VFIO_IOMMU_KIND_IOMMUFD);
	assert_int_equal(b->ops->device_info(b, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(b->ops->reset(b), 0);
	assert_int_equal(fk.hot_reset_empty, 1); /* the zero-length group array */
	b->ops->quiesce(b);
	b->ops->client_gone(b);
	assert_int_equal(fk.hot_reset_empty, 2);
	assert_int_equal(fk.resets, 0);
}

static void test_iommufd_hot_reset_foreign(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;
	struct vfio_user_device_info info;

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	fk.hot_groups[0] = GROUP;
	fk.hot_groups[1] = GROUP + 1; /* reads NOT_OWNED on the cdev */
	fk.n_hot = 2;
	b = create_iommufd(f, VFIO_IOMMU_KIND_IOMMUFD);
	assert_int_equal(b->ops->device_info(b, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI);
	assert_int_equal(b->ops->reset(b), -ENOTTY);
	assert_int_equal(fk.hot_resets, 0);
}

static void test_iommufd_through_server(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_iommufd(f, VFIO_IOMMU_KIND_AUTO);
	struct served sv;
	struct server_options so;
	struct vuc *c;
	struct vuc_server_caps caps;
	struct vfio_user_region_info rinfo;
	uint8_t cbuf[256];
	size_t clen;
	int fd, mem;
	sigset_t mask, old;

	snprintf(sv.sock, sizeof(sv.sock), "%s/proxy.sock", fk.root);
	server_options_init(&so);
	so.socket_path = sv.sock;
	assert_int_equal(server_create(&so, b, &sv.srv), 0);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, &old);
	assert_int_equal(pthread_create(&sv.thread, NULL, serve, &sv), 0);

	mem = memfd_create("guest-ram", MFD_CLOEXEC);
	assert_int_equal(ftruncate(mem, 1 << 20), 0);
	/* clients that map and vanish without unmapping: the server unmaps, the same IOVA maps again */
	for (int i = 0; i < 20; i++) {
		assert_int_equal(vuc_connect(sv.sock, &c), 0);
		assert_int_equal(vuc_negotiate(c, &caps), 0);
		assert_int_equal(vuc_dma_map_fd(c, 0x100000, 1 << 20, mem, 0,
						VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE), 0);
		if (i == 0) {
			assert_int_equal(vuc_region_info(c, VFIO_PCI_BAR0_REGION_INDEX, &rinfo, cbuf, sizeof(cbuf),
							 &clen, &fd), 0);
			assert_int_equal(fd_kind(fd), FD_CDEV); /* the client gets the cdev's fd */
			close(fd);
		}
		assert_int_equal(fk.nmaps, 1);
		vuc_close(c);
	}
	pthread_kill(sv.thread, SIGTERM);
	pthread_join(sv.thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	server_destroy(sv.srv);
	assert_int_equal(fk.nmaps, 0);
	assert_int_equal(fk.map_calls, 20);
	assert_int_equal(fk.unmap_calls, 20);
	close(mem);
}


/* A client was given the device fd (region info while it was connected): the fd it may keep. */
static int lend_device_fd(struct device_backend *b)
{
	static int client;
	struct vfio_user_region_info info = { .index = VFIO_PCI_BAR0_REGION_INDEX };
	uint8_t caps[256];
	size_t len;
	int fd;

	b->host = &client;
	assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
	assert_true(fd >= 0);
	return fd; /* the backend's own (borrowed): the server would send it */
}

static void leave(struct device_backend *b, int want)
{
	b->ops->quiesce(b);
	assert_int_equal(b->ops->client_gone(b), want);
	b->host = NULL;
}

/* Legacy: a departed client that kept the device fd leaves the proxy unable to serve: it must stop. */
static void test_departed_client_keeps_device_legacy(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	int kept = dup(lend_device_fd(b)); /* what SCM_RIGHTS gives the client */

	leave(b, -EBUSY);
	assert_int_equal(fk.unsets, 0);
	assert_true(fk.container_set); /* the kernel kept the group in the container for the holder */
	close(kept);
}

/* Legacy: once the client's copy is gone, the device is opened afresh in an emptied container. */
static void test_departed_client_revoked_legacy(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	int lent = lend_device_fd(b);
	uint16_t id = 0;

	assert_true(fd_open(lent));
	leave(b, 0);
	assert_int_equal(fk.unsets, 1);
	assert_true(fk.container_set && fk.iommu_set);
	assert_int_equal(b->ops->region_read(b, VFIO_PCI_CONFIG_REGION_INDEX, PCI_VENDOR_ID, &id, 2), 0);
	assert_int_equal(id, 0x1234);
	/* a second client without the fd: nothing to revoke */
	leave(b, 0);
	assert_int_equal(fk.unsets, 1);
}

/* iommufd: a kept cdev file stays bound; a fresh file cannot bind: the proxy must stop. */
static void test_departed_client_keeps_device_iommufd(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_iommufd(f, VFIO_IOMMU_KIND_IOMMUFD);
	int kept = dup(lend_device_fd(b));

	assert_int_equal(fk.binds, 1);
	leave(b, -EBUSY);
	assert_int_equal(fk.binds, 1);
	close(kept);
}

static void test_departed_client_revoked_iommufd(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_iommufd(f, VFIO_IOMMU_KIND_IOMMUFD);
	uint16_t id = 0;

	lend_device_fd(b);
	leave(b, 0);
	assert_int_equal(fk.binds, 2);
	assert_int_equal(b->ops->region_read(b, VFIO_PCI_CONFIG_REGION_INDEX, PCI_VENDOR_ID, &id, 2), 0);
	assert_int_equal(id, 0x1234);
}

/* A device without any reset serves one client, unless --allow-no-reset. */
static void test_no_reset_one_client(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	b = create_ok(f, false);
	leave(b, -ENOTTY);
}

static void test_no_reset_allowed(void **state)
{
	struct fixture *f = *state;
	struct vfio_backend_options o;
	char sysfs[PATH_MAX + 8], dev[PATH_MAX + 8];

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	fake_tree("vfio-pci");
	snprintf(sysfs, sizeof(sysfs), "%s/sys", fk.root);
	snprintf(dev, sizeof(dev), "%s/dev", fk.root);
	o = (struct vfio_backend_options){ .device = BDF, .iommu = VFIO_IOMMU_KIND_LEGACY, .allow_no_reset = true,
					   .sysfs_root = sysfs, .dev_root = dev };
	assert_int_equal(vfio_backend_create(&o, &f->b), 0);
	leave(f->b, 0);
	leave(f->b, 0);
}

/* The IOMMU's page sizes reach the VERSION reply. */
static void test_pgsizes_from_iommu(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);

	assert_int_equal(b->pgsizes, 0x40201000); /* VFIO_IOMMU_GET_INFO's iova_pgsizes, as the fake gives them */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_describes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trap_bars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_rw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irqs_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irqs_msix_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irqs_msix_dynamic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_flr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_hot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_hot_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_gone_quiet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_departed_client_keeps_device_legacy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_departed_client_revoked_legacy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_departed_client_keeps_device_iommufd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_departed_client_revoked_iommufd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_reset_one_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_reset_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pgsizes_from_iommu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_driver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_through_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_auto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_cdev_argument, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_forced_legacy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_bind_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_dma, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_hot_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_hot_reset_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_through_server, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
