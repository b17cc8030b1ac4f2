/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
		return dkm_err(ctx, -ce->err,
			       "cannot run '%s': uid %u cannot enter '%s': %s: every directory above it must be searchable by that uid (or let the build sandbox bind it: sandbox=auto)",
			       s->argv[0], (unsigned)(s->run_as ? s->uid : geteuid()), s->cwd,
			       strerror(ce->err));
	case DKM_SANDBOX_STEP_REACH:
		return dkm_err(ctx, -ce->err,
			       "cannot run '%s': uid %u cannot read '%s': %s: it and every directory above it must be readable and searchable by that uid (or let the build sandbox bind it: sandbox=auto)",
			       s->argv[0], (unsigned)(s->run_as ? s->uid : geteuid()),
			       s->reach[ce->index], strerror(ce->err));
	default:
		what = dkm_sandbox_describe(s->sandbox, &se, (const char *const *)s->reach);
		return dkm_err(ctx, -ce->err,
			       "cannot run '%s': the build sandbox could not %s: %s", s->argv[0],
			       what, strerror(ce->err));
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
		int err = s->stderr_fd >= 0 ? s->stderr_fd
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
		if (fin < 0 || fout < 0 || ferr < 0 || move_fd(fin, 0) < 0 || move_fd(fout, 1) < 0 ||
		    move_fd(ferr, 2) < 0)
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

int dkm_spawn_run(struct dkm_ctx *ctx, const struct dkm_spawn *s, int *ret_status)
{
	_cleanup_close_ int pfd = -1;
	pid_t pid;
	int r;

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
			left = (int64_t)s->timeout_sec * 1000 - (int64_t)(now_usec() - start) / 1000;
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
