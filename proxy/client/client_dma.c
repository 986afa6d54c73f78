/* client_dma.c: DMA_MAP/DMA_UNMAP, the client's fd-less DMA windows and serving the server's DMA_READ/DMA_WRITE. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_priv.h"

/*
 * The window that holds all of [addr, addr+count) with the permission need. *err says why there is none:
 * EFAULT when no window holds the range, EACCES when one does but without the permission.
 */
static const struct vuc_window *find_window(const struct vuc *c, uint64_t addr, uint64_t count, uint32_t need,
					    int *err)
{
	uint64_t end;

	*err = EFAULT;
	if (__builtin_add_overflow(addr, count, &end))
		return NULL;
	for (size_t i = 0; i < c->nwindows; i++) {
		const struct vuc_window *w = &c->windows[i];

		if (addr < w->iova || end > w->iova + w->size)
			continue;
		if ((w->prot & need) == need)
			return w;
		*err = EACCES;
	}
	return NULL;
}

static int reply_dma_error(struct vuc *c, const struct vfio_user_header *req, int err)
{
	if (req->flags & VFIO_USER_F_NO_REPLY)
		return 0;
	return vuc_send_msg(c, req->msg_id, req->cmd, VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR, (uint32_t)err,
			    NULL, 0, NULL, 0);
}

/*
 * Serves one DMA_READ or DMA_WRITE (payload {u64 addr, u64 count, data at offset 16}). Returns 1 when the
 * data moved, 0 when the request was refused (error reply sent), or a negative errno if sending failed.
 */
int vuc_serve_dma(struct vuc *c, struct vuc_msg *m)
{
	const struct vfio_user_header req = m->hdr;
	bool is_read = req.cmd == VFIO_USER_DMA_READ;
	struct vfio_user_dma_access acc;
	const struct vuc_window *w;
	struct iovec iov[2];
	uint8_t *mem;
	int err, r;

	vuc_msg_close_fds(m); /* DMA requests carry no fds */
	if (m->len < sizeof(acc))
		return reply_dma_error(c, &req, EINVAL);
	memcpy(&acc, m->payload, sizeof(acc));
	if (acc.count > VUC_MAX_DATA_XFER)
		return reply_dma_error(c, &req, E2BIG);
	if (m->len != sizeof(acc) + (is_read ? 0 : acc.count))
		return reply_dma_error(c, &req, EINVAL);
	w = find_window(c, acc.addr, acc.count,
			is_read ? VFIO_USER_F_DMA_REGION_READ : VFIO_USER_F_DMA_REGION_WRITE, &err);
	if (!w)
		return reply_dma_error(c, &req, err);
	mem = (uint8_t *)w->mem + (acc.addr - w->iova);

	iov[0].iov_base = &acc;
	iov[0].iov_len = sizeof(acc);
	if (is_read) {
		iov[1].iov_base = mem;
		iov[1].iov_len = acc.count;
	} else {
		memcpy(mem, m->payload + sizeof(acc), acc.count);
	}
	c->dma_served++;
	if (req.flags & VFIO_USER_F_NO_REPLY)
		return 1;
	r = vuc_send_msg(c, req.msg_id, req.cmd, VFIO_USER_F_TYPE_REPLY, 0, iov, is_read ? 2 : 1, NULL, 0);
	return r < 0 ? r : 1;
}

static int dma_map(struct vuc *c, uint64_t iova, uint64_t size, int fd, uint64_t offset, uint32_t prot)
{
	struct vfio_user_dma_map req = {
		.argsz = sizeof(req),
		.flags = prot,
		.offset = offset,
		.addr = iova,
		.size = size,
	};
	struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
	struct vuc_msg m;
	int r;

	r = vuc_call(c, VFIO_USER_DMA_MAP, &iov, 1, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, &m);
	if (r == 0)
		vuc_msg_close_fds(&m);
	return r;
}

int vuc_dma_map_fd(struct vuc *c, uint64_t iova, uint64_t size, int fd, uint64_t offset, uint32_t prot)
{
	if (!c)
		return -EINVAL;
	return dma_map(c, iova, size, fd, offset, prot);
}

int vuc_dma_map_mem(struct vuc *c, uint64_t iova, uint64_t size, void *mem, uint32_t prot)
{
	uint64_t end;
	int r;

	if (!c || (!mem && size))
		return -EINVAL;
	/* Room first, so that a window the server accepted is always recorded. */
	if (c->nwindows == c->windows_cap) {
		size_t cap = c->windows_cap ? c->windows_cap * 2 : 8;
		struct vuc_window *w = realloc(c->windows, cap * sizeof(*w));

		if (!w)
			return -ENOMEM;
		c->windows = w;
		c->windows_cap = cap;
	}
	r = dma_map(c, iova, size, -1, 0, prot);
	if (r < 0)
		return r;
	/* A window that wraps around cannot be served; the server accepted it, so it is not an error here. */
	if (size && !__builtin_add_overflow(iova, size, &end)) {
		c->windows[c->nwindows++] = (struct vuc_window){
			.iova = iova,
			.size = size,
			.mem = mem,
			.prot = prot,
		};
	}
	return 0;
}

int vuc_dma_unmap(struct vuc *c, uint64_t iova, uint64_t size, uint32_t flags)
{
	struct vfio_user_dma_unmap req = {
		.argsz = sizeof(req),
		.flags = flags,
		.addr = iova,
		.size = size,
	};
	struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
	struct vuc_msg m;
	size_t len;
	int r;

	if (!c)
		return -EINVAL;
	r = vuc_call(c, VFIO_USER_DMA_UNMAP, &iov, 1, NULL, 0, &m);
	if (r < 0)
		return r;
	vuc_msg_close_fds(&m);
	len = m.len;

	/* The server unmapped: forget the window even if its reply is malformed. */
	if (flags & VFIO_USER_F_DMA_UNMAP_ALL) {
		c->nwindows = 0;
	} else {
		for (size_t i = 0; i < c->nwindows; i++) {
			if (c->windows[i].iova != iova || c->windows[i].size != size)
				continue;
			c->windows[i] = c->windows[--c->nwindows];
			break;
		}
	}
	return len < sizeof(req) ? -EPROTO : 0;
}
