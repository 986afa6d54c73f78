/* client_priv.h: the client library's connection state and the helpers its files share (not installed). */
#ifndef VFIO_USER_CLIENT_PRIV_H
#define VFIO_USER_CLIENT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "client/client.h"

/* Our own limits, as advertised in vuc_negotiate. */
#define VUC_MAX_MSG_FDS 16u		     /* fds we accept in one message */
#define VUC_MAX_DATA_XFER (1u << 20)	     /* largest DMA transfer the server may ask of us */
#define VUC_MAX_DMA_MAPS 65535u
#define VUC_PGSIZES 4096u
#define VUC_MAX_REGION_INFO (64u * 1024) /* largest argsz we offer for region info */
#define VUC_STALE_IDS 8u		     /* msg_ids of timed-out requests whose late replies are dropped */
#define VUC_DEFAULT_TIMEOUT_MS 5000

/* An fd-less DMA window: the server's DMA_READ/DMA_WRITE to [iova, iova+size) are served from mem. */
struct vuc_window {
	uint64_t iova;
	uint64_t size;
	void *mem;
	uint32_t prot; /* VFIO_USER_F_DMA_REGION_READ | _WRITE */
};

struct vuc {
	int fd;
	int timeout_ms; /* < 0: wait forever */
	uint16_t next_id;
	bool broken; /* framing lost (partial message): every later call fails with -EPROTO */

	struct vuc_server_caps caps;
	size_t rx_limit; /* largest msg_size accepted from the server */

	uint8_t *rxbuf; /* payload of the last received message */
	size_t rxbuf_cap;

	struct vuc_window *windows;
	size_t nwindows;
	size_t windows_cap;
	uint64_t dma_served;

	uint16_t stale_ids[VUC_STALE_IDS];
	unsigned int nstale;
};

/* One received message; payload points into c->rxbuf and is valid until the next receive. */
struct vuc_msg {
	struct vfio_user_header hdr;
	uint8_t *payload;
	size_t len;
	int fds[VUC_MAX_MSG_FDS];
	size_t nfds;
};

/* client.c: framing and request/reply. */
int64_t vuc_now_ms(void);
int64_t vuc_deadline(int timeout_ms);
void vuc_msg_close_fds(struct vuc_msg *m);
void vuc_update_rx_limit(struct vuc *c);
/* Sends one message (header built here) with a single sendmsg in the usual case. */
int vuc_send_msg(struct vuc *c, uint16_t id, uint16_t cmd, uint32_t flags, uint32_t error_no,
		 const struct iovec *iov, int iovcnt, const int *fds, size_t nfds);
/*
 * Sends a command and waits for its reply, serving DMA requests meanwhile. Returns 0 with *reply filled
 * (an error reply included: the caller looks at hdr.flags and owns reply->fds) or a negative errno.
 */
int vuc_transact(struct vuc *c, uint16_t cmd, uint32_t flags, const struct iovec *iov, int iovcnt,
		 const int *fds, size_t nfds, struct vuc_msg *reply);
/* vuc_transact that turns an error reply into -error_no (closing its fds). */
int vuc_call(struct vuc *c, uint16_t cmd, const struct iovec *iov, int iovcnt, const int *fds, size_t nfds,
	     struct vuc_msg *reply);

/* client_dma.c: serving the server's DMA requests. */
int vuc_serve_dma(struct vuc *c, struct vuc_msg *m);

#endif /* VFIO_USER_CLIENT_PRIV_H */
