/* handover_exec.c: the successor of a hand-over: started by exec (same pid) or by the privileged helper (seccomp), and its refusal, fallback and success. */
#include "util/handover_exec.h"

/*
 * Design.
 * - The state travels in a sealed memfd (F_SEAL_SHRINK | GROW | WRITE | SEAL), whose number is given by
 *   --resume-fd N; every fd the state lists is inherited under the number the state gives (FD_CLOEXEC
 *   cleared for exactly those, and for the state and the fallback image), nothing else survives exec.
 * - Without the privileged helper (no --seccomp, no --user) the proxy execs the binary at its path in
 *   place: same pid, nothing reset or unmapped. The new binary may be another version. If it refuses
 *   the state (a version or record it does not understand, a corrupt state, an fd that is not what the
 *   state says, a rebuild that fails) it logs one line and, as there is no old process left, runs the
 *   old image again (fexecve of --resume-exe M, an fd of the running image opened at start, which
 *   outlives a replaced or deleted file) with --resume-fallback; that image understands its own state.
 *   A fallback that refuses too exits 1: then, and only then, the client sees its socket close.
 * - With --seccomp (the default) exec is impossible in the serving process: the filter would stay on
 *   the new image, whose loader alone needs calls the filter refuses, and the filter stays as tight as
 *   it is. So the privileged helper forked before confinement starts the successor (util/privsep.c):
 *   it receives the state and the fds over its socket, puts each under its number, execs the binary at
 *   our path with --resume-notify C, and waits for the successor's word: "serving" and the old process
 *   exits 0 (the successor has a new pid, its own helper and its own confinement; a SIGTERM or SIGINT
 *   that reached the old process meanwhile is passed on to it), anything else (a refusal, death, 30 s of
 *   silence) and the old process serves on with its helper, having lost nothing. The successor starts
 *   its helper and drops to --user before it reads the state (cli_serve_resume): no root process
 *   parses it.
 * - The contract between versions is only this: the options --resume-fd, --resume-exe, --resume-notify,
 *   --resume-fallback; the state's header (magic, version); on refusal, the fallback or the word; and,
 *   optional (a binary that does not know it ignores it), the environment variable
 *   VFIO_USER_PROXY_UPGRADER=PID:COOKIE naming an `upgrade` that waits for the outcome (util/notify.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/bounded_io.h"
#include "util/handover_state.h"
#include "util/log.h"
#include "util/notify.h"
#include "util/privsep.h"

#define HO_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)
#define HO_MAX_STATE (64u << 20)
#define MAX_ARGS 256

extern char **environ;

static char self_path[4096];
static int self_fd = -1;
static char *cmdline;      /* the remembered command line, NUL-separated */
static char *args[MAX_ARGS + 12];
static int nargs;
static char numbuf[4][16];
static int exec_result; /* the last handover_exec's: 0 none since handover_exec_result */

static bool resume_option(const char *a, bool *has_value)
{
	*has_value = strcmp(a, "--resume-fd") == 0 || strcmp(a, "--resume-exe") == 0 ||
		     strcmp(a, "--resume-notify") == 0;
	return *has_value || strcmp(a, "--resume-fallback") == 0;
}

int handover_exec_prepare(void)
{
	char buf[65536];
	ssize_t n;
	int fd;

	n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (n <= 0)
		goto fail;
	self_path[n] = '\0';
	if (n > 10 && strcmp(self_path + n - 10, " (deleted)") == 0)
		self_path[n - 10] = '\0'; /* the path a newer version is installed at */
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || n == (ssize_t)sizeof(buf) - 1)
		goto fail;
	buf[n] = '\0';
	free(cmdline);
	cmdline = malloc((size_t)n + 1);
	if (!cmdline)
		return -ENOMEM;
	memcpy(cmdline, buf, (size_t)n + 1);
	nargs = 0;
	for (char *p = cmdline; p < cmdline + n && nargs < MAX_ARGS; p += strlen(p) + 1) {
		bool has_value;

		if (resume_option(p, &has_value)) {
			if (has_value && p + strlen(p) + 1 < cmdline + n)
				p += strlen(p) + 1;
			continue;
		}
		args[nargs++] = p;
	}
	if (self_fd < 0)
		self_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (self_fd < 0)
		goto fail;
	return 0;
fail:
	log_error("hand-over: cannot find this binary or its command line: %s", strerror(errno ? errno : EIO));
	return errno ? -errno : -EIO;
}

const char *handover_self_path(void)
{
	return self_path;
}

static void push_num(int *n, const char *opt, int v, int slot)
{
	snprintf(numbuf[slot], sizeof(numbuf[slot]), "%d", v);
	args[(*n)++] = (char *)opt;
	args[(*n)++] = numbuf[slot];
}

char *const *handover_argv(int state_fd, int exe_fd, int notify_fd, bool fallback)
{
	int n = nargs;

	push_num(&n, "--resume-fd", state_fd, 0);
	if (exe_fd >= 0)
		push_num(&n, "--resume-exe", exe_fd, 1);
	if (notify_fd >= 0)
		push_num(&n, "--resume-notify", notify_fd, 2);
	if (fallback)
		args[n++] = "--resume-fallback";
	args[n] = NULL;
	return args;
}

static int set_cloexec(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0)
		return -errno;
	flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
	return fcntl(fd, F_SETFD, flags) ? -errno : 0;
}

/* The state in a sealed memfd: what the successor reads cannot change under it. */
static int state_memfd(const uint8_t *state, size_t len)
{
	int fd = memfd_create("vfio-user-proxy-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, state + done, len - done);

		if (n <= 0) {
			int ret = n < 0 ? -errno : -EIO;

			close(fd);
			return ret;
		}
		done += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, HO_SEALS)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

int handover_exec_result(void)
{
	int ret = exec_result;

	exec_result = 0;
	return ret;
}

static int do_exec(const uint8_t *state, size_t len, const int32_t *fds, uint32_t nfds, int sigfd);

int handover_exec(const uint8_t *state, size_t len, const int32_t *fds, uint32_t nfds, int sigfd)
{
	exec_result = do_exec(state, len, fds, nfds, sigfd);
	return exec_result;
}

static int do_exec(const uint8_t *state, size_t len, const int32_t *fds, uint32_t nfds, int sigfd)
{
	int sfd, ret = 0;

	if (!cmdline)
		return -ENOEXEC;
	sfd = state_memfd(state, len);
	if (sfd < 0)
		return sfd;
	if (privsep_active()) {
		ret = privsep_handover(sfd, fds, nfds, sigfd);
		close(sfd);
		if (!ret) {
			log_info("hand-over: the successor serves; pid %d exits", (int)getpid());
			_exit(0);
		}
		return ret;
	}
	for (uint32_t i = 0; i < nfds && !ret; i++)
		ret = set_cloexec(fds[i], false);
	if (!ret)
		ret = set_cloexec(sfd, false);
	if (!ret)
		ret = set_cloexec(self_fd, false);
	if (!ret) {
		char *const *argv = handover_argv(sfd, self_fd, -1, false);

		log_info("hand-over: exec %s", self_path);
		notify_upgrader_export(); /* the successor answers the upgrader, if one waits */
		bounded_io_stop(); /* a tick after exec would kill the successor before it handles SIGALRM */
		execve(self_path, argv, environ);
		ret = -errno;
		log_warn("hand-over: cannot exec %s: %s; running this image again", self_path, strerror(-ret));
		fexecve(self_fd, argv, environ);
		ret = -errno;
	}
	/* Still here: every fd is ours again. */
	for (uint32_t i = 0; i < nfds; i++)
		set_cloexec(fds[i], true);
	set_cloexec(self_fd, true);
	unsetenv(NOTIFY_UPGRADER_ENV);
	close(sfd);
	return ret;
}

/* ---- the successor ---- */

void handover_refuse(const struct handover_resume *r, const char *why, int err)
{
	log_error("hand-over refused: %s", why);
	/* the reason, for an upgrader; its answer (who serves on) comes from the predecessor or the fallback */
	notify_upgrader("HANDOVER_REFUSED=1\nERRNO=%d\nSTATUS=the successor (pid %d) refused the state: %s", err < 0 ? -err : EINVAL,
			(int)getpid(), why);
	privsep_abandon(); /* a helper of ours (none yet, or --user's) must leave the socket where it is */
	if (r->notify_fd >= 0) {
		int word = err < 0 ? err : -EINVAL;
		ssize_t ignored = write(r->notify_fd, &word, sizeof(word));

		(void)ignored;
		_exit(1); /* the predecessor serves on */
	}
	if (r->exe_fd >= 0 && !r->fallback && handover_exec_prepare() == 0) {
		/* No old process any more: the old image takes its own state back (its fds never moved). */
		log_warn("hand-over: running the previous binary again with the same state");
		notify_upgrader_export();
		fexecve(r->exe_fd, handover_argv(r->state_fd, r->exe_fd, -1, true), environ);
		log_error("hand-over: cannot run the previous binary again: %s; the client is lost", strerror(errno));
	} else if (r->fallback) {
		log_error("hand-over: the previous binary refuses its own state too; the client is lost");
	}
	_exit(1);
}

/*
 * For the tests only: VFIO_USER_PROXY_TEST_HANDOVER=future (or corrupt) makes a successor read the state
 * as if it were of a later version (or damaged), as a newer binary would see an older one's state; never
 * the fallback, which reads it as it is.
 */
static void test_damage(const struct handover_resume *r, uint8_t *buf, size_t len)
{
	const char *how = getenv("VFIO_USER_PROXY_TEST_HANDOVER");
	uint32_t v = HO_VERSION + 1;

	if (!how || r->fallback || len < HO_HEADER_SIZE)
		return;
	if (strcmp(how, "future") == 0)
		memcpy(buf + 8, &v, sizeof(v));
	else if (strcmp(how, "corrupt") == 0)
		buf[len / 2] ^= 0x40;
}

void handover_load(const struct handover_resume *r, struct ho_state *st)
{
	char why[200];
	struct stat sb;
	uint8_t *buf;
	int seals, ret;
	size_t done = 0;

	ho_state_init(st);
	seals = fcntl(r->state_fd, F_GET_SEALS);
	if (seals < 0 || (seals & HO_SEALS) != HO_SEALS || fstat(r->state_fd, &sb) || sb.st_size <= 0 ||
	    (uint64_t)sb.st_size > HO_MAX_STATE)
		handover_refuse(r, "--resume-fd is not a sealed hand-over state", -EBADF);
	buf = malloc((size_t)sb.st_size);
	if (!buf)
		handover_refuse(r, "no memory for the state", -ENOMEM);
	while (done < (size_t)sb.st_size) {
		ssize_t n = pread(r->state_fd, buf + done, (size_t)sb.st_size - done, (off_t)done);

		if (n <= 0)
			handover_refuse(r, "the state cannot be read", -EIO);
		done += (size_t)n;
	}
	test_damage(r, buf, done);
	ret = ho_decode(buf, done, st, why, sizeof(why));
	free(buf);
	if (ret)
		handover_refuse(r, why, ret);
}

void handover_adopted(struct handover_resume *r, const struct ho_state *st)
{
	for (uint32_t i = 0; i < st->nfds; i++)
		set_cloexec(st->fds[i], true);
	close(r->state_fd);
	r->state_fd = -1;
	if (r->exe_fd >= 0)
		close(r->exe_fd); /* the predecessor's image: this one keeps its own (handover_exec_prepare) */
	r->exe_fd = -1;
}

void handover_serving(struct handover_resume *r)
{
	int word = 0;
	ssize_t ignored;

	log_info("hand-over: serving as pid %d", (int)getpid());
	if (r->fallback) {
		/* the previous binary again, in place: the hand-over did not happen */
		notify_supervisor("READY=1\nSTATUS=serving; the new binary refused the hand-over");
		notify_upgrader("ERRNO=%d\nSTATUS=the new binary refused the state; the previous one serves on as pid %d",
				ECANCELED, (int)getpid());
		notify_set_upgrader(0, 0);
		return;
	}
	/* Before the helper hears it (and the predecessor exits): the supervisor follows the new main pid. */
	notify_supervisor("MAINPID=%d\nREADY=1\nSTATUS=serving (handed over)", (int)getpid());
	notify_upgrader("READY=1\nMAINPID=%d", (int)getpid());
	notify_set_upgrader(0, 0);
	if (r->notify_fd < 0)
		return;
	ignored = write(r->notify_fd, &word, sizeof(word));
	(void)ignored;
	close(r->notify_fd);
	r->notify_fd = -1;
}
