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
	DKM_JOB_DONE,	 /* built (and installed if asked) */
	DKM_JOB_FAILED,	 /* build or install failed: state recorded, others go on */
	DKM_JOB_SKIPPED, /* a BUILD_DEPENDS dependency failed */
};

/* One (package, kernel) build of a command. */
struct dkm_job {
	const struct dkm_pkg *pkg;
	struct dkm_kernel *k;
	const struct dkm_conf *conf; /* from dkm_build_check */
	const struct dkm_finish *fin;
	bool install; /* install right after the build (dependants wait for it) */
	enum dkm_job_result result;
	bool tree_changed; /* install changed the module tree */
	/* private */
	int pid, pidfd;
	bool has_token;
	unsigned long long started;
};

/* The job budget of a run (ctx->jobs): the implicit slot of this process plus jobs-1 tokens in
 * the GNU make jobserver pipe every build's make shares. A build starts only on a slot taken
 * here, and gives it back when it ends, so never more than `jobs` builds run at once. */
struct dkm_job_slots {
	int fds[2];	/* the pipe the makes share (inherited by builds) */
	int my_read;	/* our own non-blocking open file description of the read end */
	bool slot_free; /* our implicit slot */
};
int dkm_job_slots_open(struct dkm_job_slots *s, unsigned jobs);
/* A slot for one build: true, *ret_token saying whether it is a token from the pipe (else
 * the implicit slot); false if none is free now (poll my_read for one). */
bool dkm_job_slots_take(struct dkm_job_slots *s, bool *ret_token);
/* A build ended (or never started): its slot goes back where it came from. */
void dkm_job_slots_give(struct dkm_job_slots *s, bool token);
void dkm_job_slots_close(struct dkm_job_slots *s);

/* Run every job: builds concurrently under one job budget (ctx->jobs) shared with every make
 * through a GNU make jobserver; a job whose BUILD_DEPENDS names another job's package for the
 * same kernel starts when that one is installed; a dependency cycle is reported up front.
 * Each build's worker also collects its modules (strip/sign/compress into the state tree), so
 * that work runs in parallel and on the build's job slot; installing happens in this process,
 * one job at a time. Returns the number of failed jobs, or -errno if the run could not happen
 * at all. */
int dkm_sched_run(struct dkm_ctx *ctx, struct dkm_job *jobs, size_t n);
