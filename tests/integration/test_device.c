/* test_device.c: the real proxy process driven over its socket: handshake variants, device and region info, config space, MMIO, the mmapped BAR, reset. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../common/harness.h"
#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define BAR2 VFIO_PCI_BAR2_REGION_INDEX
#define BAR4 VFIO_PCI_BAR4_REGION_INDEX
#define CFG VFIO_PCI_CONFIG_REGION_INDEX


/* A fresh connection negotiating a given proposal; the fixture's client is closed first (one client at a time). */
static int negotiate_as(struct proxy_fixture *f, uint16_t major, uint16_t minor, const char *json,
			struct vuc_server_caps *caps)
{
	struct vuc *c;
	int ret;

	if (f->c) {
		vuc_close(f->c);
		f->c = NULL;
	}
	assert_int_equal(vuc_connect(f->proxy.socket_path, &c), 0);
	ret = vuc_negotiate_custom(c, major, minor, json, caps);
	f->c = c;
	return ret;
}

static void test_version_variants(void **state)
{
	struct proxy_fixture *f = *state;
	struct vuc_server_caps caps;

	/* QEMU: 0.0 with capabilities */
	assert_int_equal(negotiate_as(f, 0, 0,
				      "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,"
				      "\"pgsizes\":4096,\"max_dma_maps\":65535,\"migration\":{\"pgsize\":4096,"
				      "\"max_bitmap_size\":268435456}}}",
				      &caps),
			 0);
	assert_int_equal(caps.major, 0);
	assert_int_equal(caps.minor, 0);
	assert_int_equal(caps.max_msg_fds, 16);
	assert_int_equal(caps.max_data_xfer_size, 1 << 20);
	assert_int_equal(caps.max_dma_maps, 65535);
	assert_int_equal(caps.pgsizes, 4096);
	assert_true(caps.write_multiple);
	assert_non_null(strstr(caps.json, "capabilities"));
	/* SPDK: 0.1 and no JSON at all */
	assert_int_equal(negotiate_as(f, 0, 1, NULL, &caps), 0);
	assert_int_equal(caps.minor, 1);
	assert_int_equal(caps.max_msg_fds, 16);
	/* rust-vmm: 0.1 with a migration object */
	assert_int_equal(negotiate_as(f, 0, 1, "{\"capabilities\":{\"migration\":{\"pgsize\":4096}}}", &caps), 0);
	/* alioth: 0.2 with a non-standard key */
	assert_int_equal(negotiate_as(f, 0, 2, "{\"capabilities\":{\"max_fds\":8,\"max_msg_fds\":8}}", &caps), 0);
	assert_int_equal(caps.minor, 2);
	/* a newer minor is answered with ours */
	assert_int_equal(negotiate_as(f, 0, 9, "{}", &caps), 0);
	assert_int_equal(caps.minor, VFIO_USER_MINOR);
	/* another major is refused */
	assert_int_equal(negotiate_as(f, 1, 0, "{}", &caps), -ENOTSUP);
	/* malformed JSON, wrong types */
	assert_int_equal(negotiate_as(f, 0, 1, "{\"capabilities\":", &caps), -EINVAL);
	assert_int_equal(negotiate_as(f, 0, 1, "{\"capabilities\":{\"max_msg_fds\":\"x\"}}", &caps), -EINVAL);
	assert_int_equal(negotiate_as(f, 0, 1, "[1,2]", &caps), -EINVAL);
	/* and the server is still fine afterwards */
	assert_int_equal(negotiate_as(f, 0, 2, NULL, &caps), 0);
}

static void test_device_info(void **state)
{
	struct proxy_fixture *f = *state;
	struct vfio_user_device_info info;

	assert_int_equal(vuc_device_info(f->c, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(info.num_regions, 9);
	assert_int_equal(info.num_irqs, 5);
	assert_int_equal(info.argsz, sizeof(info));
}

static void test_region_info(void **state)
{
	struct proxy_fixture *f = *state;
	struct vfio_user_region_info info;
	uint8_t caps[256];
	size_t caps_len;
	int fd;
	const struct vfio_user_cap_sparse_mmap *sp = (const void *)caps;

	assert_int_equal(vuc_region_info(f->c, BAR0, &info, caps, sizeof(caps), &caps_len, &fd), 0);
	assert_int_equal(info.size, EDU_BAR_REGS_SIZE);
	assert_int_equal(info.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
	assert_int_equal(fd, -1);
	assert_int_equal(caps_len, 0);

	assert_int_equal(vuc_region_info(f->c, BAR2, &info, caps, sizeof(caps), &caps_len, &fd), 0);
	assert_int_equal(info.size, EDU_BAR_MSIX_SIZE);

	assert_int_equal(vuc_region_info(f->c, BAR4, &info, caps, sizeof(caps), &caps_len, &fd), 0);
	assert_int_equal(info.size, EDU_BAR_RAM_SIZE);
	assert_true(info.flags & VFIO_REGION_INFO_FLAG_MMAP);
	assert_true(info.flags & VFIO_REGION_INFO_FLAG_CAPS);
	assert_int_equal(info.cap_offset, sizeof(info));
	assert_true(fd >= 0);
	close(fd);
	assert_true(caps_len >= sizeof(*sp) + 2 * sizeof(sp->areas[0]));
	assert_int_equal(sp->header.id, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	assert_int_equal(sp->header.next, 0);
	assert_int_equal(sp->nr_areas, 2);
	assert_int_equal(sp->areas[0].offset, 0);
	assert_int_equal(sp->areas[0].size + 0x1000 + sp->areas[1].size, EDU_BAR_RAM_SIZE);

	assert_int_equal(vuc_region_info(f->c, CFG, &info, caps, sizeof(caps), &caps_len, &fd), 0);
	assert_int_equal(info.size, 4096);
	for (uint32_t i = 0; i < 9; i++) {
		assert_int_equal(vuc_region_info(f->c, i, &info, NULL, 0, &caps_len, &fd), 0);
		if (fd >= 0)
			close(fd);
		if (i == 1 || i == 3 || i == 5 || i == VFIO_PCI_ROM_REGION_INDEX || i == VFIO_PCI_VGA_REGION_INDEX)
			assert_int_equal(info.size, 0);
	}
	assert_int_equal(vuc_region_info(f->c, 9, &info, NULL, 0, &caps_len, &fd), -EINVAL);
}

static void test_region_info_small_argsz(void **state)
{
	struct proxy_fixture *f = *state;
	struct vfio_user_region_info req = { .argsz = sizeof(req), .index = BAR4 };
	struct vfio_user_region_info *rep;
	struct vfio_user_header hdr;
	uint8_t buf[512];
	size_t len, nfds = 4;
	int fds[4];

	/* argsz too small for the chain: the needed size comes back, without CAPS and without an fd */
	assert_int_equal(vuc_request_raw(f->c, VFIO_USER_DEVICE_GET_REGION_INFO, 0, &req, sizeof(req), NULL, 0, &hdr,
					 buf, sizeof(buf), &len, fds, &nfds),
			 0);
	rep = (void *)buf;
	assert_int_equal(len, sizeof(*rep));
	assert_true(rep->argsz > sizeof(*rep));
	assert_false(rep->flags & VFIO_REGION_INFO_FLAG_CAPS);
	assert_int_equal(rep->cap_offset, 0);
	assert_int_equal(nfds, 0);
}

static void test_config_space(void **state)
{
	struct proxy_fixture *f = *state;
	uint8_t cfg[256];
	uint32_t v, bar;
	uint8_t pos, ids[8] = { 0 };
	int n = 0;

	assert_int_equal(vuc_config_read(f->c, 0, cfg, sizeof(cfg)), 0);
	assert_int_equal(cfg[0] | cfg[1] << 8, EDU_VENDOR_ID);
	assert_int_equal(cfg[2] | cfg[3] << 8, EDU_DEVICE_ID);
	assert_int_equal(cfg[0x0b], 0xff);
	assert_int_equal(cfg[0x3d], 1);
	for (pos = cfg[0x34]; pos && n < 8; pos = cfg[pos + 1])
		ids[n++] = cfg[pos];
	assert_int_equal(n, 4);
	assert_int_equal(ids[0], 0x01);
	assert_int_equal(ids[1], 0x05);
	assert_int_equal(ids[2], 0x10);
	assert_int_equal(ids[3], 0x11);
	/* BAR sizing through REGION_WRITE */
	bar = 0xffffffff;
	assert_int_equal(vuc_config_write(f->c, 0x10, &bar, 4), 0);
	assert_int_equal(vuc_config_read(f->c, 0x10, &v, 4), 0);
	assert_int_equal(v, 0xfff00000);
	assert_int_equal(vuc_config_write(f->c, 0x20, &bar, 4), 0);
	assert_int_equal(vuc_config_read(f->c, 0x20, &v, 4), 0);
	assert_int_equal(v, 0xfff0000c);
	/* extended config space is there (PCIe) and ends the list */
	assert_int_equal(vuc_config_read(f->c, 0x100, &v, 4), 0);
	assert_int_equal(v, 0);
	/* reads past the end of config space are refused */
	assert_int_equal(vuc_config_read(f->c, 4094, &v, 4), -EINVAL);
}

static void test_mmio_registers(void **state)
{
	struct proxy_fixture *f = *state;
	uint32_t v;

	assert_int_equal(vuc_read32(f->c, BAR0, EDU_REG_ID, &v), 0);
	assert_int_equal(v, EDU_ID_VALUE);
	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_LIVENESS, 0x12345678), 0);
	assert_int_equal(vuc_read32(f->c, BAR0, EDU_REG_LIVENESS, &v), 0);
	assert_int_equal(v, ~0x12345678u);
	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_FACT, 10), 0);
	assert_int_equal(vuc_read32(f->c, BAR0, EDU_REG_FACT, &v), 0);
	assert_int_equal(v, 3628800);
	/* a posted write is applied before the next reply */
	assert_int_equal(vuc_region_write(f->c, BAR0, EDU_REG_LIVENESS, &(uint32_t){ 1 }, 4, true), 0);
	assert_int_equal(vuc_read32(f->c, BAR0, EDU_REG_LIVENESS, &v), 0);
	assert_int_equal(v, ~1u);
}

static void test_write_multi(void **state)
{
	struct proxy_fixture *f = *state;
	struct vfio_user_write_one w[3] = {
		{ .offset = EDU_REG_LIVENESS, .region = BAR0, .count = 4 },
		{ .offset = EDU_DMA_BUF_ADDR, .region = BAR0, .count = 8 },
		{ .offset = 0x10, .region = BAR4, .count = 2 },
	};
	uint64_t q;
	uint32_t v;
	uint16_t h;

	memcpy(w[0].data, &(uint32_t){ 0xf0f0f0f0 }, 4);
	memcpy(w[1].data, &(uint64_t){ 0x1122334455667788ull }, 8);
	memcpy(w[2].data, &(uint16_t){ 0xbeef }, 2);
	assert_int_equal(vuc_region_write_multi(f->c, w, 3), 3);
	assert_int_equal(vuc_read32(f->c, BAR0, EDU_REG_LIVENESS, &v), 0);
	assert_int_equal(v, 0x0f0f0f0f);
	assert_int_equal(vuc_read64(f->c, BAR0, EDU_DMA_BUF_ADDR, &q), 0);
	assert_int_equal(q, 0x1122334455667788ull);
	assert_int_equal(vuc_region_read(f->c, BAR4, 0x10, &h, 2), 0);
	assert_int_equal(h, 0xbeef);
	/* one bad entry: nothing is written */
	w[0].count = 9;
	memcpy(w[1].data, &(uint64_t){ 0 }, 8);
	assert_int_equal(vuc_region_write_multi(f->c, w, 3), -EINVAL);
	assert_int_equal(vuc_read64(f->c, BAR0, EDU_DMA_BUF_ADDR, &q), 0);
	assert_int_equal(q, 0x1122334455667788ull);
}

static void test_bar_mmap(void **state)
{
	struct proxy_fixture *f = *state;
	struct vfio_user_region_info info;
	uint8_t caps[256], buf[16];
	size_t caps_len;
	int fd;
	volatile uint8_t *bar;

	assert_int_equal(vuc_region_info(f->c, BAR4, &info, caps, sizeof(caps), &caps_len, &fd), 0);
	assert_true(fd >= 0);
	bar = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)info.offset);
	assert_true(bar != MAP_FAILED);
	close(fd);
	/* written through the mapping, read through REGION_READ */
	memcpy((void *)(bar + 0x1000), "through-mmap", 12);
	assert_int_equal(vuc_region_read(f->c, BAR4, 0x1000, buf, 12), 0);
	assert_memory_equal(buf, "through-mmap", 12);
	/* written through REGION_WRITE, read through the mapping */
	assert_int_equal(vuc_region_write(f->c, BAR4, 0xff000, "via-message", 11, false), 0);
	assert_memory_equal((const void *)(bar + 0xff000), "via-message", 11);
	munmap((void *)bar, info.size);
}

static void test_reset(void **state)
{
	struct proxy_fixture *f = *state;
	uint32_t v;

	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_LIVENESS, 5), 0);
	assert_int_equal(vuc_write32(f->c, BAR0, EDU_REG_STATUS, EDU_STATUS_IRQ_FACT), 0);
	assert_int_equal(vuc_reset(f->c), 0);
	assert_int_equal(vuc_read32(f->c, BAR0, EDU_REG_LIVENESS, &v), 0);
	assert_int_equal(v, 0xffffffff);
	assert_int_equal(vuc_read32(f->c, BAR0, EDU_REG_STATUS, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(vuc_read32(f->c, BAR0, EDU_REG_ID, &v), 0);
	assert_int_equal(v, EDU_ID_VALUE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_version_variants, proxy_fixture_setup, proxy_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_device_info, proxy_fixture_setup, proxy_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_region_info, proxy_fixture_setup, proxy_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_region_info_small_argsz, proxy_fixture_setup, proxy_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_config_space, proxy_fixture_setup, proxy_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_mmio_registers, proxy_fixture_setup, proxy_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_write_multi, proxy_fixture_setup, proxy_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_bar_mmap, proxy_fixture_setup, proxy_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_reset, proxy_fixture_setup, proxy_fixture_teardown),
	};

	return cmocka_run_group_tests_name("device", tests, NULL, NULL);
}
