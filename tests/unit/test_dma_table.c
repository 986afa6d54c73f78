/* test_dma_table.c: the DMA window map: exact-match removal, overlap and overflow rules, capacity, scale. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "server/dma_table.h"

#define PG 0x1000ULL
#define MAX_WINDOWS 65535U

static uint64_t rng_state;

/* xorshift64*: deterministic across runs and libcs, unlike rand(). */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

static struct dma_window win(uint64_t iova, uint64_t size)
{
	struct dma_window w = {
		.iova = iova,
		.size = size,
		.prot = 3,
		.fd = -1,
		.offset = iova ^ 0x5a5a,
		.vaddr = (void *)(uintptr_t)(iova + 0x10),
		.map_base = (void *)(uintptr_t)(iova + 0x20),
		.map_len = (size_t)size,
	};
	return w;
}

static int ins(struct dma_table *t, uint64_t iova, uint64_t size)
{
	struct dma_window w = win(iova, size);

	return dma_table_insert(t, &w);
}

static void assert_win_eq(const struct dma_window *a, const struct dma_window *b)
{
	assert_int_equal(a->iova, b->iova);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->prot, b->prot);
	assert_int_equal(a->fd, b->fd);
	assert_int_equal(a->offset, b->offset);
	assert_ptr_equal(a->vaddr, b->vaddr);
	assert_ptr_equal(a->map_base, b->map_base);
	assert_int_equal(a->map_len, b->map_len);
}

/* find answers with the window at its first and last byte, and with nothing just outside it. */
static void assert_found(const struct dma_table *t, uint64_t iova, uint64_t size)
{
	const struct dma_window *f;

	f = dma_table_find(t, iova);
	assert_non_null(f);
	assert_int_equal(f->iova, iova);
	assert_int_equal(f->size, size);
	f = dma_table_find(t, iova + (size - 1));
	assert_non_null(f);
	assert_int_equal(f->iova, iova);
	f = dma_table_find(t, iova + size / 2);
	assert_non_null(f);
	assert_int_equal(f->iova, iova);
}

static void test_empty(void **state)
{
	struct dma_table t;
	struct dma_window out;

	assert_int_equal(dma_table_init(&t, 16), 0);
	assert_int_equal(dma_table_count(&t), 0);
	assert_null(dma_table_find(&t, 0));
	assert_null(dma_table_find(&t, UINT64_MAX));
	assert_int_equal(dma_table_pop(&t, &out), -ENOENT);
	assert_int_equal(dma_table_remove(&t, 0, PG, &out), -ENOENT);
	dma_table_fini(&t);
}

static void test_insert_find_remove(void **state)
{
	struct dma_table t;
	struct dma_window w = win(0x10000, 4 * PG), expect = w, out;

	assert_int_equal(dma_table_init(&t, 16), 0);
	assert_int_equal(dma_table_insert(&t, &w), 0);
	/* the table keeps its own copy */
	memset(&w, 0xff, sizeof(w));
	assert_int_equal(dma_table_count(&t), 1);
	assert_found(&t, 0x10000, 4 * PG);
	assert_win_eq(dma_table_find(&t, 0x12345), &expect);
	assert_null(dma_table_find(&t, 0xffff));
	assert_null(dma_table_find(&t, 0x14000));
	assert_null(dma_table_find(&t, 0));

	memset(&out, 0, sizeof(out));
	assert_int_equal(dma_table_remove(&t, 0x10000, 4 * PG, &out), 0);
	assert_win_eq(&out, &expect);
	assert_int_equal(dma_table_count(&t), 0);
	assert_null(dma_table_find(&t, 0x10000));
	assert_int_equal(dma_table_remove(&t, 0x10000, 4 * PG, &out), -ENOENT);
	dma_table_fini(&t);
}

static void test_remove_exact_match_only(void **state)
{
	struct dma_table t;
	struct dma_window out;

	assert_int_equal(dma_table_init(&t, 16), 0);
	assert_int_equal(ins(&t, 0x10000, 4 * PG), 0);
	assert_int_equal(ins(&t, 0x20000, PG), 0);

	/* right start, wrong size */
	assert_int_equal(dma_table_remove(&t, 0x10000, PG, &out), -ENOENT);
	assert_int_equal(dma_table_remove(&t, 0x10000, 8 * PG, &out), -ENOENT);
	assert_int_equal(dma_table_remove(&t, 0x10000, 0, &out), -ENOENT);
	/* right size, wrong start: inside, before, in a gap */
	assert_int_equal(dma_table_remove(&t, 0x11000, 4 * PG, &out), -ENOENT);
	assert_int_equal(dma_table_remove(&t, 0xf000, 4 * PG, &out), -ENOENT);
	assert_int_equal(dma_table_remove(&t, 0x18000, 4 * PG, &out), -ENOENT);
	/* the range covering both windows removes neither */
	assert_int_equal(dma_table_remove(&t, 0x10000, 0x11000, &out), -ENOENT);
	assert_int_equal(dma_table_count(&t), 2);
	assert_found(&t, 0x10000, 4 * PG);
	assert_found(&t, 0x20000, PG);

	/* out may be NULL */
	assert_int_equal(dma_table_remove(&t, 0x20000, PG, NULL), 0);
	assert_null(dma_table_find(&t, 0x20000));
	assert_found(&t, 0x10000, 4 * PG);
	assert_int_equal(dma_table_count(&t), 1);
	dma_table_fini(&t);
}

static void test_overlap_rejected(void **state)
{
	struct dma_table t;

	assert_int_equal(dma_table_init(&t, 16), 0);
	assert_int_equal(ins(&t, 0x10000, 0x4000), 0); /* [0x10000, 0x14000) */

	assert_int_equal(ins(&t, 0x10000, 0x4000), -EEXIST);  /* identical */
	assert_int_equal(ins(&t, 0x10000, 0x1000), -EEXIST);  /* same start, shorter */
	assert_int_equal(ins(&t, 0x10000, 0x8000), -EEXIST);  /* same start, longer */
	assert_int_equal(ins(&t, 0x11000, 0x1000), -EEXIST);  /* inside */
	assert_int_equal(ins(&t, 0x13fff, 1), -EEXIST);       /* last byte */
	assert_int_equal(ins(&t, 0xf000, 0x8000), -EEXIST);   /* covering */
	assert_int_equal(ins(&t, 0xf000, 0x1001), -EEXIST);   /* overlaps the first byte from below */
	assert_int_equal(ins(&t, 0x13000, 0x2000), -EEXIST);  /* overlaps the last page from inside */
	assert_int_equal(ins(&t, 0x13fff, 0x2000), -EEXIST);  /* overlaps the last byte from inside */
	assert_int_equal(ins(&t, 0, UINT64_MAX), -EEXIST);    /* covers everything */
	assert_int_equal(dma_table_count(&t), 1);
	assert_null(dma_table_find(&t, 0xf000));
	assert_null(dma_table_find(&t, 0x14000));

	/* touching edges coexist */
	assert_int_equal(ins(&t, 0xf000, 0x1000), 0);
	assert_int_equal(ins(&t, 0x14000, 0x1000), 0);
	assert_found(&t, 0xf000, 0x1000);
	assert_found(&t, 0x10000, 0x4000);
	assert_found(&t, 0x14000, 0x1000);
	/* a window bridging a gap between two others overlaps both neighbours' ends */
	assert_int_equal(ins(&t, 0x20000, 0x1000), 0);
	assert_int_equal(ins(&t, 0x14fff, 0xb002), -EEXIST);
	assert_int_equal(ins(&t, 0x15000, 0xb001), -EEXIST);
	assert_int_equal(ins(&t, 0x14fff, 0x2), -EEXIST);
	assert_int_equal(ins(&t, 0x15000, 0xb000), 0); /* fills the gap exactly */
	assert_int_equal(dma_table_count(&t), 5);
	dma_table_fini(&t);
}

static void test_touching_at_zero(void **state)
{
	struct dma_table t;

	assert_int_equal(dma_table_init(&t, 4), 0);
	assert_int_equal(ins(&t, 0x1000, 0x1000), 0);
	assert_int_equal(ins(&t, 0, 0x1000), 0);
	assert_found(&t, 0, 0x1000);
	assert_found(&t, 0x1000, 0x1000);
	assert_null(dma_table_find(&t, 0x2000));
	assert_int_equal(ins(&t, 0, 1), -EEXIST);
	assert_int_equal(ins(&t, 0xfff, 2), -EEXIST);
	dma_table_fini(&t);
}

static void test_size_zero_and_overflow(void **state)
{
	struct dma_table t;

	assert_int_equal(dma_table_init(&t, 4), 0);
	assert_int_equal(ins(&t, 0x1000, 0), -EINVAL);
	assert_int_equal(ins(&t, 0, 0), -EINVAL);
	assert_int_equal(ins(&t, UINT64_MAX, 0), -EINVAL);
	assert_int_equal(ins(&t, UINT64_MAX, 2), -EINVAL);
	assert_int_equal(ins(&t, 2, UINT64_MAX), -EINVAL);
	assert_int_equal(ins(&t, 1, UINT64_MAX), 0); /* [1, 2^64) is legal */
	assert_int_equal(dma_table_pop(&t, NULL), 0);
	assert_int_equal(ins(&t, UINT64_MAX - PG + 1, PG + 1), -EINVAL);
	assert_int_equal(ins(&t, UINT64_MAX, UINT64_MAX), -EINVAL);
	assert_int_equal(ins(&t, 1ULL << 63, 1ULL << 63 | 1), -EINVAL);
	assert_int_equal(dma_table_count(&t), 0);
	/* the size-zero and overflow checks come before the overlap check */
	assert_int_equal(ins(&t, 0x1000, 0x1000), 0);
	assert_int_equal(ins(&t, 0x1000, 0), -EINVAL);
	assert_int_equal(ins(&t, 0x1800, UINT64_MAX), -EINVAL);
	assert_int_equal(dma_table_count(&t), 1);
	dma_table_fini(&t);
}

static void test_window_ending_at_top(void **state)
{
	struct dma_table t;
	const uint64_t top = UINT64_MAX - PG + 1; /* [top, 2^64) */
	struct dma_window out;

	assert_int_equal(dma_table_init(&t, 8), 0);
	assert_int_equal(ins(&t, top, PG), 0);
	assert_found(&t, top, PG);
	assert_non_null(dma_table_find(&t, UINT64_MAX));
	assert_null(dma_table_find(&t, top - 1));
	assert_null(dma_table_find(&t, 0));
	/* must not wrap around and look like it covers low addresses */
	assert_int_equal(ins(&t, 0, PG), 0);
	assert_int_equal(ins(&t, top - PG, PG), 0); /* touching below */
	assert_int_equal(ins(&t, top - PG, PG + 1), -EEXIST);
	assert_int_equal(ins(&t, UINT64_MAX, 1), -EEXIST);
	assert_int_equal(ins(&t, top + 1, PG - 1), -EEXIST);
	assert_int_equal(dma_table_count(&t), 3);
	assert_int_equal(dma_table_remove(&t, top, PG, &out), 0);
	assert_int_equal(out.iova, top);

	/* the very last byte as a window of its own, and the largest possible window below it */
	assert_int_equal(ins(&t, UINT64_MAX, 1), 0);
	assert_found(&t, UINT64_MAX, 1);
	assert_null(dma_table_find(&t, UINT64_MAX - 1));
	dma_table_fini(&t);

	assert_int_equal(dma_table_init(&t, 8), 0);
	assert_int_equal(ins(&t, 0, UINT64_MAX), 0); /* [0, 2^64 - 1) */
	assert_int_equal(ins(&t, UINT64_MAX, 1), 0);
	assert_found(&t, 0, UINT64_MAX);
	assert_int_equal(dma_table_find(&t, UINT64_MAX)->iova, UINT64_MAX);
	assert_int_equal(ins(&t, 5, 1), -EEXIST);
	assert_int_equal(dma_table_pop(&t, &out), 0);
	assert_int_equal(out.iova, 0);
	assert_int_equal(out.size, UINT64_MAX);
	assert_int_equal(ins(&t, 1, UINT64_MAX - 1), 0); /* [1, 2^64 - 1) */
	assert_null(dma_table_find(&t, 0));
	dma_table_fini(&t);
}

static void test_capacity(void **state)
{
	struct dma_table t;
	struct dma_window out;
	unsigned int i, round;

	assert_int_equal(dma_table_init(&t, 4), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(ins(&t, i * 2 * PG, PG), 0);
	assert_int_equal(dma_table_count(&t), 4);
	assert_int_equal(ins(&t, 100 * PG, PG), -ENOSPC);
	/* rejections that do not depend on space still say why */
	assert_int_equal(ins(&t, 0, PG), -EEXIST);
	assert_int_equal(ins(&t, 100 * PG, 0), -EINVAL);
	assert_int_equal(dma_table_count(&t), 4);
	assert_null(dma_table_find(&t, 100 * PG));

	assert_int_equal(dma_table_remove(&t, 2 * PG, PG, &out), 0);
	assert_int_equal(ins(&t, 100 * PG, PG), 0);
	assert_found(&t, 100 * PG, PG);
	assert_int_equal(ins(&t, 101 * PG, PG), -ENOSPC);

	/* many more insertions than capacity: the freed nodes are reused */
	for (round = 0; round < 1000; round++) {
		while (dma_table_pop(&t, &out) == 0)
			;
		assert_int_equal(dma_table_count(&t), 0);
		for (i = 0; i < 4; i++)
			assert_int_equal(ins(&t, (round + i) * PG, PG), 0);
		assert_int_equal(ins(&t, (round + 4) * PG, PG), -ENOSPC);
		for (i = 0; i < 4; i++)
			assert_found(&t, (round + i) * PG, PG);
	}
	dma_table_fini(&t);
}

static void test_capacity_zero(void **state)
{
	struct dma_table t;

	assert_int_equal(dma_table_init(&t, 0), 0);
	assert_int_equal(ins(&t, 0, PG), -ENOSPC);
	assert_null(dma_table_find(&t, 0));
	assert_int_equal(dma_table_pop(&t, NULL), -ENOENT);
	dma_table_fini(&t);
}

static void test_pop_order(void **state)
{
	static const uint64_t pages[] = { 50, 3, 99, 0, 77, 12, 64, 1, 98, 30, 31, 8 };
	const unsigned int n = sizeof(pages) / sizeof(pages[0]);
	struct dma_table t;
	struct dma_window out, expect;
	uint64_t prev = 0;
	unsigned int i;

	assert_int_equal(dma_table_init(&t, n), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(ins(&t, pages[i] * PG, PG), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(dma_table_pop(&t, &out), 0);
		if (i)
			assert_true(out.iova > prev);
		else
			assert_int_equal(out.iova, 0);
		expect = win(out.iova, PG);
		assert_win_eq(&out, &expect);
		assert_null(dma_table_find(&t, out.iova));
		prev = out.iova;
		assert_int_equal(dma_table_count(&t), n - 1 - i);
	}
	assert_int_equal(prev, 99 * PG);
	assert_int_equal(dma_table_pop(&t, &out), -ENOENT);
	/* and once more with out NULL */
	assert_int_equal(ins(&t, PG, PG), 0);
	assert_int_equal(dma_table_pop(&t, NULL), 0);
	assert_int_equal(dma_table_pop(&t, NULL), -ENOENT);
	dma_table_fini(&t);
}

/* Removing nodes with two children, one child and none, from the middle of a tree of a few levels. */
static void test_remove_inner_nodes(void **state)
{
	struct dma_table t;
	unsigned int i, j;
	bool present[64];

	assert_int_equal(dma_table_init(&t, 64), 0);
	for (i = 0; i < 64; i++) {
		assert_int_equal(ins(&t, i * 4 * PG, 2 * PG), 0);
		present[i] = true;
	}
	/* the middle keys are the inner nodes of a tree built in ascending order */
	for (i = 32; i != 0; i /= 2) {
		for (j = i; j < 64; j += 2 * i) {
			if (!present[j])
				continue;
			assert_int_equal(dma_table_remove(&t, j * 4 * PG, 2 * PG, NULL), 0);
			present[j] = false;
		}
		for (j = 0; j < 64; j++) {
			if (present[j])
				assert_found(&t, j * 4 * PG, 2 * PG);
			else
				assert_null(dma_table_find(&t, j * 4 * PG));
			assert_null(dma_table_find(&t, j * 4 * PG + 2 * PG));
		}
	}
	assert_int_equal(dma_table_count(&t), 1);
	assert_found(&t, 0, 2 * PG);
	dma_table_fini(&t);
}

/* Windows stay where they are while others come and go: find's pointer stays valid. */
static void test_find_pointer_stable(void **state)
{
	struct dma_table t;
	const struct dma_window *p;
	unsigned int i;

	assert_int_equal(dma_table_init(&t, 256), 0);
	assert_int_equal(ins(&t, 128 * PG, PG), 0);
	p = dma_table_find(&t, 128 * PG);
	assert_non_null(p);
	for (i = 0; i < 256; i++)
		if (i != 128)
			assert_int_equal(ins(&t, i * PG, PG), 0);
	assert_ptr_equal(dma_table_find(&t, 128 * PG), p);
	for (i = 0; i < 256; i++)
		if (i != 128)
			assert_int_equal(dma_table_remove(&t, i * PG, PG, NULL), 0);
	assert_ptr_equal(dma_table_find(&t, 128 * PG), p);
	assert_int_equal(p->iova, 128 * PG);
	assert_int_equal(p->size, PG);
	dma_table_fini(&t);
}

/* Every window is found at both ends and nothing is found in the gaps between them. */
static void check_all(const struct dma_table *t, const bool *present, unsigned int n, uint64_t stride,
		      uint64_t size)
{
	unsigned int i, count = 0;

	for (i = 0; i < n; i++) {
		if (present[i]) {
			assert_found(t, i * stride, size);
			count++;
		} else {
			assert_null(dma_table_find(t, i * stride));
		}
		assert_null(dma_table_find(t, i * stride + size));
	}
	assert_int_equal(dma_table_count(t), count);
}

static void test_max_descending_then_random_removal(void **state)
{
	const uint64_t stride = 2 * PG, size = PG;
	struct dma_table t;
	struct dma_window out;
	uint32_t *order;
	bool *present;
	unsigned int i;

	order = malloc(MAX_WINDOWS * sizeof(*order));
	present = calloc(MAX_WINDOWS, sizeof(*present));
	assert_non_null(order);
	assert_non_null(present);
	assert_int_equal(dma_table_init(&t, MAX_WINDOWS), 0);
	for (i = MAX_WINDOWS; i-- > 0;) {
		assert_int_equal(ins(&t, i * stride, size), 0);
		present[i] = true;
	}
	assert_int_equal(dma_table_count(&t), MAX_WINDOWS);
	assert_int_equal(ins(&t, MAX_WINDOWS * stride, size), -ENOSPC);
	assert_int_equal(ins(&t, 5 * stride + 1, size), -EEXIST);
	check_all(&t, present, MAX_WINDOWS, stride, size);

	rng_state = 0x9e3779b97f4a7c15ULL;
	for (i = 0; i < MAX_WINDOWS; i++)
		order[i] = i;
	for (i = MAX_WINDOWS - 1; i > 0; i--) {
		uint32_t j = (uint32_t)rnd_below(i + 1), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	for (i = 0; i < MAX_WINDOWS; i++) {
		uint64_t iova = order[i] * stride;

		assert_int_equal(dma_table_remove(&t, iova, size + 1, NULL), -ENOENT);
		assert_int_equal(dma_table_remove(&t, iova, size, &out), 0);
		assert_int_equal(out.iova, iova);
		assert_int_equal(out.map_len, size);
		present[order[i]] = false;
		if (i % 8192 == 0 || i == MAX_WINDOWS / 2)
			check_all(&t, present, MAX_WINDOWS, stride, size);
	}
	check_all(&t, present, MAX_WINDOWS, stride, size);
	assert_int_equal(dma_table_pop(&t, NULL), -ENOENT);

	/* ascending this time, emptied by pop, which must come out in order */
	for (i = 0; i < MAX_WINDOWS; i++)
		assert_int_equal(ins(&t, i * stride, size), 0);
	for (i = 0; i < MAX_WINDOWS; i++) {
		assert_int_equal(dma_table_pop(&t, &out), 0);
		assert_int_equal(out.iova, i * stride);
	}
	assert_int_equal(dma_table_count(&t), 0);
	dma_table_fini(&t);
	free(order);
	free(present);
}

/* The reference: an unsorted array, searched exhaustively, with 128-bit ends. */
struct model {
	struct dma_window w[32];
	unsigned int n;
};

static unsigned __int128 end_of(uint64_t iova, uint64_t size)
{
	return (unsigned __int128)iova + size;
}

static int model_insert(struct model *m, unsigned int cap, uint64_t iova, uint64_t size)
{
	unsigned int i;

	if (!size || end_of(iova, size) > (unsigned __int128)1 << 64)
		return -EINVAL;
	for (i = 0; i < m->n; i++)
		if (iova < end_of(m->w[i].iova, m->w[i].size) && m->w[i].iova < end_of(iova, size))
			return -EEXIST;
	if (m->n == cap)
		return -ENOSPC;
	m->w[m->n++] = win(iova, size);
	return 0;
}

static int model_remove(struct model *m, uint64_t iova, uint64_t size, struct dma_window *out)
{
	unsigned int i;

	for (i = 0; i < m->n; i++) {
		if (m->w[i].iova == iova && m->w[i].size == size) {
			*out = m->w[i];
			m->w[i] = m->w[--m->n];
			return 0;
		}
	}
	return -ENOENT;
}

static int model_pop(struct model *m, struct dma_window *out)
{
	unsigned int i, lo = 0;

	if (!m->n)
		return -ENOENT;
	for (i = 1; i < m->n; i++)
		if (m->w[i].iova < m->w[lo].iova)
			lo = i;
	return model_remove(m, m->w[lo].iova, m->w[lo].size, out);
}

static const struct dma_window *model_find(const struct model *m, uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < m->n; i++)
		if (m->w[i].iova <= iova && iova < end_of(m->w[i].iova, m->w[i].size))
			return &m->w[i];
	return NULL;
}

/* An address in one of two small neighbourhoods, at 0 and just below 2^64, where collisions are frequent. */
static uint64_t rnd_addr(void)
{
	uint64_t off = rnd_below(96) * (PG / 2) + (rnd_below(8) == 0 ? rnd_below(PG) : 0);

	return rnd_below(3) == 0 ? UINT64_MAX - off : off;
}

static uint64_t rnd_size(void)
{
	switch (rnd_below(8)) {
	case 0:
		return 0;
	case 1:
		return 1 + rnd_below(PG);
	case 2:
		return UINT64_MAX - rnd_below(4);
	default:
		return (1 + rnd_below(6)) * (PG / 2);
	}
}

static void check_find(const struct dma_table *t, const struct model *m, uint64_t iova)
{
	const struct dma_window *a = dma_table_find(t, iova), *b = model_find(m, iova);

	if (!b) {
		assert_null(a);
		return;
	}
	assert_non_null(a);
	assert_win_eq(a, b);
}

static void test_differential(void **state)
{
	const unsigned int cap = 24, ops = 6000;
	struct dma_table t;
	struct model m = { .n = 0 };
	struct dma_window out_t, out_m;
	unsigned int op, i, counts[4] = { 0 };

	rng_state = 0x0123456789abcdefULL;
	assert_int_equal(dma_table_init(&t, cap), 0);
	for (op = 0; op < ops; op++) {
		uint64_t r = rnd_below(100), iova, size;
		int rt, rm;

		if (r < 50) {
			iova = rnd_addr();
			size = rnd_size();
			rt = ins(&t, iova, size);
			rm = model_insert(&m, cap, iova, size);
			assert_int_equal(rt, rm);
			counts[0] += rt == 0;
		} else if (r < 85) {
			if (m.n && rnd_below(2)) {
				/* an existing window, sometimes with its size or start off by a little */
				const struct dma_window *w = &m.w[rnd_below(m.n)];

				iova = w->iova;
				size = w->size;
				if (rnd_below(4) == 0)
					size += rnd_below(2) ? 1 : -1;
				else if (rnd_below(4) == 0)
					iova += rnd_below(2) ? 1 : -1;
			} else {
				iova = rnd_addr();
				size = rnd_size();
			}
			memset(&out_t, 0, sizeof(out_t));
			memset(&out_m, 0, sizeof(out_m));
			rt = dma_table_remove(&t, iova, size, &out_t);
			rm = model_remove(&m, iova, size, &out_m);
			assert_int_equal(rt, rm);
			if (!rt)
				assert_win_eq(&out_t, &out_m);
			counts[1] += rt == 0;
		} else if (r < 92) {
			rt = dma_table_pop(&t, &out_t);
			rm = model_pop(&m, &out_m);
			assert_int_equal(rt, rm);
			if (!rt)
				assert_win_eq(&out_t, &out_m);
			counts[2] += rt == 0;
		} else {
			for (i = 0; i < 16; i++)
				check_find(&t, &m, rnd_addr());
			counts[3]++;
		}
		assert_int_equal(dma_table_count(&t), m.n);
		/* every window at its edges and just outside them */
		for (i = 0; i < m.n; i++) {
			const struct dma_window *w = &m.w[i];

			check_find(&t, &m, w->iova);
			check_find(&t, &m, w->iova - 1);
			check_find(&t, &m, w->iova + (w->size - 1));
			check_find(&t, &m, w->iova + w->size);
		}
	}
	/* the run exercised every path rather than, say, rejecting every insert */
	assert_true(counts[0] > 300);
	assert_true(counts[1] > 200);
	assert_true(counts[2] > 50);
	assert_true(counts[3] > 100);
	while (dma_table_pop(&t, &out_t) == 0) {
		assert_int_equal(model_pop(&m, &out_m), 0);
		assert_win_eq(&out_t, &out_m);
	}
	assert_int_equal(m.n, 0);
	dma_table_fini(&t);
}

static void test_fini_safe(void **state)
{
	struct dma_table t;

	memset(&t, 0, sizeof(t));
	dma_table_fini(&t);
	/* a zeroed table is an empty, full one */
	assert_int_equal(dma_table_count(&t), 0);
	assert_null(dma_table_find(&t, 0));
	assert_int_equal(dma_table_pop(&t, NULL), -ENOENT);
	assert_int_equal(ins(&t, 0, PG), -ENOSPC);

	assert_int_equal(dma_table_init(&t, 8), 0);
	dma_table_fini(&t);
	dma_table_fini(&t);

	assert_int_equal(dma_table_init(&t, 8), 0);
	assert_int_equal(ins(&t, 0, PG), 0);
	dma_table_fini(&t);
	assert_int_equal(dma_table_count(&t), 0);
	assert_null(dma_table_find(&t, 0));
	dma_table_fini(&t);
}

/* Resident pages of [p, p+len). */
static size_t resident_pages(const void *p, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)p & ~(uintptr_t)(page - 1);
	size_t n = ((uintptr_t)p + len - start + (size_t)page - 1) / (size_t)page, res = 0;
	unsigned char *vec = malloc(n);

	assert_non_null(vec);
	assert_int_equal(mincore((void *)start, n * (size_t)page, vec), 0);
	for (size_t i = 0; i < n; i++)
		res += vec[i] & 1;
	free(vec);
	return res;
}

/*
 * A session's table holds room for 65535 windows (over 4 MB) and uses a few: the pool must stay
 * non-resident from the first session on, not only the first (glibc serves a repeated large calloc
 * from its heap and clears all of it once its mmap threshold has grown).
 */
static void test_pool_stays_unpopulated(void **state)
{
	struct dma_window w = { .iova = 0x1000, .size = 0x1000, .fd = -1 };
	struct dma_table t;

	for (int round = 0; round < 4; round++) {
		assert_int_equal(dma_table_init(&t, 65535), 0);
		assert_int_equal(dma_table_insert(&t, &w), 0);
		assert_true(resident_pages(t.pool, 65535 * 64) < 16); /* the pool is larger */
		dma_table_fini(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_insert_find_remove),
		cmocka_unit_test(test_remove_exact_match_only),
		cmocka_unit_test(test_overlap_rejected),
		cmocka_unit_test(test_touching_at_zero),
		cmocka_unit_test(test_size_zero_and_overflow),
		cmocka_unit_test(test_window_ending_at_top),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_capacity_zero),
		cmocka_unit_test(test_pop_order),
		cmocka_unit_test(test_remove_inner_nodes),
		cmocka_unit_test(test_find_pointer_stable),
		cmocka_unit_test(test_max_descending_then_random_removal),
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_fini_safe),
		cmocka_unit_test(test_pool_stays_unpopulated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
