/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rebuild, kernel-add, kernel-remove: every package for a kernel. */
#include "ctx.h"
#include "dkm-hook.h"
#include "hook.h"
#include "kernel.h"

int verb_rebuild(const struct verb *v, struct invocation *inv)
{
	if (inv->all_kernels)
		return dkm_action_rebuild_kernels(inv->ctx, inv->o.kernels, &inv->o);
	for (int i = 0; i < inv->nargs; i++)
		if (dkm_kver_check(inv->ctx, inv->args[i]) < 0)
			return DKM_EXIT_INVALID;
	return dkm_action_rebuild_kernels(inv->ctx, inv->args, &inv->o);
}

int verb_kernel_add(const struct verb *v, struct invocation *inv)
{
	return dkm_action_kernel_add(inv->ctx, inv->args[0], &inv->o);
}

int verb_kernel_remove(const struct verb *v, struct invocation *inv)
{
	/* the prerm.d hook: a lock wait ends after lock_timeout= (kernel-add: lib/hook.c) */
	inv->ctx->unattended = true;
	return dkm_action_kernel_remove(inv->ctx, inv->args[0], &inv->o);
}
