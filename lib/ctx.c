/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctx.h"
#include "identity.h"
#include "sandbox.h"
#include "util.h"

int dkm_ctx_new(const char *root, struct dkm_ctx **ret)
{
	struct dkm_ctx *ctx = xcalloc(1, sizeof(*ctx));
	const char *dbg = getenv("DKM_HOOK_DEBUG");
	long n;

	if (isempty(root))
		root = getenv("DKM_HOOK_ROOT");
	if (isempty(root))
		root = "/";
	if (root[0] != '/') {
		char cwd[4096];

		if (!getcwd(cwd, sizeof(cwd))) {
			free(ctx);
			return -errno;
		}
		ctx->root = path_join(cwd, root);
	} else
		ctx->root = xstrdup(root);
	/* normalise: no trailing slash, "/" becomes "" so that root + logical path works */
	for (size_t l = strlen(ctx->root); l > 0 && ctx->root[l - 1] == '/'; l--)
		ctx->root[l - 1] = 0;

	ctx->source_tree = xstrdup("/usr/src");
	ctx->state_dir = xstrdup("/var/lib/dkm-hook");
	ctx->module_dir = xstrdup("/lib/modules");
	ctx->conf_dir = xstrdup("/etc/dkm-hook");
	ctx->sign_key = xstrdup("/var/lib/dkm-hook/mok.key");
	ctx->sign_cert = xstrdup("/var/lib/dkm-hook/mok.der");
	ctx->compress = xstrdup("auto");
	ctx->sign = xstrdup("auto");
	ctx->build_user = xstrdup("");
	ctx->initrd_generator = xstrdup("auto");
	ctx->fail_policy = xstrdup("auto");
	ctx->cc_launcher = xstrdup("");
	ctx->cc_cache_dir = xstrdup("");
	ctx->dest_location = xstrdup("auto");
	ctx->root_device = xstrdup("");
	ctx->sandbox = xstrdup("auto");
	ctx->build_uid_min = DKM_BUILD_UID_MIN;
	ctx->build_uid_max = DKM_BUILD_UID_MAX;
	ctx->initrd_packages = xcalloc(1, sizeof(char *));
	n = sysconf(_SC_NPROCESSORS_ONLN);
	ctx->jobs = n > 0 ? (unsigned)n : 1;
	ctx->log_level = DKM_LOG_NOTICE;
	if (dbg && streq(dbg, "1"))
		ctx->log_level = DKM_LOG_DEBUG;
	*ret = ctx;
	return 0;
}

struct dkm_ctx *dkm_ctx_free(struct dkm_ctx *ctx)
{
	if (!ctx)
		return NULL;
	free(ctx->root);
	free(ctx->source_tree);
	free(ctx->state_dir);
	free(ctx->module_dir);
	free(ctx->conf_dir);
	free(ctx->sign_key);
	free(ctx->sign_cert);
	free(ctx->compress);
	free(ctx->sign);
	free(ctx->build_user);
	free(ctx->initrd_generator);
	strv_free(ctx->initrd_packages);
	free(ctx->fail_policy);
	free(ctx->cc_launcher);
	free(ctx->cc_cache_dir);
	free(ctx->dest_location);
	free(ctx->root_device);
	free(ctx->sandbox);
	free(ctx);
	return NULL;
}

bool dkm_ctx_is_host_root(const struct dkm_ctx *ctx)
{
	return ctx->root[0] == 0;
}

char *dkm_ctx_path(const struct dkm_ctx *ctx, const char *logical)
{
	if (logical[0] != '/')
		return xasprintf("%s/%s", ctx->root, logical);
	return xasprintf("%s%s", ctx->root, logical);
}

char *dkm_ctx_pathf(const struct dkm_ctx *ctx, const char *fmt, ...)
{
	_cleanup_free_ char *logical = NULL;
	va_list ap;

	va_start(ap, fmt);
	logical = xvasprintf(fmt, ap);
	va_end(ap);
	return dkm_ctx_path(ctx, logical);
}

struct setting {
	const char *key;
	size_t offset; /* of a char* in struct dkm_ctx */
	const char *const *allowed; /* NULL = free text */
	bool is_path;
};

static const char *const compress_values[] = { "auto", "none", "xz", "zstd", "gzip", NULL };
static const char *const sign_values[] = { "auto", "yes", "no", NULL };
static const char *const initrd_values[] = { "auto", "dracut", "initramfs-tools", "none", NULL };
static const char *const fail_values[] = { "auto", "never", "always", NULL };

static const struct setting settings[] = {
	{ "source_tree", offsetof(struct dkm_ctx, source_tree), NULL, true },
	{ "state_dir", offsetof(struct dkm_ctx, state_dir), NULL, true },
	{ "module_dir", offsetof(struct dkm_ctx, module_dir), NULL, true },
	{ "sign_key", offsetof(struct dkm_ctx, sign_key), NULL, true },
	{ "sign_cert", offsetof(struct dkm_ctx, sign_cert), NULL, true },
	{ "compress", offsetof(struct dkm_ctx, compress), compress_values, false },
	{ "sign", offsetof(struct dkm_ctx, sign), sign_values, false },
	{ "build_user", offsetof(struct dkm_ctx, build_user), NULL, false },
	{ "initrd_generator", offsetof(struct dkm_ctx, initrd_generator), initrd_values, false },
	{ "fail_policy", offsetof(struct dkm_ctx, fail_policy), fail_values, false },
	{ "cc_launcher", offsetof(struct dkm_ctx, cc_launcher), NULL, false },
	{ "cc_cache_dir", offsetof(struct dkm_ctx, cc_cache_dir), NULL, true },
	{ "dest_location", offsetof(struct dkm_ctx, dest_location), NULL, false },
	{ "root_device", offsetof(struct dkm_ctx, root_device), NULL, false },
	{ "sandbox", offsetof(struct dkm_ctx, sandbox), dkm_sandbox_policy_names, false },
};

/* keys with their own parsing in config_set() below */
static const char *const special_keys[] = { "jobs", "build_timeout", "initrd_packages",
					     "build_uid_range" };

char **dkm_ctx_config_keys(void)
{
	char **l = xcalloc(1, sizeof(char *));

	for (size_t i = 0; i < ELEMENTSOF(settings); i++)
		strv_extend(&l, settings[i].key);
	for (size_t i = 0; i < ELEMENTSOF(special_keys); i++)
		strv_extend(&l, special_keys[i]);
	return l;
}

static int parse_uint(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 1000000)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int config_set(struct dkm_ctx *ctx, const char *path, unsigned line, const char *key,
		      const char *value)
{
	for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
		const struct setting *s = &settings[i];
		char **field;

		if (!streq(s->key, key))
			continue;
		if (s->allowed) {
			bool ok = false;

			for (size_t j = 0; s->allowed[j]; j++)
				ok = ok || streq(s->allowed[j], value);
			if (!ok) {
				_cleanup_free_ char *list = strv_join((char **)s->allowed, ", ");

				return dkm_err(ctx, -EINVAL,
					       "invalid configuration: '%s':%u: %s='%s': expected one of %s",
					       path, line, key, value, list);
			}
		}
		if (s->is_path && value[0] != '/')
			return dkm_err(ctx, -EINVAL,
				       "invalid configuration: '%s':%u: %s='%s': expected an absolute path",
				       path, line, key, value);
		field = (char **)((char *)ctx + s->offset);
		free(*field);
		*field = xstrdup(value);
		return 0;
	}
	if (streq(key, "jobs") || streq(key, "build_timeout")) {
		unsigned v;

		if (parse_uint(value, &v) < 0 || (streq(key, "jobs") && v == 0))
			return dkm_err(ctx, -EINVAL,
				       "invalid configuration: '%s':%u: %s='%s': expected a whole number%s",
				       path, line, key, value, streq(key, "jobs") ? " >= 1" : "");
		if (streq(key, "jobs"))
			ctx->jobs = v;
		else
			ctx->build_timeout = v;
		return 0;
	}
	if (streq(key, "build_uid_range")) {
		unsigned lo, hi;
		int n = -1;

		if (sscanf(value, "%u-%u%n", &lo, &hi, &n) != 2 || n != (int)strlen(value) ||
		    lo < 1000 || hi < lo || hi - lo < 15 || hi >= 4294967294U)
			return dkm_err(ctx, -EINVAL,
				       "invalid configuration: '%s':%u: %s='%s': expected FIRST-LAST, a range of at least 16 uids above 999 that no user or service has",
				       path, line, key, value);
		ctx->build_uid_min = lo;
		ctx->build_uid_max = hi;
		return 0;
	}
	if (streq(key, "initrd_packages")) {
		strv_free(ctx->initrd_packages);
		ctx->initrd_packages = strv_split(value, " \t,");
		return 0;
	}
	return dkm_err(ctx, -EINVAL, "invalid configuration: '%s':%u: unknown key '%s'", path, line,
		       key);
}

int dkm_ctx_load_config(struct dkm_ctx *ctx)
{
	_cleanup_free_ char *path = NULL, *data = NULL;
	char *line, *next;
	unsigned lineno = 0;
	int r;

	path = dkm_ctx_pathf(ctx, "%s/dkm-hook.conf", ctx->conf_dir);
	r = read_full_file(path, 1 << 20, &data, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return dkm_err(ctx, r, "cannot read configuration: '%s': %s", path, strerror(-r));
	for (line = data; line; line = next) {
		char *eq, *key, *value;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		line = strstrip(line);
		if (!*line || *line == '#' || *line == ';')
			continue;
		eq = strchr(line, '=');
		if (!eq)
			return dkm_err(ctx, -EINVAL,
				       "invalid configuration: '%s':%u: '%s': expected key=value", path,
				       lineno, line);
		*eq = 0;
		key = strstrip(line);
		value = strstrip(eq + 1);
		/* allow simple quoting: key="value" */
		size_t vl = strlen(value);
		if (vl >= 2 && (value[0] == '"' || value[0] == '\'') && value[vl - 1] == value[0]) {
			value[vl - 1] = 0;
			value++;
		}
		r = config_set(ctx, path, lineno, key, value);
		if (r < 0)
			return r;
	}
	return 0;
}
