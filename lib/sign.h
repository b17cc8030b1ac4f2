/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dkm_ctx;

/* Keys, signing, verification with libcrypto (the appended signature itself: modsig.h). */

/* A private key and the X.509 certificate that names it. */
struct dkm_sign_key;

/* Load a PEM private key (passphrase from $KBUILD_SIGN_PIN only, like sign-file) and a DER or
 * PEM certificate, and check that they belong together. Errors are logged with the path and
 * what to do: unreadable file, not a key/certificate, encrypted key without KBUILD_SIGN_PIN,
 * wrong passphrase, key/certificate mismatch (-EKEYREJECTED). */
int dkm_sign_key_load(struct dkm_ctx *ctx, const char *key_path, const char *cert_path,
		      struct dkm_sign_key **ret);
struct dkm_sign_key *dkm_sign_key_free(struct dkm_sign_key *k);

/* What modinfo will show for modules signed with this certificate: "signer" (the issuer's CN)
 * and "sig_key" (the serial number, "AB:01:…"). Both malloc'ed. */
int dkm_cert_describe(struct dkm_ctx *ctx, const char *cert_path, char **ret_signer,
		      char **ret_key_id);

/* Make sure a key pair exists at key_path/cert_path (real paths, already joined with the root).
 *  - both present: 0, nothing touched (unless force);
 *  - both absent (or force): generate RSA-4096, a self-signed certificate (DER) with EKU
 *    codeSigning + "module signing only", key written 0600 without clobbering a file that
 *    appears meanwhile; logs how to enrol it with mokutil; returns 1;
 *  - only one present: -ENOKEY, logged with which half is missing and what to do.
 * A present key is never replaced without force. */
int dkm_sign_key_ensure(struct dkm_ctx *ctx, const char *key_path, const char *cert_path,
			bool force);

/* Sign an uncompressed ELF module: *ret = module + detached DER PKCS#7 (no certificates, no
 * signed attributes, no S/MIME capabilities, signer by issuer and serial) + trailer; byte for
 * byte what scripts/sign-file produces. hash_algo is CONFIG_MODULE_SIG_HASH ("sha256", ...).
 * An existing signature is stripped first. -ENOEXEC for input that is not an ELF module
 * (compressed input gets its own message), -EINVAL for an unknown hash. */
int dkm_module_sign(struct dkm_ctx *ctx, const struct dkm_sign_key *key, const char *hash_algo,
		    const void *data, size_t len, void **ret, size_t *ret_len);

enum dkm_sig_verdict {
	DKM_SIG_NOT_CHECKED, /* signed; no certificate was given to check against */
	DKM_SIG_UNSIGNED,
	DKM_SIG_VALID,	   /* signed by the certificate's key over exactly these bytes */
	DKM_SIG_INVALID,   /* signature does not verify (module changed, corrupt signature) */
	DKM_SIG_OTHER_KEY, /* well-formed, but the signer is not the given certificate */
};

struct dkm_sig_info {
	bool is_signed;
	char *signer;	    /* issuer CN, as modinfo's "signer" */
	char *key_id;	    /* serial (or subject key id), "AB:01:…" as modinfo's "sig_key" */
	char *hash_algo;    /* "sha256", as modinfo's "sig_hashalgo" */
	size_t content_len; /* bytes covered by the signature (the ELF) */
	int verdict;	    /* enum dkm_sig_verdict */
	char *reason;	    /* for INVALID / OTHER_KEY: why, one line */
};

/* Parse the signature of a module (compressed or not: the format is detected) and, when
 * cert_path is given, check it against that certificate. Returns 0 with the verdict in *ret,
 * or -errno when the module or certificate cannot be read at all (logged). */
int dkm_module_verify(struct dkm_ctx *ctx, const void *data, size_t len, const char *cert_path,
		      struct dkm_sig_info *ret);
void dkm_sig_info_done(struct dkm_sig_info *i);
const char *dkm_sig_verdict_name(int verdict); /* "valid", "invalid", "unsigned", ... */
