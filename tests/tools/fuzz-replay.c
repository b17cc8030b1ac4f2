/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-replay [-v] <target> <file>...
 *
 * Feeds each file through the same code the libFuzzer harness runs (tests/fuzz/targets.h),
 * without clang or libFuzzer: the regression inputs under tests/fuzz/regressions/<target>/
 * are replayed by tests/fuzz-regressions.bats on every `make check`. A broken invariant
 * aborts; under SANITIZE=address,undefined a memory error does too. Prints "ok <file>" per
 * input and exits 0 when every input went through. -v prints the library's messages. */
#include <stdbool.h>

#include "../fuzz/targets.h"

int main(int argc, char **argv)
{
	const struct fuzz_target *t;
	struct dkm_ctx *ctx;
	bool verbose = false;
	int i = 1, ret = 0;

	if (i < argc && streq(argv[i], "-v")) {
		verbose = true;
		i++;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: fuzz-replay [-v] <target> <file>...\ntargets:");
		for (size_t k = 0; k < ELEMENTSOF(fuzz_targets); k++)
			fprintf(stderr, " %s", fuzz_targets[k].name);
		fprintf(stderr, "\n");
		return 2;
	}
	t = fuzz_target_find(argv[i]);
	if (!t) {
		fprintf(stderr, "fuzz-replay: error: unknown target '%s'\n", argv[i]);
		return 2;
	}
	ctx = fuzz_ctx_new(verbose);
	for (i++; i < argc; i++) {
		char *data = NULL;
		size_t len = 0;
		int r = read_full_file(argv[i], (size_t)64 << 20, &data, &len);

		if (r < 0) {
			fprintf(stderr, "fuzz-replay: error: cannot read '%s': %s\n", argv[i],
				strerror(-r));
			ret = 1;
			continue;
		}
		t->fn(ctx, (const uint8_t *)data, len);
		free(data);
		printf("ok %s\n", argv[i]);
		fflush(stdout);
	}
	dkm_ctx_free(ctx);
	return ret;
}
