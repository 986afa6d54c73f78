/* watch_children.h: the supervisor of `watch`: one child process per device, restarted with backoff after a failure, given up on after too many, stopped on request. */
#ifndef CLI_WATCH_CHILDREN_H
#define CLI_WATCH_CHILDREN_H

#include <stdbool.h>
#include <sys/types.h>

struct child_policy {
	long backoff_first_ms;      /* delay before the first restart (500), doubled after each further failure */
	long backoff_max_ms;        /* the longest delay (30000) */
	unsigned int give_up_after; /* this many failures within window_ms of each other: give up (5) */
	long window_ms;             /* (60000): a failure later than that after the previous one counts as the first */
	long stop_timeout_ms;       /* SIGTERM, then SIGKILL this long after (10000) */
};

void child_policy_default(struct child_policy *p);

/* What a device's child is doing; CHILD_NONE: the supervisor has nothing for that device. */
enum child_state { CHILD_NONE, CHILD_RUNNING, CHILD_WAITING, CHILD_STOPPING };

/* Counts since children_create, for the caller's exit status and for tests. */
struct children_stats {
	unsigned int started;   /* processes forked */
	unsigned int exited_ok; /* devices whose child exited 0 (not restarted) */
	unsigned int failures;  /* child exits with a non-zero status or by a signal, not asked for */
	unsigned int gave_up;   /* devices given up on after too many failures */
	unsigned int stopped;   /* devices whose child ended after children_stop or children_stop_all */
};

struct children;

/*
 * Blocks SIGCHLD and gives it its default action (children_destroy restores both), and sets up what
 * children_fd shows: 0, or negative errno. Each child starts with no signal blocked, only fds 0-2 open,
 * and SIGTERM when we die.
 */
int children_create(const struct child_policy *p, struct children **out);
/* Kills (SIGKILL) and reaps any child left, frees everything, restores SIGCHLD's mask and action. */
void children_destroy(struct children *c);
/* Readable when children_process has something to do (a child exited, a restart or a kill is due). */
int children_fd(const struct children *c);
/* Reaps exited children, restarts and kills what is due, logs each; never blocks. 0 or negative errno. */
int children_process(struct children *c);

/*
 * Runs argv (argv[0] an absolute path; copied) as the child of the device name. socket_path (may be NULL)
 * is named in the start line, and removed when a child dies by a signal and is not restarted (a killed
 * server leaves its socket behind). 0 started (a fork failure counts as a failed child: restarted later);
 * 0 too when the device's child is stopping (it starts afresh once that one is gone); -EALREADY when it
 * runs or waits for its restart; -ENOMEM.
 */
int children_start(struct children *c, const char *name, const char *const argv[], const char *socket_path);
/* SIGTERM to the device's child (SIGKILL after stop_timeout_ms), or its pending restart cancelled. 0, or -ENOENT. */
int children_stop(struct children *c, const char *name);
/* children_stop for every device. */
void children_stop_all(struct children *c);
/* SIGKILL to every child now (a second SIGTERM to watch). */
void children_kill_all(struct children *c);

/* Devices with a child running, stopping or waiting for its restart. */
unsigned int children_count(const struct children *c);
enum child_state children_state(const struct children *c, const char *name, pid_t *pid);
const struct children_stats *children_stats(const struct children *c);

#endif /* CLI_WATCH_CHILDREN_H */
