/* bounded_io.c: reads and writes on client-shared fds bounded by an interval timer, so that no client can hold the proxy in a blocking syscall. */
#include "util/bounded_io.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/*
 * The timer ticks every timeout_ms while bounded I/O goes on, and a tick in the middle of a blocked read
 * or write interrupts it (EINTR: no SA_RESTART). It is armed by the first bounded call and disarmed by
 * the first tick that finds none running, so a burst of interrupts costs one setitimer, not two each.
 * A tick that comes before the syscall starts to wait (the proxy descheduled in between) is followed by
 * another that finds it waiting.
 */
static volatile sig_atomic_t in_op;  /* a bounded read or write is running */
static volatile sig_atomic_t armed;  /* the timer ticks */
static volatile sig_atomic_t period_ms;

static int set_timer(int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	struct itimerval t = { .it_interval = tv, .it_value = tv };

	return setitimer(ITIMER_REAL, &t, NULL);
}

static void on_alarm(int sig)
{
	int saved = errno;

	(void)sig;
	if (!in_op) {
		set_timer(0); /* idle: stop ticking */
		armed = 0;
	}
	errno = saved;
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

static ssize_t bounded(int fd, void *buf, size_t len, int timeout_ms, bool write_op)
{
	ssize_t n;
	int err;

	in_op = 1;
	atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (!armed || period_ms != timeout_ms) {
		if (set_timer(timeout_ms)) {
			in_op = 0;
			return -errno;
		}
		period_ms = timeout_ms;
		armed = 1;
	}
	n = write_op ? write(fd, buf, len) : read(fd, buf, len);
	err = errno;
	atomic_signal_fence(__ATOMIC_SEQ_CST);
	in_op = 0;
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

void bounded_io_stop(void)
{
	set_timer(0);
	armed = 0;
}
