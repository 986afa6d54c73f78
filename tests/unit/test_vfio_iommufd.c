/* test_vfio_iommufd.c: the VFIO backend on iommufd and the device cdev (the fake kernel as in 6.12): auto and forced choice, missing or busy cdev, DMA through the IOAS, hot reset, clients through the real server. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "client/client.h"
#include "fake_vfio.h"
#include "server/dma_table.h"

static void test_iommufd_auto(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_iommufd(f, VFIO_IOMMU_KIND_AUTO);
	struct vfio_user_region_info info = { .index = VFIO_PCI_BAR0_REGION_INDEX };
	struct vfio_user_device_info dinfo;
	uint8_t caps[512];
	size_t len;
	uint32_t id;
	int fd;

	/* both paths exist: iommufd is preferred; the container is never touched */
	assert_true(fk.cdev_bound);
	assert_int_equal(fk.attached_pt, IOAS_ID);
	assert_false(fk.container_set);
	assert_int_equal(b->ops->device_info(b, &dinfo), 0);
	assert_int_equal(dinfo.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(dinfo.num_regions, REGION9 + 1);
	/* regions, mmap fd and config reads: the shared code, on the cdev's fd */
	assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
	assert_int_equal(info.size, 1 << 20);
	assert_int_equal(fd_kind(fd), FD_CDEV);
	assert_int_equal(b->ops->region_read(b, VFIO_PCI_CONFIG_REGION_INDEX, PCI_VENDOR_ID, &id, 4), 0);
	assert_int_equal(id, 0x11e81234);
	assert_string_equal(b->name, "VFIO device 0000:00:03.0 (1234:11e8)");
	/* IRQs through the same code: every index turned off at start, then REQ is the proxy's */
	assert_int_equal(fk.ncalls, VFIO_PCI_NUM_IRQS + 1);
	assert_true(fake_req_is(b->event_fd));
	assert_int_equal(b->ops->reset(b), 0);
	assert_int_equal(fk.resets, 1);
}

static void test_iommufd_cdev_argument(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32];

	fake_tree_iommufd("vfio-pci");
	snprintf(path, sizeof(path), "%s/dev/vfio/devices/vfio0", fk.root);
	assert_int_equal(create_as(f, path, false, VFIO_IOMMU_KIND_AUTO), 0);
	assert_true(fk.cdev_bound);
	assert_string_equal(f->b->name, "VFIO device 0000:00:03.0 (1234:11e8)");
}

static void test_iommufd_forced_legacy(void **state)
{
	struct fixture *f = *state;

	create_iommufd(f, VFIO_IOMMU_KIND_LEGACY);
	assert_true(fk.container_set);
	assert_false(fk.cdev_bound);
	assert_int_equal(fk.ioas_allocs, 0);
}

static void test_iommufd_missing(void **state)
{
	struct fixture *f = *state;

	/* a 6.1 kernel: forced iommufd fails, automatic falls back to the container */
	fake_tree("vfio-pci");
	assert_int_equal(create_as(f, BDF, false, VFIO_IOMMU_KIND_IOMMUFD), -ENOENT);
	assert_null(f->b);
	assert_false(fk.container_set);
	assert_int_equal(create_as(f, BDF, false, VFIO_IOMMU_KIND_AUTO), 0);
	assert_true(fk.container_set);
}

static void test_iommufd_bind_busy(void **state)
{
	struct fixture *f = *state;

	fake_tree_iommufd("vfio-pci");
	fk.container_set = true; /* another process holds the group through a container */
	assert_int_equal(create_as(f, BDF, false, VFIO_IOMMU_KIND_IOMMUFD), -EBUSY);
	assert_null(f->b);
}

static void test_iommufd_dma(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_iommufd(f, VFIO_IOMMU_KIND_IOMMUFD);
	const uint32_t rw = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
	void *mem;
	/* at the client's IOVA exactly */
	struct dma_window w = map_anon_window(b, &mem);

	assert_int_equal(b->ops->dma_map(b, &w), -EEXIST);
	b->ops->dma_unmap(b, &w);
	assert_int_equal(fk.nmaps, 0);
	w.prot = VFIO_USER_F_DMA_REGION_READ;
	assert_int_equal(b->ops->dma_map(b, &w), 0);
	assert_int_equal(fk.maps[0].flags, VFIO_DMA_MAP_FLAG_READ);
	b->ops->dma_unmap(b, &w);
	/* outside the IOAS's ranges (IOMMU_IOAS_IOVA_RANGES, grown after EMSGSIZE): refused before the kernel */
	fk.map_calls = 0;
	w.iova = 0xfee00000;
	assert_int_equal(b->ops->dma_map(b, &w), -EINVAL);
	assert_int_equal(fk.map_calls, 0);
	/* 20 clients that map the same IOVA and vanish: the IOAS keeps nothing stale */
	w.iova = 0x100000;
	w.prot = rw;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(b->ops->dma_map(b, &w), 0);
		b->ops->dma_unmap(b, &w);
		b->ops->quiesce(b);
	b->ops->client_gone(b);
	}
	assert_int_equal(fk.nmaps, 0);
	assert_int_equal(b->ops->dma_map(b, &w), 0);
	b->ops->dma_unmap(b, &w);
	/* pinning refused */
	fk.map_errno = ENOMEM;
	assert_int_equal(b->ops->dma_map(b, &w), -ENOMEM);
	assert_int_equal(fk.nmaps, 0);
	munmap(mem, 0x4000);
}

static void test_iommufd_hot_reset(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;
	struct vfio_user_device_info info;

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	fk.hot_groups[0] = GROUP;
	fk.hot_groups[1] = GROUP;
	fk.n_hot = 2;
	b = create_iommufd(f, VFIO_IOMMU_KIND_IOMMUFD);
	assert_int_equal(b->ops->device_info(b, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(b->ops->reset(b), 0);
	assert_int_equal(fk.hot_reset_empty, 1); /* the zero-length group array */
	b->ops->quiesce(b);
	b->ops->client_gone(b);
	assert_int_equal(fk.hot_reset_empty, 2);
	assert_int_equal(fk.resets, 0);
}

static void test_iommufd_hot_reset_foreign(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;
	struct vfio_user_device_info info;

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	fk.hot_groups[0] = GROUP;
	fk.hot_groups[1] = GROUP + 1; /* reads NOT_OWNED on the cdev */
	fk.n_hot = 2;
	b = create_iommufd(f, VFIO_IOMMU_KIND_IOMMUFD);
	assert_int_equal(b->ops->device_info(b, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI);
	assert_int_equal(b->ops->reset(b), -ENOTTY);
	assert_int_equal(fk.hot_resets, 0);
}

static void test_iommufd_through_server(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_iommufd(f, VFIO_IOMMU_KIND_AUTO);
	struct served sv;
	struct vuc *c;
	struct vuc_server_caps caps;
	struct vfio_user_region_info rinfo;
	uint8_t cbuf[256];
	size_t clen;
	int fd, mem;

	serve_start(&sv, b);

	mem = memfd_create("guest-ram", MFD_CLOEXEC);
	assert_int_equal(ftruncate(mem, 1 << 20), 0);
	/* clients that map and vanish without unmapping: the server unmaps, the same IOVA maps again */
	for (int i = 0; i < 20; i++) {
		assert_int_equal(vuc_connect(sv.sock, &c), 0);
		assert_int_equal(vuc_negotiate(c, &caps), 0);
		assert_int_equal(vuc_dma_map_fd(c, 0x100000, 1 << 20, mem, 0,
						VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE), 0);
		if (i == 0) {
			assert_int_equal(vuc_region_info(c, VFIO_PCI_BAR0_REGION_INDEX, &rinfo, cbuf, sizeof(cbuf),
							 &clen, &fd), 0);
			assert_int_equal(fd_kind(fd), FD_CDEV); /* the client gets the cdev's fd */
			close(fd);
		}
		assert_int_equal(fk.nmaps, 1);
		vuc_close(c);
	}
	serve_stop(&sv);
	assert_int_equal(fk.nmaps, 0);
	assert_int_equal(fk.map_calls, 20);
	assert_int_equal(fk.unmap_calls, 20);
	close(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_iommufd_auto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_cdev_argument, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_forced_legacy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_bind_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_dma, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_hot_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_hot_reset_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iommufd_through_server, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
