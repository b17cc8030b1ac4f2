/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keygen and verify verbs (verb-sign.c), also driven by tests/tools/sign-module. */
#pragma once

#include <stdbool.h>

struct dkm_ctx;

/* Exit codes of `dkm-hook verify` (docs/signing.md). */
enum {
	DKM_VERIFY_EXIT_VALID = 0,     /* signed by the certificate's key, contents intact */
	DKM_VERIFY_EXIT_INVALID = 1,   /* signature does not verify, or is malformed */
	DKM_VERIFY_EXIT_ERROR = 2,     /* could not check: unreadable file, not a module, no cert */
	DKM_VERIFY_EXIT_UNSIGNED = 3,  /* no signature at all */
	DKM_VERIFY_EXIT_OTHER_KEY = 4, /* well-formed signature by a different key */
};

/* `dkm-hook keygen [--force]`: create the key pair at ctx->sign_key / ctx->sign_cert (inside
 * the root). Refuses to replace an existing pair without force. Returns the exit code: 0 when
 * a key was generated, 1 otherwise (the reason is logged). */
int dkm_cmd_keygen(struct dkm_ctx *ctx, bool force);

/* `dkm-hook verify <file> [--cert FILE] [--json]`: show a module's signature (the file may be
 * compressed) and check it against cert_path, or the configured certificate when NULL. Prints a
 * report on stdout (text, or one JSON object) and returns one of DKM_VERIFY_EXIT_*. */
int dkm_cmd_verify(struct dkm_ctx *ctx, const char *module_path, const char *cert_path, bool json);
