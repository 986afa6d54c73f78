/* sandbox.h: least privilege once set-up is done: drop to an unprivileged user, then a seccomp allowlist. */
#ifndef UTIL_SANDBOX_H
#define UTIL_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>

/* Sets RLIMIT_MEMLOCK to memlock bytes (what DMA pinning may take; finite), then becomes user (name or
 * uid) with its groups. Must run as root. Logs its failure; 0 or negative errno. */
int sandbox_drop_to_user(const char *user, uint64_t memlock);
/* Installs a seccomp filter on the calling thread (and the threads it starts later: the event loop's helper)
 * allowing only what the serving loop uses (with fd_store, what keeping systemd's fd store needs too);
 * anything else stops the process with one log line naming the system call. 0 or negative errno (logged). */
int sandbox_enter_seccomp(bool fd_store);

#endif /* UTIL_SANDBOX_H */
