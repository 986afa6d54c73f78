/* echo.c: the baseline server: a minimal vfio-user responder forked on a socketpair, doing only what the socket needs. */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edu_model.h"

/*
 * Per message it does exactly this: one blocking recvmsg of the 16-byte header (MSG_WAITALL, room for one
 * SCM_RIGHTS fd), one blocking recv of the payload (MSG_WAITALL; skipped when empty), then at most one
 * sendmsg carrying the whole reply (header and payload as one iovec array). No epoll, no non-blocking
 * retry, no validation beyond what it needs to answer. What it answers:
 *   REGION_READ         the header, the access struct and count bytes of zeros
 *   REGION_WRITE        the header and the access struct (nothing if no-reply); a write of the edu
 *                       raise register signals the inherited eventfd; the DMA registers are remembered
 *   REGION_WRITE_MULTI  the header and the u64 count; a DMA command runs like edu's engine: into an
 *                       fd-backed window with memcpy, else as one DMA_READ/DMA_WRITE message of the
 *                       transfer sent before the reply, completed when the client's reply arrives;
 *                       with the IRQ bit the eventfd is signalled on completion
 *   DMA_MAP/DMA_UNMAP   the header (and the unmap struct); an fd window is mmapped, up to four kept
 *   ECHO_PUSH/ECHO_PULL raw streams for the bandwidth baseline: a 16-byte header back after the pushed
 *                       bytes, or the pulled bytes after a header
 */
#define ECHO_MAX_WINDOWS 4
#define ECHO_BUF (VFIO_USER_MAX_MSG_SIZE + 64)
#define ECHO_PUSH 0x7e01
#define ECHO_PULL 0x7e02

struct echo_window {
	uint64_t iova;
	uint64_t size;
	uint8_t *mem;
};

struct echo {
	int fd;
	int efd;
	uint16_t next_id;
	uint64_t src, dst, count, cmd;
	bool dma_irq; /* signal the eventfd when the outstanding DMA reply comes */
	uint8_t dmabuf[EDU_DMA_BUF_SIZE];
	struct echo_window win[ECHO_MAX_WINDOWS];
	uint8_t *rx;
	uint8_t *zeros;
};

static void signal_efd(struct echo *e)
{
	uint64_t one = 1;

	if (write(e->efd, &one, sizeof(one)) != sizeof(one))
		_exit(3);
}

static void send_all(struct echo *e, struct iovec *iov, int n)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	size_t total = 0;
	ssize_t k;

	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	k = sendmsg(e->fd, &mh, MSG_NOSIGNAL);
	if (k == (ssize_t)total)
		return;
	/* A large reply the socket took in parts: rare, and not on the paths the baseline times. */
	while (k >= 0 && total > (size_t)k) {
		total -= (size_t)k;
		while (mh.msg_iovlen && (size_t)k >= mh.msg_iov->iov_len) {
			k -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen) {
			mh.msg_iov->iov_base = (uint8_t *)mh.msg_iov->iov_base + k;
			mh.msg_iov->iov_len -= (size_t)k;
		}
		k = sendmsg(e->fd, &mh, MSG_NOSIGNAL);
	}
	if (k < 0)
		_exit(0); /* the client went away */
}

static void reply(struct echo *e, const struct vfio_user_header *req, const void *p1, size_t l1, const void *p2,
		  size_t l2)
{
	struct vfio_user_header h = {
		.msg_id = req->msg_id,
		.cmd = req->cmd,
		.msg_size = (uint32_t)(sizeof(h) + l1 + l2),
		.flags = VFIO_USER_F_TYPE_REPLY,
	};
	struct iovec iov[3] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)p1, .iov_len = l1 },
		{ .iov_base = (void *)p2, .iov_len = l2 },
	};

	if (req->flags & VFIO_USER_F_NO_REPLY)
		return;
	send_all(e, iov, 3);
}

static struct echo_window *find_window(struct echo *e, uint64_t iova, uint64_t len)
{
	for (int i = 0; i < ECHO_MAX_WINDOWS; i++) {
		struct echo_window *w = &e->win[i];

		if (w->mem && iova >= w->iova && iova - w->iova <= w->size && len <= w->size - (iova - w->iova))
			return w;
	}
	return NULL;
}

/* edu's DMA engine, minus its checks: count bytes between the device buffer and RAM. */
static void run_dma(struct echo *e)
{
	bool to_ram = e->cmd & EDU_DMA_CMD_TO_RAM;
	uint64_t ram = to_ram ? e->dst : e->src;
	uint64_t dev = (to_ram ? e->src : e->dst) - EDU_DMA_BUF_ADDR;
	uint32_t count = (uint32_t)e->count;
	struct echo_window *w = find_window(e, ram, count);
	struct vfio_user_dma_access acc = { .addr = ram, .count = count };
	struct vfio_user_header h = {
		.msg_id = e->next_id++,
		.cmd = to_ram ? VFIO_USER_DMA_WRITE : VFIO_USER_DMA_READ,
		.flags = VFIO_USER_F_TYPE_COMMAND,
	};
	struct iovec iov[3] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = &acc, .iov_len = sizeof(acc) },
		{ .iov_base = e->dmabuf + dev, .iov_len = to_ram ? count : 0 },
	};

	if (dev > sizeof(e->dmabuf) || count > sizeof(e->dmabuf) - dev)
		return;
	if (w) {
		uint8_t *mem = w->mem + (ram - w->iova);

		if (to_ram)
			memcpy(mem, e->dmabuf + dev, count);
		else
			memcpy(e->dmabuf + dev, mem, count);
		if (e->cmd & EDU_DMA_CMD_IRQ)
			signal_efd(e);
		return;
	}
	h.msg_size = (uint32_t)(sizeof(h) + sizeof(acc) + iov[2].iov_len);
	e->dma_irq = e->cmd & EDU_DMA_CMD_IRQ;
	send_all(e, iov, 3);
}

static void reg_write(struct echo *e, uint32_t region, uint64_t offset, const uint8_t *data, uint32_t count)
{
	uint64_t v = 0;

	if (region != VFIO_PCI_BAR0_REGION_INDEX)
		return;
	memcpy(&v, data, count < sizeof(v) ? count : sizeof(v));
	switch (offset) {
	case EDU_REG_IRQ_RAISE:
		signal_efd(e);
		break;
	case EDU_REG_DMA_SRC:
		e->src = v;
		break;
	case EDU_REG_DMA_DST:
		e->dst = v;
		break;
	case EDU_REG_DMA_COUNT:
		e->count = v;
		break;
	case EDU_REG_DMA_CMD:
		e->cmd = v;
		if (v & EDU_DMA_CMD_RUN)
			run_dma(e);
		break;
	default:
		break;
	}
}

static void handle(struct echo *e, const struct vfio_user_header *h, uint8_t *p, int fd)
{
	const struct vfio_user_region_access *acc = (const void *)p;
	const struct vfio_user_write_multi *wm = (const void *)p;
	const struct vfio_user_dma_map *map = (const void *)p;
	const struct vfio_user_dma_unmap *unmap = (const void *)p;

	switch (h->cmd) {
	case VFIO_USER_REGION_READ:
		reply(e, h, acc, sizeof(*acc), e->zeros, acc->count);
		break;
	case VFIO_USER_REGION_WRITE:
		reg_write(e, acc->region, acc->offset, acc->data, acc->count);
		reply(e, h, acc, sizeof(*acc), NULL, 0);
		break;
	case VFIO_USER_REGION_WRITE_MULTI:
		for (uint64_t i = 0; i < wm->wr_cnt; i++)
			reg_write(e, wm->wrs[i].region, wm->wrs[i].offset, wm->wrs[i].data, wm->wrs[i].count);
		reply(e, h, &wm->wr_cnt, sizeof(wm->wr_cnt), NULL, 0);
		break;
	case VFIO_USER_DMA_MAP:
		if (fd >= 0) {
			for (int i = 0; i < ECHO_MAX_WINDOWS; i++) {
				void *m;

				if (e->win[i].mem)
					continue;
				m = mmap(NULL, map->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)map->offset);
				if (m != MAP_FAILED)
					e->win[i] = (struct echo_window){ .iova = map->addr, .size = map->size, .mem = m };
				break;
			}
			close(fd);
		}
		reply(e, h, NULL, 0, NULL, 0);
		break;
	case VFIO_USER_DMA_UNMAP:
		for (int i = 0; i < ECHO_MAX_WINDOWS; i++) {
			if (e->win[i].mem && e->win[i].iova == unmap->addr && e->win[i].size == unmap->size) {
				munmap(e->win[i].mem, e->win[i].size);
				e->win[i].mem = NULL;
			}
		}
		reply(e, h, unmap, sizeof(*unmap), NULL, 0);
		break;
	case ECHO_PUSH:
		reply(e, h, NULL, 0, NULL, 0);
		break;
	case ECHO_PULL: {
		uint64_t n;

		memcpy(&n, p, sizeof(n));
		reply(e, h, e->zeros, n < VFIO_USER_SERVER_MAX_DATA_XFER ? n : VFIO_USER_SERVER_MAX_DATA_XFER, NULL,
		      0);
		break;
	}
	default:
		if (fd >= 0)
			close(fd);
		break;
	}
}

/* A reply of the client to our DMA_READ/DMA_WRITE: the data lands in the device buffer, the DMA is done. */
static void handle_dma_reply(struct echo *e, const struct vfio_user_header *h, const uint8_t *p, size_t len)
{
	if (h->cmd == VFIO_USER_DMA_READ && len >= sizeof(struct vfio_user_dma_access)) {
		uint64_t dev = e->dst - EDU_DMA_BUF_ADDR;
		size_t n = len - sizeof(struct vfio_user_dma_access);

		if (dev <= sizeof(e->dmabuf) && n <= sizeof(e->dmabuf) - dev)
			memcpy(e->dmabuf + dev, p + sizeof(struct vfio_user_dma_access), n);
	}
	if (e->dma_irq) {
		e->dma_irq = false;
		signal_efd(e);
	}
}

static void __attribute__((noreturn)) echo_loop(struct echo *e)
{
	for (;;) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} cbuf;
		struct vfio_user_header h;
		struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf.buf,
			.msg_controllen = sizeof(cbuf.buf),
		};
		struct cmsghdr *cm;
		size_t len;
		int fd = -1;

		if (recvmsg(e->fd, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC) != sizeof(h))
			_exit(0);
		cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
		if (h.msg_size < sizeof(h) || h.msg_size > ECHO_BUF)
			_exit(2);
		len = h.msg_size - sizeof(h);
		if (len && recv(e->fd, e->rx, len, MSG_WAITALL) != (ssize_t)len)
			_exit(0);
		if ((h.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY)
			handle_dma_reply(e, &h, e->rx, len);
		else
			handle(e, &h, e->rx, fd);
	}
}

int echo_launch(struct server *s, int cpu)
{
	int fd, ret;

	memset(s, 0, sizeof(*s));
	s->kind = SERVER_ECHO;
	s->name = "echo";
	s->efd = eventfd(0, EFD_CLOEXEC);
	if (s->efd < 0)
		return -errno;
	ret = server_fork(s, cpu, &fd);
	if (ret)
		return ret;
	if (s->pid == 0) {
		static struct echo e;

		e.fd = fd;
		e.efd = s->efd;
		e.rx = malloc(ECHO_BUF);
		e.zeros = calloc(1, VFIO_USER_SERVER_MAX_DATA_XFER);
		if (!e.rx || !e.zeros)
			_exit(1);
		memset(e.rx, 0, ECHO_BUF); /* resident, as the proxy's buffers are after a warm-up */
		echo_loop(&e);
	}
	ret = vuc_from_fd(fd, &s->c);
	if (ret)
		close(fd);
	return ret;
}

static int send_full(int fd, const void *p1, size_t l1, const void *p2, size_t l2)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)p1, .iov_len = l1 },
		{ .iov_base = (void *)p2, .iov_len = l2 },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = l2 ? 2 : 1 };

	while (mh.msg_iovlen) {
		ssize_t k = sendmsg(fd, &mh, MSG_NOSIGNAL);

		if (k < 0)
			return -errno;
		while (mh.msg_iovlen && (size_t)k >= mh.msg_iov->iov_len) {
			k -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen) {
			mh.msg_iov->iov_base = (uint8_t *)mh.msg_iov->iov_base + k;
			mh.msg_iov->iov_len -= (size_t)k;
		}
	}
	return 0;
}

static int recv_full(int fd, void *buf, size_t len)
{
	ssize_t k = recv(fd, buf, len, MSG_WAITALL);

	return k == (ssize_t)len ? 0 : (k < 0 ? -errno : -ECONNRESET);
}

/* The client library's socket is blocking outside its own calls: plain blocking syscalls work on it. */
int echo_push(struct server *s, const void *data, size_t size)
{
	struct vfio_user_header h = { .cmd = ECHO_PUSH, .msg_size = (uint32_t)(sizeof(h) + size) };
	int fd = vuc_socket_fd(s->c);
	int ret = send_full(fd, &h, sizeof(h), data, size);

	return ret ? ret : recv_full(fd, &h, sizeof(h));
}

int echo_pull(struct server *s, void *data, size_t size)
{
	uint64_t n = size;
	struct vfio_user_header h = { .cmd = ECHO_PULL, .msg_size = sizeof(h) + sizeof(n) };
	int fd = vuc_socket_fd(s->c);
	int ret = send_full(fd, &h, sizeof(h), &n, sizeof(n));

	if (!ret)
		ret = recv_full(fd, &h, sizeof(h));
	return ret ? ret : recv_full(fd, data, size);
}
