/* dma_table.c: the DMA window map, an AVL tree keyed by IOVA whose nodes live in a pool allocated at init. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "server/dma_table.h"

/*
 * Links are node index + 1, 0 meaning none, so a node stays small and the pool never holds pointers.
 * A free node keeps the next free node in left. Nodes are handed out from next_unused first so that
 * the pages calloc left untouched stay non-resident until the table actually grows into them.
 * A window never moves once inserted: rebalancing relinks nodes instead of copying windows, so the
 * pointer dma_table_find returns stays valid until that window itself is removed.
 */
struct dma_node {
	struct dma_window w;
	uint32_t left;
	uint32_t right;
	uint8_t height; /* of the subtree, a leaf is 1; an AVL tree of 2^32 nodes is under 48 high */
};

static inline struct dma_node *node(const struct dma_table *t, uint32_t n)
{
	return &t->pool[n - 1];
}

static inline int height(const struct dma_table *t, uint32_t n)
{
	return n ? node(t, n)->height : 0;
}

static void update_height(struct dma_table *t, uint32_t n)
{
	int l = height(t, node(t, n)->left);
	int r = height(t, node(t, n)->right);

	node(t, n)->height = (uint8_t)((l > r ? l : r) + 1);
}

static uint32_t rotate_right(struct dma_table *t, uint32_t n)
{
	uint32_t l = node(t, n)->left;

	node(t, n)->left = node(t, l)->right;
	node(t, l)->right = n;
	update_height(t, n);
	update_height(t, l);
	return l;
}

static uint32_t rotate_left(struct dma_table *t, uint32_t n)
{
	uint32_t r = node(t, n)->right;

	node(t, n)->right = node(t, r)->left;
	node(t, r)->left = n;
	update_height(t, n);
	update_height(t, r);
	return r;
}

/* Restores the AVL property at n, whose subtrees are balanced and differ in height by at most 2. */
static uint32_t rebalance(struct dma_table *t, uint32_t n)
{
	struct dma_node *p = node(t, n);
	int bf = height(t, p->left) - height(t, p->right);

	if (bf > 1) {
		if (height(t, node(t, p->left)->left) < height(t, node(t, p->left)->right))
			p->left = rotate_left(t, p->left);
		return rotate_right(t, n);
	}
	if (bf < -1) {
		if (height(t, node(t, p->right)->right) < height(t, node(t, p->right)->left))
			p->right = rotate_right(t, p->right);
		return rotate_left(t, n);
	}
	update_height(t, n);
	return n;
}

/* Links the detached node n, whose key is known not to be in the tree, under sub; returns the new root. */
static uint32_t insert_node(struct dma_table *t, uint32_t sub, uint32_t n)
{
	if (!sub)
		return n;
	if (node(t, n)->w.iova < node(t, sub)->w.iova)
		node(t, sub)->left = insert_node(t, node(t, sub)->left, n);
	else
		node(t, sub)->right = insert_node(t, node(t, sub)->right, n);
	return rebalance(t, sub);
}

/* Unlinks the lowest node of the non-empty subtree sub into *min; returns the new root. */
static uint32_t remove_min(struct dma_table *t, uint32_t sub, uint32_t *min)
{
	if (!node(t, sub)->left) {
		*min = sub;
		return node(t, sub)->right;
	}
	node(t, sub)->left = remove_min(t, node(t, sub)->left, min);
	return rebalance(t, sub);
}

/* Unlinks the node keyed iova, known to be in the subtree sub, into *gone; returns the new root. */
static uint32_t remove_key(struct dma_table *t, uint32_t sub, uint64_t iova, uint32_t *gone)
{
	struct dma_node *p = node(t, sub);
	uint32_t succ;

	if (iova < p->w.iova) {
		p->left = remove_key(t, p->left, iova, gone);
		return rebalance(t, sub);
	}
	if (iova > p->w.iova) {
		p->right = remove_key(t, p->right, iova, gone);
		return rebalance(t, sub);
	}
	*gone = sub;
	if (!p->left)
		return p->right;
	if (!p->right)
		return p->left;
	/* Two children: the successor node takes this node's place in the tree. */
	p->right = remove_min(t, p->right, &succ);
	node(t, succ)->left = p->left;
	node(t, succ)->right = p->right;
	return rebalance(t, succ);
}

/* The node with the greatest iova <= key, or 0. */
static uint32_t floor_node(const struct dma_table *t, uint64_t key)
{
	uint32_t n = t->root, best = 0;

	while (n) {
		if (node(t, n)->w.iova <= key) {
			best = n;
			n = node(t, n)->right;
		} else {
			n = node(t, n)->left;
		}
	}
	return best;
}

/* The node with the least iova > key, or 0. */
static uint32_t higher_node(const struct dma_table *t, uint64_t key)
{
	uint32_t n = t->root, best = 0;

	while (n) {
		if (node(t, n)->w.iova > key) {
			best = n;
			n = node(t, n)->left;
		} else {
			n = node(t, n)->right;
		}
	}
	return best;
}

static uint32_t alloc_node(struct dma_table *t)
{
	uint32_t n = t->free_head;

	if (n) {
		t->free_head = node(t, n)->left;
		return n;
	}
	return ++t->next_unused;
}

static void free_node(struct dma_table *t, uint32_t n)
{
	node(t, n)->left = t->free_head;
	t->free_head = n;
}

/*
 * The pool is an anonymous mapping, not calloc: glibc raises its mmap threshold after the first such
 * free, serves the next session's pool from the heap and clears all of it, so every page became
 * resident and stayed so after the session. A mapping is zero, populated as nodes are used, and
 * returned whole when the session ends.
 */
int dma_table_init(struct dma_table *t, uint32_t capacity)
{
	memset(t, 0, sizeof(*t));
	if (capacity) {
		void *p = mmap(NULL, (size_t)capacity * sizeof(*t->pool), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p == MAP_FAILED)
			return -ENOMEM;
		t->pool = p;
	}
	t->capacity = capacity;
	return 0;
}

void dma_table_fini(struct dma_table *t)
{
	if (t->pool)
		munmap(t->pool, (size_t)t->capacity * sizeof(*t->pool));
	memset(t, 0, sizeof(*t));
}

int dma_table_insert(struct dma_table *t, const struct dma_window *w)
{
	uint32_t n;

	/* A window may end exactly at 2^64: only its last byte, iova + size - 1, has to be representable. */
	if (!w->size || w->size - 1 > UINT64_MAX - w->iova)
		return -EINVAL;
	/* Comparing last bytes rather than ends keeps windows that reach 2^64 from wrapping to 0. */
	n = floor_node(t, w->iova);
	if (n && node(t, n)->w.iova + (node(t, n)->w.size - 1) >= w->iova)
		return -EEXIST;
	n = higher_node(t, w->iova);
	if (n && node(t, n)->w.iova <= w->iova + (w->size - 1))
		return -EEXIST;
	if (t->count == t->capacity)
		return -ENOSPC;

	n = alloc_node(t);
	node(t, n)->w = *w;
	node(t, n)->left = 0;
	node(t, n)->right = 0;
	node(t, n)->height = 1;
	t->root = insert_node(t, t->root, n);
	t->count++;
	return 0;
}

int dma_table_remove(struct dma_table *t, uint64_t iova, uint64_t size, struct dma_window *out)
{
	uint32_t n = floor_node(t, iova);

	if (!n || node(t, n)->w.iova != iova || node(t, n)->w.size != size)
		return -ENOENT;
	t->root = remove_key(t, t->root, iova, &n);
	if (out)
		*out = node(t, n)->w;
	free_node(t, n);
	t->count--;
	return 0;
}

int dma_table_pop(struct dma_table *t, struct dma_window *out)
{
	uint32_t n;

	if (!t->root)
		return -ENOENT;
	t->root = remove_min(t, t->root, &n);
	if (out)
		*out = node(t, n)->w;
	free_node(t, n);
	t->count--;
	return 0;
}

const struct dma_window *dma_table_find(const struct dma_table *t, uint64_t iova)
{
	uint32_t n = floor_node(t, iova);

	/* iova - start < size cannot overflow, unlike iova < start + size for a window ending at 2^64. */
	if (n && iova - node(t, n)->w.iova < node(t, n)->w.size)
		return &node(t, n)->w;
	return NULL;
}

const struct dma_window *dma_table_next(const struct dma_table *t, const struct dma_window *prev)
{
	uint32_t n;

	if (!prev) {
		n = t->root;
		while (n && node(t, n)->left)
			n = node(t, n)->left;
	} else {
		n = higher_node(t, prev->iova);
	}
	return n ? &node(t, n)->w : NULL;
}
