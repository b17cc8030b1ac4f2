/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading dkms.conf: the file is turned into a table of shell variables, either by the
 * no-exec parser (lib/shvars.c) or, for files that need a real shell, by a sandboxed bash
 * (lib/conf-shell.c). The table is then checked and resolved for one kernel into a plain
 * struct dkm_conf. docs/dkms-conf-evaluation.md explains the choices. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf-internal.h"
#include "conf.h"
#include "ctx.h"
#include "kernel.h"
#include "log.h"
#include "shvars.h"
#include "util.h"

/* Every directive DKMS reads from a dkms.conf (docs/dkms-conf-evaluation.md), plus the
 * deprecated ones it still accepts. The raw dump always shows these, whatever the file did
 * with them. */
const char *const dkm_conf_directives[] = {
	"AUTOINSTALL",
	"BUILD_DEPENDS",
	"BUILD_EXCLUSIVE_ARCH",
	"BUILD_EXCLUSIVE_CONFIG",
	"BUILD_EXCLUSIVE_KERNEL",
	"BUILD_EXCLUSIVE_KERNEL_MAX",
	"BUILD_EXCLUSIVE_KERNEL_MIN",
	"BUILT_MODULE_LOCATION",
	"BUILT_MODULE_NAME",
	"CLEAN",
	"DEST_MODULE_LOCATION",
	"DEST_MODULE_NAME",
	"MAKE",
	"MAKE_MATCH",
	"NO_WEAK_MODULES",
	"OBSOLETE_BY",
	"PACKAGE_NAME",
	"PACKAGE_VERSION",
	"PATCH",
	"PATCH_MATCH",
	"POST_ADD",
	"POST_BUILD",
	"POST_INSTALL",
	"POST_REMOVE",
	"PRE_BUILD",
	"PRE_INSTALL",
	"REMAKE_INITRD",
	"STRIP",
	NULL,
};

/* ---- reading the text ---- */

static unsigned line_of(const char *s, size_t off)
{
	unsigned line = 1;

	for (size_t i = 0; i < off; i++)
		if (s[i] == '\n')
			line++;
	return line;
}

static bool has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

static int invalid(struct dkm_ctx *ctx, const char *path, const char *fmt, ...) _printf_(3, 4);
static int invalid(struct dkm_ctx *ctx, const char *path, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	/* values may hold newlines or escapes: keep the message on one greppable line */
	if (has_control(msg)) {
		_cleanup_free_ char *line = dkm_shvars_format("x", 0, msg);

		return dkm_err(ctx, -EINVAL, "invalid dkms.conf: '%s': %s", path,
			       line + strlen("x[0]="));
	}
	return dkm_err(ctx, -EINVAL, "invalid dkms.conf: '%s': %s", path, msg);
}

/* A package's dkms.conf is read as root before its source is copied or checked: it must be a
 * regular file, and a symlink must not lead out of the file's own directory (a source that
 * ships `dkms.conf -> /etc/shadow` would have root read that file and show parts of it in
 * the error). A FIFO would read as empty (or block): refused too. */
static int check_file(struct dkm_ctx *ctx, const char *path)
{
	char rdir[PATH_MAX], rfile[PATH_MAX], target[PATH_MAX];
	_cleanup_free_ char *dir = path_dirname(path);
	struct stat st;
	size_t n;
	ssize_t k;

	if (lstat(path, &st) < 0)
		return 0; /* read_text() says why it cannot be read */
	if (S_ISLNK(st.st_mode) && realpath(path, rfile)) {
		n = realpath(dir, rdir) ? strlen(rdir) : 0;
		if (n == 0 || !strneq(rfile, rdir, n) || rfile[n] != '/') {
			k = readlink(path, target, sizeof(target) - 1);
			target[k < 0 ? 0 : k] = '\0';
			return invalid(
				ctx, path,
				"is a symlink to '%s', outside its directory: must be a regular file inside the package",
				target);
		}
	}
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return invalid(ctx, path,
			       "is not a regular file (a FIFO, socket or device): must be a text file");
	return 0;
}

/* Read the file, refuse what is not a text file we want to evaluate, and turn CRLF line ends
 * into LF (DKMS strips a trailing CR from every value it reads; a CRLF file must work). */
static int read_text(struct dkm_ctx *ctx, const char *path, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len, bad, o = 0;
	int r;

	r = read_full_file(path, DKM_CONF_MAX_SIZE, &buf, &len);
	if (r == -EFBIG)
		return invalid(ctx, path, "file is larger than %u KiB: a dkms.conf is a short text",
			       DKM_CONF_MAX_SIZE / 1024);
	if (r == -EISDIR)
		return invalid(ctx, path, "is a directory, not a dkms.conf file");
	if (r < 0)
		return dkm_err(ctx, r, "cannot read dkms.conf: '%s': %s", path, strerror(-r));
	if (memchr(buf, '\0', len)) {
		size_t at = (size_t)((char *)memchr(buf, '\0', len) - buf);

		return invalid(ctx, path, "line %u: contains a NUL byte: must be a text file",
			       line_of(buf, at));
	}
	bad = dkm_utf8_invalid_at(buf, len);
	if (bad != (size_t)-1)
		return invalid(ctx, path, "line %u: not valid UTF-8: must be a UTF-8 text file",
			       line_of(buf, bad));
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\r' && buf[i + 1] == '\n')
			continue;
		buf[o++] = buf[i];
	}
	buf[o] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

static void env_preset(struct dkm_shvars *v, const struct dkm_conf_env *env)
{
	const char *const pairs[][2] = {
		{ "kernelver", env->kernelver },
		{ "arch", env->arch },
		{ "kernel_source_dir", env->kernel_source_dir },
		{ "dkms_tree", env->dkms_tree },
		{ "source_tree", env->source_tree },
		{ "install_tree", env->install_tree },
		{ "module", env->module },
		{ "module_version", env->module_version },
	};

	for (size_t i = 0; i < ELEMENTSOF(pairs); i++)
		if (pairs[i][1])
			dkm_shvars_set(v, pairs[i][0], 0, pairs[i][1], false);
}

const char *dkm_conf_env_value(const struct dkm_conf_env *env, const char *name)
{
	if (streq(name, "kernelver"))
		return env->kernelver;
	if (streq(name, "arch"))
		return env->arch;
	if (streq(name, "kernel_source_dir"))
		return env->kernel_source_dir;
	if (streq(name, "dkms_tree"))
		return env->dkms_tree;
	if (streq(name, "source_tree"))
		return env->source_tree;
	if (streq(name, "install_tree"))
		return env->install_tree;
	if (streq(name, "module"))
		return env->module;
	if (streq(name, "module_version"))
		return env->module_version;
	return NULL;
}

bool dkm_conf_env_is_var(const char *name)
{
	static const char *const names[] = { "kernelver", "arch",	   "kernel_source_dir",
					     "dkms_tree", "source_tree",   "install_tree",
					     "module",	  "module_version" };

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(name, names[i]))
			return true;
	return false;
}

/* DKMS removes one trailing CR from every value it reads back (dkms 3.0.11+, safe_source). */
static void strip_trailing_cr(struct dkm_shvars *v)
{
	for (size_t i = 0; i < v->n_vars; i++)
		for (size_t k = 0; k < v->vars[i].n_elems; k++) {
			char *s = v->vars[i].elems[k].value;
			size_t n = strlen(s);

			if (n > 0 && s[n - 1] == '\r')
				s[n - 1] = '\0';
		}
}

/* DKMS's per-system overrides, sourced after the package's dkms.conf in this order (its
 * read_conf): /etc/dkms/<module>.conf, <module>-<version>.conf, <module>-<version>-<kernel>.conf,
 * <module>-<version>-<kernel>-<arch>.conf (under the root). Read like the file itself, as if
 * appended to it: later assignments win, array elements one by one. */
static int append_overrides(struct dkm_ctx *ctx, const struct dkm_conf_env *env, char **text)
{
	char *f[4] = { NULL };
	int r = 0;

	if (!env->module || !env->module_version || !env->kernelver || !env->arch)
		return 0;
	f[0] = dkm_ctx_pathf(ctx, "/etc/dkms/%s.conf", env->module);
	f[1] = dkm_ctx_pathf(ctx, "/etc/dkms/%s-%s.conf", env->module, env->module_version);
	f[2] = dkm_ctx_pathf(ctx, "/etc/dkms/%s-%s-%s.conf", env->module, env->module_version,
			     env->kernelver);
	f[3] = dkm_ctx_pathf(ctx, "/etc/dkms/%s-%s-%s-%s.conf", env->module, env->module_version,
			     env->kernelver, env->arch);
	for (size_t i = 0; i < ELEMENTSOF(f); i++) {
		_cleanup_free_ char *more = NULL;
		char *joined;

		if (r < 0 || !path_exists(f[i]))
			continue;
		r = read_text(ctx, f[i], &more);
		if (r < 0)
			continue;
		dkm_debug(ctx, "applying DKMS override '%s'", f[i]);
		joined = xasprintf("%s\n%s\n", *text, more);
		free(*text);
		*text = joined;
	}
	for (size_t i = 0; i < ELEMENTSOF(f); i++)
		free(f[i]);
	return r;
}

int dkm_conf_read_vars(struct dkm_ctx *ctx, const char *path, const struct dkm_conf_env *env,
		       struct dkm_shvars **ret_vars, bool *ret_needed_shell)
{
	_cleanup_free_ char *text = NULL;
	struct dkm_shvars *v = NULL;
	struct dkm_shvars_status st;
	int r;

	r = check_file(ctx, path);
	if (r < 0)
		return r;
	r = read_text(ctx, path, &text);
	if (r < 0)
		return r;
	r = append_overrides(ctx, env, &text);
	if (r < 0)
		return r;
	v = dkm_shvars_new();
	env_preset(v, env);
	r = dkm_shvars_parse(v, text, &st);
	if (r == -EINVAL) {
		dkm_shvars_free(v);
		return invalid(ctx, path, "line %u: %s: must be a shell fragment of assignments",
			       st.line, st.what);
	}
	if (r == -EOPNOTSUPP) {
		dkm_shvars_free(v);
		dkm_debug(ctx, "'%s' line %u: %s: evaluating it with a sandboxed shell", path,
			  st.line, st.what);
		r = dkm_conf_shell_eval(ctx, path, text, env, &v);
		if (r < 0)
			return r;
	} else if (r < 0) {
		dkm_shvars_free(v);
		return dkm_err(ctx, r, "cannot parse dkms.conf: '%s': %s", path, strerror(-r));
	}
	strip_trailing_cr(v);
	*ret_vars = v;
	if (ret_needed_shell)
		*ret_needed_shell = st.needs_shell;
	return 0;
}

/* ---- validation and resolution ---- */

struct reader {
	struct dkm_ctx *ctx;
	const char *path;
	const struct dkm_shvars *v;
	const char *kernelver;
};

static const char *get(const struct reader *rd, const char *name, unsigned long i)
{
	const char *s = dkm_shvars_get(rd->v, name, i);

	return isempty(s) ? NULL : s;
}

static char *dup_or_null(const char *s)
{
	return isempty(s) ? NULL : xstrdup(s);
}

/* Every directive value must be text; names go through check_name() on top. */
static int check_utf8(const struct reader *rd)
{
	for (size_t d = 0; dkm_conf_directives[d]; d++) {
		const struct dkm_shvar *var = dkm_shvars_find(rd->v, dkm_conf_directives[d]);

		for (size_t k = 0; var && k < var->n_elems; k++) {
			const char *s = var->elems[k].value;

			if (dkm_utf8_invalid_at(s, strlen(s)) != (size_t)-1)
				return invalid(rd->ctx, rd->path,
					       "%s[%lu]: not valid UTF-8: must be text", var->name,
					       var->elems[k].index);
		}
	}
	return 0;
}

/* Names become path components and words on command lines (depmod, modprobe, dracut's
 * instmods, the shell completion): package names, versions and module names follow the one
 * rule of lib/kernel.c (letters, digits, '._+-~'; what 30 of 30 Debian packages use), so that a
 * name can never be an option, a glob or shell code. PATCH names a file in the source: there
 * only the path rule applies. */
static int check_name(const struct reader *rd, const char *directive, unsigned long i,
		      const char *value, const char *example)
{
	const char *problem;
	char buf[64];

	if (isempty(value))
		return invalid(rd->ctx, rd->path, "%s[%lu] is empty: must be a name such as '%s'",
			       directive, i, example);
	if (!name_is_valid(value) || strchr(value, ' ') || strchr(value, '\t'))
		return invalid(
			rd->ctx, rd->path,
			"%s[%lu]='%s': must be a name without '/', '..', blanks or control characters, such as '%s'",
			directive, i, value, example);
	if (streq(directive, "PATCH"))
		return 0;
	problem = dkm_name_problem(value, buf);
	if (problem)
		return invalid(rd->ctx, rd->path,
			       "%s[%lu]='%s': %s: must be a name of " DKM_NAME_RULE
			       ", such as '%s'",
			       directive, i, value, problem, example);
	return 0;
}

/* glibc's regcomp() expands repetition by copying the repeated subexpression (a{2,5} becomes
 * five copies, a+ becomes aa*), so stacked or nested repetition costs exponential time and
 * memory: a 40-byte "a++++…" or "((a{0,255}){0,255}){0,255}" in a dkms.conf would hold the
 * privileged parent for minutes and take gigabytes. Refuse stacked repetition outright, estimate
 * the size of the expanded expression (in nodes; an upper bound is enough) and refuse anything
 * no version pattern needs. Found by the conf fuzz target (tests/fuzz/regressions/conf/regex-*). */
#define ERE_MAX_EXPANDED 1000UL
#define ERE_MAX_DEPTH 32

static unsigned long ere_expanded_size(const char *re)
{
	unsigned long seq[ERE_MAX_DEPTH + 1] = { 0 }, alt[ERE_MAX_DEPTH + 1] = { 0 };
	unsigned long last[ERE_MAX_DEPTH + 1] = { 0 };
	bool after_dup = false;
	int d = 0;

	for (const char *p = re; *p; p++) {
		unsigned long item = 0, factor = 0;

		switch (*p) {
		case '\\':
			if (p[1])
				p++;
			item = 1;
			break;
		case '[':
			/* a bracket expression is one node: skip to its closing ']' */
			p += p[1] == '^' ? 2 : 1;
			if (*p == ']')
				p++;
			while (*p && *p != ']') {
				if (*p == '[' && p[1] && strchr(":.=", p[1])) {
					const char *e = strchr(p + 2, p[1]);

					p = e && e[1] == ']' ? e + 1 : p;
				}
				p++;
			}
			if (!*p)
				return 1; /* unterminated: regcomp says so */
			item = 1;
			break;
		case '(':
			if (d == ERE_MAX_DEPTH)
				return ULONG_MAX;
			d++;
			seq[d] = alt[d] = last[d] = 0;
			after_dup = false;
			continue;
		case ')':
			if (d == 0) {
				item = 1;
				break;
			}
			item = alt[d] + seq[d] + 1;
			d--;
			break;
		case '|':
			alt[d] += seq[d];
			seq[d] = last[d] = 0;
			after_dup = false;
			continue;
		case '*':
		case '?':
		case '+':
			/* '+' is copied once; '*' and '?' are not, but their epsilon closures cost
			 * as much further up */
			factor = 2;
			break;
		case '{': {
			char *end;
			unsigned long lo = strtoul(p + 1, &end, 10), hi = lo;

			if (end == p + 1 || !strchr(",}", *end)) {
				item = 1; /* not a bound: a literal '{' */
				break;
			}
			if (*end == ',') {
				const char *q = end + 1;

				hi = *q == '}' ? lo + 1 : strtoul(q, &end, 10);
			}
			if (*end != '}')
				return 1; /* malformed bound: regcomp says so */
			p = end;
			factor = (hi > lo ? hi : lo) + 1;
			break;
		}
		default:
			item = 1;
		}
		if (factor) {
			/* a repetition of a repetition ("a**", "a+{3}", "x{2}{5}") is undefined in
			 * POSIX, never needed, and what makes regcomp explode: refused outright */
			if (after_dup)
				return ULONG_MAX;
			after_dup = true;
			/* the repetition applies to the last item */
			if (factor > ERE_MAX_EXPANDED || last[d] > ERE_MAX_EXPANDED / factor)
				return ULONG_MAX;
			seq[d] += last[d] * (factor - 1);
			last[d] *= factor;
		} else {
			after_dup = false;
			seq[d] += item;
			last[d] = item;
		}
		if (seq[d] + alt[d] > ERE_MAX_EXPANDED)
			return ULONG_MAX;
	}
	return seq[0] + alt[0];
}

static int check_regex(const struct reader *rd, const char *directive, unsigned long i,
		       const char *re)
{
	regex_t rx;
	int k;

	if (ere_expanded_size(re) > ERE_MAX_EXPANDED)
		return invalid(
			rd->ctx, rd->path,
			"%s[%lu]='%s': the regular expression repeats too much (stacked or nested repetition): must be a short POSIX ERE such as '^6\\.'",
			directive, i, re);
	k = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
	if (k != 0) {
		char err[128];

		regerror(k, &rx, err, sizeof(err));
		return invalid(
			rd->ctx, rd->path,
			"%s[%lu]='%s': invalid extended regular expression (%s): must be a POSIX ERE such as '^6\\.'",
			directive, i, re, err);
	}
	regfree(&rx);
	return 0;
}

static int regex_matches(const char *re, const char *s)
{
	regex_t rx;
	int k;

	if (ere_expanded_size(re) > ERE_MAX_EXPANDED ||
	    regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
		return -EINVAL;
	k = regexec(&rx, s, 0, NULL, 0);
	regfree(&rx);
	return k == 0;
}

/* yes/no as DKMS writes them; DKMS itself takes any non-empty value as "yes" (so "no"
 * would mean yes there): we refuse what is neither, rather than guess. */
static int parse_bool(const struct reader *rd, const char *directive, bool *ret)
{
	static const char *const yes[] = { "yes", "y", "true", "1", "on" };
	static const char *const no[] = { "no", "n", "false", "0", "off" };
	const char *s = get(rd, directive, 0);

	if (!s) {
		*ret = false;
		return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(yes); i++)
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
	for (size_t i = 0; i < ELEMENTSOF(no); i++)
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	return invalid(rd->ctx, rd->path, "%s[0]='%s': must be yes or no", directive, s);
}

/* Normalise a relative or absolute path: no "..", collapse "//", drop "." and trailing '/'. */
static int clean_path(const char *s, char **ret)
{
	_cleanup_free_ char *o = xmalloc(strlen(s) + 2);
	size_t n = 0;
	const char *p = s;

	if (*p == '/')
		o[n++] = '/';
	while (*p) {
		size_t k;

		while (*p == '/')
			p++;
		k = strcspn(p, "/");
		if (k == 0)
			break;
		if (k == 2 && strneq(p, "..", 2))
			return -EINVAL;
		if (!(k == 1 && *p == '.')) {
			if (n > 0 && o[n - 1] != '/')
				o[n++] = '/';
			memcpy(o + n, p, k);
			n += k;
		}
		p += k;
	}
	o[n] = '\0';
	*ret = TAKE_PTR(o);
	return 0;
}

static int read_modules(const struct reader *rd, struct dkm_conf *c)
{
	static const char *const arrays[] = { "BUILT_MODULE_NAME", "BUILT_MODULE_LOCATION",
					      "DEST_MODULE_NAME", "DEST_MODULE_LOCATION" };
	unsigned long n = 0, strip_len;
	int r;

	for (size_t a = 0; a < ELEMENTSOF(arrays); a++)
		if (dkm_shvars_length(rd->v, arrays[a]) > n)
			n = dkm_shvars_length(rd->v, arrays[a]);
	if (n == 0)
		return invalid(
			rd->ctx, rd->path,
			"BUILT_MODULE_NAME[0] and DEST_MODULE_LOCATION[0] are not set: a package must list at least one module, e.g. DEST_MODULE_LOCATION[0]=\"/updates/dkms\"");
	strip_len = dkm_shvars_length(rd->v, "STRIP");
	if (strip_len > n)
		return invalid(
			rd->ctx, rd->path,
			"STRIP[%lu] is set but there is no module %lu: STRIP[i] belongs to BUILT_MODULE_NAME[i]",
			strip_len - 1, strip_len - 1);

	c->modules = xcalloc(n, sizeof(struct dkm_conf_module));
	c->n_modules = n;
	for (unsigned long i = 0; i < n; i++) {
		struct dkm_conf_module *m = &c->modules[i];
		const char *built = get(rd, "BUILT_MODULE_NAME", i);
		const char *bloc = get(rd, "BUILT_MODULE_LOCATION", i);
		const char *dest = get(rd, "DEST_MODULE_NAME", i);
		const char *dloc = get(rd, "DEST_MODULE_LOCATION", i);
		const char *strip = get(rd, "STRIP", i);

		if (!built && n == 1)
			built = c->package_name;
		if (!built) {
			const char *other = NULL;

			for (size_t a = 1; a < ELEMENTSOF(arrays) && !other; a++)
				if (dkm_shvars_get(rd->v, arrays[a], i))
					other = arrays[a];
			if (other)
				return invalid(
					rd->ctx, rd->path,
					"BUILT_MODULE_NAME[%lu] is not set but %s[%lu] is: with several modules each index needs BUILT_MODULE_NAME[i], e.g. BUILT_MODULE_NAME[%lu]=\"mymod\"",
					i, other, i, i);
			for (size_t a = 0; a < ELEMENTSOF(arrays) && !other; a++)
				if (dkm_shvars_get(rd->v, arrays[a], n - 1))
					other = arrays[a];
			return invalid(
				rd->ctx, rd->path,
				"BUILT_MODULE_NAME[%lu] is not set but %s[%lu] is: module indices must be contiguous from 0",
				i, other, n - 1);
		}
		r = check_name(rd, "BUILT_MODULE_NAME", i, built, "mymod");
		if (r < 0)
			return r;
		if (endswith(built, ".ko") || endswith(built, ".o"))
			return invalid(
				rd->ctx, rd->path,
				"BUILT_MODULE_NAME[%lu]='%s': must be given without the .ko/.o suffix",
				i, built);
		m->built_name = xstrdup(built);

		if (dest) {
			r = check_name(rd, "DEST_MODULE_NAME", i, dest, m->built_name);
			if (r < 0)
				return r;
			if (endswith(dest, ".ko") || endswith(dest, ".o"))
				return invalid(
					rd->ctx, rd->path,
					"DEST_MODULE_NAME[%lu]='%s': must be given without the .ko/.o suffix",
					i, dest);
		}
		m->dest_name = xstrdup(dest ?: built);

		if (bloc && (bloc[0] == '/' || has_control(bloc) ||
			     clean_path(bloc, &m->built_location) < 0))
			return invalid(
				rd->ctx, rd->path,
				"BUILT_MODULE_LOCATION[%lu]='%s': must be a relative directory inside the build dir, without '..', e.g. \"src/\"",
				i, bloc);
		if (!m->built_location)
			m->built_location = xstrdup("");

		if (!dloc)
			return invalid(
				rd->ctx, rd->path,
				"DEST_MODULE_LOCATION[%lu] is not set: must start with /kernel, /updates or /extra",
				i);
		/* DKMS's rule is the prefix only ("/kernel*", "/updates*", "/extra*":
		 * "/updates-dkms-test" is fine); the cleaned path must keep it, and no '..' */
		if (!(startswith(dloc, "/kernel") || startswith(dloc, "/updates") ||
		      startswith(dloc, "/extra")) ||
		    has_control(dloc) || clean_path(dloc, &m->dest_location) < 0 ||
		    !(startswith(m->dest_location, "/kernel") ||
		      startswith(m->dest_location, "/updates") ||
		      startswith(m->dest_location, "/extra")))
			return invalid(
				rd->ctx, rd->path,
				"DEST_MODULE_LOCATION[%lu]='%s': must start with /kernel, /updates or /extra and not contain '..'",
				i, dloc);

		if (!strip)
			m->strip = i == 0 ? true : c->modules[0].strip;
		else if (strchr("yY", strip[0]))
			m->strip = true;
		else if (strchr("nN", strip[0]))
			m->strip = false;
		else
			return invalid(rd->ctx, rd->path, "STRIP[%lu]='%s': must be yes or no", i,
				       strip);

		for (unsigned long k = 0; k < i; k++) {
			if (streq(c->modules[k].built_name, m->built_name))
				return invalid(
					rd->ctx, rd->path,
					"BUILT_MODULE_NAME[%lu]='%s': same module as BUILT_MODULE_NAME[%lu]: each module must be listed once",
					i, m->built_name, k);
			if (streq(c->modules[k].dest_name, m->dest_name))
				return invalid(
					rd->ctx, rd->path,
					"DEST_MODULE_NAME[%lu]='%s': same installed name as module %lu: installed names must be unique",
					i, m->dest_name, k);
		}
	}
	return 0;
}

/* Walk every set index of an array directive. */
#define FOREACH_ELEM(rd, name, e)                                                                  \
	for (const struct dkm_shvar *_v = dkm_shvars_find((rd)->v, (name)); _v; _v = NULL)         \
		for (const struct dkm_shelem *e = _v->elems; e < _v->elems + _v->n_elems; e++)

static int check_matches(const struct reader *rd)
{
	static const char *const names[] = { "MAKE_MATCH", "PATCH_MATCH" };
	const char *s;
	int r;

	for (size_t k = 0; k < ELEMENTSOF(names); k++)
		FOREACH_ELEM(rd, names[k], e)
		{
			if (isempty(e->value))
				continue;
			r = check_regex(rd, names[k], e->index, e->value);
			if (r < 0)
				return r;
		}
	s = get(rd, "BUILD_EXCLUSIVE_KERNEL", 0);
	if (s && (r = check_regex(rd, "BUILD_EXCLUSIVE_KERNEL", 0, s)) < 0)
		return r;
	s = get(rd, "BUILD_EXCLUSIVE_ARCH", 0);
	if (s && (r = check_regex(rd, "BUILD_EXCLUSIVE_ARCH", 0, s)) < 0)
		return r;
	return 0;
}

/* MAKE: MAKE[0] unless MAKE_MATCH[0] is set; then every index whose MAKE_MATCH matches the
 * kernel version overrides it, the last match wins (dkms read_conf). */
static void select_make(const struct reader *rd, struct dkm_conf *c)
{
	const char *make = get(rd, "MAKE_MATCH", 0) ? NULL : get(rd, "MAKE", 0);

	FOREACH_ELEM(rd, "MAKE", e)
	{
		const char *match = get(rd, "MAKE_MATCH", e->index);

		if (!isempty(e->value) && match && regex_matches(match, rd->kernelver) > 0)
			make = e->value;
	}
	c->make = dup_or_null(make);
}

/* PATCH[i]: a file below patches/, in a subdirectory too ("subdir/fix.patch", as DKMS's own
 * test package has it); never absolute, never a '..' component (DKMS refuses those since
 * 3.0.11), every component a name of the PATCH rule. */
static int check_patch_path(const struct reader *rd, unsigned long i, const char *value)
{
	_cleanup_free_ char *copy = NULL;
	char *save = NULL;

	if (isempty(value) || !strchr(value, '/'))
		return check_name(rd, "PATCH", i, value, "fix-build.patch");
	if (value[0] == '/')
		return invalid(
			rd->ctx, rd->path,
			"PATCH[%lu]='%s': must be a path relative to the package's patches/ directory, not an absolute one, such as 'fix-build.patch' or 'subdir/fix-build.patch'",
			i, value);
	copy = xstrdup(value);
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save))
		if (!name_is_valid(c) || strchr(c, ' ') || strchr(c, '\t'))
			return invalid(
				rd->ctx, rd->path,
				"PATCH[%lu]='%s': must be a path below the package's patches/ directory without '..' components, blanks or control characters, such as 'subdir/fix-build.patch'",
				i, value);
	if (endswith(value, "/"))
		return invalid(
			rd->ctx, rd->path,
			"PATCH[%lu]='%s': names a directory: must name a patch file below patches/, such as 'subdir/fix-build.patch'",
			i, value);
	return 0;
}

static int select_patches(const struct reader *rd, struct dkm_conf *c)
{
	c->patches = xcalloc(1, sizeof(char *));
	FOREACH_ELEM(rd, "PATCH", e)
	{
		const char *match = get(rd, "PATCH_MATCH", e->index);
		int r;

		if (isempty(e->value))
			continue;
		r = check_patch_path(rd, e->index, e->value);
		if (r < 0)
			return r;
		if (!match || regex_matches(match, rd->kernelver) > 0)
			strv_extend(&c->patches, e->value);
	}
	return 0;
}

static int read_build_depends(const struct reader *rd, struct dkm_conf *c)
{
	c->build_depends = xcalloc(1, sizeof(char *));
	FOREACH_ELEM(rd, "BUILD_DEPENDS", e)
	{
		_cleanup_strv_free_ char **names = strv_split(e->value, " \t\n");

		for (size_t i = 0; names && names[i]; i++) {
			int r = check_name(rd, "BUILD_DEPENDS", e->index, names[i], "other-module");

			if (r < 0)
				return r;
			strv_extend(&c->build_depends, names[i]);
		}
	}
	return 0;
}

static int read_exclusive_config(const struct reader *rd, struct dkm_conf *c)
{
	const char *s = get(rd, "BUILD_EXCLUSIVE_CONFIG", 0);
	_cleanup_strv_free_ char **items = s ? strv_split(s, " \t\n") : NULL;

	c->build_exclusive_config = xcalloc(1, sizeof(char *));
	for (size_t i = 0; items && items[i]; i++) {
		const char *p = items[i] + (items[i][0] == '!');
		bool ok = startswith(p, "CONFIG_") && p[7];

		for (const char *q = p; ok && *q; q++)
			ok = isalnum((unsigned char)*q) || *q == '_';
		if (!ok)
			return invalid(
				rd->ctx, rd->path,
				"BUILD_EXCLUSIVE_CONFIG[0]='%s': '%s' must be CONFIG_X or !CONFIG_X, separated by blanks",
				s, items[i]);
		strv_extend(&c->build_exclusive_config, items[i]);
	}
	return 0;
}

/* PRE_BUILD and friends: "script [args]" run from the build or source dir. */
static int read_script(const struct reader *rd, const char *directive, char **ret)
{
	const char *s = get(rd, directive, 0);
	_cleanup_free_ char *first = NULL, *clean = NULL;

	if (!s) {
		*ret = NULL;
		return 0;
	}
	first = xstrndup(s, strcspn(s, " \t\n"));
	if (first[0] == '/' || clean_path(first, &clean) < 0 || isempty(clean))
		return invalid(
			rd->ctx, rd->path,
			"%s[0]='%s': must name a script inside the package, relative and without '..', e.g. \"./configure\"",
			directive, s);
	*ret = xstrdup(s);
	return 0;
}

int dkm_conf_from_vars(struct dkm_ctx *ctx, const char *path, const struct dkm_shvars *vars,
		       const struct dkm_conf_env *env, struct dkm_conf **ret)
{
	_cleanup_conf_ struct dkm_conf *c = xcalloc(1, sizeof(struct dkm_conf));
	struct reader rd = { ctx, path, vars, strempty(env->kernelver) };
	const char *name = get(&rd, "PACKAGE_NAME", 0), *version = get(&rd, "PACKAGE_VERSION", 0);
	int r;

	c->path = xstrdup(path);
	r = check_utf8(&rd);
	if (r < 0)
		return r;
	if (!name)
		return invalid(
			ctx, path,
			"PACKAGE_NAME is not set: it must name the package, e.g. PACKAGE_NAME=\"mydriver\"");
	if ((r = check_name(&rd, "PACKAGE_NAME", 0, name, "mydriver")) < 0)
		return r;
	if (!version)
		return invalid(
			ctx, path,
			"PACKAGE_VERSION is not set: it must give the version, e.g. PACKAGE_VERSION=\"1.0\"");
	if ((r = check_name(&rd, "PACKAGE_VERSION", 0, version, "1.0")) < 0)
		return r;
	c->package_name = xstrdup(name);
	c->package_version = xstrdup(version);

	if ((r = read_modules(&rd, c)) < 0 || (r = check_matches(&rd)) < 0 ||
	    (r = select_patches(&rd, c)) < 0 || (r = read_build_depends(&rd, c)) < 0 ||
	    (r = read_exclusive_config(&rd, c)) < 0)
		return r;
	select_make(&rd, c);
	c->clean = dup_or_null(get(&rd, "CLEAN", 0));

	if ((r = parse_bool(&rd, "AUTOINSTALL", &c->autoinstall)) < 0 ||
	    (r = parse_bool(&rd, "NO_WEAK_MODULES", &c->no_weak_modules)) < 0 ||
	    (r = parse_bool(&rd, "REMAKE_INITRD", &c->remake_initrd)) < 0)
		return r;

	c->build_exclusive_kernel = dup_or_null(get(&rd, "BUILD_EXCLUSIVE_KERNEL", 0));
	c->build_exclusive_kernel_min = dup_or_null(get(&rd, "BUILD_EXCLUSIVE_KERNEL_MIN", 0));
	c->build_exclusive_kernel_max = dup_or_null(get(&rd, "BUILD_EXCLUSIVE_KERNEL_MAX", 0));
	c->build_exclusive_arch = dup_or_null(get(&rd, "BUILD_EXCLUSIVE_ARCH", 0));
	c->obsolete_by = dup_or_null(get(&rd, "OBSOLETE_BY", 0));

	if ((r = read_script(&rd, "PRE_BUILD", &c->pre_build)) < 0 ||
	    (r = read_script(&rd, "POST_BUILD", &c->post_build)) < 0 ||
	    (r = read_script(&rd, "POST_ADD", &c->post_add)) < 0 ||
	    (r = read_script(&rd, "PRE_INSTALL", &c->pre_install)) < 0 ||
	    (r = read_script(&rd, "POST_INSTALL", &c->post_install)) < 0 ||
	    (r = read_script(&rd, "POST_REMOVE", &c->post_remove)) < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

int dkm_conf_read(struct dkm_ctx *ctx, const char *path, const struct dkm_conf_env *env,
		  struct dkm_conf **ret)
{
	struct dkm_shvars *vars = NULL;
	struct dkm_conf *c;
	bool shell = false;
	int r;

	r = dkm_conf_read_vars(ctx, path, env, &vars, &shell);
	if (r < 0)
		return r;
	r = dkm_conf_from_vars(ctx, path, vars, env, &c);
	dkm_shvars_free(vars);
	if (r < 0)
		return r;
	c->needed_shell = shell;
	*ret = c;
	return 0;
}

struct dkm_conf *dkm_conf_free(struct dkm_conf *c)
{
	if (!c)
		return NULL;
	free(c->path);
	free(c->package_name);
	free(c->package_version);
	for (size_t i = 0; i < c->n_modules; i++) {
		free(c->modules[i].built_name);
		free(c->modules[i].built_location);
		free(c->modules[i].dest_name);
		free(c->modules[i].dest_location);
	}
	free(c->modules);
	free(c->make);
	free(c->clean);
	strv_free(c->patches);
	strv_free(c->build_depends);
	free(c->build_exclusive_kernel);
	free(c->build_exclusive_kernel_min);
	free(c->build_exclusive_kernel_max);
	free(c->build_exclusive_arch);
	strv_free(c->build_exclusive_config);
	free(c->pre_build);
	free(c->post_build);
	free(c->post_add);
	free(c->pre_install);
	free(c->post_install);
	free(c->post_remove);
	free(c->obsolete_by);
	free(c);
	return NULL;
}

/* ---- exclusion ---- */

/* dkms VER(): pad every run of digits to at least three digits, then compare as strings. */
static char *dkms_ver(const char *s)
{
	char *o = xmalloc(strlen(s) * 3 + 1), *q = o;

	while (*s) {
		if (isdigit((unsigned char)*s)) {
			size_t k = strspn(s, "0123456789");

			for (size_t pad = k; pad < 3; pad++)
				*q++ = '0';
			memcpy(q, s, k);
			q += k;
			s += k;
		} else {
			*q++ = *s++;
		}
	}
	*q = '\0';
	return o;
}

int dkm_conf_ver_compare(const char *a, const char *b)
{
	_cleanup_free_ char *va = dkms_ver(a), *vb = dkms_ver(b);
	int c = strcmp(va, vb);

	return c < 0 ? -1 : c > 0;
}

/* 1 if CONFIG_X=y or =m in the kernel config, 0 if not, -errno. */
static int kconfig_has(FILE *f, const char *sym)
{
	char line[4096];
	size_t n = strlen(sym);

	rewind(f);
	while (fgets(line, sizeof(line), f))
		if (strneq(line, sym, n) && line[n] == '=' &&
		    (line[n + 1] == 'y' || line[n + 1] == 'm'))
			return 1;
	return ferror(f) ? -EIO : 0;
}

int dkm_conf_excluded(const struct dkm_conf *conf, const char *kernelver, const char *arch,
		      const char *kconfig_path, char **ret_reason)
{
	_cleanup_fclose_ FILE *f = NULL;
	int r;

	if (conf->build_exclusive_kernel) {
		r = regex_matches(conf->build_exclusive_kernel, kernelver);
		if (r < 0)
			return r;
		if (r == 0) {
			*ret_reason = xasprintf("BUILD_EXCLUSIVE_KERNEL='%s' does not match %s",
						conf->build_exclusive_kernel, kernelver);
			return 1;
		}
	}
	if (conf->build_exclusive_kernel_min &&
	    dkm_conf_ver_compare(kernelver, conf->build_exclusive_kernel_min) < 0) {
		*ret_reason = xasprintf("BUILD_EXCLUSIVE_KERNEL_MIN=%s > %s",
					conf->build_exclusive_kernel_min, kernelver);
		return 1;
	}
	if (conf->build_exclusive_kernel_max &&
	    dkm_conf_ver_compare(kernelver, conf->build_exclusive_kernel_max) > 0) {
		*ret_reason = xasprintf("BUILD_EXCLUSIVE_KERNEL_MAX=%s < %s",
					conf->build_exclusive_kernel_max, kernelver);
		return 1;
	}
	if (conf->build_exclusive_arch) {
		r = regex_matches(conf->build_exclusive_arch, arch);
		if (r < 0)
			return r;
		if (r == 0) {
			*ret_reason = xasprintf("BUILD_EXCLUSIVE_ARCH='%s' does not match %s",
						conf->build_exclusive_arch, arch);
			return 1;
		}
	}
	if (strv_length(conf->build_exclusive_config) == 0 || !kconfig_path)
		return 0;
	f = fopen(kconfig_path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno; /* like DKMS: no config, no check */
	for (size_t i = 0; conf->build_exclusive_config[i]; i++) {
		const char *item = conf->build_exclusive_config[i];
		bool negate = item[0] == '!';

		r = kconfig_has(f, item + negate);
		if (r < 0)
			return r;
		if (r == negate) {
			*ret_reason =
				xasprintf("BUILD_EXCLUSIVE_CONFIG: %s is %s in '%s'", item + negate,
					  negate ? "set" : "not set", kconfig_path);
			return 1;
		}
	}
	return 0;
}

/* ---- dumps (conf-dump, debugging) ---- */

static bool is_directive(const char *name)
{
	for (size_t i = 0; dkm_conf_directives[i]; i++)
		if (streq(name, dkm_conf_directives[i]))
			return true;
	return false;
}

/* A predefined variable the file left as it was is not "assigned by the file". */
static bool is_untouched_env(const struct dkm_shvar *var, const struct dkm_conf_env *env)
{
	const char *want;

	if (!dkm_conf_env_is_var(var->name))
		return false;
	want = dkm_conf_env_value(env, var->name);
	if (!want)
		return var->n_elems == 0;
	return var->n_elems == 1 && var->elems[0].index == 0 && streq(var->elems[0].value, want);
}

int dkm_conf_dump_raw(const struct dkm_shvars *v, const struct dkm_conf_env *env, FILE *f)
{
	for (size_t i = 0; i < v->n_vars; i++) {
		const struct dkm_shvar *var = &v->vars[i];

		if (is_untouched_env(var, env))
			continue;
		if (!var->assigned && !is_directive(var->name) && !dkm_conf_env_is_var(var->name))
			continue;
		for (size_t k = 0; k < var->n_elems; k++) {
			_cleanup_free_ char *line =
				dkm_shvars_format(var->name, var->elems[k].index,
						  var->elems[k].value);

			if (fprintf(f, "%s\n", line) < 0)
				return -EIO;
		}
	}
	return 0;
}
