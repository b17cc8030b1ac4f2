/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct dkm_ctx;
struct dkm_sandbox;

/* How to run one child. Children never get a shell unless argv says so ("/bin/sh", "-c"). */
struct dkm_spawn {
	char *const *argv;   /* argv[0] is looked up in PATH of envp (or /usr/bin:/bin) */
	char *const *envp;   /* full environment; NULL = a scrubbed minimal one */
	const char *cwd;     /* NULL = inherit */
	int stdin_fd;        /* -1 = /dev/null */
	int stdout_fd;       /* -1 = /dev/null, -2 = inherit */
	int stderr_fd;       /* -1 = /dev/null, -2 = inherit, -3 = same as stdout */
	const int *keep_fds; /* extra fds to keep open in the child (jobserver), -1 terminated */
	uid_t uid;           /* drop to this uid/gid when run_as is true (we are root) */
	gid_t gid;
	bool run_as;
	unsigned timeout_sec; /* 0 = none; on expiry the process group gets SIGTERM, then SIGKILL */
	const struct dkm_sandbox *sandbox; /* enter before dropping privileges; NULL = none */
	char *const *reach; /* paths the child must read and search as its uid, checked before exec */
	bool cwd_before_drop; /* enter cwd as root (else as the uid: a clear error if it cannot) */
};

/* Start a child in its own process group. ret_pid is the child. */
int dkm_spawn_start(struct dkm_ctx *ctx, const struct dkm_spawn *s, pid_t *ret_pid);

/* Wait for pid. Returns 0 if the child exited 0; otherwise a positive code with the reason
 * in ret_status (as from waitpid) — callers format it with dkm_spawn_describe(). Negative errno
 * if waiting failed. Honours timeout_sec given to dkm_spawn_run (not _start). */
int dkm_spawn_wait(pid_t pid, int *ret_status);

/* start + wait, with timeout. Returns 0 on exit 0, > 0 on failure (ret_status explains),
 * -ETIMEDOUT on timeout, -errno if it could not start. */
int dkm_spawn_run(struct dkm_ctx *ctx, const struct dkm_spawn *s, int *ret_status);

/* "exited with status 2", "killed by signal 9 (Killed)" */
const char *dkm_spawn_describe(int status, char *buf, size_t size);

/* Resolve a user name to uid/gid. */
int dkm_user_lookup(const char *name, uid_t *ret_uid, gid_t *ret_gid);
