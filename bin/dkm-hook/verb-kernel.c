/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rebuild, kernel-add, kernel-remove: every package for a kernel. */
#include "ctx.h"
#include "dkm-hook.h"
#include "hook.h"
#include "kernel.h"

/* a package BUILD_EXCLUSIVE_* excludes is no failure of a rebuild: only failed builds are 4 */
int verb_rebuild(const struct verb *v, struct invocation *inv)
{
	char **kvers = inv->all_kernels ? inv->o.kernels : inv->args;
	struct dkm_result res;
	int r;

	if (!inv->all_kernels)
		for (int i = 0; i < inv->nargs; i++)
			if (dkm_kver_check(inv->ctx, inv->args[i]) < 0)
				return DKM_EXIT_INVALID;
	r = dkm_action_rebuild_kernels(inv->ctx, kvers, &inv->o, &res);
	return exit_code_from_result(r, &res, false);
}

/* the kernel hooks' verb: 1 stops the kernel's installation */
int verb_kernel_add(const struct verb *v, struct invocation *inv)
{
	enum dkm_kernel_verdict verdict;
	int r = dkm_action_kernel_add(inv->ctx, inv->args[0], &inv->o, &verdict);

	return r == 0 && verdict == DKM_KERNEL_GOES_ON ? DKM_EXIT_OK : DKM_EXIT_FAILURE;
}

int verb_kernel_remove(const struct verb *v, struct invocation *inv)
{
	/* the prerm.d hook: a lock wait ends after lock_timeout= (kernel-add: lib/hook.c) */
	inv->ctx->unattended = true;
	return exit_code_from_errno(dkm_action_kernel_remove(inv->ctx, inv->args[0], &inv->o));
}
