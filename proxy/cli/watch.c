/* watch.c: `vfio-user-proxy watch`: its options, and the event loop that exports each device bound to vfio-pci in a child of its own as devices come and go. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/watch_children.h"
#include "cli/watch_udev.h"
#include "util/log.h"

#define PROG "vfio-user-proxy watch"
#define DEFAULT_DIR "/run/vfio-user"
/* DIR/0000:00:03.0.sock must fit a UNIX socket address */
#define BDF_SOCK_LEN (sizeof("/0000:00:00.0.sock") - 1)

enum { OPT_DIR = CLI_OPT_CMD, OPT_ONCE, OPT_TRAP_BARS, OPT_IOMMU, OPT_ALLOW_NO_RESET };

struct watch {
	const char *dir;
	bool once;
	bool log_level_given;
	const char **pass; /* the export options, as given, for every child */
	int npass;
	char self[PATH_MAX]; /* our own binary: each child runs its export */
	struct children *children;
	bool stopping; /* SIGTERM or SIGINT came: no new child */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vfio-user-proxy watch [--dir DIR] [--once] [export options]\n"
		"\n"
		"Export every PCI device bound to vfio-pci, each by a `vfio-user-proxy export` child of its own on\n"
		"the socket DIR/BDF.sock (e.g. /run/vfio-user/0000:00:03.0.sock): the devices bound at start, then\n"
		"each device as it is bound (through udevd's events, or the kernel's where no udevd runs). A udev\n"
		"property " WATCH_OPT_OUT_PROPERTY "=0 (or no, off) keeps a device out.\n"
		"\n"
		"A child that fails (exit status not 0 or 3, or a signal) is restarted after 0.5 s, doubling up to\n"
		"30 s; after 5 failures within 60 s of each other, or at once when it exits 3 (the device may not\n"
		"be served again as it is), its device is given up on until it is bound again (or gets a change\n"
		"uevent: udevadm trigger). A child that exits 0 (as export does when the kernel asks\n"
		"for the device back) is not restarted. Unbinding or removing a device stops its child (SIGTERM, SIGKILL\n"
		"10 s later); SIGTERM or SIGINT stops every child the same way, then watch exits 0.\n"
		"\n"
		"  --dir DIR             where the sockets go (default " DEFAULT_DIR ", created with mode 0755)\n"
		"  --once                export what is bound now, follow no events, and exit once every child has\n"
		"                        ended: 0 when each device's last child exited 0, else 1\n"
		"  --help                this text\n"
		"\n"
		"export options, given to every child unchanged (see vfio-user-proxy export --help):\n"
		"  --trap-bars           never hand the client the device fd (every BAR access trapped)\n"
		"  --iommu auto|iommufd|legacy\n"
		"                        the IOMMU path (default auto)\n"
		"  --allow-no-reset      serve a device without any reset to client after client\n"
		"  --client-timeout MS   drop a client that leaves our messages unread this long (default 5000)\n"
		"  --log-level LEVEL     error, warn, info or debug (watch's own log too)\n"
		"  --socket-mode MODE    permission bits of each socket, e.g. 0660\n"
		"  --socket-group GROUP  group of each socket\n"
		"  --allow-uid USER      only this user may connect (repeatable)\n"
		"  --allow-gid GROUP     only members of this primary group may connect (repeatable)\n"
		"  --user USER           each child runs as USER once its device is open and its socket listens\n"
		"  --seccomp             confine each child to its serving loop's system calls (the default)\n"
		"  --no-seccomp          serve without that filter\n"
		"  --dma-limit SIZE      the most client memory mapped for DMA at once, per device (suffix K, M, G, T)\n"
		"  --poll-us N           busy-poll each socket up to N us after a message (0: off)\n"
		"\n"
		"Exit status: 0 (stopped by SIGTERM/SIGINT; --once: every device done), 1 a runtime failure (--once:\n"
		"a device given up on), 2 a usage error.\n");
}

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* One option of ours: 0 handled, 1 passed to the children, -1 a bad value (said on stderr). */
static int watch_option(struct watch *w, struct cli_serve *scratch, int opt, const char *arg)
{
	switch (opt) {
	case OPT_DIR:
		if (!*arg || strlen(arg) + BDF_SOCK_LEN >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			fprintf(stderr, PROG ": --dir needs a directory whose sockets' paths fit in %zu bytes\n",
				sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return -1;
		}
		w->dir = arg;
		return 0;
	case OPT_ONCE:
		w->once = true;
		return 0;
	case CLI_OPT_SOCKET_PATH:
	case CLI_OPT_FD:
		fprintf(stderr, PROG ": each device's socket is DIR/BDF.sock: give --dir DIR, not --socket-path or --fd\n");
		return -1;
	case CLI_OPT_FD_STORE:
		fprintf(stderr, PROG ": --fd-store is for an export that systemd runs (the unit), not for watch's children\n");
		return -1;
	case OPT_TRAP_BARS:
	case OPT_ALLOW_NO_RESET:
		return 1;
	case OPT_IOMMU:
		if (strcmp(arg, "auto") && strcmp(arg, "iommufd") && strcmp(arg, "legacy")) {
			fprintf(stderr, PROG ": unknown IOMMU path '%s'; use --iommu auto, iommufd or legacy\n", arg);
			return -1;
		}
		return 1;
	case CLI_OPT_USER: {
		char *end;
		long uid = strtol(arg, &end, 10);

		/* as the export will look it up */
		if (!((*arg && !*end) ? getpwuid((uid_t)uid) : getpwnam(arg))) {
			fprintf(stderr, PROG ": --user %s: no such user\n", arg);
			return -1;
		}
		return 1;
	}
	case CLI_OPT_LOG_LEVEL:
		w->log_level_given = true;
		break;
	}
	/* the export's own checks, into a scratch copy (--log-level sets ours too) */
	switch (cli_serve_option(scratch, opt, arg)) {
	case 1:
		return 1;
	case 0:
		usage(stderr);
		return -1;
	default:
		return -1;
	}
}

/* Parses argv into w: -1 to go on, else the exit code. */
static int parse(struct watch *w, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_SERVE_OPTIONS,
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "trap-bars", no_argument, NULL, OPT_TRAP_BARS },
		{ "iommu", required_argument, NULL, OPT_IOMMU },
		{ "allow-no-reset", no_argument, NULL, OPT_ALLOW_NO_RESET },
		{ NULL, 0, NULL, 0 },
	};
	static char names[sizeof(opts) / sizeof(opts[0])][32];
	struct cli_serve scratch;
	int opt, li, ret;

	cli_serve_init(&scratch, PROG);
	w->dir = DEFAULT_DIR;
	/* each option at most twice its words, and --log-level LEVEL */
	w->pass = calloc((size_t)argc * 2 + 2, sizeof(*w->pass));
	if (!w->pass) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	while ((opt = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		if (opt == CLI_OPT_HELP) {
			usage(stdout);
			return 0;
		}
		if (opt == '?') {
			usage(stderr);
			return 2;
		}
		ret = watch_option(w, &scratch, opt, optarg);
		if (ret < 0)
			return 2;
		if (ret > 0) {
			/* every option here is long-only, so li names it: passed by its full name, however abbreviated */
			snprintf(names[li], sizeof(names[li]), "--%s", opts[li].name);
			w->pass[w->npass++] = names[li];
			if (opts[li].has_arg == required_argument)
				w->pass[w->npass++] = optarg;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (watch takes no DEVICE: it exports every device "
				"bound to vfio-pci)\n",
			argv[optind]);
		return 2;
	}
	/* a global --log-level (before `watch`) reaches the children too */
	if (!w->log_level_given && log_threshold != LOG_LVL_INFO) {
		w->pass[w->npass++] = "--log-level";
		w->pass[w->npass++] = level_names[log_threshold];
	}
	return -1;
}

/* DIR, made if missing (mode 0755 whatever the umask). 0, or -1 (said on stderr). */
static int make_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0755) == 0) {
		if (chmod(dir, 0755) == 0)
			return 0;
	} else if (errno == EEXIST) {
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		errno = ENOTDIR;
	}
	fprintf(stderr, PROG ": cannot create the socket directory %s: %s\n", dir, strerror(errno));
	return -1;
}

/* libudev says a device is bound to vfio-pci (start its child) or gone from it (stop its child). */
static void on_device(void *ctx, const char *bdf, bool bound)
{
	struct watch *w = ctx;
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char **argv;
	int n = 0, ret;

	if (!bound) {
		if (children_stop(w->children, bdf) == -ENOENT)
			log_debug("watch: %s: unbound or removed, and not ours", bdf);
		return;
	}
	if (w->stopping)
		return;
	if ((size_t)snprintf(sock, sizeof(sock), "%s/%s.sock", w->dir, bdf) >= sizeof(sock)) {
		log_error("watch: %s: the socket path %s/%s.sock is too long; not exported", bdf, w->dir, bdf);
		return;
	}
	argv = calloc((size_t)w->npass + 6, sizeof(*argv));
	if (!argv) {
		log_error("watch: %s: out of memory; not exported", bdf);
		return;
	}
	argv[n++] = w->self;
	argv[n++] = "export";
	argv[n++] = bdf;
	argv[n++] = "--socket-path";
	argv[n++] = sock;
	for (int i = 0; i < w->npass; i++)
		argv[n++] = w->pass[i];
	ret = children_start(w->children, bdf, argv, sock);
	if (ret == -EALREADY)
		log_debug("watch: %s: bound, and already exported", bdf);
	else if (ret)
		log_error("watch: %s: cannot export it: %s", bdf, strerror(-ret));
	free(argv);
}

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* A signal to stop: the first stops every child, a second kills them. */
static void on_signal(struct watch *w, int sigfd)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (!w->stopping) {
			log_info("watch: signal %u: stopping every child (%u)", si.ssi_signo, children_count(w->children));
			w->stopping = true;
			children_stop_all(w->children);
		} else {
			log_warn("watch: signal %u again: killing the children", si.ssi_signo);
			children_kill_all(w->children);
		}
	}
}

/* Until stopped (or, with --once, until no child is left): 0, or negative errno. */
static int run(struct watch *w, int sigfd, struct watch_udev *wu)
{
	int cfd = children_fd(w->children), mfd = watch_udev_fd(wu);
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int ret = epfd < 0 ? -errno : 0;

	if (!ret)
		ret = epoll_add(epfd, sigfd);
	if (!ret)
		ret = epoll_add(epfd, cfd);
	if (!ret && mfd >= 0)
		ret = epoll_add(epfd, mfd);
	while (!ret && !((w->stopping || w->once) && children_count(w->children) == 0)) {
		struct epoll_event ev[4];
		int n = epoll_wait(epfd, ev, 4, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.fd == sigfd)
				on_signal(w, sigfd);
			else if (ev[i].data.fd == cfd)
				ret = children_process(w->children);
			else if (ev[i].data.fd == mfd && !w->stopping)
				watch_udev_receive(wu, on_device, w);
		}
		if (w->stopping && mfd >= 0) {
			/* no new child from here on: the monitor is left unread */
			epoll_ctl(epfd, EPOLL_CTL_DEL, mfd, NULL);
			mfd = -1;
		}
	}
	if (ret)
		log_error("watch: the event loop failed: %s", strerror(-ret));
	if (epfd >= 0)
		close(epfd);
	return ret;
}

int cmd_watch(int argc, char **argv)
{
	struct child_policy policy;
	struct watch_udev *wu = NULL;
	struct watch w = { 0 };
	sigset_t mask, old_mask;
	int sigfd = -1, ret;
	ssize_t len;

	ret = parse(&w, argc, argv);
	if (ret >= 0)
		goto out;
	ret = 1;
	len = readlink("/proc/self/exe", w.self, sizeof(w.self) - 1);
	if (len <= 0) {
		fprintf(stderr, PROG ": cannot find our own binary (/proc/self/exe): %s\n", strerror(errno));
		goto out;
	}
	w.self[len] = '\0';
	if (make_dir(w.dir))
		goto out;
	/* SIGTERM and SIGINT wait in a signalfd from now on: one that comes during the set-up stops the loop */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, &old_mask);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		fprintf(stderr, PROG ": cannot set up signal handling: %s\n", strerror(errno));
		goto restore;
	}
	child_policy_default(&policy);
	ret = children_create(&policy, &w.children);
	if (ret) {
		fprintf(stderr, PROG ": cannot set up the children's supervisor: %s\n", strerror(-ret));
		ret = 1;
		goto restore;
	}
	/* the monitor first, then the enumeration: a bind in between is seen (twice at worst, started once) */
	ret = watch_udev_open(!w.once, &wu);
	if (ret) {
		ret = 1;
		goto restore;
	}
	if (w.once)
		log_info("watch: exporting the devices bound to vfio-pci on %s/BDF.sock, once", w.dir);
	else
		log_info("watch: exporting the devices bound to vfio-pci on %s/BDF.sock, following binds through %s",
			 w.dir, watch_udev_source(wu));
	ret = watch_udev_enumerate(wu, on_device, &w);
	if (ret < 0) {
		ret = 1;
		goto restore;
	}
	if (ret == 0 && w.once) {
		log_info("watch: no device is bound to vfio-pci: nothing to export");
		ret = 0;
		goto restore;
	}
	if (ret == 0)
		log_info("watch: no device is bound to vfio-pci yet; waiting for binds");
	if (run(&w, sigfd, wu)) {
		children_kill_all(w.children);
		ret = 1;
	} else if (w.stopping) {
		log_info("watch: every child has stopped");
		ret = 0;
	} else {
		const struct children_stats *st = children_stats(w.children);

		log_info("watch: every child has ended: %u exited 0, %u given up on", st->exited_ok, st->gave_up);
		ret = st->gave_up ? 1 : 0;
	}
restore:
	watch_udev_close(wu);
	children_destroy(w.children);
	if (sigfd >= 0)
		close(sigfd);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
out:
	free(w.pass);
	return ret;
}
