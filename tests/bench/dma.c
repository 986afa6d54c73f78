/* dma.c: device DMA through fd-less windows (DMA_READ/DMA_WRITE messages) and fd-backed windows, against raw socket streams and memcpy. */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define CHUNK EDU_DMA_BUF_SIZE /* what one edu DMA command moves at most */
#define WIN_SIZE (1u << 20)
#define IOVA_MEM 0x100000ull /* the fd-less window: the client serves it from memory */
#define IOVA_FD 0x200000ull  /* the fd-backed window: a memfd the server maps */

enum dma_kind { DMA_FDLESS, DMA_FDBACKED, RAW_STREAM, MEMCPY };

struct dseries {
	struct server *srv; /* NULL for memcpy */
	const struct placement *pl;
	enum dma_kind kind;
	bool to_ram; /* device -> RAM (DMA_WRITE), else RAM -> device (DMA_READ) */
	size_t size;
	struct samples s;
};

static uint8_t *mem;   /* the fd-less window's memory, in this process */
static uint8_t *fdmem; /* the memfd window, as this process maps it */
static int memfd = -1;
static uint8_t devbuf[CHUNK]; /* memcpy's stand-in for the device's buffer */
static uint8_t *stream_buf;

/* Sets up both windows and the DMA count register on one server. */
static int dma_setup(struct server *srv)
{
	const uint32_t rw = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
	int ret;

	ret = vuc_dma_map_mem(srv->c, IOVA_MEM, WIN_SIZE, mem, rw);
	if (!ret)
		ret = vuc_dma_map_fd(srv->c, IOVA_FD, WIN_SIZE, memfd, 0, rw);
	if (!ret)
		ret = vuc_write64(srv->c, BAR0, EDU_REG_DMA_COUNT, CHUNK);
	return ret;
}

static int dma_teardown(struct server *srv)
{
	int ret = vuc_dma_unmap(srv->c, IOVA_MEM, WIN_SIZE, 0);

	if (!ret)
		ret = vuc_dma_unmap(srv->c, IOVA_FD, WIN_SIZE, 0);
	return ret;
}

/*
 * One transfer of size bytes between RAM at iova and the device: size / 4 KiB edu DMA commands, each one
 * REGION_WRITE_MULTI {src, dst, cmd}, the last with the interrupt bit; done when the MSI arrives.
 */
int bench_dma_transfer(struct server *srv, uint64_t iova, size_t size, bool to_ram)
{
	for (size_t off = 0; off < size; off += CHUNK) {
		uint64_t ram = iova + off, dev = EDU_DMA_BUF_ADDR;
		uint64_t cmd = EDU_DMA_CMD_RUN | (to_ram ? EDU_DMA_CMD_TO_RAM : 0) |
			       (off + CHUNK >= size ? EDU_DMA_CMD_IRQ : 0);
		struct vfio_user_write_one w[3] = {
			{ .offset = EDU_REG_DMA_SRC, .region = BAR0, .count = 8 },
			{ .offset = EDU_REG_DMA_DST, .region = BAR0, .count = 8 },
			{ .offset = EDU_REG_DMA_CMD, .region = BAR0, .count = 8 },
		};
		int ret;

		memcpy(w[0].data, to_ram ? &dev : &ram, 8);
		memcpy(w[1].data, to_ram ? &ram : &dev, 8);
		memcpy(w[2].data, &cmd, 8);
		ret = vuc_region_write_multi(srv->c, w, 3);
		if (ret != 3)
			return ret < 0 ? ret : -EIO;
	}
	return bench_wait_efd(srv->efd);
}

static void copy_chunks(uint8_t *win, size_t size, bool to_ram)
{
	for (size_t off = 0; off < size; off += CHUNK) {
		if (to_ram)
			memcpy(win + off, devbuf, CHUNK);
		else
			memcpy(devbuf, win + off, CHUNK);
		__asm__ volatile("" : : "r"(win), "r"(devbuf) : "memory");
	}
}

static int one_transfer(struct dseries *x)
{
	switch (x->kind) {
	case DMA_FDLESS:
		return bench_dma_transfer(x->srv, IOVA_MEM, x->size, x->to_ram);
	case DMA_FDBACKED:
		return bench_dma_transfer(x->srv, IOVA_FD, x->size, x->to_ram);
	case RAW_STREAM:
		return x->to_ram ? echo_pull(x->srv, stream_buf, x->size) : echo_push(x->srv, stream_buf, x->size);
	case MEMCPY:
		copy_chunks(fdmem, x->size, x->to_ram);
		return 0;
	}
	return -EINVAL;
}

static int run_batch(struct dseries *x, unsigned int n)
{
	int ret = 0;

	if (x->srv) {
		bench_place(x->srv, x->pl);
		bench_drain_efd(x->srv->efd);
	}
	for (unsigned int i = 0; i < 2 && !ret; i++)
		ret = one_transfer(x);
	for (unsigned int i = 0; i < n && !ret; i++) {
		uint64_t t0 = now_ns();

		ret = one_transfer(x);
		samples_add(&x->s, now_ns() - t0);
	}
	return ret;
}

static unsigned int reps_for(size_t size)
{
	return size >= WIN_SIZE ? opt.dma_reps : opt.dma_reps * 32;
}

static struct dseries *find(struct dseries *xs, unsigned int nx, enum dma_kind kind, const struct server *srv,
			    const struct placement *pl, bool to_ram, size_t size)
{
	for (unsigned int i = 0; i < nx; i++) {
		struct dseries *x = &xs[i];

		if (x->kind == kind && x->srv == srv && (kind == MEMCPY || x->pl == pl) && x->to_ram == to_ram &&
		    x->size == size)
			return x;
	}
	return NULL;
}

static void add(struct dseries *xs, unsigned int *nx, enum dma_kind kind, struct server *srv,
		const struct placement *pl, bool to_ram, size_t size)
{
	struct dseries *x = &xs[(*nx)++];

	memset(x, 0, sizeof(*x));
	x->kind = kind;
	x->srv = srv;
	x->pl = pl;
	x->to_ram = to_ram;
	x->size = size;
	samples_init(&x->s, (size_t)opt.rounds * reps_for(size));
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* RAM -> device -> RAM through one window of the proxy: the bytes must come back intact. */
static int verify(struct server *srv, uint8_t *win, uint64_t iova)
{
	int ret;

	fill(win, CHUNK, 42);
	memset(win + 2 * CHUNK, 0, CHUNK);
	ret = bench_dma_transfer(srv, iova, CHUNK, false);
	if (!ret)
		ret = bench_dma_transfer(srv, iova + 2 * CHUNK, CHUNK, true);
	if (!ret && memcmp(win, win + 2 * CHUNK, CHUNK))
		ret = -EIO;
	return ret;
}

static const char *dir_name(bool to_ram)
{
	return to_ram ? "device->RAM" : "RAM->device";
}

static void add_figures(struct dseries *xs, unsigned int nx, struct server *proxy, struct server *echo)
{
	char what[128];

	for (int k = DMA_FDLESS; k <= DMA_FDBACKED; k++) {
		for (int p = 0; p < nplacements; p++) {
			const struct placement *pl = &placements[p];

			for (int d = 0; d < 2; d++) {
				for (size_t size = CHUNK; size <= WIN_SIZE; size = size == CHUNK ? WIN_SIZE : 2 * WIN_SIZE) {
					struct dseries *x = find(xs, nx, k, proxy, pl, d, size);
					struct figure *f;
					char sz[32];

					if (size == CHUNK)
						snprintf(sz, sizeof(sz), "4 KiB");
					else
						snprintf(sz, sizeof(sz), "1 MiB (%zu cmds)", size / CHUNK);
					f = figure_add(k == DMA_FDLESS ? "dma-fdless" : "dma-fd", UNIT_MBS,
						       measure_throughput(&x->s, size), "%s %s, %s", sz, dir_name(d),
						       pl->name);
					if (k == DMA_FDLESS)
						figure_base(f, d ? "raw stream, echo sends the bytes" :
								   "raw stream, we send the bytes",
							    measure_throughput(&find(xs, nx, RAW_STREAM, echo, pl, d, size)->s,
									       size));
					figure_base(f, "echo server, same messages",
						    measure_throughput(&find(xs, nx, k, echo, pl, d, size)->s, size));
					figure_base(f, "memcpy of the same 4 KiB chunks",
						    measure_throughput(&find(xs, nx, MEMCPY, NULL, pl, d, size)->s, size));
					if (k == DMA_FDLESS && size == WIN_SIZE) {
						snprintf(what, sizeof(what), "fd-less 1 MiB DMA %s, %s: proxy / raw stream",
							 dir_name(d), pl->name);
						report_target(what, figure_ratio(f, 0), 0.8, false, "x",
							      "edu moves 4 KiB per command and each command costs a "
							      "REGION_WRITE_MULTI round trip plus a DMA message exchange; "
							      "the echo server doing the same messages is no faster");
					}
				}
			}
		}
	}
}

int bench_dma(struct server *proxy, struct server *echo)
{
	struct dseries xs[48];
	unsigned int nx = 0;
	int ret;

	mem = aligned_alloc(4096, WIN_SIZE);
	stream_buf = aligned_alloc(4096, WIN_SIZE);
	if (!mem || !stream_buf)
		return -ENOMEM;
	memset(mem, 0, WIN_SIZE);
	memset(stream_buf, 0, WIN_SIZE);
	memfd = bench_memfd(WIN_SIZE, (void **)&fdmem);
	if (memfd < 0)
		return memfd;
	ret = dma_setup(proxy);
	if (!ret)
		ret = dma_setup(echo);
	if (ret) {
		fprintf(stderr, "bench: DMA setup failed: %s\n", strerror(-ret));
		return ret;
	}
	for (size_t size = CHUNK; size <= WIN_SIZE; size = size == CHUNK ? WIN_SIZE : 2 * WIN_SIZE) {
		for (int d = 0; d < 2; d++) {
			for (int p = 0; p < nplacements; p++) {
				const struct placement *pl = &placements[p];

				add(xs, &nx, DMA_FDLESS, proxy, pl, d, size);
				add(xs, &nx, DMA_FDLESS, echo, pl, d, size);
				add(xs, &nx, RAW_STREAM, echo, pl, d, size);
				add(xs, &nx, DMA_FDBACKED, proxy, pl, d, size);
				add(xs, &nx, DMA_FDBACKED, echo, pl, d, size);
			}
			add(xs, &nx, MEMCPY, NULL, NULL, d, size);
		}
	}
	for (unsigned int r = 0; r < opt.rounds && !ret; r++) {
		for (unsigned int k = 0; k < nx && !ret; k++) {
			struct dseries *x = &xs[(k + r) % nx];

			ret = run_batch(x, reps_for(x->size));
			if (ret)
				fprintf(stderr, "bench: DMA series %u against %s failed: %s\n", (k + r) % nx,
					x->srv ? x->srv->name : "memcpy", strerror(-ret));
		}
	}
	if (!ret) {
		ret = verify(proxy, mem, IOVA_MEM);
		if (!ret)
			ret = verify(proxy, fdmem, IOVA_FD);
		if (ret)
			fprintf(stderr, "bench: the proxy's DMA did not move the data intact: %s\n", strerror(-ret));
	}
	if (!ret)
		add_figures(xs, nx, proxy, echo);
	if (!ret)
		ret = dma_teardown(proxy);
	if (!ret)
		ret = dma_teardown(echo);
	for (unsigned int i = 0; i < nx; i++)
		samples_free(&xs[i].s);
	return ret;
}

/* For the map benchmark: the memfd window at iova on the proxy, and 4 KiB RAM->device transfers through it. */
int bench_dma_fd_window(struct server *srv, uint64_t iova, bool map)
{
	const uint32_t rw = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;

	if (!map)
		return vuc_dma_unmap(srv->c, iova, WIN_SIZE, 0);
	return vuc_dma_map_fd(srv->c, iova, WIN_SIZE, memfd, 0, rw);
}
