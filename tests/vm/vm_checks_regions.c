/* vm_checks_regions.c: vm-checks' first checks of a session: version, device-info, region-info, config, bar0-regs (edu's id and liveness, nvme's CAP and VS) and mmap-bar0 (BAR0 through the passed fd, against REGION_READ). */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "edu_model.h"
#include "vm_checks.h"

#define CONFIG VFIO_PCI_CONFIG_REGION_INDEX
#define NVME_REG_CAP 0x00
#define QEMU_NVME_VENDOR 0x1b36
#define CLASS_NVME 0x010802u

int check_version(struct ctx *x, char *why, size_t len)
{
	struct vuc_server_caps caps;
	int r = vuc_connect(x->socket, &x->c);

	if (r < 0)
		FAIL("connect %s: %s", x->socket, strerror(-r));
	vuc_set_timeout(x->c, REPLY_MS);
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

int check_device_info(struct ctx *x, char *why, size_t len)
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

int check_region_info(struct ctx *x, char *why, size_t len)
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

int check_config(struct ctx *x, char *why, size_t len)
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
int check_bar0_regs(struct ctx *x, char *why, size_t len)
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

int check_mmap_bar0(struct ctx *x, char *why, size_t len)
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
