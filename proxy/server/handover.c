/* handover.c: the server's side of a hand-over: its state (socket, session, read-ahead, DMA windows, backend) saved at a message boundary for the successor, and rebuilt there. */
#include "server/server_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/handover_exec.h"
#include "util/handover_state.h"
#include "util/log.h"

/*
 * When: SIGHUP is read in the event loop, between messages: every whole message read has been answered
 * (a reply is sent whole before the loop goes on), what is left in the receive buffer is the start of a
 * message not yet whole (carried over with its fds), the rest waits in the socket, which passes on.
 * Only DMA of our own can be mid-way (a DMA_READ/DMA_WRITE sent and not answered, or the device's
 * transfer waiting for one): the hand-over waits until the client has answered them all.
 */
bool server_handover_ready(struct server *srv)
{
	bool idle = !srv->have_client || dma_idle(&srv->session);

	if (!idle && !srv->handover_waiting_logged) {
		log_info("hand-over: waiting for the client to answer our outstanding DMA requests");
		srv->handover_waiting_logged = true;
	}
	return idle;
}

static int add_fd(struct ho_state *st, int fd, uint32_t *idx)
{
	*idx = ho_state_add_fd(st, fd);
	return *idx == HO_NONE ? -ENOMEM : 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* The windows in IOVA order; the windows of one file share its fd, listed once (sorted, then looked up). */
static int save_windows(struct session *s, struct ho_state *st)
{
	uint32_t n = dma_table_count(&s->windows), nfds = 0, first = st->nfds;
	int *fds = malloc((n ? n : 1) * sizeof(int));
	int ret = 0;

	if (!fds)
		return -ENOMEM;
	for (const struct dma_window *w = dma_table_next(&s->windows, NULL); w; w = dma_table_next(&s->windows, w))
		if (w->fd >= 0)
			fds[nfds++] = w->fd;
	qsort(fds, nfds, sizeof(int), cmp_int);
	uint32_t u = 0;

	for (uint32_t i = 0; i < nfds; i++)
		if (!u || fds[i] != fds[u - 1])
			fds[u++] = fds[i];
	nfds = u;
	for (uint32_t i = 0; i < nfds && !ret; i++) {
		uint32_t idx;

		ret = add_fd(st, fds[i], &idx);
	}
	for (const struct dma_window *w = dma_table_next(&s->windows, NULL); w && !ret;
	     w = dma_table_next(&s->windows, w)) {
		struct ho_window hw = { .iova = w->iova, .size = w->size, .offset = w->offset, .prot = w->prot,
					.fd = HO_NONE };

		if (w->fd >= 0) {
			int *at = bsearch(&w->fd, fds, nfds, sizeof(int), cmp_int);

			hw.fd = first + (uint32_t)(at - fds);
		}
		ret = ho_state_add_window(st, &hw);
	}
	free(fds);
	return ret;
}

static int save_session(struct server *srv, struct ho_state *st)
{
	struct session *s = &srv->session;
	struct ho_session *h = &st->session;
	uint32_t warned = 0;
	int ret;

	st->have_session = true;
	if ((ret = add_fd(st, s->fd, &h->fd)))
		return ret;
	h->versioned = s->versioned;
	h->major = s->caps.major;
	h->minor = s->caps.minor;
	h->max_msg_fds = s->caps.max_msg_fds;
	h->max_data_xfer_size = s->caps.max_data_xfer_size;
	h->pgsizes = s->caps.pgsizes;
	h->sent_json = s->caps.sent_json;
	if (!s->versioned) {
		/* not negotiated yet: what caps_parse_client would start from (the format wants usable values) */
		h->major = VFIO_USER_MAJOR;
		h->minor = 0;
		h->max_data_xfer_size = h->max_data_xfer_size ? h->max_data_xfer_size : VFIO_USER_DEF_MAX_DATA_XFER;
		h->pgsizes = h->pgsizes ? h->pgsizes : VFIO_USER_DEF_PGSIZES;
	}
	h->next_msg_id = s->next_msg_id;
	h->messages = s->messages;
	warned |= s->warned_windows ? HO_WARNED_WINDOWS : 0;
	warned |= s->warned_dma_busy ? HO_WARNED_DMA_BUSY : 0;
	warned |= s->warned_dma_bytes ? HO_WARNED_DMA_BYTES : 0;
	warned |= s->warned_window_fd ? HO_WARNED_WINDOW_FD : 0;
	h->warned = warned;
	h->rx_fds_msg = HO_NONE;
	if (s->peek)
		return save_windows(s, st); /* what was read is still in the socket: the successor reads it again */
	ret = ho_state_set_rx(st, srv->ctx.rx_buf + s->rx_start, s->rx_end - s->rx_start);
	if (ret)
		return ret;
	if (s->rx_fds_msg != SIZE_MAX) {
		h->rx_fds_msg = (uint32_t)(s->rx_fds_msg - s->rx_start);
		h->rx_fds_truncated = s->rx_fds_truncated;
		for (unsigned int i = 0; i < s->rx_nfds; i++) {
			if (s->rx_fds[i] < 0)
				continue;
			if ((ret = add_fd(st, s->rx_fds[i], &h->rx_fds[h->rx_nfds])))
				return ret;
			h->rx_nfds++;
		}
	}
	return save_windows(s, st);
}

int server_state_save(struct server *srv, struct ho_state *st)
{
	struct device_backend *b = srv->ctx.backend;
	struct ho_server *h = &st->server;
	int ret;

	if (!b->ops->handover_save)
		return -ENOTSUP;
	h->send_timeout_ms = srv->ctx.send_timeout_ms;
	h->poll_us = srv->ctx.poll_us;
	h->max_dma_bytes = srv->ctx.max_dma_bytes;
	h->clients = srv->clients;
	if ((ret = add_fd(st, srv->listen_fd, &h->listen_fd)))
		return ret;
	if (srv->socket_path) {
		if (strlen(srv->socket_path) >= sizeof(h->socket_path))
			return -ENAMETOOLONG;
		strcpy(h->socket_path, srv->socket_path);
	}
	if (srv->have_client && (ret = save_session(srv, st)))
		return ret;
	return b->ops->handover_save(b, st);
}

void server_handover(struct server *srv)
{
	struct ho_state st;
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	srv->handover_pending = false;
	srv->handover_waiting_logged = false;
	ho_state_init(&st);
	ret = server_state_save(srv, &st);
	if (!ret && srv->store.on)
		ret = fdstore_annotate(srv, &st, true); /* the successor keeps the store's names */
	if (ret == -EBUSY) {
		srv->handover_pending = true; /* the device's own DMA is in flight: next boundary */
		ho_state_free(&st);
		return;
	}
	if (!ret)
		ret = ho_encode(&st, &buf, &len);
	if (!ret) {
		log_info("hand-over: %u fds, %u DMA windows, %zu bytes of state, %s", st.nfds, st.nwindows, len,
			 srv->have_client ? "with the client's session" : "no client");
		/* Returns only when the successor did not take over. */
		ret = handover_exec(buf, len, st.fds, st.nfds, srv->sigfd);
	}
	if (ret == -ENOTSUP)
		log_warn("hand-over: %s cannot hand over its state; serving on", srv->ctx.backend->name);
	else
		log_warn("hand-over did not happen (%s); serving on", strerror(-ret));
	fdstore_republish(srv); /* a successor that refused may have put its own state memfds in our place */
	free(buf);
	ho_state_free(&st);
}

/* ---- the successor ---- */

static int state_fd(const struct ho_state *st, uint32_t idx)
{
	return idx == HO_NONE ? -1 : st->fds[idx];
}

int handover_restore_server(struct server *srv, const struct ho_state *st)
{
	const struct ho_server *h = &st->server;
	int fd = state_fd(st, h->listen_fd), ret = server_check_listen_fd(fd);

	if (ret) {
		log_error("hand-over: fd %d is not the listening socket", fd);
		return ret;
	}
	srv->listen_fd = fd;
	srv->ctx.send_timeout_ms = h->send_timeout_ms;
	srv->ctx.poll_us = h->poll_us;
	srv->ctx.max_dma_bytes = h->max_dma_bytes;
	srv->clients = (unsigned long)h->clients;
	if (h->socket_path[0]) {
		srv->socket_path = strdup(h->socket_path);
		if (!srv->socket_path)
			return -ENOMEM;
	}
	return 0;
}

static int check_client_fd(int fd)
{
	int type = 0, domain = 0, flags = fcntl(fd, F_GETFL);
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_STREAM)
		return -ENOTSOCK;
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) || domain != AF_UNIX)
		return -ENOTSOCK;
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK))
		return -errno;
	return 0;
}

int handover_restore_session(struct server *srv, const struct ho_state *st)
{
	const struct ho_session *h = &st->session;
	struct session *s = &srv->session;
	struct device_backend *b = srv->ctx.backend;
	int fd = state_fd(st, h->fd), ret;

	ret = check_client_fd(fd);
	if (ret) {
		log_error("hand-over: fd %d is not the client's connection", fd);
		return ret;
	}
	if (h->rx_len > SESSION_RX_SIZE - SESSION_READAHEAD) {
		log_error("hand-over: %u bytes of read-ahead do not fit the receive buffer", h->rx_len);
		return -EINVAL;
	}
	ret = session_start(s, &srv->ctx, fd);
	if (ret)
		return ret;
	s->versioned = h->versioned;
	s->caps = (struct client_caps){ .major = h->major, .minor = h->minor, .max_msg_fds = h->max_msg_fds,
					.max_data_xfer_size = h->max_data_xfer_size, .pgsizes = h->pgsizes,
					.sent_json = h->sent_json };
	s->next_msg_id = h->next_msg_id;
	s->messages = h->messages;
	s->warned_windows = h->warned & HO_WARNED_WINDOWS;
	s->warned_dma_busy = h->warned & HO_WARNED_DMA_BUSY;
	s->warned_dma_bytes = h->warned & HO_WARNED_DMA_BYTES;
	s->warned_window_fd = h->warned & HO_WARNED_WINDOW_FD;
	if (h->rx_len)
		memcpy(srv->ctx.rx_buf, h->rx, h->rx_len);
	s->rx_start = 0;
	s->rx_end = h->rx_len;
	for (uint32_t i = 0; i < h->rx_nfds; i++)
		s->rx_fds[i] = state_fd(st, h->rx_fds[i]);
	s->rx_nfds = h->rx_nfds;
	s->rx_fds_truncated = h->rx_fds_truncated;
	s->rx_fds_msg = h->rx_fds_msg == HO_NONE ? SIZE_MAX : h->rx_fds_msg;
	for (uint32_t i = 0; i < st->nwindows; i++) {
		const struct ho_window *hw = &st->windows[i];
		struct dma_window w = { .iova = hw->iova, .size = hw->size, .prot = hw->prot, .offset = hw->offset,
					.fd = state_fd(st, hw->fd) };

		if (dma_table_count(&s->windows) >= srv->ctx.caps.max_dma_maps)
			ret = -ENOSPC;
		else
			ret = dma_restore_window(s, &w);
		if (ret) {
			log_error("hand-over: DMA window %#llx+%#llx cannot be mapped again: %s",
				  (unsigned long long)w.iova, (unsigned long long)w.size, strerror(-ret));
			return ret;
		}
	}
	srv->have_client = true;
	epoll_ctl(srv->ctx.epfd, EPOLL_CTL_DEL, srv->listen_fd, NULL);
	ret = server_watch_client(srv);
	if (!ret && b->ops->resumed)
		ret = b->ops->resumed(b);
	if (ret)
		log_error("hand-over: the session cannot be watched again: %s", strerror(-ret));
	return ret;
}
