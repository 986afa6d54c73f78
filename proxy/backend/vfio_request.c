/* vfio_request.c: the VFIO backend's device request channel: our eventfd on VFIO_PCI_REQ_IRQ_INDEX, the client's REQ kept in the proxy, and giving the device back when the kernel asks (an unbind from vfio-pci). */
#include "backend/vfio_device.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/bounded_io.h"
#include "util/eventfd_check.h"
#include "util/fd.h"
#include "util/log.h"

/*
 * vfio-pci's REQ index: one trigger per device (not per file), signalled by the kernel's request op when
 * vfio_unregister_group_dev() waits for the device's files to close (at once, then every 10 s), and
 * dropped when the device's last file closes. A trigger the client registered would replace ours, so
 * the client's REQ never reaches the kernel: it is kept here and signalled when the kernel asks.
 */

static int register_ours(struct vfio_dev *d)
{
	int32_t fd = d->req_fd;

	return vfio_irqs_raw(d, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_REQ_IRQ_INDEX, 0, 1,
			     &fd, sizeof(fd));
}

void vfio_request_init(struct vfio_dev *d)
{
	const struct vfio_irq *irq = &d->irqs[VFIO_PCI_REQ_IRQ_INDEX];
	int ret;

	if (d->num_irqs <= VFIO_PCI_REQ_IRQ_INDEX || irq->count == 0 || !(irq->flags & VFIO_IRQ_INFO_EVENTFD)) {
		log_info("%s has no device request channel: unbinding it from vfio-pci waits until the proxy stops",
			 d->target.bdf);
		return;
	}
	d->req_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ret = d->req_fd < 0 ? -errno : register_ours(d);
	if (ret) {
		log_warn("cannot register a device request channel for %s: %s; unbinding it from vfio-pci waits until "
			 "the proxy stops",
			 d->target.bdf, strerror(-ret));
		close_fd(&d->req_fd);
		return;
	}
	d->base.event_fd = d->req_fd;
	log_debug("%s: device request channel registered (eventfd %d)", d->target.bdf, d->req_fd);
}

void vfio_request_rearm(struct vfio_dev *d)
{
	int ret;

	if (d->req_fd < 0)
		return;
	ret = register_ours(d);
	if (ret)
		log_warn("cannot register the device request channel of %s again: %s; unbinding it from vfio-pci "
			 "waits until the proxy stops",
			 d->target.bdf, strerror(-ret));
}

bool vfio_request_virtual(const struct vfio_dev *d, uint32_t index)
{
	return index == VFIO_PCI_REQ_IRQ_INDEX && d->req_fd >= 0;
}

static bool is_eventfd(const struct vfio_dev *d, int fd)
{
	struct stat ours;
	bool no_proc;

	return fstat(d->req_fd, &ours) == 0 && fd_is_eventfd(fd, ours.st_dev, ours.st_ino, &no_proc);
}

/* The client shares its eventfd with us and decides whether it blocks: the write is bounded. */
static void signal_client(struct vfio_dev *d)
{
	uint64_t one = 1;
	ssize_t n;

	if (d->req_client_fd < 0)
		return;
	n = bounded_write(d->req_client_fd, &one, sizeof(one), BOUNDED_IO_TIMEOUT_MS);
	if (n != sizeof(one))
		log_warn("the client's device request eventfd was not signalled: %s",
			 strerror(n < 0 ? (int)-n : EIO));
}

/* vfio_pci_set_req_trigger() and vfio_pci_set_ctx_trigger_single(), on the client's eventfd. */
int vfio_request_set(struct vfio_dev *d, uint32_t flags, uint32_t start, uint32_t count, const uint8_t *bools,
		     int *fds)
{
	uint32_t data = flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	int fd = data == VFIO_IRQ_SET_DATA_EVENTFD && fds && count ? fds[0] : -1;

	if ((flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) != VFIO_IRQ_SET_ACTION_TRIGGER) {
		close_fd(&fd);
		return -ENOTTY; /* vfio-pci has no mask or unmask on REQ */
	}
	if (start != 0 || count > 1) {
		close_fd(&fd);
		return -EINVAL;
	}
	switch (data) {
	case VFIO_IRQ_SET_DATA_NONE:
		if (d->req_client_fd < 0)
			return -EINVAL;
		if (count)
			signal_client(d); /* loopback, as the kernel allows */
		else
			close_fd(&d->req_client_fd);
		return 0;
	case VFIO_IRQ_SET_DATA_BOOL:
		if (!count)
			return -EINVAL;
		if (bools[0])
			signal_client(d);
		return 0;
	case VFIO_IRQ_SET_DATA_EVENTFD:
		if (!count)
			return -EINVAL;
		if (fd >= 0 && !is_eventfd(d, fd)) {
			close_fd(&fd);
			return -EINVAL;
		}
		close_fd(&d->req_client_fd);
		d->req_client_fd = fd; /* -1: de-assigned */
		return 0;
	default:
		return -EINVAL;
	}
}

void vfio_request_drop_client(struct vfio_dev *d)
{
	close_fd(&d->req_client_fd);
}

bool vfio_request_take(struct vfio_dev *d)
{
	uint64_t count;

	if (d->asked_back)
		return true;
	/* our own eventfd, non-blocking: a plain read */
	if (d->req_fd < 0 || read(d->req_fd, &count, sizeof(count)) != sizeof(count))
		return false;
	d->asked_back = true;
	log_warn("the kernel asks for %s back (%s): stopping", d->target.bdf,
		 d->target.mdev ? "the mdev is being removed" : "it is being unbound from vfio-pci");
	signal_client(d);
	return true;
}

int vfio_request_event(struct device_backend *b)
{
	return vfio_request_take(to_vdev(b)) ? BACKEND_STOP : 0;
}

void vfio_request_fini(struct vfio_dev *d)
{
	close_fd(&d->req_client_fd);
	close_fd(&d->req_fd);
	d->base.event_fd = -1;
}
