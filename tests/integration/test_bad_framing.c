/* test_bad_framing.c: hostile framing against the real proxy: headers, msg_size, stray bytes, message types and flags, fds on the wrong message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/sockios.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/bad_input.h"

/* ==== framing ==== */

static void hang_up(struct vuc *c)
{
	assert_int_equal(shutdown(vuc_socket_fd(c), SHUT_WR), 0);
}

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

/* fds arriving with the payload rather than the header's first bytes. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		BAD_INPUT_TEST(test_truncated_header_hangup),
		BAD_INPUT_TEST(test_truncated_payload_hangup),
		BAD_INPUT_TEST(test_msg_size_below_header),
		BAD_INPUT_TEST(test_msg_size_over_limit),
		BAD_INPUT_TEST(test_msg_size_at_limit),
		BAD_INPUT_TEST(test_garbage_bytes),
		BAD_INPUT_TEST(test_vanish_mid_message),
		BAD_INPUT_TEST(test_vanish_mid_message_with_fd),
		BAD_INPUT_TEST(test_pipelined_bad_and_good),
		BAD_INPUT_TEST(test_byte_by_byte),
		BAD_INPUT_TEST(test_reply_matching_no_request),
		BAD_INPUT_TEST(test_reply_with_fds),
		BAD_INPUT_TEST(test_unknown_type_bits),
		BAD_INPUT_TEST(test_error_flag_on_command),
		BAD_INPUT_TEST(test_unknown_flag_bits),
		BAD_INPUT_TEST(test_no_reply_error_is_silent),
		BAD_INPUT_TEST(test_fds_on_get_info),
		BAD_INPUT_TEST(test_fds_forty),
		BAD_INPUT_TEST(test_fds_seventeen_on_set_irqs),
		BAD_INPUT_TEST(test_fds_partial_header_hangup),
		BAD_INPUT_TEST(test_fds_mid_message),
	};

	return cmocka_run_group_tests_name("bad_framing", tests, group_setup, group_teardown);
}
