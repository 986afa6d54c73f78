/* proc_probe.h: what the host tests and the guest bench's binaries both read of a process and an eventfd (libc only, no cmocka): its fds and mappings counted in /proc, a /proc/PID/status field, an eventfd's count awaited. */
#ifndef TESTS_PROC_PROBE_H
#define TESTS_PROC_PROBE_H

#include <stddef.h>
#include <sys/types.h>

/* The number of fds of pid (/proc/PID/fd), or a negative errno. */
int proc_fd_count(pid_t pid);
/* The number of mappings of pid (/proc/PID/maps lines), or a negative errno. */
int proc_map_count(pid_t pid);
/*
 * The value of the "KEY:" line of /proc/PID/status into val (len bytes, NUL-terminated, leading blanks
 * skipped): 0, -ENOENT without such a line, or a negative errno.
 */
int proc_status(pid_t pid, const char *key, char *val, size_t len);
/* Waits up to timeout_ms for efd to be signalled: its count (read), 0 on timeout, or a negative errno. */
long eventfd_wait(int efd, int timeout_ms);

#endif
