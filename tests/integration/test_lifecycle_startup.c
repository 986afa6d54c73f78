/* test_lifecycle_startup.c: the proxy's start and the command line: socket set-up failures, a stale socket replaced, --fd, --version and --help, usage errors and the exit codes. */
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
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/lifecycle.h"

#define CMD_TIMEOUT_MS 20000

static const char *proxy_bin(void)
{
	const char *bin = getenv("PROXY_BIN");

	return bin ? bin : "build/dbg/vfio-user-proxy";
}

static void make_scratch_dir(void)
{
	strcpy(life.dir, "/tmp/vup-life-XXXXXX");
	assert_non_null(mkdtemp(life.dir));
}

/* ---- the proxy as a process started by hand ---- */

/*
 * Starts PROXY_BIN with args (NULL-terminated) and, as the harness does, PROXY_ARGS; stderr to
 * p->log_path (which the caller set), stdin and stdout on /dev/null; inherit >= 0 becomes the child's fd 3.
 */
static void spawn_proxy(struct proxy_proc *p, const char *const *args, int inherit)
{
	const char *argv[32];
	int n = 0;

	argv[n++] = proxy_bin();
	for (int i = 0; args[i] && n < 16; i++)
		argv[n++] = args[i];
	n = proxy_add_args(p, argv, n, 32);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		int log = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (log >= 0)
			dup2(log, 2);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
		}
		if (inherit >= 0) {
			if (inherit != 3)
				dup2(inherit, 3);
			else
				fcntl(3, F_SETFD, 0);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
}

/* ---- the command line as a child process ---- */

static void drain(int fd, char *buf, size_t cap, size_t *len, bool *open_)
{
	char tmp[1024];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n <= 0) {
		*open_ = false;
		return;
	}
	for (ssize_t i = 0; i < n && *len + 1 < cap; i++)
		buf[(*len)++] = tmp[i];
	buf[*len] = '\0';
}

/*
 * Runs PROXY_BIN with args (NULL-terminated) to completion, stdout and stderr captured into life.out and
 * life.err. Returns its exit code (128 + signal if killed). A run that outlasts the timeout is killed and
 * fails the case.
 */
static int run_cmd(const char *const *args)
{
	const char *argv[16];
	int po[2], pe[2], n = 0, status = 0;
	size_t no = 0, ne = 0;
	bool oo = true, eo = true;
	long deadline = test_now_ms() + CMD_TIMEOUT_MS;
	pid_t pid;

	argv[n++] = proxy_bin();
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	life.out[0] = life.err[0] = '\0';
	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (nul >= 0)
			dup2(nul, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	while (oo || eo) {
		struct pollfd pf[2] = { { .fd = oo ? po[0] : -1, .events = POLLIN },
					{ .fd = eo ? pe[0] : -1, .events = POLLIN } };
		long left = deadline - test_now_ms();

		if (left <= 0 || poll(pf, 2, (int)left) == 0)
			break;
		if (pf[0].revents)
			drain(po[0], life.out, sizeof(life.out), &no, &oo);
		if (pf[1].revents)
			drain(pe[0], life.err, sizeof(life.err), &ne, &eo);
	}
	close(po[0]);
	close(pe[0]);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (test_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("%s %s did not finish in %d ms", argv[0], argv[1] ? argv[1] : "", CMD_TIMEOUT_MS);
		}
		usleep(1000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Exactly one line on stderr, containing what. */
static void expect_one_error_line(const char *what)
{
	if (count_lines(life.err) != 1 || !strstr(life.err, what))
		print_error("stderr was:\n%s(expected one line with \"%s\")\n", life.err, what);
	assert_int_equal(count_lines(life.err), 1);
	assert_non_null(strstr(life.err, what));
}

/* ==== the socket ==== */

static void test_second_proxy_same_path(void **state)
{
	const char *args[] = { "emulate", "--socket-path", NULL, NULL };
	struct stat st;

	life_start_serving(&life.a);
	args[2] = life.a.socket_path;
	assert_int_equal(run_cmd(args), 1);
	expect_one_error_line("in use");
	/* the first one is untouched: its socket is there and serves */
	assert_true(proxy_alive(&life.a));
	assert_int_equal(stat(life.a.socket_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	life.c1 = proxy_client(&life.a);
	assert_non_null(life.c1);
	life_expect_id(life.c1);
	/* likewise while it is busy with a client */
	assert_int_equal(run_cmd(args), 1);
	expect_one_error_line("in use");
	life_expect_id(life.c1);
	vuc_close(life.c1);
	life.c1 = NULL;
	assert_int_equal(proxy_stop(&life.a), 0);
}

static void test_socket_dir_missing(void **state)
{
	char path[128];
	const char *args[] = { "emulate", "--socket-path", path, NULL };
	struct stat st;

	make_scratch_dir();
	snprintf(path, sizeof(path), "%s/no/such/dir/sock", life.dir);
	assert_int_equal(run_cmd(args), 1);
	expect_one_error_line("does not exist");
	assert_int_not_equal(stat(path, &st), 0);
}

static void test_socket_path_too_long(void **state)
{
	char path[256];
	const char *args[] = { "emulate", "--socket-path", path, NULL };
	size_t n;

	make_scratch_dir();
	n = (size_t)snprintf(path, sizeof(path), "%s/", life.dir);
	memset(path + n, 's', 200 - n);
	path[200] = '\0';
	assert_true(strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path));
	assert_int_equal(run_cmd(args), 1);
	expect_one_error_line("too long");
}

/* A regular file where the socket should be: refused, and the file is left alone. */
static void test_socket_path_not_a_socket(void **state)
{
	char path[128], back[16] = { 0 };
	const char *args[] = { "emulate", "--socket-path", path, NULL };
	int fd;

	make_scratch_dir();
	snprintf(path, sizeof(path), "%s/sock", life.dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep me", 7), 7);
	close(fd);
	assert_int_equal(run_cmd(args), 1);
	expect_one_error_line("not a socket");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, back, sizeof(back)), 7);
	close(fd);
	assert_string_equal(back, "keep me");
}

/* A socket file left by a SIGKILLed proxy is replaced by the next one, which serves and removes it at exit. */
static void test_stale_socket_replaced(void **state)
{
	const char *args[] = { "emulate", "--socket-path", NULL, NULL };
	struct stat st;
	struct vuc *c = NULL;

	life_start_serving(&life.a);
	assert_int_equal(kill(life.a.pid, SIGKILL), 0);
	assert_int_equal(waitpid(life.a.pid, NULL, 0), life.a.pid);
	life.a.pid = 0;
	assert_int_equal(stat(life.a.socket_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(vuc_connect(life.a.socket_path, &c), -ECONNREFUSED);

	life.b = life.a; /* same directory and socket path, its own log */
	snprintf(life.b.log_path, sizeof(life.b.log_path), "%s/log2", life.a.dir);
	args[2] = life.b.socket_path;
	spawn_proxy(&life.b, args, -1);
	life.c1 = life_wait_served(&life.b);
	assert_non_null(life.c1);
	life_expect_id(life.c1);
	vuc_close(life.c1);
	life.c1 = NULL;
	unlink(life.a.log_path);
	assert_int_equal(proxy_stop(&life.b), 0);
	life.a.dir[0] = '\0'; /* proxy_stop cleaned the shared directory */
}

/* emulate --fd N: a listening socket made by the caller (as systemd would), never removed by the proxy. */
static void test_inherited_fd(void **state)
{
	static const char *const args[] = { "emulate", "--fd", "3", NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd, base;

	make_scratch_dir();
	snprintf(life.a.dir, sizeof(life.a.dir), "%s", life.dir);
	snprintf(life.a.socket_path, sizeof(life.a.socket_path), "%s/sock", life.dir);
	snprintf(life.a.log_path, sizeof(life.a.log_path), "%s/log", life.dir);
	assert_true(strlen(life.a.socket_path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, life.a.socket_path, strlen(life.a.socket_path) + 1);
	lfd = life_keep_fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	spawn_proxy(&life.a, args, lfd);
	/* only the proxy holds the listening socket now */
	life.nfds--;
	close(lfd);
	life.c1 = life_wait_served(&life.a);
	assert_non_null(life.c1);
	life_expect_id(life.c1);
	vuc_close(life.c1);
	life.c1 = NULL;
	base = life_idle_fd_count(&life.a);
	life.c1 = proxy_client(&life.a);
	assert_non_null(life.c1);
	life_expect_id(life.c1);
	vuc_close(life.c1);
	life.c1 = NULL;
	assert_int_equal(proxy_wait_fds(&life.a, base, LIFE_CLEANUP_MS), base);
	/* SIGTERM: exit 0; the socket is the caller's, so it stays */
	assert_int_equal(life_stop_with(&life.a, SIGTERM), 0);
	assert_true(life_socket_exists(life.a.socket_path));
	life.a.dir[0] = '\0';
}

static void test_inherited_fd_not_listening(void **state)
{
	static const char *const args[] = { "emulate", "--fd", "0", NULL };

	assert_int_equal(run_cmd(args), 1);
	expect_one_error_line("not a listening socket");
}

/* ==== the command line ==== */

static void test_version_flag(void **state)
{
	static const char *const args[] = { "--version", NULL };

	assert_int_equal(run_cmd(args), 0);
	assert_int_equal(count_lines(life.out), 1);
	assert_int_equal(strncmp(life.out, "vfio-user-proxy ", 16), 0);
	assert_true(life.out[16] >= '0' && life.out[16] <= '9');
	assert_string_equal(life.err, "");
}

static void test_help(void **state)
{
	static const char *const top[] = { "--help", NULL };
	static const char *const emulate[] = { "emulate", "--help", NULL };

	assert_int_equal(run_cmd(top), 0);
	assert_non_null(strstr(life.out, "usage"));
	assert_non_null(strstr(life.out, "emulate"));
	assert_string_equal(life.err, "");
	assert_int_equal(run_cmd(emulate), 0);
	assert_non_null(strstr(life.out, "usage"));
	assert_non_null(strstr(life.out, "--socket-path"));
	assert_non_null(strstr(life.out, "--fd"));
	assert_string_equal(life.err, "");
}

static void test_usage_errors(void **state)
{
	static const char *const unknown[] = { "frobnicate", NULL };
	static const char *const none[] = { NULL };
	static const char *const bad_opt[] = { "--bogus", NULL };

	assert_int_equal(run_cmd(unknown), 2);
	assert_non_null(strstr(life.err, "frobnicate"));
	assert_string_equal(life.out, "");
	assert_int_equal(run_cmd(none), 2);
	assert_true(life.err[0] != '\0');
	assert_int_equal(run_cmd(bad_opt), 2);
	assert_true(life.err[0] != '\0');
}

static void test_emulate_usage_errors(void **state)
{
	char path[128];
	static const char *const no_socket[] = { "emulate", NULL };
	static const char *const bad_fd[] = { "emulate", "--fd", "three", NULL };
	const char *both[] = { "emulate", "--socket-path", path, "--fd", "3", NULL };
	const char *device[] = { "emulate", "--device", "nosuch", "--socket-path", path, NULL };
	const char *extra[] = { "emulate", "--socket-path", path, "surplus", NULL };

	make_scratch_dir();
	snprintf(path, sizeof(path), "%s/sock", life.dir);
	assert_int_equal(run_cmd(no_socket), 2);
	assert_non_null(strstr(life.err, "--socket-path"));
	assert_int_equal(run_cmd(both), 2);
	assert_true(life.err[0] != '\0');
	assert_int_equal(run_cmd(bad_fd), 2);
	assert_non_null(strstr(life.err, "three"));
	assert_int_equal(run_cmd(device), 2);
	assert_non_null(strstr(life.err, "nosuch"));
	assert_int_equal(run_cmd(extra), 2);
	assert_non_null(strstr(life.err, "surplus"));
	/* none of them got as far as creating the socket */
	assert_int_not_equal(access(path, F_OK), 0);
}

static void test_probe_missing_socket(void **state)
{
	char path[128];
	const char *args[] = { "probe", path, NULL };

	make_scratch_dir();
	snprintf(path, sizeof(path), "%s/nothing-here.sock", life.dir);
	assert_int_equal(run_cmd(args), 1);
	expect_one_error_line(path);
	assert_string_equal(life.out, "");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, life_setup, life_teardown)
	const struct CMUnitTest tests[] = {
		T(test_second_proxy_same_path),
		T(test_socket_dir_missing),
		T(test_socket_path_too_long),
		T(test_socket_path_not_a_socket),
		T(test_stale_socket_replaced),
		T(test_inherited_fd),
		T(test_inherited_fd_not_listening),
		T(test_version_flag),
		T(test_help),
		T(test_usage_errors),
		T(test_emulate_usage_errors),
		T(test_probe_missing_socket),
	};
#undef T

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("lifecycle_startup", tests, NULL, NULL);
}
