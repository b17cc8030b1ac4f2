/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The `dkms` personality: DKMS 3.0.x's command line, status format and exit codes, mapped onto
 * the engine's actions (docs/dkms-compat.md). dkms.c: the command line; status.c: the lines of
 * `dkms status`. Linked into the dkm-hook binary, which runs it under the name `dkms`. */
#pragma once

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

/* `dkms status` lines, exactly as DKMS 3.0.x prints them, from our state tree. Filters may be
 * NULL; kernels/arches are parallel arrays (arch NULL = any). Returns the number of lines. */
int dkm_dkms_status_print(struct dkm_ctx *ctx, const char *module, const char *version,
			  char *const *kernels, char *const *arches);

/* The `dkms` command (argv[0] is "dkms"): parse DKMS's command line, act, return DKMS's exit
 * code. Everything under --root / DKM_HOOK_ROOT. */
int dkm_dkms_main(int argc, char **argv);
