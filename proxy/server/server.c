/* server.c: the listening socket and the event loop: accept a client, feed its messages to the session, clean up, accept the next. */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/server_priv.h"
#include "server/session.h"
#include "util/bounded_io.h"
#include "util/guarded_copy.h"
#include "util/handover_exec.h"
#include "util/handover_state.h"
#include "util/notify.h"
#include "util/privsep.h"
#include "util/log.h"

static int host_watch(void *host, int fd, backend_fd_fn fn, void *arg)
{
	struct session *s = host;
	struct server_ctx *ctx = s ? s->ctx : NULL;
	struct epoll_event ev = { .events = EPOLLIN };

	if (!ctx || ctx->epfd < 0)
		return -ENOSYS;
	for (uint32_t i = 0; i < SERVER_MAX_WATCHES; i++) {
		struct fd_watch *w = &ctx->watches[i];

		if (w->fd >= 0)
			continue;
		ev.data.u64 = EV_WATCH | i;
		if (epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, fd, &ev))
			return -errno;
		*w = (struct fd_watch){ .fd = fd, .fn = fn, .arg = arg };
		return 0;
	}
	return -ENOSPC;
}

static void host_unwatch(void *host, int fd)
{
	struct session *s = host;
	struct server_ctx *ctx = s ? s->ctx : NULL;

	for (uint32_t i = 0; ctx && i < SERVER_MAX_WATCHES; i++) {
		if (ctx->watches[i].fd == fd) {
			epoll_ctl(ctx->epfd, EPOLL_CTL_DEL, fd, NULL);
			ctx->watches[i].fd = -1;
		}
	}
}

static const struct backend_host_ops host_ops = {
	.dma = dma_host_access,
	.watch = host_watch,
	.unwatch = host_unwatch,
};

/* Reads what the device looks like, once: every message is checked against it. */
static int read_layout(struct device_backend *b, struct device_layout *l, uint8_t *scratch, size_t scratch_size)
{
	int ret = b->ops->device_info(b, &l->info);

	if (ret)
		return ret;
	if (l->info.num_regions > BACKEND_MAX_REGIONS || l->info.num_irqs > BACKEND_MAX_IRQS)
		return -E2BIG;
	for (uint32_t i = 0; i < l->info.num_regions; i++) {
		struct vfio_user_region_info info = { .index = i };
		size_t caps_len = 0;
		int fd = -1;

		ret = b->ops->region_info(b, &info, scratch, scratch_size, &caps_len, &fd);
		if (ret)
			return ret;
		l->region_flags[i] = info.flags;
		l->region_size[i] = info.size;
	}
	for (uint32_t i = 0; i < l->info.num_irqs; i++) {
		struct vfio_user_irq_info info = { .index = i };

		ret = b->ops->irq_info(b, &info);
		if (ret)
			return ret;
		l->irq_flags[i] = info.flags;
		l->irq_count[i] = info.count;
	}
	return 0;
}

/* Whether a live server answers on the socket at addr (a file left by a dead one refuses). */
static bool socket_alive(const struct sockaddr_un *addr)
{
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (probe < 0)
		return false;
	alive = connect(probe, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	close(probe);
	return alive;
}

static void log_create_error(const char *path, int ret)
{
	if (ret == -EACCES || ret == -EPERM)
		log_error("permission denied creating socket %s; choose a directory you may write to", path);
	else if (ret == -ENOENT || ret == -ENOTDIR)
		log_error("cannot create socket %s: its directory does not exist", path);
	else
		log_error("cannot create socket %s: %s", path, strerror(-ret));
}

/* Puts the listening socket at tmp in place at path, never over an existing file. */
static int publish(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* a filesystem without RENAME_NOREPLACE: link() refuses an existing name just the same */
	if (link(tmp, path))
		return -errno;
	unlink(tmp);
	return 0;
}

/*
 * The socket is bound, given its mode and group, and listening under a temporary name in the same
 * directory, then renamed into place: a client never finds the path before it accepts connections,
 * and never with the wrong permissions.
 */
static int open_socket(const struct server_options *o, char **created)
{
	const char *path = o->socket_path;
	struct sockaddr_un addr = { .sun_family = AF_UNIX }, tmp = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old_umask;
	int fd, ret, n;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("socket path %s is too long (at most %zu bytes); choose a shorter one", path,
			  sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	n = snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.%d.tmp", path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp.sun_path)) {
		log_error("socket path %s is too long to create safely (at most %zu bytes); choose a shorter one", path,
			  sizeof(addr.sun_path) - 16);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("%s exists and is not a socket; remove it or choose another path", path);
			return -EEXIST;
		}
		if (socket_alive(&addr)) {
			log_error("socket %s is in use by another server; stop it or choose another path", path);
			return -EADDRINUSE;
		}
		unlink(path); /* left behind by a server that died */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ret = -errno;
		log_error("cannot create a UNIX socket: %s", strerror(-ret));
		return ret;
	}
	unlink(tmp.sun_path);
	/* The socket is born with its mode (bind applies the umask): no chmod of a path that could be swapped. */
	old_umask = umask(0177);
	if (o->socket_mode)
		umask(~o->socket_mode & 0777);
	else
		umask(old_umask);
	ret = bind(fd, (struct sockaddr *)&tmp, sizeof(tmp)) ? -errno : 0;
	umask(old_umask);
	if (ret) {
		close(fd);
		log_create_error(path, ret);
		return ret;
	}
	if (o->set_socket_gid && fchownat(AT_FDCWD, tmp.sun_path, (uid_t)-1, o->socket_gid, AT_SYMLINK_NOFOLLOW)) {
		ret = -errno;
		log_error("cannot give socket %s to group %u: %s (run as root or as a member of that group)", path,
			  (unsigned int)o->socket_gid, strerror(-ret));
		goto fail;
	}
	if (listen(fd, 16)) {
		ret = -errno;
		log_error("cannot listen on %s: %s", path, strerror(-ret));
		goto fail;
	}
	ret = publish(tmp.sun_path, path);
	if (ret == -EEXIST) {
		log_error("socket %s was created by another server while this one started; stop it or choose another "
			  "path",
			  path);
		goto fail;
	}
	if (ret) {
		log_create_error(path, ret);
		goto fail;
	}
	*created = strdup(path);
	return fd;
fail:
	close(fd);
	unlink(tmp.sun_path);
	return ret;
}

static int check_listen_fd(int fd, bool cloexec)
{
	int accepting = 0, type = 0, flags;
	socklen_t len = sizeof(accepting);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) || !accepting) {
		log_error("--fd %d is not a listening socket; pass a bound, listening AF_UNIX stream socket", fd);
		return -ENOTSOCK;
	}
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_STREAM) {
		log_error("--fd %d is not a stream socket", fd);
		return -ENOTSOCK;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) || (cloexec && fcntl(fd, F_SETFD, FD_CLOEXEC)))
		return -errno;
	return 0;
}

int server_ctx_init(struct server_ctx *ctx, struct device_backend *backend, int send_timeout_ms)
{
	int ret;

	memset(ctx, 0, sizeof(*ctx));
	ctx->backend = backend;
	ctx->send_timeout_ms = send_timeout_ms > 0 ? send_timeout_ms : 5000;
	ctx->stop_fd = -1;
	ctx->epfd = -1;
	ctx->waker.ctl = -1;
	ctx->read_span = dispatch_smallest_fd_message();
	for (uint32_t i = 0; i < SERVER_MAX_WATCHES; i++)
		ctx->watches[i].fd = -1;
	ctx->caps = (struct server_caps){
		.max_msg_fds = VFIO_USER_SERVER_MAX_MSG_FDS,
		.max_data_xfer_size = VFIO_USER_SERVER_MAX_DATA_XFER,
		.max_dma_maps = VFIO_USER_DEF_MAX_DMA_MAPS,
		.pgsizes = backend->pgsizes ? backend->pgsizes : VFIO_USER_DEF_PGSIZES,
		.write_multiple = true,
	};
	ctx->rx_buf = malloc(SESSION_RX_SIZE);
	ctx->tx_buf = malloc(SESSION_BUF_SIZE);
	ret = -ENOMEM;
	if (!ctx->rx_buf || !ctx->tx_buf)
		goto fail;
	ret = caps_init(&ctx->caps);
	if (ret)
		goto fail;
	ret = guarded_copy_init();
	if (!ret)
		ret = bounded_io_init();
	if (ret)
		goto fail;
	backend->host_ops = &host_ops;
	backend->host = NULL;
	ret = read_layout(backend, &ctx->layout, ctx->tx_buf, SESSION_BUF_SIZE);
	if (ret) {
		log_error("device %s does not describe itself: %s", backend->name, strerror(-ret));
		goto fail;
	}
	return 0;
fail:
	server_ctx_fini(ctx);
	return ret;
}

void server_ctx_fini(struct server_ctx *ctx)
{
	caps_fini();
	free(ctx->rx_buf);
	free(ctx->tx_buf);
	ctx->rx_buf = NULL;
	ctx->tx_buf = NULL;
}

int server_epoll_set(struct server *srv, int op, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)fd };

	return epoll_ctl(srv->ctx.epfd, op, fd, &ev) ? -errno : 0;
}

int server_watch_client(struct server *srv)
{
	if (!srv->ctx.blocking)
		return server_epoll_set(srv, EPOLL_CTL_ADD, srv->session.fd);
	waker_arm(&srv->ctx.waker, true);
	return 0;
}

/* The backend's own event fd, polled for the server's whole life (not per session). -1 with errno set. */
static int watch_backend(struct server *srv)
{
	const struct device_backend *b = srv->ctx.backend;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_BACKEND };

	if (!b->ops->event || b->event_fd < 0)
		return 0;
	return epoll_ctl(srv->ctx.epfd, EPOLL_CTL_ADD, b->event_fd, &ev);
}

/*
 * Blocking reads of the client, with the waker watching the rest (waker.h), unless the server busy-polls
 * (the read loop then polls the socket itself). Set up here, before any confinement; its thread starts
 * in server_run, under the seccomp filter if there is one.
 */
static void init_waker(struct server *srv)
{
	int ret;

	if (srv->ctx.poll_us)
		return;
	ret = waker_init(&srv->ctx.waker, srv->ctx.epfd);
	if (ret)
		log_warn("cannot set up blocking reads of the client (%s); reading it after epoll instead",
			 strerror(-ret));
	srv->ctx.blocking = ret == 0;
}

/* A fresh server (st NULL), or the successor's side of a hand-over: the listening socket and the client's
 * session as the state says; their fds stay inheritable until the caller says the resume succeeded. */
static int create(const struct server_options *opts, struct device_backend *backend, const struct ho_state *st,
		  struct server **out)
{
	struct server *srv = calloc(1, sizeof(*srv));
	sigset_t mask;
	int ret;

	if (!srv)
		return -ENOMEM;
	srv->listen_fd = -1;
	srv->sigfd = -1;
	srv->ctx.epfd = -1;
	srv->ctx.waker.ctl = -1;
	srv->session.fd = -1;
	srv->opts = *opts;
	for (int i = 0; i < 3; i++)
		srv->store.files[i] = opts->fd_store ? opts->store_fds[i] : -1;
	/* SIGTERM and SIGINT wait in a signalfd from before the socket exists: one that arrives while we set
	 * up is served by the loop, and the socket is removed as on any stop. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP); /* the hand-over to a successor (handover.c) */
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &mask, &srv->old_mask)) {
		ret = -errno;
		goto fail;
	}
	srv->signals_blocked = true;
	srv->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (srv->sigfd < 0) {
		ret = -errno;
		log_error("cannot set up signal handling: %s", strerror(-ret));
		goto fail;
	}
	ret = server_ctx_init(&srv->ctx, backend, opts->send_timeout_ms);
	if (ret)
		goto fail;
	srv->ctx.poll_us = opts->poll_us;
	srv->ctx.peek = opts->fd_store;
	srv->ctx.max_dma_bytes = opts->max_dma_bytes;
	srv->ctx.stop_fd = srv->sigfd;
	if (st) {
		ret = handover_restore_server(srv, st);
		if (ret)
			goto fail_resume;
	} else if (opts->listen_fd >= 0) {
		ret = check_listen_fd(opts->listen_fd, true);
		if (ret)
			goto fail;
		srv->listen_fd = opts->listen_fd;
	} else {
		ret = open_socket(opts, &srv->socket_path);
		if (ret < 0)
			goto fail;
		srv->listen_fd = ret;
	}
	/* Everything the loop needs exists before it runs: it may be confined (seccomp) from then on. */
	srv->ctx.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv->ctx.epfd < 0 || server_epoll_set(srv, EPOLL_CTL_ADD, srv->sigfd) || server_epoll_set(srv, EPOLL_CTL_ADD, srv->listen_fd) ||
	    watch_backend(srv)) {
		ret = -errno;
		log_error("cannot set up the event loop: %s", strerror(-ret));
		if (st)
			goto fail_resume;
		goto fail;
	}
	init_waker(srv);
	if (st && st->have_session) {
		ret = handover_restore_session(srv, st);
		if (ret)
			goto fail_resume;
	}
	if (opts->fd_store) {
		ret = fdstore_open(srv, st);
		if (ret && st)
			goto fail_resume;
		if (ret)
			goto fail;
		srv->ctx.store = &fdstore_session_ops;
		srv->ctx.store_arg = srv;
		fdstore_checkpoint(srv, true);
	}
	*out = srv;
	return 0;
fail:
	server_destroy(srv);
	return ret;
fail_resume:
	/* Nothing of the state's closed: the caller hands it on to a fallback, or exits. */
	return ret ? ret : -EINVAL;
}

int server_create(const struct server_options *opts, struct device_backend *backend, struct server **out)
{
	return create(opts, backend, NULL, out);
}

int server_resume(const struct server_options *opts, struct device_backend *backend, const struct ho_state *st,
		  struct server **out)
{
	return create(opts, backend, st, out);
}

int server_check_listen_fd(int fd)
{
	return check_listen_fd(fd, false);
}


static const char *gone_why(int why)
{
	if (why == BACKEND_STOP)
		return "the device is being taken away";
	if (why == -ECONNRESET)
		return "disconnected";
	return why == -EINTR ? "the proxy is stopping" : strerror(-why);
}

/*
 * Ends the session. Negative errno when the device may not be served to another client, BACKEND_STOP when
 * it is being taken away: the server stops.
 */
static int end_client(struct server *srv, int why)
{
	struct session *s = &srv->session;
	int ret;

	if (srv->ctx.blocking)
		waker_arm(&srv->ctx.waker, false);
	else
		epoll_ctl(srv->ctx.epfd, EPOLL_CTL_DEL, s->fd, NULL);
	/* systemd lets the client's files and the device's go before the device is revoked */
	fdstore_forget_session(srv);
	ret = session_end(s);
	srv->have_client = false;
	srv->retired = ret < 0;
	fdstore_checkpoint(srv, true);
	if (ret) {
		log_info("client %lu gone (%s) after %llu messages", srv->clients, gone_why(why),
			 (unsigned long long)s->messages);
		return ret;
	}
	log_info("client %lu gone (%s) after %llu messages; device reset, waiting for the next", srv->clients,
		 gone_why(why), (unsigned long long)s->messages);
	server_epoll_set(srv, EPOLL_CTL_ADD, srv->listen_fd);
	return 0;
}

/* The backend's own event: when it gives the device up, any session ends (the client sees its socket close). */
static int backend_event(struct server *srv)
{
	struct device_backend *b = srv->ctx.backend;
	int ret = b->ops->event(b);

	if (ret != BACKEND_STOP || !srv->have_client)
		return ret; /* a failure leaves the session to server_destroy, as a signal does */
	ret = end_client(srv, BACKEND_STOP);
	return ret < 0 ? ret : BACKEND_STOP;
}

void server_options_init(struct server_options *o)
{
	memset(o, 0, sizeof(*o));
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	o->listen_fd = -1;
	o->store_fds[0] = o->store_fds[1] = o->store_fds[2] = -1;
	o->send_timeout_ms = 5000;
	o->max_dma_bytes = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

/* SO_PEERCRED against --allow-uid / --allow-gid, before any message is read. */
static bool peer_allowed(struct server *srv, int fd)
{
	const struct server_options *o = &srv->opts;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (!o->n_allow_uid && !o->n_allow_gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		log_warn("refused a client whose credentials cannot be read: %s", strerror(errno));
		return false;
	}
	for (unsigned int i = 0; i < o->n_allow_uid; i++)
		if (cred.uid == o->allow_uid[i])
			return true;
	for (unsigned int i = 0; i < o->n_allow_gid; i++)
		if (cred.gid == o->allow_gid[i])
			return true;
	log_warn("refused a client: pid %d uid %u gid %u is not allowed (--allow-uid/--allow-gid)", (int)cred.pid,
		 (unsigned int)cred.uid, (unsigned int)cred.gid);
	return false;
}

/* Accepts one client. Nonzero when the server must stop (see end_client). */
static int accept_client(struct server *srv)
{
	int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	int ret;

	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept failed: %s", strerror(errno));
		return 0;
	}
	if (!peer_allowed(srv, fd)) {
		close(fd);
		return 0;
	}
	ret = session_start(&srv->session, &srv->ctx, fd);
	if (ret) {
		log_error("cannot serve a client: %s", strerror(-ret));
		ret = session_end(&srv->session);
		srv->retired = ret < 0;
		return ret;
	}
	srv->clients++;
	srv->have_client = true;
	/* One client at a time: the next waits in the backlog until this one is gone. */
	epoll_ctl(srv->ctx.epfd, EPOLL_CTL_DEL, srv->listen_fd, NULL);
	ret = server_watch_client(srv);
	if (ret)
		return end_client(srv, ret);
	fdstore_checkpoint(srv, true);
	log_info("client %lu connected", srv->clients);
	return 0;
}

bool server_device_retired(const struct server *srv)
{
	return srv->retired;
}

const char *server_socket_path(const struct server *srv)
{
	return srv->socket_path;
}

/*
 * SIGHUP: a hand-over at the next message boundary. Sent with sigqueue (SI_QUEUE: `upgrade`), the
 * sender's pid and value (a cookie) name an upgrader waiting for the outcome; only a process allowed to
 * signal us (root or our uid) can send it. A plain kill names none.
 */
static void handover_asked(struct server *srv, const struct signalfd_siginfo *si)
{
	if (si->ssi_code == SI_QUEUE && si->ssi_pid > 0)
		notify_set_upgrader((pid_t)si->ssi_pid, (uint32_t)si->ssi_int);
	if (!srv->handover_pending)
		notify_supervisor("RELOADING=1\nSTATUS=handing over to a successor");
	srv->handover_pending = true;
}

/* The hand-over did not happen (err: handover_exec's, 0 when it was not reached): we serve on. */
static void handover_failed(struct server *srv, int err)
{
	char why[160];

	if (!srv->ctx.backend->ops->handover_save) {
		err = -ENOTSUP;
		snprintf(why, sizeof(why), "%s cannot hand over its state", srv->ctx.backend->name);
	} else if (!err) {
		err = -EIO;
		snprintf(why, sizeof(why), "the state could not be saved");
	} else {
		snprintf(why, sizeof(why), "the successor did not take over (%s)", strerror(-err));
	}
	notify_supervisor("READY=1\nSTATUS=serving; the hand-over did not happen: %s", why);
	notify_upgrader("ERRNO=%d\nSTATUS=%s; pid %d serves on", -err, why, (int)getpid());
	notify_set_upgrader(0, 0);
}

int server_run(struct server *srv)
{
	struct epoll_event events[4];
	int ret = 0;

	log_info("serving %s on %s", srv->ctx.backend->name, srv->socket_path ? srv->socket_path : "the inherited socket");
	if (srv->ctx.blocking && !srv->ctx.waker.started) {
		ret = waker_start(&srv->ctx.waker);
		if (ret) {
			log_error("cannot start the event loop's helper thread: %s", strerror(-ret));
			return ret;
		}
	} else if (srv->ctx.blocking) {
		waker_serve_here(&srv->ctx.waker);
	}

	for (;;) {
		bool woken = false;
		int n;

		/* Between events the session stands at a message boundary: the place for a hand-over. */
		if (srv->handover_pending && server_handover_ready(srv)) {
			handover_exec_result();
			server_handover(srv); /* returns only when it did not happen (or must wait) */
			if (!srv->handover_pending)
				handover_failed(srv, handover_exec_result());
		}
		srv->ctx.yield = srv->handover_pending;
		if (srv->have_client && srv->ctx.blocking) {
			/* the client is read until the waker says other events wait (or a hand-over wants a turn) */
			if (!waker_pending(&srv->ctx.waker)) {
				ret = session_on_readable(&srv->session);
				if (ret && (ret = end_client(srv, ret)))
					return ret > 0 ? 0 : ret;
				continue;
			}
			woken = true;
		}
		n = epoll_wait(srv->ctx.epfd, events, 4, woken ? 0 : -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			log_error("event loop failed: %s", strerror(-ret));
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = events[i].data.u64;
			int fd = (int)tag;

			if (tag == EV_BACKEND) {
				ret = backend_event(srv);
				if (ret)
					return ret > 0 ? 0 : ret;
			} else if (tag & EV_WATCH) {
				struct fd_watch *w = &srv->ctx.watches[tag & ~EV_WATCH];

				if (srv->have_client && w->fd >= 0) {
					w->fn(w->arg);
					fdstore_checkpoint(srv, false);
				}
			} else if (fd == srv->sigfd) {
				struct signalfd_siginfo si;

				if (read(srv->sigfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP) {
						handover_asked(srv, &si);
						continue;
					}
					log_info("signal %u: shutting down", si.ssi_signo);
					return 0;
				}
			} else if (fd == srv->listen_fd) {
				if (!srv->have_client) {
					ret = accept_client(srv);
					if (ret)
						return ret > 0 ? 0 : ret;
				}
			} else if (srv->have_client && !srv->ctx.blocking && fd == srv->session.fd) {
				ret = session_on_readable(&srv->session);
				if (ret) {
					ret = end_client(srv, ret);
					if (ret)
						return ret > 0 ? 0 : ret;
				}
			}
		}
		if (woken)
			waker_handled(&srv->ctx.waker); /* handled: what comes next makes the helper wake us again */
	}
	return ret;
}

void server_destroy(struct server *srv)
{
	if (!srv)
		return;
	if (srv->have_client)
		session_end(&srv->session);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->socket_path) {
		/* after --user the directory may be root's: the privileged helper removes it then */
		int ret = privsep_unlink(srv->socket_path);

		if (ret && ret != -ENOENT)
			log_warn("cannot remove socket %s: %s", srv->socket_path, strerror(-ret));
		free(srv->socket_path);
	}
	waker_stop(&srv->ctx.waker);
	if (srv->ctx.epfd >= 0)
		close(srv->ctx.epfd);
	srv->ctx.epfd = -1;
	fdstore_close(&srv->store);
	if (srv->sigfd >= 0)
		close(srv->sigfd);
	if (srv->signals_blocked)
		sigprocmask(SIG_SETMASK, &srv->old_mask, NULL);
	server_ctx_fini(&srv->ctx);
	free(srv);
}
