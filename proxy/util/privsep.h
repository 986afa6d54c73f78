/* privsep.h: the privileged helper: a root process forked before the proxy drops its privileges, which opens one device node and removes one socket on the proxy's request. */
#ifndef UTIL_PRIVSEP_H
#define UTIL_PRIVSEP_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Forks the helper, now, while the proxy still has its privileges (before --user and seccomp). It
 * may do exactly three things: open open_path read-write (NULL: nothing), remove the socket at
 * unlink_path if it is still the one there now (NULL: nothing), and start a hand-over's successor with
 * the fds the proxy sends it for that (privsep_handover); it holds none of the proxy's other fds and
 * exits when the proxy does, removing that socket if the proxy could not ask (it died) unless
 * keep_on_death (--fd-store: the socket waits in systemd's store for the restart). 0 or -errno.
 */
int privsep_start(const char *open_path, const char *unlink_path, bool keep_on_death);
/* open(path, O_RDWR | O_CLOEXEC): through the helper when it was given path, else directly. fd or -errno. */
int privsep_open_node(const char *path);
/* unlink(path): through the helper when it was given path, else directly. 0 or -errno. */
int privsep_unlink(const char *path);
/* Whether the helper runs (a hand-over then goes through it). */
bool privsep_active(void);
/*
 * A hand-over through the helper (the serving process may not exec under seccomp): it receives the state
 * memfd and the fds, puts each under the number it has here, execs the successor and waits for its word.
 * 0: the successor serves (the caller exits; the helper is gone, the successor has its own); else -errno
 * (the successor refused, died or kept silent 30 s): the caller serves on, the helper still its own.
 * On success a stop signal waiting in sigfd (the caller's signalfd, or -1) is forwarded to the successor.
 */
int privsep_handover(int state_fd, const int32_t *fds, uint32_t nfds, int sigfd);
/* Ends the helper without its removing the socket (a refused successor's: the socket is not its own). */
void privsep_abandon(void);
/* Ends the helper: it exits once the pair closes. */
void privsep_stop(void);

#endif /* UTIL_PRIVSEP_H */
