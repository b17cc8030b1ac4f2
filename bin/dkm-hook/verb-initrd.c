/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* initrd-modules: the modules that belong in a kernel's initramfs, and why. */
#include "dkm-hook.h"
#include "initrd.h"

int verb_initrd_modules(const struct verb *v, struct invocation *inv)
{
	return dkm_cmd_initrd_modules(inv->ctx, inv->args[0], inv->o.arch, inv->o.json);
}
