/*
 * crypto.c — the half of crypto.h on OpenSSL: random bytes and ids,
 * base64url, creating the master key, AES-256-GCM sealing.  Digests, HMAC,
 * secret and key files are in secret.c, so that a program that only
 * verifies signatures (ig-route) never loads libcrypto.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto.h"

int ig_random(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *ig_b64url_encode(const void *in, size_t n)
{
	const unsigned char *p = in;
	char *out = malloc(n / 3 * 4 + 5), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		*o++ = b64url[p[i] >> 2];
		*o++ = b64url[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = b64url[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
		*o++ = b64url[p[i + 2] & 63];
	}
	if (n - i == 1) {
		*o++ = b64url[p[i] >> 2];
		*o++ = b64url[(p[i] & 3) << 4];
	} else if (n - i == 2) {
		*o++ = b64url[p[i] >> 2];
		*o++ = b64url[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = b64url[(p[i + 1] & 15) << 2];
	}
	*o = '\0';
	return out;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

unsigned char *ig_b64url_decode(const char *in, size_t inlen, size_t *outlen)
{
	unsigned char *out;
	size_t i, o = 0, n = inlen;
	unsigned acc = 0;
	int bits = 0;

	while (n > 0 && in[n - 1] == '=')
		n--;
	if (inlen - n > 2 || n % 4 == 1)
		return NULL;
	out = malloc(n * 3 / 4 + 1);
	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		int v = b64val((unsigned char)in[i]);

		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero (canonical encoding). */
	if (bits && (acc & ((1u << bits) - 1))) {
		free(out);
		return NULL;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

char *ig_random_id(size_t n)
{
	unsigned char buf[64];

	if (n > sizeof(buf) || ig_random(buf, n))
		return NULL;
	return ig_b64url_encode(buf, n);
}

int ig_key_create(const char *path, struct ig_err *err)
{
	unsigned char key[IG_KEY_LEN];
	char *dir, *slash;
	int fd;

	dir = strdup(path);
	if (dir && (slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST) {
			ig_err_errno(err, IG_EX_CANTCREAT, "cannot create directory '%s'", dir);
			free(dir);
			return IG_EX_CANTCREAT;
		}
	}
	free(dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return ig_err_errno(err, IG_EX_CANTCREAT, "cannot create master key '%s'", path);
	if (ig_random(key, sizeof(key)) || write(fd, key, sizeof(key)) != (ssize_t)sizeof(key)
	    || fsync(fd)) {
		OPENSSL_cleanse(key, sizeof(key));
		close(fd);
		unlink(path);
		return ig_err_errno(err, IG_EX_IOERR, "cannot write master key '%s'", path);
	}
	OPENSSL_cleanse(key, sizeof(key));
	if (close(fd))
		return ig_err_errno(err, IG_EX_IOERR, "cannot write master key '%s'", path);
	return 0;
}

int ig_seal(const struct ig_keyring *kr, const char *aad, const void *pt, size_t n,
	    unsigned char **out, size_t *outlen, struct ig_err *err)
{
	EVP_CIPHER_CTX *c;
	unsigned char *buf, *nonce, *ct;
	int len, ok;

	*out = NULL;
	if (kr->n < 1)
		return ig_err_set(err, IG_EX_CONFIG, "no master key loaded");
	buf = malloc(n + IG_SEAL_OVERHEAD);
	if (!buf)
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	memcpy(buf, "IG1", 3);
	memcpy(buf + 3, kr->keys[0].id, IG_KEYID_LEN);
	nonce = buf + 3 + IG_KEYID_LEN;
	ct = nonce + 12;
	if (ig_random(nonce, 12)) {
		free(buf);
		return ig_err_set(err, IG_EX_SOFTWARE, "no randomness");
	}
	c = EVP_CIPHER_CTX_new();
	ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1
		&& EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1
		&& EVP_EncryptInit_ex(c, NULL, NULL, kr->keys[0].key, nonce) == 1
		&& EVP_EncryptUpdate(c, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) == 1
		&& EVP_EncryptUpdate(c, ct, &len, pt, (int)n) == 1
		&& EVP_EncryptFinal_ex(c, ct + len, &len) == 1
		&& EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, ct + n) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok) {
		free(buf);
		return ig_err_set(err, IG_EX_SOFTWARE, "encryption failed");
	}
	*out = buf;
	*outlen = n + IG_SEAL_OVERHEAD;
	return 0;
}

int ig_open(const struct ig_keyring *kr, const char *aad, const unsigned char *in,
	    size_t n, char **out, size_t *outlen, struct ig_err *err)
{
	const struct ig_key *k = NULL;
	const unsigned char *nonce, *ct;
	EVP_CIPHER_CTX *c;
	size_t ctlen;
	char *pt;
	int len, ok, i;
	unsigned char tag[16];

	*out = NULL;
	if (n < IG_SEAL_OVERHEAD || memcmp(in, "IG1", 3))
		return ig_err_set(err, IG_EX_DATAERR, "sealed value is malformed");
	for (i = 0; i < kr->n; i++)
		if (!memcmp(kr->keys[i].id, in + 3, IG_KEYID_LEN))
			k = &kr->keys[i];
	if (!k) {
		char hex[2 * IG_KEYID_LEN + 1];

		ig_hex(in + 3, IG_KEYID_LEN, hex);
		return ig_err_set(err, IG_EX_CONFIG,
			"sealed with key %s, which is not loaded (wrong or rotated master key)", hex);
	}
	nonce = in + 3 + IG_KEYID_LEN;
	ct = nonce + 12;
	ctlen = n - IG_SEAL_OVERHEAD;
	memcpy(tag, ct + ctlen, 16);
	pt = malloc(ctlen + 1);
	if (!pt)
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	c = EVP_CIPHER_CTX_new();
	ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1
		&& EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1
		&& EVP_DecryptInit_ex(c, NULL, NULL, k->key, nonce) == 1
		&& EVP_DecryptUpdate(c, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) == 1
		&& EVP_DecryptUpdate(c, (unsigned char *)pt, &len, ct, (int)ctlen) == 1
		&& EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1
		&& EVP_DecryptFinal_ex(c, (unsigned char *)pt + len, &len) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok) {
		OPENSSL_cleanse(pt, ctlen);
		free(pt);
		return ig_err_set(err, IG_EX_DATAERR,
			"sealed value failed authentication (tampered, or bound to another row)");
	}
	pt[ctlen] = '\0';
	*out = pt;
	if (outlen)
		*outlen = ctlen;
	return 0;
}

int ig_sealed_keyid(const unsigned char *in, size_t n, char hex[2 * IG_KEYID_LEN + 1])
{
	if (n < IG_SEAL_OVERHEAD || memcmp(in, "IG1", 3))
		return -1;
	ig_hex(in + 3, IG_KEYID_LEN, hex);
	return 0;
}
