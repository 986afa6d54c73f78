/* test_vfio_request.c: the VFIO backend's device request channel: the proxy's own REQ eventfd registered at create and kept across clients and reopens (legacy and iommufd), the client's REQ kept in the proxy, and an unbind's request stopping the server (with or without a client, under seccomp), a device without REQ as before. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "client/client.h"
#include "fake_vfio.h"
#include "server/server.h"
#include "util/bounded_io.h"

#define TRIG_EVENTFD (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define TRIG_NONE (VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER)
#define TRIG_BOOL (VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER)
#define STOP_MS 5000

/* The eventfd's count, read without blocking (0 when nothing was signalled). */
static uint64_t take_count(int e)
{
	uint64_t v = 0;

	return read(e, &v, sizeof(v)) == sizeof(v) ? v : 0;
}

/* The proxy's REQ eventfd is what the kernel holds, and the backend's event fd is that eventfd (it reads
 * that eventfd: never while a server polls it). */
static void assert_ours_registered(struct device_backend *b)
{
	assert_non_null(b->ops->event);
	assert_true(b->event_fd >= 0);
	assert_true(fd_open(fk.req_ctx));
	assert_true(fake_req_is(b->event_fd));
}

static void assert_socket_gone(const struct served *sv)
{
	assert_int_equal(access(sv->sock, F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

/* ---- registration ---- */

static void test_registered_at_create(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	struct vfio_user_irq_info irq = { .index = VFIO_PCI_REQ_IRQ_INDEX };

	assert_ours_registered(b);
	/* nothing asked yet: the event is spurious and serving goes on */
	assert_int_equal(b->ops->event(b), 0);
	/* the client sees REQ as the kernel reports it */
	assert_int_equal(b->ops->irq_info(b, &irq), 0);
	assert_int_equal(irq.count, 1);
	assert_int_equal(irq.flags, VFIO_IRQ_INFO_EVENTFD);
	/* the kernel asks: the backend gives the device up */
	assert_true(fake_request());
	assert_int_equal(b->ops->event(b), BACKEND_STOP);
}

static void test_registered_at_create_iommufd(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_iommufd(f, VFIO_IOMMU_KIND_IOMMUFD);

	assert_ours_registered(b);
	assert_true(fake_request());
	assert_int_equal(b->ops->event(b), BACKEND_STOP);
}

/* A client that had MSI on and the device fd leaves: its interrupts go, ours stays, across the reopen. */
static void client_with_msi_leaves(struct device_backend *b)
{
	int e = open_eventfd(), mine;

	lend_device_fd(b);
	dup_all(&e, &mine, 1);
	assert_int_equal(b->ops->set_irqs(b, TRIG_EVENTFD, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, &mine), 0);
	assert_int_equal(fk.irq_type, VFIO_PCI_MSI_IRQ_INDEX);
	leave(b, 0);
	assert_int_equal(fk.irq_type, -1);
	close(e);
}

static void test_kept_across_clients_legacy(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	int event_fd = b->event_fd;

	client_with_msi_leaves(b);
	assert_int_equal(fk.unsets, 1); /* the device was opened afresh: the kernel dropped the old trigger */
	assert_ours_registered(b);
	assert_int_equal(b->event_fd, event_fd); /* the server polls one fd for its whole life */
	/* a client without the device fd: nothing reopened, nothing lost */
	leave(b, 0);
	assert_int_equal(fk.unsets, 1);
	assert_ours_registered(b);
	client_with_msi_leaves(b);
	assert_int_equal(fk.unsets, 2);
	assert_ours_registered(b);
	assert_true(fake_request());
	assert_int_equal(b->ops->event(b), BACKEND_STOP);
}

static void test_kept_across_clients_iommufd(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_iommufd(f, VFIO_IOMMU_KIND_IOMMUFD);

	client_with_msi_leaves(b);
	assert_int_equal(fk.binds, 2);
	assert_ours_registered(b);
	leave(b, 0);
	assert_ours_registered(b);
	assert_true(fake_request());
	assert_int_equal(b->ops->event(b), BACKEND_STOP);
}

/* ---- the client's REQ ---- */

static void test_client_req_stays_in_proxy(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	const uint8_t yes = 1, no = 0;
	unsigned int kernel_calls = fk.req_calls;
	int e = open_eventfd(), p[2], mine;

	/* disabling what was never set, as vfio-pci answers */
	assert_int_equal(b->ops->set_irqs(b, TRIG_NONE, VFIO_PCI_REQ_IRQ_INDEX, 0, 0, NULL, NULL), -EINVAL);
	assert_int_equal(b->ops->set_irqs(b, TRIG_NONE, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, NULL, NULL), -EINVAL);
	/* an fd that is not an eventfd is refused, and closed */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	mine = p[0];
	assert_int_equal(b->ops->set_irqs(b, TRIG_EVENTFD, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, NULL, &mine), -EINVAL);
	assert_false(fd_open(p[0]));
	close(p[1]);
	/* REQ has no mask or unmask */
	dup_all(&e, &mine, 1);
	assert_int_equal(b->ops->set_irqs(b, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK,
					  VFIO_PCI_REQ_IRQ_INDEX, 0, 1, NULL, &mine), -ENOTTY);
	assert_false(fd_open(mine));

	/* assigned: kept by the proxy, the kernel still holds ours */
	dup_all(&e, &mine, 1);
	assert_int_equal(b->ops->set_irqs(b, TRIG_EVENTFD, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, NULL, &mine), 0);
	assert_true(fd_open(mine));
	assert_int_equal(fk.req_calls, kernel_calls);
	assert_ours_registered(b);
	/* loopback, as the kernel allows it */
	assert_int_equal(b->ops->set_irqs(b, TRIG_NONE, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, NULL, NULL), 0);
	assert_int_equal(take_count(e), 1);
	assert_int_equal(b->ops->set_irqs(b, TRIG_BOOL, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, &no, NULL), 0);
	assert_int_equal(take_count(e), 0);
	assert_int_equal(b->ops->set_irqs(b, TRIG_BOOL, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, &yes, NULL), 0);
	assert_int_equal(take_count(e), 1);
	/* de-assigned (QEMU's form: no fds) */
	assert_int_equal(b->ops->set_irqs(b, TRIG_EVENTFD, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, NULL, NULL), 0);
	assert_false(fd_open(mine));
	assert_int_equal(b->ops->set_irqs(b, TRIG_NONE, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, NULL, NULL), -EINVAL);
	/* assigned again, then the index disabled */
	dup_all(&e, &mine, 1);
	assert_int_equal(b->ops->set_irqs(b, TRIG_EVENTFD, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, NULL, &mine), 0);
	assert_int_equal(b->ops->set_irqs(b, TRIG_NONE, VFIO_PCI_REQ_IRQ_INDEX, 0, 0, NULL, NULL), 0);
	assert_false(fd_open(mine));

	/* assigned once more: the kernel's request reaches it */
	dup_all(&e, &mine, 1);
	assert_int_equal(b->ops->set_irqs(b, TRIG_EVENTFD, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, NULL, &mine), 0);
	assert_int_equal(fk.req_calls, kernel_calls); /* none of it reached the kernel */
	assert_ours_registered(b);
	assert_true(fake_request());
	assert_int_equal(b->ops->event(b), BACKEND_STOP);
	assert_int_equal(take_count(e), 1);
	/* the client leaves: its eventfd goes, no reopen and no next client */
	lend_device_fd(b);
	leave(b, BACKEND_STOP);
	assert_false(fd_open(mine));
	assert_int_equal(fk.unsets, 0);
	close(e);
}

/* A request that came while the client was leaving: no revoke, the server stops. */
static void test_request_while_client_leaves(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);

	lend_device_fd(b);
	assert_true(fake_request());
	leave(b, BACKEND_STOP);
	assert_int_equal(fk.unsets, 0);
	assert_int_equal(fk.resets, 0);
	assert_false(read_command(lend_device_fd(b)) & PCI_COMMAND_MASTER); /* but quiet */
}

static void *request_later(void *arg)
{
	const struct timespec pause = { .tv_nsec = 200 * 1000000L };

	nanosleep(&pause, NULL);
	fake_request();
	return NULL;
}

/*
 * The departed client still holds the device fd, so the revoke waits for it (up to 2 s) and would end
 * in "still open in another process" (exit 1): an unbind that asks meanwhile stops the proxy instead.
 */
static void test_request_while_revoking(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	int kept = dup(lend_device_fd(b));
	struct timespec t0, t1;
	pthread_t th;
	long ms;

	assert_int_equal(pthread_create(&th, NULL, request_later, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	leave(b, BACKEND_STOP);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(th, NULL);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < 1500); /* it did not wait the revoke out */
	assert_int_equal(fk.requests, 1);
	close(kept);
}

/* ---- through the server ---- */

/* A client with the device fd, MSI-X, a DMA window and its own REQ eventfd, on the real server. */
static void request_ends_session(struct device_backend *b, bool confined)
{
	struct served sv;
	struct vuc *c;
	struct vuc_server_caps caps;
	struct vfio_user_region_info rinfo;
	uint8_t cbuf[256];
	size_t clen;
	int req = open_eventfd(), msix[4], fd, mem;
	unsigned int kernel_calls = fk.req_calls;

	assert_ours_registered(b); /* not while serving: the server reads that eventfd too */
	if (confined)
		serve_start_confined(&sv, b);
	else
		serve_start(&sv, b);
	assert_int_equal(vuc_connect(sv.sock, &c), 0);
	assert_int_equal(vuc_negotiate(c, &caps), 0);
	assert_int_equal(vuc_region_info(c, VFIO_PCI_BAR0_REGION_INDEX, &rinfo, cbuf, sizeof(cbuf), &clen, &fd), 0);
	assert_true(fd >= 0);
	close(fd);
	for (int i = 0; i < 4; i++)
		msix[i] = open_eventfd();
	assert_int_equal(vuc_set_irqs(c, VFIO_PCI_MSIX_IRQ_INDEX, TRIG_EVENTFD, 0, 4, msix, NULL), 0);
	assert_int_equal(vuc_set_irqs(c, VFIO_PCI_REQ_IRQ_INDEX, TRIG_EVENTFD, 0, 1, &req, NULL), 0);
	mem = memfd_create("guest-ram", MFD_CLOEXEC);
	assert_int_equal(ftruncate(mem, 1 << 20), 0);
	assert_int_equal(vuc_dma_map_fd(c, 0x100000, 1 << 20, mem, 0,
					VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE), 0);
	assert_int_equal(fk.nmaps, 1);
	/* the client's REQ stayed in the proxy: the kernel still holds ours */
	assert_int_equal(fk.req_calls, kernel_calls);
	assert_true(fd_open(fk.req_ctx));

	/* the unbind: the client hears it on its REQ eventfd, its socket closes, the server stops with 0 */
	assert_true(fake_request());
	assert_int_equal(vuc_wait_closed(c, STOP_MS), 0);
	assert_int_equal(serve_wait(&sv, STOP_MS), 0);
	assert_int_equal(take_count(req), 1);
	assert_socket_gone(&sv);
	/* the device was left quiet, the client's memory unmapped; no reset (the unbind holds the device's
	 * lock: vfio-pci would refuse it) */
	assert_int_equal(fk.irq_type, -1);
	assert_int_equal(fk.nmaps, 0);
	assert_int_equal(fk.resets, 0);
	vuc_close(c);
	close(mem);
	close(req);
	for (int i = 0; i < 4; i++)
		close(msix[i]);
}

static void test_request_ends_session_legacy(void **state)
{
	struct fixture *f = *state;

	request_ends_session(create_ok(f, false), false);
	assert_int_equal(fk.unsets, 0); /* given back, not reopened */
}

static void test_request_ends_session_iommufd(void **state)
{
	struct fixture *f = *state;

	request_ends_session(create_iommufd(f, VFIO_IOMMU_KIND_IOMMUFD), false);
	assert_int_equal(fk.binds, 1);
}

/* The same with the server's thread under the proxy's seccomp filter: a call outside it ends the binary. */
static void test_request_ends_session_confined(void **state)
{
#ifdef __SANITIZE_ADDRESS__
	skip(); /* the sanitizers' own calls are outside the filter: the proxy runs unconfined under ASan too */
#else
	struct fixture *f = *state;

	request_ends_session(create_ok(f, false), true);
#endif
}

static void test_request_without_client(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	struct served sv;
	struct vuc *c;
	struct vuc_server_caps caps;

	/* a client came and went first: the channel outlives sessions */
	serve_start(&sv, b);
	assert_int_equal(vuc_connect(sv.sock, &c), 0);
	assert_int_equal(vuc_negotiate(c, &caps), 0);
	vuc_close(c);
	for (int i = 0; i < 200 && fk.resets < 1; i++)
		usleep(10000); /* the server saw it go (the device is reset at every departure) */
	assert_int_equal(fk.resets, 1);
	assert_true(fake_request());
	assert_int_equal(serve_wait(&sv, STOP_MS), 0);
	assert_socket_gone(&sv);
}

/* ---- a device without the REQ index ---- */

static void no_req(struct device_backend *b)
{
	struct served sv;
	struct vuc *c;
	struct vuc_server_caps caps;
	int e = open_eventfd(), mine;

	assert_int_equal(b->event_fd, -1);
	assert_int_equal(fk.req_calls, 0);
	assert_false(fake_request());
	/* interrupts as before */
	dup_all(&e, &mine, 1);
	assert_int_equal(b->ops->set_irqs(b, TRIG_EVENTFD, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, &mine), 0);
	assert_true(same_eventfd(e, fk.ctx[0]));
	leave(b, 0);
	assert_int_equal(fk.irq_type, -1);
	/* served and stopped as before */
	serve_start(&sv, b);
	assert_int_equal(vuc_connect(sv.sock, &c), 0);
	assert_int_equal(vuc_negotiate(c, &caps), 0);
	vuc_close(c);
	serve_stop(&sv);
	assert_int_equal(sv.ret, 0);
	close(e);
}

static void test_no_req_index(void **state)
{
	struct fixture *f = *state;

	fk.num_irqs = VFIO_PCI_REQ_IRQ_INDEX; /* a kernel that reports INTx, MSI, MSI-X, ERR only */
	no_req(create_ok(f, false));
}

static void test_req_index_empty(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;

	fk.irq_count[VFIO_PCI_REQ_IRQ_INDEX] = 0;
	fk.irq_flags[VFIO_PCI_REQ_IRQ_INDEX] = 0;
	b = create_ok(f, false);
	/* the client's REQ is the kernel's business again (and refused there: the index is empty) */
	assert_int_equal(b->ops->set_irqs(b, TRIG_NONE, VFIO_PCI_REQ_IRQ_INDEX, 0, 0, NULL, NULL), -EINVAL);
	assert_int_equal(fk.req_calls, 0); /* the fake refuses an empty index before it counts */
	no_req(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registered_at_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registered_at_create_iommufd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kept_across_clients_legacy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kept_across_clients_iommufd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_req_stays_in_proxy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_while_client_leaves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_while_revoking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_ends_session_legacy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_ends_session_iommufd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_ends_session_confined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_without_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_req_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_index_empty, setup, teardown),
	};

	/* the client's eventfds are written bounded, as once the server has set that up */
	if (bounded_io_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
