/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* keygen, verify: the module signing key and a module's signature. */
#include "dkm-hook.h"
#include "sign.h"

int verb_keygen(const struct verb *v, struct invocation *inv)
{
	return dkm_cmd_keygen(inv->ctx, inv->o.force);
}

int verb_verify(const struct verb *v, struct invocation *inv)
{
	return dkm_cmd_verify(inv->ctx, inv->args[0], inv->cert, inv->o.json);
}
