/*
 * graph.h — the HTTP client for Meta's Graph API (and the OpenAI-compatible
 * LLM endpoint), on libcurl.  Only the programs that call Meta link it
 * (ig-connect, ig-reply, ...); ig-route and tenant-admin never do.
 *
 * Hosts and the API version come from the configuration (DESIGN.md §4), so
 * the whole toolkit can run against tests/sim/graphsim.py.
 *
 * Retry policy, in one place (ig_graph_call / ig_graph_run_many):
 *   retried with full-jitter exponential backoff (capped), Retry-After and
 *   usage headers honoured: Graph codes 1, 2, 4, 17, 32, 613, 80002 (and
 *   is_transient), HTTP 5xx, connection failures, and timeouts of requests
 *   marked idempotent;
 *   never retried: 190 (→ 77, the caller marks the account for
 *   re-authorisation), 10, 100, 200-299 (→ 69), other 4xx (→ 69).
 * A POST that timed out after the request was sent is *ambiguous*: it is not
 * retried, resp->ambiguous is set, and the call returns 75 — the outbox
 * records it as 'unknown' and never resends it automatically.
 *
 * Tokens are never logged: with verbose on, requests are printed to stderr
 * with access_token values and Authorization headers masked.
 */
#ifndef IG_GRAPH_H
#define IG_GRAPH_H

#include <stddef.h>
#include <jansson.h>

#include "config.h"
#include "err.h"

enum ig_host {
	IG_HOST_GRAPH_FB,   /* graph_facebook_url */
	IG_HOST_GRAPH_IG,   /* graph_instagram_url */
	IG_HOST_API_IG,     /* api_instagram_url (OAuth code exchange) */
	IG_HOST_WWW_FB,     /* www_facebook_url (login dialog; URLs only) */
	IG_HOST_WWW_IG,     /* www_instagram_url (login dialog; URLs only) */
	IG_HOST_LLM,        /* llm_url */
};

/* A decoded Graph error object (reference §9.1), or the OAuth endpoint's
 * own {error_type, code, error_message} shape. */
struct ig_graph_error {
	long http_status;
	long code;           /* 0 when the failure was not a Graph error */
	long subcode;
	int is_transient;
	char type[64];
	char message[512];
	char fbtrace_id[64];
};

struct ig_graph_resp {
	long status;                 /* HTTP status, 0 if none was received */
	json_t *body;                /* new reference or NULL (non-JSON body) */
	struct ig_graph_error gerr;  /* filled when the call failed with a Graph error */
	int ambiguous;               /* the request may have been acted on (timeout after send) */
	int attempts;                /* how many times it was sent */
	char *location;              /* Location header of a redirect, or NULL */
};

struct ig_graph {
	const struct ig_config *cfg;  /* borrowed */
	void *curl;                   /* CURL * (kept opaque: users need not include curl.h) */
	long timeout_ms;
	int max_retries;
	int verbose;
	double slowdown;              /* seconds to wait before the next call (usage headers) */
	unsigned int seed;
	long backoff_ms;              /* first retry's delay bound (http_backoff_ms) */
};

int ig_graph_init(struct ig_graph *g, const struct ig_config *cfg, int verbose, struct ig_err *err);
void ig_graph_release(struct ig_graph *g);
/* Free what a response holds (body, location); the struct is reusable. */
void ig_graph_resp_release(struct ig_graph_resp *r);

/* "https://graph.instagram.com/v25.0" + path ("/me"); versioned = 0 for the
 * unversioned token endpoints and dialogs.  New string. */
char *ig_graph_url(const struct ig_graph *g, enum ig_host host, int versioned, const char *path);

/* One request. */
struct ig_graph_req {
	enum ig_host host;
	const char *method;            /* "GET", "POST", "DELETE" */
	const char *path;              /* "/me", "/17841.../messages" */
	int versioned;
	const char *const *query;      /* NULL-terminated key, value, key, value, ... or NULL */
	const char *const *form;       /* form fields for POST (x-www-form-urlencoded) or NULL */
	const json_t *json;            /* JSON body for POST (borrowed) or NULL */
	const char *token;             /* sent as "Authorization: Bearer" (never logged) or NULL */
	int idempotent;                /* GETs are; a POST may say so (safe to resend on timeout) */
	/* results, filled by the call */
	struct ig_graph_resp resp;
	int rc;                        /* 0 or an exit code, as ig_graph_call returns */
	struct ig_err err;
	void *user;                    /* caller's cookie */
};

/*
 * Perform req with the retry policy above.  Returns 0 on HTTP 2xx (also
 * 3xx when following is off: dialogs) with req->resp filled; otherwise
 * an exit code (69 permanent, 75 temporary/ambiguous, 77 token invalid /
 * permission) with req->err set to a message naming the Graph code, subcode
 * and Meta's message.  The caller releases req->resp.
 */
int ig_graph_call(struct ig_graph *g, struct ig_graph_req *req);

/*
 * Perform n requests concurrently (libcurl multi), at most max_parallel in
 * flight (per host), each with the same retry policy.  Each req gets its own
 * rc/err/resp.  Returns 0 when all succeeded, else the most serious exit
 * code among them (77 > 75 > 69 > others).
 */
int ig_graph_run_many(struct ig_graph *g, struct ig_graph_req *reqs, size_t n, int max_parallel);

/* Percent-encode for a URL component; new string. */
char *ig_url_escape(const char *s);

/*
 * The pieces of the retry policy, exposed for tests/unit/t-graph.c and for
 * callers that need the same decisions.
 */

/* Longest wait the client accepts (Retry-After, estimated_time_to_regain_access,
 * backoff); a longer one turns into 75 with the time to retry in the message. */
#define IG_GRAPH_WAIT_CAP_S 30

/* Decode a Graph error object {"error":{message,type,code,error_subcode,
 * is_transient,fbtrace_id}}, the api.instagram.com shape {error_type, code,
 * error_message}, or an OAuth-style {"error":"...","error_description":"..."}.
 * body is borrowed and may be NULL.  1 when an error was found (e filled,
 * http_status set), 0 when not (e zeroed except http_status). */
int ig_graph_error_decode(const json_t *body, long http_status, struct ig_graph_error *e);
/* -1: temporary, retry (codes 1, 2, 4, 17, 32, 613, 80002, is_transient, HTTP
 * 5xx and 429 without a permanent code); else the final exit code: 77 (190,
 * 102, HTTP 401), 69 (everything else). */
int ig_graph_classify(const struct ig_graph_error *e);
/* "(#190/463) Error validating access token [fbtrace EJpl]" into buf. */
void ig_graph_error_format(const struct ig_graph_error *e, char *buf, size_t n);
/* Usage headers (reference 9.2): X-App-Usage and X-Business-Use-Case-Usage
 * values (either may be NULL).  *pct = highest call_count/total_cputime/
 * total_time percentage seen, *regain_s = longest estimated_time_to_regain_access
 * in seconds.  0, or -1 when neither header parsed. */
int ig_graph_usage_parse(const char *app_usage, const char *buc_usage, int *pct, long *regain_s);
/* Retry-After (delta seconds or an HTTP date) as seconds from now; -1 if
 * absent or unparsable. */
long ig_graph_retry_after(const char *value, long long now);
/* Full-jitter delay before retry number `retry` (1 = first): uniform in
 * [0, min(cap, backoff_ms * 2^(retry-1))] milliseconds. */
long ig_graph_backoff_ms(struct ig_graph *g, int retry);
/* A copy of a query or form string (or a URL: only its query is touched)
 * with the values of access_token, client_secret, fb_exchange_token,
 * input_token, code and refresh_token masked; new string. */
char *ig_graph_mask_query(const char *q);

#endif
