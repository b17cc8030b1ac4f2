/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/tar.c: what we write reads back; what GNU tar writes for the same files reads too (when
 * tar is installed: tests/export.bats); hostile archives are refused with a reason. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "tar.h"
#include "util.h"

static void test_round_trip(void)
{
	_cleanup_free_ char *buf = NULL, *big = xmalloc(1300);
	struct dkm_tar_entry *l = NULL;
	const char *why = NULL;
	size_t len = 0;
	int n;

	memset(big, 'x', 1300);
	dkm_tar_add(&buf, &len, "meta", "a=b\n", 4, 0644, 1700000000);
	dkm_tar_add(&buf, &len, "modules/m.ko.xz", big, 1300, 0644, 1700000000);
	dkm_tar_add(&buf, &len, "empty", "", 0, 0644, 0);
	dkm_tar_finish(&buf, &len);
	tap_is_int(len % 512, 0, "archive is whole blocks");
	tap_is_int(len, 512 + 512 + 512 + 3 * 512 + 512 + 1024,
		   "header + padded data per member, 2 zero blocks");
	n = dkm_tar_parse(buf, len, &l, &why);
	tap_is_int(n, 3, "three members read back");
	if (n == 3) {
		tap_is_str(l[0].name, "meta", "first name");
		tap_is_int(l[0].size, 4, "first size");
		tap_ok(memcmp(l[0].data, "a=b\n", 4) == 0, "first data");
		tap_is_str(l[1].name, "modules/m.ko.xz", "second name");
		tap_is_int(l[1].size, 1300, "second size");
		tap_ok(memcmp(l[1].data, big, 1300) == 0, "second data");
		tap_is_int(l[2].size, 0, "empty member");
	}
	dkm_tar_entries_free(l, n > 0 ? (size_t)n : 0);
	/* ustar header fields a tar program relies on */
	tap_ok(memcmp(buf + 257, "ustar", 6) == 0 && memcmp(buf + 263, "00", 2) == 0,
	       "POSIX ustar magic and version");
	tap_ok(buf[156] == '0', "typeflag regular file");
}

static void test_long_name(void)
{
	_cleanup_free_ char *buf = NULL;
	struct dkm_tar_entry *l = NULL;
	const char *why = NULL;
	char name[200];
	size_t len = 0;
	int n;

	snprintf(name, sizeof(name), "%0120d/%060d", 1, 2);
	dkm_tar_add(&buf, &len, name, "x", 1, 0644, 0);
	dkm_tar_finish(&buf, &len);
	n = dkm_tar_parse(buf, len, &l, &why);
	tap_is_int(n, 1, "a 181-character name is split into prefix and name");
	if (n == 1)
		tap_is_str(l[0].name, name, "and read back whole");
	dkm_tar_entries_free(l, n > 0 ? (size_t)n : 0);
}

/* Patch a header field of the first member and fix its checksum again. */
static void patch(char *buf, size_t off, const char *value, size_t len)
{
	unsigned sum = 0;

	memcpy(buf + off, value, len);
	memset(buf + 148, ' ', 8);
	for (size_t i = 0; i < 512; i++)
		sum += (unsigned char)buf[i];
	snprintf(buf + 148, 8, "%06o", sum);
}

static void refused(const char *what, size_t off, const char *value, size_t vlen,
		    const char *want_why)
{
	_cleanup_free_ char *buf = NULL;
	struct dkm_tar_entry *l = NULL;
	const char *why = NULL;
	size_t len = 0;
	int n;

	dkm_tar_add(&buf, &len, "modules/x.ko", "data", 4, 0644, 0);
	dkm_tar_finish(&buf, &len);
	if (vlen)
		patch(buf, off, value, vlen);
	else
		buf[off] ^= 1; /* break the checksum */
	n = dkm_tar_parse(buf, len, &l, &why);
	tap_is_int(n, -EBADMSG, what);
	tap_ok(why && strstr(why, want_why), "%s: reason '%s' mentions '%s'", what,
	       why ? why : "(none)", want_why);
}

static void test_refusals(void)
{
	char name[100] = { 0 };

	strcpy(name, "/etc/passwd");
	refused("absolute name", 0, name, sizeof(name), "absolute");
	strcpy(name, "modules/../../x.ko");
	refused("'..' in the name", 0, name, sizeof(name), "'..'");
	refused("a symlink", 156, "2", 1, "not a regular file");
	refused("a hard link", 156, "1", 1, "not a regular file");
	refused("a pax extended header", 156, "x", 1, "not a regular file");
	refused("size beyond the archive", 124, "77777777777", 11, "size");
	refused("bad checksum", 0, "", 0, "checksum");
	refused("not ustar", 257, "nope!\0", 6, "magic");
}

static void test_truncated(void)
{
	_cleanup_free_ char *buf = NULL;
	struct dkm_tar_entry *l = NULL;
	const char *why = NULL;
	size_t len = 0;

	dkm_tar_add(&buf, &len, "a", "data", 4, 0644, 0);
	tap_is_int(dkm_tar_parse(buf, len, &l, &why), -EBADMSG, "no end marker: refused");
	tap_is_int(dkm_tar_parse(buf, 600, &l, &why), -EBADMSG, "cut inside a member: refused");
}

static void test_duplicates_and_dirs(void)
{
	_cleanup_free_ char *buf = NULL, *buf2 = NULL;
	struct dkm_tar_entry *l = NULL;
	const char *why = NULL;
	size_t len = 0, len2 = 0;
	int n;

	dkm_tar_add(&buf, &len, "a", "1", 1, 0644, 0);
	dkm_tar_add(&buf, &len, "./a", "2", 1, 0644, 0);
	dkm_tar_finish(&buf, &len);
	tap_is_int(dkm_tar_parse(buf, len, &l, &why), -EBADMSG, "the same name twice: refused");

	/* a directory entry (as `tar -cf x.tar dir` writes one) is skipped */
	dkm_tar_add(&buf2, &len2, "./modules/", "", 0, 0755, 0);
	patch(buf2, 156, "5", 1);
	dkm_tar_add(&buf2, &len2, "./modules/m.ko", "m", 1, 0644, 0);
	dkm_tar_finish(&buf2, &len2);
	n = dkm_tar_parse(buf2, len2, &l, &why);
	tap_is_int(n, 1, "directories are skipped");
	if (n == 1)
		tap_is_str(l[0].name, "modules/m.ko", "'./' is dropped from names");
	dkm_tar_entries_free(l, n > 0 ? (size_t)n : 0);
}

int main(void)
{
	test_round_trip();
	test_long_name();
	test_refusals();
	test_truncated();
	test_duplicates_and_dirs();
	return tap_done();
}
