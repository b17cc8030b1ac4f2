/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dispatch to the compression backends and recognise formats by their magic. */
#include <errno.h>
#include <string.h>

#include "compress-internal.h"
#include "compress.h"
#include "ctx.h"
#include "log.h"
#include "util.h"

static const struct {
	const char *name;
	const char *suffix;
	const unsigned char *magic;
	size_t magic_len;
} formats[_DKM_COMPRESS_MAX] = {
	[DKM_COMPRESS_NONE] = { "none", "", NULL, 0 },
	[DKM_COMPRESS_GZIP] = { "gzip", ".gz", (const unsigned char *)"\x1f\x8b", 2 },
	[DKM_COMPRESS_XZ] = { "xz", ".xz",
			      (const unsigned char *)"\xfd"
						     "7zXZ\0",
			      6 },
	[DKM_COMPRESS_ZSTD] = { "zstd", ".zst", (const unsigned char *)"\x28\xb5\x2f\xfd", 4 },
};

size_t dkm_decompress_first_cap(unsigned long long claimed, size_t len, size_t max)
{
	/* modules compress 3-6x; 64x plus a page is beyond any real one */
	size_t plausible = len < (max - 65536) / 64 ? len * 64 + 65536 : max;

	if (claimed > 0 && claimed < max && claimed < plausible)
		return (size_t)claimed + 1; /* +1: the decoder must see that nothing follows */
	return len < max / 4 ? len * 4 + 4096 : max;
}

static bool valid(enum dkm_compression c)
{
	return (unsigned)c < _DKM_COMPRESS_MAX;
}

const char *dkm_compression_name(enum dkm_compression c)
{
	return valid(c) ? formats[c].name : NULL;
}

const char *dkm_compression_suffix(enum dkm_compression c)
{
	return valid(c) ? formats[c].suffix : NULL;
}

int dkm_compression_from_string(const char *s, enum dkm_compression *ret)
{
	if (!s)
		return -EINVAL;
	for (unsigned c = 0; c < _DKM_COMPRESS_MAX; c++) {
		bool by_suffix = c != DKM_COMPRESS_NONE && streq(s, formats[c].suffix + 1);

		if (streq(s, formats[c].name) || by_suffix) {
			*ret = (enum dkm_compression)c;
			return 0;
		}
	}
	return -EINVAL;
}

enum dkm_compression dkm_compression_from_path(const char *path)
{
	for (unsigned c = DKM_COMPRESS_NONE + 1; c < _DKM_COMPRESS_MAX; c++)
		if (endswith(path, formats[c].suffix))
			return (enum dkm_compression)c;
	return DKM_COMPRESS_NONE;
}

enum dkm_compression dkm_compression_detect(const void *in, size_t len)
{
	for (unsigned c = DKM_COMPRESS_NONE + 1; c < _DKM_COMPRESS_MAX; c++)
		if (len >= formats[c].magic_len &&
		    memcmp(in, formats[c].magic, formats[c].magic_len) == 0)
			return (enum dkm_compression)c;
	return DKM_COMPRESS_NONE;
}

static int copy_buffer(const void *in, size_t len, void **ret, size_t *ret_len)
{
	void *out = xmalloc(len);

	if (len > 0)
		memcpy(out, in, len);
	*ret = out;
	*ret_len = len;
	return 0;
}

int dkm_compress(struct dkm_ctx *ctx, enum dkm_compression c, const void *in, size_t len,
		 void **ret, size_t *ret_len)
{
	switch (c) {
	case DKM_COMPRESS_NONE:
		return copy_buffer(in, len, ret, ret_len);
	case DKM_COMPRESS_GZIP:
		return dkm_gzip_compress(ctx, in, len, ret, ret_len);
	case DKM_COMPRESS_XZ:
		return dkm_xz_compress(ctx, in, len, ret, ret_len);
	case DKM_COMPRESS_ZSTD:
		return dkm_zstd_compress(ctx, in, len, ret, ret_len);
	default:
		return dkm_err(ctx, EINVAL, "unknown compression %d", (int)c);
	}
}

int dkm_decompress(struct dkm_ctx *ctx, const void *in, size_t len, void **ret, size_t *ret_len,
		   enum dkm_compression *ret_type)
{
	enum dkm_compression c = dkm_compression_detect(in, len);
	void *out = NULL;
	size_t out_len = 0;
	int r;

	switch (c) {
	case DKM_COMPRESS_GZIP:
		r = dkm_gzip_decompress(ctx, in, len, DKM_DECOMPRESS_MAX, &out, &out_len);
		break;
	case DKM_COMPRESS_XZ:
		r = dkm_xz_decompress(ctx, in, len, DKM_DECOMPRESS_MAX, &out, &out_len);
		break;
	case DKM_COMPRESS_ZSTD:
		r = dkm_zstd_decompress(ctx, in, len, DKM_DECOMPRESS_MAX, &out, &out_len);
		break;
	default:
		r = copy_buffer(in, len, &out, &out_len);
		break;
	}
	if (r < 0)
		return r;
	*ret = out;
	*ret_len = out_len;
	if (ret_type)
		*ret_type = c;
	return 0;
}
