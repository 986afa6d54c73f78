/* test_edu_model.c: unit tests of the edu model: registers, IRQs, DMA, MSI-X, config space. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "edu_model.h"

#define RAM_BASE 0x100000u
#define RAM_SIZE 0x4000u
#define MAX_IRQ_CALLS 32

/* The environment: records interrupt calls and serves DMA from a local RAM array. */
struct fake_env {
	struct edu_model m;
	unsigned int nirq;
	unsigned int irq_vector[MAX_IRQ_CALLS];
	bool irq_level[MAX_IRQ_CALLS];
	unsigned int ndma;
	int dma_ret;		/* 0, EDU_DMA_PENDING or a negative errno */
	uint64_t last_iova;
	uint32_t last_len;
	bool last_to_ram;
	void *last_buf;
	uint8_t ram[RAM_SIZE];
};

static int fake_dma(void *opaque, uint64_t iova, void *buf, uint32_t len, bool to_ram)
{
	struct fake_env *e = opaque;

	e->ndma++;
	e->last_iova = iova;
	e->last_len = len;
	e->last_to_ram = to_ram;
	e->last_buf = buf;
	if (iova < RAM_BASE || iova - RAM_BASE > RAM_SIZE || len > RAM_SIZE - (iova - RAM_BASE))
		return -EDU_EFAULT;
	if (e->dma_ret < 0)
		return e->dma_ret;
	if (to_ram)
		memcpy(&e->ram[iova - RAM_BASE], buf, len);
	else
		memcpy(buf, &e->ram[iova - RAM_BASE], len);
	return e->dma_ret;
}

static void fake_irq(void *opaque, unsigned int vector, bool level)
{
	struct fake_env *e = opaque;

	assert_true(e->nirq < MAX_IRQ_CALLS);
	e->irq_vector[e->nirq] = vector;
	e->irq_level[e->nirq] = level;
	e->nirq++;
}

static const struct edu_ops fake_ops = { .dma = fake_dma, .irq = fake_irq };

static int setup(void **state)
{
	struct fake_env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	edu_model_init(&e->m, &fake_ops, e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* Access helpers: little-endian values of 1..8 bytes. */

static uint64_t le_get(const uint8_t *p, uint32_t n)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void le_put(uint8_t *p, uint64_t v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t bar_rd(struct edu_model *m, unsigned int bar, uint64_t off, uint32_t n)
{
	uint8_t b[8];

	assert_int_equal(edu_model_bar_read(m, bar, off, b, n), 0);
	return le_get(b, n);
}

static void bar_wr(struct edu_model *m, unsigned int bar, uint64_t off, uint64_t v, uint32_t n)
{
	uint8_t b[8];

	le_put(b, v, n);
	assert_int_equal(edu_model_bar_write(m, bar, off, b, n), 0);
}

static uint32_t reg_rd(struct edu_model *m, uint64_t off)
{
	return (uint32_t)bar_rd(m, EDU_BAR_REGS, off, 4);
}

static void reg_wr(struct edu_model *m, uint64_t off, uint32_t v)
{
	bar_wr(m, EDU_BAR_REGS, off, v, 4);
}

static uint32_t cfg_rd(struct edu_model *m, uint32_t off, uint32_t n)
{
	uint8_t b[4];

	assert_int_equal(edu_model_config_read(m, off, b, n), 0);
	return (uint32_t)le_get(b, n);
}

static void cfg_wr(struct edu_model *m, uint32_t off, uint32_t v, uint32_t n)
{
	uint8_t b[4];

	le_put(b, v, n);
	assert_int_equal(edu_model_config_write(m, off, b, n), 0);
}

static void enable_bus_master(struct edu_model *m)
{
	cfg_wr(m, 0x04, cfg_rd(m, 0x04, 2) | 0x0004, 2);
}

static void dma_setup(struct edu_model *m, uint64_t src, uint64_t dst, uint64_t count)
{
	bar_wr(m, EDU_BAR_REGS, EDU_REG_DMA_SRC, src, 8);
	bar_wr(m, EDU_BAR_REGS, EDU_REG_DMA_DST, dst, 8);
	bar_wr(m, EDU_BAR_REGS, EDU_REG_DMA_COUNT, count, 8);
}

static uint64_t dma_cmd(struct edu_model *m)
{
	return bar_rd(m, EDU_BAR_REGS, EDU_REG_DMA_CMD, 8);
}

/* BAR0 registers */

static void test_id(void **state)
{
	struct fake_env *e = *state;

	assert_int_equal(reg_rd(&e->m, EDU_REG_ID), EDU_ID_VALUE);
	reg_wr(&e->m, EDU_REG_ID, 0x12345678);
	assert_int_equal(reg_rd(&e->m, EDU_REG_ID), EDU_ID_VALUE);
}

static void test_liveness(void **state)
{
	struct fake_env *e = *state;

	assert_int_equal(reg_rd(&e->m, EDU_REG_LIVENESS), 0xffffffffu);
	reg_wr(&e->m, EDU_REG_LIVENESS, 0x12345678);
	assert_int_equal(reg_rd(&e->m, EDU_REG_LIVENESS), 0xedcba987u);
	reg_wr(&e->m, EDU_REG_LIVENESS, 0xffffffffu);
	assert_int_equal(reg_rd(&e->m, EDU_REG_LIVENESS), 0);
}

static void test_factorial(void **state)
{
	struct fake_env *e = *state;

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
	struct fake_env *e = *state;

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
	struct fake_env *e = *state;

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
	struct fake_env *e = *state;

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
	struct fake_env *e = *state;

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
	struct fake_env *e = *state;

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
	struct fake_env *e = *state;
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
	struct fake_env *e = *state;
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
	struct fake_env *e = *state;

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
	struct fake_env *e = *state;
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

/* DMA */

static void test_dma_to_device(void **state)
{
	struct fake_env *e = *state;

	for (uint32_t i = 0; i < RAM_SIZE; i++)
		e->ram[i] = (uint8_t)(i * 7 + 3);
	enable_bus_master(&e->m);
	dma_setup(&e->m, RAM_BASE + 0x123, EDU_DMA_BUF_ADDR + 0x10, 100);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN, 8);
	assert_int_equal(e->ndma, 1);
	assert_false(e->last_to_ram);
	assert_int_equal(e->last_iova, RAM_BASE + 0x123);
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
	struct fake_env *e = *state;

	for (uint32_t i = 0; i < EDU_DMA_BUF_SIZE; i++)
		e->m.dma_buf[i] = (uint8_t)(i ^ 0x5a);
	enable_bus_master(&e->m);
	/* The whole buffer, 4-byte register writes this time. */
	reg_wr(&e->m, EDU_REG_DMA_SRC, EDU_DMA_BUF_ADDR);
	reg_wr(&e->m, EDU_REG_DMA_DST, RAM_BASE + 0x800);
	reg_wr(&e->m, EDU_REG_DMA_COUNT, EDU_DMA_BUF_SIZE);
	reg_wr(&e->m, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_TO_RAM);
	assert_int_equal(e->ndma, 1);
	assert_true(e->last_to_ram);
	assert_int_equal(e->last_iova, RAM_BASE + 0x800);
	assert_int_equal(e->last_len, EDU_DMA_BUF_SIZE);
	assert_memory_equal(&e->ram[0x800], e->m.dma_buf, EDU_DMA_BUF_SIZE);
	assert_int_equal(e->ram[0x7ff], 0);
	assert_int_equal(e->ram[0x800 + EDU_DMA_BUF_SIZE], 0);
	assert_int_equal(dma_cmd(&e->m), EDU_DMA_CMD_TO_RAM);
}

static void test_dma_round_trip_last_byte(void **state)
{
	struct fake_env *e = *state;

	enable_bus_master(&e->m);
	e->ram[0] = 0x42;
	dma_setup(&e->m, RAM_BASE, EDU_DMA_BUF_ADDR + EDU_DMA_BUF_SIZE - 1, 1);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN, 8);
	assert_int_equal(e->m.dma_buf[EDU_DMA_BUF_SIZE - 1], 0x42);
	dma_setup(&e->m, EDU_DMA_BUF_ADDR + EDU_DMA_BUF_SIZE - 1, RAM_BASE + 9, 1);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_TO_RAM, 8);
	assert_int_equal(e->ram[9], 0x42);
	assert_int_equal(e->ndma, 2);
	assert_int_equal(dma_cmd(&e->m) & (EDU_DMA_CMD_RUN | EDU_DMA_CMD_ERROR), 0);
}

static void test_dma_irq_only_when_asked(void **state)
{
	struct fake_env *e = *state;

	enable_bus_master(&e->m);
	dma_setup(&e->m, RAM_BASE, EDU_DMA_BUF_ADDR, 16);
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
	struct fake_env *e = *state;

	enable_bus_master(&e->m);
	e->dma_ret = EDU_DMA_PENDING;
	dma_setup(&e->m, RAM_BASE, EDU_DMA_BUF_ADDR + 8, 32);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_IRQ, 8);
	assert_int_equal(e->ndma, 1);
	assert_true(e->m.dma_pending);
	assert_int_equal(dma_cmd(&e->m), EDU_DMA_CMD_RUN | EDU_DMA_CMD_IRQ);
	assert_int_equal(e->nirq, 0);

	/* Register writes while running are ignored, and no second transfer starts. */
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 0x1234, 8);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_COUNT, 1, 4);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_TO_RAM, 8);
	assert_int_equal(bar_rd(&e->m, EDU_BAR_REGS, EDU_REG_DMA_SRC, 8), RAM_BASE);
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
	struct fake_env *e = *state;

	enable_bus_master(&e->m);
	e->dma_ret = EDU_DMA_PENDING;
	dma_setup(&e->m, RAM_BASE, EDU_DMA_BUF_ADDR, 32);
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
	struct fake_env *e = *state;

	enable_bus_master(&e->m);
	e->dma_ret = EDU_DMA_PENDING;
	dma_setup(&e->m, RAM_BASE, EDU_DMA_BUF_ADDR, 32);
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
	dma_setup(&e->m, RAM_BASE, EDU_DMA_BUF_ADDR, 32);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN, 8);
	assert_int_equal(e->ndma, 2);
	assert_int_equal(dma_cmd(&e->m), 0);
}

static void test_dma_refused_without_bus_master(void **state)
{
	struct fake_env *e = *state;

	dma_setup(&e->m, RAM_BASE, EDU_DMA_BUF_ADDR, 16);
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

static void expect_refused(struct fake_env *e, uint64_t src, uint64_t dst, uint64_t count,
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
	struct fake_env *e = *state;
	const uint64_t buf = EDU_DMA_BUF_ADDR;
	const uint64_t end = EDU_DMA_BUF_ADDR + EDU_DMA_BUF_SIZE;
	const uint64_t irq = EDU_DMA_CMD_IRQ, to_ram = EDU_DMA_CMD_TO_RAM;

	enable_bus_master(&e->m);
	/* Device side below, crossing the end, past the end, far away; both directions. */
	expect_refused(e, RAM_BASE, buf - 1, 16, irq);
	expect_refused(e, RAM_BASE, end - 8, 16, irq);
	expect_refused(e, RAM_BASE, end, 1, 0);
	expect_refused(e, RAM_BASE, 0, 16, 0);
	expect_refused(e, buf - 16, RAM_BASE, 16, to_ram);
	expect_refused(e, end - 1, RAM_BASE, 2, to_ram | irq);
	/* Addresses chosen so that addr + count wraps. */
	expect_refused(e, RAM_BASE, UINT64_MAX - 3, 16, 0);
	expect_refused(e, UINT64_MAX, RAM_BASE, 1, to_ram);
	/* The RAM side of a to-RAM transfer is not the device buffer: src must be. */
	expect_refused(e, RAM_BASE, buf, 16, to_ram);
	assert_int_equal(e->nirq, 0);
	assert_int_equal(reg_rd(&e->m, EDU_REG_IRQ_STATUS), 0);
}

static void test_dma_bad_count(void **state)
{
	struct fake_env *e = *state;

	enable_bus_master(&e->m);
	expect_refused(e, RAM_BASE, EDU_DMA_BUF_ADDR, 0, EDU_DMA_CMD_IRQ);
	expect_refused(e, RAM_BASE, EDU_DMA_BUF_ADDR, EDU_DMA_BUF_SIZE + 1, 0);
	expect_refused(e, EDU_DMA_BUF_ADDR, RAM_BASE, 1ull << 32, EDU_DMA_CMD_TO_RAM);
	expect_refused(e, EDU_DMA_BUF_ADDR, RAM_BASE, UINT64_MAX, EDU_DMA_CMD_TO_RAM);
	assert_int_equal(e->nirq, 0);
}

static void test_dma_op_error(void **state)
{
	struct fake_env *e = *state;

	enable_bus_master(&e->m);
	/* The environment refuses the bus address. */
	dma_setup(&e->m, 0x10, EDU_DMA_BUF_ADDR, 16);
	bar_wr(&e->m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_IRQ, 8);
	assert_int_equal(e->ndma, 1);
	assert_int_equal(dma_cmd(&e->m), EDU_DMA_CMD_IRQ | EDU_DMA_CMD_ERROR);
	assert_int_equal(e->nirq, 0);
	/* A later good transfer clears the error bit. */
	dma_setup(&e->m, RAM_BASE, EDU_DMA_BUF_ADDR, 16);
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
	dma_setup(m, RAM_BASE, EDU_DMA_BUF_ADDR, 16);
	bar_wr(m, EDU_BAR_REGS, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN, 8);
	assert_int_equal(dma_cmd(m), EDU_DMA_CMD_ERROR);
	/* Interrupts without a callback only change state. */
	reg_wr(m, EDU_REG_IRQ_RAISE, 1);
	assert_true(edu_model_irq_pending(m));
	edu_model_reset(m);
	assert_false(edu_model_irq_pending(m));
	free(m);
}

/* Config space */

static void test_config_ids(void **state)
{
	struct fake_env *e = *state;

	assert_int_equal(cfg_rd(&e->m, 0x00, 2), EDU_VENDOR_ID);
	assert_int_equal(cfg_rd(&e->m, 0x02, 2), EDU_DEVICE_ID);
	assert_int_equal(cfg_rd(&e->m, 0x00, 4), EDU_DEVICE_ID << 16 | EDU_VENDOR_ID);
	assert_int_equal(cfg_rd(&e->m, 0x08, 1), EDU_REVISION);
	assert_int_equal(cfg_rd(&e->m, 0x08, 4), EDU_CLASS_CODE << 8 | EDU_REVISION);
	assert_int_equal(cfg_rd(&e->m, 0x09, 1), 0x00);
	assert_int_equal(cfg_rd(&e->m, 0x0a, 1), 0x00);
	assert_int_equal(cfg_rd(&e->m, 0x0b, 1), 0xff);
	assert_int_equal(cfg_rd(&e->m, 0x0e, 1), 0);
	assert_int_equal(cfg_rd(&e->m, 0x2c, 2), EDU_SUBSYS_VENDOR_ID);
	assert_int_equal(cfg_rd(&e->m, 0x2e, 2), EDU_SUBSYS_ID);
	assert_int_equal(cfg_rd(&e->m, 0x3d, 1), 1);
	assert_int_equal(cfg_rd(&e->m, 0x04, 2), 0);
	assert_int_equal(cfg_rd(&e->m, 0x06, 2), 0x0010);
	assert_int_equal(cfg_rd(&e->m, 0x34, 1), EDU_CAP_PM);
	/* Unaligned reads assemble bytes. */
	assert_int_equal(cfg_rd(&e->m, 0x01, 2), 0xe812);
	assert_int_equal(cfg_rd(&e->m, 0x03, 4), 0x10000011);
}

static void test_config_einval(void **state)
{
	struct fake_env *e = *state;
	uint8_t b[8] = { 0 };

	assert_int_equal(edu_model_config_read(&e->m, 0, b, 0), -EDU_EINVAL);
	assert_int_equal(edu_model_config_read(&e->m, 0, b, 3), -EDU_EINVAL);
	assert_int_equal(edu_model_config_read(&e->m, 0, b, 8), -EDU_EINVAL);
	assert_int_equal(edu_model_config_read(&e->m, EDU_CONFIG_SIZE, b, 1), -EDU_EINVAL);
	assert_int_equal(edu_model_config_read(&e->m, EDU_CONFIG_SIZE - 2, b, 4), -EDU_EINVAL);
	assert_int_equal(edu_model_config_read(&e->m, UINT32_MAX, b, 2), -EDU_EINVAL);
	assert_int_equal(edu_model_config_write(&e->m, 0x04, b, 3), -EDU_EINVAL);
	assert_int_equal(edu_model_config_write(&e->m, UINT32_MAX - 1, b, 4), -EDU_EINVAL);
	assert_int_equal(edu_model_config_read(&e->m, EDU_CONFIG_SIZE - 4, b, 4), 0);
	assert_int_equal(edu_model_config_write(&e->m, EDU_CONFIG_SIZE - 1, b, 1), 0);
}

static void test_config_bar_sizing(void **state)
{
	struct fake_env *e = *state;

	/* Power-on values */
	assert_int_equal(cfg_rd(&e->m, 0x10, 4), 0);
	assert_int_equal(cfg_rd(&e->m, 0x18, 4), 0);
	assert_int_equal(cfg_rd(&e->m, 0x20, 4), 0x0000000c);
	assert_int_equal(cfg_rd(&e->m, 0x24, 4), 0);
	/* Sizing */
	cfg_wr(&e->m, 0x10, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, 0x10, 4), 0xfff00000u);
	cfg_wr(&e->m, 0x18, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, 0x18, 4), 0xfffff000u);
	cfg_wr(&e->m, 0x20, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, 0x20, 4), 0xfff0000cu);
	cfg_wr(&e->m, 0x24, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, 0x24, 4), 0xffffffffu);
	/* Programming an address keeps the aligned part and the flags. */
	cfg_wr(&e->m, 0x10, 0xfe012345u, 4);
	assert_int_equal(cfg_rd(&e->m, 0x10, 4), 0xfe000000u);
	cfg_wr(&e->m, 0x18, 0xfe101fffu, 4);
	assert_int_equal(cfg_rd(&e->m, 0x18, 4), 0xfe101000u);
	cfg_wr(&e->m, 0x20, 0x80200003u, 4);
	assert_int_equal(cfg_rd(&e->m, 0x20, 4), 0x8020000cu);
	cfg_wr(&e->m, 0x24, 0x00000012u, 4);
	assert_int_equal(cfg_rd(&e->m, 0x24, 4), 0x00000012u);
	/* Byte-wide writes go through the same masks. */
	cfg_wr(&e->m, 0x12, 0xff, 1);
	assert_int_equal(cfg_rd(&e->m, 0x10, 4), 0xfef00000u);
	cfg_wr(&e->m, 0x20, 0xff, 1);
	assert_int_equal(cfg_rd(&e->m, 0x20, 4), 0x8020000cu);
}

static void test_config_bar_readonly(void **state)
{
	struct fake_env *e = *state;
	static const uint32_t ro[] = { 0x14, 0x1c, 0x28, 0x30 };

	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		cfg_wr(&e->m, ro[i], 0xffffffffu, 4);
		assert_int_equal(cfg_rd(&e->m, ro[i], 4), 0);
		cfg_wr(&e->m, ro[i], 0x12345678u, 4);
		assert_int_equal(cfg_rd(&e->m, ro[i], 4), 0);
	}
}

static void test_config_cap_list(void **state)
{
	struct fake_env *e = *state;
	static const uint8_t want_pos[] = { EDU_CAP_PM, EDU_CAP_MSI, EDU_CAP_PCIE, EDU_CAP_MSIX };
	static const uint8_t want_id[] = { 0x01, 0x05, 0x10, 0x11 };
	uint32_t pos = cfg_rd(&e->m, 0x34, 1);
	unsigned int n = 0;

	assert_true(cfg_rd(&e->m, 0x06, 2) & 0x0010);
	while (pos) {
		assert_true(n < 4);
		assert_int_equal(pos, want_pos[n]);
		assert_int_equal(cfg_rd(&e->m, pos, 1), want_id[n]);
		pos = cfg_rd(&e->m, pos + 1, 1);
		n++;
	}
	assert_int_equal(n, 4);
	/* No extended capabilities. */
	assert_int_equal(cfg_rd(&e->m, 0x100, 4), 0);
	/* The list cannot be rewritten. */
	cfg_wr(&e->m, 0x34, 0x80, 1);
	cfg_wr(&e->m, EDU_CAP_PM, 0xffff, 2);
	cfg_wr(&e->m, 0x100, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, 0x34, 1), EDU_CAP_PM);
	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM, 2), 0x5001);
	assert_int_equal(cfg_rd(&e->m, 0x100, 4), 0);
}

static void test_config_pm_cap(void **state)
{
	struct fake_env *e = *state;

	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM + 2, 2), 0x0003);
	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM + 4, 2), 0x0008);
	cfg_wr(&e->m, EDU_CAP_PM + 4, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM + 4, 2), 0x000b);
	cfg_wr(&e->m, EDU_CAP_PM + 4, 0x0000, 2);
	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM + 4, 2), 0x0008);
	/* D1 and D2 are not supported: such writes are dropped. */
	cfg_wr(&e->m, EDU_CAP_PM + 4, 0x0001, 2);
	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM + 4, 2), 0x0008);
	cfg_wr(&e->m, EDU_CAP_PM + 4, 0x0003, 1);
	cfg_wr(&e->m, EDU_CAP_PM + 4, 0x0002, 1);
	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM + 4, 2), 0x000b);
	cfg_wr(&e->m, EDU_CAP_PM + 2, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM + 2, 2), 0x0003);
}

static void test_config_msi_cap(void **state)
{
	struct fake_env *e = *state;
	const uint32_t c = EDU_CAP_MSI;

	assert_int_equal(cfg_rd(&e->m, c, 4), 0x00807005);
	/* Enable sticks; multiple message enable and the capability bits do not. */
	cfg_wr(&e->m, c + 2, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, c + 2, 2), 0x0081);
	cfg_wr(&e->m, c + 2, 0x0000, 2);
	assert_int_equal(cfg_rd(&e->m, c + 2, 2), 0x0080);
	cfg_wr(&e->m, c + 4, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, c + 4, 4), 0xfffffffcu);
	cfg_wr(&e->m, c + 8, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, c + 8, 4), 0xffffffffu);
	cfg_wr(&e->m, c + 12, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, c + 12, 4), 0x0000ffffu);
	cfg_wr(&e->m, c + 4, 0xfee01004u, 4);
	cfg_wr(&e->m, c + 12, 0x4041, 2);
	assert_int_equal(cfg_rd(&e->m, c + 4, 4), 0xfee01004u);
	assert_int_equal(cfg_rd(&e->m, c + 12, 2), 0x4041);
}

static void test_config_pcie_cap(void **state)
{
	struct fake_env *e = *state;
	const uint32_t c = EDU_CAP_PCIE;

	assert_int_equal(cfg_rd(&e->m, c, 2), EDU_CAP_MSIX << 8 | 0x10);
	assert_int_equal(cfg_rd(&e->m, c + 2, 2), 0x0002);
	assert_int_equal(cfg_rd(&e->m, c + 4, 4), 0x8000); /* role-based error reporting: PCIe 1.1+ */
	assert_int_equal(cfg_rd(&e->m, c + 8, 2), 0);
	assert_int_equal(cfg_rd(&e->m, c + 12, 4), 0x00000011);
	assert_int_equal(cfg_rd(&e->m, c + 18, 2), 0x0011);
	/* Device control */
	cfg_wr(&e->m, c + 8, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, c + 8, 2), 0x0eff);
	/* Device status is read-only. */
	cfg_wr(&e->m, c + 10, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, c + 10, 2), 0);
	/* Link control: ASPM only; link capabilities and status read-only. */
	cfg_wr(&e->m, c + 16, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, c + 16, 4), 0x00110003u);
	cfg_wr(&e->m, c + 12, 0, 4);
	assert_int_equal(cfg_rd(&e->m, c + 12, 4), 0x00000011);
	/* The version 2 registers up to 0xab are present and zero. */
	for (uint32_t off = c + 0x14; off < c + 0x3c; off += 4) {
		cfg_wr(&e->m, off, 0xffffffffu, 4);
		assert_int_equal(cfg_rd(&e->m, off, 4), 0);
	}
}

static void test_config_msix_cap(void **state)
{
	struct fake_env *e = *state;
	const uint32_t c = EDU_CAP_MSIX;

	assert_int_equal(cfg_rd(&e->m, c, 1), 0x11);
	assert_int_equal(cfg_rd(&e->m, c + 1, 1), 0);
	assert_int_equal((cfg_rd(&e->m, c + 2, 2) & 0x7ff) + 1, EDU_MSIX_VECTORS);
	assert_int_equal(cfg_rd(&e->m, c + 4, 4), 0x00000002);
	assert_int_equal(cfg_rd(&e->m, c + 4, 4) & 7, EDU_BAR_MSIX);
	assert_int_equal(cfg_rd(&e->m, c + 4, 4) & ~7u, EDU_MSIX_TABLE_OFFSET);
	assert_int_equal(cfg_rd(&e->m, c + 8, 4), 0x00000802);
	assert_int_equal(cfg_rd(&e->m, c + 8, 4) & ~7u, EDU_MSIX_PBA_OFFSET);
	/* Enable and function mask are writable, table size is not. */
	cfg_wr(&e->m, c + 2, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, c + 2, 2), 0xc000 | (EDU_MSIX_VECTORS - 1));
	cfg_wr(&e->m, c + 2, 0, 2);
	assert_int_equal(cfg_rd(&e->m, c + 2, 2), EDU_MSIX_VECTORS - 1);
	cfg_wr(&e->m, c + 4, 0xffffffffu, 4);
	cfg_wr(&e->m, c + 8, 0, 4);
	assert_int_equal(cfg_rd(&e->m, c + 4, 4), 0x00000002);
	assert_int_equal(cfg_rd(&e->m, c + 8, 4), 0x00000802);
}

static void test_config_command(void **state)
{
	struct fake_env *e = *state;

	cfg_wr(&e->m, 0x04, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, 0x04, 2), 0x0547);
	assert_true(edu_model_bus_master(&e->m));
	assert_true(edu_model_intx_disabled(&e->m));
	cfg_wr(&e->m, 0x05, 0x00, 1);
	assert_int_equal(cfg_rd(&e->m, 0x04, 2), 0x0047);
	assert_false(edu_model_intx_disabled(&e->m));
	cfg_wr(&e->m, 0x04, 0x0002, 2);
	assert_false(edu_model_bus_master(&e->m));
	/* A 4-byte write over command and status changes only command bits. */
	cfg_wr(&e->m, 0x04, 0xffff0404u, 4);
	assert_int_equal(cfg_rd(&e->m, 0x04, 4), 0x00100404u);
	assert_true(edu_model_bus_master(&e->m));
	assert_true(edu_model_intx_disabled(&e->m));
	/* Unaligned 2-byte write straddling command and status */
	cfg_wr(&e->m, 0x05, 0xff00, 2);
	assert_int_equal(cfg_rd(&e->m, 0x04, 4), 0x00100004u);
}

static void test_config_readonly(void **state)
{
	struct fake_env *e = *state;
	uint8_t before[EDU_CONFIG_SIZE];
	uint8_t after[EDU_CONFIG_SIZE];
	static const uint32_t ro[] = { 0x00, 0x08, 0x2c, 0x34, 0x38 };

	for (uint32_t i = 0; i < EDU_CONFIG_SIZE; i++)
		before[i] = (uint8_t)cfg_rd(&e->m, i, 1);
	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		cfg_wr(&e->m, ro[i], 0xffffffffu, 4);
		cfg_wr(&e->m, ro[i], 0, 4);
	}
	cfg_wr(&e->m, 0x0e, 0xffff, 2);	/* header type, BIST */
	cfg_wr(&e->m, 0x06, 0xffff, 2);	/* status */
	cfg_wr(&e->m, 0x3d, 0xffff, 2);	/* pin, min grant */
	cfg_wr(&e->m, 0x3e, 0xffff, 2);
	for (uint32_t off = 0x100; off < EDU_CONFIG_SIZE; off += 4)
		cfg_wr(&e->m, off, 0xffffffffu, 4);
	for (uint32_t i = 0; i < EDU_CONFIG_SIZE; i++)
		after[i] = (uint8_t)cfg_rd(&e->m, i, 1);
	assert_memory_equal(before, after, EDU_CONFIG_SIZE);
	for (uint32_t i = 0x100; i < EDU_CONFIG_SIZE; i++)
		assert_int_equal(after[i], 0);

	/* The rw bytes of the header */
	cfg_wr(&e->m, 0x0c, 0x4010, 2);
	cfg_wr(&e->m, 0x3c, 0x0b, 1);
	assert_int_equal(cfg_rd(&e->m, 0x0c, 2), 0x4010);
	assert_int_equal(cfg_rd(&e->m, 0x3c, 2), 0x010b);
}

/* A byte-by-byte sweep: every write mask bit is one listed in the device description. */
static void test_config_wmask_sweep(void **state)
{
	struct fake_env *e = *state;
	static const struct {
		uint32_t off;
		uint8_t mask;
	} rw[] = {
		{ 0x04, 0x47 }, { 0x05, 0x05 }, { 0x0c, 0xff }, { 0x0d, 0xff },
		{ 0x12, 0xf0 }, { 0x13, 0xff }, { 0x19, 0xf0 }, { 0x1a, 0xff }, { 0x1b, 0xff },
		{ 0x22, 0xf0 }, { 0x23, 0xff }, { 0x24, 0xff }, { 0x25, 0xff }, { 0x26, 0xff },
		{ 0x27, 0xff }, { 0x3c, 0xff }, { 0x44, 0x03 }, { 0x52, 0x01 }, { 0x54, 0xfc },
		{ 0x55, 0xff }, { 0x56, 0xff }, { 0x57, 0xff }, { 0x58, 0xff }, { 0x59, 0xff },
		{ 0x5a, 0xff }, { 0x5b, 0xff }, { 0x5c, 0xff }, { 0x5d, 0xff }, { 0x78, 0xff },
		{ 0x79, 0x0e }, { 0x80, 0x03 }, { 0xb3, 0xc0 },
	};

	for (uint32_t off = 0; off < 0x100; off++) {
		uint8_t want = 0;
		uint8_t orig = (uint8_t)cfg_rd(&e->m, off, 1);
		uint8_t set, clr;

		for (size_t i = 0; i < sizeof(rw) / sizeof(rw[0]); i++)
			if (rw[i].off == off)
				want = rw[i].mask;
		cfg_wr(&e->m, off, 0xff, 1);
		set = (uint8_t)cfg_rd(&e->m, off, 1);
		cfg_wr(&e->m, off, 0x00, 1);
		clr = (uint8_t)cfg_rd(&e->m, off, 1);
		/* PMCSR: writing 0xff selects D3hot (3), 0x00 D0. */
		assert_int_equal(set ^ clr, want);
		cfg_wr(&e->m, off, orig, 1);
		assert_int_equal(cfg_rd(&e->m, off, 1), orig);
	}
}

static void test_config_status_follows_irq(void **state)
{
	struct fake_env *e = *state;

	assert_int_equal(cfg_rd(&e->m, 0x06, 2), 0x0010);
	reg_wr(&e->m, EDU_REG_IRQ_RAISE, 0x4);
	assert_int_equal(cfg_rd(&e->m, 0x06, 2), 0x0018);
	/* The status bit cannot be cleared by config writes. */
	cfg_wr(&e->m, 0x06, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, 0x06, 2), 0x0018);
	/* It shows the interrupt even with INTx disabled. */
	cfg_wr(&e->m, 0x04, 0x0400, 2);
	assert_int_equal(cfg_rd(&e->m, 0x06, 2), 0x0018);
	reg_wr(&e->m, EDU_REG_IRQ_ACK, 0x4);
	assert_int_equal(cfg_rd(&e->m, 0x06, 2), 0x0010);
	assert_int_equal(cfg_rd(&e->m, 0x04, 4), 0x00100400);
}

/* BAR2: MSI-X */

static void test_msix_reset_state(void **state)
{
	struct fake_env *e = *state;

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
	struct fake_env *e = *state;
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
	struct fake_env *e = *state;
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
	struct fake_env *e = *state;

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
	struct fake_env *e = *state;
	struct edu_model *fresh = calloc(1, sizeof(*fresh));

	assert_non_null(fresh);
	edu_model_init(fresh, &fake_ops, e);

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
	assert_ptr_equal(e->m.ops, &fake_ops);
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
	struct fake_env *e = *state;

	/* init does not call out, and neither does a reset with nothing pending. */
	assert_int_equal(e->nirq, 0);
	edu_model_reset(&e->m);
	assert_int_equal(e->nirq, 0);
	reg_wr(&e->m, EDU_REG_IRQ_RAISE, 1);
	reg_wr(&e->m, EDU_REG_IRQ_ACK, 1);
	edu_model_reset(&e->m);
	assert_int_equal(e->nirq, 2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

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
		T(test_config_ids),
		T(test_config_einval),
		T(test_config_bar_sizing),
		T(test_config_bar_readonly),
		T(test_config_cap_list),
		T(test_config_pm_cap),
		T(test_config_msi_cap),
		T(test_config_pcie_cap),
		T(test_config_msix_cap),
		T(test_config_command),
		T(test_config_readonly),
		T(test_config_wmask_sweep),
		T(test_config_status_follows_irq),
		T(test_msix_reset_state),
		T(test_msix_table_rw),
		T(test_msix_bad_access),
		T(test_msix_pba_readonly),
		T(test_reset_restores_everything),
		T(test_reset_idle_no_irq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
