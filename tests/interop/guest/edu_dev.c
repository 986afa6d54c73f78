/* edu_dev.c: the guest module's means to drive the device: check errors, DMA transfers, interrupt vectors and their handler. */
// SPDX-License-Identifier: GPL-2.0
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/interrupt.h>
#include <linux/ktime.h>
#include <linux/sched.h>

#include "edu_test.h"

int edu_fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vscnprintf(err, ERR_LEN, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Starts a transfer and, unless it raises an interrupt, polls until the engine is idle. */
int edu_dma_run(struct edu_test *t, u64 src, u64 dst, u32 count, u64 cmd, char *err)
{
	ktime_t end;
	u64 v;

	reg_write64(t, EDU_REG_DMA_SRC, src);
	reg_write64(t, EDU_REG_DMA_DST, dst);
	reg_write64(t, EDU_REG_DMA_COUNT, count);
	reg_write64(t, EDU_REG_DMA_CMD, cmd | EDU_DMA_CMD_RUN);
	if (cmd & EDU_DMA_CMD_IRQ)
		return 0;
	end = ktime_add_ms(ktime_get(), WAIT_MS);
	for (;;) {
		v = reg_read64(t, EDU_REG_DMA_CMD);
		if (!(v & EDU_DMA_CMD_RUN))
			break;
		if (ktime_after(ktime_get(), end))
			return edu_fail(err, "DMA of %u bytes still running after %d ms", count,
					WAIT_MS);
		cond_resched();
	}
	if (v == ~0ull)
		return edu_fail(err, "DMA command register reads all-ones");
	if (v & EDU_DMA_CMD_ERROR)
		return edu_fail(err, "DMA of %u bytes %#llx -> %#llx failed (cmd %#llx)", count,
				src, dst, v);
	return 0;
}

int edu_wait_vec(struct edu_test *t, unsigned int i, const char *what, char *err)
{
	if (!wait_for_completion_timeout(&t->vec[i].done, msecs_to_jiffies(WAIT_MS)))
		return edu_fail(err,
				"no interrupt on vector %u for %s within %d ms (irq status %#x)", i,
				what, WAIT_MS, reg_read(t, EDU_REG_IRQ_STATUS));
	return 0;
}

/* ---- interrupts ---- */

static irqreturn_t edu_test_irq(int irq, void *data)
{
	struct edu_vec *v = data;
	struct edu_test *t = v->t;
	u32 status = reg_read(t, EDU_REG_IRQ_STATUS);

	if (!status || status == ~0u)
		return IRQ_NONE;	/* INTx is shared: not ours */
	reg_write(t, EDU_REG_IRQ_ACK, status);
	v->status = status;
	atomic_inc(&v->count);
	complete(&v->done);
	return IRQ_HANDLED;
}

void edu_irqs_reset(struct edu_test *t)
{
	unsigned int i;

	for (i = 0; i < t->nvec; i++) {
		reinit_completion(&t->vec[i].done);
		atomic_set(&t->vec[i].count, 0);
		t->vec[i].status = 0;
	}
}

void edu_irqs_free(struct edu_test *t)
{
	unsigned int i;

	for (i = 0; i < t->nvec; i++)
		free_irq(pci_irq_vector(t->pdev, i), &t->vec[i]);
	t->nvec = 0;
	pci_free_irq_vectors(t->pdev);
}

int edu_irqs_alloc(struct edu_test *t, unsigned int type, unsigned int n, char *err)
{
	unsigned int i;
	int ret;

	ret = pci_alloc_irq_vectors(t->pdev, n, n, type);
	if (ret < 0)
		return edu_fail(err, "pci_alloc_irq_vectors(%u, %#x): %d", n, type, ret);
	for (i = 0; i < n; i++) {
		struct edu_vec *v = &t->vec[i];

		v->t = t;
		v->index = i;
		init_completion(&v->done);
		atomic_set(&v->count, 0);
		v->status = 0;
		ret = request_irq(pci_irq_vector(t->pdev, i), edu_test_irq,
				  type == PCI_IRQ_INTX ? IRQF_SHARED : 0, KBUILD_MODNAME, v);
		if (ret) {
			t->nvec = i;
			edu_irqs_free(t);
			return edu_fail(err, "request_irq for vector %u: %d", i, ret);
		}
	}
	t->nvec = n;
	return 0;
}

/* Raises cause on the device's current vector and waits for it on vector i. */
int edu_raise_and_wait(struct edu_test *t, unsigned int i, u32 cause, char *err)
{
	int ret;

	reinit_completion(&t->vec[i].done);
	reg_write(t, EDU_REG_IRQ_RAISE, cause);
	ret = edu_wait_vec(t, i, "a raised interrupt", err);
	if (ret)
		return ret;
	if (!(t->vec[i].status & cause))
		return edu_fail(err, "vector %u saw status %#x, expected %#x", i, t->vec[i].status,
				cause);
	return 0;
}

/* A DMA transfer that signals its end with an interrupt on vector i. */
int edu_dma_irq_and_wait(struct edu_test *t, unsigned int i, char *err)
{
	u8 *ram = t->ram;
	int ret;

	memset(ram, 0x5a, 64);
	reinit_completion(&t->vec[i].done);
	ret = edu_dma_run(t, EDU_DMA_BUF_ADDR, t->ram_dma, 64, EDU_DMA_CMD_TO_RAM | EDU_DMA_CMD_IRQ,
			  err);
	if (ret)
		return ret;
	ret = edu_wait_vec(t, i, "the end of a DMA", err);
	if (ret)
		return ret;
	if (!(t->vec[i].status & EDU_IRQ_DMA))
		return edu_fail(err, "DMA interrupt status %#x lacks %#x", t->vec[i].status,
				EDU_IRQ_DMA);
	if (reg_read64(t, EDU_REG_DMA_CMD) & (EDU_DMA_CMD_RUN | EDU_DMA_CMD_ERROR))
		return edu_fail(err, "DMA command %#llx after its interrupt",
				reg_read64(t, EDU_REG_DMA_CMD));
	return 0;
}
