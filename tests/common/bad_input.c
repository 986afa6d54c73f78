/* bad_input.c: the hostile-input suites' fixture: one proxy per suite, the fd/map baseline every case returns to, raw messages and their checks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bad_input.h"

struct bad_input_fixture F;

/* ---- test-side resources, released in teardown even when a case fails ---- */

int keep_fd(int fd)
{
	assert_true(fd >= 0);
	assert_true(F.nfds < MAX_TEST_FDS);
	F.fds[F.nfds++] = fd;
	return fd;
}

int new_eventfd(void)
{
	return keep_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
}

int new_memfd(size_t size)
{
	int fd = memfd_create("vup-bad-input", MFD_CLOEXEC);

	keep_fd(fd);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

void *big_buffer(size_t size)
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
struct vuc *first_client(const struct proxy_proc *p)
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

int group_setup(void **state)
{
	memset(&F, 0, sizeof(F));
	return start_proxy();
}

int group_teardown(void **state)
{
	int ret = 0;

	if (F.running)
		ret = proxy_stop(&F.proxy);
	F.running = false;
	return ret ? -1 : 0;
}

int case_setup(void **state)
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

int case_teardown(void **state)
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
struct vuc *fresh(void)
{
	vuc_close(F.c);
	F.c = proxy_client(&F.proxy);
	assert_non_null(F.c);
	F.c_alive = true;
	return F.c;
}

/* A connected client that has not sent VERSION. */
struct vuc *unversioned(void)
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
void case_done(void)
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

/* A header-only error reply with exactly err, echoing the command, carrying no fd. */
void expect_err(int line, struct vuc *c, uint16_t cmd, uint32_t flags, const void *p, size_t len, const int *fds,
		size_t nfds, int err)
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
size_t expect_ok(int line, struct vuc *c, uint16_t cmd, const void *p, size_t len, const int *fds, size_t nfds,
		 void *reply, size_t cap)
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
void expect_disconnect(struct vuc *c)
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
void send_msg(struct vuc *c, uint16_t id, uint16_t cmd, uint32_t flags, uint32_t msg_size, const void *p, size_t len,
	      const int *fds, size_t nfds)
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
size_t recv_raw_msg(struct vuc *c, struct vfio_user_header *h, void *payload, size_t cap)
{
	recv_exact(c, h, HDR);
	assert_true(h->msg_size >= HDR && h->msg_size - HDR <= cap);
	recv_exact(c, payload, h->msg_size - HDR);
	return h->msg_size - HDR;
}

struct vfio_user_dma_map dma_map(uint32_t flags, uint64_t offset, uint64_t addr, uint64_t size)
{
	return (struct vfio_user_dma_map){
		.argsz = sizeof(struct vfio_user_dma_map), .flags = flags, .offset = offset, .addr = addr, .size = size
	};
}

struct vfio_user_dma_unmap dma_unmap(uint32_t flags, uint64_t addr, uint64_t size)
{
	return (struct vfio_user_dma_unmap){
		.argsz = sizeof(struct vfio_user_dma_unmap), .flags = flags, .addr = addr, .size = size
	};
}

void expect_live(struct vuc *c, uint32_t want)
{
	uint32_t v = 0;

	assert_int_equal(vuc_read32(c, BAR0, EDU_REG_LIVENESS, &v), 0);
	assert_int_equal(v, want);
}

/*
 * The proxy's fd count while the case's client is connected: its socket plus held extra fds. fds it
 * refused are closed right after the error reply goes out, hence the wait.
 */
void expect_fds_while_connected(int held)
{
	assert_int_equal(proxy_wait_fds(&F.proxy, F.case_fds + held, CLEANUP_MS), F.case_fds + held);
}
