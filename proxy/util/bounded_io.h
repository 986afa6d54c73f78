/* bounded_io.h: reads and writes on fds a client shares with us (its eventfds), which never block longer than a bound. */
#ifndef UTIL_BOUNDED_IO_H
#define UTIL_BOUNDED_IO_H

#include <stddef.h>
#include <sys/types.h>

/* Most a bounded read or write may wait: a client's eventfd that blocks is the client's doing. */
#define BOUNDED_IO_TIMEOUT_MS 20

/* Installs the SIGALRM handler the bound relies on (no SA_RESTART). Once, before any seccomp filter. */
int bounded_io_init(void);

/*
 * write()/read() that give up after timeout_ms: the client shares the file, so it decides whether the
 * file blocks (it can clear O_NONBLOCK at any time, and fill or drain the eventfd counter), and only an
 * interrupting timer bounds the wait. Returns the bytes moved, -ETIMEDOUT when the bound ran out, or
 * another negative errno.
 */
ssize_t bounded_write(int fd, const void *buf, size_t len, int timeout_ms);
ssize_t bounded_read(int fd, void *buf, size_t len, int timeout_ms);

/* Disarms the timer: before exec, which keeps an interval timer armed but not the SIGALRM handler. */
void bounded_io_stop(void);

#endif /* UTIL_BOUNDED_IO_H */
