/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct dkm_ctx;
struct dkm_pkg;

/* Exit codes of the dkm-hook command (documented in --help and dkm-hook(8)). */
enum {
	DKM_EXIT_OK = 0,
	DKM_EXIT_FAILURE = 1,   /* something failed (message says what) */
	DKM_EXIT_USAGE = 2,     /* bad command line */
	DKM_EXIT_NOTFOUND = 3,  /* unknown package, missing source or kernel headers */
	DKM_EXIT_BUILD = 4,     /* a build failed (state 'failed', log kept) */
	DKM_EXIT_INVALID = 5,   /* invalid dkms.conf or configuration */
	DKM_EXIT_EXCLUDED = 6,  /* nothing built: excluded by BUILD_EXCLUSIVE_* */
};

struct dkm_opts {
	char **kernels;          /* -k, repeated */
	const char *arch;        /* -a */
	const char *kernel_source_dir;
	bool force;
	bool all;
	bool json;
	bool no_initrd;
	bool no_depmod;
	bool keep_source; /* remove: never delete the source add copied (the dkms command) */
};

/* The registered package "pkg/ver" or "pkg" (its only version) names, with an error that says
 * what to name instead: the versions there are, or the package when arg names a module. */
int dkm_resolve_pkg(struct dkm_ctx *ctx, const char *arg, struct dkm_pkg **ret);

/* A package script's output (fd from offset from) shows a write it was refused (read-only
 * file system, permission denied): one warning naming the script, the path and why it ran
 * sandboxed. */
void dkm_script_warn_denied(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const char *what,
			    const char *script, int fd, off_t from, const char *why);

int dkm_action_add(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o);
int dkm_action_build(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o);
int dkm_action_install(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o);
int dkm_action_uninstall(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o);
int dkm_action_unbuild(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o);
int dkm_action_remove(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o);
int dkm_action_status(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o);
int dkm_action_rebuild(struct dkm_ctx *ctx, const char *kver, const struct dkm_opts *o);
/* rebuild for several kernels at once: one job budget for all their builds, one depmod each */
int dkm_action_rebuild_kernels(struct dkm_ctx *ctx, char *const *kvers, const struct dkm_opts *o);
/* Compare state, manifests and module trees; report, and with repair fix what can be fixed. */
int dkm_action_fsck(struct dkm_ctx *ctx, const struct dkm_opts *o, bool repair);
/* The kernel is going away: uninstall everything for it and drop its state. */
int dkm_action_kernel_remove(struct dkm_ctx *ctx, const char *kver, const struct dkm_opts *o);
