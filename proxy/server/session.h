/* session.h: one client's state (framing, negotiated caps, DMA windows, outstanding DMA requests) and the server context it shares. */
#ifndef SERVER_SESSION_H
#define SERVER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backend/backend.h"
#include "server/caps.h"
#include "server/dma_fds.h"
#include "server/dma_table.h"
#include "server/waker.h"
#include "vfio-user.h"

#define SESSION_MAX_RX_FDS 32u    /* cmsg room; a message with more has the rest closed by the kernel */
#define SESSION_MAX_DMA_OPS 16u   /* device DMA transfers outstanding at once */
#define SESSION_MAX_DMA_MSGS 64u  /* DMA_READ/DMA_WRITE messages outstanding at once */
#define SESSION_BUF_SIZE (VFIO_USER_MAX_MSG_SIZE + 64u)
#define SESSION_READAHEAD 64u /* more than any read may take past the current message (ctx->read_span) */
#define SESSION_RX_SIZE (SESSION_BUF_SIZE + SESSION_READAHEAD)
#define SESSION_MAX_READS 64u /* reads per wake-up: then back to the event loop, which may have a signal */
#define SESSION_EXACT_PROBE 16u /* after an exact read, read on anyway once in this many wake-ups */

/* What the device looks like; read from the backend once, before the first client. */
struct device_layout {
	struct vfio_user_device_info info;
	uint32_t region_flags[BACKEND_MAX_REGIONS];
	uint64_t region_size[BACKEND_MAX_REGIONS];
	uint32_t irq_count[BACKEND_MAX_IRQS];
	uint32_t irq_flags[BACKEND_MAX_IRQS];
};

#define SERVER_MAX_WATCHES 8u /* fds a backend may have the event loop watch (INTx unmask eventfds) */

struct fd_watch {
	int fd; /* -1: free */
	backend_fd_fn fn;
	void *arg;
};

/* Shared by every session of one server. */
/*
 * What the fd store hears of each message: begin before its handler runs, changed when it changed the
 * state (files: the fds the session holds may have; reply, when one goes, is what it will say), before
 * that reply is sent; sending right before the reply's sendmsg; end once it has been.
 */
struct session_store_ops {
	void (*begin)(void *arg, const struct vfio_user_header *hdr);
	void (*changed)(void *arg, bool files, const struct vfio_user_header *reply, const void *payload, size_t len);
	void (*sending)(void *arg);
	void (*end)(void *arg);
};

struct server_ctx {
	struct device_backend *backend;
	struct device_layout layout;
	struct server_caps caps;
	uint64_t max_dma_bytes; /* the most client memory mapped for DMA at once (fd-backed windows) */
	int send_timeout_ms; /* the most one message of ours may take to leave, however the client reads it */
	int stop_fd;         /* readable when the proxy must stop (the signalfd): a send waiting for room gives up; -1: none */
	int poll_us;     /* busy-poll the client's socket this long before sleeping; 0: never */
	bool blocking;   /* the client is read with blocking reads, the waker watching the rest (server/waker.h) */
	bool yield;      /* blocking reads: back to the event loop after every read (a hand-over waits) */
	struct waker waker;
	size_t read_span; /* the smallest message that may carry fds: how far a read may reach (session.c) */
	uint8_t *rx_buf; /* SESSION_RX_SIZE, allocated once: messages are dispatched in place */
	uint8_t *tx_buf; /* SESSION_BUF_SIZE */
	int epfd;        /* the event loop, or -1 (no fd can be watched) */
	struct fd_watch watches[SERVER_MAX_WATCHES];
	const struct session_store_ops *store; /* optional: the fd store follows the session (server/fdstore.c) */
	bool peek; /* (with the store) messages stay in the socket until handled: read with MSG_PEEK, then consumed */
	void *store_arg;
};

enum dma_msg_state { DMA_MSG_FREE, DMA_MSG_ACTIVE, DMA_MSG_CANCELLED };

struct dma_msg {
	enum dma_msg_state state;
	uint16_t msg_id;
	uint16_t cmd;
	uint32_t op;   /* index in session.ops */
	uint32_t count;
	uint64_t addr;
	uint8_t *dst; /* where DMA_READ data goes */
};

struct dma_op {
	bool used;
	int status;
	uint32_t outstanding;
	backend_dma_done_fn done;
	void *arg;
};

struct session {
	struct server_ctx *ctx;
	int fd;
	bool versioned;
	bool drop; /* protocol violation: close after this message */
	struct client_caps caps;
	uint16_t next_msg_id;
	bool peek; /* ctx->peek: what is read stays in the socket until session_consume */
	uint64_t peeked, consumed, handled; /* peek mode: stream positions (bytes since the session began) */

	/* receive state: [rx_start, rx_end) of ctx->rx_buf is read and not yet dispatched */
	struct vfio_user_header rx_hdr; /* the header of the message being dispatched */
	size_t rx_start;
	size_t rx_end;
	int rx_fds[SESSION_MAX_RX_FDS];
	unsigned int rx_nfds;
	bool rx_fds_truncated;
	size_t rx_fds_msg; /* offset of the message rx_fds belong to, SIZE_MAX when none wait */

	struct dma_table windows;
	struct dma_fds window_fds; /* the files behind the windows, one fd each */
	struct dma_op ops[SESSION_MAX_DMA_OPS];
	struct dma_msg msgs[SESSION_MAX_DMA_MSGS];

	uint64_t messages;
	bool exact_waits;          /* after the last exact read the socket was empty (session_on_readable) */
	unsigned int exact_skips;
	uint64_t mapped_bytes; /* of the fd-backed windows: counted against ctx->max_dma_bytes */
	bool warned_windows; /* limits are logged once per client */
	bool warned_dma_busy;
	bool warned_dma_bytes;
	bool warned_window_fd;
};

/* A validated request as handlers see it. Handlers may take an fd by setting its slot to -1. */
struct request {
	const struct vfio_user_header *hdr;
	uint8_t *payload;
	size_t len;
	int *fds;
	unsigned int nfds;
};

/* A reply under construction: payload points into the send buffer, right after the header. */
struct reply {
	uint8_t *payload;
	size_t cap;
	size_t len;
	int fd; /* borrowed fd to pass, or -1 */
};

/* The shared context: reads the device's layout from the backend, allocates the buffers. Logs its failure. */
int server_ctx_init(struct server_ctx *ctx, struct device_backend *backend, int send_timeout_ms);
void server_ctx_fini(struct server_ctx *ctx);

/* Session life: start on an accepted socket, feed it readable events, end it. */
int session_start(struct session *s, struct server_ctx *ctx, int fd);
/* Reads and handles whatever the socket has. 0 to keep going, negative errno when the session must end. */
int session_on_readable(struct session *s);
/*
 * Ends the session: outstanding DMA fails, the device is quiesced, windows unmapped, fds closed, the
 * backend told the client is gone. Negative errno when the backend says the device may not be served to
 * another client (the departed one may still hold it), BACKEND_STOP when it is being taken away.
 */
int session_end(struct session *s);
/* Peek mode: the handled message of size bytes at the socket's head leaves it (its fds dropped). */
int session_consume(struct session *s, size_t size);

/* Sends one message (header + payload pieces) with one sendmsg; waits for room up to the timeout. */
#define SESSION_MAX_SEND_PARTS 3u
/* The same for a message whole in one buffer (msg_size bytes at msg): one iovec. */
int session_send_msg(struct session *s, const struct vfio_user_header *msg, int fd);
int session_sendv(struct session *s, const struct vfio_user_header *hdr, const struct iovec *parts,
		  unsigned int nparts, int fd);
int session_send(struct session *s, const struct vfio_user_header *hdr, const void *p1, size_t l1, const void *p2,
		 size_t l2, int fd);

/* dispatch.c */
/* The size of the smallest message the command table lets carry fds (header included). */
size_t dispatch_smallest_fd_message(void);
int dispatch_message(struct session *s, const struct vfio_user_header *hdr, uint8_t *payload, size_t len, int *fds,
		     unsigned int nfds, bool fds_truncated);

/* Handlers (handlers_*.c, dma.c). */
int handle_version(struct session *s, struct request *rq, struct reply *rp);
int handle_device_get_info(struct session *s, struct request *rq, struct reply *rp);
int handle_region_info(struct session *s, struct request *rq, struct reply *rp);
int handle_region_io_fds(struct session *s, struct request *rq, struct reply *rp);
int handle_irq_info(struct session *s, struct request *rq, struct reply *rp);
int handle_set_irqs(struct session *s, struct request *rq, struct reply *rp);
int handle_region_read(struct session *s, struct request *rq, struct reply *rp);
int handle_region_write(struct session *s, struct request *rq, struct reply *rp);
int handle_region_write_multi(struct session *s, struct request *rq, struct reply *rp);
int handle_device_reset(struct session *s, struct request *rq, struct reply *rp);
int handle_device_feature(struct session *s, struct request *rq, struct reply *rp);
int handle_mig_data(struct session *s, struct request *rq, struct reply *rp);
int handle_dma_map(struct session *s, struct request *rq, struct reply *rp);
int handle_dma_unmap(struct session *s, struct request *rq, struct reply *rp);

/* dma.c: the client's windows and the server-to-client DMA messages. */
int dma_session_init(struct session *s);
/* Outstanding device DMA fails (-ECONNRESET); replies still on their way match nothing any more. */
void dma_fail_pending(struct session *s);
/* Every window unmapped; the table freed. */
void dma_session_fini(struct session *s);
/* A reply from the client to one of our DMA_READ/DMA_WRITE requests. -EPROTO if it matches none. */
int dma_handle_reply(struct session *s, const struct vfio_user_header *hdr, const uint8_t *payload, size_t len);
/* Outstanding DMA completes with -ECANCELED (device reset); replies still on their way are dropped when they come. */
void dma_cancel_all(struct session *s);
/* Hand-over: a window as the predecessor had it (fd, no mapping yet) mapped again and inserted; the fd
 * is the window's from then on (not on failure). 0 or -errno. */
int dma_restore_window(struct session *s, const struct dma_window *w);
/* Whether no DMA_READ/DMA_WRITE of ours is outstanding (nor cancelled and unanswered). */
bool dma_idle(const struct session *s);
/* The backend_host_ops.dma implementation; host is the session. */
int dma_host_access(void *host, uint64_t iova, void *buf, size_t len, bool to_client, backend_dma_done_fn done,
		    void *arg);

#endif /* SERVER_SESSION_H */
