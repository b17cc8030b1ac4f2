/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The appended signature (docs/signing.md)
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
