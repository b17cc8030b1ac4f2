/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/syscall.h>

#include <linux/openat2.h>

#include <openssl/evp.h>

#include "actions.h"
#include "build.h"
#include "compress.h"
#include "conf.h"
#include "ctx.h"
#include "elf-module.h"
#include "kernel.h"
#include "registry.h"
#include "sign.h"
#include "identity.h"
#include "sandbox.h"
#include "spawn.h"
#include "util.h"

/* The sandbox every build step of (pkg, kernel) runs in, when there is one: the root at a
 * fixed place, and the private build dir (pvdir: <tree>/<pkg>/<ver>) writable at
 * DKM_SANDBOX_VIEW/build/<pkg>/<ver>. DKMS's variables ($dkms_tree, $kernel_source_dir...)
 * are given as the build sees them. Returns 1 if there is a sandbox, 0 if not, -errno. */
static int build_sandbox(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k,
			 struct dkm_sandbox *sb)
{
	_cleanup_free_ char *tree =
		dkm_ctx_pathf(ctx, "%s/build/%s/%s", ctx->state_dir, k->kver, k->arch);
	_cleanup_free_ char *pvdir = xasprintf("%s/%s/%s", tree, pkg->name, pkg->version);
	_cleanup_free_ char *name = xasprintf("build/%s/%s", pkg->name, pkg->version);
	int r;

	*sb = (struct dkm_sandbox){ 0 };
	r = dkm_sandbox_wanted(ctx);
	if (r <= 0)
		return r;
	dkm_sandbox_init(sb, ctx);
	dkm_sandbox_add_bind(sb, pvdir, name, true);
	return 1;
}

int dkm_pkg_read_conf(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k,
		      struct dkm_conf **ret)
{
	_cleanup_free_ char *path = dkm_ctx_pathf(ctx, "%s/dkms.conf", pkg->source);
	_cleanup_free_ char *tree = dkm_build_tree(ctx, pkg, k);
	_cleanup_free_ char *src = dkm_ctx_path(ctx, ctx->source_tree);
	_cleanup_free_ char *inst = dkm_ctx_path(ctx, ctx->module_dir);
	_cleanup_free_ char *ksrc = NULL;
	struct dkm_sandbox sb;
	struct dkm_conf_env env;
	struct dkm_conf *conf;
	int r;

	if (pkg->binary)
		return -ENOENT; /* import-binary: built elsewhere, there is no dkms.conf here */
	r = build_sandbox(ctx, pkg, k, &sb);
	if (r < 0)
		return r;
	if (r > 0) {
		char *v;

		v = dkm_sandbox_view(&sb, tree), free(tree), tree = v;
		v = dkm_sandbox_view(&sb, src), free(src), src = v;
		v = dkm_sandbox_view(&sb, inst), free(inst), inst = v;
	}
	ksrc = dkm_sandbox_view(r > 0 ? &sb : NULL, k->source_dir);
	dkm_sandbox_done(&sb);
	env = (struct dkm_conf_env){
		.kernelver = k->kver,
		.arch = k->arch,
		.kernel_source_dir = ksrc,
		.dkms_tree = tree,
		.source_tree = src,
		.install_tree = inst,
		.module = pkg->name,
		.module_version = pkg->version,
	};
	r = dkm_conf_read(ctx, path, &env, &conf);
	if (r < 0)
		return r;
	if (!streq(conf->package_name, pkg->name) || !streq(conf->package_version, pkg->version)) {
		r = dkm_err(ctx, -EINVAL,
			    "invalid dkms.conf: '%s': PACKAGE_NAME/PACKAGE_VERSION say '%s/%s' but the package was registered as '%s/%s': remove and add it again",
			    path, conf->package_name, conf->package_version, pkg->name,
			    pkg->version);
		dkm_conf_free(conf);
		return r;
	}
	*ret = conf;
	return 0;
}

char *dkm_build_tree(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k)
{
	/* $dkms_tree of this build: packages write M=$dkms_tree/$module/$module_version/build.
	 * In the sandbox only this package's part of it is there, at a fixed place. */
	if (dkm_sandbox_wanted(ctx) > 0)
		return xstrdup(DKM_SANDBOX_VIEW "/build");
	return dkm_ctx_pathf(ctx, "%s/build/%s/%s", ctx->state_dir, k->kver, k->arch);
}

static char *host_tree(struct dkm_ctx *ctx, const struct dkm_kernel *k)
{
	return dkm_ctx_pathf(ctx, "%s/build/%s/%s", ctx->state_dir, k->kver, k->arch);
}

static char *build_dir(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k)
{
	_cleanup_free_ char *tree = host_tree(ctx, k);

	return xasprintf("%s/%s/%s/build", tree, pkg->name, pkg->version);
}

static char *log_path(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k)
{
	_cleanup_free_ char *d = dkm_inst_dir(ctx, pkg->name, pkg->version, k->kver, k->arch);

	return path_join(d, "build.log");
}

static int save_state(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k,
		      enum dkm_state state, struct dkm_kv *extra)
{
	_cleanup_inst_ struct dkm_inst inst = { 0 };
	char when[32];
	time_t t = time(NULL);
	int r;

	r = dkm_inst_load(ctx, pkg->name, pkg->version, k->kver, k->arch, &inst);
	if (r < 0)
		return r;
	/* a build of an installed package leaves the installed files alone: it stays installed
	 * (the next install or rebuild places the new build) */
	if (!(state == DKM_STATE_BUILT && inst.state == DKM_STATE_INSTALLED))
		inst.state = state;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	dkm_kv_set(&inst.kv, "changed", when);
	for (size_t i = 0; extra && i < extra->n; i++)
		dkm_kv_set(&inst.kv, extra->keys[i], extra->values[i]);
	r = dkm_inst_save(ctx, pkg->name, pkg->version, k->kver, k->arch, &inst);
	if (r < 0)
		return dkm_err(ctx, r, "cannot record state of %s/%s for %s: %s", pkg->name,
			       pkg->version, k->kver, strerror(-r));
	return 0;
}

int dkm_build_mark_failed(struct dkm_ctx *ctx, const struct dkm_pkg *pkg,
			  const struct dkm_kernel *k, const char *reason)
{
	_cleanup_kv_ struct dkm_kv kv = { 0 };
	_cleanup_free_ char *log = log_path(ctx, pkg, k);
	_cleanup_inst_ struct dkm_inst old = { 0 };

	/* An installed module stays installed: the failure is about the new build. */
	if (dkm_inst_load(ctx, pkg->name, pkg->version, k->kver, k->arch, &old) > 0 &&
	    old.state == DKM_STATE_INSTALLED) {
		dkm_kv_set(&kv, "last_failure", reason);
		dkm_kv_set(&kv, "log", path_exists(log) ? log : "");
		return save_state(ctx, pkg, k, DKM_STATE_INSTALLED, &kv);
	}
	dkm_kv_set(&kv, "reason", reason);
	dkm_kv_set(&kv, "log", path_exists(log) ? log : "");
	return save_state(ctx, pkg, k, DKM_STATE_FAILED, &kv);
}

int dkm_build_check(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k,
		    char *const *same_run, struct dkm_conf **ret_conf)
{
	_cleanup_free_ char *src = dkm_ctx_path(ctx, pkg->source);
	_cleanup_conf_ struct dkm_conf *conf = NULL;
	_cleanup_free_ char *reason = NULL;
	int r;

	if (pkg->binary)
		return dkm_err(
			ctx, -ENOENT,
			"%s/%s was installed from a binary package (import-binary): there is no source here to build it for %s; export a build for that kernel where the source is",
			pkg->name, pkg->version, k->kver);
	if (!is_dir(src))
		return dkm_err(
			ctx, -ENOENT,
			"source of %s/%s is missing: '%s': reinstall the package that provides it, or 'dkm-hook remove %s/%s --all'",
			pkg->name, pkg->version, src, pkg->name, pkg->version);
	r = dkm_pkg_read_conf(ctx, pkg, k, &conf);
	if (r < 0) {
		dkm_build_mark_failed(ctx, pkg, k, "invalid dkms.conf");
		return r;
	}
	r = dkm_conf_excluded(conf, k->kver, k->arch, k->config_path, &reason);
	if (r < 0)
		return dkm_err(ctx, r, "cannot check BUILD_EXCLUSIVE of %s/%s for %s", pkg->name,
			       pkg->version, k->kver);
	if (r > 0) {
		_cleanup_kv_ struct dkm_kv kv = { 0 };

		dkm_kv_set(&kv, "reason", reason);
		dkm_notice(ctx, "%s/%s is not built for %s (%s): excluded by its dkms.conf",
			   pkg->name, pkg->version, k->kver, reason);
		r = save_state(ctx, pkg, k, DKM_STATE_EXCLUDED, &kv);
		return r < 0 ? r : 0;
	}
	if (!k->has_headers)
		return dkm_err(
			ctx, -ENOENT,
			"kernel headers for %s not found: '%s': install linux-headers-%s (its hook finishes the job), or run 'dkm-hook rebuild %s' once they are there",
			k->kver, k->source_dir, k->kver, k->kver);
	for (size_t i = 0; conf->build_depends && conf->build_depends[i]; i++) {
		const char *dep = conf->build_depends[i];
		_cleanup_strv_free_ char **vers = dkm_pkg_versions(ctx, dep);
		bool ok = false;

		if (strv_contains(same_run, dep))
			continue;
		if (!vers[0]) {
			dkm_warn(ctx,
				 "%s/%s: BUILD_DEPENDS names '%s', which is not registered: building without it",
				 pkg->name, pkg->version, dep);
			continue;
		}
		for (size_t j = 0; vers[j] && !ok; j++) {
			_cleanup_inst_ struct dkm_inst di = { 0 };

			if (dkm_inst_load(ctx, dep, vers[j], k->kver, k->arch, &di) > 0 &&
			    dkm_state_has_build(di.state))
				ok = true;
		}
		if (!ok) {
			dkm_build_mark_failed(ctx, pkg, k, "BUILD_DEPENDS not built");
			return dkm_err(
				ctx, -EAGAIN,
				"%s/%s needs '%s' (BUILD_DEPENDS) built for %s first: run 'dkm-hook install %s/%s -k %s' or 'dkm-hook rebuild %s'",
				pkg->name, pkg->version, dep, k->kver, dep,
				vers[strv_length(vers) - 1], k->kver, k->kver);
		}
	}
	*ret_conf = TAKE_PTR(conf);
	return 1;
}

static void log_line(int fd, const char *fmt, ...) _printf_(2, 3);
static void log_line(int fd, const char *fmt, ...)
{
	_cleanup_free_ char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	(void)!write(fd, s, strlen(s));
	(void)!write(fd, "\n", 1);
}

/* Print the last lines of the build log under the error. */
static void show_log_tail(struct dkm_ctx *ctx, const char *path, unsigned lines)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	const char *p;
	unsigned n = 0;

	if (read_full_file(path, 64 << 20, &data, &len) < 0 || len == 0)
		return;
	p = data + len;
	if (p[-1] == '\n')
		p--;
	while (p > data && n < lines) {
		p--;
		if (*p == '\n')
			n++;
	}
	if (*p == '\n')
		p++;
	for (char *line = (char *)p, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		dkm_notice(ctx, "  | %s", line);
	}
}

struct runner {
	struct dkm_ctx *ctx;
	const struct dkm_pkg *pkg;
	const struct dkm_kernel *k;
	const struct dkm_finish *fin;
	char *build; /* the real paths */
	char *log;
	char *vbuild; /* what the build sees: in its sandbox, fixed places */
	char *vtree;
	char *vksrc;
	char *vsrc;
	char *vinst;
	char *cc;	 /* the compiler launcher, when this build has its package's cache */
	char *vcache;	 /* that cache, as the build sees it */
	char *vksrctree; /* the kernel's source tree at a fixed place, for hits across kernels */
	int cc_fd;	 /* the cache's directory, flock'ed for this build */
	int log_fd;
	struct dkm_identity id;
	struct dkm_sandbox sandbox;
	bool use_sandbox;
	struct dkm_spawn_log out; /* the log's budget (build_log_max), shared by the steps */
};

static char **build_env(struct runner *rn, bool with_jobserver)
{
	char **env = xcalloc(1, sizeof(char *));
	const char *path = getenv("PATH");
	const struct dkm_kernel *k = rn->k;

	/* a scrubbed environment: what a build needs and what DKMS's scripts may read, with
	 * the paths as the build sees them */
	strv_push(&env, xasprintf("PATH=%s", path ? path : "/usr/sbin:/usr/bin:/sbin:/bin"));
	strv_push(&env, xasprintf("HOME=%s", rn->vbuild));
	strv_push(&env, xasprintf("TMPDIR=%s/.tmp", rn->vbuild));
	strv_push(&env, xstrdup("LC_ALL=C"));
	strv_push(&env, xstrdup("SHELL=/bin/sh"));
	strv_push(&env, xasprintf("kernelver=%s", k->kver));
	strv_push(&env, xasprintf("arch=%s", k->arch));
	strv_push(&env, xasprintf("kernel_source_dir=%s", rn->vksrc));
	strv_push(&env, xasprintf("dkms_tree=%s", rn->vtree));
	strv_push(&env, xasprintf("source_tree=%s", rn->vsrc));
	strv_push(&env, xasprintf("install_tree=%s", rn->vinst));
	strv_push(&env, xasprintf("module=%s", rn->pkg->name));
	strv_push(&env, xasprintf("module_version=%s", rn->pkg->version));
	if (rn->vcache) {
		/* ccache and friends keep their cache where the next build finds it again */
		strv_push(&env, xasprintf("XDG_CACHE_HOME=%s", rn->vcache));
		strv_push(&env, xasprintf("CCACHE_DIR=%s/ccache", rn->vcache));
		strv_push(&env,
			  xasprintf("CCACHE_MAXSIZE=%" PRIu64 "Ki", rn->ctx->cc_cache_max / 1024));
		/* the cwd is the kernel's build dir, a path per kernel: with -g ccache would hash
		 * it (the objects' DW_AT_comp_dir may then name the kernel they were first built for;
		 * the code is the same) */
		strv_push(&env, xstrdup("CCACHE_NOHASHDIR=1"));
	}
	if (with_jobserver && rn->fin && rn->fin->jobserver)
		strv_push(&env, xasprintf("MAKEFLAGS=-j%u --jobserver-auth=%d,%d", rn->ctx->jobs,
					  rn->fin->jobserver[0], rn->fin->jobserver[1]));
	return env;
}

/* Which of the build's limits a failed step ran into, from what its output said (or the signal
 * that ended it): "it reached build_max_procs (512 processes): the log says '...'" in why, and
 * the setting; NULL if none. */
static const char *limit_hit(struct runner *rn, int status, char *why, size_t size)
{
	const struct dkm_spawn_scan *sc = &rn->out.scan;
	const struct dkm_ctx *ctx = rn->ctx;
	char v[32];

	if ((sc->hits & DKM_SPAWN_HIT_PROCS) && ctx->build_max_procs) {
		snprintf(why, size, "it reached build_max_procs (%u processes): the log says '%s'",
			 ctx->build_max_procs, sc->said[0]);
		return "build_max_procs";
	}
	if ((sc->hits & DKM_SPAWN_HIT_MEMORY) && ctx->build_max_memory) {
		snprintf(why, size,
			 "it ran out of memory under build_max_memory (%s per process): the log says '%s'",
			 dkm_format_size(ctx->build_max_memory, v, sizeof(v)), sc->said[1]);
		return "build_max_memory";
	}
	if (((sc->hits & DKM_SPAWN_HIT_FSIZE) ||
	     (WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ)) &&
	    ctx->build_dir_max) {
		snprintf(why, size, "a file it wrote reached build_dir_max (%s)%s%s%s",
			 dkm_format_size(ctx->build_dir_max, v, sizeof(v)),
			 sc->said[2] ? ": the log says '" : "", strempty(sc->said[2]),
			 sc->said[2] ? "'" : "");
		return "build_dir_max";
	}
	return NULL;
}

static int run_logged(struct runner *rn, const char *what, char *const *argv, const char *cwd,
		      int stdin_fd, bool with_jobserver, char *const *reach)
{
	_cleanup_strv_free_ char **env = build_env(rn, with_jobserver);
	struct dkm_ctx *ctx = rn->ctx;
	int keep[3] = { -1, -1, -1 };
	/* what the build uid can write: its private build dir (the compiler cache has its own
	 * limit) */
	_cleanup_free_ char *pvdir = path_dirname(rn->build);
	struct dkm_spawn_watch watch = { .dir = pvdir, .max = ctx->build_dir_max };
	struct dkm_spawn s = {
		.argv = argv,
		.envp = env,
		.cwd = cwd,
		.stdin_fd = stdin_fd,
		.keep_fds = keep,
		.uid = rn->id.uid,
		.gid = rn->id.gid,
		.run_as = rn->id.run_as,
		.timeout_sec = ctx->build_timeout,
		.sandbox = rn->use_sandbox ? &rn->sandbox : NULL,
		.reach = reach,
		.limits = {
			.max_procs = ctx->build_max_procs,
			.max_memory = ctx->build_max_memory,
			.max_file = ctx->build_dir_max,
			.no_core = true,
		},
		.log = &rn->out,
		.watch = ctx->build_dir_max ? &watch : NULL,
	};
	_cleanup_free_ char *cmdline = strv_join(argv, " ");
	char desc[128], why[256], size[32], max[32];
	const char *setting;
	int status = 0, r;

	if (!rn->out.setting) {
		rn->out.fd = rn->log_fd;
		rn->out.max = ctx->build_log_max;
		rn->out.setting = "build_log_max";
	}
	if (with_jobserver && rn->fin && rn->fin->jobserver) {
		keep[0] = rn->fin->jobserver[0];
		keep[1] = rn->fin->jobserver[1];
	}
	log_line(rn->log_fd, "# %s", what);
	log_line(rn->log_fd, "$ %s", cmdline);
	r = dkm_spawn_run(ctx, &s, &status);
	if (r == 0)
		return 0;
	if (r == -ETIMEDOUT) {
		log_line(rn->log_fd, "# %s: timed out after %u s (build_timeout)", what,
			 ctx->build_timeout);
		return dkm_err(
			ctx, -ETIMEDOUT,
			"build of %s/%s for %s failed: %s timed out after %u s (build_timeout); log: '%s'",
			rn->pkg->name, rn->pkg->version, rn->k->kver, what, ctx->build_timeout,
			rn->log);
	}
	if (r == -EFBIG) {
		dkm_format_size(watch.size, size, sizeof(size));
		dkm_format_size(ctx->build_dir_max, max, sizeof(max));
		if (watch.unmeasurable)
			snprintf(why, sizeof(why),
				 "put more files or levels in its build dir than build_dir_max (%s) can be checked for (%s so far)",
				 max, size);
		else
			snprintf(why, sizeof(why),
				 "filled its build dir with %s, more than build_dir_max (%s) allows",
				 size, max);
		/* what it wrote goes now, not with the next build */
		(void)rm_rf(watch.dir);
		log_line(rn->log_fd, "# %s: %s: stopped, build dir removed", what, why);
		return dkm_err(
			ctx, -EFBIG,
			"build of %s/%s for %s failed: %s %s: raise build_dir_max in dkm-hook.conf if the package needs more; log: '%s'",
			rn->pkg->name, rn->pkg->version, rn->k->kver, what, why, rn->log);
	}
	if (r < 0)
		return r;
	dkm_spawn_describe(status, desc, sizeof(desc));
	setting = limit_hit(rn, status, why, sizeof(why));
	/* dkm_spawn_run stops a build at its process limit */
	if (setting && streq(setting, "build_max_procs") && WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGKILL)
		snprintf(desc, sizeof(desc), "was stopped");
	log_line(rn->log_fd, "# %s: %s", what, desc);
	if (setting) {
		log_line(rn->log_fd, "# %s: %s", what, why);
		return dkm_err(
			ctx, -EIO,
			"build of %s/%s for %s failed: %s %s: %s: raise %s in dkm-hook.conf if the package needs more; log: '%s'",
			rn->pkg->name, rn->pkg->version, rn->k->kver, what, desc, why, setting,
			rn->log);
	}
	return dkm_err(ctx, -EIO, "build of %s/%s for %s failed: %s %s; log: '%s'", rn->pkg->name,
		       rn->pkg->version, rn->k->kver, what, desc, rn->log);
}

/* DKMS runs PRE_BUILD/POST_BUILD as "<build>/<script> [args]" if executable, cwd <build>. */
static int run_script(struct runner *rn, const char *what, const char *script)
{
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_free_ char *exe = NULL;

	if (isempty(script))
		return 0;
	argv = strv_split(script, " \t");
	if (!argv[0])
		return 0;
	exe = path_join(rn->build, argv[0]);
	if (access(exe, X_OK) < 0) {
		dkm_warn(rn->ctx, "%s/%s: the %s script '%s' is not executable: skipped",
			 rn->pkg->name, rn->pkg->version, what, exe);
		log_line(rn->log_fd, "# %s script '%s' is not executable: skipped", what, exe);
		return 0;
	}
	free(argv[0]);
	argv[0] = path_join(rn->vbuild, exe + strlen(rn->build) + 1);
	{
		_cleanup_close_ int rfd = open(rn->log, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		off_t from = rfd < 0 ? 0 : lseek(rfd, 0, SEEK_END);
		int r = run_logged(rn, what, argv, rn->vbuild, -1, false, NULL);

		dkm_script_warn_denied(rn->ctx, rn->pkg, what, script, rfd, from,
				       "build-time scripts always do");
		return r;
	}
}

static char *make_command(struct runner *rn, const struct dkm_conf *conf)
{
	_cleanup_free_ char *def = NULL;
	const char *cmd = conf->make;
	_cleanup_free_ char *prefix = NULL;

	if (isempty(cmd))
		cmd = def = xasprintf("make -C %s M=%s", rn->vksrc, rn->vbuild);
	/* like DKMS: ${make_command/#make/make -j$jobs KERNELRELEASE=$kernelver} */
	if (!startswith(cmd, "make"))
		return xstrdup(cmd);
	if (rn->fin && rn->fin->jobserver)
		prefix = xasprintf("make KERNELRELEASE=%s", rn->k->kver);
	else
		prefix = xasprintf("make -j%u KERNELRELEASE=%s", rn->ctx->jobs, rn->k->kver);
	if (rn->cc) {
		_cleanup_free_ char *cc = NULL, *p2 = NULL;
		_cleanup_free_ char *cc_cfg =
			dkm_kconfig_get(rn->k->config_path, "CC_VERSION_TEXT");

		/* the kernel's compiler: "gcc-12 (Debian ...)" -> gcc-12 */
		cc = cc_cfg ? xstrndup(cc_cfg, strcspn(cc_cfg, " ")) : xstrdup("gcc");
		p2 = xasprintf("%s CC='%s %s'%s%s", prefix, rn->cc, cc,
			       rn->vksrctree ? " abs_srctree=" : "", strempty(rn->vksrctree));
		free(prefix);
		prefix = TAKE_PTR(p2);
	}
	return xasprintf("%s%s", prefix, cmd + 4);
}

static void runner_done(struct runner *rn)
{
	free(rn->cc);
	free(rn->vcache);
	free(rn->vksrctree);
	if (rn->cc_fd >= 0)
		close(rn->cc_fd); /* and with it the cache's lock */
	free(rn->build);
	free(rn->log);
	free(rn->vbuild);
	free(rn->vtree);
	free(rn->vksrc);
	free(rn->vsrc);
	free(rn->vinst);
	dkm_sandbox_done(&rn->sandbox);
	dkm_identity_release(&rn->id);
	if (rn->log_fd >= 0)
		close(rn->log_fd);
}

/* Hand the tree below dfd/name to uid:gid without a path a process of that uid could redirect:
 * every entry is reached relative to its parent's fd, never through a symlink (O_NOFOLLOW,
 * AT_SYMLINK_NOFOLLOW), and a directory is handed over only after everything in it (post-order),
 * so the directory being worked in still belongs to root and nothing in it can be swapped. */
static int chown_tree_at(int dfd, const char *name, uid_t uid, gid_t gid, unsigned depth)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (depth > 256)
		return -ELOOP;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		struct stat st2;

		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (fstat(fd, &st2) < 0)
			return -errno;
		if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)
			return -ESTALE;
		d = fdopendir(fcntl(fd, F_DUPFD_CLOEXEC, 3));
		if (!d)
			return -errno;
		while (r >= 0 && (de = readdir(d)))
			if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
				r = chown_tree_at(fd, de->d_name, uid, gid, depth + 1);
		closedir(d);
		if (r < 0)
			return r;
		return fchown(fd, uid, gid) < 0 ? -errno : 0;
	}
	/* a second name of a file elsewhere (a hard link made by an earlier process of the build
	 * uid, into a cache that outlives builds) is not ours to hand over: drop the name */
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
		return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	if (S_ISREG(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID))) {
		/* never hand over a set-id file: it would run as its new owner */
		if (fchmodat(dfd, name, st.st_mode & 0777 & ~(mode_t)022, 0) < 0)
			return -errno;
	}
	return fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int chown_tree(const char *path, uid_t uid, gid_t gid)
{
	_cleanup_free_ char *dir = path_dirname(path);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return -errno;
	return chown_tree_at(dfd, path_basename(path), uid, gid, 0);
}

/* The compiler launcher builds use: cc_launcher, "auto" meaning ccache when the PATH builds
 * run with has it; NULL for none. */
static char *cc_launcher(const struct dkm_ctx *ctx)
{
	_cleanup_free_ char *path = NULL;
	char *save = NULL;

	if (isempty(ctx->cc_launcher))
		return NULL;
	if (!streq(ctx->cc_launcher, "auto"))
		return xstrdup(ctx->cc_launcher);
	path = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/sbin:/usr/bin:/sbin:/bin");
	for (char *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *exe = path_join(d, "ccache");

		if (*d == '/' && access(exe, X_OK) == 0)
			return xstrdup("ccache");
	}
	return NULL;
}

/* The launcher's cache outlives builds, one per package (a cache one package's build can write
 * is one it can poison: no other package's build ever sees it): <cc_cache_dir>/<package>, for
 * one build at a time (an flock held until the build's processes are gone), handed to this
 * build's uid, writable inside its sandbox. A build that finds the cache in use by another
 * build of the same package (another kernel) runs without it. */
/* A Debian-style build dir is a stub whose Makefile is one line, "include <srctree>/Makefile",
 * and <srctree> (linux-headers-<abi>-common) is named per kernel: every -I, -include and line
 * marker then differs between two kernels of one flavour, and no compile hits the cache even
 * when the headers are the same. The sandbox shows the tree at a fixed place instead, named to
 * kbuild with abs_srctree= (which overrides kbuild's own and passes to every sub-make); its
 * relative links (scripts -> ../../lib/linux-kbuild-<v>/scripts) resolve there too, through
 * <srctree>/../../lib bound at the same distance. ccache still hashes the preprocessed text,
 * so different headers still miss. Other layouts are left as they are. */
static void fixed_srctree(struct runner *rn)
{
	_cleanup_free_ char *mk = path_join(rn->k->source_dir, "Makefile");
	_cleanup_fclose_ FILE *f = fopen(mk, "re");
	char line[PATH_MAX + 32], real[PATH_MAX], extra[8];
	_cleanup_free_ char *dir = NULL, *up = NULL, *lib = NULL;
	size_t n;

	if (!f || !fgets(line, sizeof(line), f) || fgets(extra, sizeof(extra), f))
		return;
	n = strcspn(line, "\n");
	line[n] = 0;
	if (!startswith(line, "include /") || n < strlen("include /Makefile") ||
	    !streq(line + n - strlen("/Makefile"), "/Makefile"))
		return;
	dir = xstrndup(line + strlen("include "), n - strlen("include ") - strlen("/Makefile"));
	if (!realpath(dir, real) || strpbrk(real, " :$\\'\"#"))
		return;
	up = path_dirname(real);
	lib = path_join(up, "../lib");
	if (access(lib, F_OK) == 0)
		dkm_sandbox_add_bind(&rn->sandbox, lib, "kernel/usr/lib", false);
	rn->vksrctree =
		xstrdup(dkm_sandbox_add_bind(&rn->sandbox, real, "kernel/usr/src/common", false));
}

static char *cc_cache_base(struct dkm_ctx *ctx)
{
	return isempty(ctx->cc_cache_dir) ? dkm_ctx_pathf(ctx, "%s/cc-cache", ctx->state_dir)
					  : dkm_ctx_path(ctx, ctx->cc_cache_dir);
}

int dkm_cc_cache_remove(struct dkm_ctx *ctx, const char *pkg)
{
	_cleanup_free_ char *base = cc_cache_base(ctx);
	_cleanup_free_ char *dir = path_join(base, pkg);

	return rm_rf(dir);
}

static int cc_cache_prepare(struct dkm_ctx *ctx, struct runner *rn)
{
	_cleanup_free_ char *base = cc_cache_base(ctx);
	_cleanup_free_ char *dir = path_join(base, rn->pkg->name);
	_cleanup_close_ int bfd = -1, fd = -1;
	struct stat st;
	int r;

	rn->cc = cc_launcher(ctx);
	if (!rn->cc)
		return 0;
	r = mkdir_p(base, 0711);
	if (r >= 0) {
		bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		/* ours, 0711, whatever an older layout (one cache handed to build uids) left */
		if (bfd < 0 || fchown(bfd, geteuid(), getegid()) < 0 || fchmod(bfd, 0711) < 0)
			r = -errno;
	}
	if (r >= 0 && mkdirat(bfd, rn->pkg->name, 0700) < 0 && errno != EEXIST)
		r = -errno;
	if (r >= 0) {
		fd = openat(bfd, rn->pkg->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0)
			r = -errno;
	}
	if (r < 0)
		return dkm_err(ctx, r, "cannot prepare the compiler cache '%s' (cc_cache_dir): %s",
			       dir, strerror(-r));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		log_line(rn->log_fd,
			 "# the compiler cache '%s' is in use by another build of %s: this one runs without it",
			 dir, rn->pkg->name);
		free(rn->cc);
		rn->cc = NULL;
		return 0;
	}
	if (rn->id.run_as) {
		r = chown_tree_at(bfd, rn->pkg->name, rn->id.uid, rn->id.gid, 0);
		if (r < 0)
			return dkm_err(ctx, r,
				       "cannot hand the compiler cache '%s' to the build's uid %u: %s",
				       dir, (unsigned)rn->id.uid, strerror(-r));
	}
	rn->cc_fd = TAKE_FD(fd);
	rn->vcache = rn->use_sandbox
			     ? xstrdup(dkm_sandbox_add_bind(&rn->sandbox, dir, "cc-cache", true))
			     : xstrdup(dir);
	if (rn->use_sandbox)
		fixed_srctree(rn);
	return 0;
}

/* The build user owns the build dir and may leave anything there for the privileged parent to
 * trip over: a symlink to a file it cannot read, a FIFO that blocks the reader forever, a
 * directory symlinked elsewhere. A built module must be a regular file inside the build dir.
 * NULL if it is, else why not. */
static const char *built_file_problem(const char *build, const char *ko)
{
	char real_build[PATH_MAX], real_ko[PATH_MAX];
	struct stat st;
	size_t n;

	if (lstat(ko, &st) < 0)
		return "was not produced";
	if (S_ISLNK(st.st_mode))
		return "is a symlink";
	if (!S_ISREG(st.st_mode))
		return "is not a regular file";
	if (!realpath(build, real_build) || !realpath(ko, real_ko))
		return "cannot be resolved";
	n = strlen(real_build);
	if (!strneq(real_ko, real_build, n) || real_ko[n] != '/')
		return "resolves to a place outside the build dir";
	return NULL;
}

int dkm_build_run(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k,
		  const struct dkm_conf *conf, const struct dkm_finish *fin)
{
	struct runner rn = { .ctx = ctx, .pkg = pkg, .k = k, .fin = fin, .log_fd = -1, .cc_fd = -1 };
	_cleanup_free_ char *src = dkm_ctx_path(ctx, pkg->source);
	_cleanup_free_ char *pvdir = NULL, *srclink = NULL, *bad = NULL, *cmd = NULL;
	_cleanup_free_ char *instdir = dkm_inst_dir(ctx, pkg->name, pkg->version, k->kver, k->arch);
	time_t t = time(NULL);
	char when[64];
	int r;

	rn.id = DKM_IDENTITY_NULL;
	rn.build = build_dir(ctx, pkg, k);
	rn.log = path_join(instdir, "build.log");
	pvdir = path_dirname(rn.build);

	r = mkdir_p(instdir, 0755);
	if (r < 0) {
		dkm_err(ctx, r, "cannot create '%s': %s", instdir, strerror(-r));
		goto out;
	}
	rn.log_fd = open(rn.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND | O_NOFOLLOW,
			 0644);
	if (rn.log_fd < 0 || fchmod(rn.log_fd, 0644) < 0) {
		r = dkm_err(ctx, errno, "cannot create build log: '%s': %s", rn.log,
			    strerror(errno));
		goto out;
	}
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	log_line(rn.log_fd, "# dkm-hook %s: build of %s/%s for %s (%s), %s", DKM_VERSION, pkg->name,
		 pkg->version, k->kver, k->arch, when);

	/* who builds (a uid of its own) and where (a sandbox, if there is one) */
	r = dkm_identity_acquire(ctx, true, &rn.id);
	if (r < 0)
		goto out;
	r = build_sandbox(ctx, pkg, k, &rn.sandbox);
	if (r < 0)
		goto out;
	rn.use_sandbox = r > 0;
	{
		_cleanup_free_ char *tree = host_tree(ctx, k);
		_cleanup_free_ char *srct = dkm_ctx_path(ctx, ctx->source_tree);
		_cleanup_free_ char *inst = dkm_ctx_path(ctx, ctx->module_dir);
		const struct dkm_sandbox *sb = rn.use_sandbox ? &rn.sandbox : NULL;

		rn.vbuild = dkm_sandbox_view(sb, rn.build);
		rn.vtree = rn.use_sandbox ? xstrdup(DKM_SANDBOX_VIEW "/build") : xstrdup(tree);
		rn.vksrc = dkm_sandbox_view(sb, k->source_dir);
		rn.vsrc = dkm_sandbox_view(sb, srct);
		rn.vinst = dkm_sandbox_view(sb, inst);
	}
	log_line(rn.log_fd, "# source '%s', build dir '%s'%s%s%s, as uid %u", src, rn.build,
		 rn.use_sandbox ? " (seen as '" : "", rn.use_sandbox ? rn.vbuild : "",
		 rn.use_sandbox ? "' in its sandbox)" : " (no sandbox)",
		 (unsigned)(rn.id.run_as ? rn.id.uid : geteuid()));

	/* A fresh private copy of the source (real files: some Makefiles move things around),
	 * made by root in a directory only root can change, then handed to the build's uid from
	 * the bottom up: nothing the build uid could do meanwhile redirects a privileged call. */
	r = rm_rf(pvdir);
	if (r >= 0)
		r = mkdir_parents(pvdir, 0755);
	if (r >= 0 && mkdir(pvdir, 0700) < 0)
		r = -errno;
	if (r < 0) {
		dkm_err(ctx, r, "cannot prepare build dir: '%s': %s", pvdir, strerror(-r));
		goto out;
	}
	r = copy_tree(src, rn.build, (uid_t)-1, (gid_t)-1, &bad);
	if (r > 0) {
		/* never a way out of the build dir; a package that ships such a link (a doc
		 * symlink into /usr/share/doc) builds without it, as what needs it fails */
		dkm_warn(ctx,
			 "%s/%s: left out of the build's copy of the source: '%s/%s'%s: a symlink that points outside the source (put a copy of what it points to in the source if the build needs it)",
			 pkg->name, pkg->version, src, bad, r > 1 ? " and others" : "");
		log_line(rn.log_fd, "# left out, symlinks outside the source: %d, the first: %s", r,
			 bad);
		r = 0;
	}
	if (r < 0) {
		dkm_err(ctx, r, "cannot copy source '%s' to '%s': %s", src, rn.build, strerror(-r));
		goto out;
	}
	srclink = path_join(pvdir, "source");
	{
		_cleanup_free_ char *vsrc =
			dkm_sandbox_view(rn.use_sandbox ? &rn.sandbox : NULL, src);
		_cleanup_free_ char *tmp = path_join(rn.build, ".tmp");

		(void)!symlink(vsrc, srclink);
		(void)mkdir(tmp, 0700);
	}
	if (rn.id.run_as) {
		r = chown_tree(pvdir, rn.id.uid, rn.id.gid);
		if (r < 0) {
			dkm_err(ctx, r, "cannot hand build dir '%s' to the build's uid %u: %s",
				pvdir, (unsigned)rn.id.uid, strerror(-r));
			goto out;
		}
	}
	r = cc_cache_prepare(ctx, &rn);
	if (r < 0)
		goto out;

	for (size_t i = 0; conf->patches && conf->patches[i]; i++) {
		/* PATCH may name "subdir/x.patch": resolved below the build dir only */
		_cleanup_free_ char *p = xasprintf("patches/%s", conf->patches[i]);
		_cleanup_close_ int bfd =
			open(rn.build, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct open_how how = { .flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC,
					.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
		_cleanup_close_ int pfd =
			bfd < 0 ? -1 : (int)syscall(SYS_openat2, bfd, p, &how, sizeof(how));
		char *const argv[] = { (char *)"patch", (char *)"-p1", (char *)"--forward",
				       (char *)"--batch", NULL };
		_cleanup_free_ char *what = xasprintf("PATCH %s", conf->patches[i]);

		if (pfd < 0) {
			r = dkm_err(ctx, -ENOENT,
				    "build of %s/%s for %s failed: patch '%s' not found in '%s/patches'; log: '%s'",
				    pkg->name, pkg->version, k->kver, conf->patches[i], src,
				    rn.log);
			goto out;
		}
		r = run_logged(&rn, what, argv, rn.vbuild, pfd, false, NULL);
		if (r < 0)
			goto out;
	}
	r = run_script(&rn, "PRE_BUILD", conf->pre_build);
	if (r < 0)
		goto out;

	cmd = make_command(&rn, conf);
	{
		char *const argv[] = { (char *)(access("/bin/bash", X_OK) == 0 ? "/bin/bash"
									       : "/bin/sh"),
				       (char *)"-c", cmd, NULL };
		char *const reach[] = { rn.vksrc, NULL };

		r = run_logged(&rn, "MAKE", argv, rn.vbuild, -1, true, reach);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < conf->n_modules; i++) {
		const struct dkm_conf_module *m = &conf->modules[i];
		_cleanup_free_ char *ko =
			xasprintf("%s/%s%s%s.ko", rn.build, m->built_location,
				  isempty(m->built_location) ? "" : "/", m->built_name);

		const char *why;

		if (!path_exists(ko)) {
			log_line(rn.log_fd, "# expected module not found: %s", ko);
			r = dkm_err(ctx, DKM_BUILD_NO_MODULE,
				    "build of %s/%s for %s failed: make succeeded but '%s' (BUILT_MODULE_NAME[%zu]='%s', BUILT_MODULE_LOCATION[%zu]='%s') was not produced; log: '%s'",
				    pkg->name, pkg->version, k->kver, ko, i, m->built_name, i,
				    m->built_location, rn.log);
			goto out;
		}
		why = built_file_problem(rn.build, ko);
		if (why) {
			log_line(rn.log_fd, "# built module %s: %s", why, ko);
			r = dkm_err(ctx, -EPERM,
				    "build of %s/%s for %s failed: '%s' (BUILT_MODULE_NAME[%zu]='%s') %s: it must be a regular file the build wrote inside its build dir; log: '%s'",
				    pkg->name, pkg->version, k->kver, ko, i, m->built_name, why,
				    rn.log);
			goto out;
		}
	}
	r = run_script(&rn, "POST_BUILD", conf->post_build);
	if (r < 0)
		goto out;
	log_line(rn.log_fd, "# build succeeded");
	r = 0;
out:
	if (r < 0 && rn.log_fd >= 0) {
		show_log_tail(ctx, rn.log, 10);
	}
	runner_done(&rn);
	return r;
}

char *dkm_dest_location(struct dkm_ctx *ctx, const char *conf_location)
{
	if (streq(ctx->dest_location, "dkms.conf"))
		return xstrdup(conf_location);
	if (ctx->dest_location[0] == '/')
		return xstrdup(ctx->dest_location);
	/* auto: what DKMS does on this distribution */
	{
		static const char *const files[] = { "/etc/os-release", "/usr/lib/os-release" };

		for (size_t i = 0; i < ELEMENTSOF(files); i++) {
			_cleanup_free_ char *p = dkm_ctx_path(ctx, files[i]), *data = NULL;

			if (read_full_file(p, 65536, &data, NULL) < 0)
				continue;
			for (char *line = data, *next; line; line = next) {
				next = strchr(line, '\n');
				if (next)
					*next++ = 0;
				if ((startswith(line, "ID=") || startswith(line, "ID_LIKE=")) &&
				    (strstr(line, "debian") || strstr(line, "ubuntu")))
					return xstrdup("/updates/dkms");
			}
			break;
		}
	}
	return xstrdup(conf_location);
}

/* strip --strip-debug a copy of the module, like DKMS's `strip -g` and kbuild's
 * INSTALL_MOD_STRIP=1. The file came out of an untrusted build: binutils parses it as a uid of
 * its own, in a sandbox where only the work dir holding the copy is writable, never as root.
 * The work dir is root's until it is handed over (file first, then the dir). */
static int strip_module(struct dkm_ctx *ctx, const char *workdir, const char *path)
{
	_cleanup_identity_ struct dkm_identity id = DKM_IDENTITY_NULL;
	struct dkm_sandbox sb = { 0 };
	_cleanup_free_ char *vpath = NULL;
	char *argv[] = { (char *)"strip", (char *)"--strip-debug", NULL, NULL };
	struct dkm_spawn s = { .argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -2 };
	int status = 0, r;
	char desc[64];

	r = dkm_identity_acquire(ctx, true, &id);
	if (r < 0)
		return r;
	if (id.run_as && (chown(path, id.uid, id.gid) < 0 || chown(workdir, id.uid, id.gid) < 0))
		return dkm_err(ctx, -errno, "cannot hand '%s' to uid %u: %s", path,
			       (unsigned)id.uid, strerror(errno));
	s.uid = id.uid, s.gid = id.gid, s.run_as = id.run_as;
	r = dkm_sandbox_wanted(ctx);
	if (r < 0)
		return r;
	if (r > 0) {
		dkm_sandbox_init(&sb, ctx);
		dkm_sandbox_add_bind(&sb, workdir, "strip", true);
		s.sandbox = &sb;
	}
	vpath = dkm_sandbox_view(s.sandbox, path);
	argv[2] = vpath;
	r = dkm_spawn_run(ctx, &s, &status);
	dkm_sandbox_done(&sb);
	if (r > 0)
		return dkm_err(ctx, -EIO, "strip --strip-debug '%s' %s", path,
			       dkm_spawn_describe(status, desc, sizeof(desc)));
	return r < 0 ? r : 0;
}

/* Read a file only if it is a regular file (never through a symlink, never blocking on a FIFO
 * someone planted). */
static int read_regular(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	_cleanup_free_ char *proc = NULL;
	struct stat st;

	if (fd < 0)
		return -errno; /* -ELOOP: a symlink */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EPERM;
	proc = xasprintf("/proc/self/fd/%d", fd);
	return read_full_file(proc, max, ret, ret_len);
}

/* tmp, the copy of the built module ko, read and checked to be a kernel module: its contents in
 * *ret_data and *ret_len, what its .modinfo says in *ret_em */
static int read_built_module(struct dkm_ctx *ctx, const char *ko, const char *tmp, char **ret_data,
			     size_t *ret_len, struct dkm_elf_module *ret_em)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r;

	r = read_regular(tmp, (size_t)1 << 30, &data, &len);
	if (r == -ELOOP || r == -EPERM)
		return dkm_err(ctx, -EPERM, "'%s' is %s after strip: refusing it", tmp,
			       r == -ELOOP ? "a symlink" : "not a regular file");
	if (r < 0)
		return dkm_err(ctx, r, "cannot read '%s': %s", tmp, strerror(-r));
	r = dkm_elf_module_parse(ctx, ko, data, len, ret_em);
	if (r < 0)
		return r;
	*ret_data = TAKE_PTR(data);
	*ret_len = len;
	return 0;
}

/* Copy the built module ko (a path inside build) to dst: opened below the build dir without
 * following any symlink on the way (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS from an fd of the
 * build dir, itself reached without following one), a regular file only, never blocking on a
 * FIFO. The build uid owns everything from the build dir down: no path there is trusted. */
static int copy_built(const char *build, const char *ko, const char *dst)
{
	_cleanup_free_ char *pvdir = path_dirname(build);
	_cleanup_close_ int pfd = -1, bfd = -1, in = -1, out = -1;
	struct open_how how = {
		.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	const char *rel = ko + strlen(build);
	struct stat st;
	char buf[65536];

	while (*rel == '/')
		rel++;
	pfd = open(pvdir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	bfd = openat(pfd, path_basename(build), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0)
		return -errno;
	in = (int)syscall(SYS_openat2, bfd, rel, &how, sizeof(how));
	if (in < 0)
		return -errno;
	if (fstat(in, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EPERM;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	for (;;) {
		ssize_t k = read(in, buf, sizeof(buf));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		for (ssize_t o = 0; o < k;) {
			ssize_t w = write(out, buf + o, (size_t)(k - o));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			o += w;
		}
	}
	return fchmod(out, 0644) < 0 ? -errno : 0;
}

int dkm_build_collect(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, struct dkm_kernel *k,
		      const struct dkm_conf *conf, const struct dkm_finish *fin)
{
	_cleanup_free_ char *build = build_dir(ctx, pkg, k);
	_cleanup_free_ char *instdir = dkm_inst_dir(ctx, pkg->name, pkg->version, k->kver, k->arch);
	_cleanup_free_ char *newdir = path_join(instdir, "modules.new");
	_cleanup_free_ char *workdir = path_join(instdir, "strip.tmp");
	_cleanup_free_ char *moddir = path_join(instdir, "modules");
	_cleanup_free_ char *pvdir = path_dirname(build);
	_cleanup_free_ char *log = path_join(instdir, "build.log");
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_kv_ struct dkm_kv kv = { 0 };
	enum dkm_compression comp = (enum dkm_compression)fin->compression;
	int r;

	r = rm_rf(newdir);
	if (r >= 0)
		r = mkdir_p(newdir, 0755);
	if (r < 0)
		return dkm_err(ctx, r, "cannot create '%s': %s", newdir, strerror(-r));
	(void)rm_rf(workdir);
	names = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < conf->n_modules; i++) {
		const struct dkm_conf_module *m = &conf->modules[i];
		_cleanup_free_ char *ko =
			xasprintf("%s/%s%s%s.ko", build, m->built_location,
				  isempty(m->built_location) ? "" : "/", m->built_name);
		_cleanup_free_ char *tmp = xasprintf("%s/%zu.ko", workdir, i);
		_cleanup_free_ char *data = NULL, *dest = NULL, *loc = NULL;
		_cleanup_free_ void *signed_buf = NULL, *packed = NULL;
		struct dkm_elf_module em = { 0 };
		const void *out;
		size_t len, out_len;
		char sha[65];

		const char *why = built_file_problem(build, ko);

		if (why)
			return dkm_err(
				ctx, -EPERM,
				"'%s' (BUILT_MODULE_NAME[%zu]='%s') %s: it must be a regular file the build wrote inside its build dir",
				ko, i, m->built_name, why);
		/* a private copy in a dir of root's: what the build uid still holds cannot change it */
		(void)rm_rf(workdir);
		if (mkdir(workdir, 0700) < 0)
			return dkm_err(ctx, -errno, "cannot create '%s': %s", workdir,
				       strerror(errno));
		r = copy_built(build, ko, tmp);
		if (r < 0) {
			why = built_file_problem(build, ko);
			return dkm_err(
				ctx, r == -ENOENT || why ? -EPERM : r,
				"'%s' (BUILT_MODULE_NAME[%zu]='%s') %s: it must be a regular file the build wrote inside its build dir",
				ko, i, m->built_name, why ? why : strerror(-r));
		}
		/* a kernel module at all? (before strip, which has its own idea of a bad file) */
		r = read_built_module(ctx, ko, tmp, &data, &len, &em);
		if (r < 0)
			return r;
		if (m->strip) {
			dkm_elf_module_done(&em);
			r = strip_module(ctx, workdir, tmp);
			if (r < 0)
				return r;
			free(data);
			data = NULL;
			r = read_built_module(ctx, ko, tmp, &data, &len, &em);
			if (r < 0)
				return r;
		}
		if (!em.vermagic || !startswith(em.vermagic, k->kver) ||
		    (em.vermagic[strlen(k->kver)] != ' ' && em.vermagic[strlen(k->kver)] != 0)) {
			r = dkm_err(ctx, -ENOEXEC,
				    "'%s' was built for another kernel: vermagic '%s' does not start with '%s': its Makefile must build against $kernel_source_dir ('%s'), not the running kernel",
				    ko, strempty(em.vermagic), k->kver, k->source_dir);
			dkm_elf_module_done(&em);
			return r;
		}
		dkm_elf_module_done(&em);
		out = data;
		out_len = len;
		if (fin->key) {
			r = dkm_module_sign(ctx, fin->key, fin->sig_hash, data, len, &signed_buf,
					    &out_len);
			if (r < 0)
				return r;
			out = signed_buf;
		}
		if (comp != DKM_COMPRESS_NONE) {
			size_t plen;

			r = dkm_compress(ctx, comp, out, out_len, &packed, &plen);
			if (r < 0)
				return r;
			out = packed;
			out_len = plen;
		}
		dest = xasprintf("%s/%s.ko%s", newdir, m->dest_name, dkm_compression_suffix(comp));
		r = write_file_atomic(dest, out, out_len, 0644);
		if (r < 0)
			return dkm_err(ctx, r, "cannot write '%s': %s", dest, strerror(-r));
		(void)rm_rf(workdir);
		sha256_buf(out, out_len, sha);
		strv_extend(&names, m->dest_name);
		loc = dkm_dest_location(ctx, m->dest_location);
		{
			_cleanup_free_ char *f =
				xasprintf("%s.ko%s", m->dest_name, dkm_compression_suffix(comp));

			dkm_modrec_set(&kv, m->dest_name,
				       &(struct dkm_modrec){ .file = f,
							     .location = strempty(loc),
							     .sha256 = sha });
		}
	}
	/* publish the new artefacts as a whole */
	r = dir_replace(newdir, moddir);
	if (r < 0)
		return dkm_err(ctx, r, "cannot publish '%s': %s", moddir, strerror(-r));
	{
		_cleanup_free_ char *mods = strv_join(names, " ");

		dkm_kv_set(&kv, "modules", mods);
	}
	{
		char fp[65];

		if (dkm_build_fingerprint(ctx, pkg, k, fin, fp) >= 0)
			dkm_kv_set(&kv, "fingerprint", fp);
	}
	dkm_kv_set(&kv, "compression", dkm_compression_name(comp));
	dkm_kv_set(&kv, "signed", fin->key ? "yes" : "no");
	dkm_kv_set(&kv, "sig_hash", fin->key ? fin->sig_hash : "");
	dkm_kv_set(&kv, "log", log);
	dkm_kv_set(&kv, "reason", "");
	dkm_kv_set(&kv, "last_failure", "");
	r = save_state(ctx, pkg, k, DKM_STATE_BUILT, &kv);
	if (r < 0)
		return r;
	(void)rm_rf(pvdir);
	/* and <build>/<kver>/<arch>/<pkg> up to <build>/<kver>, when nothing else is in them */
	{
		_cleanup_free_ char *d = path_dirname(pvdir);

		for (int up = 0; up < 3 && rmdir(d) == 0; up++) {
			char *parent = path_dirname(d);

			free(d);
			d = parent;
		}
	}
	return 0;
}

bool dkm_build_intact(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k)
{
	_cleanup_free_ char *instdir = dkm_inst_dir(ctx, pkg->name, pkg->version, k->kver, k->arch);
	_cleanup_inst_ struct dkm_inst inst = { 0 };
	_cleanup_strv_free_ char **mods = NULL;

	if (dkm_inst_load(ctx, pkg->name, pkg->version, k->kver, k->arch, &inst) <= 0)
		return false;
	mods = strv_split(strempty(dkm_kv_get(&inst.kv, "modules")), " ");
	for (size_t i = 0; mods[i]; i++) {
		struct dkm_modrec rec;
		const char *file, *want;
		_cleanup_free_ char *path = NULL;
		char sha[65];

		dkm_modrec_get(&inst.kv, mods[i], &rec);
		file = rec.file;
		want = rec.sha256;

		if (isempty(file) || isempty(want))
			return false;
		path = xasprintf("%s/modules/%s", instdir, file);
		if (sha256_file(path, sha) < 0 || !streq(sha, want))
			return false;
	}
	return true;
}

static int cmp_dirent(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Hash a tree: sorted names, types, file contents, link targets. */
static int hash_tree(EVP_MD_CTX *md, const char *dir, const char *rel)
{
	_cleanup_free_ char *path = rel[0] ? path_join(dir, rel) : xstrdup(dir);
	struct dirent **ents = NULL;
	int n, r = 0;

	n = scandir(path, &ents, NULL, cmp_dirent);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		_cleanup_free_ char *crel = NULL, *full = NULL;
		struct stat st;

		if (r < 0 || streq(name, ".") || streq(name, "..")) {
			free(ents[i]);
			continue;
		}
		crel = rel[0] ? path_join(rel, name) : xstrdup(name);
		full = path_join(dir, crel);
		free(ents[i]);
		if (lstat(full, &st) < 0) {
			r = -errno;
			continue;
		}
		EVP_DigestUpdate(md, crel, strlen(crel) + 1);
		if (S_ISDIR(st.st_mode)) {
			EVP_DigestUpdate(md, "d", 1);
			r = hash_tree(md, dir, crel);
		} else if (S_ISREG(st.st_mode)) {
			_cleanup_free_ char *data = NULL;
			size_t len;

			EVP_DigestUpdate(md, (st.st_mode & 0111) ? "x" : "f", 1);
			r = read_full_file(full, (size_t)1 << 30, &data, &len);
			if (r >= 0)
				EVP_DigestUpdate(md, data, len);
		} else if (S_ISLNK(st.st_mode)) {
			char t[4096];
			ssize_t k = readlink(full, t, sizeof(t));

			EVP_DigestUpdate(md, "l", 1);
			if (k > 0)
				EVP_DigestUpdate(md, t, (size_t)k);
		}
	}
	free(ents);
	return r;
}

int dkm_build_fingerprint(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, struct dkm_kernel *k,
			  const struct dkm_finish *fin, char ret[static 65])
{
	_cleanup_free_ char *src = dkm_ctx_path(ctx, pkg->source);
	_cleanup_free_ char *extra = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char out[32];
	unsigned len = 0;
	int r;

	if (!md)
		return -ENOMEM;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	extra = xasprintf("dkm-hook %s\n%s/%s\n%s\n%s\ncompression=%d\nsig=%s\ncert=%s\ncc=%s\n",
			  DKM_VERSION, pkg->name, pkg->version, k->kver, k->arch, fin->compression,
			  fin->key ? strempty(fin->sig_hash) : "-",
			  fin->key ? fin->cert_sha256 : "-", strempty(ctx->cc_launcher));
	EVP_DigestUpdate(md, extra, strlen(extra));
	EVP_DigestUpdate(md, dkm_kernel_fingerprint(k), 64);
	/* /etc/dkms/<module>[-<ver>[-<kver>[-<arch>]]].conf overrides change what is built */
	{
		_cleanup_free_ char *etc = dkm_ctx_path(ctx, "/etc/dkms");
		const char *prefix = pkg->name;
		struct dirent **ents = NULL;
		int n = scandir(etc, &ents, NULL, cmp_dirent);

		for (int i = 0; i < n; i++) {
			const char *name = ents[i]->d_name;

			if (startswith(name, prefix) && endswith(name, ".conf") &&
			    (name[strlen(prefix)] == '.' || name[strlen(prefix)] == '-')) {
				_cleanup_free_ char *f = path_join(etc, name), *data = NULL;
				size_t dlen = 0;

				EVP_DigestUpdate(md, name, strlen(name) + 1);
				if (read_full_file(f, 1 << 20, &data, &dlen) >= 0)
					EVP_DigestUpdate(md, data, dlen);
			}
			free(ents[i]);
		}
		free(ents);
	}
	r = hash_tree(md, src, "");
	EVP_DigestFinal_ex(md, out, &len);
	EVP_MD_CTX_free(md);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < 32; i++)
		sprintf(ret + 2 * i, "%02x", out[i]);
	ret[64] = 0;
	return 0;
}
