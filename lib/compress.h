/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

struct dkm_ctx;

/* Module compression as the kernel's CONFIG_MODULE_COMPRESS_* spells it. The output of each
 * backend is what `make modules_install` produces for that choice:
 *   gzip: `gzip -n`             level 6, no name, mtime 0
 *   xz:   `xz --check=crc32 --lzma2=dict=1MiB`   preset 6 with a 1 MiB dictionary, CRC32
 *   zstd: `zstd`                level 3, content size and checksum in the frame */
enum dkm_compression {
	DKM_COMPRESS_NONE,
	DKM_COMPRESS_GZIP,
	DKM_COMPRESS_XZ,
	DKM_COMPRESS_ZSTD,
	_DKM_COMPRESS_MAX,
};

/* Refuse to inflate anything past this: no module is that large, a crafted file can be. */
#define DKM_DECOMPRESS_MAX ((size_t)1 << 30)

/* Compress in[len] into a new malloc'ed buffer. NONE copies. -errno on failure (logged). */
int dkm_compress(struct dkm_ctx *ctx, enum dkm_compression c, const void *in, size_t len,
		 void **ret, size_t *ret_len);

/* Detect the format by its magic and decompress into a new malloc'ed buffer; data without a
 * known magic is copied and reported as NONE. Concatenated streams/members are accepted, as the
 * tools accept them. -EBADMSG for corrupt data, -EFBIG past DKM_DECOMPRESS_MAX (logged). */
int dkm_decompress(struct dkm_ctx *ctx, const void *in, size_t len, void **ret, size_t *ret_len,
		   enum dkm_compression *ret_type);

/* Which format by magic bytes alone; NONE if none matches. */
enum dkm_compression dkm_compression_detect(const void *in, size_t len);

const char *dkm_compression_suffix(enum dkm_compression c); /* "", ".gz", ".xz", ".zst" */
const char *dkm_compression_name(enum dkm_compression c);   /* "none", "gzip", "xz", "zstd" */
/* Accepts the names above plus the suffixes without dot ("gz", "zst"); -EINVAL otherwise. */
int dkm_compression_from_string(const char *s, enum dkm_compression *ret);
/* From a file name's suffix (".ko.xz" → XZ, ".ko" → NONE). */
enum dkm_compression dkm_compression_from_path(const char *path);

/* The first output buffer of a decompressor for len input bytes (at most max), given the size
 * the data's header claims (0: none). A claim is believed only within a ratio no module
 * reaches, so a forged 20-byte header cannot reserve a gigabyte; past it the buffer grows. */
size_t dkm_decompress_first_cap(unsigned long long claimed, size_t len, size_t max);
