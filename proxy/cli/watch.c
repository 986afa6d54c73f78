/* watch.c: `vfio-user-proxy watch` (placeholder until the command lands). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_watch(int argc, char **argv)
{
	fprintf(stderr, "vfio-user-proxy watch: not built yet\n");
	return 1;
}
