/* pci_sysfs.c: reading PCI devices' drivers, groups and classes from sysfs, writing the driver core's control files, loading a driver's module (kmod_load.c). */
#include "cli/pci_sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/kmod_load.h"

#define POLL_MS 10

void pci_sysfs_init(struct pci_sysfs *s)
{
	struct vfio_paths p;
	const char *mods = getenv(PCI_MODULES_DIR_ENV);

	vfio_paths_init(&p, NULL, NULL);
	memset(s, 0, sizeof(*s));
	strcpy(s->root, p.sysfs);
	s->modules_dir = mods && *mods ? mods : NULL;
	s->timeout_ms = 5000;
}

int pci_dev_path(const struct pci_sysfs *s, const char *bdf, const char *attr, char *path)
{
	if (attr)
		return vfio_pathf(path, "%s/bus/pci/devices/%s/%s", s->root, bdf, attr);
	return vfio_pathf(path, "%s/bus/pci/devices/%s", s->root, bdf);
}

int pci_bus_path(const struct pci_sysfs *s, const char *name, const char *attr, char *path)
{
	if (attr)
		return vfio_pathf(path, "%s/bus/pci/drivers/%s/%s", s->root, name, attr);
	return vfio_pathf(path, "%s/bus/pci/%s", s->root, name);
}

bool pci_dev_exists(const struct pci_sysfs *s, const char *bdf)
{
	char path[PATH_MAX];
	struct stat st;

	return pci_dev_path(s, bdf, NULL, path) == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int pci_dev_driver(const struct pci_sysfs *s, const char *bdf, char *drv, size_t len)
{
	char path[PATH_MAX];
	int ret = pci_dev_path(s, bdf, "driver", path);

	return ret ? ret : vfio_link_basename(path, drv, len);
}

int pci_dev_group(const struct pci_sysfs *s, const char *bdf, unsigned int *group)
{
	char path[PATH_MAX], name[32], *end;
	unsigned long g;
	int ret = pci_dev_path(s, bdf, "iommu_group", path);

	if (!ret)
		ret = vfio_link_basename(path, name, sizeof(name));
	if (ret)
		return ret;
	errno = 0;
	g = strtoul(name, &end, 10);
	if (errno || end == name || *end || g > UINT_MAX)
		return -EINVAL;
	*group = (unsigned int)g;
	return 0;
}

/* A small sysfs attribute's text, trailing whitespace cut: 0 or a negative errno. */
static int read_attr(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return 0;
}

int pci_dev_class(const struct pci_sysfs *s, const char *bdf, unsigned int *class_code)
{
	char path[PATH_MAX], buf[32], *end;
	unsigned long v;
	int ret = pci_dev_path(s, bdf, "class", path);

	if (!ret)
		ret = read_attr(path, buf, sizeof(buf));
	if (ret)
		return ret;
	errno = 0;
	v = strtoul(buf, &end, 16);
	if (errno || end == buf || *end || v > 0xffffff)
		return -EINVAL;
	*class_code = (unsigned int)v;
	return 0;
}

int pci_dev_group_members(const struct pci_sysfs *s, const char *bdf, struct pci_bdf_list *out)
{
	char dir[PATH_MAX], canon[VFIO_BDF_MAX];
	struct dirent **ents = NULL;
	int n, ret;

	ret = pci_dev_path(s, bdf, "iommu_group/devices", dir);
	if (ret)
		return ret;
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		/* sysfs names members by their full address; anything else there is not a PCI device */
		if (!ret && strchr(ents[i]->d_name, ':') != strrchr(ents[i]->d_name, ':') &&
		    vfio_parse_bdf(ents[i]->d_name, canon, sizeof(canon)) == 0)
			ret = pci_bdf_list_add(out, canon);
		free(ents[i]);
	}
	free(ents);
	return ret;
}

bool pci_driver_registered(const struct pci_sysfs *s, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	return vfio_pathf(path, "%s/bus/pci/drivers/%s", s->root, name) == 0 && stat(path, &st) == 0 &&
	       S_ISDIR(st.st_mode);
}

int pci_write(const char *path, const char *value)
{
	size_t len = strlen(value);
	ssize_t n;
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	if (close(fd))
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

struct noticer {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int notice_ms;
	FILE *out;
	const char *notice;
};

/* Says the notice unless the write returns within notice_ms. */
static void *noticer_run(void *arg)
{
	struct noticer *nt = arg;
	struct timespec until;
	int r = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += nt->notice_ms / 1000;
	until.tv_nsec += (long)(nt->notice_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&nt->lock);
	while (!nt->done && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&nt->cond, &nt->lock, &until);
	if (!nt->done) {
		fprintf(nt->out, "%s\n", nt->notice);
		fflush(nt->out);
	}
	pthread_mutex_unlock(&nt->lock);
	return NULL;
}

int pci_write_noticed(const char *path, const char *value, int notice_ms, FILE *out, const char *notice)
{
	struct noticer nt = { .notice_ms = notice_ms, .out = out, .notice = notice };
	pthread_condattr_t ca;
	pthread_t th;
	bool started;
	int ret;

	pthread_mutex_init(&nt.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&nt.cond, &ca);
	pthread_condattr_destroy(&ca);
	/* Without a thread the write goes ahead unannounced. */
	started = pthread_create(&th, NULL, noticer_run, &nt) == 0;
	ret = pci_write(path, value);
	pthread_mutex_lock(&nt.lock);
	nt.done = true;
	pthread_cond_signal(&nt.cond);
	pthread_mutex_unlock(&nt.lock);
	if (started)
		pthread_join(th, NULL);
	pthread_cond_destroy(&nt.cond);
	pthread_mutex_destroy(&nt.lock);
	return ret;
}

int pci_wait_driver(const struct pci_sysfs *s, const char *bdf, const char *want, int timeout_ms)
{
	const struct timespec tick = { 0, POLL_MS * 1000000L };
	char drv[VFIO_DRIVER_MAX];

	for (int waited = 0;; waited += POLL_MS) {
		int r = pci_dev_driver(s, bdf, drv, sizeof(drv));

		if (want ? r == 0 && (!*want || strcmp(drv, want) == 0) : r == -ENOENT)
			return 0;
		if (waited >= (timeout_ms < 0 ? s->timeout_ms : timeout_ms))
			return -ETIMEDOUT;
		nanosleep(&tick, NULL);
	}
}

int pci_load_module(const struct pci_sysfs *s, const char *name, char *why, size_t why_len)
{
	return kmod_load(s->modules_dir, name, NULL, why, why_len);
}

int pci_bdf_list_add(struct pci_bdf_list *l, const char *bdf)
{
	if (pci_bdf_list_has(l, bdf))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		void *v = realloc(l->bdf, cap * sizeof(*l->bdf));

		if (!v)
			return -ENOMEM;
		l->bdf = v;
		l->cap = cap;
	}
	snprintf(l->bdf[l->n++], VFIO_BDF_MAX, "%s", bdf);
	return 0;
}

bool pci_bdf_list_has(const struct pci_bdf_list *l, const char *bdf)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->bdf[i], bdf) == 0)
			return true;
	return false;
}

void pci_bdf_list_free(struct pci_bdf_list *l)
{
	free(l->bdf);
	memset(l, 0, sizeof(*l));
}
