/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The fuzz targets: what one input does to the parsers that read data we did not write.
 * Shared, header-only, by the libFuzzer harness (tests/fuzz/fuzz.c, built by tests/fuzz/run
 * with clang) and the replay tool (tests/tools/fuzz-replay.c, built by `make`, run by
 * tests/fuzz-regressions.bats without clang). A target must never execute anything: the
 * dkms.conf target stops at the no-exec parser, it never reaches the sandboxed shell.
 *
 * Each target checks the invariants the callers rely on and abort()s when one is broken, so
 * that a wrong answer is a finding just like a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress-internal.h"
#include "compress.h"
#include "conf-internal.h"
#include "conf.h"
#include "ctx.h"
#include "elf-module.h"
#include "modsig.h"
#include "shvars.h"
#include "sign.h"
#include "util.h"

/* Decompressed data larger than this is refused by the target (the library's cap is 1 GiB:
 * reaching it is correct behaviour, but too slow and too large to fuzz). */
#define FUZZ_DECOMPRESS_MAX ((size_t)32 << 20)

#define fuzz_assert(x)                                                                             \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "fuzz: %s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
				#x);                                                               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* ---- dkm_shvars_parse() + dkm_conf_from_vars(): the no-exec dkms.conf reader ---- */

/* Does the path have a ".." component? ("a..b" is a name, not a way up.) */
static bool fuzz_has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
	return false;
}

static int fuzz_conf(struct dkm_ctx *ctx, const uint8_t *data, size_t size)
{
	static const struct dkm_conf_env env = {
		.kernelver = "6.1.0-56-amd64",
		.arch = "x86_64",
		.kernel_source_dir = "/lib/modules/6.1.0-56-amd64/build",
		.dkms_tree = "/var/lib/dkm-hook/build",
		.source_tree = "/usr/src",
		.install_tree = "/lib/modules",
		.module = "fuzz",
		.module_version = "1.0",
	};
	static const char *const envvars[] = { "kernelver", "arch",	     "kernel_source_dir",
					       "dkms_tree", "source_tree",   "install_tree",
					       "module",    "module_version" };
	struct dkm_shvars *vars;
	struct dkm_shvars_status st;
	struct dkm_conf *conf = NULL;
	char *text, *rewritten, *reason = NULL;
	size_t bad;
	int r;

	if (size > DKM_CONF_MAX_SIZE)
		return 0;
	/* read_text() refuses NUL bytes; the parser sees text up to the first one */
	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	bad = dkm_utf8_invalid_at(text, size);
	fuzz_assert(bad == (size_t)-1 || bad < size);

	/* the $BASH_SOURCE rewrite is pure text work (the shell itself is never run here) */
	rewritten = dkm_conf_shell_rewrite(text, NULL);
	fuzz_assert(rewritten != NULL);
	free(rewritten);

	vars = dkm_shvars_new();
	for (size_t i = 0; i < ELEMENTSOF(envvars); i++)
		dkm_shvars_set(vars, envvars[i], 0, dkm_conf_env_value(&env, envvars[i]), false);
	r = dkm_shvars_parse(vars, text, &st);
	fuzz_assert(r == 0 || r == -EINVAL || r == -EOPNOTSUPP);
	fuzz_assert(r != -EOPNOTSUPP || st.needs_shell);
	fuzz_assert(memchr(st.what, '\0', sizeof(st.what)) != NULL);
	if (r == 0) {
		/* the table is sorted and every index is in range */
		for (size_t i = 0; i < vars->n_vars; i++) {
			const struct dkm_shvar *v = &vars->vars[i];

			fuzz_assert(i == 0 || strcmp(vars->vars[i - 1].name, v->name) < 0);
			for (size_t k = 0; k < v->n_elems; k++) {
				char *line = dkm_shvars_format(v->name, v->elems[k].index,
							       v->elems[k].value);

				fuzz_assert(!strchr(line, '\n'));
				free(line);
				fuzz_assert(v->elems[k].index <= DKM_SHVARS_MAX_INDEX);
				fuzz_assert(k == 0 || v->elems[k - 1].index < v->elems[k].index);
			}
		}
		r = dkm_conf_from_vars(ctx, "/usr/src/fuzz-1.0/dkms.conf", vars, &env, &conf);
		fuzz_assert(r == 0 || r == -EINVAL);
	}
	if (conf) {
		FILE *null = fopen("/dev/null", "we");

		fuzz_assert(conf->n_modules > 0);
		fuzz_assert(name_is_valid(conf->package_name));
		fuzz_assert(name_is_valid(conf->package_version));
		for (size_t i = 0; i < conf->n_modules; i++) {
			const struct dkm_conf_module *m = &conf->modules[i];

			/* what the build and install paths are made of must stay inside */
			fuzz_assert(name_is_valid(m->built_name) && name_is_valid(m->dest_name));
			fuzz_assert(m->built_location[0] != '/' &&
				    !fuzz_has_dotdot(m->built_location));
			fuzz_assert(m->dest_location[0] == '/' &&
				    !fuzz_has_dotdot(m->dest_location));
		}
		for (size_t i = 0; conf->patches[i]; i++)
			fuzz_assert(name_is_valid(conf->patches[i]));
		r = dkm_conf_excluded(conf, env.kernelver, env.arch, NULL, &reason);
		fuzz_assert(r == 0 || r == 1);
		free(reason);
		if (null) {
			fuzz_assert(dkm_conf_dump_raw(vars, &env, null) == 0);
			fclose(null);
		}
		dkm_conf_free(conf);
	}
	dkm_shvars_free(vars);
	free(text);
	return 0;
}

/* ---- dkm_elf_module_parse() and the .modinfo readers ---- */

static int fuzz_elf(struct dkm_ctx *ctx, const uint8_t *data, size_t size)
{
	struct dkm_elf_module m = { 0 };
	char *v = NULL, **all = NULL;
	int r;

	r = dkm_elf_module_parse(ctx, "fuzz.ko", data, size, &m);
	fuzz_assert(r == 0 || r == -ENOEXEC);
	if (r == 0) {
		fuzz_assert(m.vermagic != NULL);
		fuzz_assert(m.elf_class == 32 || m.elf_class == 64);
		(void)dkm_elf_machine_name(m.machine);
		dkm_elf_module_done(&m);
	}
	r = dkm_elf_modinfo_get(data, size, "vermagic", &v);
	fuzz_assert(r >= -ENOEXEC && r <= 1);
	if (r == 1)
		free(v);
	r = dkm_elf_modinfo_get_all(data, size, "alias", &all);
	fuzz_assert(r == -ENOEXEC || r >= 0);
	if (r >= 0) {
		fuzz_assert(strv_length(all) == (size_t)r);
		strv_free(all);
	}
	return 0;
}

/* ---- dkm_modsig_parse() and dkm_module_verify() without a certificate ---- */

static int fuzz_modsig(struct dkm_ctx *ctx, const uint8_t *data, size_t size)
{
	struct dkm_sig_info info = { 0 };
	size_t content = 0, off = 0, len = 0, stripped = 0;
	int r;

	r = dkm_modsig_parse(data, size, &content, &off, &len);
	fuzz_assert(r == 0 || r == 1 || r == -EBADMSG || r == -ENOPKG);
	if (r == 1) {
		fuzz_assert(off == content && len > 0);
		fuzz_assert(off + len + DKM_MODSIG_TRAILER_LEN == size);
	}
	r = dkm_modsig_strip(data, size, &stripped);
	fuzz_assert(r == 0 || r == -EBADMSG || r == -ENOPKG);
	if (r == 0)
		fuzz_assert(stripped <= size);

	/* compressed input goes through dkm_decompress() with its 1 GiB cap: the decompress
	 * target covers that with a smaller one */
	if (dkm_compression_detect(data, size) != DKM_COMPRESS_NONE)
		return 0;
	r = dkm_module_verify(ctx, data, size, NULL, &info);
	fuzz_assert(r <= 0);
	if (r == 0) {
		fuzz_assert(info.verdict == DKM_SIG_UNSIGNED || info.verdict == DKM_SIG_INVALID ||
			    info.verdict == DKM_SIG_NOT_CHECKED);
		fuzz_assert(info.content_len <= size);
		fuzz_assert(info.verdict != DKM_SIG_INVALID || info.reason);
		(void)dkm_sig_verdict_name(info.verdict);
		dkm_sig_info_done(&info);
	}
	return 0;
}

/* ---- the decompressors (dkm_decompress()'s backends, with a smaller cap) ---- */

static int fuzz_decompress(struct dkm_ctx *ctx, const uint8_t *data, size_t size)
{
	enum dkm_compression c = dkm_compression_detect(data, size);
	void *out = NULL, *again = NULL, *packed = NULL;
	size_t out_len = 0, again_len = 0, packed_len = 0;
	int r;

	switch (c) {
	case DKM_COMPRESS_GZIP:
		r = dkm_gzip_decompress(ctx, data, size, FUZZ_DECOMPRESS_MAX, &out, &out_len);
		break;
	case DKM_COMPRESS_XZ:
		r = dkm_xz_decompress(ctx, data, size, FUZZ_DECOMPRESS_MAX, &out, &out_len);
		break;
	case DKM_COMPRESS_ZSTD:
		r = dkm_zstd_decompress(ctx, data, size, FUZZ_DECOMPRESS_MAX, &out, &out_len);
		break;
	default:
		/* no known magic: dkm_decompress() copies, nothing else to look at */
		r = dkm_decompress(ctx, data, size, &out, &out_len, NULL);
		fuzz_assert(r == 0 && out_len == size && (size == 0 || !memcmp(out, data, size)));
		free(out);
		return 0;
	}
	fuzz_assert(r == 0 || r == -EBADMSG || r == -EFBIG || r == -ENOMEM || r == -EINVAL ||
		    r == -EIO || r == -EOPNOTSUPP);
	if (r < 0)
		return 0;
	fuzz_assert(out_len <= FUZZ_DECOMPRESS_MAX);
	/* what we decompressed survives our own compressor and decompressor unchanged */
	if (out_len <= 4096) {
		r = dkm_compress(ctx, c, out, out_len, &packed, &packed_len);
		fuzz_assert(r == 0);
		r = dkm_decompress(ctx, packed, packed_len, &again, &again_len, NULL);
		fuzz_assert(r == 0 && again_len == out_len);
		fuzz_assert(out_len == 0 || memcmp(again, out, out_len) == 0);
		free(packed);
		free(again);
	}
	free(out);
	return 0;
}

struct fuzz_target {
	const char *name;
	int (*fn)(struct dkm_ctx *ctx, const uint8_t *data, size_t size);
};

static const struct fuzz_target fuzz_targets[] = {
	{ "conf", fuzz_conf },
	{ "elf", fuzz_elf },
	{ "modsig", fuzz_modsig },
	{ "decompress", fuzz_decompress },
};

static inline const struct fuzz_target *fuzz_target_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(fuzz_targets); i++)
		if (streq(fuzz_targets[i].name, name))
			return &fuzz_targets[i];
	return NULL;
}

static void fuzz_log_discard(void *userdata, int level, const char *msg)
{
	(void)userdata;
	(void)level;
	(void)msg;
}

/* A context whose messages are formatted (every one of them, down to debug) and dropped, or
 * printed when verbose. Nothing in the targets touches the root. */
static inline struct dkm_ctx *fuzz_ctx_new(bool verbose)
{
	struct dkm_ctx *ctx = NULL;

	if (dkm_ctx_new("/nonexistent-fuzz-root", &ctx) < 0)
		abort();
	ctx->log_level = DKM_LOG_DEBUG;
	if (!verbose)
		ctx->log_fn = fuzz_log_discard;
	return ctx;
}
