/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DKMS's configuration (/etc/dkms/framework.conf, framework.conf.d, no-autoinstall) read as
 * data — never executed — and mapped onto the context; and the few traces in DKMS's tree that
 * scripts written for DKMS look at. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctx.h"
#include "dkms-framework.h"
#include "shvars.h"
#include "util.h"

/* What a value looks like when it used $kernelver: DKMS expands it per kernel, we cannot. */
#define KVER_MARK "\001kernelver\001"

static const char *const fw_keys[] = {
	"source_tree",
	"dkms_tree",
	"install_tree",
	"tmp_location",
	"verbose",
	"symlink_modules",
	"autoinstall_all_kernels",
	"modprobe_on_install",
	"sign_file",
	"mok_signing_key",
	"mok_certificate",
	"parallel_jobs",
};

/* Apply one file, line by line: a line we cannot read without a shell is a warning, and the
 * lines around it still count. */
static void fw_read_file(struct dkm_ctx *ctx, const char *path, struct dkm_shvars *vals)
{
	_cleanup_free_ char *data = NULL;
	unsigned lineno = 0;
	char *line, *next;
	int r;

	r = read_full_file(path, 1 << 20, &data, NULL);
	if (r == -ENOENT)
		return;
	if (r < 0) {
		dkm_warn(ctx, "cannot read '%s': %s: ignored", path, strerror(-r));
		return;
	}
	for (line = data; line; line = next) {
		struct dkm_shvars *t = dkm_shvars_new();
		struct dkm_shvars_status st = { 0 };

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		dkm_shvars_set(t, "kernelver", 0, KVER_MARK, false);
		for (size_t i = 0; i < ELEMENTSOF(fw_keys); i++) {
			const char *v = dkm_shvars_get(vals, fw_keys[i], 0);

			if (v)
				dkm_shvars_set(t, fw_keys[i], 0, v, false);
		}
		r = dkm_shvars_parse(t, line, &st);
		if (r < 0)
			dkm_warn(ctx,
				 "'%s' line %u: %s: not evaluated (dkm-hook reads framework.conf as assignments and never executes it): line ignored",
				 path, lineno, st.what[0] ? st.what : "not an assignment");
		else
			for (size_t i = 0; i < ELEMENTSOF(fw_keys); i++) {
				const struct dkm_shvar *sv = dkm_shvars_find(t, fw_keys[i]);
				const char *v = dkm_shvars_get(t, fw_keys[i], 0);

				if (sv && sv->assigned)
					dkm_shvars_set(vals, fw_keys[i], 0, strempty(v), true);
			}
		dkm_shvars_free(t);
	}
}

static bool fw_set(const struct dkm_shvars *vals, const char *key, const char **ret)
{
	const struct dkm_shvar *sv = dkm_shvars_find(vals, key);
	const char *v = dkm_shvars_get(vals, key, 0);

	if (!sv || !sv->assigned || isempty(v))
		return false;
	*ret = v;
	return true;
}

static int fw_path(struct dkm_ctx *ctx, const char *key, const char *v, char **field)
{
	if (strstr(v, KVER_MARK)) {
		dkm_warn(ctx,
			 "framework.conf: %s uses $kernelver: per-kernel paths are not supported, ignored",
			 key);
		return 0;
	}
	if (v[0] != '/')
		return dkm_err(
			ctx, -EINVAL,
			"invalid configuration: framework.conf: %s='%s': expected an absolute path",
			key, v);
	if (field) {
		free(*field);
		*field = xstrdup(v);
	}
	return 1;
}

/* Can a missing key or certificate file be made there (DKMS's openssl run): its directory
 * exists, or it is in our state dir, which we create. */
static bool can_generate(struct dkm_ctx *ctx, const char *logical)
{
	_cleanup_free_ char *full = dkm_ctx_path(ctx, logical);
	_cleanup_free_ char *dir = path_dirname(full);

	size_t n = strlen(ctx->state_dir);

	return is_dir(dir) || (strneq(logical, ctx->state_dir, n) && logical[n] == '/');
}

/* framework.conf names a signing key or certificate (mok_signing_key, mok_certificate) that is
 * not there. DKMS makes a new pair when it can, and otherwise says "modules won't be signed"
 * and builds; so do we, except that we never make one half of a pair for the other half that
 * exists: an existing key or certificate (maybe the enrolled one) is never paired with a
 * new one, nor replaced. A key and a certificate that do not belong together are refused when
 * the key is loaded (X509_check_private_key). */
static void check_mok_pair(struct dkm_ctx *ctx)
{
	_cleanup_free_ char *key = dkm_ctx_path(ctx, ctx->sign_key);
	_cleanup_free_ char *cert = dkm_ctx_path(ctx, ctx->sign_cert);
	bool have_key = path_exists(key), have_cert = path_exists(cert);
	const char *what = NULL, *path = NULL;

	if (have_key && have_cert)
		return;
	if (!have_key && (have_cert || !can_generate(ctx, ctx->sign_key)))
		what = "Key", path = ctx->sign_key;
	else if (!have_cert && (have_key || !can_generate(ctx, ctx->sign_cert)))
		what = "Certificate", path = ctx->sign_cert;
	if (!what)
		return; /* both missing, both can be made: the first signing build makes them */
	dkm_warn(ctx, "%s file %s not found and can't be generated, modules won't be signed", what,
		 path);
	ctx->sign = DKM_SIGN_NO;
}

int dkm_dkms_framework_load(struct dkm_ctx *ctx, struct dkm_dkms_framework *ret)
{
	struct dkm_dkms_framework fw = { .dkms_tree = xstrdup("/var/lib/dkms") };
	struct dkm_shvars *vals = dkm_shvars_new();
	_cleanup_free_ char *main_conf = dkm_ctx_path(ctx, "/etc/dkms/framework.conf");
	_cleanup_free_ char *dropins = dkm_ctx_path(ctx, "/etc/dkms/framework.conf.d");
	_cleanup_free_ char *noauto = dkm_ctx_path(ctx, "/etc/dkms/no-autoinstall");
	_cleanup_strv_free_ char **files = xcalloc(1, sizeof(char *));
	bool key_set = false, cert_set = false;
	const char *v;
	int r = 0;

	fw_read_file(ctx, main_conf, vals);
	{
		DIR *d = opendir(dropins);
		struct dirent *de;

		while (d && (de = readdir(d)))
			if (endswith(de->d_name, ".conf") && de->d_name[0] != '.')
				strv_push(&files, path_join(dropins, de->d_name));
		if (d)
			closedir(d);
		qsort(files, strv_length(files), sizeof(char *), strcmp_ptr);
		for (size_t i = 0; files[i]; i++)
			fw_read_file(ctx, files[i], vals);
	}

	{
		/* the trees: framework.conf key, context field */
		const struct {
			const char *key;
			char **field;
		} trees[] = {
			{ "source_tree", &ctx->source_tree },
			{ "install_tree", &ctx->module_dir },
			{ "dkms_tree", &fw.dkms_tree },
		};

		for (size_t i = 0; i < ELEMENTSOF(trees); i++)
			if (fw_set(vals, trees[i].key, &v) &&
			    (r = fw_path(ctx, trees[i].key, v, trees[i].field)) < 0)
				goto out;
	}
	if (fw_set(vals, "mok_signing_key", &v)) {
		if (startswith(v, "pkcs11:")) {
			r = dkm_err(ctx, -EOPNOTSUPP,
				    "not supported: framework.conf: mok_signing_key='%s': dkm-hook signs with a key file (PKCS#11 tokens are not supported)",
				    v);
			goto out;
		}
		r = fw_path(ctx, "mok_signing_key", v, &ctx->sign_key);
		if (r < 0)
			goto out;
		key_set = r > 0;
	}
	if (fw_set(vals, "mok_certificate", &v)) {
		r = fw_path(ctx, "mok_certificate", v, &ctx->sign_cert);
		if (r < 0)
			goto out;
		cert_set = r > 0;
	}
	if (fw_set(vals, "sign_file", &v) && (r = fw_path(ctx, "sign_file", v, NULL)) > 0) {
		_cleanup_free_ char *p = dkm_ctx_path(ctx, v);

		/* DKMS signs when sign_file is an executable, and says "modules won't be
		 * signed" otherwise; we sign with libcrypto, byte-identical to sign-file */
		ctx->sign = access(p, X_OK) == 0 ? DKM_SIGN_YES : DKM_SIGN_NO;
		if (ctx->sign == DKM_SIGN_NO)
			dkm_notice(ctx, "Binary %s not found, modules won't be signed", v);
	}
	if (r < 0)
		goto out;
	r = 0;
	if ((key_set || cert_set) && ctx->sign != DKM_SIGN_NO)
		check_mok_pair(ctx);
	/* DKMS's own key (/var/lib/dkms/mok.key, mok.pub) is probably the one enrolled: use it
	 * unless a key was configured for us or we already have one */
	if (!key_set && streq(ctx->sign_key, "/var/lib/dkm-hook/mok.key")) {
		_cleanup_free_ char *ours = dkm_ctx_path(ctx, ctx->sign_key);
		_cleanup_free_ char *dk = dkm_ctx_pathf(ctx, "%s/mok.key", fw.dkms_tree);
		_cleanup_free_ char *dc = dkm_ctx_pathf(ctx, "%s/mok.pub", fw.dkms_tree);

		if (!path_exists(ours) && path_exists(dk) && path_exists(dc)) {
			free(ctx->sign_key);
			free(ctx->sign_cert);
			ctx->sign_key = xasprintf("%s/mok.key", fw.dkms_tree);
			ctx->sign_cert = xasprintf("%s/mok.pub", fw.dkms_tree);
		}
	}
	if (fw_set(vals, "parallel_jobs", &v)) {
		char *end;
		long n = strtol(v, &end, 10);

		if (*end || n < 0 || n > 4096)
			dkm_warn(ctx,
				 "framework.conf: parallel_jobs='%s': expected a number: ignored",
				 v);
		else if (n > 0)
			ctx->jobs = (unsigned)n;
	}
	fw.autoinstall_all_kernels = fw_set(vals, "autoinstall_all_kernels", &v);
	fw.verbose = fw_set(vals, "verbose", &v);
	if (fw_set(vals, "symlink_modules", &v))
		dkm_warn(ctx,
			 "framework.conf: symlink_modules is not supported: modules are copied (atomically) into the module tree");
	if (fw_set(vals, "modprobe_on_install", &v))
		dkm_warn(ctx,
			 "framework.conf: modprobe_on_install is not supported: modules are not loaded after install");
	fw.no_autoinstall = path_exists(noauto);
	*ret = fw;
	fw.dkms_tree = NULL;
out:
	free(fw.dkms_tree);
	dkm_shvars_free(vals);
	return r;
}

void dkm_dkms_framework_done(struct dkm_dkms_framework *fw)
{
	free(fw->dkms_tree);
	fw->dkms_tree = NULL;
}

/* ---- traces in the DKMS tree ---- */

static char *tree_path(struct dkm_ctx *ctx, const char *tree, const char *name, const char *version)
{
	return version ? dkm_ctx_pathf(ctx, "%s/%s/%s", tree, name, version)
		       : dkm_ctx_pathf(ctx, "%s/%s", tree, name);
}

bool dkm_dkms_tree_is_marked(struct dkm_ctx *ctx, const char *dkms_tree, const char *name,
			     const char *version)
{
	_cleanup_free_ char *d = tree_path(ctx, dkms_tree, name, version);
	_cleanup_free_ char *src = path_join(d, "source");
	struct stat st;

	return lstat(src, &st) == 0;
}

int dkm_dkms_tree_mark_added(struct dkm_ctx *ctx, const char *dkms_tree, const char *name,
			     const char *version, const char *source_logical)
{
	_cleanup_free_ char *d = tree_path(ctx, dkms_tree, name, version);
	_cleanup_free_ char *src = path_join(d, "source");
	int r;

	if (dkm_dkms_tree_is_marked(ctx, dkms_tree, name, version))
		return 0;
	r = mkdir_p(d, 0755);
	if (r < 0)
		return dkm_err(ctx, r, "cannot create '%s': %s", d, strerror(-r));
	if (symlink(source_logical, src) < 0)
		return dkm_err(ctx, errno, "cannot create '%s': %s", src, strerror(errno));
	return 1;
}

/* unlink <tree>/<m>/kernel-<k>-<a> links that point into version (all kernels if kver NULL) */
static void drop_kernel_links(const char *mdir, const char *version, const char *kver,
			      const char *arch)
{
	_cleanup_free_ char *prefix = xasprintf("%s/", version);
	DIR *d = opendir(mdir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		_cleanup_free_ char *p = NULL, *want = NULL;
		char target[PATH_MAX];
		ssize_t n;

		if (!startswith(de->d_name, "kernel-"))
			continue;
		if (kver) {
			want = xasprintf("kernel-%s-%s", kver, arch);
			if (!streq(de->d_name, want))
				continue;
		}
		p = path_join(mdir, de->d_name);
		n = readlink(p, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		if (startswith(target, prefix))
			(void)unlink(p);
	}
	if (d)
		closedir(d);
}

int dkm_dkms_tree_forget(struct dkm_ctx *ctx, const char *dkms_tree, const char *name,
			 const char *version)
{
	_cleanup_free_ char *mdir = tree_path(ctx, dkms_tree, name, NULL);
	_cleanup_free_ char *d = tree_path(ctx, dkms_tree, name, version);
	int r;

	if (!name_is_valid(name) || !name_is_valid(version))
		return -EINVAL;
	if (!path_exists(d))
		return 0;
	drop_kernel_links(mdir, version, NULL, NULL);
	r = rm_rf(d);
	if (r < 0)
		return dkm_err(ctx, r, "cannot remove '%s': %s", d, strerror(-r));
	(void)rmdir(mdir);
	return 1;
}

void dkm_dkms_tree_forget_kernel(struct dkm_ctx *ctx, const char *dkms_tree, const char *name,
				 const char *version, const char *kver, const char *arch,
				 bool unbuild)
{
	_cleanup_free_ char *mdir = tree_path(ctx, dkms_tree, name, NULL);
	_cleanup_free_ char *d = tree_path(ctx, dkms_tree, name, version);

	if (!name_is_valid(kver) || !name_is_valid(arch))
		return;
	drop_kernel_links(mdir, version, kver, arch);
	if (unbuild) {
		_cleanup_free_ char *kd = path_join(d, kver);
		_cleanup_free_ char *ka = path_join(kd, arch);

		(void)rm_rf(ka);
		(void)rmdir(kd);
	}
}
