/* dma.c: the client's DMA windows (DMA_MAP/DMA_UNMAP) and device DMA through them: direct copies for mmapped windows, DMA_READ/DMA_WRITE messages for the rest. */
#include "server/session.h"

#include <errno.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util/guarded_copy.h"
#include "util/log.h"

/* The smallest page the client may map: the lowest of the page sizes we advertised. */
static uint64_t dma_page_size(const struct session *s)
{
	uint64_t p = s->ctx->caps.pgsizes;

	return p ? p & -p : 4096u;
}

int dma_session_init(struct session *s)
{
	dma_fds_init(&s->window_fds);
	return dma_table_init(&s->windows, s->ctx->caps.max_dma_maps);
}

static void release_window(struct session *s, struct dma_window *w)
{
	struct device_backend *b = s->ctx->backend;

	if (b->ops->dma_unmap)
		b->ops->dma_unmap(b, w);
	if (w->map_base) {
		munmap(w->map_base, w->map_len);
		s->mapped_bytes -= w->map_len;
	}
	dma_fds_put(&s->window_fds, w->fd);
}

static void unmap_all(struct session *s)
{
	struct dma_window w;

	while (dma_table_pop(&s->windows, &w) == 0)
		release_window(s, &w);
}

static void complete_op(struct session *s, uint32_t idx, int status)
{
	struct dma_op *op = &s->ops[idx];
	backend_dma_done_fn done = op->done;
	void *arg = op->arg;

	op->used = false;
	done(arg, status);
}

void dma_fail_pending(struct session *s)
{
	for (uint32_t i = 0; i < SESSION_MAX_DMA_MSGS; i++)
		s->msgs[i].state = DMA_MSG_FREE;
	for (uint32_t i = 0; i < SESSION_MAX_DMA_OPS; i++)
		if (s->ops[i].used)
			complete_op(s, i, -ECONNRESET);
}

void dma_session_fini(struct session *s)
{
	dma_fail_pending(s);
	unmap_all(s);
	dma_table_fini(&s->windows);
	dma_fds_fini(&s->window_fds);
}

void dma_cancel_all(struct session *s)
{
	for (uint32_t i = 0; i < SESSION_MAX_DMA_MSGS; i++)
		if (s->msgs[i].state == DMA_MSG_ACTIVE)
			s->msgs[i].state = DMA_MSG_CANCELLED;
	/* The backend hears of each, as backend.h promises; it may start no new transfer from done(). */
	for (uint32_t i = 0; i < SESSION_MAX_DMA_OPS; i++)
		if (s->ops[i].used)
			complete_op(s, i, -ECANCELED);
}

/* Where a window's memory may live: memory that the kernel serves without asking anyone (no FUSE, no
 * network filesystem, no device that could stall a page fault in the proxy). */
static bool memory_fs(long type)
{
	return type == TMPFS_MAGIC || type == HUGETLBFS_MAGIC;
}

/*
 * Checks an fd-backed window: a regular file on memory (memfd, tmpfs, hugetlbfs) that covers
 * offset + size. Logs once per client why an fd was refused.
 */
static int check_window_fd(struct session *s, int fd, uint64_t offset, uint64_t size)
{
	struct statfs fs;
	struct stat st;

	if (fstat(fd, &st) || fstatfs(fd, &fs))
		return -errno;
	if (!S_ISREG(st.st_mode) || !memory_fs((long)fs.f_type)) {
		if (!s->warned_window_fd)
			log_warn("client's DMA_MAP fd is %s (filesystem type %#lx), not memory: only a memfd, tmpfs or "
				 "hugetlbfs file is accepted, since any other could stall the proxy on a page fault; "
				 "refused with EINVAL",
				 S_ISREG(st.st_mode) ? "a file on another filesystem" : "not a regular file",
				 (unsigned long)fs.f_type);
		s->warned_window_fd = true;
		return -EINVAL;
	}
	if (offset > (uint64_t)st.st_size || size > (uint64_t)st.st_size - offset)
		return -EINVAL;
	return 0;
}

/* The per-client cap on mapped bytes (--dma-limit). */
static int check_dma_bytes(struct session *s, uint64_t size)
{
	uint64_t max = s->ctx->max_dma_bytes;

	if (!max || (s->mapped_bytes <= max && size <= max - s->mapped_bytes))
		return 0;
	if (!s->warned_dma_bytes)
		log_warn("client maps %llu bytes for DMA and asks for %llu more, past the limit of %llu "
			 "(--dma-limit): refused with ENOMEM",
			 (unsigned long long)s->mapped_bytes, (unsigned long long)size, (unsigned long long)max);
	s->warned_dma_bytes = true;
	return -ENOMEM;
}

int handle_dma_map(struct session *s, struct request *rq, struct reply *rp)
{
	const struct vfio_user_dma_map *m = (const void *)rq->payload;
	struct device_backend *b = s->ctx->backend;
	struct dma_window w = { .iova = m->addr, .size = m->size, .prot = m->flags, .fd = -1, .offset = m->offset };
	const uint32_t prot_mask = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
	int ret;

	if (m->argsz < sizeof(*m) || (m->flags & ~prot_mask) || !(m->flags & prot_mask))
		return -EINVAL;
	if (m->size == 0 || ((m->addr | m->size) & (dma_page_size(s) - 1)) || m->size - 1 > UINT64_MAX - m->addr)
		return -EINVAL;
	if (dma_table_count(&s->windows) >= s->ctx->caps.max_dma_maps) {
		if (!s->warned_windows)
			log_warn("client holds %u DMA windows, the most it may: further DMA_MAPs get ENOSPC",
				 s->ctx->caps.max_dma_maps);
		s->warned_windows = true;
		return -ENOSPC;
	}
	if (rq->nfds == 1) {
		int fd = rq->fds[0];
		int mprot = PROT_READ | ((m->flags & VFIO_USER_F_DMA_REGION_WRITE) ? PROT_WRITE : 0);
		void *p;

		if (m->offset & (dma_page_size(s) - 1) || m->size > SIZE_MAX)
			return -EINVAL;
		ret = check_window_fd(s, fd, m->offset, m->size);
		if (!ret)
			ret = check_dma_bytes(s, m->size);
		if (ret)
			return ret;
		p = mmap(NULL, m->size, mprot, MAP_SHARED, fd, (off_t)m->offset);
		if (p == MAP_FAILED)
			return -errno;
		w.vaddr = p;
		w.map_base = p;
		w.map_len = m->size;
		s->mapped_bytes += w.map_len;
		/* Kept (one fd per file, shared by its windows): a hand-over maps the same memory again from it. */
		w.fd = dma_fds_get(&s->window_fds, fd, false);
		if (w.fd < 0) {
			ret = w.fd;
			goto fail;
		}
		rq->fds[0] = -1;
	}
	ret = dma_table_insert(&s->windows, &w);
	if (ret)
		goto fail;
	if (b->ops->dma_map) {
		ret = b->ops->dma_map(b, &w);
		if (ret) {
			dma_table_remove(&s->windows, w.iova, w.size, NULL);
			goto fail;
		}
	}
	log_debug("DMA window %#llx+%#llx %s%s%s", (unsigned long long)w.iova, (unsigned long long)w.size,
		  w.prot & VFIO_USER_F_DMA_REGION_READ ? "r" : "", w.prot & VFIO_USER_F_DMA_REGION_WRITE ? "w" : "",
		  w.vaddr ? " mapped" : " via messages");
	rp->len = 0;
	return 0;
fail:
	if (w.map_base) {
		munmap(w.map_base, w.map_len);
		s->mapped_bytes -= w.map_len;
	}
	dma_fds_put(&s->window_fds, w.fd);
	return ret;
}

int dma_restore_window(struct session *s, const struct dma_window *in)
{
	struct dma_window w = *in;
	int ret;

	w.vaddr = w.map_base = NULL;
	w.map_len = 0;
	if (w.fd >= 0) {
		int mprot = PROT_READ | ((w.prot & VFIO_USER_F_DMA_REGION_WRITE) ? PROT_WRITE : 0);
		void *p;

		if (w.size > SIZE_MAX || ((w.iova | w.size | w.offset) & (dma_page_size(s) - 1)))
			return -EINVAL;
		ret = check_window_fd(s, w.fd, w.offset, w.size);
		if (ret)
			return ret;
		p = mmap(NULL, w.size, mprot, MAP_SHARED, w.fd, (off_t)w.offset);
		if (p == MAP_FAILED)
			return -errno;
		w.vaddr = w.map_base = p;
		w.map_len = w.size;
		ret = dma_fds_get(&s->window_fds, w.fd, true);
		if (ret < 0) {
			munmap(p, w.map_len);
			return ret;
		}
	}
	/* On failure the fd stays open (and counted): the state's fds go to a fallback untouched. */
	ret = dma_table_insert(&s->windows, &w);
	if (ret) {
		if (w.map_base)
			munmap(w.map_base, w.map_len);
		return ret;
	}
	s->mapped_bytes += w.map_len;
	return 0;
}

bool dma_idle(const struct session *s)
{
	for (uint32_t i = 0; i < SESSION_MAX_DMA_MSGS; i++)
		if (s->msgs[i].state != DMA_MSG_FREE)
			return false;
	for (uint32_t i = 0; i < SESSION_MAX_DMA_OPS; i++)
		if (s->ops[i].used)
			return false;
	return true;
}

int handle_dma_unmap(struct session *s, struct request *rq, struct reply *rp)
{
	const struct vfio_user_dma_unmap *u = (const void *)rq->payload;
	struct dma_window w;
	int ret;

	if (u->argsz < sizeof(*u) || (u->flags & ~VFIO_USER_F_DMA_UNMAP_ALL))
		return -EINVAL;
	if (u->flags & VFIO_USER_F_DMA_UNMAP_ALL) {
		if (u->addr || u->size)
			return -EINVAL;
		unmap_all(s);
	} else {
		ret = dma_table_remove(&s->windows, u->addr, u->size, &w);
		if (ret)
			return ret;
		release_window(s, &w);
	}
	memcpy(rp->payload, u, sizeof(*u));
	rp->len = sizeof(*u);
	return 0;
}

/* One piece of a transfer: [iova, iova+len) inside window w. */
struct dma_seg {
	const struct dma_window *w;
	uint64_t iova;
	size_t len;
};

static int alloc_msg(struct session *s)
{
	for (uint32_t i = 0; i < SESSION_MAX_DMA_MSGS; i++)
		if (s->msgs[i].state == DMA_MSG_FREE)
			return (int)i;
	return -EBUSY;
}

static uint32_t free_msgs(const struct session *s)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < SESSION_MAX_DMA_MSGS; i++)
		n += s->msgs[i].state == DMA_MSG_FREE;
	return n;
}

/* A message id no outstanding (or cancelled, still unanswered) request of ours carries, so replies match one. */
static uint16_t next_free_id(struct session *s)
{
	for (;;) {
		uint16_t id = s->next_msg_id++;
		bool taken = false;

		for (uint32_t i = 0; i < SESSION_MAX_DMA_MSGS && !taken; i++)
			taken = s->msgs[i].state != DMA_MSG_FREE && s->msgs[i].msg_id == id;
		if (!taken)
			return id;
	}
}

/* Sends one DMA_READ or DMA_WRITE for [addr, addr+count) on behalf of op. */
static int send_dma_msg(struct session *s, uint32_t op, uint64_t addr, uint8_t *data, uint32_t count, bool to_client)
{
	int idx = alloc_msg(s);
	struct dma_msg *m;
	struct vfio_user_header hdr;
	struct vfio_user_dma_access acc = { .addr = addr, .count = count };
	size_t prefix = sizeof(acc);
	int ret;

	if (idx < 0)
		return idx;
	m = &s->msgs[idx];
	m->state = DMA_MSG_ACTIVE;
	m->msg_id = next_free_id(s);
	m->cmd = to_client ? VFIO_USER_DMA_WRITE : VFIO_USER_DMA_READ;
	m->op = op;
	m->count = count;
	m->addr = addr;
	m->dst = to_client ? NULL : data;

	hdr.msg_id = m->msg_id;
	hdr.cmd = m->cmd;
	hdr.flags = VFIO_USER_F_TYPE_COMMAND;
	hdr.error_no = 0;
	if (!to_client) {
		hdr.msg_size = (uint32_t)(sizeof(hdr) + prefix);
		ret = session_send(s, &hdr, &acc, prefix, NULL, 0, -1);
	} else {
		hdr.msg_size = (uint32_t)(sizeof(hdr) + prefix + count);
		ret = session_send(s, &hdr, &acc, prefix, data, count, -1);
	}
	if (ret) {
		m->state = DMA_MSG_FREE;
		s->drop = true;
	}
	return ret;
}

int dma_host_access(void *host, uint64_t iova, void *buf, size_t len, bool to_client, backend_dma_done_fn done,
		    void *arg)
{
	struct session *s = host;
	uint32_t need = to_client ? VFIO_USER_F_DMA_REGION_WRITE : VFIO_USER_F_DMA_REGION_READ;
	struct dma_seg segs[8];
	uint32_t nsegs = 0, nmsgs = 0, op = 0, xfer;
	uint64_t a = iova;
	size_t left = len, off = 0;
	int ret;

	if (!s || !s->versioned)
		return -EFAULT;
	if (len == 0)
		return 0;
	if (len - 1 > UINT64_MAX - iova)
		return -EFAULT;
	xfer = s->caps.max_data_xfer_size;
	/* First find every window the transfer touches: nothing moves unless all of it is allowed. */
	while (left) {
		const struct dma_window *w = dma_table_find(&s->windows, a);
		uint64_t in_window;
		size_t chunk;

		if (!w)
			return -EFAULT;
		if (!(w->prot & need))
			return -EACCES;
		if (nsegs == sizeof(segs) / sizeof(segs[0]))
			return -EFAULT; /* a transfer spread over this many windows is not a device's */
		in_window = w->size - (a - w->iova);
		chunk = left < in_window ? left : (size_t)in_window;
		segs[nsegs++] = (struct dma_seg){ .w = w, .iova = a, .len = chunk };
		if (!w->vaddr)
			nmsgs += (uint32_t)((chunk + xfer - 1) / xfer);
		a += chunk;
		left -= chunk;
	}
	if (nmsgs) {
		for (op = 0; op < SESSION_MAX_DMA_OPS && s->ops[op].used; op++)
			;
		if (op == SESSION_MAX_DMA_OPS || nmsgs > free_msgs(s)) {
			if (!s->warned_dma_busy)
				log_warn("client leaves %u DMA_READ/DMA_WRITE requests unanswered; the device's DMA fails "
					 "until it answers",
					 SESSION_MAX_DMA_MSGS - free_msgs(s));
			s->warned_dma_busy = true;
			return -EBUSY;
		}
		s->ops[op] = (struct dma_op){ .used = true, .done = done, .arg = arg };
	}
	for (uint32_t i = 0; i < nsegs; i++) {
		const struct dma_seg *g = &segs[i];
		uint8_t *p = (uint8_t *)buf + off;

		if (g->w->vaddr) {
			uint8_t *mem = (uint8_t *)g->w->vaddr + (g->iova - g->w->iova);

			ret = to_client ? guarded_copy(mem, p, g->len) : guarded_copy(p, mem, g->len);
			if (ret && !nmsgs)
				return ret;
			if (ret)
				s->ops[op].status = ret;
		} else {
			for (size_t done_len = 0; done_len < g->len;) {
				uint32_t n = (uint32_t)(g->len - done_len < xfer ? g->len - done_len : xfer);

				ret = send_dma_msg(s, op, g->iova + done_len, p + done_len, n, to_client);
				if (ret) {
					s->ops[op].status = ret;
					break;
				}
				s->ops[op].outstanding++;
				done_len += n;
			}
		}
		off += g->len;
	}
	if (!nmsgs)
		return 0;
	if (s->ops[op].outstanding == 0) {
		/* nothing went out: fail now rather than never */
		ret = s->ops[op].status ? s->ops[op].status : -EIO;
		s->ops[op].used = false;
		return ret;
	}
	return 1;
}

int dma_handle_reply(struct session *s, const struct vfio_user_header *hdr, const uint8_t *payload, size_t len)
{
	struct dma_msg *m = NULL;
	struct dma_op *op;
	int status = 0;

	for (uint32_t i = 0; i < SESSION_MAX_DMA_MSGS; i++) {
		if (s->msgs[i].state != DMA_MSG_FREE && s->msgs[i].msg_id == hdr->msg_id && s->msgs[i].cmd == hdr->cmd) {
			m = &s->msgs[i];
			break;
		}
	}
	if (!m) {
		log_warn("client sent a reply (%s, msg %u) to no request of ours; disconnecting it",
			 vfio_user_command_name(hdr->cmd), hdr->msg_id);
		return -EPROTO;
	}
	if (m->state == DMA_MSG_CANCELLED) {
		m->state = DMA_MSG_FREE;
		return 0;
	}
	if (hdr->flags & VFIO_USER_F_ERROR) {
		status = hdr->error_no && hdr->error_no < 4096 ? -(int)hdr->error_no : -EIO;
	} else if (m->cmd == VFIO_USER_DMA_READ) {
		if (len < sizeof(struct vfio_user_dma_access) + m->count) {
			log_warn("client's DMA_READ reply holds %zu bytes, %u expected; disconnecting it", len,
				 m->count);
			m->state = DMA_MSG_FREE;
			s->ops[m->op].status = -EPROTO;
			if (--s->ops[m->op].outstanding == 0)
				complete_op(s, m->op, s->ops[m->op].status);
			return -EPROTO;
		}
		memcpy(m->dst, payload + sizeof(struct vfio_user_dma_access), m->count);
	}
	m->state = DMA_MSG_FREE;
	op = &s->ops[m->op];
	if (status && !op->status)
		op->status = status;
	if (--op->outstanding == 0)
		complete_op(s, m->op, op->status);
	return 0;
}
