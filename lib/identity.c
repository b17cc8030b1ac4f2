/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctx.h"
#include "identity.h"
#include "spawn.h"
#include "util.h"

/* Where the reservations are: the uids are a resource of the machine, not of a --root, so
 * /run (one per boot) when there is one, else the state dir. A directory only root enters. */
static int slots_dir(struct dkm_ctx *ctx, char **ret_path)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (is_dir("/run"))
		path = xstrdup("/run/dkm-hook-uids");
	else
		path = dkm_ctx_pathf(ctx, "%s/uids", ctx->state_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return dkm_err(ctx, -errno, "cannot create '%s' (build uid reservations): %s", path,
			       strerror(errno));
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return dkm_err(ctx, -errno, "cannot open '%s' (build uid reservations): %s", path,
			       strerror(errno));
	if (st.st_uid != 0)
		return dkm_err(
			ctx, -EPERM,
			"refusing '%s' (build uid reservations): owned by uid %u, not root: remove it",
			path, (unsigned)st.st_uid);
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
		return dkm_err(ctx, -errno, "cannot chmod 0700 '%s': %s", path, strerror(errno));
	*ret_path = TAKE_PTR(path);
	return TAKE_FD(fd);
}

static int acquire_dynamic(struct dkm_ctx *ctx, struct dkm_identity *ret)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int dfd = -1;
	unsigned n = ctx->build_uid_max - ctx->build_uid_min + 1, start = 0;

	dfd = slots_dir(ctx, &dir);
	if (dfd < 0)
		return dfd;
	/* anywhere in the range: a chroot's dkm-hook keeps its reservations elsewhere */
	if (getrandom(&start, sizeof(start), GRND_NONBLOCK) != sizeof(start))
		start = (unsigned)getpid() * 2654435761U;
	for (unsigned i = 0; i < n && i < 4096; i++) {
		uid_t uid = ctx->build_uid_min + (start + i) % n;
		char name[16];
		int fd;

		snprintf(name, sizeof(name), "%u", (unsigned)uid);
		fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return dkm_err(ctx, -errno, "cannot reserve a build uid: '%s/%s': %s", dir,
				       name, strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			continue;
		}
		/* someone took it for a real user after all: not this one */
		if (getpwuid(uid)) {
			close(fd);
			continue;
		}
		*ret = (struct dkm_identity){ .uid = uid,
					      .gid = (gid_t)uid,
					      .run_as = true,
					      .dynamic = true,
					      .lock_fd = fd };
		return 0;
	}
	return dkm_err(ctx, -EBUSY,
		       "no free build uid in %u-%u (build_uid_range): too many builds at once?",
		       ctx->build_uid_min, ctx->build_uid_max);
}

int dkm_identity_acquire(struct dkm_ctx *ctx, bool as_root_ok, struct dkm_identity *ret)
{
	const char *user = ctx->build_user;
	struct dkm_identity id = DKM_IDENTITY_NULL;
	int r;

	if (geteuid() != 0) {
		*ret = id; /* unprivileged already: children run as the caller */
		return 0;
	}
	if (isempty(user) || streq(user, "auto") || (streq(user, "root") && !as_root_ok))
		return acquire_dynamic(ctx, ret);
	if (streq(user, "root")) {
		*ret = id;
		return 0;
	}
	r = dkm_user_lookup(user, &id.uid, &id.gid);
	if (r < 0)
		return dkm_err(
			ctx, r,
			"build_user '%s' does not exist: create it (e.g. 'useradd --system %s') or change build_user in dkm-hook.conf",
			user, user);
	if (id.uid == 0 && !as_root_ok)
		return acquire_dynamic(ctx, ret);
	id.run_as = id.uid != 0;
	*ret = id;
	return 0;
}

void dkm_identity_release(struct dkm_identity *id)
{
	if (id->lock_fd >= 0)
		close(id->lock_fd);
	id->lock_fd = -1;
}
