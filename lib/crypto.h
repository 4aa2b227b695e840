/*
 * crypto.h — HMAC, constant-time compare, sealing tokens at rest, random ids,
 * base64url, and the master key file.  Implemented in secret.c (digests,
 * HMAC, hex, secret files: no OpenSSL) and crypto.c (the rest, on OpenSSL).
 *
 * Sealed format (binary blob, stored as-is):
 *   "IG1" | key id (8 bytes) | nonce (12) | ciphertext | GCM tag (16)
 * The key id is the first 8 bytes of SHA-256(key), so a keyring can hold the
 * current key and older ones during rotation.  The associated data binds a
 * sealed value to its owning row (e.g. "accounts:42:access_token"): moved to
 * another row, it no longer opens.
 */
#ifndef IG_CRYPTO_H
#define IG_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define IG_KEY_LEN 32
#define IG_KEYID_LEN 8
#define IG_SEAL_OVERHEAD (3 + IG_KEYID_LEN + 12 + 16)

/* out = HMAC-SHA256(key, msg); 32 bytes. */
void ig_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
		    unsigned char out[32]);
void ig_hmac_sha1(const void *key, size_t keylen, const void *msg, size_t len,
		  unsigned char out[20]);
void ig_sha256(const void *msg, size_t len, unsigned char out[32]);
/* SHA-256 uses the CPU's SHA extensions when it has them; on = 1 forces the
 * portable code (for tests), 0 goes back to choosing. */
void ig_sha256_portable(int on);
/* 0 when the open file fd (named path) is a regular file with no group or
 * other permission bits; else an error naming the chmod to run. */
int ig_file_private(const char *path, int fd, struct ig_err *err);
/* 1 when equal; time depends on n only. */
int ig_ct_equal(const void *a, const void *b, size_t n);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void ig_hex(const unsigned char *in, size_t n, char *out);
/* Parse exactly 2n hex digits; 0 or -1. */
int ig_unhex(const char *in, unsigned char *out, size_t n);

/* Verify a "sha256=<hex>" (or, with sha1, "sha1=<hex>") header against the
 * raw body; 1 valid, 0 not.  Constant-time in the digest. */
int ig_verify_hub_signature(const char *header, const void *body, size_t len,
			    const void *secret, size_t secretlen);

/* Cryptographically random bytes; 0 or -1. */
int ig_random(void *buf, size_t n);
/* A random URL-safe id of n bytes of entropy, base64url (caller frees). */
char *ig_random_id(size_t n);

/* base64url without padding.  Encode returns a new string; decode accepts
 * with or without padding and also the standard alphabet's +/ (Meta's
 * signed_request is base64url); returns a new buffer with *outlen, or NULL. */
char *ig_b64url_encode(const void *in, size_t n);
unsigned char *ig_b64url_decode(const char *in, size_t inlen, size_t *outlen);

/* The keyring: the current key (seals) and older keys (open only). */
struct ig_key {
	unsigned char key[IG_KEY_LEN];
	unsigned char id[IG_KEYID_LEN];
};
struct ig_keyring {
	struct ig_key keys[8];  /* keys[0] is current */
	int n;
};

void ig_keyring_init(struct ig_keyring *kr);
void ig_keyring_add(struct ig_keyring *kr, const unsigned char key[IG_KEY_LEN]);
void ig_keyring_clear(struct ig_keyring *kr);  /* wipes the keys */

/*
 * Load a 32-byte master key file into the keyring.  Refused (77) when the
 * file is readable or writable by group or others; missing → 66 (hint:
 * tenant-admin init); wrong size → 65.
 */
int ig_key_load(struct ig_keyring *kr, const char *path, struct ig_err *err);
/* Create a new key file with 32 random bytes, mode 0600, never overwriting
 * (exists → 73).  The parent directory is created 0700. */
int ig_key_create(const char *path, struct ig_err *err);

/* Seal plaintext under kr->keys[0]; *out is new (free), *outlen set. */
int ig_seal(const struct ig_keyring *kr, const char *aad, const void *pt, size_t n,
	    unsigned char **out, size_t *outlen, struct ig_err *err);
/* Open a sealed blob with whichever key its id names; the result is a new
 * NUL-terminated buffer (free; wipe with ig_wipe_free).  Tampering, wrong AAD
 * or an unknown key id → 65 (wrong key: 78). */
int ig_open(const struct ig_keyring *kr, const char *aad, const unsigned char *in,
	    size_t n, char **out, size_t *outlen, struct ig_err *err);
/* The key id a sealed blob names (hex, 17 bytes), for rotation reports. */
int ig_sealed_keyid(const unsigned char *in, size_t n, char hex[2 * IG_KEYID_LEN + 1]);

void ig_wipe_free(char *s);
/* Mask a secret for printing: "IGAA…x9Z" (first 4, last 3); new string. */
char *ig_mask(const char *secret);

/* Read a secret from a file (first line, trailing newline stripped; group/
 * other-readable files refused with 77).  New string (ig_wipe_free). */
int ig_secret_file_read(const char *path, char **out, struct ig_err *err);

#endif
