/* test_vfio_discover.c: DEVICE parsing and the sysfs and /dev checks, on fake sysfs and /dev trees built in a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include "backend/vfio_discover.h"

struct tree {
	char root[PATH_MAX];
	struct vfio_paths p;
	struct vfio_target t;
	char why[VFIO_WHY_MAX];
};

static void vpath(char *buf, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, PATH_MAX, fmt, ap);

	assert_true(n > 0 && n < PATH_MAX);
}

static void fmtpath(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* snprintf into a PATH_MAX buffer, failing the test when it does not fit. */
static void fmtpath(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpath(buf, fmt, ap);
	va_end(ap);
}

static void mkdirs(const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vpath(path, fmt, ap);
	va_end(ap);
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	mkdir(path, 0755);
}

/* Creates the symlink (named by fmt) pointing at target, making its directory first. */
static void linkf(const char *target, const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	char *slash;

	va_start(ap, fmt);
	vpath(path, fmt, ap);
	va_end(ap);
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdirs("%s", path);
	*slash = '/';
	assert_int_equal(symlink(target, path), 0);
}

static void touch(const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	int fd;

	va_start(ap, fmt);
	vpath(path, fmt, ap);
	va_end(ap);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

/* A PCI device laid out as sysfs does; group < 0: none; driver NULL: unbound. */
static void add_device(struct tree *t, const char *bdf, int group, const char *driver)
{
	const char *s = t->p.sysfs;
	char target[PATH_MAX];

	mkdirs("%s/devices/pci0000:00/%s", s, bdf);
	fmtpath(target, "../../../devices/pci0000:00/%s", bdf);
	linkf(target, "%s/bus/pci/devices/%s", s, bdf);
	if (driver) {
		mkdirs("%s/bus/pci/drivers/%s", s, driver);
		fmtpath(target, "../../../bus/pci/drivers/%s", driver);
		linkf(target, "%s/devices/pci0000:00/%s/driver", s, bdf);
	}
	if (group >= 0) {
		fmtpath(target, "../../../../devices/pci0000:00/%s", bdf);
		linkf(target, "%s/kernel/iommu_groups/%d/devices/%s", s, group, bdf);
		fmtpath(target, "../../../kernel/iommu_groups/%d", group);
		linkf(target, "%s/devices/pci0000:00/%s/iommu_group", s, bdf);
		touch("%s/vfio/%d", t->p.dev, group);
	}
}

static int setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	char sysfs[PATH_MAX], dev[PATH_MAX];

	if (!t)
		return -1;
	strcpy(t->root, "/tmp/vfio-discover-XXXXXX");
	if (!mkdtemp(t->root))
		return -1;
	fmtpath(sysfs, "%s/sys", t->root);
	fmtpath(dev, "%s/dev", t->root);
	vfio_paths_init(&t->p, sysfs, dev);
	mkdirs("%s/bus/pci/devices", sysfs);
	mkdirs("%s/vfio", dev);
	touch("%s/vfio/vfio", dev);
	*state = t;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct tree *t = *state;

	nftw(t->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static int discover(struct tree *t, const char *device)
{
	t->why[0] = '\0';
	return vfio_discover(device, &t->p, &t->t, t->why, sizeof(t->why));
}

static void assert_why(const struct tree *t, const char *part)
{
	if (!strstr(t->why, part))
		fail_msg("'%s' not in: %s", part, t->why);
}

static void test_bound_to_vfio_pci(void **state)
{
	struct tree *t = *state;
	char want[PATH_MAX];

	add_device(t, "0000:00:03.0", 5, "vfio-pci");
	assert_int_equal(discover(t, "0000:00:03.0"), 0);
	assert_string_equal(t->t.bdf, "0000:00:03.0");
	assert_string_equal(t->t.driver, "vfio-pci");
	assert_int_equal(t->t.group, 5);
	fmtpath(want, "%s/dev/vfio/5", t->root);
	assert_string_equal(t->t.group_path, want);
	fmtpath(want, "%s/dev/vfio/vfio", t->root);
	assert_string_equal(t->t.container_path, want);
	/* a vendor's variant of vfio-pci speaks the same uAPI */
	add_device(t, "0000:00:04.0", 6, "mlx5_vfio_pci");
	assert_int_equal(discover(t, "0000:00:04.0"), 0);
	assert_string_equal(t->t.driver, "mlx5_vfio_pci");
}

static void test_bdf_forms(void **state)
{
	struct tree *t = *state;
	char bdf[VFIO_BDF_MAX];
	static const char *const bad[] = {
		"", "00:03", "0:00:03.0", "000:00:03.0", "0000:00:03.8", "0000:00:20.0", "0000:0:03.0", "0000:00:3.0",
		"0000:00:03.0 ", "0000:00:03.00", "00:03.0.1", "xyz", "0000-00-03.0", "123456789:00:03.0", "g0:03.0",
		"0000:00:03.0:1",
	};

	add_device(t, "0000:00:03.0", 5, "vfio-pci");
	add_device(t, "0000:00:0a.0", 7, "vfio-pci");
	assert_int_equal(discover(t, "00:03.0"), 0);
	assert_string_equal(t->t.bdf, "0000:00:03.0");
	assert_int_equal(discover(t, "0000:00:0A.0"), 0);
	assert_string_equal(t->t.bdf, "0000:00:0a.0");
	assert_int_equal(discover(t, "00:0a.0"), 0);

	assert_int_equal(vfio_parse_bdf("10000:E1:1f.7", bdf, sizeof(bdf)), 0);
	assert_string_equal(bdf, "10000:e1:1f.7");
	assert_int_equal(vfio_parse_bdf("ffff:ff:1f.7", bdf, sizeof(bdf)), 0);
	assert_string_equal(bdf, "ffff:ff:1f.7");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vfio_parse_bdf(bad[i], bdf, sizeof(bdf)) != -EINVAL)
			fail_msg("'%s' accepted as %s", bad[i], bdf);
	}
	assert_int_equal(vfio_parse_bdf("0000:00:03.0", bdf, 8), -EINVAL); /* no room */

	assert_int_equal(discover(t, "0000:00:3.0"), -EINVAL);
	assert_why(t, "names no PCI device");
	assert_why(t, "0000:00:03.0");
	assert_int_equal(discover(t, ""), -EINVAL);
	assert_int_equal(discover(t, NULL), -EINVAL);
}

static void test_sysfs_paths(void **state)
{
	struct tree *t = *state;
	char path[PATH_MAX];
	static const char *const good[] = {
		"/sys/bus/pci/devices/0000:00:03.0",
		"/sys/bus/pci/devices/0000:00:03.0/",
		"/sys/bus/pci/devices/0000:00:03.0//",
		"/sys/devices/pci0000:00/0000:00:03.0",
		"/sys/devices/pci0000:00/0000:00:1c.0/0000:00:03.0",
		"/sys/bus/pci/drivers/vfio-pci/0000:00:03.0",
	};
	static const char *const bad[] = {
		"/sys/bus/pci/devices/0000:00:03.0/iommu_group",
		"/sys/bus/pci/devices/00:03.0", /* sysfs names use the full address */
		"/sys/bus/pci/devices/",
		"/sys",
		"/tmp/0000:00:03.0",
		"/dev/vfio/5",
		"/system/0000:00:03.0",
	};

	add_device(t, "0000:00:03.0", 5, "vfio-pci");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (discover(t, good[i]) != 0)
			fail_msg("'%s' refused: %s", good[i], t->why);
		assert_string_equal(t->t.bdf, "0000:00:03.0");
	}
	/* the configured sysfs root's own paths too */
	fmtpath(path, "%s/bus/pci/devices/0000:00:03.0", t->p.sysfs);
	assert_int_equal(discover(t, path), 0);
	fmtpath(path, "%s/devices/pci0000:00/0000:00:03.0", t->p.sysfs);
	assert_int_equal(discover(t, path), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (discover(t, bad[i]) != -EINVAL)
			fail_msg("'%s' accepted: %s", bad[i], t->t.bdf);
		assert_why(t, "names no PCI device");
	}
	/* the path's device must exist */
	assert_int_equal(discover(t, "/sys/bus/pci/devices/0000:00:04.0"), -ENODEV);
	assert_why(t, "no PCI device 0000:00:04.0");
}

static void test_other_driver(void **state)
{
	struct tree *t = *state;

	add_device(t, "0000:00:03.0", 5, "e1000e");
	assert_int_equal(discover(t, "0000:00:03.0"), -EBUSY);
	assert_why(t, "0000:00:03.0 is bound to e1000e, not vfio-pci");
	assert_why(t, "driver/unbind");
	assert_why(t, "driver_override");
	assert_why(t, "drivers_probe");
}

static void test_no_driver(void **state)
{
	struct tree *t = *state;

	add_device(t, "0000:00:03.0", 5, NULL);
	assert_int_equal(discover(t, "0000:00:03.0"), -ENODEV);
	assert_why(t, "0000:00:03.0 is bound to no driver");
	assert_why(t, "echo vfio-pci >");
	assert_why(t, "/bus/pci/drivers_probe");
}

static void test_group_member_elsewhere(void **state)
{
	struct tree *t = *state;

	add_device(t, "0000:00:03.0", 5, "vfio-pci");
	add_device(t, "0000:00:03.1", 5, "snd_hda_intel");
	assert_int_equal(discover(t, "0000:00:03.0"), -EBUSY);
	assert_why(t, "IOMMU group 5 also holds 0000:00:03.1, bound to snd_hda_intel");
	assert_why(t, "echo 0000:00:03.1 >");
}

static void test_group_members_allowed(void **state)
{
	struct tree *t = *state;

	add_device(t, "0000:00:03.0", 5, "vfio-pci");
	add_device(t, "0000:00:03.1", 5, NULL);
	add_device(t, "0000:00:03.2", 5, "vfio-pci");
	add_device(t, "0000:00:1c.0", 5, "pcieport");
	add_device(t, "0000:00:03.3", 5, "pci-stub");
	assert_int_equal(discover(t, "0000:00:03.0"), 0);
	/* and from the other member's side */
	assert_int_equal(discover(t, "0000:00:03.2"), 0);
	assert_int_equal(t->t.group, 5);
}

static void test_no_iommu_group(void **state)
{
	struct tree *t = *state;

	add_device(t, "0000:00:03.0", -1, "vfio-pci");
	assert_int_equal(discover(t, "0000:00:03.0"), -ENODEV);
	assert_why(t, "0000:00:03.0 has no IOMMU group");
	assert_why(t, "intel_iommu=on");
}

static void test_no_device(void **state)
{
	struct tree *t = *state;

	assert_int_equal(discover(t, "0000:00:09.0"), -ENODEV);
	assert_why(t, "no PCI device 0000:00:09.0");
	assert_why(t, "lspci -D");
}

static void test_no_vfio(void **state)
{
	struct tree *t = *state;

	add_device(t, "0000:00:03.0", 5, "vfio-pci");
	mkdirs("%s/other", t->root);
	fmtpath(t->p.dev, "%s/other", t->root);
	assert_int_equal(discover(t, "0000:00:03.0"), -ENOENT);
	assert_why(t, "the kernel has no VFIO");
	assert_why(t, "modprobe vfio-pci");
}

static void test_cdev_path(void **state)
{
	struct tree *t = *state;
	char path[PATH_MAX], want[PATH_MAX];

	/* a cdev sysfs does not know */
	assert_int_equal(discover(t, "/dev/vfio/devices/vfio0"), -ENODEV);
	assert_why(t, "/dev/vfio/devices/vfio0 is not a VFIO device cdev this kernel knows");
	assert_why(t, "e.g. 0000:00:03.0");
	/* sysfs says which device it is: resolved to its address, with the cdev found from sysfs */
	add_device(t, "0000:00:05.0", 9, "vfio-pci");
	linkf("../../../devices/pci0000:00/0000:00:05.0", "%s/class/vfio-dev/vfio1/device", t->p.sysfs);
	mkdirs("%s/devices/pci0000:00/0000:00:05.0/vfio-dev/vfio1", t->p.sysfs);
	fmtpath(path, "%s/vfio/devices/vfio1", t->p.dev);
	assert_int_equal(discover(t, path), 0);
	assert_string_equal(t->t.bdf, "0000:00:05.0");
	assert_true(t->t.cdev_given);
	assert_string_equal(t->t.cdev_path, path);
	fmtpath(want, "%s/iommu", t->p.dev);
	assert_string_equal(t->t.iommufd_path, want);
	/* neither /dev/iommu nor the cdev node exists yet */
	assert_int_equal(vfio_iommufd_available(&t->t, t->why, sizeof(t->why)), -ENOENT);
	assert_why(t, "this kernel has no iommufd (");
	touch("%s/iommu", t->p.dev);
	assert_int_equal(vfio_iommufd_available(&t->t, t->why, sizeof(t->why)), -ENOENT);
	assert_why(t, "VFIO device cdev");
	mkdirs("%s/vfio/devices", t->p.dev);
	touch("%s", path);
	assert_int_equal(vfio_iommufd_available(&t->t, t->why, sizeof(t->why)), 0);
	/* by address: the same cdev */
	assert_int_equal(discover(t, "0000:00:05.0"), 0);
	assert_false(t->t.cdev_given);
	assert_string_equal(t->t.cdev_path, path);
	assert_int_equal(discover(t, "/dev/vfio/devices/"), -EINVAL);
}

/* A mediated device laid out as sysfs does (under its parent, linked from bus/mdev); driver NULL: unbound. */
static void add_mdev(struct tree *t, const char *uuid, int group, const char *driver)
{
	const char *s = t->p.sysfs;
	char target[PATH_MAX];

	mkdirs("%s/devices/virtual/vup_bridge/vup_bridge/%s", s, uuid);
	fmtpath(target, "../../../devices/virtual/vup_bridge/vup_bridge/%s", uuid);
	linkf(target, "%s/bus/mdev/devices/%s", s, uuid);
	if (driver) {
		mkdirs("%s/bus/mdev/drivers/%s", s, driver);
		fmtpath(target, "../../../../bus/mdev/drivers/%s", driver);
		linkf(target, "%s/devices/virtual/vup_bridge/vup_bridge/%s/driver", s, uuid);
	}
	fmtpath(target, "../../../../devices/virtual/vup_bridge/vup_bridge/%s", uuid);
	linkf(target, "%s/kernel/iommu_groups/%d/devices/%s", s, group, uuid);
	fmtpath(target, "../../../../../kernel/iommu_groups/%d", group);
	linkf(target, "%s/devices/virtual/vup_bridge/vup_bridge/%s/iommu_group", s, uuid);
	touch("%s/vfio/%d", t->p.dev, group);
}

/* An mdev (the bridge module's emulated device): by UUID in either case, by its sysfs paths, by its cdev;
 * VFIO opens it by the UUID; any driver of its parent serves; none is said. */
static void test_mdev(void **state)
{
	struct tree *t = *state;
	const char *uuid = "5f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
	char path[PATH_MAX];
	static const char *const forms[] = {
		"5f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
		"5F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0",
		"/sys/bus/mdev/devices/5f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
		"/sys/bus/mdev/devices/5f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/",
		"/sys/devices/virtual/vup_bridge/vup_bridge/5f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
	};
	static const char *const bad[] = {
		"5f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f",   /* one digit short */
		"5f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f00", /* one too many */
		"5f1e2d3c4b5a-6978-8796-a5b4c3d2e1f0-",  /* a dash misplaced */
		"5f1e2d3c-4b5a-6978-8796-a5b4c3d2e1g0",  /* not hex */
		"/tmp/5f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
	};

	add_mdev(t, uuid, 7, "vup_bridge");
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		if (discover(t, forms[i]) != 0)
			fail_msg("'%s' refused: %s", forms[i], t->why);
		assert_true(t->t.mdev);
		assert_string_equal(t->t.bdf, uuid);
		assert_string_equal(t->t.driver, "vup_bridge");
		assert_int_equal(t->t.group, 7);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (discover(t, bad[i]) != -EINVAL)
			fail_msg("'%s' accepted: %s", bad[i], t->t.bdf);
		assert_why(t, "names no PCI device or mdev");
		assert_why(t, "/sys/bus/mdev/devices/UUID");
	}
	/* its cdev, found from sysfs and named as the device */
	mkdirs("%s/devices/virtual/vup_bridge/vup_bridge/%s/vfio-dev/vfio2", t->p.sysfs, uuid);
	fmtpath(path, "../../../devices/virtual/vup_bridge/vup_bridge/%s", uuid);
	linkf(path, "%s/class/vfio-dev/vfio2/device", t->p.sysfs);
	fmtpath(path, "%s/vfio/devices/vfio2", t->p.dev);
	assert_int_equal(discover(t, path), 0);
	assert_true(t->t.mdev && t->t.cdev_given);
	assert_string_equal(t->t.bdf, uuid);
	assert_string_equal(t->t.cdev_path, path);
	/* a PCI device stays one */
	add_device(t, "0000:00:03.0", 5, "vfio-pci");
	assert_int_equal(discover(t, "0000:00:03.0"), 0);
	assert_false(t->t.mdev);
	/* an mdev that is not there, and one without a driver */
	assert_int_equal(discover(t, "00000000-0000-0000-0000-000000000000"), -ENODEV);
	assert_why(t, "no mdev 00000000-0000-0000-0000-000000000000");
	add_mdev(t, "11111111-2222-3333-4444-555555555555", 8, NULL);
	assert_int_equal(discover(t, "11111111-2222-3333-4444-555555555555"), -ENODEV);
	assert_why(t, "is bound to no driver: is its parent's module loaded?");
}

static void test_no_cdev(void **state)
{
	struct tree *t = *state;

	add_device(t, "0000:00:03.0", 5, "vfio-pci");
	touch("%s/iommu", t->p.dev);
	assert_int_equal(discover(t, "0000:00:03.0"), 0);
	assert_string_equal(t->t.cdev_path, "");
	assert_int_equal(vfio_iommufd_available(&t->t, t->why, sizeof(t->why)), -ENOENT);
	assert_why(t, "CONFIG_VFIO_DEVICE_CDEV is off");
}

static void test_noiommu(void **state)
{
	struct tree *t = *state;

	add_device(t, "0000:00:03.0", 5, "vfio-pci");
	touch("%s/vfio/noiommu-5", t->p.dev);
	assert_int_equal(discover(t, "0000:00:03.0"), -ENOTSUP);
	assert_why(t, "no-IOMMU mode");
}

static void test_open_errors(void **state)
{
	struct tree *t = *state;
	char why[VFIO_WHY_MAX], path[PATH_MAX];
	int fd;

	add_device(t, "0000:00:03.0", 5, "vfio-pci");
	assert_int_equal(discover(t, "0000:00:03.0"), 0);
	vfio_explain_open_error(t->t.group_path, EACCES, &t->t, why, sizeof(why));
	assert_non_null(strstr(why, "permission denied opening"));
	assert_non_null(strstr(why, t->t.group_path));
	assert_non_null(strstr(why, "run the proxy as root"));
	assert_non_null(strstr(why, "chown"));
	vfio_explain_open_error(t->t.group_path, EBUSY, &t->t, why, sizeof(why));
	assert_non_null(strstr(why, "holds IOMMU group 5"));
	vfio_explain_open_error(t->t.container_path, ENOENT, &t->t, why, sizeof(why));
	assert_non_null(strstr(why, "CONFIG_VFIO_CONTAINER"));
	vfio_explain_open_error(t->t.group_path, ENOENT, &t->t, why, sizeof(why));
	assert_non_null(strstr(why, "although 0000:00:03.0 is bound to vfio-pci"));

	/* the real thing: the fake nodes open, a missing one is explained */
	fd = vfio_open_node(t->t.group_path, &t->t, why, sizeof(why));
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	fmtpath(path, "%s/dev/vfio/6", t->root);
	assert_int_equal(vfio_open_node(path, &t->t, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "is missing"));
	if (geteuid() != 0) {
		chmod(t->t.group_path, 0);
		assert_int_equal(vfio_open_node(t->t.group_path, &t->t, why, sizeof(why)), -EACCES);
		assert_non_null(strstr(why, "permission denied"));
	}
}

static void test_paths_env(void **state)
{
	struct vfio_paths p;

	setenv(VFIO_SYSFS_ROOT_ENV, "/tmp/fake-sys", 1);
	setenv(VFIO_DEV_ROOT_ENV, "/tmp/fake-dev", 1);
	vfio_paths_init(&p, NULL, NULL);
	assert_string_equal(p.sysfs, "/tmp/fake-sys");
	assert_string_equal(p.dev, "/tmp/fake-dev");
	vfio_paths_init(&p, "/a", "/b");
	assert_string_equal(p.sysfs, "/a");
	assert_string_equal(p.dev, "/b");
	unsetenv(VFIO_SYSFS_ROOT_ENV);
	unsetenv(VFIO_DEV_ROOT_ENV);
	vfio_paths_init(&p, NULL, NULL);
	assert_string_equal(p.sysfs, "/sys");
	assert_string_equal(p.dev, "/dev");
}

static void test_capeff(void **state)
{
	const char *root = "Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n"
			   "CapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n";
	const char *user = "Name:\tx\nCapEff:\t0000000000000000\n";
	const char *only_lock = "CapEff:\t0000000000004000\nCapBnd:\t0\n";

	assert_true(vfio_status_has_cap(root, CAP_IPC_LOCK));
	assert_false(vfio_status_has_cap(user, CAP_IPC_LOCK));
	assert_true(vfio_status_has_cap(only_lock, CAP_IPC_LOCK));
	assert_false(vfio_status_has_cap(only_lock, CAP_SYS_ADMIN));
	assert_false(vfio_status_has_cap("CapPrm:\tffffffff\n", CAP_IPC_LOCK));
	assert_false(vfio_status_has_cap("", CAP_IPC_LOCK));
	assert_false(vfio_status_has_cap("CapEff:\tzz\n", CAP_IPC_LOCK));
	assert_false(vfio_status_has_cap(root, 64));
}

/* In a child: a low RLIMIT_MEMLOCK warns once CAP_IPC_LOCK is out of the effective set. */
static void test_memlock(void **state)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { .rlim_cur = 8 << 20, .rlim_max = 8 << 20 };
		struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct data[2];
		char why[VFIO_WHY_MAX];

		if (setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(10);
		if (syscall(SYS_capget, &hdr, data))
			_exit(11);
		data[0].effective &= ~(1u << CAP_IPC_LOCK);
		if (syscall(SYS_capset, &hdr, data))
			_exit(12);
		if (vfio_memlock_check(why, sizeof(why)) != 1)
			_exit(13);
		if (!strstr(why, "RLIMIT_MEMLOCK is 8192 KiB") || !strstr(why, "ulimit -l unlimited") ||
		    !strstr(why, "LimitMEMLOCK=infinity"))
			_exit(14);
		/* with the capability back, no warning */
		data[0].effective |= data[0].permitted & (1u << CAP_IPC_LOCK);
		if (syscall(SYS_capset, &hdr, data))
			_exit(15);
		if ((data[0].permitted & (1u << CAP_IPC_LOCK)) && vfio_memlock_check(why, sizeof(why)) != 0)
			_exit(16);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bound_to_vfio_pci, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bdf_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sysfs_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_driver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_driver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_member_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_members_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_iommu_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_vfio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cdev_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mdev, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_cdev, setup, teardown),
		cmocka_unit_test_setup_teardown(test_noiommu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test(test_paths_env),
		cmocka_unit_test(test_capeff),
		cmocka_unit_test(test_memlock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
