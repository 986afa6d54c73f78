/* test_vfio_clients.c: the VFIO backend as its clients see it: through the real server and client library, departed clients that kept or gave up the device fd (legacy and iommufd), the no-reset one-client policy, the IOMMU's page sizes. */
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

static void test_through_server(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	struct served sv;
	struct vuc *c;
	struct vuc_server_caps caps;
	struct vfio_user_device_info info;
	struct vfio_user_region_info rinfo;
	uint8_t cbuf[256];
	size_t clen;
	int e[20], fd, mem;
	uint32_t id;

	serve_start(&sv, b);

	assert_int_equal(vuc_connect(sv.sock, &c), 0);
	assert_int_equal(vuc_negotiate(c, &caps), 0);
	assert_int_equal(caps.pgsizes, 0x40201000); /* what the IOMMU maps, not a constant */
	assert_int_equal(vuc_device_info(c, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(info.num_regions, REGION9 + 1);
	assert_int_equal(vuc_region_info(c, VFIO_PCI_BAR0_REGION_INDEX, &rinfo, cbuf, sizeof(cbuf), &clen, &fd), 0);
	assert_true(rinfo.flags & VFIO_REGION_INFO_FLAG_CAPS);
	assert_int_equal(rinfo.cap_offset, 32);
	assert_int_equal(clen, 56);
	assert_true(fd >= 0);
	assert_int_equal(fd_kind(fd), FD_DEVICE); /* the same device, through SCM_RIGHTS */
	close(fd);
	assert_int_equal(vuc_config_read(c, PCI_VENDOR_ID, &id, 4), 0);
	assert_int_equal(id, 0x11e81234);

	/* 20 MSI-X vectors: the client sends 16 + 4, the kernel ends with one block of 20 */
	for (int i = 0; i < 20; i++)
		e[i] = open_eventfd();
	assert_int_equal(vuc_set_irqs(c, VFIO_PCI_MSIX_IRQ_INDEX,
				      VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 20, e, NULL), 0);
	assert_int_equal(fk.num_ctx, 20);
	for (int i = 0; i < 20; i++)
		assert_true(same_eventfd(e[i], fk.ctx[i]));

	/* shared guest RAM: the server mmaps it and the IOMMU maps that */
	mem = memfd_create("guest-ram", MFD_CLOEXEC);
	assert_int_equal(ftruncate(mem, 1 << 20), 0);
	assert_int_equal(vuc_dma_map_fd(c, 0x100000, 1 << 20, mem, 0,
					VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE), 0);
	assert_int_equal(fk.nmaps, 1);
	assert_int_equal(fk.maps[0].iova, 0x100000);
	assert_int_not_equal(fk.maps[0].vaddr, 0);
	/* fd-less: ROM accepted, RAM refused with ENOTSUP */
	assert_int_equal(vuc_dma_map_mem(c, 0xc0000, 0x1000, cbuf, VFIO_USER_F_DMA_REGION_READ), 0);
	assert_int_equal(vuc_dma_map_mem(c, 0x400000, 0x1000, cbuf,
					 VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE), -ENOTSUP);
	assert_int_equal(vuc_dma_unmap(c, 0xc0000, 0x1000, 0), 0);
	assert_int_equal(fk.nmaps, 1);
	assert_int_equal(vuc_reset(c), 0);
	assert_int_equal(fk.resets, 1);

	/* the client goes without unmapping: the window is unmapped, the device quiet and reset */
	vuc_close(c);
	serve_stop(&sv);
	assert_int_equal(fk.nmaps, 0);
	assert_int_equal(fk.irq_type, -1);
	assert_int_equal(fk.resets, 2);
	/* the device was stopped before its window went: no DMA in flight can fault on it */
	assert_true(fk.reset_seq < fk.unmap_seq);
	close(mem);
	for (int i = 0; i < 20; i++)
		close(e[i]);
}

/* Legacy: a departed client that kept the device fd leaves the proxy unable to serve: it must stop. */
static void test_departed_client_keeps_device_legacy(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	int kept = dup(lend_device_fd(b)); /* what SCM_RIGHTS gives the client */

	leave(b, -EBUSY);
	assert_int_equal(fk.unsets, 0);
	assert_true(fk.container_set); /* the kernel kept the group in the container for the holder */
	close(kept);
}

/* Legacy: once the client's copy is gone, the device is opened afresh in an emptied container. */
static void test_departed_client_revoked_legacy(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	int lent = lend_device_fd(b);
	uint16_t id = 0;

	assert_true(fd_open(lent));
	leave(b, 0);
	assert_int_equal(fk.unsets, 1);
	assert_true(fk.container_set && fk.iommu_set);
	assert_int_equal(b->ops->region_read(b, VFIO_PCI_CONFIG_REGION_INDEX, PCI_VENDOR_ID, &id, 2), 0);
	assert_int_equal(id, 0x1234);
	/* a second client without the fd: nothing to revoke */
	leave(b, 0);
	assert_int_equal(fk.unsets, 1);
}

/* iommufd: a kept cdev file stays bound; a fresh file cannot bind: the proxy must stop. */
static void test_departed_client_keeps_device_iommufd(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_iommufd(f, VFIO_IOMMU_KIND_IOMMUFD);
	int kept = dup(lend_device_fd(b));

	assert_int_equal(fk.binds, 1);
	leave(b, -EBUSY);
	assert_int_equal(fk.binds, 1);
	close(kept);
}

static void test_departed_client_revoked_iommufd(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_iommufd(f, VFIO_IOMMU_KIND_IOMMUFD);
	uint16_t id = 0;

	lend_device_fd(b);
	leave(b, 0);
	assert_int_equal(fk.binds, 2);
	assert_int_equal(b->ops->region_read(b, VFIO_PCI_CONFIG_REGION_INDEX, PCI_VENDOR_ID, &id, 2), 0);
	assert_int_equal(id, 0x1234);
}

/* A device without any reset serves one client, unless --allow-no-reset. */
static void test_no_reset_one_client(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	b = create_ok(f, false);
	leave(b, -ENOTTY);
}

/* Through the server: the device without reset stops it after its client, retired (exit status 3, which
 * supervisors do not restart), where a stop for any other reason is not. */
static void test_no_reset_retires_server(void **state)
{
	struct fixture *f = *state;
	struct vuc_server_caps caps;
	struct served sv;
	struct vuc *c;

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	serve_start(&sv, create_ok(f, false));
	assert_int_equal(vuc_connect(sv.sock, &c), 0);
	assert_int_equal(vuc_negotiate(c, &caps), 0);
	vuc_close(c);
	assert_int_equal(serve_wait(&sv, 5000), -ENOTTY);
	assert_true(sv.retired);
}

static void test_no_reset_allowed(void **state)
{
	struct fixture *f = *state;
	struct vfio_backend_options o;
	char sysfs[PATH_MAX + 8], dev[PATH_MAX + 8];

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	fake_tree("vfio-pci");
	snprintf(sysfs, sizeof(sysfs), "%s/sys", fk.root);
	snprintf(dev, sizeof(dev), "%s/dev", fk.root);
	o = (struct vfio_backend_options){ .device = BDF, .iommu = VFIO_IOMMU_KIND_LEGACY, .allow_no_reset = true,
					   .sysfs_root = sysfs, .dev_root = dev };
	assert_int_equal(vfio_backend_create(&o, &f->b), 0);
	leave(f->b, 0);
	leave(f->b, 0);
}

/* The IOMMU's page sizes reach the VERSION reply. */
static void test_pgsizes_from_iommu(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);

	assert_int_equal(b->pgsizes, 0x40201000); /* VFIO_IOMMU_GET_INFO's iova_pgsizes, as the fake gives them */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_departed_client_keeps_device_legacy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_departed_client_revoked_legacy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_departed_client_keeps_device_iommufd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_departed_client_revoked_iommufd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_reset_one_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_reset_retires_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_reset_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pgsizes_from_iommu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_through_server, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
