/* guarded_copy.h: memcpy into or out of client-supplied mappings that turns SIGBUS (a shrunk file) into -EFAULT. */
#ifndef UTIL_GUARDED_COPY_H
#define UTIL_GUARDED_COPY_H

#include <stddef.h>

/* Installs the SIGBUS handler; call once before serving clients. 0 or negative errno. */
int guarded_copy_init(void);
/* memcpy(dst, src, n); -EFAULT if the mapping behind either side faulted (nothing else is touched). */
int guarded_copy(void *dst, const void *src, size_t n);

#endif /* UTIL_GUARDED_COPY_H */
