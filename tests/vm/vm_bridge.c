/* vm_bridge.c: the guest bench's client for the bridge module's instances behind export: what vm-checks does not cover (MSI-X, INTx, the RAM BAR's mmap), a client held open until the server closes it, and each injected fault seen as a real device shows it; one PASS/FAIL line each. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define RW (VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)
#define IOVA 0x100000ull
#define WINDOW (1u << 20)

static bool verdict(const char *label, const char *name, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool verdict(const char *label, const char *name, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("PASS %s.%s\n", label, name);
		return true;
	}
	printf("FAIL %s.%s: ", label, name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return false;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int client(const char *sock, struct vuc **c)
{
	struct vuc_server_caps caps;
	int r = vuc_connect(sock, c);

	if (r < 0)
		return r;
	vuc_set_timeout(*c, 15000);
	r = vuc_negotiate(*c, &caps);
	if (r < 0)
		vuc_close(*c);
	return r;
}

/* Arms the fault: the command line in `inject` (`vfio-user-proxy bridge inject NAME FAULT ...`). */
static bool inject(const char *cmd)
{
	return cmd && system(cmd) == 0;
}

/* One DMA from guest memory into the device's buffer; the command register once the engine stopped. */
static int run_dma(struct vuc *c, uint64_t *cmd)
{
	long end = now_ms() + 5000;
	int r;

	if ((r = vuc_write64(c, BAR0, EDU_REG_DMA_SRC, IOVA)) || (r = vuc_write64(c, BAR0, EDU_REG_DMA_DST, EDU_DMA_BUF_ADDR)) ||
	    (r = vuc_write64(c, BAR0, EDU_REG_DMA_COUNT, 64)) || (r = vuc_write64(c, BAR0, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN)))
		return r;
	do {
		r = vuc_read64(c, BAR0, EDU_REG_DMA_CMD, cmd);
		if (r || !(*cmd & EDU_DMA_CMD_RUN))
			return r;
		usleep(1000);
	} while (now_ms() < end);
	return -ETIMEDOUT;
}

/* dma-fail: the armed DMA stops with the error bit, as one an IOMMU refused; the next one works. */
static bool fault_dma(struct vuc *c, const char *label, const char *cmd)
{
	int mem = memfd_create("guest-ram", MFD_CLOEXEC);
	uint64_t first = 0, second = 0;
	uint16_t command = 0;
	int r;

	if (mem < 0 || ftruncate(mem, WINDOW) || (r = vuc_dma_map_fd(c, IOVA, WINDOW, mem, 0, RW)))
		return verdict(label, "dma-fail", false, "cannot map a DMA window: %s", strerror(errno));
	/* a device DMAs only as a bus master (PCI_COMMAND bit 2) */
	if ((r = vuc_config_read(c, 0x04, &command, 2)) == 0) {
		command |= 0x4;
		r = vuc_config_write(c, 0x04, &command, 2);
	}
	if (r)
		return verdict(label, "dma-fail", false, "cannot turn on bus mastering: %s", strerror(-r));
	if (!inject(cmd))
		return verdict(label, "dma-fail", false, "'%s' failed", cmd);
	r = run_dma(c, &first);
	if (!r)
		r = run_dma(c, &second);
	close(mem);
	return verdict(label, "dma-fail", !r && (first & EDU_DMA_CMD_ERROR) && !(second & EDU_DMA_CMD_ERROR),
		       "DMA command after the fault %#llx (want the error bit %#x), after it %#llx (want none): %s",
		       (unsigned long long)first, EDU_DMA_CMD_ERROR, (unsigned long long)second, strerror(-r));
}

/* err-irq: the ERR eventfd fires. */
static bool fault_err(struct vuc *c, const char *label, const char *cmd)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t n = 0;
	int r = vuc_set_irqs(c, VFIO_PCI_ERR_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1,
			     &efd, NULL);

	if (r)
		return verdict(label, "err-irq", false, "SET_IRQS on the ERR index: %s", strerror(-r));
	if (!inject(cmd))
		return verdict(label, "err-irq", false, "'%s' failed", cmd);
	r = poll(&p, 1, 5000);
	if (r == 1 && read(efd, &n, sizeof(n)) != sizeof(n))
		n = 0;
	close(efd);
	return verdict(label, "err-irq", n >= 1, "the ERR eventfd did not fire within 5 s");
}

/* stall-reads: a BAR read takes at least the stall, and still reads the right value. */
static bool fault_stall(struct vuc *c, const char *label, const char *cmd, long ms)
{
	uint32_t id = 0;
	long t0, took;
	int r;

	if (!inject(cmd))
		return verdict(label, "stall-reads", false, "'%s' failed", cmd);
	t0 = now_ms();
	r = vuc_read32(c, BAR0, EDU_REG_ID, &id);
	took = now_ms() - t0;
	printf("MEASURE %s.stalled-read %ld ms (stall %ld ms)\n", label, took, ms);
	return verdict(label, "stall-reads", !r && id == EDU_ID_VALUE && took >= ms,
		       "read %#x (%s) in %ld ms; want %#x after at least %ld ms", id, strerror(-r), took,
		       EDU_ID_VALUE, ms);
}

/* 1 when efd fires within ms, 0 when it stays quiet. */
static int fired(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t n;

	return poll(&p, 1, ms) == 1 && read(efd, &n, sizeof(n)) == sizeof(n);
}

static int set_eventfds(struct vuc *c, uint32_t index, uint32_t count, const int *fds)
{
	return vuc_set_irqs(c, index, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, count, fds, NULL);
}

/* MSI-X: each vector's interrupt reaches its own eventfd, and no other. */
static bool check_msix(struct vuc *c, const char *label)
{
	int efd[EDU_MSIX_VECTORS], r, bad = -1;
	struct vfio_user_irq_info info;
	uint32_t n;

	r = vuc_irq_info(c, VFIO_PCI_MSIX_IRQ_INDEX, &info);
	if (r || info.count < 1 || info.count > EDU_MSIX_VECTORS)
		return verdict(label, "msix", false, "MSI-X IRQ info: %s, %u vectors", strerror(-r), info.count);
	n = info.count;
	for (uint32_t i = 0; i < n; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r = set_eventfds(c, VFIO_PCI_MSIX_IRQ_INDEX, n, efd);
	for (uint32_t v = 0; !r && v < n && bad < 0; v++) {
		if ((r = vuc_write32(c, BAR0, EDU_REG_IRQ_VECTOR, v)) || (r = vuc_write32(c, BAR0, EDU_REG_IRQ_RAISE, 1)))
			break;
		if (!fired(efd[v], 3000))
			bad = (int)v;
		for (uint32_t o = 0; o < n && bad < 0; o++)
			if (o != v && fired(efd[o], 0))
				bad = (int)o;
		r = vuc_write32(c, BAR0, EDU_REG_IRQ_ACK, 1);
	}
	if (!r)
		r = vuc_set_irqs(c, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0,
				 NULL, NULL);
	for (uint32_t i = 0; i < n; i++)
		close(efd[i]);
	return verdict(label, "msix", !r && bad < 0, "%u vectors: %s; vector %d misdelivered", n, strerror(-r), bad);
}

/* INTx: fires, is masked by the kernel until unmasked, fires again while still asserted. */
static bool check_intx(struct vuc *c, const char *label)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), r, first = 0, masked = 1, again = 0;

	r = set_eventfds(c, VFIO_PCI_INTX_IRQ_INDEX, 1, &efd);
	if (!r && !(r = vuc_write32(c, BAR0, EDU_REG_IRQ_RAISE, 1)))
		first = fired(efd, 3000);
	if (!r && !(r = vuc_write32(c, BAR0, EDU_REG_IRQ_RAISE, 2)))
		masked = fired(efd, 200);
	if (!r && !(r = vuc_set_irqs(c, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
				     0, 1, NULL, NULL)))
		again = fired(efd, 3000);
	if (!r)
		r = vuc_write32(c, BAR0, EDU_REG_IRQ_ACK, 3);
	if (!r)
		r = vuc_set_irqs(c, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0,
				 NULL, NULL);
	close(efd);
	return verdict(label, "intx", !r && first && !masked && again,
		       "%s; fired %d, while masked %d (want 0), after unmask %d", strerror(-r), first, masked, again);
}

/* The RAM BAR: its sparse area mmapped from the fd the reply carried, the same bytes as REGION_READ/WRITE. */
static bool check_ram_mmap(struct vuc *c, const char *label)
{
	struct vfio_user_region_info info;
	uint8_t caps[256], byte = 0;
	uint32_t word = 0;
	size_t caps_len = 0;
	uint8_t *map;
	int fd = -1, r;

	r = vuc_region_info(c, VFIO_PCI_BAR4_REGION_INDEX, &info, caps, sizeof(caps), &caps_len, &fd);
	if (r || fd < 0 || !(info.flags & VFIO_REGION_INFO_FLAG_MMAP) || info.size != EDU_BAR_RAM_SIZE)
		return verdict(label, "ram-bar-mmap", false, "BAR4 info: %s, flags %#x, size %#llx, fd %d", strerror(-r),
			       info.flags, (unsigned long long)info.size, fd);
	/* the first page is in the sparse areas (emulated.c's layout: only a page in the middle is trapped) */
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)info.offset);
	close(fd);
	if (map == MAP_FAILED)
		return verdict(label, "ram-bar-mmap", false, "mmap of BAR4's first page: %s", strerror(errno));
	map[100] = 0x5a;
	r = vuc_region_read(c, VFIO_PCI_BAR4_REGION_INDEX, 100, &byte, 1);
	if (!r)
		r = vuc_write32(c, VFIO_PCI_BAR4_REGION_INDEX, 200, 0xfeedc0deu);
	if (!r)
		memcpy(&word, map + 200, 4);
	munmap(map, 4096);
	return verdict(label, "ram-bar-mmap", !r && byte == 0x5a && word == 0xfeedc0deu,
		       "%s; REGION_READ of a byte written through the mapping %#x (want 0x5a), the mapping after a "
		       "REGION_WRITE %#x (want 0xfeedc0de)",
		       strerror(-r), byte, word);
}

/* The client stays connected until the server closes the socket (an export letting go of a removed device). */
static bool wait_closed(struct vuc *c, const char *label, int seconds)
{
	long t0 = now_ms();
	int r;

	printf("INFO %s: connected, waiting for the server to close\n", label);
	fflush(stdout);
	r = vuc_wait_closed(c, seconds * 1000);
	printf("INFO %s: closed by the server after %ld ms\n", label, now_ms() - t0);
	return r == 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },    { "label", required_argument, NULL, 'l' },
		{ "wait-closed", required_argument, NULL, 'w' }, { "bridge-fault", required_argument, NULL, 'f' },
		{ "inject", required_argument, NULL, 'i' },    { "stall-ms", required_argument, NULL, 'm' },
		{ "device-checks", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *label = "bridge", *fault = NULL, *cmd = NULL;
	int c, wait_s = 0;
	bool device = false;
	long stall = 0;
	struct vuc *vc;
	bool ok;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'l': label = optarg; break;
		case 'w': wait_s = atoi(optarg); break;
		case 'f': fault = optarg; break;
		case 'i': cmd = optarg; break;
		case 'm': stall = atol(optarg); break;
		case 'd': device = true; break;
		default:
			return 2;
		}
	}
	if (!sock || (!!wait_s + !!fault + device) != 1) {
		fprintf(stderr, "usage: vm-bridge --socket PATH [--label L] (--device-checks | --wait-closed SECONDS | "
				"--bridge-fault dma-fail|err-irq|stall-reads --inject CMD [--stall-ms N])\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	c = client(sock, &vc);
	if (c < 0) {
		printf("FAIL %s.connect: %s\n", label, strerror(-c));
		return 1;
	}
	if (device) {
		uint16_t command = 0;

		/* bus master (MSI-X is a memory write); INTx enabled */
		if (vuc_config_read(vc, 0x04, &command, 2) == 0) {
			command = (uint16_t)((command | 0x4) & ~0x400);
			vuc_config_write(vc, 0x04, &command, 2);
		}
		ok = check_msix(vc, label);
		ok &= check_intx(vc, label);
		ok &= check_ram_mmap(vc, label);
	} else if (wait_s)
		ok = wait_closed(vc, label, wait_s);
	else if (strcmp(fault, "dma-fail") == 0)
		ok = fault_dma(vc, label, cmd);
	else if (strcmp(fault, "err-irq") == 0)
		ok = fault_err(vc, label, cmd);
	else if (strcmp(fault, "stall-reads") == 0)
		ok = fault_stall(vc, label, cmd, stall);
	else
		ok = verdict(label, fault, false, "no such fault mode");
	vuc_close(vc);
	return ok ? 0 : 1;
}
