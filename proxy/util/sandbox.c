/* sandbox.c: privilege drop and the seccomp allowlist of the serving loop (libseccomp). */
#include "util/sandbox.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/kcmp.h>

#include "util/log.h"

int sandbox_drop_to_user(const char *user, uint64_t memlock)
{
	struct rlimit lim = { memlock, memlock };
	struct passwd *pw;
	char *end;
	long uid;

	errno = 0;
	uid = strtol(user, &end, 10);
	pw = (*user && !*end) ? getpwuid((uid_t)uid) : getpwnam(user);
	if (!pw) {
		log_error("--user %s: no such user; name an existing account (e.g. one made with adduser --system)", user);
		return -ENOENT;
	}
	if (geteuid() != 0) {
		log_error("--user needs the proxy to start as root (it opens the device, then drops to %s)", user);
		return -EPERM;
	}
	/* Pinning guest memory for DMA counts against RLIMIT_MEMLOCK: raise it to what --dma-limit allows
	 * while we still may, and no further (a finite bound the kernel enforces too). */
	if (memlock == 0 || memlock >= RLIM_INFINITY)
		lim.rlim_cur = lim.rlim_max = RLIM_INFINITY - 1;
	if (setrlimit(RLIMIT_MEMLOCK, &lim))
		log_warn("cannot raise the locked-memory limit: %s; DMA mapping may fail after the drop", strerror(errno));
	if (initgroups(pw->pw_name, pw->pw_gid) || setgid(pw->pw_gid) || setuid(pw->pw_uid)) {
		int ret = -errno;

		log_error("cannot become user %s: %s", pw->pw_name, strerror(-ret));
		return ret;
	}
	if (setuid(0) == 0) {
		log_error("dropped to user %s but could regain root; refusing to go on", pw->pw_name);
		return -EPERM;
	}
	log_info("running as user %s (uid %u, gid %u)", pw->pw_name, (unsigned int)pw->pw_uid,
		 (unsigned int)pw->pw_gid);
	return 0;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	static const char pre[] = "vfio-user-proxy error: seccomp stopped system call ";
	static const char post[] = ", which the serving loop is not allowed (this is a bug: please report it)\n";
	char num[16];
	int n = (int)sizeof(num), nr = si->si_syscall;
	ssize_t ignored;

	/* Async-signal-safe only: format the number by hand, write, leave. */
	do {
		num[--n] = (char)('0' + nr % 10);
		nr /= 10;
	} while (nr && n > 0);
	ignored = write(2, pre, sizeof(pre) - 1);
	ignored = write(2, num + n, sizeof(num) - (size_t)n);
	ignored = write(2, post, sizeof(post) - 1);
	(void)ignored;
	_exit(70);
}

/* What the serving loop may do, and nothing else: socket I/O on open fds, DMA windows, VFIO ioctls. */
static const int allowed[] = {
	SCMP_SYS(accept4), SCMP_SYS(brk), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(close),
	SCMP_SYS(close_range),
	SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_wait), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(fcntl), SCMP_SYS(fstat), SCMP_SYS(fstatfs), SCMP_SYS(ftruncate), SCMP_SYS(futex), SCMP_SYS(getpid),
	SCMP_SYS(getsockopt), SCMP_SYS(gettid), SCMP_SYS(ioctl), SCMP_SYS(lseek), SCMP_SYS(madvise),
	SCMP_SYS(memfd_create), SCMP_SYS(mmap), SCMP_SYS(mprotect), SCMP_SYS(mremap), SCMP_SYS(munmap),
	SCMP_SYS(newfstatat), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
	SCMP_SYS(read), SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(recvmsg), SCMP_SYS(restart_syscall),
	SCMP_SYS(rseq), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(sched_yield), SCMP_SYS(sendmsg),
	SCMP_SYS(sendto), SCMP_SYS(set_robust_list), SCMP_SYS(setitimer), SCMP_SYS(statx), SCMP_SYS(tgkill), SCMP_SYS(unlink),
	SCMP_SYS(write), SCMP_SYS(writev),
};

/*
 * --fd-store: a pipe for each barrier (notify.c), kcmp on files (which stored file is which), SO_PEEK_OFF
 * for a new client's socket (session.c's peek mode). The messages go over notify.c's socket, opened
 * before the filter: no socket() here.
 */
static int allow_fd_store(scmp_filter_ctx ctx)
{
	const struct scmp_arg_cmp peek_off[] = {
		{ .arg = 1, .op = SCMP_CMP_EQ, .datum_a = SOL_SOCKET },
		{ .arg = 2, .op = SCMP_CMP_EQ, .datum_a = SO_PEEK_OFF },
	};
	const struct scmp_arg_cmp kcmp_file = { .arg = 2, .op = SCMP_CMP_EQ, .datum_a = KCMP_FILE };
	int ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2, peek_off);

	if (!ret)
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kcmp), 1, &kcmp_file);
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pipe2), 0);
	return ret;
}

/*
 * The event loop's helper thread (server/waker.c), started under the filter: clone for a thread only
 * (CLONE_THREAD set: no new process), clone3 answered ENOSYS so that glibc falls back to clone (its
 * flags are in memory, out of the filter's reach), what a new glibc thread does first (set_robust_list,
 * rseq), and the thread's own fd table (unshare CLONE_FILES, then close_range).
 */
static int allow_helper_thread(scmp_filter_ctx ctx)
{
	const struct scmp_arg_cmp thread = { .arg = 0, .op = SCMP_CMP_MASKED_EQ, .datum_a = CLONE_THREAD,
					     .datum_b = CLONE_THREAD };
	const struct scmp_arg_cmp files = { .arg = 0, .op = SCMP_CMP_EQ, .datum_a = CLONE_FILES };
	int ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, &thread);

	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (!ret)
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unshare), 1, &files);
	/* the handlers of glibc's own two signals below SIGRTMIN (cancellation, set*id), which the process's
	 * first pthread_create installs */
	for (int sig = SIGRTMIN - 2; sig < SIGRTMIN && !ret; sig++) {
		const struct scmp_arg_cmp own = { .arg = 0, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)sig };

		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction), 1, &own);
	}
	return ret;
}

int sandbox_enter_seccomp(bool fd_store)
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	int ret = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL))
		return -errno;
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		log_error("cannot set up seccomp");
		return -ENOMEM;
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && !ret; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	/* A SIGBUS outside a guarded copy dies of the default action, which guarded_copy sets back first. */
	if (!ret) {
		const struct scmp_arg_cmp sigbus = { .arg = 0, .op = SCMP_CMP_EQ, .datum_a = SIGBUS, .datum_b = 0 };

		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction), 1, &sigbus);
	}
	if (!ret && fd_store)
		ret = allow_fd_store(ctx);
	if (!ret)
		ret = allow_helper_thread(ctx);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret) {
		log_error("cannot install the seccomp filter: %s", strerror(-ret));
		return ret;
	}
	log_info("seccomp: %zu system calls allowed%s", sizeof(allowed) / sizeof(allowed[0]) + 3,
		 fd_store ? ", and what the fd store needs (pipe2, kcmp, setsockopt SO_PEEK_OFF)" : "");
	return 0;
}
