/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Module signing keys, PKCS#7 module signatures and their verification, with libcrypto.
 * This is the only file that talks to OpenSSL: every OpenSSL failure is turned into -errno and
 * one logged line here, and the error queue is left empty on return. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "compress.h"
#include "ctx.h"
#include "elf-module.h"
#include "log.h"
#include "modsig.h"
#include "sign.h"
#include "util.h"

/* RSA-4096: the size the kernel's own generated signing key uses (certs/default_x509.genkey).
 * The key is enrolled once in firmware and lives as long as the machine, so it gets the larger
 * size; the price is ~1 s at generation and 512 bytes per signed module. */
#define KEYGEN_RSA_BITS 4096
#define KEYGEN_DAYS 36500 /* like the kernel and DKMS: the kernel ignores expiry anyway */
/* EKU: codeSigning, plus "module signing only" so that shim and GRUB refuse the key for boot
 * images: a key stored unencrypted on the machine must not be able to sign a bootloader. */
#define KEYGEN_EKU "codeSigning,1.3.6.1.4.1.2312.16.1.2"
#define KEY_FILE_MAX (1024 * 1024)
#define PIN_ENV "KBUILD_SIGN_PIN"

struct dkm_sign_key {
	EVP_PKEY *pkey;
	X509 *cert;
};

static void evp_pkey_freep(EVP_PKEY **p)
{
	EVP_PKEY_free(*p);
}
static void x509_freep(X509 **p)
{
	X509_free(*p);
}
static void bio_freep(BIO **p)
{
	BIO_free(*p);
}
static void cms_freep(CMS_ContentInfo **p)
{
	CMS_ContentInfo_free(*p);
}
static void bn_freep(BIGNUM **p)
{
	BN_free(*p);
}
static void x509_stack_freep(STACK_OF(X509) * *p)
{
	sk_X509_pop_free(*p, X509_free);
}
static void openssl_freep(void *p)
{
	OPENSSL_free(*(void **)p);
}
static void ssl_queue_clearp(int *unused)
{
	ERR_clear_error();
}
#define _cleanup_pkey_ _cleanup_(evp_pkey_freep)
#define _cleanup_x509_ _cleanup_(x509_freep)
#define _cleanup_bio_ _cleanup_(bio_freep)
#define _cleanup_cms_ _cleanup_(cms_freep)
#define _cleanup_bn_ _cleanup_(bn_freep)
#define _cleanup_x509_stack_ _cleanup_(x509_stack_freep)
#define _cleanup_openssl_free_ _cleanup_(openssl_freep)
/* Put at the top of every public function: whatever happens, the queue is empty on return. */
#define SSL_QUEUE_GUARD _cleanup_(ssl_queue_clearp) _unused_ int _ssl_queue_guard = 0

/* A file's contents that may be key material: wiped before it is freed. */
struct secret {
	char *data;
	size_t len;
};
static void secret_done(struct secret *s)
{
	if (s->data)
		OPENSSL_cleanse(s->data, s->len);
	free(s->data);
}

/* The oldest entry in OpenSSL's error queue as text; empties the queue. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : "unknown OpenSSL error";
}

static char *hex_colon(const unsigned char *p, size_t n)
{
	char *s = xmalloc(n ? n * 3 : 1);

	s[0] = 0;
	for (size_t i = 0; i < n; i++)
		sprintf(s + 3 * i, i + 1 < n ? "%02X:" : "%02X", p[i]);
	return s;
}

static char *name_cn(const X509_NAME *name)
{
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *d;

	if (i < 0)
		return xstrdup("");
	d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	return xstrndup((const char *)ASN1_STRING_get0_data(d), (size_t)ASN1_STRING_length(d));
}

/* ---- loading ---- */

struct pin_state {
	const char *pin;
	bool asked;
};

static int pin_cb(char *buf, int size, int rwflag, void *userdata)
{
	struct pin_state *st = userdata;
	size_t n;

	st->asked = true;
	if (!st->pin)
		return -1;
	n = strlen(st->pin);
	if (n >= (size_t)size)
		return -1;
	memcpy(buf, st->pin, n);
	st->pin = NULL; /* if it is wrong, do not let OpenSSL try it again */
	return (int)n;
}

/* Whatever signs with the enrolled key loads under Secure Boot: as root, sign only with a key
 * that root owns and nobody else can read or write (what keygen makes). Before reading: not a
 * FIFO or device (read_full_file() would wait on it); after parsing: owner and mode. */
static int key_file_check(struct dkm_ctx *ctx, const char *path, bool parsed)
{
	struct stat st;

	if (geteuid() != 0 || stat(path, &st) < 0 || S_ISDIR(st.st_mode))
		return 0; /* not ours to judge, or read_full_file() says what is wrong */
	if (!S_ISREG(st.st_mode))
		return dkm_err(
			ctx, EINVAL,
			"refusing signing key '%s': it is not a regular file: put the PEM key file there",
			path);
	if (parsed && st.st_uid != 0)
		return dkm_err(
			ctx, EPERM,
			"refusing signing key '%s': it belongs to uid %u, not root, who could replace it: run 'chown root: %s' if it is yours, else make a new one with 'dkm-hook keygen --force'",
			path, (unsigned)st.st_uid, path);
	if (parsed && (st.st_mode & 077))
		return dkm_err(
			ctx, EPERM,
			"refusing signing key '%s': others may read or write it (mode %04o): run 'chmod 600 %s', and make a new key with 'dkm-hook keygen --force' if someone may have copied it",
			path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

static int key_read(struct dkm_ctx *ctx, const char *path, EVP_PKEY **ret)
{
	_cleanup_(secret_done) struct secret file = {};
	_cleanup_bio_ BIO *b = NULL;
	struct pin_state pin = { .pin = getenv(PIN_ENV) };
	EVP_PKEY *pkey;
	int r;

	if (startswith(path, "pkcs11:"))
		return dkm_err(ctx, EOPNOTSUPP,
			       "signing key '%s': PKCS#11 keys are not supported; use a PEM key file",
			       path);
	r = key_file_check(ctx, path, false);
	if (r < 0)
		return r;
	r = read_full_file(path, KEY_FILE_MAX, &file.data, &file.len);
	if (r < 0)
		return dkm_err(ctx, r, "cannot read signing key '%s': %s", path, strerror(-r));

	b = BIO_new_mem_buf(file.data, (int)file.len);
	if (!b)
		return dkm_err(ctx, ENOMEM, "cannot read signing key '%s': %s", path, ssl_reason());
	pkey = PEM_read_bio_PrivateKey(b, NULL, pin_cb, &pin);
	if (!pkey) {
		const char *why = ssl_reason();

		if (pin.asked && !getenv(PIN_ENV))
			return dkm_err(ctx, ENOKEY,
				       "signing key '%s' is encrypted; set " PIN_ENV
				       " to its passphrase",
				       path);
		if (pin.asked)
			return dkm_err(ctx, EKEYREJECTED,
				       "cannot decrypt signing key '%s': wrong passphrase in " PIN_ENV,
				       path);
		return dkm_err(ctx, EBADMSG,
			       "cannot load signing key '%s': not a PEM private key (%s)", path,
			       why);
	}
	r = key_file_check(ctx, path, true);
	if (r < 0) {
		EVP_PKEY_free(pkey);
		return r;
	}
	*ret = pkey;
	return 0;
}

/* DER or PEM, told apart the way sign-file does: DER starts with a SEQUENCE of long length. */
static int cert_read(struct dkm_ctx *ctx, const char *path, X509 **ret)
{
	_cleanup_free_ char *data = NULL;
	const unsigned char *p;
	size_t len;
	X509 *cert;
	int r;

	r = read_full_file(path, KEY_FILE_MAX, &data, &len);
	if (r < 0)
		return dkm_err(ctx, r, "cannot read certificate '%s': %s", path, strerror(-r));
	p = (const unsigned char *)data;
	if (len >= 2 && p[0] == 0x30 && p[1] >= 0x81 && p[1] <= 0x84) {
		cert = d2i_X509(NULL, &p, (long)len);
	} else {
		_cleanup_bio_ BIO *b = BIO_new_mem_buf(data, (int)len);

		cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	}
	if (!cert)
		return dkm_err(ctx, EBADMSG,
			       "cannot load certificate '%s': not a DER or PEM X.509 certificate (%s)",
			       path, ssl_reason());
	*ret = cert;
	return 0;
}

int dkm_sign_key_load(struct dkm_ctx *ctx, const char *key_path, const char *cert_path,
		      struct dkm_sign_key **ret)
{
	SSL_QUEUE_GUARD;
	_cleanup_pkey_ EVP_PKEY *pkey = NULL;
	_cleanup_x509_ X509 *cert = NULL;
	struct dkm_sign_key *k;
	int r;

	r = key_read(ctx, key_path, &pkey);
	if (r < 0)
		return r;
	r = cert_read(ctx, cert_path, &cert);
	if (r < 0)
		return r;
	if (X509_check_private_key(cert, pkey) != 1)
		return dkm_err(ctx, EKEYREJECTED,
			       "signing key '%s' does not match certificate '%s'", key_path,
			       cert_path);

	k = xcalloc(1, sizeof(*k));
	k->pkey = TAKE_PTR(pkey);
	k->cert = TAKE_PTR(cert);
	*ret = k;
	return 0;
}

struct dkm_sign_key *dkm_sign_key_free(struct dkm_sign_key *k)
{
	if (!k)
		return NULL;
	EVP_PKEY_free(k->pkey);
	X509_free(k->cert);
	free(k);
	return NULL;
}

int dkm_cert_describe(struct dkm_ctx *ctx, const char *cert_path, char **ret_signer,
		      char **ret_key_id)
{
	SSL_QUEUE_GUARD;
	_cleanup_x509_ X509 *cert = NULL;
	_cleanup_bn_ BIGNUM *bn = NULL;
	_cleanup_free_ unsigned char *bytes = NULL;
	int r, n;

	r = cert_read(ctx, cert_path, &cert);
	if (r < 0)
		return r;
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	if (!bn)
		return dkm_err(ctx, EBADMSG, "certificate '%s' has no usable serial number: %s",
			       cert_path, ssl_reason());
	n = BN_num_bytes(bn);
	bytes = xmalloc((size_t)n + 1);
	BN_bn2bin(bn, bytes);
	*ret_signer = name_cn(X509_get_issuer_name(cert));
	*ret_key_id = hex_colon(bytes, (size_t)n);
	return 0;
}

/* ---- generation ---- */

static int add_ext(X509 *cert, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	int ok;

	if (!ext)
		return -EINVAL;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -ENOMEM;
}

static char *keygen_common_name(void)
{
	char host[256] = "";

	if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
		strcpy(host, "localhost");
	/* X.509 limits a CN to 64 characters; the prefix takes 31 of them. */
	return xasprintf("dkm-hook module signing key (%.31s)", host);
}

static int keygen_build(X509 **ret_cert, EVP_PKEY **ret_pkey)
{
	_cleanup_pkey_ EVP_PKEY *pkey = NULL;
	_cleanup_x509_ X509 *cert = NULL;
	_cleanup_bn_ BIGNUM *serial = NULL;
	_cleanup_free_ char *cn = keygen_common_name();
	unsigned char sn[20];
	X509_NAME *name;
	X509V3_CTX v3;

	pkey = EVP_RSA_gen(KEYGEN_RSA_BITS);
	cert = X509_new();
	if (!pkey || !cert)
		return -ENOMEM;

	/* A positive 20-byte serial: modinfo prints it as sig_key. */
	if (RAND_bytes(sn, sizeof(sn)) != 1)
		return -EIO;
	sn[0] = (unsigned char)((sn[0] & 0x7f) | 0x40);
	serial = BN_bin2bn(sn, sizeof(sn), NULL);
	if (!serial || !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)))
		return -ENOMEM;

	if (!X509_set_version(cert, X509_VERSION_3) ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), 0) ||
	    !X509_time_adj_ex(X509_getm_notAfter(cert), KEYGEN_DAYS, 0, NULL) ||
	    !X509_set_pubkey(cert, pkey))
		return -ENOMEM;
	name = X509_get_subject_name(cert);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_set_issuer_name(cert, name))
		return -ENOMEM;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	if (add_ext(cert, &v3, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, &v3, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(cert, &v3, NID_ext_key_usage, KEYGEN_EKU) < 0 ||
	    add_ext(cert, &v3, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(cert, &v3, NID_authority_key_identifier, "keyid:always") < 0)
		return -EINVAL;
	if (!X509_sign(cert, pkey, EVP_sha256()))
		return -EINVAL;

	*ret_cert = TAKE_PTR(cert);
	*ret_pkey = TAKE_PTR(pkey);
	return 0;
}

/* Create path with data, failing with -EEXIST if it exists, even if it appeared a moment ago:
 * written to a temporary file, then link()ed into place, which never replaces. */
static int write_file_new(const char *path, const void *data, size_t len, mode_t mode)
{
	_cleanup_free_ char *dir = path_dirname(path);
	_cleanup_free_ char *tmp = xasprintf("%s/.#%sXXXXXX", dir, path_basename(path));
	_cleanup_close_ int fd = -1;
	const char *p = data;
	int r = 0;

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len > 0 && r == 0) {
		ssize_t k = write(fd, p, len);

		if (k < 0 && errno != EINTR)
			r = -errno;
		else if (k > 0) {
			p += k;
			len -= (size_t)k;
		}
	}
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && link(tmp, path) < 0)
		r = -errno;
	unlink(tmp);
	if (r == 0)
		(void)fsync_parent(path);
	return r;
}

static int key_write(const char *path, EVP_PKEY *pkey, bool replace)
{
	/* secure-memory BIO: the buffer is wiped when freed */
	_cleanup_bio_ BIO *b = BIO_new(BIO_s_secmem());
	char *pem;
	long n;

	if (!b || !PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL))
		return -ENOMEM;
	n = BIO_get_mem_data(b, &pem);
	if (n <= 0)
		return -ENOMEM;
	return replace ? write_file_atomic(path, pem, (size_t)n, 0600)
		       : write_file_new(path, pem, (size_t)n, 0600);
}

static int cert_write(const char *path, X509 *cert, bool replace)
{
	_cleanup_openssl_free_ unsigned char *der = NULL;
	int n = i2d_X509(cert, &der);

	if (n <= 0)
		return -ENOMEM;
	return replace ? write_file_atomic(path, der, (size_t)n, 0644)
		       : write_file_new(path, der, (size_t)n, 0644);
}

static bool file_present(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int dkm_sign_key_ensure(struct dkm_ctx *ctx, const char *key_path, const char *cert_path,
			bool force)
{
	SSL_QUEUE_GUARD;
	_cleanup_pkey_ EVP_PKEY *pkey = NULL;
	_cleanup_x509_ X509 *cert = NULL;
	bool have_key = file_present(key_path), have_cert = file_present(cert_path);
	int r;

	if (!force) {
		if (have_key && have_cert)
			return 0;
		if (have_key)
			return dkm_err(
				ctx, ENOKEY,
				"signing key '%s' exists but its certificate '%s' is missing; restore the certificate, or run 'dkm-hook keygen --force' to replace both",
				key_path, cert_path);
		if (have_cert)
			return dkm_err(
				ctx, ENOKEY,
				"certificate '%s' exists but its signing key '%s' is missing; restore the key, or run 'dkm-hook keygen --force' to replace both",
				cert_path, key_path);
	}

	r = keygen_build(&cert, &pkey);
	if (r < 0)
		return dkm_err(ctx, r, "cannot generate a signing key: %s", ssl_reason());

	r = mkdir_parents(key_path, 0755);
	if (r >= 0)
		r = mkdir_parents(cert_path, 0755);
	if (r < 0)
		return dkm_err(ctx, r, "cannot create the directory for '%s': %s", key_path,
			       strerror(-r));

	r = key_write(key_path, pkey, force);
	if (r < 0)
		return dkm_err(ctx, r, "cannot write signing key '%s': %s", key_path,
			       r == -EEXIST ? "created by someone else meanwhile" : strerror(-r));
	r = cert_write(cert_path, cert, force);
	if (r < 0) {
		if (!force)
			unlink(key_path); /* ours, made a moment ago: do not leave half a pair */
		return dkm_err(ctx, r, "cannot write certificate '%s': %s", cert_path,
			       r == -EEXIST ? "created by someone else meanwhile" : strerror(-r));
	}

	if (force && (have_key || have_cert))
		dkm_warn(ctx,
			 "replaced signing key '%s' and certificate '%s'; modules signed before keep the old signer until rebuilt",
			 key_path, cert_path);
	dkm_notice(ctx, "generated signing key '%s' and certificate '%s'", key_path, cert_path);
	dkm_notice(ctx,
		   "for Secure Boot, enrol the certificate: mokutil --import '%s' (then reboot and confirm in MokManager)",
		   cert_path);
	return 1;
}

/* ---- signing ---- */

int dkm_module_sign(struct dkm_ctx *ctx, const struct dkm_sign_key *key, const char *hash_algo,
		    const void *data, size_t len, void **ret, size_t *ret_len)
{
	SSL_QUEUE_GUARD;
	_cleanup_cms_ CMS_ContentInfo *cms = NULL;
	_cleanup_bio_ BIO *content = NULL;
	_cleanup_openssl_free_ unsigned char *der = NULL;
	struct dkm_elf_module m = {};
	enum dkm_compression c;
	const EVP_MD *md;
	size_t elf_len, out_len;
	uint8_t *out;
	int r, n;
	const unsigned flags = CMS_NOCERTS | CMS_BINARY;

	c = dkm_compression_detect(data, len);
	if (c != DKM_COMPRESS_NONE)
		return dkm_err(
			ctx, ENOEXEC,
			"cannot sign module: it is %s-compressed; sign the uncompressed .ko, then compress it",
			dkm_compression_name(c));
	r = dkm_modsig_strip(data, len, &elf_len);
	if (r < 0)
		return dkm_err(ctx, r, "cannot sign module: its existing signature is malformed");
	if (elf_len != len)
		dkm_debug(ctx, "replacing the existing signature of the module");
	r = dkm_elf_module_parse(ctx, NULL, data, elf_len, &m);
	if (r < 0)
		return r;
	dkm_elf_module_done(&m);

	md = EVP_get_digestbyname(hash_algo);
	if (!md)
		return dkm_err(ctx, EINVAL, "cannot sign module: unknown hash algorithm '%s'",
			       hash_algo);
	if (elf_len > INT_MAX)
		return dkm_err(ctx, EFBIG, "cannot sign module: %zu bytes is too large", elf_len);

	/* The calls and flags of scripts/sign-file, so that the bytes are the same. */
	cms = CMS_sign(NULL, NULL, NULL, NULL, flags | CMS_PARTIAL | CMS_DETACHED | CMS_STREAM);
	if (!cms)
		return dkm_err(ctx, ENOMEM, "cannot sign module: %s", ssl_reason());
	if (!CMS_add1_signer(cms, key->cert, key->pkey, md, flags | CMS_NOSMIMECAP | CMS_NOATTR))
		return dkm_err(ctx, EINVAL, "cannot sign module with %s: %s", hash_algo,
			       ssl_reason());
	content = BIO_new_mem_buf(data, (int)elf_len);
	if (!content || CMS_final(cms, content, NULL, flags) != 1)
		return dkm_err(ctx, EINVAL, "cannot sign module: %s", ssl_reason());
	n = i2d_CMS_ContentInfo(cms, &der);
	if (n <= 0)
		return dkm_err(ctx, ENOMEM, "cannot encode the module signature: %s", ssl_reason());

	out_len = elf_len + (size_t)n + DKM_MODSIG_TRAILER_LEN;
	out = xmalloc(out_len);
	memcpy(out, data, elf_len);
	memcpy(out + elf_len, der, (size_t)n);
	dkm_modsig_trailer(out + elf_len + n, (uint32_t)n);
	*ret = out;
	*ret_len = out_len;
	return 0;
}

/* ---- verification ---- */

/* signer, key id and hash algorithm, as kmod reads them for modinfo */
static int signer_describe(CMS_SignerInfo *si, struct dkm_sig_info *info)
{
	ASN1_OCTET_STRING *keyid = NULL;
	X509_NAME *issuer = NULL;
	ASN1_INTEGER *sno = NULL;
	X509_ALGOR *dig = NULL;
	const ASN1_OBJECT *obj;
	const char *ln;

	if (CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer, &sno) != 1)
		return -EBADMSG;
	if (issuer && sno) {
		_cleanup_bn_ BIGNUM *bn = ASN1_INTEGER_to_BN(sno, NULL);
		_cleanup_free_ unsigned char *bytes = NULL;
		int n;

		if (!bn)
			return -EBADMSG;
		n = BN_num_bytes(bn);
		bytes = xmalloc((size_t)n + 1);
		BN_bn2bin(bn, bytes);
		info->key_id = hex_colon(bytes, (size_t)n);
		info->signer = name_cn(issuer);
	} else if (keyid) {
		info->key_id =
			hex_colon(ASN1_STRING_get0_data(keyid), (size_t)ASN1_STRING_length(keyid));
		info->signer = xstrdup("");
	} else
		return -EBADMSG;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
	if (!dig)
		return -EBADMSG;
	X509_ALGOR_get0(&obj, NULL, NULL, dig);
	ln = OBJ_nid2ln(OBJ_obj2nid(obj));
	if (ln)
		info->hash_algo = xstrdup(ln);
	else {
		char buf[128];

		OBJ_obj2txt(buf, sizeof(buf), obj, 1);
		info->hash_algo = xstrdup(buf);
	}
	return 0;
}

static void verdict_set(struct dkm_sig_info *info, int verdict, char *reason)
{
	info->verdict = verdict;
	free(info->reason);
	info->reason = reason;
}

static int signature_check(struct dkm_ctx *ctx, const uint8_t *elf, size_t elf_len,
			   CMS_ContentInfo *cms, CMS_SignerInfo *si, const char *cert_path,
			   struct dkm_sig_info *info)
{
	_cleanup_x509_ X509 *cert = NULL;
	_cleanup_x509_stack_ STACK_OF(X509) *certs = NULL;
	_cleanup_bio_ BIO *content = NULL;
	int r;

	r = cert_read(ctx, cert_path, &cert);
	if (r < 0)
		return r;
	if (CMS_SignerInfo_cert_cmp(si, cert) != 0) {
		verdict_set(info, DKM_SIG_OTHER_KEY,
			    xasprintf("signed by '%s' (sig_key %s), not by the key of '%s'",
				      info->signer, info->key_id, cert_path));
		return 0;
	}

	certs = sk_X509_new_null();
	if (!certs || !X509_up_ref(cert) || !sk_X509_push(certs, cert))
		return dkm_err(ctx, ENOMEM, "cannot verify: %s", ssl_reason());
	content = BIO_new_mem_buf(elf, (int)elf_len);
	if (!content)
		return dkm_err(ctx, ENOMEM, "cannot verify: %s", ssl_reason());
	if (CMS_verify(cms, certs, NULL, content, NULL,
		       CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN) != 1) {
		dkm_debug(ctx, "CMS_verify: %s", ssl_reason());
		verdict_set(info, DKM_SIG_INVALID,
			    xstrdup("the signature does not match the module's contents"));
		return 0;
	}
	verdict_set(info, DKM_SIG_VALID, NULL);
	return 0;
}

int dkm_module_verify(struct dkm_ctx *ctx, const void *data, size_t len, const char *cert_path,
		      struct dkm_sig_info *ret)
{
	SSL_QUEUE_GUARD;
	_cleanup_free_ void *plain = NULL;
	_cleanup_cms_ CMS_ContentInfo *cms = NULL;
	struct dkm_sig_info info = { .verdict = DKM_SIG_NOT_CHECKED };
	STACK_OF(CMS_SignerInfo) * sis;
	const unsigned char *p;
	size_t content_len, sig_off, sig_len;
	int r;

	if (dkm_compression_detect(data, len) != DKM_COMPRESS_NONE) {
		size_t plain_len;

		r = dkm_decompress(ctx, data, len, &plain, &plain_len, NULL);
		if (r < 0)
			return r;
		data = plain;
		len = plain_len;
	}

	r = dkm_modsig_parse(data, len, &content_len, &sig_off, &sig_len);
	if (r == 0) {
		info.verdict = DKM_SIG_UNSIGNED;
		info.content_len = len;
		*ret = info;
		return 0;
	}
	info.is_signed = true;
	if (r < 0) {
		verdict_set(&info, DKM_SIG_INVALID,
			    xstrdup(r == -ENOPKG ? "the signature is not PKCS#7 (pre-4.x format)"
						 : "the signature trailer is malformed"));
		*ret = info;
		return 0;
	}
	info.content_len = content_len;
	if (content_len > INT_MAX || sig_len > LONG_MAX)
		return dkm_err(ctx, EFBIG, "cannot verify: module of %zu bytes is too large", len);

	p = (const unsigned char *)data + sig_off;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)sig_len);
	sis = cms ? CMS_get0_SignerInfos(cms) : NULL;
	if (!sis || sk_CMS_SignerInfo_num(sis) < 1 ||
	    signer_describe(sk_CMS_SignerInfo_value(sis, 0), &info) < 0) {
		dkm_debug(ctx, "PKCS#7 parse: %s", ssl_reason());
		verdict_set(&info, DKM_SIG_INVALID,
			    xstrdup("the signature is not a valid PKCS#7 signed-data message"));
		*ret = info;
		return 0;
	}

	if (cert_path) {
		r = signature_check(ctx, data, content_len, cms, sk_CMS_SignerInfo_value(sis, 0),
				    cert_path, &info);
		if (r < 0) {
			dkm_sig_info_done(&info);
			return r;
		}
	}
	*ret = info;
	return 0;
}

void dkm_sig_info_done(struct dkm_sig_info *i)
{
	if (!i)
		return;
	free(i->signer);
	free(i->key_id);
	free(i->hash_algo);
	free(i->reason);
	*i = (struct dkm_sig_info){};
}

const char *dkm_sig_verdict_name(int verdict)
{
	switch (verdict) {
	case DKM_SIG_NOT_CHECKED:
		return "not-checked";
	case DKM_SIG_UNSIGNED:
		return "unsigned";
	case DKM_SIG_VALID:
		return "valid";
	case DKM_SIG_INVALID:
		return "invalid";
	case DKM_SIG_OTHER_KEY:
		return "other-key";
	default:
		return "unknown";
	}
}
