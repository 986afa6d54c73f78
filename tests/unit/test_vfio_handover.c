/* test_vfio_handover.c: the VFIO backend's hand-over against the fake kernel: saved, encoded, decoded and resumed (legacy and iommufd) with nothing reset, disabled or mapped again, and a state that does not fit refused with its files untouched. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/dma_window.h"
#include "backend/vfio_device.h"
#include "util/bounded_io.h"
#include "util/handover_state.h"
#include "fake_vfio.h"

static struct vfio_backend_options options(enum vfio_iommu_kind kind)
{
	static char sysfs[PATH_MAX + 8], dev[PATH_MAX + 8];

	snprintf(sysfs, sizeof(sysfs), "%s/sys", fk.root);
	snprintf(dev, sizeof(dev), "%s/dev", fk.root);
	return (struct vfio_backend_options){ .device = BDF, .iommu = kind, .sysfs_root = sysfs, .dev_root = dev };
}

/* An fd for the server record's listening socket, which these tests do not serve (kept open until exit). */
static int listen_stand_in(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = open_eventfd();
	return fd;
}

/* The backend's state through the real codec, as the successor reads it. */
static void save_and_decode(struct device_backend *b, struct ho_state *out)
{
	struct ho_state st;
	uint8_t *buf;
	size_t len;
	char why[160];

	ho_state_init(&st);
	st.server.send_timeout_ms = 5000;
	st.server.listen_fd = ho_state_add_fd(&st, listen_stand_in()); /* the server's part: not ours here */
	assert_int_equal(b->ops->handover_save(b, &st), 0);
	assert_true(st.have_vfio);
	assert_int_equal(ho_encode(&st, &buf, &len), 0);
	ho_state_free(&st);
	assert_int_equal(ho_decode(buf, len, out, why, sizeof(why)), 0);
	free(buf);
	/* the successor's own numbers for the same files, as the privileged helper hands them over */
	for (uint32_t i = 0; i < out->nfds; i++) {
		out->fds[i] = dup(out->fds[i]);
		assert_true(out->fds[i] >= 0);
	}
}

/* The predecessor goes as _exit takes it: its copies closed, nothing said to the device. */
static void predecessor_exits(struct fixture *f, struct device_backend *b2)
{
	struct vfio_dev *d = to_vdev(f->b);

	close(d->fd);
	d->fd = -1;
	f->b->ops->destroy(f->b);
	f->b = b2;
}

/* The state's fd index of MSI-X vector n's kept eventfd (the kept fds go index by index). */
static uint32_t msix_fd(const struct ho_state *st, uint32_t n)
{
	uint32_t at = 0;

	for (uint32_t i = 0; i < VFIO_PCI_MSIX_IRQ_INDEX; i++)
		at += st->vfio.irqs[i].nfds;
	assert_true(n < st->vfio.irqs[VFIO_PCI_MSIX_IRQ_INDEX].nfds);
	assert_int_not_equal(st->vfio.irq_fds[at + n], HO_NONE);
	return st->vfio.irq_fds[at + n];
}

static void close_state_fds(struct ho_state *st)
{
	for (uint32_t i = 0; i < st->nfds; i++)
		close(st->fds[i]);
}

/* 20 MSI-X vectors on fresh eventfds (the backend owns them from the call on). */
static void enable_msix(struct device_backend *b)
{
	int e[20];

	for (int i = 0; i < 20; i++)
		e[i] = open_eventfd();
	assert_int_equal(b->ops->set_irqs(b, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
					  VFIO_PCI_MSIX_IRQ_INDEX, 0, 20, NULL, e),
			 0);
	assert_int_equal(fk.num_ctx, 20);
}

static void resume_keeps_everything(struct fixture *f, enum vfio_iommu_kind kind)
{
	struct vfio_backend_options o = options(kind);
	struct device_backend *b2;
	struct ho_state st;
	struct dma_window w;
	unsigned int calls, maps, unmaps, resets, binds;
	void *mem;

	enable_msix(f->b);
	w = map_anon_window(f->b, &mem);
	calls = fk.ncalls;
	maps = fk.map_calls;
	unmaps = fk.unmap_calls;
	resets = fk.resets;
	binds = fk.binds;
	save_and_decode(f->b, &st);
	assert_int_equal(st.vfio.iommu, kind == VFIO_IOMMU_KIND_IOMMUFD ? HO_VFIO_IOMMUFD : HO_VFIO_LEGACY);
	assert_int_equal(st.vfio.irqs[VFIO_PCI_MSIX_IRQ_INDEX].enabled, 20);

	assert_int_equal(vfio_backend_resume(&o, &st, &b2), 0);
	/* the device as it was: no SET_IRQS, no map, unmap, reset or bind on the way */
	assert_int_equal(fk.ncalls, calls);
	assert_int_equal(fk.map_calls, maps);
	assert_int_equal(fk.unmap_calls, unmaps);
	assert_int_equal(fk.resets, resets);
	assert_int_equal(fk.binds, binds);
	assert_int_equal(fk.num_ctx, 20);
	assert_int_equal(fk.nmaps, 1);
	assert_int_equal(fk.irq_type, VFIO_PCI_MSIX_IRQ_INDEX);
	assert_true(fake_req_is(b2->event_fd)); /* our request channel, still the kernel's */
	assert_int_equal(b2->pgsizes, f->b->pgsizes);
	predecessor_exits(f, b2);
	assert_int_equal(fk.ncalls, calls);
	assert_int_equal(fk.num_ctx, 20);

	/* the successor's backend serves the client's next requests: it unmaps the window it never mapped */
	b2->ops->dma_unmap(b2, &w);
	assert_int_equal(fk.nmaps, 0);
	assert_int_equal(fk.unmap_calls, unmaps + 1);
	munmap(mem, 0x4000);
	close(st.fds[st.server.listen_fd]); /* the server's, not the backend's */
	ho_state_free(&st); /* the rest are b2's, closed by the teardown's destroy */
}

static void test_resume_legacy(void **state)
{
	struct fixture *f = *state;

	create_ok(f, false);
	resume_keeps_everything(f, VFIO_IOMMU_KIND_LEGACY);
}

static void test_resume_iommufd(void **state)
{
	struct fixture *f = *state;

	create_iommufd(f, VFIO_IOMMU_KIND_IOMMUFD);
	resume_keeps_everything(f, VFIO_IOMMU_KIND_IOMMUFD);
}

/* A state the device or the command line does not match is refused, and nothing of it is closed or changed. */
static void refused_untouched(struct ho_state *st, const struct vfio_backend_options *o)
{
	struct device_backend *b2 = NULL;
	unsigned int calls = fk.ncalls, nmaps = fk.nmaps, ctx = fk.num_ctx;

	assert_int_not_equal(vfio_backend_resume(o, st, &b2), 0);
	assert_null(b2);
	for (uint32_t i = 0; i < st->nfds; i++)
		assert_true(fd_open(st->fds[i]));
	assert_int_equal(fk.ncalls, calls);
	assert_int_equal(fk.nmaps, nmaps);
	assert_int_equal(fk.num_ctx, ctx);
}

static void test_refused(void **state)
{
	struct fixture *f = *state;
	struct vfio_backend_options legacy = options(VFIO_IOMMU_KIND_LEGACY), fd = options(VFIO_IOMMU_KIND_IOMMUFD);
	struct device_backend *b = create_ok(f, false);
	struct ho_state st;
	int32_t saved;
	uint32_t n;

	enable_msix(b);
	save_and_decode(b, &st);

	/* the command line asks for the other IOMMU path */
	refused_untouched(&st, &fd);
	/* the group fd is not the group's */
	saved = st.fds[st.vfio.group_fd];
	st.fds[st.vfio.group_fd] = st.fds[st.vfio.container_fd];
	refused_untouched(&st, &legacy);
	st.fds[st.vfio.group_fd] = saved;
	/* the device fd is not a device */
	saved = st.fds[st.vfio.device_fd];
	st.fds[st.vfio.device_fd] = st.fds[msix_fd(&st, 0)];
	refused_untouched(&st, &legacy);
	st.fds[st.vfio.device_fd] = saved;
	/* an interrupt "eventfd" that is the group */
	saved = st.fds[msix_fd(&st, 3)];
	st.fds[msix_fd(&st, 3)] = st.fds[st.vfio.group_fd];
	refused_untouched(&st, &legacy);
	st.fds[msix_fd(&st, 3)] = saved;
	/* more vectors enabled than the device has */
	n = st.vfio.irqs[VFIO_PCI_MSIX_IRQ_INDEX].enabled;
	st.vfio.irqs[VFIO_PCI_MSIX_IRQ_INDEX].enabled = fk.irq_count[VFIO_PCI_MSIX_IRQ_INDEX] + 1;
	refused_untouched(&st, &legacy);
	st.vfio.irqs[VFIO_PCI_MSIX_IRQ_INDEX].enabled = n;
	/* a state without a VFIO device (an emulate state) */
	st.have_vfio = false;
	refused_untouched(&st, &legacy);
	st.have_vfio = true;
	close_state_fds(&st);
	ho_state_free(&st);
}

/* The record's own checks (ho_decode): files that do not match the path, counts that do not add up. */
static void test_record_checks(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	struct ho_state st;
	uint8_t *buf;
	size_t len;

	enable_msix(b);
	ho_state_init(&st);
	st.server.send_timeout_ms = 5000;
	st.server.listen_fd = ho_state_add_fd(&st, listen_stand_in());
	assert_int_equal(b->ops->handover_save(b, &st), 0);
	st.vfio.iommu = HO_VFIO_IOMMUFD; /* but a container and a group, no iommufd */
	assert_int_equal(ho_encode(&st, &buf, &len), -EINVAL);
	st.vfio.iommu = HO_VFIO_LEGACY;
	st.vfio.irqs[VFIO_PCI_MSIX_IRQ_INDEX].nfds--;
	assert_int_equal(ho_encode(&st, &buf, &len), -EINVAL);
	st.vfio.irqs[VFIO_PCI_MSIX_IRQ_INDEX].nfds++;
	st.have_emulated = true; /* two devices */
	assert_int_equal(ho_encode(&st, &buf, &len), -EINVAL);
	st.have_emulated = false;
	assert_int_equal(ho_encode(&st, &buf, &len), 0);
	free(buf);
	ho_state_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resume_legacy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_iommufd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_checks, setup, teardown),
	};

	if (bounded_io_init() || listen_stand_in() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
