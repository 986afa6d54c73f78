/* test_edu_regs.c: unit tests of the edu model's registers: BAR0 (ID, liveness, factorial, status, interrupts, the DMA registers and buffer), BAR2 (MSI-X table and PBA), reset. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../common/edu_env.h"

#define T(fn) cmocka_unit_test_setup_teardown(fn, edu_env_setup, edu_env_teardown)

/* BAR0 registers */

static void test_id(void **state)
{
	struct edu_env *e = *state;

	assert_int_equal(reg_rd(&e->m, EDU_REG_ID), EDU_ID_VALUE);
	reg_wr(&e->m, EDU_REG_ID, 0x12345678);
	assert_int_equal(reg_rd(&e->m, EDU_REG_ID), EDU_ID_VALUE);
}

static void test_liveness(void **state)
{
	struct edu_env *e = *state;

	assert_int_equal(reg_rd(&e->m, EDU_REG_LIVENESS), 0xffffffffu);
	reg_wr(&e->m, EDU_REG_LIVENESS, 0x12345678);
	assert_int_equal(reg_rd(&e->m, EDU_REG_LIVENESS), 0xedcba987u);
	reg_wr(&e->m, EDU_REG_LIVENESS, 0xffffffffu);
	assert_int_equal(reg_rd(&e->m, EDU_REG_LIVENESS), 0);
}

static void test_factorial(void **state)
{
	struct edu_env *e = *state;

	reg_wr(&e->m, EDU_REG_FACT, 0);
	assert_int_equal(reg_rd(&e->m, EDU_REG_FACT), 1);
	reg_wr(&e->m, EDU_REG_FACT, 5);
	assert_int_equal(reg_rd(&e->m, EDU_REG_STATUS) & EDU_STATUS_COMPUTING, 0);
	assert_int_equal(reg_rd(&e->m, EDU_REG_FACT), 120);
	reg_wr(&e->m, EDU_REG_FACT, 12);
	assert_int_equal(reg_rd(&e->m, EDU_REG_FACT), 479001600u);
	/* 13! = 6227020800 wraps to 6227020800 - 2^32 */
	reg_wr(&e->m, EDU_REG_FACT, 13);
	assert_int_equal(reg_rd(&e->m, EDU_REG_FACT), 1932053504u);
	reg_wr(&e->m, EDU_REG_FACT, 34);
	assert_int_equal(reg_rd(&e->m, EDU_REG_FACT), 0);
	/* Must not take 4 billion iterations. */
	reg_wr(&e->m, EDU_REG_FACT, 0xffffffffu);
	assert_int_equal(reg_rd(&e->m, EDU_REG_FACT), 0);
	/* No interrupt without status bit 0x80. */
	assert_int_equal(e->nirq, 0);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), 0);
}

static void test_factorial_irq(void **state)
{
	struct edu_env *e = *state;

	reg_wr(&e->m, EDU_REG_STATUS, EDU_STATUS_IRQ_FACT);
	assert_int_equal(reg_rd(&e->m, EDU_REG_STATUS), EDU_STATUS_IRQ_FACT);
	reg_wr(&e->m, EDU_REG_FACT, 4);
	assert_int_equal(reg_rd(&e->m, EDU_REG_FACT), 24);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), EDU_IRQ_FACT);
	assert_int_equal(e->nirq, 1);
	assert_true(e->irq_level[0]);
	assert_int_equal(e->irq_vector[0], 0);
	assert_true(edu_model_irq_pending(&e->m));
	reg_wr(&e->m, EDU_REG_IRQ_ACK, EDU_IRQ_FACT);
	assert_int_equal(e->nirq, 2);
	assert_false(e->irq_level[1]);
	assert_false(edu_model_irq_pending(&e->m));
}

static void test_status_bits(void **state)
{
	struct edu_env *e = *state;

	/* Bit 0x01 (computing) is read-only, other bits are not implemented. */
	reg_wr(&e->m, EDU_REG_STATUS, 0xffffffffu);
	assert_int_equal(reg_rd(&e->m, EDU_REG_STATUS), EDU_STATUS_IRQ_FACT);
	reg_wr(&e->m, EDU_REG_STATUS, 0);
	assert_int_equal(reg_rd(&e->m, EDU_REG_STATUS), 0);
	/* irq status is read-only */
	reg_wr(&e->m, EDU_REG_IRQ_STATUS, 0xff);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), 0);
	assert_int_equal(e->nirq, 0);
}

static void test_irq_raise_ack(void **state)
{
	struct edu_env *e = *state;

	reg_wr(&e->m, EDU_REG_IRQ_RAISE, 0x30);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), 0x30);
	assert_int_equal(e->nirq, 1);
	assert_true(e->irq_level[0]);
	/* Every raise notifies, as edu does for MSI. */
	reg_wr(&e->m, EDU_REG_IRQ_RAISE, 0x01);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), 0x31);
	assert_int_equal(e->nirq, 2);
	assert_true(e->irq_level[1]);
	/* Partial ack: still pending, no lowering. */
	reg_wr(&e->m, EDU_REG_IRQ_ACK, 0x10);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), 0x21);
	assert_int_equal(e->nirq, 2);
	reg_wr(&e->m, EDU_REG_IRQ_ACK, 0x21);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), 0);
	assert_int_equal(e->nirq, 3);
	assert_false(e->irq_level[2]);
	/* Acking when nothing is pending does not lower again; raising 0 does nothing. */
	reg_wr(&e->m, EDU_REG_IRQ_ACK, 0xffffffffu);
	reg_wr(&e->m, EDU_REG_IRQ_RAISE, 0);
	assert_int_equal(e->nirq, 3);
	/* The raise and ack registers read as all-ones. */
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_RAISE), 0xffffffffu);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_ACK), 0xffffffffu);
}

static void test_irq_vector(void **state)
{
	struct edu_env *e = *state;

	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_VECTOR), 0);
	reg_wr(&e->m, EDU_REG_IRQ_VECTOR, 5);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_VECTOR), 5);
	reg_wr(&e->m, EDU_REG_IRQ_VECTOR, EDU_MSIX_VECTORS + 3);
	assert_true(reg_rd(&e->m, EDU_REG_IRQ_VECTOR) < EDU_MSIX_VECTORS);
	reg_wr(&e->m, EDU_REG_IRQ_VECTOR, 6);
	reg_wr(&e->m, EDU_REG_IRQ_RAISE, 1);
	reg_wr(&e->m, EDU_REG_IRQ_ACK, 1);
	assert_int_equal(e->nirq, 2);
	assert_int_equal(e->irq_vector[0], 6);
	assert_int_equal(e->irq_vector[1], 6);
}

static void test_reg_bad_sizes(void **state)
{
	struct edu_env *e = *state;

	/* Registers below 0x80 take only 4-byte accesses. */
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_ID, 1), 0xff);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_ID, 2), 0xffff);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_ID, 8), UINT64_MAX);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_LIVENESS, 0x55, 1);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_LIVENESS, 0x5555, 2);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_LIVENESS, 0x5555, 8);
	assert_int_equal(reg_rd(&e->m, EDU_REG_LIVENESS), 0xffffffffu);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_IRQ_RAISE, 1, 2);
	assert_int_equal(e->nirq, 0);
	/* Misaligned 4-byte access to a register */
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, 0x02, 4), 0xffffffffu);
	/* DMA registers: 1 and 2 bytes, 8 bytes at +4, are ignored. */
	dma_setup(&e->m, 0x1122334455667788ull, 0, 0);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 1), 0xff);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 2), 0xffff);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC + 4, 8), UINT64_MAX);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC + 2, 4), 0xffffffffu);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 0, 2);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC + 4, 0, 8);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 8), 0x1122334455667788ull);
}

static void test_reg_unimplemented(void **state)
{
	struct edu_env *e = *state;
	static const uint64_t offs[] = { 0x0c, 0x10, 0x28, 0x6c, 0x7c, 0xa0, 0x100, 0x3fff8,
					 0x41000, 0x80000, 0xffff8 };

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, offs[i], 4), 0xffffffffu);
		assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, offs[i], 8), UINT64_MAX);
		bar_wr(&e->m, EDU_BAR_REGS, offs[i], 0, 4);
		assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, offs[i], 4), 0xffffffffu);
	}
	/* Last byte of the BAR is accessible, and reads all-ones. */
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_BAR_REGS_SIZE - 1, 1), 0xff);
}

static void test_bar_einval(void **state)
{
	struct edu_env *e = *state;
	uint8_t b[16];

	memset(b, 0xaa, sizeof(b));
	/* Unknown BARs, BAR4 included (its memory belongs to the environment). */
	assert_int_equal(edu_model_bar_read(&e->m, 1, 0, b, 4), -EDU_EINVAL);
	assert_int_equal(edu_model_bar_read(&e->m, EDU_BAR_RAM, 0, b, 4), -EDU_EINVAL);
	assert_int_equal(edu_model_bar_write(&e->m, 5, 0, b, 4), -EDU_EINVAL);
	assert_int_equal(edu_model_bar_read(&e->m, 6, 0, b, 4), -EDU_EINVAL);
	/* Bad counts */
	assert_int_equal(edu_model_bar_read(&e->m, EDU_BAR_REGS, 0, b, 0), -EDU_EINVAL);
	assert_int_equal(edu_model_bar_read(&e->m, EDU_BAR_REGS, 0, b, 3), -EDU_EINVAL);
	assert_int_equal(edu_model_bar_read(&e->m, EDU_BAR_REGS, 0, b, 16), -EDU_EINVAL);
	assert_int_equal(edu_model_bar_write(&e->m, EDU_BAR_MSIX, 0, b, 5), -EDU_EINVAL);
	/* Out of range, including offsets that would wrap. */
	assert_int_equal(edu_model_bar_read(&e->m, EDU_BAR_REGS, EDU_BAR_REGS_SIZE, b, 1),
			 -EDU_EINVAL);
	assert_int_equal(edu_model_bar_read(&e->m, EDU_BAR_REGS, EDU_BAR_REGS_SIZE - 2, b, 4),
			 -EDU_EINVAL);
	assert_int_equal(edu_model_bar_write(&e->m, EDU_BAR_REGS, UINT64_MAX - 1, b, 4),
			 -EDU_EINVAL);
	assert_int_equal(edu_model_bar_read(&e->m, EDU_BAR_MSIX, EDU_BAR_MSIX_SIZE - 4, b, 8),
			 -EDU_EINVAL);
	assert_int_equal(edu_model_bar_read(&e->m, EDU_BAR_MSIX, 1ull << 32, b, 4), -EDU_EINVAL);
	/* A failed read leaves the buffer alone. */
	for (size_t i = 0; i < sizeof(b); i++)
		assert_int_equal(b[i], 0xaa);
}

static void test_dma_regs_access(void **state)
{
	struct edu_env *e = *state;

	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 0x0123456789abcdefull, 8);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 8), 0x0123456789abcdefull);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 4), 0x89abcdefu);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC + 4, 4), 0x01234567u);
	/* 4-byte writes update one half. */
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC + 4, 0xfedcba98u, 4);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 8), 0xfedcba9889abcdefull);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 0x11111111u, 4);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 8), 0xfedcba9811111111ull);
	/* Each register is separate. */
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_DST, 0xaaaa, 8);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_COUNT + 4, 0x5, 4);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_DST, 8), 0xaaaa);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_COUNT, 8), 0x500000000ull);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 8), 0xfedcba9811111111ull);
	/* The cmd register keeps bits that do not start a transfer; upper half too. */
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_IRQ | EDU_DMA_CMD_TO_RAM, 4);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD + 4, 0x1, 4);
	assert_int_equal(dma_cmd(&e->m), 0x100000006ull);
	assert_int_equal(e->ndma, 0);
}

static void test_dma_buf_mmio(void **state)
{
	struct edu_env *e = *state;
	uint64_t base = EDU_DMA_BUF_ADDR;

	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, base, 8), 0);
	bar_wr(&e->m, EDU_BAR_REGS, base, 0x0807060504030201ull, 8);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, base, 1), 0x01);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, base + 1, 2), 0x0302);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, base + 3, 4), 0x07060504);
	assert_int_equal(e->m.dma_buf[7], 0x08);
	bar_wr(&e->m, EDU_BAR_REGS, base + 5, 0xbeef, 2);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, base, 8), 0x08beef0504030201ull);
	/* Last bytes of the buffer */
	bar_wr(&e->m, EDU_BAR_REGS, base + EDU_DMA_BUF_SIZE - 8, 0xa5a5a5a5a5a5a5a5ull, 8);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, base + EDU_DMA_BUF_SIZE - 1, 1), 0xa5);
	assert_int_equal(e->m.dma_buf[EDU_DMA_BUF_SIZE - 1], 0xa5);
	/* Accesses crossing the end of the buffer are ignored. */
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, base + EDU_DMA_BUF_SIZE - 4, 8), UINT64_MAX);
	bar_wr(&e->m, EDU_BAR_REGS, base + EDU_DMA_BUF_SIZE - 2, 0, 4);
	assert_int_equal(e->m.dma_buf[EDU_DMA_BUF_SIZE - 1], 0xa5);
	/* and so are those crossing its start */
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, base - 4, 8), UINT64_MAX);
	bar_wr(&e->m, EDU_BAR_REGS, base - 2, 0, 4);
	assert_int_equal(e->m.dma_buf[0], 0x01);
}

/* BAR2: MSI-X */

static void test_msix_reset_state(void **state)
{
	struct edu_env *e = *state;

	for (uint32_t v = 0; v < EDU_MSIX_VECTORS; v++) {
		uint32_t base = v * EDU_MSIX_ENTRY_SIZE;

		assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, base + 0, 4), 0);
		assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, base + 4, 4), 0);
		assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, base + 8, 4), 0);
		assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, base + 12, 4), 1);
	}
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, EDU_MSIX_PBA_OFFSET, 8), 0);
}

static void test_msix_table_rw(void **state)
{
	struct edu_env *e = *state;
	const uint32_t v3 = 3 * EDU_MSIX_ENTRY_SIZE;

	bar_wr(&e->m, EDU_BAR_MSIX, v3 + 0, 0xfee00000u, 4);
	bar_wr(&e->m, EDU_BAR_MSIX, v3 + 4, 0x1, 4);
	bar_wr(&e->m, EDU_BAR_MSIX, v3 + 8, 0x4023, 4);
	bar_wr(&e->m, EDU_BAR_MSIX, v3 + 12, 0xfffffffeu, 4);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, v3 + 0, 8), 0x1fee00000ull);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, v3 + 8, 4), 0x4023);
	/* Only the mask bit of vector control is writable: now unmasked. */
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, v3 + 12, 4), 0);
	bar_wr(&e->m, EDU_BAR_MSIX, v3 + 12, 0xffffffffu, 4);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, v3 + 12, 4), 1);
	/* 8-byte write to data + vector control */
	bar_wr(&e->m, EDU_BAR_MSIX, v3 + 8, 0x8000000000005555ull, 8);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, v3 + 8, 8), 0x5555);
	/* Neighbouring entries are untouched. */
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, v3 - 4, 4), 1);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, v3 + 16, 4), 0);
	/* Last entry */
	bar_wr(&e->m, EDU_BAR_MSIX, (EDU_MSIX_VECTORS - 1) * EDU_MSIX_ENTRY_SIZE + 8,
	       0x12345678u, 4);
	assert_int_equal(e->m.msix_table[(EDU_MSIX_VECTORS - 1) * EDU_MSIX_ENTRY_SIZE + 8], 0x78);
}

static void test_msix_bad_access(void **state)
{
	struct edu_env *e = *state;
	const uint32_t end = EDU_MSIX_VECTORS * EDU_MSIX_ENTRY_SIZE;

	bar_wr(&e->m, EDU_BAR_MSIX, 0, 0x11223344u, 4);
	/* 1- and 2-byte, and misaligned accesses */
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, 0, 1), 0xff);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, 0, 2), 0xffff);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, 2, 4), 0xffffffffu);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, 4, 8), UINT64_MAX);
	bar_wr(&e->m, EDU_BAR_MSIX, 0, 0, 1);
	bar_wr(&e->m, EDU_BAR_MSIX, 0, 0, 2);
	bar_wr(&e->m, EDU_BAR_MSIX, 1, 0, 4);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, 0, 4), 0x11223344u);
	/* Between table and PBA, after the PBA */
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, end, 4), 0xffffffffu);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, EDU_MSIX_PBA_OFFSET - 8, 8), UINT64_MAX);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, EDU_MSIX_PBA_OFFSET + 8, 4), 0xffffffffu);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, EDU_BAR_MSIX_SIZE - 4, 4), 0xffffffffu);
	bar_wr(&e->m, EDU_BAR_MSIX, end, 0, 4);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, end, 4), 0xffffffffu);
}

static void test_msix_pba_readonly(void **state)
{
	struct edu_env *e = *state;

	e->m.msix_pba = 0x00000000000000a5ull | (1ull << 40);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, EDU_MSIX_PBA_OFFSET, 8), e->m.msix_pba);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, EDU_MSIX_PBA_OFFSET, 4), 0xa5);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, EDU_MSIX_PBA_OFFSET + 4, 4), 0x100);
	bar_wr(&e->m, EDU_BAR_MSIX, EDU_MSIX_PBA_OFFSET, 0, 8);
	bar_wr(&e->m, EDU_BAR_MSIX, EDU_MSIX_PBA_OFFSET + 4, 0xffffffffu, 4);
	assert_int_equal(e->m.msix_pba, 0xa5ull | (1ull << 40));
}

/* Reset */

static void test_reset_restores_everything(void **state)
{
	struct edu_env *e = *state;
	struct edu_model *fresh = calloc(1, sizeof(*fresh));

	assert_non_null(fresh);
	edu_model_init(fresh, &edu_env_ops, e);

	/* Dirty every part of the state. */
	reg_wr(&e->m, EDU_REG_LIVENESS, 0x1234);
	reg_wr(&e->m, EDU_REG_FACT, 6);
	reg_wr(&e->m, EDU_REG_STATUS, EDU_STATUS_IRQ_FACT);
	reg_wr(&e->m, EDU_REG_IRQ_VECTOR, 7);
	dma_setup(&e->m, 1, 2, 3);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_IRQ, 8);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_DMA_BUF_ADDR + 100, UINT64_MAX, 8);
	bar_wr(&e->m, EDU_BAR_MSIX, 16, UINT64_MAX, 8);
	bar_wr(&e->m, EDU_BAR_MSIX, 28, 0, 4);
	e->m.msix_pba = 0xff;
	for (uint32_t off = 0; off < 0x100; off += 4)
		cfg_wr(&e->m, off, 0xffffffffu, 4);
	reg_wr(&e->m, EDU_REG_IRQ_RAISE, 0x2);
	assert_int_equal(e->nirq, 1);
	assert_true(edu_model_irq_pending(&e->m));
	assert_int_equal(cfg_rd(&e->m, 0x06, 2), 0x0018);

	edu_model_reset(&e->m);

	/* INTx lowered, on the vector in use before the reset. */
	assert_int_equal(e->nirq, 2);
	assert_false(e->irq_level[1]);
	assert_int_equal(e->irq_vector[1], 7);
	assert_false(edu_model_irq_pending(&e->m));
	assert_false(edu_model_bus_master(&e->m));
	assert_false(edu_model_intx_disabled(&e->m));
	assert_ptr_equal(e->m.ops, &edu_env_ops);
	assert_ptr_equal(e->m.opaque, e);

	assert_memory_equal(e->m.config, fresh->config, EDU_CONFIG_SIZE);
	assert_memory_equal(e->m.dma_buf, fresh->dma_buf, EDU_DMA_BUF_SIZE);
	assert_memory_equal(e->m.msix_table, fresh->msix_table, sizeof(fresh->msix_table));
	assert_int_equal(e->m.msix_pba, 0);
	assert_int_equal(reg_rd(&e->m, EDU_REG_LIVENESS), 0xffffffffu);
	assert_int_equal(reg_rd(&e->m, EDU_REG_FACT), 0);
	assert_int_equal(reg_rd(&e->m, EDU_REG_STATUS), 0);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), 0);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_VECTOR), 0);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 8), 0);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_DST, 8), 0);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_COUNT, 8), 0);
	assert_int_equal(dma_cmd(&e->m), 0);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_MSIX, 28, 4), 1);
	assert_int_equal(cfg_rd(&e->m, 0x10, 4), 0);
	assert_int_equal(cfg_rd(&e->m, 0x20, 4), 0x0c);
	assert_int_equal(cfg_rd(&e->m, 0x06, 2), 0x0010);
	free(fresh);
}

static void test_reset_idle_no_irq(void **state)
{
	struct edu_env *e = *state;

	/* init does not call out, and neither does a reset with nothing pending. */
	assert_int_equal(e->nirq, 0);
	edu_model_reset(&e->m);
	assert_int_equal(e->nirq, 0);
	reg_wr(&e->m, EDU_REG_IRQ_RAISE, 1);
	reg_wr(&e->m, EDU_REG_IRQ_ACK, 1);
	edu_model_reset(&e->m);
	assert_int_equal(e->nirq, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_id),
		T(test_liveness),
		T(test_factorial),
		T(test_factorial_irq),
		T(test_status_bits),
		T(test_irq_raise_ack),
		T(test_irq_vector),
		T(test_reg_bad_sizes),
		T(test_reg_unimplemented),
		T(test_bar_einval),
		T(test_dma_regs_access),
		T(test_dma_buf_mmio),
		T(test_msix_reset_state),
		T(test_msix_table_rw),
		T(test_msix_bad_access),
		T(test_msix_pba_readonly),
		T(test_reset_restores_everything),
		T(test_reset_idle_no_irq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
