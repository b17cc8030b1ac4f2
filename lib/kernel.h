/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

struct dkm_ctx;

/* Facts about one target kernel, read from its module dir and headers. */
struct dkm_kernel {
	char *kver;
	char *arch;
	char *moddir;	      /* <root>/lib/modules/<kver> */
	char *moddir_logical; /* /lib/modules/<kver> */
	char *source_dir;     /* headers: <moddir>/build or --kernel-source-dir */
	char *config_path;    /* <source_dir>/.config, NULL if absent */
	bool has_headers;     /* <source_dir>/Makefile exists */
	bool module_sig;      /* CONFIG_MODULE_SIG=y */
	char *sig_hash;	      /* CONFIG_MODULE_SIG_HASH, e.g. "sha256"; NULL if not signing */
	char *compression;    /* none|gzip|xz|zstd as the kernel expects (before config override) */
	char *cc_version;     /* CONFIG_CC_VERSION_TEXT, for the build cache fingerprint */
	char fingerprint[65]; /* lazily: sha256 of .config, Module.symvers, compiler */
};

/* The one rule for every name that becomes a path component under the root or the state and
 * reaches shells and tools as a word: kernel versions, architectures, package names and
 * versions, module names (from the command line, the dkms front end and dkms.conf alike).
 * Letters, digits and the characters "._+-~", not starting with '-' or '.', no "..", at most
 * 255 bytes. NULL if s is such a name, else what is wrong with it, as text for an error
 * message ("it contains '/'", "it starts with '-'", "it is empty"...), written to buf. */
#define DKM_NAME_RULE "letters, digits and '._+-~', not starting with '-' or '.'"
const char *dkm_name_problem(const char *s, char buf[static 64]);
/* A command-line argument that must be such a name: 0, or -EINVAL after logging
 * "invalid <what> '<s>': <problem>: expected a name of <rule>, e.g. '<example>'". */
int dkm_arg_check(struct dkm_ctx *ctx, const char *what, const char *s, const char *example);
/* Is kver usable as a kernel version (a name as above: the name of a kernel's directory)? 0,
 * or -EINVAL after logging what is wrong and what a valid one looks like. */
int dkm_kver_check(struct dkm_ctx *ctx, const char *kver);
int dkm_kernel_probe(struct dkm_ctx *ctx, const char *kver, const char *arch,
		     const char *source_dir, struct dkm_kernel **ret);
struct dkm_kernel *dkm_kernel_free(struct dkm_kernel *k);

/* Value of CONFIG_<name> in a kconfig file: "y", "m", a string without quotes, or NULL. */
char *dkm_kconfig_get(const char *config_path, const char *name);

/* sha256 (hex) over the headers' .config, Module.symvers and compiler version: what makes
 * a module built against them different. Computed once per kernel. */
const char *dkm_kernel_fingerprint(struct dkm_kernel *k);

/* The machine's architecture as uname -m reports it. */
const char *dkm_host_arch(void);
/* kernels present under <root>/lib/modules (NULL-terminated, sorted by version) */
char **dkm_kernel_list(struct dkm_ctx *ctx);
/* ... of them, those whose headers are there (<kver>/build/Makefile), with valid names */
char **dkm_kernel_list_with_headers(struct dkm_ctx *ctx);
/* The kernel to use when none was named: the running one if its dir exists in the root,
 * else the newest one with headers. NULL if none. */
char *dkm_kernel_default(struct dkm_ctx *ctx);

/* "Is this file name a kernel module?" and its module name ("dkms-test.ko.xz" -> "dkms_test"). */
char *dkm_module_name_from_path(const char *path);

static inline void dkm_kernel_freep(struct dkm_kernel **k)
{
	dkm_kernel_free(*k);
}
#define _cleanup_kernel_ _cleanup_(dkm_kernel_freep)
