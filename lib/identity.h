/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct dkm_ctx;

/* The uids builds run as by default (build_user unset or "auto"): one of its own for every
 * build, package script and dkms.conf evaluation running at a time, so that none can reach
 * another's files or processes (ptrace, signals, /proc) and no other process on the machine
 * shares it. No user or service owns these; systemd keeps 0x00080000-0x6FFFFFFF for containers
 * and 0x7FFE0000-0x7FFEFFFF for foreign images, this range is neither. build_uid_range=
 * changes it. */
#define DKM_BUILD_UID_MIN 0x7C000000U
#define DKM_BUILD_UID_MAX 0x7C00FFFFU

struct dkm_identity {
	uid_t uid;
	gid_t gid;
	bool run_as; /* false: children keep the caller's identity (not root, or build_user=root) */
	bool dynamic; /* a uid of the range, held through lock_fd */
	int lock_fd;
};

#define DKM_IDENTITY_NULL ((struct dkm_identity){ .lock_fd = -1 })

/* Who runs the next build or script. as_root_ok: build_user=root may keep root (builds);
 * false (dkms.conf evaluation): never root. The uid stays reserved until release. */
int dkm_identity_acquire(struct dkm_ctx *ctx, bool as_root_ok, struct dkm_identity *ret);
void dkm_identity_release(struct dkm_identity *id);
static inline void dkm_identity_releasep(struct dkm_identity *id)
{
	dkm_identity_release(id);
}
#define _cleanup_identity_ __attribute__((cleanup(dkm_identity_releasep)))
