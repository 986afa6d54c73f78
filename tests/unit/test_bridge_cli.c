/* test_bridge_cli.c: `vfio-user-proxy bridge` without the module: option parsing and usage errors, fault names, UUIDs, a LIST reply and an event built with libnl into memory, parsed and printed as text and JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "cli/bridge.h"

#define UUID "0123abcd-89ab-cdef-0123-456789abcdef"

static int parse(struct bridge_args *a, ...)
{
	char *argv[24];
	int argc = 0;
	va_list ap;

	argv[argc++] = "bridge";
	va_start(ap, a);
	for (char *s; (s = va_arg(ap, char *)) && argc < 23;)
		argv[argc++] = s;
	va_end(ap);
	argv[argc] = NULL;
	return bridge_parse_args(argc, argv, a);
}

static void test_parse_create(void **state)
{
	struct bridge_args a;

	assert_int_equal(parse(&a, "create", NULL), -1);
	assert_int_equal(a.sub, BRIDGE_CREATE);
	assert_string_equal(a.create.name, "");
	assert_string_equal(a.create.uuid, "");
	assert_int_equal(a.create.msix, 0);
	assert_int_equal(a.create.vendor, -1);
	assert_int_equal(a.create.subsys_device, -1);
	assert_false(a.json);

	assert_int_equal(parse(&a, "create", "--name", "edu0", "--msix", "4", "--vendor", "0x1b36", "--device",
			       "11e9", "--subsys-vendor", "0", "--subsys-device", "FFFF", "--uuid",
			       "0123ABCD-89AB-CDEF-0123-456789ABCDEF", "--json", NULL),
			 -1);
	assert_string_equal(a.create.name, "edu0");
	assert_int_equal(a.create.msix, 4);
	assert_int_equal(a.create.vendor, 0x1b36);
	assert_int_equal(a.create.device, 0x11e9);
	assert_int_equal(a.create.subsys_vendor, 0);
	assert_int_equal(a.create.subsys_device, 0xffff);
	assert_string_equal(a.create.uuid, UUID); /* lower case, as the kernel writes it */
	assert_true(a.json);
	assert_int_equal(parse(&a, "create", "--name=a.b_c-1", NULL), -1);
	assert_string_equal(a.create.name, "a.b_c-1");
}

static void test_parse_usage_errors(void **state)
{
	struct bridge_args a;

	assert_int_equal(parse(&a, NULL), 2);
	assert_int_equal(parse(&a, "frob", NULL), 2);
	assert_int_equal(parse(&a, "create", "--bogus", NULL), 2);
	assert_int_equal(parse(&a, "create", "--name", NULL), 2);
	assert_int_equal(parse(&a, "create", "--name", "bad name", NULL), 2);
	assert_int_equal(parse(&a, "create", "--name", "0123456789012345678901234567890123", NULL), 2);
	assert_int_equal(parse(&a, "create", "--msix", "0", NULL), 2);
	assert_int_equal(parse(&a, "create", "--msix", "9", NULL), 2); /* the model has 8 MSI-X table entries */
	assert_int_equal(parse(&a, "create", "--vendor", "10000", NULL), 2);
	assert_int_equal(parse(&a, "create", "--vendor", "xyz", NULL), 2);
	assert_int_equal(parse(&a, "create", "--uuid", "0123abcd-89ab-cdef-0123-456789abcde", NULL), 2);
	assert_int_equal(parse(&a, "create", "extra", NULL), 2);
	assert_int_equal(parse(&a, "list", "--ms", "3", NULL), 2);
	assert_int_equal(parse(&a, "list", "x", NULL), 2);
	assert_int_equal(parse(&a, "destroy", NULL), 2);
	assert_int_equal(parse(&a, "destroy", "a", "b", NULL), 2);
	assert_int_equal(parse(&a, "inject", "edu0", NULL), 2);
	assert_int_equal(parse(&a, "inject", "edu0", "melt", NULL), 2);
	assert_int_equal(parse(&a, "inject", "edu0", "stall-reads", NULL), 2);
	assert_int_equal(parse(&a, "inject", "edu0", "stall-reads", "--ms", "0", NULL), 2);
	assert_int_equal(parse(&a, "inject", "edu0", "stall-reads", "--ms", "10001", NULL), 2);
	assert_int_equal(parse(&a, "inject", "edu0", "dma-fail", "--ms", "5", NULL), 2);
	assert_int_equal(parse(&a, "events", "--count", "0", NULL), 2);
	assert_int_equal(parse(&a, "events", "--name", "x", NULL), 2);
}

static void test_parse_others(void **state)
{
	struct bridge_args a;

	assert_int_equal(parse(&a, "--help", NULL), 0);
	assert_int_equal(parse(&a, "inject", "--help", NULL), 0);
	assert_int_equal(parse(&a, "destroy", "edu0", NULL), -1);
	assert_int_equal(a.sub, BRIDGE_DESTROY);
	assert_string_equal(a.target, "edu0");
	assert_int_equal(parse(&a, "list", "--json", NULL), -1);
	assert_int_equal(a.sub, BRIDGE_LIST);
	assert_true(a.json);
	/* options anywhere */
	assert_int_equal(parse(&a, "inject", "--ms", "250", UUID, "stall-reads", NULL), -1);
	assert_int_equal(a.sub, BRIDGE_INJECT);
	assert_string_equal(a.target, UUID);
	assert_int_equal(a.fault, VUP_BRIDGE_FAULT_STALL_READS);
	assert_int_equal(a.ms, 250);
	assert_int_equal(parse(&a, "inject", "edu0", "surprise-removal", NULL), -1);
	assert_int_equal(a.fault, VUP_BRIDGE_FAULT_SURPRISE_REMOVAL);
	assert_int_equal(a.ms, 0);
	assert_int_equal(parse(&a, "events", "--count", "5", "--json", NULL), -1);
	assert_int_equal(a.sub, BRIDGE_EVENTS);
	assert_int_equal(a.count, 5);
	assert_true(a.json);
	assert_int_equal(parse(&a, "events", NULL), -1);
	assert_int_equal(a.count, 0);
}

static void test_names(void **state)
{
	static const char *const faults[] = { "dma-fail", "err-irq", "stall-reads", "surprise-removal" };
	uint32_t f;
	int id;

	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(bridge_fault_parse(faults[i], &f), 0);
		assert_int_equal(f, VUP_BRIDGE_FAULT_DMA_FAIL + i);
		assert_string_equal(bridge_fault_name(f), faults[i]);
	}
	assert_int_equal(bridge_fault_parse("DMA-FAIL", &f), -EINVAL);
	assert_int_equal(bridge_fault_parse("", &f), -EINVAL);
	assert_null(bridge_fault_name(0));
	assert_null(bridge_fault_name(99));
	assert_string_equal(bridge_event_name(VUP_BRIDGE_EV_CREATED), "created");
	assert_string_equal(bridge_event_name(VUP_BRIDGE_EV_DESTROYED), "destroyed");
	assert_string_equal(bridge_event_name(42), "unknown");
	assert_true(bridge_is_uuid(UUID));
	assert_false(bridge_is_uuid("edu0"));
	assert_false(bridge_is_uuid(UUID "0"));
	assert_false(bridge_is_uuid("0123abcd-89ab-cdef-0123+456789abcdef"));
	assert_int_equal(bridge_parse_id("0x11e8", &id), 0);
	assert_int_equal(id, 0x11e8);
	assert_int_equal(bridge_parse_id("0x", &id), -EINVAL);
	assert_int_equal(bridge_parse_id("-1", &id), -EINVAL);
}

/* A LIST reply as the module sends it (u64 counters after a PAD attribute, as nla_put_u64_64bit does). */
static struct nl_msg *list_reply(bool with_name)
{
	struct nl_msg *m = nlmsg_alloc();

	assert_non_null(m);
	assert_non_null(genlmsg_put(m, 1, 7, 0x20, 0, NLM_F_MULTI, VUP_BRIDGE_CMD_LIST, VUP_BRIDGE_GENL_VERSION));
	if (with_name)
		assert_int_equal(nla_put_string(m, VUP_BRIDGE_A_NAME, "edu0"), 0);
	assert_int_equal(nla_put_string(m, VUP_BRIDGE_A_UUID, UUID), 0);
	assert_int_equal(nla_put_string(m, VUP_BRIDGE_A_SYSFS_PATH, "/sys/bus/mdev/devices/" UUID), 0);
	assert_int_equal(nla_put_u32(m, VUP_BRIDGE_A_GROUP, 3), 0);
	assert_int_equal(nla_put_u32(m, VUP_BRIDGE_A_MSIX, 4), 0);
	assert_int_equal(nla_put_u16(m, VUP_BRIDGE_A_VENDOR, 0x1234), 0);
	assert_int_equal(nla_put_u16(m, VUP_BRIDGE_A_DEVICE, 0x11e8), 0);
	assert_int_equal(nla_put_u16(m, VUP_BRIDGE_A_SUBSYS_VENDOR, 0x1af4), 0);
	assert_int_equal(nla_put_u16(m, VUP_BRIDGE_A_SUBSYS_DEVICE, 0x1100), 0);
	assert_int_equal(nla_put_u8(m, VUP_BRIDGE_A_OPEN, 1), 0);
	assert_int_equal(nla_put(m, VUP_BRIDGE_A_PAD, 0, NULL), 0);
	assert_int_equal(nla_put_u64(m, VUP_BRIDGE_A_COUNTER_MMIO, 12345678901ULL), 0);
	assert_int_equal(nla_put_u64(m, VUP_BRIDGE_A_COUNTER_DMA_BYTES, 4096), 0);
	assert_int_equal(nla_put_u64(m, VUP_BRIDGE_A_COUNTER_IRQS, 2), 0);
	assert_int_equal(nla_put_u64(m, VUP_BRIDGE_A_COUNTER_RESETS, 1), 0);
	assert_int_equal(nla_put_u64(m, VUP_BRIDGE_A_COUNTER_OPENS, 5), 0);
	return m;
}

static char *print_to_string(void (*fn)(FILE *, const void *), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, arg);
	fclose(f);
	return buf;
}

static void row(FILE *f, const void *in)
{
	bridge_print_table_row(f, in);
}

static void created_text(FILE *f, const void *in)
{
	bridge_print_created(f, in, false);
}

static void created_json(FILE *f, const void *in)
{
	bridge_print_created(f, in, true);
}

static void test_list_reply(void **state)
{
	struct nl_msg *m = list_reply(true);
	struct bridge_instance in;
	struct json_object *o, *v, *c;
	char *s;

	assert_int_equal(bridge_parse_instance(nlmsg_hdr(m), &in), 0);
	nlmsg_free(m);
	assert_string_equal(in.name, "edu0");
	assert_string_equal(in.uuid, UUID);
	assert_int_equal(in.group, 3);
	assert_string_equal(in.cdev, "");
	assert_int_equal(in.msix, 4);
	assert_int_equal(in.vendor, 0x1234);
	assert_true(in.open);
	assert_int_equal(in.mmio, 12345678901ULL);
	assert_int_equal(in.opens, 5);

	s = print_to_string(row, &in);
	assert_non_null(strstr(s, "edu0 "));
	assert_non_null(strstr(s, UUID " 3 "));
	assert_non_null(strstr(s, " - "));   /* no cdev */
	assert_non_null(strstr(s, " yes "));
	assert_non_null(strstr(s, " 12345678901 "));
	assert_non_null(strstr(s, " 4096 "));
	assert_int_equal(s[strlen(s) - 1], '\n');
	assert_ptr_equal(strchr(s, '\n'), s + strlen(s) - 1); /* one line */
	free(s);

	s = print_to_string(created_text, &in);
	assert_string_equal(s, "name edu0\nuuid " UUID "\nsysfs /sys/bus/mdev/devices/" UUID "\ngroup /dev/vfio/3\n");
	free(s);

	s = print_to_string(created_json, &in);
	o = json_tokener_parse(s);
	free(s);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "name", &v));
	assert_string_equal(json_object_get_string(v), "edu0");
	assert_true(json_object_object_get_ex(o, "group", &v));
	assert_int_equal(json_object_get_int(v), 3);
	assert_true(json_object_object_get_ex(o, "cdev", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "subsys_vendor", &v));
	assert_string_equal(json_object_get_string(v), "0x1af4");
	assert_true(json_object_object_get_ex(o, "open", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "counters", &c));
	assert_true(json_object_object_get_ex(c, "mmio", &v));
	assert_int_equal(json_object_get_uint64(v), 12345678901ULL);
	assert_true(json_object_object_get_ex(c, "resets", &v));
	assert_int_equal(json_object_get_uint64(v), 1);
	json_object_put(o);

	/* a reply without its NAME is refused */
	m = list_reply(false);
	assert_int_equal(bridge_parse_instance(nlmsg_hdr(m), &in), -EINVAL);
	nlmsg_free(m);
}

static void event_line(FILE *f, const void *ev)
{
	bridge_print_event(f, ev, false);
}

static void event_json(FILE *f, const void *ev)
{
	bridge_print_event(f, ev, true);
}

static void test_event(void **state)
{
	struct nl_msg *m = nlmsg_alloc();
	struct bridge_event ev;
	char *s;

	assert_non_null(genlmsg_put(m, 0, 0, 0x20, 0, 0, VUP_BRIDGE_CMD_EVENT, VUP_BRIDGE_GENL_VERSION));
	assert_int_equal(nla_put_u32(m, VUP_BRIDGE_A_EVENT_TYPE, VUP_BRIDGE_EV_OPENED), 0);
	assert_int_equal(nla_put_string(m, VUP_BRIDGE_A_NAME, "edu0"), 0);
	assert_int_equal(nla_put_string(m, VUP_BRIDGE_A_UUID, UUID), 0);
	assert_int_equal(bridge_parse_event(nlmsg_hdr(m), &ev), 0);
	nlmsg_free(m);
	assert_int_equal(ev.type, VUP_BRIDGE_EV_OPENED);
	s = print_to_string(event_line, &ev);
	assert_string_equal(s, "opened edu0 " UUID "\n");
	free(s);
	s = print_to_string(event_json, &ev);
	assert_string_equal(s, "{\"event\":\"opened\",\"name\":\"edu0\",\"uuid\":\"" UUID "\"}\n");
	free(s);

	/* no EVENT_TYPE: refused */
	m = nlmsg_alloc();
	assert_non_null(genlmsg_put(m, 0, 0, 0x20, 0, 0, VUP_BRIDGE_CMD_EVENT, VUP_BRIDGE_GENL_VERSION));
	assert_int_equal(nla_put_string(m, VUP_BRIDGE_A_NAME, "edu0"), 0);
	assert_int_equal(bridge_parse_event(nlmsg_hdr(m), &ev), -EINVAL);
	nlmsg_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_create), cmocka_unit_test(test_parse_usage_errors),
		cmocka_unit_test(test_parse_others), cmocka_unit_test(test_names),
		cmocka_unit_test(test_list_reply),   cmocka_unit_test(test_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
