/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "log.h"

/* The log function of the front ends (ctx->log_fn, with a struct dkm_log_sink as
 * ctx->log_userdata): errors and warnings to stderr after their prefix, the rest to stdout
 * after the notice prefix, stderr flushed first so that the two stay in order. */
struct dkm_log_sink {
	const char *error;   /* "dkm-hook: error: " */
	const char *warning; /* "dkm-hook: warning: " */
	const char *notice;  /* "" */
};
void dkm_log_to_stdio(void *userdata, int level, const char *msg);

/* ctx->output_fn of the front ends: a script's output to stderr, the progress line to stderr
 * when it is a terminal (nowhere else) */
void dkm_output_to_stdio(void *userdata, enum dkm_output kind, const char *buf, size_t len);
