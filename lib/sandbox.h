/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a build or package script may touch: everything read-only except one directory, no
 * network, the signing key unreadable, a private /dev/shm, its own PID namespace (the next
 * child of the caller is its init: the spawn helper forks once more after entering). Entered
 * in the child, as root, before it drops to the build user (so the build user cannot undo it). */
struct dkm_sandbox {
	const char *rw_dir;  /* the only writable place (the private build dir), may be NULL */
	char *const *rw_extra; /* more writable directories (the compiler cache), may be NULL */
	char *const *hide;   /* files made unreadable: /dev/null is bind-mounted over each */
};

/* Returns 0, or -errno if the namespaces could not be set up (not root, or no support). */
int dkm_sandbox_enter(const struct dkm_sandbox *sb);
