/* bounded_io.c: reads and writes on client-shared fds bounded by a one-shot interval timer, so that no client can hold the proxy in a blocking syscall. */
#include "util/bounded_io.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static void on_alarm(int sig)
{
	(void)sig; /* its only job is to interrupt the syscall it lands in */
}

int bounded_io_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = 0; /* no SA_RESTART: a blocked read or write returns EINTR */
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGALRM, &sa, NULL) ? -errno : 0;
}

/*
 * The timer repeats until it is disarmed: one that expires before the syscall starts to wait (the proxy
 * descheduled in between) is followed by another that finds it waiting.
 */
static int arm(int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	struct itimerval t = { .it_interval = tv, .it_value = tv };

	return setitimer(ITIMER_REAL, &t, NULL) ? -errno : 0;
}

static ssize_t bounded(int fd, void *buf, size_t len, int timeout_ms, bool write_op)
{
	ssize_t n;
	int err, ret;

	ret = arm(timeout_ms);
	if (ret)
		return ret;
	n = write_op ? write(fd, buf, len) : read(fd, buf, len);
	err = errno;
	arm(0);
	if (n >= 0)
		return n;
	return err == EINTR ? -ETIMEDOUT : -err;
}

ssize_t bounded_write(int fd, const void *buf, size_t len, int timeout_ms)
{
	return bounded(fd, (void *)buf, len, timeout_ms, true);
}

ssize_t bounded_read(int fd, void *buf, size_t len, int timeout_ms)
{
	return bounded(fd, buf, len, timeout_ms, false);
}
