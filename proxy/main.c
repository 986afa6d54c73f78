/* main.c: the vfio-user-proxy command line: global options, then one subcommand. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vfio-user-proxy [--log-level LEVEL] COMMAND [ARGS]\n"
		"\n"
		"Serve a PCI device to a virtual machine monitor over the vfio-user protocol.\n"
		"\n"
		"commands:\n"
		"  emulate [--device edu] --socket-path PATH   serve the software-emulated edu device\n"
		"  export DEVICE --socket-path PATH            serve a real PCI device bound to vfio-pci\n"
		"  probe SOCKET [--json]                        describe the device behind a vfio-user socket\n"
		"  bind DEVICE...                               bind PCI devices to vfio-pci (loading it if needed)\n"
		"  unbind DEVICE...                             give them back to the driver they had before bind\n"
		"  watch [--dir DIR]                            export every device bound to vfio-pci, as it comes\n"
		"  bridge create|destroy|list|inject|events     the bridge module's emulated VFIO devices (mdev)\n"
		"  upgrade --pid N                              hand a serving proxy over to the installed binary\n"
		"\n"
		"options:\n"
		"  --log-level error|warn|info|debug   how much to log on stderr (default info)\n"
		"  --version                           print the version\n"
		"  --help                              this text; COMMAND --help for a command's options\n");
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "emulate", cmd_emulate }, { "export", cmd_export }, { "probe", cmd_probe },
	{ "bind", cmd_bind },       { "unbind", cmd_unbind }, { "watch", cmd_watch },
	{ "bridge", cmd_bridge },   { "upgrade", cmd_upgrade },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* '+': stop at the subcommand, whose own options follow it. */
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vfio-user-proxy %s\n", PROXY_VERSION);
			return 0;
		case 'l':
			if (log_parse_level(optarg, &log_threshold)) {
				fprintf(stderr, "vfio-user-proxy: unknown log level '%s'; use error, warn, info or debug\n",
					optarg);
				return 2;
			}
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	argc -= optind;
	argv += optind;
	optind = 0; /* the subcommand parses its own options from scratch */
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].run(argc, argv);
	fprintf(stderr, "vfio-user-proxy: unknown command '%s'; see vfio-user-proxy --help\n", argv[0]);
	return 2;
}
