/* dma_window.h: one DMA window of the client's as the server and the backends both see it. */
#ifndef BACKEND_DMA_WINDOW_H
#define BACKEND_DMA_WINDOW_H

#include <stddef.h>
#include <stdint.h>

struct dma_window {
	uint64_t iova;
	uint64_t size;
	uint32_t prot;   /* VFIO_USER_F_DMA_REGION_READ | _WRITE */
	int fd;          /* -1 for windows served through DMA_READ/DMA_WRITE */
	uint64_t offset; /* in fd */
	void *vaddr;     /* where iova is mapped in this process, NULL without fd */
	void *map_base;  /* what to munmap */
	size_t map_len;
};

#endif /* BACKEND_DMA_WINDOW_H */
