/* test_bad_region.c: hostile REGION_READ/WRITE and REGION_WRITE_MULTI, region info and region io fds requests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "../common/bad_input.h"

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

/* ==== region info and io fds ==== */

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

static void test_region_io_fds(void **state)
{
	struct vfio_user_region_io_fds_request r = { .argsz = sizeof(r) + 40, .index = BAR0 };

	fresh();
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_GET_REGION_IO_FDS, 0, &r, sizeof(r), NULL, 0, ENOTSUP);
	r.index = 9;
	EXPECT_ERR(F.c, VFIO_USER_DEVICE_GET_REGION_IO_FDS, 0, &r, sizeof(r), NULL, 0, EINVAL);
	case_done();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BAD_INPUT_TEST(test_region_index_out_of_range),
		BAD_INPUT_TEST(test_region_offset_overflow),
		BAD_INPUT_TEST(test_region_offset_beyond_size),
		BAD_INPUT_TEST(test_region_count_zero),
		BAD_INPUT_TEST(test_region_count_over_max_xfer),
		BAD_INPUT_TEST(test_region_write_length_mismatch),
		BAD_INPUT_TEST(test_region_absent),
		BAD_INPUT_TEST(test_write_multi_zero),
		BAD_INPUT_TEST(test_write_multi_too_many),
		BAD_INPUT_TEST(test_write_multi_count_mismatch),
		BAD_INPUT_TEST(test_write_multi_bad_entry),
		BAD_INPUT_TEST(test_region_info_small_argsz),
		BAD_INPUT_TEST(test_region_info_bad_index),
		BAD_INPUT_TEST(test_region_io_fds),
	};

	return cmocka_run_group_tests_name("bad_region", tests, group_setup, group_teardown);
}
