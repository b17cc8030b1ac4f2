/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* import (DKMS's state), export and import-binary (built modules as a file). */
#include <errno.h>

#include "dkm-hook.h"
#include "dkms-import.h"
#include "export.h"

/* no DKMS tree: 3; a package not imported, or the import could not run: 1 */
int verb_import(const struct verb *v, struct invocation *inv)
{
	int r = dkm_dkms_import(inv->ctx, inv->dkmstree);

	return r == 0 ? DKM_EXIT_OK : r == -ENOENT ? DKM_EXIT_NOTFOUND : DKM_EXIT_FAILURE;
}

int verb_export(const struct verb *v, struct invocation *inv)
{
	/* one kernel, a known format: what the command line got wrong is a usage error */
	if (dkm_export_args_check(inv->ctx, &inv->o, inv->format) < 0)
		return DKM_EXIT_USAGE;
	return exit_code_from_errno(
		dkm_cmd_export(inv->ctx, inv->args[0], &inv->o, inv->format, inv->output));
}

int verb_import_binary(const struct verb *v, struct invocation *inv)
{
	return exit_code_from_errno(dkm_cmd_import_binary(inv->ctx, inv->args[0], &inv->o));
}
