/* handlers_region.c: REGION_READ, REGION_WRITE and REGION_WRITE_MULTI, with their bounds checked in one place. */
#include "server/session.h"

#include <errno.h>
#include <string.h>

/* The checks every region access passes before it reaches the backend. */
static int check_access(const struct session *s, uint32_t region, uint64_t offset, uint32_t count, uint32_t need)
{
	const struct device_layout *l = &s->ctx->layout;
	uint64_t size;

	if (region >= l->info.num_regions || count == 0)
		return -EINVAL;
	if (count > s->ctx->caps.max_data_xfer_size)
		return -E2BIG;
	size = l->region_size[region];
	if (offset > size || count > size - offset)
		return -EINVAL;
	if ((l->region_flags[region] & need) != need)
		return -EINVAL;
	return 0;
}

int handle_region_read(struct session *s, struct request *rq, struct reply *rp)
{
	const struct vfio_user_region_access *req = (const void *)rq->payload;
	struct vfio_user_region_access *out = (void *)rp->payload;
	struct device_backend *b = s->ctx->backend;
	int ret;

	ret = check_access(s, req->region, req->offset, req->count, VFIO_REGION_INFO_FLAG_READ);
	if (ret)
		return ret;
	ret = b->ops->region_read(b, req->region, req->offset, out->data, req->count);
	if (ret)
		return ret;
	out->offset = req->offset;
	out->region = req->region;
	out->count = req->count;
	rp->len = sizeof(*out) + req->count;
	return 0;
}

int handle_region_write(struct session *s, struct request *rq, struct reply *rp)
{
	const struct vfio_user_region_access *req = (const void *)rq->payload;
	struct device_backend *b = s->ctx->backend;
	int ret;

	ret = check_access(s, req->region, req->offset, req->count, VFIO_REGION_INFO_FLAG_WRITE);
	if (ret)
		return ret;
	if (rq->len != sizeof(*req) + req->count)
		return -EINVAL;
	ret = b->ops->region_write(b, req->region, req->offset, req->data, req->count);
	if (ret)
		return ret;
	memcpy(rp->payload, req, sizeof(*req));
	rp->len = sizeof(*req);
	return 0;
}

int handle_region_write_multi(struct session *s, struct request *rq, struct reply *rp)
{
	const struct vfio_user_write_multi *req = (const void *)rq->payload;
	struct device_backend *b = s->ctx->backend;
	uint64_t n = req->wr_cnt;
	int ret;

	if (!s->ctx->caps.write_multiple)
		return -ENOSYS;
	if (n == 0 || n > VFIO_USER_MULTI_MAX || rq->len != sizeof(*req) + n * sizeof(req->wrs[0]))
		return -EINVAL;
	/* All or nothing as far as checking goes: no write happens unless every entry is valid. */
	for (uint64_t i = 0; i < n; i++) {
		const struct vfio_user_write_one *w = &req->wrs[i];

		if (w->count > VFIO_USER_MULTI_DATA)
			return -EINVAL;
		ret = check_access(s, w->region, w->offset, w->count, VFIO_REGION_INFO_FLAG_WRITE);
		if (ret)
			return ret;
	}
	for (uint64_t i = 0; i < n; i++) {
		const struct vfio_user_write_one *w = &req->wrs[i];

		ret = b->ops->region_write(b, w->region, w->offset, w->data, w->count);
		if (ret)
			return ret;
	}
	memcpy(rp->payload, &n, sizeof(n));
	rp->len = sizeof(n);
	return 0;
}
