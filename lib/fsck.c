/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `fsck [--repair]`: compare the state tree, the manifests (path, sha256) and the module tree;
 * report, and with --repair fix: interrupted transactions, missing or changed installed files,
 * orphaned staging files, a displaced original that nothing displaces any more, a depmod
 * that is owed, an interrupted add, remove or unbuild. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions.h"
#include "ctx.h"
#include "fsck.h"
#include "install.h"
#include "kernel.h"
#include "lock.h"
#include "registry.h"
#include "util.h"

struct fsck {
	struct dkm_ctx *ctx;
	bool repair;
	dkm_fsck_report_fn report;
	void *userdata;
	unsigned problems;
	unsigned repaired;
	char **dirty; /* kernels needing depmod after repair */
};

/* one line of the report, to the caller's report function */
static void say(struct fsck *f, enum dkm_fsck_item item, const char *fmt, ...) _printf_(3, 4);
static void say(struct fsck *f, enum dkm_fsck_item item, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (f->report)
		f->report(f->userdata, item, msg);
}

static void problem(struct fsck *f, bool fixed, const char *fmt, ...) _printf_(3, 4);
static void problem(struct fsck *f, bool fixed, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	f->problems++;
	if (fixed)
		f->repaired++;
	say(f, fixed ? DKM_FSCK_REPAIRED : DKM_FSCK_PROBLEM, "%s", msg);
}

static void mark_dirty(struct fsck *f, const char *kver)
{
	if (!strv_contains(f->dirty, kver))
		strv_extend(&f->dirty, kver);
}

/* orphaned staging files left by an interrupted write: ".<file>.dkm-hook-new", ".#<file>XXXXXX" */
static int orphan_cb(const char *path, const char *b, void *userdata)
{
	struct fsck *f = userdata;

	if (!(b[0] == '.' && (endswith(b, ".dkm-hook-new") || b[1] == '#')))
		return 0;
	problem(f, f->repair && unlink(path) == 0, "orphaned staging file '%s'", path);
	return 0;
}

/* in a kernel's module tree, and in the state tree (a state file's write killed before its
 * rename) */
static void check_orphans(struct fsck *f, const char *dir)
{
	if (is_dir(dir))
		(void)walk_files(dir, orphan_cb, f);
}

static void check_instance(struct fsck *f, const struct dkm_pkg *p, const char *kver,
			   const char *arch)
{
	struct dkm_ctx *ctx = f->ctx;
	_cleanup_free_ char *dir = dkm_inst_dir(ctx, p->name, p->version, kver, arch);
	_cleanup_free_ char *mp = path_join(dir, "manifest");
	_cleanup_kv_ struct dkm_kv man = { 0 };
	_cleanup_inst_ struct dkm_inst inst = { 0 };
	_cleanup_strv_free_ char **mods = NULL;
	int r;

	r = dkm_inst_load(ctx, p->name, p->version, kver, arch, &inst);
	if (r < 0) {
		problem(f, false, "%s/%s, %s: state file unreadable in '%s': %s", p->name,
			p->version, kver, dir, strerror(-r));
		return;
	}
	r = dkm_manifest_validate(ctx, kver, mp, NULL);
	if (r == -ENOENT) {
		if (inst.state == DKM_STATE_INSTALLED)
			problem(f, false,
				"%s/%s, %s: state says installed but the manifest '%s' is missing: run 'dkm-hook install %s/%s -k %s --force'",
				p->name, p->version, kver, mp, p->name, p->version, kver);
		return;
	}
	if (r < 0) {
		/* never trusted, never guessed: written again only from the build, when the
		 * installed files are provably the build's */
		_cleanup_free_ char *why = NULL, *cannot = NULL;
		bool fixed = false;

		(void)dkm_manifest_validate(ctx, kver, mp, &why);
		if (f->repair) {
			r = dkm_manifest_rebuild(ctx, p->name, p->version, kver, arch, &cannot);
			fixed = r > 0;
			if (r < 0)
				cannot = xasprintf("cannot write it: %s", strerror(-r));
		}
		problem(f, fixed, "%s/%s, %s: manifest '%s' is damaged: %s%s%s%s", p->name,
			p->version, kver, mp, strempty(why),
			fixed ? ": written again from the build" : "",
			cannot ? ": not repaired: " : "", strempty(cannot));
		if (!fixed) {
			say(f, DKM_FSCK_HINT,
			    "'dkm-hook install %s/%s -k %s' (it installs the build again: a module of ours is replaced, never archived as the kernel's), then 'dkm-hook fsck'",
			    p->name, p->version, kver);
			return;
		}
	}
	if (dkm_kv_read(mp, &man) < 0)
		return;
	mods = strv_split(strempty(dkm_kv_get(&man, "modules")), " ");
	for (size_t i = 0; mods[i]; i++) {
		struct dkm_modrec placed, built;
		const char *logical, *sha, *file, *art_sha;
		_cleanup_free_ char *full = NULL, *art = NULL;
		char cur[65];
		bool can_fix;

		dkm_modrec_get(&man, mods[i], &placed);
		dkm_modrec_get(&inst.kv, mods[i], &built);
		logical = placed.path;
		sha = placed.sha256;
		file = built.file;
		art_sha = built.sha256;

		if (isempty(logical) || isempty(sha)) {
			problem(f, false, "%s/%s, %s: manifest '%s' has no path for module '%s'",
				p->name, p->version, kver, mp, mods[i]);
			continue;
		}
		full = dkm_ctx_path(ctx, logical);
		r = sha256_file(full, cur);
		if (r >= 0 && streq(cur, sha))
			continue;
		/* the artefact in the state tree is what we installed: put it back */
		art = file ? xasprintf("%s/modules/%s", dir, file) : NULL;
		can_fix = f->repair && art && art_sha && streq(art_sha, sha) &&
			  sha256_file(art, cur) == 0 && streq(cur, sha);
		if (can_fix) {
			_cleanup_free_ char *data = NULL;
			size_t len;

			can_fix = read_full_file(art, (size_t)1 << 30, &data, &len) == 0 &&
				  mkdir_parents(full, 0755) == 0 &&
				  write_file_atomic(full, data, len, 0644) == 0;
			if (can_fix)
				mark_dirty(f, kver);
		}
		problem(f, can_fix, "%s/%s, %s: installed module %s: '%s'", p->name, p->version,
			kver, r == -ENOENT ? "is missing" : "differs from what dkm-hook installed",
			full);
	}
}

/* A registration that cannot be read hides its package from every command (dkm_pkg_list
 * skips it, with a warning): its builds, its manifests and its installed modules are no
 * longer managed. Named here, never guessed or deleted: only registering it again can say
 * what it was. */
static void check_registrations(struct fsck *f)
{
	struct dkm_ctx *ctx = f->ctx;
	_cleanup_damaged_ struct dkm_damaged *bad = dkm_pkg_damaged(ctx);

	for (const struct dkm_damaged *b = bad; b->name; b++) {
		_cleanup_free_ char *src =
			dkm_ctx_pathf(ctx, "%s/%s-%s", ctx->source_tree, b->name, b->version);

		problem(f, false,
			"%s/%s: registration '%s/package' is %s: the package, its builds and the modules it installed are not managed",
			b->name, b->version, b->dir, b->why);
		if (is_dir(src))
			say(f, DKM_FSCK_HINT, "'dkm-hook add %s/%s' registers it again from '%s'",
			    b->name, b->version, src);
		else
			say(f, DKM_FSCK_HINT,
			    "register it again with 'dkm-hook add <its source dir>' (or 'dkm-hook import-binary <file>' for an imported build)");
	}
}

/* an archived original whose module no package of ours installs any more goes back */
static void check_originals(struct fsck *f, const char *kver)
{
	struct dkm_ctx *ctx = f->ctx;
	_cleanup_free_ char *odir =
		dkm_ctx_pathf(ctx, "%s/kernels/%s/originals", ctx->state_dir, kver);
	struct dirent *de;
	DIR *d = opendir(odir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		_cleanup_free_ char *rec = NULL, *file = NULL, *target = NULL, *mod = NULL;
		_cleanup_kv_ struct dkm_kv kv = { 0 };
		_cleanup_strv_free_ char **owners = NULL;
		bool displaced = false;
		const char *logical;

		if (!endswith(de->d_name, ".record"))
			continue;
		mod = xstrndup(de->d_name, strlen(de->d_name) - strlen(".record"));
		rec = path_join(odir, de->d_name);
		file = xasprintf("%s/%s.file", odir, mod);
		if (dkm_kv_read(rec, &kv) < 0 || isempty(dkm_kv_get(&kv, "path"))) {
			problem(f, false, "unreadable record of a displaced module: '%s'", rec);
			continue;
		}
		logical = dkm_kv_get(&kv, "path");
		target = dkm_ctx_path(ctx, logical);
		owners = dkm_pkg_owners_of_module(ctx, mod);
		for (size_t i = 0; owners[i] && !displaced; i++) {
			_cleanup_free_ char *name = xstrndup(owners[i], strcspn(owners[i], "/"));
			const char *ver = strchr(owners[i], '/') + 1;
			_cleanup_strv_free_ char **insts = dkm_inst_list(ctx, name, ver);

			for (size_t j = 0; insts[j]; j++) {
				_cleanup_free_ char *kv2 =
					xstrndup(insts[j], strcspn(insts[j], "\t"));
				_cleanup_free_ char *idir = NULL, *man = NULL;

				if (!streq(kv2, kver))
					continue;
				idir = dkm_inst_dir(ctx, name, ver, kver,
						    strchr(insts[j], '\t') + 1);
				man = path_join(idir, "manifest");
				displaced = displaced || path_exists(man);
			}
		}
		if (displaced)
			continue;
		if (!path_exists(file)) {
			if (path_exists(target)) {
				problem(f, f->repair && unlink(rec) == 0,
					"stale record of displaced module '%s' (the original is in place): '%s'",
					mod, rec);
			} else
				problem(f, false,
					"the displaced original of '%s' is lost: '%s' and its archive '%s' are both missing",
					mod, target, file);
			continue;
		}
		{
			bool fixed = false;

			if (f->repair && !path_exists(target) && mkdir_parents(target, 0755) == 0 &&
			    rename(file, target) == 0) {
				(void)unlink(rec);
				mark_dirty(f, kver);
				fixed = true;
			}
			problem(f, fixed, "displaced original of '%s' not restored to '%s'%s%s%s",
				mod, target,
				!fixed && path_exists(target)
					? ": another file is at that path now: move it away (the original is archived as '"
					: "",
				!fixed && path_exists(target) ? file : "",
				!fixed && path_exists(target)
					? "'), then run 'dkm-hook fsck --repair'"
					: "");
		}
	}
	closedir(d);
}

/* <source_tree>/.dkm-hook-add: add stages its copies there and removes it when done; an add
 * killed midway leaves it (with a half copy, or empty) */
static void check_add_staging(struct fsck *f)
{
	_cleanup_free_ char *dir = dkm_ctx_pathf(f->ctx, "%s/.dkm-hook-add", f->ctx->source_tree);
	struct stat st;

	if (lstat(dir, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		problem(f, false,
			"'%s' is not a directory of ours (add stages its copies there): remove it",
			dir);
		return;
	}
	problem(f, f->repair && rm_rf(dir) >= 0, "staging directory of an interrupted add '%s'",
		dir);
}

int dkm_action_fsck(struct dkm_ctx *ctx, const struct dkm_opts *o, bool repair,
		    dkm_fsck_report_fn report, void *userdata, struct dkm_fsck_result *ret)
{
	struct fsck f = { .ctx = ctx, .repair = repair, .report = report, .userdata = userdata };
	_cleanup_free_ char *kdir = dkm_ctx_pathf(ctx, "%s/kernels", ctx->state_dir);
	_cleanup_free_ char *lockp = dkm_ctx_pathf(ctx, "%s/lock", ctx->state_dir);
	_cleanup_strv_free_ char **kvers = NULL;
	struct dkm_pkg **l = NULL;
	_cleanup_close_ int lock_fd = -1;
	size_t n = 0;
	int r;

	if (repair) {
		lock_fd = dkm_lock_take(ctx);
		if (lock_fd < 0)
			return lock_fd;
	} else {
		/* report only: never block, but say if someone is working right now */
		_cleanup_close_ int fd = open(lockp, O_RDONLY | O_CLOEXEC);

		if (fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
			say(&f, DKM_FSCK_NOTE,
			    "another dkm-hook command holds '%s': what follows may be in flux",
			    lockp);
	}
	/* kernels we know of: the module trees, and the state tree's per-kernel dirs */
	kvers = dkm_kernel_list(ctx);
	{
		struct dirent *de;
		DIR *d = opendir(kdir);

		while (d && (de = readdir(d)))
			if (de->d_name[0] != '.' && name_is_valid(de->d_name) &&
			    !strv_contains(kvers, de->d_name))
				strv_extend(&kvers, de->d_name);
		if (d)
			closedir(d);
	}
	for (size_t i = 0; kvers[i]; i++) {
		if (dkm_depmod_pending(ctx, kvers[i])) {
			if (repair) {
				r = dkm_install_recover(ctx, kvers[i], false);
				problem(&f, r >= 0,
					"%s: an interrupted transaction or a depmod is pending",
					kvers[i]);
				if (r >= 0)
					mark_dirty(&f, kvers[i]);
			} else
				problem(&f, false,
					"%s: an interrupted transaction or a depmod is pending: run 'dkm-hook fsck --repair'",
					kvers[i]);
		}
		{
			_cleanup_free_ char *moddir =
				dkm_ctx_pathf(ctx, "%s/%s", ctx->module_dir, kvers[i]);

			check_orphans(&f, moddir);
		}
	}
	/* an add, remove or unbuild interrupted: before the packages are looked at */
	{
		_cleanup_strv_free_ char **found = NULL;

		r = dkm_pkg_recover(ctx, repair, &found);
		if (r < 0)
			problem(&f, false,
				"cannot finish an interrupted add, remove or unbuild: %s",
				strerror(-r));
		for (size_t i = 0; found && found[i]; i++)
			problem(&f, repair, "%s%s", found[i],
				repair ? "" : ": run 'dkm-hook fsck --repair'");
	}
	check_add_staging(&f);
	check_registrations(&f);
	dkm_pkg_list(ctx, &l, &n);
	for (size_t i = 0; i < n; i++) {
		_cleanup_strv_free_ char **insts = dkm_inst_list(ctx, l[i]->name, l[i]->version);
		_cleanup_free_ char *src = dkm_ctx_path(ctx, l[i]->source);

		if (!is_dir(src))
			problem(&f, false, "%s/%s: source '%s' is missing (state broken)",
				l[i]->name, l[i]->version, src);
		for (size_t j = 0; insts[j]; j++) {
			_cleanup_free_ char *kv = xstrndup(insts[j], strcspn(insts[j], "\t"));

			check_instance(&f, l[i], kv, strchr(insts[j], '\t') + 1);
		}
	}
	dkm_pkg_list_free(l, n);
	{
		_cleanup_free_ char *state = dkm_ctx_path(ctx, ctx->state_dir);

		check_orphans(&f, state);
	}
	for (size_t i = 0; kvers[i]; i++)
		check_originals(&f, kvers[i]);
	for (size_t i = 0; repair && f.dirty && f.dirty[i]; i++) {
		struct dkm_kernel *k = NULL;

		if (dkm_kernel_probe(ctx, f.dirty[i], o->arch, NULL, &k) >= 0) {
			if (is_dir(k->moddir) && dkm_depmod(ctx, k) >= 0)
				say(&f, DKM_FSCK_REPAIRED, "%s: depmod ran", f.dirty[i]);
			dkm_kernel_free(k);
		}
	}
	strv_free(f.dirty);
	*ret = (struct dkm_fsck_result){ .problems = f.problems, .repaired = f.repaired };
	return 0;
}
