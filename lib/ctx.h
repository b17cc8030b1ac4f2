/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "sandbox.h"

/* The enumerated settings of dkm-hook.conf, parsed once when it is read. Each has a name table
 * in ctx.c (the values the file accepts, in this order); _to_string gives the name. */
enum dkm_compress_setting {
	DKM_COMPRESS_SETTING_AUTO, /* what the kernel's CONFIG_MODULE_COMPRESS_* says */
	DKM_COMPRESS_SETTING_NONE,
	DKM_COMPRESS_SETTING_XZ,
	DKM_COMPRESS_SETTING_ZSTD,
	DKM_COMPRESS_SETTING_GZIP,
	_DKM_COMPRESS_SETTING_MAX,
};
enum dkm_sign_setting {
	DKM_SIGN_AUTO, /* when the kernel has CONFIG_MODULE_SIG */
	DKM_SIGN_YES,
	DKM_SIGN_NO,
	_DKM_SIGN_MAX,
};
enum dkm_initrd_generator {
	DKM_INITRD_GENERATOR_AUTO, /* the one whose kernel hook is installed */
	DKM_INITRD_GENERATOR_DRACUT,
	DKM_INITRD_GENERATOR_INITRAMFS_TOOLS,
	DKM_INITRD_GENERATOR_NONE,
	_DKM_INITRD_GENERATOR_MAX,
};
enum dkm_fail_policy {
	DKM_FAIL_AUTO, /* a kernel hook fails when a module of the initramfs did not build */
	DKM_FAIL_NEVER,
	DKM_FAIL_ALWAYS,
	_DKM_FAIL_MAX,
};
const char *dkm_compress_setting_to_string(enum dkm_compress_setting v);
const char *dkm_sign_setting_to_string(enum dkm_sign_setting v);
const char *dkm_initrd_generator_to_string(enum dkm_initrd_generator v);
const char *dkm_fail_policy_to_string(enum dkm_fail_policy v);

/* Everything the tool touches is computed from one context: a root plus the configured
 * locations inside it. Paths stored here are "logical" (as seen from inside the root,
 * starting with '/'); dkm_ctx_path() joins them with the root. */
struct dkm_ctx {
	char *root; /* absolute, no trailing slash; "" means "/" */

	char *source_tree; /* /usr/src */
	char *state_dir;   /* /var/lib/dkm-hook */
	char *module_dir;  /* /lib/modules */
	char *conf_dir;	   /* /etc/dkm-hook */
	char *sign_key;	   /* /var/lib/dkm-hook/mok.key */
	char *sign_cert;   /* /var/lib/dkm-hook/mok.der */

	/* settings from dkm-hook.conf */
	enum dkm_compress_setting compress;
	enum dkm_sign_setting sign;
	char *build_user;	/* user for compilers and package scripts; "" = caller */
	unsigned build_timeout; /* seconds, 0 = none */
	enum dkm_initrd_generator initrd_generator;
	char **initrd_packages; /* NULL-terminated */
	enum dkm_fail_policy fail_policy;
	char *cc_launcher;	  /* auto (ccache if in PATH), "" = none, or e.g. ccache */
	char *cc_cache_dir;	  /* holds a cache per package; "" = <state_dir>/cc-cache */
	uint64_t cc_cache_max;	  /* bytes per package's cache, 0 = no limit */
	char *dest_location;	  /* auto|dkms.conf|/updates/dkms ... */
	char *root_device;	  /* for initrd-modules: device or image holding the root fs */
	bool pkg_scripts_as_root; /* yes|no: install-time package scripts of root's sources */

	unsigned jobs; /* job budget, >= 1 */
	bool force;

	int log_level;
	dkm_log_fn log_fn;
	void *log_userdata;
	/* what is neither a message nor data: the progress line of a schedule and a package
	 * script's own output, handed to the front end as it is (log_userdata passed); NULL drops */
	dkm_output_fn output_fn;

	enum dkm_sandbox_policy sandbox;
	int sandbox_state;	/* 0 not probed yet, 1 available, -errno unavailable */
	unsigned build_uid_min; /* the range of uids builds run as, one per build at a time */
	unsigned build_uid_max;
	/* what one build may use (0 = no limit) */
	uint64_t build_log_max;	   /* bytes of output kept in build.log */
	uint64_t build_dir_max;	   /* bytes in the build dir, and the largest file it may write */
	unsigned build_max_procs;  /* processes of the build user a build may add */
	uint64_t build_max_memory; /* address space of each build process, bytes */

	unsigned lock_timeout; /* lock_timeout=: seconds an unattended command waits for a lock */
	bool unattended;       /* a kernel hook: lock waits end after lock_timeout (0 = never) */
};

int dkm_ctx_new(const char *root, struct dkm_ctx **ret);
struct dkm_ctx *dkm_ctx_free(struct dkm_ctx *ctx);
/* Read <root><conf_dir>/dkm-hook.conf (missing file is fine). It decides which key signs and
 * which user builds: a symlink there is refused (not followed), and as root so is a file that
 * root does not own or that others can write; a state dir others can write is warned about. */
int dkm_ctx_load_config(struct dkm_ctx *ctx);
/* Every key dkm-hook.conf accepts (for dkm-hook.conf(5) and its test): a new strv. */
char **dkm_ctx_config_keys(void);

/* Join the root with a logical path ("/lib/modules/6.1.0"): malloc'ed, never NULL (aborts on
 * OOM, like every small allocation here). */
char *dkm_ctx_path(const struct dkm_ctx *ctx, const char *logical);
/* Same, with printf-style construction of the logical part. */
char *dkm_ctx_pathf(const struct dkm_ctx *ctx, const char *fmt, ...) _printf_(2, 3);
bool dkm_ctx_is_host_root(const struct dkm_ctx *ctx);

static inline void dkm_ctx_freep(struct dkm_ctx **c)
{
	dkm_ctx_free(*c);
}
#define _cleanup_ctx_ _cleanup_(dkm_ctx_freep)
