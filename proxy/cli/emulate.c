/* emulate.c: `vfio-user-proxy emulate`: serve the software-emulated device on a vfio-user socket. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "cli/commands.h"
#include "server/server.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vfio-user-proxy emulate [--device edu] (--socket-path PATH | --fd N) [options]\n"
		"\n"
		"Serve a software-emulated PCI device (QEMU's edu, with MSI, MSI-X, INTx, a DMA engine and a\n"
		"mmappable RAM BAR) to one vfio-user client at a time.\n"
		"\n"
		"  --device NAME         device model to emulate (only: edu)\n"
		"  --socket-path PATH    create and listen on the UNIX socket PATH (removed at exit)\n"
		"  --fd N                listen on the inherited listening socket N instead\n"
		"  --client-timeout MS   drop a client that leaves our messages unread this long (default 5000)\n"
		"  --log-level LEVEL     error, warn, info or debug\n");
}

static int parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int cmd_emulate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "device", required_argument, NULL, 'd' },
		{ "socket-path", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, 'f' },
		{ "client-timeout", required_argument, NULL, 't' },
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct server_options so = { .socket_path = NULL, .listen_fd = -1, .send_timeout_ms = 5000 };
	const char *device = "edu";
	struct device_backend *backend;
	struct server *srv;
	int c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'd':
			device = optarg;
			break;
		case 's':
			so.socket_path = optarg;
			break;
		case 'f':
			if (parse_int(optarg, 0, 65535, &so.listen_fd)) {
				fprintf(stderr, "vfio-user-proxy emulate: --fd needs a file descriptor number, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 't':
			if (parse_int(optarg, 1, 3600000, &so.send_timeout_ms)) {
				fprintf(stderr, "vfio-user-proxy emulate: --client-timeout needs milliseconds (1-3600000)\n");
				return 2;
			}
			break;
		case 'l':
			if (log_parse_level(optarg, &log_threshold)) {
				fprintf(stderr, "vfio-user-proxy emulate: unknown log level '%s'; use error, warn, info or debug\n",
					optarg);
				return 2;
			}
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vfio-user-proxy emulate: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!so.socket_path == (so.listen_fd < 0)) {
		fprintf(stderr, "vfio-user-proxy emulate: give exactly one of --socket-path PATH or --fd N\n");
		return 2;
	}
	ret = emulated_backend_create(device, &backend);
	if (ret == -ENODEV) {
		fprintf(stderr, "vfio-user-proxy emulate: unknown device '%s'; the emulated devices are: edu\n", device);
		return 2;
	}
	if (ret) {
		log_error("cannot create the emulated %s device: %s", device, strerror(-ret));
		return 1;
	}
	ret = server_create(&so, backend, &srv);
	if (ret) {
		backend->ops->destroy(backend);
		return 1;
	}
	ret = server_run(srv);
	server_destroy(srv);
	backend->ops->destroy(backend);
	return ret ? 1 : 0;
}
