/* edu_model.h: the edu-compatible PCI device model's interface: state, register and config access, two callbacks. */
#ifndef EDU_MODEL_H
#define EDU_MODEL_H

/*
 * The model is plain C with no libc and no kernel dependency: the same source builds into the
 * userspace emulated backend and into the bridge/ kernel module. It knows neither vfio-user nor
 * VFIO; it sees register accesses and config-space accesses, and calls out for DMA and interrupts.
 */
#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stdint.h>
#endif

#define EDU_VENDOR_ID 0x1234
#define EDU_DEVICE_ID 0x11e8
#define EDU_SUBSYS_VENDOR_ID 0x1af4
#define EDU_SUBSYS_ID 0x1100
#define EDU_REVISION 0x10
#define EDU_CLASS_CODE 0xff0000u /* class "other", subclass 0, prog-if 0 */
#define EDU_CONFIG_SIZE 4096u

/* BARs: 0 = edu registers (trapped), 2 = MSI-X table and PBA (trapped), 4 = RAM (64-bit, mmappable;
 * its memory belongs to the environment, the model only sizes it in config space). */
#define EDU_BAR_REGS 0
#define EDU_BAR_REGS_SIZE (1u << 20)
#define EDU_BAR_MSIX 2
#define EDU_BAR_MSIX_SIZE 4096u
#define EDU_BAR_RAM 4
#define EDU_BAR_RAM_SIZE (1u << 20)

#define EDU_MSIX_VECTORS 8u
#define EDU_MSIX_TABLE_OFFSET 0x000u
#define EDU_MSIX_PBA_OFFSET 0x800u
#define EDU_MSIX_ENTRY_SIZE 16u

/* Config-space capability offsets. */
#define EDU_CAP_PM 0x40
#define EDU_CAP_MSI 0x50
#define EDU_CAP_PCIE 0x70
#define EDU_CAP_MSIX 0xb0

/* BAR0 registers (QEMU's edu, plus the marked extensions). */
#define EDU_REG_ID 0x00 /* ro: 0x010000ed */
#define EDU_REG_LIVENESS 0x04 /* rw: reads back ~written */
#define EDU_REG_FACT 0x08 /* rw: write n, read n! once STATUS_COMPUTING clears */
#define EDU_REG_STATUS 0x20
#define EDU_REG_IRQ_STATUS 0x24 /* ro */
#define EDU_REG_IRQ_RAISE 0x60 /* wo: irq_status |= value */
#define EDU_REG_IRQ_ACK 0x64 /* wo: irq_status &= ~value */
#define EDU_REG_IRQ_VECTOR 0x68 /* extension, rw: MSI-X vector used for raised interrupts */
#define EDU_REG_DMA_SRC 0x80
#define EDU_REG_DMA_DST 0x88
#define EDU_REG_DMA_COUNT 0x90
#define EDU_REG_DMA_CMD 0x98
#define EDU_DMA_BUF_ADDR 0x40000u /* device-side address of the DMA buffer; also MMIO-visible (extension) */
#define EDU_DMA_BUF_SIZE 4096u

#define EDU_ID_VALUE 0x010000edu
#define EDU_STATUS_COMPUTING 0x01u
#define EDU_STATUS_IRQ_FACT 0x80u
#define EDU_IRQ_FACT 0x00000001u
#define EDU_IRQ_DMA 0x00000100u
#define EDU_DMA_CMD_RUN 0x1u
#define EDU_DMA_CMD_TO_RAM 0x2u /* 0: RAM (src) to device buffer (dst); 1: device buffer (src) to RAM (dst) */
#define EDU_DMA_CMD_IRQ 0x4u
#define EDU_DMA_CMD_ERROR 0x8u /* extension: set with RUN cleared when a transfer was refused or failed */

/* Return value of edu_ops.dma when the environment completes the transfer later. */
#define EDU_DMA_PENDING 1

/* errno values the model returns negated (the same numbers in the kernel and in userspace). */
#define EDU_EINVAL 22
#define EDU_EFAULT 14

struct edu_ops {
	/*
	 * Move len bytes between the model's buffer buf and the bus address iova (to_ram: buf -> iova).
	 * Return 0 when the transfer is done, EDU_DMA_PENDING when the environment will call
	 * edu_model_dma_complete() later (buf stays valid until then), or a negative errno.
	 */
	int (*dma)(void *opaque, uint64_t iova, void *buf, uint32_t len, bool to_ram);
	/*
	 * The interrupt output changed: level true when an interrupt is raised (an edge for MSI and
	 * MSI-X on vector, INTx asserted), false when the last pending cause was acknowledged (INTx
	 * deasserted). The environment chooses the delivery (INTx, MSI, MSI-X) as the client set it up.
	 */
	void (*irq)(void *opaque, unsigned int vector, bool level);
};

struct edu_model {
	const struct edu_ops *ops;
	void *opaque;

	uint8_t config[EDU_CONFIG_SIZE];

	uint32_t liveness;
	uint32_t fact;
	uint32_t status;
	uint32_t irq_status;
	uint32_t irq_vector;
	uint64_t dma_src;
	uint64_t dma_dst;
	uint64_t dma_count;
	uint64_t dma_cmd;
	bool dma_pending;
	uint8_t dma_buf[EDU_DMA_BUF_SIZE];

	uint8_t msix_table[EDU_MSIX_VECTORS * EDU_MSIX_ENTRY_SIZE];
	uint64_t msix_pba;
};

/* Power-on state; ops and opaque are kept for the life of the model. */
void edu_model_init(struct edu_model *m, const struct edu_ops *ops, void *opaque);
/* Function-level reset: registers, config space and interrupts to power-on state; a pending DMA
 * is forgotten (a later edu_model_dma_complete() for it is ignored). Lowers INTx if it was up. */
void edu_model_reset(struct edu_model *m);

/* Config space: offset + count within EDU_CONFIG_SIZE, count 1, 2 or 4. 0 or -EDU_EINVAL. */
int edu_model_config_read(struct edu_model *m, uint32_t offset, void *buf, uint32_t count);
int edu_model_config_write(struct edu_model *m, uint32_t offset, const void *buf, uint32_t count);

/* BAR access for EDU_BAR_REGS and EDU_BAR_MSIX: count 1, 2, 4 or 8 within the BAR.
 * Accesses the device ignores read as all-ones and are dropped on write, as on hardware.
 * -EDU_EINVAL for other BARs or out-of-range accesses. */
int edu_model_bar_read(struct edu_model *m, unsigned int bar, uint64_t offset, void *buf, uint32_t count);
int edu_model_bar_write(struct edu_model *m, unsigned int bar, uint64_t offset, const void *buf, uint32_t count);

/* Completes a transfer for which edu_ops.dma returned EDU_DMA_PENDING; status 0 or negative errno. */
void edu_model_dma_complete(struct edu_model *m, int status);

/* State the environment needs to deliver interrupts as PCI requires. */
bool edu_model_bus_master(const struct edu_model *m);    /* command register bit 2 */
bool edu_model_intx_disabled(const struct edu_model *m); /* command register bit 10 */
bool edu_model_irq_pending(const struct edu_model *m);   /* irq_status != 0 (INTx level) */

#endif /* EDU_MODEL_H */
