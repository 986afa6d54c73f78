/* vm_checks.c: vm-checks, the guest bench's checks of a vfio-user proxy (export of a real device, or emulate) through the client library, or of a VFIO device read directly: the command line, the runner (one PASS/FAIL/SKIP line per check), the order of a session's checks, and what the check groups share. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm_checks.h"

void run(struct ctx *x, const char *name, check_fn fn)
{
	char why[512] = "";
	int r = fn(x, why, sizeof(why));

	if (r > 0)
		printf("SKIP %s.%s: %s\n", x->label, name, why);
	else
		vm_verdict(x->label, name, r == 0, "%s", why[0] ? why : "(no reason given)");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void print_measure(const char *label, const char *name, uint64_t *samples, size_t n)
{
	qsort(samples, n, sizeof(*samples), cmp_u64);
	printf("MEASURE %s.%s median %llu ns (min %llu, p90 %llu, %zu samples)\n", label, name,
	       (unsigned long long)samples[n / 2], (unsigned long long)samples[0],
	       (unsigned long long)samples[n * 9 / 10], n);
}

const char *kind_name(enum kind k)
{
	return k == KIND_EDU ? "edu" : k == KIND_NVME ? "nvme" : "emulated";
}

bool is_edu_like(const struct ctx *x)
{
	return x->kind == KIND_EDU || x->kind == KIND_EMULATED;
}

/* Whether BAR0 of this kind should be mmappable: real devices unless --trap-bars. */
bool want_mmap(const struct ctx *x)
{
	return (x->kind == KIND_EDU || x->kind == KIND_NVME) && !x->trap_bars;
}

/* Whether the device has a reset: QEMU's edu has none (no FLR, no PM reset), nvme has FLR, the model resets. */
bool want_reset(const struct ctx *x)
{
	return x->kind != KIND_EDU;
}

int memfd_window(size_t size, uint8_t **mem)
{
	int fd = vm_memfd("vm-checks-dma", size);
	void *p;

	if (fd < 0)
		return fd;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;

		close(fd);
		return -e;
	}
	*mem = p;
	return fd;
}

static int run_session(struct ctx *x)
{
	x->bar0_fd = -1;
	run(x, "version", check_version);
	run(x, "device-info", check_device_info);
	run(x, "region-info", check_region_info);
	run(x, "config", check_config);
	run(x, "bar0-regs", check_bar0_regs);
	if (want_mmap(x)) /* elsewhere region-info checked that BAR0 is not mmappable */
		run(x, "mmap-bar0", check_mmap_bar0);
	if (is_edu_like(x)) {
		run(x, "msi", check_msi);
		run(x, "dma", check_dma);
	}
	run(x, "reset", check_reset);
	measure_reads(x);
	if (x->proxy_log) /* then the reconnects meet the last successor */
		run_handover(x);
	end_session(x);
	run(x, "reconnects", check_reconnects);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vm-checks --socket PATH --kind edu|nvme|emulated [--trap-bars] [--proxy-pid PID]\n"
		"                 [--proxy-log FILE] [--label NAME]\n"
		"       vm-checks --direct-vfio BDF --kind edu|nvme [--label NAME]\n"
		"\n"
		"Runs the guest bench's checks against a vfio-user proxy serving a device of the given kind (or,\n"
		"with --direct-vfio, against the VFIO device itself, which must not be held by a proxy), printing\n"
		"one line per check: PASS NAME, FAIL NAME: WHY or SKIP NAME: WHY; MEASURE lines for latencies.\n"
		"With --proxy-log (the proxy's stderr) and --proxy-pid, also hands the proxy over 20 times by\n"
		"SIGHUP under the session, following each successor through the log.\n"
		"Exits 0 when nothing failed.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 's' },
		{ "kind", required_argument, NULL, 'k' },
		{ "trap-bars", no_argument, NULL, 't' },
		{ "proxy-pid", required_argument, NULL, 'p' },
		{ "proxy-log", required_argument, NULL, 'L' },
		{ "label", required_argument, NULL, 'l' },
		{ "direct-vfio", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctx x = { .bar0_fd = -1 };
	const char *kind = NULL, *direct = NULL;
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 's':
			x.socket = optarg;
			break;
		case 'k':
			kind = optarg;
			break;
		case 't':
			x.trap_bars = true;
			break;
		case 'p':
			x.proxy_pid = (pid_t)atoi(optarg);
			break;
		case 'L':
			x.proxy_log = optarg;
			break;
		case 'l':
			x.label = optarg;
			break;
		case 'd':
			direct = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!kind || optind != argc || (!x.socket && !direct)) {
		usage(stderr);
		return 2;
	}
	if (strcmp(kind, "edu") == 0)
		x.kind = KIND_EDU;
	else if (strcmp(kind, "nvme") == 0)
		x.kind = KIND_NVME;
	else if (strcmp(kind, "emulated") == 0)
		x.kind = KIND_EMULATED;
	else {
		fprintf(stderr, "vm-checks: unknown kind '%s'\n", kind);
		return 2;
	}
	if (!x.label)
		x.label = kind;
	if (direct)
		run_direct(&x, direct);
	else
		run_session(&x);
	return vm_failures ? 1 : 0;
}
