/* fdstore.c: systemd's file descriptor store (--fd-store): the session's files kept there under stable names and the state rewritten after every change, so that a proxy killed mid-session is restarted into it; and the restart's side, taking them back. */
#include "server/server_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/kcmp.h>
#include <systemd/sd-daemon.h>

#include "server/fdstore_journal.h"
#include "util/handover_state.h"
#include "util/log.h"
#include "util/notify.h"

#define STATE_NAME "vup-state-" /* + 0 or 1: the two memfds the state is written to, in turn */
#define JOURNAL_NAME "vup-journal" /* the message being handled (fdstore_journal.c) */
#define FD_PREFIX "vup-"        /* + id: every other file */
#define BARRIER_MS 5000

/* Whether a and b are the same open file (kcmp; without it, never: the file is stored again). */
static bool same_file(int a, int b)
{
	pid_t pid = getpid();

	return syscall(SYS_kcmp, pid, pid, KCMP_FILE, a, b) == 0;
}

/* The name of store file i: vup-state-0, vup-state-1, vup-journal. */
static void file_name(char *buf, size_t len, int i)
{
	if (i < 2)
		snprintf(buf, len, STATE_NAME "%d", i);
	else
		snprintf(buf, len, JOURNAL_NAME);
}

/* Whatever the store holds under name goes (systemd closes its copies). 0 or -errno. */
static int remove_name(const char *name)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	return notify_supervisor_send(msg, -1);
}

/* The store no longer follows the session: its state goes too, so that a restart starts afresh rather
 * than resuming a stale one. */
static void broken(struct fdstore *fs, const char *what, int err)
{
	if (fs->broken)
		return;
	log_warn("fd store: %s failed (%s): a restart after a crash will not resume this session", what,
		 strerror(err));
	fs->broken = true;
	for (int i = 0; i < 2; i++) {
		char name[32];

		file_name(name, sizeof(name), i);
		remove_name(name);
	}
}

static int push(struct fdstore *fs, int fd, const char *name)
{
	char msg[64];
	int ret;

	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	ret = notify_supervisor_send(msg, fd);
	if (ret)
		broken(fs, "storing a file", -ret);
	return ret;
}

static void drop(struct fdstore *fs, const char *name)
{
	int ret = remove_name(name);

	if (ret)
		broken(fs, "removing a file", -ret);
}

static void id_name(char *buf, size_t len, uint32_t id)
{
	snprintf(buf, len, FD_PREFIX "%" PRIu32, id);
}

/* Removes entry i from the store and our mirror of it. */
static void forget_entry(struct fdstore *fs, uint32_t i)
{
	char name[32];

	id_name(name, sizeof(name), fs->e[i].id);
	drop(fs, name);
	close(fs->e[i].mirror);
	fs->e[i] = fs->e[--fs->n];
}

static int add_entry(struct fdstore *fs, int fd, uint32_t id)
{
	struct fdstore_entry *e;
	int mirror;

	if (fs->n == fs->cap) {
		uint32_t cap = fs->cap ? 2 * fs->cap : 64;

		e = realloc(fs->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		fs->e = e;
		fs->cap = cap;
	}
	mirror = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (mirror < 0)
		return -errno;
	fs->e[fs->n++] = (struct fdstore_entry){ .fd = fd, .mirror = mirror, .id = id };
	if (id >= fs->next_id)
		fs->next_id = id + 1;
	return 0;
}

/*
 * The store holds exactly st's files: new ones pushed, gone ones removed. ids[i] gets the id of st's fd i.
 * With sync false the files are taken to be those of the last sync (only the state changed).
 */
static int sync_files(struct fdstore *fs, const struct ho_state *st, uint32_t *ids, bool sync)
{
	uint32_t old_n = fs->n, top = 0;
	uint8_t *keep = calloc(old_n ? old_n : 1, 1);
	int32_t *at = NULL; /* entry index by fd number: one look-up a file, not a scan */
	int ret = 0;

	for (uint32_t k = 0; k < old_n; k++)
		top = (uint32_t)fs->e[k].fd > top ? (uint32_t)fs->e[k].fd : top;
	if (keep)
		at = malloc(((size_t)top + 1) * sizeof(*at));
	if (!at) {
		free(keep);
		return -ENOMEM;
	}
	memset(at, 0xff, ((size_t)top + 1) * sizeof(*at));
	for (uint32_t k = 0; k < old_n; k++)
		at[fs->e[k].fd] = (int32_t)k;
	for (uint32_t i = 0; i < st->nfds && !ret; i++) {
		int32_t k = (uint32_t)st->fds[i] <= top ? at[st->fds[i]] : -1;
		uint32_t id = 0;

		if (k >= 0 && (!sync || same_file(st->fds[i], fs->e[k].mirror))) {
			id = fs->e[k].id;
			keep[k] = 1;
		}
		if (!id && !sync) {
			ret = -EAGAIN; /* a file the last sync did not see: sync now */
		} else if (!id) {
			char name[32];

			id = fs->next_id;
			id_name(name, sizeof(name), id);
			ret = add_entry(fs, st->fds[i], id);
			if (!ret)
				ret = push(fs, st->fds[i], name);
		}
		ids[i] = id;
	}
	/* from the top down: forget_entry moves the last entry into the place it frees */
	for (uint32_t k = old_n; sync && !ret && k-- > 0;)
		if (!keep[k])
			forget_entry(fs, k);
	free(at);
	free(keep);
	return ret;
}

/* The encoded state into the older of the two memfds: a crash mid-write leaves the other one whole. */
static int write_state(struct fdstore *fs, const uint8_t *buf, size_t len)
{
	int fd = fs->files[(fs->generation + 1) & 1];

	if (ftruncate(fd, (off_t)len) || pwrite(fd, buf, len, 0) != (ssize_t)len)
		return -errno;
	return 0;
}

int fdstore_annotate(struct server *srv, struct ho_state *st, bool files_changed)
{
	struct fdstore *fs = &srv->store;
	uint32_t *ids = calloc(st->nfds ? st->nfds : 1, sizeof(*ids));
	int ret = ids ? 0 : -ENOMEM;

	if (!ret) {
		ret = sync_files(fs, st, ids, files_changed);
		if (ret == -EAGAIN)
			ret = sync_files(fs, st, ids, true);
	}
	if (!ret) {
		st->store.generation = fs->generation + 1;
		ret = ho_state_set_store_ids(st, ids);
	}
	free(ids);
	return ret;
}

void fdstore_checkpoint(struct server *srv, bool files_changed)
{
	struct fdstore *fs = &srv->store;
	struct ho_state st;
	uint8_t *buf = NULL;
	size_t len;
	int ret;

	if (!fs->on || fs->broken)
		return;
	ho_state_init(&st);
	ret = server_state_save(srv, &st);
	if (ret == -EBUSY) {
		fs->pending = true; /* the device's own DMA is in flight: once it is done */
		goto out;
	}
	if (!ret)
		ret = fdstore_annotate(srv, &st, files_changed || fs->pending);
	if (!ret)
		ret = ho_encode(&st, &buf, &len);
	if (!ret)
		ret = write_state(fs, buf, len);
	if (ret) {
		broken(fs, "saving the state", -ret);
		goto out;
	}
	fs->generation++;
	fs->pending = false;
out:
	free(buf);
	ho_state_free(&st);
}

void fdstore_republish(struct server *srv)
{
	struct fdstore *fs = &srv->store;

	/* the state memfds and the journal: a refusing successor put its own in their place */
	for (int i = 0; fs->on && i < 3; i++) {
		char name[32];

		file_name(name, sizeof(name), i);
		drop(fs, name);
		push(fs, fs->files[i], name);
	}
}

void fdstore_forget_session(struct server *srv)
{
	struct fdstore *fs = &srv->store;
	int ret;

	if (!fs->on)
		return;
	/* the listening socket stays; the rest comes back with the next checkpoint */
	for (uint32_t k = fs->n; k-- > 0;)
		if (fs->e[k].fd != srv->listen_fd || !same_file(srv->listen_fd, fs->e[k].mirror))
			forget_entry(fs, k);
	/* systemd has closed its copies once it answers: the device's files are ours alone again */
	ret = notify_supervisor_barrier(BARRIER_MS);
	if (ret)
		broken(fs, "waiting for systemd to drop the session's files", -ret);
}

/* Store file i (vup-state-0, -1, the journal): a restart's own, else a new memfd in place of any predecessor's. */
static int store_file(struct fdstore *fs, int i)
{
	char name[32];
	int fd;

	file_name(name, sizeof(name), i);
	if (fs->files[i] >= 0)
		return 0;
	fd = memfd_create(i < 2 ? "vfio-user-proxy-state" : "vfio-user-proxy-journal", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	fs->files[i] = fd;
	drop(fs, name); /* a predecessor's (a hand-over), if any */
	return push(fs, fd, name);
}

int fdstore_open(struct server *srv, const struct ho_state *st)
{
	struct fdstore *fs = &srv->store;
	int ret = 0;

	fs->on = true;
	fs->next_id = fs->next_id ? fs->next_id : 1;
	if (!notify_supervisor_available() || notify_supervisor_connect(BARRIER_MS)) {
		log_error("--fd-store needs systemd: run the proxy from a unit with FileDescriptorStoreMax= set");
		return -ENOTCONN;
	}
	/* a restart or a hand-over: the state's files are in the store under the ids it names */
	if (st && st->have_store) {
		fs->generation = st->store.generation;
		for (uint32_t i = 0; i < st->nfds && !ret; i++)
			ret = add_entry(fs, st->fds[i], st->store.ids[i]);
	}
	for (int i = 0; i < 3 && !ret; i++)
		ret = store_file(fs, i);
	if (!ret)
		ret = journal_map(fs->files[2], &fs->journal);
	if (ret) {
		log_error("cannot set up the fd store: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

void fdstore_close(struct fdstore *fs)
{
	for (uint32_t k = 0; k < fs->n; k++)
		close(fs->e[k].mirror);
	free(fs->e);
	fs->e = NULL;
	fs->n = fs->cap = 0;
	journal_unmap(fs->journal);
	fs->journal = NULL;
	for (int i = 0; i < 3; i++)
		if (fs->files[i] >= 0)
			close(fs->files[i]);
	fs->files[0] = fs->files[1] = fs->files[2] = -1;
}

/* ---- what the session tells the store ---- */

static void ops_begin(void *arg, const struct vfio_user_header *hdr)
{
	struct fdstore *fs = &((struct server *)arg)->store;

	if (fs->journal && !fs->broken)
		journal_begin(fs->journal, hdr);
}

static void ops_changed(void *arg, bool files, const struct vfio_user_header *reply, const void *payload, size_t len)
{
	struct server *srv = arg;
	struct fdstore *fs = &srv->store;

	if (fs->journal && !fs->broken)
		journal_reply(fs->journal, fs->generation + 1, reply, payload, len);
	fdstore_checkpoint(srv, files);
}

static void ops_sending(void *arg)
{
	struct fdstore *fs = &((struct server *)arg)->store;

	if (fs->journal)
		journal_sending(fs->journal);
}

static void ops_end(void *arg)
{
	struct fdstore *fs = &((struct server *)arg)->store;

	if (fs->journal)
		journal_end(fs->journal);
}

const struct session_store_ops fdstore_session_ops = {
	.begin = ops_begin,
	.changed = ops_changed,
	.sending = ops_sending,
	.end = ops_end,
};

/* ---- the restart ---- */

/* The state in memfd fd (read whole), decoded into st with have_store; 0 or -errno. */
static int read_state(int fd, struct ho_state *st)
{
	struct stat sb;
	uint8_t *buf;
	char why[160];
	int ret;

	ho_state_init(st);
	if (fstat(fd, &sb) || sb.st_size <= 0 || sb.st_size > (off_t)(64u << 20))
		return -EINVAL;
	buf = malloc((size_t)sb.st_size);
	if (!buf)
		return -ENOMEM;
	ret = pread(fd, buf, (size_t)sb.st_size, 0) == sb.st_size ? 0 : -EIO;
	if (!ret)
		ret = ho_decode(buf, (size_t)sb.st_size, st, why, sizeof(why));
	if (ret)
		log_debug("fd store: a saved state is refused: %s", why);
	else if (!st->have_store)
		ret = -EINVAL;
	free(buf);
	return ret;
}

int fdstore_recover(struct ho_state *st, int store_fds[3])
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names), best = -1, ret = 0, removed = 0;
	struct ho_state cand[2];
	uint8_t *used;

	int *state_fds = store_fds;

	store_fds[0] = store_fds[1] = store_fds[2] = -1;
	ho_state_init(st);
	if (n <= 0)
		return 0;
	if (notify_supervisor_connect(BARRIER_MS))
		log_warn("fd store: NOTIFY_SOCKET cannot be reached: what the store holds stays in it");
	used = calloc((size_t)n, 1);
	for (int i = 0; i < 2; i++)
		ho_state_init(&cand[i]);
	if (!used)
		ret = -ENOMEM;
	for (int k = 0; used && k < n; k++) {
		int slot = -1;

		if (names && names[k] && strcmp(names[k], JOURNAL_NAME) == 0 && store_fds[2] < 0) {
			store_fds[2] = SD_LISTEN_FDS_START + k;
			used[k] = 1;
		} else if (names && names[k] && sscanf(names[k], STATE_NAME "%d", &slot) == 1 && (slot == 0 || slot == 1) &&
		    state_fds[slot] < 0) {
			state_fds[slot] = SD_LISTEN_FDS_START + k;
			used[k] = 1;
			if (read_state(state_fds[slot], &cand[slot]) == 0 &&
			    (best < 0 || cand[slot].store.generation > cand[best].store.generation))
				best = slot;
		}
	}
	if (ret) {
		log_warn("fd store: cannot take the %d stored files back: %s; starting afresh", n, strerror(-ret));
	} else if (best >= 0) {
		*st = cand[best];
		ho_state_init(&cand[best]);
		/* every fd of the state: the received file stored under its id */
		for (uint32_t i = 0; i < st->nfds && !ret; i++) {
			char want[32];
			int found = -1;

			id_name(want, sizeof(want), st->store.ids[i]);
			for (int k = 0; k < n && found < 0; k++)
				if (!used[k] && names && names[k] && strcmp(names[k], want) == 0)
					found = k;
			if (found < 0) {
				log_warn("fd store: file %s of the saved state is missing; starting afresh", want);
				ret = -ENOENT;
				break;
			}
			used[found] = 1;
			st->fds[i] = SD_LISTEN_FDS_START + found;
		}
	} else {
		log_warn("fd store: %d files but no valid saved state; starting afresh", n);
		ret = -ENOENT;
	}
	/* what the state does not name goes, from the store too */
	for (int k = 0; k < n; k++) {
		int fd = SD_LISTEN_FDS_START + k;

		if (used && used[k] && !ret)
			continue;
		if (names && names[k]) {
			remove_name(names[k]);
			removed++;
		}
		close(fd);
	}
	if (removed)
		notify_supervisor_barrier(BARRIER_MS); /* systemd has closed them: e.g. the old socket is gone */
	for (int k = 0; names && k < n; k++)
		free(names[k]);
	free(names);
	free(used);
	for (int i = 0; i < 2; i++)
		ho_state_free(&cand[i]);
	if (ret) {
		ho_state_free(st);
		store_fds[0] = store_fds[1] = store_fds[2] = -1;
		return 0;
	}
	if (store_fds[2] >= 0)
		journal_replay(store_fds[2], st); /* a message the kill came in the middle of */
	for (uint32_t i = 0; i < st->nfds; i++)
		fcntl(st->fds[i], F_SETFD, 0); /* inheritable until adopted, as a hand-over's are */
	log_info("fd store: resuming the session saved at generation %" PRIu64 " (%u files)", st->store.generation,
		 st->nfds);
	return 1;
}

bool fdstore_restart_pending(void)
{
	return sd_listen_fds(0) > 0;
}

void fdstore_discard(const struct ho_state *st)
{
	char name[32];

	for (uint32_t i = 0; st->have_store && i < st->nfds; i++) {
		id_name(name, sizeof(name), st->store.ids[i]);
		remove_name(name);
	}
	for (int i = 0; i < 3; i++) {
		file_name(name, sizeof(name), i);
		remove_name(name);
	}
	notify_supervisor_barrier(BARRIER_MS);
}
