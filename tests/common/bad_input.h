/* bad_input.h: the fixture of the hostile-input suites (tests/integration/test_bad_*.c): one proxy per suite, fd/map baselines, raw messages. */
#ifndef TESTS_BAD_INPUT_H
#define TESTS_BAD_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "edu_model.h"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define BAR1 VFIO_PCI_BAR1_REGION_INDEX
#define BAR3 VFIO_PCI_BAR3_REGION_INDEX
#define BAR4 VFIO_PCI_BAR4_REGION_INDEX
#define BAR5 VFIO_PCI_BAR5_REGION_INDEX
#define ROM VFIO_PCI_ROM_REGION_INDEX
#define CFG VFIO_PCI_CONFIG_REGION_INDEX
#define VGA VFIO_PCI_VGA_REGION_INDEX
#define INTX VFIO_PCI_INTX_IRQ_INDEX
#define MSI VFIO_PCI_MSI_IRQ_INDEX
#define MSIX VFIO_PCI_MSIX_IRQ_INDEX
#define ERR_IRQ VFIO_PCI_ERR_IRQ_INDEX
#define REQ_IRQ VFIO_PCI_REQ_IRQ_INDEX

#define RW (VFIO_USER_F_DMA_REGION_READ | VFIO_USER_F_DMA_REGION_WRITE)
#define EVT_TRIGGER (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define HDR sizeof(struct vfio_user_header)
#define WAIT_MS 5000
#define CLEANUP_MS 2000
#define MAX_TEST_FDS 128

/* One proxy for the whole group; restarted only if a failed case killed it or left it unclean. */
struct bad_input_fixture {
	struct proxy_proc proxy;
	bool running;
	int base_fds;  /* with no client connected */
	int case_fds;  /* measured before the running case */
	int case_maps;
	struct vuc *c;     /* the case's client */
	bool c_alive;      /* the case expects its client to be served still */
	struct vuc *check; /* the health check's client */
	int fds[MAX_TEST_FDS];
	int nfds;
	void *buf; /* a large buffer a case allocated */
};
extern struct bad_input_fixture F;

/* ---- test-side resources, released in teardown even when a case fails ---- */

/* Keeps fd (asserted valid) for case_teardown to close; returns it. */
int keep_fd(int fd);
/* A kept non-blocking eventfd. */
int new_eventfd(void);
/* A kept memfd of size bytes. */
int new_memfd(size_t size);
/* A zeroed buffer of size bytes, freed in teardown (one at a time: a second call frees the first). */
void *big_buffer(size_t size);

/* ---- proxy life: cmocka group and case setup/teardown ---- */

/* The first client of a freshly started proxy, retried while the socket is not listening yet. */
struct vuc *first_client(const struct proxy_proc *p);
int group_setup(void **state);
int group_teardown(void **state);
int case_setup(void **state);
int case_teardown(void **state);
/* A case of a hostile-input suite: the group's proxy, checked clean before it and cleaned up after. */
#define BAD_INPUT_TEST(fn) cmocka_unit_test_setup_teardown(fn, case_setup, case_teardown)

/* ---- clients ---- */

/* A negotiated client for the case (F.c). */
struct vuc *fresh(void);
/* A connected client that has not sent VERSION (F.c). */
struct vuc *unversioned(void);
/* After every case: the case's client (if still served) and a next client are served, no fd is left over. */
void case_done(void);

/* ---- requests and their expected outcome ---- */

#define EXPECT_ERR(c, cmd, flags, p, len, fds, nfds, err) \
	expect_err(__LINE__, c, cmd, flags, p, len, fds, nfds, err)
#define EXPECT_OK(c, cmd, p, len, reply, cap) expect_ok(__LINE__, c, cmd, p, len, NULL, 0, reply, cap)
#define EXPECT_OK_FDS(c, cmd, p, len, fds, nfds) expect_ok(__LINE__, c, cmd, p, len, fds, nfds, NULL, 0)

/* A header-only error reply with exactly err, echoing the command, carrying no fd. */
void expect_err(int line, struct vuc *c, uint16_t cmd, uint32_t flags, const void *p, size_t len, const int *fds,
		size_t nfds, int err);
/* A successful reply; returns its payload length (the payload goes to reply, cap bytes at most). */
size_t expect_ok(int line, struct vuc *c, uint16_t cmd, const void *p, size_t len, const int *fds, size_t nfds,
		 void *reply, size_t cap);
/* The server closes the connection without sending anything first. */
void expect_disconnect(struct vuc *c);
/* A header with any msg_size, followed by payload bytes, sent as they are. */
void send_msg(struct vuc *c, uint16_t id, uint16_t cmd, uint32_t flags, uint32_t msg_size, const void *p, size_t len,
	      const int *fds, size_t nfds);
/* One whole message from the server, read behind the client library's back; returns its payload length. */
size_t recv_raw_msg(struct vuc *c, struct vfio_user_header *h, void *payload, size_t cap);

/* Structs with a flexible array member are built as compound literals rather than returned by value. */
#define region_access(r, o, n) ((struct vfio_user_region_access){ .offset = (o), .region = (r), .count = (n) })
#define irq_set(fl, idx, st, n)                                                                          \
	((struct vfio_user_irq_set){                                                                     \
		.argsz = sizeof(struct vfio_user_irq_set), .flags = (fl), .index = (idx), .start = (st), .count = (n) })

struct vfio_user_dma_map dma_map(uint32_t flags, uint64_t offset, uint64_t addr, uint64_t size);
struct vfio_user_dma_unmap dma_unmap(uint32_t flags, uint64_t addr, uint64_t size);

/* The edu liveness register reads want. */
void expect_live(struct vuc *c, uint32_t want);
/* The proxy's fd count while the case's client is connected: its socket plus held extra fds. */
void expect_fds_while_connected(int held);

#endif /* TESTS_BAD_INPUT_H */
