/* vm_checks_direct.c: vm-checks --direct-vfio: the VFIO device opened directly (legacy container and group) while no proxy holds it, BAR0 read by pread and its latency measured, the baseline of the proxy's. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "edu_model.h"
#include "vm_checks.h"

static int check_direct_open(struct ctx *x, char *why, size_t len)
{
	struct direct *d = x->d;
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	int iommu;

	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0)
		FAIL("open /dev/vfio/vfio: %s", strerror(errno));
	if (ioctl(d->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		FAIL("VFIO API version mismatch");
	iommu = ioctl(d->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0 ? VFIO_TYPE1v2_IOMMU :
										      VFIO_TYPE1_IOMMU;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", d->bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		FAIL("readlink %s: %s", path, strerror(errno));
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(link));
	d->group = open(path, O_RDWR | O_CLOEXEC);
	if (d->group < 0)
		FAIL("open %s: %s", path, strerror(errno));
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &gs) < 0 || !(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
		FAIL("group %s not viable", path);
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container) < 0)
		FAIL("VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
	if (ioctl(d->container, VFIO_SET_IOMMU, iommu) < 0)
		FAIL("VFIO_SET_IOMMU: %s", strerror(errno));
	d->device = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (d->device < 0)
		FAIL("VFIO_GROUP_GET_DEVICE_FD %s: %s", d->bdf, strerror(errno));
	d->bar0 = (struct vfio_region_info){ .argsz = sizeof(d->bar0), .index = VFIO_PCI_BAR0_REGION_INDEX };
	if (ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, &d->bar0) < 0)
		FAIL("VFIO_DEVICE_GET_REGION_INFO BAR0: %s", strerror(errno));
	printf("INFO %s BAR0 size %#llx flags %#x\n", x->label, (unsigned long long)d->bar0.size, d->bar0.flags);
	return 0;
}

static int check_direct_read(struct ctx *x, char *why, size_t len)
{
	struct direct *d = x->d;
	static uint64_t t[LATENCY_SAMPLES];
	uint32_t v;

	if (d->device < 0)
		FAIL("no device fd");
	if (pread(d->device, &v, 4, (off_t)d->bar0.offset) != 4)
		FAIL("pread BAR0: %s", strerror(errno));
	if (x->kind == KIND_NVME) {
		if (pread(d->device, &v, 4, (off_t)(d->bar0.offset + NVME_REG_VS)) != 4 || v >> 16 != 1)
			FAIL("VS %#x is not NVMe 1.x", v);
	} else if (v != EDU_ID_VALUE) {
		FAIL("id register %#x, expected %#x", v, EDU_ID_VALUE);
	}
	for (size_t i = 0; i < LATENCY_SAMPLES; i++) {
		uint64_t t0 = vm_now_ns();

		if (pread(d->device, &v, 4, (off_t)d->bar0.offset) != 4)
			FAIL("pread BAR0 (sample %zu): %s", i, strerror(errno));
		t[i] = vm_now_ns() - t0;
	}
	print_measure(x->label, "bar0-read-vfio-pread", t, LATENCY_SAMPLES);
	return 0;
}

int run_direct(struct ctx *x, const char *bdf)
{
	struct direct d = { .bdf = bdf, .container = -1, .group = -1, .device = -1 };

	x->d = &d;
	run(x, "open", check_direct_open);
	run(x, "bar0-read", check_direct_read);
	x->d = NULL;
	if (d.device >= 0)
		close(d.device);
	if (d.group >= 0)
		close(d.group);
	if (d.container >= 0)
		close(d.container);
	return 0;
}
