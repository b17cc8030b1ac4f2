/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which of our modules belong in a kernel's initramfs, and regenerating it once after a rebuild
 * changed one of them. docs/kernel-integration.md says why each rule is there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compress.h"
#include "ctx.h"
#include "elf-module.h"
#include "initrd.h"
#include "kernel.h"
#include "log.h"
#include "registry.h"
#include "rootfs.h"
#include "spawn.h"
#include "util.h"

extern char **environ;

static char *normalize(const char *name)
{
	char *n = xstrdup(name);

	for (char *p = n; *p; p++)
		if (*p == '-')
			*p = '_';
	return n;
}

/* The aliases of one module of a package, read from a stored artefact: the one built for this
 * kernel, else one built for another kernel (a build that just failed still tells us what
 * the module provides). NULL if no artefact is readable. */
static char **module_aliases(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const char *kver,
			     const char *arch, const char *module)
{
	_cleanup_strv_free_ char **insts = dkm_inst_list(ctx, pkg->name, pkg->version);
	_cleanup_strv_free_ char **order = xcalloc(1, sizeof(char *));

	strv_push(&order, xasprintf("%s\t%s", kver, arch));
	for (size_t i = 0; insts[i]; i++)
		if (!strv_contains(order, insts[i]))
			strv_extend(&order, insts[i]);
	for (size_t i = 0; order[i]; i++) {
		_cleanup_free_ char *kv = xstrndup(order[i], strcspn(order[i], "\t"));
		const char *ar = strchr(order[i], '\t') + 1;
		_cleanup_inst_ struct dkm_inst inst = { 0 };
		_cleanup_free_ char *dir = NULL, *path = NULL, *data = NULL;
		_cleanup_free_ void *elf = NULL;
		size_t len = 0, elf_len = 0;
		const char *file;
		char **aliases = NULL;

		if (dkm_inst_load(ctx, pkg->name, pkg->version, kv, ar, &inst) <= 0)
			continue;
		{
			struct dkm_modrec rec;

			dkm_modrec_get(&inst.kv, module, &rec);
			file = rec.file;
		}
		if (isempty(file))
			continue;
		dir = dkm_inst_dir(ctx, pkg->name, pkg->version, kv, ar);
		path = xasprintf("%s/modules/%s", dir, file);
		if (read_full_file(path, DKM_DECOMPRESS_MAX, &data, &len) < 0)
			continue;
		if (dkm_decompress(ctx, data, len, &elf, &elf_len, NULL) < 0)
			continue;
		if (dkm_elf_modinfo_get_all(elf, elf_len, "alias", &aliases) < 0)
			continue;
		return aliases;
	}
	return NULL;
}

/* The version of a package name the initramfs is about: one installed for the kernel, else
 * the newest if it is AUTOINSTALL (what a rebuild installs), else none. */
static struct dkm_pkg *pick_version(struct dkm_ctx *ctx, struct dkm_pkg **l, size_t from, size_t to,
				    const char *kver, const char *arch, enum dkm_state *ret_state)
{
	for (size_t i = from; i < to; i++) {
		_cleanup_inst_ struct dkm_inst inst = { 0 };

		if (dkm_inst_load(ctx, l[i]->name, l[i]->version, kver, arch, &inst) > 0 &&
		    inst.state == DKM_STATE_INSTALLED) {
			*ret_state = inst.state;
			return l[i];
		}
	}
	{
		_cleanup_strv_free_ char **vers = dkm_pkg_versions(ctx, l[from]->name);
		size_t nv = strv_length(vers);
		_cleanup_inst_ struct dkm_inst inst = { 0 };

		for (size_t i = from; i < to; i++) {
			if (!l[i]->autoinstall || nv == 0 || !streq(vers[nv - 1], l[i]->version))
				continue;
			if (dkm_inst_load(ctx, l[i]->name, l[i]->version, kver, arch, &inst) < 0)
				return NULL;
			*ret_state = inst.state;
			return l[i];
		}
	}
	return NULL;
}

static void entry_done(struct dkm_initrd_entry *e)
{
	free(e->module);
	free(e->package);
	free(e->version);
	free(e->file);
	free(e->log);
	strv_free(e->reasons);
}

void dkm_initrd_list_done(struct dkm_initrd_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		entry_done(&l->entries[i]);
	free(l->entries);
	free(l->root_device);
	free(l->root_fstype);
	*l = (struct dkm_initrd_list){ 0 };
}

static bool named_in_config(struct dkm_ctx *ctx, const struct dkm_pkg *pkg)
{
	return strv_contains(ctx->initrd_packages, pkg->name);
}

/* initrd_packages= naming a module instead of its package: say which package to name. */
static void check_config_names(struct dkm_ctx *ctx, struct dkm_pkg **l, size_t n)
{
	for (size_t i = 0; ctx->initrd_packages[i]; i++) {
		const char *name = ctx->initrd_packages[i];
		bool known = false;

		for (size_t j = 0; j < n && !known; j++)
			known = streq(l[j]->name, name);
		if (known)
			continue;
		{
			_cleanup_strv_free_ char **owners = dkm_pkg_owners_of_module(ctx, name);

			if (owners[0])
				dkm_warn(ctx,
					 "initrd_packages= names '%s', a module of %s: name the package instead",
					 name, owners[0]);
			else
				dkm_info(ctx,
					 "initrd_packages= names '%s', which is not registered",
					 name);
		}
	}
}

int dkm_initrd_modules(struct dkm_ctx *ctx, const char *kver, const char *arch,
		       struct dkm_initrd_list *ret)
{
	struct dkm_initrd_list out = { 0 };
	struct dkm_pkg **l = NULL;
	size_t n = 0;
	bool probed = false;

	if (dkm_kver_check(ctx, kver) < 0)
		return -EINVAL;
	if (!arch)
		arch = dkm_host_arch();
	dkm_pkg_list(ctx, &l, &n);
	check_config_names(ctx, l, n);
	for (size_t i = 0, j; i < n; i = j) {
		enum dkm_state state = DKM_STATE_NONE;
		_cleanup_inst_ struct dkm_inst inst = { 0 };
		_cleanup_kv_ struct dkm_kv man = { 0 };
		_cleanup_strv_free_ char **mods = NULL;
		struct dkm_pkg *p;

		for (j = i + 1; j < n && streq(l[j]->name, l[i]->name); j++)
			;
		p = pick_version(ctx, l, i, j, kver, arch, &state);
		if (!p || state == DKM_STATE_EXCLUDED)
			continue;
		(void)dkm_inst_load(ctx, p->name, p->version, kver, arch, &inst);
		if (state == DKM_STATE_INSTALLED) {
			_cleanup_free_ char *dir =
				dkm_inst_dir(ctx, p->name, p->version, kver, arch);
			_cleanup_free_ char *mp = path_join(dir, "manifest");

			(void)dkm_kv_read(mp, &man);
		}
		if (man.n > 0)
			mods = strv_split(strempty(dkm_kv_get(&man, "modules")), " ");
		else if (inst.state != DKM_STATE_NONE && !isempty(dkm_kv_get(&inst.kv, "modules")))
			mods = strv_split(dkm_kv_get(&inst.kv, "modules"), " ");
		else {
			mods = xcalloc(1, sizeof(char *));
			for (size_t k = 0; p->modules && p->modules[k]; k++)
				strv_extend(&mods, p->modules[k]);
		}
		for (size_t m = 0; mods[m]; m++) {
			_cleanup_strv_free_ char **reasons = xcalloc(1, sizeof(char *));
			struct dkm_initrd_entry *e;

			if (p->remake_initrd)
				strv_extend(&reasons, "REMAKE_INITRD=\"yes\" in its dkms.conf");
			if (named_in_config(ctx, p))
				strv_push(&reasons,
					  xasprintf("initrd_packages= in '%s/dkm-hook.conf' names %s",
						    ctx->conf_dir, p->name));
			if (!probed) {
				probed = true;
				if (dkm_rootfs_probe(ctx, &out.root_fstype, &out.root_device) < 0)
					out.root_fstype = out.root_device = NULL;
			}
			if (out.root_fstype) {
				_cleanup_strv_free_ char **aliases =
					module_aliases(ctx, p, kver, arch, mods[m]);
				_cleanup_free_ char *want = xasprintf("fs-%s", out.root_fstype);
				_cleanup_free_ char *norm = normalize(mods[m]);

				if (strv_contains(aliases, want))
					strv_push(&reasons,
						  xasprintf("provides the root file system (%s on '%s', alias %s)",
							    out.root_fstype, out.root_device,
							    want));
				else if (streq(norm, out.root_fstype))
					strv_push(&reasons,
						  xasprintf("provides the root file system (%s on '%s', by its name)",
							    out.root_fstype, out.root_device));
			}
			if (!reasons[0])
				continue;
			out.entries = xrealloc(out.entries, (out.n + 1) * sizeof(*out.entries));
			e = &out.entries[out.n++];
			*e = (struct dkm_initrd_entry){
				.module = xstrdup(mods[m]),
				.package = xstrdup(p->name),
				.version = xstrdup(p->version),
				.state = state,
				.reasons = TAKE_PTR(reasons),
			};
			if (state == DKM_STATE_INSTALLED) {
				struct dkm_modrec rec;

				dkm_modrec_get(&man, mods[m], &rec);
				e->file = rec.path ? xstrdup(rec.path) : NULL;
			}
			if (state == DKM_STATE_FAILED && !isempty(dkm_kv_get(&inst.kv, "log")))
				e->log = xstrdup(dkm_kv_get(&inst.kv, "log"));
		}
	}
	dkm_pkg_list_free(l, n);
	*ret = out;
	return (int)out.n;
}

bool dkm_initrd_entry_missing(const struct dkm_initrd_entry *e, bool has_headers)
{
	if (e->state == DKM_STATE_INSTALLED)
		return false;
	return e->state == DKM_STATE_FAILED || has_headers;
}

/* ---- regeneration ---- */

static bool root_has(struct dkm_ctx *ctx, const char *const *paths)
{
	for (size_t i = 0; paths[i]; i++) {
		_cleanup_free_ char *p = dkm_ctx_path(ctx, paths[i]);

		if (path_exists(p))
			return true;
	}
	return false;
}

/* What the system makes its initramfs with: the kernel hook it has installed (Debian and
 * Ubuntu run /etc/kernel/postinst.d/{dracut,initramfs-tools}), else the tool it has. */
static const char *generator(struct dkm_ctx *ctx)
{
	static const char *const dracut_hook[] = { "/etc/kernel/postinst.d/dracut", NULL };
	static const char *const itools_hook[] = { "/etc/kernel/postinst.d/initramfs-tools", NULL };
	static const char *const dracut_bin[] = { "/usr/bin/dracut", "/usr/sbin/dracut",
						  "/sbin/dracut", NULL };
	static const char *const itools_bin[] = { "/usr/sbin/update-initramfs",
						  "/sbin/update-initramfs", NULL };

	if (ctx->initrd_generator != DKM_INITRD_GENERATOR_AUTO)
		return dkm_initrd_generator_to_string(ctx->initrd_generator);
	if (root_has(ctx, dracut_hook))
		return "dracut";
	if (root_has(ctx, itools_hook))
		return "initramfs-tools";
	if (root_has(ctx, dracut_bin))
		return "dracut";
	if (root_has(ctx, itools_bin))
		return "initramfs-tools";
	return "none";
}

/* The environment of a generator: ours, with the root for our dracut module or
 * initramfs-tools hook, and DKM_HOOK_SKIP_REBUILD=1: we have just built, installed or
 * uninstalled what we meant to, so they add what is installed without a rebuild of their own
 * (which would reinstall an AUTOINSTALL package that was just uninstalled). */
static char **generator_env(struct dkm_ctx *ctx)
{
	char **env = xcalloc(1, sizeof(char *));

	for (size_t i = 0; environ && environ[i]; i++)
		if (!startswith(environ[i], "DKM_HOOK_ROOT=") &&
		    !startswith(environ[i], "DKM_HOOK_SKIP_REBUILD="))
			strv_extend(&env, environ[i]);
	if (!dkm_ctx_is_host_root(ctx))
		strv_push(&env, xasprintf("DKM_HOOK_ROOT=%s", ctx->root));
	strv_extend(&env, "DKM_HOOK_SKIP_REBUILD=1");
	return env;
}

int dkm_initrd_regenerate(struct dkm_ctx *ctx, const char *kver)
{
	const char *gen = generator(ctx);
	_cleanup_free_ char *debian = dkm_ctx_pathf(ctx, "/boot/initrd.img-%s", kver);
	_cleanup_free_ char *other = dkm_ctx_pathf(ctx, "/boot/initramfs-%s.img", kver);
	_cleanup_strv_free_ char **argv = xcalloc(1, sizeof(char *));
	_cleanup_strv_free_ char **env = NULL;
	const char *image;
	struct dkm_spawn s = { .stdin_fd = -1, .stdout_fd = -2, .stderr_fd = -2 };
	char desc[64];
	int status = 0, r;

	if (streq(gen, "none")) {
		dkm_info(ctx,
			 "initramfs of %s: not regenerated (initrd_generator=none, or no generator found)",
			 kver);
		return 0;
	}
	image = path_exists(debian) ? debian : path_exists(other) ? other : NULL;
	if (!image) {
		dkm_notice(ctx,
			   "initramfs of %s: none yet ('%s'): the kernel's own hooks will make it, with our modules",
			   kver, debian);
		return 0;
	}
	if (streq(gen, "dracut")) {
		strv_extend(&argv, "dracut");
		strv_extend(&argv, "--force");
		if (!dkm_ctx_is_host_root(ctx)) {
			strv_extend(&argv, "--sysroot");
			strv_extend(&argv, ctx->root);
		}
		strv_extend(&argv, "--kver");
		strv_extend(&argv, kver);
		strv_extend(&argv, image);
	} else {
		if (!dkm_ctx_is_host_root(ctx)) {
			dkm_warn(ctx,
				 "initramfs of %s: update-initramfs cannot work on the root '%s': run 'update-initramfs -u -k %s' inside it",
				 kver, ctx->root, kver);
			return 0;
		}
		strv_extend(&argv, "update-initramfs");
		strv_extend(&argv, "-u");
		strv_extend(&argv, "-k");
		strv_extend(&argv, kver);
	}
	env = generator_env(ctx);
	s.argv = argv;
	s.envp = env;
	dkm_notice(ctx, "initramfs of %s: regenerating '%s' with %s", kver, image, gen);
	r = dkm_spawn_run(ctx, &s, &status);
	if (r < 0)
		return dkm_err(ctx, r, "initramfs of %s: cannot run %s: %s", kver, argv[0],
			       strerror(-r));
	if (r > 0)
		return dkm_err(ctx, -EIO, "initramfs of %s: %s %s: '%s' may be stale", kver,
			       argv[0], dkm_spawn_describe(status, desc, sizeof(desc)), image);
	return 1;
}

char *dkm_initrd_holder(struct dkm_ctx *ctx, const char *kver, const char *arch,
			char *const *packages)
{
	struct dkm_initrd_list l = { 0 };
	char *which = NULL;

	if (!packages || !packages[0] || dkm_initrd_modules(ctx, kver, arch, &l) < 0)
		return NULL;
	for (size_t i = 0; i < l.n && !which; i++)
		if (strv_contains(packages, l.entries[i].package))
			which = xstrdup(l.entries[i].package);
	dkm_initrd_list_done(&l);
	return which;
}

int dkm_initrd_update(struct dkm_ctx *ctx, const char *kver, const char *arch, char *const *changed)
{
	_cleanup_free_ char *which = NULL;

	if (!changed || !changed[0])
		return 0;
	which = dkm_initrd_holder(ctx, kver, arch, changed);
	if (!which) {
		dkm_info(ctx,
			 "initramfs of %s: unchanged (none of the rebuilt packages belongs in it)",
			 kver);
		return 0;
	}
	dkm_info(ctx, "initramfs of %s: %s changed and belongs in it", kver, which);
	return dkm_initrd_regenerate(ctx, kver);
}
