/* probe_desc.c: a device description's memory: allocating it, adding warnings and areas, freeing it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/probe_desc.h"

#define PROBE_WARNING_MAX 256

struct probe_desc *probe_desc_new(const char *socket)
{
	struct probe_desc *d = calloc(1, sizeof(*d));

	if (d)
		d->socket = socket;
	return d;
}

void probe_desc_free(struct probe_desc *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nwarnings; i++)
		free(d->warnings[i]);
	free(d->warnings);
	free(d->areas);
	free(d);
}

/* array (n elements) with room for one more: it doubles when n reaches a power of two. NULL: out of memory. */
static void *room_for_one_more(void *array, size_t n, size_t elem)
{
	if (n & (n - 1))
		return array;
	return realloc(array, (n ? 2 * n : 1) * elem);
}

void probe_warn(struct probe_desc *d, const char *fmt, ...)
{
	char buf[PROBE_WARNING_MAX], **warnings, *copy;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	warnings = room_for_one_more(d->warnings, d->nwarnings, sizeof(*warnings));
	if (!warnings)
		return;
	d->warnings = warnings;
	copy = strdup(buf);
	if (copy)
		d->warnings[d->nwarnings++] = copy;
}

bool probe_add_area(struct probe_desc *d, uint64_t offset, uint64_t size)
{
	struct probe_area *areas = room_for_one_more(d->areas, d->nareas, sizeof(*areas));

	if (!areas)
		return false;
	d->areas = areas;
	d->areas[d->nareas++] = (struct probe_area){ .offset = offset, .size = size };
	return true;
}
