/* table.c: the proxy's own DMA window table (server/dma_table.c, linked in): lookup, insert and remove among 65 535 windows. */
#include "bench.h"

#include <string.h>

#include "server/dma_table.h"

#define PAGE 4096ull
#define BASE 0x100000000ull
#define NWIN 65535u
#define NADDR 65536u /* lookups per timed batch */

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int fill_table(struct dma_table *t, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct dma_window w = { .iova = BASE + i * PAGE, .size = PAGE, .prot = 3, .fd = -1 };
		int ret = dma_table_insert(t, &w);

		if (ret)
			return ret;
	}
	return 0;
}

/* ns per lookup of random addresses inside the table's n windows, one sample per batch of NADDR. */
static struct measure lookups(struct dma_table *t, unsigned int n, const uint64_t *rnd, unsigned int batches)
{
	struct samples s;
	struct measure m;
	uint64_t sum = 0;

	samples_init(&s, batches);
	for (unsigned int b = 0; b < batches; b++) {
		uint64_t t0 = now_ns();

		for (unsigned int i = 0; i < NADDR; i++) {
			const struct dma_window *w = dma_table_find(t, BASE + rnd[i] % (n * PAGE));

			sum += w ? w->iova : 1;
		}
		samples_add(&s, now_ns() - t0);
	}
	__asm__ volatile("" : : "r"(sum));
	m = measure_latency(&s);
	m.median /= NADDR;
	m.p99 /= NADDR;
	m.rate *= NADDR;
	samples_free(&s);
	return m;
}

/* ns per window to insert n windows and remove them again (in insertion order), over reps repetitions. */
static double insert_remove(unsigned int n, unsigned int reps)
{
	struct dma_table t;
	uint64_t t0;

	if (dma_table_init(&t, NWIN))
		return -1;
	t0 = now_ns();
	for (unsigned int r = 0; r < reps; r++) {
		fill_table(&t, n);
		for (unsigned int i = 0; i < n; i++)
			dma_table_remove(&t, BASE + i * PAGE, PAGE, NULL);
	}
	t0 = now_ns() - t0;
	dma_table_fini(&t);
	return (double)t0 / ((double)n * reps);
}

void bench_table_lookup(void)
{
	static uint64_t rnd[NADDR];
	struct dma_table big, one;
	unsigned int batches = opt.short_mode ? 8 : 64;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	struct figure *f;

	for (unsigned int i = 0; i < NADDR; i++)
		rnd[i] = xorshift(&seed);
	if (dma_table_init(&big, NWIN) || dma_table_init(&one, NWIN) || fill_table(&big, NWIN) || fill_table(&one, 1)) {
		figure_missing("table", "cannot build the table", "lookup among 65 535 windows");
		return;
	}
	f = figure_add("table", UNIT_NS, lookups(&big, NWIN, rnd, batches), "lookup of a random address, 65 535 windows");
	figure_base(f, "the same code, 1 window", lookups(&one, 1, rnd, batches));
	dma_table_fini(&big);
	dma_table_fini(&one);
	f = figure_add("table", UNIT_NS, measure_value(insert_remove(NWIN, opt.short_mode ? 1 : 5)),
		       "insert + remove per window, 65 535 windows");
	figure_base(f, "the same code, 1 window", measure_value(insert_remove(1, NWIN)));
}
