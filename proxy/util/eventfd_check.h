/* eventfd_check.h: telling whether a file descriptor a client sent is an eventfd, with or without /proc. */
#ifndef UTIL_EVENTFD_CHECK_H
#define UTIL_EVENTFD_CHECK_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Whether fd is an eventfd, as the kernel's eventfd_ctx_fdget() would tell: its /proc/self/fd link names
 * it. Without /proc (a container that mounts none) the link cannot be read: then an fd on the anonymous
 * inode our own eventfds live on (dev, ino: fstat of one) is taken (that inode also backs signalfds, timerfds and epoll fds:
 * writing or reading one with the bounded I/O fails harmlessly), and *no_proc is set for the caller to say
 * so once.
 */
bool fd_is_eventfd(int fd, dev_t dev, ino_t ino, bool *no_proc);

#endif /* UTIL_EVENTFD_CHECK_H */
