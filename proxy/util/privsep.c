/* privsep.c: the privileged helper process and the requests the unprivileged proxy sends it over a SOCK_SEQPACKET pair. */
#include "util/privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/handover_exec.h"
#include "util/handover_state.h"
#include "util/notify.h"
#include "util/scm.h"

extern char **environ;

#define OP_OPEN 'o'
#define OP_UNLINK 'u'
#define OP_HANDOVER 'h'
#define OP_FORGET 'f'
#define HELPER_FD 3
#define CHUNK_FDS 250u          /* fds per message of a hand-over (SCM_MAX_FD is 253) */
#define SUCCESSOR_WAIT_MS 30000 /* how long the helper waits for the successor's word */

static int chan = -1;
static pid_t helper = -1;
static char *helper_open_path;
static char *helper_unlink_path;

/* ---- the helper's side ---- */

/* Removes the socket if it is still the one that was there when the helper started. */
static int unlink_if_ours(const char *path, const struct stat *was)
{
	struct stat st;

	if (lstat(path, &st))
		return -errno;
	if (st.st_dev != was->st_dev || st.st_ino != was->st_ino)
		return -ESTALE; /* another server's socket now: not ours to remove */
	return unlink(path) ? -errno : 0;
}

static int reply(int ch, int err, int fd)
{
	union scm_one_fd control;
	struct iovec iov = { .iov_base = &err, .iov_len = sizeof(err) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0)
		scm_put_fd(&msg, &control, fd);
	return sendmsg(ch, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* Receives count fds with the numbers they had in the proxy, in chunks. 0 or -errno (all closed then). */
static int recv_fds(uint32_t count, int *fds, int32_t *numbers)
{
	uint32_t got = 0;
	int ret = 0;

	while (got < count && !ret) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(CHUNK_FDS * sizeof(int))];
		} control;
		int32_t nums[CHUNK_FDS];
		struct iovec iov = { .iov_base = nums, .iov_len = sizeof(nums) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
				      .msg_controllen = sizeof(control.buf) };
		ssize_t n = recvmsg(HELPER_FD, &msg, MSG_CMSG_CLOEXEC);
		uint32_t nnums, nfds = 0;

		if (n <= 0 || n % 4)
			return n < 0 ? -errno : -EPROTO;
		nnums = (uint32_t)n / 4;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (got + nfds < count && nfds < nnums)
					fds[got + nfds] = fd;
				else
					close(fd), ret = -EPROTO;
				nfds++;
			}
		}
		if (nfds != nnums || (msg.msg_flags & MSG_CTRUNC) || got + nnums > count)
			ret = -EPROTO;
		for (uint32_t i = 0; i < nnums && got + i < count && i < nfds; i++)
			numbers[got + i] = nums[i];
		got += nfds < nnums ? nfds : nnums;
	}
	if (ret)
		for (uint32_t i = 0; i < got; i++)
			close(fds[i]);
	return ret;
}

/* The successor's side of the fork: every fd under its number in the proxy, then exec. */
static void __attribute__((noreturn)) start_successor(uint32_t count, int *fds, const int32_t *numbers, int notify,
						     const char *upgrader)
{
	int base = notify, *tmp = fds;
	sigset_t mask;

	close(HELPER_FD);
	for (uint32_t i = 0; i < count; i++) {
		if (numbers[i] > base)
			base = numbers[i];
		if (fds[i] > base)
			base = fds[i];
	}
	base++;
	notify = fcntl(notify, F_DUPFD, base); /* inherited: the successor's --resume-notify */
	for (uint32_t i = 0; i < count && notify >= 0; i++) {
		int t = fcntl(fds[i], F_DUPFD_CLOEXEC, base);

		if (t < 0)
			_exit(127);
		close(fds[i]);
		tmp[i] = t;
	}
	for (uint32_t i = 0; i < count && notify >= 0; i++) {
		if (dup2(tmp[i], numbers[i]) < 0)
			_exit(127);
		close(tmp[i]);
	}
	if (notify < 0)
		_exit(127);
	/* As the proxy had them: its signals wait blocked until the successor reads them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	/* an `upgrade` waiting for the outcome: the successor answers it (util/notify.h) */
	if (upgrader[0] ? setenv(NOTIFY_UPGRADER_ENV, upgrader, 1) : unsetenv(NOTIFY_UPGRADER_ENV))
		_exit(127);
	execve(handover_self_path(), handover_argv(numbers[0], -1, notify, false), environ);
	_exit(127);
}

/* A hand-over: the state (first) and the fds it lists, then a successor started and its word awaited. */
static int helper_handover(uint32_t count, const char *upgrader, pid_t *successor)
{
	int *fds = calloc(count ? count : 1, sizeof(int));
	int32_t *numbers = calloc(count ? count : 1, sizeof(int32_t));
	int res[2] = { -1, -1 }, ret, word = -EIO;
	struct pollfd p;
	pid_t pid;

	ret = !fds || !numbers || !count || count > HO_MAX_FDS + 1 ? -ENOMEM : recv_fds(count, fds, numbers);
	if (ret)
		goto out;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, res)) {
		ret = -errno;
		goto out_fds;
	}
	pid = fork();
	if (pid == 0)
		start_successor(count, fds, numbers, res[1], upgrader);
	close(res[1]);
	if (pid < 0) {
		ret = -errno;
		goto out_fds;
	}
	p = (struct pollfd){ .fd = res[0], .events = POLLIN };
	ret = -ETIMEDOUT;
	if (poll(&p, 1, SUCCESSOR_WAIT_MS) == 1)
		ret = recv(res[0], &word, sizeof(word), 0) == sizeof(word) ? word : -ECHILD;
	if (ret) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	*successor = pid;
out_fds:
	for (uint32_t i = 0; i < count; i++)
		close(fds[i]);
	if (res[0] >= 0)
		close(res[0]);
out:
	free(fds);
	free(numbers);
	return ret > 0 ? -EIO : ret;
}

/*
 * After a hand-over: a stop signal that reached the old process while it waited (it may not kill(), and
 * its pending signals die with it) goes on to the successor. The old process says which, or 0.
 */
static void forward_signal(pid_t successor)
{
	struct pollfd p = { .fd = HELPER_FD, .events = POLLIN };
	int sig = 0;

	if (poll(&p, 1, 2000) == 1 && recv(HELPER_FD, &sig, sizeof(sig), 0) == sizeof(sig) &&
	    (sig == SIGTERM || sig == SIGINT || sig == SIGHUP))
		kill(successor, sig);
}

static void __attribute__((noreturn)) helper_main(const char *open_path, const char *unlink_path,
						  bool keep_on_death)
{
	struct stat sock_st;
	bool have_sock = unlink_path && lstat(unlink_path, &sock_st) == 0;

	for (;;) {
		pid_t successor = -1;
		char req[16] = { 0 }, op;
		ssize_t n = recv(HELPER_FD, req, sizeof(req), 0);
		int fd = -1, err = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the proxy is gone */
		op = req[0];
		if (op == OP_HANDOVER && n == 13) {
			char upgrader[32] = "";
			uint32_t count, cookie;
			int32_t up;

			memcpy(&count, req + 1, sizeof(count));
			memcpy(&up, req + 5, sizeof(up));
			memcpy(&cookie, req + 9, sizeof(cookie));
			if (up > 0)
				snprintf(upgrader, sizeof(upgrader), "%d:%08x", (int)up, (unsigned int)cookie);
			err = helper_handover(count, upgrader, &successor);
			reply(HELPER_FD, err, -1);
			if (!err) {
				forward_signal(successor);
				_exit(0); /* the successor serves, with a helper of its own: the socket is its now */
			}
			continue;
		}
		if (op == OP_FORGET) {
			/* a refused hand-over's successor: the socket is still its predecessor's */
			have_sock = false;
			reply(HELPER_FD, 0, -1);
			continue;
		}
		if (op == OP_OPEN && open_path) {
			fd = open(open_path, O_RDWR | O_CLOEXEC);
			err = fd < 0 ? -errno : 0;
		} else if (op == OP_UNLINK && have_sock) {
			err = unlink_if_ours(unlink_path, &sock_st);
			have_sock = false;
		} else {
			err = -EPERM;
		}
		reply(HELPER_FD, err, fd);
		if (fd >= 0)
			close(fd);
	}
	if (have_sock && !keep_on_death)
		unlink_if_ours(unlink_path, &sock_st); /* the proxy died before it could ask */
	_exit(0);
}

/* ---- the proxy's side ---- */

int privsep_start(const char *open_path, const char *unlink_path, bool keep_on_death)
{
	int sv[2];
	pid_t pid;

	if (chan >= 0)
		return -EBUSY;
	/* Even with nothing to open or remove, it starts a hand-over's successor (privsep_handover). */
	helper_open_path = open_path ? strdup(open_path) : NULL;
	helper_unlink_path = unlink_path ? strdup(unlink_path) : NULL;
	if ((open_path && !helper_open_path) || (unlink_path && !helper_unlink_path))
		goto nomem;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (pid == 0) {
		sigset_t all;

		/* Nothing of the proxy's: no device, no container, no client socket (a device fd held here
		 * would defeat the proof that a departed client holds none). Signals stay blocked: it ends
		 * with the proxy, when the pair closes. */
		char ready = 1;

		if (dup2(sv[1], HELPER_FD) < 0)
			_exit(1);
		close_range(HELPER_FD + 1, ~0u, 0);
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, NULL);
		/* the proxy's fds are gone from here: say so (it waits, see below) */
		if (send(HELPER_FD, &ready, 1, MSG_NOSIGNAL) != 1)
			_exit(1);
		helper_main(helper_open_path, helper_unlink_path, keep_on_death);
	}
	close(sv[1]);
	/*
	 * Until the helper has closed its copies of our fds, it holds the listening socket too: a proxy
	 * killed in that window would leave a socket that still accepts. Go on once it says it dropped them.
	 */
	{
		char ready = 0;
		ssize_t n;

		do {
			n = recv(sv[0], &ready, 1, 0);
		} while (n < 0 && errno == EINTR);
		if (n != 1) {
			int err = n < 0 ? -errno : -ECHILD;

			close(sv[0]);
			waitpid(pid, NULL, 0);
			return err;
		}
	}
	chan = sv[0];
	helper = pid;
	return 0;
nomem:
	free(helper_open_path);
	free(helper_unlink_path);
	helper_open_path = helper_unlink_path = NULL;
	return -ENOMEM;
}

/* One request and its answer; the helper is ours, so waiting for it is safe. */
static int request(char op, int *fd_out)
{
	union scm_one_fd control;
	int err = -EIO;
	struct iovec iov = { .iov_base = &err, .iov_len = sizeof(err) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	ssize_t n;

	if (send(chan, &op, 1, MSG_NOSIGNAL) != 1)
		return -errno;
	do {
		n = recvmsg(chan, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n != sizeof(err))
		return n < 0 ? -errno : -EIO;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int fd;

			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
			if (fd_out && *fd_out < 0)
				*fd_out = fd;
			else
				close(fd);
		}
	}
	return err;
}

int privsep_open_node(const char *path)
{
	int fd = -1, ret;

	if (chan < 0 || !helper_open_path || strcmp(path, helper_open_path) != 0) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	ret = request(OP_OPEN, &fd);
	if (ret) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	return fd >= 0 ? fd : -EIO;
}

int privsep_unlink(const char *path)
{
	if (chan < 0 || !helper_unlink_path || strcmp(path, helper_unlink_path) != 0)
		return unlink(path) ? -errno : 0;
	return request(OP_UNLINK, NULL);
}

bool privsep_active(void)
{
	return chan >= 0;
}

int privsep_handover(int state_fd, const int32_t *fds, uint32_t nfds, int sigfd)
{
	uint32_t count = nfds + 1, sent = 0, cookie;
	char req[13] = { OP_HANDOVER };
	int err = -EIO;
	int32_t up;
	pid_t upid;
	ssize_t n;

	/* op, the fd count, the upgrader waiting (0: none) and its cookie */
	if (!notify_upgrader_get(&upid, &cookie))
		upid = 0;
	up = (int32_t)upid;
	memcpy(req + 1, &count, sizeof(count));
	memcpy(req + 5, &up, sizeof(up));
	memcpy(req + 9, &cookie, sizeof(cookie));
	if (send(chan, req, sizeof(req), MSG_NOSIGNAL) != sizeof(req))
		return -errno;
	while (sent < count) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(CHUNK_FDS * sizeof(int))];
		} control;
		int32_t nums[CHUNK_FDS];
		uint32_t k = count - sent < CHUNK_FDS ? count - sent : CHUNK_FDS;
		struct iovec iov = { .iov_base = nums, .iov_len = k * sizeof(int32_t) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
				      .msg_controllen = CMSG_SPACE(k * sizeof(int)) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

		memset(control.buf, 0, sizeof(control.buf));
		for (uint32_t i = 0; i < k; i++)
			nums[i] = sent + i == 0 ? state_fd : fds[sent + i - 1];
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(k * sizeof(int));
		memcpy(CMSG_DATA(c), nums, k * sizeof(int));
		if (sendmsg(chan, &msg, MSG_NOSIGNAL) < 0)
			return -errno; /* the helper sees a short hand-over and gives up */
		sent += k;
	}
	do {
		n = read(chan, &err, sizeof(err)); /* read: recv is recvfrom, which the filter refuses */
	} while (n < 0 && errno == EINTR);
	if (n != sizeof(err))
		return n < 0 ? -errno : -EIO;
	if (!err) {
		/* a stop signal that came meanwhile is the successor's (the helper forwards it) */
		struct signalfd_siginfo si;
		int sig = 0;

		while (sigfd >= 0 && read(sigfd, &si, sizeof(si)) == sizeof(si))
			if (!sig || si.ssi_signo != SIGHUP)
				sig = (int)si.ssi_signo;
		n = write(chan, &sig, sizeof(sig));
		(void)n;
	}
	return err;
}

void privsep_abandon(void)
{
	if (chan < 0)
		return;
	request(OP_FORGET, NULL);
	privsep_stop();
}

void privsep_stop(void)
{
	if (chan < 0)
		return;
	/* It exits as the pair closes (no wait: the proxy may be confined by then, and exits next). */
	close(chan);
	chan = -1;
	helper = -1;
	free(helper_open_path);
	free(helper_unlink_path);
	helper_open_path = helper_unlink_path = NULL;
}
