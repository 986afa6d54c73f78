/* backend.h: the device_backend ops table between the server and a device; nothing below it knows about sockets. */
#ifndef BACKEND_H
#define BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfio-user.h"

struct dma_window;
struct device_backend;
struct ho_state;

/* The most regions and IRQ indexes a backend describes (the server sizes its layout by them). */
#define BACKEND_MAX_REGIONS 16u
#define BACKEND_MAX_IRQS 8u

/* Completion of a DMA the backend asked the server for; status 0 or a negative errno. */
typedef void (*backend_dma_done_fn)(void *arg, int status);

/*
 * Besides 0 and a negative errno, the event op and client_gone may answer this: stop serving, nothing is
 * wrong (the device is being taken away from the proxy): the server ends any session and server_run
 * returns 0.
 */
#define BACKEND_STOP 1

/* Called from the server's event loop when a watched fd is readable. */
typedef void (*backend_fd_fn)(void *arg);

/* What the server offers a backend: access to the client's DMA windows, and its event loop. */
struct backend_host_ops {
	/*
	 * Copy len bytes between buf and the client's DMA address iova (to_client: buf -> client memory).
	 * Returns 0 when done, 1 when the transfer went out as DMA_READ/DMA_WRITE messages and done(arg, status)
	 * will be called later (buf must stay valid until then), or a negative errno (-EFAULT: not mapped,
	 * -EACCES: window lacks the permission).
	 */
	int (*dma)(void *host, uint64_t iova, void *buf, size_t len, bool to_client, backend_dma_done_fn done,
		   void *arg);
	/*
	 * Calls fn(arg) from the event loop whenever fd is readable, until unwatch(fd); for the client's
	 * session only. The fd stays the backend's: unwatch it before closing it (the client may hold the same
	 * file, which would keep it in the loop). 0, -ENOSPC when too many are watched, -ENOSYS without a loop.
	 */
	int (*watch)(void *host, int fd, backend_fd_fn fn, void *arg);
	void (*unwatch)(void *host, int fd);
};

struct backend_ops {
	void (*destroy)(struct device_backend *b);
	/* flags (VFIO_DEVICE_FLAGS_*), num_regions, num_irqs; argsz is the server's business. */
	int (*device_info)(struct device_backend *b, struct vfio_user_device_info *info);
	/*
	 * info->index is valid (< num_regions). Fill flags, size, offset. Write the capability chain into caps
	 * as it will stand right after the 32-byte info struct (chain offsets count from the struct's start),
	 * never past caps_size, and set *caps_len to the whole chain's length (0 without caps). *fd gets a
	 * file descriptor the client may mmap (borrowed: the server sends it and does not close it), or -1.
	 */
	int (*region_info)(struct device_backend *b, struct vfio_user_region_info *info, void *caps, size_t caps_size,
			   size_t *caps_len, int *fd);
	/* index < num_regions; offset + count within the region's size (checked by the server). */
	int (*region_read)(struct device_backend *b, uint32_t index, uint64_t offset, void *buf, uint32_t count);
	int (*region_write)(struct device_backend *b, uint32_t index, uint64_t offset, const void *buf, uint32_t count);
	/* info->index is valid (< num_irqs). Fill flags and count. */
	int (*irq_info)(struct device_backend *b, struct vfio_user_irq_info *info);
	/*
	 * Validated by the server: index < num_irqs, start + count <= that index's count (or start = count = 0
	 * with DATA_NONE | ACTION_TRIGGER: disable the index), exactly one data type and one action.
	 * DATA_BOOL: bools has count entries. DATA_EVENTFD: fds has count entries, or is NULL to de-assign
	 * start..start+count-1; the backend owns every fd from the call on, on success and on failure alike.
	 */
	int (*set_irqs)(struct device_backend *b, uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
			const uint8_t *bools, int *fds);
	/* DEVICE_RESET: -ENOTTY when the device has no reset (VFIO_DEVICE_FLAGS_RESET clear). Outstanding
	 * DMA has been completed with -ECANCELED before. */
	int (*reset)(struct device_backend *b);
	/* Optional: a window was added or is about to be removed (vaddr is NULL for fd-less windows). */
	int (*dma_map)(struct device_backend *b, const struct dma_window *w);
	void (*dma_unmap)(struct device_backend *b, const struct dma_window *w);
	/* Optional DEVICE_FEATURE; NULL means every feature is refused with ENOTTY (the kernel's answer). */
	int (*device_feature)(struct device_backend *b, struct vfio_user_device_feature *req, size_t req_len,
			      void *reply_data, size_t reply_cap, size_t *reply_len);
	/* The client is leaving, its windows still mapped: disable and release every interrupt, stop the
	 * device's DMA (bus mastering off, reset where it has one), so nothing in flight faults after. */
	void (*quiesce)(struct device_backend *b);
	/*
	 * The client is gone, its windows unmapped: leave the device ready for the next client, with nothing
	 * the departed one kept (an fd it was given) still reaching it. 0, or a negative errno when the device
	 * cannot safely be served to anyone else (logged by the backend): the server then stops; or
	 * BACKEND_STOP when the device is being taken away (logged by the backend).
	 */
	int (*client_gone)(struct device_backend *b);
	/*
	 * Optional: b->event_fd is readable (the server polls it for its whole life, with or without a
	 * client). 0: keep serving; BACKEND_STOP: the device is being taken away (the backend has told the
	 * client what it must hear, and logged it): the server ends any session and stops, server_run
	 * returns 0; a negative errno: the same, as a failure (logged by the backend).
	 */
	int (*event)(struct device_backend *b);
	/*
	 * Optional hand-over (NULL: the device cannot hand over, the proxy carries on): the device's state
	 * into st, its fds (still the backend's) added to st's table. -EBUSY while a DMA of its own is in
	 * flight (the server tries again later).
	 */
	int (*handover_save)(struct device_backend *b, struct ho_state *st);
	/* Optional: after a hand-over, the session exists again (b->host is set): watch what it watched. */
	int (*resumed)(struct device_backend *b);
};

struct device_backend {
	const struct backend_ops *ops;
	const struct backend_host_ops *host_ops; /* set by the server before the first client */
	void *host;
	const char *name;
	uint64_t pgsizes;        /* page sizes DMA windows may use (the IOMMU's); 0: 4 KiB */
	const char *reopen_path; /* a device node the backend opens again while serving, or NULL: whoever
				  * drops the proxy's privileges keeps a way to open it (util/privsep.h) */
	int event_fd;            /* with ops->event: an fd of the backend's own, the same from create to
				  * destroy, that the server polls; -1: none (ignored without ops->event) */
	bool stateful;           /* the device's state is the backend's (emulated), not the kernel's: region
				  * writes, resets and DMA progress change what a hand-over carries */
};

/* Constructors, one per backend kind. */
int emulated_backend_create(const char *model, struct device_backend **out);
/* The emulated device as a hand-over state describes it (its RAM BAR memfd and the client's eventfds
 * taken from the state's fds, checked); on failure nothing of the state's is closed. 0 or -errno (logged). */
int emulated_backend_resume(const struct ho_state *st, struct device_backend **out);

/* The VFIO backend: a real PCI device bound to vfio-pci. */
enum vfio_iommu_kind {
	VFIO_IOMMU_KIND_LEGACY,  /* /dev/vfio/vfio container + /dev/vfio/GROUP, type1v2 */
	VFIO_IOMMU_KIND_IOMMUFD, /* /dev/iommu + /dev/vfio/devices/vfioX */
	VFIO_IOMMU_KIND_AUTO,    /* iommufd when the kernel has it, else legacy */
};

struct vfio_backend_options {
	const char *device;            /* PCI address (0000:00:03.0, 00:03.0) or sysfs path */
	bool trap_bars;                /* never hand the client the device fd: every BAR access is a message */
	bool allow_no_reset;           /* serve client after client although the device has no reset */
	enum vfio_iommu_kind iommu;
	const char *sysfs_root;        /* NULL: $VFIO_USER_PROXY_SYSFS_ROOT, else /sys */
	const char *dev_root;          /* NULL: $VFIO_USER_PROXY_DEV_ROOT, else /dev */
};

/* Opens and checks the device; logs its failure in one line and returns a negative errno. */
int vfio_backend_create(const struct vfio_backend_options *opts, struct device_backend **out);
/*
 * A hand-over's successor: the device opts names, with the files, interrupts and IOMMU context the state
 * carries (each fd checked to be what the state says), nothing reset, quiesced or mapped again. On
 * failure (logged) nothing of the state's is closed or changed. 0 or -errno.
 */
int vfio_backend_resume(const struct vfio_backend_options *opts, const struct ho_state *st,
			struct device_backend **out);
/*
 * The node a successor's backend will open again (its reopen_path), decided as vfio_backend_create
 * decides the IOMMU path, before the state is read: the device's cdev on the iommufd path, else "".
 * 0, or -errno (logged) when the device is not there.
 */
int vfio_backend_reopen_path(const struct vfio_backend_options *opts, char *buf, size_t len);

#endif /* BACKEND_H */
