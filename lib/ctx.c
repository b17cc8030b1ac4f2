/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	ctx->build_user = xstrdup("");
	ctx->cc_launcher = xstrdup("auto");
	ctx->cc_cache_max = 1ULL << 30;
	ctx->cc_cache_dir = xstrdup("");
	ctx->dest_location = xstrdup("auto");
	ctx->root_device = xstrdup("");
	ctx->sandbox = DKM_SANDBOX_AUTO;
	ctx->pkg_scripts_as_root = true;
	ctx->build_uid_min = DKM_BUILD_UID_MIN;
	ctx->build_uid_max = DKM_BUILD_UID_MAX;
	ctx->initrd_packages = xcalloc(1, sizeof(char *));
	n = sysconf(_SC_NPROCESSORS_ONLN);
	ctx->jobs = n > 0 ? (unsigned)n : 1;
	ctx->log_level = DKM_LOG_NOTICE;
	ctx->lock_timeout = 600;
	if (dbg && streq(dbg, "1"))
		ctx->log_level = DKM_LOG_DEBUG;
	ctx->build_log_max = 16ULL << 20;
	ctx->build_dir_max = 4ULL << 30;
	ctx->build_max_procs = 512;
	ctx->build_max_memory = 4ULL << 30;
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
	free(ctx->build_user);
	strv_free(ctx->initrd_packages);
	free(ctx->cc_launcher);
	free(ctx->cc_cache_dir);
	free(ctx->dest_location);
	free(ctx->root_device);
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

enum setting_kind {
	SETTING_TEXT, /* a char * */
	SETTING_PATH, /* a char *, an absolute path */
	SETTING_ENUM, /* an enum: the index of the value in allowed */
	SETTING_BOOL, /* a bool: yes or no */
};

struct setting {
	const char *key;
	size_t offset;		    /* of the field in struct dkm_ctx */
	const char *const *allowed; /* SETTING_ENUM: the names, NULL-terminated */
	enum setting_kind kind;
};

/* indexed by the enums of ctx.h */
static const char *const compress_values[] = { "auto", "none", "xz", "zstd", "gzip", NULL };
static const char *const sign_values[] = { "auto", "yes", "no", NULL };
static const char *const initrd_values[] = { "auto", "dracut", "initramfs-tools", "none", NULL };
static const char *const fail_values[] = { "auto", "never", "always", NULL };
static const char *const yes_no_values[] = { "yes", "no", NULL };

/* an enum setting is stored through an int pointer */
_Static_assert(sizeof(enum dkm_compress_setting) == sizeof(int), "enum size");
_Static_assert(sizeof(enum dkm_sign_setting) == sizeof(int), "enum size");
_Static_assert(sizeof(enum dkm_initrd_generator) == sizeof(int), "enum size");
_Static_assert(sizeof(enum dkm_fail_policy) == sizeof(int), "enum size");
_Static_assert(sizeof(enum dkm_sandbox_policy) == sizeof(int), "enum size");
_Static_assert(ELEMENTSOF(compress_values) == _DKM_COMPRESS_SETTING_MAX + 1, "table");
_Static_assert(ELEMENTSOF(sign_values) == _DKM_SIGN_MAX + 1, "table");
_Static_assert(ELEMENTSOF(initrd_values) == _DKM_INITRD_GENERATOR_MAX + 1, "table");
_Static_assert(ELEMENTSOF(fail_values) == _DKM_FAIL_MAX + 1, "table");

static const char *name_of(const char *const *table, size_t n, int v)
{
	return v >= 0 && (size_t)v < n ? table[v] : NULL;
}

const char *dkm_compress_setting_to_string(enum dkm_compress_setting v)
{
	return name_of(compress_values, _DKM_COMPRESS_SETTING_MAX, v);
}

const char *dkm_sign_setting_to_string(enum dkm_sign_setting v)
{
	return name_of(sign_values, _DKM_SIGN_MAX, v);
}

const char *dkm_initrd_generator_to_string(enum dkm_initrd_generator v)
{
	return name_of(initrd_values, _DKM_INITRD_GENERATOR_MAX, v);
}

const char *dkm_fail_policy_to_string(enum dkm_fail_policy v)
{
	return name_of(fail_values, _DKM_FAIL_MAX, v);
}

static const struct setting settings[] = {
	{ "source_tree", offsetof(struct dkm_ctx, source_tree), NULL, SETTING_PATH },
	{ "state_dir", offsetof(struct dkm_ctx, state_dir), NULL, SETTING_PATH },
	{ "module_dir", offsetof(struct dkm_ctx, module_dir), NULL, SETTING_PATH },
	{ "sign_key", offsetof(struct dkm_ctx, sign_key), NULL, SETTING_PATH },
	{ "sign_cert", offsetof(struct dkm_ctx, sign_cert), NULL, SETTING_PATH },
	{ "compress", offsetof(struct dkm_ctx, compress), compress_values, SETTING_ENUM },
	{ "sign", offsetof(struct dkm_ctx, sign), sign_values, SETTING_ENUM },
	{ "build_user", offsetof(struct dkm_ctx, build_user), NULL, SETTING_TEXT },
	{ "initrd_generator", offsetof(struct dkm_ctx, initrd_generator), initrd_values,
	  SETTING_ENUM },
	{ "fail_policy", offsetof(struct dkm_ctx, fail_policy), fail_values, SETTING_ENUM },
	{ "cc_launcher", offsetof(struct dkm_ctx, cc_launcher), NULL, SETTING_TEXT },
	{ "cc_cache_dir", offsetof(struct dkm_ctx, cc_cache_dir), NULL, SETTING_PATH },
	{ "dest_location", offsetof(struct dkm_ctx, dest_location), NULL, SETTING_TEXT },
	{ "root_device", offsetof(struct dkm_ctx, root_device), NULL, SETTING_TEXT },
	{ "sandbox", offsetof(struct dkm_ctx, sandbox), dkm_sandbox_policy_names, SETTING_ENUM },
	{ "pkg_scripts_as_root", offsetof(struct dkm_ctx, pkg_scripts_as_root), yes_no_values,
	  SETTING_BOOL },
};

/* keys with their own parsing in config_set() below */
static const char *const special_keys[] = {
	"jobs",		 "build_timeout",   "initrd_packages",	"build_uid_range", "build_log_max",
	"build_dir_max", "build_max_procs", "build_max_memory", "lock_timeout",	   "cc_cache_max"
};

char **dkm_ctx_config_keys(void)
{
	char **l = xcalloc(1, sizeof(char *));

	for (size_t i = 0; i < ELEMENTSOF(settings); i++)
		strv_extend(&l, settings[i].key);
	for (size_t i = 0; i < ELEMENTSOF(special_keys); i++)
		strv_extend(&l, special_keys[i]);
	return l;
}

static int parse_uint(const char *s, unsigned long max, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || !isdigit((unsigned char)s[0]) || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/* "4096", "64K", "16M", "4G", "1T": bytes, the suffixes powers of 1024 */
static int parse_size(const char *s, uint64_t *ret)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	const char *u;
	char *end;
	unsigned shift = 0;

	if (!(*s >= '0' && *s <= '9'))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (*end) {
		u = strchr(units, toupper((unsigned char)*end));
		if (!u || end[1])
			return -EINVAL;
		shift = 10 * (unsigned)(u - units + 1);
	}
	if (v > (UINT64_MAX >> shift))
		return -EINVAL;
	*ret = (uint64_t)v << shift;
	return 0;
}

/* the numeric settings and their bounds: a value past them is a typo, not a wish */
#define WEEK (7UL * 24 * 3600)
static const struct {
	const char *key;
	unsigned long min, max;
	const char *expected;
} numbers[] = {
	{ "jobs", 1, 4096, "a whole number from 1 to 4096" },
	{ "build_timeout", 0, WEEK,
	  "a whole number of seconds from 0 (no limit) to 604800 (a week)" },
	{ "lock_timeout", 0, WEEK,
	  "a whole number of seconds from 0 (no limit) to 604800 (a week)" },
	{ "build_max_procs", 0, 1000000,
	  "a whole number of processes from 0 (no limit) to 1000000" },
};

static int config_set(struct dkm_ctx *ctx, const char *path, unsigned line, const char *key,
		      const char *value)
{
	for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
		const struct setting *s = &settings[i];
		char **field;
		int idx = -1;

		if (!streq(s->key, key))
			continue;
		if (s->allowed) {
			for (size_t j = 0; s->allowed[j] && idx < 0; j++)
				if (streq(s->allowed[j], value))
					idx = (int)j;
			if (idx < 0) {
				_cleanup_free_ char *list = strv_join((char **)s->allowed, ", ");

				return dkm_err(
					ctx, -EINVAL,
					"invalid configuration: '%s':%u: %s='%s': expected one of %s",
					path, line, key, value, list);
			}
		}
		if (s->kind == SETTING_ENUM) {
			*(int *)((char *)ctx + s->offset) = idx;
			return 0;
		}
		if (s->kind == SETTING_BOOL) {
			*(bool *)((char *)ctx + s->offset) = streq(value, "yes");
			return 0;
		}
		if (s->kind == SETTING_PATH && value[0] != '/')
			return dkm_err(
				ctx, -EINVAL,
				"invalid configuration: '%s':%u: %s='%s': expected an absolute path",
				path, line, key, value);
		field = (char **)((char *)ctx + s->offset);
		free(*field);
		*field = xstrdup(value);
		return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(numbers); i++) {
		unsigned v;

		if (!streq(numbers[i].key, key))
			continue;
		if (parse_uint(value, numbers[i].max, &v) < 0 || v < numbers[i].min)
			return dkm_err(ctx, -EINVAL,
				       "invalid configuration: '%s':%u: %s='%s': expected %s", path,
				       line, key, value, numbers[i].expected);
		if (streq(key, "jobs"))
			ctx->jobs = v;
		else if (streq(key, "build_timeout"))
			ctx->build_timeout = v;
		else if (streq(key, "lock_timeout"))
			ctx->lock_timeout = v;
		else
			ctx->build_max_procs = v;
		return 0;
	}
	if (streq(key, "build_uid_range")) {
		unsigned lo, hi;
		int n = -1;

		if (sscanf(value, "%u-%u%n", &lo, &hi, &n) != 2 || n != (int)strlen(value) ||
		    lo < 1000 || hi < lo || hi - lo < 15 || hi >= 4294967294U)
			return dkm_err(
				ctx, -EINVAL,
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
	if (streq(key, "build_log_max") || streq(key, "build_dir_max") ||
	    streq(key, "build_max_memory") || streq(key, "cc_cache_max")) {
		uint64_t v;

		if (parse_size(value, &v) < 0 || (streq(key, "build_log_max") && v && v < 4096))
			return dkm_err(
				ctx, -EINVAL,
				"invalid configuration: '%s':%u: %s='%s': expected a size in bytes, with an optional K, M, G or T suffix (powers of 1024), 0 for no limit%s",
				path, line, key, value,
				streq(key, "build_log_max") ? ", else at least 4K" : "");
		if (streq(key, "build_log_max"))
			ctx->build_log_max = v;
		else if (streq(key, "build_dir_max"))
			ctx->build_dir_max = v;
		else if (streq(key, "cc_cache_max"))
			ctx->cc_cache_max = v;
		else
			ctx->build_max_memory = v;
		return 0;
	}
	return dkm_err(ctx, -EINVAL, "invalid configuration: '%s':%u: unknown key '%s'", path, line,
		       key);
}

/* Who else could write path (st): NULL if nobody but its owner, else "group", "others" or
 * "group and others". */
static const char *writers(const struct stat *st)
{
	if ((st->st_mode & 022) == 022)
		return "group and others";
	if (st->st_mode & 020)
		return "group";
	if (st->st_mode & 002)
		return "others";
	return NULL;
}

/* The configuration file's text, or 0 with *ret NULL if there is none. It decides the signing
 * key, the build user, the state dir: it is never read through a symlink (an error about it
 * would quote a line of whatever that points at: /etc/shadow), only as a regular file, and as
 * root only if root owns it and its directory and nobody else can write them. */
static int config_read(struct dkm_ctx *ctx, const char *path, char **ret)
{
	_cleanup_free_ char *dir = path_dirname(path), *data = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st, dst;
	size_t len = 0;
	const char *w;

	*ret = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && errno == ELOOP)
		return dkm_err(
			ctx, -ELOOP,
			"refusing configuration: '%s': it is a symbolic link (not followed): put the file itself there",
			path);
	if (fd < 0)
		return dkm_err(ctx, -errno, "cannot read configuration: '%s': %s", path,
			       strerror(errno));
	if (fstat(fd, &st) < 0)
		return dkm_err(ctx, -errno, "cannot read configuration: '%s': %s", path,
			       strerror(errno));
	if (!S_ISREG(st.st_mode))
		return dkm_err(
			ctx, -EINVAL,
			"refusing configuration: '%s': it is not a regular file: put a text file there",
			path);
	if (geteuid() == 0) {
		if (st.st_uid != 0)
			return dkm_err(
				ctx, -EPERM,
				"refusing configuration: '%s': it belongs to uid %u, not root, and it chooses what root builds and signs: run 'chown root: %s'",
				path, (unsigned)st.st_uid, path);
		if ((w = writers(&st)))
			return dkm_err(
				ctx, -EPERM,
				"refusing configuration: '%s': %s can write it (mode %04o), and it chooses what root builds and signs: run 'chmod go-w %s'",
				path, w, (unsigned)(st.st_mode & 07777), path);
		if (stat(dir, &dst) == 0 && (dst.st_uid != 0 || writers(&dst)))
			return dkm_err(
				ctx, -EPERM,
				"refusing configuration: '%s': its directory '%s' %s, so others can replace it: run 'chown root: %s && chmod go-w %s'",
				path, dir,
				dst.st_uid != 0 ? "does not belong to root"
						: "can be written by others",
				dir, dir);
	}
	if (st.st_size > (1 << 20))
		return dkm_err(
			ctx, -EFBIG,
			"refusing configuration: '%s': larger than 1 MiB: it is a short key=value text",
			path);
	data = xmalloc((size_t)st.st_size + 1);
	for (;;) {
		ssize_t k = read(fd, data + len, (size_t)st.st_size - len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return dkm_err(ctx, -errno, "cannot read configuration: '%s': %s", path,
				       strerror(errno));
		if (k == 0 || (len += (size_t)k) == (size_t)st.st_size)
			break;
	}
	data[len] = 0;
	if (strlen(data) != len)
		return dkm_err(
			ctx, -EINVAL,
			"refusing configuration: '%s': it contains a NUL byte: it is a key=value text",
			path);
	*ret = TAKE_PTR(data);
	return 0;
}

/* A state dir that others can write lets them change registrations, replace built modules
 * before they are signed and installed, and swap the lock files: say so on every command. */
static void check_state_dir(struct dkm_ctx *ctx)
{
	_cleanup_free_ char *dir = dkm_ctx_path(ctx, ctx->state_dir);
	struct stat st;
	const char *w;

	if (geteuid() != 0 || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	if (st.st_uid != 0)
		dkm_warn(ctx,
			 "state dir '%s' belongs to uid %u, not root: its owner can change what root builds, signs and installs; run 'chown root: %s'",
			 dir, (unsigned)st.st_uid, dir);
	else if ((w = writers(&st)))
		dkm_warn(ctx,
			 "state dir '%s' can be written by %s (mode %04o): they can change what root builds, signs and installs, and hold its locks; run 'chmod go-w %s'",
			 dir, w, (unsigned)(st.st_mode & 07777), dir);
}

int dkm_ctx_load_config(struct dkm_ctx *ctx)
{
	_cleanup_free_ char *path = NULL, *data = NULL;
	char *line, *next;
	unsigned lineno = 0;
	int r;

	path = dkm_ctx_pathf(ctx, "%s/dkm-hook.conf", ctx->conf_dir);
	r = config_read(ctx, path, &data);
	if (r < 0)
		return r;
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
				       "invalid configuration: '%s':%u: '%s': expected key=value",
				       path, lineno, line);
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
	check_state_dir(ctx);
	return 0;
}
