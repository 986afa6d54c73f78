/* vm_bridge.c: the guest bench's client for the bridge module's instances behind export: what vm-checks does not cover (MSI-X, INTx, the RAM BAR's mmap), a client held open until the server closes it, and each injected fault seen as a real device shows it; one PASS/FAIL line each. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "edu_model.h"
#include "vm_common.h"

#define IOVA 0x100000ull
#define PCI_COMMAND_MASTER 0x4u
#define PCI_COMMAND_INTX_DISABLE 0x400u
#define WINDOW (1u << 20)

/* Arms the fault: the command line in `inject` (`vfio-user-proxy bridge inject NAME FAULT ...`). */
static bool inject(const char *cmd)
{
	return cmd && system(cmd) == 0;
}

/* One DMA of 64 bytes from guest memory into the device's buffer; the command register once the engine stopped. */
static int run_dma(struct vuc *c, uint64_t *cmd)
{
	return vm_edu_dma(c, IOVA, EDU_DMA_BUF_ADDR, 64, 0, 5000, cmd);
}

/* dma-fail: the armed DMA stops with the error bit, as one an IOMMU refused; the next one works. */
static bool fault_dma(struct vuc *c, const char *label, const char *cmd)
{
	int mem = vm_memfd("guest-ram", WINDOW);
	uint64_t first = 0, second = 0;
	int r;

	if (mem < 0 || (r = vuc_dma_map_fd(c, IOVA, WINDOW, mem, 0, RW)))
		return vm_verdict(label, "dma-fail", false, "cannot map a DMA window: %s", strerror(errno));
	/* a device DMAs only as a bus master */
	if ((r = vm_set_command(c, PCI_COMMAND_MASTER, 0)))
		return vm_verdict(label, "dma-fail", false, "cannot turn on bus mastering: %s", strerror(-r));
	if (!inject(cmd))
		return vm_verdict(label, "dma-fail", false, "'%s' failed", cmd);
	r = run_dma(c, &first);
	if (!r)
		r = run_dma(c, &second);
	close(mem);
	return vm_verdict(label, "dma-fail", !r && (first & EDU_DMA_CMD_ERROR) && !(second & EDU_DMA_CMD_ERROR),
		          "DMA command after the fault %#llx (want the error bit %#x), after it %#llx (want none): %s",
		          (unsigned long long)first, EDU_DMA_CMD_ERROR, (unsigned long long)second, strerror(-r));
}

/* err-irq: the ERR eventfd fires. */
static bool fault_err(struct vuc *c, const char *label, const char *cmd)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int r = vm_set_eventfds(c, VFIO_PCI_ERR_IRQ_INDEX, 1, &efd);
	long n;

	if (r)
		return vm_verdict(label, "err-irq", false, "SET_IRQS on the ERR index: %s", strerror(-r));
	if (!inject(cmd))
		return vm_verdict(label, "err-irq", false, "'%s' failed", cmd);
	n = eventfd_wait(efd, 5000);
	close(efd);
	return vm_verdict(label, "err-irq", n >= 1, "the ERR eventfd did not fire within 5 s");
}

/* stall-reads: a BAR read takes at least the stall, and still reads the right value. */
static bool fault_stall(struct vuc *c, const char *label, const char *cmd, long ms)
{
	uint32_t id = 0;
	long t0, took;
	int r;

	if (!inject(cmd))
		return vm_verdict(label, "stall-reads", false, "'%s' failed", cmd);
	t0 = vm_now_ms();
	r = vuc_read32(c, BAR0, EDU_REG_ID, &id);
	took = vm_now_ms() - t0;
	printf("MEASURE %s.stalled-read %ld ms (stall %ld ms)\n", label, took, ms);
	return vm_verdict(label, "stall-reads", !r && id == EDU_ID_VALUE && took >= ms,
		          "read %#x (%s) in %ld ms; want %#x after at least %ld ms", id, strerror(-r), took,
		          EDU_ID_VALUE, ms);
}

/* MSI-X: each vector's interrupt reaches its own eventfd, and no other. */
static bool check_msix(struct vuc *c, const char *label)
{
	int efd[EDU_MSIX_VECTORS], r, bad = -1;
	struct vfio_user_irq_info info;
	uint32_t n;

	r = vuc_irq_info(c, VFIO_PCI_MSIX_IRQ_INDEX, &info);
	if (r || info.count < 1 || info.count > EDU_MSIX_VECTORS)
		return vm_verdict(label, "msix", false, "MSI-X IRQ info: %s, %u vectors", strerror(-r), info.count);
	n = info.count;
	for (uint32_t i = 0; i < n; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r = vm_set_eventfds(c, VFIO_PCI_MSIX_IRQ_INDEX, n, efd);
	for (uint32_t v = 0; !r && v < n && bad < 0; v++) {
		if ((r = vuc_write32(c, BAR0, EDU_REG_IRQ_VECTOR, v)) || (r = vuc_write32(c, BAR0, EDU_REG_IRQ_RAISE, 1)))
			break;
		if (eventfd_wait(efd[v], 3000) <= 0)
			bad = (int)v;
		for (uint32_t o = 0; o < n && bad < 0; o++)
			if (o != v && eventfd_wait(efd[o], 0) > 0)
				bad = (int)o;
		r = vuc_write32(c, BAR0, EDU_REG_IRQ_ACK, 1);
	}
	if (!r)
		r = vm_irqs_off(c, VFIO_PCI_MSIX_IRQ_INDEX);
	for (uint32_t i = 0; i < n; i++)
		close(efd[i]);
	return vm_verdict(label, "msix", !r && bad < 0, "%u vectors: %s; vector %d misdelivered", n, strerror(-r), bad);
}

/* INTx: fires, is masked by the kernel until unmasked, fires again while still asserted. */
static bool check_intx(struct vuc *c, const char *label)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), r, first = 0, masked = 1, again = 0;

	r = vm_set_eventfds(c, VFIO_PCI_INTX_IRQ_INDEX, 1, &efd);
	if (!r && !(r = vuc_write32(c, BAR0, EDU_REG_IRQ_RAISE, 1)))
		first = eventfd_wait(efd, 3000) > 0;
	if (!r && !(r = vuc_write32(c, BAR0, EDU_REG_IRQ_RAISE, 2)))
		masked = eventfd_wait(efd, 200) > 0;
	if (!r && !(r = vuc_set_irqs(c, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
				     0, 1, NULL, NULL)))
		again = eventfd_wait(efd, 3000) > 0;
	if (!r)
		r = vuc_write32(c, BAR0, EDU_REG_IRQ_ACK, 3);
	if (!r)
		r = vm_irqs_off(c, VFIO_PCI_INTX_IRQ_INDEX);
	close(efd);
	return vm_verdict(label, "intx", !r && first && !masked && again,
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
		return vm_verdict(label, "ram-bar-mmap", false, "BAR4 info: %s, flags %#x, size %#llx, fd %d", strerror(-r),
			          info.flags, (unsigned long long)info.size, fd);
	/* the first page is in the sparse areas (emulated.c's layout: only a page in the middle is trapped) */
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)info.offset);
	close(fd);
	if (map == MAP_FAILED)
		return vm_verdict(label, "ram-bar-mmap", false, "mmap of BAR4's first page: %s", strerror(errno));
	map[100] = 0x5a;
	r = vuc_region_read(c, VFIO_PCI_BAR4_REGION_INDEX, 100, &byte, 1);
	if (!r)
		r = vuc_write32(c, VFIO_PCI_BAR4_REGION_INDEX, 200, 0xfeedc0deu);
	if (!r)
		memcpy(&word, map + 200, 4);
	munmap(map, 4096);
	return vm_verdict(label, "ram-bar-mmap", !r && byte == 0x5a && word == 0xfeedc0deu,
		          "%s; REGION_READ of a byte written through the mapping %#x (want 0x5a), the mapping after a "
		          "REGION_WRITE %#x (want 0xfeedc0de)",
		          strerror(-r), byte, word);
}

/* The client stays connected until the server closes the socket (an export letting go of a removed device). */
static bool wait_closed(struct vuc *c, const char *label, int seconds)
{
	long t0 = vm_now_ms();
	int r;

	printf("INFO %s: connected, waiting for the server to close\n", label);
	fflush(stdout);
	r = vuc_wait_closed(c, seconds * 1000);
	printf("INFO %s: closed by the server after %ld ms\n", label, vm_now_ms() - t0);
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
	c = vm_client(sock, 15000, &vc);
	if (c < 0) {
		vm_verdict(label, "connect", false, "%s", strerror(-c));
		return 1;
	}
	if (device) {
		/* bus master (MSI-X is a memory write); INTx enabled */
		vm_set_command(vc, PCI_COMMAND_MASTER, PCI_COMMAND_INTX_DISABLE);
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
		ok = vm_verdict(label, fault, false, "no such fault mode");
	vuc_close(vc);
	return ok ? 0 : 1;
}
