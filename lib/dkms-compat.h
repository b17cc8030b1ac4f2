/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The `dkms` personality: DKMS 3.0.x's command line, status format, exit codes and
 * configuration files, mapped onto our actions (docs/dkms-compat.md). */

#include <stdbool.h>

struct dkm_ctx;

/* The DKMS version whose behaviour we reproduce (what `dkms --version` claims). */
#define DKM_DKMS_VERSION "3.0.10"

/* Exit codes of DKMS 3.0.10 (read from its source: `die <n>` per situation). */
enum {
	DKM_DKMS_EXIT_OK = 0,
	DKM_DKMS_EXIT_FAILURE = 1,	/* generic; also missing kernel headers (3.1 uses 21) */
	DKM_DKMS_EXIT_USAGE = 2,	/* unknown option; source dir missing at add */
	DKM_DKMS_EXIT_NOT_ADDED = 3,	/* module/version not in the tree; already added */
	DKM_DKMS_EXIT_PATCH = 5,	/* a PATCH is missing or its path leaves patches/ */
	DKM_DKMS_EXIT_INSTALL = 6,	/* installation failed / kernel dir missing */
	DKM_DKMS_EXIT_NO_MODULE = 7,	/* make succeeded, a BUILT_MODULE_NAME was not produced */
	DKM_DKMS_EXIT_BAD_CONF = 8,	/* invalid dkms.conf */
	DKM_DKMS_EXIT_BUILD = 10,	/* bad return status of the module build */
	DKM_DKMS_EXIT_AUTOINSTALL = 11, /* one or more modules failed during autoinstall */
	DKM_DKMS_EXIT_EXCLUDED = 77,	/* BUILD_EXCLUSIVE does not match (build/install only) */
};

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

/* `dkms status` lines, exactly as DKMS 3.0.x prints them, from our state tree. Filters may be
 * NULL; kernels/arches are parallel arrays (arch NULL = any). Returns the number of lines. */
int dkm_dkms_status_print(struct dkm_ctx *ctx, const char *module, const char *version,
			  char *const *kernels, char *const *arches);

/* `dkm-hook import`: adopt a DKMS tree (logical path, default /var/lib/dkms): every added
 * package is registered, every built module stored as our artefact, every installed one
 * recorded in a manifest (after checking that the installed file is the built one), without
 * building anything. Returns a DKM_EXIT_* code. */
int dkm_dkms_import(struct dkm_ctx *ctx, const char *dkms_tree);

/* The `dkms` command (argv[0] is "dkms"): parse DKMS's command line, act, return DKMS's exit
 * code. Everything under --root / DKM_HOOK_ROOT. */
int dkm_dkms_main(int argc, char **argv);
