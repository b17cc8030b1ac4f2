/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctx.h"
#include "sandbox.h"
#include "spawn.h"
#include "util.h"

static const char *const default_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LC_ALL=C",
	NULL,
};

static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; envp && envp[i]; i++)
		if (strneq(envp[i], name, n) && envp[i][n] == '=')
			return envp[i] + n + 1;
	return NULL;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every fd >= 3 except those in keep (which is sorted). */
static void close_all_but(int *keep, size_t n)
{
	unsigned lo = 3;

	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 3)
			continue;
		if ((unsigned)keep[i] > lo)
			syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
		lo = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);
}

/* In the child, right before exec (async-signal-safe): soft and hard limit to v, or to the
 * hard limit the caller already has if that is lower. */
static int limit_one(int resource, rlim_t v)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) < 0)
		return -1;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < v)
		v = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = v;
	return setrlimit(resource, &rl);
}

static int apply_limits(const struct dkm_spawn_limits *l, rlim_t nproc)
{
	if (nproc && limit_one(RLIMIT_NPROC, nproc) < 0)
		return -1;
	if (l->max_memory && limit_one(RLIMIT_AS, (rlim_t)l->max_memory) < 0)
		return -1;
	if (l->max_file && limit_one(RLIMIT_FSIZE, (rlim_t)l->max_file) < 0)
		return -1;
	if (l->no_core && limit_one(RLIMIT_CORE, 0) < 0)
		return -1;
	return 0;
}

/* The tasks (processes and threads) uid has now, as far as /proc shows them: RLIMIT_NPROC
 * counts those too, so a limit of "n more" is theirs plus n. */
static unsigned long uid_tasks(uid_t uid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	unsigned long n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char task[sizeof(de->d_name) + 16];
		struct stat st;
		DIR *t;

		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    fstatat(dirfd(d), de->d_name, &st, 0) < 0 || st.st_uid != uid)
			continue;
		snprintf(task, sizeof(task), "/proc/%s/task", de->d_name);
		t = opendir(task);
		if (!t) {
			n++;
			continue;
		}
		for (struct dirent *e; (e = readdir(t));)
			n += e->d_name[0] != '.';
		closedir(t);
	}
	closedir(d);
	return n;
}

static void exec_in_path(char *const *argv, char *const *envp)
{
	const char *path = env_get(envp, "PATH");
	char buf[4096];

	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, envp);
		return;
	}
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n > 0 && n + strlen(argv[0]) + 2 < sizeof(buf)) {
			memcpy(buf, path, n);
			buf[n] = '/';
			strcpy(buf + n + 1, argv[0]);
			execve(buf, argv, envp);
		}
		path += n;
		if (*path == ':')
			path++;
	}
	errno = ENOENT;
}

static int move_fd(int from, int to)
{
	if (from == to)
		return fcntl(to, F_SETFD, 0);
	return dup2(from, to);
}

/* What a child that could not start sends back through the error pipe. */
struct child_error {
	int err;
	int step; /* enum dkm_sandbox_step; DKM_SANDBOX_STEP_NONE: exec (or an fd) failed */
	int index;
};

static _noreturn_ void child_fail(int fd, int err, int step, int index)
{
	struct child_error ce = { .err = err ? err : EIO, .step = step, .index = index };

	(void)!write(fd, &ce, sizeof(ce));
	_exit(127);
}

/* After dkm_sandbox_enter() the next child is the init of a new PID namespace: when it exits,
 * the kernel kills everything else in there, also what left the process group with setsid().
 * This process stays behind as the one the caller waits for and signals, and passes the
 * status on. Returns 0 in the child (which goes on to exec), never in the waiter. */
static int sandbox_fork(int errpipe_w)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0)
		return 0;
	close(errpipe_w); /* the child reports a failed exec itself */
	/* a signal to the process group reaches the child too (an init only dies of SIGKILL
	 * from outside: the time limit sends that after SIGTERM); the waiter waits */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(127);
	if (WIFSIGNALED(status)) {
		struct rlimit no_core = { 0, 0 };

		(void)setrlimit(RLIMIT_CORE, &no_core);
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
}

static int report_child_error(struct dkm_ctx *ctx, const struct dkm_spawn *s,
			      const struct child_error *ce)
{
	struct dkm_sandbox_error se = { .err = ce->err, .step = ce->step, .index = ce->index };
	_cleanup_free_ char *what = NULL;

	switch (ce->step) {
	case DKM_SANDBOX_STEP_NONE:
		return dkm_err(ctx, -ce->err, "cannot run '%s': %s", s->argv[0], strerror(ce->err));
	case DKM_SANDBOX_STEP_CWD:
		return dkm_err(
			ctx, -ce->err,
			"cannot run '%s': uid %u cannot enter '%s': %s: every directory above it must be searchable by that uid (or let the build sandbox bind it: sandbox=auto)",
			s->argv[0], (unsigned)(s->run_as ? s->uid : geteuid()), s->cwd,
			strerror(ce->err));
	case DKM_SANDBOX_STEP_REACH:
		return dkm_err(
			ctx, -ce->err,
			"cannot run '%s': uid %u cannot read '%s': %s: it and every directory above it must be readable and searchable by that uid (or let the build sandbox bind it: sandbox=auto)",
			s->argv[0], (unsigned)(s->run_as ? s->uid : geteuid()), s->reach[ce->index],
			strerror(ce->err));
	default:
		what = dkm_sandbox_describe(s->sandbox, &se, (const char *const *)s->reach);
		return dkm_err(ctx, -ce->err, "cannot run '%s': the build sandbox could not %s: %s",
			       s->argv[0], what, strerror(ce->err));
	}
}

int dkm_spawn_start(struct dkm_ctx *ctx, const struct dkm_spawn *s, pid_t *ret_pid)
{
	int keep[64];
	size_t nkeep = 0;
	int errpipe[2];
	pid_t pid;
	struct child_error ce = { 0 };
	ssize_t k;
	const char *caller_path = getenv("PATH");
	const char *dflt_env[] = { default_env[0], default_env[1], NULL };
	char path_var[4096];
	rlim_t nproc = 0;

	for (size_t i = 0; s->keep_fds && s->keep_fds[i] >= 0 && nkeep < ELEMENTSOF(keep); i++)
		keep[nkeep++] = s->keep_fds[i];
	qsort(keep, nkeep, sizeof(int), cmp_int);

	/* without an explicit environment a child gets LC_ALL=C and the caller's PATH: depmod,
	 * strip and dracut are found where the caller (root, a hook) finds them, and a stub
	 * first on PATH reaches them in tests */
	if (!isempty(caller_path) && strlen(caller_path) < sizeof(path_var) - 5) {
		snprintf(path_var, sizeof(path_var), "PATH=%s", caller_path);
		dflt_env[0] = path_var;
	}
	if (s->limits.max_procs || s->limits.max_memory || s->limits.max_file) {
		uid_t uid = s->run_as ? s->uid : geteuid();
		char procs[96] = "no limit", mem[32] = "no limit", file[32] = "no limit";

		if (s->limits.max_procs && uid == 0) {
			snprintf(procs, sizeof(procs), "no limit (root)");
		} else if (s->limits.max_procs) {
			unsigned long has = uid_tasks(uid);

			nproc = (rlim_t)(has + s->limits.max_procs);
			snprintf(procs, sizeof(procs), "%u more than the %lu uid %u has",
				 s->limits.max_procs, has, (unsigned)uid);
		}
		if (s->limits.max_memory)
			dkm_format_size(s->limits.max_memory, mem, sizeof(mem));
		if (s->limits.max_file)
			dkm_format_size(s->limits.max_file, file, sizeof(file));
		dkm_debug(ctx,
			  "'%s' runs under rlimits (no cgroup): processes: %s; address space per process: %s; file size: %s",
			  s->argv[0], procs, mem, file);
	}
	if (pipe2(errpipe, O_CLOEXEC) < 0)
		return -errno;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(errpipe[0]);
		close(errpipe[1]);
		return r;
	}
	if (pid == 0) {
		char *const *envp = s->envp ? s->envp : (char *const *)dflt_env;
		int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		int in = s->stdin_fd >= 0 ? s->stdin_fd : null_fd;
		int out = s->stdout_fd >= 0 ? s->stdout_fd : s->stdout_fd == -2 ? 1 : null_fd;
		int err = s->stderr_fd >= 0    ? s->stderr_fd
			  : s->stderr_fd == -2 ? 2
			  : s->stderr_fd == -3 ? out
					       : null_fd;

		setpgid(0, 0);
		/* default signal dispositions and mask for the child */
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);

		/* move the three into place without clobbering each other */
		int fin = fcntl(in, F_DUPFD_CLOEXEC, 10);
		int fout = fcntl(out, F_DUPFD_CLOEXEC, 10);
		int ferr = fcntl(err, F_DUPFD_CLOEXEC, 10);
		if (fin < 0 || fout < 0 || ferr < 0 || move_fd(fin, 0) < 0 ||
		    move_fd(fout, 1) < 0 || move_fd(ferr, 2) < 0)
			goto fail;
		for (size_t i = 0; i < nkeep; i++)
			fcntl(keep[i], F_SETFD, 0);
		/* the sandbox first, as root (the build uid cannot undo it) */
		if (s->sandbox) {
			struct dkm_sandbox_error se;

			if (dkm_sandbox_enter(s->sandbox, &se) < 0)
				child_fail(errpipe[1], se.err, se.step, se.index);
			if (sandbox_fork(errpipe[1]) < 0)
				goto fail;
			if (dkm_sandbox_enter_init(s->sandbox, &se) < 0)
				child_fail(errpipe[1], se.err, se.step, se.index);
		}
		if (s->cwd && s->cwd_before_drop && chdir(s->cwd) < 0)
			child_fail(errpipe[1], errno, DKM_SANDBOX_STEP_CWD, -1);
		if (s->run_as) {
			if (setgroups(0, NULL) < 0 || setresgid(s->gid, s->gid, s->gid) < 0 ||
			    setresuid(s->uid, s->uid, s->uid) < 0)
				goto fail;
		}
		/* as the build uid: what it cannot reach is said now, not deep in a make log */
		if (s->cwd && !s->cwd_before_drop && chdir(s->cwd) < 0)
			child_fail(errpipe[1], errno, DKM_SANDBOX_STEP_CWD, -1);
		for (size_t i = 0; s->reach && s->reach[i]; i++)
			if (access(s->reach[i], R_OK | X_OK) < 0)
				child_fail(errpipe[1], errno, DKM_SANDBOX_STEP_REACH, (int)i);
		{
			int keep_all[ELEMENTSOF(keep) + 1];

			memcpy(keep_all, keep, nkeep * sizeof(int));
			keep_all[nkeep] = errpipe[1];
			qsort(keep_all, nkeep + 1, sizeof(int), cmp_int);
			close_all_but(keep_all, nkeep + 1);
		}
		if (apply_limits(&s->limits, nproc) < 0)
			goto fail;
		/* what the caller kills is sandbox_fork()'s waiter, in our process group: the build
		 * (the namespace's init) dies with it even if it left the group with setsid (set
		 * here, after the uid change, which would clear it) */
		if (s->sandbox && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			goto fail;
		exec_in_path(s->argv, envp);
	fail:
		child_fail(errpipe[1], errno, DKM_SANDBOX_STEP_NONE, -1);
	}
	close(errpipe[1]);
	do
		k = read(errpipe[0], &ce, sizeof(ce));
	while (k < 0 && errno == EINTR);
	close(errpipe[0]);
	if (k == sizeof(ce)) {
		(void)waitpid(pid, NULL, 0);
		return report_child_error(ctx, s, &ce);
	}
	*ret_pid = pid;
	return 0;
}

int dkm_spawn_wait(pid_t pid, int *ret_status)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (ret_status)
		*ret_status = status;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

const char *dkm_format_size(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	unsigned u = 0;
	uint64_t whole, tenths;

	while (u + 1 < ELEMENTSOF(units) && bytes >= (1024ULL << (10 * u)))
		u++;
	whole = bytes >> (10 * u);
	if (u == 0 || bytes % (1ULL << (10 * u)) == 0) {
		snprintf(buf, size, "%llu %s", (unsigned long long)whole, units[u]);
		return buf;
	}
	/* rounded up: 64 MiB and a little more never reads "64.0 MiB" */
	tenths = ((bytes % (1ULL << (10 * u))) * 10 + (1ULL << (10 * u)) - 1) >> (10 * u);
	if (tenths == 10) {
		whole++;
		tenths = 0;
	}
	snprintf(buf, size, "%llu.%llu %s", (unsigned long long)whole, (unsigned long long)tenths,
		 units[u]);
	return buf;
}

/* What shells (bash, dash), make, perl, coreutils, gcc, python, C++ say when the limits hit.
 * Only the first two (a fork's own EAGAIN) stop a build at once: the others could also be
 * text a compiler quotes from a source line. */
static const struct {
	const char *text;
	unsigned hit;
} limit_messages[] = {
	{ "fork: retry: Resource temporarily unavailable", DKM_SPAWN_HIT_PROCS }, /* bash */
	{ "fork: Resource temporarily unavailable", DKM_SPAWN_HIT_PROCS }, /* vfork too, perl */
	{ "annot fork", DKM_SPAWN_HIT_PROCS },				   /* dash */
	{ "an't fork", DKM_SPAWN_HIT_PROCS },				   /* busybox */
	{ "Cannot allocate memory", DKM_SPAWN_HIT_MEMORY },
	{ "annot allocate", DKM_SPAWN_HIT_MEMORY },   /* bash's xmalloc */
	{ "memory exhausted", DKM_SPAWN_HIT_MEMORY }, /* coreutils, gcc, bison */
	{ "ut of memory", DKM_SPAWN_HIT_MEMORY },
	{ "MemoryError", DKM_SPAWN_HIT_MEMORY },
	{ "bad_alloc", DKM_SPAWN_HIT_MEMORY },
	{ "File too large", DKM_SPAWN_HIT_FSIZE },
	{ "File size limit exceeded", DKM_SPAWN_HIT_FSIZE },
};
#define FORK_FAILED_MESSAGES 2

static void scan_for(struct dkm_spawn_scan *sc, const char *buf, size_t n)
{
	for (size_t i = 0; i < ELEMENTSOF(limit_messages); i++) {
		unsigned hit = limit_messages[i].hit;
		const char *t = limit_messages[i].text;

		if ((sc->hits & hit) && (sc->fork_failed || i >= FORK_FAILED_MESSAGES))
			continue;
		if (!memmem(buf, n, t, strlen(t)))
			continue;
		sc->hits |= hit;
		sc->said[__builtin_ctz(hit)] = t;
		sc->fork_failed = sc->fork_failed || i < FORK_FAILED_MESSAGES;
	}
}

void dkm_spawn_scan_output(struct dkm_spawn_scan *sc, const char *buf, size_t n)
{
	char joint[2 * sizeof(sc->carry)];
	size_t k = n < sizeof(sc->carry) ? n : sizeof(sc->carry);

	if (sc->hits == (DKM_SPAWN_HIT_PROCS | DKM_SPAWN_HIT_MEMORY | DKM_SPAWN_HIT_FSIZE) &&
	    sc->fork_failed)
		return;
	/* a message split between the last piece and this one */
	memcpy(joint, sc->carry, sc->carry_len);
	memcpy(joint + sc->carry_len, buf, k);
	scan_for(sc, joint, sc->carry_len + k);
	scan_for(sc, buf, n);
	if (n >= sizeof(sc->carry)) {
		memcpy(sc->carry, buf + n - sizeof(sc->carry), sizeof(sc->carry));
		sc->carry_len = sizeof(sc->carry);
	} else {
		size_t keep = sc->carry_len + n > sizeof(sc->carry) ? sizeof(sc->carry) - n
								    : sc->carry_len;

		memmove(sc->carry, sc->carry + sc->carry_len - keep, keep);
		memcpy(sc->carry + keep, buf, n);
		sc->carry_len = keep + n;
	}
}

static void write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, buf, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return; /* a full disk: the output is lost, the child is not held up */
		buf += k;
		n -= (size_t)k;
	}
}

/* the end of one step's output, once the log's head is full; in memory, so not all of a huge
 * budget */
#define RING_MAX ((size_t)64 << 20)
struct ring {
	char *buf;
	size_t size, start, len;
	uint64_t dropped;
};

static void log_put(struct dkm_spawn_log *log, const char *buf, size_t n)
{
	if (n == 0)
		return;
	write_all(log->fd, buf, n);
	log->written += n;
	log->mid_line = buf[n - 1] != '\n';
}

static void ring_put(struct ring *rg, const char *buf, size_t n)
{
	size_t end, k;

	if (n >= rg->size) {
		rg->dropped += rg->len + (n - rg->size);
		memcpy(rg->buf, buf + n - rg->size, rg->size);
		rg->start = 0;
		rg->len = rg->size;
		return;
	}
	if (rg->len + n > rg->size) {
		size_t over = rg->len + n - rg->size;

		rg->dropped += over;
		rg->start = (rg->start + over) % rg->size;
		rg->len -= over;
	}
	end = (rg->start + rg->len) % rg->size;
	k = n < rg->size - end ? n : rg->size - end;
	memcpy(rg->buf + end, buf, k);
	memcpy(rg->buf, buf + k, n - k);
	rg->len += n;
}

static void pump_output(struct dkm_spawn_log *log, struct ring *rg, const char *buf, size_t n)
{
	dkm_spawn_scan_output(&log->scan, buf, n);
	if (log->max == 0) {
		log_put(log, buf, n);
		return;
	}
	if (!rg->buf && log->written < log->max / 2) {
		size_t k =
			log->max / 2 - log->written < n ? (size_t)(log->max / 2 - log->written) : n;

		log_put(log, buf, k);
		buf += k;
		n -= k;
	}
	if (n == 0)
		return;
	if (!rg->buf) {
		uint64_t room = log->max > log->written ? log->max - log->written : 0;
		uint64_t least = log->max / 2 < 65536 ? log->max / 2 : 65536;

		rg->size = (size_t)(room > least ? room : least);
		if (rg->size > RING_MAX)
			rg->size = RING_MAX;
		if (rg->size == 0)
			rg->size = 1;
		rg->buf = xmalloc(rg->size);
	}
	ring_put(rg, buf, n);
}

/* the step ended: what the ring kept goes to the log, after the line about what it did not */
static void pump_finish(struct dkm_spawn_log *log, struct ring *rg)
{
	size_t first;

	if (!rg->buf)
		return;
	if (rg->dropped) {
		char line[256], max[32], head[32];

		snprintf(line, sizeof(line),
			 "%s# %llu bytes of output left out here: %s=%s keeps the first %s of a build's output and the end of each step\n",
			 log->mid_line ? "\n" : "", (unsigned long long)rg->dropped, log->setting,
			 dkm_format_size(log->max, max, sizeof(max)),
			 dkm_format_size(log->max / 2, head, sizeof(head)));
		write_all(log->fd, line, strlen(line));
		log->mid_line = false;
	}
	first = rg->len < rg->size - rg->start ? rg->len : rg->size - rg->start;
	log_put(log, rg->buf + rg->start, first);
	log_put(log, rg->buf, rg->len - first);
	free(rg->buf);
	*rg = (struct ring){ 0 };
}

/* Read what the pipe has now (bounded, so that the caller's timers still run); -1 in *fd at
 * EOF. */
static void pump_read(int *fd, struct dkm_spawn_log *log, struct ring *rg)
{
	char buf[65536];

	for (int i = 0; i < 64; i++) {
		ssize_t k = read(*fd, buf, sizeof(buf));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			return;
		if (k <= 0) {
			close(*fd);
			*fd = -1;
			return;
		}
		pump_output(log, rg, buf, (size_t)k);
	}
}

/* Measuring a build dir: enough for any real module build; beyond that it is refused */
#define WATCH_MAX_ENTRIES 1000000U
#define WATCH_MAX_DEPTH 256U

struct du {
	uint64_t bytes, entries;
	dev_t dev;
	bool gave_up;
};

/* The blocks of everything under the directory dfd (which it takes); symlinks are not
 * followed and other file systems not entered: the directory belongs to the build user, who
 * may change it while we look. */
static void du_walk(int dfd, unsigned depth, struct du *du)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d) {
		close(dfd);
		return;
	}
	while (!du->gave_up && (de = readdir(d))) {
		struct stat st;
		int fd;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		du->bytes += (uint64_t)st.st_blocks * 512;
		if (++du->entries > WATCH_MAX_ENTRIES) {
			du->gave_up = true;
			break;
		}
		if (!S_ISDIR(st.st_mode) || st.st_dev != du->dev)
			continue;
		if (depth >= WATCH_MAX_DEPTH) {
			du->gave_up = true;
			break;
		}
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0)
			du_walk(fd, depth + 1, du);
	}
	closedir(d);
}

/* true if the watched directory is over its size, or too big to measure */
static bool watch_over(struct dkm_spawn_watch *w)
{
	int fd = open(w->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct du du = { 0 };
	struct stat st;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return false;
	}
	du.dev = st.st_dev;
	du.bytes = (uint64_t)st.st_blocks * 512;
	du_walk(fd, 0, &du);
	w->size = du.bytes;
	w->unmeasurable = du.gave_up;
	return du.gave_up || du.bytes > w->max;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

#define USEC_PER_SEC 1000000ULL
#define NEVER UINT64_MAX

/* dkm_spawn_run with a log or a watch: one loop pumps the output, measures the directory and
 * keeps the time limit, until the child has exited and the pipe is drained. */
static int run_watched(struct dkm_ctx *ctx, const struct dkm_spawn *s, int *ret_status)
{
	struct dkm_spawn sp = *s;
	_cleanup_close_ int pfd = -1;
	int out[2] = { -1, -1 }, status = 0, result = 0, r;
	struct ring rg = { 0 };
	bool exited = false, stopped = false;
	uint64_t now = now_usec();
	uint64_t deadline = s->timeout_sec ? now + s->timeout_sec * USEC_PER_SEC : NEVER;
	uint64_t kill_at = NEVER, drain_until = NEVER;
	uint64_t next_measure = s->watch ? now + USEC_PER_SEC : NEVER;
	pid_t pid;

	if (s->log) {
		if (pipe2(out, O_CLOEXEC) < 0)
			return -errno;
		(void)fcntl(out[0], F_SETPIPE_SZ, 1 << 20);
		sp.stdout_fd = out[1];
		sp.stderr_fd = -3;
		s->log->scan = (struct dkm_spawn_scan){ 0 };
	}
	r = dkm_spawn_start(ctx, &sp, &pid);
	if (out[1] >= 0)
		close(out[1]);
	if (r < 0) {
		if (out[0] >= 0)
			close(out[0]);
		return r;
	}
	if (out[0] >= 0)
		(void)fcntl(out[0], F_SETFL, O_NONBLOCK);
	pfd = pidfd_open(pid);

	for (;;) {
		struct pollfd p[2] = { { .fd = exited ? -1 : pfd, .events = POLLIN },
				       { .fd = out[0], .events = POLLIN } };
		uint64_t wake;
		int k;

		now = now_usec();
		if (!exited) {
			if (result == 0 && now >= deadline) {
				kill(-pid, SIGTERM);
				result = -ETIMEDOUT;
				kill_at = now + 2 * USEC_PER_SEC;
			}
			if (now >= kill_at) {
				kill(-pid, SIGKILL);
				kill_at = NEVER;
			}
			if (result == 0 && now >= next_measure) {
				if (watch_over(s->watch)) {
					kill(-pid, SIGKILL);
					result = -EFBIG;
					next_measure = NEVER;
				} else {
					/* at most a tenth of the time goes to measuring */
					uint64_t cost = now_usec() - now;

					next_measure = now_usec() + (cost * 10 > USEC_PER_SEC
									     ? cost * 10
									     : USEC_PER_SEC);
				}
			}
			/* at its process limit: shells would back off and retry for many
			 * seconds, a build that gets there is stopped */
			if (!stopped && s->log && s->limits.max_procs && s->log->scan.fork_failed) {
				kill(-pid, SIGKILL);
				stopped = true;
			}
		}
		if (exited && (out[0] < 0 || now >= drain_until))
			break;
		wake = min_u64(min_u64(deadline, kill_at), min_u64(next_measure, drain_until));
		if (pfd < 0 && !exited)
			wake = min_u64(wake,
				       now + USEC_PER_SEC / 5); /* no pidfd: look every 200 ms */
		k = poll(p, 2,
			 wake == NEVER ? -1
			 : wake <= now ? 0
				       : (int)((wake - now + 999) / 1000));
		if (k < 0 && errno != EINTR) {
			r = -errno;
			kill(-pid, SIGKILL);
			(void)dkm_spawn_wait(pid, NULL);
			goto out;
		}
		if (k > 0 && p[1].revents)
			pump_read(&out[0], s->log, &rg);
		if (!exited && (pfd < 0 || (k > 0 && p[0].revents))) {
			pid_t w = waitpid(pid, &status, WNOHANG);

			if (w == pid) {
				exited = true;
				/* in a PID namespace everything else is gone too; without one, what
				 * the child left running goes now, and what left its process group
				 * may hold the pipe: not for long */
				kill(-pid, SIGKILL);
				drain_until = now_usec() + 2 * USEC_PER_SEC;
			} else if (w < 0 && errno != EINTR) {
				r = -errno;
				kill(-pid, SIGKILL);
				goto out;
			}
		}
	}
	/* whatever the child left behind in its process group goes too */
	kill(-pid, SIGKILL);
	if (result == 0 && s->watch && watch_over(s->watch))
		result = -EFBIG;
	if (ret_status)
		*ret_status = status;
	r = result < 0 ? result : WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
out:
	if (out[0] >= 0)
		close(out[0]);
	if (s->log)
		pump_finish(s->log, &rg);
	return r;
}

int dkm_spawn_run(struct dkm_ctx *ctx, const struct dkm_spawn *s, int *ret_status)
{
	_cleanup_close_ int pfd = -1;
	pid_t pid;
	int r;

	if (s->log || s->watch)
		return run_watched(ctx, s, ret_status);
	r = dkm_spawn_start(ctx, s, &pid);
	if (r < 0)
		return r;
	if (s->timeout_sec == 0)
		return dkm_spawn_wait(pid, ret_status);
	pfd = pidfd_open(pid);
	if (pfd >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		int64_t left = (int64_t)s->timeout_sec * 1000;
		uint64_t start = now_usec();

		for (;;) {
			int k = poll(&p, 1, (int)left);

			if (k > 0)
				break;
			if (k < 0 && errno != EINTR)
				break;
			left = (int64_t)s->timeout_sec * 1000 -
			       (int64_t)(now_usec() - start) / 1000;
			if (k == 0 || left <= 0) {
				kill(-pid, SIGTERM);
				p.revents = 0;
				if (poll(&p, 1, 2000) <= 0)
					kill(-pid, SIGKILL);
				kill(-pid, SIGKILL);
				(void)dkm_spawn_wait(pid, ret_status);
				return -ETIMEDOUT;
			}
		}
	}
	r = dkm_spawn_wait(pid, ret_status);
	/* whatever the child left behind in its process group goes too */
	kill(-pid, SIGKILL);
	return r;
}

const char *dkm_spawn_describe(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "ended with wait status 0x%x", status);
	return buf;
}

int dkm_user_lookup(const char *name, uid_t *ret_uid, gid_t *ret_gid)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (!pw)
		return errno ? -errno : -ESRCH;
	*ret_uid = pw->pw_uid;
	*ret_gid = pw->pw_gid;
	return 0;
}
