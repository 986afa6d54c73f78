/* test_edu_config.c: unit tests of the edu model's config space: IDs, BAR sizing, the capability list (PM, MSI, PCIe, MSI-X), command and status, read-only bits and the write mask. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../common/edu_env.h"

#define T(fn) cmocka_unit_test_setup_teardown(fn, edu_env_setup, edu_env_teardown)

/* Config space */

static void test_config_ids(void **state)
{
	struct edu_env *e = *state;

	assert_int_equal(cfg_rd(&e->m, 0x00, 2), EDU_VENDOR_ID);
	assert_int_equal(cfg_rd(&e->m, 0x02, 2), EDU_DEVICE_ID);
	assert_int_equal(cfg_rd(&e->m, 0x00, 4), EDU_DEVICE_ID << 16 | EDU_VENDOR_ID);
	assert_int_equal(cfg_rd(&e->m, 0x08, 1), EDU_REVISION);
	assert_int_equal(cfg_rd(&e->m, 0x08, 4), EDU_CLASS_CODE << 8 | EDU_REVISION);
	assert_int_equal(cfg_rd(&e->m, 0x09, 1), 0x00);
	assert_int_equal(cfg_rd(&e->m, 0x0a, 1), 0x00);
	assert_int_equal(cfg_rd(&e->m, 0x0b, 1), 0xff);
	assert_int_equal(cfg_rd(&e->m, 0x0e, 1), 0);
	assert_int_equal(cfg_rd(&e->m, 0x2c, 2), EDU_SUBSYS_VENDOR_ID);
	assert_int_equal(cfg_rd(&e->m, 0x2e, 2), EDU_SUBSYS_ID);
	assert_int_equal(cfg_rd(&e->m, 0x3d, 1), 1);
	assert_int_equal(cfg_rd(&e->m, 0x04, 2), 0);
	assert_int_equal(cfg_rd(&e->m, 0x06, 2), 0x0010);
	assert_int_equal(cfg_rd(&e->m, 0x34, 1), EDU_CAP_PM);
	/* Unaligned reads assemble bytes. */
	assert_int_equal(cfg_rd(&e->m, 0x01, 2), 0xe812);
	assert_int_equal(cfg_rd(&e->m, 0x03, 4), 0x10000011);
}

static void test_config_einval(void **state)
{
	struct edu_env *e = *state;
	uint8_t b[8] = { 0 };

	assert_int_equal(edu_model_config_read(&e->m, 0, b, 0), -EDU_EINVAL);
	assert_int_equal(edu_model_config_read(&e->m, 0, b, 3), -EDU_EINVAL);
	assert_int_equal(edu_model_config_read(&e->m, 0, b, 8), -EDU_EINVAL);
	assert_int_equal(edu_model_config_read(&e->m, EDU_CONFIG_SIZE, b, 1), -EDU_EINVAL);
	assert_int_equal(edu_model_config_read(&e->m, EDU_CONFIG_SIZE - 2, b, 4), -EDU_EINVAL);
	assert_int_equal(edu_model_config_read(&e->m, UINT32_MAX, b, 2), -EDU_EINVAL);
	assert_int_equal(edu_model_config_write(&e->m, 0x04, b, 3), -EDU_EINVAL);
	assert_int_equal(edu_model_config_write(&e->m, UINT32_MAX - 1, b, 4), -EDU_EINVAL);
	assert_int_equal(edu_model_config_read(&e->m, EDU_CONFIG_SIZE - 4, b, 4), 0);
	assert_int_equal(edu_model_config_write(&e->m, EDU_CONFIG_SIZE - 1, b, 1), 0);
}

static void test_config_bar_sizing(void **state)
{
	struct edu_env *e = *state;

	/* Power-on values */
	assert_int_equal(cfg_rd(&e->m, 0x10, 4), 0);
	assert_int_equal(cfg_rd(&e->m, 0x18, 4), 0);
	assert_int_equal(cfg_rd(&e->m, 0x20, 4), 0x0000000c);
	assert_int_equal(cfg_rd(&e->m, 0x24, 4), 0);
	/* Sizing */
	cfg_wr(&e->m, 0x10, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, 0x10, 4), 0xfff00000u);
	cfg_wr(&e->m, 0x18, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, 0x18, 4), 0xfffff000u);
	cfg_wr(&e->m, 0x20, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, 0x20, 4), 0xfff0000cu);
	cfg_wr(&e->m, 0x24, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, 0x24, 4), 0xffffffffu);
	/* Programming an address keeps the aligned part and the flags. */
	cfg_wr(&e->m, 0x10, 0xfe012345u, 4);
	assert_int_equal(cfg_rd(&e->m, 0x10, 4), 0xfe000000u);
	cfg_wr(&e->m, 0x18, 0xfe101fffu, 4);
	assert_int_equal(cfg_rd(&e->m, 0x18, 4), 0xfe101000u);
	cfg_wr(&e->m, 0x20, 0x80200003u, 4);
	assert_int_equal(cfg_rd(&e->m, 0x20, 4), 0x8020000cu);
	cfg_wr(&e->m, 0x24, 0x00000012u, 4);
	assert_int_equal(cfg_rd(&e->m, 0x24, 4), 0x00000012u);
	/* Byte-wide writes go through the same masks. */
	cfg_wr(&e->m, 0x12, 0xff, 1);
	assert_int_equal(cfg_rd(&e->m, 0x10, 4), 0xfef00000u);
	cfg_wr(&e->m, 0x20, 0xff, 1);
	assert_int_equal(cfg_rd(&e->m, 0x20, 4), 0x8020000cu);
}

static void test_config_bar_readonly(void **state)
{
	struct edu_env *e = *state;
	static const uint32_t ro[] = { 0x14, 0x1c, 0x28, 0x30 };

	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		cfg_wr(&e->m, ro[i], 0xffffffffu, 4);
		assert_int_equal(cfg_rd(&e->m, ro[i], 4), 0);
		cfg_wr(&e->m, ro[i], 0x12345678u, 4);
		assert_int_equal(cfg_rd(&e->m, ro[i], 4), 0);
	}
}

static void test_config_cap_list(void **state)
{
	struct edu_env *e = *state;
	static const uint8_t want_pos[] = { EDU_CAP_PM, EDU_CAP_MSI, EDU_CAP_PCIE, EDU_CAP_MSIX };
	static const uint8_t want_id[] = { 0x01, 0x05, 0x10, 0x11 };
	uint32_t pos = cfg_rd(&e->m, 0x34, 1);
	unsigned int n = 0;

	assert_true(cfg_rd(&e->m, 0x06, 2) & 0x0010);
	while (pos) {
		assert_true(n < 4);
		assert_int_equal(pos, want_pos[n]);
		assert_int_equal(cfg_rd(&e->m, pos, 1), want_id[n]);
		pos = cfg_rd(&e->m, pos + 1, 1);
		n++;
	}
	assert_int_equal(n, 4);
	/* No extended capabilities. */
	assert_int_equal(cfg_rd(&e->m, 0x100, 4), 0);
	/* The list cannot be rewritten. */
	cfg_wr(&e->m, 0x34, 0x80, 1);
	cfg_wr(&e->m, EDU_CAP_PM, 0xffff, 2);
	cfg_wr(&e->m, 0x100, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, 0x34, 1), EDU_CAP_PM);
	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM, 2), 0x5001);
	assert_int_equal(cfg_rd(&e->m, 0x100, 4), 0);
}

static void test_config_pm_cap(void **state)
{
	struct edu_env *e = *state;

	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM + 2, 2), 0x0003);
	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM + 4, 2), 0x0008);
	cfg_wr(&e->m, EDU_CAP_PM + 4, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM + 4, 2), 0x000b);
	cfg_wr(&e->m, EDU_CAP_PM + 4, 0x0000, 2);
	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM + 4, 2), 0x0008);
	/* D1 and D2 are not supported: such writes are dropped. */
	cfg_wr(&e->m, EDU_CAP_PM + 4, 0x0001, 2);
	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM + 4, 2), 0x0008);
	cfg_wr(&e->m, EDU_CAP_PM + 4, 0x0003, 1);
	cfg_wr(&e->m, EDU_CAP_PM + 4, 0x0002, 1);
	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM + 4, 2), 0x000b);
	cfg_wr(&e->m, EDU_CAP_PM + 2, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, EDU_CAP_PM + 2, 2), 0x0003);
}

static void test_config_msi_cap(void **state)
{
	struct edu_env *e = *state;
	const uint32_t c = EDU_CAP_MSI;

	assert_int_equal(cfg_rd(&e->m, c, 4), 0x00807005);
	/* Enable sticks; multiple message enable and the capability bits do not. */
	cfg_wr(&e->m, c + 2, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, c + 2, 2), 0x0081);
	cfg_wr(&e->m, c + 2, 0x0000, 2);
	assert_int_equal(cfg_rd(&e->m, c + 2, 2), 0x0080);
	cfg_wr(&e->m, c + 4, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, c + 4, 4), 0xfffffffcu);
	cfg_wr(&e->m, c + 8, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, c + 8, 4), 0xffffffffu);
	cfg_wr(&e->m, c + 12, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, c + 12, 4), 0x0000ffffu);
	cfg_wr(&e->m, c + 4, 0xfee01004u, 4);
	cfg_wr(&e->m, c + 12, 0x4041, 2);
	assert_int_equal(cfg_rd(&e->m, c + 4, 4), 0xfee01004u);
	assert_int_equal(cfg_rd(&e->m, c + 12, 2), 0x4041);
}

static void test_config_pcie_cap(void **state)
{
	struct edu_env *e = *state;
	const uint32_t c = EDU_CAP_PCIE;

	assert_int_equal(cfg_rd(&e->m, c, 2), EDU_CAP_MSIX << 8 | 0x10);
	assert_int_equal(cfg_rd(&e->m, c + 2, 2), 0x0002);
	assert_int_equal(cfg_rd(&e->m, c + 4, 4), 0x8000); /* role-based error reporting: PCIe 1.1+ */
	assert_int_equal(cfg_rd(&e->m, c + 8, 2), 0);
	assert_int_equal(cfg_rd(&e->m, c + 12, 4), 0x00000011);
	assert_int_equal(cfg_rd(&e->m, c + 18, 2), 0x0011);
	/* Device control */
	cfg_wr(&e->m, c + 8, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, c + 8, 2), 0x0eff);
	/* Device status is read-only. */
	cfg_wr(&e->m, c + 10, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, c + 10, 2), 0);
	/* Link control: ASPM only; link capabilities and status read-only. */
	cfg_wr(&e->m, c + 16, 0xffffffffu, 4);
	assert_int_equal(cfg_rd(&e->m, c + 16, 4), 0x00110003u);
	cfg_wr(&e->m, c + 12, 0, 4);
	assert_int_equal(cfg_rd(&e->m, c + 12, 4), 0x00000011);
	/* The version 2 registers up to 0xab are present and zero. */
	for (uint32_t off = c + 0x14; off < c + 0x3c; off += 4) {
		cfg_wr(&e->m, off, 0xffffffffu, 4);
		assert_int_equal(cfg_rd(&e->m, off, 4), 0);
	}
}

static void test_config_msix_cap(void **state)
{
	struct edu_env *e = *state;
	const uint32_t c = EDU_CAP_MSIX;

	assert_int_equal(cfg_rd(&e->m, c, 1), 0x11);
	assert_int_equal(cfg_rd(&e->m, c + 1, 1), 0);
	assert_int_equal((cfg_rd(&e->m, c + 2, 2) & 0x7ff) + 1, EDU_MSIX_VECTORS);
	assert_int_equal(cfg_rd(&e->m, c + 4, 4), 0x00000002);
	assert_int_equal(cfg_rd(&e->m, c + 4, 4) & 7, EDU_BAR_MSIX);
	assert_int_equal(cfg_rd(&e->m, c + 4, 4) & ~7u, EDU_MSIX_TABLE_OFFSET);
	assert_int_equal(cfg_rd(&e->m, c + 8, 4), 0x00000802);
	assert_int_equal(cfg_rd(&e->m, c + 8, 4) & ~7u, EDU_MSIX_PBA_OFFSET);
	/* Enable and function mask are writable, table size is not. */
	cfg_wr(&e->m, c + 2, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, c + 2, 2), 0xc000 | (EDU_MSIX_VECTORS - 1));
	cfg_wr(&e->m, c + 2, 0, 2);
	assert_int_equal(cfg_rd(&e->m, c + 2, 2), EDU_MSIX_VECTORS - 1);
	cfg_wr(&e->m, c + 4, 0xffffffffu, 4);
	cfg_wr(&e->m, c + 8, 0, 4);
	assert_int_equal(cfg_rd(&e->m, c + 4, 4), 0x00000002);
	assert_int_equal(cfg_rd(&e->m, c + 8, 4), 0x00000802);
}

static void test_config_command(void **state)
{
	struct edu_env *e = *state;

	cfg_wr(&e->m, 0x04, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, 0x04, 2), 0x0547);
	assert_true(edu_model_bus_master(&e->m));
	assert_true(edu_model_intx_disabled(&e->m));
	cfg_wr(&e->m, 0x05, 0x00, 1);
	assert_int_equal(cfg_rd(&e->m, 0x04, 2), 0x0047);
	assert_false(edu_model_intx_disabled(&e->m));
	cfg_wr(&e->m, 0x04, 0x0002, 2);
	assert_false(edu_model_bus_master(&e->m));
	/* A 4-byte write over command and status changes only command bits. */
	cfg_wr(&e->m, 0x04, 0xffff0404u, 4);
	assert_int_equal(cfg_rd(&e->m, 0x04, 4), 0x00100404u);
	assert_true(edu_model_bus_master(&e->m));
	assert_true(edu_model_intx_disabled(&e->m));
	/* Unaligned 2-byte write straddling command and status */
	cfg_wr(&e->m, 0x05, 0xff00, 2);
	assert_int_equal(cfg_rd(&e->m, 0x04, 4), 0x00100004u);
}

static void test_config_readonly(void **state)
{
	struct edu_env *e = *state;
	uint8_t before[EDU_CONFIG_SIZE];
	uint8_t after[EDU_CONFIG_SIZE];
	static const uint32_t ro[] = { 0x00, 0x08, 0x2c, 0x34, 0x38 };

	for (uint32_t i = 0; i < EDU_CONFIG_SIZE; i++)
		before[i] = (uint8_t)cfg_rd(&e->m, i, 1);
	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		cfg_wr(&e->m, ro[i], 0xffffffffu, 4);
		cfg_wr(&e->m, ro[i], 0, 4);
	}
	cfg_wr(&e->m, 0x0e, 0xffff, 2);	/* header type, BIST */
	cfg_wr(&e->m, 0x06, 0xffff, 2);	/* status */
	cfg_wr(&e->m, 0x3d, 0xffff, 2);	/* pin, min grant */
	cfg_wr(&e->m, 0x3e, 0xffff, 2);
	for (uint32_t off = 0x100; off < EDU_CONFIG_SIZE; off += 4)
		cfg_wr(&e->m, off, 0xffffffffu, 4);
	for (uint32_t i = 0; i < EDU_CONFIG_SIZE; i++)
		after[i] = (uint8_t)cfg_rd(&e->m, i, 1);
	assert_memory_equal(before, after, EDU_CONFIG_SIZE);
	for (uint32_t i = 0x100; i < EDU_CONFIG_SIZE; i++)
		assert_int_equal(after[i], 0);

	/* The rw bytes of the header */
	cfg_wr(&e->m, 0x0c, 0x4010, 2);
	cfg_wr(&e->m, 0x3c, 0x0b, 1);
	assert_int_equal(cfg_rd(&e->m, 0x0c, 2), 0x4010);
	assert_int_equal(cfg_rd(&e->m, 0x3c, 2), 0x010b);
}

/* A byte-by-byte sweep: every write mask bit is one listed in the device description. */
static void test_config_wmask_sweep(void **state)
{
	struct edu_env *e = *state;
	static const struct {
		uint32_t off;
		uint8_t mask;
	} rw[] = {
		{ 0x04, 0x47 }, { 0x05, 0x05 }, { 0x0c, 0xff }, { 0x0d, 0xff },
		{ 0x12, 0xf0 }, { 0x13, 0xff }, { 0x19, 0xf0 }, { 0x1a, 0xff }, { 0x1b, 0xff },
		{ 0x22, 0xf0 }, { 0x23, 0xff }, { 0x24, 0xff }, { 0x25, 0xff }, { 0x26, 0xff },
		{ 0x27, 0xff }, { 0x3c, 0xff }, { 0x44, 0x03 }, { 0x52, 0x01 }, { 0x54, 0xfc },
		{ 0x55, 0xff }, { 0x56, 0xff }, { 0x57, 0xff }, { 0x58, 0xff }, { 0x59, 0xff },
		{ 0x5a, 0xff }, { 0x5b, 0xff }, { 0x5c, 0xff }, { 0x5d, 0xff }, { 0x78, 0xff },
		{ 0x79, 0x0e }, { 0x80, 0x03 }, { 0xb3, 0xc0 },
	};

	for (uint32_t off = 0; off < 0x100; off++) {
		uint8_t want = 0;
		uint8_t orig = (uint8_t)cfg_rd(&e->m, off, 1);
		uint8_t set, clr;

		for (size_t i = 0; i < sizeof(rw) / sizeof(rw[0]); i++)
			if (rw[i].off == off)
				want = rw[i].mask;
		cfg_wr(&e->m, off, 0xff, 1);
		set = (uint8_t)cfg_rd(&e->m, off, 1);
		cfg_wr(&e->m, off, 0x00, 1);
		clr = (uint8_t)cfg_rd(&e->m, off, 1);
		/* PMCSR: writing 0xff selects D3hot (3), 0x00 D0. */
		assert_int_equal(set ^ clr, want);
		cfg_wr(&e->m, off, orig, 1);
		assert_int_equal(cfg_rd(&e->m, off, 1), orig);
	}
}

static void test_config_status_follows_irq(void **state)
{
	struct edu_env *e = *state;

	assert_int_equal(cfg_rd(&e->m, 0x06, 2), 0x0010);
	reg_wr(&e->m, EDU_REG_IRQ_RAISE, 0x4);
	assert_int_equal(cfg_rd(&e->m, 0x06, 2), 0x0018);
	/* The status bit cannot be cleared by config writes. */
	cfg_wr(&e->m, 0x06, 0xffff, 2);
	assert_int_equal(cfg_rd(&e->m, 0x06, 2), 0x0018);
	/* It shows the interrupt even with INTx disabled. */
	cfg_wr(&e->m, 0x04, 0x0400, 2);
	assert_int_equal(cfg_rd(&e->m, 0x06, 2), 0x0018);
	reg_wr(&e->m, EDU_REG_IRQ_ACK, 0x4);
	assert_int_equal(cfg_rd(&e->m, 0x06, 2), 0x0010);
	assert_int_equal(cfg_rd(&e->m, 0x04, 4), 0x00100400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_config_ids),
		T(test_config_einval),
		T(test_config_bar_sizing),
		T(test_config_bar_readonly),
		T(test_config_cap_list),
		T(test_config_pm_cap),
		T(test_config_msi_cap),
		T(test_config_pcie_cap),
		T(test_config_msix_cap),
		T(test_config_command),
		T(test_config_readonly),
		T(test_config_wmask_sweep),
		T(test_config_status_follows_irq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
