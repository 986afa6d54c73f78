/* pingpong.c: the minimal AF_UNIX ping-pong, the floor of a trapped round trip: one write and one read a side, real sizes. */
#include "bench.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* A 4-byte REGION_READ: the header and access struct one way, those and the 4 bytes back; a write the reverse. */
static void sizes(bool is_write, size_t *req, size_t *reply)
{
	size_t bare = sizeof(struct vfio_user_header) + sizeof(struct vfio_user_region_access);

	*req = is_write ? bare + 4 : bare;
	*reply = is_write ? bare : bare + 4;
}

/* Per round exactly one blocking read of the request size and one write of the reply size; no parsing. */
static void __attribute__((noreturn)) serve(int fd, size_t req, size_t reply)
{
	static uint8_t buf[64];

	for (;;) {
		if (read(fd, buf, req) != (ssize_t)req)
			_exit(0); /* the client went away */
		if (write(fd, buf, reply) != (ssize_t)reply)
			_exit(0);
	}
}

int pingpong_launch(struct server *s, int cpu, bool is_write)
{
	size_t req, reply;
	int ret;

	memset(s, 0, sizeof(*s));
	s->kind = SERVER_PINGPONG;
	s->name = is_write ? "minimal ping-pong (write sizes)" : "minimal ping-pong (read sizes)";
	s->efd = -1;
	s->fd = -1;
	sizes(is_write, &req, &reply);
	ret = server_fork(s, cpu, &s->fd);
	if (!ret && s->pid == 0)
		serve(s->fd, req, reply);
	return ret;
}

int pingpong_round(struct server *s, bool is_write)
{
	static uint8_t buf[64];
	size_t req, reply;
	ssize_t k;

	sizes(is_write, &req, &reply);
	k = write(s->fd, buf, req);
	if (k != (ssize_t)req)
		return k < 0 ? -errno : -EIO;
	k = read(s->fd, buf, reply);
	if (k != (ssize_t)reply)
		return k < 0 ? -errno : -EIO;
	return 0;
}
