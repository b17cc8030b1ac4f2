/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to the dkms.conf reader: what conf.c asks of conf-shell.c (and the tests that drive
 * it directly). Everyone else uses conf.h. */
#pragma once

#include "conf.h"

struct dkm_shvars;

/* Evaluate the (already read, CRLF-normalised) text with a sandboxed bash: unprivileged,
 * scrubbed environment, time limit, values returned NUL-separated on a dedicated pipe. */
int dkm_conf_shell_eval(struct dkm_ctx *ctx, const char *path, const char *text,
			const struct dkm_conf_env *env, struct dkm_shvars **ret_vars);
/* Rename $BASH_SOURCE references (quote-aware) so the text can be sourced from a
 * memfd while $BASH_SOURCE still reads as the file's path. ret_count may be NULL. */
char *dkm_conf_shell_rewrite(const char *text, unsigned *ret_count);
