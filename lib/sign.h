/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dkm_ctx;

/* ---- The appended signature (docs/signing.md), lib/modsig.c ----
 *
 *   [ ELF module ][ DER PKCS#7 (sig_len bytes) ][ 12-byte info ][ "~Module signature appended~\n" ]
 *
 * info = { u8 algo = 0, u8 hash = 0, u8 id_type = 2 (PKCS#7), u8 signer_len = 0,
 *          u8 key_id_len = 0, u8 pad[3], be32 sig_len } */
#define DKM_MODSIG_MAGIC "~Module signature appended~\n"
#define DKM_MODSIG_MAGIC_LEN (sizeof(DKM_MODSIG_MAGIC) - 1)
#define DKM_MODSIG_INFO_LEN 12
#define DKM_MODSIG_TRAILER_LEN (DKM_MODSIG_INFO_LEN + DKM_MODSIG_MAGIC_LEN)
#define DKM_MODSIG_ID_PKCS7 2

/* Where the signature of a (decompressed) module is. Returns 1 if data ends in the magic and a
 * well-formed info block (ret_content_len = length of what was signed, ret_sig_off/len = the
 * PKCS#7 blob), 0 if it carries no signature, -EBADMSG if the trailer is malformed (sizes out
 * of range, non-zero fields the kernel insists are zero), -ENOPKG for a pre-PKCS#7 id_type. */
int dkm_modsig_parse(const void *data, size_t len, size_t *ret_content_len, size_t *ret_sig_off,
		     size_t *ret_sig_len);

/* Fill out[DKM_MODSIG_TRAILER_LEN] with the info block for sig_len and the magic. */
void dkm_modsig_trailer(uint8_t out[static DKM_MODSIG_TRAILER_LEN], uint32_t sig_len);

/* The length of data without any appended signatures (a module signed twice by sign-file carries
 * two); len if unsigned. -EBADMSG/-ENOPKG as dkm_modsig_parse. */
int dkm_modsig_strip(const void *data, size_t len, size_t *ret_len);

/* ---- Keys, signing, verification with libcrypto, lib/sign.c ---- */

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
	DKM_SIG_VALID,       /* signed by the certificate's key over exactly these bytes */
	DKM_SIG_INVALID,     /* signature does not verify (module changed, corrupt signature) */
	DKM_SIG_OTHER_KEY,   /* well-formed, but the signer is not the given certificate */
};

struct dkm_sig_info {
	bool is_signed;
	char *signer;    /* issuer CN, as modinfo's "signer" */
	char *key_id;    /* serial (or subject key id), "AB:01:…" as modinfo's "sig_key" */
	char *hash_algo; /* "sha256", as modinfo's "sig_hashalgo" */
	size_t content_len; /* bytes covered by the signature (the ELF) */
	int verdict;     /* enum dkm_sig_verdict */
	char *reason;    /* for INVALID / OTHER_KEY: why, one line */
};

/* Parse the signature of a module (compressed or not: the format is detected) and, when
 * cert_path is given, check it against that certificate. Returns 0 with the verdict in *ret,
 * or -errno when the module or certificate cannot be read at all (logged). */
int dkm_module_verify(struct dkm_ctx *ctx, const void *data, size_t len, const char *cert_path,
		      struct dkm_sig_info *ret);
void dkm_sig_info_done(struct dkm_sig_info *i);
const char *dkm_sig_verdict_name(int verdict); /* "valid", "invalid", "unsigned", ... */

/* ---- The `keygen` and `verify` verbs, lib/verify-cmd.c ---- */

/* Exit codes of `dkm-hook verify` (docs/signing.md). */
enum {
	DKM_VERIFY_EXIT_VALID = 0,     /* signed by the certificate's key, contents intact */
	DKM_VERIFY_EXIT_INVALID = 1,   /* signature does not verify, or is malformed */
	DKM_VERIFY_EXIT_ERROR = 2,     /* could not check: unreadable file, not a module, no cert */
	DKM_VERIFY_EXIT_UNSIGNED = 3,  /* no signature at all */
	DKM_VERIFY_EXIT_OTHER_KEY = 4, /* well-formed signature by a different key */
};

/* `dkm-hook keygen [--force]`: create the key pair at ctx->sign_key / ctx->sign_cert (inside
 * the root). Refuses to replace an existing pair without force. Returns the exit code: 0 when
 * a key was generated, 1 otherwise (the reason is logged). */
int dkm_cmd_keygen(struct dkm_ctx *ctx, bool force);

/* `dkm-hook verify <file> [--cert FILE] [--json]`: show a module's signature (the file may be
 * compressed) and check it against cert_path, or the configured certificate when NULL. Prints a
 * report on stdout (text, or one JSON object) and returns one of DKM_VERIFY_EXIT_*. */
int dkm_cmd_verify(struct dkm_ctx *ctx, const char *module_path, const char *cert_path,
		   bool json);
