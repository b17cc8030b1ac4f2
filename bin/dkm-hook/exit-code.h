/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dkm-hook's exit codes (documented in --help and dkm-hook(8)), and the one mapping from what
 * the engine returns to them. lib/ never sees an exit code: it returns 0/-errno and, for a
 * command over several targets, a struct dkm_result (lib/actions.h). */
#pragma once

#include <stdbool.h>

struct dkm_result;

enum {
	DKM_EXIT_OK = 0,
	DKM_EXIT_FAILURE = 1,  /* something failed (message says what) */
	DKM_EXIT_USAGE = 2,    /* bad command line */
	DKM_EXIT_NOTFOUND = 3, /* unknown package, missing source or kernel headers */
	DKM_EXIT_BUILD = 4,    /* a build failed (state 'failed', log kept) */
	DKM_EXIT_INVALID = 5,  /* invalid dkms.conf or configuration */
	DKM_EXIT_EXCLUDED = 6, /* nothing built: excluded by BUILD_EXCLUSIVE_* */
};

/* The exit code for an engine's -errno (0 -> 0): -EINVAL/-EBADMSG invalid input (5),
 * -ENOENT/-ESRCH something named is not there (3), anything else a failure (1). */
int exit_code_from_errno(int r);

/* The exit code of a command over several targets: the highest of its return value's, of every
 * target's -errno, 4 when a build failed and, with excluded_counts (build, install: a kernel
 * asked for by name), 6 when BUILD_EXCLUSIVE_* excluded one. */
int exit_code_from_result(int r, const struct dkm_result *res, bool excluded_counts);
