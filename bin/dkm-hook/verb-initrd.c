/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* initrd-modules: the modules that belong in a kernel's initramfs, and why (text: one line per
 * module, "<module>\t<package>/<version>\t<state>\t<reason>[; <reason>...]"; or one JSON
 * object), from what lib/initrd.c decides. */
#include <stdio.h>
#include <string.h>

#include "ctx.h"
#include "dkm-hook.h"
#include "initrd.h"
#include "json-writer.h"
#include "kernel.h"
#include "log.h"
#include "registry.h"
#include "util.h"

/* docs/json.md, docs/schema/initrd-modules.schema.json: one object, a module per line */
/* what the list shows for a state: its name, "none" without a build */
static const char *state_word(enum dkm_state s)
{
	return dkm_state_to_string(s) ?: "none";
}

static void print_json(const char *kver, const struct dkm_initrd_list *l)
{
	struct json_writer w = JSON_WRITER_INIT(stdout);

	jw_object_begin(&w, NULL);
	jw_int(&w, "version", 1);
	jw_str(&w, "kernel", strempty(kver));
	jw_str(&w, "root_device", l->root_device);
	jw_str(&w, "root_fstype", l->root_fstype);
	jw_array_begin(&w, "modules");
	for (size_t i = 0; i < l->n; i++) {
		const struct dkm_initrd_entry *e = &l->entries[i];

		jw_prefix(&w, "\n  ");
		jw_object_begin(&w, NULL);
		jw_str(&w, "module", strempty(e->module));
		jw_str(&w, "package", strempty(e->package));
		jw_str(&w, "version", strempty(e->version));
		jw_str(&w, "state", state_word(e->state));
		jw_str(&w, "file", e->file);
		jw_str(&w, "log", e->log);
		jw_array_begin(&w, "reasons");
		for (size_t j = 0; e->reasons[j]; j++)
			jw_str(&w, NULL, strempty(e->reasons[j]));
		jw_array_end(&w);
		jw_object_end(&w);
	}
	if (l->n)
		jw_raw(&w, "\n");
	jw_array_end(&w);
	jw_object_end(&w);
	fputc('\n', stdout);
}

/* the list, then, logged, each module that belongs and is missing: 1 when one is and
 * fail_policy is not "never" (an image made now would not boot), 2 when the kernel is unknown */
static int initrd_modules(struct dkm_ctx *ctx, const char *kver, const char *arch, bool json)
{
	_cleanup_kernel_ struct dkm_kernel *k = NULL;
	struct dkm_initrd_list l = { 0 };
	bool never = ctx->fail_policy == DKM_FAIL_NEVER;
	int r, missing = 0;

	r = dkm_kernel_probe(ctx, kver, arch, NULL, &k);
	if (r < 0)
		return DKM_EXIT_USAGE; /* no such kernel: a bad argument */
	r = dkm_initrd_modules(ctx, kver, k->arch, &l);
	if (r < 0)
		return DKM_EXIT_FAILURE;
	if (json)
		print_json(kver, &l);
	for (size_t i = 0; i < l.n && !json; i++) {
		const struct dkm_initrd_entry *e = &l.entries[i];
		_cleanup_free_ char *why = strv_join(e->reasons, "; ");

		printf("%s\t%s/%s\t%s\t%s\n", e->module, e->package, e->version,
		       state_word(e->state), why);
	}
	/* the list first, then what is wrong with it */
	fflush(stdout);
	for (size_t i = 0; i < l.n; i++) {
		const struct dkm_initrd_entry *e = &l.entries[i];
		_cleanup_free_ char *what = NULL;

		if (e->state == DKM_STATE_INSTALLED)
			continue;
		if (e->state == DKM_STATE_FAILED)
			what = e->log ? xasprintf("failed to build (log: '%s')", e->log)
				      : xstrdup("failed to build");
		else
			what = xasprintf("is not installed for it (state %s)",
					 state_word(e->state));
		if (!dkm_initrd_entry_missing(e, k->has_headers))
			dkm_warn(ctx,
				 "%s (%s/%s) belongs in the initramfs of %s but is not built yet (no kernel headers): the initramfs is made without it; install linux-headers-%s, its hook will rebuild it",
				 e->module, e->package, e->version, kver, kver);
		else if (never)
			dkm_warn(ctx,
				 "%s (%s/%s) belongs in the initramfs of %s (%s) but %s: the initramfs is made without it (fail_policy=never)",
				 e->module, e->package, e->version, kver, e->reasons[0], what);
		else {
			dkm_err(ctx, 0,
				"%s (%s/%s) belongs in the initramfs of %s (%s) but %s: an initramfs without it would not boot",
				e->module, e->package, e->version, kver, e->reasons[0], what);
			missing++;
		}
	}
	dkm_initrd_list_done(&l);
	return missing ? DKM_EXIT_FAILURE : DKM_EXIT_OK;
}

int verb_initrd_modules(const struct verb *v, struct invocation *inv)
{
	return initrd_modules(inv->ctx, inv->args[0], inv->o.arch, inv->o.json);
}
