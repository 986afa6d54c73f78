/* privsep.h: the privileged helper: a root process forked before the proxy drops its privileges, which opens one device node and removes one socket on the proxy's request. */
#ifndef UTIL_PRIVSEP_H
#define UTIL_PRIVSEP_H

/*
 * Forks the helper, now, while the proxy still has its privileges (before --user and seccomp). It
 * may do exactly two things: open open_path read-write (NULL: nothing) and remove the socket at
 * unlink_path if it is still the one there now (NULL: nothing); it holds none of the proxy's other fds and
 * exits when the proxy does, removing that socket if the proxy could not ask (it died). 0 or -errno.
 */
int privsep_start(const char *open_path, const char *unlink_path);
/* open(path, O_RDWR | O_CLOEXEC): through the helper when it was given path, else directly. fd or -errno. */
int privsep_open_node(const char *path);
/* unlink(path): through the helper when it was given path, else directly. 0 or -errno. */
int privsep_unlink(const char *path);
/* Ends the helper: it exits once the pair closes. */
void privsep_stop(void);

#endif /* UTIL_PRIVSEP_H */
