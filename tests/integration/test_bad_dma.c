/* test_bad_dma.c: hostile DMA_MAP and DMA_UNMAP, and the client's side of device DMA: truncated windows, bad and late DMA_READ replies. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/bad_input.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		BAD_INPUT_TEST(test_dma_map_overlap),
		BAD_INPUT_TEST(test_dma_map_overlap_fd_no_leak),
		BAD_INPUT_TEST(test_dma_map_size_zero),
		BAD_INPUT_TEST(test_dma_map_unaligned_addr),
		BAD_INPUT_TEST(test_dma_map_unaligned_size),
		BAD_INPUT_TEST(test_dma_map_wraps),
		BAD_INPUT_TEST(test_dma_map_flags),
		BAD_INPUT_TEST(test_dma_map_argsz),
		BAD_INPUT_TEST(test_dma_map_fd_unaligned_offset),
		BAD_INPUT_TEST(test_dma_map_fd_too_small),
		BAD_INPUT_TEST(test_dma_map_fd_pipe),
		BAD_INPUT_TEST(test_dma_map_fd_eventfd),
		BAD_INPUT_TEST(test_dma_map_fd_socket),
		BAD_INPUT_TEST(test_dma_map_fd_directory),
		BAD_INPUT_TEST(test_dma_map_fd_read_only),
		BAD_INPUT_TEST(test_dma_map_two_fds),
		BAD_INPUT_TEST(test_dma_unmap_unknown),
		BAD_INPUT_TEST(test_dma_unmap_inexact),
		BAD_INPUT_TEST(test_dma_unmap_all_nonzero),
		BAD_INPUT_TEST(test_dma_unmap_dirty_bitmap),
		BAD_INPUT_TEST(test_dma_unmap_argsz),
		BAD_INPUT_TEST(test_dma_window_truncated),
		BAD_INPUT_TEST(test_dma_reply_good),
		BAD_INPUT_TEST(test_dma_reply_short),
		BAD_INPUT_TEST(test_dma_reply_duplicate),
		BAD_INPUT_TEST(test_dma_reply_wrong_command),
		BAD_INPUT_TEST(test_dma_reply_error),
		BAD_INPUT_TEST(test_dma_reply_after_reset),
		BAD_INPUT_TEST(test_dma_client_gone_outstanding),
	};

	return cmocka_run_group_tests_name("bad_dma", tests, group_setup, group_teardown);
}
