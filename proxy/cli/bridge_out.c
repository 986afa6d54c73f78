/* bridge_out.c: what `vfio-user-proxy bridge` prints: the created instance, the list as a table or JSON, events one per line; fault and event names. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bridge.h"

static const char *const fault_names[] = {
	[VUP_BRIDGE_FAULT_DMA_FAIL] = "dma-fail",
	[VUP_BRIDGE_FAULT_ERR_IRQ] = "err-irq",
	[VUP_BRIDGE_FAULT_STALL_READS] = "stall-reads",
	[VUP_BRIDGE_FAULT_SURPRISE_REMOVAL] = "surprise-removal",
};

static const char *const event_names[] = {
	[VUP_BRIDGE_EV_CREATED] = "created", [VUP_BRIDGE_EV_OPENED] = "opened", [VUP_BRIDGE_EV_RESET] = "reset",
	[VUP_BRIDGE_EV_CLOSED] = "closed",   [VUP_BRIDGE_EV_DESTROYED] = "destroyed",
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

int bridge_fault_parse(const char *s, uint32_t *fault)
{
	for (uint32_t i = 1; i < ARRAY_LEN(fault_names); i++) {
		if (!strcmp(s, fault_names[i])) {
			*fault = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *bridge_fault_name(uint32_t fault)
{
	return fault && fault < ARRAY_LEN(fault_names) ? fault_names[fault] : NULL;
}

const char *bridge_event_name(uint32_t event)
{
	return event && event < ARRAY_LEN(event_names) ? event_names[event] : "unknown";
}

int bridge_parse_id(const char *s, int *out)
{
	char *end;
	unsigned long v;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (!*s || strlen(s) > 4)
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno || *end || v > 0xffff)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

static void add_hex16(struct json_object *o, const char *key, uint16_t v)
{
	char hex[8];

	snprintf(hex, sizeof(hex), "0x%04x", v);
	json_object_object_add(o, key, json_object_new_string(hex));
}

struct json_object *bridge_instance_json(const struct bridge_instance *in)
{
	struct json_object *o = json_object_new_object(), *c = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(in->name));
	json_object_object_add(o, "uuid", json_object_new_string(in->uuid));
	json_object_object_add(o, "sysfs_path", json_object_new_string(in->sysfs_path));
	json_object_object_add(o, "group", in->group >= 0 ? json_object_new_int(in->group) : NULL);
	json_object_object_add(o, "cdev", in->cdev[0] ? json_object_new_string(in->cdev) : NULL);
	json_object_object_add(o, "msix", json_object_new_int((int)in->msix));
	add_hex16(o, "vendor", in->vendor);
	add_hex16(o, "device", in->device);
	add_hex16(o, "subsys_vendor", in->subsys_vendor);
	add_hex16(o, "subsys_device", in->subsys_device);
	json_object_object_add(o, "open", json_object_new_boolean(in->open));
	json_object_object_add(c, "mmio", json_object_new_uint64(in->mmio));
	json_object_object_add(c, "dma_bytes", json_object_new_uint64(in->dma_bytes));
	json_object_object_add(c, "irqs", json_object_new_uint64(in->irqs));
	json_object_object_add(c, "resets", json_object_new_uint64(in->resets));
	json_object_object_add(c, "opens", json_object_new_uint64(in->opens));
	json_object_object_add(o, "counters", c);
	return o;
}

void bridge_print_created(FILE *f, const struct bridge_instance *in, bool json)
{
	if (json) {
		struct json_object *o = bridge_instance_json(in);

		fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		return;
	}
	fprintf(f, "name %s\nuuid %s\nsysfs %s\n", in->name, in->uuid, in->sysfs_path);
	if (in->group >= 0)
		fprintf(f, "group /dev/vfio/%d\n", in->group);
	if (in->cdev[0])
		fprintf(f, "cdev /dev/vfio/devices/%s\n", in->cdev);
}

#define ROW_FMT "%-20s %-36s %-6s %-6s %-4s %12s %14s %10s %8s %8s\n"

void bridge_print_table_head(FILE *f)
{
	fprintf(f, ROW_FMT, "NAME", "UUID", "GROUP", "CDEV", "OPEN", "MMIO", "DMA-BYTES", "IRQS", "RESETS", "OPENS");
}

void bridge_print_table_row(FILE *f, const struct bridge_instance *in)
{
	char group[16], n[5][24];
	const uint64_t v[5] = { in->mmio, in->dma_bytes, in->irqs, in->resets, in->opens };

	if (in->group >= 0)
		snprintf(group, sizeof(group), "%d", in->group);
	else
		snprintf(group, sizeof(group), "-");
	for (int i = 0; i < 5; i++)
		snprintf(n[i], sizeof(n[i]), "%" PRIu64, v[i]);
	fprintf(f, ROW_FMT, in->name, in->uuid, group, in->cdev[0] ? in->cdev : "-", in->open ? "yes" : "no",
		n[0], n[1], n[2], n[3], n[4]);
}

void bridge_print_event(FILE *f, const struct bridge_event *ev, bool json)
{
	if (json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "event", json_object_new_string(bridge_event_name(ev->type)));
		json_object_object_add(o, "name", json_object_new_string(ev->name));
		json_object_object_add(o, "uuid", json_object_new_string(ev->uuid));
		fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		fprintf(f, "%s %s %s\n", bridge_event_name(ev->type), ev->name, ev->uuid);
	}
	fflush(f);
}
