/* t-jsonparse — lib/jsonparse.c, ig_json_parse(): hand-written cases for every
 * rule, then a differential test that holds it to json_loadb(buf, len,
 * JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL) on those cases and on thousands of
 * deterministic mutations of a dozen seed documents: same acceptance, and
 * when both accept, equal values with the same key order and number types.
 *
 * Every input is parsed from an exactly-sized heap copy, so a read past len
 * shows under ASan and valgrind. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonio.h"
#include "tap.h"

#define JFLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
#define OURS(lit) ours(lit, sizeof(lit) - 1)

static struct ig_err err;

static json_t *ours(const char *s, size_t len)
{
	char *b = malloc(len ? len : 1);
	json_t *v;

	memcpy(b, s, len);
	memset(&err, 0, sizeof(err));
	v = ig_json_parse(b, len, &err);
	free(b);
	return v;
}

static json_t *theirs(const char *s, size_t len)
{
	char *b = malloc(len ? len : 1);
	json_error_t je;
	json_t *v;

	memcpy(b, s, len);
	v = json_loadb(b, len, JFLAGS, &je);
	free(b);
	return v;
}

/* The input as a C string literal, in a TAP comment. */
static void dump(const char *what, const char *s, size_t len)
{
	size_t i;

	printf("#   %s (%zu bytes): \"", what, len);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			putchar(c);
		else
			printf("\\x%02x\"\"", c);
	}
	printf("\"\n");
}

/* Same type, same value; objects with their keys in the same order. */
static int same(json_t *a, json_t *b)
{
	size_t i;

	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_OBJECT: {
		void *ia = json_object_iter(a), *ib = json_object_iter(b);

		if (json_object_size(a) != json_object_size(b))
			return 0;
		while (ia && ib) {
			if (strcmp(json_object_iter_key(ia), json_object_iter_key(ib))
			    || !same(json_object_iter_value(ia), json_object_iter_value(ib)))
				return 0;
			ia = json_object_iter_next(a, ia);
			ib = json_object_iter_next(b, ib);
		}
		return !ia && !ib;
	}
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (i = 0; i < json_array_size(a); i++)
			if (!same(json_array_get(a, i), json_array_get(b, i)))
				return 0;
		return 1;
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b)
		       && !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
	case JSON_INTEGER:
		return json_integer_value(a) == json_integer_value(b);
	case JSON_REAL: {
		double x = json_real_value(a), y = json_real_value(b);

		return !memcmp(&x, &y, sizeof(x));  /* -0.0 is not 0.0 here */
	}
	default:
		return 1;
	}
}

/*
 * Does ig_json_parse agree with json_loadb on s?  The one known difference:
 * jansson's stream drops a raw NUL right after a number or a literal
 * ("[1\0]" loads as [1]); we refuse every raw NUL outside a string.  When
 * jansson accepted an input with raw NULs, the input without them must give
 * both parsers the same value.  *quirk counts those.
 */
static int agree(const char *s, size_t len, int *quirk, const char **why)
{
	json_t *a = ours(s, len), *b = theirs(s, len);
	int good;

	*why = "";
	if (b && memchr(s, '\0', len)) {
		char *t = malloc(len ? len : 1);
		size_t i, n = 0;

		for (i = 0; i < len; i++)
			if (s[i])
				t[n++] = s[i];
		json_decref(b);
		b = theirs(t, n);
		good = !a && b;
		if (!good)
			*why = a ? "accepted a raw NUL" : "jansson refused the input without its NULs";
		json_decref(a);
		a = ours(t, n);
		free(t);
		if (good && !(a && json_equal(a, b) && same(a, b))) {
			good = 0;
			*why = "disagree on the input without its NULs";
		}
		(*quirk)++;
	} else if (!a != !b) {
		good = 0;
		*why = a ? "we accept, jansson refuses" : "we refuse, jansson accepts";
	} else if (a) {
		good = json_equal(a, b) && same(a, b);
		if (!good)
			*why = "different values";
	} else {
		good = !strncmp(err.msg, "invalid JSON at column ", 23);
		if (!good)
			*why = "refused without an 'invalid JSON' message";
	}
	json_decref(a);
	json_decref(b);
	return good;
}

/* ------------------------------------------------------------ cases */

struct tcase {
	const char *name;
	const char *s;
	size_t len;
	int ok;
};

#define GOOD(name, lit) { name, lit, sizeof(lit) - 1, 1 }
#define BAD(name, lit) { name, lit, sizeof(lit) - 1, 0 }

static const struct tcase cases[] = {
	/* top level, whitespace, trailing data */
	GOOD("empty object", "{}"),
	GOOD("empty array", "[]"),
	GOOD("whitespace all round", " \t\r\n{ \"a\" :\t[ 1 ,\n2 ] }\r\n "),
	GOOD("nested empties", "[{},[],{\"a\":{}},[[]]]"),
	BAD("empty input", ""),
	BAD("only whitespace", " \n\t\r"),
	BAD("a scalar at the top", "1"),
	BAD("a string at the top", "\"a\""),
	BAD("a literal at the top", "true"),
	BAD("form feed is not whitespace", "\f[]"),
	BAD("vertical tab is not whitespace", "[]\v"),
	BAD("a byte-order mark", "\xef\xbb\xbf[]"),
	BAD("trailing data", "{} x"),
	BAD("two values", "[][]"),
	BAD("trailing comma in array", "[1,]"),
	BAD("trailing comma in object", "{\"a\":1,}"),
	BAD("leading comma", "[,1]"),
	BAD("missing comma", "[1 2]"),
	BAD("missing colon", "{\"a\" 1}"),
	BAD("key not a string", "{a:1}"),
	BAD("number as key", "{1:1}"),
	BAD("unclosed array", "[1"),
	BAD("unclosed object", "{\"a\":1"),
	BAD("unclosed after colon", "{\"a\":"),
	BAD("wrong closer", "[1}"),
	BAD("stray closer", "[]]"),
	BAD("single quotes", "['a']"),
	/* literals */
	GOOD("literals", "[true,false,null]"),
	BAD("literal with letters after", "[truex]"),
	BAD("literal cut short", "[tru]"),
	BAD("literal at the end of input", "[nul"),
	BAD("capitalised literal", "[True]"),
	BAD("NaN", "[NaN]"),
	BAD("Infinity", "[Infinity]"),
	/* numbers */
	GOOD("integers", "[0,-0,1,-1,1234567890]"),
	GOOD("reals", "[0.5,-0.5,1e3,1E3,1e+3,1e-3,0.5e-3,-0.0,1.25E+10]"),
	GOOD("LLONG_MAX", "[9223372036854775807]"),
	GOOD("LLONG_MIN", "[-9223372036854775808]"),
	BAD("LLONG_MAX + 1", "[9223372036854775808]"),
	BAD("LLONG_MIN - 1", "[-9223372036854775809]"),
	BAD("20 digits", "[12345678901234567890]"),
	GOOD("20 digits as a real", "[12345678901234567890.0]"),
	BAD("real overflow", "[1e400]"),
	BAD("negative real overflow", "[-1e400]"),
	GOOD("real underflow is zero", "[1e-400]"),
	BAD("leading zero", "[01]"),
	BAD("negative leading zero", "[-01]"),
	BAD("leading plus", "[+1]"),
	BAD("bare minus", "[-]"),
	BAD("minus then letter", "[-a]"),
	BAD("dot without digits", "[1.]"),
	BAD("dot first", "[.5]"),
	BAD("exponent without digits", "[1e]"),
	BAD("exponent sign without digits", "[1e+]"),
	BAD("hex", "[0x10]"),
	BAD("number then letters", "[1a]"),
	BAD("two dots", "[1.2.3]"),
	BAD("number cut by the end", "{\"a\":1"),
	/* strings */
	GOOD("escapes", "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]"),
	GOOD("unicode escapes, any case", "[\"\\u00e9\\u00E9\\u20aC\\u0041\"]"),
	GOOD("surrogate pair", "[\"\\ud83d\\ude00\"]"),
	GOOD("\\u0000 in a value", "[\"a\\u0000b\"]"),
	GOOD("DEL is not a control character", "[\"\x7f\"]"),
	GOOD("UTF-8 of every length", "[\"\x41\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]"),
	GOOD("UTF-8 edges", "[\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"]"),
	GOOD("escaped key", "{\"\\u0061\\n\":1}"),
	BAD("unknown escape", "[\"\\x\"]"),
	BAD("escaped single quote", "[\"\\'\"]"),
	BAD("short unicode escape", "[\"\\u12\"]"),
	BAD("non-hex unicode escape", "[\"\\u12g4\"]"),
	BAD("escape at the end of input", "[\"\\"),
	BAD("unicode escape at the end of input", "[\"\\u00"),
	BAD("lone high surrogate", "[\"\\ud800\"]"),
	BAD("high surrogate then text", "[\"\\ud800x\"]"),
	BAD("high surrogate then another escape", "[\"\\ud800\\n\"]"),
	BAD("high surrogate then high surrogate", "[\"\\ud800\\ud800\"]"),
	BAD("high surrogate then non-hex", "[\"\\ud800\\u12x4\"]"),
	BAD("lone low surrogate", "[\"\\udc00\"]"),
	BAD("swapped pair", "[\"\\ude00\\ud83d\"]"),
	BAD("\\u0000 in a key", "{\"a\\u0000\":1}"),
	BAD("raw control character", "[\"a\x01\"]"),
	BAD("raw tab", "[\"a\tb\"]"),
	BAD("raw newline", "[\"a\nb\"]"),
	BAD("raw NUL in a string", "[\"a\0b\"]"),
	BAD("unterminated string", "[\"abc"),
	BAD("overlong 2 bytes", "[\"\xc0\x80\"]"),
	BAD("overlong 2 bytes C1", "[\"\xc1\xbf\"]"),
	BAD("overlong 3 bytes", "[\"\xe0\x80\x80\"]"),
	BAD("overlong 3 bytes, high", "[\"\xe0\x9f\xbf\"]"),
	BAD("overlong 4 bytes", "[\"\xf0\x80\x80\x80\"]"),
	BAD("overlong 4 bytes, high", "[\"\xf0\x8f\xbf\xbf\"]"),
	BAD("UTF-8 surrogate", "[\"\xed\xa0\x80\"]"),
	BAD("UTF-8 low surrogate", "[\"\xed\xbf\xbf\"]"),
	BAD("above U+10FFFF", "[\"\xf4\x90\x80\x80\"]"),
	BAD("lead byte F5", "[\"\xf5\x80\x80\x80\"]"),
	BAD("byte FF", "[\"\xff\"]"),
	BAD("stray continuation byte", "[\"\x80\"]"),
	BAD("missing continuation byte", "[\"\xc3\"]"),
	BAD("bad continuation byte", "[\"\xe2\x82\x41\"]"),
	BAD("UTF-8 cut by the end of input", "[\"\xe2\x82"),
	BAD("UTF-8 cut by the end of input, 4 bytes", "[\"\xf0\x9f\x98"),
	BAD("UTF-8 outside a string", "[\xc3\xa9]"),
	/* objects */
	GOOD("key order", "{\"b\":1,\"a\":2,\"c\":3}"),
	GOOD("same key in different objects", "{\"a\":{\"a\":1},\"b\":{\"a\":2}}"),
	BAD("duplicate key", "{\"a\":1,\"a\":2}"),
	BAD("duplicate key, escaped", "{\"a\":1,\"\\u0061\":2}"),
	BAD("duplicate key, later", "{\"a\":1,\"b\":2,\"c\":3,\"b\":4}"),
	GOOD("keys differing after a prefix", "{\"ab\":1,\"a\":2,\"abc\":3}"),
	/* raw NULs: jansson drops one right after a number or literal, we refuse */
	BAD("raw NUL after a value (jansson accepts)", "[1\0]"),
	BAD("raw NUL after a literal (jansson accepts)", "{\"a\":true\0}"),
	BAD("raw NUL before a value", "[\0 1]"),
	BAD("raw NUL after the value", "{}\0"),
};

static char *nest(int n, const char *open, const char *inner, const char *close, size_t *len)
{
	size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
	char *b = malloc((size_t)n * (lo + lc) + li + 1), *p = b;
	int i;

	for (i = 0; i < n; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, inner, li);
	p += li;
	for (i = 0; i < n; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	*len = (size_t)(p - b);
	return b;
}

static void test_cases(void)
{
	size_t i;
	int quirk = 0, disagree = 0;
	const char *why;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		json_t *v = ours(c->s, c->len);

		if (c->ok)
			ok(v != NULL, "%s: accepted", c->name);
		else
			ok(!v && !strncmp(err.msg, "invalid JSON at column ", 23),
			   "%s: refused (%s)", c->name, err.msg);
		if (!v != !c->ok)
			dump("input", c->s, c->len);
		json_decref(v);
		if (!agree(c->s, c->len, &quirk, &why)) {
			disagree++;
			printf("# %s: %s\n", c->name, why);
			dump("input", c->s, c->len);
		}
	}
	ok(!disagree, "jansson agrees on all %zu cases", i);
	is_int(quirk, 2, "jansson drops a NUL after a number or a literal: 2 cases");
}

static void test_depth(void)
{
	static const struct {
		int n;
		const char *open, *inner, *close;
		int ok;
	} d[] = {
		{ 2048, "[", "", "]", 1 },
		{ 2049, "[", "", "]", 0 },
		{ 2047, "[", "1", "]", 1 },
		{ 2048, "[", "1", "]", 0 },   /* the 1 is the 2049th value */
		{ 2047, "[", "{}", "]", 1 },
		{ 2048, "[", "{}", "]", 0 },
		{ 2047, "{\"a\":", "1", "}", 1 },
		{ 2048, "{\"a\":", "1", "}", 0 },
		{ 2048, "{\"a\":", "{}", "}", 0 },
		{ 2047, "{\"a\":", "{}", "}", 1 },
		{ 1023, "[{\"k\":", "[]", "}]", 1 },  /* 2046 + 1 */
		{ 1024, "[{\"k\":", "[]", "}]", 0 },
		{ 100000, "[", "", "]", 0 },
	};
	size_t i, len;
	int quirk = 0, good;
	const char *why;

	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		char *b = nest(d[i].n, d[i].open, d[i].inner, d[i].close, &len);
		json_t *v = ours(b, len);

		ok(!v == !d[i].ok, "%d x %s%s%s: %s", d[i].n, d[i].open, d[i].inner, d[i].close,
		   d[i].ok ? "accepted" : err.msg);
		json_decref(v);
		good = agree(b, len, &quirk, &why);
		ok(good, "  and jansson agrees %s", why);
		free(b);
	}

	/* the limit is on values open, not values seen: wide is fine */
	{
		char *b = malloc(3000 * 24 + 8), *p = b;
		json_t *v;

		*p++ = '[';
		for (i = 0; i < 3000; i++)
			p += sprintf(p, "%s[1,{\"a\":[]}]", i ? "," : "");
		*p++ = ']';
		v = ours(b, (size_t)(p - b));
		ok(v && json_array_size(v) == 3000, "3000 siblings, 15000 values: %s",
		   v ? "accepted" : err.msg);
		json_decref(v);
		good = agree(b, (size_t)(p - b), &quirk, &why);
		ok(good, "  and jansson agrees %s", why);
		p = b;
		*p++ = '{';
		for (i = 0; i < 3000; i++)
			p += sprintf(p, "%s\"k%zu\":{\"a\":%zu}", i ? "," : "", i, i);
		*p++ = '}';
		v = ours(b, (size_t)(p - b));
		ok(v && json_object_size(v) == 3000, "3000 keys: %s", v ? "accepted" : err.msg);
		json_decref(v);
		good = agree(b, (size_t)(p - b), &quirk, &why);
		ok(good, "  and jansson agrees (key order too) %s", why);
		free(b);
	}
}

static void test_values(void)
{
	json_t *v, *e;
	char *big, *p;
	size_t i, n;
	void *it;

	v = OURS("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\"]");
	is_str(json_string_value(json_array_get(v, 0)),
	       "\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "escapes decoded");
	json_decref(v);

	v = OURS("[\"a\\u0000b\",\"\\u0000\"]");
	e = json_array_get(v, 0);
	ok(json_string_length(e) == 3 && !memcmp(json_string_value(e), "a\0b", 3),
	   "\\u0000 kept, with the length");
	is_int(json_string_length(json_array_get(v, 1)), 1, "a lone \\u0000 is one byte");
	json_decref(v);

	v = OURS("[9223372036854775807,-9223372036854775808,-0,0,-1,1.0,-0.0,0.5e-3,1e-400]");
	is_int(json_integer_value(json_array_get(v, 0)), LLONG_MAX, "LLONG_MAX");
	is_int(json_integer_value(json_array_get(v, 1)), LLONG_MIN, "LLONG_MIN");
	ok(json_is_integer(json_array_get(v, 2)) && json_integer_value(json_array_get(v, 2)) == 0,
	   "-0 is the integer 0");
	ok(json_is_integer(json_array_get(v, 4)) && json_integer_value(json_array_get(v, 4)) == -1,
	   "-1");
	ok(json_is_real(json_array_get(v, 5)) && json_real_value(json_array_get(v, 5)) == 1.0,
	   "1.0 is a real");
	ok(json_is_real(json_array_get(v, 6)), "-0.0 is a real");
	ok(json_real_value(json_array_get(v, 7)) == 0.0005, "0.5e-3");
	ok(json_real_value(json_array_get(v, 8)) == 0.0, "1e-400 underflows to 0");
	json_decref(v);

	v = OURS("{\"b\":1,\"a\":2,\"c\":{\"z\":1,\"y\":2}}");
	it = json_object_iter(v);
	is_str(json_object_iter_key(it), "b", "first key first");
	it = json_object_iter_next(v, it);
	is_str(json_object_iter_key(it), "a", "then the second");
	json_decref(v);

	/* not NUL-terminated: a prefix of a longer buffer, by len */
	v = ours("{\"a\":[1,2]}garbage", 11);
	ok(v && json_array_size(json_object_get(v, "a")) == 2, "a prefix parsed by len");
	json_decref(v);
	v = ours("{\"a\":12345}", 9);
	ok(!v, "a value cut by len is refused: %s", err.msg);
	v = ours("[123]", 4);
	ok(!v, "a number at the end of the buffer, then nothing: %s", err.msg);

	/* columns */
	v = OURS("{\n  \"a\": x}");
	is_str(err.msg, "invalid JSON at column 8: invalid token", "column counts from the last newline");
	v = OURS("{\"a\":1,\"a\":2}");
	is_str(err.msg, "invalid JSON at column 8: duplicate object key", "duplicate: the key's column");
	v = OURS("{} x");
	is_str(err.msg, "invalid JSON at column 4: end of file expected", "trailing data");
	ok(ig_json_parse("[x", 2, NULL) == NULL, "err may be NULL");
	ok(ig_json_parse(NULL, 0, &err) == NULL, "a NULL buffer is refused: %s", err.msg);
	is_int(err.code, IG_EX_DATAERR, "with 65");

	/* strings and keys bigger than the scratch's first 512 bytes, keys
	 * stacked while the scratch moves */
	n = 20000;
	big = malloc(n + 200);
	p = big;
	p += sprintf(p, "{\"");
	for (i = 0; i < 700; i++)
		*p++ = (char)('a' + i % 26);
	p += sprintf(p, "\\n\":{\"");
	for (i = 0; i < 600; i++)
		p += sprintf(p, "\\u00e9");
	p += sprintf(p, "\":[\"");
	for (i = 0; i < 3000; i++)
		p += sprintf(p, "x\\t");
	p += sprintf(p, "\",1.5],\"k\":2}}");
	v = ours(big, (size_t)(p - big));
	ok(v != NULL, "long escaped keys and strings: %s", v ? "parsed" : err.msg);
	it = json_object_iter(v);
	ok(it && strlen(json_object_iter_key(it)) == 701, "the 701-byte key");
	e = json_object_iter_value(it);
	it = json_object_iter(e);
	ok(it && strlen(json_object_iter_key(it)) == 1200, "the 1200-byte key, decoded");
	e = json_object_iter_value(it);
	is_int(json_string_length(json_array_get(e, 0)), 6000, "the 6000-byte string");
	ok(json_real_value(json_array_get(e, 1)) == 1.5, "a real after it");
	is_int(json_integer_value(json_object_get(json_object_iter_value(json_object_iter(v)), "k")),
	       2, "and the next key");
	{
		int quirk = 0, good;
		const char *why;

		good = agree(big, (size_t)(p - big), &quirk, &why);
		ok(good, "jansson agrees %s", why);
	}
	json_decref(v);
	free(big);
}

/* ------------------------------------------------------------ out of memory */

static long alloc_left;  /* jansson's allocations until one fails; < 0: never */

static void *failing_malloc(size_t n)
{
	if (alloc_left == 0)
		return NULL;
	if (alloc_left > 0)
		alloc_left--;
	return malloc(n);
}

/* Every jansson allocation in turn fails: NULL, 70, nothing leaked (the
 * sanitizer and valgrind runs check that), until the parse needs no more. */
static void test_oom(void)
{
	static const char doc[] =
		"{\"headers\":{\"X-Hub-Signature-256\":\"sha256=00ff\"},\"body\":\"{\\\"a\\\":[1,2.5]}\","
		"\"\\u00e9k\":[true,null,{\"x\":-1e-3,\"y\":\"\\ud83d\\ude00\"}],\"z\":[[],{}]}";
	long k;
	int bad = 0;
	json_t *v = NULL;

	json_set_alloc_funcs(failing_malloc, free);
	for (k = 0; k < 1000; k++) {
		alloc_left = k;
		v = OURS(doc);
		if (v)
			break;
		if (err.code != IG_EX_SOFTWARE && bad++ < 3)
			printf("# allocation %ld failed: %s\n", k, err.msg);
	}
	alloc_left = -1;
	ok(v && !bad, "each of the first %ld allocations failing gives NULL with 70", k);
	json_decref(v);
	json_set_alloc_funcs(malloc, free);
}

/* ------------------------------------------------------------ mutations */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t below(size_t n)
{
	return n ? (size_t)(xorshift() % n) : 0;
}

static const char special[] = {
	'"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\n', 'u', '0', '1', '9', '-', '+', '.',
	'e', 'E', 't', 'x', 'D', (char)0x80, (char)0xbf, (char)0xc0, (char)0xc3, (char)0xe0,
	(char)0xed, (char)0xf0, (char)0xf4, (char)0xff, 0x00, 0x1f, 0x7f,
};

static const char *const snippet[] = {
	"\\u", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\u0000", "\\u00e9", "1e400", "-0",
	"0.5e-3", "9223372036854775808", "{}", "[]", ",", "\"a\":", "\"a\":1,", "true", "nul",
	"\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\x80", "\xe2\x82\xac", " \n\t\r", "\\\"", "\"",
};

/* 1-4 random edits of b (capacity cap) in place; the new length. */
static size_t mutate(char *b, size_t len, size_t cap)
{
	int k, edits = 1 + (int)below(4);

	for (k = 0; k < edits; k++) {
		size_t at = below(len + 1), n;
		const char *s;

		switch (below(8)) {
		case 0:  /* overwrite a byte with a special one */
			if (at < len)
				b[at] = special[below(sizeof(special))];
			break;
		case 1:  /* insert a special byte */
			if (len < cap) {
				memmove(b + at + 1, b + at, len - at);
				b[at] = special[below(sizeof(special))];
				len++;
			}
			break;
		case 2:  /* delete a byte */
			if (at < len) {
				memmove(b + at, b + at + 1, len - at - 1);
				len--;
			}
			break;
		case 3:  /* truncate */
			len = at;
			break;
		case 4: { /* duplicate a slice somewhere */
			size_t from = below(len + 1), to;

			n = below(len - from + 1);
			if (n > 16)
				n = 16;
			if (len + n > cap)
				break;
			to = below(len + 1);
			memmove(b + to + n, b + to, len - to);
			memmove(b + to, (from >= to ? b + from + n : b + from), n);
			len += n;
			break;
		}
		case 5:  /* flip a bit */
			if (at < len)
				b[at] = (char)(b[at] ^ (1 << below(8)));
			break;
		case 6:  /* insert a snippet */
			s = snippet[below(sizeof(snippet) / sizeof(snippet[0]))];
			n = strlen(s);
			if (len + n <= cap) {
				memmove(b + at + n, b + at, len - at);
				memcpy(b + at, s, n);
				len += n;
			}
			break;
		default: /* swap two bytes */
			if (len >= 2) {
				size_t o = below(len);
				char t;

				if (at >= len)
					at = len - 1;
				t = b[at];
				b[at] = b[o];
				b[o] = t;
			}
			break;
		}
	}
	return len;
}

/* The seed documents: a real webhook envelope, its body, and documents
 * that bring every rule within a few edits. */
static json_t *body_object(void)
{
	return json_pack("{s:s,s:[{s:s,s:I,s:[{s:{s:s},s:{s:s},s:I,s:{s:s,s:s}}]}]}",
			 "object", "instagram", "entry", "id", "17841400000000007",
			 "time", (json_int_t)1770112845273, "messaging",
			 "sender", "id", "7341000000004242", "recipient", "id", "17841400000000007",
			 "timestamp", (json_int_t)1770112845273,
			 "message", "mid", "aWdfZAG1faXRlbToxOklHTWVzc2FnZ0000000042",
			 "text", "Ciao! \"quoted\" question about opening hours \xe2\x80\x93 \xc3\xa8 \xf0\x9f\x98\x80\n");
}

static char **seeds(size_t *count)
{
	static const char *const fixed[] = {
		"[0,-0,1.5,-2.5e10,1E-5,9223372036854775807,-9223372036854775808,0.1,123456789012345678]",
		"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"\\u00e9\\u20AC\\ud83d\\ude00\",\"a\\u0000b\"]",
		"{\"ciao\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"k\xc3\xa9y\":1,\"\xed\x9f\xbf\":[\"\xf4\x8f\xbf\xbf\"]}",
		" \t\n{ \"a\" : [ true , false , null ] ,\r\n \"b\" : { } , \"c\" : [ ] } \n",
		"[[[[{\"a\":[{\"b\":[1,{\"c\":[[],{}]}]}]}]]]]",
		"{\"a\":1,\"b\":2,\"c\":{\"a\":1,\"b\":2,\"ab\":3},\"d\":[{\"a\":1},{\"a\":2}]}",
		"{\"\\u0061\":1,\"b\\n\":2,\"\\ud83d\\ude00\":3,\"\":4}",
		"{\"entry\":[{\"changes\":[{\"field\":\"comments\",\"value\":{\"id\":\"1\",\"text\":\"nice \\ud83d\\udc4d\",\"media\":{\"id\":\"2\"}}}],\"id\":\"3\",\"time\":1770112845}],\"object\":\"instagram\"}",
	};
	size_t nf = sizeof(fixed) / sizeof(fixed[0]), i = 0, k;
	char **s = malloc((nf + 4) * sizeof(*s)), *t;
	json_t *body = body_object(), *env;
	char *btext = json_dumps(body, JSON_COMPACT);

	for (k = 0; k < nf; k++)
		s[i++] = strdup(fixed[k]);
	s[i++] = strdup(btext);
	env = json_pack("{s:{s:s},s:s}", "headers", "X-Hub-Signature-256",
			"sha256=3f0a8c6b2f1e4d5c6b7a8998a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8",
			"body", btext);
	s[i++] = json_dumps(env, JSON_COMPACT);
	json_decref(env);
	/* a long string with escapes every few bytes: the scratch grows */
	t = malloc(4000);
	strcpy(t, "{\"long\":\"");
	for (k = 0; k < 300; k++)
		strcat(t, "ab\\\"c\\u00e9");
	strcat(t, "\"}");
	s[i++] = t;
	s[i++] = json_dumps(json_object_get(json_array_get(json_object_get(body, "entry"), 0), "messaging"),
			    JSON_COMPACT | JSON_INDENT(2));
	free(btext);
	json_decref(body);
	*count = i;
	return s;
}

static void test_mutations(int per_seed)
{
	size_t n, i;
	char **s = seeds(&n);
	int total_quirk = 0, accepted = 0;

	for (i = 0; i < n; i++) {
		size_t slen = strlen(s[i]), cap = slen * 2 + 64;
		char *b = malloc(cap);
		int m, bad = 0, quirk = 0, good;
		const char *why;

		good = agree(s[i], slen, &quirk, &why);
		ok(good, "seed %zu (%zu bytes) agrees with jansson %s", i, slen, why);
		for (m = 0; m < per_seed; m++) {
			size_t len;
			json_t *v;

			memcpy(b, s[i], slen);
			len = mutate(b, slen, cap);
			if (!agree(b, len, &quirk, &why)) {
				if (bad++ < 5) {
					printf("# seed %zu mutation %d: %s\n", i, m, why);
					dump("input", b, len);
				}
			}
			v = ours(b, len);
			accepted += v != NULL;
			json_decref(v);
		}
		ok(!bad, "%d mutations of seed %zu agree with jansson (%d disagree)", per_seed, i, bad);
		total_quirk += quirk;
		free(b);
		free(s[i]);
	}
	free(s);
	printf("# %d mutants accepted by both; %d where jansson dropped a raw NUL\n",
	       accepted, total_quirk);
	ok(accepted > 0, "some mutants are still valid JSON");
}

int main(int argc, char **argv)
{
	test_cases();
	test_depth();
	test_values();
	test_oom();
	test_mutations(argc > 1 ? atoi(argv[1]) : 2000);
	return done_testing();
}
