/* pci_sysfs.c: reading PCI devices' drivers, groups and classes from sysfs, writing the driver core's control files, loading modules with libkmod. */
#include "cli/pci_sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libkmod.h>

#include "util/log.h"

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

/* libkmod's own messages: debug lines of ours (what goes wrong is said once, by the caller). */
static void kmod_log(void *data, int priority, const char *file, int line, const char *fn, const char *format,
		     va_list args) __attribute__((format(printf, 6, 0)));

static void kmod_log(void *data, int priority, const char *file, int line, const char *fn, const char *format,
		     va_list args)
{
	char msg[512];
	size_t n;

	if (log_threshold < LOG_LVL_DEBUG)
		return;
	vsnprintf(msg, sizeof(msg), format, args);
	n = strlen(msg);
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	log_debug("libkmod: %s", msg);
}

static void explain_load_error(const char *name, const char *dir, int err, char *why, size_t why_len)
{
	switch (err) {
	case ENOENT:
		snprintf(why, why_len,
			 "no module %s for this kernel (none in %s): install the kernel's modules, or boot a kernel "
			 "with it built in",
			 name, dir);
		break;
	case EPERM:
	case EACCES:
		snprintf(why, why_len, "loading module %s needs root: run as root (or modprobe %s first)", name, name);
		break;
	default:
		snprintf(why, why_len, "cannot load module %s: %s (dmesg may say why)", name, strerror(err));
		break;
	}
}

int pci_load_module(const struct pci_sysfs *s, const char *name, char *why, size_t why_len)
{
	struct kmod_list *list = NULL, *l;
	struct kmod_ctx *ctx;
	char dir[PATH_MAX];
	int ret = -ENOENT;

	ctx = kmod_new(s->modules_dir, NULL);
	if (!ctx) {
		snprintf(why, why_len, "cannot load module %s: libkmod did not start (out of memory?)", name);
		return -ENOMEM;
	}
	kmod_set_log_fn(ctx, kmod_log, NULL);
	if (log_threshold >= LOG_LVL_DEBUG)
		kmod_set_log_priority(ctx, LOG_DEBUG);
	snprintf(dir, sizeof(dir), "%s", kmod_get_dirname(ctx) ? kmod_get_dirname(ctx) : "/lib/modules");
	if (kmod_module_new_from_lookup(ctx, name, &list) < 0)
		list = NULL;
	kmod_list_foreach(l, list) {
		struct kmod_module *mod = kmod_module_get_module(l);

		/* as modprobe NAME does: a blacklist stops aliases only */
		ret = kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY, NULL, NULL, NULL,
						      NULL);
		log_debug("libkmod: inserting %s (%s): %d", kmod_module_get_name(mod),
			  kmod_module_get_path(mod) ? kmod_module_get_path(mod) : "built in", ret);
		kmod_module_unref(mod);
		if (ret == -EEXIST)
			ret = 0;
		if (ret >= 0)
			break;
	}
	kmod_module_unref_list(list);
	kmod_unref(ctx);
	if (ret > 0) {
		snprintf(why, why_len, "module %s is blacklisted (modprobe.d): load it by hand (modprobe %s)", name,
			 name);
		return -EPERM;
	}
	if (ret < 0)
		explain_load_error(name, dir, -ret, why, why_len);
	return ret;
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
