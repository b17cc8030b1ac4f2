/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* Allocation helpers that abort on OOM: small allocations failing is not a state we can
 * recover from meaningfully, and checking each one hides the real error paths. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);
char *xvasprintf(const char *fmt, va_list ap) _printf_(1, 0);

/* NULL-terminated string vectors */
size_t strv_length(char *const *l);
char **strv_free(char **l);
int strv_push(char ***l, char *value); /* takes ownership */
int strv_extend(char ***l, const char *value);
bool strv_contains(char *const *l, const char *s);
char **strv_split(const char *s, const char *sep); /* skips empty fields */
char *strv_join(char *const *l, const char *sep);
static inline void strv_freep(char ***l)
{
	strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

bool startswith(const char *s, const char *prefix);
bool endswith(const char *s, const char *suffix);
char *strstrip(char *s); /* in place, returns s advanced past leading whitespace */

/* Files */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_len); /* NUL-terminated */
/* Write to "<dir>/.#<name>XXXXXX", fsync, rename over path, fsync the directory. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
int mkdir_p(const char *path, mode_t mode);
int mkdir_parents(const char *path, mode_t mode); /* mkdir -p of dirname(path) */
int rm_rf(const char *path);
/* Put the directory newdir in the place of dir in one step (renameat2 RENAME_EXCHANGE, so
 * readers always see a complete dir), then remove the old one. */
int dir_replace(const char *newdir, const char *dir);
int fsync_parent(const char *path);
/* Copy a directory tree (regular files, dirs, symlinks that stay inside src). Refuses
 * symlinks that point outside src, by their text or once resolved (returns -ELOOP, names the
 * entry in *ret_bad). */
int copy_tree(const char *src, const char *dst, char **ret_bad);
/* Copy one regular file to dst (created, mode kept). A symlink is -ELOOP, anything else that
 * is not a regular file (a FIFO would block) -EINVAL. */
int copy_file(const char *src, const char *dst, mode_t mode);
bool path_exists(const char *path);
bool is_dir(const char *path);
char *path_join(const char *a, const char *b);
const char *path_basename(const char *p);
char *path_dirname(const char *p);
/* A name usable as a single path component: non-empty, no '/', not "." or "..", no NUL,
 * no control characters. */
bool name_is_valid(const char *s);

/* Version comparison as `sort -V` / dpkg-like for kernel versions. */
int version_compare(const char *a, const char *b);

/* hex sha256 of a file / buffer (64 chars + NUL) */
int sha256_file(const char *path, char ret[static 65]);
void sha256_buf(const void *data, size_t len, char ret[static 65]);

uint64_t now_usec(void);
