/* client_smoke.c: a client of the installed libvfio-user-client-dev (built with its pkg-config file, not the tree): connects to an edu device's socket and checks it through the library. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <client.h>

#define EDU_ID 0x010000edu

static int fail(const char *what, int err)
{
	fprintf(stderr, "client_smoke: %s: %s\n", what, strerror(-err));
	return 1;
}

int main(int argc, char **argv)
{
	struct vfio_user_device_info info;
	struct vuc_server_caps caps;
	struct vuc *c;
	uint32_t ids, id, live;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: client_smoke SOCKET\n");
		return 2;
	}
	ret = vuc_connect(argv[1], &c);
	if (ret < 0)
		return fail("connect", ret);
	ret = vuc_negotiate(c, &caps);
	if (ret < 0)
		return fail("VERSION", ret);
	ret = vuc_device_info(c, &info);
	if (ret < 0)
		return fail("DEVICE_GET_INFO", ret);
	ret = vuc_config_read(c, 0, &ids, sizeof(ids));
	if (ret < 0)
		return fail("config space read", ret);
	ret = vuc_read32(c, VFIO_PCI_BAR0_REGION_INDEX, 0, &id);
	if (ret < 0)
		return fail("BAR0 read", ret);
	ret = vuc_write32(c, VFIO_PCI_BAR0_REGION_INDEX, 4, 0x12345678);
	if (ret == 0)
		ret = vuc_read32(c, VFIO_PCI_BAR0_REGION_INDEX, 4, &live);
	if (ret < 0)
		return fail("BAR0 liveness register", ret);
	printf("protocol %u.%u, %04x:%04x, %u regions, %u irqs, id 0x%08x, liveness 0x%08x\n", caps.major,
	       caps.minor, ids & 0xffff, ids >> 16, info.num_regions, info.num_irqs, id, live);
	vuc_close(c);
	if ((ids & 0xffff) != 0x1234 || (ids >> 16) != 0x11e8 || id != EDU_ID || live != ~0x12345678u) {
		fprintf(stderr, "client_smoke: not the edu device's answers\n");
		return 1;
	}
	return 0;
}
