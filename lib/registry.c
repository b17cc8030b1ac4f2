/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "kernel.h"
#include "registry.h"
#include "util.h"

void dkm_kv_parse(const char *text, size_t len, struct dkm_kv *kv)
{
	_cleanup_free_ char *s = xstrndup(text, len);

	for (char *line = s, *next; line && *line; line = next) {
		char *eq;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		eq = strchr(line, '=');
		if (!eq || line[0] == '#')
			continue;
		*eq = 0;
		dkm_kv_set(kv, line, eq + 1);
	}
}

int dkm_kv_read(const char *path, struct dkm_kv *ret)
{
	_cleanup_free_ char *data = NULL;
	struct dkm_kv kv = { 0 };
	size_t len;
	int r;

	r = read_full_file(path, 1 << 20, &data, &len);
	if (r < 0)
		return r;
	dkm_kv_parse(data, len, &kv);
	*ret = kv;
	return 0;
}

int dkm_kv_write(const char *path, const struct dkm_kv *kv)
{
	size_t len = 0;
	_cleanup_free_ char *buf = NULL;
	char *p;
	int r;

	for (size_t i = 0; i < kv->n; i++)
		len += strlen(kv->keys[i]) + strlen(kv->values[i]) + 2;
	p = buf = xmalloc(len + 1);
	for (size_t i = 0; i < kv->n; i++) {
		p += sprintf(p, "%s=", kv->keys[i]);
		/* one value per line: fold newlines */
		for (const char *v = kv->values[i]; *v; v++)
			*p++ = *v == '\n' ? ' ' : *v;
		*p++ = '\n';
	}
	*p = 0;
	r = mkdir_parents(path, 0755);
	if (r < 0)
		return r;
	return write_file_atomic(path, buf, (size_t)(p - buf), 0644);
}

const char *dkm_kv_get(const struct dkm_kv *kv, const char *key)
{
	for (size_t i = 0; i < kv->n; i++)
		if (streq(kv->keys[i], key))
			return kv->values[i];
	return NULL;
}

void dkm_kv_set(struct dkm_kv *kv, const char *key, const char *value)
{
	for (size_t i = 0; i < kv->n; i++)
		if (streq(kv->keys[i], key)) {
			char *v = xstrdup(strempty(value)); /* value may be the old one */

			free(kv->values[i]);
			kv->values[i] = v;
			return;
		}
	kv->keys = xrealloc(kv->keys, (kv->n + 1) * sizeof(char *));
	kv->values = xrealloc(kv->values, (kv->n + 1) * sizeof(char *));
	kv->keys[kv->n] = xstrdup(key);
	kv->values[kv->n] = xstrdup(strempty(value));
	kv->n++;
}

void dkm_kv_done(struct dkm_kv *kv)
{
	for (size_t i = 0; i < kv->n; i++) {
		free(kv->keys[i]);
		free(kv->values[i]);
	}
	free(kv->keys);
	free(kv->values);
	*kv = (struct dkm_kv){ 0 };
}

#define MODREC_FIELDS(X)                                                                           \
	X(file) X(location) X(src) X(path) X(sha256) X(stage) X(old) X(oldsha) X(displace) X(ours)

void dkm_modrec_get(const struct dkm_kv *kv, const char *module, struct dkm_modrec *ret)
{
	struct dkm_modrec rec = { 0 };

#define GET(f)                                                                                     \
	{                                                                                          \
		_cleanup_free_ char *k = xasprintf("module.%s." #f, module);                       \
		rec.f = dkm_kv_get(kv, k);                                                         \
	}
	MODREC_FIELDS(GET)
#undef GET
	*ret = rec;
}

void dkm_modrec_set(struct dkm_kv *kv, const char *module, const struct dkm_modrec *rec)
{
#define SET(f)                                                                                     \
	if (rec->f) {                                                                              \
		_cleanup_free_ char *k = xasprintf("module.%s." #f, module);                       \
		dkm_kv_set(kv, k, rec->f);                                                         \
	}
	MODREC_FIELDS(SET)
#undef SET
}

char *dkm_pkg_dir(struct dkm_ctx *ctx, const char *name, const char *version)
{
	return dkm_ctx_pathf(ctx, "%s/packages/%s/%s", ctx->state_dir, name, version);
}

char *dkm_inst_dir(struct dkm_ctx *ctx, const char *name, const char *version, const char *kver,
		   const char *arch)
{
	return dkm_ctx_pathf(ctx, "%s/packages/%s/%s/kernels/%s/%s", ctx->state_dir, name, version,
			     kver, arch);
}

static bool yes(const char *v)
{
	return v && streq(v, "yes");
}

/* dkm_pkg_save() always writes these: without them the file is truncated or garbage */
static bool record_ok(const struct dkm_kv *kv, const char *name, const char *version)
{
	return streq(strempty(dkm_kv_get(kv, "name")), name) &&
	       streq(strempty(dkm_kv_get(kv, "version")), version) && dkm_kv_get(kv, "source");
}

int dkm_pkg_load(struct dkm_ctx *ctx, const char *name, const char *version, struct dkm_pkg **ret)
{
	_cleanup_free_ char *dir = NULL, *path = NULL;
	_cleanup_kv_ struct dkm_kv kv = { 0 };
	struct dkm_pkg *p;
	int r;

	if (!name_is_valid(name) || !name_is_valid(version))
		return -EINVAL;
	dir = dkm_pkg_dir(ctx, name, version);
	path = path_join(dir, "package");
	r = dkm_kv_read(path, &kv);
	if (r < 0)
		return r;
	if (!record_ok(&kv, name, version)) {
		dkm_warn(ctx,
			 "registration of %s/%s is damaged: '%s' lacks its name=, version= or source= line: skipped; remove '%s' and add the package again",
			 name, version, path, dir);
		return -EBADMSG;
	}
	p = xcalloc(1, sizeof(*p));
	p->name = xstrdup(name);
	p->version = xstrdup(version);
	p->source = xstrdup(strempty(dkm_kv_get(&kv, "source")));
	p->modules = strv_split(strempty(dkm_kv_get(&kv, "modules")), " ");
	p->autoinstall = yes(dkm_kv_get(&kv, "autoinstall"));
	p->remake_initrd = yes(dkm_kv_get(&kv, "remake_initrd"));
	p->copied_source = yes(dkm_kv_get(&kv, "copied_source"));
	if (p->copied_source) {
		/* add copies a source to <source_tree>/<name>-<version>, nowhere else: a
		 * registration claiming to own another directory must not make remove delete it */
		_cleanup_free_ char *own = xasprintf("%s/%s-%s", ctx->source_tree, name, version);

		if (!streq(p->source, own)) {
			dkm_warn(ctx,
				 "registration of %s/%s is damaged: '%s' says copied_source=yes for '%s', not '%s': that source will not be deleted",
				 name, version, path, p->source, own);
			p->copied_source = false;
		}
	}
	p->binary = yes(dkm_kv_get(&kv, "binary"));
	*ret = p;
	return 0;
}

int dkm_pkg_save(struct dkm_ctx *ctx, const struct dkm_pkg *pkg)
{
	_cleanup_free_ char *dir = dkm_pkg_dir(ctx, pkg->name, pkg->version);
	_cleanup_free_ char *path = path_join(dir, "package");
	_cleanup_free_ char *mods = strv_join(pkg->modules, " ");
	_cleanup_kv_ struct dkm_kv kv = { 0 };

	dkm_kv_set(&kv, "name", pkg->name);
	dkm_kv_set(&kv, "version", pkg->version);
	dkm_kv_set(&kv, "source", pkg->source);
	dkm_kv_set(&kv, "modules", mods);
	dkm_kv_set(&kv, "autoinstall", pkg->autoinstall ? "yes" : "no");
	dkm_kv_set(&kv, "remake_initrd", pkg->remake_initrd ? "yes" : "no");
	dkm_kv_set(&kv, "copied_source", pkg->copied_source ? "yes" : "no");
	if (pkg->binary)
		dkm_kv_set(&kv, "binary", "yes");
	return dkm_kv_write(path, &kv);
}

char *dkm_pkg_marker(struct dkm_ctx *ctx, const char *name, const char *version)
{
	return dkm_ctx_pathf(ctx, "%s/packages/%s/.adding-%s", ctx->state_dir, name, version);
}

char *dkm_inst_tomb(struct dkm_ctx *ctx, const char *name, const char *version, const char *kver,
		    const char *arch)
{
	return dkm_ctx_pathf(ctx, "%s/packages/%s/%s/kernels/%s/.removing-%s", ctx->state_dir, name,
			     version, kver, arch);
}

/* A remove after its commit (the registration renamed to its tomb): delete the source that add
 * copied (the tomb's registration says which: until the tomb is gone, recovery can do it
 * again), then the tomb. */
static int unregister_finish(struct dkm_ctx *ctx, const char *name, const char *version,
			     const char *tomb)
{
	_cleanup_free_ char *path = path_join(tomb, "package");
	_cleanup_free_ char *own = xasprintf("%s/%s-%s", ctx->source_tree, name, version);
	_cleanup_free_ char *reg =
		dkm_ctx_pathf(ctx, "%s/packages/%s/%s/package", ctx->state_dir, name, version);
	_cleanup_free_ char *parent = path_dirname(tomb);
	_cleanup_kv_ struct dkm_kv kv = { 0 };
	int r;

	/* only add's own copy, and not if the package was registered again since */
	if (dkm_kv_read(path, &kv) == 0 && yes(dkm_kv_get(&kv, "copied_source")) &&
	    streq(strempty(dkm_kv_get(&kv, "source")), own) && !path_exists(reg)) {
		_cleanup_free_ char *src = dkm_ctx_path(ctx, own);

		r = rm_rf(src);
		if (r < 0)
			dkm_warn(ctx, "cannot delete the source of %s/%s: '%s': %s: left in place",
				 name, version, src, strerror(-r));
	}
	r = rm_rf(tomb);
	(void)rmdir(parent); /* last version of the package: drop the name too */
	return r;
}

int dkm_pkg_unregister(struct dkm_ctx *ctx, const struct dkm_pkg *pkg)
{
	_cleanup_free_ char *dir = dkm_pkg_dir(ctx, pkg->name, pkg->version);
	_cleanup_free_ char *parent = path_dirname(dir);
	_cleanup_free_ char *tomb = xasprintf("%s/.removing-%s", parent, pkg->version);

	/* rename first so a crash never leaves a half-deleted registration that looks valid;
	 * the rename is the commit: recovery finishes what follows it */
	if (rename(dir, tomb) < 0)
		return errno == ENOENT ? 0 : -errno;
	(void)fsync_parent(dir);
	return unregister_finish(ctx, pkg->name, pkg->version, tomb);
}

struct dkm_pkg *dkm_pkg_free(struct dkm_pkg *pkg)
{
	if (!pkg)
		return NULL;
	free(pkg->name);
	free(pkg->version);
	free(pkg->source);
	strv_free(pkg->modules);
	free(pkg);
	return NULL;
}

/* The valid names in dir: with prefix, those that start with it (without it); without, the
 * subdirectories (dot files skipped). */
static char **dir_names(const char *dir, const char *prefix)
{
	char **l = xcalloc(1, sizeof(char *));
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return l;
	while ((de = readdir(d))) {
		const char *name = de->d_name;

		if (prefix ? !startswith(name, prefix)
			   : name[0] == '.' || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		name += prefix ? strlen(prefix) : 0;
		if (name_is_valid(name))
			strv_extend(&l, name);
	}
	closedir(d);
	return l;
}

static char **subdirs(const char *dir)
{
	return dir_names(dir, NULL);
}

char **dkm_pkg_versions(struct dkm_ctx *ctx, const char *name)
{
	_cleanup_free_ char *dir = dkm_ctx_pathf(ctx, "%s/packages/%s", ctx->state_dir, name);
	char **l;

	if (!name_is_valid(name))
		return xcalloc(1, sizeof(char *));
	l = subdirs(dir);
	qsort(l, strv_length(l), sizeof(char *), version_compare_ptr);
	return l;
}

int dkm_pkg_list(struct dkm_ctx *ctx, struct dkm_pkg ***ret, size_t *ret_n)
{
	_cleanup_free_ char *dir = dkm_ctx_pathf(ctx, "%s/packages", ctx->state_dir);
	_cleanup_strv_free_ char **names = subdirs(dir);
	struct dkm_pkg **l = NULL;
	size_t n = 0;

	qsort(names, strv_length(names), sizeof(char *), strcmp_ptr);
	for (size_t i = 0; names[i]; i++) {
		_cleanup_strv_free_ char **vers = dkm_pkg_versions(ctx, names[i]);

		for (size_t j = 0; vers[j]; j++) {
			struct dkm_pkg *p;

			if (dkm_pkg_load(ctx, names[i], vers[j], &p) < 0)
				continue;
			l = xrealloc(l, (n + 1) * sizeof(*l));
			l[n++] = p;
		}
	}
	*ret = l;
	*ret_n = n;
	return 0;
}

void dkm_damaged_free(struct dkm_damaged *l)
{
	for (size_t i = 0; l && l[i].name; i++) {
		free(l[i].name);
		free(l[i].version);
		free(l[i].dir);
	}
	free(l);
}

struct dkm_damaged *dkm_pkg_damaged(struct dkm_ctx *ctx)
{
	_cleanup_free_ char *dir = dkm_ctx_pathf(ctx, "%s/packages", ctx->state_dir);
	_cleanup_strv_free_ char **names = subdirs(dir);
	struct dkm_damaged *l = xcalloc(1, sizeof(*l));
	size_t n = 0;

	qsort(names, strv_length(names), sizeof(char *), strcmp_ptr);
	for (size_t i = 0; names[i]; i++) {
		_cleanup_strv_free_ char **vers = dkm_pkg_versions(ctx, names[i]);

		for (size_t j = 0; vers[j]; j++) {
			_cleanup_free_ char *pdir = dkm_pkg_dir(ctx, names[i], vers[j]);
			_cleanup_free_ char *path = path_join(pdir, "package");
			_cleanup_free_ char *kernels = path_join(pdir, "kernels");
			_cleanup_free_ char *marker = dkm_pkg_marker(ctx, names[i], vers[j]);
			_cleanup_kv_ struct dkm_kv kv = { 0 };
			const char *why;
			int r;

			if (path_exists(marker))
				continue; /* an interrupted add: recovery's */
			r = dkm_kv_read(path, &kv);
			if (r == 0 && record_ok(&kv, names[i], vers[j]))
				continue;
			if (r == -ENOENT && !is_dir(kernels))
				continue; /* nothing registered, nothing hidden */
			why = r == -ENOENT ? "missing"
			      : r == 0	   ? "damaged (no valid name=, version= or source= line)"
					   : "unreadable";
			l = xrealloc(l, (n + 2) * sizeof(*l));
			l[n] = (struct dkm_damaged){ .name = xstrdup(names[i]),
						     .version = xstrdup(vers[j]),
						     .dir = TAKE_PTR(pdir),
						     .why = why };
			l[++n] = (struct dkm_damaged){ 0 };
		}
	}
	return l;
}

void dkm_pkg_list_free(struct dkm_pkg **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dkm_pkg_free(l[i]);
	free(l);
}

char **dkm_pkg_owners_of_module(struct dkm_ctx *ctx, const char *module)
{
	struct dkm_pkg **l;
	size_t n;
	char **owners = xcalloc(1, sizeof(char *));
	_cleanup_free_ char *norm = xstrdup(module);

	for (char *p = norm; *p; p++)
		if (*p == '-')
			*p = '_';
	dkm_pkg_list(ctx, &l, &n);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; l[i]->modules[j]; j++) {
			_cleanup_free_ char *m = xstrdup(l[i]->modules[j]);

			for (char *p = m; *p; p++)
				if (*p == '-')
					*p = '_';
			if (streq(m, norm)) {
				strv_push(&owners, xasprintf("%s/%s", l[i]->name, l[i]->version));
				break;
			}
		}
	dkm_pkg_list_free(l, n);
	return owners;
}

int dkm_inst_load(struct dkm_ctx *ctx, const char *name, const char *version, const char *kver,
		  const char *arch, struct dkm_inst *ret)
{
	_cleanup_free_ char *dir = dkm_inst_dir(ctx, name, version, kver, arch);
	_cleanup_free_ char *path = path_join(dir, "state");
	struct dkm_inst inst = { 0 };
	int r;

	r = dkm_kv_read(path, &inst.kv);
	if (r == -ENOENT) {
		*ret = inst;
		return 0;
	}
	if (r < 0)
		return r;
	if (dkm_kv_get(&inst.kv, "state"))
		inst.state = dkm_state_from_string(dkm_kv_get(&inst.kv, "state"));
	*ret = inst;
	return 1;
}

int dkm_inst_save(struct dkm_ctx *ctx, const char *name, const char *version, const char *kver,
		  const char *arch, struct dkm_inst *inst)
{
	_cleanup_free_ char *dir = dkm_inst_dir(ctx, name, version, kver, arch);
	_cleanup_free_ char *path = path_join(dir, "state");
	/* a damaged state= line is written back as it was read */
	if (inst->state != DKM_STATE_INVALID)
		dkm_kv_set(&inst->kv, "state", dkm_state_to_string(inst->state));
	return dkm_kv_write(path, &inst->kv);
}

void dkm_inst_done(struct dkm_inst *inst)
{
	dkm_kv_done(&inst->kv);
	inst->state = DKM_STATE_NONE;
}

static const char *const state_table[_DKM_STATE_MAX] = {
	[DKM_STATE_BUILT] = "built",
	[DKM_STATE_INSTALLED] = "installed",
	[DKM_STATE_FAILED] = "failed",
	[DKM_STATE_EXCLUDED] = "excluded",
};

const char *dkm_state_to_string(enum dkm_state s)
{
	return s >= 0 && s < _DKM_STATE_MAX ? state_table[s] : NULL;
}

enum dkm_state dkm_state_from_string(const char *s)
{
	for (size_t i = 0; s && i < ELEMENTSOF(state_table); i++)
		if (state_table[i] && streq(state_table[i], s))
			return (enum dkm_state)i;
	return DKM_STATE_INVALID;
}

const char *dkm_inst_state_name(const struct dkm_inst *inst)
{
	if (inst->state == DKM_STATE_INVALID)
		return dkm_kv_get(&inst->kv, "state");
	return dkm_state_to_string(inst->state);
}

char **dkm_inst_list(struct dkm_ctx *ctx, const char *name, const char *version)
{
	_cleanup_free_ char *dir =
		dkm_ctx_pathf(ctx, "%s/packages/%s/%s/kernels", ctx->state_dir, name, version);
	_cleanup_strv_free_ char **kvers = subdirs(dir);
	char **l = xcalloc(1, sizeof(char *));

	qsort(kvers, strv_length(kvers), sizeof(char *), version_compare_ptr);
	for (size_t i = 0; kvers[i]; i++) {
		_cleanup_free_ char *kd = path_join(dir, kvers[i]);
		_cleanup_strv_free_ char **arches = subdirs(kd);

		qsort(arches, strv_length(arches), sizeof(char *), strcmp_ptr);
		for (size_t j = 0; arches[j]; j++) {
			_cleanup_free_ char *st = xasprintf("%s/%s/state", kd, arches[j]);

			if (path_exists(st))
				strv_push(&l, xasprintf("%s\t%s", kvers[i], arches[j]));
		}
	}
	return l;
}

static char **prefixed(const char *dir, const char *prefix)
{
	return dir_names(dir, prefix);
}

/* An add killed between putting its copy of the source in place and registering it: the
 * marker says the copy is ours. Registered after all: only the marker is left to go; not
 * registered: the copy goes too, and what there is of the registration (its directory, a
 * temporary file); the next add makes them again, of the source as it is then. */
static int adding_finish(struct dkm_ctx *ctx, const char *name, const char *version,
			 const char *marker)
{
	_cleanup_free_ char *own = xasprintf("%s/%s-%s", ctx->source_tree, name, version);
	_cleanup_free_ char *dir = dkm_pkg_dir(ctx, name, version);
	_cleanup_free_ char *reg = path_join(dir, "package");
	_cleanup_kv_ struct dkm_kv kv = { 0 };
	int r;

	if (!path_exists(reg)) {
		if (dkm_kv_read(marker, &kv) == 0 &&
		    streq(strempty(dkm_kv_get(&kv, "source")), own)) {
			_cleanup_free_ char *src = dkm_ctx_path(ctx, own);

			r = rm_rf(src);
			if (r < 0)
				return dkm_err(ctx, r,
					       "cannot delete '%s' (the copy of an interrupted add): %s",
					       src, strerror(-r));
		}
		r = rm_rf(dir);
		if (r < 0)
			return dkm_err(ctx, r, "cannot delete '%s': %s", dir, strerror(-r));
	}
	if (unlink(marker) < 0 && errno != ENOENT)
		return dkm_err(ctx, errno, "cannot remove '%s': %s", marker, strerror(errno));
	return 0;
}

/* unbuild's tombs in the builds of one package version */
static int recover_unbuilds(struct dkm_ctx *ctx, const char *name, const char *version, bool repair,
			    char ***found)
{
	_cleanup_free_ char *kdir =
		dkm_ctx_pathf(ctx, "%s/packages/%s/%s/kernels", ctx->state_dir, name, version);
	_cleanup_strv_free_ char **kvers = subdirs(kdir);
	int r = 0;

	for (size_t k = 0; kvers[k] && r >= 0; k++) {
		_cleanup_free_ char *kvdir = path_join(kdir, kvers[k]);
		_cleanup_strv_free_ char **arches = prefixed(kvdir, ".removing-");

		for (size_t a = 0; arches[a] && r >= 0; a++) {
			_cleanup_free_ char *tomb =
				dkm_inst_tomb(ctx, name, version, kvers[k], arches[a]);

			strv_push(found, xasprintf("interrupted unbuild of %s/%s for %s, %s: '%s'",
						   name, version, kvers[k], arches[a], tomb));
			if (!repair)
				continue;
			dkm_notice(ctx, "finishing an interrupted unbuild of %s/%s for %s", name,
				   version, kvers[k]);
			r = rm_rf(tomb);
			(void)rmdir(kvdir);
			(void)rmdir(kdir);
		}
	}
	return r;
}

/* remove's tombs and add's markers of one package name, and unbuild's tombs below it */
static int recover_package(struct dkm_ctx *ctx, const char *name, bool repair, char ***found)
{
	_cleanup_free_ char *pdir = dkm_ctx_pathf(ctx, "%s/packages/%s", ctx->state_dir, name);
	_cleanup_strv_free_ char **vers = subdirs(pdir);
	_cleanup_strv_free_ char **removing = prefixed(pdir, ".removing-");
	_cleanup_strv_free_ char **adding = prefixed(pdir, ".adding-");
	int r = 0;

	for (size_t i = 0; vers[i] && r >= 0; i++)
		r = recover_unbuilds(ctx, name, vers[i], repair, found);
	for (size_t i = 0; removing[i] && r >= 0; i++) {
		_cleanup_free_ char *tomb = xasprintf("%s/.removing-%s", pdir, removing[i]);

		strv_push(found,
			  xasprintf("interrupted remove of %s/%s: '%s'", name, removing[i], tomb));
		if (!repair)
			continue;
		dkm_notice(ctx, "finishing an interrupted remove of %s/%s", name, removing[i]);
		r = unregister_finish(ctx, name, removing[i], tomb);
	}
	for (size_t i = 0; adding[i] && r >= 0; i++) {
		_cleanup_free_ char *marker = dkm_pkg_marker(ctx, name, adding[i]);
		_cleanup_free_ char *reg = xasprintf("%s/%s/package", pdir, adding[i]);

		strv_push(found,
			  xasprintf("interrupted add of %s/%s: '%s'", name, adding[i], marker));
		if (!repair)
			continue;
		dkm_notice(ctx, "%s an interrupted add of %s/%s",
			   path_exists(reg) ? "finishing" : "rolling back", name, adding[i]);
		r = adding_finish(ctx, name, adding[i], marker);
		(void)rmdir(pdir); /* rolled back the first version of the package */
	}
	return r;
}

int dkm_pkg_recover(struct dkm_ctx *ctx, bool repair, char ***ret_found)
{
	_cleanup_free_ char *top = dkm_ctx_pathf(ctx, "%s/packages", ctx->state_dir);
	_cleanup_strv_free_ char **names = subdirs(top);
	_cleanup_strv_free_ char **found = xcalloc(1, sizeof(char *));
	int r = 0;

	for (size_t i = 0; names[i] && r >= 0; i++)
		r = recover_package(ctx, names[i], repair, &found);
	if (r < 0)
		return r;
	r = (int)strv_length(found);
	if (ret_found)
		*ret_found = TAKE_PTR(found);
	return r;
}
