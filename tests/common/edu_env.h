/* edu_env.h: the fixture of the edu model's unit tests (tests/unit/test_edu_*.c): a model whose environment records interrupts and serves DMA from a RAM array, and accessors of its BARs and config space. */
#ifndef TESTS_EDU_ENV_H
#define TESTS_EDU_ENV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "edu_model.h"

#define EDU_ENV_RAM_BASE 0x100000u /* the bus address of ram[0] */
#define EDU_ENV_RAM_SIZE 0x4000u
#define EDU_ENV_MAX_IRQ_CALLS 32

/* The environment: records interrupt calls and serves DMA from a local RAM array. */
struct edu_env {
	struct edu_model m;
	unsigned int nirq;
	unsigned int irq_vector[EDU_ENV_MAX_IRQ_CALLS];
	bool irq_level[EDU_ENV_MAX_IRQ_CALLS];
	unsigned int ndma;
	int dma_ret;		/* 0, EDU_DMA_PENDING or a negative errno */
	uint64_t last_iova;
	uint32_t last_len;
	bool last_to_ram;
	void *last_buf;
	uint8_t ram[EDU_ENV_RAM_SIZE];
};

/* The environment's ops (opaque: its struct edu_env), for a second model on the same environment. */
extern const struct edu_ops edu_env_ops;

/* cmocka setup and teardown: *state a zeroed struct edu_env whose model is initialised with its ops. */
int edu_env_setup(void **state);
int edu_env_teardown(void **state);

/* Access helpers: little-endian values of 1..8 bytes. */

static inline uint64_t le_get(const uint8_t *p, uint32_t n)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline void le_put(uint8_t *p, uint64_t v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t bar_rd(struct edu_model *m, unsigned int bar, uint64_t off, uint32_t n)
{
	uint8_t b[8];

	assert_int_equal(edu_model_bar_read(m, bar, off, b, n), 0);
	return le_get(b, n);
}

static inline void bar_wr(struct edu_model *m, unsigned int bar, uint64_t off, uint64_t v, uint32_t n)
{
	uint8_t b[8];

	le_put(b, v, n);
	assert_int_equal(edu_model_bar_write(m, bar, off, b, n), 0);
}

static inline uint32_t reg_rd(struct edu_model *m, uint64_t off)
{
	return (uint32_t)bar_rd(m, EDU_BAR_REGS, off, 4);
}

static inline void reg_wr(struct edu_model *m, uint64_t off, uint32_t v)
{
	bar_wr(m, EDU_BAR_REGS, off, v, 4);
}

static inline uint32_t cfg_rd(struct edu_model *m, uint32_t off, uint32_t n)
{
	uint8_t b[4];

	assert_int_equal(edu_model_config_read(m, off, b, n), 0);
	return (uint32_t)le_get(b, n);
}

static inline void cfg_wr(struct edu_model *m, uint32_t off, uint32_t v, uint32_t n)
{
	uint8_t b[4];

	le_put(b, v, n);
	assert_int_equal(edu_model_config_write(m, off, b, n), 0);
}

static inline void enable_bus_master(struct edu_model *m)
{
	cfg_wr(m, 0x04, cfg_rd(m, 0x04, 2) | 0x0004, 2);
}

static inline void dma_setup(struct edu_model *m, uint64_t src, uint64_t dst, uint64_t count)
{
	bar_wr(m, EDU_BAR_REGS, EDU_REG_DMA_SRC, src, 8);
	bar_wr(m, EDU_BAR_REGS, EDU_REG_DMA_DST, dst, 8);
	bar_wr(m, EDU_BAR_REGS, EDU_REG_DMA_COUNT, count, 8);
}

static inline uint64_t dma_cmd(struct edu_model *m)
{
	return bar_rd(m, EDU_BAR_REGS, EDU_REG_DMA_CMD, 8);
}

#endif /* TESTS_EDU_ENV_H */
