/* vfio_info.h: VFIO's queries whose answer may need more room than asked (a capability chain, a device list, IOVA ranges). */
#ifndef BACKEND_VFIO_INFO_H
#define BACKEND_VFIO_INFO_H

#include <stddef.h>
#include <sys/types.h>

/*
 * One try of a query into buf (len bytes, zeroed): 0 when the answer fit, the size it needs (> len) to be
 * asked again, or a negative errno.
 */
typedef ssize_t (*vfio_query_fn)(void *ctx, void *buf, size_t len);

/*
 * Asks with start bytes, then with the size the kernel says it needs, up to max bytes and a few tries.
 * 0 with *out (the caller frees it) holding the answer and *out_len its buffer's size; -E2BIG when it
 * would need more than max (or kept asking for more), *out then holding the last, incomplete answer
 * (the caller frees it too); another negative errno with nothing allocated.
 */
int vfio_query_grow(vfio_query_fn ask, void *ctx, size_t start, size_t max, void **out, size_t *out_len);

/*
 * An info ioctl on fd whose request struct (hdr, hdr_len bytes) begins with its u32 argsz: grown to the
 * argsz the kernel asks for, up to max bytes; past that the answer as it came (its chain incomplete).
 * *out (the caller frees it) and *out_len as for vfio_query_grow; a negative errno on failure.
 */
int vfio_info_ioctl(int fd, unsigned long request, const void *hdr, size_t hdr_len, size_t max, void **out,
		    size_t *out_len);

#endif /* BACKEND_VFIO_INFO_H */
