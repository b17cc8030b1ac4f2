/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <lzma.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "compress-internal.h"
#include "compress.h"
#include "ctx.h"
#include "log-capture.h"
#include "tap.h"
#include "util.h"

/* tap_is_int with a printf-style name */
static void _printf_(3, 4) is_int(long long got, long long want, const char *fmt, ...)
{
	_cleanup_free_ char *name = NULL;
	va_list ap;

	va_start(ap, fmt);
	name = xvasprintf(fmt, ap);
	va_end(ap);
	tap_is_int_impl(got, want, name, __FILE__, __LINE__);
}

static struct dkm_ctx *ctx;
static struct log_capture cap;

static const enum dkm_compression packed[] = { DKM_COMPRESS_GZIP, DKM_COMPRESS_XZ,
					       DKM_COMPRESS_ZSTD };

/* Something module-like: repetitive text with pseudo-random runs, not trivially compressible. */
static uint8_t *sample(size_t len)
{
	uint8_t *p = xmalloc(len);
	uint32_t x = 2463534242u;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (i / 64) % 3 == 0 ? (uint8_t)x : (uint8_t)("kernel module "[i % 14]);
	}
	return p;
}

static void test_names(void)
{
	enum dkm_compression c = _DKM_COMPRESS_MAX;

	tap_is_str(dkm_compression_name(DKM_COMPRESS_NONE), "none", "name none");
	tap_is_str(dkm_compression_name(DKM_COMPRESS_GZIP), "gzip", "name gzip");
	tap_is_str(dkm_compression_name(DKM_COMPRESS_XZ), "xz", "name xz");
	tap_is_str(dkm_compression_name(DKM_COMPRESS_ZSTD), "zstd", "name zstd");
	tap_ok(dkm_compression_name(_DKM_COMPRESS_MAX) == NULL, "no name past the end");
	tap_is_str(dkm_compression_suffix(DKM_COMPRESS_NONE), "", "suffix none");
	tap_is_str(dkm_compression_suffix(DKM_COMPRESS_GZIP), ".gz", "suffix gzip");
	tap_is_str(dkm_compression_suffix(DKM_COMPRESS_XZ), ".xz", "suffix xz");
	tap_is_str(dkm_compression_suffix(DKM_COMPRESS_ZSTD), ".zst", "suffix zstd");

	tap_ok(dkm_compression_from_string("zstd", &c) == 0 && c == DKM_COMPRESS_ZSTD, "zstd");
	tap_ok(dkm_compression_from_string("zst", &c) == 0 && c == DKM_COMPRESS_ZSTD, "zst");
	tap_ok(dkm_compression_from_string("gz", &c) == 0 && c == DKM_COMPRESS_GZIP, "gz");
	tap_ok(dkm_compression_from_string("none", &c) == 0 && c == DKM_COMPRESS_NONE, "none");
	c = DKM_COMPRESS_XZ;
	tap_is_int(dkm_compression_from_string("", &c), -EINVAL, "empty string refused");
	tap_is_int(dkm_compression_from_string("bzip2", &c), -EINVAL, "bzip2 refused");
	tap_is_int(dkm_compression_from_string(NULL, &c), -EINVAL, "NULL refused");
	tap_is_int(c, DKM_COMPRESS_XZ, "ret untouched on error");

	tap_is_int(dkm_compression_from_path("/lib/modules/x/a.ko.xz"), DKM_COMPRESS_XZ, "path xz");
	tap_is_int(dkm_compression_from_path("a.ko.zst"), DKM_COMPRESS_ZSTD, "path zst");
	tap_is_int(dkm_compression_from_path("a.ko.gz"), DKM_COMPRESS_GZIP, "path gz");
	tap_is_int(dkm_compression_from_path("a.ko"), DKM_COMPRESS_NONE, "path ko");
}

static void test_roundtrip(size_t len)
{
	_cleanup_free_ uint8_t *in = sample(len);

	for (size_t i = 0; i < ELEMENTSOF(packed); i++) {
		const char *name = dkm_compression_name(packed[i]);
		_cleanup_free_ void *z = NULL, *back = NULL;
		size_t zlen = 0, blen = 0;
		enum dkm_compression got = DKM_COMPRESS_NONE;

		is_int(dkm_compress(ctx, packed[i], in, len, &z, &zlen), 0, "compress %s", name);
		tap_ok(len < 4096 || zlen < len, "%s of %zu bytes shrinks (%zu)", name, len, zlen);
		is_int(dkm_compression_detect(z, zlen), packed[i], "detect %s", name);
		is_int(dkm_decompress(ctx, z, zlen, &back, &blen, &got), 0, "decompress %s", name);
		is_int(got, packed[i], "reported type %s", name);
		tap_ok(blen == len && (len == 0 || memcmp(back, in, len) == 0),
		       "%s round trip of %zu bytes", name, len);
	}
}

static void test_none(void)
{
	_cleanup_free_ void *out = NULL, *back = NULL;
	size_t olen = 0, blen = 0;
	enum dkm_compression got = DKM_COMPRESS_XZ;

	tap_is_int(dkm_compress(ctx, DKM_COMPRESS_NONE, "\177ELF", 4, &out, &olen), 0,
		   "none copies");
	tap_ok(olen == 4 && memcmp(out, "\177ELF", 4) == 0, "none output is the input");
	tap_is_int(dkm_decompress(ctx, "\177ELF", 4, &back, &blen, &got), 0, "plain data");
	tap_is_int(got, DKM_COMPRESS_NONE, "plain data reported as none");
	tap_ok(blen == 4 && memcmp(back, "\177ELF", 4) == 0, "plain data copied");
	tap_is_int(dkm_compress(ctx, (enum dkm_compression)42, "x", 1, &out, &olen), -EINVAL,
		   "unknown compression refused");
}

/* What the in-kernel decompressor depends on. */
static void test_xz_parameters(void)
{
	_cleanup_free_ uint8_t *in = sample(3 << 20);
	_cleanup_free_ uint8_t *z = NULL, *out = NULL;
	size_t zlen = 0, out_pos = 0, in_pos = 0;
	uint64_t memlimit = 2 << 20; /* a 1 MiB dictionary needs ~1.1 MiB; preset 6 needs ~9 */
	lzma_ret l;

	tap_is_int(dkm_compress(ctx, DKM_COMPRESS_XZ, in, 3 << 20, (void **)&z, &zlen), 0,
		   "xz compress 3 MiB");
	/* stream flags: byte 7 is the check type */
	tap_is_int(z[7], LZMA_CHECK_CRC32, "xz check is CRC32");
	out = xmalloc(3 << 20);
	l = lzma_stream_buffer_decode(&memlimit, 0, NULL, z, &in_pos, zlen, out, &out_pos, 3 << 20);
	tap_is_int(l, LZMA_OK, "xz decodes within a 2 MiB memory limit (dictionary <= 1 MiB)");
	memlimit = 1 << 20;
	in_pos = out_pos = 0;
	l = lzma_stream_buffer_decode(&memlimit, 0, NULL, z, &in_pos, zlen, out, &out_pos, 3 << 20);
	tap_is_int(l, LZMA_MEMLIMIT_ERROR, "... and needs more than 1 MiB (dictionary is 1 MiB)");
}

static void test_zstd_parameters(void)
{
	_cleanup_free_ uint8_t *in = sample(100000);
	_cleanup_free_ uint8_t *z = NULL;
	size_t zlen = 0;

	tap_is_int(dkm_compress(ctx, DKM_COMPRESS_ZSTD, in, 100000, (void **)&z, &zlen), 0,
		   "zstd compress");
	tap_is_int(ZSTD_getFrameContentSize(z, zlen), 100000,
		   "zstd frame records the content size");
	/* Frame_Header_Descriptor, bit 2: Content_Checksum_flag */
	tap_ok(zlen > 5 && (z[4] & 0x04), "zstd frame has a checksum");
}

static void test_gzip_header(void)
{
	static const uint8_t want[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	_cleanup_free_ uint8_t *z = NULL;
	size_t zlen = 0;

	tap_is_int(dkm_compress(ctx, DKM_COMPRESS_GZIP, "hello", 5, (void **)&z, &zlen), 0, "gzip");
	tap_ok(zlen > 18 && memcmp(z, want, 10) == 0,
	       "gzip header as gzip -n: deflate, no flags, no name, mtime 0, OS Unix");
}

static void test_corrupt(void)
{
	_cleanup_free_ uint8_t *in = sample(50000);

	for (size_t i = 0; i < ELEMENTSOF(packed); i++) {
		const char *name = dkm_compression_name(packed[i]);
		_cleanup_free_ uint8_t *z = NULL;
		void *back = NULL;
		size_t zlen = 0, blen = 0;

		dkm_compress(ctx, packed[i], in, 50000, (void **)&z, &zlen);

		log_capture_reset(&cap);
		is_int(dkm_decompress(ctx, z, zlen / 2, &back, &blen, NULL), -EBADMSG,
		       "truncated %s refused", name);
		tap_ok(back == NULL, "ret untouched for truncated %s", name);
		tap_ok(strstr(cap.last_err, "corrupt") != NULL, "message for truncated %s: %s",
		       name, cap.last_err);

		z[zlen / 2] ^= 0x55;
		z[zlen / 2 + 1] ^= 0x55;
		log_capture_reset(&cap);
		is_int(dkm_decompress(ctx, z, zlen, &back, &blen, NULL), -EBADMSG,
		       "flipped bytes in %s refused", name);
		tap_ok(cap.n_err == 1, "one error line for %s: %s", name, cap.last_err);
	}
}

static void test_concatenated(void)
{
	_cleanup_free_ uint8_t *in = sample(20000);

	for (size_t i = 0; i < ELEMENTSOF(packed); i++) {
		const char *name = dkm_compression_name(packed[i]);
		_cleanup_free_ uint8_t *a = NULL, *b = NULL, *both = NULL, *back = NULL;
		size_t alen, blen, backlen = 0;

		dkm_compress(ctx, packed[i], in, 12000, (void **)&a, &alen);
		dkm_compress(ctx, packed[i], in + 12000, 8000, (void **)&b, &blen);
		both = xmalloc(alen + blen);
		memcpy(both, a, alen);
		memcpy(both + alen, b, blen);
		is_int(dkm_decompress(ctx, both, alen + blen, (void **)&back, &backlen, NULL), 0,
		       "concatenated %s", name);
		tap_ok(backlen == 20000 && memcmp(back, in, 20000) == 0,
		       "concatenated %s gives both parts", name);
	}
}

static void test_limits(void)
{
	_cleanup_free_ uint8_t *in = calloc(1, 1 << 20);
	_cleanup_free_ uint8_t *z = NULL;
	void *out = NULL;
	size_t zlen = 0, olen = 0;

	/* a MiB of zeros packs into little: a small bomb for a small limit */
	dkm_compress(ctx, DKM_COMPRESS_XZ, in, 1 << 20, (void **)&z, &zlen);
	log_capture_reset(&cap);
	tap_is_int(dkm_xz_decompress(ctx, z, zlen, 65536, &out, &olen), -EFBIG, "xz limit");
	tap_is_str(cap.last_err, "xz data inflates to more than 65536 bytes", "xz limit message");
	free(z);
	z = NULL;

	dkm_compress(ctx, DKM_COMPRESS_ZSTD, in, 1 << 20, (void **)&z, &zlen);
	tap_is_int(dkm_zstd_decompress(ctx, z, zlen, 65536, &out, &olen), -EFBIG, "zstd limit");
	free(z);
	z = NULL;

	dkm_compress(ctx, DKM_COMPRESS_GZIP, in, 1 << 20, (void **)&z, &zlen);
	tap_is_int(dkm_gzip_decompress(ctx, z, zlen, 65536, &out, &olen), -EFBIG, "gzip limit");
	tap_ok(out == NULL, "ret untouched at the limit");
}

static void test_first_cap(void)
{
	const size_t max = DKM_DECOMPRESS_MAX;

	/* a real module: 400 KiB packed to 100 KiB, the claim is taken (one allocation) */
	tap_is_int(dkm_decompress_first_cap(400 << 10, 100 << 10, max), (400 << 10) + 1,
		   "a plausible claimed size is used");
	/* a forged zstd header: 1 GiB - 1 claimed by 20 bytes */
	tap_is_int(dkm_decompress_first_cap(max - 1, 20, max), 20 * 4 + 4096,
		   "an implausible claim reserves no more than without one");
	tap_is_int(dkm_decompress_first_cap(0, 1000, max), 1000 * 4 + 4096, "no claim");
	tap_is_int(dkm_decompress_first_cap(max, 1000, max), 1000 * 4 + 4096,
		   "a claim at the limit");
	tap_is_int(dkm_decompress_first_cap(0, max, max), max, "never past the limit");
	tap_is_int(dkm_decompress_first_cap(max - 1, max / 2, max), max,
		   "huge input: the limit, not an overflow");
}

static void test_forged_zstd_size(void)
{
	/* a zstd frame whose header claims 512 MiB, followed by one raw block of 4 bytes and
	 * no end: rejected as corrupt (what it may reserve meanwhile: test_first_cap) */
	static const uint8_t frame[] = {
		0x28, 0xb5, 0x2f, 0xfd, /* magic */
		0xc0,			/* FHD: 8-byte content size, a window descriptor */
		0x00,			/* window: 1 KiB, which the decoder accepts */
		0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, /* 512 MiB */
		0x20, 0x00, 0x00,				/* raw block, 4 bytes, not last */
		'a',  'b',  'c',  'd',
	};
	void *out = NULL;
	size_t olen = 0;

	tap_is_int(ZSTD_getFrameContentSize(frame, sizeof(frame)), 512ULL << 20,
		   "the forged frame claims 512 MiB");
	tap_is_int(dkm_zstd_decompress(ctx, frame, sizeof(frame), DKM_DECOMPRESS_MAX, &out, &olen),
		   -EBADMSG, "a truncated frame with a forged size is corrupt");
	tap_ok(out == NULL, "nothing returned");
}

static void test_gzip_trailing_garbage(void)
{
	_cleanup_free_ uint8_t *z = NULL;
	uint8_t *g;
	void *out = NULL;
	size_t zlen = 0, olen = 0;

	dkm_compress(ctx, DKM_COMPRESS_GZIP, "hello", 5, (void **)&z, &zlen);
	g = xmalloc(zlen + 3);
	memcpy(g, z, zlen);
	memcpy(g + zlen, "xyz", 3);
	log_capture_reset(&cap);
	tap_is_int(dkm_decompress(ctx, g, zlen + 3, &out, &olen, NULL), -EBADMSG, "gzip garbage");
	tap_is_str(cap.last_err, "gzip data is corrupt: 3 bytes of trailing garbage",
		   "gzip garbage message");
	free(g);
}

int main(void)
{
	if (dkm_ctx_new("/nonexistent-root", &ctx) < 0)
		return 1;
	log_capture_attach(ctx, &cap);

	test_names();
	test_roundtrip(0);
	test_roundtrip(1);
	test_roundtrip(200000);
	test_none();
	test_xz_parameters();
	test_zstd_parameters();
	test_first_cap();
	test_forged_zstd_size();
	test_gzip_header();
	test_corrupt();
	test_concatenated();
	test_limits();
	test_gzip_trailing_garbage();

	dkm_ctx_free(ctx);
	return tap_done();
}
