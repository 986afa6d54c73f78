/* test_handover.c: the hand-over on SIGHUP through the real socket: 20 in a row under one connection (registers, RAM BAR, DMA window, MSI-X, pid, fds), confined and not, a refused state and its fallback, the read-ahead, no client. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/close_range.h>
#include <time.h>
#include <unistd.h>

#include "../common/harness.h"
#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define BAR4 VFIO_PCI_BAR4_REGION_INDEX
#define MSIX VFIO_PCI_MSIX_IRQ_INDEX
#define RW (VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)
#define EVT_TRIGGER (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define IOVA 0x100000ull
#define WIN_SIZE 0x200000ull
#define ROUNDS 20
#define LIVENESS 0x5a5a1234u

static struct {
	struct proxy_proc p;
	struct vuc *c;
	int msix[EDU_MSIX_VECTORS];
	int win_fd;
	uint8_t *win;
	uint8_t *bar4; /* the client's own mapping of the RAM BAR */
	int bar4_fd;
	long handovers; /* "serving as pid" lines seen */
} T;

static int case_setup(void **state)
{
	memset(&T, 0, sizeof(T));
	T.win_fd = T.bar4_fd = -1;
	for (unsigned int i = 0; i < EDU_MSIX_VECTORS; i++)
		T.msix[i] = -1;
	return 0;
}

static int case_teardown(void **state)
{
	vuc_close(T.c);
	for (unsigned int i = 0; i < EDU_MSIX_VECTORS; i++)
		if (T.msix[i] >= 0)
			close(T.msix[i]);
	if (T.win)
		munmap(T.win, WIN_SIZE);
	if (T.bar4)
		munmap(T.bar4, EDU_BAR_RAM_SIZE);
	if (T.win_fd >= 0)
		close(T.win_fd);
	if (T.bar4_fd >= 0)
		close(T.bar4_fd);
	if (T.p.pid > 0)
		proxy_dump_log(&T.p);
	proxy_kill(&T.p);
	unsetenv("VFIO_USER_PROXY_TEST_HANDOVER");
	memset(&T, 0, sizeof(T));
	return 0;
}

/* How many log lines contain needle; *num gets the number after it on the last one. */
static long log_count(const char *needle, pid_t *num)
{
	char line[1024];
	long n = 0;
	FILE *f = fopen(T.p.log_path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *at = strstr(line, needle);

		if (at) {
			n++;
			if (num)
				*num = (pid_t)atoi(at + strlen(needle));
		}
	}
	fclose(f);
	return n;
}

/* The last pid a successor announced, and how many did. */
static long successors(pid_t *last)
{
	return log_count("hand-over: serving as pid ", last);
}

static bool confined(pid_t pid)
{
	char v[64];

	return proc_status(pid, "Seccomp", v, sizeof(v)) == 0 && atoi(v) == 2;
}

/*
 * Waits for the next successor's announcement; when it has another pid (the helper started it), waits for
 * the old process to exit 0 and the new one to be ours (we are the subreaper), and follows it.
 */
static void wait_handover(void)
{
	long deadline = test_now_ms() + 10000;
	pid_t pid = 0;

	while (successors(&pid) == T.handovers && test_now_ms() < deadline)
		usleep(500);
	assert_int_equal(successors(&pid), T.handovers + 1);
	T.handovers++;
	if (pid != T.p.pid) {
		int status;

		assert_int_equal(waitpid(T.p.pid, &status, 0), T.p.pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		T.p.pid = pid;
		/* ours (alive, or exited and not reaped) once the helper that started it is gone */
		for (;;) {
			siginfo_t si;

			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0)
				break;
			assert_int_equal(errno, ECHILD);
			assert_true(test_now_ms() < deadline);
			usleep(500);
		}
	}
}

static void start(const char *const *args)
{
	assert_int_equal(proxy_start(&T.p, args), 0);
	T.c = proxy_client(&T.p);
	assert_non_null(T.c);
}

/* The client's set-up: a DMA window on a memfd, MSI-X on eventfds, registers, RAM BAR bytes. */
static void set_up_device(void)
{
	struct vfio_user_region_info info;
	size_t caps_len = 0;
	uint32_t v;

	T.win_fd = test_memfd(WIN_SIZE, (void **)&T.win);
	assert_true(T.win_fd >= 0);
	assert_int_equal(vuc_dma_map_fd(T.c, IOVA, WIN_SIZE, T.win_fd, 0, RW), 0);
	for (unsigned int i = 0; i < EDU_MSIX_VECTORS; i++)
		T.msix[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(pci_command_set(T.c, 0x4), 0);
	assert_int_equal(vuc_set_irqs(T.c, MSIX, EVT_TRIGGER, 0, EDU_MSIX_VECTORS, T.msix, NULL), 0);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_LIVENESS, LIVENESS), 0);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_FACT, 10), 0);
	assert_int_equal(vuc_read32(T.c, BAR0, EDU_REG_FACT, &v), 0);
	assert_int_equal(v, 3628800);
	assert_int_equal(vuc_region_info(T.c, BAR4, &info, NULL, 0, &caps_len, &T.bar4_fd), 0);
	assert_true(T.bar4_fd >= 0);
	T.bar4 = mmap(NULL, EDU_BAR_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, T.bar4_fd, 0);
	assert_true(T.bar4 != MAP_FAILED);
	for (unsigned int i = 0; i < 256; i++)
		T.bar4[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(vuc_region_write(T.c, BAR4, 0x1000, "handover", 8, false), 0);
}

/* Everything the client set up is as it was, and works. */
static void check_device(unsigned int round)
{
	uint8_t buf[8], *src = T.win + 0x1000, *dst = T.win + 0x10000;
	uint64_t cmd = 0;
	uint32_t v;
	unsigned int vec = round % EDU_MSIX_VECTORS;

	assert_int_equal(vuc_read32(T.c, BAR0, EDU_REG_LIVENESS, &v), 0);
	assert_int_equal(v, ~LIVENESS);
	assert_int_equal(vuc_read32(T.c, BAR0, EDU_REG_FACT, &v), 0);
	assert_int_equal(v, 3628800);
	assert_int_equal(vuc_region_read(T.c, BAR4, 0x1000, buf, 8), 0);
	assert_memory_equal(buf, "handover", 8);
	assert_int_equal(vuc_region_read(T.c, BAR4, 0, buf, 8), 0);
	for (unsigned int i = 0; i < 256; i++)
		assert_int_equal(T.bar4[i], (uint8_t)(i * 7 + 1));
	assert_int_equal(buf[7], (uint8_t)(7 * 7 + 1));
	/* DMA through the window mapped before the hand-overs: RAM -> device -> RAM, byte-exact */
	for (unsigned int i = 0; i < EDU_DMA_BUF_SIZE; i++)
		src[i] = (uint8_t)(i ^ round ^ 0xa5);
	memset(dst, 0, EDU_DMA_BUF_SIZE);
	assert_int_equal(edu_run_dma(T.c, IOVA + 0x1000, EDU_DMA_BUF_ADDR, EDU_DMA_BUF_SIZE, 0, &cmd), 0);
	assert_int_equal(cmd & (EDU_DMA_CMD_RUN | EDU_DMA_CMD_ERROR), 0);
	assert_int_equal(edu_run_dma(T.c, EDU_DMA_BUF_ADDR, IOVA + 0x10000, EDU_DMA_BUF_SIZE, EDU_DMA_CMD_TO_RAM, &cmd),
			 0);
	assert_int_equal(cmd & (EDU_DMA_CMD_RUN | EDU_DMA_CMD_ERROR), 0);
	assert_memory_equal(src, dst, EDU_DMA_BUF_SIZE);
	/* an MSI-X interrupt reaches the eventfd given before the hand-overs, and only that one */
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_VECTOR, vec), 0);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_RAISE, 1), 0);
	assert_int_equal(eventfd_wait(T.msix[vec], 2000), 1);
	for (unsigned int o = 0; o < EDU_MSIX_VECTORS; o++)
		if (o != vec)
			assert_int_equal(eventfd_wait(T.msix[o], 0), 0);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_ACK, 1), 0);
}

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

static void rounds(const char *mode)
{
	long gap[ROUNDS];
	pid_t first = T.p.pid;
	bool conf = confined(T.p.pid);
	int fds;

	set_up_device();
	check_device(0);
	fds = proxy_fd_count(&T.p);
	for (unsigned int r = 1; r <= ROUNDS; r++) {
		long t0 = now_us(), worst = 0, end = t0 + 300000;
		unsigned int after = 0;
		uint32_t v;

		/*
		 * The device's unavailability as the client sees it: requests back to back from SIGHUP on; the
		 * one the hand-over holds up is the slowest (the successor answers it). Until 20 requests
		 * after a slow one (over 300 us), or 300 ms.
		 */
		assert_int_equal(kill(T.p.pid, SIGHUP), 0);
		while (now_us() < end && after < 20) {
			long t = now_us();

			assert_int_equal(vuc_read32(T.c, BAR0, EDU_REG_ID, &v), 0);
			assert_int_equal(v, EDU_ID_VALUE);
			t = now_us() - t;
			if (t > worst)
				worst = t;
			after += worst > 300;
		}
		gap[r - 1] = worst;
		wait_handover();
		check_device(r);
		if (conf) {
			assert_true(confined(T.p.pid)); /* the successor is confined as the first was */
			assert_int_not_equal(T.p.pid, first);
		} else {
			assert_int_equal(T.p.pid, first); /* exec keeps the pid */
		}
		assert_int_equal(proxy_fd_count(&T.p), fds);
	}
	qsort(gap, ROUNDS, sizeof(gap[0]), cmp_long);
	fprintf(stderr, "hand-over (%s%s): the client's longest wait for a reply, min %ld us, median %ld us, max %ld us\n", mode,
		conf ? ", seccomp: through the helper" : ", exec in place", gap[0], gap[ROUNDS / 2], gap[ROUNDS - 1]);
	assert_int_equal(proxy_stop(&T.p), 0);
}

/* 20 hand-overs under one connection, confined as the harness runs the proxy (seccomp, by default). */
static void test_handover_rounds(void **state)
{
	start(NULL);
	rounds("default");
}

static void test_handover_rounds_no_seccomp(void **state)
{
	static const char *const args[] = { "--no-seccomp", NULL };

	start(args);
	assert_false(confined(T.p.pid));
	rounds("--no-seccomp");
}

/* A successor that cannot read the state refuses it in one line; the session lives on, unchanged. */
static void refused(const char *how, const char *const *args)
{
	pid_t pid;
	uint32_t v;

	setenv("VFIO_USER_PROXY_TEST_HANDOVER", how, 1);
	start(args);
	pid = T.p.pid;
	set_up_device();
	for (unsigned int r = 1; r <= 3; r++) {
		long deadline = test_now_ms() + 10000;

		assert_int_equal(kill(T.p.pid, SIGHUP), 0);
		assert_int_equal(vuc_read32(T.c, BAR0, EDU_REG_ID, &v), 0);
		/* confined: the old process serves on; exec in place: the old image runs again (fallback) */
		while (test_now_ms() < deadline &&
		       log_count("hand-over did not happen", NULL) + successors(NULL) < (long)r)
			usleep(1000);
		assert_int_equal(log_count("hand-over did not happen", NULL) + successors(NULL), r);
		assert_int_equal(log_count("hand-over refused: ", NULL), r);
		check_device(r);
		assert_int_equal(T.p.pid, pid);
		assert_true(proxy_alive(&T.p));
		assert_int_equal(access(T.p.socket_path, F_OK), 0); /* no refusing successor's helper removed it */
	}
	assert_true(proxy_log_contains(&T.p, "hand-over refused: "));
	assert_true(proxy_log_contains(&T.p, strcmp(how, "future") == 0 ? "this binary reads version 1 only"
									: "CRC mismatch"));
	assert_int_equal(proxy_stop(&T.p), 0);
}

static void test_handover_future_version(void **state)
{
	refused("future", NULL);
}

static void test_handover_future_version_no_seccomp(void **state)
{
	static const char *const args[] = { "--no-seccomp", NULL };

	refused("future", args);
	(void)state;
}

/* With --user the refusing successor has a helper of its own already, which must leave the socket be. */
static void test_handover_future_version_user(void **state)
{
	static const char *const args[] = { "--user", "nobody", "--socket-mode", "0666", NULL };

	if (geteuid() != 0) {
		print_message("--user needs root: skipped\n");
		skip();
	}
	refused("future", args);
}

static void test_handover_corrupt(void **state)
{
	refused("corrupt", NULL);
}

static void test_handover_corrupt_no_seccomp(void **state)
{
	static const char *const args[] = { "--no-seccomp", NULL };

	refused("corrupt", args);
}

/* Half a message read before the hand-over: its start is carried over and the rest completes it. */
static void test_handover_readahead(void **state)
{
	struct {
		struct vfio_user_header h;
		struct vfio_user_region_access a;
	} __attribute__((packed)) rq = {
		.h = { .msg_id = 0x7777, .cmd = VFIO_USER_REGION_READ, .msg_size = sizeof(rq) },
		.a = { .offset = EDU_REG_LIVENESS, .region = BAR0, .count = 4 },
	};
	struct {
		struct vfio_user_header h;
		struct vfio_user_region_access a;
		uint32_t v;
	} __attribute__((packed)) rp;
	struct pollfd p;

	start(NULL);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_LIVENESS, 7), 0);
	p.fd = vuc_socket_fd(T.c);
	p.events = POLLIN;
	assert_int_equal(send(p.fd, &rq, 10, MSG_NOSIGNAL), 10);
	usleep(50000); /* read by the proxy, which waits for the rest */
	assert_int_equal(kill(T.p.pid, SIGHUP), 0);
	wait_handover();
	assert_true(proxy_log_contains(&T.p, "with the client's session"));
	assert_int_equal(send(p.fd, (uint8_t *)&rq + 10, sizeof(rq) - 10, MSG_NOSIGNAL), (ssize_t)sizeof(rq) - 10);
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(recv(p.fd, &rp, sizeof(rp), MSG_WAITALL), (ssize_t)sizeof(rp));
	assert_int_equal(rp.h.msg_id, 0x7777);
	assert_int_equal(rp.h.flags & VFIO_USER_F_ERROR, 0);
	assert_int_equal(rp.v, ~7u);
	assert_int_equal(proxy_stop(&T.p), 0);
}

static uid_t uid_of(pid_t pid)
{
	char v[64];

	return proc_status(pid, "Uid", v, sizeof(v)) ? (uid_t)-1 : (uid_t)atoi(v);
}

/* --user and (unless the run is unconfined) --seccomp: the successor drops and confines itself again. */
static void test_handover_user(void **state)
{
	static const char *const args[] = { "--user", "nobody", "--socket-mode", "0666", NULL };
	uid_t uid;

	if (geteuid() != 0) {
		print_message("--user needs root: skipped\n");
		skip();
	}
	start(args);
	uid = uid_of(T.p.pid);
	assert_int_not_equal(uid, 0);
	set_up_device();
	for (unsigned int r = 1; r <= 3; r++) {
		assert_int_equal(kill(T.p.pid, SIGHUP), 0);
		wait_handover();
		check_device(r);
		assert_int_equal(uid_of(T.p.pid), uid);
	}
	assert_int_equal(proxy_stop(&T.p), 0); /* and the socket is removed, by the successor's helper */
}

/* Our own DMA_READ unanswered: the hand-over waits for the answer, then happens. */
static void test_handover_waits_for_dma(void **state)
{
	static uint8_t mem[0x1000];
	struct {
		struct vfio_user_header h;
		struct vfio_user_region_access a;
		uint64_t v;
	} __attribute__((packed)) rq = {
		.h = { .msg_id = 0x5555, .cmd = VFIO_USER_REGION_WRITE, .msg_size = sizeof(rq),
		       .flags = VFIO_USER_F_NO_REPLY },
		.a = { .offset = EDU_REG_DMA_CMD, .region = BAR0, .count = 8 },
		.v = EDU_DMA_CMD_RUN,
	};
	uint64_t cmd = 0;

	start(NULL);
	set_up_device();
	for (unsigned int i = 0; i < sizeof(mem); i++)
		mem[i] = (uint8_t)(i * 13);
	assert_int_equal(vuc_dma_map_mem(T.c, 0x800000, sizeof(mem), mem, RW), 0);
	assert_int_equal(vuc_write64(T.c, BAR0, EDU_REG_DMA_SRC, 0x800000), 0);
	assert_int_equal(vuc_write64(T.c, BAR0, EDU_REG_DMA_DST, EDU_DMA_BUF_ADDR), 0);
	assert_int_equal(vuc_write64(T.c, BAR0, EDU_REG_DMA_COUNT, sizeof(mem)), 0);
	/* start the transfer and leave the proxy's DMA_READ unread */
	assert_int_equal(send(vuc_socket_fd(T.c), &rq, sizeof(rq), MSG_NOSIGNAL), (ssize_t)sizeof(rq));
	usleep(50000);
	assert_int_equal(kill(T.p.pid, SIGHUP), 0);
	usleep(200000);
	assert_true(proxy_log_contains(&T.p, "hand-over: waiting for the client to answer"));
	assert_int_equal(successors(NULL), 0);
	/* any request now has the client serve the DMA_READ on the way: the transfer ends, the hand-over goes */
	assert_int_equal(vuc_read64(T.c, BAR0, EDU_REG_DMA_CMD, &cmd), 0);
	wait_handover();
	assert_int_equal(vuc_read64(T.c, BAR0, EDU_REG_DMA_CMD, &cmd), 0);
	assert_int_equal(cmd & (EDU_DMA_CMD_RUN | EDU_DMA_CMD_ERROR), 0);
	assert_int_equal(vuc_region_read(T.c, BAR0, EDU_DMA_BUF_ADDR, mem + 0x800, 0x800), 0);
	assert_memory_equal(mem, mem + 0x800, 0x800);
	check_device(1);
	assert_int_equal(proxy_stop(&T.p), 0);
}

static void signal_eventfd(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, sizeof(one)), (ssize_t)sizeof(one));
}

/* INTx asserted and automasked across a hand-over: the successor watches the unmask eventfd again. */
static void test_handover_intx(void **state)
{
	int trig = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), unmask = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	const uint32_t intx = VFIO_PCI_INTX_IRQ_INDEX;

	start(NULL);
	assert_int_equal(vuc_set_irqs(T.c, intx, EVT_TRIGGER, 0, 1, &trig, NULL), 0);
	assert_int_equal(vuc_set_irqs(T.c, intx, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, &unmask,
				      NULL),
			 0);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_RAISE, 1), 0);
	assert_int_equal(eventfd_wait(trig, 2000), 1);
	for (int r = 0; r < 3; r++) {
		assert_int_equal(kill(T.p.pid, SIGHUP), 0);
		wait_handover();
		/* still asserted and masked: quiet until the EOI, which the successor hears */
		assert_int_equal(eventfd_wait(trig, 100), 0);
		signal_eventfd(unmask);
		assert_int_equal(eventfd_wait(trig, 2000), 1);
	}
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_ACK, 1), 0);
	signal_eventfd(unmask);
	assert_int_equal(eventfd_wait(trig, 200), 0);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_RAISE, 1), 0);
	assert_int_equal(eventfd_wait(trig, 2000), 1);
	close(trig);
	close(unmask);
	assert_int_equal(proxy_stop(&T.p), 0);
}

/* SIGTERM right behind SIGHUP: the hand-over happens, and the successor stops (cleanly, socket removed). */
static void test_handover_then_term(void **state)
{
	pid_t pid = 0;
	int status;

	start(NULL);
	set_up_device();
	assert_int_equal(kill(T.p.pid, SIGHUP), 0);
	assert_int_equal(kill(T.p.pid, SIGTERM), 0);
	wait_handover();
	status = proxy_wait_exit(&T.p, 10000);
	assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(successors(&pid), 1);
	assert_true(proxy_log_contains(&T.p, "signal 15: shutting down"));
	assert_int_equal(access(T.p.socket_path, F_OK), -1);
	assert_int_equal(vuc_wait_closed(T.c, 2000), 0);
}

/* Without a client: the successor listens on the same socket and serves the next one. */
static void test_handover_no_client(void **state)
{
	uint32_t v;

	assert_int_equal(proxy_start(&T.p, NULL), 0);
	for (int r = 0; r < 3; r++) {
		assert_int_equal(kill(T.p.pid, SIGHUP), 0);
		wait_handover();
	}
	T.c = proxy_client(&T.p);
	assert_non_null(T.c);
	assert_int_equal(vuc_read32(T.c, BAR0, EDU_REG_ID, &v), 0);
	assert_int_equal(v, EDU_ID_VALUE);
	assert_true(proxy_log_contains(&T.p, "no client"));
	assert_int_equal(proxy_stop(&T.p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handover_rounds, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_handover_rounds_no_seccomp, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_handover_future_version, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_handover_future_version_no_seccomp, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_handover_future_version_user, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_handover_corrupt, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_handover_corrupt_no_seccomp, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_handover_readahead, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_handover_no_client, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_handover_user, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_handover_intx, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_handover_then_term, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_handover_waits_for_dma, case_setup, case_teardown),
	};

	/* A successor the helper starts is orphaned when the helper exits: it comes back to us. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* The proxy inherits no fd of ours but 0-2 (a successor started by the helper would not either). */
	close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
