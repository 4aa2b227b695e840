#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "crypto.h"

/*
 * HMAC-SHA256 is on ig-route's path once per delivery.  OpenSSL 3's one-shot
 * HMAC() fetches the algorithm and keys a fresh context on every call, which
 * cost more than hashing a small delivery; so the MAC is fetched once and
 * the keyed contexts of the last few keys are kept (webhook secrets, during
 * a rotation several) and duplicated per message.  The programs are single
 * threaded; what is cached stays reachable until exit.
 */
#define MAC_CACHE 4
static struct {
	EVP_MAC_CTX *ctx;       /* keyed, never finalised */
	size_t len;
	unsigned char key[128];
	unsigned long used;
} mac_cache[MAC_CACHE];
static EVP_MAC *mac_sha256;
static unsigned long mac_tick;

static EVP_MAC_CTX *mac_keyed(const void *key, size_t keylen)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end()
	};
	int i, lru = 0;

	if (keylen > sizeof(mac_cache[0].key))
		return NULL;
	for (i = 0; i < MAC_CACHE; i++) {
		if (mac_cache[i].ctx && mac_cache[i].len == keylen
		    && !memcmp(mac_cache[i].key, key, keylen)) {
			mac_cache[i].used = ++mac_tick;
			return mac_cache[i].ctx;
		}
		if (mac_cache[i].used < mac_cache[lru].used)
			lru = i;
	}
	if (!mac_sha256 && !(mac_sha256 = EVP_MAC_fetch(NULL, "HMAC", NULL)))
		return NULL;
	EVP_MAC_CTX_free(mac_cache[lru].ctx);
	mac_cache[lru].ctx = EVP_MAC_CTX_new(mac_sha256);
	if (!mac_cache[lru].ctx || EVP_MAC_init(mac_cache[lru].ctx, key, keylen, params) != 1) {
		EVP_MAC_CTX_free(mac_cache[lru].ctx);
		mac_cache[lru].ctx = NULL;
		return NULL;
	}
	memcpy(mac_cache[lru].key, key, keylen);
	mac_cache[lru].len = keylen;
	mac_cache[lru].used = ++mac_tick;
	return mac_cache[lru].ctx;
}

void ig_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
		    unsigned char out[32])
{
	EVP_MAC_CTX *base = mac_keyed(key, keylen), *c = base ? EVP_MAC_CTX_dup(base) : NULL;
	unsigned int n = 32;
	size_t outl = 0;
	int ok;

	ok = c && EVP_MAC_update(c, msg, len) == 1 && EVP_MAC_final(c, out, &outl, 32) == 1
	     && outl == 32;
	EVP_MAC_CTX_free(c);
	if (!ok)  /* a long key, or no memory: the one-shot way */
		HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &n);
}

void ig_hmac_sha1(const void *key, size_t keylen, const void *msg, size_t len,
		  unsigned char out[20])
{
	unsigned int n = 20;

	HMAC(EVP_sha1(), key, (int)keylen, msg, len, out, &n);
}

void ig_sha256(const void *msg, size_t len, unsigned char out[32])
{
	SHA256(msg, len, out);
}

int ig_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void ig_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ig_unhex(const char *in, unsigned char *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int hi = hexval((unsigned char)in[2 * i]), lo;

		if (hi < 0)
			return -1;
		lo = hexval((unsigned char)in[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return in[2 * n] == '\0' ? 0 : -1;
}

int ig_verify_hub_signature(const char *header, const void *body, size_t len,
			    const void *secret, size_t secretlen)
{
	unsigned char want[32], got[32];
	size_t dlen;

	if (!header)
		return 0;
	if (!strncmp(header, "sha256=", 7)) {
		dlen = 32;
		ig_hmac_sha256(secret, secretlen, body, len, want);
	} else if (!strncmp(header, "sha1=", 5)) {
		dlen = 20;
		ig_hmac_sha1(secret, secretlen, body, len, want);
	} else {
		return 0;
	}
	if (ig_unhex(strchr(header, '=') + 1, got, dlen))
		return 0;
	return ig_ct_equal(want, got, dlen);
}

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

void ig_keyring_init(struct ig_keyring *kr)
{
	memset(kr, 0, sizeof(*kr));
}

void ig_keyring_add(struct ig_keyring *kr, const unsigned char key[IG_KEY_LEN])
{
	unsigned char h[32];

	if (kr->n >= (int)(sizeof(kr->keys) / sizeof(kr->keys[0])))
		return;
	memcpy(kr->keys[kr->n].key, key, IG_KEY_LEN);
	ig_sha256(key, IG_KEY_LEN, h);
	memcpy(kr->keys[kr->n].id, h, IG_KEYID_LEN);
	kr->n++;
}

void ig_keyring_clear(struct ig_keyring *kr)
{
	OPENSSL_cleanse(kr, sizeof(*kr));
}

/* A secret file must be ours alone: no group/other bits. */
static int check_private(const char *path, int fd, struct ig_err *err)
{
	struct stat sb;

	if (fstat(fd, &sb))
		return ig_err_errno(err, IG_EX_IOERR, "cannot stat '%s'", path);
	if (!S_ISREG(sb.st_mode))
		return ig_err_set(err, IG_EX_NOINPUT, "'%s' is not a regular file", path);
	if (sb.st_mode & 077)
		return ig_err_set(err, IG_EX_NOPERM,
			"'%s' is accessible by group or others (mode %04o); run: chmod 600 '%s'",
			path, (unsigned)(sb.st_mode & 07777), path);
	return 0;
}

int ig_key_load(struct ig_keyring *kr, const char *path, struct ig_err *err)
{
	unsigned char key[IG_KEY_LEN + 1];
	ssize_t n;
	int fd, rc;

	if (!path || !*path)
		return ig_err_set(err, IG_EX_CONFIG, "no master key file configured");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ig_err_errno(err, errno == ENOENT ? IG_EX_NOINPUT : IG_EX_NOPERM,
			"cannot open master key '%s'%s", path,
			errno == ENOENT ? " (create it with 'tenant-admin init')" : "");
	if ((rc = check_private(path, fd, err))) {
		close(fd);
		return rc;
	}
	n = read(fd, key, sizeof(key));
	close(fd);
	if (n != IG_KEY_LEN) {
		OPENSSL_cleanse(key, sizeof(key));
		return ig_err_set(err, IG_EX_DATAERR,
			"master key '%s' must hold exactly %d bytes", path, IG_KEY_LEN);
	}
	ig_keyring_add(kr, key);
	OPENSSL_cleanse(key, sizeof(key));
	return 0;
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

void ig_wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

char *ig_mask(const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	char *out = malloc(16);

	if (!out)
		return NULL;
	if (n < 10)
		snprintf(out, 16, "****");
	else
		snprintf(out, 16, "%.4s…%s", secret, secret + n - 3);
	return out;
}

int ig_secret_file_read(const char *path, char **out, struct ig_err *err)
{
	char buf[4096];
	ssize_t n;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ig_err_errno(err, errno == ENOENT ? IG_EX_NOINPUT : IG_EX_NOPERM,
				    "cannot open secret file '%s'", path);
	if ((rc = check_private(path, fd, err))) {
		close(fd);
		return rc;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return ig_err_errno(err, IG_EX_IOERR, "cannot read '%s'", path);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!buf[0]) {
		OPENSSL_cleanse(buf, sizeof(buf));
		return ig_err_set(err, IG_EX_CONFIG, "secret file '%s' is empty", path);
	}
	*out = strdup(buf);
	OPENSSL_cleanse(buf, sizeof(buf));
	return *out ? 0 : ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
}
