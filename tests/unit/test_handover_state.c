/* test_handover_state.c: the hand-over state format: round trip, every field's bounds (patched with a valid CRC), truncation at every byte, every byte damaged. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/handover_state.h"
#include "vfio-user.h"

/* Payload offsets of the fields the bounds cases patch (the record layouts of handover_state.c). */
#define SRV_TIMEOUT 0
#define SRV_POLL 4
#define SRV_LISTEN 24
#define SRV_PATH 28
#define SES_FD 0
#define SES_VERSIONED 4
#define SES_MAJOR 5
#define SES_MINOR 7
#define SES_XFER 13
#define SES_PGSIZES 17
#define SES_WARNED 36
#define RA_LEN 0
#define RA_NFDS 4
#define RA_TRUNC 8
#define RA_MSG 9
#define WIN_IOVA 0
#define WIN_SIZE 8
#define WIN_OFFSET 16
#define WIN_PROT 24
#define WIN_FD 28
#define EMU_RAM 8380
#define EMU_IRQ_TYPE 8384
#define EMU_TRIGGER 8388
#define EMU_UNMASK 8548
#define EMU_MASKED 8552
#define FDS_N 0
#define FDS_FIRST 4

static uint32_t fd_of(struct ho_state *st, int fd)
{
	uint32_t idx = ho_state_add_fd(st, fd);

	assert_int_not_equal(idx, HO_NONE);
	return idx;
}

/* A state with something in every record: a client with read-ahead and its fds, windows of which two
 * share a file, an emulated device with MSI-X eventfds and an INTx unmask eventfd. */
static void full_state(struct ho_state *st)
{
	struct ho_window w;
	uint32_t shared;

	ho_state_init(st);
	st->server = (struct ho_server){ .send_timeout_ms = 5000, .poll_us = 20, .max_dma_bytes = 1ull << 33,
					 .clients = 7 };
	st->server.listen_fd = fd_of(st, 3);
	strcpy(st->server.socket_path, "/run/vfio-user/edu.sock");
	st->have_session = true;
	st->session = (struct ho_session){ .versioned = true, .major = 0, .minor = 1, .max_msg_fds = 16,
					   .max_data_xfer_size = 1 << 20, .pgsizes = 4096, .sent_json = true,
					   .next_msg_id = 0xfffe, .messages = 123456, .warned = HO_WARNED_DMA_BUSY,
					   .rx_fds_msg = HO_NONE };
	st->session.fd = fd_of(st, 7);
	assert_int_equal(ho_state_set_rx(st, "\x01\x00\x02\x00\x30\x00\x00\x00\x00", 9), 0);
	st->session.rx_nfds = 2;
	st->session.rx_fds[0] = fd_of(st, 40);
	st->session.rx_fds[1] = fd_of(st, 41);
	st->session.rx_fds_msg = 0;
	shared = fd_of(st, 20);
	w = (struct ho_window){ .iova = 0x100000, .size = 0x10000, .offset = 0, .prot = 3, .fd = shared };
	assert_int_equal(ho_state_add_window(st, &w), 0);
	w = (struct ho_window){ .iova = 0x200000, .size = 0x1000, .offset = 0x10000, .prot = 1, .fd = shared };
	assert_int_equal(ho_state_add_window(st, &w), 0);
	w = (struct ho_window){ .iova = 0xfffffffffffff000ull, .size = 0x1000, .prot = 2, .fd = HO_NONE };
	assert_int_equal(ho_state_add_window(st, &w), 0);
	st->have_emulated = true;
	for (unsigned int i = 0; i < HO_EMU_CONFIG_SIZE; i++)
		st->emu.config[i] = (uint8_t)(i * 3);
	st->emu.liveness = 0x12345678;
	st->emu.fact = 3628800;
	st->emu.status = 0x80;
	st->emu.irq_status = 0x100;
	st->emu.irq_vector = 5;
	st->emu.dma_src = 0x100000;
	st->emu.dma_dst = 0x40000;
	st->emu.dma_count = 4096;
	st->emu.dma_cmd = 4;
	for (unsigned int i = 0; i < HO_EMU_DMA_BUF_SIZE; i++)
		st->emu.dma_buf[i] = (uint8_t)(i ^ 0x5a);
	st->emu.msix_table[17] = 0xee;
	st->emu.msix_pba = 0x81;
	st->emu.ram_fd = fd_of(st, 9);
	st->emu.irq_type = VFIO_PCI_MSIX_IRQ_INDEX;
	for (unsigned int v = 0; v < HO_EMU_VECTORS; v++)
		st->emu.trigger[VFIO_PCI_MSIX_IRQ_INDEX][v] = fd_of(st, 100 + (int)v);
	st->emu.trigger[VFIO_PCI_ERR_IRQ_INDEX][0] = fd_of(st, 200);
	st->emu.intx_unmask_fd = fd_of(st, 201);
	st->emu.intx_masked = true;
	st->emu.told_blocked_eventfd = true;
}

static uint8_t *encoded(size_t *len)
{
	struct ho_state st;
	uint8_t *buf;

	full_state(&st);
	assert_int_equal(ho_encode(&st, &buf, len), 0);
	ho_state_free(&st);
	return buf;
}

/* full_state with a real device through VFIO (legacy) instead of the emulated one. */
static void vfio_state(struct ho_state *st)
{
	uint32_t idx[2 + 16];

	full_state(st);
	st->have_emulated = false;
	/* the emulated device's fds are unreferenced now: keep them as the VFIO record's own */
	st->have_vfio = true;
	st->vfio = (struct ho_vfio){ .iommu = HO_VFIO_LEGACY, .device_fd = st->emu.ram_fd, .iommufd = HO_NONE,
				     .req_fd = st->emu.intx_unmask_fd, .req_client_fd = HO_NONE, .fd_lent = true,
				     .told_memlock = true, .nirqs = 5 };
	st->vfio.container_fd = st->emu.trigger[VFIO_PCI_ERR_IRQ_INDEX][0];
	st->vfio.group_fd = fd_of(st, 300);
	st->vfio.irqs[VFIO_PCI_MSI_IRQ_INDEX] = (struct ho_vfio_irq){ .enabled = 0, .nfds = 2 };
	st->vfio.irqs[VFIO_PCI_MSIX_IRQ_INDEX] = (struct ho_vfio_irq){ .enabled = 8, .nfds = 16 };
	idx[0] = idx[1] = HO_NONE;
	for (unsigned int v = 0; v < 16; v++)
		idx[2 + v] = v < HO_EMU_VECTORS ? st->emu.trigger[VFIO_PCI_MSIX_IRQ_INDEX][v] : HO_NONE;
	assert_int_equal(ho_state_set_irq_fds(st, idx, 18), 0);
}

static void test_vfio_round_trip(void **state)
{
	struct ho_state a, b;
	uint8_t *buf;
	uint32_t *fds;
	size_t len;
	char why[200];

	vfio_state(&a);
	assert_int_equal(ho_encode(&a, &buf, &len), 0);
	assert_int_equal(ho_decode(buf, len, &b, why, sizeof(why)), 0);
	assert_true(b.have_vfio && !b.have_emulated);
	assert_int_equal(b.vfio.nirq_fds, 18);
	assert_memory_equal(b.vfio.irq_fds, a.vfio.irq_fds, 18 * sizeof(uint32_t));
	fds = b.vfio.irq_fds;
	b.vfio.irq_fds = a.vfio.irq_fds; /* the rest of the struct compares whole */
	assert_memory_equal(&b.vfio, &a.vfio, sizeof(a.vfio));
	b.vfio.irq_fds = fds;
	ho_state_free(&a);
	ho_state_free(&b);
	/* one bit of damage anywhere: refused */
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(ho_decode(buf, len, &b, NULL, 0), 0);
		ho_state_free(&b);
		buf[i] ^= (uint8_t)(1u << (i % 8));
	}
	free(buf);
}

/* A VFIO record that one change makes wrong: the encoder (the decoder's own checks) refuses it. */
static void vfio_refused(void (*mutate)(struct ho_state *st))
{
	struct ho_state st;
	uint8_t *buf;
	size_t len;
	char why[200];

	vfio_state(&st);
	assert_int_equal(ho_encode(&st, &buf, &len), 0);
	ho_state_free(&st);
	/* the encoder refuses what the decoder would: mutate a decoded copy and encode that */
	assert_int_equal(ho_decode(buf, len, &st, why, sizeof(why)), 0);
	free(buf);
	mutate(&st);
	assert_int_equal(ho_encode(&st, &buf, &len), -EINVAL);
	ho_state_free(&st);
}

static void m_path(struct ho_state *st)
{
	st->vfio.iommu = 2;
}

static void m_iommufd_files(struct ho_state *st)
{
	st->vfio.iommu = HO_VFIO_IOMMUFD;
}

static void m_no_device(struct ho_state *st)
{
	st->vfio.device_fd = HO_NONE;
}

static void m_twice(struct ho_state *st)
{
	st->vfio.group_fd = st->vfio.container_fd;
}

static void m_irqs(struct ho_state *st)
{
	st->vfio.nirqs = HO_VFIO_IRQS + 1;
}

static void m_past(struct ho_state *st)
{
	st->vfio.nirqs = 2;
}

static void m_enabled(struct ho_state *st)
{
	st->vfio.irqs[VFIO_PCI_MSIX_IRQ_INDEX].enabled = 17;
}

static void m_sum(struct ho_state *st)
{
	st->vfio.irqs[VFIO_PCI_MSI_IRQ_INDEX].nfds = 3;
}

static void m_both(struct ho_state *st)
{
	st->have_emulated = true;
}

static void test_vfio_bounds(void **state)
{
	vfio_refused(m_path);
	vfio_refused(m_iommufd_files);
	vfio_refused(m_no_device);
	vfio_refused(m_twice);
	vfio_refused(m_irqs);
	vfio_refused(m_past);
	vfio_refused(m_enabled);
	vfio_refused(m_sum);
	vfio_refused(m_both);
}

static void test_round_trip(void **state)
{
	struct ho_state a, b;
	uint8_t *buf, *again, *rx;
	size_t len, len2;
	char why[200];

	full_state(&a);
	assert_int_equal(ho_encode(&a, &buf, &len), 0);
	assert_int_equal(ho_peek_version(buf, len), HO_VERSION);
	assert_int_equal(ho_decode(buf, len, &b, why, sizeof(why)), 0);
	assert_int_equal(b.nfds, a.nfds);
	assert_memory_equal(b.fds, a.fds, a.nfds * sizeof(int32_t));
	assert_memory_equal(&b.server, &a.server, sizeof(a.server));
	assert_true(b.have_session && b.have_emulated);
	assert_int_equal(b.session.rx_len, 9);
	assert_memory_equal(b.session.rx, a.session.rx, 9);
	rx = b.session.rx;
	b.session.rx = a.session.rx; /* the rest of the struct compares whole */
	assert_memory_equal(&b.session, &a.session, sizeof(a.session));
	b.session.rx = rx;
	assert_int_equal(b.nwindows, 3);
	assert_memory_equal(b.windows, a.windows, 3 * sizeof(*a.windows));
	assert_memory_equal(&b.emu, &a.emu, sizeof(a.emu));
	/* what it reads, it writes the same */
	assert_int_equal(ho_encode(&b, &again, &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(again, buf, len);
	free(again);
	free(buf);
	ho_state_free(&a);
	ho_state_free(&b);
}

/* No client, no device: the smallest state. */
static void test_round_trip_minimal(void **state)
{
	struct ho_state a, b;
	uint8_t *buf;
	size_t len;

	ho_state_init(&a);
	a.server.send_timeout_ms = 1;
	a.server.listen_fd = fd_of(&a, 3);
	assert_int_equal(ho_encode(&a, &buf, &len), 0);
	assert_int_equal(ho_decode(buf, len, &b, NULL, 0), 0);
	assert_false(b.have_session || b.have_emulated);
	assert_int_equal(b.nwindows, 0);
	free(buf);
	ho_state_free(&a);
	ho_state_free(&b);
}

static void test_truncated_at_every_byte(void **state)
{
	size_t len;
	uint8_t *buf = encoded(&len);

	for (size_t n = 0; n < len; n++) {
		struct ho_state st;
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, buf, n);
		assert_int_not_equal(ho_decode(copy, n, &st, NULL, 0), 0);
		ho_state_free(&st);
		free(copy);
	}
	free(buf);
}

static void test_every_byte_damaged(void **state)
{
	size_t len;
	uint8_t *buf = encoded(&len);

	for (size_t i = 0; i < len; i++) {
		struct ho_state st;

		buf[i] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(ho_decode(buf, len, &st, NULL, 0), 0);
		ho_state_free(&st);
		buf[i] ^= (uint8_t)(1u << (i % 8));
	}
	free(buf);
}

/* The payload of the nth record of a type in an encoded state. */
static uint8_t *record(uint8_t *buf, size_t len, uint32_t type, int nth, uint32_t *plen)
{
	size_t off = HO_HEADER_SIZE;

	while (off + 8 <= len) {
		uint32_t t, l;

		memcpy(&t, buf + off, 4);
		memcpy(&l, buf + off + 4, 4);
		if (t == type && nth-- == 0) {
			if (plen)
				*plen = l;
			return buf + off + 8;
		}
		off += 8 + ((l + 7) & ~7u);
	}
	fail_msg("no record of type %u", type);
	return NULL;
}

static void fix_crc(uint8_t *buf, size_t len)
{
	uint32_t crc;

	memset(buf + 24, 0, 4);
	crc = ho_crc32(buf, len);
	memcpy(buf + 24, &crc, 4);
}

/* Patches n bytes of the nth record of type at off (or the header when type is 0), CRC fixed: refused. */
static void refused_with(uint32_t type, int nth, size_t off, const void *val, size_t n, int want, const char *why_has)
{
	size_t len;
	uint8_t *buf = encoded(&len), *p = type ? record(buf, len, type, nth, NULL) : buf;
	struct ho_state st;
	char why[200];

	memcpy(p + off, val, n);
	fix_crc(buf, len);
	assert_int_equal(ho_decode(buf, len, &st, why, sizeof(why)), want);
	assert_true(why[0] != '\0');
	if (why_has && !strstr(why, why_has))
		fail_msg("reason '%s' lacks '%s'", why, why_has);
	ho_state_free(&st);
	free(buf);
}

#define REFUSED(type, nth, off, v, why) \
	do { \
		__typeof__(v) val_ = (v); \
		refused_with((type), (nth), (off), &val_, sizeof(val_), -EINVAL, (why)); \
	} while (0)

static void test_header_bounds(void **state)
{
	refused_with(0, 0, 8, &(uint32_t){ HO_VERSION + 1 }, 4, -EPROTONOSUPPORT, "state version 2");
	refused_with(0, 0, 8, &(uint32_t){ 0 }, 4, -EPROTONOSUPPORT, "version");
	REFUSED(0, 0, 0, (uint8_t)'X', "magic");
	REFUSED(0, 0, 12, (uint32_t)40, "header");
	REFUSED(0, 0, 16, (uint64_t)1 << 40, "header");
	REFUSED(0, 0, 28, (uint32_t)HO_MAX_WINDOWS + 8, "records");
	REFUSED(0, 0, 28, (uint32_t)3, "after the last record");
	REFUSED(0, 0, 28, (uint32_t)40, "cut short");
}

static void test_record_bounds(void **state)
{
	size_t len;
	uint8_t *buf = encoded(&len), *p;
	uint32_t type = 99, plen;
	struct ho_state st;
	char why[200];

	/* an unknown record type */
	p = record(buf, len, HO_REC_WINDOW, 2, NULL);
	memcpy(p - 8, &type, 4);
	fix_crc(buf, len);
	assert_int_equal(ho_decode(buf, len, &st, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "unknown type 99"));
	ho_state_free(&st);
	/* a record twice */
	type = HO_REC_SERVER;
	memcpy(p - 8, &type, 4);
	fix_crc(buf, len);
	assert_int_equal(ho_decode(buf, len, &st, why, sizeof(why)), -EINVAL);
	ho_state_free(&st);
	/* a length past the end, a length one short of the record's */
	type = HO_REC_WINDOW;
	memcpy(p - 8, &type, 4);
	plen = 1u << 30;
	memcpy(p - 4, &plen, 4);
	fix_crc(buf, len);
	assert_int_equal(ho_decode(buf, len, &st, why, sizeof(why)), -EINVAL);
	ho_state_free(&st);
	plen = 31;
	memcpy(p - 4, &plen, 4);
	fix_crc(buf, len);
	assert_int_equal(ho_decode(buf, len, &st, why, sizeof(why)), -EINVAL);
	ho_state_free(&st);
	free(buf);
	/* padding that is not zero: the emulated record's last byte is followed by 5 of it */
	buf = encoded(&len);
	p = record(buf, len, HO_REC_EMULATED, 0, &plen);
	p[plen] = 1;
	fix_crc(buf, len);
	assert_int_equal(ho_decode(buf, len, &st, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "padding"));
	ho_state_free(&st);
	free(buf);
}

static void test_fd_bounds(void **state)
{
	REFUSED(HO_REC_FDS, 0, FDS_N, (uint32_t)HO_MAX_FDS + 1, NULL);
	REFUSED(HO_REC_FDS, 0, FDS_N, (uint32_t)1000, NULL);
	REFUSED(HO_REC_FDS, 0, FDS_FIRST, (int32_t)-1, "out of range");
	REFUSED(HO_REC_FDS, 0, FDS_FIRST, (int32_t)1 << 30, "out of range");
	REFUSED(HO_REC_FDS, 0, FDS_FIRST, (int32_t)7, "listed twice");
	/* indexes: out of the table, none where one is needed, one fd for two things, one for nothing */
	REFUSED(HO_REC_SERVER, 0, SRV_LISTEN, (uint32_t)1000, "fd index 1000");
	REFUSED(HO_REC_SERVER, 0, SRV_LISTEN, (uint32_t)HO_NONE, "no fd");
	REFUSED(HO_REC_SESSION, 0, SES_FD, (uint32_t)0, "referenced twice");
	REFUSED(HO_REC_WINDOW, 2, WIN_FD, (uint32_t)0, "referenced twice");
	REFUSED(HO_REC_EMULATED, 0, EMU_RAM, (uint32_t)HO_NONE, "no fd");
	REFUSED(HO_REC_EMULATED, 0, EMU_TRIGGER + 4 * (8 * VFIO_PCI_MSIX_IRQ_INDEX), (uint32_t)HO_NONE,
		"referenced by nothing");
	REFUSED(HO_REC_EMULATED, 0, EMU_TRIGGER, (uint32_t)77, "fd index 77");
	REFUSED(HO_REC_EMULATED, 0, EMU_UNMASK, (uint32_t)1, "referenced twice");
}

static void test_server_session_bounds(void **state)
{
	char unterminated[HO_SOCKET_PATH_MAX];

	memset(unterminated, 'a', sizeof(unterminated));
	REFUSED(HO_REC_SERVER, 0, SRV_TIMEOUT, (int32_t)0, "timeout");
	REFUSED(HO_REC_SERVER, 0, SRV_TIMEOUT, (int32_t)3600001, "timeout");
	REFUSED(HO_REC_SERVER, 0, SRV_POLL, (int32_t)-1, "poll");
	REFUSED(HO_REC_SERVER, 0, SRV_POLL, (int32_t)1000001, "poll");
	refused_with(HO_REC_SERVER, 0, SRV_PATH, unterminated, sizeof(unterminated), -EINVAL, "not terminated");
	REFUSED(HO_REC_SESSION, 0, SES_VERSIONED, (uint8_t)2, "bad length or value");
	REFUSED(HO_REC_SESSION, 0, SES_MAJOR, (uint16_t)1, "version 1.1");
	REFUSED(HO_REC_SESSION, 0, SES_MINOR, (uint16_t)(VFIO_USER_MINOR + 1), "version");
	REFUSED(HO_REC_SESSION, 0, SES_XFER, (uint32_t)0, "max_data_xfer_size");
	REFUSED(HO_REC_SESSION, 0, SES_PGSIZES, (uint64_t)0, "pgsizes");
	REFUSED(HO_REC_SESSION, 0, SES_PGSIZES, UINT64_MAX, "pgsizes");
	REFUSED(HO_REC_SESSION, 0, SES_WARNED, (uint32_t)0x100, "flags");
	REFUSED(HO_REC_READAHEAD, 0, RA_LEN, (uint32_t)HO_MAX_READAHEAD + 1, "bad length");
	REFUSED(HO_REC_READAHEAD, 0, RA_LEN, (uint32_t)10, "bad length");
	REFUSED(HO_REC_READAHEAD, 0, RA_NFDS, (uint32_t)HO_MAX_RX_FDS + 1, "bad length");
	REFUSED(HO_REC_READAHEAD, 0, RA_TRUNC, (uint8_t)7, "bad length or value");
	REFUSED(HO_REC_READAHEAD, 0, RA_MSG, (uint32_t)9, "offset 9 of 9");
	REFUSED(HO_REC_READAHEAD, 0, RA_MSG, (uint32_t)HO_NONE, "belong to offset");
}

static void test_window_device_bounds(void **state)
{
	REFUSED(HO_REC_WINDOW, 0, WIN_SIZE, (uint64_t)0, "size");
	REFUSED(HO_REC_WINDOW, 2, WIN_SIZE, (uint64_t)0x2000, "size");
	REFUSED(HO_REC_WINDOW, 1, WIN_OFFSET, UINT64_MAX, "offset overflows");
	REFUSED(HO_REC_WINDOW, 0, WIN_PROT, (uint32_t)0, "flags");
	REFUSED(HO_REC_WINDOW, 0, WIN_PROT, (uint32_t)4, "flags");
	REFUSED(HO_REC_WINDOW, 1, WIN_IOVA, (uint64_t)0x10f000, "not after");
	REFUSED(HO_REC_WINDOW, 1, WIN_IOVA, (uint64_t)0x100000, "not after");
	REFUSED(HO_REC_EMULATED, 0, EMU_IRQ_TYPE, (int32_t)HO_EMU_IRQS, "interrupt type");
	REFUSED(HO_REC_EMULATED, 0, EMU_IRQ_TYPE, (int32_t)-2, "interrupt type");
	REFUSED(HO_REC_EMULATED, 0, EMU_MASKED, (uint8_t)2, "bad length or value");
}

/* The encoder refuses what the decoder would: nothing unreadable is ever written. */
static void test_encoder_checks(void **state)
{
	struct ho_state st;
	uint8_t *buf = NULL;
	size_t len;

	full_state(&st);
	st.emu.irq_type = 9;
	assert_int_equal(ho_encode(&st, &buf, &len), -EINVAL);
	st.emu.irq_type = -1;
	st.session.pgsizes = 0;
	assert_int_equal(ho_encode(&st, &buf, &len), -EINVAL);
	st.session.pgsizes = 4096;
	assert_int_equal(ho_state_add_fd(&st, -1), HO_NONE);
	assert_int_equal(ho_state_set_rx(&st, "", HO_MAX_READAHEAD + 1), -E2BIG);
	assert_int_equal(ho_encode(&st, &buf, &len), 0);
	free(buf);
	ho_state_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_minimal),
		cmocka_unit_test(test_truncated_at_every_byte),
		cmocka_unit_test(test_every_byte_damaged),
		cmocka_unit_test(test_vfio_round_trip),
		cmocka_unit_test(test_vfio_bounds),
		cmocka_unit_test(test_header_bounds),
		cmocka_unit_test(test_record_bounds),
		cmocka_unit_test(test_fd_bounds),
		cmocka_unit_test(test_server_session_bounds),
		cmocka_unit_test(test_window_device_bounds),
		cmocka_unit_test(test_encoder_checks),
	};

	return cmocka_run_group_tests_name("handover_state", tests, NULL, NULL);
}
