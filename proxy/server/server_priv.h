/* server_priv.h: the server's own state, shared by the event loop (server.c) and the hand-over (handover.c). */
#ifndef SERVER_SERVER_PRIV_H
#define SERVER_SERVER_PRIV_H

#include <signal.h>
#include <stdbool.h>

#include "server/server.h"
#include "server/session.h"

struct server {
	struct server_ctx ctx;
	struct server_options opts;
	struct session session;
	bool have_client;
	bool retired; /* the backend refused the device to any later client: the server stopped for that */
	int listen_fd;
	char *socket_path; /* set when we created the socket and must remove it */
	int sigfd;
	sigset_t old_mask;
	bool signals_blocked;
	unsigned long clients;
	bool handover_pending; /* SIGHUP came while DMA of ours was outstanding: hand over once it is not */
	bool handover_waiting_logged;
};

/* epoll data: an fd of the server's own (signals, listening socket, client), a backend's watch, or the
 * backend's own event fd. */
#define EV_WATCH (1ull << 32)
#define EV_BACKEND (1ull << 33)

struct ho_state;
int server_check_listen_fd(int fd);
/* handover.c: the successor's rebuild, called by server_resume. 0 or -errno (logged). */
int handover_restore_server(struct server *srv, const struct ho_state *st);
int handover_restore_session(struct server *srv, const struct ho_state *st);
int server_epoll_set(struct server *srv, int op, int fd);
/* Hand-over (handover.c): after SIGHUP, at a message boundary. Returns only when it did not happen (the
 * reason logged); the server carries on. */
void server_handover(struct server *srv);
/* Whether a hand-over can happen now (no DMA of ours outstanding). */
bool server_handover_ready(struct server *srv);

#endif /* SERVER_SERVER_PRIV_H */
