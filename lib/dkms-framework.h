/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DKMS's configuration and tree, as the `dkms` personality (bin/dkms/) and the import need them
 * (docs/dkms-compat.md). */
#pragma once

#include <stdbool.h>

struct dkm_ctx;

/* What /etc/dkms/framework.conf (+ framework.conf.d/\*.conf) said, after mapping. */
struct dkm_dkms_framework {
	char *dkms_tree; /* logical, default /var/lib/dkms */
	bool autoinstall_all_kernels;
	bool verbose;
	bool no_autoinstall; /* /etc/dkms/no-autoinstall exists */
};

/* Read the framework configuration under the root WITHOUT executing it (shell-like
 * assignments only; anything else is a warning naming the line) and apply what maps to ctx:
 * source_tree, install_tree (module_dir), sign_file, mok_signing_key, mok_certificate,
 * parallel_jobs. Unsupported keys that change behaviour (symlink_modules,
 * modprobe_on_install) are warned about. */
int dkm_dkms_framework_load(struct dkm_ctx *ctx, struct dkm_dkms_framework *ret);
void dkm_dkms_framework_done(struct dkm_dkms_framework *fw);

/* The DKMS tree's view of a registration, kept so that scripts written for DKMS (Debian's
 * common.postinst tests `<dkms_tree>/<m>/<v>/source`) see what we did: a `source` symlink on
 * add, removed with the package. Returns 0/1 (nothing to do / done) or -errno. */
int dkm_dkms_tree_mark_added(struct dkm_ctx *ctx, const char *dkms_tree, const char *name,
			     const char *version, const char *source_logical);
bool dkm_dkms_tree_is_marked(struct dkm_ctx *ctx, const char *dkms_tree, const char *name,
			     const char *version);
/* The package is gone: drop <dkms_tree>/<m>/<v> (whatever DKMS had there: its modules were
 * uninstalled by us), kernel-* links into it, and <m> when empty. */
int dkm_dkms_tree_forget(struct dkm_ctx *ctx, const char *dkms_tree, const char *name,
			 const char *version);
/* One kernel was uninstalled (and, with unbuild, forgotten): keep an imported tree honest. */
void dkm_dkms_tree_forget_kernel(struct dkm_ctx *ctx, const char *dkms_tree, const char *name,
				 const char *version, const char *kver, const char *arch,
				 bool unbuild);
