/* emulated.c: the userspace emulated backend: hosts the edu device model, its memfd-backed RAM BAR and its interrupts on the client's eventfds. */
#include "backend/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edu_model.h"
#include "util/bounded_io.h"
#include "util/eventfd_check.h"
#include "util/fd.h"
#include "util/handover_state.h"
#include "util/log.h"

#define EMU_NUM_REGIONS (VFIO_PCI_VGA_REGION_INDEX + 1)
#define EMU_NUM_IRQS (VFIO_PCI_REQ_IRQ_INDEX + 1)
#define EMU_MAX_VECTORS EDU_MSIX_VECTORS
#define EMU_IRQ_NONE (-1)

/* The RAM BAR is mmappable but for one page in the middle, trapped to show a sparse layout. */
#define EMU_RAM_TRAP_OFFSET 0x80000u
#define EMU_RAM_TRAP_SIZE 0x1000u

struct emulated {
	struct device_backend base;
	struct edu_model model;
	int ram_fd;
	uint8_t *ram;

	int irq_type; /* the index whose trigger the client enabled (as vfio-pci's irq_type), or EMU_IRQ_NONE */
	int trigger[EMU_NUM_IRQS][EMU_MAX_VECTORS];
	int intx_unmask_fd;
	bool intx_masked;
	bool intx_asserted;
	bool told_blocked_eventfd; /* once per client */
	bool told_no_proc;
	dev_t anon_dev; /* the anonymous inode eventfds live on, for is_eventfd() without /proc */
	ino_t anon_ino;
};

static const uint32_t irq_counts[EMU_NUM_IRQS] = {
	[VFIO_PCI_INTX_IRQ_INDEX] = 1,
	[VFIO_PCI_MSI_IRQ_INDEX] = 1,
	[VFIO_PCI_MSIX_IRQ_INDEX] = EDU_MSIX_VECTORS,
	[VFIO_PCI_ERR_IRQ_INDEX] = 1,
	[VFIO_PCI_REQ_IRQ_INDEX] = 1,
};

static struct emulated *to_emu(struct device_backend *b)
{
	return (struct emulated *)b;
}

/* The client shares its eventfds with us: it decides whether they block, so the write is bounded. */
static void signal_fd(struct emulated *e, int fd)
{
	uint64_t one = 1;
	ssize_t n;

	if (fd < 0)
		return;
	n = bounded_write(fd, &one, sizeof(one), BOUNDED_IO_TIMEOUT_MS);
	if (n == -ETIMEDOUT || n == -EAGAIN) {
		if (!e->told_blocked_eventfd)
			log_warn("the client's interrupt eventfd is full (its counter at the maximum%s): interrupts are "
				 "dropped until it reads it",
				 n == -ETIMEDOUT ? ", and blocking" : "");
		e->told_blocked_eventfd = true;
	} else if (n != sizeof(one)) {
		log_debug("eventfd %d not signalled: %s", fd, strerror(n < 0 ? (int)-n : EIO));
	}
}

/* ---- interrupts, delivered the way the client set them up ---- */

static void intx_deliver(struct emulated *e)
{
	if (e->irq_type != VFIO_PCI_INTX_IRQ_INDEX || !e->intx_asserted || e->intx_masked)
		return;
	if (edu_model_intx_disabled(&e->model))
		return;
	/* INTx is level-triggered and automasked: the client unmasks once it has serviced it. */
	e->intx_masked = true;
	signal_fd(e, e->trigger[VFIO_PCI_INTX_IRQ_INDEX][0]);
}

static void emu_irq(void *opaque, unsigned int vector, bool level)
{
	struct emulated *e = opaque;

	switch (e->irq_type) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		e->intx_asserted = level;
		intx_deliver(e);
		break;
	case VFIO_PCI_MSI_IRQ_INDEX:
		if (level && edu_model_bus_master(&e->model))
			signal_fd(e, e->trigger[VFIO_PCI_MSI_IRQ_INDEX][0]);
		break;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		if (!level || !edu_model_bus_master(&e->model) || vector >= EMU_MAX_VECTORS)
			break;
		if (e->trigger[VFIO_PCI_MSIX_IRQ_INDEX][vector] >= 0)
			signal_fd(e, e->trigger[VFIO_PCI_MSIX_IRQ_INDEX][vector]);
		else
			e->model.msix_pba |= 1ull << vector; /* pending until a vector is set up */
		break;
	default:
		e->intx_asserted = level; /* remembered, so enabling INTx later sees the line as it is */
		break;
	}
}

/* ---- DMA, through the server's view of the client's windows ---- */

static void emu_dma_done(void *arg, int status)
{
	struct emulated *e = arg;

	edu_model_dma_complete(&e->model, status);
}

static int emu_dma(void *opaque, uint64_t iova, void *buf, uint32_t len, bool to_ram)
{
	struct emulated *e = opaque;
	int ret;

	if (!e->base.host)
		return -EFAULT;
	ret = e->base.host_ops->dma(e->base.host, iova, buf, len, to_ram, emu_dma_done, e);
	return ret == 1 ? EDU_DMA_PENDING : ret;
}

static const struct edu_ops emu_model_ops = {
	.dma = emu_dma,
	.irq = emu_irq,
};

/* ---- the backend ops ---- */

static int emu_device_info(struct device_backend *b, struct vfio_user_device_info *info)
{
	info->flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	info->num_regions = EMU_NUM_REGIONS;
	info->num_irqs = EMU_NUM_IRQS;
	return 0;
}

static size_t put_sparse_cap(void *caps, size_t caps_size)
{
	struct {
		struct vfio_user_cap_sparse_mmap cap;
		struct vfio_user_sparse_mmap_area areas[2];
	} __attribute__((packed)) c = {
		.cap = {
			.header = { .id = VFIO_REGION_INFO_CAP_SPARSE_MMAP, .version = 1, .next = 0 },
			.nr_areas = 2,
		},
		.areas = {
			{ .offset = 0, .size = EMU_RAM_TRAP_OFFSET },
			{ .offset = EMU_RAM_TRAP_OFFSET + EMU_RAM_TRAP_SIZE,
			  .size = EDU_BAR_RAM_SIZE - EMU_RAM_TRAP_OFFSET - EMU_RAM_TRAP_SIZE },
		},
	};

	if (caps_size >= sizeof(c))
		memcpy(caps, &c, sizeof(c));
	return sizeof(c);
}

static int emu_region_info(struct device_backend *b, struct vfio_user_region_info *info, void *caps,
			   size_t caps_size, size_t *caps_len, int *fd)
{
	struct emulated *e = to_emu(b);
	const uint32_t rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;

	info->flags = 0;
	info->size = 0;
	info->offset = 0;
	*caps_len = 0;
	*fd = -1;
	switch (info->index) {
	case VFIO_PCI_BAR0_REGION_INDEX + EDU_BAR_REGS:
		info->flags = rw;
		info->size = EDU_BAR_REGS_SIZE;
		break;
	case VFIO_PCI_BAR0_REGION_INDEX + EDU_BAR_MSIX:
		info->flags = rw;
		info->size = EDU_BAR_MSIX_SIZE;
		break;
	case VFIO_PCI_BAR0_REGION_INDEX + EDU_BAR_RAM:
		info->flags = rw | VFIO_REGION_INFO_FLAG_MMAP;
		info->size = EDU_BAR_RAM_SIZE;
		*caps_len = put_sparse_cap(caps, caps_size);
		*fd = e->ram_fd;
		break;
	case VFIO_PCI_CONFIG_REGION_INDEX:
		info->flags = rw;
		info->size = EDU_CONFIG_SIZE;
		break;
	default:
		break; /* BAR1, BAR3, BAR5 (BAR4's upper half), ROM, VGA: absent */
	}
	return 0;
}

/* Splits an access into naturally aligned pieces of at most max bytes, as a CPU would issue them. */
static int split_access(struct emulated *e, uint32_t index, uint64_t offset, uint8_t *buf, uint32_t count, bool write,
			uint32_t max)
{
	while (count) {
		/* the largest power of two within count and max, then halved until offset is aligned to it */
		uint32_t n = 1u << (31 - __builtin_clz(count < max ? count : max));
		int ret;

		while (offset & (n - 1))
			n >>= 1;
		if (index == VFIO_PCI_CONFIG_REGION_INDEX)
			ret = write ? edu_model_config_write(&e->model, (uint32_t)offset, buf, n)
				    : edu_model_config_read(&e->model, (uint32_t)offset, buf, n);
		else
			ret = write ? edu_model_bar_write(&e->model, index, offset, buf, n)
				    : edu_model_bar_read(&e->model, index, offset, buf, n);
		if (ret)
			return ret;
		offset += n;
		buf += n;
		count -= n;
	}
	return 0;
}

static int emu_region_rw(struct device_backend *b, uint32_t index, uint64_t offset, uint8_t *buf, uint32_t count,
			 bool write)
{
	struct emulated *e = to_emu(b);

	switch (index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		return split_access(e, index, offset, buf, count, write, 4);
	case VFIO_PCI_BAR0_REGION_INDEX + EDU_BAR_REGS:
	case VFIO_PCI_BAR0_REGION_INDEX + EDU_BAR_MSIX:
		/* a driver's usual access: one register, naturally aligned */
		if ((count == 4 || count == 8) && !(offset & (count - 1)))
			return write ? edu_model_bar_write(&e->model, index, offset, buf, count)
				     : edu_model_bar_read(&e->model, index, offset, buf, count);
		return split_access(e, index, offset, buf, count, write, 8);
	case VFIO_PCI_BAR0_REGION_INDEX + EDU_BAR_RAM:
		if (write)
			memcpy(e->ram + offset, buf, count);
		else
			memcpy(buf, e->ram + offset, count);
		return 0;
	default:
		return -EINVAL;
	}
}

static int emu_region_read(struct device_backend *b, uint32_t index, uint64_t offset, void *buf, uint32_t count)
{
	return emu_region_rw(b, index, offset, buf, count, false);
}

static int emu_region_write(struct device_backend *b, uint32_t index, uint64_t offset, const void *buf,
			    uint32_t count)
{
	return emu_region_rw(b, index, offset, (uint8_t *)buf, count, true);
}

static int emu_irq_info(struct device_backend *b, struct vfio_user_irq_info *info)
{
	info->count = irq_counts[info->index];
	info->flags = VFIO_IRQ_INFO_EVENTFD;
	if (info->index == VFIO_PCI_INTX_IRQ_INDEX)
		info->flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else if (info->index == VFIO_PCI_MSI_IRQ_INDEX || info->index == VFIO_PCI_MSIX_IRQ_INDEX)
		info->flags |= VFIO_IRQ_INFO_NORESIZE;
	return 0;
}

static bool is_eventfd(struct emulated *e, int fd)
{
	bool no_proc = false, yes = fd_is_eventfd(fd, e->anon_dev, e->anon_ino, &no_proc);

	if (no_proc && !e->told_no_proc)
		log_warn("/proc is not mounted: the client's eventfds are recognised only as anonymous-inode files");
	e->told_no_proc |= no_proc;
	return yes;
}

/* The INTx unmask eventfd (the KVM resampler QEMU registers): the client signals it, we unmask. */
static void close_unmask_fd(struct emulated *e)
{
	if (e->intx_unmask_fd >= 0 && e->base.host)
		e->base.host_ops->unwatch(e->base.host, e->intx_unmask_fd);
	close_fd(&e->intx_unmask_fd);
}

static void intx_unmask(struct emulated *e)
{
	e->intx_masked = false;
	intx_deliver(e); /* still asserted: it fires again */
}

static void on_unmask_event(void *arg)
{
	struct emulated *e = arg;
	uint64_t count;

	/* The client may have read it first (it shares the file): then there is nothing to do. */
	if (bounded_read(e->intx_unmask_fd, &count, sizeof(count), BOUNDED_IO_TIMEOUT_MS) != sizeof(count))
		return;
	intx_unmask(e);
}

static void disable_index(struct emulated *e, uint32_t index)
{
	for (uint32_t v = 0; v < EMU_MAX_VECTORS; v++)
		close_fd(&e->trigger[index][v]);
	if (index == VFIO_PCI_INTX_IRQ_INDEX) {
		close_unmask_fd(e);
		e->intx_masked = false;
	}
	if ((int)index == e->irq_type)
		e->irq_type = EMU_IRQ_NONE;
}

static int set_intx_mask(struct emulated *e, uint32_t data, uint32_t action, const uint8_t *bools, int *fds)
{
	if (data == VFIO_IRQ_SET_DATA_EVENTFD) {
		int ret;

		if (action == VFIO_IRQ_SET_ACTION_MASK) {
			/* vfio-pci has no mask eventfd either, and answers this */
			if (fds)
				close(fds[0]);
			return -ENOTTY;
		}
		close_unmask_fd(e);
		if (!fds)
			return 0; /* de-assigned */
		if (!e->base.host) {
			close(fds[0]);
			return -ENOTCONN;
		}
		ret = e->base.host_ops->watch(e->base.host, fds[0], on_unmask_event, e);
		if (ret) {
			close(fds[0]);
			return ret;
		}
		e->intx_unmask_fd = fds[0];
		return 0;
	}
	if (data == VFIO_IRQ_SET_DATA_BOOL && !bools[0])
		return 0;
	if (action == VFIO_IRQ_SET_ACTION_MASK)
		e->intx_masked = true;
	else
		intx_unmask(e);
	return 0;
}

static int emu_set_irqs(struct device_backend *b, uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
			const uint8_t *bools, int *fds)
{
	struct emulated *e = to_emu(b);
	uint32_t data = flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	uint32_t action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	bool per_vector = index == VFIO_PCI_MSI_IRQ_INDEX || index == VFIO_PCI_MSIX_IRQ_INDEX ||
			  index == VFIO_PCI_INTX_IRQ_INDEX;
	int ret = 0;

	if (fds) {
		for (uint32_t i = 0; i < count; i++) {
			if (!is_eventfd(e, fds[i])) {
				ret = -EINVAL;
				goto out_close;
			}
		}
	}
	if (action != VFIO_IRQ_SET_ACTION_TRIGGER) {
		if (index != VFIO_PCI_INTX_IRQ_INDEX) {
			ret = -EINVAL; /* only INTx is maskable (VFIO_IRQ_INFO_MASKABLE) */
			goto out_close;
		}
		return set_intx_mask(e, data, action, bools, fds);
	}
	if (count == 0) {
		disable_index(e, index);
		return 0;
	}
	if (data == VFIO_IRQ_SET_DATA_EVENTFD) {
		if (per_vector && e->irq_type != EMU_IRQ_NONE && e->irq_type != (int)index) {
			ret = -EINVAL; /* like vfio-pci: disable the other interrupt type first */
			goto out_close;
		}
		for (uint32_t i = 0; i < count; i++) {
			close_fd(&e->trigger[index][start + i]);
			e->trigger[index][start + i] = fds ? fds[i] : -1;
		}
		if (per_vector && fds)
			e->irq_type = (int)index;
		if (index == VFIO_PCI_INTX_IRQ_INDEX)
			intx_deliver(e);
		return 0;
	}
	/* DATA_NONE / DATA_BOOL with TRIGGER: the client fires the interrupt itself (loopback). */
	if (per_vector && e->irq_type != (int)index)
		return 0;
	for (uint32_t i = 0; i < count; i++)
		if (data == VFIO_IRQ_SET_DATA_NONE || bools[i])
			signal_fd(e, e->trigger[index][start + i]);
	return 0;

out_close:
	for (uint32_t i = 0; fds && i < count; i++)
		close(fds[i]);
	return ret;
}

static int new_ram(struct emulated *e)
{
	int fd = memfd_create("vfio-user-proxy-bar4", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, EDU_BAR_RAM_SIZE) || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	p = mmap(NULL, EDU_BAR_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	if (e->ram)
		munmap(e->ram, EDU_BAR_RAM_SIZE);
	close_fd(&e->ram_fd);
	e->ram = p;
	e->ram_fd = fd;
	return 0;
}

static int emu_reset(struct device_backend *b)
{
	struct emulated *e = to_emu(b);

	edu_model_reset(&e->model);
	memset(e->ram, 0, EDU_BAR_RAM_SIZE);
	return 0;
}

static void emu_quiesce(struct device_backend *b)
{
	struct emulated *e = to_emu(b);

	for (uint32_t i = 0; i < EMU_NUM_IRQS; i++)
		disable_index(e, i);
	e->irq_type = EMU_IRQ_NONE;
	e->intx_asserted = false;
	edu_model_reset(&e->model);
}

static int emu_client_gone(struct device_backend *b)
{
	struct emulated *e = to_emu(b);

	e->told_blocked_eventfd = false;
	/* A fresh RAM BAR: the old client may still have the old one mapped, and must see nothing new. */
	if (new_ram(e)) {
		log_warn("could not replace the RAM BAR; clearing the old one");
		memset(e->ram, 0, EDU_BAR_RAM_SIZE);
	}
	return 0;
}

static void emu_destroy(struct device_backend *b)
{
	struct emulated *e = to_emu(b);

	for (uint32_t i = 0; i < EMU_NUM_IRQS; i++)
		disable_index(e, i);
	if (e->ram)
		munmap(e->ram, EDU_BAR_RAM_SIZE);
	close_fd(&e->ram_fd);
	free(e);
}

/* ---- hand-over: the model's fields one by one, the RAM BAR memfd, the interrupts with their eventfds ---- */

_Static_assert(sizeof(((struct edu_model *)0)->config) == HO_EMU_CONFIG_SIZE, "config size");
_Static_assert(sizeof(((struct edu_model *)0)->dma_buf) == HO_EMU_DMA_BUF_SIZE, "DMA buffer size");
_Static_assert(sizeof(((struct edu_model *)0)->msix_table) == HO_EMU_MSIX_TABLE_SIZE, "MSI-X table size");
_Static_assert(EMU_NUM_IRQS == HO_EMU_IRQS && EMU_MAX_VECTORS == HO_EMU_VECTORS, "interrupt layout");

static int save_fd(struct ho_state *st, int fd, uint32_t *idx)
{
	*idx = HO_NONE;
	if (fd < 0)
		return 0;
	*idx = ho_state_add_fd(st, fd);
	return *idx == HO_NONE ? -ENOMEM : 0;
}

static int emu_handover_save(struct device_backend *b, struct ho_state *st)
{
	struct emulated *e = to_emu(b);
	const struct edu_model *m = &e->model;
	struct ho_emulated *h = &st->emu;
	int ret;

	if (m->dma_pending)
		return -EBUSY;
	memcpy(h->config, m->config, sizeof(h->config));
	h->liveness = m->liveness;
	h->fact = m->fact;
	h->status = m->status;
	h->irq_status = m->irq_status;
	h->irq_vector = m->irq_vector;
	h->dma_src = m->dma_src;
	h->dma_dst = m->dma_dst;
	h->dma_count = m->dma_count;
	h->dma_cmd = m->dma_cmd;
	memcpy(h->dma_buf, m->dma_buf, sizeof(h->dma_buf));
	memcpy(h->msix_table, m->msix_table, sizeof(h->msix_table));
	h->msix_pba = m->msix_pba;
	h->irq_type = e->irq_type;
	h->intx_masked = e->intx_masked;
	h->intx_asserted = e->intx_asserted;
	h->told_blocked_eventfd = e->told_blocked_eventfd;
	if ((ret = save_fd(st, e->ram_fd, &h->ram_fd)) || (ret = save_fd(st, e->intx_unmask_fd, &h->intx_unmask_fd)))
		return ret;
	for (uint32_t i = 0; i < EMU_NUM_IRQS; i++)
		for (uint32_t v = 0; v < EMU_MAX_VECTORS; v++)
			if ((ret = save_fd(st, e->trigger[i][v], &h->trigger[i][v])))
				return ret;
	st->have_emulated = true;
	return 0;
}

static int emu_resumed(struct device_backend *b)
{
	struct emulated *e = to_emu(b);

	if (e->intx_unmask_fd < 0)
		return 0;
	if (!b->host)
		return -ENOTCONN;
	return b->host_ops->watch(b->host, e->intx_unmask_fd, on_unmask_event, e);
}

static const struct backend_ops emulated_ops;
static void probe_anon_inode(struct emulated *e);

/* The RAM BAR's memfd as new_ram() made it: its size, sealed against shrinking and growing. */
static int adopt_ram(struct emulated *e, int fd)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	void *p;

	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW) || fstat(fd, &st) ||
	    !S_ISREG(st.st_mode) || st.st_size != EDU_BAR_RAM_SIZE)
		return -EINVAL;
	p = mmap(NULL, EDU_BAR_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	e->ram = p;
	e->ram_fd = fd;
	return 0;
}

static int adopt_eventfd(struct emulated *e, const struct ho_state *st, uint32_t idx, int *out)
{
	*out = -1;
	if (idx == HO_NONE)
		return 0;
	if (!is_eventfd(e, st->fds[idx]))
		return -EINVAL;
	*out = st->fds[idx];
	return 0;
}

int emulated_backend_resume(const struct ho_state *st, struct device_backend **out)
{
	const struct ho_emulated *h = &st->emu;
	struct emulated *e;
	struct edu_model *m;
	int ret;

	if (!st->have_emulated) {
		log_error("hand-over: the state holds no emulated device");
		return -EINVAL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->base.ops = &emulated_ops;
	e->base.name = "emulated edu device (1234:11e8)";
	e->base.stateful = true;
	probe_anon_inode(e);
	ret = adopt_ram(e, st->fds[h->ram_fd]);
	if (ret) {
		log_error("hand-over: fd %d is not the RAM BAR's sealed memfd", st->fds[h->ram_fd]);
		free(e);
		return ret;
	}
	ret = adopt_eventfd(e, st, h->intx_unmask_fd, &e->intx_unmask_fd);
	for (uint32_t i = 0; i < EMU_NUM_IRQS && !ret; i++)
		for (uint32_t v = 0; v < EMU_MAX_VECTORS && !ret; v++)
			ret = adopt_eventfd(e, st, h->trigger[i][v], &e->trigger[i][v]);
	if (ret) {
		log_error("hand-over: an interrupt fd of the state is not an eventfd");
		munmap(e->ram, EDU_BAR_RAM_SIZE);
		free(e); /* nothing closed: the state's fds stay for a fallback */
		return ret;
	}
	e->irq_type = h->irq_type;
	e->intx_masked = h->intx_masked;
	e->intx_asserted = h->intx_asserted;
	e->told_blocked_eventfd = h->told_blocked_eventfd;
	m = &e->model;
	edu_model_init(m, &emu_model_ops, e);
	memcpy(m->config, h->config, sizeof(m->config));
	m->liveness = h->liveness;
	m->fact = h->fact;
	m->status = h->status;
	m->irq_status = h->irq_status;
	m->irq_vector = h->irq_vector;
	m->dma_src = h->dma_src;
	m->dma_dst = h->dma_dst;
	m->dma_count = h->dma_count;
	m->dma_cmd = h->dma_cmd;
	m->dma_pending = false;
	memcpy(m->dma_buf, h->dma_buf, sizeof(m->dma_buf));
	memcpy(m->msix_table, h->msix_table, sizeof(m->msix_table));
	m->msix_pba = h->msix_pba;
	*out = &e->base;
	return 0;
}

static const struct backend_ops emulated_ops = {
	.destroy = emu_destroy,
	.device_info = emu_device_info,
	.region_info = emu_region_info,
	.region_read = emu_region_read,
	.region_write = emu_region_write,
	.irq_info = emu_irq_info,
	.set_irqs = emu_set_irqs,
	.reset = emu_reset,
	.quiesce = emu_quiesce,
	.client_gone = emu_client_gone,
	.handover_save = emu_handover_save,
	.resumed = emu_resumed,
};

/* The anonymous inode eventfds live on, for is_eventfd() without /proc. */
static void probe_anon_inode(struct emulated *e)
{
	struct stat st;
	int probe = eventfd(0, EFD_CLOEXEC);

	if (probe >= 0 && fstat(probe, &st) == 0) {
		e->anon_dev = st.st_dev;
		e->anon_ino = st.st_ino;
	}
	if (probe >= 0)
		close(probe);
}

int emulated_backend_create(const char *model, struct device_backend **out)
{
	struct emulated *e;
	int ret;

	if (strcmp(model, "edu") != 0)
		return -ENODEV;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->base.ops = &emulated_ops;
	e->base.name = "emulated edu device (1234:11e8)";
	e->base.stateful = true;
	e->ram_fd = -1;
	e->intx_unmask_fd = -1;
	e->irq_type = EMU_IRQ_NONE;
	for (uint32_t i = 0; i < EMU_NUM_IRQS; i++)
		for (uint32_t v = 0; v < EMU_MAX_VECTORS; v++)
			e->trigger[i][v] = -1;
	ret = new_ram(e);
	if (ret) {
		free(e);
		return ret;
	}
	probe_anon_inode(e);
	edu_model_init(&e->model, &emu_model_ops, e);
	*out = &e->base;
	return 0;
}
