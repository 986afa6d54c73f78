/* vfio-user.h: the vfio-user wire format (QEMU docs/interop/vfio-user.rst), shared by server, client and tests. */
#ifndef VFIO_USER_H
#define VFIO_USER_H

#include <stddef.h>
#include <stdint.h>
#include <linux/vfio.h>

/* Commands (header.cmd). 14 (DIRTY_PAGES) is retired. */
enum vfio_user_command {
	VFIO_USER_VERSION = 1,
	VFIO_USER_DMA_MAP = 2,
	VFIO_USER_DMA_UNMAP = 3,
	VFIO_USER_DEVICE_GET_INFO = 4,
	VFIO_USER_DEVICE_GET_REGION_INFO = 5,
	VFIO_USER_DEVICE_GET_REGION_IO_FDS = 6,
	VFIO_USER_DEVICE_GET_IRQ_INFO = 7,
	VFIO_USER_DEVICE_SET_IRQS = 8,
	VFIO_USER_REGION_READ = 9,
	VFIO_USER_REGION_WRITE = 10,
	VFIO_USER_DMA_READ = 11,
	VFIO_USER_DMA_WRITE = 12,
	VFIO_USER_DEVICE_RESET = 13,
	VFIO_USER_DIRTY_PAGES_RETIRED = 14,
	VFIO_USER_REGION_WRITE_MULTI = 15,
	VFIO_USER_DEVICE_FEATURE = 16,
	VFIO_USER_MIG_DATA_READ = 17,
	VFIO_USER_MIG_DATA_WRITE = 18,
	VFIO_USER_MAX_COMMAND = 19,
};

/* header.flags */
#define VFIO_USER_F_TYPE_MASK 0xfu
#define VFIO_USER_F_TYPE_COMMAND 0x0u
#define VFIO_USER_F_TYPE_REPLY 0x1u
#define VFIO_USER_F_NO_REPLY 0x10u
#define VFIO_USER_F_ERROR 0x20u
#define VFIO_USER_F_KNOWN (VFIO_USER_F_TYPE_MASK | VFIO_USER_F_NO_REPLY | VFIO_USER_F_ERROR)

struct vfio_user_header {
	uint16_t msg_id;
	uint16_t cmd;
	uint32_t msg_size; /* whole message, header included */
	uint32_t flags;
	uint32_t error_no;
} __attribute__((packed));

/* VERSION: followed by an optional NUL-terminated JSON object {"capabilities":{...}}. */
struct vfio_user_version {
	uint16_t major;
	uint16_t minor;
	char data[];
} __attribute__((packed));

#define VFIO_USER_MAJOR 0
#define VFIO_USER_MINOR 2 /* highest minor this implementation speaks */

/* Capability names in the VERSION JSON. */
#define VFIO_USER_CAP "capabilities"
#define VFIO_USER_CAP_MAX_MSG_FDS "max_msg_fds"
#define VFIO_USER_CAP_MAX_DATA_XFER "max_data_xfer_size"
#define VFIO_USER_CAP_MAX_DMA_MAPS "max_dma_maps"
#define VFIO_USER_CAP_PGSIZES "pgsizes"
#define VFIO_USER_CAP_MIGRATION "migration"
#define VFIO_USER_CAP_MIG_PGSIZE "pgsize"
#define VFIO_USER_CAP_MIG_MAX_BITMAP "max_bitmap_size"
#define VFIO_USER_CAP_TWIN_SOCKET "twin_socket"
#define VFIO_USER_CAP_WRITE_MULTIPLE "write_multiple"

/* Defaults when a peer leaves a capability out, and the limits QEMU accepts. */
#define VFIO_USER_DEF_MAX_MSG_FDS 1u
#define VFIO_USER_DEF_MAX_DATA_XFER (1u << 20)
#define VFIO_USER_DEF_MAX_DMA_MAPS 65535u
#define VFIO_USER_DEF_PGSIZES 4096u
#define VFIO_USER_LIMIT_MAX_MSG_FDS 16u
#define VFIO_USER_LIMIT_MAX_DATA_XFER (64u << 20)
#define VFIO_USER_LIMIT_MAX_DMA_MAPS 65535u
#define VFIO_USER_MAX_VERSION_JSON 4096u /* our bound on the JSON a peer may send */

/* DMA_MAP (no reply payload). An fd in SCM_RIGHTS means the window can be mmapped. */
#define VFIO_USER_F_DMA_REGION_READ (1u << 0)
#define VFIO_USER_F_DMA_REGION_WRITE (1u << 1)
struct vfio_user_dma_map {
	uint32_t argsz;
	uint32_t flags;
	uint64_t offset; /* in the fd */
	uint64_t addr;   /* DMA address (IOVA) */
	uint64_t size;
} __attribute__((packed));

/* DMA_UNMAP: the reply echoes the request. */
#define VFIO_USER_F_DMA_UNMAP_GET_DIRTY_BITMAP (1u << 0)
#define VFIO_USER_F_DMA_UNMAP_ALL (1u << 1)
struct vfio_user_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t addr;
	uint64_t size;
} __attribute__((packed));

/* DEVICE_GET_INFO (struct vfio_device_info without cap_offset). */
struct vfio_user_device_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_DEVICE_FLAGS_RESET, VFIO_DEVICE_FLAGS_PCI */
	uint32_t num_regions;
	uint32_t num_irqs;
} __attribute__((packed));

/* DEVICE_GET_REGION_INFO (struct vfio_region_info); capabilities follow in the reply. */
struct vfio_user_region_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_REGION_INFO_FLAG_* */
	uint32_t index;
	uint32_t cap_offset; /* from the start of this struct */
	uint64_t size;
	uint64_t offset; /* mmap offset in the passed fd */
} __attribute__((packed));

/* Region capability chain (struct vfio_info_cap_header and friends). */
struct vfio_user_cap_header {
	uint16_t id;
	uint16_t version;
	uint32_t next; /* from the start of struct vfio_user_region_info; 0 ends */
} __attribute__((packed));

struct vfio_user_sparse_mmap_area {
	uint64_t offset;
	uint64_t size;
} __attribute__((packed));

struct vfio_user_cap_sparse_mmap {
	struct vfio_user_cap_header header; /* id VFIO_REGION_INFO_CAP_SPARSE_MMAP, version 1 */
	uint32_t nr_areas;
	uint32_t reserved;
	struct vfio_user_sparse_mmap_area areas[];
} __attribute__((packed));

struct vfio_user_cap_type {
	struct vfio_user_cap_header header; /* id VFIO_REGION_INFO_CAP_TYPE, version 1 */
	uint32_t type;
	uint32_t subtype;
} __attribute__((packed));

/* DEVICE_GET_REGION_IO_FDS */
#define VFIO_USER_IO_FD_TYPE_IOEVENTFD 0u
#define VFIO_USER_IO_FD_TYPE_IOREGIONFD 1u
struct vfio_user_region_io_fds_request {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
} __attribute__((packed));

struct vfio_user_sub_region_ioeventfd {
	uint64_t offset;
	uint64_t size;
	uint32_t fd_index;
	uint32_t type;
	uint32_t flags;
	uint32_t padding;
	uint64_t datamatch;
} __attribute__((packed));

/* DEVICE_GET_IRQ_INFO (struct vfio_irq_info). */
struct vfio_user_irq_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_IRQ_INFO_* */
	uint32_t index;
	uint32_t count;
} __attribute__((packed));

/* DEVICE_SET_IRQS (struct vfio_irq_set): DATA_BOOL appends count bytes; DATA_EVENTFD passes count fds. */
struct vfio_user_irq_set {
	uint32_t argsz;
	uint32_t flags; /* VFIO_IRQ_SET_DATA_* | VFIO_IRQ_SET_ACTION_* */
	uint32_t index;
	uint32_t start;
	uint32_t count;
	uint8_t data[];
} __attribute__((packed));

/* REGION_READ / REGION_WRITE: request and reply share this prefix; data follows where it travels. */
struct vfio_user_region_access {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	uint8_t data[];
} __attribute__((packed));

/* DMA_READ / DMA_WRITE (server to client): data at payload offset 16, as the specification says and
 * as QEMU 11 sends and accepts (older QEMU headers declared a u32 count; the wire format is u64). */
struct vfio_user_dma_access {
	uint64_t addr;
	uint64_t count;
	uint8_t data[];
} __attribute__((packed));

/* REGION_WRITE_MULTI */
#define VFIO_USER_MULTI_DATA 8u
#define VFIO_USER_MULTI_MAX 200u
struct vfio_user_write_one {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	uint8_t data[VFIO_USER_MULTI_DATA];
} __attribute__((packed));

struct vfio_user_write_multi {
	uint64_t wr_cnt;
	struct vfio_user_write_one wrs[];
} __attribute__((packed));

/* DEVICE_FEATURE (struct vfio_device_feature): flags low 16 bits the feature index. */
struct vfio_user_device_feature {
	uint32_t argsz;
	uint32_t flags; /* VFIO_DEVICE_FEATURE_GET | _SET | _PROBE | index */
	uint8_t data[];
} __attribute__((packed));

/* MIG_DATA_READ / MIG_DATA_WRITE */
struct vfio_user_mig_data {
	uint32_t argsz;
	uint32_t size;
	uint8_t data[];
} __attribute__((packed));

/* Wire sizes are part of the protocol: a change here breaks every peer. */
_Static_assert(sizeof(struct vfio_user_header) == 16, "header");
_Static_assert(sizeof(struct vfio_user_version) == 4, "version");
_Static_assert(sizeof(struct vfio_user_dma_map) == 32, "dma_map");
_Static_assert(sizeof(struct vfio_user_dma_unmap) == 24, "dma_unmap");
_Static_assert(sizeof(struct vfio_user_device_info) == 16, "device_info");
_Static_assert(sizeof(struct vfio_user_region_info) == 32, "region_info");
_Static_assert(sizeof(struct vfio_user_cap_header) == 8, "cap_header");
_Static_assert(sizeof(struct vfio_user_cap_sparse_mmap) == 16, "sparse_mmap");
_Static_assert(sizeof(struct vfio_user_sparse_mmap_area) == 16, "sparse_area");
_Static_assert(sizeof(struct vfio_user_cap_type) == 16, "cap_type");
_Static_assert(sizeof(struct vfio_user_region_io_fds_request) == 16, "io_fds");
_Static_assert(sizeof(struct vfio_user_sub_region_ioeventfd) == 40, "sub_region");
_Static_assert(sizeof(struct vfio_user_irq_info) == 16, "irq_info");
_Static_assert(sizeof(struct vfio_user_irq_set) == 20, "irq_set");
_Static_assert(sizeof(struct vfio_user_region_access) == 16, "region_access");
_Static_assert(sizeof(struct vfio_user_dma_access) == 16, "dma_access");
_Static_assert(sizeof(struct vfio_user_write_one) == 24, "write_one");
_Static_assert(sizeof(struct vfio_user_write_multi) == 8, "write_multi");
_Static_assert(sizeof(struct vfio_user_device_feature) == 8, "device_feature");
_Static_assert(sizeof(struct vfio_user_mig_data) == 8, "mig_data");

/* Our limits: the largest message either side accepts (a 1 MiB data transfer plus its prefix). */
#define VFIO_USER_SERVER_MAX_DATA_XFER (1u << 20)
#define VFIO_USER_SERVER_MAX_MSG_FDS 16u
#define VFIO_USER_MAX_MSG_SIZE \
	(sizeof(struct vfio_user_header) + sizeof(struct vfio_user_region_access) + VFIO_USER_SERVER_MAX_DATA_XFER)

static inline const char *vfio_user_command_name(unsigned cmd)
{
	static const char *const names[VFIO_USER_MAX_COMMAND] = {
		[VFIO_USER_VERSION] = "VERSION",
		[VFIO_USER_DMA_MAP] = "DMA_MAP",
		[VFIO_USER_DMA_UNMAP] = "DMA_UNMAP",
		[VFIO_USER_DEVICE_GET_INFO] = "DEVICE_GET_INFO",
		[VFIO_USER_DEVICE_GET_REGION_INFO] = "DEVICE_GET_REGION_INFO",
		[VFIO_USER_DEVICE_GET_REGION_IO_FDS] = "DEVICE_GET_REGION_IO_FDS",
		[VFIO_USER_DEVICE_GET_IRQ_INFO] = "DEVICE_GET_IRQ_INFO",
		[VFIO_USER_DEVICE_SET_IRQS] = "DEVICE_SET_IRQS",
		[VFIO_USER_REGION_READ] = "REGION_READ",
		[VFIO_USER_REGION_WRITE] = "REGION_WRITE",
		[VFIO_USER_DMA_READ] = "DMA_READ",
		[VFIO_USER_DMA_WRITE] = "DMA_WRITE",
		[VFIO_USER_DEVICE_RESET] = "DEVICE_RESET",
		[VFIO_USER_DIRTY_PAGES_RETIRED] = "DIRTY_PAGES(retired)",
		[VFIO_USER_REGION_WRITE_MULTI] = "REGION_WRITE_MULTI",
		[VFIO_USER_DEVICE_FEATURE] = "DEVICE_FEATURE",
		[VFIO_USER_MIG_DATA_READ] = "MIG_DATA_READ",
		[VFIO_USER_MIG_DATA_WRITE] = "MIG_DATA_WRITE",
	};
	return cmd < VFIO_USER_MAX_COMMAND && names[cmd] ? names[cmd] : "UNKNOWN";
}

#endif /* VFIO_USER_H */
