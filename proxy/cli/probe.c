/* probe.c: the probe command: its options, its error messages and exit codes around gathering then printing. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/probe_gather.h"
#include "cli/probe_print.h"

#define PROG "vfio-user-proxy probe"

static void usage(FILE *f)
{
	fprintf(f, "Usage: vfio-user-proxy probe SOCKET [--json]\n"
		   "Connects to the vfio-user server at SOCKET and prints the protocol version, the server's\n"
		   "capabilities, the device's regions and IRQs, and its decoded PCI config space.\n"
		   "  --json   print one JSON document instead of text\n"
		   "  --help   print this help\n");
}

static int parse_args(int argc, char **argv, const char **path, bool *json)
{
	bool opts = true;

	*path = NULL;
	*json = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts && !strcmp(a, "--")) {
			opts = false;
		} else if (opts && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			usage(stdout);
			return 0;
		} else if (opts && !strcmp(a, "--json")) {
			*json = true;
		} else if (opts && a[0] == '-' && a[1]) {
			fprintf(stderr, PROG ": unknown option '%s'\n", a);
			usage(stderr);
			return 2;
		} else if (*path) {
			fprintf(stderr, PROG ": unexpected argument '%s' (one SOCKET only)\n", a);
			usage(stderr);
			return 2;
		} else {
			*path = a;
		}
	}
	if (!*path) {
		fprintf(stderr, PROG ": missing SOCKET\n");
		usage(stderr);
		return 2;
	}
	return -1;
}

static const char *connect_hint(int r)
{
	switch (-r) {
	case ENOENT:
	case ECONNREFUSED:
		return "is the proxy running?";
	case EACCES:
	case EPERM:
		return "check the socket's permissions";
	case ENOTSOCK:
		return "the path is not a UNIX socket";
	case ENAMETOOLONG:
		return "UNIX socket paths are limited to 107 bytes";
	default:
		return "is the proxy running?";
	}
}

static const char *fatal_hint(int r)
{
	switch (-r) {
	case ETIMEDOUT:
		return "the server did not answer in time; is it stuck or busy with another client?";
	case ECONNRESET:
	case EPIPE:
		return "the server closed the connection; it may serve one client at a time or have rejected the request";
	case EPROTO:
		return "the server's reply is malformed; it does not speak vfio-user as this tool does";
	default:
		return "check the server's log";
	}
}

int cmd_probe(int argc, char **argv)
{
	struct probe_desc *d;
	const char *path, *request = NULL;
	enum probe_outcome outcome;
	bool json;
	int r, err = 0, ret = 1;

	r = parse_args(argc, argv, &path, &json);
	if (r >= 0)
		return r;

	d = probe_desc_new(path);
	outcome = d ? probe_gather(d, &err, &request) : PROBE_NO_MEMORY;
	switch (outcome) {
	case PROBE_NO_MEMORY:
		fprintf(stderr, PROG ": out of memory\n");
		break;
	case PROBE_NO_CONNECTION:
		fprintf(stderr, PROG ": cannot connect to %s: %s (%s)\n", path, strerror(-err), connect_hint(err));
		break;
	case PROBE_CUT_SHORT:
		/* Text shows what came before the failure, as it would have scrolled by. */
		if (!json)
			probe_print_text(stdout, d);
		fprintf(stderr, PROG ": %s: %s failed: %s (%s)\n", path, request, strerror(-err), fatal_hint(err));
		break;
	case PROBE_COMPLETE:
		if (json)
			probe_print_json(stdout, d);
		else
			probe_print_text(stdout, d);
		ret = fflush(stdout) == 0 ? 0 : 1;
		break;
	}
	probe_desc_free(d);
	return ret;
}
