/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to the compression code: compress.c's dispatcher and its backends (and the tests that
 * drive a backend directly). Everyone else uses compress.h. */
#pragma once

#include <stddef.h>

struct dkm_ctx;

/* Backends, one file each (compress-gzip.c, compress-xz.c, compress-zstd.c). Called by the
 * dispatcher only; each converts its library's codes to -errno and logs at its boundary. */
int dkm_gzip_compress(struct dkm_ctx *ctx, const void *in, size_t len, void **ret, size_t *ret_len);
int dkm_gzip_decompress(struct dkm_ctx *ctx, const void *in, size_t len, size_t max, void **ret,
			size_t *ret_len);
int dkm_xz_compress(struct dkm_ctx *ctx, const void *in, size_t len, void **ret, size_t *ret_len);
int dkm_xz_decompress(struct dkm_ctx *ctx, const void *in, size_t len, size_t max, void **ret,
		      size_t *ret_len);
int dkm_zstd_compress(struct dkm_ctx *ctx, const void *in, size_t len, void **ret, size_t *ret_len);
int dkm_zstd_decompress(struct dkm_ctx *ctx, const void *in, size_t len, size_t max, void **ret,
			size_t *ret_len);
