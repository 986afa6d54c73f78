/* watch_children.c: the supervisor of `watch`: forks one child per device, reaps it, restarts it with backoff, gives up, stops it with SIGTERM then SIGKILL. */
#include "cli/watch_children.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "util/log.h"

struct child {
	struct child *next;
	char *name;
	char **argv;           /* our copy, NULL-terminated */
	char *socket_path;     /* or NULL */
	enum child_state state;
	pid_t pid;             /* RUNNING, STOPPING */
	long deadline_ms;      /* WAITING: restart then; STOPPING: SIGKILL then (unless killed) */
	bool killed;           /* we sent SIGKILL */
	bool start_after;      /* STOPPING: a start came meanwhile, start afresh once it is gone */
	unsigned int failures; /* in a row, each within window_ms of the previous */
	long last_failure_ms;
};

struct children {
	struct child_policy policy;
	struct child *list;
	struct children_stats stats;
	int epfd;  /* holds sigfd and timerfd: what children_fd shows */
	int sigfd; /* SIGCHLD */
	int timerfd;
	sigset_t old_mask;
	bool mask_saved;
	struct sigaction old_chld; /* SIGCHLD's disposition before: SIG_IGN would reap our children for us */
	bool chld_saved;
	pid_t self;
};

void child_policy_default(struct child_policy *p)
{
	p->backoff_first_ms = 500;
	p->backoff_max_ms = 30000;
	p->give_up_after = 5;
	p->window_ms = 60000;
	p->stop_timeout_ms = 10000;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Arms the timer at the earliest deadline (a restart, a SIGKILL), or disarms it. */
static void rearm(struct children *c)
{
	struct itimerspec its = { 0 };
	long first = -1;

	for (struct child *ch = c->list; ch; ch = ch->next) {
		bool due = ch->state == CHILD_WAITING || (ch->state == CHILD_STOPPING && !ch->killed);

		if (due && (first < 0 || ch->deadline_ms < first))
			first = ch->deadline_ms;
	}
	if (first >= 0) {
		its.it_value.tv_sec = first / 1000;
		its.it_value.tv_nsec = (first % 1000) * 1000000 + 1; /* never all zero: that would disarm */
	}
	if (timerfd_settime(c->timerfd, TFD_TIMER_ABSTIME, &its, NULL))
		log_error("watch: cannot arm the restart timer: %s", strerror(errno));
}

static struct child *find(const struct children *c, const char *name)
{
	for (struct child *ch = c->list; ch; ch = ch->next)
		if (strcmp(ch->name, name) == 0)
			return ch;
	return NULL;
}

static void free_child(struct child *ch)
{
	if (!ch)
		return;
	for (char **a = ch->argv; a && *a; a++)
		free(*a);
	free(ch->argv);
	free(ch->name);
	free(ch->socket_path);
	free(ch);
}

static void remove_child(struct children *c, struct child *ch)
{
	for (struct child **p = &c->list; *p; p = &(*p)->next) {
		if (*p == ch) {
			*p = ch->next;
			break;
		}
	}
	free_child(ch);
}

/* The socket a killed server left behind, if it is one. */
static void remove_socket(const struct child *ch)
{
	struct stat st;

	if (!ch->socket_path || lstat(ch->socket_path, &st) || !S_ISSOCK(st.st_mode))
		return;
	if (unlink(ch->socket_path) == 0)
		log_info("watch: %s: removed the socket %s it left", ch->name, ch->socket_path);
	else if (errno != ENOENT)
		log_warn("watch: %s: cannot remove the socket %s it left: %s", ch->name, ch->socket_path,
			 strerror(errno));
}

/* In the child after fork: nothing of ours survives but fds 0-2, and no signal stays blocked. */
static void __attribute__((noreturn)) exec_child(const struct children *c, const struct child *ch)
{
	sigset_t none;

	/* a watch that dies any way at all takes its children with it */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != c->self)
		_exit(126);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (close_range(3, ~0U, 0)) {
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	}
	execv(ch->argv[0], ch->argv);
	log_error("watch: %s: cannot run %s: %s", ch->name, ch->argv[0], strerror(errno));
	_exit(127);
}

static void failed(struct children *c, struct child *ch, long now, const char *what);

/* Forks the device's child; a fork failure is a failed child (restarted later). */
static void spawn(struct children *c, struct child *ch)
{
	pid_t pid;

	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		char what[96];

		snprintf(what, sizeof(what), "cannot fork: %s", strerror(errno));
		failed(c, ch, now_ms(), what);
		return;
	}
	if (pid == 0)
		exec_child(c, ch);
	ch->pid = pid;
	ch->state = CHILD_RUNNING;
	ch->killed = false;
	c->stats.started++;
	if (ch->socket_path)
		log_info("watch: %s: started pid %d on %s", ch->name, (int)pid, ch->socket_path);
	else
		log_info("watch: %s: started pid %d", ch->name, (int)pid);
	if (log_threshold >= LOG_LVL_DEBUG) {
		char cmd[1024];
		size_t len = 0;

		cmd[0] = '\0';
		for (char **a = ch->argv; *a && len < sizeof(cmd); a++)
			len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, "%s%s", a == ch->argv ? "" : " ", *a);
		log_debug("watch: %s: pid %d runs %s", ch->name, (int)pid, cmd);
	}
}

/* A child that failed (what says how): restart it after the backoff, or give up on the device. */
static void failed(struct children *c, struct child *ch, long now, const char *what)
{
	const struct child_policy *p = &c->policy;
	long delay = p->backoff_first_ms;

	c->stats.failures++;
	ch->pid = 0;
	if (ch->failures && now - ch->last_failure_ms <= p->window_ms)
		ch->failures++;
	else
		ch->failures = 1;
	ch->last_failure_ms = now;
	if (ch->failures >= p->give_up_after) {
		log_warn("watch: %s: %s; giving up on it after %u failures within %ld s of each other (binding "
			 "it again starts afresh)",
			 ch->name, what, ch->failures, p->window_ms / 1000);
		c->stats.gave_up++;
		remove_socket(ch);
		remove_child(c, ch);
		return;
	}
	for (unsigned int i = 1; i < ch->failures && delay < p->backoff_max_ms; i++)
		delay *= 2;
	if (delay > p->backoff_max_ms)
		delay = p->backoff_max_ms;
	log_warn("watch: %s: %s; restarting it in %ld ms (failure %u of %u)", ch->name, what, delay, ch->failures,
		 p->give_up_after);
	ch->state = CHILD_WAITING;
	ch->deadline_ms = now + delay;
}

static void describe(char *buf, size_t size, pid_t pid, int status)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "pid %d exited with status %d", (int)pid, WEXITSTATUS(status));
	else
		snprintf(buf, size, "pid %d killed by signal %d (%s)", (int)pid, WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
}

/* The device's child has ended with status. */
static void ended(struct children *c, struct child *ch, int status, long now)
{
	bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	char what[128];

	describe(what, sizeof(what), ch->pid, status);
	if (ch->state == CHILD_STOPPING) {
		log_info("watch: %s: %s (stopped)", ch->name, what);
		if (!WIFEXITED(status))
			remove_socket(ch);
		c->stats.stopped++;
		if (ch->start_after) {
			ch->start_after = false;
			ch->failures = 0;
			spawn(c, ch);
			return;
		}
		remove_child(c, ch);
		return;
	}
	if (clean) {
		log_info("watch: %s: %s; not restarted", ch->name, what);
		c->stats.exited_ok++;
		remove_child(c, ch);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == CLI_EXIT_RETIRED) {
		/* the export said the device may not be served again without the operator: a restart would */
		log_warn("watch: %s: %s: the device may not be served again as it is (the export said why); giving "
			 "up on it (binding it again starts afresh)",
			 ch->name, what);
		c->stats.gave_up++;
		remove_socket(ch);
		remove_child(c, ch);
		return;
	}
	failed(c, ch, now, what);
}

/* Reaps every child of ours that has ended (our pids only: other children of the process are not ours). */
static void reap(struct children *c)
{
	struct child *ch = c->list, *next;

	for (; ch; ch = next) {
		int status;
		pid_t r;

		next = ch->next;
		if (ch->state != CHILD_RUNNING && ch->state != CHILD_STOPPING)
			continue;
		r = waitpid(ch->pid, &status, WNOHANG);
		if (r == ch->pid) {
			ended(c, ch, status, now_ms());
		} else if (r < 0 && errno == ECHILD) {
			/* reaped by someone else (a caller's waitpid(-1)): the status is lost */
			log_warn("watch: %s: pid %d is gone, its exit status unknown", ch->name, (int)ch->pid);
			ended(c, ch, W_EXITCODE(1, 0), now_ms());
		}
	}
}

/* What is due now: restarts, and SIGKILL for children that outlived their SIGTERM. */
static void run_due(struct children *c)
{
	long now = now_ms();
	struct child *ch = c->list, *next;

	for (; ch; ch = next) {
		next = ch->next;
		if (ch->deadline_ms > now)
			continue;
		if (ch->state == CHILD_WAITING) {
			spawn(c, ch);
		} else if (ch->state == CHILD_STOPPING && !ch->killed) {
			log_warn("watch: %s: pid %d still runs %ld ms after SIGTERM: SIGKILL", ch->name, (int)ch->pid,
				 c->policy.stop_timeout_ms);
			kill(ch->pid, SIGKILL);
			ch->killed = true;
		}
	}
}

int children_process(struct children *c)
{
	struct signalfd_siginfo si;
	uint64_t ticks;

	while (read(c->sigfd, &si, sizeof(si)) == sizeof(si))
		;
	while (read(c->timerfd, &ticks, sizeof(ticks)) == sizeof(ticks))
		;
	reap(c);
	run_due(c);
	/* a restart that failed at once (fork) or a SIGKILL just sent may have changed the deadlines */
	rearm(c);
	return 0;
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

static struct child *new_child(const char *name, const char *const argv[], const char *socket_path)
{
	struct child *ch = calloc(1, sizeof(*ch));
	bool fail = false;
	size_t n = 0;

	if (!ch)
		return NULL;
	while (argv[n])
		n++;
	ch->argv = calloc(n + 1, sizeof(*ch->argv));
	ch->name = dup_or_null(name, &fail);
	ch->socket_path = dup_or_null(socket_path, &fail);
	for (size_t i = 0; ch->argv && i < n; i++)
		ch->argv[i] = dup_or_null(argv[i], &fail);
	if (fail || !ch->argv || !n) {
		free_child(ch);
		return NULL;
	}
	return ch;
}

int children_start(struct children *c, const char *name, const char *const argv[], const char *socket_path)
{
	struct child *ch = find(c, name), *fresh;

	if (ch && ch->state != CHILD_STOPPING)
		return -EALREADY;
	fresh = new_child(name, argv, socket_path);
	if (!fresh)
		return -ENOMEM;
	if (ch) {
		/* the fresh child runs what this start says, once the old one is gone */
		char **old_argv = ch->argv, *old_socket = ch->socket_path;

		ch->argv = fresh->argv;
		ch->socket_path = fresh->socket_path;
		fresh->argv = old_argv;
		fresh->socket_path = old_socket;
		free_child(fresh);
		ch->start_after = true;
		return 0;
	}
	ch = fresh;
	ch->next = c->list;
	c->list = ch;
	spawn(c, ch);
	rearm(c);
	return 0;
}

static void stop_one(struct children *c, struct child *ch, long now)
{
	switch (ch->state) {
	case CHILD_RUNNING:
		log_info("watch: %s: stopping pid %d (SIGTERM)", ch->name, (int)ch->pid);
		kill(ch->pid, SIGTERM);
		ch->state = CHILD_STOPPING;
		ch->deadline_ms = now + c->policy.stop_timeout_ms;
		break;
	case CHILD_WAITING:
		log_info("watch: %s: its restart is cancelled", ch->name);
		c->stats.stopped++;
		remove_child(c, ch);
		break;
	case CHILD_STOPPING:
		ch->start_after = false;
		break;
	case CHILD_NONE:
		break;
	}
}

int children_stop(struct children *c, const char *name)
{
	struct child *ch = find(c, name);

	if (!ch)
		return -ENOENT;
	stop_one(c, ch, now_ms());
	rearm(c);
	return 0;
}

void children_stop_all(struct children *c)
{
	long now = now_ms();
	struct child *ch = c->list, *next;

	for (; ch; ch = next) {
		next = ch->next;
		stop_one(c, ch, now);
	}
	rearm(c);
}

void children_kill_all(struct children *c)
{
	for (struct child *ch = c->list; ch; ch = ch->next) {
		if (ch->state == CHILD_RUNNING || ch->state == CHILD_STOPPING) {
			log_warn("watch: %s: SIGKILL to pid %d", ch->name, (int)ch->pid);
			kill(ch->pid, SIGKILL);
			ch->state = CHILD_STOPPING;
			ch->killed = true;
			ch->start_after = false;
		}
	}
	rearm(c);
}

unsigned int children_count(const struct children *c)
{
	unsigned int n = 0;

	for (const struct child *ch = c->list; ch; ch = ch->next)
		n++;
	return n;
}

enum child_state children_state(const struct children *c, const char *name, pid_t *pid)
{
	const struct child *ch = find(c, name);

	if (pid)
		*pid = ch ? ch->pid : 0;
	return ch ? ch->state : CHILD_NONE;
}

const struct children_stats *children_stats(const struct children *c)
{
	return &c->stats;
}

int children_fd(const struct children *c)
{
	return c->epfd;
}

static int watch_fd(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int children_create(const struct child_policy *p, struct children **out)
{
	struct children *c = calloc(1, sizeof(*c));
	sigset_t mask;
	int ret;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->policy = *p;
	c->self = getpid();
	c->epfd = c->sigfd = c->timerfd = -1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	if (sigaction(SIGCHLD, &(struct sigaction){ .sa_handler = SIG_DFL }, &c->old_chld)) {
		ret = -errno;
		goto fail;
	}
	c->chld_saved = true;
	if (sigprocmask(SIG_BLOCK, &mask, &c->old_mask)) {
		ret = -errno;
		goto fail;
	}
	c->mask_saved = true;
	c->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	c->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->sigfd < 0 || c->timerfd < 0 || c->epfd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = watch_fd(c->epfd, c->sigfd);
	if (!ret)
		ret = watch_fd(c->epfd, c->timerfd);
	if (ret)
		goto fail;
	*out = c;
	return 0;
fail:
	children_destroy(c);
	return ret;
}

void children_destroy(struct children *c)
{
	struct child *ch, *next;

	if (!c)
		return;
	for (ch = c->list; ch; ch = next) {
		next = ch->next;
		if (ch->state == CHILD_RUNNING || ch->state == CHILD_STOPPING) {
			kill(ch->pid, SIGKILL);
			waitpid(ch->pid, NULL, 0);
			remove_socket(ch);
		}
		free_child(ch);
	}
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->sigfd >= 0)
		close(c->sigfd);
	if (c->timerfd >= 0)
		close(c->timerfd);
	if (c->mask_saved)
		sigprocmask(SIG_SETMASK, &c->old_mask, NULL);
	if (c->chld_saved)
		sigaction(SIGCHLD, &c->old_chld, NULL);
	free(c);
}
