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
 * Returns an exit code: DKM_EXIT_OK (the installation goes on) or DKM_EXIT_FAILURE (it must
 * not: the machine keeps booting the kernel it has). */
int dkm_action_kernel_add(struct dkm_ctx *ctx, const char *kver, const struct dkm_opts *o);

/* kernel-install: will systemd's 50-depmod.install run after our plugin for this command and
 * kernel, on the very module tree we change? True when a plugin of that name comes after us
 * in the list kernel-install runs ($KERNEL_INSTALL_PLUGINS, else the install.d directories
 * with /etc overriding /usr/lib, non-executable entries masked), its own conditions hold
 * (/lib/modules writable, depmod on PATH, for "add" /lib/modules/<kver>/kernel present), and
 * /lib/modules/<kver> is the same directory as our root's module dir for kver. self is the
 * path of our own plugin (to find our place in the list); NULL = we are not in it. */
bool dkm_hook_depmod_follows(struct dkm_ctx *ctx, const char *command, const char *kver,
			     const char *self);
