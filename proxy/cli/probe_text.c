/* probe_text.c: prints a probe_desc as indented lspci -vv-like text. */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "cli/probe_print.h"

static const char *yes_no(bool b)
{
	return b ? "yes" : "no";
}

/* One line, indented two spaces a level. */
static void __attribute__((format(printf, 3, 4))) line(FILE *f, int indent, const char *fmt, ...)
{
	va_list ap;

	fprintf(f, "%*s", indent * 2, "");
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

/* Bits by name, unknown ones in hex: "READ WRITE (0x3)", "none (0x0)". */
static const char *flags_text(char *text, size_t size, const struct probe_flags *fl)
{
	char names[256] = "";
	uint64_t rest = fl->value;
	size_t len = 0;

	for (const struct probe_flag_name *t = fl->names; t->name; t++) {
		if (!(fl->value & t->bit))
			continue;
		rest &= ~t->bit;
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s ", t->name);
		if (len >= sizeof(names))
			len = sizeof(names) - 1;
	}
	if (rest) {
		len += (size_t)snprintf(names + len, sizeof(names) - len, "unknown:0x%" PRIx64 " ", rest);
		if (len >= sizeof(names))
			len = sizeof(names) - 1;
	}
	snprintf(text, size, "%s(0x%" PRIx64 ")", fl->value ? names : "none ", fl->value);
	return text;
}

/* "0x100000 (1 MiB)" for sizes that are a whole number of KiB, MiB, GiB or TiB. */
static const char *size_text(char *buf, size_t len, uint64_t v)
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

static void print_version(FILE *f, const struct probe_version *v)
{
	char json[sizeof(v->json)];
	size_t i;

	/* The server's JSON with anything unprintable replaced. */
	for (i = 0; i < sizeof(json) - 1 && v->json[i]; i++)
		json[i] = v->json[i] >= 0x20 && v->json[i] < 0x7f ? v->json[i] : '?';
	json[i] = '\0';
	line(f, 0, "Protocol version %u.%u", v->major, v->minor);
	line(f, 0, "Server capabilities:");
	line(f, 1, "max_msg_fds: %u", v->max_msg_fds);
	line(f, 1, "max_data_xfer_size: %u", v->max_data_xfer_size);
	line(f, 1, "max_dma_maps: %u", v->max_dma_maps);
	line(f, 1, "pgsizes: 0x%" PRIx64, v->pgsizes);
	line(f, 1, "write_multiple: %s", yes_no(v->write_multiple));
	line(f, 1, "JSON: %s", json[0] ? json : "(none)");
}

static void print_device(FILE *f, const struct probe_device *dev)
{
	char fl[300];

	line(f, 0, "Device:");
	line(f, 1, "Flags: %s", flags_text(fl, sizeof(fl), &dev->flags));
	line(f, 1, "Regions: %u", dev->num_regions);
	line(f, 1, "IRQ indexes: %u", dev->num_irqs);
}

static void print_region_cap(FILE *f, const struct probe_desc *d, const struct probe_region_cap *rc)
{
	char sz[64];

	switch (rc->kind) {
	case PROBE_RCAP_SPARSE_MMAP:
		line(f, 2, "[0x%x] sparse mmap (version %u):", rc->offset, rc->version);
		for (size_t i = 0; i < rc->nareas; i++) {
			const struct probe_area *a = &d->areas[rc->first_area + i];

			line(f, 3, "Area %zu: offset 0x%" PRIx64 ", size %s", i, a->offset,
			     size_text(sz, sizeof(sz), a->size));
		}
		break;
	case PROBE_RCAP_TYPE:
		if (!rc->truncated)
			line(f, 2, "[0x%x] region type (version %u): type %u, subtype %u", rc->offset, rc->version,
			     rc->type, rc->subtype);
		break;
	case PROBE_RCAP_MSIX_MAPPABLE:
		line(f, 2, "[0x%x] MSI-X table mappable (version %u)", rc->offset, rc->version);
		break;
	case PROBE_RCAP_UNKNOWN:
		line(f, 2, "[0x%x] unknown capability id %u (version %u)", rc->offset, rc->id, rc->version);
		break;
	}
}

static void print_region(FILE *f, const struct probe_desc *d, uint32_t i)
{
	const struct probe_region *r = &d->regions[i];
	char fl[300], sz[64];

	line(f, 0, "Region %u (%s):%s", i, r->name, r->error || r->size ? "" : " not implemented (size 0)");
	if (r->error) {
		line(f, 1, "Error: %s", strerror(r->error));
		return;
	}
	if (!r->size && !r->flags.value)
		return;
	line(f, 1, "Flags: %s", flags_text(fl, sizeof(fl), &r->flags));
	line(f, 1, "Size: %s", size_text(sz, sizeof(sz), r->size));
	line(f, 1, "mmap offset: 0x%" PRIx64, r->offset);
	line(f, 1, "fd passed: %s", yes_no(r->fd));
	if (r->caps_flagged)
		line(f, 1, "Capabilities:");
	for (uint32_t k = 0; k < r->ncaps; k++)
		print_region_cap(f, d, &r->caps[k]);
}

static void print_irqs(FILE *f, const struct probe_desc *d)
{
	line(f, 0, "IRQs:");
	for (uint32_t i = 0; i < d->nirqs; i++) {
		const struct probe_irq *q = &d->irqs[i];
		char names[256] = "";

		if (q->error) {
			line(f, 1, "%u %s: error: %s", i, q->name, strerror(q->error));
			continue;
		}
		for (const struct probe_flag_name *t = q->flags.names; t->name; t++)
			if (q->flags.value & t->bit)
				snprintf(names + strlen(names), sizeof(names) - strlen(names), " %s", t->name);
		line(f, 1, "%u %s: count %u, flags%s (0x%" PRIx64 ")", i, q->name, q->count,
		     q->flags.value ? names : " none", q->flags.value);
	}
}

static void print_bar(FILE *f, const struct probe_bar *b)
{
	char sz[64];

	if (!b->used)
		line(f, 1, "BAR%u: unused", b->index);
	else
		line(f, 1, "BAR%u: %s at 0x%" PRIx64 " (%s%s), size %s", b->index, b->io ? "I/O" : "memory",
		     b->address, b->io ? "" : b->is64 ? "64-bit" : "32-bit",
		     b->io ? "" : b->prefetchable ? ", prefetchable" : ", non-prefetchable",
		     size_text(sz, sizeof(sz), b->size));
	if (b->upper_follows)
		line(f, 1, "BAR%u: upper half of BAR%u", b->index + 1, b->index);
}

static void print_pci_cap(FILE *f, const struct probe_pci_cap *c)
{
	switch (c->kind) {
	case PROBE_CAP_PM:
		line(f, 2, "[%02x] %s version %u, state %s", c->offset, c->name, c->pm.version, c->pm.state);
		break;
	case PROBE_CAP_MSI:
		line(f, 2, "[%02x] %s: enable %s, 64-bit %s, per-vector masking %s, vectors capable %u, enabled %u",
		     c->offset, c->name, yes_no(c->msi.enabled), yes_no(c->msi.is64),
		     yes_no(c->msi.per_vector_masking), c->msi.vectors_capable, c->msi.vectors_enabled);
		break;
	case PROBE_CAP_EXP:
		line(f, 2, "[%02x] %s version %u, %s", c->offset, c->name, c->exp.version, c->exp.device_type);
		break;
	case PROBE_CAP_MSIX:
		line(f, 2, "[%02x] %s: enable %s, function mask %s, table size %u", c->offset, c->name,
		     yes_no(c->msix.enabled), yes_no(c->msix.masked), c->msix.table_size);
		line(f, 2, "     table BAR%u offset 0x%x, PBA BAR%u offset 0x%x", c->msix.table.bir,
		     c->msix.table.offset, c->msix.pba.bir, c->msix.pba.offset);
		break;
	case PROBE_CAP_VENDOR:
		line(f, 2, "[%02x] %s (length %u)", c->offset, c->name, c->vendor.length);
		break;
	case PROBE_CAP_OTHER:
		line(f, 2, "[%02x] capability id 0x%02x", c->offset, c->id);
		break;
	}
}

static void print_config(FILE *f, const struct probe_config *c)
{
	char fl[300];

	line(f, 0, "PCI config space (%u bytes):", c->size);
	line(f, 1, "Vendor/device: %04x:%04x", c->vendor_id, c->device_id);
	line(f, 1, "Subsystem: %04x:%04x", c->subsystem_vendor_id, c->subsystem_id);
	line(f, 1, "Revision: 0x%02x", c->revision);
	line(f, 1, "Class: %06x (%s)", c->class_code, c->class_name);
	line(f, 1, "Header type: 0x%02x", c->header_type);
	line(f, 1, "Command: %s", flags_text(fl, sizeof(fl), &c->command));
	line(f, 1, "Status: %s", flags_text(fl, sizeof(fl), &c->status));
	if (c->interrupt_pin >= 1 && c->interrupt_pin <= 4)
		line(f, 1, "Interrupt: pin %c, line %u", 'A' + c->interrupt_pin - 1, c->interrupt_line);
	else
		line(f, 1, "Interrupt: pin %u (none), line %u", c->interrupt_pin, c->interrupt_line);
	for (uint32_t i = 0; i < c->nbars; i++)
		print_bar(f, &c->bars[i]);
	line(f, 1, "Capabilities:");
	if (!c->cap_list)
		line(f, 2, "(none: status has no capability list)");
	for (uint32_t i = 0; i < c->ncaps; i++)
		print_pci_cap(f, &c->caps[i]);
	if (!c->has_ext_caps)
		return;
	line(f, 1, "Extended capabilities:");
	if (!c->next_caps)
		line(f, 2, "(none)");
	for (uint32_t i = 0; i < c->next_caps; i++) {
		const struct probe_ext_cap *x = &c->ext_caps[i];

		line(f, 2, "[%03x] %s (id 0x%04x, version %u)", x->offset, x->name, x->id, x->version);
	}
}

void probe_print_text(FILE *f, const struct probe_desc *d)
{
	line(f, 0, "vfio-user server at %s", d->socket);
	if (d->has_version)
		print_version(f, &d->version);
	if (d->has_device)
		print_device(f, &d->device);
	for (uint32_t i = 0; i < d->nregions; i++)
		print_region(f, d, i);
	if (d->has_irqs)
		print_irqs(f, d);
	if (d->has_config)
		print_config(f, &d->config);
	if (!d->complete || !d->nwarnings)
		return;
	fprintf(f, "Warnings:\n");
	for (size_t i = 0; i < d->nwarnings; i++)
		fprintf(f, "  %s\n", d->warnings[i]);
}
