/* pci_bind.c: binding one PCI device to vfio-pci and giving it back, with its old driver remembered under the state directory and every failure said in one line. */
#include "cli/pci_bind.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

#define VFIO_PCI PCI_BIND_VFIO_PCI
#define LIST_MAX 512 /* the members a refusal names */

static void say(struct pci_bind *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One failure line on err, prefixed by the command. */
static void say(struct pci_bind *b, const char *fmt, ...)
{
	va_list ap;

	fprintf(b->err, "%s: ", b->prog);
	va_start(ap, fmt);
	vfprintf(b->err, fmt, ap);
	va_end(ap);
	fputc('\n', b->err);
	fflush(b->err);
}

static void done(struct pci_bind *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line on out for a device done. */
static void done(struct pci_bind *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(b->out, fmt, ap);
	va_end(ap);
	fputc('\n', b->out);
	fflush(b->out);
}

void pci_bind_init(struct pci_bind *b, const char *prog)
{
	const char *state = getenv(PCI_BIND_STATE_ENV);

	memset(b, 0, sizeof(*b));
	pci_sysfs_init(&b->sys);
	vfio_paths_init(&b->paths, b->sys.root, NULL);
	state = state && *state ? state : PCI_BIND_STATE_DEFAULT;
	if (strlen(state) < sizeof(b->state_dir))
		strcpy(b->state_dir, state); /* else left empty: every state path is then -ENAMETOOLONG */
	b->prog = prog;
	b->out = stdout;
	b->err = stderr;
	b->notice_ms = 1000;
}

int pci_bind_resolve(struct pci_bind *b, const char *device, char *bdf)
{
	char why[VFIO_WHY_MAX];
	bool cdev;
	int ret = vfio_resolve_bdf(device, &b->paths, bdf, VFIO_BDF_MAX, &cdev, why, sizeof(why));

	if (ret)
		say(b, "%s", why);
	return ret;
}

int pci_bind_add_group(struct pci_bind *b, const char *bdf, struct pci_bdf_list *l)
{
	struct pci_bdf_list members = { 0 };
	int ret = pci_bdf_list_add(l, bdf);

	if (ret || pci_dev_group_members(&b->sys, bdf, &members))
		goto out;
	for (size_t i = 0; i < members.n && !ret; i++) {
		unsigned int class_code;

		/* bridges stay on pcieport, which VFIO accepts in a group; an unreadable class counts as an endpoint */
		if (pci_dev_class(&b->sys, members.bdf[i], &class_code) == 0 && class_code >> 8 == PCI_CLASS_BRIDGE_PCI)
			continue;
		ret = pci_bdf_list_add(l, members.bdf[i]);
	}
out:
	pci_bdf_list_free(&members);
	return ret;
}

/* Writing path failed with ret: said for bdf, with what to do. Returns ret. */
static int say_write_error(struct pci_bind *b, const char *bdf, const char *path, int ret)
{
	if (ret == -EACCES || ret == -EPERM)
		say(b, "%s: cannot write %s: permission denied: changing a device's driver needs root (run as root)",
		    bdf, path);
	else
		say(b, "%s: cannot write %s: %s", bdf, path, strerror(-ret));
	return ret;
}

/* Writes value to the device's attribute attr (driver_override, driver/unbind): 0 or said. */
static int dev_write(struct pci_bind *b, const char *bdf, const char *attr, const char *value)
{
	char path[PATH_MAX];
	int ret = pci_dev_path(&b->sys, bdf, attr, path);

	if (!ret)
		ret = pci_write(path, value);
	return ret ? say_write_error(b, bdf, path, ret) : 0;
}

/* Writes bdf to root/bus/pci/drivers_probe, for the kernel to find the device a driver: 0 or said. */
static int probe_write(struct pci_bind *b, const char *bdf)
{
	char path[PATH_MAX];
	int ret = pci_bus_path(&b->sys, "drivers_probe", NULL, path);

	if (!ret)
		ret = pci_write(path, bdf);
	return ret ? say_write_error(b, bdf, path, ret) : 0;
}

/* ----- the remembered driver: STATE/bind/ADDRESS holds its name, or nothing when the device had none ----- */

static int state_path(const struct pci_bind *b, const char *bdf, const char *prefix, char *path)
{
	int n;

	if (!b->state_dir[0])
		return -ENAMETOOLONG;
	n = bdf ? snprintf(path, PATH_MAX, "%s/bind/%s%s", b->state_dir, prefix, bdf)
		: snprintf(path, PATH_MAX, "%s/bind", b->state_dir);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* A driver name as sysfs gives one: no path separators, not "." or "..". */
static bool driver_name_ok(const char *s)
{
	return !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..") && strlen(s) < VFIO_DRIVER_MAX;
}

/* 0 with the driver (or "") in drv, -ENOENT when none is remembered, or another negative errno (said). */
static int state_read(struct pci_bind *b, const char *bdf, char *drv, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, ret = state_path(b, bdf, "", path);

	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret != -ENOENT)
			say(b, "%s: cannot read the driver remembered in %s: %s", bdf, path, strerror(-ret));
		return ret;
	}
	n = read(fd, drv, len - 1);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret) {
		say(b, "%s: cannot read the driver remembered in %s: %s", bdf, path, strerror(-ret));
		return ret;
	}
	while (n > 0 && (drv[n - 1] == '\n' || drv[n - 1] == ' '))
		n--;
	drv[n] = '\0';
	if (!driver_name_ok(drv)) {
		say(b, "%s: %s holds no driver name ('%s'): remove it", bdf, path, drv);
		return -EINVAL;
	}
	return 0;
}

static int state_error(struct pci_bind *b, const char *bdf, const char *path, int ret)
{
	if (ret == -EACCES || ret == -EPERM || ret == -EROFS)
		say(b, "%s: cannot remember its driver in %s: %s: run as root", bdf, path, strerror(-ret));
	else
		say(b, "%s: cannot remember its driver in %s: %s", bdf, path, strerror(-ret));
	return ret;
}

/* Remembers drv ("" for none) for bdf: written to a temporary file and renamed over, so never half there. */
static int state_write(struct pci_bind *b, const char *bdf, const char *drv)
{
	char dir[PATH_MAX], tmp[PATH_MAX], path[PATH_MAX], line[VFIO_DRIVER_MAX + 2];
	int fd, n, ret;

	if (state_path(b, NULL, "", dir) || state_path(b, bdf, ".", tmp) || state_path(b, bdf, "", path))
		return state_error(b, bdf, b->state_dir, -ENAMETOOLONG);
	if (mkdir(b->state_dir, 0755) && errno != EEXIST)
		return state_error(b, bdf, b->state_dir, -errno);
	if (mkdir(dir, 0755) && errno != EEXIST)
		return state_error(b, bdf, dir, -errno);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return state_error(b, bdf, tmp, -errno);
	n = snprintf(line, sizeof(line), "%s%s", drv, *drv ? "\n" : "");
	ret = write(fd, line, (size_t)n) == n ? 0 : errno ? -errno : -EIO;
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return state_error(b, bdf, path, ret);
	}
	return 0;
}

static void state_remove(struct pci_bind *b, const char *bdf)
{
	char path[PATH_MAX];

	if (state_path(b, bdf, "", path) == 0 && unlink(path) && errno != ENOENT)
		log_warn("%s: cannot remove %s: %s", bdf, path, strerror(errno));
}

/* ----- bind ----- */

static int check_device(struct pci_bind *b, const char *bdf, char *drv, size_t len)
{
	char path[PATH_MAX];
	int ret;

	if (!pci_dev_exists(&b->sys, bdf)) {
		pci_dev_path(&b->sys, bdf, NULL, path);
		say(b, "%s: no such PCI device (%s does not exist): lspci -D lists the addresses", bdf, path);
		return -ENODEV;
	}
	ret = pci_dev_driver(&b->sys, bdf, drv, len);
	if (ret == -ENOENT) {
		drv[0] = '\0';
		return 0;
	}
	if (ret)
		say(b, "%s: cannot read its driver: %s", bdf, strerror(-ret));
	return ret;
}

/* Every other member of bdf's group must be on no driver, vfio-pci, pci-stub, pcieport, or in also. */
static int check_group(struct pci_bind *b, const char *bdf, unsigned int group, const struct pci_bdf_list *also)
{
	struct pci_bdf_list members = { 0 };
	char list[LIST_MAX] = "", drv[VFIO_DRIVER_MAX];
	size_t used = 0;
	int ret, busy = 0;

	ret = pci_dev_group_members(&b->sys, bdf, &members);
	if (ret) {
		say(b, "%s: cannot list the devices of IOMMU group %u: %s", bdf, group, strerror(-ret));
		goto out;
	}
	for (size_t i = 0; i < members.n; i++) {
		const char *m = members.bdf[i];
		unsigned int class_code = 0;
		int r;

		if (strcmp(m, bdf) == 0 || (also && pci_bdf_list_has(also, m)))
			continue;
		r = pci_dev_driver(&b->sys, m, drv, sizeof(drv));
		if (r == -ENOENT || (r == 0 && vfio_driver_allowed_in_group(drv)))
			continue;
		if (r)
			snprintf(drv, sizeof(drv), "unreadable driver: %s", strerror(-r));
		pci_dev_class(&b->sys, m, &class_code);
		if (used < sizeof(list))
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s (%s%s)", busy ? ", " : "", m,
						 class_code >> 8 == PCI_CLASS_BRIDGE_PCI ? "a bridge, " : "", drv);
		busy++;
	}
	if (busy) {
		say(b,
		    "%s: not bound: IOMMU group %u also holds %s, on %s other than vfio-pci, pci-stub or pcieport: "
		    "VFIO takes whole groups; bind %s too (--group binds every device of the group but bridges) or "
		    "unbind %s from %s driver",
		    bdf, group, list, busy > 1 ? "drivers" : "a driver", busy > 1 ? "them" : "it", busy > 1 ? "them" : "it",
		    busy > 1 ? "their" : "its");
		ret = -EBUSY;
	}
out:
	pci_bdf_list_free(&members);
	return ret;
}

/* vfio-pci registered with the PCI bus, loaded through libkmod when it is not. */
static int ensure_vfio_pci(struct pci_bind *b, const char *bdf)
{
	char why[VFIO_WHY_MAX] = "";
	int ret;

	if (pci_driver_registered(&b->sys, VFIO_PCI))
		return 0;
	if (b->vfio_pci_err) {
		say(b, "%s: not bound: vfio-pci is not available (said above)", bdf);
		return b->vfio_pci_err;
	}
	ret = pci_load_module(&b->sys, VFIO_PCI, why, sizeof(why));
	if (!ret && !pci_driver_registered(&b->sys, VFIO_PCI))
		ret = -ENOENT;
	if (ret) {
		b->vfio_pci_err = ret;
		if (*why)
			say(b, "%s: not bound: vfio-pci is not loaded and cannot be: %s", bdf, why);
		else
			say(b, "%s: not bound: module vfio-pci loaded, yet %s/bus/pci/drivers/vfio-pci is missing", bdf,
			    b->sys.root);
		return ret;
	}
	log_info("loaded module vfio-pci");
	return 0;
}

/*
 * Remembers drv as what bdf had, unless it has none now and a bind that stopped half way remembered the
 * real one; prev says which (what unbind will give it back to). *wrote: the record is this bind's.
 */
static int remember(struct pci_bind *b, const char *bdf, const char *drv, char *prev, bool *wrote)
{
	*wrote = false;
	if (!*drv && state_read(b, bdf, prev, VFIO_DRIVER_MAX) == 0 && *prev) {
		log_info("%s: on no driver; keeping %s, remembered by an earlier bind, as its driver", bdf, prev);
		return 0;
	}
	strcpy(prev, drv);
	*wrote = true;
	return state_write(b, bdf, drv);
}

/* A bind that changed nothing but driver_override: that is cleared, this bind's record removed. */
static void undo(struct pci_bind *b, const char *bdf, bool override_set, bool wrote)
{
	char path[PATH_MAX];
	int ret = 0;

	if (override_set && (ret = pci_dev_path(&b->sys, bdf, "driver_override", path)) == 0)
		ret = pci_write(path, "\n");
	if (ret)
		log_warn("%s: cannot clear its driver_override again: %s", bdf, strerror(-ret));
	if (wrote)
		state_remove(b, bdf);
}

int pci_bind_device(struct pci_bind *b, const char *bdf, const struct pci_bdf_list *also)
{
	char drv[VFIO_DRIVER_MAX], prev[VFIO_DRIVER_MAX], now[VFIO_DRIVER_MAX] = "", path[PATH_MAX];
	unsigned int group = 0;
	bool wrote;
	int ret;

	ret = check_device(b, bdf, drv, sizeof(drv));
	if (ret)
		return ret;
	ret = pci_dev_group(&b->sys, bdf, &group);
	if (*drv && vfio_driver_is_vfio_pci(drv)) {
		if (ret)
			done(b, "%s: already bound to %s (in no IOMMU group)", bdf, drv);
		else
			done(b, "%s: already bound to %s, IOMMU group %u", bdf, drv, group);
		return 0;
	}
	if (ret == -ENOENT) {
		say(b,
		    "%s: not bound: it is in no IOMMU group, so the IOMMU is off: turn on VT-d/AMD-Vi in the firmware "
		    "and boot with intel_iommu=on (or amd_iommu=on)",
		    bdf);
		return -ENODEV;
	}
	if (ret) {
		say(b, "%s: cannot read its IOMMU group: %s", bdf, strerror(-ret));
		return ret;
	}
	ret = check_group(b, bdf, group, also);
	if (!ret)
		ret = ensure_vfio_pci(b, bdf);
	if (!ret)
		ret = remember(b, bdf, drv, prev, &wrote);
	if (ret)
		return ret;

	ret = dev_write(b, bdf, "driver_override", VFIO_PCI);
	if (ret) {
		undo(b, bdf, false, wrote);
		return ret;
	}
	if (*drv) {
		ret = dev_write(b, bdf, "driver/unbind", bdf);
		if (ret) {
			undo(b, bdf, true, wrote);
			return ret;
		}
		if (pci_wait_driver(&b->sys, bdf, NULL, -1)) {
			say(b,
			    "%s: not bound: %s still has it %d ms after its unbind (dmesg may say why); "
			    "vfio-user-proxy unbind %s clears what bind set",
			    bdf, drv, b->sys.timeout_ms, bdf);
			return -ETIMEDOUT;
		}
	}

	/* from here the device is on no driver until vfio-pci takes it: what went wrong says how back */
	ret = pci_bus_path(&b->sys, "drivers_probe", NULL, path);
	if (!ret)
		ret = pci_write(path, bdf);
	if (!ret && pci_wait_driver(&b->sys, bdf, VFIO_PCI, -1) == 0) {
		done(b, "%s: bound to vfio-pci (was %s), IOMMU group %u", bdf, *prev ? prev : "on no driver", group);
		return 0;
	}
	pci_dev_driver(&b->sys, bdf, now, sizeof(now));
	if (ret)
		say(b, "%s: not bound: cannot write %s: %s; it is on %s now: vfio-user-proxy unbind %s gives it back to %s",
		    bdf, path, strerror(-ret), *now ? now : "no driver", bdf, *prev ? prev : "no driver");
	else
		say(b,
		    "%s: vfio-pci did not take it within %d ms (dmesg may say why); it is on %s now: "
		    "vfio-user-proxy unbind %s gives it back to %s",
		    bdf, b->sys.timeout_ms, *now ? now : "no driver", bdf, *prev ? prev : "no driver");
	return ret ? ret : -ETIMEDOUT;
}

/* ----- unbind ----- */

/* Binds bdf to drv again (its module loaded if its driver is missing), else lets the kernel probe it. */
static int restore_driver(struct pci_bind *b, const char *bdf, const char *drv)
{
	char why[VFIO_WHY_MAX] = "", now[VFIO_DRIVER_MAX] = "", path[PATH_MAX];
	int ret;

	if (!pci_driver_registered(&b->sys, drv)) {
		ret = pci_load_module(&b->sys, drv, why, sizeof(why));
		if (ret)
			log_warn("%s: %s; asking the kernel to probe it instead", bdf, why);
		else
			log_info("loaded module %s", drv);
	}
	if (pci_driver_registered(&b->sys, drv) && pci_bus_path(&b->sys, drv, "bind", path) == 0) {
		ret = pci_write(path, bdf);
		if (!ret && pci_wait_driver(&b->sys, bdf, drv, -1) == 0)
			return 0;
		log_warn("%s: %s did not take it back (%s): asking the kernel to probe it", bdf, drv,
			 ret ? strerror(-ret) : "timed out");
	}
	ret = probe_write(b, bdf);
	if (ret)
		return ret;
	if (pci_wait_driver(&b->sys, bdf, drv, -1) == 0)
		return 0;
	pci_dev_driver(&b->sys, bdf, now, sizeof(now));
	say(b,
	    "%s: unbound from vfio-pci, but %s did not take it back (it is on %s; dmesg may say why): bind it by hand "
	    "(echo %s > %s/bus/pci/drivers/%s/bind)",
	    bdf, drv, *now ? now : "no driver", bdf, b->sys.root, drv);
	return -ENODEV;
}

/* Off vfio-pci: the kernel holds the write until the device's users close it, said after notice_ms. */
static int leave_vfio_pci(struct pci_bind *b, const char *bdf, const char *drv)
{
	char path[PATH_MAX], notice[VFIO_WHY_MAX];
	int ret = pci_dev_path(&b->sys, bdf, "driver/unbind", path);

	snprintf(notice, sizeof(notice),
		 "%s: %s: waiting for the device's users (a VMM, a vfio-user-proxy export) to close it: the kernel "
		 "holds the unbind until then",
		 b->prog, bdf);
	if (!ret)
		ret = pci_write_noticed(path, bdf, b->notice_ms, b->err, notice);
	if (ret)
		return say_write_error(b, bdf, path, ret);
	if (pci_wait_driver(&b->sys, bdf, NULL, -1)) {
		say(b, "%s: still on %s %d ms after its unbind (dmesg may say why)", bdf, drv, b->sys.timeout_ms);
		return -ETIMEDOUT;
	}
	return 0;
}

int pci_unbind_device(struct pci_bind *b, const char *bdf)
{
	char drv[VFIO_DRIVER_MAX], old[VFIO_DRIVER_MAX] = "", now[VFIO_DRIVER_MAX] = "", path[PATH_MAX];
	bool recorded;
	int ret;

	ret = check_device(b, bdf, drv, sizeof(drv));
	if (ret)
		return ret;
	if (*drv && !vfio_driver_is_vfio_pci(drv)) {
		done(b, "%s: not bound to vfio-pci (on %s): nothing to do", bdf, drv);
		return 0;
	}
	ret = state_read(b, bdf, old, sizeof(old));
	if (ret && ret != -ENOENT)
		return ret;
	recorded = ret == 0;
	if (!*drv && !recorded) {
		done(b, "%s: not bound to vfio-pci (on no driver): nothing to do", bdf);
		return 0;
	}
	if (*drv) {
		ret = leave_vfio_pci(b, bdf, drv);
		if (ret)
			return ret;
	}
	ret = dev_write(b, bdf, "driver_override", "\n");
	if (ret)
		return ret;

	if (recorded && *old) {
		ret = restore_driver(b, bdf, old);
		if (ret)
			return ret; /* remembered still, for another try */
		state_remove(b, bdf);
		if (*drv)
			done(b, "%s: unbound from %s, back on %s", bdf, drv, old);
		else
			done(b, "%s: back on %s (it was on no driver: a bind had stopped half way)", bdf, old);
	} else if (recorded) {
		state_remove(b, bdf);
		if (*drv)
			done(b, "%s: unbound from %s, on no driver as before bind", bdf, drv);
		else
			done(b, "%s: driver_override cleared, on no driver as before bind", bdf);
	} else {
		ret = probe_write(b, bdf);
		if (ret)
			return ret;
		pci_wait_driver(&b->sys, bdf, "", 1000);
		pci_dev_driver(&b->sys, bdf, now, sizeof(now));
		state_path(b, bdf, "", path);
		done(b, "%s: unbound from vfio-pci; its driver before was not recorded (no %s), so the kernel probed it: "
		     "on %s now", bdf, path, *now ? now : "no driver");
	}
	return 0;
}
