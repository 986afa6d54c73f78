/* edu_model.c: the edu-compatible device model: BAR0 registers, DMA, IRQs, MSI-X, config space. */
#include "edu_model.h"

/*
 * No libc and no kernel headers here: the same file builds into the userspace emulated backend
 * and into the bridge/ kernel module. Registers and config space are little-endian byte arrays
 * assembled byte by byte, so no access depends on host endianness or alignment.
 */

#define EDU_ONES (~(uint64_t)0)

/* BAR0 layout beyond the header's register names. */
#define EDU_REGS_32_END 0x80u	/* below: 32-bit registers, 4-byte accesses only */
#define EDU_REGS_64_END 0xa0u	/* 0x80..0x9f: four 64-bit DMA registers */

/* BAR2 layout. */
#define EDU_MSIX_TABLE_BYTES (EDU_MSIX_VECTORS * EDU_MSIX_ENTRY_SIZE)
#define EDU_MSIX_PBA_BYTES 8u
#define EDU_MSIX_VCTRL 12u	/* vector control dword within a table entry */
#define EDU_MSIX_VCTRL_MASKED 0x1u

/* Config space offsets and bits. */
#define EDU_CFG_VENDOR 0x00
#define EDU_CFG_DEVICE 0x02
#define EDU_CFG_COMMAND 0x04
#define EDU_CFG_STATUS 0x06
#define EDU_CFG_REVISION 0x08
#define EDU_CFG_CLASS 0x09
#define EDU_CFG_HEADER_TYPE 0x0e
#define EDU_CFG_BAR0 0x10
#define EDU_CFG_SUBSYS_VENDOR 0x2c
#define EDU_CFG_SUBSYS 0x2e
#define EDU_CFG_CAP_PTR 0x34
#define EDU_CFG_INT_PIN 0x3d
#define EDU_CFG_STD_END 0x100u	/* extended config space (all zero, read-only) starts here */

#define EDU_CMD_BUS_MASTER 0x0004u
#define EDU_CMD_INTX_DISABLE 0x0400u
#define EDU_STATUS_INTX 0x0008u
#define EDU_STATUS_CAP_LIST 0x0010u

#define EDU_CAP_ID_PM 0x01
#define EDU_CAP_ID_MSI 0x05
#define EDU_CAP_ID_PCIE 0x10
#define EDU_CAP_ID_MSIX 0x11

#define EDU_PM_PMC (EDU_CAP_PM + 2)
#define EDU_PM_PMCSR (EDU_CAP_PM + 4)
#define EDU_PM_STATE_MASK 0x03u
#define EDU_PM_NO_SOFT_RESET 0x0008u

#define EDU_MSI_CTRL (EDU_CAP_MSI + 2)
#define EDU_MSI_CTRL_64BIT 0x0080u

#define EDU_PCIE_CAPS (EDU_CAP_PCIE + 2)
#define EDU_PCIE_DEVCAP (EDU_CAP_PCIE + 4)
#define EDU_PCIE_DEVCAP_RBER 0x00008000u
#define EDU_PCIE_DEVCTL (EDU_CAP_PCIE + 8)
#define EDU_PCIE_LNKCAP (EDU_CAP_PCIE + 12)
#define EDU_PCIE_LNKCTL (EDU_CAP_PCIE + 16)
#define EDU_PCIE_LNKSTA (EDU_CAP_PCIE + 18)

#define EDU_MSIX_CTRL (EDU_CAP_MSIX + 2)
#define EDU_MSIX_TABLE (EDU_CAP_MSIX + 4)
#define EDU_MSIX_PBA (EDU_CAP_MSIX + 8)

/* BAR flag bits in the low dword. */
#define EDU_BAR_MEM64 0x4u
#define EDU_BAR_PREFETCH 0x8u

static uint64_t edu_get_le_n(const uint8_t *p, uint32_t n)
{
	uint64_t v = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* The register sizes spelled out: the compiler makes each one load (or store) on a little-endian host. */
static uint64_t edu_get_le(const uint8_t *p, uint32_t n)
{
	switch (n) {
	case 4:
		return edu_get_le_n(p, 4);
	case 8:
		return edu_get_le_n(p, 8);
	case 2:
		return edu_get_le_n(p, 2);
	default:
		return edu_get_le_n(p, n);
	}
}

static void edu_put_le_n(uint8_t *p, uint64_t v, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void edu_put_le(uint8_t *p, uint64_t v, uint32_t n)
{
	switch (n) {
	case 4:
		edu_put_le_n(p, v, 4);
		break;
	case 8:
		edu_put_le_n(p, v, 8);
		break;
	case 2:
		edu_put_le_n(p, v, 2);
		break;
	default:
		edu_put_le_n(p, v, n);
	}
}

static uint32_t edu_cfg_get(const struct edu_model *m, uint32_t off, uint32_t n)
{
	return (uint32_t)edu_get_le(&m->config[off], n);
}

static void edu_cfg_set(struct edu_model *m, uint32_t off, uint32_t v, uint32_t n)
{
	edu_put_le(&m->config[off], v, n);
}

/*
 * Writable bits of the standard config header and capabilities, byte by byte. The BAR address
 * bits come from edu_cfg_wmask() below, derived from the BAR sizes.
 */
static const uint8_t edu_cfg_wmask_std[EDU_CFG_STD_END] = {
	/* command: IO, MEM, bus master, parity; SERR, INTx disable */
	[0x04] = 0x47, [0x05] = 0x05,
	/* cache line size, latency timer */
	[0x0c] = 0xff, [0x0d] = 0xff,
	/* interrupt line */
	[0x3c] = 0xff,
	/* PM: PMCSR power state */
	[EDU_PM_PMCSR] = EDU_PM_STATE_MASK,
	/* MSI: control (enable only; multiple message enable stays 0), address, data */
	[EDU_CAP_MSI + 2] = 0x01,
	[EDU_CAP_MSI + 4] = 0xfc, [EDU_CAP_MSI + 5 ... EDU_CAP_MSI + 11] = 0xff,
	[EDU_CAP_MSI + 12] = 0xff, [EDU_CAP_MSI + 13] = 0xff,
	/* PCIe: device control, link control (ASPM) */
	[EDU_PCIE_DEVCTL] = 0xff, [EDU_PCIE_DEVCTL + 1] = 0x0e,
	[EDU_PCIE_LNKCTL] = 0x03,
	/* MSI-X: function mask, enable */
	[EDU_MSIX_CTRL + 1] = 0xc0,
};

/* Address bits of a BAR of the given size, as written into its low dword. */
static uint32_t edu_bar_addr_mask(uint32_t size)
{
	return ~(size - 1) & ~0xfu;
}

static uint8_t edu_cfg_wmask(uint32_t off)
{
	uint32_t mask;

	if (off >= EDU_CFG_STD_END)
		return 0;
	switch (off & ~3u) {
	case EDU_CFG_BAR0 + 4 * EDU_BAR_REGS:
		mask = edu_bar_addr_mask(EDU_BAR_REGS_SIZE);
		break;
	case EDU_CFG_BAR0 + 4 * EDU_BAR_MSIX:
		mask = edu_bar_addr_mask(EDU_BAR_MSIX_SIZE);
		break;
	case EDU_CFG_BAR0 + 4 * EDU_BAR_RAM:
		mask = edu_bar_addr_mask(EDU_BAR_RAM_SIZE);
		break;
	case EDU_CFG_BAR0 + 4 * (EDU_BAR_RAM + 1):
		mask = 0xffffffffu;	/* upper half of the 64-bit BAR4 */
		break;
	default:
		return edu_cfg_wmask_std[off];
	}
	return (uint8_t)(mask >> (8 * (off & 3)));
}

static void edu_cfg_power_on(struct edu_model *m)
{
	uint32_t i;

	for (i = 0; i < EDU_CONFIG_SIZE; i++)
		m->config[i] = 0;

	edu_cfg_set(m, EDU_CFG_VENDOR, EDU_VENDOR_ID, 2);
	edu_cfg_set(m, EDU_CFG_DEVICE, EDU_DEVICE_ID, 2);
	edu_cfg_set(m, EDU_CFG_STATUS, EDU_STATUS_CAP_LIST, 2);
	edu_cfg_set(m, EDU_CFG_REVISION, EDU_REVISION, 1);
	edu_cfg_set(m, EDU_CFG_CLASS, EDU_CLASS_CODE, 3);
	edu_cfg_set(m, EDU_CFG_HEADER_TYPE, 0, 1);
	edu_cfg_set(m, EDU_CFG_BAR0 + 4 * EDU_BAR_RAM, EDU_BAR_MEM64 | EDU_BAR_PREFETCH, 4);
	edu_cfg_set(m, EDU_CFG_SUBSYS_VENDOR, EDU_SUBSYS_VENDOR_ID, 2);
	edu_cfg_set(m, EDU_CFG_SUBSYS, EDU_SUBSYS_ID, 2);
	edu_cfg_set(m, EDU_CFG_CAP_PTR, EDU_CAP_PM, 1);
	edu_cfg_set(m, EDU_CFG_INT_PIN, 1, 1);	/* INTA */

	/* Power management, version 3, D0; no soft reset on D3hot -> D0. */
	edu_cfg_set(m, EDU_CAP_PM, EDU_CAP_ID_PM | EDU_CAP_MSI << 8, 2);
	edu_cfg_set(m, EDU_PM_PMC, 0x0003, 2);
	edu_cfg_set(m, EDU_PM_PMCSR, EDU_PM_NO_SOFT_RESET, 2);

	/* MSI: one vector, 64-bit addresses, no per-vector masking. */
	edu_cfg_set(m, EDU_CAP_MSI, EDU_CAP_ID_MSI | EDU_CAP_PCIE << 8, 2);
	edu_cfg_set(m, EDU_MSI_CTRL, EDU_MSI_CTRL_64BIT, 2);

	/*
	 * PCI Express version 2 endpoint, 128-byte payload, 2.5 GT/s x1. Device capabilities has
	 * role-based error reporting (bit 15), which every PCIe 1.1+ function sets: without it Linux
	 * takes the device for a pre-1.1 one and disables ASPM on it.
	 */
	edu_cfg_set(m, EDU_CAP_PCIE, EDU_CAP_ID_PCIE | EDU_CAP_MSIX << 8, 2);
	edu_cfg_set(m, EDU_PCIE_CAPS, 0x0002, 2);
	edu_cfg_set(m, EDU_PCIE_DEVCAP, EDU_PCIE_DEVCAP_RBER, 4);
	edu_cfg_set(m, EDU_PCIE_LNKCAP, 0x00000011, 4);
	edu_cfg_set(m, EDU_PCIE_LNKSTA, 0x0011, 2);

	/* MSI-X: table and PBA in BAR2; last capability. */
	edu_cfg_set(m, EDU_CAP_MSIX, EDU_CAP_ID_MSIX, 2);
	edu_cfg_set(m, EDU_MSIX_CTRL, EDU_MSIX_VECTORS - 1, 2);
	edu_cfg_set(m, EDU_MSIX_TABLE, EDU_MSIX_TABLE_OFFSET | EDU_BAR_MSIX, 4);
	edu_cfg_set(m, EDU_MSIX_PBA, EDU_MSIX_PBA_OFFSET | EDU_BAR_MSIX, 4);
}

/* The config status register's interrupt status bit follows the INTx level. */
static void edu_update_intx_status(struct edu_model *m)
{
	uint32_t status = edu_cfg_get(m, EDU_CFG_STATUS, 2);

	if (m->irq_status)
		status |= EDU_STATUS_INTX;
	else
		status &= ~EDU_STATUS_INTX;
	edu_cfg_set(m, EDU_CFG_STATUS, status, 2);
}

static void edu_irq_out(struct edu_model *m, unsigned int vector, bool level)
{
	if (m->ops && m->ops->irq)
		m->ops->irq(m->opaque, vector, level);
}

static void edu_raise_irq(struct edu_model *m, uint32_t cause)
{
	m->irq_status |= cause;
	edu_update_intx_status(m);
	if (m->irq_status)
		edu_irq_out(m, m->irq_vector, true);
}

static void edu_ack_irq(struct edu_model *m, uint32_t cause)
{
	uint32_t was = m->irq_status;

	m->irq_status &= ~cause;
	edu_update_intx_status(m);
	if (was && !m->irq_status)
		edu_irq_out(m, m->irq_vector, false);
}

static void edu_power_on(struct edu_model *m)
{
	uint32_t i;

	edu_cfg_power_on(m);
	m->liveness = 0;
	m->fact = 0;
	m->status = 0;
	m->irq_status = 0;
	m->irq_vector = 0;
	m->dma_src = 0;
	m->dma_dst = 0;
	m->dma_count = 0;
	m->dma_cmd = 0;
	m->dma_pending = false;
	for (i = 0; i < EDU_DMA_BUF_SIZE; i++)
		m->dma_buf[i] = 0;
	for (i = 0; i < EDU_MSIX_TABLE_BYTES; i++)
		m->msix_table[i] = (i & (EDU_MSIX_ENTRY_SIZE - 1)) == EDU_MSIX_VCTRL ?
				   EDU_MSIX_VCTRL_MASKED : 0;
	m->msix_pba = 0;
}

void edu_model_init(struct edu_model *m, const struct edu_ops *ops, void *opaque)
{
	m->ops = ops;
	m->opaque = opaque;
	edu_power_on(m);
}

void edu_model_reset(struct edu_model *m)
{
	unsigned int vector = m->irq_vector;
	bool was_pending = m->irq_status != 0;

	edu_power_on(m);
	if (was_pending)
		edu_irq_out(m, vector, false);
}

bool edu_model_bus_master(const struct edu_model *m)
{
	return edu_cfg_get(m, EDU_CFG_COMMAND, 2) & EDU_CMD_BUS_MASTER;
}

bool edu_model_intx_disabled(const struct edu_model *m)
{
	return edu_cfg_get(m, EDU_CFG_COMMAND, 2) & EDU_CMD_INTX_DISABLE;
}

bool edu_model_irq_pending(const struct edu_model *m)
{
	return m->irq_status != 0;
}

/* Config space */

static bool edu_cfg_access_ok(uint32_t offset, uint32_t count)
{
	if (count != 1 && count != 2 && count != 4)
		return false;
	return offset <= EDU_CONFIG_SIZE - count;
}

int edu_model_config_read(struct edu_model *m, uint32_t offset, void *buf, uint32_t count)
{
	uint8_t *dst = buf;
	uint32_t i;

	if (!edu_cfg_access_ok(offset, count))
		return -EDU_EINVAL;
	for (i = 0; i < count; i++)
		dst[i] = m->config[offset + i];
	return 0;
}

int edu_model_config_write(struct edu_model *m, uint32_t offset, const void *buf, uint32_t count)
{
	const uint8_t *src = buf;
	uint8_t old_state;
	uint8_t new_state;
	uint32_t i;

	if (!edu_cfg_access_ok(offset, count))
		return -EDU_EINVAL;
	old_state = m->config[EDU_PM_PMCSR] & EDU_PM_STATE_MASK;
	for (i = 0; i < count; i++) {
		uint32_t off = offset + i;
		uint8_t mask = edu_cfg_wmask(off);

		m->config[off] = (uint8_t)((m->config[off] & ~mask) | (src[i] & mask));
	}
	/* Only D0 and D3hot are supported: a write of D1 or D2 is dropped, as PCI PM requires. */
	new_state = m->config[EDU_PM_PMCSR] & EDU_PM_STATE_MASK;
	if (new_state == 1 || new_state == 2)
		m->config[EDU_PM_PMCSR] = (uint8_t)((m->config[EDU_PM_PMCSR] & ~EDU_PM_STATE_MASK) |
						    old_state);
	return 0;
}

/* BAR0: edu registers, DMA engine and DMA buffer */

static uint32_t edu_factorial(uint32_t n)
{
	uint32_t r = 1;
	uint32_t i;

	/* n! mod 2^32 is 0 from 34! on: stop there instead of looping up to 4 billion times. */
	for (i = 2; i <= n && r; i++)
		r *= i;
	return r;
}

static void edu_dma_finish(struct edu_model *m, int status)
{
	if (!m->dma_pending)
		return;
	m->dma_pending = false;
	m->dma_cmd &= ~(uint64_t)EDU_DMA_CMD_RUN;
	if (status) {
		m->dma_cmd |= EDU_DMA_CMD_ERROR;
		return;
	}
	m->dma_cmd &= ~(uint64_t)EDU_DMA_CMD_ERROR;
	if (m->dma_cmd & EDU_DMA_CMD_IRQ)
		edu_raise_irq(m, EDU_IRQ_DMA);
}

static void edu_dma_start(struct edu_model *m)
{
	bool to_ram = m->dma_cmd & EDU_DMA_CMD_TO_RAM;
	uint64_t dev = to_ram ? m->dma_src : m->dma_dst;
	uint64_t ram = to_ram ? m->dma_dst : m->dma_src;
	uint64_t count = m->dma_count;
	uint32_t idx;
	int ret;

	m->dma_cmd &= ~(uint64_t)EDU_DMA_CMD_ERROR;
	if (!edu_model_bus_master(m) || !m->ops || !m->ops->dma ||
	    count == 0 || count > EDU_DMA_BUF_SIZE ||
	    dev < EDU_DMA_BUF_ADDR || dev - EDU_DMA_BUF_ADDR > EDU_DMA_BUF_SIZE - count) {
		m->dma_cmd = (m->dma_cmd & ~(uint64_t)EDU_DMA_CMD_RUN) | EDU_DMA_CMD_ERROR;
		return;
	}
	idx = (uint32_t)(dev - EDU_DMA_BUF_ADDR);
	m->dma_pending = true;
	ret = m->ops->dma(m->opaque, ram, &m->dma_buf[idx], (uint32_t)count, to_ram);
	if (ret == EDU_DMA_PENDING)
		return;
	/* 0 or an error (anything else); a no-op if the callback already completed it. */
	edu_dma_finish(m, ret);
}

static uint64_t *edu_dma_reg(struct edu_model *m, uint32_t off)
{
	switch (off & ~7u) {
	case EDU_REG_DMA_SRC:
		return &m->dma_src;
	case EDU_REG_DMA_DST:
		return &m->dma_dst;
	case EDU_REG_DMA_COUNT:
		return &m->dma_count;
	default:
		return &m->dma_cmd;
	}
}

/* A 64-bit register takes 8-byte accesses at +0 and 4-byte accesses at +0 or +4. */
static bool edu_reg64_access_ok(uint32_t off, uint32_t count)
{
	uint32_t half = off & 7;

	return (count == 8 && half == 0) || (count == 4 && (half == 0 || half == 4));
}

/* [off, off + count) lies inside [base, base + size); count <= size. */
static bool edu_in_window(uint32_t off, uint32_t count, uint32_t base, uint32_t size)
{
	return off >= base && off - base <= size - count;
}

static bool edu_in_dma_buf(uint32_t off, uint32_t count)
{
	return edu_in_window(off, count, EDU_DMA_BUF_ADDR, EDU_DMA_BUF_SIZE);
}

static uint64_t edu_regs_read(struct edu_model *m, uint32_t off, uint32_t count)
{
	if (edu_in_dma_buf(off, count))
		return edu_get_le(&m->dma_buf[off - EDU_DMA_BUF_ADDR], count);
	if (off < EDU_REGS_32_END) {
		if (count != 4)
			return EDU_ONES;
		switch (off) {
		case EDU_REG_ID:
			return EDU_ID_VALUE;
		case EDU_REG_LIVENESS:
			return (uint32_t)~m->liveness;
		case EDU_REG_FACT:
			return m->fact;
		case EDU_REG_STATUS:
			return m->status;
		case EDU_REG_IRQ_STATUS:
			return m->irq_status;
		case EDU_REG_IRQ_VECTOR:
			return m->irq_vector;
		default:
			return EDU_ONES;
		}
	}
	if (off < EDU_REGS_64_END && edu_reg64_access_ok(off, count))
		return *edu_dma_reg(m, off) >> (8 * (off & 7));
	return EDU_ONES;
}

static void edu_regs_write32(struct edu_model *m, uint32_t off, uint32_t val)
{
	switch (off) {
	case EDU_REG_LIVENESS:
		m->liveness = val;
		break;
	case EDU_REG_FACT:
		if (m->status & EDU_STATUS_COMPUTING)
			break;
		m->fact = val;
		m->status |= EDU_STATUS_COMPUTING;
		m->fact = edu_factorial(m->fact);
		m->status &= ~EDU_STATUS_COMPUTING;
		if (m->status & EDU_STATUS_IRQ_FACT)
			edu_raise_irq(m, EDU_IRQ_FACT);
		break;
	case EDU_REG_STATUS:
		m->status = (m->status & ~EDU_STATUS_IRQ_FACT) | (val & EDU_STATUS_IRQ_FACT);
		break;
	case EDU_REG_IRQ_RAISE:
		edu_raise_irq(m, val);
		break;
	case EDU_REG_IRQ_ACK:
		edu_ack_irq(m, val);
		break;
	case EDU_REG_IRQ_VECTOR:
		m->irq_vector = val & (EDU_MSIX_VECTORS - 1);
		break;
	default:
		break;
	}
}

static void edu_regs_write64(struct edu_model *m, uint32_t off, uint64_t val, uint32_t count)
{
	uint64_t *reg = edu_dma_reg(m, off);
	uint32_t shift = 8 * (off & 7);
	uint64_t mask = count == 8 ? EDU_ONES : (uint64_t)0xffffffffu << shift;

	/* The DMA registers do not change while a transfer runs, as on edu. */
	if (m->dma_cmd & EDU_DMA_CMD_RUN)
		return;
	*reg = (*reg & ~mask) | ((val << shift) & mask);
	if (reg == &m->dma_cmd && (m->dma_cmd & EDU_DMA_CMD_RUN))
		edu_dma_start(m);
}

static void edu_regs_write(struct edu_model *m, uint32_t off, uint64_t val, uint32_t count)
{
	uint32_t i;

	if (edu_in_dma_buf(off, count)) {
		for (i = 0; i < count; i++)
			m->dma_buf[off - EDU_DMA_BUF_ADDR + i] = (uint8_t)(val >> (8 * i));
		return;
	}
	if (off < EDU_REGS_32_END) {
		if (count == 4)
			edu_regs_write32(m, off, (uint32_t)val);
		return;
	}
	if (off < EDU_REGS_64_END && edu_reg64_access_ok(off, count))
		edu_regs_write64(m, off, val, count);
}

/* BAR2: MSI-X table and PBA */

static bool edu_msix_access_ok(uint32_t off, uint32_t count)
{
	return (count == 4 || count == 8) && (off & (count - 1)) == 0;
}

static uint64_t edu_msix_read(struct edu_model *m, uint32_t off, uint32_t count)
{
	if (!edu_msix_access_ok(off, count))
		return EDU_ONES;
	if (edu_in_window(off, count, EDU_MSIX_TABLE_OFFSET, EDU_MSIX_TABLE_BYTES))
		return edu_get_le(&m->msix_table[off - EDU_MSIX_TABLE_OFFSET], count);
	if (edu_in_window(off, count, EDU_MSIX_PBA_OFFSET, EDU_MSIX_PBA_BYTES))
		return m->msix_pba >> (8 * (off - EDU_MSIX_PBA_OFFSET));
	return EDU_ONES;
}

static void edu_msix_write(struct edu_model *m, uint32_t off, uint64_t val, uint32_t count)
{
	uint32_t i;

	if (!edu_msix_access_ok(off, count) ||
	    !edu_in_window(off, count, EDU_MSIX_TABLE_OFFSET, EDU_MSIX_TABLE_BYTES))
		return;	/* outside the table: the PBA is read-only */
	off -= EDU_MSIX_TABLE_OFFSET;
	for (i = 0; i < count; i += 4) {
		uint32_t o = off + i;
		uint32_t dw = (uint32_t)(val >> (8 * i));

		if ((o & (EDU_MSIX_ENTRY_SIZE - 1)) == EDU_MSIX_VCTRL)
			dw &= EDU_MSIX_VCTRL_MASKED;
		edu_put_le(&m->msix_table[o], dw, 4);
	}
}

/* Returns the BAR size for a valid access, 0 otherwise. */
static uint32_t edu_bar_check(unsigned int bar, uint64_t offset, uint32_t count)
{
	uint32_t size;

	if (bar == EDU_BAR_REGS)
		size = EDU_BAR_REGS_SIZE;
	else if (bar == EDU_BAR_MSIX)
		size = EDU_BAR_MSIX_SIZE;
	else
		return 0;
	if (count != 1 && count != 2 && count != 4 && count != 8)
		return 0;
	if (offset > size || count > size - offset)
		return 0;
	return size;
}

int edu_model_bar_read(struct edu_model *m, unsigned int bar, uint64_t offset, void *buf,
		       uint32_t count)
{
	uint64_t val;

	if (!edu_bar_check(bar, offset, count))
		return -EDU_EINVAL;
	if (bar == EDU_BAR_REGS)
		val = edu_regs_read(m, (uint32_t)offset, count);
	else
		val = edu_msix_read(m, (uint32_t)offset, count);
	edu_put_le(buf, val, count);
	return 0;
}

int edu_model_bar_write(struct edu_model *m, unsigned int bar, uint64_t offset, const void *buf,
			uint32_t count)
{
	uint64_t val;

	if (!edu_bar_check(bar, offset, count))
		return -EDU_EINVAL;
	val = edu_get_le(buf, count);
	if (bar == EDU_BAR_REGS)
		edu_regs_write(m, (uint32_t)offset, val, count);
	else
		edu_msix_write(m, (uint32_t)offset, val, count);
	return 0;
}

void edu_model_dma_complete(struct edu_model *m, int status)
{
	edu_dma_finish(m, status);
}
