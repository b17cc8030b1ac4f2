/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct dkm_ctx;
struct dkm_pkg;
struct dkm_kernel;
struct dkm_conf;
struct dkm_finish;

enum dkm_job_result {
	DKM_JOB_PENDING,
	DKM_JOB_DONE,      /* built (and installed if asked) */
	DKM_JOB_FAILED,    /* build or install failed: state recorded, others go on */
	DKM_JOB_SKIPPED,   /* a BUILD_DEPENDS dependency failed */
};

/* One (package, kernel) build of a command. */
struct dkm_job {
	const struct dkm_pkg *pkg;
	struct dkm_kernel *k;
	const struct dkm_conf *conf; /* from dkm_build_check */
	const struct dkm_finish *fin;
	bool install;                /* install right after the build (dependants wait for it) */
	enum dkm_job_result result;
	bool tree_changed;           /* install changed the module tree */
	/* private */
	int pid, pidfd;
	bool has_token;
	unsigned long long started;
};

/* Run every job: builds concurrently under one job budget (ctx->jobs) shared with every make
 * through a GNU make jobserver; a job whose BUILD_DEPENDS names another job's package for the
 * same kernel starts when that one is installed; a dependency cycle is reported up front.
 * Each build's worker also collects its modules (strip/sign/compress into the state tree), so
 * that work runs in parallel and on the build's job slot; installing happens in this process,
 * one job at a time. Returns the number of failed jobs, or -errno if the run could not happen
 * at all. */
int dkm_sched_run(struct dkm_ctx *ctx, struct dkm_job *jobs, size_t n);
