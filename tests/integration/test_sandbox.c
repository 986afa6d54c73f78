/* test_sandbox.c: who may connect and what the proxy keeps: socket mode, SO_PEERCRED allow-lists, --user and --seccomp, and what a process of the proxy's own uid may see of it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/harness.h"
#include "edu_model.h"

/* The value of a "Key:" line of /proc/PID/status, or -1. */
static long status_field(pid_t pid, const char *key)
{
	char v[64];

	return proc_status(pid, key, v, sizeof(v)) ? -1 : strtol(v, NULL, 10);
}

/* A client run that touches every serving path: VERSION, regions, MSI, fd-backed and fd-less DMA. */
static void exercise(struct proxy_proc *p)
{
	struct vuc *c = proxy_client(p);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint8_t *mem = calloc(1, 0x10000);
	uint16_t cmd = 0x4;
	uint32_t v;
	void *fdmem;
	int mfd = test_memfd(0x10000, &fdmem);
	uint64_t dcmd = 0;

	assert_non_null(c);
	assert_int_equal(vuc_read32(c, VFIO_PCI_BAR0_REGION_INDEX, EDU_REG_ID, &v), 0);
	assert_int_equal(v, EDU_ID_VALUE);
	assert_int_equal(vuc_config_write(c, 4, &cmd, 2), 0);
	assert_int_equal(vuc_set_irqs(c, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
				      0, 1, &efd, NULL),
			 0);
	assert_int_equal(vuc_dma_map_fd(c, 0x100000, 0x10000, mfd, 0, VFIO_USER_F_DMA_REGION_READ), 0);
	assert_int_equal(vuc_dma_map_mem(c, 0x200000, 0x10000, mem, VFIO_USER_F_DMA_REGION_WRITE), 0);
	memset(fdmem, 0x5a, 64);
	assert_int_equal(vuc_write64(c, 0, EDU_REG_DMA_SRC, 0x100000), 0);
	assert_int_equal(vuc_write64(c, 0, EDU_REG_DMA_DST, EDU_DMA_BUF_ADDR), 0);
	assert_int_equal(vuc_write64(c, 0, EDU_REG_DMA_COUNT, 64), 0);
	assert_int_equal(vuc_write64(c, 0, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN), 0);
	assert_int_equal(vuc_write64(c, 0, EDU_REG_DMA_SRC, EDU_DMA_BUF_ADDR), 0);
	assert_int_equal(vuc_write64(c, 0, EDU_REG_DMA_DST, 0x200000), 0);
	assert_int_equal(vuc_write64(c, 0, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_TO_RAM | EDU_DMA_CMD_IRQ), 0);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(vuc_read64(c, 0, EDU_REG_DMA_CMD, &dcmd), 0);
		if (!(dcmd & EDU_DMA_CMD_RUN))
			break;
		usleep(1000);
	}
	assert_int_equal(dcmd & EDU_DMA_CMD_ERROR, 0);
	assert_int_equal(mem[0], 0x5a);
	assert_int_equal(mem[63], 0x5a);
	assert_int_equal(eventfd_wait(efd, 2000), 1);
	assert_int_equal(vuc_reset(c), 0);
	vuc_close(c);
	free(mem);
	close(efd);
	close(mfd);
}

static void test_user_and_seccomp(void **state)
{
#ifdef __SANITIZE_ADDRESS__
	/* ASan's leak check at exit needs ptrace, which the filter refuses: confine the plain build only. */
	const char *args[] = { "--user", "nobody", "--socket-mode", "0666", NULL };
	const long seccomp_mode = 0;
#else
	const char *args[] = { "--user", "nobody", "--seccomp", "--socket-mode", "0666", NULL };
	const long seccomp_mode = 2; /* filter */
#endif
	struct passwd *pw = getpwnam("nobody");
	struct proxy_proc p;
	struct stat st;

	assert_non_null(pw);
	assert_int_equal(proxy_start(&p, args), 0);
	/* the socket appears with the mode asked for */
	assert_int_equal(stat(p.socket_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0666);
	exercise(&p);
	exercise(&p); /* a second client after the first one's cleanup, still confined */
	assert_int_equal(status_field(p.pid, "Uid"), (long)pw->pw_uid);
	if (!getenv("PROXY_ARGS"))
		assert_int_equal(status_field(p.pid, "Seccomp"), seccomp_mode);
	assert_true(proxy_alive(&p));
	assert_true(proxy_log_contains(&p, "running as user nobody"));
	assert_int_equal(proxy_stop(&p), 0);
}

/* Locked memory after --user: what --dma-limit allows, finite (not RLIM_INFINITY as it once was). */
static void test_user_memlock_is_the_dma_limit(void **state)
{
	const char *args[] = { "--user", "nobody", "--dma-limit", "4M", NULL };
	unsigned long long soft = 0, hard = 0;
	char path[64], line[256];
	struct proxy_proc p;
	FILE *f;

	assert_int_equal(proxy_start(&p, args), 0);
	exercise(&p);
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)p.pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Max locked memory", 17) == 0)
			assert_int_equal(sscanf(line + 17, "%llu %llu", &soft, &hard), 2);
	fclose(f);
	assert_int_equal(soft, 4u << 20);
	assert_int_equal(hard, 4u << 20);
	assert_int_equal(proxy_stop(&p), 0);
}

/* Without any option the serving loop runs under the seccomp filter: confinement is the default. */
static void test_confined_by_default(void **state)
{
	struct proxy_proc p;

	assert_int_equal(proxy_start(&p, NULL), 0);
	exercise(&p);
#ifndef __SANITIZE_ADDRESS__
	if (!getenv("PROXY_ARGS")) {
		assert_int_equal(status_field(p.pid, "Seccomp"), 2);
		assert_true(proxy_log_contains(&p, "seccomp: "));
	}
#endif
	assert_int_equal(proxy_stop(&p), 0);
}

static void test_allow_uid_refuses(void **state)
{
	const char *args[] = { "--allow-uid", "12345", NULL };
	struct vuc_server_caps caps;
	struct proxy_proc p;
	struct vuc *c;
	int base;

	assert_int_equal(proxy_start(&p, args), 0);
	base = proxy_fd_count(&p);
	assert_int_equal(vuc_connect(p.socket_path, &c), 0);
	assert_true(vuc_negotiate(c, &caps) < 0); /* closed before any message is read */
	vuc_close(c);
	assert_int_equal(proxy_wait_fds(&p, base, 2000), base);
	assert_true(proxy_log_contains(&p, "refused a client: pid"));
	assert_int_equal(proxy_stop(&p), 0);
}

static void test_allow_uid_admits(void **state)
{
	const char *args[] = { "--allow-uid", "12345", "--allow-uid", "0", NULL };
	struct proxy_proc p;

	assert_int_equal(proxy_start(&p, args), 0);
	exercise(&p);
	assert_int_equal(proxy_stop(&p), 0);
}

static void test_bad_user(void **state)
{
	const char *args[] = { "--user", "no-such-user-here", NULL };
	struct proxy_proc p;

	/* the proxy starts, opens its socket, then cannot drop: it exits 1 and says why */
	int ret = proxy_start(&p, args);

	if (ret == 0) {
		for (int i = 0; i < 200 && proxy_alive(&p); i++)
			usleep(10000);
	}
	assert_false(proxy_alive(&p));
	assert_true(proxy_log_contains(&p, "no such user"));
	proxy_kill(&p);
}

/* ==== the proxy's own end, and who may look inside it ==== */

/* The proxy of the case below, killed in teardown if the case failed. */
static struct proxy_proc S;

static int case_teardown(void **state)
{
	char copy[sizeof(S.dir) + 32];

	if (S.pid > 0)
		proxy_dump_log(&S);
	snprintf(copy, sizeof(copy), "%s/vfio-user-proxy", S.dir);
	if (S.dir[0])
		unlink(copy); /* spawn_as_nobody's copy of the binary, so that the directory goes too */
	proxy_kill(&S);
	memset(&S, 0, sizeof(S));
	return 0;
}

/* Waits until the proxy serves a client (its event loop runs, privileges dropped), reading the device id. */
static void wait_served(const struct proxy_proc *p)
{
	struct vuc *c = NULL;
	uint32_t v = 0;

	for (int i = 0; i < 500 && !c && proxy_alive(p); i++) {
		c = proxy_client(p);
		if (!c)
			usleep(10000);
	}
	assert_non_null(c);
	assert_int_equal(vuc_read32(c, VFIO_PCI_BAR0_REGION_INDEX, EDU_REG_ID, &v), 0);
	assert_int_equal(v, EDU_ID_VALUE);
	vuc_close(c);
}

/* --user: the socket's directory is root's and closed to nobody; the proxy still removes its socket at exit. */
static void test_user_removes_socket_in_root_dir(void **state)
{
	static const char *const args[] = { "--user", "nobody", NULL };
	struct stat st;

	assert_int_equal(proxy_start(&S, args), 0);
	wait_served(&S);
	assert_int_equal(chmod(S.dir, 0755), 0);
	assert_int_equal(stat(S.dir, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(proxy_stop_within(&S, 5000), 0);
}

/* A SIGBUS from outside (no guarded copy running) kills the proxy as the default action would, seccomp or not. */
static void test_stray_sigbus_under_seccomp(void **state)
{
	static const char *const args[] = { "--seccomp", NULL };
	int status;

#ifdef __SANITIZE_ADDRESS__
	skip(); /* ASan has a SIGBUS handler of its own, and its leak check cannot run under the filter */
#endif
	assert_int_equal(proxy_start(&S, args), 0);
	wait_served(&S);
	if (status_field(S.pid, "Seccomp") != 2) {
		print_message("the proxy runs without its seccomp filter (PROXY_ARGS?): skipped\n");
		skip();
	}
	assert_int_equal(kill(S.pid, SIGBUS), 0);
	status = proxy_wait_exit(&S, 3000);
	assert_true(status >= 0);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGBUS)
		proxy_dump_log(&S);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
	assert_false(proxy_log_contains(&S, "seccomp stopped"));
}

/* Becomes nobody (as a child about to exec or probe): exits 126 if it cannot. */
static void become_nobody(void)
{
	struct passwd *pw = getpwnam("nobody");

	if (!pw || setgroups(0, NULL) || setgid(pw->pw_gid) || setuid(pw->pw_uid))
		_exit(126);
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* after setuid, which clears it */
}

/* Copies the proxy binary to path (mode 0755): the checkout may sit in a directory nobody cannot enter. */
static void copy_binary(const char *from, const char *path)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	char buf[65536];
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	assert_int_equal(close(out), 0);
}

/* Starts the proxy as nobody from the start (no --user): p->dir writable by it, stdin /dev/null. */
static void spawn_as_nobody(struct proxy_proc *p)
{
	const char *bin = getenv("PROXY_BIN");
	static char copy[sizeof(p->dir) + 32];
	const char *argv[16];
	int n = 0;
	long deadline;

	memset(p, 0, sizeof(*p));
	strcpy(p->dir, "/tmp/vup-nobody-XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	assert_int_equal(chmod(p->dir, 0777), 0);
	snprintf(p->socket_path, sizeof(p->socket_path), "%s/sock", p->dir);
	snprintf(p->log_path, sizeof(p->log_path), "%s/log", p->dir);
	snprintf(copy, sizeof(copy), "%s/vfio-user-proxy", p->dir);
	copy_binary(bin ? bin : "build/dbg/vfio-user-proxy", copy);
	argv[n++] = copy;
	argv[n++] = "emulate";
	argv[n++] = "--socket-path";
	argv[n++] = p->socket_path;
	n = proxy_add_args(p, argv, n, 16);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		int log = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int nul = open("/dev/null", O_RDONLY);

		dup2(nul, 0);
		dup2(log, 1);
		dup2(log, 2);
		become_nobody();
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (deadline = test_now_ms() + 10000; access(p->socket_path, F_OK); usleep(2000)) {
		assert_true(proxy_alive(p));
		assert_true(test_now_ms() < deadline);
	}
}

/*
 * What a process of the proxy's own uid (the VMM it serves, often) gets when it tries to reach into it
 * through /proc: open(fd/0), readlink(fd/0), open(mem). Each errno (0: it worked), from a child.
 */
static void probe_as_same_uid(pid_t pid, int errs[3])
{
	int pfd[2], status = 0;
	pid_t child;

	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char path[64], target[PATH_MAX];
		int e[3] = { 0, 0, 0 }, fd;

		become_nobody();
		snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		e[0] = fd < 0 ? errno : 0;
		e[1] = readlink(path, target, sizeof(target)) < 0 ? errno : 0;
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		e[2] = fd < 0 ? errno : 0;
		_exit(write(pfd[1], e, sizeof(e)) == sizeof(e) ? 0 : 1);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], errs, 3 * sizeof(int)), 3 * sizeof(int)); /* the child never blocks */
	close(pfd[0]);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The proxy is not dumpable: a process of the same uid cannot open its fds or memory through /proc. */
static void test_not_dumpable_for_same_uid(void **state)
{
	struct passwd *pw = getpwnam("nobody");
	int errs[3];

	assert_non_null(pw);
	spawn_as_nobody(&S);
	wait_served(&S);
	assert_int_equal(status_field(S.pid, "Uid"), (long)pw->pw_uid);
	probe_as_same_uid(S.pid, errs);
	for (int i = 0; i < 3; i++) {
		if (errs[i] != EACCES && errs[i] != EPERM)
			print_error("probe %d (open fd/0, readlink fd/0, open mem): %s\n", i,
				    errs[i] ? strerror(errs[i]) : "it worked");
		assert_true(errs[i] == EACCES || errs[i] == EPERM);
	}
	assert_int_equal(proxy_stop_within(&S, 5000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_and_seccomp),
		cmocka_unit_test(test_confined_by_default),
		cmocka_unit_test(test_user_memlock_is_the_dma_limit),
		cmocka_unit_test(test_allow_uid_refuses),
		cmocka_unit_test(test_allow_uid_admits),
		cmocka_unit_test(test_bad_user),
		cmocka_unit_test_teardown(test_user_removes_socket_in_root_dir, case_teardown),
		cmocka_unit_test_teardown(test_stray_sigbus_under_seccomp, case_teardown),
		cmocka_unit_test_teardown(test_not_dumpable_for_same_uid, case_teardown),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_sandbox needs root (it drops to nobody); skipped\n");
		return 0;
	}
	return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
