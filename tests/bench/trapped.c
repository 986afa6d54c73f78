/* trapped.c: the trapped path: 4-byte REGION_READ/REGION_WRITE round trips, posted writes, interrupt latency, busy-poll cost. */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define WARMUP 200u

enum op { OP_READ, OP_WRITE, OP_RAW_READ, OP_RAW_WRITE, OP_MIN_READ, OP_MIN_WRITE, OP_PP_READ, OP_PP_WRITE, OP_POSTED,
	   OP_IRQ };

/* The read or write of a family that starts with its read (OP_RAW_READ, OP_PP_READ) matching op. */
static enum op twin(enum op read_op, enum op op)
{
	return (enum op)(read_op + (op == OP_WRITE));
}

/* One series: an operation against one server in one placement, sampled over interleaved rounds. */
struct series {
	struct server *srv;
	const struct placement *pl;
	enum op op;
	struct samples s;
	uint64_t server_cpu_ns;
	uint64_t wall_ns; /* of the timed batches, for the server's CPU share */
	uint64_t ops;
};

/*
 * The raw ping-pong client: the same bytes as the client library's REGION_READ/REGION_WRITE, sent with one
 * send; the reply taken with one recv of the 16-byte header and one of the payload (blocking).
 */
static int raw_op(struct server *srv, bool write)
{
	struct {
		struct vfio_user_header h;
		struct vfio_user_region_access a;
		uint32_t data;
	} __attribute__((packed)) req = {
		.h = { .msg_id = 1, .cmd = write ? VFIO_USER_REGION_WRITE : VFIO_USER_REGION_READ,
		       .msg_size = write ? sizeof(req) : sizeof(req) - 4 },
		.a = { .offset = EDU_REG_LIVENESS, .region = BAR0, .count = 4 },
		.data = 0x5a5a5a5a,
	};
	uint8_t buf[64];
	struct vfio_user_header h;
	int fd = vuc_socket_fd(srv->c);

	if (send(fd, &req, req.h.msg_size, MSG_NOSIGNAL) != (ssize_t)req.h.msg_size)
		return -EIO;
	if (recv(fd, &h, sizeof(h), MSG_WAITALL) != sizeof(h) || h.msg_size < sizeof(h) ||
	    h.msg_size - sizeof(h) > sizeof(buf))
		return -EIO;
	if (recv(fd, buf, h.msg_size - sizeof(h), MSG_WAITALL) != (ssize_t)(h.msg_size - sizeof(h)))
		return -EIO;
	return 0;
}

/*
 * The minimal client: the ping-pong's client against a vfio-user server. The request in one write, the
 * whole reply in one read (a server sends it with one sendmsg), nothing parsed but the reply's size.
 */
static int min_op(struct server *srv, bool is_write)
{
	static const struct {
		struct vfio_user_header h;
		struct vfio_user_region_access a;
		uint32_t data;
	} __attribute__((packed)) req[2] = {
		{ .h = { .msg_id = 1, .cmd = VFIO_USER_REGION_READ, .msg_size = sizeof(req[0]) - 4 },
		  .a = { .offset = EDU_REG_LIVENESS, .region = BAR0, .count = 4 } },
		{ .h = { .msg_id = 2, .cmd = VFIO_USER_REGION_WRITE, .msg_size = sizeof(req[0]) },
		  .a = { .offset = EDU_REG_LIVENESS, .region = BAR0, .count = 4 }, .data = 0x5a5a5a5a },
	};
	size_t reply = is_write ? sizeof(req[0]) - 4 : sizeof(req[0]), got = 0;
	uint8_t buf[64];
	int fd = vuc_socket_fd(srv->c);

	if (write(fd, &req[is_write], req[is_write].h.msg_size) != (ssize_t)req[is_write].h.msg_size)
		return -EIO;
	while (got < reply) {
		ssize_t k = read(fd, buf + got, reply - got);

		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		got += (size_t)k;
	}
	return 0;
}

static int one_op(struct server *srv, enum op op)
{
	uint32_t v = 0x5a5a5a5a, one = 1;
	int ret;

	switch (op) {
	case OP_READ:
		return vuc_read32(srv->c, BAR0, EDU_REG_LIVENESS, &v);
	case OP_WRITE:
		return vuc_write32(srv->c, BAR0, EDU_REG_LIVENESS, v);
	case OP_RAW_READ:
	case OP_RAW_WRITE:
		return raw_op(srv, op == OP_RAW_WRITE);
	case OP_MIN_READ:
	case OP_MIN_WRITE:
		return min_op(srv, op == OP_MIN_WRITE);
	case OP_PP_READ:
	case OP_PP_WRITE:
		return pingpong_round(srv, op == OP_PP_WRITE);
	case OP_POSTED:
		return vuc_region_write(srv->c, BAR0, EDU_REG_LIVENESS, &v, sizeof(v), true);
	case OP_IRQ:
		/* The raise travels as a posted write; the interrupt comes back on the eventfd. */
		ret = vuc_region_write(srv->c, BAR0, EDU_REG_IRQ_RAISE, &one, sizeof(one), true);
		return ret ? ret : bench_wait_efd(srv->efd);
	}
	return -EINVAL;
}

static int run_batch(struct series *x, unsigned int n)
{
	struct server *srv = x->srv;
	uint64_t cpu0, t0, t1;
	uint32_t v;
	int ret = 0;

	bench_place(srv, x->pl);
	bench_drain_efd(srv->efd);
	for (unsigned int i = 0; i < WARMUP && !ret; i++)
		ret = one_op(srv, x->op);
	if (!ret && x->op == OP_POSTED)
		ret = vuc_read32(srv->c, BAR0, EDU_REG_LIVENESS, &v);
	cpu0 = proc_cpu_ns(srv->pid);
	x->wall_ns -= now_ns();
	if (x->op == OP_POSTED) {
		/* Posted writes are timed as a stream, fenced by one read at the end. */
		t0 = now_ns();
		for (unsigned int i = 0; i < n && !ret; i++)
			ret = one_op(srv, x->op);
		if (!ret)
			ret = vuc_read32(srv->c, BAR0, EDU_REG_LIVENESS, &v);
		t1 = now_ns();
		samples_add(&x->s, t1 - t0);
	} else {
		for (unsigned int i = 0; i < n && !ret; i++) {
			t0 = now_ns();
			ret = one_op(srv, x->op);
			t1 = now_ns();
			samples_add(&x->s, t1 - t0);
		}
	}
	x->server_cpu_ns += proc_cpu_ns(srv->pid) - cpu0;
	x->wall_ns += now_ns();
	x->ops += n;
	return ret;
}

/* Runs every series for opt.rounds rounds, rotating the order each round so no series always goes first. */
static int run_series(struct series *xs, unsigned int nx, unsigned int n)
{
	for (unsigned int r = 0; r < opt.rounds; r++) {
		for (unsigned int k = 0; k < nx; k++) {
			struct series *x = &xs[(k + r) % nx];
			int ret = run_batch(x, n);

			if (ret) {
				fprintf(stderr, "bench: %s against %s (%s) failed: %s\n",
					x->op == OP_IRQ ? "interrupt" : "round trip", x->srv->name, x->pl->name,
					strerror(-ret));
				return ret;
			}
		}
	}
	return 0;
}

static struct measure posted_rate(struct series *x, unsigned int n)
{
	double med = samples_quantile(&x->s, 0.5);

	return measure_value(med > 0 ? (double)n * 1e9 / med : NAN);
}

static double cpu_per_op(const struct series *x)
{
	return x->ops ? (double)x->server_cpu_ns / (double)x->ops : NAN;
}

static double cpu_share(const struct series *x)
{
	return x->wall_ns ? 100.0 * (double)x->server_cpu_ns / (double)x->wall_ns : NAN;
}

static const char *op_name(enum op op)
{
	switch (op) {
	case OP_READ:
	case OP_RAW_READ:
	case OP_MIN_READ:
	case OP_PP_READ:
		return "4-byte REGION_READ round trip";
	case OP_WRITE:
	case OP_RAW_WRITE:
	case OP_MIN_WRITE:
	case OP_PP_WRITE:
		return "4-byte REGION_WRITE round trip";
	case OP_POSTED:
		return "posted 4-byte REGION_WRITE";
	case OP_IRQ:
		return "raise -> eventfd wake-up";
	}
	return "";
}

static int add_series(struct series *xs, unsigned int *nx, struct server *srv, const struct placement *pl,
		      enum op op, size_t cap)
{
	struct series *x = &xs[(*nx)++];

	memset(x, 0, sizeof(*x));
	x->srv = srv;
	x->pl = pl;
	x->op = op;
	return samples_init(&x->s, cap);
}

static void free_series(struct series *xs, unsigned int nx)
{
	for (unsigned int i = 0; i < nx; i++)
		samples_free(&xs[i].s);
}

static struct series *find(struct series *xs, unsigned int nx, const struct server *srv, const struct placement *pl,
			   enum op op)
{
	for (unsigned int i = 0; i < nx; i++)
		if (xs[i].srv == srv && xs[i].pl == pl && xs[i].op == op)
			return &xs[i];
	return NULL;
}

/*
 * Round trips, proxy against the echo server and the minimal ping-pong (one server with the read's sizes,
 * one with the write's), in each placement (and the busy-polling proxy if given).
 */
static int round_trips(struct server *proxy, struct server *echo, struct server *poll_proxy)
{
	struct series xs[32];
	struct server pp[2] = { { .efd = -1, .fd = -1 }, { .efd = -1, .fd = -1 } };
	unsigned int nx = 0;
	size_t cap = (size_t)opt.rounds * opt.rt_iters;
	char what[96];
	int ret = 0;

	for (enum op op = OP_READ; op <= OP_WRITE && !ret; op++)
		ret = pingpong_launch(&pp[op], placements[0].server_cpu, op == OP_WRITE);
	if (ret) {
		fprintf(stderr, "bench: cannot start the minimal ping-pong: %s\n", strerror(-ret));
		goto out;
	}
	for (int p = 0; p < nplacements; p++) {
		for (enum op op = OP_READ; op <= OP_WRITE; op++) {
			add_series(xs, &nx, proxy, &placements[p], op, cap);
			add_series(xs, &nx, echo, &placements[p], op, cap);
			add_series(xs, &nx, echo, &placements[p], twin(OP_RAW_READ, op), cap);
			add_series(xs, &nx, &pp[op], &placements[p], twin(OP_PP_READ, op), cap);
			add_series(xs, &nx, proxy, &placements[p], twin(OP_MIN_READ, op), cap);
			if (poll_proxy) {
				add_series(xs, &nx, poll_proxy, &placements[p], op, cap);
				add_series(xs, &nx, poll_proxy, &placements[p], twin(OP_MIN_READ, op), cap);
			}
		}
	}
	ret = run_series(xs, nx, opt.rt_iters);
	if (ret)
		goto out;
	/* The limit: the minimal client against the proxy, beside the minimal ping-pong (same bytes, same calls). */
	for (int p = 0; p < nplacements; p++) {
		const struct placement *pl = &placements[p];

		for (enum op op = OP_READ; op <= OP_WRITE; op++) {
			struct series *m = find(xs, nx, proxy, pl, twin(OP_MIN_READ, op));
			struct series *ping = find(xs, nx, &pp[op], pl, twin(OP_PP_READ, op));
			/* before the all-sample medians below, which sort the samples */
			struct measure m_best = measure_best_round(&m->s, opt.rounds);
			struct measure ping_best = measure_best_round(&ping->s, opt.rounds);
			struct figure *f;

			f = figure_add("trapped", UNIT_NS, measure_latency(&m->s), "%s, minimal client, %s", op_name(op),
				       pl->name);
			figure_base(f, "minimal AF_UNIX ping-pong", measure_latency(&ping->s));
			f = figure_add("trapped", UNIT_NS, m_best, "%s, minimal client, %s, lowest round median",
				       op_name(op), pl->name);
			figure_base(f, "minimal AF_UNIX ping-pong", ping_best);
			snprintf(what, sizeof(what), "trapped %s, %s: proxy / minimal ping-pong (minimal client, best rounds)",
				 op == OP_READ ? "read" : "write", pl->name);
			report_target(what, figure_ratio(f, 0), p == 0 ? 1.05 : 1.10, true, "x",
				      "what the proxy does per message beyond one read and one write (see the CPU rows), "
				      "or this machine's noise: compare runs");
			if (poll_proxy) {
				struct series *q = find(xs, nx, poll_proxy, pl, twin(OP_MIN_READ, op));

				f = figure_add("trapped", UNIT_NS, measure_latency(&q->s), "%s, minimal client, %s, --poll-us %d",
					       op_name(op), pl->name, opt.poll_us);
				figure_base(f, "minimal AF_UNIX ping-pong", measure_latency(&ping->s));
				figure_base(f, "proxy without poll", measure_latency(&m->s));
			}
		}
	}
	for (int p = 0; p < nplacements; p++) {
		const struct placement *pl = &placements[p];

		for (enum op op = OP_READ; op <= OP_WRITE; op++) {
			struct series *x = find(xs, nx, proxy, pl, op), *e = find(xs, nx, echo, pl, op);
			struct series *raw = find(xs, nx, echo, pl, twin(OP_RAW_READ, op));
			struct series *ping = find(xs, nx, &pp[op], pl, twin(OP_PP_READ, op));
			struct figure *f;

			f = figure_add("trapped", UNIT_NS, measure_latency(&x->s), "%s, %s", op_name(op), pl->name);
			figure_base(f, "echo server, same client library", measure_latency(&e->s));
			figure_base(f, "raw ping-pong: raw client, echo", measure_latency(&raw->s));
			figure_base(f, "minimal AF_UNIX ping-pong", measure_latency(&ping->s));
			snprintf(what, sizeof(what), "trapped %s, %s: proxy / echo (same client library)",
				 op == OP_READ ? "read" : "write", pl->name);
			report_target(what, figure_ratio(f, 0), 1.1, true, "x",
				      "what the proxy does per message beyond the echo server: its dispatch "
				      "and system calls (see the CPU rows), within this machine's noise");
			snprintf(what, sizeof(what), "trapped %s, %s: proxy / raw ping-pong",
				 op == OP_READ ? "read" : "write", pl->name);
			report_target(what, figure_ratio(f, 1), 1.1, true, "x",
				      "the client library's own work per call (compare its echo row with the raw "
				      "ping-pong) on top of the proxy's");
		}
	}
	for (int p = 0; p < nplacements && poll_proxy; p++) {
		const struct placement *pl = &placements[p];

		for (enum op op = OP_READ; op <= OP_WRITE; op++) {
			struct series *x = find(xs, nx, poll_proxy, pl, op);
			struct figure *f;

			f = figure_add("trapped", UNIT_NS, measure_latency(&x->s), "%s, %s, --poll-us %d", op_name(op),
				       pl->name, opt.poll_us);
			figure_base(f, "proxy without poll, same CPU", measure_latency(&find(xs, nx, proxy, &placements[0], op)->s));
			figure_base(f, "proxy without poll, this placement", measure_latency(&find(xs, nx, proxy, pl, op)->s));
			figure_base(f, "echo server, this placement", measure_latency(&find(xs, nx, echo, pl, op)->s));
		}
	}
	/* What the server spends in CPU per round trip (schedstat run time over the timed batches). */
	for (int p = 0; p < nplacements; p++) {
		const struct placement *pl = &placements[p];
		struct series *x = find(xs, nx, proxy, pl, OP_READ), *e = find(xs, nx, echo, pl, OP_READ);
		struct figure *f;

		f = figure_add("cpu", UNIT_NS, measure_value(cpu_per_op(x)), "server CPU per read round trip, %s",
			       pl->name);
		figure_base(f, "echo server", measure_value(cpu_per_op(e)));
		f = figure_add("cpu", UNIT_PCT, measure_value(cpu_share(x)), "server CPU share while serving reads, %s",
			       pl->name);
		figure_base(f, "echo server", measure_value(cpu_share(e)));
		if (poll_proxy) {
			struct series *q = find(xs, nx, poll_proxy, pl, OP_READ);

			f = figure_add("cpu", UNIT_NS, measure_value(cpu_per_op(q)),
				       "server CPU per read round trip, %s, --poll-us %d", pl->name, opt.poll_us);
			figure_base(f, "proxy without poll", measure_value(cpu_per_op(x)));
			figure_base(f, "echo server", measure_value(cpu_per_op(e)));
			f = figure_add("cpu", UNIT_PCT, measure_value(cpu_share(q)),
				       "server CPU share while serving reads, %s, --poll-us %d", pl->name, opt.poll_us);
			figure_base(f, "proxy without poll", measure_value(cpu_share(x)));
			figure_base(f, "echo server", measure_value(cpu_share(e)));
		}
	}
out:
	free_series(xs, nx);
	for (int i = 0; i < 2; i++)
		server_stop(&pp[i]);
	return ret;
}

/* Posted writes (a stream fenced by one read) and interrupt latency, proxy against the echo server. */
static int streams_and_irqs(struct server *proxy, struct server *echo)
{
	struct series xs[8];
	unsigned int nx = 0;
	int ret;

	for (int p = 0; p < nplacements; p++) {
		add_series(xs, &nx, proxy, &placements[p], OP_POSTED, opt.rounds);
		add_series(xs, &nx, echo, &placements[p], OP_POSTED, opt.rounds);
	}
	ret = run_series(xs, nx, opt.posted_iters);
	if (ret)
		goto out;
	for (int p = 0; p < nplacements; p++) {
		const struct placement *pl = &placements[p];
		struct figure *f;

		f = figure_add("posted", UNIT_OPS, posted_rate(find(xs, nx, proxy, pl, OP_POSTED), opt.posted_iters),
			       "%s, %s", op_name(OP_POSTED), pl->name);
		figure_base(f, "echo server, same client library",
			    posted_rate(find(xs, nx, echo, pl, OP_POSTED), opt.posted_iters));
	}
	free_series(xs, nx);

	nx = 0;
	for (int p = 0; p < nplacements; p++) {
		add_series(xs, &nx, proxy, &placements[p], OP_IRQ, (size_t)opt.rounds * opt.irq_iters);
		add_series(xs, &nx, echo, &placements[p], OP_IRQ, (size_t)opt.rounds * opt.irq_iters);
	}
	ret = run_series(xs, nx, opt.irq_iters);
	if (ret)
		goto out;
	for (int p = 0; p < nplacements; p++) {
		const struct placement *pl = &placements[p];
		struct figure *f;

		f = figure_add("irq", UNIT_NS, measure_latency(&find(xs, nx, proxy, pl, OP_IRQ)->s),
			       "MSI: posted raise -> eventfd wake-up, %s", pl->name);
		figure_base(f, "echo server signals its eventfd", measure_latency(&find(xs, nx, echo, pl, OP_IRQ)->s));
	}
out:
	free_series(xs, nx);
	return ret;
}

int bench_trapped(struct server *proxy, struct server *echo, struct server *poll_proxy)
{
	int ret = round_trips(proxy, echo, poll_proxy);

	if (ret)
		return ret;
	return streams_and_irqs(proxy, echo);
}
