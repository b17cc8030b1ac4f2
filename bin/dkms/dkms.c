/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The `dkms` command: DKMS 3.0.10's command line (read from its source: every option, its
 * "-x value" / "--xx=value" forms, module/version and kver/arch pairs, the positional forms)
 * mapped onto our actions, with DKMS's messages for the cases scripts see and its exit codes.
 * What we do not do is refused with "not supported: <why>", never silently ignored. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "actions.h"
#include "build.h"
#include "conf.h"
#include "ctx.h"
#include "log-stdio.h"
#include "dkms-framework.h"
#include "dkms.h"
#include "kernel.h"
#include "registry.h"
#include "shvars.h"
#include "util.h"
#include "../dkm-hook/exit-code.h"

struct cli {
	const char *action;
	char *module, *version;
	char **kernels, **arches; /* independent arrays, as DKMS keeps them */
	const char *template_kernel, *conf, *kernel_config, *archive, *source_dir_arg;
	const char *kernel_source_dir, *dkms_tree, *source_tree, *install_tree, *root;
	char **directives;
	unsigned jobs;
	bool force, all, verbose, quiet, no_depmod, no_initrd, binaries_only, source_only;
	bool from_path; /* module/version read from source_dir_arg's dkms.conf */
};

struct dkms {
	struct dkm_ctx *ctx;
	struct cli *c;
	struct dkm_dkms_framework fw;
};

static const struct dkm_log_sink log_dkms = { "Error! ", "Warning: ", "" };

static void usage(FILE *f)
{
	fputs("Usage: dkms [action] [options]\n"
	      "  [action]  = { add | remove | build | install | uninstall | unbuild | match |\n"
	      "                autoinstall | kernel_postinst | kernel_prerm | status }\n"
	      "  [options] = [-m module] [-v module-version] [-k kernel-version[/arch]] [-a arch]\n"
	      "              [-c dkms.conf-location] [-q] [--force] [--all] [-j number]\n"
	      "              [--templatekernel=kernel] [--kernelsourcedir=source-location]\n"
	      "              [--dkmstree path] [--sourcetree path] [--installtree path]\n"
	      "              [--verbose] [--no-depmod] [--no-initrd] [--version] [--root DIR]\n"
	      "This is dkm-hook's DKMS-compatible command (docs/dkms-compat.md).\n",
	      f);
}

/* DKMS's read_arg: "--opt=value" or "--opt value" / "-x value". */
static int read_arg(int argc, char **argv, int *i, const char **ret)
{
	const char *eq = strchr(argv[*i], '=');

	if (eq) {
		*ret = eq + 1;
		return 0;
	}
	if (*i + 1 >= argc) {
		fprintf(stderr, "Error! option '%s' needs a value\n", argv[*i]);
		return -EINVAL;
	}
	*ret = argv[++*i];
	return 0;
}

/* "module/version" or "module" */
static void parse_moduleversion(struct cli *c, const char *s)
{
	const char *slash = strchr(s, '/');

	free(c->module);
	if (slash) {
		free(c->version);
		c->module = xstrndup(s, (size_t)(slash - s));
		c->version = xstrdup(slash + 1);
	} else
		c->module = xstrdup(s);
}

static void parse_kernelarch(struct cli *c, const char *s)
{
	const char *slash = strchr(s, '/');

	if (slash) {
		strv_push(&c->kernels, xstrndup(s, (size_t)(slash - s)));
		strv_extend(&c->arches, slash + 1);
	} else
		strv_extend(&c->kernels, s);
}

static bool is_action(const char *s)
{
	static const char *const actions[] = { "add",	      "remove",	     "build",
					       "install",     "uninstall",   "unbuild",
					       "match",	      "autoinstall", "mktarball",
					       "ldtarball",   "status",	     "kernel_postinst",
					       "kernel_prerm" };

	for (size_t i = 0; i < ELEMENTSOF(actions); i++)
		if (streq(actions[i], s))
			return true;
	return false;
}

static bool opt_is(const char *a, const char *name, bool prefix)
{
	return prefix ? startswith(a, name) : streq(a, name);
}

/* The options whose value is kept as it is: the field of c that a sets, NULL if a is none of
 * them. --archive goes before --arch in parse(), which would take it as a prefix. */
static const char **value_field(struct cli *c, const char *a)
{
	const struct {
		const char *name;
		bool prefix;
		const char **field;
	} opts[] = {
		{ "--templatekernel", true, &c->template_kernel },
		{ "-c", false, &c->conf },
		{ "--dkmstree", true, &c->dkms_tree },
		{ "--sourcetree", true, &c->source_tree },
		{ "--installtree", true, &c->install_tree },
		{ "--config", true, &c->kernel_config },
		{ "--archive", true, &c->archive },
		{ "--kernelsourcedir", true, &c->kernel_source_dir },
		{ "--root", true, &c->root },
	};

	for (size_t i = 0; i < ELEMENTSOF(opts); i++)
		if (opt_is(a, opts[i].name, opts[i].prefix))
			return opts[i].field;
	return NULL;
}

/* Returns 0 to go on, > 0 an exit code to return now. */
static int parse(int argc, char **argv, struct cli *c)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		const char **field = value_field(c, a);

#define ARG()                                                                                      \
	do {                                                                                       \
		if (read_arg(argc, argv, &i, &v) < 0)                                              \
			return DKM_DKMS_EXIT_USAGE;                                                \
	} while (0)
		if (opt_is(a, "--module", true) || streq(a, "-m")) {
			ARG();
			parse_moduleversion(c, v);
		} else if (streq(a, "-v")) {
			ARG();
			free(c->version);
			c->version = xstrdup(v);
		} else if (opt_is(a, "--kernelver", true) || streq(a, "-k")) {
			ARG();
			parse_kernelarch(c, v);
		} else if (field) {
			ARG();
			*field = v;
		} else if (streq(a, "--quiet") || streq(a, "-q")) {
			c->quiet = true;
		} else if (streq(a, "--version") || streq(a, "-V")) {
			printf("dkms-%s\n(dkm-hook %s, DKMS-compatible command)\n",
			       DKM_DKMS_VERSION, DKM_VERSION);
			return -1;
		} else if (streq(a, "--no-initrd")) {
			c->no_initrd = true;
		} else if (streq(a, "--no-clean-kernel") || streq(a, "--no-prepare-kernel")) {
			fprintf(stderr, "Deprecated feature: %s\n", a);
		} else if (streq(a, "--binaries-only")) {
			c->binaries_only = true;
		} else if (streq(a, "--source-only")) {
			c->source_only = true;
		} else if (streq(a, "--force")) {
			c->force = true;
		} else if (streq(a, "--force-version-override")) {
			/* we never refuse on module versions: nothing to override */
		} else if (streq(a, "--all")) {
			c->all = true;
		} else if (streq(a, "--verbose") || streq(a, "--debug")) {
			c->verbose = true;
		} else if (streq(a, "--rpm_safe_upgrade")) {
			fprintf(stderr,
				"Warning: --rpm_safe_upgrade is for RPM upgrades only: ignored\n");
		} else if (streq(a, "--symlink-modules") || streq(a, "--modprobe-on-install")) {
			fprintf(stderr,
				"Warning: %s is not supported: modules are copied into the module tree and not loaded\n",
				a);
		} else if (opt_is(a, "--arch", true) || streq(a, "-a")) {
			ARG();
			strv_extend(&c->arches, v);
		} else if (opt_is(a, "--directive", true)) {
			ARG();
			strv_extend(&c->directives, v);
		} else if (streq(a, "--no-depmod")) {
			c->no_depmod = true;
		} else if (streq(a, "-j")) {
			char *end;
			long n;

			ARG();
			n = strtol(v, &end, 10);
			if (*end || n < 0 || n > 4096) {
				fprintf(stderr, "Error! -j '%s': expected a number\n", v);
				return DKM_DKMS_EXIT_USAGE;
			}
			c->jobs = (unsigned)n;
		} else if (streq(a, "--help") || streq(a, "-h")) {
			usage(stdout);
			return -1;
		} else if (a[0] == '-') {
			fprintf(stderr, "Error!  Unknown option: %s\n", a);
			usage(stderr);
			return DKM_DKMS_EXIT_USAGE;
		} else if (is_action(a)) {
			if (c->action) {
				fprintf(stderr, "Error! Cannot specify more than one action.\n");
				return 4;
			}
			c->action = a;
		} else if (endswith(a, "dkms.conf") && access(a, F_OK) == 0 && !is_dir(a)) {
			c->source_dir_arg = a; /* the directory is taken below */
		} else if (is_dir(a) && ({
				   _cleanup_free_ char *p = path_join(a, "dkms.conf");
				   path_exists(p);
			   })) {
			c->source_dir_arg = a;
		} else if (access(a, F_OK) == 0 && !is_dir(a)) {
			c->archive = a;
		} else if (!c->module) {
			parse_moduleversion(c, a);
		} else {
			fprintf(stderr, "Warning: I do not know how to handle %s.\n", a);
		}
#undef ARG
	}
	return 0;
}

/* Our exit code of a build/install action (bin/dkm-hook/exit-code.h), in DKMS's terms */
static int map_exit(int r, bool install)
{
	switch (r) {
	case DKM_EXIT_OK:
		return DKM_DKMS_EXIT_OK;
	case DKM_EXIT_EXCLUDED:
		return DKM_DKMS_EXIT_EXCLUDED;
	case DKM_EXIT_BUILD:
		return DKM_DKMS_EXIT_BUILD;
	case DKM_EXIT_INVALID:
		return DKM_DKMS_EXIT_BAD_CONF;
	case DKM_EXIT_NOTFOUND: /* headers (or source) missing: prepare_kernel's `die 1` */
		return DKM_DKMS_EXIT_FAILURE;
	case DKM_EXIT_USAGE:
		return DKM_DKMS_EXIT_USAGE;
	default:
		return install ? DKM_DKMS_EXIT_INSTALL : DKM_DKMS_EXIT_FAILURE;
	}
}

/* The exit code of a failed build or install of kver: DKMS tells a make that failed (10) from
 * one that succeeded without producing a BUILT_MODULE_NAME (7) */
static int build_exit(struct dkms *d, const char *kver, const char *arch, int r, bool install)
{
	_cleanup_inst_ struct dkm_inst inst = { 0 };

	if (r == DKM_EXIT_BUILD &&
	    dkm_inst_load(d->ctx, d->c->module, d->c->version, kver, arch, &inst) > 0 &&
	    inst.state == DKM_STATE_FAILED &&
	    streq(strempty(dkm_kv_get(&inst.kv, "reason")), DKM_BUILD_REASON_NO_MODULE))
		return DKM_DKMS_EXIT_NO_MODULE;
	return map_exit(r, install);
}

static bool check_module_args(const struct cli *c)
{
	if (!isempty(c->module) && !isempty(c->version) && name_is_valid(c->module) &&
	    name_is_valid(c->version))
		return true;
	fprintf(stderr,
		"Error! Arguments <module> and <module-version> are not specified.\n"
		"Usage: %s <module>/<module-version> or\n"
		"       %s -m <module>/<module-version> or\n"
		"       %s -m <module> -v <module-version>\n",
		c->action, c->action, c->action);
	return false;
}

static bool is_added(struct dkms *d)
{
	_cleanup_pkg_ struct dkm_pkg *p = NULL;

	return dkm_pkg_load(d->ctx, d->c->module, d->c->version, &p) == 0;
}

static int die_not_added(struct dkms *d)
{
	fprintf(stderr, "Error! The module/version combo: %s-%s is not located in the DKMS tree.\n",
		d->c->module, d->c->version);
	return DKM_DKMS_EXIT_NOT_ADDED;
}

static char *pkgver(const struct cli *c)
{
	return xasprintf("%s/%s", c->module, c->version);
}

static void base_opts(struct dkms *d, struct dkm_opts *o)
{
	*o = (struct dkm_opts){
		.kernel_source_dir = d->c->kernel_source_dir,
		.force = d->c->force,
		.no_initrd = d->c->no_initrd,
		.no_depmod = d->c->no_depmod,
	};
}

/* the state of (module, version, kver, arch): NONE if none */
static enum dkm_state state_of(struct dkms *d, const char *kver, const char *arch)
{
	_cleanup_inst_ struct dkm_inst inst = { 0 };

	if (dkm_inst_load(d->ctx, d->c->module, d->c->version, kver, arch, &inst) <= 0)
		return DKM_STATE_NONE;
	return inst.state;
}

/* PACKAGE_NAME/PACKAGE_VERSION of a source dir's dkms.conf (for the DKMS tree mark) */
static int read_pkginfo(struct dkms *d, const char *dir, char **ret_name, char **ret_ver)
{
	struct dkm_ctx *ctx = d->ctx;
	_cleanup_free_ char *conf = path_join(dir, "dkms.conf");
	_cleanup_free_ char *kver = dkm_kernel_default(ctx);
	_cleanup_free_ char *src = dkm_ctx_path(ctx, ctx->source_tree);
	_cleanup_free_ char *inst = dkm_ctx_path(ctx, ctx->module_dir);
	_cleanup_free_ char *tree = dkm_ctx_path(ctx, d->fw.dkms_tree);
	_cleanup_free_ char *ksrc = NULL;
	struct dkm_shvars *vars = NULL;
	struct dkm_conf_env env;
	const char *n, *v;
	int r;

	if (!kver) {
		struct utsname u;

		kver = xstrdup(uname(&u) == 0 ? u.release : "unknown");
	}
	ksrc = dkm_ctx_pathf(ctx, "%s/%s/build", ctx->module_dir, kver);
	env = (struct dkm_conf_env){ .kernelver = kver,
				     .arch = dkm_host_arch(),
				     .kernel_source_dir = ksrc,
				     .dkms_tree = tree,
				     .source_tree = src,
				     .install_tree = inst };
	r = dkm_conf_read_vars(ctx, conf, &env, &vars, NULL);
	if (r < 0)
		return r;
	n = dkm_shvars_get(vars, "PACKAGE_NAME", 0);
	v = dkm_shvars_get(vars, "PACKAGE_VERSION", 0);
	if (isempty(n) || isempty(v) || !name_is_valid(n) || !name_is_valid(v)) {
		/* read_conf's complaints, then read_conf_or_die's `die 8` (an empty file too) */
		if (isempty(n))
			fprintf(stderr,
				"dkms.conf: Error! No 'PACKAGE_NAME' directive specified.\n");
		else if (!name_is_valid(n))
			fprintf(stderr,
				"dkms.conf: Error! PACKAGE_NAME='%s': must be a name without '/', '..' or control characters.\n",
				n);
		if (isempty(v))
			fprintf(stderr,
				"dkms.conf: Error! No 'PACKAGE_VERSION' directive specified.\n");
		else if (!name_is_valid(v))
			fprintf(stderr,
				"dkms.conf: Error! PACKAGE_VERSION='%s': must be a version without '/', '..' or control characters.\n",
				v);
		fprintf(stderr,
			"Error! Bad conf file.\nFile: %s does not represent a valid dkms.conf file.\n",
			conf);
		dkm_shvars_free(vars);
		return -EINVAL;
	}
	*ret_name = xstrdup(n);
	*ret_ver = xstrdup(v);
	dkm_shvars_free(vars);
	return 0;
}

/* -c: DKMS reads that file instead of the source's; we read the registered source's only */
static bool conf_arg_ok(struct dkms *d)
{
	_cleanup_free_ char *want = NULL;
	char a[4096], b[4096];

	if (!d->c->conf)
		return true;
	want = dkm_ctx_pathf(d->ctx, "%s/%s-%s/dkms.conf", d->ctx->source_tree, d->c->module,
			     d->c->version);
	if (realpath(d->c->conf, a) && realpath(want, b) && streq(a, b))
		return true;
	fprintf(stderr,
		"Error! not supported: -c '%s': dkm-hook reads the dkms.conf of the registered source ('%s'): put the file there\n",
		d->c->conf, want);
	return false;
}

/* the source directory a "<dir>" or "<dir>/dkms.conf" argument names */
static char *source_dir_of(const struct cli *c)
{
	if (endswith(c->source_dir_arg, "dkms.conf") && !is_dir(c->source_dir_arg))
		return path_dirname(c->source_dir_arg);
	return xstrdup(c->source_dir_arg);
}

static int do_add(struct dkms *d)
{
	struct dkm_ctx *ctx = d->ctx;
	struct cli *c = d->c;
	_cleanup_free_ char *arg = NULL, *srcdir = NULL, *logical = NULL;
	struct dkm_opts o;
	int r;

	if (c->archive && !c->module)
		goto tarball;
	if (c->source_dir_arg && (c->from_path || (!c->module && !c->version))) {
		/* "dkms add <dir>" or "dkms add <dir>/dkms.conf" (or build, install of one) */
		_cleanup_free_ char *dir = source_dir_of(c);

		if (!c->from_path) {
			r = read_pkginfo(d, dir, &c->module, &c->version);
			if (r < 0)
				return r == -EINVAL ? DKM_DKMS_EXIT_BAD_CONF
						    : DKM_DKMS_EXIT_FAILURE;
		}
		arg = TAKE_PTR(dir);
	}
	if (!check_module_args(c))
		return DKM_DKMS_EXIT_FAILURE;
	logical = xasprintf("%s/%s-%s", ctx->source_tree, c->module, c->version);
	if (is_added(d)) {
		if (dkm_dkms_tree_is_marked(ctx, d->fw.dkms_tree, c->module, c->version)) {
			fprintf(stderr,
				"Error! DKMS tree already contains: %s-%s\nYou cannot add the same module/version combo more than once.\n",
				c->module, c->version);
			return DKM_DKMS_EXIT_NOT_ADDED;
		}
		/* added by `dkm-hook add`: make it visible to DKMS scripts too */
		r = dkm_dkms_tree_mark_added(ctx, d->fw.dkms_tree, c->module, c->version, logical);
		return r < 0 ? DKM_DKMS_EXIT_FAILURE : 0;
	}
	if (!arg) {
		srcdir = dkm_ctx_path(ctx, logical);
		if (!is_dir(srcdir)) {
			fprintf(stderr,
				"Error! Could not find module source directory.\nDirectory: %s does not exist.\n",
				srcdir);
			return DKM_DKMS_EXIT_USAGE;
		}
		arg = pkgver(c);
	}
	if (!conf_arg_ok(d))
		return DKM_DKMS_EXIT_FAILURE;
	base_opts(d, &o);
	r = exit_code_from_errno(dkm_action_add(ctx, arg, &o));
	if (r != 0)
		return r == DKM_EXIT_INVALID ? DKM_DKMS_EXIT_BAD_CONF : DKM_DKMS_EXIT_FAILURE;
	r = dkm_dkms_tree_mark_added(ctx, d->fw.dkms_tree, c->module, c->version, logical);
	if (r > 0)
		printf("Creating symlink %s/%s/%s/source -> %s\n", d->fw.dkms_tree, c->module,
		       c->version, logical);
	return r < 0 ? DKM_DKMS_EXIT_FAILURE : 0;
tarball:
	fprintf(stderr,
		"Error! not supported: loading the DKMS archive '%s': dkm-hook builds from source trees ('dkms add <dir>' or <module>/<version> under %s)\n",
		c->archive, ctx->source_tree);
	return DKM_DKMS_EXIT_FAILURE;
}

/* build and install register the module first when needed, as DKMS's prepare_build does */
static int ensure_added(struct dkms *d)
{
	if (!check_module_args(d->c))
		return DKM_DKMS_EXIT_FAILURE;
	if (is_added(d))
		return 0;
	return do_add(d);
}

static const char *arch_at(struct dkms *d, size_t i)
{
	size_t n = strv_length(d->c->arches);

	if (n == 0)
		return dkm_host_arch();
	if (i < n)
		return d->c->arches[i];
	return d->c->arches[0];
}

static void log_none(void *userdata, int level, const char *msg)
{
}

/* Is rel a regular file below dir, resolved as the kernel does but never leaving dir (what
 * the build's own open of a patch allows)? */
static bool regular_beneath(const char *dir, const char *rel)
{
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int fd = -1;
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	struct stat st;

	if (dfd < 0)
		return false;
	fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
	return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* DKMS's prepare_build checks the patches before it builds: one that is not in patches/
 * (after BUILD_EXCLUSIVE and the headers, which keep their own codes) is its `die 5`. A
 * regular file below <source>/patches, reached without following a symlink: > 0 when one is
 * missing (said as DKMS says it), 0 when they are there or the build decides itself. */
/* Does dir hold fewer than n entries (besides . and ..)? An unreadable dir counts as not. */
static bool dir_entries_fewer_than(const char *dir, unsigned n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned count = 0;

	if (!d)
		return false;
	while (count < n && (de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			count++;
	closedir(d);
	return count < n;
}

/* What DKMS checks before it builds: a source with module files in it (exit 8) and every
 * PATCH file present (exit 5). Returns that exit code, 0 if the build may go on. */
static int prebuild_problem(struct dkms *d, const char *kver, const char *arch)
{
	struct dkm_ctx *ctx = d->ctx;
	_cleanup_pkg_ struct dkm_pkg *pkg = NULL;
	_cleanup_kernel_ struct dkm_kernel *k = NULL;
	_cleanup_conf_ struct dkm_conf *conf = NULL;
	_cleanup_free_ char *reason = NULL, *src = NULL;
	int r;

	if (dkm_pkg_load(ctx, d->c->module, d->c->version, &pkg) < 0 ||
	    dkm_kernel_probe(ctx, kver, arch, d->c->kernel_source_dir, &k) < 0 || !k->has_headers)
		return 0;
	/* a dkms.conf the build refuses is the build's to report */
	ctx->log_fn = log_none;
	r = dkm_pkg_read_conf(ctx, pkg, k, &conf);
	ctx->log_fn = dkm_log_to_stdio;
	if (r < 0 || dkm_conf_excluded(conf, kver, arch, k->config_path, &reason) != 0)
		return 0;
	src = dkm_ctx_path(ctx, pkg->source);
	/* DKMS's build halts on a source of fewer than two entries (only a dkms.conf): exit 8 */
	if (dir_entries_fewer_than(src, 2)) {
		fprintf(stderr,
			"Error! The directory %s does not appear to have module source located within it.\nBuild halted.\n",
			src);
		return DKM_DKMS_EXIT_BAD_CONF;
	}
	for (size_t i = 0; conf->patches && conf->patches[i]; i++) {
		_cleanup_free_ char *rel = path_join("patches", conf->patches[i]);

		if (regular_beneath(src, rel))
			continue;
		fprintf(stderr,
			"Error! Patch %s as specified in dkms.conf cannot be\nfound in %s/patches/.\n",
			conf->patches[i], src);
		return DKM_DKMS_EXIT_PATCH;
	}
	return 0;
}

/* DKMS's check_version_sanity: installing over a newer version of the same package is
 * refused without --force (its `die 6`, "Installation aborted"); the newer one stays. */
static bool older_than_installed(struct dkms *d, const char *kver, const char *arch)
{
	_cleanup_strv_free_ char **vers = dkm_pkg_versions(d->ctx, d->c->module);
	_cleanup_pkg_ struct dkm_pkg *pkg = NULL;

	for (size_t i = 0; vers[i]; i++) {
		_cleanup_inst_ struct dkm_inst inst = { 0 };
		const char *mod;

		if (streq(vers[i], d->c->version) || version_compare(vers[i], d->c->version) <= 0)
			continue;
		if (dkm_inst_load(d->ctx, d->c->module, vers[i], kver, arch, &inst) <= 0 ||
		    inst.state != DKM_STATE_INSTALLED)
			continue;
		(void)dkm_pkg_load(d->ctx, d->c->module, d->c->version, &pkg);
		mod = pkg && pkg->modules && pkg->modules[0] ? pkg->modules[0] : d->c->module;
		fprintf(stderr,
			"Error! Module version %s for %s.ko\nis not newer than what is already found in kernel %s (%s).\nYou may override by specifying --force.\n\nError! Installation aborted.\n",
			d->c->version, mod, kver, vers[i]);
		return true;
	}
	return false;
}

static int build_or_install(struct dkms *d, bool install)
{
	struct cli *c = d->c;
	_cleanup_free_ char *pv = NULL;
	int r;

	r = ensure_added(d);
	if (r != 0)
		return r;
	pv = pkgver(c);
	for (size_t i = 0; c->kernels[i]; i++) {
		const char *k = c->kernels[i], *a = arch_at(d, i);
		enum dkm_state st = state_of(d, k, a);
		char *kl[] = { (char *)k, NULL };
		struct dkm_opts o;
		struct dkm_result res;

		if (!install && dkm_state_has_build(st) && !c->force) {
			printf("Module %s/%s already built for kernel %s (%s), skip. You may override by specifying --force.\n",
			       c->module, c->version, k, a);
			continue;
		}
		if (install && st == DKM_STATE_INSTALLED && !c->force) {
			printf("Module %s/%s already installed on kernel %s (%s), skip. You may override by specifying --force.\n",
			       c->module, c->version, k, a);
			continue;
		}
		base_opts(d, &o);
		o.kernels = kl;
		o.arch = a;
		if (!dkm_state_has_build(st) || c->force) {
			r = prebuild_problem(d, k, a);
			if (r != 0)
				return r;
		}
		if (install && !dkm_state_has_build(st)) {
			/* DKMS's do_install builds first: its failures (headers: 1) come first */
			r = exit_code_from_result(dkm_action_build(d->ctx, pv, &o, &res), &res,
						  true);
			if (r != 0)
				return build_exit(d, k, a, r, false);
		}
		if (install && !c->force && older_than_installed(d, k, a))
			return DKM_DKMS_EXIT_INSTALL;
		if (install) {
			_cleanup_free_ char *kd =
				dkm_ctx_pathf(d->ctx, "%s/%s", d->ctx->module_dir, k);

			if (!is_dir(kd)) {
				fprintf(stderr,
					"Error! The directory %s doesn't exist.\nYou cannot install a module onto a non-existant kernel.\n",
					kd);
				return DKM_DKMS_EXIT_INSTALL;
			}
		}
		r = install ? dkm_action_install(d->ctx, pv, &o, &res)
			    : dkm_action_build(d->ctx, pv, &o, &res);
		r = exit_code_from_result(r, &res, true);
		if (r != 0)
			return build_exit(d, k, a, r,
					  install); /* DKMS's die stops at the first failure */
	}
	return 0;
}

static int do_uninstall_like(struct dkms *d, bool unbuild)
{
	struct cli *c = d->c;
	_cleanup_free_ char *pv = NULL;
	_cleanup_strv_free_ char **all_k = xcalloc(1, sizeof(char *));
	_cleanup_strv_free_ char **all_a = xcalloc(1, sizeof(char *));

	if (!check_module_args(c))
		return DKM_DKMS_EXIT_FAILURE;
	if (!is_added(d))
		return die_not_added(d);
	pv = pkgver(c);
	if (c->all) {
		/* --all: every kernel (and arch) the module has a record for, as DKMS's
		 * is_module_built loop over its tree */
		_cleanup_strv_free_ char **insts = dkm_inst_list(d->ctx, c->module, c->version);

		for (size_t i = 0; insts[i]; i++) {
			size_t n = strcspn(insts[i], "\t");

			strv_push(&all_k, xstrndup(insts[i], n));
			strv_extend(&all_a, insts[i][n] ? insts[i] + n + 1 : dkm_host_arch());
		}
	}
	for (size_t i = 0; c->all ? all_k[i] != NULL : c->kernels[i] != NULL; i++) {
		const char *k = c->all ? all_k[i] : c->kernels[i];
		const char *a = c->all ? all_a[i] : arch_at(d, i);
		enum dkm_state st = state_of(d, k, a);
		char *kl[] = { (char *)k, NULL };
		struct dkm_opts o;
		int r;

		base_opts(d, &o);
		o.kernels = kl;
		o.arch = a;
		if (st != DKM_STATE_INSTALLED)
			printf("Module %s %s is not installed for kernel %s (%s). Skipping...\n",
			       c->module, c->version, k, a);
		else if (!unbuild) {
			r = dkm_action_uninstall(d->ctx, pv, &o, NULL);
			if (r != 0)
				return DKM_DKMS_EXIT_FAILURE;
		}
		if (unbuild) {
			if (!dkm_state_has_build(st)) {
				printf("Module %s %s is not built for kernel %s (%s). Skipping...\n",
				       c->module, c->version, k, a);
				if (st == DKM_STATE_NONE)
					continue;
			}
			r = dkm_action_unbuild(d->ctx, pv, &o, NULL);
			if (r != 0)
				return DKM_DKMS_EXIT_FAILURE;
		}
		dkm_dkms_tree_forget_kernel(d->ctx, d->fw.dkms_tree, c->module, c->version, k, a,
					    unbuild);
	}
	return 0;
}

static int do_remove(struct dkms *d)
{
	struct dkm_ctx *ctx = d->ctx;
	struct cli *c = d->c;
	_cleanup_free_ char *pv = NULL;
	_cleanup_strv_free_ char **left = NULL;
	bool built_left = false;
	struct dkm_opts o;
	int r;

	if (!check_module_args(c))
		return DKM_DKMS_EXIT_FAILURE;
	if (!is_added(d))
		return die_not_added(d);
	pv = pkgver(c);
	base_opts(d, &o);
	if (!c->all) {
		r = do_uninstall_like(d, true);
		if (r != 0)
			return r;
		/* DKMS deletes the module when no kernel has a build left; our failed and
		 * excluded records are not builds */
		left = dkm_inst_list(ctx, c->module, c->version);
		for (size_t i = 0; left[i]; i++) {
			_cleanup_free_ char *k = xstrndup(left[i], strcspn(left[i], "\t"));
			enum dkm_state st = state_of(d, k, strchr(left[i], '\t') + 1);

			built_left = built_left || dkm_state_has_build(st);
		}
		if (built_left)
			return 0;
	}
	o.all = true;
	o.keep_source = true; /* DKMS never deletes <source_tree>/<M>-<V> */
	r = dkm_action_remove(ctx, pv, &o);
	if (r != 0)
		return DKM_DKMS_EXIT_FAILURE;
	printf("Deleting module %s-%s completely from the DKMS tree.\n", c->module, c->version);
	(void)dkm_dkms_tree_forget(ctx, d->fw.dkms_tree, c->module, c->version);
	return 0;
}

static bool has_headers(struct dkm_ctx *ctx, const char *kver, const char *ksrc)
{
	_cleanup_free_ char *inc =
		ksrc ? path_join(ksrc, "include")
		     : dkm_ctx_pathf(ctx, "%s/%s/build/include", ctx->module_dir, kver);

	return path_exists(inc);
}

static int do_autoinstall(struct dkms *d, bool postinst)
{
	struct cli *c = d->c;
	_cleanup_strv_free_ char **kvers = NULL;
	int worst = 0;

	if (postinst && d->fw.no_autoinstall) {
		printf("dkms: autoinstall for dkms modules has been disabled\n");
		return 0;
	}
	if (c->kernels && c->kernels[0]) {
		kvers = xcalloc(1, sizeof(char *));
		for (size_t i = 0; c->kernels[i]; i++)
			strv_extend(&kvers, c->kernels[i]);
	} else if (d->fw.autoinstall_all_kernels)
		kvers = dkm_kernel_list(d->ctx);
	else {
		kvers = xcalloc(2, sizeof(char *));
		kvers[0] = dkm_kernel_default(d->ctx);
	}
	for (size_t i = 0; kvers[i]; i++) {
		struct dkm_opts o;
		int r;

		if (!has_headers(d->ctx, kvers[i], c->kernel_source_dir)) {
			/* the kernel hook (kernel_postinst) waits for the headers' own hook, as
			 * DKMS's; `dkms autoinstall` asked for this kernel and could not: 11 */
			if (postinst) {
				fprintf(stderr,
					"dkms: autoinstall for kernel %s was skipped since the kernel headers for this kernel do not seem to be installed: install linux-headers-%s\n",
					kvers[i], kvers[i]);
				continue;
			}
			fprintf(stderr,
				"Error! Your kernel headers for kernel %s cannot be found at %s/%s/build or %s/%s/source.\nPlease install the linux-headers-%s package or use the --kernelsourcedir option to tell DKMS where it's located.\n",
				kvers[i], d->ctx->module_dir, kvers[i], d->ctx->module_dir,
				kvers[i], kvers[i]);
			if (worst == 0)
				worst = DKM_EXIT_NOTFOUND;
			continue;
		}
		base_opts(d, &o);
		o.arch = arch_at(d, i);
		{
			struct dkm_result res;

			r = dkm_action_rebuild(d->ctx, kvers[i], &o, &res);
			r = exit_code_from_result(r, &res, false);
		}
		if (r != 0 && worst == 0)
			worst = r;
	}
	if (worst) {
		fprintf(stderr,
			"Error! One or more modules failed to install during autoinstall.\nRefer to previous errors for more information.\n");
		return DKM_DKMS_EXIT_AUTOINSTALL;
	}
	return 0;
}

static int do_kernel_prerm(struct dkms *d)
{
	struct dkm_pkg **l = NULL;
	size_t n = 0;
	int worst = 0;

	for (size_t i = 0; d->c->kernels[i]; i++) {
		struct dkm_opts o;

		base_opts(d, &o);
		dkm_pkg_list(d->ctx, &l, &n);
		for (size_t j = 0; j < n; j++)
			dkm_dkms_tree_forget_kernel(d->ctx, d->fw.dkms_tree, l[j]->name,
						    l[j]->version, d->c->kernels[i], arch_at(d, i),
						    true);
		dkm_pkg_list_free(l, n);
		if (dkm_action_kernel_remove(d->ctx, d->c->kernels[i], &o) != 0)
			worst = DKM_DKMS_EXIT_FAILURE;
	}
	return worst;
}

/* match: install on -k what is installed on --templatekernel */
static int do_match(struct dkms *d)
{
	struct cli *c = d->c;
	const char *a = arch_at(d, 0);
	struct dkm_pkg **l = NULL;
	size_t n = 0;
	int r = 0;

	if (!c->template_kernel) {
		fprintf(stderr,
			"Error! Invalid number of parameters passed.\nUsage: match --templatekernel=<kernel-version> -k <kernel-version>\n");
		return DKM_DKMS_EXIT_FAILURE;
	}
	if (strv_length(c->kernels) != 1) {
		fprintf(stderr,
			"Error! The action match does not support multiple kernel version parameters on the command line.\n");
		return 4;
	}
	if (streq(c->template_kernel, c->kernels[0])) {
		fprintf(stderr,
			"Error! The templatekernel and the specified kernel version are the same.\n");
		return DKM_DKMS_EXIT_USAGE;
	}
	printf("\nMatching modules in kernel: %s (%s)\nto the configuration of kernel: %s (%s)\n",
	       c->kernels[0], a, c->template_kernel, a);
	dkm_pkg_list(d->ctx, &l, &n);
	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_inst_ struct dkm_inst inst = { 0 };
		_cleanup_free_ char *pv = xasprintf("%s/%s", l[i]->name, l[i]->version);
		char *kl[] = { c->kernels[0], NULL };
		struct dkm_opts o;
		struct dkm_result res;

		if (c->module && !streq(c->module, l[i]->name))
			continue;
		if (dkm_inst_load(d->ctx, l[i]->name, l[i]->version, c->template_kernel, a,
				  &inst) <= 0 ||
		    inst.state != DKM_STATE_INSTALLED)
			continue;
		printf("Module:  %s\nVersion: %s\n", l[i]->name, l[i]->version);
		base_opts(d, &o);
		o.kernels = kl;
		o.arch = a;
		r = dkm_action_install(d->ctx, pv, &o, &res);
		r = map_exit(exit_code_from_result(r, &res, true), true);
	}
	dkm_pkg_list_free(l, n);
	return r;
}

static int run(struct dkms *d)
{
	struct cli *c = d->c;
	const char *act = c->action;

	if (c->binaries_only && c->source_only) {
		fprintf(stderr,
			"Error! You have specified both --binaries-only and --source-only.\n");
		return DKM_DKMS_EXIT_BAD_CONF;
	}
	if (strv_length(c->kernels) != strv_length(c->arches) && strv_length(c->arches) > 1) {
		fprintf(stderr,
			"Error! If more than one arch is specified on the command line, then there\nmust be an equal number of kernel versions also specified (1:1 relationship).\n");
		return DKM_DKMS_EXIT_FAILURE;
	}
	if (c->kernels && c->all) {
		fprintf(stderr,
			"Error! You cannot specify a kernel version and also specify\n--all on the command line.\n");
		return 2;
	}
	if (c->arches && c->all) {
		fprintf(stderr,
			"Error! You cannot specify an arch and also specify\n--all on the command line.\n");
		return 3;
	}
	if (!act) {
		fprintf(stderr, "Error! No action specified.\n");
		usage(stderr);
		return DKM_DKMS_EXIT_USAGE;
	}
	if (c->directives || c->kernel_config) {
		fprintf(stderr,
			"Error! not supported: %s: dkm-hook builds from the dkms.conf as registered and the .config of the kernel's headers (see docs/dkms-compat.md)\n",
			c->directives ? "--directive" : "--config");
		return DKM_DKMS_EXIT_FAILURE;
	}
	if (streq(act, "mktarball") || streq(act, "ldtarball")) {
		fprintf(stderr,
			"Error! not supported: %s: DKMS binary/source archives are not used by dkm-hook, which builds every kernel's modules from the registered source (see docs/dkms-compat.md)\n",
			act);
		return DKM_DKMS_EXIT_FAILURE;
	}
	if (streq(act, "status")) {
		dkm_dkms_status_print(d->ctx, c->module, c->version, c->kernels, c->arches);
		return 0;
	}
	if ((streq(act, "kernel_postinst") || streq(act, "kernel_prerm")) && !c->kernels) {
		fprintf(stderr, "Error! %s needs -k <kernel-version>\n", act);
		return DKM_DKMS_EXIT_FAILURE;
	}
	/* what Debian's kernel hooks run: a lock wait ends after lock_timeout= */
	if (streq(act, "autoinstall") || streq(act, "kernel_postinst") ||
	    streq(act, "kernel_prerm"))
		d->ctx->unattended = true;
	if (streq(act, "autoinstall"))
		return do_autoinstall(d, false);
	if (streq(act, "kernel_postinst"))
		return do_autoinstall(d, true);
	if (streq(act, "kernel_prerm"))
		return do_kernel_prerm(d);
	/* every other action: default kernel, as DKMS's setup_kernels_arches (uname -r there;
	 * here the running kernel if it is in the root, else the newest with headers) */
	if (!c->kernels && !c->all && !streq(act, "add")) {
		char *k = dkm_kernel_default(d->ctx);

		if (!k) {
			struct utsname u;

			k = xstrdup(uname(&u) == 0 ? u.release : "unknown");
		}
		c->kernels = xcalloc(1, sizeof(char *));
		strv_push(&c->kernels, k);
	}
	if (!c->kernels)
		c->kernels = xcalloc(1, sizeof(char *));
	if ((streq(act, "add") || streq(act, "build") || streq(act, "install")) && c->all) {
		fprintf(stderr, "Error! The action %s does not support the --all parameter.\n",
			act);
		return 5;
	}
	if (c->source_dir_arg && !c->module && !c->version && !streq(act, "add") &&
	    !streq(act, "match")) {
		/* "dkms build -k K <dir>/dkms.conf": the package that file describes (build and
		 * install add it first, as DKMS's prepare_build; the others act on it) */
		_cleanup_free_ char *dir = source_dir_of(c);
		int r = read_pkginfo(d, dir, &c->module, &c->version);

		if (r < 0)
			return r == -EINVAL ? DKM_DKMS_EXIT_BAD_CONF : DKM_DKMS_EXIT_FAILURE;
		c->from_path = true;
	}
	if (c->conf && !streq(act, "add") && (!check_module_args(c) || !conf_arg_ok(d)))
		return DKM_DKMS_EXIT_FAILURE;
	if (streq(act, "match"))
		return do_match(d);
	if (streq(act, "add"))
		return do_add(d);
	if (streq(act, "build"))
		return build_or_install(d, false);
	if (streq(act, "install"))
		return build_or_install(d, true);
	if (streq(act, "uninstall"))
		return do_uninstall_like(d, false);
	if (streq(act, "unbuild"))
		return do_uninstall_like(d, true);
	if (streq(act, "remove"))
		return do_remove(d);
	return DKM_DKMS_EXIT_USAGE;
}

/* -k kernel[/arch], -a and --templatekernel become directory names under the root and the
 * state, as -k and -a do for dkm-hook: the same rule (dkm_name_problem), checked once here */
static bool args_ok(struct dkm_ctx *ctx, const struct cli *c)
{
	for (size_t i = 0; c->kernels && c->kernels[i]; i++)
		if (dkm_kver_check(ctx, c->kernels[i]) < 0)
			return false;
	for (size_t i = 0; c->arches && c->arches[i]; i++)
		if (dkm_arg_check(ctx, "architecture", c->arches[i], dkm_host_arch()) < 0)
			return false;
	return !c->template_kernel || dkm_kver_check(ctx, c->template_kernel) >= 0;
}

static int set_path(char **field, const char *v, const char *what)
{
	if (v[0] != '/') {
		fprintf(stderr, "Error! %s '%s': expected an absolute path\n", what, v);
		return -EINVAL;
	}
	free(*field);
	*field = xstrdup(v);
	return 0;
}

int dkm_dkms_main(int argc, char **argv)
{
	_cleanup_ctx_ struct dkm_ctx *ctx = NULL;
	struct cli c = { 0 };
	struct dkms d = { .c = &c };
	int r;

	r = parse(argc, argv, &c);
	if (r != 0)
		goto out;
	if (c.quiet) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null >= 0) {
			fflush(stdout);
			fflush(stderr);
			(void)dup2(null, STDOUT_FILENO);
			(void)dup2(null, STDERR_FILENO);
			close(null);
		}
	}
	r = dkm_ctx_new(c.root, &ctx);
	if (r < 0) {
		fprintf(stderr, "Error! cannot set up: %s\n", strerror(-r));
		r = DKM_DKMS_EXIT_FAILURE;
		goto out;
	}
	ctx->log_fn = dkm_log_to_stdio;
	ctx->output_fn = dkm_output_to_stdio;
	ctx->log_userdata = (void *)&log_dkms;
	d.ctx = ctx;
	if (dkm_ctx_load_config(ctx) < 0 || dkm_dkms_framework_load(ctx, &d.fw) < 0) {
		r = DKM_DKMS_EXIT_FAILURE;
		goto out;
	}
	if (c.verbose || d.fw.verbose)
		ctx->log_level = DKM_LOG_INFO;
	if ((c.source_tree && set_path(&ctx->source_tree, c.source_tree, "--sourcetree") < 0) ||
	    (c.install_tree && set_path(&ctx->module_dir, c.install_tree, "--installtree") < 0) ||
	    (c.dkms_tree && set_path(&d.fw.dkms_tree, c.dkms_tree, "--dkmstree") < 0)) {
		r = DKM_DKMS_EXIT_USAGE;
		goto out;
	}
	if (c.jobs)
		ctx->jobs = c.jobs;
	ctx->force = c.force;
	if (!args_ok(ctx, &c)) {
		r = DKM_DKMS_EXIT_USAGE;
		goto out;
	}
	r = run(&d);
out:
	if (r < 0) /* --version, --help */
		r = 0;
	dkm_dkms_framework_done(&d.fw);
	free(c.module);
	free(c.version);
	strv_free(c.kernels);
	strv_free(c.arches);
	strv_free(c.directives);
	fflush(stdout);
	return r;
}
