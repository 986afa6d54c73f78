/* test_bind.c: bind and unbind against a fake sysfs tree (tests/common/fake_sysfs.c) whose driver core moves the driver links as the kernel would: what is remembered, restored, refused and said. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/pci_bind.h"
#include "../common/fake_sysfs.h"

#define A "0000:00:03.0"
#define B "0000:00:04.0"
#define BRIDGE "0000:00:1c.0"

static void assert_has(const char *text, const char *part)
{
	if (!strstr(text, part))
		fail_msg("'%s' not in: %s", part, text);
}

static void assert_driver(struct fsys *f, const char *bdf, const char *want)
{
	char buf[VFIO_DRIVER_MAX];

	assert_string_equal(fsys_driver(f, bdf, buf), want);
}

static void assert_state(struct fsys *f, const char *bdf, const char *want)
{
	char buf[128];

	assert_string_equal(fsys_state(f, bdf, buf, sizeof(buf)), want);
}

static void assert_override(struct fsys *f, const char *bdf, const char *want)
{
	char path[PATH_MAX], buf[128];

	fsys_path(path, "%s/devices/pci0000:00/%s/driver_override", f->sys, bdf);
	assert_string_equal(fsys_read(buf, sizeof(buf), path), want);
}

/* The layer under the commands, its lines into memory streams, the driver core given 300 ms. */
struct api {
	struct pci_bind b;
	char *out, *err;
	size_t out_len, err_len;
};

static void api_open(struct api *a)
{
	pci_bind_init(&a->b, "test");
	a->b.out = open_memstream(&a->out, &a->out_len);
	a->b.err = open_memstream(&a->err, &a->err_len);
	assert_non_null(a->b.out);
	assert_non_null(a->b.err);
	a->b.sys.timeout_ms = 300;
}

/* Everything said so far into a->out and a->err (valid until the next call), echoed for the test log. */
static void api_said(struct api *a)
{
	fflush(a->b.out);
	fflush(a->b.err);
	printf("    out| %s\n    err| %s\n", a->out, a->err);
}

static void api_close(struct api *a)
{
	fclose(a->b.out);
	fclose(a->b.err);
	free(a->out);
	free(a->err);
}

/* ----- tests ----- */

/* Bound from nvme, which is remembered; unbind (by sysfs path) gives it back and forgets it. */
static void test_bind_remembers_unbind_restores(void **state)
{
	struct fsys *f = *state;
	char path[PATH_MAX];

	fsys_add_device(f, A, 5, "nvme", "nvme", "0x010802");
	fsys_add_driver(f, "vfio-pci");
	fsys_start(f);
	assert_int_equal(fsys_run(f, cmd_bind, "bind", "00:03.0", NULL), 0);
	assert_string_equal(f->out, A ": bound to vfio-pci (was nvme), IOMMU group 5\n");
	assert_string_equal(f->err, "");
	assert_driver(f, A, "vfio-pci");
	assert_state(f, A, "nvme");
	assert_override(f, A, "vfio-pci");
	assert_string_equal(f->dev[0].at_unbind, "nvme"); /* remembered before nvme let it go */

	fsys_path(path, "%s/bus/pci/devices/%s", f->sys, A);
	assert_int_equal(fsys_run(f, cmd_unbind, "unbind", path, NULL), 0);
	assert_string_equal(f->out, A ": unbound from vfio-pci, back on nvme\n");
	assert_string_equal(f->err, "");
	assert_driver(f, A, "nvme");
	assert_state(f, A, "<none>");
	assert_override(f, A, ""); /* cleared with a newline */
}

/* A device on no driver: remembered as none, left on none by unbind. */
static void test_bind_unbound_device(void **state)
{
	struct fsys *f = *state;

	fsys_add_device(f, A, 2, NULL, "nvme", "0x010802");
	fsys_add_driver(f, "vfio-pci");
	fsys_add_driver(f, "nvme");
	fsys_start(f);
	assert_int_equal(fsys_run(f, cmd_bind, "bind", A, NULL), 0);
	assert_string_equal(f->out, A ": bound to vfio-pci (was on no driver), IOMMU group 2\n");
	assert_driver(f, A, "vfio-pci");
	assert_state(f, A, "");
	assert_int_equal(fsys_run(f, cmd_unbind, "unbind", A, NULL), 0);
	assert_string_equal(f->out, A ": unbound from vfio-pci, on no driver as before bind\n");
	assert_driver(f, A, "<none>");
	assert_state(f, A, "<none>");
	assert_override(f, A, "");
}

/* Binding a bound device and unbinding an unbound one succeed and touch nothing. */
static void test_idempotent(void **state)
{
	struct fsys *f = *state;
	char path[PATH_MAX];
	struct stat before, after;

	fsys_add_device(f, A, 5, "nvme", "nvme", "0x010802");
	fsys_add_driver(f, "vfio-pci");
	fsys_start(f);
	assert_int_equal(fsys_run(f, cmd_bind, "bind", A, NULL), 0);
	fsys_path(path, "%s/bind/%s", f->state, A);
	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(fsys_run(f, cmd_bind, "bind", A, A, NULL), 0);
	assert_string_equal(f->out, A ": already bound to vfio-pci, IOMMU group 5\n"); /* once: the list has no repeats */
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino); /* not rewritten */
	assert_state(f, A, "nvme");

	assert_int_equal(fsys_run(f, cmd_unbind, "unbind", A, NULL), 0);
	assert_int_equal(fsys_run(f, cmd_unbind, "unbind", A, NULL), 0);
	assert_string_equal(f->out, A ": not bound to vfio-pci (on nvme): nothing to do\n");
	assert_driver(f, A, "nvme");
	assert_override(f, A, "");
}

/* Another device of the group on a host driver: refused, naming it, nothing changed. */
static void test_group_member_refused(void **state)
{
	struct fsys *f = *state;

	fsys_add_device(f, A, 7, "nvme", "nvme", "0x010802");
	fsys_add_device(f, B, 7, "e1000e", "e1000e", "0x020000");
	fsys_add_device(f, "0000:00:04.1", 7, "snd_hda_intel", "snd_hda_intel", "0x040300");
	fsys_add_driver(f, "vfio-pci");
	fsys_start(f);
	assert_int_equal(fsys_run(f, cmd_bind, "bind", A, NULL), 1);
	assert_string_equal(f->out, "");
	assert_has(f->err, "vfio-user-proxy bind: " A ": not bound: IOMMU group 7 also holds " B
			   " (e1000e), 0000:00:04.1 (snd_hda_intel), on drivers other than vfio-pci");
	assert_has(f->err, "--group");
	assert_true(strchr(f->err, '\n') == f->err + strlen(f->err) - 1); /* one line */
	assert_driver(f, A, "nvme");
	assert_driver(f, B, "e1000e");
	assert_state(f, A, "<none>");
	assert_override(f, A, "(null)"); /* untouched */

	/* all named: the group goes together */
	assert_int_equal(fsys_run(f, cmd_bind, "bind", A, B, "0000:00:04.1", NULL), 0);
	assert_driver(f, A, "vfio-pci");
	assert_driver(f, B, "vfio-pci");
	assert_driver(f, "0000:00:04.1", "vfio-pci");
}

/* --group binds every endpoint of the group, bridges excepted; unbind --group gives them all back. */
static void test_group_binds_all(void **state)
{
	struct fsys *f = *state;

	fsys_add_device(f, A, 7, "nvme", "nvme", "0x010802");
	fsys_add_device(f, B, 7, "e1000e", "e1000e", "0x020000");
	fsys_add_device(f, BRIDGE, 7, "pcieport", "pcieport", "0x060400");
	fsys_add_driver(f, "vfio-pci");
	fsys_start(f);
	assert_int_equal(fsys_run(f, cmd_bind, "bind", "--group", A, NULL), 0);
	assert_string_equal(f->out, A ": bound to vfio-pci (was nvme), IOMMU group 7\n" B
				    ": bound to vfio-pci (was e1000e), IOMMU group 7\n");
	assert_driver(f, A, "vfio-pci");
	assert_driver(f, B, "vfio-pci");
	assert_driver(f, BRIDGE, "pcieport");
	assert_state(f, B, "e1000e");
	assert_state(f, BRIDGE, "<none>");

	assert_int_equal(fsys_run(f, cmd_unbind, "unbind", B, "--group", NULL), 0);
	assert_driver(f, A, "nvme");
	assert_driver(f, B, "e1000e");
	assert_driver(f, BRIDGE, "pcieport");
}

/* A bridge on pcieport in the group is no obstacle. */
static void test_bridge_member_allowed(void **state)
{
	struct fsys *f = *state;

	fsys_add_device(f, A, 3, "nvme", "nvme", "0x010802");
	fsys_add_device(f, BRIDGE, 3, "pcieport", "pcieport", "0x060400");
	fsys_add_device(f, B, 3, "pci-stub", "e1000e", "0x020000");
	fsys_add_driver(f, "vfio-pci");
	fsys_start(f);
	assert_int_equal(fsys_run(f, cmd_bind, "bind", A, NULL), 0);
	assert_string_equal(f->err, "");
	assert_driver(f, A, "vfio-pci");
	assert_driver(f, BRIDGE, "pcieport");
	assert_driver(f, B, "pci-stub");
}

/* No iommu_group link: the IOMMU is off, said with what to do. */
static void test_no_iommu_group(void **state)
{
	struct fsys *f = *state;

	fsys_add_device(f, A, -1, "nvme", "nvme", "0x010802");
	fsys_add_driver(f, "vfio-pci");
	fsys_start(f);
	assert_int_equal(fsys_run(f, cmd_bind, "bind", A, NULL), 1);
	assert_has(f->err, A ": not bound: it is in no IOMMU group, so the IOMMU is off");
	assert_has(f->err, "intel_iommu=on");
	assert_has(f->err, "amd_iommu=on");
	assert_driver(f, A, "nvme");
	assert_state(f, A, "<none>");
}

/* vfio-pci not registered and libkmod finding no module: one clear line, the later device refers to it. */
static void test_vfio_pci_missing(void **state)
{
	struct fsys *f = *state;

	fsys_add_device(f, A, 5, "nvme", "nvme", "0x010802");
	fsys_add_device(f, B, 6, "e1000e", "e1000e", "0x020000");
	fsys_start(f);
	assert_int_equal(fsys_run(f, cmd_bind, "bind", A, B, NULL), 1);
	assert_string_equal(f->out, "");
	assert_has(f->err, A ": not bound: vfio-pci is not loaded and cannot be: no module vfio-pci for this kernel");
	assert_has(f->err, f->root); /* the modules directory looked in */
	assert_has(f->err, B ": not bound: vfio-pci is not available (said above)");
	assert_driver(f, A, "nvme");
	assert_driver(f, B, "e1000e");
	assert_state(f, A, "<none>");
	assert_override(f, A, "(null)");
}

/* One device failing does not stop the others; the exit code says it. */
static void test_keeps_going(void **state)
{
	struct fsys *f = *state;

	fsys_add_device(f, A, 5, "nvme", "nvme", "0x010802");
	fsys_add_driver(f, "vfio-pci");
	fsys_start(f);
	assert_int_equal(fsys_run(f, cmd_bind, "bind", "0000:00:09.0", A, NULL), 1);
	assert_has(f->err, "0000:00:09.0: no such PCI device");
	assert_string_equal(f->out, A ": bound to vfio-pci (was nvme), IOMMU group 5\n");
	assert_driver(f, A, "vfio-pci");
}

/* Usage errors exit 2 before anything is done; --help exits 0. */
static void test_usage(void **state)
{
	struct fsys *f = *state;

	fsys_add_device(f, A, 5, "nvme", "nvme", "0x010802");
	fsys_add_driver(f, "vfio-pci");
	fsys_start(f);
	assert_int_equal(fsys_run(f, cmd_bind, "bind", NULL), 2);
	assert_has(f->err, "give at least one DEVICE");
	assert_int_equal(fsys_run(f, cmd_bind, "bind", "--frob", A, NULL), 2);
	assert_has(f->err, "unknown option '--frob'");
	assert_int_equal(fsys_run(f, cmd_bind, "bind", A, "00:3.0", NULL), 2);
	assert_has(f->err, "'00:3.0' names no PCI device");
	assert_driver(f, A, "nvme");
	assert_int_equal(fsys_run(f, cmd_bind, "bind", "--help", NULL), 0);
	assert_has(f->out, "usage: vfio-user-proxy bind [--group] DEVICE...");
	assert_int_equal(fsys_run(f, cmd_unbind, "unbind", "-h", NULL), 0);
	assert_has(f->out, "usage: vfio-user-proxy unbind [--group] DEVICE...");
	assert_int_equal(fsys_run(f, cmd_unbind, "unbind", NULL), 2);
}

/* On vfio-pci with nothing remembered: unbound, and the kernel's probe finds its driver. */
static void test_unbind_unrecorded(void **state)
{
	struct fsys *f = *state;

	fsys_add_device(f, A, 5, "vfio-pci", "nvme", "0x010802");
	fsys_add_driver(f, "nvme");
	fsys_put("vfio-pci\n", "%s/devices/pci0000:00/%s/driver_override", f->sys, A);
	fsys_start(f);
	assert_int_equal(fsys_run(f, cmd_unbind, "unbind", A, NULL), 0);
	assert_has(f->out, A ": unbound from vfio-pci; its driver before was not recorded");
	assert_has(f->out, "so the kernel probed it: on nvme now");
	assert_driver(f, A, "nvme");
	assert_override(f, A, "");
}

/* vfio-pci takes nothing: said, the device left on no driver with its record; a retry keeps that record. */
static void test_probe_fails(void **state)
{
	struct fsys *f = *state;
	struct api a;

	fsys_add_device(f, A, 5, "nvme", "nvme", "0x010802");
	fsys_add_driver(f, "vfio-pci");
	strcpy(f->refuse, "vfio-pci");
	fsys_start(f);
	api_open(&a);
	assert_int_equal(pci_bind_device(&a.b, A, NULL), -ETIMEDOUT);
	api_said(&a);
	assert_string_equal(a.out, "");
	assert_has(a.err, "test: " A ": vfio-pci did not take it within 300 ms (dmesg may say why); it is on no driver "
			  "now: vfio-user-proxy unbind " A " gives it back to nvme\n");
	assert_driver(f, A, "<none>");
	assert_state(f, A, "nvme");

	/* bound on a second try from no driver, nvme is still what it goes back to */
	f->refuse[0] = '\0';
	assert_int_equal(pci_bind_device(&a.b, A, NULL), 0);
	api_said(&a);
	assert_has(a.out, A ": bound to vfio-pci (was nvme), IOMMU group 5\n");
	assert_state(f, A, "nvme");
	assert_int_equal(pci_unbind_device(&a.b, A), 0);
	assert_driver(f, A, "nvme");

	/* or unbind straight after the failure */
	strcpy(f->refuse, "vfio-pci");
	assert_int_equal(pci_bind_device(&a.b, A, NULL), -ETIMEDOUT);
	assert_int_equal(pci_unbind_device(&a.b, A), 0);
	api_said(&a);
	assert_has(a.out, A ": back on nvme (it was on no driver: a bind had stopped half way)\n");
	assert_driver(f, A, "nvme");
	assert_state(f, A, "<none>");
	assert_override(f, A, "");
	api_close(&a);
}

/* The old driver's unbind cannot be written: the override is cleared again and the record dropped. */
static void test_rollback(void **state)
{
	struct fsys *f = *state;
	char path[PATH_MAX];

	fsys_add_device(f, A, 5, "nvme", "nvme", "0x010802");
	fsys_add_driver(f, "vfio-pci");
	fsys_path(path, "%s/bus/pci/drivers/nvme/unbind", f->sys);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0755), 0); /* open for writing fails: EISDIR */
	fsys_start(f);
	assert_int_equal(fsys_run(f, cmd_bind, "bind", A, NULL), 1);
	assert_has(f->err, A ": cannot write ");
	assert_has(f->err, "/driver/unbind: Is a directory\n");
	assert_driver(f, A, "nvme");
	assert_override(f, A, "");
	assert_state(f, A, "<none>");
}

/* Not root: a sysfs write refused with EACCES says so. */
static void test_not_root(void **state)
{
	struct fsys *f = *state;
	char path[PATH_MAX], capture[PATH_MAX], err[4096];
	char *argv[] = { "bind", A, NULL };
	int status, fd;
	pid_t pid;

	if (geteuid() != 0)
		skip(); /* the check needs to drop from root to nobody */
	fsys_add_device(f, A, 5, "nvme", "nvme", "0x010802");
	fsys_add_driver(f, "vfio-pci");
	/* nobody may walk the tree and keep records, but not write sysfs */
	assert_int_equal(chmod(f->root, 0755), 0);
	fsys_path(path, "%s/bind", f->state);
	fsys_put("", "%s/x", path);
	assert_int_equal(chmod(f->state, 0777), 0);
	assert_int_equal(chmod(path, 0777), 0);
	fsys_path(capture, "%s/err", f->root);
	fd = open(capture, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	fsys_start(f);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* no cmocka here: the exit code says it all */
		if (dup2(fd, 2) < 0 || setgid(65534) || setuid(65534))
			_exit(99);
		_exit(cmd_bind(2, argv));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(pread(fd, err, sizeof(err) - 1, 0) >= 0);
	err[sizeof(err) - 1] = '\0';
	close(fd);
	printf("    err| %s", err);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_has(err, A ": cannot write ");
	assert_has(err, "/driver_override: permission denied: changing a device's driver needs root (run as root)\n");
	assert_driver(f, A, "nvme");
	assert_state(f, A, "<none>"); /* the record made before is dropped again */
}

struct holder {
	struct fsys *f;
	char fifo[PATH_MAX];
};

/* The kernel holding vfio-pci's unbind until the device's users close it: the write's open waits for this reader. */
static void *hold_unbind(void *arg)
{
	struct holder *h = arg;
	const struct timespec wait = { 0, 600 * 1000000L };
	char path[PATH_MAX], buf[64];
	int fd;

	nanosleep(&wait, NULL);
	fd = open(h->fifo, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf)) < 0)
			buf[0] = '\0';
		close(fd);
	}
	fsys_path(path, "%s/devices/pci0000:00/%s/driver", h->f->sys, A);
	unlink(path);
	return NULL;
}

static void test_unbind_held(void **state)
{
	struct fsys *f = *state;
	struct holder h = { .f = f };
	struct api a;
	pthread_t th;

	fsys_add_device(f, A, 5, "vfio-pci", "nvme", "0x010802");
	fsys_add_driver(f, "nvme");
	fsys_put("nvme\n", "%s/bind/%s", f->state, A);
	/* the fake kernel starts first: it watches the regular unbind file, not the FIFO that replaces it (a
	 * watch on the FIFO would have it read the FIFO and unbind again, late, after the restore) */
	fsys_start(f);
	fsys_path(h.fifo, "%s/bus/pci/drivers/vfio-pci/unbind", f->sys);
	assert_int_equal(unlink(h.fifo), 0);
	assert_int_equal(mkfifo(h.fifo, 0600), 0);
	api_open(&a);
	a.b.notice_ms = 200;
	a.b.sys.timeout_ms = 2000;
	assert_int_equal(pthread_create(&th, NULL, hold_unbind, &h), 0);
	assert_int_equal(pci_unbind_device(&a.b, A), 0);
	pthread_join(th, NULL);
	api_said(&a);
	assert_string_equal(a.err, "test: " A ": waiting for the device's users (a VMM, a vfio-user-proxy export) to "
				   "close it: the kernel holds the unbind until then\n");
	assert_string_equal(a.out, A ": unbound from vfio-pci, back on nvme\n");
	assert_driver(f, A, "nvme");
	api_close(&a);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fsys_setup, fsys_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_bind_remembers_unbind_restores),
		T(test_bind_unbound_device),
		T(test_idempotent),
		T(test_group_member_refused),
		T(test_group_binds_all),
		T(test_bridge_member_allowed),
		T(test_no_iommu_group),
		T(test_vfio_pci_missing),
		T(test_keeps_going),
		T(test_usage),
		T(test_unbind_unrecorded),
		T(test_probe_fails),
		T(test_rollback),
		T(test_not_root),
		T(test_unbind_held),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
