/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Capture what the library logs, so that tests can assert the exact messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"

struct log_capture {
	char last[2048];      /* the last message at any level */
	char last_err[2048];  /* the last error */
	char last_warn[2048]; /* the last warning */
	int n_err;
};

static inline void log_capture_fn(void *userdata, int level, const char *msg)
{
	struct log_capture *c = userdata;

	snprintf(c->last, sizeof(c->last), "%s", msg);
	if (level <= DKM_LOG_ERR) {
		snprintf(c->last_err, sizeof(c->last_err), "%s", msg);
		c->n_err++;
	} else if (level == DKM_LOG_WARNING)
		snprintf(c->last_warn, sizeof(c->last_warn), "%s", msg);
	if (getenv("TEST_SHOW_LOG"))
		fprintf(stderr, "# log %d: %s\n", level, msg);
}

static inline void log_capture_attach(struct dkm_ctx *ctx, struct log_capture *c)
{
	memset(c, 0, sizeof(*c));
	ctx->log_fn = log_capture_fn;
	ctx->log_userdata = c;
	ctx->log_level = DKM_LOG_DEBUG;
}

static inline void log_capture_reset(struct log_capture *c)
{
	memset(c, 0, sizeof(*c));
}
