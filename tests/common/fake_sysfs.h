/* fake_sysfs.h: a fake sysfs tree of PCI devices, drivers and IOMMU groups for the bind and unbind tests, with a driver core that acts on the control files as the kernel would. */
#ifndef TESTS_FAKE_SYSFS_H
#define TESTS_FAKE_SYSFS_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "backend/vfio_discover.h"

#define FSYS_MAX_DEVS 8

struct fsys {
	char root[PATH_MAX];  /* the temporary directory */
	char sys[PATH_MAX];   /* ROOT/sys: VFIO_USER_PROXY_SYSFS_ROOT */
	char state[PATH_MAX]; /* ROOT/run: VFIO_USER_PROXY_STATE_DIR */
	struct {
		char bdf[VFIO_BDF_MAX];
		char native[VFIO_DRIVER_MAX];   /* what probing binds without an override */
		char at_unbind[VFIO_DRIVER_MAX]; /* the state file's text when its driver last let it go */
	} dev[FSYS_MAX_DEVS];
	int ndev;
	struct {
		int wd;
		char name[VFIO_DRIVER_MAX]; /* the driver's; "" for bus/pci itself */
	} watch[FSYS_MAX_DEVS];
	int nwatch;
	char refuse[VFIO_DRIVER_MAX]; /* a driver whose probe fails: it takes no device */
	int ifd, stop[2];
	pthread_t thread;
	bool running;
	char out[8192], err[8192]; /* what the last fsys_run command said */
};

/* cmocka setup and teardown: the tree (bus/pci/drivers_probe only) and the environment pointing at it. */
int fsys_setup(void **state);
int fsys_teardown(void **state);

/* A driver: bus/pci/drivers/NAME with its bind and unbind files. */
void fsys_add_driver(struct fsys *f, const char *name);
/*
 * A PCI device laid out as sysfs does (devices/pci0000:00/BDF linked from bus/pci/devices): group < 0
 * none; driver NULL unbound; native what drivers_probe binds; class_code the class file ("0x010802").
 */
void fsys_add_device(struct fsys *f, const char *bdf, int group, const char *driver, const char *native,
		     const char *class_code);
/* Starts the driver core on the tree as it is now: every driver directory there is watched. */
void fsys_start(struct fsys *f);

/*
 * Runs cmd (cmd_bind, named "bind") with the NULL-terminated arguments after name, stdout and stderr into
 * f->out and f->err; echoes both, indented, for the test log. Returns the exit code.
 */
int fsys_run(struct fsys *f, int (*cmd)(int, char **), const char *name, ...);

/* The device's driver, "<none>" when unbound. */
const char *fsys_driver(struct fsys *f, const char *bdf, char *buf);
/* What STATE/bind/BDF holds, "<none>" when it is missing. */
const char *fsys_state(struct fsys *f, const char *bdf, char *buf, size_t len);
/* A file's text without trailing newlines, "<none>" when it is missing (a FIFO without a writer reads empty). */
const char *fsys_read(char *buf, size_t len, const char *path);
/* snprintf into a PATH_MAX buffer, failing the test when it does not fit. */
void fsys_path(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes text to the file named by fmt, its directory made first. */
void fsys_put(const char *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* TESTS_FAKE_SYSFS_H */
