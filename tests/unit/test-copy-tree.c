/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/util.c copy_tree(), mkdir_owned_at(), copy_file(): the modes root creates whatever the
 * umask and the source's modes, the owner of a copy made for another user (files, symlinks,
 * directories, the top), and that a refused or impossible copy leaves nothing behind. The
 * races they defend against are driven through the binary: tests/source-copy.bats. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"

#define OWNER ((uid_t)65534)
#define GROUP ((gid_t)65534)

static char *tmp;

static char *at(const char *rel)
{
	return path_join(tmp, rel);
}

static void put(const char *rel, const char *text, mode_t mode)
{
	_cleanup_free_ char *p = at(rel);
	FILE *f = fopen(p, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
	chmod(p, mode);
}

static void make_dir(const char *rel, mode_t mode)
{
	_cleanup_free_ char *p = at(rel);

	mkdir(p, 0700);
	chmod(p, mode);
}

static void make_link(const char *target, const char *rel)
{
	_cleanup_free_ char *p = at(rel);

	(void)!symlink(target, p);
}

/* mode & 07777 of rel, or -1 */
static int mode_of(const char *rel)
{
	_cleanup_free_ char *p = at(rel);
	struct stat st;

	return lstat(p, &st) < 0 ? -1 : (int)(st.st_mode & 07777);
}

static bool owned_by(const char *rel, uid_t uid, gid_t gid)
{
	_cleanup_free_ char *p = at(rel);
	struct stat st;

	return lstat(p, &st) == 0 && st.st_uid == uid && st.st_gid == gid;
}

static bool exists(const char *rel)
{
	_cleanup_free_ char *p = at(rel);

	return path_exists(p);
}

static int copy(const char *src, const char *dst, uid_t uid, gid_t gid, char **bad)
{
	_cleanup_free_ char *s = at(src), *d = at(dst);

	return copy_tree(s, d, uid, gid, bad);
}

static void make_source(void)
{
	make_dir("src", 02777);
	put("src/setuid", "x", 04755);
	put("src/setgid", "x", 02755);
	put("src/private.h", "secret-free\n", 0600);
	put("src/shared.h", "x", 0666);
	put("src/owner-exec", "x", 0700);
	make_dir("src/tmp", 01777);
	make_dir("src/tmp/deep", 0777);
	put("src/tmp/deep/file.c", "int x;\n", 0664);
	make_link("tmp/deep/file.c", "src/link.c");
	make_link("../missing.h", "src/tmp/generated.h");
	{
		_cleanup_free_ char *fifo = at("src/fifo");

		(void)mkfifo(fifo, 0666);
	}
}

static void check_copy(const char *dst, uid_t uid, gid_t gid, const char *what)
{
	static const char *const files[] = { "setuid",	 "setgid",     "private.h",
					     "shared.h", "owner-exec", "tmp/deep/file.c" };
	static const int modes[] = { 0755, 0755, 0644, 0644, 0755, 0644 };
	static const char *const dirs[] = { "", "tmp", "tmp/deep" };
	char rel[256];

	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		snprintf(rel, sizeof(rel), "%s/%s", dst, files[i]);
		tap_is_int(mode_of(rel), modes[i], rel);
		tap_ok(owned_by(rel, uid, gid), "%s: %s owned by %u:%u", what, rel, uid, gid);
	}
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		snprintf(rel, sizeof(rel), "%s/%s", dst, dirs[i]);
		tap_is_int(mode_of(rel), 0755, rel);
		tap_ok(owned_by(rel, uid, gid), "%s: %s owned by %u:%u", what, rel, uid, gid);
	}
	snprintf(rel, sizeof(rel), "%s/link.c", dst);
	tap_ok(owned_by(rel, uid, gid), "%s: the symlink is owned by %u:%u too", what, uid, gid);
	{
		_cleanup_free_ char *p = at(rel);
		char target[64] = "";

		(void)!readlink(p, target, sizeof(target) - 1);
		tap_is_str(target, "tmp/deep/file.c", "the symlink is copied as it is");
	}
	snprintf(rel, sizeof(rel), "%s/fifo", dst);
	tap_ok(!exists(rel), "%s: a FIFO is skipped", what);
}

static void test_modes_whatever_the_umask(void)
{
	char *bad = NULL;
	mode_t old = umask(0);

	tap_is_int(copy("src", "copy-umask0", (uid_t)-1, (gid_t)-1, &bad), 0, "copy under umask 0");
	check_copy("copy-umask0", 0, 0, "umask 0");
	umask(0777);
	tap_is_int(copy("src", "copy-umask777", (uid_t)-1, (gid_t)-1, &bad), 0,
		   "copy under umask 0777");
	check_copy("copy-umask777", 0, 0, "umask 0777");
	umask(old);
	tap_ok(bad == NULL, "no entry named on success");
}

static void test_owner(void)
{
	char *bad = NULL;

	tap_is_int(copy("src", "copy-owned", OWNER, GROUP, &bad), 0, "copy for another owner");
	check_copy("copy-owned", OWNER, GROUP, "owner");
}

static void test_refusals_leave_nothing(void)
{
	_cleanup_free_ char *bad = NULL;
	int r;

	make_dir("exists", 0755);
	put("exists/keep", "x", 0644);
	r = copy("src", "exists", (uid_t)-1, (gid_t)-1, &bad);
	tap_is_int(r, -EEXIST, "a destination that exists is refused");
	tap_ok(exists("exists/keep"), "and left as it was");

	make_dir("out", 0755);
	put("out/Makefile", "x", 0644);
	make_dir("out/sub", 0755);
	make_link("/etc/passwd", "out/sub/passwd.h");
	r = copy("out", "copy-out", OWNER, GROUP, &bad);
	tap_is_int(r, 1, "an absolute symlink is left out, and counted");
	tap_is_str(bad, "sub/passwd.h -> /etc/passwd", "and named");
	tap_ok(exists("copy-out/Makefile") && !exists("copy-out/sub/passwd.h"),
	       "the rest is copied, the link is not");

	free(bad);
	bad = NULL;
	make_dir("resolved", 0755);
	make_dir("resolved/sub", 0755);
	make_link("..", "resolved/sub/up");
	make_link("sub/up/sub/up/../../etc", "resolved/z");
	r = copy("resolved", "copy-resolved", OWNER, GROUP, &bad);
	tap_is_int(r, 1, "a symlink that leaves once resolved is left out, and counted");
	tap_is_str(bad, "z -> sub/up/sub/up/../../etc", "and named");
	tap_ok(exists("copy-resolved/sub/up") && !exists("copy-resolved/z"),
	       "the link inside stays, the one that leaves is gone from the copy");
}

static void test_mkdir_owned_at(void)
{
	_cleanup_close_ int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	mode_t old = umask(0777);
	int fd = -1, r;

	r = mkdir_owned_at(dfd, "owned", 0755, OWNER, GROUP, &fd);
	umask(old);
	tap_is_int(r, 0, "mkdir_owned_at under umask 0777");
	tap_is_int(mode_of("owned"), 0755, "its mode is the one asked for");
	tap_ok(owned_by("owned", OWNER, GROUP), "its owner too");
	tap_ok(fd >= 0 && fchmod(fd, 0750) == 0 && mode_of("owned") == 0750,
	       "the fd returned is that directory's");
	if (fd >= 0)
		close(fd);
	fd = -1;
	tap_is_int(mkdir_owned_at(dfd, "owned", 0755, (uid_t)-1, (gid_t)-1, &fd), -EEXIST,
		   "an existing directory is not taken over");
	tap_ok(fd == -1, "no fd then");
}

static void test_copy_file(void)
{
	_cleanup_free_ char *from = at("src/setuid"), *to = at("copied"), *to2 = at("copied2"),
			    *fifo = at("src/fifo"), *link = at("src/link.c"), *to3 = at("copied3");
	mode_t old = umask(0);

	tap_is_int(copy_file(from, to, 04777), 0, "copy_file");
	tap_is_int(mode_of("copied"), 0755, "no setuid bit, no group/world write, umask 0");
	umask(0777);
	tap_is_int(copy_file(from, to2, 0644), 0, "copy_file under umask 0777");
	tap_is_int(mode_of("copied2"), 0644, "still the mode asked for");
	umask(old);
	tap_is_int(copy_file(fifo, to3, 0644), -EINVAL, "a FIFO is refused, without blocking");
	tap_is_int(copy_file(link, to3, 0644), -ELOOP, "a symlink is refused");
	tap_ok(!exists("copied3"), "nothing created for either");
}

int main(void)
{
	char tmpl[] = "/tmp/test-copy-tree.XXXXXX";

	tmp = mkdtemp(tmpl);
	if (!tmp || geteuid() != 0) {
		/* owners and modes of root's copies: root only (make check runs as root) */
		printf("1..0 # SKIP needs root and a temporary directory\n");
		return 0;
	}
	make_source();
	test_modes_whatever_the_umask();
	test_owner();
	test_refusals_leave_nothing();
	test_mkdir_owned_at();
	test_copy_file();
	(void)rm_rf(tmp);
	return tap_done();
}
