/* test_watch.c: `vfio-user-proxy watch` as a process on a host without vfio-pci: usage errors (exit 2, one line), --help, --once with nothing bound (exit 0), the socket directory, and SIGTERM or SIGINT ending the watch with 0. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/harness.h"

#define RUN_MS 20000
#define START_MS 10000
#define STOP_MS 5000

static struct {
	char dir[64]; /* the case's scratch directory: out, err and sockets */
	char out[128], err[128];
	pid_t pid;
} W;

static const char *proxy_bin(void)
{
	const char *bin = getenv("PROXY_BIN");

	return bin ? bin : "build/dbg/vfio-user-proxy";
}

static int setup(void **state)
{
	strcpy(W.dir, "/tmp/vup-watch-XXXXXX");
	if (!mkdtemp(W.dir))
		return -1;
	snprintf(W.out, sizeof(W.out), "%s/out", W.dir);
	snprintf(W.err, sizeof(W.err), "%s/err", W.dir);
	W.pid = 0;
	return 0;
}

static void dump(const char *path)
{
	char line[1024];
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		fprintf(stderr, "  | %s", line);
	if (f)
		fclose(f);
}

static int teardown(void **state)
{
	char cmd[128];

	if (W.pid > 0) {
		kill(W.pid, SIGKILL);
		waitpid(W.pid, NULL, 0);
		W.pid = 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", W.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Starts the proxy with args (NULL-terminated), stdout and stderr into files; umask 077 for the child. */
static void start(const char *const *args)
{
	const char *argv[24];
	int n = 0;

	argv[n++] = proxy_bin();
	for (int i = 0; args[i] && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	W.pid = fork();
	assert_true(W.pid >= 0);
	if (W.pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		int out = open(W.out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open(W.err, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (nul < 0 || out < 0 || err < 0)
			_exit(126);
		dup2(nul, 0);
		dup2(out, 1);
		dup2(err, 2);
		umask(077); /* the socket directory is 0755 all the same */
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
}

/* Its exit code (128 + signal), failing the case when it outlasts ms. */
static int wait_exit(int ms)
{
	long deadline = test_now_ms() + ms;
	int status;

	for (;;) {
		pid_t r = waitpid(W.pid, &status, WNOHANG);

		if (r == W.pid)
			break;
		assert_int_equal(r, 0);
		if (test_now_ms() > deadline) {
			dump(W.err);
			fail_msg("watch did not exit within %d ms", ms);
		}
		usleep(2000);
	}
	W.pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run(const char *const *args)
{
	start(args);
	return wait_exit(RUN_MS);
}

static bool file_has(const char *path, const char *needle)
{
	char line[2048];
	bool found = false;
	FILE *f = fopen(path, "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	if (f)
		fclose(f);
	return found;
}

static int file_lines(const char *path)
{
	char line[2048];
	int n = 0;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		n++;
	if (f)
		fclose(f);
	return n;
}

static void wait_log(const char *needle, int ms)
{
	long deadline = test_now_ms() + ms;

	while (!file_has(W.err, needle)) {
		if (test_now_ms() > deadline) {
			dump(W.err);
			fail_msg("no '%s' in watch's log within %d ms", needle, ms);
		}
		usleep(5000);
	}
}

/* A usage error: exit 2 and one line naming the problem (getopt's own complaint comes with the usage). */
static void expect_usage_error(const char *const *args, const char *needle)
{
	assert_int_equal(run(args), 2);
	if (!file_has(W.err, needle)) {
		dump(W.err);
		fail_msg("no '%s' on stderr", needle);
	}
}

static void test_usage_errors(void **state)
{
	char longdir[200];

	expect_usage_error((const char *const[]){ "watch", "--socket-path", "/tmp/x.sock", NULL }, "give --dir DIR");
	assert_int_equal(file_lines(W.err), 1);
	expect_usage_error((const char *const[]){ "watch", "--fd", "3", NULL }, "not --socket-path or --fd");
	expect_usage_error((const char *const[]){ "watch", "0000:00:03.0", NULL }, "unexpected argument '0000:00:03.0'");
	assert_int_equal(file_lines(W.err), 1);
	expect_usage_error((const char *const[]){ "watch", "--client-timeout", "0", NULL }, "--client-timeout needs");
	expect_usage_error((const char *const[]){ "watch", "--dma-limit", "12Q", NULL }, "--dma-limit needs");
	expect_usage_error((const char *const[]){ "watch", "--socket-mode", "999", NULL }, "--socket-mode needs");
	expect_usage_error((const char *const[]){ "watch", "--iommu", "vfio", NULL }, "unknown IOMMU path 'vfio'");
	expect_usage_error((const char *const[]){ "watch", "--log-level", "loud", NULL }, "unknown log level 'loud'");
	expect_usage_error((const char *const[]){ "watch", "--user", "no-such-user-vup", NULL }, "no such user");
	expect_usage_error((const char *const[]){ "watch", "--socket-group", "no-such-group-vup", NULL },
			   "no such group");
	expect_usage_error((const char *const[]){ "watch", "--no-such-option", NULL }, "usage: vfio-user-proxy watch");
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	expect_usage_error((const char *const[]){ "watch", "--dir", longdir, NULL }, "--dir needs");
}

static void test_help_lists_every_option(void **state)
{
	static const char *const options[] = {
		"--dir",	  "--once",	   "--help",	    "--trap-bars",  "--iommu",	    "--allow-no-reset",
		"--client-timeout", "--log-level",  "--socket-mode", "--socket-group", "--allow-uid", "--allow-gid",
		"--user",	  "--seccomp",	   "--no-seccomp",  "--dma-limit",  "--poll-us",
	};

	assert_int_equal(run((const char *const[]){ "watch", "--help", NULL }), 0);
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (!file_has(W.out, options[i]))
			fail_msg("watch --help does not list %s", options[i]);
	assert_true(file_has(W.out, "Exit status"));
}

/* --once with nothing bound to vfio-pci (this host has no VFIO): says so, exits 0, leaves DIR made 0755. */
static void test_once_nothing_bound(void **state)
{
	char sockdir[128];
	struct stat st;

	snprintf(sockdir, sizeof(sockdir), "%s/sockets", W.dir);
	assert_int_equal(run((const char *const[]){ "watch", "--once", "--dir", sockdir, "--no-seccomp", NULL }), 0);
	if (!file_has(W.err, "no device is bound to vfio-pci")) {
		dump(W.err);
		fail_msg("watch --once did not say that nothing is bound");
	}
	assert_int_equal(stat(sockdir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	/* the directory is there now: the second run takes it as it is */
	assert_int_equal(run((const char *const[]){ "watch", "--once", "--dir", sockdir, NULL }), 0);
}

/* A --dir that is a file, or under a missing parent: exit 1 and one line. */
static void test_bad_dir(void **state)
{
	char file[128], orphan[128];
	int fd;

	snprintf(file, sizeof(file), "%s/file", W.dir);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(run((const char *const[]){ "watch", "--once", "--dir", file, NULL }), 1);
	assert_true(file_has(W.err, "cannot create the socket directory"));
	assert_int_equal(file_lines(W.err), 1);
	snprintf(orphan, sizeof(orphan), "%s/missing/sockets", W.dir);
	assert_int_equal(run((const char *const[]){ "watch", "--once", "--dir", orphan, NULL }), 1);
	assert_true(file_has(W.err, "No such file or directory"));
}

/* Following events, with nothing to export: SIGTERM (and SIGINT) end it with 0, promptly. */
static void stop_with(int sig)
{
	char sockdir[128];
	long t0;

	snprintf(sockdir, sizeof(sockdir), "%s/sockets", W.dir);
	start((const char *const[]){ "--log-level", "debug", "watch", "--dir", sockdir, NULL });
	wait_log("waiting for binds", START_MS);
	assert_true(file_has(W.err, "following binds through"));
	t0 = test_now_ms();
	assert_int_equal(kill(W.pid, sig), 0);
	assert_int_equal(wait_exit(STOP_MS), 0);
	assert_true(test_now_ms() - t0 < 2000);
	assert_true(file_has(W.err, "every child has stopped"));
}

static void test_sigterm_exits_zero(void **state)
{
	stop_with(SIGTERM);
}

static void test_sigint_exits_zero(void **state)
{
	stop_with(SIGINT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_lists_every_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_once_nothing_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_exits_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigint_exits_zero, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
