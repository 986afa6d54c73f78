/* test_client_fds.c: fds and memory a hostile client hands the proxy: eventfds that block, DMA fds that are not memory, more memory than the host has, an INTx unmask eventfd. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/harness.h"
#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define INTX VFIO_PCI_INTX_IRQ_INDEX
#define MSI VFIO_PCI_MSI_IRQ_INDEX
#define RW (VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)
#define EVT_TRIGGER (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define REPLY_MS 2000 /* a proxy that takes longer to answer is hung */
#define STOP_MS 3000
#define CLEANUP_MS 2000
#define MAX_TEST_FDS 16
#define K 1024ull
#define M (1024ull * 1024)

/* What a case may leave behind when it fails: released in teardown, processes killed. */
static struct {
	struct proxy_proc a, b;
	struct vuc *c;
	int fds[MAX_TEST_FDS];
	int nfds;
	pid_t child;
} T;

static int keep_fd(int fd)
{
	assert_true(fd >= 0);
	assert_true(T.nfds < MAX_TEST_FDS);
	T.fds[T.nfds++] = fd;
	return fd;
}

static int new_memfd(uint64_t size)
{
	int fd = keep_fd(memfd_create("vup-client-fds", MFD_CLOEXEC));

	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static int case_setup(void **state)
{
	memset(&T, 0, sizeof(T));
	return 0;
}

static int case_teardown(void **state)
{
	if (T.child > 0) {
		kill(T.child, SIGKILL);
		waitpid(T.child, NULL, 0);
	}
	vuc_close(T.c);
	for (int i = 0; i < T.nfds; i++)
		close(T.fds[i]);
	if (T.a.pid > 0)
		proxy_dump_log(&T.a);
	if (T.b.pid > 0)
		proxy_dump_log(&T.b);
	proxy_kill(&T.a);
	proxy_kill(&T.b);
	memset(&T, 0, sizeof(T));
	return 0;
}

/* Starts a proxy and connects a client to it; every request of that client gives up after REPLY_MS. */
static struct vuc *start_with_client(struct proxy_proc *p, const char *const *args)
{
	struct vuc *c = NULL;

	assert_int_equal(proxy_start(p, args), 0);
	/* the socket appears at bind(), a moment before listen(): retry the first connection */
	for (int i = 0; i < 500 && !c && proxy_alive(p); i++) {
		c = proxy_client(p);
		if (!c)
			usleep(10000);
	}
	assert_non_null(c);
	vuc_set_timeout(c, REPLY_MS);
	return c;
}

static void expect_id(struct vuc *c)
{
	uint32_t v = 0;

	assert_int_equal(vuc_read32(c, BAR0, EDU_REG_ID, &v), 0);
	assert_int_equal(v, EDU_ID_VALUE);
}

static int log_count(const struct proxy_proc *p, const char *needle)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(p->log_path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* A child that flips O_NONBLOCK on the (shared) file behind fd as fast as it can, until killed. */
static pid_t start_toggler(int fd)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fl = fcntl(fd, F_GETFL);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			fl ^= O_NONBLOCK;
			fcntl(fd, F_SETFL, fl);
		}
	}
	return pid;
}

/* ==== eventfds ==== */

/*
 * The client's MSI eventfd is blocking and its counter one short of the maximum, so that a write of 1
 * would block forever; then it keeps flipping O_NONBLOCK on it. The proxy must drop the interrupt, say
 * so once, keep answering and stop on SIGTERM.
 */
static void test_full_blocking_eventfd_cannot_hang(void **state)
{
	const uint64_t full = 0xfffffffffffffffeull;
	int efd = keep_fd(eventfd(0, EFD_CLOEXEC)); /* blocking */
	int nbfd = keep_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));

	T.c = start_with_client(&T.a, NULL);
	assert_int_equal(write(efd, &full, sizeof(full)), sizeof(full));
	assert_int_equal(pci_command_set(T.c, 0x4), 0); /* bus master: MSI is a memory write */
	assert_int_equal(vuc_set_irqs(T.c, MSI, EVT_TRIGGER, 0, 1, &efd, NULL), 0);
	/* the raise is answered (each request gives up after REPLY_MS), and so is the next read */
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_RAISE, 1), 0);
	expect_id(T.c);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_ACK, 1), 0);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_RAISE, 1), 0);
	expect_id(T.c);

	/* an eventfd that was non-blocking when handed over, then toggled by the client all along */
	assert_int_equal(write(nbfd, &full, sizeof(full)), sizeof(full));
	assert_int_equal(vuc_set_irqs(T.c, MSI, EVT_TRIGGER, 0, 1, &nbfd, NULL), 0);
	assert_int_equal(fcntl(nbfd, F_SETFL, fcntl(nbfd, F_GETFL) & ~O_NONBLOCK), 0);
	T.child = start_toggler(nbfd);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_ACK, 1), 0);
		assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_RAISE, 1), 0);
		expect_id(T.c);
	}
	kill(T.child, SIGKILL);
	waitpid(T.child, NULL, 0);
	T.child = 0;
	assert_true(proxy_alive(&T.a));
	assert_int_equal(log_count(&T.a, "eventfd is full"), 1);
	assert_int_equal(proxy_stop_within(&T.a, STOP_MS), 0);
}

/* ==== DMA windows ==== */

/* An fd on a filesystem that is not memory (tmpfs, hugetlbfs), or -1 when none is at hand. */
static int disk_file(size_t size)
{
	static const char *const dirs[] = { "/var/tmp", "." };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[256];
		struct statfs fs;
		int fd;

		snprintf(path, sizeof(path), "%s/vup-dma-XXXXXX", dirs[i]);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd < 0)
			continue;
		unlink(path);
		if (fstatfs(fd, &fs) == 0 && fs.f_type != TMPFS_MAGIC && fs.f_type != HUGETLBFS_MAGIC &&
		    ftruncate(fd, (off_t)size) == 0)
			return fd;
		close(fd);
	}
	return -1;
}

/* Only memory backs a window: a file on disk (a page fault could wait on the disk) or a pipe is refused. */
static void test_dma_fd_on_disk_refused(void **state)
{
	const uint64_t iova = 0x100000, size = 0x10000;
	int disk = disk_file(size), pipefd[2], mfd, base;

	if (disk < 0) {
		print_message("no disk filesystem for a scratch file (/var/tmp and . are memory): skipped\n");
		skip();
	}
	keep_fd(disk);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	keep_fd(pipefd[0]);
	keep_fd(pipefd[1]);
	mfd = new_memfd(size);
	T.c = start_with_client(&T.a, NULL);
	base = proxy_fd_count(&T.a);
	assert_int_equal(vuc_dma_map_fd(T.c, iova, size, disk, 0, RW), -EINVAL);
	assert_int_equal(proxy_wait_fds(&T.a, base, CLEANUP_MS), base);
	assert_int_equal(vuc_dma_map_fd(T.c, iova, size, pipefd[0], 0, RW), -EINVAL);
	assert_int_equal(proxy_wait_fds(&T.a, base, CLEANUP_MS), base);
	assert_int_equal(vuc_dma_map_fd(T.c, iova, size, mfd, 0, RW), 0);
	/* mapped, and the fd kept (one per file, for a hand-over) */
	assert_int_equal(proxy_wait_fds(&T.a, base + 1, CLEANUP_MS), base + 1);
	expect_id(T.c);
	assert_int_equal(proxy_stop_within(&T.a, STOP_MS), 0);
}

/* Runs the proxy with args to completion (bounded); its exit code, and its stderr in err. */
static int run_proxy(const char *const *args, char *err, size_t cap)
{
	const char *bin = getenv("PROXY_BIN");
	const char *argv[16] = { bin ? bin : "build/dbg/vfio-user-proxy" };
	long deadline = test_now_ms() + 10000;
	size_t len = 0;
	int pe[2], n = 1, status = 0;
	pid_t pid;

	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(pe[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	T.child = pid;
	close(pe[1]);
	for (;;) {
		struct pollfd pf = { .fd = pe[0], .events = POLLIN };
		long left = deadline - test_now_ms();
		ssize_t r;

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			break;
		r = read(pe[0], err + len, cap - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	err[len] = '\0';
	close(pe[0]);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (test_now_ms() > deadline)
			fail_msg("the proxy with a bad --dma-limit did not exit");
		usleep(1000);
	}
	T.child = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void expect_usage_error(const char *value)
{
	const char *args[] = { "emulate", "--socket-path", "/nonexistent/vup/sock", "--dma-limit", value, NULL };
	char err[4096];
	int lines = 0;

	assert_int_equal(run_proxy(args, err, sizeof(err)), 2);
	for (const char *s = err; *s; s++)
		lines += *s == '\n';
	if (lines != 1)
		print_error("--dma-limit %s: stderr was:\n%s", value, err);
	assert_int_equal(lines, 1);
	assert_non_null(strstr(err, "--dma-limit"));
}

/* --dma-limit bounds the bytes mapped at once; by default the host's RAM does; a bad size is a usage error. */
static void test_dma_limit_bounds_mapped_bytes(void **state)
{
	static const char *const limit_1m[] = { "--dma-limit", "1M", NULL };
	const uint64_t tib4 = 4 * K * K * M;
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	int mfd = new_memfd(2 * M), sparse;

	/* by default no more than the host has: 4 TiB of memfd (sparse, never touched) in one window */
	assert_true(pages > 0 && page > 0);
	assert_true((uint64_t)pages * (uint64_t)page < tib4);
	sparse = new_memfd(tib4);
	T.c = start_with_client(&T.a, NULL);
	assert_int_equal(vuc_dma_map_fd(T.c, 0x10000000000ull, tib4, sparse, 0, RW), -ENOMEM);
	assert_int_equal(vuc_dma_map_fd(T.c, 0x10000000000ull, M, sparse, 0, RW), 0);
	expect_id(T.c);
	vuc_close(T.c);
	T.c = NULL;
	assert_int_equal(proxy_stop_within(&T.a, STOP_MS), 0);

	/* --dma-limit 1M: two 512 KiB windows fit, 4 KiB more do not, until one goes */
	T.c = start_with_client(&T.b, limit_1m);
	assert_int_equal(vuc_dma_map_fd(T.c, 0x100000, 512 * K, mfd, 0, RW), 0);
	assert_int_equal(vuc_dma_map_fd(T.c, 0x200000, 512 * K, mfd, 512 * K, RW), 0);
	assert_int_equal(vuc_dma_map_fd(T.c, 0x300000, 4 * K, mfd, M, RW), -ENOMEM);
	assert_int_equal(vuc_dma_unmap(T.c, 0x100000, 512 * K, 0), 0);
	assert_int_equal(vuc_dma_map_fd(T.c, 0x400000, 512 * K, mfd, M, RW), 0);
	expect_id(T.c);
	assert_int_equal(proxy_stop_within(&T.b, STOP_MS), 0);

	expect_usage_error("abc");
	expect_usage_error("1X");
}

/* ==== INTx ==== */

/* Waits until the proxy has read the client's eventfd (its counter back to 0): true, or false after timeout_ms. */
static bool consumed(int efd, int timeout_ms)
{
	long deadline = test_now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = efd, .events = POLLIN };

	while (poll(&pfd, 1, 0) == 1) {
		if (test_now_ms() > deadline)
			return false;
		usleep(1000);
	}
	return true;
}

static void signal_eventfd(int efd)
{
	uint64_t one = 1;

	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
}

/*
 * QEMU registers an INTx UNMASK eventfd (the KVM resampler) and signals it at the guest's EOI: the proxy
 * must unmask then, or INTx fires once and never again. A MASK eventfd is refused as vfio-pci does.
 */
static void test_intx_unmask_eventfd_fires_again(void **state)
{
	int trig = keep_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	int unmask = keep_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	int mask = keep_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	int base;

	T.c = start_with_client(&T.a, NULL);
	assert_int_equal(vuc_set_irqs(T.c, INTX, EVT_TRIGGER, 0, 1, &trig, NULL), 0);
	assert_int_equal(vuc_set_irqs(T.c, INTX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 0, 1,
				      &unmask, NULL),
			 0);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_RAISE, 1), 0);
	assert_int_equal(eventfd_wait(trig, REPLY_MS), 1);
	/* the line stays asserted, INTx automasked: quiet */
	assert_int_equal(eventfd_wait(trig, 300), 0);
	/* the EOI: unmasked while still asserted, it fires again */
	signal_eventfd(unmask);
	assert_int_equal(eventfd_wait(trig, REPLY_MS), 1);
	/* serviced (line low), then the EOI: nothing more */
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_ACK, 1), 0);
	signal_eventfd(unmask);
	assert_true(consumed(unmask, REPLY_MS));
	assert_int_equal(eventfd_wait(trig, 300), 0);
	/* and unmasked: the next interrupt is delivered */
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_RAISE, 1), 0);
	assert_int_equal(eventfd_wait(trig, REPLY_MS), 1);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_ACK, 1), 0);

	base = proxy_fd_count(&T.a);
	assert_int_equal(vuc_set_irqs(T.c, INTX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK, 0, 1, &mask,
				      NULL),
			 -ENOTTY);
	assert_int_equal(proxy_wait_fds(&T.a, base, CLEANUP_MS), base);
	expect_id(T.c);
	assert_int_equal(proxy_stop_within(&T.a, STOP_MS), 0);
}

int main(void)
{
#define TC(fn) cmocka_unit_test_setup_teardown(fn, case_setup, case_teardown)
	const struct CMUnitTest tests[] = {
		TC(test_full_blocking_eventfd_cannot_hang),
		TC(test_dma_fd_on_disk_refused),
		TC(test_dma_limit_bounds_mapped_bytes),
		TC(test_intx_unmask_eventfd_fires_again),
	};
#undef TC

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("client_fds", tests, NULL, NULL);
}
