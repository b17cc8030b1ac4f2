/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/mount.h>

#include "ctx.h"
#include "macro.h"
#include "sandbox.h"
#include "util.h"

const char *const dkm_sandbox_policy_names[] = {
	[DKM_SANDBOX_AUTO] = "auto",
	[DKM_SANDBOX_REQUIRED] = "required",
	[DKM_SANDBOX_OFF] = "off",
	NULL,
};

const char *dkm_sandbox_policy_name(enum dkm_sandbox_policy p)
{
	return p >= 0 && p < _DKM_SANDBOX_POLICY_MAX ? dkm_sandbox_policy_names[p] : NULL;
}

int dkm_sandbox_policy_from_name(const char *s)
{
	for (int i = 0; i < _DKM_SANDBOX_POLICY_MAX; i++)
		if (s && streq(s, dkm_sandbox_policy_names[i]))
			return i;
	return -EINVAL;
}

/* ---- building the description (parent side) ---- */

void dkm_sandbox_init(struct dkm_sandbox *sb, struct dkm_ctx *ctx)
{
	*sb = (struct dkm_sandbox){ 0 };
	sb->hide[sb->n_hide++] = dkm_ctx_path(ctx, ctx->sign_key);
	/* a root below a directory the build uid cannot enter (mktemp -d makes 0700 ones) is
	 * still reachable inside: at a fixed place */
	if (!dkm_ctx_is_host_root(ctx))
		dkm_sandbox_add_bind(sb, ctx->root, "root", false);
}

const char *dkm_sandbox_add_bind(struct dkm_sandbox *sb, const char *src, const char *name,
				 bool writable)
{
	struct dkm_sandbox_bind *b;

	if (sb->n_binds >= DKM_SANDBOX_MAX_BINDS)
		abort(); /* a fixed, small set: a caller's bug */
	b = &sb->binds[sb->n_binds++];
	b->src = xstrdup(src);
	b->dst = path_join(DKM_SANDBOX_VIEW, name);
	b->writable = writable;
	return b->dst;
}

static bool has_prefix_path(const char *path, const char *prefix, size_t *ret_len)
{
	size_t n = strlen(prefix);

	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (strncmp(path, prefix, n) != 0 || (path[n] != '/' && path[n] != 0))
		return false;
	*ret_len = n;
	return true;
}

char *dkm_sandbox_view(const struct dkm_sandbox *sb, const char *path)
{
	const struct dkm_sandbox_bind *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; sb && i < sb->n_binds; i++) {
		size_t n;

		if (has_prefix_path(path, sb->binds[i].src, &n) && n > best_len) {
			best = &sb->binds[i];
			best_len = n;
		}
	}
	if (!best)
		return xstrdup(path);
	return xasprintf("%s%s", best->dst, path + best_len);
}

void dkm_sandbox_done(struct dkm_sandbox *sb)
{
	for (size_t i = 0; i < sb->n_binds; i++) {
		free(sb->binds[i].src);
		free(sb->binds[i].dst);
	}
	for (size_t i = 0; i < sb->n_hide; i++)
		free(sb->hide[i]);
	*sb = (struct dkm_sandbox){ 0 };
}

char *dkm_sandbox_describe(const struct dkm_sandbox *sb, const struct dkm_sandbox_error *e,
			   const char *const *reach)
{
	int i = e->index;

	switch (e->step) {
	case DKM_SANDBOX_STEP_UNSHARE:
		return xstrdup("unshare the mount, PID, network, IPC and UTS namespaces");
	case DKM_SANDBOX_STEP_PRIVATE:
		return xstrdup("make every mount private (mount --make-rprivate /)");
	case DKM_SANDBOX_STEP_CHROOT:
		return xstrdup(
			"reach the mounts above the chroot's root (it is not a mount point)");
	case DKM_SANDBOX_STEP_REBIND_ROOT:
		return xstrdup("bind the chroot's root onto itself");
	case DKM_SANDBOX_STEP_OPEN_BIND:
		return xasprintf("open '%s' to bind it",
				 i >= 0 && (size_t)i < sb->n_binds ? sb->binds[i].src : "?");
	case DKM_SANDBOX_STEP_VIEW:
		return xstrdup("mount a tmpfs on '" DKM_SANDBOX_VIEW "' (its parent must exist)");
	case DKM_SANDBOX_STEP_BIND:
		if (i >= 0 && (size_t)i < sb->n_binds)
			return xasprintf("bind '%s' on '%s'", sb->binds[i].src, sb->binds[i].dst);
		return xstrdup("bind");
	case DKM_SANDBOX_STEP_READONLY:
		return xstrdup("make the file system read-only and nosuid (mount_setattr '/')");
	case DKM_SANDBOX_STEP_WRITABLE:
		return xasprintf("make '%s' writable",
				 i >= 0 && (size_t)i < sb->n_binds ? sb->binds[i].dst : "?");
	case DKM_SANDBOX_STEP_SHM:
		return xstrdup("mount a private tmpfs on '/dev/shm'");
	case DKM_SANDBOX_STEP_HIDE:
		return xasprintf("hide '%s'", i >= 0 && (size_t)i < sb->n_hide ? sb->hide[i] : "?");
	case DKM_SANDBOX_STEP_PROC:
		return xstrdup("mount a /proc of its own on '/proc'");
	case DKM_SANDBOX_STEP_REACH:
		return xasprintf("reach '%s'", reach && i >= 0 ? reach[i] : "?");
	default:
		return xstrdup("set up the sandbox");
	}
}

/* ---- entering it (child side: no allocation that matters, no logging) ---- */

static int fail(struct dkm_sandbox_error *e, int step, int index)
{
	e->err = errno ? errno : EIO;
	e->step = step;
	e->index = index;
	return -e->err;
}

static int setattr(const char *path, unsigned flags, uint64_t set, uint64_t clr)
{
	struct mount_attr a = { .attr_set = set, .attr_clr = clr };

	return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &a, sizeof(a));
}

static int mkdir_all(char *path)
{
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*s = '/';
			return -1;
		}
		*s = '/';
	}
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* some directory below "/", to chroot into while the old root stays the cwd */
static int any_subdir(char *buf, size_t size)
{
	DIR *d = opendir("/");
	struct dirent *de;
	int r = -1;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		struct stat st;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode) && strlen(de->d_name) + 2 <= size) {
			snprintf(buf, size, "/%s", de->d_name);
			r = 0;
			break;
		}
	}
	closedir(d);
	if (r < 0)
		errno = ENOENT;
	return r;
}

/* Make every mount of this (new) namespace private, so that nothing mounted here shows up on
 * the host. In a plain chroot "/" is a directory inside a mount that begins above it, out of
 * reach by path and possibly shared with the host. This process is root in a mount namespace
 * of its own: it climbs out of the chroot (chroot into a subdirectory leaves the cwd above
 * the root, and ".." then goes up to the namespace's root), makes everything private there,
 * and comes back with the chroot's directory bound onto itself, so that "/" is a mount point
 * as in a container or on a host. */
static int make_private(struct dkm_sandbox_error *e)
{
	_cleanup_close_ int oldroot = -1;
	char path[PATH_MAX];

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
		return 0;
	if (errno != EINVAL)
		return fail(e, DKM_SANDBOX_STEP_PRIVATE, -1);

	oldroot = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (oldroot < 0 || any_subdir(path, sizeof(path)) < 0 || chdir("/") < 0 || chroot(path) < 0)
		return fail(e, DKM_SANDBOX_STEP_CHROOT, -1);
	for (int i = 0; i < 4096; i++) {
		struct stat here, up;

		if (stat(".", &here) < 0 || stat("..", &up) < 0)
			return fail(e, DKM_SANDBOX_STEP_CHROOT, -1);
		if (here.st_dev == up.st_dev && here.st_ino == up.st_ino)
			break;
		if (chdir("..") < 0)
			return fail(e, DKM_SANDBOX_STEP_CHROOT, -1);
	}
	if (chroot(".") < 0)
		return fail(e, DKM_SANDBOX_STEP_CHROOT, -1);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail(e, DKM_SANDBOX_STEP_PRIVATE, -1);
	if (fchdir(oldroot) < 0 || !getcwd(path, sizeof(path)) || path[0] != '/')
		return fail(e, DKM_SANDBOX_STEP_CHROOT, -1);
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return fail(e, DKM_SANDBOX_STEP_REBIND_ROOT, -1);
	/* the walk to the last component steps onto the mount just made */
	if (chdir(path) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return fail(e, DKM_SANDBOX_STEP_REBIND_ROOT, -1);
	return 0;
}

static int hide_one(const char *path, const char *empty)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return 0; /* not there, or not visible from here: nothing to hide */
	return mount(empty, path, NULL, MS_BIND, NULL);
}

int dkm_sandbox_enter(const struct dkm_sandbox *sb, struct dkm_sandbox_error *e)
{
	int trees[DKM_SANDBOX_MAX_BINDS];
	const char *empty = DKM_SANDBOX_VIEW "/.empty";
	struct stat st;
	int r;

	*e = (struct dkm_sandbox_error){ 0 };
	umask(022);
	for (size_t i = 0; i < ELEMENTSOF(trees); i++)
		trees[i] = -1;
	/* CLONE_NEWPID: the caller's next child is the init of a new PID namespace (spawn.c),
	 * so nothing the build starts, not even what escaped its process group with setsid(),
	 * survives it; nor can it signal processes outside */
	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWUTS) < 0)
		return fail(e, DKM_SANDBOX_STEP_UNSHARE, -1);
	r = make_private(e);
	if (r < 0)
		return r;
	/* take the directories to bind now: the tmpfs below may cover where they are */
	for (size_t i = 0; i < sb->n_binds; i++) {
		trees[i] = (int)syscall(SYS_open_tree, AT_FDCWD, sb->binds[i].src,
					OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (trees[i] < 0)
			return fail(e, DKM_SANDBOX_STEP_OPEN_BIND, (int)i);
	}
	if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0 ||
	    mkdir(DKM_SANDBOX_VIEW, 0755) < 0)
		return fail(e, DKM_SANDBOX_STEP_VIEW, -1);
	r = open(empty, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0000);
	if (r < 0)
		return fail(e, DKM_SANDBOX_STEP_VIEW, -1);
	close(r);
	for (size_t i = 0; i < sb->n_binds; i++) {
		char dst[PATH_MAX];

		snprintf(dst, sizeof(dst), "%s", sb->binds[i].dst);
		if (mkdir_all(dst) < 0 || syscall(SYS_move_mount, trees[i], "", AT_FDCWD, dst,
						  MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return fail(e, DKM_SANDBOX_STEP_BIND, (int)i);
		close(trees[i]);
		trees[i] = -1;
	}
	if (setattr("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0) < 0)
		return fail(e, DKM_SANDBOX_STEP_READONLY, -1);
	for (size_t i = 0; i < sb->n_binds; i++)
		if (sb->binds[i].writable &&
		    setattr(sb->binds[i].dst, AT_RECURSIVE, 0, MOUNT_ATTR_RDONLY) < 0)
			return fail(e, DKM_SANDBOX_STEP_WRITABLE, (int)i);
	/* /dev/null, /dev/tty and friends stay usable (devices on a read-only mount are still
	 * writable, but the pty/shm mounts want to be as they were) */
	(void)setattr("/dev", AT_RECURSIVE, 0, MOUNT_ATTR_RDONLY);
	/* ... but /dev/shm is a world-writable tmpfs: what a build left there would outlive it
	 * on the host. It gets a private, empty one that goes away with the namespace. */
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
	    mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=1777,size=64m") < 0)
		return fail(e, DKM_SANDBOX_STEP_SHM, -1);
	/* the key, where it is and where a bind shows it */
	for (size_t i = 0; i < sb->n_hide; i++) {
		_cleanup_free_ char *view = dkm_sandbox_view(sb, sb->hide[i]);

		if (hide_one(sb->hide[i], empty) < 0 ||
		    (!streq(view, sb->hide[i]) && hide_one(view, empty) < 0))
			return fail(e, DKM_SANDBOX_STEP_HIDE, (int)i);
	}
	return 0;
}

int dkm_sandbox_enter_init(const struct dkm_sandbox *sb, struct dkm_sandbox_error *e)
{
	struct stat st;

	*e = (struct dkm_sandbox_error){ 0 };
	/* the host's /proc would show every process, and through /proc/<pid>/cwd and /root of
	 * one with the build's uid the host's writable file systems; this one shows the
	 * namespace's processes only */
	if (stat("/proc", &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return fail(e, DKM_SANDBOX_STEP_PROC, -1);
	return 0;
}

/* ---- the policy ---- */

/* Set up a whole sandbox in a throwaway child, once: what works there works for builds. */
static int probe(struct dkm_ctx *ctx, struct dkm_sandbox_error *ret)
{
	struct dkm_sandbox sb;
	struct dkm_sandbox_error e = { 0 };
	int p[2], status;
	pid_t pid;
	ssize_t k;

	dkm_sandbox_init(&sb, ctx);
	if (pipe2(p, O_CLOEXEC) < 0) {
		dkm_sandbox_done(&sb);
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(p[0]);
		close(p[1]);
		dkm_sandbox_done(&sb);
		return r;
	}
	if (pid == 0) {
		pid_t init;

		close(p[0]);
		if (dkm_sandbox_enter(&sb, &e) < 0) {
			(void)!write(p[1], &e, sizeof(e));
			_exit(1);
		}
		init = fork();
		if (init == 0) {
			if (dkm_sandbox_enter_init(&sb, &e) < 0) {
				(void)!write(p[1], &e, sizeof(e));
				_exit(1);
			}
			_exit(0);
		}
		if (init < 0)
			_exit(1);
		_exit(waitpid(init, &status, 0) == init && WIFEXITED(status) &&
				      WEXITSTATUS(status) == 0
			      ? 0
			      : 1);
	}
	close(p[1]);
	do
		k = read(p[0], &e, sizeof(e));
	while (k < 0 && errno == EINTR);
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	dkm_sandbox_done(&sb);
	if (k == sizeof(e) && e.step != DKM_SANDBOX_STEP_NONE) {
		*ret = e;
		return -e.err;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		*ret = (struct dkm_sandbox_error){ .err = EIO, .step = DKM_SANDBOX_STEP_NONE };
		return -EIO;
	}
	return 0;
}

int dkm_sandbox_wanted(struct dkm_ctx *ctx)
{
	int policy = ctx->sandbox;
	_cleanup_free_ char *conf = dkm_ctx_pathf(ctx, "%s/dkm-hook.conf", ctx->conf_dir);
	_cleanup_free_ char *what = NULL;
	struct dkm_sandbox_error e = { 0 };
	struct dkm_sandbox sb = { 0 };
	int r;

	if (policy < 0)
		policy = DKM_SANDBOX_AUTO;
	if (policy == DKM_SANDBOX_OFF)
		return 0;
	if (geteuid() != 0) {
		if (policy == DKM_SANDBOX_REQUIRED)
			return dkm_err(
				ctx, -EPERM,
				"the build sandbox is required (sandbox=required in '%s') but needs root: run as root, or set sandbox=auto",
				conf);
		return 0; /* the caller is unprivileged already: builds run as it */
	}
	if (ctx->sandbox_state > 0)
		return 1;
	if (ctx->sandbox_state < 0)
		return policy == DKM_SANDBOX_REQUIRED ? ctx->sandbox_state : 0;

	r = probe(ctx, &e);
	if (r >= 0) {
		ctx->sandbox_state = 1;
		return 1;
	}
	ctx->sandbox_state = r;
	dkm_sandbox_init(&sb, ctx);
	what = dkm_sandbox_describe(&sb, &e, NULL);
	dkm_sandbox_done(&sb);
	if (policy == DKM_SANDBOX_REQUIRED)
		return dkm_err(
			ctx, r,
			"the build sandbox is required (sandbox=required in '%s') but unavailable here: cannot %s: %s: allow namespaces (CAP_SYS_ADMIN) for dkm-hook, or set sandbox=auto",
			conf, what, strerror(-r));
	dkm_warn(ctx,
		 "no build sandbox here (cannot %s: %s): builds run only as an unprivileged uid, without namespaces; sandbox=required in '%s' refuses instead",
		 what, strerror(-r), conf);
	return 0;
}
