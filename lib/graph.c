/*
 * lib/graph.c — the HTTP client for Meta's Graph API on libcurl.
 *
 * One transfer engine serves both entry points: ig_graph_call() drives one
 * request on the long-lived easy handle (connections kept alive between
 * calls), ig_graph_run_many() drives many on a multi handle.  After each
 * attempt judge() applies the retry policy of graph.h and either finishes the
 * request or says how long to wait before the next attempt.
 *
 * The library does not print, with one declared exception: with verbose on,
 * each request and response line goes to stderr, tokens masked (graph.h).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <threads.h>
#include <time.h>

#include <curl/curl.h>

#include <build.h>  /* PACKAGE_VERSION */

#include "buf.h"
#include "crypto.h"
#include "graph.h"
#include "jsonio.h"

#define BODY_MAX (16u * 1024 * 1024)  /* larger responses are refused */
#define BACKOFF_CAP_MS (IG_GRAPH_WAIT_CAP_S * 1000L)
#define USAGE_SLOW_PCT 95             /* usage headers at or above this slow us down */

/* Query and form keys whose values are secrets (masked in -v output). */
static const char *const secret_keys[] = {
	"access_token", "client_secret", "fb_exchange_token", "input_token", "code",
	"refresh_token", NULL
};

/* ------------------------------------------------------------ global init */

static once_flag curl_once = ONCE_FLAG_INIT;
static CURLcode curl_init_rc;

/* curl_global_init is not thread-safe in older libcurl: call it exactly once
 * for the life of the process (never cleaned up: the process exit does). */
static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ------------------------------------------------------------ helpers */

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The program's name for -v lines (glibc), since the library has no cmd_name. */
extern char *program_invocation_short_name;

static void vlog(const struct ig_graph *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void vlog(const struct ig_graph *g, const char *fmt, ...)
{
	va_list ap;

	if (!g->verbose)
		return;
	fprintf(stderr, "%s: graph: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

char *ig_url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), i;
	char *out = malloc(3 * n + 1), *o = out;

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		    || c == '-' || c == '_' || c == '.' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

static int is_secret_key(const char *k, size_t n)
{
	int i;

	for (i = 0; secret_keys[i]; i++)
		if (strlen(secret_keys[i]) == n && !strncmp(secret_keys[i], k, n))
			return 1;
	return 0;
}

char *ig_graph_mask_query(const char *q)
{
	struct ig_buf b = IG_BUF_INIT(1u << 20);
	const char *p = q, *qm;

	if (!q)
		return NULL;
	/* A URL: copy up to its query untouched. */
	qm = strchr(q, '?');
	if (qm && strchr(q, '=') > qm) {
		ig_buf_add(&b, q, (size_t)(qm - q + 1));
		p = qm + 1;
	}
	while (*p) {
		size_t n = strcspn(p, "&#");
		const char *eq = memchr(p, '=', n);

		if (eq && is_secret_key(p, (size_t)(eq - p))) {
			char *v = strndup(eq + 1, n - (size_t)(eq - p) - 1);
			/* an app secret shows nothing; tokens show their ends */
			char *m = v && strncmp(p, "client_secret=", 14) ? ig_mask(v) : NULL;

			ig_buf_add(&b, p, (size_t)(eq - p + 1));
			ig_buf_adds(&b, m ? m : "****");
			ig_wipe_free(v);
			free(m);
		} else {
			ig_buf_add(&b, p, n);
		}
		p += n;
		if (*p == '#') {
			ig_buf_adds(&b, p);
			break;
		}
		if (*p == '&')
			ig_buf_add(&b, p++, 1);
	}
	return ig_buf_detach(&b, NULL);
}

/* "k=v&k=v" from a NULL-terminated key, value list; new string or NULL. */
static char *encode_pairs(const char *const *kv)
{
	struct ig_buf b = IG_BUF_INIT(1u << 24);
	int i, bad = 0;

	for (i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
		char *k = ig_url_escape(kv[i]), *v = ig_url_escape(kv[i + 1]);

		if (!k || !v || (i && ig_buf_add(&b, "&", 1)) || ig_buf_adds(&b, k)
		    || ig_buf_add(&b, "=", 1) || ig_buf_adds(&b, v))
			bad = 1;
		free(k);
		/* values may be tokens */
		ig_wipe_free(v);
	}
	if (bad) {
		if (b.data)
			memset(b.data, 0, b.len);
		ig_buf_release(&b);
		return NULL;
	}
	return ig_buf_detach(&b, NULL);
}

static const char *host_setting(enum ig_host h)
{
	switch (h) {
	case IG_HOST_GRAPH_FB: return "graph_facebook_url";
	case IG_HOST_GRAPH_IG: return "graph_instagram_url";
	case IG_HOST_API_IG: return "api_instagram_url";
	case IG_HOST_WWW_FB: return "www_facebook_url";
	case IG_HOST_WWW_IG: return "www_instagram_url";
	case IG_HOST_LLM: return "llm_url";
	}
	return "graph_facebook_url";
}

char *ig_graph_url(const struct ig_graph *g, enum ig_host host, int versioned, const char *path)
{
	const char *base = ig_config_get(g->cfg, host_setting(host));
	const char *ver = ig_config_get(g->cfg, "graph_version");
	size_t bn;
	char *out;

	if (!base)
		base = "";
	bn = strlen(base);
	while (bn && base[bn - 1] == '/')
		bn--;
	if (!path)
		path = "";
	if (asprintf(&out, "%.*s%s%s%s%s", (int)bn, base,
		     versioned && ver && *ver ? "/" : "", versioned && ver ? ver : "",
		     *path && *path != '/' ? "/" : "", path) < 0)
		return NULL;
	return out;
}

/* ------------------------------------------------------------ errors */

static void copy_str(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static long json_long(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return (long)json_integer_value(v);
	if (json_is_string(v))
		return strtol(json_string_value(v), NULL, 10);
	return 0;
}

int ig_graph_error_decode(const json_t *body, long http_status, struct ig_graph_error *e)
{
	const json_t *er;

	memset(e, 0, sizeof(*e));
	e->http_status = http_status;
	if (!json_is_object(body))
		return 0;
	er = json_object_get(body, "error");
	if (json_is_object(er)) {
		/* Graph API (reference 9.1); OpenAI-compatible servers share the shape. */
		const json_t *t = json_object_get(er, "is_transient");

		copy_str(e->message, sizeof(e->message), ig_json_str(er, "message"));
		copy_str(e->type, sizeof(e->type), ig_json_str(er, "type"));
		copy_str(e->fbtrace_id, sizeof(e->fbtrace_id), ig_json_str(er, "fbtrace_id"));
		e->code = json_long(er, "code");
		e->subcode = json_long(er, "error_subcode");
		e->is_transient = json_is_true(t) || (json_is_integer(t) && json_integer_value(t));
		return 1;
	}
	if (json_object_get(body, "error_message") || json_object_get(body, "error_type")) {
		/* api.instagram.com/oauth/access_token (reference 7.1 step 3). */
		copy_str(e->message, sizeof(e->message), ig_json_str(body, "error_message"));
		copy_str(e->type, sizeof(e->type), ig_json_str(body, "error_type"));
		e->code = json_long(body, "code");
		return 1;
	}
	if (json_is_string(er)) {
		/* OAuth style: {"error":"invalid_grant","error_description":"..."} */
		const char *d = ig_json_str(body, "error_description");

		copy_str(e->type, sizeof(e->type), json_string_value(er));
		copy_str(e->message, sizeof(e->message), d ? d : json_string_value(er));
		return 1;
	}
	return 0;
}

/*
 * The classification table (graph.h "Retry policy").  Rows are tried in
 * order; a row matches when its code is ANY or equal, and its subcode is 0
 * or equal — so rows with a subcode come before their code's general row.
 * Sources: reference §3.6 (messaging), §4.6 (media, comments), §9.1-9.2.
 */
#define ANY LONG_MIN
#define R IG_GRAPH_RETRY
#define W IG_GRAPH_WAIT
#define P IG_GRAPH_PERMANENT
#define L IG_GRAPH_RELOGIN

static const struct class_row {
	long code, subcode;
	enum ig_graph_action action;
	int acted;        /* a non-idempotent call may have been acted on */
	long wait_s;      /* WAIT: the default wait */
	const char *label;
} class_table[] = {
	/* §3.6: sent although an error came back; §4.6 comment created anyway */
	{ 1, 1357046, R, 1, 0, "delivered although an error was returned" },
	{ 20, 1772107, R, 1, 0, "created although an error was returned" },
	/* §4.6 media errors that share a code with a general row */
	{ 1, 2207057, P, 0, 0, "bad thumb_offset" },
	{ 4, 2207051, P, 0, 0, "restricted activity" },
	{ 9, 2207042, W, 0, IG_GRAPH_PUBLISH_WAIT_S, "publishing limit reached" },
	{ -1, 2207001, R, 1, 0, "server error" },
	{ ANY, 2207001, R, 1, 0, "server error" },
	{ -1, 2207032, R, 0, 0, "media creation failed" },
	{ -1, 2207053, R, 0, 0, "upload error" },
	{ -2, 2207003, R, 0, 0, "media download timed out" },
	{ -2, 2207020, P, 0, 0, "container expired: create it again" },
	{ 9007, 2207027, R, 0, 0, "media not ready: poll its status, then publish" },
	/* UNCONFIRMED whether transient (§4.6): a bounded number of retries */
	{ 9004, 2207052, R, 0, 0, "media URL could not be fetched (is it public?)" },
	{ 24, 2207008, P, 0, 0, "container not found: create it again" },
	{ 100, 2207089, P, 0, 0, "carousel item cannot be published alone" },
	{ 110, 2207018, P, 0, 0, "collaborator name invalid" },
	{ ANY, 2207082, R, 0, 0, "upload failed" },
	{ ANY, 2207028, P, 0, 0, "carousel validation failed" },
	{ ANY, 2207050, P, 0, 0, "restricted user" },
	{ ANY, 2207081, P, 0, 0, "account cannot post trial reels" },
	{ 36000, 2207004, P, 0, 0, "image larger than 8 MiB" },
	/* §3.6 messaging */
	{ 613, 2534040, W, 0, IG_GRAPH_RATE_WAIT_S, "messaging rate limit" },
	{ 1200, 0, R, 0, 0, "temporary send failure" },
	/* §9.1 general codes */
	{ 1, 0, R, 1, 0, "unknown error" },
	{ 2, 0, R, 1, 0, "service temporarily unavailable" },
	{ 4, 0, W, 0, IG_GRAPH_RATE_WAIT_S, "application rate limit" },
	{ 17, 0, W, 0, IG_GRAPH_RATE_WAIT_S, "user rate limit" },
	{ 32, 0, W, 0, IG_GRAPH_RATE_WAIT_S, "Pages rate limit" },
	{ 341, 0, W, 0, IG_GRAPH_RATE_WAIT_S, "application limit" },
	{ 613, 0, W, 0, IG_GRAPH_RATE_WAIT_S, "custom rate limit" },
	{ 80000, 0, W, 0, IG_GRAPH_RATE_WAIT_S, "ads rate limit" },
	{ 80001, 0, W, 0, IG_GRAPH_RATE_WAIT_S, "Pages rate limit" },
	{ 80002, 0, W, 0, IG_GRAPH_RATE_WAIT_S, "Instagram rate limit" },
	{ 80003, 0, W, 0, IG_GRAPH_RATE_WAIT_S, "ads rate limit" },
	{ 80004, 0, W, 0, IG_GRAPH_RATE_WAIT_S, "ads rate limit" },
	{ 80005, 0, W, 0, IG_GRAPH_RATE_WAIT_S, "leadgen rate limit" },
	{ 80006, 0, W, 0, IG_GRAPH_RATE_WAIT_S, "Messenger rate limit" },
	{ 80008, 0, W, 0, IG_GRAPH_RATE_WAIT_S, "WhatsApp rate limit" },
	{ 80014, 0, W, 0, IG_GRAPH_RATE_WAIT_S, "catalog rate limit" },
	{ 102, 0, L, 0, 0, "session invalid" },
	{ 190, 0, L, 0, 0, "access token invalid or expired" },
	{ 3, 0, P, 0, 0, "capability missing" },
	{ 10, 0, P, 0, 0, "permission denied" },
	{ 100, 0, P, 0, 0, "invalid parameter" },
	{ 368, 0, P, 0, 0, "temporarily blocked for policy" },
	{ 506, 0, P, 0, 0, "duplicate post" },
	{ 551, 0, P, 0, 0, "person not available" },
	{ 36000, 0, P, 0, 0, "media rejected" },
};

#undef R
#undef W
#undef P
#undef L

static int action_exit(enum ig_graph_action a)
{
	switch (a) {
	case IG_GRAPH_RETRY: case IG_GRAPH_WAIT: return IG_EX_TEMPFAIL;
	case IG_GRAPH_RELOGIN: return IG_EX_NOPERM;
	case IG_GRAPH_PERMANENT: break;
	}
	return IG_EX_UNAVAILABLE;
}

const char *ig_graph_action_name(enum ig_graph_action a)
{
	switch (a) {
	case IG_GRAPH_RETRY: return "retry";
	case IG_GRAPH_WAIT: return "wait";
	case IG_GRAPH_RELOGIN: return "relogin";
	case IG_GRAPH_PERMANENT: break;
	}
	return "permanent";
}

int ig_graph_classify(const struct ig_graph_error *e, struct ig_graph_verdict *out)
{
	struct ig_graph_verdict v = { IG_GRAPH_PERMANENT, 0, 0, 0, "error" };
	size_t i;
	int found = 0;

	for (i = 0; e->code && i < sizeof(class_table) / sizeof(class_table[0]); i++) {
		const struct class_row *r = &class_table[i];

		if ((r->code == ANY || r->code == e->code) && (!r->subcode || r->subcode == e->subcode)) {
			v.action = r->action;
			v.acted = r->acted;
			v.wait_s = r->wait_s;
			v.label = r->label;
			found = 1;
			break;
		}
	}
	if (!found) {
		if (e->code >= 200 && e->code <= 299) {
			v.label = "permission missing";
		} else if (e->code >= 36000 && e->code <= 36999) {
			v.label = "media rejected";
		} else if (e->is_transient) {
			v.action = IG_GRAPH_RETRY;
			v.label = "temporary error";
		} else if (e->http_status >= 500 && !e->code) {
			v.action = IG_GRAPH_RETRY;
			v.label = "server error";
		} else if (e->http_status >= 500 && e->code) {
			/* an unknown code on a 5xx: temporary, and it may have happened */
			v.action = IG_GRAPH_RETRY;
			v.label = "server error";
		} else if (e->http_status == 429) {
			v.action = IG_GRAPH_WAIT;
			v.wait_s = IG_GRAPH_RATE_WAIT_S;
			v.label = "rate limit";
		} else if (e->http_status == 401 && !e->code) {
			v.action = IG_GRAPH_RELOGIN;
			v.label = "unauthorised";
		}
	}
	/* A server error answer after the request arrived: it may have been
	 * acted on (reference §9.1), whatever the code says is temporary. */
	if (e->http_status >= 500 && v.action == IG_GRAPH_RETRY)
		v.acted = 1;
	v.exit_code = action_exit(v.action);
	if (out)
		*out = v;
	return v.exit_code;
}

void ig_graph_error_format(const struct ig_graph_error *e, char *buf, size_t n)
{
	size_t len;

	if (e->code && e->subcode)
		len = (size_t)snprintf(buf, n, "(#%ld/%ld) ", e->code, e->subcode);
	else if (e->code)
		len = (size_t)snprintf(buf, n, "(#%ld) ", e->code);
	else
		len = (size_t)snprintf(buf, n, "(HTTP %ld) ", e->http_status);
	if (len >= n)
		return;
	len += (size_t)snprintf(buf + len, n - len, "%s",
				e->message[0] ? e->message : e->type[0] ? e->type : "error");
	if (len < n && e->fbtrace_id[0])
		snprintf(buf + len, n - len, " [fbtrace %s]", e->fbtrace_id);
}

/* ------------------------------------------------------------ usage, waits */

/* The highest percentage of one usage object; its regain time into *regain. */
static int usage_obj(const json_t *o, long *regain)
{
	static const char *const keys[] = { "call_count", "total_cputime", "total_time" };
	size_t i;
	int pct = -1;
	long eta;

	if (!json_is_object(o))
		return -1;
	for (i = 0; i < 3; i++) {
		long v;

		if (!json_object_get(o, keys[i]))
			continue;
		v = json_long(o, keys[i]);
		if (v < 0)
			v = 0;
		if (v > pct)
			pct = (int)(v > 10000 ? 10000 : v);
	}
	/* minutes (reference 9.2) */
	eta = json_long(o, "estimated_time_to_regain_access");
	if (eta > 0 && eta < 100000 && eta * 60 > *regain)
		*regain = eta * 60;
	return pct;
}

static json_t *usage_load(const char *text)
{
	json_t *v;

	if (!text || !*text)
		return NULL;
	v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	if (v && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

int ig_graph_usage_parse(const char *app_usage, const char *buc_usage, const char *ad_usage,
			 struct ig_graph_usage *u)
{
	json_t *v;

	memset(u, 0, sizeof(*u));
	u->app_pct = u->buc_pct = u->ad_pct = -1;
	if ((v = usage_load(app_usage))) {
		u->app_pct = usage_obj(v, &u->regain_s);
		if (u->app_pct < 0)
			u->app_pct = 0;
		json_decref(v);
	}
	if ((v = usage_load(buc_usage))) {
		const char *k;
		json_t *arr, *o;
		size_t i;

		/* {"<object id>": [{type, call_count, ...}, ...], ...} (up to 32 objects) */
		u->buc_pct = 0;
		json_object_foreach(v, k, arr) {
			int p;

			if (json_is_object(arr) && (p = usage_obj(arr, &u->regain_s)) >= u->buc_pct) {
				u->buc_pct = p;
				snprintf(u->buc_type, sizeof(u->buc_type), "%s",
					 ig_json_str(arr, "type") ? ig_json_str(arr, "type") : "");
			}
			json_array_foreach(arr, i, o) {
				if ((p = usage_obj(o, &u->regain_s)) >= u->buc_pct && p >= 0) {
					u->buc_pct = p;
					snprintf(u->buc_type, sizeof(u->buc_type), "%s",
						 ig_json_str(o, "type") ? ig_json_str(o, "type") : "");
				}
			}
		}
		json_decref(v);
	}
	if ((v = usage_load(ad_usage))) {
		/* {"acc_id_util_pct":9.67,"reset_time_duration":0,"ads_api_access_tier":"..."} */
		const json_t *p = json_object_get(v, "acc_id_util_pct");
		long reset = json_long(v, "reset_time_duration");

		u->ad_pct = json_is_number(p) ? (int)json_number_value(p) : 0;
		if (u->ad_pct > 10000)
			u->ad_pct = 10000;
		if (u->ad_pct < 0)
			u->ad_pct = 0;
		if (reset > 0 && reset < 100000L * 60 && reset > u->regain_s)
			u->regain_s = reset;
		json_decref(v);
	}
	if (u->app_pct > u->pct)
		u->pct = u->app_pct;
	if (u->buc_pct > u->pct)
		u->pct = u->buc_pct;
	if (u->ad_pct > u->pct)
		u->pct = u->ad_pct;
	return u->app_pct < 0 && u->buc_pct < 0 && u->ad_pct < 0 ? -1 : 0;
}

long ig_graph_retry_after(const char *value, long long now)
{
	char *end;
	long v;
	time_t t;

	if (!value || !*value)
		return -1;
	errno = 0;
	v = strtol(value, &end, 10);
	if (end != value && !errno && v >= 0) {
		while (*end == ' ' || *end == '\t')
			end++;
		if (!*end)
			return v;
	}
	t = curl_getdate(value, NULL);
	if (t < 0)
		return -1;
	return t > now ? (long)(t - now) : 0;
}

long ig_graph_backoff_ms(struct ig_graph *g, int retry)
{
	long bound = g->backoff_ms > 0 ? g->backoff_ms : 0;
	int i;

	for (i = 1; i < retry && bound < BACKOFF_CAP_MS; i++)
		bound *= 2;
	if (bound > BACKOFF_CAP_MS)
		bound = BACKOFF_CAP_MS;
	if (bound <= 0)
		return 0;
	return (long)((double)rand_r(&g->seed) / ((double)RAND_MAX + 1.0) * (double)(bound + 1));
}

/* ------------------------------------------------------------ init */

static int setting_number(const struct ig_config *cfg, const char *name, double min, double max,
			  double *out, struct ig_err *err)
{
	const char *v = ig_config_get(cfg, name);
	char *end;
	double d;

	if (!v || !*v)
		return ig_err_set(err, IG_EX_CONFIG, "setting '%s' is empty", name);
	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(d) || d < min || d > max)
		return ig_err_set(err, IG_EX_CONFIG, "setting '%s' must be a number from %g to %g, not '%s'",
				  name, min, max, v);
	*out = d;
	return 0;
}

int ig_graph_init(struct ig_graph *g, const struct ig_config *cfg, int verbose, struct ig_err *err)
{
	double timeout, retries, backoff;
	int rc;

	memset(g, 0, sizeof(*g));
	g->cfg = cfg;
	g->verbose = verbose;
	if ((rc = setting_number(cfg, "http_timeout", 0.05, 3600, &timeout, err))
	    || (rc = setting_number(cfg, "http_retries", 0, 20, &retries, err))
	    || (rc = setting_number(cfg, "http_backoff_ms", 0, 60000, &backoff, err)))
		return rc;
	if (retries != (double)(int)retries)
		return ig_err_set(err, IG_EX_CONFIG, "setting 'http_retries' must be a whole number");
	g->timeout_ms = (long)(timeout * 1000);
	g->max_retries = (int)retries;
	g->backoff_ms = (long)backoff;
	call_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return ig_err_set(err, IG_EX_SOFTWARE, "cannot initialise libcurl: %s",
				  curl_easy_strerror(curl_init_rc));
	if (!(g->curl = curl_easy_init()))
		return ig_err_set(err, IG_EX_SOFTWARE, "cannot initialise libcurl");
	if (ig_random(&g->seed, sizeof(g->seed)))
		g->seed = (unsigned int)time(NULL);
	return 0;
}

void ig_graph_release(struct ig_graph *g)
{
	if (g->curl)
		curl_easy_cleanup(g->curl);
	g->curl = NULL;
}

const char *ig_graph_resp_trace(const struct ig_graph_resp *r)
{
	if (r->trace_id[0])
		return r->trace_id;
	if (r->request_id[0])
		return r->request_id;
	return r->gerr.fbtrace_id;
}

void ig_graph_resp_release(struct ig_graph_resp *r)
{
	json_decref(r->body);
	r->body = NULL;
	free(r->location);
	r->location = NULL;
}

/* ------------------------------------------------------------ one transfer */

struct xfer {
	struct ig_graph_req *req;
	CURL *h;
	int own_handle;             /* h is ours (multi), not g->curl */
	struct curl_slist *hdrs;
	char *url;                  /* with the query: holds tokens, wiped on free */
	char *post;                 /* form or JSON body */
	size_t postlen;
	struct ig_buf body;
	char retry_after[64];
	char trace_id[64];          /* x-fb-trace-id: Meta's id for the request */
	char request_id[64];        /* x-fb-request-id, when sent */
	char *app_usage;            /* usage headers, any size (reference §9.2) */
	char *buc_usage;
	char *ad_usage;
	char errbuf[CURL_ERROR_SIZE];
	int attempt;                /* attempts made */
	double start_at;            /* monotonic time the next attempt may start */
	double began;               /* monotonic start of the current attempt */
	int active, done;
};

static size_t on_body(char *p, size_t size, size_t n, void *u)
{
	struct xfer *x = u;

	if (ig_buf_add(&x->body, p, size * n))
		return 0;  /* over BODY_MAX: curl reports a write error */
	return size * n;
}

/* The value of a header line (its name is skip bytes), trimmed: its start,
 * and its length in *vl. */
static const char *header_trim(const char *p, size_t len, size_t skip, size_t *vl)
{
	const char *v = p + skip;
	size_t n = len - skip;

	while (n && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	*vl = n;
	return v;
}

/* A header's value, trimmed, into dst (cut to n - 1 bytes). */
static void header_value(char *dst, size_t n, const char *p, size_t len, size_t skip)
{
	size_t vl;
	const char *v = header_trim(p, len, skip, &vl);

	if (vl >= n)
		vl = n - 1;
	memcpy(dst, v, vl);
	dst[vl] = '\0';
}

/* A header's value, trimmed, as a new string (NULL when out of memory). */
static char *header_dup(const char *p, size_t len, size_t skip)
{
	size_t vl;
	const char *v = header_trim(p, len, skip, &vl);

	return strndup(v, vl);
}

static void usage_forget(struct xfer *x)
{
	free(x->app_usage);
	free(x->buc_usage);
	free(x->ad_usage);
	x->app_usage = x->buc_usage = x->ad_usage = NULL;
}

static void header_set(char **dst, const char *p, size_t len, size_t skip)
{
	free(*dst);
	*dst = header_dup(p, len, skip);
}

static size_t on_header(char *p, size_t size, size_t n, void *u)
{
	struct xfer *x = u;
	size_t len = size * n;

	if (len > 5 && !strncmp(p, "HTTP/", 5)) {
		/* a new response (after 100 Continue): forget the previous one's */
		x->retry_after[0] = '\0';
		x->trace_id[0] = x->request_id[0] = '\0';
		usage_forget(x);
	} else if (len > 14 && !strncasecmp(p, "x-fb-trace-id:", 14)) {
		header_value(x->trace_id, sizeof(x->trace_id), p, len, 14);
	} else if (len > 16 && !strncasecmp(p, "x-fb-request-id:", 16)) {
		header_value(x->request_id, sizeof(x->request_id), p, len, 16);
	} else if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
		header_value(x->retry_after, sizeof(x->retry_after), p, len, 12);
	} else if (len > 12 && !strncasecmp(p, "X-App-Usage:", 12)) {
		header_set(&x->app_usage, p, len, 12);
	} else if (len > 26 && !strncasecmp(p, "X-Business-Use-Case-Usage:", 26)) {
		header_set(&x->buc_usage, p, len, 26);
	} else if (len > 19 && !strncasecmp(p, "X-Ad-Account-Usage:", 19)) {
		header_set(&x->ad_usage, p, len, 19);
	}
	return len;
}

/* Safe to send again (graph.h): GETs, and what the caller says is. */
static int idempotent(const struct ig_graph_req *r)
{
	return r->idempotent || !r->method || !strcmp(r->method, "GET")
		|| !strcmp(r->method, "HEAD");
}

static const char *method_of(const struct ig_graph_req *r)
{
	return r->method ? r->method : "GET";
}

static void xfer_free(struct xfer *x)
{
	if (x->own_handle && x->h)
		curl_easy_cleanup(x->h);
	x->h = NULL;
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	usage_forget(x);
	ig_wipe_free(x->url);
	x->url = NULL;
	if (x->post)
		memset(x->post, 0, x->postlen);
	free(x->post);
	x->post = NULL;
	if (x->body.data)
		memset(x->body.data, 0, x->body.len);
	ig_buf_release(&x->body);
}

/* Build URL, body and headers once; 0 or an exit code in req->err. */
static int xfer_prepare(struct ig_graph *g, struct xfer *x, struct ig_graph_req *req)
{
	char *base, *q = NULL;

	memset(x, 0, sizeof(*x));
	x->req = req;
	ig_buf_init(&x->body, BODY_MAX);
	memset(&req->resp, 0, sizeof(req->resp));
	req->rc = 0;
	ig_err_clear(&req->err);
	base = ig_graph_url(g, req->host, req->versioned, req->path);
	if (!base)
		return req->rc = ig_err_set(&req->err, IG_EX_SOFTWARE, "out of memory");
	if (req->query && req->query[0]) {
		q = encode_pairs(req->query);
		if (!q || asprintf(&x->url, "%s%c%s", base, strchr(base, '?') ? '&' : '?', q) < 0)
			x->url = NULL;
		ig_wipe_free(q);
		free(base);
	} else {
		x->url = base;
	}
	if (!x->url)
		return req->rc = ig_err_set(&req->err, IG_EX_SOFTWARE, "out of memory");
	if (req->form) {
		x->post = encode_pairs(req->form);
		x->hdrs = curl_slist_append(x->hdrs,
			"Content-Type: application/x-www-form-urlencoded");
	} else if (req->json) {
		x->post = json_dumps(req->json, JSON_COMPACT);
		x->hdrs = curl_slist_append(x->hdrs, "Content-Type: application/json");
	}
	if ((req->form || req->json) && !x->post)
		return req->rc = ig_err_set(&req->err, IG_EX_SOFTWARE, "out of memory");
	x->postlen = x->post ? strlen(x->post) : 0;
	x->hdrs = curl_slist_append(x->hdrs, "Accept: application/json");
	x->hdrs = curl_slist_append(x->hdrs, "Expect:");
	if (req->token) {
		char *h;

		if (asprintf(&h, "Authorization: Bearer %s", req->token) < 0)
			return req->rc = ig_err_set(&req->err, IG_EX_SOFTWARE, "out of memory");
		x->hdrs = curl_slist_append(x->hdrs, h);
		ig_wipe_free(h);
	}
	return 0;
}

/* Set up handle h for the next attempt of x. */
static void xfer_setup(struct ig_graph *g, struct xfer *x)
{
	struct ig_graph_req *req = x->req;
	const char *m = method_of(req);
	CURL *h = x->h;

	curl_easy_reset(h);
	ig_buf_reset(&x->body);
	x->retry_after[0] = x->errbuf[0] = '\0';
	usage_forget(x);
	curl_easy_setopt(h, CURLOPT_URL, x->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, g->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, g->timeout_ms < 10000 ? g->timeout_ms : 10000L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "igkit/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_PRIVATE, x);
	if (!strcmp(m, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		if (!strcmp(m, "POST") || x->post) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->post ? x->post : "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)x->postlen);
		}
		if (strcmp(m, "POST"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
	}
	x->attempt++;
	x->began = mono_now();
	if (g->verbose) {
		char *mu = ig_graph_mask_query(x->url);

		vlog(g, "> %s %s%s", m, mu ? mu : "?", req->token ? " (Authorization: Bearer ****)" : "");
		if (x->post && req->form) {
			char *mp = ig_graph_mask_query(x->post);

			vlog(g, "> body %s", mp ? mp : "?");
			free(mp);
		} else if (x->post) {
			vlog(g, "> body %.300s%s", x->post, x->postlen > 300 ? "…" : "");
		}
		free(mu);
	}
}

static void set_final(struct xfer *x, int code)
{
	if (!code)
		memset(&x->req->resp.gerr, 0, sizeof(x->req->resp.gerr));
	x->req->rc = code;
	x->req->resp.attempts = x->attempt;
	x->done = 1;
}

/* What the request was, for messages (no query: it may hold tokens). */
static void what(const struct xfer *x, char *buf, size_t n)
{
	snprintf(buf, n, "%s %s", method_of(x->req), x->req->path ? x->req->path : "/");
}

static int transport_unsent(CURLcode cc)
{
	return cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY
		|| cc == CURLE_COULDNT_CONNECT;
}

/* Finish the request with code and a message (set_final); 1, judge()'s
 * "finished". */
static int finish(struct xfer *x, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int finish(struct xfer *x, int code, const char *fmt, ...)
{
	char msg[sizeof(x->req->err.msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ig_err_set(&x->req->err, code, "%s", msg);
	set_final(x, code);
	return 1;
}

/* The attempt judge() weighs: what it was, how it went. */
struct attempt {
	char w[300];          /* "POST /path" for messages */
	double ms;            /* how long it took */
	long status;          /* HTTP status, 0 when none came */
	long req_size;        /* bytes of the request that left */
	int last;             /* no retry left */
};

/* An attempt that ended without a response: finished (a bad URL, too large,
 * TLS, an ambiguous send, no retry left) or retried after a backoff. */
static int judge_transport(struct ig_graph *g, struct xfer *x, CURLcode cc,
			   const struct attempt *t, double *delay)
{
	const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
	const char *how = cc == CURLE_OPERATION_TIMEDOUT ? "timed out" : why;

	vlog(g, "< %s failed after %.0f ms: %s", t->w, t->ms, why);
	if (cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL)
		return finish(x, IG_EX_CONFIG, "graph: %s: bad URL (check the *_url settings): %s",
			      t->w, why);
	if (cc == CURLE_WRITE_ERROR)
		return finish(x, IG_EX_UNAVAILABLE, "graph: %s: response larger than %u bytes", t->w,
			      BODY_MAX);
	if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
		return finish(x, IG_EX_UNAVAILABLE, "graph: %s: TLS verification failed: %s", t->w,
			      why);
	/* Sent and possibly acted on: a non-idempotent request is never
	 * resent automatically (graph.h). */
	if (!transport_unsent(cc) && t->req_size > 0 && !idempotent(x->req)) {
		x->req->resp.ambiguous = 1;
		return finish(x, IG_EX_TEMPFAIL, "graph: %s: %s after the request was sent; it may have"
			      " been acted on (ambiguous, not retried)", t->w, how);
	}
	if (t->last)
		return finish(x, IG_EX_TEMPFAIL, "graph: %s: %s (gave up after %d attempt%s)", t->w,
			      how, x->attempt, x->attempt == 1 ? "" : "s");
	*delay = (double)ig_graph_backoff_ms(g, x->attempt) / 1000.0;
	vlog(g, "retrying %s in %.0f ms", t->w, *delay * 1000);
	return 0;
}

/* A response arrived: its body, Location and usage headers into req->resp;
 * usage near the limit paces the next calls (reference §9.2). */
static void take_response(struct ig_graph *g, struct xfer *x, const struct attempt *t)
{
	struct ig_graph_resp *r = &x->req->resp;
	char *loc = NULL;

	vlog(g, "< %ld %s (%.0f ms, %zu bytes)", t->status, t->w, t->ms, x->body.len);
	r->body = NULL;
	memcpy(r->trace_id, x->trace_id, sizeof(r->trace_id));
	memcpy(r->request_id, x->request_id, sizeof(r->request_id));
	if (x->body.len) {
		json_error_t je;

		r->body = json_loadb(x->body.data, x->body.len, JSON_DECODE_ANY, &je);
	}
	if (curl_easy_getinfo(x->h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
		r->location = strdup(loc);
	if (!ig_graph_usage_parse(x->app_usage, x->buc_usage, x->ad_usage, &r->usage)
	    && r->usage.pct >= USAGE_SLOW_PCT) {
		double slow = (double)g->backoff_ms / 1000.0 * (double)(r->usage.pct - 90);

		if (slow > IG_GRAPH_WAIT_CAP_S)
			slow = IG_GRAPH_WAIT_CAP_S;
		if (slow > g->slowdown)
			g->slowdown = slow;
		vlog(g, "usage at %d%% of the limit: pausing %.1f s before the next call",
		     r->usage.pct, g->slowdown);
	}
}

/* A temporary error (RETRY or WAIT in v): retried after the wait the server
 * asked for (or a backoff), or finished when that wait is too long or no
 * retry is left. */
static int judge_wait(struct ig_graph *g, struct xfer *x, const struct ig_graph_verdict *v,
		      const char *msg, const struct attempt *t, double *delay)
{
	struct ig_graph_resp *r = &x->req->resp;
	long wait_hint = ig_graph_retry_after(x->retry_after, (long long)time(NULL));

	if (r->usage.regain_s > wait_hint)
		wait_hint = r->usage.regain_s;
	if (v->action == IG_GRAPH_WAIT) {
		r->rate_limited = 1;
		/* Without a header saying how long: minutes, not seconds (§9.2). */
		if (wait_hint <= 0)
			wait_hint = v->wait_s > 0 ? v->wait_s : IG_GRAPH_RATE_WAIT_S;
	}
	if (wait_hint > IG_GRAPH_WAIT_CAP_S) {
		char when[32];
		time_t at = time(NULL) + wait_hint;
		struct tm tm;

		gmtime_r(&at, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		r->retry_after_s = wait_hint;
		return finish(x, IG_EX_TEMPFAIL, "graph: %s; %s: retry after %ld min (%s)", msg,
			      v->action == IG_GRAPH_WAIT ? "rate limited" : "temporary",
			      (wait_hint + 59) / 60, when);
	}
	if (t->last) {
		r->retry_after_s = wait_hint > 0 ? wait_hint : 0;
		return finish(x, IG_EX_TEMPFAIL, "graph: %s (%s; gave up after %d attempt%s)", msg,
			      v->label, x->attempt, x->attempt == 1 ? "" : "s");
	}
	*delay = (double)ig_graph_backoff_ms(g, x->attempt) / 1000.0;
	if (wait_hint > *delay)
		*delay = (double)wait_hint;
	vlog(g, "retrying %s in %.0f ms: %s", t->w, *delay * 1000, msg);
	return 0;
}

/* The response's status and body: done, a final error, ambiguous, or a
 * temporary error for judge_wait. */
static int judge_response(struct ig_graph *g, struct xfer *x, const struct attempt *t,
			  double *delay)
{
	struct ig_graph_req *req = x->req;
	struct ig_graph_resp *r = &req->resp;
	struct ig_graph_verdict v;
	char msg[800];

	if (t->status >= 200 && t->status < 300 && x->body.len && !r->body && !idempotent(req)) {
		/* "sent" needs a readable answer; an unparsable one leaves the
		 * outcome unknown (reference §3.6). */
		r->ambiguous = 1;
		return finish(x, IG_EX_TEMPFAIL, "graph: %s: HTTP %ld with an unreadable body; it may"
			      " have been acted on (ambiguous, not retried)", t->w, t->status);
	}
	if (t->status >= 200 && t->status < 400) {
		set_final(x, 0);
		return 1;
	}
	ig_graph_error_decode(r->body, t->status, &r->gerr);
	if (!r->gerr.code && !r->gerr.message[0] && x->body.len && !r->body) {
		/* a non-JSON error page: keep its first line for the message */
		size_t n = strcspn(x->body.data, "\r\n");

		snprintf(r->gerr.message, sizeof(r->gerr.message), "%.*s", (int)(n > 200 ? 200 : n),
			 x->body.data);
	}
	ig_graph_error_format(&r->gerr, msg, sizeof(msg));
	ig_graph_classify(&r->gerr, &v);
	if (v.action == IG_GRAPH_PERMANENT || v.action == IG_GRAPH_RELOGIN)
		return finish(x, v.exit_code, "graph: %s", msg);
	/* A non-idempotent request that may have been acted on is never resent
	 * (reference §3.6, §9.1): the caller records the outcome as unknown. */
	if (v.acted && !idempotent(req)) {
		r->ambiguous = 1;
		return finish(x, IG_EX_TEMPFAIL, "graph: %s: %s; it may have been acted on (ambiguous,"
			      " not retried)", t->w, msg);
	}
	return judge_wait(g, x, &v, msg, t, delay);
}

/*
 * Judge an attempt that ended with cc.  Returns 1 when the request is
 * finished (req->rc, err, resp set), 0 when it should be retried after
 * *delay seconds.
 */
static int judge(struct ig_graph *g, struct xfer *x, CURLcode cc, double *delay)
{
	struct ig_graph_resp *r = &x->req->resp;
	struct attempt t;

	memset(&t, 0, sizeof(t));
	what(x, t.w, sizeof(t.w));
	t.last = x->attempt > g->max_retries;
	t.ms = (mono_now() - x->began) * 1000;
	*delay = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &t.status);
	curl_easy_getinfo(x->h, CURLINFO_REQUEST_SIZE, &t.req_size);
	r->status = t.status;
	r->attempts = x->attempt;
	r->ambiguous = r->rate_limited = 0;
	r->retry_after_s = 0;
	if (cc != CURLE_OK)
		return judge_transport(g, x, cc, &t, delay);
	take_response(g, x, &t);
	return judge_response(g, x, &t, delay);
}

/* The pause the usage headers asked for, taken once. */
static double take_slowdown(struct ig_graph *g)
{
	double s = g->slowdown;

	g->slowdown = 0;
	return s > IG_GRAPH_WAIT_CAP_S ? IG_GRAPH_WAIT_CAP_S : s;
}

int ig_graph_call(struct ig_graph *g, struct ig_graph_req *req)
{
	struct xfer x;
	double delay = 0;

	if (xfer_prepare(g, &x, req)) {
		xfer_free(&x);
		return req->rc;
	}
	x.h = g->curl;
	for (;;) {
		CURLcode cc;

		sleep_s(delay + take_slowdown(g));
		xfer_setup(g, &x);
		cc = curl_easy_perform(x.h);
		if (judge(g, &x, cc, &delay))
			break;
		/* Retrying: drop what the failed attempt left. */
		ig_graph_resp_release(&req->resp);
	}
	/* The handle must not point at x's buffers once x is gone. */
	curl_easy_setopt(x.h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(x.h, CURLOPT_ERRORBUFFER, NULL);
	xfer_free(&x);
	return req->rc;
}

static int severity(int rc)
{
	switch (rc) {
	case 0: return 0;
	case IG_EX_NOPERM: return 4;
	case IG_EX_TEMPFAIL: return 3;
	case IG_EX_UNAVAILABLE: return 2;
	default: return 1;
	}
}

/* Start the transfers that may start now (per-host cap, backoff times);
 * one that cannot start is finished.  The earliest later start, or -1. */
static double start_ready(struct ig_graph *g, CURLM *m, struct xfer *xs, size_t n, int *per_host,
			  int max_parallel, double now, size_t *left)
{
	double next = -1;
	size_t i;

	for (i = 0; i < n; i++) {
		struct xfer *x = &xs[i];

		if (x->done || x->active)
			continue;
		if (x->start_at > now) {
			if (next < 0 || x->start_at < next)
				next = x->start_at;
			continue;
		}
		if (per_host[x->req->host] >= max_parallel)
			continue;
		xfer_setup(g, x);
		if (curl_multi_add_handle(m, x->h) != CURLM_OK) {
			x->req->rc = ig_err_set(&x->req->err, IG_EX_SOFTWARE, "cannot start a transfer");
			x->done = 1;
			(*left)--;
			continue;
		}
		x->active = 1;
		per_host[x->req->host]++;
	}
	return next;
}

/* Judge every transfer that ended: finished, or due again after its delay. */
static void collect_done(struct ig_graph *g, CURLM *m, int *per_host, size_t *left)
{
	CURLMsg *msg;
	int msgs;

	while ((msg = curl_multi_info_read(m, &msgs))) {
		struct xfer *x = NULL;
		double delay;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(m, msg->easy_handle);
		x->active = 0;
		per_host[x->req->host]--;
		if (judge(g, x, msg->data.result, &delay)) {
			(*left)--;
		} else {
			ig_graph_resp_release(&x->req->resp);
			x->start_at = mono_now() + delay + take_slowdown(g);
		}
	}
}

int ig_graph_run_many(struct ig_graph *g, struct ig_graph_req *reqs, size_t n, int max_parallel)
{
	struct xfer *xs;
	CURLM *m;
	size_t i, left = n;
	int worst = 0, per_host[IG_HOST_LLM + 1] = { 0 };

	if (n == 0)
		return 0;
	if (max_parallel < 1)
		max_parallel = 1;
	xs = calloc(n, sizeof(*xs));
	m = curl_multi_init();
	if (!xs || !m) {
		free(xs);
		if (m)
			curl_multi_cleanup(m);
		for (i = 0; i < n; i++)
			reqs[i].rc = ig_err_set(&reqs[i].err, IG_EX_SOFTWARE, "out of memory");
		return IG_EX_SOFTWARE;
	}
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)max_parallel);
	for (i = 0; i < n; i++) {
		if (xfer_prepare(g, &xs[i], &reqs[i]) || !(xs[i].h = curl_easy_init())) {
			if (!reqs[i].rc)
				reqs[i].rc = ig_err_set(&reqs[i].err, IG_EX_SOFTWARE, "out of memory");
			xs[i].done = 1;
			left--;
			continue;
		}
		xs[i].own_handle = 1;
	}
	{
		double slow = take_slowdown(g), now = mono_now();

		for (i = 0; i < n; i++)
			xs[i].start_at = now + slow;
	}
	while (left > 0) {
		double now = mono_now(), next;
		int running = 0;
		long wait_ms;

		next = start_ready(g, m, xs, n, per_host, max_parallel, now, &left);
		if (left == 0)
			break;
		curl_multi_perform(m, &running);
		collect_done(g, m, per_host, &left);
		if (left == 0)
			break;
		wait_ms = 1000;
		if (next >= 0) {
			double d = (next - mono_now()) * 1000;

			wait_ms = d < 0 ? 0 : d > 1000 ? 1000 : (long)d + 1;
		}
		curl_multi_poll(m, NULL, 0, (int)wait_ms, NULL);
	}
	for (i = 0; i < n; i++) {
		if (xs[i].active)
			curl_multi_remove_handle(m, xs[i].h);
		xfer_free(&xs[i]);
		if (severity(reqs[i].rc) > severity(worst))
			worst = reqs[i].rc;
	}
	curl_multi_cleanup(m);
	free(xs);
	return worst;
}
