/* Unit tests of lib/cgi: the request body with a checked CONTENT_LENGTH,
 * the one percent-decoder, form parameters. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi.h"
#include "exitcodes.h"
#include "tap.h"

/* Body of `in` on fd 0 with CONTENT_LENGTH cl (NULL: unset). */
static int body(const char *in, const char *cl, size_t max, int allow_oversize, char **out,
		size_t *len, int *over, int *http, struct ig_err *err)
{
	int fds[2], rc;

	if (pipe(fds))
		return -1;
	if (write(fds[1], in, strlen(in)) < 0)
		return -1;
	close(fds[1]);
	dup2(fds[0], 0);
	close(fds[0]);
	if (cl)
		setenv("CONTENT_LENGTH", cl, 1);
	else
		unsetenv("CONTENT_LENGTH");
	rc = ig_cgi_body(max, out, len, allow_oversize ? over : NULL, http, err);
	return rc;
}

int main(void)
{
	struct ig_err err = { 0 };
	char *b = NULL, s[64], *v;
	size_t len;
	int over, http;

	unsetenv("REQUEST_METHOD");
	ok(ig_cgi_method() == NULL, "no REQUEST_METHOD: not CGI");
	setenv("REQUEST_METHOD", "", 1);
	ok(ig_cgi_method() == NULL, "an empty one: not CGI");
	setenv("REQUEST_METHOD", "POST", 1);
	ok(ig_cgi_method() && !strcmp(ig_cgi_method(), "POST"), "POST");

	is_int(body("hello", "5", 100, 0, &b, &len, &over, &http, &err), 0, "CONTENT_LENGTH 5");
	ok(len == 5 && !strcmp(b, "hello") && http == 200, "the body");
	free(b);
	is_int(body("hello world", "5", 100, 0, &b, &len, &over, &http, &err), 0, "more than announced");
	ok(len == 5 && !strcmp(b, "hello"), "only CONTENT_LENGTH bytes read");
	free(b);
	is_int(body("hello", NULL, 100, 0, &b, &len, &over, &http, &err), 0, "no CONTENT_LENGTH");
	ok(len == 5, "read to the end");
	free(b);
	is_int(body("x", "-1", 100, 0, &b, &len, &over, &http, &err), IG_EX_DATAERR, "negative: 65");
	is_int(http, 400, "…400");
	ok(strstr(err.msg, "bad CONTENT_LENGTH '-1'") != NULL, "…says so: %s", err.msg);
	is_int(body("x", "12abc", 100, 0, &b, &len, &over, &http, &err), IG_EX_DATAERR, "junk: 65");
	is_int(http, 400, "…400");
	is_int(body("x", " 1", 100, 0, &b, &len, &over, &http, &err), IG_EX_DATAERR, "a space: 65");
	is_int(body("x", "99999999999999999999999", 100, 0, &b, &len, &over, &http, &err),
	       IG_EX_DATAERR, "overflow: 65");
	is_int(http, 400, "…400");
	is_int(body("x", "1000", 100, 0, &b, &len, &over, &http, &err), IG_EX_DATAERR,
	       "over the cap: 65");
	is_int(http, 413, "…413");
	is_int(body("abc", "10", 100, 0, &b, &len, &over, &http, &err), IG_EX_DATAERR,
	       "short body: 65");
	is_int(http, 400, "…400");
	ok(strstr(err.msg, "3 of 10") != NULL, "…says how short: %s", err.msg);
	is_int(body("abcdefgh", "8", 4, 1, &b, &len, &over, &http, &err), 0,
	       "over the cap, the caller keeping it: 0");
	ok(over && len == 4 && !strcmp(b, "abcd"), "…oversize set, cut at the cap");
	free(b);
	is_int(body("abcdefgh", NULL, 4, 1, &b, &len, &over, &http, &err), 0,
	       "no length, longer than the cap");
	ok(over && len == 4, "…oversize set");
	free(b);

	strcpy(s, "a+b%20c%2Fd");
	ok(!ig_cgi_unescape(s) && !strcmp(s, "a b c/d"), "unescape: %s", s);
	strcpy(s, "bad%2");
	ok(ig_cgi_unescape(s) == -1, "a cut escape refused");
	strcpy(s, "bad%zz");
	ok(ig_cgi_unescape(s) == -1, "a non-hex escape refused");
	strcpy(s, "nul%00");
	ok(ig_cgi_unescape(s) == -1, "an escaped NUL refused");
	v = ig_cgi_param("hub.mode=subscribe&hub.challenge=12%33;x", "hub.challenge");
	ok(v && !strcmp(v, "123"), "param: decoded value");
	free(v);
	v = ig_cgi_param("hub%2Emode=subscribe", "hub.mode");
	ok(v && !strcmp(v, "subscribe"), "param: names are decoded too");
	free(v);
	v = ig_cgi_param("id=bad%zz&id=good", "id");
	ok(v && !strcmp(v, "good"), "param: a badly escaped pair is skipped");
	free(v);
	v = ig_cgi_param("flag&x=1", "flag");
	ok(v && !strcmp(v, ""), "param: a name without '=' is \"\"");
	free(v);
	ok(ig_cgi_param("x=1", "y") == NULL, "param: absent → NULL");
	ok(!strcmp(ig_cgi_reason(413), "Payload Too Large"), "reason phrases");
	return done_testing();
}
