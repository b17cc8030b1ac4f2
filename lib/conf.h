/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct dkm_ctx;

/* The variables a dkms.conf sees when it is read for one kernel (docs/dkms-conf-evaluation.md). */
struct dkm_conf_env {
	const char *kernelver;
	const char *arch;
	const char *kernel_source_dir;
	const char *dkms_tree;
	const char *source_tree;
	const char *install_tree;
	const char *module;	    /* package name as registered, may be NULL before add */
	const char *module_version; /* may be NULL before add */
};

struct dkm_conf_module {
	char *built_name;     /* BUILT_MODULE_NAME[i]; PACKAGE_NAME if single module and unset */
	char *built_location; /* BUILT_MODULE_LOCATION[i], relative to the build dir, "" = top */
	char *dest_name;      /* DEST_MODULE_NAME[i], default built_name */
	char *dest_location;  /* DEST_MODULE_LOCATION[i], e.g. "/updates/dkms" (validated) */
	bool strip;	      /* STRIP[i], default true */
};

struct dkm_conf {
	char *path; /* the file that was read */
	char *package_name;
	char *package_version;

	struct dkm_conf_module *modules;
	size_t n_modules;

	char *make;	/* the MAKE command selected for kernelver (MAKE_MATCH), NULL = default */
	char *clean;	/* CLEAN, deprecated, may be NULL */
	char **patches; /* PATCH[i] selected for kernelver (PATCH_MATCH), NULL-terminated */

	bool autoinstall;
	char **build_depends;		  /* package names, NULL-terminated */
	char *build_exclusive_kernel;	  /* ERE */
	char *build_exclusive_kernel_min; /* version */
	char *build_exclusive_kernel_max;
	char *build_exclusive_arch;    /* ERE (DKMS matches it as a regex) */
	char **build_exclusive_config; /* "CONFIG_X" or "!CONFIG_X" */

	char *pre_build, *post_build;				   /* relative to the build dir */
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

/* ---- beyond the basic API: used by tests/tools/conf-dump and the unit tests ---- */

#include <stdio.h>

struct dkm_shvars;

#define DKM_CONF_MAX_SIZE (1024U * 1024U) /* larger files are refused */
#define DKM_CONF_SHELL_TIMEOUT_SEC 10U	  /* a sandboxed evaluation is killed after this */

/* The directive names DKMS reads (NULL-terminated, sorted). */
extern const char *const dkm_conf_directives[];

/* Read a dkms.conf into its table of variables (the "raw" view: what the file assigned),
 * evaluating it like dkm_conf_read() does. ret_needed_shell may be NULL. */
int dkm_conf_read_vars(struct dkm_ctx *ctx, const char *path, const struct dkm_conf_env *env,
		       struct dkm_shvars **ret_vars, bool *ret_needed_shell);
/* Validate a table and resolve it for env->kernelver. path is only used in messages. */
int dkm_conf_from_vars(struct dkm_ctx *ctx, const char *path, const struct dkm_shvars *vars,
		       const struct dkm_conf_env *env, struct dkm_conf **ret);
/* Print "NAME[idx]=value" lines (dkm_shvars_format escaping), sorted by name then index:
 * every directive and every variable the file assigned; the predefined variables only when
 * the file changed them. */
int dkm_conf_dump_raw(const struct dkm_shvars *vars, const struct dkm_conf_env *env, FILE *f);

/* Version order of dkms VER(): runs of digits padded to three digits, then compared as
 * strings (so "6.1" < "6.1.0-56-amd64" and "1000" < "999", exactly like DKMS). -1/0/1. */
int dkm_conf_ver_compare(const char *a, const char *b);

/* Is name one of the variables of struct dkm_conf_env? Its value in env (may be NULL). */
bool dkm_conf_env_is_var(const char *name);
const char *dkm_conf_env_value(const struct dkm_conf_env *env, const char *name);
