/* test_vfio_caps.c: VFIO capability chains as bytes: the region chain rebuilt for the client (rebased, filtered for --trap-bars), hostile chains, IOVA ranges. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend/vfio_caps.h"
#include "vfio-user.h"

#define KBUF 4096
#define INFO_SIZE sizeof(struct vfio_region_info)
#define OUT_BASE ((uint32_t)sizeof(struct vfio_user_region_info))

static uint8_t kbuf[KBUF];

static void put_hdr(size_t off, uint16_t id, uint16_t version, uint32_t next)
{
	struct vfio_info_cap_header h = { .id = id, .version = version, .next = next };

	memcpy(kbuf + off, &h, sizeof(h));
}

/* A sparse-mmap capability with nr areas {i * 0x1000, 0x800 + i}; its size. */
static size_t put_sparse(size_t off, uint32_t next, uint32_t nr)
{
	uint32_t nr_reserved[2] = { nr, 0 };

	put_hdr(off, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1, next);
	memcpy(kbuf + off + 8, nr_reserved, sizeof(nr_reserved));
	for (uint32_t i = 0; i < nr && off + 16 + (i + 1) * 16 <= KBUF; i++) {
		struct vfio_region_sparse_mmap_area a = { .offset = i * 0x1000ull, .size = 0x800ull + i };

		memcpy(kbuf + off + 16 + i * 16, &a, sizeof(a));
	}
	return 16 + (size_t)nr * 16;
}

static size_t put_type(size_t off, uint32_t next, uint32_t type, uint32_t subtype)
{
	uint32_t ts[2] = { type, subtype };

	put_hdr(off, VFIO_REGION_INFO_CAP_TYPE, 1, next);
	memcpy(kbuf + off + 8, ts, sizeof(ts));
	return 16;
}

static size_t put_msix(size_t off, uint32_t next)
{
	put_hdr(off, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 1, next);
	return 8;
}

static void reset_kbuf(void)
{
	memset(kbuf, 0xa5, sizeof(kbuf)); /* garbage between capabilities */
	memset(kbuf, 0, INFO_SIZE);
}

/*
 * Walks a rebuilt chain the way a client does: the reply is the 32-byte info struct followed by the chain,
 * offsets from the reply's start. Collects the ids; fails the test on a link that is not forward and inside.
 */
static unsigned int client_walk(const uint8_t *chain, size_t len, uint16_t *ids, unsigned int max)
{
	uint8_t reply[KBUF + 64];
	uint32_t off = len ? OUT_BASE : 0;
	unsigned int n = 0;

	assert_true(len + OUT_BASE <= sizeof(reply));
	memset(reply, 0, OUT_BASE);
	memcpy(reply + OUT_BASE, chain, len);
	while (off) {
		struct vfio_info_cap_header h;

		assert_true(off >= OUT_BASE && off + sizeof(h) <= OUT_BASE + len);
		assert_int_equal(off % 8, 0);
		memcpy(&h, reply + off, sizeof(h));
		assert_true(n < max);
		ids[n++] = h.id;
		assert_true(h.next == 0 || h.next > off);
		off = h.next;
	}
	return n;
}

static size_t rebuild(size_t klen, uint32_t first, unsigned int flags, uint8_t *out, size_t out_size,
		      struct vfio_caps_stats *st)
{
	return vfio_region_caps_rebuild(kbuf, klen, first, OUT_BASE, flags, out, out_size, st);
}

/* A kernel chain right after the struct, as vfio-pci writes it: carried whole, offsets rebased. */
static void test_rebuild_kernel_chain(void **state)
{
	uint8_t out[512];
	uint16_t ids[8];
	struct vfio_caps_stats st;
	size_t off = INFO_SIZE, a, b, c, len;

	reset_kbuf();
	a = put_sparse(off, (uint32_t)(off + 48), 2);
	b = put_type(off + a, (uint32_t)(off + a + 16), 0x80001234, 7);
	c = put_msix(off + a + b, 0);
	len = rebuild(off + a + b + c, (uint32_t)off, 0, out, sizeof(out), &st);
	assert_int_equal(len, a + b + c);
	assert_int_equal(st.kept, 3);
	assert_int_equal(st.dropped, 0);
	assert_false(st.malformed);
	assert_false(st.lost_sparse);
	assert_int_equal(client_walk(out, len, ids, 8), 3);
	assert_int_equal(ids[0], VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	assert_int_equal(ids[1], VFIO_REGION_INFO_CAP_TYPE);
	assert_int_equal(ids[2], VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
	/* bodies unchanged: the sparse areas and the type */
	assert_memory_equal(out + 8, kbuf + off + 8, a - 8);
	assert_memory_equal(out + a + 8, kbuf + off + a + 8, 8);
}

/* Capabilities scattered with gaps, starting past the struct: packed from out_base, links rebased. */
static void test_rebuild_rebases(void **state)
{
	uint8_t out[512];
	uint16_t ids[8];
	struct vfio_caps_stats st;
	size_t len;
	uint32_t next;

	reset_kbuf();
	put_type(64, 200, 1, 2);
	put_sparse(200, 1000, 3);
	put_msix(1000, 0);
	len = rebuild(1100, 64, 0, out, sizeof(out), &st);
	assert_int_equal(len, 16 + 64 + 8);
	assert_int_equal(client_walk(out, len, ids, 8), 3);
	assert_int_equal(ids[0], VFIO_REGION_INFO_CAP_TYPE);
	assert_int_equal(ids[1], VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	memcpy(&next, out + 4, sizeof(next));
	assert_int_equal(next, OUT_BASE + 16);
	memcpy(&next, out + 16 + 4, sizeof(next));
	assert_int_equal(next, OUT_BASE + 16 + 64);
	memcpy(&next, out + 16 + 64 + 4, sizeof(next));
	assert_int_equal(next, 0);
	assert_memory_equal(out + 16 + 8, kbuf + 200 + 8, 56);
}

/* Capabilities we cannot carry (unknown id, other version) are dropped; their neighbours stay linked. */
static void test_rebuild_drops_unknown(void **state)
{
	uint8_t out[512];
	uint16_t ids[8];
	struct vfio_caps_stats st;
	size_t len;

	reset_kbuf();
	put_type(32, 48, 5, 6);
	put_hdr(48, 99, 1, 96); /* unknown: size unknown, only its header is claimed */
	put_msix(96, 104);
	put_hdr(104, VFIO_REGION_INFO_CAP_TYPE, 2, 0); /* a version we do not know */
	len = rebuild(200, 32, 0, out, sizeof(out), &st);
	assert_int_equal(len, 16 + 8);
	assert_int_equal(st.kept, 2);
	assert_int_equal(st.dropped, 2);
	assert_false(st.malformed);
	assert_false(st.lost_sparse);
	assert_int_equal(client_walk(out, len, ids, 8), 2);
	assert_int_equal(ids[0], VFIO_REGION_INFO_CAP_TYPE);
	assert_int_equal(ids[1], VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
}

/* A sparse-mmap capability we cannot read means the region must not be offered for mmap. */
static void test_rebuild_sparse_version(void **state)
{
	struct vfio_caps_stats st;
	uint8_t out[64];

	reset_kbuf();
	put_sparse(32, 0, 1);
	put_hdr(32, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 2, 0);
	assert_int_equal(rebuild(100, 32, 0, out, sizeof(out), &st), 0);
	assert_true(st.lost_sparse);
	assert_int_equal(st.dropped, 1);
}

/* --trap-bars: sparse mmap and MSI-X mappable go, the type stays. */
static void test_rebuild_trap_bars(void **state)
{
	uint8_t out[512];
	uint16_t ids[8];
	struct vfio_caps_stats st;
	size_t len;

	reset_kbuf();
	put_sparse(32, 80, 2);
	put_msix(80, 88);
	put_type(88, 0, 3, 4);
	len = rebuild(200, 32, VFIO_CAPS_TRAP_BARS, out, sizeof(out), &st);
	assert_int_equal(len, 16);
	assert_int_equal(st.kept, 1);
	assert_int_equal(st.dropped, 2);
	assert_false(st.lost_sparse);
	assert_int_equal(client_walk(out, len, ids, 8), 1);
	assert_int_equal(ids[0], VFIO_REGION_INFO_CAP_TYPE);
	/* nothing left at all: an empty chain */
	reset_kbuf();
	put_sparse(32, 80, 2);
	put_msix(80, 0);
	assert_int_equal(rebuild(200, 32, VFIO_CAPS_TRAP_BARS, out, sizeof(out), &st), 0);
	assert_int_equal(st.kept, 0);
}

/* Loops: a capability pointing at itself, or back at an earlier one, ends the walk. */
static void test_rebuild_loops(void **state)
{
	uint8_t out[512];
	uint16_t ids[8];
	struct vfio_caps_stats st;
	size_t len;

	reset_kbuf();
	put_type(32, 32, 1, 1);
	len = rebuild(200, 32, 0, out, sizeof(out), &st);
	assert_true(st.malformed);
	assert_int_equal(len, 16);
	assert_int_equal(client_walk(out, len, ids, 8), 1);

	reset_kbuf();
	put_type(32, 48, 1, 1);
	put_msix(48, 32);
	len = rebuild(200, 32, 0, out, sizeof(out), &st);
	assert_true(st.malformed);
	assert_int_equal(client_walk(out, len, ids, 8), 2);

	/* forward but into the capability before: overlapping capabilities */
	reset_kbuf();
	put_sparse(32, 40, 2);
	len = rebuild(200, 32, 0, out, sizeof(out), &st);
	assert_true(st.malformed);
	assert_int_equal(st.kept, 1);
	/* an unknown capability is at least its header long */
	reset_kbuf();
	put_hdr(32, 77, 1, 36);
	rebuild(200, 32, 0, out, sizeof(out), &st);
	assert_true(st.malformed);
}

/* Links out of the buffer, into the info struct, or to a header the buffer cuts. */
static void test_rebuild_bad_links(void **state)
{
	uint8_t out[512];
	struct vfio_caps_stats st;
	size_t len;

	reset_kbuf();
	put_type(32, 5000, 1, 1);
	len = rebuild(200, 32, 0, out, sizeof(out), &st);
	assert_true(st.malformed);
	assert_int_equal(len, 16);

	reset_kbuf();
	put_type(32, 196, 1, 1); /* 4 bytes left: no room for a header */
	rebuild(200, 32, 0, out, sizeof(out), &st);
	assert_true(st.malformed);
	assert_int_equal(st.kept, 1);

	reset_kbuf();
	assert_int_equal(rebuild(200, 16, 0, out, sizeof(out), &st), 0); /* inside the struct */
	assert_true(st.malformed);
	assert_int_equal(rebuild(200, 200, 0, out, sizeof(out), &st), 0); /* at the very end */
	assert_true(st.malformed);
	assert_int_equal(rebuild(200, UINT32_MAX, 0, out, sizeof(out), &st), 0);
	assert_true(st.malformed);

	/* no chain at all */
	assert_int_equal(rebuild(200, 0, 0, out, sizeof(out), &st), 0);
	assert_false(st.malformed);
	assert_int_equal(st.kept, 0);
}

/* A capability longer than the buffer: dropped with everything after it; what came before stays. */
static void test_rebuild_truncated(void **state)
{
	uint8_t out[512];
	uint16_t ids[8];
	struct vfio_caps_stats st;
	size_t len;

	reset_kbuf();
	put_type(32, 48, 1, 1);
	put_sparse(48, 0, 1000);
	len = rebuild(200, 32, 0, out, sizeof(out), &st);
	assert_true(st.malformed);
	assert_true(st.lost_sparse);
	assert_int_equal(len, 16);
	assert_int_equal(client_walk(out, len, ids, 8), 1);

	/* nr_areas so large that nr * 16 overflows 32 bits */
	reset_kbuf();
	put_sparse(32, 0, 0x10000001u);
	rebuild(200, 32, 0, out, sizeof(out), &st);
	assert_true(st.malformed);

	/* a type capability cut in half, a sparse header cut before nr_areas */
	reset_kbuf();
	put_type(188, 0, 1, 1);
	assert_int_equal(rebuild(200, 188, 0, out, sizeof(out), &st), 0);
	assert_true(st.malformed);
	reset_kbuf();
	put_hdr(188, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1, 0);
	assert_int_equal(rebuild(200, 188, 0, out, sizeof(out), &st), 0);
	assert_true(st.lost_sparse);
}

/* Too little room: the length needed comes back and nothing is written past out_size. */
static void test_rebuild_small_out(void **state)
{
	uint8_t out[128];
	size_t need;

	reset_kbuf();
	put_sparse(32, 80, 2);
	put_type(80, 0, 1, 1);
	need = rebuild(200, 32, 0, NULL, 0, NULL);
	assert_int_equal(need, 64);
	memset(out, 0xcc, sizeof(out));
	assert_int_equal(rebuild(200, 32, 0, out, 20, NULL), 64);
	for (size_t i = 20; i < sizeof(out); i++)
		assert_int_equal(out[i], 0xcc);
	assert_int_equal(rebuild(200, 32, 0, out, 64, NULL), 64);
	assert_int_equal(out[64], 0xcc);
}

/* Random bytes as a chain: the walk always ends and what comes out is a valid chain. */
static void test_rebuild_random(void **state)
{
	uint8_t out[KBUF];
	uint16_t ids[KBUF / 8];
	uint32_t seed = 12345;

	for (int iter = 0; iter < 20000; iter++) {
		struct vfio_caps_stats st;
		size_t klen, len;
		uint32_t first;

		for (size_t i = 0; i < 512; i++) {
			seed = seed * 1103515245u + 12345u;
			kbuf[i] = (uint8_t)(seed >> 16);
		}
		/* links and ids biased towards plausible values */
		for (size_t o = 32; o + 8 <= 512; o += 8) {
			seed = seed * 1103515245u + 12345u;
			if (seed & 0x30000)
				continue;
			put_hdr(o, (uint16_t)(1 + (seed >> 20) % 4), 1, (uint32_t)(o + 8 * ((seed >> 8) % 12)) - 16);
		}
		seed = seed * 1103515245u + 12345u;
		klen = 32 + (seed >> 16) % 481;
		first = (uint32_t)(8 * ((seed >> 4) % 64));
		len = rebuild(klen, first, (seed & 1) ? VFIO_CAPS_TRAP_BARS : 0, out, sizeof(out), &st);
		assert_true(len <= klen);
		client_walk(out, len, ids, KBUF / 8);
	}
}

/* ---- IOVA ranges (struct vfio_iommu_type1_info and its chain) ---- */

#define IOMMU_INFO_SIZE sizeof(struct vfio_iommu_type1_info)

static size_t put_iova_cap(size_t off, uint32_t next, const struct vfio_iova_range *r, uint32_t nr)
{
	uint32_t nr_reserved[2] = { nr, 0 };

	put_hdr(off, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1, next);
	memcpy(kbuf + off + 8, nr_reserved, sizeof(nr_reserved));
	memcpy(kbuf + off + 16, r, nr * sizeof(*r));
	return 16 + nr * sizeof(*r);
}

static void test_iova_ranges(void **state)
{
	const struct vfio_iova_range r[2] = { { 0, 0xfedfffff }, { 0xfef00000, 0xffffffffffffull } };
	struct vfio_iova_range got[4];
	size_t off = IOMMU_INFO_SIZE;

	assert_int_equal(IOMMU_INFO_SIZE, 24);
	reset_kbuf();
	/* a migration capability (24 bytes) first, as the kernel may put it */
	put_hdr(off, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, 1, (uint32_t)(off + 24));
	put_iova_cap(off + 24, 0, r, 2);
	assert_int_equal(vfio_iova_ranges_parse(kbuf, off + 24 + 48, (uint32_t)off, IOMMU_INFO_SIZE, got, 4), 2);
	assert_memory_equal(got, r, sizeof(r));
	/* counting first */
	assert_int_equal(vfio_iova_ranges_parse(kbuf, off + 24 + 48, (uint32_t)off, IOMMU_INFO_SIZE, NULL, 0), 2);
	/* fewer slots than ranges: the count still says how many */
	memset(got, 0, sizeof(got));
	assert_int_equal(vfio_iova_ranges_parse(kbuf, off + 24 + 48, (uint32_t)off, IOMMU_INFO_SIZE, got, 1), 2);
	assert_memory_equal(got, r, sizeof(r[0]));
	assert_int_equal(got[1].end, 0);

	/* truncated */
	assert_int_equal(vfio_iova_ranges_parse(kbuf, off + 24 + 40, (uint32_t)off, IOMMU_INFO_SIZE, got, 4), -EINVAL);
	/* no such capability */
	reset_kbuf();
	put_hdr(off, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1, 0);
	assert_int_equal(vfio_iova_ranges_parse(kbuf, 100, (uint32_t)off, IOMMU_INFO_SIZE, got, 4), -ENOENT);
	assert_int_equal(vfio_iova_ranges_parse(kbuf, 100, 0, IOMMU_INFO_SIZE, got, 4), -ENOENT);
	/* a loop before it */
	put_hdr(off, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1, (uint32_t)off);
	assert_int_equal(vfio_iova_ranges_parse(kbuf, 100, (uint32_t)off, IOMMU_INFO_SIZE, got, 4), -EINVAL);
	/* an inverted range */
	reset_kbuf();
	put_iova_cap(off, 0, (const struct vfio_iova_range[]){ { 0x2000, 0x1000 } }, 1);
	assert_int_equal(vfio_iova_ranges_parse(kbuf, 100, (uint32_t)off, IOMMU_INFO_SIZE, got, 4), -EINVAL);
}

static void test_iova_allowed(void **state)
{
	const struct vfio_iova_range r[2] = { { 0, 0xfedfffff }, { 0xfef00000, 0xffffffffffffull } };

	assert_true(vfio_iova_allowed(r, 2, 0, 0x1000));
	assert_true(vfio_iova_allowed(r, 2, 0xfedff000, 0x1000)); /* ends on the last byte */
	assert_false(vfio_iova_allowed(r, 2, 0xfedff000, 0x2000)); /* into the MSI hole */
	assert_false(vfio_iova_allowed(r, 2, 0xfee00000, 0x1000));
	assert_false(vfio_iova_allowed(r, 2, 0xfedff000, 0x102000)); /* spans the hole */
	assert_true(vfio_iova_allowed(r, 2, 0x100000000ull, 1ull << 30));
	assert_false(vfio_iova_allowed(r, 2, 0x1000000000000ull, 0x1000)); /* past 48 bits */
	assert_false(vfio_iova_allowed(r, 2, UINT64_MAX - 0xfff, 0x2000)); /* wraps */
	assert_false(vfio_iova_allowed(r, 2, 0, 0));
	/* no ranges known: anything that does not wrap */
	assert_true(vfio_iova_allowed(NULL, 0, 0xfee00000, 0x1000));
	assert_false(vfio_iova_allowed(NULL, 0, UINT64_MAX, 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rebuild_kernel_chain),
		cmocka_unit_test(test_rebuild_rebases),
		cmocka_unit_test(test_rebuild_drops_unknown),
		cmocka_unit_test(test_rebuild_sparse_version),
		cmocka_unit_test(test_rebuild_trap_bars),
		cmocka_unit_test(test_rebuild_loops),
		cmocka_unit_test(test_rebuild_bad_links),
		cmocka_unit_test(test_rebuild_truncated),
		cmocka_unit_test(test_rebuild_small_out),
		cmocka_unit_test(test_rebuild_random),
		cmocka_unit_test(test_iova_ranges),
		cmocka_unit_test(test_iova_allowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
