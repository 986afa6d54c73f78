/* common.c: the serving subcommands' shared options (socket, fd, client timeout, log level) and their serve loop. */
#include "cli/common.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cli/commands.h"
#include "util/handover_state.h"
#include "util/log.h"
#include "util/notify.h"
#include "util/privsep.h"
#include "util/sandbox.h"

int cli_parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int cli_parse_size(const char *s, uint64_t min, uint64_t *out)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	const char *u;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		u = strchr(units, *end);
		if (!u || end[1])
			return -EINVAL;
		for (const char *k = units; k <= u; k++) {
			if (v > UINT64_MAX / 1024)
				return -EINVAL;
			v *= 1024;
		}
	}
	if (v < min)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A user or group given by name or number. */
static int parse_id(const char *arg, bool group, unsigned int *out)
{
	int n;

	if (cli_parse_int(arg, 0, 0x7fffffff, &n) == 0) {
		*out = (unsigned int)n;
		return 0;
	}
	if (group) {
		struct group *g = getgrnam(arg);

		if (!g)
			return -ENOENT;
		*out = g->gr_gid;
	} else {
		struct passwd *p = getpwnam(arg);

		if (!p)
			return -ENOENT;
		*out = p->pw_uid;
	}
	return 0;
}

static int add_id(const struct cli_serve *c, const char *opt, const char *arg, bool group, unsigned int *list,
		  unsigned int *n)
{
	if (*n == SERVER_MAX_ALLOWED_IDS) {
		fprintf(stderr, "%s: at most %d %s options\n", c->prog, SERVER_MAX_ALLOWED_IDS, opt);
		return -1;
	}
	if (parse_id(arg, group, &list[*n])) {
		fprintf(stderr, "%s: %s %s: no such %s\n", c->prog, opt, arg, group ? "group" : "user");
		return -1;
	}
	(*n)++;
	return 1;
}

void cli_serve_init(struct cli_serve *c, const char *prog)
{
	memset(c, 0, sizeof(*c));
	c->prog = prog;
	c->seccomp = true; /* confined by default: --no-seccomp turns it off */
	c->resume = (struct handover_resume){ .state_fd = -1, .exe_fd = -1, .notify_fd = -1 };
	server_options_init(&c->server);
}

int cli_serve_option(struct cli_serve *c, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_SOCKET_PATH:
		c->server.socket_path = arg;
		return 1;
	case CLI_OPT_FD:
		if (cli_parse_int(arg, 0, 65535, &c->server.listen_fd)) {
			fprintf(stderr, "%s: --fd needs a file descriptor number, not '%s'\n", c->prog, arg);
			return -1;
		}
		return 1;
	case CLI_OPT_CLIENT_TIMEOUT:
		if (cli_parse_int(arg, 1, 3600000, &c->server.send_timeout_ms)) {
			fprintf(stderr, "%s: --client-timeout needs milliseconds (1-3600000)\n", c->prog);
			return -1;
		}
		return 1;
	case CLI_OPT_POLL_US:
		if (cli_parse_int(arg, 0, 1000000, &c->server.poll_us)) {
			fprintf(stderr, "%s: --poll-us needs microseconds (0-1000000)\n", c->prog);
			return -1;
		}
		return 1;
	case CLI_OPT_DMA_LIMIT:
		if (cli_parse_size(arg, 4096, &c->server.max_dma_bytes)) {
			fprintf(stderr, "%s: --dma-limit needs a size of at least 4096 bytes, e.g. 64G (suffix K, M, G or T)\n",
				c->prog);
			return -1;
		}
		return 1;
	case CLI_OPT_NO_SECCOMP:
		c->seccomp = false;
		return 1;
	case CLI_OPT_LOG_LEVEL:
		if (log_parse_level(arg, &log_threshold)) {
			fprintf(stderr, "%s: unknown log level '%s'; use error, warn, info or debug\n", c->prog, arg);
			return -1;
		}
		return 1;
	case CLI_OPT_SOCKET_MODE: {
		char *end;
		long mode = strtol(arg, &end, 8);

		if (*end || end == arg || mode <= 0 || mode > 0777) {
			fprintf(stderr, "%s: --socket-mode needs octal permission bits such as 0660, not '%s'\n", c->prog,
				arg);
			return -1;
		}
		c->server.socket_mode = (mode_t)mode;
		return 1;
	}
	case CLI_OPT_SOCKET_GROUP: {
		unsigned int gid;

		if (parse_id(arg, true, &gid)) {
			fprintf(stderr, "%s: --socket-group %s: no such group\n", c->prog, arg);
			return -1;
		}
		c->server.socket_gid = gid;
		c->server.set_socket_gid = true;
		return 1;
	}
	case CLI_OPT_ALLOW_UID:
		return add_id(c, "--allow-uid", arg, false, c->server.allow_uid, &c->server.n_allow_uid);
	case CLI_OPT_ALLOW_GID:
		return add_id(c, "--allow-gid", arg, true, c->server.allow_gid, &c->server.n_allow_gid);
	case CLI_OPT_USER:
		c->user = arg;
		return 1;
	case CLI_OPT_SECCOMP:
		c->seccomp = true;
		return 1;
	case CLI_OPT_FD_STORE:
		c->server.fd_store = true;
		return 1;
	case CLI_OPT_RESUME_FD:
	case CLI_OPT_RESUME_EXE:
	case CLI_OPT_RESUME_NOTIFY: {
		int *fd = opt == CLI_OPT_RESUME_FD ? &c->resume.state_fd
			  : opt == CLI_OPT_RESUME_EXE ? &c->resume.exe_fd : &c->resume.notify_fd;

		if (cli_parse_int(arg, 3, 1 << 30, fd)) {
			fprintf(stderr, "%s: --resume-* needs a file descriptor number, not '%s'\n", c->prog, arg);
			return -1;
		}
		return 1;
	}
	case CLI_OPT_RESUME_FALLBACK:
		c->resume.fallback = true;
		return 1;
	default:
		return 0;
	}
}

int cli_serve_getopt(struct cli_serve *c, int argc, char **argv, const struct option *opts, cli_own_option_fn own,
		     void *ctx, void (*usage)(FILE *out))
{
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		ret = cli_serve_option(c, opt, optarg);
		if (ret < 0)
			return 2;
		if (ret > 0)
			continue;
		if (opt == CLI_OPT_HELP) {
			usage(stdout);
			return 0;
		}
		ret = own(ctx, opt, optarg);
		if (ret < 0)
			return 2;
		if (ret > 0) {
			usage(stderr);
			return 2;
		}
	}
	return -1;
}

int cli_serve_check(const struct cli_serve *c)
{
	if (!c->server.socket_path == (c->server.listen_fd < 0)) {
		fprintf(stderr, "%s: give exactly one of --socket-path PATH or --fd N\n", c->prog);
		return -1;
	}
	return 0;
}

void cli_serve_usage(FILE *out)
{
	fprintf(out,
		"  --socket-path PATH    create and listen on the UNIX socket PATH (removed at exit)\n"
		"  --fd N                listen on the inherited listening socket N instead\n"
		"  --client-timeout MS   drop a client that leaves our messages unread this long (default 5000)\n"
		"  --log-level LEVEL     error, warn, info or debug\n"
		"  --socket-mode MODE    permission bits of the created socket, e.g. 0660\n"
		"  --socket-group GROUP  group of the created socket\n"
		"  --allow-uid USER      only this user may connect (repeatable; checked with SO_PEERCRED)\n"
		"  --allow-gid GROUP     only members of this primary group may connect (repeatable)\n"
		"  --user USER           once the device is open and the socket listens, run as USER\n"
		"  --seccomp             then allow only the system calls the serving loop needs (the default)\n"
		"  --no-seccomp          serve without that filter (e.g. under a debugger or a sanitizer)\n"
		"  --dma-limit SIZE      the most client memory mapped for DMA at once (suffix K, M, G, T;\n"
		"                        default: the host's RAM); a DMA_MAP past it gets ENOMEM\n"
		"  --poll-us N           after each message, busy-poll the socket up to N us before sleeping: lower\n"
		"                        latency for a client on another CPU, for up to N us of CPU a message (0: off)\n"
		"  --fd-store            under systemd: keep the session's files and state in the unit's fd store\n"
		"                        (FileDescriptorStoreMax=), so that after a crash or SIGKILL the restarted\n"
		"                        proxy resumes the session\n"
		"  --help                this text\n");
}

/* Serves until a signal; the exit code. Shared by a fresh start and a hand-over's successor. */
static int serve(struct cli_serve *c, struct server *srv, struct device_backend *backend)
{
	int ret = server_run(srv);

	notify_supervisor("STOPPING=1\nSTATUS=stopping");
	if (ret)
		ret = server_device_retired(srv) ? CLI_EXIT_RETIRED : 1;
	server_destroy(srv);
	backend->ops->destroy(backend);
	privsep_stop();
	return ret;
}

int cli_serve_run(struct cli_serve *c, struct device_backend *backend)
{
	struct server *srv;
	int ret;

	/* No core dumps, and no same-uid process (the VMM) opening our fds through /proc/PID/fd. */
	prctl(PR_SET_DUMPABLE, 0);
	notify_init(); /* the supervisor's socket (NOTIFY_SOCKET), before confinement */
	/* What a hand-over (SIGHUP) needs later, while /proc may still be read: the binary, the command line. */
	if (handover_exec_prepare())
		log_warn("hand-over (SIGHUP) will not be possible");
	if (c->resume.state_fd >= 0)
		handover_refuse(&c->resume, "this command cannot take over a hand-over's state", -ENOTSUP);
	ret = server_create(&c->server, backend, &srv);
	if (ret) {
		backend->ops->destroy(backend);
		return 1;
	}
	/*
	 * Least privilege from here on: the device is open and the socket listens. What still needs the
	 * privileges (opening the device again, removing the socket from a directory only root may write,
	 * starting a hand-over's successor) goes to a helper forked now.
	 */
	if (c->user || c->seccomp) {
		ret = privsep_start(backend->reopen_path, c->user ? server_socket_path(srv) : NULL, c->server.fd_store);
		if (ret)
			log_error("cannot start the privileged helper: %s", strerror(-ret));
	}
	if (ret || (c->user && sandbox_drop_to_user(c->user, c->server.max_dma_bytes)) ||
	    (c->seccomp && sandbox_enter_seccomp(c->server.fd_store))) {
		server_destroy(srv);
		backend->ops->destroy(backend);
		privsep_stop();
		return 1;
	}
	notify_supervisor("READY=1\nMAINPID=%d\nSTATUS=serving", (int)getpid());
	return serve(c, srv, backend);
}

bool cli_serve_store_restart(const struct cli_serve *c)
{
	return c->server.fd_store && c->resume.state_fd < 0 && fdstore_restart_pending();
}

/* A refusal; a state from the fd store goes from there too, so that the next start is a fresh one. */
static void refuse(struct cli_serve *c, const struct ho_state *st, const char *why, int err)
	__attribute__((noreturn));
static void refuse(struct cli_serve *c, const struct ho_state *st, const char *why, int err)
{
	if (c->resume.state_fd < 0)
		fdstore_discard(st);
	handover_refuse(&c->resume, why, err);
}

int cli_serve_resume(struct cli_serve *c, cli_rebuild_fn rebuild, const char *reopen_path)
{
	static struct ho_state st;
	struct device_backend *backend;
	struct server *srv;
	int ret = 0;

	prctl(PR_SET_DUMPABLE, 0);
	notify_init(); /* also the upgrader waiting for this hand-over, if one does */
	if (handover_exec_prepare())
		log_warn("hand-over (SIGHUP) will not be possible");
	/*
	 * The privileges go before the state is read: no root process parses it. Nothing here needs them
	 * (every fd is inherited); the helper keeps what later needs them, as for a fresh start.
	 */
	if (c->user || c->seccomp)
		ret = privsep_start(reopen_path, c->user ? c->server.socket_path : NULL, c->server.fd_store);
	if (ret)
		refuse(c, &st, "cannot start the privileged helper", ret);
	if (c->user && (ret = sandbox_drop_to_user(c->user, c->server.max_dma_bytes)))
		refuse(c, &st, "cannot drop to --user", ret);
	if (c->resume.state_fd >= 0) {
		handover_load(&c->resume, &st);
	} else if (fdstore_recover(&st, c->server.store_fds) != 1) {
		/* (the store is empty now) */
		log_error("fd store: no session to resume; exiting, for a fresh start");
		privsep_abandon();
		return 1;
	}
	ret = rebuild(&st, &backend);
	if (ret)
		refuse(c, &st, "the device cannot be rebuilt from the state", ret);
	ret = server_resume(&c->server, backend, &st, &srv);
	if (ret)
		refuse(c, &st, "the server cannot be rebuilt from the state", ret);
	if (c->seccomp && (ret = sandbox_enter_seccomp(c->server.fd_store)))
		refuse(c, &st, "cannot install the seccomp filter", ret);
	/* From here on the state's fds are this process's own: no refusal any more. */
	handover_adopted(&c->resume, &st);
	ho_state_free(&st);
	handover_serving(&c->resume);
	return serve(c, srv, backend);
}
