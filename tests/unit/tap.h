/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* A tiny TAP producer: each test file calls tap_ok() per assertion and tap_done() at the end. */
#include <stdbool.h>

void tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define tap_is_str(a, b, name) tap_is_str_impl((a), (b), (name), __FILE__, __LINE__)
void tap_is_str_impl(const char *got, const char *want, const char *name, const char *file,
		     int line);
#define tap_is_int(a, b, name)                                                                     \
	tap_is_int_impl((long long)(a), (long long)(b), (name), __FILE__, __LINE__)
void tap_is_int_impl(long long got, long long want, const char *name, const char *file, int line);
int tap_done(void); /* prints the plan, returns the exit code */
