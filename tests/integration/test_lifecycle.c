/* test_lifecycle.c: the proxy process and its clients over time: sequential clients without leaks, one client at a time, reset between clients, signals (also amid a slow reader's replies), the reply deadline, socket set-up failures, --fd, and the command line's exit codes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/harness.h"
#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define BAR4 VFIO_PCI_BAR4_REGION_INDEX
#define MSI VFIO_PCI_MSI_IRQ_INDEX
#define RW (VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)
#define EVT_TRIGGER (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define HDR sizeof(struct vfio_user_header)
#define WAIT_MS 5000
#define CLEANUP_MS 2000
#define START_MS 10000
#define CMD_TIMEOUT_MS 20000
#define MAX_TEST_FDS 64
#define OUT_CAP 8192

/* Everything a case may leave behind when it fails: torn down in teardown, processes killed. */
static struct {
	struct proxy_proc a, b;
	struct vuc *c1, *c2;
	int fds[MAX_TEST_FDS];
	int nfds;
	void *map;
	size_t map_len;
	char dir[64]; /* a scratch directory of the case's own */
	char out[OUT_CAP], err[OUT_CAP];
} L;

static const char *proxy_bin(void)
{
	const char *bin = getenv("PROXY_BIN");

	return bin ? bin : "build/dbg/vfio-user-proxy";
}

static int keep_fd(int fd)
{
	assert_true(fd >= 0);
	assert_true(L.nfds < MAX_TEST_FDS);
	L.fds[L.nfds++] = fd;
	return fd;
}

static int new_memfd(size_t size)
{
	int fd = keep_fd(memfd_create("vup-lifecycle", MFD_CLOEXEC));

	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static int new_eventfd(void)
{
	return keep_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
}

static void make_scratch_dir(void)
{
	strcpy(L.dir, "/tmp/vup-life-XXXXXX");
	assert_non_null(mkdtemp(L.dir));
}

static int case_setup(void **state)
{
	memset(&L, 0, sizeof(L));
	return 0;
}

/* Removes a scratch directory and the files in it (the cases create no subdirectories). */
static void remove_dir(const char *dir)
{
	DIR *d;
	struct dirent *e;

	if (!dir[0] || !(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		char path[384];

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int case_teardown(void **state)
{
	vuc_close(L.c1);
	vuc_close(L.c2);
	for (int i = 0; i < L.nfds; i++)
		close(L.fds[i]);
	if (L.map)
		munmap(L.map, L.map_len);
	/* No proxy outlives its case. */
	if (L.a.pid > 0)
		proxy_dump_log(&L.a);
	if (L.b.pid > 0)
		proxy_dump_log(&L.b);
	proxy_kill(&L.b);
	proxy_kill(&L.a);
	remove_dir(L.a.dir);
	remove_dir(L.dir);
	memset(&L, 0, sizeof(L));
	return 0;
}

/* ---- the proxy as a process started by hand ---- */

/*
 * Starts PROXY_BIN with args (NULL-terminated) and, as the harness does, PROXY_ARGS; stderr to
 * p->log_path (which the caller set), stdin and stdout on /dev/null; inherit >= 0 becomes the child's fd 3.
 */
static void spawn_proxy(struct proxy_proc *p, const char *const *args, int inherit)
{
	const char *argv[32];
	int n = 0;

	argv[n++] = proxy_bin();
	for (int i = 0; args[i] && n < 16; i++)
		argv[n++] = args[i];
	n = proxy_add_args(p, argv, n, 32);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		int log = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (log >= 0)
			dup2(log, 2);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
		}
		if (inherit >= 0) {
			if (inherit != 3)
				dup2(inherit, 3);
			else
				fcntl(3, F_SETFD, 0);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
}

/* A negotiated client once the proxy serves (it may still be starting), or NULL if it died or never did. */
static struct vuc *wait_served(const struct proxy_proc *p)
{
	long deadline = test_now_ms() + START_MS;

	do {
		struct vuc *c = proxy_client(p);

		if (c)
			return c;
		if (!proxy_alive(p))
			return NULL;
		usleep(10000);
	} while (test_now_ms() < deadline);
	return NULL;
}

static void expect_id(struct vuc *c)
{
	uint32_t v = 0;

	assert_int_equal(vuc_read32(c, BAR0, EDU_REG_ID, &v), 0);
	assert_int_equal(v, EDU_ID_VALUE);
}

/* Starts the proxy through the harness and makes sure its event loop runs (a client was served). */
static void start_serving(struct proxy_proc *p)
{
	struct vuc *c;

	assert_int_equal(proxy_start(p, NULL), 0);
	c = wait_served(p);
	assert_non_null(c);
	expect_id(c);
	vuc_close(c);
}

/* The fd count with no client: a negotiated, idle client holds exactly one (its socket). */
static int idle_fd_count(const struct proxy_proc *p)
{
	struct vuc *c = proxy_client(p);
	int n, base;

	assert_non_null(c);
	n = proxy_fd_count(p);
	vuc_close(c);
	base = n - 1;
	assert_int_equal(proxy_wait_fds(p, base, CLEANUP_MS), base);
	return base;
}

/* Sends sig and waits for the exit: the exit code (128 + signal when it died of one). */
static int stop_with(struct proxy_proc *p, int sig)
{
	int status = 0;
	int ret;

	assert_int_equal(kill(p->pid, sig), 0);
	assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
	p->pid = 0;
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (ret)
		proxy_dump_log(p);
	return ret;
}

static bool socket_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* ---- the command line as a child process ---- */

static void drain(int fd, char *buf, size_t cap, size_t *len, bool *open_)
{
	char tmp[1024];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n <= 0) {
		*open_ = false;
		return;
	}
	for (ssize_t i = 0; i < n && *len + 1 < cap; i++)
		buf[(*len)++] = tmp[i];
	buf[*len] = '\0';
}

/*
 * Runs PROXY_BIN with args (NULL-terminated) to completion, stdout and stderr captured into L.out and
 * L.err. Returns its exit code (128 + signal if killed). A run that outlasts the timeout is killed and
 * fails the case.
 */
static int run_cmd(const char *const *args)
{
	const char *argv[16];
	int po[2], pe[2], n = 0, status = 0;
	size_t no = 0, ne = 0;
	bool oo = true, eo = true;
	long deadline = test_now_ms() + CMD_TIMEOUT_MS;
	pid_t pid;

	argv[n++] = proxy_bin();
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	L.out[0] = L.err[0] = '\0';
	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (nul >= 0)
			dup2(nul, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	while (oo || eo) {
		struct pollfd pf[2] = { { .fd = oo ? po[0] : -1, .events = POLLIN },
					{ .fd = eo ? pe[0] : -1, .events = POLLIN } };
		long left = deadline - test_now_ms();

		if (left <= 0 || poll(pf, 2, (int)left) == 0)
			break;
		if (pf[0].revents)
			drain(po[0], L.out, sizeof(L.out), &no, &oo);
		if (pf[1].revents)
			drain(pe[0], L.err, sizeof(L.err), &ne, &eo);
	}
	close(po[0]);
	close(pe[0]);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (test_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("%s %s did not finish in %d ms", argv[0], argv[1] ? argv[1] : "", CMD_TIMEOUT_MS);
		}
		usleep(1000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Exactly one line on stderr, containing what. */
static void expect_one_error_line(const char *what)
{
	if (count_lines(L.err) != 1 || !strstr(L.err, what))
		print_error("stderr was:\n%s(expected one line with \"%s\")\n", L.err, what);
	assert_int_equal(count_lines(L.err), 1);
	assert_non_null(strstr(L.err, what));
}

/* ==== clients over time ==== */

/* 20 clients each set up DMA, an interrupt and the BAR4 mapping, then vanish without undoing any of it. */
static void test_twenty_clients_no_leak(void **state)
{
	int base_fds, base_maps;

	start_serving(&L.a);
	base_fds = idle_fd_count(&L.a);
	base_maps = proxy_map_count(&L.a);
	assert_true(base_maps > 0);
	for (int i = 0; i < 20; i++) {
		struct vuc_server_caps caps;
		struct vfio_user_region_info info;
		uint8_t caps_buf[256];
		size_t caps_len = 0;
		int mfd = new_memfd(0x10000), efd = new_eventfd(), bar_fd = -1;
		uint32_t v = 0;
		uint16_t vendor = 0;

		assert_int_equal(vuc_connect(L.a.socket_path, &L.c1), 0);
		assert_int_equal(vuc_negotiate(L.c1, &caps), 0);
		assert_int_equal(caps.major, 0);
		assert_int_equal(vuc_dma_map_fd(L.c1, 0x100000, 0x10000, mfd, 0, RW), 0);
		assert_int_equal(vuc_set_irqs(L.c1, MSI, EVT_TRIGGER, 0, 1, &efd, NULL), 0);
		assert_int_equal(vuc_region_info(L.c1, BAR4, &info, caps_buf, sizeof(caps_buf), &caps_len, &bar_fd), 0);
		assert_true(bar_fd >= 0);
		close(bar_fd);
		assert_int_equal(info.size, EDU_BAR_RAM_SIZE);
		assert_int_equal(vuc_read32(L.c1, BAR0, EDU_REG_ID, &v), 0);
		assert_int_equal(v, EDU_ID_VALUE);
		assert_int_equal(vuc_config_read(L.c1, 0, &vendor, 2), 0);
		assert_int_equal(vendor, EDU_VENDOR_ID);
		assert_int_equal(vuc_read32(L.c1, BAR4, 0x1000, &v), 0);
		assert_int_equal(v, 0);
		/* the proxy holds the client's socket, its eventfd and the window's memfd (one per file, for a
		 * hand-over) */
		assert_int_equal(proxy_fd_count(&L.a), base_fds + 3);
		assert_true(proxy_map_count(&L.a) > base_maps);
		vuc_close(L.c1);
		L.c1 = NULL;
		assert_int_equal(proxy_wait_fds(&L.a, base_fds, CLEANUP_MS), base_fds);
	}
	assert_int_equal(proxy_fd_count(&L.a), base_fds);
	assert_int_equal(proxy_map_count(&L.a), base_maps);
	assert_int_equal(proxy_stop(&L.a), 0);
}

/* A second client connects while the first is served: it waits, and is served once the first leaves. */
static void test_one_client_at_a_time(void **state)
{
	struct {
		struct vfio_user_header h;
		uint16_t major, minor; /* no JSON, as SPDK sends it */
	} __attribute__((packed)) req = { { .msg_id = 0x77, .cmd = VFIO_USER_VERSION, .msg_size = HDR + 4 }, 0, 2 };
	struct vfio_user_header rh;
	struct pollfd pfd;
	uint8_t payload[VFIO_USER_MAX_VERSION_JSON + 8];
	size_t got = 0;

	start_serving(&L.a);
	L.c1 = proxy_client(&L.a);
	assert_non_null(L.c1);
	assert_int_equal(vuc_connect(L.a.socket_path, &L.c2), 0);
	assert_int_equal(vuc_send_raw(L.c2, &req, sizeof(req), NULL, 0), 0);
	/* while the first is connected, the second hears nothing (and the first is served as usual) */
	pfd = (struct pollfd){ .fd = vuc_socket_fd(L.c2), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 300), 0);
	expect_id(L.c1);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	vuc_close(L.c1);
	L.c1 = NULL;
	/* now its VERSION is answered */
	while (got < HDR) {
		ssize_t n;

		assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
		n = recv(pfd.fd, (uint8_t *)&rh + got, HDR - got, 0);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_int_equal(rh.msg_id, 0x77);
	assert_int_equal(rh.cmd, VFIO_USER_VERSION);
	assert_int_equal(rh.flags, VFIO_USER_F_TYPE_REPLY);
	assert_true(rh.msg_size > HDR + 4 && rh.msg_size - HDR <= sizeof(payload));
	for (got = 0; got < rh.msg_size - HDR;) {
		ssize_t n;

		assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
		n = recv(pfd.fd, payload + got, rh.msg_size - HDR - got, 0);
		assert_true(n > 0);
		got += (size_t)n;
	}
	expect_id(L.c2);
	vuc_close(L.c2);
	L.c2 = NULL;
	assert_int_equal(proxy_stop(&L.a), 0);
}

/* What one client did to the device is gone for the next: registers, RAM BAR, config space, and its old mapping. */
static void test_state_reset_between_clients(void **state)
{
	struct vfio_user_region_info info;
	uint8_t caps[256], buf[32], zero[32];
	size_t caps_len;
	int fd = -1;
	uint32_t v = 0;
	uint16_t cmd = 0;

	memset(zero, 0, sizeof(zero));
	start_serving(&L.a);
	L.c1 = proxy_client(&L.a);
	assert_non_null(L.c1);
	assert_int_equal(vuc_write32(L.c1, BAR0, EDU_REG_LIVENESS, 0x12345678), 0);
	assert_int_equal(vuc_read32(L.c1, BAR0, EDU_REG_LIVENESS, &v), 0);
	assert_int_equal(v, ~0x12345678u);
	assert_int_equal(vuc_write64(L.c1, BAR0, EDU_REG_DMA_SRC, 0xabcdef), 0);
	assert_int_equal(vuc_region_write(L.c1, BAR4, 0x100, "client-one-data", 15, false), 0);
	assert_int_equal(vuc_region_write(L.c1, BAR4, 0x90000, "client-one-data", 15, false), 0);
	assert_int_equal(vuc_region_read(L.c1, BAR4, 0x100, buf, 15), 0);
	assert_memory_equal(buf, "client-one-data", 15);
	cmd = 0x6; /* memory space, bus master */
	assert_int_equal(vuc_config_write(L.c1, 4, &cmd, 2), 0);
	/* the first client maps the RAM BAR and keeps the mapping after it leaves */
	assert_int_equal(vuc_region_info(L.c1, BAR4, &info, caps, sizeof(caps), &caps_len, &fd), 0);
	assert_true(fd >= 0);
	L.map_len = info.size;
	L.map = mmap(NULL, L.map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)info.offset);
	close(fd);
	assert_true(L.map != MAP_FAILED);
	memcpy((uint8_t *)L.map + 0x2000, "through-mmap", 12);
	assert_int_equal(vuc_region_read(L.c1, BAR4, 0x2000, buf, 12), 0);
	assert_memory_equal(buf, "through-mmap", 12);
	vuc_close(L.c1);
	L.c1 = NULL;

	L.c2 = proxy_client(&L.a);
	assert_non_null(L.c2);
	/* a write through the stale mapping after the second client arrived */
	memcpy((uint8_t *)L.map + 0x3000, "late-write", 10);
	assert_int_equal(vuc_read32(L.c2, BAR0, EDU_REG_LIVENESS, &v), 0);
	assert_int_equal(v, 0xffffffffu);
	{
		uint64_t q = 1;

		assert_int_equal(vuc_read64(L.c2, BAR0, EDU_REG_DMA_SRC, &q), 0);
		assert_int_equal(q, 0);
	}
	assert_int_equal(vuc_config_read(L.c2, 4, &cmd, 2), 0);
	assert_int_equal(cmd & 0x6, 0);
	assert_int_equal(vuc_region_read(L.c2, BAR4, 0x100, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, zero, sizeof(buf));
	assert_int_equal(vuc_region_read(L.c2, BAR4, 0x90000, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, zero, sizeof(buf));
	assert_int_equal(vuc_region_read(L.c2, BAR4, 0x2000, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, zero, sizeof(buf));
	assert_int_equal(vuc_region_read(L.c2, BAR4, 0x3000, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, zero, sizeof(buf));
	/* and the second client's own mapping shows the same fresh RAM */
	assert_int_equal(vuc_region_info(L.c2, BAR4, &info, caps, sizeof(caps), &caps_len, &fd), 0);
	assert_true(fd >= 0);
	{
		uint8_t *m2 = mmap(NULL, info.size, PROT_READ, MAP_SHARED, fd, (off_t)info.offset);

		close(fd);
		assert_true(m2 != MAP_FAILED);
		assert_memory_equal(m2 + 0x3000, zero, sizeof(zero));
		assert_memory_equal(m2 + 0x100, zero, sizeof(zero));
		munmap(m2, info.size);
	}
	vuc_close(L.c2);
	L.c2 = NULL;
	assert_int_equal(proxy_stop(&L.a), 0);
}

/* ==== signals ==== */

static void test_sigterm_idle(void **state)
{
	start_serving(&L.a);
	assert_int_equal(proxy_stop(&L.a), 0);
}

/* SIGTERM with a client holding windows and eventfds, and another waiting: clean exit, both see the end. */
static void test_sigterm_with_clients(void **state)
{
	int mfd = new_memfd(0x10000), efd = new_eventfd();

	start_serving(&L.a);
	L.c1 = proxy_client(&L.a);
	assert_non_null(L.c1);
	assert_int_equal(vuc_dma_map_fd(L.c1, 0x100000, 0x10000, mfd, 0, RW), 0);
	assert_int_equal(vuc_set_irqs(L.c1, MSI, EVT_TRIGGER, 0, 1, &efd, NULL), 0);
	assert_int_equal(vuc_connect(L.a.socket_path, &L.c2), 0);
	assert_int_equal(proxy_stop(&L.a), 0);
	assert_int_equal(vuc_wait_closed(L.c1, WAIT_MS), 0);
	assert_int_equal(vuc_wait_closed(L.c2, WAIT_MS), 0);
}

static void test_sigint(void **state)
{
	start_serving(&L.a);
	L.c1 = proxy_client(&L.a);
	assert_non_null(L.c1);
	assert_int_equal(stop_with(&L.a, SIGINT), 0);
	assert_false(socket_exists(L.a.socket_path));
	assert_int_equal(vuc_wait_closed(L.c1, WAIT_MS), 0);
}

/* ==== a client that reads its replies slowly ==== */

#define BIG_READS 16
#define SLOW_CHUNK (32 * 1024)

/* Pipelines BIG_READS REGION_READs of the whole RAM BAR in one send: 16 MiB of replies to come. */
static void request_big_reads(struct vuc *c)
{
	struct {
		struct vfio_user_header h;
		struct vfio_user_region_access a;
	} __attribute__((packed)) req[BIG_READS];

	for (int i = 0; i < BIG_READS; i++) {
		req[i].h = (struct vfio_user_header){ .msg_id = (uint16_t)(0x100 + i), .cmd = VFIO_USER_REGION_READ,
						      .msg_size = sizeof(req[i]) };
		req[i].a = (struct vfio_user_region_access){ .offset = 0, .region = BAR4, .count = EDU_BAR_RAM_SIZE };
	}
	assert_int_equal(vuc_send_raw(c, req, sizeof(req), NULL, 0), 0);
}

/* Takes up to SLOW_CHUNK bytes of what the proxy sent, without waiting: the count, 0 at EOF, or -errno. */
static ssize_t read_some(int fd)
{
	static uint8_t buf[SLOW_CHUNK];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	return n < 0 ? -errno : n;
}

/*
 * SIGTERM while the proxy sends replies to a client that takes 32 KiB every 500 ms (each wait for room
 * ends with some progress): the proxy must not finish its sends first, it exits 0 within 3 s.
 */
static void test_sigterm_with_slow_reader(void **state)
{
	long term_at = 0;
	int status = -ETIMEDOUT, fd;

	start_serving(&L.a);
	L.c1 = proxy_client(&L.a);
	assert_non_null(L.c1);
	fd = vuc_socket_fd(L.c1);
	request_big_reads(L.c1);
	for (int tick = 0; status < 0; tick++) {
		assert_true(read_some(fd) != 0);
		if (tick == 2) {
			assert_int_equal(kill(L.a.pid, SIGTERM), 0);
			term_at = test_now_ms();
		}
		if (term_at && test_now_ms() - term_at > 3000)
			fail_msg("the proxy did not stop within 3 s of SIGTERM while a client read slowly");
		status = proxy_wait_exit(&L.a, 500);
		assert_true(status >= 0 || status == -ETIMEDOUT);
	}
	assert_true(term_at > 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		proxy_dump_log(&L.a);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_false(socket_exists(L.a.socket_path));
}

/*
 * --client-timeout bounds the whole of one message, not each wait for room: a client that reads 32 KiB
 * every 100 ms is dropped about 1 s into a 1 MiB reply (which would take it 3 s), and the next is served.
 * Each wait for room ends well within the timeout: a UNIX socket is writable again once its queue is
 * down to a quarter of the send buffer (about 5 reads here), so a slower reader would time out a wait.
 */
static void test_reply_deadline_is_total(void **state)
{
	static const char *const args[] = { "--client-timeout", "1000", NULL };
	long start, dropped = -1, deadline;
	ssize_t n;
	int fd;

	assert_int_equal(proxy_start(&L.a, args), 0);
	L.c1 = wait_served(&L.a);
	assert_non_null(L.c1);
	fd = vuc_socket_fd(L.c1);
	request_big_reads(L.c1);
	start = test_now_ms();
	while (dropped < 0 && test_now_ms() - start < 4000) {
		struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };

		n = read_some(fd);
		assert_true(n > 0 || n == -EAGAIN || n == -ECONNRESET);
		if (poll(&pfd, 1, 100) == 1 || n == -ECONNRESET)
			dropped = test_now_ms() - start;
	}
	if (dropped < 0 || dropped > 3000)
		fail_msg("a client reading slowly was %s", dropped < 0 ? "never dropped" : "dropped after more than 3 s");
	/* what was already on its way, then the end: EOF, or ECONNRESET as the proxy left requests unread */
	deadline = test_now_ms() + WAIT_MS;
	do {
		n = read_some(fd);
	} while (n > 0 && test_now_ms() < deadline);
	assert_true(n == 0 || n == -ECONNRESET);
	assert_true(proxy_log_contains(&L.a, "has not read our message within"));
	vuc_close(L.c1);
	L.c1 = NULL;
	L.c2 = proxy_client(&L.a);
	assert_non_null(L.c2);
	expect_id(L.c2);
	vuc_close(L.c2);
	L.c2 = NULL;
	assert_int_equal(proxy_stop_within(&L.a, WAIT_MS), 0);
}

/* ==== the socket ==== */

static void test_second_proxy_same_path(void **state)
{
	const char *args[] = { "emulate", "--socket-path", NULL, NULL };
	struct stat st;

	start_serving(&L.a);
	args[2] = L.a.socket_path;
	assert_int_equal(run_cmd(args), 1);
	expect_one_error_line("in use");
	/* the first one is untouched: its socket is there and serves */
	assert_true(proxy_alive(&L.a));
	assert_int_equal(stat(L.a.socket_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	L.c1 = proxy_client(&L.a);
	assert_non_null(L.c1);
	expect_id(L.c1);
	/* likewise while it is busy with a client */
	assert_int_equal(run_cmd(args), 1);
	expect_one_error_line("in use");
	expect_id(L.c1);
	vuc_close(L.c1);
	L.c1 = NULL;
	assert_int_equal(proxy_stop(&L.a), 0);
}

static void test_socket_dir_missing(void **state)
{
	char path[128];
	const char *args[] = { "emulate", "--socket-path", path, NULL };
	struct stat st;

	make_scratch_dir();
	snprintf(path, sizeof(path), "%s/no/such/dir/sock", L.dir);
	assert_int_equal(run_cmd(args), 1);
	expect_one_error_line("does not exist");
	assert_int_not_equal(stat(path, &st), 0);
}

static void test_socket_path_too_long(void **state)
{
	char path[256];
	const char *args[] = { "emulate", "--socket-path", path, NULL };
	size_t n;

	make_scratch_dir();
	n = (size_t)snprintf(path, sizeof(path), "%s/", L.dir);
	memset(path + n, 's', 200 - n);
	path[200] = '\0';
	assert_true(strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path));
	assert_int_equal(run_cmd(args), 1);
	expect_one_error_line("too long");
}

/* A regular file where the socket should be: refused, and the file is left alone. */
static void test_socket_path_not_a_socket(void **state)
{
	char path[128], back[16] = { 0 };
	const char *args[] = { "emulate", "--socket-path", path, NULL };
	int fd;

	make_scratch_dir();
	snprintf(path, sizeof(path), "%s/sock", L.dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep me", 7), 7);
	close(fd);
	assert_int_equal(run_cmd(args), 1);
	expect_one_error_line("not a socket");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, back, sizeof(back)), 7);
	close(fd);
	assert_string_equal(back, "keep me");
}

/* A socket file left by a SIGKILLed proxy is replaced by the next one, which serves and removes it at exit. */
static void test_stale_socket_replaced(void **state)
{
	const char *args[] = { "emulate", "--socket-path", NULL, NULL };
	struct stat st;
	struct vuc *c = NULL;

	start_serving(&L.a);
	assert_int_equal(kill(L.a.pid, SIGKILL), 0);
	assert_int_equal(waitpid(L.a.pid, NULL, 0), L.a.pid);
	L.a.pid = 0;
	assert_int_equal(stat(L.a.socket_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(vuc_connect(L.a.socket_path, &c), -ECONNREFUSED);

	L.b = L.a; /* same directory and socket path, its own log */
	snprintf(L.b.log_path, sizeof(L.b.log_path), "%s/log2", L.a.dir);
	args[2] = L.b.socket_path;
	spawn_proxy(&L.b, args, -1);
	L.c1 = wait_served(&L.b);
	assert_non_null(L.c1);
	expect_id(L.c1);
	vuc_close(L.c1);
	L.c1 = NULL;
	unlink(L.a.log_path);
	assert_int_equal(proxy_stop(&L.b), 0);
	L.a.dir[0] = '\0'; /* proxy_stop cleaned the shared directory */
}

/* emulate --fd N: a listening socket made by the caller (as systemd would), never removed by the proxy. */
static void test_inherited_fd(void **state)
{
	static const char *const args[] = { "emulate", "--fd", "3", NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd, base;

	make_scratch_dir();
	snprintf(L.a.dir, sizeof(L.a.dir), "%s", L.dir);
	snprintf(L.a.socket_path, sizeof(L.a.socket_path), "%s/sock", L.dir);
	snprintf(L.a.log_path, sizeof(L.a.log_path), "%s/log", L.dir);
	assert_true(strlen(L.a.socket_path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, L.a.socket_path, strlen(L.a.socket_path) + 1);
	lfd = keep_fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	spawn_proxy(&L.a, args, lfd);
	/* only the proxy holds the listening socket now */
	L.nfds--;
	close(lfd);
	L.c1 = wait_served(&L.a);
	assert_non_null(L.c1);
	expect_id(L.c1);
	vuc_close(L.c1);
	L.c1 = NULL;
	base = idle_fd_count(&L.a);
	L.c1 = proxy_client(&L.a);
	assert_non_null(L.c1);
	expect_id(L.c1);
	vuc_close(L.c1);
	L.c1 = NULL;
	assert_int_equal(proxy_wait_fds(&L.a, base, CLEANUP_MS), base);
	/* SIGTERM: exit 0; the socket is the caller's, so it stays */
	assert_int_equal(stop_with(&L.a, SIGTERM), 0);
	assert_true(socket_exists(L.a.socket_path));
	L.a.dir[0] = '\0';
}

static void test_inherited_fd_not_listening(void **state)
{
	static const char *const args[] = { "emulate", "--fd", "0", NULL };

	assert_int_equal(run_cmd(args), 1);
	expect_one_error_line("not a listening socket");
}

/* ==== the command line ==== */

static void test_version_flag(void **state)
{
	static const char *const args[] = { "--version", NULL };

	assert_int_equal(run_cmd(args), 0);
	assert_int_equal(count_lines(L.out), 1);
	assert_int_equal(strncmp(L.out, "vfio-user-proxy ", 16), 0);
	assert_true(L.out[16] >= '0' && L.out[16] <= '9');
	assert_string_equal(L.err, "");
}

static void test_help(void **state)
{
	static const char *const top[] = { "--help", NULL };
	static const char *const emulate[] = { "emulate", "--help", NULL };

	assert_int_equal(run_cmd(top), 0);
	assert_non_null(strstr(L.out, "usage"));
	assert_non_null(strstr(L.out, "emulate"));
	assert_string_equal(L.err, "");
	assert_int_equal(run_cmd(emulate), 0);
	assert_non_null(strstr(L.out, "usage"));
	assert_non_null(strstr(L.out, "--socket-path"));
	assert_non_null(strstr(L.out, "--fd"));
	assert_string_equal(L.err, "");
}

static void test_usage_errors(void **state)
{
	static const char *const unknown[] = { "frobnicate", NULL };
	static const char *const none[] = { NULL };
	static const char *const bad_opt[] = { "--bogus", NULL };

	assert_int_equal(run_cmd(unknown), 2);
	assert_non_null(strstr(L.err, "frobnicate"));
	assert_string_equal(L.out, "");
	assert_int_equal(run_cmd(none), 2);
	assert_true(L.err[0] != '\0');
	assert_int_equal(run_cmd(bad_opt), 2);
	assert_true(L.err[0] != '\0');
}

static void test_emulate_usage_errors(void **state)
{
	char path[128];
	static const char *const no_socket[] = { "emulate", NULL };
	static const char *const bad_fd[] = { "emulate", "--fd", "three", NULL };
	const char *both[] = { "emulate", "--socket-path", path, "--fd", "3", NULL };
	const char *device[] = { "emulate", "--device", "nosuch", "--socket-path", path, NULL };
	const char *extra[] = { "emulate", "--socket-path", path, "surplus", NULL };

	make_scratch_dir();
	snprintf(path, sizeof(path), "%s/sock", L.dir);
	assert_int_equal(run_cmd(no_socket), 2);
	assert_non_null(strstr(L.err, "--socket-path"));
	assert_int_equal(run_cmd(both), 2);
	assert_true(L.err[0] != '\0');
	assert_int_equal(run_cmd(bad_fd), 2);
	assert_non_null(strstr(L.err, "three"));
	assert_int_equal(run_cmd(device), 2);
	assert_non_null(strstr(L.err, "nosuch"));
	assert_int_equal(run_cmd(extra), 2);
	assert_non_null(strstr(L.err, "surplus"));
	/* none of them got as far as creating the socket */
	assert_int_not_equal(access(path, F_OK), 0);
}

static void test_probe_missing_socket(void **state)
{
	char path[128];
	const char *args[] = { "probe", path, NULL };

	make_scratch_dir();
	snprintf(path, sizeof(path), "%s/nothing-here.sock", L.dir);
	assert_int_equal(run_cmd(args), 1);
	expect_one_error_line(path);
	assert_string_equal(L.out, "");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, case_setup, case_teardown)
	const struct CMUnitTest tests[] = {
		T(test_twenty_clients_no_leak),
		T(test_one_client_at_a_time),
		T(test_state_reset_between_clients),
		T(test_sigterm_idle),
		T(test_sigterm_with_clients),
		T(test_sigint),
		T(test_sigterm_with_slow_reader),
		T(test_reply_deadline_is_total),
		T(test_second_proxy_same_path),
		T(test_socket_dir_missing),
		T(test_socket_path_too_long),
		T(test_socket_path_not_a_socket),
		T(test_stale_socket_replaced),
		T(test_inherited_fd),
		T(test_inherited_fd_not_listening),
		T(test_version_flag),
		T(test_help),
		T(test_usage_errors),
		T(test_emulate_usage_errors),
		T(test_probe_missing_socket),
	};
#undef T

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
}
