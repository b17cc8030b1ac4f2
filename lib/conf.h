/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct dkm_ctx;

/* The variables a dkms.conf sees when it is read for one kernel (DESIGN §4). */
struct dkm_conf_env {
	const char *kernelver;
	const char *arch;
	const char *kernel_source_dir;
	const char *dkms_tree;
	const char *source_tree;
	const char *install_tree;
	const char *module;         /* package name as registered, may be NULL before add */
	const char *module_version; /* may be NULL before add */
};

struct dkm_conf_module {
	char *built_name;     /* BUILT_MODULE_NAME[i]; PACKAGE_NAME if single module and unset */
	char *built_location; /* BUILT_MODULE_LOCATION[i], relative to the build dir, "" = top */
	char *dest_name;      /* DEST_MODULE_NAME[i], default built_name */
	char *dest_location;  /* DEST_MODULE_LOCATION[i], e.g. "/updates/dkms" (validated) */
	bool strip;           /* STRIP[i], default true */
};

struct dkm_conf {
	char *path; /* the file that was read */
	char *package_name;
	char *package_version;

	struct dkm_conf_module *modules;
	size_t n_modules;

	char *make;   /* the MAKE command selected for kernelver (MAKE_MATCH), NULL = default */
	char *clean;  /* CLEAN, deprecated, may be NULL */
	char **patches; /* PATCH[i] selected for kernelver (PATCH_MATCH), NULL-terminated */

	bool autoinstall;
	char **build_depends; /* package names, NULL-terminated */
	char *build_exclusive_kernel;     /* ERE */
	char *build_exclusive_kernel_min; /* version */
	char *build_exclusive_kernel_max;
	char *build_exclusive_arch;       /* ERE (DKMS matches it as a regex) */
	char **build_exclusive_config;    /* "CONFIG_X" or "!CONFIG_X" */

	char *pre_build, *post_build; /* relative to the build dir */
	char *post_add, *pre_install, *post_install, *post_remove; /* relative to source dir */

	bool no_weak_modules;
	bool remake_initrd;
	char *obsolete_by;

	bool needed_shell; /* the file could only be evaluated by a (sandboxed) shell */
};

/* Read and validate a dkms.conf for one kernel. Never executes anything for files made of
 * plain assignments and variable expansion; files that need a real shell are evaluated in a
 * sandbox (see docs/dkms-conf-evaluation.md). On error, logs one message naming the file,
 * directive, index and the expected value, and returns -EINVAL (or another -errno). */
int dkm_conf_read(struct dkm_ctx *ctx, const char *path, const struct dkm_conf_env *env,
		  struct dkm_conf **ret);
struct dkm_conf *dkm_conf_free(struct dkm_conf *conf);

/* Is this package excluded for the kernel? Reads the kernel's .config for
 * BUILD_EXCLUSIVE_CONFIG (kconfig_path may be NULL if unknown). Returns 1 and a malloc'ed
 * human reason ("BUILD_EXCLUSIVE_KERNEL_MIN=6.2 > 6.1.0-56-amd64") when excluded, 0 when not,
 * -errno on error. */
int dkm_conf_excluded(const struct dkm_conf *conf, const char *kernelver, const char *arch,
		      const char *kconfig_path, char **ret_reason);

static inline void dkm_conf_freep(struct dkm_conf **c)
{
	dkm_conf_free(*c);
}
#define _cleanup_conf_ _cleanup_(dkm_conf_freep)
