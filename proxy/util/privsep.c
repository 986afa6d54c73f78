/* privsep.c: the privileged helper process and the requests the unprivileged proxy sends it over a SOCK_SEQPACKET pair. */
#include "util/privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/scm.h"

#define OP_OPEN 'o'
#define OP_UNLINK 'u'
#define HELPER_FD 3

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

static void __attribute__((noreturn)) helper_main(const char *open_path, const char *unlink_path)
{
	struct stat sock_st;
	bool have_sock = unlink_path && lstat(unlink_path, &sock_st) == 0;

	for (;;) {
		char op;
		ssize_t n = recv(HELPER_FD, &op, 1, 0);
		int fd = -1, err = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the proxy is gone */
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
	if (have_sock)
		unlink_if_ours(unlink_path, &sock_st); /* the proxy died before it could ask */
	_exit(0);
}

/* ---- the proxy's side ---- */

int privsep_start(const char *open_path, const char *unlink_path)
{
	int sv[2];
	pid_t pid;

	if (chan >= 0)
		return -EBUSY;
	if (!open_path && !unlink_path)
		return 0;
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
		if (dup2(sv[1], HELPER_FD) < 0)
			_exit(1);
		close_range(HELPER_FD + 1, ~0u, 0);
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, NULL);
		helper_main(helper_open_path, helper_unlink_path);
	}
	close(sv[1]);
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
