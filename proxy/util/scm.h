/* scm.h: attaching one fd to a message as SCM_RIGHTS, for the proxy's senders (replies, the privileged helper). */
#ifndef UTIL_SCM_H
#define UTIL_SCM_H

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

#endif /* UTIL_SCM_H */
