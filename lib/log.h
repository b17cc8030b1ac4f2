/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "macro.h"

enum dkm_log_level {
	DKM_LOG_ERR = 3,
	DKM_LOG_WARNING = 4,
	DKM_LOG_NOTICE = 5, /* normal progress output, shown by default */
	DKM_LOG_INFO = 6,   /* shown with -v */
	DKM_LOG_DEBUG = 7,  /* shown with -vv or DKM_HOOK_DEBUG=1 */
};

struct dkm_ctx;

typedef void (*dkm_log_fn)(void *userdata, int level, const char *msg);

/* Output that is not a message: a progress line ("\r\033[K..." to redraw in place; only worth
 * showing on a terminal) and a package script's own output (bytes as the script wrote them). */
enum dkm_output {
	DKM_OUTPUT_PROGRESS,
	DKM_OUTPUT_SCRIPT,
};
typedef void (*dkm_output_fn)(void *userdata, enum dkm_output kind, const char *buf, size_t len);

/* Log through the context's log function. Returns -err (err given as positive or negative
 * errno, or 0) so callers can write `return dkm_err(ctx, r, ...)`. */
int dkm_log_full(struct dkm_ctx *ctx, int level, int err, const char *fmt, ...) _printf_(4, 5);

#define dkm_err(ctx, r, ...) dkm_log_full((ctx), DKM_LOG_ERR, (r), __VA_ARGS__)
#define dkm_warn(ctx, ...) dkm_log_full((ctx), DKM_LOG_WARNING, 0, __VA_ARGS__)
#define dkm_notice(ctx, ...) dkm_log_full((ctx), DKM_LOG_NOTICE, 0, __VA_ARGS__)
#define dkm_info(ctx, ...) dkm_log_full((ctx), DKM_LOG_INFO, 0, __VA_ARGS__)
#define dkm_debug(ctx, ...) dkm_log_full((ctx), DKM_LOG_DEBUG, 0, __VA_ARGS__)
