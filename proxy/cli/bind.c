/* bind.c: `vfio-user-proxy bind` and `unbind` (placeholder until the commands land). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_bind(int argc, char **argv)
{
	fprintf(stderr, "vfio-user-proxy bind: not built yet\n");
	return 1;
}

int cmd_unbind(int argc, char **argv)
{
	fprintf(stderr, "vfio-user-proxy unbind: not built yet\n");
	return 1;
}
