/* notify.c: the notify protocol to the supervisor and to a waiting upgrader, over one datagram socket opened before confinement. */
#include "util/notify.h"

/*
 * Why not libsystemd's sd_notify: it opens a socket per call and tunes its buffer (socket, getsockopt,
 * setsockopt SO_SNDBUF and SO_SNDBUFFORCE, four get*id calls, then sendmsg, as strace shows for 252),
 * and later versions call more (connect; a barrier's pipe and poll). Under the seccomp filter (which
 * kills on anything not allowed) each of those would have to be allowed, and a library update could kill
 * the proxy. The protocol itself is one sendmsg to NOTIFY_SOCKET's address, which the filter allows
 * already: this file speaks it over a socket it opened before confinement, and the filter is unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "util/scm.h"

static int sock = -1;
static int store_sock = -1; /* connected to the supervisor, sends that wait: the fd store's (notify_supervisor_connect) */
static struct sockaddr_un sup_addr;
static socklen_t sup_len;
static pid_t up_pid;
static uint32_t up_cookie;
static bool warned_sup, warned_up;

socklen_t notify_upgrader_addr(pid_t pid, struct sockaddr_un *sa)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	/* abstract: sun_path[0] is NUL; no file, gone with its socket */
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "vfio-user-proxy/upgrade/%d", (int)pid);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

void notify_init(void)
{
	const char *e = getenv("NOTIFY_SOCKET"), *u = getenv(NOTIFY_UPGRADER_ENV);

	if (u) {
		int pid = 0;
		unsigned int cookie = 0;

		if (sscanf(u, "%d:%x", &pid, &cookie) == 2 && pid > 0)
			notify_set_upgrader((pid_t)pid, cookie);
		unsetenv(NOTIFY_UPGRADER_ENV); /* handed on again only for a hand-over it asked for */
	}
	if (sock < 0)
		sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		log_warn("notify: no socket (%s): the supervisor and an upgrade will not hear from us", strerror(errno));
	sup_len = 0;
	if (!e || !*e)
		return;
	/* a path, or "@name" for an abstract socket (sd_notify(3)) */
	if ((e[0] != '/' && e[0] != '@') || strlen(e) >= sizeof(sup_addr.sun_path)) {
		log_warn("notify: NOTIFY_SOCKET=%s is not a socket path; not notifying", e);
		return;
	}
	memset(&sup_addr, 0, sizeof(sup_addr));
	sup_addr.sun_family = AF_UNIX;
	memcpy(sup_addr.sun_path, e, strlen(e));
	if (e[0] == '@')
		sup_addr.sun_path[0] = '\0';
	sup_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(e) + (e[0] == '/' ? 1 : 0));
}

static int send_to(const struct sockaddr_un *sa, socklen_t len, const char *text)
{
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
	struct msghdr msg = { .msg_name = (void *)sa, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1 };

	if (sock < 0)
		return -EBADF;
	/* never waits: a stuck listener costs the message, not the client's service */
	return sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -errno : 0;
}

void notify_supervisor(const char *fmt, ...)
{
	char text[512];
	va_list ap;
	int ret;

	if (!sup_len)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ret = send_to(&sup_addr, sup_len, text);
	if (ret && !warned_sup) {
		log_warn("notify: cannot tell the supervisor (NOTIFY_SOCKET): %s", strerror(-ret));
		warned_sup = true;
	}
}

bool notify_supervisor_available(void)
{
	return sup_len > 0 && sock >= 0;
}

int notify_supervisor_connect(int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	int fd;

	if (store_sock >= 0)
		return 0;
	if (!notify_supervisor_available())
		return -ENOTCONN;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/*
	 * A datagram to a peer whose queue is full (net.unix.max_dgram_qlen, 10 by default) fails at once
	 * without waiting; connected, a send waits for room, up to the timeout: none of the store's
	 * messages may be dropped.
	 */
	if (connect(fd, (struct sockaddr *)&sup_addr, sup_len) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))) {
		int err = -errno;

		close(fd);
		return err;
	}
	store_sock = fd;
	return 0;
}

int notify_supervisor_send(const char *text, int fd)
{
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	union scm_one_fd ctl;
	int ret;

	if (store_sock < 0)
		return -ENOTCONN;
	if (fd >= 0)
		scm_put_fd(&msg, &ctl, fd);
	do {
		ret = sendmsg(store_sock, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
	} while (ret == -EINTR);
	return ret;
}

int notify_supervisor_barrier(int timeout_ms)
{
	struct pollfd p = { .events = POLLIN };
	int pipefd[2], ret;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	/* the supervisor closes the write end once it has handled every message before this one */
	ret = notify_supervisor_send("BARRIER=1", pipefd[1]);
	close(pipefd[1]);
	p.fd = pipefd[0];
	while (!ret) {
		int n = poll(&p, 1, timeout_ms);

		if (n < 0 && errno == EINTR)
			continue;
		ret = n < 0 ? -errno : n == 0 ? -ETIMEDOUT : 0;
		break;
	}
	close(pipefd[0]);
	return ret;
}

void notify_set_upgrader(pid_t pid, uint32_t cookie)
{
	up_pid = pid > 0 ? pid : 0;
	up_cookie = cookie;
}

bool notify_upgrader_get(pid_t *pid, uint32_t *cookie)
{
	*pid = up_pid;
	*cookie = up_cookie;
	return up_pid > 0;
}

void notify_upgrader(const char *fmt, ...)
{
	struct sockaddr_un sa;
	socklen_t len;
	char text[512];
	va_list ap;
	int n, ret;

	if (!up_pid)
		return;
	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text) - 24, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(text) - 24)
		n = (int)sizeof(text) - 24;
	snprintf(text + n, 24, "\nCOOKIE=%08x", up_cookie);
	len = notify_upgrader_addr(up_pid, &sa);
	ret = send_to(&sa, len, text);
	if (ret == -ECONNREFUSED || ret == -ENOENT)
		log_debug("notify: upgrader %d is gone", (int)up_pid);
	else if (ret && !warned_up) {
		log_warn("notify: cannot tell upgrader %d: %s", (int)up_pid, strerror(-ret));
		warned_up = true;
	}
}

void notify_upgrader_export(void)
{
	char v[32];

	if (!up_pid) {
		unsetenv(NOTIFY_UPGRADER_ENV);
		return;
	}
	snprintf(v, sizeof(v), "%d:%08x", (int)up_pid, up_cookie);
	if (setenv(NOTIFY_UPGRADER_ENV, v, 1))
		log_warn("notify: cannot hand the upgrader on: %s", strerror(errno));
}
