/* vfio_handover.c: the VFIO backend across a hand-over: its files and kept interrupt eventfds into the state, and the successor's backend rebuilt from them with nothing reset or mapped again. */
#include "backend/vfio_device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/eventfd_check.h"
#include "util/handover_state.h"
#include "util/log.h"

/* An fd into the state's table (HO_NONE for -1): 0, or -ENOMEM when the table is full. */
static int add(struct ho_state *st, int fd, uint32_t *idx)
{
	*idx = HO_NONE;
	if (fd < 0)
		return 0;
	*idx = ho_state_add_fd(st, fd);
	return *idx == HO_NONE ? -ENOMEM : 0;
}

static int save_irqs(struct vfio_dev *d, struct ho_state *st)
{
	struct ho_vfio *v = &st->vfio;
	uint32_t total = 0, at = 0;
	uint32_t *idx;
	int ret = 0;

	v->nirqs = d->num_irqs;
	for (uint32_t i = 0; i < d->num_irqs; i++) {
		const struct vfio_irq *irq = &d->irqs[i];

		v->irqs[i].enabled = irq->enabled;
		v->irqs[i].nfds = irq->fds ? irq->count : 0;
		total += v->irqs[i].nfds;
	}
	if (total > HO_VFIO_MAX_IRQ_FDS)
		return -E2BIG;
	idx = malloc((total ? total : 1) * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (uint32_t i = 0; i < d->num_irqs && !ret; i++)
		for (uint32_t n = 0; n < v->irqs[i].nfds && !ret; n++)
			ret = add(st, d->irqs[i].fds[n], &idx[at++]);
	if (!ret)
		ret = ho_state_set_irq_fds(st, idx, total);
	free(idx);
	return ret;
}

int vfio_handover_save(struct device_backend *b, struct ho_state *st)
{
	struct vfio_dev *d = to_vdev(b);
	struct ho_vfio *v = &st->vfio;
	struct vfio_iommu_handle h;
	int ret;

	d->iommu->ops->handle(d->iommu, &h);
	st->have_vfio = true;
	v->iommu = d->iommu_kind == VFIO_IOMMU_KIND_IOMMUFD ? HO_VFIO_IOMMUFD : HO_VFIO_LEGACY;
	v->ioas_id = h.ioas_id;
	v->dev_id = h.dev_id;
	v->fd_lent = d->fd_lent;
	v->asked_back = d->asked_back;
	v->told_rom_window = d->told_rom_window;
	v->told_fdless_window = d->told_fdless_window;
	v->told_memlock = d->told_memlock;
	if ((ret = add(st, d->fd, &v->device_fd)) || (ret = add(st, h.container_fd, &v->container_fd)) ||
	    (ret = add(st, h.group_fd, &v->group_fd)) || (ret = add(st, h.iommufd, &v->iommufd)) ||
	    (ret = add(st, d->req_fd, &v->req_fd)) || (ret = add(st, d->req_client_fd, &v->req_client_fd)))
		return ret;
	return save_irqs(d, st);
}

/* ---- the successor ---- */

static int state_fd(const struct ho_state *st, uint32_t idx)
{
	return idx == HO_NONE ? -1 : st->fds[idx];
}

/* Whether fd is an eventfd (or -1, none); anon describes the anonymous inode eventfds live on. */
static bool eventfd_or_none(int fd, const struct stat *anon)
{
	bool no_proc = false;

	return fd < 0 || fd_is_eventfd(fd, anon->st_dev, anon->st_ino, &no_proc);
}

/* The kept MSI/MSI-X triggers, checked against the device's own IRQ info (read again, not the state's). */
static int adopt_irqs(struct vfio_dev *d, const struct ho_state *st, const struct stat *anon)
{
	const struct ho_vfio *v = &st->vfio;
	uint32_t at = 0;

	if (v->nirqs != d->num_irqs) {
		log_error("hand-over: the state has %u IRQ indexes, %s has %u", v->nirqs, d->target.bdf, d->num_irqs);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < d->num_irqs; i++) {
		struct vfio_irq *irq = &d->irqs[i];
		uint32_t kept = irq->fds ? irq->count : 0;

		if (v->irqs[i].nfds != kept || v->irqs[i].enabled > irq->count) {
			log_error("hand-over: IRQ index %u of %s: the state has %u vectors enabled and %u eventfds kept, "
				  "the device has %u vectors",
				  i, d->target.bdf, v->irqs[i].enabled, v->irqs[i].nfds, irq->count);
			return -EINVAL;
		}
		for (uint32_t n = 0; n < kept; n++) {
			int fd = state_fd(st, v->irq_fds[at++]);

			if (!eventfd_or_none(fd, anon)) {
				log_error("hand-over: fd %d (IRQ index %u vector %u) is not an eventfd", fd, i, n);
				return -EINVAL;
			}
		}
	}
	/* all checked: only now do the slots take the fds */
	at = 0;
	for (uint32_t i = 0; i < d->num_irqs; i++) {
		d->irqs[i].enabled = v->irqs[i].enabled;
		for (uint32_t n = 0; n < v->irqs[i].nfds; n++)
			d->irqs[i].fds[n] = state_fd(st, v->irq_fds[at++]);
	}
	return 0;
}

/* Every slot that holds a file of the state's goes back to -1: a refusing successor closes none of them. */
static void disown(struct vfio_dev *d)
{
	d->fd = -1;
	d->req_fd = -1;
	d->req_client_fd = -1;
	d->base.event_fd = -1;
	for (uint32_t i = 0; i < BACKEND_MAX_IRQS; i++) {
		d->irqs[i].enabled = 0;
		for (uint32_t n = 0; d->irqs[i].fds && n < d->irqs[i].count; n++)
			d->irqs[i].fds[n] = -1;
	}
	if (d->iommu)
		d->iommu->ops->disown(d->iommu);
	d->iommu = NULL;
}

static int anon_inode(struct stat *anon)
{
	int fd = eventfd(0, EFD_CLOEXEC), ret = 0;

	if (fd < 0 || fstat(fd, anon))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	return ret;
}

static int adopt(struct vfio_dev *d, const struct ho_state *st)
{
	const struct ho_vfio *v = &st->vfio;
	struct vfio_iommu_handle h = {
		.container_fd = state_fd(st, v->container_fd),
		.group_fd = state_fd(st, v->group_fd),
		.iommufd = state_fd(st, v->iommufd),
		.ioas_id = v->ioas_id,
		.dev_id = v->dev_id,
	};
	int device_fd = state_fd(st, v->device_fd), req = state_fd(st, v->req_fd);
	int req_client = state_fd(st, v->req_client_fd);
	struct stat anon;
	int ret;

	ret = anon_inode(&anon);
	if (ret)
		return ret;
	if (d->iommu_kind == VFIO_IOMMU_KIND_IOMMUFD) {
		if (!vfio_fd_is_node(device_fd, d->target.cdev_path)) {
			log_error("hand-over: fd %d is not %s's VFIO cdev %s", device_fd, d->target.bdf,
				  d->target.cdev_path[0] ? d->target.cdev_path : "(none in sysfs)");
			return -EINVAL;
		}
		ret = vfio_iommufd_adopt(&d->target, &h, &d->iommu);
	} else {
		ret = vfio_container_adopt(&d->target, &h, &d->iommu);
	}
	if (ret)
		return ret;
	d->fd = device_fd;
	ret = vfio_dev_read(d); /* VFIO_DEVICE_GET_INFO: also the proof that fd is a VFIO device */
	if (ret)
		return ret;
	if (!eventfd_or_none(req, &anon) || !eventfd_or_none(req_client, &anon)) {
		log_error("hand-over: the device request fds %d and %d are not eventfds", req, req_client);
		return -EINVAL;
	}
	ret = adopt_irqs(d, st, &anon);
	if (ret)
		return ret;
	d->req_fd = req;
	d->base.event_fd = req;
	d->req_client_fd = req_client;
	d->fd_lent = v->fd_lent;
	d->asked_back = v->asked_back;
	d->told_rom_window = v->told_rom_window;
	d->told_fdless_window = v->told_fdless_window;
	d->told_memlock = v->told_memlock;
	d->base.pgsizes = d->iommu->pgsizes;
	return 0;
}

int vfio_backend_resume(const struct vfio_backend_options *opts, const struct ho_state *st,
			struct device_backend **out)
{
	enum vfio_iommu_kind kind;
	struct vfio_dev *d;
	int ret;

	if (!st->have_vfio) {
		log_error("hand-over: the state holds no VFIO device (it comes from another command than export)");
		return -EINVAL;
	}
	kind = st->vfio.iommu == HO_VFIO_IOMMUFD ? VFIO_IOMMU_KIND_IOMMUFD : VFIO_IOMMU_KIND_LEGACY;
	if (opts->iommu != VFIO_IOMMU_KIND_AUTO && opts->iommu != kind) {
		log_error("hand-over: the state's device is on the %s path, the command line asks for the other",
			  kind == VFIO_IOMMU_KIND_IOMMUFD ? "iommufd" : "legacy");
		return -EINVAL;
	}
	ret = vfio_dev_new(opts, &d);
	if (ret)
		return ret;
	vfio_dev_use_iommu(d, kind);
	ret = adopt(d, st);
	if (ret) {
		disown(d);
		vfio_dev_destroy(d);
		return ret;
	}
	/* a predecessor that could not register its request channel: ours now, as at any start */
	if (d->req_fd < 0)
		vfio_request_init(d);
	vfio_dev_announce(d, true);
	*out = &d->base;
	return 0;
}

int vfio_backend_reopen_path(const struct vfio_backend_options *opts, char *buf, size_t len)
{
	char why[VFIO_WHY_MAX];
	struct vfio_dev *d;
	bool iommufd;
	int ret;

	ret = vfio_dev_new(opts, &d);
	if (ret)
		return ret;
	iommufd = opts->iommu == VFIO_IOMMU_KIND_IOMMUFD ||
		  (opts->iommu == VFIO_IOMMU_KIND_AUTO && !vfio_iommufd_available(&d->target, why, sizeof(why)));
	ret = snprintf(buf, len, "%s", iommufd ? d->target.cdev_path : "") < (int)len ? 0 : -ENAMETOOLONG;
	free(d);
	return ret;
}
