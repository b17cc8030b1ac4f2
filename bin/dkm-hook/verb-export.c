/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* import (DKMS's state), export and import-binary (built modules as a file). */
#include "dkm-hook.h"
#include "dkms-compat.h"
#include "export.h"

int verb_import(const struct verb *v, struct invocation *inv)
{
	return dkm_dkms_import(inv->ctx, inv->dkmstree);
}

int verb_export(const struct verb *v, struct invocation *inv)
{
	return dkm_cmd_export(inv->ctx, inv->args[0], &inv->o, inv->format, inv->output);
}

int verb_import_binary(const struct verb *v, struct invocation *inv)
{
	return dkm_cmd_import_binary(inv->ctx, inv->args[0], &inv->o);
}
