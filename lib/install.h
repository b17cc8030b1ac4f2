/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

struct dkm_ctx;
struct dkm_pkg;
struct dkm_kernel;
struct dkm_kv;

/* Place a built package's modules into the kernel's module dir: each file staged next to its
 * target and renamed into place; a module of the same name shipped elsewhere in the tree
 * (found through modules.dep, wherever it lives) is archived with its exact path. Returns 1
 * if the module tree changed, 0 if it already was as built (never with fresh: a build of this
 * command, or --force, is placed again), -errno on failure (nothing half-placed: what was
 * placed is rolled back). depmod is the caller's job, once per kernel. */
int dkm_install_pkg(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k,
		    bool fresh);

/* Is the directory <moddir><location> reached from the module dir through real directories
 * only (what does not exist yet is created as such)? A symlink on the way (the kernel's build/
 * and source/ links into its headers, or any other) would take the install out of the tree:
 * -ELOOP (or -ENOTDIR), logged with the path. */
int dkm_install_check_location(struct dkm_ctx *ctx, const char *name, const char *version,
			       const struct dkm_kernel *k, const char *location);

/* Remove what install placed (only files that are still ours, by sha256) and restore
 * displaced originals to their exact paths. Returns 1 if the tree changed, 0 if nothing was
 * installed. */
int dkm_uninstall_pkg(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k);

/* Run depmod for the kernel (with -b and the root's own config dirs when a root is set) and
 * check that it really wrote modules.dep and that every module we installed resolves to our
 * file. */
int dkm_depmod(struct dkm_ctx *ctx, const struct dkm_kernel *k);

/* Finish or roll back a transaction on the kernel's module tree that a previous command did
 * not complete (journal in <state>/kernels/<kver>/journal): a staged install is rolled back,
 * a committing install or an uninstall is finished; then the depmod it owed (run_depmod).
 * Returns 1 if something was done, 0 if there was nothing, -errno on failure. Call with the
 * lock held. */
int dkm_install_recover(struct dkm_ctx *ctx, const char *kver, bool run_depmod);

/* What recovery does with a kernel's journal (docs/reliability.md), from what it records. */
enum dkm_recovery {
	DKM_RECOVERY_ROLL_BACK,	       /* op=install, phase=stage: the staged files go */
	DKM_RECOVERY_FINISH_INSTALL,   /* op=install past staging: the commit is done again */
	DKM_RECOVERY_FINISH_UNINSTALL, /* op=uninstall: the removal is done again */
	DKM_RECOVERY_CORRUPT,	       /* another op, or an uninstall naming no package */
};
enum dkm_recovery dkm_install_recovery_decide(const struct dkm_kv *journal);

/* Does the kernel's module tree still owe a depmod (a change not yet indexed)? */
bool dkm_depmod_pending(struct dkm_ctx *ctx, const char *kver);

/* Is the manifest at path what install writes (a modules= line, and for each module a path
 * under <module_dir>/<kver>/ and a sha256)? 0 if so, -ENOENT if there is none, -EBADMSG when
 * damaged (*ret_why, if given, says how), or the error reading it. Reads only. */
int dkm_manifest_validate(struct dkm_ctx *ctx, const char *kver, const char *path, char **ret_why);

/* fsck --repair of a damaged manifest: write it again from the build's state, only when the
 * state says installed and every module file is at its place with the build's sha256 (nothing
 * that is not provably ours is claimed). 1 if written, 0 if not (*ret_why says why), -errno. */
int dkm_manifest_rebuild(struct dkm_ctx *ctx, const char *name, const char *version,
			 const char *kver, const char *arch, char **ret_why);
