/* test_bad_commands.c: every command with a payload shorter than its struct, and the commands the server does not take. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "../common/bad_input.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		BAD_INPUT_TEST(test_short_dma_map),
		BAD_INPUT_TEST(test_short_dma_unmap),
		BAD_INPUT_TEST(test_short_get_info),
		BAD_INPUT_TEST(test_short_get_region_info),
		BAD_INPUT_TEST(test_short_get_irq_info),
		BAD_INPUT_TEST(test_short_set_irqs),
		BAD_INPUT_TEST(test_short_region_read),
		BAD_INPUT_TEST(test_short_region_write),
		BAD_INPUT_TEST(test_short_write_multi),
		BAD_INPUT_TEST(test_short_device_feature),
		BAD_INPUT_TEST(test_unknown_commands),
		BAD_INPUT_TEST(test_dma_read_write_from_client),
		BAD_INPUT_TEST(test_device_feature_unknown),
		BAD_INPUT_TEST(test_mig_data),
	};

	return cmocka_run_group_tests_name("bad_commands", tests, group_setup, group_teardown);
}
