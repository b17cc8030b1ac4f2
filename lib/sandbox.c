/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/mount.h>

#include "macro.h"
#include "sandbox.h"

static int setattr_recursive(const char *path, uint64_t set, uint64_t clr)
{
	struct mount_attr a = { .attr_set = set, .attr_clr = clr };

	if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &a, sizeof(a)) < 0)
		return -errno;
	return 0;
}

int dkm_sandbox_enter(const struct dkm_sandbox *sb)
{
	struct stat st;

	/* CLONE_NEWPID: the caller's next child is the init of a new PID namespace (spawn.c),
	 * so nothing the build starts, not even what escaped its process group with setsid(),
	 * survives it; nor can it signal processes outside */
	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWPID) < 0)
		return -errno;
	/* nothing we do here propagates back to the host */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	if (sb->rw_dir && mount(sb->rw_dir, sb->rw_dir, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	for (size_t i = 0; sb->rw_extra && sb->rw_extra[i]; i++)
		if (mount(sb->rw_extra[i], sb->rw_extra[i], NULL, MS_BIND | MS_REC, NULL) < 0)
			return -errno;
	if (setattr_recursive("/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0) < 0)
		return -errno;
	if (sb->rw_dir && setattr_recursive(sb->rw_dir, 0, MOUNT_ATTR_RDONLY) < 0)
		return -errno;
	for (size_t i = 0; sb->rw_extra && sb->rw_extra[i]; i++)
		if (setattr_recursive(sb->rw_extra[i], 0, MOUNT_ATTR_RDONLY) < 0)
			return -errno;
	/* /dev/null, /dev/tty and friends stay usable (devices on a read-only mount are still
	 * writable, but the pty/shm mounts want to be as they were) */
	(void)setattr_recursive("/dev", 0, MOUNT_ATTR_RDONLY);
	/* ... but /dev/shm is a world-writable tmpfs: what a build left there would outlive it
	 * on the host. It gets a private, empty one that goes away with the namespace. */
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
	    mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=1777,size=64m") < 0)
		return -errno;
	for (size_t i = 0; sb->hide && sb->hide[i]; i++) {
		if (stat(sb->hide[i], &st) < 0)
			continue;
		if (mount("/dev/null", sb->hide[i], NULL, MS_BIND, NULL) < 0)
			return -errno;
	}
	return 0;
}
