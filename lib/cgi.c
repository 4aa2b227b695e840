#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi.h"
#include "exitcodes.h"

const char *ig_cgi_method(void)
{
	const char *m = getenv("REQUEST_METHOD");

	return m && *m ? m : NULL;
}

/* CONTENT_LENGTH: 1-20 decimal digits, nothing else (RFC 3875 §4.1.2). */
static int content_length(const char *cl, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *p;

	if (!*cl || strlen(cl) > 20)
		return -1;
	for (p = cl; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (~0ULL - 9) / 10)
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	*out = v;
	return 0;
}

int ig_cgi_body(size_t max, char **body, size_t *len, int *oversize, int *http,
		struct ig_err *err)
{
	const char *cl = getenv("CONTENT_LENGTH");
	unsigned long long announced = 0;
	size_t want, got = 0;
	char *buf;

	*body = NULL;
	*len = 0;
	*http = 200;
	if (oversize)
		*oversize = 0;
	if (cl && *cl && content_length(cl, &announced)) {
		*http = 400;
		return ig_err_set(err, IG_EX_DATAERR, "bad CONTENT_LENGTH '%.40s'", cl);
	}
	if (cl && *cl && announced > max && !oversize) {
		*http = 413;
		return ig_err_set(err, IG_EX_DATAERR, "request body of %llu bytes is too large (at most %zu)",
				  announced, max);
	}
	/* keep max + 1 bytes of a longer body, to know it is one */
	want = cl && *cl ? (announced > max ? max + 1 : (size_t)announced) : max + 1;
	if (!(buf = malloc(want + 1))) {
		*http = 500;
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	}
	while (got < want) {
		ssize_t n = read(0, buf + got, want - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			*http = 500;
			return ig_err_errno(err, IG_EX_IOERR, "cannot read the request body");
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	if (cl && *cl && got < want) {
		free(buf);
		*http = 400;
		return ig_err_set(err, IG_EX_DATAERR, "short request body (%zu of %llu bytes)", got,
				  announced);
	}
	if (got > max) {
		if (!oversize) {
			free(buf);
			*http = 413;
			return ig_err_set(err, IG_EX_DATAERR, "request body larger than %zu bytes", max);
		}
		*oversize = 1;
		got = max;
		buf[got] = '\0';
	}
	*body = buf;
	*len = got;
	return 0;
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

int ig_cgi_unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%') {
			int hi = hexval((unsigned char)s[1]), lo = hi < 0 ? -1 : hexval((unsigned char)s[2]);

			if (hi < 0 || lo < 0 || (hi | lo) == 0)
				return -1;
			*o++ = (char)(hi << 4 | lo);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return 0;
}

char *ig_cgi_param(const char *form, const char *key)
{
	const char *p = form;

	while (p && *p) {
		size_t n = strcspn(p, "&;");
		char *pair = strndup(p, n), *eq;

		if (!pair)
			return NULL;
		eq = strchr(pair, '=');
		if (eq)
			*eq = '\0';
		/* a pair with a bad escape is skipped, not an error */
		if (!ig_cgi_unescape(pair) && !strcmp(pair, key)) {
			if (!eq) {
				pair[0] = '\0';
				return pair;
			}
			if (!ig_cgi_unescape(eq + 1)) {
				memmove(pair, eq + 1, strlen(eq + 1) + 1);
				return pair;
			}
		}
		free(pair);
		p += n;
		if (*p)
			p++;
	}
	return NULL;
}

const char *ig_cgi_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return "Error";
}
