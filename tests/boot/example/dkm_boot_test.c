// SPDX-License-Identifier: GPL-2.0
/*
 * dkm_boot_test — the module the qemu boot test builds, signs, compresses, puts in an
 * initramfs and loads at boot. It prints one marker line at init so the serial log shows
 * that this exact module ran, with the parameter value the kernel command line gave it
 * (dkm_boot_test.greeting=<value>).
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static char *greeting = "unset";
module_param(greeting, charp, 0444);
MODULE_PARM_DESC(greeting, "word printed in the init marker line (default \"unset\")");

static int __init dkm_boot_test_init(void)
{
	pr_info("dkm_boot_test: loaded param=%s\n", greeting);
	return 0;
}

static void __exit dkm_boot_test_exit(void)
{
	pr_info("dkm_boot_test: unloaded\n");
}

module_init(dkm_boot_test_init);
module_exit(dkm_boot_test_exit);

MODULE_DESCRIPTION("dkm-hook boot test module");
MODULE_AUTHOR("dkm-hook");
MODULE_LICENSE("GPL");
MODULE_VERSION("1.0");
