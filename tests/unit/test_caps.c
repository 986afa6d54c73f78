/* test_caps.c: VERSION negotiation: the proposals real clients send, malformed ones, and the server's reply. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "server/caps.h"
#include "vfio-user.h"

static uint8_t msg[8192];

/* Builds a VERSION payload; json NULL means none at all, len_override >= 0 cuts the payload. */
static size_t version(uint16_t major, uint16_t minor, const char *json, bool nul)
{
	struct vfio_user_version *v = (void *)msg;
	size_t n = sizeof(*v);

	v->major = major;
	v->minor = minor;
	if (json) {
		memcpy(v->data, json, strlen(json));
		n += strlen(json);
		if (nul)
			msg[n++] = '\0';
	}
	return n;
}

static void test_qemu(void **state)
{
	struct client_caps cc;
	size_t n = version(0, 0,
			   "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,\"pgsizes\":4096,"
			   "\"max_dma_maps\":65535,\"migration\":{\"pgsize\":4096,\"max_bitmap_size\":268435456}}}",
			   true);

	assert_int_equal(caps_parse_client(msg, n, &cc), 0);
	assert_int_equal(cc.major, 0);
	assert_int_equal(cc.minor, 0);
	assert_int_equal(cc.max_msg_fds, 16);
	assert_int_equal(cc.max_data_xfer_size, 1048576);
	assert_true(cc.sent_json);
}

static void test_spdk_no_json(void **state)
{
	struct client_caps cc;

	assert_int_equal(caps_parse_client(msg, version(0, 1, NULL, false), &cc), 0);
	assert_int_equal(cc.minor, 1);
	assert_int_equal(cc.max_msg_fds, VFIO_USER_DEF_MAX_MSG_FDS);
	assert_int_equal(cc.max_data_xfer_size, VFIO_USER_DEF_MAX_DATA_XFER);
	assert_false(cc.sent_json);
	/* an empty string is no JSON either */
	assert_int_equal(caps_parse_client(msg, version(0, 1, "", true), &cc), 0);
	assert_false(cc.sent_json);
}

static void test_rust_vmm_and_alioth(void **state)
{
	struct client_caps cc;

	assert_int_equal(caps_parse_client(msg, version(0, 1, "{\"capabilities\":{\"migration\":{}}}", true), &cc), 0);
	assert_int_equal(caps_parse_client(msg, version(0, 2, "{\"capabilities\":{\"max_fds\":8}}", true), &cc), 0);
	assert_int_equal(cc.minor, 2);
	assert_int_equal(cc.max_msg_fds, VFIO_USER_DEF_MAX_MSG_FDS);
}

static void test_minor_clamped(void **state)
{
	struct client_caps cc;

	assert_int_equal(caps_parse_client(msg, version(0, 7, "{}", true), &cc), 0);
	assert_int_equal(cc.minor, VFIO_USER_MINOR);
}

static void test_refusals(void **state)
{
	struct client_caps cc;
	char big[VFIO_USER_MAX_VERSION_JSON + 64];

	assert_int_equal(caps_parse_client(msg, 3, &cc), -EINVAL);
	assert_int_equal(caps_parse_client(msg, version(1, 0, "{}", true), &cc), -ENOTSUP);
	assert_int_equal(caps_parse_client(msg, version(0, 1, "{}", false), &cc), -EINVAL); /* no NUL */
	assert_int_equal(caps_parse_client(msg, version(0, 1, "{\"capabilities\":", true), &cc), -EINVAL);
	assert_int_equal(caps_parse_client(msg, version(0, 1, "[]", true), &cc), -EINVAL);
	assert_int_equal(caps_parse_client(msg, version(0, 1, "{} trailing", true), &cc), -EINVAL);
	assert_int_equal(caps_parse_client(msg, version(0, 1, "{\"capabilities\":[]}", true), &cc), -EINVAL);
	assert_int_equal(caps_parse_client(msg, version(0, 1, "{\"capabilities\":{\"max_msg_fds\":-1}}", true), &cc),
			 -EINVAL);
	assert_int_equal(caps_parse_client(msg, version(0, 1, "{\"capabilities\":{\"max_msg_fds\":1.5}}", true), &cc),
			 -EINVAL);
	assert_int_equal(
		caps_parse_client(msg, version(0, 1, "{\"capabilities\":{\"max_data_xfer_size\":0}}", true), &cc),
		-EINVAL);
	assert_int_equal(
		caps_parse_client(msg, version(0, 1, "{\"capabilities\":{\"max_msg_fds\":4294967296}}", true), &cc),
		-EINVAL);
	assert_int_equal(
		caps_parse_client(msg, version(0, 1, "{\"capabilities\":{\"write_multiple\":1}}", true), &cc),
		-EINVAL);
	assert_int_equal(caps_parse_client(msg, version(0, 1, "{\"capabilities\":{\"migration\":7}}", true), &cc),
			 -EINVAL);
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(caps_parse_client(msg, version(0, 1, big, true), &cc), -EINVAL);
}

static void test_reply(void **state)
{
	struct server_caps sc = { .max_msg_fds = 16, .max_data_xfer_size = 1 << 20, .max_dma_maps = 65535,
				  .pgsizes = 4096, .write_multiple = true };
	struct client_caps cc = { .major = 0, .minor = 1 };
	uint8_t out[512];
	struct vfio_user_version *v = (void *)out;
	struct json_object *root, *caps, *x;
	ssize_t n;

	assert_int_equal(caps_init(&sc), 0);
	n = caps_build_reply(&cc, out, sizeof(out));
	assert_true(n > (ssize_t)sizeof(*v));
	assert_int_equal(v->major, 0);
	assert_int_equal(v->minor, 1);
	assert_int_equal(out[n - 1], '\0');
	assert_int_equal(strlen(v->data) + 1 + sizeof(*v), (size_t)n);
	root = json_tokener_parse(v->data);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "capabilities", &caps));
	assert_true(json_object_object_get_ex(caps, "max_msg_fds", &x));
	assert_int_equal(json_object_get_int(x), 16);
	assert_true(json_object_object_get_ex(caps, "max_data_xfer_size", &x));
	assert_int_equal(json_object_get_int(x), 1 << 20);
	assert_true(json_object_object_get_ex(caps, "max_dma_maps", &x));
	assert_int_equal(json_object_get_int(x), 65535);
	assert_true(json_object_object_get_ex(caps, "pgsizes", &x));
	assert_int_equal(json_object_get_int(x), 4096);
	assert_true(json_object_object_get_ex(caps, "write_multiple", &x));
	assert_true(json_object_get_boolean(x));
	json_object_put(root);
	assert_int_equal(caps_build_reply(&cc, out, 8), -ENOSPC);
	caps_fini();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qemu),
		cmocka_unit_test(test_spdk_no_json),
		cmocka_unit_test(test_rust_vmm_and_alioth),
		cmocka_unit_test(test_minor_clamped),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_reply),
	};

	return cmocka_run_group_tests_name("caps", tests, NULL, NULL);
}
