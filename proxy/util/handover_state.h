/* handover_state.h: the hand-over state format: what a proxy passes its successor across exec (versioned records, fd indexes, CRC), encoded and checked here. */
#ifndef UTIL_HANDOVER_STATE_H
#define UTIL_HANDOVER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The layout (all little-endian, as the host is):
 *   header, 32 bytes: "VUPSTATE", u32 version, u32 header size (32), u64 total length, u32 CRC-32 (IEEE)
 *   of the whole buffer with this field zero, u32 record count;
 *   records: u32 type, u32 payload length, the payload, zero padding to 8 bytes.
 * Records come in the order of their types; each appears once (WINDOW up to HO_MAX_WINDOWS times, in
 * IOVA order; EMULATED or VFIO, not both, for the device), so a state has exactly one encoding. Each
 * has an exact size, but for FDS, READAHEAD and VFIO, whose counts are in the record. fds are carried as indexes
 * into the FDS record (the fd numbers the successor inherits); every index is referenced exactly once,
 * but that the DMA windows of one file share its fd's.
 * A reader accepts its own version only, and nothing it does not fully understand: unknown or duplicate
 * records, a count, size, offset or index out of bounds, a bool that is not 0 or 1, trailing bytes.
 * Decoding is pure (no system call): whether each fd is what the state says is the consumer's check.
 */

#define HO_MAGIC "VUPSTATE"
#define HO_VERSION 1u
#define HO_HEADER_SIZE 32u
#define HO_NONE UINT32_MAX /* an fd index meaning "no fd" */
#define HO_MAX_WINDOWS 65535u
#define HO_VFIO_IRQS 8u
#define HO_VFIO_MAX_IRQ_FDS 4096u /* kept MSI/MSI-X trigger eventfds, all indexes together */
#define HO_MAX_FDS (HO_MAX_WINDOWS + 128u + HO_VFIO_MAX_IRQ_FDS)
#define HO_MAX_READAHEAD (2u << 20)
#define HO_MAX_RX_FDS 32u
#define HO_SOCKET_PATH_MAX 108u
#define HO_EMU_IRQS 5u
#define HO_EMU_VECTORS 8u
#define HO_EMU_CONFIG_SIZE 4096u
#define HO_EMU_DMA_BUF_SIZE 4096u
#define HO_EMU_MSIX_TABLE_SIZE 128u

enum ho_record {
	HO_REC_FDS = 1,
	HO_REC_SERVER = 2,
	HO_REC_SESSION = 3,
	HO_REC_READAHEAD = 4,
	HO_REC_WINDOW = 5,
	HO_REC_EMULATED = 6,
	HO_REC_VFIO = 7,
	HO_REC_STORE = 8,
};

struct ho_server {
	int32_t send_timeout_ms;
	int32_t poll_us;
	uint64_t max_dma_bytes;
	uint64_t clients;                     /* clients served so far (the log's numbering) */
	uint32_t listen_fd;                   /* fd index */
	char socket_path[HO_SOCKET_PATH_MAX]; /* the socket this server created and removes; "" when inherited */
};

struct ho_session {
	uint32_t fd; /* fd index of the client's connection */
	bool versioned;
	uint16_t major, minor;
	uint32_t max_msg_fds;
	uint32_t max_data_xfer_size;
	uint64_t pgsizes;
	bool sent_json;
	uint16_t next_msg_id;
	uint64_t messages;
	uint32_t warned; /* HO_WARNED_* */
	/* read-ahead: the start of a message not yet whole, and the fds that came with it */
	uint32_t rx_len;
	uint8_t *rx; /* rx_len bytes (owned by the state) */
	uint32_t rx_nfds;
	uint32_t rx_fds[HO_MAX_RX_FDS]; /* fd indexes */
	bool rx_fds_truncated;
	uint32_t rx_fds_msg; /* offset in rx of the message they belong to, HO_NONE without */
};
#define HO_WARNED_WINDOWS 1u
#define HO_WARNED_DMA_BUSY 2u
#define HO_WARNED_DMA_BYTES 4u
#define HO_WARNED_WINDOW_FD 8u
#define HO_WARNED_ALL 15u

struct ho_window {
	uint64_t iova, size, offset;
	uint32_t prot; /* VFIO_USER_F_DMA_REGION_READ | _WRITE, at least one */
	uint32_t fd;   /* fd index, HO_NONE for a window served through DMA_READ/DMA_WRITE */
};

/* The emulated edu device: the model's fields one by one, its RAM BAR, its interrupts. */
struct ho_emulated {
	uint8_t config[HO_EMU_CONFIG_SIZE];
	uint32_t liveness, fact, status, irq_status, irq_vector;
	uint64_t dma_src, dma_dst, dma_count, dma_cmd;
	uint8_t dma_buf[HO_EMU_DMA_BUF_SIZE];
	uint8_t msix_table[HO_EMU_MSIX_TABLE_SIZE];
	uint64_t msix_pba;
	uint32_t ram_fd; /* fd index of the RAM BAR's sealed memfd */
	int32_t irq_type; /* -1 (none) or the enabled index, < HO_EMU_IRQS */
	uint32_t trigger[HO_EMU_IRQS][HO_EMU_VECTORS]; /* fd indexes of the client's eventfds */
	uint32_t intx_unmask_fd;
	bool intx_masked, intx_asserted, told_blocked_eventfd;
};

/*
 * A real device through VFIO: the kernel keeps the device's state, its interrupts and the IOMMU mappings
 * for as long as these files stay open; the record says which fd is which and what the backend kept.
 */
enum ho_vfio_iommu {
	HO_VFIO_LEGACY = 0,  /* container_fd and group_fd */
	HO_VFIO_IOMMUFD = 1, /* iommufd, ioas_id and dev_id */
};

struct ho_vfio_irq {
	uint32_t enabled; /* MSI, MSI-X: vectors the kernel has enabled; 0 when off */
	uint32_t nfds;    /* trigger eventfds kept for the index (its vector count), 0 when none are kept */
};

struct ho_vfio {
	uint32_t iommu; /* enum ho_vfio_iommu */
	uint32_t device_fd;
	uint32_t container_fd, group_fd; /* legacy, else HO_NONE */
	uint32_t iommufd;                /* iommufd, else HO_NONE */
	uint32_t ioas_id, dev_id;        /* iommufd, else 0 */
	uint32_t req_fd;        /* our REQ eventfd, registered with the kernel, or HO_NONE */
	uint32_t req_client_fd; /* the client's REQ eventfd, or HO_NONE */
	bool fd_lent, asked_back, told_rom_window, told_fdless_window, told_memlock;
	uint32_t nirqs; /* at most HO_VFIO_IRQS */
	struct ho_vfio_irq irqs[HO_VFIO_IRQS];
	uint32_t nirq_fds;  /* the sum of irqs[].nfds, at most HO_VFIO_MAX_IRQ_FDS */
	uint32_t *irq_fds;  /* fd indexes (HO_NONE: a vector without a trigger), index by index (owned) */
};

/*
 * systemd's file descriptor store (--fd-store): each fd of the state is kept there under the name
 * "vup-<id>", and the state itself, rewritten after every change, in two memfds; the newer valid one
 * (by generation) is what a restarted proxy resumes from.
 */
struct ho_store {
	uint64_t generation; /* > 0, one more at every rewrite */
	uint32_t *ids;       /* nfds of them, one per fd index, each > 0 and < 2^31, all different (owned) */
};

struct ho_state {
	uint32_t nfds;
	int32_t *fds; /* the fd numbers, nfds of them (owned) */
	struct ho_server server;
	bool have_session;
	struct ho_session session;
	uint32_t nwindows;
	struct ho_window *windows; /* owned */
	bool have_emulated;
	struct ho_emulated emu;
	bool have_vfio; /* at most one of have_emulated and have_vfio */
	struct ho_vfio vfio;
	bool have_store;
	struct ho_store store;
};

void ho_state_init(struct ho_state *st);
void ho_state_free(struct ho_state *st);
/* Appends fd to the table; its index, or HO_NONE when the table is full or memory short. */
uint32_t ho_state_add_fd(struct ho_state *st, int fd);
/* Appends a window (copied); 0, -ENOSPC or -ENOMEM. */
int ho_state_add_window(struct ho_state *st, const struct ho_window *w);
/* Sets the VFIO record's kept interrupt fd indexes (copied): 0, -E2BIG or -ENOMEM. */
int ho_state_set_irq_fds(struct ho_state *st, const uint32_t *idx, uint32_t n);
/* Sets the store record's ids (copied; as many as st->nfds): 0 or -ENOMEM. */
int ho_state_set_store_ids(struct ho_state *st, const uint32_t *ids);
/* Sets the read-ahead bytes (copied); 0, -E2BIG or -ENOMEM. */
int ho_state_set_rx(struct ho_state *st, const void *buf, size_t len);

/* Encodes st into a fresh buffer (*out, *out_len; free() it). Checks st as the reader will. 0 or -errno. */
int ho_encode(const struct ho_state *st, uint8_t **out, size_t *out_len);
/*
 * Decodes and checks a buffer into *st (ho_state_free it, also on failure). 0, or -EINVAL with a one-line
 * reason in why (why_len bytes), -EPROTONOSUPPORT for another version (the reason names it), -ENOMEM.
 */
int ho_decode(const uint8_t *buf, size_t len, struct ho_state *st, char *why, size_t why_len);
/* The version a buffer says it is, or 0 when it is not a hand-over state at all. */
uint32_t ho_peek_version(const uint8_t *buf, size_t len);
uint32_t ho_crc32(const uint8_t *p, size_t len);

#endif /* UTIL_HANDOVER_STATE_H */
