/* session.c: one client's connection: message framing with SCM_RIGHTS fds, sending, and the session's life cycle. */
#include "server/session.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"

static void close_rx_fds(struct session *s)
{
	for (unsigned int i = 0; i < s->rx_nfds; i++) {
		if (s->rx_fds[i] >= 0)
			close(s->rx_fds[i]);
		s->rx_fds[i] = -1;
	}
	s->rx_nfds = 0;
	s->rx_fds_truncated = false;
}

static void rx_reset(struct session *s)
{
	close_rx_fds(s);
	s->rx_hdr_got = 0;
	s->rx_payload_got = 0;
}

int session_start(struct session *s, struct server_ctx *ctx, int fd)
{
	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->fd = fd;
	for (unsigned int i = 0; i < SESSION_MAX_RX_FDS; i++)
		s->rx_fds[i] = -1;
	ctx->backend->host = s;
	return dma_session_init(s);
}

void session_end(struct session *s)
{
	struct device_backend *b = s->ctx->backend;

	rx_reset(s);
	dma_session_fini(s);
	b->ops->client_gone(b);
	b->host = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/*
 * One recvmsg into buf, keeping any fds that came with it. Returns bytes read, 0 at end of stream,
 * -EAGAIN when nothing is there, or another negative errno. want_fds false: fds are a protocol violation.
 */
static ssize_t recv_some(struct session *s, void *buf, size_t len, bool want_fds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(SESSION_MAX_RX_FDS * sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	bool unexpected = false;
	ssize_t n;

	do {
		n = recvmsg(s->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;

	if (msg.msg_flags & MSG_CTRUNC)
		s->rx_fds_truncated = true;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t nfds;
		int fds[SESSION_MAX_RX_FDS];

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(c), nfds * sizeof(int));
		for (size_t i = 0; i < nfds; i++) {
			if (!want_fds) {
				unexpected = true;
				close(fds[i]);
			} else if (s->rx_nfds < SESSION_MAX_RX_FDS) {
				s->rx_fds[s->rx_nfds++] = fds[i];
			} else {
				s->rx_fds_truncated = true;
				close(fds[i]);
			}
		}
	}
	if (unexpected) {
		log_warn("client sent file descriptors in the middle of a message; disconnecting it");
		return -EPROTO;
	}
	return n;
}

int session_on_readable(struct session *s)
{
	struct server_ctx *ctx = s->ctx;
	ssize_t n;
	int ret;

	for (;;) {
		size_t need;

		if (s->rx_hdr_got < sizeof(s->rx_hdr)) {
			n = recv_some(s, (uint8_t *)&s->rx_hdr + s->rx_hdr_got, sizeof(s->rx_hdr) - s->rx_hdr_got,
				      true);
			if (n == -EAGAIN)
				return 0;
			if (n == 0)
				return -ECONNRESET;
			if (n < 0)
				return (int)n;
			s->rx_hdr_got += (size_t)n;
			if (s->rx_hdr_got < sizeof(s->rx_hdr))
				continue;
			if (s->rx_hdr.msg_size < sizeof(s->rx_hdr) || s->rx_hdr.msg_size > VFIO_USER_MAX_MSG_SIZE) {
				log_warn("client sent a message size of %u (valid: 16 to %zu); disconnecting it",
					 s->rx_hdr.msg_size, (size_t)VFIO_USER_MAX_MSG_SIZE);
				return -EMSGSIZE;
			}
		}
		need = s->rx_hdr.msg_size - sizeof(s->rx_hdr);
		while (s->rx_payload_got < need) {
			n = recv_some(s, ctx->rx_buf + s->rx_payload_got, need - s->rx_payload_got, false);
			if (n == -EAGAIN)
				return 0;
			if (n == 0)
				return -ECONNRESET;
			if (n < 0)
				return (int)n;
			s->rx_payload_got += (size_t)n;
		}
		ret = dispatch_message(s, &s->rx_hdr, ctx->rx_buf, need, s->rx_fds, s->rx_nfds, s->rx_fds_truncated);
		rx_reset(s);
		if (ret < 0)
			return ret;
		if (s->drop)
			return -EPROTO;
	}
}

static int wait_writable(struct session *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLOUT };
	int n;

	do {
		n = poll(&p, 1, s->ctx->send_timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0) {
		log_warn("client has not read its replies for %d ms; disconnecting it", s->ctx->send_timeout_ms);
		return -ETIMEDOUT;
	}
	if (p.revents & (POLLERR | POLLHUP))
		return -EPIPE;
	return 0;
}

int session_send(struct session *s, const struct vfio_user_header *hdr, const void *p1, size_t l1, const void *p2,
		 size_t l2, int fd)
{
	struct iovec parts[2] = {
		{ .iov_base = (void *)p1, .iov_len = l1 },
		{ .iov_base = (void *)p2, .iov_len = l2 },
	};

	return session_sendv(s, hdr, parts, 2, fd);
}

int session_sendv(struct session *s, const struct vfio_user_header *hdr, const struct iovec *parts,
		  unsigned int nparts, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov[SESSION_MAX_SEND_PARTS + 1];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 1 };
	size_t left = sizeof(*hdr);
	int ret;

	if (s->fd < 0)
		return -EPIPE;
	if (nparts > SESSION_MAX_SEND_PARTS)
		return -EINVAL;
	iov[0].iov_base = (void *)hdr;
	iov[0].iov_len = sizeof(*hdr);
	for (unsigned int i = 0; i < nparts; i++) {
		iov[i + 1] = parts[i];
		left += parts[i].iov_len;
	}
	msg.msg_iovlen = nparts + 1;
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (left) {
		ssize_t n = sendmsg(s->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				ret = wait_writable(s);
				if (ret)
					return ret;
				continue;
			}
			return -errno;
		}
		left -= (size_t)n;
		/* A short send: the fd went with the first byte; carry on with the rest. */
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
		while (n > 0 && msg.msg_iovlen) {
			if ((size_t)n >= msg.msg_iov->iov_len) {
				n -= (ssize_t)msg.msg_iov->iov_len;
				msg.msg_iov++;
				msg.msg_iovlen--;
			} else {
				msg.msg_iov->iov_base = (uint8_t *)msg.msg_iov->iov_base + n;
				msg.msg_iov->iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	return 0;
}
