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

static void bind_usage(FILE *f)
{
	fprintf(f, "usage: vfio-user-proxy bind [--group] DEVICE...\n"
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
	fprintf(f, "usage: vfio-user-proxy unbind [--group] DEVICE...\n"
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

/*
 * Options anywhere, the DEVICE operands moved to argv[1..*ndev] in their order: -1 to go on, else the exit
 * code (0 after --help, 2 for a usage error).
 */
static int parse_args(int argc, char **argv, const char *prog, void (*usage)(FILE *), bool *group, int *ndev)
{
	bool opts = true;
	int n = 0;

	*group = false;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];

		if (opts && !strcmp(a, "--")) {
			opts = false;
		} else if (opts && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			usage(stdout);
			return 0;
		} else if (opts && !strcmp(a, "--group")) {
			*group = true;
		} else if (opts && a[0] == '-' && a[1]) {
			fprintf(stderr, "%s: unknown option '%s'\n", prog, a);
			usage(stderr);
			return 2;
		} else {
			argv[1 + n++] = a;
		}
	}
	if (!n) {
		fprintf(stderr, "%s: give at least one DEVICE: a PCI address such as 0000:00:03.0\n", prog);
		usage(stderr);
		return 2;
	}
	*ndev = n;
	return -1;
}

/*
 * The devices to work on, in order, each once: every DEVICE resolved (and with --group every endpoint of its
 * group after it). Returns -1 to go on, 1 when a DEVICE could not be resolved (said), 2 for one of no
 * accepted form (said; nothing is done then).
 */
static int collect(struct pci_bind *b, char **devs, int n, bool group, struct pci_bdf_list *l)
{
	char bdf[VFIO_BDF_MAX];
	int failed = -1;

	for (int i = 0; i < n; i++) {
		int r = pci_bind_resolve(b, devs[i], bdf);

		if (r == -EINVAL)
			return 2;
		if (r) {
			failed = 1;
			continue;
		}
		r = group ? pci_bind_add_group(b, bdf, l) : pci_bdf_list_add(l, bdf);
		if (r) {
			fprintf(stderr, "%s: out of memory\n", b->prog);
			return 1;
		}
	}
	return failed;
}

static int run(int argc, char **argv, const char *prog, void (*usage)(FILE *), bool binding)
{
	struct pci_bdf_list list = { 0 };
	struct pci_bind b;
	bool group;
	int ndev, ret;

	ret = parse_args(argc, argv, prog, usage, &group, &ndev);
	if (ret >= 0)
		return ret;
	pci_bind_init(&b, prog);
	ret = collect(&b, argv + 1, ndev, group, &list);
	if (ret == 2 || list.n == 0) {
		pci_bdf_list_free(&list);
		return ret == -1 ? 0 : ret;
	}
	for (size_t i = 0; i < list.n; i++) {
		/* the devices bound in this run are no obstacle in each other's groups */
		int r = binding ? pci_bind_device(&b, list.bdf[i], &list) : pci_unbind_device(&b, list.bdf[i]);

		if (r)
			ret = 1;
	}
	pci_bdf_list_free(&list);
	return ret == 1 ? 1 : 0;
}

int cmd_bind(int argc, char **argv)
{
	return run(argc, argv, "vfio-user-proxy bind", bind_usage, true);
}

int cmd_unbind(int argc, char **argv)
{
	return run(argc, argv, "vfio-user-proxy unbind", unbind_usage, false);
}
