/* test_session.c: framing and validation of the server's session, fed raw bytes through a socketpair in-process. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend.h"
#include "edu_model.h"
#include "server/session.h"

struct fixture {
	struct device_backend *b;
	struct server_ctx ctx;
	struct session s;
	int peer; /* the client's end */
	uint16_t id;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int sv[2];

	if (!f || emulated_backend_create("edu", &f->b) || server_ctx_init(&f->ctx, f->b, 1000))
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	f->peer = sv[1];
	if (session_start(&f->s, &f->ctx, sv[0]))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	session_end(&f->s);
	close(f->peer);
	server_ctx_fini(&f->ctx);
	f->b->ops->destroy(f->b);
	free(f);
	return 0;
}

static void send_bytes(struct fixture *f, const void *p, size_t n, int fd)
{
	struct iovec iov = { .iov_base = (void *)p, .iov_len = n };
	union {
		struct cmsghdr a;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.b;
		m.msg_controllen = sizeof(ctl.b);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	assert_int_equal(sendmsg(f->peer, &m, 0), (ssize_t)n);
}

/* Builds a command message into buf; returns its size. */
static size_t build(struct fixture *f, uint8_t *buf, uint16_t cmd, uint32_t flags, const void *payload, size_t len)
{
	struct vfio_user_header h = { .msg_id = ++f->id, .cmd = cmd, .msg_size = (uint32_t)(sizeof(h) + len),
				      .flags = flags };

	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	return sizeof(h) + len;
}

/* Reads one reply from the peer end; returns its payload length, fills *h. */
static size_t recv_reply(struct fixture *f, struct vfio_user_header *h, void *payload, size_t cap)
{
	struct pollfd p = { .fd = f->peer, .events = POLLIN };
	size_t n = 0;

	assert_int_equal(poll(&p, 1, 1000), 1);
	assert_int_equal(recv(f->peer, h, sizeof(*h), MSG_WAITALL), (ssize_t)sizeof(*h));
	assert_true(h->msg_size >= sizeof(*h));
	n = h->msg_size - sizeof(*h);
	assert_true(n <= cap);
	if (n)
		assert_int_equal(recv(f->peer, payload, n, MSG_WAITALL), (ssize_t)n);
	return n;
}

static void negotiate(struct fixture *f)
{
	uint8_t buf[256], rep[512];
	struct vfio_user_version v = { .major = 0, .minor = 2 };
	struct vfio_user_header h;
	size_t n = build(f, buf, VFIO_USER_VERSION, 0, &v, sizeof(v));

	send_bytes(f, buf, n, -1);
	assert_int_equal(session_on_readable(&f->s), 0);
	recv_reply(f, &h, rep, sizeof(rep));
	assert_int_equal(h.flags, VFIO_USER_F_TYPE_REPLY);
	assert_true(f->s.versioned);
}

static void test_byte_by_byte(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_region_access rd = { .offset = EDU_REG_ID, .region = 0, .count = 4 };
	uint8_t buf[64], rep[64];
	struct vfio_user_header h;
	size_t n;
	uint32_t id;

	negotiate(f);
	n = build(f, buf, VFIO_USER_REGION_READ, 0, &rd, sizeof(rd));
	for (size_t i = 0; i < n; i++) {
		send_bytes(f, buf + i, 1, -1);
		assert_int_equal(session_on_readable(&f->s), 0);
	}
	assert_int_equal(recv_reply(f, &h, rep, sizeof(rep)), sizeof(rd) + 4);
	assert_int_equal(h.msg_id, f->id);
	assert_int_equal(h.cmd, VFIO_USER_REGION_READ);
	memcpy(&id, rep + sizeof(rd), 4);
	assert_int_equal(id, EDU_ID_VALUE);
}

static void test_two_messages_one_write(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_region_access rd = { .offset = EDU_REG_ID, .region = 0, .count = 4 };
	uint8_t buf[128], rep[64];
	struct vfio_user_header h;
	size_t n;

	negotiate(f);
	n = build(f, buf, VFIO_USER_REGION_READ, 0, &rd, sizeof(rd));
	n += build(f, buf + n, VFIO_USER_DEVICE_RESET, 0, NULL, 0);
	send_bytes(f, buf, n, -1);
	assert_int_equal(session_on_readable(&f->s), 0);
	recv_reply(f, &h, rep, sizeof(rep));
	assert_int_equal(h.cmd, VFIO_USER_REGION_READ);
	recv_reply(f, &h, rep, sizeof(rep));
	assert_int_equal(h.cmd, VFIO_USER_DEVICE_RESET);
	assert_int_equal(h.msg_id, f->id);
}

static void test_no_reply_flag(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64];
	struct pollfd p;
	size_t n;

	negotiate(f);
	n = build(f, buf, VFIO_USER_DEVICE_RESET, VFIO_USER_F_NO_REPLY, NULL, 0);
	send_bytes(f, buf, n, -1);
	assert_int_equal(session_on_readable(&f->s), 0);
	p = (struct pollfd){ .fd = f->peer, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 50), 0);
}

static void test_error_reply_shape(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64], rep[64];
	struct vfio_user_header h;
	size_t n;

	negotiate(f);
	n = build(f, buf, 0x77, 0, NULL, 0);
	send_bytes(f, buf, n, -1);
	assert_int_equal(session_on_readable(&f->s), 0);
	assert_int_equal(recv_reply(f, &h, rep, sizeof(rep)), 0); /* header only */
	assert_int_equal(h.flags, VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR);
	assert_int_equal(h.error_no, ENOSYS);
	assert_int_equal(h.cmd, 0x77);
}

static void test_before_version_drops(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64];
	size_t n = build(f, buf, VFIO_USER_DEVICE_RESET, 0, NULL, 0);

	send_bytes(f, buf, n, -1);
	assert_int_equal(session_on_readable(&f->s), -EPROTO);
}

static void test_oversize_drops(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_header h = { .msg_id = 1, .cmd = VFIO_USER_REGION_WRITE, .msg_size = 0x7fffffff };

	negotiate(f);
	send_bytes(f, &h, sizeof(h), -1);
	assert_int_equal(session_on_readable(&f->s), -EMSGSIZE);
}

static void test_undersize_drops(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_header h = { .msg_id = 1, .cmd = VFIO_USER_REGION_WRITE, .msg_size = 15 };

	negotiate(f);
	send_bytes(f, &h, sizeof(h), -1);
	assert_int_equal(session_on_readable(&f->s), -EMSGSIZE);
}

static void test_eof(void **state)
{
	struct fixture *f = *state;
	uint8_t half[8] = { 0 };

	negotiate(f);
	send_bytes(f, half, sizeof(half), -1);
	assert_int_equal(session_on_readable(&f->s), 0);
	shutdown(f->peer, SHUT_WR);
	assert_int_equal(session_on_readable(&f->s), -ECONNRESET);
}

static void test_fd_on_wrong_message_is_closed(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_device_info req = { .argsz = sizeof(req) };
	uint8_t buf[64], rep[64];
	struct vfio_user_header h;
	int efd = eventfd(0, EFD_CLOEXEC);
	int probe;
	size_t n;

	negotiate(f);
	n = build(f, buf, VFIO_USER_DEVICE_GET_INFO, 0, &req, sizeof(req));
	send_bytes(f, buf, n, efd);
	assert_int_equal(session_on_readable(&f->s), 0);
	recv_reply(f, &h, rep, sizeof(rep));
	assert_int_equal(h.error_no, EINVAL);
	assert_int_equal(f->s.rx_nfds, 0);
	/* the fd the server received is gone: the next fd number is the lowest free one again */
	close(efd);
	probe = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(probe, efd);
	close(probe);
}

static void test_fds_mid_payload_drop(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_region_access wr = { .offset = EDU_REG_LIVENESS, .region = 0, .count = 4 };
	uint8_t buf[64];
	size_t n;
	int efd = eventfd(0, EFD_CLOEXEC);

	negotiate(f);
	n = build(f, buf, VFIO_USER_REGION_WRITE, 0, &wr, sizeof(wr));
	buf[n] = 1, buf[n + 1] = 2, buf[n + 2] = 3, buf[n + 3] = 4;
	((struct vfio_user_header *)buf)->msg_size += 4;
	send_bytes(f, buf, n, -1);
	assert_int_equal(session_on_readable(&f->s), 0);
	send_bytes(f, buf + n, 4, efd);
	assert_int_equal(session_on_readable(&f->s), -EPROTO);
	close(efd);
}

/* A DMA_MAP with its fd right behind a message without: one read takes both, the fd goes to the map. */
static void test_fd_on_message_read_ahead(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_region_access wr = { .offset = EDU_REG_LIVENESS, .region = 0, .count = 4 };
	struct vfio_user_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE,
		.addr = 0x100000,
		.size = 0x1000,
	};
	uint8_t buf[128], rep[64];
	struct vfio_user_header h;
	int mfd = memfd_create("t", MFD_CLOEXEC);
	size_t n, m;

	assert_true(mfd >= 0);
	assert_int_equal(ftruncate(mfd, 0x1000), 0);
	negotiate(f);
	n = build(f, buf, VFIO_USER_REGION_WRITE, VFIO_USER_F_NO_REPLY, &wr, sizeof(wr));
	memset(buf + n, 0, 4);
	((struct vfio_user_header *)buf)->msg_size += 4;
	n += 4;
	/* the first half of the write, read on its own; then its rest and the map in separate sends */
	send_bytes(f, buf, 20, -1);
	assert_int_equal(session_on_readable(&f->s), 0);
	send_bytes(f, buf + 20, n - 20, -1);
	m = build(f, buf + n, VFIO_USER_DMA_MAP, 0, &map, sizeof(map));
	send_bytes(f, buf + n, m, mfd);
	close(mfd);
	assert_int_equal(session_on_readable(&f->s), 0);
	recv_reply(f, &h, rep, sizeof(rep));
	assert_int_equal(h.cmd, VFIO_USER_DMA_MAP);
	assert_int_equal(h.flags, VFIO_USER_F_TYPE_REPLY);
	assert_int_equal(dma_table_count(&f->s.windows), 1);
	assert_non_null(dma_table_find(&f->s.windows, 0x100000)->vaddr);
}

/* Many small messages in one read, the last of them split across reads. */
static void test_many_messages_one_read(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_region_access rd = { .offset = EDU_REG_ID, .region = 0, .count = 4 };
	uint8_t buf[100 * 32], rep[64];
	struct vfio_user_header h;
	size_t n = 0;

	negotiate(f);
	for (int i = 0; i < 100; i++)
		n += build(f, buf + n, VFIO_USER_REGION_READ, 0, &rd, sizeof(rd));
	send_bytes(f, buf, n - 7, -1);
	assert_int_equal(session_on_readable(&f->s), 0);
	send_bytes(f, buf + n - 7, 7, -1);
	assert_int_equal(session_on_readable(&f->s), 0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(recv_reply(f, &h, rep, sizeof(rep)), sizeof(rd) + 4);
		assert_int_equal(h.msg_id, f->id - 99 + i);
	}
}


static struct vfio_user_dma_map dma_map_req(uint64_t addr, uint64_t size)
{
	return (struct vfio_user_dma_map){
		.argsz = sizeof(struct vfio_user_dma_map),
		.flags = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE,
		.addr = addr,
		.size = size,
	};
}

static int page_memfd(size_t size)
{
	int mfd = memfd_create("t", MFD_CLOEXEC);

	assert_true(mfd >= 0);
	assert_int_equal(ftruncate(mfd, (off_t)size), 0);
	return mfd;
}

/* The next reply is a success for cmd. */
static void expect_ok(struct fixture *f, uint16_t cmd)
{
	struct vfio_user_header h;
	uint8_t rep[64];

	recv_reply(f, &h, rep, sizeof(rep));
	assert_int_equal(h.cmd, cmd);
	assert_int_equal(h.flags, VFIO_USER_F_TYPE_REPLY);
}

/* How far a read may reach: the smallest message that may carry fds is SET_IRQS's 36 bytes. */
static void test_read_span_is_smallest_fd_message(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(f->ctx.read_span, sizeof(struct vfio_user_header) + sizeof(struct vfio_user_irq_set));
	assert_true(f->ctx.read_span < sizeof(struct vfio_user_header) + sizeof(struct vfio_user_dma_map));
	assert_true(f->ctx.read_span <= SESSION_READAHEAD);
}

/* Small messages pipelined in front of a map that carries an fd, all in one read: the fd is the map's. */
static void test_fd_after_small_messages_in_one_read(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_dma_map map = dma_map_req(0x100000, 0x1000);
	uint8_t buf[128];
	int mfd = page_memfd(0x1000);
	size_t n, m;

	negotiate(f);
	n = build(f, buf, VFIO_USER_DEVICE_RESET, 0, NULL, 0);
	send_bytes(f, buf, n, -1);
	m = build(f, buf + n, VFIO_USER_DMA_MAP, 0, &map, sizeof(map));
	send_bytes(f, buf + n, m, mfd);
	close(mfd);
	assert_int_equal(session_on_readable(&f->s), 0);
	expect_ok(f, VFIO_USER_DEVICE_RESET);
	expect_ok(f, VFIO_USER_DMA_MAP);
	assert_non_null(dma_table_find(&f->s.windows, 0x100000)->vaddr);
}

/* A DMA_MAP and a REGION_READ in one sendmsg, the fd on its first byte: the fd is the map's. */
static void test_fd_belongs_to_first_message_of_its_send(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_dma_map map = dma_map_req(0x100000, 0x1000);
	struct vfio_user_region_access rd = { .offset = EDU_REG_ID, .region = 0, .count = 4 };
	uint8_t buf[128];
	int mfd = page_memfd(0x1000);
	size_t n;

	negotiate(f);
	n = build(f, buf, VFIO_USER_DMA_MAP, 0, &map, sizeof(map));
	n += build(f, buf + n, VFIO_USER_REGION_READ, 0, &rd, sizeof(rd));
	send_bytes(f, buf, n, mfd);
	close(mfd);
	assert_int_equal(session_on_readable(&f->s), 0);
	expect_ok(f, VFIO_USER_DMA_MAP);
	assert_non_null(dma_table_find(&f->s.windows, 0x100000)->vaddr); /* backed by the fd */
	expect_ok(f, VFIO_USER_REGION_READ);
}

/* Two sends queued before the server reads: a map without fd, then a map with one. Each keeps its own. */
static void test_fd_of_later_send_not_given_to_earlier(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_dma_map a = dma_map_req(0x100000, 0x1000), b = dma_map_req(0x200000, 0x1000);
	uint8_t buf[128], rep[64];
	struct vfio_user_header h;
	int mfd = page_memfd(0x1000);
	size_t n, m;

	negotiate(f);
	n = build(f, buf, VFIO_USER_DMA_MAP, 0, &a, sizeof(a));
	send_bytes(f, buf, n, -1);
	m = build(f, buf + n, VFIO_USER_DMA_MAP, 0, &b, sizeof(b));
	send_bytes(f, buf + n, m, mfd);
	close(mfd);
	assert_int_equal(session_on_readable(&f->s), 0);
	recv_reply(f, &h, rep, sizeof(rep));
	assert_int_equal(h.flags, VFIO_USER_F_TYPE_REPLY);
	recv_reply(f, &h, rep, sizeof(rep));
	assert_int_equal(h.flags, VFIO_USER_F_TYPE_REPLY);
	assert_null(dma_table_find(&f->s.windows, 0x100000)->vaddr);
	assert_non_null(dma_table_find(&f->s.windows, 0x200000)->vaddr);
}

/* Two maps in one send with one fd: the first has it, the second is fd-less. */
static void test_batch_of_two_maps_one_fd(void **state)
{
	struct fixture *f = *state;
	struct vfio_user_dma_map a = dma_map_req(0x100000, 0x1000), b = dma_map_req(0x200000, 0x1000);
	uint8_t buf[128], rep[64];
	struct vfio_user_header h;
	int mfd = page_memfd(0x1000);
	size_t n;

	negotiate(f);
	n = build(f, buf, VFIO_USER_DMA_MAP, 0, &a, sizeof(a));
	n += build(f, buf + n, VFIO_USER_DMA_MAP, 0, &b, sizeof(b));
	send_bytes(f, buf, n, mfd);
	close(mfd);
	assert_int_equal(session_on_readable(&f->s), 0);
	recv_reply(f, &h, rep, sizeof(rep));
	recv_reply(f, &h, rep, sizeof(rep));
	assert_non_null(dma_table_find(&f->s.windows, 0x100000)->vaddr);
	assert_null(dma_table_find(&f->s.windows, 0x200000)->vaddr);
}

static void negotiate_json(struct fixture *f, const char *json)
{
	uint8_t buf[512], rep[512];
	struct vfio_user_version v = { .major = 0, .minor = 2 };
	struct vfio_user_header h;
	uint8_t payload[256];
	size_t n;

	memcpy(payload, &v, sizeof(v));
	memcpy(payload + sizeof(v), json, strlen(json) + 1);
	n = build(f, buf, VFIO_USER_VERSION, 0, payload, sizeof(v) + strlen(json) + 1);
	send_bytes(f, buf, n, -1);
	assert_int_equal(session_on_readable(&f->s), 0);
	recv_reply(f, &h, rep, sizeof(rep));
	assert_int_equal(h.flags, VFIO_USER_F_TYPE_REPLY);
}

/* A fd-less window: the DMA_MAP without fd. */
static void map_fdless(struct fixture *f, uint64_t iova, uint64_t size)
{
	struct vfio_user_dma_map m = dma_map_req(iova, size);
	uint8_t buf[64], rep[64];
	struct vfio_user_header h;
	size_t n = build(f, buf, VFIO_USER_DMA_MAP, 0, &m, sizeof(m));

	send_bytes(f, buf, n, -1);
	assert_int_equal(session_on_readable(&f->s), 0);
	recv_reply(f, &h, rep, sizeof(rep));
	assert_int_equal(h.flags, VFIO_USER_F_TYPE_REPLY);
}

struct done_count {
	int calls;
	int status;
};

static void count_done(void *arg, int status)
{
	struct done_count *d = arg;

	d->calls++;
	d->status = status;
}

/* The client offers 64 MiB transfers; our DMA_READs still ask for no more than we can receive. */
static void test_dma_read_within_our_xfer_size(void **state)
{
	struct fixture *f = *state;
	const size_t len = 2u << 20;
	static uint8_t dst[2u << 20]; /* outstanding until teardown fails it */
	static struct done_count d;
	uint8_t *rep = malloc(SESSION_BUF_SIZE);
	struct vfio_user_header h;

	negotiate_json(f, "{\"capabilities\":{\"max_data_xfer_size\":67108864}}");
	map_fdless(f, 0x1000000, 4u << 20);
	assert_int_equal(dma_host_access(&f->s, 0x1000000, dst, len, false, count_done, &d), 1);
	for (int i = 0; i < 2; i++) {
		struct vfio_user_dma_access acc;

		assert_int_equal(recv_reply(f, &h, rep, SESSION_BUF_SIZE), sizeof(acc));
		memcpy(&acc, rep, sizeof(acc));
		assert_int_equal(h.cmd, VFIO_USER_DMA_READ);
		assert_true(acc.count <= VFIO_USER_SERVER_MAX_DATA_XFER);
	}
	free(rep);
}

/* DEVICE_RESET with DMA outstanding: the backend hears its transfer end (-ECANCELED), and the late reply is dropped. */
static void test_reset_completes_pending_dma(void **state)
{
	struct fixture *f = *state;
	uint8_t dst[64], buf[128], rep[128];
	struct done_count d = { 0 };
	struct vfio_user_header h, req;
	struct vfio_user_dma_access acc;
	size_t n;

	negotiate(f);
	map_fdless(f, 0x100000, 0x1000);
	assert_int_equal(dma_host_access(&f->s, 0x100000, dst, sizeof(dst), false, count_done, &d), 1);
	assert_int_equal(recv_reply(f, &req, rep, sizeof(rep)), sizeof(acc));
	n = build(f, buf, VFIO_USER_DEVICE_RESET, 0, NULL, 0);
	send_bytes(f, buf, n, -1);
	assert_int_equal(session_on_readable(&f->s), 0);
	recv_reply(f, &h, rep, sizeof(rep));
	assert_int_equal(h.cmd, VFIO_USER_DEVICE_RESET);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.status, -ECANCELED);
	/* the client answers the DMA_READ late: matched, dropped, nothing called again */
	acc = (struct vfio_user_dma_access){ .addr = 0x100000, .count = sizeof(dst) };
	h = (struct vfio_user_header){ .msg_id = req.msg_id, .cmd = VFIO_USER_DMA_READ,
				       .msg_size = (uint32_t)(sizeof(h) + sizeof(acc) + sizeof(dst)),
				       .flags = VFIO_USER_F_TYPE_REPLY };
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &acc, sizeof(acc));
	memset(buf + sizeof(h) + sizeof(acc), 0x11, sizeof(dst));
	send_bytes(f, buf, h.msg_size, -1);
	assert_int_equal(session_on_readable(&f->s), 0);
	assert_int_equal(d.calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_byte_by_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_messages_one_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_reply_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_reply_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_before_version_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undersize_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_on_wrong_message_is_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fds_mid_payload_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_on_message_read_ahead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_messages_one_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_span_is_smallest_fd_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_after_small_messages_in_one_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_belongs_to_first_message_of_its_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_of_later_send_not_given_to_earlier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_of_two_maps_one_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_read_within_our_xfer_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_completes_pending_dma, setup, teardown),
	};

	return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
