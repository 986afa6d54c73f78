/* maps.c: DMA_MAP/DMA_UNMAP of 1, 1 000 and 65 535 windows, one at a time and pipelined as QEMU sends them, and a DMA among 65 535. */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>

#define PAGE 4096ull
#define MAP_BASE 0x100000000ull /* 4 GiB: the windows lie side by side from here */
#define MAX_WINDOWS 65535u
#define IOVA_FD_HIGH (MAP_BASE + 2 * MAX_WINDOWS * PAGE)
#define PIPELINE 64u /* requests outstanding at once when pipelined */

static void map_req(struct vfio_user_dma_map *m, uint64_t iova)
{
	*m = (struct vfio_user_dma_map){
		.argsz = sizeof(*m),
		.flags = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE,
		.addr = iova,
		.size = PAGE,
	};
}

static void unmap_req(struct vfio_user_dma_unmap *u, uint64_t iova)
{
	*u = (struct vfio_user_dma_unmap){ .argsz = sizeof(*u), .addr = iova, .size = PAGE };
}

/* One DMA_MAP or DMA_UNMAP of an fd-less 4 KiB window, waiting for its reply (client library, raw request). */
static int one_sync(struct server *srv, bool map, uint64_t iova)
{
	struct vfio_user_dma_unmap u, back;
	struct vfio_user_dma_map m;

	if (map) {
		map_req(&m, iova);
		return vuc_request_raw(srv->c, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), NULL, 0, NULL, NULL, 0, NULL, NULL,
				       NULL);
	}
	unmap_req(&u, iova);
	return vuc_request_raw(srv->c, VFIO_USER_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0, NULL, &back, sizeof(back),
			       NULL, NULL, NULL);
}

static int sync_range(struct server *srv, bool map, unsigned int from, unsigned int to, struct samples *s)
{
	for (unsigned int i = from; i < to; i++) {
		uint64_t t0 = now_ns();
		int ret = one_sync(srv, map, MAP_BASE + i * PAGE);

		if (ret)
			return ret;
		if (s)
			samples_add(s, now_ns() - t0);
	}
	return 0;
}

/* Reads one reply straight from the socket; -error_no for an error reply. */
static int read_reply(int fd)
{
	struct vfio_user_header h;
	uint8_t body[64];

	if (recv(fd, &h, sizeof(h), MSG_WAITALL) != sizeof(h) || h.msg_size < sizeof(h) ||
	    h.msg_size - sizeof(h) > sizeof(body))
		return -EPROTO;
	if (h.msg_size > sizeof(h) && recv(fd, body, h.msg_size - sizeof(h), MSG_WAITALL) != (ssize_t)(h.msg_size - sizeof(h)))
		return -EPROTO;
	if (h.flags & VFIO_USER_F_ERROR)
		return h.error_no ? -(int)h.error_no : -EIO;
	return 0;
}

/*
 * DMA_MAP or DMA_UNMAP of windows [from, to) the way QEMU sends them: without waiting for each reply, up to
 * PIPELINE outstanding, each request its own sendmsg. The replies are read straight from the socket (the
 * client library is idle meanwhile). Returns the time from the first send to the last reply in *ns.
 */
static int pipelined(struct server *srv, bool map, unsigned int from, unsigned int to, uint64_t *ns)
{
	int fd = vuc_socket_fd(srv->c);
	unsigned int sent = from, done = from;
	uint64_t t0 = now_ns();
	int ret = 0;

	while (done < to && !ret) {
		if (sent < to && sent - done < PIPELINE) {
			struct {
				struct vfio_user_header h;
				union {
					struct vfio_user_dma_map m;
					struct vfio_user_dma_unmap u;
				};
			} __attribute__((packed)) msg;
			size_t len = sizeof(msg.h) + (map ? sizeof(msg.m) : sizeof(msg.u));

			msg.h = (struct vfio_user_header){ .msg_id = (uint16_t)sent,
							   .cmd = map ? VFIO_USER_DMA_MAP : VFIO_USER_DMA_UNMAP,
							   .msg_size = (uint32_t)len };
			if (map)
				map_req(&msg.m, MAP_BASE + sent * PAGE);
			else
				unmap_req(&msg.u, MAP_BASE + sent * PAGE);
			if (send(fd, &msg, len, MSG_NOSIGNAL) != (ssize_t)len)
				ret = -EIO;
			sent++;
			continue;
		}
		ret = read_reply(fd);
		done++;
	}
	*ns = now_ns() - t0;
	return ret;
}

/* 4 KiB RAM->device transfers through the memfd window at IOVA_FD_HIGH, one sample each. */
static int fd_dmas(struct server *srv, unsigned int n, struct samples *s)
{
	int ret = 0;

	for (unsigned int i = 0; i < n && !ret; i++) {
		uint64_t t0 = now_ns();

		ret = bench_dma_transfer(srv, IOVA_FD_HIGH, PAGE, false);
		samples_add(s, now_ns() - t0);
	}
	return ret;
}

/* With the 65 535 windows in place: the proxy's VmRSS, and DMAs through a memfd window found among them. */
static int among_many(struct server *srv, long *rss, struct samples *dma_many)
{
	int ret;

	*rss = proc_rss_kib(srv->pid);
	ret = sync_range(srv, false, MAX_WINDOWS - 1, MAX_WINDOWS, NULL); /* room for the memfd window */
	if (!ret)
		ret = bench_dma_fd_window(srv, IOVA_FD_HIGH, true);
	bench_place(srv, &placements[0]); /* the quieter placement for a small difference */
	if (!ret)
		ret = fd_dmas(srv, 50 * opt.map_reps, dma_many);
	bench_place(srv, &placements[nplacements - 1]);
	if (!ret)
		ret = bench_dma_fd_window(srv, IOVA_FD_HIGH, false);
	if (!ret)
		ret = sync_range(srv, true, MAX_WINDOWS - 1, MAX_WINDOWS, NULL);
	return ret;
}

struct map_run {
	struct samples map[3], unmap[3]; /* one at a time: 1, 1000, 65535 windows */
	uint64_t pipe_map_ns, pipe_unmap_ns;
};

static int map_run(struct server *srv, struct map_run *mr, long *rss, struct samples *dma_many)
{
	static const unsigned int counts[3] = { 1, 1000, MAX_WINDOWS };
	int ret = 0;

	bench_place(srv, &placements[nplacements - 1]);
	for (int k = 0; k < 3 && !ret; k++) {
		unsigned int reps = k == 0 ? 200 * opt.map_reps : k == 1 ? opt.map_reps : !opt.short_mode;

		for (unsigned int r = 0; r < reps && !ret; r++) {
			ret = sync_range(srv, true, 0, counts[k], &mr->map[k]);
			if (!ret)
				ret = sync_range(srv, false, 0, counts[k], &mr->unmap[k]);
		}
	}
	if (!ret)
		ret = pipelined(srv, true, 0, MAX_WINDOWS, &mr->pipe_map_ns);
	if (!ret && rss)
		ret = among_many(srv, rss, dma_many);
	if (!ret)
		ret = pipelined(srv, false, 0, MAX_WINDOWS, &mr->pipe_unmap_ns);
	return ret;
}

static void map_figures(struct map_run *pm, struct map_run *em)
{
	static const char *const names[3] = { "1 window", "1 000 windows", "65 535 windows" };
	const char *pl = placements[nplacements - 1].name;
	double total = (double)(pm->pipe_map_ns + pm->pipe_unmap_ns) / 1e6;
	struct figure *f;

	for (int k = 0; k < 3; k++) {
		if (!pm->map[k].n) {
			report_note("DMA_MAP/DMA_UNMAP one at a time of 65 535 windows: full mode only");
			continue;
		}
		f = figure_add("maps", UNIT_NS, measure_latency(&pm->map[k]), "DMA_MAP one at a time, each of %s, %s",
			       names[k], pl);
		figure_base(f, "echo server, same messages", measure_latency(&em->map[k]));
		f = figure_add("maps", UNIT_NS, measure_latency(&pm->unmap[k]),
			       "DMA_UNMAP one at a time, each of %s, %s", names[k], pl);
		figure_base(f, "echo server, same messages", measure_latency(&em->unmap[k]));
	}
	f = figure_add("maps", UNIT_NS, measure_value((double)pm->pipe_map_ns / MAX_WINDOWS),
		       "DMA_MAP pipelined (%u in flight), per window of 65 535, %s", PIPELINE, pl);
	figure_base(f, "echo server, same messages", measure_value((double)em->pipe_map_ns / MAX_WINDOWS));
	f = figure_add("maps", UNIT_NS, measure_value((double)pm->pipe_unmap_ns / MAX_WINDOWS),
		       "DMA_UNMAP pipelined (%u in flight), per window of 65 535, %s", PIPELINE, pl);
	figure_base(f, "echo server, same messages", measure_value((double)em->pipe_unmap_ns / MAX_WINDOWS));
	f = figure_add("maps", UNIT_MSEC, measure_value(total), "65 535 DMA_MAP + 65 535 DMA_UNMAP pipelined, total");
	figure_base(f, "echo server, same messages",
		    measure_value((double)(em->pipe_map_ns + em->pipe_unmap_ns) / 1e6));
	report_target("65 535 DMA_MAP + DMA_UNMAP (pipelined, as QEMU sends them), total", total, 1000, true, "ms",
		      "the socket: the echo server's total for the same messages is the floor");
	if (pm->map[2].n) {
		uint64_t sum = 0;

		for (size_t i = 0; i < pm->map[2].n; i++)
			sum += pm->map[2].v[i];
		for (size_t i = 0; i < pm->unmap[2].n; i++)
			sum += pm->unmap[2].v[i];
		report_note("65 535 DMA_MAP + DMA_UNMAP one at a time (a round trip each), %s: %.0f ms in total", pl,
			    (double)sum / 1e6);
	}
}

int bench_maps(struct server *proxy, struct server *echo)
{
	struct map_run pm, em;
	struct samples dma_one, dma_many;
	long rss_before, rss_many = -1;
	struct figure *f;
	int ret;

	memset(&pm, 0, sizeof(pm));
	memset(&em, 0, sizeof(em));
	samples_init(&dma_one, 64);
	samples_init(&dma_many, 64);
	for (int k = 0; k < 3; k++) {
		samples_init(&pm.map[k], 1024);
		samples_init(&pm.unmap[k], 1024);
		samples_init(&em.map[k], 1024);
		samples_init(&em.unmap[k], 1024);
	}
	/* The same DMA with the memfd window alone in the table. */
	bench_place(proxy, &placements[0]);
	rss_before = proc_rss_kib(proxy->pid);
	ret = bench_dma_fd_window(proxy, IOVA_FD_HIGH, true);
	if (!ret)
		ret = fd_dmas(proxy, 50 * opt.map_reps, &dma_one);
	if (!ret)
		ret = bench_dma_fd_window(proxy, IOVA_FD_HIGH, false);
	if (!ret)
		ret = map_run(proxy, &pm, &rss_many, &dma_many);
	if (!ret)
		ret = map_run(echo, &em, NULL, NULL);
	if (ret) {
		fprintf(stderr, "bench: DMA_MAP/DMA_UNMAP series failed: %s\n", strerror(-ret));
		goto out;
	}
	map_figures(&pm, &em);
	f = figure_add("maps", UNIT_NS, measure_latency(&dma_many), "4 KiB fd-backed DMA among 65 535 windows, %s",
		       placements[0].name);
	figure_base(f, "the same with 1 window mapped", measure_latency(&dma_one));
	f = figure_add("memory", UNIT_KIB, measure_value((double)rss_many), "proxy VmRSS with 65 535 windows");
	figure_base(f, "the same proxy before, 0 windows", measure_value((double)rss_before));
out:
	for (int k = 0; k < 3; k++) {
		samples_free(&pm.map[k]);
		samples_free(&pm.unmap[k]);
		samples_free(&em.map[k]);
		samples_free(&em.unmap[k]);
	}
	samples_free(&dma_one);
	samples_free(&dma_many);
	return ret;
}
