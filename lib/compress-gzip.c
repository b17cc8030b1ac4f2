/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gzip through zlib. Output as `gzip -n` (kbuild's `gzip -n -f`): level 6, no file name,
 * mtime 0, OS "Unix". The deflate bytes differ from GNU gzip's own encoder, the container does
 * not, and every reader (gzip -t, the kernel, kmod with zlib) accepts either. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <zlib.h>

#include "compress-internal.h"
#include "compress.h"
#include "ctx.h"
#include "log.h"
#include "util.h"

#define GZIP_LEVEL 6
#define GZIP_WINDOW_BITS (15 + 16) /* 32 KiB window, gzip wrapper */
#define GZIP_MEM_LEVEL 8

static void deflate_endp(z_stream **s)
{
	if (*s)
		deflateEnd(*s);
}

static void inflate_endp(z_stream **s)
{
	if (*s)
		inflateEnd(*s);
}

static int zlib_to_errno(int z)
{
	switch (z) {
	case Z_MEM_ERROR:
		return -ENOMEM;
	case Z_DATA_ERROR:
	case Z_NEED_DICT:
	case Z_BUF_ERROR:
		return -EBADMSG;
	default:
		return -EINVAL;
	}
}

/* zlib counts in uInt: feed at most this much per call so large buffers work too. */
static uInt chunk(size_t n)
{
	return n > UINT_MAX ? UINT_MAX : (uInt)n;
}

int dkm_gzip_compress(struct dkm_ctx *ctx, const void *in, size_t len, void **ret, size_t *ret_len)
{
	z_stream zs = {};
	_cleanup_(deflate_endp) z_stream *s = NULL;
	_cleanup_free_ unsigned char *out = NULL;
	size_t cap, in_pos = 0, out_pos = 0;
	int z;

	z = deflateInit2(&zs, GZIP_LEVEL, Z_DEFLATED, GZIP_WINDOW_BITS, GZIP_MEM_LEVEL,
			 Z_DEFAULT_STRATEGY);
	if (z != Z_OK)
		return dkm_err(ctx, zlib_to_errno(z), "cannot start gzip compression: %s",
			       zError(z));
	s = &zs;

	cap = deflateBound(s, (uLong)len) + 64;
	out = xmalloc(cap);
	for (;;) {
		size_t in_left = len - in_pos;
		uInt ain = chunk(in_left), aout = chunk(cap - out_pos);

		s->next_in = (Bytef *)in + in_pos;
		s->avail_in = ain;
		s->next_out = out + out_pos;
		s->avail_out = aout;
		z = deflate(s, ain == in_left ? Z_FINISH : Z_NO_FLUSH);
		in_pos += ain - s->avail_in;
		out_pos += aout - s->avail_out;
		if (z == Z_STREAM_END)
			break;
		if (out_pos == cap && (z == Z_OK || z == Z_BUF_ERROR)) {
			cap *= 2;
			out = xrealloc(out, cap);
		} else if (z != Z_OK)
			return dkm_err(ctx, zlib_to_errno(z), "gzip compression failed: %s",
				       s->msg ? s->msg : zError(z));
	}

	*ret = TAKE_PTR(out);
	*ret_len = out_pos;
	return 0;
}

static bool at_gzip_member(const unsigned char *p, size_t left)
{
	return left >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

int dkm_gzip_decompress(struct dkm_ctx *ctx, const void *in, size_t len, size_t max, void **ret,
			size_t *ret_len)
{
	const unsigned char *src = in;
	z_stream zs = {};
	_cleanup_(inflate_endp) z_stream *s = NULL;
	_cleanup_free_ unsigned char *out = NULL;
	size_t cap, in_pos = 0, out_pos = 0;
	int z;

	z = inflateInit2(&zs, GZIP_WINDOW_BITS);
	if (z != Z_OK)
		return dkm_err(ctx, zlib_to_errno(z), "cannot start gzip decompression: %s",
			       zError(z));
	s = &zs;

	cap = dkm_decompress_first_cap(0, len, max);
	out = xmalloc(cap);
	for (;;) {
		uInt ain = chunk(len - in_pos), aout = chunk(cap - out_pos);

		s->next_in = (Bytef *)src + in_pos;
		s->avail_in = ain;
		s->next_out = out + out_pos;
		s->avail_out = aout;
		z = inflate(s, Z_NO_FLUSH);
		in_pos += ain - s->avail_in;
		out_pos += aout - s->avail_out;

		if (z == Z_STREAM_END) {
			/* gzip and zlib's gzread accept concatenated members; so do we. */
			if (in_pos == len)
				break;
			if (!at_gzip_member(src + in_pos, len - in_pos))
				return dkm_err(ctx, EBADMSG,
					       "gzip data is corrupt: %zu bytes of trailing garbage",
					       len - in_pos);
			inflateReset(s);
			continue;
		}
		if (z != Z_OK && !(z == Z_BUF_ERROR && out_pos == cap))
			return dkm_err(ctx, zlib_to_errno(z), "gzip data is corrupt: %s",
				       z == Z_BUF_ERROR ? "unexpected end of data"
				       : s->msg		? s->msg
							: zError(z));
		if (out_pos == cap) {
			if (cap >= max)
				return dkm_err(ctx, EFBIG,
					       "gzip data inflates to more than %zu bytes", max);
			cap = cap > max / 2 ? max : cap * 2;
			out = xrealloc(out, cap);
		}
	}

	*ret = TAKE_PTR(out);
	*ret_len = out_pos;
	return 0;
}
