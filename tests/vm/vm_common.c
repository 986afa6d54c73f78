/* vm_common.c: the helpers the guest bench's clients share (see vm_common.h). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "edu_model.h"
#include "vm_common.h"

unsigned int vm_failures;

bool vm_verdict(const char *label, const char *name, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("PASS %s.%s\n", label, name);
		return true;
	}
	printf("FAIL %s.%s: ", label, name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	vm_failures++;
	return false;
}

uint64_t vm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

long vm_now_ms(void)
{
	return (long)(vm_now_ns() / 1000000u);
}

int vm_client(const char *sock, int timeout_ms, struct vuc **c)
{
	struct vuc_server_caps caps;
	int r = vuc_connect(sock, c);

	if (r < 0)
		return r;
	vuc_set_timeout(*c, timeout_ms);
	r = vuc_negotiate(*c, &caps);
	if (r < 0) {
		vuc_close(*c);
		*c = NULL;
	}
	return r;
}

int vm_set_eventfds(struct vuc *c, uint32_t index, uint32_t count, const int *fds)
{
	return vuc_set_irqs(c, index, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, count, fds, NULL);
}

int vm_irqs_off(struct vuc *c, uint32_t index)
{
	return vuc_set_irqs(c, index, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, NULL, NULL);
}

int vm_memfd(const char *name, uint64_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -e;
	}
	return fd;
}

int vm_set_command(struct vuc *c, uint16_t set, uint16_t clear)
{
	uint16_t cmd;
	int r = vuc_config_read(c, 4, &cmd, sizeof(cmd));

	if (r < 0)
		return r;
	cmd = (uint16_t)((cmd | set) & ~clear);
	return vuc_config_write(c, 4, &cmd, sizeof(cmd));
}

int vm_edu_dma(struct vuc *c, uint64_t src, uint64_t dst, uint64_t count, uint64_t cmd, int timeout_ms,
	       uint64_t *status)
{
	uint64_t deadline = vm_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int r;

	*status = 0;
	if ((r = vuc_write64(c, BAR0, EDU_REG_DMA_SRC, src)) < 0 || (r = vuc_write64(c, BAR0, EDU_REG_DMA_DST, dst)) < 0 ||
	    (r = vuc_write64(c, BAR0, EDU_REG_DMA_COUNT, count)) < 0 ||
	    (r = vuc_write64(c, BAR0, EDU_REG_DMA_CMD, cmd | EDU_DMA_CMD_RUN)) < 0)
		return r;
	for (;;) {
		if ((r = vuc_read64(c, BAR0, EDU_REG_DMA_CMD, status)) < 0)
			return r;
		if (!(*status & EDU_DMA_CMD_RUN))
			return 0;
		if (vm_now_ns() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
}
