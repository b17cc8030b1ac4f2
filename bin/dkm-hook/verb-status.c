/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* status: the packages and their state per kernel. */
#include "dkm-hook.h"

int verb_status(const struct verb *v, struct invocation *inv)
{
	return exit_code_from_errno(
		dkm_action_status(inv->ctx, inv->nargs > 0 ? inv->args[0] : NULL, &inv->o));
}
