/* bridge.c: `vfio-user-proxy bridge`: the create, destroy, list, inject and events subcommands of the bridge module's control, their options and their errors. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "backend/vfio_discover.h"
#include "cli/bridge.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/pci_sysfs.h"
#include "util/log.h"

#define PROG "vfio-user-proxy bridge"
#define NOTICE_MS 1000

static const char *const sub_synopsis[] = {
	[BRIDGE_CREATE] = "create [--name NAME] [--msix N] [--vendor ID] [--device ID] [--subsys-vendor ID]\n"
			  "                              [--subsys-device ID] [--uuid UUID] [--json]",
	[BRIDGE_DESTROY] = "destroy NAME|UUID",
	[BRIDGE_LIST] = "list [--json]",
	[BRIDGE_INJECT] = "inject NAME|UUID dma-fail|err-irq|stall-reads|surprise-removal [--ms N]",
	[BRIDGE_EVENTS] = "events [--count N] [--json]",
};

static const char *const sub_names[] = {
	[BRIDGE_CREATE] = "create", [BRIDGE_DESTROY] = "destroy", [BRIDGE_LIST] = "list",
	[BRIDGE_INJECT] = "inject", [BRIDGE_EVENTS] = "events",
};

static const char *const sub_help[] = {
	[BRIDGE_CREATE] =
		"Creates an instance of the bridge module's emulated edu device, a VFIO device any VFIO user\n"
		"(QEMU's vfio-pci with sysfsdev=, vfio-user-proxy export) opens: the parameters go to the module\n"
		"(generic netlink CREATE), the UUID to the mdev type's create file; prints the instance's name,\n"
		"UUID, sysfs path, VFIO group (/dev/vfio/N) and cdev, one \"KEY VALUE\" line each.\n"
		"\n"
		"  --name NAME          letters, digits, '_', '.', '-', under 32 (default mdev-<UUID's first 8>)\n"
		"  --msix N             MSI-X vectors, 1 to 8 (default 8)\n"
		"  --vendor ID, --device ID, --subsys-vendor ID, --subsys-device ID\n"
		"                       PCI IDs in hex (default the edu device's, 1234:11e8, 1af4:1100)\n"
		"  --uuid UUID          the mdev's UUID (default a random one)\n"
		"  --json               one JSON object instead\n",
	[BRIDGE_DESTROY] =
		"Removes an instance (the mdev core's remove). The kernel asks a VFIO user holding the device to\n"
		"let go (the device request) and holds the remove until it has.\n",
	[BRIDGE_LIST] = "Lists every instance with its counters (MMIO accesses, DMA bytes, interrupts, resets, opens)\n"
			"and whether a VFIO user has it open.\n"
			"\n"
			"  --json               a JSON array instead of the table\n",
	[BRIDGE_INJECT] =
		"Arms a fault on an instance, as a failing device would show it to its VFIO user:\n"
		"  dma-fail             the next DMA fails (the edu's DMA error status)\n"
		"  err-irq              the error interrupt (VFIO_PCI_ERR_IRQ_INDEX) fires\n"
		"  stall-reads          BAR reads take --ms N milliseconds (1 to 10000) each, until N ms passed once\n"
		"  surprise-removal     reads all-ones from now on, then the device request, then the device is gone\n",
	[BRIDGE_EVENTS] = "Prints each event of the module (created, opened, reset, closed, destroyed), one line\n"
			  "\"EVENT NAME UUID\" each, until SIGINT or SIGTERM.\n"
			  "\n"
			  "  --count N            exit after N events\n"
			  "  --json               one JSON object per line instead\n",
};

static void usage(FILE *f, int sub)
{
	if (sub < 0) {
		for (int i = 0; i <= BRIDGE_EVENTS; i++)
			fprintf(f, "%s " PROG " %s\n", i ? "      " : "usage:", sub_synopsis[i]);
		fprintf(f, "\nThe bridge module's emulated VFIO devices (mdev instances of " VUP_BRIDGE_PARENT
			   "): SUBCOMMAND --help for each.\nNeeds root (CAP_NET_ADMIN) for all but list and events; "
			   "loads module " VUP_BRIDGE_MODULE " when it is missing.\n");
	} else {
		fprintf(f, "usage: " PROG " %s\n\n%s", sub_synopsis[sub], sub_help[sub]);
	}
	fprintf(f, "  --help               this text\n"
		   "Exit status: 0 done, 1 a failure, 2 a usage error.\n");
}

/* A usage error: one line on stderr, exit status 2. */
static int bad(const char *sub, const char *fmt, const char *arg)
{
	fprintf(stderr, "%s%s%s: ", PROG, sub ? " " : "", sub ? sub : "");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (%s%s%s --help)\n", PROG, sub ? " " : "", sub ? sub : "");
	return 2;
}

static bool name_valid(const char *s)
{
	if (!*s || strlen(s) >= VUP_BRIDGE_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	return true;
}

enum { OPT_NAME = 0x300, OPT_MSIX, OPT_VENDOR, OPT_DEVICE, OPT_SVENDOR, OPT_SDEVICE, OPT_UUID, OPT_JSON, OPT_MS, OPT_COUNT };

static const struct option long_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "msix", required_argument, NULL, OPT_MSIX },
	{ "vendor", required_argument, NULL, OPT_VENDOR },
	{ "device", required_argument, NULL, OPT_DEVICE },
	{ "subsys-vendor", required_argument, NULL, OPT_SVENDOR },
	{ "subsys-device", required_argument, NULL, OPT_SDEVICE },
	{ "uuid", required_argument, NULL, OPT_UUID },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "ms", required_argument, NULL, OPT_MS },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ NULL, 0, NULL, 0 },
};

/* Which options each subcommand takes. */
static bool takes(enum bridge_sub sub, int opt)
{
	switch (opt) {
	case OPT_NAME: case OPT_MSIX: case OPT_VENDOR: case OPT_DEVICE: case OPT_SVENDOR: case OPT_SDEVICE:
	case OPT_UUID:
		return sub == BRIDGE_CREATE;
	case OPT_JSON:
		return sub == BRIDGE_CREATE || sub == BRIDGE_LIST || sub == BRIDGE_EVENTS;
	case OPT_MS:
		return sub == BRIDGE_INJECT;
	case OPT_COUNT:
		return sub == BRIDGE_EVENTS;
	}
	return false;
}

/* One option's value into a: 0, or the usage error's exit status. */
static int take_option(struct bridge_args *a, const char *sub, int opt, const char *v)
{
	int n, *id = NULL;

	switch (opt) {
	case OPT_NAME:
		if (!name_valid(v))
			return bad(sub, "bad --name '%s': letters, digits, '_', '.' and '-', at most 31", v);
		snprintf(a->create.name, sizeof(a->create.name), "%s", v);
		return 0;
	case OPT_MSIX:
		if (cli_parse_int(v, 1, VUP_BRIDGE_MAX_MSIX, &n))
			return bad(sub, "bad --msix '%s': 1 to 8 vectors", v);
		a->create.msix = (uint32_t)n;
		return 0;
	case OPT_VENDOR: id = &a->create.vendor; break;
	case OPT_DEVICE: id = &a->create.device; break;
	case OPT_SVENDOR: id = &a->create.subsys_vendor; break;
	case OPT_SDEVICE: id = &a->create.subsys_device; break;
	case OPT_UUID:
		if (!bridge_is_uuid(v))
			return bad(sub, "bad --uuid '%s': 36 characters as 01234567-89ab-cdef-0123-456789abcdef", v);
		for (int i = 0; i <= VUP_BRIDGE_UUID_LEN; i++)
			a->create.uuid[i] = (char)tolower((unsigned char)v[i]);
		return 0;
	case OPT_JSON:
		a->json = true;
		return 0;
	case OPT_MS:
		if (cli_parse_int(v, 1, 10000, &n))
			return bad(sub, "bad --ms '%s': 1 to 10000 milliseconds", v);
		a->ms = (uint32_t)n;
		return 0;
	case OPT_COUNT:
		if (cli_parse_int(v, 1, INT_MAX, &n))
			return bad(sub, "bad --count '%s': a number of events, at least 1", v);
		a->count = n;
		return 0;
	}
	if (bridge_parse_id(v, id))
		return bad(sub, "bad PCI ID '%s': hex, 0 to ffff", v);
	return 0;
}

/* The operands after the options: 0, or the usage error's exit status. */
static int take_operands(struct bridge_args *a, const char *sub, int n, char **ops)
{
	int want = a->sub == BRIDGE_DESTROY ? 1 : a->sub == BRIDGE_INJECT ? 2 : 0;

	if (n > want)
		return bad(sub, "unexpected argument '%s'", ops[want]);
	if (n < want)
		return bad(sub, "%s", want == 1 ? "give the instance's NAME or UUID" : "give the instance's NAME or UUID and a FAULT");
	if (want)
		a->target = ops[0];
	if (a->sub != BRIDGE_INJECT)
		return 0;
	if (bridge_fault_parse(ops[1], &a->fault))
		return bad(sub, "unknown fault '%s': dma-fail, err-irq, stall-reads or surprise-removal", ops[1]);
	if (a->fault == VUP_BRIDGE_FAULT_STALL_READS && !a->ms)
		return bad(sub, "%s", "stall-reads needs --ms N: how long each read stalls");
	if (a->fault != VUP_BRIDGE_FAULT_STALL_READS && a->ms)
		return bad(sub, "--ms goes with stall-reads, not %s", ops[1]);
	return 0;
}

int bridge_parse_args(int argc, char **argv, struct bridge_args *a)
{
	char **av = argv + 1;
	const char *sub;
	int c, ret, li = 0, s = -1;

	memset(a, 0, sizeof(*a));
	a->create.vendor = a->create.device = a->create.subsys_vendor = a->create.subsys_device = -1;
	if (argc < 2)
		return bad(NULL, "%s", "give a subcommand: create, destroy, list, inject or events");
	sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		usage(stdout, -1);
		return 0;
	}
	for (size_t i = 0; i < sizeof(sub_names) / sizeof(sub_names[0]); i++)
		if (!strcmp(sub, sub_names[i]))
			s = (int)i;
	if (s < 0)
		return bad(NULL, "unknown subcommand '%s': create, destroy, list, inject or events", sub);
	a->sub = (enum bridge_sub)s;
	optind = 0; /* getopt_long from scratch, over the arguments after the subcommand */
	opterr = 0;
	while ((c = getopt_long(argc - 1, av, ":h", long_opts, &li)) != -1) {
		if (c == 'h') {
			usage(stdout, s);
			return 0;
		}
		if (c == ':')
			return bad(sub, "option '%s' needs a value", av[optind - 1]);
		if (c == '?')
			return bad(sub, "unknown option '%s'", av[optind - 1]);
		if (!takes(a->sub, c))
			return bad(sub, "option '--%s' is not one of this subcommand's", long_opts[li].name);
		ret = take_option(a, sub, c, optarg);
		if (ret)
			return ret;
	}
	ret = take_operands(a, sub, argc - 1 - optind, av + optind);
	return ret ? ret : -1;
}

/* ---- running them ---- */

struct ctx {
	const struct bridge_args *a;
	struct bridge_nl *nl;
	char prog[64]; /* "vfio-user-proxy bridge create" */
	const char *sysfs;
};

/* A failed request or write, said in one line: exit status 1. */
static int fail(const struct ctx *c, const char *what, int err)
{
	const char *ext = c->nl ? bridge_nl_ext_msg(c->nl) : "";

	switch (-err) {
	case EPERM:
	case EACCES:
		fprintf(stderr, "%s: %s needs root (CAP_NET_ADMIN, and write access to sysfs): run as root\n", c->prog,
			what);
		break;
	case EEXIST:
		fprintf(stderr, "%s: %s: the name '%s' is taken (bridge list shows the instances)\n", c->prog, what,
			c->a->create.name);
		break;
	case ENOENT:
		if (c->a->target) {
			fprintf(stderr, "%s: no instance '%s' (bridge list shows them)\n", c->prog, c->a->target);
			break;
		}
		/* fall through */
	default:
		fprintf(stderr, "%s: %s: %s%s%s\n", c->prog, what, strerror(-err), *ext ? ": " : "", ext);
		break;
	}
	return 1;
}

static int random_uuid(const struct ctx *c, char *uuid)
{
	FILE *f = fopen("/proc/sys/kernel/random/uuid", "r");
	char buf[64] = "";
	int ok = f && fgets(buf, sizeof(buf), f);

	if (f)
		fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	if (!ok || !bridge_is_uuid(buf)) {
		fprintf(stderr, "%s: cannot read a random UUID from /proc/sys/kernel/random/uuid: give --uuid\n",
			c->prog);
		return -EIO;
	}
	memcpy(uuid, buf, VUP_BRIDGE_UUID_LEN + 1);
	return 0;
}

static int run_create(struct ctx *c)
{
	struct bridge_create_req req = c->a->create;
	struct bridge_instance in;
	char path[PATH_MAX], uuid[VUP_BRIDGE_UUID_LEN + 1];
	int ret;

	if (!req.uuid[0] && random_uuid(c, req.uuid))
		return 1;
	ret = bridge_nl_create(c->nl, &req, uuid);
	if (ret)
		return fail(c, "CREATE", ret);
	snprintf(path, sizeof(path), "%s/class/mdev_bus/%s/mdev_supported_types/%s-%s/create", c->sysfs,
		 VUP_BRIDGE_PARENT, VUP_BRIDGE_PARENT, VUP_BRIDGE_TYPE);
	ret = pci_write(path, uuid);
	if (ret == -EEXIST) {
		fprintf(stderr, "%s: an mdev with UUID %s exists already\n", c->prog, uuid);
		return 1;
	}
	if (ret == -ENOENT) {
		fprintf(stderr, "%s: no %s: the module is loaded but its mdev parent is missing (dmesg may say why)\n",
			c->prog, path);
		return 1;
	}
	if (ret)
		return fail(c, path, ret);
	ret = bridge_nl_get(c->nl, uuid, &in);
	if (ret) {
		fprintf(stderr, "%s: the instance %s was made but LIST does not find it: %s\n", c->prog, uuid,
			strerror(-ret));
		return 1;
	}
	bridge_print_created(stdout, &in, c->a->json);
	return 0;
}

static int run_destroy(struct ctx *c)
{
	struct bridge_instance in;
	char path[PATH_MAX], notice[256];
	int ret = bridge_nl_get(c->nl, c->a->target, &in);

	if (ret)
		return fail(c, "LIST", ret);
	snprintf(path, sizeof(path), "%s/bus/mdev/devices/%s/remove", c->sysfs, in.uuid);
	snprintf(notice, sizeof(notice),
		 "%s: %s: waiting for its VFIO user (a VMM, a vfio-user-proxy export) to let go: the kernel holds "
		 "the remove until then",
		 c->prog, in.name);
	ret = pci_write_noticed(path, "1", NOTICE_MS, stderr, notice);
	if (ret == -ENOENT) {
		fprintf(stderr, "%s: %s went away meanwhile\n", c->prog, in.name);
		return 1;
	}
	return ret ? fail(c, path, ret) : 0;
}

struct list_out {
	struct json_object *arr;
};

static int list_one(const struct bridge_instance *in, void *arg)
{
	struct list_out *o = arg;

	if (o->arr)
		json_object_array_add(o->arr, bridge_instance_json(in));
	else
		bridge_print_table_row(stdout, in);
	return 0;
}

static int run_list(struct ctx *c)
{
	struct list_out o = { c->a->json ? json_object_new_array() : NULL };
	int ret;

	if (!o.arr)
		bridge_print_table_head(stdout);
	ret = bridge_nl_dump(c->nl, list_one, &o);
	if (o.arr && !ret)
		printf("%s\n", json_object_to_json_string_ext(o.arr, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o.arr);
	return ret ? fail(c, "LIST", ret) : 0;
}

static int run_inject(struct ctx *c)
{
	int ret = bridge_nl_inject(c->nl, c->a->target, c->a->fault, c->a->ms);

	return ret ? fail(c, "INJECT", ret) : 0;
}

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

struct events_out {
	const struct bridge_args *a;
	long seen;
};

static int print_event(const struct bridge_event *ev, void *arg)
{
	struct events_out *o = arg;

	bridge_print_event(stdout, ev, o->a->json);
	return o->a->count && ++o->seen >= o->a->count ? 1 : 0;
}

static int run_events(struct ctx *c)
{
	struct sigaction sa = { .sa_handler = on_stop };
	struct events_out o = { c->a, 0 };
	sigset_t block, old;
	int ret = bridge_nl_subscribe(c->nl);

	if (ret)
		return fail(c, "joining the events group", ret);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	log_info("bridge: listening for the events of " VUP_BRIDGE_GENL_NAME);
	while (!stop_signal) {
		struct pollfd p = { .fd = bridge_nl_event_fd(c->nl), .events = POLLIN };

		/* the signals get through only while waiting: none is lost between the check and the wait */
		if (ppoll(&p, 1, NULL, &old) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		ret = bridge_nl_read_events(c->nl, print_event, &o);
		if (ret == 1) {
			ret = 0;
			break;
		}
		if (ret == -ENOMEM) {
			log_warn("bridge: events were lost (the socket's receive buffer overran)");
		} else if (ret && ret != -EAGAIN && ret != -EINTR) {
			break;
		}
		ret = 0;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret ? fail(c, "reading events", ret) : 0;
}

int cmd_bridge(int argc, char **argv)
{
	static int (*const run[])(struct ctx *) = {
		[BRIDGE_CREATE] = run_create, [BRIDGE_DESTROY] = run_destroy, [BRIDGE_LIST] = run_list,
		[BRIDGE_INJECT] = run_inject, [BRIDGE_EVENTS] = run_events,
	};
	struct bridge_args a;
	struct ctx c = { .a = &a };
	char why[512];
	int ret = bridge_parse_args(argc, argv, &a);

	if (ret >= 0)
		return ret;
	snprintf(c.prog, sizeof(c.prog), "%s %s", PROG, sub_names[a.sub]);
	c.sysfs = getenv(VFIO_SYSFS_ROOT_ENV) ? getenv(VFIO_SYSFS_ROOT_ENV) : "/sys";
	ret = bridge_nl_open(&c.nl, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "%s: %s\n", c.prog, why);
		return 1;
	}
	ret = run[a.sub](&c);
	bridge_nl_close(c.nl);
	return ret;
}
