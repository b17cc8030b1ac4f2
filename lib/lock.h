/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

struct dkm_ctx;

/* Take the state dir's lock (flock on <state>/lock). If another command holds it, say so once
 * and wait. Returns the lock fd (>= 0) to be closed to release, or -errno. */
int dkm_lock_take(struct dkm_ctx *ctx);
