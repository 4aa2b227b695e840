/*
 * graph.h — the HTTP client for Meta's Graph API (and the OpenAI-compatible
 * LLM endpoint), on libcurl.  Only the programs that call Meta link it
 * (ig-connect, ig-reply, ...); ig-route and tenant-admin never do.
 *
 * Hosts and the API version come from the configuration (DESIGN.md §4), so
 * the whole toolkit can run against tests/sim/graphsim.py.
 *
 * Retry policy, in one place (ig_graph_call / ig_graph_run_many), driven by
 * the classification table in graph.c (ig_graph_classify, reference §3.6,
 * §4.6, §9).  Every failure falls in one of four classes:
 *   RETRY      temporary (codes 1, 2, 1200, -1/2207001 server error, 9007/
 *              2207027 media not ready, 9004/2207052 media URL not fetched
 *              (UNCONFIRMED, §4.6: bounded retries), is_transient, HTTP 5xx, lost
 *              connections): retried with full-jitter exponential backoff
 *              (capped), Retry-After honoured → 75 when retries run out;
 *   WAIT       rate limits (4, 17, 32, 341, 613, 80001-80014, 9/2207042,
 *              HTTP 429): never an account or token failure.  Retried in
 *              process only when Retry-After or a usage header's
 *              estimated_time_to_regain_access says how long and that is at
 *              most IG_GRAPH_WAIT_CAP_S; otherwise → 75 at once with
 *              resp.retry_after_s set (the header's time, else
 *              IG_GRAPH_RATE_WAIT_S: minutes, not seconds) and "retry after
 *              N min" in the message;
 *   PERMANENT  everything else (10, 100, 200-299, 368, 506, 551, media
 *              errors of §4.6 such as 36000/2207004, 24/2207008) → 69;
 *   RELOGIN    190, 102, HTTP 401 without a code → 77 (the caller marks the
 *              account for re-authorisation).
 * Only idempotent requests are ever resent: GETs, and requests whose caller
 * sets req->idempotent (DELETE is not assumed idempotent: a resent DELETE
 * whose first copy worked answers "does not exist").  A non-idempotent
 * request (a send, media_publish, a comment) whose answer says it may have
 * been acted on — HTTP 5xx, codes 1 (incl. 1/1357046 "delivered although an
 * error is returned") and 2, 20/1772107 "created anyway", -1/2207001, an
 * unparsable body, or a timeout / lost connection after the request left —
 * is *ambiguous*: never resent, resp->ambiguous set, 75.  The outbox records
 * it as 'unknown' and a person or a read-back settles it.  A RETRY-class
 * error that cannot have been acted on (1200, 2207027) is resent like a GET.
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

/* Usage headers (reference §9.2).  A percentage is -1 when its header was
 * absent or did not parse. */
struct ig_graph_usage {
	int app_pct;      /* X-App-Usage: highest of call_count, total_cputime, total_time */
	int buc_pct;      /* X-Business-Use-Case-Usage: highest over every object and type */
	int ad_pct;       /* X-Ad-Account-Usage: acc_id_util_pct */
	int pct;          /* highest of the three, 0 when none */
	long regain_s;    /* longest estimated_time_to_regain_access (minutes, here in
	                   * seconds) or reset_time_duration; 0 when none said */
	char buc_type[32];/* the BUC type of the highest object ("instagram", ...) or "" */
};

struct ig_graph_resp {
	long status;                 /* HTTP status, 0 if none was received */
	json_t *body;                /* new reference or NULL (non-JSON body) */
	struct ig_graph_error gerr;  /* filled when the call failed with a Graph error */
	int ambiguous;               /* the request may have been acted on (see above) */
	int rate_limited;            /* the failure was a rate limit (WAIT): not the account's fault */
	long retry_after_s;          /* on 75: suggested seconds before retrying (0 = soon) */
	int attempts;                /* how many times it was sent */
	char *location;              /* Location header of a redirect, or NULL */
	struct ig_graph_usage usage; /* the last response's usage headers */
	char trace_id[64];           /* x-fb-trace-id of the last response, or "" */
	char request_id[64];         /* x-fb-request-id of the last response, or "" */
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
/* Meta's id for the request the response answers: x-fb-trace-id, else
 * x-fb-request-id, else the error body's fbtrace_id; "" when none was sent. */
const char *ig_graph_resp_trace(const struct ig_graph_resp *r);

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
	int idempotent;                /* GETs are; a POST or DELETE may say so (safe to resend) */
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
/* The wait suggested after a rate limit that did not say how long
 * (reference §9.2: minutes, not seconds). */
#define IG_GRAPH_RATE_WAIT_S 300
/* After 9/2207042 (the 24-hour publishing limit). */
#define IG_GRAPH_PUBLISH_WAIT_S 3600

/* Decode a Graph error object {"error":{message,type,code,error_subcode,
 * is_transient,fbtrace_id}}, the api.instagram.com shape {error_type, code,
 * error_message}, or an OAuth-style {"error":"...","error_description":"..."}.
 * body is borrowed and may be NULL.  1 when an error was found (e filled,
 * http_status set), 0 when not (e zeroed except http_status). */
int ig_graph_error_decode(const json_t *body, long http_status, struct ig_graph_error *e);

/* The classes of the retry policy above. */
enum ig_graph_action {
	IG_GRAPH_RETRY = 1,   /* temporary: retry (idempotent calls now, others later) → 75 */
	IG_GRAPH_WAIT,        /* rate limited: wait, then retry; not an account failure → 75 */
	IG_GRAPH_PERMANENT,   /* final for this request → 69 */
	IG_GRAPH_RELOGIN,     /* token invalid or expired: re-login / refresh → 77 */
};

struct ig_graph_verdict {
	enum ig_graph_action action;
	int exit_code;        /* 75 (RETRY, WAIT), 69 (PERMANENT), 77 (RELOGIN) */
	int acted;            /* a non-idempotent call may have been acted on: ambiguous */
	long wait_s;          /* WAIT: the default wait when no header says (seconds) */
	const char *label;    /* what it means, a few words ("rate limit", "server error") */
};

/*
 * Classify an error with the table in graph.c: the first row matching the
 * code and subcode (rows with a subcode first), then is_transient, then the
 * HTTP status (5xx RETRY and acted, 429 WAIT, 401 RELOGIN), else PERMANENT.
 * v may be NULL.  Returns v->exit_code.  Publish, comment and insights code
 * call it too: it covers the media and comment codes of reference §4.6.
 */
int ig_graph_classify(const struct ig_graph_error *e, struct ig_graph_verdict *v);
/* "retry", "wait", "permanent", "relogin". */
const char *ig_graph_action_name(enum ig_graph_action a);
/* "(#190/463) Error validating access token [fbtrace EJpl]" into buf. */
void ig_graph_error_format(const struct ig_graph_error *e, char *buf, size_t n);
/* Usage headers (reference 9.2): the values of X-App-Usage,
 * X-Business-Use-Case-Usage (any size, any number of objects) and
 * X-Ad-Account-Usage; any may be NULL.  0 when at least one parsed, -1 when
 * none did (u filled either way). */
int ig_graph_usage_parse(const char *app_usage, const char *buc_usage, const char *ad_usage,
			 struct ig_graph_usage *u);
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
