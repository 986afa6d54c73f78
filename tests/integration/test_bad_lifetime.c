/* test_bad_lifetime.c: clients that fill the DMA map limits, leave holding windows and eventfds, or never read their replies. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "../common/bad_input.h"

/* ==== as many windows as the proxy allows ==== */

/* max_dma_maps windows (posted maps), then one more: ENOSPC; then gone with all of them mapped. */
static void test_dma_map_limit(void **state)
{
	enum { BATCH = 1024 };
	const uint32_t limit = VFIO_USER_DEF_MAX_DMA_MAPS;
	const size_t one = HDR + sizeof(struct vfio_user_dma_map);
	uint8_t *buf = big_buffer(BATCH * one);
	struct vfio_user_dma_map m;
	struct vfio_user_dma_unmap u;

	fresh();
	for (uint32_t i = 0; i < limit;) {
		uint32_t n = limit - i < BATCH ? limit - i : BATCH;

		for (uint32_t j = 0; j < n; j++) {
			struct vfio_user_header h = { .msg_id = (uint16_t)(i + j), .cmd = VFIO_USER_DMA_MAP,
						      .msg_size = (uint32_t)one, .flags = VFIO_USER_F_NO_REPLY };

			m = dma_map(VFIO_USER_F_DMA_REGION_READ, 0, 0x100000000ull + (uint64_t)(i + j) * 0x1000, 0x1000);
			memcpy(buf + j * one, &h, HDR);
			memcpy(buf + j * one + HDR, &m, sizeof(m));
		}
		assert_int_equal(vuc_send_raw(F.c, buf, n * one, NULL, 0), 0);
		i += n;
	}
	m = dma_map(VFIO_USER_F_DMA_REGION_READ, 0, 0x10000, 0x1000);
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, ENOSPC);
	/* every posted map was taken: the last one unmaps exactly, and its room serves the refused one */
	u = dma_unmap(0, 0x100000000ull + (uint64_t)(limit - 1) * 0x1000, 0x1000);
	EXPECT_OK(F.c, VFIO_USER_DMA_UNMAP, &u, sizeof(u), NULL, 0);
	EXPECT_OK(F.c, VFIO_USER_DMA_MAP, &m, sizeof(m), NULL, 0);
	m.addr = 0x20000;
	EXPECT_ERR(F.c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, ENOSPC);
	case_done();
}

/*
 * As many fd-backed windows as max_dma_maps allows, each one a mapping in the proxy: past the kernel's
 * vm.max_map_count (65530 by default) its mmap fails with ENOMEM. The session goes on, and all of it is
 * released when the client leaves.
 */
static void test_dma_map_fd_flood(void **state)
{
	int fd = new_memfd(0x1000);
	uint32_t i;
	int ret = 0;

	fresh();
	for (i = 0; i < VFIO_USER_DEF_MAX_DMA_MAPS; i++) {
		ret = vuc_dma_map_fd(F.c, 0x100000000ull + (uint64_t)i * 0x1000, 0x1000, fd, 0, RW);
		if (ret)
			break;
	}
	if (ret) {
		if (ret != -ENOMEM)
			print_error("window %u: expected ENOMEM or success, got %d (%s)\n", i, -ret, strerror(-ret));
		assert_int_equal(ret, -ENOMEM);
		assert_true(i > 60000);
	}
	assert_true(proxy_map_count(&F.proxy) > (int)i);
	expect_fds_while_connected(2); /* the socket and the one memfd behind every window */
	vuc_close(F.c);
	F.c = NULL;
	assert_int_equal(proxy_wait_fds(&F.proxy, F.case_fds, CLEANUP_MS), F.case_fds);
	assert_int_equal(proxy_map_count(&F.proxy), F.case_maps);
	case_done();
}

/* ==== a client that leaves with everything set up ==== */

/* fd-backed windows, MSI-X, ERR and REQ eventfds and an INTx unmask eventfd, then gone without undoing any. */
static void test_disconnect_holding_resources(void **state)
{
	int msix[EDU_MSIX_VECTORS], err_fd = new_eventfd(), req_fd = new_eventfd(), unmask = new_eventfd();
	struct vfio_user_region_info info;
	size_t caps_len;
	int bar4_fd = -1;
	uint32_t v;

	for (unsigned int i = 0; i < EDU_MSIX_VECTORS; i++)
		msix[i] = new_eventfd();
	fresh();
	for (int i = 0; i < 3; i++) {
		int mfd = new_memfd(0x10000);

		assert_int_equal(vuc_dma_map_fd(F.c, 0x100000 + (uint64_t)i * 0x100000, 0x10000, mfd, 0, RW), 0);
	}
	/* and one window served through messages */
	assert_int_equal(vuc_dma_map_mem(F.c, 0x800000, 0x1000, big_buffer(0x1000), RW), 0);
	assert_int_equal(vuc_set_irqs(F.c, MSIX, EVT_TRIGGER, 0, EDU_MSIX_VECTORS, msix, NULL), 0);
	assert_int_equal(vuc_set_irqs(F.c, ERR_IRQ, EVT_TRIGGER, 0, 1, &err_fd, NULL), 0);
	assert_int_equal(vuc_set_irqs(F.c, REQ_IRQ, EVT_TRIGGER, 0, 1, &req_fd, NULL), 0);
	assert_int_equal(vuc_set_irqs(F.c, INTX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, &unmask,
				      NULL),
			 0);
	assert_int_equal(vuc_region_info(F.c, BAR4, &info, NULL, 0, &caps_len, &bar4_fd), 0);
	if (bar4_fd >= 0)
		keep_fd(bar4_fd);
	assert_int_equal(vuc_read32(F.c, BAR0, EDU_REG_ID, &v), 0);
	/* the socket, every eventfd and one fd per file behind the windows (three memfds; for a hand-over) */
	assert_int_equal(proxy_fd_count(&F.proxy), F.case_fds + 1 + EDU_MSIX_VECTORS + 3 + 3);
	assert_true(proxy_map_count(&F.proxy) >= F.case_maps + 3);
	vuc_close(F.c);
	F.c = NULL;
	assert_int_equal(proxy_wait_fds(&F.proxy, F.case_fds, CLEANUP_MS), F.case_fds);
	assert_int_equal(proxy_map_count(&F.proxy), F.case_maps);
	case_done();
	assert_int_equal(proxy_map_count(&F.proxy), F.case_maps);
}

/* The same with INTx enabled and its mask eventfd. */
static void test_disconnect_holding_intx(void **state)
{
	int trig = new_eventfd(), unmask = new_eventfd();
	int mfd = new_memfd(0x200000);

	fresh();
	assert_int_equal(vuc_set_irqs(F.c, INTX, EVT_TRIGGER, 0, 1, &trig, NULL), 0);
	assert_int_equal(vuc_set_irqs(F.c, INTX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, &unmask,
				      NULL),
			 0);
	assert_int_equal(vuc_dma_map_fd(F.c, 0x40000000, 0x100000, mfd, 0x100000, VFIO_USER_F_DMA_REGION_READ), 0);
	assert_int_equal(proxy_fd_count(&F.proxy), F.case_fds + 4); /* and the window's memfd */
	vuc_close(F.c);
	F.c = NULL;
	assert_int_equal(proxy_wait_fds(&F.proxy, F.case_fds, CLEANUP_MS), F.case_fds);
	assert_int_equal(proxy_map_count(&F.proxy), F.case_maps);
	case_done();
}

/* ==== a client that never reads its replies (separate proxy with a short --client-timeout) ==== */

static void test_client_never_reads(void **state)
{
	static const char *const args[] = { "--client-timeout", "300", NULL };
	struct proxy_proc p;
	struct vuc *c = NULL, *chk;
	struct vfio_user_region_access ra = region_access(BAR4, 0, VFIO_USER_SERVER_MAX_DATA_XFER);
	uint8_t buf[8 * (HDR + sizeof(ra))];
	int base, n;
	uint32_t v = 0;

	if (proxy_start(&p, args)) {
		proxy_dump_log(&p);
		proxy_kill(&p);
		fail_msg("proxy with --client-timeout did not start");
	}
	chk = first_client(&p);
	if (!chk)
		proxy_kill(&p);
	assert_non_null(chk);
	base = proxy_fd_count(&p) - 1;
	vuc_close(chk);
	n = proxy_wait_fds(&p, base, CLEANUP_MS);
	if (n != base || vuc_connect(p.socket_path, &c) || vuc_negotiate(c, &(struct vuc_server_caps){ 0 })) {
		vuc_close(c);
		proxy_kill(&p);
		fail_msg("proxy with --client-timeout not usable");
	}
	/* 8 MiB of replies asked for, none read: the server cannot finish the first one */
	for (int i = 0; i < 8; i++) {
		struct vfio_user_header h = { .msg_id = (uint16_t)(0x500 + i), .cmd = VFIO_USER_REGION_READ,
					      .msg_size = HDR + sizeof(ra) };

		memcpy(buf + i * (HDR + sizeof(ra)), &h, HDR);
		memcpy(buf + i * (HDR + sizeof(ra)) + HDR, &ra, sizeof(ra));
	}
	if (vuc_send_raw(c, buf, sizeof(buf), NULL, 0)) {
		vuc_close(c);
		proxy_kill(&p);
		fail_msg("could not send the requests");
	}
	/* the proxy gives up on it: its socket is closed while we still read nothing */
	n = proxy_wait_fds(&p, base, 10000) == base ? vuc_wait_closed(c, WAIT_MS) : -1;
	vuc_close(c);
	if (n == 0) {
		n = proxy_alive(&p) && proxy_wait_fds(&p, base, CLEANUP_MS) == base ? 0 : -1;
		chk = n == 0 ? proxy_client(&p) : NULL;
		if (!chk || vuc_read32(chk, BAR0, EDU_REG_ID, &v) || v != EDU_ID_VALUE)
			n = -1;
		vuc_close(chk);
		if (proxy_wait_fds(&p, base, CLEANUP_MS) != base)
			n = -1;
	} else {
		n = -2;
	}
	if (n) {
		proxy_dump_log(&p);
		proxy_kill(&p);
		fail_msg("%s", n == -2 ? "the proxy kept a client that never reads" : "proxy unhealthy after dropping it");
	}
	assert_int_equal(proxy_stop(&p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BAD_INPUT_TEST(test_dma_map_limit),
		BAD_INPUT_TEST(test_dma_map_fd_flood),
		BAD_INPUT_TEST(test_disconnect_holding_resources),
		BAD_INPUT_TEST(test_disconnect_holding_intx),
		cmocka_unit_test(test_client_never_reads),
	};

	return cmocka_run_group_tests_name("bad_lifetime", tests, group_setup, group_teardown);
}
