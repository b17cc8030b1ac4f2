/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fsck: state, manifests and module trees checked against each other; the report is printed
 * here, line by line as the engine finds it. */
#include <stdio.h>

#include "dkm-hook.h"
#include "fsck.h"

static void print_item(void *userdata, enum dkm_fsck_item item, const char *text)
{
	static const char *const prefix[] = {
		[DKM_FSCK_PROBLEM] = "problem: ",
		[DKM_FSCK_REPAIRED] = "repaired: ",
		[DKM_FSCK_HINT] = "  to repair it: ",
		[DKM_FSCK_NOTE] = "note: ",
	};

	printf("%s%s\n", prefix[item], text);
}

int verb_fsck(const struct verb *v, struct invocation *inv)
{
	struct dkm_fsck_result res;
	int r = dkm_action_fsck(inv->ctx, &inv->o, inv->repair, print_item, NULL, &res);

	/* the check could not run, or a problem is left: 1 */
	if (r < 0)
		return DKM_EXIT_FAILURE;
	if (res.problems == 0)
		printf("fsck: no problems found\n");
	else
		printf("fsck: %u problem%s, %u repaired\n", res.problems,
		       res.problems == 1 ? "" : "s", res.repaired);
	return res.problems == res.repaired ? DKM_EXIT_OK : DKM_EXIT_FAILURE;
}
