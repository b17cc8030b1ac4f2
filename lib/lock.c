/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ctx.h"
#include "kernel.h"
#include "lock.h"
#include "util.h"

static int lock_path(struct dkm_ctx *ctx, const char *path, bool shared)
{
	_cleanup_close_ int fd = -1;
	int op = shared ? LOCK_SH : LOCK_EX;
	char buf[32];
	int r;

	r = mkdir_parents(path, 0755);
	if (r < 0)
		return dkm_err(ctx, r, "cannot create the directory of '%s': %s", path, strerror(-r));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return dkm_err(ctx, errno, "cannot open lock: '%s': %s", path, strerror(errno));
	if (flock(fd, op | LOCK_NB) < 0) {
		ssize_t k;

		if (errno != EWOULDBLOCK)
			return dkm_err(ctx, errno, "cannot lock: '%s': %s", path, strerror(errno));
		k = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[k > 0 ? k : 0] = 0;
		dkm_notice(ctx, "waiting for another dkm-hook command (pid %s) that holds '%s'",
			   k > 0 ? strstrip(buf) : "unknown", path);
		while (flock(fd, op) < 0)
			if (errno != EINTR)
				return dkm_err(ctx, errno, "cannot lock: '%s': %s", path,
					       strerror(errno));
	}
	if (!shared) {
		/* record the holder for the message above; informational only */
		r = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
		if (ftruncate(fd, 0) == 0)
			(void)!pwrite(fd, buf, (size_t)r, 0);
	}
	return TAKE_FD(fd);
}

int dkm_lock_take_registry(struct dkm_ctx *ctx, bool shared)
{
	_cleanup_free_ char *path = dkm_ctx_pathf(ctx, "%s/lock", ctx->state_dir);

	return lock_path(ctx, path, shared);
}

int dkm_lock_take(struct dkm_ctx *ctx)
{
	return dkm_lock_take_registry(ctx, false);
}

int dkm_lock_take_kernel(struct dkm_ctx *ctx, const char *kver)
{
	_cleanup_free_ char *path = NULL;

	if (dkm_kver_check(ctx, kver) < 0)
		return -EINVAL;
	path = dkm_ctx_pathf(ctx, "%s/kernels/%s/lock", ctx->state_dir, kver);
	return lock_path(ctx, path, false);
}
