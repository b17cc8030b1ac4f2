/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"

static int n_tests, n_failed;

void tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	n_tests++;
	if (!cond)
		n_failed++;
	printf("%s %d - ", cond ? "ok" : "not ok", n_tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void tap_is_str_impl(const char *got, const char *want, const char *name, const char *file,
		     int line)
{
	bool same = (!got && !want) || (got && want && strcmp(got, want) == 0);

	tap_ok(same, "%s", name);
	if (!same)
		printf("#   %s:%d: got '%s', want '%s'\n", file, line, got ? got : "(null)",
		       want ? want : "(null)");
}

void tap_is_int_impl(long long got, long long want, const char *name, const char *file, int line)
{
	tap_ok(got == want, "%s", name);
	if (got != want)
		printf("#   %s:%d: got %lld, want %lld\n", file, line, got, want);
}

int tap_done(void)
{
	printf("1..%d\n", n_tests);
	return n_failed ? 1 : 0;
}
