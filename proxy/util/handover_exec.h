/* handover_exec.h: starting the successor of a hand-over (exec of the binary at our path, or through the privileged helper) and the successor's refusal, fallback and success. */
#ifndef UTIL_HANDOVER_EXEC_H
#define UTIL_HANDOVER_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ho_state;

/*
 * Before confinement: remembers the command line (/proc/self/cmdline, without any --resume-* option), the
 * binary's path (where a newer version may be installed by the time of a hand-over) and an fd of the
 * running image (the fallback, which outlives a replaced or deleted file). 0 or -errno (logged).
 */
int handover_exec_prepare(void);
/*
 * Hands the state (and the fds it lists, by number) to a successor: through the privileged helper when
 * one runs (privsep_handover: a new process; this one exits once the successor says it serves, passing
 * on a stop signal waiting in sigfd), else by
 * exec of the binary at our path in this very process (same pid). Returns only when the successor did
 * not take over (-errno): this process has lost nothing and carries on.
 */
int handover_exec(const uint8_t *state, size_t len, const int32_t *fds, uint32_t nfds, int sigfd);
/* What the last handover_exec returned (-errno; 0 when none ran since the last call), then forgets it. */
int handover_exec_result(void);
/* The path and argv a successor runs with: the remembered command line plus its resume options. */
const char *handover_self_path(void);
/* A NULL-terminated argv: the remembered one plus "--resume-fd" state_fd and, where >= 0, "--resume-exe"
 * exe_fd and "--resume-notify" notify_fd; fallback adds "--resume-fallback". Static storage. */
char *const *handover_argv(int state_fd, int exe_fd, int notify_fd, bool fallback);

/* The successor's side: what its command line said. */
struct handover_resume {
	int state_fd;  /* --resume-fd: the sealed state memfd; -1: not resuming */
	int exe_fd;    /* --resume-exe: the predecessor's image, run again if this binary refuses the state */
	int notify_fd; /* --resume-notify: where the helper waits for our answer (then the predecessor lives on) */
	bool fallback; /* --resume-fallback: this is that re-run; a refusal now ends the session */
};
/* Reads the state from its sealed memfd and decodes it; on any failure refuses (does not return). */
void handover_load(const struct handover_resume *r, struct ho_state *st);
/*
 * Refuses the state with one log line: tells the helper (the predecessor serves on), or runs the
 * predecessor's image with the same fds and --resume-fallback, or, as that fallback, exits 1.
 */
void handover_refuse(const struct handover_resume *r, const char *why, int err) __attribute__((noreturn));
/* The rebuild succeeded: the state's fds become close-on-exec, the state and the predecessor's image are
 * closed. Then (once confined) handover_serving tells the supervisor (MAINPID, READY), an upgrader, and
 * the helper, if one waits, in that order; as the fallback it tells them the hand-over did not happen. */
void handover_adopted(struct handover_resume *r, const struct ho_state *st);
void handover_serving(struct handover_resume *r);

#endif /* UTIL_HANDOVER_EXEC_H */
