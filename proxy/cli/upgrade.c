/* upgrade.c: `vfio-user-proxy upgrade --pid N`: asks a serving proxy for a hand-over (SIGHUP) and waits for its outcome. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "util/notify.h"

/*
 * The outcome channel (util/notify.h): we listen on an abstract datagram socket named after our own pid,
 * with SO_PASSCRED (the kernel attaches each sender's pid and uid), then send SIGHUP with sigqueue
 * carrying a random cookie. Only the process we signalled learns the cookie (from its signalfd); it hands
 * it on to its successor only. A message counts only with that cookie, from uid 0 or the proxy's uid, and:
 * "READY=1, MAINPID=M" only from pid M itself (the successor; N again when it execs in place),
 * "ERRNO=" (the proxy serves on) only from pid N; "HANDOVER_REFUSED=1" from a refusing successor only
 * adds its reason. Anything else is dropped unread.
 */

#define PROG "vfio-user-proxy upgrade"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vfio-user-proxy upgrade --pid N [--timeout SECONDS]\n"
		"\n"
		"Hands a serving proxy (emulate, export) over to the binary now installed at its path (SIGHUP) and\n"
		"waits for the outcome: exit 0 and 'upgraded: pid N -> M' once the successor serves, 1 when the\n"
		"proxy serves on (the successor refused its state, the hand-over was impossible) or did not answer.\n"
		"\n"
		"options:\n"
		"  --pid N            the proxy's process id (systemd: $MAINPID)\n"
		"  --timeout SECONDS  how long to wait for the outcome (default 30)\n"
		"  --help             this text\n");
}

/* /proc/PID/FILE into buf (NUL-terminated, NULs of cmdline as spaces); its length or -errno. */
static int proc_read(pid_t pid, const char *file, char *buf, size_t size)
{
	char path[64];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = 0; i + 1 < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return (int)n;
}

/*
 * Whether pid is a serving vfio-user-proxy, as far as /proc shows (a unit's ProtectProc=invisible hides it:
 * then its supervisor's $MAINPID is taken on trust). 0, or 1 after saying why not. *uid: its real uid, or -1.
 */
static int check_target(pid_t pid, long *uid)
{
	char comm[64], cmd[4096], status[4096], *u;

	*uid = -1;
	if (kill(pid, 0) && errno == ESRCH) {
		fprintf(stderr, "%s: no process %d\n", PROG, (int)pid);
		return 1;
	}
	if (proc_read(pid, "comm", comm, sizeof(comm)) < 0)
		return 0; /* hidden from us */
	if (strcmp(comm, "vfio-user-proxy") != 0 || proc_read(pid, "cmdline", cmd, sizeof(cmd)) < 0 ||
	    (!strstr(cmd, " emulate") && !strstr(cmd, " export"))) {
		fprintf(stderr, "%s: pid %d is not a serving vfio-user-proxy (it is '%s'); nothing sent\n", PROG, (int)pid,
			comm);
		return 1;
	}
	if (proc_read(pid, "status", status, sizeof(status)) > 0 && (u = strstr(status, "\nUid:")))
		*uid = strtol(u + 5, NULL, 10);
	return 0;
}

/* The value of KEY= in a message (a copy in out, control characters made '?'), or NULL. */
static const char *field(const char *msg, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);

	for (const char *p = msg; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t i = 0;

			for (p += klen + 1; *p && *p != '\n' && i + 1 < size; p++)
				out[i++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
			out[i] = '\0';
			return out;
		}
	}
	return NULL;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* One datagram and its sender's credentials. Its length, or -errno. */
static int receive(int sock, char *buf, size_t size, struct ucred *cred)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	bool have = false;

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len == CMSG_LEN(sizeof(*cred))) {
			memcpy(cred, CMSG_DATA(c), sizeof(*cred));
			have = true;
		}
		/* fds nobody should send: closed */
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				close(fd);
			}
	}
	return have ? (int)n : -EPROTO;
}

static int wait_outcome(int sock, pid_t pid, long uid, uint32_t cookie, int timeout_s)
{
	long deadline = now_ms() + timeout_s * 1000L;
	char refused[320] = "", want[16];

	snprintf(want, sizeof(want), "%08x", cookie);
	for (;;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		char msg[1024], v[256], st[300];
		struct ucred cred;
		long left = deadline - now_ms();
		int n;

		if (left <= 0) {
			fprintf(stderr, "%s: no answer from pid %d within %d s%s%s\n", PROG, (int)pid, timeout_s,
				refused[0] ? ": " : "", refused);
			return 1;
		}
		if (poll(&p, 1, left < 200 ? (int)left : 200) == 0) {
			if (kill(pid, 0) && errno == ESRCH && poll(&p, 1, 0) == 0) {
				fprintf(stderr, "%s: pid %d exited without an answer%s%s\n", PROG, (int)pid,
					refused[0] ? ": " : "", refused);
				return 1;
			}
			continue;
		}
		n = receive(sock, msg, sizeof(msg), &cred);
		if (n < 0)
			continue;
		if (!field(msg, "COOKIE", v, sizeof(v)) || strcmp(v, want) != 0)
			continue; /* not from the process we signalled, nor from what it handed the cookie to */
		if (cred.uid != 0 && uid >= 0 && (long)cred.uid != uid)
			continue;
		if (field(msg, "HANDOVER_REFUSED", v, sizeof(v))) {
			if (field(msg, "STATUS", st, sizeof(st)))
				snprintf(refused, sizeof(refused), "%s", st);
			continue;
		}
		if (field(msg, "READY", v, sizeof(v)) && field(msg, "MAINPID", v, sizeof(v)) &&
		    strtol(v, NULL, 10) == (long)cred.pid) {
			printf("upgraded: pid %d -> %d\n", (int)pid, (int)cred.pid);
			return 0;
		}
		if (field(msg, "ERRNO", v, sizeof(v)) && cred.pid == pid) {
			if (!field(msg, "STATUS", st, sizeof(st)))
				snprintf(st, sizeof(st), "error %s", v);
			fprintf(stderr, "%s: pid %d did not hand over: %s%s%s\n", PROG, (int)pid, refused[0] ? refused : st,
				refused[0] ? "; " : "", refused[0] ? "it serves on" : "");
			return 1;
		}
	}
}

int cmd_upgrade(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "pid", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, pid = 0, timeout_s = 30, sock, one = 1, ret;
	struct sockaddr_un sa;
	socklen_t len;
	uint32_t cookie;
	long uid;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 'p':
			if (cli_parse_int(optarg, 1, 0x3fffffff, &pid)) {
				fprintf(stderr, "%s: --pid needs a process id, not '%s'\n", PROG, optarg);
				return 2;
			}
			break;
		case 't':
			if (cli_parse_int(optarg, 1, 3600, &timeout_s)) {
				fprintf(stderr, "%s: --timeout needs seconds (1-3600), not '%s'\n", PROG, optarg);
				return 2;
			}
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!pid || optind < argc) {
		fprintf(stderr, "%s: %s; see %s --help\n", PROG, !pid ? "--pid N is needed" : "it takes no operands", PROG);
		return 2;
	}
	if (check_target(pid, &uid))
		return 1;
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	len = notify_upgrader_addr(getpid(), &sa);
	if (sock < 0 || setsockopt(sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ||
	    bind(sock, (struct sockaddr *)&sa, len)) {
		fprintf(stderr, "%s: cannot listen for the answer: %s\n", PROG, strerror(errno));
		return 1;
	}
	if (getrandom(&cookie, sizeof(cookie), 0) != sizeof(cookie)) {
		fprintf(stderr, "%s: no random cookie: %s\n", PROG, strerror(errno));
		close(sock);
		return 1;
	}
	if (sigqueue(pid, SIGHUP, (union sigval){ .sival_int = (int)cookie })) {
		fprintf(stderr, "%s: cannot signal pid %d: %s\n", PROG, pid, strerror(errno));
		close(sock);
		return 1;
	}
	ret = wait_outcome(sock, pid, uid, cookie, timeout_s);
	close(sock);
	return ret;
}
