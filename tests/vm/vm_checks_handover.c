/* vm_checks_handover.c: vm-checks' hand-over group: one session set up (a memfd DMA window, an interrupt eventfd, values the device keeps), the proxy handed over 20 times (SIGHUP, each successor followed through its log), and after each, on the same connection: DMA, the interrupt, the kept values, the proxy's fd and mapping counts; the client's unavailability measured. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "edu_model.h"
#include "proc_probe.h"
#include "vm_checks.h"

#define HANDOVERS 20
#define OUTCOME_MS 30000 /* SIGHUP to the successor's announcement: exec, the loader, the rebuild, under TCG */
#define AFTER_READS 20	 /* reads after the announcement that end one hand-over's measurement */
#define GONE_MS 10000	 /* the predecessor's exit after the successor's announcement */
#define IRQ_WAIT_MS 5000
#define DMA_WAIT_MS 10000
#define PCI_COMMAND_MEMORY 0x2u
#define PCI_COMMAND_MASTER 0x4u
#define CFG_IRQ_LINE 0x3c /* config byte both vfio-pci (virtualized) and the model keep as written */
#define IRQ_LINE_VALUE 0x5a
#define FACT_IN 10u
#define FACT_OUT 3628800u
#define IRQ_BIT 0x40u
/* the window's layout */
#define W_SRC 0x1000u
#define W_DST 0x10000u
#define W_SQ 0x20000u /* nvme admin submission queue, 64 entries of 64 bytes */
#define W_CQ 0x21000u /* its completion queue, 64 entries of 16 bytes */
#define W_ID 0x22000u /* where Identify lands */
#define GUARD 0x5a

/* NVMe 1.4 controller registers (BAR0) and the admin queues' shape. */
#define NVME_CAP 0x00
#define NVME_CC 0x14
#define NVME_CSTS 0x1c
#define NVME_AQA 0x24
#define NVME_ASQ 0x28
#define NVME_ACQ 0x30
#define NVME_DOORBELLS 0x1000
#define NVME_CC_EN 0x1u
#define NVME_CC_VALUE (NVME_CC_EN | 6u << 16 | 4u << 20) /* IOSQES 64 bytes, IOCQES 16; NVM, 4 KiB pages */
#define NVME_CSTS_RDY 0x1u
#define NVME_CSTS_CFS 0x2u
#define NVME_QUEUE 64u
#define NVME_AQA_VALUE ((NVME_QUEUE - 1) | (NVME_QUEUE - 1) << 16)
#define NVME_OPC_IDENTIFY 0x06
#define NVME_CNS_CONTROLLER 1
#define IDENT_SIZE 4096u
#define QEMU_NVME_VENDOR 0x1b36

enum { C_COUNT, C_PIDS, C_DMA, C_MSI, C_KEPT, C_FDS, C_MAPS, NCHECKS };
static const char *const check_names[NCHECKS] = {
	"handover-count", "handover-pids", "handover-dma", "handover-msi", "handover-kept", "handover-fds", "handover-maps",
};

/* What the proxy's log said so far, read as it grows. */
struct plog {
	int fd;
	off_t off;
	char line[512];
	size_t len;
	unsigned int served, exits, failed;
	pid_t served_pid, exit_pid;
	char failed_line[300];
};

struct ho {
	struct ctx *x;
	struct plog log;
	int mfd, efd;
	uint8_t *mem;
	bool mapped, irqs, nvme_on;
	bool confined0;
	int fds0, maps0;
	unsigned int done; /* hand-overs that happened */
	uint64_t gap[HANDOVERS];
	pid_t pids[HANDOVERS + 1];
	/* nvme */
	uint32_t db_stride;
	unsigned int sq_tail, cq_head;
	uint16_t cid;
	bool phase;
	long ready_ms;
	uint8_t ident[IDENT_SIZE];
	/* the first failure of each check */
	bool failed[NCHECKS];
	char why[NCHECKS][400];
};

static struct ho H;

static void note(struct ho *h, int check, unsigned int round, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void note(struct ho *h, int check, unsigned int round, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (h->failed[check])
		return;
	h->failed[check] = true;
	n = round ? snprintf(h->why[check], sizeof(h->why[check]), "after hand-over %u: ", round)
		  : snprintf(h->why[check], sizeof(h->why[check]), "before any hand-over: ");
	va_start(ap, fmt);
	vsnprintf(h->why[check] + n, sizeof(h->why[check]) - (size_t)n, fmt, ap);
	va_end(ap);
}

static void plog_line(struct plog *l, const char *s)
{
	const char *at;

	if ((at = strstr(s, "hand-over: serving as pid "))) {
		l->served++;
		l->served_pid = (pid_t)atoi(at + strlen("hand-over: serving as pid "));
	} else if ((at = strstr(s, "hand-over: the successor serves; pid "))) {
		l->exits++;
		l->exit_pid = (pid_t)atoi(at + strlen("hand-over: the successor serves; pid "));
	} else if (strstr(s, "cannot hand over its state") || strstr(s, "hand-over did not happen") ||
		   strstr(s, "hand-over refused") || strstr(s, "the client is lost")) {
		l->failed++;
		snprintf(l->failed_line, sizeof(l->failed_line), "%s", s);
	}
}

/* Reads what the log gained since the last call; whole lines only. */
static void plog_scan(struct plog *l)
{
	char buf[4096];
	ssize_t n;

	while ((n = pread(l->fd, buf, sizeof(buf), l->off)) > 0) {
		l->off += n;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				l->line[l->len] = '\0';
				plog_line(l, l->line);
				l->len = 0;
			} else if (l->len < sizeof(l->line) - 1) {
				l->line[l->len++] = buf[i];
			}
		}
	}
}

static bool confined(pid_t pid)
{
	char v[64];

	return proc_status(pid, "Seccomp", v, sizeof(v)) == 0 && atoi(v) == 2;
}

/*
 * The proxy's mappings but the anonymous private ones: those merge with their neighbours or not as the
 * layout falls (a successor has one more or one less, seen on the host), where a mapping of a file, a
 * memfd or a device stays one line. A negative errno when /proc/PID/maps cannot be read.
 */
static int file_maps(pid_t pid)
{
	char path[64], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char perms[8] = "", name[256] = "";

		if (sscanf(line, "%*s %7s %*s %*s %*s %255s", perms, name) >= 1 && (perms[3] == 's' || name[0]))
			n++;
	}
	fclose(f);
	return n;
}

/* Gone, or exited and not yet reaped. */
static bool exited(pid_t pid)
{
	char v[64];

	return proc_status(pid, "State", v, sizeof(v)) < 0 || v[0] == 'Z';
}

static volatile uint32_t *mem32(struct ho *h, uint32_t off)
{
	return (volatile uint32_t *)(h->mem + off);
}

/* ---- edu (the real one and the model) ---- */

static int edu_setup(struct ho *h, char *why, size_t len)
{
	struct vuc *c = h->x->c;
	long deadline = vm_now_ms() + 5000;
	uint32_t v = 0;

	MUST(vm_set_eventfds(c, VFIO_PCI_MSI_IRQ_INDEX, 1, &h->efd));
	h->irqs = true;
	MUST(vuc_write32(c, BAR0, EDU_REG_FACT, FACT_IN));
	do {
		MUST(vuc_read32(c, BAR0, EDU_REG_STATUS, &v));
	} while ((v & EDU_STATUS_COMPUTING) && vm_now_ms() < deadline);
	MUST(vuc_read32(c, BAR0, EDU_REG_FACT, &v));
	if (v != FACT_OUT)
		FAIL("factorial register %u after writing %u, want %u", v, FACT_IN, FACT_OUT);
	return 0;
}

/* RAM -> device -> RAM through the window mapped before the hand-overs, byte-exact; then edu's raise. */
static void edu_round(struct ho *h, unsigned int r)
{
	const uint32_t n = EDU_DMA_BUF_SIZE - 1; /* QEMU 7.2's edu rejects a transfer ending at the buffer's end */
	struct vuc *c = h->x->c;
	uint8_t *src = h->mem + W_SRC, *dst = h->mem + W_DST;
	uint64_t st;
	uint32_t irq = 0, seed = 0x900d + r;
	long cnt;
	int e;

	for (uint32_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		src[i] = (uint8_t)(seed >> 16);
	}
	memset(dst - 64, GUARD, n + 128);
	if ((e = vm_edu_dma(c, DMA_IOVA + W_SRC, EDU_DMA_BUF_ADDR, n, 0, DMA_WAIT_MS, &st)) < 0 ||
	    (st & EDU_DMA_CMD_ERROR)) {
		note(h, C_DMA, r, "RAM to device: %s (command %#llx)", e < 0 ? strerror(-e) : "error bit",
		     (unsigned long long)st);
	} else if ((e = vm_edu_dma(c, EDU_DMA_BUF_ADDR, DMA_IOVA + W_DST, n, EDU_DMA_CMD_TO_RAM, DMA_WAIT_MS, &st)) < 0 ||
		   (st & EDU_DMA_CMD_ERROR)) {
		note(h, C_DMA, r, "device to RAM: %s (command %#llx)", e < 0 ? strerror(-e) : "error bit",
		     (unsigned long long)st);
	} else {
		uint32_t bad;

		for (bad = 0; bad < n && dst[bad] == src[bad]; bad++)
			;
		if (bad < n)
			note(h, C_DMA, r, "round trip differs at byte %u: %#x, sent %#x", bad, dst[bad], src[bad]);
		for (int i = 1; i <= 64; i++)
			if (dst[-i] != GUARD || dst[n + (uint32_t)i - 1] != GUARD)
				note(h, C_DMA, r, "the device wrote outside the %u bytes asked for", n);
	}
	/* the MSI eventfd given before the hand-overs: quiet, then exactly one interrupt per raise */
	if ((cnt = eventfd_wait(h->efd, 0)) != 0)
		note(h, C_MSI, r, "the eventfd had %ld before the raise", cnt);
	if ((e = vuc_write32(c, BAR0, EDU_REG_IRQ_RAISE, IRQ_BIT)) < 0) {
		note(h, C_MSI, r, "write raise: %s", strerror(-e));
		return;
	}
	cnt = eventfd_wait(h->efd, IRQ_WAIT_MS);
	if (cnt != 1)
		note(h, C_MSI, r, "eventfd after the raise: %ld (%s), want 1", cnt,
		     cnt < 0 ? strerror((int)-cnt) : cnt ? "more than one" : "timeout");
	if ((e = vuc_read32(c, BAR0, EDU_REG_IRQ_STATUS, &irq)) < 0 || !(irq & IRQ_BIT))
		note(h, C_MSI, r, "interrupt status %#x (%s) lacks the raised bit", irq, e < 0 ? strerror(-e) : "read");
	if ((e = vuc_write32(c, BAR0, EDU_REG_IRQ_ACK, IRQ_BIT)) < 0 ||
	    (e = vuc_read32(c, BAR0, EDU_REG_IRQ_STATUS, &irq)) < 0 || (irq & IRQ_BIT))
		note(h, C_MSI, r, "acknowledge: status %#x (%s)", irq, e < 0 ? strerror(-e) : "read");
}

static void edu_kept(struct ho *h, unsigned int r)
{
	uint32_t v = 0;
	int e = vuc_read32(h->x->c, BAR0, EDU_REG_FACT, &v);

	if (e < 0 || v != FACT_OUT)
		note(h, C_KEPT, r, "factorial register %u (%s), want %u", v, e < 0 ? strerror(-e) : "read", FACT_OUT);
}

/* ---- nvme: the admin queues in the window, Identify Controller as the DMA and the MSI-X ---- */

static int nvme_w64(struct vuc *c, uint32_t off, uint64_t v)
{
	int e = vuc_write32(c, BAR0, off, (uint32_t)v);

	return e < 0 ? e : vuc_write32(c, BAR0, off + 4, (uint32_t)(v >> 32));
}

static int nvme_r64(struct vuc *c, uint32_t off, uint64_t *v)
{
	uint32_t lo, hi;
	int e = vuc_read32(c, BAR0, off, &lo);

	if (e < 0 || (e = vuc_read32(c, BAR0, off + 4, &hi)) < 0)
		return e;
	*v = lo | (uint64_t)hi << 32;
	return 0;
}

/* Waits for CSTS.RDY to become want: 0, -ETIMEDOUT, -EIO (fatal status) or a negative errno. */
static int nvme_wait_ready(struct ho *h, bool want)
{
	long deadline = vm_now_ms() + h->ready_ms;
	uint32_t csts;
	int e;

	for (;;) {
		if ((e = vuc_read32(h->x->c, BAR0, NVME_CSTS, &csts)) < 0)
			return e;
		if (csts & NVME_CSTS_CFS)
			return -EIO;
		if (!!(csts & NVME_CSTS_RDY) == want)
			return 0;
		if (vm_now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
}

/* One Identify Controller into the window: its completion (DMA both ways) and MSI-X vector 0. */
static void nvme_identify(struct ho *h, unsigned int r)
{
	struct vuc *c = h->x->c;
	volatile uint32_t *sqe = mem32(h, W_SQ + h->sq_tail * 64), *cqe = mem32(h, W_CQ + h->cq_head * 16);
	uint16_t cid = ++h->cid;
	long deadline = vm_now_ms() + DMA_WAIT_MS, cnt;
	uint32_t d3;
	int e;

	memset(h->mem + W_ID, GUARD, IDENT_SIZE);
	for (unsigned int i = 0; i < 16; i++)
		sqe[i] = 0;
	sqe[0] = NVME_OPC_IDENTIFY | (uint32_t)cid << 16;
	sqe[6] = (uint32_t)(DMA_IOVA + W_ID); /* PRP1: one page, PRP2 unused */
	sqe[7] = (uint32_t)((DMA_IOVA + W_ID) >> 32);
	sqe[10] = NVME_CNS_CONTROLLER;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if ((cnt = eventfd_wait(h->efd, 0)) != 0)
		note(h, C_MSI, r, "the MSI-X eventfd had %ld before the command", cnt);
	h->sq_tail = (h->sq_tail + 1) % NVME_QUEUE;
	if ((e = vuc_write32(c, BAR0, NVME_DOORBELLS, h->sq_tail)) < 0) {
		note(h, C_DMA, r, "submission doorbell: %s", strerror(-e));
		return;
	}
	while (((__atomic_load_n(&cqe[3], __ATOMIC_ACQUIRE) >> 16) & 1) != h->phase) {
		if (vm_now_ms() > deadline) {
			note(h, C_DMA, r, "no completion of Identify (cid %u) within %d ms", cid, DMA_WAIT_MS);
			return;
		}
		usleep(1000);
	}
	d3 = cqe[3];
	h->cq_head = (h->cq_head + 1) % NVME_QUEUE;
	if (!h->cq_head)
		h->phase = !h->phase;
	if ((e = vuc_write32(c, BAR0, NVME_DOORBELLS + h->db_stride, h->cq_head)) < 0)
		note(h, C_DMA, r, "completion doorbell: %s", strerror(-e));
	if ((d3 & 0xffff) != cid || d3 >> 17)
		note(h, C_DMA, r, "completion cid %u status %#x, want cid %u status 0", d3 & 0xffff, d3 >> 17, cid);
	else if (!r && (h->mem[W_ID] | h->mem[W_ID + 1] << 8) == QEMU_NVME_VENDOR && !memcmp(h->mem + W_ID + 4, "vup ", 4))
		memcpy(h->ident, h->mem + W_ID, IDENT_SIZE); /* the reference: QEMU's vendor id, run.sh's serial */
	else if (!r)
		note(h, C_DMA, r, "Identify data: vendor %#x, serial '%.4s' (want %#x, 'vup ')",
		     h->mem[W_ID] | h->mem[W_ID + 1] << 8, (const char *)h->mem + W_ID + 4, QEMU_NVME_VENDOR);
	else if (memcmp(h->mem + W_ID, h->ident, IDENT_SIZE))
		note(h, C_DMA, r, "Identify data differs from the first one's");
	cnt = eventfd_wait(h->efd, IRQ_WAIT_MS);
	if (cnt != 1)
		note(h, C_MSI, r, "MSI-X eventfd after the completion: %ld (%s), want 1", cnt,
		     cnt < 0 ? strerror((int)-cnt) : cnt ? "more than one" : "timeout");
}

static int nvme_setup(struct ho *h, char *why, size_t len)
{
	struct vuc *c = h->x->c;
	struct vfio_user_irq_info ii;
	uint64_t cap;
	uint32_t cc;
	int e;

	MUST(vuc_read64(c, BAR0, NVME_CAP, &cap));
	h->db_stride = 4u << ((cap >> 32) & 0xf);
	h->ready_ms = (long)((cap >> 24) & 0xff) * 500 + 2000; /* CAP.TO, and slack for TCG */
	MUST(vuc_irq_info(c, VFIO_PCI_MSIX_IRQ_INDEX, &ii));
	if (ii.count < 1 || !(ii.flags & VFIO_IRQ_INFO_EVENTFD))
		FAIL("MSI-X irq info count %u flags %#x", ii.count, ii.flags);
	MUST(vm_set_eventfds(c, VFIO_PCI_MSIX_IRQ_INDEX, 1, &h->efd));
	h->irqs = true;
	MUST(vuc_read32(c, BAR0, NVME_CC, &cc));
	if (cc & NVME_CC_EN) {
		MUST(vuc_write32(c, BAR0, NVME_CC, 0));
		if ((e = nvme_wait_ready(h, false)) < 0)
			FAIL("disabling the controller: %s", strerror(-e));
	}
	memset(h->mem + W_SQ, 0, NVME_QUEUE * 64);
	memset(h->mem + W_CQ, 0, NVME_QUEUE * 16);
	h->sq_tail = h->cq_head = 0;
	h->phase = true;
	MUST(vuc_write32(c, BAR0, NVME_AQA, NVME_AQA_VALUE));
	MUST(nvme_w64(c, NVME_ASQ, DMA_IOVA + W_SQ));
	MUST(nvme_w64(c, NVME_ACQ, DMA_IOVA + W_CQ));
	MUST(vuc_write32(c, BAR0, NVME_CC, NVME_CC_VALUE));
	h->nvme_on = true;
	if ((e = nvme_wait_ready(h, true)) < 0)
		FAIL("enabling the controller (CC %#x): CSTS.RDY %s", NVME_CC_VALUE, strerror(-e));
	return 0;
}

/* The admin queue's registers as written, the controller enabled and well (a reset would clear CC). */
static void nvme_kept(struct ho *h, unsigned int r)
{
	struct vuc *c = h->x->c;
	uint64_t asq = 0, acq = 0;
	uint32_t aqa = 0, cc = 0, csts = 0;
	int e;

	if ((e = vuc_read32(c, BAR0, NVME_AQA, &aqa)) < 0 || (e = nvme_r64(c, NVME_ASQ, &asq)) < 0 ||
	    (e = nvme_r64(c, NVME_ACQ, &acq)) < 0 || (e = vuc_read32(c, BAR0, NVME_CC, &cc)) < 0 ||
	    (e = vuc_read32(c, BAR0, NVME_CSTS, &csts)) < 0) {
		note(h, C_KEPT, r, "reading the controller's registers: %s", strerror(-e));
		return;
	}
	if (aqa != NVME_AQA_VALUE || asq != DMA_IOVA + W_SQ || acq != DMA_IOVA + W_CQ || cc != NVME_CC_VALUE)
		note(h, C_KEPT, r, "AQA %#x ASQ %#llx ACQ %#llx CC %#x, written %#x %#llx %#llx %#x", aqa,
		     (unsigned long long)asq, (unsigned long long)acq, cc, NVME_AQA_VALUE, DMA_IOVA + W_SQ,
		     DMA_IOVA + W_CQ, NVME_CC_VALUE);
	if ((csts & (NVME_CSTS_RDY | NVME_CSTS_CFS)) != NVME_CSTS_RDY)
		note(h, C_KEPT, r, "CSTS %#x: not ready, or a fatal status", csts);
}

/* ---- what every kind does ---- */

static void device_round(struct ho *h, unsigned int r)
{
	struct vuc *c = h->x->c;
	uint16_t cmd = 0;
	uint8_t line = 0;
	int e;

	if (h->x->kind == KIND_NVME) {
		nvme_identify(h, r);
		nvme_kept(h, r);
	} else {
		edu_round(h, r);
		edu_kept(h, r);
	}
	/* config space: what a reset or a device opened afresh would have lost */
	if ((e = vuc_config_read(c, 4, &cmd, sizeof(cmd))) < 0 ||
	    (cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) != (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER))
		note(h, C_KEPT, r, "command register %#x (%s) lacks memory and bus master", cmd,
		     e < 0 ? strerror(-e) : "read");
	if ((e = vuc_config_read(c, CFG_IRQ_LINE, &line, 1)) < 0 || line != IRQ_LINE_VALUE)
		note(h, C_KEPT, r, "interrupt line %#x (%s), written %#x", line, e < 0 ? strerror(-e) : "read",
		     IRQ_LINE_VALUE);
}

/* The proxy's fds and mappings, as they were before the first hand-over. */
static void counts_round(struct ho *h, unsigned int r)
{
	pid_t pid = h->x->proxy_pid;
	int fds = proc_fd_count(pid), maps = file_maps(pid);

	if (fds != h->fds0)
		note(h, C_FDS, r, "pid %d has %d fds, pid %d had %d before the first", (int)pid, fds, (int)h->pids[0],
		     h->fds0);
	if (maps != h->maps0)
		note(h, C_MAPS, r, "pid %d has %d mappings (of files, memfds, devices), pid %d had %d before the first",
		     (int)pid, maps, (int)h->pids[0], h->maps0);
}

static int check_handover_setup(struct ctx *x, char *why, size_t len)
{
	struct ho *h = &H;
	uint8_t line = IRQ_LINE_VALUE;
	int r;

	if (!x->c)
		FAIL("not connected");
	if (x->proxy_pid <= 0)
		FAIL("no --proxy-pid");
	h->log.fd = open(x->proxy_log, O_RDONLY | O_CLOEXEC);
	if (h->log.fd < 0)
		FAIL("%s: %s", x->proxy_log, strerror(errno));
	plog_scan(&h->log);
	h->pids[0] = x->proxy_pid;
	h->confined0 = confined(x->proxy_pid);
	MUST(vm_set_command(x->c, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0));
	x->bus_master = true;
	h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->efd < 0)
		FAIL("eventfd: %s", strerror(errno));
	h->mfd = memfd_window(DMA_SIZE, &h->mem);
	if (h->mfd < 0)
		FAIL("memfd: %s", strerror(-h->mfd));
	r = vuc_dma_map_fd(x->c, DMA_IOVA, DMA_SIZE, h->mfd, 0, RW);
	if (r < 0)
		FAIL("DMA_MAP of a 1 MiB memfd at %#llx: %s", DMA_IOVA, strerror(-r));
	h->mapped = true;
	MUST(vuc_config_write(x->c, CFG_IRQ_LINE, &line, 1));
	r = x->kind == KIND_NVME ? nvme_setup(h, why, len) : edu_setup(h, why, len);
	if (r)
		return r;
	h->fds0 = proc_fd_count(x->proxy_pid);
	h->maps0 = file_maps(x->proxy_pid);
	if (h->fds0 < 0 || h->maps0 < 0)
		FAIL("counting /proc/%d/fd and maps: %s", (int)x->proxy_pid,
		     strerror(-(h->fds0 < 0 ? h->fds0 : h->maps0)));
	return 0;
}

/* The register read back to back while handing over: edu's id, nvme's version. */
static bool probe_ok(const struct ctx *x, uint32_t v)
{
	return x->kind == KIND_NVME ? v >> 16 == 1 : v == EDU_ID_VALUE;
}

/*
 * One hand-over: SIGHUP, then REGION_READs back to back until the log announces the successor and 20
 * more were answered; *gap gets the longest time between two answers (from the SIGHUP on). 0, or -1
 * with the reason noted (the proxy's own line when it said it would not, or could not, hand over).
 */
static int hand_over(struct ho *h, unsigned int r, uint64_t *gap)
{
	struct ctx *x = h->x;
	unsigned int served = h->log.served, failed = h->log.failed, after = 0;
	uint64_t t0 = vm_now_ns(), prev = t0, worst = 0;
	uint64_t deadline = t0 + OUTCOME_MS * 1000000ull;
	uint32_t off = x->kind == KIND_NVME ? NVME_REG_VS : EDU_REG_ID;

	if (kill(x->proxy_pid, SIGHUP)) {
		note(h, C_COUNT, r, "kill(%d, SIGHUP): %s", (int)x->proxy_pid, strerror(errno));
		return -1;
	}
	for (;;) {
		uint32_t v = 0;
		int e = vuc_read32(x->c, BAR0, off, &v);
		uint64_t t = vm_now_ns();

		if (e < 0 || !probe_ok(x, v)) {
			note(h, C_COUNT, r, "REGION_READ %.1f ms after SIGHUP: %s (value %#x)", (t - t0) / 1e6,
			     e < 0 ? strerror(-e) : "wrong value", v);
			return -1;
		}
		if (t - prev > worst)
			worst = t - prev;
		prev = t;
		plog_scan(&h->log);
		if (h->log.failed != failed) {
			note(h, C_COUNT, r, "the proxy answered SIGHUP with: %s", h->log.failed_line);
			return -1;
		}
		if (h->log.served != served && ++after >= AFTER_READS)
			break;
		if (t > deadline) {
			note(h, C_COUNT, r, "no 'hand-over: serving as pid' in %s within %d ms of SIGHUP", x->proxy_log,
			     OUTCOME_MS);
			return -1;
		}
	}
	if (h->log.served != served + 1) {
		note(h, C_COUNT, r, "%u successors announced for one SIGHUP", h->log.served - served);
		return -1;
	}
	*gap = worst;
	return 0;
}

/* Confined: a new pid, confined again, the predecessor exited through the successful path. */
static void follow(struct ho *h, unsigned int r)
{
	pid_t old = h->x->proxy_pid, now = h->log.served_pid;
	long deadline = vm_now_ms() + GONE_MS;

	h->x->proxy_pid = now;
	h->pids[r] = now;
	if (!h->confined0) {
		if (now != old)
			note(h, C_PIDS, r, "unconfined: the successor is pid %d, not %d (exec in place)", (int)now, (int)old);
		return;
	}
	if (now == old || now <= 0) {
		note(h, C_PIDS, r, "confined: the successor announced pid %d, the predecessor's was %d", (int)now, (int)old);
		return;
	}
	if (!confined(now))
		note(h, C_PIDS, r, "the successor pid %d is not in its seccomp filter", (int)now);
	while ((!exited(old) || h->log.exit_pid != old) && vm_now_ms() < deadline) {
		usleep(2000);
		plog_scan(&h->log);
	}
	if (!exited(old))
		note(h, C_PIDS, r, "the predecessor pid %d still runs %d ms after pid %d took over", (int)old, GONE_MS,
		     (int)now);
	else if (h->log.exit_pid != old)
		note(h, C_PIDS, r, "pid %d exited without 'the successor serves; pid %d exits' in the log", (int)old,
		     (int)old);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Interrupts off, the controller stopped, the window unmapped; the same IOVA maps and unmaps again. */
static int check_handover_end(struct ctx *x, char *why, size_t len)
{
	struct ho *h = &H;
	int e;

	if (!x->c)
		FAIL("not connected");
	if (h->nvme_on) {
		MUST(vuc_write32(x->c, BAR0, NVME_CC, 0));
		h->nvme_on = false;
		if ((e = nvme_wait_ready(h, false)) < 0)
			FAIL("disabling the controller: %s", strerror(-e));
	}
	if (h->irqs) {
		h->irqs = false;
		MUST(vm_irqs_off(x->c, x->kind == KIND_NVME ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_MSI_IRQ_INDEX));
	}
	if (!h->mapped)
		FAIL("the window was never mapped");
	h->mapped = false;
	e = vuc_dma_unmap(x->c, DMA_IOVA, DMA_SIZE, 0);
	if (e < 0)
		FAIL("DMA_UNMAP of the window mapped before %u hand-overs: %s", h->done, strerror(-e));
	e = vuc_dma_map_fd(x->c, DMA_IOVA, DMA_SIZE, h->mfd, 0, RW);
	if (e < 0)
		FAIL("DMA_MAP of the same iova again: %s", strerror(-e));
	e = vuc_dma_unmap(x->c, DMA_IOVA, DMA_SIZE, 0);
	if (e < 0)
		FAIL("DMA_UNMAP after mapping again: %s", strerror(-e));
	if (h->done < HANDOVERS)
		FAIL("only %u of %u hand-overs happened", h->done, HANDOVERS);
	return 0;
}

/*
 * Whether the session ends cleanly: the client lets go of all it holds (the connection, and the device fd
 * and mapping of an mmappable BAR0, without which an export stops), and the successor serves the next.
 */
static int check_handover_next_client(struct ctx *x, char *why, size_t len)
{
	struct vuc *c;
	uint32_t v = 0;
	int e;

	if (!x->c)
		FAIL("not connected");
	end_session(x);
	e = vm_client(x->socket, REPLY_MS, &c);
	if (e < 0)
		FAIL("a new client after the session of the hand-overs: %s", strerror(-e));
	e = vuc_read32(c, BAR0, x->kind == KIND_NVME ? NVME_REG_VS : EDU_REG_ID, &v);
	vuc_close(c);
	if (e < 0 || !probe_ok(x, v))
		FAIL("the new client's REGION_READ: %s (value %#x)", e < 0 ? strerror(-e) : "wrong value", v);
	return 0;
}

void run_handover(struct ctx *x)
{
	struct ho *h = &H;
	char why[512] = "";
	int r;

	memset(h, 0, sizeof(*h));
	h->x = x;
	h->log.fd = h->mfd = h->efd = -1;
	r = check_handover_setup(x, why, sizeof(why));
	vm_verdict(x->label, "handover-setup", r == 0, "%s", why);
	if (r == 0) {
		device_round(h, 0); /* the checks hold before any hand-over */
		for (unsigned int i = 1; i <= HANDOVERS; i++) {
			if (hand_over(h, i, &h->gap[h->done]))
				break;
			h->done++;
			follow(h, i);
			device_round(h, i);
			counts_round(h, i);
		}
		if (h->done) {
			uint64_t g[HANDOVERS];

			memcpy(g, h->gap, h->done * sizeof(g[0]));
			qsort(g, h->done, sizeof(g[0]), cmp_u64);
			printf("MEASURE %s.handover-unavailable median %llu ns (min %llu, max %llu, %u hand-overs)\n",
			       x->label, (unsigned long long)g[h->done / 2], (unsigned long long)g[0],
			       (unsigned long long)g[h->done - 1], h->done);
			printf("INFO %s hand-over: pids %d .. %d (%s), fds %d, mappings of files %d before the first\n", x->label,
			       (int)h->pids[0], (int)h->pids[h->done], h->confined0 ? "confined" : "unconfined", h->fds0,
			       h->maps0);
		}
	}
	for (int i = 0; i < NCHECKS; i++) {
		if (r != 0)
			vm_verdict(x->label, check_names[i], false, "not run: the set-up failed");
		else if (h->failed[i])
			vm_verdict(x->label, check_names[i], false, "%s", h->why[i]);
		else if (i != C_COUNT && h->done < HANDOVERS)
			vm_verdict(x->label, check_names[i], false, "checked over %u of %u hand-overs only", h->done,
				   HANDOVERS);
		else
			vm_verdict(x->label, check_names[i], true, "%s", "");
	}
	run(x, "handover-end", check_handover_end);
	run(x, "handover-next-client", check_handover_next_client);
	if (h->mem)
		munmap(h->mem, DMA_SIZE);
	if (h->mfd >= 0)
		close(h->mfd);
	if (h->efd >= 0)
		close(h->efd);
	if (h->log.fd >= 0)
		close(h->log.fd);
	h->mem = NULL;
}
