/* caps.c: VERSION negotiation with json-c: accepts the variants real clients send, answers with our limits. */
#include "server/caps.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "vfio-user.h"

static char *server_json;
static size_t server_json_len; /* with the NUL */

int caps_init(const struct server_caps *sc)
{
	struct json_object *root = json_object_new_object();
	struct json_object *caps = json_object_new_object();
	const char *s;

	if (!root || !caps)
		goto nomem;
	json_object_object_add(caps, VFIO_USER_CAP_MAX_MSG_FDS, json_object_new_int64(sc->max_msg_fds));
	json_object_object_add(caps, VFIO_USER_CAP_MAX_DATA_XFER, json_object_new_int64(sc->max_data_xfer_size));
	json_object_object_add(caps, VFIO_USER_CAP_MAX_DMA_MAPS, json_object_new_int64(sc->max_dma_maps));
	json_object_object_add(caps, VFIO_USER_CAP_PGSIZES, json_object_new_int64((int64_t)sc->pgsizes));
	json_object_object_add(caps, VFIO_USER_CAP_WRITE_MULTIPLE, json_object_new_boolean(sc->write_multiple));
	json_object_object_add(root, VFIO_USER_CAP, caps);
	caps = NULL;
	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	free(server_json);
	server_json = s ? strdup(s) : NULL;
	json_object_put(root);
	if (!server_json)
		return -ENOMEM;
	server_json_len = strlen(server_json) + 1;
	return 0;
nomem:
	json_object_put(root);
	json_object_put(caps);
	return -ENOMEM;
}

void caps_fini(void)
{
	free(server_json);
	server_json = NULL;
	server_json_len = 0;
}

const char *caps_server_json(void)
{
	return server_json;
}

/* A JSON number that fits in [min, max]; -EINVAL for another type or range. */
static int get_uint(struct json_object *v, uint64_t min, uint64_t max, uint64_t *out)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	errno = 0;
	n = json_object_get_int64(v);
	if (errno || n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return -EINVAL;
	*out = (uint64_t)n;
	return 0;
}

static int parse_capabilities(struct json_object *caps, struct client_caps *out)
{
	struct json_object *v;
	uint64_t n;

	if (!json_object_is_type(caps, json_type_object))
		return -EINVAL;
	if (json_object_object_get_ex(caps, VFIO_USER_CAP_MAX_MSG_FDS, &v)) {
		if (get_uint(v, 0, UINT32_MAX, &n))
			return -EINVAL;
		out->max_msg_fds = (uint32_t)n;
	}
	if (json_object_object_get_ex(caps, VFIO_USER_CAP_MAX_DATA_XFER, &v)) {
		if (get_uint(v, 1, UINT32_MAX, &n))
			return -EINVAL;
		out->max_data_xfer_size = (uint32_t)n;
	}
	if (json_object_object_get_ex(caps, VFIO_USER_CAP_MAX_DMA_MAPS, &v) && get_uint(v, 0, UINT32_MAX, &n))
		return -EINVAL;
	if (json_object_object_get_ex(caps, VFIO_USER_CAP_PGSIZES, &v)) {
		if (get_uint(v, 1, UINT64_MAX >> 1, &n))
			return -EINVAL;
		out->pgsizes = n;
	}
	if (json_object_object_get_ex(caps, VFIO_USER_CAP_WRITE_MULTIPLE, &v) &&
	    !json_object_is_type(v, json_type_boolean))
		return -EINVAL;
	if (json_object_object_get_ex(caps, VFIO_USER_CAP_MIGRATION, &v) && !json_object_is_type(v, json_type_object))
		return -EINVAL;
	if (json_object_object_get_ex(caps, VFIO_USER_CAP_TWIN_SOCKET, &v) && !json_object_is_type(v, json_type_object))
		return -EINVAL;
	/* Other keys (alioth's "max_fds", future ones) are ignored, as the specification allows. */
	return 0;
}

static int parse_json(const char *json, size_t len, struct client_caps *out)
{
	struct json_tokener *tok;
	struct json_object *root, *caps;
	int ret = -EINVAL;

	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, json, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success || (size_t)json_tokener_get_parse_end(tok) != len)
		goto out;
	if (!json_object_is_type(root, json_type_object))
		goto out;
	ret = 0;
	if (json_object_object_get_ex(root, VFIO_USER_CAP, &caps))
		ret = parse_capabilities(caps, out);
out:
	json_object_put(root);
	json_tokener_free(tok);
	return ret;
}

int caps_parse_client(const void *payload, size_t len, struct client_caps *out)
{
	const struct vfio_user_version *v = payload;
	const char *json, *nul;
	size_t json_len;

	if (len < sizeof(*v))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->max_msg_fds = VFIO_USER_DEF_MAX_MSG_FDS;
	out->max_data_xfer_size = VFIO_USER_DEF_MAX_DATA_XFER;
	out->pgsizes = VFIO_USER_DEF_PGSIZES;
	if (v->major != VFIO_USER_MAJOR)
		return -ENOTSUP;
	out->major = VFIO_USER_MAJOR;
	out->minor = v->minor < VFIO_USER_MINOR ? v->minor : VFIO_USER_MINOR;

	json = (const char *)payload + sizeof(*v);
	json_len = len - sizeof(*v);
	if (json_len == 0)
		return 0; /* SPDK sends no JSON at all */
	if (json_len > VFIO_USER_MAX_VERSION_JSON)
		return -EINVAL;
	nul = memchr(json, '\0', json_len);
	if (!nul)
		return -EINVAL; /* the specification requires the terminating NUL */
	json_len = (size_t)(nul - json);
	if (json_len == 0)
		return 0;
	out->sent_json = true;
	return parse_json(json, json_len, out);
}

ssize_t caps_build_reply(const struct client_caps *cc, void *buf, size_t cap)
{
	struct vfio_user_version *v = buf;
	size_t len = sizeof(*v) + server_json_len;

	if (!server_json || cap < len)
		return -ENOSPC;
	v->major = cc->major;
	v->minor = cc->minor;
	memcpy(v->data, server_json, server_json_len);
	return (ssize_t)len;
}
