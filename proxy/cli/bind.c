/* bind.c: `vfio-user-proxy bind` and `unbind`: their options, the DEVICE list (whole IOMMU groups with --group), one device after another, the exit code. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/pci_bind.h"

static const char env_help[] =
	"\n"
	"DEVICE is a PCI address (0000:00:03.0, or 00:03.0 for domain 0000), a sysfs path\n"
	"(/sys/bus/pci/devices/0000:00:03.0) or, for unbind, a VFIO cdev (/dev/vfio/devices/vfio0).\n"
	"Environment: VFIO_USER_PROXY_SYSFS_ROOT (sysfs, default /sys), VFIO_USER_PROXY_STATE_DIR (default\n"
	"/run/vfio-user-proxy), VFIO_USER_PROXY_MODULES_DIR (libkmod's modules, default /lib/modules/$(uname -r)).\n"
	"Exit status: 0 every device done, 1 a device failed (the others are still done), 2 a usage error.\n";

#define BIND_SYNOPSIS "usage: vfio-user-proxy bind [--group] DEVICE...\n"
#define UNBIND_SYNOPSIS "usage: vfio-user-proxy unbind [--group] DEVICE...\n"

static void bind_usage(FILE *f)
{
	fprintf(f, BIND_SYNOPSIS
		   "\n"
		   "Binds each PCI DEVICE to vfio-pci, ready for `vfio-user-proxy export`: loads vfio-pci when it is\n"
		   "missing (libkmod, as modprobe), remembers the device's driver (STATE/bind/ADDRESS, for unbind),\n"
		   "sets its driver_override, unbinds that driver and has the kernel probe the device. A device\n"
		   "already on vfio-pci is left as it is. VFIO takes whole IOMMU groups: a device whose group holds\n"
		   "another one on a host driver (other than vfio-pci, pci-stub or pcieport) is refused, naming it.\n"
		   "\n"
		   "  --group   bind every device of each DEVICE's IOMMU group too (bridges stay on pcieport)\n"
		   "  --help    print this help\n");
	fputs(env_help, f);
}

static void unbind_usage(FILE *f)
{
	fprintf(f, UNBIND_SYNOPSIS
		   "\n"
		   "Gives each PCI DEVICE on vfio-pci back to the driver it had before `vfio-user-proxy bind`: unbinds\n"
		   "it from vfio-pci, clears its driver_override and binds the remembered driver again (loading its\n"
		   "module when it is missing); without a record the kernel probes the device. A device on another\n"
		   "driver is left as it is. The kernel holds the unbind until every user of the device (a VMM, a\n"
		   "running export) has closed it.\n"
		   "\n"
		   "  --group   unbind every device of each DEVICE's IOMMU group too (bridges excepted)\n"
		   "  --help    print this help\n");
	fputs(env_help, f);
}

/* What tells the two commands apart. */
struct command {
	const char *prog;     /* the prefix of each message */
	const char *synopsis; /* said after a usage error */
	void (*usage)(FILE *f);
	bool binding;
};

/*
 * Options anywhere, the DEVICE operands moved to argv[1..*ndev] in their order: -1 to go on, else the exit
 * code (0 after --help, 2 for a usage error).
 */
static int parse_args(const struct command *c, int argc, char **argv, bool *group, int *ndev)
{
	bool opts = true;
	int n = 0;

	*group = false;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];

		if (opts && !strcmp(a, "--")) {
			opts = false;
		} else if (opts && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			c->usage(stdout);
			return 0;
		} else if (opts && !strcmp(a, "--group")) {
			*group = true;
		} else if (opts && a[0] == '-' && a[1]) {
			fprintf(stderr, "%s: unknown option '%s' (--help lists them)\n%s", c->prog, a, c->synopsis);
			return 2;
		} else {
			argv[1 + n++] = a;
		}
	}
	if (!n) {
		fprintf(stderr, "%s: give at least one DEVICE: a PCI address such as 0000:00:03.0\n%s", c->prog,
			c->synopsis);
		return 2;
	}
	*ndev = n;
	return -1;
}

/*
 * The devices to work on, in order, each once: every DEVICE resolved (and with --group every endpoint of its
 * group after it); *failed counts the DEVICEs that could not be (said). Returns -1 to go on, else the exit
 * code: 2 for a DEVICE of no accepted form, 1 out of memory (said; nothing is done then).
 */
static int collect(struct pci_bind *b, char **devs, int n, bool group, struct pci_bdf_list *l, int *failed)
{
	char bdf[VFIO_BDF_MAX];

	*failed = 0;
	for (int i = 0; i < n; i++) {
		int r = pci_bind_resolve(b, devs[i], bdf);

		if (r == -EINVAL)
			return 2;
		if (r) {
			(*failed)++;
			continue;
		}
		if (group ? pci_bind_add_group(b, bdf, l) : pci_bdf_list_add(l, bdf)) {
			fprintf(stderr, "%s: out of memory\n", b->prog);
			return 1;
		}
	}
	return -1;
}

static int run(const struct command *c, int argc, char **argv)
{
	struct pci_bdf_list list = { 0 };
	struct pci_bind b;
	bool group;
	int ndev, failed, ret;

	ret = parse_args(c, argc, argv, &group, &ndev);
	if (ret >= 0)
		return ret;
	pci_bind_init(&b, c->prog);
	ret = collect(&b, argv + 1, ndev, group, &list, &failed);
	for (size_t i = 0; ret < 0 && i < list.n; i++) {
		/* the devices bound in this run are no obstacle in each other's groups */
		if (c->binding ? pci_bind_device(&b, list.bdf[i], &list) : pci_unbind_device(&b, list.bdf[i]))
			failed++;
	}
	pci_bdf_list_free(&list);
	if (ret >= 0)
		return ret;
	return failed ? 1 : 0;
}

int cmd_bind(int argc, char **argv)
{
	static const struct command bind = { "vfio-user-proxy bind", BIND_SYNOPSIS, bind_usage, true };

	return run(&bind, argc, argv);
}

int cmd_unbind(int argc, char **argv)
{
	static const struct command unbind = { "vfio-user-proxy unbind", UNBIND_SYNOPSIS, unbind_usage, false };

	return run(&unbind, argc, argv);
}
