/* lifecycle.c: the lifecycle suites' fixture: the case's leftovers torn down (clients, fds, mappings, proxies, scratch directories), a proxy started and served, its idle fd count, its exit on a signal. */
#include "lifecycle.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edu_model.h"

struct life_state life;

int life_setup(void **state)
{
	memset(&life, 0, sizeof(life));
	return 0;
}

/* Removes a scratch directory and the files in it (the cases create no subdirectories). */
static void remove_dir(const char *dir)
{
	DIR *d;
	struct dirent *e;

	if (!dir[0] || !(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		char path[384];

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int life_teardown(void **state)
{
	vuc_close(life.c1);
	vuc_close(life.c2);
	for (int i = 0; i < life.nfds; i++)
		close(life.fds[i]);
	if (life.map)
		munmap(life.map, life.map_len);
	/* No proxy outlives its case. */
	if (life.a.pid > 0)
		proxy_dump_log(&life.a);
	if (life.b.pid > 0)
		proxy_dump_log(&life.b);
	proxy_kill(&life.b);
	proxy_kill(&life.a);
	remove_dir(life.a.dir);
	remove_dir(life.dir);
	memset(&life, 0, sizeof(life));
	return 0;
}

int life_keep_fd(int fd)
{
	assert_true(fd >= 0);
	assert_true(life.nfds < LIFE_MAX_FDS);
	life.fds[life.nfds++] = fd;
	return fd;
}

/* A negotiated client once the proxy serves (it may still be starting), or NULL if it died or never did. */
struct vuc *life_wait_served(const struct proxy_proc *p)
{
	long deadline = test_now_ms() + LIFE_START_MS;

	do {
		struct vuc *c = proxy_client(p);

		if (c)
			return c;
		if (!proxy_alive(p))
			return NULL;
		usleep(10000);
	} while (test_now_ms() < deadline);
	return NULL;
}

void life_expect_id(struct vuc *c)
{
	uint32_t v = 0;

	assert_int_equal(vuc_read32(c, VFIO_PCI_BAR0_REGION_INDEX, EDU_REG_ID, &v), 0);
	assert_int_equal(v, EDU_ID_VALUE);
}

/* Starts the proxy through the harness and makes sure its event loop runs (a client was served). */
void life_start_serving(struct proxy_proc *p)
{
	struct vuc *c;

	assert_int_equal(proxy_start(p, NULL), 0);
	c = life_wait_served(p);
	assert_non_null(c);
	life_expect_id(c);
	vuc_close(c);
}

/* The fd count with no client: a negotiated, idle client holds exactly one (its socket). */
int life_idle_fd_count(const struct proxy_proc *p)
{
	struct vuc *c = proxy_client(p);
	int n, base;

	assert_non_null(c);
	n = proxy_fd_count(p);
	vuc_close(c);
	base = n - 1;
	assert_int_equal(proxy_wait_fds(p, base, LIFE_CLEANUP_MS), base);
	return base;
}

/* Sends sig and waits for the exit: the exit code (128 + signal when it died of one). */
int life_stop_with(struct proxy_proc *p, int sig)
{
	int status = 0;
	int ret;

	assert_int_equal(kill(p->pid, sig), 0);
	assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
	p->pid = 0;
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (ret)
		proxy_dump_log(p);
	return ret;
}

bool life_socket_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}
