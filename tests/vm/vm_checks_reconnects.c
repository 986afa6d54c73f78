/* vm_checks_reconnects.c: the end of vm-checks' session, then reconnects: clients that map DMA and vanish, after which the proxy must hold the fds it had (counted in /proc). */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proc_probe.h"
#include "vm_checks.h"

#define RECONNECTS 20

static int proxy_fds(const struct ctx *x)
{
	return proc_fd_count(x->proxy_pid);
}

static int proxy_maps(const struct ctx *x)
{
	return proc_map_count(x->proxy_pid);
}

void end_session(struct ctx *x)
{
	if (x->map)
		munmap(x->map, x->map_len);
	x->map = NULL;
	if (x->bar0_fd >= 0)
		close(x->bar0_fd);
	x->bar0_fd = -1;
	if (x->c)
		vuc_close(x->c);
	x->c = NULL;
}

/* A negotiated client: the proxy serves one at a time and cleans up before it accepts the next, so a
 * completed handshake also says the previous client's state is gone. */
static int fresh_client(const struct ctx *x, struct vuc **out)
{
	return vm_client(x->socket, REPLY_MS, out);
}

/* 20 clients that map DMA and vanish without unmapping; the proxy must end with the fds it had. */
int check_reconnects(struct ctx *x, char *why, size_t len)
{
	struct vuc *c;
	uint8_t *mem;
	int mfd, r, fds0, fds1, maps0, maps1, ret = -1;

	if (x->proxy_pid <= 0)
		SKIP("no --proxy-pid");
	mfd = memfd_window(DMA_SIZE, &mem);
	if (mfd < 0)
		FAIL("memfd: %s", strerror(-mfd));
	if ((r = fresh_client(x, &c)) < 0) {
		snprintf(why, len, "baseline client: %s", strerror(-r));
		goto out;
	}
	fds0 = proxy_fds(x);
	maps0 = proxy_maps(x);
	vuc_close(c);
	for (int i = 0; i < RECONNECTS; i++) {
		if ((r = fresh_client(x, &c)) < 0) {
			snprintf(why, len, "client %d: connect and VERSION: %s", i, strerror(-r));
			goto out;
		}
		r = vuc_dma_map_fd(c, DMA_IOVA, DMA_SIZE, mfd, 0, RW);
		vuc_close(c); /* without unmapping */
		if (r < 0) {
			snprintf(why, len, "client %d: DMA_MAP at %#llx: %s", i, DMA_IOVA, strerror(-r));
			goto out;
		}
	}
	if ((r = fresh_client(x, &c)) < 0) {
		snprintf(why, len, "client after the reconnects: %s", strerror(-r));
		goto out;
	}
	fds1 = proxy_fds(x);
	maps1 = proxy_maps(x);
	r = vuc_dma_map_fd(c, DMA_IOVA, DMA_SIZE, mfd, 0, RW);
	if (r == 0)
		r = vuc_dma_unmap(c, DMA_IOVA, DMA_SIZE, 0);
	vuc_close(c);
	printf("INFO %s proxy fds %d -> %d, mappings %d -> %d over %d reconnects\n", x->label, fds0, fds1, maps0, maps1,
	       RECONNECTS);
	if (fds0 < 0 || fds1 < 0) {
		snprintf(why, len, "cannot count /proc/%d/fd: %s", (int)x->proxy_pid, strerror(-(fds0 < 0 ? fds0 : fds1)));
		goto out;
	}
	if (fds1 != fds0) {
		snprintf(why, len, "proxy fds %d before, %d after %d clients that left DMA mapped", fds0, fds1, RECONNECTS);
		goto out;
	}
	if (r < 0) {
		snprintf(why, len, "fresh DMA_MAP/UNMAP of the same iova after the reconnects: %s", strerror(-r));
		goto out;
	}
	ret = 0;
out:
	munmap(mem, DMA_SIZE);
	close(mfd);
	return ret;
}
