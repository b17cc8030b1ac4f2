/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dkm-hook's command line: the verb table, what a verb is handed, the one errno -> exit code
 * mapping. main.c parses the options and dispatches through the table; one file per verb
 * family (verb-*.c) calls the engine (lib/) and chooses the exit code. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "actions.h"
#include "exit-code.h"

struct dkm_ctx;

/* Everything main() parsed, for the verb to use. */
struct invocation {
	struct dkm_ctx *ctx;
	struct dkm_opts o; /* -k/--all-kernels already resolved into o.kernels */
	char **args;	   /* the positional arguments after the verb */
	int nargs;
	bool all_kernels;     /* --all-kernels was given (o.kernels are those kernels) */
	bool repair;	      /* fsck --repair */
	const char *cert;     /* verify --cert */
	const char *format;   /* export --format */
	const char *output;   /* export -o */
	const char *dkmstree; /* import --dkmstree */
};

enum {
	/* --all-kernels is accepted (build, install, rebuild) */
	VERB_ALL_KERNELS = 1 << 0,
	/* the positional arguments are kernels: --all-kernels stands for them (rebuild) */
	VERB_KERNEL_ARGS = 1 << 1,
};

struct verb {
	const char *name;
	const char *args; /* the synopsis of its arguments (--help, --list verbs) */
	int min_args, max_args;
	unsigned flags;
	int (*run)(const struct verb *v, struct invocation *inv);
	const char *help;
};

extern const char *prog;

void verb_usage(FILE *f, const struct verb *v);

/* verb-register.c */
int verb_add(const struct verb *v, struct invocation *inv);
int verb_remove(const struct verb *v, struct invocation *inv);
/* verb-build.c */
int verb_build(const struct verb *v, struct invocation *inv);
int verb_install(const struct verb *v, struct invocation *inv);
int verb_uninstall(const struct verb *v, struct invocation *inv);
int verb_unbuild(const struct verb *v, struct invocation *inv);
/* verb-kernel.c */
int verb_rebuild(const struct verb *v, struct invocation *inv);
int verb_kernel_add(const struct verb *v, struct invocation *inv);
int verb_kernel_remove(const struct verb *v, struct invocation *inv);
/* verb-status.c */
int verb_status(const struct verb *v, struct invocation *inv);
/* verb-fsck.c */
int verb_fsck(const struct verb *v, struct invocation *inv);
/* verb-export.c */
int verb_import(const struct verb *v, struct invocation *inv);
int verb_export(const struct verb *v, struct invocation *inv);
int verb_import_binary(const struct verb *v, struct invocation *inv);
/* verb-sign.c */
int verb_keygen(const struct verb *v, struct invocation *inv);
int verb_verify(const struct verb *v, struct invocation *inv);
/* verb-initrd.c */
int verb_initrd_modules(const struct verb *v, struct invocation *inv);
