/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one mapping of an engine's -errno to dkm-hook's exit code. */
#include <errno.h>

#include "actions.h"
#include "exit-code.h"

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

static int max_code(int a, int b)
{
	return a > b ? a : b;
}

int exit_code_from_result(int r, const struct dkm_result *res, bool excluded_counts)
{
	int code = exit_code_from_errno(r < 0 ? r : 0);

	for (unsigned i = 0; i < res->n_errors; i++)
		code = max_code(code, exit_code_from_errno(res->errors[i]));
	if (res->failed)
		code = max_code(code, DKM_EXIT_BUILD);
	if (excluded_counts && res->excluded)
		code = max_code(code, DKM_EXIT_EXCLUDED);
	return code;
}
