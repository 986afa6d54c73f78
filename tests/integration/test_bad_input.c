/* test_bad_input.c: hostile and malformed client input against the real proxy process: exact errno or clean disconnect, no leak, still serving. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/harness.h"
#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define BAR1 VFIO_PCI_BAR1_REGION_INDEX
#define BAR3 VFIO_PCI_BAR3_REGION_INDEX
#define BAR4 VFIO_PCI_BAR4_REGION_INDEX
#define BAR5 VFIO_PCI_BAR5_REGION_INDEX
#define ROM VFIO_PCI_ROM_REGION_INDEX
#define CFG VFIO_PCI_CONFIG_REGION_INDEX
#define VGA VFIO_PCI_VGA_REGION_INDEX
#define INTX VFIO_PCI_INTX_IRQ_INDEX
#define MSI VFIO_PCI_MSI_IRQ_INDEX
#define MSIX VFIO_PCI_MSIX_IRQ_INDEX
#define ERR_IRQ VFIO_PCI_ERR_IRQ_INDEX
#define REQ_IRQ VFIO_PCI_REQ_IRQ_INDEX

#define RW (VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)
#define EVT_TRIGGER (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define HDR sizeof(struct vfio_user_header)
#define WAIT_MS 5000
#define CLEANUP_MS 2000
#define MAX_TEST_FDS 128

/* One proxy for the whole group; restarted only if a failed case killed it or left it unclean. */
static struct {
	struct proxy_proc proxy;
	bool running;
	int base_fds;  /* with no client connected */
	int case_fds;  /* measured before the running case */
	int case_maps;
	struct vuc *c;     /* the case's client */
	bool c_alive;      /* the case expects its client to be served still */
	struct vuc *check; /* the health check's client */
	int fds[MAX_TEST_FDS];
	int nfds;
	void *buf; /* a large buffer a case allocated */
} F;

/* ---- test-side resources, released in teardown even when a case fails ---- */

static int keep_fd(int fd)
{
	assert_true(fd >= 0);
	assert_true(F.nfds < MAX_TEST_FDS);
	F.fds[F.nfds++] = fd;
	return fd;
}

static int new_eventfd(void)
{
	return keep_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
}

static int new_memfd(size_t size)
{
	int fd = memfd_create("vup-bad-input", MFD_CLOEXEC);

	keep_fd(fd);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void *big_buffer(size_t size)
{
	free(F.buf);
	F.buf = calloc(1, size);
	assert_non_null(F.buf);
	return F.buf;
}

/* ---- proxy life ---- */

/*
 * The first client of a freshly started proxy. The socket file appears at bind(), a moment before
 * listen(): a connect in between is refused, so the first one is retried (for up to 10 s).
 */
static struct vuc *first_client(const struct proxy_proc *p)
{
	for (int i = 0; i < 1000; i++) {
		struct vuc *c = proxy_client(p);

		if (c || !proxy_alive(p))
			return c;
		usleep(10000);
	}
	return NULL;
}

/* The fd count with no client: one negotiated, idle client holds exactly one fd (its socket). */
static int measure_baseline(void)
{
	struct vuc *c = first_client(&F.proxy);
	int n;

	if (!c)
		return -1;
	n = proxy_fd_count(&F.proxy);
	vuc_close(c);
	if (n < 1)
		return -1;
	F.base_fds = n - 1;
	return proxy_wait_fds(&F.proxy, F.base_fds, CLEANUP_MS) == F.base_fds ? 0 : -1;
}

static int start_proxy(void)
{
	if (proxy_start(&F.proxy, NULL)) {
		proxy_dump_log(&F.proxy);
		proxy_kill(&F.proxy); /* it may be running but never have listened */
		return -1;
	}
	F.running = true;
	if (measure_baseline()) {
		proxy_dump_log(&F.proxy);
		proxy_kill(&F.proxy);
		F.running = false;
		return -1;
	}
	return 0;
}

static int group_setup(void **state)
{
	memset(&F, 0, sizeof(F));
	return start_proxy();
}

static int group_teardown(void **state)
{
	int ret = 0;

	if (F.running)
		ret = proxy_stop(&F.proxy);
	F.running = false;
	return ret ? -1 : 0;
}

static int case_setup(void **state)
{
	/* A case that failed may have left the proxy dead or unclean: later cases start afresh. */
	if (!F.running || !proxy_alive(&F.proxy) ||
	    proxy_wait_fds(&F.proxy, F.base_fds, CLEANUP_MS) != F.base_fds) {
		if (F.running) {
			fprintf(stderr, "proxy dead or holding extra fds after the previous case; restarting it\n");
			proxy_dump_log(&F.proxy);
			proxy_kill(&F.proxy);
			F.running = false;
		}
		if (start_proxy())
			return -1;
	}
	F.case_fds = proxy_fd_count(&F.proxy);
	F.case_maps = proxy_map_count(&F.proxy);
	F.c_alive = false;
	return 0;
}

static int case_teardown(void **state)
{
	vuc_close(F.c);
	F.c = NULL;
	vuc_close(F.check);
	F.check = NULL;
	for (int i = 0; i < F.nfds; i++)
		close(F.fds[i]);
	F.nfds = 0;
	free(F.buf);
	F.buf = NULL;
	return 0;
}

/* ---- clients ---- */

/* A negotiated client for the case. */
static struct vuc *fresh(void)
{
	vuc_close(F.c);
	F.c = proxy_client(&F.proxy);
	assert_non_null(F.c);
	F.c_alive = true;
	return F.c;
}

/* A connected client that has not sent VERSION. */
static struct vuc *unversioned(void)
{
	vuc_close(F.c);
	F.c = NULL;
	assert_int_equal(vuc_connect(F.proxy.socket_path, &F.c), 0);
	F.c_alive = false;
	return F.c;
}

/*
 * After every case: the case's client (if it should still be served) reads the id register; then the
 * proxy is alive, back to the fd count measured before the case, and the next client negotiates and
 * reads the id register.
 */
static void case_done(void)
{
	uint32_t v = 0;

	if (F.c && F.c_alive) {
		assert_int_equal(vuc_read32(F.c, BAR0, EDU_REG_ID, &v), 0);
		assert_int_equal(v, EDU_ID_VALUE);
	}
	vuc_close(F.c);
	F.c = NULL;
	F.c_alive = false;
	assert_true(proxy_alive(&F.proxy));
	assert_int_equal(proxy_wait_fds(&F.proxy, F.case_fds, CLEANUP_MS), F.case_fds);
	F.check = proxy_client(&F.proxy);
	assert_non_null(F.check);
	v = 0;
	assert_int_equal(vuc_read32(F.check, BAR0, EDU_REG_ID, &v), 0);
	assert_int_equal(v, EDU_ID_VALUE);
	vuc_close(F.check);
	F.check = NULL;
	assert_int_equal(proxy_wait_fds(&F.proxy, F.case_fds, CLEANUP_MS), F.case_fds);
}

/* ---- requests and their expected outcome ---- */

#define EXPECT_ERR(c, cmd, flags, p, len, fds, nfds, err) \
	expect_err(__LINE__, c, cmd, flags, p, len, fds, nfds, err)
#define EXPECT_OK(c, cmd, p, len, reply, cap) expect_ok(__LINE__, c, cmd, p, len, NULL, 0, reply, cap)
#define EXPECT_OK_FDS(c, cmd, p, len, fds, nfds) expect_ok(__LINE__, c, cmd, p, len, fds, nfds, NULL, 0)

/* A header-only error reply with exactly err, echoing the command, carrying no fd. */
static void expect_err(int line, struct vuc *c, uint16_t cmd, uint32_t flags, const void *p, size_t len,
		       const int *fds, size_t nfds, int err)
{
	struct vfio_user_header hdr;
	uint8_t reply[64];
	size_t rlen = 0, nr = 0;
	int rfds[16];
	int ret = vuc_request_raw(c, cmd, flags, p, len, fds, nfds, &hdr, reply, sizeof(reply), &rlen, rfds, &nr);

	for (size_t i = 0; i < nr; i++)
		close(rfds[i]);
	if (ret != -err)
		print_error("line %d: command %u: expected error %d (%s), got %d (%s)\n", line, cmd, err,
			    strerror(err), -ret, strerror(ret < 0 ? -ret : 0));
	assert_int_equal(ret, -err);
	assert_int_equal(hdr.cmd, cmd);
	assert_int_equal(hdr.flags, VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR);
	assert_int_equal(hdr.error_no, err);
	assert_int_equal(hdr.msg_size, HDR);
	assert_int_equal(rlen, 0);
	assert_int_equal(nr, 0);
}

/* A successful reply; returns its payload length (the payload goes to reply, cap bytes at most). */
static size_t expect_ok(int line, struct vuc *c, uint16_t cmd, const void *p, size_t len, const int *fds,
			size_t nfds, void *reply, size_t cap)
{
	struct vfio_user_header hdr;
	size_t rlen = 0, nr = 0;
	int rfds[16];
	int ret = vuc_request_raw(c, cmd, 0, p, len, fds, nfds, &hdr, reply, cap, &rlen, rfds, &nr);

	for (size_t i = 0; i < nr; i++)
		close(rfds[i]);
	if (ret)
		print_error("line %d: command %u: expected success, got %d (%s)\n", line, cmd, -ret,
			    strerror(-ret));
	assert_int_equal(ret, 0);
	assert_int_equal(hdr.flags, VFIO_USER_F_TYPE_REPLY);
	assert_int_equal(hdr.cmd, cmd);
	return rlen;
}

/* The server closes the connection without sending anything first. */
static void expect_disconnect(struct vuc *c)
{
	struct pollfd pfd = { .fd = vuc_socket_fd(c), .events = POLLIN };
	char b;
	ssize_t n;

	F.c_alive = false;
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	n = recv(pfd.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0)
		print_error("the server answered instead of (or before) disconnecting\n");
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	assert_int_equal(vuc_wait_closed(c, WAIT_MS), 0);
}

/* A header with any msg_size, followed by payload bytes, sent as they are. */
static void send_msg(struct vuc *c, uint16_t id, uint16_t cmd, uint32_t flags, uint32_t msg_size, const void *p,
		     size_t len, const int *fds, size_t nfds)
{
	uint8_t *buf = malloc(HDR + len);
	struct vfio_user_header h = { .msg_id = id, .cmd = cmd, .msg_size = msg_size, .flags = flags };
	int ret;

	assert_non_null(buf);
	memcpy(buf, &h, HDR);
	if (len)
		memcpy(buf + HDR, p, len);
	ret = vuc_send_raw(c, buf, HDR + len, fds, nfds);
	free(buf);
	assert_int_equal(ret, 0);
}

static void hang_up(struct vuc *c)
{
	assert_int_equal(shutdown(vuc_socket_fd(c), SHUT_WR), 0);
}

/* Reads exactly len bytes from the client's socket, behind the client library's back. */
static void recv_exact(struct vuc *c, void *buf, size_t len)
{
	struct pollfd pfd = { .fd = vuc_socket_fd(c), .events = POLLIN };
	size_t got = 0;

	while (got < len) {
		ssize_t n;

		assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
		n = recv(pfd.fd, (uint8_t *)buf + got, len - got, 0);
		assert_true(n > 0);
		got += (size_t)n;
	}
}

/* One whole message from the server; returns its payload length. */
static size_t recv_raw_msg(struct vuc *c, struct vfio_user_header *h, void *payload, size_t cap)
{
	recv_exact(c, h, HDR);
	assert_true(h->msg_size >= HDR && h->msg_size - HDR <= cap);
	recv_exact(c, payload, h->msg_size - HDR);
	return h->msg_size - HDR;
}

/* Structs with a flexible array member are built as compound literals rather than returned by value. */
#define region_access(r, o, n) ((struct vfio_user_region_access){ .offset = (o), .region = (r), .count = (n) })
#define irq_set(fl, idx, st, n)                                                                          \
	((struct vfio_user_irq_set){                                                                     \
		.argsz = sizeof(struct vfio_user_irq_set), .flags = (fl), .index = (idx), .start = (st), .count = (n) })

static struct vfio_user_dma_map dma_map(uint32_t flags, uint64_t offset, uint64_t addr, uint64_t size)
{
	return (struct vfio_user_dma_map){
		.argsz = sizeof(struct vfio_user_dma_map), .flags = flags, .offset = offset, .addr = addr, .size = size
	};
}

static struct vfio_user_dma_unmap dma_unmap(uint32_t flags, uint64_t addr, uint64_t size)
{
	return (struct vfio_user_dma_unmap){
		.argsz = sizeof(struct vfio_user_dma_unmap), .flags = flags, .addr = addr, .size = size
	};
}

static void expect_live(struct vuc *c, uint32_t want)
{
	uint32_t v = 0;

	assert_int_equal(vuc_read32(c, BAR0, EDU_REG_LIVENESS, &v), 0);
	assert_int_equal(v, want);
}

/*
 * The proxy's fd count while the case's client is connected: its socket plus held extra fds. fds it
 * refused are closed right after the error reply goes out, hence the wait.
 */
static void expect_fds_while_connected(int held)
{
	assert_int_equal(proxy_wait_fds(&F.proxy, F.case_fds + held, CLEANUP_MS), F.case_fds + held);
}

/* ==== framing ==== */

static void test_truncated_header_hangup(void **state)
{
	struct vfio_user_header h = { .msg_id = 1, .cmd = VFIO_USER_VERSION, .msg_size = HDR + 4 };

	assert_int_equal(vuc_send_raw(unversioned(), &h, 10, NULL, 0), 0);
	hang_up(F.c);
	expect_disconnect(F.c);
	case_done();

	assert_int_equal(vuc_send_raw(fresh(), &h, 5, NULL, 0), 0);
	hang_up(F.c);
	expect_disconnect(F.c);
	case_done();
}

static void test_truncated_payload_hangup(void **state)
{
	struct vfio_user_device_info info = { .argsz = sizeof(info) };

	send_msg(fresh(), 1, VFIO_USER_DEVICE_GET_INFO, 0, HDR + sizeof(info), &info, 8, NULL, 0);
	hang_up(F.c);
	expect_disconnect(F.c);
	case_done();
}

static void test_msg_size_below_header(void **state)
{
	static const uint32_t sizes[] = { 0, 1, 8, HDR - 1 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		send_msg(fresh(), 1, VFIO_USER_DEVICE_GET_INFO, 0, sizes[i], NULL, 0, NULL, 0);
		expect_disconnect(F.c);
		case_done();
	}
}

static void test_msg_size_over_limit(void **state)
{
	static const uint32_t sizes[] = { 0x7fffffffu, 0xffffffffu, VFIO_USER_MAX_MSG_SIZE + 1 };
	struct vfio_user_region_access ra = region_access(BAR4, 0, VFIO_USER_SERVER_MAX_DATA_XFER + 1);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		send_msg(fresh(), 1, VFIO_USER_REGION_WRITE, 0, sizes[i], &ra, sizeof(ra), NULL, 0);
		expect_disconnect(F.c);
		case_done();
	}
}

/* The largest message the server takes: a 1 MiB REGION_WRITE, exactly VFIO_USER_MAX_MSG_SIZE. */
static void test_msg_size_at_limit(void **state)
{
	size_t n = VFIO_USER_SERVER_MAX_DATA_XFER;
	uint8_t *buf = big_buffer(sizeof(struct vfio_user_region_access) + n);
	struct vfio_user_region_access ra = region_access(BAR4, 0, (uint32_t)n);
	uint8_t back[4];

	memcpy(buf, &ra, sizeof(ra));
	memset(buf + sizeof(ra), 0x5a, n);
	assert_int_equal(HDR + sizeof(ra) + n, VFIO_USER_MAX_MSG_SIZE);
	EXPECT_OK(fresh(), VFIO_USER_REGION_WRITE, buf, sizeof(ra) + n, NULL, 0);
	assert_int_equal(vuc_region_read(F.c, BAR4, n - 4, back, 4), 0);
	assert_memory_equal(back, "\x5a\x5a\x5a\x5a", 4);
	case_done();
}

static void test_garbage_bytes(void **state)
{
	uint8_t junk[1024];

	memset(junk, 0xff, sizeof(junk));
	assert_int_equal(vuc_send_raw(unversioned(), junk, sizeof(junk), NULL, 0), 0);
	expect_disconnect(F.c);
	case_done();

	assert_int_equal(vuc_send_raw(fresh(), junk, sizeof(junk), NULL, 0), 0);
	expect_disconnect(F.c);
	case_done();
}

/* The client goes away in the middle of a large message, without a shutdown first. */
static void test_vanish_mid_message(void **state)
{
	uint8_t *buf = big_buffer(sizeof(struct vfio_user_region_access) + 1000);
	struct vfio_user_region_access ra = region_access(BAR4, 0, 65536);

	memcpy(buf, &ra, sizeof(ra));
	memset(buf + sizeof(ra), 0x77, 1000);
	send_msg(fresh(), 1, VFIO_USER_REGION_WRITE, 0, (uint32_t)(HDR + sizeof(ra) + 65536), buf,
		 sizeof(ra) + 1000, NULL, 0);
	vuc_close(F.c);
	F.c = NULL;
	case_done();
}

/* Gone mid-message with an fd already delivered along with the header. */
static void test_vanish_mid_message_with_fd(void **state)
{
	int fd = new_memfd(0x10000);
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0x10000);

	send_msg(fresh(), 1, VFIO_USER_DMA_MAP, 0, HDR + sizeof(m), &m, 8, &fd, 1);
	vuc_close(F.c);
	F.c = NULL;
	case_done();
}

/* Several messages in one write: each is answered, in order, with its own msg_id. */
static void test_pipelined_bad_and_good(void **state)
{
	struct vfio_user_device_info info = { .argsz = sizeof(info) };
	struct vfio_user_region_access ra = region_access(9, 0, 4);
	uint8_t buf[3 * 32];
	struct vfio_user_header h[3] = {
		{ .msg_id = 0x100, .cmd = VFIO_USER_DEVICE_GET_INFO, .msg_size = HDR + 16, .flags = 0x40 },
		{ .msg_id = 0x101, .cmd = VFIO_USER_REGION_READ, .msg_size = HDR + 16 },
		{ .msg_id = 0x102, .cmd = VFIO_USER_DEVICE_GET_INFO, .msg_size = HDR + 16 },
	};

	memcpy(buf, &h[0], HDR);
	memcpy(buf + 16, &info, 16);
	memcpy(buf + 32, &h[1], HDR);
	memcpy(buf + 48, &ra, 16);
	memcpy(buf + 64, &h[2], HDR);
	memcpy(buf + 80, &info, 16);
	assert_int_equal(vuc_send_raw(fresh(), buf, sizeof(buf), NULL, 0), 0);
	for (int i = 0; i < 3; i++) {
		struct vfio_user_header r;
		struct vfio_user_device_info di;
		size_t len = recv_raw_msg(F.c, &r, &di, sizeof(di));

		assert_int_equal(r.msg_id, h[i].msg_id);
		assert_int_equal(r.cmd, h[i].cmd);
		if (i < 2) {
			assert_int_equal(r.flags, VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR);
			assert_int_equal(r.error_no, EINVAL);
			assert_int_equal(len, 0);
		} else {
			assert_int_equal(r.flags, VFIO_USER_F_TYPE_REPLY);
			assert_int_equal(len, sizeof(di));
			assert_int_equal(di.num_regions, 9);
		}
	}
	case_done();
}

/* A message dribbled in one byte per write still frames correctly. */
static void test_byte_by_byte(void **state)
{
	struct vfio_user_region_access ra = region_access(BAR0, EDU_REG_ID, 4);
	uint8_t buf[HDR + sizeof(ra)];
	struct vfio_user_header h = { .msg_id = 0x321, .cmd = VFIO_USER_REGION_READ, .msg_size = sizeof(buf) };
	struct {
		struct vfio_user_region_access ra;
		uint32_t v;
	} __attribute__((packed)) r;
	struct vfio_user_header rh;

	memcpy(buf, &h, HDR);
	memcpy(buf + HDR, &ra, sizeof(ra));
	fresh();
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(vuc_send_raw(F.c, buf + i, 1, NULL, 0), 0);
	assert_int_equal(recv_raw_msg(F.c, &rh, &r, sizeof(r)), sizeof(r));
	assert_int_equal(rh.msg_id, 0x321);
	assert_int_equal(rh.flags, VFIO_USER_F_TYPE_REPLY);
	assert_int_equal(r.v, EDU_ID_VALUE);
	case_done();
}

/* ==== message types and flags ==== */

static void test_reply_matching_no_request(void **state)
{
	struct {
		struct vfio_user_dma_access acc;
		uint32_t data;
	} __attribute__((packed)) r = { { .addr = 0x100000, .count = 4 }, 0 };

	send_msg(fresh(), 0x4242, VFIO_USER_DMA_READ, VFIO_USER_F_TYPE_REPLY, HDR + sizeof(r), &r, sizeof(r), NULL, 0);
	expect_disconnect(F.c);
	case_done();

	send_msg(fresh(), 7, VFIO_USER_DEVICE_GET_INFO, VFIO_USER_F_TYPE_REPLY, HDR, NULL, 0, NULL, 0);
	expect_disconnect(F.c);
	case_done();
}

static void test_reply_with_fds(void **state)
{
	int efd = new_eventfd();

	send_msg(fresh(), 9, VFIO_USER_DMA_WRITE, VFIO_USER_F_TYPE_REPLY, HDR, NULL, 0, &efd, 1);
	expect_disconnect(F.c);
	case_done();
}

static void test_unknown_type_bits(void **state)
{
	struct vfio_user_device_info info = { .argsz = sizeof(info) };

	for (uint32_t type = 2; type <= 15; type++) {
		send_msg(fresh(), 1, VFIO_USER_DEVICE_GET_INFO, type, HDR + sizeof(info), &info, sizeof(info), NULL, 0);
		expect_disconnect(F.c);
		case_done();
	}
}

static void test_error_flag_on_command(void **state)
{
	struct vfio_user_device_info info = { .argsz = sizeof(info) };

	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_GET_INFO, VFIO_USER_F_ERROR, &info, sizeof(info), NULL, 0, EINVAL);
	case_done();
}

static void test_unknown_flag_bits(void **state)
{
	static const uint32_t flags[] = { 0x40, 0x80, 0x100, 0x80000000u };
	struct vfio_user_device_info info = { .argsz = sizeof(info) };
	struct vfio_user_region_access ra = region_access(BAR0, 0, 4);

	fresh();
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		EXPECT_ERR(F.c, VFIO_USER_DEVICE_GET_INFO, flags[i], &info, sizeof(info), NULL, 0, EINVAL);
		EXPECT_ERR(F.c, VFIO_USER_REGION_READ, flags[i], &ra, sizeof(ra), NULL, 0, EINVAL);
	}
	case_done();
}

/* A posted (no-reply) request that fails is answered by nothing at all: the next reply is the next request's. */
static void test_no_reply_error_is_silent(void **state)
{
	struct {
		struct vfio_user_region_access ra;
		uint32_t v;
	} __attribute__((packed)) w = { region_access(9, 0, 4), 1 };

	fresh();
	assert_int_equal(vuc_request_raw(F.c, VFIO_USER_REGION_WRITE, VFIO_USER_F_NO_REPLY, &w, sizeof(w), NULL, 0,
					 NULL, NULL, 0, NULL, NULL, NULL),
			 0);
	w.ra.region = BAR0;
	w.ra.count = 8; /* length mismatch */
	assert_int_equal(vuc_request_raw(F.c, VFIO_USER_REGION_WRITE, VFIO_USER_F_NO_REPLY, &w, sizeof(w), NULL, 0,
					 NULL, NULL, 0, NULL, NULL, NULL),
			 0);
	/* vuc_read32 fails with -EPROTO if any stray reply arrives first */
	expect_live(F.c, 0xffffffffu);
	case_done();
}

/* ==== the VERSION handshake ==== */

static void test_commands_before_version(void **state)
{
	static const uint16_t cmds[] = { VFIO_USER_DEVICE_GET_INFO, VFIO_USER_REGION_READ, VFIO_USER_DMA_MAP,
					 VFIO_USER_DEVICE_SET_IRQS, VFIO_USER_DEVICE_RESET, 0xffff };
	uint8_t payload[32] = { 32 };

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		send_msg(unversioned(), 1, cmds[i], 0, HDR + sizeof(payload), payload, sizeof(payload), NULL, 0);
		expect_disconnect(F.c);
		case_done();
	}
}

static void test_reply_before_version(void **state)
{
	send_msg(unversioned(), 0, VFIO_USER_DMA_READ, VFIO_USER_F_TYPE_REPLY, HDR, NULL, 0, NULL, 0);
	expect_disconnect(F.c);
	case_done();
}

static void test_second_version(void **state)
{
	struct vfio_user_version v = { .major = 0, .minor = 2 };

	EXPECT_ERR(fresh(), VFIO_USER_VERSION, 0, &v, sizeof(v), NULL, 0, EINVAL);
	case_done();
}

static void test_version_short_payload(void **state)
{
	uint16_t major = 0;
	struct vuc_server_caps caps;

	EXPECT_ERR(unversioned(), VFIO_USER_VERSION, 0, &major, sizeof(major), NULL, 0, EINVAL);
	EXPECT_ERR(F.c, VFIO_USER_VERSION, 0, NULL, 0, NULL, 0, EINVAL);
	/* the refusal leaves the connection usable: VERSION again, properly */
	assert_int_equal(vuc_negotiate(F.c, &caps), 0);
	F.c_alive = true;
	case_done();
}

static void test_version_json_not_terminated(void **state)
{
	uint8_t p[4 + 19];
	struct vuc_server_caps caps;

	memset(p, 0, 4);
	memcpy(p + 4, "{\"capabilities\":{}}", 19);
	EXPECT_ERR(unversioned(), VFIO_USER_VERSION, 0, p, sizeof(p), NULL, 0, EINVAL);
	assert_int_equal(vuc_negotiate(F.c, &caps), 0);
	F.c_alive = true;
	case_done();
}

/* JSON (with its NUL) of len bytes: an object with a padding string. */
static size_t padded_version(uint8_t *p, size_t json_len)
{
	static const char head[] = "{\"capabilities\":{\"max_msg_fds\":16},\"pad\":\"";
	size_t pad = json_len - 1 - (sizeof(head) - 1) - 2;

	memset(p, 0, 4);
	memcpy(p + 4, head, sizeof(head) - 1);
	memset(p + 4 + sizeof(head) - 1, 'x', pad);
	memcpy(p + 4 + sizeof(head) - 1 + pad, "\"}", 3);
	return 4 + json_len;
}

static void test_version_json_too_long(void **state)
{
	uint8_t *p = big_buffer(4 + VFIO_USER_MAX_VERSION_JSON + 1000);
	uint8_t reply[256];
	size_t len;

	len = padded_version(p, VFIO_USER_MAX_VERSION_JSON + 1);
	EXPECT_ERR(unversioned(), VFIO_USER_VERSION, 0, p, len, NULL, 0, EINVAL);
	len = padded_version(p, VFIO_USER_MAX_VERSION_JSON + 1000);
	EXPECT_ERR(F.c, VFIO_USER_VERSION, 0, p, len, NULL, 0, EINVAL);
	/* exactly at the bound is accepted */
	len = padded_version(p, VFIO_USER_MAX_VERSION_JSON);
	assert_true(EXPECT_OK(F.c, VFIO_USER_VERSION, p, len, reply, sizeof(reply)) > 4);
	F.c_alive = true;
	case_done();
}

static void test_version_major_1(void **state)
{
	struct vfio_user_version v = { .major = 1, .minor = 0 };
	struct vuc_server_caps caps;

	EXPECT_ERR(unversioned(), VFIO_USER_VERSION, 0, &v, sizeof(v), NULL, 0, ENOTSUP);
	v.major = 0xffff;
	EXPECT_ERR(F.c, VFIO_USER_VERSION, 0, &v, sizeof(v), NULL, 0, ENOTSUP);
	assert_int_equal(vuc_negotiate(F.c, &caps), 0);
	F.c_alive = true;
	case_done();
}

static void test_version_bad_capabilities(void **state)
{
	static const char *const bad[] = {
		"{\"capabilities\":{\"max_data_xfer_size\":0}}",
		"{\"capabilities\":{\"max_msg_fds\":-1}}",
		"{\"capabilities\":{\"max_msg_fds\":4294967296}}",
		"{\"capabilities\":{\"pgsizes\":0}}",
		"{\"capabilities\":{\"write_multiple\":1}}",
		"{\"capabilities\":{\"migration\":[]}}",
		"{\"capabilities\":[]}",
		"{\"capabilities\":{}} trailing",
		"\"just a string\"",
	};
	struct vuc_server_caps caps;

	unversioned();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vuc_negotiate_custom(F.c, 0, 1, bad[i], &caps), -EINVAL);
	assert_int_equal(vuc_negotiate(F.c, &caps), 0);
	F.c_alive = true;
	case_done();
}

/* ==== payloads shorter than the command's struct ==== */

static void short_payload(uint16_t cmd, size_t min_len)
{
	uint8_t p[64];

	memset(p, 0, sizeof(p));
	/* an argsz that would be fine, where the command has one */
	p[0] = 0xff;
	fresh();
	EXPECT_ERR(F.c, cmd, 0, p, min_len - 1, NULL, 0, EINVAL);
	EXPECT_ERR(F.c, cmd, 0, p, min_len / 2, NULL, 0, EINVAL);
	EXPECT_ERR(F.c, cmd, 0, NULL, 0, NULL, 0, EINVAL);
	case_done();
}

static void test_short_dma_map(void **state)
{
	short_payload(VFIO_USER_DMA_MAP, sizeof(struct vfio_user_dma_map));
}

static void test_short_dma_unmap(void **state)
{
	short_payload(VFIO_USER_DMA_UNMAP, sizeof(struct vfio_user_dma_unmap));
}

static void test_short_get_info(void **state)
{
	short_payload(VFIO_USER_DEVICE_GET_INFO, sizeof(struct vfio_user_device_info));
}

static void test_short_get_region_info(void **state)
{
	short_payload(VFIO_USER_DEVICE_GET_REGION_INFO, sizeof(struct vfio_user_region_info));
}

static void test_short_get_irq_info(void **state)
{
	short_payload(VFIO_USER_DEVICE_GET_IRQ_INFO, sizeof(struct vfio_user_irq_info));
}

static void test_short_set_irqs(void **state)
{
	short_payload(VFIO_USER_DEVICE_SET_IRQS, sizeof(struct vfio_user_irq_set));
}

static void test_short_region_read(void **state)
{
	short_payload(VFIO_USER_REGION_READ, sizeof(struct vfio_user_region_access));
}

static void test_short_region_write(void **state)
{
	short_payload(VFIO_USER_REGION_WRITE, sizeof(struct vfio_user_region_access));
}

static void test_short_write_multi(void **state)
{
	short_payload(VFIO_USER_REGION_WRITE_MULTI, sizeof(struct vfio_user_write_multi));
}

static void test_short_device_feature(void **state)
{
	short_payload(VFIO_USER_DEVICE_FEATURE, sizeof(struct vfio_user_device_feature));
}

/* ==== commands the server does not take ==== */

static void test_unknown_commands(void **state)
{
	static const uint16_t cmds[] = { 0, VFIO_USER_DIRTY_PAGES_RETIRED, VFIO_USER_MAX_COMMAND, 20, 0x100, 0xffff };
	uint8_t p[32] = { 32 };

	fresh();
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		EXPECT_ERR(F.c, cmds[i], 0, p, sizeof(p), NULL, 0, ENOSYS);
		EXPECT_ERR(F.c, cmds[i], 0, NULL, 0, NULL, 0, ENOSYS);
	}
	case_done();
}

static void test_dma_read_write_from_client(void **state)
{
	struct {
		struct vfio_user_dma_access acc;
		uint32_t data;
	} __attribute__((packed)) m = { { .addr = 0x100000, .count = 4 }, 0 };

	fresh();
	EXPECT_ERR(F.c, VFIO_USER_DMA_READ, 0, &m.acc, sizeof(m.acc), NULL, 0, EINVAL);
	EXPECT_ERR(F.c, VFIO_USER_DMA_WRITE, 0, &m, sizeof(m), NULL, 0, EINVAL);
	case_done();
}

static void test_device_feature_unknown(void **state)
{
	struct vfio_user_device_feature req = { .argsz = sizeof(req), .flags = VFIO_DEVICE_FEATURE_GET | 0x1234 };
	struct vfio_user_device_feature probe = { .argsz = sizeof(probe), .flags = VFIO_DEVICE_FEATURE_PROBE | 0x7777 };

	fresh();
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_FEATURE, 0, &req, sizeof(req), NULL, 0, ENOTTY);
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_FEATURE, 0, &probe, sizeof(probe), NULL, 0, ENOTTY);
	req.argsz = 4;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_FEATURE, 0, &req, sizeof(req), NULL, 0, EINVAL);
	case_done();
}

static void test_mig_data(void **state)
{
	struct vfio_user_mig_data m = { .argsz = sizeof(m) + 64, .size = 64 };
	uint8_t wr[sizeof(m) + 64];

	fresh();
	EXPECT_ERR(F.c, VFIO_USER_MIG_DATA_READ, 0, &m, sizeof(m), NULL, 0, ENOTSUP);
	memset(wr, 0xab, sizeof(wr));
	memcpy(wr, &m, sizeof(m));
	EXPECT_ERR(F.c, VFIO_USER_MIG_DATA_WRITE, 0, wr, sizeof(wr), NULL, 0, ENOTSUP);
	case_done();
}

static void test_region_io_fds(void **state)
{
	struct vfio_user_region_io_fds_request r = { .argsz = sizeof(r) + 40, .index = BAR0 };

	fresh();
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_GET_REGION_IO_FDS, 0, &r, sizeof(r), NULL, 0, ENOTSUP);
	r.index = 9;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_GET_REGION_IO_FDS, 0, &r, sizeof(r), NULL, 0, EINVAL);
	case_done();
}

/* ==== region access ==== */

static void test_region_index_out_of_range(void **state)
{
	struct {
		struct vfio_user_region_access ra;
		uint32_t v;
	} __attribute__((packed)) w = { region_access(9, 0, 4), 0 };
	struct vfio_user_region_access ra = region_access(9, 0, 4);

	fresh();
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, EINVAL);
	ra.region = 0xffffffffu;
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, EINVAL);
	ra.region = 16;
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, EINVAL);
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE, 0, &w, sizeof(w), NULL, 0, EINVAL);
	w.ra.region = 0xffffffffu;
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE, 0, &w, sizeof(w), NULL, 0, EINVAL);
	case_done();
}

static void test_region_offset_overflow(void **state)
{
	struct vfio_user_region_access ra = region_access(BAR0, 0xfffffffffffffffcull, 8);
	struct {
		struct vfio_user_region_access ra;
		uint64_t v;
	} __attribute__((packed)) w = { region_access(BAR4, 0xfffffffffffffffcull, 8), 0 };

	fresh();
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, EINVAL);
	ra.region = BAR4;
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, EINVAL);
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE, 0, &w, sizeof(w), NULL, 0, EINVAL);
	ra = region_access(CFG, 0xffffffffffffffffull, 1);
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, EINVAL);
	case_done();
}

static void test_region_offset_beyond_size(void **state)
{
	struct vfio_user_region_access ra = region_access(BAR0, EDU_BAR_REGS_SIZE, 4);
	struct {
		struct vfio_user_region_access ra;
		uint32_t v;
	} __attribute__((packed)) w = { region_access(BAR4, EDU_BAR_RAM_SIZE - 2, 4), 0x11223344 };
	uint8_t back[2];

	fresh();
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, EINVAL);
	ra.offset = EDU_BAR_REGS_SIZE - 2;
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, EINVAL);
	ra = region_access(CFG, EDU_CONFIG_SIZE, 1);
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, EINVAL);
	ra = region_access(BAR4, 1ull << 40, 4);
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, EINVAL);
	/* a write straddling the end changes nothing */
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE, 0, &w, sizeof(w), NULL, 0, EINVAL);
	assert_int_equal(vuc_region_read(F.c, BAR4, EDU_BAR_RAM_SIZE - 2, back, 2), 0);
	assert_memory_equal(back, "\0\0", 2);
	case_done();
}

static void test_region_count_zero(void **state)
{
	struct vfio_user_region_access ra = region_access(BAR0, 0, 0);

	fresh();
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, EINVAL);
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE, 0, &ra, sizeof(ra), NULL, 0, EINVAL);
	ra.region = BAR4;
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, EINVAL);
	case_done();
}

static void test_region_count_over_max_xfer(void **state)
{
	struct vfio_user_region_access ra = region_access(BAR0, 0, VFIO_USER_SERVER_MAX_DATA_XFER + 1);

	fresh();
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, E2BIG);
	ra.count = 0xffffffffu;
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, E2BIG);
	/* exactly max_data_xfer_size is served */
	ra = region_access(BAR4, 0, VFIO_USER_SERVER_MAX_DATA_XFER);
	assert_int_equal(EXPECT_OK(F.c, VFIO_USER_REGION_READ, &ra, sizeof(ra), NULL, 0),
			 sizeof(ra) + VFIO_USER_SERVER_MAX_DATA_XFER);
	case_done();
}

static void test_region_write_length_mismatch(void **state)
{
	struct {
		struct vfio_user_region_access ra;
		uint32_t v[2];
	} __attribute__((packed)) w = { region_access(BAR0, EDU_REG_LIVENESS, 4), { 0x1234, 0x5678 } };

	fresh();
	/* count 4, 8 bytes of data */
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE, 0, &w, sizeof(w), NULL, 0, EINVAL);
	/* count 8, 4 bytes of data */
	w.ra.count = 8;
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE, 0, &w, sizeof(w) - 4, NULL, 0, EINVAL);
	/* count 4, no data */
	w.ra.count = 4;
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE, 0, &w, sizeof(w.ra), NULL, 0, EINVAL);
	/* none of them reached the device */
	expect_live(F.c, 0xffffffffu);
	case_done();
}

static void test_region_absent(void **state)
{
	static const uint32_t absent[] = { BAR1, BAR3, BAR5, ROM, VGA };
	struct {
		struct vfio_user_region_access ra;
		uint32_t v;
	} __attribute__((packed)) w = { region_access(BAR1, 0, 4), 0 };

	fresh();
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		struct vfio_user_region_access ra = region_access(absent[i], 0, 4);

		EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), NULL, 0, EINVAL);
		w.ra.region = absent[i];
		EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE, 0, &w, sizeof(w), NULL, 0, EINVAL);
	}
	case_done();
}

/* ==== DMA_MAP ==== */

static void test_dma_map_overlap(void **state)
{
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0x10000);
	struct vfio_user_dma_unmap u = dma_unmap(0, 0x100000, 0x10000);

	fresh();
	EXPECT_OK(F.c, VFIO_USER_DMA_MAP, &m, sizeof(m), NULL, 0);
	m.addr = 0x108000;
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EEXIST);
	m.addr = 0xf8000; /* ends inside it */
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EEXIST);
	m.addr = 0x100000; /* the same range again */
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EEXIST);
	m = dma_map(RW, 0, 0xf0000, 0x30000); /* covers it */
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EEXIST);
	/* the first window is intact: it unmaps exactly */
	EXPECT_OK(F.c, VFIO_USER_DMA_UNMAP, &u, sizeof(u), NULL, 0);
	case_done();
}

/* An fd-backed map refused for overlap leaves no mapping or fd behind in the proxy. */
static void test_dma_map_overlap_fd_no_leak(void **state)
{
	int fd = new_memfd(0x10000);
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0x10000);
	int fds, maps;

	fresh();
	EXPECT_OK_FDS(F.c, VFIO_USER_DMA_MAP, &m, sizeof(m), &fd, 1);
	fds = proxy_fd_count(&F.proxy);
	maps = proxy_map_count(&F.proxy);
	m.addr = 0x108000;
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), &fd, 1, EEXIST);
	assert_int_equal(proxy_fd_count(&F.proxy), fds);
	assert_int_equal(proxy_map_count(&F.proxy), maps);
	case_done();
}

static void test_dma_map_size_zero(void **state)
{
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0);

	EXPECT_ERR(fresh(), VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EINVAL);
	case_done();
}

static void test_dma_map_unaligned_addr(void **state)
{
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100800, 0x10000);

	EXPECT_ERR(fresh(), VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EINVAL);
	m.addr = 0x100001;
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EINVAL);
	case_done();
}

static void test_dma_map_unaligned_size(void **state)
{
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0x1800);

	EXPECT_ERR(fresh(), VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EINVAL);
	m.size = 1;
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EINVAL);
	case_done();
}

static void test_dma_map_wraps(void **state)
{
	struct vfio_user_dma_map m = dma_map(RW, 0, 0xfffffffffffff000ull, 0x2000);
	struct vfio_user_dma_unmap u = dma_unmap(0, 0xfffffffffffff000ull, 0x1000);

	EXPECT_ERR(fresh(), VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EINVAL);
	m = dma_map(RW, 0, 0x2000, 0xfffffffffffff000ull);
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EINVAL);
	/* a window that ends exactly at 2^64 does not wrap */
	m = dma_map(RW, 0, 0xfffffffffffff000ull, 0x1000);
	EXPECT_OK(F.c, VFIO_USER_DMA_MAP, &m, sizeof(m), NULL, 0);
	EXPECT_OK(F.c, VFIO_USER_DMA_UNMAP, &u, sizeof(u), NULL, 0);
	case_done();
}

static void test_dma_map_flags(void **state)
{
	struct vfio_user_dma_map m = dma_map(0, 0, 0x100000, 0x10000);

	EXPECT_ERR(fresh(), VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EINVAL);
	m.flags = RW | 0x4;
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EINVAL);
	m.flags = VFIO_USER_F_DMA_REGION_READ | 0x80000000u;
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EINVAL);
	m.flags = 0x4;
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EINVAL);
	case_done();
}

static void test_dma_map_argsz(void **state)
{
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0x10000);

	m.argsz = sizeof(m) - 1;
	EXPECT_ERR(fresh(), VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EINVAL);
	m.argsz = 0;
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, EINVAL);
	case_done();
}

static void test_dma_map_fd_unaligned_offset(void **state)
{
	int fd = new_memfd(0x20000);
	struct vfio_user_dma_map m = dma_map(RW, 0x800, 0x100000, 0x10000);

	EXPECT_ERR(fresh(), VFIO_USER_DMA_MAP, 0, &m, sizeof(m), &fd, 1, EINVAL);
	m.offset = 1;
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), &fd, 1, EINVAL);
	case_done();
}

static void test_dma_map_fd_too_small(void **state)
{
	int small = new_memfd(0x1000);
	int big = new_memfd(0x10000);
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0x10000);

	EXPECT_ERR(fresh(), VFIO_USER_DMA_MAP, 0, &m, sizeof(m), &small, 1, EINVAL);
	/* offset + size past the end */
	m.offset = 0x1000;
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), &big, 1, EINVAL);
	/* offset past the end, offset + size wrapping */
	m = dma_map(RW, 0xfffffffffffff000ull, 0x100000, 0x2000);
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), &big, 1, EINVAL);
	case_done();
}

static void test_dma_map_fd_pipe(void **state)
{
	int p[2];
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0x1000);

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	keep_fd(p[0]);
	keep_fd(p[1]);
	EXPECT_ERR(fresh(), VFIO_USER_DMA_MAP, 0, &m, sizeof(m), &p[0], 1, EINVAL);
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), &p[1], 1, EINVAL);
	case_done();
}

static void test_dma_map_fd_eventfd(void **state)
{
	int efd = new_eventfd();
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0x1000);

	EXPECT_ERR(fresh(), VFIO_USER_DMA_MAP, 0, &m, sizeof(m), &efd, 1, EINVAL);
	case_done();
}

static void test_dma_map_fd_socket(void **state)
{
	int sv[2];
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0x1000);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	keep_fd(sv[0]);
	keep_fd(sv[1]);
	EXPECT_ERR(fresh(), VFIO_USER_DMA_MAP, 0, &m, sizeof(m), &sv[0], 1, EINVAL);
	case_done();
}

/* A directory has a size (4 KiB on most file systems), but it is no memory to map. */
static void test_dma_map_fd_directory(void **state)
{
	int dfd = keep_fd(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	struct stat st;
	struct vfio_user_dma_map m = dma_map(VFIO_USER_F_DMA_REGION_READ, 0, 0x100000, 0x1000);

	assert_int_equal(fstat(dfd, &st), 0);
	if (st.st_size >= 0x1000)
		m.size = (uint64_t)st.st_size & ~0xfffull;
	EXPECT_ERR(fresh(), VFIO_USER_DMA_MAP, 0, &m, sizeof(m), &dfd, 1, EINVAL);
	case_done();
}

/* A writable window on a read-only descriptor: the proxy's mmap refuses it. */
static void test_dma_map_fd_read_only(void **state)
{
	int fd = new_memfd(0x10000);
	char path[64];
	int ro;
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0x10000);

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = keep_fd(open(path, O_RDONLY | O_CLOEXEC));
	EXPECT_ERR(fresh(), VFIO_USER_DMA_MAP, 0, &m, sizeof(m), &ro, 1, EACCES);
	/* read-only is what it allows */
	m.flags = VFIO_USER_F_DMA_REGION_READ;
	EXPECT_OK_FDS(F.c, VFIO_USER_DMA_MAP, &m, sizeof(m), &ro, 1);
	case_done();
}

static void test_dma_map_two_fds(void **state)
{
	int fds[2] = { new_memfd(0x10000), new_memfd(0x10000) };
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0x10000);

	EXPECT_ERR(fresh(), VFIO_USER_DMA_MAP, 0, &m, sizeof(m), fds, 2, EINVAL);
	/* both were closed by the server right away */
	expect_fds_while_connected(1);
	case_done();
}

/* ==== DMA_UNMAP ==== */

static void test_dma_unmap_unknown(void **state)
{
	struct vfio_user_dma_unmap u = dma_unmap(0, 0x100000, 0x10000);

	EXPECT_ERR(fresh(), VFIO_USER_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0, ENOENT);
	u = dma_unmap(0, 0, 0);
	EXPECT_ERR(F.c, VFIO_USER_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0, ENOENT);
	case_done();
}

static void test_dma_unmap_inexact(void **state)
{
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0x10000);
	struct vfio_user_dma_unmap u = dma_unmap(0, 0x100000, 0x8000);

	fresh();
	EXPECT_OK(F.c, VFIO_USER_DMA_MAP, &m, sizeof(m), NULL, 0);
	EXPECT_ERR(F.c, VFIO_USER_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0, ENOENT);
	u.size = 0x20000;
	EXPECT_ERR(F.c, VFIO_USER_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0, ENOENT);
	u = dma_unmap(0, 0x108000, 0x8000);
	EXPECT_ERR(F.c, VFIO_USER_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0, ENOENT);
	u = dma_unmap(0, 0x100000, 0x10000);
	EXPECT_OK(F.c, VFIO_USER_DMA_UNMAP, &u, sizeof(u), NULL, 0);
	EXPECT_ERR(F.c, VFIO_USER_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0, ENOENT);
	case_done();
}

static void test_dma_unmap_all_nonzero(void **state)
{
	struct vfio_user_dma_unmap u = dma_unmap(VFIO_USER_F_DMA_UNMAP_ALL, 0x100000, 0);

	EXPECT_ERR(fresh(), VFIO_USER_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0, EINVAL);
	u = dma_unmap(VFIO_USER_F_DMA_UNMAP_ALL, 0, 0x1000);
	EXPECT_ERR(F.c, VFIO_USER_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0, EINVAL);
	u = dma_unmap(VFIO_USER_F_DMA_UNMAP_ALL, 0, 0);
	EXPECT_OK(F.c, VFIO_USER_DMA_UNMAP, &u, sizeof(u), NULL, 0);
	case_done();
}

static void test_dma_unmap_dirty_bitmap(void **state)
{
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0x10000);
	struct vfio_user_dma_unmap u = dma_unmap(VFIO_USER_F_DMA_UNMAP_GET_DIRTY_BITMAP, 0x100000, 0x10000);

	fresh();
	EXPECT_OK(F.c, VFIO_USER_DMA_MAP, &m, sizeof(m), NULL, 0);
	EXPECT_ERR(F.c, VFIO_USER_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0, EINVAL);
	u.flags = 0x4;
	EXPECT_ERR(F.c, VFIO_USER_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0, EINVAL);
	/* the window is still there */
	u.flags = 0;
	EXPECT_OK(F.c, VFIO_USER_DMA_UNMAP, &u, sizeof(u), NULL, 0);
	case_done();
}

static void test_dma_unmap_argsz(void **state)
{
	struct vfio_user_dma_unmap u = dma_unmap(VFIO_USER_F_DMA_UNMAP_ALL, 0, 0);

	u.argsz = sizeof(u) - 1;
	EXPECT_ERR(fresh(), VFIO_USER_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0, EINVAL);
	case_done();
}

/* ==== file descriptors where they do not belong ==== */

static void test_fds_on_get_info(void **state)
{
	int efd = new_eventfd();
	struct vfio_user_device_info info = { .argsz = sizeof(info) };
	struct vfio_user_region_access ra = region_access(BAR0, 0, 4);

	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_GET_INFO, 0, &info, sizeof(info), &efd, 1, EINVAL);
	EXPECT_ERR(F.c, VFIO_USER_REGION_READ, 0, &ra, sizeof(ra), &efd, 1, EINVAL);
	expect_fds_while_connected(1);
	case_done();
}

static void test_fds_forty(void **state)
{
	int fds[40];
	struct vfio_user_device_info info = { .argsz = sizeof(info) };
	struct vfio_user_irq_set s = irq_set(EVT_TRIGGER, MSIX, 0, 8);

	for (int i = 0; i < 40; i++)
		fds[i] = new_eventfd();
	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_GET_INFO, 0, &info, sizeof(info), fds, 40, EINVAL);
	expect_fds_while_connected(1);
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), fds, 40, EINVAL);
	expect_fds_while_connected(1);
	case_done();
}

/* More fds than max_msg_fds (16) but within what the server can receive. */
static void test_fds_seventeen_on_set_irqs(void **state)
{
	int fds[17];
	struct vfio_user_irq_set s = irq_set(EVT_TRIGGER, MSIX, 0, 17);

	for (int i = 0; i < 17; i++)
		fds[i] = new_eventfd();
	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), fds, 17, EINVAL);
	expect_fds_while_connected(1);
	case_done();
}

static void test_fds_partial_header_hangup(void **state)
{
	int fds[3] = { new_eventfd(), new_memfd(4096), new_eventfd() };
	struct vfio_user_header h = { .msg_id = 1, .cmd = VFIO_USER_DMA_MAP, .msg_size = HDR + 32 };

	assert_int_equal(vuc_send_raw(fresh(), &h, 8, fds, 3), 0);
	hang_up(F.c);
	expect_disconnect(F.c);
	case_done();
}

/* fds arriving with the payload rather than the header's first bytes. */
/* Waits until the peer has read everything sent on fd (SIOCOUTQ counts unread bytes on AF_UNIX). */
static void wait_consumed(int fd)
{
	int queued = -1;

	for (int i = 0; i < 2000; i++) {
		assert_int_equal(ioctl(fd, SIOCOUTQ, &queued), 0);
		if (queued == 0)
			return;
		usleep(1000);
	}
	fail_msg("the server did not read the %d bytes sent", queued);
}

static void test_fds_mid_message(void **state)
{
	int fd = new_memfd(0x10000);
	struct vfio_user_dma_map m = dma_map(RW, 0, 0x100000, 0x10000);
	struct vfio_user_header h = { .msg_id = 1, .cmd = VFIO_USER_DMA_MAP, .msg_size = HDR + sizeof(m) };

	assert_int_equal(vuc_send_raw(fresh(), &h, sizeof(h), NULL, 0), 0);
	/* The server must have read the header before the payload and its fds arrive (fds that come in the
	 * same read as their message's header belong to it): wait until it consumed what we sent. */
	wait_consumed(vuc_socket_fd(F.c));
	assert_int_equal(vuc_send_raw(F.c, &m, sizeof(m), &fd, 1), 0);
	expect_disconnect(F.c);
	case_done();
}

/* ==== SET_IRQS ==== */

static void test_set_irqs_range(void **state)
{
	struct vfio_user_irq_set s = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, MSI, 0, 2);

	fresh();
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	s.start = 1;
	s.count = 1;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	s = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, MSIX, 7, 2);
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	s.start = 0xffffffffu;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	s.start = 1;
	s.count = 0xffffffffu;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	case_done();
}

static void test_set_irqs_index(void **state)
{
	struct vfio_user_irq_set s = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 5, 0, 1);

	fresh();
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	s.index = 0xffffffffu;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	case_done();
}

static void test_set_irqs_two_data_bits(void **state)
{
	struct {
		struct vfio_user_irq_set s;
		uint8_t b;
	} __attribute__((packed)) m = {
		irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, MSI, 0, 1), 1
	};

	fresh();
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &m, sizeof(m), NULL, 0, EINVAL);
	m.s.flags = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &m, sizeof(m), NULL, 0, EINVAL);
	m.s.flags = VFIO_IRQ_SET_ACTION_TRIGGER; /* and none */
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &m, sizeof(m), NULL, 0, EINVAL);
	case_done();
}

static void test_set_irqs_two_action_bits(void **state)
{
	struct vfio_user_irq_set s =
		irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_TRIGGER, INTX, 0, 1);

	fresh();
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	s.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	case_done();
}

static void test_set_irqs_no_action(void **state)
{
	struct vfio_user_irq_set s = irq_set(VFIO_IRQ_SET_DATA_NONE, MSI, 0, 1);

	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	case_done();
}

static void test_set_irqs_unknown_flags(void **state)
{
	struct vfio_user_irq_set s = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER | 0x40, MSI, 0, 1);

	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	s.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER | 0x80000000u;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	s = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, MSI, 0, 1);
	s.argsz = sizeof(s) - 1;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	case_done();
}

static void test_set_irqs_fewer_fds(void **state)
{
	int fds[2] = { new_eventfd(), new_eventfd() };
	struct vfio_user_irq_set s = irq_set(EVT_TRIGGER, MSIX, 0, 4);

	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), fds, 2, EINVAL);
	expect_fds_while_connected(1);
	/* and more fds than count */
	s.count = 1;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), fds, 2, EINVAL);
	expect_fds_while_connected(1);
	case_done();
}

static void test_set_irqs_not_eventfd(void **state)
{
	int mfd = new_memfd(4096);
	int mixed[2] = { new_eventfd(), mfd };
	struct vfio_user_irq_set s = irq_set(EVT_TRIGGER, MSI, 0, 1);

	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), &mfd, 1, EINVAL);
	expect_fds_while_connected(1);
	s = irq_set(EVT_TRIGGER, MSIX, 0, 2);
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), mixed, 2, EINVAL);
	expect_fds_while_connected(1);
	case_done();
}

static void test_set_irqs_bool_short(void **state)
{
	struct {
		struct vfio_user_irq_set s;
		uint8_t b[2];
	} __attribute__((packed)) m = { irq_set(VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, MSIX, 0, 4),
					 { 1, 1 } };

	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_SET_IRQS, 0, &m, sizeof(m), NULL, 0, EINVAL);
	m.s.count = 1;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &m, sizeof(m.s), NULL, 0, EINVAL);
	case_done();
}

static void test_set_irqs_count0_eventfd(void **state)
{
	int efd = new_eventfd();
	struct vfio_user_irq_set s = irq_set(EVT_TRIGGER, MSI, 0, 0);

	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), &efd, 1, EINVAL);
	expect_fds_while_connected(1);
	case_done();
}

static void test_set_irqs_mask_msi(void **state)
{
	int efd = new_eventfd();
	struct vfio_user_irq_set s = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, MSI, 0, 1);

	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	s = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, MSIX, 0, 1);
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), NULL, 0, EINVAL);
	s = irq_set(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK, MSI, 0, 1);
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_SET_IRQS, 0, &s, sizeof(s), &efd, 1, EINVAL);
	expect_fds_while_connected(1);
	case_done();
}

/* INTx cannot be enabled while MSI is: the refused eventfd is not kept. */
static void test_set_irqs_type_conflict(void **state)
{
	int msi = new_eventfd(), intx = new_eventfd();

	fresh();
	assert_int_equal(vuc_set_irqs(F.c, MSI, EVT_TRIGGER, 0, 1, &msi, NULL), 0);
	assert_int_equal(proxy_fd_count(&F.proxy), F.case_fds + 2);
	assert_int_equal(vuc_set_irqs(F.c, INTX, EVT_TRIGGER, 0, 1, &intx, NULL), -EINVAL);
	assert_int_equal(proxy_fd_count(&F.proxy), F.case_fds + 2);
	case_done();
}

/* ==== REGION_WRITE_MULTI ==== */

static size_t multi(uint8_t *buf, uint64_t wr_cnt, uint32_t entries, uint32_t count)
{
	struct vfio_user_write_multi h = { .wr_cnt = wr_cnt };

	memcpy(buf, &h, sizeof(h));
	for (uint32_t i = 0; i < entries; i++) {
		struct vfio_user_write_one w = { .offset = EDU_REG_LIVENESS, .region = BAR0, .count = count };

		memset(w.data, 0x11, sizeof(w.data));
		memcpy(buf + sizeof(h) + i * sizeof(w), &w, sizeof(w));
	}
	return sizeof(h) + entries * sizeof(struct vfio_user_write_one);
}

static void test_write_multi_zero(void **state)
{
	uint8_t buf[64];
	size_t len = multi(buf, 0, 0, 4);

	EXPECT_ERR(fresh(), VFIO_USER_REGION_WRITE_MULTI, 0, buf, len, NULL, 0, EINVAL);
	len = multi(buf, 0, 1, 4);
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE_MULTI, 0, buf, len, NULL, 0, EINVAL);
	expect_live(F.c, 0xffffffffu);
	case_done();
}

static void test_write_multi_too_many(void **state)
{
	uint8_t *buf = big_buffer(8 + 202 * sizeof(struct vfio_user_write_one));
	size_t len = multi(buf, VFIO_USER_MULTI_MAX + 1, VFIO_USER_MULTI_MAX + 1, 4);

	EXPECT_ERR(fresh(), VFIO_USER_REGION_WRITE_MULTI, 0, buf, len, NULL, 0, EINVAL);
	len = multi(buf, 0x8000000000000001ull, 2, 4);
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE_MULTI, 0, buf, len, NULL, 0, EINVAL);
	expect_live(F.c, 0xffffffffu);
	/* exactly the maximum is done */
	len = multi(buf, VFIO_USER_MULTI_MAX, VFIO_USER_MULTI_MAX, 4);
	assert_int_equal(EXPECT_OK(F.c, VFIO_USER_REGION_WRITE_MULTI, buf, len, buf, 8), 8);
	assert_int_equal(*(uint64_t *)(void *)buf, VFIO_USER_MULTI_MAX);
	expect_live(F.c, ~0x11111111u);
	case_done();
}

static void test_write_multi_count_mismatch(void **state)
{
	uint8_t buf[8 + 4 * 24];
	size_t len = multi(buf, 3, 2, 4);

	EXPECT_ERR(fresh(), VFIO_USER_REGION_WRITE_MULTI, 0, buf, len, NULL, 0, EINVAL);
	len = multi(buf, 1, 2, 4);
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE_MULTI, 0, buf, len, NULL, 0, EINVAL);
	len = multi(buf, 2, 2, 4);
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE_MULTI, 0, buf, len - 1, NULL, 0, EINVAL);
	expect_live(F.c, 0xffffffffu);
	case_done();
}

static void test_write_multi_bad_entry(void **state)
{
	uint8_t buf[8 + 3 * 24];
	size_t len = multi(buf, 3, 3, 4);
	struct vfio_user_write_one *w = (void *)(buf + 8);

	w[2].count = 9;
	EXPECT_ERR(fresh(), VFIO_USER_REGION_WRITE_MULTI, 0, buf, len, NULL, 0, EINVAL);
	w[2].count = 0;
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE_MULTI, 0, buf, len, NULL, 0, EINVAL);
	w[2].count = 4;
	w[2].region = 9;
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE_MULTI, 0, buf, len, NULL, 0, EINVAL);
	w[2].region = BAR1;
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE_MULTI, 0, buf, len, NULL, 0, EINVAL);
	w[2].region = BAR0;
	w[2].offset = EDU_BAR_REGS_SIZE - 2;
	EXPECT_ERR(F.c, VFIO_USER_REGION_WRITE_MULTI, 0, buf, len, NULL, 0, EINVAL);
	/* all or nothing: the valid entries before the bad one were not applied */
	expect_live(F.c, 0xffffffffu);
	case_done();
}

/* ==== info requests ==== */

static void test_region_info_small_argsz(void **state)
{
	struct vfio_user_region_info r = { .argsz = 16, .index = BAR0 };

	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_GET_REGION_INFO, 0, &r, sizeof(r), NULL, 0, EINVAL);
	r.argsz = sizeof(r) - 1;
	r.index = BAR4;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_GET_REGION_INFO, 0, &r, sizeof(r), NULL, 0, EINVAL);
	r.argsz = 0;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_GET_REGION_INFO, 0, &r, sizeof(r), NULL, 0, EINVAL);
	case_done();
}

static void test_region_info_bad_index(void **state)
{
	struct vfio_user_region_info r = { .argsz = sizeof(r), .index = 9 };

	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_GET_REGION_INFO, 0, &r, sizeof(r), NULL, 0, EINVAL);
	r.index = 0xffffffffu;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_GET_REGION_INFO, 0, &r, sizeof(r), NULL, 0, EINVAL);
	case_done();
}

static void test_irq_info_bad_index(void **state)
{
	struct vfio_user_irq_info r = { .argsz = sizeof(r), .index = 5 };

	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_GET_IRQ_INFO, 0, &r, sizeof(r), NULL, 0, EINVAL);
	r.index = 0xffffffffu;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_GET_IRQ_INFO, 0, &r, sizeof(r), NULL, 0, EINVAL);
	case_done();
}

static void test_info_small_argsz(void **state)
{
	struct vfio_user_irq_info ii = { .argsz = sizeof(ii) - 1, .index = MSI };
	struct vfio_user_device_info di = { .argsz = sizeof(di) - 1 };

	EXPECT_ERR(fresh(), VFIO_USER_DEVICE_GET_IRQ_INFO, 0, &ii, sizeof(ii), NULL, 0, EINVAL);
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_GET_INFO, 0, &di, sizeof(di), NULL, 0, EINVAL);
	case_done();
}

/* ==== the client's side of device DMA: truncated windows, bad and late replies ==== */

#define DMA_IOVA 0x100000ull

static void set_bus_master(struct vuc *c)
{
	uint16_t cmd = 0;

	assert_int_equal(vuc_config_read(c, 4, &cmd, 2), 0);
	cmd |= 0x4;
	assert_int_equal(vuc_config_write(c, 4, &cmd, 2), 0);
}

/* Runs one edu DMA transfer and waits (generously) for it; returns the final command register. */
static uint64_t run_dma(struct vuc *c, uint64_t src, uint64_t dst, uint64_t count, uint64_t cmd)
{
	uint64_t v = 0;

	assert_int_equal(edu_run_dma(c, src, dst, count, cmd, &v), 0);
	return v;
}

/* The client shrinks the memfd behind a window: device DMA through it fails, the proxy survives. */
static void test_dma_window_truncated(void **state)
{
	int mfd = new_memfd(0x10000);

	fresh();
	set_bus_master(F.c);
	assert_int_equal(vuc_dma_map_fd(F.c, DMA_IOVA, 0x10000, mfd, 0, RW), 0);
	assert_int_equal(run_dma(F.c, DMA_IOVA, EDU_DMA_BUF_ADDR, 64, 0) & EDU_DMA_CMD_ERROR, 0);
	assert_int_equal(ftruncate(mfd, 0), 0);
	assert_true(run_dma(F.c, DMA_IOVA, EDU_DMA_BUF_ADDR, 64, 0) & EDU_DMA_CMD_ERROR);
	assert_true(run_dma(F.c, EDU_DMA_BUF_ADDR, DMA_IOVA + 0x8000, 64, EDU_DMA_CMD_TO_RAM) & EDU_DMA_CMD_ERROR);
	assert_true(proxy_alive(&F.proxy));
	case_done();
}

/*
 * Maps an fd-less window by hand (the client library does not know it, so nothing answers for us),
 * starts an edu DMA of count bytes from it with a posted write, and reads the server's DMA_READ.
 */
static void start_dma_read(struct vuc *c, uint32_t count, struct vfio_user_header *h,
			   struct vfio_user_dma_access *acc)
{
	struct vfio_user_dma_map m = dma_map(RW, 0, DMA_IOVA, 0x10000);
	struct {
		struct vfio_user_region_access ra;
		uint64_t v;
	} __attribute__((packed)) w = { region_access(BAR0, EDU_REG_DMA_CMD, 8), EDU_DMA_CMD_RUN };

	EXPECT_OK(c, VFIO_USER_DMA_MAP, &m, sizeof(m), NULL, 0);
	set_bus_master(c);
	assert_int_equal(vuc_write64(c, BAR0, EDU_REG_DMA_SRC, DMA_IOVA), 0);
	assert_int_equal(vuc_write64(c, BAR0, EDU_REG_DMA_DST, EDU_DMA_BUF_ADDR), 0);
	assert_int_equal(vuc_write64(c, BAR0, EDU_REG_DMA_COUNT, count), 0);
	assert_int_equal(vuc_request_raw(c, VFIO_USER_REGION_WRITE, VFIO_USER_F_NO_REPLY, &w, sizeof(w), NULL, 0, NULL,
					 NULL, 0, NULL, NULL, NULL),
			 0);
	assert_int_equal(recv_raw_msg(c, h, acc, sizeof(*acc)), sizeof(*acc));
	assert_int_equal(h->cmd, VFIO_USER_DMA_READ);
	assert_int_equal(h->flags, VFIO_USER_F_TYPE_COMMAND);
	assert_int_equal(acc->addr, DMA_IOVA);
	assert_int_equal(acc->count, count);
}

/* Our reply to the server's DMA_READ: data_len bytes of 0x3c after the 16-byte prefix, or an error. */
static void send_dma_reply(struct vuc *c, const struct vfio_user_header *req, const struct vfio_user_dma_access *acc,
			   size_t data_len, uint32_t err)
{
	uint8_t buf[HDR + sizeof(*acc) + 256];
	struct vfio_user_header h = { .msg_id = req->msg_id, .cmd = req->cmd, .flags = VFIO_USER_F_TYPE_REPLY };
	size_t len = HDR + sizeof(*acc) + data_len;

	assert_true(data_len <= 256);
	if (err) {
		h.flags |= VFIO_USER_F_ERROR;
		h.error_no = err;
		len = HDR;
	}
	h.msg_size = (uint32_t)len;
	memcpy(buf, &h, HDR);
	memcpy(buf + HDR, acc, sizeof(*acc));
	memset(buf + HDR + sizeof(*acc), 0x3c, data_len);
	assert_int_equal(vuc_send_raw(c, buf, len, NULL, 0), 0);
}

static void expect_dma_buf(struct vuc *c, uint8_t byte, size_t n)
{
	uint8_t got[64], want[64];

	memset(want, byte, sizeof(want));
	assert_int_equal(vuc_region_read(c, BAR0, EDU_DMA_BUF_ADDR, got, (uint32_t)n), 0);
	assert_memory_equal(got, want, n);
}

/* The well-behaved exchange the cases below depart from. */
static void test_dma_reply_good(void **state)
{
	struct vfio_user_header h;
	struct vfio_user_dma_access acc;
	uint64_t v = 0;

	start_dma_read(fresh(), 64, &h, &acc);
	send_dma_reply(F.c, &h, &acc, 64, 0);
	assert_int_equal(vuc_read64(F.c, BAR0, EDU_REG_DMA_CMD, &v), 0);
	assert_int_equal(v & (EDU_DMA_CMD_RUN | EDU_DMA_CMD_ERROR), 0);
	expect_dma_buf(F.c, 0x3c, 64);
	case_done();
}

static void test_dma_reply_short(void **state)
{
	struct vfio_user_header h;
	struct vfio_user_dma_access acc;

	start_dma_read(fresh(), 64, &h, &acc);
	send_dma_reply(F.c, &h, &acc, 63, 0);
	expect_disconnect(F.c);
	case_done();
}

static void test_dma_reply_duplicate(void **state)
{
	struct vfio_user_header h;
	struct vfio_user_dma_access acc;

	start_dma_read(fresh(), 64, &h, &acc);
	send_dma_reply(F.c, &h, &acc, 64, 0);
	send_dma_reply(F.c, &h, &acc, 64, 0);
	expect_disconnect(F.c);
	case_done();
}

static void test_dma_reply_wrong_command(void **state)
{
	struct vfio_user_header h;
	struct vfio_user_dma_access acc;

	start_dma_read(fresh(), 64, &h, &acc);
	h.cmd = VFIO_USER_DMA_WRITE;
	send_dma_reply(F.c, &h, &acc, 64, 0);
	expect_disconnect(F.c);
	case_done();
}

/* An error reply fails the transfer (error bit) and nothing else. */
static void test_dma_reply_error(void **state)
{
	struct vfio_user_header h;
	struct vfio_user_dma_access acc;
	uint64_t v = 0;

	start_dma_read(fresh(), 64, &h, &acc);
	send_dma_reply(F.c, &h, &acc, 0, EFAULT);
	assert_int_equal(vuc_read64(F.c, BAR0, EDU_REG_DMA_CMD, &v), 0);
	assert_int_equal(v & (EDU_DMA_CMD_RUN | EDU_DMA_CMD_ERROR), EDU_DMA_CMD_ERROR);
	expect_dma_buf(F.c, 0, 64);
	case_done();
}

/* A reply that arrives after DEVICE_RESET forgot its request is dropped quietly. */
static void test_dma_reply_after_reset(void **state)
{
	struct vfio_user_header h;
	struct vfio_user_dma_access acc;
	uint64_t v = 1;

	start_dma_read(fresh(), 64, &h, &acc);
	EXPECT_OK(F.c, VFIO_USER_DEVICE_RESET, NULL, 0, NULL, 0);
	send_dma_reply(F.c, &h, &acc, 64, 0);
	assert_int_equal(vuc_read64(F.c, BAR0, EDU_REG_DMA_CMD, &v), 0);
	assert_int_equal(v, 0);
	expect_dma_buf(F.c, 0, 64);
	case_done();
}

/* The client leaves while the server waits for its DMA_READ reply. */
static void test_dma_client_gone_outstanding(void **state)
{
	struct vfio_user_header h;
	struct vfio_user_dma_access acc;

	start_dma_read(fresh(), 64, &h, &acc);
	vuc_close(F.c);
	F.c = NULL;
	case_done();
}

/* max_dma_maps windows (posted maps), then one more: ENOSPC; then gone with all of them mapped. */
static void test_dma_map_limit(void **state)
{
	enum { BATCH = 1024 };
	const uint32_t limit = VFIO_USER_DEF_MAX_DMA_MAPS;
	const size_t one = HDR + sizeof(struct vfio_user_dma_map);
	uint8_t *buf = big_buffer(BATCH * one);
	struct vfio_user_dma_map m;
	struct vfio_user_dma_unmap u;

	fresh();
	for (uint32_t i = 0; i < limit;) {
		uint32_t n = limit - i < BATCH ? limit - i : BATCH;

		for (uint32_t j = 0; j < n; j++) {
			struct vfio_user_header h = { .msg_id = (uint16_t)(i + j), .cmd = VFIO_USER_DMA_MAP,
						      .msg_size = (uint32_t)one, .flags = VFIO_USER_F_NO_REPLY };

			m = dma_map(VFIO_USER_F_DMA_REGION_READ, 0, 0x100000000ull + (uint64_t)(i + j) * 0x1000, 0x1000);
			memcpy(buf + j * one, &h, HDR);
			memcpy(buf + j * one + HDR, &m, sizeof(m));
		}
		assert_int_equal(vuc_send_raw(F.c, buf, n * one, NULL, 0), 0);
		i += n;
	}
	m = dma_map(VFIO_USER_F_DMA_REGION_READ, 0, 0x10000, 0x1000);
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, ENOSPC);
	/* every posted map was taken: the last one unmaps exactly, and its room serves the refused one */
	u = dma_unmap(0, 0x100000000ull + (uint64_t)(limit - 1) * 0x1000, 0x1000);
	EXPECT_OK(F.c, VFIO_USER_DMA_UNMAP, &u, sizeof(u), NULL, 0);
	EXPECT_OK(F.c, VFIO_USER_DMA_MAP, &m, sizeof(m), NULL, 0);
	m.addr = 0x20000;
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, ENOSPC);
	case_done();
}

/*
 * As many fd-backed windows as max_dma_maps allows, each one a mapping in the proxy: past the kernel's
 * vm.max_map_count (65530 by default) its mmap fails with ENOMEM. The session goes on, and all of it is
 * released when the client leaves.
 */
static void test_dma_map_fd_flood(void **state)
{
	int fd = new_memfd(0x1000);
	uint32_t i;
	int ret = 0;

	fresh();
	for (i = 0; i < VFIO_USER_DEF_MAX_DMA_MAPS; i++) {
		ret = vuc_dma_map_fd(F.c, 0x100000000ull + (uint64_t)i * 0x1000, 0x1000, fd, 0, RW);
		if (ret)
			break;
	}
	if (ret) {
		if (ret != -ENOMEM)
			print_error("window %u: expected ENOMEM or success, got %d (%s)\n", i, -ret, strerror(-ret));
		assert_int_equal(ret, -ENOMEM);
		assert_true(i > 60000);
	}
	assert_true(proxy_map_count(&F.proxy) > (int)i);
	expect_fds_while_connected(1);
	vuc_close(F.c);
	F.c = NULL;
	assert_int_equal(proxy_wait_fds(&F.proxy, F.case_fds, CLEANUP_MS), F.case_fds);
	assert_int_equal(proxy_map_count(&F.proxy), F.case_maps);
	case_done();
}

/* Replacing, de-assigning and disabling eventfds releases the ones they replace. */
static void test_set_irqs_reassign_no_leak(void **state)
{
	int a[EDU_MSIX_VECTORS], b[EDU_MSIX_VECTORS];

	for (unsigned int i = 0; i < EDU_MSIX_VECTORS; i++) {
		a[i] = new_eventfd();
		b[i] = new_eventfd();
	}
	fresh();
	assert_int_equal(vuc_set_irqs(F.c, MSIX, EVT_TRIGGER, 0, EDU_MSIX_VECTORS, a, NULL), 0);
	assert_int_equal(proxy_fd_count(&F.proxy), F.case_fds + 1 + EDU_MSIX_VECTORS);
	assert_int_equal(vuc_set_irqs(F.c, MSIX, EVT_TRIGGER, 0, EDU_MSIX_VECTORS, b, NULL), 0);
	assert_int_equal(proxy_fd_count(&F.proxy), F.case_fds + 1 + EDU_MSIX_VECTORS);
	assert_int_equal(vuc_set_irqs(F.c, MSIX, EVT_TRIGGER, 2, 1, NULL, NULL), 0);
	assert_int_equal(proxy_fd_count(&F.proxy), F.case_fds + EDU_MSIX_VECTORS);
	assert_int_equal(vuc_set_irqs(F.c, MSIX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, NULL, NULL),
			 0);
	assert_int_equal(proxy_fd_count(&F.proxy), F.case_fds + 1);
	case_done();
}

/* ==== a client that leaves with everything set up ==== */

/* fd-backed windows, MSI-X, ERR and REQ eventfds and an INTx unmask eventfd, then gone without undoing any. */
static void test_disconnect_holding_resources(void **state)
{
	int msix[EDU_MSIX_VECTORS], err_fd = new_eventfd(), req_fd = new_eventfd(), unmask = new_eventfd();
	struct vfio_user_region_info info;
	size_t caps_len;
	int bar4_fd = -1;
	uint32_t v;

	for (unsigned int i = 0; i < EDU_MSIX_VECTORS; i++)
		msix[i] = new_eventfd();
	fresh();
	for (int i = 0; i < 3; i++) {
		int mfd = new_memfd(0x10000);

		assert_int_equal(vuc_dma_map_fd(F.c, 0x100000 + (uint64_t)i * 0x100000, 0x10000, mfd, 0, RW), 0);
	}
	/* and one window served through messages */
	assert_int_equal(vuc_dma_map_mem(F.c, 0x800000, 0x1000, big_buffer(0x1000), RW), 0);
	assert_int_equal(vuc_set_irqs(F.c, MSIX, EVT_TRIGGER, 0, EDU_MSIX_VECTORS, msix, NULL), 0);
	assert_int_equal(vuc_set_irqs(F.c, ERR_IRQ, EVT_TRIGGER, 0, 1, &err_fd, NULL), 0);
	assert_int_equal(vuc_set_irqs(F.c, REQ_IRQ, EVT_TRIGGER, 0, 1, &req_fd, NULL), 0);
	assert_int_equal(vuc_set_irqs(F.c, INTX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, &unmask,
				      NULL),
			 0);
	assert_int_equal(vuc_region_info(F.c, BAR4, &info, NULL, 0, &caps_len, &bar4_fd), 0);
	if (bar4_fd >= 0)
		keep_fd(bar4_fd);
	assert_int_equal(vuc_read32(F.c, BAR0, EDU_REG_ID, &v), 0);
	/* the socket and every eventfd; window fds are not kept (the mappings are) */
	assert_int_equal(proxy_fd_count(&F.proxy), F.case_fds + 1 + EDU_MSIX_VECTORS + 3);
	assert_true(proxy_map_count(&F.proxy) >= F.case_maps + 3);
	vuc_close(F.c);
	F.c = NULL;
	assert_int_equal(proxy_wait_fds(&F.proxy, F.case_fds, CLEANUP_MS), F.case_fds);
	assert_int_equal(proxy_map_count(&F.proxy), F.case_maps);
	case_done();
	assert_int_equal(proxy_map_count(&F.proxy), F.case_maps);
}

/* The same with INTx enabled and its mask eventfd. */
static void test_disconnect_holding_intx(void **state)
{
	int trig = new_eventfd(), unmask = new_eventfd();
	int mfd = new_memfd(0x200000);

	fresh();
	assert_int_equal(vuc_set_irqs(F.c, INTX, EVT_TRIGGER, 0, 1, &trig, NULL), 0);
	assert_int_equal(vuc_set_irqs(F.c, INTX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, &unmask,
				      NULL),
			 0);
	assert_int_equal(vuc_dma_map_fd(F.c, 0x40000000, 0x100000, mfd, 0x100000, VFIO_USER_F_DMA_REGION_READ), 0);
	assert_int_equal(proxy_fd_count(&F.proxy), F.case_fds + 3);
	vuc_close(F.c);
	F.c = NULL;
	assert_int_equal(proxy_wait_fds(&F.proxy, F.case_fds, CLEANUP_MS), F.case_fds);
	assert_int_equal(proxy_map_count(&F.proxy), F.case_maps);
	case_done();
}

/* ==== a client that never reads its replies (separate proxy with a short --client-timeout) ==== */

static void test_client_never_reads(void **state)
{
	static const char *const args[] = { "--client-timeout", "300", NULL };
	struct proxy_proc p;
	struct vuc *c = NULL, *chk;
	struct vfio_user_region_access ra = region_access(BAR4, 0, VFIO_USER_SERVER_MAX_DATA_XFER);
	uint8_t buf[8 * (HDR + sizeof(ra))];
	int base, n;
	uint32_t v = 0;

	if (proxy_start(&p, args)) {
		proxy_dump_log(&p);
		proxy_kill(&p);
		fail_msg("proxy with --client-timeout did not start");
	}
	chk = first_client(&p);
	if (!chk)
		proxy_kill(&p);
	assert_non_null(chk);
	base = proxy_fd_count(&p) - 1;
	vuc_close(chk);
	n = proxy_wait_fds(&p, base, CLEANUP_MS);
	if (n != base || vuc_connect(p.socket_path, &c) || vuc_negotiate(c, &(struct vuc_server_caps){ 0 })) {
		vuc_close(c);
		proxy_kill(&p);
		fail_msg("proxy with --client-timeout not usable");
	}
	/* 8 MiB of replies asked for, none read: the server cannot finish the first one */
	for (int i = 0; i < 8; i++) {
		struct vfio_user_header h = { .msg_id = (uint16_t)(0x500 + i), .cmd = VFIO_USER_REGION_READ,
					      .msg_size = HDR + sizeof(ra) };

		memcpy(buf + i * (HDR + sizeof(ra)), &h, HDR);
		memcpy(buf + i * (HDR + sizeof(ra)) + HDR, &ra, sizeof(ra));
	}
	if (vuc_send_raw(c, buf, sizeof(buf), NULL, 0)) {
		vuc_close(c);
		proxy_kill(&p);
		fail_msg("could not send the requests");
	}
	/* the proxy gives up on it: its socket is closed while we still read nothing */
	n = proxy_wait_fds(&p, base, 10000) == base ? vuc_wait_closed(c, WAIT_MS) : -1;
	vuc_close(c);
	if (n == 0) {
		n = proxy_alive(&p) && proxy_wait_fds(&p, base, CLEANUP_MS) == base ? 0 : -1;
		chk = n == 0 ? proxy_client(&p) : NULL;
		if (!chk || vuc_read32(chk, BAR0, EDU_REG_ID, &v) || v != EDU_ID_VALUE)
			n = -1;
		vuc_close(chk);
		if (proxy_wait_fds(&p, base, CLEANUP_MS) != base)
			n = -1;
	} else {
		n = -2;
	}
	if (n) {
		proxy_dump_log(&p);
		proxy_kill(&p);
		fail_msg("%s", n == -2 ? "the proxy kept a client that never reads" : "proxy unhealthy after dropping it");
	}
	assert_int_equal(proxy_stop(&p), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, case_setup, case_teardown)
	const struct CMUnitTest tests[] = {
		/* framing */
		T(test_truncated_header_hangup),
		T(test_truncated_payload_hangup),
		T(test_msg_size_below_header),
		T(test_msg_size_over_limit),
		T(test_msg_size_at_limit),
		T(test_garbage_bytes),
		T(test_vanish_mid_message),
		T(test_vanish_mid_message_with_fd),
		T(test_pipelined_bad_and_good),
		T(test_byte_by_byte),
		/* types and flags */
		T(test_reply_matching_no_request),
		T(test_reply_with_fds),
		T(test_unknown_type_bits),
		T(test_error_flag_on_command),
		T(test_unknown_flag_bits),
		T(test_no_reply_error_is_silent),
		/* VERSION */
		T(test_commands_before_version),
		T(test_reply_before_version),
		T(test_second_version),
		T(test_version_short_payload),
		T(test_version_json_not_terminated),
		T(test_version_json_too_long),
		T(test_version_major_1),
		T(test_version_bad_capabilities),
		/* short payloads */
		T(test_short_dma_map),
		T(test_short_dma_unmap),
		T(test_short_get_info),
		T(test_short_get_region_info),
		T(test_short_get_irq_info),
		T(test_short_set_irqs),
		T(test_short_region_read),
		T(test_short_region_write),
		T(test_short_write_multi),
		T(test_short_device_feature),
		/* commands not taken */
		T(test_unknown_commands),
		T(test_dma_read_write_from_client),
		T(test_device_feature_unknown),
		T(test_mig_data),
		T(test_region_io_fds),
		/* region access */
		T(test_region_index_out_of_range),
		T(test_region_offset_overflow),
		T(test_region_offset_beyond_size),
		T(test_region_count_zero),
		T(test_region_count_over_max_xfer),
		T(test_region_write_length_mismatch),
		T(test_region_absent),
		/* DMA_MAP */
		T(test_dma_map_overlap),
		T(test_dma_map_overlap_fd_no_leak),
		T(test_dma_map_size_zero),
		T(test_dma_map_unaligned_addr),
		T(test_dma_map_unaligned_size),
		T(test_dma_map_wraps),
		T(test_dma_map_flags),
		T(test_dma_map_argsz),
		T(test_dma_map_fd_unaligned_offset),
		T(test_dma_map_fd_too_small),
		T(test_dma_map_fd_pipe),
		T(test_dma_map_fd_eventfd),
		T(test_dma_map_fd_socket),
		T(test_dma_map_fd_directory),
		T(test_dma_map_fd_read_only),
		T(test_dma_map_two_fds),
		/* DMA_UNMAP */
		T(test_dma_unmap_unknown),
		T(test_dma_unmap_inexact),
		T(test_dma_unmap_all_nonzero),
		T(test_dma_unmap_dirty_bitmap),
		T(test_dma_unmap_argsz),
		/* fds */
		T(test_fds_on_get_info),
		T(test_fds_forty),
		T(test_fds_seventeen_on_set_irqs),
		T(test_fds_partial_header_hangup),
		T(test_fds_mid_message),
		/* SET_IRQS */
		T(test_set_irqs_range),
		T(test_set_irqs_index),
		T(test_set_irqs_two_data_bits),
		T(test_set_irqs_two_action_bits),
		T(test_set_irqs_no_action),
		T(test_set_irqs_unknown_flags),
		T(test_set_irqs_fewer_fds),
		T(test_set_irqs_not_eventfd),
		T(test_set_irqs_bool_short),
		T(test_set_irqs_count0_eventfd),
		T(test_set_irqs_mask_msi),
		T(test_set_irqs_type_conflict),
		T(test_set_irqs_reassign_no_leak),
		/* REGION_WRITE_MULTI */
		T(test_write_multi_zero),
		T(test_write_multi_too_many),
		T(test_write_multi_count_mismatch),
		T(test_write_multi_bad_entry),
		/* info */
		T(test_region_info_small_argsz),
		T(test_region_info_bad_index),
		T(test_irq_info_bad_index),
		T(test_info_small_argsz),
		/* device DMA against a hostile client */
		T(test_dma_window_truncated),
		T(test_dma_reply_good),
		T(test_dma_reply_short),
		T(test_dma_reply_duplicate),
		T(test_dma_reply_wrong_command),
		T(test_dma_reply_error),
		T(test_dma_reply_after_reset),
		T(test_dma_client_gone_outstanding),
		T(test_dma_map_limit),
		T(test_dma_map_fd_flood),
		/* clients that leave with resources, or never read */
		T(test_disconnect_holding_resources),
		T(test_disconnect_holding_intx),
		cmocka_unit_test(test_client_never_reads),
	};
#undef T

	return cmocka_run_group_tests_name("bad_input", tests, group_setup, group_teardown);
}
