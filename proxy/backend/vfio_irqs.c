/* vfio_irqs.c: the VFIO backend's interrupts: IRQ info, and SET_IRQS handed to the kernel with the client's eventfds, so interrupts go kernel to VMM (REQ excepted: vfio_request.c). */
#include "backend/vfio_device.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/fd.h"
#include "util/log.h"

#define SET_IRQS_STACK_FDS 64u

static const char *const index_names[] = { "INTx", "MSI", "MSI-X", "ERR", "REQ" };

static const char *index_name(uint32_t index)
{
	return index < sizeof(index_names) / sizeof(index_names[0]) ? index_names[index] : "IRQ index";
}

static void close_fds(int *fds, uint32_t n)
{
	for (uint32_t i = 0; fds && i < n; i++)
		close_fd(&fds[i]);
}

int vfio_irqs_raw(struct vfio_dev *d, uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
		  const void *data, size_t data_len)
{
	union {
		struct vfio_irq_set set;
		uint8_t buf[sizeof(struct vfio_irq_set) + SET_IRQS_STACK_FDS * sizeof(int32_t)];
	} local;
	size_t len = sizeof(struct vfio_irq_set) + data_len;
	struct vfio_irq_set *s = len <= sizeof(local) ? &local.set : malloc(len);
	int ret;

	if (!s)
		return -ENOMEM;
	s->argsz = (uint32_t)len;
	s->flags = flags;
	s->index = index;
	s->start = start;
	s->count = count;
	if (data_len)
		memcpy(s->data, data, data_len);
	ret = ioctl(d->fd, VFIO_DEVICE_SET_IRQS, s) ? -errno : 0;
	if (s != &local.set)
		free(s);
	return ret;
}

/* The eventfd array as the kernel takes it: the client's fds, or -1 each to de-assign. */
static int32_t *eventfd_array(const int *fds, uint32_t count)
{
	int32_t *a = malloc((count ? count : 1) * sizeof(*a));

	for (uint32_t i = 0; a && i < count; i++)
		a[i] = fds ? fds[i] : -1;
	return a;
}

static int set_eventfds(struct vfio_dev *d, uint32_t action, uint32_t index, uint32_t start, uint32_t count,
			const int32_t *a)
{
	return vfio_irqs_raw(d, VFIO_IRQ_SET_DATA_EVENTFD | action, index, start, count, a, count * sizeof(*a));
}

static int disable_index(struct vfio_dev *d, uint32_t index)
{
	return vfio_irqs_raw(d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0, NULL, 0);
}

static void forget_vectors(struct vfio_irq *irq)
{
	close_fds(irq->fds, irq->count);
	irq->enabled = 0;
}

/*
 * MSI/MSI-X triggers where the kernel cannot resize an enabled block (VFIO_IRQ_INFO_NORESIZE). The kernel
 * enables start + count vectors when the index is off and afterwards only accepts vectors inside that
 * block. A client whose eventfd array arrives in chunks (QEMU splits it by max_msg_fds and by runs of
 * assigned/unassigned vectors) asks for vectors past it: disable the index and enable it again with
 * every vector so far, from the eventfds we kept, as QEMU itself does with the kernel when it grows.
 */
static int set_tracked(struct vfio_dev *d, uint32_t index, uint32_t start, uint32_t count, int *fds)
{
	struct vfio_irq *irq = &d->irqs[index];
	uint32_t end = start + count, old = irq->enabled;
	int32_t *a;
	int ret;

	if (old == 0 || end <= old) {
		a = eventfd_array(fds, count);
		ret = a ? set_eventfds(d, VFIO_IRQ_SET_ACTION_TRIGGER, index, start, count, a) : -ENOMEM;
		free(a);
		if (ret) {
			close_fds(fds, count);
			/* the kernel undoes a failed block: those vectors have no trigger now */
			if (old)
				close_fds(irq->fds + start, count);
			return ret;
		}
		for (uint32_t i = 0; i < count; i++) {
			close_fd(&irq->fds[start + i]);
			irq->fds[start + i] = fds ? fds[i] : -1;
		}
		if (old == 0)
			irq->enabled = end;
		return 0;
	}

	a = malloc(end * sizeof(*a));
	if (!a) {
		close_fds(fds, count);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < end; i++)
		a[i] = i < start ? irq->fds[i] : (fds ? fds[i - start] : -1);
	ret = disable_index(d, index);
	if (ret) {
		/* nothing changed in the kernel */
		free(a);
		close_fds(fds, count);
		return ret;
	}
	ret = set_eventfds(d, VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, end, a);
	free(a);
	if (ret) {
		/* the kernel left the index off: put back the block it had */
		close_fds(fds, count);
		log_warn("%s of %s: cannot enable vectors 0-%u (%s); restoring the %u it had", index_name(index),
			 d->target.bdf, end - 1, strerror(-ret), old);
		a = eventfd_array(irq->fds, old);
		if (!a || set_eventfds(d, VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, old, a)) {
			log_warn("%s of %s left disabled", index_name(index), d->target.bdf);
			forget_vectors(irq);
		}
		free(a);
		return ret;
	}
	for (uint32_t i = start; i < end; i++) {
		close_fd(&irq->fds[i]);
		irq->fds[i] = fds ? fds[i - start] : -1;
	}
	irq->enabled = end;
	log_debug("%s of %s enabled again with %u vectors (had %u)", index_name(index), d->target.bdf, end, old);
	return 0;
}

int vfio_irqs_set(struct device_backend *b, uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
		  const uint8_t *bools, int *fds)
{
	struct vfio_dev *d = to_vdev(b);
	struct vfio_irq *irq = &d->irqs[index];
	uint32_t data = flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	uint32_t action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	bool msi = index == VFIO_PCI_MSI_IRQ_INDEX || index == VFIO_PCI_MSIX_IRQ_INDEX;
	int32_t *a;
	int ret;

	if (vfio_request_virtual(d, index))
		return vfio_request_set(d, flags, start, count, bools, fds); /* ours stays the kernel's */
	if (data == VFIO_IRQ_SET_DATA_EVENTFD) {
		if (irq->fds && action == VFIO_IRQ_SET_ACTION_TRIGGER)
			return set_tracked(d, index, start, count, fds);
		a = eventfd_array(fds, count);
		ret = a ? set_eventfds(d, action, index, start, count, a) : -ENOMEM;
		free(a);
		/* The kernel holds its own references now: ours go, on success and failure alike. */
		close_fds(fds, count);
		if (!ret && msi && action == VFIO_IRQ_SET_ACTION_TRIGGER && irq->enabled == 0)
			irq->enabled = start + count;
		return ret;
	}
	ret = vfio_irqs_raw(d, flags, index, start, count, bools, data == VFIO_IRQ_SET_DATA_BOOL ? count : 0);
	if (!ret && data == VFIO_IRQ_SET_DATA_NONE && action == VFIO_IRQ_SET_ACTION_TRIGGER && count == 0)
		forget_vectors(irq); /* the index is off */
	return ret;
}

void vfio_irqs_disable_all(struct vfio_dev *d)
{
	for (uint32_t i = 0; i < d->num_irqs; i++) {
		int ret;

		if (d->irqs[i].count == 0)
			continue; /* the kernel refuses any SET_IRQS on an index it does not have */
		if (vfio_request_virtual(d, i)) {
			vfio_request_drop_client(d); /* the kernel keeps ours */
			continue;
		}
		ret = disable_index(d, i);
		/* an index that was never on answers EINVAL: nothing to do */
		if (ret && ret != -EINVAL)
			log_warn("cannot disable %s of %s: %s", index_name(i), d->target.bdf, strerror(-ret));
		forget_vectors(&d->irqs[i]);
	}
}

int vfio_irqs_init(struct vfio_dev *d)
{
	for (uint32_t i = 0; i < d->num_irqs; i++) {
		struct vfio_irq_info info = { .argsz = sizeof(info), .index = i };
		struct vfio_irq *irq = &d->irqs[i];

		if (ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &info)) {
			int ret = -errno;

			if (ret == -EINVAL) {
				/* vfio-pci's answer for an index the device lacks (ERR on conventional PCI) */
				irq->flags = 0;
				irq->count = 0;
				continue;
			}
			log_error("VFIO_DEVICE_GET_IRQ_INFO for %s of %s failed: %s", index_name(i), d->target.bdf,
				  strerror(-ret));
			return ret;
		}
		irq->flags = info.flags;
		irq->count = info.count;
		if ((i == VFIO_PCI_MSI_IRQ_INDEX || i == VFIO_PCI_MSIX_IRQ_INDEX) &&
		    (info.flags & VFIO_IRQ_INFO_NORESIZE) && info.count > 0) {
			irq->fds = malloc(info.count * sizeof(int));
			if (!irq->fds)
				return -ENOMEM;
			for (uint32_t v = 0; v < info.count; v++)
				irq->fds[v] = -1;
		}
	}
	return 0;
}

void vfio_irqs_fini(struct vfio_dev *d)
{
	for (uint32_t i = 0; i < BACKEND_MAX_IRQS; i++) {
		forget_vectors(&d->irqs[i]);
		free(d->irqs[i].fds);
		d->irqs[i].fds = NULL;
	}
}
