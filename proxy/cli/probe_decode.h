/* probe_decode.h: decoding what a server returns (region capability chains, config space) into a probe_desc. */
#ifndef CLI_PROBE_DECODE_H
#define CLI_PROBE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "cli/probe_desc.h"

/*
 * Region index's capability chain, starting at cap_offset (counted from the start of the 32-byte region
 * info): the reply held caps_len bytes after the info, of which the first avail are in caps. Fills
 * d->regions[index].caps; the region's caps_flagged must be set.
 */
void probe_decode_region_caps(struct probe_desc *d, uint32_t index, uint32_t cap_offset, const uint8_t *caps,
			      size_t avail, size_t caps_len);

/* The size bytes of config space in cfg (at least the 64-byte header): fills d->config against d->regions. */
void probe_decode_config(struct probe_desc *d, const uint8_t *cfg, uint32_t size);

#endif /* CLI_PROBE_DECODE_H */
