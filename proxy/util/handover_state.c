/* handover_state.c: encodes and checks the hand-over state (header, CRC, records, fd indexes); one codec per record serves both directions. */
#include "util/handover_state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfio-user.h"

/* ---- CRC-32 (IEEE 802.3, reflected), table built on first use ---- */

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t len)
{
	static uint32_t table[256];
	static bool ready;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		ready = true;
	}
	for (size_t i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return crc;
}

uint32_t ho_crc32(const uint8_t *p, size_t len)
{
	return crc_update(0xffffffffu, p, len) ^ 0xffffffffu;
}

/* The state's CRC: the whole buffer (at least the header) with the CRC field as zero. */
static uint32_t state_crc(const uint8_t *buf, size_t len)
{
	static const uint8_t zero[4];
	uint32_t crc = crc_update(0xffffffffu, buf, 24);

	crc = crc_update(crc, zero, 4);
	return crc_update(crc, buf + 28, len - 28) ^ 0xffffffffu;
}

/* ---- state life ---- */

void ho_state_init(struct ho_state *st)
{
	memset(st, 0, sizeof(*st));
	st->server.listen_fd = HO_NONE;
	st->session.fd = HO_NONE;
	st->session.rx_fds_msg = HO_NONE;
	st->emu.ram_fd = HO_NONE;
	st->emu.intx_unmask_fd = HO_NONE;
	st->emu.irq_type = -1;
	st->vfio.device_fd = st->vfio.container_fd = st->vfio.group_fd = st->vfio.iommufd = HO_NONE;
	st->vfio.req_fd = st->vfio.req_client_fd = HO_NONE;
	for (uint32_t i = 0; i < HO_EMU_IRQS; i++)
		for (uint32_t v = 0; v < HO_EMU_VECTORS; v++)
			st->emu.trigger[i][v] = HO_NONE;
}

void ho_state_free(struct ho_state *st)
{
	free(st->fds);
	free(st->windows);
	free(st->session.rx);
	free(st->vfio.irq_fds);
	free(st->store.ids);
	st->store.ids = NULL;
	st->fds = NULL;
	st->windows = NULL;
	st->session.rx = NULL;
	st->vfio.irq_fds = NULL;
	st->nfds = st->nwindows = st->session.rx_len = st->vfio.nirq_fds = 0;
}

uint32_t ho_state_add_fd(struct ho_state *st, int fd)
{
	int32_t *p;

	if (fd < 0 || st->nfds >= HO_MAX_FDS)
		return HO_NONE;
	p = realloc(st->fds, (st->nfds + 1) * sizeof(*p));
	if (!p)
		return HO_NONE;
	st->fds = p;
	p[st->nfds] = fd;
	return st->nfds++;
}

int ho_state_add_window(struct ho_state *st, const struct ho_window *w)
{
	struct ho_window *p;

	if (st->nwindows >= HO_MAX_WINDOWS)
		return -ENOSPC;
	p = realloc(st->windows, (st->nwindows + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	st->windows = p;
	p[st->nwindows++] = *w;
	return 0;
}

int ho_state_set_irq_fds(struct ho_state *st, const uint32_t *idx, uint32_t n)
{
	uint32_t *p = NULL;

	if (n > HO_VFIO_MAX_IRQ_FDS)
		return -E2BIG;
	if (n) {
		p = malloc(n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memcpy(p, idx, n * sizeof(*p));
	}
	free(st->vfio.irq_fds);
	st->vfio.irq_fds = p;
	st->vfio.nirq_fds = n;
	return 0;
}

int ho_state_set_store_ids(struct ho_state *st, const uint32_t *ids)
{
	uint32_t *p = malloc((st->nfds ? st->nfds : 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	memcpy(p, ids, st->nfds * sizeof(*p));
	free(st->store.ids);
	st->store.ids = p;
	st->have_store = true;
	return 0;
}

int ho_state_set_rx(struct ho_state *st, const void *buf, size_t len)
{
	uint8_t *p = NULL;

	if (len > HO_MAX_READAHEAD)
		return -E2BIG;
	if (len) {
		p = malloc(len);
		if (!p)
			return -ENOMEM;
		memcpy(p, buf, len);
	}
	free(st->session.rx);
	st->session.rx = p;
	st->session.rx_len = (uint32_t)len;
	return 0;
}

/* ---- the cursor: writes (or only measures, without a buffer) or reads, failing past its end ---- */

struct cur {
	uint8_t *p;
	size_t len, off;
	bool write;
	bool fail; /* ran past the end, or a bool that is neither 0 nor 1 */
};

static void c_bytes(struct cur *c, void *v, size_t n)
{
	if (c->fail || n > c->len - c->off) {
		c->fail = true;
		return;
	}
	if (!n)
		return;
	if (c->write && c->p)
		memcpy(c->p + c->off, v, n);
	else if (!c->write)
		memcpy(v, c->p + c->off, n);
	c->off += n;
}

#define C_NUM(c, v) c_bytes((c), (v), sizeof(*(v)))

static void c_bool(struct cur *c, bool *b)
{
	uint8_t v = *b ? 1 : 0;

	c_bytes(c, &v, 1);
	if (!c->write && !c->fail) {
		if (v > 1)
			c->fail = true;
		*b = v == 1;
	}
}

/* ---- one codec per record ---- */

static void rec_server(struct cur *c, struct ho_server *s)
{
	C_NUM(c, &s->send_timeout_ms);
	C_NUM(c, &s->poll_us);
	C_NUM(c, &s->max_dma_bytes);
	C_NUM(c, &s->clients);
	C_NUM(c, &s->listen_fd);
	c_bytes(c, s->socket_path, sizeof(s->socket_path));
}

static void rec_session(struct cur *c, struct ho_session *s)
{
	C_NUM(c, &s->fd);
	c_bool(c, &s->versioned);
	C_NUM(c, &s->major);
	C_NUM(c, &s->minor);
	C_NUM(c, &s->max_msg_fds);
	C_NUM(c, &s->max_data_xfer_size);
	C_NUM(c, &s->pgsizes);
	c_bool(c, &s->sent_json);
	C_NUM(c, &s->next_msg_id);
	C_NUM(c, &s->messages);
	C_NUM(c, &s->warned);
}

static void rec_window(struct cur *c, struct ho_window *w)
{
	C_NUM(c, &w->iova);
	C_NUM(c, &w->size);
	C_NUM(c, &w->offset);
	C_NUM(c, &w->prot);
	C_NUM(c, &w->fd);
}

static void rec_emulated(struct cur *c, struct ho_emulated *e)
{
	c_bytes(c, e->config, sizeof(e->config));
	C_NUM(c, &e->liveness);
	C_NUM(c, &e->fact);
	C_NUM(c, &e->status);
	C_NUM(c, &e->irq_status);
	C_NUM(c, &e->irq_vector);
	C_NUM(c, &e->dma_src);
	C_NUM(c, &e->dma_dst);
	C_NUM(c, &e->dma_count);
	C_NUM(c, &e->dma_cmd);
	c_bytes(c, e->dma_buf, sizeof(e->dma_buf));
	c_bytes(c, e->msix_table, sizeof(e->msix_table));
	C_NUM(c, &e->msix_pba);
	C_NUM(c, &e->ram_fd);
	C_NUM(c, &e->irq_type);
	for (uint32_t i = 0; i < HO_EMU_IRQS; i++)
		for (uint32_t v = 0; v < HO_EMU_VECTORS; v++)
			C_NUM(c, &e->trigger[i][v]);
	C_NUM(c, &e->intx_unmask_fd);
	c_bool(c, &e->intx_masked);
	c_bool(c, &e->intx_asserted);
	c_bool(c, &e->told_blocked_eventfd);
}

static int rec_vfio(struct cur *c, struct ho_vfio *v)
{
	C_NUM(c, &v->iommu);
	C_NUM(c, &v->device_fd);
	C_NUM(c, &v->container_fd);
	C_NUM(c, &v->group_fd);
	C_NUM(c, &v->iommufd);
	C_NUM(c, &v->ioas_id);
	C_NUM(c, &v->dev_id);
	C_NUM(c, &v->req_fd);
	C_NUM(c, &v->req_client_fd);
	c_bool(c, &v->fd_lent);
	c_bool(c, &v->asked_back);
	c_bool(c, &v->told_rom_window);
	c_bool(c, &v->told_fdless_window);
	c_bool(c, &v->told_memlock);
	C_NUM(c, &v->nirqs);
	for (uint32_t i = 0; i < HO_VFIO_IRQS; i++) {
		C_NUM(c, &v->irqs[i].enabled);
		C_NUM(c, &v->irqs[i].nfds);
	}
	C_NUM(c, &v->nirq_fds);
	if (c->fail)
		return 0;
	if (v->nirq_fds > HO_VFIO_MAX_IRQ_FDS || (size_t)v->nirq_fds * sizeof(uint32_t) > c->len - c->off)
		return -EINVAL;
	if (!c->write && v->nirq_fds) {
		v->irq_fds = malloc(v->nirq_fds * sizeof(uint32_t));
		if (!v->irq_fds)
			return -ENOMEM;
	}
	c_bytes(c, v->irq_fds, v->nirq_fds * sizeof(uint32_t));
	return 0;
}

/* The ids, one per fd of the table (the FDS record comes first, so nfds is known here). */
static int rec_store(struct cur *c, struct ho_state *st)
{
	uint32_t n = st->nfds;

	C_NUM(c, &st->store.generation);
	C_NUM(c, &n);
	if (c->fail)
		return 0;
	if (n != st->nfds || (size_t)n * sizeof(uint32_t) > c->len - c->off)
		return -EINVAL;
	if (!c->write) {
		st->store.ids = malloc((n ? n : 1) * sizeof(uint32_t));
		if (!st->store.ids)
			return -ENOMEM;
	}
	c_bytes(c, st->store.ids, n * sizeof(uint32_t));
	return 0;
}

/* The variable records: their counts first; the reader allocates what the (bounded) counts say. */
static int rec_fds(struct cur *c, struct ho_state *st)
{
	C_NUM(c, &st->nfds);
	if (c->fail)
		return 0;
	if (st->nfds > HO_MAX_FDS || (size_t)st->nfds * sizeof(int32_t) > c->len - c->off)
		return -EINVAL;
	if (!c->write && st->nfds) {
		st->fds = malloc(st->nfds * sizeof(int32_t));
		if (!st->fds)
			return -ENOMEM;
	}
	c_bytes(c, st->fds, st->nfds * sizeof(int32_t));
	return 0;
}

static int rec_readahead(struct cur *c, struct ho_session *s)
{
	C_NUM(c, &s->rx_len);
	C_NUM(c, &s->rx_nfds);
	c_bool(c, &s->rx_fds_truncated);
	C_NUM(c, &s->rx_fds_msg);
	if (c->fail)
		return 0;
	if (s->rx_nfds > HO_MAX_RX_FDS || s->rx_len > HO_MAX_READAHEAD)
		return -EINVAL;
	c_bytes(c, s->rx_fds, s->rx_nfds * sizeof(uint32_t));
	if (c->fail || s->rx_len > c->len - c->off)
		return -EINVAL;
	if (!c->write && s->rx_len) {
		s->rx = malloc(s->rx_len);
		if (!s->rx)
			return -ENOMEM;
	}
	c_bytes(c, s->rx, s->rx_len);
	return 0;
}

/* ---- the checks both directions share ---- */

struct checker {
	const struct ho_state *st;
	uint8_t *seen; /* per fd index */
	char *why;
	size_t why_len;
};

static int bad(struct checker *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct checker *k, const char *fmt, ...)
{
	va_list ap;

	if (k->why && k->why_len) {
		va_start(ap, fmt);
		vsnprintf(k->why, k->why_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/*
 * An fd index: HO_NONE where allowed, else below nfds and referenced by nothing else; DMA windows (shared)
 * may share one (the windows of one file share its fd) but with nothing that is not a window.
 */
static int ref_as(struct checker *k, uint32_t idx, bool optional, const char *what, uint8_t kind)
{
	if (idx == HO_NONE)
		return optional ? 0 : bad(k, "%s has no fd", what);
	if (idx >= k->st->nfds)
		return bad(k, "%s names fd index %u of %u", what, idx, k->st->nfds);
	if (k->seen[idx] && !(kind == 2 && k->seen[idx] == 2))
		return bad(k, "fd index %u is referenced twice (%s)", idx, what);
	k->seen[idx] = kind;
	return 0;
}

static int ref(struct checker *k, uint32_t idx, bool optional, const char *what)
{
	return ref_as(k, idx, optional, what, 1);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* n values, each in [lo, hi) and no two the same (what names them in the reason). */
static int check_unique(struct checker *k, const uint32_t *v, uint32_t n, uint32_t lo, uint32_t hi,
			const char *what)
{
	uint32_t *sorted;
	int ret = 0;

	if (!n)
		return 0;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, v, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u32);
	if (sorted[0] < lo || sorted[n - 1] >= hi)
		ret = bad(k, "an %s is out of range", what);
	for (uint32_t i = 1; i < n && !ret; i++)
		if (sorted[i] == sorted[i - 1])
			ret = bad(k, "%s %u is listed twice", what, sorted[i]);
	free(sorted);
	return ret;
}

/* fd numbers are int32: a negative one reads as 2^31 or more, out of range */
static int check_fd_numbers(struct checker *k)
{
	return check_unique(k, (const uint32_t *)k->st->fds, k->st->nfds, 0, 1u << 30, "fd number");
}

static int check_session(struct checker *k, const struct ho_session *s)
{
	int ret = ref(k, s->fd, false, "the client's connection");

	if (ret)
		return ret;
	if (s->major != VFIO_USER_MAJOR || s->minor > VFIO_USER_MINOR)
		return bad(k, "negotiated version %u.%u is not one this server speaks", s->major, s->minor);
	if (!s->max_data_xfer_size || !s->pgsizes || s->pgsizes > (UINT64_MAX >> 1))
		return bad(k, "negotiated max_data_xfer_size or pgsizes is out of range");
	if (s->warned & ~HO_WARNED_ALL)
		return bad(k, "unknown session flags %#x", s->warned);
	if (s->rx_len > HO_MAX_READAHEAD || s->rx_nfds > HO_MAX_RX_FDS || (s->rx_len && !s->rx))
		return bad(k, "read-ahead of %u bytes with %u fds is out of range", s->rx_len, s->rx_nfds);
	if (s->rx_nfds || s->rx_fds_truncated) {
		if (s->rx_fds_msg >= s->rx_len)
			return bad(k, "read-ahead fds belong to offset %u of %u bytes", s->rx_fds_msg, s->rx_len);
	} else if (s->rx_fds_msg != HO_NONE) {
		return bad(k, "read-ahead names a message for fds it does not have");
	}
	for (uint32_t i = 0; i < s->rx_nfds; i++)
		if ((ret = ref(k, s->rx_fds[i], false, "a read-ahead fd")))
			return ret;
	return 0;
}

static int check_windows(struct checker *k)
{
	const struct ho_state *st = k->st;
	int ret;

	if (st->nwindows > HO_MAX_WINDOWS || (st->nwindows && !st->have_session))
		return bad(k, "%u DMA windows without a client, or more than %u", st->nwindows, HO_MAX_WINDOWS);
	for (uint32_t i = 0; i < st->nwindows; i++) {
		const struct ho_window *w = &st->windows[i];

		if (!w->size || w->size - 1 > UINT64_MAX - w->iova)
			return bad(k, "DMA window %u has size %#llx at %#llx", i, (unsigned long long)w->size,
				   (unsigned long long)w->iova);
		if (!w->prot || (w->prot & ~(uint32_t)(VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)))
			return bad(k, "DMA window %u has flags %#x", i, w->prot);
		if (w->fd != HO_NONE && w->size - 1 > UINT64_MAX - w->offset)
			return bad(k, "DMA window %u's offset overflows", i);
		if (i && st->windows[i - 1].iova + (st->windows[i - 1].size - 1) >= w->iova)
			return bad(k, "DMA window %u is not after window %u", i, i - 1);
		if ((ret = ref_as(k, w->fd, true, "a DMA window", 2)))
			return ret;
	}
	return 0;
}

static int check_emulated(struct checker *k, const struct ho_emulated *e)
{
	int ret = ref(k, e->ram_fd, false, "the RAM BAR");

	if (ret)
		return ret;
	if (e->irq_type < -1 || e->irq_type >= (int32_t)HO_EMU_IRQS)
		return bad(k, "interrupt type %d is out of range", (int)e->irq_type);
	for (uint32_t i = 0; i < HO_EMU_IRQS; i++)
		for (uint32_t v = 0; v < HO_EMU_VECTORS; v++)
			if ((ret = ref(k, e->trigger[i][v], true, "an interrupt eventfd")))
				return ret;
	return ref(k, e->intx_unmask_fd, true, "the INTx unmask eventfd");
}

static int check_vfio(struct checker *k, const struct ho_vfio *v)
{
	bool legacy = v->iommu == HO_VFIO_LEGACY;
	uint32_t sum = 0, at = 0;
	int ret;

	if (v->iommu != HO_VFIO_LEGACY && v->iommu != HO_VFIO_IOMMUFD)
		return bad(k, "unknown IOMMU path %u", v->iommu);
	if ((ret = ref(k, v->device_fd, false, "the VFIO device")) ||
	    (ret = ref(k, v->container_fd, !legacy, "the VFIO container")) ||
	    (ret = ref(k, v->group_fd, !legacy, "the VFIO group")) || (ret = ref(k, v->iommufd, legacy, "the iommufd")) ||
	    (ret = ref(k, v->req_fd, true, "the device request eventfd")) ||
	    (ret = ref(k, v->req_client_fd, true, "the client's request eventfd")))
		return ret;
	if (legacy ? v->container_fd == HO_NONE || v->group_fd == HO_NONE || v->iommufd != HO_NONE || v->ioas_id ||
			     v->dev_id
		   : v->container_fd != HO_NONE || v->group_fd != HO_NONE || v->iommufd == HO_NONE || !v->ioas_id)
		return bad(k, "the VFIO record's files do not match its IOMMU path");
	if (v->nirqs > HO_VFIO_IRQS)
		return bad(k, "%u IRQ indexes, more than %u", v->nirqs, HO_VFIO_IRQS);
	for (uint32_t i = 0; i < HO_VFIO_IRQS; i++) {
		const struct ho_vfio_irq *q = &v->irqs[i];

		if (i >= v->nirqs && (q->enabled || q->nfds))
			return bad(k, "IRQ index %u is past the %u the device has", i, v->nirqs);
		if (q->nfds > HO_VFIO_MAX_IRQ_FDS || (q->nfds && q->enabled > q->nfds))
			return bad(k, "IRQ index %u: %u vectors enabled, %u kept", i, q->enabled, q->nfds);
		sum += q->nfds;
	}
	if (sum != v->nirq_fds || sum > HO_VFIO_MAX_IRQ_FDS || (sum && !v->irq_fds))
		return bad(k, "the kept interrupt eventfds (%u) do not add up to %u", v->nirq_fds, sum);
	for (uint32_t i = 0; i < HO_VFIO_IRQS; i++)
		for (uint32_t n = 0; n < v->irqs[i].nfds; n++, at++)
			if ((ret = ref(k, v->irq_fds[at], true, "an interrupt eventfd")))
				return ret;
	return 0;
}

static int check_store(struct checker *k, const struct ho_store *s)
{
	if (!s->generation || (k->st->nfds && !s->ids))
		return bad(k, "the fd store record has generation 0 or no ids");
	return check_unique(k, s->ids, k->st->nfds, 1, 1u << 31, "fd store id");
}

static int check_state(const struct ho_state *st, char *why, size_t why_len)
{
	struct checker k = { .st = st, .why = why, .why_len = why_len };
	const struct ho_server *s = &st->server;
	int ret;

	if (st->nfds > HO_MAX_FDS || (st->nfds && !st->fds))
		return bad(&k, "%u fds, more than %u", st->nfds, HO_MAX_FDS);
	k.seen = calloc(st->nfds ? st->nfds : 1, 1);
	if (!k.seen)
		return -ENOMEM;
	ret = check_fd_numbers(&k);
	if (!ret && (s->send_timeout_ms < 1 || s->send_timeout_ms > 3600000 || s->poll_us < 0 || s->poll_us > 1000000))
		ret = bad(&k, "client timeout %d ms or poll %d us is out of range", (int)s->send_timeout_ms,
			  (int)s->poll_us);
	if (!ret && !memchr(s->socket_path, '\0', sizeof(s->socket_path)))
		ret = bad(&k, "the socket path is not terminated");
	if (!ret)
		ret = ref(&k, s->listen_fd, false, "the listening socket");
	if (!ret && st->have_session)
		ret = check_session(&k, &st->session);
	if (!ret)
		ret = check_windows(&k);
	if (!ret && st->have_emulated && st->have_vfio)
		ret = bad(&k, "an emulated device and a VFIO device in one state");
	if (!ret && st->have_emulated)
		ret = check_emulated(&k, &st->emu);
	if (!ret && st->have_vfio)
		ret = check_vfio(&k, &st->vfio);
	if (!ret && st->have_store)
		ret = check_store(&k, &st->store);
	for (uint32_t i = 0; !ret && i < st->nfds; i++)
		if (!k.seen[i])
			ret = bad(&k, "fd index %u is referenced by nothing", i);
	free(k.seen);
	return ret;
}

/* ---- records in and out ---- */

struct rec_out {
	uint32_t type;
	int (*codec)(struct cur *c, struct ho_state *st, uint32_t i);
	uint32_t count;
};

static int out_fds(struct cur *c, struct ho_state *st, uint32_t i)
{
	return rec_fds(c, st);
}
static int out_server(struct cur *c, struct ho_state *st, uint32_t i)
{
	rec_server(c, &st->server);
	return 0;
}
static int out_session(struct cur *c, struct ho_state *st, uint32_t i)
{
	rec_session(c, &st->session);
	return 0;
}
static int out_readahead(struct cur *c, struct ho_state *st, uint32_t i)
{
	return rec_readahead(c, &st->session);
}
static int out_window(struct cur *c, struct ho_state *st, uint32_t i)
{
	rec_window(c, &st->windows[i]);
	return 0;
}
static int out_emulated(struct cur *c, struct ho_state *st, uint32_t i)
{
	rec_emulated(c, &st->emu);
	return 0;
}

static int out_vfio(struct cur *c, struct ho_state *st, uint32_t i)
{
	return rec_vfio(c, &st->vfio);
}

static int out_store(struct cur *c, struct ho_state *st, uint32_t i)
{
	return rec_store(c, st);
}

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

int ho_encode(const struct ho_state *cst, uint8_t **out, size_t *out_len)
{
	struct ho_state *st = (struct ho_state *)cst; /* the codecs only read it when writing */
	const struct rec_out recs[] = {
		{ HO_REC_FDS, out_fds, 1 },
		{ HO_REC_SERVER, out_server, 1 },
		{ HO_REC_SESSION, out_session, st->have_session },
		{ HO_REC_READAHEAD, out_readahead, st->have_session },
		{ HO_REC_WINDOW, out_window, st->nwindows },
		{ HO_REC_EMULATED, out_emulated, st->have_emulated },
		{ HO_REC_VFIO, out_vfio, st->have_vfio },
		{ HO_REC_STORE, out_store, st->have_store },
	};
	size_t total = HO_HEADER_SIZE;
	uint32_t nrec = 0;
	uint64_t total64;
	char why[160];
	uint8_t *buf;
	int ret = check_state(st, why, sizeof(why));

	if (ret)
		return ret;
	for (int pass = 0; pass < 2; pass++) {
		size_t off = HO_HEADER_SIZE;

		buf = NULL;
		if (pass == 1) {
			buf = calloc(1, total);
			if (!buf)
				return -ENOMEM;
		}
		for (size_t r = 0; r < sizeof(recs) / sizeof(recs[0]); r++) {
			for (uint32_t i = 0; i < recs[r].count; i++) {
				struct cur c = { .p = buf ? buf + off + 8 : NULL, .len = SIZE_MAX / 2, .write = true };

				ret = recs[r].codec(&c, st, i);
				if (ret || c.fail) {
					free(buf);
					return ret ? ret : -EINVAL;
				}
				if (buf) {
					put32(buf + off, recs[r].type);
					put32(buf + off + 4, (uint32_t)c.off);
				} else {
					nrec++;
				}
				off += 8 + pad8(c.off);
			}
		}
		total = off;
	}
	total64 = total;
	memcpy(buf, HO_MAGIC, 8);
	put32(buf + 8, HO_VERSION);
	put32(buf + 12, HO_HEADER_SIZE);
	memcpy(buf + 16, &total64, 8);
	put32(buf + 28, nrec);
	put32(buf + 24, state_crc(buf, total));
	*out = buf;
	*out_len = total;
	return 0;
}

uint32_t ho_peek_version(const uint8_t *buf, size_t len)
{
	if (len < HO_HEADER_SIZE || memcmp(buf, HO_MAGIC, 8) != 0)
		return 0;
	return get32(buf + 8);
}

static int decode_record(uint32_t type, struct cur *c, struct ho_state *st, uint32_t *seen_mask)
{
	if (type < HO_REC_FDS || type > HO_REC_STORE)
		return -ENOENT;
	if (*seen_mask >> (type + 1))
		return -EDOM; /* the encoder's order only: one state, one encoding */
	if (type != HO_REC_WINDOW && (*seen_mask & (1u << type)))
		return -EEXIST;
	*seen_mask |= 1u << type;
	switch (type) {
	case HO_REC_FDS:
		return rec_fds(c, st);
	case HO_REC_SERVER:
		rec_server(c, &st->server);
		return 0;
	case HO_REC_SESSION:
		st->have_session = true;
		rec_session(c, &st->session);
		return 0;
	case HO_REC_READAHEAD:
		return rec_readahead(c, &st->session);
	case HO_REC_WINDOW: {
		struct ho_window w;

		rec_window(c, &w);
		return c->fail ? 0 : ho_state_add_window(st, &w);
	}
	case HO_REC_EMULATED:
		st->have_emulated = true;
		rec_emulated(c, &st->emu);
		return 0;
	case HO_REC_VFIO:
		st->have_vfio = true;
		return rec_vfio(c, &st->vfio);
	default:
		st->have_store = true;
		return rec_store(c, st);
	}
}

int ho_decode(const uint8_t *buf, size_t len, struct ho_state *st, char *why, size_t why_len)
{
	struct checker k = { .why = why, .why_len = why_len };
	uint32_t version, nrec, seen = 0, crc;
	uint64_t total;
	size_t off = HO_HEADER_SIZE;
	int ret;

	ho_state_init(st);
	if (why_len)
		why[0] = '\0';
	if (len < HO_HEADER_SIZE || memcmp(buf, HO_MAGIC, 8) != 0)
		return bad(&k, "not a hand-over state (%zu bytes, no magic)", len);
	version = get32(buf + 8);
	if (version != HO_VERSION) {
		snprintf(why, why_len, "state version %u, this binary reads version %u only", version, HO_VERSION);
		return -EPROTONOSUPPORT;
	}
	memcpy(&total, buf + 16, 8);
	if (get32(buf + 12) != HO_HEADER_SIZE || total != len)
		return bad(&k, "header says %llu bytes, the state has %zu", (unsigned long long)total, len);
	crc = get32(buf + 24);
	if (state_crc(buf, len) != crc)
		return bad(&k, "CRC mismatch (%#x, computed %#x)", crc, state_crc(buf, len));
	nrec = get32(buf + 28);
	if (nrec > HO_MAX_WINDOWS + 7)
		return bad(&k, "%u records", nrec);
	for (uint32_t r = 0; r < nrec; r++) {
		uint32_t type, plen;
		struct cur c;

		if (len - off < 8)
			return bad(&k, "record %u is cut short", r);
		type = get32(buf + off);
		plen = get32(buf + off + 4);
		if (plen > len - off - 8 || pad8(plen) > len - off - 8)
			return bad(&k, "record %u (type %u) runs past the end", r, type);
		c = (struct cur){ .p = (uint8_t *)buf + off + 8, .len = plen };
		ret = decode_record(type, &c, st, &seen);
		if (ret == -ENOENT)
			return bad(&k, "record %u has unknown type %u", r, type);
		if (ret == -EEXIST)
			return bad(&k, "record type %u appears twice", type);
		if (ret == -EDOM)
			return bad(&k, "record %u (type %u) is out of order", r, type);
		if (ret == -ENOMEM)
			return ret;
		if (ret || c.fail || c.off != plen)
			return bad(&k, "record %u (type %u) has a bad length or value", r, type);
		for (size_t i = plen; i < pad8(plen); i++)
			if (buf[off + 8 + i])
				return bad(&k, "record %u has non-zero padding", r);
		off += 8 + pad8(plen);
	}
	if (off != len)
		return bad(&k, "%zu bytes after the last record", len - off);
	if (!(seen & (1u << HO_REC_FDS)) || !(seen & (1u << HO_REC_SERVER)))
		return bad(&k, "the fd table or the server record is missing");
	if (!!(seen & (1u << HO_REC_SESSION)) != !!(seen & (1u << HO_REC_READAHEAD)))
		return bad(&k, "a session without its read-ahead, or the reverse");
	return check_state(st, why, why_len);
}
