/* probe_print.h: printing a probe_desc, as lspci -vv-like text or as one JSON document (json-c). */
#ifndef CLI_PROBE_PRINT_H
#define CLI_PROBE_PRINT_H

#include <stdio.h>

#include <json-c/json.h>

#include "cli/probe_desc.h"

/* The description as text; one cut short prints up to where it stops, without the warnings. */
void probe_print_text(FILE *f, const struct probe_desc *d);

/* A complete description as a JSON object (the caller puts it), and printed pretty with a newline. */
struct json_object *probe_to_json(const struct probe_desc *d);
void probe_print_json(FILE *f, const struct probe_desc *d);

#endif /* CLI_PROBE_PRINT_H */
