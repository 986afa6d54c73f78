/* sys.c: the benchmark's clocks, CPU pinning, forked servers on a socketpair, per-process CPU time and resident memory, memfds. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct placement placements[2];
int nplacements;

static int cpus[CPU_SETSIZE];
static int ncpus = -1;

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

uint64_t proc_cpu_ns(pid_t pid)
{
	char path[64], buf[128];

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if (read_file(path, buf, sizeof(buf)))
		return 0;
	return strtoull(buf, NULL, 10);
}

long proc_rss_kib(pid_t pid)
{
	char path[64], buf[4096];
	const char *p;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ret = read_file(path, buf, sizeof(buf));
	if (ret)
		return ret;
	p = strstr(buf, "\nVmRSS:");
	if (!p)
		return -ENOENT;
	return strtol(p + 7, NULL, 10);
}

static void load_cpus(void)
{
	cpu_set_t set;

	ncpus = 0;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set)) {
		cpus[ncpus++] = 0;
		return;
	}
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			cpus[ncpus++] = i;
}

int bench_cpu_count(void)
{
	if (ncpus < 0)
		load_cpus();
	return ncpus;
}

int bench_cpu(int i)
{
	return cpus[i % bench_cpu_count()];
}

int pin_pid(pid_t pid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(pid, sizeof(set), &set) ? -errno : 0;
}

int bench_memfd(size_t size, void **mem)
{
	int fd = memfd_create("vup-bench", MFD_CLOEXEC);

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
	memset(*mem, 0, size); /* resident before any timing */
	return fd;
}

void bench_place(struct server *srv, const struct placement *pl)
{
	pin_pid(0, pl->client_cpu);
	pin_pid(srv->pid, pl->server_cpu);
}

int server_fork(struct server *s, int cpu, int *fd)
{
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	s->pid = fork();
	if (s->pid < 0) {
		ret = -errno;
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		pin_pid(0, cpu);
		*fd = sv[1];
		return 0;
	}
	pin_pid(s->pid, cpu);
	close(sv[1]);
	*fd = sv[0];
	return 0;
}

int bench_wait_efd(int efd)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, 5000) != 1)
		return -ETIMEDOUT;
	return read(efd, &v, sizeof(v)) == sizeof(v) ? 0 : -errno;
}

void bench_drain_efd(int efd)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v;

	while (poll(&p, 1, 0) == 1 && read(efd, &v, sizeof(v)) == sizeof(v))
		;
}
