/* torture.c: many clients against the real proxy process, each vanishing (closed or SIGKILLed) at a seeded random point; the proxy must not crash, leak or keep device state. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/harness.h"
#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define BAR2 (VFIO_PCI_BAR0_REGION_INDEX + 2)
#define BAR4 (VFIO_PCI_BAR0_REGION_INDEX + 4)
#define DMA_IOVA 0x100000ull
#define CLIENT_TIMEOUT_MS 3000
#define CHILD_READY_MS 10000
#define RSS_TOLERANCE_KB 256
#define MAX_RES_FDS 64
#define MAX_RES_MAPS 16

/* Where a client vanishes. */
enum kill_point {
	KP_CONNECTED,     /* connected, sent nothing */
	KP_MID_HEADER,    /* part of a header */
	KP_MID_PAYLOAD,   /* a header and part of its payload */
	KP_MID_PAYLOAD_FDS, /* the same, with fds on the header (DMA_MAP memfd, SET_IRQS eventfds) */
	KP_AFTER_VERSION, /* right after the handshake */
	KP_HOLDING,       /* holding memfd DMA windows, IRQ eventfds (MSI, MSI-X, INTx) and the RAM BAR mapping */
	KP_DMA_READ,      /* the edu engine started on an fd-less window: the proxy's DMA_READ unanswered */
	KP_DMA_WRITE,     /* the same towards the client: DMA_WRITE unanswered */
	KP_POSTED_FLOOD,  /* right after thousands of posted writes */
	KP_UNREAD_REPLIES, /* 1 MiB reads whose replies it never reads */
	KP_GARBAGE,       /* a message that breaks the framing */
	KP_COUNT
};

static const char *const kp_names[KP_COUNT] = {
	"connected", "mid-header", "mid-payload", "mid-payload+fds", "after-version", "holding-maps-irqs",
	"dma-read-pending", "dma-write-pending", "posted-flood", "unread-replies", "garbage",
};

enum death { DEATH_CLOSE, DEATH_SIGKILL, DEATH_COUNT };
static const char *const death_names[DEATH_COUNT] = { "close()", "SIGKILL" };

/* splitmix64: one stream for the whole run, so a seed replays the run. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

/* What a client holds; released after it vanished (close mode), or by the kernel (SIGKILL mode). */
struct client {
	struct vuc *c;
	int fds[MAX_RES_FDS];
	unsigned int nfds;
	void *maps[MAX_RES_MAPS];
	size_t map_len[MAX_RES_MAPS];
	unsigned int nmaps;
	void *dma_mem;
	char why[256];
};

static int fail(struct client *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct client *cl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cl->why, sizeof(cl->why), fmt, ap);
	va_end(ap);
	return -1;
}

#define TRY(cl, expr)                                                                               \
	do {                                                                                        \
		int r_ = (expr);                                                                    \
		if (r_ < 0)                                                                         \
			return fail(cl, "%s:%d: %s: %s", __func__, __LINE__, #expr, strerror(-r_)); \
	} while (0)

static int keep_fd(struct client *cl, int fd)
{
	if (fd < 0 || cl->nfds == MAX_RES_FDS)
		abort();
	cl->fds[cl->nfds++] = fd;
	return fd;
}

static void *keep_map(struct client *cl, void *p, size_t len)
{
	if (p == MAP_FAILED || cl->nmaps == MAX_RES_MAPS)
		abort();
	cl->maps[cl->nmaps] = p;
	cl->map_len[cl->nmaps++] = len;
	return p;
}

static void release(struct client *cl)
{
	vuc_close(cl->c);
	cl->c = NULL;
	for (unsigned int i = 0; i < cl->nfds; i++)
		close(cl->fds[i]);
	for (unsigned int i = 0; i < cl->nmaps; i++)
		munmap(cl->maps[i], cl->map_len[i]);
	free(cl->dma_mem);
	cl->nfds = cl->nmaps = 0;
	cl->dma_mem = NULL;
}

static int new_memfd(struct client *cl, size_t size, void **mem)
{
	int fd = keep_fd(cl, memfd_create("torture-win", MFD_CLOEXEC));

	if (ftruncate(fd, (off_t)size))
		abort();
	*mem = keep_map(cl, mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), size);
	return fd;
}

/* ---- the device as a fresh client must find it, and the marks each client leaves on it ---- */

static const uint64_t ram_offsets[] = { 0, 0x1000, 0x7fff8, 0x80000, 0xffff8 };

/* The previous client left nothing behind: edu registers, config and RAM BAR at reset values. */
static int check_reset_state(struct client *cl)
{
	uint32_t v;
	uint64_t q;
	uint16_t cmd;

	TRY(cl, vuc_read32(cl->c, BAR0, EDU_REG_LIVENESS, &v));
	if (v != 0xffffffffu)
		return fail(cl, "liveness reads %#x after a reset (want 0xffffffff)", v);
	TRY(cl, vuc_read32(cl->c, BAR0, EDU_REG_IRQ_STATUS, &v));
	if (v)
		return fail(cl, "irq status %#x after a reset (want 0)", v);
	TRY(cl, vuc_read64(cl->c, BAR0, EDU_REG_DMA_CMD, &q));
	if (q)
		return fail(cl, "DMA command %#llx after a reset (want 0: idle)", (unsigned long long)q);
	TRY(cl, vuc_read32(cl->c, BAR0, EDU_REG_FACT, &v));
	if (v)
		return fail(cl, "factorial register %#x after a reset (want 0)", v);
	TRY(cl, vuc_config_read(cl->c, 4, &cmd, 2));
	if (cmd & 0x4)
		return fail(cl, "bus mastering still on after a reset (command %#x)", cmd);
	TRY(cl, vuc_read64(cl->c, BAR2, EDU_MSIX_PBA_OFFSET, &q));
	if (q)
		return fail(cl, "MSI-X PBA %#llx after a reset (want 0)", (unsigned long long)q);
	for (size_t i = 0; i < sizeof(ram_offsets) / sizeof(ram_offsets[0]); i++) {
		TRY(cl, vuc_read64(cl->c, BAR4, ram_offsets[i], &q));
		if (q)
			return fail(cl, "RAM BAR at %#llx holds %#llx after a reset (want 0)",
				    (unsigned long long)ram_offsets[i], (unsigned long long)q);
	}
	return 0;
}

/* Leaves marks the next client must not see. */
static int dirty_device(struct client *cl)
{
	TRY(cl, vuc_write32(cl->c, BAR0, EDU_REG_LIVENESS, (uint32_t)rnd() | 1));
	TRY(cl, vuc_write32(cl->c, BAR0, EDU_REG_IRQ_RAISE, 0x10000 | (uint32_t)rnd_below(0x100)));
	TRY(cl, vuc_write32(cl->c, BAR0, EDU_REG_FACT, 6));
	for (size_t i = 0; i < sizeof(ram_offsets) / sizeof(ram_offsets[0]); i++)
		TRY(cl, vuc_write64(cl->c, BAR4, ram_offsets[i], rnd() | 1));
	return 0;
}

static int bus_master(struct client *cl)
{
	uint16_t cmd;

	TRY(cl, vuc_config_read(cl->c, 4, &cmd, 2));
	cmd |= 0x4;
	TRY(cl, vuc_config_write(cl->c, 4, &cmd, 2));
	return 0;
}

/* Handshake, then the reset check, then marks. */
static int start(struct client *cl)
{
	struct vuc_server_caps caps;

	TRY(cl, vuc_negotiate(cl->c, &caps));
	if (check_reset_state(cl))
		return -1;
	return dirty_device(cl);
}

static size_t build_msg(uint8_t *buf, uint16_t id, uint16_t cmd, const void *payload, size_t len, size_t claimed)
{
	struct vfio_user_header h = { .msg_id = id, .cmd = cmd, .msg_size = (uint32_t)(sizeof(h) + claimed) };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, len);
	return sizeof(h) + len;
}

/* ---- the kill points ---- */

static int kp_mid_header(struct client *cl)
{
	uint8_t buf[64];
	struct vfio_user_version v = { .major = 0, .minor = 2 };
	size_t n = build_msg(buf, 1, VFIO_USER_VERSION, &v, sizeof(v), sizeof(v));

	(void)n;
	TRY(cl, vuc_send_raw(cl->c, buf, 1 + rnd_below(sizeof(struct vfio_user_header) - 1), NULL, 0));
	return 0;
}

static int kp_mid_payload(struct client *cl)
{
	static uint8_t buf[sizeof(struct vfio_user_header) + sizeof(struct vfio_user_region_access) + 65536];
	struct vfio_user_region_access wr = { .offset = 0, .region = BAR4, .count = 65536 };
	size_t total;

	if (rnd_below(3) == 0) {
		/* a VERSION cut inside its JSON */
		static const char json[] = "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576}}";
		uint8_t v[4 + sizeof(json)] = { 0, 0, 2, 0 };

		memcpy(v + 4, json, sizeof(json));
		total = build_msg(buf, 1, VFIO_USER_VERSION, v, sizeof(v), sizeof(v));
	} else {
		/* a 64 KiB REGION_WRITE cut anywhere in its data */
		struct vfio_user_header h = { .msg_id = 0x7000, .cmd = VFIO_USER_REGION_WRITE,
					      .msg_size = (uint32_t)(sizeof(h) + sizeof(wr) + wr.count) };

		if (start(cl))
			return -1;
		memcpy(buf, &h, sizeof(h));
		memcpy(buf + sizeof(h), &wr, sizeof(wr));
		memset(buf + sizeof(h) + sizeof(wr), 0x5a, wr.count);
		total = h.msg_size;
	}
	TRY(cl, vuc_send_raw(cl->c, buf, sizeof(struct vfio_user_header) +
				     rnd_below((uint32_t)(total - sizeof(struct vfio_user_header))), NULL, 0));
	return 0;
}

static int kp_mid_payload_fds(struct client *cl)
{
	uint8_t buf[256];
	int fds[8];
	size_t total, nfds;

	if (start(cl))
		return -1;
	if (rnd_below(2)) {
		struct vfio_user_dma_map m = { .argsz = sizeof(m), .flags = 3, .addr = DMA_IOVA, .size = 0x10000 };
		void *mem;

		fds[0] = new_memfd(cl, 0x10000, &mem);
		nfds = 1;
		total = build_msg(buf, 0x7001, VFIO_USER_DMA_MAP, &m, sizeof(m), sizeof(m));
	} else {
		struct vfio_user_irq_set s = { .argsz = sizeof(s), .index = VFIO_PCI_MSIX_IRQ_INDEX, .count = 8,
					       .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER };

		for (int i = 0; i < 8; i++)
			fds[i] = keep_fd(cl, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
		nfds = 8;
		total = build_msg(buf, 0x7002, VFIO_USER_DEVICE_SET_IRQS, &s, sizeof(s), sizeof(s));
	}
	/* The fds ride on the header; the payload stops short. */
	TRY(cl, vuc_send_raw(cl->c, buf, sizeof(struct vfio_user_header) +
				     rnd_below((uint32_t)(total - sizeof(struct vfio_user_header))), fds, nfds));
	return 0;
}

static int set_irq_fds(struct client *cl, uint32_t index, uint32_t action, uint32_t count)
{
	int fds[8];

	for (uint32_t i = 0; i < count; i++)
		fds[i] = keep_fd(cl, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	TRY(cl, vuc_set_irqs(cl->c, index, VFIO_IRQ_SET_DATA_EVENTFD | action, 0, count, fds, NULL));
	return 0;
}

static int disable_irq(struct client *cl, uint32_t index)
{
	TRY(cl, vuc_set_irqs(cl->c, index, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, NULL, NULL));
	return 0;
}

static int kp_holding(struct client *cl)
{
	static const uint32_t trig = VFIO_IRQ_SET_ACTION_TRIGGER;
	struct vfio_user_region_info ri;
	unsigned int nwin = 1 + rnd_below(6), held = rnd_below(3);
	uint8_t caps[128];
	size_t caps_len;
	uint64_t cmd;
	int fd;

	if (start(cl) || bus_master(cl))
		return -1;
	/* memfd windows, some read-only; the edu engine copies through the first */
	for (unsigned int i = 0; i < nwin; i++) {
		size_t size = (size_t)0x1000 << rnd_below(7);
		uint32_t prot = i && rnd_below(3) == 0 ? VFIO_USER_F_DMA_REGION_READ
						       : VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
		void *mem;

		fd = new_memfd(cl, size, &mem);
		memset(mem, (int)i, size);
		TRY(cl, vuc_dma_map_fd(cl->c, DMA_IOVA * (i + 1), size, fd, 0, prot));
	}
	TRY(cl, vuc_write64(cl->c, BAR0, EDU_REG_DMA_SRC, DMA_IOVA));
	TRY(cl, vuc_write64(cl->c, BAR0, EDU_REG_DMA_DST, EDU_DMA_BUF_ADDR));
	TRY(cl, vuc_write64(cl->c, BAR0, EDU_REG_DMA_COUNT, 0x100));
	TRY(cl, vuc_write64(cl->c, BAR0, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN));
	TRY(cl, vuc_read64(cl->c, BAR0, EDU_REG_DMA_CMD, &cmd));
	if (cmd & EDU_DMA_CMD_ERROR)
		return fail(cl, "edu DMA through a memfd window failed (cmd %#llx)", (unsigned long long)cmd);
	/* the RAM BAR mapped and written through the mapping, as a VMM does */
	TRY(cl, vuc_region_info(cl->c, BAR4, &ri, caps, sizeof(caps), &caps_len, &fd));
	if (fd < 0)
		return fail(cl, "RAM BAR came without its fd");
	keep_fd(cl, fd);
	memset(keep_map(cl, mmap(NULL, EDU_BAR_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)ri.offset),
			EDU_BAR_RAM_SIZE),
	       0x6b, 0x2000);
	/* each interrupt type in turn; one of them stays enabled, with INTx's unmask eventfd and ERR/REQ */
	if (set_irq_fds(cl, VFIO_PCI_MSI_IRQ_INDEX, trig, 1))
		return -1;
	TRY(cl, vuc_write32(cl->c, BAR0, EDU_REG_IRQ_RAISE, 2));
	if (held != 0 && disable_irq(cl, VFIO_PCI_MSI_IRQ_INDEX))
		return -1;
	if (held != 0 && set_irq_fds(cl, VFIO_PCI_MSIX_IRQ_INDEX, trig, 8))
		return -1;
	if (held == 2 && (disable_irq(cl, VFIO_PCI_MSIX_IRQ_INDEX) ||
			  set_irq_fds(cl, VFIO_PCI_INTX_IRQ_INDEX, trig, 1)))
		return -1;
	/* the unmask eventfd is watched by the proxy's event loop: it must leave that loop with the client */
	if (set_irq_fds(cl, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 1) ||
	    set_irq_fds(cl, VFIO_PCI_ERR_IRQ_INDEX, trig, 1) || set_irq_fds(cl, VFIO_PCI_REQ_IRQ_INDEX, trig, 1))
		return -1;
	TRY(cl, vuc_write32(cl->c, BAR0, EDU_REG_IRQ_RAISE, 4));
	return 0;
}

/* Waits for the proxy's DMA_READ or DMA_WRITE on the raw socket and leaves it unanswered. */
static int wait_dma_request(struct client *cl, uint16_t want)
{
	int fd = vuc_socket_fd(cl->c);
	struct vfio_user_header h;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		if (poll(&p, 1, CLIENT_TIMEOUT_MS) != 1)
			return fail(cl, "the proxy sent no %s", vfio_user_command_name(want));
		if (recv(fd, &h, sizeof(h), MSG_WAITALL) != (ssize_t)sizeof(h))
			return fail(cl, "short read waiting for %s", vfio_user_command_name(want));
		if ((h.flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_COMMAND && h.cmd == want)
			return 0; /* its payload stays unread too */
		if (h.msg_size > sizeof(h)) {
			static uint8_t skip[1 << 16];
			size_t left = h.msg_size - sizeof(h);

			while (left) {
				ssize_t n = recv(fd, skip, left < sizeof(skip) ? left : sizeof(skip), MSG_WAITALL);

				if (n <= 0)
					return fail(cl, "connection lost waiting for %s", vfio_user_command_name(want));
				left -= (size_t)n;
			}
		}
	}
}

static int kp_dma_pending(struct client *cl, bool to_ram)
{
	const size_t size = 0x10000;
	uint64_t cmd = EDU_DMA_CMD_RUN | (to_ram ? EDU_DMA_CMD_TO_RAM : 0) | (rnd_below(2) ? EDU_DMA_CMD_IRQ : 0);
	uint32_t count = 1 + rnd_below(EDU_DMA_BUF_SIZE);

	if (start(cl) || bus_master(cl))
		return -1;
	cl->dma_mem = calloc(1, size);
	if (!cl->dma_mem)
		abort();
	if (rnd_below(2) && set_irq_fds(cl, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 1))
		return -1;
	TRY(cl, vuc_dma_map_mem(cl->c, DMA_IOVA, size, cl->dma_mem,
				VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE));
	TRY(cl, vuc_write64(cl->c, BAR0, to_ram ? EDU_REG_DMA_DST : EDU_REG_DMA_SRC, DMA_IOVA + rnd_below(0x8000)));
	TRY(cl, vuc_write64(cl->c, BAR0, to_ram ? EDU_REG_DMA_SRC : EDU_REG_DMA_DST, EDU_DMA_BUF_ADDR));
	TRY(cl, vuc_write64(cl->c, BAR0, EDU_REG_DMA_COUNT, count));
	/* posted: the library would otherwise serve the DMA request while it waits for the reply */
	TRY(cl, vuc_region_write(cl->c, BAR0, EDU_REG_DMA_CMD, &cmd, sizeof(cmd), true));
	return wait_dma_request(cl, to_ram ? VFIO_USER_DMA_WRITE : VFIO_USER_DMA_READ);
}

static int kp_posted_flood(struct client *cl)
{
	unsigned int n = 1000 + rnd_below(10000);

	if (start(cl))
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t v = rnd();

		switch (i % 3) {
		case 0:
			TRY(cl, vuc_region_write(cl->c, BAR0, EDU_REG_LIVENESS, &v, 4, true));
			break;
		case 1:
			TRY(cl, vuc_region_write(cl->c, BAR4, (v >> 8) % (EDU_BAR_RAM_SIZE - 8), &v, 8, true));
			break;
		default:
			TRY(cl, vuc_region_write(cl->c, BAR0, EDU_REG_IRQ_RAISE, &v, 4, true));
			break;
		}
	}
	return 0;
}

static int kp_unread_replies(struct client *cl)
{
	struct vfio_user_region_access rd = { .offset = 0, .region = BAR4, .count = EDU_BAR_RAM_SIZE };
	uint8_t buf[64];
	unsigned int n = 1 + rnd_below(8);

	if (start(cl))
		return -1;
	for (unsigned int i = 0; i < n; i++)
		TRY(cl, vuc_send_raw(cl->c, buf, build_msg(buf, (uint16_t)(0x7100 + i), VFIO_USER_REGION_READ, &rd,
							    sizeof(rd), sizeof(rd)), NULL, 0));
	return 0;
}

static int kp_garbage(struct client *cl)
{
	uint8_t buf[256];
	size_t len = sizeof(struct vfio_user_header) + rnd_below(sizeof(buf) - sizeof(struct vfio_user_header));
	struct vfio_user_header *h = (void *)buf;

	if (start(cl))
		return -1;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)rnd();
	switch (rnd_below(3)) {
	case 0:
		h->msg_size = 8; /* under a header */
		break;
	case 1:
		h->msg_size = 0x7fffffff; /* over the limit */
		break;
	default:
		h->msg_size = (uint32_t)len;
		h->flags = 0x7; /* an unknown message type */
		break;
	}
	TRY(cl, vuc_send_raw(cl->c, buf, len, NULL, 0));
	return 0;
}

/*
 * The first client, before the baseline: it touches the proxy's receive and send buffers end to end
 * (a 1 MiB write and a 1 MiB read), which stay allocated for the life of the process, and leaves cleanly.
 */
static int warm_up(const char *sock, char *why, size_t why_len)
{
	struct client cl = { .c = NULL };
	uint8_t *buf = calloc(1, EDU_BAR_RAM_SIZE);
	int ret = -1;

	if (!buf)
		abort();
	if (vuc_connect(sock, &cl.c) == 0) {
		vuc_set_timeout(cl.c, CLIENT_TIMEOUT_MS);
		if (start(&cl) == 0 && vuc_region_write(cl.c, BAR4, 0, buf, EDU_BAR_RAM_SIZE, false) == 0 &&
		    vuc_region_read(cl.c, BAR4, 0, buf, EDU_BAR_RAM_SIZE) == 0)
			ret = 0;
		else if (!cl.why[0])
			snprintf(cl.why, sizeof(cl.why), "1 MiB region access failed");
	} else {
		snprintf(cl.why, sizeof(cl.why), "cannot connect");
	}
	snprintf(why, why_len, "%s", cl.why);
	release(&cl);
	free(buf);
	return ret;
}

/* Runs a client up to its kill point. 0: there, ready to vanish; -1: a check failed (cl->why says which). */
static int client_run(const char *sock, enum kill_point kp, struct client *cl)
{
	TRY(cl, vuc_connect(sock, &cl->c));
	vuc_set_timeout(cl->c, CLIENT_TIMEOUT_MS);
	switch (kp) {
	case KP_CONNECTED:
		return 0;
	case KP_MID_HEADER:
		return kp_mid_header(cl);
	case KP_MID_PAYLOAD:
		return kp_mid_payload(cl);
	case KP_MID_PAYLOAD_FDS:
		return kp_mid_payload_fds(cl);
	case KP_AFTER_VERSION:
		TRY(cl, vuc_negotiate(cl->c, NULL));
		return 0;
	case KP_HOLDING:
		return kp_holding(cl);
	case KP_DMA_READ:
		return kp_dma_pending(cl, false);
	case KP_DMA_WRITE:
		return kp_dma_pending(cl, true);
	case KP_POSTED_FLOOD:
		return kp_posted_flood(cl);
	case KP_UNREAD_REPLIES:
		return kp_unread_replies(cl);
	default:
		return kp_garbage(cl);
	}
}

/* In this process, then close(); or in a child that the torture SIGKILLs once it reached the point. */
static int run_one(const char *sock, enum kill_point kp, enum death d, char *why, size_t why_len)
{
	struct client cl = { .c = NULL };
	int p[2], ret;
	pid_t pid;
	char status = 1;

	if (d == DEATH_CLOSE) {
		ret = client_run(sock, kp, &cl);
		release(&cl);
		snprintf(why, why_len, "%s", cl.why);
		return ret;
	}
	if (pipe2(p, O_CLOEXEC))
		abort();
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		close(p[0]);
		ret = client_run(sock, kp, &cl);
		if (ret)
			fprintf(stderr, "torture: client (pid %d): %s\n", getpid(), cl.why);
		status = ret ? 1 : 0;
		if (write(p[1], &status, 1) != 1)
			_exit(3);
		for (;;)
			pause(); /* until SIGKILL */
	}
	close(p[1]);
	{
		struct pollfd pf = { .fd = p[0], .events = POLLIN };

		if (poll(&pf, 1, CHILD_READY_MS) != 1 || read(p[0], &status, 1) != 1)
			status = 2;
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
	if (status)
		snprintf(why, why_len, "%s", status == 2 ? "the client process did not reach its kill point"
							 : "the client process failed (its reason is above)");
	return status ? -1 : 0;
}

/* ---- the proxy's resources ---- */

struct usage {
	int fds;
	int maps;
	long rss_kb;
};

/* Where ASan keeps its shadow (low shadow, gap, high shadow) and its allocator's heap on x86-64. */
#define ASAN_SHADOW_START 0x00007fff7000ull /* the low shadow starts a page early in /proc/PID/maps */
#define ASAN_SHADOW_END 0x10007fff8000ull
#define ASAN_HEAP_START 0x600000000000ull
#define ASAN_HEAP_END 0x640000000000ull

/*
 * The proxy's resident memory in KiB: VmRSS. Under ASan, less the shadow and ASan's own heap: its
 * allocator spreads a session's small allocations over fresh chunks until it settles (about +1.5 MiB
 * after 300 clients, flat after), which is the sanitizer's behaviour, not a leak; leaks on that heap
 * are LeakSanitizer's to report when the proxy exits, and any report fails the run.
 */
static long proxy_rss_kb(const struct proxy_proc *pp)
{
	char path[64], line[256];
	unsigned long long start = 0, end = 0;
	long kb = -1, total = 0, rss;
	bool asan = false, in_shadow = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pp->pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/smaps", pp->pid);
	f = fopen(path, "r");
	if (!f)
		return kb;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			asan |= start == ASAN_SHADOW_START;
			in_shadow = (start >= ASAN_SHADOW_START && end <= ASAN_SHADOW_END) ||
				    (start >= ASAN_HEAP_START && end <= ASAN_HEAP_END);
		} else if (sscanf(line, "Rss: %ld kB", &rss) == 1 && !in_shadow) {
			total += rss;
		}
	}
	fclose(f);
	return asan ? total : kb;
}

/*
 * A fresh client: the proxy serves one at a time, so once it answered VERSION every earlier client is
 * gone. It checks the reset state, and the proxy's usage is taken while it is connected.
 */
static int verify(const struct proxy_proc *pp, struct usage *u, char *why, size_t why_len)
{
	struct client cl = { .c = NULL };
	int ret = -1;

	cl.c = proxy_client(pp);
	if (!cl.c) {
		snprintf(why, why_len, "a fresh client could not connect and negotiate");
		return -1;
	}
	vuc_set_timeout(cl.c, CLIENT_TIMEOUT_MS);
	if (check_reset_state(&cl) == 0) {
		u->fds = proxy_fd_count(pp);
		u->maps = proxy_map_count(pp);
		u->rss_kb = proxy_rss_kb(pp);
		ret = 0;
	}
	snprintf(why, why_len, "%s", cl.why);
	release(&cl);
	return ret;
}

/* ---- the run ---- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static bool log_has_sanitizer_report(const char *path)
{
	static const char *const marks[] = { "ERROR: AddressSanitizer", "runtime error", "ERROR: LeakSanitizer" };
	char line[1024];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
			found |= strstr(line, marks[i]) != NULL;
	fclose(f);
	return found;
}

/*
 * proxy_start returns once the socket file exists, which is after bind() and may be before listen():
 * connect until the proxy takes connections (that first empty connection is a client like any other).
 */
static int wait_listening(const struct proxy_proc *pp)
{
	long deadline = now_ms() + 10000;

	while (now_ms() < deadline) {
		struct vuc *c;
		int ret = vuc_connect(pp->socket_path, &c);

		if (ret == 0) {
			vuc_close(c);
			return 0;
		}
		if (ret != -ECONNREFUSED)
			return ret;
		usleep(2000);
	}
	return -ETIMEDOUT;
}

static void usage_text(FILE *out)
{
	fprintf(out, "usage: torture [--seed N] [--clients N] [--batch N] [--rss-tolerance KIB] [--keep-log PATH]\n"
		     "               [-- PROXY-ARGS...]\n"
		     "Runs N clients (default 1000) against `$PROXY_BIN emulate`, each vanishing at a random point;\n"
		     "checks the proxy's fds, mappings and RSS after every batch (default 50) against a baseline.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },   { "clients", required_argument, NULL, 'n' },
		{ "batch", required_argument, NULL, 'b' },  { "keep-log", required_argument, NULL, 'l' },
		{ "rss-tolerance", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	const char *proxy_args[32] = { "--client-timeout", "1000" };
	int nargs = 2;
	unsigned long clients = 1000, batch = 50, hits[KP_COUNT][DEATH_COUNT] = { { 0 } };
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	const char *keep_log = NULL;
	long rss_tolerance_kb = RSS_TOLERANCE_KB;
	struct proxy_proc pp;
	struct usage base = { 0 }, now, worst = { 0 };
	char why[512] = "";
	unsigned long done = 0, checks = 0;
	long t0 = now_ms();
	int c, failed = 0, status;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			clients = strtoul(optarg, NULL, 0);
			break;
		case 'b':
			batch = strtoul(optarg, NULL, 0);
			break;
		case 'l':
			keep_log = optarg;
			break;
		case 'r':
			rss_tolerance_kb = strtol(optarg, NULL, 0);
			break;
		case 'h':
			usage_text(stdout);
			return 0;
		default:
			usage_text(stderr);
			return 2;
		}
	}
	if (!clients || !batch || argc - optind > 29) {
		usage_text(stderr);
		return 2;
	}
	/* Arguments after the options go to `vfio-user-proxy emulate` (e.g. -- --log-level debug). */
	while (optind < argc)
		proxy_args[nargs++] = argv[optind++];
	proxy_args[nargs] = NULL;
	rng_state = seed;
	signal(SIGPIPE, SIG_IGN);
	/*
	 * An ASan proxy keeps freed memory in its quarantine on purpose, which would read as RSS and mapping
	 * growth: run it without one (leaks are still reported at exit). The fuzzers keep the quarantine.
	 */
	setenv("ASAN_OPTIONS", "quarantine_size_mb=0:detect_leaks=1", 0);
	printf("torture: seed %llu (replay with --seed %llu), %lu clients, checks every %lu, proxy %s "
	       "(ASAN_OPTIONS=%s)\n", (unsigned long long)seed, (unsigned long long)seed, clients, batch,
	       getenv("PROXY_BIN") ? getenv("PROXY_BIN") : "build/dbg/vfio-user-proxy", getenv("ASAN_OPTIONS"));
	fflush(stdout);
	if (proxy_start(&pp, proxy_args) || wait_listening(&pp)) {
		fprintf(stderr, "torture: the proxy did not start\n");
		proxy_dump_log(&pp);
		proxy_kill(&pp);
		return 1;
	}

	if (warm_up(pp.socket_path, why, sizeof(why)) || verify(&pp, &base, why, sizeof(why))) {
		fprintf(stderr, "torture: the warm-up client failed: %s\n", why);
		failed = 1;
	} else {
		checks++;
		printf("torture: baseline after the warm-up client: %d fds, %d mappings, RSS %ld KiB\n", base.fds,
		       base.maps, base.rss_kb);
	}
	for (unsigned long i = 0; i < clients && !failed; i++) {
		enum kill_point kp = (enum kill_point)rnd_below(KP_COUNT);
		enum death d = (enum death)rnd_below(DEATH_COUNT);

		if (run_one(pp.socket_path, kp, d, why, sizeof(why))) {
			fprintf(stderr, "torture: client %lu (%s, %s): %s\n", i, kp_names[kp], death_names[d], why);
			failed = 1;
			break;
		}
		hits[kp][d]++;
		done++;
		if (!proxy_alive(&pp)) {
			fprintf(stderr, "torture: the proxy died after client %lu (%s, %s)\n", i, kp_names[kp],
				death_names[d]);
			failed = 1;
			break;
		}
		if ((i + 1) % batch != 0 && i + 1 != clients)
			continue;
		if (verify(&pp, &now, why, sizeof(why))) {
			fprintf(stderr, "torture: after client %lu (%s, %s): %s\n", i, kp_names[kp], death_names[d],
				why);
			failed = 1;
			break;
		}
		checks++;
		worst.fds = now.fds - base.fds > worst.fds ? now.fds - base.fds : worst.fds;
		worst.maps = now.maps - base.maps > worst.maps ? now.maps - base.maps : worst.maps;
		worst.rss_kb = now.rss_kb - base.rss_kb > worst.rss_kb ? now.rss_kb - base.rss_kb : worst.rss_kb;
		printf("torture: %5lu clients: %d fds (%+d), %d mappings (%+d), RSS %ld KiB (%+ld)\n", i + 1, now.fds,
		       now.fds - base.fds, now.maps, now.maps - base.maps, now.rss_kb, now.rss_kb - base.rss_kb);
		fflush(stdout);
		if (now.fds != base.fds || now.maps != base.maps ||
		    now.rss_kb > base.rss_kb + rss_tolerance_kb) {
			fprintf(stderr, "torture: the proxy keeps resources of departed clients (fds %+d, "
					"mappings %+d, RSS %+ld KiB; tolerance %ld KiB)\n", now.fds - base.fds,
				now.maps - base.maps, now.rss_kb - base.rss_kb, rss_tolerance_kb);
			failed = 1;
		}
	}

	/* Stop it ourselves so that the log (sanitizer reports at exit included) can be read before cleanup. */
	if (proxy_alive(&pp)) {
		kill(pp.pid, SIGTERM);
		if (waitpid(pp.pid, &status, 0) == pp.pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			fprintf(stderr, "torture: the proxy did not exit cleanly on SIGTERM (status %#x)\n", status);
			failed = 1;
		}
	} else {
		fprintf(stderr, "torture: the proxy is not running at the end\n");
		failed = 1;
	}
	pp.pid = 0;
	if (log_has_sanitizer_report(pp.log_path)) {
		fprintf(stderr, "torture: the proxy's log holds a sanitizer report\n");
		failed = 1;
	}
	if (failed)
		proxy_dump_log(&pp);
	if (keep_log) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", pp.log_path, keep_log);
		if (system(cmd))
			fprintf(stderr, "torture: could not keep the log as %s\n", keep_log);
	}
	proxy_kill(&pp); /* only removes the directory now */

	printf("torture: %lu of %lu clients (after one warm-up client) in %.1f s (seed %llu), %lu state and resource "
	       "checks\n", done, clients, (now_ms() - t0) / 1000.0, (unsigned long long)seed, checks);
	printf("torture: kill points hit (close() / SIGKILL):\n");
	for (int k = 0; k < KP_COUNT; k++)
		printf("  %-20s %5lu / %-5lu\n", kp_names[k], hits[k][DEATH_CLOSE], hits[k][DEATH_SIGKILL]);
	printf("torture: leaks against the baseline, worst over all checks: fds %+d, mappings %+d, RSS %+ld KiB "
	       "(tolerance +%ld KiB for allocator noise)\n", worst.fds, worst.maps, worst.rss_kb, rss_tolerance_kb);
	printf("torture: %s\n", failed ? "FAILED" : "passed");
	return failed;
}
