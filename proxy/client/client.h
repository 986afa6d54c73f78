/* client.h: the vfio-user client library used by probe, the tests and the benchmarks. */
#ifndef VFIO_USER_CLIENT_H
#define VFIO_USER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfio-user.h"

/*
 * One connection to a vfio-user server. Calls are synchronous: a request is sent and its reply awaited;
 * while waiting, DMA_READ/DMA_WRITE requests from the server are served from the client's fd-less DMA
 * windows (vuc_dma_map_mem), so a device's DMA completes while the client polls a register.
 * Functions return 0 (or a non-negative count) on success and a negative errno on failure: the server's
 * error_no for an error reply, -EPIPE/-ECONNRESET when the server went away, -ETIMEDOUT, -EPROTO for a
 * malformed reply.
 */
struct vuc;

/* What the server said in its VERSION reply (defaults filled in where it left a key out). */
struct vuc_server_caps {
	uint16_t major;
	uint16_t minor;
	uint32_t max_msg_fds;
	uint32_t max_data_xfer_size;
	uint32_t max_dma_maps;
	uint64_t pgsizes;
	bool write_multiple;
	char json[VFIO_USER_MAX_VERSION_JSON]; /* the reply's JSON as received, NUL-terminated */
};

/* Connects to the UNIX socket at path (no handshake). */
int vuc_connect(const char *path, struct vuc **out);
/* Takes over an already connected socket (e.g. one end of a socketpair). */
int vuc_from_fd(int fd, struct vuc **out);
void vuc_close(struct vuc *c);
int vuc_socket_fd(const struct vuc *c);
/* Reply timeout for every request (default 5000 ms). */
void vuc_set_timeout(struct vuc *c, int timeout_ms);

/* VERSION with our default proposal (0.2, max_msg_fds 16, max_data_xfer_size 1 MiB). */
int vuc_negotiate(struct vuc *c, struct vuc_server_caps *caps);
/* VERSION with a chosen proposal: json NULL sends no JSON at all (as SPDK does). */
int vuc_negotiate_custom(struct vuc *c, uint16_t major, uint16_t minor, const char *json,
			 struct vuc_server_caps *caps);

int vuc_device_info(struct vuc *c, struct vfio_user_device_info *info);
/*
 * Region info with its capability chain: caps receives the bytes after the 32-byte struct (chain offsets
 * count from the struct's start, so the first capability is at offset 32 - 32 = 0 of caps). Retries with
 * a larger argsz when the server says the chain did not fit. *fd gets the region's mmap fd or -1
 * (the caller owns it). caps may be NULL (caps_cap 0); *caps_len the chain's length.
 */
int vuc_region_info(struct vuc *c, uint32_t index, struct vfio_user_region_info *info, void *caps,
		    size_t caps_cap, size_t *caps_len, int *fd);
int vuc_irq_info(struct vuc *c, uint32_t index, struct vfio_user_irq_info *info);

int vuc_region_read(struct vuc *c, uint32_t region, uint64_t offset, void *buf, uint32_t count);
/* posted: sent with the no-reply flag (returns once sent). */
int vuc_region_write(struct vuc *c, uint32_t region, uint64_t offset, const void *buf, uint32_t count,
		     bool posted);
/* REGION_WRITE_MULTI; returns the number of writes the server reports done. */
int vuc_region_write_multi(struct vuc *c, const struct vfio_user_write_one *wrs, uint32_t n);

/* Convenience accessors (little-endian values). */
int vuc_read32(struct vuc *c, uint32_t region, uint64_t offset, uint32_t *val);
int vuc_write32(struct vuc *c, uint32_t region, uint64_t offset, uint32_t val);
int vuc_read64(struct vuc *c, uint32_t region, uint64_t offset, uint64_t *val);
int vuc_write64(struct vuc *c, uint32_t region, uint64_t offset, uint64_t val);
int vuc_config_read(struct vuc *c, uint32_t offset, void *buf, uint32_t count);
int vuc_config_write(struct vuc *c, uint32_t offset, const void *buf, uint32_t count);

/* DMA_MAP of [iova, iova+size) backed by fd at offset (the server mmaps it). */
int vuc_dma_map_fd(struct vuc *c, uint64_t iova, uint64_t size, int fd, uint64_t offset, uint32_t prot);
/* DMA_MAP without an fd: the client serves the server's DMA_READ/DMA_WRITE from mem (size bytes). */
int vuc_dma_map_mem(struct vuc *c, uint64_t iova, uint64_t size, void *mem, uint32_t prot);
/* DMA_UNMAP of an exact earlier window; flags VFIO_USER_F_DMA_UNMAP_ALL with iova = size = 0 unmaps all. */
int vuc_dma_unmap(struct vuc *c, uint64_t iova, uint64_t size, uint32_t flags);

/*
 * SET_IRQS. flags: one VFIO_IRQ_SET_DATA_* and one VFIO_IRQ_SET_ACTION_*. DATA_EVENTFD: fds has count
 * entries (-1 de-assigns; sending count 0 fds de-assigns start..start+count as QEMU does is done with
 * fds == NULL); the fds stay the caller's. DATA_BOOL: bools has count entries. Arrays longer than the
 * server's max_msg_fds are split into several messages, as QEMU does.
 */
int vuc_set_irqs(struct vuc *c, uint32_t index, uint32_t flags, uint32_t start, uint32_t count,
		 const int *fds, const uint8_t *bools);
int vuc_reset(struct vuc *c);

/* Serve the server's DMA requests for up to timeout_ms (0: only what is already queued). */
int vuc_poll(struct vuc *c, int timeout_ms);
/* How many DMA_READ / DMA_WRITE requests this client has served. */
uint64_t vuc_dma_requests_served(const struct vuc *c);

/*
 * Raw access for tests of hostile input. vuc_send_raw sends bytes (and fds) as they are.
 * vuc_request_raw sends a command built from cmd/flags/payload with a fresh msg_id and waits for the
 * reply with that id: *hdr gets its header, reply (reply_cap bytes) its payload, *reply_len the payload
 * length, rfds/nrfds any fds it carried (caller closes). Returns 0, or -error_no of an error reply.
 */
int vuc_send_raw(struct vuc *c, const void *buf, size_t len, const int *fds, size_t nfds);
int vuc_request_raw(struct vuc *c, uint16_t cmd, uint32_t flags, const void *payload, size_t len,
		    const int *fds, size_t nfds, struct vfio_user_header *hdr, void *reply, size_t reply_cap,
		    size_t *reply_len, int *rfds, size_t *nrfds);
/* Waits until the server closes the connection (returns 0) or timeout_ms passes (-ETIMEDOUT). */
int vuc_wait_closed(struct vuc *c, int timeout_ms);

/* The server's capabilities from the last successful negotiation. */
const struct vuc_server_caps *vuc_caps(const struct vuc *c);

#endif /* VFIO_USER_CLIENT_H */
