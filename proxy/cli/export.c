/* export.c: `vfio-user-proxy export`: serve a real PCI device bound to vfio-pci on a vfio-user socket. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "util/handover_exec.h"

#define PROG "vfio-user-proxy export"

enum { OPT_TRAP_BARS = CLI_OPT_CMD, OPT_IOMMU, OPT_ALLOW_NO_RESET };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vfio-user-proxy export DEVICE (--socket-path PATH | --fd N) [options]\n"
		"\n"
		"Serve a real PCI device bound to vfio-pci to one vfio-user client at a time: its regions,\n"
		"interrupts, reset and DMA go to the device through the kernel's VFIO.\n"
		"\n"
		"DEVICE is the device's PCI address (0000:00:03.0, or 00:03.0 for domain 0000), its sysfs path\n"
		"(/sys/bus/pci/devices/0000:00:03.0) or its VFIO cdev (/dev/vfio/devices/vfio0); or a mediated\n"
		"device's UUID or sysfs path (/sys/bus/mdev/devices/UUID, e.g. the bridge module's). Bind it, and\n"
		"every device of its IOMMU group, to vfio-pci first:\n"
		"  echo vfio-pci > /sys/bus/pci/devices/DEVICE/driver_override\n"
		"  echo DEVICE > /sys/bus/pci/drivers_probe\n"
		"\n"
		"  --trap-bars           never hand the client the device fd: every BAR access goes through the\n"
		"                        proxy (slower, but the client gets no handle on the device's VFIO ioctls)\n"
		"  --iommu auto|iommufd|legacy\n"
		"                        the IOMMU path: iommufd (/dev/iommu and the device's VFIO cdev\n"
		"                        /dev/vfio/devices/vfioX) or legacy (/dev/vfio/vfio container and\n"
		"                        /dev/vfio/GROUP, type1v2 IOMMU); auto (the default) takes iommufd when\n"
		"                        the kernel has it, else legacy\n"
		"  --allow-no-reset      a device without any reset is served to one client only (the next would\n"
		"                        find what the last left in it): serve client after client anyway\n");
	cli_serve_usage(out);
	fprintf(out,
		"\n"
		"The device DMAs straight into the client's memory, so the VMM must share guest RAM, e.g. QEMU's\n"
		"-object memory-backend-memfd,id=mem,size=1G,share=on -machine memory-backend=mem; and VFIO pins it:\n"
		"run as root (CAP_IPC_LOCK) or raise the locked-memory limit (ulimit -l unlimited).\n"
		"\n"
		"Exit status: 0 after SIGTERM or SIGINT, or when the kernel asks for the device back (it is being\n"
		"unbound from vfio-pci); 1 a failure; 2 a usage error; 3 the device may not be served again as it is\n"
		"(no reset after its client, or a departed client still holds it: the log says which); a supervisor\n"
		"must not restart it then.\n");
}

static int parse_iommu(const char *s, enum vfio_iommu_kind *out)
{
	if (strcmp(s, "legacy") == 0) {
		*out = VFIO_IOMMU_KIND_LEGACY;
		return 0;
	}
	if (strcmp(s, "iommufd") == 0) {
		*out = VFIO_IOMMU_KIND_IOMMUFD;
		return 0;
	}
	if (strcmp(s, "auto") == 0) {
		*out = VFIO_IOMMU_KIND_AUTO;
		return 0;
	}
	fprintf(stderr, PROG ": unknown IOMMU path '%s'; use --iommu auto, iommufd or legacy\n", s);
	return -1;
}

static int export_option(void *ctx, int opt, const char *arg)
{
	struct vfio_backend_options *vo = ctx;

	switch (opt) {
	case OPT_TRAP_BARS:
		vo->trap_bars = true;
		return 0;
	case OPT_ALLOW_NO_RESET:
		vo->allow_no_reset = true;
		return 0;
	case OPT_IOMMU:
		return parse_iommu(arg, &vo->iommu) ? -1 : 0;
	default:
		return 1;
	}
}

/* The command line's options, for the rebuild of a hand-over's successor (cli_rebuild_fn has no context). */
static const struct vfio_backend_options *resume_opts;

static int resume_backend(const struct ho_state *st, struct device_backend **out)
{
	return vfio_backend_resume(resume_opts, st, out);
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_SERVE_OPTIONS,
		{ "trap-bars", no_argument, NULL, OPT_TRAP_BARS },
		{ "iommu", required_argument, NULL, OPT_IOMMU },
		{ "allow-no-reset", no_argument, NULL, OPT_ALLOW_NO_RESET },
		{ NULL, 0, NULL, 0 },
	};
	struct vfio_backend_options vo = { .iommu = VFIO_IOMMU_KIND_AUTO };
	struct device_backend *backend;
	struct cli_serve cs;
	int ret;

	cli_serve_init(&cs, PROG);
	ret = cli_serve_getopt(&cs, argc, argv, opts, export_option, &vo, usage);
	if (ret >= 0)
		return ret;
	if (optind >= argc) {
		fprintf(stderr,
			PROG ": give the DEVICE to export: its PCI address (e.g. 0000:00:03.0) or sysfs path\n");
		return 2;
	}
	vo.device = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (one DEVICE only)\n", argv[optind]);
		return 2;
	}
	if (cli_serve_check(&cs))
		return 2;
	if (cs.resume.state_fd >= 0 || cli_serve_store_restart(&cs)) { /* a hand-over's successor, a restart */
		char reopen[PATH_MAX];

		resume_opts = &vo;
		ret = vfio_backend_reopen_path(&vo, reopen, sizeof(reopen));
		if (ret)
			handover_refuse(&cs.resume, "the device is not there", ret);
		return cli_serve_resume(&cs, resume_backend, reopen[0] ? reopen : NULL);
	}
	/* The backend says what is wrong with the device, in one line. */
	if (vfio_backend_create(&vo, &backend))
		return 1;
	return cli_serve_run(&cs, backend);
}
