/* session.c: one client's connection: message framing with SCM_RIGHTS fds, sending, and the session's life cycle. */
#include "server/session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/scm.h"

/*
 * The client's socket calls go to the kernel through syscall(): glibc's recvmsg and sendmsg are
 * cancellation points, which in a process with a second thread (the waker's) cost each call two atomic
 * operations more. The serving loop is never cancelled.
 */
static ssize_t sock_recvmsg(int fd, struct msghdr *msg, int flags)
{
	return syscall(SYS_recvmsg, fd, msg, flags);
}

static ssize_t sock_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return syscall(SYS_sendmsg, fd, msg, flags);
}

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
	s->rx_start = 0;
	s->rx_end = 0;
	s->rx_fds_msg = SIZE_MAX;
}

/* Blocking reads (ctx->blocking): the socket blocks. Else every read waits for nothing (epoll says when to
 * read). Sends never wait in the kernel either way (MSG_DONTWAIT). */
static int set_read_mode(int fd, bool blocking)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = blocking ? fl & ~O_NONBLOCK : fl | O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) ? -errno : 0;
}

int session_start(struct session *s, struct server_ctx *ctx, int fd)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->fd = fd;
	s->rx_fds_msg = SIZE_MAX;
	for (unsigned int i = 0; i < SESSION_MAX_RX_FDS; i++)
		s->rx_fds[i] = -1;
	ctx->backend->host = s;
	s->peek = ctx->peek;
	ret = set_read_mode(fd, ctx->blocking);
	if (ret)
		return ret;
	if (s->peek) {
		int zero = 0;

		/* peeks go on from the head: what an earlier process peeked and did not handle is read again */
		if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)))
			return -errno;
	}
	return dma_session_init(s);
}


int session_end(struct session *s)
{
	struct device_backend *b = s->ctx->backend;
	int ret;

	rx_reset(s);
	/* The device stops before its windows go: DMA in flight must not fault on a window just unmapped. */
	dma_fail_pending(s);
	b->ops->quiesce(b);
	dma_session_fini(s);
	ret = b->ops->client_gone(b);
	b->host = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	return ret;
}

/*
 * One recvmsg into buf with flags, keeping any fds that came with it in s->rx_fds (peek: closing them).
 * Without MSG_DONTWAIT it waits (blocking reads), until the waker interrupts it (-EINTR). Returns bytes read, 0 at end of stream, -EAGAIN when nothing is there, or
 * another negative errno; *got_fds tells whether fds came.
 */
static ssize_t recv_into(struct session *s, void *buf, size_t len, int flags, bool *got_fds)
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
	bool peek = flags & MSG_PEEK;
	ssize_t n;

	if (flags & MSG_DONTWAIT) {
		do {
			n = sock_recvmsg(s->fd, &msg, MSG_CMSG_CLOEXEC | flags);
		} while (n < 0 && errno == EINTR);
	} else {
		/* the waker's signal ends the wait (EINTR): back to the caller, which looks why */
		if (!waker_enter(&s->ctx->waker))
			return -EINTR;
		n = sock_recvmsg(s->fd, &msg, MSG_CMSG_CLOEXEC | flags);
		waker_leave(&s->ctx->waker);
	}
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;

	if (msg.msg_flags & MSG_CTRUNC) {
		if (!peek)
			s->rx_fds_truncated = true;
		*got_fds = true;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t nfds;
		int fds[SESSION_MAX_RX_FDS];

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(c), nfds * sizeof(int));
		for (size_t i = 0; i < nfds; i++) {
			*got_fds = true;
			if (!peek && s->rx_nfds < SESSION_MAX_RX_FDS) {
				s->rx_fds[s->rx_nfds++] = fds[i];
			} else {
				if (!peek)
					s->rx_fds_truncated = true;
				close(fds[i]); /* a peek's are copies: the real ones come with the consuming read */
			}
		}
	}
	return n;
}

/*
 * One read of what the socket has into buf (fds into s->rx_fds, *got_fds saying whether any came).
 * Peek mode (the fd store): the bytes stay in the socket until their message is handled
 * (session_consume), so that a restart after a kill reads them again; but fds are taken only by a
 * consuming read (a peek hands out copies, again at every peek into the same sendmsg's bytes), so a
 * read that brings fds consumes what was peeked up to its end at once. Returns as recv_into.
 */
static ssize_t recv_some(struct session *s, void *buf, size_t len, bool *got_fds)
{
	int wait = s->ctx->blocking ? 0 : MSG_DONTWAIT;
	bool fds_seen = false;
	ssize_t n;

	*got_fds = false;
	if (!s->peek)
		return recv_into(s, buf, len, wait, got_fds);
	n = recv_into(s, buf, len, MSG_PEEK | wait, &fds_seen);
	if (n <= 0)
		return n;
	s->peeked += (uint64_t)n;
	while (fds_seen && s->consumed < s->peeked) {
		uint8_t scratch[4096];
		uint64_t todo = s->peeked - s->consumed;
		ssize_t m = recv_into(s, scratch, todo < sizeof(scratch) ? (size_t)todo : sizeof(scratch), MSG_DONTWAIT,
				      got_fds);

		if (m <= 0)
			return m < 0 ? m : -ECONNRESET;
		s->consumed += (uint64_t)m;
	}
	return n;
}

/* The socket's bytes up to stream position pos leave it (bytes of handled messages, or of one about to be;
 * their fds were taken when they were first read). */
static int consume_to(struct session *s, uint64_t pos)
{
	int ret = s->consumed < pos ? scm_discard(s->fd, pos - s->consumed) : 0;

	if (!ret && s->consumed < pos)
		s->consumed = pos;
	return ret;
}

int session_consume(struct session *s, size_t size)
{
	s->handled += size;
	return consume_to(s, s->handled);
}

/* The size of the message starting at off if its header is in the buffer, else 0. */
static size_t msg_size_at(const struct session *s, size_t off)
{
	struct vfio_user_header h;

	if (s->rx_end - off < sizeof(h))
		return 0;
	memcpy(&h, s->ctx->rx_buf + off, sizeof(h));
	return h.msg_size;
}

/*
 * fds came with the bytes [from, s->rx_end). The kernel hands fds over with the first byte of the sendmsg
 * that carried them, but glues earlier data of other sendmsgs in front of it in one read, so a read with
 * several message starts does not say which one they came with. read_room() keeps every start but the
 * last in a read to messages shorter than the smallest one that may carry fds: the fds are the last
 * start's. A read in which no message starts brought fds in the middle of a message.
 */
static int claim_fds(struct session *s, size_t from)
{
	size_t off = s->rx_start, owner = SIZE_MAX;

	while (off < s->rx_end) {
		size_t size = msg_size_at(s, off);

		if (off >= from)
			owner = off;
		if (size < sizeof(struct vfio_user_header))
			break; /* header incomplete, or invalid (refused when it is dispatched) */
		off += size;
	}
	if (owner == SIZE_MAX) {
		log_warn("client sent file descriptors in the middle of a message; disconnecting it");
		return -EPROTO;
	}
	s->rx_fds_msg = owner;
	return 0;
}

/* Dispatches every whole message in the buffer. 0 when what is left is an incomplete message (or nothing). */
static int dispatch_buffered(struct session *s)
{
	uint8_t *buf = s->ctx->rx_buf;

	while (s->rx_start < s->rx_end) {
		size_t off = s->rx_start, size = msg_size_at(s, off), len;
		bool fds_here = s->rx_fds_msg == off;
		int ret;

		if (!size && s->rx_end - off < sizeof(s->rx_hdr))
			return 0;
		if (size < sizeof(s->rx_hdr) || size > VFIO_USER_MAX_MSG_SIZE) {
			log_warn("client sent a message size of %zu (valid: 16 to %zu); disconnecting it", size,
				 (size_t)VFIO_USER_MAX_MSG_SIZE);
			return -EMSGSIZE;
		}
		if (s->rx_end - off < size)
			return 0;
		memcpy(&s->rx_hdr, buf + off, sizeof(s->rx_hdr));
		len = size - sizeof(s->rx_hdr);
		/*
		 * Peek mode: a message that brought fds leaves the socket whole before it is handled (its
		 * start went with the fds' consuming read): a restart finds either all of it or none.
		 */
		if (s->peek && fds_here && (ret = consume_to(s, s->handled + size)) < 0)
			return ret;
		s->rx_start = off + size;
		ret = dispatch_message(s, &s->rx_hdr, buf + off + sizeof(s->rx_hdr), len,
				       fds_here ? s->rx_fds : NULL, fds_here ? s->rx_nfds : 0,
				       fds_here && s->rx_fds_truncated);
		if (fds_here) {
			close_rx_fds(s);
			s->rx_fds_msg = SIZE_MAX;
		}
		if (ret < 0)
			return ret;
		if (s->drop)
			return -EPROTO;
	}
	return 0;
}

/*
 * How much the next read may take at s->rx_end. A message that starts in a read and is followed by
 * another start there ended inside the read; if the read reaches at most ctx->read_span bytes past the
 * earliest end of what came before it, every such message is shorter than any message that may carry
 * fds, and claim_fds() knows whose fds came. So: at a message boundary, read_span bytes (a 4-byte
 * REGION_READ or REGION_WRITE whole in one recvmsg); within a message, its rest and read_span more. While
 * fds wait for a message still incomplete, only the rest of that message: the next one's fds must not
 * arrive before these are handed over.
 */
static size_t read_room(struct session *s)
{
	const size_t hdr = sizeof(struct vfio_user_header);
	size_t have = s->rx_end - s->rx_start, size = msg_size_at(s, s->rx_start), want;

	if (have == 0) {
		want = s->ctx->read_span;
	} else {
		size_t end = size < hdr ? hdr : size; /* the earliest this message can end */

		want = end > have ? end - have : 0;
		if (s->rx_fds_msg == SIZE_MAX)
			want += s->ctx->read_span;
	}
	if (want > SESSION_RX_SIZE - s->rx_end)
		want = SESSION_RX_SIZE - s->rx_end;
	return want;
}

/* Moves the incomplete message at rx_start to the front, so that it and the read-ahead fit. */
static void compact(struct session *s)
{
	size_t have = s->rx_end - s->rx_start;

	if (s->rx_start == 0)
		return;
	if (have)
		memmove(s->ctx->rx_buf, s->ctx->rx_buf + s->rx_start, have);
	if (s->rx_fds_msg != SIZE_MAX)
		s->rx_fds_msg -= s->rx_start;
	s->rx_start = 0;
	s->rx_end = have;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * Whether the read loop goes back to the event loop before its next read. Blocking reads (ctx->blocking):
 * when the waker says events wait, and after every read while the server wants a message boundary soon
 * (ctx->yield: a hand-over waiting for our DMA). Otherwise a read shorter than asked means the socket was
 * empty: back to epoll, which (level-triggered) reports anything that came since, unless the server
 * busy-polls (ctx->poll_us); and after SESSION_MAX_READS reads anyway, so that a client that never stops
 * sending cannot keep the event loop from a signal.
 */
static bool leave_now(struct session *s, unsigned int reads, bool drained, bool exact)
{
	if (s->ctx->blocking)
		return waker_pending(&s->ctx->waker) || (reads && s->ctx->yield);
	if ((drained && !s->ctx->poll_us) || reads == SESSION_MAX_READS)
		return true;
	/*
	 * A read that took exactly what it asked and ended on a message's end (a 36-byte REGION_WRITE fills
	 * read_span) does not say whether more waits. A client that waits for each reply (the usual VMM) has
	 * sent nothing more: the next read would only find the socket empty, so go back to epoll, which
	 * knows. Learned from the last such read, and tried again every SESSION_EXACT_PROBE wake-ups so that
	 * a client that streams is noticed.
	 */
	return exact && !s->ctx->poll_us && s->rx_start == s->rx_end && s->exact_waits &&
	       ++s->exact_skips % SESSION_EXACT_PROBE;
}

/*
 * Reads what the socket has, one recvmsg per message of up to read_span bytes (and about one per message
 * while messages keep coming), and dispatches each whole message, until leave_now(). With blocking reads
 * the wait for the next message is the read itself.
 */
int session_on_readable(struct session *s)
{
	uint64_t poll_until = 0;
	bool drained = false, exact = false;

	for (unsigned int reads = 0;; reads++) {
		size_t room, from;
		bool got_fds;
		ssize_t n;
		int ret;

		ret = dispatch_buffered(s);
		if (ret < 0)
			return ret;
		if (leave_now(s, reads, drained, exact))
			return 0;
		compact(s);
		room = read_room(s);
		from = s->rx_end;
		n = recv_some(s, s->ctx->rx_buf + from, room, &got_fds);
		if (exact)
			s->exact_waits = n == -EAGAIN; /* what followed an exact read: nothing (a waiting client) */
		if (s->ctx->blocking && (n == -EINTR || n == -EAGAIN)) {
			reads--; /* no read: the waker, or another signal */
			continue;
		}
		if (n == -EAGAIN) {
			/*
			 * Busy-poll: keep reading for poll_us before sleeping in epoll again, so that a client on
			 * another CPU finds us awake. Yield meanwhile: a client on this CPU must get to run.
			 */
			if (!s->ctx->poll_us)
				return 0;
			if (!poll_until)
				poll_until = now_us() + (uint64_t)s->ctx->poll_us;
			else if (now_us() >= poll_until)
				return 0;
			sched_yield();
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (n < 0)
			return (int)n;
		poll_until = 0;
		s->rx_end += (size_t)n;
		if (got_fds) {
			if (s->rx_fds_msg != SIZE_MAX) {
				/* this read took only the rest of the message whose fds wait: these came in its middle */
				log_warn("client sent file descriptors in the middle of a message; disconnecting it");
				return -EPROTO;
			}
			ret = claim_fds(s, from);
			if (ret)
				return ret;
		}
		drained = (size_t)n < room;
		exact = !drained;
	}
}

/* Waits until the socket takes more, the deadline passes (-ETIMEDOUT) or the proxy must stop (-EINTR). */
static int wait_writable(struct session *s, uint64_t deadline_us)
{
	struct pollfd p[2] = {
		{ .fd = s->fd, .events = POLLOUT },
		{ .fd = s->ctx->stop_fd, .events = POLLIN },
	};
	int n;

	do {
		uint64_t now = now_us();
		int ms = now >= deadline_us ? 0 : (int)((deadline_us - now + 999) / 1000);

		n = poll(p, 2, ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (p[1].revents & POLLIN)
		return -EINTR;
	if (n == 0) {
		log_warn("client has not read our message within %d ms; disconnecting it", s->ctx->send_timeout_ms);
		return -ETIMEDOUT;
	}
	if (p[0].revents & (POLLERR | POLLHUP))
		return -EPIPE;
	return 0;
}

/* Sends what msg's iovecs hold with one sendmsg, the fd (if any) with the first byte; waits for room up to the timeout. */
static int send_all(struct session *s, struct msghdr *msg, size_t left, int fd)
{
	union scm_one_fd control;
	uint64_t deadline = 0;
	int ret;

	if (s->fd < 0)
		return -EPIPE;
	if (fd >= 0)
		scm_put_fd(msg, &control, fd);
	while (left) {
		ssize_t n = sock_sendmsg(s->fd, msg, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* one deadline for the whole message, however little each wait lets through */
				if (!deadline)
					deadline = now_us() + (uint64_t)s->ctx->send_timeout_ms * 1000u;
				ret = wait_writable(s, deadline);
				if (ret)
					return ret;
				continue;
			}
			return -errno;
		}
		left -= (size_t)n;
		/* A short send: the fd went with the first byte; carry on with the rest. */
		msg->msg_control = NULL;
		msg->msg_controllen = 0;
		while (n > 0 && msg->msg_iovlen) {
			if ((size_t)n >= msg->msg_iov->iov_len) {
				n -= (ssize_t)msg->msg_iov->iov_len;
				msg->msg_iov++;
				msg->msg_iovlen--;
			} else {
				msg->msg_iov->iov_base = (uint8_t *)msg->msg_iov->iov_base + n;
				msg->msg_iov->iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	return 0;
}

/* session_send_msg's other way: an fd to pass, or what one sendto left (from done on). */
static int __attribute__((noinline)) send_msg_rest(struct session *s, const struct vfio_user_header *msg, size_t done,
						 int fd)
{
	struct iovec iov = { .iov_base = (uint8_t *)msg + done, .iov_len = msg->msg_size - done };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	return send_all(s, &m, iov.iov_len, fd);
}

int session_send_msg(struct session *s, const struct vfio_user_header *msg, int fd)
{
	ssize_t n;

	if (fd >= 0 || s->fd < 0)
		return send_msg_rest(s, msg, 0, fd);
	/* the usual reply, whole at once: sendto takes one buffer without a msghdr or iovec to copy in */
	n = syscall(SYS_sendto, s->fd, msg, (size_t)msg->msg_size, MSG_NOSIGNAL | MSG_DONTWAIT, NULL, 0);
	if (n == (ssize_t)msg->msg_size)
		return 0;
	return send_msg_rest(s, msg, n > 0 ? (size_t)n : 0, fd);
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
	struct iovec iov[SESSION_MAX_SEND_PARTS + 1];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 1 };
	size_t left = sizeof(*hdr);

	if (nparts > SESSION_MAX_SEND_PARTS)
		return -EINVAL;
	iov[0].iov_base = (void *)hdr;
	iov[0].iov_len = sizeof(*hdr);
	for (unsigned int i = 0; i < nparts; i++) {
		if (!parts[i].iov_len)
			continue; /* each iovec costs the kernel a copy-in and a step */
		iov[msg.msg_iovlen++] = parts[i];
		left += parts[i].iov_len;
	}
	return send_all(s, &msg, left, fd);
}
