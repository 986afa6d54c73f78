/* test_upgrade.c: `vfio-user-proxy upgrade --pid N` against emulate (confined and in place) with a client working across it, a refused state, a wrong pid, a timeout; and what a fake NOTIFY_SOCKET hears (READY, RELOADING, MAINPID). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/close_range.h>
#include <unistd.h>

#include "../common/harness.h"
#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define LIVENESS 0x5a5a1234u

static struct {
	struct proxy_proc p;
	struct vuc *c;
	int notify;         /* the fake supervisor's socket (NOTIFY_SOCKET) */
	char out[2048];     /* what the last upgrade printed (stdout and stderr) */
	pid_t stray;        /* a process that is not a proxy */
} T;

static int case_setup(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[64];
	int one = 1;

	memset(&T, 0, sizeof(T));
	/* an abstract socket, as systemd may hand out ("@..."): no file to clean */
	snprintf(name, sizeof(name), "@vup-test-notify-%d", (int)getpid());
	memcpy(sa.sun_path, name, strlen(name));
	sa.sun_path[0] = '\0';
	T.notify = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(T.notify >= 0);
	assert_int_equal(setsockopt(T.notify, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
	assert_int_equal(bind(T.notify, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
									      strlen(name))), 0);
	setenv("NOTIFY_SOCKET", name, 1);
	return 0;
}

static int case_teardown(void **state)
{
	vuc_close(T.c);
	if (T.p.pid > 0)
		proxy_dump_log(&T.p);
	proxy_kill(&T.p);
	if (T.stray > 0) {
		kill(T.stray, SIGKILL);
		waitpid(T.stray, NULL, 0);
	}
	close(T.notify);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("VFIO_USER_PROXY_TEST_HANDOVER");
	memset(&T, 0, sizeof(T));
	return 0;
}

static bool confined(pid_t pid)
{
	char v[64];

	return proc_status(pid, "Seccomp", v, sizeof(v)) == 0 && atoi(v) == 2;
}

/*
 * The next message to the fake supervisor that contains want (within timeout_ms), its text in buf and its
 * sender in *from; false when none came.
 */
static bool notified(const char *want, char *buf, size_t size, pid_t *from, int timeout_ms)
{
	long deadline = test_now_ms() + timeout_ms;

	while (test_now_ms() < deadline) {
		union {
			struct cmsghdr align;
			char b[CMSG_SPACE(sizeof(struct ucred))];
		} control;
		struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b,
				      .msg_controllen = sizeof(control.b) };
		struct pollfd p = { .fd = T.notify, .events = POLLIN };
		ssize_t n;

		poll(&p, 1, 50);
		n = recvmsg(T.notify, &msg, 0);
		if (n < 0)
			continue;
		buf[n] = '\0';
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				struct ucred cred;

				memcpy(&cred, CMSG_DATA(c), sizeof(cred));
				*from = cred.pid;
			}
		if (strstr(buf, want))
			return true;
	}
	return false;
}

/* Starts `upgrade --pid pid` plus extra args (NULL-terminated); its pid. Output into DIR/upgrade.out. */
static pid_t upgrade_start(pid_t pid, const char *const *extra)
{
	const char *bin = getenv("PROXY_BIN");
	char num[16], path[192];
	const char *argv[12] = { bin ? bin : "build/dbg/vfio-user-proxy", "upgrade", "--pid", num };
	int n = 4;
	pid_t child;

	snprintf(num, sizeof(num), "%d", (int)pid);
	for (int i = 0; extra && extra[i] && n < 11; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	snprintf(path, sizeof(path), "%s/upgrade.out", T.p.dir[0] ? T.p.dir : "/tmp");
	child = fork();
	if (child == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return child;
}

/* Waits for upgrade (reading BAR0 through the client meanwhile, when there is one: it must keep working);
 * its exit status, its output in T.out. */
static int upgrade_wait(pid_t child)
{
	long deadline = test_now_ms() + 60000;
	char path[192];
	int status = -1;
	FILE *f;
	size_t n;

	for (;;) {
		pid_t r = waitpid(child, &status, WNOHANG);

		assert_true(r >= 0);
		if (r == child)
			break;
		if (T.c) {
			uint32_t v = 0;

			assert_int_equal(vuc_read32(T.c, BAR0, EDU_REG_LIVENESS, &v), 0);
			assert_int_equal(v, ~LIVENESS);
		}
		assert_true(test_now_ms() < deadline);
		usleep(1000);
	}
	snprintf(path, sizeof(path), "%s/upgrade.out", T.p.dir[0] ? T.p.dir : "/tmp");
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(T.out, 1, sizeof(T.out) - 1, f);
	T.out[n] = '\0';
	fclose(f);
	print_message("upgrade: %s", T.out);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int upgrade(pid_t pid, const char *const *extra)
{
	return upgrade_wait(upgrade_start(pid, extra));
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Starts the proxy with a client whose device state the hand-over must carry (the liveness register). */
static void start(const char *const *args)
{
	char msg[512];
	pid_t from = 0;

	assert_int_equal(proxy_start(&T.p, args), 0);
	assert_true(notified("READY=1", msg, sizeof(msg), &from, 5000));
	assert_int_equal(from, T.p.pid);
	assert_non_null(strstr(msg, "STATUS=serving"));
	T.c = proxy_client(&T.p);
	assert_non_null(T.c);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_LIVENESS, LIVENESS), 0);
}

/* After a successful upgrade from old to new: the old one exited 0 (confined) and new is followed. */
static void follow(pid_t old, pid_t new_pid)
{
	int status;

	if (new_pid == old)
		return;
	long deadline = test_now_ms() + 10000;

	assert_int_equal(waitpid(old, &status, 0), old);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	T.p.pid = new_pid;
	/* ours (alive, or exited and not reaped) once the helper that started it is gone */
	for (;;) {
		siginfo_t si;

		if (waitid(P_PID, (id_t)new_pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0)
			break;
		assert_int_equal(errno, ECHILD);
		assert_true(test_now_ms() < deadline);
		usleep(500);
	}
}

static void upgraded(const char *const *args)
{
	char want[96], msg[512];
	pid_t old, from = 0, successor = 0;

	start(args);
	for (int round = 0; round < 3; round++) {
		bool in_place;

		old = T.p.pid;
		in_place = !confined(old);
		assert_int_equal(upgrade(old, NULL), 0);
		assert_int_equal(sscanf(T.out, "upgraded: pid %*d -> %d", &successor), 1);
		snprintf(want, sizeof(want), "upgraded: pid %d -> %d\n", (int)old, (int)successor);
		assert_string_equal(T.out, want);
		if (in_place)
			assert_int_equal(successor, old);
		else
			assert_int_not_equal(successor, old);
		/* the supervisor: RELOADING from the old process, then the successor's MAINPID and READY */
		assert_true(notified("RELOADING=1", msg, sizeof(msg), &from, 5000));
		assert_int_equal(from, old);
		assert_true(notified("MAINPID=", msg, sizeof(msg), &from, 5000));
		assert_int_equal(from, successor);
		assert_int_equal(atoi(strstr(msg, "MAINPID=") + 8), successor);
		assert_non_null(strstr(msg, "READY=1"));
		follow(old, successor);
		if (!in_place)
			assert_true(confined(successor));
	}
	assert_int_equal(proxy_stop(&T.p), 0);
	assert_true(notified("STOPPING=1", msg, sizeof(msg), &from, 5000));
}

static void test_upgrade(void **state)
{
	upgraded(NULL);
}

static void test_upgrade_no_seccomp(void **state)
{
	static const char *const args[] = { "--no-seccomp", NULL };

	upgraded(args);
}

/* A successor that refuses the state: exit 1, one line with its reason; the old process serves on. */
static void refused(const char *const *args)
{
	char msg[512];
	pid_t pid, from = 0;

	setenv("VFIO_USER_PROXY_TEST_HANDOVER", "future", 1);
	start(args);
	pid = T.p.pid;
	assert_int_equal(upgrade(pid, NULL), 1);
	assert_int_equal(lines(T.out), 1);
	assert_non_null(strstr(T.out, "refused the state"));
	assert_non_null(strstr(T.out, "reads version 1 only"));
	assert_non_null(strstr(T.out, "serves on"));
	assert_true(proxy_alive(&T.p));
	assert_int_equal(T.p.pid, pid);
	/* the supervisor hears it is serving again, from the same pid (the old process, or its image again) */
	assert_true(notified("RELOADING=1", msg, sizeof(msg), &from, 5000));
	assert_true(notified("READY=1", msg, sizeof(msg), &from, 5000));
	assert_int_equal(from, pid);
	assert_null(strstr(msg, "MAINPID"));
	assert_int_equal(proxy_stop(&T.p), 0);
}

static void test_upgrade_refused(void **state)
{
	refused(NULL);
}

static void test_upgrade_refused_no_seccomp(void **state)
{
	static const char *const args[] = { "--no-seccomp", NULL };

	refused(args);
}

/* Not a proxy, no such process, no --pid: one line each, nothing signalled. */
static void test_upgrade_wrong_pid(void **state)
{
	int status;

	T.stray = fork();
	if (T.stray == 0) {
		execlp("sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	usleep(100000);
	assert_int_equal(upgrade(T.stray, NULL), 1);
	assert_int_equal(lines(T.out), 1);
	assert_non_null(strstr(T.out, "is not a serving vfio-user-proxy"));
	assert_int_equal(waitpid(T.stray, &status, WNOHANG), 0); /* not signalled: still sleeping */
	assert_int_equal(upgrade(0x3ffffff0, NULL), 1);
	assert_int_equal(lines(T.out), 1);
	assert_non_null(strstr(T.out, "no process"));
	{
		/* no --pid at all: a usage error */
		const char *bin = getenv("PROXY_BIN");
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "%s upgrade >/dev/null 2>&1", bin ? bin : "build/dbg/vfio-user-proxy");
		status = system(cmd);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2);
		snprintf(cmd, sizeof(cmd), "%s upgrade --pid 1 --timeout 0 >/dev/null 2>&1",
			 bin ? bin : "build/dbg/vfio-user-proxy");
		status = system(cmd);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2);
	}
}

/* A proxy that does not answer (stopped): exit 1 after --timeout; once it runs again it hands over anyway. */
static void test_upgrade_timeout(void **state)
{
	static const char *const timeout[] = { "--timeout", "1", NULL };
	char msg[512];
	pid_t pid, from = 0;
	long t0;

	start(NULL);
	pid = T.p.pid;
	vuc_close(T.c); /* a stopped proxy would stall its reads */
	T.c = NULL;
	assert_int_equal(kill(pid, SIGSTOP), 0);
	t0 = test_now_ms();
	assert_int_equal(upgrade(pid, timeout), 1);
	assert_true(test_now_ms() - t0 >= 1000);
	assert_int_equal(lines(T.out), 1);
	assert_non_null(strstr(T.out, "no answer from pid"));
	assert_int_equal(kill(pid, SIGCONT), 0);
	/* the SIGHUP waited: it hands over now, to nobody listening (no harm done) */
	assert_true(notified("MAINPID=", msg, sizeof(msg), &from, 10000));
	follow(pid, from);
	T.c = proxy_client(&T.p);
	assert_non_null(T.c);
	assert_int_equal(proxy_stop(&T.p), 0);
}

/* A plain SIGHUP (kill) names no upgrader but tells the supervisor all the same. */
static void test_plain_sighup_notifies(void **state)
{
	char msg[512];
	pid_t pid, from = 0;

	start(NULL);
	pid = T.p.pid;
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_true(notified("RELOADING=1", msg, sizeof(msg), &from, 5000));
	assert_true(notified("MAINPID=", msg, sizeof(msg), &from, 10000));
	follow(pid, from);
	{
		uint32_t v = 0;

		assert_int_equal(vuc_read32(T.c, BAR0, EDU_REG_LIVENESS, &v), 0);
		assert_int_equal(v, ~LIVENESS);
	}
	assert_int_equal(proxy_stop(&T.p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_upgrade, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_no_seccomp, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_refused, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_refused_no_seccomp, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_wrong_pid, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_timeout, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_plain_sighup_notifies, case_setup, case_teardown),
	};

	/* A successor the helper starts is orphaned when the helper exits: it comes back to us. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
