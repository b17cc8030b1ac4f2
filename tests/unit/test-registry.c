/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/registry.c: the key=value reader and writer every state file goes through (round trip,
 * the one escape it has, lines it skips), the state names, the per-module record, and that a
 * state file an older version wrote reads back and is written back byte for byte. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctx.h"
#include "log-capture.h"
#include "registry.h"
#include "tap.h"
#include "util.h"

static char *tmp;

static char *slurp(const char *path)
{
	char *data = NULL;
	size_t len;

	if (read_full_file(path, 1 << 20, &data, &len) < 0)
		return NULL;
	return data;
}

static void put(const char *path, const char *text)
{
	FILE *f;

	(void)mkdir_parents(path, 0755);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_kv_parse(void)
{
	_cleanup_kv_ struct dkm_kv kv = { 0 };
	const char text[] = "# a comment=not a key\n"
			    "name=dkms_test\n"
			    "no equals sign here\n"
			    "cmd=make KVER=6.1.0 -j2\n"
			    "empty=\n"
			    "name=again\n"
			    "last=no newline";

	dkm_kv_parse(text, sizeof(text) - 1, &kv);
	tap_is_int(kv.n, 4,
		   "kv: comment and a line without '=' are skipped, a repeated key is one");
	tap_is_str(dkm_kv_get(&kv, "name"), "again", "kv: the last of a repeated key wins");
	tap_is_str(dkm_kv_get(&kv, "cmd"), "make KVER=6.1.0 -j2",
		   "kv: the value runs from the first '='");
	tap_is_str(dkm_kv_get(&kv, "empty"), "", "kv: an empty value is there, empty");
	tap_is_str(dkm_kv_get(&kv, "last"), "no newline", "kv: a last line without newline");
	tap_ok(!dkm_kv_get(&kv, "# a comment"), "kv: a comment is no key");
	tap_ok(!dkm_kv_get(&kv, "no equals sign here"), "kv: a bad line is no key");
	tap_ok(!dkm_kv_get(&kv, "missing"), "kv: a missing key is NULL");
}

static void test_kv_round_trip(void)
{
	_cleanup_free_ char *path = path_join(tmp, "kv/doc");
	_cleanup_free_ char *bytes = NULL;
	_cleanup_kv_ struct dkm_kv kv = { 0 }, back = { 0 };

	dkm_kv_set(&kv, "b", "two words");
	dkm_kv_set(&kv, "a", "x=y");
	dkm_kv_set(&kv, "reason", "line one\nline two");
	dkm_kv_set(&kv, "nothing", NULL);
	tap_is_int(dkm_kv_write(path, &kv), 0, "kv: written (parents made)");
	bytes = slurp(path);
	tap_is_str(bytes, "b=two words\na=x=y\nreason=line one line two\nnothing=\n",
		   "kv: one key=value line each, in order; a newline in a value folds to a space");
	tap_is_int(dkm_kv_read(path, &back), 0, "kv: read back");
	tap_is_int(back.n, 4, "kv: every key back");
	for (size_t i = 0; i < back.n && i < kv.n; i++)
		tap_is_str(back.keys[i], kv.keys[i], "kv: keys back in order");
	tap_is_str(dkm_kv_get(&back, "a"), "x=y", "kv: '=' in a value survives");
	tap_is_str(dkm_kv_get(&back, "reason"), "line one line two", "kv: the folded value");
	tap_is_str(dkm_kv_get(&back, "nothing"), "", "kv: NULL is written as empty");
	/* setting a key to its own current value (a pointer into the kv) keeps it */
	dkm_kv_set(&back, "a", dkm_kv_get(&back, "a"));
	tap_is_str(dkm_kv_get(&back, "a"), "x=y", "kv: set to its own value");
	{
		_cleanup_kv_ struct dkm_kv none = { 0 };
		_cleanup_free_ char *missing = path_join(tmp, "kv/missing");

		tap_is_int(dkm_kv_read(missing, &none), -ENOENT, "kv: a missing file is -ENOENT");
	}
}

static void test_state_names(void)
{
	static const struct {
		enum dkm_state s;
		const char *name;
	} t[] = {
		{ DKM_STATE_BUILT, "built" },
		{ DKM_STATE_INSTALLED, "installed" },
		{ DKM_STATE_FAILED, "failed" },
		{ DKM_STATE_EXCLUDED, "excluded" },
	};

	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		tap_is_str(dkm_state_to_string(t[i].s), t[i].name, "state: name of the enum");
		tap_is_int(dkm_state_from_string(t[i].name), t[i].s, "state: enum of the name");
	}
	tap_ok(!dkm_state_to_string(DKM_STATE_NONE), "state: NONE has no name");
	tap_ok(!dkm_state_to_string(DKM_STATE_INVALID), "state: INVALID has no name");
	tap_is_int(dkm_state_from_string("Installed"), DKM_STATE_INVALID, "state: names are exact");
	tap_is_int(dkm_state_from_string(""), DKM_STATE_INVALID, "state: empty is invalid");
	tap_is_int(dkm_state_from_string(NULL), DKM_STATE_INVALID, "state: NULL is invalid");
	tap_ok(dkm_state_has_build(DKM_STATE_BUILT) && dkm_state_has_build(DKM_STATE_INSTALLED) &&
		       !dkm_state_has_build(DKM_STATE_FAILED) &&
		       !dkm_state_has_build(DKM_STATE_EXCLUDED) &&
		       !dkm_state_has_build(DKM_STATE_NONE) &&
		       !dkm_state_has_build(DKM_STATE_INVALID),
	       "state: only built and installed have a build");
}

static void test_modrec(void)
{
	_cleanup_kv_ struct dkm_kv kv = { 0 };
	struct dkm_modrec r;
	_cleanup_free_ char *lines = NULL;

	dkm_kv_set(&kv, "modules", "a");
	dkm_modrec_set(&kv, "a",
		       &(struct dkm_modrec){
			       .sha256 = "s", .file = "a.ko.xz", .location = "/updates/dkms" });
	dkm_modrec_set(&kv, "b", &(struct dkm_modrec){ .path = "/lib/modules/k/updates/b.ko" });
	tap_is_int(kv.n, 5, "modrec: one line per field set");
	tap_is_str(kv.keys[1], "module.a.file", "modrec: fields in struct order (file)");
	tap_is_str(kv.keys[2], "module.a.location", "modrec: fields in struct order (location)");
	tap_is_str(kv.keys[3], "module.a.sha256", "modrec: fields in struct order (sha256)");
	tap_is_str(kv.keys[4], "module.b.path", "modrec: another module's field");
	dkm_modrec_get(&kv, "a", &r);
	tap_is_str(r.file, "a.ko.xz", "modrec: file back");
	tap_is_str(r.location, "/updates/dkms", "modrec: location back");
	tap_is_str(r.sha256, "s", "modrec: sha256 back");
	tap_ok(!r.path && !r.src && !r.stage && !r.old && !r.oldsha && !r.displace && !r.ours,
	       "modrec: fields without a line are NULL");
	dkm_modrec_set(&kv, "a", &(struct dkm_modrec){ .sha256 = "t" });
	dkm_modrec_get(&kv, "a", &r);
	tap_ok(streq(r.sha256, "t") && streq(r.file, "a.ko.xz"),
	       "modrec: setting one field leaves the others");
	dkm_modrec_get(&kv, "c", &r);
	tap_ok(!r.file && !r.sha256, "modrec: an unknown module has no fields");
}

/* A state file as versions before the enum wrote it: read back and written back unchanged. */
static void test_inst_compat(struct dkm_ctx *ctx)
{
	const char old[] = "state=installed\n"
			   "changed=2025-01-02T03:04:05Z\n"
			   "modules=dkms_test\n"
			   "module.dkms_test.file=dkms_test.ko.xz\n"
			   "module.dkms_test.location=/updates/dkms\n"
			   "module.dkms_test.sha256="
			   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
			   "compression=xz\n"
			   "signed=yes\n";
	_cleanup_free_ char *dir = dkm_inst_dir(ctx, "dkms-test", "1.0", "6.1.0-9-amd64", "x86_64");
	_cleanup_free_ char *path = path_join(dir, "state");
	struct dkm_modrec r;

	put(path, old);
	{
		_cleanup_inst_ struct dkm_inst inst = { 0 };
		_cleanup_free_ char *again = NULL;

		tap_is_int(dkm_inst_load(ctx, "dkms-test", "1.0", "6.1.0-9-amd64", "x86_64", &inst),
			   1, "inst: an existing state file loads (1)");
		tap_is_int(inst.state, DKM_STATE_INSTALLED, "inst: state=installed is INSTALLED");
		tap_is_str(dkm_inst_state_name(&inst), "installed", "inst: its name");
		dkm_modrec_get(&inst.kv, "dkms_test", &r);
		tap_is_str(r.file, "dkms_test.ko.xz", "inst: the module's record");
		tap_is_int(dkm_inst_save(ctx, "dkms-test", "1.0", "6.1.0-9-amd64", "x86_64", &inst),
			   0, "inst: saved");
		again = slurp(path);
		tap_is_str(again, old, "inst: written back byte for byte");
	}
	{
		_cleanup_inst_ struct dkm_inst inst = { 0 };
		_cleanup_free_ char *again = NULL;

		put(path, "state=half-writ\nmodules=x\n");
		tap_is_int(dkm_inst_load(ctx, "dkms-test", "1.0", "6.1.0-9-amd64", "x86_64", &inst),
			   1, "inst: a damaged state file loads");
		tap_is_int(inst.state, DKM_STATE_INVALID, "inst: an unknown state is INVALID");
		tap_is_str(dkm_inst_state_name(&inst), "half-writ",
			   "inst: the damaged line is shown as it is");
		(void)dkm_inst_save(ctx, "dkms-test", "1.0", "6.1.0-9-amd64", "x86_64", &inst);
		again = slurp(path);
		tap_is_str(again, "state=half-writ\nmodules=x\n",
			   "inst: a damaged state is written back as read, not replaced");
	}
	{
		_cleanup_inst_ struct dkm_inst inst = { 0 };

		put(path, "modules=x\n");
		(void)dkm_inst_load(ctx, "dkms-test", "1.0", "6.1.0-9-amd64", "x86_64", &inst);
		tap_is_int(inst.state, DKM_STATE_NONE, "inst: no state= line is NONE");
		tap_ok(!dkm_inst_state_name(&inst), "inst: NONE has no name");
	}
	{
		_cleanup_inst_ struct dkm_inst inst = { 0 };

		tap_is_int(dkm_inst_load(ctx, "dkms-test", "1.0", "6.1.0-10-amd64", "x86_64",
					 &inst),
			   0, "inst: no state file is 0");
		tap_is_int(inst.state, DKM_STATE_NONE, "inst: and NONE");
	}
	{
		_cleanup_inst_ struct dkm_inst inst = { .state = DKM_STATE_FAILED };
		_cleanup_free_ char *d2 = dkm_inst_dir(ctx, "dkms-test", "1.0", "6.2.0", "x86_64");
		_cleanup_free_ char *p2 = path_join(d2, "state");
		_cleanup_free_ char *again = NULL;

		dkm_kv_set(&inst.kv, "reason", "make failed");
		tap_is_int(dkm_inst_save(ctx, "dkms-test", "1.0", "6.2.0", "x86_64", &inst), 0,
			   "inst: a new state file");
		again = slurp(p2);
		tap_is_str(again, "reason=make failed\nstate=failed\n",
			   "inst: the state is written by its name");
	}
}

int main(void)
{
	char tmpl[] = "/tmp/test-registry.XXXXXX";
	struct dkm_ctx *ctx = NULL;
	struct log_capture cap;

	tmp = mkdtemp(tmpl);
	if (!tmp || dkm_ctx_new(tmp, &ctx) < 0) {
		printf("Bail out! no temporary root\n");
		return 1;
	}
	log_capture_attach(ctx, &cap);
	test_kv_parse();
	test_kv_round_trip();
	test_state_names();
	test_modrec();
	test_inst_compat(ctx);
	dkm_ctx_free(ctx);
	(void)rm_rf(tmp);
	return tap_done();
}
