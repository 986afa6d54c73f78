/* probe.c: the probe command: asks a vfio-user server what it serves and prints it decoded, as text or JSON. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <linux/pci_regs.h>

#include "cli/commands.h"
#include "client/client.h"

#define PROG "vfio-user-proxy probe"

#define PROBE_MAX_REGIONS 64u /* regions and IRQ indexes we look at, whatever the server says */
#define PROBE_MAX_IRQS 64u
#define PROBE_CAPS_BUF (64u * 1024 - sizeof(struct vfio_user_region_info))
#define PROBE_MAX_REGION_CAPS 32u
#define PROBE_CFG_MAX 4096u
#define OUT_MAX_DEPTH 8

/*
 * Output: every fact goes through these helpers once; in text mode they print indented "Label: value"
 * lines (key-only facts are JSON-only), in JSON mode they build one json-c document.
 */
struct out {
	bool json;
	int depth;
	struct json_object *stack[OUT_MAX_DEPTH]; /* JSON containers, [0] the document */
	bool indented[OUT_MAX_DEPTH];		   /* text: this level printed a heading */
	int indent;
	struct json_object *warnings; /* array of strings, both modes */
};

struct flag_name {
	uint64_t bit;
	const char *name;
};

static void o_indent(const struct out *o)
{
	printf("%*s", o->indent * 2, "");
}

static void o_add(struct out *o, const char *key, struct json_object *v)
{
	struct json_object *parent = o->stack[o->depth];

	if (json_object_is_type(parent, json_type_array))
		json_object_array_add(parent, v);
	else if (key)
		json_object_object_add(parent, key, v);
	else
		json_object_put(v);
}

/* Opens a nested object or array named key; heading (printf format, may be NULL) is its text line. */
static void __attribute__((format(printf, 4, 5))) o_push(struct out *o, const char *key, bool array,
							  const char *heading, ...)
{
	struct json_object *v = NULL;
	va_list ap;

	if (o->depth + 1 >= OUT_MAX_DEPTH)
		abort(); /* a bug in this file, not in the server */
	if (o->json) {
		v = array ? json_object_new_array() : json_object_new_object();
		o_add(o, key, json_object_get(v));
	}
	o->depth++;
	o->stack[o->depth] = v;
	o->indented[o->depth] = false;
	if (!o->json && heading) {
		o_indent(o);
		va_start(ap, heading);
		vprintf(heading, ap);
		va_end(ap);
		putchar('\n');
		o->indent++;
		o->indented[o->depth] = true;
	}
}

static void o_pop(struct out *o)
{
	if (o->indented[o->depth])
		o->indent--;
	json_object_put(o->stack[o->depth]);
	o->depth--;
}

/* One fact: v (owned) goes to the JSON under key; label and fmt make its text line (label NULL: none). */
static void __attribute__((format(printf, 5, 6))) o_field(struct out *o, const char *key, struct json_object *v,
							  const char *label, const char *fmt, ...)
{
	va_list ap;

	if (o->json) {
		o_add(o, key, v);
		return;
	}
	json_object_put(v);
	if (!label)
		return;
	o_indent(o);
	printf("%s: ", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A text-only line. */
static void __attribute__((format(printf, 2, 3))) o_text(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->json)
		return;
	o_indent(o);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void o_uint(struct out *o, const char *key, const char *label, uint64_t v)
{
	o_field(o, key, json_object_new_uint64(v), label, "%" PRIu64, v);
}

static void o_hex(struct out *o, const char *key, const char *label, uint64_t v, int width)
{
	o_field(o, key, json_object_new_uint64(v), label, "0x%0*" PRIx64, width, v);
}

static void o_str(struct out *o, const char *key, const char *label, const char *s)
{
	o_field(o, key, json_object_new_string(s), label, "%s", s);
}

static void o_bool(struct out *o, const char *key, const char *label, bool b)
{
	o_field(o, key, json_object_new_boolean(b), label, "%s", b ? "yes" : "no");
}

/* Bits by name ("READ WRITE (0x3)"); JSON: an array of the names, unknown bits as one hex string. */
static void o_flags(struct out *o, const char *key, const char *label, uint64_t v, const struct flag_name *t)
{
	struct json_object *arr = json_object_new_array();
	char text[256] = "", hex[32];
	uint64_t rest = v;
	size_t len = 0;

	for (; t->name; t++) {
		if (!(v & t->bit))
			continue;
		rest &= ~t->bit;
		json_object_array_add(arr, json_object_new_string(t->name));
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s ", t->name);
		if (len >= sizeof(text))
			len = sizeof(text) - 1;
	}
	if (rest) {
		snprintf(hex, sizeof(hex), "0x%" PRIx64, rest);
		json_object_array_add(arr, json_object_new_string(hex));
		len += (size_t)snprintf(text + len, sizeof(text) - len, "unknown:%s ", hex);
		if (len >= sizeof(text))
			len = sizeof(text) - 1;
	}
	o_field(o, key, arr, label, "%s(0x%" PRIx64 ")", v ? text : "none ", v);
}

static void __attribute__((format(printf, 2, 3))) o_warn(struct out *o, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_array_add(o->warnings, json_object_new_string(buf));
}

/* "0x100000 (1 MiB)" for sizes that are a whole number of KiB, MiB, GiB or TiB. */
static const char *fmt_size(char *buf, size_t len, uint64_t v)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	int u = -1;
	uint64_t n = v;

	while (n && n % 1024 == 0 && u < 3) {
		n /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "0x%" PRIx64 " (%" PRIu64 " bytes)", v, v);
	else
		snprintf(buf, len, "0x%" PRIx64 " (%" PRIu64 " %s)", v, n, units[u]);
	return buf;
}

static void o_size(struct out *o, const char *key, const char *label, uint64_t v)
{
	char buf[64];

	o_field(o, key, json_object_new_uint64(v), label, "%s", fmt_size(buf, sizeof(buf), v));
}

/* ---- the probe ---- */

struct probe {
	struct vuc *c;
	const char *path;
	struct out o;
	struct vuc_server_caps caps;
	struct vfio_user_device_info dev;
	uint32_t nregions;
	struct vfio_user_region_info regions[PROBE_MAX_REGIONS];
	bool region_ok[PROBE_MAX_REGIONS];
	uint8_t *capbuf;
	uint8_t cfg[PROBE_CFG_MAX];
	uint32_t cfg_size;
	const char *failed; /* what was being asked when a fatal error happened */
};

/* Errors after which the connection is unusable; a server's error reply for one item is not one of them. */
static bool is_fatal(int r)
{
	return r == -EPIPE || r == -ECONNRESET || r == -ETIMEDOUT || r == -EPROTO || r == -ENOMEM || r == -EBADF;
}

static const char *fatal_hint(int r)
{
	switch (-r) {
	case ETIMEDOUT:
		return "the server did not answer in time; is it stuck or busy with another client?";
	case ECONNRESET:
	case EPIPE:
		return "the server closed the connection; it may serve one client at a time or have rejected the request";
	case EPROTO:
		return "the server's reply is malformed; it does not speak vfio-user as this tool does";
	default:
		return "check the server's log";
	}
}

static const struct flag_name device_flags[] = {
	{ VFIO_DEVICE_FLAGS_RESET, "RESET" },
	{ VFIO_DEVICE_FLAGS_PCI, "PCI" },
	{ 0, NULL },
};

static const struct flag_name region_flags[] = {
	{ VFIO_REGION_INFO_FLAG_READ, "READ" },
	{ VFIO_REGION_INFO_FLAG_WRITE, "WRITE" },
	{ VFIO_REGION_INFO_FLAG_MMAP, "MMAP" },
	{ VFIO_REGION_INFO_FLAG_CAPS, "CAPS" },
	{ 0, NULL },
};

static const struct flag_name irq_flags[] = {
	{ VFIO_IRQ_INFO_EVENTFD, "EVENTFD" },
	{ VFIO_IRQ_INFO_MASKABLE, "MASKABLE" },
	{ VFIO_IRQ_INFO_AUTOMASKED, "AUTOMASKED" },
	{ VFIO_IRQ_INFO_NORESIZE, "NORESIZE" },
	{ 0, NULL },
};

static const struct flag_name command_flags[] = {
	{ PCI_COMMAND_IO, "IO" },
	{ PCI_COMMAND_MEMORY, "MEM" },
	{ PCI_COMMAND_MASTER, "BUS_MASTER" },
	{ PCI_COMMAND_SERR, "SERR" },
	{ PCI_COMMAND_INTX_DISABLE, "INTX_DISABLE" },
	{ 0, NULL },
};

static const struct flag_name status_flags[] = {
	{ PCI_STATUS_INTERRUPT, "INTX" },
	{ PCI_STATUS_CAP_LIST, "CAP_LIST" },
	{ 0, NULL },
};

static const char *region_name(uint32_t index, char *buf, size_t len)
{
	static const char *const names[] = { "BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5", "ROM", "CONFIG", "VGA" };

	if (index < sizeof(names) / sizeof(names[0]))
		return names[index];
	snprintf(buf, len, "region%u", index);
	return buf;
}

static const char *irq_name(uint32_t index)
{
	static const char *const names[] = { "INTx", "MSI", "MSI-X", "ERR", "REQ" };

	return index < sizeof(names) / sizeof(names[0]) ? names[index] : "device-specific";
}

/* Prints the server's JSON with anything unprintable replaced. */
static void print_sanitized(const char *s)
{
	for (; *s; s++)
		putchar(*s >= 0x20 && *s < 0x7f ? *s : '?');
}

static int probe_version(struct probe *p)
{
	struct out *o = &p->o;
	const struct vuc_server_caps *k = &p->caps;
	int r;

	p->failed = "version negotiation";
	r = vuc_negotiate(p->c, &p->caps);
	if (r < 0)
		return r;

	o_push(o, "version", false, "Protocol version %u.%u", k->major, k->minor);
	o_uint(o, "major", NULL, k->major);
	o_uint(o, "minor", NULL, k->minor);
	o_pop(o);

	o_push(o, "server_capabilities", false, "Server capabilities:");
	o_uint(o, "max_msg_fds", "max_msg_fds", k->max_msg_fds);
	o_uint(o, "max_data_xfer_size", "max_data_xfer_size", k->max_data_xfer_size);
	o_uint(o, "max_dma_maps", "max_dma_maps", k->max_dma_maps);
	o_hex(o, "pgsizes", "pgsizes", k->pgsizes, 1);
	o_bool(o, "write_multiple", "write_multiple", k->write_multiple);
	if (o->json) {
		struct json_object *raw = k->json[0] ? json_tokener_parse(k->json) : NULL;

		o_add(o, "json", raw ? raw : json_object_new_null());
	} else {
		o_indent(o);
		printf("JSON: ");
		if (k->json[0])
			print_sanitized(k->json);
		else
			printf("(none)");
		putchar('\n');
	}
	o_pop(o);

	/* What QEMU's client refuses (see DESIGN.md section 2). */
	if (k->max_msg_fds > VFIO_USER_LIMIT_MAX_MSG_FDS)
		o_warn(o, "max_msg_fds %u is above 16: QEMU refuses this server", k->max_msg_fds);
	if (k->max_data_xfer_size > VFIO_USER_LIMIT_MAX_DATA_XFER)
		o_warn(o, "max_data_xfer_size %u is above 64 MiB: QEMU refuses this server", k->max_data_xfer_size);
	if (k->max_dma_maps > VFIO_USER_LIMIT_MAX_DMA_MAPS)
		o_warn(o, "max_dma_maps %u is above 65535: QEMU refuses this server", k->max_dma_maps);
	if (!k->pgsizes || (k->pgsizes & 0xfff))
		o_warn(o, "pgsizes 0x%" PRIx64 " is not a multiple of 4 KiB: QEMU refuses this server", k->pgsizes);
	if (k->max_msg_fds == 0)
		o_warn(o, "max_msg_fds is 0: no eventfd can be passed to the server");
	return 0;
}

static int probe_device(struct probe *p)
{
	struct out *o = &p->o;
	int r;

	p->failed = "DEVICE_GET_INFO";
	r = vuc_device_info(p->c, &p->dev);
	if (r < 0)
		return r;
	o_push(o, "device", false, "Device:");
	o_flags(o, "flags", "Flags", p->dev.flags, device_flags);
	o_uint(o, "num_regions", "Regions", p->dev.num_regions);
	o_uint(o, "num_irqs", "IRQ indexes", p->dev.num_irqs);
	o_pop(o);

	if (!(p->dev.flags & VFIO_DEVICE_FLAGS_PCI))
		o_warn(o, "the device is not flagged PCI: QEMU's vfio-user-pci will not use it");
	if (!(p->dev.flags & VFIO_DEVICE_FLAGS_RESET))
		o_warn(o, "the device is not flagged RESET: QEMU will never send DEVICE_RESET");
	if (p->dev.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX)
		o_warn(o, "only %u regions: a PCI device needs at least %u (config space is region %u)",
		       p->dev.num_regions, VFIO_PCI_CONFIG_REGION_INDEX + 1, VFIO_PCI_CONFIG_REGION_INDEX);
	p->nregions = p->dev.num_regions;
	if (p->nregions > PROBE_MAX_REGIONS) {
		o_warn(o, "the server reports %u regions; only the first %u are probed", p->nregions,
		       PROBE_MAX_REGIONS);
		p->nregions = PROBE_MAX_REGIONS;
	}
	return 0;
}

static void decode_sparse(struct probe *p, uint32_t index, const uint8_t *cap, size_t avail)
{
	struct out *o = &p->o;
	struct vfio_user_cap_sparse_mmap sp;
	struct vfio_user_sparse_mmap_area a;
	uint32_t n;

	if (avail < sizeof(sp)) {
		o_warn(o, "region %u: sparse mmap capability truncated", index);
		return;
	}
	memcpy(&sp, cap, sizeof(sp));
	n = sp.nr_areas;
	if (n > (avail - sizeof(sp)) / sizeof(a)) {
		o_warn(o, "region %u: sparse mmap capability claims %u areas but holds %zu", index, n,
		       (avail - sizeof(sp)) / sizeof(a));
		n = (uint32_t)((avail - sizeof(sp)) / sizeof(a));
	}
	o_uint(o, "nr_areas", NULL, sp.nr_areas);
	o_push(o, "areas", true, NULL);
	for (uint32_t i = 0; i < n; i++) {
		char buf[64];

		memcpy(&a, cap + sizeof(sp) + (size_t)i * sizeof(a), sizeof(a));
		o_text(o, "Area %u: offset 0x%" PRIx64 ", size %s", i, a.offset, fmt_size(buf, sizeof(buf), a.size));
		o_push(o, NULL, false, NULL);
		o_hex(o, "offset", NULL, a.offset, 1);
		o_uint(o, "size", NULL, a.size);
		o_pop(o);
	}
	o_pop(o);
}

/* The region's capability chain: offsets count from the start of the 32-byte region info. */
static void decode_region_caps(struct probe *p, uint32_t index, const struct vfio_user_region_info *ri,
			       size_t caps_len)
{
	const size_t base = sizeof(*ri);
	size_t avail = caps_len < PROBE_CAPS_BUF ? caps_len : PROBE_CAPS_BUF;
	struct out *o = &p->o;
	uint32_t visited[PROBE_MAX_REGION_CAPS];
	uint32_t off = ri->cap_offset;
	unsigned int n = 0;

	if (!(ri->flags & VFIO_REGION_INFO_FLAG_CAPS)) {
		o_push(o, "capabilities", true, NULL);
		goto out;
	}
	o_push(o, "capabilities", true, "Capabilities:");
	if (off < base)
		o_warn(o, "region %u: CAPS with cap_offset 0x%x below 32: QEMU rejects this region info", index,
		       off);
	while (off) {
		struct vfio_user_cap_header h;
		struct vfio_user_cap_type t;
		const uint8_t *cap;
		size_t left;

		if (off < base || off - base > avail || avail - (off - base) < sizeof(h)) {
			o_warn(o, "region %u: capability at 0x%x lies outside the %zu-byte reply", index, off,
			       base + caps_len);
			break;
		}
		for (unsigned int i = 0; i < n; i++) {
			if (visited[i] == off) {
				o_warn(o, "region %u: capability chain loops back to 0x%x", index, off);
				goto out;
			}
		}
		if (n == PROBE_MAX_REGION_CAPS) {
			o_warn(o, "region %u: capability chain longer than %u entries", index, PROBE_MAX_REGION_CAPS);
			break;
		}
		visited[n++] = off;
		cap = p->capbuf + (off - base);
		left = avail - (off - base);
		memcpy(&h, cap, sizeof(h));
		o_push(o, NULL, false, NULL);
		o_hex(o, "offset", NULL, off, 1);
		o_uint(o, "id", NULL, h.id);
		o_uint(o, "version", NULL, h.version);
		switch (h.id) {
		case VFIO_REGION_INFO_CAP_SPARSE_MMAP:
			o_str(o, "name", NULL, "sparse_mmap");
			o_text(o, "[0x%x] sparse mmap (version %u):", off, h.version);
			o->indent++;
			decode_sparse(p, index, cap, left);
			o->indent--;
			break;
		case VFIO_REGION_INFO_CAP_TYPE:
			o_str(o, "name", NULL, "type");
			if (left < sizeof(t)) {
				o_warn(o, "region %u: type capability truncated", index);
				break;
			}
			memcpy(&t, cap, sizeof(t));
			o_text(o, "[0x%x] region type (version %u): type %u, subtype %u", off, h.version, t.type,
			       t.subtype);
			o_uint(o, "type", NULL, t.type);
			o_uint(o, "subtype", NULL, t.subtype);
			break;
		case VFIO_REGION_INFO_CAP_MSIX_MAPPABLE:
			o_str(o, "name", NULL, "msix_mappable");
			o_text(o, "[0x%x] MSI-X table mappable (version %u)", off, h.version);
			break;
		default:
			o_str(o, "name", NULL, "unknown");
			o_text(o, "[0x%x] unknown capability id %u (version %u)", off, h.id, h.version);
			break;
		}
		o_pop(o);
		off = h.next;
	}
out:
	o_pop(o);
}

static int probe_regions(struct probe *p)
{
	struct out *o = &p->o;
	int r;

	o_push(o, "regions", true, NULL);
	for (uint32_t i = 0; i < p->nregions; i++) {
		struct vfio_user_region_info *ri = &p->regions[i];
		char nbuf[32];
		const char *name = region_name(i, nbuf, sizeof(nbuf));
		size_t caps_len = 0;
		int fd = -1;

		p->failed = "DEVICE_GET_REGION_INFO";
		r = vuc_region_info(p->c, i, ri, p->capbuf, PROBE_CAPS_BUF, &caps_len, &fd);
		if (r < 0 && is_fatal(r)) {
			o_pop(o);
			return r;
		}
		if (fd >= 0)
			close(fd);
		o_push(o, NULL, false, "Region %u (%s):%s", i, name,
		       r < 0 ? "" : ri->size ? "" : " not implemented (size 0)");
		o_uint(o, "index", NULL, i);
		o_str(o, "name", NULL, name);
		if (r < 0) {
			o_str(o, "error", "Error", strerror(-r));
			o_pop(o);
			continue;
		}
		p->region_ok[i] = true;
		if (ri->size == 0 && ri->flags == 0) {
			o_uint(o, "size", NULL, 0);
			o_pop(o);
			continue;
		}
		o_flags(o, "flags", "Flags", ri->flags, region_flags);
		o_size(o, "size", "Size", ri->size);
		o_hex(o, "offset", "mmap offset", ri->offset, 1);
		o_bool(o, "fd", "fd passed", fd >= 0);
		decode_region_caps(p, i, ri, caps_len);
		o_pop(o);

		if ((ri->flags & VFIO_REGION_INFO_FLAG_MMAP) && fd < 0)
			o_warn(o, "region %u (%s) is flagged MMAP but came without an fd", i, name);
	}
	o_pop(o);
	return 0;
}

static int probe_irqs(struct probe *p)
{
	struct out *o = &p->o;
	uint32_t n = p->dev.num_irqs;
	int r;

	if (n > PROBE_MAX_IRQS) {
		o_warn(o, "the server reports %u IRQ indexes; only the first %u are probed", n, PROBE_MAX_IRQS);
		n = PROBE_MAX_IRQS;
	}
	p->failed = "DEVICE_GET_IRQ_INFO";
	o_push(o, "irqs", true, "IRQs:");
	for (uint32_t i = 0; i < n; i++) {
		struct vfio_user_irq_info ii;
		char flags[256];

		r = vuc_irq_info(p->c, i, &ii);
		if (r < 0 && is_fatal(r)) {
			o_pop(o);
			return r;
		}
		if (r < 0) {
			o_text(o, "%u %s: error: %s", i, irq_name(i), strerror(-r));
			o_push(o, NULL, false, NULL);
			o_uint(o, "index", NULL, i);
			o_str(o, "name", NULL, irq_name(i));
			o_str(o, "error", NULL, strerror(-r));
			o_pop(o);
			continue;
		}
		flags[0] = '\0';
		for (const struct flag_name *f = irq_flags; f->name; f++)
			if (ii.flags & f->bit)
				snprintf(flags + strlen(flags), sizeof(flags) - strlen(flags), " %s", f->name);
		o_text(o, "%u %s: count %u, flags%s (0x%x)", i, irq_name(i), ii.count, ii.flags ? flags : " none",
		       ii.flags);
		o_push(o, NULL, false, NULL);
		o_uint(o, "index", NULL, i);
		o_str(o, "name", NULL, irq_name(i));
		o_uint(o, "count", NULL, ii.count);
		o_flags(o, "flags", NULL, ii.flags, irq_flags);
		o_pop(o);
	}
	o_pop(o);
	return 0;
}

/* ---- PCI config space ---- */

static uint32_t cfg_rd(const struct probe *p, uint32_t off, unsigned int size)
{
	uint32_t v = 0;

	if (off > p->cfg_size || p->cfg_size - off < size)
		return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
	memcpy(&v, p->cfg + off, size);
	return le32toh(v);
}

#define CFG8(p, off) ((uint8_t)cfg_rd(p, off, 1))
#define CFG16(p, off) ((uint16_t)cfg_rd(p, off, 2))
#define CFG32(p, off) cfg_rd(p, off, 4)

/* Reads the config space in transfers the server accepts, falling back to dwords. */
static int read_config(struct probe *p)
{
	uint32_t chunk = p->caps.max_data_xfer_size, off, bad = 0;
	int r;

	if (chunk > p->cfg_size)
		chunk = p->cfg_size;
	if (chunk < 4)
		chunk = 4;
	memset(p->cfg, 0xff, sizeof(p->cfg));
	p->failed = "REGION_READ of the config space";
	for (off = 0; off < p->cfg_size; off += chunk) {
		uint32_t n = p->cfg_size - off < chunk ? p->cfg_size - off : chunk;

		r = vuc_config_read(p->c, off, p->cfg + off, n);
		if (r == 0)
			continue;
		if (is_fatal(r))
			return r;
		/* The server refused the large read: go dword by dword (bytes for a ragged end). */
		for (uint32_t at = off; at < off + n;) {
			uint32_t step = off + n - at >= 4 ? 4 : 1;

			r = vuc_config_read(p->c, at, p->cfg + at, step);
			if (r < 0 && is_fatal(r))
				return r;
			if (r < 0) {
				memset(p->cfg + at, 0xff, step);
				bad++;
			}
			at += step;
		}
	}
	if (bad)
		o_warn(&p->o, "%u config space reads failed; those bytes show as 0xff", bad);
	return 0;
}

static const char *class_name(uint8_t base)
{
	switch (base) {
	case 0x01:
		return "Mass storage controller";
	case 0x02:
		return "Network controller";
	case 0x03:
		return "Display controller";
	case 0x12:
		return "Processing accelerator";
	case 0xff:
		return "Unassigned class";
	default:
		return "other";
	}
}

static void decode_bars(struct probe *p)
{
	struct out *o = &p->o;
	uint8_t htype = CFG8(p, PCI_HEADER_TYPE) & 0x7f;
	unsigned int nbars = htype == PCI_HEADER_TYPE_NORMAL ? 6 : htype == PCI_HEADER_TYPE_BRIDGE ? 2 : 0;

	o_push(o, "bars", true, NULL);
	for (unsigned int i = 0; i < nbars; i++) {
		uint32_t raw = CFG32(p, PCI_BASE_ADDRESS_0 + 4 * i);
		uint64_t size = i < p->nregions && p->region_ok[i] ? p->regions[i].size : 0;
		bool io = raw & PCI_BASE_ADDRESS_SPACE_IO;
		bool is64 = !io && (raw & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64;
		bool pref = !io && (raw & PCI_BASE_ADDRESS_MEM_PREFETCH);
		uint64_t addr = io ? raw & PCI_BASE_ADDRESS_IO_MASK : raw & PCI_BASE_ADDRESS_MEM_MASK;
		char sbuf[64];

		if (is64 && i + 1 < nbars)
			addr |= (uint64_t)CFG32(p, PCI_BASE_ADDRESS_0 + 4 * (i + 1)) << 32;
		if (is64 && i + 1 >= nbars)
			o_warn(o, "BAR%u is 64-bit but has no upper half", i);
		if (!raw && !size) {
			o_text(o, "BAR%u: unused", i);
		} else {
			o_text(o, "BAR%u: %s at 0x%" PRIx64 " (%s%s), size %s", i, io ? "I/O" : "memory", addr,
			       io ? "" : is64 ? "64-bit" : "32-bit",
			       io ? "" : pref ? ", prefetchable" : ", non-prefetchable",
			       fmt_size(sbuf, sizeof(sbuf), size));
		}
		o_push(o, NULL, false, NULL);
		o_uint(o, "index", NULL, i);
		o_hex(o, "raw", NULL, raw, 8);
		o_bool(o, "used", NULL, raw || size);
		o_str(o, "type", NULL, io ? "io" : "memory");
		if (!io) {
			o_uint(o, "bits", NULL, is64 ? 64 : 32);
			o_bool(o, "prefetchable", NULL, pref);
		}
		o_hex(o, "address", NULL, addr, 1);
		o_uint(o, "size", NULL, size);
		o_pop(o);
		if (is64 && i + 1 < nbars) {
			i++; /* the upper half */
			o_text(o, "BAR%u: upper half of BAR%u", i, i - 1);
		}
	}
	o_pop(o);
}

static const char *pcie_type_name(unsigned int t)
{
	switch (t) {
	case PCI_EXP_TYPE_ENDPOINT:
		return "Endpoint";
	case PCI_EXP_TYPE_LEG_END:
		return "Legacy Endpoint";
	case PCI_EXP_TYPE_ROOT_PORT:
		return "Root Port";
	case PCI_EXP_TYPE_UPSTREAM:
		return "Upstream Switch Port";
	case PCI_EXP_TYPE_DOWNSTREAM:
		return "Downstream Switch Port";
	case PCI_EXP_TYPE_PCI_BRIDGE:
		return "PCIe to PCI Bridge";
	case PCI_EXP_TYPE_PCIE_BRIDGE:
		return "PCI to PCIe Bridge";
	case PCI_EXP_TYPE_RC_END:
		return "Root Complex Integrated Endpoint";
	case PCI_EXP_TYPE_RC_EC:
		return "Root Complex Event Collector";
	default:
		return "unknown";
	}
}

static void decode_msix(struct probe *p, uint32_t pos)
{
	struct out *o = &p->o;
	uint16_t ctl = CFG16(p, pos + PCI_MSIX_FLAGS);
	uint32_t table = CFG32(p, pos + PCI_MSIX_TABLE), pba = CFG32(p, pos + PCI_MSIX_PBA);
	uint32_t size = (ctl & PCI_MSIX_FLAGS_QSIZE) + 1;
	uint32_t tbir = table & PCI_MSIX_TABLE_BIR, pbir = pba & PCI_MSIX_PBA_BIR;
	uint32_t toff = table & PCI_MSIX_TABLE_OFFSET, poff = pba & PCI_MSIX_PBA_OFFSET;

	o_text(o, "[%02x] MSI-X: enable %s, function mask %s, table size %u", pos,
	       ctl & PCI_MSIX_FLAGS_ENABLE ? "yes" : "no", ctl & PCI_MSIX_FLAGS_MASKALL ? "yes" : "no", size);
	o_text(o, "     table BAR%u offset 0x%x, PBA BAR%u offset 0x%x", tbir, toff, pbir, poff);
	o_str(o, "name", NULL, "MSI-X");
	o_uint(o, "table_size", NULL, size);
	o_uint(o, "table_bir", NULL, tbir);
	o_hex(o, "table_offset", NULL, toff, 1);
	o_uint(o, "pba_bir", NULL, pbir);
	o_hex(o, "pba_offset", NULL, poff, 1);
	o_bool(o, "enabled", NULL, ctl & PCI_MSIX_FLAGS_ENABLE);
	o_bool(o, "masked", NULL, ctl & PCI_MSIX_FLAGS_MASKALL);
	if (tbir > 5 || pbir > 5) {
		o_warn(o, "MSI-X table or PBA in BAR indicator > 5");
		return;
	}
	if (tbir < p->nregions && p->region_ok[tbir] && (uint64_t)toff + (uint64_t)size * 16 > p->regions[tbir].size)
		o_warn(o, "MSI-X table (%u entries at 0x%x) does not fit in BAR%u", size, toff, tbir);
	if (pbir < p->nregions && p->region_ok[pbir] && (uint64_t)poff + ((size + 63) / 64) * 8 > p->regions[pbir].size)
		o_warn(o, "MSI-X PBA at 0x%x does not fit in BAR%u", poff, pbir);
}

static void decode_std_cap(struct probe *p, uint32_t pos, uint8_t id)
{
	static const char *const dstate[] = { "D0", "D1", "D2", "D3hot" };
	struct out *o = &p->o;
	uint16_t v;

	switch (id) {
	case PCI_CAP_ID_PM:
		v = CFG16(p, pos + PCI_PM_PMC);
		o_text(o, "[%02x] Power Management version %u, state %s", pos, v & PCI_PM_CAP_VER_MASK,
		       dstate[CFG16(p, pos + PCI_PM_CTRL) & PCI_PM_CTRL_STATE_MASK]);
		o_str(o, "name", NULL, "Power Management");
		o_uint(o, "pm_version", NULL, v & PCI_PM_CAP_VER_MASK);
		o_str(o, "power_state", NULL, dstate[CFG16(p, pos + PCI_PM_CTRL) & PCI_PM_CTRL_STATE_MASK]);
		break;
	case PCI_CAP_ID_MSI:
		v = CFG16(p, pos + PCI_MSI_FLAGS);
		o_text(o, "[%02x] MSI: enable %s, 64-bit %s, per-vector masking %s, vectors capable %u, enabled %u",
		       pos, v & PCI_MSI_FLAGS_ENABLE ? "yes" : "no", v & PCI_MSI_FLAGS_64BIT ? "yes" : "no",
		       v & PCI_MSI_FLAGS_MASKBIT ? "yes" : "no", 1u << ((v & PCI_MSI_FLAGS_QMASK) >> 1),
		       1u << ((v & PCI_MSI_FLAGS_QSIZE) >> 4));
		o_str(o, "name", NULL, "MSI");
		o_bool(o, "64bit", NULL, v & PCI_MSI_FLAGS_64BIT);
		o_bool(o, "per_vector_masking", NULL, v & PCI_MSI_FLAGS_MASKBIT);
		o_uint(o, "vectors_capable", NULL, 1u << ((v & PCI_MSI_FLAGS_QMASK) >> 1));
		o_uint(o, "vectors_enabled", NULL, 1u << ((v & PCI_MSI_FLAGS_QSIZE) >> 4));
		o_bool(o, "enabled", NULL, v & PCI_MSI_FLAGS_ENABLE);
		break;
	case PCI_CAP_ID_EXP:
		v = CFG16(p, pos + PCI_EXP_FLAGS);
		o_text(o, "[%02x] PCI Express version %u, %s", pos, v & PCI_EXP_FLAGS_VERS,
		       pcie_type_name((v & PCI_EXP_FLAGS_TYPE) >> 4));
		o_str(o, "name", NULL, "PCI Express");
		o_uint(o, "pcie_version", NULL, v & PCI_EXP_FLAGS_VERS);
		o_str(o, "device_type", NULL, pcie_type_name((v & PCI_EXP_FLAGS_TYPE) >> 4));
		break;
	case PCI_CAP_ID_MSIX:
		decode_msix(p, pos);
		break;
	case PCI_CAP_ID_VNDR:
		o_text(o, "[%02x] Vendor Specific (length %u)", pos, CFG8(p, pos + 2));
		o_str(o, "name", NULL, "Vendor Specific");
		break;
	default:
		o_text(o, "[%02x] capability id 0x%02x", pos, id);
		o_str(o, "name", NULL, "unknown");
		break;
	}
}

static void decode_std_caps(struct probe *p)
{
	struct out *o = &p->o;
	uint32_t pos = CFG8(p, PCI_CAPABILITY_LIST) & ~3u;
	bool seen[PCI_CFG_SPACE_SIZE / 4] = { false };

	o_push(o, "capabilities", true, "Capabilities:");
	if (!(CFG16(p, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
		o_text(o, "(none: status has no capability list)");
		pos = 0;
	}
	while (pos) {
		uint8_t id;

		if (pos < PCI_STD_HEADER_SIZEOF || pos > PCI_CFG_SPACE_SIZE - 4) {
			o_warn(o, "config capability pointer 0x%x is outside 0x40..0xfc", pos);
			break;
		}
		if (seen[pos / 4]) {
			o_warn(o, "config capability list loops back to 0x%x", pos);
			break;
		}
		seen[pos / 4] = true;
		id = CFG8(p, pos + PCI_CAP_LIST_ID);
		o_push(o, NULL, false, NULL);
		o_hex(o, "offset", NULL, pos, 2);
		o_hex(o, "id", NULL, id, 2);
		decode_std_cap(p, pos, id);
		o_pop(o);
		pos = CFG8(p, pos + PCI_CAP_LIST_NEXT) & ~3u;
	}
	o_pop(o);
}

static const char *ext_cap_name(uint16_t id)
{
	switch (id) {
	case PCI_EXT_CAP_ID_ERR:
		return "Advanced Error Reporting";
	case PCI_EXT_CAP_ID_VC:
		return "Virtual Channel";
	case PCI_EXT_CAP_ID_DSN:
		return "Device Serial Number";
	case PCI_EXT_CAP_ID_VNDR:
		return "Vendor-Specific";
	case PCI_EXT_CAP_ID_ACS:
		return "Access Control Services";
	case PCI_EXT_CAP_ID_ARI:
		return "Alternative Routing-ID";
	case PCI_EXT_CAP_ID_SRIOV:
		return "SR-IOV";
	case PCI_EXT_CAP_ID_REBAR:
		return "Resizable BAR";
	default:
		return "unknown";
	}
}

static void decode_ext_caps(struct probe *p)
{
	struct out *o = &p->o;
	uint32_t pos = PCI_CFG_SPACE_SIZE;
	bool seen[PCI_CFG_SPACE_EXP_SIZE / 4] = { false };
	unsigned int n = 0;

	o_push(o, "extended_capabilities", true, "Extended capabilities:");
	for (;;) {
		uint32_t h;

		if (pos < PCI_CFG_SPACE_SIZE || pos > p->cfg_size - 4) {
			o_warn(o, "extended capability pointer 0x%x is outside 0x100..0x%x", pos, p->cfg_size - 4);
			break;
		}
		h = CFG32(p, pos);
		if (h == 0 || h == 0xffffffffu) {
			if (n == 0)
				o_text(o, "(none)");
			break;
		}
		if (seen[pos / 4]) {
			o_warn(o, "extended capability list loops back to 0x%x", pos);
			break;
		}
		seen[pos / 4] = true;
		n++;
		o_text(o, "[%03x] %s (id 0x%04x, version %u)", pos, ext_cap_name(PCI_EXT_CAP_ID(h)), PCI_EXT_CAP_ID(h),
		       PCI_EXT_CAP_VER(h));
		o_push(o, NULL, false, NULL);
		o_hex(o, "offset", NULL, pos, 3);
		o_hex(o, "id", NULL, PCI_EXT_CAP_ID(h), 4);
		o_str(o, "name", NULL, ext_cap_name(PCI_EXT_CAP_ID(h)));
		o_uint(o, "version", NULL, PCI_EXT_CAP_VER(h));
		o_pop(o);
		pos = PCI_EXT_CAP_NEXT(h);
		if (!pos)
			break;
	}
	o_pop(o);
}

static int probe_config(struct probe *p)
{
	const uint32_t ci = VFIO_PCI_CONFIG_REGION_INDEX;
	struct out *o = &p->o;
	uint32_t class;
	uint8_t pin;
	int r;

	if (ci >= p->nregions || !p->region_ok[ci] || p->regions[ci].size < PCI_STD_HEADER_SIZEOF) {
		o_warn(o, "no usable config space region: the PCI config space is not decoded");
		return 0;
	}
	p->cfg_size = p->regions[ci].size < PROBE_CFG_MAX ? (uint32_t)p->regions[ci].size : PROBE_CFG_MAX;
	if (p->regions[ci].size != PCI_CFG_SPACE_SIZE && p->regions[ci].size != PCI_CFG_SPACE_EXP_SIZE)
		o_warn(o, "the config region is %" PRIu64 " bytes: QEMU expects 256 (PCI) or 4096 (PCIe)",
		       p->regions[ci].size);
	r = read_config(p);
	if (r < 0)
		return r;

	class = CFG32(p, PCI_CLASS_REVISION) >> 8;
	pin = CFG8(p, PCI_INTERRUPT_PIN);
	o_push(o, "config", false, "PCI config space (%u bytes):", p->cfg_size);
	o_uint(o, "size", NULL, p->cfg_size);
	o_text(o, "Vendor/device: %04x:%04x", CFG16(p, PCI_VENDOR_ID), CFG16(p, PCI_DEVICE_ID));
	o_hex(o, "vendor_id", NULL, CFG16(p, PCI_VENDOR_ID), 4);
	o_hex(o, "device_id", NULL, CFG16(p, PCI_DEVICE_ID), 4);
	o_text(o, "Subsystem: %04x:%04x", CFG16(p, PCI_SUBSYSTEM_VENDOR_ID), CFG16(p, PCI_SUBSYSTEM_ID));
	o_hex(o, "subsystem_vendor_id", NULL, CFG16(p, PCI_SUBSYSTEM_VENDOR_ID), 4);
	o_hex(o, "subsystem_id", NULL, CFG16(p, PCI_SUBSYSTEM_ID), 4);
	o_hex(o, "revision", "Revision", CFG8(p, PCI_REVISION_ID), 2);
	o_text(o, "Class: %06x (%s)", class, class_name((uint8_t)(class >> 16)));
	o_hex(o, "class_code", NULL, class, 6);
	o_str(o, "class_name", NULL, class_name((uint8_t)(class >> 16)));
	o_hex(o, "header_type", "Header type", CFG8(p, PCI_HEADER_TYPE), 2);
	o_field(o, "command", json_object_new_int(CFG16(p, PCI_COMMAND)), NULL, "%s", "");
	o_flags(o, "command_flags", "Command", CFG16(p, PCI_COMMAND), command_flags);
	o_field(o, "status", json_object_new_int(CFG16(p, PCI_STATUS)), NULL, "%s", "");
	o_flags(o, "status_flags", "Status", CFG16(p, PCI_STATUS), status_flags);
	if (pin >= 1 && pin <= 4)
		o_text(o, "Interrupt: pin %c, line %u", 'A' + pin - 1, CFG8(p, PCI_INTERRUPT_LINE));
	else
		o_text(o, "Interrupt: pin %u (none), line %u", pin, CFG8(p, PCI_INTERRUPT_LINE));
	o_uint(o, "interrupt_pin", NULL, pin);
	o_uint(o, "interrupt_line", NULL, CFG8(p, PCI_INTERRUPT_LINE));
	decode_bars(p);
	decode_std_caps(p);
	if (p->cfg_size >= PCI_CFG_SPACE_EXP_SIZE)
		decode_ext_caps(p);
	o_pop(o);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: vfio-user-proxy probe SOCKET [--json]\n"
		   "Connects to the vfio-user server at SOCKET and prints the protocol version, the server's\n"
		   "capabilities, the device's regions and IRQs, and its decoded PCI config space.\n"
		   "  --json   print one JSON document instead of text\n"
		   "  --help   print this help\n");
}

static int parse_args(int argc, char **argv, const char **path, bool *json)
{
	bool opts = true;

	*path = NULL;
	*json = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts && !strcmp(a, "--")) {
			opts = false;
		} else if (opts && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			usage(stdout);
			return 0;
		} else if (opts && !strcmp(a, "--json")) {
			*json = true;
		} else if (opts && a[0] == '-' && a[1]) {
			fprintf(stderr, PROG ": unknown option '%s'\n", a);
			usage(stderr);
			return 2;
		} else if (*path) {
			fprintf(stderr, PROG ": unexpected argument '%s' (one SOCKET only)\n", a);
			usage(stderr);
			return 2;
		} else {
			*path = a;
		}
	}
	if (!*path) {
		fprintf(stderr, PROG ": missing SOCKET\n");
		usage(stderr);
		return 2;
	}
	return -1;
}

static const char *connect_hint(int r)
{
	switch (-r) {
	case ENOENT:
	case ECONNREFUSED:
		return "is the proxy running?";
	case EACCES:
	case EPERM:
		return "check the socket's permissions";
	case ENOTSOCK:
		return "the path is not a UNIX socket";
	case ENAMETOOLONG:
		return "UNIX socket paths are limited to 107 bytes";
	default:
		return "is the proxy running?";
	}
}

static int probe_all(struct probe *p)
{
	int r;

	r = probe_version(p);
	if (!r)
		r = probe_device(p);
	if (!r)
		r = probe_regions(p);
	if (!r)
		r = probe_irqs(p);
	if (!r)
		r = probe_config(p);
	return r;
}

int cmd_probe(int argc, char **argv)
{
	struct probe *p;
	const char *path;
	bool json;
	int r, ret = 1;

	r = parse_args(argc, argv, &path, &json);
	if (r >= 0)
		return r;

	p = calloc(1, sizeof(*p));
	if (p)
		p->capbuf = malloc(PROBE_CAPS_BUF);
	if (!p || !p->capbuf) {
		fprintf(stderr, PROG ": out of memory\n");
		if (p)
			free(p);
		return 1;
	}
	p->path = path;
	p->o.json = json;
	p->o.warnings = json_object_new_array();
	if (json)
		p->o.stack[0] = json_object_new_object();

	r = vuc_connect(path, &p->c);
	if (r < 0) {
		fprintf(stderr, PROG ": cannot connect to %s: %s (%s)\n", path, strerror(-r), connect_hint(r));
		goto out;
	}

	o_str(&p->o, "socket", NULL, path);
	o_text(&p->o, "vfio-user server at %s", path);
	r = probe_all(p);
	if (r < 0) {
		fprintf(stderr, PROG ": %s: %s failed: %s (%s)\n", path, p->failed, strerror(-r), fatal_hint(r));
		goto out;
	}

	if (json) {
		json_object_object_add(p->o.stack[0], "warnings", json_object_get(p->o.warnings));
		puts(json_object_to_json_string_ext(p->o.stack[0], JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	} else if (json_object_array_length(p->o.warnings)) {
		printf("Warnings:\n");
		for (size_t i = 0; i < json_object_array_length(p->o.warnings); i++)
			printf("  %s\n", json_object_get_string(json_object_array_get_idx(p->o.warnings, i)));
	}
	ret = fflush(stdout) == 0 ? 0 : 1;
out:
	vuc_close(p->c);
	json_object_put(p->o.stack[0]);
	json_object_put(p->o.warnings);
	free(p->capbuf);
	free(p);
	return ret;
}
