/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* zstd through libzstd, as kbuild's `zstd -T0 --rm -f -q`: the CLI's defaults, level 3, with the
 * content size and a checksum in the frame header. */
#include <errno.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "compress-internal.h"
#include "compress.h"
#include "ctx.h"
#include "log.h"
#include "util.h"

#define ZSTD_LEVEL 3

static void cctx_freep(ZSTD_CCtx **c)
{
	ZSTD_freeCCtx(*c);
}

static void dstream_freep(ZSTD_DStream **d)
{
	ZSTD_freeDStream(*d);
}

static int zstd_to_errno(size_t z)
{
	switch (ZSTD_getErrorCode(z)) {
	case ZSTD_error_memory_allocation:
		return -ENOMEM;
	case ZSTD_error_frameParameter_windowTooLarge:
	case ZSTD_error_frameParameter_unsupported:
	case ZSTD_error_parameter_unsupported:
		return -EOPNOTSUPP;
	default:
		return -EBADMSG;
	}
}

int dkm_zstd_compress(struct dkm_ctx *ctx, const void *in, size_t len, void **ret, size_t *ret_len)
{
	_cleanup_(cctx_freep) ZSTD_CCtx *c = ZSTD_createCCtx();
	_cleanup_free_ void *out = NULL;
	size_t cap = ZSTD_compressBound(len), z;

	if (!c)
		return dkm_err(ctx, ENOMEM, "cannot start zstd compression: out of memory");
	z = ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, ZSTD_LEVEL);
	if (!ZSTD_isError(z))
		z = ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(z))
		z = ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1);
	if (ZSTD_isError(z))
		return dkm_err(ctx, zstd_to_errno(z), "cannot start zstd compression: %s",
			       ZSTD_getErrorName(z));

	out = xmalloc(cap);
	z = ZSTD_compress2(c, out, cap, in, len);
	if (ZSTD_isError(z))
		return dkm_err(ctx, zstd_to_errno(z), "zstd compression failed: %s",
			       ZSTD_getErrorName(z));
	*ret = TAKE_PTR(out);
	*ret_len = z;
	return 0;
}

int dkm_zstd_decompress(struct dkm_ctx *ctx, const void *in, size_t len, size_t max, void **ret,
			size_t *ret_len)
{
	_cleanup_(dstream_freep) ZSTD_DStream *d = ZSTD_createDStream();
	_cleanup_free_ unsigned char *out = NULL;
	unsigned long long hint = ZSTD_getFrameContentSize(in, len);
	ZSTD_inBuffer ib = { .src = in, .size = len, .pos = 0 };
	ZSTD_outBuffer ob;
	size_t cap, z;

	if (!d)
		return dkm_err(ctx, ENOMEM, "cannot start zstd decompression: out of memory");

	/* The size in the frame header is a claim, not a fact */
	cap = dkm_decompress_first_cap(hint == ZSTD_CONTENTSIZE_UNKNOWN ||
						       hint == ZSTD_CONTENTSIZE_ERROR
					       ? 0
					       : hint,
				       len, max);
	out = xmalloc(cap);
	ob = (ZSTD_outBuffer){ .dst = out, .size = cap, .pos = 0 };

	/* Frames may be concatenated (zstd(1) accepts that): done when the input is used up and
	 * the decoder reports the end of a frame (0) with nothing left to flush. */
	for (;;) {
		size_t in_before = ib.pos, out_before = ob.pos;

		z = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(z))
			return dkm_err(ctx, zstd_to_errno(z), "zstd data is corrupt: %s",
				       ZSTD_getErrorName(z));
		if (z == 0 && ib.pos == ib.size)
			break;
		if (ob.pos == ob.size) {
			if (cap >= max)
				return dkm_err(ctx, EFBIG,
					       "zstd data inflates to more than %zu bytes", max);
			cap = cap > max / 2 ? max : cap * 2;
			out = xrealloc(out, cap);
			ob.dst = out;
			ob.size = cap;
		} else if (ib.pos == in_before && ob.pos == out_before)
			return dkm_err(ctx, EBADMSG,
				       "zstd data is corrupt: unexpected end of data");
	}

	*ret = TAKE_PTR(out);
	*ret_len = ob.pos;
	return 0;
}
