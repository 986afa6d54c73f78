/* vfio_info.c: VFIO's growing queries: asked again with a larger buffer until the answer fits. */
#include "backend/vfio_info.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define QUERY_TRIES 4

int vfio_query_grow(vfio_query_fn ask, void *ctx, size_t start, size_t max, void **out, size_t *out_len)
{
	size_t len = start;
	uint8_t *buf = NULL;

	for (int tries = 0;; tries++) {
		uint8_t *p = realloc(buf, len);
		ssize_t need;

		if (!p) {
			free(buf);
			return -ENOMEM;
		}
		buf = p;
		memset(buf, 0, len);
		need = ask(ctx, buf, len);
		if (need < 0) {
			free(buf);
			return (int)need;
		}
		*out = buf;
		*out_len = len;
		if (need == 0)
			return 0;
		if ((size_t)need <= len || (size_t)need > max || tries == QUERY_TRIES)
			return -E2BIG;
		len = (size_t)need;
	}
}

struct info_query {
	int fd;
	unsigned long request;
	const void *hdr;
	size_t hdr_len;
};

static ssize_t ask_info(void *ctx, void *buf, size_t len)
{
	const struct info_query *q = ctx;
	uint32_t argsz = (uint32_t)len;

	memcpy(buf, q->hdr, q->hdr_len);
	memcpy(buf, &argsz, sizeof(argsz));
	if (ioctl(q->fd, q->request, buf))
		return -errno;
	memcpy(&argsz, buf, sizeof(argsz));
	return argsz > len ? (ssize_t)argsz : 0;
}

int vfio_info_ioctl(int fd, unsigned long request, const void *hdr, size_t hdr_len, size_t max, void **out,
		    size_t *out_len)
{
	struct info_query q = { .fd = fd, .request = request, .hdr = hdr, .hdr_len = hdr_len };
	int ret = vfio_query_grow(ask_info, &q, hdr_len, max, out, out_len);

	/* a chain that never fits: the answer as it came, which says so (no cap_offset) */
	return ret == -E2BIG ? 0 : ret;
}
