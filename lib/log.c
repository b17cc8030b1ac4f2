/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctx.h"
#include "log.h"
#include "util.h"

/* A message is one line of text whatever it quotes: a control character from a file name,
 * an argument or a build log (a newline, an escape sequence) is shown as \n, \r or \xNN, so
 * it can neither fake a line nor drive the terminal. Tabs stay. */
static char *escape_controls(char *msg)
{
	size_t n = 0;
	char *s, *o;

	for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
		n += (*p < 0x20 && *p != '\t') || *p == 0x7f;
	if (n == 0)
		return msg;
	s = xmalloc(strlen(msg) + 3 * n + 1);
	o = s;
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			o += sprintf(o, "\\%c", *p == '\n' ? 'n' : 'r');
		else if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			o += sprintf(o, "\\x%02x", *p);
		else
			*o++ = (char)*p;
	*o = '\0';
	free(msg);
	return s;
}

int dkm_log_full(struct dkm_ctx *ctx, int level, int err, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	if (err > 0)
		err = -err;
	if (ctx && level > ctx->log_level)
		return err;
	va_start(ap, fmt);
	msg = escape_controls(xvasprintf(fmt, ap));
	va_end(ap);
	if (ctx && ctx->log_fn)
		ctx->log_fn(ctx->log_userdata, level, msg);
	else /* a program that set no log function: stderr, as libkmod's default */
		fprintf(stderr, "dkm-hook: %s%s\n",
			level <= DKM_LOG_ERR	   ? "error: "
			: level == DKM_LOG_WARNING ? "warning: "
						   : "",
			msg);
	return err;
}
