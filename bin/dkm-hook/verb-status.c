/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `status`, text and JSON, formatted here from the engine's state tree API (lib/registry.h):
 * reads only the state tree — no child processes, no module-tree walks, no lock
 * (every state file is replaced atomically, so what it reads is never torn). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctx.h"
#include "dkm-hook.h"
#include "install.h"
#include "json.h"
#include "registry.h"
#include "util.h"

static void json_str(FILE *f, const char *s)
{
	dkm_json_str(f, strempty(s));
}

static void json_strv(FILE *f, char *const *l)
{
	fputc('[', f);
	for (size_t i = 0; l && l[i]; i++) {
		if (i)
			fputc(',', f);
		json_str(f, l[i]);
	}
	fputc(']', f);
}

/* A state file dkm-hook wrote names a state; anything else (truncated, garbage, edited) is
 * reported as damaged, with the file, instead of being shown as a state. */
static bool state_is_known(enum dkm_state st)
{
	return st > DKM_STATE_NONE;
}

static char *state_file(struct dkm_ctx *ctx, const struct dkm_pkg *p, const char *kver,
			const char *arch)
{
	_cleanup_free_ char *dir = dkm_inst_dir(ctx, p->name, p->version, kver, arch);

	return path_join(dir, "state");
}

static char *manifest_file(struct dkm_ctx *ctx, const struct dkm_pkg *p, const char *kver,
			   const char *arch)
{
	_cleanup_free_ char *dir = dkm_inst_dir(ctx, p->name, p->version, kver, arch);

	return path_join(dir, "manifest");
}

/* A manifest that is there but not what install writes (empty, truncated, garbage): NULL if
 * none or fine, else what is wrong. Reads the file only. */
static char *manifest_damage(struct dkm_ctx *ctx, const struct dkm_pkg *p, const char *kver,
			     const char *arch)
{
	_cleanup_free_ char *mp = manifest_file(ctx, p, kver, arch);
	char *why = NULL;

	if (dkm_manifest_validate(ctx, kver, mp, &why) < 0 && why)
		return why;
	free(why);
	return NULL;
}

static void print_damaged_manifest_text(struct dkm_ctx *ctx, const struct dkm_pkg *p,
					const char *kver, const char *arch, const char *why)
{
	_cleanup_free_ char *mp = manifest_file(ctx, p, kver, arch);

	printf("%s/%s, %s, %s: damaged (manifest '%s': %s)\n", p->name, p->version, kver, arch, mp,
	       why);
	dkm_warn(ctx,
		 "the manifest of %s/%s for %s is damaged: '%s': %s: run 'dkm-hook fsck --repair'",
		 p->name, p->version, kver, mp, why);
}

static void print_damaged_text(struct dkm_ctx *ctx, const struct dkm_pkg *p, const char *kver,
			       const char *arch)
{
	_cleanup_free_ char *f = state_file(ctx, p, kver, arch);

	printf("%s/%s, %s, %s: damaged (state file '%s' has no valid state= line)\n", p->name,
	       p->version, kver, arch, f);
	dkm_warn(ctx,
		 "state of %s/%s for %s is damaged: '%s': rebuild it with 'dkm-hook build %s/%s -k %s --force'",
		 p->name, p->version, kver, f, p->name, p->version, kver);
}

static void print_inst_text(const struct dkm_pkg *p, const char *kver, const char *arch,
			    const struct dkm_inst *inst)
{
	enum dkm_state st = inst->state;
	const char *mods = dkm_kv_get(&inst->kv, "modules");
	const char *log = dkm_kv_get(&inst->kv, "log");
	const char *reason = dkm_kv_get(&inst->kv, "reason");
	const char *lastf = dkm_kv_get(&inst->kv, "last_failure");

	printf("%s/%s, %s, %s: %s", p->name, p->version, kver, arch, dkm_state_to_string(st));
	if (st == DKM_STATE_FAILED)
		printf(" (%s%s%s)", strempty(reason), isempty(log) ? "" : "; log: ", strempty(log));
	else if (st == DKM_STATE_EXCLUDED)
		printf(" (%s)", strempty(reason));
	else {
		const char *comp = dkm_kv_get(&inst->kv, "compression");
		const char *sig = dkm_kv_get(&inst->kv, "signed");

		printf(" (modules: %s", isempty(mods) ? "-" : mods);
		if (!isempty(comp) && !streq(comp, "none"))
			printf("; %s", comp);
		if (sig)
			printf("; %s", streq(sig, "yes") ? "signed" : "unsigned");
		if (!isempty(lastf))
			printf("; last rebuild failed, log: %s", strempty(log));
		printf(")");
	}
	printf("\n");
}

static bool json_first = true;

static void print_pkg_json(struct dkm_ctx *ctx, const struct dkm_pkg *p, const char *src,
			   bool broken, char **insts, const char *only_kver)
{
	printf("%s\n    {\"name\":", json_first ? "" : ",");
	json_first = false;
	json_str(stdout, p->name);
	printf(",\"version\":");
	json_str(stdout, p->version);
	printf(",\"origin\":\"%s\",\"source\":", p->binary ? "binary" : "source");
	if (p->binary)
		printf("null");
	else
		json_str(stdout, src);
	printf(",\"state\":\"%s\",\"autoinstall\":%s,\"remake_initrd\":%s,\"modules\":",
	       broken ? "broken" : "added", p->autoinstall ? "true" : "false",
	       p->remake_initrd ? "true" : "false");
	json_strv(stdout, p->modules);
	printf(",\"kernels\":[");
	bool first = true;
	for (size_t i = 0; insts[i]; i++) {
		_cleanup_free_ char *kver = xstrndup(insts[i], strcspn(insts[i], "\t"));
		const char *arch = strchr(insts[i], '\t') + 1;
		_cleanup_inst_ struct dkm_inst inst = { 0 };
		_cleanup_strv_free_ char **mods = NULL;
		static const char *const keys[] = { "compression", "sig_hash", "log",
						    "reason",	   "changed",  "last_failure",
						    "origin" };
		const char *sig;

		if (only_kver && !streq(kver, only_kver))
			continue;
		if (dkm_inst_load(ctx, p->name, p->version, kver, arch, &inst) <= 0)
			continue;
		printf("%s{\"kernel\":", first ? "" : ",");
		first = false;
		json_str(stdout, kver);
		printf(",\"arch\":");
		json_str(stdout, arch);
		if (!state_is_known(inst.state)) {
			_cleanup_free_ char *f = state_file(ctx, p, kver, arch);

			printf(",\"state\":\"damaged\",\"damaged_file\":");
			json_str(stdout, f);
			printf("}");
			continue;
		}
		{
			_cleanup_free_ char *why = manifest_damage(ctx, p, kver, arch);

			if (why) {
				_cleanup_free_ char *f = manifest_file(ctx, p, kver, arch);

				printf(",\"state\":\"damaged\",\"damaged_file\":");
				json_str(stdout, f);
				printf("}");
				continue;
			}
		}
		printf(",\"state\":");
		json_str(stdout, dkm_state_to_string(inst.state));
		mods = strv_split(strempty(dkm_kv_get(&inst.kv, "modules")), " ");
		printf(",\"modules\":");
		json_strv(stdout, mods);
		sig = dkm_kv_get(&inst.kv, "signed");
		if (!isempty(sig))
			printf(",\"signed\":%s", streq(sig, "yes") ? "true" : "false");
		for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
			const char *v = dkm_kv_get(&inst.kv, keys[k]);

			if (isempty(v))
				continue;
			printf(",\"%s\":", keys[k]);
			json_str(stdout, v);
		}
		printf("}");
	}
	printf("]}");
}

static int show_status(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o)
{
	struct dkm_pkg **l = NULL;
	size_t n = 0, shown = 0;
	_cleanup_free_ char *fname = NULL, *fver = NULL;
	const char *only_kver = o->kernels && o->kernels[0] ? o->kernels[0] : NULL;

	if (arg) {
		const char *slash = strchr(arg, '/');

		fname = slash ? xstrndup(arg, (size_t)(slash - arg)) : xstrdup(arg);
		fver = slash ? xstrdup(slash + 1) : NULL;
	}
	dkm_pkg_list(ctx, &l, &n);
	if (o->json)
		printf("{\"version\":1,\"packages\":[");
	for (size_t i = 0; i < n; i++) {
		const struct dkm_pkg *p = l[i];
		_cleanup_free_ char *src = dkm_ctx_path(ctx, p->source);
		_cleanup_strv_free_ char **insts = NULL;
		bool broken, any = false;

		if (fname && !streq(fname, p->name))
			continue;
		if (fver && !streq(fver, p->version))
			continue;
		shown++;
		broken = !p->binary && !is_dir(src); /* import-binary: no source by design */
		insts = dkm_inst_list(ctx, p->name, p->version);
		if (o->json) {
			print_pkg_json(ctx, p, src, broken, insts, only_kver);
			continue;
		}
		for (size_t j = 0; insts[j]; j++) {
			_cleanup_free_ char *kver = xstrndup(insts[j], strcspn(insts[j], "\t"));
			const char *arch = strchr(insts[j], '\t') + 1;
			_cleanup_inst_ struct dkm_inst inst = { 0 };

			if (only_kver && !streq(kver, only_kver))
				continue;
			if (dkm_inst_load(ctx, p->name, p->version, kver, arch, &inst) <= 0)
				continue;
			if (!state_is_known(inst.state))
				print_damaged_text(ctx, p, kver, arch);
			else {
				_cleanup_free_ char *why = manifest_damage(ctx, p, kver, arch);

				if (why)
					print_damaged_manifest_text(ctx, p, kver, arch, why);
				else
					print_inst_text(p, kver, arch, &inst);
			}
			any = true;
		}
		if (broken)
			printf("%s/%s: broken (source '%s' is missing)\n", p->name, p->version,
			       src);
		else if (!any && !only_kver) {
			_cleanup_free_ char *mods = strv_join(p->modules, " ");

			printf("%s/%s: added (modules: %s)\n", p->name, p->version, mods);
		}
	}
	/* registrations that cannot be read: not a package any command manages, but shown
	 * (the warning above says so too), with the file */
	if (!o->json) {
		_cleanup_damaged_ struct dkm_damaged *bad = dkm_pkg_damaged(ctx);

		for (const struct dkm_damaged *b = bad; b->name; b++) {
			if ((fname && !streq(fname, b->name)) || (fver && !streq(fver, b->version)))
				continue;
			shown++;
			printf("%s/%s: damaged (registration '%s/package' is %s: run 'dkm-hook fsck')\n",
			       b->name, b->version, b->dir, b->why);
		}
	}
	if (o->json)
		printf("%s]}\n", json_first ? "" : "\n");
	dkm_pkg_list_free(l, n);
	if (arg && shown == 0) {
		_cleanup_strv_free_ char **owners = dkm_pkg_owners_of_module(ctx, fname);

		if (owners[0])
			dkm_err(ctx, -ENOENT,
				"'%s' is not a package but a module of package %s: use 'dkm-hook status %.*s'",
				fname, owners[0], (int)strcspn(owners[0], "/"), owners[0]);
		else
			dkm_err(ctx, -ENOENT, "no package '%s' is registered", arg);
		return -ENOENT;
	}
	return 0;
}

int verb_status(const struct verb *v, struct invocation *inv)
{
	return exit_code_from_errno(
		show_status(inv->ctx, inv->nargs > 0 ? inv->args[0] : NULL, &inv->o));
}
