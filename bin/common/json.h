/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The one JSON string writer of `status`, `verify` and `initrd-modules --json` (docs/json.md). */
#include <stdio.h>

/* s as a JSON string: '"' and '\' escaped, control characters as \n, \t or \u00XX, and any
 * byte that is not part of valid UTF-8 (a file name can hold anything) as U+FFFD, so the
 * output is always valid JSON in UTF-8. NULL is written as null. */
void dkm_json_str(FILE *f, const char *s);
