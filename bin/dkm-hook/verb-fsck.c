/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fsck: state, manifests and module trees checked against each other. */
#include "dkm-hook.h"

int verb_fsck(const struct verb *v, struct invocation *inv)
{
	/* anything left unrepaired, or the check could not run: 1 */
	return dkm_action_fsck(inv->ctx, &inv->o, inv->repair) == 0 ? DKM_EXIT_OK : DKM_EXIT_FAILURE;
}
