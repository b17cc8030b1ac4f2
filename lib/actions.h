/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct dkm_ctx;
struct dkm_pkg;

/* The convention of the actions (and of lib/ as a whole): a function returns 0 or a negative
 * errno, never an exit code; what the command line makes of it is bin/'s to say. A command that
 * acts on several targets (a package for several kernels, every package for a kernel) also fills
 * a struct dkm_result: a build that ran and failed, or a kernel BUILD_EXCLUSIVE_* excludes, is
 * an outcome counted there, never an errno, so that it cannot be taken for a system error nor
 * the other way round. The return value is the first -errno (0 if none); every distinct -errno
 * a target met is in errors[] too. */
struct dkm_result {
	unsigned done;	   /* targets done (built, installed, uninstalled, or already so) */
	unsigned failed;   /* builds that ran and failed (state 'failed', log kept); for rebuild
			    * also a package that could not be built or whose PRE_INSTALL vetoed */
	unsigned excluded; /* not built: BUILD_EXCLUSIVE_* excludes the kernel */
	int errors[8];	   /* the distinct -errno of the targets that could not be handled */
	unsigned n_errors;
};

struct dkm_opts {
	char **kernels;	  /* -k, repeated */
	const char *arch; /* -a */
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
/* One package for the kernels of o (every kernel's outcome in *res, which may be NULL). */
int dkm_action_build(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o,
		     struct dkm_result *res);
int dkm_action_install(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o,
		       struct dkm_result *res);
int dkm_action_uninstall(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o,
			 struct dkm_result *res);
int dkm_action_unbuild(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o,
		       struct dkm_result *res);
int dkm_action_remove(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o);
/* Every AUTOINSTALL package for the kernel: res counts the packages built, failed, excluded. */
int dkm_action_rebuild(struct dkm_ctx *ctx, const char *kver, const struct dkm_opts *o,
		       struct dkm_result *res);
/* rebuild for several kernels at once: one job budget for all their builds, one depmod each */
int dkm_action_rebuild_kernels(struct dkm_ctx *ctx, char *const *kvers, const struct dkm_opts *o,
			       struct dkm_result *res);
/* The kernel is going away: uninstall everything for it and drop its state. */
int dkm_action_kernel_remove(struct dkm_ctx *ctx, const char *kver, const struct dkm_opts *o);
