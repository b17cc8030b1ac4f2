/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* xz through liblzma, with the parameters of kbuild's `xz --check=crc32 --lzma2=dict=1MiB`:
 * the in-kernel decompressor (CONFIG_MODULE_DECOMPRESS, and the initramfs loaders) rejects
 * CRC64/SHA-256 checks and dictionaries it has not preallocated. */
#include <errno.h>
#include <lzma.h>
#include <string.h>

#include "compress-internal.h"
#include "compress.h"
#include "ctx.h"
#include "log.h"
#include "util.h"

#define XZ_PRESET 6 /* what `xz --lzma2=...` starts from when no preset= is given */
#define XZ_DICT_SIZE (UINT32_C(1) << 20)
/* Decoder memory: `xz -9` (a 64 MiB dictionary) needs 65 MiB; modules use 1 MiB. Without a
 * limit a 68-byte file declaring a 4 GiB dictionary makes liblzma allocate 4 GiB (found by
 * the decompress fuzz target: tests/fuzz/regressions/decompress/xz-4gib-dictionary). */
#define XZ_DECODER_MEMLIMIT (UINT64_C(128) << 20)

static void lzma_endp(lzma_stream **s)
{
	if (*s)
		lzma_end(*s);
}
#define _cleanup_lzma_ _cleanup_(lzma_endp)

static int lzma_to_errno(lzma_ret l)
{
	switch (l) {
	case LZMA_MEM_ERROR:
	case LZMA_MEMLIMIT_ERROR:
		return -ENOMEM;
	case LZMA_FORMAT_ERROR:
	case LZMA_DATA_ERROR:
	case LZMA_BUF_ERROR:
		return -EBADMSG;
	case LZMA_UNSUPPORTED_CHECK:
	case LZMA_OPTIONS_ERROR:
		return -EOPNOTSUPP;
	default:
		return -EINVAL;
	}
}

static const char *lzma_describe(lzma_ret l)
{
	switch (l) {
	case LZMA_MEM_ERROR:
		return "out of memory";
	case LZMA_MEMLIMIT_ERROR:
		return "memory limit reached";
	case LZMA_FORMAT_ERROR:
		return "not in .xz format";
	case LZMA_OPTIONS_ERROR:
		return "unsupported options";
	case LZMA_DATA_ERROR:
		return "corrupt data";
	case LZMA_BUF_ERROR:
		return "unexpected end of data";
	case LZMA_UNSUPPORTED_CHECK:
		return "unsupported integrity check";
	default:
		return "internal error";
	}
}

/* Run the coder over all of in[], growing the output up to max. */
static int xz_code(struct dkm_ctx *ctx, lzma_stream *s, bool decoding, const void *in, size_t len,
		   size_t max, size_t cap, void **ret, size_t *ret_len)
{
	_cleanup_free_ uint8_t *out = xmalloc(cap);
	lzma_ret l;

	s->next_in = in;
	s->avail_in = len;
	s->next_out = out;
	s->avail_out = cap;
	for (;;) {
		l = lzma_code(s, LZMA_FINISH);
		if (l == LZMA_STREAM_END)
			break;
		if (l != LZMA_OK && decoding && lzma_to_errno(l) == -EBADMSG)
			return dkm_err(ctx, EBADMSG, "xz data is corrupt: %s", lzma_describe(l));
		if (l == LZMA_MEMLIMIT_ERROR)
			return dkm_err(
				ctx, EFBIG,
				"xz data needs more than %llu MiB of memory to decompress (a dictionary larger than any module uses)",
				(unsigned long long)(XZ_DECODER_MEMLIMIT >> 20));
		if (l != LZMA_OK)
			return dkm_err(ctx, lzma_to_errno(l), "xz %s failed: %s",
				       decoding ? "decompression" : "compression",
				       lzma_describe(l));
		if (s->avail_out == 0) {
			size_t used = cap;

			if (cap >= max)
				return dkm_err(ctx, EFBIG,
					       "xz data inflates to more than %zu bytes", max);
			cap = cap > max / 2 ? max : cap * 2;
			out = xrealloc(out, cap);
			s->next_out = out + used;
			s->avail_out = cap - used;
		}
	}
	*ret_len = cap - s->avail_out;
	*ret = TAKE_PTR(out);
	return 0;
}

int dkm_xz_compress(struct dkm_ctx *ctx, const void *in, size_t len, void **ret, size_t *ret_len)
{
	lzma_stream zs = LZMA_STREAM_INIT;
	_cleanup_lzma_ lzma_stream *s = NULL;
	lzma_options_lzma opt;
	lzma_filter filters[] = {
		{ .id = LZMA_FILTER_LZMA2, .options = &opt },
		{ .id = LZMA_VLI_UNKNOWN, .options = NULL },
	};
	lzma_ret l;

	if (lzma_lzma_preset(&opt, XZ_PRESET))
		return dkm_err(ctx, EINVAL, "xz compression failed: preset %d unsupported",
			       XZ_PRESET);
	opt.dict_size = XZ_DICT_SIZE;

	l = lzma_stream_encoder(&zs, filters, LZMA_CHECK_CRC32);
	if (l != LZMA_OK)
		return dkm_err(ctx, lzma_to_errno(l), "cannot start xz compression: %s",
			       lzma_describe(l));
	s = &zs;
	return xz_code(ctx, s, false, in, len, SIZE_MAX, lzma_stream_buffer_bound(len), ret,
		       ret_len);
}

int dkm_xz_decompress(struct dkm_ctx *ctx, const void *in, size_t len, size_t max, void **ret,
		      size_t *ret_len)
{
	lzma_stream zs = LZMA_STREAM_INIT;
	_cleanup_lzma_ lzma_stream *s = NULL;
	lzma_ret l;

	/* LZMA_CONCATENATED: like xz(1) and kmod, accept several streams and stream padding. */
	l = lzma_stream_decoder(&zs, XZ_DECODER_MEMLIMIT, LZMA_CONCATENATED);
	if (l != LZMA_OK)
		return dkm_err(ctx, lzma_to_errno(l), "cannot start xz decompression: %s",
			       lzma_describe(l));
	s = &zs;
	return xz_code(ctx, s, true, in, len, max, dkm_decompress_first_cap(0, len, max), ret,
		       ret_len);
}
