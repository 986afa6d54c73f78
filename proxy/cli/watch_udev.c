/* watch_udev.c: libudev for `watch`: enumerate the PCI devices bound to vfio-pci, then follow bind, unbind and remove uevents (from udevd, or from the kernel where no udevd runs). */
#include "cli/watch_udev.h"

#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

#define VFIO_PCI_DRIVER "vfio-pci"
/* udevd's control socket: when it exists, events come through udevd, after its rules (which may opt a
 * device out); without it (busybox guests) straight from the kernel. */
#define UDEVD_CONTROL "/run/udev/control"

struct watch_udev {
	struct udev *udev;
	struct udev_monitor *mon;
	bool from_udevd;
};

/* Whether a udev rule keeps the device out of watch. */
static bool opted_out(struct udev_device *dev)
{
	/* the values udev/70-vfio-user-proxy.rules honours */
	static const char *const no[] = { "0", "no", "off" };
	const char *v = udev_device_get_property_value(dev, WATCH_OPT_OUT_PROPERTY);

	for (size_t i = 0; v && i < sizeof(no) / sizeof(no[0]); i++)
		if (strcmp(v, no[i]) == 0)
			return true;
	return false;
}

/* A PCI device bound to vfio-pci that watch may export: its address, else NULL (logged when opted out). */
static const char *exportable(struct udev_device *dev)
{
	const char *driver = udev_device_get_driver(dev);
	const char *subsystem = udev_device_get_subsystem(dev);
	const char *bdf = udev_device_get_sysname(dev);

	if (!driver || strcmp(driver, VFIO_PCI_DRIVER) || !subsystem || strcmp(subsystem, "pci") || !bdf)
		return NULL;
	if (opted_out(dev)) {
		log_info("watch: %s: bound to vfio-pci but %s=%s (a udev rule): not exported", bdf,
			 WATCH_OPT_OUT_PROPERTY, udev_device_get_property_value(dev, WATCH_OPT_OUT_PROPERTY));
		return NULL;
	}
	return bdf;
}

static int open_monitor(struct watch_udev *w)
{
	int fd, flags;

	w->from_udevd = access(UDEVD_CONTROL, F_OK) == 0;
	w->mon = udev_monitor_new_from_netlink(w->udev, w->from_udevd ? "udev" : "kernel");
	if (!w->mon)
		return errno ? -errno : -ENOMEM;
	if (udev_monitor_filter_add_match_subsystem_devtype(w->mon, "pci", NULL) < 0)
		return -EINVAL;
	/* a burst of binds (a script binding a dozen devices) must not overflow the socket: best effort */
	udev_monitor_set_receive_buffer_size(w->mon, 1 << 20);
	if (udev_monitor_enable_receiving(w->mon) < 0)
		return errno ? -errno : -EIO;
	fd = udev_monitor_get_fd(w->mon);
	flags = fcntl(fd, F_GETFL);
	if (fd < 0 || flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) || fcntl(fd, F_SETFD, FD_CLOEXEC))
		return -errno;
	return 0;
}

int watch_udev_open(bool monitor, struct watch_udev **out)
{
	struct watch_udev *w = calloc(1, sizeof(*w));
	int ret = 0;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	errno = 0;
	w->udev = udev_new();
	if (!w->udev) {
		ret = errno ? -errno : -ENOMEM;
		log_error("watch: cannot open libudev: %s", strerror(-ret));
		goto fail;
	}
	if (monitor) {
		errno = 0;
		ret = open_monitor(w);
		if (ret) {
			log_error("watch: cannot listen for %s uevents: %s", w->from_udevd ? "udevd's" : "the kernel's",
				  strerror(-ret));
			goto fail;
		}
	}
	*out = w;
	return 0;
fail:
	watch_udev_close(w);
	return ret;
}

void watch_udev_close(struct watch_udev *w)
{
	if (!w)
		return;
	if (w->mon)
		udev_monitor_unref(w->mon);
	if (w->udev)
		udev_unref(w->udev);
	free(w);
}

int watch_udev_fd(const struct watch_udev *w)
{
	return w->mon ? udev_monitor_get_fd(w->mon) : -1;
}

const char *watch_udev_source(const struct watch_udev *w)
{
	return w->from_udevd ? "udevd" : "the kernel";
}

int watch_udev_enumerate(struct watch_udev *w, watch_udev_fn fn, void *ctx)
{
	struct udev_enumerate *en = udev_enumerate_new(w->udev);
	struct udev_list_entry *e;
	int n = 0, ret;

	if (!en)
		return -ENOMEM;
	ret = udev_enumerate_add_match_subsystem(en, "pci");
	if (ret >= 0)
		ret = udev_enumerate_scan_devices(en);
	if (ret < 0) {
		log_error("watch: cannot list the PCI devices: %s", strerror(-ret));
		udev_enumerate_unref(en);
		return ret;
	}
	udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en))
	{
		struct udev_device *dev = udev_device_new_from_syspath(w->udev, udev_list_entry_get_name(e));
		const char *bdf;

		if (!dev)
			continue; /* gone since the scan */
		bdf = exportable(dev);
		if (bdf) {
			fn(ctx, bdf, true);
			n++;
		}
		udev_device_unref(dev);
	}
	udev_enumerate_unref(en);
	return n;
}

void watch_udev_receive(struct watch_udev *w, watch_udev_fn fn, void *ctx)
{
	struct udev_device *dev;

	if (!w->mon)
		return;
	/* non-blocking: NULL once nothing waits (or a message could not be read; the next is tried next time) */
	while ((dev = udev_monitor_receive_device(w->mon))) {
		const char *action = udev_device_get_action(dev);
		const char *subsystem = udev_device_get_subsystem(dev);
		const char *bdf = udev_device_get_sysname(dev);

		if (action && bdf && subsystem && strcmp(subsystem, "pci") == 0) {
			log_debug("watch: uevent %s %s (driver %s)", action, bdf,
				  udev_device_get_driver(dev) ? udev_device_get_driver(dev) : "none");
			/* bind; and as the udev rules do, add or change of a device on vfio-pci (udevadm trigger at
			 * boot; a device given up on is tried afresh) */
			if (strcmp(action, "bind") == 0 || strcmp(action, "add") == 0 || strcmp(action, "change") == 0) {
				bdf = exportable(dev);
				if (bdf)
					fn(ctx, bdf, true);
			} else if (strcmp(action, "unbind") == 0 || strcmp(action, "remove") == 0) {
				fn(ctx, bdf, false);
			}
		}
		udev_device_unref(dev);
	}
}
