/* test_vfio_backend.c: the VFIO backend alone against the fake VFIO kernel (fake_vfio.c), legacy container: create, region info and trapped BARs, region r/w, INTx and MSI-X, resets, a departing client quieted, DMA windows, open failures. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "fake_vfio.h"
#include "server/dma_table.h"

static void test_create_describes(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	struct vfio_user_device_info info;
	struct vfio_user_irq_info irq = { .index = VFIO_PCI_MSIX_IRQ_INDEX };

	assert_int_equal(b->ops->device_info(b, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(info.num_regions, REGION9 + 1);
	assert_int_equal(info.num_irqs, VFIO_PCI_NUM_IRQS);
	assert_string_equal(b->name, "VFIO device 0000:00:03.0 (1234:11e8)");
	assert_null(b->ops->device_feature);
	assert_int_equal(b->ops->irq_info(b, &irq), 0);
	assert_int_equal(irq.count, 32);
	assert_int_equal(irq.flags, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE);
	/* whatever ran before is stopped: every index off, bus mastering off, INTx disabled; then the
	 * proxy's own device request channel goes on REQ */
	assert_int_equal(fk.ncalls, VFIO_PCI_NUM_IRQS + 1);
	for (unsigned int i = 0; i < VFIO_PCI_NUM_IRQS; i++) {
		assert_int_equal(fk.calls[i].flags, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER);
		assert_int_equal(fk.calls[i].count, 0);
	}
	assert_int_equal(fk.calls[VFIO_PCI_NUM_IRQS].index, VFIO_PCI_REQ_IRQ_INDEX);
	assert_true(fake_req_is(b->event_fd));
}

static void test_region_info(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	struct vfio_user_region_info info = { .index = VFIO_PCI_BAR0_REGION_INDEX };
	uint8_t caps[512];
	struct vfio_info_cap_header h;
	size_t len;
	uint32_t nr;
	uint64_t area[4];
	int fd;

	assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
	assert_int_equal(info.flags,
			 VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP);
	assert_int_equal(info.size, 1 << 20);
	assert_int_equal(info.offset, 0);
	assert_int_equal(fd_kind(fd), FD_DEVICE);
	/* the chain: sparse mmap at 32 (the reply's offset), then MSI-X mappable */
	assert_int_equal(len, 48 + 8);
	memcpy(&h, caps, sizeof(h));
	assert_int_equal(h.id, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	assert_int_equal(h.next, 32 + 48);
	memcpy(&nr, caps + 8, sizeof(nr));
	assert_int_equal(nr, 2);
	memcpy(area, caps + 16, sizeof(area));
	assert_int_equal(area[2], 0x2000);
	assert_int_equal(area[3], 0xfe000);
	memcpy(&h, caps + 48, sizeof(h));
	assert_int_equal(h.id, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
	assert_int_equal(h.next, 0);

	/* config: trapped, no fd */
	info.index = VFIO_PCI_CONFIG_REGION_INDEX;
	assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
	assert_int_equal(info.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
	assert_int_equal(info.size, 4096);
	assert_int_equal(fd, -1);
	assert_int_equal(len, 0);
	/* an absent BAR */
	info.index = VFIO_PCI_BAR1_REGION_INDEX;
	assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
	assert_int_equal(info.flags, 0);
	assert_int_equal(info.size, 0);
	/* the device-specific region keeps its type */
	info.index = REGION9;
	assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
	assert_int_equal(len, 16);
	memcpy(&h, caps, sizeof(h));
	assert_int_equal(h.id, VFIO_REGION_INFO_CAP_TYPE);
	/* BAR2 mmappable at its kernel offset */
	info.index = VFIO_PCI_BAR2_REGION_INDEX;
	assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
	assert_int_equal(info.offset, 2ull << REGION_SHIFT);
	assert_int_equal(fd_kind(fd), FD_DEVICE);
	assert_int_equal(len, 0);
}

static void test_trap_bars(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, true);
	struct vfio_user_region_info info = { .index = VFIO_PCI_BAR0_REGION_INDEX };
	uint8_t caps[512];
	size_t len;
	int fd;

	for (uint32_t i = 0; i <= REGION9; i++) {
		info.index = i;
		assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
		assert_int_equal(fd, -1);
		assert_false(info.flags & VFIO_REGION_INFO_FLAG_MMAP);
		if (i == VFIO_PCI_BAR0_REGION_INDEX)
			assert_int_equal(len, 0); /* sparse mmap and MSI-X mappable dropped */
	}
	assert_int_equal(len, 16); /* region 9's type stays */
	/* the BARs still work, trapped */
	assert_int_equal(b->ops->region_write(b, VFIO_PCI_BAR0_REGION_INDEX, 0x1000, "abcd", 4), 0);
}

static void test_region_rw(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	uint8_t big[8192], back[8192];
	uint32_t v = 0xdeadbeef, got = 0;
	uint16_t ids[2];
	int fd;
	size_t len;
	struct vfio_user_region_info info = { .index = VFIO_PCI_BAR0_REGION_INDEX };

	assert_int_equal(b->ops->region_info(b, &info, NULL, 0, &len, &fd), 0);
	assert_int_equal(b->ops->region_write(b, VFIO_PCI_BAR0_REGION_INDEX, 0x10, &v, 4), 0);
	assert_int_equal(pread(fd, &got, 4, 0x10), 4);
	assert_int_equal(got, 0xdeadbeef);
	got = 0;
	assert_int_equal(b->ops->region_read(b, VFIO_PCI_BAR0_REGION_INDEX, 0x10, &got, 4), 0);
	assert_int_equal(got, 0xdeadbeef);
	/* at the region's own offset in the device fd */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(b->ops->region_write(b, VFIO_PCI_BAR2_REGION_INDEX, 0x100, big, sizeof(big)), 0);
	assert_int_equal(pread(fd, back, sizeof(back), (2ll << REGION_SHIFT) + 0x100), (ssize_t)sizeof(back));
	assert_memory_equal(big, back, sizeof(big));
	assert_int_equal(b->ops->region_read(b, VFIO_PCI_CONFIG_REGION_INDEX, 0, ids, 4), 0);
	assert_int_equal(ids[0], 0x1234);
	assert_int_equal(ids[1], 0x11e8);
	/* the ROM reads as the device has it (zeros here) */
	assert_int_equal(b->ops->region_read(b, VFIO_PCI_ROM_REGION_INDEX, 0, back, 16), 0);
}

static void test_irqs_intx(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	int e = open_eventfd(), u = open_eventfd(), mine[1];
	const uint32_t trig = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;

	fk.ncalls = 0;
	dup_all(&e, mine, 1);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, mine), 0);
	assert_false(fd_open(mine[0])); /* the kernel holds its own reference; ours is gone */
	assert_int_equal(fk.irq_type, VFIO_PCI_INTX_IRQ_INDEX);
	assert_true(same_eventfd(e, fk.ctx[0]));
	/* the unmask eventfd, as QEMU sets it */
	dup_all(&u, mine, 1);
	assert_int_equal(b->ops->set_irqs(b, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK,
					  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, mine), 0);
	assert_false(fd_open(mine[0]));
	assert_int_equal(fk.calls[1].flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK);
	assert_int_not_equal(fk.calls[1].fds[0], -1);
	/* a bool unmask passes its bools */
	assert_int_equal(b->ops->set_irqs(b, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_UNMASK,
					  VFIO_PCI_INTX_IRQ_INDEX, 0, 1, (const uint8_t[]){ 1 }, NULL), 0);
	/* no fds: de-assign, as an array of -1 */
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, NULL), 0);
	assert_int_equal(fk.calls[3].fds[0], -1);
	assert_int_equal(fk.irq_type, -1);
	/* a non-eventfd is the kernel's to refuse; ours is closed all the same */
	mine[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, mine), -EINVAL);
	assert_false(fd_open(mine[0]));
	close(e);
	close(u);
}

/* MSI-X on a kernel that cannot grow an enabled block: the client's chunks still end as one block. */
static void test_irqs_msix_chunks(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	const uint32_t trig = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	const uint32_t off = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	int e[32], mine[32];
	unsigned int first;

	for (int i = 0; i < 32; i++)
		e[i] = open_eventfd();
	fk.ncalls = 0;
	dup_all(e, mine, 16);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 0, 16, NULL, mine), 0);
	assert_int_equal(fk.num_ctx, 16);
	assert_true(fd_open(mine[0])); /* kept, to enable the block again larger */
	dup_all(e + 16, mine + 16, 16);
	first = fk.ncalls;
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 16, 16, NULL, mine + 16), 0);
	/* disable, then all 32 at once */
	assert_int_equal(fk.ncalls, first + 2);
	assert_int_equal(fk.calls[first].flags, off);
	assert_int_equal(fk.calls[first].count, 0);
	assert_int_equal(fk.calls[first + 1].start, 0);
	assert_int_equal(fk.calls[first + 1].count, 32);
	assert_int_equal(fk.num_ctx, 32);
	for (int i = 0; i < 32; i++)
		assert_true(same_eventfd(e[i], fk.ctx[i]));
	/* a vector inside the block: straight through */
	first = fk.ncalls;
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 3, 1, NULL, NULL), 0);
	assert_int_equal(fk.ncalls, first + 1);
	assert_int_equal(fk.ctx[3], -1);
	assert_false(fd_open(mine[3]));
	/* loopback trigger */
	assert_int_equal(b->ops->set_irqs(b, off, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, NULL, NULL), 0);
	/* off: every kept eventfd goes */
	assert_int_equal(b->ops->set_irqs(b, off, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL, NULL), 0);
	assert_int_equal(fk.irq_type, -1);
	for (int i = 0; i < 32; i++)
		assert_false(fd_open(mine[i]));

	/* QEMU's runs: [fd] [-1 -1 -1] [fd] */
	dup_all(e, mine, 1);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, NULL, mine), 0);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 1, 3, NULL, NULL), 0);
	dup_all(e + 4, mine + 4, 1);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 4, 1, NULL, mine + 4), 0);
	assert_int_equal(fk.num_ctx, 5);
	assert_true(same_eventfd(e[0], fk.ctx[0]));
	assert_int_equal(fk.ctx[1], -1);
	assert_int_equal(fk.ctx[3], -1);
	assert_true(same_eventfd(e[4], fk.ctx[4]));
	/* another interrupt type while MSI-X is on: the kernel refuses, nothing kept */
	dup_all(e + 5, mine + 5, 1);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, mine + 5), -EINVAL);
	assert_false(fd_open(mine[5]));
	/* the client goes: everything off and released */
	b->ops->quiesce(b);
	b->ops->client_gone(b);
	assert_int_equal(fk.irq_type, -1);
	assert_false(fd_open(mine[0]));
	assert_false(fd_open(mine[4]));
	for (int i = 0; i < 32; i++)
		close(e[i]);
}

/* A kernel that grows MSI-X in place (no NORESIZE): chunks go straight through, nothing is kept. */
static void test_irqs_msix_dynamic(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;
	const uint32_t trig = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	int e[20], mine[20];
	unsigned int first;

	fk.irq_flags[VFIO_PCI_MSIX_IRQ_INDEX] = VFIO_IRQ_INFO_EVENTFD;
	b = create_ok(f, false);
	for (int i = 0; i < 20; i++)
		e[i] = open_eventfd();
	dup_all(e, mine, 20);
	first = fk.ncalls;
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 0, 16, NULL, mine), 0);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSIX_IRQ_INDEX, 16, 4, NULL, mine + 16), 0);
	assert_int_equal(fk.ncalls, first + 2);
	assert_int_equal(fk.num_ctx, 20);
	for (int i = 0; i < 20; i++) {
		assert_false(fd_open(mine[i]));
		assert_true(same_eventfd(e[i], fk.ctx[i]));
		close(e[i]);
	}
}

static void test_reset_flr(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);

	assert_int_equal(b->ops->reset(b), 0);
	assert_int_equal(fk.resets, 1);
	assert_int_equal(fk.hot_resets, 0);
}

static void test_reset_none(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;
	struct vfio_user_device_info info;

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI; /* like QEMU's edu: no reset at all */
	b = create_ok(f, false);
	assert_int_equal(b->ops->device_info(b, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI);
	assert_int_equal(b->ops->reset(b), -ENOTTY);
	/* client_gone still leaves it quiet */
	b->ops->quiesce(b);
	b->ops->client_gone(b);
	assert_int_equal(fk.resets + fk.hot_resets, 0);
}

static void test_reset_hot(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;
	struct vfio_user_device_info info;

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	fk.hot_groups[0] = GROUP;
	fk.hot_groups[1] = GROUP;
	fk.n_hot = 2;
	b = create_ok(f, false);
	assert_int_equal(b->ops->device_info(b, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(b->ops->reset(b), 0);
	assert_int_equal(fk.hot_resets, 1);
	assert_int_equal(fk.resets, 0);
}

static void test_reset_hot_foreign(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;
	struct vfio_user_device_info info;

	fk.dev_flags = VFIO_DEVICE_FLAGS_PCI;
	fk.hot_groups[0] = GROUP;
	fk.hot_groups[1] = GROUP + 1; /* a device that is not ours shares the bus */
	fk.n_hot = 2;
	b = create_ok(f, false);
	assert_int_equal(b->ops->device_info(b, &info), 0);
	assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI);
	assert_int_equal(b->ops->reset(b), -ENOTTY);
}

static void test_client_gone_quiet(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	const uint32_t trig = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	int e = open_eventfd(), mine[1], dev;
	size_t len;
	struct vfio_user_region_info info = { .index = VFIO_PCI_BAR0_REGION_INDEX };

	assert_int_equal(b->ops->region_info(b, &info, NULL, 0, &len, &dev), 0);
	assert_int_equal(read_command(dev), PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE); /* quiet from the start */
	assert_int_equal(b->ops->region_write(b, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, 2), 0);
	dup_all(&e, mine, 1);
	assert_int_equal(b->ops->set_irqs(b, trig, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, mine), 0);
	assert_int_equal(fk.irq_type, VFIO_PCI_MSI_IRQ_INDEX);
	fk.ncalls = 0;
	b->ops->quiesce(b);
	b->ops->client_gone(b);
	assert_int_equal(fk.irq_type, -1);
	assert_false(fd_open(mine[0]));
	assert_int_equal(fk.ncalls, VFIO_PCI_NUM_IRQS - 1); /* every index turned off but REQ, the proxy's */
	assert_true(fake_req_is(b->event_fd));
	assert_int_equal(fk.resets, 1);
	assert_int_equal(read_command(dev), PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	close(e);
}

static void test_dma_windows(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b = create_ok(f, false);
	const uint32_t rw = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
	void *mem;
	struct dma_window w = map_anon_window(b, &mem);

	b->ops->dma_unmap(b, &w);
	assert_int_equal(fk.nmaps, 0);

	/* read-only for the device */
	w.prot = VFIO_USER_F_DMA_REGION_READ;
	assert_int_equal(b->ops->dma_map(b, &w), 0);
	assert_int_equal(fk.maps[0].flags, VFIO_DMA_MAP_FLAG_READ);
	b->ops->dma_unmap(b, &w);

	/* fd-less: read-only (ROM/BIOS) accepted and never mapped, writable refused */
	w.vaddr = NULL;
	fk.map_calls = fk.unmap_calls = 0;
	assert_int_equal(b->ops->dma_map(b, &w), 0);
	assert_int_equal(b->ops->dma_map(b, &(struct dma_window){ .iova = 0xc0000, .size = 0x1000,
								    .prot = VFIO_USER_F_DMA_REGION_READ }), 0);
	b->ops->dma_unmap(b, &w);
	assert_int_equal(fk.map_calls + fk.unmap_calls, 0);
	w.prot = rw;
	assert_int_equal(b->ops->dma_map(b, &w), -ENOTSUP);
	assert_int_equal(b->ops->dma_map(b, &w), -ENOTSUP);
	assert_int_equal(fk.map_calls, 0);

	/* outside the IOMMU's IOVA ranges: refused before the kernel sees it */
	w.vaddr = mem;
	w.iova = 0xfee00000;
	assert_int_equal(b->ops->dma_map(b, &w), -EINVAL);
	w.iova = 0xfedff000;
	assert_int_equal(b->ops->dma_map(b, &w), -EINVAL); /* straddles the hole */
	assert_int_equal(fk.map_calls, 0);

	/* pinning beyond RLIMIT_MEMLOCK */
	w.iova = 0x200000;
	fk.map_errno = ENOMEM;
	assert_int_equal(b->ops->dma_map(b, &w), -ENOMEM);
	assert_int_equal(b->ops->dma_map(b, &w), -ENOMEM);
	assert_int_equal(fk.nmaps, 0);
	munmap(mem, 0x4000);
}

static void test_open_failures(void **state)
{
	struct fixture *f = *state;

	fake_tree("vfio-pci");
	fk.viable = false;
	assert_int_equal(create(f, false), -EBUSY);
	fk.viable = true;
	fk.type1v2 = false;
	assert_int_equal(create(f, false), -ENOTSUP);
	fk.type1v2 = true;
	fk.dev_flags = 0; /* not a PCI device */
	assert_int_equal(create(f, false), -ENODEV);
	assert_null(f->b);
}

static void test_wrong_driver(void **state)
{
	struct fixture *f = *state;

	fake_tree("e1000e");
	assert_int_equal(create(f, false), -EBUSY);
	assert_null(f->b);
}

static void test_too_many(void **state)
{
	struct fixture *f = *state;
	struct device_backend *b;
	struct vfio_user_device_info info;

	fk.num_regions = 20; /* clamped to the server's 16 and 8 */
	fk.num_irqs = 10;
	b = create_ok(f, false);
	assert_int_equal(b->ops->device_info(b, &info), 0);
	assert_int_equal(info.num_regions, 16);
	assert_int_equal(info.num_irqs, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_describes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trap_bars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_rw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irqs_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irqs_msix_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irqs_msix_dynamic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_flr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_hot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_hot_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_gone_quiet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_driver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
