/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

struct dkm_ctx;
struct dkm_opts;

/* A kernel arrived (kernel-install add, /etc/kernel/postinst.d, header_postinst.d): build and
 * install every AUTOINSTALL package for it (dkm_action_rebuild, with o's no_initrd and
 * no_depmod), then let the fail policy (fail_policy=, docs/kernel-integration.md) judge the
 * packages that failed:
 *   auto    the kernel's installation fails only if a failed package belongs in its
 *           initramfs (it is needed to boot); every other failure is a warning naming the
 *           package and its log;
 *   never   failures are warnings;
 *   always  any failed package fails the installation.
 * Every outcome, a rebuild that could not run at all included, is judged: returns 0 with the
 * verdict in *ret_verdict (the kernel hooks turn it into their exit status). */
enum dkm_kernel_verdict {
	DKM_KERNEL_GOES_ON = 0, /* the kernel's installation goes on */
	DKM_KERNEL_STOP,	/* it must not: the machine keeps booting the kernel it has */
};
int dkm_action_kernel_add(struct dkm_ctx *ctx, const char *kver, const struct dkm_opts *o,
			  enum dkm_kernel_verdict *ret_verdict);

/* kernel-install: will systemd's 50-depmod.install run after our plugin for this command and
 * kernel, on the very module tree we change? True when a non-empty plugin of that name comes
 * after us in the list kernel-install runs ($KERNEL_INSTALL_PLUGINS, else /etc/kernel/install.d
 * and /usr/lib/kernel/install.d by the rules of the kernel-install on PATH: the shell script
 * of systemd up to 253 or the C program of 254 and later, which order and mask differently;
 * one not recognised must agree under both), its own conditions hold (/lib/modules writable,
 * depmod on PATH, for "add" /lib/modules/<kver>/kernel present), and /lib/modules/<kver> is the
 * same directory as our root's module dir for kver. self is the path of our own plugin (to find
 * our place in the list: a list without it is not the one running us, so nothing follows);
 * NULL = we are not in it. Every doubt answers false: a second depmod costs seconds, a missing
 * one leaves the new modules out of the index. */
bool dkm_hook_depmod_follows(struct dkm_ctx *ctx, const char *command, const char *kver,
			     const char *self);
