/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test tool: drive lib/sign.c and lib/compress.c from bats without the full CLI.
 *
 *   sign-module [--key K --cert C] [--hash ALGO] [--compress none|gzip|xz|zstd] IN OUT
 *       sign IN (when --key is given; default hash sha256), compress, write OUT
 *   sign-module --decompress IN OUT        decompress (format by magic) into OUT
 *   sign-module --split IN ELF SIG         decompress, write the signed bytes and the PKCS#7
 *   sign-module --keygen [--force] --key K --cert C
 *   sign-module --describe --cert C        what modinfo will show: signer, sig_key
 *   sign-module --verify [--cert C] [--json] FILE
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "compress.h"
#include "ctx.h"
#include "log.h"
#include "modsig.h"
#include "sign.h"
#include "util.h"
#include "../../bin/dkm-hook/verb-sign.h"

enum mode {
	MODE_SIGN,
	MODE_DECOMPRESS,
	MODE_SPLIT,
	MODE_KEYGEN,
	MODE_DESCRIBE,
	MODE_VERIFY
};

static int load(struct dkm_ctx *ctx, const char *path, char **ret, size_t *ret_len)
{
	int r = read_full_file(path, DKM_DECOMPRESS_MAX, ret, ret_len);

	if (r < 0)
		return dkm_err(ctx, r, "cannot read '%s': %s", path, strerror(-r));
	return 0;
}

static int store(struct dkm_ctx *ctx, const char *path, const void *data, size_t len)
{
	int r = write_file_atomic(path, data, len, 0644);

	if (r < 0)
		return dkm_err(ctx, r, "cannot write '%s': %s", path, strerror(-r));
	return 0;
}

static int do_sign(struct dkm_ctx *ctx, const char *key, const char *cert, const char *hash,
		   enum dkm_compression c, const char *in, const char *out)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_free_ void *signed_data = NULL, *packed = NULL;
	struct dkm_sign_key *k = NULL;
	const void *cur;
	size_t len, cur_len, packed_len;
	int r;

	r = load(ctx, in, &data, &len);
	if (r < 0)
		return r;
	cur = data;
	cur_len = len;
	if (key) {
		r = dkm_sign_key_load(ctx, key, cert, &k);
		if (r < 0)
			return r;
		r = dkm_module_sign(ctx, k, hash, data, len, &signed_data, &cur_len);
		dkm_sign_key_free(k);
		if (r < 0)
			return r;
		cur = signed_data;
	}
	r = dkm_compress(ctx, c, cur, cur_len, &packed, &packed_len);
	if (r < 0)
		return r;
	return store(ctx, out, packed, packed_len);
}

static int do_decompress(struct dkm_ctx *ctx, const char *in, const char *out, bool split,
			 const char *sig_out)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_free_ void *plain = NULL;
	size_t len, plain_len, content_len, sig_off, sig_len;
	enum dkm_compression c;
	int r;

	r = load(ctx, in, &data, &len);
	if (r < 0)
		return r;
	r = dkm_decompress(ctx, data, len, &plain, &plain_len, &c);
	if (r < 0)
		return r;
	if (!split)
		return store(ctx, out, plain, plain_len);
	r = dkm_modsig_parse(plain, plain_len, &content_len, &sig_off, &sig_len);
	if (r <= 0)
		return dkm_err(ctx, r < 0 ? r : -ENODATA, "'%s' carries no usable signature", in);
	r = store(ctx, out, plain, content_len);
	if (r < 0)
		return r;
	return store(ctx, sig_out, (const char *)plain + sig_off, sig_len);
}

static int do_describe(struct dkm_ctx *ctx, const char *cert)
{
	_cleanup_free_ char *signer = NULL, *key_id = NULL;
	int r = dkm_cert_describe(ctx, cert, &signer, &key_id);

	if (r < 0)
		return r;
	printf("signer: %s\nsig_key: %s\n", signer, key_id);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "key", required_argument, NULL, 'k' },
					      { "cert", required_argument, NULL, 'c' },
					      { "hash", required_argument, NULL, 'H' },
					      { "compress", required_argument, NULL, 'z' },
					      { "decompress", no_argument, NULL, 'd' },
					      { "split", no_argument, NULL, 's' },
					      { "keygen", no_argument, NULL, 'g' },
					      { "force", no_argument, NULL, 'f' },
					      { "describe", no_argument, NULL, 'D' },
					      { "verify", no_argument, NULL, 'V' },
					      { "json", no_argument, NULL, 'j' },
					      {} };
	_cleanup_ctx_ struct dkm_ctx *ctx = NULL;
	const char *key = NULL, *cert = NULL, *hash = "sha256";
	enum dkm_compression c = DKM_COMPRESS_NONE;
	enum mode mode = MODE_SIGN;
	bool force = false, json = false;
	int opt, r, nargs;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (opt) {
		case 'k':
			key = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'H':
			hash = optarg;
			break;
		case 'z':
			if (dkm_compression_from_string(optarg, &c) < 0) {
				fprintf(stderr, "sign-module: unknown compression '%s'\n", optarg);
				return 2;
			}
			break;
		case 'd':
			mode = MODE_DECOMPRESS;
			break;
		case 's':
			mode = MODE_SPLIT;
			break;
		case 'g':
			mode = MODE_KEYGEN;
			break;
		case 'f':
			force = true;
			break;
		case 'D':
			mode = MODE_DESCRIBE;
			break;
		case 'V':
			mode = MODE_VERIFY;
			break;
		case 'j':
			json = true;
			break;
		default:
			return 2;
		}
	}
	nargs = argc - optind;
	if ((mode == MODE_SIGN && (nargs != 2 || (key && !cert))) ||
	    (mode == MODE_DECOMPRESS && nargs != 2) || (mode == MODE_SPLIT && nargs != 3) ||
	    (mode == MODE_KEYGEN && (nargs != 0 || !key || !cert)) ||
	    (mode == MODE_DESCRIBE && (nargs != 0 || !cert)) ||
	    (mode == MODE_VERIFY && nargs != 1)) {
		fprintf(stderr,
			"sign-module: bad usage (see the comment at the top of its source)\n");
		return 2;
	}

	r = dkm_ctx_new(NULL, &ctx);
	if (r < 0)
		return 1;

	switch (mode) {
	case MODE_SIGN:
		r = do_sign(ctx, key, cert, hash, c, argv[optind], argv[optind + 1]);
		break;
	case MODE_DECOMPRESS:
		r = do_decompress(ctx, argv[optind], argv[optind + 1], false, NULL);
		break;
	case MODE_SPLIT:
		r = do_decompress(ctx, argv[optind], argv[optind + 1], true, argv[optind + 2]);
		break;
	case MODE_KEYGEN:
		r = dkm_sign_key_ensure(ctx, key, cert, force);
		if (r == 0)
			return dkm_err(ctx, 0, "'%s' and '%s' already exist", key, cert), 1;
		break;
	case MODE_DESCRIBE:
		r = do_describe(ctx, cert);
		break;
	case MODE_VERIFY:
		return dkm_cmd_verify(ctx, argv[optind], cert, json);
	}
	return r < 0 ? 1 : 0;
}
