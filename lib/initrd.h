/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "registry.h"

struct dkm_ctx;

/* Which of our modules belong in a kernel's initramfs, and why (docs/kernel-integration.md):
 *  - the package says so: REMAKE_INITRD="yes" in its dkms.conf (recorded at add);
 *  - the administrator says so: the package is named in initrd_packages= (dkm-hook.conf);
 *  - the module provides the root file system: its .modinfo has the alias "fs-<type>" (or its
 *    name is <type>) for the type libblkid finds on the root device.
 * A package is considered when one of its versions is installed for the kernel, or when it is
 * AUTOINSTALL (its newest version is what a rebuild installs). */
struct dkm_initrd_entry {
	char *module; /* module name ("dkms_test") */
	char *package;
	char *version;
	enum dkm_state state; /* installed|built|failed|NONE (no build for this kernel yet) */
	char *file;	      /* logical path of the installed file, NULL unless installed */
	char *log;	      /* build log of a failed build, NULL if none */
	char **reasons;	      /* one line each, NULL-terminated */
};

struct dkm_initrd_list {
	struct dkm_initrd_entry *entries;
	size_t n;
	char *root_device; /* what was probed for the root file system, NULL if nothing */
	char *root_fstype; /* its type ("ext4", "zfs"), NULL if unknown */
};

/* The modules that belong in the initramfs of kver (arch NULL = the host's). Never fails for
 * want of a root device: the root file system reason is then just absent (logged at info). */
int dkm_initrd_modules(struct dkm_ctx *ctx, const char *kver, const char *arch,
		       struct dkm_initrd_list *ret);
void dkm_initrd_list_done(struct dkm_initrd_list *l);

/* Is this entry something an initramfs cannot do without, that is missing? (state failed, or
 * not built although the kernel's headers are there.) */
bool dkm_initrd_entry_missing(const struct dkm_initrd_entry *e, bool has_headers);

/* Regenerate the initramfs of kver once, with the configured generator (initrd_generator=:
 * auto picks what the system uses: dracut or initramfs-tools). Only an existing image is
 * regenerated; none yet means the kernel's own hooks will make it. Returns 1 if regenerated,
 * 0 if there was nothing to do (logged why), -errno on failure (logged). */
int dkm_initrd_regenerate(struct dkm_ctx *ctx, const char *kver);

/* The first of packages (names) that belongs in the initramfs of kver, or NULL (also when the
 * list cannot be made). */
char *dkm_initrd_holder(struct dkm_ctx *ctx, const char *kver, const char *arch,
			char *const *packages);

/* After a rebuild: regenerate the initramfs of kver if one of the packages whose modules
 * changed belongs in it (changed: package names). Returns as dkm_initrd_regenerate. */
int dkm_initrd_update(struct dkm_ctx *ctx, const char *kver, const char *arch,
		      char *const *changed);
