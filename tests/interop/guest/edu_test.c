/* edu_test.c: guest kernel module that checks the proxy's emulated edu device through QEMU's vfio-user-pci and prints PASS/FAIL lines. */
// SPDX-License-Identifier: GPL-2.0
/*
 * Binds to 1234:11e8 and, from its probe, checks what the guest sees of the device served by
 * vfio-user-proxy: config space (IDs, class, BARs, capabilities), BAR0 registers, the RAM BAR,
 * the DMA engine in both directions, and MSI, MSI-X and INTx delivery. Each check prints
 * "edu_test: PASS <name>" or "edu_test: FAIL <name>: <why>"; figures print as
 * "edu_test: MEASURE <name> <value> <unit>"; the run ends with "edu_test: DONE passed=N failed=N".
 * The register map comes from the project's include/edu_model.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>

#include "edu_model.h"

#ifndef PCI_IRQ_INTX
#define PCI_IRQ_INTX PCI_IRQ_LEGACY	/* renamed in 6.8 */
#endif

#define ERR_LEN 160
#define WAIT_MS 10000		/* per interrupt or DMA; QEMU's own message timeout is 5 s */
#define DMA_BUF_PAGES 3
#define MEASURE_READS 2000	/* samples per latency figure (the largest count) */
#define MEASURE_DMAS 200
#define HOLD_MS 300000		/* at most, in hold mode */

static bool hold;
module_param(hold, bool, 0444);
MODULE_PARM_DESC(hold, "after the checks, keep DMA and MSI-X busy for the host to kill the VM");

struct edu_test;

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
	bool irq_shared;
	unsigned int passed;
	unsigned int failed;
};

static __printf(2, 3) int fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vscnprintf(err, ERR_LEN, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- device access ---- */

static u32 reg_read(struct edu_test *t, u32 off)
{
	return ioread32(t->bar0 + off);
}

static void reg_write(struct edu_test *t, u32 off, u32 val)
{
	iowrite32(val, t->bar0 + off);
}

static u64 reg_read64(struct edu_test *t, u32 off)
{
	return readq(t->bar0 + off);
}

static void reg_write64(struct edu_test *t, u32 off, u64 val)
{
	writeq(val, t->bar0 + off);
}

/* Starts a transfer and, unless it raises an interrupt, polls until the engine is idle. */
static int dma_run(struct edu_test *t, u64 src, u64 dst, u32 count, u64 cmd, char *err)
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
			return fail(err, "DMA of %u bytes still running after %d ms", count,
				    WAIT_MS);
		cond_resched();
	}
	if (v == ~0ull)
		return fail(err, "DMA command register reads all-ones");
	if (v & EDU_DMA_CMD_ERROR)
		return fail(err, "DMA of %u bytes %#llx -> %#llx failed (cmd %#llx)", count, src,
			    dst, v);
	return 0;
}

static int wait_vec(struct edu_test *t, unsigned int i, const char *what, char *err)
{
	if (!wait_for_completion_timeout(&t->vec[i].done, msecs_to_jiffies(WAIT_MS)))
		return fail(err, "no interrupt on vector %u for %s within %d ms (irq status %#x)",
			    i, what, WAIT_MS, reg_read(t, EDU_REG_IRQ_STATUS));
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

static void irqs_reset(struct edu_test *t)
{
	unsigned int i;

	for (i = 0; i < t->nvec; i++) {
		reinit_completion(&t->vec[i].done);
		atomic_set(&t->vec[i].count, 0);
		t->vec[i].status = 0;
	}
}

static void irqs_free(struct edu_test *t)
{
	unsigned int i;

	for (i = 0; i < t->nvec; i++)
		free_irq(pci_irq_vector(t->pdev, i), &t->vec[i]);
	t->nvec = 0;
	pci_free_irq_vectors(t->pdev);
}

static int irqs_alloc(struct edu_test *t, unsigned int type, unsigned int n, char *err)
{
	unsigned int i;
	int ret;

	ret = pci_alloc_irq_vectors(t->pdev, n, n, type);
	if (ret < 0)
		return fail(err, "pci_alloc_irq_vectors(%u, %#x): %d", n, type, ret);
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
			irqs_free(t);
			return fail(err, "request_irq for vector %u: %d", i, ret);
		}
	}
	t->nvec = n;
	return 0;
}

/* Raises cause on the device's current vector and waits for it on vector i. */
static int raise_and_wait(struct edu_test *t, unsigned int i, u32 cause, char *err)
{
	int ret;

	reinit_completion(&t->vec[i].done);
	reg_write(t, EDU_REG_IRQ_RAISE, cause);
	ret = wait_vec(t, i, "a raised interrupt", err);
	if (ret)
		return ret;
	if (!(t->vec[i].status & cause))
		return fail(err, "vector %u saw status %#x, expected %#x", i, t->vec[i].status,
			    cause);
	return 0;
}

/* A DMA transfer that signals its end with an interrupt on vector i. */
static int dma_irq_and_wait(struct edu_test *t, unsigned int i, char *err)
{
	u8 *ram = t->ram;
	int ret;

	memset(ram, 0x5a, 64);
	reinit_completion(&t->vec[i].done);
	ret = dma_run(t, EDU_DMA_BUF_ADDR, t->ram_dma, 64, EDU_DMA_CMD_TO_RAM | EDU_DMA_CMD_IRQ,
		      err);
	if (ret)
		return ret;
	ret = wait_vec(t, i, "the end of a DMA", err);
	if (ret)
		return ret;
	if (!(t->vec[i].status & EDU_IRQ_DMA))
		return fail(err, "DMA interrupt status %#x lacks %#x", t->vec[i].status,
			    EDU_IRQ_DMA);
	if (reg_read64(t, EDU_REG_DMA_CMD) & (EDU_DMA_CMD_RUN | EDU_DMA_CMD_ERROR))
		return fail(err, "DMA command %#llx after its interrupt",
			    reg_read64(t, EDU_REG_DMA_CMD));
	return 0;
}

/* ---- the checks ---- */

static int check_config_ids(struct edu_test *t, char *err)
{
	struct pci_dev *p = t->pdev;
	u8 hdr, pin;

	pci_read_config_byte(p, PCI_HEADER_TYPE, &hdr);
	pci_read_config_byte(p, PCI_INTERRUPT_PIN, &pin);
	if (p->vendor != EDU_VENDOR_ID || p->device != EDU_DEVICE_ID)
		return fail(err, "IDs %04x:%04x", p->vendor, p->device);
	if (p->subsystem_vendor != EDU_SUBSYS_VENDOR_ID || p->subsystem_device != EDU_SUBSYS_ID)
		return fail(err, "subsystem %04x:%04x", p->subsystem_vendor, p->subsystem_device);
	if (p->revision != EDU_REVISION)
		return fail(err, "revision %#x", p->revision);
	if (p->class != EDU_CLASS_CODE)
		return fail(err, "class %#08x", p->class);
	if ((hdr & 0x7f) != PCI_HEADER_TYPE_NORMAL)
		return fail(err, "header type %#x", hdr);
	if (pin != 1)
		return fail(err, "interrupt pin %u, expected 1 (INTA)", pin);
	if (p->cfg_size != EDU_CONFIG_SIZE)
		return fail(err, "config space of %d bytes, expected %u (PCIe)", p->cfg_size,
			    EDU_CONFIG_SIZE);
	return 0;
}

static int check_bar(struct edu_test *t, int bar, resource_size_t size, unsigned long want,
		     char *err)
{
	const unsigned long mask = IORESOURCE_MEM | IORESOURCE_IO | IORESOURCE_MEM_64 |
				   IORESOURCE_PREFETCH;
	unsigned long flags = pci_resource_flags(t->pdev, bar);
	resource_size_t len = pci_resource_len(t->pdev, bar);

	if (len != size)
		return fail(err, "BAR%d is %llu bytes, expected %llu", bar,
			    (unsigned long long)len, (unsigned long long)size);
	if (size && (flags & mask) != want)
		return fail(err, "BAR%d flags %#lx, expected %#lx", bar, flags & mask, want);
	return 0;
}

static int check_config_bars(struct edu_test *t, char *err)
{
	return check_bar(t, EDU_BAR_REGS, EDU_BAR_REGS_SIZE, IORESOURCE_MEM, err) ?:
	       check_bar(t, 1, 0, 0, err) ?:
	       check_bar(t, EDU_BAR_MSIX, EDU_BAR_MSIX_SIZE, IORESOURCE_MEM, err) ?:
	       check_bar(t, 3, 0, 0, err) ?:
	       check_bar(t, EDU_BAR_RAM, EDU_BAR_RAM_SIZE,
			 IORESOURCE_MEM | IORESOURCE_MEM_64 | IORESOURCE_PREFETCH, err) ?:
	       check_bar(t, 5, 0, 0, err) ?:
	       check_bar(t, PCI_ROM_RESOURCE, 0, 0, err);
}

static int check_config_caps(struct edu_test *t, char *err)
{
	static const struct {
		u8 id;
		u8 pos;
	} want[] = {
		{ PCI_CAP_ID_PM, EDU_CAP_PM },
		{ PCI_CAP_ID_MSI, EDU_CAP_MSI },
		{ PCI_CAP_ID_EXP, EDU_CAP_PCIE },
		{ PCI_CAP_ID_MSIX, EDU_CAP_MSIX },
	};
	struct pci_dev *p = t->pdev;
	u16 status, msi, msix, exp;
	u32 table, pba;
	unsigned int i = 0;
	u8 pos, id;

	pci_read_config_word(p, PCI_STATUS, &status);
	if (!(status & PCI_STATUS_CAP_LIST))
		return fail(err, "status %#x has no capability list", status);
	/* the whole list, in order: nothing added, nothing hidden */
	pci_read_config_byte(p, PCI_CAPABILITY_LIST, &pos);
	while (pos) {
		pci_read_config_byte(p, pos, &id);
		if (i == ARRAY_SIZE(want) || id != want[i].id || pos != want[i].pos)
			return fail(err, "capability %u is %#x at %#x", i, id, pos);
		pci_read_config_byte(p, pos + PCI_CAP_LIST_NEXT, &pos);
		i++;
	}
	if (i != ARRAY_SIZE(want))
		return fail(err, "%u capabilities, expected %zu", i, ARRAY_SIZE(want));

	pci_read_config_word(p, EDU_CAP_MSI + PCI_MSI_FLAGS, &msi);
	if (!(msi & PCI_MSI_FLAGS_64BIT) || (msi & PCI_MSI_FLAGS_QMASK))
		return fail(err, "MSI flags %#x: expected 64-bit, one vector", msi);
	pci_read_config_word(p, EDU_CAP_MSIX + PCI_MSIX_FLAGS, &msix);
	pci_read_config_dword(p, EDU_CAP_MSIX + PCI_MSIX_TABLE, &table);
	pci_read_config_dword(p, EDU_CAP_MSIX + PCI_MSIX_PBA, &pba);
	if ((msix & PCI_MSIX_FLAGS_QSIZE) + 1 != EDU_MSIX_VECTORS ||
	    pci_msix_vec_count(p) != EDU_MSIX_VECTORS)
		return fail(err, "MSI-X table of %u entries", (msix & PCI_MSIX_FLAGS_QSIZE) + 1);
	if (table != (EDU_MSIX_TABLE_OFFSET | EDU_BAR_MSIX) ||
	    pba != (EDU_MSIX_PBA_OFFSET | EDU_BAR_MSIX))
		return fail(err, "MSI-X table %#x, PBA %#x", table, pba);
	if (!pci_is_pcie(p))
		return fail(err, "not seen as PCI Express");
	pci_read_config_word(p, EDU_CAP_PCIE + PCI_EXP_FLAGS, &exp);
	if ((exp & PCI_EXP_FLAGS_VERS) != 2 || pci_pcie_type(p) != PCI_EXP_TYPE_ENDPOINT)
		return fail(err, "PCIe flags %#x: expected version 2 endpoint", exp);
	return 0;
}

/* PCIe 1.1+ functions set role-based error reporting; Linux disables ASPM on one that lacks it. */
static int check_config_devcap(struct edu_test *t, char *err)
{
	u32 devcap;

	pcie_capability_read_dword(t->pdev, PCI_EXP_DEVCAP, &devcap);
	if (!(devcap & PCI_EXP_DEVCAP_RBER))
		return fail(err, "PCIe DEVCAP %#x lacks role-based error reporting (pre-1.1)",
			    devcap);
	return 0;
}

static int check_bar0_id(struct edu_test *t, char *err)
{
	u32 id = reg_read(t, EDU_REG_ID);

	if (id != EDU_ID_VALUE)
		return fail(err, "id register %#x, expected %#x", id, EDU_ID_VALUE);
	return 0;
}

static int check_bar0_liveness(struct edu_test *t, char *err)
{
	static const u32 vals[] = { 0, 0xffffffff, 0x12345678, 0xa5a5a5a5 };
	unsigned int i;
	u32 v;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		reg_write(t, EDU_REG_LIVENESS, vals[i]);
		v = reg_read(t, EDU_REG_LIVENESS);
		if (v != ~vals[i])
			return fail(err, "wrote %#x, read %#x, expected %#x", vals[i], v, ~vals[i]);
	}
	return 0;
}

static int check_bar0_factorial(struct edu_test *t, char *err)
{
	static const struct {
		u32 n;
		u32 fact;
	} vals[] = {
		{ 0, 1 }, { 1, 1 }, { 5, 120 }, { 10, 3628800 }, { 12, 479001600 },
		{ 13, 1932053504 },	/* 13! mod 2^32 */
	};
	unsigned int i;
	ktime_t end;
	u32 v;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		reg_write(t, EDU_REG_FACT, vals[i].n);
		end = ktime_add_ms(ktime_get(), WAIT_MS);
		while (reg_read(t, EDU_REG_STATUS) & EDU_STATUS_COMPUTING) {
			if (ktime_after(ktime_get(), end))
				return fail(err, "%u! still computing", vals[i].n);
			cond_resched();
		}
		v = reg_read(t, EDU_REG_FACT);
		if (v != vals[i].fact)
			return fail(err, "%u! read %u, expected %u", vals[i].n, v, vals[i].fact);
	}
	return 0;
}

static int check_bar0_dma_buffer(struct edu_test *t, char *err)
{
	unsigned int i;
	u32 v;

	for (i = 0; i < EDU_DMA_BUF_SIZE; i += 4)
		reg_write(t, EDU_DMA_BUF_ADDR + i, 0x01010101u * (i / 4 % 251) ^ 0xdeadbeef);
	for (i = 0; i < EDU_DMA_BUF_SIZE; i += 4) {
		v = reg_read(t, EDU_DMA_BUF_ADDR + i);
		if (v != (0x01010101u * (i / 4 % 251) ^ 0xdeadbeef))
			return fail(err, "buffer word at %#x reads %#x", i, v);
	}
	return 0;
}

/* BAR4: RAM, mmapped by QEMU but for a trapped page at 0x80000; zero for each client and reset. */
static int check_bar4_ram(struct edu_test *t, char *err)
{
	static const u32 offs[] = { 0, 0x1000, 0x7fffc, 0x80000, 0x80ffc, 0x81000, 0xffffc };
	unsigned int i;
	u32 v;

	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		v = ioread32(t->bar4 + offs[i]);
		if (v)
			return fail(err, "RAM BAR at %#x reads %#x before any write (not fresh)",
				    offs[i], v);
	}
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		iowrite32(0xc0de0000 | i, t->bar4 + offs[i]);
	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		v = ioread32(t->bar4 + offs[i]);
		if (v != (0xc0de0000 | i))
			return fail(err, "RAM BAR at %#x reads %#x, wrote %#x", offs[i], v,
				    0xc0de0000 | i);
	}
	return 0;
}

/* RAM -> device buffer -> RAM, byte-exact, for one placement. */
static int dma_round_trip(struct edu_test *t, u32 ram_off, u32 dev_off, u32 len, char *err)
{
	u8 *ram = t->ram;
	u32 back_off = DMA_BUF_PAGES * PAGE_SIZE - len;	/* the copy back lands elsewhere */
	unsigned int i;
	int ret;

	get_random_bytes(ram + ram_off, len);
	memset(ram + back_off, 0, len);
	ret = dma_run(t, t->ram_dma + ram_off, EDU_DMA_BUF_ADDR + dev_off, len, 0, err);
	if (ret)
		return ret;
	/* the device's buffer, read back through BAR0 (4-byte aligned part) */
	for (i = ALIGN(dev_off, 4); i + 4 <= dev_off + len; i += 4) {
		u32 want, got = reg_read(t, EDU_DMA_BUF_ADDR + i);

		memcpy(&want, ram + ram_off + (i - dev_off), 4);
		if (got != want)
			return fail(err, "device buffer at %#x holds %#x, RAM had %#x (len %u)", i,
				    got, want, len);
	}
	ret = dma_run(t, EDU_DMA_BUF_ADDR + dev_off, t->ram_dma + back_off, len, EDU_DMA_CMD_TO_RAM,
		      err);
	if (ret)
		return ret;
	for (i = 0; i < len; i++) {
		if (ram[back_off + i] != ram[ram_off + i])
			return fail(err, "byte %u of %u differs after the round trip: %#x, sent %#x",
				    i, len, ram[back_off + i], ram[ram_off + i]);
	}
	return 0;
}

static int check_dma_4k(struct edu_test *t, char *err)
{
	return dma_round_trip(t, 0, 0, EDU_DMA_BUF_SIZE, err);
}

static int check_dma_unaligned(struct edu_test *t, char *err)
{
	/* odd sizes and offsets, and transfers that cross guest page boundaries */
	return dma_round_trip(t, 13, 7, 1, err) ?:
	       dma_round_trip(t, PAGE_SIZE - 100, 1, 333, err) ?:
	       dma_round_trip(t, PAGE_SIZE - 1, 0, 4095, err) ?:
	       dma_round_trip(t, 2 * PAGE_SIZE - 2048, 2048, 2048, err);
}

static int check_dma_refused(struct edu_test *t, char *err)
{
	u64 cmd;

	/* too long for the device buffer: refused by the device itself */
	reg_write64(t, EDU_REG_DMA_SRC, t->ram_dma);
	reg_write64(t, EDU_REG_DMA_DST, EDU_DMA_BUF_ADDR);
	reg_write64(t, EDU_REG_DMA_COUNT, EDU_DMA_BUF_SIZE + 1);
	reg_write64(t, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN);
	cmd = reg_read64(t, EDU_REG_DMA_CMD);
	if ((cmd & (EDU_DMA_CMD_RUN | EDU_DMA_CMD_ERROR)) != EDU_DMA_CMD_ERROR)
		return fail(err, "oversized DMA left cmd %#llx", cmd);
	/* an address the VMM never mapped: the proxy has no window there */
	if (!dma_run(t, 0xdead00000000ull, EDU_DMA_BUF_ADDR, 64, 0, err))
		return fail(err, "DMA from an unmapped address succeeded");
	cmd = reg_read64(t, EDU_REG_DMA_CMD);
	if (!(cmd & EDU_DMA_CMD_ERROR))
		return fail(err, "DMA from an unmapped address left cmd %#llx", cmd);
	/* and the engine still works afterwards */
	return dma_round_trip(t, 0, 0, 256, err);
}

static int check_msi(struct edu_test *t, char *err)
{
	int ret;

	ret = irqs_alloc(t, PCI_IRQ_MSI, 1, err);
	if (ret)
		return ret;
	if (!t->pdev->msi_enabled) {
		ret = fail(err, "MSI not enabled after allocation");
		goto out;
	}
	ret = raise_and_wait(t, 0, 0x10, err) ?: raise_and_wait(t, 0, 0x20000, err);
	if (ret)
		goto out;
	/* the factorial-done interrupt */
	reinit_completion(&t->vec[0].done);
	reg_write(t, EDU_REG_STATUS, EDU_STATUS_IRQ_FACT);
	reg_write(t, EDU_REG_FACT, 6);
	ret = wait_vec(t, 0, "a factorial", err);
	reg_write(t, EDU_REG_STATUS, 0);
	if (ret)
		goto out;
	if (!(t->vec[0].status & EDU_IRQ_FACT) || reg_read(t, EDU_REG_FACT) != 720) {
		ret = fail(err, "factorial interrupt status %#x, 6! = %u", t->vec[0].status,
			   reg_read(t, EDU_REG_FACT));
		goto out;
	}
	if (atomic_read(&t->vec[0].count) != 3) {
		ret = fail(err, "%d interrupts for 3 causes", atomic_read(&t->vec[0].count));
		goto out;
	}
	irqs_reset(t);
	ret = dma_irq_and_wait(t, 0, err);
	if (ret)
		goto out;
	if (atomic_read(&t->vec[0].count) != 1)
		ret = fail(err, "%d interrupts for one DMA", atomic_read(&t->vec[0].count));
out:
	irqs_free(t);
	return ret;
}

static int check_msix(struct edu_test *t, char *err)
{
	unsigned int i, j;
	int ret;

	ret = irqs_alloc(t, PCI_IRQ_MSIX, EDU_MSIX_VECTORS, err);
	if (ret)
		return ret;
	if (!t->pdev->msix_enabled) {
		ret = fail(err, "MSI-X not enabled after allocation");
		goto out;
	}
	/* each vector in turn (0x68 picks it), and only that vector fires */
	for (i = 0; i < EDU_MSIX_VECTORS; i++) {
		irqs_reset(t);
		reg_write(t, EDU_REG_IRQ_VECTOR, i);
		if (reg_read(t, EDU_REG_IRQ_VECTOR) != i) {
			ret = fail(err, "vector register reads %u, wrote %u",
				   reg_read(t, EDU_REG_IRQ_VECTOR), i);
			goto out;
		}
		ret = raise_and_wait(t, i, 1u << i, err);
		if (ret)
			goto out;
		for (j = 0; j < EDU_MSIX_VECTORS; j++) {
			if (atomic_read(&t->vec[j].count) != (j == i)) {
				ret = fail(err, "raising on vector %u: vector %u saw %d interrupts",
					   i, j, atomic_read(&t->vec[j].count));
				goto out;
			}
		}
	}
	irqs_reset(t);
	reg_write(t, EDU_REG_IRQ_VECTOR, 5);
	ret = dma_irq_and_wait(t, 5, err);
out:
	reg_write(t, EDU_REG_IRQ_VECTOR, 0);
	irqs_free(t);
	return ret;
}

static int check_intx(struct edu_test *t, char *err)
{
	unsigned int i;
	int ret;

	ret = irqs_alloc(t, PCI_IRQ_INTX, 1, err);
	if (ret)
		return ret;
	if (t->pdev->msi_enabled || t->pdev->msix_enabled) {
		ret = fail(err, "MSI or MSI-X still enabled");
		goto out;
	}
	for (i = 0; i < 8; i++) {
		ret = raise_and_wait(t, 0, 1u << (i + 4), err);
		if (ret)
			goto out;
	}
	ret = dma_irq_and_wait(t, 0, err);
	if (ret)
		goto out;
	if (atomic_read(&t->vec[0].count) != 9)
		ret = fail(err, "%d interrupts handled, expected 9", atomic_read(&t->vec[0].count));
out:
	irqs_free(t);
	return ret;
}

/* ---- figures (printed, not judged) ---- */

static int op_bar0_read(struct edu_test *t, char *err)
{
	u32 v = reg_read(t, EDU_REG_ID);

	return v == EDU_ID_VALUE ? 0 : fail(err, "id register read %#x", v);
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
	return dma_run(t, t->ram_dma, EDU_DMA_BUF_ADDR, EDU_DMA_BUF_SIZE, 0, err);
}

static int op_dma_to_ram(struct edu_test *t, char *err)
{
	return dma_run(t, EDU_DMA_BUF_ADDR, t->ram_dma, EDU_DMA_BUF_SIZE, EDU_DMA_CMD_TO_RAM, err);
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

static void measure(struct edu_test *t)
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

/* Keeps the device busy with DMA and MSI-X for up to HOLD_MS: the host kills the VM meanwhile. */
static void hold_busy(struct edu_test *t)
{
	ktime_t end = ktime_add_ms(ktime_get(), HOLD_MS);
	char err[ERR_LEN];
	unsigned long n = 0;

	if (irqs_alloc(t, PCI_IRQ_MSIX, EDU_MSIX_VECTORS, err)) {
		pr_info("HOLD impossible: %s\n", err);
		return;
	}
	pr_info("HOLD busy with DMA and MSI-X for up to %d s\n", HOLD_MS / 1000);
	while (ktime_before(ktime_get(), end)) {
		unsigned int v = n++ % EDU_MSIX_VECTORS;

		reg_write(t, EDU_REG_IRQ_VECTOR, v);
		if (dma_irq_and_wait(t, v, err) ||
		    dma_run(t, t->ram_dma, EDU_DMA_BUF_ADDR, EDU_DMA_BUF_SIZE, 0, err))
			pr_info("HOLD transfer %lu: %s\n", n, err);
		cond_resched();
	}
	pr_info("HOLD over after %lu rounds\n", n);
	irqs_free(t);
}

/* ---- the driver ---- */

struct edu_check {
	const char *name;
	int (*fn)(struct edu_test *t, char *err);
};

static const struct edu_check checks[] = {
	{ "config_ids", check_config_ids },
	{ "config_bars", check_config_bars },
	{ "config_caps", check_config_caps },
	{ "config_devcap", check_config_devcap },
	{ "bar0_id", check_bar0_id },
	{ "bar0_liveness", check_bar0_liveness },
	{ "bar0_factorial", check_bar0_factorial },
	{ "bar0_dma_buffer", check_bar0_dma_buffer },
	{ "bar4_ram", check_bar4_ram },
	{ "dma_4k_round_trip", check_dma_4k },
	{ "dma_unaligned", check_dma_unaligned },
	{ "dma_refused", check_dma_refused },
};

/*
 * After these, the figures are no longer those of a quiet device: once INTx fires, QEMU traps the
 * mmapped BARs too until 1.1 s after the last one (its x-intx-mmap-timeout-ms).
 */
static const struct edu_check irq_checks[] = {
	{ "irq_msi", check_msi },
	{ "irq_msix", check_msix },
	{ "irq_intx", check_intx },
};

static void run_checks(struct edu_test *t, const struct edu_check *c, unsigned int n)
{
	char err[ERR_LEN];
	unsigned int i;

	for (i = 0; i < n; i++) {
		err[0] = '\0';
		if (c[i].fn(t, err)) {
			t->failed++;
			pr_info("FAIL %s: %s\n", c[i].name, err[0] ? err : "failed");
		} else {
			t->passed++;
			pr_info("PASS %s\n", c[i].name);
		}
	}
}

static int edu_test_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct edu_test *t;
	int ret;

	pr_info("START %s\n", pci_name(pdev));
	t = devm_kzalloc(&pdev->dev, sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	t->pdev = pdev;
	pci_set_drvdata(pdev, t);
	ret = pcim_enable_device(pdev);
	if (ret)
		goto setup_failed;
	ret = pcim_iomap_regions(pdev, BIT(EDU_BAR_REGS) | BIT(EDU_BAR_RAM), KBUILD_MODNAME);
	if (ret)
		goto setup_failed;
	t->bar0 = pcim_iomap_table(pdev)[EDU_BAR_REGS];
	t->bar4 = pcim_iomap_table(pdev)[EDU_BAR_RAM];
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		goto setup_failed;
	t->ram = dmam_alloc_coherent(&pdev->dev, DMA_BUF_PAGES * PAGE_SIZE, &t->ram_dma,
				     GFP_KERNEL);
	if (!t->ram) {
		ret = -ENOMEM;
		goto setup_failed;
	}
	pci_set_master(pdev);

	run_checks(t, checks, ARRAY_SIZE(checks));
	measure(t);
	run_checks(t, irq_checks, ARRAY_SIZE(irq_checks));
	pr_info("DONE passed=%u failed=%u\n", t->passed, t->failed);
	if (hold)
		hold_busy(t);
	return 0;

setup_failed:
	pr_info("FAIL setup: %d\n", ret);
	pr_info("DONE passed=0 failed=1\n");
	return ret;
}

static void edu_test_remove(struct pci_dev *pdev)
{
	pci_clear_master(pdev);
}

static const struct pci_device_id edu_test_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR_ID, EDU_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, edu_test_ids);

static struct pci_driver edu_test_driver = {
	.name = KBUILD_MODNAME,
	.id_table = edu_test_ids,
	.probe = edu_test_probe,
	.remove = edu_test_remove,
};
module_pci_driver(edu_test_driver);

MODULE_DESCRIPTION("vfio-user-proxy interop checks of the emulated edu device");
MODULE_LICENSE("GPL");
