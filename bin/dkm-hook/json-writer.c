/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json-writer.h"
#include "json.h"

static void value_start(struct json_writer *w, const char *key)
{
	if (w->need_comma[w->depth])
		fputc(',', w->f);
	if (w->prefix) {
		fputs(w->prefix, w->f);
		w->prefix = NULL;
	}
	if (key) {
		dkm_json_str(w->f, key);
		fputc(':', w->f);
	}
	w->need_comma[w->depth] = true;
}

static void open_(struct json_writer *w, const char *key, char c)
{
	value_start(w, key);
	fputc(c, w->f);
	if (w->depth + 1 < JW_DEPTH_MAX)
		w->depth++;
	w->need_comma[w->depth] = false;
}

static void close_(struct json_writer *w, char c)
{
	fputc(c, w->f);
	if (w->depth > 0)
		w->depth--;
}

void jw_object_begin(struct json_writer *w, const char *key)
{
	open_(w, key, '{');
}

void jw_object_end(struct json_writer *w)
{
	close_(w, '}');
}

void jw_array_begin(struct json_writer *w, const char *key)
{
	open_(w, key, '[');
}

void jw_array_end(struct json_writer *w)
{
	close_(w, ']');
}

void jw_str(struct json_writer *w, const char *key, const char *s)
{
	value_start(w, key);
	dkm_json_str(w->f, s);
}

void jw_int(struct json_writer *w, const char *key, long long v)
{
	value_start(w, key);
	fprintf(w->f, "%lld", v);
}

void jw_bool(struct json_writer *w, const char *key, bool v)
{
	value_start(w, key);
	fputs(v ? "true" : "false", w->f);
}

void jw_prefix(struct json_writer *w, const char *s)
{
	w->prefix = s;
}

void jw_raw(struct json_writer *w, const char *s)
{
	fputs(s, w->f);
}
