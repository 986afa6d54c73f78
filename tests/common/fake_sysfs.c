/* fake_sysfs.c: a fake sysfs tree for bind and unbind in a temporary directory, and its driver core: a thread that, as the kernel would, moves a device's driver link when drivers_probe or a driver's bind or unbind file is written. */
#include "fake_sysfs.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/pci_bind.h"

static void vpath(char *buf, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, PATH_MAX, fmt, ap);

	assert_true(n > 0 && n < PATH_MAX);
}

void fsys_path(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpath(buf, fmt, ap);
	va_end(ap);
}

static void mkdirs(const char *path)
{
	char p[PATH_MAX];

	fsys_path(p, "%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	mkdir(p, 0755);
}

/* Writes text to the file (its directory made first). */
void fsys_put(const char *text, const char *fmt, ...)
{
	char path[PATH_MAX], *slash;
	va_list ap;
	int fd;

	va_start(ap, fmt);
	vpath(path, fmt, ap);
	va_end(ap);
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdirs(path);
	*slash = '/';
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* The symlink path -> target, its directory made first. */
static void linkf(const char *target, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void linkf(const char *target, const char *fmt, ...)
{
	char path[PATH_MAX], *slash;
	va_list ap;

	va_start(ap, fmt);
	vpath(path, fmt, ap);
	va_end(ap);
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdirs(path);
	*slash = '/';
	assert_int_equal(symlink(target, path), 0);
}

/* A file's text without trailing newlines, "<none>" when it is missing. O_NONBLOCK: a FIFO with no writer reads empty. */
const char *fsys_read(char *buf, size_t len, const char *path)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return strcpy(buf, "<none>");
	n = read(fd, buf, len - 1);
	close(fd);
	n = n < 0 ? 0 : n;
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return buf;
}

void fsys_add_driver(struct fsys *f, const char *name)
{
	fsys_put("", "%s/bus/pci/drivers/%s/bind", f->sys, name);
	fsys_put("", "%s/bus/pci/drivers/%s/unbind", f->sys, name);
}

/* A device as sysfs lays it out; group < 0: none; driver NULL: unbound; native: what probing binds. */
void fsys_add_device(struct fsys *f, const char *bdf, int group, const char *driver, const char *native,
		       const char *class_code)
{
	char target[PATH_MAX];

	assert_true(f->ndev < FSYS_MAX_DEVS);
	strcpy(f->dev[f->ndev].bdf, bdf);
	strcpy(f->dev[f->ndev++].native, native ? native : "");
	fsys_put(class_code, "%s/devices/pci0000:00/%s/class", f->sys, bdf);
	fsys_put("(null)\n", "%s/devices/pci0000:00/%s/driver_override", f->sys, bdf);
	fsys_path(target, "../../../devices/pci0000:00/%s", bdf);
	linkf(target, "%s/bus/pci/devices/%s", f->sys, bdf);
	if (driver) {
		fsys_add_driver(f, driver);
		fsys_path(target, "../../../bus/pci/drivers/%s", driver);
		linkf(target, "%s/devices/pci0000:00/%s/driver", f->sys, bdf);
	}
	if (group >= 0) {
		fsys_path(target, "../../../../devices/pci0000:00/%s", bdf);
		linkf(target, "%s/kernel/iommu_groups/%d/devices/%s", f->sys, group, bdf);
		fsys_path(target, "../../../kernel/iommu_groups/%d", group);
		linkf(target, "%s/devices/pci0000:00/%s/iommu_group", f->sys, bdf);
	}
}

const char *fsys_driver(struct fsys *f, const char *bdf, char *buf)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	fsys_path(path, "%s/devices/pci0000:00/%s/driver", f->sys, bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return strcpy(buf, "<none>");
	target[n] = '\0';
	return strcpy(buf, strrchr(target, '/') + 1);
}

/* ----- the fake driver core ----- */

static bool driver_exists(struct fsys *f, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	fsys_path(path, "%s/bus/pci/drivers/%s", f->sys, name);
	return *name && stat(path, &st) == 0;
}

/* Binds bdf to drv as the driver core would: the device unbound, the driver there and willing. */
static void core_attach(struct fsys *f, const char *bdf, const char *drv)
{
	char path[PATH_MAX], target[PATH_MAX], buf[VFIO_DRIVER_MAX];

	if (strcmp(fsys_driver(f, bdf, buf), "<none>") || !driver_exists(f, drv) || !strcmp(drv, f->refuse))
		return;
	fsys_path(target, "../../../bus/pci/drivers/%s", drv);
	fsys_path(path, "%s/devices/pci0000:00/%s/driver", f->sys, bdf);
	if (symlink(target, path))
		fprintf(stderr, "fake sysfs: symlink %s: %s\n", path, strerror(errno));
}

static const char *override_of(struct fsys *f, const char *bdf, char *buf, size_t len)
{
	char path[PATH_MAX];

	fsys_path(path, "%s/devices/pci0000:00/%s/driver_override", f->sys, bdf);
	fsys_read(buf, len, path);
	return strcmp(buf, "(null)") && strcmp(buf, "<none>") ? buf : "";
}

/* A write to drivers_probe, or to drivers/NAME/bind or unbind, closed: what the kernel does for it. */
static void core_event(struct fsys *f, const char *drv, const char *file)
{
	char path[PATH_MAX], bdf[64], over[VFIO_DRIVER_MAX], cur[VFIO_DRIVER_MAX];
	int i;

	if (*drv)
		fsys_path(path, "%s/bus/pci/drivers/%s/%s", f->sys, drv, file);
	else
		fsys_path(path, "%s/bus/pci/%s", f->sys, file);
	fsys_read(bdf, sizeof(bdf), path);
	for (i = 0; i < f->ndev && strcmp(f->dev[i].bdf, bdf); i++)
		;
	if (i == f->ndev)
		return;
	override_of(f, bdf, over, sizeof(over));
	if (!*drv && !strcmp(file, "drivers_probe")) {
		core_attach(f, bdf, *over ? over : f->dev[i].native);
	} else if (*drv && !strcmp(file, "bind")) {
		if (!*over || !strcmp(over, drv))
			core_attach(f, bdf, drv);
	} else if (*drv && !strcmp(file, "unbind") && !strcmp(fsys_driver(f, bdf, cur), drv)) {
		fsys_state(f, bdf, f->dev[i].at_unbind, sizeof(f->dev[i].at_unbind));
		fsys_path(path, "%s/devices/pci0000:00/%s/driver", f->sys, bdf);
		unlink(path);
	}
}

static void *core_run(void *arg)
{
	struct fsys *f = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		struct pollfd p[2] = { { .fd = f->ifd, .events = POLLIN }, { .fd = f->stop[0], .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, -1) < 0 || p[1].revents)
			return NULL;
		n = read(f->ifd, buf, sizeof(buf));
		for (char *e = buf; n > 0 && e < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)e;

			for (int w = 0; w < f->nwatch; w++)
				if (ev->len && f->watch[w].wd == ev->wd)
					core_event(f, f->watch[w].name, ev->name);
			e += sizeof(*ev) + ev->len;
		}
	}
}

static void watch_dir(struct fsys *f, const char *name)
{
	char path[PATH_MAX];

	if (*name)
		fsys_path(path, "%s/bus/pci/drivers/%s", f->sys, name);
	else
		fsys_path(path, "%s/bus/pci", f->sys);
	assert_true(f->nwatch < FSYS_MAX_DEVS);
	f->watch[f->nwatch].wd = inotify_add_watch(f->ifd, path, IN_CLOSE_WRITE);
	assert_true(f->watch[f->nwatch].wd >= 0);
	strcpy(f->watch[f->nwatch++].name, name);
}

/* Starts the driver core on the tree as it is now (every driver directory there is watched). */
void fsys_start(struct fsys *f)
{
	char path[PATH_MAX];
	struct dirent **ents;
	int n;

	f->ifd = inotify_init1(IN_CLOEXEC);
	assert_true(f->ifd >= 0);
	assert_int_equal(pipe(f->stop), 0);
	watch_dir(f, "");
	fsys_path(path, "%s/bus/pci/drivers", f->sys);
	n = scandir(path, &ents, NULL, alphasort);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.')
			watch_dir(f, ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	assert_int_equal(pthread_create(&f->thread, NULL, core_run, f), 0);
	f->running = true;
}

/* ----- fixture ----- */

int fsys_setup(void **state)
{
	struct fsys *f = calloc(1, sizeof(*f));
	char mods[PATH_MAX];

	if (!f)
		return -1;
	strcpy(f->root, "/tmp/vfio-bind-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	fsys_path(f->sys, "%s/sys", f->root);
	fsys_path(f->state, "%s/run", f->root);
	fsys_path(mods, "%s/modules", f->root);
	mkdirs(mods);
	fsys_put("", "%s/bus/pci/drivers_probe", f->sys);
	mkdirs(f->sys);
	setenv(VFIO_SYSFS_ROOT_ENV, f->sys, 1);
	setenv(PCI_BIND_STATE_ENV, f->state, 1);
	/* an empty modules directory: libkmod finds nothing, so no test loads a module into this host's kernel */
	setenv(PCI_MODULES_DIR_ENV, mods, 1);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int fsys_teardown(void **state)
{
	struct fsys *f = *state;

	if (f->running) {
		assert_int_equal(write(f->stop[1], "x", 1), 1);
		pthread_join(f->thread, NULL);
		close(f->ifd);
		close(f->stop[0]);
		close(f->stop[1]);
	}
	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Reads what fd (a capture file) got into buf and echoes it, indented, for the test log. */
static void slurp(int fd, char *buf, size_t len, const char *tag)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n < 0 ? 0 : n] = '\0';
	close(fd);
	for (char *line = buf, *nl; *line; line = nl + 1) {
		nl = strchrnul(line, '\n');
		printf("    %s| %.*s\n", tag, (int)(nl - line), line);
		if (!*nl)
			break;
	}
}

/* Runs cmd (cmd_bind or cmd_unbind) with the NULL-terminated arguments, stdout and stderr captured. */
int fsys_run(struct fsys *f, int (*cmd)(int, char **), const char *name, ...)
{
	char *argv[16], path[PATH_MAX];
	int argc = 0, so, se, fo, fe, rc;
	va_list ap;

	argv[argc++] = (char *)name;
	va_start(ap, name);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	fflush(stdout);
	fflush(stderr);
	fsys_path(path, "%s/out", f->root);
	fo = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fsys_path(path, "%s/err", f->root);
	fe = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	so = dup(1);
	se = dup(2);
	assert_true(fo >= 0 && fe >= 0 && so >= 0 && se >= 0);
	dup2(fo, 1);
	dup2(fe, 2);
	rc = cmd(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	printf("  $ vfio-user-proxy %s ... -> %d\n", argv[0], rc);
	slurp(fo, f->out, sizeof(f->out), "out");
	slurp(fe, f->err, sizeof(f->err), "err");
	return rc;
}

/* What STATE/bind/BDF holds ("<none>" when missing). */
const char *fsys_state(struct fsys *f, const char *bdf, char *buf, size_t len)
{
	char path[PATH_MAX];

	fsys_path(path, "%s/bind/%s", f->state, bdf);
	return fsys_read(buf, len, path);
}

