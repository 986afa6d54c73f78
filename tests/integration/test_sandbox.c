/* test_sandbox.c: who may connect and what the proxy keeps: socket mode, SO_PEERCRED allow-lists, --user and --seccomp. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/harness.h"
#include "edu_model.h"

/* The value of a "Key:" line of /proc/PID/status, or -1. */
static long status_field(pid_t pid, const char *key)
{
	char path[64], line[256];
	long v = -1;
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':')
			v = strtol(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

static bool log_contains(const struct proxy_proc *p, const char *needle)
{
	char line[512];
	bool found = false;
	FILE *f = fopen(p->log_path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* A client run that touches every serving path: VERSION, regions, MSI, fd-backed and fd-less DMA. */
static void exercise(struct proxy_proc *p)
{
	struct vuc *c = proxy_client(p);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint8_t *mem = calloc(1, 0x10000);
	uint16_t cmd = 0x4;
	uint32_t v;
	void *fdmem;
	int mfd = test_memfd(0x10000, &fdmem);
	uint64_t dcmd = 0;

	assert_non_null(c);
	assert_int_equal(vuc_read32(c, VFIO_PCI_BAR0_REGION_INDEX, EDU_REG_ID, &v), 0);
	assert_int_equal(v, EDU_ID_VALUE);
	assert_int_equal(vuc_config_write(c, 4, &cmd, 2), 0);
	assert_int_equal(vuc_set_irqs(c, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
				      0, 1, &efd, NULL),
			 0);
	assert_int_equal(vuc_dma_map_fd(c, 0x100000, 0x10000, mfd, 0, VFIO_USER_F_DMA_REGION_READ), 0);
	assert_int_equal(vuc_dma_map_mem(c, 0x200000, 0x10000, mem, VFIO_USER_F_DMA_REGION_WRITE), 0);
	memset(fdmem, 0x5a, 64);
	assert_int_equal(vuc_write64(c, 0, EDU_REG_DMA_SRC, 0x100000), 0);
	assert_int_equal(vuc_write64(c, 0, EDU_REG_DMA_DST, EDU_DMA_BUF_ADDR), 0);
	assert_int_equal(vuc_write64(c, 0, EDU_REG_DMA_COUNT, 64), 0);
	assert_int_equal(vuc_write64(c, 0, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN), 0);
	assert_int_equal(vuc_write64(c, 0, EDU_REG_DMA_SRC, EDU_DMA_BUF_ADDR), 0);
	assert_int_equal(vuc_write64(c, 0, EDU_REG_DMA_DST, 0x200000), 0);
	assert_int_equal(vuc_write64(c, 0, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_TO_RAM | EDU_DMA_CMD_IRQ), 0);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(vuc_read64(c, 0, EDU_REG_DMA_CMD, &dcmd), 0);
		if (!(dcmd & EDU_DMA_CMD_RUN))
			break;
		usleep(1000);
	}
	assert_int_equal(dcmd & EDU_DMA_CMD_ERROR, 0);
	assert_int_equal(mem[0], 0x5a);
	assert_int_equal(mem[63], 0x5a);
	assert_int_equal(eventfd_wait(efd, 2000), 1);
	assert_int_equal(vuc_reset(c), 0);
	vuc_close(c);
	free(mem);
	close(efd);
	close(mfd);
}

static void test_user_and_seccomp(void **state)
{
#ifdef __SANITIZE_ADDRESS__
	/* ASan's leak check at exit needs ptrace, which the filter refuses: confine the plain build only. */
	const char *args[] = { "--user", "nobody", "--socket-mode", "0666", NULL };
	const long seccomp_mode = 0;
#else
	const char *args[] = { "--user", "nobody", "--seccomp", "--socket-mode", "0666", NULL };
	const long seccomp_mode = 2; /* filter */
#endif
	struct passwd *pw = getpwnam("nobody");
	struct proxy_proc p;
	struct stat st;

	assert_non_null(pw);
	assert_int_equal(proxy_start(&p, args), 0);
	/* the socket appears with the mode asked for */
	assert_int_equal(stat(p.socket_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0666);
	exercise(&p);
	exercise(&p); /* a second client after the first one's cleanup, still confined */
	assert_int_equal(status_field(p.pid, "Uid"), (long)pw->pw_uid);
	if (!getenv("PROXY_ARGS"))
		assert_int_equal(status_field(p.pid, "Seccomp"), seccomp_mode);
	assert_true(proxy_alive(&p));
	assert_true(log_contains(&p, "running as user nobody"));
	assert_int_equal(proxy_stop(&p), 0);
}

static void test_allow_uid_refuses(void **state)
{
	const char *args[] = { "--allow-uid", "12345", NULL };
	struct vuc_server_caps caps;
	struct proxy_proc p;
	struct vuc *c;
	int base;

	assert_int_equal(proxy_start(&p, args), 0);
	base = proxy_fd_count(&p);
	assert_int_equal(vuc_connect(p.socket_path, &c), 0);
	assert_true(vuc_negotiate(c, &caps) < 0); /* closed before any message is read */
	vuc_close(c);
	assert_int_equal(proxy_wait_fds(&p, base, 2000), base);
	assert_true(log_contains(&p, "refused a client: pid"));
	assert_int_equal(proxy_stop(&p), 0);
}

static void test_allow_uid_admits(void **state)
{
	const char *args[] = { "--allow-uid", "12345", "--allow-uid", "0", NULL };
	struct proxy_proc p;

	assert_int_equal(proxy_start(&p, args), 0);
	exercise(&p);
	assert_int_equal(proxy_stop(&p), 0);
}

static void test_bad_user(void **state)
{
	const char *args[] = { "--user", "no-such-user-here", NULL };
	struct proxy_proc p;

	/* the proxy starts, opens its socket, then cannot drop: it exits 1 and says why */
	int ret = proxy_start(&p, args);

	if (ret == 0) {
		for (int i = 0; i < 200 && proxy_alive(&p); i++)
			usleep(10000);
	}
	assert_false(proxy_alive(&p));
	assert_true(log_contains(&p, "no such user"));
	proxy_kill(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_and_seccomp),
		cmocka_unit_test(test_allow_uid_refuses),
		cmocka_unit_test(test_allow_uid_admits),
		cmocka_unit_test(test_bad_user),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_sandbox needs root (it drops to nobody); skipped\n");
		return 0;
	}
	return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
