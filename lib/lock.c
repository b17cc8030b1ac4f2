/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ctx.h"
#include "lock.h"
#include "util.h"

int dkm_lock_take(struct dkm_ctx *ctx)
{
	_cleanup_free_ char *dir = dkm_ctx_path(ctx, ctx->state_dir);
	_cleanup_free_ char *path = path_join(dir, "lock");
	_cleanup_close_ int fd = -1;
	char buf[32];
	int r;

	r = mkdir_p(dir, 0755);
	if (r < 0)
		return dkm_err(ctx, r, "cannot create state directory: '%s': %s", dir, strerror(-r));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return dkm_err(ctx, errno, "cannot open lock: '%s': %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t k;

		if (errno != EWOULDBLOCK)
			return dkm_err(ctx, errno, "cannot lock: '%s': %s", path, strerror(errno));
		k = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[k > 0 ? k : 0] = 0;
		dkm_notice(ctx, "waiting for another dkm-hook command (pid %s) that holds '%s'",
			   k > 0 ? strstrip(buf) : "unknown", path);
		while (flock(fd, LOCK_EX) < 0)
			if (errno != EINTR)
				return dkm_err(ctx, errno, "cannot lock: '%s': %s", path,
					       strerror(errno));
	}
	/* record the holder for the message above; content is informational only */
	r = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, buf, (size_t)r, 0);
	return TAKE_FD(fd);
}
