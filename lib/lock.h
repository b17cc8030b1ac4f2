/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

struct dkm_ctx;

/* Locks (flock, released when the process dies, so never stale):
 *   <state>/lock                  the registry: exclusive for add/remove/fsck --repair, shared
 *                                 for commands that work on kernels
 *   <state>/kernels/<kver>/lock   one kernel's module tree and builds: exclusive
 * so two commands on different kernels run in parallel and two on the same kernel in turn.
 * Lock files are regular files of ours, mode 0600, in directories only we can write (anything
 * else at the path is replaced, never followed): no other user can open one, so none can hold
 * it. A command that has to wait says so once, naming the lock and the live process holding
 * it; with ctx->unattended (the kernel hooks) it gives up after ctx->lock_timeout seconds
 * (-ETIMEDOUT, logged), else it waits for as long as it takes. Returns the lock fd (close it to
 * release), or -errno. */
int dkm_lock_take(struct dkm_ctx *ctx);
int dkm_lock_take_registry(struct dkm_ctx *ctx, bool shared);
int dkm_lock_take_kernel(struct dkm_ctx *ctx, const char *kver);
