/* guarded_copy.c: copies through client-supplied mappings survive the client truncating the file behind them. */
#include "util/guarded_copy.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

static __thread sigjmp_buf *volatile copy_guard;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	sigjmp_buf *env = copy_guard;

	if (env)
		siglongjmp(*env, 1);
	/* Not ours: die of it as we would have without a handler (the seccomp filter allows exactly this). */
	struct sigaction dfl;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGBUS, &dfl, NULL);
	raise(SIGBUS);
}

int guarded_copy_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	/* SA_NODEFER: leaving the handler by siglongjmp must not leave SIGBUS blocked. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) ? -errno : 0;
}

int guarded_copy(void *dst, const void *src, size_t n)
{
	sigjmp_buf env;

	if (sigsetjmp(env, 0)) {
		copy_guard = NULL;
		return -EFAULT;
	}
	copy_guard = &env;
	memcpy(dst, src, n);
	copy_guard = NULL;
	return 0;
}
