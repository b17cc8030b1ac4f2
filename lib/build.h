/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>

struct dkm_ctx;
struct dkm_pkg;
struct dkm_kernel;
struct dkm_conf;
struct dkm_sign_key;

/* What one command decided for a kernel: how its modules are finished. */
struct dkm_finish {
	const struct dkm_sign_key *key; /* NULL = do not sign */
	const char *sig_hash;		/* e.g. "sha256" */
	int compression;		/* enum dkm_compression */
	const int *jobserver; /* {read_fd, write_fd} of a shared make jobserver, or NULL */
	char cert_sha256[65]; /* of the signing certificate, for the build cache */
};

/* Read a registered package's dkms.conf for a kernel, with the variables DKMS would set. */
int dkm_pkg_read_conf(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k,
		      struct dkm_conf **ret);

/* The private build tree of (pkg, ver, kernel, arch): DKMS's $dkms_tree for this build, and
 * the build dir inside it (<tree>/<pkg>/<ver>/build). */
char *dkm_build_tree(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k);

/* Everything before a build may start: conf, exclusions, headers. Returns 1 if the package is
 * to be built (conf returned), 0 if excluded (state recorded, reason logged), -errno on error
 * (state 'failed' recorded where it makes sense). BUILD_DEPENDS naming a package in same_run
 * (packages built by the same command, ordered by the scheduler) are not checked here. */
int dkm_build_check(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k,
		    char *const *same_run, struct dkm_conf **ret_conf);

/* Run PATCH, PRE_BUILD, MAKE, POST_BUILD in a fresh private build dir, log from the first
 * line. Synchronous; safe to call in a forked worker. 0 on success, < 0 on failure (logged
 * with the log path and its last lines). */
int dkm_build_run(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k,
		  const struct dkm_conf *conf, const struct dkm_finish *fin);

/* After a successful run: strip, sign, compress every BUILT_MODULE into the state tree and
 * record state 'built'. Removes the build dir. */
int dkm_build_collect(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, struct dkm_kernel *k,
		      const struct dkm_conf *conf, const struct dkm_finish *fin);

/* dkm_build_run's error when make succeeded but a BUILT_MODULE_NAME was not produced (DKMS
 * tells this apart from a failed make: exit 7, not 10) */
#define DKM_BUILD_NO_MODULE (-ENOMSG)
#define DKM_BUILD_REASON_NO_MODULE "expected module not produced"

/* Are the modules stored for (pkg, kernel) the ones its state records (file, sha256)? Not
 * after a build killed between publishing new ones and recording them. */
bool dkm_build_intact(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k);

/* Record a failed build (log path, reason) without touching what was built or installed. */
int dkm_build_mark_failed(struct dkm_ctx *ctx, const struct dkm_pkg *pkg,
			  const struct dkm_kernel *k, const char *reason);

/* Where a module goes for this system: the dest_location setting, the distribution rule
 * (Debian/Ubuntu: /updates/dkms, as DKMS does there) or DEST_MODULE_LOCATION. */
char *dkm_dest_location(struct dkm_ctx *ctx, const char *conf_location);

/* Remove the compiler cache of package pkg (when its last version goes). */
int dkm_cc_cache_remove(struct dkm_ctx *ctx, const char *pkg);

/* The build cache key of (package, kernel, finishing): the source tree's content (dkms.conf
 * included), the kernel's fingerprint (.config, Module.symvers, compiler), the compression,
 * the signing hash and certificate, and our version. */
int dkm_build_fingerprint(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, struct dkm_kernel *k,
			  const struct dkm_finish *fin, char ret[static 65]);
