#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "authz.h"
#include "cgi.h"
#include "crypto.h"
#include "exitcodes.h"
#include "intake.h"
#include "jsonio.h"
#include "webhook.h"

/* ------------------------------------------------------------ envelopes */

/* Header value by case-insensitive name, NULL when absent.  Non-string
 * values are a malformed envelope (*bad set). */
static const char *header(json_t *headers, const char *name, int *bad)
{
	const char *k;
	json_t *v;

	json_object_foreach(headers, k, v) {
		if (strcasecmp(k, name))
			continue;
		if (!json_is_string(v)) {
			*bad = 1;
			return NULL;
		}
		return json_string_value(v);
	}
	return NULL;
}

int ig_intake_envelope(const char *line, size_t len, json_t **env, struct ig_route_in *in,
		       char *why, size_t whylen)
{
	struct ig_err err = { 0 };
	json_t *body, *headers;
	int bad = 0;

	*env = ig_json_parse(line, len, &err);
	if (!*env) {
		snprintf(why, whylen, "not an envelope: %s", err.msg);
		return -1;
	}
	body = json_object_get(*env, "body");
	headers = json_object_get(*env, "headers");
	if (!json_is_object(*env) || !json_is_string(body)) {
		snprintf(why, whylen, "not an envelope: no string \"body\"");
		return -1;
	}
	if (headers && !json_is_object(headers)) {
		snprintf(why, whylen, "not an envelope: \"headers\" is not an object");
		return -1;
	}
	in->body = json_string_value(body);
	in->len = json_string_length(body);
	in->sha256 = header(headers, "X-Hub-Signature-256", &bad);
	in->sha1 = header(headers, "X-Hub-Signature", &bad);
	if (bad) {
		snprintf(why, whylen, "not an envelope: a signature header is not a string");
		return -1;
	}
	return 0;
}

int ig_intake_is_envelope(const char *line, size_t len)
{
	json_t *v = ig_json_parse(line, len, NULL);
	int yes = json_is_object(v) && json_is_string(json_object_get(v, "body"))
		  && !json_object_get(v, "entry");

	json_decref(v);
	return yes;
}

size_t ig_intake_line_max(size_t max_body)
{
	return max_body * 6 + 65536;
}

/* ------------------------------------------------------------ pipe mode */

/* A line of the batch, kept in pipe_state.kept until the batch commits. */
struct kept_line {
	size_t off, len;
	long line;
	int toolong;
};

struct pipe_state {
	struct ig_route r;
	struct ig_wh_policy pol;
	size_t max_body;
	int no_verify;
	int in_tx, batch, pending;
	struct timespec t0;
	int failed;
	/*
	 * Envelope streams route optimistically: no savepoint per delivery.
	 * When one fails half-way, the batch is rolled back and routed again
	 * from its kept lines, one savepoint per delivery (ps_redo).
	 */
	int optimistic, redo, redoing;
	struct ig_buf kept;
	struct kept_line *lines;
	size_t nlines, alines;
	struct ig_route_counts n0;  /* counters at BEGIN */
	int failed0;
	ig_intake_flush_fn *flush;
	void *arg;
	struct ig_err *err;
};

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int ps_begin(struct pipe_state *ps)
{
	int rc;

	if (ps->in_tx)
		return 0;
	if ((rc = ig_route_begin(&ps->r, ps->err)))
		return rc;
	ps->in_tx = 1;
	ps->pending = 0;
	ps->n0 = ps->r.n;
	ps->failed0 = ps->failed;
	ps->r.optimistic = ps->optimistic && !ps->redoing;
	if (!ps->redoing) {
		ig_buf_reset(&ps->kept);
		ps->nlines = 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &ps->t0);
	return 0;
}

/* Commit the batch, then hand over what it routed: a printed event is
 * stored ("acknowledged" in ig-route(1)). */
static int ps_commit(struct pipe_state *ps)
{
	int rc;

	if (!ps->in_tx)
		return 0;
	if ((rc = ig_route_commit(&ps->r, ps->err)))
		return rc;
	ps->in_tx = 0;
	return ps->flush(&ps->r, ps->arg);
}

/* One delivery: verify, store, route — all in the batch's transaction. */
static int ps_delivery(struct pipe_state *ps, struct ig_route_in *in, const char *where)
{
	struct ig_wh_delivery d = IG_WH_DELIVERY_INIT;
	struct ig_route_res res;
	struct ig_err err = { 0 };
	int rc;

	if ((rc = ps_begin(ps)))
		return rc;
	in->max_body = ps->max_body;
	in->no_verify = ps->no_verify;
	if (in->len > ps->max_body) {
		in->oversize = 1;
		in->len = ps->max_body;
	}
	if ((rc = ig_route_accept(&ps->r, &ps->pol, in, "processed", &d, &res, ps->err))) {
		ig_webhook_release(&d);
		return rc;
	}
	if (res.code) {
		ps->failed = 1;
		ig_buf_addf(&ps->r.report, "%s: delivery %lld rejected: %s\n", where,
			    (long long)res.delivery_id, res.msg);
	} else if (ig_route_delivery(&ps->r, res.delivery_id, "processed", &d, &err)) {
		if (ps->r.optimistic)
			ps->redo = 1;   /* the transaction is half-done: ps_redo */
		ps->failed = 1;
		ig_buf_addf(&ps->r.report, "%s: delivery %lld kept as 'received', routing failed: %s"
			    " (ig-route replay --deliveries retries it)\n", where,
			    (long long)res.delivery_id, err.msg);
	}
	ig_webhook_release(&d);
	ps->pending++;
	return 0;
}

static int ps_bad_input(struct pipe_state *ps, const char *line, size_t len, const char *why,
			const char *where)
{
	int64_t id;
	int rc;

	if ((rc = ps_begin(ps)) || (rc = ig_route_reject_input(&ps->r, line, len, why, &id, ps->err)))
		return rc;
	ps->failed = 1;
	ig_buf_addf(&ps->r.report, "%s: %s (dead letter %lld)\n", where, why, (long long)id);
	ps->pending++;
	return 0;
}

/* One line of an envelope stream. */
static int ps_line(struct pipe_state *ps, const char *line, size_t len, long lineno, int toolong)
{
	struct ig_route_in in = { 0 };
	char where[64], why[1200];
	json_t *env = NULL;
	int rc;

	snprintf(where, sizeof(where), "stdin:%ld", lineno);
	if (toolong) {
		snprintf(why, sizeof(why), "record longer than %zu bytes",
			 ig_intake_line_max(ps->max_body));
		rc = ps_bad_input(ps, line, len, why, where);
	} else if (ig_intake_envelope(line, len, &env, &in, why, sizeof(why))) {
		rc = ps_bad_input(ps, line, len, why, where);
	} else {
		rc = ps_delivery(ps, &in, where);
	}
	json_decref(env);
	return rc;
}

/* Keep a line of the optimistic batch (ps_begin has run). */
static int ps_keep(struct pipe_state *ps, const char *line, size_t len, long lineno, int toolong)
{
	struct kept_line *k;

	if (ps->nlines == ps->alines) {
		size_t na = ps->alines ? 2 * ps->alines : 512;
		struct kept_line *nv = realloc(ps->lines, na * sizeof(*nv));

		if (!nv)
			return ig_err_set(ps->err, IG_EX_SOFTWARE, "out of memory");
		ps->lines = nv;
		ps->alines = na;
	}
	k = &ps->lines[ps->nlines++];
	k->off = ps->kept.len;
	k->len = len;
	k->line = lineno;
	k->toolong = toolong;
	if (ig_buf_add(&ps->kept, line, len) || ig_buf_add(&ps->kept, "", 1))
		return ig_err_set(ps->err, IG_EX_SOFTWARE, "out of memory");
	return 0;
}

/* A delivery failed half-way in the optimistic pass: roll the batch back
 * and route its lines again, each delivery under its own savepoint, so the
 * failure is confined to it (kept 'received' for replay --deliveries). */
static int ps_redo(struct pipe_state *ps)
{
	size_t i;
	int rc;

	ig_route_abort(&ps->r);
	ps->in_tx = 0;
	ps->r.n = ps->n0;
	ps->failed = ps->failed0;
	ig_buf_reset(&ps->r.out);
	ig_buf_reset(&ps->r.report);
	ps->redo = 0;
	ps->redoing = 1;
	if ((rc = ps_begin(ps)))
		return rc;
	for (i = 0; i < ps->nlines; i++)
		if ((rc = ps_line(ps, ps->kept.data + ps->lines[i].off, ps->lines[i].len,
				  ps->lines[i].line, ps->lines[i].toolong)))
			return rc;
	rc = ps_commit(ps);
	ps->redoing = 0;
	return rc;
}

/* AUTO: an envelope on the first non-blank line, else one raw body; -1 for
 * no input at all. */
static int detect(struct ig_lines *in, size_t maxline, enum ig_intake_mode *mode,
		  struct ig_err *err)
{
	const char *p, *end, *nl;
	size_t len;

	if (ig_lines_peek(in, maxline, &p, &len))
		return ig_err_errno(err, IG_EX_IOERR, "cannot read stdin");
	end = p + len;
	while (p < end && strchr(" \t\r\n", *p))
		p++;
	if (p == end) {
		*mode = IG_INTAKE_RAW;
		return in->eof ? -1 : 0;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	*mode = ig_intake_is_envelope(p, (size_t)((nl ? nl : end) - p)) ? IG_INTAKE_ENVELOPES
									  : IG_INTAKE_RAW;
	return 0;
}

static int raw_body(struct pipe_state *ps, struct ig_lines *in, const char *signature)
{
	struct ig_route_in rin = { 0 };
	char *data;
	size_t len;

	if (ig_lines_all(in, ps->max_body, &data, &len))
		return ig_err_errno(ps->err, IG_EX_IOERR, "cannot read stdin");
	rin.body = data;
	rin.len = len;
	if (signature && !strncmp(signature, "sha1=", 5))
		rin.sha1 = signature;
	else
		rin.sha256 = signature;
	return ps_delivery(ps, &rin, "stdin");
}

static int envelopes(struct pipe_state *ps, struct ig_lines *in)
{
	size_t maxline = ig_intake_line_max(ps->max_body), len;
	char *line;
	int toolong, more, rc;

	ps->optimistic = 1;
	while ((more = ig_lines_next(in, maxline, &line, &len, &toolong)) == 1) {
		if (strspn(line, " \t") == len && !toolong)
			continue;
		if ((rc = ps_begin(ps)) || (rc = ps_keep(ps, line, len, in->line, toolong))
		    || (rc = ps_line(ps, line, len, in->line, toolong)))
			return rc;
		if (ps->redo)
			rc = ps_redo(ps);
		/* DESIGN.md §10: many deliveries per transaction, never one per
		 * record; commit when the batch is full (or holds 16 MiB of input),
		 * input pauses, or 100 ms have passed, so a slow trickle is still
		 * acknowledged promptly */
		else if (ps->pending >= ps->batch || ps->kept.len >= (16 << 20) || !ig_lines_ready(in)
			 || since(&ps->t0) >= 0.1)
			rc = ps_commit(ps);
		if (rc)
			return rc;
	}
	if (more < 0)
		return ig_err_errno(ps->err, IG_EX_IOERR, "cannot read stdin");
	return 0;
}

int ig_intake_pipe(struct ig_ctx *ctx, int fd, const struct ig_intake_opts *o,
		   ig_intake_flush_fn *flush, void *arg, struct ig_route_counts *n,
		   struct ig_err *err)
{
	struct pipe_state ps;
	struct ig_lines in;
	enum ig_intake_mode mode = o->mode;
	int rc;

	memset(&ps, 0, sizeof(ps));
	memset(n, 0, sizeof(*n));
	ig_buf_init(&ps.kept, SIZE_MAX);
	ig_lines_init(&in, fd);
	ig_wh_policy_init(&ps.pol);
	ps.no_verify = o->no_verify;
	ps.batch = o->batch > 0 ? o->batch : 500;
	ps.flush = flush;
	ps.arg = arg;
	ps.err = err;
	if ((rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_WRITE, "route.intake", err))
	    || (rc = ig_route_max_body(&ctx->cfg, &ps.max_body, err))
	    || (!o->no_verify && (rc = ig_route_policy_load(&ps.pol, &ctx->cfg, err)))) {
		ig_wh_policy_clear(&ps.pol);
		return rc;
	}
	if ((rc = ig_route_init(&ps.r, ctx, "pipe", err))) {
		ig_wh_policy_clear(&ps.pol);
		return rc;
	}
	rc = ig_store_tune_bulk(ctx->store, err);
	if (!rc && mode == IG_INTAKE_AUTO && (rc = detect(&in, ig_intake_line_max(ps.max_body),
							  &mode, err)) < 0)
		rc = 0;   /* no delivery at all */
	else if (!rc)
		rc = mode == IG_INTAKE_RAW ? raw_body(&ps, &in, o->signature) : envelopes(&ps, &in);
	if (!rc)
		rc = ps_commit(&ps);
	if (ps.in_tx)
		ig_route_abort(&ps.r);
	*n = ps.r.n;
	if (!rc && (ps.failed || ps.r.n.dead || ps.r.n.invalid || ps.r.n.failed))
		rc = IG_EX_DATAERR;
	ig_route_release(&ps.r);
	ig_wh_policy_clear(&ps.pol);
	ig_buf_release(&ps.kept);
	free(ps.lines);
	ig_lines_release(&in);
	return rc;
}

/* ------------------------------------------------------------ CGI */

/* The handshake's parameters; PHP-style front ends rewrite the dots to
 * underscores (§1.1). */
static char *hub_param(const char *qs, const char *name)
{
	char dotted[32], under[32], *v;

	snprintf(dotted, sizeof(dotted), "hub.%s", name);
	snprintf(under, sizeof(under), "hub_%s", name);
	v = ig_cgi_param(qs, dotted);
	return v ? v : ig_cgi_param(qs, under);
}

int ig_intake_handshake(struct ig_ctx *ctx, ig_intake_answer_fn *answer, void *arg,
			char *msg, size_t msglen)
{
	const char *qs = getenv("QUERY_STRING") ? getenv("QUERY_STRING") : "";
	char *mode = hub_param(qs, "mode"), *token = hub_param(qs, "verify_token");
	char *challenge = hub_param(qs, "challenge"), *want = NULL;
	struct ig_err err = { 0 };
	int ok, rc = IG_EX_OK;

	msg[0] = '\0';
	if (ig_config_secret(&ctx->cfg, "verify_token_file", &want, &err)) {
		snprintf(msg, msglen, "webhook handshake refused: %s", err.msg);
		answer(arg, 500, "verify token not configured\n", NULL);
		rc = err.code;
		goto out;
	}
	ok = mode && !strcmp(mode, "subscribe") && token && strlen(token) == strlen(want)
	     && ig_ct_equal(token, want, strlen(want));
	/* the challenge is echoed as the whole body: Meta sends a number; allow a
	 * token-like string, never markup */
	if (ok && (!challenge || !*challenge || strlen(challenge) > 256
		   || strspn(challenge, "0123456789abcdefghijklmnopqrstuvwxyz"
				       "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.~") != strlen(challenge))) {
		snprintf(msg, msglen, "webhook handshake refused: missing or malformed hub.challenge");
		answer(arg, 400, "bad challenge\n", NULL);
		rc = IG_EX_DATAERR;
	} else if (!ok) {
		snprintf(msg, msglen, "webhook handshake refused: %s",
			 !mode || strcmp(mode, "subscribe") ? "hub.mode is not 'subscribe'"
							    : "hub.verify_token does not match");
		answer(arg, 403, "forbidden\n", NULL);
		rc = IG_EX_DATAERR;
	} else {
		answer(arg, 200, challenge, NULL);
	}
out:
	ig_wipe_free(want);
	ig_wipe_free(token);
	free(mode);
	free(challenge);
	return rc;
}

/* Transaction 1: the raw delivery, durably, before answering. */
static int store_raw(struct ig_ctx *ctx, struct ig_route *r, const struct ig_wh_policy *pol,
		     const struct ig_route_in *in, struct ig_wh_delivery *d,
		     struct ig_route_res *res, struct ig_err *err)
{
	/* the answer waits for this run: the WAL file is kept for the next */
	int rc = ig_store_open(&ctx->store, ig_config_get(&ctx->cfg, "db"), IG_STORE_KEEP_WAL, err);

	if (!rc)
		rc = ig_route_init(r, ctx, "cgi", err);
	else
		memset(r, 0, sizeof(*r));
	if (!rc && !(rc = ig_route_begin(r, err))) {
		rc = ig_route_accept(r, pol, in, "received", d, res, err);
		if (!rc)
			rc = ig_route_commit(r, err);
		else
			ig_route_abort(r);
	}
	return rc;
}

/* Transaction 2, in the routing child: a failure leaves the delivery
 * 'received' for `ig-route replay --deliveries`. */
static int route_stored(struct ig_ctx *ctx, struct ig_route *r, int64_t id,
			struct ig_wh_delivery *d, struct ig_err *err)
{
	int rc = ig_store_open(&ctx->store, ig_config_get(&ctx->cfg, "db"), IG_STORE_KEEP_WAL, err);

	r->st = ctx->store;
	if (!rc && !(rc = ig_route_begin(r, err))) {
		rc = ig_route_delivery(r, id, "received", d, err);
		if (rc)
			ig_route_commit(r, NULL);  /* keeps the row's error message */
		else
			rc = ig_route_commit(r, err);
	}
	if (rc)
		ig_buf_addf(&r->report, "delivery %lld stored but not routed: %s"
			    " (ig-route replay --deliveries retries it)\n", (long long)id, err->msg);
	return rc;
}

/* The routing child lets go of the server's pipes: the server sees the end
 * of the response only when every copy of our stdout is closed. */
static void detach(void)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		close(devnull);
	}
	setsid();
}

int ig_intake_post(struct ig_ctx *ctx, ig_intake_answer_fn *answer, void *arg,
		   ig_intake_flush_fn *flush, int *is_child, struct ig_err *err)
{
	struct ig_wh_policy pol;
	struct ig_route r;
	struct ig_route_in in = { 0 };
	struct ig_route_res res;
	struct ig_wh_delivery d = IG_WH_DELIVERY_INIT;
	size_t max_body, len;
	char *body;
	int rc, http, oversize;
	pid_t pid;

	*is_child = 0;
	ig_wh_policy_init(&pol);
	if ((rc = ig_route_max_body(&ctx->cfg, &max_body, err))
	    || (rc = ig_route_policy_load(&pol, &ctx->cfg, err))) {
		ig_wh_policy_clear(&pol);
		answer(arg, 500, "webhook not configured\n", NULL);
		return rc;
	}
	if ((rc = ig_cgi_body(max_body, &body, &len, &oversize, &http, err))) {
		ig_wh_policy_clear(&pol);
		answer(arg, http, http == 500 ? "internal error\n" : "bad request\n", NULL);
		return rc;
	}
	in.body = body;
	in.len = len;
	in.oversize = oversize;
	in.max_body = max_body;
	in.sha256 = getenv("HTTP_X_HUB_SIGNATURE_256");
	in.sha1 = getenv("HTTP_X_HUB_SIGNATURE");
	rc = store_raw(ctx, &r, &pol, &in, &d, &res, err);
	ig_wh_policy_clear(&pol);
	free(body);
	if (rc) {
		/* not stored: a 5xx makes Meta retry (§1.3) */
		ig_err_prefix(err, "delivery not stored");
		answer(arg, rc == IG_EX_TEMPFAIL ? 503 : 500, "try again later\n",
		       rc == IG_EX_TEMPFAIL ? "Retry-After: 5\r\n" : NULL);
		ig_webhook_release(&d);
		ig_route_release(&r);
		return rc;
	}
	if (res.code) {
		ig_err_set(err, res.code, "delivery %lld rejected (%s): %s", (long long)res.delivery_id,
			   ig_wh_sig_name(res.sig), res.msg);
		answer(arg, res.http, res.http == 403 ? "forbidden\n" : res.http == 413
		       ? "payload too large\n" : "bad request\n", NULL);
		ig_webhook_release(&d);
		ig_route_release(&r);
		return res.code;
	}
	/* The delivery is durable: answer now.  Closing the store comes after,
	 * as the last connection's close checkpoints the WAL and empties it
	 * (two fsyncs and a copy).  It is closed before the fork: connections
	 * (and their POSIX locks) must not cross a fork; the child opens its
	 * own. */
	answer(arg, 200, "EVENT_RECEIVED", NULL);
	ig_store_free(ctx->store);
	ctx->store = NULL;
	/*
	 * Route in a detached child, so the server has its answer and its CGI
	 * process back at once: lighttpd's mod_cgi kills a CGI still running
	 * after the response, fcgiwrap waits for it.  Should the child die
	 * anyway, the delivery stays 'received' for replay --deliveries.
	 */
	pid = fork();
	if (pid > 0) {
		ig_webhook_release(&d);
		ig_route_release(&r);
		return IG_EX_OK;
	}
	if (pid == 0) {
		*is_child = 1;
		detach();
	}
	rc = route_stored(ctx, &r, res.delivery_id, &d, err);
	flush(&r, arg);
	ig_webhook_release(&d);
	ig_route_release(&r);
	return rc ? rc : (r.n.dead || r.n.invalid) ? IG_EX_DATAERR : IG_EX_OK;
}

/* ------------------------------------------------------------ explain */

struct explainer {
	struct ig_route r;
	ig_intake_warn_fn *warn;
	void *arg;
	long record;
	int bad;
	const struct ig_intake_explain_opts *o;
	struct ig_wh_policy pol;   /* the app secrets, to show each signature as intake would */
	int have_pol;
};

/* A malformed delivery: "NAME:LINE: malformed delivery: why" (no LINE for
 * a single body). */
static void explain_warn(struct explainer *x, const char *where, long line, const char *why)
{
	char msg[1400];

	if (line)
		snprintf(msg, sizeof(msg), "%s:%ld: malformed delivery: %s", where, line, why);
	else
		snprintf(msg, sizeof(msg), "%s: malformed delivery: %s", where, why);
	x->warn(x->arg, msg);
	x->bad = 1;
}

/* Explain one delivery body; its rows get "record". */
/* The signature of a record as pipe mode and CGI would judge it (a stored
 * delivery: null, its result is in the store); with --verify one that is
 * not valid fails the run. */
static json_t *explain_sig(struct explainer *x, const struct ig_wh_delivery *d, const char *body,
			   size_t len, const char *sha256, const char *sha1, const char *where,
			   long line)
{
	enum ig_wh_sig sig = IG_SIG_UNCHECKED;
	char msg[1400];

	if (x->o->delivery)
		return json_null();
	if (x->have_pol)
		sig = ig_wh_verify(&x->pol, d->object, sha256, sha1, body, len, NULL);
	if (x->o->verify && sig != IG_SIG_VALID) {
		snprintf(msg, sizeof(msg), "%s%s%ld: signature %s: intake would reject this delivery"
			 " (403)", where, line ? ":" : " record ", line ? line : x->record,
			 ig_wh_sig_name(sig));
		x->warn(x->arg, msg);
		x->bad = 1;
	}
	return json_string(ig_wh_sig_name(sig));
}

static int explain_one(struct explainer *x, const char *body, size_t len, const char *where,
		       long line, const char *sha256, const char *sha1, struct ig_err *err)
{
	struct ig_wh_delivery d = IG_WH_DELIVERY_INIT;
	struct ig_err perr = { 0 };
	size_t before = json_array_size(x->r.rows), i;
	json_t *sig = NULL;
	int rc = 0;

	x->record++;
	if (ig_webhook_parse(&d, body, len, &perr))
		explain_warn(x, where, line, perr.msg);
	else if (!(rc = ig_route_explain(&x->r, &d, err)))
		sig = explain_sig(x, &d, body, len, sha256, sha1, where, line);
	for (i = before; i < json_array_size(x->r.rows); i++) {
		json_object_set_new(json_array_get(x->r.rows, i), "record", json_integer(x->record));
		if (sig)
			json_object_set(json_array_get(x->r.rows, i), "signature", sig);
	}
	json_decref(sig);
	ig_webhook_release(&d);
	return rc;
}

/* Envelopes, one a line, in data. */
static int explain_envelopes(struct explainer *x, char *data, size_t len, const char *name,
			     struct ig_err *err)
{
	char *p = data, *end = data + len;
	long line = 0;
	int rc = 0;

	while (!rc && p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), why[1200];
		size_t n = (size_t)((nl ? nl : end) - p);
		struct ig_route_in in = { 0 };
		json_t *env = NULL;

		line++;
		if (n && p[n - 1] == '\r')
			n--;
		p[n] = '\0';
		if (strspn(p, " \t") != n) {
			if (ig_intake_envelope(p, n, &env, &in, why, sizeof(why))) {
				char msg[1400];

				snprintf(msg, sizeof(msg), "%s:%ld: %s", name, line, why);
				x->warn(x->arg, msg);
				x->bad = 1;
				x->record++;
			} else {
				rc = explain_one(x, in.body, in.len, name, line, in.sha256, in.sha1,
						 err);
			}
		}
		json_decref(env);
		p = nl ? nl + 1 : end;
	}
	return rc;
}

/* "record" first for the reader's eye. */
static json_t *record_first(json_t *rows)
{
	json_t *out = json_array(), *row;
	size_t i;

	json_array_foreach(rows, i, row) {
		json_t *o = json_pack("{s:O}", "record", json_object_get(row, "record"));

		json_object_update_missing(o, row);
		json_array_append_new(out, o);
	}
	return out;
}

int ig_intake_explain(struct ig_ctx *ctx, const struct ig_intake_explain_opts *o, int fd,
		      const char *name, ig_intake_warn_fn *warn, void *arg, json_t **rows,
		      struct ig_err *err)
{
	struct explainer x = { .warn = warn, .arg = arg, .o = o };
	int64_t delivery = o->delivery;
	const char *sig = o->signature;
	struct ig_lines in;
	size_t max_body, len;
	char *data = NULL;
	int rc;

	*rows = NULL;
	ig_lines_init(&in, fd);
	if ((rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_READ, "route.explain", err))
	    || (rc = ig_route_max_body(&ctx->cfg, &max_body, err))
	    || (rc = ig_route_init(&x.r, ctx, "pipe", err)))
		return rc;
	/* without the app secrets every signature is "unchecked"; --verify needs them */
	ig_wh_policy_init(&x.pol);
	if (!delivery) {
		struct ig_err perr = { 0 };

		if (!ig_route_policy_load(&x.pol, &ctx->cfg, &perr))
			x.have_pol = 1;
		else if (o->verify) {
			ig_route_release(&x.r);
			if (err)
				*err = perr;
			return perr.code;
		}
	}
	x.r.rows = json_array();
	if (delivery) {
		if (!(rc = ig_route_load_delivery(&x.r, delivery, &data, &len, err)))
			rc = explain_one(&x, data, len, "delivery", 0, NULL, NULL, err);
		free(data);
	} else if (ig_lines_all(&in, ig_intake_line_max(max_body), &data, &len)) {
		rc = ig_err_errno(err, IG_EX_IOERR, "cannot read %s", name);
	} else if (len > ig_intake_line_max(max_body)) {
		rc = ig_err_set(err, IG_EX_DATAERR, "%s: input larger than %zu bytes", name,
				ig_intake_line_max(max_body));
	} else {
		const char *first = data + strspn(data, " \t\r\n");

		if (*first && ig_intake_is_envelope(first, strcspn(first, "\n")))
			rc = explain_envelopes(&x, data, len, name, err);
		else
			rc = explain_one(&x, data, len, name, 0,
					 sig && strncmp(sig, "sha1=", 5) ? sig : NULL,
					 sig && !strncmp(sig, "sha1=", 5) ? sig : NULL, err);
	}
	if (!rc)
		*rows = record_first(x.r.rows);
	ig_wh_policy_clear(&x.pol);
	ig_route_release(&x.r);
	ig_lines_release(&in);
	return rc ? rc : x.bad ? IG_EX_DATAERR : 0;
}

/* ------------------------------------------------------------ replay, dead */

/* An id that is not there (or not replayable) is an error, not "0 replayed". */
static int replay_target(struct ig_route *r, int deliveries, int64_t id, struct ig_err *err)
{
	json_t *rows = NULL, *v;
	int found = 0, rc;
	size_t i;

	if (deliveries) {
		char *b = NULL;
		size_t bl;

		rc = ig_route_load_delivery(r, id, &b, &bl, err);
		free(b);
		return rc;
	}
	if ((rc = ig_route_dead_list(r->st, NULL, 0, 0, &rows, err)))
		return rc;
	json_array_foreach(rows, i, v)
		if (json_integer_value(json_object_get(v, "id")) == id)
			found = 1;
	json_decref(rows);
	return found ? 0 : ig_err_set(err, IG_EX_DATAERR, "no dead letter %lld", (long long)id);
}

int ig_intake_replay(struct ig_ctx *ctx, int deliveries, int64_t id, int dry_run,
		     ig_intake_flush_fn *flush, void *arg, long *done, long *still,
		     struct ig_err *err)
{
	struct ig_route r;
	int rc;

	*done = *still = 0;
	if ((rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_WRITE, "route.replay", err))
	    || (rc = ig_route_init(&r, ctx, "replay", err)))
		return rc;
	r.on_commit = flush;
	r.arg = arg;
	if (id && (rc = replay_target(&r, deliveries, id, err))) {
		ig_route_release(&r);
		return rc;
	}
	if (deliveries)
		rc = ig_route_replay_deliveries(&r, id, dry_run, done, err);
	else
		rc = ig_route_replay_dead(&r, id, dry_run, done, still, err);
	flush(&r, arg);
	if (!rc && !dry_run && *done) {
		json_t *detail = json_pack("{s:I,s:I}", "replayed", (json_int_t)*done,
					   "still_open", (json_int_t)*still);

		ig_audit(ctx, 0, deliveries ? "route.replay_deliveries" : "route.replay",
			 id ? "one" : "all", "ok", detail, NULL);
		json_decref(detail);
	}
	ig_route_release(&r);
	return rc;
}

int ig_intake_dead(struct ig_ctx *ctx, const char *tenant, const char *status, long limit,
		   json_t **rows, struct ig_err *err)
{
	/* a key lists its own tenant's dead letters without --tenant */
	int scoped = tenant || ctx->actor.tenant_id;
	int64_t tid = 0;
	int rc;

	*rows = NULL;

	if (scoped)
		rc = ig_ctx_tenant(ctx, tenant, &tid, err);
	else
		rc = 0;
	if (!rc)
		rc = scoped ? ig_authz_require(ctx, tid, IG_MOD_CONVERSATIONS, IG_READ, "route.dead", err)
			    : ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_READ, "route.dead", err);
	return rc ? rc : ig_route_dead_list(ctx->store, status, tid, limit, rows, err);
}
