/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A small JSON writer for the front end's --json output: it places the commas and the keys,
 * strings go through bin/common/json.c's escaping (always valid UTF-8). Output is byte for byte what
 * the calls say: no whitespace but what jw_prefix() and jw_raw() put. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#define JW_DEPTH_MAX 16

struct json_writer {
	FILE *f;
	unsigned depth;
	bool need_comma[JW_DEPTH_MAX];
	const char *prefix; /* written before the next value, after its comma */
};

#define JSON_WRITER_INIT(file)                                                                     \
	{                                                                                          \
		.f = (file)                                                                        \
	}

/* key: the member's name inside an object; NULL inside an array or at the top */
void jw_object_begin(struct json_writer *w, const char *key);
void jw_object_end(struct json_writer *w);
void jw_array_begin(struct json_writer *w, const char *key);
void jw_array_end(struct json_writer *w);
/* s NULL is written as null */
void jw_str(struct json_writer *w, const char *key, const char *s);
void jw_int(struct json_writer *w, const char *key, long long v);
void jw_bool(struct json_writer *w, const char *key, bool v);
/* s goes before the next value (after the comma that separates it): a newline and indent */
void jw_prefix(struct json_writer *w, const char *s);
/* s as it is, now (a newline before a closing bracket) */
void jw_raw(struct json_writer *w, const char *s);
