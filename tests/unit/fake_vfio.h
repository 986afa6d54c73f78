/* fake_vfio.h: the fake VFIO kernel the VFIO backend tests run against (its state fk, the fd kinds it answers) and their shared fixture. */
#ifndef TESTS_UNIT_FAKE_VFIO_H
#define TESTS_UNIT_FAKE_VFIO_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vfio.h>

#include "backend/backend.h"
#include "backend/dma_window.h"

#define BDF "0000:00:03.0"
#define GROUP 7
#define REGION_SHIFT 40
#define REGION9 9
#define MAX_CALLS 128
#define MAX_MAPS 32
#define MAX_VEC 64
#define DEV_MEMFD_NAME "fake-vfio-device"
#define CDEV_MEMFD_NAME "fake-vfio-cdev"
#define IOAS_ID 2
#define DEVID 5

struct fake_region {
	uint32_t flags;
	uint64_t size;
	uint8_t caps[256]; /* the chain as the kernel copies it out: offsets from the info struct's start */
	size_t caps_len;
};

struct set_call {
	uint32_t flags, index, start, count;
	int32_t fds[MAX_VEC];
};

struct fake_map {
	uint64_t iova, size, vaddr;
	uint32_t flags;
};

/* The fake kernel: the device as a test sets it up, and what the proxy did to it. */
struct fake {
	char root[PATH_MAX];
	uint32_t dev_flags;
	uint32_t num_regions, num_irqs;
	struct fake_region regions[16];
	uint32_t irq_count[8], irq_flags[8];
	bool viable, type1v2;
	uint32_t hot_groups[4]; /* groups of the devices a hot reset touches; n_hot 0: no hot reset */
	uint32_t n_hot;
	int map_errno;

	bool container_set, iommu_set;
	struct set_call calls[MAX_CALLS];
	unsigned int ncalls;
	int irq_type; /* the enabled MSI/MSI-X/INTx index, -1 */
	uint32_t num_ctx;
	int ctx[MAX_VEC]; /* the kernel's references to the trigger eventfds */
	struct fake_map maps[MAX_MAPS];
	unsigned int nmaps, map_calls, unmap_calls;
	unsigned int seq, reset_seq, unmap_seq; /* the order of the last reset and the last unmap */
	unsigned int resets, hot_resets;

	/* iommufd and the device cdev (fake_tree_iommufd) */
	int cdev_memfd;        /* what dev/vfio/devices/vfio0 opens (through /proc/self/fd), or -1 */
	bool cdev_bound;       /* VFIO_DEVICE_BIND_IOMMUFD done */
	unsigned int binds;    /* BIND_IOMMUFD calls that succeeded */
	unsigned int unsets;   /* VFIO_GROUP_UNSET_CONTAINER calls that succeeded */
	uint32_t attached_pt;  /* VFIO_DEVICE_ATTACH_IOMMUFD_PT's pt_id, 0 none */
	unsigned int ioas_allocs, hot_reset_empty;

	/* the device request channel (VFIO_PCI_REQ_IRQ_INDEX), one per device as in vfio-pci */
	int req_ctx;            /* the kernel's reference to the REQ trigger, -1 none (dropped with the last file) */
	unsigned int req_calls; /* SET_IRQS on REQ that reached the kernel */
	unsigned int requests;  /* fake_request() calls: the kernel asking for the device back */
};

extern struct fake fk;

enum fd_kind { FD_OTHER, FD_CONTAINER, FD_GROUP, FD_DEVICE, FD_EVENTFD, FD_IOMMUFD, FD_CDEV };

/* fake_vfio.c: the kernel's side */
enum fd_kind fd_kind(int fd);
uint16_t read_command(int fd);
void fake_disable_msi(void);
void fake_defaults(void);
void fake_tree(const char *driver);
void fake_tree_iommufd(const char *driver);
/* vfio_pci_core_request(): an unbind from vfio-pci asks the device's user to let go; false when no REQ
 * trigger is registered (the kernel logs "No device request channel registered" then). */
bool fake_request(void);
/* Whether the kernel's REQ trigger is the eventfd fd (a count written to the trigger is read from fd). */
bool fake_req_is(int fd);
/* The kernel's REQ reference goes, as when the device's last file closes. */
void fake_release_req(void);

/* fake_vfio_fixture.c: the tests' side */
struct fixture {
	struct device_backend *b;
	int fds_before;
};

/* The real server on its own thread, serving fk.root/proxy.sock. */
struct served {
	struct server *srv;
	pthread_t thread;
	char sock[PATH_MAX + 16];
	sigset_t old; /* the signal mask before serve_start */
	bool seccomp; /* the server's thread runs under the proxy's seccomp filter */
	int ret;      /* what server_run returned */
	bool retired; /* and server_device_retired() after it */
};

int create_as(struct fixture *f, const char *device, bool trap_bars, enum vfio_iommu_kind kind);
int create(struct fixture *f, bool trap_bars);
int setup(void **state);
int teardown(void **state);
struct device_backend *create_ok(struct fixture *f, bool trap_bars);
struct device_backend *create_iommufd(struct fixture *f, enum vfio_iommu_kind kind);
bool fd_open(int fd);
bool same_eventfd(int e, int k);
int open_eventfd(void);
void dup_all(const int *src, int *dst, uint32_t n);
void serve_start(struct served *sv, struct device_backend *b);
/* The same, the server's thread confined by the proxy's seccomp filter (a call outside it ends the test
 * binary with status 70). */
void serve_start_confined(struct served *sv, struct device_backend *b);
void serve_stop(struct served *sv);
/* Waits up to timeout_ms for the server to stop by itself (else stops it with SIGTERM and fails the
 * test), destroys it; returns what server_run returned. */
int serve_wait(struct served *sv, int timeout_ms);

/* A client was given the device fd (region info while it was connected): the fd it may keep (the
 * backend's own, borrowed: the server would send it). */
int lend_device_fd(struct device_backend *b);
/* The client leaves as the server has it leave: quiesce, then client_gone, which must answer want. */
void leave(struct device_backend *b, int want);

/* Maps a read-write window of anonymous memory at 0x100000 (0x2000 bytes) and checks that the fake
 * IOMMU holds exactly that mapping; the window and its memory (0x4000 bytes) are returned. */
struct dma_window map_anon_window(struct device_backend *b, void **mem);

#endif
