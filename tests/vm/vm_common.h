/* vm_common.h: what the guest bench's clients (vm-checks, vm-trust, vm-bridge) share: the PASS/FAIL line, the clock, a negotiated client, eventfds, memfds, the command register, an edu DMA. */
#ifndef VM_COMMON_H
#define VM_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"
#include "proc_probe.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define RW (VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)

/* How many FAIL lines vm_verdict printed. */
extern unsigned int vm_failures;

/* Prints "PASS LABEL.NAME", or "FAIL LABEL.NAME: " and the formatted reason (counted); returns ok. */
bool vm_verdict(const char *label, const char *name, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

uint64_t vm_now_ns(void);
long vm_now_ms(void);

/* Connects to sock and negotiates with the given reply timeout: 0, or a negative errno (*c then NULL). */
int vm_client(const char *sock, int timeout_ms, struct vuc **c);

/* Triggers of IRQ index's first count vectors to eventfds; vm_irqs_off disables the index. */
int vm_set_eventfds(struct vuc *c, uint32_t index, uint32_t count, const int *fds);
int vm_irqs_off(struct vuc *c, uint32_t index);

/* A memfd of size bytes: its fd, or a negative errno (errno set too). */
int vm_memfd(const char *name, uint64_t size);

/* Sets then clears bits of the PCI command register (config offset 4): 0 or a negative errno. */
int vm_set_command(struct vuc *c, uint16_t set, uint16_t clear);

/* Runs one edu DMA transfer (cmd: EDU_DMA_CMD_TO_RAM or 0) and waits up to timeout_ms for the engine to
 * stop: 0 with the command register's last value in *status, or a negative errno, -ETIMEDOUT. */
int vm_edu_dma(struct vuc *c, uint64_t src, uint64_t dst, uint64_t count, uint64_t cmd, int timeout_ms,
	       uint64_t *status);

#endif
