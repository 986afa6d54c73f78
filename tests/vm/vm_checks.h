/* vm_checks.h: vm-checks' state of one run (the device's kind, the session with the proxy and its log, a directly opened VFIO device), its check signature and the check groups' entry points. */
#ifndef VM_CHECKS_H
#define VM_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <linux/vfio.h>

#include "vm_common.h"

/* QEMU's edu clamps DMA addresses to 28 bits: the window stays below 256 MiB. */
#define DMA_IOVA 0x100000ull
#define DMA_SIZE 0x100000ull
#define LATENCY_SAMPLES 1000
#define REPLY_MS 10000 /* a client's wait for each reply; TCG: generous */
#define NVME_REG_VS 0x08

enum kind { KIND_EDU, KIND_NVME, KIND_EMULATED };

/* A VFIO device opened directly (legacy container), for the latency baseline. */
struct direct {
	const char *bdf;
	int container, group, device;
	struct vfio_region_info bar0;
};

struct ctx {
	const char *label;
	enum kind kind;
	bool trap_bars;
	pid_t proxy_pid; /* the hand-over group follows it to each successor */
	const char *socket;
	const char *proxy_log; /* --proxy-log: the proxy's log, where the hand-over group finds its successors */

	struct vuc *c;
	struct direct *d; /* --direct-vfio only */
	bool have_info, have_bar0;
	struct vfio_user_device_info info;
	struct vfio_user_region_info bar0;
	uint8_t bar0_caps[1024];
	size_t bar0_caps_len;
	int bar0_fd;
	uint8_t *map; /* the mmapped part of BAR0 that holds offset 0 */
	size_t map_len;
	bool bus_master;
};

/* A check returns 0 (pass), 1 (skip, why says why) or -1 (fail, why says why). */
typedef int (*check_fn)(struct ctx *x, char *why, size_t len);

#define FAIL(...)                                   \
	do {                                        \
		snprintf(why, len, __VA_ARGS__);    \
		return -1;                          \
	} while (0)
#define SKIP(...)                                   \
	do {                                        \
		snprintf(why, len, __VA_ARGS__);    \
		return 1;                           \
	} while (0)
/* A client call that must succeed. */
#define MUST(call)                                                              \
	do {                                                                    \
		int r_ = (call);                                                \
		if (r_ < 0)                                                     \
			FAIL("%s: %s", #call, strerror(-r_));                   \
	} while (0)

/* vm_checks.c: the runner and what the groups share. */
void run(struct ctx *x, const char *name, check_fn fn);
void print_measure(const char *label, const char *name, uint64_t *samples, size_t n);
const char *kind_name(enum kind k);
bool is_edu_like(const struct ctx *x);
bool want_mmap(const struct ctx *x);
bool want_reset(const struct ctx *x);
int memfd_window(size_t size, uint8_t **mem);

/* vm_checks_regions.c: the session's start, the device's description, BAR0 trapped and mmapped. */
int check_version(struct ctx *x, char *why, size_t len);
int check_device_info(struct ctx *x, char *why, size_t len);
int check_region_info(struct ctx *x, char *why, size_t len);
int check_config(struct ctx *x, char *why, size_t len);
int check_bar0_regs(struct ctx *x, char *why, size_t len);
int check_mmap_bar0(struct ctx *x, char *why, size_t len);

/* vm_checks_device.c: what the device does: MSI, DMA, reset; BAR0 read latency. */
int check_msi(struct ctx *x, char *why, size_t len);
int check_dma(struct ctx *x, char *why, size_t len);
int check_reset(struct ctx *x, char *why, size_t len);
void measure_reads(struct ctx *x);

/* vm_checks_reconnects.c: the session's end, then clients that vanish with DMA mapped. */
void end_session(struct ctx *x);
int check_reconnects(struct ctx *x, char *why, size_t len);

/* vm_checks_handover.c: the proxy handed over 20 times (SIGHUP) under one session, which must not notice. */
void run_handover(struct ctx *x);

/* vm_checks_direct.c: the VFIO device itself, while no proxy holds it. */
int run_direct(struct ctx *x, const char *bdf);

#endif
