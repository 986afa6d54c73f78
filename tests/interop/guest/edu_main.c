/* edu_main.c: the guest module edu_test: a PCI driver for the proxy's emulated edu device behind QEMU's vfio-user-pci whose probe runs the checks and figures, then holds the device busy if asked. */
// SPDX-License-Identifier: GPL-2.0
/*
 * Binds to 1234:11e8 and, from its probe, checks what the guest sees of the device served by
 * vfio-user-proxy: config space (IDs, class, BARs, capabilities), BAR0 registers, the RAM BAR,
 * the DMA engine in both directions, and MSI, MSI-X and INTx delivery (edu_checks.c). Each check
 * prints "edu_test: PASS <name>" or "edu_test: FAIL <name>: <why>"; figures print as
 * "edu_test: MEASURE <name> <value> <unit>" (edu_figures.c); the run ends with
 * "edu_test: DONE passed=N failed=N". Afterwards the device attribute handover_loop runs the checks
 * round after round while the host hands the proxy over (edu_loop.c).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/sched.h>

#include "edu_test.h"

#define HOLD_MS 300000		/* at most, in hold mode */

static bool hold;
module_param(hold, bool, 0444);
MODULE_PARM_DESC(hold, "after the checks, keep DMA and MSI-X busy for the host to kill the VM");

/* Keeps the device busy with DMA and MSI-X for up to HOLD_MS: the host kills the VM meanwhile. */
static void hold_busy(struct edu_test *t)
{
	ktime_t end = ktime_add_ms(ktime_get(), HOLD_MS);
	char err[ERR_LEN];
	unsigned long n = 0;

	if (edu_irqs_alloc(t, PCI_IRQ_MSIX, EDU_MSIX_VECTORS, err)) {
		pr_info("HOLD impossible: %s\n", err);
		return;
	}
	pr_info("HOLD busy with DMA and MSI-X for up to %d s\n", HOLD_MS / 1000);
	while (ktime_before(ktime_get(), end)) {
		unsigned int v = n++ % EDU_MSIX_VECTORS;

		reg_write(t, EDU_REG_IRQ_VECTOR, v);
		if (edu_dma_irq_and_wait(t, v, err) ||
		    edu_dma_run(t, t->ram_dma, EDU_DMA_BUF_ADDR, EDU_DMA_BUF_SIZE, 0, err))
			pr_info("HOLD transfer %lu: %s\n", n, err);
		cond_resched();
	}
	pr_info("HOLD over after %lu rounds\n", n);
	edu_irqs_free(t);
}

static void run_checks(struct edu_test *t, const struct edu_check *c, unsigned int n)
{
	char err[ERR_LEN];
	unsigned int i;

	for (i = 0; i < n; i++) {
		err[0] = '\0';
		if (c[i].fn(t, err)) {
			t->failed++;
			pr_info("FAIL %s: %s\n", c[i].name, err[0] ? err : "failed");
		} else {
			t->passed++;
			pr_info("PASS %s\n", c[i].name);
		}
	}
}

static int edu_test_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct edu_test *t;
	int ret;

	pr_info("START %s\n", pci_name(pdev));
	t = devm_kzalloc(&pdev->dev, sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	t->pdev = pdev;
	pci_set_drvdata(pdev, t);
	ret = pcim_enable_device(pdev);
	if (ret)
		goto setup_failed;
	ret = pcim_iomap_regions(pdev, BIT(EDU_BAR_REGS) | BIT(EDU_BAR_RAM), KBUILD_MODNAME);
	if (ret)
		goto setup_failed;
	t->bar0 = pcim_iomap_table(pdev)[EDU_BAR_REGS];
	t->bar4 = pcim_iomap_table(pdev)[EDU_BAR_RAM];
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		goto setup_failed;
	t->ram = dmam_alloc_coherent(&pdev->dev, DMA_BUF_PAGES * PAGE_SIZE, &t->ram_dma,
				     GFP_KERNEL);
	if (!t->ram) {
		ret = -ENOMEM;
		goto setup_failed;
	}
	pci_set_master(pdev);

	run_checks(t, edu_checks, edu_num_checks);
	edu_measure(t);
	run_checks(t, edu_irq_checks, edu_num_irq_checks);
	pr_info("DONE passed=%u failed=%u\n", t->passed, t->failed);
	if (hold)
		hold_busy(t);
	return 0;

setup_failed:
	pr_info("FAIL setup: %d\n", ret);
	pr_info("DONE passed=0 failed=1\n");
	return ret;
}

static void edu_test_remove(struct pci_dev *pdev)
{
	edu_loop_release(pci_get_drvdata(pdev));
	pci_clear_master(pdev);
}

static const struct pci_device_id edu_test_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR_ID, EDU_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, edu_test_ids);

static struct pci_driver edu_test_driver = {
	.name = KBUILD_MODNAME,
	.id_table = edu_test_ids,
	.probe = edu_test_probe,
	.remove = edu_test_remove,
	.dev_groups = edu_loop_groups,
};
module_pci_driver(edu_test_driver);

MODULE_DESCRIPTION("vfio-user-proxy interop checks of the emulated edu device");
MODULE_LICENSE("GPL");
