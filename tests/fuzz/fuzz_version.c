/* fuzz_version.c: libFuzzer harness: caps_parse_client on raw VERSION payloads, and caps_build_reply on what it accepts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/caps.h"
#include "vfio-user.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* The limits the server advertises (server_ctx_init's). */
	const struct server_caps sc = {
		.max_msg_fds = VFIO_USER_SERVER_MAX_MSG_FDS,
		.max_data_xfer_size = VFIO_USER_SERVER_MAX_DATA_XFER,
		.max_dma_maps = VFIO_USER_DEF_MAX_DMA_MAPS,
		.pgsizes = VFIO_USER_DEF_PGSIZES,
		.write_multiple = true,
	};

	if (caps_init(&sc))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t reply[8192];
	struct vfio_user_version *v = (void *)reply;
	struct client_caps cc;
	ssize_t n;
	int ret;

	ret = caps_parse_client(data, size, &cc);
	if (ret != 0 && ret != -EINVAL && ret != -ENOTSUP && ret != -ENOMEM)
		abort(); /* the handler passes this errno to the client: only the documented ones */
	if (ret)
		return 0;
	/* What was accepted is usable: version 0.x no higher than ours, limits never 0 where 0 breaks us. */
	if (cc.major != VFIO_USER_MAJOR || cc.minor > VFIO_USER_MINOR || cc.max_data_xfer_size == 0 ||
	    cc.pgsizes == 0)
		abort();
	n = caps_build_reply(&cc, reply, sizeof(reply));
	if (n < (ssize_t)sizeof(*v) + 1 || reply[n - 1] != '\0' || strlen(v->data) + 1 + sizeof(*v) != (size_t)n)
		abort(); /* the reply always carries NUL-terminated JSON */
	if (v->major != cc.major || v->minor != cc.minor)
		abort();
	return 0;
}
