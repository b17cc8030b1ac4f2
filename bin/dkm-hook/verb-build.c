/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* build, install, uninstall, unbuild: one package for the named kernels. */
#include "dkm-hook.h"

/* every kernel was asked for by name: one that BUILD_EXCLUSIVE_* excludes is exit 6 */
int verb_build(const struct verb *v, struct invocation *inv)
{
	struct dkm_result res;
	int r = dkm_action_build(inv->ctx, inv->args[0], &inv->o, &res);

	return exit_code_from_result(r, &res, true);
}

int verb_install(const struct verb *v, struct invocation *inv)
{
	struct dkm_result res;
	int r = dkm_action_install(inv->ctx, inv->args[0], &inv->o, &res);

	return exit_code_from_result(r, &res, true);
}

int verb_uninstall(const struct verb *v, struct invocation *inv)
{
	struct dkm_result res;
	int r = dkm_action_uninstall(inv->ctx, inv->args[0], &inv->o, &res);

	return exit_code_from_result(r, &res, true);
}

int verb_unbuild(const struct verb *v, struct invocation *inv)
{
	struct dkm_result res;
	int r = dkm_action_unbuild(inv->ctx, inv->args[0], &inv->o, &res);

	return exit_code_from_result(r, &res, true);
}
