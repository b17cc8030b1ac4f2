/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A kernel arrives or leaves: what the kernel-install plugin and the Debian/Ubuntu kernel hooks
 * do beyond a rebuild — the fail policy, and knowing whether 50-depmod.install runs after us. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
		    (inst.state == DKM_STATE_INSTALLED || inst.state == DKM_STATE_EXCLUDED))
			continue;
		f = xrealloc(f, (nf + 1) * sizeof(*f));
		f[nf++] = (struct failure){
			.pkg = l[i],
			.log = isempty(dkm_kv_get(&inst.kv, "log"))
				       ? NULL
				       : xstrdup(dkm_kv_get(&inst.kv, "log")),
		};
	}
	*ret = f;
	return nf;
}

static enum dkm_kernel_verdict judge_failures(struct dkm_ctx *ctx, const char *kver,
					      const char *arch)
{
	struct dkm_initrd_list need = { 0 };
	struct dkm_pkg **l = NULL;
	struct failure *f = NULL;
	size_t n = 0, nf;
	int fatal = 0;

	dkm_pkg_list(ctx, &l, &n);
	nf = find_failures(ctx, l, n, kver, arch, &f);
	if (nf > 0 && ctx->fail_policy == DKM_FAIL_AUTO)
		(void)dkm_initrd_modules(ctx, kver, arch, &need);
	for (size_t i = 0; i < nf; i++) {
		_cleanup_free_ char *log =
			f[i].log ? xasprintf(" (log: '%s')", f[i].log) : xstrdup("");

		for (size_t j = 0; j < need.n && !f[i].needed; j++)
			if (streq(need.entries[j].package, f[i].pkg->name))
				f[i].needed = need.entries[j].reasons[0];
		if (f[i].needed) {
			dkm_err(ctx, 0,
				"%s/%s failed to build for %s%s, and %s needs it to boot (%s): stopping the installation of %s, so the machine keeps booting its current kernel; fix the build and run 'dkm-hook rebuild %s', or set fail_policy=never",
				f[i].pkg->name, f[i].pkg->version, kver, log, kver, f[i].needed,
				kver, kver);
			fatal++;
		} else if (ctx->fail_policy == DKM_FAIL_ALWAYS) {
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
	return fatal ? DKM_KERNEL_STOP : DKM_KERNEL_GOES_ON;
}

int dkm_action_kernel_add(struct dkm_ctx *ctx, const char *kver, const struct dkm_opts *o,
			  enum dkm_kernel_verdict *ret_verdict)
{
	const char *arch = o->arch ? o->arch : dkm_host_arch();
	_cleanup_free_ char *noauto = dkm_ctx_path(ctx, "/etc/dkms/no-autoinstall");
	struct dkm_result res;
	int r;

	/* run by apt or kernel-install, with nobody to press Ctrl-C: a lock held too long ends
	 * the wait (lock_timeout=) instead of hanging the kernel's installation */
	ctx->unattended = true;
	/* DKMS's switch for its kernel hooks: an admin who set it expects no builds on kernel
	 * arrival from whichever tool is installed; a rebuild by hand still works */
	if (path_exists(noauto)) {
		dkm_notice(ctx,
			   "%s: automatic builds are disabled by '%s': nothing was built; remove that file, or run 'dkm-hook rebuild %s'",
			   kver, noauto, kver);
		*ret_verdict = DKM_KERNEL_GOES_ON;
		return 0;
	}
	r = dkm_action_rebuild(ctx, kver, o, &res);
	if (r == 0) {
		*ret_verdict = res.failed ? judge_failures(ctx, kver, arch) : DKM_KERNEL_GOES_ON;
		return 0;
	}
	/* the rebuild could not run at all (lock, state, configuration, initramfs): what is
	 * needed to boot is unknown */
	if (ctx->fail_policy == DKM_FAIL_NEVER) {
		dkm_warn(ctx,
			 "modules for %s could not be set up (see above): %s is installed without them (fail_policy=never)",
			 kver, kver);
		*ret_verdict = DKM_KERNEL_GOES_ON;
		return 0;
	}
	dkm_err(ctx, 0,
		"modules for %s could not be set up (see above): stopping the installation of %s, so the machine keeps booting its current kernel",
		kver, kver);
	*ret_verdict = DKM_KERNEL_STOP;
	return 0;
}

/* ---- kernel-install: does 50-depmod.install run after us? ---- */

/* Which plugins kernel-install runs, and in which order, depends on which kernel-install it is:
 *
 *   the shell script (systemd up to 253; Debian 12 has 252): the *.install names found in
 *     /etc/kernel/install.d and /usr/lib/kernel/install.d, in version order (sort -V); for each
 *     name the first of the two directories where it exists decides: executable, it runs;
 *     anything else (a link to /dev/null, a file without an x bit) masks the name.
 *   the C program (systemd 254 and later): the same two directories, in byte order (strcmp);
 *     for each name the first directory whose entry is an executable regular file runs it; a
 *     character device (a link to /dev/null) or an empty regular file masks the name; any other
 *     entry (no x bit, not a regular file, a dangling link) is skipped, so the next directory's
 *     entry of that name counts.
 *
 * Both ignore names starting with a dot. Which one runs us is told by the kernel-install on
 * PATH: a script starts with "#!", the program is an ELF file; reading four bytes is all it
 * costs, so nothing is cached. Neither found nor recognised: the answer must hold for both. */
enum ki_kind {
	KI_UNKNOWN,
	KI_SCRIPT,
	KI_PROGRAM
};

static const char *const ki_dirs[] = { "/etc/kernel/install.d", "/usr/lib/kernel/install.d" };

/* systemd's other drop-in directories: no kernel-install reads its plugins there so far, but
 * should one do so, a 50-depmod.install there would decide whether depmod runs */
static const char *const ki_other_depmods[] = {
	"/run/kernel/install.d/50-depmod.install",
	"/usr/local/lib/kernel/install.d/50-depmod.install"
};

static enum ki_kind ki_kind_of_path(void)
{
	_cleanup_strv_free_ char **dirs = strv_split(getenv("PATH") ?: "/usr/bin:/bin", ":");

	for (size_t i = 0; dirs[i]; i++) {
		_cleanup_free_ char *p = path_join(dirs[i], "kernel-install");
		_cleanup_close_ int fd = -EBADF;
		unsigned char head[4] = { 0 };

		if (access(p, X_OK) < 0)
			continue;
		fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0 || read(fd, head, sizeof(head)) != (ssize_t)sizeof(head))
			return KI_UNKNOWN;
		if (memcmp(head, "\177ELF", 4) == 0)
			return KI_PROGRAM;
		if (memcmp(head, "#!", 2) == 0)
			return KI_SCRIPT;
		return KI_UNKNOWN;
	}
	return KI_UNKNOWN;
}

static bool plugin_name(const char *name)
{
	return name[0] != '.' && endswith(name, ".install");
}

static int cmp_basename(const void *a, const void *b)
{
	return strcmp(path_basename(*(char *const *)a), path_basename(*(char *const *)b));
}

/* the shell script's list */
static char **plugins_script(void)
{
	_cleanup_strv_free_ char **names = xcalloc(1, sizeof(char *));
	char **l = xcalloc(1, sizeof(char *));

	for (size_t i = 0; i < ELEMENTSOF(ki_dirs); i++) {
		DIR *d = opendir(ki_dirs[i]);
		struct dirent *de;

		if (!d)
			continue;
		while ((de = readdir(d))) {
			_cleanup_free_ char *p = path_join(ki_dirs[i], de->d_name);

			if (plugin_name(de->d_name) && access(p, F_OK) == 0 &&
			    !strv_contains(names, de->d_name))
				strv_extend(&names, de->d_name);
		}
		closedir(d);
	}
	qsort(names, strv_length(names), sizeof(char *), version_compare_ptr);
	for (size_t i = 0; names[i]; i++)
		for (size_t j = 0; j < ELEMENTSOF(ki_dirs); j++) {
			_cleanup_free_ char *p = path_join(ki_dirs[j], names[i]);

			if (access(p, F_OK) < 0)
				continue;
			if (access(p, X_OK) == 0)
				strv_extend(&l, p);
			break;
		}
	return l;
}

/* the C program's list */
static char **plugins_program(void)
{
	_cleanup_strv_free_ char **masked = xcalloc(1, sizeof(char *));
	char **l = xcalloc(1, sizeof(char *));

	for (size_t i = 0; i < ELEMENTSOF(ki_dirs); i++) {
		DIR *d = opendir(ki_dirs[i]);
		struct dirent *de;

		if (!d)
			continue;
		while ((de = readdir(d))) {
			_cleanup_free_ char *p = NULL;
			bool taken = false;
			struct stat st;

			if (!plugin_name(de->d_name) || strv_contains(masked, de->d_name))
				continue;
			for (size_t j = 0; l[j] && !taken; j++)
				taken = streq(path_basename(l[j]), de->d_name);
			p = path_join(ki_dirs[i], de->d_name);
			if (taken || stat(p, &st) < 0)
				continue;
			if (S_ISCHR(st.st_mode) || (S_ISREG(st.st_mode) && st.st_size == 0))
				strv_extend(&masked, de->d_name);
			else if (S_ISREG(st.st_mode) && (st.st_mode & 0111))
				strv_push(&l, TAKE_PTR(p));
		}
		closedir(d);
	}
	qsort(l, strv_length(l), sizeof(char *), cmp_basename);
	return l;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* Does a 50-depmod.install that does something come after self in plugins? A list without self
 * is not the one running us: nothing comes after us. An empty 50-depmod.install (which the
 * script runs, doing nothing) is no depmod. */
static bool depmod_after(char **plugins, const char *self)
{
	size_t start = 0;
	bool found = !self;

	for (size_t i = 0; self && plugins[i]; i++)
		if (same_file(plugins[i], self)) {
			start = i + 1;
			found = true;
		}
	if (!found)
		return false;
	for (size_t i = start; plugins[i]; i++) {
		struct stat st;

		if (streq(path_basename(plugins[i]), "50-depmod.install"))
			return stat(plugins[i], &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
	}
	return false;
}

/* 50-depmod.install comes after us in what kernel-install runs: $KERNEL_INSTALL_PLUGINS (both
 * kinds take it as it is), else its directories by the rules of the kernel-install on PATH */
static bool depmod_plugin_follows(struct dkm_ctx *ctx, const char *self)
{
	const char *env = getenv("KERNEL_INSTALL_PLUGINS");
	enum ki_kind kind;
	bool script = true, program = true;

	if (!isempty(env)) {
		_cleanup_strv_free_ char **l = strv_split(env, " \t\n");

		return depmod_after(l, self);
	}
	kind = ki_kind_of_path();
	if (kind != KI_PROGRAM) {
		_cleanup_strv_free_ char **l = plugins_script();

		script = depmod_after(l, self);
	}
	if (kind != KI_SCRIPT) {
		_cleanup_strv_free_ char **l = plugins_program();

		program = depmod_after(l, self);
		for (size_t i = 0; program && i < ELEMENTSOF(ki_other_depmods); i++) {
			struct stat st;

			if (lstat(ki_other_depmods[i], &st) == 0) {
				dkm_debug(ctx,
					  "depmod: '%s' exists, and a later kernel-install may read it: ours runs",
					  ki_other_depmods[i]);
				program = false;
			}
		}
	}
	dkm_debug(ctx, "depmod: kernel-install is %s; by its rules 50-depmod.install %s after us",
		  kind == KI_SCRIPT    ? "the shell script"
		  : kind == KI_PROGRAM ? "the C program"
				       : "not recognised (both rules must agree)",
		  script && program ? "runs" : "does not run");
	return script && program;
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
	_cleanup_free_ char *ours = dkm_ctx_pathf(ctx, "%s/%s", ctx->module_dir, kver);
	_cleanup_free_ char *theirs = path_join("/lib/modules", kver);
	_cleanup_free_ char *in_tree = path_join(theirs, "kernel");

	if (!depmod_plugin_follows(ctx, self)) {
		dkm_debug(ctx, "depmod: no 50-depmod.install runs after us: ours runs");
		return false;
	}
	/* the conditions under which 50-depmod.install exits 0 without running depmod */
	if (access("/lib/modules", W_OK) < 0 || !in_path("depmod") ||
	    (streq(command, "add") && !is_dir(in_tree))) {
		dkm_debug(ctx, "depmod: 50-depmod.install will not run depmod for %s: ours runs",
			  kver);
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
