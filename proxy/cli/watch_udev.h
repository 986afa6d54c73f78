/* watch_udev.h: the devices of `watch`, from libudev: those bound to vfio-pci now, then each bind and unbind. */
#ifndef CLI_WATCH_UDEV_H
#define CLI_WATCH_UDEV_H

#include <stdbool.h>

/* The udev property a rule sets to 0, no or off to keep a device out of watch (as out of the udev rules). */
#define WATCH_OPT_OUT_PROPERTY "VFIO_USER_PROXY"

/* A PCI device (bdf: its address, 0000:00:03.0) bound to vfio-pci (bound) or unbound or removed (!bound). */
typedef void (*watch_udev_fn)(void *ctx, const char *bdf, bool bound);

struct watch_udev;

/*
 * Opens libudev; with monitor, also starts listening for PCI uevents (from udevd when it runs, else
 * straight from the kernel) before anything is enumerated, so no bind is missed in between. 0, or negative
 * errno (said in the log).
 */
int watch_udev_open(bool monitor, struct watch_udev **out);
void watch_udev_close(struct watch_udev *w);
/* The monitor's fd (readable when uevents wait; non-blocking, close-on-exec), or -1 without a monitor. */
int watch_udev_fd(const struct watch_udev *w);
/* "udevd" or "the kernel": where the monitor's events come from. */
const char *watch_udev_source(const struct watch_udev *w);
/* Calls fn(ctx, bdf, true) for each PCI device bound to vfio-pci and not opted out. The count, or negative errno. */
int watch_udev_enumerate(struct watch_udev *w, watch_udev_fn fn, void *ctx);
/*
 * Calls fn for each uevent waiting on the monitor: bind, add or change of a device on vfio-pci (not opted
 * out) with bound, unbind or remove of any PCI device with !bound.
 */
void watch_udev_receive(struct watch_udev *w, watch_udev_fn fn, void *ctx);

#endif /* CLI_WATCH_UDEV_H */
