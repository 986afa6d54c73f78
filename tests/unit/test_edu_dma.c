/* test_edu_dma.c: unit tests of the edu model's DMA engine: transfers both ways, completion interrupts, pending transfers, what it refuses (bus master off, out of range, bad counts), the environment's errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../common/edu_env.h"

#define T(fn) cmocka_unit_test_setup_teardown(fn, edu_env_setup, edu_env_teardown)

/* DMA */

static void test_dma_to_device(void **state)
{
	struct edu_env *e = *state;

	for (uint32_t i = 0; i < EDU_ENV_RAM_SIZE; i++)
		e->ram[i] = (uint8_t)(i * 7 + 3);
	enable_bus_master(&e->m);
	dma_setup(&e->m, EDU_ENV_RAM_BASE + 0x123, EDU_DMA_BUF_ADDR + 0x10, 100);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN, 8);
	assert_int_equal(e->ndma, 1);
	assert_false(e->last_to_ram);
	assert_int_equal(e->last_iova, EDU_ENV_RAM_BASE + 0x123);
	assert_int_equal(e->last_len, 100);
	assert_ptr_equal(e->last_buf, &e->m.dma_buf[0x10]);
	assert_memory_equal(&e->m.dma_buf[0x10], &e->ram[0x123], 100);
	assert_int_equal(e->m.dma_buf[0x0f], 0);
	assert_int_equal(e->m.dma_buf[0x10 + 100], 0);
	assert_int_equal(dma_cmd(&e->m), 0);
	/* The result is visible through BAR0 too. */
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_DMA_BUF_ADDR + 0x10, 1), e->ram[0x123]);
	/* No interrupt was asked for. */
	assert_int_equal(e->nirq, 0);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), 0);
}

static void test_dma_to_ram(void **state)
{
	struct edu_env *e = *state;

	for (uint32_t i = 0; i < EDU_DMA_BUF_SIZE; i++)
		e->m.dma_buf[i] = (uint8_t)(i ^ 0x5a);
	enable_bus_master(&e->m);
	/* The whole buffer, 4-byte register writes this time. */
	reg_wr(&e->m, EDU_REG_DMA_SRC, EDU_DMA_BUF_ADDR);
	reg_wr(&e->m, EDU_REG_DMA_DST, EDU_ENV_RAM_BASE + 0x800);
	reg_wr(&e->m, EDU_REG_DMA_COUNT, EDU_DMA_BUF_SIZE);
	reg_wr(&e->m, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_TO_RAM);
	assert_int_equal(e->ndma, 1);
	assert_true(e->last_to_ram);
	assert_int_equal(e->last_iova, EDU_ENV_RAM_BASE + 0x800);
	assert_int_equal(e->last_len, EDU_DMA_BUF_SIZE);
	assert_memory_equal(&e->ram[0x800], e->m.dma_buf, EDU_DMA_BUF_SIZE);
	assert_int_equal(e->ram[0x7ff], 0);
	assert_int_equal(e->ram[0x800 + EDU_DMA_BUF_SIZE], 0);
	assert_int_equal(dma_cmd(&e->m), EDU_DMA_CMD_TO_RAM);
}

static void test_dma_round_trip_last_byte(void **state)
{
	struct edu_env *e = *state;

	enable_bus_master(&e->m);
	e->ram[0] = 0x42;
	dma_setup(&e->m, EDU_ENV_RAM_BASE, EDU_DMA_BUF_ADDR + EDU_DMA_BUF_SIZE - 1, 1);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN, 8);
	assert_int_equal(e->m.dma_buf[EDU_DMA_BUF_SIZE - 1], 0x42);
	dma_setup(&e->m, EDU_DMA_BUF_ADDR + EDU_DMA_BUF_SIZE - 1, EDU_ENV_RAM_BASE + 9, 1);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_TO_RAM, 8);
	assert_int_equal(e->ram[9], 0x42);
	assert_int_equal(e->ndma, 2);
	assert_int_equal(dma_cmd(&e->m) & (EDU_DMA_CMD_RUN | EDU_DMA_CMD_ERROR), 0);
}

static void test_dma_irq_only_when_asked(void **state)
{
	struct edu_env *e = *state;

	enable_bus_master(&e->m);
	dma_setup(&e->m, EDU_ENV_RAM_BASE, EDU_DMA_BUF_ADDR, 16);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN, 8);
	assert_int_equal(e->nirq, 0);
	reg_wr(&e->m, EDU_REG_IRQ_VECTOR, 3);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_IRQ, 8);
	assert_int_equal(e->ndma, 2);
	assert_int_equal(e->nirq, 1);
	assert_true(e->irq_level[0]);
	assert_int_equal(e->irq_vector[0], 3);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), EDU_IRQ_DMA);
	assert_int_equal(dma_cmd(&e->m), EDU_DMA_CMD_IRQ);
	reg_wr(&e->m, EDU_REG_IRQ_ACK, EDU_IRQ_DMA);
	assert_int_equal(e->nirq, 2);
	assert_false(e->irq_level[1]);
	assert_int_equal(e->irq_vector[1], 3);
}

static void test_dma_pending_complete(void **state)
{
	struct edu_env *e = *state;

	enable_bus_master(&e->m);
	e->dma_ret = EDU_DMA_PENDING;
	dma_setup(&e->m, EDU_ENV_RAM_BASE, EDU_DMA_BUF_ADDR + 8, 32);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_IRQ, 8);
	assert_int_equal(e->ndma, 1);
	assert_true(e->m.dma_pending);
	assert_int_equal(dma_cmd(&e->m), EDU_DMA_CMD_RUN | EDU_DMA_CMD_IRQ);
	assert_int_equal(e->nirq, 0);

	/* Register writes while running are ignored, and no second transfer starts. */
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 0x1234, 8);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_COUNT, 1, 4);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_TO_RAM, 8);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 8), EDU_ENV_RAM_BASE);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_COUNT, 8), 32);
	assert_int_equal(dma_cmd(&e->m), EDU_DMA_CMD_RUN | EDU_DMA_CMD_IRQ);
	assert_int_equal(e->ndma, 1);

	edu_model_dma_complete(&e->m, 0);
	assert_false(e->m.dma_pending);
	assert_int_equal(dma_cmd(&e->m), EDU_DMA_CMD_IRQ);
	assert_int_equal(e->nirq, 1);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), EDU_IRQ_DMA);

	/* A second completion is ignored. */
	edu_model_dma_complete(&e->m, -EDU_EFAULT);
	assert_int_equal(dma_cmd(&e->m), EDU_DMA_CMD_IRQ);
	assert_int_equal(e->nirq, 1);
}

static void test_dma_pending_error(void **state)
{
	struct edu_env *e = *state;

	enable_bus_master(&e->m);
	e->dma_ret = EDU_DMA_PENDING;
	dma_setup(&e->m, EDU_ENV_RAM_BASE, EDU_DMA_BUF_ADDR, 32);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_IRQ, 8);
	edu_model_dma_complete(&e->m, -EDU_EFAULT);
	assert_int_equal(dma_cmd(&e->m), EDU_DMA_CMD_IRQ | EDU_DMA_CMD_ERROR);
	assert_int_equal(e->nirq, 0);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), 0);
	/* Starting the next transfer clears the error bit at once, not on completion. */
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_ERROR, 8);
	assert_int_equal(e->ndma, 2);
	assert_int_equal(dma_cmd(&e->m), EDU_DMA_CMD_RUN);
	edu_model_dma_complete(&e->m, 0);
	assert_int_equal(dma_cmd(&e->m), 0);
	assert_int_equal(e->nirq, 0);
}

static void test_dma_stale_complete_after_reset(void **state)
{
	struct edu_env *e = *state;

	enable_bus_master(&e->m);
	e->dma_ret = EDU_DMA_PENDING;
	dma_setup(&e->m, EDU_ENV_RAM_BASE, EDU_DMA_BUF_ADDR, 32);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_IRQ, 8);
	assert_true(e->m.dma_pending);
	edu_model_reset(&e->m);
	assert_false(e->m.dma_pending);
	assert_int_equal(dma_cmd(&e->m), 0);
	edu_model_dma_complete(&e->m, 0);
	assert_int_equal(dma_cmd(&e->m), 0);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), 0);
	assert_int_equal(e->nirq, 0);
	/* The reset model accepts a new transfer. */
	e->dma_ret = 0;
	enable_bus_master(&e->m);
	dma_setup(&e->m, EDU_ENV_RAM_BASE, EDU_DMA_BUF_ADDR, 32);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN, 8);
	assert_int_equal(e->ndma, 2);
	assert_int_equal(dma_cmd(&e->m), 0);
}

static void test_dma_refused_without_bus_master(void **state)
{
	struct edu_env *e = *state;

	dma_setup(&e->m, EDU_ENV_RAM_BASE, EDU_DMA_BUF_ADDR, 16);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_IRQ, 8);
	assert_int_equal(e->ndma, 0);
	assert_int_equal(dma_cmd(&e->m), EDU_DMA_CMD_IRQ | EDU_DMA_CMD_ERROR);
	assert_int_equal(e->nirq, 0);
	assert_false(e->m.dma_pending);
	/* With bus mastering on, a new start clears the error and works. */
	enable_bus_master(&e->m);
	assert_true(edu_model_bus_master(&e->m));
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN, 8);
	assert_int_equal(e->ndma, 1);
	assert_int_equal(dma_cmd(&e->m), 0);
}

static void expect_refused(struct edu_env *e, uint64_t src, uint64_t dst, uint64_t count,
			   uint64_t cmd)
{
	unsigned int ndma = e->ndma;

	dma_setup(&e->m, src, dst, count);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, cmd | EDU_DMA_CMD_RUN, 8);
	assert_int_equal(e->ndma, ndma);
	assert_int_equal(dma_cmd(&e->m), cmd | EDU_DMA_CMD_ERROR);
	assert_false(e->m.dma_pending);
}

static void test_dma_out_of_range(void **state)
{
	struct edu_env *e = *state;
	const uint64_t buf = EDU_DMA_BUF_ADDR;
	const uint64_t end = EDU_DMA_BUF_ADDR + EDU_DMA_BUF_SIZE;
	const uint64_t irq = EDU_DMA_CMD_IRQ, to_ram = EDU_DMA_CMD_TO_RAM;

	enable_bus_master(&e->m);
	/* Device side below, crossing the end, past the end, far away; both directions. */
	expect_refused(e, EDU_ENV_RAM_BASE, buf - 1, 16, irq);
	expect_refused(e, EDU_ENV_RAM_BASE, end - 8, 16, irq);
	expect_refused(e, EDU_ENV_RAM_BASE, end, 1, 0);
	expect_refused(e, EDU_ENV_RAM_BASE, 0, 16, 0);
	expect_refused(e, buf - 16, EDU_ENV_RAM_BASE, 16, to_ram);
	expect_refused(e, end - 1, EDU_ENV_RAM_BASE, 2, to_ram | irq);
	/* Addresses chosen so that addr + count wraps. */
	expect_refused(e, EDU_ENV_RAM_BASE, UINT64_MAX - 3, 16, 0);
	expect_refused(e, UINT64_MAX, EDU_ENV_RAM_BASE, 1, to_ram);
	/* The RAM side of a to-RAM transfer is not the device buffer: src must be. */
	expect_refused(e, EDU_ENV_RAM_BASE, buf, 16, to_ram);
	assert_int_equal(e->nirq, 0);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), 0);
}

static void test_dma_bad_count(void **state)
{
	struct edu_env *e = *state;

	enable_bus_master(&e->m);
	expect_refused(e, EDU_ENV_RAM_BASE, EDU_DMA_BUF_ADDR, 0, EDU_DMA_CMD_IRQ);
	expect_refused(e, EDU_ENV_RAM_BASE, EDU_DMA_BUF_ADDR, EDU_DMA_BUF_SIZE + 1, 0);
	expect_refused(e, EDU_DMA_BUF_ADDR, EDU_ENV_RAM_BASE, 1ull << 32, EDU_DMA_CMD_TO_RAM);
	expect_refused(e, EDU_DMA_BUF_ADDR, EDU_ENV_RAM_BASE, UINT64_MAX, EDU_DMA_CMD_TO_RAM);
	assert_int_equal(e->nirq, 0);
}

static void test_dma_op_error(void **state)
{
	struct edu_env *e = *state;

	enable_bus_master(&e->m);
	/* The environment refuses the bus address. */
	dma_setup(&e->m, 0x10, EDU_DMA_BUF_ADDR, 16);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_IRQ, 8);
	assert_int_equal(e->ndma, 1);
	assert_int_equal(dma_cmd(&e->m), EDU_DMA_CMD_IRQ | EDU_DMA_CMD_ERROR);
	assert_int_equal(e->nirq, 0);
	/* A later good transfer clears the error bit. */
	dma_setup(&e->m, EDU_ENV_RAM_BASE, EDU_DMA_BUF_ADDR, 16);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_IRQ, 8);
	assert_int_equal(e->ndma, 2);
	assert_int_equal(dma_cmd(&e->m), EDU_DMA_CMD_IRQ);
	assert_int_equal(e->nirq, 1);
}

static void test_dma_no_ops(void **state)
{
	struct edu_model *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	edu_model_init(m, NULL, NULL);
	enable_bus_master(m);
	dma_setup(m, EDU_ENV_RAM_BASE, EDU_DMA_BUF_ADDR, 16);
	bar_wr(m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN, 8);
	assert_int_equal(dma_cmd(m), EDU_DMA_CMD_ERROR);
	/* Interrupts without a callback only change state. */
	reg_wr(m, EDU_REG_IRQ_RAISE, 1);
	assert_true(edu_model_irq_pending(m));
	edu_model_reset(m);
	assert_false(edu_model_irq_pending(m));
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_dma_to_device),
		T(test_dma_to_ram),
		T(test_dma_round_trip_last_byte),
		T(test_dma_irq_only_when_asked),
		T(test_dma_pending_complete),
		T(test_dma_pending_error),
		T(test_dma_stale_complete_after_reset),
		T(test_dma_refused_without_bus_master),
		T(test_dma_out_of_range),
		T(test_dma_bad_count),
		T(test_dma_op_error),
		cmocka_unit_test(test_dma_no_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
