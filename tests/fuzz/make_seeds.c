/* make_seeds.c: writes the fuzz seed corpus: what the client library sends to a session, recorded through a relay, and the VERSION proposals of real clients. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "client/client.h"
#include "edu_model.h"
#include "fuzz_input.h"
#include "server/session.h"
#include "util/log.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define BAR2 (VFIO_PCI_BAR0_REGION_INDEX + 2)
#define BAR4 (VFIO_PCI_BAR0_REGION_INDEX + 4)
#define CFG VFIO_PCI_CONFIG_REGION_INDEX
#define WIN_IOVA 0x100000ull
#define WIN_SIZE 0x10000ull /* 64 KiB: FUZZ_MEMFD_UNIT << 4 */
#define WIN_PARAM 4u
#define BIG_SOCKBUF (8 << 20)
#define MAX_SEED (4u << 20)

/* The VERSION proposals of the clients the README names (payload after the header). */
#define QEMU_JSON                                                                                         \
	"{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,\"pgsizes\":4096,"          \
	"\"max_dma_maps\":65535,\"migration\":{\"pgsize\":4096,\"max_bitmap_size\":268435456}}}"
#define RUST_VMM_JSON \
	"{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,\"migration\":{\"pgsize\":4096}}}"
#define ALIOTH_JSON "{\"capabilities\":{\"max_fds\":8,\"max_msg_fds\":8,\"max_data_xfer_size\":1048576}}"

static const char *outdir;
static int failures;

/* ---- the seed being recorded: the client's messages, and the fds that came with each ---- */

#define MAX_MSGS 4096u

struct seed {
	uint8_t *buf; /* the messages back to back */
	size_t len;
	struct {
		uint8_t ctl;
		size_t off;
		size_t len;
	} msgs[MAX_MSGS];
	unsigned int nmsgs;
};

static void record(struct seed *sd, uint8_t ctl, const uint8_t *msg, size_t len)
{
	if (sd->len + len > MAX_SEED || sd->nmsgs == MAX_MSGS) {
		fprintf(stderr, "make_seeds: seed too large\n");
		exit(1);
	}
	sd->msgs[sd->nmsgs].ctl = ctl;
	sd->msgs[sd->nmsgs].off = sd->len;
	sd->msgs[sd->nmsgs].len = len;
	sd->nmsgs++;
	memcpy(sd->buf + sd->len, msg, len);
	sd->len += len;
}

struct out {
	uint8_t *buf;
	size_t len;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->len + n > 2 * MAX_SEED) {
		fprintf(stderr, "make_seeds: seed too large\n");
		exit(1);
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

/* One message as records of at most 65535 bytes; the fds go with the first. */
static void put_message(struct out *o, uint8_t ctl, const uint8_t *msg, size_t len)
{
	do {
		size_t n = len > 0xffff ? 0xffff : len;
		uint8_t rec[3] = { ctl, (uint8_t)n, (uint8_t)(n >> 8) };

		put(o, rec, sizeof(rec));
		put(o, msg, n);
		msg += n;
		len -= n;
		ctl &= (uint8_t)~FUZZ_CTL_KIND_MASK;
	} while (len);
}

static void write_file(const char *sub, const char *name, const void *p, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "make_seeds: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* What the fuzz harness must create to stand in for the fds the client sent with a message. */
static uint8_t describe_fds(const int *fds, size_t n)
{
	unsigned int events = 0, memfds = 0, param = 0;

	for (size_t i = 0; i < n; i++) {
		char path[64], target[128];
		ssize_t k;
		struct stat st;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[i]);
		k = readlink(path, target, sizeof(target) - 1);
		target[k < 0 ? 0 : k] = '\0';
		if (strcmp(target, "anon_inode:[eventfd]") == 0) {
			events++;
		} else if (strncmp(target, "/memfd:", 7) == 0 && fstat(fds[i], &st) == 0) {
			memfds++;
			while (param < FUZZ_CTL_PARAM_MASK && ((off_t)FUZZ_MEMFD_UNIT << param) < st.st_size)
				param++;
		}
	}
	if (memfds == 1 && n == 1)
		return FUZZ_CTL(FUZZ_FD_MEMFD, param, 0);
	if (events == n && n >= 1 && n <= 8)
		return FUZZ_CTL(FUZZ_FD_EVENTFDS, n - 1, 0);
	if (n) {
		fprintf(stderr, "make_seeds: the client sent %zu fds the fuzz input format cannot describe\n", n);
		exit(1);
	}
	return 0;
}

/* ---- the relay: client <-> recorder <-> session ---- */

struct relay {
	struct server_ctx *ctx;
	struct session s;
	int cli;  /* our end of the client's socket */
	int srv;  /* our end of the session's socket */
	struct seed sd;
	uint8_t *msg;
};

static void force_bufs(int fd)
{
	int sz = BIG_SOCKBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* recvmsg of up to len bytes, appending any fds to fds/nfds. */
static ssize_t recv_fds(int fd, void *buf, size_t len, int *fds, size_t *nfds, int flags)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(64 * sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b,
			    .msg_controllen = sizeof(control.b) };
	ssize_t n = recvmsg(fd, &m, flags | MSG_CMSG_CLOEXEC);

	if (n <= 0)
		return n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < k && *nfds < 64; i++)
			memcpy(&fds[(*nfds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	return n;
}

static void send_fds(int fd, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(64 * sizeof(int))];
	} control;
	size_t done = 0;

	while (done < len) {
		struct iovec iov = { .iov_base = (uint8_t *)buf + done, .iov_len = len - done };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (done == 0 && nfds) {
			struct cmsghdr *c;

			memset(&control, 0, sizeof(control));
			m.msg_control = control.b;
			m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
			c = CMSG_FIRSTHDR(&m);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
			memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
		}
		n = sendmsg(fd, &m, MSG_NOSIGNAL);
		if (n < 0) {
			fprintf(stderr, "make_seeds: relay send failed: %s\n", strerror(errno));
			exit(1);
		}
		done += (size_t)n;
	}
}

/* Everything the session wrote goes on to the client, fds included. */
static void forward_replies(struct relay *r)
{
	static uint8_t buf[1 << 16];
	int fds[64];

	for (;;) {
		size_t nfds = 0;
		ssize_t n = recv_fds(r->srv, buf, sizeof(buf), fds, &nfds, MSG_DONTWAIT);

		if (n <= 0)
			return;
		send_fds(r->cli, buf, (size_t)n, fds, nfds);
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
	}
}

/* Reads exactly len bytes of the client's stream (blocking), collecting fds. 0 at a clean end of stream. */
static int read_exact(struct relay *r, uint8_t *buf, size_t len, int *fds, size_t *nfds)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd p[2] = { { .fd = r->cli, .events = POLLIN }, { .fd = r->srv, .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, 10000) <= 0) {
			fprintf(stderr, "make_seeds: relay stalled\n");
			exit(1);
		}
		if (p[1].revents & POLLIN)
			forward_replies(r);
		if (!(p[0].revents & (POLLIN | POLLHUP)))
			continue;
		n = recv_fds(r->cli, buf + done, len - done, fds, nfds, MSG_DONTWAIT);
		if (n == 0 && done == 0)
			return 0;
		if (n == 0) {
			fprintf(stderr, "make_seeds: the client stopped mid-message\n");
			exit(1);
		}
		if (n > 0)
			done += (size_t)n;
	}
	return 1;
}

/* Relays and records the client's messages until it closes its socket. */
static void relay_run(struct relay *r)
{
	for (;;) {
		struct vfio_user_header h;
		int fds[64];
		size_t nfds = 0, len;

		if (!read_exact(r, (uint8_t *)&h, sizeof(h), fds, &nfds))
			return;
		if (h.msg_size < sizeof(h) || h.msg_size > VFIO_USER_MAX_MSG_SIZE) {
			fprintf(stderr, "make_seeds: the client sent a message of %u bytes\n", h.msg_size);
			exit(1);
		}
		len = h.msg_size;
		memcpy(r->msg, &h, sizeof(h));
		if (len > sizeof(h))
			read_exact(r, r->msg + sizeof(h), len - sizeof(h), fds, &nfds);
		record(&r->sd, describe_fds(fds, nfds), r->msg, len);
		send_fds(r->srv, r->msg, len, fds, nfds);
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		if (session_on_readable(&r->s) < 0) {
			fprintf(stderr, "make_seeds: the session dropped the recorded client\n");
			exit(1);
		}
		forward_replies(r);
	}
}

/* ---- scenarios: the client library at work ---- */

typedef int (*scenario_fn)(struct vuc *c);

struct job {
	scenario_fn fn;
	struct vuc *c;
	int ret;
};

static void *client_thread(void *arg)
{
	struct job *j = arg;

	vuc_set_timeout(j->c, 5000);
	j->ret = j->fn(j->c);
	vuc_close(j->c);
	return NULL;
}

#define CHECK(expr)                                                                        \
	do {                                                                               \
		int r_ = (expr);                                                           \
		if (r_ < 0) {                                                              \
			fprintf(stderr, "make_seeds: %s: %s\n", #expr, strerror(-r_));     \
			return r_;                                                         \
		}                                                                          \
	} while (0)

static int set_command(struct vuc *c, uint16_t bits)
{
	uint16_t cmd;

	CHECK(vuc_config_read(c, 4, &cmd, 2));
	cmd |= bits;
	return vuc_config_write(c, 4, &cmd, 2);
}

/* Runs the edu DMA engine once: RAM at iova to the device buffer (or back) and waits for it. */
static int edu_dma(struct vuc *c, uint64_t iova, uint32_t count, bool to_ram)
{
	uint64_t cmd = EDU_DMA_CMD_RUN | EDU_DMA_CMD_IRQ | (to_ram ? EDU_DMA_CMD_TO_RAM : 0);

	CHECK(vuc_write64(c, BAR0, EDU_REG_DMA_SRC, to_ram ? EDU_DMA_BUF_ADDR : iova));
	CHECK(vuc_write64(c, BAR0, EDU_REG_DMA_DST, to_ram ? iova : EDU_DMA_BUF_ADDR));
	CHECK(vuc_write64(c, BAR0, EDU_REG_DMA_COUNT, count));
	CHECK(vuc_write64(c, BAR0, EDU_REG_DMA_CMD, cmd));
	for (int i = 0; i < 100; i++) {
		CHECK(vuc_read64(c, BAR0, EDU_REG_DMA_CMD, &cmd));
		if (!(cmd & EDU_DMA_CMD_RUN))
			return 0;
		CHECK(vuc_poll(c, 10));
	}
	return -ETIMEDOUT;
}

static int sc_info(struct vuc *c)
{
	struct vfio_user_device_info info;
	uint8_t caps[256];

	CHECK(vuc_negotiate(c, NULL));
	CHECK(vuc_device_info(c, &info));
	for (uint32_t i = 0; i < info.num_regions; i++) {
		struct vfio_user_region_info ri;
		size_t caps_len;
		int fd;

		CHECK(vuc_region_info(c, i, &ri, caps, sizeof(caps), &caps_len, &fd));
		if (fd >= 0)
			close(fd);
	}
	for (uint32_t i = 0; i < info.num_irqs; i++) {
		struct vfio_user_irq_info ii;

		CHECK(vuc_irq_info(c, i, &ii));
	}
	for (uint32_t off = 0; off < 0x100; off += 4) {
		uint32_t v;

		CHECK(vuc_config_read(c, off, &v, 4));
	}
	return 0;
}

static int sc_region_rw(struct vuc *c)
{
	struct vfio_user_write_one wrs[3] = {
		{ .offset = EDU_REG_LIVENESS, .region = BAR0, .count = 4, .data = { 1, 2, 3, 4 } },
		{ .offset = EDU_REG_FACT, .region = BAR0, .count = 4, .data = { 5 } },
		{ .offset = 0x10, .region = BAR4, .count = 8, .data = { 1, 2, 3, 4, 5, 6, 7, 8 } },
	};
	uint8_t page[512];
	uint32_t v;
	uint64_t q;

	CHECK(vuc_negotiate(c, NULL));
	CHECK(vuc_read32(c, BAR0, EDU_REG_ID, &v));
	CHECK(vuc_write32(c, BAR0, EDU_REG_LIVENESS, 0x12345678));
	CHECK(vuc_read32(c, BAR0, EDU_REG_LIVENESS, &v));
	CHECK(vuc_write32(c, BAR0, EDU_REG_STATUS, EDU_STATUS_IRQ_FACT));
	CHECK(vuc_write32(c, BAR0, EDU_REG_FACT, 10));
	CHECK(vuc_read32(c, BAR0, EDU_REG_FACT, &v));
	for (uint32_t i = 0; i < 8; i++) {
		v = i;
		CHECK(vuc_region_write(c, BAR0, EDU_REG_LIVENESS, &v, 4, true));
	}
	CHECK(vuc_region_write_multi(c, wrs, 3));
	memset(page, 0x5a, sizeof(page));
	CHECK(vuc_region_write(c, BAR4, 0x1000, page, sizeof(page), false));
	CHECK(vuc_region_read(c, BAR4, 0x1000, page, sizeof(page)));
	CHECK(vuc_region_read(c, BAR4, 0x80000, page, 16)); /* the trapped page */
	CHECK(vuc_read64(c, BAR2, 0, &q));
	CHECK(vuc_write32(c, BAR2, 12, 0));
	CHECK(vuc_read64(c, BAR2, EDU_MSIX_PBA_OFFSET, &q));
	CHECK(vuc_region_write(c, BAR0, EDU_DMA_BUF_ADDR, page, 8, false));
	CHECK(vuc_reset(c));
	return 0;
}

static int sc_dma_fd(struct vuc *c)
{
	void *mem;
	int fd = memfd_create("seed-win", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, WIN_SIZE))
		return -errno;
	mem = mmap(NULL, WIN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	memset(mem, 0x3c, WIN_SIZE);
	CHECK(vuc_negotiate(c, NULL));
	CHECK(set_command(c, 0x4));
	CHECK(vuc_dma_map_fd(c, WIN_IOVA, WIN_SIZE, fd, 0,
			     VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE));
	CHECK(edu_dma(c, WIN_IOVA + 0x100, 256, false));
	CHECK(edu_dma(c, WIN_IOVA + 0x2000, 256, true));
	CHECK(vuc_dma_unmap(c, WIN_IOVA, WIN_SIZE, 0));
	CHECK(vuc_dma_map_fd(c, WIN_IOVA, 0x1000, fd, 0x1000, VFIO_USER_F_DMA_REGION_READ));
	CHECK(vuc_dma_unmap(c, 0, 0, VFIO_USER_F_DMA_UNMAP_ALL));
	munmap(mem, WIN_SIZE);
	close(fd);
	return 0;
}

static int dma_mem_run(struct vuc *c)
{
	static uint8_t mem[WIN_SIZE];

	memset(mem, 0x7e, sizeof(mem));
	CHECK(set_command(c, 0x4));
	CHECK(vuc_dma_map_mem(c, WIN_IOVA * 2, WIN_SIZE, mem,
			      VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE));
	CHECK(edu_dma(c, WIN_IOVA * 2 + 0x40, 128, false));
	CHECK(edu_dma(c, WIN_IOVA * 2 + 0x1000, 128, true));
	CHECK(vuc_dma_unmap(c, WIN_IOVA * 2, WIN_SIZE, 0));
	return 0;
}

static int sc_dma_mem(struct vuc *c)
{
	CHECK(vuc_negotiate(c, NULL));
	return dma_mem_run(c);
}

static int sc_irqs(struct vuc *c)
{
	int efd[8], one[1];
	uint8_t bools[1] = { 1 };
	uint32_t msix = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;

	for (int i = 0; i < 8; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(vuc_negotiate(c, NULL));
	CHECK(set_command(c, 0x4));
	/* MSI */
	CHECK(vuc_set_irqs(c, VFIO_PCI_MSI_IRQ_INDEX, msix, 0, 1, efd, NULL));
	CHECK(vuc_write32(c, BAR0, EDU_REG_IRQ_RAISE, 1));
	CHECK(vuc_write32(c, BAR0, EDU_REG_IRQ_ACK, 1));
	CHECK(vuc_set_irqs(c, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0,
			   NULL, NULL));
	/* MSI-X, all vectors, then a de-assignment without fds */
	CHECK(vuc_set_irqs(c, VFIO_PCI_MSIX_IRQ_INDEX, msix, 0, 8, efd, NULL));
	CHECK(vuc_write32(c, BAR0, EDU_REG_IRQ_VECTOR, 3));
	CHECK(vuc_write32(c, BAR0, EDU_REG_IRQ_RAISE, 1));
	CHECK(vuc_set_irqs(c, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, 3, 1,
			   NULL, bools));
	CHECK(vuc_set_irqs(c, VFIO_PCI_MSIX_IRQ_INDEX, msix, 2, 2, NULL, NULL));
	CHECK(vuc_set_irqs(c, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0,
			   NULL, NULL));
	/* INTx with mask and unmask eventfds, as QEMU sets it up */
	one[0] = efd[0];
	CHECK(vuc_set_irqs(c, VFIO_PCI_INTX_IRQ_INDEX, msix, 0, 1, one, NULL));
	one[0] = efd[1];
	CHECK(vuc_set_irqs(c, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 0, 1,
			   one, NULL));
	CHECK(vuc_set_irqs(c, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, 0, 1,
			   NULL, NULL));
	CHECK(vuc_write32(c, BAR0, EDU_REG_IRQ_RAISE, 1));
	CHECK(vuc_set_irqs(c, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_UNMASK, 0, 1,
			   NULL, bools));
	CHECK(vuc_write32(c, BAR0, EDU_REG_IRQ_ACK, 1));
	/* ERR and REQ */
	one[0] = efd[2];
	CHECK(vuc_set_irqs(c, VFIO_PCI_ERR_IRQ_INDEX, msix, 0, 1, one, NULL));
	one[0] = efd[3];
	CHECK(vuc_set_irqs(c, VFIO_PCI_REQ_IRQ_INDEX, msix, 0, 1, one, NULL));
	for (int i = 0; i < 8; i++)
		close(efd[i]);
	return 0;
}

static int sc_odd(struct vuc *c)
{
	struct vfio_user_header h;
	uint8_t buf[64] = { 0 }, reply[256];
	struct vfio_user_version v = { .major = 0, .minor = 2 };
	struct vfio_user_device_feature feat = { .argsz = sizeof(feat), .flags = 0x10000 | 1 };
	struct vfio_user_mig_data mig = { .argsz = sizeof(mig), .size = 16 };
	struct vfio_user_region_io_fds_request io = { .argsz = sizeof(io), .index = 0 };
	struct vfio_user_dma_access acc = { .addr = WIN_IOVA, .count = 8 };
	uint8_t big[64];
	size_t len;

	CHECK(vuc_negotiate(c, NULL));
	vuc_request_raw(c, VFIO_USER_DEVICE_FEATURE, 0, &feat, sizeof(feat), NULL, 0, &h, reply, sizeof(reply), &len,
			NULL, NULL);
	vuc_request_raw(c, VFIO_USER_MIG_DATA_READ, 0, &mig, sizeof(mig), NULL, 0, &h, reply, sizeof(reply), &len,
			NULL, NULL);
	vuc_request_raw(c, VFIO_USER_MIG_DATA_WRITE, 0, &mig, sizeof(mig), NULL, 0, &h, reply, sizeof(reply), &len,
			NULL, NULL);
	vuc_request_raw(c, VFIO_USER_DEVICE_GET_REGION_IO_FDS, 0, &io, sizeof(io), NULL, 0, &h, reply, sizeof(reply),
			&len, NULL, NULL);
	vuc_request_raw(c, VFIO_USER_DIRTY_PAGES_RETIRED, 0, buf, 16, NULL, 0, &h, reply, sizeof(reply), &len, NULL,
			NULL);
	vuc_request_raw(c, 0x77, 0, NULL, 0, NULL, 0, &h, reply, sizeof(reply), &len, NULL, NULL);
	vuc_request_raw(c, VFIO_USER_DMA_READ, 0, &acc, sizeof(acc), NULL, 0, &h, reply, sizeof(reply), &len, NULL,
			NULL);
	vuc_request_raw(c, VFIO_USER_VERSION, 0, &v, sizeof(v), NULL, 0, &h, reply, sizeof(reply), &len, NULL, NULL);
	/* refusals: bad region, beyond a region, too large, a write whose payload is short */
	vuc_region_read(c, 9, 0, big, 4);
	vuc_region_read(c, BAR0, EDU_BAR_REGS_SIZE - 2, big, 4);
	vuc_region_read(c, BAR2, 0, big, 0);
	vuc_dma_unmap(c, 0x5000, 0x1000, 0);
	vuc_dma_map_mem(c, 0x1001, 0x1000, big, VFIO_USER_F_DMA_REGION_READ);
	vuc_set_irqs(c, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, 0, 1, NULL, NULL);
	return 0;
}

/* A write that spans two input records, and the largest read (its reply is 1 MiB). */
static int sc_big(struct vuc *c)
{
	size_t n = 1u << 20;
	uint8_t *p = malloc(n);
	int ret;

	if (!p)
		return -ENOMEM;
	memset(p, 0x11, n);
	ret = vuc_negotiate(c, NULL);
	if (!ret)
		ret = vuc_region_write(c, BAR4, 0x100, p, 70000, false);
	if (!ret)
		ret = vuc_region_read(c, BAR4, 0, p, (uint32_t)n);
	free(p);
	return ret;
}

/* The clients the README names: their VERSION, then a little of everything including fd-less DMA. */
static int version_then_work(struct vuc *c, uint16_t minor, const char *json)
{
	struct vfio_user_device_info info;
	uint32_t v;

	CHECK(vuc_negotiate_custom(c, 0, minor, json, NULL));
	CHECK(vuc_device_info(c, &info));
	CHECK(vuc_read32(c, BAR0, EDU_REG_ID, &v));
	return dma_mem_run(c);
}

static int sc_qemu(struct vuc *c)
{
	return version_then_work(c, 0, QEMU_JSON);
}

static int sc_spdk(struct vuc *c)
{
	return version_then_work(c, 1, NULL);
}

static int sc_rust_vmm(struct vuc *c)
{
	return version_then_work(c, 1, RUST_VMM_JSON);
}

static int sc_alioth(struct vuc *c)
{
	return version_then_work(c, 2, ALIOTH_JSON);
}

/* ---- running a scenario and writing its seeds ---- */

static bool is_reply(const struct seed *sd, unsigned int i)
{
	struct vfio_user_header h;

	memcpy(&h, sd->buf + sd->msgs[i].off, sizeof(h));
	return (h.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY;
}

/*
 * Writes the recorded messages as a fuzz input. answer: drop the client's replies to the server's DMA
 * requests and let the harness answer instead (enum fuzz_answer); memfd_kind: what stands in for a
 * window's memfd (FUZZ_FD_MEMFD as recorded, FUZZ_FD_MEMFD_SHRINK, FUZZ_FD_ODD). Returns whether the
 * variant differs from the recording.
 */
static bool write_seed(const char *name, const struct seed *sd, unsigned int answer, unsigned int memfd_kind)
{
	struct out o = { .buf = malloc(2 * MAX_SEED) };
	bool differs = false;

	if (!o.buf)
		exit(1);
	for (unsigned int i = 0; i < sd->nmsgs; i++) {
		uint8_t ctl = sd->msgs[i].ctl;

		if (answer && is_reply(sd, i)) {
			differs = true;
			continue;
		}
		ctl |= (uint8_t)(answer << FUZZ_CTL_ANSWER_SHIFT);
		if ((ctl & FUZZ_CTL_KIND_MASK) == FUZZ_FD_MEMFD && memfd_kind != FUZZ_FD_MEMFD) {
			ctl = (uint8_t)((ctl & ~FUZZ_CTL_KIND_MASK) | memfd_kind);
			if (memfd_kind == FUZZ_FD_ODD)
				ctl &= (uint8_t)~(FUZZ_CTL_PARAM_MASK << FUZZ_CTL_PARAM_SHIFT); /* param 0: a pipe */
			differs = true;
		}
		put_message(&o, ctl, sd->buf + sd->msgs[i].off, sd->msgs[i].len);
	}
	if (differs || (!answer && memfd_kind == FUZZ_FD_MEMFD))
		write_file("session", name, o.buf, o.len);
	free(o.buf);
	return differs;
}

/* The recording, and the variants the format can express and the client library cannot. */
static void write_seeds(const char *name, const struct seed *sd)
{
	static const char *const answers[] = { NULL, "answer-data", "answer-error", "answer-short" };
	char file[128];

	write_seed(name, sd, FUZZ_ANSWER_NONE, FUZZ_FD_MEMFD);
	for (unsigned int how = FUZZ_ANSWER_DATA; how <= FUZZ_ANSWER_SHORT; how++) {
		snprintf(file, sizeof(file), "%s-%s", name, answers[how]);
		write_seed(file, sd, how, FUZZ_FD_MEMFD);
	}
	snprintf(file, sizeof(file), "%s-shrink", name);
	write_seed(file, sd, FUZZ_ANSWER_NONE, FUZZ_FD_MEMFD_SHRINK);
	snprintf(file, sizeof(file), "%s-pipe", name);
	write_seed(file, sd, FUZZ_ANSWER_NONE, FUZZ_FD_ODD);
}

static void run_scenario(struct server_ctx *ctx, const char *name, scenario_fn fn)
{
	static struct relay r;
	struct job j = { .fn = fn };
	int c[2], s[2];
	pthread_t t;

	memset(&r, 0, sizeof(r));
	r.ctx = ctx;
	r.sd.buf = malloc(MAX_SEED);
	r.msg = malloc(VFIO_USER_MAX_MSG_SIZE);
	if (!r.sd.buf || !r.msg || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s))
		exit(1);
	force_bufs(c[1]);
	force_bufs(s[0]);
	force_bufs(s[1]);
	fcntl(s[0], F_SETFL, O_NONBLOCK);
	if (session_start(&r.s, ctx, s[0]) || vuc_from_fd(c[0], &j.c))
		exit(1);
	r.cli = c[1];
	r.srv = s[1];
	if (pthread_create(&t, NULL, client_thread, &j))
		exit(1);
	relay_run(&r);
	pthread_join(t, NULL);
	session_end(&r.s);
	close(r.cli);
	close(r.srv);
	if (j.ret < 0) {
		fprintf(stderr, "make_seeds: scenario %s failed: %s\n", name, strerror(-j.ret));
		failures++;
	}
	write_seeds(name, &r.sd);
	printf("session/%s: %u messages, %zu bytes\n", name, r.sd.nmsgs, r.sd.len);
	free(r.sd.buf);
	free(r.msg);
}

/* ---- hand-built inputs: states the client library never puts the server in ---- */

static uint16_t hand_id;

static void hand_msg(struct out *o, uint8_t ctl, uint16_t cmd, uint32_t flags, const void *payload, size_t len)
{
	uint8_t buf[256];
	struct vfio_user_header h = { .msg_id = hand_id++, .cmd = cmd, .msg_size = (uint32_t)(sizeof(h) + len),
				      .flags = flags };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, len);
	put_message(o, ctl, buf, sizeof(h) + len);
}

static void hand_version(struct out *o, uint16_t minor, const char *json)
{
	uint8_t v[200] = { 0, 0, (uint8_t)minor, 0 };
	size_t n = json ? strlen(json) + 1 : 0;

	memcpy(v + 4, json ? json : "", n);
	hand_id = 0;
	hand_msg(o, 0, VFIO_USER_VERSION, 0, v, 4 + n);
}

static void hand_write(struct out *o, uint8_t ctl, uint32_t region, uint64_t offset, uint64_t val, uint32_t count,
		       bool posted)
{
	uint8_t buf[sizeof(struct vfio_user_region_access) + 8];
	struct vfio_user_region_access a = { .offset = offset, .region = region, .count = count };

	memcpy(buf, &a, sizeof(a));
	memcpy(buf + sizeof(a), &val, 8);
	hand_msg(o, ctl, VFIO_USER_REGION_WRITE, posted ? VFIO_USER_F_NO_REPLY : 0, buf, sizeof(a) + count);
}

static void hand_map(struct out *o, uint8_t ctl, uint64_t iova, uint64_t size, uint32_t prot)
{
	struct vfio_user_dma_map m = { .argsz = sizeof(m), .flags = prot, .addr = iova, .size = size };

	hand_msg(o, ctl, VFIO_USER_DMA_MAP, 0, &m, sizeof(m));
}

/* Bus mastering on, then the edu engine from iova (RAM to device, or back) for count bytes. */
static void hand_dma(struct out *o, uint8_t cmd_ctl, uint64_t iova, uint32_t count, bool to_ram)
{
	hand_write(o, 0, CFG, 4, 0x6, 2, false);
	hand_write(o, 0, BAR0, to_ram ? EDU_REG_DMA_DST : EDU_REG_DMA_SRC, iova, 8, false);
	hand_write(o, 0, BAR0, to_ram ? EDU_REG_DMA_SRC : EDU_REG_DMA_DST, EDU_DMA_BUF_ADDR, 8, false);
	hand_write(o, 0, BAR0, EDU_REG_DMA_COUNT, count, 8, false);
	hand_write(o, cmd_ctl, BAR0, EDU_REG_DMA_CMD,
		   EDU_DMA_CMD_RUN | EDU_DMA_CMD_IRQ | (to_ram ? EDU_DMA_CMD_TO_RAM : 0), 8, false);
}

static void hand_seed(const char *name, struct out *o)
{
	write_file("session", name, o->buf, o->len);
	printf("session/%s: hand-built, %zu bytes\n", name, o->len);
	o->len = 0;
}

static void hand_seeds(void)
{
	static const uint32_t rw = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
	struct vfio_user_region_access big = { .offset = 0, .region = BAR4, .count = EDU_BAR_RAM_SIZE };
	struct vfio_user_region_info ri = { .argsz = 256, .index = BAR4 };
	struct vfio_user_irq_set irq = { .argsz = sizeof(irq), .index = VFIO_PCI_MSIX_IRQ_INDEX, .count = 8,
					 .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER };
	struct out o = { .buf = malloc(2 * MAX_SEED) };

	if (!o.buf)
		exit(1);
	/* DEVICE_RESET while the proxy's DMA_READ is outstanding, then the late answer, then a new transfer */
	hand_version(&o, 2, NULL);
	hand_map(&o, 0, WIN_IOVA, WIN_SIZE, rw);
	hand_dma(&o, 0, WIN_IOVA, 256, false);
	hand_msg(&o, FUZZ_CTL(0, 0, FUZZ_ANSWER_DATA), VFIO_USER_DEVICE_RESET, 0, NULL, 0);
	hand_dma(&o, FUZZ_CTL(0, 0, FUZZ_ANSWER_DATA), WIN_IOVA + 0x1000, 512, true);
	hand_seed("hand-reset-during-dma", &o);
	/* a client that takes 32 bytes per DMA message: a 4 KiB transfer needs more messages than the proxy keeps */
	hand_version(&o, 1, "{\"capabilities\":{\"max_data_xfer_size\":32,\"max_msg_fds\":0}}");
	hand_map(&o, 0, WIN_IOVA, WIN_SIZE, rw);
	hand_dma(&o, FUZZ_CTL(0, 0, FUZZ_ANSWER_DATA), WIN_IOVA, 1024, false);
	hand_dma(&o, FUZZ_CTL(0, 0, FUZZ_ANSWER_DATA), WIN_IOVA, 4096, true);
	hand_msg(&o, 0, VFIO_USER_DEVICE_GET_REGION_INFO, 0, &ri, sizeof(ri));
	hand_seed("hand-small-xfer", &o);
	/* one transfer across a memfd window and an fd-less one */
	hand_version(&o, 2, NULL);
	hand_map(&o, FUZZ_CTL(FUZZ_FD_MEMFD, 0, 0), WIN_IOVA, 0x1000, rw);
	hand_map(&o, 0, WIN_IOVA + 0x1000, 0x1000, rw);
	hand_dma(&o, FUZZ_CTL(0, 0, FUZZ_ANSWER_DATA), WIN_IOVA + 0x800, 0x1000, false);
	hand_dma(&o, FUZZ_CTL(0, 0, FUZZ_ANSWER_DATA), WIN_IOVA + 0x800, 0x1000, true);
	hand_seed("hand-mixed-windows", &o);
	/* the client stops reading before the proxy sends its DMA request */
	hand_version(&o, 2, NULL);
	hand_map(&o, 0, WIN_IOVA, WIN_SIZE, rw);
	hand_dma(&o, FUZZ_CTL(FUZZ_FD_PEER_SHUT_RD, 0, 0), WIN_IOVA, 256, false);
	hand_seed("hand-shut-rd-dma", &o);
	/* more 1 MiB replies in one go than the socket holds: the proxy's send waits, then gives up */
	hand_version(&o, 2, NULL);
	{
		/* all in one record: the harness drains replies only between records */
		uint8_t buf[24 * (sizeof(struct vfio_user_header) + sizeof(big))], *p = buf;

		for (int i = 0; i < 24; i++) {
			struct vfio_user_header h = { .msg_id = hand_id++, .cmd = VFIO_USER_REGION_READ,
						      .msg_size = (uint32_t)(sizeof(h) + sizeof(big)) };

			memcpy(p, &h, sizeof(h));
			memcpy(p + sizeof(h), &big, sizeof(big));
			p += sizeof(h) + sizeof(big);
		}
		put_message(&o, 0, buf, sizeof(buf));
	}
	hand_seed("hand-reply-flood", &o);
	/* more fds than the proxy's cmsg room, then more than SET_IRQS allows */
	hand_version(&o, 2, NULL);
	hand_msg(&o, FUZZ_CTL(FUZZ_FD_MANY_EVENTFDS, 7, 0), VFIO_USER_DEVICE_SET_IRQS, 0, &irq, sizeof(irq));
	hand_msg(&o, FUZZ_CTL(FUZZ_FD_MANY_EVENTFDS, 0, 0), VFIO_USER_DEVICE_SET_IRQS, 0, &irq, sizeof(irq));
	hand_msg(&o, FUZZ_CTL(FUZZ_FD_EVENTFDS, 7, 0), VFIO_USER_DEVICE_SET_IRQS, 0, &irq, sizeof(irq));
	{
		/* a header in two pieces, 18 fds on each */
		struct vfio_user_header h = { .msg_id = hand_id++, .cmd = VFIO_USER_DEVICE_SET_IRQS,
					      .msg_size = (uint32_t)(sizeof(h) + sizeof(irq)) };
		uint8_t buf[sizeof(h) + sizeof(irq)];

		memcpy(buf, &h, sizeof(h));
		memcpy(buf + sizeof(h), &irq, sizeof(irq));
		put_message(&o, FUZZ_CTL(FUZZ_FD_MANY_EVENTFDS, 1, 0), buf, 8);
		put_message(&o, FUZZ_CTL(FUZZ_FD_MANY_EVENTFDS, 1, 0), buf + 8, sizeof(buf) - 8);
	}
	hand_seed("hand-many-fds", &o);
	/* a window whose file shrinks under the proxy before the device copies through it */
	hand_version(&o, 2, NULL);
	hand_map(&o, FUZZ_CTL(FUZZ_FD_MEMFD_SHRINK, 4, 0), WIN_IOVA, WIN_SIZE, rw);
	hand_dma(&o, 0, WIN_IOVA, 256, false);
	hand_dma(&o, 0, WIN_IOVA, 256, true);
	hand_seed("hand-shrunk-window", &o);
	free(o.buf);
}

static void version_seed(const char *name, uint16_t major, uint16_t minor, const char *json, size_t json_len)
{
	uint8_t buf[8192];
	struct vfio_user_version v = { .major = major, .minor = minor };

	memcpy(buf, &v, sizeof(v));
	memcpy(buf + sizeof(v), json, json_len);
	write_file("version", name, buf, sizeof(v) + json_len);
}

#define JSON_SEED(name, major, minor, lit) version_seed(name, major, minor, lit, sizeof(lit))

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		scenario_fn fn;
	} scenarios[] = {
		{ "info", sc_info },       { "region-rw", sc_region_rw }, { "dma-fd", sc_dma_fd },
		{ "dma-mem", sc_dma_mem }, { "irqs", sc_irqs },           { "odd", sc_odd },
		{ "big", sc_big },         { "qemu", sc_qemu },           { "spdk", sc_spdk },
		{ "rust-vmm", sc_rust_vmm }, { "alioth", sc_alioth },
	};
	struct device_backend *b;
	struct server_ctx ctx;
	char path[512];

	if (argc != 2) {
		fprintf(stderr, "usage: make_seeds OUTDIR (writes OUTDIR/session/* and OUTDIR/version/*)\n");
		return 2;
	}
	outdir = argv[1];
	log_threshold = LOG_LVL_ERROR;
	snprintf(path, sizeof(path), "%s/session", outdir);
	mkdir(outdir, 0755);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/version", outdir);
	mkdir(path, 0755);
	if (emulated_backend_create("edu", &b) || server_ctx_init(&ctx, b, 1000))
		return 1;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run_scenario(&ctx, scenarios[i].name, scenarios[i].fn);
	server_ctx_fini(&ctx);
	b->ops->destroy(b);
	hand_seeds();

	/* VERSION payloads: the README's clients, ours, and the edges of the format. */
	JSON_SEED("qemu", 0, 0, QEMU_JSON);
	version_seed("spdk", 0, 1, "", 0);
	JSON_SEED("rust-vmm", 0, 1, RUST_VMM_JSON);
	JSON_SEED("alioth", 0, 2, ALIOTH_JSON);
	JSON_SEED("vuc", 0, 2,
		  "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,\"pgsizes\":4096,"
		  "\"max_dma_maps\":65535}}");
	JSON_SEED("empty-json", 0, 1, "");
	JSON_SEED("empty-object", 0, 2, "{}");
	JSON_SEED("all-keys", 0, 2,
		  "{\"capabilities\":{\"max_msg_fds\":1,\"max_data_xfer_size\":4096,\"max_dma_maps\":1,"
		  "\"pgsizes\":8192,\"write_multiple\":true,\"migration\":{\"pgsize\":4096,\"max_bitmap_size\":1},"
		  "\"twin_socket\":{\"supported\":true}}}");
	JSON_SEED("major1", 1, 0, "{}");
	version_seed("no-nul", 0, 1, "{}", 2);
	JSON_SEED("nested", 0, 1, "{\"capabilities\":{\"x\":[[[[{\"y\":[1,2.5,\"s\\u0041\",null]}]]]]}}");
	printf("version/: 11 payloads\n");
	return failures ? 1 : 0;
}
