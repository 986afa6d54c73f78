/* vfio_info.c: VFIO's info ioctls, asked again with a larger buffer until the capability chain fits. */
#include "backend/vfio_info.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define INFO_TRIES 4

int vfio_info_ioctl(int fd, unsigned long request, const void *hdr, size_t hdr_len, size_t max, void **out,
		    size_t *out_len)
{
	size_t len = hdr_len;
	uint8_t *info = NULL;

	for (int tries = 0;; tries++) {
		uint8_t *p = realloc(info, len);
		uint32_t argsz = (uint32_t)len;

		if (!p) {
			free(info);
			return -ENOMEM;
		}
		info = p;
		memset(info, 0, len);
		memcpy(info, hdr, hdr_len);
		memcpy(info, &argsz, sizeof(argsz));
		if (ioctl(fd, request, info)) {
			int ret = -errno;

			free(info);
			return ret;
		}
		memcpy(&argsz, info, sizeof(argsz));
		if (argsz <= len || argsz > max || tries == INFO_TRIES)
			break;
		len = argsz;
	}
	*out = info;
	*out_len = len;
	return 0;
}
