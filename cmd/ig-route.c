/*
 * ig-route — webhook intake: verification handshake, signature check, raw
 * storage, deduplication, normalisation, routing by account to agent,
 * human-takeover detection (DESIGN.md §6; ig-route(1)).
 *
 * Modes, one code path (lib/route.c):
 *   CGI   REQUEST_METHOD set and no subcommand: GET answers Meta's
 *         handshake, POST stores the raw delivery in one transaction,
 *         answers at once, then routes it in a second transaction.  Prints
 *         only the HTTP response; routed events wait in the store.
 *   pipe  deliveries on stdin (one raw body, or JSON Lines of envelopes
 *         {"headers":{...},"body":"..."}); routed events on stdout as JSON
 *         Lines, written once the batch that stored them has committed.
 *   explain, replay, dead: see usage.
 *
 * Exit status (lib/exitcodes.h): 0 ok; 64 usage; 65 a rejected delivery, an
 * invalid or unroutable event, an unknown delivery/dead letter id; 66 store
 * or input file missing; 70 internal error; 73/74 store; 75 store busy;
 * 77 permission denied; 78 configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "authz.h"
#include "audit.h"
#include "common.h"
#include "crypto.h"
#include "route.h"
#include "webhook.h"

static const char usage_text[] =
	"usage: ig-route [OPTIONS] < DELIVERIES       pipe mode: route deliveries, print events\n"
	"       ig-route                               CGI mode (REQUEST_METHOD set): Meta's webhook\n"
	"       ig-route explain [--delivery ID] [--verify] [--signature SIG] [FILE]\n"
	"                                              show each event's route (and signature), change nothing\n"
	"       ig-route replay [--deliveries] [--id N] [--dry-run]\n"
	"                                              re-route open dead letters (or stuck deliveries)\n"
	"       ig-route dead [--status S] [--limit N] list dead letters\n"
	"\n"
	"Pipe mode reads one raw delivery body, or JSON Lines of envelopes\n"
	"{\"headers\":{\"X-Hub-Signature-256\":\"sha256=...\"},\"body\":\"<raw body>\"}; the\n"
	"first line decides unless --envelopes or --raw says.\n"
	"\n"
	"Options:\n"
	"      --envelopes        stdin is JSON Lines of envelopes\n"
	"      --raw              stdin is one raw delivery body\n"
	"      --signature SIG    the raw body's X-Hub-Signature-256 ('sha256=<hex>'); implies --raw\n"
	"      --no-verify        do not check signatures (local fixtures only; warns every run)\n"
	"      --batch N          deliveries per transaction in pipe mode (default 500)\n"
	"      --delivery ID      explain: a stored delivery instead of input\n"
	"      --verify           explain: a signature that is not valid fails the run (65)\n"
	"      --deliveries       replay: deliveries left 'received' instead of dead letters\n"
	"      --id N             replay: only this dead letter (or delivery)\n"
	"      --dry-run          replay: show what would be routed, change nothing\n"
	"      --status S         dead: open (default), replayed, discarded or all\n"
	"      --limit N          dead: at most N rows\n"
	"\n"
	"Shared options:\n";

static char *help_text;

enum {
	OPT_ENVELOPES = OPT_PROGRAM, OPT_RAW, OPT_SIGNATURE, OPT_NO_VERIFY, OPT_BATCH,
	OPT_DELIVERY, OPT_DELIVERIES, OPT_ID, OPT_STATUS, OPT_LIMIT,
	OPT_VERIFY,   /* ops: explain --verify */
};

static const struct option pipe_opts[] = {
	CMD_COMMON_LONG,
	{ "envelopes", no_argument, NULL, OPT_ENVELOPES },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "signature", required_argument, NULL, OPT_SIGNATURE },
	{ "no-verify", no_argument, NULL, OPT_NO_VERIFY },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ NULL, 0, NULL, 0 }
};

/* ------------------------------------------------------------ input */

/* A line reader over a file descriptor that can tell whether more input is
 * ready without blocking — pipe mode commits when it is not. */
struct reader {
	int fd;
	char *buf;
	size_t len, pos, cap;
	int eof;
	long line;
};

static int reader_fill(struct reader *rd)
{
	ssize_t n;

	if (rd->pos > 0 && rd->pos == rd->len) {
		rd->pos = rd->len = 0;
	} else if (rd->pos > (1 << 20) || (rd->pos && rd->len == rd->cap)) {
		memmove(rd->buf, rd->buf + rd->pos, rd->len - rd->pos);
		rd->len -= rd->pos;
		rd->pos = 0;
	}
	if (rd->len == rd->cap) {
		size_t nc = rd->cap ? 2 * rd->cap : 1 << 16;
		char *nb = realloc(rd->buf, nc + 1);

		if (!nb)
			die(IG_EX_SOFTWARE, "out of memory");
		rd->buf = nb;
		rd->cap = nc;
	}
	do
		n = read(rd->fd, rd->buf + rd->len, rd->cap - rd->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		rd->eof = 1;
	rd->len += (size_t)n;
	return 0;
}

/*
 * Next line (without its newline, NUL-terminated in place) of at most max
 * bytes: 1 line, 0 end of input.  A longer line is consumed whole and
 * returned cut at max with *toolong set.  Read errors die (74).
 */
static int reader_line(struct reader *rd, size_t max, char **line, size_t *len, int *toolong)
{
	size_t scanned = 0;

	*toolong = 0;
	if (!rd->buf && reader_fill(rd))
		die(IG_EX_IOERR, "cannot read stdin:");
	for (;;) {
		char *nl = memchr(rd->buf + rd->pos + scanned, '\n', rd->len - rd->pos - scanned);

		if (nl || (rd->eof && rd->len > rd->pos)) {
			size_t n = nl ? (size_t)(nl - (rd->buf + rd->pos)) : rd->len - rd->pos;

			*line = rd->buf + rd->pos;
			rd->pos += n + (nl ? 1 : 0);
			if (n && (*line)[n - 1] == '\r')
				n--;
			(*line)[n] = '\0';
			if (*toolong || n > max) {
				*toolong = 1;
				if (n > max)
					n = max;
			}
			*len = n;
			rd->line++;
			return 1;
		}
		if (rd->eof)
			return 0;
		scanned = rd->len - rd->pos;
		if (scanned > max + 1) {
			/* keep the start for the dead letter, drop the middle */
			*toolong = 1;
			rd->len = rd->pos + max + 1;
			scanned = max + 1;
		}
		if (reader_fill(rd))
			die(IG_EX_IOERR, "cannot read stdin:");
	}
}

/* 1 when another line can be had without waiting. */
static int reader_ready(struct reader *rd)
{
	struct pollfd p = { .fd = rd->fd, .events = POLLIN };

	if (rd->eof || (rd->buf && memchr(rd->buf + rd->pos, '\n', rd->len - rd->pos)))
		return 1;
	return poll(&p, 1, 0) > 0;
}

/* Read all of stdin (at most max + 1 bytes kept). */
static void reader_all(struct reader *rd, size_t max)
{
	while (!rd->eof) {
		if (rd->len - rd->pos > max) {
			/* oversize: keep max + 1 bytes to say so, drain the rest */
			char sink[65536];
			ssize_t n;

			while ((n = read(rd->fd, sink, sizeof(sink))) > 0 || (n < 0 && errno == EINTR))
				;
			if (n < 0)
				die(IG_EX_IOERR, "cannot read stdin:");
			rd->len = rd->pos + max + 1;
			rd->eof = 1;
			break;
		}
		if (reader_fill(rd))
			die(IG_EX_IOERR, "cannot read stdin:");
	}
	rd->buf = rd->buf ? rd->buf : calloc(1, 1);
	if (!rd->buf)
		die(IG_EX_SOFTWARE, "out of memory");
	rd->buf[rd->len] = '\0';
}

/* ------------------------------------------------------------ output */

static void print_reports(struct ig_route *r)
{
	char *p = r->report.data, *nl;

	for (; p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
		if (!(cmd_quiet && !strncmp(p, "warning: ", 9)))
			fprintf(stderr, "%s: %s\n", cmd_name, p);
	}
	ig_buf_reset(&r->report);
}

static int print_events(struct ig_route *r, void *arg)
{
	(void)arg;
	if (r->out.len && (fwrite(r->out.data, 1, r->out.len, stdout) != r->out.len || fflush(stdout)))
		die(IG_EX_IOERR, "cannot write to stdout:");
	ig_buf_reset(&r->out);
	{
		/* ops: record that they were printed, so a re-sent input emits
		 * again only what a kill kept from being printed */
		struct ig_err e2 = { 0 };

		if (ig_route_emitted(r, &e2))
			warn_err(&e2);
	}
	print_reports(r);
	return 0;
}

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

/* An envelope line → body and signature headers; NULL (with why) if the
 * line is not one.  *env is the parse (caller decrefs). */
static int envelope(const char *line, size_t len, json_t **env, struct ig_route_in *in,
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

/* 1 when line looks like an envelope (auto-detection of the pipe input). */
static int is_envelope(const char *line, size_t len)
{
	json_t *v = ig_json_parse(line, len, NULL);
	int yes = json_is_object(v) && json_is_string(json_object_get(v, "body"))
		  && !json_object_get(v, "entry");

	json_decref(v);
	return yes;
}

/* ------------------------------------------------------------ pipe mode */

/* The longest envelope line for a body of max_body bytes: an escaped body
 * may be six times its raw size (\u00XX), plus the headers. */
static size_t line_max(size_t max_body)
{
	return max_body * 6 + 65536;
}

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
};

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void ps_begin(struct pipe_state *ps)
{
	struct ig_err err = { 0 };

	if (ps->in_tx)
		return;
	if (ig_route_begin(&ps->r, &err))
		die_err(&err);
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
}

/* Commit the batch, then print what it routed: a printed event is stored
 * ("acknowledged" in ig-route(1)). */
static void ps_commit(struct pipe_state *ps)
{
	struct ig_err err = { 0 };

	if (!ps->in_tx)
		return;
	if (ig_route_commit(&ps->r, &err))
		die_err(&err);
	ps->in_tx = 0;
	print_events(&ps->r, NULL);
}

/* One delivery: verify, store, route — all in the batch's transaction. */
static void ps_delivery(struct pipe_state *ps, struct ig_route_in *in, const char *where)
{
	struct ig_wh_delivery d = IG_WH_DELIVERY_INIT;
	struct ig_route_res res;
	struct ig_err err = { 0 };

	ps_begin(ps);
	in->max_body = ps->max_body;
	in->no_verify = ps->no_verify;
	if (in->len > ps->max_body) {
		in->oversize = 1;
		in->len = ps->max_body;
	}
	if (ig_route_accept(&ps->r, &ps->pol, in, "processed", &d, &res, &err))
		die_err(&err);
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
}

static void ps_bad_input(struct pipe_state *ps, const char *line, size_t len, const char *why,
			 const char *where)
{
	struct ig_err err = { 0 };
	int64_t id;

	ps_begin(ps);
	if (ig_route_reject_input(&ps->r, line, len, why, &id, &err))
		die_err(&err);
	ps->failed = 1;
	ig_buf_addf(&ps->r.report, "%s: %s (dead letter %lld)\n", where, why, (long long)id);
	ps->pending++;
}

/* One line of an envelope stream. */
static void ps_line(struct pipe_state *ps, const char *line, size_t len, long lineno, int toolong)
{
	struct ig_route_in in = { 0 };
	char where[64], why[1200];
	json_t *env = NULL;

	snprintf(where, sizeof(where), "stdin:%ld", lineno);
	if (toolong) {
		snprintf(why, sizeof(why), "record longer than %zu bytes", line_max(ps->max_body));
		ps_bad_input(ps, line, len, why, where);
	} else if (envelope(line, len, &env, &in, why, sizeof(why))) {
		ps_bad_input(ps, line, len, why, where);
	} else {
		ps_delivery(ps, &in, where);
	}
	json_decref(env);
}

/* Keep a line of the optimistic batch (ps_begin has run). */
static void ps_keep(struct pipe_state *ps, const char *line, size_t len, long lineno, int toolong)
{
	struct kept_line *k;

	if (ps->nlines == ps->alines) {
		size_t na = ps->alines ? 2 * ps->alines : 512;
		struct kept_line *nv = realloc(ps->lines, na * sizeof(*nv));

		if (!nv)
			die(IG_EX_SOFTWARE, "out of memory");
		ps->lines = nv;
		ps->alines = na;
	}
	k = &ps->lines[ps->nlines++];
	k->off = ps->kept.len;
	k->len = len;
	k->line = lineno;
	k->toolong = toolong;
	if (ig_buf_add(&ps->kept, line, len) || ig_buf_add(&ps->kept, "", 1))
		die(IG_EX_SOFTWARE, "out of memory");
}

/* A delivery failed half-way in the optimistic pass: roll the batch back
 * and route its lines again, each delivery under its own savepoint, so the
 * failure is confined to it (kept 'received' for replay --deliveries). */
static void ps_redo(struct pipe_state *ps)
{
	size_t i;

	ig_route_abort(&ps->r);
	ps->in_tx = 0;
	ps->r.n = ps->n0;
	ps->failed = ps->failed0;
	ig_buf_reset(&ps->r.out);
	ig_buf_reset(&ps->r.report);
	ps->redo = 0;
	ps->redoing = 1;
	ps_begin(ps);
	for (i = 0; i < ps->nlines; i++)
		ps_line(ps, ps->kept.data + ps->lines[i].off, ps->lines[i].len, ps->lines[i].line,
			ps->lines[i].toolong);
	ps_commit(ps);
	ps->redoing = 0;
}

static int pipe_main(struct ig_ctx *ctx, int mode, const char *signature, int no_verify,
		     int batch)
{
	struct pipe_state ps;
	struct reader rd = { .fd = 0 };
	struct ig_err err = { 0 };
	size_t maxline;
	char *line;
	size_t len;
	int toolong, rc;

	memset(&ps, 0, sizeof(ps));
	ig_buf_init(&ps.kept, SIZE_MAX);
	ps.no_verify = no_verify;
	ps.batch = batch;
	if (ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_WRITE, "route.intake", &err))
		die_err(&err);
	if (ig_route_max_body(&ctx->cfg, &ps.max_body, &err))
		die_err(&err);
	ig_wh_policy_init(&ps.pol);
	if (!no_verify && ig_route_policy_load(&ps.pol, &ctx->cfg, &err)) {
		ig_wh_policy_clear(&ps.pol);
		die_err(&err);
	}
	if (ig_route_init(&ps.r, ctx, "pipe", &err))
		die_err(&err);
	/* a long-running batch writer: a page cache of 64 MiB instead of 2 keeps
	 * the indexes it updates at random (conversations, messages) in memory,
	 * and no heap trimming between batches */
	if (ig_store_exec(ctx->store, "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY", &err))
		die_err(&err);
#ifdef M_TRIM_THRESHOLD
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
	maxline = line_max(ps.max_body);

	if (mode == 0) {
		/* auto: an envelope on the first non-blank line, else one raw body */
		while (!rd.eof && !memchr(rd.buf ? rd.buf : "", '\n', rd.len) && rd.len <= maxline)
			if (reader_fill(&rd))
				die(IG_EX_IOERR, "cannot read stdin:");
		{
			char *p = rd.buf, *end = rd.buf + rd.len, *nl;

			while (p && p < end && strchr(" \t\r\n", *p))
				p++;
			nl = p ? memchr(p, '\n', (size_t)(end - p)) : NULL;
			if (!p || p == end)
				mode = 2;     /* nothing at all */
			else
				mode = is_envelope(p, (size_t)((nl ? nl : end) - p)) ? 1 : 2;
			if (mode == 2 && (!p || p == end) && rd.eof) {
				ig_route_release(&ps.r);
				ig_wh_policy_clear(&ps.pol);
				free(rd.buf);
				note("no delivery on stdin");
				return IG_EX_OK;
			}
		}
	}
	if (mode == 2) {
		struct ig_route_in in = { 0 };

		reader_all(&rd, ps.max_body);
		in.body = rd.buf;
		in.len = rd.len;
		if (signature && !strncmp(signature, "sha1=", 5))
			in.sha1 = signature;
		else
			in.sha256 = signature;
		ps_delivery(&ps, &in, "stdin");
	} else {
		ps.optimistic = 1;
		while ((rc = reader_line(&rd, maxline, &line, &len, &toolong)) == 1) {
			if (strspn(line, " \t") == len && !toolong)
				continue;
			ps_begin(&ps);
			ps_keep(&ps, line, len, rd.line, toolong);
			ps_line(&ps, line, len, rd.line, toolong);
			if (ps.redo)
				ps_redo(&ps);
			/* DESIGN.md §10: many deliveries per transaction, never one per
			 * record; commit when the batch is full (or holds 16 MiB of
			 * input), input pauses, or 100 ms have passed, so a slow
			 * trickle is still acknowledged promptly */
			else if (ps.pending >= ps.batch || ps.kept.len >= (16 << 20) || !reader_ready(&rd)
				 || since(&ps.t0) >= 0.1)
				ps_commit(&ps);
		}
	}
	ps_commit(&ps);
	note("%ld deliveries (%ld rejected): %ld events routed, %ld duplicates, %ld unroutable,"
	     " %ld invalid, %ld of unknown kind", ps.r.n.deliveries, ps.r.n.rejected, ps.r.n.routed,
	     ps.r.n.duplicates, ps.r.n.dead, ps.r.n.invalid, ps.r.n.unknown);
	if (ps.r.n.dead || ps.r.n.invalid || ps.r.n.failed)
		ps.failed = 1;
	ig_route_release(&ps.r);
	ig_wh_policy_clear(&ps.pol);
	ig_buf_release(&ps.kept);
	free(ps.lines);
	free(rd.buf);
	return ps.failed ? IG_EX_DATAERR : IG_EX_OK;
}

/* ------------------------------------------------------------ CGI mode */

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return "Error";
}

/* The whole HTTP answer, then stdout closed so the server can send it at
 * once (mod_cgi and fcgiwrap finish the response at EOF). */
static void http(int status, const char *body, const char *extra_header)
{
	printf("Status: %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	       "Content-Length: %zu\r\nCache-Control: no-store\r\n%s\r\n%s",
	       status, reason_phrase(status), strlen(body), extra_header ? extra_header : "", body);
	fflush(stdout);
	fclose(stdout);
}

/* %XX and '+' decoding in place; -1 on a bad escape or an embedded NUL. */
static int urldecode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%') {
			char hex[3];
			unsigned char c;

			if (!s[1] || !s[2])
				return -1;
			hex[0] = s[1];
			hex[1] = s[2];
			hex[2] = '\0';
			if (ig_unhex(hex, &c, 1) || !c)
				return -1;
			*o++ = (char)c;
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return 0;
}

/* reference §1.1: GET ?hub.mode=subscribe&hub.challenge=N&hub.verify_token=T */
static int cgi_handshake(struct ig_ctx *ctx)
{
	const char *qs = getenv("QUERY_STRING");
	char *q = strdup(qs ? qs : ""), *tok, *save = NULL;
	const char *mode = NULL, *token = NULL, *challenge = NULL;
	char *want = NULL;
	struct ig_err err = { 0 };
	int ok;

	if (!q) {
		http(500, "internal error\n", NULL);
		return IG_EX_SOFTWARE;
	}
	for (tok = strtok_r(q, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = '\0';
		if (urldecode(tok) || urldecode(eq + 1))
			continue;
		/* PHP-style front ends rewrite the dots to underscores (§1.1) */
		if (!strcmp(tok, "hub.mode") || !strcmp(tok, "hub_mode"))
			mode = eq + 1;
		else if (!strcmp(tok, "hub.verify_token") || !strcmp(tok, "hub_verify_token"))
			token = eq + 1;
		else if (!strcmp(tok, "hub.challenge") || !strcmp(tok, "hub_challenge"))
			challenge = eq + 1;
	}
	if (ig_config_secret(&ctx->cfg, "verify_token_file", &want, &err)) {
		warn("webhook handshake refused: %s", err.msg);
		http(500, "verify token not configured\n", NULL);
		free(q);
		return err.code;
	}
	ok = mode && !strcmp(mode, "subscribe") && token && strlen(token) == strlen(want)
	     && ig_ct_equal(token, want, strlen(want));
	ig_wipe_free(want);
	/* the challenge is echoed as the whole body: Meta sends a number; allow a
	 * token-like string, never markup */
	if (ok && (!challenge || !*challenge || strlen(challenge) > 256
		   || strspn(challenge, "0123456789abcdefghijklmnopqrstuvwxyz"
				       "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.~") != strlen(challenge))) {
		warn("webhook handshake refused: missing or malformed hub.challenge");
		http(400, "bad challenge\n", NULL);
		free(q);
		return IG_EX_DATAERR;
	}
	if (!ok) {
		warn("webhook handshake refused: %s",
		     !mode || strcmp(mode, "subscribe") ? "hub.mode is not 'subscribe'"
							: "hub.verify_token does not match");
		http(403, "forbidden\n", NULL);
		free(q);
		return IG_EX_DATAERR;
	}
	printf("Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	       "Cache-Control: no-store\r\n\r\n%s", strlen(challenge), challenge);
	fflush(stdout);
	fclose(stdout);
	note("webhook handshake answered");
	free(q);
	return IG_EX_OK;
}

static int cgi_post(struct ig_ctx *ctx)
{
	struct ig_err err = { 0 };
	struct ig_wh_policy pol;
	struct ig_route r;
	struct ig_route_in in = { 0 };
	struct ig_route_res res;
	struct ig_wh_delivery d = IG_WH_DELIVERY_INIT;
	const char *cl = getenv("CONTENT_LENGTH");
	size_t max_body, want = 0, got = 0;
	char *body, *end;
	pid_t pid;
	int rc;

	ig_wh_policy_init(&pol);
	if (ig_route_max_body(&ctx->cfg, &max_body, &err)
	    || ig_route_policy_load(&pol, &ctx->cfg, &err)) {
		ig_wh_policy_clear(&pol);
		warn_err(&err);
		http(500, "webhook not configured\n", NULL);
		return err.code;
	}
	if (cl && *cl) {
		errno = 0;
		unsigned long long v = strtoull(cl, &end, 10);

		if (errno || *end) {
			ig_wh_policy_clear(&pol);
			warn("bad CONTENT_LENGTH '%s'", cl);
			http(400, "bad request\n", NULL);
			return IG_EX_DATAERR;
		}
		want = v > max_body ? max_body + 1 : (size_t)v;
	} else {
		want = max_body + 1;   /* no length: read to EOF */
	}
	body = malloc(want + 1);
	if (!body) {
		ig_wh_policy_clear(&pol);
		http(500, "internal error\n", NULL);
		return IG_EX_SOFTWARE;
	}
	while (got < want) {
		ssize_t n = read(0, body + got, want - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	body[got] = '\0';
	in.body = body;
	in.len = got > max_body ? max_body : got;
	in.oversize = got > max_body;
	in.max_body = max_body;
	in.sha256 = getenv("HTTP_X_HUB_SIGNATURE_256");
	in.sha1 = getenv("HTTP_X_HUB_SIGNATURE");

	/* transaction 1: the raw delivery, durably, before answering */
	rc = ig_store_open(&ctx->store, ig_config_get(&ctx->cfg, "db"), 0, &err);
	if (!rc)
		rc = ig_route_init(&r, ctx, "cgi", &err);
	else
		memset(&r, 0, sizeof(r));
	if (!rc && !(rc = ig_route_begin(&r, &err))) {
		rc = ig_route_accept(&r, &pol, &in, "received", &d, &res, &err);
		if (!rc)
			rc = ig_route_commit(&r, &err);
		else
			ig_route_abort(&r);
	}
	ig_wh_policy_clear(&pol);
	free(body);
	if (rc) {
		/* not stored: a 5xx makes Meta retry (§1.3) */
		warn("delivery not stored: %s", err.msg);
		http(rc == IG_EX_TEMPFAIL ? 503 : 500, "try again later\n",
		     rc == IG_EX_TEMPFAIL ? "Retry-After: 5\r\n" : NULL);
		ig_webhook_release(&d);
		ig_route_release(&r);
		return rc;
	}
	if (res.code) {
		warn("delivery %lld rejected (%s): %s", (long long)res.delivery_id,
		     ig_wh_sig_name(res.sig), res.msg);
		http(res.http, res.http == 403 ? "forbidden\n" : res.http == 413 ? "payload too large\n"
			       : "bad request\n", NULL);
		ig_route_release(&r);
		return res.code;
	}
	/* The delivery is durable: answer now.  Closing the store comes after,
	 * as the last connection's close checkpoints the WAL and deletes it
	 * (two fsyncs and a copy).  It is closed before the fork: SQLite
	 * connections (and their POSIX locks) must not cross a fork; the
	 * routing child opens its own. */
	http(200, "EVENT_RECEIVED", NULL);
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
		/* The server sees the end of the response only when every copy of
		 * our stdout is closed: the child must not hold it while it routes. */
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDOUT_FILENO);
			close(devnull);
		}
		setsid();
	}

	/* transaction 2: routing; a failure leaves the delivery 'received' for
	 * `ig-route replay --deliveries` */
	rc = ig_store_open(&ctx->store, ig_config_get(&ctx->cfg, "db"), 0, &err);
	r.st = ctx->store;
	if (!rc && !(rc = ig_route_begin(&r, &err))) {
		rc = ig_route_delivery(&r, res.delivery_id, "received", &d, &err);
		if (rc)
			ig_route_commit(&r, NULL);  /* keeps the row's error message */
		else
			rc = ig_route_commit(&r, &err);
	}
	if (rc)
		warn("delivery %lld stored but not routed: %s (ig-route replay --deliveries retries it)",
		     (long long)res.delivery_id, err.msg);
	print_reports(&r);
	ig_webhook_release(&d);
	ig_route_release(&r);
	return rc ? rc : (r.n.dead || r.n.invalid) ? IG_EX_DATAERR : IG_EX_OK;
}

static int cgi_main(const struct cmd_opts *o, int no_verify)
{
	struct ig_ctx ctx;
	struct ig_err err = { 0 };
	const char *method = getenv("REQUEST_METHOD");
	int rc;

	/* A CGI run is short and must finish what it started (a transaction,
	 * then the routing child): servers signal a CGI as soon as its answer
	 * is out (lighttpd's mod_cgi sends SIGTERM), so ignore that. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	ig_ctx_init(&ctx);
	ctx.actor.kind = IG_ACTOR_META;
	strcpy(ctx.actor.label, "meta");
	if ((rc = ig_config_load(&ctx.cfg, o->config, &err))) {
		warn_err(&err);
		http(500, "webhook not configured\n", NULL);
		ig_ctx_release(&ctx);
		return rc;
	}
	if (o->db)
		ig_config_set(&ctx.cfg, "db", o->db, IG_SRC_FLAG, NULL);
	if (no_verify) {
		warn("--no-verify is refused in CGI mode: Meta's deliveries are always verified");
		http(500, "webhook misconfigured\n", NULL);
		rc = IG_EX_USAGE;
	} else if (!strcmp(method, "GET")) {
		rc = cgi_handshake(&ctx);
	} else if (!strcmp(method, "POST")) {
		rc = cgi_post(&ctx);
	} else {
		warn("method '%s' not allowed", method);
		http(405, "method not allowed\n", "Allow: GET, POST\r\n");
		rc = IG_EX_DATAERR;
	}
	ig_ctx_release(&ctx);
	return rc;
}

/* ------------------------------------------------------------ subcommands */

static void sub_options(int argc, char **argv, const struct option *opts, struct cmd_opts *o,
			void (*each)(int c, const char *arg, void *st), void *st)
{
	int c;

	cmd_getopt_reset();
	while ((c = getopt_long(argc, argv, CMD_COMMON_SHORT, opts, NULL)) != -1) {
		if (cmd_option(o, c, optarg, help_text))
			continue;
		each(c, optarg, st);
	}
}

struct explain_opts {
	long long delivery;
	int verify;               /* ops: a signature that is not valid fails (65) */
	const char *signature;    /* ops: a raw body's X-Hub-Signature(-256) */
};

static void explain_opt(int c, const char *arg, void *st)
{
	struct explain_opts *x = st;

	if (c == OPT_DELIVERY)
		x->delivery = cmd_number("--delivery", arg, 1, INT64_MAX);
	else if (c == OPT_VERIFY)
		x->verify = 1;
	else if (c == OPT_SIGNATURE)
		x->signature = arg;
}

static int cmd_explain(int argc, char **argv, struct cmd_opts *o)
{
	static const struct option opts[] = {
		CMD_COMMON_LONG,
		{ "delivery", required_argument, NULL, OPT_DELIVERY },
		/* accepted for symmetry with pipe mode */
		{ "no-verify", no_argument, NULL, OPT_NO_VERIFY },
		/* ops: check the signature as intake would, and fail on a bad one */
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "signature", required_argument, NULL, OPT_SIGNATURE },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const cols[] = {
		"record", "event", "type", "account", "participant", "tenant", "agent", "route", "reason",
		"signature", NULL
	};
	struct ig_wh_policy pol;   /* ops: the signature of each record, as intake sees it */
	int have_pol = 0;
	struct explain_opts x = { 0 };
	struct ig_ctx ctx;
	struct ig_route r;
	struct ig_err err = { 0 };
	struct ig_out out;
	struct reader rd = { .fd = 0 };
	const char *name = "stdin";
	size_t maxline, max_body, i;
	long record = 0;
	int rc = 0, bad = 0;
	json_t *row;

	sub_options(argc, argv, opts, o, explain_opt, &x);
	if (optind < argc - 1)
		usage_error("explain takes at most one FILE");
	if (optind < argc && x.delivery)
		usage_error("explain takes a FILE or --delivery, not both");
	if (optind < argc) {
		name = argv[optind];
		if ((rd.fd = open(name, O_RDONLY | O_CLOEXEC)) < 0)
			die(IG_EX_NOINPUT, "cannot open '%s':", name);
	}
	cmd_ctx_open(&ctx, o, CMD_STORE);
	if (ig_authz_require(&ctx, 0, IG_MOD_PLATFORM, IG_READ, "route.explain", &err)
	    || ig_route_max_body(&ctx.cfg, &max_body, &err) || ig_route_init(&r, &ctx, "pipe", &err)) {
		ig_ctx_release(&ctx);
		die_err(&err);
	}
	r.rows = json_array();
	maxline = line_max(max_body);
	ig_wh_policy_init(&pol);
	{
		/* ops: without secrets every signature is "unchecked"; --verify needs them */
		struct ig_err perr = { 0 };

		if (!ig_route_policy_load(&pol, &ctx.cfg, &perr))
			have_pol = 1;
		else if (x.verify)
			die_err(&perr);
	}

	/* the deliveries to explain: one stored, one raw body, or envelopes */
	{
		char *line, *all = NULL;
		size_t len, alen = 0;
		int toolong, envelopes = 0;

		if (x.delivery) {
			if ((rc = ig_route_load_delivery(&r, x.delivery, &all, &alen, &err))) {
				ig_route_release(&r);
				ig_ctx_release(&ctx);
				die_err(&err);
			}
		} else {
			reader_all(&rd, maxline);
			if (rd.len > maxline)
				die(IG_EX_DATAERR, "%s: input larger than %zu bytes", name, maxline);
			line = rd.buf + strspn(rd.buf, " \t\r\n");
			len = strcspn(line, "\n");
			envelopes = *line && is_envelope(line, len);
			rd.pos = 0;
		}
		for (;;) {
			struct ig_wh_delivery d = IG_WH_DELIVERY_INIT;
			struct ig_err perr = { 0 };
			struct ig_route_in in = { 0 };
			json_t *env = NULL;
			char why[1200];
			size_t before = json_array_size(r.rows);

			if (envelopes) {
				if (!reader_line(&rd, maxline, &line, &len, &toolong))
					break;
				if (strspn(line, " \t") == len)
					continue;
				record++;
				if (envelope(line, len, &env, &in, why, sizeof(why))) {
					warn("%s:%ld: %s", name, rd.line, why);
					json_decref(env);
					bad = 1;
					continue;
				}
			} else {
				if (record)
					break;
				record++;
				in.body = x.delivery ? all : rd.buf;
				in.len = x.delivery ? alen : rd.len;
				if (x.signature && !strncmp(x.signature, "sha1=", 5))
					in.sha1 = x.signature;
				else
					in.sha256 = x.signature;
			}
			if (ig_webhook_parse(&d, in.body, in.len, &perr)) {
				if (envelopes)
					warn("%s:%ld: malformed delivery: %s", name, rd.line, perr.msg);
				else
					warn("%s: malformed delivery: %s", x.delivery ? "delivery" : name, perr.msg);
				bad = 1;
			} else if ((rc = ig_route_explain(&r, &d, &err))) {
				ig_webhook_release(&d);
				json_decref(env);
				free(all);
				ig_route_release(&r);
				ig_ctx_release(&ctx);
				die_err(&err);
			}
			{
				/* ops: the signature result, as pipe mode and CGI would see it */
				enum ig_wh_sig sig = IG_SIG_UNCHECKED;

				if (!x.delivery && have_pol)
					sig = ig_wh_verify(&pol, d.object, in.sha256, in.sha1, in.body,
							   in.len, NULL);
				if (x.verify && !x.delivery && sig != IG_SIG_VALID) {
					warn("%s%s%ld: signature %s: intake would reject this delivery (403)",
					     name, envelopes ? ":" : " record ", envelopes ? rd.line : record,
					     ig_wh_sig_name(sig));
					bad = 1;
				}
				for (i = before; i < json_array_size(r.rows); i++)
					json_object_set_new(json_array_get(r.rows, i), "signature",
						x.delivery ? json_null() : json_string(ig_wh_sig_name(sig)));
			}
			for (i = before; i < json_array_size(r.rows); i++)
				json_object_set_new(json_array_get(r.rows, i), "record", json_integer(record));
			ig_webhook_release(&d);
			json_decref(env);
		}
		free(all);
	}
	ig_out_init(&out, stdout, o->format, cols);
	json_array_foreach(r.rows, i, row) {
		/* "record" first for the reader's eye */
		json_t *o2 = json_pack("{s:O}", "record", json_object_get(row, "record"));

		json_object_update_missing(o2, row);
		if (ig_out_row(&out, o2))
			rc = IG_EX_IOERR;
		json_decref(o2);
	}
	if (ig_out_finish(&out))
		rc = IG_EX_IOERR;
	if (rc == IG_EX_IOERR)
		warn("cannot write to stdout:");
	ig_wh_policy_clear(&pol);
	ig_route_release(&r);
	ig_ctx_release(&ctx);
	free(rd.buf);
	if (rd.fd > 0)
		close(rd.fd);
	return cmd_finish(rc ? rc : bad ? IG_EX_DATAERR : IG_EX_OK);
}

struct replay_opts {
	int deliveries, dry_run;
	long long id;
};

static void replay_opt(int c, const char *arg, void *st)
{
	struct replay_opts *x = st;

	if (c == OPT_DELIVERIES)
		x->deliveries = 1;
	else if (c == OPT_DRY_RUN)
		x->dry_run = 1;
	else if (c == OPT_ID)
		x->id = cmd_number("--id", arg, 1, INT64_MAX);
}

static int cmd_replay(int argc, char **argv, struct cmd_opts *o)
{
	static const struct option opts[] = {
		CMD_COMMON_LONG,
		{ "deliveries", no_argument, NULL, OPT_DELIVERIES },
		{ "id", required_argument, NULL, OPT_ID },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ NULL, 0, NULL, 0 }
	};
	struct replay_opts x = { 0 };
	struct ig_ctx ctx;
	struct ig_route r;
	struct ig_err err = { 0 };
	long done = 0, still = 0;
	int rc;

	sub_options(argc, argv, opts, o, replay_opt, &x);
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	cmd_ctx_open(&ctx, o, CMD_STORE);
	if (ig_authz_require(&ctx, 0, IG_MOD_PLATFORM, IG_WRITE, "route.replay", &err)
	    || ig_route_init(&r, &ctx, "replay", &err)) {
		ig_ctx_release(&ctx);
		die_err(&err);
	}
	r.on_commit = print_events;
	if (x.id) {
		/* an id that is not there (or not replayable) is an error, not "0 replayed" */
		json_t *rows = NULL;
		int found = 0;

		if (x.deliveries) {
			char *b = NULL;
			size_t bl;

			rc = ig_route_load_delivery(&r, x.id, &b, &bl, &err);
			free(b);
			found = !rc;
		} else if (!(rc = ig_route_dead_list(ctx.store, NULL, 0, 0, &rows, &err))) {
			size_t i;
			json_t *v;

			json_array_foreach(rows, i, v)
				if (json_integer_value(json_object_get(v, "id")) == x.id)
					found = 1;
			json_decref(rows);
			if (!found)
				ig_err_set(&err, IG_EX_DATAERR, "no dead letter %lld", x.id);
		}
		if (!found) {
			ig_route_release(&r);
			ig_ctx_release(&ctx);
			die_err(&err);
		}
	}
	if (x.deliveries)
		rc = ig_route_replay_deliveries(&r, x.id, x.dry_run, &done, &err);
	else
		rc = ig_route_replay_dead(&r, x.id, x.dry_run, &done, &still, &err);
	print_events(&r, NULL);
	if (rc) {
		ig_route_release(&r);
		ig_ctx_release(&ctx);
		die_err(&err);
	}
	if (!x.dry_run && done) {
		json_t *detail = json_pack("{s:I,s:I}", "replayed", (json_int_t)done,
					   "still_open", (json_int_t)still);

		ig_audit(&ctx, 0, x.deliveries ? "route.replay_deliveries" : "route.replay",
			 x.id ? "one" : "all", "ok", detail, NULL);
		json_decref(detail);
	}
	if (!cmd_quiet) {
		if (x.deliveries)
			fprintf(stderr, "%s: %s%ld deliveries re-processed\n", cmd_name,
				x.dry_run ? "dry run: " : "", done);
		else
			fprintf(stderr, "%s: %s%ld dead letters replayed, %ld still open\n", cmd_name,
				x.dry_run ? "dry run: " : "", done, still);
	}
	rc = x.id && !x.deliveries && still ? IG_EX_DATAERR
	     : x.id && x.deliveries && !done ? IG_EX_DATAERR : IG_EX_OK;
	if (rc && x.deliveries)
		warn("delivery %lld is not waiting for routing (its status is not 'received')", x.id);
	else if (rc)
		warn("dead letter %lld is still open (see ig-route dead)", x.id);
	ig_route_release(&r);
	ig_ctx_release(&ctx);
	return cmd_finish(rc);
}

struct dead_opts {
	const char *status;
	long long limit;
};

static void dead_opt(int c, const char *arg, void *st)
{
	struct dead_opts *x = st;

	if (c == OPT_STATUS) {
		if (strcmp(arg, "open") && strcmp(arg, "replayed") && strcmp(arg, "discarded")
		    && strcmp(arg, "all"))
			usage_error("--status takes open, replayed, discarded or all, not '%s'", arg);
		x->status = arg;
	} else if (c == OPT_LIMIT) {
		x->limit = cmd_number("--limit", arg, 1, 1000000000);
	}
}

static int cmd_dead(int argc, char **argv, struct cmd_opts *o)
{
	static const struct option opts[] = {
		CMD_COMMON_LONG,
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const cols[] = {
		"id", "created", "status", "source", "account", "tenant", "delivery", "reason", NULL
	};
	struct dead_opts x = { "open", 0 };
	struct ig_ctx ctx;
	struct ig_err err = { 0 };
	struct ig_out out;
	int64_t tenant = 0;
	json_t *rows = NULL, *row;
	size_t i;
	int rc = 0;

	sub_options(argc, argv, opts, o, dead_opt, &x);
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	cmd_ctx_open(&ctx, o, CMD_STORE);
	/* ops: a key lists its own tenant's dead letters without --tenant */
	if (o->tenant || ctx.actor.tenant_id) {
		if (ig_ctx_tenant(&ctx, o->tenant, &tenant, &err)
		    || ig_authz_require(&ctx, tenant, IG_MOD_CONVERSATIONS, IG_READ, "route.dead", &err)) {
			ig_ctx_release(&ctx);
			die_err(&err);
		}
	} else if (ig_authz_require(&ctx, 0, IG_MOD_PLATFORM, IG_READ, "route.dead", &err)) {
		ig_ctx_release(&ctx);
		die_err(&err);
	}
	if (ig_route_dead_list(ctx.store, strcmp(x.status, "all") ? x.status : NULL, tenant,
			       (long)x.limit, &rows, &err)) {
		ig_ctx_release(&ctx);
		die_err(&err);
	}
	ig_out_init(&out, stdout, o->format, cols);
	json_array_foreach(rows, i, row)
		if (ig_out_row(&out, row))
			rc = IG_EX_IOERR;
	if (ig_out_finish(&out))
		rc = IG_EX_IOERR;
	json_decref(rows);
	ig_ctx_release(&ctx);
	return cmd_finish(rc);
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	struct cmd_opts o = { 0 };
	const char *signature = NULL;
	int c, mode = 0, no_verify = 0, rc;
	long long batch = 500;
	struct ig_ctx ctx;

	cmd_init(argc, argv);
	if (asprintf(&help_text, "%s%s", usage_text, cmd_common_help) < 0)
		die(IG_EX_SOFTWARE, "out of memory");
	while ((c = getopt_long(argc, argv, "+" CMD_COMMON_SHORT, pipe_opts, NULL)) != -1) {
		if (cmd_option(&o, c, optarg, help_text))
			continue;
		switch (c) {
		case OPT_ENVELOPES:
			if (mode == 2)
				usage_error("--envelopes and --raw/--signature exclude each other");
			mode = 1;
			break;
		case OPT_RAW:
			if (mode == 1)
				usage_error("--envelopes and --raw/--signature exclude each other");
			mode = 2;
			break;
		case OPT_SIGNATURE:
			if (mode == 1)
				usage_error("--envelopes and --raw/--signature exclude each other");
			if (strncmp(optarg, "sha256=", 7) && strncmp(optarg, "sha1=", 5))
				usage_error("--signature takes 'sha256=<hex>', not '%.20s'", optarg);
			signature = optarg;
			mode = 2;
			break;
		case OPT_NO_VERIFY:
			no_verify = 1;
			break;
		case OPT_BATCH:
			batch = cmd_number("--batch", optarg, 1, 100000);
			break;
		}
	}
	if (optind < argc) {
		const char *sub = argv[optind];

		if (mode || signature || no_verify || batch != 500)
			usage_error("pipe-mode options do not apply to '%s'", sub);
		argc -= optind;
		argv += optind;
		if (!strcmp(sub, "explain"))
			rc = cmd_explain(argc, argv, &o);
		else if (!strcmp(sub, "replay"))
			rc = cmd_replay(argc, argv, &o);
		else if (!strcmp(sub, "dead"))
			rc = cmd_dead(argc, argv, &o);
		else
			usage_error("unknown command '%s'", sub);
		free(help_text);
		return rc;
	}
	free(help_text);
	if (getenv("REQUEST_METHOD") && *getenv("REQUEST_METHOD"))
		return cgi_main(&o, no_verify);
	if (signature && no_verify)
		usage_error("--signature and --no-verify exclude each other");
	/* every run, also with -q: this must never go unnoticed in production */
	if (no_verify)
		fprintf(stderr, "%s: warning: --no-verify: signatures are not checked"
			" (for local fixtures only)\n", cmd_name);
	cmd_ctx_open(&ctx, &o, CMD_STORE);
	rc = pipe_main(&ctx, mode, signature, no_verify, (int)batch);
	ig_ctx_release(&ctx);
	return cmd_finish(rc);
}
