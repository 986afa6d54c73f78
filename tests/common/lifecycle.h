/* lifecycle.h: the fixture of the lifecycle suites (tests/integration/test_lifecycle_*.c): what a case may leave behind, torn down after it, and the proxy started, served, counted and stopped. */
#ifndef TESTS_LIFECYCLE_H
#define TESTS_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>

#include "harness.h"

#define LIFE_CLEANUP_MS 2000 /* how long the server gets to close a departed client's fds */
#define LIFE_START_MS 10000  /* how long a proxy gets to serve its first client */
#define LIFE_MAX_FDS 64
#define LIFE_OUT_CAP 8192

/* Everything a case may leave behind when it fails: torn down in teardown, processes killed. */
struct life_state {
	struct proxy_proc a, b;
	struct vuc *c1, *c2;
	int fds[LIFE_MAX_FDS];
	int nfds;
	void *map;
	size_t map_len;
	char dir[64]; /* a scratch directory of the case's own */
	char out[LIFE_OUT_CAP], err[LIFE_OUT_CAP];
};
extern struct life_state life;

/* cmocka setup and teardown of every case: life zeroed; then closed, unmapped, killed and removed. */
int life_setup(void **state);
int life_teardown(void **state);

/* fd kept in life.fds for the teardown to close (it must be valid): fd. */
int life_keep_fd(int fd);
/* A negotiated client once the proxy serves (it may still be starting), or NULL if it died or never did. */
struct vuc *life_wait_served(const struct proxy_proc *p);
/* The edu ID register reads as it should. */
void life_expect_id(struct vuc *c);
/* Starts the proxy through the harness and makes sure its event loop runs (a client was served). */
void life_start_serving(struct proxy_proc *p);
/* The fd count with no client: a negotiated, idle client holds exactly one (its socket). */
int life_idle_fd_count(const struct proxy_proc *p);
/* Sends sig and waits for the exit: the exit code (128 + signal when it died of one). */
int life_stop_with(struct proxy_proc *p, int sig);
bool life_socket_exists(const char *path);

#endif /* TESTS_LIFECYCLE_H */
