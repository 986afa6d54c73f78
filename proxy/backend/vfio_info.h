/* vfio_info.h: VFIO's "info" ioctls whose answer may need more room than asked (a capability chain). */
#ifndef BACKEND_VFIO_INFO_H
#define BACKEND_VFIO_INFO_H

#include <stddef.h>

/*
 * Issues request on fd with a buffer that starts as the hdr_len bytes of hdr (a struct that begins with
 * its u32 argsz, set here), growing it to the argsz the kernel asks for, up to max bytes. On success
 * *out (the caller frees it) holds the answer and *out_len the buffer's size; else a negative errno.
 */
int vfio_info_ioctl(int fd, unsigned long request, const void *hdr, size_t hdr_len, size_t max, void **out,
		    size_t *out_len);

#endif /* BACKEND_VFIO_INFO_H */
