/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The root file system's type, for "which module provides it" (lib/initrd.c): libblkid on the
 * configured root device, else on the device mounted at the root (from /proc/self/mountinfo). */
#include <blkid.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "ctx.h"
#include "rootfs.h"
#include "log.h"
#include "util.h"

/* libblkid: the TYPE of what a device or image file holds. 0 with *ret, -ENOENT if it holds
 * nothing libblkid knows, other -errno if it cannot be read. */
static int blkid_type(const char *dev, char **ret)
{
	blkid_probe pr;
	const char *type = NULL;
	int r;

	errno = 0;
	pr = blkid_new_probe_from_filename(dev);
	if (!pr)
		return errno > 0 ? -errno : -EIO;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	r = blkid_do_safeprobe(pr);
	if (r == 0 && blkid_probe_lookup_value(pr, "TYPE", &type, NULL) == 0 && !isempty(type)) {
		/* a pool member: the file system on top is zfs */
		*ret = xstrdup(streq(type, "zfs_member") ? "zfs" : type);
		r = 0;
	} else
		r = r == -2 ? -ENOTUNIQ : r < 0 ? -EIO : -ENOENT;
	blkid_free_probe(pr);
	return r;
}

/* mountinfo escapes blanks and backslashes as \ooo */
static void unescape(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else
			*w++ = *p;
	}
	*w = 0;
}

static bool covers(const char *mountpoint, const char *path)
{
	size_t n = strlen(mountpoint);

	if (streq(mountpoint, "/"))
		return true;
	return strneq(mountpoint, path, n) && (path[n] == 0 || path[n] == '/');
}

struct mount_entry {
	char *source;
	char *fstype;
	unsigned maj, min;
};

/* The mount that holds path: the longest mount point above it, the last one mounted wins. */
static int mount_of(const char *path, struct mount_entry *ret)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t n = 0, best_len = 0;
	bool found = false;

	if (!f)
		return -errno;
	while (getline(&line, &n, f) > 0) {
		_cleanup_strv_free_ char **w = NULL;
		size_t dash = 0, nw;
		unsigned maj, min;

		line[strcspn(line, "\n")] = 0;
		w = strv_split(line, " ");
		nw = strv_length(w);
		for (size_t i = 6; i < nw && !dash; i++)
			if (streq(w[i], "-"))
				dash = i;
		if (nw < 5 || !dash || dash + 2 >= nw || sscanf(w[2], "%u:%u", &maj, &min) != 2)
			continue;
		unescape(w[4]);
		if (!covers(w[4], path) || strlen(w[4]) < best_len)
			continue;
		best_len = strlen(w[4]);
		free(ret->source);
		free(ret->fstype);
		unescape(w[dash + 2]);
		ret->fstype = xstrdup(w[dash + 1]);
		ret->source = xstrdup(w[dash + 2]);
		ret->maj = maj;
		ret->min = min;
		found = true;
	}
	return found ? 0 : -ENOENT;
}

int dkm_rootfs_probe(struct dkm_ctx *ctx, char **ret_type, char **ret_device)
{
	struct mount_entry m = { 0 };
	_cleanup_free_ char *type = NULL, *dev = NULL;
	char real[PATH_MAX];
	struct stat st;
	int r;

	if (!isempty(ctx->root_device)) {
		r = blkid_type(ctx->root_device, &type);
		if (r < 0)
			return dkm_log_full(ctx, DKM_LOG_INFO, r,
					    "root device '%s' (root_device=): no file system found: %s",
					    ctx->root_device,
					    r == -ENOENT ? "libblkid recognises nothing on it"
							 : strerror(-r));
		*ret_type = TAKE_PTR(type);
		*ret_device = xstrdup(ctx->root_device);
		return 0;
	}
	if (!realpath(dkm_ctx_is_host_root(ctx) ? "/" : ctx->root, real)) {
		r = -errno;
		return dkm_log_full(ctx, DKM_LOG_INFO, r, "cannot resolve the root '%s': %s",
				    ctx->root, strerror(-r));
	}
	r = mount_of(real, &m);
	if (r < 0)
		return dkm_log_full(ctx, DKM_LOG_INFO, r,
				    "no mount holds '%s' in /proc/self/mountinfo", real);
	/* a block device libblkid can read: its answer; otherwise (a zfs dataset, overlay,
	 * tmpfs, a "/dev/root" alias) what the kernel says it mounted */
	if (stat(m.source, &st) == 0 && S_ISBLK(st.st_mode))
		dev = xstrdup(m.source);
	else {
		_cleanup_free_ char *p = xasprintf("/dev/block/%u:%u", m.maj, m.min);

		if (m.maj != 0 && stat(p, &st) == 0 && S_ISBLK(st.st_mode))
			dev = TAKE_PTR(p);
	}
	if (!dev || blkid_type(dev, &type) < 0) {
		free(type);
		type = TAKE_PTR(m.fstype);
	}
	*ret_type = TAKE_PTR(type);
	*ret_device = dev ? TAKE_PTR(dev) : TAKE_PTR(m.source);
	free(m.source);
	free(m.fstype);
	return 0;
}
