/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctx.h"
#include "log.h"
#include "util.h"

int dkm_log_full(struct dkm_ctx *ctx, int level, int err, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	if (err > 0)
		err = -err;
	if (ctx && level > ctx->log_level)
		return err;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (ctx && ctx->log_fn)
		ctx->log_fn(ctx->log_userdata, level, msg);
	else
		fprintf(stderr, "dkm-hook: %s%s\n",
			level <= DKM_LOG_ERR ? "error: " : level == DKM_LOG_WARNING ? "warning: " : "",
			msg);
	return err;
}
