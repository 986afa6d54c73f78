/* server_priv.h: the server's own state, shared by the event loop (server.c) and the hand-over (handover.c). */
#ifndef SERVER_SERVER_PRIV_H
#define SERVER_SERVER_PRIV_H

#include <signal.h>
#include <stdbool.h>

#include "server/server.h"
#include "server/session.h"

/* One file kept in systemd's fd store: our fd of it, a duplicate that keeps it ours to compare, its name's id. */
struct fdstore_entry {
	int fd;
	int mirror;
	uint32_t id;
};

struct fdstore_journal;

struct fdstore {
	bool on;            /* --fd-store */
	bool broken;        /* a store operation failed (logged once): no more checkpoints */
	bool pending;       /* a checkpoint waits for the device's own DMA */
	int files[3];       /* the memfds the state is written to in turn (vup-state-0, -1), the journal */
	struct fdstore_journal *journal; /* files[2] mapped */
	uint64_t generation;
	uint32_t next_id;
	struct fdstore_entry *e;
	uint32_t n, cap;
};

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
	struct fdstore store;
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
/* The session's client is watched: in the epoll set, or read with blocking reads while the waker watches the rest. */
int server_watch_client(struct server *srv);
/* Hand-over (handover.c): after SIGHUP, at a message boundary. Returns only when it did not happen (the
 * reason logged); the server carries on. */
void server_handover(struct server *srv);
/* Whether a hand-over can happen now (no DMA of ours outstanding). */
bool server_handover_ready(struct server *srv);
/* The whole state as a hand-over passes it on (the fds still ours); -EBUSY while the device's own DMA is
 * in flight, -ENOTSUP for a backend that cannot be handed over. */
int server_state_save(struct server *srv, struct ho_state *st);

/* fdstore.c: systemd's fd store (--fd-store). st: a resumed state with its store ids, or NULL. */
int fdstore_open(struct server *srv, const struct ho_state *st);
/* The state rewritten and the store made to hold its files (files_changed: they may have). */
void fdstore_checkpoint(struct server *srv, bool files_changed);
/* The store made to hold st's files, and st given their ids (a hand-over's state). 0 or -errno. */
int fdstore_annotate(struct server *srv, struct ho_state *st, bool files_changed);
/* Our state memfds into the store again (a successor that refused took them out). */
void fdstore_republish(struct server *srv);
/* Before the session's end: every file but the listening socket out of the store, and out of systemd. */
void fdstore_forget_session(struct server *srv);
void fdstore_close(struct fdstore *fs);
/* What the session tells the store of each message (session.h). */
extern const struct session_store_ops fdstore_session_ops;

#endif /* SERVER_SERVER_PRIV_H */
