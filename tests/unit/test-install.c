/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/install.c's recovery decision: what the next command does with the journal an
 * interrupted install or uninstall left, from what it recorded (docs/reliability.md). The
 * actions themselves run against real trees in tests/reliability.bats. */
#include <stdio.h>
#include <string.h>

#include "install.h"
#include "registry.h"
#include "tap.h"
#include "util.h"

static enum dkm_recovery decide(const char *text)
{
	_cleanup_kv_ struct dkm_kv kv = { 0 };

	dkm_kv_parse(text, strlen(text), &kv);
	return dkm_install_recovery_decide(&kv);
}

int main(void)
{
	tap_is_int(decide("op=install\npackage=p\nversion=1\nphase=stage\n"),
		   DKM_RECOVERY_ROLL_BACK, "install killed while staging: rolled back");
	tap_is_int(decide("op=install\npackage=p\nversion=1\nphase=commit\n"),
		   DKM_RECOVERY_FINISH_INSTALL, "install killed after staging: finished");
	tap_is_int(decide("op=install\npackage=p\nversion=1\n"), DKM_RECOVERY_FINISH_INSTALL,
		   "install without a phase: finished (staging records its phase first)");
	tap_is_int(decide("op=install\nphase=Stage\n"), DKM_RECOVERY_FINISH_INSTALL,
		   "phase names are exact");
	tap_is_int(decide("op=uninstall\npackage=p\nversion=1\n"), DKM_RECOVERY_FINISH_UNINSTALL,
		   "uninstall: finished");
	tap_is_int(decide("op=uninstall\nversion=1\n"), DKM_RECOVERY_CORRUPT,
		   "uninstall naming no package: corrupt");
	tap_is_int(decide("op=uninstall\npackage=p\n"), DKM_RECOVERY_CORRUPT,
		   "uninstall naming no version: corrupt");
	tap_is_int(decide("op=remove\npackage=p\nversion=1\n"), DKM_RECOVERY_CORRUPT,
		   "an unknown op: corrupt");
	tap_is_int(decide("package=p\n"), DKM_RECOVERY_CORRUPT, "no op: corrupt");
	tap_is_int(decide(""), DKM_RECOVERY_CORRUPT, "an empty journal: corrupt");
	return tap_done();
}
