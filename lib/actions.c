/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "actions.h"
#include "build.h"
#include "compress.h"
#include "conf.h"
#include "ctx.h"
#include "identity.h"
#include "initrd.h"
#include "install.h"
#include "kernel.h"
#include "lock.h"
#include "registry.h"
#include "sandbox.h"
#include "sched.h"
#include "sign.h"
#include "spawn.h"
#include "util.h"

/* What building one package for one kernel came to, when it is not an -errno: never confused
 * with one (an errno is negative, these are not) and counted into struct dkm_result. */
enum {
	BUILD_OK = 0,
	BUILD_FAILED = 1,   /* the build ran and failed: state 'failed', log kept */
	BUILD_EXCLUDED = 2, /* BUILD_EXCLUSIVE_* excludes the kernel: nothing built */
};

static void result_clear(struct dkm_result *res)
{
	if (res)
		*res = (struct dkm_result){ 0 };
}

/* count one target's outcome: 0 or a BUILD_* value, or its -errno (each distinct one kept) */
static void result_add(struct dkm_result *res, int r)
{
	if (!res)
		return;
	if (r == BUILD_FAILED)
		res->failed++;
	else if (r == BUILD_EXCLUDED)
		res->excluded++;
	else if (r >= 0)
		res->done++;
	else {
		for (unsigned i = 0; i < res->n_errors; i++)
			if (res->errors[i] == r)
				return;
		if (res->n_errors < ELEMENTSOF(res->errors))
			res->errors[res->n_errors++] = r;
	}
}

static bool result_clean(const struct dkm_result *res)
{
	return !res || (res->failed == 0 && res->excluded == 0 && res->n_errors == 0);
}

/* "pkg/ver" or "pkg" */
static int parse_pkgver(struct dkm_ctx *ctx, const char *arg, char **ret_name, char **ret_ver)
{
	const char *slash = strchr(arg, '/');
	_cleanup_free_ char *name = slash ? xstrndup(arg, (size_t)(slash - arg)) : xstrdup(arg);
	_cleanup_free_ char *ver = slash ? xstrdup(slash + 1) : NULL;

	if (!name_is_valid(name) || (ver && !name_is_valid(ver)))
		return dkm_err(ctx, -EINVAL, "invalid package '%s': expected <package>/<version>",
			       arg);
	*ret_name = TAKE_PTR(name);
	*ret_ver = TAKE_PTR(ver);
	return 0;
}

int dkm_resolve_pkg(struct dkm_ctx *ctx, const char *arg, struct dkm_pkg **ret)
{
	_cleanup_free_ char *name = NULL, *ver = NULL;
	_cleanup_strv_free_ char **vers = NULL;
	int r;

	r = parse_pkgver(ctx, arg, &name, &ver);
	if (r < 0)
		return r;
	vers = dkm_pkg_versions(ctx, name);
	if (!vers[0]) {
		_cleanup_strv_free_ char **owners = dkm_pkg_owners_of_module(ctx, name);

		if (owners[0]) {
			const char *o = owners[0];
			const char *oslash = strchr(o, '/');
			_cleanup_free_ char *suggest =
				ver ? xasprintf("%.*s/%s", (int)(oslash - o), o, ver) : xstrdup(o);

			return dkm_err(
				ctx, -ENOENT,
				"'%s' is not a package but a module of package '%.*s' (%s): use '%s'",
				name, (int)(oslash - o), o, o, suggest);
		}
		return dkm_err(
			ctx, -ENOENT,
			"package '%s' is not registered: 'dkm-hook status' lists what is, 'dkm-hook add <dir>' registers a source",
			name);
	}
	if (!ver) {
		if (vers[1]) {
			_cleanup_free_ char *l = strv_join(vers, ", ");

			return dkm_err(
				ctx, -EINVAL,
				"package '%s' has several versions (%s): name one as '%s/<version>'",
				name, l, name);
		}
		ver = xstrdup(vers[0]);
	} else if (!strv_contains(vers, ver)) {
		_cleanup_free_ char *l = strv_join(vers, ", ");

		return dkm_err(ctx, -ENOENT, "%s/%s is not registered (registered versions: %s)",
			       name, ver, l);
	}
	r = dkm_pkg_load(ctx, name, ver, ret);
	if (r < 0)
		return dkm_err(ctx, r, "cannot read registration of %s/%s: %s", name, ver,
			       strerror(-r));
	return 0;
}

/* The kernels a command acts on: -k given, else the default kernel. */
static char **target_kernels(struct dkm_ctx *ctx, const struct dkm_opts *o)
{
	char **l = xcalloc(1, sizeof(char *));

	for (size_t i = 0; o->kernels && o->kernels[i]; i++)
		if (!strv_contains(l, o->kernels[i]))
			strv_extend(&l, o->kernels[i]);
	if (!l[0]) {
		char *k = dkm_kernel_default(ctx);

		if (k)
			strv_push(&l, k);
	}
	return l;
}

/* Kernel facts and how its modules are finished, shared by the packages of a command. */
struct kstate {
	struct dkm_kernel *k;
	struct dkm_finish fin;
	bool dirty;	  /* module tree changed: depmod */
	bool changed;	  /* ... by this command (stays set after depmod): the initramfs */
	bool in_initrd;	  /* the command's package belonged in its initramfs before the change */
	bool prebuilt;	  /* this command already ran the package's build for this kernel */
	int build_result; /* ... with this result (what build_one returns) */
};

struct run {
	struct dkm_ctx *ctx;
	const struct dkm_opts *o;
	struct kstate *ks;
	size_t n_ks;
	struct dkm_sign_key *key;
	int lock_fd;
	int kernel_locks[16];
	size_t n_kernel_locks;
	char *pkg_name;		/* for_each_kernel: the package it acts on */
	struct dkm_result *res; /* for_each_kernel: every kernel's outcome (may be NULL) */
};

static void run_done(struct run *rn)
{
	for (size_t i = 0; i < rn->n_ks; i++)
		dkm_kernel_free(rn->ks[i].k);
	free(rn->ks);
	dkm_sign_key_free(rn->key);
	for (size_t i = 0; i < rn->n_kernel_locks; i++)
		close(rn->kernel_locks[i]);
	if (rn->lock_fd >= 0)
		close(rn->lock_fd);
	free(rn->pkg_name);
}

/* A previous command was interrupted (power cut, SIGKILL): finish or roll back what it was
 * doing to the registry and to each kernel's module tree, and run the depmod it owed. */
static int recover(struct run *rn)
{
	_cleanup_free_ char *dir = dkm_ctx_pathf(rn->ctx, "%s/kernels", rn->ctx->state_dir);
	struct dirent *de;
	DIR *d;
	int r;

	r = dkm_pkg_recover(rn->ctx, true, NULL);
	if (r < 0)
		return r;
	d = opendir(dir);
	if (!d)
		return 0;
	r = 0;
	while (r >= 0 && (de = readdir(d)))
		if (de->d_name[0] != '.' && name_is_valid(de->d_name))
			r = dkm_install_recover(rn->ctx, de->d_name, !rn->o->no_depmod);
	closedir(d);
	return r < 0 ? r : 0;
}

/* Commands on kernels: the registry shared, each kernel exclusive (in name order, so two
 * commands never wait for each other crosswise); then finish what an interrupted command
 * left in those kernels. */
static int run_lock_kernels(struct run *rn, char *const *kvers)
{
	_cleanup_strv_free_ char **sorted = NULL;
	int r, fd;

	if (rn->lock_fd >= 0)
		return 0;
	for (size_t i = 0; kvers && kvers[i]; i++)
		if (!strv_contains(sorted, kvers[i]))
			strv_extend(&sorted, kvers[i]);
	if (strv_length(sorted) > ELEMENTSOF(rn->kernel_locks))
		return dkm_err(rn->ctx, -E2BIG, "too many kernels in one command (at most %zu)",
			       ELEMENTSOF(rn->kernel_locks));
	rn->lock_fd = dkm_lock_take_registry(rn->ctx, true);
	if (rn->lock_fd < 0)
		return rn->lock_fd;
	qsort(sorted, strv_length(sorted), sizeof(char *), strcmp_ptr);
	for (size_t i = 0; sorted && sorted[i]; i++) {
		fd = dkm_lock_take_kernel(rn->ctx, sorted[i]);
		if (fd < 0)
			return fd;
		rn->kernel_locks[rn->n_kernel_locks++] = fd;
		r = dkm_install_recover(rn->ctx, sorted[i], !rn->o->no_depmod);
		if (r < 0)
			return r;
	}
	return 0;
}

static int run_lock(struct run *rn)
{
	if (rn->lock_fd >= 0)
		return 0;
	rn->lock_fd = dkm_lock_take(rn->ctx);
	if (rn->lock_fd < 0)
		return rn->lock_fd;
	return recover(rn);
}

static int load_key(struct run *rn)
{
	struct dkm_ctx *ctx = rn->ctx;
	_cleanup_free_ char *key = dkm_ctx_path(ctx, ctx->sign_key);
	_cleanup_free_ char *cert = dkm_ctx_path(ctx, ctx->sign_cert);
	int r;

	if (rn->key)
		return 0;
	r = mkdir_parents(key, 0700);
	if (r >= 0)
		r = mkdir_parents(cert, 0755);
	if (r < 0)
		return dkm_err(ctx, r, "cannot create the directory of '%s': %s", key,
			       strerror(-r));
	r = dkm_sign_key_ensure(ctx, key, cert, false);
	if (r < 0)
		return r;
	return dkm_sign_key_load(ctx, key, cert, &rn->key);
}

static int get_kernel(struct run *rn, const char *kver, struct kstate **ret)
{
	struct dkm_ctx *ctx = rn->ctx;
	const char *arch = rn->o->arch;
	struct kstate *ks;
	enum dkm_compression comp;
	const char *cname;
	bool sign;
	int r;

	for (size_t i = 0; i < rn->n_ks; i++)
		if (streq(rn->ks[i].k->kver, kver)) {
			*ret = &rn->ks[i];
			return 0;
		}
	rn->ks = xrealloc(rn->ks, (rn->n_ks + 1) * sizeof(*rn->ks));
	ks = &rn->ks[rn->n_ks];
	memset(ks, 0, sizeof(*ks));
	r = dkm_kernel_probe(ctx, kver, arch, rn->o->kernel_source_dir, &ks->k);
	if (r < 0)
		return r;
	rn->n_ks++;
	cname = ctx->compress == DKM_COMPRESS_SETTING_AUTO
			? ks->k->compression
			: dkm_compress_setting_to_string(ctx->compress);
	r = dkm_compression_from_string(cname, &comp);
	if (r < 0)
		return dkm_err(ctx, r, "unknown compression '%s' for %s", cname, kver);
	ks->fin.compression = (int)comp;
	sign = ctx->sign == DKM_SIGN_YES || (ctx->sign == DKM_SIGN_AUTO && ks->k->module_sig);
	if (sign) {
		r = load_key(rn);
		if (r < 0)
			return r;
		ks->fin.key = rn->key;
		{
			_cleanup_free_ char *cert = dkm_ctx_path(ctx, ctx->sign_cert);

			(void)sha256_file(cert, ks->fin.cert_sha256);
		}
		ks->fin.sig_hash = ks->k->sig_hash ? ks->k->sig_hash : "sha256";
	}
	*ret = ks;
	return 0;
}

static int depmod_dirty(struct run *rn)
{
	int r = 0;

	for (size_t i = 0; i < rn->n_ks; i++) {
		if (!rn->ks[i].dirty || rn->o->no_depmod)
			continue;
		dkm_notice(rn->ctx, "depmod %s", rn->ks[i].k->kver);
		int k = dkm_depmod(rn->ctx, rn->ks[i].k);
		if (k < 0 && r == 0)
			r = k;
		rn->ks[i].dirty = false;
	}
	return r;
}

/* build one package for one kernel, synchronously (through the scheduler, for one job) */
static int build_one(struct run *rn, const struct dkm_pkg *pkg, struct kstate *ks, bool install)
{
	_cleanup_conf_ struct dkm_conf *conf = NULL;
	struct dkm_job job = { 0 };
	int r;

	r = dkm_build_check(rn->ctx, pkg, ks->k, NULL, &conf);
	if (r < 0)
		return r;
	if (r == 0)
		return BUILD_EXCLUDED;
	job.pkg = pkg;
	job.k = ks->k;
	job.conf = conf;
	job.fin = &ks->fin;
	job.install = install;
	r = dkm_sched_run(rn->ctx, &job, 1);
	if (r < 0)
		return r;
	if (job.tree_changed)
		ks->dirty = true;
	return job.result == DKM_JOB_DONE ? BUILD_OK : BUILD_FAILED;
}

static int inst_state(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const struct dkm_kernel *k,
		      enum dkm_state *ret)
{
	_cleanup_inst_ struct dkm_inst inst = { 0 };
	int r = dkm_inst_load(ctx, pkg->name, pkg->version, k->kver, k->arch, &inst);

	if (r < 0)
		return r;
	*ret = inst.state;
	return 0;
}

/* <srcroot>/.dkm-hook-add: where add stages its copies, a directory only root enters */
static int stage_dir(struct dkm_ctx *ctx, const char *srcroot, char **ret)
{
	_cleanup_free_ char *dir = path_join(srcroot, ".dkm-hook-add");
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return dkm_err(ctx, -errno, "cannot create '%s': %s", dir, strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return dkm_err(ctx, -errno, "cannot open '%s': %s", dir, strerror(errno));
	if (st.st_uid != geteuid())
		return dkm_err(ctx, -EPERM, "refusing '%s': owned by uid %u, not by us: remove it",
			       dir, (unsigned)st.st_uid);
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
		return dkm_err(ctx, -errno, "cannot chmod 0700 '%s': %s", dir, strerror(errno));
	*ret = TAKE_PTR(dir);
	return 0;
}

/* The sha256 of a dkms.conf's bytes ("" if it cannot be read: the reader says why). */
static void conf_sha256(const char *path, char ret[static 65])
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;

	ret[0] = 0;
	if (read_full_file(path, 1 << 20, &data, &len) >= 0)
		sha256_buf(data, len, ret);
}

/* The copy's dkms.conf must be the one read before the copy (whose sha256 is want). */
static int same_conf_in_copy(struct dkm_ctx *ctx, const char *src, const char *copy,
			     const char *want)
{
	_cleanup_free_ char *path = path_join(copy, "dkms.conf");
	_cleanup_free_ char *orig = path_join(src, "dkms.conf");
	char sha[65];

	conf_sha256(path, sha);
	if (!isempty(want) && streq(sha, want))
		return 0;
	return dkm_err(
		ctx, -ESTALE,
		"cannot add '%s': '%s' changed while it was being copied (replaced or moved): make sure nothing changes the source during 'dkm-hook add', then add it again",
		src, orig);
}

static int run_pkg_script(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const char *what,
			  const char *script, bool install_time);

int dkm_action_add(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o)
{
	struct run rn = { .ctx = ctx, .o = o, .lock_fd = -1 };
	_cleanup_free_ char *src = NULL, *conf_path = NULL, *kver = NULL, *target_logical = NULL;
	_cleanup_free_ char *target = NULL, *staging = NULL, *srcroot = NULL, *marker = NULL;
	_cleanup_free_ char *stagedir = NULL;
	char conf_sha[65];
	_cleanup_conf_ struct dkm_conf *conf = NULL;
	_cleanup_pkg_ struct dkm_pkg *existing = NULL;
	struct dkm_pkg pkg = { 0 };
	struct utsname u;
	int r;

	/* a directory with a dkms.conf, or pkg/ver already in the source tree */
	{
		_cleanup_free_ char *probe = path_join(arg, "dkms.conf");

		if (path_exists(probe)) {
			char real[PATH_MAX];

			if (!realpath(arg, real))
				return dkm_err(ctx, errno, "cannot resolve '%s': %s", arg,
					       strerror(errno));
			src = xstrdup(real);
		} else {
			_cleanup_free_ char *name = NULL, *ver = NULL;

			if (strchr(arg, '/') && arg[0] != '/' && arg[0] != '.' &&
			    parse_pkgver(ctx, arg, &name, &ver) == 0 && ver) {
				src = dkm_ctx_pathf(ctx, "%s/%s-%s", ctx->source_tree, name, ver);
				free(probe);
				probe = path_join(src, "dkms.conf");
				if (!path_exists(probe))
					return dkm_err(
						ctx, -ENOENT,
						"no dkms.conf for %s/%s: '%s' does not exist: install the package's source there or give its directory",
						name, ver, probe);
			} else
				return dkm_err(
					ctx, -ENOENT,
					"no dkms.conf in '%s': expected a module source directory or <package>/<version> under '%s'",
					arg, ctx->source_tree);
		}
	}
	conf_path = path_join(src, "dkms.conf");
	conf_sha256(conf_path, conf_sha); /* before it is read: see same_conf_in_copy() */
	kver = dkm_kernel_default(ctx);
	if (!kver)
		kver = xstrdup(uname(&u) == 0 ? u.release : "unknown");
	{
		_cleanup_kernel_ struct dkm_kernel *k = NULL;
		_cleanup_free_ char *srct = dkm_ctx_path(ctx, ctx->source_tree);
		_cleanup_free_ char *inst = dkm_ctx_path(ctx, ctx->module_dir);
		_cleanup_free_ char *tree = dkm_ctx_pathf(ctx, "%s/build", ctx->state_dir);
		struct dkm_conf_env env;

		r = dkm_kernel_probe(ctx, kver, o->arch, o->kernel_source_dir, &k);
		if (r < 0)
			return r;
		env = (struct dkm_conf_env){
			.kernelver = k->kver,
			.arch = k->arch,
			.kernel_source_dir = k->source_dir,
			.dkms_tree = tree,
			.source_tree = srct,
			.install_tree = inst,
		};
		r = dkm_conf_read(ctx, conf_path, &env, &conf);
		if (r < 0)
			return r;
	}
	r = run_lock(&rn);
	if (r < 0)
		goto out;
	target_logical =
		xasprintf("%s/%s-%s", ctx->source_tree, conf->package_name, conf->package_version);
	target = dkm_ctx_path(ctx, target_logical);
	if (dkm_pkg_load(ctx, conf->package_name, conf->package_version, &existing) == 0) {
		dkm_notice(ctx, "%s/%s is already added (source '%s')", conf->package_name,
			   conf->package_version, target);
		r = 0;
		goto out;
	}
	srcroot = dkm_ctx_path(ctx, ctx->source_tree);
	if (!streq(src, target)) {
		_cleanup_free_ char *bad = NULL;

		if (path_exists(target)) {
			r = dkm_err(ctx, -EEXIST,
				    "cannot add '%s': '%s' already exists: remove it, or register it with 'dkm-hook add %s/%s'",
				    src, target, conf->package_name, conf->package_version);
			goto out;
		}
		r = mkdir_p(srcroot, 0755);
		if (r < 0) {
			dkm_err(ctx, r, "cannot create '%s': %s", srcroot, strerror(-r));
			goto out;
		}
		/* copy to a staging name, then rename: never a half-copied source. The staging
		 * name is in a directory only root enters: until it is checked, nobody reads it */
		r = stage_dir(ctx, srcroot, &stagedir);
		if (r < 0)
			goto out;
		staging =
			xasprintf("%s/%s-%s", stagedir, conf->package_name, conf->package_version);
		(void)rm_rf(staging);
		/* root's copy, whatever src's owner does meanwhile: see copy_tree() */
		r = copy_tree(src, staging, (uid_t)-1, (gid_t)-1, &bad);
		if (r > 0) {
			dkm_warn(ctx,
				 "adding '%s': left out '%s'%s: a symlink that points outside the source (put a copy of what it points to in the source if the build needs it)",
				 src, bad, r > 1 ? " and others" : "");
			r = 0;
		}
		if (r < 0) {
			if (r == -ESTALE && bad)
				dkm_err(ctx, r,
					"cannot add '%s': '%s' changed while it was being copied (replaced or moved): make sure nothing changes the source during 'dkm-hook add', then add it again",
					src, bad);
			else if (bad)
				dkm_err(ctx, r, "cannot copy '%s/%s' to '%s': %s", src, bad,
					staging, strerror(-r));
			else
				dkm_err(ctx, r, "cannot copy '%s' to '%s': %s", src, staging,
					strerror(-r));
			(void)rm_rf(staging);
			goto out;
		}
		/* what was copied is what was read: '<src>' itself could have been swapped for
		 * another directory between reading its dkms.conf and copying it */
		r = same_conf_in_copy(ctx, src, staging, conf_sha);
		if (r < 0) {
			(void)rm_rf(staging);
			goto out;
		}
		/* until the registration is written, a marker says the copy is ours: recovery
		 * rolls back an add killed in between (the next add would find it in its way) */
		marker = dkm_pkg_marker(ctx, conf->package_name, conf->package_version);
		{
			_cleanup_kv_ struct dkm_kv mk = { 0 };

			dkm_kv_set(&mk, "source", target_logical);
			r = dkm_kv_write(marker, &mk);
		}
		if (r < 0) {
			dkm_err(ctx, r, "cannot write '%s': %s", marker, strerror(-r));
			(void)rm_rf(staging);
			goto out;
		}
		if (rename(staging, target) < 0) {
			r = dkm_err(ctx, errno, "cannot create '%s': %s", target, strerror(errno));
			(void)rm_rf(staging);
			(void)unlink(marker);
			goto out;
		}
		pkg.copied_source = true;
	}
	pkg.name = conf->package_name;
	pkg.version = conf->package_version;
	pkg.source = target_logical;
	pkg.autoinstall = conf->autoinstall;
	pkg.remake_initrd = conf->remake_initrd;
	pkg.modules = xcalloc(conf->n_modules + 1, sizeof(char *));
	for (size_t i = 0; i < conf->n_modules; i++)
		pkg.modules[i] = conf->modules[i].dest_name;
	r = dkm_pkg_save(ctx, &pkg);
	free(pkg.modules);
	if (r < 0) {
		dkm_err(ctx, r, "cannot register %s/%s: %s", conf->package_name,
			conf->package_version, strerror(-r));
		if (pkg.copied_source)
			(void)rm_rf(target);
		if (marker)
			(void)unlink(marker);
		goto out;
	}
	if (marker && unlink(marker) == 0)
		(void)fsync_parent(marker);
	dkm_notice(ctx, "added %s/%s (source '%s')", conf->package_name, conf->package_version,
		   target);
	{
		struct dkm_pkg p = pkg;

		p.modules = NULL;
		(void)run_pkg_script(ctx, &p, "POST_ADD", conf->post_add, false);
	}
	r = 0;
out:
	if (stagedir)
		(void)rmdir(stagedir); /* when empty: nothing of ours stays in <source_tree> */
	run_done(&rn);
	return r;
}

/* Is the source tree one only root can have written, now and until the script runs? Every
 * file and directory owned by root and not group- or world-writable, no symlink leading out of
 * it, and the directories above it root's and not writable by others (sticky ones, like /tmp,
 * apart: nobody else can rename what root has there). NULL if so, else why not (a new string). */
#define TRUST_MAX_ENTRIES 100000

static void closedir_p(DIR **d)
{
	if (*d)
		closedir(*d);
}

static char *untrusted_entry(const char *path, const struct stat *st, bool ancestor)
{
	if (st->st_uid != 0)
		return xasprintf("'%s' is owned by uid %u, not by root", path,
				 (unsigned)st->st_uid);
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(ancestor && (st->st_mode & S_ISVTX)))
		return xasprintf("'%s' is group- or world-writable", path);
	return NULL;
}

static char *untrusted_tree(const char *top, const char *dir, size_t *n)
{
	_cleanup_(closedir_p) DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return xasprintf("cannot read '%s': %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		_cleanup_free_ char *p = NULL, *why = NULL;
		struct stat st;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (++*n > TRUST_MAX_ENTRIES)
			return xasprintf("'%s' has more than %d entries", top, TRUST_MAX_ENTRIES);
		p = path_join(dir, de->d_name);
		if (lstat(p, &st) < 0)
			return xasprintf("cannot stat '%s': %s", p, strerror(errno));
		if (S_ISLNK(st.st_mode)) {
			char real[PATH_MAX], rtop[PATH_MAX];
			size_t k;

			if (!realpath(p, real) || !realpath(top, rtop))
				return xasprintf("'%s' is a dangling symlink", p);
			k = strlen(rtop);
			if (!strneq(real, rtop, k) || (real[k] != '/' && real[k] != '\0'))
				return xasprintf("'%s' is a symlink to '%s', outside the source", p,
						 real);
			continue;
		}
		why = untrusted_entry(p, &st, false);
		if (why)
			return TAKE_PTR(why);
		if (S_ISDIR(st.st_mode)) {
			why = untrusted_tree(top, p, n);
			if (why)
				return TAKE_PTR(why);
		}
	}
	return NULL;
}

static char *untrusted_source(const char *src)
{
	_cleanup_free_ char *up = xstrdup(src);
	struct stat st;
	size_t n = 0;
	char *why;

	if (lstat(src, &st) < 0 || !S_ISDIR(st.st_mode))
		return xasprintf("'%s' is not a directory", src);
	why = untrusted_entry(src, &st, false);
	if (why)
		return why;
	while (!streq(up, "/") && up[0]) {
		char *parent = path_dirname(up);

		free(up);
		up = parent;
		if (stat(up, &st) < 0)
			return xasprintf("cannot stat '%s': %s", up, strerror(errno));
		why = untrusted_entry(up, &st, true);
		if (why)
			return why;
	}
	return untrusted_tree(src, src, &n);
}

/* The path a write was refused for, from one line of a script's output: the messages of sh
 * ("cannot create /x: Read-only file system"), bash ("line 3: /x: Permission denied") and
 * coreutils ("cp: cannot create regular file '/x': Read-only file system"). NULL if none. */
static char *denied_path(const char *line, size_t len, const char **ret_err)
{
	static const char *const errs[] = { ": Read-only file system", ": Permission denied" };

	for (size_t i = 0; i < ELEMENTSOF(errs); i++) {
		size_t el = strlen(errs[i]), end;
		const char *m = memmem(line, len, errs[i], el), *start;

		if (!m)
			continue;
		end = (size_t)(m - line);
		if (end > 0 && strchr("'\"", line[end - 1])) {
			char q = line[end - 1];

			for (start = line + end - 1; start > line && start[-1] != q; start--)
				;
			if (start == line)
				continue;
			*ret_err = errs[i] + 2;
			return xstrndup(start, (size_t)(line + end - 1 - start));
		}
		for (start = line + end; start > line && !(start[-1] == ' ' && start[-2] == ':');
		     start--)
			if (start - line < 2)
				break;
		if (startswith(start, "cannot create "))
			start += strlen("cannot create ");
		if (start[0] != '/')
			continue;
		*ret_err = errs[i] + 2;
		return xstrndup(start, (size_t)(line + end - start));
	}
	return NULL;
}

void dkm_script_warn_denied(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const char *what,
			    const char *script, int fd, off_t from, const char *why)
{
	_cleanup_free_ char *buf = NULL, *path = NULL;
	const char *err = NULL;
	off_t end = lseek(fd, 0, SEEK_END);
	size_t n;
	ssize_t k;

	if (fd < 0 || end <= from)
		return;
	n = (size_t)(end - from) > (256u << 10) ? 256u << 10 : (size_t)(end - from);
	buf = xmalloc(n + 1);
	k = pread(fd, buf, n, from);
	if (k <= 0)
		return;
	buf[k] = '\0';
	for (const char *l = buf; *l && !path;) {
		size_t len = strcspn(l, "\n");

		path = denied_path(l, len, &err);
		l += len + (l[len] == '\n');
	}
	if (path)
		dkm_warn(ctx,
			 "%s/%s: the %s script '%s' could not write '%s' (%s): it runs sandboxed as the build user (%s); what it should have done is not done",
			 pkg->name, pkg->version, what, script, path, err, why);
}

/* POST_ADD, PRE_INSTALL, POST_INSTALL, POST_REMOVE: "<source>/<script> [args]", cwd the
 * source, scrubbed environment. DKMS runs them as root, and the install-time ones do root's
 * work: a POST_INSTALL that writes /etc/modprobe.d. So do we for those (install_time), when
 * pkg_scripts_as_root=yes (the default) and only root can have written the source
 * (untrusted_source), chrooted into the root when it is not "/"; otherwise, and POST_ADD
 * (registering a source installs nothing), sandboxed as the build user like PRE_BUILD/
 * POST_BUILD, and a write the sandbox refused is one warning naming the script and the path.
 * Failures are warnings, as in DKMS (but PRE_INSTALL failing stops the install). */
static int run_pkg_script(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, const char *what,
			  const char *script, bool install_time)
{
	_cleanup_identity_ struct dkm_identity id = DKM_IDENTITY_NULL;
	_cleanup_free_ char *src = NULL, *exe = NULL, *vsrc = NULL, *why = NULL, *out = NULL;
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_close_ int mfd = -1;
	struct dkm_spawn_log log = { .max = 256 << 10, .setting = "the package script's output" };
	struct dkm_spawn s = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -3, .log = &log };
	struct dkm_sandbox sb = { 0 };
	char *const env[] = {
		(char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		(char *)"LC_ALL=C", NULL
	};
	bool as_root = false;
	int status = 0, r;
	char desc[64];
	struct stat st;

	if (isempty(script))
		return 0;
	src = dkm_ctx_path(ctx, pkg->source);
	argv = strv_split(script, " \t");
	if (!argv[0])
		return 0;
	exe = path_join(src, argv[0]);
	if (access(exe, X_OK) < 0 || lstat(exe, &st) < 0 || !S_ISREG(st.st_mode)) {
		dkm_warn(ctx, "%s/%s: the %s script '%s' is not an executable file: skipped",
			 pkg->name, pkg->version, what, exe);
		return 0;
	}
	if (!install_time)
		why = xasprintf("%s installs nothing: it always does", what);
	else if (!ctx->pkg_scripts_as_root)
		why = xstrdup("pkg_scripts_as_root=no");
	else if (geteuid() != 0)
		why = xstrdup("dkm-hook does not run as root");
	else
		why = untrusted_source(src);
	as_root = !why;
	mfd = memfd_create("dkm-hook-script", MFD_CLOEXEC);
	if (mfd < 0)
		return dkm_err(ctx, -errno, "cannot run the %s script of %s/%s: %s", what,
			       pkg->name, pkg->version, strerror(errno));
	log.fd = mfd;
	if (as_root && dkm_ctx_is_host_root(ctx)) {
		s.cwd = src;
		free(argv[0]);
		argv[0] = TAKE_PTR(exe);
		s.argv = argv;
	} else if (as_root) {
		/* in the root it belongs to, as DKMS running there would: its /etc, not ours */
		_cleanup_strv_free_ char **cv = xcalloc(1, sizeof(char *));

		strv_extend(&cv, "chroot");
		strv_extend(&cv, ctx->root);
		strv_extend(&cv, "/bin/sh");
		strv_extend(&cv, "-c");
		strv_extend(&cv, "cd \"$1\" && shift && exec \"$@\"");
		strv_extend(&cv, "sh");
		strv_extend(&cv, pkg->source);
		strv_push(&cv, path_join(pkg->source, argv[0]));
		for (size_t i = 1; argv[i]; i++)
			strv_extend(&cv, argv[i]);
		strv_free(argv);
		argv = TAKE_PTR(cv);
		s.argv = argv;
		s.cwd = "/";
	} else {
		r = dkm_identity_acquire(ctx, true, &id);
		if (r < 0)
			return r;
		/* read-only everything, no network, no key */
		r = dkm_sandbox_wanted(ctx);
		if (r < 0)
			return r;
		if (r > 0) {
			dkm_sandbox_init(&sb, ctx);
			s.sandbox = &sb;
		}
		vsrc = dkm_sandbox_view(s.sandbox, src);
		free(argv[0]);
		argv[0] = dkm_sandbox_view(s.sandbox, exe);
		s.argv = argv;
		s.cwd = vsrc;
		s.uid = id.uid, s.gid = id.gid, s.run_as = id.run_as;
	}
	s.envp = env;
	s.timeout_sec = ctx->build_timeout;
	dkm_notice(ctx, "%s/%s: running %s script '%s'%s", pkg->name, pkg->version, what, script,
		   as_root ? " as root" : "");
	r = dkm_spawn_run(ctx, &s, &status);
	dkm_sandbox_done(&sb);

	/* its output, as it was before it was captured; then what it could not write */
	{
		off_t size = lseek(mfd, 0, SEEK_END);
		size_t n = size > 0 ? (size_t)size : 0;

		out = xmalloc(n + 1);
		if (n > 0 && pread(mfd, out, n, 0) != (ssize_t)n)
			n = 0;
		out[n] = '\0';
		if (n > 0 && ctx->output_fn)
			ctx->output_fn(ctx->log_userdata, DKM_OUTPUT_SCRIPT, out, n);
		if (!as_root)
			dkm_script_warn_denied(ctx, pkg, what, script, mfd, 0, why);
	}
	if (r == -ETIMEDOUT)
		return dkm_err(ctx, r, "%s/%s: %s script '%s' timed out", pkg->name, pkg->version,
			       what, script);
	if (r > 0)
		return dkm_err(ctx, -EIO, "%s/%s: %s script '%s' %s", pkg->name, pkg->version, what,
			       script, dkm_spawn_describe(status, desc, sizeof(desc)));
	return r;
}

/* Does build/install have to build pkg for this kernel? */
static int needs_build(struct run *rn, const struct dkm_pkg *pkg, struct kstate *ks)
{
	enum dkm_state st = DKM_STATE_NONE;
	int r = inst_state(rn->ctx, pkg, ks->k, &st);

	if (r < 0)
		return r;
	if (rn->o->force || !dkm_state_has_build(st))
		return 1;
	/* installed as they are, they would not be what the state and the manifest say */
	if (!dkm_build_intact(rn->ctx, pkg, ks->k)) {
		dkm_notice(rn->ctx,
			   "%s/%s: the modules built for %s are not the ones recorded (an interrupted build?): building again",
			   pkg->name, pkg->version, ks->k->kver);
		return 1;
	}
	return 0;
}

/* build/install -k A -k B: the package's builds for all those kernels run together under the
 * one job budget (as rebuild's do); the per-kernel steps then take the result from kstate. */
static void build_kernels(struct run *rn, const struct dkm_pkg *pkg, const ssize_t *kidx, size_t n)
{
	_cleanup_free_ struct dkm_job *jobs = xcalloc(n, sizeof(*jobs));
	_cleanup_free_ struct dkm_conf **confs = xcalloc(n, sizeof(*confs));
	_cleanup_free_ size_t *owner = xcalloc(n, sizeof(*owner));
	size_t nj = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		struct kstate *ks = kidx[i] >= 0 ? &rn->ks[kidx[i]] : NULL;

		if (!ks || needs_build(rn, pkg, ks) <= 0)
			continue;
		ks->prebuilt = true;
		r = dkm_build_check(rn->ctx, pkg, ks->k, NULL, &confs[nj]);
		if (r <= 0) {
			ks->build_result = r < 0 ? r : BUILD_EXCLUDED;
			continue;
		}
		jobs[nj] = (struct dkm_job){
			.pkg = pkg, .k = ks->k, .conf = confs[nj], .fin = &ks->fin
		};
		owner[nj++] = (size_t)kidx[i];
	}
	r = nj > 0 ? dkm_sched_run(rn->ctx, jobs, nj) : 0;
	for (size_t j = 0; j < nj; j++) {
		rn->ks[owner[j]].build_result = r < 0				 ? r
						: jobs[j].result == DKM_JOB_DONE ? BUILD_OK
										 : BUILD_FAILED;
		dkm_conf_free(confs[j]);
	}
}

/* The end of install and uninstall, once the locks are released (dracut's 50dkm-hook module
 * calls us back). install: the initramfs of each kernel whose module tree changed is
 * regenerated if the package belongs in it, as rebuild does. uninstall: it is not — the
 * image would be refused (a module that belongs is missing) or would lose what the package
 * was there for — so say that the image still holds the package's modules. */
static int run_finish_initrd(struct run *rn, int r)
{
	_cleanup_strv_free_ char **kvers = NULL, **arches = NULL;
	_cleanup_free_ bool *held = xcalloc(rn->n_ks + 1, sizeof(bool));
	_cleanup_free_ char *name = TAKE_PTR(rn->pkg_name);
	char *names[] = { name, NULL };
	struct dkm_ctx *ctx = rn->ctx;
	bool no_initrd = rn->o->no_initrd;
	size_t n = 0;

	for (size_t i = 0; i < rn->n_ks; i++)
		if (rn->ks[i].changed) {
			strv_extend(&kvers, rn->ks[i].k->kver);
			strv_extend(&arches, rn->ks[i].k->arch);
			held[n++] = rn->ks[i].in_initrd;
		}
	run_done(rn);
	if (no_initrd || !name)
		return r;
	for (size_t i = 0; i < n; i++) {
		int k = 0;

		if (held[i])
			dkm_notice(ctx,
				   "initramfs of %s: not regenerated: it still holds the modules of %s as they were",
				   kvers[i], name);
		else
			k = dkm_initrd_update(ctx, kvers[i], arches[i], names);
		/* counts only when nothing else went wrong (the first problem is the one told) */
		if (k < 0 && r == 0 && result_clean(rn->res)) {
			r = k;
			result_add(rn->res, k);
		}
	}
	return r;
}

static int for_each_kernel(struct run *rn, const char *arg,
			   int (*fn)(struct run *rn, const struct dkm_pkg *pkg, struct kstate *ks),
			   bool builds_together)
{
	_cleanup_pkg_ struct dkm_pkg *pkg = NULL;
	_cleanup_strv_free_ char **kvers = NULL;
	_cleanup_free_ ssize_t *kidx = NULL;
	_cleanup_free_ int *kerr = NULL;
	size_t n;
	int r, first = 0;

	r = dkm_resolve_pkg(rn->ctx, arg, &pkg);
	if (r < 0)
		return r;
	rn->pkg_name = xstrdup(pkg->name);
	kvers = target_kernels(rn->ctx, rn->o);
	if (!kvers[0])
		return dkm_err(rn->ctx, -ENOENT,
			       "no kernel found under '%s%s': name one with -k <kernel>",
			       rn->ctx->root, rn->ctx->module_dir);
	r = run_lock_kernels(rn, kvers);
	if (r < 0)
		return r;
	n = strv_length(kvers);
	kidx = xcalloc(n, sizeof(*kidx));
	kerr = xcalloc(n, sizeof(*kerr));
	for (size_t i = 0; i < n; i++) {
		struct kstate *ks;

		kerr[i] = get_kernel(rn, kvers[i], &ks);
		kidx[i] = kerr[i] < 0 ? -1 : ks - rn->ks;
	}
	if (builds_together && n > 1)
		build_kernels(rn, pkg, kidx, n);
	for (size_t i = 0; i < n; i++) {
		r = kidx[i] < 0 ? kerr[i] : fn(rn, pkg, &rn->ks[kidx[i]]);
		result_add(rn->res, r);
		if (r < 0 && first == 0)
			first = r;
	}
	r = depmod_dirty(rn);
	if (r < 0) {
		result_add(rn->res, r);
		if (first == 0)
			first = r;
	}
	return first;
}

static int do_build(struct run *rn, const struct dkm_pkg *pkg, struct kstate *ks)
{
	enum dkm_state st = DKM_STATE_NONE;
	int r;

	if (ks->prebuilt)
		return ks->build_result;
	r = inst_state(rn->ctx, pkg, ks->k, &st);
	if (r < 0)
		return r;
	if (dkm_state_has_build(st) && !rn->o->force) {
		dkm_notice(rn->ctx, "%s/%s is already built for %s (use --force to rebuild)",
			   pkg->name, pkg->version, ks->k->kver);
		return 0;
	}
	return build_one(rn, pkg, ks, false);
}

static int do_install(struct run *rn, const struct dkm_pkg *pkg, struct kstate *ks)
{
	_cleanup_conf_ struct dkm_conf *conf = NULL;
	bool built = ks->prebuilt;
	int r;

	if (ks->prebuilt) {
		if (ks->build_result != 0)
			return ks->build_result;
	} else {
		r = needs_build(rn, pkg, ks);
		built = r > 0;
		if (r > 0)
			r = build_one(rn, pkg, ks, false);
		if (r != 0)
			return r;
	}
	/* PRE_INSTALL may veto (DKMS: a non-zero exit stops the install) */
	if (dkm_pkg_read_conf(rn->ctx, pkg, ks->k, &conf) >= 0 && !isempty(conf->pre_install)) {
		r = run_pkg_script(rn->ctx, pkg, "PRE_INSTALL", conf->pre_install, true);
		if (r < 0)
			return dkm_err(rn->ctx, r,
				       "%s/%s: PRE_INSTALL failed: not installed for %s", pkg->name,
				       pkg->version, ks->k->kver);
	}
	dkm_notice(rn->ctx, "installing %s/%s for %s", pkg->name, pkg->version, ks->k->kver);
	r = dkm_install_pkg(rn->ctx, pkg, ks->k, built || rn->o->force);
	if (r < 0)
		return r;
	if (r == 0)
		dkm_notice(rn->ctx, "%s/%s is already installed for %s", pkg->name, pkg->version,
			   ks->k->kver);
	if (r > 0)
		ks->dirty = ks->changed = true;
	if (conf && !isempty(conf->post_install))
		(void)run_pkg_script(rn->ctx, pkg, "POST_INSTALL", conf->post_install, true);
	return 0;
}

static int do_uninstall(struct run *rn, const struct dkm_pkg *pkg, struct kstate *ks)
{
	enum dkm_state st = DKM_STATE_NONE;
	int r;

	/* what is installed may be in the initramfs: asked before it goes (the answer can change
	 * with it), and only then */
	if (!rn->o->no_initrd && inst_state(rn->ctx, pkg, ks->k, &st) >= 0 &&
	    st == DKM_STATE_INSTALLED) {
		char *names[] = { pkg->name, NULL };
		_cleanup_free_ char *holder =
			dkm_initrd_holder(rn->ctx, ks->k->kver, ks->k->arch, names);

		ks->in_initrd = holder != NULL;
	}
	r = dkm_uninstall_pkg(rn->ctx, pkg, ks->k);
	if (r < 0)
		return r;
	if (r == 0) {
		dkm_notice(rn->ctx, "%s/%s is not installed for %s", pkg->name, pkg->version,
			   ks->k->kver);
		return 0;
	}
	dkm_notice(rn->ctx, "uninstalled %s/%s from %s", pkg->name, pkg->version, ks->k->kver);
	ks->dirty = ks->changed = true;
	return 0;
}

static int do_unbuild(struct run *rn, const struct dkm_pkg *pkg, struct kstate *ks)
{
	_cleanup_free_ char *dir =
		dkm_inst_dir(rn->ctx, pkg->name, pkg->version, ks->k->kver, ks->k->arch);
	_cleanup_free_ char *tomb =
		dkm_inst_tomb(rn->ctx, pkg->name, pkg->version, ks->k->kver, ks->k->arch);
	_cleanup_free_ char *kdir = path_dirname(dir);
	int r;

	r = dkm_uninstall_pkg(rn->ctx, pkg, ks->k);
	if (r < 0)
		return r;
	if (r > 0)
		ks->dirty = true;
	if (!path_exists(dir))
		return 0;
	/* a dot name, never listed as an instance; the rename is the commit (recovery deletes
	 * what a crash leaves of the tomb, and so does this, before it needs the name) */
	(void)rm_rf(tomb);
	if (rename(dir, tomb) < 0)
		return dkm_err(rn->ctx, errno, "cannot remove '%s': %s", dir, strerror(errno));
	(void)fsync_parent(dir);
	(void)rm_rf(tomb);
	(void)rmdir(kdir);
	{
		_cleanup_free_ char *kernels = path_dirname(kdir);

		(void)rmdir(kernels);
	}
	dkm_notice(rn->ctx, "unbuilt %s/%s for %s", pkg->name, pkg->version, ks->k->kver);
	return 0;
}

int dkm_action_build(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o,
		     struct dkm_result *res)
{
	struct run rn = { .ctx = ctx, .o = o, .lock_fd = -1, .res = res };
	int r;

	result_clear(res);
	r = for_each_kernel(&rn, arg, do_build, true);
	run_done(&rn);
	return r;
}

int dkm_action_install(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o,
		       struct dkm_result *res)
{
	struct run rn = { .ctx = ctx, .o = o, .lock_fd = -1, .res = res };
	int r;

	result_clear(res);
	r = for_each_kernel(&rn, arg, do_install, true);
	return run_finish_initrd(&rn, r);
}

int dkm_action_uninstall(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o,
			 struct dkm_result *res)
{
	struct run rn = { .ctx = ctx, .o = o, .lock_fd = -1, .res = res };
	int r;

	result_clear(res);
	r = for_each_kernel(&rn, arg, do_uninstall, false);
	return run_finish_initrd(&rn, r);
}

int dkm_action_unbuild(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o,
		       struct dkm_result *res)
{
	struct run rn = { .ctx = ctx, .o = o, .lock_fd = -1, .res = res };
	int r;

	result_clear(res);
	r = for_each_kernel(&rn, arg, do_unbuild, false);
	run_done(&rn);
	return r;
}

int dkm_action_remove(struct dkm_ctx *ctx, const char *arg, const struct dkm_opts *o)
{
	struct run rn = { .ctx = ctx, .o = o, .lock_fd = -1 };
	_cleanup_pkg_ struct dkm_pkg *pkg = NULL;
	_cleanup_strv_free_ char **insts = NULL, **left = NULL;
	int r;

	if (!o->all && !(o->kernels && o->kernels[0]))
		return dkm_err(ctx, -EINVAL, "remove needs -k <kernel> or --all");
	r = dkm_resolve_pkg(ctx, arg, &pkg);
	if (r < 0)
		return r;
	r = run_lock(&rn);
	if (r < 0)
		goto out;
	insts = dkm_inst_list(ctx, pkg->name, pkg->version);
	for (size_t i = 0; insts[i]; i++) {
		_cleanup_free_ char *kver = xstrndup(insts[i], strcspn(insts[i], "\t"));
		const char *arch = strchr(insts[i], '\t') + 1;
		struct dkm_opts ko = *o;
		struct kstate *ks;

		if (!o->all && !strv_contains(o->kernels, kver))
			continue;
		ko.arch = arch;
		rn.o = &ko;
		r = get_kernel(&rn, kver, &ks);
		if (r >= 0)
			r = do_unbuild(&rn, pkg, ks);
		rn.o = o;
		if (r < 0)
			goto out;
	}
	r = depmod_dirty(&rn);
	if (r < 0)
		goto out;
	left = dkm_inst_list(ctx, pkg->name, pkg->version);
	if (o->all || !left[0]) {
		_cleanup_conf_ struct dkm_conf *conf = NULL;

		if (rn.n_ks > 0 && dkm_pkg_read_conf(ctx, pkg, rn.ks[0].k, &conf) >= 0 &&
		    !isempty(conf->post_remove))
			(void)run_pkg_script(ctx, pkg, "POST_REMOVE", conf->post_remove, true);
		/* and the source add copied, unless the caller keeps it: DKMS never deletes a
		 * source, so `dkms add M/V` works again after `dkms remove` */
		if (o->keep_source && pkg->copied_source) {
			pkg->copied_source = false;
			r = dkm_pkg_save(ctx, pkg);
			if (r < 0) {
				dkm_err(ctx, r, "cannot update the registration of %s/%s: %s",
					pkg->name, pkg->version, strerror(-r));
				goto out;
			}
		}
		r = dkm_pkg_unregister(ctx, pkg);
		if (r < 0) {
			dkm_err(ctx, r, "cannot unregister %s/%s: %s", pkg->name, pkg->version,
				strerror(-r));
			goto out;
		}
		dkm_notice(ctx, "removed %s/%s", pkg->name, pkg->version);
		{
			_cleanup_strv_free_ char **vers = dkm_pkg_versions(ctx, pkg->name);

			if (!vers[0]) /* the last version: its compiler cache goes with it */
				(void)dkm_cc_cache_remove(ctx, pkg->name);
		}
	}
	r = 0;
out:
	run_done(&rn);
	return r;
}

int dkm_action_kernel_remove(struct dkm_ctx *ctx, const char *kver, const struct dkm_opts *o)
{
	struct run rn = { .ctx = ctx, .o = o, .lock_fd = -1 };
	struct dkm_pkg **l = NULL;
	size_t n = 0;
	int r, worst = 0;
	char *const one[] = { (char *)kver, NULL };

	r = run_lock_kernels(&rn, one);
	if (r < 0)
		goto out;
	dkm_pkg_list(ctx, &l, &n);
	for (size_t i = 0; i < n; i++) {
		_cleanup_strv_free_ char **insts = dkm_inst_list(ctx, l[i]->name, l[i]->version);

		for (size_t j = 0; insts[j]; j++) {
			_cleanup_free_ char *kv = xstrndup(insts[j], strcspn(insts[j], "\t"));
			struct dkm_opts ko = *o;
			struct kstate *ks;

			if (!streq(kv, kver))
				continue;
			ko.arch = strchr(insts[j], '\t') + 1;
			rn.o = &ko;
			r = get_kernel(&rn, kver, &ks);
			if (r >= 0)
				r = do_unbuild(&rn, l[i], ks);
			rn.o = o;
			if (r < 0 && worst == 0)
				worst = r;
		}
	}
	/* the kernel's module dir is going away with it: no depmod needed, but harmless if
	 * the tree is still there */
	if (worst == 0) {
		_cleanup_free_ char *kd = dkm_ctx_pathf(ctx, "%s/kernels/%s", ctx->state_dir, kver);
		_cleanup_free_ char *bd = dkm_ctx_pathf(ctx, "%s/build/%s", ctx->state_dir, kver);
		_cleanup_free_ char *dep =
			dkm_ctx_pathf(ctx, "%s/%s/modules.dep", ctx->module_dir, kver);

		if (path_exists(dep))
			(void)depmod_dirty(&rn);
		(void)rm_rf(kd);
		(void)rm_rf(bd); /* what failed builds kept for their logs' sake */
	}
	r = worst;
out:
	dkm_pkg_list_free(l, n);
	run_done(&rn);
	return r;
}

/* Is (pkg, kernel) installed exactly as the current inputs would build it? */
static bool up_to_date(struct dkm_ctx *ctx, const struct dkm_pkg *pkg, struct kstate *ks)
{
	_cleanup_inst_ struct dkm_inst inst = { 0 };
	_cleanup_free_ char *instdir = NULL, *mp = NULL;
	_cleanup_kv_ struct dkm_kv man = { 0 };
	_cleanup_strv_free_ char **mods = NULL;
	const char *fp;
	char cur[65];

	if (dkm_inst_load(ctx, pkg->name, pkg->version, ks->k->kver, ks->k->arch, &inst) <= 0 ||
	    inst.state == DKM_STATE_NONE)
		return false;
	if (inst.state == DKM_STATE_EXCLUDED)
		return true; /* re-evaluated when the source or the kernel changes (fingerprint) */
	if (inst.state != DKM_STATE_INSTALLED)
		return false;
	fp = dkm_kv_get(&inst.kv, "fingerprint");
	if (isempty(fp) || dkm_build_fingerprint(ctx, pkg, ks->k, &ks->fin, cur) < 0 ||
	    !streq(cur, fp))
		return false;
	instdir = dkm_inst_dir(ctx, pkg->name, pkg->version, ks->k->kver, ks->k->arch);
	mp = path_join(instdir, "manifest");
	if (dkm_kv_read(mp, &man) < 0)
		return false;
	mods = strv_split(strempty(dkm_kv_get(&man, "modules")), " ");
	for (size_t i = 0; mods[i]; i++) {
		struct dkm_modrec placed, built;
		const char *p, *want;
		_cleanup_free_ char *full = NULL;
		char sha[65];

		dkm_modrec_get(&man, mods[i], &placed);
		dkm_modrec_get(&inst.kv, mods[i], &built);
		p = placed.path;
		want = placed.sha256;
		if (isempty(p) || isempty(want))
			return false;
		/* what is installed must be the latest build (not so after a build --force) */
		if (!streq(want, strempty(built.sha256)))
			return false;
		full = dkm_ctx_path(ctx, p);
		if (sha256_file(full, sha) < 0 || !streq(sha, want))
			return false;
	}
	return true;
}

/* The version of a package that autoinstall picks: the newest registered. */
static bool is_newest_version(struct dkm_ctx *ctx, const struct dkm_pkg *pkg)
{
	_cleanup_strv_free_ char **vers = dkm_pkg_versions(ctx, pkg->name);
	size_t n = strv_length(vers);

	return n == 0 || streq(vers[n - 1], pkg->version);
}

/* What rebuild did for one kernel */
struct rebuild_count {
	size_t uptodate, excluded, failed, built;
	bool skipped;	/* no headers */
	char **changed; /* packages whose modules changed: the initramfs */
};

int dkm_action_rebuild(struct dkm_ctx *ctx, const char *kver, const struct dkm_opts *o,
		       struct dkm_result *res)
{
	char *const one[] = { (char *)kver, NULL };

	return dkm_action_rebuild_kernels(ctx, one, o, res);
}

/* Every kernel's builds go to the scheduler at once, under the one job budget; then one depmod
 * per kernel whose tree changed, and its initramfs. */
int dkm_action_rebuild_kernels(struct dkm_ctx *ctx, char *const *kvers, const struct dkm_opts *o,
			       struct dkm_result *res)
{
	struct run rn = { .ctx = ctx, .o = o, .lock_fd = -1 };
	struct dkm_pkg **l = NULL;
	size_t n = 0, nk = 0, njobs = 0;
	_cleanup_free_ struct dkm_job *jobs = NULL;
	_cleanup_free_ struct dkm_conf **confs = NULL;
	_cleanup_free_ struct rebuild_count *cnt = NULL;
	_cleanup_free_ size_t *kidx = NULL;
	uint64_t t0 = now_usec();
	bool any_failed = false;
	int r;

	result_clear(res);
	while (kvers[nk])
		nk++;
	cnt = xcalloc(nk + 1, sizeof(*cnt));
	kidx = xcalloc(nk + 1, sizeof(*kidx));
	r = run_lock_kernels(&rn, kvers);
	if (r < 0)
		goto out;
	/* every kernel first: the kstate array is final before jobs point into it */
	for (size_t k = 0; k < nk; k++) {
		struct kstate *ks;

		r = get_kernel(&rn, kvers[k], &ks);
		if (r < 0)
			goto out;
		kidx[k] = (size_t)(ks - rn.ks);
		cnt[k].changed = xcalloc(1, sizeof(char *));
	}
	dkm_pkg_list(ctx, &l, &n);
	jobs = xcalloc(n * nk + 1, sizeof(*jobs));
	confs = xcalloc(n * nk + 1, sizeof(*confs));
	for (size_t k = 0; k < nk; k++) {
		struct kstate *ks = &rn.ks[kidx[k]];
		_cleanup_strv_free_ char **selected = xcalloc(1, sizeof(char *));

		for (size_t i = 0; i < n; i++) {
			struct dkm_pkg *p = l[i];

			if (!p->autoinstall || !is_newest_version(ctx, p))
				continue;
			if (!o->force && up_to_date(ctx, p, ks)) {
				cnt[k].uptodate++;
				continue;
			}
			strv_extend(&selected, p->name);
		}
		if (selected[0] && !ks->k->has_headers) {
			/* the image arrived before its headers: their hook finishes the job */
			size_t ns = strv_length(selected);

			dkm_warn(ctx,
				 "%s: kernel headers not installed ('%s' is missing): %zu package%s not built yet; install linux-headers-%s, its hook will finish the job",
				 kvers[k], ks->k->source_dir, ns, ns == 1 ? "" : "s", kvers[k]);
			cnt[k].skipped = true;
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			struct dkm_pkg *p = l[i];

			if (!p->autoinstall || !strv_contains(selected, p->name) ||
			    !is_newest_version(ctx, p))
				continue;
			r = dkm_build_check(ctx, p, ks->k, selected, &confs[njobs]);
			if (r < 0) {
				cnt[k].failed++;
				continue;
			}
			if (r == 0) {
				cnt[k].excluded++;
				continue;
			}
			/* as install does (DKMS's autoinstall is an install per package): PRE_INSTALL
			 * may veto; it runs before the build here, as the install follows it at once */
			if (!isempty(confs[njobs]->pre_install) &&
			    run_pkg_script(ctx, p, "PRE_INSTALL", confs[njobs]->pre_install, true) <
				    0) {
				dkm_err(ctx, -ECANCELED,
					"%s/%s: PRE_INSTALL failed: not installed for %s", p->name,
					p->version, kvers[k]);
				dkm_conf_free(confs[njobs]);
				confs[njobs] = NULL;
				cnt[k].failed++;
				continue;
			}
			jobs[njobs].pkg = p;
			jobs[njobs].k = ks->k;
			jobs[njobs].conf = confs[njobs];
			jobs[njobs].fin = &ks->fin;
			jobs[njobs].install = true;
			njobs++;
		}
	}
	if (njobs > 0) {
		r = dkm_sched_run(ctx, jobs, njobs);
		if (r < 0)
			goto out;
	}
	for (size_t j = 0; j < njobs; j++)
		for (size_t k = 0; k < nk; k++) {
			struct kstate *ks = &rn.ks[kidx[k]];

			if (jobs[j].k != ks->k)
				continue;
			if (jobs[j].result == DKM_JOB_DONE)
				cnt[k].built++;
			else
				cnt[k].failed++;
			if (jobs[j].tree_changed) {
				ks->dirty = true;
				strv_extend(&cnt[k].changed, jobs[j].pkg->name);
			}
			if (jobs[j].result == DKM_JOB_DONE && !isempty(jobs[j].conf->post_install))
				(void)run_pkg_script(ctx, jobs[j].pkg, "POST_INSTALL",
						     jobs[j].conf->post_install, true);
		}
	r = depmod_dirty(&rn);
	if (r < 0)
		goto out;
	for (size_t k = 0; k < nk; k++) {
		if (cnt[k].skipped)
			continue;
		any_failed |= cnt[k].failed > 0;
		if (res) {
			res->done += (unsigned)cnt[k].built;
			res->failed += (unsigned)cnt[k].failed;
			res->excluded += (unsigned)cnt[k].excluded;
		}
		if (cnt[k].built == 0 && cnt[k].failed == 0)
			dkm_notice(ctx, "%s: nothing to do (%zu package%s up to date%s)", kvers[k],
				   cnt[k].uptodate, cnt[k].uptodate == 1 ? "" : "s",
				   cnt[k].excluded ? ", some excluded by BUILD_EXCLUSIVE" : "");
		else
			dkm_notice(ctx,
				   "%s: %zu built and installed, %zu up to date, %zu failed (%.1f s)",
				   kvers[k], cnt[k].built, cnt[k].uptodate, cnt[k].failed,
				   (double)(now_usec() - t0) / 1e6);
	}
	r = 0;
out:
	for (size_t i = 0; i < njobs; i++)
		dkm_conf_free(confs[i]);
	dkm_pkg_list_free(l, n);
	run_done(&rn);
	/* once per kernel, after the lock is released: dracut's 50dkm-hook module calls us back */
	for (size_t k = 0; k < nk; k++) {
		if (cnt[k].changed && cnt[k].changed[0] && !o->no_initrd && r == 0) {
			int q = dkm_initrd_update(ctx, kvers[k], o->arch, cnt[k].changed);

			/* the first problem is the one told: a failed build before it */
			if (q < 0 && r == 0 && !any_failed)
				r = q;
		}
		strv_free(cnt[k].changed);
	}
	return r;
}
