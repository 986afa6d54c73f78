/* test_waker.c: the serving thread's blocking read interrupted for the event loop's fds, and nothing else of it ever interrupted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/waker.h"

struct fixture {
	struct waker w;
	int epfd;
	int event;   /* an eventfd in the epoll set: the "other event" */
	int sock[2]; /* the serving thread reads sock[0] */
	int pipe[2]; /* a blocking read of the serving thread's that no signal may interrupt */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int setup(void **state)
{
	static struct fixture f;
	struct epoll_event ev = { .events = EPOLLIN };

	memset(&f, 0, sizeof(f));
	f.w.ctl = -1;
	f.epfd = epoll_create1(EPOLL_CLOEXEC);
	f.event = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f.epfd < 0 || f.event < 0 || epoll_ctl(f.epfd, EPOLL_CTL_ADD, f.event, &ev) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.sock) || pipe2(f.pipe, O_CLOEXEC))
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	waker_stop(&f->w);
	close(f->epfd);
	close(f->event);
	close(f->sock[0]);
	close(f->sock[1]);
	close(f->pipe[0]);
	close(f->pipe[1]);
	return 0;
}

static void raise_event(struct fixture *f)
{
	uint64_t one = 1;

	assert_int_equal(write(f->event, &one, sizeof(one)), sizeof(one));
}

/* What the event loop does on a wake-up: take the event (if an earlier turn has not), tell the helper. */
static void handle_event(struct fixture *f)
{
	uint64_t v;
	ssize_t n = read(f->event, &v, sizeof(v));

	assert_true(n == sizeof(v) || (n < 0 && errno == EAGAIN));
	waker_handled(&f->w);
}

/* The serving thread's read as session.c does it: -EINTR when the waker ended it, else bytes read. */
static ssize_t wakeable_read(struct fixture *f, void *buf, size_t len)
{
	ssize_t n;

	if (!waker_enter(&f->w))
		return -EINTR;
	n = recv(f->sock[0], buf, len, 0);
	waker_leave(&f->w);
	return n < 0 ? -errno : n;
}

/* An event while the serving thread waits in its read ends the read, and only once it is handled. */
static void test_event_ends_read(void **state)
{
	struct fixture *f = *state;
	char c;
	uint64_t t0;

	assert_int_equal(waker_init(&f->w, f->epfd), 0);
	assert_int_equal(waker_start(&f->w), 0);
	waker_arm(&f->w, true);
	raise_event(f);
	t0 = now_ms();
	assert_int_equal(wakeable_read(f, &c, 1), -EINTR);
	assert_true(now_ms() - t0 < 2000);
	assert_true(waker_pending(&f->w));
	handle_event(f);
	assert_false(waker_pending(&f->w));
	/* handled: the next read waits for data again */
	assert_int_equal(write(f->sock[1], "x", 1), 1);
	assert_int_equal(wakeable_read(f, &c, 1), 1);
	assert_false(waker_pending(&f->w));
}

struct raiser {
	struct fixture *f;
	atomic_bool stop;
	unsigned int raised;
	sem_t feed; /* posted: write the pipe's byte a little later */
};

static void *raise_often(void *arg)
{
	struct raiser *r = arg;

	uint64_t one = 1;

	while (!atomic_load(&r->stop)) {
		if (write(r->f->event, &one, sizeof(one)) == sizeof(one)) /* (no cmocka assert off its thread) */
			r->raised++;
		usleep(200);
	}
	return NULL;
}

static void *feed_pipe(void *arg)
{
	struct raiser *r = arg;

	for (;;) {
		while (sem_wait(&r->feed) && errno == EINTR)
			;
		if (atomic_load(&r->stop))
			return NULL;
		usleep(100);
		if (write(r->f->pipe[1], "y", 1) != 1)
			return NULL;
	}
}

/*
 * Events keep coming while the serving thread alternates its read with another blocking read (a pipe fed
 * by the test): every event is seen, and the pipe's read is never interrupted (a signal outside the read
 * window would make it fail with EINTR: the handler has no SA_RESTART).
 */
static void test_only_the_read_is_interrupted(void **state)
{
	struct fixture *f = *state;
	struct raiser r = { .f = f };
	pthread_t t, feeder;
	unsigned int wakes = 0, reads = 0;
	uint64_t until;

	assert_int_equal(waker_init(&f->w, f->epfd), 0);
	assert_int_equal(waker_start(&f->w), 0);
	waker_arm(&f->w, true);
	sem_init(&r.feed, 0, 0);
	assert_int_equal(pthread_create(&t, NULL, raise_often, &r), 0);
	assert_int_equal(pthread_create(&feeder, NULL, feed_pipe, &r), 0);
	until = now_ms() + 1500;
	while (now_ms() < until) {
		char c;
		ssize_t n;

		/* data for both reads; the pipe's byte comes a little late, so that that read blocks */
		assert_int_equal(write(f->sock[1], "x", 1), 1);
		/* an event (or a late signal of one already handled) ends the read: the byte is still there */
		while ((n = wakeable_read(f, &c, 1)) == -EINTR) {
			if (waker_pending(&f->w)) {
				handle_event(f);
				wakes++;
			}
		}
		assert_int_equal(n, 1);
		sem_post(&r.feed);
		n = read(f->pipe[0], &c, 1);
		if (n < 0)
			fail_msg("the pipe's read failed: %s", strerror(errno));
		assert_int_equal(n, 1);
		reads++;
	}
	atomic_store(&r.stop, true);
	sem_post(&r.feed);
	pthread_join(t, NULL);
	pthread_join(feeder, NULL);
	sem_destroy(&r.feed);
	print_message("%u reads, %u events raised, %u wake-ups\n", reads, r.raised, wakes);
	assert_true(reads > 50);
	assert_true(wakes > 0);
}

/* Disarmed (no client read with blocking reads), the helper does not watch: the event stays for epoll. */
static void test_disarmed_does_not_signal(void **state)
{
	struct fixture *f = *state;
	char c;

	assert_int_equal(waker_init(&f->w, f->epfd), 0);
	assert_int_equal(waker_start(&f->w), 0);
	waker_arm(&f->w, true);
	waker_arm(&f->w, false);
	raise_event(f);
	usleep(50 * 1000);
	assert_false(waker_pending(&f->w));
	/* armed again, the event waiting since is seen at once */
	waker_arm(&f->w, true);
	assert_int_equal(wakeable_read(f, &c, 1), -EINTR);
	handle_event(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_event_ends_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_the_read_is_interrupted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disarmed_does_not_signal, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
