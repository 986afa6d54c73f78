/* server.h: the vfio-user server: a listening UNIX socket, one client at a time, an epoll loop. */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H

#include "backend/backend.h"

struct server_options {
	const char *socket_path; /* created (and removed at exit) unless listen_fd >= 0 */
	int listen_fd;           /* an inherited listening socket, or -1 */
	int send_timeout_ms;     /* how long a client may leave our messages unread */
};

struct server;

/* Reads the device's layout from the backend, opens the socket. Logs one line and returns a negative errno on failure. */
int server_create(const struct server_options *opts, struct device_backend *backend, struct server **out);
/* Serves clients until SIGTERM or SIGINT. 0 on a clean stop. */
int server_run(struct server *srv);
/* Ends any session, closes and removes the socket. The backend stays the caller's. */
void server_destroy(struct server *srv);

#endif /* SERVER_SERVER_H */
