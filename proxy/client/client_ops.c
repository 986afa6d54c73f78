/* client_ops.c: the client's typed requests: VERSION, device/region/IRQ info, region access, SET_IRQS, reset. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "client/client_priv.h"

#define VUC_DEFAULT_JSON                                                                                  \
	"{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,\"pgsizes\":4096,"          \
	"\"max_dma_maps\":65535}}"
#define VUC_JSON_DEPTH 16

/* An unsigned integer capability: absent leaves *out alone, anything but an integer in [0, max] is -EPROTO. */
static int cap_uint(struct json_object *caps, const char *key, uint64_t max, uint64_t *out)
{
	struct json_object *v;
	uint64_t u;

	if (!json_object_object_get_ex(caps, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return -EPROTO;
	u = json_object_get_uint64(v);
	if (u > max)
		return -EPROTO;
	*out = u;
	return 0;
}

static int parse_caps(const char *json, size_t len, struct vuc_server_caps *caps)
{
	struct json_tokener *tok = json_tokener_new_ex(VUC_JSON_DEPTH);
	struct json_object *root = NULL, *obj, *v;
	uint64_t fds = caps->max_msg_fds, xfer = caps->max_data_xfer_size, maps = caps->max_dma_maps;
	int r = -EPROTO;

	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, json, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success)
		goto out;
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
		if (json[i] != ' ' && json[i] != '\t' && json[i] != '\n' && json[i] != '\r')
			goto out;
	if (!json_object_is_type(root, json_type_object))
		goto out;
	if (!json_object_object_get_ex(root, VFIO_USER_CAP, &obj)) {
		r = 0;
		goto out;
	}
	if (!json_object_is_type(obj, json_type_object))
		goto out;
	if (cap_uint(obj, VFIO_USER_CAP_MAX_MSG_FDS, UINT32_MAX, &fds) < 0 ||
	    cap_uint(obj, VFIO_USER_CAP_MAX_DATA_XFER, UINT32_MAX, &xfer) < 0 ||
	    cap_uint(obj, VFIO_USER_CAP_MAX_DMA_MAPS, UINT32_MAX, &maps) < 0 ||
	    cap_uint(obj, VFIO_USER_CAP_PGSIZES, UINT64_MAX, &caps->pgsizes) < 0)
		goto out;
	caps->max_msg_fds = (uint32_t)fds;
	caps->max_data_xfer_size = (uint32_t)xfer;
	caps->max_dma_maps = (uint32_t)maps;
	if (json_object_object_get_ex(obj, VFIO_USER_CAP_WRITE_MULTIPLE, &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			goto out;
		caps->write_multiple = json_object_get_boolean(v);
	}
	r = 0;
out:
	json_object_put(root);
	json_tokener_free(tok);
	return r;
}

/* Sends a request (n pieces) whose reply must carry at least min bytes; the reply's fds are closed. */
static int call_iov(struct vuc *c, uint16_t cmd, const struct iovec *iov, unsigned int n, size_t min,
		    struct vuc_msg *m)
{
	int r = vuc_call(c, cmd, iov, n, NULL, 0, m);

	if (r < 0)
		return r;
	vuc_msg_close_fds(m);
	return m->len < min ? -EPROTO : 0;
}

int vuc_negotiate_custom(struct vuc *c, uint16_t major, uint16_t minor, const char *json,
			 struct vuc_server_caps *caps)
{
	struct vfio_user_version v = { .major = major, .minor = minor };
	struct iovec iov[2] = {
		{ .iov_base = &v, .iov_len = sizeof(v) },
		{ .iov_base = (void *)json, .iov_len = json ? strlen(json) + 1 : 0 },
	};
	struct vuc_server_caps *got;
	struct vuc_msg m;
	int r;

	if (!c)
		return -EINVAL;
	r = call_iov(c, VFIO_USER_VERSION, iov, 2, sizeof(v), &m);
	if (r < 0)
		return r;

	got = malloc(sizeof(*got));
	if (!got)
		return -ENOMEM;
	memset(got, 0, sizeof(*got));
	got->max_msg_fds = VFIO_USER_DEF_MAX_MSG_FDS;
	got->max_data_xfer_size = VFIO_USER_DEF_MAX_DATA_XFER;
	got->max_dma_maps = VFIO_USER_DEF_MAX_DMA_MAPS;
	got->pgsizes = VFIO_USER_DEF_PGSIZES;
	memcpy(&v, m.payload, sizeof(v));
	got->major = v.major;
	got->minor = v.minor;
	r = -EPROTO;
	if (v.major != VFIO_USER_MAJOR || v.minor > minor)
		goto out;
	if (m.len > sizeof(v)) {
		const char *data = (const char *)m.payload + sizeof(v);
		const char *nul = memchr(data, '\0', m.len - sizeof(v));
		size_t jlen;

		if (!nul)
			goto out;
		jlen = (size_t)(nul - data);
		if (jlen >= sizeof(got->json))
			goto out;
		memcpy(got->json, data, jlen + 1);
		if (jlen) {
			r = parse_caps(got->json, jlen, got);
			if (r < 0)
				goto out;
		}
	}
	c->caps = *got;
	vuc_update_rx_limit(c);
	if (caps)
		*caps = *got;
	r = 0;
out:
	free(got);
	return r;
}

int vuc_negotiate(struct vuc *c, struct vuc_server_caps *caps)
{
	return vuc_negotiate_custom(c, VFIO_USER_MAJOR, VFIO_USER_MINOR, VUC_DEFAULT_JSON, caps);
}

static int call_simple(struct vuc *c, uint16_t cmd, const void *req, size_t len, size_t min, struct vuc_msg *m)
{
	struct iovec iov = { .iov_base = (void *)req, .iov_len = len };

	return call_iov(c, cmd, &iov, 1, min, m);
}

/* A request whose reply is a fixed struct (req and out of the same type, len bytes): copied into out. */
static int call_info(struct vuc *c, uint16_t cmd, const void *req, void *out, size_t len)
{
	struct vuc_msg m;
	int r;

	if (!c || !out)
		return -EINVAL;
	r = call_simple(c, cmd, req, len, len, &m);
	if (r == 0)
		memcpy(out, m.payload, len);
	return r;
}

int vuc_device_info(struct vuc *c, struct vfio_user_device_info *info)
{
	struct vfio_user_device_info req = { .argsz = sizeof(req) };

	return call_info(c, VFIO_USER_DEVICE_GET_INFO, &req, info, sizeof(*info));
}

int vuc_irq_info(struct vuc *c, uint32_t index, struct vfio_user_irq_info *info)
{
	struct vfio_user_irq_info req = { .argsz = sizeof(req), .index = index };
	int r = call_info(c, VFIO_USER_DEVICE_GET_IRQ_INFO, &req, info, sizeof(*info));

	return r == 0 && info->index != index ? -EPROTO : r;
}

static int region_info_once(struct vuc *c, uint32_t index, uint32_t argsz, struct vuc_msg *m)
{
	struct vfio_user_region_info req = { .argsz = argsz, .index = index };
	struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
	struct vfio_user_region_info got;
	int r;

	r = vuc_call(c, VFIO_USER_DEVICE_GET_REGION_INFO, &iov, 1, NULL, 0, m);
	if (r < 0)
		return r;
	if (m->len < sizeof(got) || (memcpy(&got, m->payload, sizeof(got)), got.index != index)) {
		vuc_msg_close_fds(m);
		return -EPROTO;
	}
	return 0;
}

int vuc_region_info(struct vuc *c, uint32_t index, struct vfio_user_region_info *info, void *caps,
		    size_t caps_cap, size_t *caps_len, int *fd)
{
	const size_t base = sizeof(struct vfio_user_region_info);
	struct vfio_user_region_info got;
	size_t argsz, chain;
	struct vuc_msg m;
	int r;

	if (fd)
		*fd = -1;
	if (caps_len)
		*caps_len = 0;
	if (!c || !info || (caps_cap && !caps))
		return -EINVAL;
	argsz = caps_cap < VUC_MAX_REGION_INFO - base ? base + caps_cap : VUC_MAX_REGION_INFO;

	/* When the chain does not fit, ask once more with what the server says it needs. */
	for (bool again = false;; again = true) {
		r = region_info_once(c, index, (uint32_t)argsz, &m);
		if (r < 0)
			return r;
		memcpy(&got, m.payload, sizeof(got));
		if (got.argsz <= argsz)
			break;
		vuc_msg_close_fds(&m);
		if (again)
			return -EPROTO;
		if (got.argsz > VUC_MAX_REGION_INFO)
			return -E2BIG;
		argsz = got.argsz;
	}
	*info = got;
	chain = m.len - base;
	if (caps_cap)
		memcpy(caps, m.payload + base, chain < caps_cap ? chain : caps_cap);
	if (caps_len)
		*caps_len = chain;
	/* The first fd (if any) is the region's; extra fds are not ours to keep. */
	for (size_t i = 0; i < m.nfds; i++) {
		if (i == 0 && fd)
			*fd = m.fds[0];
		else
			close(m.fds[i]);
	}
	m.nfds = 0;
	return 0;
}

int vuc_region_read(struct vuc *c, uint32_t region, uint64_t offset, void *buf, uint32_t count)
{
	struct vfio_user_region_access req = { .offset = offset, .region = region, .count = count };
	struct vfio_user_region_access got;
	struct vuc_msg m;
	int r;

	if (!c || (count && !buf))
		return -EINVAL;
	if ((size_t)count > c->rx_limit - sizeof(struct vfio_user_header) - sizeof(req))
		return -E2BIG;
	r = call_simple(c, VFIO_USER_REGION_READ, &req, sizeof(req), sizeof(got), &m);
	if (r < 0)
		return r;
	memcpy(&got, m.payload, sizeof(got));
	if (got.count != count || got.region != region || got.offset != offset || m.len != sizeof(got) + count)
		return -EPROTO;
	memcpy(buf, m.payload + sizeof(got), count);
	return 0;
}

int vuc_region_write(struct vuc *c, uint32_t region, uint64_t offset, const void *buf, uint32_t count,
		     bool posted)
{
	struct vfio_user_region_access req = { .offset = offset, .region = region, .count = count };
	struct iovec iov[2] = {
		{ .iov_base = &req, .iov_len = sizeof(req) },
		{ .iov_base = (void *)buf, .iov_len = count },
	};
	struct vfio_user_region_access got;
	struct vuc_msg m;
	int r;

	if (!c || (count && !buf))
		return -EINVAL;
	if (posted) {
		if (c->broken)
			return -EPROTO;
		return vuc_send_msg(c, c->next_id++, VFIO_USER_REGION_WRITE, VFIO_USER_F_NO_REPLY, 0, iov, 2, NULL,
				    0);
	}
	r = vuc_call(c, VFIO_USER_REGION_WRITE, iov, 2, NULL, 0, &m);
	if (r < 0)
		return r;
	vuc_msg_close_fds(&m);
	if (m.len < sizeof(got))
		return -EPROTO;
	memcpy(&got, m.payload, sizeof(got));
	return got.count == count && got.region == region && got.offset == offset ? 0 : -EPROTO;
}

int vuc_region_write_multi(struct vuc *c, const struct vfio_user_write_one *wrs, uint32_t n)
{
	struct vfio_user_write_multi req = { .wr_cnt = n };
	struct iovec iov[2] = {
		{ .iov_base = &req, .iov_len = sizeof(req) },
		{ .iov_base = (void *)wrs, .iov_len = (size_t)n * sizeof(*wrs) },
	};
	struct vuc_msg m;
	uint64_t done;
	int r;

	if (!c || (n && !wrs))
		return -EINVAL;
	r = call_iov(c, VFIO_USER_REGION_WRITE_MULTI, iov, 2, sizeof(done), &m);
	if (r < 0)
		return r;
	memcpy(&done, m.payload, sizeof(done));
	return done <= n ? (int)done : -EPROTO;
}

/* A little-endian register of size 4 or 8, read or written whole. */
static int read_le(struct vuc *c, uint32_t region, uint64_t offset, uint64_t *val, uint32_t size)
{
	uint64_t le = 0;
	int r = vuc_region_read(c, region, offset, &le, size);

	*val = le64toh(le); /* the bytes sit at the start of le: its low bytes once swapped to host order */
	return r;
}

static int write_le(struct vuc *c, uint32_t region, uint64_t offset, uint64_t val, uint32_t size)
{
	uint64_t le = htole64(val);

	return vuc_region_write(c, region, offset, &le, size, false);
}

int vuc_read32(struct vuc *c, uint32_t region, uint64_t offset, uint32_t *val)
{
	uint64_t v;
	int r = read_le(c, region, offset, &v, sizeof(*val));

	if (r == 0 && val)
		*val = (uint32_t)v;
	return r;
}

int vuc_read64(struct vuc *c, uint32_t region, uint64_t offset, uint64_t *val)
{
	uint64_t v;
	int r = read_le(c, region, offset, &v, sizeof(*val));

	if (r == 0 && val)
		*val = v;
	return r;
}

int vuc_write32(struct vuc *c, uint32_t region, uint64_t offset, uint32_t val)
{
	return write_le(c, region, offset, val, sizeof(val));
}

int vuc_write64(struct vuc *c, uint32_t region, uint64_t offset, uint64_t val)
{
	return write_le(c, region, offset, val, sizeof(val));
}

int vuc_config_read(struct vuc *c, uint32_t offset, void *buf, uint32_t count)
{
	return vuc_region_read(c, VFIO_PCI_CONFIG_REGION_INDEX, offset, buf, count);
}

int vuc_config_write(struct vuc *c, uint32_t offset, const void *buf, uint32_t count)
{
	return vuc_region_write(c, VFIO_PCI_CONFIG_REGION_INDEX, offset, buf, count, false);
}

/* One SET_IRQS message: data (DATA_BOOL bytes) travels in the payload, fds in SCM_RIGHTS. */
static int set_irqs_one(struct vuc *c, uint32_t index, uint32_t flags, uint32_t start, uint32_t count,
			const int *fds, size_t nfds, const uint8_t *data, size_t dlen)
{
	struct vfio_user_irq_set req = {
		.argsz = (uint32_t)(sizeof(req) + dlen),
		.flags = flags,
		.index = index,
		.start = start,
		.count = count,
	};
	struct iovec iov[2] = {
		{ .iov_base = &req, .iov_len = sizeof(req) },
		{ .iov_base = (void *)data, .iov_len = dlen },
	};
	struct vuc_msg m;
	int r;

	r = vuc_call(c, VFIO_USER_DEVICE_SET_IRQS, iov, 2, fds, nfds, &m);
	if (r == 0)
		vuc_msg_close_fds(&m);
	return r;
}

int vuc_set_irqs(struct vuc *c, uint32_t index, uint32_t flags, uint32_t start, uint32_t count,
		 const int *fds, const uint8_t *bools)
{
	uint32_t type = flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	uint32_t max, i, j;
	int r;

	if (!c)
		return -EINVAL;
	if (type == VFIO_IRQ_SET_DATA_BOOL) {
		if ((count && !bools) || count > UINT32_MAX - sizeof(struct vfio_user_irq_set))
			return -EINVAL;
		return set_irqs_one(c, index, flags, start, count, NULL, 0, bools, count);
	}
	if (type != VFIO_IRQ_SET_DATA_EVENTFD || !fds || count == 0)
		return set_irqs_one(c, index, flags, start, count, NULL, 0, NULL, 0);
	if (count > UINT32_MAX - start)
		return -EINVAL;

	/* At most max_msg_fds fds a message; runs of -1 go as de-assignments without fds. */
	max = c->caps.max_msg_fds;
	if (max < 1)
		max = 1;
	if (max > VFIO_USER_LIMIT_MAX_MSG_FDS)
		max = VFIO_USER_LIMIT_MAX_MSG_FDS;
	for (i = 0; i < count; i = j) {
		if (fds[i] < 0) {
			for (j = i; j < count && fds[j] < 0; j++)
				;
			r = set_irqs_one(c, index, flags, start + i, j - i, NULL, 0, NULL, 0);
		} else {
			for (j = i; j < count && fds[j] >= 0 && j - i < max; j++)
				;
			r = set_irqs_one(c, index, flags, start + i, j - i, fds + i, j - i, NULL, 0);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int vuc_reset(struct vuc *c)
{
	struct vuc_msg m;
	int r;

	if (!c)
		return -EINVAL;
	r = vuc_call(c, VFIO_USER_DEVICE_RESET, NULL, 0, NULL, 0, &m);
	if (r == 0)
		vuc_msg_close_fds(&m);
	return r;
}
