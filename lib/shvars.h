/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A table of shell variables (bash semantics: every variable is a sparse array, a scalar is
 * element 0) and a parser for the subset of shell that most dkms.conf files are written in:
 * assignments, quoting, $var / ${var} / ${var[i]} expansion, comments, line continuations,
 * `export`. The parser never executes anything. Whatever it does not understand is reported
 * as "needs a shell" (with the line and the construct), so that the caller can hand the file
 * to a sandboxed bash instead (lib/conf-shell.c). */

#include <stdbool.h>
#include <stddef.h>

struct dkm_shelem {
	unsigned long index;
	char *value;
};

struct dkm_shvar {
	char *name;
	struct dkm_shelem *elems; /* sorted by index, no duplicates */
	size_t n_elems;
	bool assigned; /* assigned (or unset) by the file, not only predefined */
};

struct dkm_shvars {
	struct dkm_shvar *vars; /* sorted by name (bytewise) */
	size_t n_vars;
};

/* Largest array index we accept (bash allows more; no dkms.conf needs it). */
#define DKM_SHVARS_MAX_INDEX 65535UL

struct dkm_shvars *dkm_shvars_new(void);
struct dkm_shvars *dkm_shvars_free(struct dkm_shvars *v);

/* NULL if the variable is unknown. */
const struct dkm_shvar *dkm_shvars_find(const struct dkm_shvars *v, const char *name);
/* NULL if the variable or this element is unset. */
const char *dkm_shvars_get(const struct dkm_shvars *v, const char *name, unsigned long index);
/* Set one element; `assigned` marks it as coming from the file. */
void dkm_shvars_set(struct dkm_shvars *v, const char *name, unsigned long index, const char *value,
		    bool assigned);
/* Remove every element of a variable (as `NAME=( )` does before filling it again). */
void dkm_shvars_clear(struct dkm_shvars *v, const char *name, bool assigned);
/* 1 + the highest index set, 0 if none. */
unsigned long dkm_shvars_length(const struct dkm_shvars *v, const char *name);

bool dkm_shvars_name_is_valid(const char *name);
/* Names that belong to bash itself (BASH_*, PWD, RANDOM, IFS, PATH...): the parser sends files
 * that read or write them to the shell, and the shell dump never reports them. */
bool dkm_shvars_name_is_reserved(const char *name);

struct dkm_shvars_status {
	unsigned line;	  /* 1-based line of the problem */
	char what[160];	  /* "command substitution $(...)", "unterminated double quote" */
	bool needs_shell; /* the text is (probably) valid shell beyond what we parse */
};

/* Parse text (NUL-terminated, LF line ends) and apply its assignments to v.
 * Returns 0 when the whole text was understood; -EOPNOTSUPP when it needs a shell
 * (status->needs_shell); -EINVAL on a syntax error a shell would also reject. v is left
 * partially updated on failure: callers throw it away. status may be NULL. */
int dkm_shvars_parse(struct dkm_shvars *v, const char *text, struct dkm_shvars_status *status);

/* Canonical dump line "NAME[idx]=value" with '\\' -> "\\\\", LF -> "\\n", CR -> "\\r" and other
 * control characters -> "\\xHH". Returns a malloc'ed string (no trailing newline). */
char *dkm_shvars_format(const char *name, unsigned long index, const char *value);
