/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compress.h"
#include "ctx.h"
#include "elf-fixture.h"
#include "log-capture.h"
#include "modsig.h"
#include "sign.h"
#include "tap.h"
#include "util.h"

static struct dkm_ctx *ctx;
static struct log_capture cap;
static char tmpdir[] = "/tmp/test-sign.XXXXXX";

static char *tmp(const char *name)
{
	return path_join(tmpdir, name);
}

/* ---- the trailer, no crypto ---- */

static uint8_t *fake_signed(size_t body, size_t sig, size_t *ret_len)
{
	size_t len = body + sig + DKM_MODSIG_TRAILER_LEN;
	uint8_t *p = xcalloc(1, len);

	memset(p, 'E', body);
	memset(p + body, 'S', sig);
	dkm_modsig_trailer(p + body + sig, (uint32_t)sig);
	*ret_len = len;
	return p;
}

static void test_trailer(void)
{
	static const uint8_t want_info[12] = { 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x2c };
	uint8_t t[DKM_MODSIG_TRAILER_LEN];
	size_t len, content = 0, off = 0, sl = 0, stripped = 0;
	_cleanup_free_ uint8_t *p = NULL;

	tap_is_int(DKM_MODSIG_TRAILER_LEN, 40, "trailer is 12 + 28 bytes");
	dkm_modsig_trailer(t, 300);
	tap_ok(memcmp(t, want_info, 12) == 0, "info block: id_type 2, be32 length 300");
	tap_ok(memcmp(t + 12, "~Module signature appended~\n", 28) == 0, "magic follows");

	p = fake_signed(1000, 300, &len);
	tap_is_int(dkm_modsig_parse(p, len, &content, &off, &sl), 1, "signed buffer parsed");
	tap_is_int(content, 1000, "content length");
	tap_is_int(off, 1000, "signature offset");
	tap_is_int(sl, 300, "signature length");
	tap_is_int(dkm_modsig_parse(p, 1000, &content, &off, &sl), 0, "unsigned buffer");
	tap_is_int(dkm_modsig_parse(p, 0, NULL, NULL, NULL), 0, "empty buffer");
	tap_is_int(dkm_modsig_strip(p, len, &stripped), 0, "strip");
	tap_is_int(stripped, 1000, "strip leaves the ELF");

	/* damage the info block, one field at a time */
	for (unsigned i = 0; i < 8; i++) {
		_cleanup_free_ uint8_t *q = xmalloc(len);

		memcpy(q, p, len);
		q[1300 + i] ^= 0x01;
		tap_is_int(dkm_modsig_parse(q, len, NULL, NULL, NULL), i == 2 ? -ENOPKG : -EBADMSG,
			   "a changed info byte is refused");
	}
	memcpy(t + 8, "\xff\xff\xff\xff", 4);
	tap_is_int(dkm_modsig_parse(t, sizeof(t), NULL, NULL, NULL), -EBADMSG,
		   "sig_len larger than the file");
	memset(t + 8, 0, 4);
	tap_is_int(dkm_modsig_parse(t, sizeof(t), NULL, NULL, NULL), -EBADMSG, "sig_len 0");
	tap_is_int(dkm_modsig_parse(t + 12, 28, NULL, NULL, NULL), -EBADMSG, "magic alone");
}

static void test_strip_twice(void)
{
	size_t len1, len2, stripped = 0;
	_cleanup_free_ uint8_t *once = fake_signed(500, 100, &len1);
	_cleanup_free_ uint8_t *twice = NULL;

	/* sign-file run on a signed module signs the signed bytes: two trailers */
	twice = xmalloc(len1 + 50 + DKM_MODSIG_TRAILER_LEN);
	memcpy(twice, once, len1);
	memset(twice + len1, 'T', 50);
	dkm_modsig_trailer(twice + len1 + 50, 50);
	len2 = len1 + 50 + DKM_MODSIG_TRAILER_LEN;
	tap_is_int(dkm_modsig_strip(twice, len2, &stripped), 0, "strip a doubly signed buffer");
	tap_is_int(stripped, 500, "both signatures removed");
}

/* ---- keys ---- */

static void test_keygen(const char *key, const char *cert)
{
	char before_key[65], before_cert[65], after[65];
	struct stat st;
	int r;

	log_capture_reset(&cap);
	r = dkm_sign_key_ensure(ctx, key, cert, false);
	tap_is_int(r, 1, "both absent: generated");
	tap_ok(stat(key, &st) == 0 && (st.st_mode & 07777) == 0600, "key is 0600");
	tap_ok(stat(cert, &st) == 0 && S_ISREG(st.st_mode), "certificate written");
	tap_ok(strstr(cap.last, "mokutil --import '") != NULL, "tells how to enrol: %s", cap.last);

	sha256_file(key, before_key);
	sha256_file(cert, before_cert);
	tap_is_int(dkm_sign_key_ensure(ctx, key, cert, false), 0, "both present: nothing done");
	sha256_file(key, after);
	tap_is_str(after, before_key, "key untouched");
	sha256_file(cert, after);
	tap_is_str(after, before_cert, "certificate untouched");
}

static void test_missing_half(const char *key, const char *cert)
{
	_cleanup_free_ char *nokey = tmp("nokey.pem"), *nocert = tmp("nocert.der");
	_cleanup_free_ char *want = NULL;

	log_capture_reset(&cap);
	tap_is_int(dkm_sign_key_ensure(ctx, key, nocert, false), -ENOKEY, "certificate missing");
	want = xasprintf(
		"signing key '%s' exists but its certificate '%s' is missing; restore the certificate, or run 'dkm-hook keygen --force' to replace both",
		key, nocert);
	tap_is_str(cap.last_err, want, "message for a missing certificate");
	tap_ok(!path_exists(nocert), "no certificate made up");
	free(want);

	log_capture_reset(&cap);
	tap_is_int(dkm_sign_key_ensure(ctx, nokey, cert, false), -ENOKEY, "key missing");
	want = xasprintf(
		"certificate '%s' exists but its signing key '%s' is missing; restore the key, or run 'dkm-hook keygen --force' to replace both",
		cert, nokey);
	tap_is_str(cap.last_err, want, "message for a missing key");
	tap_ok(!path_exists(nokey), "no key made up");
}

static void test_force(const char *key, const char *cert)
{
	char k1[65], k2[65];
	_cleanup_free_ char *want = NULL;

	sha256_file(key, k1);
	log_capture_reset(&cap);
	tap_is_int(dkm_sign_key_ensure(ctx, key, cert, true), 1, "force replaces");
	sha256_file(key, k2);
	tap_ok(!streq(k1, k2), "the key changed");
	tap_is_int(cap.n_err, 0, "no error when forcing");
	want = xasprintf(
		"replaced signing key '%s' and certificate '%s'; modules signed before keep the old signer until rebuilt",
		key, cert);
	tap_is_str(cap.last_warn, want, "replacing is never silent");
}

static void test_load_errors(const char *key, const char *cert, const char *cert2)
{
	struct dkm_sign_key *k = NULL;
	_cleanup_free_ char *want = NULL, *missing = tmp("missing.pem");

	log_capture_reset(&cap);
	tap_is_int(dkm_sign_key_load(ctx, key, cert2, &k), -EKEYREJECTED, "key/cert mismatch");
	want = xasprintf("signing key '%s' does not match certificate '%s'", key, cert2);
	tap_is_str(cap.last_err, want, "mismatch message");
	tap_ok(k == NULL, "ret untouched on mismatch");
	free(want);

	log_capture_reset(&cap);
	tap_is_int(dkm_sign_key_load(ctx, missing, cert, &k), -ENOENT, "missing key");
	want = xasprintf("cannot read signing key '%s': No such file or directory", missing);
	tap_is_str(cap.last_err, want, "missing key message");
	free(want);

	log_capture_reset(&cap);
	tap_is_int(dkm_sign_key_load(ctx, cert, cert, &k), -EBADMSG, "a certificate is not a key");
	want = xasprintf("cannot load signing key '%s': not a PEM private key", cert);
	tap_ok(startswith(cap.last_err, want), "not-a-key message: %s", cap.last_err);
	free(want);

	log_capture_reset(&cap);
	tap_is_int(dkm_sign_key_load(ctx, key, key, &k), -EBADMSG, "a key is not a certificate");
	want = xasprintf("cannot load certificate '%s': not a DER or PEM X.509 certificate", key);
	tap_ok(startswith(cap.last_err, want), "not-a-cert message: %s", cap.last_err);
}

/* ---- signing and verification ---- */

static void test_sign_verify(const char *key, const char *cert, const char *cert2)
{
	struct dkm_sign_key *k = NULL;
	size_t len, slen = 0, s2len = 0, content = 0, zlen = 0;
	_cleanup_free_ uint8_t *elf = elf_fixture_module(&len);
	_cleanup_free_ uint8_t *sig = NULL, *again = NULL, *z = NULL, *s512 = NULL;
	_cleanup_free_ char *signer = NULL, *key_id = NULL;
	struct dkm_sig_info si = {};

	tap_is_int(dkm_sign_key_load(ctx, key, cert, &k), 0, "load generated key");
	tap_is_int(dkm_cert_describe(ctx, cert, &signer, &key_id), 0, "describe certificate");
	tap_ok(startswith(signer, "dkm-hook module signing key ("), "CN names dkm-hook: %s",
	       signer);
	tap_is_int(strlen(key_id), 20 * 3 - 1, "20-byte serial, colon separated");

	tap_is_int(dkm_module_sign(ctx, k, "sha256", elf, len, (void **)&sig, &slen), 0, "sign");
	tap_ok(slen > len + DKM_MODSIG_TRAILER_LEN + 512 && memcmp(sig, elf, len) == 0,
	       "output = module + signature + trailer");
	tap_is_int(dkm_modsig_parse(sig, slen, &content, NULL, NULL), 1,
		   "output carries a trailer");
	tap_is_int(content, len, "signature covers exactly the module");

	tap_is_int(dkm_module_verify(ctx, sig, slen, cert, &si), 0, "verify");
	tap_is_int(si.verdict, DKM_SIG_VALID, "valid with its certificate");
	tap_ok(si.is_signed, "is_signed");
	tap_is_str(si.signer, signer, "signer is the issuer CN");
	tap_is_str(si.key_id, key_id, "sig_key is the serial");
	tap_is_str(si.hash_algo, "sha256", "sig_hashalgo");
	tap_ok(si.reason == NULL, "no reason when valid");
	dkm_sig_info_done(&si);

	/* re-signing replaces the signature instead of signing the signature */
	tap_is_int(dkm_module_sign(ctx, k, "sha256", sig, slen, (void **)&again, &s2len), 0,
		   "sign a signed module");
	tap_ok(s2len == slen && memcmp(again, sig, slen) == 0, "same bytes as signing once");

	tap_is_int(dkm_module_sign(ctx, k, "sha512", elf, len, (void **)&s512, &s2len), 0,
		   "sha512");
	tap_is_int(dkm_module_verify(ctx, s512, s2len, cert, &si), 0, "verify sha512");
	tap_is_int(si.verdict, DKM_SIG_VALID, "sha512 valid");
	tap_is_str(si.hash_algo, "sha512", "sig_hashalgo sha512");
	dkm_sig_info_done(&si);

	tap_is_int(dkm_module_verify(ctx, sig, slen, NULL, &si), 0, "parse only");
	tap_is_int(si.verdict, DKM_SIG_NOT_CHECKED, "not checked without a certificate");
	tap_is_str(si.key_id, key_id, "key id parsed without a certificate");
	dkm_sig_info_done(&si);

	tap_is_int(dkm_module_verify(ctx, sig, slen, cert2, &si), 0, "verify with another cert");
	tap_is_int(si.verdict, DKM_SIG_OTHER_KEY, "other key");
	tap_ok(si.reason && strstr(si.reason, key_id), "reason names the signer's key: %s",
	       strempty(si.reason));
	dkm_sig_info_done(&si);

	tap_is_int(dkm_module_verify(ctx, elf, len, cert, &si), 0, "verify unsigned");
	tap_is_int(si.verdict, DKM_SIG_UNSIGNED, "unsigned");
	tap_ok(!si.is_signed && si.signer == NULL, "no signer for unsigned");
	dkm_sig_info_done(&si);

	tap_is_int(dkm_compress(ctx, DKM_COMPRESS_XZ, sig, slen, (void **)&z, &zlen), 0, "xz");
	tap_is_int(dkm_module_verify(ctx, z, zlen, cert, &si), 0, "verify .ko.xz");
	tap_is_int(si.verdict, DKM_SIG_VALID, "compressed module valid");
	dkm_sig_info_done(&si);

	sig[100] ^= 0x01; /* inside the ELF, after signing */
	tap_is_int(dkm_module_verify(ctx, sig, slen, cert, &si), 0, "verify changed module");
	tap_is_int(si.verdict, DKM_SIG_INVALID, "changed module is invalid");
	tap_is_str(si.reason, "the signature does not match the module's contents", "reason");
	dkm_sig_info_done(&si);
	sig[100] ^= 0x01;

	sig[len + 10] ^= 0xff; /* inside the PKCS#7 */
	tap_is_int(dkm_module_verify(ctx, sig, slen, cert, &si), 0, "verify damaged signature");
	tap_is_int(si.verdict, DKM_SIG_INVALID, "damaged PKCS#7 is invalid");
	dkm_sig_info_done(&si);
	sig[len + 10] ^= 0xff;

	sig[slen - DKM_MODSIG_TRAILER_LEN + 2] = 1; /* id_type X509: pre-PKCS#7 */
	tap_is_int(dkm_module_verify(ctx, sig, slen, cert, &si), 0, "verify old id_type");
	tap_is_int(si.verdict, DKM_SIG_INVALID, "old signature format is invalid");
	tap_is_str(si.reason, "the signature is not PKCS#7 (pre-4.x format)", "reason old format");
	dkm_sig_info_done(&si);

	log_capture_reset(&cap);
	tap_is_int(dkm_module_sign(ctx, k, "sha256", z, zlen, (void **)&again, &s2len), -ENOEXEC,
		   "compressed input refused");
	tap_is_str(cap.last_err,
		   "cannot sign module: it is xz-compressed; sign the uncompressed .ko, then compress it",
		   "compressed input message");
	log_capture_reset(&cap);
	tap_is_int(dkm_module_sign(ctx, k, "sha257", elf, len, (void **)&again, &s2len), -EINVAL,
		   "unknown hash refused");
	tap_is_str(cap.last_err, "cannot sign module: unknown hash algorithm 'sha257'", "message");
	log_capture_reset(&cap);
	tap_is_int(dkm_module_sign(ctx, k, "sha256", "#!/bin/sh\n", 10, (void **)&again, &s2len),
		   -ENOEXEC, "a script is not a module");
	tap_is_str(cap.last_err, "not a kernel module: no ELF magic", "not-a-module message");

	dkm_sign_key_free(k);
	dkm_sign_key_free(NULL);
	dkm_sig_info_done(NULL);
}

int main(void)
{
	_cleanup_free_ char *key = NULL, *cert = NULL, *key2 = NULL, *cert2 = NULL;

	unsetenv("KBUILD_SIGN_PIN");
	if (!mkdtemp(tmpdir) || dkm_ctx_new("/nonexistent-root", &ctx) < 0)
		return 1;
	log_capture_attach(ctx, &cap);
	key = tmp("keys/mok.key");
	cert = tmp("keys/mok.der");
	key2 = tmp("other/mok.key");
	cert2 = tmp("other/mok.der");

	test_trailer();
	test_strip_twice();
	test_keygen(key, cert);
	test_missing_half(key, cert);
	tap_is_int(dkm_sign_key_ensure(ctx, key2, cert2, false), 1, "a second key pair");
	test_load_errors(key, cert, cert2);
	test_sign_verify(key, cert, cert2);
	test_force(key2, cert2);

	rm_rf(tmpdir);
	dkm_ctx_free(ctx);
	return tap_done();
}
