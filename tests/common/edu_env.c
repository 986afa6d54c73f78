/* edu_env.c: the edu model's test environment: interrupts recorded, DMA served from (and refused outside) a RAM array, the cmocka fixture. */
#include "edu_env.h"

#include <stdlib.h>
#include <string.h>

static int fake_dma(void *opaque, uint64_t iova, void *buf, uint32_t len, bool to_ram)
{
	struct edu_env *e = opaque;

	e->ndma++;
	e->last_iova = iova;
	e->last_len = len;
	e->last_to_ram = to_ram;
	e->last_buf = buf;
	if (iova < EDU_ENV_RAM_BASE || iova - EDU_ENV_RAM_BASE > EDU_ENV_RAM_SIZE ||
	    len > EDU_ENV_RAM_SIZE - (iova - EDU_ENV_RAM_BASE))
		return -EDU_EFAULT;
	if (e->dma_ret < 0)
		return e->dma_ret;
	if (to_ram)
		memcpy(&e->ram[iova - EDU_ENV_RAM_BASE], buf, len);
	else
		memcpy(buf, &e->ram[iova - EDU_ENV_RAM_BASE], len);
	return e->dma_ret;
}

static void fake_irq(void *opaque, unsigned int vector, bool level)
{
	struct edu_env *e = opaque;

	assert_true(e->nirq < EDU_ENV_MAX_IRQ_CALLS);
	e->irq_vector[e->nirq] = vector;
	e->irq_level[e->nirq] = level;
	e->nirq++;
}

const struct edu_ops edu_env_ops = { .dma = fake_dma, .irq = fake_irq };

int edu_env_setup(void **state)
{
	struct edu_env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	edu_model_init(&e->m, &edu_env_ops, e);
	*state = e;
	return 0;
}

int edu_env_teardown(void **state)
{
	free(*state);
	return 0;
}
