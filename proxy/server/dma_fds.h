/* dma_fds.h: one fd kept per distinct file behind the client's DMA windows, shared and counted by the windows. */
#ifndef SERVER_DMA_FDS_H
#define SERVER_DMA_FDS_H

#include <stdbool.h>
#include <stdint.h>

struct dma_fd_ent;

struct dma_fds {
	struct dma_fd_ent *tab;
	uint32_t cap; /* a power of two, or 0 */
	uint32_t used;
};

void dma_fds_init(struct dma_fds *t);
/*
 * A window's reference to the file behind fd: the fd already kept for that file (fd itself is closed) or
 * fd, now kept. adopt_only (a hand-over's rebuild): fd is never closed, and another fd of a file already
 * kept is refused with -EINVAL. The kept fd, or -errno (fd untouched).
 */
int dma_fds_get(struct dma_fds *t, int fd, bool adopt_only);
/* Drops a window's reference to the kept fd; the last one closes it. */
void dma_fds_put(struct dma_fds *t, int fd);
/* Closes every kept fd. */
void dma_fds_fini(struct dma_fds *t);
uint32_t dma_fds_count(const struct dma_fds *t);

#endif /* SERVER_DMA_FDS_H */
