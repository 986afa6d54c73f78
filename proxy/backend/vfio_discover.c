/* vfio_discover.c: the DEVICE argument resolved and checked against sysfs and /dev before any VFIO ioctl; every failure becomes one line saying what to do. */
#include "backend/vfio_discover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/capability.h>

#include "util/log.h"

#define CDEV_DIR "/vfio/devices/"
#define VFIO_PCI "vfio-pci"

static void why_set(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

int vfio_pathf(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

void vfio_paths_init(struct vfio_paths *p, const char *sysfs_root, const char *dev_root)
{
	if (!sysfs_root)
		sysfs_root = getenv(VFIO_SYSFS_ROOT_ENV);
	if (!dev_root)
		dev_root = getenv(VFIO_DEV_ROOT_ENV);
	snprintf(p->sysfs, sizeof(p->sysfs), "%s", sysfs_root && *sysfs_root ? sysfs_root : "/sys");
	snprintf(p->dev, sizeof(p->dev), "%s", dev_root && *dev_root ? dev_root : "/dev");
}

/* Exactly n hex digits (n_max > n_min: between them) at *s, moved past them. */
static int hex_field(const char **s, unsigned int n_min, unsigned int n_max, unsigned long *v)
{
	unsigned int n = 0;

	*v = 0;
	while (n < n_max) {
		char c = (*s)[n];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		*v = *v * 16 + (unsigned long)d;
		n++;
	}
	if (n < n_min)
		return -EINVAL;
	*s += n;
	return 0;
}

int vfio_parse_bdf(const char *s, char *out, size_t out_len)
{
	unsigned long domain = 0, bus, slot, fn;
	const char *p = s;
	int colons = 0, n;

	for (const char *c = s; *c; c++)
		colons += *c == ':';
	if (colons == 2) {
		if (hex_field(&p, 4, 8, &domain) || *p++ != ':')
			return -EINVAL;
	} else if (colons != 1) {
		return -EINVAL;
	}
	if (hex_field(&p, 2, 2, &bus) || *p++ != ':' || hex_field(&p, 2, 2, &slot) || *p++ != '.' ||
	    hex_field(&p, 1, 1, &fn) || *p)
		return -EINVAL;
	if (slot > 0x1f || fn > 7)
		return -EINVAL;
	n = snprintf(out, out_len, "%04lx:%02lx:%02lx.%lx", domain, bus, slot, fn);
	return n < 0 || (size_t)n >= out_len ? -EINVAL : 0;
}

int vfio_link_basename(const char *path, char *out, size_t out_len)
{
	char target[PATH_MAX];
	const char *base;
	ssize_t n = readlink(path, target, sizeof(target) - 1);

	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= out_len)
		return -ENAMETOOLONG;
	strcpy(out, base);
	return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool vfio_driver_is_vfio_pci(const char *drv)
{
	size_t n = strlen(drv);

	if (strcmp(drv, VFIO_PCI) == 0)
		return true;
	return n > 8 && (strcmp(drv + n - 8, "vfio_pci") == 0 || strcmp(drv + n - 8, "vfio-pci") == 0);
}

bool vfio_driver_allowed_in_group(const char *drv)
{
	return vfio_driver_is_vfio_pci(drv) || strcmp(drv, "pci-stub") == 0 || strcmp(drv, "pcieport") == 0;
}

int vfio_parse_uuid(const char *s, char *out, size_t out_len)
{
	static const int group_len[] = { 8, 4, 4, 4, 12 };
	size_t k = 0;

	if (out_len < 37)
		return -EINVAL;
	for (int g = 0; g < 5; g++) {
		for (int i = 0; i < group_len[g]; i++, k++) {
			char c = s[k];

			if (c >= 'A' && c <= 'F')
				c = (char)(c - 'A' + 'a');
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
				return -EINVAL;
			out[k] = c;
		}
		if (g < 4) {
			if (s[k] != '-')
				return -EINVAL;
			out[k++] = '-';
		}
	}
	if (s[k])
		return -EINVAL;
	out[k] = '\0';
	return 0;
}

/* The last component of a path (trailing slashes dropped) into out: 0 or -EINVAL. */
static int path_basename(const char *arg, char *out, size_t len)
{
	size_t n = strlen(arg), end;

	while (n > 1 && arg[n - 1] == '/')
		n--;
	end = n;
	while (n > 0 && arg[n - 1] != '/')
		n--;
	if (end == n || end - n >= len)
		return -EINVAL;
	memcpy(out, arg + n, end - n);
	out[end - n] = '\0';
	return 0;
}

/* A path under "/sys/" (or the configured sysfs root) ending in a PCI address. */
static int bdf_from_sysfs_path(const char *arg, char *bdf, size_t len)
{
	char path[PATH_MAX];
	size_t n;
	char *base;

	if (strlen(arg) >= sizeof(path))
		return -EINVAL;
	strcpy(path, arg);
	n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	base = strrchr(path, '/');
	if (!base)
		return -EINVAL;
	/* sysfs names devices by their full address: no short forms here */
	if (vfio_parse_bdf(base + 1, bdf, len) || strchr(base + 1, ':') == strrchr(base + 1, ':'))
		return -EINVAL;
	return 0;
}

static bool under(const char *path, const char *root, const char *sub)
{
	size_t n = strlen(root);

	return strncmp(path, root, n) == 0 && has_prefix(path + n, sub);
}

/* A VFIO cdev path to its device's PCI address, through sysfs's class/vfio-dev/vfioX/device link. */
static int resolve_cdev(const char *arg, const struct vfio_paths *p, char *bdf, size_t len, char *why,
			size_t why_len)
{
	const char *name = strrchr(arg, '/') + 1;
	char link[PATH_MAX], dev[VFIO_BDF_MAX + 8];

	if (vfio_pathf(link, "%s/class/vfio-dev/%s/device", p->sysfs, name))
		return -ENAMETOOLONG;
	if (vfio_link_basename(link, dev, sizeof(dev)) || vfio_parse_bdf(dev, bdf, len)) {
		why_set(why, why_len,
			"%s is not a VFIO device cdev this kernel knows (%s is missing): ls /dev/vfio/devices lists "
			"them, or give the device's PCI address (e.g. 0000:00:03.0)",
			arg, link);
		return -ENODEV;
	}
	return 0;
}

/*
 * DEVICE naming a mediated device: its UUID, a sysfs path ending in it, or a VFIO cdev whose device is
 * one. true (t->bdf the UUID, t->mdev set) when it does; false for any other form.
 */
static bool resolve_mdev(const char *arg, const struct vfio_paths *p, struct vfio_target *t)
{
	char name[PATH_MAX], link[PATH_MAX];

	if (arg[0] != '/') {
		t->mdev = vfio_parse_uuid(arg, t->bdf, sizeof(t->bdf)) == 0;
		return t->mdev;
	}
	if (path_basename(arg, name, sizeof(name)))
		return false;
	if (under(arg, "/dev", CDEV_DIR) || under(arg, p->dev, CDEV_DIR)) {
		char dev[64];

		if (vfio_pathf(link, "%s/class/vfio-dev/%s/device", p->sysfs, name) ||
		    vfio_link_basename(link, dev, sizeof(dev)) || vfio_parse_uuid(dev, t->bdf, sizeof(t->bdf)))
			return false;
		t->cdev_given = true;
		t->mdev = true;
		return true;
	}
	if (under(arg, "/sys", "/") || under(arg, p->sysfs, "/"))
		t->mdev = vfio_parse_uuid(name, t->bdf, sizeof(t->bdf)) == 0;
	return t->mdev;
}

int vfio_resolve_bdf(const char *arg, const struct vfio_paths *p, char *bdf, size_t len, bool *cdev, char *why,
		     size_t why_len)
{
	if (arg[0] == '/') {
		if (under(arg, "/dev", CDEV_DIR) || under(arg, p->dev, CDEV_DIR)) {
			if (strrchr(arg, '/')[1] == '\0')
				goto bad;
			*cdev = true;
			return resolve_cdev(arg, p, bdf, len, why, why_len);
		}
		if ((under(arg, "/sys", "/") || under(arg, p->sysfs, "/")) &&
		    bdf_from_sysfs_path(arg, bdf, len) == 0)
			return 0;
		goto bad;
	}
	if (vfio_parse_bdf(arg, bdf, len) == 0)
		return 0;
bad:
	why_set(why, why_len,
		"'%s' names no PCI device: give its address (0000:00:03.0, or 00:03.0 for domain 0000) or its "
		"sysfs path (/sys/bus/pci/devices/0000:00:03.0)",
		arg);
	return -EINVAL;
}

static int check_group_members(const struct vfio_paths *p, const char *bdf, unsigned int group, char *why,
			       size_t why_len)
{
	char dir[PATH_MAX], link[PATH_MAX], drv[VFIO_DRIVER_MAX];
	struct dirent **ents = NULL;
	int n, ret = 0;

	if (vfio_pathf(dir, "%s/kernel/iommu_groups/%u/devices", p->sysfs, group))
		return -ENAMETOOLONG;
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		ret = -errno;
		why_set(why, why_len, "cannot list the devices of IOMMU group %u (%s): %s", group, dir, strerror(-ret));
		return ret;
	}
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		int r;

		if (ret || name[0] == '.' || strcmp(name, bdf) == 0)
			continue;
		if (vfio_pathf(link, "%s/%s/driver", dir, name)) {
			ret = -ENAMETOOLONG;
			continue;
		}
		r = vfio_link_basename(link, drv, sizeof(drv));
		if (r == -ENOENT || (r == 0 && vfio_driver_allowed_in_group(drv)))
			continue;
		if (r) {
			why_set(why, why_len, "cannot read the driver of %s in IOMMU group %u (%s): %s", name, group,
				link, strerror(-r));
			ret = r;
			continue;
		}
		why_set(why, why_len,
			"IOMMU group %u also holds %s, bound to %s: VFIO takes whole groups, so bind %s to vfio-pci "
			"too, or unbind it (echo %s > %s/%s/driver/unbind)",
			group, name, drv, name, name, dir, name);
		ret = -EBUSY;
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return ret;
}

/* An mdev is a VFIO device through whatever driver its parent registered: it needs one, any one. */
static int check_mdev_driver(const char *devdir, const char *uuid, char *drv, size_t drv_len, char *why,
			     size_t why_len)
{
	char link[PATH_MAX];
	int ret;

	if (vfio_pathf(link, "%s/driver", devdir))
		return -ENAMETOOLONG;
	ret = vfio_link_basename(link, drv, drv_len);
	if (ret == -ENOENT)
		why_set(why, why_len, "mdev %s is bound to no driver: is its parent's module loaded?", uuid);
	else if (ret)
		why_set(why, why_len, "cannot read the driver of mdev %s (%s): %s", uuid, link, strerror(-ret));
	return ret == -ENOENT ? -ENODEV : ret;
}

static int check_driver(const struct vfio_paths *p, const char *devdir, const char *bdf, char *drv,
			size_t drv_len, char *why, size_t why_len)
{
	char link[PATH_MAX];
	int ret;

	if (vfio_pathf(link, "%s/driver", devdir))
		return -ENAMETOOLONG;
	ret = vfio_link_basename(link, drv, drv_len);
	if (ret == -ENOENT) {
		why_set(why, why_len,
			"%s is bound to no driver: bind it to vfio-pci (echo vfio-pci > %s/driver_override; "
			"echo %s > %s/bus/pci/drivers_probe)",
			bdf, devdir, bdf, p->sysfs);
		return -ENODEV;
	}
	if (ret) {
		why_set(why, why_len, "cannot read the driver of %s (%s): %s", bdf, link, strerror(-ret));
		return ret;
	}
	if (!vfio_driver_is_vfio_pci(drv)) {
		why_set(why, why_len,
			"%s is bound to %s, not vfio-pci: rebind it (echo %s > %s/driver/unbind; echo vfio-pci > "
			"%s/driver_override; echo %s > %s/bus/pci/drivers_probe)",
			bdf, drv, bdf, devdir, devdir, bdf, p->sysfs);
		return -EBUSY;
	}
	return 0;
}

/* The device's VFIO cdev (CONFIG_VFIO_DEVICE_CDEV): sysfs .../vfio-dev/vfioX names it; none is no error. */
static int find_cdev(const struct vfio_paths *p, const char *devdir, struct vfio_target *t)
{
	char dir[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int ret = 0;

	t->cdev_path[0] = '\0';
	if (vfio_pathf(dir, "%s/vfio-dev", devdir))
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "vfio", 4) != 0 || !e->d_name[4])
			continue;
		if (vfio_pathf(t->cdev_path, "%s%s%s", p->dev, CDEV_DIR, e->d_name))
			ret = -ENAMETOOLONG;
		break;
	}
	closedir(d);
	return ret;
}

int vfio_discover(const char *device, const struct vfio_paths *p, struct vfio_target *t, char *why,
		  size_t why_len)
{
	char devdir[PATH_MAX], path[PATH_MAX], name[32];
	struct stat st;
	unsigned long group;
	char *end;
	int ret;

	memset(t, 0, sizeof(*t));
	if (!device || !*device) {
		why_set(why, why_len, "no DEVICE given: give a PCI address such as 0000:00:03.0");
		return -EINVAL;
	}
	if (!resolve_mdev(device, p, t)) {
		ret = vfio_resolve_bdf(device, p, t->bdf, sizeof(t->bdf), &t->cdev_given, why, why_len);
		if (ret == -EINVAL)
			why_set(why, why_len,
				"'%s' names no PCI device or mdev: give its address (0000:00:03.0, or 00:03.0 for domain "
				"0000), its sysfs path (/sys/bus/pci/devices/0000:00:03.0), its VFIO cdev, or an mdev's "
				"UUID or sysfs path (/sys/bus/mdev/devices/UUID)",
				device);
		if (ret)
			return ret;
	}

	if (vfio_pathf(path, "%s/vfio", p->dev))
		return -ENAMETOOLONG;
	if (stat(path, &st)) {
		why_set(why, why_len, "the kernel has no VFIO (%s is missing): load vfio-pci (modprobe vfio-pci)",
			path);
		return -ENOENT;
	}

	if (vfio_pathf(devdir, "%s/bus/%s/devices/%s", p->sysfs, t->mdev ? "mdev" : "pci", t->bdf))
		return -ENAMETOOLONG;
	if (stat(devdir, &st)) {
		if (t->mdev)
			why_set(why, why_len, "no mdev %s (%s does not exist): ls %s/bus/mdev/devices lists them",
				t->bdf, devdir, p->sysfs);
		else
			why_set(why, why_len, "no PCI device %s (%s does not exist): lspci -D lists the addresses",
				t->bdf, devdir);
		return -ENODEV;
	}

	if (vfio_pathf(path, "%s/iommu_group", devdir))
		return -ENAMETOOLONG;
	ret = vfio_link_basename(path, name, sizeof(name));
	if (ret == -ENOENT) {
		why_set(why, why_len,
			"%s has no IOMMU group: the IOMMU is off; turn on VT-d/AMD-Vi in the firmware and boot with "
			"intel_iommu=on (or amd_iommu=on)",
			t->bdf);
		return -ENODEV;
	}
	errno = 0;
	group = ret ? 0 : strtoul(name, &end, 10);
	if (ret || errno || end == name || *end || group > UINT32_MAX) {
		why_set(why, why_len, "cannot read the IOMMU group of %s (%s): %s", t->bdf, path,
			ret ? strerror(-ret) : "not a group number");
		return ret ? ret : -EINVAL;
	}
	t->group = (unsigned int)group;

	if (t->mdev)
		ret = check_mdev_driver(devdir, t->bdf, t->driver, sizeof(t->driver), why, why_len);
	else
		ret = check_driver(p, devdir, t->bdf, t->driver, sizeof(t->driver), why, why_len);
	if (ret)
		return ret;
	ret = check_group_members(p, t->bdf, t->group, why, why_len);
	if (ret)
		return ret;

	if (vfio_pathf(path, "%s/vfio/noiommu-%u", p->dev, t->group))
		return -ENAMETOOLONG;
	if (stat(path, &st) == 0) {
		why_set(why, why_len,
			"%s is in VFIO no-IOMMU mode (%s): the proxy needs an IOMMU to confine the device's DMA; "
			"turn the IOMMU on and reload vfio without enable_unsafe_noiommu_mode",
			t->bdf, path);
		return -ENOTSUP;
	}
	if (vfio_pathf(t->group_path, "%s/vfio/%u", p->dev, t->group) ||
	    vfio_pathf(t->container_path, "%s/vfio/vfio", p->dev) || vfio_pathf(t->iommufd_path, "%s/iommu", p->dev))
		return -ENAMETOOLONG;
	return find_cdev(p, devdir, t);
}

int vfio_iommufd_available(const struct vfio_target *t, char *why, size_t why_len)
{
	struct stat st;

	if (stat(t->iommufd_path, &st)) {
		why_set(why, why_len, "this kernel has no iommufd (%s missing)", t->iommufd_path);
		return -ENOENT;
	}
	if (!t->cdev_path[0]) {
		why_set(why, why_len, "this kernel gives %s no VFIO device cdev (no vfio-dev/vfioX in sysfs: "
			"CONFIG_VFIO_DEVICE_CDEV is off)", t->bdf);
		return -ENOENT;
	}
	if (stat(t->cdev_path, &st)) {
		why_set(why, why_len, "%s's VFIO device cdev %s is missing", t->bdf, t->cdev_path);
		return -ENOENT;
	}
	return 0;
}

void vfio_explain_open_error(const char *path, int err, const struct vfio_target *t, char *why, size_t why_len)
{
	bool container = t && strcmp(path, t->container_path) == 0;

	switch (err) {
	case EACCES:
	case EPERM:
		why_set(why, why_len,
			"permission denied opening %s: run the proxy as root, or give its user the device node "
			"(chown USER %s)",
			path, path);
		break;
	case EBUSY:
		if (container || !t)
			why_set(why, why_len, "%s is busy: another process holds it; stop that process first", path);
		else
			why_set(why, why_len,
				"%s is busy: another process (a VMM or another proxy) holds IOMMU group %u; stop it "
				"first",
				path, t->group);
		break;
	case ENOENT:
	case ENODEV:
	case ENXIO:
		if (container)
			why_set(why, why_len,
				"%s is missing: the kernel's VFIO has no legacy container (CONFIG_VFIO_CONTAINER); "
				"load vfio-pci (modprobe vfio-pci)",
				path);
		else if (t)
			why_set(why, why_len,
				"%s is missing although %s is bound to %s: check what udev made of it (ls -l %s)", path,
				t->bdf, t->driver, path);
		else
			why_set(why, why_len, "%s is missing: load vfio-pci (modprobe vfio-pci)", path);
		break;
	default:
		why_set(why, why_len, "cannot open %s: %s", path, strerror(err));
		break;
	}
}

int vfio_open_node(const char *path, const struct vfio_target *t, char *why, size_t why_len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		int err = errno;

		vfio_explain_open_error(path, err, t, why, why_len);
		return -err;
	}
	return fd;
}

int vfio_open_node_logged(const char *path, const struct vfio_target *t)
{
	char why[VFIO_WHY_MAX];
	int fd = vfio_open_node(path, t, why, sizeof(why));

	if (fd < 0)
		log_error("%s", why);
	return fd;
}

bool vfio_status_has_cap(const char *status, unsigned int cap)
{
	const char *line = status;
	unsigned long long eff;
	char *end;

	if (cap >= 64)
		return false;
	while (line && *line) {
		if (has_prefix(line, "CapEff:")) {
			errno = 0;
			eff = strtoull(line + strlen("CapEff:"), &end, 16);
			if (errno || end == line + strlen("CapEff:"))
				return false;
			return (eff >> cap) & 1;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

static bool have_ipc_lock(void)
{
	char buf[8192];
	ssize_t n;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return vfio_status_has_cap(buf, CAP_IPC_LOCK);
}

int vfio_memlock_check(char *why, size_t why_len)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= VFIO_MEMLOCK_MIN)
		return 0;
	if (have_ipc_lock())
		return 0;
	why_set(why, why_len,
		"RLIMIT_MEMLOCK is %llu KiB and the proxy lacks CAP_IPC_LOCK: VFIO pins every DMA window the client "
		"maps (all of guest RAM), so mapping fails past that; raise it (ulimit -l unlimited, or "
		"LimitMEMLOCK=infinity in the systemd unit)",
		(unsigned long long)rl.rlim_cur / 1024);
	return 1;
}

bool vfio_fd_is_node(int fd, const char *path)
{
	struct stat a, b;

	return fd >= 0 && path[0] && fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino && (a.st_mode & S_IFMT) == (b.st_mode & S_IFMT);
}
