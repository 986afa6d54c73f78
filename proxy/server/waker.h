/* waker.h: lets the serving thread block in recvmsg on its client while a helper thread watches the event loop's other fds for it. */
#ifndef VUP_SERVER_WAKER_H
#define VUP_SERVER_WAKER_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>

/*
 * While a client is connected the serving thread waits for its next message in a blocking recvmsg (one
 * system call a message fewer than an epoll_wait before each read). Everything else the event loop
 * watches (signals, the backend's event fd, the client's unmask eventfds) stays in the epoll fd, which the
 * helper thread polls while the waker is armed. When it becomes readable, the helper sets `pending` and
 * interrupts the serving thread's read with a signal (waker_signal(), its handler without SA_RESTART);
 * the serving thread handles the events in its own event loop and calls waker_handled(). The helper only
 * watches and signals: every fd is read and every piece of state is touched by the serving thread alone.
 *
 * The signal can interrupt nothing but the read. `window` says whether the serving thread is in it
 * (bit 0, from waker_enter() to waker_leave()) and counts the signals sent (the other bits): the helper
 * sends one only by incrementing the count while bit 0 is set (one compare-and-swap), and waker_leave()
 * clears the bit and waits until the handler has seen as many as were sent. No signal of ours is pending
 * outside the window. One that lands before the read starts is sent again, after a wait that doubles from
 * WAKER_RESEND_MIN_US up to WAKER_RESEND_MAX_US, until the serving thread has seen `pending`.
 *
 * Signals are seen through the signalfd in the epoll set: the ones sent to the process (kill, sigqueue,
 * systemd), not one sent to the serving thread alone (tgkill), which waits until the loop's next turn.
 */
#define WAKER_RESEND_MIN_US 50
#define WAKER_RESEND_MAX_US 10000

struct waker {
	pthread_t helper;
	pthread_t serving; /* the thread that reads the client */
	atomic_uint *seen; /* its count of our signals, which the handler keeps (thread-local) */
	int epfd;          /* watched, not owned */
	int ctl;           /* eventfd: the serving thread's word to the helper (armed changed, handled, stop) */
	bool started;
	sem_t ready;         /* the helper has its own fd table */
	atomic_bool armed;   /* a client is served with blocking reads: watch epfd */
	atomic_bool pending; /* epfd has events: the serving thread is to go to its event loop */
	atomic_uint window;  /* bit 0: the serving thread is in its read; bits 1..31: signals sent */
	atomic_bool stop;
};

/* The signal that interrupts the blocking read: a real-time one, so that every one sent is delivered. */
int waker_signal(void);

/*
 * Sets the waker up for epfd, before any confinement: the signal's handler, the helper's eventfd. The
 * caller is the serving thread until waker_start() or waker_serve_here() says another is.
 */
int waker_init(struct waker *w, int epfd);
/*
 * Starts the helper thread from the serving thread (server_run), under the seccomp filter if there is one:
 * the thread inherits it. The caller's signal mask must already block what the event loop reads from its
 * signalfd.
 */
int waker_start(struct waker *w);
/* The serving thread is the caller (server_run may run on another thread than the one that started it). */
void waker_serve_here(struct waker *w);
/* Stops the helper (if started) and closes what waker_init() opened. */
void waker_stop(struct waker *w);
/* A client is (or is no longer) served by blocking reads: the helper watches epfd (or stops watching). */
void waker_arm(struct waker *w, bool on);
/* The serving thread has handled what epfd had: the helper watches again. */
void waker_handled(struct waker *w);
/* (waker_leave's slow path: a signal of ours may still be on its way) */
void waker_wait_signals(struct waker *w, unsigned int sent);

static inline bool waker_pending(struct waker *w)
{
	return atomic_load(&w->pending);
}

static inline void waker_leave(struct waker *w)
{
	unsigned int sent = atomic_fetch_and(&w->window, ~1u) >> 1;

	if ((atomic_load(w->seen) & (~0u >> 1)) != sent)
		waker_wait_signals(w, sent);
}

/* Around the blocking read. waker_enter() returns false when events wait (do not read). */
static inline bool waker_enter(struct waker *w)
{
	atomic_fetch_or(&w->window, 1u);
	if (!atomic_load(&w->pending))
		return true;
	waker_leave(w);
	return false;
}

#endif
