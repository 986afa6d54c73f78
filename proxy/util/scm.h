/* scm.h: attaching one fd to a message as SCM_RIGHTS, for the proxy's senders (replies, the privileged helper, the fd store); and taking bytes out of a stream socket with any fds on them dropped. */
#ifndef UTIL_SCM_H
#define UTIL_SCM_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* Room for one fd's control message, aligned as the kernel wants it. */
union scm_one_fd {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int))];
};

/* Points msg's control data at ctl, holding fd. */
static inline void scm_put_fd(struct msghdr *msg, union scm_one_fd *ctl, int fd)
{
	struct cmsghdr *c;

	memset(ctl, 0, sizeof(*ctl));
	msg->msg_control = ctl->buf;
	msg->msg_controllen = sizeof(ctl->buf);
	c = CMSG_FIRSTHDR(msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
}

/*
 * Reads n bytes of fd's stream and throws them away, never waiting (they are known to be there): no
 * control buffer, so fds sent with them are closed by the kernel. 0, or -errno (-ECONNRESET at the end).
 */
static inline int scm_discard(int fd, uint64_t n)
{
	uint8_t scratch[4096];

	while (n) {
		struct iovec iov = { .iov_base = scratch, .iov_len = n < sizeof(scratch) ? (size_t)n : sizeof(scratch) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t got = recvmsg(fd, &msg, MSG_DONTWAIT);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got < 0 ? -errno : -ECONNRESET;
		n -= (uint64_t)got;
	}
	return 0;
}

#endif /* UTIL_SCM_H */
