/* vfio_caps.c: VFIO capability chains as plain bytes: a walk that ends on any input, the region chain rebuilt for a vfio-user reply, IOVA ranges. */
#include "backend/vfio_caps.h"

#include <errno.h>
#include <string.h>

#define CAP_HDR_SIZE sizeof(struct vfio_info_cap_header)
#define CAP_ALIGN 8u

void vfio_cap_iter_init(struct vfio_cap_iter *it, const void *buf, size_t len, uint32_t first, size_t struct_size)
{
	it->buf = buf;
	it->len = len;
	it->next = first;
	it->floor = struct_size;
	it->malformed = false;
}

bool vfio_cap_iter_next(struct vfio_cap_iter *it, struct vfio_info_cap_header *hdr, size_t *off, size_t *room)
{
	size_t o = it->next;

	if (o == 0)
		return false;
	if (o < it->floor || o > it->len || it->len - o < CAP_HDR_SIZE) {
		it->malformed = true;
		it->next = 0;
		return false;
	}
	memcpy(hdr, it->buf + o, CAP_HDR_SIZE);
	*off = o;
	*room = it->len - o;
	it->next = hdr->next;
	it->floor = o + CAP_HDR_SIZE; /* a capability is at least its header */
	return true;
}

void vfio_cap_iter_claim(struct vfio_cap_iter *it, size_t off, size_t size)
{
	if (off + size > it->floor)
		it->floor = off + size;
}

/*
 * The size of a region capability we know how to carry, from its header and the bytes after it.
 * 0: not one we carry (unknown id or version). SIZE_MAX: it claims more bytes than there are.
 */
static size_t region_cap_size(const struct vfio_info_cap_header *hdr, const uint8_t *cap, size_t room)
{
	uint32_t nr_areas;

	if (hdr->version != 1)
		return 0;
	switch (hdr->id) {
	case VFIO_REGION_INFO_CAP_SPARSE_MMAP:
		if (room < sizeof(struct vfio_region_info_cap_sparse_mmap))
			return SIZE_MAX;
		memcpy(&nr_areas, cap + offsetof(struct vfio_region_info_cap_sparse_mmap, nr_areas), sizeof(nr_areas));
		if (nr_areas > (room - sizeof(struct vfio_region_info_cap_sparse_mmap)) /
				       sizeof(struct vfio_region_sparse_mmap_area))
			return SIZE_MAX;
		return sizeof(struct vfio_region_info_cap_sparse_mmap) +
		       (size_t)nr_areas * sizeof(struct vfio_region_sparse_mmap_area);
	case VFIO_REGION_INFO_CAP_TYPE:
		return room < sizeof(struct vfio_region_info_cap_type) ? SIZE_MAX
								       : sizeof(struct vfio_region_info_cap_type);
	case VFIO_REGION_INFO_CAP_MSIX_MAPPABLE:
		return CAP_HDR_SIZE; /* the header is all of it */
	default:
		return 0;
	}
}

static bool only_for_mmap(uint16_t id)
{
	return id == VFIO_REGION_INFO_CAP_SPARSE_MMAP || id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE;
}

size_t vfio_region_caps_rebuild(const void *info, size_t info_len, uint32_t first, uint32_t out_base,
				unsigned int flags, void *out, size_t out_size, struct vfio_caps_stats *st)
{
	struct vfio_caps_stats local;
	struct vfio_cap_iter it;
	struct vfio_info_cap_header hdr;
	uint8_t *dst = out;
	size_t off, room, pos = 0, prev = SIZE_MAX;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	vfio_cap_iter_init(&it, info, info_len, first, sizeof(struct vfio_region_info));
	while (vfio_cap_iter_next(&it, &hdr, &off, &room)) {
		const uint8_t *src = (const uint8_t *)info + off;
		size_t size = region_cap_size(&hdr, src, room);
		size_t padded;

		if (size == SIZE_MAX) {
			/* cut short by the buffer's end: nothing after it can be trusted either */
			st->malformed = true;
			st->lost_sparse |= hdr.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP;
			break;
		}
		if (size == 0) {
			st->dropped++;
			st->lost_sparse |= hdr.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP;
			continue;
		}
		vfio_cap_iter_claim(&it, off, size);
		if ((flags & VFIO_CAPS_TRAP_BARS) && only_for_mmap(hdr.id)) {
			st->dropped++;
			continue;
		}
		padded = (size + CAP_ALIGN - 1) & ~(size_t)(CAP_ALIGN - 1);
		if ((uint64_t)out_base + pos + padded > UINT32_MAX) {
			st->malformed = true; /* offsets would not fit the 32-bit next field */
			break;
		}
		if (dst && pos + padded <= out_size) {
			uint32_t link = (uint32_t)(out_base + pos), end = 0;

			memcpy(dst + pos, src, size);
			memset(dst + pos + size, 0, padded - size);
			memcpy(dst + pos + offsetof(struct vfio_info_cap_header, next), &end, sizeof(end));
			if (prev != SIZE_MAX)
				memcpy(dst + prev + offsetof(struct vfio_info_cap_header, next), &link, sizeof(link));
		}
		prev = pos;
		pos += padded;
		st->kept++;
	}
	if (it.malformed)
		st->malformed = true;
	return pos;
}

int vfio_iova_ranges_parse(const void *info, size_t info_len, uint32_t first, size_t struct_size,
			   struct vfio_iova_range *out, uint32_t max)
{
	const size_t head = sizeof(struct vfio_iommu_type1_info_cap_iova_range);
	struct vfio_cap_iter it;
	struct vfio_info_cap_header hdr;
	size_t off, room;

	vfio_cap_iter_init(&it, info, info_len, first, struct_size);
	while (vfio_cap_iter_next(&it, &hdr, &off, &room)) {
		const uint8_t *cap = (const uint8_t *)info + off;
		uint32_t nr;

		if (hdr.id != VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE || hdr.version != 1)
			continue;
		if (room < head)
			return -EINVAL;
		memcpy(&nr, cap + offsetof(struct vfio_iommu_type1_info_cap_iova_range, nr_iovas), sizeof(nr));
		if (nr > (room - head) / sizeof(struct vfio_iova_range) || nr > INT32_MAX)
			return -EINVAL;
		for (uint32_t i = 0; i < nr; i++) {
			struct vfio_iova_range r;

			memcpy(&r, cap + head + (size_t)i * sizeof(r), sizeof(r));
			if (r.start > r.end)
				return -EINVAL;
			if (i < max)
				out[i] = r;
		}
		return (int)nr;
	}
	return it.malformed ? -EINVAL : -ENOENT;
}

bool vfio_iova_allowed(const struct vfio_iova_range *r, uint32_t n, uint64_t iova, uint64_t size)
{
	uint64_t last;

	if (size == 0 || size - 1 > UINT64_MAX - iova)
		return false;
	if (n == 0)
		return true;
	last = iova + size - 1;
	for (uint32_t i = 0; i < n; i++)
		if (iova >= r[i].start && last <= r[i].end)
			return true;
	return false;
}
