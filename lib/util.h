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
void strv_push(char ***l, char *value); /* takes ownership */
void strv_extend(char ***l, const char *value);
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
/* Copy the directory tree src to dst, which must not exist yet: regular files, directories,
 * and symlinks that stay inside src; FIFOs, sockets and devices are skipped. Made for root
 * copying a tree that someone else may be changing at the same time:
 *  - every entry is opened relative to its parent's fd (never by a path), O_NOFOLLOW, and must
 *    be the inode that was listed; a mismatch (say a directory swapped for a symlink) is
 *    -ESTALE, "changed while it was being copied";
 *  - what is created gets its mode explicitly, whatever the umask: files 0644, or 0755 when
 *    the source is executable; directories 0755; never a setuid/setgid/sticky bit, never
 *    group- or world-writable;
 *  - a symlink whose text is absolute or climbs out, or that resolves outside the finished
 *    copy (`d -> .` then `d/d/../../etc`), is left out of the copy: the copy never has a way
 *    out of itself, and a package that ships such a link (Debian's iptables-netflow-dkms has
 *    `README.gz -> ../../share/doc/…`) still builds; what needs it fails at its own step.
 * owner_uid/owner_gid: who owns the copy, or (uid_t)-1 for root. Each file is fchown'ed
 * through its fd once written, each symlink while its directory is still root's, each
 * directory only once everything below it is finished, so the copy never works in a
 * directory that the owner could change. dst is created 0700 and gets its owner and mode
 * last. dst's parent is reached by its path: it must be a directory only root can change.
 * Returns 0, or the number of symlinks left out (>0) with *ret_bad (if given) naming the first
 * as "<entry> -> <target>", relative to src. On failure nothing is left at dst, and *ret_bad
 * (if given) names the entry when the error is about one. */
int copy_tree(const char *src, const char *dst, uid_t owner_uid, gid_t owner_gid, char **ret_bad);
/* The same from an open source directory into dst_name below the directory dst_dirfd. */
int copy_tree_at(int src_fd, int dst_dirfd, const char *dst_name, uid_t owner_uid, gid_t owner_gid,
		 char **ret_bad);
/* Create the directory name below dirfd (-EEXIST if it exists), check that what is there now
 * is the directory we just made (ours, nobody else could have written it: else -ESTALE), give
 * it mode (explicitly, whatever the umask) and, unless uid is (uid_t)-1, the owner uid:gid,
 * all through its fd; that fd (O_DIRECTORY, O_CLOEXEC) in *ret_fd if given. */
int mkdir_owned_at(int dirfd, const char *name, mode_t mode, uid_t uid, gid_t gid, int *ret_fd);
/* Copy one regular file to dst (created, O_EXCL): mode & 0755, explicitly, whatever the umask.
 * A symlink is -ELOOP, anything else that is not a regular file (a FIFO would block)
 * -EINVAL. */
int copy_file(const char *src, const char *dst, mode_t mode);
bool path_exists(const char *path);
bool is_dir(const char *path);
/* Calls cb for every regular file below dir (path: dir/.../name; name: its last component),
 * depth first in directory order, without following a symbolic link (what nftw(FTW_PHYS)
 * reports as FTW_F), unreadable directories skipped; userdata is cb's. A callback that
 * returns non-zero stops the walk, and walk_files returns that value; 0 otherwise. */
typedef int (*walk_files_fn)(const char *path, const char *name, void *userdata);
int walk_files(const char *dir, walk_files_fn cb, void *userdata);
char *path_join(const char *a, const char *b);
const char *path_basename(const char *p);
char *path_dirname(const char *p);
/* A name usable as a single path component: non-empty, no '/', not "." or "..", no NUL,
 * no control characters. */
bool name_is_valid(const char *s);

/* Version comparison as `sort -V` / dpkg-like for kernel versions. */
int version_compare(const char *a, const char *b);
/* The one UTF-8 validator. The length of the valid UTF-8 sequence at s (1-4), 0 if s does not
 * start one (reads up to its end or the first byte that ends it, a NUL included): overlong
 * forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8. */
size_t dkm_utf8_seq_len(const unsigned char *s);
/* The offset of the first byte of s[0..len) that is not part of valid UTF-8, (size_t)-1 if
 * there is none. */
size_t dkm_utf8_invalid_at(const char *s, size_t len);

/* qsort() comparators for arrays of char *: strcmp() order, version_compare() order */
int strcmp_ptr(const void *a, const void *b);
int version_compare_ptr(const void *a, const void *b);

/* hex sha256 of a file / buffer (64 chars + NUL) */
int sha256_file(const char *path, char ret[static 65]);
void sha256_buf(const void *data, size_t len, char ret[static 65]);

uint64_t now_usec(void);
