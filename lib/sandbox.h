/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct dkm_ctx;

/* What a build, a package script or a dkms.conf evaluation may touch: the whole file system
 * read-only and without setuid, its own mount, PID, network, IPC and UTS namespaces, a /proc
 * that shows only its own processes, a private /dev/shm, the signing key unreadable, and a
 * few directories bound at fixed places below DKM_SANDBOX_VIEW (the only writable ones are
 * those marked so). Entered in the child, as root, before it drops to the build uid (so the
 * build cannot undo it); works in a plain chroot too, where "/" is not a mount point.
 *
 * The fixed places are what the build sees, whatever the permissions of the directories
 * above the real ones (a root below a 0700 directory, a state dir made under umask 077). */
#define DKM_SANDBOX_VIEW "/run/dkm-hook"

enum dkm_sandbox_policy {
	DKM_SANDBOX_AUTO,     /* the strongest isolation available; one warning if none is */
	DKM_SANDBOX_REQUIRED, /* refuse to build without it */
	DKM_SANDBOX_OFF,      /* only the unprivileged uid */
	_DKM_SANDBOX_POLICY_MAX,
};

const char *dkm_sandbox_policy_name(enum dkm_sandbox_policy p);
int dkm_sandbox_policy_from_name(const char *s); /* the enum, or -EINVAL */
extern const char *const dkm_sandbox_policy_names[];

/* The steps of setting it up, for the one line that says which failed. */
enum dkm_sandbox_step {
	DKM_SANDBOX_STEP_NONE,
	DKM_SANDBOX_STEP_UNSHARE,
	DKM_SANDBOX_STEP_PRIVATE,
	DKM_SANDBOX_STEP_CHROOT,
	DKM_SANDBOX_STEP_REBIND_ROOT,
	DKM_SANDBOX_STEP_OPEN_BIND,
	DKM_SANDBOX_STEP_VIEW,
	DKM_SANDBOX_STEP_BIND,
	DKM_SANDBOX_STEP_READONLY,
	DKM_SANDBOX_STEP_WRITABLE,
	DKM_SANDBOX_STEP_SHM,
	DKM_SANDBOX_STEP_HIDE,
	DKM_SANDBOX_STEP_PROC,
	DKM_SANDBOX_STEP_CWD,	/* entering the working directory as the build uid */
	DKM_SANDBOX_STEP_REACH, /* a path the build needs, as the build uid */
	_DKM_SANDBOX_STEP_MAX,
};

struct dkm_sandbox_error {
	int err;   /* errno */
	int step;  /* enum dkm_sandbox_step */
	int index; /* which bind / hidden file / reach path */
};

#define DKM_SANDBOX_MAX_BINDS 8
#define DKM_SANDBOX_MAX_HIDE 4

struct dkm_sandbox_bind {
	char *src; /* real path, resolved before the sandbox is entered */
	char *dst; /* DKM_SANDBOX_VIEW/<name> */
	bool writable;
};

struct dkm_sandbox {
	struct dkm_sandbox_bind binds[DKM_SANDBOX_MAX_BINDS];
	size_t n_binds;
	char *hide[DKM_SANDBOX_MAX_HIDE]; /* real paths of files made unreadable */
	size_t n_hide;
};

/* Decide, once per context, whether children get a sandbox: 1 yes, 0 no (policy off, not
 * root, or auto without the kernel features: then one warning says what is missing), or
 * -errno with one error line when sandbox=required cannot be met. */
int dkm_sandbox_wanted(struct dkm_ctx *ctx);

/* A sandbox for ctx: the key hidden, and the root (when it is not "/") visible at
 * DKM_SANDBOX_VIEW/root. */
void dkm_sandbox_init(struct dkm_sandbox *sb, struct dkm_ctx *ctx);
/* Bind src at DKM_SANDBOX_VIEW/<name> ('/' allowed in name). Returns the in-sandbox path
 * (owned by sb). */
const char *dkm_sandbox_add_bind(struct dkm_sandbox *sb, const char *src, const char *name,
				 bool writable);
/* The path under which the sandboxed child sees a real path (a new string; a path that no
 * bind covers is itself). */
char *dkm_sandbox_view(const struct dkm_sandbox *sb, const char *path);
void dkm_sandbox_done(struct dkm_sandbox *sb);

/* In the child, as root: namespaces and mounts. The next child forked is the init of the new
 * PID namespace and must call dkm_sandbox_enter_init(). 0, or -errno with *ret_err set. */
int dkm_sandbox_enter(const struct dkm_sandbox *sb, struct dkm_sandbox_error *ret_err);
/* In that init: a /proc of its own. */
int dkm_sandbox_enter_init(const struct dkm_sandbox *sb, struct dkm_sandbox_error *ret_err);

/* "bind '/var/lib/…' on '/run/dkm-hook/build/…'": what a step did (for messages). */
char *dkm_sandbox_describe(const struct dkm_sandbox *sb, const struct dkm_sandbox_error *e,
			   const char *const *reach);
