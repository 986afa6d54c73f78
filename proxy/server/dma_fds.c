/* dma_fds.c: the files behind the client's DMA windows, one fd kept per distinct file (for a hand-over to map them again), counted by the windows that use it. */
#include "server/dma_fds.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * An open-addressing hash table keyed by (st_dev, st_ino): QEMU maps all of guest RAM from one or a few
 * memfds, so a client's thousands of windows cost a handful of fds. A client that sends a distinct file
 * for each window is bounded by the proxy's RLIMIT_NOFILE: its later fds do not arrive (EINVAL).
 */
struct dma_fd_ent {
	dev_t dev;
	ino_t ino;
	int fd; /* -1: free */
	uint32_t refs;
};

static uint64_t hash(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)dev * 0xff51afd7ed558ccdull);

	return h ^ (h >> 29);
}

void dma_fds_init(struct dma_fds *t)
{
	memset(t, 0, sizeof(*t));
}

static struct dma_fd_ent *slot(const struct dma_fds *t, dev_t dev, ino_t ino)
{
	uint32_t mask = t->cap - 1;

	for (uint32_t i = (uint32_t)hash(dev, ino) & mask;; i = (i + 1) & mask) {
		struct dma_fd_ent *e = &t->tab[i];

		if (e->fd < 0 || (e->dev == dev && e->ino == ino))
			return e;
	}
}

/* The table is an anonymous mapping, as dma_table's pool: returned whole when the session ends (a
 * sanitizer's allocator would keep a new size class mapped for good). */
static int grow(struct dma_fds *t)
{
	uint32_t cap = t->cap ? t->cap * 2 : 256;
	struct dma_fd_ent *old = t->tab, *tab;
	uint32_t old_cap = t->cap;

	tab = mmap(NULL, cap * sizeof(*tab), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (tab == MAP_FAILED)
		return -ENOMEM;
	for (uint32_t i = 0; i < cap; i++)
		tab[i].fd = -1;
	t->tab = tab;
	t->cap = cap;
	for (uint32_t i = 0; i < old_cap; i++)
		if (old[i].fd >= 0)
			*slot(t, old[i].dev, old[i].ino) = old[i];
	if (old)
		munmap(old, old_cap * sizeof(*old));
	return 0;
}

int dma_fds_get(struct dma_fds *t, int fd, bool adopt_only)
{
	struct dma_fd_ent *e;
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if ((t->used + 1) * 2 > t->cap) {
		int ret = grow(t);

		if (ret)
			return ret;
	}
	e = slot(t, st.st_dev, st.st_ino);
	if (e->fd >= 0) {
		if (e->fd == fd) {
			e->refs++;
			return fd;
		}
		if (adopt_only)
			return -EINVAL; /* two fds of one file in a hand-over's state: not one we wrote */
		e->refs++;
		close(fd);
		return e->fd;
	}
	*e = (struct dma_fd_ent){ .dev = st.st_dev, .ino = st.st_ino, .fd = fd, .refs = 1 };
	t->used++;
	return fd;
}

/* Backward-shift deletion keeps every probe chain whole. */
static void remove_at(struct dma_fds *t, struct dma_fd_ent *e)
{
	uint32_t mask = t->cap - 1, i = (uint32_t)(e - t->tab);

	e->fd = -1;
	t->used--;
	for (uint32_t j = (i + 1) & mask; t->tab[j].fd >= 0; j = (j + 1) & mask) {
		uint32_t home = (uint32_t)hash(t->tab[j].dev, t->tab[j].ino) & mask;

		/* move j back to the hole at i unless its home lies cyclically in (i, j] */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->tab[i] = t->tab[j];
			t->tab[j].fd = -1;
			i = j;
		}
	}
}

static struct dma_fd_ent *find_fd(const struct dma_fds *t, int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0) {
		struct dma_fd_ent *e = slot(t, st.st_dev, st.st_ino);

		if (e->fd == fd)
			return e;
	}
	for (uint32_t i = 0; i < t->cap; i++) /* not where its file says (cannot happen): by number */
		if (t->tab[i].fd == fd)
			return &t->tab[i];
	return NULL;
}

void dma_fds_put(struct dma_fds *t, int fd)
{
	struct dma_fd_ent *e = fd >= 0 && t->cap ? find_fd(t, fd) : NULL;

	if (e && --e->refs == 0) {
		close(fd);
		remove_at(t, e);
	}
}

void dma_fds_fini(struct dma_fds *t)
{
	for (uint32_t i = 0; i < t->cap; i++)
		if (t->tab[i].fd >= 0)
			close(t->tab[i].fd);
	if (t->tab)
		munmap(t->tab, t->cap * sizeof(*t->tab));
	memset(t, 0, sizeof(*t));
}

uint32_t dma_fds_count(const struct dma_fds *t)
{
	return t->used;
}
