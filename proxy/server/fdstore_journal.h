/* fdstore_journal.h: the fd store's journal of the message being handled (fdstore_journal.c). */
#ifndef SERVER_FDSTORE_JOURNAL_H
#define SERVER_FDSTORE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vfio-user.h"

struct fdstore_journal;
struct ho_state;

/* Sizes the memfd fd for the journal and maps it (shared): 0 or -errno. */
int journal_map(int fd, struct fdstore_journal **out);
void journal_unmap(struct fdstore_journal *j);
/* A message's handling starts (it is at the socket's head: session.c's peek mode). */
void journal_begin(struct fdstore_journal *j, const struct vfio_user_header *hdr);
/* Its effect is about to be saved as generation gen; reply (NULL: none goes) is what it will say. */
void journal_reply(struct fdstore_journal *j, uint64_t gen, const struct vfio_user_header *reply,
		   const void *payload, size_t len);
/* Its reply's sendmsg is next. */
void journal_sending(struct fdstore_journal *j);
/* It has left the socket (answered, or none was due). */
void journal_end(struct fdstore_journal *j);
/*
 * A restart, before serving: a message the journal in fd says was being handled, still at the head of
 * the client's socket in st, is taken out of it when it had been answered, or answered again and taken
 * out when st (the state resumed) holds its effect; else it stays, to be handled again. The journal is
 * left idle.
 */
void journal_replay(int fd, const struct ho_state *st);

#endif /* SERVER_FDSTORE_JOURNAL_H */
