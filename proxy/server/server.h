/* server.h: the vfio-user server: a listening UNIX socket, one client at a time, an epoll loop. */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H

#include "backend/backend.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SERVER_MAX_ALLOWED_IDS 16

struct server_options {
	const char *socket_path; /* created (and removed at exit) unless listen_fd >= 0 */
	int listen_fd;           /* an inherited listening socket, or -1 */
	int send_timeout_ms;     /* how long a client may leave our messages unread */
	int poll_us;             /* busy-poll the client's socket this long after a message before sleeping; 0: off */
	uint64_t max_dma_bytes;  /* the most client memory mapped for DMA at once; default: the host's RAM */
	mode_t socket_mode;      /* permission bits for the created socket; 0 leaves the umask's */
	bool set_socket_gid;     /* give the created socket to socket_gid */
	gid_t socket_gid;
	/* Who may connect (SO_PEERCRED): when either list is non-empty, a peer must match one entry. */
	uid_t allow_uid[SERVER_MAX_ALLOWED_IDS];
	unsigned int n_allow_uid;
	gid_t allow_gid[SERVER_MAX_ALLOWED_IDS];
	unsigned int n_allow_gid;
	/* systemd's fd store: the session's files and state kept there, for a restart after a crash */
	bool fd_store;
	int store_fds[3]; /* a restart's state memfds and journal (fdstore_recover), else -1 */
};

/* Defaults: umask permissions, anyone who can reach the socket may connect, a 5 s client timeout, DMA
 * windows up to the host's RAM. */
void server_options_init(struct server_options *o);

struct server;

/* Reads the device's layout from the backend, opens the socket. Logs one line and returns a negative errno on failure. */
int server_create(const struct server_options *opts, struct device_backend *backend, struct server **out);
struct ho_state;
/*
 * The successor's side of a hand-over (handover.c): the server as the state says, on its inherited
 * listening socket, with its client's session, read-ahead and DMA windows (mapped again from their fds),
 * the backend already rebuilt from the same state. Logs why not and returns a negative errno, leaving
 * every fd of the state open and inheritable for a fallback.
 */
int server_resume(const struct server_options *opts, struct device_backend *backend, const struct ho_state *st,
		  struct server **out);
/*
 * A restart under systemd with --fd-store: 1 when the store holds a session to resume (st as a
 * hand-over's state, its fds the stored files; store_fds the two state memfds and the journal), 0 when
 * not (whatever the store held is closed and removed from it). A message the journal says was being
 * handled when the proxy died is answered again (its effect is in the state) or put back in front of
 * the read-ahead, to be handled again (it had none yet).
 */
int fdstore_recover(struct ho_state *st, int store_fds[3]);
/* Whether systemd passed files in (LISTEN_FDS): a restart with a store to look at. */
bool fdstore_restart_pending(void);
/* A state taken from the store that cannot be served: its files (and the state) out of the store. */
void fdstore_discard(const struct ho_state *st);
/* The socket the server created (and removes at exit), or NULL for an inherited one. */
const char *server_socket_path(const struct server *srv);
/*
 * Serves clients until SIGTERM or SIGINT (0), until the backend gives the device up (BACKEND_STOP: 0; the
 * device is being taken away, e.g. unbound from vfio-pci), or until the device may not be served any more
 * (negative errno). Any session is over by then, or ends in server_destroy.
 */
int server_run(struct server *srv);
/* After server_run: whether it stopped because the backend may not serve the device to another client (a
 * device without reset after its client, a departed client still holding the device). */
bool server_device_retired(const struct server *srv);
/* Ends any session, closes and removes the socket. The backend stays the caller's. */
void server_destroy(struct server *srv);

#endif /* SERVER_SERVER_H */
