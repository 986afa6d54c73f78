/* edu_checks.c: the guest module's checks of the device (config space, BAR0 registers, the RAM BAR, DMA, MSI, MSI-X, INTx) and the tables that order them. */
// SPDX-License-Identifier: GPL-2.0
/*
 * Each check returns 0 or a negative errno with its reason in err (ERR_LEN bytes). The probe runs
 * them once, printing a PASS/FAIL line each (edu_main.c); the hand-over loop runs them round after
 * round (edu_loop.c). The register map comes from the project's include/edu_model.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/string.h>

#include "edu_test.h"

static int check_config_ids(struct edu_test *t, char *err)
{
	struct pci_dev *p = t->pdev;
	u8 hdr, pin;

	pci_read_config_byte(p, PCI_HEADER_TYPE, &hdr);
	pci_read_config_byte(p, PCI_INTERRUPT_PIN, &pin);
	if (p->vendor != EDU_VENDOR_ID || p->device != EDU_DEVICE_ID)
		return edu_fail(err, "IDs %04x:%04x", p->vendor, p->device);
	if (p->subsystem_vendor != EDU_SUBSYS_VENDOR_ID || p->subsystem_device != EDU_SUBSYS_ID)
		return edu_fail(err, "subsystem %04x:%04x", p->subsystem_vendor,
				p->subsystem_device);
	if (p->revision != EDU_REVISION)
		return edu_fail(err, "revision %#x", p->revision);
	if (p->class != EDU_CLASS_CODE)
		return edu_fail(err, "class %#08x", p->class);
	if ((hdr & 0x7f) != PCI_HEADER_TYPE_NORMAL)
		return edu_fail(err, "header type %#x", hdr);
	if (pin != 1)
		return edu_fail(err, "interrupt pin %u, expected 1 (INTA)", pin);
	if (p->cfg_size != EDU_CONFIG_SIZE)
		return edu_fail(err, "config space of %d bytes, expected %u (PCIe)", p->cfg_size,
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
		return edu_fail(err, "BAR%d is %llu bytes, expected %llu", bar,
				(unsigned long long)len, (unsigned long long)size);
	if (size && (flags & mask) != want)
		return edu_fail(err, "BAR%d flags %#lx, expected %#lx", bar, flags & mask, want);
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
		return edu_fail(err, "status %#x has no capability list", status);
	/* the whole list, in order: nothing added, nothing hidden */
	pci_read_config_byte(p, PCI_CAPABILITY_LIST, &pos);
	while (pos) {
		pci_read_config_byte(p, pos, &id);
		if (i == ARRAY_SIZE(want) || id != want[i].id || pos != want[i].pos)
			return edu_fail(err, "capability %u is %#x at %#x", i, id, pos);
		pci_read_config_byte(p, pos + PCI_CAP_LIST_NEXT, &pos);
		i++;
	}
	if (i != ARRAY_SIZE(want))
		return edu_fail(err, "%u capabilities, expected %zu", i, ARRAY_SIZE(want));

	pci_read_config_word(p, EDU_CAP_MSI + PCI_MSI_FLAGS, &msi);
	if (!(msi & PCI_MSI_FLAGS_64BIT) || (msi & PCI_MSI_FLAGS_QMASK))
		return edu_fail(err, "MSI flags %#x: expected 64-bit, one vector", msi);
	pci_read_config_word(p, EDU_CAP_MSIX + PCI_MSIX_FLAGS, &msix);
	pci_read_config_dword(p, EDU_CAP_MSIX + PCI_MSIX_TABLE, &table);
	pci_read_config_dword(p, EDU_CAP_MSIX + PCI_MSIX_PBA, &pba);
	if ((msix & PCI_MSIX_FLAGS_QSIZE) + 1 != EDU_MSIX_VECTORS ||
	    pci_msix_vec_count(p) != EDU_MSIX_VECTORS)
		return edu_fail(err, "MSI-X table of %u entries",
				(msix & PCI_MSIX_FLAGS_QSIZE) + 1);
	if (table != (EDU_MSIX_TABLE_OFFSET | EDU_BAR_MSIX) ||
	    pba != (EDU_MSIX_PBA_OFFSET | EDU_BAR_MSIX))
		return edu_fail(err, "MSI-X table %#x, PBA %#x", table, pba);
	if (!pci_is_pcie(p))
		return edu_fail(err, "not seen as PCI Express");
	pci_read_config_word(p, EDU_CAP_PCIE + PCI_EXP_FLAGS, &exp);
	if ((exp & PCI_EXP_FLAGS_VERS) != 2 || pci_pcie_type(p) != PCI_EXP_TYPE_ENDPOINT)
		return edu_fail(err, "PCIe flags %#x: expected version 2 endpoint", exp);
	return 0;
}

/* PCIe 1.1+ functions set role-based error reporting; Linux disables ASPM on one that lacks it. */
static int check_config_devcap(struct edu_test *t, char *err)
{
	u32 devcap;

	pcie_capability_read_dword(t->pdev, PCI_EXP_DEVCAP, &devcap);
	if (!(devcap & PCI_EXP_DEVCAP_RBER))
		return edu_fail(err, "PCIe DEVCAP %#x lacks role-based error reporting (pre-1.1)",
				devcap);
	return 0;
}

static int check_bar0_id(struct edu_test *t, char *err)
{
	u32 id = reg_read(t, EDU_REG_ID);

	if (id != EDU_ID_VALUE)
		return edu_fail(err, "id register %#x, expected %#x", id, EDU_ID_VALUE);
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
			return edu_fail(err, "wrote %#x, read %#x, expected %#x", vals[i], v,
					~vals[i]);
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
				return edu_fail(err, "%u! still computing", vals[i].n);
			cond_resched();
		}
		v = reg_read(t, EDU_REG_FACT);
		if (v != vals[i].fact)
			return edu_fail(err, "%u! read %u, expected %u", vals[i].n, v,
					vals[i].fact);
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
			return edu_fail(err, "buffer word at %#x reads %#x", i, v);
	}
	return 0;
}

/*
 * BAR4: RAM, mmapped by QEMU but for a trapped page at 0x80000; zero for each client and reset,
 * checked so on the first run only: later ones (the hand-over loop's rounds) write other values.
 * Its words all sit within 16 bytes of a page's edge, where the loop's own pattern never goes.
 */
static int check_bar4_ram(struct edu_test *t, char *err)
{
	static const u32 offs[] = { 0, 0x1000, 0x7fffc, 0x80000, 0x80ffc, 0x81000, 0xffffc };
	u32 tag = 0xc0de0000 | (t->bar4_runs & 0xff) << 8;
	unsigned int i;
	u32 v;

	for (i = 0; i < ARRAY_SIZE(offs) && !t->bar4_runs; i++) {
		v = ioread32(t->bar4 + offs[i]);
		if (v)
			return edu_fail(err,
					"RAM BAR at %#x reads %#x before any write (not fresh)",
					offs[i], v);
	}
	t->bar4_runs++;
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		iowrite32(tag | i, t->bar4 + offs[i]);
	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		v = ioread32(t->bar4 + offs[i]);
		if (v != (tag | i))
			return edu_fail(err, "RAM BAR at %#x reads %#x, wrote %#x", offs[i], v,
					tag | i);
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
	ret = edu_dma_run(t, t->ram_dma + ram_off, EDU_DMA_BUF_ADDR + dev_off, len, 0, err);
	if (ret)
		return ret;
	/* the device's buffer, read back through BAR0 (4-byte aligned part) */
	for (i = ALIGN(dev_off, 4); i + 4 <= dev_off + len; i += 4) {
		u32 want, got = reg_read(t, EDU_DMA_BUF_ADDR + i);

		memcpy(&want, ram + ram_off + (i - dev_off), 4);
		if (got != want)
			return edu_fail(err, "device buffer at %#x holds %#x, RAM had %#x (len %u)",
					i, got, want, len);
	}
	ret = edu_dma_run(t, EDU_DMA_BUF_ADDR + dev_off, t->ram_dma + back_off, len,
			  EDU_DMA_CMD_TO_RAM, err);
	if (ret)
		return ret;
	for (i = 0; i < len; i++) {
		if (ram[back_off + i] != ram[ram_off + i])
			return edu_fail(err,
					"byte %u of %u differs after the round trip: %#x, sent %#x",
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
		return edu_fail(err, "oversized DMA left cmd %#llx", cmd);
	/* an address the VMM never mapped: the proxy has no window there */
	if (!edu_dma_run(t, 0xdead00000000ull, EDU_DMA_BUF_ADDR, 64, 0, err))
		return edu_fail(err, "DMA from an unmapped address succeeded");
	cmd = reg_read64(t, EDU_REG_DMA_CMD);
	if (!(cmd & EDU_DMA_CMD_ERROR))
		return edu_fail(err, "DMA from an unmapped address left cmd %#llx", cmd);
	/* and the engine still works afterwards */
	return dma_round_trip(t, 0, 0, 256, err);
}

static int check_msi(struct edu_test *t, char *err)
{
	int ret;

	ret = edu_irqs_alloc(t, PCI_IRQ_MSI, 1, err);
	if (ret)
		return ret;
	if (!t->pdev->msi_enabled) {
		ret = edu_fail(err, "MSI not enabled after allocation");
		goto out;
	}
	ret = edu_raise_and_wait(t, 0, 0x10, err) ?: edu_raise_and_wait(t, 0, 0x20000, err);
	if (ret)
		goto out;
	/* the factorial-done interrupt */
	reinit_completion(&t->vec[0].done);
	reg_write(t, EDU_REG_STATUS, EDU_STATUS_IRQ_FACT);
	reg_write(t, EDU_REG_FACT, 6);
	ret = edu_wait_vec(t, 0, "a factorial", err);
	reg_write(t, EDU_REG_STATUS, 0);
	if (ret)
		goto out;
	if (!(t->vec[0].status & EDU_IRQ_FACT) || reg_read(t, EDU_REG_FACT) != 720) {
		ret = edu_fail(err, "factorial interrupt status %#x, 6! = %u", t->vec[0].status,
			       reg_read(t, EDU_REG_FACT));
		goto out;
	}
	if (atomic_read(&t->vec[0].count) != 3) {
		ret = edu_fail(err, "%d interrupts for 3 causes", atomic_read(&t->vec[0].count));
		goto out;
	}
	edu_irqs_reset(t);
	ret = edu_dma_irq_and_wait(t, 0, err);
	if (ret)
		goto out;
	if (atomic_read(&t->vec[0].count) != 1)
		ret = edu_fail(err, "%d interrupts for one DMA", atomic_read(&t->vec[0].count));
out:
	edu_irqs_free(t);
	return ret;
}

static int check_msix(struct edu_test *t, char *err)
{
	unsigned int i, j;
	int ret;

	ret = edu_irqs_alloc(t, PCI_IRQ_MSIX, EDU_MSIX_VECTORS, err);
	if (ret)
		return ret;
	if (!t->pdev->msix_enabled) {
		ret = edu_fail(err, "MSI-X not enabled after allocation");
		goto out;
	}
	/* each vector in turn (0x68 picks it), and only that vector fires */
	for (i = 0; i < EDU_MSIX_VECTORS; i++) {
		edu_irqs_reset(t);
		reg_write(t, EDU_REG_IRQ_VECTOR, i);
		if (reg_read(t, EDU_REG_IRQ_VECTOR) != i) {
			ret = edu_fail(err, "vector register reads %u, wrote %u",
				       reg_read(t, EDU_REG_IRQ_VECTOR), i);
			goto out;
		}
		ret = edu_raise_and_wait(t, i, 1u << i, err);
		if (ret)
			goto out;
		for (j = 0; j < EDU_MSIX_VECTORS; j++) {
			if (atomic_read(&t->vec[j].count) != (j == i)) {
				ret = edu_fail(err,
					       "raising on vector %u: vector %u saw %d interrupts",
					       i, j, atomic_read(&t->vec[j].count));
				goto out;
			}
		}
	}
	edu_irqs_reset(t);
	reg_write(t, EDU_REG_IRQ_VECTOR, 5);
	ret = edu_dma_irq_and_wait(t, 5, err);
out:
	reg_write(t, EDU_REG_IRQ_VECTOR, 0);
	edu_irqs_free(t);
	return ret;
}

static int check_intx(struct edu_test *t, char *err)
{
	unsigned int i;
	int ret;

	ret = edu_irqs_alloc(t, PCI_IRQ_INTX, 1, err);
	if (ret)
		return ret;
	if (t->pdev->msi_enabled || t->pdev->msix_enabled) {
		ret = edu_fail(err, "MSI or MSI-X still enabled");
		goto out;
	}
	for (i = 0; i < 8; i++) {
		ret = edu_raise_and_wait(t, 0, 1u << (i + 4), err);
		if (ret)
			goto out;
	}
	ret = edu_dma_irq_and_wait(t, 0, err);
	if (ret)
		goto out;
	if (atomic_read(&t->vec[0].count) != 9)
		ret = edu_fail(err, "%d interrupts handled, expected 9",
			       atomic_read(&t->vec[0].count));
out:
	edu_irqs_free(t);
	return ret;
}

const struct edu_check edu_checks[] = {
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

const unsigned int edu_num_checks = ARRAY_SIZE(edu_checks);

/*
 * After these, the figures are no longer those of a quiet device: once INTx fires, QEMU traps the
 * mmapped BARs too until 1.1 s after the last one (its x-intx-mmap-timeout-ms).
 */
const struct edu_check edu_irq_checks[] = {
	{ "irq_msi", check_msi },
	{ "irq_msix", check_msix },
	{ "irq_intx", check_intx },
};

const unsigned int edu_num_irq_checks = ARRAY_SIZE(edu_irq_checks);
