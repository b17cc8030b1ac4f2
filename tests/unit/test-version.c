/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Version ordering: lib/util.c version_compare() (kernel and package versions, `sort -V` and
 * dpkg alike: numbers by value, '~' before anything, even the end) and lib/conf.c
 * dkm_conf_ver_compare() (DKMS's own BUILD_EXCLUSIVE_KERNEL_MIN/MAX ordering: every number
 * padded to three digits, then compared as text). */
#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "tap.h"
#include "util.h"

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

static void less(const char *a, const char *b, const char *why)
{
	tap_ok(version_compare(a, b) < 0 && version_compare(b, a) > 0, "%s < %s: %s", a, b, why);
}

static void same(const char *a, const char *b, const char *why)
{
	tap_ok(version_compare(a, b) == 0 && version_compare(b, a) == 0, "%s == %s: %s", a, b, why);
}

static void test_version_compare(void)
{
	same("6.1.0-18-amd64", "6.1.0-18-amd64", "equal");
	same("", "", "both empty");
	same("1.007", "1.7", "leading zeros do not count");
	less("6.1.9", "6.1.10", "numbers by value, not by text");
	less("6.9.12", "6.10.0", "numbers by value in the middle");
	less("6.1.0-18-amd64", "6.1.0-20-amd64", "Debian ABI numbers");
	less("6.1.0-9-amd64", "6.1.0-10-amd64", "one digit against two");
	less("1.0", "1.0.1", "a longer version after its prefix");
	less("1.0", "1.0a", "letters after the end");
	less("1.0~rc1", "1.0", "'~' before the end (pre-release)");
	less("1.0~rc1", "1.0~rc2", "between pre-releases");
	less("1.0~~", "1.0~", "'~~' before '~'");
	less("6.1.a", "6.1.10", "a number after letters");
	less("1.0a", "1.0b", "letters by byte value");
	less("", "0", "empty before anything");
	less("6.1.0-rt", "6.1.0-rt1", "a suffix number after its absence");
}

static void test_sort(void)
{
	const char *l[] = { "6.10.0-1-amd64",
			    "6.1.0-20-amd64",
			    "6.1.0-9-amd64",
			    "5.10.0-28-amd64",
			    "6.1.0-18-amd64",
			    "6.1.0-18-amd64~bpo",
			    NULL };
	const char *want[] = { "5.10.0-28-amd64", "6.1.0-9-amd64",  "6.1.0-18-amd64~bpo",
			       "6.1.0-18-amd64",  "6.1.0-20-amd64", "6.10.0-1-amd64" };
	bool ok = true;

	qsort(l, ELEMENTSOF(want), sizeof(char *), version_compare_ptr);
	for (size_t i = 0; i < ELEMENTSOF(want); i++)
		ok = ok && streq(l[i], want[i]);
	tap_ok(ok, "qsort with version_compare_ptr: kernels in version order");
}

static void test_dkms_compare(void)
{
	static const struct {
		const char *a, *b;
		int want;
		const char *why;
	} t[] = {
		{ "5.10.0", "5.9.0", 1, "5.010 after 5.009" },
		{ "5.4.0-100-generic", "5.4.0-99-generic", 1, "ABI numbers padded" },
		{ "6.1.0", "6.1.0", 0, "equal" },
		{ "6.1", "6.1.0", -1, "a prefix first" },
		{ "6.1.0-18-amd64", "6.1.0-18", 1, "a suffix after" },
		{ "6.1.1000", "6.1.999", -1, "past three digits DKMS compares text (as it does)" },
	};

	for (size_t i = 0; i < ELEMENTSOF(t); i++)
		tap_is_int(sign(dkm_conf_ver_compare(t[i].a, t[i].b)), t[i].want, t[i].why);
}

int main(void)
{
	test_version_compare();
	test_sort();
	test_dkms_compare();
	return tap_done();
}
