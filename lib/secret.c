/*
 * secret.c — the half of crypto.h that needs no OpenSSL: SHA-256 and SHA-1
 * (FIPS 180-4), HMAC (RFC 2104), Meta's hub signatures, constant-time
 * compare, hex, secret files, the master key file and keyring, wiping.
 *
 * Why not libcrypto: ig-route runs as CGI, one process per delivery, and
 * must answer within 10 ms.  Loading libcrypto.so costs 1.5 to 2 ms of
 * start-up on the reference machine, and the first EVP call another 1.6 ms
 * (the default provider's activation).  Nothing else on ig-route's path
 * needs OpenSSL, so with these functions in their own object it never
 * loads it (tests/cli/docs.t checks).  Sealing, random numbers and key
 * files stay in crypto.c, on OpenSSL.  t-crypto holds these digests to
 * the NIST and RFC vectors and to OpenSSL's results.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"

/* ------------------------------------------------------------ digests */

struct md {
	uint32_t h[8];
	uint64_t total;                 /* bytes absorbed */
	unsigned char buf[64];
	size_t used;
	void (*blocks)(uint32_t *h, const unsigned char *p, size_t n);
	size_t outlen;                  /* 32 or 20 */
};

#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))
#define ROL(x, n) ((x) << (n) | (x) >> (32 - (n)))

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const uint32_t K256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static void sha256_blocks(uint32_t *h, const unsigned char *p, size_t n)
{
	uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
	int i;

	for (; n; n--, p += 64) {
		for (i = 0; i < 16; i++)
			w[i] = be32(p + 4 * i);
		for (; i < 64; i++)
			w[i] = (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10)) + w[i - 7]
			       + (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 16];
		a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
		for (i = 0; i < 64; i++) {
			t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
			t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
			k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
		}
		h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
	}
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/*
 * The same with the SHA extensions (Intel SHA-NI, AMD since Zen): about
 * ten times faster, which matters once per delivery in pipe mode.  The
 * state is kept as ABEF / CDGH for sha256rnds2; each step does 4 rounds.
 */
#include <cpuid.h>
#include <immintrin.h>

__attribute__((target("sha,ssse3,sse4.1")))
static void sha256_blocks_ni(uint32_t *h, const unsigned char *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i s0, s1, t, w[4], m, abef, cdgh;
	int i;

	t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1);    /* CDAB */
	s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B);   /* EFGH */
	s0 = _mm_alignr_epi8(t, s1, 8);                                          /* ABEF */
	s1 = _mm_blend_epi16(s1, t, 0xF0);                                       /* CDGH */
	for (; n; n--, p += 64) {
		abef = s0;
		cdgh = s1;
		/* unrolled, so that w[] lives in registers */
#pragma GCC unroll 16
		for (i = 0; i < 16; i++) {
			if (i < 4) {
				w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
			} else {
				/* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at once */
				t = _mm_alignr_epi8(w[(i - 1) & 3], w[(i - 2) & 3], 4);
				t = _mm_add_epi32(_mm_sha256msg1_epu32(w[i & 3], w[(i - 3) & 3]), t);
				w[i & 3] = _mm_sha256msg2_epu32(t, w[(i - 1) & 3]);
			}
			m = _mm_add_epi32(w[i & 3], _mm_loadu_si128((const __m128i *)&K256[4 * i]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, m);
			s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
		}
		s0 = _mm_add_epi32(s0, abef);
		s1 = _mm_add_epi32(s1, cdgh);
	}
	t = _mm_shuffle_epi32(s0, 0x1B);                                         /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xB1);                                        /* DCHG */
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(t, s1, 0xF0));        /* DCBA */
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(s1, t, 8));           /* HGFE */
}

static int cpu_has_sha(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
		return 0;
	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
}
#endif

static void (*sha256_impl)(uint32_t *, const unsigned char *, size_t);

void ig_sha256_portable(int on)
{
	sha256_impl = sha256_blocks;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (!on && cpu_has_sha())
		sha256_impl = sha256_blocks_ni;
#endif
}

static void sha256_dispatch(uint32_t *h, const unsigned char *p, size_t n)
{
	if (!sha256_impl)
		ig_sha256_portable(0);
	sha256_impl(h, p, n);
}

static void sha1_blocks(uint32_t *h, const unsigned char *p, size_t n)
{
	uint32_t w[80], a, b, c, d, e, t;
	int i;

	for (; n; n--, p += 64) {
		for (i = 0; i < 16; i++)
			w[i] = be32(p + 4 * i);
		for (; i < 80; i++)
			w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
		a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
		for (i = 0; i < 80; i++) {
			uint32_t fk = i < 20 ? ((b & c) | (~b & d)) + 0x5a827999
				    : i < 40 ? (b ^ c ^ d) + 0x6ed9eba1
				    : i < 60 ? ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc
				    : (b ^ c ^ d) + 0xca62c1d6;

			t = ROL(a, 5) + fk + e + w[i];
			e = d, d = c, c = ROL(b, 30), b = a, a = t;
		}
		h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
	}
}

static void md_init_sha256(struct md *m)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memset(m, 0, sizeof(*m));
	memcpy(m->h, iv, sizeof(iv));
	m->blocks = sha256_dispatch;
	m->outlen = 32;
}

static void md_init_sha1(struct md *m)
{
	static const uint32_t iv[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };

	memset(m, 0, sizeof(*m));
	memcpy(m->h, iv, sizeof(iv));
	m->blocks = sha1_blocks;
	m->outlen = 20;
}

static void md_update(struct md *m, const void *data, size_t len)
{
	const unsigned char *p = data;

	m->total += len;
	if (m->used) {
		size_t take = 64 - m->used < len ? 64 - m->used : len;

		memcpy(m->buf + m->used, p, take);
		m->used += take;
		p += take;
		len -= take;
		if (m->used < 64)
			return;
		m->blocks(m->h, m->buf, 1);
		m->used = 0;
	}
	if (len >= 64) {
		m->blocks(m->h, p, len / 64);
		p += len / 64 * 64;
		len %= 64;
	}
	memcpy(m->buf, p, len);
	m->used = len;
}

static void md_final(struct md *m, unsigned char *out)
{
	uint64_t bits = m->total * 8;
	size_t i;

	m->buf[m->used++] = 0x80;
	if (m->used > 56) {
		memset(m->buf + m->used, 0, 64 - m->used);
		m->blocks(m->h, m->buf, 1);
		m->used = 0;
	}
	memset(m->buf + m->used, 0, 56 - m->used);
	for (i = 0; i < 8; i++)
		m->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	m->blocks(m->h, m->buf, 1);
	for (i = 0; i < m->outlen / 4; i++) {
		out[4 * i] = (unsigned char)(m->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(m->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(m->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)m->h[i];
	}
	explicit_bzero(m, sizeof(*m));
}

void ig_sha256(const void *msg, size_t len, unsigned char out[32])
{
	struct md m;

	md_init_sha256(&m);
	md_update(&m, msg, len);
	md_final(&m, out);
}

/* ------------------------------------------------------------ HMAC */

/* The inner and outer states after absorbing key ^ ipad and key ^ opad. */
static void hmac_pads(struct md *inner, struct md *outer, void (*init)(struct md *),
		      const void *key, size_t keylen)
{
	unsigned char block[64], pad[64];
	int i;

	memset(block, 0, sizeof(block));
	if (keylen > sizeof(block)) {
		init(inner);
		md_update(inner, key, keylen);
		md_final(inner, block);
	} else if (keylen) {
		memcpy(block, key, keylen);
	}
	for (i = 0; i < 64; i++)
		pad[i] = block[i] ^ 0x36;
	init(inner);
	md_update(inner, pad, 64);
	for (i = 0; i < 64; i++)
		pad[i] = block[i] ^ 0x5c;
	init(outer);
	md_update(outer, pad, 64);
	explicit_bzero(block, sizeof(block));
	explicit_bzero(pad, sizeof(pad));
}

static void hmac_finish(const struct md *inner, const struct md *outer, const void *msg,
			size_t len, unsigned char *out)
{
	struct md c = *inner;

	md_update(&c, msg, len);
	md_final(&c, out);
	c = *outer;
	md_update(&c, out, c.outlen);
	md_final(&c, out);
}

/*
 * ig-route signs every delivery with one of a few webhook secrets (several
 * during a rotation): the pads of the last four keys are kept.  The
 * programs are single-threaded.
 */
#define MAC_CACHE 4
static struct {
	struct md inner, outer;
	size_t len;
	unsigned char key[128];
	unsigned long used;
} mac_cache[MAC_CACHE];
static unsigned long mac_tick;

void ig_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
		    unsigned char out[32])
{
	struct md inner, outer;
	int i, lru = 0;

	for (i = 0; i < MAC_CACHE; i++) {
		if (mac_cache[i].used && mac_cache[i].len == keylen
		    && !memcmp(mac_cache[i].key, key, keylen)) {
			mac_cache[i].used = ++mac_tick;
			hmac_finish(&mac_cache[i].inner, &mac_cache[i].outer, msg, len, out);
			return;
		}
		if (mac_cache[i].used < mac_cache[lru].used)
			lru = i;
	}
	if (keylen > sizeof(mac_cache[0].key)) {
		hmac_pads(&inner, &outer, md_init_sha256, key, keylen);
		hmac_finish(&inner, &outer, msg, len, out);
		explicit_bzero(&inner, sizeof(inner));
		explicit_bzero(&outer, sizeof(outer));
		return;
	}
	hmac_pads(&mac_cache[lru].inner, &mac_cache[lru].outer, md_init_sha256, key, keylen);
	memcpy(mac_cache[lru].key, key, keylen);
	mac_cache[lru].len = keylen;
	mac_cache[lru].used = ++mac_tick;
	hmac_finish(&mac_cache[lru].inner, &mac_cache[lru].outer, msg, len, out);
}

void ig_hmac_sha1(const void *key, size_t keylen, const void *msg, size_t len,
		  unsigned char out[20])
{
	struct md inner, outer;

	hmac_pads(&inner, &outer, md_init_sha1, key, keylen);
	hmac_finish(&inner, &outer, msg, len, out);
	explicit_bzero(&inner, sizeof(inner));
	explicit_bzero(&outer, sizeof(outer));
}

/* ------------------------------------------------------------ compare, hex */

int ig_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
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

/* The value of each hex digit plus one; 0 for every other byte. */
static const unsigned char hex1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
	['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
	['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static int hexval(int c)
{
	return (int)hex1[c & 0xff] - 1;
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

/* ------------------------------------------------------------ secrets */

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
	explicit_bzero(kr, sizeof(*kr));
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
	if ((rc = ig_file_private(path, fd, err))) {
		close(fd);
		return rc;
	}
	n = read(fd, key, sizeof(key));
	close(fd);
	if (n != IG_KEY_LEN) {
		explicit_bzero(key, sizeof(key));
		return ig_err_set(err, IG_EX_DATAERR,
			"master key '%s' must hold exactly %d bytes", path, IG_KEY_LEN);
	}
	ig_keyring_add(kr, key);
	explicit_bzero(key, sizeof(key));
	return 0;
}


int ig_file_private(const char *path, int fd, struct ig_err *err)
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

void ig_wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
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
	if ((rc = ig_file_private(path, fd, err))) {
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
		explicit_bzero(buf, sizeof(buf));
		return ig_err_set(err, IG_EX_CONFIG, "secret file '%s' is empty", path);
	}
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *out ? 0 : ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
}
