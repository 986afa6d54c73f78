/* edu_figures.c: the guest module's figures, printed and never judged: trapped and mmapped read and write latencies, polled 4 KiB DMA throughput. */
// SPDX-License-Identifier: GPL-2.0
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "edu_test.h"

#define MEASURE_READS 2000	/* samples per latency figure (the largest count) */
#define MEASURE_DMAS 200

static int op_bar0_read(struct edu_test *t, char *err)
{
	u32 v = reg_read(t, EDU_REG_ID);

	return v == EDU_ID_VALUE ? 0 : edu_fail(err, "id register read %#x", v);
}

static int op_bar0_write(struct edu_test *t, char *err)
{
	reg_write(t, EDU_REG_LIVENESS, 0x5a5a5a5a);
	return 0;
}

static int op_bar4_read(struct edu_test *t, char *err)
{
	ioread32(t->bar4);
	return 0;
}

static int op_dma_to_device(struct edu_test *t, char *err)
{
	return edu_dma_run(t, t->ram_dma, EDU_DMA_BUF_ADDR, EDU_DMA_BUF_SIZE, 0, err);
}

static int op_dma_to_ram(struct edu_test *t, char *err)
{
	return edu_dma_run(t, EDU_DMA_BUF_ADDR, t->ram_dma, EDU_DMA_BUF_SIZE, EDU_DMA_CMD_TO_RAM,
			   err);
}

static const struct {
	const char *name;
	const char *what;
	unsigned int n;
	u32 bytes;		/* moved per operation: a throughput figure; 0: a latency */
	int (*op)(struct edu_test *t, char *err);
} figures[] = {
	{ "bar0_read_latency", "trapped 4-byte BAR0 reads (REGION_READ)", MEASURE_READS, 0,
	  op_bar0_read },
	{ "bar0_write_latency", "trapped 4-byte BAR0 writes (REGION_WRITE)", MEASURE_READS, 0,
	  op_bar0_write },
	{ "bar4_read_latency", "4-byte reads of the mmapped RAM BAR, no message", MEASURE_READS, 0,
	  op_bar4_read },
	{ "dma_4k_ram_to_device", "polled 4 KiB transfers", MEASURE_DMAS, EDU_DMA_BUF_SIZE,
	  op_dma_to_device },
	{ "dma_4k_device_to_ram", "polled 4 KiB transfers", MEASURE_DMAS, EDU_DMA_BUF_SIZE,
	  op_dma_to_ram },
};

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a;
	u64 y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

void edu_measure(struct edu_test *t)
{
	char err[ERR_LEN];
	unsigned int f, i;
	u64 *ns, total, t0;

	ns = kmalloc_array(MEASURE_READS, sizeof(*ns), GFP_KERNEL);
	if (!ns) {
		pr_info("MEASURE impossible: no memory\n");
		return;
	}
	for (f = 0; f < ARRAY_SIZE(figures); f++) {
		total = 0;
		for (i = 0; i < figures[f].n; i++) {
			t0 = ktime_get_ns();
			if (figures[f].op(t, err))
				break;
			ns[i] = ktime_get_ns() - t0;
			total += ns[i];
		}
		if (i < figures[f].n) {
			pr_info("MEASURE %s failed: %s\n", figures[f].name, err);
			continue;
		}
		sort(ns, i, sizeof(*ns), cmp_u64, NULL);
		if (figures[f].bytes)
			pr_info("MEASURE %s %llu KiB/s (median %llu us per transfer; %u %s)\n",
				figures[f].name,
				(u64)figures[f].bytes * i * NSEC_PER_SEC / 1024 / total,
				ns[i / 2] / NSEC_PER_USEC, i, figures[f].what);
		else
			pr_info("MEASURE %s %llu ns median, %llu ns mean (%u %s)\n",
				figures[f].name, ns[i / 2], total / i, i, figures[f].what);
	}
	kfree(ns);
}
