/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry and kernel locks. flock(2) works on any descriptor, a read-only one too: a lock
 * file anyone can open is a lock anyone can hold for ever, and every kernel upgrade waits for
 * them. So a lock file is a regular file of ours, mode 0600, in directories only we can write;
 * anything else found at its path (a 0644 file of an older version that a user may hold open
 * already, a symlink, a file of another owner) is replaced, never followed. A lock taken is
 * checked to still be the file at the path (kernel-remove deletes a kernel's state dir, lock
 * included, while others may wait on it). The wait says which lock and which live process
 * holds it; the kernel hooks (ctx->unattended) give up after lock_timeout seconds. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "ctx.h"
#include "kernel.h"
#include "lock.h"
#include "util.h"

static bool lock_file_ok(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_uid == geteuid() && !(st->st_mode & 077);
}

/* Put a fresh 0600 file of ours in the place of whatever is at dfd/name: atomically (rename),
 * so a process that holds the old file holds nothing any more. */
static int lock_file_replace(struct dkm_ctx *ctx, int dfd, const char *name, const char *path,
			     const char *why)
{
	_cleanup_free_ char *tmp = xasprintf(".%s.new-%d", name, (int)getpid());
	int fd;

	(void)unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return dkm_err(ctx, errno, "cannot replace lock file '%s': %s", path,
			       strerror(errno));
	close(fd);
	if (renameat(dfd, tmp, dfd, name) < 0) {
		int r = -errno;

		(void)unlinkat(dfd, tmp, 0);
		return dkm_err(ctx, r, "cannot replace lock file '%s' (%s): %s: remove it", path,
			       why, strerror(-r));
	}
	dkm_warn(ctx, "replaced lock file '%s': %s; others could hold it and block every command",
		 path, why);
	return 0;
}

/* The lock file at dfd/name, opened read-write: ours, or replaced by one that is. */
static int lock_file_open(struct dkm_ctx *ctx, int dfd, const char *name, const char *path)
{
	for (unsigned tries = 0; tries < 16; tries++) {
		_cleanup_free_ char *why = NULL;
		struct stat st;
		int fd, r;

		fd = openat(dfd, name,
			    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
			    0600);
		if (fd < 0 && errno != ELOOP)
			return dkm_err(ctx, errno, "cannot open lock: '%s': %s", path,
				       strerror(errno));
		if (fd >= 0) {
			if (fstat(fd, &st) < 0) {
				r = -errno;
				close(fd);
				return dkm_err(ctx, r, "cannot open lock: '%s': %s", path,
					       strerror(-r));
			}
			if (lock_file_ok(&st))
				return fd;
			close(fd);
			if (!S_ISREG(st.st_mode))
				why = xstrdup("it was not a regular file");
			else if (st.st_uid != geteuid())
				why = xasprintf("it belonged to uid %u", (unsigned)st.st_uid);
			else
				why = xasprintf("its mode was %04o (others could open it)",
						(unsigned)(st.st_mode & 07777));
		} else
			why = xstrdup("it was a symbolic link (not followed)");
		r = lock_file_replace(ctx, dfd, name, path, why);
		if (r < 0)
			return r;
	}
	return dkm_err(
		ctx, -EAGAIN,
		"cannot open lock: '%s': it keeps being replaced: is the directory writable by others?",
		path);
}

/* Open the directory dfd/name (no symlink) and make it ours and writable only by us: whoever
 * can write a lock's directory can swap the lock. */
static int lock_dir_open(struct dkm_ctx *ctx, int dfd, const char *name, const char *path)
{
	struct stat st;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return dkm_err(ctx, errno, "cannot open the directory of a lock: '%s': %s%s", path,
			       strerror(errno), errno == ENOTDIR ? " (a symlink or a file)" : "");
	if (fstat(fd, &st) == 0 && (st.st_uid != geteuid() || (st.st_mode & 022))) {
		if (fchown(fd, geteuid(), getegid()) < 0 || fchmod(fd, st.st_mode & 0755) < 0) {
			int r = -errno;

			close(fd);
			return dkm_err(ctx, r, "cannot make the directory of a lock ours: '%s': %s",
				       path, strerror(-r));
		}
		dkm_warn(ctx,
			 "directory '%s' belonged to uid %u with mode %04o: made it root's, writable only by root",
			 path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	}
	return fd;
}

/* Does process pid have the file (dev, ino) open? */
static bool pid_has_open(pid_t pid, const struct stat *lk)
{
	_cleanup_free_ char *dir = xasprintf("/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		struct stat st;

		found = de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &st, 0) == 0 &&
			st.st_dev == lk->st_dev && st.st_ino == lk->st_ino;
	}
	closedir(d);
	return found;
}

/* The live process that holds the lock on the file (from /proc/locks; the pid there is the one
 * that took the lock, which may have exited or been reused since: it is named only if it still
 * has the file open). 0 if none is known; its command name in comm. */
static pid_t lock_holder(const struct stat *lk, char comm[static 32])
{
	_cleanup_fclose_ FILE *f = fopen("/proc/locks", "re");
	char *line = NULL;
	size_t n = 0;
	pid_t found = 0;

	comm[0] = 0;
	while (f && !found && getline(&line, &n, f) > 0) {
		unsigned maj, min;
		unsigned long ino;
		int pid;

		/* "1: FLOCK  ADVISORY  WRITE 1234 fe:00:10953070 0 EOF"; waiters have "->" */
		if (strstr(line, "->") || !strstr(line, " FLOCK "))
			continue;
		if (sscanf(line, "%*d: FLOCK %*s %*s %d %x:%x:%lu", &pid, &maj, &min, &ino) != 4)
			continue;
		if (pid > 0 && pid != getpid() && maj == major(lk->st_dev) &&
		    min == minor(lk->st_dev) && ino == lk->st_ino && pid_has_open(pid, lk))
			found = pid;
	}
	free(line);
	if (found) {
		_cleanup_free_ char *p = xasprintf("/proc/%d/comm", (int)found);
		_cleanup_free_ char *c = NULL;

		if (read_full_file(p, 64, &c, NULL) >= 0)
			snprintf(comm, 32, "%s", strstrip(c));
	}
	return found;
}

static bool is_ours(const char *comm)
{
	/* comm is cut at 15 bytes: "40-dkm-hook.ins" is the kernel-install plugin */
	return streq(comm, "dkm-hook") || streq(comm, "dkms") || startswith(comm, "40-dkm-hook");
}

/* "another dkm-hook command (pid 12)", "pid 12 ('sleep'), not a dkm-hook command," */
static char *holder_text(const struct stat *lk)
{
	char comm[32];
	pid_t pid = lock_holder(lk, comm);

	if (pid <= 0)
		return xstrdup("another dkm-hook command");
	if (is_ours(comm))
		return xasprintf("another dkm-hook command (pid %d)", (int)pid);
	return xasprintf("pid %d ('%s'), which is not a dkm-hook command,", (int)pid, comm);
}

static int take(struct dkm_ctx *ctx, int fd, bool shared, const char *path, uint64_t *deadline,
		bool *said)
{
	unsigned timeout = ctx->unattended ? ctx->lock_timeout : 0;
	int op = shared ? LOCK_SH : LOCK_EX;
	struct stat st;

	if (flock(fd, op | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		return dkm_err(ctx, errno, "cannot lock: '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return dkm_err(ctx, errno, "cannot lock: '%s': %s", path, strerror(errno));
	if (!*said) {
		_cleanup_free_ char *who = holder_text(&st);

		*said = true;
		if (timeout) {
			*deadline = now_usec() + (uint64_t)timeout * 1000000;
			dkm_warn(ctx,
				 "waiting for %s to release '%s'; giving up after %u s (lock_timeout=)",
				 who, path, timeout);
		} else if (ctx->unattended)
			dkm_warn(ctx,
				 "waiting for %s to release '%s' (lock_timeout=0: for as long as it takes)",
				 who, path);
		else
			dkm_notice(ctx,
				   "waiting for %s to release '%s'; this command waits until it does (Ctrl-C stops it)",
				   who, path);
	}
	if (!timeout) {
		while (flock(fd, op) < 0)
			if (errno != EINTR)
				return dkm_err(ctx, errno, "cannot lock: '%s': %s", path,
					       strerror(errno));
		return 0;
	}
	for (;;) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if (now_usec() >= *deadline) {
			_cleanup_free_ char *who = holder_text(&st);

			return dkm_err(
				ctx, -ETIMEDOUT,
				"gave up after %u s waiting for %s to release '%s': if it is stuck, stop it ('fuser -v %s' names it), then run this again; lock_timeout= in dkm-hook.conf sets the wait",
				timeout, who, path, path);
		}
		(void)nanosleep(&ts, NULL);
		if (flock(fd, op | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return dkm_err(ctx, errno, "cannot lock: '%s': %s", path, strerror(errno));
	}
}

/* The lock <state_dir>[/kernels/<kver>]/lock. */
static int lock_at(struct dkm_ctx *ctx, const char *kver, bool shared)
{
	_cleanup_free_ char *state = dkm_ctx_path(ctx, ctx->state_dir);
	_cleanup_free_ char *kdir = kver ? xasprintf("%s/kernels", state) : NULL;
	_cleanup_free_ char *kvdir = kver ? xasprintf("%s/kernels/%s", state, kver) : NULL;
	_cleanup_free_ char *path = path_join(kver ? kvdir : state, "lock");
	uint64_t deadline = 0;
	bool said = false;
	int r;

	for (unsigned tries = 0;; tries++) {
		_cleanup_close_ int sfd = -1, kfd = -1, kvfd = -1, fd = -1;
		struct stat a, b;
		int dfd;

		r = mkdir_parents(path, 0755);
		if (r < 0)
			return dkm_err(ctx, r, "cannot create the directory of '%s': %s", path,
				       strerror(-r));
		/* the state dir itself: its owner and mode are warned about at start */
		sfd = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0)
			return dkm_err(ctx, errno, "cannot open '%s': %s", state, strerror(errno));
		dfd = sfd;
		if (kver) {
			kfd = lock_dir_open(ctx, sfd, "kernels", kdir);
			if (kfd < 0)
				return kfd;
			kvfd = lock_dir_open(ctx, kfd, kver, kvdir);
			if (kvfd < 0)
				return kvfd;
			dfd = kvfd;
		}
		fd = lock_file_open(ctx, dfd, "lock", path);
		if (fd < 0)
			return fd;
		r = take(ctx, fd, shared, path, &deadline, &said);
		if (r < 0)
			return r;
		/* still the file at the path? (it was deleted or replaced while we waited) */
		if (fstat(fd, &a) == 0 && fstatat(dfd, "lock", &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return TAKE_FD(fd);
		if (tries >= 100)
			return dkm_err(ctx, -EAGAIN, "cannot lock: '%s': it keeps being replaced",
				       path);
		dkm_debug(ctx, "lock '%s' was replaced while we waited for it: taking the new one",
			  path);
	}
}

int dkm_lock_take_registry(struct dkm_ctx *ctx, bool shared)
{
	return lock_at(ctx, NULL, shared);
}

int dkm_lock_take(struct dkm_ctx *ctx)
{
	return dkm_lock_take_registry(ctx, false);
}

int dkm_lock_take_kernel(struct dkm_ctx *ctx, const char *kver)
{
	if (dkm_kver_check(ctx, kver) < 0)
		return -EINVAL;
	return lock_at(ctx, kver, false);
}
