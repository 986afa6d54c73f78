/* client.c: the client's connection, message framing (send, receive, fds), request/reply matching and raw access. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client/client_priv.h"

#define VUC_MAX_IOV 8
#define VUC_SCM_MAX_FD 253 /* the kernel's SCM_MAX_FD */
#define VUC_BLOCK_SLACK_MS 10 /* how far a blocking wait may overshoot a deadline */

int64_t vuc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A deadline for timeout_ms from now; -1 (no deadline) for a negative timeout. */
int64_t vuc_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : vuc_now_ms() + timeout_ms;
}

static int remaining_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - vuc_now_ms();
	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* Waits until the socket is ready for events or deadline passes: 0, -ETIMEDOUT or a negative errno. */
static int wait_fd(struct vuc *c, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = events };
		int r = poll(&p, 1, remaining_ms(deadline));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ETIMEDOUT;
		if (p.revents & POLLNVAL)
			return -EBADF;
		return 0; /* POLLHUP and POLLERR are reported by the read or write that follows */
	}
}

void vuc_msg_close_fds(struct vuc_msg *m)
{
	for (size_t i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	m->nfds = 0;
}

void vuc_update_rx_limit(struct vuc *c)
{
	uint64_t data = c->caps.max_data_xfer_size;

	if (data > VFIO_USER_LIMIT_MAX_DATA_XFER)
		data = VFIO_USER_LIMIT_MAX_DATA_XFER;
	if (data < VUC_MAX_DATA_XFER)
		data = VUC_MAX_DATA_XFER;
	c->rx_limit = sizeof(struct vfio_user_header) + sizeof(struct vfio_user_region_access) + data;
}

static void default_caps(struct vuc_server_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->max_msg_fds = VFIO_USER_DEF_MAX_MSG_FDS;
	caps->max_data_xfer_size = VFIO_USER_DEF_MAX_DATA_XFER;
	caps->max_dma_maps = VFIO_USER_DEF_MAX_DMA_MAPS;
	caps->pgsizes = VFIO_USER_DEF_PGSIZES;
}

/*
 * The socket's receive timeout is the client's reply timeout, so that waiting for a reply is one blocking
 * recvmsg rather than a failed non-blocking one, a poll and the recvmsg again.
 */
static void apply_rcvtimeo(struct vuc *c)
{
	struct timeval tv = { 0 };

	if (c->timeout_ms > 0) {
		tv.tv_sec = c->timeout_ms / 1000;
		tv.tv_usec = (c->timeout_ms % 1000) * 1000;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Takes over fd; on failure the caller still owns it. */
int vuc_from_fd(int fd, struct vuc **out)
{
	struct vuc *c;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (fd < 0)
		return -EBADF;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = fd;
	c->timeout_ms = VUC_DEFAULT_TIMEOUT_MS;
	apply_rcvtimeo(c);
	default_caps(&c->caps);
	vuc_update_rx_limit(c);
	*out = c;
	return 0;
}

int vuc_connect(const char *path, struct vuc **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!path || !*path)
		return -EINVAL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = vuc_from_fd(fd, out);
	if (r < 0)
		close(fd);
	return r;
}

void vuc_close(struct vuc *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->rxbuf);
	free(c->windows);
	free(c);
}

int vuc_socket_fd(const struct vuc *c)
{
	return c ? c->fd : -1;
}

void vuc_set_timeout(struct vuc *c, int timeout_ms)
{
	if (!c)
		return;
	c->timeout_ms = timeout_ms;
	apply_rcvtimeo(c);
}

const struct vuc_server_caps *vuc_caps(const struct vuc *c)
{
	return c ? &c->caps : NULL;
}

uint64_t vuc_dma_requests_served(const struct vuc *c)
{
	return c ? c->dma_served : 0;
}

/*
 * Sends the iovecs (total bytes) with fds attached to the first byte: one sendmsg unless the socket
 * takes only part of a large message, in which case the rest follows without fds.
 */
static int send_iov(struct vuc *c, struct iovec *v, int n, size_t total, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * VUC_SCM_MAX_FD)];
	} cbuf;
	int64_t deadline = vuc_deadline(c->timeout_ms);
	size_t sent = 0;
	bool first = true;
	int r;

	if (nfds > VUC_SCM_MAX_FD || (nfds && !fds))
		return -EINVAL;
	do {
		struct msghdr mh = { .msg_iov = v, .msg_iovlen = (size_t)n };
		ssize_t k;

		if (first && nfds) {
			struct cmsghdr *cm;

			memset(cbuf.buf, 0, sizeof(cbuf.buf));
			mh.msg_control = cbuf.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
		}
		k = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				r = wait_fd(c, POLLOUT, deadline);
				if (r == 0)
					continue;
			} else {
				r = -errno;
			}
			if (sent)
				c->broken = true; /* half a message went out */
			return r;
		}
		first = false;
		sent += (size_t)k;
		/* Skip what went out. */
		while (n > 0 && (size_t)k >= v->iov_len) {
			k -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (uint8_t *)v->iov_base + k;
			v->iov_len -= (size_t)k;
		}
	} while (sent < total);
	return 0;
}

int vuc_send_msg(struct vuc *c, uint16_t id, uint16_t cmd, uint32_t flags, uint32_t error_no,
		 const struct iovec *iov, int iovcnt, const int *fds, size_t nfds)
{
	struct vfio_user_header h = {
		.msg_id = id,
		.cmd = cmd,
		.flags = flags,
		.error_no = error_no,
	};
	struct iovec v[VUC_MAX_IOV];
	size_t total = sizeof(h);
	int n = 1;

	if (iovcnt < 0 || iovcnt >= VUC_MAX_IOV)
		return -EINVAL;
	v[0].iov_base = &h;
	v[0].iov_len = sizeof(h);
	for (int i = 0; i < iovcnt; i++) {
		if (!iov[i].iov_len)
			continue;
		if (iov[i].iov_len > UINT32_MAX - total)
			return -E2BIG;
		total += iov[i].iov_len;
		v[n++] = iov[i];
	}
	h.msg_size = (uint32_t)total;
	return send_iov(c, v, n, total, fds, nfds);
}

int vuc_send_raw(struct vuc *c, const void *buf, size_t len, const int *fds, size_t nfds)
{
	struct iovec v = { .iov_base = (void *)buf, .iov_len = len };

	if (!c || (len && !buf))
		return -EINVAL;
	return send_iov(c, &v, 1, len, fds, nfds);
}

/* Keeps the SCM_RIGHTS fds of one recvmsg in m; fds beyond our limit are closed and flagged. */
static void take_fds(struct vuc_msg *m, struct msghdr *mh, bool *trunc)
{
	struct cmsghdr *cm;

	if (mh->msg_flags & MSG_CTRUNC)
		*trunc = true;
	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;
		int fd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len < CMSG_LEN(0))
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (m->nfds < VUC_MAX_MSG_FDS) {
				m->fds[m->nfds++] = fd;
			} else {
				close(fd);
				*trunc = true;
			}
		}
	}
}

/*
 * Whether a blocking recvmsg may do the waiting: SO_RCVTIMEO is the client's timeout, so it may when the
 * deadline is (within VUC_BLOCK_SLACK_MS) that far away or further, as it is for a reply just asked for.
 * One system call then, rather than a failed non-blocking recvmsg, a poll and the recvmsg again.
 */
static bool may_block(const struct vuc *c, int64_t deadline)
{
	if (c->timeout_ms <= 0)
		return c->timeout_ms < 0 && deadline < 0; /* 0 would make SO_RCVTIMEO wait forever */
	return deadline < 0 || deadline - vuc_now_ms() >= c->timeout_ms - VUC_BLOCK_SLACK_MS;
}

/*
 * Reads exactly len bytes, collecting fds. The first byte is awaited until *deadline; once a message has
 * started (*started), the rest must follow within the client's timeout.
 */
static int recv_bytes(struct vuc *c, void *buf, size_t len, struct vuc_msg *m, bool *trunc, int64_t *deadline,
		      bool *started)
{
	size_t done = 0;

	while (done < len) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * VUC_MAX_MSG_FDS)];
		} cbuf;
		struct iovec iov = { .iov_base = (uint8_t *)buf + done, .iov_len = len - done };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf.buf,
			.msg_controllen = sizeof(cbuf.buf),
		};
		bool block = may_block(c, *deadline);
		ssize_t n = recvmsg(c->fd, &mh, (block ? 0 : MSG_DONTWAIT) | MSG_CMSG_CLOEXEC);

		if (n < 0) {
			int r;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			if (block) {
				/* SO_RCVTIMEO ran out (or the socket is non-blocking: wait as below) */
				if (*deadline >= 0 && vuc_now_ms() >= *deadline)
					return -ETIMEDOUT;
			}
			r = wait_fd(c, POLLIN, *deadline);
			if (r < 0)
				return r;
			continue;
		}
		take_fds(m, &mh, trunc);
		if (n == 0)
			return -ECONNRESET;
		if (!*started) {
			*started = true;
			*deadline = vuc_deadline(c->timeout_ms);
		}
		done += (size_t)n;
	}
	return 0;
}

static int grow_rxbuf(struct vuc *c, size_t len)
{
	uint8_t *p;

	if (len <= c->rxbuf_cap && c->rxbuf)
		return 0;
	p = realloc(c->rxbuf, len ? len : 1);
	if (!p)
		return -ENOMEM;
	c->rxbuf = p;
	c->rxbuf_cap = len ? len : 1;
	return 0;
}

/* Receives one whole message, waiting for its start until deadline. Any failure closes m's fds. */
static int recv_msg(struct vuc *c, int64_t deadline, struct vuc_msg *m)
{
	bool trunc = false, started = false;
	size_t len;
	int r;

	memset(&m->hdr, 0, sizeof(m->hdr));
	m->payload = NULL;
	m->len = 0;
	m->nfds = 0;

	r = recv_bytes(c, &m->hdr, sizeof(m->hdr), m, &trunc, &deadline, &started);
	if (r < 0)
		goto fail;
	if (m->hdr.msg_size < sizeof(m->hdr) || m->hdr.msg_size > c->rx_limit) {
		r = -EPROTO; /* the rest of the stream cannot be framed */
		c->broken = true;
		goto fail_closed;
	}
	len = m->hdr.msg_size - sizeof(m->hdr);
	r = grow_rxbuf(c, len);
	if (r < 0) {
		c->broken = true;
		goto fail_closed;
	}
	r = recv_bytes(c, c->rxbuf, len, m, &trunc, &deadline, &started);
	if (r < 0)
		goto fail;
	m->payload = c->rxbuf;
	m->len = len;
	if (trunc) {
		/* More fds than any message may carry: the message is dropped, the stream stays framed. */
		r = -EPROTO;
		goto fail_closed;
	}
	return 0;

fail:
	if (started)
		c->broken = true;
fail_closed:
	vuc_msg_close_fds(m);
	m->payload = NULL;
	m->len = 0;
	return r;
}

/* Remembers the msg_id of a request that timed out, so that its late reply can be dropped. */
static void add_stale(struct vuc *c, uint16_t id)
{
	if (c->nstale == VUC_STALE_IDS) {
		memmove(c->stale_ids, c->stale_ids + 1, (VUC_STALE_IDS - 1) * sizeof(c->stale_ids[0]));
		c->nstale--;
	}
	c->stale_ids[c->nstale++] = id;
}

static bool take_stale(struct vuc *c, uint16_t id)
{
	for (unsigned int i = 0; i < c->nstale; i++) {
		if (c->stale_ids[i] != id)
			continue;
		memmove(c->stale_ids + i, c->stale_ids + i + 1, (c->nstale - i - 1) * sizeof(c->stale_ids[0]));
		c->nstale--;
		return true;
	}
	return false;
}

static bool is_dma_request(const struct vuc_msg *m)
{
	return (m->hdr.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_COMMAND &&
	       (m->hdr.cmd == VFIO_USER_DMA_READ || m->hdr.cmd == VFIO_USER_DMA_WRITE);
}

/* A message that is not an awaited reply: serve a DMA request, drop a late reply, else -EPROTO. */
static int handle_unsolicited(struct vuc *c, struct vuc_msg *m)
{
	if (is_dma_request(m))
		return vuc_serve_dma(c, m);
	vuc_msg_close_fds(m);
	if ((m->hdr.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY && take_stale(c, m->hdr.msg_id))
		return 0;
	return -EPROTO;
}

int vuc_transact(struct vuc *c, uint16_t cmd, uint32_t flags, const struct iovec *iov, int iovcnt,
		 const int *fds, size_t nfds, struct vuc_msg *reply)
{
	int64_t deadline;
	uint16_t id;
	int r;

	if (c->broken)
		return -EPROTO;
	id = c->next_id++;
	r = vuc_send_msg(c, id, cmd, flags, 0, iov, iovcnt, fds, nfds);
	if (r < 0)
		return r;
	deadline = vuc_deadline(c->timeout_ms);
	for (;;) {
		r = recv_msg(c, deadline, reply);
		if (r == -ETIMEDOUT && !c->broken)
			add_stale(c, id);
		if (r < 0)
			return r;
		if ((reply->hdr.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY && reply->hdr.msg_id == id) {
			if (reply->hdr.cmd != cmd) {
				vuc_msg_close_fds(reply);
				return -EPROTO;
			}
			return 0;
		}
		r = handle_unsolicited(c, reply);
		if (r < 0)
			return r;
	}
}

/* error_no as a negative errno; 0 and values that are no errno become -EIO. */
static int reply_error(const struct vfio_user_header *h)
{
	return h->error_no && h->error_no < 4096 ? -(int)h->error_no : -EIO;
}

int vuc_call(struct vuc *c, uint16_t cmd, const struct iovec *iov, int iovcnt, const int *fds, size_t nfds,
	     struct vuc_msg *reply)
{
	int r = vuc_transact(c, cmd, 0, iov, iovcnt, fds, nfds, reply);

	if (r < 0)
		return r;
	if (reply->hdr.flags & VFIO_USER_F_ERROR) {
		vuc_msg_close_fds(reply);
		return reply_error(&reply->hdr);
	}
	return 0;
}

int vuc_request_raw(struct vuc *c, uint16_t cmd, uint32_t flags, const void *payload, size_t len,
		    const int *fds, size_t nfds, struct vfio_user_header *hdr, void *reply, size_t reply_cap,
		    size_t *reply_len, int *rfds, size_t *nrfds)
{
	struct iovec iov = { .iov_base = (void *)payload, .iov_len = len };
	struct vuc_msg m;
	int r;

	if (hdr)
		memset(hdr, 0, sizeof(*hdr));
	if (reply_len)
		*reply_len = 0;
	if (nrfds)
		*nrfds = 0;
	if (!c || (len && !payload) || (reply_cap && !reply))
		return -EINVAL;
	if (flags & VFIO_USER_F_NO_REPLY) {
		if (c->broken)
			return -EPROTO;
		return vuc_send_msg(c, c->next_id++, cmd, flags, 0, &iov, 1, fds, nfds);
	}
	r = vuc_transact(c, cmd, flags, &iov, 1, fds, nfds, &m);
	if (r < 0)
		return r;
	if (hdr)
		*hdr = m.hdr;
	if (reply_len)
		*reply_len = m.len;
	if (reply)
		memcpy(reply, m.payload, m.len < reply_cap ? m.len : reply_cap);
	if (rfds && nrfds) {
		memcpy(rfds, m.fds, m.nfds * sizeof(int));
		*nrfds = m.nfds;
		m.nfds = 0;
	} else {
		vuc_msg_close_fds(&m);
	}
	if (m.hdr.flags & VFIO_USER_F_ERROR)
		return reply_error(&m.hdr);
	return 0;
}

int vuc_poll(struct vuc *c, int timeout_ms)
{
	int64_t deadline = vuc_deadline(timeout_ms);
	struct vuc_msg m;
	int served = 0;
	int r;

	if (!c)
		return -EINVAL;
	if (c->broken)
		return -EPROTO;
	for (;;) {
		bool dma;

		r = recv_msg(c, deadline, &m);
		if (r == -ETIMEDOUT && !c->broken)
			return served;
		if (r < 0)
			return r;
		dma = is_dma_request(&m);
		r = handle_unsolicited(c, &m);
		if (r < 0)
			return r;
		if (dma && served < INT_MAX)
			served++;
	}
}

int vuc_wait_closed(struct vuc *c, int timeout_ms)
{
	int64_t deadline = vuc_deadline(timeout_ms);

	if (!c)
		return -EINVAL;
	for (;;) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * VUC_MAX_MSG_FDS)];
		} cbuf;
		uint8_t buf[4096];
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf.buf,
			.msg_controllen = sizeof(cbuf.buf),
		};
		struct vuc_msg m = { .nfds = 0 };
		bool trunc = false;
		ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0) {
			int r;

			if (errno == EINTR)
				continue;
			if (errno == ECONNRESET)
				return 0;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			r = wait_fd(c, POLLIN, deadline);
			if (r < 0)
				return r;
			continue;
		}
		take_fds(&m, &mh, &trunc);
		vuc_msg_close_fds(&m);
		if (n == 0)
			return 0;
		c->broken = true; /* whatever arrived was discarded */
	}
}
