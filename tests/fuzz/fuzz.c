/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libFuzzer harness: one binary per target, chosen at build time with
 * -DFUZZ_TARGET='"conf"' (tests/fuzz/run builds them). */
#include <stdbool.h>

#include "targets.h"

#ifndef FUZZ_TARGET
#error "build with -DFUZZ_TARGET='\"<target>\"' (see tests/fuzz/run)"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dkm_ctx *ctx;
	static const struct fuzz_target *t;

	if (!ctx) {
		ctx = fuzz_ctx_new(getenv("FUZZ_VERBOSE") != NULL);
		t = fuzz_target_find(FUZZ_TARGET);
		if (!t)
			abort();
	}
	return t->fn(ctx, data, size);
}
