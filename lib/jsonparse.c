/*
 * lib/jsonparse.c — ig_json_parse() (declared in lib/jsonio.h): a strict
 * recursive-descent JSON parser over a memory buffer that builds jansson
 * values.
 *
 * Why: json_loadb() reads its input through a per-character stream (a UTF-8
 * check, a position update and a saved-text append for every byte) and scans
 * every string twice.  ig-route's pipe mode parses each envelope line and
 * then the body inside it, and spent over a third of its instructions there.
 * This parser walks the buffer once, skips the plain bytes of a string with a
 * table, takes a string without escapes straight from the input, and builds
 * the very same json_t values through jansson's public API, so no caller can
 * tell the difference.
 *
 * What it accepts is what json_loadb(buf, len, JSON_REJECT_DUPLICATES |
 * JSON_ALLOW_NUL) accepts — tests/unit/t-jsonparse.c holds it to that with a
 * differential test — with one deliberate exception: jansson's stream cannot
 * give back a NUL byte it has peeked at, so it silently drops one raw NUL
 * right after a number or a literal ("[1\0]" loads as [1]).  Here a raw NUL
 * outside a string is an error like any other stray byte.
 *
 * The rules, as jansson 2.14 has them:
 *   - the top level is an object or an array; whitespace is space, \t, \n,
 *     \r; nothing may follow the value;
 *   - strings are valid UTF-8 (no overlong forms, no surrogates, nothing
 *     above U+10FFFF), without raw control characters; \u escapes pair
 *     surrogates or fail; \u0000 is kept in values (json_stringn) but refused
 *     in keys;
 *   - numbers follow the JSON grammar; without '.', 'e' or 'E' they are
 *     integers and must fit json_int_t ("-0" is the integer 0); otherwise
 *     strtod, and an overflow to infinity is an error;
 *   - duplicate keys are an error; every value, scalars included, counts
 *     towards the nesting limit JSON_PARSER_MAX_DEPTH (2048).
 *
 * Error messages: "invalid JSON at column N: <what>", N the 1-based byte
 * column of the offending byte within its line.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonio.h"

#ifdef JSON_PARSER_MAX_DEPTH
#define MAX_DEPTH JSON_PARSER_MAX_DEPTH
#else
#define MAX_DEPTH 2048
#endif

_Static_assert(sizeof(json_int_t) == 8, "json_int_t is expected to be 64 bits");
#define INT_MAX_MAG 9223372036854775807ULL  /* the largest json_int_t */

struct jp {
	const unsigned char *p;      /* the next byte */
	const unsigned char *end;
	const unsigned char *start;  /* for columns */
	struct ig_err *err;
	size_t depth;                /* values open, as jansson counts them */
	int nul;                     /* a string value held \u0000 */
	/*
	 * Scratch: the decoded keys of the objects being parsed, stacked (each
	 * waits there, NUL-terminated, while its value is parsed), then above
	 * jp->top the string being decoded or the number being converted.
	 * Starts in small, moves to the heap when it outgrows it.
	 */
	char *buf;
	size_t cap;
	size_t top;
	char small[512];
};

/*
 * Bytes a string can hold without a second look: 0.  '"' 1, '\\' 2, control
 * characters 3, the bytes of a multi-byte UTF-8 sequence 4.
 */
static const unsigned char str_class[256] = {
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,  /* 0x00 */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,  /* 0x10 */
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x20 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x30 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x40 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,  /* 0x50 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x60 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x70 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0x80 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0x90 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0xa0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0xb0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0xc0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0xd0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0xe0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* 0xf0 */
};

/* ------------------------------------------------------------ errors */

static void fail(struct jp *jp, const unsigned char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct jp *jp, const unsigned char *at, const char *fmt, ...)
{
	const unsigned char *line = at;
	char text[128];
	va_list ap;

	if (!jp->err)
		return;
	while (line > jp->start && line[-1] != '\n')
		line--;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ig_err_set(jp->err, IG_EX_DATAERR, "invalid JSON at column %zu: %s",
		   (size_t)(at - line) + 1, text);
}

/* "X expected", or that the input ended where X was expected. */
static void expected(struct jp *jp, const char *what)
{
	fail(jp, jp->p, "%s expected%s", what, jp->p == jp->end ? " near end of input" : "");
}

static void oom(struct jp *jp)
{
	ig_err_set(jp->err, IG_EX_SOFTWARE, "out of memory parsing JSON");
}

/* ------------------------------------------------------------ scratch */

static int grow(struct jp *jp, size_t used, size_t n)
{
	size_t cap = jp->cap;
	char *b;

	if (used > SIZE_MAX / 4 || n > SIZE_MAX / 4 - used) {
		oom(jp);
		return -1;
	}
	while (cap < used + n)
		cap *= 2;
	if (jp->buf == jp->small) {
		b = malloc(cap);
		if (b)
			memcpy(b, jp->small, used);
	} else {
		b = realloc(jp->buf, cap);
	}
	if (!b) {
		oom(jp);
		return -1;
	}
	jp->buf = b;
	jp->cap = cap;
	return 0;
}

/* Room for n more bytes after the first used ones of the scratch. */
static inline int reserve(struct jp *jp, size_t used, size_t n)
{
	return n <= jp->cap - used ? 0 : grow(jp, used, n);
}

/* ------------------------------------------------------------ lexing */

/* The first byte at or after p that a string cannot just skip, or end. */
static inline const unsigned char *skip_plain(const unsigned char *p, const unsigned char *end)
{
	while (end - p >= 4) {
		if (str_class[p[0]])
			return p;
		if (str_class[p[1]])
			return p + 1;
		if (str_class[p[2]])
			return p + 2;
		if (str_class[p[3]])
			return p + 3;
		p += 4;
	}
	while (p < end && !str_class[*p])
		p++;
	return p;
}

static inline const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
	while (p < end && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

static inline int is_digit(unsigned c)
{
	return c - '0' < 10;
}

/* Length of the well-formed UTF-8 sequence that starts at p (a byte >= 0x80),
 * or 0: not a lead byte, overlong, a surrogate, above U+10FFFF, or cut
 * short by the end of the buffer. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t avail = (size_t)(end - p);
	unsigned c = p[0];

	if (c < 0xc2)           /* a continuation byte, or C0/C1 (overlong) */
		return 0;
	if (c < 0xe0)
		return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		if (avail < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && p[1] < 0xa0)     /* overlong */
		    || (c == 0xed && p[1] >= 0xa0)) /* U+D800..U+DFFF */
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (avail < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80
		    || (p[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && p[1] < 0x90)     /* overlong */
		    || (c == 0xf4 && p[1] >= 0x90)) /* above U+10FFFF */
			return 0;
		return 4;
	}
	return 0;
}

/* The four hex digits at p (bounds checked), or -1. */
static long hex4(const unsigned char *p, const unsigned char *end)
{
	long v = 0;
	int i;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		unsigned c = p[i];

		if (is_digit(c))
			c -= '0';
		else if ((c | 0x20) - 'a' < 6)
			c = (c | 0x20) - 'a' + 10;
		else
			return -1;
		v = v << 4 | (long)c;
	}
	return v;
}

/*
 * The escape at *pp (its backslash) → its UTF-8 bytes at out (at most 4);
 * *pp moves past it.  Returns how many bytes, or -1 (error set).  *nul is set
 * when it was \u0000.
 */
static int unescape(struct jp *jp, const unsigned char **pp, char *out, int *nul)
{
	const unsigned char *p = *pp, *end = jp->end;
	long cp, lo;

	if (end - p < 2) {
		fail(jp, p, "premature end of input");
		return -1;
	}
	*pp = p + 2;
	switch (p[1]) {
	case '"': case '\\': case '/':
		*out = (char)p[1];
		return 1;
	case 'b': *out = '\b'; return 1;
	case 'f': *out = '\f'; return 1;
	case 'n': *out = '\n'; return 1;
	case 'r': *out = '\r'; return 1;
	case 't': *out = '\t'; return 1;
	case 'u': break;
	default:
		fail(jp, p, "invalid escape");
		return -1;
	}
	cp = hex4(p + 2, end);
	if (cp < 0) {
		fail(jp, p, "invalid escape");
		return -1;
	}
	p += 6;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		/* must be the first half of a pair */
		if (end - p < 2 || p[0] != '\\' || p[1] != 'u') {
			fail(jp, p - 6, "invalid Unicode '\\u%04lX'", cp);
			return -1;
		}
		lo = hex4(p + 2, end);
		if (lo < 0) {
			fail(jp, p, "invalid escape");
			return -1;
		}
		if (lo < 0xdc00 || lo > 0xdfff) {
			fail(jp, p - 6, "invalid Unicode '\\u%04lX\\u%04lX'", cp, lo);
			return -1;
		}
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		p += 6;
	} else if (cp >= 0xdc00 && cp <= 0xdfff) {
		fail(jp, p - 6, "invalid Unicode '\\u%04lX'", cp);
		return -1;
	}
	*pp = p;
	if (cp < 0x80) {
		*nul |= cp == 0;
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * The string whose opening quote is at jp->p → *s, *n; jp->p moves past its
 * closing quote.  The bytes up to from are known to be plain.  Returns 0 when
 * *s points into the input (no escapes, and copy not asked for), 1 when it is
 * decoded into the scratch at jp->top and NUL-terminated (jp->top itself
 * stays: the caller decides whether to keep it), -1 on error (set).  *nul is
 * set when the content holds a NUL.
 */
static int scan_string_from(struct jp *jp, const unsigned char *from, int copy,
			    const char **s, size_t *n, int *nul)
{
	const unsigned char *p = from, *end = jp->end, *run = jp->p + 1;
	size_t d = jp->top;  /* where decoded bytes go */
	int decoding = copy;

	for (;;) {
		size_t k;
		int w;

		p = skip_plain(p, end);
		if (p == end) {
			fail(jp, p, "premature end of input");
			return -1;
		}
		switch (str_class[*p]) {
		case 1:  /* the closing quote */
			k = (size_t)(p - run);
			jp->p = p + 1;
			if (!decoding) {
				*s = (const char *)run;
				*n = k;
				return 0;
			}
			if (reserve(jp, d, k + 1))
				return -1;
			memcpy(jp->buf + d, run, k);
			d += k;
			jp->buf[d] = '\0';
			*s = jp->buf + jp->top;
			*n = d - jp->top;
			return 1;
		case 2:  /* an escape */
			k = (size_t)(p - run);
			if (reserve(jp, d, k + 4))
				return -1;
			memcpy(jp->buf + d, run, k);
			d += k;
			decoding = 1;
			w = unescape(jp, &p, jp->buf + d, nul);
			if (w < 0)
				return -1;
			d += (size_t)w;
			run = p;
			break;
		case 3:
			if (*p == '\n')
				fail(jp, p, "unexpected newline");
			else
				fail(jp, p, "control character 0x%x", *p);
			return -1;
		default:
			k = utf8_len(p, end);
			if (!k) {
				fail(jp, p, "unable to decode byte 0x%x", *p);
				return -1;
			}
			p += k;
			break;
		}
	}
}

/* scan_string_from() with the common case inline: plain bytes to the quote. */
static inline int scan_string(struct jp *jp, int copy, const char **s, size_t *n, int *nul)
{
	const unsigned char *q = skip_plain(jp->p + 1, jp->end);

	*nul = 0;
	if (!copy && q < jp->end && *q == '"') {
		*s = (const char *)jp->p + 1;
		*n = (size_t)(q - jp->p - 1);
		jp->p = q + 1;
		return 0;
	}
	return scan_string_from(jp, q, copy, s, n, nul);
}

/* ------------------------------------------------------------ values */

static json_t *parse_value(struct jp *jp);

static json_t *parse_string(struct jp *jp)
{
	const char *s;
	size_t n;
	int nul;
	json_t *v;

	if (scan_string(jp, 0, &s, &n, &nul) < 0)
		return NULL;
	jp->nul |= nul;
	v = json_stringn_nocheck(s, n);
	if (!v)
		oom(jp);
	return v;
}

static json_t *parse_number(struct jp *jp)
{
	const unsigned char *p = jp->p, *end = jp->end, *first = p, *digits;
	unsigned long long m = 0;
	int neg = 0, real = 0;
	size_t nd;
	json_t *v;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	digits = p;
	if (p == end || !is_digit(*p))
		goto bad;
	if (*p == '0') {
		if (++p < end && is_digit(*p))
			goto bad;  /* no leading zeros */
	} else {
		do
			m = m * 10 + (unsigned)(*p++ - '0');  /* wraps past 19 digits: see nd */
		while (p < end && is_digit(*p));
	}
	nd = (size_t)(p - digits);
	if (p < end && *p == '.') {
		if (++p == end || !is_digit(*p))
			goto bad;
		while (++p < end && is_digit(*p))
			;
		real = 1;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit(*p))
			goto bad;
		while (++p < end && is_digit(*p))
			;
		real = 1;
	}
	jp->p = p;

	if (!real) {
		/* 19 digits always fit in 64 unsigned bits; 20 never fit 63 */
		if (nd > 19 || m > INT_MAX_MAG + (unsigned)neg) {
			fail(jp, first, neg ? "too big negative integer" : "too big integer");
			return NULL;
		}
		if (neg && m)
			v = json_integer(-(json_int_t)(m - 1) - 1);
		else
			v = json_integer((json_int_t)m);
	} else {
		size_t len = (size_t)(p - first);
		char *text;
		double x;

		if (reserve(jp, jp->top, len + 1))
			return NULL;
		text = jp->buf + jp->top;
		memcpy(text, first, len);
		text[len] = '\0';
		errno = 0;
		x = strtod(text, NULL);
		if ((x == HUGE_VAL || x == -HUGE_VAL) && errno == ERANGE) {
			fail(jp, first, "real number overflow");
			return NULL;
		}
		v = json_real(x);
	}
	if (!v)
		oom(jp);
	return v;
bad:
	fail(jp, first, "invalid token");
	return NULL;
}

/* true, false, null: v is jansson's singleton. */
static json_t *parse_literal(struct jp *jp, const char *word, size_t n, json_t *v)
{
	const unsigned char *p = jp->p;
	size_t avail = (size_t)(jp->end - p);

	/* jansson reads a whole word of letters: "truex" is one bad token */
	if (avail < n || memcmp(p, word, n)
	    || (avail > n && (unsigned)(p[n] | 0x20) - 'a' < 26)) {
		fail(jp, p, "invalid token");
		return NULL;
	}
	jp->p = p + n;
	return v;
}

/*
 * jansson 2.14 takes a key with its length: a key without escapes goes
 * straight from the input.  Before, keys are NUL-terminated copies in the
 * scratch.
 */
#if JANSSON_VERSION_HEX >= 0x020e00
#define KEY_COPY 0
static inline int set_key(json_t *obj, const char *key, size_t klen, json_t *v)
{
	return json_object_setn_new_nocheck(obj, key, klen, v);
}
#else
#define KEY_COPY 1
static inline int set_key(json_t *obj, const char *key, size_t klen, json_t *v)
{
	return json_object_set_new_nocheck(obj, key, v);
}
#endif

static json_t *parse_object(struct jp *jp)
{
	json_t *obj = json_object(), *v;
	const unsigned char *end = jp->end, *at;
	size_t base = jp->top, n = 0;

	if (!obj) {
		oom(jp);
		return NULL;
	}
	jp->p = skip_ws(jp->p + 1, end);
	if (jp->p < end && *jp->p == '}') {
		jp->p++;
		return obj;
	}
	for (;;) {
		const char *key;
		size_t klen;
		int nul, kept;

		at = jp->p;
		if (at == end || *at != '"') {
			expected(jp, "string or '}'");
			goto fail;
		}
		kept = scan_string(jp, KEY_COPY, &key, &klen, &nul);
		if (kept < 0)
			goto fail;
		if (nul) {
			fail(jp, at, "NUL byte in object key not supported");
			goto fail;
		}
		if (kept)
			jp->top = base + klen + 1;  /* the key waits there */
		jp->p = skip_ws(jp->p, end);
		if (jp->p == end || *jp->p != ':') {
			expected(jp, "':'");
			goto fail;
		}
		jp->p = skip_ws(jp->p + 1, end);
		v = parse_value(jp);
		if (!v)
			goto fail;
		if (kept)
			key = jp->buf + base;  /* the scratch may have moved */
		if (set_key(obj, key, klen, v)) {
			oom(jp);
			goto fail;
		}
		/* a key seen before replaced its value instead of adding one */
		if (json_object_size(obj) == n) {
			fail(jp, at, "duplicate object key");
			goto fail;
		}
		n++;
		jp->top = base;
		jp->p = skip_ws(jp->p, end);
		if (jp->p < end && *jp->p == ',') {
			jp->p = skip_ws(jp->p + 1, end);
			continue;
		}
		if (jp->p < end && *jp->p == '}') {
			jp->p++;
			return obj;
		}
		expected(jp, "'}'");
		goto fail;
	}
fail:
	jp->top = base;
	json_decref(obj);
	return NULL;
}

static json_t *parse_array(struct jp *jp)
{
	json_t *arr = json_array(), *v;
	const unsigned char *end = jp->end;

	if (!arr) {
		oom(jp);
		return NULL;
	}
	jp->p = skip_ws(jp->p + 1, end);
	if (jp->p < end && *jp->p == ']') {
		jp->p++;
		return arr;
	}
	for (;;) {
		v = parse_value(jp);
		if (!v)
			goto fail;
		if (json_array_append_new(arr, v)) {
			oom(jp);
			goto fail;
		}
		jp->p = skip_ws(jp->p, end);
		if (jp->p < end && *jp->p == ',') {
			jp->p = skip_ws(jp->p + 1, end);
			continue;
		}
		if (jp->p < end && *jp->p == ']') {
			jp->p++;
			return arr;
		}
		expected(jp, "']'");
		goto fail;
	}
fail:
	json_decref(arr);
	return NULL;
}

/* The value at jp->p (whitespace already skipped). */
static json_t *parse_value(struct jp *jp)
{
	json_t *v;

	/* as jansson: every value counts, so "[[...[1]...]]" with 2048
	 * brackets is one too deep, with 2048 and no 1 it is not */
	if (++jp->depth > MAX_DEPTH) {
		fail(jp, jp->p, "maximum parsing depth reached");
		return NULL;
	}
	if (jp->p == jp->end) {
		fail(jp, jp->p, "premature end of input");
		return NULL;
	}
	switch (*jp->p) {
	case '{':
		v = parse_object(jp);
		break;
	case '[':
		v = parse_array(jp);
		break;
	case '"':
		v = parse_string(jp);
		break;
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		v = parse_number(jp);
		break;
	case 't':
		v = parse_literal(jp, "true", 4, json_true());
		break;
	case 'f':
		v = parse_literal(jp, "false", 5, json_false());
		break;
	case 'n':
		v = parse_literal(jp, "null", 4, json_null());
		break;
	case ']': case '}': case ',': case ':':
		fail(jp, jp->p, "unexpected token");
		return NULL;
	default:
		fail(jp, jp->p, "invalid token");
		return NULL;
	}
	if (v)
		jp->depth--;
	return v;
}

json_t *ig_json_parse(const char *buf, size_t len, struct ig_err *err)
{
	return ig_json_parse_nul(buf, len, NULL, err);
}

json_t *ig_json_parse_nul(const char *buf, size_t len, int *nul, struct ig_err *err)
{
	struct jp jp;
	json_t *v = NULL;

	if (nul)
		*nul = 0;

	if (!buf) {
		ig_err_set(err, IG_EX_DATAERR, "invalid JSON at column 1: no input");
		return NULL;
	}
	jp.start = (const unsigned char *)buf;
	jp.end = jp.start + len;
	jp.err = err;
	jp.depth = 0;
	jp.nul = 0;
	jp.buf = jp.small;
	jp.cap = sizeof(jp.small);
	jp.top = 0;

	jp.p = skip_ws(jp.start, jp.end);
	if (jp.p == jp.end || (*jp.p != '{' && *jp.p != '[')) {
		expected(&jp, "'[' or '{'");
	} else {
		v = parse_value(&jp);
		if (v) {
			jp.p = skip_ws(jp.p, jp.end);
			if (jp.p != jp.end) {
				fail(&jp, jp.p, "end of file expected");
				json_decref(v);
				v = NULL;
			}
		}
	}
	if (jp.buf != jp.small)
		free(jp.buf);
	if (v && nul)
		*nul = jp.nul;
	return v;
}
