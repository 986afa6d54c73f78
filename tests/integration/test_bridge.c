/* test_bridge.c: `vfio-user-proxy bridge` as a process on a host without the bridge module: usage errors (exit 2, one line), --help, and every subcommand failing with one line naming the missing module (exit 1). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
	char dir[64]; /* out, err, and an empty modules directory */
	char out[128], err[128], mods[128];
} B;

static int setup(void **state)
{
	strcpy(B.dir, "/tmp/vup-bridge-XXXXXX");
	if (!mkdtemp(B.dir))
		return -1;
	snprintf(B.out, sizeof(B.out), "%s/out", B.dir);
	snprintf(B.err, sizeof(B.err), "%s/err", B.dir);
	snprintf(B.mods, sizeof(B.mods), "%s/modules", B.dir);
	return mkdir(B.mods, 0700);
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", B.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Runs the proxy with "bridge" and args (NULL-terminated), libkmod looking in the empty directory. */
static int run(const char *arg, ...)
{
	const char *bin = getenv("PROXY_BIN") ? getenv("PROXY_BIN") : "build/dbg/vfio-user-proxy";
	const char *argv[16] = { bin, "bridge" };
	int n = 2, status;
	va_list ap;
	pid_t pid;

	va_start(ap, arg);
	for (const char *a = arg; a && n < 15; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int out = open(B.out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open(B.err, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (out < 0 || err < 0)
			_exit(126);
		dup2(out, 1);
		dup2(err, 2);
		setenv("VFIO_USER_PROXY_MODULES_DIR", B.mods, 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The file's lines; the first in first (when non-NULL). */
static int lines(const char *path, char *first, size_t len)
{
	char line[2048];
	int n = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (n++ == 0 && first)
			snprintf(first, len, "%s", line);
	fclose(f);
	return n;
}

static void expect_usage_error(const char *needle, const char *a, const char *b, const char *c, const char *d)
{
	char line[2048];

	assert_int_equal(run(a, b, c, d, NULL), 2);
	assert_int_equal(lines(B.err, line, sizeof(line)), 1);
	assert_int_equal(lines(B.out, NULL, 0), 0);
	if (!strstr(line, needle))
		fail_msg("'%s' does not say '%s'", line, needle);
}

static void test_usage_errors(void **state)
{
	expect_usage_error("give a subcommand", NULL, NULL, NULL, NULL);
	expect_usage_error("unknown subcommand 'frob'", "frob", NULL, NULL, NULL);
	expect_usage_error("unknown option '--bogus'", "list", "--bogus", NULL, NULL);
	expect_usage_error("bad --msix '0'", "create", "--msix", "0", NULL);
	expect_usage_error("bad --name", "create", "--name", "a/b", NULL);
	expect_usage_error("bad PCI ID", "create", "--vendor", "12345", NULL);
	expect_usage_error("bad --uuid", "create", "--uuid", "nope", NULL);
	expect_usage_error("give the instance's NAME or UUID", "destroy", NULL, NULL, NULL);
	expect_usage_error("unknown fault 'melt'", "inject", "edu0", "melt", NULL);
	expect_usage_error("stall-reads needs --ms", "inject", "edu0", "stall-reads", NULL);
	expect_usage_error("--ms goes with stall-reads", "inject", "edu0", "err-irq", "--ms=5");
	expect_usage_error("bad --count", "events", "--count", "-1", NULL);
}

static void test_help(void **state)
{
	static const char *const subs[] = { "create", "destroy", "list", "inject", "events" };
	char line[2048];

	assert_int_equal(run("--help", NULL), 0);
	assert_true(lines(B.out, line, sizeof(line)) > 5);
	assert_non_null(strstr(line, "usage: vfio-user-proxy bridge create"));
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		char want[64];

		assert_int_equal(run(subs[i], "--help", NULL), 0);
		assert_true(lines(B.out, line, sizeof(line)) > 3);
		snprintf(want, sizeof(want), "usage: vfio-user-proxy bridge %s", subs[i]);
		assert_non_null(strstr(line, want));
		assert_int_equal(lines(B.err, NULL, 0), 0);
	}
}

/* No such family here and no module to load: one line naming the module and where it was looked for. */
static void test_no_module(void **state)
{
	static const char *const cmds[][3] = {
		{ "list", NULL }, { "list", "--json" }, { "events", NULL }, { "create", "--name" /* + edu0 */ },
		{ "destroy", "edu0" }, { "inject", "edu0" /* + dma-fail */ },
	};
	char line[2048];

	if (access("/sys/module/vup_bridge", F_OK) == 0)
		skip(); /* the module is loaded on this host */
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *extra = !strcmp(cmds[i][0], "create") ? "edu0" : !strcmp(cmds[i][0], "inject") ? "dma-fail" : NULL;

		assert_int_equal(run(cmds[i][0], cmds[i][1], extra, NULL), 1);
		assert_int_equal(lines(B.err, line, sizeof(line)), 1);
		assert_int_equal(lines(B.out, NULL, 0), 0);
		if (!strstr(line, "module vup_bridge is not available") || !strstr(line, B.mods) ||
		    !strstr(line, "make module KDIR="))
			fail_msg("%s: '%s'", cmds[i][0], line);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_module, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
