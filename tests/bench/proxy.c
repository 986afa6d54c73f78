/* proxy.c: the real proxy process under test: start it pinned, time it to a listening socket, connect, stop it. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edu_model.h"

#define PROXY_START_TIMEOUT_NS 10000000000ull

/* Whether something listens on path: a connect that succeeds (closed again at once). */
static bool listening(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/*
 * Forks and execs `PROXY emulate --socket-path DIR/sock EXTRA...` on cpu, its stderr to DIR/log. *start_ns
 * (if given) gets the time from fork to the first successful connect, polled without sleeping from the
 * caller's CPU. The connection used to probe is closed at once: the proxy serves it and waits for the next.
 */
int proxy_launch(struct server *s, const char *const *extra, int cpu, uint64_t *start_ns)
{
	const char *argv[24];
	uint64_t t0;
	int n = 0;

	memset(s, 0, sizeof(*s));
	s->kind = SERVER_PROXY;
	s->name = "proxy";
	s->efd = -1;
	strcpy(s->dir, "/tmp/vup-bench-XXXXXX");
	if (!mkdtemp(s->dir))
		return -errno;
	snprintf(s->sock, sizeof(s->sock), "%s/sock", s->dir);
	argv[n++] = opt.proxy_bin;
	argv[n++] = "emulate";
	argv[n++] = "--socket-path";
	argv[n++] = s->sock;
	for (int i = 0; extra && extra[i] && n < 22; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;

	t0 = now_ns();
	s->pid = fork();
	if (s->pid < 0)
		return -errno;
	if (s->pid == 0) {
		char log[96];
		int fd;

		snprintf(log, sizeof(log), "%s/log", s->dir);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0)
			dup2(fd, 2);
		pin_pid(0, cpu);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	pin_pid(s->pid, cpu); /* before it runs, whichever of us the scheduler picks first */
	for (;;) {
		int status;

		if (listening(s->sock))
			break;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 2)
				proxy_dump_log(s);
			server_stop(s);
			return WIFEXITED(status) && WEXITSTATUS(status) == 2 ? -EINVAL : -ECHILD;
		}
		if (now_ns() - t0 > PROXY_START_TIMEOUT_NS) {
			server_stop(s);
			return -ETIMEDOUT;
		}
		sched_yield();
	}
	if (start_ns)
		*start_ns = now_ns() - t0;
	return 0;
}

int proxy_connect(struct server *s)
{
	struct vuc_server_caps caps;
	uint16_t cmd;
	int ret;

	ret = vuc_connect(s->sock, &s->c);
	if (ret)
		return ret;
	ret = vuc_negotiate(s->c, &caps);
	if (ret)
		return ret;
	/* Bus mastering (MSI and DMA need it) and MSI on our eventfd, as a driver would set them up. */
	ret = vuc_config_read(s->c, 4, &cmd, sizeof(cmd));
	if (ret)
		return ret;
	cmd |= 0x4;
	ret = vuc_config_write(s->c, 4, &cmd, sizeof(cmd));
	if (ret)
		return ret;
	s->efd = eventfd(0, EFD_CLOEXEC);
	if (s->efd < 0)
		return -errno;
	return vuc_set_irqs(s->c, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0,
			    1, &s->efd, NULL);
}

void proxy_dump_log(const struct server *s)
{
	char path[128], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/log", s->dir);
	f = fopen(path, "r");
	if (!f)
		return;
	fprintf(stderr, "---- proxy log\n");
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fprintf(stderr, "----\n");
	fclose(f);
}

void server_stop(struct server *s)
{
	char path[128];

	if (s->c)
		vuc_close(s->c);
	s->c = NULL;
	if (s->kind == SERVER_PINGPONG && s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->pid > 0) {
		kill(s->pid, s->kind == SERVER_PROXY ? SIGTERM : SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
	if (s->efd >= 0)
		close(s->efd);
	s->efd = -1;
	if (s->kind == SERVER_PROXY && s->dir[0]) {
		snprintf(path, sizeof(path), "%s/log", s->dir);
		unlink(path);
		unlink(s->sock);
		rmdir(s->dir);
		s->dir[0] = '\0';
	}
}
