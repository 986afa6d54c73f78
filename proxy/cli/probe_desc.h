/* probe_desc.h: the plain description of a vfio-user device that probe gathers and its printers print. */
#ifndef CLI_PROBE_DESC_H
#define CLI_PROBE_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Everything here is decoded already: numbers as the server or the config space gave them, names as
 * static strings, no protocol structs. Printers read a description and nothing else.
 */
#define PROBE_MAX_REGIONS 64u /* regions and IRQ indexes described, whatever the server says */
#define PROBE_MAX_IRQS 64u
#define PROBE_MAX_REGION_CAPS 32u
#define PROBE_VERSION_JSON_MAX 4096u
#define PROBE_MAX_PCI_CAPS 48u	/* one per dword of 0x40..0xfc */
#define PROBE_MAX_EXT_CAPS 960u /* one per dword of 0x100..0xffc */
#define PROBE_MAX_BARS 6u

/* A flags word and the names of its bits (a table ending with a NULL name). */
struct probe_flag_name {
	uint64_t bit;
	const char *name;
};

struct probe_flags {
	uint64_t value;
	const struct probe_flag_name *names;
};

/* The server's VERSION reply: its JSON, and the capabilities read from it (defaults where it left one out). */
struct probe_version {
	uint16_t major;
	uint16_t minor;
	char json[PROBE_VERSION_JSON_MAX]; /* as received ("" if none), not sanitized */
	uint32_t max_msg_fds;
	uint32_t max_data_xfer_size;
	uint32_t max_dma_maps;
	uint64_t pgsizes;
	bool write_multiple;
};

struct probe_device {
	struct probe_flags flags;
	uint32_t num_regions;
	uint32_t num_irqs;
};

enum probe_region_cap_kind {
	PROBE_RCAP_SPARSE_MMAP,
	PROBE_RCAP_TYPE,
	PROBE_RCAP_MSIX_MAPPABLE,
	PROBE_RCAP_UNKNOWN,
};

struct probe_area {
	uint64_t offset;
	uint64_t size;
};

/* One entry of a region's capability chain. */
struct probe_region_cap {
	uint32_t offset; /* from the start of the region info */
	uint16_t id;
	uint16_t version;
	enum probe_region_cap_kind kind;
	bool truncated; /* sparse mmap or type: the body did not fit, so nothing below is known */
	uint32_t nr_areas; /* sparse mmap: the count claimed; those that fit are */
	size_t first_area; /* d->areas[first_area] onwards */
	size_t nareas;
	uint32_t type; /* region type */
	uint32_t subtype;
};

struct probe_region {
	char name[16]; /* BAR0..VGA, or regionN */
	int error;     /* why asking for this region failed (errno; nothing else is known), 0 if it did not */
	struct probe_flags flags;
	uint64_t size;
	uint64_t offset; /* mmap offset */
	bool fd;	 /* an fd came with the reply */
	bool caps_flagged;
	uint32_t ncaps;
	struct probe_region_cap caps[PROBE_MAX_REGION_CAPS];
};

struct probe_irq {
	const char *name;
	int error; /* why asking for this index failed (errno), 0 if it did not */
	uint32_t count;
	struct probe_flags flags;
};

struct probe_bar {
	uint32_t index;
	uint32_t raw; /* the BAR register */
	bool used;
	bool io;
	bool is64;
	bool prefetchable;
	bool upper_follows; /* 64-bit with its upper half in the next BAR */
	uint64_t address;
	uint64_t size; /* the region's */
};

/* Where a structure of a capability lies: BAR indicator and offset in that BAR. */
struct probe_bar_offset {
	uint32_t bir;
	uint32_t offset;
};

enum probe_pci_cap_kind {
	PROBE_CAP_PM,
	PROBE_CAP_MSI,
	PROBE_CAP_EXP,
	PROBE_CAP_MSIX,
	PROBE_CAP_VENDOR,
	PROBE_CAP_OTHER,
};

/* A capability of the standard config space list. */
struct probe_pci_cap {
	uint8_t offset;
	uint8_t id;
	enum probe_pci_cap_kind kind;
	const char *name; /* "unknown" for PROBE_CAP_OTHER */
	union {
		struct {
			unsigned int version;
			const char *state; /* D0..D3hot */
		} pm;
		struct {
			bool enabled;
			bool is64;
			bool per_vector_masking;
			unsigned int vectors_capable;
			unsigned int vectors_enabled;
		} msi;
		struct {
			unsigned int version;
			const char *device_type;
		} exp;
		struct {
			bool enabled;
			bool masked;
			uint32_t table_size; /* entries */
			struct probe_bar_offset table;
			struct probe_bar_offset pba;
		} msix;
		struct {
			uint8_t length;
		} vendor;
	};
};

struct probe_ext_cap {
	uint16_t offset;
	uint16_t id;
	uint8_t version;
	const char *name;
};

struct probe_config {
	uint32_t size; /* bytes read */
	uint16_t vendor_id;
	uint16_t device_id;
	uint16_t subsystem_vendor_id;
	uint16_t subsystem_id;
	uint8_t revision;
	uint8_t header_type;
	uint32_t class_code;
	const char *class_name;
	struct probe_flags command;
	struct probe_flags status;
	uint8_t interrupt_pin;
	uint8_t interrupt_line;
	uint32_t nbars;
	struct probe_bar bars[PROBE_MAX_BARS]; /* upper halves of 64-bit BARs are not entries */
	bool cap_list;			       /* the status says there is a capability list */
	uint32_t ncaps;
	struct probe_pci_cap caps[PROBE_MAX_PCI_CAPS];
	bool has_ext_caps; /* the space is large enough for extended capabilities */
	uint32_t next_caps;
	struct probe_ext_cap ext_caps[PROBE_MAX_EXT_CAPS];
};

/*
 * One device. The has_ fields and the counts say what is filled in: gathering that stops early (the
 * server went away) leaves a description of what came before, complete false.
 */
struct probe_desc {
	const char *socket;
	bool complete;
	bool has_version;
	struct probe_version version;
	bool has_device;
	struct probe_device device;
	uint32_t nregions;
	struct probe_region regions[PROBE_MAX_REGIONS];
	bool has_irqs; /* the IRQ indexes were asked for; nirqs of them are described */
	uint32_t nirqs;
	struct probe_irq irqs[PROBE_MAX_IRQS];
	bool has_config;
	struct probe_config config;
	struct probe_area *areas; /* the sparse mmap areas of all regions */
	size_t nareas;
	char **warnings; /* what is malformed or what QEMU would refuse, in the order found */
	size_t nwarnings;
};

/* An empty description of the server at socket (kept, not copied); NULL when out of memory. */
struct probe_desc *probe_desc_new(const char *socket);
void probe_desc_free(struct probe_desc *d);

/* Adds a warning (dropped if out of memory). */
void __attribute__((format(printf, 2, 3))) probe_warn(struct probe_desc *d, const char *fmt, ...);
/* Adds a sparse mmap area; returns false when out of memory. */
bool probe_add_area(struct probe_desc *d, uint64_t offset, uint64_t size);

#endif /* CLI_PROBE_DESC_H */
