/* fd.h: closing an fd held in a slot, leaving -1 behind. */
#ifndef UTIL_FD_H
#define UTIL_FD_H

#include <unistd.h>

static inline void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

#endif /* UTIL_FD_H */
