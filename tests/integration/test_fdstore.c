/* test_fdstore.c: --fd-store against a fake systemd (its notify socket, its file descriptor store, LISTEN_FDS at a restart): a proxy SIGKILLed mid-session is restarted into the same session, a departed client's files leave the store, a store without a valid state means a fresh start. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/harness.h"
#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define BAR4 VFIO_PCI_BAR4_REGION_INDEX
#define MSIX VFIO_PCI_MSIX_IRQ_INDEX
#define EVT_TRIGGER (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define RW (VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)
#define IOVA 0x100000u
#define WIN_SIZE (1u << 20)
#define MAX_STORED 256

/* The fake systemd: what it was told, and the store it keeps (as systemd does, by name). */
static struct {
	int sock;
	char path[96];
	pthread_t thread;
	volatile bool stop;
	pthread_mutex_t lock;
	struct {
		char name[64];
		int fd;
	} e[MAX_STORED];
	int n;
	unsigned int barriers, removes;
} S;

static struct {
	struct proxy_proc p;
	struct vuc *c;
	int win_fd, msix[EDU_MSIX_VECTORS];
	uint8_t *win;
} T;

/* One datagram: FDSTORE=1 + FDNAME with fds, FDSTOREREMOVE=1 + FDNAME, BARRIER=1 with the fd to close. */
static void take(const char *msg, const int *fds, int nfds)
{
	const char *name = strstr(msg, "FDNAME=");
	char nm[64] = "stored";

	if (name)
		sscanf(name + 7, "%63[^\n]", nm);
	pthread_mutex_lock(&S.lock);
	if (strstr(msg, "FDSTOREREMOVE=1")) {
		for (int i = S.n; i-- > 0;)
			if (strcmp(S.e[i].name, nm) == 0) {
				close(S.e[i].fd);
				S.e[i] = S.e[--S.n];
			}
		S.removes++;
	} else if (strstr(msg, "FDSTORE=1")) {
		for (int i = 0; i < nfds && S.n < MAX_STORED; i++) {
			snprintf(S.e[S.n].name, sizeof(S.e[S.n].name), "%s", nm);
			S.e[S.n++].fd = fds[i];
		}
		nfds = 0;
	} else if (strstr(msg, "BARRIER=1")) {
		S.barriers++;
	}
	pthread_mutex_unlock(&S.lock);
	for (int i = 0; i < nfds; i++)
		close(fds[i]); /* a barrier's pipe: closing it is the answer */
}

static void *pump(void *arg)
{
	(void)arg;
	while (!S.stop) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(64 * sizeof(int))];
		} control;
		char msg[1024];
		struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
				     .msg_controllen = sizeof(control.buf) };
		struct pollfd pf = { .fd = S.sock, .events = POLLIN };
		int fds[64], nfds = 0;
		ssize_t n;

		if (poll(&pf, 1, 50) <= 0)
			continue;
		n = recvmsg(S.sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0)
			continue;
		msg[n] = '\0';
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

				memcpy(fds + nfds, CMSG_DATA(c), (size_t)k * sizeof(int));
				nfds += k;
			}
		take(msg, fds, nfds);
	}
	return NULL;
}

static int stored_count(const char *prefix)
{
	int n = 0;

	pthread_mutex_lock(&S.lock);
	for (int i = 0; i < S.n; i++)
		n += strncmp(S.e[i].name, prefix, strlen(prefix)) == 0;
	pthread_mutex_unlock(&S.lock);
	return n;
}

/* Whether the store holds a file with st's inode. */
static bool stored_inode(const struct stat *st)
{
	bool found = false;

	pthread_mutex_lock(&S.lock);
	for (int i = 0; i < S.n && !found; i++) {
		struct stat s;

		found = fstat(S.e[i].fd, &s) == 0 && s.st_dev == st->st_dev && s.st_ino == st->st_ino;
	}
	pthread_mutex_unlock(&S.lock);
	return found;
}

/* The proxy as systemd starts it: the stored files as fds 3.., LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID. */
static const char *extra_arg; /* one more option for the proxy, or NULL */

static void spawn(bool with_store)
{
	const char *bin = getenv("PROXY_BIN") ? getenv("PROXY_BIN") : "build/dbg/vfio-user-proxy";
	const char *argv[32];
	char names[MAX_STORED * 64] = "";
	int n = 0, nst;
	pid_t pid;

	argv[n++] = bin;
	argv[n++] = "emulate";
	argv[n++] = "--socket-path";
	argv[n++] = T.p.socket_path;
	argv[n++] = "--fd-store";
	if (extra_arg) {
		argv[n++] = "--user";
		argv[n++] = extra_arg;
	}
	n = proxy_add_args(&T.p, argv, n, 32);
	pthread_mutex_lock(&S.lock);
	nst = with_store ? S.n : 0;
	for (int i = 0; i < nst; i++) {
		strcat(names, i ? ":" : "");
		strcat(names, S.e[i].name);
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int log = open(T.p.log_path, O_WRONLY | O_CREAT | O_APPEND, 0600), high[MAX_STORED];
		char num[32];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(log, 1);
		dup2(log, 2);
		for (int i = 0; i < nst; i++)
			high[i] = fcntl(S.e[i].fd, F_DUPFD, 600);
		for (int i = 0; i < nst; i++)
			dup2(high[i], 3 + i); /* without close-on-exec */
		if (nst) {
			snprintf(num, sizeof(num), "%d", nst);
			setenv("LISTEN_FDS", num, 1);
			setenv("LISTEN_FDNAMES", names, 1);
			snprintf(num, sizeof(num), "%d", (int)getpid());
			setenv("LISTEN_PID", num, 1);
		}
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	pthread_mutex_unlock(&S.lock);
	T.p.pid = pid;
}

static bool wait_log(const char *needle, int timeout_ms)
{
	long end = test_now_ms() + timeout_ms;

	while (test_now_ms() < end) {
		if (proxy_log_contains(&T.p, needle))
			return true;
		usleep(2000);
	}
	return false;
}

/* A fresh proxy (no store yet), serving, and its first state stored. */
static void start_fresh(void)
{
	strcpy(T.p.dir, "/tmp/vup-fdstore-XXXXXX");
	assert_non_null(mkdtemp(T.p.dir));
	chmod(T.p.dir, 0777);
	snprintf(T.p.socket_path, sizeof(T.p.socket_path), "%s/sock", T.p.dir);
	snprintf(T.p.log_path, sizeof(T.p.log_path), "%s/log", T.p.dir);
	spawn(false);
	assert_true(wait_log("info: serving ", 10000));
}

static void kill_hard(void)
{
	int status;

	assert_int_equal(kill(T.p.pid, SIGKILL), 0);
	assert_int_equal(waitpid(T.p.pid, &status, 0), T.p.pid);
	assert_true(WIFSIGNALED(status));
	T.p.pid = 0;
	usleep(100000); /* what it sent before it died reaches the store */
}

static void set_up_device(void)
{
	uint32_t v;

	T.c = proxy_client(&T.p);
	assert_non_null(T.c);
	T.win_fd = test_memfd(WIN_SIZE, (void **)&T.win);
	assert_true(T.win_fd >= 0);
	assert_int_equal(vuc_dma_map_fd(T.c, IOVA, WIN_SIZE, T.win_fd, 0, RW), 0);
	for (unsigned int i = 0; i < EDU_MSIX_VECTORS; i++)
		T.msix[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(pci_command_set(T.c, 0x4), 0);
	assert_int_equal(vuc_set_irqs(T.c, MSIX, EVT_TRIGGER, 0, EDU_MSIX_VECTORS, T.msix, NULL), 0);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_FACT, 10), 0);
	assert_int_equal(vuc_read32(T.c, BAR0, EDU_REG_FACT, &v), 0);
	assert_int_equal(v, 3628800);
	assert_int_equal(vuc_region_write(T.c, BAR4, 0x1000, "fd-store", 8, false), 0);
}

/* What the client set up before the crash is there, and works. */
static void check_device(void)
{
	uint8_t buf[8], *src = T.win + 0x1000, *dst = T.win + 0x10000;
	uint64_t cmd = 0;
	uint32_t v;

	assert_int_equal(vuc_read32(T.c, BAR0, EDU_REG_FACT, &v), 0);
	assert_int_equal(v, 3628800);
	assert_int_equal(vuc_region_read(T.c, BAR4, 0x1000, buf, 8), 0);
	assert_memory_equal(buf, "fd-store", 8);
	for (unsigned int i = 0; i < EDU_DMA_BUF_SIZE; i++)
		src[i] = (uint8_t)(i ^ 0x3c);
	memset(dst, 0, EDU_DMA_BUF_SIZE);
	assert_int_equal(edu_run_dma(T.c, IOVA + 0x1000, EDU_DMA_BUF_ADDR, EDU_DMA_BUF_SIZE, 0, &cmd), 0);
	assert_int_equal(edu_run_dma(T.c, EDU_DMA_BUF_ADDR, IOVA + 0x10000, EDU_DMA_BUF_SIZE, EDU_DMA_CMD_TO_RAM, &cmd),
			 0);
	assert_int_equal(cmd & (EDU_DMA_CMD_RUN | EDU_DMA_CMD_ERROR), 0);
	assert_memory_equal(src, dst, EDU_DMA_BUF_SIZE);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_VECTOR, 3), 0);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_RAISE, 1), 0);
	assert_int_equal(eventfd_wait(T.msix[3], 2000), 1);
	assert_int_equal(vuc_write32(T.c, BAR0, EDU_REG_IRQ_ACK, 1), 0);
}

static int case_setup(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	(void)state;
	memset(&T, 0, sizeof(T));
	extra_arg = NULL;
	T.win_fd = -1;
	for (unsigned int i = 0; i < EDU_MSIX_VECTORS; i++)
		T.msix[i] = -1;
	S.n = 0;
	S.barriers = S.removes = 0;
	S.stop = false;
	snprintf(S.path, sizeof(S.path), "/tmp/vup-fdstore-notify-%d", (int)getpid());
	unlink(S.path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", S.path);
	S.sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (S.sock < 0 || bind(S.sock, (struct sockaddr *)&sa, sizeof(sa)) || chmod(S.path, 0666))
		return -1; /* (systemd's is writable by any process of the unit, also after --user) */
	setenv("NOTIFY_SOCKET", S.path, 1);
	pthread_mutex_init(&S.lock, NULL);
	return pthread_create(&S.thread, NULL, pump, NULL);
}

static int case_teardown(void **state)
{
	(void)state;
	vuc_close(T.c);
	if (T.p.pid > 0) {
		proxy_dump_log(&T.p);
		pthread_mutex_lock(&S.lock);
		for (int i = 0; i < S.n; i++)
			fprintf(stderr, "stored: %s (fd %d)\n", S.e[i].name, S.e[i].fd);
		pthread_mutex_unlock(&S.lock);
		proxy_kill(&T.p);
	}
	S.stop = true;
	pthread_join(S.thread, NULL);
	for (int i = 0; i < S.n; i++)
		close(S.e[i].fd);
	close(S.sock);
	unlink(S.path);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("VFIO_USER_PROXY_TEST_HANDOVER");
	if (T.win_fd >= 0)
		close(T.win_fd);
	for (unsigned int i = 0; i < EDU_MSIX_VECTORS; i++)
		if (T.msix[i] >= 0)
			close(T.msix[i]);
	return 0;
}

/* SIGKILL mid-session: the restarted proxy serves the same connection as if nothing had happened. */
static void test_crash_resumes_session(void **state)
{
	uint32_t v;

	(void)state;
	start_fresh();
	set_up_device();
	for (int i = 0; i < 100 && stored_count("vup-") < 2 + 4 + (int)EDU_MSIX_VECTORS; i++)
		usleep(10000); /* the fake systemd takes its datagrams in a thread of its own */
	assert_int_equal(stored_count("vup-state-"), 2);
	assert_true(stored_count("vup-") >= 2 + 4 + (int)EDU_MSIX_VECTORS); /* listen, client, RAM BAR, window, eventfds */
	for (int round = 0; round < 3; round++) {
		kill_hard();
		spawn(true);
		assert_true(wait_log("resuming the session", 10000));
		check_device();
	}
	/* a new window and interrupt set-up after the restarts are stored too, and survive one more */
	assert_int_equal(vuc_dma_unmap(T.c, IOVA, WIN_SIZE, 0), 0);
	assert_int_equal(vuc_dma_map_fd(T.c, IOVA, WIN_SIZE, T.win_fd, 0, RW), 0);
	kill_hard();
	spawn(true);
	assert_true(wait_log("resuming the session", 10000));
	check_device();
	assert_int_equal(vuc_read32(T.c, BAR0, EDU_REG_ID, &v), 0);
	assert_int_equal(proxy_stop_within(&T.p, 5000), 0);
}

static volatile int killer_failed; /* (cmocka's asserts are the main thread's) */
/* The killer's proxies have it as their parent thread (PR_SET_PDEATHSIG follows the thread): it lives
 * until the client is done with the last one. */
static volatile int kills_done, client_done;

static void *killer(void *arg)
{
	unsigned int *seed = arg;

	for (int k = 0; k < 10 && !killer_failed; k++) {
		struct timespec t = { .tv_nsec = (long)(1 + rand_r(seed) % 20) * 1000000L };
		int status;

		nanosleep(&t, NULL);
		if (kill(T.p.pid, SIGKILL) || waitpid(T.p.pid, &status, 0) != T.p.pid) {
			killer_failed = 1;
			break;
		}
		usleep(20000);
		if (truncate(T.p.log_path, 0)) /* so that the wait below sees this start's line */
			killer_failed = 4;
		spawn(true);
		if (!wait_log("info: serving ", 10000))
			killer_failed = 2;
	}
	kills_done = 1;
	while (!client_done)
		usleep(1000);
	return NULL;
}

/*
 * Killed at random points while the client keeps writing and reading a register, one request after
 * another as a VMM does: every request is answered (again, or handled again, from the journal) and
 * every read finds the value written before it.
 */
static void test_crash_mid_request(void **state)
{
	unsigned int seed = (unsigned int)getpid();
	unsigned long ops = 0;
	pthread_t t;
	uint64_t v;

	(void)state;
	start_fresh();
	set_up_device();
	vuc_set_timeout(T.c, 30000);
	killer_failed = kills_done = client_done = 0;
	assert_int_equal(pthread_create(&t, NULL, killer, &seed), 0);
	for (uint64_t i = 1; !kills_done; i++, ops++) {
		int w = vuc_write64(T.c, BAR0, EDU_REG_DMA_SRC, i * 0x1000), r = w ? 0 : vuc_read64(T.c, BAR0, EDU_REG_DMA_SRC, &v);

		if (w || r || v != i * 0x1000) {
			killer_failed = 3;
			client_done = 1;
			pthread_join(t, NULL);
			fail_msg("pair %lu: write %d, read %d, value %#llx", ops, w, r, (unsigned long long)v);
		}
	}
	assert_int_equal(killer_failed, 0);
	print_message("%lu write+read pairs across 10 kills\n", ops);
	check_device();
	assert_int_equal(proxy_stop_within(&T.p, 5000), 0);
	client_done = 1;
	pthread_join(t, NULL);
}

/* Run as --user: the privileged helper leaves the socket in place when the proxy is killed (the store
 * holds it for the restart), and the restarted proxy serves this client and the next. */
static void test_crash_as_user(void **state)
{
	struct stat st;

	(void)state;
	extra_arg = "nobody";
	start_fresh();
	set_up_device();
	kill_hard();
	usleep(200000); /* the helper has seen the proxy go */
	assert_int_equal(stat(T.p.socket_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	spawn(true);
	assert_true(wait_log("resuming the session", 10000));
	check_device();
	vuc_close(T.c);
	T.c = NULL;
	assert_true(wait_log("client 1 gone", 5000));
	T.c = proxy_client(&T.p); /* the next client, on the same socket path */
	assert_non_null(T.c);
	assert_int_equal(proxy_stop_within(&T.p, 5000), 0);
	assert_int_not_equal(stat(T.p.socket_path, &st), 0); /* removed at the clean stop */
}

/* The inode the store holds under name, or 0 (and how many files it holds under that name). */
static ino_t stored_ino(const char *name, int *count)
{
	ino_t ino = 0;

	*count = 0;
	pthread_mutex_lock(&S.lock);
	for (int i = 0; i < S.n; i++) {
		struct stat st;

		if (strcmp(S.e[i].name, name) == 0 && fstat(S.e[i].fd, &st) == 0) {
			ino = st.st_ino;
			(*count)++;
		}
	}
	pthread_mutex_unlock(&S.lock);
	return ino;
}

/*
 * A hand-over whose successor refuses the state: confined, the old process serves on and the store holds
 * its own state memfds and journal as before; in place, the old binary runs again (a successor of its own,
 * with new ones). Either way one of each, and a crash after it still resumes the session.
 */
static void test_refused_handover_keeps_store(void **state)
{
	static const char *const names[] = { "vup-state-0", "vup-state-1", "vup-journal" };
	ino_t before[3];
	int n;

	(void)state;
	setenv("VFIO_USER_PROXY_TEST_HANDOVER", "future", 1); /* the successor reads the state as too new */
	start_fresh();
	set_up_device();
	usleep(100000);
	for (int i = 0; i < 3; i++)
		before[i] = stored_ino(names[i], &n);
	bool in_place = false, refused = false;

	assert_int_equal(kill(T.p.pid, SIGHUP), 0);
	/* which way it went is the proxy's (--no-seccomp, as under ASan, is in place) */
	for (int i = 0; i < 5000 && !refused; i++) {
		in_place = proxy_log_contains(&T.p, "running the previous binary again");
		refused = in_place || proxy_log_contains(&T.p, "hand-over did not happen");
		usleep(2000);
	}
	assert_true(refused);
	assert_true(wait_log("serving", 10000));
	usleep(200000);
	for (int i = 0; i < 3; i++) {
		ino_t now = stored_ino(names[i], &n);

		assert_int_equal(n, 1);
		if (!in_place)
			assert_int_equal(now, before[i]);
	}
	unsetenv("VFIO_USER_PROXY_TEST_HANDOVER");
	kill_hard();
	spawn(true);
	assert_true(wait_log("resuming the session", 10000));
	check_device();
	assert_int_equal(proxy_stop_within(&T.p, 5000), 0);
}

/* A client that leaves takes its memory and connection out of the store (and the proxy waited for it). */
static void test_departed_client_leaves_store(void **state)
{
	struct stat win;
	unsigned int barriers;

	(void)state;
	start_fresh();
	set_up_device();
	assert_int_equal(fstat(T.win_fd, &win), 0);
	for (int i = 0; i < 100 && !stored_inode(&win); i++)
		usleep(10000); /* the fake systemd takes its datagrams in a thread of its own */
	assert_true(stored_inode(&win));
	barriers = S.barriers;
	vuc_close(T.c);
	T.c = NULL;
	assert_int_equal(wait_log("client 1 gone", 5000), true);
	usleep(100000);
	assert_false(stored_inode(&win));
	assert_true(S.barriers > barriers);
	assert_int_equal(stored_count("vup-state-"), 2);
	/* a crash now restarts with no session: the next client is a fresh one */
	kill_hard();
	spawn(true);
	assert_true(wait_log("resuming the session", 10000));
	T.c = proxy_client(&T.p);
	assert_non_null(T.c);
	assert_int_equal(proxy_stop_within(&T.p, 5000), 0);
}

/* States that cannot be read: the store is emptied and the proxy exits 1; the next start is fresh. */
static void test_damaged_store_starts_fresh(void **state)
{
	int status;

	(void)state;
	start_fresh();
	set_up_device();
	pthread_mutex_lock(&S.lock);
	for (int i = 0; i < S.n; i++)
		if (strncmp(S.e[i].name, "vup-state-", 10) == 0)
			assert_int_equal(pwrite(S.e[i].fd, "garbage!", 8, 40), 8);
	pthread_mutex_unlock(&S.lock);
	kill_hard();
	spawn(true);
	assert_int_equal(waitpid(T.p.pid, &status, 0), T.p.pid);
	T.p.pid = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	assert_true(proxy_log_contains(&T.p, "no valid saved state"));
	usleep(100000);
	assert_int_equal(S.n, 0);
	vuc_close(T.c);
	T.c = NULL;
	assert_int_equal(truncate(T.p.log_path, 0), 0);
	spawn(true); /* the store is empty: an ordinary start */
	assert_true(wait_log("info: serving ", 10000));
	T.c = proxy_client(&T.p);
	assert_non_null(T.c);
	assert_int_equal(proxy_stop_within(&T.p, 5000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crash_resumes_session, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_crash_mid_request, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_crash_as_user, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_refused_handover_keeps_store, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_departed_client_leaves_store, case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(test_damaged_store_starts_fresh, case_setup, case_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
