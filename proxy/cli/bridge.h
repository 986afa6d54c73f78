/* bridge.h: `vfio-user-proxy bridge`'s pieces the unit tests reach: the parsed command line, the fault and event names, the text and JSON output of instances and events. */
#ifndef CLI_BRIDGE_H
#define CLI_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "cli/bridge_nl.h"

enum bridge_sub { BRIDGE_CREATE, BRIDGE_DESTROY, BRIDGE_LIST, BRIDGE_INJECT, BRIDGE_EVENTS };

struct bridge_args {
	enum bridge_sub sub;
	bool json;
	struct bridge_create_req create; /* create: uuid "" for a random one */
	const char *target;              /* destroy, inject: NAME or UUID */
	uint32_t fault, ms;              /* inject */
	long count;                      /* events: stop after so many (0: until a signal) */
};

/*
 * The arguments after "bridge" (argv[0] is "bridge"): -1 to go on with a filled, checked, else 0 (--help
 * printed on stdout) or 2 (a usage error, said in one line on stderr, then the synopsis).
 */
int bridge_parse_args(int argc, char **argv, struct bridge_args *a);
/* "dma-fail", "err-irq", "stall-reads", "surprise-removal": 0 with *fault set, or -EINVAL. */
int bridge_fault_parse(const char *s, uint32_t *fault);
const char *bridge_fault_name(uint32_t fault); /* NULL for an unknown one */
const char *bridge_event_name(uint32_t event); /* "created", ...; "unknown" */
/* A PCI ID, hex with or without 0x, 0 to 0xffff: 0 or -EINVAL. */
int bridge_parse_id(const char *s, int *out);

/* create's output: name, uuid, sysfs, group and cdev lines ("KEY VALUE"), or one JSON object. */
void bridge_print_created(FILE *f, const struct bridge_instance *in, bool json);
struct json_object *bridge_instance_json(const struct bridge_instance *in);
void bridge_print_table_head(FILE *f);
void bridge_print_table_row(FILE *f, const struct bridge_instance *in);
/* One line per event: "created NAME UUID", or a JSON object. */
void bridge_print_event(FILE *f, const struct bridge_event *ev, bool json);

#endif /* CLI_BRIDGE_H */
