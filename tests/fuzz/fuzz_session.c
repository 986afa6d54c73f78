/* fuzz_session.c: libFuzzer harness: raw bytes, with fds chosen by control bytes, fed to a session over a socketpair (the code path real clients hit). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend.h"
#include "fuzz_input.h"
#include "server/session.h"
#include "util/guarded_copy.h"
#include "util/log.h"

/* How long the server waits for room in the socket before dropping the client: short, we drain in between. */
#define FUZZ_SEND_TIMEOUT_MS 5
/* The server's send buffer: room for the largest reply (1 MiB + header) and a few more. */
#define FUZZ_SNDBUF (8u << 20)
#define FUZZ_MAX_PENDING 128u
#define FUZZ_RX_CAP (2u * SESSION_BUF_SIZE)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct device_backend *backend;
static struct server_ctx ctx;
static struct session sess;
static int fd_baseline = -1;
static unsigned long runs;
static unsigned long check_every = 1;

/* What the peer (the fuzzed client) has seen of the server's output. */
struct peer {
	int fd;
	uint8_t *rx;
	size_t rx_len;
	struct {
		uint16_t msg_id;
		uint16_t cmd;
		uint32_t count;
	} pending[FUZZ_MAX_PENDING];
	unsigned int npending;
	bool dead; /* the session ended: stop feeding */
	bool used_memfd;
};

static uint8_t *rx_store;

/* ---- fds the control bytes ask for ---- */

static int new_memfd(size_t size, bool sealed)
{
	int fd = memfd_create("fuzz-win", MFD_CLOEXEC | (sealed ? MFD_ALLOW_SEALING : 0));

	if (fd < 0)
		abort();
	if (ftruncate(fd, (off_t)size))
		abort();
	if (sealed && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		abort();
	return fd;
}

static int reopen_readonly(int fd)
{
	char path[64];
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro < 0)
		abort();
	return ro;
}

/* One odd fd: things a hostile client may pass where the server wants a memfd or an eventfd. */
static unsigned int odd_fds(unsigned int which, int *fds)
{
	int p[2];

	switch (which) {
	case 0:
	case 1:
		if (pipe2(p, O_CLOEXEC))
			abort();
		fds[0] = p[which];
		close(p[!which]);
		return 1;
	case 2:
		fds[0] = open("/dev/null", O_RDWR | O_CLOEXEC);
		return fds[0] < 0 ? 0 : 1;
	case 3: {
		int m = new_memfd(1u << 16, true);

		fds[0] = reopen_readonly(m);
		close(m);
		return 1;
	}
	case 4:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
			abort();
		fds[0] = p[0];
		close(p[1]);
		return 1;
	case 5:
		fds[0] = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return fds[0] < 0 ? 0 : 1;
	case 6:
		fds[0] = eventfd(0, EFD_CLOEXEC);
		fds[1] = new_memfd(1u << 16, true);
		return 2;
	default:
		fds[0] = new_memfd(0, false); /* an empty file */
		return 1;
	}
}

/* Creates the fds a record's control byte names; returns how many. *shrink gets a memfd to truncate later. */
static unsigned int make_fds(uint8_t ctl, int *fds, int *shrink, struct peer *pr)
{
	unsigned int kind = ctl & FUZZ_CTL_KIND_MASK, p = (ctl >> FUZZ_CTL_PARAM_SHIFT) & FUZZ_CTL_PARAM_MASK;
	unsigned int n = 0;

	*shrink = -1;
	switch (kind) {
	case FUZZ_FD_EVENTFDS:
	case FUZZ_FD_MANY_EVENTFDS:
		n = kind == FUZZ_FD_EVENTFDS ? p + 1 : 14 + 4 * p;
		for (unsigned int i = 0; i < n; i++) {
			fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (fds[i] < 0)
				abort();
		}
		break;
	case FUZZ_FD_MEMFD:
		fds[n++] = new_memfd((size_t)FUZZ_MEMFD_UNIT << p, true);
		pr->used_memfd = true;
		break;
	case FUZZ_FD_MEMFD_SHRINK:
		fds[n++] = new_memfd((size_t)FUZZ_MEMFD_UNIT << p, false);
		*shrink = dup(fds[0]);
		pr->used_memfd = true;
		break;
	case FUZZ_FD_ODD:
		n = odd_fds(p, fds);
		pr->used_memfd = true;
		break;
	default:
		break;
	}
	return n;
}

/* ---- the peer: what a client sees ---- */

/* Keeps the server's DMA requests so that a later record may answer them; drops its replies. */
static void peer_take(struct peer *pr, const struct vfio_user_header *h, const uint8_t *payload)
{
	struct vfio_user_dma_access acc;

	if ((h->flags & VFIO_USER_F_TYPE_MASK) != VFIO_USER_F_TYPE_COMMAND)
		return;
	if (h->cmd != VFIO_USER_DMA_READ && h->cmd != VFIO_USER_DMA_WRITE)
		abort(); /* the server sends no other command */
	if (h->msg_size < sizeof(*h) + sizeof(struct vfio_user_dma_access))
		abort(); /* a DMA request without its address and count */
	memcpy(&acc, payload, sizeof(acc));
	if (pr->npending == FUZZ_MAX_PENDING)
		return;
	pr->pending[pr->npending].msg_id = h->msg_id;
	pr->pending[pr->npending].cmd = h->cmd;
	pr->pending[pr->npending].count = (uint32_t)acc.count;
	pr->npending++;
}

/* Reads whatever the server wrote (closing any fds it passed) and frames it. */
static void peer_drain(struct peer *pr)
{
	for (;;) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(16 * sizeof(int))];
		} control;
		struct iovec iov = { .iov_base = pr->rx + pr->rx_len, .iov_len = FUZZ_RX_CAP - pr->rx_len };
		struct msghdr msg = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		size_t off = 0;
		ssize_t n;

		n = recvmsg(pr->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n <= 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < nfds; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(fd);
			}
		}
		pr->rx_len += (size_t)n;
		while (pr->rx_len - off >= sizeof(struct vfio_user_header)) {
			struct vfio_user_header h;

			memcpy(&h, pr->rx + off, sizeof(h));
			if (h.msg_size < sizeof(h) || h.msg_size > VFIO_USER_MAX_MSG_SIZE)
				abort(); /* the server broke its own framing */
			if (pr->rx_len - off < h.msg_size)
				break;
			peer_take(pr, &h, pr->rx + off + sizeof(h));
			off += h.msg_size;
		}
		memmove(pr->rx, pr->rx + off, pr->rx_len - off);
		pr->rx_len -= off;
	}
}

/* Lets the server read; a failure ends the session (as the event loop would). */
static void pump(struct peer *pr)
{
	if (pr->dead)
		return;
	if (session_on_readable(&sess) < 0)
		pr->dead = true;
	peer_drain(pr);
}

/* Writes buf with fds on its first byte, letting the server read whenever the socket is full. */
static void peer_send(struct peer *pr, const uint8_t *buf, size_t len, const int *fds, unsigned int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(FUZZ_MAX_FDS * sizeof(int))];
	} control;
	size_t done = 0;

	while (done < len && !pr->dead) {
		struct iovec iov = { .iov_base = (void *)(buf + done), .iov_len = len - done };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (done == 0 && nfds) {
			struct cmsghdr *c;

			memset(&control, 0, sizeof(control));
			msg.msg_control = control.buf;
			msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
			c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
			memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
		}
		n = sendmsg(pr->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return;
			pump(pr);
			continue;
		}
		done += (size_t)n;
	}
}

/* Answers the server's outstanding DMA requests: with data, with an error, or cut short. */
static void peer_answer(struct peer *pr, unsigned int how)
{
	static uint8_t fill[sizeof(struct vfio_user_dma_access) + FUZZ_DMA_ANSWER_MAX];
	unsigned int n = pr->npending;

	pr->npending = 0;
	for (unsigned int i = 0; i < n && !pr->dead; i++) {
		struct vfio_user_header h = {
			.msg_id = pr->pending[i].msg_id,
			.cmd = pr->pending[i].cmd,
			.msg_size = sizeof(h),
			.flags = VFIO_USER_F_TYPE_REPLY,
		};
		uint8_t msg[sizeof(h) + sizeof(fill)];
		size_t len = 0;

		if (how == FUZZ_ANSWER_ERROR) {
			h.flags |= VFIO_USER_F_ERROR;
			h.error_no = EFAULT;
		} else if (h.cmd == VFIO_USER_DMA_READ) {
			uint32_t count = pr->pending[i].count;

			if (count > FUZZ_DMA_ANSWER_MAX)
				count = FUZZ_DMA_ANSWER_MAX;
			len = sizeof(struct vfio_user_dma_access) + count; /* data at payload offset 16 */
			if (how == FUZZ_ANSWER_SHORT)
				len = len > 1 ? len - 1 : 0;
			memset(fill, 0xa5, sizeof(fill));
		}
		h.msg_size = (uint32_t)(sizeof(h) + len);
		memcpy(msg, &h, sizeof(h));
		memcpy(msg + sizeof(h), fill, len);
		peer_send(pr, msg, sizeof(h) + len, NULL, 0);
		pump(pr);
	}
}

/* ---- leak checks ---- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		abort();
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static void list_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[300], target[256];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		fprintf(stderr, "  fd %s -> %s\n", e->d_name, target);
	}
	if (d)
		closedir(d);
}

/* Mappings of client memfds left behind, and the RAM BAR mapped exactly once. */
static void check_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int windows = 0, bars = 0;

	if (!f)
		abort();
	while (fgets(line, sizeof(line), f)) {
		windows += strstr(line, "memfd:fuzz-win") != NULL;
		bars += strstr(line, "memfd:vfio-user-proxy-bar4") != NULL;
	}
	fclose(f);
	if (windows || bars != 1) {
		fprintf(stderr, "fuzz_session: after the session ended %d client window mapping(s) remain and "
				"the RAM BAR is mapped %d times (want 0 and 1)\n", windows, bars);
		abort();
	}
}

static void check_leaks(bool maps)
{
	int n;

	if (maps)
		check_maps();
	if (runs % check_every)
		return;
	n = count_fds();
	if (fd_baseline < 0) {
		fd_baseline = n;
		return;
	}
	if (n != fd_baseline) {
		fprintf(stderr, "fuzz_session: %d fds open after the session ended, %d before: a leak\n", n,
			fd_baseline);
		list_fds();
		abort();
	}
}

/* ---- libFuzzer entry points ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *every = getenv("FUZZ_FD_CHECK_EVERY");

	log_threshold = getenv("FUZZ_LOG") ? LOG_LVL_DEBUG : LOG_LVL_ERROR;
	if (every && atoi(every) > 0)
		check_every = (unsigned long)atoi(every);
	if (emulated_backend_create("edu", &backend) || server_ctx_init(&ctx, backend, FUZZ_SEND_TIMEOUT_MS))
		abort();
	rx_store = malloc(FUZZ_RX_CAP);
	if (!rx_store)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peer pr = { .rx = rx_store };
	struct fuzz_reader rd = { .data = data, .size = size };
	struct fuzz_record r;
	int sv[2], sndbuf = FUZZ_SNDBUF;

	if (runs++ == 0 && guarded_copy_init())
		abort(); /* libFuzzer took SIGBUS after our initialisation: the server's guarded copies need it back */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)))
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	pr.fd = sv[1];
	if (session_start(&sess, &ctx, sv[0]))
		abort();

	while (!pr.dead && fuzz_next_record(&rd, &r)) {
		int fds[FUZZ_MAX_FDS], shrink = -1;
		unsigned int nfds = make_fds(r.ctl, fds, &shrink, &pr);
		unsigned int kind = r.ctl & FUZZ_CTL_KIND_MASK;

		if (kind == FUZZ_FD_BYTEWISE) {
			size_t i;

			for (i = 0; i < r.len && i < FUZZ_BYTEWISE_MAX && !pr.dead; i++) {
				peer_send(&pr, r.data + i, 1, NULL, 0);
				pump(&pr);
			}
			if (i < r.len)
				peer_send(&pr, r.data + i, r.len - i, NULL, 0);
		} else {
			if (kind == FUZZ_FD_PEER_SHUT_RD)
				shutdown(pr.fd, SHUT_RD);
			peer_send(&pr, r.data, r.len, fds, nfds);
		}
		for (unsigned int i = 0; i < nfds; i++)
			close(fds[i]); /* the server has its own copies now (or they died with the message) */
		pump(&pr);
		if (shrink >= 0) {
			/* The client shrinks a window's file under the server: its copies must fault safely. */
			if (ftruncate(shrink, 0))
				abort();
			close(shrink);
		}
		if (FUZZ_CTL_ANSWER(r.ctl))
			peer_answer(&pr, FUZZ_CTL_ANSWER(r.ctl));
	}
	/* The client goes away: end of stream first (a message may be cut short), then the session ends. */
	if (!pr.dead) {
		shutdown(pr.fd, SHUT_WR);
		pump(&pr);
	}
	session_end(&sess);
	close(pr.fd);
	check_leaks(pr.used_memfd || runs % 256 == 0);
	return 0;
}
