/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct dkm_ctx;
struct dkm_sandbox;

/* Resource limits of a child and of everything it starts, set with setrlimit(2) right before
 * exec, never above what the caller has. 0 = no limit. (cgroup v2 is not used: it would need a
 * delegated subtree with the pids and memory controllers for children of a process that also
 * lives in it; a debug line says that rlimits apply.) */
struct dkm_spawn_limits {
	unsigned max_procs;  /* RLIMIT_NPROC: processes and threads it may add to those its uid
			      * already has (RLIMIT_NPROC counts the uid's, and not for root) */
	uint64_t max_memory; /* RLIMIT_AS: the address space of each process, bytes */
	uint64_t max_file;   /* RLIMIT_FSIZE: the size of each file it writes, bytes */
	bool no_core;	     /* RLIMIT_CORE 0: a crash leaves no core file */
};

/* What a child's output says about the limits it ran into: the messages of shells, make,
 * the C library, coreutils and interpreters when a fork or an allocation fails, or a file
 * reaches RLIMIT_FSIZE. Fed in pieces of any size (a message may span two). */
enum {
	DKM_SPAWN_HIT_PROCS = 1 << 0,  /* a fork failed for want of processes (EAGAIN) */
	DKM_SPAWN_HIT_MEMORY = 1 << 1, /* an allocation failed */
	DKM_SPAWN_HIT_FSIZE = 1 << 2,  /* a write went past the file size limit */
};
struct dkm_spawn_scan {
	unsigned hits;	     /* DKM_SPAWN_HIT_* */
	const char *said[3]; /* for each hit (by bit number), the text that showed it */
	bool fork_failed;    /* a fork's own "Resource temporarily unavailable" (EAGAIN) */
	size_t carry_len;
	char carry[48]; /* the end of the last piece */
};
void dkm_spawn_scan_output(struct dkm_spawn_scan *sc, const char *buf, size_t n);

/* A log that dkm_spawn_run pumps a child's stdout and stderr into, through a pipe (the child
 * never gets the log's fd); written as the output comes, so it can be read during the run.
 * The steps of one build share one: of their output at most `max` bytes are kept (0 = all):
 * the first half as it comes; past that, each step's last part (a ring buffer of what is
 * left of `max`, at least 64 KiB, written when the step ends) after one line saying how
 * many bytes were left out and naming `setting`. */
struct dkm_spawn_log {
	int fd;
	uint64_t max;
	const char *setting;	    /* e.g. "build_log_max" */
	uint64_t written;	    /* of the output, kept so far (by every step) */
	bool mid_line;		    /* the last byte kept was not a newline */
	struct dkm_spawn_scan scan; /* of the last step's output */
};

/* A directory whose size (the blocks of everything in it, no symlink followed) must stay at
 * most `max` bytes while the child runs: measured every second (less often when measuring
 * takes long) and when it ends. Over it, or too big to measure (more entries or levels than
 * a build dir needs), the child's process group is killed and dkm_spawn_run returns -EFBIG. */
struct dkm_spawn_watch {
	const char *dir;
	uint64_t max;
	uint64_t size;	   /* out: the last measurement */
	bool unmeasurable; /* out: the walk gave up (too many entries or levels) */
};

/* How to run one child. Children never get a shell unless argv says so ("/bin/sh", "-c"). */
struct dkm_spawn {
	char *const *argv;   /* argv[0] is looked up in PATH of envp (or /usr/bin:/bin) */
	char *const *envp;   /* full environment; NULL = a scrubbed minimal one */
	const char *cwd;     /* NULL = inherit */
	int stdin_fd;	     /* -1 = /dev/null */
	int stdout_fd;	     /* -1 = /dev/null, -2 = inherit */
	int stderr_fd;	     /* -1 = /dev/null, -2 = inherit, -3 = same as stdout */
	const int *keep_fds; /* extra fds to keep open in the child (jobserver), -1 terminated */
	uid_t uid;	     /* drop to this uid/gid when run_as is true (we are root) */
	gid_t gid;
	bool run_as;
	unsigned timeout_sec; /* 0 = none; on expiry the process group gets SIGTERM, then SIGKILL */
	const struct dkm_sandbox *sandbox; /* enter before dropping privileges; NULL = none */
	char *const *reach; /* paths the child must read and search as its uid, checked before exec */
	bool cwd_before_drop; /* enter cwd as root (else as the uid: a clear error if it cannot) */
	struct dkm_spawn_limits limits;
	struct dkm_spawn_log *log;     /* dkm_spawn_run: stdout and stderr go here; NULL = none
					* (then stdout_fd/stderr_fd) */
	struct dkm_spawn_watch *watch; /* dkm_spawn_run: a directory kept under a size */
};

/* Start a child in its own process group. ret_pid is the child. */
int dkm_spawn_start(struct dkm_ctx *ctx, const struct dkm_spawn *s, pid_t *ret_pid);

/* Wait for pid. Returns 0 if the child exited 0; otherwise a positive code with the reason
 * in ret_status (as from waitpid) — callers format it with dkm_spawn_describe(). Negative errno
 * if waiting failed. Honours timeout_sec given to dkm_spawn_run (not _start). */
int dkm_spawn_wait(pid_t pid, int *ret_status);

/* start + wait, with timeout, log and watch. Returns 0 on exit 0, > 0 on failure (ret_status
 * explains), -ETIMEDOUT on timeout, -EFBIG when the watched directory went over its size,
 * -errno if it could not start. With a log and limits.max_procs, a fork that fails for want of
 * processes stops the child's process group at once (shells would retry for many seconds):
 * > 0 with log->scan.fork_failed. */
int dkm_spawn_run(struct dkm_ctx *ctx, const struct dkm_spawn *s, int *ret_status);

/* "exited with status 2", "killed by signal 9 (Killed)" */
const char *dkm_spawn_describe(int status, char *buf, size_t size);

/* "512 B", "64 KiB", "16 MiB", "70.3 MiB", "4 GiB" */
const char *dkm_format_size(uint64_t bytes, char *buf, size_t size);

/* Resolve a user name to uid/gid. */
int dkm_user_lookup(const char *name, uid_t *ret_uid, gid_t *ret_gid);
