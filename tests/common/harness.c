/* harness.c: the real proxy process as integration tests see it: start, stop, count its fds and mappings. */
#include "harness.h"

#include "edu_model.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int proxy_add_args(struct proxy_proc *p, const char **argv, int n, int max)
{
#ifdef __SANITIZE_ADDRESS__
	/* ASan's leak check at exit needs ptrace, which the (default) seccomp filter refuses. */
	if (n >= 2 && n < max - 1 && (strcmp(argv[1], "emulate") == 0 || strcmp(argv[1], "export") == 0))
		argv[n++] = "--no-seccomp";
#endif
	/* PROXY_ARGS (space-separated) runs whole suites under extra options, e.g. --no-seccomp. */
	if (getenv("PROXY_ARGS")) {
		snprintf(p->env_args, sizeof(p->env_args), "%s", getenv("PROXY_ARGS"));
		for (char *save = NULL, *tok = strtok_r(p->env_args, " ", &save); tok && n < max - 1;
		     tok = strtok_r(NULL, " ", &save))
			argv[n++] = tok;
	}
	argv[n] = NULL;
	return n;
}

bool proxy_log_contains(const struct proxy_proc *p, const char *needle)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(p->log_path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

int proxy_start(struct proxy_proc *p, const char *const *extra_args)
{
	const char *bin = getenv("PROXY_BIN");
	const char *argv[32];
	int n = 0;
	long deadline;

	memset(p, 0, sizeof(*p));
	if (!bin)
		bin = "build/dbg/vfio-user-proxy";
	strcpy(p->dir, "/tmp/vup-test-XXXXXX");
	if (!mkdtemp(p->dir))
		return -errno;
	snprintf(p->socket_path, sizeof(p->socket_path), "%s/sock", p->dir);
	snprintf(p->log_path, sizeof(p->log_path), "%s/log", p->dir);
	/* A proxy that drops to another user (--user) must still be able to remove its socket at exit. */
	chmod(p->dir, 0777);
	argv[n++] = bin;
	argv[n++] = "emulate";
	argv[n++] = "--socket-path";
	argv[n++] = p->socket_path;
	for (int i = 0; extra_args && extra_args[i] && n < 24; i++)
		argv[n++] = extra_args[i];
	n = proxy_add_args(p, argv, n, 32);
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (p->pid == 0) {
		int fd = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		/* The proxy dies with the test (no orphan after a crash) and keeps no pipe of the runner's open. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	deadline = test_now_ms() + 10000;
	while (test_now_ms() < deadline) {
		struct stat st;

		/*
		 * It appears listening; it serves once its loop runs ("serving ... on"): the privileged helper
		 * and the seccomp filter are set up by then, so the fds counted from here on are all its own.
		 */
		if (stat(p->socket_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
			while (test_now_ms() < deadline && proxy_alive(p) && !proxy_log_contains(p, "info: serving "))
				usleep(2000);
			return 0;
		}
		if (!proxy_alive(p))
			return -ECHILD;
		usleep(2000);
	}
	return -ETIMEDOUT;
}

bool proxy_alive(const struct proxy_proc *p)
{
	int status;

	return p->pid > 0 && waitpid(p->pid, &status, WNOHANG) == 0;
}

static void cleanup_dir(struct proxy_proc *p)
{
	unlink(p->log_path);
	unlink(p->socket_path);
	rmdir(p->dir);
}

int proxy_stop(struct proxy_proc *p)
{
	int status = 0, ret;
	struct stat st;

	if (p->pid <= 0)
		return -ECHILD;
	kill(p->pid, SIGTERM);
	if (waitpid(p->pid, &status, 0) < 0)
		return -errno;
	p->pid = 0;
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (ret == 0 && stat(p->socket_path, &st) == 0)
		ret = -EEXIST;
	if (ret)
		proxy_dump_log(p);
	cleanup_dir(p);
	return ret;
}

int proxy_wait_exit(struct proxy_proc *p, int timeout_ms)
{
	long deadline = test_now_ms() + timeout_ms;

	if (p->pid <= 0)
		return -ECHILD;
	for (;;) {
		int status;
		pid_t r = waitpid(p->pid, &status, WNOHANG);

		if (r == p->pid) {
			p->pid = 0;
			return status;
		}
		if (r < 0)
			return -errno;
		if (test_now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(2000);
	}
}

int proxy_stop_within(struct proxy_proc *p, int timeout_ms)
{
	int status, ret;

	if (p->pid <= 0)
		return -ECHILD;
	kill(p->pid, SIGTERM);
	status = proxy_wait_exit(p, timeout_ms);
	if (status < 0) {
		proxy_dump_log(p);
		return status;
	}
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (ret == 0 && access(p->socket_path, F_OK) == 0)
		ret = -EEXIST;
	if (ret)
		proxy_dump_log(p);
	return ret;
}

void proxy_kill(struct proxy_proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
	cleanup_dir(p);
}

int proxy_fd_count(const struct proxy_proc *p)
{
	return proc_fd_count(p->pid);
}

int proxy_map_count(const struct proxy_proc *p)
{
	return proc_map_count(p->pid);
}

int proxy_wait_fds(const struct proxy_proc *p, int want, int timeout_ms)
{
	long deadline = test_now_ms() + timeout_ms;
	int n;

	do {
		n = proxy_fd_count(p);
		if (n == want)
			return n;
		usleep(1000);
	} while (test_now_ms() < deadline);
	return n;
}

struct vuc *proxy_client(const struct proxy_proc *p)
{
	struct vuc_server_caps caps;
	struct vuc *c;

	if (vuc_connect(p->socket_path, &c))
		return NULL;
	if (vuc_negotiate(c, &caps)) {
		vuc_close(c);
		return NULL;
	}
	return c;
}

int proxy_fixture_setup(void **state)
{
	struct proxy_fixture *f = calloc(1, sizeof(*f));

	if (!f || proxy_start(&f->proxy, NULL)) {
		free(f);
		return -1;
	}
	f->c = proxy_client(&f->proxy);
	if (!f->c) {
		proxy_kill(&f->proxy);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

int proxy_fixture_teardown(void **state)
{
	struct proxy_fixture *f = *state;
	int ret;

	if (f->c)
		vuc_close(f->c);
	ret = proxy_stop(&f->proxy);
	free(f);
	return ret ? -1 : 0;
}

void proxy_dump_log(const struct proxy_proc *p)
{
	char line[512];
	FILE *f = fopen(p->log_path, "r");

	if (!f)
		return;
	fprintf(stderr, "---- proxy log (%s)\n", p->log_path);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fprintf(stderr, "----\n");
	fclose(f);
}

int test_memfd(size_t size, void **mem)
{
	int fd = memfd_create("vup-test", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size)) {
		close(fd);
		return -errno;
	}
	*mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*mem == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	return fd;
}

int edu_run_dma(struct vuc *c, uint64_t src, uint64_t dst, uint64_t count, uint64_t cmd, uint64_t *cmd_out)
{
	const uint32_t bar0 = VFIO_PCI_BAR0_REGION_INDEX;
	uint64_t v = 0;
	int ret;

	if ((ret = vuc_write64(c, bar0, EDU_REG_DMA_SRC, src)) || (ret = vuc_write64(c, bar0, EDU_REG_DMA_DST, dst)) ||
	    (ret = vuc_write64(c, bar0, EDU_REG_DMA_COUNT, count)) ||
	    (ret = vuc_write64(c, bar0, EDU_REG_DMA_CMD, cmd | EDU_DMA_CMD_RUN)))
		return ret;
	for (int i = 0; i < 5000; i++) {
		ret = vuc_read64(c, bar0, EDU_REG_DMA_CMD, &v);
		if (ret)
			return ret;
		if (!(v & EDU_DMA_CMD_RUN))
			break;
		usleep(1000);
	}
	*cmd_out = v;
	return 0;
}

int pci_command_set(struct vuc *c, uint16_t bits)
{
	uint16_t cmd;
	int ret = vuc_config_read(c, 4, &cmd, 2);

	if (ret)
		return ret;
	cmd |= bits;
	return vuc_config_write(c, 4, &cmd, 2);
}
