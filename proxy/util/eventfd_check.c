/* eventfd_check.c: telling whether a file descriptor a client sent is an eventfd, with or without /proc. */
#include "util/eventfd_check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool fd_is_eventfd(int fd, dev_t dev, ino_t ino, bool *no_proc)
{
	char path[64], target[64];
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n >= 0) {
		target[n] = '\0';
		return strcmp(target, "anon_inode:[eventfd]") == 0;
	}
	if (errno != ENOENT || readlink("/proc/self", target, sizeof(target)) >= 0)
		return false; /* /proc is there: the fd is not one it can name (a closed fd, say) */
	*no_proc = true;
	return fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}
