/* waker.c: the helper thread that watches the event loop's fds while the serving thread blocks reading its client. */
#include "server/waker.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int waker_signal(void)
{
	return SIGRTMIN;
}

/* Each serving thread's count of the signals it took from its helper. */
static _Thread_local atomic_uint seen_here;

static void on_wake(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	/* its other job is done by arriving: the blocking read returns EINTR (no SA_RESTART) */
	if (si->si_code == SI_TKILL && si->si_pid == getpid())
		atomic_fetch_add(&seen_here, 1);
}

static void tell(struct waker *w)
{
	uint64_t one = 1;
	ssize_t ignored = write(w->ctl, &one, sizeof(one)); /* nonblocking; a full counter is already a word */

	(void)ignored;
}

static void drain(struct waker *w)
{
	uint64_t v;
	ssize_t ignored = read(w->ctl, &v, sizeof(v));

	(void)ignored;
}

/* Waits up to us microseconds for a word from the serving thread. */
static void wait_word(struct waker *w, long us)
{
	struct pollfd p = { .fd = w->ctl, .events = POLLIN };
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	if (ppoll(&p, 1, &ts, NULL) > 0)
		drain(w);
}

/* One signal to the serving thread if it is in its read, counted in the window (see waker.h). */
static void signal_serving(struct waker *w)
{
	unsigned int v = atomic_load(&w->window);

	while (v & 1u) {
		if (atomic_compare_exchange_weak(&w->window, &v, v + 2u)) {
			if (pthread_kill(w->serving, waker_signal()))
				atomic_fetch_add(w->seen, 1); /* not sent: nothing on its way */
			return;
		}
	}
}

/* Interrupts the serving thread's read until it has seen pending (or the waker is disarmed or stopped). */
static void wake_serving(struct waker *w)
{
	long us = WAKER_RESEND_MIN_US;

	while (atomic_load(&w->pending) && atomic_load(&w->armed) && !atomic_load(&w->stop)) {
		signal_serving(w);
		wait_word(w, us);
		us = us * 2 > WAKER_RESEND_MAX_US ? WAKER_RESEND_MAX_US : us * 2;
	}
}

void waker_wait_signals(struct waker *w, unsigned int sent)
{
	/* sent while we were in the read: it arrives at our next return from the kernel (the helper may still be
	 * between counting it and sending it: let it run) */
	while ((atomic_load(w->seen) & (~0u >> 1)) != sent)
		sched_yield();
}

/* Closes every fd of this thread's table but a and b. */
static void close_all_but(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 0)
		syscall(SYS_close_range, 0u, (unsigned int)lo - 1, 0u);
	if (hi > lo + 1)
		syscall(SYS_close_range, (unsigned int)lo + 1, (unsigned int)hi - 1, 0u);
	syscall(SYS_close_range, (unsigned int)hi + 1, ~0u, 0u);
}

static void *watch(void *arg)
{
	struct waker *w = arg;

	/*
	 * A table of its own with nothing but the two fds it polls: the serving thread's table then has one
	 * user again, and the kernel takes its fds without reference counting (each read and send), and a
	 * file the serving thread closes is not kept open here.
	 */
	if (!unshare(CLONE_FILES))
		close_all_but(w->epfd, w->ctl);
	sem_post(&w->ready);

	while (!atomic_load(&w->stop)) {
		bool armed = atomic_load(&w->armed);
		struct pollfd p[2] = {
			{ .fd = w->ctl, .events = POLLIN },
			{ .fd = armed ? w->epfd : -1, .events = POLLIN },
		};

		if (poll(p, 2, -1) < 0)
			continue; /* EINTR (every signal is blocked here; EINTR only from a stop/continue) */
		if (p[0].revents & POLLIN)
			drain(w);
		if (!armed || !(p[1].revents & POLLIN) || !atomic_load(&w->armed) || atomic_load(&w->stop))
			continue;
		atomic_store(&w->pending, true);
		wake_serving(w);
	}
	return NULL;
}

int waker_init(struct waker *w, int epfd)
{
	struct sigaction sa;

	memset(w, 0, sizeof(*w));
	w->epfd = epfd;
	w->serving = pthread_self();
	w->seen = &seen_here;
	w->ctl = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->ctl < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_wake;
	sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: the read returns EINTR; nothing else is ever interrupted */
	sigemptyset(&sa.sa_mask);
	if (sigaction(waker_signal(), &sa, NULL)) {
		int ret = -errno;

		close(w->ctl);
		w->ctl = -1;
		return ret;
	}
	return 0;
}

int waker_start(struct waker *w)
{
	sigset_t all, old;
	int ret;

	waker_serve_here(w);
	/* The helper takes no signal but SIGSYS (a seccomp violation is logged from any thread): the kick is the
	 * serving thread's; the loop's signals wait in its signalfd. */
	sigfillset(&all);
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	sem_init(&w->ready, 0, 0);
	ret = -pthread_create(&w->helper, NULL, watch, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ret) {
		/* its table is its own before the serving thread opens another file */
		while (sem_wait(&w->ready) && errno == EINTR)
			;
		w->started = true;
	}
	sem_destroy(&w->ready);
	return ret;
}

void waker_serve_here(struct waker *w)
{
	sigset_t kick;

	w->serving = pthread_self();
	w->seen = &seen_here;
	atomic_store(&w->window, (atomic_load(&seen_here) & (~0u >> 1)) << 1);
	sigemptyset(&kick);
	sigaddset(&kick, waker_signal());
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
}

void waker_stop(struct waker *w)
{
	if (w->started) {
		atomic_store(&w->stop, true);
		tell(w);
		pthread_join(w->helper, NULL);
		w->started = false;
	}
	if (w->ctl >= 0)
		close(w->ctl);
	w->ctl = -1;
}

void waker_arm(struct waker *w, bool on)
{
	atomic_store(&w->armed, on);
	atomic_store(&w->pending, false); /* disarmed, the event loop waits in epoll itself */
	tell(w);
}

void waker_handled(struct waker *w)
{
	atomic_store(&w->pending, false);
	tell(w);
}
