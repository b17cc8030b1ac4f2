/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* build, install, uninstall, unbuild: one package for the named kernels. */
#include "dkm-hook.h"

int verb_build(const struct verb *v, struct invocation *inv)
{
	return dkm_action_build(inv->ctx, inv->args[0], &inv->o);
}

int verb_install(const struct verb *v, struct invocation *inv)
{
	return dkm_action_install(inv->ctx, inv->args[0], &inv->o);
}

int verb_uninstall(const struct verb *v, struct invocation *inv)
{
	return dkm_action_uninstall(inv->ctx, inv->args[0], &inv->o);
}

int verb_unbuild(const struct verb *v, struct invocation *inv)
{
	return dkm_action_unbuild(inv->ctx, inv->args[0], &inv->o);
}
