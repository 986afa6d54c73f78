/* bench.h: what the benchmark's files share: options, clocks, CPU placement, the servers it measures, samples and the report. */
#ifndef TESTS_BENCH_H
#define TESTS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "client/client.h"

#define BENCH_MAX_BASES 3

struct bench_opts {
	bool short_mode;
	bool json;
	const char *proxy_bin;
	int poll_us;           /* the extra busy-poll run of the proxy (--poll-us N); 0 skips it */
	unsigned int rounds;   /* interleaved proxy/baseline rounds per figure */
	unsigned int rt_iters; /* round trips per round */
	unsigned int posted_iters;
	unsigned int irq_iters;
	unsigned int dma_reps; /* transfers per round and size */
	unsigned int map_reps; /* rounds of the 1- and 1000-window map/unmap figures */
	unsigned int starts;   /* proxy starts timed */
};
extern struct bench_opts opt;

/* ---- sys.c: clocks, CPUs, processes ---- */
uint64_t now_ns(void);
/* CPU time a process has run (ns, /proc/PID/schedstat); 0 on failure. */
uint64_t proc_cpu_ns(pid_t pid);
/* VmRSS of a process in KiB (/proc/PID/status), negative errno on failure. */
long proc_rss_kib(pid_t pid);
int pin_pid(pid_t pid, int cpu); /* pid 0: this process */
int bench_cpu_count(void);       /* CPUs this process may run on */
int bench_cpu(int i);            /* the i-th of them */
void bench_sleep_ms(int ms);

/* Where the client (this process) and the server under test run. */
struct placement {
	const char *name; /* "same CPU", "cross CPU" */
	int client_cpu;
	int server_cpu;
};
extern struct placement placements[2];
extern int nplacements;

/* A memfd of size bytes mapped into *mem; returns the fd or a negative errno. */
int bench_memfd(size_t size, void **mem);

/* ---- servers ---- */
enum server_kind { SERVER_PROXY, SERVER_ECHO, SERVER_PINGPONG };

struct server {
	enum server_kind kind;
	const char *name;
	pid_t pid;
	struct vuc *c;
	int efd; /* the MSI eventfd: given to the proxy with SET_IRQS, inherited by the echo server */
	int fd;  /* minimal ping-pong only: the client's end, a plain blocking socket */
	/* proxy only */
	char dir[64];
	char sock[96];
};

/* sys.c: pin this process to pl->client_cpu and the server to pl->server_cpu. */
void bench_place(struct server *srv, const struct placement *pl);
/*
 * sys.c: forks a server on one end of an AF_UNIX socketpair, pinned to cpu and killed when we exit. In the
 * child s->pid is 0 and *fd the server's end; in the parent *fd is the client's end.
 */
int server_fork(struct server *s, int cpu, int *fd);
/* Waits (up to 5 s) for an eventfd and consumes its count; drains one without waiting. */
int bench_wait_efd(int efd);
void bench_drain_efd(int efd);

/* proxy.c: the real proxy process. extra: NULL-terminated extra arguments for `emulate`. */
int proxy_launch(struct server *s, const char *const *extra, int cpu, uint64_t *start_ns);
/* Connects, negotiates, sets bus mastering and MSI on s->efd. */
int proxy_connect(struct server *s);
void server_stop(struct server *s);
/* Prints the proxy's stderr (for a failure). */
void proxy_dump_log(const struct server *s);

/* echo.c: the minimal vfio-user echo server, forked, on one end of a socketpair. */
int echo_launch(struct server *s, int cpu);
/* Raw streams to the echo server (not through the client library): size bytes one way, a 16-byte header back. */
int echo_push(struct server *s, const void *data, size_t size);
int echo_pull(struct server *s, void *data, size_t size);

/*
 * pingpong.c: the minimal AF_UNIX ping-pong with the sizes of a 4-byte REGION_READ (32-byte request,
 * 36-byte reply) or REGION_WRITE (36 / 32): per round one write and one read here, one read and one write
 * in the forked server, nothing else.
 */
int pingpong_launch(struct server *s, int cpu, bool is_write);
int pingpong_round(struct server *s, bool is_write);

/* ---- report.c: samples, figures, targets ---- */
struct samples {
	uint64_t *v;
	size_t n;
	size_t cap;
};
int samples_init(struct samples *s, size_t cap);
void samples_add(struct samples *s, uint64_t v);
void samples_reset(struct samples *s);
void samples_free(struct samples *s);
/* q in [0, 1]: the sample at that quantile (nearest rank); sorts the samples. */
double samples_quantile(struct samples *s, double q);
double samples_mean(const struct samples *s);

enum unit {
	UNIT_NS,   /* a latency or time per operation; printed in us */
	UNIT_OPS,  /* operations per second */
	UNIT_MBS,  /* MB/s (10^6 bytes per second) */
	UNIT_KIB,  /* resident memory */
	UNIT_MSEC, /* a duration in ms */
	UNIT_PCT,  /* a share of one CPU's time */
};

/* One measured quantity: median, p99 and rate where they apply (NAN where not). */
struct measure {
	double median;
	double p99;
	double rate; /* ops/s */
};

struct measure measure_latency(struct samples *s); /* median, p99 in ns; rate 1e9/mean */
/*
 * The same from samples taken in `rounds` equal batches, in order: the median is the lowest of the
 * batches' medians (this machine flips between latency modes from one batch to the next; see README).
 */
struct measure measure_best_round(const struct samples *s, unsigned int rounds);
struct measure measure_value(double v);
/* Throughput (MB/s) from per-transfer times of bytes each: median time, p99 (slow) time. */
struct measure measure_throughput(struct samples *s, size_t bytes);

struct figure;
/* Adds a figure (its proxy value); add baselines to it with figure_base. */
struct figure *figure_add(const char *section, enum unit unit, struct measure proxy, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void figure_base(struct figure *f, const char *what, struct measure base);
/* proxy / baseline i (by medians); NAN if missing. */
double figure_ratio(const struct figure *f, unsigned int i);
/* A row the run could not measure, with the reason. */
void figure_missing(const char *section, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void section_describe(const char *section, const char *title, const char *baseline);
void report_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A target: measured against limit (at_most: measured <= limit is met). */
void report_target(const char *what, double measured, double limit, bool at_most, const char *unit,
		   const char *limited_by);
void report_print(FILE *out, bool json);
int report_failures(void); /* figures that could not be measured */

/* ---- the sections ---- */
int bench_trapped(struct server *proxy, struct server *echo, struct server *poll_proxy);
int bench_dma(struct server *proxy, struct server *echo);
int bench_maps(struct server *proxy, struct server *echo);
/* dma.c, for maps.c: one DMA transfer (size / 4 KiB edu commands, done at the MSI), and the memfd window. */
int bench_dma_transfer(struct server *srv, uint64_t iova, size_t size, bool to_ram);
int bench_dma_fd_window(struct server *srv, uint64_t iova, bool map);
void bench_table_lookup(void);

#endif /* TESTS_BENCH_H */
