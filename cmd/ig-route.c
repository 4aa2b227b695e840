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
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi.h"
#include "common.h"
#include "intake.h"

enum {
	OPT_ENVELOPES = OPT_PROGRAM, OPT_RAW, OPT_SIGNATURE, OPT_NO_VERIFY, OPT_BATCH,
	OPT_DELIVERY, OPT_DELIVERIES, OPT_ID, OPT_STATUS, OPT_LIMIT, OPT_VERIFY,
};

static void check_signature(const char *opt, const char *v)
{
	(void)opt;
	if (strncmp(v, "sha256=", 7) && strncmp(v, "sha1=", 5))
		usage_error("--signature takes 'sha256=<hex>', not '%.20s'", v);
}

static void check_batch(const char *opt, const char *v)
{
	(void)opt;
	cmd_number("--batch", v, 1, 100000);
}

static void check_id(const char *opt, const char *v)
{
	char name[32];

	snprintf(name, sizeof(name), "--%s", opt);
	cmd_number(name, v, 1, INT64_MAX);
}

static void check_status(const char *opt, const char *v)
{
	(void)opt;
	if (strcmp(v, "open") && strcmp(v, "replayed") && strcmp(v, "discarded") && strcmp(v, "all"))
		usage_error("--status takes open, replayed, discarded or all, not '%s'", v);
}

static void check_limit(const char *opt, const char *v)
{
	(void)opt;
	cmd_number("--limit", v, 1, 1000000000);
}

static const struct cmd_optdef opts[] = {
	{ "envelopes", no_argument, OPT_ENVELOPES, NULL, "stdin is JSON Lines of envelopes", NULL },
	{ "raw", no_argument, OPT_RAW, NULL, "stdin is one raw delivery body", NULL },
	{ "signature", required_argument, OPT_SIGNATURE, "SIG",
	  "the raw body's X-Hub-Signature-256 ('sha256=<hex>'); implies --raw", check_signature },
	{ "no-verify", no_argument, OPT_NO_VERIFY, NULL,
	  "do not check signatures (local fixtures only; warns every run)", NULL },
	{ "batch", required_argument, OPT_BATCH, "N",
	  "deliveries per transaction in pipe mode (default 500)", check_batch },
	{ "verify", no_argument, OPT_VERIFY, NULL,
	  "explain: a signature that is not valid fails the run (65)", NULL },
	{ "delivery", required_argument, OPT_DELIVERY, "ID",
	  "explain: a stored delivery instead of input", check_id },
	{ "deliveries", no_argument, OPT_DELIVERIES, NULL,
	  "replay: deliveries left 'received' instead of dead letters", NULL },
	{ "id", required_argument, OPT_ID, "N", "replay: only this dead letter (or delivery)", check_id },
	{ "dry-run", no_argument, OPT_DRY_RUN, NULL, "replay: show what would be routed, change nothing",
	  NULL },
	{ "status", required_argument, OPT_STATUS, "S",
	  "dead: open (default), replayed, discarded or all", check_status },
	{ "limit", required_argument, OPT_LIMIT, "N", "dead: at most N rows", check_limit },
	{ 0 }
};

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
			warn("%s", p);
	}
	ig_buf_reset(&r->report);
}

/* After each commit: the routed events on stdout, the messages on stderr. */
static int print_events(struct ig_route *r, void *arg)
{
	(void)arg;
	if (r->out.len && (fwrite(r->out.data, 1, r->out.len, stdout) != r->out.len || fflush(stdout)))
		die(IG_EX_IOERR, "cannot write to stdout:");
	ig_buf_reset(&r->out);
	/* recorded once printed, so re-sent input emits again only what a kill
	 * kept from being printed (ig-route(1)) */
	{
		struct ig_err err = { 0 };

		if (ig_route_emitted(r, &err))
			warn_err(&err);
	}
	print_reports(r);
	return 0;
}

/* ------------------------------------------------------------ pipe and CGI mode */

/* Set in main, before the command line is parsed: run as a CGI program. */
static const char *cgi_method;

/* The whole HTTP answer, then our stdout let go so the server can send it
 * at once (mod_cgi and fcgiwrap finish the response at EOF). */
static void http(void *arg, int status, const char *body, const char *extra)
{
	int fd;

	(void)arg;
	printf("Status: %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	       "Content-Length: %zu\r\nCache-Control: no-store\r\n%s\r\n%s",
	       status, ig_cgi_reason(status), strlen(body), extra ? extra : "", body);
	fflush(stdout);
	if ((fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0) {
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
}

static int cgi_main(struct cmd_run *r)
{
	struct ig_ctx *ctx = &r->ctx;
	struct ig_err err = { 0 };
	char msg[1200];
	int rc, child;

	/* A CGI run is short and must finish what it started (a transaction,
	 * then the routing child): servers signal a CGI as soon as its answer
	 * is out (lighttpd's mod_cgi sends SIGTERM), so ignore that. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	ig_ctx_init(ctx);
	r->ctx_open = 1;
	ig_ctx_act_as_meta(ctx);
	if ((rc = ig_config_load(&ctx->cfg, r->o.config, &err))) {
		warn_err(&err);
		http(NULL, 500, "webhook not configured\n", NULL);
		return rc;
	}
	if (r->o.db)
		ig_config_set(&ctx->cfg, "db", r->o.db, IG_SRC_FLAG, NULL);
	if (cmd_val(r, OPT_NO_VERIFY)) {
		warn("--no-verify is refused in CGI mode: Meta's deliveries are always verified");
		http(NULL, 500, "webhook misconfigured\n", NULL);
		return IG_EX_USAGE;
	}
	if (!strcmp(cgi_method, "GET")) {
		rc = ig_intake_handshake(ctx, http, NULL, msg, sizeof(msg));
		if (msg[0])
			warn("%s", msg);
		else
			note("webhook handshake answered");
		return rc;
	}
	if (strcmp(cgi_method, "POST")) {
		warn("method '%s' not allowed", cgi_method);
		http(NULL, 405, "method not allowed\n", "Allow: GET, POST\r\n");
		return IG_EX_DATAERR;
	}
	rc = ig_intake_post(ctx, http, NULL, print_events, &child, &err);
	if (rc && err.msg[0])
		warn_err(&err);
	return rc;
}

static void check_pipe(struct cmd_run *r)
{
	if (cmd_val(r, OPT_ENVELOPES) && (cmd_val(r, OPT_RAW) || cmd_val(r, OPT_SIGNATURE)))
		usage_error("--envelopes and --raw/--signature exclude each other");
}

static int pipe_main(struct cmd_run *r)
{
	struct ig_intake_opts o = { IG_INTAKE_AUTO, NULL, 0, 500 };
	struct ig_route_counts n;
	struct ig_err err = { 0 };
	int rc;

	if (cgi_method)
		return cgi_main(r);
	o.signature = cmd_val(r, OPT_SIGNATURE);
	o.no_verify = cmd_val(r, OPT_NO_VERIFY) != NULL;
	o.batch = (int)cmd_val_number(r, OPT_BATCH, 1, 100000, 500);
	o.mode = cmd_val(r, OPT_ENVELOPES) ? IG_INTAKE_ENVELOPES
		 : cmd_val(r, OPT_RAW) || o.signature ? IG_INTAKE_RAW : IG_INTAKE_AUTO;
	if (o.signature && o.no_verify)
		usage_error("--signature and --no-verify exclude each other");
	/* every run, also with -q: this must never go unnoticed in production */
	if (o.no_verify)
		warn("warning: --no-verify: signatures are not checked (for local fixtures only)");
	cmd_ctx_open(&r->ctx, &r->o, CMD_STORE);
	r->ctx_open = 1;
	/* a long-running batch writer: no heap trimming between batches */
#ifdef M_TRIM_THRESHOLD
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
	cmd_stdin_hint("webhook deliveries (one raw body, or JSON Lines of envelopes)");
	rc = ig_intake_pipe(&r->ctx, STDIN_FILENO, &o, print_events, NULL, &n, &err);
	if (rc && rc != IG_EX_DATAERR)
		die_err(&err);
	if (!n.deliveries && !rc)
		note("no delivery on stdin");
	else
		note("%ld deliveries (%ld rejected): %ld events routed, %ld duplicates, %ld unroutable,"
		     " %ld invalid, %ld of unknown kind", n.deliveries, n.rejected, n.routed,
		     n.duplicates, n.dead, n.invalid, n.unknown);
	return rc;
}

/* ------------------------------------------------------------ explain, replay, dead */

static int explain_fd;   /* opened by check_explain, before the store */

static void check_explain(struct cmd_run *r)
{
	if (r->narg && cmd_val(r, OPT_DELIVERY))
		usage_error("explain takes a FILE or --delivery, not both");
	if (r->narg && (explain_fd = open(r->arg[0], O_RDONLY | O_CLOEXEC)) < 0)
		die(IG_EX_NOINPUT, "cannot open '%s':", r->arg[0]);
}

static void explain_warn(void *arg, const char *msg)
{
	(void)arg;
	warn("%s", msg);
}

static int cmd_explain(struct cmd_run *r)
{
	static const char *const cols[] = {
		"record", "event", "type", "account", "participant", "tenant", "agent", "route", "reason",
		"signature", NULL
	};
	struct ig_intake_explain_opts xo = {
		cmd_val_number(r, OPT_DELIVERY, 1, INT64_MAX, 0), cmd_val(r, OPT_VERIFY) != NULL,
		cmd_val(r, OPT_SIGNATURE)
	};
	struct ig_err err = { 0 };
	struct ig_out out;
	json_t *rows, *row;
	size_t i;
	int rc;

	if (!r->narg && !cmd_val(r, OPT_DELIVERY))
		cmd_stdin_hint("webhook deliveries to explain");
	rc = ig_intake_explain(&r->ctx, &xo, explain_fd, r->narg ? r->arg[0] : "stdin", explain_warn,
			       NULL, &rows, &err);
	if (explain_fd > 0)
		close(explain_fd);
	if (!rows)
		die_err(&err);
	ig_out_init(&out, stdout, r->o.format, cols);
	json_array_foreach(rows, i, row)
		if (ig_out_row(&out, row))
			rc = IG_EX_IOERR;
	if (ig_out_finish(&out))
		rc = IG_EX_IOERR;
	json_decref(rows);
	if (rc == IG_EX_IOERR)
		warn("cannot write to stdout:");
	return rc;
}

static int cmd_replay(struct cmd_run *r)
{
	int deliveries = cmd_val(r, OPT_DELIVERIES) != NULL, dry = cmd_val(r, OPT_DRY_RUN) != NULL;
	long long id = cmd_val_number(r, OPT_ID, 1, INT64_MAX, 0);
	struct ig_err err = { 0 };
	long done = 0, still = 0;
	int rc;

	if (ig_intake_replay(&r->ctx, deliveries, id, dry, print_events, NULL, &done, &still, &err))
		die_err(&err);
	if (!cmd_quiet) {
		if (deliveries)
			warn("%s%ld deliveries re-processed", dry ? "dry run: " : "", done);
		else
			warn("%s%ld dead letters replayed, %ld still open", dry ? "dry run: " : "", done,
			     still);
	}
	rc = id && !deliveries && still ? IG_EX_DATAERR
	     : id && deliveries && !done ? IG_EX_DATAERR : IG_EX_OK;
	if (rc && deliveries)
		warn("delivery %lld is not waiting for routing (its status is not 'received')", id);
	else if (rc)
		warn("dead letter %lld is still open (see ig-route dead)", id);
	return rc;
}

static int cmd_dead(struct cmd_run *r)
{
	static const char *const cols[] = {
		"id", "created", "status", "source", "account", "tenant", "delivery", "reason", NULL
	};
	const char *status = cmd_val(r, OPT_STATUS) ? cmd_val(r, OPT_STATUS) : "open";
	struct ig_err err = { 0 };
	struct ig_out out;
	json_t *rows, *row;
	size_t i;
	int rc = 0;

	if (ig_intake_dead(&r->ctx, r->o.tenant, strcmp(status, "all") ? status : NULL,
			   (long)cmd_val_number(r, OPT_LIMIT, 1, 1000000000, 0), &rows, &err))
		die_err(&err);
	ig_out_init(&out, stdout, r->o.format, cols);
	json_array_foreach(rows, i, row)
		if (ig_out_row(&out, row))
			rc = IG_EX_IOERR;
	if (ig_out_finish(&out))
		rc = IG_EX_IOERR;
	json_decref(rows);
	return rc;
}

/* ------------------------------------------------------------ the command table */

static const int o_pipe[] = { OPT_ENVELOPES, OPT_RAW, OPT_SIGNATURE, OPT_NO_VERIFY, OPT_BATCH, 0 };
/* explain shows each record's signature (--verify: a bad one fails the run);
 * --no-verify is accepted for symmetry with pipe mode */
static const int o_explain[] = { OPT_DELIVERY, OPT_VERIFY, OPT_SIGNATURE, OPT_NO_VERIFY, 0 };
static const int o_replay[] = { OPT_DELIVERIES, OPT_ID, OPT_DRY_RUN, 0 };
static const int o_dead[] = { OPT_STATUS, OPT_LIMIT, 0 };

static const struct cmd_row rows[] = {
	{ NULL, pipe_main, 0, o_pipe, 0, 0, "",
	  "pipe mode: route deliveries on stdin, print events (CGI mode when REQUEST_METHOD is set)",
	  NULL, check_pipe },
	{ "explain", cmd_explain, CMD_STORE, o_explain, 0, 1, "[FILE]",
	  "show each event's route, change nothing", NULL, check_explain },
	{ "replay", cmd_replay, CMD_STORE, o_replay, 0, 0, "",
	  "re-route open dead letters (or stuck deliveries)", NULL, NULL },
	{ "dead", cmd_dead, CMD_STORE, o_dead, 0, 0, "", "list dead letters", NULL, NULL },
	{ 0 }
};

static const struct cmd_program program = {
	"Webhook intake: verify, store, deduplicate, normalise and route Meta's deliveries.",
	"Pipe mode reads one raw delivery body, or JSON Lines of envelopes\n"
	"{\"headers\":{\"X-Hub-Signature-256\":\"sha256=...\"},\"body\":\"<raw body>\"}; the\n"
	"first line decides unless --envelopes or --raw says.\n",
	opts, rows, NULL, CMD_SAY_HERE,
	"Usage: ig-route [OPTIONS] < DELIVERIES   pipe mode: route deliveries, print events\n"
	"       ig-route                          CGI mode (REQUEST_METHOD set): Meta's webhook\n"
	"       ig-route COMMAND [ARGS] [OPTIONS]\n"
};

int main(int argc, char **argv)
{
	/* CGI mode is the environment's to say, before any parsing */
	cgi_method = ig_cgi_method();
	return cmd_main(&program, argc, argv);
}
