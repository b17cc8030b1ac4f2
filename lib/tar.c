/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ustar, just enough for our binary packages: see tar.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tar.h"
#include "util.h"

#define BLOCK 512

struct ustar_header {
	char name[100];
	char mode[8];
	char uid[8];
	char gid[8];
	char size[12];
	char mtime[12];
	char chksum[8];
	char typeflag;
	char linkname[100];
	char magic[6];
	char version[2];
	char uname[32];
	char gname[32];
	char devmajor[8];
	char devminor[8];
	char prefix[155];
	char pad[12];
};

_Static_assert(sizeof(struct ustar_header) == BLOCK, "ustar header is one block");

static void octal(char *field, size_t width, uint64_t v)
{
	/* width-1 digits, zero-padded, then NUL */
	snprintf(field, width, "%0*llo", (int)width - 1, (unsigned long long)v);
}

static unsigned checksum(const struct ustar_header *h)
{
	const unsigned char *p = (const unsigned char *)h;
	unsigned sum = 0;

	for (size_t i = 0; i < BLOCK; i++)
		sum += (i >= offsetof(struct ustar_header, chksum) &&
			i < offsetof(struct ustar_header, chksum) + sizeof(h->chksum))
			       ? ' '
			       : p[i];
	return sum;
}

static void append(char **buf, size_t *len, const void *data, size_t size)
{
	*buf = xrealloc(*buf, *len + size);
	if (data)
		memcpy(*buf + *len, data, size);
	else
		memset(*buf + *len, 0, size);
	*len += size;
}

void dkm_tar_add(char **buf, size_t *len, const char *name, const void *data, size_t size,
		 mode_t mode, uint64_t mtime)
{
	struct ustar_header h = { 0 };
	size_t nl = strlen(name);

	if (nl < sizeof(h.name))
		memcpy(h.name, name, nl);
	else {
		/* split at a '/' so that the rest fits name[] and the start fits prefix[] */
		const char *cut = name + nl - sizeof(h.name) + 1;

		while (*cut && *cut != '/')
			cut++;
		if (!*cut || (size_t)(cut - name) > sizeof(h.prefix))
			abort(); /* our names are short: a caller bug, not input */
		memcpy(h.prefix, name, (size_t)(cut - name));
		memcpy(h.name, cut + 1, strlen(cut + 1));
	}
	octal(h.mode, sizeof(h.mode), mode & 07777);
	octal(h.uid, sizeof(h.uid), 0);
	octal(h.gid, sizeof(h.gid), 0);
	octal(h.size, sizeof(h.size), size);
	octal(h.mtime, sizeof(h.mtime), mtime);
	h.typeflag = '0';
	memcpy(h.magic, "ustar", 6);
	memcpy(h.version, "00", 2);
	strcpy(h.uname, "root");
	strcpy(h.gname, "root");
	octal(h.devmajor, sizeof(h.devmajor), 0);
	octal(h.devminor, sizeof(h.devminor), 0);
	snprintf(h.chksum, sizeof(h.chksum), "%06o", checksum(&h));
	h.chksum[7] = ' ';
	append(buf, len, &h, BLOCK);
	append(buf, len, data, size);
	if (size % BLOCK)
		append(buf, len, NULL, BLOCK - size % BLOCK);
}

void dkm_tar_finish(char **buf, size_t *len)
{
	append(buf, len, NULL, 2 * BLOCK);
}

/* An octal field: optional leading blanks, digits, then NUL/blank to the end. */
static int parse_octal(const char *field, size_t width, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i = 0;
	bool digits = false;

	while (i < width && field[i] == ' ')
		i++;
	for (; i < width && field[i] >= '0' && field[i] <= '7'; i++) {
		if (v >> 60)
			return -EBADMSG;
		v = v * 8 + (uint64_t)(field[i] - '0');
		digits = true;
	}
	for (; i < width; i++)
		if (field[i] != 0 && field[i] != ' ')
			return -EBADMSG;
	if (!digits)
		return -EBADMSG;
	*ret = v;
	return 0;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* "./a//b/" -> "a/b"; NULL if absolute, empty, or with a ".." component */
static char *normalise_name(const char *prefix, const char *name)
{
	_cleanup_free_ char *full =
		isempty(prefix) ? xstrdup(name) : xasprintf("%s/%s", prefix, name);
	_cleanup_strv_free_ char **parts = NULL;
	char **kept = xcalloc(1, sizeof(char *));
	char *out;

	if (full[0] == '/') {
		strv_free(kept);
		return NULL;
	}
	parts = strv_split(full, "/");
	for (size_t i = 0; parts[i]; i++) {
		if (streq(parts[i], "."))
			continue;
		if (!name_is_valid(parts[i])) {
			strv_free(kept);
			return NULL;
		}
		strv_extend(&kept, parts[i]);
	}
	out = kept[0] ? strv_join(kept, "/") : NULL;
	strv_free(kept);
	return out;
}

int dkm_tar_parse(const void *buf, size_t len, struct dkm_tar_entry **ret, const char **why_out)
{
	const unsigned char *p = buf;
	struct dkm_tar_entry *l = NULL;
	size_t n = 0, off = 0;
	const char *why = NULL; /* what is wrong, for the caller's message */

	for (;;) {
		const struct ustar_header *h;
		char name[sizeof(h->name) + 1], prefix[sizeof(h->prefix) + 1];
		uint64_t size, sum;
		bool posix;
		char *norm;

		if (off + BLOCK > len) {
			why = "truncated: no end-of-archive marker";
			goto fail;
		}
		if (all_zero(p + off, BLOCK))
			break; /* the end (a second zero block may follow) */
		h = (const struct ustar_header *)(p + off);
		posix = memcmp(h->magic, "ustar", 6) == 0 && memcmp(h->version, "00", 2) == 0;
		if (!posix && memcmp(h->magic, "ustar  ", 8) != 0) {
			why = "not a ustar archive (bad magic)";
			goto fail;
		}
		if (parse_octal(h->chksum, sizeof(h->chksum), &sum) < 0 || sum != checksum(h)) {
			why = "header checksum mismatch";
			goto fail;
		}
		if (parse_octal(h->size, sizeof(h->size), &size) < 0 || size > len) {
			why = "bad size field";
			goto fail;
		}
		if (off + BLOCK + size > len) {
			why = "truncated member";
			goto fail;
		}
		memcpy(name, h->name, sizeof(h->name));
		name[sizeof(h->name)] = 0;
		memcpy(prefix, h->prefix, sizeof(h->prefix));
		prefix[posix ? sizeof(h->prefix) : 0] = 0;
		switch (h->typeflag) {
		case '0':
		case 0:
			break;
		case '5':
			off += BLOCK + (size + BLOCK - 1) / BLOCK * BLOCK;
			continue;
		default:
			why = "a member is not a regular file or directory (links, devices and extension headers are refused)";
			goto fail;
		}
		norm = normalise_name(prefix, name);
		if (!norm) {
			why = "a member name is absolute, empty or contains '..'";
			goto fail;
		}
		for (size_t i = 0; i < n; i++)
			if (streq(l[i].name, norm)) {
				free(norm);
				why = "a member name appears twice";
				goto fail;
			}
		l = xrealloc(l, (n + 1) * sizeof(*l));
		l[n].name = norm;
		l[n].data = p + off + BLOCK;
		l[n].size = (size_t)size;
		n++;
		off += BLOCK + (size + BLOCK - 1) / BLOCK * BLOCK;
	}
	*ret = l;
	return (int)n;
fail:
	dkm_tar_entries_free(l, n);
	*why_out = why;
	return -EBADMSG;
}

void dkm_tar_entries_free(struct dkm_tar_entry *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i].name);
	free(l);
}
