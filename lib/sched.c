/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "conf.h"
#include "ctx.h"
#include "install.h"
#include "kernel.h"
#include "registry.h"
#include "sched.h"
#include "util.h"

int dkm_job_slots_open(struct dkm_job_slots *js, unsigned jobs)
{
	char path[64];

	js->fds[0] = js->fds[1] = js->my_read = -1;
	js->slot_free = true;
	if (pipe(js->fds) < 0)
		return -errno;
	/* the pipe must hold jobs-1 tokens: each build's first make runs on the slot we
	 * took for it (the first one on our own implicit slot) */
	for (unsigned i = 1; i < jobs; i++)
		if (write(js->fds[1], "+", 1) != 1)
			return -errno;
	/* a separate open file description, so O_NONBLOCK is ours alone, not the makes' */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", js->fds[0]);
	js->my_read = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (js->my_read < 0)
		return -errno;
	fcntl(js->fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(js->fds[1], F_SETFD, FD_CLOEXEC);
	return 0;
}

void dkm_job_slots_close(struct dkm_job_slots *js)
{
	int *fds[] = { &js->fds[0], &js->fds[1], &js->my_read };

	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	js->fds[0] = js->fds[1] = js->my_read = -1;
}

bool dkm_job_slots_take(struct dkm_job_slots *js, bool *ret_token)
{
	char c;

	if (js->slot_free) {
		js->slot_free = false;
		*ret_token = false;
		return true;
	}
	if (read(js->my_read, &c, 1) == 1) {
		*ret_token = true;
		return true;
	}
	return false;
}

void dkm_job_slots_give(struct dkm_job_slots *js, bool token)
{
	if (token)
		(void)!write(js->fds[1], "+", 1);
	else
		js->slot_free = true;
}

static void release_slot(struct dkm_job_slots *js, struct dkm_job *j)
{
	dkm_job_slots_give(js, j->has_token);
	j->has_token = false;
}

/* index of the job that builds `pkgname` for the same kernel, or -1 */
static ssize_t find_job(struct dkm_job *jobs, size_t n, const char *pkgname,
			const struct dkm_kernel *k)
{
	for (size_t i = 0; i < n; i++)
		if (jobs[i].k == k && streq(jobs[i].pkg->name, pkgname))
			return (ssize_t)i;
	return -1;
}

/* 1 if every dependency is done, 0 if some are still pending, -1 if one failed */
static int deps_state(struct dkm_job *jobs, size_t n, size_t i)
{
	const struct dkm_conf *c = jobs[i].conf;
	int st = 1;

	for (size_t d = 0; c->build_depends && c->build_depends[d]; d++) {
		ssize_t j = find_job(jobs, n, c->build_depends[d], jobs[i].k);

		if (j < 0)
			continue;
		if (jobs[j].result == DKM_JOB_FAILED || jobs[j].result == DKM_JOB_SKIPPED)
			return -1;
		if (jobs[j].result != DKM_JOB_DONE)
			st = 0;
	}
	return st;
}

static int check_cycles(struct dkm_ctx *ctx, struct dkm_job *jobs, size_t n)
{
	/* Kahn's algorithm on the dependency graph of this run */
	_cleanup_free_ unsigned *indeg = xcalloc(n, sizeof(unsigned));
	_cleanup_free_ size_t *queue = xcalloc(n, sizeof(size_t));
	size_t head = 0, tail = 0, seen = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t d = 0; jobs[i].conf->build_depends && jobs[i].conf->build_depends[d];
		     d++)
			if (find_job(jobs, n, jobs[i].conf->build_depends[d], jobs[i].k) >= 0)
				indeg[i]++;
	for (size_t i = 0; i < n; i++)
		if (indeg[i] == 0)
			queue[tail++] = i;
	while (head < tail) {
		size_t j = queue[head++];

		seen++;
		for (size_t i = 0; i < n; i++)
			for (size_t d = 0;
			     jobs[i].conf->build_depends && jobs[i].conf->build_depends[d]; d++)
				if (find_job(jobs, n, jobs[i].conf->build_depends[d], jobs[i].k) ==
					    (ssize_t)j &&
				    --indeg[i] == 0)
					queue[tail++] = i;
	}
	if (seen == n)
		return 0;
	{
		_cleanup_free_ char *list = NULL;

		for (size_t i = 0; i < n; i++)
			if (indeg[i] > 0) {
				char *nl = xasprintf("%s%s%s", strempty(list), list ? ", " : "",
						     jobs[i].pkg->name);
				free(list);
				list = nl;
			}
		return dkm_err(ctx, -ELOOP,
			       "BUILD_DEPENDS form a cycle between: %s: fix their dkms.conf files",
			       list);
	}
}

/* how a worker ends */
enum {
	WORKER_OK = 0,
	WORKER_BUILD_FAILED = 1,
	WORKER_COLLECT_FAILED = 2,
	WORKER_NO_MODULE = 3, /* make succeeded, a BUILT_MODULE_NAME is missing */
};

static void finish_job(struct dkm_ctx *ctx, struct dkm_job *j, int worker)
{
	int r;

	if (worker != WORKER_OK) {
		dkm_build_mark_failed(ctx, j->pkg, j->k,
				      worker == WORKER_COLLECT_FAILED
					      ? "module could not be finished"
				      : worker == WORKER_NO_MODULE ? DKM_BUILD_REASON_NO_MODULE
								   : "build failed");
		j->result = DKM_JOB_FAILED;
		return;
	}
	dkm_notice(ctx, "%s/%s: built for %s", j->pkg->name, j->pkg->version, j->k->kver);
	if (j->install) {
		r = dkm_install_pkg(ctx, j->pkg, j->k, true);
		if (r < 0) {
			j->result = DKM_JOB_FAILED;
			return;
		}
		j->tree_changed = r > 0;
	}
	j->result = DKM_JOB_DONE;
}

static int start_job(struct dkm_ctx *ctx, struct dkm_job *j, struct dkm_job_slots *js)
{
	pid_t pid;
	int pfd;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* a worker: runs the build steps, then strips, signs and compresses the modules
		 * (in parallel with the other builds, on this job's slot); reports by exit
		 * status */
		struct dkm_finish fin = *j->fin;
		int r, code = WORKER_OK;

		fin.jobserver = js->fds;
		r = dkm_build_run(ctx, j->pkg, j->k, j->conf, &fin);
		if (r == DKM_BUILD_NO_MODULE)
			code = WORKER_NO_MODULE;
		else if (r < 0)
			code = WORKER_BUILD_FAILED;
		else if (dkm_build_collect(ctx, j->pkg, j->k, j->conf, j->fin) < 0)
			code = WORKER_COLLECT_FAILED;
		fflush(stdout);
		fflush(stderr);
		_exit(code);
	}
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0) {
		int r = -errno;

		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return r;
	}
	j->pid = pid;
	j->pidfd = pfd;
	j->started = now_usec();
	dkm_notice(ctx, "%s/%s: building for %s", j->pkg->name, j->pkg->version, j->k->kver);
	return 0;
}

static void progress(struct dkm_ctx *ctx, struct dkm_job *jobs, size_t n, unsigned long long t0)
{
	size_t done = 0, running = 0;
	char line[512];
	int off;

	if (!ctx->output_fn || ctx->log_level < DKM_LOG_NOTICE)
		return;
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].result != DKM_JOB_PENDING)
			done++;
		else if (jobs[i].pid > 0)
			running++;
	}
	off = snprintf(line, sizeof(line), "\r\033[K[%zu/%zu] %llus, running:", done, n,
		       (now_usec() - t0) / 1000000ULL);
	for (size_t i = 0; i < n && off < (int)sizeof(line) - 64; i++)
		if (jobs[i].result == DKM_JOB_PENDING && jobs[i].pid > 0)
			off += snprintf(line + off, sizeof(line) - (size_t)off, " %s",
					jobs[i].pkg->name);
	if (running == 0)
		off += snprintf(line + off, sizeof(line) - (size_t)off, " -");
	ctx->output_fn(ctx->log_userdata, DKM_OUTPUT_PROGRESS, line, (size_t)off);
}

static void progress_clear(struct dkm_ctx *ctx)
{
	if (ctx->output_fn && ctx->log_level >= DKM_LOG_NOTICE)
		ctx->output_fn(ctx->log_userdata, DKM_OUTPUT_PROGRESS, "\r\033[K", 4);
}

int dkm_sched_run(struct dkm_ctx *ctx, struct dkm_job *jobs, size_t n)
{
	struct dkm_job_slots js;
	_cleanup_free_ struct pollfd *pfds = NULL;
	unsigned long long t0 = now_usec();
	size_t running = 0, failed = 0;
	int r;

	if (n == 0)
		return 0;
	r = check_cycles(ctx, jobs, n);
	if (r < 0)
		return r;
	r = dkm_job_slots_open(&js, ctx->jobs);
	if (r < 0) {
		dkm_job_slots_close(&js);
		return dkm_err(ctx, r, "cannot create the make jobserver: %s", strerror(-r));
	}
	for (size_t i = 0; i < n; i++) {
		/* computed once here, inherited by the workers (the fingerprint of each build) */
		(void)dkm_kernel_fingerprint(jobs[i].k);
		jobs[i].result = DKM_JOB_PENDING;
		jobs[i].pid = 0;
		jobs[i].pidfd = -1;
	}
	pfds = xcalloc(n + 1, sizeof(struct pollfd));

	for (;;) {
		bool want_token = false;
		size_t np = 0, pending = 0;

		/* start what can start */
		for (size_t i = 0; i < n; i++) {
			struct dkm_job *j = &jobs[i];
			int ds;

			if (j->result != DKM_JOB_PENDING || j->pid > 0)
				continue;
			ds = deps_state(jobs, n, i);
			if (ds < 0) {
				dkm_warn(ctx,
					 "%s/%s: not built for %s: a BUILD_DEPENDS package failed",
					 j->pkg->name, j->pkg->version, j->k->kver);
				dkm_build_mark_failed(ctx, j->pkg, j->k, "BUILD_DEPENDS failed");
				j->result = DKM_JOB_SKIPPED;
				continue;
			}
			if (ds == 0) {
				pending++;
				continue;
			}
			/* a build's top-level make runs on a slot we hold for it: our own
			 * implicit one if free, else a token from the pipe */
			if (!dkm_job_slots_take(&js, &j->has_token)) {
				want_token = true;
				pending++;
				continue;
			}
			r = start_job(ctx, j, &js);
			if (r < 0) {
				dkm_err(ctx, r, "cannot start build of %s/%s: %s", j->pkg->name,
					j->pkg->version, strerror(-r));
				release_slot(&js, j);
				finish_job(ctx, j, WORKER_BUILD_FAILED);
				continue;
			}
			running++;
		}
		if (running == 0 && pending == 0)
			break;
		if (running == 0) {
			/* pending jobs whose dependencies can never finish: cannot happen after
			 * the cycle check, but never spin */
			break;
		}
		for (size_t i = 0; i < n; i++)
			if (jobs[i].pid > 0) {
				pfds[np].fd = jobs[i].pidfd;
				pfds[np].events = POLLIN;
				pfds[np].revents = 0;
				np++;
			}
		if (want_token) {
			pfds[np].fd = js.my_read;
			pfds[np].events = POLLIN;
			pfds[np].revents = 0;
			np++;
		}
		progress(ctx, jobs, n, t0);
		if (poll(pfds, np, 1000) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			struct dkm_job *j = &jobs[i];
			int status;

			if (j->pid <= 0)
				continue;
			if (waitpid(j->pid, &status, WNOHANG) != j->pid)
				continue;
			close(j->pidfd);
			j->pid = 0;
			j->pidfd = -1;
			running--;
			release_slot(&js, j);
			progress_clear(ctx);
			finish_job(ctx, j,
				   !WIFEXITED(status) ? WORKER_BUILD_FAILED : WEXITSTATUS(status));
			if (j->result != DKM_JOB_DONE)
				failed++;
		}
	}
	progress_clear(ctx);
	for (size_t i = 0; i < n; i++)
		if (jobs[i].result == DKM_JOB_SKIPPED)
			failed++;
	dkm_job_slots_close(&js);
	if (r < 0)
		return r;
	return (int)failed;
}
