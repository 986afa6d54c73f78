/* probe_decode.c: decodes region capability chains and the PCI config space into a probe_desc, with their warnings. */
#include <endian.h>
#include <stdbool.h>
#include <string.h>

#include <linux/pci_regs.h>

#include "cli/probe_decode.h"
#include "vfio-user.h"

static const struct probe_flag_name command_flags[] = {
	{ PCI_COMMAND_IO, "IO" },
	{ PCI_COMMAND_MEMORY, "MEM" },
	{ PCI_COMMAND_MASTER, "BUS_MASTER" },
	{ PCI_COMMAND_SERR, "SERR" },
	{ PCI_COMMAND_INTX_DISABLE, "INTX_DISABLE" },
	{ 0, NULL },
};

static const struct probe_flag_name status_flags[] = {
	{ PCI_STATUS_INTERRUPT, "INTX" },
	{ PCI_STATUS_CAP_LIST, "CAP_LIST" },
	{ 0, NULL },
};

/* ---- region capability chains ---- */

static void decode_sparse(struct probe_desc *d, uint32_t index, struct probe_region_cap *rc, const uint8_t *cap,
			  size_t avail)
{
	struct vfio_user_cap_sparse_mmap sp;
	struct vfio_user_sparse_mmap_area a;
	uint32_t n;

	if (avail < sizeof(sp)) {
		probe_warn(d, "region %u: sparse mmap capability truncated", index);
		rc->truncated = true;
		return;
	}
	memcpy(&sp, cap, sizeof(sp));
	n = sp.nr_areas;
	if (n > (avail - sizeof(sp)) / sizeof(a)) {
		probe_warn(d, "region %u: sparse mmap capability claims %u areas but holds %zu", index, n,
			   (avail - sizeof(sp)) / sizeof(a));
		n = (uint32_t)((avail - sizeof(sp)) / sizeof(a));
	}
	rc->nr_areas = sp.nr_areas;
	rc->first_area = d->nareas;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(&a, cap + sizeof(sp) + (size_t)i * sizeof(a), sizeof(a));
		if (probe_add_area(d, a.offset, a.size))
			rc->nareas++;
	}
}

static void decode_region_cap(struct probe_desc *d, uint32_t index, struct probe_region_cap *rc, const uint8_t *cap,
			      size_t left)
{
	struct vfio_user_cap_type t;

	switch (rc->id) {
	case VFIO_REGION_INFO_CAP_SPARSE_MMAP:
		rc->kind = PROBE_RCAP_SPARSE_MMAP;
		decode_sparse(d, index, rc, cap, left);
		break;
	case VFIO_REGION_INFO_CAP_TYPE:
		rc->kind = PROBE_RCAP_TYPE;
		if (left < sizeof(t)) {
			probe_warn(d, "region %u: type capability truncated", index);
			rc->truncated = true;
			break;
		}
		memcpy(&t, cap, sizeof(t));
		rc->type = t.type;
		rc->subtype = t.subtype;
		break;
	case VFIO_REGION_INFO_CAP_MSIX_MAPPABLE:
		rc->kind = PROBE_RCAP_MSIX_MAPPABLE;
		break;
	default:
		rc->kind = PROBE_RCAP_UNKNOWN;
		break;
	}
}

void probe_decode_region_caps(struct probe_desc *d, uint32_t index, uint32_t cap_offset, const uint8_t *caps,
			      size_t avail, size_t caps_len)
{
	const size_t base = sizeof(struct vfio_user_region_info);
	struct probe_region *r = &d->regions[index];
	uint32_t off = cap_offset;

	if (!r->caps_flagged)
		return;
	if (off < base)
		probe_warn(d, "region %u: CAPS with cap_offset 0x%x below 32: QEMU rejects this region info", index,
			   off);
	while (off) {
		struct vfio_user_cap_header h;
		struct probe_region_cap *rc;

		if (off < base || off - base > avail || avail - (off - base) < sizeof(h)) {
			probe_warn(d, "region %u: capability at 0x%x lies outside the %zu-byte reply", index, off,
				   base + caps_len);
			return;
		}
		for (unsigned int i = 0; i < r->ncaps; i++) {
			if (r->caps[i].offset == off) {
				probe_warn(d, "region %u: capability chain loops back to 0x%x", index, off);
				return;
			}
		}
		if (r->ncaps == PROBE_MAX_REGION_CAPS) {
			probe_warn(d, "region %u: capability chain longer than %u entries", index,
				   PROBE_MAX_REGION_CAPS);
			return;
		}
		memcpy(&h, caps + (off - base), sizeof(h));
		rc = &r->caps[r->ncaps++];
		rc->offset = off;
		rc->id = h.id;
		rc->version = h.version;
		decode_region_cap(d, index, rc, caps + (off - base), avail - (off - base));
		off = h.next;
	}
}

/* ---- PCI config space ---- */

struct cfg {
	const uint8_t *bytes;
	uint32_t size;
};

static uint32_t cfg_rd(const struct cfg *c, uint32_t off, unsigned int size)
{
	uint32_t v = 0;

	if (off > c->size || c->size - off < size)
		return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
	memcpy(&v, c->bytes + off, size);
	return le32toh(v);
}

#define CFG8(c, off) ((uint8_t)cfg_rd(c, off, 1))
#define CFG16(c, off) ((uint16_t)cfg_rd(c, off, 2))
#define CFG32(c, off) cfg_rd(c, off, 4)

/* Whether the server described region index (so its size is known). */
static bool region_known(const struct probe_desc *d, uint32_t index)
{
	return index < d->nregions && !d->regions[index].error;
}

/* Whether len bytes at at fit in that BAR, as far as the server described it. */
static bool fits_in_bar(const struct probe_desc *d, struct probe_bar_offset at, uint64_t len)
{
	return !region_known(d, at.bir) || (uint64_t)at.offset + len <= d->regions[at.bir].size;
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

static void decode_bars(struct probe_desc *d, const struct cfg *c)
{
	struct probe_config *pc = &d->config;
	uint8_t htype = CFG8(c, PCI_HEADER_TYPE) & 0x7f;
	unsigned int nbars = htype == PCI_HEADER_TYPE_NORMAL ? 6 : htype == PCI_HEADER_TYPE_BRIDGE ? 2 : 0;

	for (unsigned int i = 0; i < nbars; i++) {
		struct probe_bar *b = &pc->bars[pc->nbars++];
		uint32_t raw = CFG32(c, PCI_BASE_ADDRESS_0 + 4 * i);

		b->index = i;
		b->raw = raw;
		b->size = region_known(d, i) ? d->regions[i].size : 0;
		b->io = raw & PCI_BASE_ADDRESS_SPACE_IO;
		b->is64 = !b->io && (raw & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64;
		b->prefetchable = !b->io && (raw & PCI_BASE_ADDRESS_MEM_PREFETCH);
		b->address = b->io ? raw & PCI_BASE_ADDRESS_IO_MASK : raw & PCI_BASE_ADDRESS_MEM_MASK;
		b->used = raw || b->size;
		if (b->is64 && i + 1 < nbars) {
			b->address |= (uint64_t)CFG32(c, PCI_BASE_ADDRESS_0 + 4 * (i + 1)) << 32;
			b->upper_follows = true;
			i++;
		} else if (b->is64) {
			probe_warn(d, "BAR%u is 64-bit but has no upper half", i);
		}
	}
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

static void decode_msix(struct probe_desc *d, const struct cfg *c, struct probe_pci_cap *cap)
{
	uint32_t pos = cap->offset;
	uint16_t ctl = CFG16(c, pos + PCI_MSIX_FLAGS);
	uint32_t table = CFG32(c, pos + PCI_MSIX_TABLE), pba = CFG32(c, pos + PCI_MSIX_PBA);
	uint32_t size = (ctl & PCI_MSIX_FLAGS_QSIZE) + 1;

	cap->msix.enabled = ctl & PCI_MSIX_FLAGS_ENABLE;
	cap->msix.masked = ctl & PCI_MSIX_FLAGS_MASKALL;
	cap->msix.table_size = size;
	cap->msix.table = (struct probe_bar_offset){ table & PCI_MSIX_TABLE_BIR, table & PCI_MSIX_TABLE_OFFSET };
	cap->msix.pba = (struct probe_bar_offset){ pba & PCI_MSIX_PBA_BIR, pba & PCI_MSIX_PBA_OFFSET };
	if (cap->msix.table.bir > 5 || cap->msix.pba.bir > 5) {
		probe_warn(d, "MSI-X table or PBA in BAR indicator > 5");
		return;
	}
	if (!fits_in_bar(d, cap->msix.table, (uint64_t)size * 16))
		probe_warn(d, "MSI-X table (%u entries at 0x%x) does not fit in BAR%u", size, cap->msix.table.offset,
			   cap->msix.table.bir);
	if (!fits_in_bar(d, cap->msix.pba, ((size + 63) / 64) * 8))
		probe_warn(d, "MSI-X PBA at 0x%x does not fit in BAR%u", cap->msix.pba.offset, cap->msix.pba.bir);
}

/* The capabilities decoded field by field, by capability id; their names by kind. */
static enum probe_pci_cap_kind pci_cap_kind(uint8_t id)
{
	switch (id) {
	case PCI_CAP_ID_PM:
		return PROBE_CAP_PM;
	case PCI_CAP_ID_MSI:
		return PROBE_CAP_MSI;
	case PCI_CAP_ID_EXP:
		return PROBE_CAP_EXP;
	case PCI_CAP_ID_MSIX:
		return PROBE_CAP_MSIX;
	case PCI_CAP_ID_VNDR:
		return PROBE_CAP_VENDOR;
	default:
		return PROBE_CAP_OTHER;
	}
}

static const char *const pci_cap_names[] = {
	[PROBE_CAP_PM] = "Power Management",
	[PROBE_CAP_MSI] = "MSI",
	[PROBE_CAP_EXP] = "PCI Express",
	[PROBE_CAP_MSIX] = "MSI-X",
	[PROBE_CAP_VENDOR] = "Vendor Specific",
	[PROBE_CAP_OTHER] = "unknown",
};

static void decode_pci_cap(struct probe_desc *d, const struct cfg *c, struct probe_pci_cap *cap)
{
	static const char *const dstate[] = { "D0", "D1", "D2", "D3hot" };
	uint32_t pos = cap->offset;
	uint16_t v;

	cap->kind = pci_cap_kind(cap->id);
	cap->name = pci_cap_names[cap->kind];
	switch (cap->kind) {
	case PROBE_CAP_PM:
		cap->pm.version = CFG16(c, pos + PCI_PM_PMC) & PCI_PM_CAP_VER_MASK;
		cap->pm.state = dstate[CFG16(c, pos + PCI_PM_CTRL) & PCI_PM_CTRL_STATE_MASK];
		break;
	case PROBE_CAP_MSI:
		v = CFG16(c, pos + PCI_MSI_FLAGS);
		cap->msi.enabled = v & PCI_MSI_FLAGS_ENABLE;
		cap->msi.is64 = v & PCI_MSI_FLAGS_64BIT;
		cap->msi.per_vector_masking = v & PCI_MSI_FLAGS_MASKBIT;
		cap->msi.vectors_capable = 1u << ((v & PCI_MSI_FLAGS_QMASK) >> 1);
		cap->msi.vectors_enabled = 1u << ((v & PCI_MSI_FLAGS_QSIZE) >> 4);
		break;
	case PROBE_CAP_EXP:
		v = CFG16(c, pos + PCI_EXP_FLAGS);
		cap->exp.version = v & PCI_EXP_FLAGS_VERS;
		cap->exp.device_type = pcie_type_name((v & PCI_EXP_FLAGS_TYPE) >> 4);
		break;
	case PROBE_CAP_MSIX:
		decode_msix(d, c, cap);
		break;
	case PROBE_CAP_VENDOR:
		cap->vendor.length = CFG8(c, pos + 2);
		break;
	case PROBE_CAP_OTHER:
		break;
	}
}

/* Whether a capability list goes on at pos: inside lo..hi and not visited before (it now is). */
static bool list_visit(struct probe_desc *d, const char *list, bool *seen, uint32_t pos, uint32_t lo, uint32_t hi)
{
	if (pos < lo || pos > hi) {
		probe_warn(d, "%s capability pointer 0x%x is outside 0x%x..0x%x", list, pos, lo, hi);
		return false;
	}
	if (seen[pos / 4]) {
		probe_warn(d, "%s capability list loops back to 0x%x", list, pos);
		return false;
	}
	seen[pos / 4] = true;
	return true;
}

static void decode_pci_caps(struct probe_desc *d, const struct cfg *c)
{
	struct probe_config *pc = &d->config;
	uint32_t pos = CFG8(c, PCI_CAPABILITY_LIST) & ~3u;
	bool seen[PCI_CFG_SPACE_SIZE / 4] = { false };

	pc->cap_list = CFG16(c, PCI_STATUS) & PCI_STATUS_CAP_LIST;
	if (!pc->cap_list)
		pos = 0;
	while (pos && list_visit(d, "config", seen, pos, PCI_STD_HEADER_SIZEOF, PCI_CFG_SPACE_SIZE - 4)) {
		struct probe_pci_cap *cap = &pc->caps[pc->ncaps++];

		cap->offset = (uint8_t)pos;
		cap->id = CFG8(c, pos + PCI_CAP_LIST_ID);
		decode_pci_cap(d, c, cap);
		pos = CFG8(c, pos + PCI_CAP_LIST_NEXT) & ~3u;
	}
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

static void decode_ext_caps(struct probe_desc *d, const struct cfg *c)
{
	struct probe_config *pc = &d->config;
	uint32_t pos = PCI_CFG_SPACE_SIZE;
	bool seen[PCI_CFG_SPACE_EXP_SIZE / 4] = { false };

	pc->has_ext_caps = true;
	/* The loop check comes before the end check: the same, as a header visited before was no end. */
	while (pos && list_visit(d, "extended", seen, pos, PCI_CFG_SPACE_SIZE, c->size - 4)) {
		uint32_t h = CFG32(c, pos);
		struct probe_ext_cap *x;

		if (h == 0 || h == 0xffffffffu)
			break;
		x = &pc->ext_caps[pc->next_caps++];
		x->offset = (uint16_t)pos;
		x->id = PCI_EXT_CAP_ID(h);
		x->version = PCI_EXT_CAP_VER(h);
		x->name = ext_cap_name(x->id);
		pos = PCI_EXT_CAP_NEXT(h);
	}
}

void probe_decode_config(struct probe_desc *d, const uint8_t *cfg, uint32_t size)
{
	const struct cfg c = { .bytes = cfg, .size = size };
	struct probe_config *pc = &d->config;

	pc->size = size;
	pc->vendor_id = CFG16(&c, PCI_VENDOR_ID);
	pc->device_id = CFG16(&c, PCI_DEVICE_ID);
	pc->subsystem_vendor_id = CFG16(&c, PCI_SUBSYSTEM_VENDOR_ID);
	pc->subsystem_id = CFG16(&c, PCI_SUBSYSTEM_ID);
	pc->revision = CFG8(&c, PCI_REVISION_ID);
	pc->class_code = CFG32(&c, PCI_CLASS_REVISION) >> 8;
	pc->class_name = class_name((uint8_t)(pc->class_code >> 16));
	pc->header_type = CFG8(&c, PCI_HEADER_TYPE);
	pc->command = (struct probe_flags){ CFG16(&c, PCI_COMMAND), command_flags };
	pc->status = (struct probe_flags){ CFG16(&c, PCI_STATUS), status_flags };
	pc->interrupt_pin = CFG8(&c, PCI_INTERRUPT_PIN);
	pc->interrupt_line = CFG8(&c, PCI_INTERRUPT_LINE);
	decode_bars(d, &c);
	decode_pci_caps(d, &c);
	if (size >= PCI_CFG_SPACE_EXP_SIZE)
		decode_ext_caps(d, &c);
}
