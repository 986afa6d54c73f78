/* probe_json.c: turns a probe_desc into one JSON document (json-c) and prints it. */
#include <inttypes.h>
#include <string.h>

#include "cli/probe_print.h"

static void add_uint(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static void add_str(struct json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, json_object_new_string(s));
}

static void add_bool(struct json_object *o, const char *key, bool b)
{
	json_object_object_add(o, key, json_object_new_boolean(b));
}

/* An array of the set bits' names, unknown bits as one hex string. */
static struct json_object *flags_json(const struct probe_flags *fl)
{
	struct json_object *arr = json_object_new_array();
	uint64_t rest = fl->value;
	char hex[32];

	for (const struct probe_flag_name *t = fl->names; t->name; t++) {
		if (fl->value & t->bit)
			json_object_array_add(arr, json_object_new_string(t->name));
		rest &= ~t->bit;
	}
	if (rest) {
		snprintf(hex, sizeof(hex), "0x%" PRIx64, rest);
		json_object_array_add(arr, json_object_new_string(hex));
	}
	return arr;
}

/* A new object in parent: appended if parent is an array, else added under key. */
static struct json_object *child(struct json_object *parent, const char *key)
{
	struct json_object *o = json_object_new_object();

	if (json_object_is_type(parent, json_type_array))
		json_object_array_add(parent, o);
	else
		json_object_object_add(parent, key, o);
	return o;
}

static struct json_object *child_array(struct json_object *parent, const char *key)
{
	struct json_object *a = json_object_new_array();

	json_object_object_add(parent, key, a);
	return a;
}

static void add_version(struct json_object *root, const struct probe_version *v)
{
	struct json_object *o = child(root, "version"), *raw;

	add_uint(o, "major", v->major);
	add_uint(o, "minor", v->minor);
	o = child(root, "server_capabilities");
	add_uint(o, "max_msg_fds", v->max_msg_fds);
	add_uint(o, "max_data_xfer_size", v->max_data_xfer_size);
	add_uint(o, "max_dma_maps", v->max_dma_maps);
	add_uint(o, "pgsizes", v->pgsizes);
	add_bool(o, "write_multiple", v->write_multiple);
	raw = v->json[0] ? json_tokener_parse(v->json) : NULL;
	json_object_object_add(o, "json", raw ? raw : json_object_new_null());
}

static void add_region_cap(struct json_object *caps, const struct probe_desc *d, const struct probe_region_cap *rc)
{
	static const char *const names[] = {
		[PROBE_RCAP_SPARSE_MMAP] = "sparse_mmap",
		[PROBE_RCAP_TYPE] = "type",
		[PROBE_RCAP_MSIX_MAPPABLE] = "msix_mappable",
		[PROBE_RCAP_UNKNOWN] = "unknown",
	};
	struct json_object *o = child(caps, NULL), *areas;

	add_uint(o, "offset", rc->offset);
	add_uint(o, "id", rc->id);
	add_uint(o, "version", rc->version);
	add_str(o, "name", names[rc->kind]);
	if (rc->truncated)
		return;
	if (rc->kind == PROBE_RCAP_SPARSE_MMAP) {
		add_uint(o, "nr_areas", rc->nr_areas);
		areas = child_array(o, "areas");
		for (size_t i = 0; i < rc->nareas; i++) {
			struct json_object *a = child(areas, NULL);

			add_uint(a, "offset", d->areas[rc->first_area + i].offset);
			add_uint(a, "size", d->areas[rc->first_area + i].size);
		}
	} else if (rc->kind == PROBE_RCAP_TYPE) {
		add_uint(o, "type", rc->type);
		add_uint(o, "subtype", rc->subtype);
	}
}

static void add_region(struct json_object *regions, const struct probe_desc *d, uint32_t i)
{
	const struct probe_region *r = &d->regions[i];
	struct json_object *o = child(regions, NULL), *caps;

	add_uint(o, "index", i);
	add_str(o, "name", r->name);
	if (r->error) {
		add_str(o, "error", strerror(r->error));
		return;
	}
	if (!r->size && !r->flags.value) {
		add_uint(o, "size", 0);
		return;
	}
	json_object_object_add(o, "flags", flags_json(&r->flags));
	add_uint(o, "size", r->size);
	add_uint(o, "offset", r->offset);
	add_bool(o, "fd", r->fd);
	caps = child_array(o, "capabilities");
	for (uint32_t k = 0; k < r->ncaps; k++)
		add_region_cap(caps, d, &r->caps[k]);
}

static void add_irq(struct json_object *irqs, const struct probe_irq *q, uint32_t i)
{
	struct json_object *o = child(irqs, NULL);

	add_uint(o, "index", i);
	add_str(o, "name", q->name);
	if (q->error) {
		add_str(o, "error", strerror(q->error));
		return;
	}
	add_uint(o, "count", q->count);
	json_object_object_add(o, "flags", flags_json(&q->flags));
}

static void add_bar(struct json_object *bars, const struct probe_bar *b)
{
	struct json_object *o = child(bars, NULL);

	add_uint(o, "index", b->index);
	add_uint(o, "raw", b->raw);
	add_bool(o, "used", b->used);
	add_str(o, "type", b->io ? "io" : "memory");
	if (!b->io) {
		add_uint(o, "bits", b->is64 ? 64 : 32);
		add_bool(o, "prefetchable", b->prefetchable);
	}
	add_uint(o, "address", b->address);
	add_uint(o, "size", b->size);
}

/* An MSI-X structure's place as what_bir and what_offset. */
static void add_bar_offset(struct json_object *o, const char *what, struct probe_bar_offset at)
{
	char key[32];

	snprintf(key, sizeof(key), "%s_bir", what);
	add_uint(o, key, at.bir);
	snprintf(key, sizeof(key), "%s_offset", what);
	add_uint(o, key, at.offset);
}

static void add_pci_cap(struct json_object *caps, const struct probe_pci_cap *c)
{
	struct json_object *o = child(caps, NULL);

	add_uint(o, "offset", c->offset);
	add_uint(o, "id", c->id);
	add_str(o, "name", c->name);
	if (c->kind == PROBE_CAP_PM) {
		add_uint(o, "pm_version", c->pm.version);
		add_str(o, "power_state", c->pm.state);
	} else if (c->kind == PROBE_CAP_MSI) {
		add_bool(o, "64bit", c->msi.is64);
		add_bool(o, "per_vector_masking", c->msi.per_vector_masking);
		add_uint(o, "vectors_capable", c->msi.vectors_capable);
		add_uint(o, "vectors_enabled", c->msi.vectors_enabled);
		add_bool(o, "enabled", c->msi.enabled);
	} else if (c->kind == PROBE_CAP_EXP) {
		add_uint(o, "pcie_version", c->exp.version);
		add_str(o, "device_type", c->exp.device_type);
	} else if (c->kind == PROBE_CAP_MSIX) {
		add_uint(o, "table_size", c->msix.table_size);
		add_bar_offset(o, "table", c->msix.table);
		add_bar_offset(o, "pba", c->msix.pba);
		add_bool(o, "enabled", c->msix.enabled);
		add_bool(o, "masked", c->msix.masked);
	}
}

static void add_config(struct json_object *root, const struct probe_config *c)
{
	struct json_object *o = child(root, "config"), *arr;

	add_uint(o, "size", c->size);
	add_uint(o, "vendor_id", c->vendor_id);
	add_uint(o, "device_id", c->device_id);
	add_uint(o, "subsystem_vendor_id", c->subsystem_vendor_id);
	add_uint(o, "subsystem_id", c->subsystem_id);
	add_uint(o, "revision", c->revision);
	add_uint(o, "class_code", c->class_code);
	add_str(o, "class_name", c->class_name);
	add_uint(o, "header_type", c->header_type);
	json_object_object_add(o, "command", json_object_new_int((int)c->command.value));
	json_object_object_add(o, "command_flags", flags_json(&c->command));
	json_object_object_add(o, "status", json_object_new_int((int)c->status.value));
	json_object_object_add(o, "status_flags", flags_json(&c->status));
	add_uint(o, "interrupt_pin", c->interrupt_pin);
	add_uint(o, "interrupt_line", c->interrupt_line);
	arr = child_array(o, "bars");
	for (uint32_t i = 0; i < c->nbars; i++)
		add_bar(arr, &c->bars[i]);
	arr = child_array(o, "capabilities");
	for (uint32_t i = 0; i < c->ncaps; i++)
		add_pci_cap(arr, &c->caps[i]);
	if (!c->has_ext_caps)
		return;
	arr = child_array(o, "extended_capabilities");
	for (uint32_t i = 0; i < c->next_caps; i++) {
		struct json_object *x = child(arr, NULL);

		add_uint(x, "offset", c->ext_caps[i].offset);
		add_uint(x, "id", c->ext_caps[i].id);
		add_str(x, "name", c->ext_caps[i].name);
		add_uint(x, "version", c->ext_caps[i].version);
	}
}

struct json_object *probe_to_json(const struct probe_desc *d)
{
	struct json_object *root = json_object_new_object(), *o, *arr;

	add_str(root, "socket", d->socket);
	add_version(root, &d->version);
	o = child(root, "device");
	json_object_object_add(o, "flags", flags_json(&d->device.flags));
	add_uint(o, "num_regions", d->device.num_regions);
	add_uint(o, "num_irqs", d->device.num_irqs);
	arr = child_array(root, "regions");
	for (uint32_t i = 0; i < d->nregions; i++)
		add_region(arr, d, i);
	arr = child_array(root, "irqs");
	for (uint32_t i = 0; i < d->nirqs; i++)
		add_irq(arr, &d->irqs[i], i);
	if (d->has_config)
		add_config(root, &d->config);
	arr = child_array(root, "warnings");
	for (size_t i = 0; i < d->nwarnings; i++)
		json_object_array_add(arr, json_object_new_string(d->warnings[i]));
	return root;
}

void probe_print_json(FILE *f, const struct probe_desc *d)
{
	struct json_object *root = probe_to_json(d);

	fprintf(f, "%s\n",
		json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}
