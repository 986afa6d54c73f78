/* fuzz_input.h: the session fuzzer's input format (records of control byte, length, bytes), shared with make_seeds. */
#ifndef TESTS_FUZZ_INPUT_H
#define TESTS_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * An input is a sequence of records: u8 ctl, u16 len (little endian), len bytes written to the socket
 * in one sendmsg, with the fds ctl names attached to the first byte. A short tail is one plain chunk.
 * ctl bits 0-2: what goes with the bytes (enum fuzz_fd_kind); bits 3-5: a parameter for it;
 * bits 6-7: after the server has read the chunk, answer its outstanding DMA_READ/DMA_WRITE requests
 * (enum fuzz_answer).
 */
#define FUZZ_CTL_KIND_MASK 0x7u
#define FUZZ_CTL_PARAM_SHIFT 3
#define FUZZ_CTL_PARAM_MASK 0x7u
#define FUZZ_CTL_ANSWER_SHIFT 6
#define FUZZ_CTL_ANSWER(ctl) (((unsigned int)(ctl) >> FUZZ_CTL_ANSWER_SHIFT) & 3u)
#define FUZZ_CTL(kind, param, answer) \
	((uint8_t)((kind) | ((param) << FUZZ_CTL_PARAM_SHIFT) | ((answer) << FUZZ_CTL_ANSWER_SHIFT)))

enum fuzz_fd_kind {
	FUZZ_FD_NONE = 0,
	FUZZ_FD_EVENTFDS = 1,      /* param + 1 eventfds */
	FUZZ_FD_MEMFD = 2,         /* a sealed memfd of FUZZ_MEMFD_UNIT << param bytes */
	FUZZ_FD_MEMFD_SHRINK = 3,  /* an unsealed one, truncated to 0 once the server has read the chunk */
	FUZZ_FD_MANY_EVENTFDS = 4, /* 14 + 4 * param eventfds: over the SET_IRQS limit and the cmsg room */
	FUZZ_FD_ODD = 5,           /* pipe ends, /dev/null, a read-only memfd, a socket, a directory, ... */
	FUZZ_FD_BYTEWISE = 6,      /* no fd: the first FUZZ_BYTEWISE_MAX bytes go one at a time */
	FUZZ_FD_PEER_SHUT_RD = 7,  /* no fd: the client stops reading (the server's sends fail) */
};

enum fuzz_answer {
	FUZZ_ANSWER_NONE = 0,
	FUZZ_ANSWER_DATA = 1,  /* DMA_READ with the data, DMA_WRITE acknowledged */
	FUZZ_ANSWER_ERROR = 2, /* error replies */
	FUZZ_ANSWER_SHORT = 3, /* DMA_READ replies one byte short */
};

#define FUZZ_MAX_FDS 42u
#define FUZZ_MEMFD_UNIT 4096u
#define FUZZ_BYTEWISE_MAX 64u
#define FUZZ_DMA_ANSWER_MAX 4096u

struct fuzz_reader {
	const uint8_t *data;
	size_t size;
	size_t off;
};

struct fuzz_record {
	uint8_t ctl;
	const uint8_t *data;
	size_t len;
};

static inline bool fuzz_next_record(struct fuzz_reader *rd, struct fuzz_record *r)
{
	size_t left = rd->size - rd->off;

	if (left == 0)
		return false;
	if (left < 3) {
		r->ctl = 0;
		r->data = rd->data + rd->off;
		r->len = left;
		rd->off = rd->size;
		return true;
	}
	r->ctl = rd->data[rd->off];
	r->len = (size_t)rd->data[rd->off + 1] | (size_t)rd->data[rd->off + 2] << 8;
	rd->off += 3;
	if (r->len > rd->size - rd->off)
		r->len = rd->size - rd->off;
	r->data = rd->data + rd->off;
	rd->off += r->len;
	return true;
}

#endif /* TESTS_FUZZ_INPUT_H */
