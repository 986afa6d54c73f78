/* fake_vfio_fixture.c: the VFIO backend tests' shared fixture: set-up and teardown around the fake kernel (fd leak check), creating the backend on it, eventfd and fd helpers, the real server on a thread (optionally under the proxy's seccomp filter). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fake_vfio.h"
#include "server/server.h"
#include "util/log.h"
#include "util/sandbox.h"

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

int create_as(struct fixture *f, const char *device, bool trap_bars, enum vfio_iommu_kind kind)
{
	char sysfs[PATH_MAX + 8], dev[PATH_MAX + 8];
	struct vfio_backend_options o = { .device = device, .trap_bars = trap_bars, .iommu = kind };

	snprintf(sysfs, sizeof(sysfs), "%s/sys", fk.root);
	snprintf(dev, sizeof(dev), "%s/dev", fk.root);
	o.sysfs_root = sysfs;
	o.dev_root = dev;
	return vfio_backend_create(&o, &f->b);
}

int create(struct fixture *f, bool trap_bars)
{
	return create_as(f, BDF, trap_bars, VFIO_IOMMU_KIND_LEGACY);
}

int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	log_threshold = LOG_LVL_WARN;
	fake_defaults();
	strcpy(fk.root, "/tmp/vfio-backend-XXXXXX");
	if (!mkdtemp(fk.root))
		return -1;
	f->fds_before = count_fds();
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int teardown(void **state)
{
	struct fixture *f = *state;
	int leaked;

	if (f->b)
		f->b->ops->destroy(f->b);
	fake_disable_msi();
	fake_release_req();
	if (fk.cdev_memfd >= 0)
		close(fk.cdev_memfd);
	nftw(fk.root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	leaked = count_fds() - f->fds_before;
	free(f);
	if (leaked) {
		print_error("%d file descriptors leaked\n", leaked);
		return -1;
	}
	return 0;
}

struct device_backend *create_ok(struct fixture *f, bool trap_bars)
{
	fake_tree("vfio-pci");
	assert_int_equal(create(f, trap_bars), 0);
	return f->b;
}

bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Whether eventfd e reaches the kernel's reference k: a count written to one is read from the other. */
bool same_eventfd(int e, int k)
{
	uint64_t v = 7, got = 0;

	if (e < 0 || k < 0 || write(e, &v, sizeof(v)) != sizeof(v))
		return false;
	return read(k, &got, sizeof(got)) == sizeof(got) && got == 7;
}

int open_eventfd(void)
{
	int e = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_true(e >= 0);
	return e;
}

/* The backend owns what it is given: hand it copies. */
void dup_all(const int *src, int *dst, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		dst[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 0);
}

static void *serve(void *arg)
{
	struct served *s = arg;

	/* seccomp filters the calling thread only (no TSYNC): the test's own thread stays free */
	s->ret = s->seccomp ? sandbox_enter_seccomp(false) : 0;
	if (!s->ret)
		s->ret = server_run(s->srv);
	s->retired = server_device_retired(s->srv);
	return NULL;
}

static void start(struct served *sv, struct device_backend *b, bool seccomp)
{
	struct server_options so;
	sigset_t mask;

	sv->seccomp = seccomp;
	sv->ret = -EINPROGRESS;
	snprintf(sv->sock, sizeof(sv->sock), "%s/proxy.sock", fk.root);
	server_options_init(&so);
	so.socket_path = sv->sock;
	assert_int_equal(server_create(&so, b, &sv->srv), 0);
	/* the server thread takes SIGTERM through its signalfd: keep it blocked everywhere */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, &sv->old);
	assert_int_equal(pthread_create(&sv->thread, NULL, serve, sv), 0);
}

void serve_start(struct served *sv, struct device_backend *b)
{
	start(sv, b, false);
}

void serve_start_confined(struct served *sv, struct device_backend *b)
{
	start(sv, b, true);
}

void serve_stop(struct served *sv)
{
	/* to the process, as kill(1) and systemd send it: the event loop's helper thread sees it pending */
	kill(getpid(), SIGTERM);
	pthread_join(sv->thread, NULL);
	pthread_sigmask(SIG_SETMASK, &sv->old, NULL);
	server_destroy(sv->srv);
}

int serve_wait(struct served *sv, int timeout_ms)
{
	struct timespec until;
	int joined;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	joined = pthread_timedjoin_np(sv->thread, NULL, &until);
	if (joined) {
		serve_stop(sv);
		fail_msg("the server did not stop by itself within %d ms", timeout_ms);
	}
	pthread_sigmask(SIG_SETMASK, &sv->old, NULL);
	server_destroy(sv->srv);
	return sv->ret;
}

struct device_backend *create_iommufd(struct fixture *f, enum vfio_iommu_kind kind)
{
	fake_tree_iommufd("vfio-pci");
	assert_int_equal(create_as(f, BDF, false, kind), 0);
	return f->b;
}

struct dma_window map_anon_window(struct device_backend *b, void **mem)
{
	const uint32_t rw = VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE;
	struct dma_window w = { .iova = 0x100000, .size = 0x2000, .prot = rw, .fd = -1 };

	*mem = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(*mem != MAP_FAILED);
	w.vaddr = *mem;
	assert_int_equal(b->ops->dma_map(b, &w), 0);
	assert_int_equal(fk.nmaps, 1);
	assert_int_equal(fk.maps[0].iova, 0x100000);
	assert_int_equal(fk.maps[0].size, 0x2000);
	assert_int_equal(fk.maps[0].vaddr, (uintptr_t)*mem);
	assert_int_equal(fk.maps[0].flags, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	return w;
}

int lend_device_fd(struct device_backend *b)
{
	static int client;
	struct vfio_user_region_info info = { .index = VFIO_PCI_BAR0_REGION_INDEX };
	uint8_t caps[256];
	size_t len;
	int fd;

	b->host = &client;
	assert_int_equal(b->ops->region_info(b, &info, caps, sizeof(caps), &len, &fd), 0);
	assert_true(fd >= 0);
	return fd; /* the backend's own (borrowed): the server would send it */
}

void leave(struct device_backend *b, int want)
{
	b->ops->quiesce(b);
	assert_int_equal(b->ops->client_gone(b), want);
	b->host = NULL;
}
