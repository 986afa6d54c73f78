/* sandbox.h: least privilege once set-up is done: drop to an unprivileged user, then a seccomp allowlist. */
#ifndef UTIL_SANDBOX_H
#define UTIL_SANDBOX_H

/* Raises RLIMIT_MEMLOCK to unlimited (DMA pinning), then becomes user (name or uid) with its groups.
 * Must run as root. Logs its failure; 0 or negative errno. */
int sandbox_drop_to_user(const char *user);
/* Installs a seccomp filter allowing only what the serving loop uses; anything else stops the process
 * with one log line naming the system call. 0 or negative errno (logged). */
int sandbox_enter_seccomp(void);

#endif /* UTIL_SANDBOX_H */
