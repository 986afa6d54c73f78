/* vm_checks.c: the guest bench's checks: drives a vfio-user proxy (export of a real device, or emulate) through the client library, one PASS/FAIL line per check; measures BAR0 read latency; reads a VFIO device directly. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "client/client.h"
#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define CONFIG VFIO_PCI_CONFIG_REGION_INDEX
#define PCI_COMMAND_MEMORY 0x2u
#define PCI_COMMAND_MASTER 0x4u
/* QEMU's edu clamps DMA addresses to 28 bits: the window stays below 256 MiB. */
#define DMA_IOVA 0x100000ull
#define DMA_SIZE 0x100000ull
#define DMA_BACK 0x10000u /* where the device-to-RAM copy lands in the window */
#define DMA_PART 0x20000u /* the partial, unaligned copy */
#define GUARD 0x5a
#define RECONNECTS 20
#define LATENCY_SAMPLES 1000
#define IRQ_WAIT_MS 5000
#define DMA_WAIT_MS 10000 /* QEMU's edu runs a transfer on a 100 ms timer; TCG is slow */
#define NVME_REG_CAP 0x00
#define NVME_REG_VS 0x08
#define QEMU_NVME_VENDOR 0x1b36
#define CLASS_NVME 0x010802u

enum kind { KIND_EDU, KIND_NVME, KIND_EMULATED };

/* A VFIO device opened directly (legacy container), for the latency baseline. */
struct direct {
	const char *bdf;
	int container, group, device;
	struct vfio_region_info bar0;
};

struct ctx {
	const char *label;
	enum kind kind;
	bool trap_bars;
	pid_t proxy_pid;
	const char *socket;

	struct vuc *c;
	struct direct *d; /* --direct-vfio only */
	bool have_info, have_bar0;
	struct vfio_user_device_info info;
	struct vfio_user_region_info bar0;
	uint8_t bar0_caps[1024];
	size_t bar0_caps_len;
	int bar0_fd;
	uint8_t *map; /* the mmapped part of BAR0 that holds offset 0 */
	size_t map_len;
	bool bus_master;
};

static unsigned int n_pass, n_fail, n_skip;

/* A check returns 0 (pass), 1 (skip, why says why) or -1 (fail, why says why). */
typedef int (*check_fn)(struct ctx *x, char *why, size_t len);

#define FAIL(...)                                   \
	do {                                        \
		snprintf(why, len, __VA_ARGS__);    \
		return -1;                          \
	} while (0)
#define SKIP(...)                                   \
	do {                                        \
		snprintf(why, len, __VA_ARGS__);    \
		return 1;                           \
	} while (0)
/* A client call that must succeed. */
#define MUST(call)                                                              \
	do {                                                                    \
		int r_ = (call);                                                \
		if (r_ < 0)                                                     \
			FAIL("%s: %s", #call, strerror(-r_));                   \
	} while (0)

static void run(struct ctx *x, const char *name, check_fn fn)
{
	char why[512] = "";
	int r = fn(x, why, sizeof(why));

	if (r == 0) {
		printf("PASS %s.%s\n", x->label, name);
		n_pass++;
	} else if (r > 0) {
		printf("SKIP %s.%s: %s\n", x->label, name, why);
		n_skip++;
	} else {
		printf("FAIL %s.%s: %s\n", x->label, name, why[0] ? why : "(no reason given)");
		n_fail++;
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void print_measure(const char *label, const char *name, uint64_t *samples, size_t n)
{
	qsort(samples, n, sizeof(*samples), cmp_u64);
	printf("MEASURE %s.%s median %llu ns (min %llu, p90 %llu, %zu samples)\n", label, name,
	       (unsigned long long)samples[n / 2], (unsigned long long)samples[0],
	       (unsigned long long)samples[n * 9 / 10], n);
}

static const char *kind_name(enum kind k)
{
	return k == KIND_EDU ? "edu" : k == KIND_NVME ? "nvme" : "emulated";
}

static bool is_edu_like(const struct ctx *x)
{
	return x->kind == KIND_EDU || x->kind == KIND_EMULATED;
}

/* Whether BAR0 of this kind should be mmappable: real devices unless --trap-bars. */
static bool want_mmap(const struct ctx *x)
{
	return (x->kind == KIND_EDU || x->kind == KIND_NVME) && !x->trap_bars;
}

/* Whether the device has a reset: QEMU's edu has none (no FLR, no PM reset), nvme has FLR, the model resets. */
static bool want_reset(const struct ctx *x)
{
	return x->kind != KIND_EDU;
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int c, n = 0;

	if (!f)
		return -errno;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static int proxy_fds(const struct ctx *x)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)x->proxy_pid);
	return count_dir(path);
}

static int proxy_maps(const struct ctx *x)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)x->proxy_pid);
	return count_lines(path);
}

/* Waits for an eventfd to count; returns the count, 0 on timeout, a negative errno on error. */
static long eventfd_wait(int efd, int timeout_ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v;
	int r = poll(&p, 1, timeout_ms);

	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return -errno;
	return (long)v;
}

static int memfd_window(size_t size, uint8_t **mem)
{
	int fd = memfd_create("vm-checks-dma", MFD_CLOEXEC);
	void *p;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -errno;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	*mem = p;
	return fd;
}

/* ---- the checks over one session ---- */

static int check_version(struct ctx *x, char *why, size_t len)
{
	struct vuc_server_caps caps;
	int r = vuc_connect(x->socket, &x->c);

	if (r < 0)
		FAIL("connect %s: %s", x->socket, strerror(-r));
	vuc_set_timeout(x->c, 10000); /* TCG: generous */
	r = vuc_negotiate(x->c, &caps);
	if (r < 0) {
		vuc_close(x->c);
		x->c = NULL;
		FAIL("VERSION: %s", strerror(-r));
	}
	if (caps.major != 0)
		FAIL("server speaks %u.%u", caps.major, caps.minor);
	printf("INFO %s version %u.%u max_msg_fds %u max_data_xfer_size %u\n", x->label, caps.major, caps.minor,
	       caps.max_msg_fds, caps.max_data_xfer_size);
	return 0;
}

static int check_device_info(struct ctx *x, char *why, size_t len)
{
	bool reset;

	if (!x->c)
		FAIL("not connected");
	MUST(vuc_device_info(x->c, &x->info));
	x->have_info = true;
	printf("INFO %s device flags %#x regions %u irqs %u\n", x->label, x->info.flags, x->info.num_regions,
	       x->info.num_irqs);
	if (!(x->info.flags & VFIO_DEVICE_FLAGS_PCI))
		FAIL("flags %#x lack VFIO_DEVICE_FLAGS_PCI", x->info.flags);
	reset = x->info.flags & VFIO_DEVICE_FLAGS_RESET;
	if (reset != want_reset(x))
		FAIL("flags %#x: RESET %s, expected %s for %s", x->info.flags, reset ? "set" : "clear",
		     want_reset(x) ? "set" : "clear", kind_name(x->kind));
	if (x->info.num_regions < VFIO_PCI_NUM_REGIONS)
		FAIL("%u regions, expected at least %u", x->info.num_regions, VFIO_PCI_NUM_REGIONS);
	if (x->info.num_irqs < VFIO_PCI_NUM_IRQS)
		FAIL("%u irqs, expected at least %u", x->info.num_irqs, VFIO_PCI_NUM_IRQS);
	return 0;
}

static int check_region_info(struct ctx *x, char *why, size_t len)
{
	struct vfio_user_region_info ri;
	bool mmap_flag;
	size_t cl;
	int fd;

	if (!x->c)
		FAIL("not connected");
	MUST(vuc_region_info(x->c, BAR0, &x->bar0, x->bar0_caps, sizeof(x->bar0_caps), &x->bar0_caps_len,
			     &x->bar0_fd));
	x->have_bar0 = true;
	if (x->bar0_caps_len > sizeof(x->bar0_caps))
		x->bar0_caps_len = sizeof(x->bar0_caps);
	mmap_flag = x->bar0.flags & VFIO_REGION_INFO_FLAG_MMAP;
	printf("INFO %s BAR0 size %#llx flags %#x offset %#llx fd %s caps %zu bytes\n", x->label,
	       (unsigned long long)x->bar0.size, x->bar0.flags, (unsigned long long)x->bar0.offset,
	       x->bar0_fd >= 0 ? "passed" : "none", x->bar0_caps_len);
	if ((x->bar0.flags & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE)) !=
	    (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE))
		FAIL("BAR0 flags %#x not readable and writable", x->bar0.flags);
	if (is_edu_like(x) && x->bar0.size != EDU_BAR_REGS_SIZE)
		FAIL("BAR0 size %#llx, expected 1 MiB", (unsigned long long)x->bar0.size);
	if (x->kind == KIND_NVME && (x->bar0.size < 0x1000 || (x->bar0.size & (x->bar0.size - 1))))
		FAIL("BAR0 size %#llx is not a power of two >= 4 KiB", (unsigned long long)x->bar0.size);
	if (mmap_flag != want_mmap(x))
		FAIL("BAR0 MMAP flag %s, expected %s%s", mmap_flag ? "set" : "clear", want_mmap(x) ? "set" : "clear",
		     x->trap_bars ? " (--trap-bars)" : "");
	if (mmap_flag && x->bar0_fd < 0)
		FAIL("BAR0 has the MMAP flag but no fd came with it");
	if (!mmap_flag && x->bar0_fd >= 0)
		FAIL("an fd came with BAR0 although it is not mmappable");

	MUST(vuc_region_info(x->c, CONFIG, &ri, NULL, 0, &cl, &fd));
	if (fd >= 0)
		close(fd);
	if (ri.size != 256 && ri.size != 4096)
		FAIL("config region size %#llx, expected 256 or 4096", (unsigned long long)ri.size);
	if ((ri.flags & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE)) !=
	    (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE))
		FAIL("config region flags %#x not readable and writable", ri.flags);
	if ((ri.flags & VFIO_REGION_INFO_FLAG_MMAP) || fd >= 0)
		FAIL("config region offered for mmap (flags %#x)", ri.flags);

	/* With --trap-bars no region may come with an fd. */
	if (x->trap_bars && x->have_info) {
		for (uint32_t i = 0; i < x->info.num_regions; i++) {
			if (vuc_region_info(x->c, i, &ri, NULL, 0, &cl, &fd) < 0)
				continue; /* e.g. the VGA region of a device without VGA */
			if (fd >= 0) {
				close(fd);
				FAIL("region %u came with an fd under --trap-bars", i);
			}
			if (ri.flags & VFIO_REGION_INFO_FLAG_MMAP)
				FAIL("region %u has the MMAP flag under --trap-bars", i);
		}
	}
	return 0;
}

static int check_config(struct ctx *x, char *why, size_t len)
{
	uint16_t ids[2];
	uint8_t cls[3];
	uint32_t class_code;

	if (!x->c)
		FAIL("not connected");
	MUST(vuc_config_read(x->c, 0, ids, sizeof(ids)));
	MUST(vuc_config_read(x->c, 9, cls, sizeof(cls)));
	class_code = (uint32_t)cls[2] << 16 | (uint32_t)cls[1] << 8 | cls[0];
	printf("INFO %s config %04x:%04x class %06x\n", x->label, ids[0], ids[1], class_code);
	if (is_edu_like(x) && (ids[0] != EDU_VENDOR_ID || ids[1] != EDU_DEVICE_ID))
		FAIL("ids %04x:%04x, expected %04x:%04x", ids[0], ids[1], EDU_VENDOR_ID, EDU_DEVICE_ID);
	if (x->kind == KIND_NVME && (ids[0] != QEMU_NVME_VENDOR || class_code != CLASS_NVME))
		FAIL("ids %04x:%04x class %06x, expected vendor %04x class %06x", ids[0], ids[1], class_code,
		     QEMU_NVME_VENDOR, CLASS_NVME);
	return 0;
}

/* edu's id and liveness registers through REGION_READ/REGION_WRITE; nvme's CAP and VS. */
static int check_bar0_regs(struct ctx *x, char *why, size_t len)
{
	uint32_t v;

	if (!x->c)
		FAIL("not connected");
	if (x->kind == KIND_NVME) {
		uint64_t cap;
		uint32_t vs;

		MUST(vuc_read64(x->c, BAR0, NVME_REG_CAP, &cap));
		MUST(vuc_read32(x->c, BAR0, NVME_REG_VS, &vs));
		printf("INFO %s nvme CAP %#018llx VS %#010x (NVMe %u.%u.%u)\n", x->label, (unsigned long long)cap, vs,
		       vs >> 16, (vs >> 8) & 0xff, vs & 0xff);
		if (cap == 0 || cap == ~0ull)
			FAIL("CAP reads %#llx", (unsigned long long)cap);
		if (vs >> 16 != 1)
			FAIL("VS %#x is not NVMe 1.x", vs);
		return 0;
	}
	MUST(vuc_read32(x->c, BAR0, EDU_REG_ID, &v));
	if (v != EDU_ID_VALUE)
		FAIL("id register %#x, expected %#x", v, EDU_ID_VALUE);
	MUST(vuc_write32(x->c, BAR0, EDU_REG_LIVENESS, 0x12345678));
	MUST(vuc_read32(x->c, BAR0, EDU_REG_LIVENESS, &v));
	if (v != ~0x12345678u)
		FAIL("liveness reads %#x after writing 0x12345678, expected %#x", v, ~0x12345678u);
	return 0;
}

/* The part of BAR0 that may be mmapped and holds offset 0: a sparse area, or the whole region. */
static int bar0_mmap_area(const struct ctx *x, uint64_t *off, uint64_t *size, char *why, size_t len)
{
	uint32_t next = (x->bar0.flags & VFIO_REGION_INFO_FLAG_CAPS) ? x->bar0.cap_offset : 0;
	const size_t base = sizeof(struct vfio_user_region_info);

	for (int hops = 0; next && hops < 16; hops++) {
		struct vfio_user_cap_header h;
		struct vfio_user_cap_sparse_mmap sp;

		if (next < base || next - base + sizeof(h) > x->bar0_caps_len)
			FAIL("capability chain points outside the reply (%#x)", next);
		memcpy(&h, x->bar0_caps + next - base, sizeof(h));
		if (h.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			if (next - base + sizeof(sp) > x->bar0_caps_len)
				FAIL("sparse mmap capability truncated");
			memcpy(&sp, x->bar0_caps + next - base, sizeof(sp));
			if (next - base + sizeof(sp) + sp.nr_areas * sizeof(struct vfio_user_sparse_mmap_area) >
			    x->bar0_caps_len)
				FAIL("sparse mmap capability with %u areas truncated", sp.nr_areas);
			for (uint32_t i = 0; i < sp.nr_areas; i++) {
				struct vfio_user_sparse_mmap_area a;

				memcpy(&a, x->bar0_caps + next - base + sizeof(sp) + i * sizeof(a), sizeof(a));
				printf("INFO %s BAR0 sparse mmap area %#llx+%#llx\n", x->label,
				       (unsigned long long)a.offset, (unsigned long long)a.size);
				if (a.offset == 0 && a.size) {
					*off = 0;
					*size = a.size;
					return 0;
				}
			}
			FAIL("no sparse mmap area starts at offset 0");
		}
		next = h.next;
	}
	*off = 0;
	*size = x->bar0.size;
	return 0;
}

static int check_mmap_bar0(struct ctx *x, char *why, size_t len)
{
	uint64_t off, size;
	void *p;

	if (!x->have_bar0)
		FAIL("no BAR0 region info");
	if (!(x->bar0.flags & VFIO_REGION_INFO_FLAG_MMAP) || x->bar0_fd < 0)
		FAIL("BAR0 is not mmappable (flags %#x, fd %s)", x->bar0.flags, x->bar0_fd >= 0 ? "passed" : "none");
	if (bar0_mmap_area(x, &off, &size, why, len))
		return -1;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, x->bar0_fd, (off_t)(x->bar0.offset + off));
	if (p == MAP_FAILED)
		FAIL("mmap of the passed fd at %#llx (%#llx bytes): %s", (unsigned long long)(x->bar0.offset + off),
		     (unsigned long long)size, strerror(errno));
	x->map = p;
	x->map_len = size;
	if (x->kind == KIND_NVME) {
		volatile uint32_t *r = (volatile uint32_t *)x->map;
		uint32_t vs_trap, vs_map = r[NVME_REG_VS / 4];

		MUST(vuc_read32(x->c, BAR0, NVME_REG_VS, &vs_trap));
		if (vs_map != vs_trap)
			FAIL("VS via mmap %#x, via REGION_READ %#x", vs_map, vs_trap);
		return 0;
	}
	{
		volatile uint32_t *r = (volatile uint32_t *)x->map;
		uint32_t v = r[EDU_REG_ID / 4];

		if (v != EDU_ID_VALUE)
			FAIL("id register via mmap %#x, expected %#x", v, EDU_ID_VALUE);
		r[EDU_REG_LIVENESS / 4] = 0xa5a5f00d;
		v = r[EDU_REG_LIVENESS / 4];
		if (v != ~0xa5a5f00du)
			FAIL("liveness via mmap %#x, expected %#x", v, ~0xa5a5f00du);
		/* and the trapped path sees what the mapping wrote */
		MUST(vuc_read32(x->c, BAR0, EDU_REG_LIVENESS, &v));
		if (v != ~0xa5a5f00du)
			FAIL("liveness via REGION_READ %#x after an mmap write, expected %#x", v, ~0xa5a5f00du);
	}
	return 0;
}

static int set_command_bits(struct vuc *c, uint16_t bits)
{
	uint16_t cmd;
	int r = vuc_config_read(c, 4, &cmd, sizeof(cmd));

	if (r < 0)
		return r;
	cmd |= bits;
	return vuc_config_write(c, 4, &cmd, sizeof(cmd));
}

static int check_msi(struct ctx *x, char *why, size_t len)
{
	struct vfio_user_irq_info ii;
	uint32_t st;
	long n;
	int efd, ret = 0;

	if (!x->c)
		FAIL("not connected");
	MUST(vuc_irq_info(x->c, VFIO_PCI_MSI_IRQ_INDEX, &ii));
	if (ii.count < 1 || !(ii.flags & VFIO_IRQ_INFO_EVENTFD))
		FAIL("MSI irq info count %u flags %#x", ii.count, ii.flags);
	MUST(set_command_bits(x->c, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
	x->bus_master = true;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		FAIL("eventfd: %s", strerror(errno));
	ret = vuc_set_irqs(x->c, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1,
			   &efd, NULL);
	if (ret < 0) {
		snprintf(why, len, "SET_IRQS MSI eventfd: %s", strerror(-ret));
		goto out;
	}
	if ((ret = vuc_write32(x->c, BAR0, EDU_REG_IRQ_RAISE, 0x40)) < 0) {
		snprintf(why, len, "write raise: %s", strerror(-ret));
		goto disable;
	}
	n = eventfd_wait(efd, IRQ_WAIT_MS);
	if (n <= 0) {
		snprintf(why, len, "no interrupt on the eventfd within %d ms (%s)", IRQ_WAIT_MS,
			 n < 0 ? strerror((int)-n) : "timeout");
		ret = -1;
		goto disable;
	}
	if ((ret = vuc_read32(x->c, BAR0, EDU_REG_IRQ_STATUS, &st)) < 0 || !(st & 0x40)) {
		snprintf(why, len, "interrupt status %#x (%s) lacks the raised bit 0x40", st,
			 ret < 0 ? strerror(-ret) : "read ok");
		ret = -1;
		goto disable;
	}
	if ((ret = vuc_write32(x->c, BAR0, EDU_REG_IRQ_ACK, 0x40)) < 0 ||
	    (ret = vuc_read32(x->c, BAR0, EDU_REG_IRQ_STATUS, &st)) < 0 || (st & 0x40)) {
		snprintf(why, len, "acknowledge: status %#x (%s)", st, ret < 0 ? strerror(-ret) : "read ok");
		ret = -1;
		goto disable;
	}
disable:
	{
		int r = vuc_set_irqs(x->c, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
				     0, 0, NULL, NULL);

		if (r < 0 && ret == 0) {
			snprintf(why, len, "disabling MSI: %s", strerror(-r));
			ret = -1;
		}
	}
out:
	close(efd);
	return ret < 0 ? -1 : 0;
}

/* Runs one edu DMA transfer and waits for it: 0, or a negative errno / -ETIMEDOUT / -EIO (error bit). */
static int run_dma(struct vuc *c, uint64_t src, uint64_t dst, uint64_t count, uint64_t cmd)
{
	uint64_t v = 0;
	uint64_t deadline = now_ns() + (uint64_t)DMA_WAIT_MS * 1000000ull;
	int r;

	if ((r = vuc_write64(c, BAR0, EDU_REG_DMA_SRC, src)) < 0 || (r = vuc_write64(c, BAR0, EDU_REG_DMA_DST, dst)) < 0 ||
	    (r = vuc_write64(c, BAR0, EDU_REG_DMA_COUNT, count)) < 0 ||
	    (r = vuc_write64(c, BAR0, EDU_REG_DMA_CMD, cmd | EDU_DMA_CMD_RUN)) < 0)
		return r;
	for (;;) {
		if ((r = vuc_read64(c, BAR0, EDU_REG_DMA_CMD, &v)) < 0)
			return r;
		if (!(v & EDU_DMA_CMD_RUN))
			break;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return (v & EDU_DMA_CMD_ERROR) ? -EIO : 0;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* RAM -> device buffer -> another place in RAM, through the IOMMU; every byte compared in the memfd. */
static int check_dma(struct ctx *x, char *why, size_t len)
{
	/*
	 * One byte short of the whole buffer: QEMU 7.2's edu rejects a transfer that ends exactly at the
	 * buffer's end (an off-by-one in its range check) with hw_error(), which aborts QEMU.
	 */
	const uint32_t n = EDU_DMA_BUF_SIZE - 1;
	uint8_t *mem = NULL;
	int mfd, r, ret = -1;
	size_t bad;

	if (!x->c)
		FAIL("not connected");
	if (!x->bus_master)
		MUST(set_command_bits(x->c, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
	x->bus_master = true;
	mfd = memfd_window(DMA_SIZE, &mem);
	if (mfd < 0)
		FAIL("memfd: %s", strerror(-mfd));
	r = vuc_dma_map_fd(x->c, DMA_IOVA, DMA_SIZE, mfd, 0, VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE);
	if (r < 0) {
		snprintf(why, len, "DMA_MAP of a 1 MiB memfd at %#llx: %s", DMA_IOVA, strerror(-r));
		goto out;
	}
	fill(mem, n, 0x5eed);
	memset(mem + DMA_BACK - 64, GUARD, n + 128);
	if ((r = run_dma(x->c, DMA_IOVA, EDU_DMA_BUF_ADDR, n, 0)) < 0) {
		snprintf(why, len, "RAM to device (%u bytes from iova %#llx): %s", n, DMA_IOVA, strerror(-r));
		goto unmap;
	}
	if ((r = run_dma(x->c, EDU_DMA_BUF_ADDR, DMA_IOVA + DMA_BACK, n, EDU_DMA_CMD_TO_RAM)) < 0) {
		snprintf(why, len, "device to RAM (%u bytes to iova %#llx): %s", n, DMA_IOVA + DMA_BACK, strerror(-r));
		goto unmap;
	}
	for (bad = 0; bad < n && mem[DMA_BACK + bad] == mem[bad]; bad++)
		;
	if (bad < n) {
		snprintf(why, len, "round trip differs at byte %zu: %#x, sent %#x", bad, mem[DMA_BACK + bad], mem[bad]);
		goto unmap;
	}
	for (int i = 1; i <= 64; i++) {
		if (mem[DMA_BACK - i] != GUARD || mem[DMA_BACK + n + (unsigned)i - 1] != GUARD) {
			snprintf(why, len, "the device wrote outside the %u bytes asked for", n);
			goto unmap;
		}
	}
	/* a partial, unaligned transfer lands exactly where asked */
	memset(mem + DMA_PART, GUARD, 64);
	if ((r = run_dma(x->c, EDU_DMA_BUF_ADDR + 3, DMA_IOVA + DMA_PART + 5, 17, EDU_DMA_CMD_TO_RAM)) < 0) {
		snprintf(why, len, "partial device to RAM: %s", strerror(-r));
		goto unmap;
	}
	if (memcmp(mem + DMA_PART + 5, mem + 3, 17) || mem[DMA_PART + 4] != GUARD || mem[DMA_PART + 22] != GUARD) {
		snprintf(why, len, "partial transfer (17 bytes at +5) not byte-exact");
		goto unmap;
	}
	ret = 0;
unmap:
	r = vuc_dma_unmap(x->c, DMA_IOVA, DMA_SIZE, 0);
	if (r < 0 && ret == 0) {
		snprintf(why, len, "DMA_UNMAP: %s", strerror(-r));
		ret = -1;
	}
out:
	munmap(mem, DMA_SIZE);
	close(mfd);
	return ret;
}

static int check_reset(struct ctx *x, char *why, size_t len)
{
	int r;

	if (!x->c || !x->have_info)
		FAIL("no device info");
	r = vuc_reset(x->c);
	if (!(x->info.flags & VFIO_DEVICE_FLAGS_RESET)) {
		if (r == 0)
			FAIL("DEVICE_RESET succeeded although the device has no RESET flag");
		printf("INFO %s DEVICE_RESET without the RESET flag answers %s\n", x->label, strerror(-r));
		return 0;
	}
	if (r < 0)
		FAIL("DEVICE_RESET: %s", strerror(-r));
	/* still alive afterwards */
	if (x->kind == KIND_NVME) {
		uint32_t vs;

		MUST(vuc_read32(x->c, BAR0, NVME_REG_VS, &vs));
		if (vs >> 16 != 1)
			FAIL("VS %#x after reset", vs);
	} else {
		uint32_t v;

		MUST(vuc_read32(x->c, BAR0, EDU_REG_ID, &v));
		if (v != EDU_ID_VALUE)
			FAIL("id register %#x after reset", v);
	}
	x->bus_master = false;
	return 0;
}

/* Measurements, not checks: median round trip of a 4-byte BAR0 read, trapped and mmapped. */
static void measure_reads(struct ctx *x)
{
	static uint64_t t[LATENCY_SAMPLES];
	uint32_t v;

	if (!x->c)
		return;
	for (size_t i = 0; i < LATENCY_SAMPLES; i++) {
		uint64_t t0 = now_ns();

		if (vuc_read32(x->c, BAR0, 0, &v) < 0) {
			printf("INFO %s: REGION_READ failed during the measurement\n", x->label);
			return;
		}
		t[i] = now_ns() - t0;
	}
	print_measure(x->label, "bar0-read-region-read", t, LATENCY_SAMPLES);
	if (x->map) {
		volatile uint32_t *r = (volatile uint32_t *)x->map;

		for (size_t i = 0; i < LATENCY_SAMPLES; i++) {
			uint64_t t0 = now_ns();

			v = r[0];
			t[i] = now_ns() - t0;
		}
		(void)v;
		print_measure(x->label, "bar0-read-mmap", t, LATENCY_SAMPLES);
	}
}

static void end_session(struct ctx *x)
{
	if (x->map)
		munmap(x->map, x->map_len);
	x->map = NULL;
	if (x->bar0_fd >= 0)
		close(x->bar0_fd);
	x->bar0_fd = -1;
	if (x->c)
		vuc_close(x->c);
	x->c = NULL;
}

/* A negotiated client: the proxy serves one at a time and cleans up before it accepts the next, so a
 * completed handshake also says the previous client's state is gone. */
static int fresh_client(const struct ctx *x, struct vuc **out)
{
	struct vuc_server_caps caps;
	int r = vuc_connect(x->socket, out);

	if (r < 0)
		return r;
	vuc_set_timeout(*out, 10000);
	r = vuc_negotiate(*out, &caps);
	if (r < 0) {
		vuc_close(*out);
		*out = NULL;
	}
	return r;
}

/* 20 clients that map DMA and vanish without unmapping; the proxy must end with the fds it had. */
static int check_reconnects(struct ctx *x, char *why, size_t len)
{
	struct vuc *c;
	uint8_t *mem;
	int mfd, r, fds0, fds1, maps0, maps1, ret = -1;

	if (x->proxy_pid <= 0)
		SKIP("no --proxy-pid");
	mfd = memfd_window(DMA_SIZE, &mem);
	if (mfd < 0)
		FAIL("memfd: %s", strerror(-mfd));
	if ((r = fresh_client(x, &c)) < 0) {
		snprintf(why, len, "baseline client: %s", strerror(-r));
		goto out;
	}
	fds0 = proxy_fds(x);
	maps0 = proxy_maps(x);
	vuc_close(c);
	for (int i = 0; i < RECONNECTS; i++) {
		if ((r = fresh_client(x, &c)) < 0) {
			snprintf(why, len, "client %d: connect and VERSION: %s", i, strerror(-r));
			goto out;
		}
		r = vuc_dma_map_fd(c, DMA_IOVA, DMA_SIZE, mfd, 0, VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE);
		vuc_close(c); /* without unmapping */
		if (r < 0) {
			snprintf(why, len, "client %d: DMA_MAP at %#llx: %s", i, DMA_IOVA, strerror(-r));
			goto out;
		}
	}
	if ((r = fresh_client(x, &c)) < 0) {
		snprintf(why, len, "client after the reconnects: %s", strerror(-r));
		goto out;
	}
	fds1 = proxy_fds(x);
	maps1 = proxy_maps(x);
	r = vuc_dma_map_fd(c, DMA_IOVA, DMA_SIZE, mfd, 0, VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE);
	if (r == 0)
		r = vuc_dma_unmap(c, DMA_IOVA, DMA_SIZE, 0);
	vuc_close(c);
	printf("INFO %s proxy fds %d -> %d, mappings %d -> %d over %d reconnects\n", x->label, fds0, fds1, maps0, maps1,
	       RECONNECTS);
	if (fds0 < 0 || fds1 < 0) {
		snprintf(why, len, "cannot count /proc/%d/fd: %s", (int)x->proxy_pid, strerror(-(fds0 < 0 ? fds0 : fds1)));
		goto out;
	}
	if (fds1 != fds0) {
		snprintf(why, len, "proxy fds %d before, %d after %d clients that left DMA mapped", fds0, fds1, RECONNECTS);
		goto out;
	}
	if (r < 0) {
		snprintf(why, len, "fresh DMA_MAP/UNMAP of the same iova after the reconnects: %s", strerror(-r));
		goto out;
	}
	ret = 0;
out:
	munmap(mem, DMA_SIZE);
	close(mfd);
	return ret;
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
	end_session(x);
	run(x, "reconnects", check_reconnects);
	return 0;
}

/* ---- a VFIO device opened directly, while no proxy holds it ---- */

static int check_direct_open(struct ctx *x, char *why, size_t len)
{
	struct direct *d = x->d;
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	int iommu;

	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0)
		FAIL("open /dev/vfio/vfio: %s", strerror(errno));
	if (ioctl(d->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		FAIL("VFIO API version mismatch");
	iommu = ioctl(d->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0 ? VFIO_TYPE1v2_IOMMU :
										      VFIO_TYPE1_IOMMU;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", d->bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		FAIL("readlink %s: %s", path, strerror(errno));
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(link));
	d->group = open(path, O_RDWR | O_CLOEXEC);
	if (d->group < 0)
		FAIL("open %s: %s", path, strerror(errno));
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &gs) < 0 || !(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
		FAIL("group %s not viable", path);
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container) < 0)
		FAIL("VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
	if (ioctl(d->container, VFIO_SET_IOMMU, iommu) < 0)
		FAIL("VFIO_SET_IOMMU: %s", strerror(errno));
	d->device = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (d->device < 0)
		FAIL("VFIO_GROUP_GET_DEVICE_FD %s: %s", d->bdf, strerror(errno));
	d->bar0 = (struct vfio_region_info){ .argsz = sizeof(d->bar0), .index = VFIO_PCI_BAR0_REGION_INDEX };
	if (ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, &d->bar0) < 0)
		FAIL("VFIO_DEVICE_GET_REGION_INFO BAR0: %s", strerror(errno));
	printf("INFO %s BAR0 size %#llx flags %#x\n", x->label, (unsigned long long)d->bar0.size, d->bar0.flags);
	return 0;
}

static int check_direct_read(struct ctx *x, char *why, size_t len)
{
	struct direct *d = x->d;
	static uint64_t t[LATENCY_SAMPLES];
	uint32_t v;

	if (d->device < 0)
		FAIL("no device fd");
	if (pread(d->device, &v, 4, (off_t)d->bar0.offset) != 4)
		FAIL("pread BAR0: %s", strerror(errno));
	if (x->kind == KIND_NVME) {
		if (pread(d->device, &v, 4, (off_t)(d->bar0.offset + NVME_REG_VS)) != 4 || v >> 16 != 1)
			FAIL("VS %#x is not NVMe 1.x", v);
	} else if (v != EDU_ID_VALUE) {
		FAIL("id register %#x, expected %#x", v, EDU_ID_VALUE);
	}
	for (size_t i = 0; i < LATENCY_SAMPLES; i++) {
		uint64_t t0 = now_ns();

		if (pread(d->device, &v, 4, (off_t)d->bar0.offset) != 4)
			FAIL("pread BAR0 (sample %zu): %s", i, strerror(errno));
		t[i] = now_ns() - t0;
	}
	print_measure(x->label, "bar0-read-vfio-pread", t, LATENCY_SAMPLES);
	return 0;
}

static int run_direct(struct ctx *x, const char *bdf)
{
	struct direct d = { .bdf = bdf, .container = -1, .group = -1, .device = -1 };

	x->d = &d;
	run(x, "open", check_direct_open);
	run(x, "bar0-read", check_direct_read);
	x->d = NULL;
	if (d.device >= 0)
		close(d.device);
	if (d.group >= 0)
		close(d.group);
	if (d.container >= 0)
		close(d.container);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vm-checks --socket PATH --kind edu|nvme|emulated [--trap-bars] [--proxy-pid PID] [--label NAME]\n"
		"       vm-checks --direct-vfio BDF --kind edu|nvme [--label NAME]\n"
		"\n"
		"Runs the guest bench's checks against a vfio-user proxy serving a device of the given kind (or,\n"
		"with --direct-vfio, against the VFIO device itself, which must not be held by a proxy), printing\n"
		"one line per check: PASS NAME, FAIL NAME: WHY or SKIP NAME: WHY; MEASURE lines for latencies.\n"
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
	return n_fail ? 1 : 0;
}
