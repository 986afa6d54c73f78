/* dispatch.c: the command table: every message is checked here (type, flags, size, fds, state) before its handler runs. */
#include "server/session.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

typedef int (*handler_fn)(struct session *s, struct request *rq, struct reply *rp);

/* What a command may change of the state a hand-over or the fd store carries. */
enum change {
	CH_NONE,
	CH_SESSION, /* the session's own (capabilities) */
	CH_FILES,   /* and the files it holds (windows, eventfds) */
	CH_DEVICE,  /* a device whose state is the proxy's (an emulated one), not the kernel's */
};

struct command_desc {
	size_t min_len;      /* smallest payload the handler may look at */
	unsigned int max_fds; /* fds the message may carry */
	handler_fn fn;
	enum change change;
};

static const struct command_desc commands[VFIO_USER_MAX_COMMAND] = {
	[VFIO_USER_VERSION] = { sizeof(struct vfio_user_version), 0, handle_version, CH_SESSION },
	[VFIO_USER_DMA_MAP] = { sizeof(struct vfio_user_dma_map), 1, handle_dma_map, CH_FILES },
	[VFIO_USER_DMA_UNMAP] = { sizeof(struct vfio_user_dma_unmap), 0, handle_dma_unmap, CH_FILES },
	[VFIO_USER_DEVICE_GET_INFO] = { sizeof(struct vfio_user_device_info), 0, handle_device_get_info, CH_NONE },
	[VFIO_USER_DEVICE_GET_REGION_INFO] = { sizeof(struct vfio_user_region_info), 0, handle_region_info, CH_NONE },
	[VFIO_USER_DEVICE_GET_REGION_IO_FDS] = { sizeof(struct vfio_user_region_io_fds_request), 0,
						 handle_region_io_fds, CH_NONE },
	[VFIO_USER_DEVICE_GET_IRQ_INFO] = { sizeof(struct vfio_user_irq_info), 0, handle_irq_info, CH_NONE },
	[VFIO_USER_DEVICE_SET_IRQS] = { sizeof(struct vfio_user_irq_set), VFIO_USER_SERVER_MAX_MSG_FDS,
					handle_set_irqs, CH_FILES },
	[VFIO_USER_REGION_READ] = { sizeof(struct vfio_user_region_access), 0, handle_region_read, CH_NONE },
	[VFIO_USER_REGION_WRITE] = { sizeof(struct vfio_user_region_access), 0, handle_region_write, CH_DEVICE },
	[VFIO_USER_DEVICE_RESET] = { 0, 0, handle_device_reset, CH_DEVICE },
	[VFIO_USER_REGION_WRITE_MULTI] = { sizeof(struct vfio_user_write_multi), 0, handle_region_write_multi, CH_DEVICE },
	[VFIO_USER_DEVICE_FEATURE] = { sizeof(struct vfio_user_device_feature), 0, handle_device_feature, CH_NONE },
	[VFIO_USER_MIG_DATA_READ] = { sizeof(struct vfio_user_mig_data), 0, handle_mig_data, CH_NONE },
	[VFIO_USER_MIG_DATA_WRITE] = { sizeof(struct vfio_user_mig_data), 0, handle_mig_data, CH_NONE },
};

size_t dispatch_smallest_fd_message(void)
{
	size_t min = SIZE_MAX;

	for (unsigned int i = 0; i < VFIO_USER_MAX_COMMAND; i++)
		if (commands[i].fn && commands[i].max_fds && commands[i].min_len < min)
			min = commands[i].min_len;
	return sizeof(struct vfio_user_header) + min;
}

static int check_command(const struct vfio_user_header *hdr, size_t len, unsigned int nfds, bool fds_truncated,
			 const struct command_desc **out)
{
	const struct command_desc *d;

	if (hdr->cmd >= VFIO_USER_MAX_COMMAND || !commands[hdr->cmd].fn)
		return hdr->cmd == VFIO_USER_DMA_READ || hdr->cmd == VFIO_USER_DMA_WRITE ? -EINVAL : -ENOSYS;
	d = &commands[hdr->cmd];
	if (hdr->flags & ~(VFIO_USER_F_TYPE_MASK | VFIO_USER_F_NO_REPLY))
		return -EINVAL;
	if (fds_truncated || nfds > d->max_fds)
		return -EINVAL;
	if (len < d->min_len)
		return -EINVAL;
	*out = d;
	return 0;
}

static void note_change(struct session *s, enum change c, const struct vfio_user_header *reply, const void *payload,
			size_t len)
{
	if (!s->ctx->store || c == CH_NONE || (c == CH_DEVICE && !s->ctx->backend->stateful))
		return;
	s->ctx->store->changed(s->ctx->store_arg, c == CH_FILES, reply, payload, len);
}

int dispatch_message(struct session *s, const struct vfio_user_header *hdr, uint8_t *payload, size_t len, int *fds,
		     unsigned int nfds, bool fds_truncated)
{
	uint32_t type = hdr->flags & VFIO_USER_F_TYPE_MASK;
	const struct command_desc *d = NULL;
	struct request rq = { .hdr = hdr, .payload = payload, .len = len, .fds = fds, .nfds = nfds };
	/* the reply is built whole in tx_buf, the header in front of the payload: one iovec to send */
	struct vfio_user_header *out = (struct vfio_user_header *)s->ctx->tx_buf;
	struct reply rp = { .payload = s->ctx->tx_buf + sizeof(*out), .cap = SESSION_BUF_SIZE - sizeof(*out), .len = 0,
			    .fd = -1 };
	bool no_reply;
	int ret;

	if (type == VFIO_USER_F_TYPE_REPLY) {
		if (nfds || fds_truncated) {
			log_warn("client attached file descriptors to a reply; disconnecting it");
			return -EPROTO;
		}
		ret = dma_handle_reply(s, hdr, payload, len);
		note_change(s, CH_DEVICE, NULL, NULL, 0); /* the device's transfer went on */
		if (s->peek && !ret)
			ret = session_consume(s, sizeof(*hdr) + len);
		return ret;
	}
	if (type != VFIO_USER_F_TYPE_COMMAND) {
		log_warn("client sent a message of unknown type %u; disconnecting it", type);
		return -EPROTO;
	}
	s->messages++;
	if (!s->versioned && hdr->cmd != VFIO_USER_VERSION) {
		log_warn("client sent %s (command %u) before VERSION; disconnecting it",
			 vfio_user_command_name(hdr->cmd), hdr->cmd);
		return -EPROTO;
	}

	if (s->ctx->store)
		s->ctx->store->begin(s->ctx->store_arg, hdr);
	ret = check_command(hdr, len, nfds, fds_truncated, &d);
	if (!ret)
		ret = d->fn(s, &rq, &rp);
	if (ret < 0)
		log_debug("%s (msg %u): %s", vfio_user_command_name(hdr->cmd), hdr->msg_id, strerror(-ret));

	out->msg_id = hdr->msg_id;
	out->cmd = hdr->cmd;
	out->error_no = 0;
	if (ret < 0) {
		out->flags = VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR;
		out->error_no = (uint32_t)-ret;
		out->msg_size = sizeof(*out);
		rp.len = 0;
		rp.fd = -1;
	} else {
		out->flags = VFIO_USER_F_TYPE_REPLY;
		out->msg_size = (uint32_t)(sizeof(*out) + rp.len);
	}
	no_reply = hdr->flags & VFIO_USER_F_NO_REPLY;
	/* before the reply: a restart never misses what the client was told, and can tell it again */
	if (d)
		note_change(s, d->change, no_reply ? NULL : out, rp.payload, rp.len);
	if (no_reply) {
		ret = s->peek ? session_consume(s, sizeof(*hdr) + len) : 0;
		if (s->ctx->store)
			s->ctx->store->end(s->ctx->store_arg);
		return ret;
	}
	if (s->ctx->store)
		s->ctx->store->sending(s->ctx->store_arg);
	ret = session_send_msg(s, out, rp.fd);
	if (ret)
		log_debug("reply to %s not sent: %s", vfio_user_command_name(hdr->cmd), strerror(-ret));
	/* answered: only now does the request leave the socket (a restart before would handle it again) */
	if (!ret && s->peek)
		ret = session_consume(s, sizeof(*hdr) + len);
	if (s->ctx->store)
		s->ctx->store->end(s->ctx->store_arg);
	return ret;
}
