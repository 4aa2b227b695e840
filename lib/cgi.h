/*
 * cgi.h — the request side of CGI (RFC 3875) for igkit's endpoints: Meta's
 * webhook (ig-route) and Meta's callbacks (ig-connect).  One percent-decoder,
 * one checked CONTENT_LENGTH.  Writing the response is the caller's (cmd/);
 * ig_cgi_reason gives the status line's phrase.  No OpenSSL, no libcurl:
 * ig-route links it.
 */
#ifndef IG_CGI_H
#define IG_CGI_H

#include <stddef.h>

#include "err.h"

/* The request method when running as a CGI program (REQUEST_METHOD set and
 * not empty), else NULL. */
const char *ig_cgi_method(void);

/*
 * Read the request body from fd 0: CONTENT_LENGTH bytes, or to end of input
 * when the server gives none.  At most max bytes are kept; a larger body
 * sets *oversize (when oversize is NULL it is an error instead).
 *   *body: new, NUL-terminated (the body may hold NULs: use *len)
 * Errors (err->code 65, *http the status to answer):
 *   400  CONTENT_LENGTH not a decimal number (a sign, spaces, junk, overflow)
 *   413  larger than max, with oversize NULL
 *   400  fewer bytes than CONTENT_LENGTH announced
 *   500  out of memory (code 70), a read error (code 74)
 */
int ig_cgi_body(size_t max, char **body, size_t *len, int *oversize, int *http,
		struct ig_err *err);

/* Percent-decode s in place ('+' is a space): 0, or -1 on a bad escape or
 * an escaped NUL (s is then unspecified). */
int ig_cgi_unescape(char *s);

/*
 * The value of key in an application/x-www-form-urlencoded string (a query
 * string or a form body; '&' or ';' separate pairs; names and values are
 * decoded before comparing): a new string, "" for a key without '=', NULL
 * when absent (or out of memory).  The first well-formed pair named key
 * wins; a pair with a bad escape is skipped.
 */
char *ig_cgi_param(const char *form, const char *key);

/* "OK", "Bad Request", ... for an HTTP status. */
const char *ig_cgi_reason(int status);

#endif
