/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <openssl/evp.h>

#include "ctx.h"
#include "kernel.h"
#include "util.h"

const char *dkm_host_arch(void)
{
	static struct utsname u;

	if (!u.machine[0] && uname(&u) < 0)
		return "unknown";
	return u.machine;
}

char *dkm_kconfig_get(const char *config_path, const char *name)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *key = NULL;
	char *line = NULL;
	size_t n = 0, klen;
	char *value = NULL;

	if (!config_path)
		return NULL;
	f = fopen(config_path, "re");
	if (!f)
		return NULL;
	key = xasprintf("CONFIG_%s=", startswith(name, "CONFIG_") ? name + 7 : name);
	klen = strlen(key);
	while (getline(&line, &n, f) > 0) {
		char *v;
		size_t l;

		if (!strneq(line, key, klen))
			continue;
		v = strstrip(line + klen);
		l = strlen(v);
		if (l >= 2 && v[0] == '"' && v[l - 1] == '"')
			value = xstrndup(v + 1, l - 2);
		else
			value = xstrdup(v);
		break;
	}
	free(line);
	return value;
}

/* The suffix most used by the modules in modules.dep, as a fallback for kernels whose
 * config does not say. */
static char *compression_from_modules_dep(const char *moddir)
{
	_cleanup_free_ char *path = path_join(moddir, "modules.dep");
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	size_t count[4] = { 0 }, n = 0;
	static const char *const names[] = { "none", "xz", "zstd", "gzip" };
	char *line = NULL;
	size_t best = 0;

	if (!f)
		return NULL;
	while (getline(&line, &n, f) > 0) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		*colon = 0;
		if (endswith(line, ".ko"))
			count[0]++;
		else if (endswith(line, ".ko.xz"))
			count[1]++;
		else if (endswith(line, ".ko.zst"))
			count[2]++;
		else if (endswith(line, ".ko.gz"))
			count[3]++;
	}
	free(line);
	for (size_t i = 1; i < 4; i++)
		if (count[i] > count[best])
			best = i;
	return count[best] ? xstrdup(names[best]) : NULL;
}

const char *dkm_name_problem(const char *s, char buf[static 64])
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0)
		return "it is empty";
	if (n > 255)
		return "it is longer than 255 bytes";
	if (s[0] == '-' || s[0] == '.') {
		snprintf(buf, 64, "it starts with '%c'", s[0]);
		return buf;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("._+-~", *p))
			continue;
		if (*p == ' ' || *p == '\t')
			return "it contains a blank";
		if (*p < 0x20 || *p == 0x7f)
			/* the log shows it as \n, \xNN */
			snprintf(buf, 64, "it contains the control character '%c'", *p);
		else if (*p >= 0x80)
			snprintf(buf, 64, "it contains the byte 0x%02x (not ASCII)", *p);
		else
			snprintf(buf, 64, "it contains '%c'", *p);
		return buf;
	}
	if (strstr(s, ".."))
		return "it contains '..'";
	return NULL;
}

int dkm_arg_check(struct dkm_ctx *ctx, const char *what, const char *s, const char *example)
{
	char buf[64];
	const char *problem = dkm_name_problem(s, buf);

	if (!problem)
		return 0;
	return dkm_err(ctx, -EINVAL,
		       "invalid %s '%s': %s: expected a name of " DKM_NAME_RULE ", e.g. '%s'", what,
		       strempty(s), problem, example);
}

int dkm_kver_check(struct dkm_ctx *ctx, const char *kver)
{
	_cleanup_free_ char *example = NULL;
	const char *problem;
	char buf[64];

	problem = dkm_name_problem(kver, buf);
	if (!problem)
		return 0;
	example = dkm_kernel_default(ctx);
	/* a newline in it is shown as \n by the log */
	return dkm_err(
		ctx, -EINVAL,
		"invalid kernel version '%s': %s: expected the name of a kernel's directory under '%s' (" DKM_NAME_RULE
		"), e.g. '%s'",
		strempty(kver), problem, ctx->module_dir, example ? example : "6.1.0-18-amd64");
}

int dkm_kernel_probe(struct dkm_ctx *ctx, const char *kver, const char *arch,
		     const char *source_dir, struct dkm_kernel **ret)
{
	struct dkm_kernel *k;
	_cleanup_free_ char *mk = NULL, *cfg = NULL, *sig = NULL;
	int r;
	static const struct {
		const char *opt, *name;
	} comp[] = {
		{ "MODULE_COMPRESS_XZ", "xz" },
		{ "MODULE_COMPRESS_ZSTD", "zstd" },
		{ "MODULE_COMPRESS_GZIP", "gzip" },
		{ "MODULE_COMPRESS_NONE", "none" },
	};

	r = dkm_kver_check(ctx, kver);
	if (r < 0)
		return r;
	k = xcalloc(1, sizeof(*k));
	k->kver = xstrdup(kver);
	k->arch = xstrdup(arch ? arch : dkm_host_arch());
	k->moddir_logical = xasprintf("%s/%s", ctx->module_dir, kver);
	k->moddir = dkm_ctx_path(ctx, k->moddir_logical);
	k->source_dir = source_dir ? xstrdup(source_dir) : path_join(k->moddir, "build");
	mk = path_join(k->source_dir, "Makefile");
	k->has_headers = path_exists(mk);
	cfg = path_join(k->source_dir, ".config");
	if (path_exists(cfg))
		k->config_path = TAKE_PTR(cfg);

	sig = dkm_kconfig_get(k->config_path, "MODULE_SIG");
	k->module_sig = sig && streq(sig, "y");
	if (k->module_sig) {
		k->sig_hash = dkm_kconfig_get(k->config_path, "MODULE_SIG_HASH");
		if (isempty(k->sig_hash)) {
			free(k->sig_hash);
			k->sig_hash = xstrdup("sha256");
		}
	}
	for (size_t i = 0; i < ELEMENTSOF(comp) && !k->compression; i++) {
		_cleanup_free_ char *v = dkm_kconfig_get(k->config_path, comp[i].opt);

		if (v && streq(v, "y"))
			k->compression = xstrdup(comp[i].name);
	}
	if (!k->compression)
		k->compression = compression_from_modules_dep(k->moddir);
	if (!k->compression)
		k->compression = xstrdup("none");
	k->cc_version = dkm_kconfig_get(k->config_path, "CC_VERSION_TEXT");
	*ret = k;
	return 0;
}

struct dkm_kernel *dkm_kernel_free(struct dkm_kernel *k)
{
	if (!k)
		return NULL;
	free(k->kver);
	free(k->arch);
	free(k->moddir);
	free(k->moddir_logical);
	free(k->source_dir);
	free(k->config_path);
	free(k->sig_hash);
	free(k->compression);
	free(k->cc_version);
	free(k);
	return NULL;
}

char **dkm_kernel_list(struct dkm_ctx *ctx)
{
	_cleanup_free_ char *dir = dkm_ctx_path(ctx, ctx->module_dir);
	char **l = xcalloc(1, sizeof(char *));
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return l;
	while ((de = readdir(d))) {
		_cleanup_free_ char *p = NULL;

		if (de->d_name[0] == '.')
			continue;
		p = path_join(dir, de->d_name);
		if (is_dir(p))
			strv_extend(&l, de->d_name);
	}
	closedir(d);
	qsort(l, strv_length(l), sizeof(char *), version_compare_ptr);
	return l;
}

char **dkm_kernel_list_with_headers(struct dkm_ctx *ctx)
{
	_cleanup_strv_free_ char **all = dkm_kernel_list(ctx);
	char **l = xcalloc(1, sizeof(char *));

	for (size_t i = 0; all[i]; i++) {
		_cleanup_free_ char *mk =
			dkm_ctx_pathf(ctx, "%s/%s/build/Makefile", ctx->module_dir, all[i]);

		if (name_is_valid(all[i]) && path_exists(mk))
			strv_extend(&l, all[i]);
	}
	return l;
}

char *dkm_kernel_default(struct dkm_ctx *ctx)
{
	_cleanup_strv_free_ char **l = dkm_kernel_list(ctx);
	struct utsname u;

	if (uname(&u) == 0 && strv_contains(l, u.release))
		return xstrdup(u.release);
	for (size_t n = strv_length(l); n > 0; n--) {
		_cleanup_free_ char *mk =
			dkm_ctx_pathf(ctx, "%s/%s/build/Makefile", ctx->module_dir, l[n - 1]);

		if (path_exists(mk))
			return xstrdup(l[n - 1]);
	}
	return strv_length(l) ? xstrdup(l[strv_length(l) - 1]) : NULL;
}

char *dkm_module_name_from_path(const char *path)
{
	const char *b = path_basename(path);
	static const char *const sfx[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };

	for (size_t i = 0; i < ELEMENTSOF(sfx); i++)
		if (endswith(b, sfx[i])) {
			char *n = xstrndup(b, strlen(b) - strlen(sfx[i]));

			for (char *p = n; *p; p++)
				if (*p == '-')
					*p = '_';
			return n;
		}
	return NULL;
}

const char *dkm_kernel_fingerprint(struct dkm_kernel *k)
{
	static const char *const files[] = { ".config", "Module.symvers",
					     "include/generated/utsrelease.h" };
	EVP_MD_CTX *md;
	unsigned char out[32];
	unsigned len = 0;

	if (k->fingerprint[0])
		return k->fingerprint;
	md = EVP_MD_CTX_new();
	if (!md)
		abort();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		_cleanup_free_ char *p = path_join(k->source_dir, files[i]), *data = NULL;
		size_t n = 0;

		EVP_DigestUpdate(md, files[i], strlen(files[i]) + 1);
		if (read_full_file(p, (size_t)1 << 28, &data, &n) >= 0)
			EVP_DigestUpdate(md, data, n);
	}
	EVP_DigestUpdate(md, strempty(k->cc_version), strlen(strempty(k->cc_version)));
	EVP_DigestFinal_ex(md, out, &len);
	EVP_MD_CTX_free(md);
	for (unsigned i = 0; i < 32; i++)
		sprintf(k->fingerprint + 2 * i, "%02x", out[i]);
	return k->fingerprint;
}
