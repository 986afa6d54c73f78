/* test_bad_irqs.c: hostile DEVICE_SET_IRQS (ranges, flags, eventfds, leaks) and IRQ and device info requests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "../common/bad_input.h"

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

/* ==== IRQ and device info ==== */

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		BAD_INPUT_TEST(test_set_irqs_range),
		BAD_INPUT_TEST(test_set_irqs_index),
		BAD_INPUT_TEST(test_set_irqs_two_data_bits),
		BAD_INPUT_TEST(test_set_irqs_two_action_bits),
		BAD_INPUT_TEST(test_set_irqs_no_action),
		BAD_INPUT_TEST(test_set_irqs_unknown_flags),
		BAD_INPUT_TEST(test_set_irqs_fewer_fds),
		BAD_INPUT_TEST(test_set_irqs_not_eventfd),
		BAD_INPUT_TEST(test_set_irqs_bool_short),
		BAD_INPUT_TEST(test_set_irqs_count0_eventfd),
		BAD_INPUT_TEST(test_set_irqs_mask_msi),
		BAD_INPUT_TEST(test_set_irqs_type_conflict),
		BAD_INPUT_TEST(test_set_irqs_reassign_no_leak),
		BAD_INPUT_TEST(test_irq_info_bad_index),
		BAD_INPUT_TEST(test_info_small_argsz),
	};

	return cmocka_run_group_tests_name("bad_irqs", tests, group_setup, group_teardown);
}
