/* vm_trust.c: the guest bench's trust-boundary checks: a departed client that keeps the device fd, the per-client DMA limit under real VFIO pinning, one session kept across a supervisor's reload or a kill and restart; one PASS/FAIL line each. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm_common.h"

#define IOVA 0x100000ull
#define REPLY_MS 10000
#define WAIT_MS 20000 /* TCG: the proxy's teardown of a real device can take seconds */

/* The client takes BAR0's fd (the device fd), maps the BAR, leaves the socket and keeps both. */
static void hold_device_fd(const char *label, const char *sock, pid_t proxy)
{
	struct vfio_user_region_info info;
	uint8_t caps[512];
	size_t caps_len;
	struct vuc *c;
	long t0;
	int r, fd = -1;
	bool gone = false;

	r = vm_client(sock, REPLY_MS, &c);
	if (r < 0) {
		vm_verdict(label, "hold-device-fd", false, "connect and VERSION: %s", strerror(-r));
		return;
	}
	r = vuc_region_info(c, BAR0, &info, caps, sizeof(caps), &caps_len, &fd);
	vuc_close(c);
	if (r < 0 || fd < 0) {
		vm_verdict(label, "hold-device-fd", false, "BAR0 region info gave no fd (%s)",
			   r < 0 ? strerror(-r) : "none");
		return;
	}
	/* still serving while we hold it? it must stop instead of taking another client */
	t0 = vm_now_ms();
	while (vm_now_ms() - t0 < WAIT_MS) {
		if (kill(proxy, 0) && errno == ESRCH) {
			gone = true;
			break;
		}
		usleep(50000);
	}
	vm_verdict(label, "proxy-stops-while-fd-held", gone,
		   "proxy %d still running %d ms after its client left with the device fd", (int)proxy, WAIT_MS);
	close(fd);
}

/* A proxy that serves again once the holder is gone: VERSION and a config read. */
static void serves(const char *label, const char *sock)
{
	uint16_t id = 0;
	struct vuc *c;
	int r = vm_client(sock, REPLY_MS, &c);

	if (r == 0) {
		r = vuc_config_read(c, 0, &id, sizeof(id));
		vuc_close(c);
	}
	vm_verdict(label, "serves", r == 0 && id != 0xffff, "%s (vendor %#x)", r < 0 ? strerror(-r) : "read", id);
}

/* --dma-limit LIMIT: windows up to it map (and pin); one page more is refused with ENOMEM. */
static void dma_limit(const char *label, const char *sock, uint64_t limit)
{
	struct vuc *c;
	int fd = vm_memfd("vm-trust", limit + 4096), r, r2, r3;

	if (fd < 0 || vm_client(sock, REPLY_MS, &c) < 0) {
		vm_verdict(label, "dma-limit", false, "set-up failed");
		return;
	}
	r = vuc_dma_map_fd(c, IOVA, limit, fd, 0, RW);
	r2 = vuc_dma_map_fd(c, IOVA + limit, 4096, fd, limit, RW);
	vuc_dma_unmap(c, IOVA, limit, 0);
	r3 = vuc_dma_map_fd(c, IOVA + limit, 4096, fd, limit, RW);
	vm_verdict(label, "dma-limit", r == 0 && r2 == -ENOMEM && r3 == 0,
		   "map of %llu bytes: %s; one page more: %s (want ENOMEM); after an unmap: %s",
		   (unsigned long long)limit, strerror(-r), strerror(-r2), strerror(-r3));
	vuc_close(c);
	close(fd);
}

/* A sparse memfd bigger than the guest's RAM costs the client nothing: the default limit refuses it
 * before the kernel would try to pin it. */
static void sparse(const char *label, const char *sock, uint64_t size)
{
	struct vuc *c;
	int fd = vm_memfd("vm-trust", size), r;
	long t0;

	if (fd < 0 || vm_client(sock, REPLY_MS, &c) < 0) {
		vm_verdict(label, "sparse-window-refused", false, "set-up failed");
		return;
	}
	t0 = vm_now_ms();
	r = vuc_dma_map_fd(c, 1ull << 32, size, fd, 0, RW);
	vm_verdict(label, "sparse-window-refused", r == -ENOMEM, "DMA_MAP of a sparse %llu MiB memfd: %s (want ENOMEM)",
		   (unsigned long long)(size >> 20), r ? strerror(-r) : "mapped");
	printf("INFO %s sparse %llu MiB window answered in %ld ms\n", label, (unsigned long long)(size >> 20),
	       vm_now_ms() - t0);
	vuc_close(c);
	close(fd);
}

/*
 * One session held until the file stop exists (the bench reloads the unit meanwhile, a hand-over, or kills
 * it and systemd restarts it from its fd store): a config byte written at the start (the interrupt line,
 * which vfio-pci and the model keep as written) and the vendor ID read back again and again, every answer
 * the same; the longest wait for one reported, as the MEASURE line named measure. With waits_ms, every wait
 * of at least that long is an INFO line of its own with the times (CLOCK_MONOTONIC, ms: since boot, as
 * /proc/uptime in a guest that never suspends) of the answers before and after it, for the bench to tell
 * which one a kill caused.
 */
#define CFG_IRQ_LINE 0x3c
#define SESSION_MS 120000
struct session {
	const char *stop;    /* the file that ends it */
	const char *check;   /* the verdict's name */
	const char *measure; /* the longest wait's MEASURE name */
	long waits_ms;       /* 0: no line per long wait */
};

static void session_until(const char *label, const char *sock, const struct session *s)
{
	uint8_t line = 0x5a, got = 0;
	uint16_t vendor = 0, v;
	long t0, last, worst = 0;
	unsigned long reads = 0;
	struct vuc *c;
	int r = vm_client(sock, REPLY_MS, &c);

	if (r < 0) {
		vm_verdict(label, s->check, false, "connect and VERSION: %s", strerror(-r));
		return;
	}
	if ((r = vuc_config_write(c, CFG_IRQ_LINE, &line, 1)) < 0 || (r = vuc_config_read(c, 0, &vendor, 2)) < 0) {
		vm_verdict(label, s->check, false, "first config access: %s", strerror(-r));
		vuc_close(c);
		return;
	}
	printf("INFO %s session up (vendor %#06x)\n", label, vendor);
	t0 = last = vm_now_ms();
	while (access(s->stop, F_OK) != 0 && vm_now_ms() - t0 < SESSION_MS) {
		long now;

		v = 0;
		got = 0;
		if ((r = vuc_config_read(c, 0, &v, 2)) < 0 || (r = vuc_config_read(c, CFG_IRQ_LINE, &got, 1)) < 0 ||
		    v != vendor || got != line)
			break;
		reads++;
		now = vm_now_ms();
		if (now - last > worst)
			worst = now - last;
		if (s->waits_ms > 0 && now - last >= s->waits_ms)
			printf("INFO %s.%s wait %ld ms after %lu reads (answers at %ld and %ld ms)\n", label, s->check,
			       now - last, reads - 1, last, now);
		last = now;
		usleep(2000);
	}
	if (vm_verdict(label, s->check, r >= 0 && v == vendor && got == line && access(s->stop, F_OK) == 0,
		       "after %lu reads: %s (vendor %#06x, interrupt line %#04x)", reads,
		       r < 0 ? strerror(-r) : access(s->stop, F_OK) ? "never told to stop" : "a changed answer", v, got))
		printf("MEASURE %s.%s %ld ms (%lu reads)\n", label, s->measure, worst, reads);
	vuc_close(c);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },   { "label", required_argument, NULL, 'l' },
		{ "proxy-pid", required_argument, NULL, 'p' }, { "hold-device-fd", no_argument, NULL, 'H' },
		{ "serves", no_argument, NULL, 'S' },          { "dma-limit", required_argument, NULL, 'L' },
		{ "sparse", required_argument, NULL, 'P' },    { "session-until", required_argument, NULL, 'U' },
		{ "session-check", required_argument, NULL, 'C' },
		{ "session-measure", required_argument, NULL, 'M' },
		{ "session-waits", required_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	struct session session = { .check = "session-across-reload", .measure = "session-longest-wait" };
	const char *sock = NULL, *label = "trust";
	uint64_t limit = 0, sparse_size = 0;
	bool hold = false, serve = false;
	pid_t pid = 0;
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'l':
			label = optarg;
			break;
		case 'p':
			pid = (pid_t)atoi(optarg);
			break;
		case 'H':
			hold = true;
			break;
		case 'S':
			serve = true;
			break;
		case 'L':
			limit = strtoull(optarg, NULL, 0);
			break;
		case 'P':
			sparse_size = strtoull(optarg, NULL, 0);
			break;
		case 'U':
			session.stop = optarg;
			break;
		case 'C':
			session.check = optarg;
			break;
		case 'M':
			session.measure = optarg;
			break;
		case 'W':
			session.waits_ms = atol(optarg);
			break;
		default:
			fprintf(stderr, "usage: vm-trust --socket PATH [--label L] [--proxy-pid N --hold-device-fd] "
					"[--serves] [--dma-limit BYTES] [--sparse BYTES] [--session-until FILE "
					"[--session-check NAME] [--session-measure NAME] [--session-waits MS]]\n");
			return 2;
		}
	}
	if (!sock || (hold && pid <= 0)) {
		fprintf(stderr, "vm-trust: --socket needed (and --proxy-pid with --hold-device-fd)\n");
		return 2;
	}
	if (hold)
		hold_device_fd(label, sock, pid);
	if (serve)
		serves(label, sock);
	if (limit)
		dma_limit(label, sock, limit);
	if (sparse_size)
		sparse(label, sock, sparse_size);
	if (session.stop)
		session_until(label, sock, &session);
	return vm_failures ? 1 : 0;
}
