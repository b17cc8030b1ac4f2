/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util.h"

static _noreturn_ void oom(void)
{
	fputs("dkm-hook: error: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);

	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		oom();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		oom();
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	return s;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

size_t strv_length(char *const *l)
{
	size_t n = 0;

	while (l && l[n])
		n++;
	return n;
}

char **strv_free(char **l)
{
	for (size_t i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
	return NULL;
}

int strv_push(char ***l, char *value)
{
	size_t n = strv_length(*l);

	*l = xrealloc(*l, (n + 2) * sizeof(char *));
	(*l)[n] = value;
	(*l)[n + 1] = NULL;
	return 0;
}

int strv_extend(char ***l, const char *value)
{
	return strv_push(l, xstrdup(value));
}

bool strv_contains(char *const *l, const char *s)
{
	for (size_t i = 0; l && l[i]; i++)
		if (streq(l[i], s))
			return true;
	return false;
}

char **strv_split(const char *s, const char *sep)
{
	char **l = xcalloc(1, sizeof(char *));

	while (s && *s) {
		size_t skip = strspn(s, sep), n;

		s += skip;
		n = strcspn(s, sep);
		if (n > 0)
			strv_push(&l, xstrndup(s, n));
		s += n;
	}
	return l;
}

char *strv_join(char *const *l, const char *sep)
{
	size_t len = 1, seplen = strlen(sep);
	char *r, *p;

	for (size_t i = 0; l && l[i]; i++)
		len += strlen(l[i]) + seplen;
	p = r = xmalloc(len);
	for (size_t i = 0; l && l[i]; i++) {
		if (i > 0)
			p = stpcpy(p, sep);
		p = stpcpy(p, l[i]);
	}
	*p = 0;
	return r;
}

bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool endswith(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

char *strstrip(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;
	struct stat st;

	/* O_NONBLOCK: a FIFO nobody writes to must not hang us in open() (a hostile source or
	 * build dir can hold one); reads block again as usual */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) && (size_t)st.st_size > max)
		return -EFBIG;
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
	buf = xmalloc(cap);
	for (;;) {
		ssize_t k;

		if (len + 1 >= cap) {
			if (cap > max + 1)
				return -EFBIG;
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		k = read(fd, buf + len, cap - len - 1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		len += (size_t)k;
		if (len > max)
			return -EFBIG;
	}
	buf[len] = 0;
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t k = write(fd, p, len);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

int fsync_parent(const char *path)
{
	_cleanup_free_ char *dir = path_dirname(path);
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	_cleanup_free_ char *dir = path_dirname(path);
	_cleanup_free_ char *tmp = xasprintf("%s/.#%sXXXXXX", dir, path_basename(path));
	_cleanup_close_ int fd = -1;
	int r;

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	if (r >= 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	(void)fsync_parent(path);
	return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	if (!is_dir(p))
		return -ENOTDIR;
	return 0;
}

int mkdir_parents(const char *path, mode_t mode)
{
	_cleanup_free_ char *d = path_dirname(path);

	return mkdir_p(d, mode);
}

static int rm_rf_at(int dfd, const char *name)
{
	struct stat st;
	int fd, r = 0;
	DIR *d;
	struct dirent *de;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		int k;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		k = rm_rf_at(dirfd(d), de->d_name);
		if (k < 0 && r == 0)
			r = k;
	}
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int rm_rf(const char *path)
{
	return rm_rf_at(AT_FDCWD, path);
}

int dir_replace(const char *newdir, const char *dir)
{
	if (renameat2(AT_FDCWD, newdir, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
		(void)fsync_parent(dir);
		return rm_rf(newdir); /* now the old contents */
	}
	if (errno != ENOENT)
		return -errno;
	if (rename(newdir, dir) < 0)
		return -errno;
	(void)fsync_parent(dir);
	return 0;
}

int copy_file(const char *src, const char *dst, mode_t mode)
{
	_cleanup_close_ int in = -1, out = -1;
	char buf[65536];
	int r = 0;

	struct stat st;

	/* only a regular file: not a symlink, and never block on a FIFO planted by a build */
	in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (in < 0)
		return -errno;
	if (fstat(in, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (out < 0)
		return -errno;
	for (;;) {
		ssize_t k = read(in, buf, sizeof(buf));

		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (k == 0)
			break;
		r = write_all(out, buf, (size_t)k);
		if (r < 0)
			break;
	}
	if (r < 0)
		unlink(dst);
	return r;
}

/* Does the symlink at dir/name (whose target is `target`) resolve inside `top`? Both
 * relative to the source tree: resolve the target lexically against the link's directory. */
static bool symlink_stays_inside(const char *rel_dir, const char *target)
{
	int depth = 0;
	char *copy, *tok, *save = NULL;

	if (target[0] == '/')
		return false;
	/* depth of the link's directory below the top */
	copy = xstrdup(rel_dir);
	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save))
		if (!streq(tok, "."))
			depth++;
	free(copy);
	copy = xstrdup(target);
	save = NULL;
	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (streq(tok, ".."))
			depth--;
		else if (!streq(tok, "."))
			depth++;
		if (depth < 0)
			break;
	}
	free(copy);
	return depth >= 0;
}

/* Is real (a resolved path) top itself or below it? */
static bool real_is_inside(const char *top, const char *real)
{
	size_t n = strlen(top);

	return strneq(real, top, n) && (real[n] == '\0' || real[n] == '/' || streq(top, "/"));
}

/* The lexical check alone is not enough: with `d -> .`, `d/d/../../x` looks balanced but
 * leaves the tree. Resolve what exists of the target as the kernel does (realpath) and
 * require that to be inside top; the part that does not exist (yet: a file the build
 * generates) must not climb with '..'. */
static bool symlink_resolves_inside(const char *top_real, const char *link_dir, const char *target)
{
	_cleanup_free_ char *full = path_join(link_dir, target);
	char real[PATH_MAX];

	while (!realpath(full, real)) {
		char *slash = strrchr(full, '/');

		if (errno != ENOENT || !slash || slash == full || streq(slash + 1, ".."))
			return false;
		*slash = '\0';
	}
	return real_is_inside(top_real, real);
}

static int copy_tree_rel(const char *src, const char *src_real, const char *dst, const char *rel,
			 char **ret_bad)
{
	_cleanup_free_ char *s = rel[0] ? path_join(src, rel) : xstrdup(src);
	_cleanup_free_ char *d = rel[0] ? path_join(dst, rel) : xstrdup(dst);
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int r = 0;

	if (lstat(s, &st) < 0)
		return -errno;
	if (mkdir(d, (st.st_mode & 07777) | 0700) < 0 && errno != EEXIST)
		return -errno;
	dir = opendir(s);
	if (!dir)
		return -errno;
	while (r >= 0 && (de = readdir(dir))) {
		_cleanup_free_ char *crel = NULL, *cs = NULL, *cd = NULL;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		crel = rel[0] ? path_join(rel, de->d_name) : xstrdup(de->d_name);
		cs = path_join(src, crel);
		cd = path_join(dst, crel);
		if (lstat(cs, &st) < 0) {
			r = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode))
			r = copy_tree_rel(src, src_real, dst, crel, ret_bad);
		else if (S_ISREG(st.st_mode))
			r = copy_file(cs, cd, st.st_mode & 07777);
		else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t k = readlink(cs, target, sizeof(target) - 1);

			if (k < 0) {
				r = -errno;
				break;
			}
			target[k] = 0;
			if (!symlink_stays_inside(rel[0] ? rel : ".", target) ||
			    !symlink_resolves_inside(src_real, s, target)) {
				if (ret_bad)
					*ret_bad = xasprintf("%s -> %s", crel, target);
				r = -ELOOP;
				break;
			}
			if (symlink(target, cd) < 0)
				r = -errno;
		}
		/* sockets, fifos, devices are not part of a module source: skipped */
	}
	closedir(dir);
	return r;
}

int copy_tree(const char *src, const char *dst, char **ret_bad)
{
	char src_real[PATH_MAX];

	if (!realpath(src, src_real))
		return -errno;
	return copy_tree_rel(src, src_real, dst, "", ret_bad);
}

bool path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (la > 0 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	return xasprintf("%.*s/%s", (int)la, a, b);
}

const char *path_basename(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

char *path_dirname(const char *p)
{
	const char *s = strrchr(p, '/');

	if (!s)
		return xstrdup(".");
	if (s == p)
		return xstrdup("/");
	return xstrndup(p, (size_t)(s - p));
}

bool name_is_valid(const char *s)
{
	if (isempty(s) || streq(s, ".") || streq(s, ".."))
		return false;
	if (strstr(s, ".."))
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return false;
	return strlen(s) <= 255;
}

/* Compare like `sort -V` for the parts that matter in kernel versions: runs of digits
 * compare numerically, other characters by value, '~' sorts before everything. */
int version_compare(const char *a, const char *b)
{
	while (*a || *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			unsigned long long x = 0, y = 0;

			while (*a == '0')
				a++;
			while (*b == '0')
				b++;
			const char *sa = a, *sb = b;
			while (isdigit((unsigned char)*a))
				a++;
			while (isdigit((unsigned char)*b))
				b++;
			if (a - sa != b - sb)
				return a - sa < b - sb ? -1 : 1;
			for (; sa < a; sa++, sb++) {
				x = (unsigned char)*sa;
				y = (unsigned char)*sb;
				if (x != y)
					return x < y ? -1 : 1;
			}
			continue;
		}
		int ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca == '~' || cb == '~') {
			if (ca != cb)
				return ca == '~' ? -1 : 1;
		} else if (isdigit(ca) != isdigit(cb)) {
			/* a number sorts after end-of-string and letters: "6.1.10" > "6.1.a" */
			if (!ca || !cb)
				return ca ? 1 : -1;
			return isdigit(ca) ? 1 : -1;
		} else if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca)
			a++;
		if (cb)
			b++;
	}
	return 0;
}

void sha256_buf(const void *data, size_t len, char ret[static 65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		sprintf(ret + 2 * i, "%02x", md[i]);
	ret[64] = 0;
}

int sha256_file(const char *path, char ret[static 65])
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r;

	r = read_full_file(path, (size_t)1 << 31, &data, &len);
	if (r < 0)
		return r;
	sha256_buf(data, len, ret);
	return 0;
}

uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}
