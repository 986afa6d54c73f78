/* edu_test.h: what the guest module's files share: the device's state as the module sees it, register access, the check tables, the hand-over loop's entry points. */
/* SPDX-License-Identifier: GPL-2.0 */
#ifndef EDU_TEST_H
#define EDU_TEST_H

#include <linux/atomic.h>
#include <linux/compiler.h>
#include <linux/completion.h>
#include <linux/io.h>
#include <linux/pci.h>
#include <linux/sysfs.h>
#include <linux/types.h>

#include "edu_model.h"

#ifndef PCI_IRQ_INTX
#define PCI_IRQ_INTX PCI_IRQ_LEGACY	/* renamed in 6.8 */
#endif

#define ERR_LEN 160
#define WAIT_MS 10000		/* per interrupt or DMA; QEMU's own message timeout is 5 s */
#define DMA_BUF_PAGES 3

struct edu_test;
struct edu_loop;

struct edu_vec {
	struct edu_test *t;
	unsigned int index;
	struct completion done;
	atomic_t count;
	u32 status;		/* the device's interrupt status seen by the last interrupt */
};

struct edu_test {
	struct pci_dev *pdev;
	void __iomem *bar0;
	void __iomem *bar4;
	void *ram;		/* DMA_BUF_PAGES pages of coherent memory */
	dma_addr_t ram_dma;
	struct edu_vec vec[EDU_MSIX_VECTORS];
	unsigned int nvec;
	unsigned int bar4_runs;	/* of bar4_ram: the RAM BAR is fresh before the first */
	bool timing;		/* every trapped BAR0 access goes to edu_loop_note_access() */
	struct edu_loop *loop;	/* the hand-over loop, while it runs */
	unsigned int passed;
	unsigned int failed;
};

struct edu_check {
	const char *name;
	int (*fn)(struct edu_test *t, char *err);
};

/* edu_dev.c: errors, DMA, interrupts */
__printf(2, 3) int edu_fail(char *err, const char *fmt, ...);
int edu_dma_run(struct edu_test *t, u64 src, u64 dst, u32 count, u64 cmd, char *err);
int edu_wait_vec(struct edu_test *t, unsigned int i, const char *what, char *err);
void edu_irqs_reset(struct edu_test *t);
void edu_irqs_free(struct edu_test *t);
int edu_irqs_alloc(struct edu_test *t, unsigned int type, unsigned int n, char *err);
int edu_raise_and_wait(struct edu_test *t, unsigned int i, u32 cause, char *err);
int edu_dma_irq_and_wait(struct edu_test *t, unsigned int i, char *err);

/* edu_checks.c: the checks, in the order the probe runs them */
extern const struct edu_check edu_checks[];
extern const unsigned int edu_num_checks;
/* after these the mmapped BARs are trapped for 1.1 s (QEMU's x-intx-mmap-timeout-ms) */
extern const struct edu_check edu_irq_checks[];
extern const unsigned int edu_num_irq_checks;

/* edu_figures.c */
void edu_measure(struct edu_test *t);

/* edu_loop.c: the hand-over loop, driven through the device attribute handover_loop */
extern const struct attribute_group *edu_loop_groups[];
void edu_loop_note_access(struct edu_test *t);
void edu_loop_release(struct edu_test *t);

/* ---- device access: BAR0 is trapped, each access a message QEMU waits for (writes too) ---- */

static inline u32 reg_read(struct edu_test *t, u32 off)
{
	u32 v = ioread32(t->bar0 + off);

	if (READ_ONCE(t->timing))
		edu_loop_note_access(t);
	return v;
}

static inline void reg_write(struct edu_test *t, u32 off, u32 val)
{
	iowrite32(val, t->bar0 + off);
	if (READ_ONCE(t->timing))
		edu_loop_note_access(t);
}

static inline u64 reg_read64(struct edu_test *t, u32 off)
{
	u64 v = readq(t->bar0 + off);

	if (READ_ONCE(t->timing))
		edu_loop_note_access(t);
	return v;
}

static inline void reg_write64(struct edu_test *t, u32 off, u64 val)
{
	writeq(val, t->bar0 + off);
	if (READ_ONCE(t->timing))
		edu_loop_note_access(t);
}

#endif
