/* emulate.c: `vfio-user-proxy emulate`: serve the software-emulated device on a vfio-user socket. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "util/log.h"

#define PROG "vfio-user-proxy emulate"

enum { OPT_DEVICE = CLI_OPT_CMD };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vfio-user-proxy emulate [--device edu] (--socket-path PATH | --fd N) [options]\n"
		"\n"
		"Serve a software-emulated PCI device (QEMU's edu, with MSI, MSI-X, INTx, a DMA engine and a\n"
		"mmappable RAM BAR) to one vfio-user client at a time.\n"
		"\n"
		"  --device NAME         device model to emulate (only: edu)\n");
	cli_serve_usage(out);
}

static int emulate_option(void *ctx, int opt, const char *arg)
{
	if (opt != OPT_DEVICE)
		return 1;
	*(const char **)ctx = arg;
	return 0;
}

int cmd_emulate(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_SERVE_OPTIONS,
		{ "device", required_argument, NULL, OPT_DEVICE },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_serve cs;
	const char *device = "edu";
	struct device_backend *backend;
	int ret;

	cli_serve_init(&cs, PROG);
	ret = cli_serve_getopt(&cs, argc, argv, opts, emulate_option, &device, usage);
	if (ret >= 0)
		return ret;
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (cli_serve_check(&cs))
		return 2;
	if (cs.resume.state_fd >= 0 || cli_serve_store_restart(&cs))
		return cli_serve_resume(&cs, emulated_backend_resume, NULL); /* a hand-over's successor, a restart */
	ret = emulated_backend_create(device, &backend);
	if (ret == -ENODEV) {
		fprintf(stderr, PROG ": unknown device '%s'; the emulated devices are: edu\n", device);
		return 2;
	}
	if (ret) {
		log_error("cannot create the emulated %s device: %s", device, strerror(-ret));
		return 1;
	}
	return cli_serve_run(&cs, backend);
}
