/* vfio_device.c: the VFIO backend: a real PCI device bound to vfio-pci, its regions, reset and DMA windows, behind the device_backend ops. */
#include "backend/vfio_device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci.h>

#include "backend/dma_window.h"
#include "backend/vfio_caps.h"
#include "backend/vfio_info.h"
#include "util/log.h"

#define REGION_INFO_MAX (64u * 1024) /* bigger than any real region info with its capabilities */
#define HOT_RESET_MAX_DEVICES 256u
#define HOT_RESET_MAX_GROUPS 8u
#define REVOKE_WAIT_MS 2000 /* how long a departed client's copy of the device fd may take to close */
#define REVOKE_PAUSE_MS 20

/* ---- regions ---- */

/* pread/pwrite at the region's offset in the device fd, whole or not at all. */
static int region_rw(struct vfio_dev *d, uint32_t index, uint64_t offset, void *buf, size_t count, bool write)
{
	const struct vfio_region *r = &d->regions[index];
	uint8_t *p = buf;
	uint64_t pos;

	if (offset > INT64_MAX - r->offset || count > INT64_MAX - (r->offset + offset))
		return -EINVAL;
	pos = r->offset + offset;
	while (count) {
		ssize_t n = write ? pwrite(d->fd, p, count, (off_t)pos) : pread(d->fd, p, count, (off_t)pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		pos += (uint64_t)n;
		count -= (size_t)n;
	}
	return 0;
}

static int vdev_region_read(struct device_backend *b, uint32_t index, uint64_t offset, void *buf, uint32_t count)
{
	return region_rw(to_vdev(b), index, offset, buf, count, false);
}

static int vdev_region_write(struct device_backend *b, uint32_t index, uint64_t offset, const void *buf,
			     uint32_t count)
{
	return region_rw(to_vdev(b), index, offset, (void *)buf, count, true);
}

static int vdev_region_info(struct device_backend *b, struct vfio_user_region_info *info, void *caps,
			    size_t caps_size, size_t *caps_len, int *fd)
{
	struct vfio_dev *d = to_vdev(b);
	const struct vfio_region *r = &d->regions[info->index];
	bool mmap = r->flags & VFIO_REGION_INFO_FLAG_MMAP;

	info->flags = r->flags;
	info->size = r->size;
	/* The client mmaps the device fd at the kernel's region offset, as a VFIO user would. */
	info->offset = mmap ? r->offset : 0;
	*caps_len = r->caps_len;
	if (r->caps_len && r->caps_len <= caps_size)
		memcpy(caps, r->caps, r->caps_len);
	*fd = mmap ? d->fd : -1;
	if (mmap && b->host)
		d->fd_lent = true; /* a client may hold the device from now on */
	return 0;
}

/* VFIO_DEVICE_GET_REGION_INFO with its whole capability chain. */
static int get_region_info(struct vfio_dev *d, uint32_t index, struct vfio_region_info **out, size_t *out_len)
{
	struct vfio_region_info hdr = { .index = index };

	return vfio_info_ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &hdr, sizeof(hdr), REGION_INFO_MAX, (void **)out,
			       out_len);
}

/* The kernel's chain, rebuilt to stand after the client's 32-byte info struct. */
static int rebuild_caps(struct vfio_region *r, const struct vfio_region_info *info, size_t len, unsigned int flags,
			struct vfio_caps_stats *st)
{
	const uint32_t base = sizeof(struct vfio_user_region_info);
	size_t n = vfio_region_caps_rebuild(info, len, info->cap_offset, base, flags, NULL, 0, st);

	free(r->caps);
	r->caps = NULL;
	r->caps_len = 0;
	if (!n)
		return 0;
	r->caps = malloc(n);
	if (!r->caps)
		return -ENOMEM;
	r->caps_len = vfio_region_caps_rebuild(info, len, info->cap_offset, base, flags, r->caps, n, st);
	return 0;
}

static int read_region(struct vfio_dev *d, uint32_t index)
{
	const uint32_t keep = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP;
	struct vfio_region *r = &d->regions[index];
	struct vfio_caps_stats st = { 0 };
	struct vfio_region_info *info = NULL;
	size_t len = 0;
	int ret;

	ret = get_region_info(d, index, &info, &len);
	if (ret == -EINVAL) {
		/* vfio-pci answers EINVAL for a region the device lacks (VGA on nearly all): absent, size 0 */
		r->flags = 0;
		r->size = 0;
		r->offset = 0;
		return 0;
	}
	if (ret) {
		log_error("VFIO_DEVICE_GET_REGION_INFO for region %u of %s failed: %s", index, d->target.bdf,
			  strerror(-ret));
		return ret;
	}
	r->flags = info->flags & keep;
	r->size = info->size;
	r->offset = info->offset;
	if (d->trap_bars)
		r->flags &= ~VFIO_REGION_INFO_FLAG_MMAP; /* the device fd never leaves the proxy */
	if (info->flags & VFIO_REGION_INFO_FLAG_CAPS) {
		unsigned int flags = d->trap_bars ? VFIO_CAPS_TRAP_BARS : 0;

		if (info->cap_offset == 0)
			st.lost_sparse = true; /* the chain never fitted */
		else
			ret = rebuild_caps(r, info, len, flags, &st);
		if (!ret && st.lost_sparse && (r->flags & VFIO_REGION_INFO_FLAG_MMAP)) {
			/* Without its sparse layout the client would mmap all of it: trap the region instead. */
			log_warn("region %u of %s: its sparse-mmap layout cannot be carried; the region is served "
				 "without mmap",
				 index, d->target.bdf);
			r->flags &= ~VFIO_REGION_INFO_FLAG_MMAP;
			if (info->cap_offset)
				ret = rebuild_caps(r, info, len, flags | VFIO_CAPS_TRAP_BARS, &st);
		}
		if (st.malformed)
			log_warn("region %u of %s: the kernel's capability chain is malformed; carried what came "
				 "before the fault",
				 index, d->target.bdf);
	}
	free(info);
	return ret;
}

/* ---- reset ---- */

/* One try of VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: the kernel answers ENOSPC with the device count it needs. */
static ssize_t ask_hot_reset_info(void *ctx, void *buf, size_t len)
{
	struct vfio_pci_hot_reset_info *info = buf;
	size_t need;

	info->argsz = (uint32_t)len;
	if (ioctl(*(int *)ctx, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info) == 0)
		return sizeof(*info) + (size_t)info->count * sizeof(info->devices[0]) > len ? -EIO : 0;
	if (errno != ENOSPC)
		return -errno;
	need = sizeof(*info) + (size_t)info->count * sizeof(info->devices[0]);
	return need > len ? (ssize_t)need : -EIO; /* the kernel claims more than it wrote, or no more */
}

/* VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, grown to the device count the kernel reports. */
static int get_hot_reset_info(struct vfio_dev *d, struct vfio_pci_hot_reset_info **out)
{
	const size_t max = sizeof(**out) + HOT_RESET_MAX_DEVICES * sizeof((*out)->devices[0]);
	size_t len;
	void *info = NULL;
	int ret = vfio_query_grow(ask_hot_reset_info, &d->fd, sizeof(**out), max, &info, &len);

	if (ret) {
		if (ret == -E2BIG)
			free(info);
		return ret;
	}
	*out = info;
	return 0;
}

/* The group fds a hot reset needs, or why it cannot be ours to do. */
static int hot_reset_fds(struct vfio_dev *d, struct vfio_pci_hot_reset_info *info, int32_t *fds, bool verbose)
{
	uint32_t foreign = 0;
	int n = d->iommu->ops->hot_reset_fds(d->iommu, info->devices, info->count, fds, HOT_RESET_MAX_GROUPS,
					     &foreign);

	if (n == -EPERM && verbose) {
		const struct vfio_pci_dependent_device *o = &info->devices[foreign];

		log_info("%s has no function reset, and a bus reset would also reset %04x:%02x:%02x.%x (IOMMU group "
			 "%u), which is not ours: DEVICE_RESET is not offered",
			 d->target.bdf, o->segment, o->bus, PCI_SLOT(o->devfn), PCI_FUNC(o->devfn), o->group_id);
	}
	return n;
}

static int hot_reset(struct vfio_dev *d)
{
	struct vfio_pci_hot_reset_info *info;
	struct vfio_pci_hot_reset *r;
	int32_t fds[HOT_RESET_MAX_GROUPS];
	size_t len;
	int n, ret;

	ret = get_hot_reset_info(d, &info);
	if (ret)
		return ret;
	n = hot_reset_fds(d, info, fds, false);
	free(info);
	if (n < 0)
		return n;
	len = sizeof(*r) + (size_t)n * sizeof(r->group_fds[0]);
	r = calloc(1, len);
	if (!r)
		return -ENOMEM;
	r->argsz = (uint32_t)len;
	r->count = (uint32_t)n;
	memcpy(r->group_fds, fds, (size_t)n * sizeof(fds[0]));
	ret = ioctl(d->fd, VFIO_DEVICE_PCI_HOT_RESET, r) ? -errno : 0;
	free(r);
	return ret;
}

/* Which reset the device can have: its own, a hot reset of only our devices, or none. */
static enum vfio_reset_method pick_reset(struct vfio_dev *d, uint32_t dev_flags)
{
	struct vfio_pci_hot_reset_info *info;
	int32_t fds[HOT_RESET_MAX_GROUPS];
	int ret;

	if (dev_flags & VFIO_DEVICE_FLAGS_RESET)
		return VFIO_RESET_DEVICE;
	ret = get_hot_reset_info(d, &info);
	if (ret) {
		log_debug("%s: no PCI hot reset either (%s)", d->target.bdf, strerror(-ret));
		return VFIO_RESET_NONE;
	}
	ret = hot_reset_fds(d, info, fds, true);
	free(info);
	return ret >= 0 ? VFIO_RESET_HOT : VFIO_RESET_NONE;
}

static int do_reset(struct vfio_dev *d)
{
	int ret;

	switch (d->reset) {
	case VFIO_RESET_DEVICE:
		ret = ioctl(d->fd, VFIO_DEVICE_RESET) ? -errno : 0;
		break;
	case VFIO_RESET_HOT:
		ret = hot_reset(d);
		break;
	default:
		return -ENOTTY;
	}
	if (ret)
		log_warn("reset of %s failed: %s", d->target.bdf, strerror(-ret));
	return ret;
}

static int vdev_reset(struct device_backend *b)
{
	return do_reset(to_vdev(b));
}

/* Bus mastering off, INTx disabled: no DMA and no interrupt until the next client turns them on. */
static int quiet(struct vfio_dev *d)
{
	uint16_t cmd;
	int ret;

	ret = region_rw(d, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, sizeof(cmd), false);
	if (ret)
		return ret;
	cmd &= (uint16_t)~PCI_COMMAND_MASTER;
	cmd |= PCI_COMMAND_INTX_DISABLE;
	return region_rw(d, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, sizeof(cmd), true);
}

static void vdev_quiesce(struct device_backend *b)
{
	struct vfio_dev *d = to_vdev(b);
	int ret;

	vfio_irqs_disable_all(d);
	ret = quiet(d);
	/* During an unbind the driver core holds the device's lock, and the kernel refuses (EAGAIN) the reset
	 * it would need: bus mastering and interrupts off is all there is then. */
	if (d->reset != VFIO_RESET_NONE && !vfio_request_take(d)) {
		do_reset(d);
		/* a function reset restores the config space it saved, bus mastering included */
		ret = quiet(d);
	}
	if (ret)
		log_warn("cannot turn off bus mastering and INTx of %s: %s", d->target.bdf, strerror(-ret));
}

/* The kernel asked for the device back: no later client, the device is released as the proxy stops. */
static int give_back(struct vfio_dev *d)
{
	if (d->fd_lent)
		log_info("%s: the departed client was given the device fd: the unbind finishes once it has closed every "
			 "copy (find a holder with: fuser -v %s)",
			 d->target.bdf,
			 d->iommu_kind == VFIO_IOMMU_KIND_IOMMUFD ? d->target.cdev_path : d->target.group_path);
	return BACKEND_STOP;
}

/*
 * The departed client had the device fd, and with it the device's VFIO ioctls; it may have kept it (or
 * passed it on). Close ours, prove with the kernel that no other is open, and open the device afresh.
 */
static int revoke_lent_fd(struct vfio_dev *d)
{
	const struct timespec pause = { .tv_nsec = REVOKE_PAUSE_MS * 1000000L };
	int ret;

	/*
	 * A client that exits closes its socket and its device file in an order the kernel does not
	 * promise (both releases are deferred work of the exiting task): give its copy a moment to go
	 * before calling it kept.
	 */
	for (int waited = 0;; waited += REVOKE_PAUSE_MS) {
		ret = d->iommu->ops->reacquire(d->iommu, &d->target, &d->fd);
		if (ret != -EBUSY || waited >= REVOKE_WAIT_MS || vfio_request_take(d))
			break;
		nanosleep(&pause, NULL);
	}

	/* An unbind that started while the client's copy was open signalled our channel, and the device
	 * cannot be opened again once it has gone. */
	if (ret && vfio_request_take(d))
		return give_back(d);
	if (ret == -EBUSY) {
		log_error("%s is still open in another process: the departed client kept the device fd it was given "
			  "(or passed it on); stopping, so that no later client shares the device or its IOMMU with "
			  "it (find the holder with: fuser -v %s; restart the proxy once it is gone)",
			  d->target.bdf, d->iommu_kind == VFIO_IOMMU_KIND_IOMMUFD ? d->target.cdev_path : d->target.group_path);
		return ret;
	}
	if (ret) {
		log_error("cannot open %s again after its client left: %s; stopping", d->target.bdf, strerror(-ret));
		return ret;
	}
	d->fd_lent = false;
	/* opened afresh: whatever the kernel's open did to the device, leave it quiet again; the kernel
	 * dropped our request channel with the last file, register it again */
	vfio_irqs_disable_all(d);
	ret = quiet(d);
	if (ret)
		log_warn("cannot turn off bus mastering and INTx of %s: %s", d->target.bdf, strerror(-ret));
	vfio_request_rearm(d);
	return 0;
}

static int vdev_client_gone(struct device_backend *b)
{
	struct vfio_dev *d = to_vdev(b);
	int ret;

	d->told_rom_window = false;
	d->told_fdless_window = false;
	d->told_memlock = false;
	if (vfio_request_take(d))
		return give_back(d); /* the device is being unbound: no revoke, no next client */
	if (d->fd_lent) {
		ret = revoke_lent_fd(d);
		if (ret)
			return ret;
	}
	if (d->reset == VFIO_RESET_NONE && !d->allow_no_reset) {
		log_error("%s has no reset: a later client would find what this one left in the device (its "
			  "registers, queues, DMA addresses); stopping (restart the proxy for the next client, or start "
			  "it with --allow-no-reset to serve one after another anyway)",
			  d->target.bdf);
		return -ENOTTY;
	}
	return 0;
}

/* ---- DMA windows ---- */

static int vdev_dma_map(struct device_backend *b, const struct dma_window *w)
{
	struct vfio_dev *d = to_vdev(b);
	const struct vfio_iova_range *ranges;
	uint32_t nranges, prot = 0;
	int ret;

	if (!w->vaddr) {
		if (!(w->prot & VFIO_USER_F_DMA_REGION_WRITE)) {
			/* QEMU sends ROM and BIOS areas this way even when guest RAM is shared. */
			if (!d->told_rom_window)
				log_info("device cannot reach fd-less read-only window %#llx+%#llx (ROM/BIOS); ignored",
					 (unsigned long long)w->iova, (unsigned long long)w->size);
			d->told_rom_window = true;
			return 0;
		}
		if (!d->told_fdless_window)
			log_error("the client mapped writable DMA window %#llx+%#llx without a file descriptor: a real "
				  "device can only reach guest RAM the VMM shares; give the VMM shared guest RAM "
				  "(-object memory-backend-memfd,id=mem,size=...,share=on -machine memory-backend=mem)",
				  (unsigned long long)w->iova, (unsigned long long)w->size);
		d->told_fdless_window = true;
		return -ENOTSUP;
	}
	nranges = d->iommu->ops->iova_ranges(d->iommu, &ranges);
	if (!vfio_iova_allowed(ranges, nranges, w->iova, w->size)) {
		log_warn("DMA window %#llx+%#llx lies outside the IOMMU's usable IOVA ranges; refused",
			 (unsigned long long)w->iova, (unsigned long long)w->size);
		return -EINVAL;
	}
	if (w->prot & VFIO_USER_F_DMA_REGION_READ)
		prot |= VFIO_IOMMU_READ;
	if (w->prot & VFIO_USER_F_DMA_REGION_WRITE)
		prot |= VFIO_IOMMU_WRITE;
	ret = d->iommu->ops->map(d->iommu, w->iova, w->size, w->vaddr, prot);
	if ((ret == -ENOMEM || ret == -EPERM) && !d->told_memlock) {
		log_error("mapping DMA window %#llx+%#llx failed (%s): VFIO pins the client's memory against "
			  "RLIMIT_MEMLOCK; raise it (ulimit -l unlimited, or LimitMEMLOCK=infinity in the systemd "
			  "unit)",
			  (unsigned long long)w->iova, (unsigned long long)w->size, strerror(-ret));
		d->told_memlock = true;
	} else if (ret && ret != -ENOMEM && ret != -EPERM) {
		log_warn("mapping DMA window %#llx+%#llx failed: %s", (unsigned long long)w->iova,
			 (unsigned long long)w->size, strerror(-ret));
	}
	return ret;
}

static void vdev_dma_unmap(struct device_backend *b, const struct dma_window *w)
{
	struct vfio_dev *d = to_vdev(b);
	int ret;

	if (!w->vaddr)
		return; /* fd-less windows were never mapped */
	ret = d->iommu->ops->unmap(d->iommu, w->iova, w->size);
	if (ret)
		log_warn("unmapping DMA window %#llx+%#llx failed: %s", (unsigned long long)w->iova,
			 (unsigned long long)w->size, strerror(-ret));
}

/* ---- device ---- */

static int vdev_device_info(struct device_backend *b, struct vfio_user_device_info *info)
{
	struct vfio_dev *d = to_vdev(b);

	info->flags = VFIO_DEVICE_FLAGS_PCI | (d->reset != VFIO_RESET_NONE ? VFIO_DEVICE_FLAGS_RESET : 0);
	info->num_regions = d->num_regions;
	info->num_irqs = d->num_irqs;
	return 0;
}

static int vdev_irq_info(struct device_backend *b, struct vfio_user_irq_info *info)
{
	const struct vfio_irq *irq = &to_vdev(b)->irqs[info->index];

	info->flags = irq->flags;
	info->count = irq->count;
	return 0;
}

void vfio_dev_destroy(struct vfio_dev *d)
{

	if (d->fd >= 0) {
		vfio_irqs_disable_all(d);
		close(d->fd); /* the last file of the device: the kernel drops our request channel */
	}
	vfio_request_fini(d);
	vfio_irqs_fini(d);
	if (d->iommu)
		d->iommu->ops->close(d->iommu);
	for (uint32_t i = 0; i < BACKEND_MAX_REGIONS; i++)
		free(d->regions[i].caps);
	free(d);
}

static void vdev_destroy(struct device_backend *b)
{
	vfio_dev_destroy(to_vdev(b));
}

static const struct backend_ops vfio_ops = {
	.destroy = vdev_destroy,
	.device_info = vdev_device_info,
	.region_info = vdev_region_info,
	.region_read = vdev_region_read,
	.region_write = vdev_region_write,
	.irq_info = vdev_irq_info,
	.set_irqs = vfio_irqs_set,
	.reset = vdev_reset,
	.dma_map = vdev_dma_map,
	.dma_unmap = vdev_dma_unmap,
	.device_feature = NULL, /* no migration or DMA logging yet: the server answers ENOTTY */
	.quiesce = vdev_quiesce,
	.client_gone = vdev_client_gone,
	.event = vfio_request_event,
	.handover_save = vfio_handover_save,
};

int vfio_dev_read(struct vfio_dev *d)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int ret;

	if (ioctl(d->fd, VFIO_DEVICE_GET_INFO, &info)) {
		ret = -errno;
		log_error("VFIO_DEVICE_GET_INFO on %s failed: %s", d->target.bdf, strerror(-ret));
		return ret;
	}
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI) || info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX) {
		log_error("%s is not a PCI device to VFIO (flags %#x, %u regions): only vfio-pci devices can be "
			  "exported",
			  d->target.bdf, info.flags, info.num_regions);
		return -ENODEV;
	}
	d->num_regions = info.num_regions;
	if (d->num_regions > BACKEND_MAX_REGIONS) {
		log_warn("%s has %u regions; serving the first %u (the device-specific ones past them are left out)",
			 d->target.bdf, info.num_regions, BACKEND_MAX_REGIONS);
		d->num_regions = BACKEND_MAX_REGIONS;
	}
	d->num_irqs = info.num_irqs;
	if (d->num_irqs > BACKEND_MAX_IRQS) {
		log_warn("%s has %u IRQ indexes; serving the first %u", d->target.bdf, info.num_irqs,
			 BACKEND_MAX_IRQS);
		d->num_irqs = BACKEND_MAX_IRQS;
	}
	for (uint32_t i = 0; i < d->num_regions; i++) {
		ret = read_region(d, i);
		if (ret)
			return ret;
	}
	ret = vfio_irqs_init(d);
	if (ret)
		return ret;
	d->reset = pick_reset(d, info.flags);
	return 0;
}

static const char *reset_name(enum vfio_reset_method m)
{
	switch (m) {
	case VFIO_RESET_DEVICE:
		return "device reset";
	case VFIO_RESET_HOT:
		return "PCI hot reset";
	default:
		return "none";
	}
}

void vfio_dev_announce(struct vfio_dev *d, bool resumed)
{
	uint16_t id[2] = { 0xffff, 0xffff }, sub[2] = { 0xffff, 0xffff };
	bool mmap = false;

	region_rw(d, VFIO_PCI_CONFIG_REGION_INDEX, PCI_VENDOR_ID, id, sizeof(id), false);
	region_rw(d, VFIO_PCI_CONFIG_REGION_INDEX, PCI_SUBSYSTEM_VENDOR_ID, sub, sizeof(sub), false);
	for (uint32_t i = 0; i < d->num_regions; i++)
		mmap |= (d->regions[i].flags & VFIO_REGION_INFO_FLAG_MMAP) != 0;
	snprintf(d->name, sizeof(d->name), "VFIO device %s (%04x:%04x)", d->target.bdf, id[0], id[1]);
	d->base.name = d->name;
	log_info("%s %s [%04x:%04x, subsystem %04x:%04x] bound to %s, IOMMU group %u, through %s: %u regions, "
		 "%u IRQ indexes, reset: %s, BARs: %s",
		 resumed ? "hand-over: exporting on" : "exporting", d->target.bdf, id[0], id[1], sub[0], sub[1], d->target.driver, d->target.group, d->iommu->name,
		 d->num_regions, d->num_irqs, reset_name(d->reset),
		 d->trap_bars ? "trapped (--trap-bars: the device fd stays in the proxy)"
		 : mmap	      ? "mmapped by the client (it gets the device fd)"
			      : "trapped (none is mmappable)");
}

/* Opens the device through the IOMMU path asked for; AUTO prefers iommufd when the kernel has it. */
static int open_iommu(struct vfio_dev *d, enum vfio_iommu_kind kind)
{
	char why[VFIO_WHY_MAX];
	int avail = vfio_iommufd_available(&d->target, why, sizeof(why));

	switch (kind) {
	case VFIO_IOMMU_KIND_IOMMUFD:
		if (avail) {
			log_error("--iommu iommufd: %s; boot a kernel with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV, "
				  "or use --iommu legacy",
				  why);
			return avail;
		}
		break;
	case VFIO_IOMMU_KIND_AUTO:
		if (avail) {
			log_info("%s; using the legacy container path", why);
			kind = VFIO_IOMMU_KIND_LEGACY;
		} else {
			kind = VFIO_IOMMU_KIND_IOMMUFD;
		}
		break;
	case VFIO_IOMMU_KIND_LEGACY:
		break;
	default:
		log_error("unknown IOMMU path %d", (int)kind);
		return -EINVAL;
	}
	vfio_dev_use_iommu(d, kind);
	if (kind == VFIO_IOMMU_KIND_IOMMUFD)
		return vfio_iommufd_open(&d->target, &d->iommu, &d->fd);
	return vfio_container_open(&d->target, &d->iommu, &d->fd);
}

int vfio_dev_new(const struct vfio_backend_options *opts, struct vfio_dev **out)
{
	struct vfio_paths paths;
	char why[VFIO_WHY_MAX];
	struct vfio_dev *d;
	int ret;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = -1;
	d->req_fd = -1;
	d->req_client_fd = -1;
	d->base.event_fd = -1;
	d->trap_bars = opts->trap_bars;
	d->allow_no_reset = opts->allow_no_reset;
	d->base.ops = &vfio_ops;
	d->base.name = "VFIO device";
	vfio_paths_init(&paths, opts->sysfs_root, opts->dev_root);
	ret = vfio_discover(opts->device, &paths, &d->target, why, sizeof(why));
	if (ret) {
		log_error("%s", why);
		free(d);
		return ret;
	}
	*out = d;
	return 0;
}

void vfio_dev_use_iommu(struct vfio_dev *d, enum vfio_iommu_kind kind)
{
	d->iommu_kind = kind;
	if (kind == VFIO_IOMMU_KIND_IOMMUFD)
		d->base.reopen_path = d->target.cdev_path; /* revoke() binds a fresh file of the cdev */
}

int vfio_backend_create(const struct vfio_backend_options *opts, struct device_backend **out)
{
	char why[VFIO_WHY_MAX];
	struct vfio_dev *d;
	int ret;

	ret = vfio_dev_new(opts, &d);
	if (ret)
		return ret;
	if (vfio_memlock_check(why, sizeof(why)))
		log_warn("%s", why);
	ret = open_iommu(d, opts->iommu);
	if (ret)
		goto fail;
	ret = vfio_dev_read(d);
	if (ret)
		goto fail;
	d->base.pgsizes = d->iommu->pgsizes;
	/* Whatever a previous user left running stops here. */
	vfio_irqs_disable_all(d);
	ret = quiet(d);
	if (ret)
		log_warn("cannot turn off bus mastering and INTx of %s: %s", d->target.bdf, strerror(-ret));
	vfio_request_init(d); /* from now until the proxy stops, an unbind asks us first */
	vfio_dev_announce(d, false);
	*out = &d->base;
	return 0;
fail:
	vdev_destroy(&d->base);
	return ret;
}
