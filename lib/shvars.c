/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The no-exec dkms.conf parser: assignments, quoting and plain variable expansion with bash
 * semantics. See docs/dkms-conf-evaluation.md for what is accepted and what is handed over
 * to the sandboxed shell. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shvars.h"
#include "util.h"

/* ---- the variable table ---- */

struct dkm_shvars *dkm_shvars_new(void)
{
	return xcalloc(1, sizeof(struct dkm_shvars));
}

static void shvar_clear(struct dkm_shvar *var)
{
	for (size_t i = 0; i < var->n_elems; i++)
		free(var->elems[i].value);
	free(var->elems);
	var->elems = NULL;
	var->n_elems = 0;
}

struct dkm_shvars *dkm_shvars_free(struct dkm_shvars *v)
{
	if (!v)
		return NULL;
	for (size_t i = 0; i < v->n_vars; i++) {
		shvar_clear(&v->vars[i]);
		free(v->vars[i].name);
	}
	free(v->vars);
	free(v);
	return NULL;
}

/* Binary search; returns the position where name is or would be inserted. */
static size_t find_pos(const struct dkm_shvars *v, const char *name, bool *ret_found)
{
	size_t lo = 0, hi = v->n_vars;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(v->vars[mid].name, name);

		if (c == 0) {
			*ret_found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*ret_found = false;
	return lo;
}

const struct dkm_shvar *dkm_shvars_find(const struct dkm_shvars *v, const char *name)
{
	bool found;
	size_t pos = find_pos(v, name, &found);

	return found ? &v->vars[pos] : NULL;
}

static struct dkm_shvar *shvars_get_or_add(struct dkm_shvars *v, const char *name)
{
	bool found;
	size_t pos = find_pos(v, name, &found);

	if (found)
		return &v->vars[pos];
	v->vars = xrealloc(v->vars, (v->n_vars + 1) * sizeof(struct dkm_shvar));
	memmove(&v->vars[pos + 1], &v->vars[pos], (v->n_vars - pos) * sizeof(struct dkm_shvar));
	v->n_vars++;
	v->vars[pos] = (struct dkm_shvar){ .name = xstrdup(name) };
	return &v->vars[pos];
}

const char *dkm_shvars_get(const struct dkm_shvars *v, const char *name, unsigned long index)
{
	const struct dkm_shvar *var = dkm_shvars_find(v, name);

	if (!var)
		return NULL;
	for (size_t i = 0; i < var->n_elems; i++)
		if (var->elems[i].index == index)
			return var->elems[i].value;
	return NULL;
}

void dkm_shvars_set(struct dkm_shvars *v, const char *name, unsigned long index, const char *value,
		    bool assigned)
{
	struct dkm_shvar *var = shvars_get_or_add(v, name);
	size_t pos = 0;

	var->assigned = var->assigned || assigned;
	while (pos < var->n_elems && var->elems[pos].index < index)
		pos++;
	if (pos < var->n_elems && var->elems[pos].index == index) {
		char *old = var->elems[pos].value;

		var->elems[pos].value = xstrdup(value);
		free(old);
		return;
	}
	var->elems = xrealloc(var->elems, (var->n_elems + 1) * sizeof(struct dkm_shelem));
	memmove(&var->elems[pos + 1], &var->elems[pos],
		(var->n_elems - pos) * sizeof(struct dkm_shelem));
	var->n_elems++;
	var->elems[pos] = (struct dkm_shelem){ .index = index, .value = xstrdup(value) };
}

void dkm_shvars_clear(struct dkm_shvars *v, const char *name, bool assigned)
{
	struct dkm_shvar *var = shvars_get_or_add(v, name);

	var->assigned = var->assigned || assigned;
	shvar_clear(var);
}

unsigned long dkm_shvars_length(const struct dkm_shvars *v, const char *name)
{
	const struct dkm_shvar *var = dkm_shvars_find(v, name);

	if (!var || var->n_elems == 0)
		return 0;
	return var->elems[var->n_elems - 1].index + 1;
}

static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

bool dkm_shvars_name_is_valid(const char *name)
{
	if (!name || !is_name_start(*name))
		return false;
	for (const char *p = name; *p; p++)
		if (!is_name_char(*p))
			return false;
	return true;
}

bool dkm_shvars_name_is_reserved(const char *name)
{
	static const char *const prefixes[] = { "BASH", "COMP_", "HIST", "READLINE_", "LC_" };
	static const char *const names[] = {
		"_",
		"CDPATH",
		"CHILD_MAX",
		"COLUMNS",
		"COPROC",
		"DIRSTACK",
		"EPOCHREALTIME",
		"EPOCHSECONDS",
		"EUID",
		"EXECIGNORE",
		"FCEDIT",
		"FIGNORE",
		"FUNCNAME",
		"FUNCNEST",
		"GLOBIGNORE",
		"GLOBSORT",
		"GROUPS",
		"HOME",
		"HOSTFILE",
		"HOSTNAME",
		"HOSTTYPE",
		"IFS",
		"IGNOREEOF",
		"INPUTRC",
		"INSIDE_EMACS",
		"LANG",
		"LINENO",
		"LINES",
		"MACHTYPE",
		"MAIL",
		"MAILCHECK",
		"MAILPATH",
		"OLDPWD",
		"OPTARG",
		"OPTERR",
		"OPTIND",
		"OSTYPE",
		"PATH",
		"PIPESTATUS",
		"POSIXLY_CORRECT",
		"PPID",
		"PROMPT_COMMAND",
		"PROMPT_DIRTRIM",
		"PS0",
		"PS1",
		"PS2",
		"PS3",
		"PS4",
		"PWD",
		"RANDOM",
		"REPLY",
		"SECONDS",
		"SHELL",
		"SHELLOPTS",
		"SHLVL",
		"SRANDOM",
		"TERM",
		"TIMEFORMAT",
		"TMOUT",
		"TMPDIR",
		"UID",
		"auto_resume",
		"histchars",
	};

	for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
		if (startswith(name, prefixes[i]))
			return true;
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(name, names[i]))
			return true;
	return false;
}

char *dkm_shvars_format(const char *name, unsigned long index, const char *value)
{
	size_t n = strlen(name) + strlen(value) * 4 + 32;
	char *s = xmalloc(n), *o;

	o = s + sprintf(s, "%s[%lu]=", name, index);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (*p == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (*p == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if (*p == '\r') {
			*o++ = '\\';
			*o++ = 'r';
		} else if (*p < 0x20 || *p == 0x7f) {
			o += sprintf(o, "\\x%02x", *p);
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return s;
}

/* ---- the parser ---- */

struct buf {
	char *s;
	size_t len, cap;
};

static void buf_putn(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void buf_putc(struct buf *b, char c)
{
	buf_putn(b, &c, 1);
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_putn(b, s, strlen(s));
}

static void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
	else
		buf_putn(b, "", 0);
}

static void buf_done(struct buf *b)
{
	free(b->s);
}

enum word_mode {
	WORD_ASSIGN,	      /* NAME=word: no word splitting, no globbing */
	WORD_COMPOUND,	      /* an element of NAME=( ... ): splitting and globbing would apply */
	WORD_COMPOUND_ASSIGN, /* [i]=word inside NAME=( ... ) */
};

struct parser {
	struct dkm_shvars *vars;
	const char *p;
	unsigned line;
	struct dkm_shvars_status *st;
};

static int report(struct parser *ps, int r, bool needs_shell, const char *fmt, ...) _printf_(4, 5);
static int report(struct parser *ps, int r, bool needs_shell, const char *fmt, ...)
{
	va_list ap;

	if (!ps->st)
		return r;
	ps->st->line = ps->line;
	ps->st->needs_shell = needs_shell;
	va_start(ap, fmt);
	vsnprintf(ps->st->what, sizeof(ps->st->what), fmt, ap);
	va_end(ap);
	return r;
}

#define need_shell(ps, ...) report((ps), -EOPNOTSUPP, true, __VA_ARGS__)
#define syntax_error(ps, ...) report((ps), -EINVAL, false, __VA_ARGS__)

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void skip_blanks(struct parser *ps)
{
	for (;;) {
		if (is_blank(*ps->p)) {
			ps->p++;
		} else if (ps->p[0] == '\\' && ps->p[1] == '\n') {
			ps->p += 2;
			ps->line++;
		} else {
			return;
		}
	}
}

static void skip_comment(struct parser *ps)
{
	while (*ps->p && *ps->p != '\n')
		ps->p++;
}

/* Does the word end here (for the purpose of a command word)? */
static bool is_word_end(char c)
{
	return c == '\0' || is_blank(c) || c == '\n' || c == ';';
}

static int lookup(struct parser *ps, const char *name, size_t n, const char *sub, size_t subn,
		  bool quoted, enum word_mode mode, struct buf *out);

/* Evaluate an array subscript: a number, $name, ${name} or a bare name (arithmetic context). */
static int eval_subscript(struct parser *ps, const char *s, size_t n, unsigned long *ret)
{
	_cleanup_free_ char *name = NULL;
	const char *val;
	char *end;
	unsigned long idx;

	while (n > 0 && is_blank(*s))
		s++, n--;
	while (n > 0 && is_blank(s[n - 1]))
		n--;
	if (n == 0)
		return syntax_error(ps, "empty array subscript");
	if (isdigit((unsigned char)*s)) {
		val = s;
	} else {
		const char *q = s, *qe = s + n;

		if (*q == '$') {
			q++;
			if (q < qe && *q == '{') {
				if (qe[-1] != '}')
					return need_shell(ps, "arithmetic array subscript '%.*s'",
							  (int)n, s);
				q++;
				qe--;
			}
		}
		if (q >= qe || !is_name_start(*q))
			return need_shell(ps, "arithmetic array subscript '%.*s'", (int)n, s);
		for (const char *c = q; c < qe; c++)
			if (!is_name_char(*c))
				return need_shell(ps, "arithmetic array subscript '%.*s'", (int)n,
						  s);
		name = xstrndup(q, (size_t)(qe - q));
		if (dkm_shvars_name_is_reserved(name))
			return need_shell(ps, "bash variable '%s'", name);
		val = dkm_shvars_get(ps->vars, name, 0);
		if (isempty(val)) {
			*ret = 0;
			return 0;
		}
		n = strlen(val);
		s = val;
	}
	if (s[0] == '0' && n > 1)
		return need_shell(ps, "octal array subscript '%.*s'", (int)n, s);
	errno = 0;
	idx = strtoul(s, &end, 10);
	if (errno || end != s + n || !isdigit((unsigned char)*s))
		return need_shell(ps, "arithmetic array subscript '%.*s'", (int)n, s);
	if (idx > DKM_SHVARS_MAX_INDEX)
		return syntax_error(ps, "array index %lu is larger than %lu", idx,
				    DKM_SHVARS_MAX_INDEX);
	*ret = idx;
	return 0;
}

/* ps->p at '$'. Appends the expansion. */
static int expand_dollar(struct parser *ps, struct buf *out, bool quoted, enum word_mode mode)
{
	const char *p = ps->p + 1;

	if (*p == '(')
		return need_shell(ps, p[1] == '(' ? "arithmetic expansion $((...))"
						  : "command substitution $(...)");
	if (*p == '[')
		return need_shell(ps, "arithmetic expansion $[...]");
	if (!quoted && *p == '\'')
		return need_shell(ps, "ANSI-C quoting $'...'");
	if (!quoted && *p == '"')
		return need_shell(ps, "locale quoting $\"...\"");
	if (isdigit((unsigned char)*p) || (*p && strchr("@*#?-$!", *p)))
		return need_shell(ps, "special parameter $%c", *p);
	if (is_name_start(*p)) {
		const char *s = p;

		while (is_name_char(*p))
			p++;
		ps->p = p;
		return lookup(ps, s, (size_t)(p - s), NULL, 0, quoted, mode, out);
	}
	if (*p == '{') {
		const char *s = ++p, *sub = NULL;
		size_t n, subn = 0;

		if (!is_name_start(*p))
			goto complex;
		while (is_name_char(*p))
			p++;
		n = (size_t)(p - s);
		if (*p == '[') {
			sub = ++p;
			while (*p && *p != ']' && *p != '\n' && *p != '}') {
				if (p[0] == '$' && p[1] == '{') /* ${F[${i}]} */
					while (*p && *p != '}' && *p != '\n')
						p++;
				if (*p == '}')
					p++;
				else if (*p && *p != '\n')
					p++;
			}
			if (*p != ']')
				goto complex;
			subn = (size_t)(p - sub);
			p++;
		}
		if (*p != '}')
			goto complex;
		ps->p = p + 1;
		return lookup(ps, s, n, sub, subn, quoted, mode, out);
	complex:
		p = ps->p;
		while (*p && *p != '}' && *p != '\n')
			p++;
		return need_shell(ps, "parameter expansion '%.*s'", (int)(p - ps->p + (*p == '}')),
				  ps->p);
	}
	/* a lone '$' is literal */
	buf_putc(out, '$');
	ps->p++;
	return 0;
}

static int lookup(struct parser *ps, const char *name, size_t n, const char *sub, size_t subn,
		  bool quoted, enum word_mode mode, struct buf *out)
{
	_cleanup_free_ char *nm = xstrndup(name, n);
	const char *val;

	if (dkm_shvars_name_is_reserved(nm))
		return need_shell(ps, "bash variable '%s'", nm);
	if (!quoted && mode == WORD_COMPOUND)
		return need_shell(ps, "unquoted expansion of '%s' in an array list", nm);
	if (sub && subn == 1 && (*sub == '@' || *sub == '*')) {
		const struct dkm_shvar *var = dkm_shvars_find(ps->vars, nm);

		for (size_t i = 0; var && i < var->n_elems; i++) {
			if (i > 0)
				buf_putc(out, ' ');
			buf_puts(out, var->elems[i].value);
		}
		return 0;
	}
	if (sub) {
		unsigned long idx;
		int r = eval_subscript(ps, sub, subn, &idx);

		if (r < 0)
			return r;
		val = dkm_shvars_get(ps->vars, nm, idx);
	} else {
		val = dkm_shvars_get(ps->vars, nm, 0);
	}
	buf_puts(out, strempty(val));
	return 0;
}

static int parse_dquote(struct parser *ps, struct buf *out, enum word_mode mode)
{
	unsigned start = ps->line;

	ps->p++; /* opening quote */
	for (;;) {
		char c = *ps->p;
		int r;

		switch (c) {
		case '\0':
			ps->line = start;
			return syntax_error(ps, "unterminated double quote");
		case '"':
			ps->p++;
			return 0;
		case '\\':
			if (ps->p[1] == '\n') {
				ps->p += 2;
				ps->line++;
			} else if (ps->p[1] && strchr("$`\"\\", ps->p[1])) {
				buf_putc(out, ps->p[1]);
				ps->p += 2;
			} else {
				buf_putc(out, '\\');
				ps->p++;
			}
			break;
		case '$':
			r = expand_dollar(ps, out, true, mode);
			if (r < 0)
				return r;
			break;
		case '`':
			return need_shell(ps, "command substitution `...`");
		case '\n':
			ps->line++;
			__attribute__((fallthrough));
		default:
			buf_putc(out, c);
			ps->p++;
		}
	}
}

/* Parse one word (an assignment value or an element of an array list) into out. */
static int parse_word(struct parser *ps, struct buf *out, enum word_mode mode)
{
	bool compound = mode != WORD_ASSIGN;
	const char *start = ps->p;

	for (;;) {
		char c = *ps->p;
		int r;

		if (c == '\0' || is_blank(c) || c == '\n' || c == ';')
			return 0;
		if (compound && c == ')')
			return 0;
		switch (c) {
		case '|':
		case '&':
		case '<':
		case '>':
		case '(':
		case ')':
			return need_shell(ps, "shell operator '%c'", c);
		case '`':
			return need_shell(ps, "command substitution `...`");
		case '\\':
			if (ps->p[1] == '\n') {
				ps->p += 2;
				ps->line++;
			} else if (ps->p[1] == '\0') {
				return need_shell(ps, "backslash at the end of the file");
			} else {
				buf_putc(out, ps->p[1]);
				ps->p += 2;
			}
			break;
		case '\'': {
			const char *s = ++ps->p;
			unsigned qline = ps->line;

			while (*ps->p && *ps->p != '\'') {
				if (*ps->p == '\n')
					ps->line++;
				ps->p++;
			}
			if (!*ps->p) {
				ps->line = qline;
				return syntax_error(ps, "unterminated single quote");
			}
			buf_putn(out, s, (size_t)(ps->p - s));
			ps->p++;
			break;
		}
		case '"':
			r = parse_dquote(ps, out, mode);
			if (r < 0)
				return r;
			break;
		case '$':
			r = expand_dollar(ps, out, false, mode);
			if (r < 0)
				return r;
			break;
		case '~':
			if (ps->p == start || ps->p[-1] == ':' || compound)
				return need_shell(ps, "tilde expansion");
			buf_putc(out, c);
			ps->p++;
			break;
		case '*':
		case '?':
		case '[':
		case '{':
			if (mode == WORD_COMPOUND)
				return need_shell(ps,
						  "pattern or brace expansion in an array list");
			__attribute__((fallthrough));
		default:
			buf_putc(out, c);
			ps->p++;
		}
	}
}

/* Recognise NAME=, NAME+=, NAME[sub]=, NAME[sub]+= at p. */
struct assign_head {
	const char *name;
	size_t name_len;
	const char *sub; /* NULL if no subscript */
	size_t sub_len;
	bool append;
	const char *value; /* just after '=' */
};

static bool match_assignment(const char *p, struct assign_head *h)
{
	const char *s = p;

	if (!is_name_start(*p))
		return false;
	while (is_name_char(*p))
		p++;
	*h = (struct assign_head){ .name = s, .name_len = (size_t)(p - s) };
	if (*p == '[') {
		h->sub = ++p;
		while (*p && *p != ']' && *p != '\n')
			p++;
		if (*p != ']')
			return false;
		h->sub_len = (size_t)(p - h->sub);
		p++;
	}
	if (*p == '+') {
		h->append = true;
		p++;
	}
	if (*p != '=')
		return false;
	h->value = p + 1;
	return true;
}

static int parse_compound(struct parser *ps, const char *name, bool append)
{
	unsigned long next = append ? dkm_shvars_length(ps->vars, name) : 0;
	struct buf word = {};
	int r = 0;

	if (!append)
		dkm_shvars_clear(ps->vars, name, true);
	ps->p++; /* '(' */
	for (;;) {
		unsigned long idx = next;
		enum word_mode mode = WORD_COMPOUND;

		while (is_blank(*ps->p) || *ps->p == '\n' ||
		       (ps->p[0] == '\\' && ps->p[1] == '\n')) {
			if (*ps->p == '\n')
				ps->line++;
			else if (*ps->p == '\\')
				ps->p++, ps->line++;
			ps->p++;
		}
		if (*ps->p == '#') {
			skip_comment(ps);
			continue;
		}
		if (*ps->p == ')') {
			ps->p++;
			break;
		}
		if (*ps->p == '\0') {
			r = syntax_error(ps, "unterminated array list '%s=('", name);
			break;
		}
		if (*ps->p == '[') {
			const char *s = ps->p + 1, *e = s;

			while (*e && *e != ']' && *e != '\n')
				e++;
			if (*e != ']' || e[1] != '=') {
				r = need_shell(ps, "pattern in an array list");
				break;
			}
			r = eval_subscript(ps, s, (size_t)(e - s), &idx);
			if (r < 0)
				break;
			ps->p = e + 2;
			mode = WORD_COMPOUND_ASSIGN;
		}
		buf_reset(&word);
		r = parse_word(ps, &word, mode);
		if (r < 0)
			break;
		if (*ps->p == ';' || *ps->p == '\0') {
			r = syntax_error(ps, "unterminated array list '%s=('", name);
			break;
		}
		dkm_shvars_set(ps->vars, name, idx, word.s, true);
		next = idx + 1;
	}
	buf_done(&word);
	if (r < 0)
		return r;
	if (!is_word_end(*ps->p) && *ps->p != '#')
		return need_shell(ps, "text after the array list '%s=(...)'", name);
	return 0;
}

static int parse_assignment(struct parser *ps, const struct assign_head *h)
{
	_cleanup_free_ char *name = xstrndup(h->name, h->name_len);
	struct buf value = {};
	unsigned long idx = 0;
	int r;

	if (dkm_shvars_name_is_reserved(name))
		return need_shell(ps, "assignment to the bash variable '%s'", name);
	if (h->sub) {
		r = eval_subscript(ps, h->sub, h->sub_len, &idx);
		if (r < 0)
			return r;
	}
	ps->p = h->value;
	if (*ps->p == '(') {
		if (h->sub)
			return need_shell(ps, "array list assigned to an element of '%s'", name);
		return parse_compound(ps, name, h->append);
	}
	buf_reset(&value);
	r = parse_word(ps, &value, WORD_ASSIGN);
	if (r >= 0) {
		if (h->append) {
			_cleanup_free_ char *joined =
				xasprintf("%s%s", strempty(dkm_shvars_get(ps->vars, name, idx)),
					  value.s);
			dkm_shvars_set(ps->vars, name, idx, joined, true);
		} else {
			dkm_shvars_set(ps->vars, name, idx, value.s, true);
		}
	}
	buf_done(&value);
	return r;
}

static int parse_command(struct parser *ps)
{
	bool is_export = false;
	unsigned n_words = 0;

	for (;; n_words++) {
		struct assign_head h;
		const char *w;
		int r;

		skip_blanks(ps);
		w = ps->p;
		if (*w == '\0' || *w == '\n')
			return 0;
		if (*w == ';') {
			ps->p++;
			if (*ps->p == ';' || *ps->p == '&')
				return need_shell(ps, "case terminator ';%c'", *ps->p);
			return 0;
		}
		if (*w == '#') {
			skip_comment(ps);
			return 0;
		}
		if (strchr("|&<>()`", *w))
			return need_shell(ps, "shell operator '%c'", *w);
		if (match_assignment(w, &h)) {
			r = parse_assignment(ps, &h);
			if (r < 0)
				return r;
			if (!is_word_end(*ps->p))
				return need_shell(ps, "text after an assignment");
			continue;
		}
		if (n_words == 0 && strneq(w, "export", 6) && is_word_end(w[6])) {
			is_export = true;
			ps->p += 6;
			continue;
		}
		if (is_export && is_name_start(*w)) {
			const char *e = w;

			while (is_name_char(*e))
				e++;
			if (is_word_end(*e)) {
				_cleanup_free_ char *name = xstrndup(w, (size_t)(e - w));

				if (dkm_shvars_name_is_reserved(name))
					return need_shell(ps, "export of the bash variable '%s'",
							  name);
				ps->p = e;
				continue;
			}
		}
		{
			size_t n = 0;

			while (!is_word_end(w[n]) && n < 40)
				n++;
			return need_shell(ps, "command '%.*s'", (int)n, w);
		}
	}
}

int dkm_shvars_parse(struct dkm_shvars *v, const char *text, struct dkm_shvars_status *status)
{
	struct parser ps = { .vars = v, .p = text, .line = 1, .st = status };

	if (status)
		*status = (struct dkm_shvars_status){};
	for (;;) {
		int r;

		skip_blanks(&ps);
		switch (*ps.p) {
		case '\0':
			return 0;
		case '\n':
			ps.line++;
			ps.p++;
			continue;
		case '#':
			skip_comment(&ps);
			continue;
		case ';':
			return need_shell(&ps, "empty command before ';'");
		}
		r = parse_command(&ps);
		if (r < 0)
			return r;
	}
}
