/* test_watch_children.c: watch's supervisor with ordinary programs for children: backoff then give-up, the failure window, exit 0 not restarted, SIGTERM then SIGKILL, leftover sockets, stop and restart, several devices at once, what a child inherits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/proc_probe.h"
#include "cli/watch_children.h"
#include "util/log.h"

#define WAIT_MS 5000

static const char *const fail_argv[] = { "/bin/sh", "-c", "exit 1", NULL };
static const char *const ok_argv[] = { "/bin/sh", "-c", "exit 0", NULL };
static const char *const retired_argv[] = { "/bin/sh", "-c", "exit 3", NULL }; /* CLI_EXIT_RETIRED */
static const char *const sleep_argv[] = { "/bin/sleep", "30", NULL };
/* a child that ignores SIGTERM: only SIGKILL ends it */
static const char *const stubborn_argv[] = { "/bin/sh", "-c", "trap '' TERM; exec /bin/sleep 30", NULL };

static struct children *C;
static char dir[64];

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fast backoffs so a give-up takes a fraction of a second. */
static void fast_policy(struct child_policy *p)
{
	child_policy_default(p);
	p->backoff_first_ms = 20;
	p->backoff_max_ms = 80;
	p->stop_timeout_ms = 200;
}

static int setup(void **state)
{
	struct child_policy p;

	fast_policy(&p);
	strcpy(dir, "/tmp/vup-watch-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	log_threshold = LOG_LVL_WARN;
	return children_create(&p, &C);
}

static int teardown(void **state)
{
	char cmd[128];

	children_destroy(C);
	C = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* With another policy than setup's. */
static void recreate(const struct child_policy *p)
{
	children_destroy(C);
	assert_int_equal(children_create(p, &C), 0);
}

typedef bool (*cond_fn)(const char *arg);

/* Runs the supervisor as watch's loop does until cond holds (true) or ms pass (false). */
static bool run_until(cond_fn cond, const char *arg, int ms)
{
	long deadline = now_ms() + ms;

	while (!cond(arg)) {
		struct pollfd pfd = { .fd = children_fd(C), .events = POLLIN };
		long left = deadline - now_ms();

		if (left <= 0)
			return false;
		assert_true(poll(&pfd, 1, (int)left) >= 0);
		assert_int_equal(children_process(C), 0);
	}
	return true;
}

static bool none_left(const char *arg)
{
	return children_count(C) == 0;
}

static bool is_waiting(const char *name)
{
	return children_state(C, name, NULL) == CHILD_WAITING;
}

static bool is_gone(const char *name)
{
	return children_state(C, name, NULL) == CHILD_NONE;
}

static bool never(const char *arg)
{
	return false;
}

/* Whether pid ignores SIGTERM yet (it has run its trap): /proc/PID/status SigIgn. */
static bool ignores_term(pid_t pid)
{
	char v[64];

	return proc_status(pid, "SigIgn", v, sizeof(v)) == 0 && (strtoull(v, NULL, 16) >> (SIGTERM - 1)) & 1;
}

static void wait_ignores_term(pid_t pid)
{
	long deadline = now_ms() + WAIT_MS;

	while (!ignores_term(pid)) {
		assert_true(now_ms() < deadline);
		usleep(2000);
	}
}

/* A socket file at path, as a server killed mid-serve leaves it. */
static void make_socket_file(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd);
}

/* A child failing at once: restarted after 20, 40, 80, 80 ms, then given up on after the 5th failure. */
static void test_backoff_then_give_up(void **state)
{
	const struct children_stats *st = children_stats(C);
	long t0 = now_ms(), took;

	assert_int_equal(children_start(C, "0000:00:01.0", fail_argv, NULL), 0);
	assert_int_equal(children_state(C, "0000:00:01.0", NULL), CHILD_RUNNING);
	assert_true(run_until(none_left, NULL, WAIT_MS));
	took = now_ms() - t0;
	assert_int_equal(st->started, 5);
	assert_int_equal(st->failures, 5);
	assert_int_equal(st->gave_up, 1);
	assert_int_equal(st->exited_ok, 0);
	/* the four backoffs, doubling and capped: 20 + 40 + 80 + 80 */
	assert_true(took >= 220);
	assert_true(took < 3000);
	/* given up: nothing more happens */
	assert_false(run_until(never, NULL, 150));
	assert_int_equal(st->started, 5);
	/* a later bind starts afresh: five more tries */
	assert_int_equal(children_start(C, "0000:00:01.0", fail_argv, NULL), 0);
	assert_true(run_until(none_left, NULL, WAIT_MS));
	assert_int_equal(st->started, 10);
	assert_int_equal(st->gave_up, 2);
}

/* Failures farther apart than the window never add up to a give-up. */
static void test_window_resets_count(void **state)
{
	const struct children_stats *st;
	struct child_policy p;

	fast_policy(&p);
	p.backoff_first_ms = 60;
	p.backoff_max_ms = 60;
	p.window_ms = 30; /* each failure comes 60 ms after the last: the first of a new series each time */
	recreate(&p);
	st = children_stats(C);
	assert_int_equal(children_start(C, "a", fail_argv, NULL), 0);
	assert_false(run_until(never, NULL, 700));
	assert_true(st->started >= 6); /* more than give_up_after (5) */
	assert_int_equal(st->gave_up, 0);
	assert_int_not_equal(children_state(C, "a", NULL), CHILD_NONE);
	children_stop_all(C);
	assert_true(run_until(none_left, NULL, WAIT_MS));
	assert_int_equal(st->gave_up, 0);
}

/* Exit 0 (the proxy giving the device back on unbind) is not restarted. */
static void test_exit_zero_not_restarted(void **state)
{
	const struct children_stats *st = children_stats(C);

	assert_int_equal(children_start(C, "b", ok_argv, NULL), 0);
	assert_true(run_until(none_left, NULL, WAIT_MS));
	assert_false(run_until(never, NULL, 200));
	assert_int_equal(st->started, 1);
	assert_int_equal(st->exited_ok, 1);
	assert_int_equal(st->failures, 0);
	assert_int_equal(st->gave_up, 0);
}

/* Exit 3 (the device may not be served again as it is, e.g. no reset after a client): given up on at once,
 * its socket removed, never restarted: a restart would serve the next client what the last left. */
static void test_exit_retired_given_up(void **state)
{
	const struct children_stats *st = children_stats(C);
	char sock[128];

	snprintf(sock, sizeof(sock), "%s/r.sock", dir);
	make_socket_file(sock);
	assert_int_equal(children_start(C, "r", retired_argv, sock), 0);
	assert_true(run_until(none_left, NULL, WAIT_MS));
	assert_false(run_until(never, NULL, 200));
	assert_int_equal(st->started, 1);
	assert_int_equal(st->gave_up, 1);
	assert_int_equal(st->exited_ok, 0);
	assert_int_equal(access(sock, F_OK), -1);
}

/* Stop: SIGTERM ends a well-behaved child at once, it is not restarted, and a second start is refused while it runs. */
static void test_stop_sigterm(void **state)
{
	const struct children_stats *st = children_stats(C);
	pid_t pid;
	long t0;

	assert_int_equal(children_start(C, "c", sleep_argv, NULL), 0);
	assert_int_equal(children_start(C, "c", sleep_argv, NULL), -EALREADY);
	assert_int_equal(children_state(C, "c", &pid), CHILD_RUNNING);
	assert_true(pid > 0);
	assert_int_equal(children_stop(C, "nobody"), -ENOENT);
	t0 = now_ms();
	assert_int_equal(children_stop(C, "c"), 0);
	assert_int_equal(children_state(C, "c", NULL), CHILD_STOPPING);
	assert_true(run_until(none_left, NULL, WAIT_MS));
	assert_true(now_ms() - t0 < 150); /* well before the 200 ms SIGKILL */
	assert_int_equal(kill(pid, 0), -1);
	assert_false(run_until(never, NULL, 100));
	assert_int_equal(st->started, 1);
	assert_int_equal(st->stopped, 1);
	assert_int_equal(st->failures, 0);
}

/* A child that ignores SIGTERM is killed after stop_timeout_ms, and the socket it left is removed. */
static void test_stop_kills_after_timeout(void **state)
{
	const struct children_stats *st = children_stats(C);
	char sock[128];
	pid_t pid;
	long t0, took;

	snprintf(sock, sizeof(sock), "%s/0000:00:02.0.sock", dir);
	assert_int_equal(children_start(C, "0000:00:02.0", stubborn_argv, sock), 0);
	assert_int_equal(children_state(C, "0000:00:02.0", &pid), CHILD_RUNNING);
	wait_ignores_term(pid);
	make_socket_file(sock);
	t0 = now_ms();
	assert_int_equal(children_stop(C, "0000:00:02.0"), 0);
	assert_false(run_until(none_left, NULL, 100)); /* SIGTERM alone does nothing */
	assert_true(run_until(none_left, NULL, WAIT_MS));
	took = now_ms() - t0;
	assert_true(took >= 200);
	assert_true(took < 2000);
	assert_int_equal(access(sock, F_OK), -1);
	assert_int_equal(st->stopped, 1);
	assert_int_equal(st->failures, 0);
}

/* A socket is left alone when the child ends by itself with a status (the server removes its own). */
static void test_socket_kept_on_clean_exit(void **state)
{
	char sock[128];

	snprintf(sock, sizeof(sock), "%s/keep.sock", dir);
	make_socket_file(sock);
	assert_int_equal(children_start(C, "d", ok_argv, sock), 0);
	assert_true(run_until(none_left, NULL, WAIT_MS));
	assert_int_equal(access(sock, F_OK), 0);
}

/* Stopping during the backoff cancels the restart. */
static void test_stop_cancels_restart(void **state)
{
	const struct children_stats *st;
	struct child_policy p;

	fast_policy(&p);
	p.backoff_first_ms = 300;
	recreate(&p);
	st = children_stats(C);
	assert_int_equal(children_start(C, "e", fail_argv, NULL), 0);
	assert_true(run_until(is_waiting, "e", WAIT_MS));
	assert_int_equal(children_start(C, "e", fail_argv, NULL), -EALREADY);
	assert_int_equal(children_stop(C, "e"), 0);
	assert_int_equal(children_state(C, "e", NULL), CHILD_NONE);
	assert_false(run_until(never, NULL, 500));
	assert_int_equal(st->started, 1);
}

/* A bind while the unbind's stop is under way starts a fresh child once the old one is gone. */
static void test_start_while_stopping(void **state)
{
	pid_t old, fresh;
	long t0;

	assert_int_equal(children_start(C, "f", stubborn_argv, NULL), 0);
	assert_int_equal(children_state(C, "f", &old), CHILD_RUNNING);
	wait_ignores_term(old);
	assert_int_equal(children_stop(C, "f"), 0);
	assert_int_equal(children_start(C, "f", sleep_argv, NULL), 0);
	assert_int_equal(children_state(C, "f", NULL), CHILD_STOPPING);
	{
		long deadline = now_ms() + WAIT_MS;

		while (children_state(C, "f", &fresh) != CHILD_RUNNING) {
			assert_true(now_ms() < deadline);
			run_until(never, NULL, 20);
		}
	}
	assert_int_not_equal(fresh, old);
	assert_int_equal(kill(old, 0), -1);
	assert_int_equal(children_stats(C)->started, 2);
	/* the fresh child runs the argv of the second start: a sleep that SIGTERM ends at once */
	t0 = now_ms();
	children_stop_all(C);
	assert_true(run_until(none_left, NULL, WAIT_MS));
	assert_true(now_ms() - t0 < 150);
}

/* Several devices: one crashing until given up touches neither of the others; stop_all ends them. */
static void test_several_devices(void **state)
{
	const struct children_stats *st = children_stats(C);
	pid_t a0, c0, a1, c1;

	assert_int_equal(children_start(C, "0000:00:0a.0", sleep_argv, NULL), 0);
	assert_int_equal(children_start(C, "0000:00:0b.0", fail_argv, NULL), 0);
	assert_int_equal(children_start(C, "0000:00:0c.0", sleep_argv, NULL), 0);
	assert_int_equal(children_count(C), 3);
	children_state(C, "0000:00:0a.0", &a0);
	children_state(C, "0000:00:0c.0", &c0);
	assert_true(run_until(is_gone, "0000:00:0b.0", WAIT_MS));
	assert_int_equal(st->gave_up, 1);
	assert_int_equal(children_state(C, "0000:00:0a.0", &a1), CHILD_RUNNING);
	assert_int_equal(children_state(C, "0000:00:0c.0", &c1), CHILD_RUNNING);
	assert_int_equal(a1, a0);
	assert_int_equal(c1, c0);
	assert_int_equal(kill(a0, 0), 0);
	assert_int_equal(kill(c0, 0), 0);
	assert_int_equal(st->started, 5 + 2);
	children_stop_all(C);
	assert_true(run_until(none_left, NULL, WAIT_MS));
	assert_int_equal(st->stopped, 2);
	assert_int_equal(kill(a0, 0), -1);
	assert_int_equal(kill(c0, 0), -1);
}

/* A child dying by a signal counts as a failure; a missing program (exit 127) too. */
static void test_signal_and_exec_failure(void **state)
{
	static const char *const segv_argv[] = { "/bin/sh", "-c", "kill -SEGV $$", NULL };
	static const char *const missing_argv[] = { "/nonexistent/vfio-user-proxy", "export", NULL };
	const struct children_stats *st = children_stats(C);

	assert_int_equal(children_start(C, "g", segv_argv, NULL), 0);
	assert_int_equal(children_start(C, "h", missing_argv, NULL), 0);
	assert_true(run_until(none_left, NULL, WAIT_MS));
	assert_int_equal(st->gave_up, 2);
	assert_int_equal(st->failures, 10);
}

/* What a child inherits: fds 0-2 only (not even one without O_CLOEXEC), and no blocked signal (we block SIGCHLD). */
static void test_child_inherits_nothing(void **state)
{
	/* grep exec'd straight away: a shell may set its own signal mask */
	static const char *const mask_argv[] = { "/bin/grep", "-Eq", "^SigBlk:[[:space:]]+0+$", "/proc/self/status",
						 NULL };
	const struct children_stats *st = children_stats(C);
	char script[160];
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC */

	assert_true(leak > 2);
	snprintf(script, sizeof(script), "[ ! -e /proc/self/fd/%d ]", leak);
	assert_int_equal(children_start(C, "i", argv, NULL), 0);
	assert_int_equal(children_start(C, "mask", mask_argv, NULL), 0);
	assert_true(run_until(none_left, NULL, WAIT_MS));
	close(leak);
	assert_int_equal(st->exited_ok, 2);
	assert_int_equal(st->failures, 0);
	/* the same check fails for an fd the child does see: the script can tell */
	snprintf(script, sizeof(script), "[ ! -e /proc/self/fd/1 ]");
	assert_int_equal(children_start(C, "j", argv, NULL), 0);
	assert_true(run_until(none_left, NULL, WAIT_MS));
	assert_int_equal(st->exited_ok, 2);
	assert_int_equal(st->gave_up, 1);
}

/* Destroying the supervisor with children still running kills them, and SIGCHLD is unblocked again. */
static void test_destroy_kills(void **state)
{
	sigset_t cur;
	pid_t pid;

	assert_int_equal(children_start(C, "k", sleep_argv, NULL), 0);
	children_state(C, "k", &pid);
	children_destroy(C);
	C = NULL;
	assert_int_equal(kill(pid, 0), -1);
	sigprocmask(SIG_SETMASK, NULL, &cur);
	assert_false(sigismember(&cur, SIGCHLD));
}

/* A supervisor started with SIGCHLD ignored (an init that ignores it) still sees its children's statuses. */
static void test_sigchld_ignored_before(void **state)
{
	const struct children_stats *st;
	struct child_policy p;
	struct sigaction sa;

	children_destroy(C);
	signal(SIGCHLD, SIG_IGN);
	fast_policy(&p);
	assert_int_equal(children_create(&p, &C), 0);
	st = children_stats(C);
	assert_int_equal(children_start(C, "l", ok_argv, NULL), 0);
	assert_true(run_until(none_left, NULL, WAIT_MS));
	assert_int_equal(st->exited_ok, 1);
	assert_int_equal(st->failures, 0);
	children_destroy(C);
	C = NULL;
	sigaction(SIGCHLD, NULL, &sa);
	assert_true(sa.sa_handler == SIG_IGN); /* put back as it was */
	signal(SIGCHLD, SIG_DFL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_backoff_then_give_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_resets_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_zero_not_restarted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_retired_given_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_sigterm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_kills_after_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_kept_on_clean_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_cancels_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_while_stopping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_several_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_and_exec_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_inherits_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_kills, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigchld_ignored_before, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
