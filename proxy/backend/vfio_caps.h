/* vfio_caps.h: pure functions over VFIO info capability chains: a safe walk, the region chain rebuilt for the client, IOVA ranges. */
#ifndef BACKEND_VFIO_CAPS_H
#define BACKEND_VFIO_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vfio.h>

/*
 * A walk over a kernel capability chain held in buf[0, len). Offsets count from the start of the info
 * struct, as the kernel writes them. Every link must point past the capability before it (and past the
 * info struct itself), so a walk ends on any input: a loop, a backward or out-of-bounds link, or a
 * header cut by the end of the buffer stops it with malformed set.
 */
struct vfio_cap_iter {
	const uint8_t *buf;
	size_t len;
	size_t next;  /* offset of the capability to visit; 0 at the end */
	size_t floor; /* the lowest offset the next capability may start at */
	bool malformed;
};

void vfio_cap_iter_init(struct vfio_cap_iter *it, const void *buf, size_t len, uint32_t first, size_t struct_size);
/*
 * Visits the next capability: copies its header to *hdr, gives its offset and the bytes of buf from there
 * on (*room >= 8). false at the end of the chain or at a bad link (it->malformed then).
 */
bool vfio_cap_iter_next(struct vfio_cap_iter *it, struct vfio_info_cap_header *hdr, size_t *off, size_t *room);
/* The capability just visited at off is size bytes long: the next one must start after it. */
void vfio_cap_iter_claim(struct vfio_cap_iter *it, size_t off, size_t size);

/* vfio_region_caps_rebuild() flags */
#define VFIO_CAPS_TRAP_BARS (1u << 0) /* drop what only serves mmap: sparse mmap, MSI-X mappable */

struct vfio_caps_stats {
	unsigned int kept;
	unsigned int dropped; /* capabilities we cannot carry (unknown id or version) or filtered out */
	bool malformed;       /* the walk stopped early: a bad link or a truncated capability */
	bool lost_sparse;     /* a sparse-mmap capability could not be carried: do not offer mmap */
};

/*
 * Rebuilds the capability chain of a kernel struct vfio_region_info (info, info_len valid bytes, chain at
 * first) for a vfio-user reply: the capabilities we can carry (sparse mmap, type, MSI-X mappable; version
 * 1), packed one after the other from out_base (their offset from the reply's info struct), each `next`
 * rebased, the last one 0. Returns the chain's length; out holds it when that is <= out_size (out may be
 * NULL with out_size 0 to size it first). st may be NULL.
 */
size_t vfio_region_caps_rebuild(const void *info, size_t info_len, uint32_t first, uint32_t out_base,
				unsigned int flags, void *out, size_t out_size, struct vfio_caps_stats *st);

/*
 * Finds the IOVA-range capability in a kernel struct vfio_iommu_type1_info (info, info_len valid bytes, chain
 * at first, the struct struct_size bytes). Copies up to max ranges to out and returns how many there are;
 * -ENOENT when the chain has no such capability, -EINVAL when it is malformed or a range is inverted.
 */
int vfio_iova_ranges_parse(const void *info, size_t info_len, uint32_t first, size_t struct_size,
			   struct vfio_iova_range *out, uint32_t max);

/* Whether [iova, iova + size) lies inside one of the n ranges (ends inclusive); n == 0 means no limit known. */
bool vfio_iova_allowed(const struct vfio_iova_range *r, uint32_t n, uint64_t iova, uint64_t size);

#endif /* BACKEND_VFIO_CAPS_H */
