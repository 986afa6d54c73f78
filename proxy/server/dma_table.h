/* dma_table.h: the client's DMA windows, ordered by IOVA, with O(log n) insert, remove and lookup. */
#ifndef DMA_TABLE_H
#define DMA_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "backend/dma_window.h"

struct dma_node;

struct dma_table {
	struct dma_node *pool; /* capacity nodes, allocated once */
	uint32_t capacity;
	uint32_t count;
	uint32_t root;      /* node index + 1, 0 = empty */
	uint32_t free_head; /* node index + 1 of the free list */
	uint32_t next_unused;
};

/* Allocates room for capacity windows up front: nothing is allocated later. 0 or -ENOMEM. */
int dma_table_init(struct dma_table *t, uint32_t capacity);
void dma_table_fini(struct dma_table *t);

/* -EINVAL for size 0 or iova + size overflowing, -EEXIST when it overlaps a window, -ENOSPC when full. */
int dma_table_insert(struct dma_table *t, const struct dma_window *w);
/* Removes the window that starts at iova with exactly size; copies it to *out. -ENOENT otherwise. */
int dma_table_remove(struct dma_table *t, uint64_t iova, uint64_t size, struct dma_window *out);
/* Removes some window (the lowest) and copies it to *out; -ENOENT when empty. For unmap-all. */
int dma_table_pop(struct dma_table *t, struct dma_window *out);
/* The window containing iova, or NULL. */
const struct dma_window *dma_table_find(const struct dma_table *t, uint64_t iova);
/* The window after prev in IOVA order (the lowest for NULL), or NULL: for walking the table in order. */
const struct dma_window *dma_table_next(const struct dma_table *t, const struct dma_window *prev);
static inline uint32_t dma_table_count(const struct dma_table *t)
{
	return t->count;
}

#endif /* DMA_TABLE_H */
