/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* 40-dkm-hook.install: the kernel-install plugin (installed in /usr/lib/kernel/install.d).
 *
 *   add KVER ENTRY_DIR KERNEL_IMAGE [INITRD...]   build and install every AUTOINSTALL package
 *   remove KVER ENTRY_DIR                         uninstall them, restore displaced modules
 *
 * It sorts before 50-depmod.install and 50-dracut.install: our modules are in place before
 * depmod indexes the tree and before the initramfs is made (dracut's 50dkm-hook module puts the
 * ones that belong inside). So it makes no initramfs itself, and runs depmod only when
 * 50-depmod.install will not. It never exits 77 (that would skip every later plugin: no
 * initramfs, no boot entry): 0 lets the installation go on, 1 stops it (fail_policy=).
 * The root is "/", or $DKM_HOOK_ROOT (for tests and image builders: `kernel-install add` takes
 * no --root). Verbosity follows $KERNEL_INSTALL_VERBOSE. docs/kernel-integration.md. */
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "ctx.h"
#include "log-stdio.h"
#include "hook.h"
#include "util.h"

static const struct dkm_log_sink log_plugin = { "dkm-hook: error: ", "dkm-hook: warning: ",
						"dkm-hook: " };

int main(int argc, char **argv)
{
	_cleanup_ctx_ struct dkm_ctx *ctx = NULL;
	struct dkm_opts o = { .no_initrd = true };
	const char *verbose = getenv("KERNEL_INSTALL_VERBOSE");
	const char *command, *kver;
	int r;

	umask(022); /* modes as given, whatever umask kernel-install was started with */
	if (argc < 3) {
		fprintf(stderr,
			"Usage: %s add KERNEL-VERSION ENTRY-DIR KERNEL-IMAGE [INITRD...]\n"
			"       %s remove KERNEL-VERSION ENTRY-DIR\n",
			argv[0], argv[0]);
		return 1;
	}
	command = argv[1];
	kver = argv[2];
	/* commands of later kernel-install versions are not ours to refuse */
	if (!streq(command, "add") && !streq(command, "remove"))
		return 0;

	r = dkm_ctx_new(NULL, &ctx);
	if (r < 0) {
		fprintf(stderr, "dkm-hook: error: cannot set up: %s\n", strerror(-r));
		return 1;
	}
	ctx->log_fn = dkm_log_to_stdio;
	ctx->output_fn = dkm_output_to_stdio;
	ctx->log_userdata = (void *)&log_plugin;
	if (ctx->log_level < DKM_LOG_DEBUG)
		ctx->log_level = verbose && atoi(verbose) > 0 ? DKM_LOG_INFO : DKM_LOG_WARNING;
	if (dkm_ctx_load_config(ctx) < 0) {
		fprintf(stderr,
			"dkm-hook: error: invalid configuration: not touching the modules of %s\n",
			kver);
		return 1;
	}
	o.no_depmod = dkm_hook_depmod_follows(ctx, command, kver, "/proc/self/exe");
	/* inside kernel-install: a lock wait says so (as a warning, shown at our log level) and
	 * ends after lock_timeout= rather than hang the installation */
	ctx->unattended = true;

	if (streq(command, "add")) {
		enum dkm_kernel_verdict verdict;

		/* non-zero stops kernel-install: the machine keeps booting the kernel it has */
		r = dkm_action_kernel_add(ctx, kver, &o, &verdict);
		return r == 0 && verdict == DKM_KERNEL_GOES_ON ? 0 : 1;
	}

	/* remove: the kernel is going away whatever happens here */
	r = dkm_action_kernel_remove(ctx, kver, &o);
	if (r != 0)
		fprintf(stderr,
			"dkm-hook: warning: could not clean up after %s (see above): run 'dkm-hook kernel-remove %s'\n",
			kver, kver);
	return 0;
}
