/* Unit tests of lib/crypto: RFC 4231 HMAC-SHA256 vectors, hub signatures,
 * AES-256-GCM sealing (round trip, tamper, wrong AAD, key rotation),
 * base64url edge cases, key and secret files. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto.h"
#include "tap.h"

static void hmac_case(int n, const unsigned char *key, size_t klen, const char *data, size_t dlen,
		      const char *want, size_t wantbytes)
{
	unsigned char mac[32];
	char hex[65];

	ig_hmac_sha256(key, klen, data, dlen, mac);
	ig_hex(mac, wantbytes, hex);
	is_str(hex, want, "RFC 4231 test case %d", n);
}

static void rfc4231(void)
{
	unsigned char k[131];
	char d[50];
	int i;

	memset(k, 0x0b, 20);
	hmac_case(1, k, 20, "Hi There", 8,
		  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 32);
	hmac_case(2, (const unsigned char *)"Jefe", 4, "what do ya want for nothing?", 28,
		  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 32);
	memset(k, 0xaa, 20);
	memset(d, 0xdd, 50);
	hmac_case(3, k, 20, d, 50,
		  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 32);
	for (i = 0; i < 25; i++)
		k[i] = (unsigned char)(i + 1);
	memset(d, 0xcd, 50);
	hmac_case(4, k, 25, d, 50,
		  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 32);
	memset(k, 0x0c, 20);
	hmac_case(5, k, 20, "Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b", 16);
	memset(k, 0xaa, 131);
	hmac_case(6, k, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
		  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 32);
	{
		const char *t7 = "This is a test using a larger than block-size key and a larger "
			"than block-size data. The key needs to be hashed before being used by "
			"the HMAC algorithm.";

		hmac_case(7, k, 131, t7, strlen(t7),
			  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 32);
	}
}

/* lib/secret.c's own SHA-256 and SHA-1: NIST vectors, RFC 2202 HMAC-SHA1,
 * and OpenSSL's results for every length from 0 to 300 bytes. */
static void digests(void)
{
	static const struct { const char *msg; const char *want; } nist[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
		  "klmnopqrlmnopqrsmnopqrstnopqrstu",
		  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	};
	unsigned char md[32], want[32], buf[300], *big;
	unsigned int wl;
	char hex[65];
	size_t i;
	int bad = 0, bad1 = 0;

	for (i = 0; i < sizeof(nist) / sizeof(nist[0]); i++) {
		ig_sha256(nist[i].msg, strlen(nist[i].msg), md);
		ig_hex(md, 32, hex);
		is_str(hex, nist[i].want, "SHA-256 NIST vector %zu", i + 1);
	}
	big = malloc(1000000);
	if (big) {
		memset(big, 'a', 1000000);
		ig_sha256(big, 1000000, md);
		ig_hex(md, 32, hex);
		is_str(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
		       "SHA-256 of a million 'a'");
		free(big);
	}
	ig_hmac_sha1("Jefe", 4, "what do ya want for nothing?", 28, md);
	ig_hex(md, 20, hex);
	is_str(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", "HMAC-SHA1 RFC 2202 test case 2");
	memset(buf, 0xaa, 80);
	ig_hmac_sha1(buf, 80, "Test Using Larger Than Block-Size Key - Hash Key First", 54, md);
	ig_hex(md, 20, hex);
	is_str(hex, "aa4ae5e15272d00e95705637ce8a3b55ed402112", "HMAC-SHA1 RFC 2202 test case 6 (long key)");
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	for (i = 0; i <= sizeof(buf); i++) {
		wl = 32;
		ig_sha256(buf, i, md);
		EVP_Digest(buf, i, want, &wl, EVP_sha256(), NULL);
		bad += memcmp(md, want, 32) != 0;
		ig_hmac_sha256(buf, i % 150, buf, i, md);
		HMAC(EVP_sha256(), buf, (int)(i % 150), buf, i, want, &wl);
		bad += memcmp(md, want, 32) != 0;
		ig_hmac_sha1(buf, i % 100, buf, i, md);
		HMAC(EVP_sha1(), buf, (int)(i % 100), buf, i, want, &wl);
		bad1 += memcmp(md, want, 20) != 0;
	}
	ok(bad == 0, "SHA-256 and HMAC-SHA256 agree with OpenSSL for 0..300 bytes, keys 0..149 (%d differ)", bad);
	ig_sha256_portable(1);   /* the other implementation, whichever ran above */
	for (i = 0, bad = 0; i <= sizeof(buf); i++) {
		wl = 32;
		ig_sha256(buf, i, md);
		EVP_Digest(buf, i, want, &wl, EVP_sha256(), NULL);
		bad += memcmp(md, want, 32) != 0;
	}
	ig_sha256_portable(0);
	ok(bad == 0, "portable SHA-256 agrees with OpenSSL for 0..300 bytes (%d differ)", bad);
	ok(bad1 == 0, "HMAC-SHA1 agrees with OpenSSL for 0..300 bytes (%d differ)", bad1);
}

/* Keyed contexts are cached (lib/secret.c): cycle through more keys than
 * the cache holds, twice, against a plain implementation of RFC 2104. */
static void hmac_cache(void)
{
	unsigned char key[8][40], mac[32], want[32], ipad[64 + 64], opad[64 + 32];
	char msg[64];
	int round, i, j, bad = 0;

	for (round = 0; round < 3; round++) {
		for (i = 0; i < 8; i++) {
			size_t klen = (size_t)(i * 5 + 1);

			memset(key[i], 'a' + i, klen);
			snprintf(msg, sizeof(msg), "message %d of round %d", i, round);
			ig_hmac_sha256(key[i], klen, msg, strlen(msg), mac);
			memset(ipad, 0x36, 64);
			memset(opad, 0x5c, 64);
			for (j = 0; j < (int)klen; j++) {
				ipad[j] ^= key[i][j];
				opad[j] ^= key[i][j];
			}
			memcpy(ipad + 64, msg, strlen(msg));
			ig_sha256(ipad, 64 + strlen(msg), opad + 64);
			ig_sha256(opad, 64 + 32, want);
			bad += memcmp(mac, want, 32) != 0;
		}
	}
	ok(bad == 0, "HMAC with 8 keys in turn, 3 rounds, matches RFC 2104 computed by hand (%d wrong)", bad);
}

static void hub_signature(void)
{
	const char *body = "{\"object\":\"instagram\",\"entry\":[]}";
	unsigned char mac[32], mac1[20];
	char hex[65], hdr[80];

	ig_hmac_sha256("s3cret", 6, body, strlen(body), mac);
	ig_hex(mac, 32, hex);
	snprintf(hdr, sizeof(hdr), "sha256=%s", hex);
	ok(ig_verify_hub_signature(hdr, body, strlen(body), "s3cret", 6), "valid sha256 signature");
	ok(!ig_verify_hub_signature(hdr, body, strlen(body), "other", 5), "wrong secret rejected");
	ok(!ig_verify_hub_signature(hdr, body, strlen(body) - 1, "s3cret", 6), "changed body rejected");
	hdr[20] = hdr[20] == 'a' ? 'b' : 'a';
	ok(!ig_verify_hub_signature(hdr, body, strlen(body), "s3cret", 6), "flipped digit rejected");
	ok(!ig_verify_hub_signature("sha256=abc", body, strlen(body), "s3cret", 6), "short digest rejected");
	snprintf(hdr, sizeof(hdr), "sha256=%sff", hex);
	ok(!ig_verify_hub_signature(hdr, body, strlen(body), "s3cret", 6), "long digest rejected");
	ok(!ig_verify_hub_signature(NULL, body, strlen(body), "s3cret", 6), "missing header rejected");
	ok(!ig_verify_hub_signature(hex, body, strlen(body), "s3cret", 6), "header without sha256= rejected");
	for (size_t i = 0; hex[i]; i++)
		if (hex[i] >= 'a')
			hex[i] = (char)(hex[i] - 'a' + 'A');
	snprintf(hdr, sizeof(hdr), "sha256=%s", hex);
	ok(ig_verify_hub_signature(hdr, body, strlen(body), "s3cret", 6), "upper-case hex accepted");
	ig_hmac_sha1("s3cret", 6, body, strlen(body), mac1);
	ig_hex(mac1, 20, hex);
	snprintf(hdr, sizeof(hdr), "sha1=%s", hex);
	ok(ig_verify_hub_signature(hdr, body, strlen(body), "s3cret", 6), "legacy sha1 signature verifies");
}

static void seal(void)
{
	struct ig_keyring kr, old, both;
	unsigned char k1[32], k2[32], *blob, *blob2;
	size_t n, n2, ptn;
	char *pt, id[17];
	struct ig_err err = { 0 };

	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));
	ig_keyring_init(&kr);
	ig_keyring_add(&kr, k1);
	ok(ig_seal(&kr, "accounts:1:access_token", "IGAAsecret", 10, &blob, &n, &err) == 0, "seal");
	is_int(n, 10 + IG_SEAL_OVERHEAD, "sealed size is plaintext + overhead");
	ok(memmem(blob, n, "IGAAsecret", 10) == NULL, "plaintext not in the sealed blob");
	ok(ig_open(&kr, "accounts:1:access_token", blob, n, &pt, &ptn, &err) == 0, "open");
	is_str(pt, "IGAAsecret", "round trip");
	ig_wipe_free(pt);
	is_int(ig_open(&kr, "accounts:2:access_token", blob, n, &pt, &ptn, &err), IG_EX_DATAERR,
	       "wrong AAD (another row) refused");
	ok(pt == NULL, "nothing returned on failure");
	blob[n - 20] ^= 1;
	is_int(ig_open(&kr, "accounts:1:access_token", blob, n, &pt, &ptn, &err), IG_EX_DATAERR,
	       "tampered ciphertext refused");
	blob[n - 20] ^= 1;
	blob[n - 1] ^= 0x80;
	is_int(ig_open(&kr, "accounts:1:access_token", blob, n, &pt, &ptn, &err), IG_EX_DATAERR,
	       "tampered tag refused");
	blob[n - 1] ^= 0x80;
	is_int(ig_open(&kr, "accounts:1:access_token", blob, 20, &pt, &ptn, &err), IG_EX_DATAERR,
	       "truncated blob refused");
	ok(ig_seal(&kr, "a", "same", 4, &blob2, &n2, &err) == 0 && memcmp(blob + 11, blob2 + 11, 12),
	   "fresh nonce per seal");
	free(blob2);

	/* Rotation: sealed under k1; a keyring with only k2 cannot open it and
	 * says which key it needs; a keyring (k2 current, k1 previous) can. */
	ig_keyring_init(&old);
	ig_keyring_add(&old, k2);
	is_int(ig_open(&old, "accounts:1:access_token", blob, n, &pt, &ptn, &err), IG_EX_CONFIG,
	       "unknown key id → configuration error");
	ok(strstr(err.msg, "not loaded") != NULL, "message names the missing key: %s", err.msg);
	ig_keyring_init(&both);
	ig_keyring_add(&both, k2);
	ig_keyring_add(&both, k1);
	ok(ig_open(&both, "accounts:1:access_token", blob, n, &pt, &ptn, &err) == 0,
	   "previous key still opens during rotation");
	ig_wipe_free(pt);
	ok(ig_seal(&both, "x", "v", 1, &blob2, &n2, &err) == 0, "reseal under the current key");
	ok(ig_sealed_keyid(blob2, n2, id) == 0, "key id readable");
	{
		char want[17];

		ig_hex(both.keys[0].id, 8, want);
		is_str(id, want, "new seals carry the current key id");
	}
	free(blob2);
	free(blob);
	ig_keyring_clear(&kr);
	ig_keyring_clear(&old);
	ig_keyring_clear(&both);
}

static void b64(void)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
	};
	unsigned char bin[] = { 0xfb, 0xff, 0xfe };
	unsigned char *d;
	char *e;
	size_t i, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		e = ig_b64url_encode(v[i].in, strlen(v[i].in));
		is_str(e, v[i].out, "encode '%s' (RFC 4648 vector, unpadded)", v[i].in);
		free(e);
		d = ig_b64url_decode(v[i].out, strlen(v[i].out), &n);
		ok(d && n == strlen(v[i].in) && !memcmp(d, v[i].in, n), "decode '%s'", v[i].out);
		free(d);
	}
	e = ig_b64url_encode(bin, 3);
	is_str(e, "-__-", "url alphabet uses - and _");
	free(e);
	d = ig_b64url_decode("+//+", 4, &n);
	ok(d && n == 3 && !memcmp(d, bin, 3), "standard alphabet accepted on decode");
	free(d);
	d = ig_b64url_decode("Zg==", 4, &n);
	ok(d && n == 1 && d[0] == 'f', "padding accepted on decode");
	free(d);
	ok(ig_b64url_decode("Zg===", 5, &n) == NULL, "too much padding refused");
	ok(ig_b64url_decode("Z", 1, &n) == NULL, "impossible length refused");
	ok(ig_b64url_decode("Zh", 2, &n) == NULL, "non-zero trailing bits refused");
	ok(ig_b64url_decode("Zm9v!", 5, &n) == NULL, "invalid character refused");
}

static void files(void)
{
	char dir[] = "/tmp/igkit-t-crypto.XXXXXX", path[128], *s;
	struct ig_keyring kr;
	struct ig_err err = { 0 };
	struct stat sb;
	FILE *f;

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/sub/master.key", dir);
	is_int(ig_key_create(path, &err), 0, "key file created");
	ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600 && sb.st_size == 32,
	   "key file is 32 bytes, mode 0600");
	is_int(ig_key_create(path, &err), IG_EX_CANTCREAT, "an existing key is never overwritten");
	ig_keyring_init(&kr);
	is_int(ig_key_load(&kr, path, &err), 0, "key loads");
	is_int(kr.n, 1, "keyring holds it");
	chmod(path, 0644);
	ig_keyring_clear(&kr);
	is_int(ig_key_load(&kr, path, &err), IG_EX_NOPERM, "0644 key file refused");
	ok(strstr(err.msg, "chmod 600") != NULL, "message says how to fix: %s", err.msg);
	unlink(path);
	is_int(ig_key_load(&kr, path, &err), IG_EX_NOINPUT, "missing key file → 66");
	ok(strstr(err.msg, "tenant-admin init") != NULL, "message hints at init");
	f = fopen(path, "w");
	fputs("short", f);
	fclose(f);
	chmod(path, 0600);
	is_int(ig_key_load(&kr, path, &err), IG_EX_DATAERR, "wrong-size key refused");
	unlink(path);

	snprintf(path, sizeof(path), "%s/secret", dir);
	f = fopen(path, "w");
	fputs("app-secret\n", f);
	fclose(f);
	chmod(path, 0600);
	is_int(ig_secret_file_read(path, &s, &err), 0, "secret file read");
	is_str(s, "app-secret", "newline stripped");
	ig_wipe_free(s);
	chmod(path, 0640);
	is_int(ig_secret_file_read(path, &s, &err), IG_EX_NOPERM, "group-readable secret refused");
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
	ig_keyring_clear(&kr);

	s = ig_mask("IGAAabcdefghijklmnopXYZ");
	is_str(s, "IGAA…XYZ", "token masked to first 4 and last 3");
	free(s);
	s = ig_mask("short");
	is_str(s, "****", "short secrets fully masked");
	free(s);
	s = ig_random_id(16);
	ok(s && strlen(s) == 22, "random id of 16 bytes is 22 base64url characters");
	free(s);
}

int main(void)
{
	digests();
	rfc4231();
	hmac_cache();
	rfc4231();      /* again, from the cache */
	hub_signature();
	seal();
	b64();
	files();
	return done_testing();
}
