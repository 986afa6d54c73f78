/* harness.h: starts and stops the real proxy process for integration tests, and inspects its resources. */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/client.h"
#include "proc_probe.h"

struct proxy_proc {
	pid_t pid;
	char dir[64];
	char socket_path[128];
	char log_path[128];
	char env_args[256];
};

/*
 * Ends an argv for the proxy (argv[0] the binary, argv[1] the command, n entries so far, room for max):
 * --no-seccomp for a serving command under ASan, then $PROXY_ARGS, then the NULL. Returns the new count.
 */
int proxy_add_args(struct proxy_proc *p, const char **argv, int n, int max);
/* Whether the proxy's log has a line containing needle. */
bool proxy_log_contains(const struct proxy_proc *p, const char *needle);
/* Starts `vfio-user-proxy emulate --socket-path DIR/sock` plus extra args (NULL-terminated), waits for the socket. */
int proxy_start(struct proxy_proc *p, const char *const *extra_args);
/* SIGTERM, wait; returns the exit status (0 clean), and checks the socket file is gone (-EEXIST if not). */
int proxy_stop(struct proxy_proc *p);
/* Waits up to timeout_ms for the proxy to exit: its wait status (pid cleared), -ETIMEDOUT, or -ECHILD. */
int proxy_wait_exit(struct proxy_proc *p, int timeout_ms);
/* proxy_stop that cannot hang: SIGTERM, the exit code within timeout_ms (else -ETIMEDOUT: the caller's
 * teardown kills it), -EEXIST if the socket was left behind. The directory stays for the teardown. */
int proxy_stop_within(struct proxy_proc *p, int timeout_ms);
/* CLOCK_MONOTONIC in milliseconds. */
long test_now_ms(void);
/* Kills it hard and cleans the directory (for teardown after a failure). */
void proxy_kill(struct proxy_proc *p);
/* Whether the process is still alive. */
bool proxy_alive(const struct proxy_proc *p);
/* Open fds and mappings of the proxy process (/proc/PID/fd, /proc/PID/maps). */
int proxy_fd_count(const struct proxy_proc *p);
int proxy_map_count(const struct proxy_proc *p);
/* Waits until the proxy's fd count equals want (the server cleans up asynchronously after a disconnect). */
int proxy_wait_fds(const struct proxy_proc *p, int want, int timeout_ms);
/* Connects and negotiates; returns a ready client or NULL. */
struct vuc *proxy_client(const struct proxy_proc *p);
/* A started proxy with one negotiated client: cmocka setup/teardown for integration suites. */
struct proxy_fixture {
	struct proxy_proc proxy;
	struct vuc *c;
};
int proxy_fixture_setup(void **state);
int proxy_fixture_teardown(void **state);

/* Prints the proxy's log (on failure). */
void proxy_dump_log(const struct proxy_proc *p);

/* Runs one edu DMA transfer and waits for it (up to 5 s): 0 with the final command register in *cmd_out,
 * or the client's negative errno. */
int edu_run_dma(struct vuc *c, uint64_t src, uint64_t dst, uint64_t count, uint64_t cmd, uint64_t *cmd_out);
/* Sets bits in the PCI command register (0x4: bus master). */
int pci_command_set(struct vuc *c, uint16_t bits);
/* A memfd of size bytes mapped into *mem. Returns the fd. */
int test_memfd(size_t size, void **mem);

#endif /* TESTS_HARNESS_H */
