/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

struct dkm_ctx;
struct dkm_pkg;
struct dkm_kernel;

/* Place a built package's modules into the kernel's module dir: each file staged next to its
 * target and renamed into place; a module of the same name shipped elsewhere in the tree
 * (found through modules.dep, wherever it lives) is archived with its exact path. Returns 1
 * if the module tree changed, 0 if it already was as built (never with fresh: a build of this
 * command, or --force, is placed again), -errno on failure (nothing half-placed: what was
 * placed is rolled back). depmod is the caller's job, once per kernel. */
int dkm_install_pkg(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k,
		    bool fresh);

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

/* Does the kernel's module tree still owe a depmod (a change not yet indexed)? */
bool dkm_depmod_pending(struct dkm_ctx *ctx, const char *kver);
