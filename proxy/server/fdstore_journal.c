/* fdstore_journal.c: the fd store's journal: the message being handled and, once its effect is saved, its reply, in a shared memfd page, so that a restart after a kill answers that message again, or leaves it to be read and handled again, but never does both. */
#include "server/fdstore_journal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/handover_state.h"
#include "util/log.h"
#include "util/scm.h"

#define JOURNAL_MAGIC 0x4a505556u /* "VUPJ" */
#define JOURNAL_MAX 4096u

/*
 * With the store, a request leaves the socket only once it has been answered (session.c's peek mode):
 * a proxy killed before that leaves it there for the next, which handles it again, unless the journal
 * says it went further: its effect saved (its reply is here: send that instead), or its reply sent.
 */
struct fdstore_journal {
	uint32_t magic;
	uint32_t busy;          /* 1 from a message's start until it has left the socket */
	uint32_t sending;       /* 1 from just before its reply's sendmsg: the client has it */
	uint32_t reply_len;     /* the reply, header included; 0 for none */
	uint64_t committed_gen; /* the state generation that holds its effect (0: none saved) */
	struct vfio_user_header hdr; /* the request's header */
	uint8_t reply[JOURNAL_MAX];
};

int journal_map(int fd, struct fdstore_journal **out)
{
	struct fdstore_journal *j;

	if (ftruncate(fd, sizeof(*j)))
		return -errno;
	j = mmap(NULL, sizeof(*j), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (j == MAP_FAILED)
		return -errno;
	j->magic = JOURNAL_MAGIC;
	*out = j;
	return 0;
}

void journal_unmap(struct fdstore_journal *j)
{
	if (j)
		munmap(j, sizeof(*j));
}

void journal_begin(struct fdstore_journal *j, const struct vfio_user_header *hdr)
{
	j->hdr = *hdr;
	j->sending = 0;
	j->committed_gen = 0;
	j->reply_len = 0;
	__atomic_store_n(&j->busy, 1, __ATOMIC_RELEASE);
}

void journal_reply(struct fdstore_journal *j, uint64_t gen, const struct vfio_user_header *reply,
		   const void *payload, size_t len)
{
	if (!__atomic_load_n(&j->busy, __ATOMIC_ACQUIRE))
		return; /* a change of no message's (DMA progress, an unmask) */
	j->reply_len = 0;
	if (reply && sizeof(*reply) + len <= JOURNAL_MAX) {
		memcpy(j->reply, reply, sizeof(*reply));
		memcpy(j->reply + sizeof(*reply), payload, len);
		j->reply_len = (uint32_t)(sizeof(*reply) + len);
	}
	/* the state write that follows is the commit: that generation holds the effect */
	__atomic_store_n(&j->committed_gen, gen, __ATOMIC_RELEASE);
}

void journal_sending(struct fdstore_journal *j)
{
	__atomic_store_n(&j->sending, 1, __ATOMIC_RELEASE);
}

void journal_end(struct fdstore_journal *j)
{
	__atomic_store_n(&j->busy, 0, __ATOMIC_RELEASE);
}

/* Whether the message at the socket's head is the one the journal names (it may have left already). */
static bool at_head(int fd, const struct vfio_user_header *want)
{
	struct vfio_user_header h;

	return recv(fd, &h, sizeof(h), MSG_PEEK | MSG_DONTWAIT) == (ssize_t)sizeof(h) && h.msg_id == want->msg_id &&
	       h.cmd == want->cmd && h.msg_size == want->msg_size && h.flags == want->flags;
}

void journal_replay(int fd, const struct ho_state *st)
{
	struct fdstore_journal j;
	uint32_t idle = 0;
	int cfd = st->have_session && st->session.fd != HO_NONE ? st->fds[st->session.fd] : -1, zero = 0;
	bool answered, committed, whole;

	if (pread(fd, &j, sizeof(j), 0) != (ssize_t)sizeof(j) || j.magic != JOURNAL_MAGIC || j.busy != 1)
		return;
	/* read as untrusted as the state is */
	if (cfd < 0 || j.reply_len > JOURNAL_MAX || (j.reply_len && j.reply_len < sizeof(struct vfio_user_header)) ||
	    j.hdr.msg_size < sizeof(j.hdr))
		goto idle;
	/* peeks of the dead process's are forgotten: the head is the first byte not yet handled */
	if (setsockopt(cfd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)))
		goto idle;
	answered = j.sending;
	committed = j.committed_gen && j.committed_gen <= st->store.generation;
	whole = at_head(cfd, &j.hdr);
	/*
	 * Still whole in the socket: unless it went further than the state shows, it is read and handled
	 * again. Gone from it: it had been answered (only then does a message without fds leave), or it
	 * brought fds (it left whole when read), which are gone with it.
	 */
	if (whole && !answered && !committed)
		goto idle;
	if (!answered && committed) {
		/* its effect is in the state, the reply was not sent: send it, do not handle it again */
		if (j.reply_len && send(cfd, j.reply, j.reply_len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)j.reply_len)
			log_warn("fd store: the reply to message %u could not be sent again", j.hdr.msg_id);
	} else if (!answered && !(j.hdr.flags & VFIO_USER_F_NO_REPLY)) {
		struct vfio_user_header e = { .msg_id = j.hdr.msg_id, .cmd = j.hdr.cmd, .msg_size = sizeof(e),
					      .flags = VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR, .error_no = EAGAIN };

		log_warn("fd store: message %u (command %u) was being handled and had left the socket with fds "
			 "(its own, or those of one read with it): it cannot be handled again; answered EAGAIN",
			 j.hdr.msg_id, j.hdr.cmd);
		if (send(cfd, &e, sizeof(e), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(e))
			log_warn("fd store: the reply to message %u could not be sent", j.hdr.msg_id);
	}
	if (whole && scm_discard(cfd, j.hdr.msg_size)) /* unhandled, its fds dropped */
		log_warn("fd store: message %u could not be taken out of the socket", j.hdr.msg_id);
	log_info("fd store: message %u (command %u) had been %s before the restart", j.hdr.msg_id, j.hdr.cmd,
		 answered ? "answered" : committed ? "handled; its reply sent again" : "lost with fds");
idle:
	if (pwrite(fd, &idle, sizeof(idle), offsetof(struct fdstore_journal, busy)) != sizeof(idle))
		log_warn("fd store: cannot clear the journal: %s", strerror(errno));
}
