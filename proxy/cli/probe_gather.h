/* probe_gather.h: asking a vfio-user server over its socket for everything probe describes. */
#ifndef CLI_PROBE_GATHER_H
#define CLI_PROBE_GATHER_H

#include "cli/probe_desc.h"

/* How gathering ended. */
enum probe_outcome {
	PROBE_COMPLETE,	     /* d describes the device */
	PROBE_NO_MEMORY,     /* nothing was tried */
	PROBE_NO_CONNECTION, /* connecting to d->socket failed with *error; d holds nothing */
	PROBE_CUT_SHORT,     /* *request failed with *error, the connection unusable; d holds what came before */
};

/*
 * Connects to d->socket, negotiates and fills d: the server's capabilities, the device, its regions and
 * IRQ indexes, its config space decoded, and warnings. A server's error reply for one region or IRQ is
 * recorded in d and gathering goes on. *error is a negative errno.
 */
enum probe_outcome probe_gather(struct probe_desc *d, int *error, const char **request);

#endif /* CLI_PROBE_GATHER_H */
