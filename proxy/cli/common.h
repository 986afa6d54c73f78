/* common.h: what the serving subcommands (emulate, export) share: the server's command-line options and serving a backend until a signal. */
#ifndef CLI_COMMON_H
#define CLI_COMMON_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "backend/backend.h"
#include "server/server.h"
#include "util/handover_exec.h"

/* getopt_long values of the shared options; a command numbers its own long-only options from CLI_OPT_CMD. */
enum cli_opt {
	CLI_OPT_HELP = 'h',
	CLI_OPT_SOCKET_PATH = 0x100,
	CLI_OPT_FD,
	CLI_OPT_CLIENT_TIMEOUT,
	CLI_OPT_LOG_LEVEL,
	CLI_OPT_SOCKET_MODE,
	CLI_OPT_SOCKET_GROUP,
	CLI_OPT_ALLOW_UID,
	CLI_OPT_ALLOW_GID,
	CLI_OPT_USER,
	CLI_OPT_SECCOMP,
	CLI_OPT_POLL_US,
	CLI_OPT_DMA_LIMIT,
	CLI_OPT_NO_SECCOMP,
	CLI_OPT_FD_STORE,
	/* internal, for a hand-over's successor (util/handover_exec.c); not in --help */
	CLI_OPT_RESUME_FD,
	CLI_OPT_RESUME_EXE,
	CLI_OPT_RESUME_NOTIFY,
	CLI_OPT_RESUME_FALLBACK,
	CLI_OPT_CMD = 0x200,
};

/* The shared entries of a serving command's getopt_long table; its own entries and the terminator follow. */
#define CLI_SERVE_OPTIONS                                                      \
	{ "help", no_argument, NULL, CLI_OPT_HELP },                           \
	{ "socket-path", required_argument, NULL, CLI_OPT_SOCKET_PATH },       \
	{ "fd", required_argument, NULL, CLI_OPT_FD },                         \
	{ "client-timeout", required_argument, NULL, CLI_OPT_CLIENT_TIMEOUT }, \
	{ "log-level", required_argument, NULL, CLI_OPT_LOG_LEVEL },           \
	{ "socket-mode", required_argument, NULL, CLI_OPT_SOCKET_MODE },       \
	{ "socket-group", required_argument, NULL, CLI_OPT_SOCKET_GROUP },     \
	{ "allow-uid", required_argument, NULL, CLI_OPT_ALLOW_UID },           \
	{ "allow-gid", required_argument, NULL, CLI_OPT_ALLOW_GID },           \
	{ "user", required_argument, NULL, CLI_OPT_USER },                     \
	{ "seccomp", no_argument, NULL, CLI_OPT_SECCOMP },                     \
	{ "poll-us", required_argument, NULL, CLI_OPT_POLL_US },               \
	{ "dma-limit", required_argument, NULL, CLI_OPT_DMA_LIMIT },           \
	{ "no-seccomp", no_argument, NULL, CLI_OPT_NO_SECCOMP },               \
	{ "fd-store", no_argument, NULL, CLI_OPT_FD_STORE },                   \
	{ "resume-fd", required_argument, NULL, CLI_OPT_RESUME_FD },           \
	{ "resume-exe", required_argument, NULL, CLI_OPT_RESUME_EXE },         \
	{ "resume-notify", required_argument, NULL, CLI_OPT_RESUME_NOTIFY },   \
	{ "resume-fallback", no_argument, NULL, CLI_OPT_RESUME_FALLBACK }

struct cli_serve {
	const char *prog; /* "vfio-user-proxy emulate": the prefix of every message */
	struct server_options server;
	const char *user; /* --user: drop to it once the device is open and the socket listens */
	bool seccomp;     /* then allow only the serving loop's system calls: the default; --no-seccomp clears it */
	struct handover_resume resume; /* --resume-*: this process is a hand-over's successor */
};

void cli_serve_init(struct cli_serve *c, const char *prog);
/*
 * One option getopt_long returned: 1 when it is a shared one (handled), 0 when it is the command's own
 * (--help included: the usage is the command's), -1 for a bad value (said on stderr; exit with 2).
 */
int cli_serve_option(struct cli_serve *c, int opt, const char *arg);
/* A command's own option for cli_serve_getopt: 0 handled, 1 not one of its own, -1 a bad value (said on stderr). */
typedef int (*cli_own_option_fn)(void *ctx, int opt, const char *arg);
/*
 * Parses a serving command's options with getopt_long (opts: CLI_SERVE_OPTIONS and the command's own):
 * the shared ones into c, --help printing usage on stdout, the rest through own(ctx, ...). Returns -1 when
 * the command goes on (optind at its first operand), else the exit code: 0 after --help, 2 for a usage
 * error (said on stderr).
 */
int cli_serve_getopt(struct cli_serve *c, int argc, char **argv, const struct option *opts, cli_own_option_fn own,
		     void *ctx, void (*usage)(FILE *out));
/* After the options: exactly one of --socket-path and --fd. 0, or -1 (said on stderr; exit with 2). */
int cli_serve_check(const struct cli_serve *c);
/* The shared options' lines, for a command's --help. */
void cli_serve_usage(FILE *out);
/* Serves backend to one client at a time until SIGTERM or SIGINT, then destroys it. Returns the exit code:
 * 0, 1 (a failure), CLI_EXIT_RETIRED. */
int cli_serve_run(struct cli_serve *c, struct device_backend *backend);

/* A command's backend rebuilt from a hand-over's state (e.g. emulated_backend_resume). */
typedef int (*cli_rebuild_fn)(const struct ho_state *st, struct device_backend **out);
/*
 * A hand-over's successor (--resume-fd): the helper started and --user taken first, then the state read
 * and checked, the backend and the server rebuilt from it, seccomp, and served as cli_serve_run does;
 * reopen_path is the device node the helper may open again for it (the backend's reopen_path). Any
 * failure before serving refuses the state (handover_refuse: the predecessor, or its image, serves on).
 */
int cli_serve_resume(struct cli_serve *c, cli_rebuild_fn rebuild, const char *reopen_path);
/* Whether this start is systemd's restart with --fd-store and files in the store: then cli_serve_resume
 * takes the session from there (or, with nothing valid there, empties the store and exits 1 for a fresh
 * start). */
bool cli_serve_store_restart(const struct cli_serve *c);
/* A byte count with an optional K, M, G or T suffix (powers of 1024), at least min: 0 or -EINVAL. */
int cli_parse_size(const char *s, uint64_t min, uint64_t *out);
/* A decimal int in [min, max]: 0 or -EINVAL. */
int cli_parse_int(const char *s, int min, int max, int *out);

#endif /* CLI_COMMON_H */
