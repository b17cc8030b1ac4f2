/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A minimal POSIX ustar (IEEE Std 1003.1-1988) writer and a strict reader, for the binary
 * packages of `export` and `import-binary` (lib/export.c). Only regular files with relative
 * names are written; `tar -tvf` and `tar -xf` read the result. The reader takes what we write
 * and what GNU/bsdtar write for a re-packed copy of it (regular files and directories), and
 * refuses everything else: links, devices, absolute names, "..", extension headers. */

/* Append one regular file to the buffer (*buf, *len), which grows. */
void dkm_tar_add(char **buf, size_t *len, const char *name, const void *data, size_t size,
		 mode_t mode, uint64_t mtime);
/* Append the end-of-archive marker (two zero blocks). */
void dkm_tar_finish(char **buf, size_t *len);

struct dkm_tar_entry {
	char *name;	  /* normalised: no "./" prefix, no trailing "/" */
	const void *data; /* points into the archive buffer */
	size_t size;
};

/* Parse an archive held in memory: the regular files in it (directories are skipped). Entries
 * point into buf, which must outlive them. Returns the number of entries, or -EBADMSG with a
 * description of what is wrong in *why_out (a static string; written on failure only). */
int dkm_tar_parse(const void *buf, size_t len, struct dkm_tar_entry **ret, const char **why_out);
void dkm_tar_entries_free(struct dkm_tar_entry *l, size_t n);
