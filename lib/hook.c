/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A kernel arrives or leaves: what the kernel-install plugin and the Debian/Ubuntu kernel hooks
 * do beyond a rebuild — the fail policy, and knowing whether 50-depmod.install runs after us. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions.h"
#include "ctx.h"
#include "hook.h"
#include "initrd.h"
#include "kernel.h"
#include "log.h"
#include "registry.h"
#include "util.h"

struct failure {
	const struct dkm_pkg *pkg;
	char *log;
	const char *needed; /* why the kernel needs it to boot, NULL if it does not */
};

/* The packages a rebuild of kver was to install that are not installed: the newest version of
 * each AUTOINSTALL package whose state is neither installed nor excluded. */
static size_t find_failures(struct dkm_ctx *ctx, struct dkm_pkg **l, size_t n, const char *kver,
			    const char *arch, struct failure **ret)
{
	struct failure *f = NULL;
	size_t nf = 0;

	for (size_t i = 0; i < n; i++) {
		_cleanup_strv_free_ char **vers = dkm_pkg_versions(ctx, l[i]->name);
		_cleanup_inst_ struct dkm_inst inst = { 0 };
		size_t nv = strv_length(vers);

		if (!l[i]->autoinstall || nv == 0 || !streq(vers[nv - 1], l[i]->version))
			continue;
		if (dkm_inst_load(ctx, l[i]->name, l[i]->version, kver, arch, &inst) > 0 &&
		    inst.state && (streq(inst.state, "installed") || streq(inst.state, "excluded")))
			continue;
		f = xrealloc(f, (nf + 1) * sizeof(*f));
		f[nf++] = (struct failure){
			.pkg = l[i],
			.log = isempty(dkm_kv_get(&inst.kv, "log")) ? NULL
								    : xstrdup(dkm_kv_get(&inst.kv, "log")),
		};
	}
	*ret = f;
	return nf;
}

static int judge_failures(struct dkm_ctx *ctx, const char *kver, const char *arch)
{
	struct dkm_initrd_list need = { 0 };
	struct dkm_pkg **l = NULL;
	struct failure *f = NULL;
	size_t n = 0, nf;
	int fatal = 0;

	dkm_pkg_list(ctx, &l, &n);
	nf = find_failures(ctx, l, n, kver, arch, &f);
	if (nf > 0 && streq(ctx->fail_policy, "auto"))
		(void)dkm_initrd_modules(ctx, kver, arch, &need);
	for (size_t i = 0; i < nf; i++) {
		_cleanup_free_ char *log = f[i].log ? xasprintf(" (log: '%s')", f[i].log) : xstrdup("");

		for (size_t j = 0; j < need.n && !f[i].needed; j++)
			if (streq(need.entries[j].package, f[i].pkg->name))
				f[i].needed = need.entries[j].reasons[0];
		if (f[i].needed) {
			dkm_err(ctx, 0,
				"%s/%s failed to build for %s%s, and %s needs it to boot (%s): stopping the installation of %s, so the machine keeps booting its current kernel; fix the build and run 'dkm-hook rebuild %s', or set fail_policy=never",
				f[i].pkg->name, f[i].pkg->version, kver, log, kver, f[i].needed, kver,
				kver);
			fatal++;
		} else if (streq(ctx->fail_policy, "always")) {
			dkm_err(ctx, 0,
				"%s/%s failed to build for %s%s, and fail_policy=always: stopping the installation of %s, so the machine keeps booting its current kernel",
				f[i].pkg->name, f[i].pkg->version, kver, log, kver);
			fatal++;
		} else
			dkm_warn(ctx, "%s/%s failed to build for %s%s: %s is installed without it",
				 f[i].pkg->name, f[i].pkg->version, kver, log, kver);
	}
	for (size_t i = 0; i < nf; i++)
		free(f[i].log);
	free(f);
	dkm_initrd_list_done(&need);
	dkm_pkg_list_free(l, n);
	return fatal ? DKM_EXIT_FAILURE : DKM_EXIT_OK;
}

int dkm_action_kernel_add(struct dkm_ctx *ctx, const char *kver, const struct dkm_opts *o)
{
	const char *arch = o->arch ? o->arch : dkm_host_arch();
	_cleanup_free_ char *noauto = dkm_ctx_path(ctx, "/etc/dkms/no-autoinstall");
	int r;

	/* DKMS's switch for its kernel hooks: an admin who set it expects no builds on kernel
	 * arrival from whichever tool is installed; a rebuild by hand still works */
	if (path_exists(noauto)) {
		dkm_notice(ctx,
			   "%s: automatic builds are disabled by '%s': nothing was built; remove that file, or run 'dkm-hook rebuild %s'",
			   kver, noauto, kver);
		return DKM_EXIT_OK;
	}
	r = dkm_action_rebuild(ctx, kver, o);
	if (r == DKM_EXIT_OK)
		return DKM_EXIT_OK;
	if (r == DKM_EXIT_BUILD)
		return judge_failures(ctx, kver, arch);
	/* the rebuild could not run at all (lock, state, configuration, initramfs): what is
	 * needed to boot is unknown */
	if (streq(ctx->fail_policy, "never")) {
		dkm_warn(ctx, "modules for %s could not be set up (see above): %s is installed without them (fail_policy=never)",
			 kver, kver);
		return DKM_EXIT_OK;
	}
	dkm_err(ctx, 0,
		"modules for %s could not be set up (see above): stopping the installation of %s, so the machine keeps booting its current kernel",
		kver, kver);
	return DKM_EXIT_FAILURE;
}

/* ---- kernel-install: does 50-depmod.install run after us? ---- */

static int cmp_name(const void *a, const void *b)
{
	return version_compare(*(char *const *)a, *(char *const *)b);
}

/* The plugins kernel-install runs, in order: $KERNEL_INSTALL_PLUGINS, else *.install from
 * /etc/kernel/install.d and /usr/lib/kernel/install.d (same name: /etc wins; an entry that is
 * not executable, such as a link to /dev/null, masks the name). */
static char **plugin_list(void)
{
	static const char *const dirs[] = { "/etc/kernel/install.d", "/usr/lib/kernel/install.d" };
	const char *env = getenv("KERNEL_INSTALL_PLUGINS");
	_cleanup_strv_free_ char **names = xcalloc(1, sizeof(char *));
	char **l;

	if (!isempty(env))
		return strv_split(env, " \t\n");
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;

		if (!d)
			continue;
		while ((de = readdir(d)))
			if (endswith(de->d_name, ".install") && !strv_contains(names, de->d_name))
				strv_extend(&names, de->d_name);
		closedir(d);
	}
	qsort(names, strv_length(names), sizeof(char *), cmp_name);
	l = xcalloc(1, sizeof(char *));
	for (size_t i = 0; names[i]; i++)
		for (size_t j = 0; j < ELEMENTSOF(dirs); j++) {
			_cleanup_free_ char *p = path_join(dirs[j], names[i]);

			if (access(p, F_OK) < 0)
				continue;
			if (access(p, X_OK) == 0)
				strv_extend(&l, p);
			break;
		}
	return l;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static bool in_path(const char *prog)
{
	_cleanup_strv_free_ char **dirs = strv_split(getenv("PATH") ?: "/usr/bin:/bin", ":");

	for (size_t i = 0; dirs[i]; i++) {
		_cleanup_free_ char *p = path_join(dirs[i], prog);

		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

bool dkm_hook_depmod_follows(struct dkm_ctx *ctx, const char *command, const char *kver,
			     const char *self)
{
	_cleanup_strv_free_ char **plugins = plugin_list();
	_cleanup_free_ char *ours = dkm_ctx_pathf(ctx, "%s/%s", ctx->module_dir, kver);
	_cleanup_free_ char *theirs = path_join("/lib/modules", kver);
	_cleanup_free_ char *in_tree = path_join(theirs, "kernel");
	size_t start = 0;
	bool found = false;

	for (size_t i = 0; self && plugins[i]; i++)
		if (same_file(plugins[i], self))
			start = i + 1;
	for (size_t i = start; plugins[i] && !found; i++)
		found = streq(path_basename(plugins[i]), "50-depmod.install");
	if (!found) {
		dkm_debug(ctx, "depmod: no 50-depmod.install runs after us: ours runs");
		return false;
	}
	/* the conditions under which 50-depmod.install exits 0 without running depmod */
	if (access("/lib/modules", W_OK) < 0 || !in_path("depmod") ||
	    (streq(command, "add") && !is_dir(in_tree))) {
		dkm_debug(ctx, "depmod: 50-depmod.install will not run depmod for %s: ours runs", kver);
		return false;
	}
	if (!same_file(ours, theirs)) {
		dkm_debug(ctx, "depmod: 50-depmod.install works on '%s', not on '%s': ours runs",
			  theirs, ours);
		return false;
	}
	dkm_debug(ctx, "depmod: 50-depmod.install runs after us on '%s': ours is skipped", theirs);
	return true;
}
