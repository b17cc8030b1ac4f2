/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* keygen, verify: the module signing key and a module's signature. Thin on purpose: the work
 * is in lib/sign.c and lib/compress.c; here are the reports and the exit codes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "compress.h"
#include "ctx.h"
#include "dkm-hook.h"
#include "elf-module.h"
#include "json.h"
#include "log.h"
#include "modsig.h"
#include "sign.h"
#include "util.h"
#include "verb-sign.h"

int dkm_cmd_keygen(struct dkm_ctx *ctx, bool force)
{
	_cleanup_free_ char *key = dkm_ctx_path(ctx, ctx->sign_key);
	_cleanup_free_ char *cert = dkm_ctx_path(ctx, ctx->sign_cert);
	_cleanup_free_ char *signer = NULL, *key_id = NULL;
	int r;

	r = dkm_sign_key_ensure(ctx, key, cert, force);
	if (r < 0)
		return 1;
	if (r == 0) {
		dkm_err(ctx, EEXIST,
			"signing key '%s' and certificate '%s' already exist; run 'dkm-hook keygen --force' to replace them",
			key, cert);
		return 1;
	}
	if (dkm_cert_describe(ctx, cert, &signer, &key_id) < 0)
		return 1;
	printf("key:         %s\n", key);
	printf("certificate: %s\n", cert);
	printf("signer:      %s\n", signer);
	printf("sig_key:     %s\n", key_id);
	return 0;
}

static void json_field(FILE *f, const char *key, const char *value, bool last)
{
	dkm_json_str(f, key);
	fputc(':', f);
	dkm_json_str(f, value);
	fputs(last ? "" : ",", f);
}

static void report_json(const char *path, enum dkm_compression c, const struct dkm_elf_module *m,
			const struct dkm_sig_info *si, const char *cert)
{
	fputs("{\"version\":1,", stdout);
	json_field(stdout, "file", path, false);
	json_field(stdout, "compression", dkm_compression_name(c), false);
	json_field(stdout, "name", m->name, false);
	json_field(stdout, "vermagic", m->vermagic, false);
	printf("\"signed\":%s,", si->is_signed ? "true" : "false");
	json_field(stdout, "signer", si->signer, false);
	json_field(stdout, "sig_key", si->key_id, false);
	json_field(stdout, "sig_hashalgo", si->hash_algo, false);
	json_field(stdout, "certificate", cert, false);
	json_field(stdout, "verdict", dkm_sig_verdict_name(si->verdict), false);
	json_field(stdout, "reason", si->reason, true);
	fputs("}\n", stdout);
}

static void report_text(const char *path, enum dkm_compression c, const struct dkm_elf_module *m,
			const struct dkm_sig_info *si, const char *cert)
{
	printf("file:          %s\n", path);
	printf("compression:   %s\n", dkm_compression_name(c));
	printf("name:          %s\n", strempty(m->name));
	printf("vermagic:      %s\n", strempty(m->vermagic));
	if (si->is_signed && si->signer) {
		printf("signer:        %s\n", si->signer);
		printf("sig_key:       %s\n", si->key_id);
		printf("sig_hashalgo:  %s\n", si->hash_algo);
	}
	printf("certificate:   %s\n", cert);
	printf("signature:     %s%s%s\n", dkm_sig_verdict_name(si->verdict), si->reason ? ": " : "",
	       strempty(si->reason));
}

static int verdict_exit(struct dkm_ctx *ctx, const char *path, const struct dkm_sig_info *si)
{
	switch (si->verdict) {
	case DKM_SIG_VALID:
		return DKM_VERIFY_EXIT_VALID;
	case DKM_SIG_UNSIGNED:
		dkm_err(ctx, 0, "'%s' is not signed", path);
		return DKM_VERIFY_EXIT_UNSIGNED;
	case DKM_SIG_OTHER_KEY:
		dkm_err(ctx, 0, "'%s': %s", path, si->reason);
		return DKM_VERIFY_EXIT_OTHER_KEY;
	case DKM_SIG_INVALID:
		dkm_err(ctx, 0, "'%s': invalid signature: %s", path, si->reason);
		return DKM_VERIFY_EXIT_INVALID;
	default:
		return DKM_VERIFY_EXIT_ERROR;
	}
}

int dkm_cmd_verify(struct dkm_ctx *ctx, const char *module_path, const char *cert_path, bool json)
{
	_cleanup_free_ char *configured = NULL, *file = NULL;
	_cleanup_free_ void *plain = NULL;
	struct dkm_elf_module m = {};
	struct dkm_sig_info si = {};
	enum dkm_compression c;
	size_t file_len, plain_len, elf_len;
	int r;

	if (!cert_path) {
		configured = dkm_ctx_path(ctx, ctx->sign_cert);
		if (!path_exists(configured)) {
			dkm_err(ctx, ENOENT,
				"no certificate to check against: '%s' does not exist; pass --cert FILE, or run 'dkm-hook keygen'",
				configured);
			return DKM_VERIFY_EXIT_ERROR;
		}
		cert_path = configured;
	}

	r = read_full_file(module_path, DKM_DECOMPRESS_MAX, &file, &file_len);
	if (r < 0) {
		dkm_err(ctx, r, "cannot read module '%s': %s", module_path, strerror(-r));
		return DKM_VERIFY_EXIT_ERROR;
	}
	r = dkm_decompress(ctx, file, file_len, &plain, &plain_len, &c);
	if (r < 0)
		return DKM_VERIFY_EXIT_ERROR; /* logged: "xz data is corrupt: ..." */
	r = dkm_modsig_strip(plain, plain_len, &elf_len);
	if (r < 0)
		elf_len = plain_len; /* reported as an invalid signature below */
	r = dkm_elf_module_parse(ctx, module_path, plain, elf_len, &m);
	if (r < 0)
		return DKM_VERIFY_EXIT_ERROR;

	r = dkm_module_verify(ctx, plain, plain_len, cert_path, &si);
	if (r < 0) {
		dkm_elf_module_done(&m);
		return DKM_VERIFY_EXIT_ERROR;
	}
	if (json)
		report_json(module_path, c, &m, &si, cert_path);
	else
		report_text(module_path, c, &m, &si, cert_path);
	fflush(stdout);
	r = verdict_exit(ctx, module_path, &si);
	dkm_sig_info_done(&si);
	dkm_elf_module_done(&m);
	return r;
}

int verb_keygen(const struct verb *v, struct invocation *inv)
{
	return dkm_cmd_keygen(inv->ctx, inv->o.force);
}

int verb_verify(const struct verb *v, struct invocation *inv)
{
	return dkm_cmd_verify(inv->ctx, inv->args[0], inv->cert, inv->o.json);
}
