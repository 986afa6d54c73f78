/* handlers_device.c: VERSION and the device-level commands: info, region and IRQ info, SET_IRQS, reset, features. */
#include "server/session.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"

int handle_version(struct session *s, struct request *rq, struct reply *rp)
{
	struct client_caps cc;
	ssize_t n;
	int ret;

	if (s->versioned)
		return -EINVAL;
	ret = caps_parse_client(rq->payload, rq->len, &cc);
	if (ret) {
		log_warn("client proposed an unusable VERSION (%s)", strerror(-ret));
		return ret;
	}
	/* Our DMA_READs bring the client's data back in one message: never more than we can receive. */
	if (cc.max_data_xfer_size > s->ctx->caps.max_data_xfer_size)
		cc.max_data_xfer_size = s->ctx->caps.max_data_xfer_size;
	n = caps_build_reply(&cc, rp->payload, rp->cap);
	if (n < 0)
		return (int)n;
	rp->len = (size_t)n;
	s->caps = cc;
	s->versioned = true;
	log_info("client speaks vfio-user %u.%u%s: max_msg_fds %u, max_data_xfer_size %u", cc.major, cc.minor,
		 cc.sent_json ? "" : " (no capabilities)", cc.max_msg_fds, cc.max_data_xfer_size);
	return 0;
}

int handle_device_get_info(struct session *s, struct request *rq, struct reply *rp)
{
	const struct vfio_user_device_info *req = (const void *)rq->payload;
	struct vfio_user_device_info info = s->ctx->layout.info;

	if (req->argsz < sizeof(info))
		return -EINVAL;
	info.argsz = sizeof(info);
	memcpy(rp->payload, &info, sizeof(info));
	rp->len = sizeof(info);
	return 0;
}

int handle_region_info(struct session *s, struct request *rq, struct reply *rp)
{
	const struct vfio_user_region_info *req = (const void *)rq->payload;
	struct device_backend *b = s->ctx->backend;
	struct vfio_user_region_info info = { .index = req->index };
	size_t caps_len = 0, room = rp->cap - sizeof(info);
	int fd = -1, ret;

	if (req->argsz < sizeof(info) || req->index >= s->ctx->layout.info.num_regions)
		return -EINVAL;
	ret = b->ops->region_info(b, &info, rp->payload + sizeof(info), room, &caps_len, &fd);
	if (ret)
		return ret;
	if (caps_len > room)
		return -EINVAL;
	info.argsz = (uint32_t)(sizeof(info) + caps_len);
	if (caps_len && req->argsz >= info.argsz) {
		info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
		info.cap_offset = sizeof(info);
		rp->len = info.argsz;
	} else {
		/* The chain does not fit: say how much room it needs, without CAPS (QEMU rejects CAPS here). */
		info.flags &= ~VFIO_REGION_INFO_FLAG_CAPS;
		info.cap_offset = 0;
		rp->len = sizeof(info);
		if (caps_len)
			fd = -1; /* the fd goes with the complete answer only */
	}
	if (!(info.flags & VFIO_REGION_INFO_FLAG_MMAP) || s->caps.max_msg_fds == 0)
		fd = -1;
	if (s->caps.max_msg_fds == 0)
		info.flags &= ~VFIO_REGION_INFO_FLAG_MMAP; /* it could not receive the fd */
	memcpy(rp->payload, &info, sizeof(info));
	rp->fd = fd;
	return 0;
}

int handle_region_io_fds(struct session *s, struct request *rq, struct reply *rp)
{
	const struct vfio_user_region_io_fds_request *req = (const void *)rq->payload;

	if (req->argsz < sizeof(*req) || req->index >= s->ctx->layout.info.num_regions)
		return -EINVAL;
	return -ENOTSUP; /* no ioeventfd/ioregionfd offload: every access comes as a message or through mmap */
}

int handle_irq_info(struct session *s, struct request *rq, struct reply *rp)
{
	const struct vfio_user_irq_info *req = (const void *)rq->payload;
	const struct device_layout *l = &s->ctx->layout;
	struct vfio_user_irq_info info;

	if (req->argsz < sizeof(info) || req->index >= l->info.num_irqs)
		return -EINVAL;
	info.argsz = sizeof(info);
	info.flags = l->irq_flags[req->index];
	info.index = req->index;
	info.count = l->irq_count[req->index];
	memcpy(rp->payload, &info, sizeof(info));
	rp->len = sizeof(info);
	return 0;
}

static bool one_bit(uint32_t v)
{
	return v && !(v & (v - 1));
}

int handle_set_irqs(struct session *s, struct request *rq, struct reply *rp)
{
	const struct vfio_user_irq_set *req = (const void *)rq->payload;
	const struct device_layout *l = &s->ctx->layout;
	struct device_backend *b = s->ctx->backend;
	uint32_t data = req->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	uint32_t action = req->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	const uint8_t *bools = NULL;
	int fds[VFIO_USER_SERVER_MAX_MSG_FDS];
	int *fdp = NULL;
	uint32_t max;
	int ret;

	if (req->argsz < sizeof(*req) || (req->flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)))
		return -EINVAL;
	if (!one_bit(data) || !one_bit(action) || req->index >= l->info.num_irqs)
		return -EINVAL;
	max = l->irq_count[req->index];
	if (req->count == 0) {
		/* start = count = 0 with DATA_NONE | TRIGGER turns the whole index off */
		if (data != VFIO_IRQ_SET_DATA_NONE || action != VFIO_IRQ_SET_ACTION_TRIGGER || req->start)
			return -EINVAL;
	} else if (req->start >= max || req->count > max - req->start) {
		return -EINVAL;
	}
	if (data != VFIO_IRQ_SET_DATA_EVENTFD && rq->nfds)
		return -EINVAL;
	if (data == VFIO_IRQ_SET_DATA_BOOL) {
		if (rq->len < sizeof(*req) + req->count)
			return -EINVAL;
		bools = req->data;
	} else if (data == VFIO_IRQ_SET_DATA_EVENTFD && rq->nfds) {
		/* Either one fd per interrupt, or none at all (de-assign, as QEMU sends it). */
		if (rq->nfds != req->count)
			return -EINVAL;
		for (unsigned int i = 0; i < rq->nfds; i++) {
			fds[i] = rq->fds[i];
			rq->fds[i] = -1; /* the backend owns them now */
		}
		fdp = fds;
	}
	ret = b->ops->set_irqs(b, req->flags, req->index, req->start, req->count, bools, fdp);
	rp->len = 0;
	return ret;
}

int handle_device_reset(struct session *s, struct request *rq, struct reply *rp)
{
	struct device_backend *b = s->ctx->backend;

	if (!(s->ctx->layout.info.flags & VFIO_DEVICE_FLAGS_RESET))
		return -ENOTTY;
	/* The device forgets DMA in flight; replies still on their way are dropped when they arrive. */
	dma_cancel_all(s);
	rp->len = 0;
	return b->ops->reset(b);
}

int handle_device_feature(struct session *s, struct request *rq, struct reply *rp)
{
	struct vfio_user_device_feature *req = (void *)rq->payload;
	struct device_backend *b = s->ctx->backend;
	size_t out_len = 0;
	int ret;

	if (req->argsz < sizeof(*req))
		return -EINVAL;
	if (!b->ops->device_feature)
		return -ENOTTY; /* what the kernel answers for a feature it does not have */
	ret = b->ops->device_feature(b, req, rq->len, rp->payload + sizeof(*req), rp->cap - sizeof(*req), &out_len);
	if (ret)
		return ret;
	memcpy(rp->payload, req, sizeof(*req));
	((struct vfio_user_device_feature *)rp->payload)->argsz = (uint32_t)(sizeof(*req) + out_len);
	rp->len = sizeof(*req) + out_len;
	return 0;
}

int handle_mig_data(struct session *s, struct request *rq, struct reply *rp)
{
	return -ENOTSUP; /* no migration: DEVICE_FEATURE never reported it */
}
