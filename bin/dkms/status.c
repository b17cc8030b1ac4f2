/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `dkms status` in DKMS 3.0.x's exact format, from our state tree:
 *
 *   <module>/<version>: added
 *   <module>/<version>: broken           (its source directory is gone: DKMS 3.0.13's word)
 *   <module>/<version>, <kver>, <arch>: built|installed[ (original_module exists)][ (WARNING! ...)]
 *
 * DKMS knows only "built" and "installed": our failed and excluded states have no build, so
 * such a kernel is not listed (and the package shows as "added" if nothing else is). Like
 * DKMS, entries are in glob order (bytewise), and with -k the kernels are the outer loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "dkms.h"
#include "registry.h"
#include "util.h"

static int cmp_pkg(const void *a, const void *b)
{
	const struct dkm_pkg *pa = *(struct dkm_pkg *const *)a, *pb = *(struct dkm_pkg *const *)b;
	int c = strcmp(pa->name, pb->name);

	return c ? c : strcmp(pa->version, pb->version);
}

/* Did we archive a module that this package version displaced on this kernel? */
static bool original_exists(struct dkm_ctx *ctx, const struct dkm_pkg *p, const char *kver,
			    char *const *mods)
{
	_cleanup_free_ char *owner = xasprintf("%s/%s", p->name, p->version);

	for (size_t i = 0; mods[i]; i++) {
		_cleanup_free_ char *norm = xstrdup(mods[i]), *rec = NULL;
		_cleanup_kv_ struct dkm_kv kv = { 0 };

		for (char *c = norm; *c; c++)
			if (*c == '-')
				*c = '_';
		rec = dkm_ctx_pathf(ctx, "%s/kernels/%s/originals/%s.record", ctx->state_dir, kver,
				    norm);
		if (dkm_kv_read(rec, &kv) == 0 &&
		    streq(strempty(dkm_kv_get(&kv, "displaced_by")), owner))
			return true;
	}
	return false;
}

/* " (WARNING! ...)" per module, as DKMS's module_status_built_extra */
static void print_extra(struct dkm_ctx *ctx, const struct dkm_pkg *p, const char *kver,
			const char *arch, const struct dkm_inst *inst)
{
	_cleanup_free_ char *dir = dkm_inst_dir(ctx, p->name, p->version, kver, arch);
	_cleanup_free_ char *mp = path_join(dir, "manifest");
	_cleanup_strv_free_ char **mods =
		strv_split(strempty(dkm_kv_get(&inst->kv, "modules")), " ");
	_cleanup_kv_ struct dkm_kv man = { 0 };
	bool installed = inst->state == DKM_STATE_INSTALLED;

	if (original_exists(ctx, p, kver, mods))
		fputs(" (original_module exists)", stdout);
	if (installed)
		(void)dkm_kv_read(mp, &man);
	for (size_t i = 0; mods[i]; i++) {
		struct dkm_modrec rec, man_rec;
		_cleanup_free_ char *art = NULL;
		char built[65], placed[65];

		dkm_modrec_get(&inst->kv, mods[i], &rec);
		dkm_modrec_get(&man, mods[i], &man_rec);
		art = rec.file ? xasprintf("%s/modules/%s", dir, rec.file) : NULL;

		if (!art || sha256_file(art, built) < 0) {
			fputs(" (WARNING! Missing some built modules!)", stdout);
			continue;
		}
		if (installed) {
			const char *lp = man_rec.path;
			_cleanup_free_ char *full = lp ? dkm_ctx_path(ctx, lp) : NULL;

			if (!full || sha256_file(full, placed) < 0 || !streq(built, placed))
				fputs(" (WARNING! Diff between built and installed module!)",
				      stdout);
		}
	}
}

/* A source package whose source directory is gone (a binary one never had one) */
static bool source_gone(struct dkm_ctx *ctx, const struct dkm_pkg *p)
{
	_cleanup_free_ char *src = NULL;

	if (p->binary || isempty(p->source))
		return false;
	src = dkm_ctx_path(ctx, p->source);
	return !is_dir(src);
}

static int status_one_kernel(struct dkm_ctx *ctx, struct dkm_pkg **l, size_t n, const char *module,
			     const char *version, const char *kver, const char *arch)
{
	int lines = 0;

	for (size_t i = 0; i < n; i++) {
		const struct dkm_pkg *p = l[i];
		_cleanup_strv_free_ char **insts = NULL;
		bool any = false;

		if ((module && !streq(module, p->name)) || (version && !streq(version, p->version)))
			continue;
		if (source_gone(ctx, p)) {
			/* DKMS 3.0.13's word ("added" before it): nothing can be built from it */
			printf("%s/%s: broken\n", p->name, p->version);
			fflush(stdout);
			fprintf(stderr,
				"Error! %s/%s: Missing the module source directory or the symbolic link pointing to it.\nManual intervention is required!\n",
				p->name, p->version);
			lines++;
			continue;
		}
		insts = dkm_inst_list(ctx, p->name, p->version);
		if (strv_length(insts) > 1)
			qsort(insts, strv_length(insts), sizeof(char *), strcmp_ptr);
		for (size_t j = 0; insts[j]; j++) {
			_cleanup_free_ char *k = xstrndup(insts[j], strcspn(insts[j], "\t"));
			const char *a = strchr(insts[j], '\t') + 1;
			_cleanup_inst_ struct dkm_inst inst = { 0 };

			if ((kver && !streq(kver, k)) || (arch && !streq(arch, a)))
				continue;
			if (dkm_inst_load(ctx, p->name, p->version, k, a, &inst) <= 0 ||
			    !dkm_state_has_build(inst.state))
				continue;
			printf("%s/%s, %s, %s: %s", p->name, p->version, k, a,
			       dkm_state_to_string(inst.state));
			print_extra(ctx, p, k, a, &inst);
			putchar('\n');
			any = true;
			lines++;
		}
		if (!any) {
			printf("%s/%s: added\n", p->name, p->version);
			lines++;
		}
	}
	return lines;
}

int dkm_dkms_status_print(struct dkm_ctx *ctx, const char *module, const char *version,
			  char *const *kernels, char *const *arches)
{
	struct dkm_pkg **l = NULL;
	size_t n = 0;
	int lines = 0;

	dkm_pkg_list(ctx, &l, &n);
	if (n > 1)
		qsort(l, n, sizeof(*l), cmp_pkg);
	if (!kernels || !kernels[0])
		lines = status_one_kernel(ctx, l, n, module, version, NULL,
					  arches && arches[0] ? arches[0] : NULL);
	else
		for (size_t j = 0; kernels[j]; j++) {
			const char *a = NULL;

			if (arches && strv_length(arches) > j)
				a = arches[j];
			else if (arches && strv_length(arches) == 1)
				a = arches[0];
			lines += status_one_kernel(ctx, l, n, module, version, kernels[j], a);
		}
	fflush(stdout);
	dkm_pkg_list_free(l, n);
	return lines;
}
