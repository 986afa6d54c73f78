/* probe_gather.c: fills a probe_desc from a vfio-user server through the client library; prints nothing. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "cli/probe_decode.h"
#include "cli/probe_gather.h"
#include "client/client.h"

#define PROBE_CAPS_BUF (64u * 1024 - sizeof(struct vfio_user_region_info))
#define PROBE_CFG_MAX 4096u

_Static_assert(sizeof(((struct probe_version *)0)->json) == sizeof(((struct vuc_server_caps *)0)->json),
	       "the server's JSON fits the description");

struct gather {
	struct probe_desc *d;
	struct vuc *c;
	uint8_t *capbuf;
};

static const struct probe_flag_name device_flags[] = {
	{ VFIO_DEVICE_FLAGS_RESET, "RESET" },
	{ VFIO_DEVICE_FLAGS_PCI, "PCI" },
	{ 0, NULL },
};

static const struct probe_flag_name region_flags[] = {
	{ VFIO_REGION_INFO_FLAG_READ, "READ" },
	{ VFIO_REGION_INFO_FLAG_WRITE, "WRITE" },
	{ VFIO_REGION_INFO_FLAG_MMAP, "MMAP" },
	{ VFIO_REGION_INFO_FLAG_CAPS, "CAPS" },
	{ 0, NULL },
};

static const struct probe_flag_name irq_flags[] = {
	{ VFIO_IRQ_INFO_EVENTFD, "EVENTFD" },
	{ VFIO_IRQ_INFO_MASKABLE, "MASKABLE" },
	{ VFIO_IRQ_INFO_AUTOMASKED, "AUTOMASKED" },
	{ VFIO_IRQ_INFO_NORESIZE, "NORESIZE" },
	{ 0, NULL },
};

/* Errors after which the connection is unusable; a server's error reply for one item is not one of them. */
static bool is_fatal(int r)
{
	return r == -EPIPE || r == -ECONNRESET || r == -ETIMEDOUT || r == -EPROTO || r == -ENOMEM || r == -EBADF;
}

static void region_name(uint32_t index, char *buf, size_t len)
{
	static const char *const names[] = { "BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5", "ROM", "CONFIG", "VGA" };

	if (index < sizeof(names) / sizeof(names[0]))
		snprintf(buf, len, "%s", names[index]);
	else
		snprintf(buf, len, "region%u", index);
}

static const char *irq_name(uint32_t index)
{
	static const char *const names[] = { "INTx", "MSI", "MSI-X", "ERR", "REQ" };

	return index < sizeof(names) / sizeof(names[0]) ? names[index] : "device-specific";
}

static int gather_version(struct gather *g)
{
	struct probe_desc *d = g->d;
	struct probe_version *v = &d->version;
	struct vuc_server_caps k;
	int r;

	r = vuc_negotiate(g->c, &k);
	if (r < 0)
		return r;
	v->major = k.major;
	v->minor = k.minor;
	v->max_msg_fds = k.max_msg_fds;
	v->max_data_xfer_size = k.max_data_xfer_size;
	v->max_dma_maps = k.max_dma_maps;
	v->pgsizes = k.pgsizes;
	v->write_multiple = k.write_multiple;
	memcpy(v->json, k.json, sizeof(v->json));
	d->has_version = true;

	/* What QEMU's client refuses (see DESIGN.md section 2). */
	if (k.max_msg_fds > VFIO_USER_LIMIT_MAX_MSG_FDS)
		probe_warn(d, "max_msg_fds %u is above 16: QEMU refuses this server", k.max_msg_fds);
	if (k.max_data_xfer_size > VFIO_USER_LIMIT_MAX_DATA_XFER)
		probe_warn(d, "max_data_xfer_size %u is above 64 MiB: QEMU refuses this server", k.max_data_xfer_size);
	if (k.max_dma_maps > VFIO_USER_LIMIT_MAX_DMA_MAPS)
		probe_warn(d, "max_dma_maps %u is above 65535: QEMU refuses this server", k.max_dma_maps);
	if (!k.pgsizes || (k.pgsizes & 0xfff))
		probe_warn(d, "pgsizes 0x%" PRIx64 " is not a multiple of 4 KiB: QEMU refuses this server", k.pgsizes);
	if (k.max_msg_fds == 0)
		probe_warn(d, "max_msg_fds is 0: no eventfd can be passed to the server");
	return 0;
}

static int gather_device(struct gather *g)
{
	struct probe_desc *d = g->d;
	struct vfio_user_device_info dev;
	int r;

	r = vuc_device_info(g->c, &dev);
	if (r < 0)
		return r;
	d->device = (struct probe_device){ { dev.flags, device_flags }, dev.num_regions, dev.num_irqs };
	d->has_device = true;

	if (!(dev.flags & VFIO_DEVICE_FLAGS_PCI))
		probe_warn(d, "the device is not flagged PCI: QEMU's vfio-user-pci will not use it");
	if (!(dev.flags & VFIO_DEVICE_FLAGS_RESET))
		probe_warn(d, "the device is not flagged RESET: QEMU will never send DEVICE_RESET");
	if (dev.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX)
		probe_warn(d, "only %u regions: a PCI device needs at least %u (config space is region %u)",
			   dev.num_regions, VFIO_PCI_CONFIG_REGION_INDEX + 1, VFIO_PCI_CONFIG_REGION_INDEX);
	if (dev.num_regions > PROBE_MAX_REGIONS)
		probe_warn(d, "the server reports %u regions; only the first %u are probed", dev.num_regions,
			   PROBE_MAX_REGIONS);
	return 0;
}

static int gather_regions(struct gather *g)
{
	struct probe_desc *d = g->d;
	uint32_t n = d->device.num_regions < PROBE_MAX_REGIONS ? d->device.num_regions : PROBE_MAX_REGIONS;
	int r;

	for (uint32_t i = 0; i < n; i++) {
		struct probe_region *pr = &d->regions[i];
		struct vfio_user_region_info ri;
		size_t caps_len = 0;
		int fd = -1;

		r = vuc_region_info(g->c, i, &ri, g->capbuf, PROBE_CAPS_BUF, &caps_len, &fd);
		if (r < 0 && is_fatal(r))
			return r;
		if (fd >= 0)
			close(fd);
		d->nregions = i + 1;
		region_name(i, pr->name, sizeof(pr->name));
		if (r < 0) {
			pr->error = -r;
			continue;
		}
		pr->flags = (struct probe_flags){ ri.flags, region_flags };
		pr->size = ri.size;
		pr->offset = ri.offset;
		pr->fd = fd >= 0;
		pr->caps_flagged = ri.flags & VFIO_REGION_INFO_FLAG_CAPS;
		probe_decode_region_caps(d, i, ri.cap_offset, g->capbuf,
					 caps_len < PROBE_CAPS_BUF ? caps_len : PROBE_CAPS_BUF, caps_len);
		if ((ri.flags & VFIO_REGION_INFO_FLAG_MMAP) && fd < 0)
			probe_warn(d, "region %u (%s) is flagged MMAP but came without an fd", i, pr->name);
	}
	return 0;
}

static int gather_irqs(struct gather *g)
{
	struct probe_desc *d = g->d;
	uint32_t n = d->device.num_irqs;
	int r;

	if (n > PROBE_MAX_IRQS) {
		probe_warn(d, "the server reports %u IRQ indexes; only the first %u are probed", n, PROBE_MAX_IRQS);
		n = PROBE_MAX_IRQS;
	}
	d->has_irqs = true;
	for (uint32_t i = 0; i < n; i++) {
		struct probe_irq *pi = &d->irqs[i];
		struct vfio_user_irq_info ii;

		r = vuc_irq_info(g->c, i, &ii);
		if (r < 0 && is_fatal(r))
			return r;
		d->nirqs = i + 1;
		pi->name = irq_name(i);
		if (r < 0) {
			pi->error = -r;
			continue;
		}
		pi->count = ii.count;
		pi->flags = (struct probe_flags){ ii.flags, irq_flags };
	}
	return 0;
}

/* Reads the config space in transfers the server accepts, falling back to dwords. */
static int read_config(struct gather *g, uint8_t *cfg, uint32_t size)
{
	uint32_t chunk = g->d->version.max_data_xfer_size, off, bad = 0;
	int r;

	if (chunk > size)
		chunk = size;
	if (chunk < 4)
		chunk = 4;
	memset(cfg, 0xff, PROBE_CFG_MAX);
	for (off = 0; off < size; off += chunk) {
		uint32_t n = size - off < chunk ? size - off : chunk;

		r = vuc_config_read(g->c, off, cfg + off, n);
		if (r == 0)
			continue;
		if (is_fatal(r))
			return r;
		/* The server refused the large read: go dword by dword (bytes for a ragged end). */
		for (uint32_t at = off; at < off + n;) {
			uint32_t step = off + n - at >= 4 ? 4 : 1;

			r = vuc_config_read(g->c, at, cfg + at, step);
			if (r < 0 && is_fatal(r))
				return r;
			if (r < 0) {
				memset(cfg + at, 0xff, step);
				bad++;
			}
			at += step;
		}
	}
	if (bad)
		probe_warn(g->d, "%u config space reads failed; those bytes show as 0xff", bad);
	return 0;
}

static int gather_config(struct gather *g)
{
	const uint32_t ci = VFIO_PCI_CONFIG_REGION_INDEX;
	struct probe_desc *d = g->d;
	uint8_t cfg[PROBE_CFG_MAX];
	uint64_t region_size;
	uint32_t size;
	int r;

	if (ci >= d->nregions || d->regions[ci].error || d->regions[ci].size < PCI_STD_HEADER_SIZEOF) {
		probe_warn(d, "no usable config space region: the PCI config space is not decoded");
		return 0;
	}
	region_size = d->regions[ci].size;
	size = region_size < PROBE_CFG_MAX ? (uint32_t)region_size : PROBE_CFG_MAX;
	if (region_size != PCI_CFG_SPACE_SIZE && region_size != PCI_CFG_SPACE_EXP_SIZE)
		probe_warn(d, "the config region is %" PRIu64 " bytes: QEMU expects 256 (PCI) or 4096 (PCIe)",
			   region_size);
	r = read_config(g, cfg, size);
	if (r < 0)
		return r;
	probe_decode_config(d, cfg, size);
	d->has_config = true;
	return 0;
}

/* In order; each returns 0 or a fatal negative errno. */
static const struct step {
	const char *request; /* what the error names when it fails */
	int (*run)(struct gather *g);
} steps[] = {
	{ "version negotiation", gather_version },
	{ "DEVICE_GET_INFO", gather_device },
	{ "DEVICE_GET_REGION_INFO", gather_regions },
	{ "DEVICE_GET_IRQ_INFO", gather_irqs },
	{ "REGION_READ of the config space", gather_config },
};

enum probe_outcome probe_gather(struct probe_desc *d, int *error, const char **request)
{
	struct gather g = { .d = d };
	enum probe_outcome outcome = PROBE_COMPLETE;
	int r;

	g.capbuf = malloc(PROBE_CAPS_BUF);
	if (!g.capbuf)
		return PROBE_NO_MEMORY;
	r = vuc_connect(d->socket, &g.c);
	if (r < 0) {
		*error = r;
		outcome = PROBE_NO_CONNECTION;
		goto out;
	}
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && outcome == PROBE_COMPLETE; i++) {
		r = steps[i].run(&g);
		if (r < 0) {
			*error = r;
			*request = steps[i].request;
			outcome = PROBE_CUT_SHORT;
		}
	}
	d->complete = outcome == PROBE_COMPLETE;
out:
	vuc_close(g.c);
	free(g.capbuf);
	return outcome;
}
