/* test_irq_dma.c: interrupts (INTx, MSI, MSI-X) on the client's eventfds and the DMA engine through both kinds of window, against the real proxy process. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/harness.h"
#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define IOVA 0x100000ull
#define WIN_SIZE 0x100000ull


static void set_command(struct vuc *c, uint16_t bits)
{
	uint16_t cmd;

	assert_int_equal(vuc_config_read(c, 4, &cmd, 2), 0);
	cmd |= bits;
	assert_int_equal(vuc_config_write(c, 4, &cmd, 2), 0);
}

static void test_msi(void **state)
{
	struct proxy_fixture *f = *state;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	set_command(f->c, 0x4); /* bus master: MSI is a memory write */
	assert_int_equal(vuc_set_irqs(f->c, VFIO_PCI_MSI_IRQ_INDEX,
				      VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, &efd, NULL),
			 0);
	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_IRQ_RAISE, 0x40), 0);
	assert_int_equal(eventfd_wait(efd, 2000), 1);
	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_IRQ_ACK, 0x40), 0);
	/* factorial completion interrupt */
	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_STATUS, EDU_STATUS_IRQ_FACT), 0);
	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_FACT, 5), 0);
	assert_int_equal(eventfd_wait(efd, 2000), 1);
	/* INTx cannot be enabled while MSI is */
	assert_int_equal(vuc_set_irqs(f->c, VFIO_PCI_INTX_IRQ_INDEX,
				      VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, &efd, NULL),
			 -EINVAL);
	/* loopback trigger by the client */
	assert_int_equal(vuc_set_irqs(f->c, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
				      0, 1, NULL, NULL),
			 0);
	assert_int_equal(eventfd_wait(efd, 2000), 1);
	/* disabled: raising no longer signals */
	assert_int_equal(vuc_set_irqs(f->c, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
				      0, 0, NULL, NULL),
			 0);
	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_IRQ_RAISE, 0x40), 0);
	assert_int_equal(eventfd_wait(efd, 100), 0);
	close(efd);
}

static void test_msix_vectors(void **state)
{
	struct proxy_fixture *f = *state;
	int efd[EDU_MSIX_VECTORS];

	for (unsigned int i = 0; i < EDU_MSIX_VECTORS; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	set_command(f->c, 0x4);
	assert_int_equal(vuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX,
				      VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, EDU_MSIX_VECTORS,
				      efd, NULL),
			 0);
	for (unsigned int v = 0; v < EDU_MSIX_VECTORS; v++) {
		assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_IRQ_VECTOR, v), 0);
		assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_IRQ_RAISE, 1), 0);
		assert_int_equal(eventfd_wait(efd[v], 2000), 1);
		for (unsigned int o = 0; o < EDU_MSIX_VECTORS; o++)
			if (o != v)
				assert_int_equal(eventfd_wait(efd[o], 0), 0);
		assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_IRQ_ACK, 1), 0);
	}
	/* de-assign vector 2 (no fds, as QEMU sends it): its interrupt becomes pending in the PBA */
	assert_int_equal(vuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX,
				      VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 2, 1, NULL, NULL),
			 0);
	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_IRQ_VECTOR, 2), 0);
	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_IRQ_RAISE, 1), 0);
	assert_int_equal(eventfd_wait(efd[2], 100), 0);
	{
		uint64_t pba;

		assert_int_equal(vuc_read64(f->c, VFIO_PCI_BAR2_REGION_INDEX, EDU_MSIX_PBA_OFFSET, &pba), 0);
		assert_true(pba & (1u << 2));
	}
	/* MSI-X vectors are not maskable through SET_IRQS (the VMM masks them in its table) */
	assert_int_equal(vuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
				      0, 1, NULL, NULL),
			 -EINVAL);
	/* start + count past the vectors */
	assert_int_equal(vuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX,
				      VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 7, 2, NULL, NULL),
			 -EINVAL);
	for (unsigned int i = 0; i < EDU_MSIX_VECTORS; i++)
		close(efd[i]);
}

static void test_intx(void **state)
{
	struct proxy_fixture *f = *state;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_int_equal(vuc_set_irqs(f->c, VFIO_PCI_INTX_IRQ_INDEX,
				      VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, &efd, NULL),
			 0);
	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_IRQ_RAISE, 1), 0);
	assert_int_equal(eventfd_wait(efd, 2000), 1);
	/* automasked: a second raise while masked does not signal */
	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_IRQ_RAISE, 2), 0);
	assert_int_equal(eventfd_wait(efd, 100), 0);
	/* unmask while still asserted: fires again */
	assert_int_equal(vuc_set_irqs(f->c, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
				      0, 1, NULL, NULL),
			 0);
	assert_int_equal(eventfd_wait(efd, 2000), 1);
	/* acknowledged (line low), unmasked: quiet until the next raise */
	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_IRQ_ACK, 3), 0);
	assert_int_equal(vuc_set_irqs(f->c, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_UNMASK,
				      0, 1, NULL, (const uint8_t[]){ 1 }),
			 0);
	assert_int_equal(eventfd_wait(efd, 100), 0);
	/* INTx disabled in the command register: nothing */
	set_command(f->c, 0x400);
	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_IRQ_RAISE, 1), 0);
	assert_int_equal(eventfd_wait(efd, 100), 0);
	close(efd);
}

/* Runs one edu DMA transfer and waits for it; returns the final command register. */
static uint64_t run_dma(struct vuc *c, uint64_t src, uint64_t dst, uint64_t count, uint64_t cmd)
{
	uint64_t v = 0;

	assert_int_equal(edu_run_dma(c, src, dst, count, cmd, &v), 0);
	return v;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* RAM -> device -> RAM round trip of 4 KiB through whatever window covers IOVA. */
static void dma_round_trip(struct vuc *c, uint8_t *mem, int efd)
{
	uint8_t devbuf[EDU_DMA_BUF_SIZE];

	fill(mem, EDU_DMA_BUF_SIZE, 7);
	memset(mem + 0x10000, 0, EDU_DMA_BUF_SIZE);
	assert_int_equal(run_dma(c, IOVA, EDU_DMA_BUF_ADDR, EDU_DMA_BUF_SIZE, EDU_DMA_CMD_IRQ) & EDU_DMA_CMD_ERROR, 0);
	assert_int_equal(eventfd_wait(efd, 2000), 1);
	assert_int_equal(vuc_write32(c, BAR0, EDU_REG_IRQ_ACK, EDU_IRQ_DMA), 0);
	assert_int_equal(vuc_region_read(c, BAR0, EDU_DMA_BUF_ADDR, devbuf, sizeof(devbuf)), 0);
	assert_memory_equal(devbuf, mem, sizeof(devbuf));
	assert_int_equal(run_dma(c, EDU_DMA_BUF_ADDR, IOVA + 0x10000, EDU_DMA_BUF_SIZE, EDU_DMA_CMD_TO_RAM) &
				 EDU_DMA_CMD_ERROR,
			 0);
	assert_memory_equal(mem + 0x10000, mem, EDU_DMA_BUF_SIZE);
	/* a partial, unaligned transfer lands exactly where asked */
	memset(mem + 0x20000, 0xaa, 64);
	assert_int_equal(run_dma(c, EDU_DMA_BUF_ADDR + 3, IOVA + 0x20000 + 5, 17, EDU_DMA_CMD_TO_RAM) &
				 EDU_DMA_CMD_ERROR,
			 0);
	assert_memory_equal(mem + 0x20000 + 5, mem + 3, 17);
	assert_int_equal(mem[0x20000 + 4], 0xaa);
	assert_int_equal(mem[0x20000 + 22], 0xaa);
}

static void test_dma_fd_window(void **state)
{
	struct proxy_fixture *f = *state;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	void *mem;
	int mfd = test_memfd(WIN_SIZE, &mem);

	assert_true(mfd >= 0);
	set_command(f->c, 0x4);
	assert_int_equal(vuc_set_irqs(f->c, VFIO_PCI_MSI_IRQ_INDEX,
				      VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, &efd, NULL),
			 0);
	assert_int_equal(vuc_dma_map_fd(f->c, IOVA, WIN_SIZE, mfd, 0,
					VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE),
			 0);
	dma_round_trip(f->c, mem, efd);
	assert_int_equal(vuc_dma_requests_served(f->c), 0); /* all direct, no messages */
	/* outside any window: refused, error bit */
	assert_true(run_dma(f->c, 0x10000000, EDU_DMA_BUF_ADDR, 16, 0) & EDU_DMA_CMD_ERROR);
	/* a read-only window cannot be written by the device */
	assert_int_equal(vuc_dma_unmap(f->c, IOVA, WIN_SIZE, 0), 0);
	assert_int_equal(vuc_dma_map_fd(f->c, IOVA, WIN_SIZE, mfd, 0, VFIO_USER_F_DMA_REGION_READ), 0);
	assert_true(run_dma(f->c, EDU_DMA_BUF_ADDR, IOVA, 16, EDU_DMA_CMD_TO_RAM) & EDU_DMA_CMD_ERROR);
	assert_int_equal(vuc_dma_unmap(f->c, 0, 0, VFIO_USER_F_DMA_UNMAP_ALL), 0);
	assert_true(run_dma(f->c, IOVA, EDU_DMA_BUF_ADDR, 16, 0) & EDU_DMA_CMD_ERROR);
	munmap(mem, WIN_SIZE);
	close(mfd);
	close(efd);
}

static void test_dma_message_window(void **state)
{
	struct proxy_fixture *f = *state;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint8_t *mem = calloc(1, WIN_SIZE);

	set_command(f->c, 0x4);
	assert_int_equal(vuc_set_irqs(f->c, VFIO_PCI_MSI_IRQ_INDEX,
				      VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, &efd, NULL),
			 0);
	assert_int_equal(vuc_dma_map_mem(f->c, IOVA, WIN_SIZE, mem,
					 VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE),
			 0);
	dma_round_trip(f->c, mem, efd);
	assert_true(vuc_dma_requests_served(f->c) >= 3);
	assert_int_equal(vuc_dma_unmap(f->c, IOVA, WIN_SIZE, 0), 0);
	free(mem);
	close(efd);
}

static void test_dma_without_bus_master(void **state)
{
	struct proxy_fixture *f = *state;
	uint8_t *mem = calloc(1, WIN_SIZE);

	assert_int_equal(vuc_dma_map_mem(f->c, IOVA, WIN_SIZE, mem, VFIO_USER_F_DMA_REGION_READ), 0);
	assert_true(run_dma(f->c, IOVA, EDU_DMA_BUF_ADDR, 16, 0) & EDU_DMA_CMD_ERROR);
	assert_int_equal(vuc_dma_requests_served(f->c), 0);
	free(mem);
}

/*
 * A proxy in a mount namespace without /proc (as in a container that mounts none) still takes the
 * client's eventfds, says once how it recognises them, and still refuses other fds.
 */
static void test_eventfds_without_proc(void **state)
{
#ifdef __SANITIZE_ADDRESS__
	skip(); /* ASan itself needs /proc to start */
#else
	const char *bin = getenv("PROXY_BIN") ? getenv("PROXY_BIN") : "build/dbg/vfio-user-proxy";
	char dir[] = "/tmp/vup-noproc-XXXXXX", sock[64], logp[64], line[512];
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), mfd = memfd_create("not-an-eventfd", MFD_CLOEXEC);
	bool told = false;
	struct vuc_server_caps caps;
	struct vuc *c = NULL;
	pid_t pid;
	FILE *log;
	int status;

	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	snprintf(logp, sizeof(logp), "%s/log", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0 || dup2(fd, 2) < 0 || unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || umount2("/proc", MNT_DETACH))
			_exit(126);
		execl(bin, bin, "emulate", "--socket-path", sock, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 2000 && vuc_connect(sock, &c) < 0; i++)
		usleep(2000);
	assert_non_null(c);
	assert_int_equal(vuc_negotiate(c, &caps), 0);
	set_command(c, 0x4);
	assert_int_equal(vuc_set_irqs(c, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
				      0, 1, &mfd, NULL),
			 -EINVAL);
	assert_int_equal(vuc_set_irqs(c, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
				      0, 1, &efd, NULL),
			 0);
	assert_int_equal(vuc_write32(c, BAR0, EDU_REG_IRQ_RAISE, 0x40), 0);
	assert_int_equal(eventfd_wait(efd, 2000), 1);
	vuc_close(c);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	log = fopen(logp, "r");
	assert_non_null(log);
	while (fgets(line, sizeof(line), log))
		told |= strstr(line, "/proc is not mounted") != NULL;
	fclose(log);
	assert_true(told);
	unlink(logp);
	unlink(sock);
	rmdir(dir);
	close(efd);
	close(mfd);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_msi, proxy_fixture_setup, proxy_fixture_teardown),
		cmocka_unit_test(test_eventfds_without_proc),
		cmocka_unit_test_setup_teardown(test_msix_vectors, proxy_fixture_setup, proxy_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_intx, proxy_fixture_setup, proxy_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_dma_fd_window, proxy_fixture_setup, proxy_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_dma_message_window, proxy_fixture_setup, proxy_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_dma_without_bus_master, proxy_fixture_setup, proxy_fixture_teardown),
	};

	return cmocka_run_group_tests_name("irq_dma", tests, NULL, NULL);
}
