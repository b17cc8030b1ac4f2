/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

struct dkm_ctx;

/* The file system type of the root device, found with libblkid. The device is
 * ctx->root_device if set (a block device or an image file), else the source of the mount that
 * holds the root directory (ctx->root, "/" by default) in /proc/self/mountinfo; when that is not
 * a block device libblkid can read (zfs datasets, overlay, tmpfs), mountinfo's own type is used.
 * libblkid's "zfs_member" is reported as "zfs". Returns 0 with malloc'ed *ret_type and
 * *ret_device, -errno if there is no answer (logged at info level). */
int dkm_rootfs_probe(struct dkm_ctx *ctx, char **ret_type, char **ret_device);
