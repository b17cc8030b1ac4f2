/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

struct dkm_ctx;
struct dkm_opts;

/* What one line of fsck's report is. */
enum dkm_fsck_item {
	DKM_FSCK_PROBLEM,  /* a problem, left as it is */
	DKM_FSCK_REPAIRED, /* a problem that was repaired (or a depmod the repairs owed, run) */
	DKM_FSCK_HINT,	   /* how to repair the problem reported just before */
	DKM_FSCK_NOTE, /* not a problem: another command holds the lock, what follows may move */
};

/* Receives the report, line by line, in order (text: one line, no newline). */
typedef void (*dkm_fsck_report_fn)(void *userdata, enum dkm_fsck_item item, const char *text);

struct dkm_fsck_result {
	unsigned problems; /* found */
	unsigned repaired; /* ... of them repaired */
};

/* Compare the state tree, the manifests and the module trees; report each problem through
 * report (may be NULL), and with repair fix what can be fixed. Returns 0 with the counts in
 * *ret, or -errno when the check could not run (the lock, with repair). */
int dkm_action_fsck(struct dkm_ctx *ctx, const struct dkm_opts *o, bool repair,
		    dkm_fsck_report_fn report, void *userdata, struct dkm_fsck_result *ret);
