/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* add, remove: a package's registration. */
#include "dkm-hook.h"

int verb_add(const struct verb *v, struct invocation *inv)
{
	return exit_code_from_errno(dkm_action_add(inv->ctx, inv->args[0], &inv->o));
}

int verb_remove(const struct verb *v, struct invocation *inv)
{
	if (!inv->o.all && !inv->o.kernels) {
		fprintf(stderr, "%s: error: remove needs -k <kernel> or --all\n", prog);
		return DKM_EXIT_USAGE;
	}
	return exit_code_from_errno(dkm_action_remove(inv->ctx, inv->args[0], &inv->o));
}
