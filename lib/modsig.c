/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The module signature trailer: pure byte layout, no crypto (that is sign.c). The checks are
 * the kernel's (mod_check_sig()): a PKCS#7 signature has every other info field zero. */
#include <errno.h>
#include <string.h>

#include "modsig.h"
#include "sign.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int dkm_modsig_parse(const void *data, size_t len, size_t *ret_content_len, size_t *ret_sig_off,
		     size_t *ret_sig_len)
{
	const uint8_t *p = data;
	const uint8_t *info;
	size_t sig_len, body;

	if (len < DKM_MODSIG_MAGIC_LEN ||
	    memcmp(p + len - DKM_MODSIG_MAGIC_LEN, DKM_MODSIG_MAGIC, DKM_MODSIG_MAGIC_LEN) != 0)
		return 0;
	if (len < DKM_MODSIG_TRAILER_LEN)
		return -EBADMSG;

	body = len - DKM_MODSIG_TRAILER_LEN;
	info = p + body;
	sig_len = be32(info + 8);
	if (info[2] != DKM_MODSIG_ID_PKCS7)
		return -ENOPKG;
	/* algo, hash, signer_len, key_id_len and the padding */
	if (info[0] || info[1] || info[3] || info[4] || info[5] || info[6] || info[7])
		return -EBADMSG;
	if (sig_len == 0 || sig_len > body)
		return -EBADMSG;

	if (ret_content_len)
		*ret_content_len = body - sig_len;
	if (ret_sig_off)
		*ret_sig_off = body - sig_len;
	if (ret_sig_len)
		*ret_sig_len = sig_len;
	return 1;
}

void dkm_modsig_trailer(uint8_t out[static DKM_MODSIG_TRAILER_LEN], uint32_t sig_len)
{
	memset(out, 0, DKM_MODSIG_INFO_LEN);
	out[2] = DKM_MODSIG_ID_PKCS7;
	out[8] = (uint8_t)(sig_len >> 24);
	out[9] = (uint8_t)(sig_len >> 16);
	out[10] = (uint8_t)(sig_len >> 8);
	out[11] = (uint8_t)sig_len;
	memcpy(out + DKM_MODSIG_INFO_LEN, DKM_MODSIG_MAGIC, DKM_MODSIG_MAGIC_LEN);
}

int dkm_modsig_strip(const void *data, size_t len, size_t *ret_len)
{
	size_t content = len;

	for (;;) {
		size_t next;
		int r = dkm_modsig_parse(data, content, &next, NULL, NULL);

		if (r < 0)
			return r;
		if (r == 0)
			break;
		content = next;
	}
	*ret_len = content;
	return 0;
}
