/* bench.c: `make bench`: the proxy's figures beside baselines measured in the same run, printed as a table or JSON. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct bench_opts opt;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vup-bench [--short] [--json] [--proxy PATH] [--poll-us N] [--rounds N] [--fifo]\n"
		"                 [--trapped-only]\n"
		"\n"
		"Measures vfio-user-proxy (the emulated edu device) against baselines taken in the same run:\n"
		"a minimal echo server on a socketpair driven by the same client library, raw socket streams,\n"
		"the minimal AF_UNIX ping-pong (one write and one read a side), memcpy. Prints a table (or JSON\n"
		"with --json) and which targets are met; never asserts them.\n"
		"\n"
		"  --short       a few seconds: fewer samples, one round (CI checks that it runs)\n"
		"  --json        JSON instead of the table\n"
		"  --proxy PATH  the proxy binary (default: $PROXY_BIN, else build/rel/vfio-user-proxy)\n"
		"  --poll-us N   also measure a proxy started with --poll-us N (default 50; 0: skip)\n"
		"  --rounds N    interleaved proxy/baseline rounds per figure (default 5, short 1)\n"
		"  --fifo        run everything (this process, the proxy, the echo server) SCHED_FIFO 1, so that\n"
		"                other load on the machine delays the wake-ups less (needs CAP_SYS_NICE)\n"
		"  --trapped-only  only the trapped-path sections (round trips, CPU, posted writes, interrupts)\n");
}

static void set_mode(bool short_mode)
{
	opt.short_mode = short_mode;
	opt.rounds = short_mode ? 1 : 5;
	opt.rt_iters = short_mode ? 300 : 4000;
	opt.posted_iters = short_mode ? 2000 : 20000;
	opt.irq_iters = short_mode ? 100 : 1000;
	opt.dma_reps = short_mode ? 2 : 8;
	opt.map_reps = short_mode ? 1 : 5;
	opt.starts = short_mode ? 2 : 10;
}

/* fork + exec of argv with stdout and stderr on /dev/null; returns the child's pid. */
static pid_t spawn(const char *const *argv, int cpu)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		pin_pid(0, cpu);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid > 0)
		pin_pid(pid, cpu);
	return pid;
}

/*
 * Start to listening socket (fork to the first successful connect) and VmRSS idle (no client, after that
 * first connection came and went), against `vfio-user-proxy --version` (the same binary exec'd, linked and
 * exited) and the VmRSS of a minimal C program (coreutils sleep).
 */
static int bench_start(int cpu, struct measure *idle_rss)
{
	const char *const version[] = { opt.proxy_bin, "--version", NULL };
	const char *const sleeper[] = { "sleep", "30", NULL };
	struct samples start, exec_only, rss, rss_min;
	struct figure *f;
	int ret = 0;

	samples_init(&start, opt.starts);
	samples_init(&exec_only, opt.starts);
	samples_init(&rss, opt.starts);
	samples_init(&rss_min, opt.starts);
	for (unsigned int i = 0; i < opt.starts && !ret; i++) {
		struct server s;
		uint64_t ns, t0;
		pid_t pid;
		long kib;

		ret = proxy_launch(&s, NULL, cpu, &ns);
		if (ret)
			break;
		samples_add(&start, ns);
		bench_sleep_ms(50); /* let it finish with the probing connection */
		kib = proc_rss_kib(s.pid);
		if (kib > 0)
			samples_add(&rss, (uint64_t)kib);
		server_stop(&s);

		t0 = now_ns();
		pid = spawn(version, cpu);
		if (pid > 0 && waitpid(pid, NULL, 0) == pid)
			samples_add(&exec_only, now_ns() - t0);
		pid = spawn(sleeper, cpu);
		if (pid > 0) {
			bench_sleep_ms(30);
			kib = proc_rss_kib(pid);
			if (kib > 0)
				samples_add(&rss_min, (uint64_t)kib);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
	if (ret) {
		fprintf(stderr, "bench: cannot start the proxy %s: %s\n", opt.proxy_bin, strerror(-ret));
	} else {
		f = figure_add("start", UNIT_NS, measure_latency(&start), "proxy start to listening socket");
		figure_base(f, "same binary: exec to exit (--version)", measure_latency(&exec_only));
		*idle_rss = measure_value(samples_quantile(&rss, 0.5));
		f = figure_add("memory", UNIT_KIB, *idle_rss, "proxy VmRSS idle (listening, no client)");
		figure_base(f, "minimal C program (coreutils sleep)", measure_value(samples_quantile(&rss_min, 0.5)));
		report_target("proxy VmRSS idle", idle_rss->median / 1024, 4, true, "MiB",
			      "the libc and json-c pages mapped in, plus what the server touches at start");
	}
	samples_free(&start);
	samples_free(&exec_only);
	samples_free(&rss);
	samples_free(&rss_min);
	return ret;
}

static void load_note(const char *when)
{
	char buf[128] = "";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	report_note("%s: %s (other work on the machine shows up as noise in every figure)", when, buf);
}

static void describe(void)
{
	section_describe("trapped", "trapped path: 4-byte round trips on BAR0 0x04, first from the minimal client (one write, "
				    "one read; also the lowest of the rounds' medians), then through the client library "
				    "(vuc_read32/vuc_write32)",
			 "the echo server, forked on a socketpair and pinned like the proxy: per message one blocking "
			 "recvmsg of the 16-byte header, one blocking recv of the payload, one sendmsg of the reply "
			 "(request 32 B / reply 36 B for a read, 36 B / 32 B for a write); the raw client against it; and "
			 "the minimal AF_UNIX ping-pong, the floor: a forked server doing one read of the request size "
			 "and one write of the reply size a round, the client one write and one read");
	section_describe("cpu", "server CPU time per round trip, and as a share of the batches' wall time "
				"(/proc/PID/schedstat over the timed batches)",
			 "the echo server, and the proxy without busy-poll");
	section_describe("posted", "posted (no-reply) writes: a stream of 4-byte REGION_WRITEs fenced by one read",
			 "the echo server reading the same stream (it answers nothing for a no-reply message)");
	section_describe("irq", "interrupt latency: posted write of edu's raise register -> MSI -> client's eventfd "
				"(poll + read)",
			 "the echo server writing its eventfd when it reads the same posted write");
	section_describe("dma-fdless", "fd-less DMA: edu's engine (4 KiB a command) through DMA_READ/DMA_WRITE "
				       "served by the client library; one REGION_WRITE_MULTI {src, dst, cmd} a command, "
				       "the last with the interrupt bit, done at the MSI",
			 "a raw socket stream of the same bytes (one sendmsg, 16-byte answer); the echo server "
			 "answering the same messages with its own DMA_READ/DMA_WRITE; memcpy of the same chunks");
	section_describe("dma-fd", "fd-backed DMA: the same transfers through a memfd window the server mmapped",
			 "the echo server doing the same (memcpy into its mapping); memcpy of the same chunks here");
	section_describe("maps", "DMA_MAP/DMA_UNMAP of fd-less 4 KiB windows side by side, ascending, unmapped in the "
				 "same order: one at a time (raw request through the client library, waiting for each "
				 "reply) and pipelined as QEMU sends them (64 in flight, replies read off the socket)",
			 "the echo server answering the same messages without keeping any table");
	section_describe("table", "the proxy's DMA window table (server/dma_table.c linked into the benchmark)",
			 "the same code holding 1 window");
	section_describe("start", "process start", "the same binary exec'd with --version");
	section_describe("memory", "resident memory (VmRSS in /proc/PID/status)", "as named");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "short", no_argument, NULL, 's' },     { "json", no_argument, NULL, 'j' },
		{ "proxy", required_argument, NULL, 'p' }, { "poll-us", required_argument, NULL, 'P' },
		{ "rounds", required_argument, NULL, 'r' }, { "fifo", no_argument, NULL, 'f' },
		{ "trapped-only", no_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct server proxy = { .efd = -1 }, echo = { .efd = -1 }, polling = { .efd = -1 };
	struct measure idle_rss = measure_value(-1);
	bool short_mode = false, have_poll = false, fifo = false, trapped_only = false;
	int rounds = 0, c, ret;
	char poll_arg[16];

	opt.poll_us = 50;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			short_mode = true;
			break;
		case 'j':
			opt.json = true;
			break;
		case 'p':
			opt.proxy_bin = optarg;
			break;
		case 'P':
			opt.poll_us = atoi(optarg);
			if (opt.poll_us < 0)
				opt.poll_us = 0;
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'f':
			fifo = true;
			break;
		case 't':
			trapped_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	set_mode(short_mode);
	if (rounds > 0)
		opt.rounds = (unsigned int)rounds;
	if (!opt.proxy_bin)
		opt.proxy_bin = getenv("PROXY_BIN");
	if (!opt.proxy_bin)
		opt.proxy_bin = "build/rel/vfio-user-proxy";
	if (access(opt.proxy_bin, X_OK)) {
		fprintf(stderr, "bench: no proxy binary at %s (build it, or pass --proxy PATH)\n", opt.proxy_bin);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	placements[0] = (struct placement){ "same CPU", bench_cpu(0), bench_cpu(0) };
	nplacements = 1;
	if (bench_cpu_count() >= 2)
		placements[nplacements++] = (struct placement){ "cross CPU", bench_cpu(0), bench_cpu(1) };
	pin_pid(0, bench_cpu(0));
	if (fifo) {
		struct sched_param sp = { .sched_priority = 1 };

		/* Inherited by the echo server and the proxies we fork. */
		if (sched_setscheduler(0, SCHED_FIFO, &sp)) {
			fprintf(stderr, "bench: --fifo: %s\n", strerror(errno));
			return 2;
		}
	}
	describe();
	load_note("load average at start");

	ret = trapped_only ? 0 : bench_start(placements[nplacements - 1].server_cpu, &idle_rss);
	if (!ret)
		ret = proxy_launch(&proxy, NULL, placements[0].server_cpu, NULL);
	if (!ret)
		ret = proxy_connect(&proxy);
	if (!ret)
		ret = echo_launch(&echo, placements[0].server_cpu);
	if (ret) {
		fprintf(stderr, "bench: cannot set up the servers: %s\n", strerror(-ret));
		if (proxy.pid > 0)
			proxy_dump_log(&proxy);
		goto out;
	}
	if (opt.poll_us > 0) {
		const char *const extra[] = { "--poll-us", poll_arg, NULL };

		snprintf(poll_arg, sizeof(poll_arg), "%d", opt.poll_us);
		ret = proxy_launch(&polling, extra, placements[0].server_cpu, NULL);
		if (!ret)
			ret = proxy_connect(&polling);
		have_poll = ret == 0;
		if (ret == -EINVAL)
			report_note("--poll-us %d: this proxy does not take --poll-us; busy-poll figures left out",
				    opt.poll_us);
		else if (ret)
			figure_missing("trapped", strerror(-ret), "proxy started with --poll-us %d", opt.poll_us);
		ret = 0;
	}
	ret = bench_trapped(&proxy, &echo, have_poll ? &polling : NULL);
	if (have_poll)
		server_stop(&polling);
	if (!ret && !trapped_only)
		ret = bench_dma(&proxy, &echo);
	if (!ret && !trapped_only)
		ret = bench_maps(&proxy, &echo);
	if (!ret && !trapped_only)
		bench_table_lookup();
	if (ret && proxy.pid > 0)
		proxy_dump_log(&proxy);

	load_note("load average at end");
	report_note("scheduling: %s", fifo ? "SCHED_FIFO 1 for every process of the benchmark (--fifo)" :
					 "the default policy, sharing the CPUs with whatever else runs (--fifo to change)");
	report_note("%d CPU(s); this process on CPU %d, the server under test on CPU %d (same CPU)%s", bench_cpu_count(),
		    placements[0].client_cpu, placements[0].server_cpu,
		    nplacements > 1 ? " or the next CPU (cross CPU)" : "; cross-CPU figures need 2 CPUs");
	report_note("%s mode: %u interleaved round(s) per figure, %u round trips a round; medians and p99 over all "
		    "samples", opt.short_mode ? "short" : "full", opt.rounds, opt.rt_iters);
	report_note("server CPU time is the kernel's run time of the process (schedstat); on a virtual machine it "
		    "includes time the vCPU was preempted by the host while the process was current");
	report_note("interrupt latency includes the posted write's trip to the server: the difference to the echo "
		    "row is what the proxy adds between reading the raise and signalling the eventfd");
	report_note("a \"1 MiB\" DMA is 256 edu commands of 4 KiB (edu's buffer is 4 KiB at device address 0x40000)");
	report_note("the 65 535-window figures use fd-less windows (one mmap each would pass vm.max_map_count "
		    "65530); the DMA among them goes through one extra memfd window put in the last one's place");
out:
	server_stop(&proxy);
	server_stop(&echo);
	report_print(stdout, opt.json);
	if (ret)
		return 1;
	return report_failures() ? 1 : 0;
}
