/* vfio_device.h: the VFIO backend's state, shared by its device side (vfio_device.c), its interrupts (vfio_irqs.c) and its device request channel (vfio_request.c). */
#ifndef BACKEND_VFIO_DEVICE_H
#define BACKEND_VFIO_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "backend/vfio_discover.h"
#include "backend/vfio_iommu.h"


struct vfio_region {
	uint32_t flags;   /* as the client sees them: VFIO_REGION_INFO_FLAG_READ | _WRITE | _MMAP */
	uint64_t size;
	uint64_t offset;  /* the region's offset in the device fd */
	uint8_t *caps;    /* the capability chain rebuilt for the client, or NULL */
	size_t caps_len;
};

struct vfio_irq {
	uint32_t flags;   /* VFIO_IRQ_INFO_* as the kernel gave them */
	uint32_t count;
	uint32_t enabled; /* MSI, MSI-X: vectors the kernel has enabled; 0 when the index is off */
	/*
	 * MSI, MSI-X when the kernel cannot resize the block in place (VFIO_IRQ_INFO_NORESIZE): the trigger
	 * eventfds of the enabled vectors (count entries, -1 for none), kept so the block can be enabled
	 * again larger when the client's eventfd array arrives in chunks. NULL for every other index, whose
	 * eventfds are closed as soon as the kernel holds them.
	 */
	int *fds;
};

enum vfio_reset_method {
	VFIO_RESET_NONE,
	VFIO_RESET_DEVICE, /* VFIO_DEVICE_RESET: the device has a function-level reset */
	VFIO_RESET_HOT,    /* VFIO_DEVICE_PCI_HOT_RESET: a bus or slot reset touching only our devices */
};

struct vfio_dev {
	struct device_backend base;
	struct vfio_target target;
	struct vfio_iommu *iommu;
	int fd; /* the device */
	bool trap_bars;
	bool allow_no_reset;
	bool fd_lent; /* the device fd went to the client: revoke it when the client leaves */
	enum vfio_iommu_kind iommu_kind;
	enum vfio_reset_method reset;
	uint32_t num_regions;
	uint32_t num_irqs;
	struct vfio_region regions[BACKEND_MAX_REGIONS];
	struct vfio_irq irqs[BACKEND_MAX_IRQS];
	/*
	 * The device request channel (VFIO_PCI_REQ_IRQ_INDEX): the kernel signals req_fd, an eventfd of ours
	 * registered for the proxy's whole life, when the device is being unbound from vfio-pci. The client's
	 * own REQ eventfd stays here (req_client_fd) and is signalled when that happens.
	 */
	int req_fd;           /* -1: the device has no REQ index, or ours could not be registered */
	int req_client_fd;    /* -1: the client registered none */
	bool asked_back;      /* the kernel asked for the device back: no more clients */
	/* once-per-client log lines */
	bool told_rom_window;
	bool told_fdless_window;
	bool told_memlock;
	char name[96];
};

static inline struct vfio_dev *to_vdev(struct device_backend *b)
{
	return (struct vfio_dev *)b;
}

/* vfio_device.c */
/* A backend for the device opts names, found (vfio_discover) but not opened. 0 or -errno (logged). */
int vfio_dev_new(const struct vfio_backend_options *opts, struct vfio_dev **out);
void vfio_dev_use_iommu(struct vfio_dev *d, enum vfio_iommu_kind kind);
/* The device's info, regions and IRQ indexes from the kernel (d->fd open). Logs its failure. */
int vfio_dev_read(struct vfio_dev *d);
/* Logs what is served: the device, its IDs, the IOMMU path; and names the backend after it. */
void vfio_dev_announce(struct vfio_dev *d, bool resumed);
/* Turns the device's interrupts off, closes its files, frees it. */
void vfio_dev_destroy(struct vfio_dev *d);

/* vfio_handover.c */
/* The backend's handover_save op: the device's files and what the backend kept, into st. */
int vfio_handover_save(struct device_backend *b, struct ho_state *st);

/* vfio_irqs.c */
/* One VFIO_DEVICE_SET_IRQS; data is data_len bytes (bools, or s32 eventfds). 0 or a negative errno. */
int vfio_irqs_raw(struct vfio_dev *d, uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
		  const void *data, size_t data_len);
/* Reads every IRQ index's info; allocates what the MSI/MSI-X indexes need. Logs its failure. */
int vfio_irqs_init(struct vfio_dev *d);
/* The backend's set_irqs op. */
int vfio_irqs_set(struct device_backend *b, uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
		  const uint8_t *bools, int *fds);
/* Turns every index off (DATA_NONE | ACTION_TRIGGER, count 0) and drops the eventfds kept. */
void vfio_irqs_disable_all(struct vfio_dev *d);
void vfio_irqs_fini(struct vfio_dev *d);

/* vfio_request.c */
/* Creates and registers our REQ eventfd when the device has the index; a failure is logged and the
 * proxy goes on without (an unbind then waits until the proxy stops). */
void vfio_request_init(struct vfio_dev *d);
/* Registers our eventfd again on a device fd opened afresh (the kernel dropped it with the last file). */
void vfio_request_rearm(struct vfio_dev *d);
/* Whether SET_IRQS on index stays in the proxy: REQ, once ours is registered. */
bool vfio_request_virtual(const struct vfio_dev *d, uint32_t index);
/* The client's SET_IRQS on REQ, answered as vfio-pci would without reaching it; owns fds. */
int vfio_request_set(struct vfio_dev *d, uint32_t flags, uint32_t start, uint32_t count, const uint8_t *bools,
		     int *fds);
/* The client's REQ eventfd goes (its interrupts are being disabled). */
void vfio_request_drop_client(struct vfio_dev *d);
/*
 * Whether the kernel has asked for the device back (d->asked_back): a request waiting on our eventfd is
 * taken, logged once, and passed on to the client's REQ eventfd.
 */
bool vfio_request_take(struct vfio_dev *d);
/* The backend's event op. */
int vfio_request_event(struct device_backend *b);
void vfio_request_fini(struct vfio_dev *d);

#endif /* BACKEND_VFIO_DEVICE_H */
