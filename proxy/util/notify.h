/* notify.h: telling the supervisor (systemd's NOTIFY_SOCKET) and a waiting `upgrade` how the proxy stands. */
#ifndef UTIL_NOTIFY_H
#define UTIL_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/*
 * The protocol is systemd's (sd_notify(3): newline-separated KEY=VALUE in one datagram), spoken over one
 * AF_UNIX datagram socket opened here before confinement: sending is a sendmsg, which the seccomp filter
 * already allows, so the filter needs nothing for it (see notify.c for why not libsystemd).
 *
 * The upgrader (`vfio-user-proxy upgrade`) listens on the abstract socket named after its own pid
 * (notify_upgrader_addr) and sends SIGHUP with sigqueue: the kernel gives the proxy its pid and the
 * value, a random cookie, which only the signalled process learns. Every message to it carries
 * COOKIE=<hex>; it trusts nothing else.
 */
#define NOTIFY_UPGRADER_ENV "VFIO_USER_PROXY_UPGRADER" /* "PID:COOKIE", for a hand-over's successor */

/* Before confinement: the socket, NOTIFY_SOCKET's address, an upgrader handed on in the environment
 * (taken out of it). Never fails the caller: without a socket, nothing is sent. */
void notify_init(void);
/* A message to NOTIFY_SOCKET, when set; a failure is logged once. */
void notify_supervisor(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Whether NOTIFY_SOCKET names a supervisor we can reach (notify_init found it). */
bool notify_supervisor_available(void);
/* Before confinement: a socket of the fd store's own, connected to the supervisor, whose sends wait for
 * room up to timeout_ms (a datagram socket's do not). 0 or -errno. */
int notify_supervisor_connect(int timeout_ms);
/* text, with fd unless it is -1 (the fd store's FDSTORE=1), to the supervisor over that socket; 0 or
 * -errno (-EAGAIN once the timeout passed). */
int notify_supervisor_send(const char *text, int fd);
/* BARRIER=1: returns once the supervisor has handled every message sent before (it closes the pipe
 * end sent with it), or after timeout_ms (-ETIMEDOUT). 0 or -errno. */
int notify_supervisor_barrier(int timeout_ms);
/* The upgrader of the hand-over under way (from a SIGHUP sent with sigqueue), or none (pid 0). */
void notify_set_upgrader(pid_t pid, uint32_t cookie);
bool notify_upgrader_get(pid_t *pid, uint32_t *cookie);
/* A message to the upgrader, when there is one, with COOKIE= added; a failure is logged once (debug when it
 * is gone). */
void notify_upgrader(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Puts the upgrader into the environment for an exec'd successor (or takes it out when there is none). */
void notify_upgrader_export(void);
/* The abstract address an upgrader of pid listens on. */
socklen_t notify_upgrader_addr(pid_t pid, struct sockaddr_un *sa);

#endif /* UTIL_NOTIFY_H */
