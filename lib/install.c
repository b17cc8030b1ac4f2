/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libkmod.h>

#include "ctx.h"
#include "install.h"
#include "kernel.h"
#include "registry.h"
#include "spawn.h"
#include "util.h"

static char *normalize(const char *name)
{
	char *n = xstrdup(name);

	for (char *p = n; *p; p++)
		if (*p == '-')
			*p = '_';
	return n;
}

static char *originals_dir(struct dkm_ctx *ctx, const char *kver)
{
	return dkm_ctx_pathf(ctx, "%s/kernels/%s/originals", ctx->state_dir, kver);
}

static char *manifest_path(struct dkm_ctx *ctx, const struct dkm_pkg *pkg,
			   const struct dkm_kernel *k)
{
	_cleanup_free_ char *d = dkm_inst_dir(ctx, pkg->name, pkg->version, k->kver, k->arch);

	return path_join(d, "manifest");
}

/* What is at path, without following a symlink: 0 for a regular file (its sha256 in sha),
 * -ENOENT if nothing, -ELOOP for a symlink, -EISDIR for a directory, -EINVAL for anything else
 * (a FIFO, a device, a socket), or the error of reading it. The file is opened with O_NOFOLLOW
 * and checked with fstat before a byte is read: a FIFO or a link is never followed. */
static int regular_file_sha(const char *path, char sha[static 65])
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *data = NULL;
	struct stat st;
	size_t len = 0, cap = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		struct stat lst;

		if (errno == ENOENT)
			return -ENOENT;
		if (lstat(path, &lst) == 0 && !S_ISREG(lst.st_mode))
			return S_ISLNK(lst.st_mode)   ? -ELOOP
			       : S_ISDIR(lst.st_mode) ? -EISDIR
						      : -EINVAL;
		return -errno;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	for (;;) {
		ssize_t n;

		if (cap - len < 65536) {
			cap = cap ? cap * 2 : (size_t)st.st_size + 65536;
			if (cap > ((size_t)1 << 31))
				return -EFBIG;
			data = xrealloc(data, cap);
		}
		n = read(fd, data + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	sha256_buf(data, len, sha);
	return 0;
}

/* "a symbolic link", for a message about what regular_file_sha() refused */
static const char *kind_of(int r)
{
	switch (r) {
	case -ELOOP:
		return "a symbolic link";
	case -EISDIR:
		return "a directory";
	default:
		return "not a regular file (a FIFO, device or socket)";
	}
}

/* Is rel_dir (relative to the module dir, "" for the dir itself) reached from the module dir
 * through real directories only? Components that do not exist yet are fine: mkdir creates them
 * as real directories. A symlink (the kernel's build/ and source/ are ones) would take a write
 * out of the tree: -ELOOP, with *ret_bad the offending path (relative). */
static int dir_is_beneath(const struct dkm_kernel *k, const char *rel_dir, char **ret_bad)
{
	_cleanup_strv_free_ char **parts = strv_split(rel_dir, "/");
	_cleanup_close_ int fd = open(k->moddir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *walked = xstrdup("");

	if (fd < 0)
		return -errno;
	for (size_t i = 0; parts[i]; i++) {
		struct stat st;
		char *w;
		int nfd;

		w = xasprintf("%s%s%s", walked, i ? "/" : "", parts[i]);
		free(walked);
		walked = w;
		if (streq(parts[i], ".") || streq(parts[i], "..")) {
			*ret_bad = TAKE_PTR(walked);
			return -ELOOP;
		}
		if (fstatat(fd, parts[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				return 0;
			return -errno;
		}
		if (!S_ISDIR(st.st_mode)) {
			*ret_bad = TAKE_PTR(walked);
			return S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
		}
		nfd = openat(fd, parts[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			*ret_bad = TAKE_PTR(walked);
			return -errno;
		}
		close(fd);
		fd = nfd;
	}
	return 0;
}

/* The modules dkm-hook built or installed for a kernel, by sha256: "<sha256> <pkg>/<ver>" for
 * every module.<m>.sha256 of every build state and manifest under packages/ (read directly,
 * so that a damaged registration still counts). A file in the module tree with one of these
 * sha256 is ours: it is never archived as a module the kernel ships. */
static char **own_modules(struct dkm_ctx *ctx, const char *kver)
{
	_cleanup_free_ char *top = dkm_ctx_pathf(ctx, "%s/packages", ctx->state_dir);
	char **l = xcalloc(1, sizeof(char *));
	struct dirent *de;
	DIR *d = opendir(top);

	while (d && (de = readdir(d))) {
		_cleanup_free_ char *pdir = NULL;
		struct dirent *ve;
		DIR *vd;

		if (de->d_name[0] == '.')
			continue;
		pdir = path_join(top, de->d_name);
		vd = opendir(pdir);
		while (vd && (ve = readdir(vd))) {
			_cleanup_free_ char *adir = NULL;
			struct dirent *ae;
			DIR *ad;

			if (ve->d_name[0] == '.')
				continue;
			adir = xasprintf("%s/%s/kernels/%s", pdir, ve->d_name, kver);
			ad = opendir(adir);
			while (ad && (ae = readdir(ad))) {
				static const char *const files[] = { "state", "manifest" };

				if (ae->d_name[0] == '.')
					continue;
				for (size_t f = 0; f < ELEMENTSOF(files); f++) {
					_cleanup_free_ char *p =
						xasprintf("%s/%s/%s", adir, ae->d_name, files[f]);
					_cleanup_kv_ struct dkm_kv kv = { 0 };

					if (dkm_kv_read(p, &kv) < 0)
						continue;
					for (size_t i = 0; i < kv.n; i++) {
						if (!startswith(kv.keys[i], "module.") ||
						    !endswith(kv.keys[i], ".sha256") ||
						    strlen(kv.values[i]) != 64)
							continue;
						strv_push(&l, xasprintf("%s %s/%s", kv.values[i],
									de->d_name, ve->d_name));
					}
				}
			}
			if (ad)
				closedir(ad);
		}
		if (vd)
			closedir(vd);
	}
	if (d)
		closedir(d);
	return l;
}

/* Which package version's module has this sha256 ("pkg/ver", pointing into own), or NULL */
static const char *own_module_of(char *const *own, const char *sha)
{
	size_t n = strlen(sha);

	for (size_t i = 0; own && own[i]; i++)
		if (strneq(own[i], sha, n) && own[i][n] == ' ')
			return own[i] + n + 1;
	return NULL;
}

/* Paths (relative to the module dir) of every module file named `module` (normalised) that
 * the kernel tree holds: from modules.dep if present, else by walking the tree. */
struct module_walk {
	char **result;
	const char *module;
	size_t prefix;
};

static int walk_cb(const char *fpath, const char *name, void *userdata)
{
	struct module_walk *w = userdata;
	_cleanup_free_ char *n = dkm_module_name_from_path(fpath);

	if (n && streq(n, w->module))
		strv_extend(&w->result, fpath + w->prefix + 1);
	return 0;
}

static char **find_modules_named(const struct dkm_kernel *k, const char *module)
{
	_cleanup_free_ char *dep = path_join(k->moddir, "modules.dep");
	_cleanup_free_ char *want = normalize(module);
	_cleanup_fclose_ FILE *f = fopen(dep, "re");
	char **l = xcalloc(1, sizeof(char *));
	char *line = NULL;
	size_t n = 0;

	if (f) {
		while (getline(&line, &n, f) > 0) {
			char *colon = strchr(line, ':');
			_cleanup_free_ char *name = NULL;

			if (!colon)
				continue;
			*colon = 0;
			/* only what depmod writes: a path below the module dir */
			if (line[0] == '/' || startswith(line, "../") || strstr(line, "/../"))
				continue;
			name = dkm_module_name_from_path(line);
			if (name && streq(name, want))
				strv_extend(&l, line);
		}
		free(line);
		return l;
	}
	/* never indexed: look at the files (symbolic links such as build/ are not followed) */
	{
		struct module_walk w = { .result = l, .module = want, .prefix = strlen(k->moddir) };

		(void)walk_files(k->moddir, walk_cb, &w);
		return w.result;
	}
}

/* rename, or across file systems a copy to a temporary file next to `to` (".#<name>.copy",
 * which fsck knows as a leftover), fsynced and renamed over `to`, then `from` unlinked: `to`
 * is never a partial copy, and a crash leaves `from` in place */
static int move_file(const char *from, const char *to)
{
	_cleanup_free_ char *dir = NULL, *tmp = NULL;
	int r;

	if (rename(from, to) == 0)
		return 0;
	if (errno != EXDEV)
		return -errno;
	dir = path_dirname(to);
	tmp = xasprintf("%s/.#%s.copy", dir, path_basename(to));
	(void)unlink(tmp);
	r = copy_file(from, tmp, 0644);
	if (r < 0)
		return r;
	{
		_cleanup_close_ int fd = open(tmp, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || fsync(fd) < 0) {
			r = -errno;
			(void)unlink(tmp);
			return r;
		}
	}
	if (rename(tmp, to) < 0) {
		r = -errno;
		(void)unlink(tmp);
		return r;
	}
	(void)fsync_parent(to);
	if (unlink(from) < 0)
		return -errno;
	return 0;
}

/* Place `src` at `target` atomically: a staging file in the target's directory, renamed. */
static int place_file(const char *src, const char *target)
{
	_cleanup_free_ char *dir = path_dirname(target);
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r;

	r = mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	r = read_full_file(src, (size_t)1 << 30, &data, &len);
	if (r < 0)
		return r;
	return write_file_atomic(target, data, len, 0644);
}

/* Does another package version of ours own this module path for this kernel? */
static char *other_owner(struct dkm_ctx *ctx, const struct dkm_pkg *self,
			 const struct dkm_kernel *k, const char *logical)
{
	struct dkm_pkg **l;
	size_t n;
	char *owner = NULL;

	dkm_pkg_list(ctx, &l, &n);
	for (size_t i = 0; i < n && !owner; i++) {
		_cleanup_free_ char *mp = NULL;
		_cleanup_kv_ struct dkm_kv kv = { 0 };

		if (streq(l[i]->name, self->name))
			continue; /* another version of ours is replaced by the install */
		mp = manifest_path(ctx, l[i], k);
		if (dkm_kv_read(mp, &kv) < 0)
			continue;
		for (size_t j = 0; j < kv.n; j++)
			if (endswith(kv.keys[j], ".path") && streq(kv.values[j], logical)) {
				owner = xasprintf("%s/%s", l[i]->name, l[i]->version);
				break;
			}
	}
	dkm_pkg_list_free(l, n);
	return owner;
}

/* Archive a module shipped in the tree that ours displaces, recording its exact path.
 * Idempotent, so that an interrupted install is finished from whatever state it left
 * (new_sha: the sha256 of the module being installed, from the journal):
 *  - no record: the file at the path is the original (unless it is a module of ours: then
 *    nothing is archived, and the message says why); record it, then move it;
 *  - a record, and at the path the file it records (same sha256): the move is still to do
 *    (again, over a partial copy);
 *  - a record, and nothing at the path: moved already;
 *  - a record, and at the path the module being installed (or another module of ours): moved
 *    already, and ours renamed into its place (when the path is the one we install to).
 * Only a regular file is ever archived: a symlink, a directory, a FIFO or a device at the path
 * is refused (it could not be restored exactly, and a FIFO would block the read). */
static int archive_original(struct dkm_ctx *ctx, const char *owner, const struct dkm_kernel *k,
			    const char *module, const char *rel, const char *new_sha,
			    char *const *own)
{
	_cleanup_free_ char *odir = originals_dir(ctx, k->kver);
	_cleanup_free_ char *norm = normalize(module);
	_cleanup_free_ char *rec = xasprintf("%s/%s.record", odir, norm);
	_cleanup_free_ char *file = xasprintf("%s/%s.file", odir, norm);
	_cleanup_free_ char *full = path_join(k->moddir, rel);
	_cleanup_free_ char *logical = xasprintf("%s/%s", k->moddir_logical, rel);
	_cleanup_kv_ struct dkm_kv kv = { 0 };
	const char *ours;
	char sha[65];
	int r;

	r = regular_file_sha(full, sha);
	if (r < 0 && r != -ENOENT) {
		if (r == -ELOOP || r == -EISDIR || r == -EINVAL)
			return dkm_err(
				ctx, -EINVAL,
				"cannot archive '%s' (displaced by module '%s'): it is %s: dkm-hook archives only regular files, which it can restore exactly; move it out of the module tree and run the command again",
				full, module, kind_of(r));
		return dkm_err(ctx, r, "cannot read '%s': %s", full, strerror(-r));
	}
	ours = r == 0 ? (streq(sha, strempty(new_sha)) ? owner : own_module_of(own, sha)) : NULL;
	if (dkm_kv_read(rec, &kv) == 0) {
		const char *p = dkm_kv_get(&kv, "path"), *want = dkm_kv_get(&kv, "sha256");

		if (!p || !streq(p, logical))
			return dkm_err(
				ctx, -EEXIST,
				"cannot archive '%s': another original of module '%s' ('%s') is already archived in '%s': run 'dkm-hook fsck'",
				full, module, strempty(p), rec);
		if (r == -ENOENT)
			return 0; /* moved already */
		if (!streq(sha, strempty(want))) {
			if (!ours)
				return dkm_err(
					ctx, -EEXIST,
					"cannot archive '%s': it is neither the original of module '%s' that '%s' records (sha256 %s) nor a module of ours (sha256 %s): move it away, or delete the record if that file is the kernel's, then run 'dkm-hook fsck --repair'",
					full, module, rec, strempty(want), sha);
			/* moved already, and ours renamed into its place */
			if (!path_exists(file))
				dkm_warn(ctx,
					 "  %s: the archived original of '%s' is missing ('%s'): '%s' holds the module of %s, which is not archived",
					 module, logical, file, full, ours);
			return 0;
		}
		/* the original still in place: the move is to do (again) */
	} else {
		if (r == -ENOENT)
			return 0; /* gone since the plan: nothing to archive */
		if (ours) {
			dkm_notice(ctx,
				   "  %s: '%s' is the module of %s (its sha256), not one the kernel ships: not archived",
				   module, logical, ours);
			return 0;
		}
		r = mkdir_p(odir, 0755);
		if (r < 0)
			return dkm_err(ctx, r, "cannot create '%s': %s", odir, strerror(-r));
		dkm_kv_set(&kv, "module", norm);
		dkm_kv_set(&kv, "path", logical);
		dkm_kv_set(&kv, "sha256", sha);
		dkm_kv_set(&kv, "displaced_by", owner);
		/* record first: a crash after this leaves the file where it was, which the
		 * next run accepts (above) */
		r = dkm_kv_write(rec, &kv);
		if (r < 0)
			return dkm_err(ctx, r, "cannot write '%s': %s", rec, strerror(-r));
	}
	r = move_file(full, file);
	if (r < 0)
		return dkm_err(ctx, r, "cannot archive '%s' to '%s': %s", full, file, strerror(-r));
	(void)fsync_parent(full);
	dkm_notice(ctx, "  %s: original module '%s' archived (restored on uninstall)", module,
		   logical);
	return 0;
}

static int restore_original(struct dkm_ctx *ctx, const struct dkm_kernel *k, const char *module)
{
	_cleanup_free_ char *odir = originals_dir(ctx, k->kver);
	_cleanup_free_ char *norm = normalize(module);
	_cleanup_free_ char *rec = xasprintf("%s/%s.record", odir, norm);
	_cleanup_free_ char *file = xasprintf("%s/%s.file", odir, norm);
	_cleanup_free_ char *target = NULL;
	_cleanup_kv_ struct dkm_kv kv = { 0 };
	const char *logical;
	size_t n;
	int r;

	r = dkm_kv_read(rec, &kv);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return dkm_err(ctx, r, "cannot read '%s': %s", rec, strerror(-r));
	logical = dkm_kv_get(&kv, "path");
	n = strlen(k->moddir_logical);
	if (isempty(logical) || !strneq(logical, k->moddir_logical, n) || logical[n] != '/' ||
	    strstr(logical, ".."))
		return dkm_err(ctx, -EINVAL, "corrupt record '%s': path='%s'", rec,
			       strempty(logical));
	target = dkm_ctx_path(ctx, logical);
	{
		_cleanup_free_ char *rdir = path_dirname(logical + n + 1), *bad = NULL;

		r = dir_is_beneath(k, streq(rdir, ".") ? "" : rdir, &bad);
		if (r < 0)
			return dkm_err(
				ctx, r,
				"cannot restore the original of module '%s' to '%s': '%s/%s' is %s: the module tree must not lead out of '%s'",
				module, target, k->moddir, strempty(bad),
				r == -ELOOP ? "a symbolic link" : "not a directory", k->moddir);
	}
	if (path_exists(file)) {
		char cur[65];

		r = regular_file_sha(target, cur);
		if (r == 0 && streq(cur, strempty(dkm_kv_get(&kv, "sha256")))) {
			/* back already (a cross-device copy was interrupted): the archive goes */
			(void)unlink(file);
		} else if (r != -ENOENT) {
			/* never clobber what is there now (a file changed since we installed it, or
			 * anything else): the original stays archived, and fsck says so */
			dkm_warn(ctx,
				 "  %s: the original module is not restored to '%s': %s is there now; it stays archived in '%s'",
				 module, logical, r == 0 ? "another file" : kind_of(r), file);
			return 0;
		} else {
			r = mkdir_parents(target, 0755);
			if (r >= 0)
				r = move_file(file, target);
			if (r < 0)
				return dkm_err(ctx, r, "cannot restore original module to '%s': %s",
					       target, strerror(-r));
			(void)fsync_parent(target);
		}
	} else if (!path_exists(target))
		return dkm_err(ctx, -ENOENT,
			       "the archived original of '%s' is missing: '%s' (it belonged at '%s')",
			       module, file, logical);
	(void)unlink(rec);
	dkm_notice(ctx, "  %s: original module restored to '%s'", module, logical);
	return 1;
}

/* rmdir the directory of a removed module and its parents while empty, up to the module dir */
static void prune_dirs(const struct dkm_kernel *k, const char *path)
{
	_cleanup_free_ char *d = path_dirname(path);

	while (startswith(d, k->moddir) && strlen(d) > strlen(k->moddir)) {
		char *p;

		/* gone already: an earlier, interrupted run removed it */
		if (rmdir(d) < 0 && errno != ENOENT)
			break;
		p = path_dirname(d);
		free(d);
		d = p;
	}
}

/* A manifest entry is trusted only for what install writes: a file under this kernel's module
 * dir, without '..', and its sha256. A truncated or edited manifest must never make us delete
 * something else, or forget a module that is still there. */
static bool entry_ok(const char *moddir_logical, const char *logical, const char *sha)
{
	size_t n = strlen(moddir_logical);

	if (isempty(logical) || !strneq(logical, moddir_logical, n) || logical[n] != '/' ||
	    strstr(logical, "/../") || endswith(logical, "/..") || !strstr(logical, ".ko"))
		return false;
	if (!sha || strlen(sha) != 64)
		return false;
	for (const char *c = sha; *c; c++)
		if (!strchr("0123456789abcdef", *c))
			return false;
	return true;
}

static bool manifest_entry_ok(const struct dkm_kernel *k, const char *logical, const char *sha)
{
	return entry_ok(k->moddir_logical, logical, sha);
}

/* What is wrong with a manifest (NULL: nothing), as install writes them: a modules= line
 * naming at least one module, and for each a path under the module dir and a sha256. */
static char *manifest_problem(const char *moddir_logical, const struct dkm_kv *man)
{
	_cleanup_strv_free_ char **mods = NULL;

	if (!dkm_kv_get(man, "modules"))
		return xstrdup("it has no modules= line");
	mods = strv_split(dkm_kv_get(man, "modules"), " ");
	if (!mods[0])
		return xstrdup("its modules= line names no module");
	for (size_t i = 0; mods[i]; i++) {
		struct dkm_modrec rec;

		dkm_modrec_get(man, mods[i], &rec);
		if (!entry_ok(moddir_logical, rec.path, rec.sha256))
			return xasprintf("module %s has no valid path under '%s/' or no sha256",
					 mods[i], moddir_logical);
	}
	return NULL;
}

int dkm_manifest_validate(struct dkm_ctx *ctx, const char *kver, const char *path, char **ret_why)
{
	_cleanup_free_ char *ml = xasprintf("%s/%s", ctx->module_dir, kver);
	_cleanup_kv_ struct dkm_kv man = { 0 };
	char *why;
	int r;

	r = dkm_kv_read(path, &man);
	if (r < 0) {
		if (r != -ENOENT && ret_why)
			*ret_why = xasprintf("unreadable: %s", strerror(-r));
		return r;
	}
	why = manifest_problem(ml, &man);
	if (!why)
		return 0;
	if (ret_why)
		*ret_why = why;
	else
		free(why);
	return -EBADMSG;
}

static int remove_placed(struct dkm_ctx *ctx, const struct dkm_kernel *k, const char *module,
			 const char *logical, const char *sha)
{
	_cleanup_free_ char *full = NULL;
	char cur[65];
	int r;

	if (!manifest_entry_ok(k, logical, sha))
		return dkm_err(
			ctx, -EBADMSG,
			"refusing to remove '%s' for module %s: its manifest entry is damaged (expected a .ko under '%s/' and its sha256): nothing removed; 'dkm-hook fsck' shows what is installed",
			strempty(logical), module, k->moddir_logical);
	full = dkm_ctx_path(ctx, logical);
	r = sha256_file(full, cur);
	if (r == -ENOENT) {
		dkm_warn(ctx, "  %s: '%s' was already gone", module, full);
		/* an uninstall killed after the unlink: its directories are still to prune */
		prune_dirs(k, full);
		return 0;
	}
	if (r < 0)
		return dkm_err(ctx, r, "cannot read '%s': %s", full, strerror(-r));
	if (!isempty(sha) && !streq(cur, sha)) {
		dkm_warn(ctx, "  %s: '%s' changed since dkm-hook installed it: left in place",
			 module, full);
		return 0;
	}
	if (unlink(full) < 0)
		return dkm_err(ctx, errno, "cannot remove '%s': %s", full, strerror(errno));
	(void)fsync_parent(full);
	prune_dirs(k, full);
	return 1;
}

/* The journal of the kernel's module tree: what the running transaction changes, so that an
 * interrupted one (power cut, SIGKILL) is finished or rolled back by the next command. */
static char *journal_path(struct dkm_ctx *ctx, const char *kver)
{
	return dkm_ctx_pathf(ctx, "%s/kernels/%s/journal", ctx->state_dir, kver);
}

static char *depmod_marker(struct dkm_ctx *ctx, const char *kver)
{
	return dkm_ctx_pathf(ctx, "%s/kernels/%s/depmod-pending", ctx->state_dir, kver);
}

static int journal_write(struct dkm_ctx *ctx, const char *kver, struct dkm_kv *kv)
{
	_cleanup_free_ char *j = journal_path(ctx, kver);
	_cleanup_free_ char *m = depmod_marker(ctx, kver);
	int r;

	/* the tree is about to change: depmod is owed until it ran */
	r = dkm_kv_write(m, &(struct dkm_kv){ 0 });
	if (r >= 0)
		r = dkm_kv_write(j, kv);
	if (r < 0)
		return dkm_err(ctx, r, "cannot write journal '%s': %s", j, strerror(-r));
	return 0;
}

static void journal_remove(struct dkm_ctx *ctx, const char *kver)
{
	_cleanup_free_ char *j = journal_path(ctx, kver);

	if (unlink(j) == 0)
		(void)fsync_parent(j);
}

bool dkm_depmod_pending(struct dkm_ctx *ctx, const char *kver)
{
	_cleanup_free_ char *m = depmod_marker(ctx, kver);
	_cleanup_free_ char *j = journal_path(ctx, kver);

	return path_exists(m) || path_exists(j);
}

int dkm_manifest_rebuild(struct dkm_ctx *ctx, const char *name, const char *version,
			 const char *kver, const char *arch, char **ret_why)
{
	_cleanup_free_ char *dir = dkm_inst_dir(ctx, name, version, kver, arch);
	_cleanup_free_ char *mp = path_join(dir, "manifest");
	_cleanup_free_ char *ml = xasprintf("%s/%s", ctx->module_dir, kver);
	_cleanup_inst_ struct dkm_inst inst = { 0 };
	_cleanup_kv_ struct dkm_kv man = { 0 };
	_cleanup_strv_free_ char **mods = NULL;
	int r;

	r = dkm_inst_load(ctx, name, version, kver, arch, &inst);
	if (r < 0)
		return r;
	if (inst.state != DKM_STATE_INSTALLED) {
		*ret_why = xasprintf("the state says '%s', not installed",
				     strempty(dkm_inst_state_name(&inst)));
		return 0;
	}
	mods = strv_split(strempty(dkm_kv_get(&inst.kv, "modules")), " ");
	if (!mods[0]) {
		*ret_why = xstrdup("the build's state lists no module");
		return 0;
	}
	dkm_kv_set(&man, "modules", dkm_kv_get(&inst.kv, "modules"));
	for (size_t i = 0; mods[i]; i++) {
		struct dkm_modrec rec;
		const char *file, *loc, *sha;
		_cleanup_free_ char *logical = NULL, *full = NULL;
		char cur[65];

		dkm_modrec_get(&inst.kv, mods[i], &rec);
		file = rec.file;
		loc = rec.location;
		sha = rec.sha256;

		if (!name_is_valid(strempty(file)) || isempty(loc) || loc[0] != '/') {
			*ret_why = xasprintf(
				"the build's state has no valid file or location for module %s",
				mods[i]);
			return 0;
		}
		logical = xasprintf("%s%s/%s", ml, loc, file);
		if (!entry_ok(ml, logical, sha)) {
			*ret_why =
				xasprintf("the build's state has no valid path or sha256 for module %s",
					  mods[i]);
			return 0;
		}
		/* only what is provably the build's own file: anything else is not claimed */
		full = dkm_ctx_path(ctx, logical);
		if (regular_file_sha(full, cur) < 0 || !streq(cur, sha)) {
			*ret_why = xasprintf("'%s' is not the module this build installs", full);
			return 0;
		}
		dkm_modrec_set(&man, mods[i],
			       &(struct dkm_modrec){ .path = logical, .sha256 = sha });
	}
	r = dkm_kv_write(mp, &man);
	if (r < 0)
		return r;
	return 1;
}

/* Every entry of a manifest, before anything is removed: a damaged one changes nothing. */
static int manifest_check(struct dkm_ctx *ctx, const struct dkm_pkg *pkg,
			  const struct dkm_kernel *k, const char *mp, const struct dkm_kv *man)
{
	_cleanup_free_ char *why = manifest_problem(k->moddir_logical, man);

	if (why)
		return dkm_err(
			ctx, -EBADMSG,
			"manifest '%s' is damaged: %s: nothing was removed; delete the module file it installed and the manifest, then run 'dkm-hook install %s/%s -k %s --force'",
			mp, why, pkg->name, pkg->version, k->kver);
	return 0;
}

/* The last step of an uninstall, after the manifest is gone: the state is BUILT. A crash
 * between the two leaves no manifest, so recovery runs this step on its own. */
static int uninstall_mark_built(struct dkm_ctx *ctx, const struct dkm_pkg *pkg,
				const struct dkm_kernel *k)
{
	_cleanup_inst_ struct dkm_inst inst = { 0 };
	int r;

	if (dkm_inst_load(ctx, pkg->name, pkg->version, k->kver, k->arch, &inst) <= 0 ||
	    inst.state != DKM_STATE_INSTALLED)
		return 0;
	inst.state = DKM_STATE_BUILT;
	r = dkm_inst_save(ctx, pkg->name, pkg->version, k->kver, k->arch, &inst);
	if (r < 0)
		return dkm_err(ctx, r, "cannot record state of %s/%s for %s", pkg->name,
			       pkg->version, k->kver);
	return 1;
}

static int uninstall_apply(struct dkm_ctx *ctx, const struct dkm_pkg *pkg,
			   const struct dkm_kernel *k)
{
	_cleanup_free_ char *mp = manifest_path(ctx, pkg, k);
	_cleanup_kv_ struct dkm_kv man = { 0 };
	_cleanup_strv_free_ char **mods = NULL;
	int r, changed = 0;

	r = dkm_kv_read(mp, &man);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return dkm_err(ctx, r, "cannot read manifest '%s': %s", mp, strerror(-r));
	r = manifest_check(ctx, pkg, k, mp, &man);
	if (r < 0)
		return r;
	mods = strv_split(dkm_kv_get(&man, "modules"), " ");
	for (size_t i = 0; mods[i]; i++) {
		struct dkm_modrec rec;

		dkm_modrec_get(&man, mods[i], &rec);
		r = remove_placed(ctx, k, mods[i], rec.path, rec.sha256);
		if (r < 0)
			return r;
		changed |= r;
		r = restore_original(ctx, k, mods[i]);
		if (r < 0)
			return r;
		changed |= r;
	}
	if (unlink(mp) < 0 && errno != ENOENT)
		return dkm_err(ctx, errno, "cannot remove '%s': %s", mp, strerror(errno));
	r = uninstall_mark_built(ctx, pkg, k);
	if (r < 0)
		return r;
	return 1 | changed;
}

int dkm_uninstall_pkg(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k)
{
	_cleanup_free_ char *mp = manifest_path(ctx, pkg, k);
	_cleanup_kv_ struct dkm_kv j = { 0 };
	int r;

	if (!path_exists(mp))
		return uninstall_apply(ctx, pkg, k);
	/* checked before the journal: a refused uninstall must not stay "interrupted" */
	{
		_cleanup_kv_ struct dkm_kv man = { 0 };

		r = dkm_kv_read(mp, &man);
		if (r < 0)
			return dkm_err(ctx, r, "cannot read manifest '%s': %s", mp, strerror(-r));
		r = manifest_check(ctx, pkg, k, mp, &man);
		if (r < 0)
			return r;
	}
	dkm_kv_set(&j, "op", "uninstall");
	dkm_kv_set(&j, "package", pkg->name);
	dkm_kv_set(&j, "version", pkg->version);
	dkm_kv_set(&j, "arch", k->arch);
	r = journal_write(ctx, k->kver, &j);
	if (r < 0)
		return r;
	r = uninstall_apply(ctx, pkg, k);
	if (r >= 0)
		journal_remove(ctx, k->kver);
	return r;
}

/* Only one version of a package is installed for a kernel at a time: the version that is
 * (other than pkg's), if any, with its manifest. The install replaces it in one transaction. */
static int installed_other_version(struct dkm_ctx *ctx, const struct dkm_pkg *pkg,
				   const struct dkm_kernel *k, char **ret_version,
				   struct dkm_kv *ret_manifest)
{
	_cleanup_strv_free_ char **vers = dkm_pkg_versions(ctx, pkg->name);

	for (size_t i = 0; vers[i]; i++) {
		_cleanup_free_ char *mp = NULL;
		struct dkm_pkg other = { .name = pkg->name, .version = vers[i] };

		if (streq(vers[i], pkg->version))
			continue;
		mp = manifest_path(ctx, &other, k);
		if (dkm_kv_read(mp, ret_manifest) < 0)
			continue;
		*ret_version = xstrdup(vers[i]);
		return 1;
	}
	return 0;
}

/* Phase 2 of an install, also what recovery re-runs: archive displaced originals, rename the
 * staged files into place (or place them again from the artefacts if a staged file is gone),
 * drop our previous twins, record the manifest and the state. Every step is idempotent. */
static int install_commit(struct dkm_ctx *ctx, const struct dkm_kernel *k, struct dkm_kv *plan)
{
	const char *name = dkm_kv_get(plan, "package"), *ver = dkm_kv_get(plan, "version");
	_cleanup_free_ char *owner = xasprintf("%s/%s", strempty(name), strempty(ver));
	_cleanup_strv_free_ char **mods = strv_split(strempty(dkm_kv_get(plan, "modules")), " ");
	_cleanup_kv_ struct dkm_kv man = { 0 };
	_cleanup_inst_ struct dkm_inst inst = { 0 };
	_cleanup_free_ char *mp = NULL;
	_cleanup_strv_free_ char **own = NULL;
	int r;

	if (!name || !ver)
		return dkm_err(ctx, -EINVAL, "corrupt journal for %s: no package", k->kver);
	own = own_modules(ctx, k->kver);
	mp = dkm_ctx_pathf(ctx, "%s/packages/%s/%s/kernels/%s/%s/manifest", ctx->state_dir, name,
			   ver, k->kver, k->arch);
	dkm_kv_set(&man, "modules", strempty(dkm_kv_get(plan, "modules")));
	for (size_t i = 0; mods[i]; i++) {
		const char *m = mods[i];
		struct dkm_modrec rec;
		const char *src, *logical, *sha, *stage, *old, *oldsha, *displace, *stale;
		_cleanup_free_ char *target = NULL;
		_cleanup_strv_free_ char **disp = NULL, **twins = NULL;
		char cur[65];

		dkm_modrec_get(plan, m, &rec);
		src = rec.src;
		logical = rec.path;
		sha = rec.sha256;
		stage = rec.stage;
		old = rec.old;
		oldsha = rec.oldsha;
		displace = rec.displace;
		stale = rec.ours;
		if (isempty(src) || isempty(logical) || isempty(sha) || isempty(stage))
			return dkm_err(ctx, -EINVAL, "corrupt journal for %s: module '%s'", k->kver,
				       m);
		target = dkm_ctx_path(ctx, logical);

		disp = strv_split(strempty(displace), " ");
		for (size_t j = 0; disp[j]; j++) {
			r = archive_original(ctx, owner, k, m, disp[j], sha, own);
			if (r < 0)
				return r;
		}
		if (path_exists(stage)) {
			if (rename(stage, target) < 0)
				return dkm_err(ctx, errno, "cannot install '%s': %s", target,
					       strerror(errno));
			(void)fsync_parent(target);
		} else if (sha256_file(target, cur) < 0 || !streq(cur, sha)) {
			r = place_file(src, target);
			if (r < 0)
				return dkm_err(ctx, r, "cannot install '%s': %s", target,
					       strerror(-r));
		}
		/* our previous file under another name (other compression): the twin goes */
		if (!isempty(old) && !streq(old, logical) &&
		    manifest_entry_ok(k, old, strempty(oldsha))) {
			_cleanup_free_ char *of = dkm_ctx_path(ctx, old);

			if (regular_file_sha(of, cur) == 0 && streq(cur, strempty(oldsha))) {
				(void)unlink(of);
				prune_dirs(k, of);
			}
		}
		/* modules of this package that no valid manifest recorded ("<sha256>:<rel>"):
		 * ours, not the kernel's, so not archived; they go like the twin above */
		twins = strv_split(strempty(stale), " ");
		for (size_t j = 0; twins[j]; j++) {
			const char *colon = strchr(twins[j], ':');
			_cleanup_free_ char *want = NULL, *of = NULL;

			if (!colon || streq(colon + 1, logical + strlen(k->moddir_logical) + 1))
				continue;
			want = xstrndup(twins[j], (size_t)(colon - twins[j]));
			of = path_join(k->moddir, colon + 1);
			if (regular_file_sha(of, cur) == 0 && streq(cur, want)) {
				(void)unlink(of);
				prune_dirs(k, of);
			}
		}
		dkm_modrec_set(&man, m, &(struct dkm_modrec){ .path = logical, .sha256 = sha });
		dkm_notice(ctx, "  %s: installed '%s'", m, target);
	}
	/* modules of the replaced version that this one does not have: gone, originals back */
	{
		_cleanup_strv_free_ char **drops =
			strv_split(strempty(dkm_kv_get(plan, "drops")), " ");

		for (size_t i = 0; drops[i]; i++) {
			_cleanup_free_ char *kp = xasprintf("drop.%s.path", drops[i]);
			_cleanup_free_ char *ks = xasprintf("drop.%s.sha256", drops[i]);

			r = remove_placed(ctx, k, drops[i], dkm_kv_get(plan, kp),
					  dkm_kv_get(plan, ks));
			if (r >= 0)
				r = restore_original(ctx, k, drops[i]);
			if (r < 0)
				return r;
		}
	}
	r = dkm_kv_write(mp, &man);
	if (r < 0)
		return dkm_err(ctx, r, "cannot write manifest '%s': %s", mp, strerror(-r));
	if (!isempty(dkm_kv_get(plan, "replaces"))) {
		const char *pv = dkm_kv_get(plan, "replaces");
		_cleanup_free_ char *pmp =
			dkm_ctx_pathf(ctx, "%s/packages/%s/%s/kernels/%s/%s/manifest",
				      ctx->state_dir, name, pv, k->kver, k->arch);
		_cleanup_inst_ struct dkm_inst pinst = { 0 };

		(void)unlink(pmp);
		if (dkm_inst_load(ctx, name, pv, k->kver, k->arch, &pinst) > 0 &&
		    pinst.state == DKM_STATE_INSTALLED) {
			pinst.state = DKM_STATE_BUILT;
			(void)dkm_inst_save(ctx, name, pv, k->kver, k->arch, &pinst);
		}
	}
	r = dkm_inst_load(ctx, name, ver, k->kver, k->arch, &inst);
	if (r < 0)
		return dkm_err(ctx, r, "cannot read state of %s for %s", owner, k->kver);
	inst.state = DKM_STATE_INSTALLED;
	r = dkm_inst_save(ctx, name, ver, k->kver, k->arch, &inst);
	if (r < 0)
		return dkm_err(ctx, r, "cannot record state of %s for %s", owner, k->kver);
	return 1;
}

static void install_unstage(struct dkm_kv *plan)
{
	_cleanup_strv_free_ char **mods = strv_split(strempty(dkm_kv_get(plan, "modules")), " ");

	for (size_t i = 0; mods[i]; i++) {
		struct dkm_modrec rec;

		dkm_modrec_get(plan, mods[i], &rec);
		if (!isempty(rec.stage))
			(void)unlink(rec.stage);
	}
}

int dkm_install_check_location(struct dkm_ctx *ctx, const char *name, const char *version,
			       const struct dkm_kernel *k, const char *location)
{
	_cleanup_free_ char *bad = NULL;
	int r;

	if (isempty(location) || location[0] != '/')
		return dkm_err(
			ctx, -EINVAL,
			"cannot install %s/%s for %s: location '%s' is not an absolute directory below '%s'",
			name, version, k->kver, strempty(location), k->moddir);
	/* the target is reached through real directories of the module dir only: never
	 * through its build/ or source/ link (into the headers), nor any other link */
	r = dir_is_beneath(k, location + 1, &bad);
	if (r < 0)
		return dkm_err(
			ctx, r,
			"cannot install %s/%s for %s: '%s/%s' is %s: a module is installed only below '%s' through real directories (location '%s'); nothing was changed",
			name, version, k->kver, k->moddir, strempty(bad),
			r == -ELOOP ? "a symbolic link" : "not a directory", k->moddir, location);
	return 0;
}

int dkm_install_pkg(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k,
		    bool fresh)
{
	_cleanup_free_ char *instdir = dkm_inst_dir(ctx, pkg->name, pkg->version, k->kver, k->arch);
	_cleanup_free_ char *mp = manifest_path(ctx, pkg, k);
	_cleanup_inst_ struct dkm_inst inst = { 0 };
	_cleanup_kv_ struct dkm_kv old = { 0 }, plan = { 0 };
	_cleanup_strv_free_ char **mods = NULL, **own = NULL;
	_cleanup_free_ char *prev_version = NULL;
	int r;

	r = dkm_inst_load(ctx, pkg->name, pkg->version, k->kver, k->arch, &inst);
	if (r < 0)
		return dkm_err(ctx, r, "cannot read state of %s/%s for %s", pkg->name, pkg->version,
			       k->kver);
	if (!dkm_state_has_build(inst.state))
		return dkm_err(ctx, -ENOENT, "%s/%s is not built for %s", pkg->name, pkg->version,
			       k->kver);
	mods = strv_split(strempty(dkm_kv_get(&inst.kv, "modules")), " ");
	if (dkm_kv_read(mp, &old) < 0) {
		/* another version installed: its files are our "previous" ones, replaced in
		 * this transaction (never removed before the new ones are in place) */
		dkm_kv_done(&old);
		if (installed_other_version(ctx, pkg, k, &prev_version, &old) > 0) {
			_cleanup_strv_free_ char **pmods =
				strv_split(strempty(dkm_kv_get(&old, "modules")), " ");
			_cleanup_strv_free_ char **drops = xcalloc(1, sizeof(char *));

			dkm_notice(ctx, "%s/%s replaces %s/%s for %s", pkg->name, pkg->version,
				   pkg->name, prev_version, k->kver);
			for (size_t i = 0; pmods[i]; i++) {
				struct dkm_modrec prev;
				_cleanup_free_ char *dp = xasprintf("drop.%s.path", pmods[i]);
				_cleanup_free_ char *ds = xasprintf("drop.%s.sha256", pmods[i]);

				if (strv_contains(mods, pmods[i]))
					continue;
				strv_extend(&drops, pmods[i]);
				dkm_modrec_get(&old, pmods[i], &prev);
				dkm_kv_set(&plan, dp, strempty(prev.path));
				dkm_kv_set(&plan, ds, strempty(prev.sha256));
			}
			{
				_cleanup_free_ char *dl = strv_join(drops, " ");

				dkm_kv_set(&plan, "drops", dl);
			}
			dkm_kv_set(&plan, "replaces", prev_version);
		}
	}

	/* nothing to do if every file we placed is still there and identical to the artefact */
	if (!fresh && inst.state == DKM_STATE_INSTALLED && old.n > 0 && !prev_version) {
		bool same = true;

		for (size_t i = 0; mods[i] && same; i++) {
			struct dkm_modrec placed, built;
			const char *p, *s2;
			_cleanup_free_ char *full = NULL;
			char cur[65];

			dkm_modrec_get(&old, mods[i], &placed);
			dkm_modrec_get(&inst.kv, mods[i], &built);
			p = placed.path;
			s2 = placed.sha256;
			full = p ? dkm_ctx_path(ctx, p) : NULL;
			same = p && s2 && streq(strempty(built.sha256), s2) &&
			       sha256_file(full, cur) == 0 && streq(cur, s2);
		}
		if (same)
			return 0;
	}

	/* plan: what goes where, what is displaced; refuse conflicts before touching anything */
	own = own_modules(ctx, k->kver);
	dkm_kv_set(&plan, "op", "install");
	dkm_kv_set(&plan, "package", pkg->name);
	dkm_kv_set(&plan, "version", pkg->version);
	dkm_kv_set(&plan, "arch", k->arch);
	dkm_kv_set(&plan, "phase", "stage");
	dkm_kv_set(&plan, "modules", strempty(dkm_kv_get(&inst.kv, "modules")));
	for (size_t i = 0; mods[i]; i++) {
		const char *m = mods[i];
		struct dkm_modrec built, placed;
		const char *file, *loc, *oldpath, *newsha;
		_cleanup_free_ char *src = NULL, *logical = NULL, *target = NULL, *owner = NULL;
		_cleanup_free_ char *stage = NULL, *displace = NULL, *tdir = NULL;
		_cleanup_free_ char *twins = NULL;
		_cleanup_strv_free_ char **existing = NULL, **disp = NULL, **ours = NULL;

		dkm_modrec_get(&inst.kv, m, &built);
		dkm_modrec_get(&old, m, &placed);
		file = built.file;
		loc = built.location;
		oldpath = placed.path;
		newsha = built.sha256;
		if (isempty(file) || isempty(loc) || !name_is_valid(file) || loc[0] != '/' ||
		    strstr(loc, "..") || isempty(newsha))
			return dkm_err(ctx, -EINVAL, "corrupt state of %s/%s for %s: module '%s'",
				       pkg->name, pkg->version, k->kver, m);
		/* a previous install's entry is trusted only as install writes it */
		if (oldpath && !manifest_entry_ok(k, oldpath, placed.sha256))
			oldpath = NULL;
		r = dkm_install_check_location(ctx, pkg->name, pkg->version, k, loc);
		if (r < 0)
			return r;
		src = xasprintf("%s/modules/%s", instdir, file);
		logical = xasprintf("%s%s/%s", k->moddir_logical, loc, file);
		target = dkm_ctx_path(ctx, logical);
		tdir = path_dirname(target);
		stage = xasprintf("%s/.%s.dkm-hook-new", tdir, file);
		owner = other_owner(ctx, pkg, k, logical);
		if (owner)
			return dkm_err(
				ctx, -EBUSY,
				"cannot install %s/%s for %s: '%s' belongs to %s: uninstall it first ('dkm-hook uninstall %s -k %s')",
				pkg->name, pkg->version, k->kver, target, owner, owner, k->kver);

		/* a module of the same name elsewhere in the tree is displaced: archive it */
		existing = find_modules_named(k, m);
		{
			/* also files at our target dir with another suffix, even if not indexed */
			static const char *const sfx[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };

			for (size_t x = 0; x < ELEMENTSOF(sfx); x++) {
				_cleanup_free_ char *rel = xasprintf("%s/%s%s", loc + 1, m, sfx[x]);
				_cleanup_free_ char *full = path_join(k->moddir, rel);

				struct stat st;

				if (lstat(full, &st) == 0 && !strv_contains(existing, rel))
					strv_extend(&existing, rel);
			}
		}
		disp = xcalloc(1, sizeof(char *));
		ours = xcalloc(1, sizeof(char *));
		for (size_t j = 0; existing[j]; j++) {
			_cleanup_free_ char *el =
				xasprintf("%s/%s", k->moddir_logical, existing[j]);
			_cleanup_free_ char *ef = path_join(k->moddir, existing[j]);
			_cleanup_free_ char *edir = path_dirname(existing[j]);
			_cleanup_free_ char *eo = NULL, *bad = NULL;
			const char *whose;
			char sha[65];

			r = dir_is_beneath(k, streq(edir, ".") ? "" : edir, &bad);
			if (r < 0)
				return dkm_err(
					ctx, r,
					"cannot install %s/%s for %s: module '%s' at '%s' is reached through '%s/%s', %s: dkm-hook moves only files below '%s' through real directories; move it away and run the command again; nothing was changed",
					pkg->name, pkg->version, k->kver, m, ef, k->moddir,
					strempty(bad),
					r == -ELOOP ? "a symbolic link" : "not a directory",
					k->moddir);
			r = regular_file_sha(ef, sha);
			if (r == -ENOENT)
				continue; /* stale index entry */
			if (r == -ELOOP || r == -EISDIR || r == -EINVAL)
				return dkm_err(
					ctx, -EINVAL,
					"cannot install %s/%s for %s: '%s' (where module '%s' would be displaced) is %s: dkm-hook archives only regular files, which it can restore exactly; move it out of the module tree and run the command again; nothing was changed",
					pkg->name, pkg->version, k->kver, ef, m, kind_of(r));
			if (r < 0)
				return dkm_err(ctx, r, "cannot read '%s': %s", ef, strerror(-r));
			if (oldpath && streq(el, oldpath))
				continue; /* our own previous install: replaced below */
			eo = other_owner(ctx, pkg, k, el);
			if (eo)
				return dkm_err(
					ctx, -EBUSY,
					"cannot install %s/%s for %s: module '%s' is installed by %s at '%s': uninstall it first ('dkm-hook uninstall %s -k %s')",
					pkg->name, pkg->version, k->kver, m, eo, ef, eo, k->kver);
			if (strchr(existing[j], ' ') || strchr(existing[j], ':'))
				return dkm_err(
					ctx, -EINVAL,
					"cannot displace '%s': a space or ':' in a module path is not supported",
					ef);
			/* a module we built (its sha256), that no valid manifest records (damaged,
			 * or lost): ours, never archived as the kernel's */
			whose = streq(sha, newsha) ? "" : own_module_of(own, sha);
			if (whose) {
				size_t nl = strcspn(whose, "/");

				if (*whose && !(strneq(whose, pkg->name, nl) && pkg->name[nl] == 0))
					return dkm_err(
						ctx, -EBUSY,
						"cannot install %s/%s for %s: '%s' is a module built by dkm-hook for %s (its sha256), but no valid manifest records it: nothing was changed; run 'dkm-hook fsck' and 'dkm-hook install %s -k %s --force'",
						pkg->name, pkg->version, k->kver, ef, whose, whose,
						k->kver);
				dkm_notice(ctx,
					   "  %s: '%s' is a module of %s (its sha256) that no manifest records: replaced, not archived",
					   m, el, *whose ? whose : pkg->name);
				strv_push(&ours, xasprintf("%s:%s", sha, existing[j]));
				continue;
			}
			strv_extend(&disp, existing[j]);
		}
		/* one original per module name is archived (and restored): a second file to
		 * displace, or one beside an original archived already, is refused now, before
		 * anything changes, not halfway through the commit */
		if (disp[0]) {
			_cleanup_free_ char *norm = normalize(m);
			_cleanup_free_ char *odir = originals_dir(ctx, k->kver);
			_cleanup_free_ char *rec = xasprintf("%s/%s.record", odir, norm);
			_cleanup_kv_ struct dkm_kv rkv = { 0 };
			_cleanup_free_ char *first = xasprintf("%s/%s", k->moddir_logical, disp[0]);
			_cleanup_free_ char *second = NULL;
			const char *archived = NULL;

			if (dkm_kv_read(rec, &rkv) == 0)
				archived = dkm_kv_get(&rkv, "path");
			if (disp[1])
				second = xasprintf("%s/%s", k->moddir_logical, disp[1]);
			else if (archived && !streq(archived, first))
				second = xasprintf("%s (archived in '%s')", archived, rec);
			if (second)
				return dkm_err(
					ctx, -EEXIST,
					"cannot install %s/%s for %s: module '%s' would displace both '%s' and '%s': dkm-hook archives one original per module, to restore it exactly; remove the one that is not the kernel's and run the command again; nothing was changed",
					pkg->name, pkg->version, k->kver, m, first, second);
		}
		displace = strv_join(disp, " ");
		twins = strv_join(ours, " ");
		dkm_modrec_set(&plan, m,
			       &(struct dkm_modrec){
				       .src = strempty(src),
				       .path = strempty(logical),
				       .sha256 = strempty(newsha),
				       .stage = strempty(stage),
				       .old = strempty(oldpath),
				       .oldsha = strempty(placed.sha256),
				       .displace = strempty(displace),
				       .ours = strempty(twins),
			       });
	}

	/* phase 1: stage every new file next to its target; nothing visible changes, and a
	 * failure here (ENOSPC, EIO) leaves the tree exactly as it was */
	r = journal_write(ctx, k->kver, &plan);
	if (r < 0)
		return r;
	for (size_t i = 0; mods[i]; i++) {
		struct dkm_modrec rec;
		const char *stage;

		dkm_modrec_get(&plan, mods[i], &rec);
		stage = rec.stage;
		r = place_file(rec.src, stage);
		if (r < 0) {
			dkm_err(ctx, r,
				"cannot install %s/%s for %s: writing '%s' failed: %s; nothing was changed",
				pkg->name, pkg->version, k->kver, stage, strerror(-r));
			install_unstage(&plan);
			journal_remove(ctx, k->kver);
			return r;
		}
	}
	/* phase 2: from here on the next run finishes what we started */
	dkm_kv_set(&plan, "phase", "commit");
	r = journal_write(ctx, k->kver, &plan);
	if (r < 0) {
		install_unstage(&plan);
		journal_remove(ctx, k->kver);
		return r;
	}
	r = install_commit(ctx, k, &plan);
	if (r < 0)
		return r;
	journal_remove(ctx, k->kver);
	return 1;
}

enum dkm_recovery dkm_install_recovery_decide(const struct dkm_kv *journal)
{
	const char *op = strempty(dkm_kv_get(journal, "op"));
	const char *phase = strempty(dkm_kv_get(journal, "phase"));

	if (streq(op, "install"))
		return streq(phase, "stage") ? DKM_RECOVERY_ROLL_BACK : DKM_RECOVERY_FINISH_INSTALL;
	if (streq(op, "uninstall") && dkm_kv_get(journal, "package") &&
	    dkm_kv_get(journal, "version"))
		return DKM_RECOVERY_FINISH_UNINSTALL;
	return DKM_RECOVERY_CORRUPT;
}

static int recover_journal(struct dkm_ctx *ctx, const struct dkm_kernel *k)
{
	_cleanup_free_ char *j = journal_path(ctx, k->kver);
	_cleanup_kv_ struct dkm_kv plan = { 0 };
	const char *op;
	int r;

	r = dkm_kv_read(j, &plan);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return dkm_err(ctx, r, "cannot read journal '%s': %s", j, strerror(-r));
	op = strempty(dkm_kv_get(&plan, "op"));
	switch (dkm_install_recovery_decide(&plan)) {
	case DKM_RECOVERY_ROLL_BACK:
		dkm_notice(ctx, "%s: rolling back an interrupted install of %s/%s", k->kver,
			   strempty(dkm_kv_get(&plan, "package")),
			   strempty(dkm_kv_get(&plan, "version")));
		install_unstage(&plan);
		r = 0;
		break;
	case DKM_RECOVERY_FINISH_INSTALL:
		dkm_notice(ctx, "%s: finishing an interrupted install of %s/%s", k->kver,
			   strempty(dkm_kv_get(&plan, "package")),
			   strempty(dkm_kv_get(&plan, "version")));
		r = install_commit(ctx, k, &plan);
		break;
	case DKM_RECOVERY_FINISH_UNINSTALL: {
		struct dkm_pkg p = { .name = (char *)dkm_kv_get(&plan, "package"),
				     .version = (char *)dkm_kv_get(&plan, "version") };

		dkm_notice(ctx, "%s: finishing an interrupted uninstall of %s/%s", k->kver, p.name,
			   p.version);
		r = uninstall_apply(ctx, &p, k);
		/* killed after the manifest went, before the state was written */
		if (r == 0)
			r = uninstall_mark_built(ctx, &p, k);
		break;
	}
	default:
		if (streq(op, "uninstall"))
			return dkm_err(ctx, -EINVAL, "corrupt journal '%s'", j);
		return dkm_err(ctx, -EINVAL, "corrupt journal '%s': op='%s'", j, op);
	}
	if (r < 0)
		return r;
	journal_remove(ctx, k->kver);
	return 1;
}

int dkm_install_recover(struct dkm_ctx *ctx, const char *kver, bool run_depmod)
{
	_cleanup_free_ char *j = journal_path(ctx, kver);
	_cleanup_kv_ struct dkm_kv plan = { 0 };
	struct dkm_kernel *k = NULL;
	int r;

	if (!dkm_depmod_pending(ctx, kver))
		return 0;
	(void)dkm_kv_read(j, &plan);
	r = dkm_kernel_probe(ctx, kver, dkm_kv_get(&plan, "arch"), NULL, &k);
	if (r < 0)
		return r;
	if (!is_dir(k->moddir)) {
		/* the kernel is gone: nothing to finish in its tree */
		_cleanup_free_ char *m = depmod_marker(ctx, kver);

		journal_remove(ctx, kver);
		(void)unlink(m);
		dkm_kernel_free(k);
		return 0;
	}
	r = recover_journal(ctx, k);
	if (r >= 0 && run_depmod) {
		dkm_notice(ctx, "depmod %s (owed by an interrupted command)", kver);
		r = dkm_depmod(ctx, k);
	}
	dkm_kernel_free(k);
	return r < 0 ? r : 1;
}

static int stat_ino(const char *path, struct stat *st)
{
	if (stat(path, st) < 0) {
		memset(st, 0, sizeof(*st));
		return -errno;
	}
	return 0;
}

/* every installed module of ours for this kernel must resolve to our file */
static int check_index(struct dkm_ctx *ctx, const struct dkm_kernel *k)
{
	struct kmod_ctx *kctx;
	struct dkm_pkg **l;
	size_t n;
	int r = 0;
	const char *null_config[] = { NULL };

	kctx = kmod_new(k->moddir, null_config);
	if (!kctx)
		return dkm_err(ctx, -ENOMEM, "cannot open module index of '%s'", k->moddir);
	dkm_pkg_list(ctx, &l, &n);
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *mp = manifest_path(ctx, l[i], k);
		_cleanup_kv_ struct dkm_kv man = { 0 };
		_cleanup_strv_free_ char **mods = NULL;

		if (dkm_kv_read(mp, &man) < 0)
			continue;
		mods = strv_split(strempty(dkm_kv_get(&man, "modules")), " ");
		for (size_t j = 0; mods[j] && r >= 0; j++) {
			struct dkm_modrec rec;
			_cleanup_free_ char *want = NULL;
			_cleanup_free_ char *norm = normalize(mods[j]);
			struct kmod_module *mod = NULL;
			const char *got;

			dkm_modrec_get(&man, mods[j], &rec);
			want = dkm_ctx_path(ctx, rec.path ?: "/");
			if (kmod_module_new_from_name(kctx, norm, &mod) < 0)
				continue;
			got = kmod_module_get_path(mod);
			if (!got || !streq(got, want))
				r = dkm_err(
					ctx, -EIO,
					"depmod did not index '%s': module '%s' resolves to '%s'%s",
					want, mods[j], got ? got : "nothing",
					endswith(want, ".gz") && !got
						? ": this kmod cannot read .ko.gz (built without zlib, as on Debian 12): set compress=xz or compress=zstd in dkm-hook.conf"
						: " (a depmod.d rule may override it)");
			kmod_module_unref(mod);
		}
	}
	dkm_pkg_list_free(l, n);
	kmod_unref(kctx);
	return r;
}

int dkm_depmod(struct dkm_ctx *ctx, const struct dkm_kernel *k)
{
	_cleanup_free_ char *dep = path_join(k->moddir, "modules.dep");
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_close_ int out = -1;
	struct stat before, after;
	struct dkm_spawn s = { .stdin_fd = -1, .stderr_fd = -3 };
	int status = 0, r;
	char desc[64];

	(void)stat_ino(dep, &before);
	argv = xcalloc(1, sizeof(char *));
	strv_extend(&argv, "depmod");
	strv_extend(&argv, "-a");
	if (!dkm_ctx_is_host_root(ctx)) {
		static const char *const confdirs[] = { "/etc/depmod.d", "/run/depmod.d",
							"/usr/local/lib/depmod.d",
							"/lib/depmod.d" };

		strv_extend(&argv, "-b");
		strv_extend(&argv, ctx->root);
		/* -b does not move depmod's config: name the root's own (missing ones are
		 * ignored, and naming any keeps the host's out) */
		for (size_t i = 0; i < ELEMENTSOF(confdirs); i++) {
			strv_extend(&argv, "-C");
			strv_push(&argv, dkm_ctx_path(ctx, confdirs[i]));
		}
	}
	strv_extend(&argv, k->kver);
	out = memfd_create("depmod-output", MFD_CLOEXEC);
	s.argv = argv;
	s.stdout_fd = out >= 0 ? out : -1;
	dkm_info(ctx, "running depmod for %s", k->kver);
	r = dkm_spawn_run(ctx, &s, &status);
	if (r != 0 || stat_ino(dep, &after) < 0 ||
	    (after.st_ino == before.st_ino && after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
	     after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)) {
		char buf[4096] = "";
		ssize_t got = out >= 0 ? pread(out, buf, sizeof(buf) - 1, 0) : 0;

		buf[got > 0 ? got : 0] = 0;
		if (r < 0)
			return r;
		return dkm_err(ctx, -EIO, "depmod for %s failed (%s): '%s' was not written%s%s",
			       k->kver,
			       r > 0 ? dkm_spawn_describe(status, desc, sizeof(desc))
				     : "it exited 0",
			       dep, buf[0] ? ": " : "", strstrip(buf));
	}
	r = check_index(ctx, k);
	if (r >= 0) {
		_cleanup_free_ char *m = depmod_marker(ctx, k->kver);

		(void)unlink(m);
	}
	return r;
}
