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
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/openat2.h>
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

void strv_push(char ***l, char *value)
{
	size_t n = strv_length(*l);

	*l = xrealloc(*l, (n + 2) * sizeof(char *));
	(*l)[n] = value;
	(*l)[n + 1] = NULL;
}

void strv_extend(char ***l, const char *value)
{
	strv_push(l, xstrdup(value));
}

int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int version_compare_ptr(const void *a, const void *b)
{
	return version_compare(*(char *const *)a, *(char *const *)b);
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

/* Same object as the one listed? A directory entry that was replaced between the listing and
 * the open (a directory swapped for a symlink, a file for a FIFO) is another inode. */
static bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       (a->st_mode & S_IFMT) == (b->st_mode & S_IFMT);
}

static int copy_data(int in, int out)
{
	char buf[65536];

	for (;;) {
		ssize_t k = read(in, buf, sizeof(buf));
		int r;

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return 0;
		r = write_all(out, buf, (size_t)k);
		if (r < 0)
			return r;
	}
}

/* What root creates: files 0644, or 0755 when the source is executable by anyone; never a
 * setuid/setgid/sticky bit, never group- or world-writable. */
static mode_t copy_file_mode(mode_t src_mode)
{
	return src_mode & 0111 ? 0755 : 0644;
}

int copy_file(const char *src, const char *dst, mode_t mode)
{
	_cleanup_close_ int in = -1, out = -1;
	struct stat st;
	int r;

	/* only a regular file: not a symlink, and never block on a FIFO planted by a build */
	in = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	if (in < 0)
		return -errno;
	if (fstat(in, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	/* created private, then given its mode explicitly: the umask plays no part */
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0)
		return -errno;
	r = copy_data(in, out);
	if (r >= 0 && fchmod(out, mode & 0755) < 0)
		r = -errno;
	if (r < 0)
		unlink(dst);
	return r;
}

int mkdir_owned_at(int dirfd, const char *name, mode_t mode, uid_t uid, gid_t gid, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r = 0;

	if (mkdirat(dirfd, name, 0700) < 0)
		return -errno;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP || errno == ENOTDIR ? -ESTALE : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	/* ours, and nobody else could have put anything in it: else it is not the one we made
	 * (someone who can write dirfd replaced it), and it is not ours to remove either */
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0077))
		return -ESTALE;
	if (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0)
		r = -errno;
	if (r >= 0 && fchmod(fd, mode & 07777) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(dirfd, name, AT_REMOVEDIR); /* empty: only ours could be removed */
		return r;
	}
	if (ret_fd)
		*ret_fd = TAKE_FD(fd);
	return 0;
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

/* Kernels before 5.6 have no openat2(): resolve with realpath() from the copy's top, reached
 * through its fd, and compare the strings. */
static bool symlink_resolves_inside_realpath(int top_fd, const char *rel)
{
	char anchor[64], top_real[PATH_MAX], real[PATH_MAX];
	_cleanup_free_ char *full = NULL;

	snprintf(anchor, sizeof(anchor), "/proc/self/fd/%d", top_fd);
	if (!realpath(anchor, top_real))
		return false;
	full = path_join(top_real, rel);
	while (!realpath(full, real)) {
		char *slash = strrchr(full, '/');

		if (errno != ENOENT || !slash || slash < full + strlen(top_real) ||
		    streq(slash + 1, ".."))
			return false;
		*slash = '\0';
	}
	return real_is_inside(top_real, real);
}

/* Open rel below top_fd as the kernel resolves it, symlinks included, but failing (EXDEV) where
 * the resolution would leave top_fd: absolute links, '..' above the top. 0 if it is there. */
static int open_beneath(int top_fd, const char *rel)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};

	/* EAGAIN: a rename somewhere on the system while '..' was resolved; try again */
	for (int i = 0; i < 64; i++) {
		int fd = (int)syscall(SYS_openat2, top_fd, rel, &how, sizeof(how));

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
}

/* The lexical check alone is not enough: with `d -> .`, `d/d/../../x` looks balanced but
 * leaves the tree. Resolve what exists of the target as the kernel does, from the top of the
 * finished copy (which only root can change), and require that to stay below it; the part that
 * does not exist (yet: a file the build generates) must not climb with '..'. */
static bool symlink_resolves_inside(int top_fd, const char *link_dir, const char *target)
{
	_cleanup_free_ char *full = link_dir[0] ? path_join(link_dir, target) : xstrdup(target);

	for (;;) {
		char *slash;
		int r = open_beneath(top_fd, full);

		if (r == 0)
			return true;
		if (r == -ENOSYS) /* on the first try: full is still whole */
			return symlink_resolves_inside_realpath(top_fd, full);
		if (r != -ENOENT)
			return false; /* EXDEV: it leaves; ENOTDIR, ELOOP: it never resolves */
		slash = strrchr(full, '/');
		if (streq(slash ? slash + 1 : full, ".."))
			return false;
		if (!slash)
			return true; /* a name missing in the top */
		*slash = '\0';
	}
}

/* Remove the symlink rel (a path of real directories the copy made, all root's and 0700 until
 * it is finished) below top_fd, reaching its directory without following any symlink. */
static int unlink_beneath(int top_fd, const char *rel)
{
	_cleanup_free_ char *copy = xstrdup(rel);
	_cleanup_close_ int fd = fcntl(top_fd, F_DUPFD_CLOEXEC, 3);
	char *name = copy, *slash;

	if (fd < 0)
		return -errno;
	while ((slash = strchr(name, '/'))) {
		int next;

		*slash = '\0';
		next = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return -errno;
		close(fd);
		fd = next;
		name = slash + 1;
	}
	if (unlinkat(fd, name, 0) < 0)
		return -errno;
	return 0;
}

/* The copy: every object is opened relative to its parent's fd, never by a path (a component
 * swapped for a symlink after the listing would be followed), and must be the inode that was
 * listed. The destination is built the same way, in directories only root can write until the
 * copy is finished. */
struct copy_link {
	char *dir;   /* the link's directory, relative to the top ("" for the top itself) */
	char *entry; /* dir/name */
	char *target;
};

struct copy_walk {
	uid_t uid; /* the owner of the copy, or (uid_t)-1 for root */
	gid_t gid;
	struct copy_link *links; /* checked once the whole tree is there */
	size_t n_links;
	char *bad;	   /* the entry an error is about */
	size_t n_left_out; /* symlinks leading out of the tree, not copied */
	char *left_out;	   /* the first of them, "<entry> -> <target>" */
};

static void left_out(struct copy_walk *w, const char *entry, const char *target)
{
	if (w->n_left_out++ == 0)
		w->left_out = xasprintf("%s -> %s", entry, target);
}

/* an entry that was listed is gone, or is something else now */
static int listed_entry_error(int err)
{
	return err == ENOENT || err == ELOOP || err == ENOTDIR || err == ENXIO ? -ESTALE : -err;
}

static int copy_dir_at(struct copy_walk *w, int sfd, int dfd, const char *rel);

static int copy_subdir_at(struct copy_walk *w, int sdir, int ddir, const char *name,
			  const struct stat *st, const char *crel)
{
	_cleanup_close_ int fd = -1, out = -1;
	struct stat st2;

	fd = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return listed_entry_error(errno);
	if (fstat(fd, &st2) < 0)
		return -errno;
	if (!same_inode(st, &st2))
		return -ESTALE;
	if (mkdirat(ddir, name, 0700) < 0)
		return -errno;
	out = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (out < 0)
		return -errno;
	return copy_dir_at(w, TAKE_FD(fd), out, crel);
}

static int copy_file_at(struct copy_walk *w, int sdir, int ddir, const char *name,
			const struct stat *st)
{
	_cleanup_close_ int in = -1, out = -1;
	struct stat st2;
	int r;

	/* O_NONBLOCK: if it became a FIFO since the listing, the open must not wait */
	in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (in < 0)
		return listed_entry_error(errno);
	if (fstat(in, &st2) < 0)
		return -errno;
	if (!same_inode(st, &st2))
		return -ESTALE;
	out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	r = copy_data(in, out);
	if (r >= 0 && w->uid != (uid_t)-1 && fchown(out, w->uid, w->gid) < 0)
		r = -errno;
	if (r >= 0 && fchmod(out, copy_file_mode(st2.st_mode)) < 0)
		r = -errno;
	return r;
}

static int copy_symlink_at(struct copy_walk *w, int sdir, int ddir, const char *name,
			   const struct stat *st, const char *rel, const char *crel)
{
	_cleanup_close_ int fd = -1;
	char target[PATH_MAX];
	struct copy_link *l;
	struct stat st2;
	ssize_t k;

	fd = openat(sdir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return listed_entry_error(errno);
	if (fstat(fd, &st2) < 0)
		return -errno;
	if (!same_inode(st, &st2))
		return -ESTALE;
	k = readlinkat(fd, "", target, sizeof(target));
	if (k < 0)
		return -errno;
	if ((size_t)k >= sizeof(target) || k == 0)
		return -ENAMETOOLONG;
	target[k] = 0;
	if (!symlink_stays_inside(rel[0] ? rel : ".", target)) {
		left_out(w, crel, target);
		return 0;
	}
	if (symlinkat(target, ddir, name) < 0)
		return -errno;
	/* the parent is still root's: nobody can have put something else at that name */
	if (w->uid != (uid_t)-1 && fchownat(ddir, name, w->uid, w->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	w->links = xrealloc(w->links, (w->n_links + 1) * sizeof(*w->links));
	l = &w->links[w->n_links++];
	*l = (struct copy_link){ .dir = xstrdup(rel),
				 .entry = xstrdup(crel),
				 .target = xstrdup(target) };
	return 0;
}

/* Copy what sfd lists into dfd; takes sfd. */
static int copy_dir_at(struct copy_walk *w, int sfd, int dfd, const char *rel)
{
	struct dirent *de;
	DIR *d;
	int r = 0;

	d = fdopendir(sfd);
	if (!d) {
		r = -errno;
		close(sfd);
		return r;
	}
	rewinddir(d);
	for (;;) {
		_cleanup_free_ char *crel = NULL;
		struct stat st;

		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			if (r < 0 && !w->bad)
				w->bad = xstrdup(rel[0] ? rel : ".");
			break;
		}
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		crel = rel[0] ? path_join(rel, de->d_name) : xstrdup(de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			r = listed_entry_error(errno);
		else if (S_ISDIR(st.st_mode))
			r = copy_subdir_at(w, dirfd(d), dfd, de->d_name, &st, crel);
		else if (S_ISREG(st.st_mode))
			r = copy_file_at(w, dirfd(d), dfd, de->d_name, &st);
		else if (S_ISLNK(st.st_mode))
			r = copy_symlink_at(w, dirfd(d), dfd, de->d_name, &st, rel, crel);
		/* sockets, fifos, devices are not part of a module source: skipped */
		if (r < 0) {
			if (!w->bad)
				w->bad = TAKE_PTR(crel);
			break;
		}
	}
	closedir(d);
	return r;
}

/* Post-order, once the whole copy is there: each directory gets its owner and its mode only
 * after everything below it is finished, so the copy never works in a directory that someone
 * else could change. */
static int finish_dir_at(struct copy_walk *w, int fd, const char *rel)
{
	struct dirent *de;
	DIR *d;
	int r = 0, dup_fd;

	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0)
		return -errno;
	d = fdopendir(dup_fd);
	if (!d) {
		r = -errno;
		close(dup_fd);
		return r;
	}
	rewinddir(d);
	while (r >= 0) {
		_cleanup_free_ char *crel = NULL;
		_cleanup_close_ int cfd = -1;
		struct stat st, st2;

		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		crel = rel[0] ? path_join(rel, de->d_name) : xstrdup(de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
		} else if (S_ISDIR(st.st_mode)) {
			cfd = openat(dirfd(d), de->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0)
				r = -errno;
			else if (fstat(cfd, &st2) < 0)
				r = -errno;
			else if (!same_inode(&st, &st2) || st2.st_uid != geteuid())
				r = -ESTALE;
			else
				r = finish_dir_at(w, cfd, crel);
		}
		if (r < 0 && !w->bad)
			w->bad = TAKE_PTR(crel);
	}
	closedir(d);
	if (r >= 0 && w->uid != (uid_t)-1 && fchown(fd, w->uid, w->gid) < 0)
		r = -errno;
	if (r >= 0 && fchmod(fd, 0755) < 0)
		r = -errno;
	if (r < 0 && !w->bad)
		w->bad = xstrdup(rel[0] ? rel : ".");
	return r;
}

/* remove everything below fd (a failed copy leaves nothing, not even a refused symlink) */
static void empty_dir_at(int fd)
{
	struct dirent *de;
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	DIR *d;

	if (dup_fd < 0)
		return;
	d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			(void)rm_rf_at(dirfd(d), de->d_name);
	closedir(d);
}

int copy_tree_at(int src_fd, int dst_dirfd, const char *dst_name, uid_t owner_uid, gid_t owner_gid,
		 char **ret_bad)
{
	struct copy_walk w = { .uid = owner_uid, .gid = owner_gid };
	_cleanup_close_ int dfd = -1;
	int r, sfd;

	if (isempty(dst_name) || strchr(dst_name, '/') || streq(dst_name, ".") ||
	    streq(dst_name, ".."))
		return -EINVAL;
	/* private until finished: root's, 0700, whoever the owner will be */
	r = mkdir_owned_at(dst_dirfd, dst_name, 0700, (uid_t)-1, (gid_t)-1, &dfd);
	if (r < 0)
		return r;
	sfd = fcntl(src_fd, F_DUPFD_CLOEXEC, 3);
	r = sfd < 0 ? -errno : copy_dir_at(&w, sfd, dfd, "");
	for (size_t i = 0; r >= 0 && i < w.n_links; i++) {
		struct copy_link *l = &w.links[i];

		if (!symlink_resolves_inside(dfd, l->dir, l->target)) {
			r = unlink_beneath(dfd, l->entry);
			if (r < 0)
				w.bad = xasprintf("%s -> %s", l->entry, l->target);
			else
				left_out(&w, l->entry, l->target);
		}
	}
	if (r >= 0)
		r = finish_dir_at(&w, dfd, "");
	for (size_t i = 0; i < w.n_links; i++) {
		free(w.links[i].dir);
		free(w.links[i].entry);
		free(w.links[i].target);
	}
	free(w.links);
	if (r < 0) {
		empty_dir_at(dfd);
		(void)unlinkat(dst_dirfd, dst_name, AT_REMOVEDIR);
		if (ret_bad && w.bad)
			*ret_bad = TAKE_PTR(w.bad);
		free(w.bad);
		free(w.left_out);
		return r;
	}
	free(w.bad);
	if (w.n_left_out == 0)
		return 0;
	if (ret_bad)
		*ret_bad = TAKE_PTR(w.left_out);
	free(w.left_out);
	return w.n_left_out > INT_MAX ? INT_MAX : (int)w.n_left_out;
}

int copy_tree(const char *src, const char *dst, uid_t owner_uid, gid_t owner_gid, char **ret_bad)
{
	_cleanup_free_ char *parent = path_dirname(dst);
	_cleanup_close_ int sfd = -1, pfd = -1;

	sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return -errno;
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	return copy_tree_at(sfd, pfd, path_basename(dst), owner_uid, owner_gid, ret_bad);
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

size_t dkm_utf8_seq_len(const unsigned char *s)
{
	size_t n;
	unsigned long cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0; /* a continuation byte, an overlong lead (c0, c1) or past U+10FFFF */
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, UTF-16 surrogates and code points past Unicode are not UTF-8 */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

size_t dkm_utf8_invalid_at(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		const unsigned char *p = (const unsigned char *)s + i;
		unsigned char tail[5] = { 0 };
		size_t n;

		/* the last bytes from a NUL-padded copy: a sequence cut by len ends at the NUL */
		if (len - i < 4) {
			memcpy(tail, p, len - i);
			p = tail;
		}
		n = dkm_utf8_seq_len(p);
		if (n == 0)
			return i;
		i += n;
	}
	return (size_t)-1;
}

/* nftw() has no user pointer: this walk passes one, instead of the callers keeping their
 * state in globals. One open directory per level (module and state trees are shallow). */
static int walk_at(int dfd, const char *path, walk_files_fn cb, void *userdata)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		close(dfd);
		return 0;
	}
	while (r == 0 && (de = readdir(d))) {
		_cleanup_free_ char *p = NULL;
		struct stat st;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		p = path_join(path, de->d_name);
		if (S_ISREG(st.st_mode))
			r = cb(p, de->d_name, userdata);
		else if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd(d), de->d_name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (fd >= 0)
				r = walk_at(fd, p, cb, userdata);
		}
	}
	closedir(d);
	return r;
}

int walk_files(const char *dir, walk_files_fn cb, void *userdata)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	return walk_at(fd, dir, cb, userdata);
}
