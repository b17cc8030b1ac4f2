/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one mapping of an engine's -errno to dkm-hook's exit code. */
#include <errno.h>

#include "dkm-hook.h"

int exit_code_from_errno(int r)
{
	switch (r) {
	case 0:
		return DKM_EXIT_OK;
	case -EINVAL:
	case -EBADMSG:
		return DKM_EXIT_INVALID;
	case -ENOENT:
	case -ESRCH:
		return DKM_EXIT_NOTFOUND;
	default:
		return DKM_EXIT_FAILURE;
	}
}
