/* test_bad_version.c: the VERSION handshake against hostile clients: commands before it, a second one, bad payloads, JSON and capabilities. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "../common/bad_input.h"

/* ==== the VERSION handshake ==== */

static void test_commands_before_version(void **state)
{
	static const uint16_t cmds[] = { VFIO_USER_DEVICE_GET_INFO, VFIO_USER_REGION_READ, VFIO_USER_DMA_MAP,
					 VFIO_USER_DEVICE_SET_IRQS, VFIO_USER_DEVICE_RESET, 0xffff };
	uint8_t payload[32] = { 32 };

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		send_msg(unversioned(), 1, cmds[i], 0, HDR + sizeof(payload), payload, sizeof(payload), NULL, 0);
		expect_disconnect(F.c);
		case_done();
	}
}

static void test_reply_before_version(void **state)
{
	send_msg(unversioned(), 0, VFIO_USER_DMA_READ, VFIO_USER_F_TYPE_REPLY, HDR, NULL, 0, NULL, 0);
	expect_disconnect(F.c);
	case_done();
}

static void test_second_version(void **state)
{
	struct vfio_user_version v = { .major = 0, .minor = 2 };

	EXPECT_ERR(fresh(), VFIO_USER_VERSION, 0, &v, sizeof(v), NULL, 0, EINVAL);
	case_done();
}

static void test_version_short_payload(void **state)
{
	uint16_t major = 0;
	struct vuc_server_caps caps;

	EXPECT_ERR(unversioned(), VFIO_USER_VERSION, 0, &major, sizeof(major), NULL, 0, EINVAL);
	EXPECT_ERR(F.c, VFIO_USER_VERSION, 0, NULL, 0, NULL, 0, EINVAL);
	/* the refusal leaves the connection usable: VERSION again, properly */
	assert_int_equal(vuc_negotiate(F.c, &caps), 0);
	F.c_alive = true;
	case_done();
}

static void test_version_json_not_terminated(void **state)
{
	uint8_t p[4 + 19];
	struct vuc_server_caps caps;

	memset(p, 0, 4);
	memcpy(p + 4, "{\"capabilities\":{}}", 19);
	EXPECT_ERR(unversioned(), VFIO_USER_VERSION, 0, p, sizeof(p), NULL, 0, EINVAL);
	assert_int_equal(vuc_negotiate(F.c, &caps), 0);
	F.c_alive = true;
	case_done();
}

/* JSON (with its NUL) of len bytes: an object with a padding string. */
static size_t padded_version(uint8_t *p, size_t json_len)
{
	static const char head[] = "{\"capabilities\":{\"max_msg_fds\":16},\"pad\":\"";
	size_t pad = json_len - 1 - (sizeof(head) - 1) - 2;

	memset(p, 0, 4);
	memcpy(p + 4, head, sizeof(head) - 1);
	memset(p + 4 + sizeof(head) - 1, 'x', pad);
	memcpy(p + 4 + sizeof(head) - 1 + pad, "\"}", 3);
	return 4 + json_len;
}

static void test_version_json_too_long(void **state)
{
	uint8_t *p = big_buffer(4 + VFIO_USER_MAX_VERSION_JSON + 1000);
	uint8_t reply[256];
	size_t len;

	len = padded_version(p, VFIO_USER_MAX_VERSION_JSON + 1);
	EXPECT_ERR(unversioned(), VFIO_USER_VERSION, 0, p, len, NULL, 0, EINVAL);
	len = padded_version(p, VFIO_USER_MAX_VERSION_JSON + 1000);
	EXPECT_ERR(F.c, VFIO_USER_VERSION, 0, p, len, NULL, 0, EINVAL);
	/* exactly at the bound is accepted */
	len = padded_version(p, VFIO_USER_MAX_VERSION_JSON);
	assert_true(EXPECT_OK(F.c, VFIO_USER_VERSION, p, len, reply, sizeof(reply)) > 4);
	F.c_alive = true;
	case_done();
}

static void test_version_major_1(void **state)
{
	struct vfio_user_version v = { .major = 1, .minor = 0 };
	struct vuc_server_caps caps;

	EXPECT_ERR(unversioned(), VFIO_USER_VERSION, 0, &v, sizeof(v), NULL, 0, ENOTSUP);
	v.major = 0xffff;
	EXPECT_ERR(F.c, VFIO_USER_VERSION, 0, &v, sizeof(v), NULL, 0, ENOTSUP);
	assert_int_equal(vuc_negotiate(F.c, &caps), 0);
	F.c_alive = true;
	case_done();
}

static void test_version_bad_capabilities(void **state)
{
	static const char *const bad[] = {
		"{\"capabilities\":{\"max_data_xfer_size\":0}}",
		"{\"capabilities\":{\"max_msg_fds\":-1}}",
		"{\"capabilities\":{\"max_msg_fds\":4294967296}}",
		"{\"capabilities\":{\"pgsizes\":0}}",
		"{\"capabilities\":{\"write_multiple\":1}}",
		"{\"capabilities\":{\"migration\":[]}}",
		"{\"capabilities\":[]}",
		"{\"capabilities\":{}} trailing",
		"\"just a string\"",
	};
	struct vuc_server_caps caps;

	unversioned();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vuc_negotiate_custom(F.c, 0, 1, bad[i], &caps), -EINVAL);
	assert_int_equal(vuc_negotiate(F.c, &caps), 0);
	F.c_alive = true;
	case_done();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BAD_INPUT_TEST(test_commands_before_version),
		BAD_INPUT_TEST(test_reply_before_version),
		BAD_INPUT_TEST(test_second_version),
		BAD_INPUT_TEST(test_version_short_payload),
		BAD_INPUT_TEST(test_version_json_not_terminated),
		BAD_INPUT_TEST(test_version_json_too_long),
		BAD_INPUT_TEST(test_version_major_1),
		BAD_INPUT_TEST(test_version_bad_capabilities),
	};

	return cmocka_run_group_tests_name("bad_version", tests, group_setup, group_teardown);
}
