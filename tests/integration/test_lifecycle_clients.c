/* test_lifecycle_clients.c: the proxy process and its clients over time: sequential clients without leaks, one client at a time, reset between clients, signals (also amid a slow reader's replies), the reply deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

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

#include "../common/lifecycle.h"
#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define BAR4 VFIO_PCI_BAR4_REGION_INDEX
#define MSI VFIO_PCI_MSI_IRQ_INDEX
#define RW (VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)
#define EVT_TRIGGER (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define HDR sizeof(struct vfio_user_header)
#define WAIT_MS 5000

static int new_memfd(size_t size)
{
	int fd = life_keep_fd(memfd_create("vup-lifecycle", MFD_CLOEXEC));

	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static int new_eventfd(void)
{
	return life_keep_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
}

/* ==== clients over time ==== */

/* 20 clients each set up DMA, an interrupt and the BAR4 mapping, then vanish without undoing any of it. */
static void test_twenty_clients_no_leak(void **state)
{
	int base_fds, base_maps;

	life_start_serving(&life.a);
	base_fds = life_idle_fd_count(&life.a);
	base_maps = proxy_map_count(&life.a);
	assert_true(base_maps > 0);
	for (int i = 0; i < 20; i++) {
		struct vuc_server_caps caps;
		struct vfio_user_region_info info;
		uint8_t caps_buf[256];
		size_t caps_len = 0;
		int mfd = new_memfd(0x10000), efd = new_eventfd(), bar_fd = -1;
		uint32_t v = 0;
		uint16_t vendor = 0;

		assert_int_equal(vuc_connect(life.a.socket_path, &life.c1), 0);
		assert_int_equal(vuc_negotiate(life.c1, &caps), 0);
		assert_int_equal(caps.major, 0);
		assert_int_equal(vuc_dma_map_fd(life.c1, 0x100000, 0x10000, mfd, 0, RW), 0);
		assert_int_equal(vuc_set_irqs(life.c1, MSI, EVT_TRIGGER, 0, 1, &efd, NULL), 0);
		assert_int_equal(vuc_region_info(life.c1, BAR4, &info, caps_buf, sizeof(caps_buf), &caps_len, &bar_fd), 0);
		assert_true(bar_fd >= 0);
		close(bar_fd);
		assert_int_equal(info.size, EDU_BAR_RAM_SIZE);
		assert_int_equal(vuc_read32(life.c1, BAR0, EDU_REG_ID, &v), 0);
		assert_int_equal(v, EDU_ID_VALUE);
		assert_int_equal(vuc_config_read(life.c1, 0, &vendor, 2), 0);
		assert_int_equal(vendor, EDU_VENDOR_ID);
		assert_int_equal(vuc_read32(life.c1, BAR4, 0x1000, &v), 0);
		assert_int_equal(v, 0);
		/* the proxy holds the client's socket, its eventfd and the window's memfd (one per file, for a
		 * hand-over) */
		assert_int_equal(proxy_fd_count(&life.a), base_fds + 3);
		assert_true(proxy_map_count(&life.a) > base_maps);
		vuc_close(life.c1);
		life.c1 = NULL;
		assert_int_equal(proxy_wait_fds(&life.a, base_fds, LIFE_CLEANUP_MS), base_fds);
	}
	assert_int_equal(proxy_fd_count(&life.a), base_fds);
	assert_int_equal(proxy_map_count(&life.a), base_maps);
	assert_int_equal(proxy_stop(&life.a), 0);
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

	life_start_serving(&life.a);
	life.c1 = proxy_client(&life.a);
	assert_non_null(life.c1);
	assert_int_equal(vuc_connect(life.a.socket_path, &life.c2), 0);
	assert_int_equal(vuc_send_raw(life.c2, &req, sizeof(req), NULL, 0), 0);
	/* while the first is connected, the second hears nothing (and the first is served as usual) */
	pfd = (struct pollfd){ .fd = vuc_socket_fd(life.c2), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 300), 0);
	life_expect_id(life.c1);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	vuc_close(life.c1);
	life.c1 = NULL;
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
	life_expect_id(life.c2);
	vuc_close(life.c2);
	life.c2 = NULL;
	assert_int_equal(proxy_stop(&life.a), 0);
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
	life_start_serving(&life.a);
	life.c1 = proxy_client(&life.a);
	assert_non_null(life.c1);
	assert_int_equal(vuc_write32(life.c1, BAR0, EDU_REG_LIVENESS, 0x12345678), 0);
	assert_int_equal(vuc_read32(life.c1, BAR0, EDU_REG_LIVENESS, &v), 0);
	assert_int_equal(v, ~0x12345678u);
	assert_int_equal(vuc_write64(life.c1, BAR0, EDU_REG_DMA_SRC, 0xabcdef), 0);
	assert_int_equal(vuc_region_write(life.c1, BAR4, 0x100, "client-one-data", 15, false), 0);
	assert_int_equal(vuc_region_write(life.c1, BAR4, 0x90000, "client-one-data", 15, false), 0);
	assert_int_equal(vuc_region_read(life.c1, BAR4, 0x100, buf, 15), 0);
	assert_memory_equal(buf, "client-one-data", 15);
	cmd = 0x6; /* memory space, bus master */
	assert_int_equal(vuc_config_write(life.c1, 4, &cmd, 2), 0);
	/* the first client maps the RAM BAR and keeps the mapping after it leaves */
	assert_int_equal(vuc_region_info(life.c1, BAR4, &info, caps, sizeof(caps), &caps_len, &fd), 0);
	assert_true(fd >= 0);
	life.map_len = info.size;
	life.map = mmap(NULL, life.map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)info.offset);
	close(fd);
	assert_true(life.map != MAP_FAILED);
	memcpy((uint8_t *)life.map + 0x2000, "through-mmap", 12);
	assert_int_equal(vuc_region_read(life.c1, BAR4, 0x2000, buf, 12), 0);
	assert_memory_equal(buf, "through-mmap", 12);
	vuc_close(life.c1);
	life.c1 = NULL;

	life.c2 = proxy_client(&life.a);
	assert_non_null(life.c2);
	/* a write through the stale mapping after the second client arrived */
	memcpy((uint8_t *)life.map + 0x3000, "late-write", 10);
	assert_int_equal(vuc_read32(life.c2, BAR0, EDU_REG_LIVENESS, &v), 0);
	assert_int_equal(v, 0xffffffffu);
	{
		uint64_t q = 1;

		assert_int_equal(vuc_read64(life.c2, BAR0, EDU_REG_DMA_SRC, &q), 0);
		assert_int_equal(q, 0);
	}
	assert_int_equal(vuc_config_read(life.c2, 4, &cmd, 2), 0);
	assert_int_equal(cmd & 0x6, 0);
	assert_int_equal(vuc_region_read(life.c2, BAR4, 0x100, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, zero, sizeof(buf));
	assert_int_equal(vuc_region_read(life.c2, BAR4, 0x90000, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, zero, sizeof(buf));
	assert_int_equal(vuc_region_read(life.c2, BAR4, 0x2000, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, zero, sizeof(buf));
	assert_int_equal(vuc_region_read(life.c2, BAR4, 0x3000, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, zero, sizeof(buf));
	/* and the second client's own mapping shows the same fresh RAM */
	assert_int_equal(vuc_region_info(life.c2, BAR4, &info, caps, sizeof(caps), &caps_len, &fd), 0);
	assert_true(fd >= 0);
	{
		uint8_t *m2 = mmap(NULL, info.size, PROT_READ, MAP_SHARED, fd, (off_t)info.offset);

		close(fd);
		assert_true(m2 != MAP_FAILED);
		assert_memory_equal(m2 + 0x3000, zero, sizeof(zero));
		assert_memory_equal(m2 + 0x100, zero, sizeof(zero));
		munmap(m2, info.size);
	}
	vuc_close(life.c2);
	life.c2 = NULL;
	assert_int_equal(proxy_stop(&life.a), 0);
}

/* ==== signals ==== */

static void test_sigterm_idle(void **state)
{
	life_start_serving(&life.a);
	assert_int_equal(proxy_stop(&life.a), 0);
}

/* SIGTERM with a client holding windows and eventfds, and another waiting: clean exit, both see the end. */
static void test_sigterm_with_clients(void **state)
{
	int mfd = new_memfd(0x10000), efd = new_eventfd();

	life_start_serving(&life.a);
	life.c1 = proxy_client(&life.a);
	assert_non_null(life.c1);
	assert_int_equal(vuc_dma_map_fd(life.c1, 0x100000, 0x10000, mfd, 0, RW), 0);
	assert_int_equal(vuc_set_irqs(life.c1, MSI, EVT_TRIGGER, 0, 1, &efd, NULL), 0);
	assert_int_equal(vuc_connect(life.a.socket_path, &life.c2), 0);
	assert_int_equal(proxy_stop(&life.a), 0);
	assert_int_equal(vuc_wait_closed(life.c1, WAIT_MS), 0);
	assert_int_equal(vuc_wait_closed(life.c2, WAIT_MS), 0);
}

static void test_sigint(void **state)
{
	life_start_serving(&life.a);
	life.c1 = proxy_client(&life.a);
	assert_non_null(life.c1);
	assert_int_equal(life_stop_with(&life.a, SIGINT), 0);
	assert_false(life_socket_exists(life.a.socket_path));
	assert_int_equal(vuc_wait_closed(life.c1, WAIT_MS), 0);
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

	life_start_serving(&life.a);
	life.c1 = proxy_client(&life.a);
	assert_non_null(life.c1);
	fd = vuc_socket_fd(life.c1);
	request_big_reads(life.c1);
	for (int tick = 0; status < 0; tick++) {
		assert_true(read_some(fd) != 0);
		if (tick == 2) {
			assert_int_equal(kill(life.a.pid, SIGTERM), 0);
			term_at = test_now_ms();
		}
		if (term_at && test_now_ms() - term_at > 3000)
			fail_msg("the proxy did not stop within 3 s of SIGTERM while a client read slowly");
		status = proxy_wait_exit(&life.a, 500);
		assert_true(status >= 0 || status == -ETIMEDOUT);
	}
	assert_true(term_at > 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		proxy_dump_log(&life.a);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_false(life_socket_exists(life.a.socket_path));
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

	assert_int_equal(proxy_start(&life.a, args), 0);
	life.c1 = life_wait_served(&life.a);
	assert_non_null(life.c1);
	fd = vuc_socket_fd(life.c1);
	request_big_reads(life.c1);
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
	assert_true(proxy_log_contains(&life.a, "has not read our message within"));
	vuc_close(life.c1);
	life.c1 = NULL;
	life.c2 = proxy_client(&life.a);
	assert_non_null(life.c2);
	life_expect_id(life.c2);
	vuc_close(life.c2);
	life.c2 = NULL;
	assert_int_equal(proxy_stop_within(&life.a, WAIT_MS), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, life_setup, life_teardown)
	const struct CMUnitTest tests[] = {
		T(test_twenty_clients_no_leak),
		T(test_one_client_at_a_time),
		T(test_state_reset_between_clients),
		T(test_sigterm_idle),
		T(test_sigterm_with_clients),
		T(test_sigint),
		T(test_sigterm_with_slow_reader),
		T(test_reply_deadline_is_total),
	};
#undef T

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("lifecycle_clients", tests, NULL, NULL);
}
