/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/json.c: whatever a string holds (quotes, control characters, bytes that are not UTF-8
 * from a file name), what we print is valid JSON in UTF-8 that reads back as the string. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"
#include "util.h"

static char *json(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	dkm_json_str(f, s);
	fclose(f);
	return buf;
}

static void is_json(const char *in, const char *want, const char *name)
{
	_cleanup_free_ char *got = json(in);

	tap_is_str(got, want, name);
}

static void test_escapes(void)
{
	is_json(NULL, "null", "NULL is null");
	is_json("", "\"\"", "empty");
	is_json("plain /lib/modules/6.1", "\"plain /lib/modules/6.1\"", "plain text as is");
	is_json("a\"b\\c", "\"a\\\"b\\\\c\"", "quote and backslash escaped");
	is_json("l1\nl2\tx", "\"l1\\nl2\\tx\"", "newline and tab");
	is_json("\x01\x1b[2J\x7f", "\"\\u0001\\u001b[2J\\u007f\"", "other controls as \\u00XX");
}

static void test_utf8(void)
{
	is_json("Gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x90\xa7",
		"\"Gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x90\xa7\"",
		"valid UTF-8 (2, 3, 4 bytes) as is");
	is_json("latin1 \xe9t\xe9", "\"latin1 \\ufffdt\\ufffd\"",
		"a Latin-1 file name: U+FFFD per byte");
	is_json("\xc0\xaf", "\"\\ufffd\\ufffd\"", "overlong '/' is not UTF-8");
	is_json("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"", "a UTF-16 surrogate is not UTF-8");
	is_json("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"",
		"past U+10FFFF is not UTF-8");
	is_json("cut \xe2\x82", "\"cut \\ufffd\\ufffd\"", "a sequence cut by the end");
	is_json("\x80x", "\"\\ufffdx\"", "a lone continuation byte");
	tap_is_int(dkm_utf8_seq_len((const unsigned char *)"\xef\xbf\xbf"), 3, "U+FFFF is 3 bytes");
	tap_is_int(dkm_utf8_seq_len((const unsigned char *)"\xe0\x9f\xbf"), 0,
		   "overlong 3-byte form");
}

int main(void)
{
	test_escapes();
	test_utf8();
	return tap_done();
}
