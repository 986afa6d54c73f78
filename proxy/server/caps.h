/* caps.h: VERSION negotiation: the client's proposal parsed and checked, the server's reply built. */
#ifndef SERVER_CAPS_H
#define SERVER_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The agreed version and the client's own limits (spec defaults where it said nothing). */
struct client_caps {
	uint16_t major;
	uint16_t minor;
	uint32_t max_msg_fds;        /* fds the client accepts in one message from us */
	uint32_t max_data_xfer_size; /* largest DMA_READ/DMA_WRITE count we may send it */
	uint64_t pgsizes;
	bool sent_json;
};

/* The server's side of the handshake. */
struct server_caps {
	uint32_t max_msg_fds;
	uint32_t max_data_xfer_size;
	uint32_t max_dma_maps;
	uint64_t pgsizes;
	bool write_multiple;
};

/* Parses a VERSION payload: -EINVAL when malformed, -ENOTSUP for a major other than 0. */
int caps_parse_client(const void *payload, size_t len, struct client_caps *out);
/* Renders the server's JSON once (json-c); the string lives until caps_fini. 0 or -ENOMEM. */
int caps_init(const struct server_caps *sc);
void caps_fini(void);
/* The VERSION reply payload for an agreed version: returns its length, or -ENOSPC. */
ssize_t caps_build_reply(const struct client_caps *cc, void *buf, size_t cap);
/* The rendered server JSON (for logs and tests). */
const char *caps_server_json(void);

#endif /* SERVER_CAPS_H */
