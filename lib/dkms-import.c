/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `dkm-hook import`: adopt what DKMS built and installed, without building anything.
 *
 * DKMS's tree (3.0.x):
 *   <tree>/<m>/<v>/source -> /usr/src/<m>-<v>          added
 *   <tree>/<m>/<v>/<kver>/<arch>/module/<name>.ko[.xz]   built (signed and compressed as placed)
 *   <tree>/<m>/<v>/<kver>/<arch>/log/make.log
 *   <tree>/<m>/kernel-<kver>-<arch> -> <v>/<kver>/<arch>  installed (DKMS copied the file as is)
 *
 * A built module becomes our artefact (copied, sha256 recorded); an installed one is recorded in
 * a manifest only after checking that the file in the module tree is the built one, so that our
 * uninstall removes exactly it. The DKMS tree is left as it is (DKMS could still use it). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions.h"
#include "build.h"
#include "compress.h"
#include "conf.h"
#include "ctx.h"
#include "dkms-framework.h"
#include "dkms-import.h"
#include "kernel.h"
#include "lock.h"
#include "modsig.h"
#include "registry.h"
#include "sign.h"
#include "util.h"

static char **subdirs_sorted(const char *dir)
{
	char **l = xcalloc(1, sizeof(char *));
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		_cleanup_free_ char *p = NULL;

		if (de->d_name[0] == '.' || !name_is_valid(de->d_name))
			continue;
		p = path_join(dir, de->d_name);
		if (de->d_type == DT_DIR || (de->d_type == DT_UNKNOWN && is_dir(p)))
			strv_extend(&l, de->d_name);
	}
	if (d)
		closedir(d);
	for (size_t i = 1; l[0] && l[i]; i++) /* small lists: insertion sort */
		for (size_t j = i; j > 0 && strcmp(l[j - 1], l[j]) > 0; j--) {
			char *t = l[j];

			l[j] = l[j - 1];
			l[j - 1] = t;
		}
	return l;
}

static const char *const ko_suffixes[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };

/* <dir>/<name>.ko[.xz|.zst|.gz], the file name or NULL */
static char *find_ko(const char *dir, const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(ko_suffixes); i++) {
		_cleanup_free_ char *f = xasprintf("%s%s", name, ko_suffixes[i]);
		_cleanup_free_ char *p = path_join(dir, f);

		if (path_exists(p))
			return TAKE_PTR(f);
	}
	return NULL;
}

static bool module_is_signed(struct dkm_ctx *ctx, const char *path)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_free_ void *plain = NULL;
	size_t len, plen, a, b, c;
	enum dkm_compression t;

	if (read_full_file(path, (size_t)1 << 30, &data, &len) < 0 ||
	    dkm_decompress(ctx, data, len, &plain, &plen, &t) < 0)
		return false;
	return dkm_modsig_parse(plain, plen, &a, &b, &c) > 0;
}

struct imp {
	struct dkm_ctx *ctx;
	const char *tree; /* logical */
	unsigned pkgs, built, installed, failed;
};

/* one <m>/<v>/<kver>/<arch> */
static int import_kernel(struct imp *im, const struct dkm_pkg *pkg, const char *kver,
			 const char *arch)
{
	struct dkm_ctx *ctx = im->ctx;
	_cleanup_free_ char *base =
		dkm_ctx_pathf(ctx, "%s/%s/%s/%s/%s", im->tree, pkg->name, pkg->version, kver, arch);
	_cleanup_free_ char *moddir = path_join(base, "module");
	_cleanup_free_ char *link =
		dkm_ctx_pathf(ctx, "%s/%s/kernel-%s-%s", im->tree, pkg->name, kver, arch);
	_cleanup_free_ char *want_link = xasprintf("%s/%s/%s", pkg->version, kver, arch);
	_cleanup_free_ char *instdir = NULL, *art = NULL;
	_cleanup_kernel_ struct dkm_kernel *k = NULL;
	_cleanup_conf_ struct dkm_conf *conf = NULL;
	_cleanup_kv_ struct dkm_kv man = { 0 };
	_cleanup_strv_free_ char **names = xcalloc(1, sizeof(char *));
	struct dkm_inst inst = { 0 };
	bool active = false, installed = true, is_signed = false;
	enum dkm_compression comp = DKM_COMPRESS_NONE;
	char target[PATH_MAX];
	ssize_t n;
	int r;

	if (!is_dir(moddir))
		return 0; /* not built (a failed build leaves no module dir) */
	r = dkm_kernel_probe(ctx, kver, arch, NULL, &k);
	if (r < 0) {
		dkm_warn(ctx, "%s/%s: built for %s (%s), but that kernel is not here: not imported",
			 pkg->name, pkg->version, kver, arch);
		return 0;
	}
	r = dkm_pkg_read_conf(ctx, pkg, k, &conf);
	if (r < 0)
		return r;
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = 0;
		active = streq(target, want_link);
	}
	instdir = dkm_inst_dir(ctx, pkg->name, pkg->version, kver, arch);
	art = path_join(instdir, "modules");
	r = mkdir_p(art, 0755);
	if (r < 0)
		return dkm_err(ctx, r, "cannot create '%s': %s", art, strerror(-r));
	dkm_kv_set(&man, "modules", "");
	for (size_t i = 0; i < conf->n_modules; i++) {
		const struct dkm_conf_module *m = &conf->modules[i];
		_cleanup_free_ char *file = find_ko(moddir, m->dest_name);
		_cleanup_free_ char *from = NULL, *to = NULL, *loc = NULL;
		char sha[65];

		if (!file) {
			dkm_warn(ctx,
				 "%s/%s: '%s/%s.ko' is missing in DKMS's tree: not imported for %s (rebuild with 'dkms install %s/%s -k %s --force')",
				 pkg->name, pkg->version, moddir, m->dest_name, kver, pkg->name,
				 pkg->version, kver);
			(void)rm_rf(instdir);
			im->failed++;
			return 0;
		}
		from = path_join(moddir, file);
		to = path_join(art, file);
		r = copy_file(from, to, 0644);
		if (r < 0 || (r = sha256_file(to, sha)) < 0)
			return dkm_err(ctx, r, "cannot copy '%s' to '%s': %s", from, to,
				       strerror(-r));
		comp = dkm_compression_from_path(file);
		is_signed = is_signed || module_is_signed(ctx, to);
		strv_extend(&names, m->dest_name);
		dkm_modrec_set(&inst.kv, m->dest_name,
			       &(struct dkm_modrec){ .file = file, .sha256 = sha });
		dkm_modrec_set(&man, m->dest_name, &(struct dkm_modrec){ .sha256 = sha });

		/* where DKMS put it: the distribution rule or DEST_MODULE_LOCATION */
		loc = dkm_dest_location(ctx, m->dest_location);
		if (active) {
			const char *cands[] = { loc, m->dest_location };
			bool found = false;

			for (size_t c = 0; c < ELEMENTSOF(cands) && !found; c++) {
				_cleanup_free_ char *lp = xasprintf("%s/%s%s/%s", ctx->module_dir,
								    kver, cands[c], file);
				_cleanup_free_ char *full = dkm_ctx_path(ctx, lp);
				char cur[65];

				if (sha256_file(full, cur) == 0 && streq(cur, sha)) {
					char *l = xstrdup(cands[c]);

					free(loc);
					loc = l;
					dkm_modrec_set(&man, m->dest_name,
						       &(struct dkm_modrec){ .path = lp });
					found = true;
				}
			}
			if (!found) {
				dkm_warn(ctx,
					 "%s/%s: DKMS says it is installed for %s, but '%s%s' is not the module it built: recorded as built ('dkms install %s/%s -k %s --force' installs it)",
					 pkg->name, pkg->version, kver, loc, file, pkg->name,
					 pkg->version, kver);
				installed = false;
			}
		}
		dkm_modrec_set(&inst.kv, m->dest_name,
			       &(struct dkm_modrec){ .location = strempty(loc) });
	}
	{
		_cleanup_free_ char *mods = strv_join(names, " ");
		_cleanup_free_ char *dlog = path_join(base, "log/make.log");
		_cleanup_free_ char *log = path_join(instdir, "build.log");

		dkm_kv_set(&inst.kv, "modules", mods);
		dkm_kv_set(&man, "modules", mods);
		if (copy_file(dlog, log, 0644) >= 0)
			dkm_kv_set(&inst.kv, "log", log);
	}
	dkm_kv_set(&inst.kv, "compression", dkm_compression_name(comp));
	dkm_kv_set(&inst.kv, "signed", is_signed ? "yes" : "no");
	dkm_kv_set(&inst.kv, "sig_hash", is_signed && k->sig_hash ? k->sig_hash : "");
	dkm_kv_set(&inst.kv, "imported", "dkms");
	{
		/* an unsigned module finished as we would finish it is up to date for rebuild;
		 * a signed one carries DKMS's signature, which our fingerprint cannot vouch for */
		const char *cname = ctx->compress == DKM_COMPRESS_SETTING_AUTO
					    ? k->compression
					    : dkm_compress_setting_to_string(ctx->compress);
		enum dkm_compression want;
		bool sign =
			ctx->sign == DKM_SIGN_YES || (ctx->sign == DKM_SIGN_AUTO && k->module_sig);
		struct dkm_finish fin = { .compression = (int)comp };
		char fp[65];

		if (!is_signed && !sign && dkm_compression_from_string(cname, &want) == 0 &&
		    want == comp && dkm_build_fingerprint(ctx, pkg, k, &fin, fp) >= 0)
			dkm_kv_set(&inst.kv, "fingerprint", fp);
	}
	if (active && installed) {
		_cleanup_free_ char *mp = path_join(instdir, "manifest");

		r = dkm_kv_write(mp, &man);
		if (r < 0)
			return dkm_err(ctx, r, "cannot write manifest '%s': %s", mp, strerror(-r));
	}
	inst.state = active && installed ? DKM_STATE_INSTALLED : DKM_STATE_BUILT;
	r = dkm_inst_save(ctx, pkg->name, pkg->version, kver, arch, &inst);
	if (r < 0) {
		dkm_inst_done(&inst);
		return dkm_err(ctx, r, "cannot record state of %s/%s for %s", pkg->name,
			       pkg->version, kver);
	}
	dkm_notice(ctx, "  %s/%s, %s, %s: %s", pkg->name, pkg->version, kver, arch,
		   dkm_state_to_string(inst.state));
	if (active && installed)
		im->installed++;
	else
		im->built++;
	dkm_inst_done(&inst);
	return 1;
}

static int import_pkg(struct imp *im, const char *name, const char *version)
{
	struct dkm_ctx *ctx = im->ctx;
	_cleanup_free_ char *vdir = dkm_ctx_pathf(ctx, "%s/%s/%s", im->tree, name, version);
	_cleanup_free_ char *link = path_join(vdir, "source");
	_cleanup_free_ char *srcdir = NULL, *confp = NULL, *kver = NULL;
	_cleanup_pkg_ struct dkm_pkg *existing = NULL;
	_cleanup_kernel_ struct dkm_kernel *k = NULL;
	_cleanup_conf_ struct dkm_conf *conf = NULL;
	_cleanup_strv_free_ char **kdirs = NULL;
	struct dkm_pkg pkg = { .name = (char *)name, .version = (char *)version };
	char target[PATH_MAX];
	ssize_t n;
	int r;

	if (dkm_pkg_load(ctx, name, version, &existing) == 0) {
		dkm_notice(ctx, "%s/%s is already registered: left as it is", name, version);
		return 0;
	}
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0) {
		dkm_warn(ctx,
			 "%s/%s: '%s' is not a link to a source tree (a binaries-only DKMS package?): not imported",
			 name, version, link);
		im->failed++;
		return 0;
	}
	target[n] = 0;
	if (target[0] != '/') {
		dkm_warn(ctx, "%s/%s: source link '%s' -> '%s' is relative: not imported", name,
			 version, link, target);
		im->failed++;
		return 0;
	}
	srcdir = dkm_ctx_path(ctx, target);
	confp = path_join(srcdir, "dkms.conf");
	if (!path_exists(confp)) {
		dkm_warn(ctx,
			 "%s/%s: its source '%s' has no dkms.conf (package removed?): not imported",
			 name, version, srcdir);
		im->failed++;
		return 0;
	}
	pkg.source = target;
	kdirs = subdirs_sorted(vdir);
	/* read the conf for a kernel it was built for, else the default kernel */
	for (size_t i = 0; kdirs[i] && !kver; i++)
		if (!streq(kdirs[i], "build") && !streq(kdirs[i], "source") &&
		    dkm_kernel_probe(ctx, kdirs[i], NULL, NULL, &k) >= 0)
			kver = xstrdup(kdirs[i]);
	if (!kver) {
		kver = dkm_kernel_default(ctx);
		if (!kver || dkm_kernel_probe(ctx, kver, NULL, NULL, &k) < 0)
			return dkm_err(ctx, -ENOENT,
				       "%s/%s: no kernel found under '%s%s' to read its dkms.conf for",
				       name, version, ctx->root, ctx->module_dir);
	}
	r = dkm_pkg_read_conf(ctx, &pkg, k, &conf);
	if (r < 0) {
		im->failed++;
		return 0;
	}
	pkg.autoinstall = conf->autoinstall;
	pkg.remake_initrd = conf->remake_initrd;
	pkg.copied_source = false; /* the distribution package owns /usr/src/<m>-<v> */
	pkg.modules = xcalloc(conf->n_modules + 1, sizeof(char *));
	for (size_t i = 0; i < conf->n_modules; i++)
		pkg.modules[i] = conf->modules[i].dest_name;
	r = dkm_pkg_save(ctx, &pkg);
	free(pkg.modules);
	pkg.modules = NULL;
	if (r < 0)
		return dkm_err(ctx, r, "cannot register %s/%s: %s", name, version, strerror(-r));
	dkm_notice(ctx, "imported %s/%s (source '%s')", name, version, srcdir);
	im->pkgs++;
	{
		_cleanup_pkg_ struct dkm_pkg *p = NULL;

		r = dkm_pkg_load(ctx, name, version, &p);
		if (r < 0)
			return r;
		for (size_t i = 0; kdirs[i]; i++) {
			_cleanup_free_ char *kd = path_join(vdir, kdirs[i]);
			_cleanup_strv_free_ char **arches = NULL;

			if (streq(kdirs[i], "build") || streq(kdirs[i], "source"))
				continue;
			arches = subdirs_sorted(kd);
			for (size_t j = 0; arches[j]; j++) {
				r = import_kernel(im, p, kdirs[i], arches[j]);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

int dkm_dkms_import(struct dkm_ctx *ctx, const char *dkms_tree)
{
	struct imp im = { .ctx = ctx, .tree = dkms_tree };
	_cleanup_free_ char *tree = dkm_ctx_path(ctx, dkms_tree);
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_close_ int lock = -1;
	int r = 0;

	if (!is_dir(tree))
		return dkm_err(ctx, -ENOENT, "no DKMS tree at '%s': nothing to import", tree);
	lock = dkm_lock_take(ctx);
	if (lock < 0)
		return lock;
	names = subdirs_sorted(tree);
	for (size_t i = 0; names[i] && r >= 0; i++) {
		_cleanup_free_ char *md = path_join(tree, names[i]);
		_cleanup_strv_free_ char **vers = subdirs_sorted(md);

		for (size_t j = 0; vers[j] && r >= 0; j++) {
			if (streq(vers[j], "original_module"))
				continue;
			r = import_pkg(&im, names[i], vers[j]);
		}
	}
	dkm_notice(ctx, "import from '%s': %u package%s, %u installed, %u built, %u not imported",
		   tree, im.pkgs, im.pkgs == 1 ? "" : "s", im.installed, im.built, im.failed);
	if (r < 0)
		return r;
	return (int)im.failed;
}
