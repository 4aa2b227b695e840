/*
 * ig-connect — connect Instagram accounts to tenants and agents, keep their
 * tokens sealed and fresh, subscribe them to webhooks, and answer Meta's
 * deauthorize and data-deletion callbacks.
 *
 * Reads:  the OAuth redirect (callback), a token (add), a signed_request
 *         (deauthorize, data-deletion; also as CGI) on stdin.
 * Writes: JSON Lines on stdout, one record per account handled (list also
 *         as table or csv); CGI responses for Meta's callbacks.
 * Exit:   0 ok; 64 usage; 65 bad input, bad signature, unknown account,
 *         OAuth state unknown/used/expired, account of another tenant;
 *         66 store or key missing; 69 Meta refused (consent denied, bad
 *         code); 74 I/O; 75 temporary (network, 5xx, rate limit);
 *         77 permission denied or token invalid (re-authorise);
 *         78 configuration (doctor: an account needs a fix).
 *         See ig-connect(1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "connect.h"
#include "crypto.h"
#include "graph.h"
#include "cgi.h"
#include "igtime.h"

enum {
	OPT_AGENT = OPT_PROGRAM, OPT_DEFAULT, OPT_LOCATION, OPT_NO_LOCATION, OPT_FLAVOUR,
	OPT_SCOPES, OPT_TTL, OPT_ALL, OPT_WITHIN, OPT_FIELDS, OPT_ERASE, OPT_TO_TENANT,
	OPT_NEW_KEY_FILE, OPT_CHANNEL
};

static void check_channel(const char *opt, const char *v)
{
	(void)opt;
	if (ig_connect_channel_valid(v))
		usage_error("--channel takes instagram or messenger, not '%s'", v);
}

static void check_flavour(const char *opt, const char *v)
{
	if (ig_connect_flavour_valid(v))
		usage_error("--%s takes instagram or facebook, not '%s'", opt, v);
}

static int64_t ttl_value(const char *v)
{
	int64_t ttl;

	if (ig_duration_parse(v, &ttl) || ttl < 60 || ttl > 86400)
		return -1;
	return ttl;
}

static void check_ttl(const char *opt, const char *v)
{
	if (ttl_value(v) < 0)
		usage_error("--%s takes a duration from 60s to 24h (e.g. 10m), not '%s'", opt, v);
}

static void check_within(const char *opt, const char *v)
{
	(void)opt;
	cmd_number("--within", v, 0, 3650);
}

static const struct cmd_optdef opts[] = {
	{ "agent", required_argument, OPT_AGENT, "NAME", "the agent that answers on the account", NULL },
	{ "default", no_argument, OPT_DEFAULT, NULL, "assign: the tenant's default agent answers", NULL },
	{ "location", required_argument, OPT_LOCATION, "NAME", "assign: the account's location", NULL },
	{ "no-location", no_argument, OPT_NO_LOCATION, NULL, "assign: clear the location", NULL },
	{ "flavour", required_argument, OPT_FLAVOUR, "F",
	  "instagram (Instagram Login, default) or facebook", check_flavour },
	{ "channel", required_argument, OPT_CHANNEL, "C",
	  "instagram (default) or messenger: connect the user's Facebook Pages for Messenger"
	  " (needs --flavour facebook)", check_channel },
	{ "scopes", required_argument, OPT_SCOPES, "LIST", "url: permissions to ask for (comma list)", NULL },
	{ "ttl", required_argument, OPT_TTL, "DURATION",
	  "url: how long the URL stays valid (default 10m)", check_ttl },
	{ "all", no_argument, OPT_ALL, NULL,
	  "every account of the tenant (all tenants for a super admin)", NULL },
	{ "within", required_argument, OPT_WITHIN, "DAYS",
	  "refresh: tokens expiring within DAYS (default 10)", check_within },
	{ "fields", required_argument, OPT_FIELDS, "LIST",
	  "subscribe: webhook fields (default: the flavour's list)", NULL },
	{ "erase", no_argument, OPT_ERASE, NULL, "disconnect: delete the account and its history", NULL },
	{ "to-tenant", required_argument, OPT_TO_TENANT, "SLUG", "move: the tenant that gets the account", NULL },
	{ "new-key-file", required_argument, OPT_NEW_KEY_FILE, "F", "rekey: the new 32-byte master key", NULL },
	{ 0 }
};

#define FLAVOUR(r) (cmd_val(r, OPT_FLAVOUR) ? cmd_val(r, OPT_FLAVOUR) : "instagram")
#define CHANNEL(r) (cmd_val(r, OPT_CHANNEL) ? cmd_val(r, OPT_CHANNEL) : "instagram")

/* Rank of an exit code for the summary of a run over several accounts:
 * internal and store trouble first, then what a human must do. */
static int rank(int code, int temp_first)
{
	switch (code) {
	case 0: return 0;
	case IG_EX_SOFTWARE: case IG_EX_IOERR: case IG_EX_CANTCREAT: return 9;
	case IG_EX_NOPERM: return temp_first ? 7 : 8;
	case IG_EX_TEMPFAIL: return temp_first ? 8 : 7;
	case IG_EX_CONFIG: return 6;
	case IG_EX_UNAVAILABLE: return 5;
	default: return 4;
	}
}

static int worse(int a, int b, int temp_first)
{
	return rank(b, temp_first) > rank(a, temp_first) ? b : a;
}

static void open_graph(struct ig_graph *g, struct ig_ctx *ctx)
{
	struct ig_err err = { 0 };

	if (ig_graph_init(g, &ctx->cfg, cmd_verbose, &err))
		die_err(&err);
}

/* Read all of stdin (at most max bytes, text: a NUL byte is refused rather
 * than cutting the input short) with the one line reader (lib/jsonio);
 * dies on error.  New string. */
static char *read_stdin(size_t max)
{
	struct ig_lines in;
	char *data, *s;
	size_t n;

	ig_lines_init(&in, STDIN_FILENO);
	if (ig_lines_all(&in, max, &data, &n)) {
		ig_lines_release(&in);
		die(IG_EX_IOERR, "cannot read stdin:");
	}
	if (n > max || memchr(data, '\0', n)) {
		memset(data, 0, n);   /* may be a token */
		ig_lines_release(&in);
		if (n > max)
			die(IG_EX_DATAERR, "stdin: more than %zu bytes", max);
		die(IG_EX_DATAERR, "stdin: a NUL byte in the input");
	}
	s = strndup(data, n);
	memset(data, 0, n);
	ig_lines_release(&in);
	if (!s)
		die(IG_EX_SOFTWARE, "out of memory");
	return s;
}

/* ------------------------------------------------------------ url, callback, add */

static int cmd_url(struct cmd_run *r)
{
	struct ig_ctx *ctx = &r->ctx;
	struct ig_err err = { 0 };
	int64_t tid;
	json_t *out;

	if (ig_connect_tenant(ctx, r->o.tenant, IG_WRITE, "account.connect", 0, &tid, &err)
	    || ig_connect_url_channel(ctx, tid, cmd_val(r, OPT_AGENT), FLAVOUR(r), CHANNEL(r),
				      cmd_val(r, OPT_SCOPES),
				      cmd_val(r, OPT_TTL) ? ttl_value(cmd_val(r, OPT_TTL))
							  : IG_CONNECT_STATE_TTL,
				      &out, &err))
		die_err(&err);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

/* Print connected accounts on stdout, skipped ones on stderr. */
static void emit_connected(const json_t *arr)
{
	size_t i;
	json_t *r;

	json_array_foreach(arr, i, r) {
		if (json_is_true(json_object_get(r, "skipped"))) {
			const char *acc = ig_json_str(r, "account");
			const char *page = ig_json_str(r, "page_id");

			warn("skipped %s %s: %s", acc ? "account" : "Page", acc ? acc : page ? page : "?",
			     ig_json_str(r, "reason") ? ig_json_str(r, "reason") : "?");
			continue;
		}
		cmd_emit(r);
	}
}

static int cmd_callback(struct cmd_run *r)
{
	struct ig_ctx *ctx = &r->ctx;
	struct ig_err err = { 0 };
	struct ig_graph g;
	json_t *out = NULL;
	char *in;
	int rc;

	cmd_stdin_hint("the redirect URL");
	in = read_stdin(64 * 1024);
	open_graph(&g, ctx);
	rc = ig_connect_callback(ctx, &g, in, &out, &err);
	ig_wipe_free(in);
	ig_graph_release(&g);
	if (out)
		emit_connected(out);
	json_decref(out);
	if (rc)
		die_err(&err);
	return 0;
}

static int cmd_add(struct cmd_run *r)
{
	struct ig_ctx *ctx = &r->ctx;
	struct ig_err err = { 0 };
	struct ig_graph g;
	json_t *out = NULL;
	int64_t tid;
	char *in;
	size_t n;
	int rc;

	if (ig_connect_tenant(ctx, r->o.tenant, IG_WRITE, "account.connect", 0, &tid, &err))
		die_err(&err);
	cmd_stdin_hint("an access token");
	in = read_stdin(16 * 1024);
	in[strcspn(in, "\r\n")] = '\0';
	for (n = strlen(in); n && (in[n - 1] == ' ' || in[n - 1] == '\t'); n--)
		in[n - 1] = '\0';
	open_graph(&g, ctx);
	rc = ig_connect_add_channel(ctx, &g, tid, cmd_val(r, OPT_AGENT), FLAVOUR(r), CHANNEL(r),
				    in + strspn(in, " \t"), &out, &err);
	ig_wipe_free(in);
	ig_graph_release(&g);
	if (out)
		emit_connected(out);
	json_decref(out);
	if (rc)
		die_err(&err);
	return 0;
}

/* ------------------------------------------------------------ list, assign */

static int list_row(void *arg, const json_t *row)
{
	return ig_out_row(arg, row) ? IG_EX_IOERR : 0;
}

static int cmd_list(struct cmd_run *r)
{
	static const char *const cols[] = {
		"tenant", "account", "username", "flavour", "status", "agent", "location",
		"token", "token_expires_at", "last_error", "error_count", "message_count",
		"user_count", "last_synced_at", NULL
	};
	struct ig_ctx *ctx = &r->ctx;
	struct ig_err err = { 0 };
	struct ig_out out;
	int64_t tid;
	int rc;

	if (ig_connect_tenant(ctx, r->o.tenant, IG_READ, "account.list", 1, &tid, &err))
		die_err(&err);
	ig_out_init(&out, stdout, r->o.format, cols);
	rc = ig_connect_list(ctx, tid, list_row, &out, &err);
	if (ig_out_finish(&out) || rc == IG_EX_IOERR)
		die(IG_EX_IOERR, "cannot write to stdout:");
	if (rc)
		die_err(&err);
	return 0;
}

/* The one ACCOUNT operand of a command, resolved with access. */
static void one_account(struct cmd_run *r, enum ig_access acc, const char *action,
			struct ig_account *out)
{
	struct ig_err err = { 0 };
	int64_t tid = 0;

	if (r->o.tenant && ig_connect_tenant(&r->ctx, r->o.tenant, acc, action, 0, &tid, &err))
		die_err(&err);
	if (ig_connect_find(&r->ctx, tid, r->arg[0], acc, action, out, &err))
		die_err(&err);
}

static void check_assign(struct cmd_run *r)
{
	int agent = cmd_val(r, OPT_AGENT) != NULL, def = cmd_val(r, OPT_DEFAULT) != NULL;
	int loc = cmd_val(r, OPT_LOCATION) != NULL, noloc = cmd_val(r, OPT_NO_LOCATION) != NULL;

	if (agent && def)
		usage_error("assign takes --agent or --default, not both");
	if (loc && noloc)
		usage_error("assign takes --location or --no-location, not both");
	if (!agent && !def && !loc && !noloc)
		usage_error("assign needs --agent, --default, --location or --no-location");
}

static int cmd_assign(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	struct ig_account acc;
	json_t *out;

	one_account(r, IG_WRITE, "account.assign", &acc);
	if (ig_connect_assign(&r->ctx, &acc, cmd_val(r, OPT_AGENT), cmd_val(r, OPT_DEFAULT) != NULL,
			      cmd_val(r, OPT_NO_LOCATION) ? "" : cmd_val(r, OPT_LOCATION), &out, &err))
		die_err(&err);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

/* ------------------------------------------------------------ per-account runs */

typedef int per_account_fn(struct cmd_run *r, struct ig_graph *g, const struct ig_account *acc,
			   json_t **out, struct ig_err *err);

static int do_test(struct cmd_run *r, struct ig_graph *g, const struct ig_account *acc,
		   json_t **out, struct ig_err *err)
{
	return ig_connect_test(&r->ctx, g, acc, out, err);
}

static int do_refresh(struct cmd_run *r, struct ig_graph *g, const struct ig_account *acc,
		      json_t **out, struct ig_err *err)
{
	return ig_connect_refresh(&r->ctx, g, acc, cmd_val_number(r, OPT_WITHIN, 0, 3650, 10) * 86400,
				  out, err);
}

static int do_subscribe(struct cmd_run *r, struct ig_graph *g, const struct ig_account *acc,
			json_t **out, struct ig_err *err)
{
	return ig_connect_subscribe(&r->ctx, g, acc, cmd_val(r, OPT_FIELDS), out, err);
}

static int do_doctor(struct cmd_run *r, struct ig_graph *g, const struct ig_account *acc,
		     json_t **out, struct ig_err *err)
{
	int rc = ig_connect_doctor(&r->ctx, g, acc, out, err);

	/* --format table: the compact problems-only view (cron mail) */
	if (r->o.format == IG_FMT_TABLE) {
		json_t *brief = ig_connect_doctor_brief(*out);

		json_decref(*out);
		*out = brief;
	}
	return rc;
}

/* ACCOUNT or --all; test needs one of them, the others default to all. */
static void check_account_or_all(struct cmd_run *r)
{
	if (r->narg && cmd_val(r, OPT_ALL))
		usage_error("%s takes an ACCOUNT or --all, not both", r->what);
	if (!r->narg && !cmd_val(r, OPT_ALL) && !strcmp(r->what, "test"))
		usage_error("%s needs an ACCOUNT or --all", r->what);
}

/*
 * Run fn on ACCOUNT, or on every connected account of the tenant (--all, or
 * no ACCOUNT).  One record per account on stdout; failures also on stderr;
 * the exit code is the most serious one (see rank()).
 */
static int per_account(struct cmd_run *r, enum ig_access access, const char *action,
		       int temp_first, per_account_fn *fn)
{
	struct ig_ctx *ctx = &r->ctx;
	struct ig_err err = { 0 };
	struct ig_account *accs = NULL, one;
	struct ig_graph g;
	struct ig_out listing;
	size_t n = 0, i;
	int64_t tid = 0;
	int code = 0;

	if (r->narg) {
		one_account(r, access, action, &one);
		accs = &one;
		n = 1;
	} else {
		if (ig_connect_tenant(ctx, r->o.tenant, access, action, 1, &tid, &err)
		    || ig_connect_all(ctx, tid, 0, &accs, &n, &err))
			die_err(&err);
		if (n == 0)
			note("no connected account");
	}
	open_graph(&g, ctx);
	/* One row per account; --format table|csv takes the record's keys as
	 * columns. */
	ig_out_init(&listing, stdout, r->o.format, NULL);
	for (i = 0; i < n; i++) {
		json_t *out = NULL;
		int rc;

		ig_err_clear(&err);
		rc = fn(r, &g, &accs[i], &out, &err);
		if (out && ig_out_row(&listing, out))
			die(IG_EX_IOERR, "cannot write to stdout:");
		json_decref(out);
		if (rc)   /* one line: who, then why (the library names neither) */
			warn("tenant '%s', account %s: %s", accs[i].tenant, accs[i].external_id,
			     err.msg);
		code = worse(code, rc, temp_first);
	}
	if (ig_out_finish(&listing))
		die(IG_EX_IOERR, "cannot write to stdout:");
	ig_graph_release(&g);
	if (accs != &one)
		free(accs);
	return code;
}

static int cmd_test(struct cmd_run *r)
{
	return per_account(r, IG_READ, "account.test", 0, do_test);
}

static int cmd_refresh(struct cmd_run *r)
{
	return per_account(r, IG_WRITE, "token.refresh", 1, do_refresh);
}

static int cmd_subscribe(struct cmd_run *r)
{
	return per_account(r, IG_WRITE, "account.subscribe", 0, do_subscribe);
}

static int cmd_doctor(struct cmd_run *r)
{
	return per_account(r, IG_READ, "account.doctor", 0, do_doctor);
}

/* ------------------------------------------------------------ disconnect, move, rekey */

static int cmd_disconnect(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	struct ig_account acc;
	struct ig_graph g;
	json_t *out = NULL, *w;
	int erase = cmd_val(r, OPT_ERASE) != NULL;
	size_t i;
	int rc;

	one_account(r, IG_WRITE, erase ? "account.erase" : "account.disconnect", &acc);
	open_graph(&g, &r->ctx);
	rc = ig_connect_disconnect(&r->ctx, &g, &acc, erase, &out, &err);
	ig_graph_release(&g);
	json_array_foreach(json_object_get(out, "warnings"), i, w)
		warn("could not unsubscribe %s (disconnected anyway): %s", acc.external_id,
		     ig_json_str(w, "unsubscribe") ? ig_json_str(w, "unsubscribe") : "?");
	if (!rc)
		cmd_emit(out);
	json_decref(out);
	if (rc)
		die_err(&err);
	return 0;
}

static void check_move(struct cmd_run *r)
{
	if (!cmd_val(r, OPT_TO_TENANT))
		usage_error("move needs an ACCOUNT and --to-tenant");
}

static int cmd_move(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	struct ig_account acc;
	json_t *out;

	one_account(r, IG_WRITE, "account.move", &acc);
	if (ig_connect_move(&r->ctx, &acc, cmd_val(r, OPT_TO_TENANT), &out, &err))
		die_err(&err);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

static void check_rekey(struct cmd_run *r)
{
	if (!cmd_val(r, OPT_NEW_KEY_FILE))
		usage_error("rekey needs --new-key-file");
}

static int cmd_rekey(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *out;

	if (ig_connect_rekey(&r->ctx, cmd_val(r, OPT_NEW_KEY_FILE), &out, &err))
		die_err(&err);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

/* ------------------------------------------------------------ Meta's callbacks */

static const char *http_status(int code)
{
	switch (code) {
	case 0: return "200 OK";
	case IG_EX_DATAERR: return "403 Forbidden";
	case IG_EX_USAGE: return "405 Method Not Allowed";
	case IG_EX_TEMPFAIL: return "503 Service Unavailable";
	default: return "500 Internal Server Error";
	}
}

/* A CGI answer: status line (http, or from the exit code), JSON body; the
 * exit code is kept. */
static int cgi_reply(int code, int http, const json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT), line[64];

	if (http && http != 200)
		snprintf(line, sizeof(line), "%d %s", http, ig_cgi_reason(http));
	printf("Status: %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n%s\n",
	       http && http != 200 ? line : http_status(code), text ? text : "{}");
	free(text);
	return code;
}

static int cgi_error(const struct ig_err *err, int http)
{
	json_t *b;
	int code = err->code ? err->code : IG_EX_SOFTWARE;

	warn_err(err);
	/* Meta sees only a generic reason; the details go to the server log. */
	b = json_pack("{s:s}", "error", http == 400 || http == 413 ? "bad request"
		      : code == IG_EX_DATAERR ? "bad signed_request"
		      : code == IG_EX_USAGE ? "POST only" : "internal error");
	cgi_reply(code, http, b);
	json_decref(b);
	return code;
}

/* The request body: CONTENT_LENGTH bytes in CGI mode (checked, at most
 * 64 KiB), else all of stdin.  *http: the status a CGI failure answers. */
static char *callback_input(const char *method, int *http, struct ig_err *err)
{
	char *buf;
	size_t len;

	*http = 0;
	if (!method) {
		cmd_stdin_hint("a signed_request (form body)");
		return read_stdin(64 * 1024);
	}
	if (strcmp(method, "POST")) {
		ig_err_set(err, IG_EX_USAGE, "Meta's callbacks are POST requests, not %s", method);
		return NULL;
	}
	if (ig_cgi_body(64 * 1024, &buf, &len, NULL, http, err))
		return NULL;
	return buf;
}

static int cmd_meta(struct cmd_run *r)
{
	struct ig_ctx *ctx = &r->ctx;
	struct ig_err err = { 0 };
	json_t *payload = NULL, *out = NULL;
	const char *method = ig_cgi_method();
	int deletion = !strcmp(r->what, "data-deletion"), rc, http;
	char uid[32], *in;

	ig_ctx_act_as_meta(ctx);
	in = callback_input(method, &http, &err);
	rc = in ? ig_signed_request_verify(ctx, in, &payload, &err) : err.code;
	free(in);
	if (!rc) {
		ig_json_id(payload, "user_id", uid);
		rc = deletion ? ig_connect_data_deletion(ctx, uid, &out, &err)
			      : ig_connect_deauthorize(ctx, uid, &out, &err);
	}
	json_decref(payload);
	if (rc) {
		if (method)
			return cgi_error(&err, http);
		die_err(&err);
	}
	if (method) {
		/* Meta wants exactly {url, confirmation_code} for deletion (§8). */
		if (!deletion) {
			json_t *ok = json_pack("{s:b}", "success", 1);

			cgi_reply(0, 0, ok);
			json_decref(ok);
		} else {
			cgi_reply(0, 0, out);
		}
	} else {
		cmd_emit(out);
	}
	json_decref(out);
	return 0;
}

/* A CODE operand from the command line, or ?id= in CGI mode. */
static void check_deletion_status(struct cmd_run *r)
{
	if (ig_cgi_method()) {
		if (r->narg)
			usage_error("deletion-status: unexpected argument '%s'", r->arg[0]);
	} else if (!r->narg) {
		usage_error("deletion-status needs a CODE");
	}
}

static int cmd_deletion_status(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *out = NULL;
	char *code = NULL;
	int cgi = ig_cgi_method() != NULL, rc;

	if (cgi) {
		const char *qs = getenv("QUERY_STRING");

		code = qs ? ig_cgi_param(qs, "id") : NULL;
	} else {
		code = strdup(r->arg[0]);
	}
	rc = code && *code ? ig_connect_deletion_status(&r->ctx, code, &out, &err)
		: ig_err_set(&err, IG_EX_DATAERR, "no confirmation code given");
	free(code);
	if (cgi) {
		/* A human reads this page (reference §8). */
		printf("Status: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		       rc ? "404 Not Found" : "200 OK");
		if (rc)
			printf("Unknown confirmation code.\n");
		else
			printf("Data deletion request %s: %s.\nReceived %s; completed %s; %lld account(s) erased.\n",
			       ig_json_str(out, "confirmation_code"), ig_json_str(out, "status"),
			       ig_json_str(out, "received_at"),
			       ig_json_str(out, "completed_at") ? ig_json_str(out, "completed_at") : "-",
			       ig_json_int(out, "accounts_erased", 0));
		json_decref(out);
		return rc;
	}
	if (rc)
		die_err(&err);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

/* ------------------------------------------------------------ the command table */

static const int o_url[] = { OPT_AGENT, OPT_FLAVOUR, OPT_CHANNEL, OPT_SCOPES, OPT_TTL, 0 };
static const int o_add[] = { OPT_AGENT, OPT_FLAVOUR, OPT_CHANNEL, 0 };
static const int o_assign[] = { OPT_AGENT, OPT_DEFAULT, OPT_LOCATION, OPT_NO_LOCATION, 0 };
static const int o_all[] = { OPT_ALL, 0 };
static const int o_refresh[] = { OPT_WITHIN, OPT_ALL, 0 };
static const int o_subscribe[] = { OPT_ALL, OPT_FIELDS, 0 };
static const int o_erase[] = { OPT_ERASE, 0 };
static const int o_move[] = { OPT_TO_TENANT, 0 };
static const int o_rekey[] = { OPT_NEW_KEY_FILE, 0 };

#define S_ CMD_STORE
#define META_ (CMD_STORE | CMD_NOACTOR)

static const struct cmd_row rows[] = {
	{ "url", cmd_url, S_, o_url, 0, 0, "",
	  "print a single-use authorisation URL (the API key's tenant, or --tenant T)", NULL, NULL },
	{ "callback", cmd_callback, S_, NULL, 0, 0, "", "finish it: read the redirect URL on stdin",
	  NULL, NULL },
	{ "add", cmd_add, S_, o_add, 0, 0, "",
	  "connect from a token read on stdin (the API key's tenant, or --tenant T)", NULL, NULL },
	{ "list", cmd_list, S_, NULL, 0, 0, "", "the connected accounts (tokens masked)", NULL, NULL },
	{ "assign", cmd_assign, S_, o_assign, 1, 1, "ACCOUNT",
	  "the agent (--agent A | --default) and location of an account", NULL, check_assign },
	{ "test", cmd_test, S_, o_all, 0, 1, "[ACCOUNT]",
	  "call the API with the stored token (ACCOUNT or --all); brand snapshot", NULL,
	  check_account_or_all },
	{ "refresh", cmd_refresh, S_, o_refresh, 0, 1, "[ACCOUNT]",
	  "refresh tokens that expire soon (for cron)", NULL, check_account_or_all },
	{ "subscribe", cmd_subscribe, S_, o_subscribe, 0, 1, "[ACCOUNT]",
	  "subscribe accounts to webhook fields", NULL, check_account_or_all },
	{ "doctor", cmd_doctor, S_, o_all, 0, 1, "[ACCOUNT]",
	  "check token, scopes, subscription, Page link", NULL, check_account_or_all },
	{ "disconnect", cmd_disconnect, S_, o_erase, 1, 1, "ACCOUNT",
	  "disconnect an account (--erase: and delete its history)", NULL, NULL },
	{ "move", cmd_move, S_, o_move, 1, 1, "ACCOUNT",
	  "move an account to another tenant (super admin)", NULL, check_move },
	{ "rekey", cmd_rekey, S_, o_rekey, 0, 0, "",
	  "re-seal every token under a new master key (super admin)", NULL, check_rekey },
	{ "deauthorize", cmd_meta, META_, NULL, 0, 0, "",
	  "Meta's deauthorize callback (signed_request; CGI too)", NULL, NULL },
	{ "data-deletion", cmd_meta, META_, NULL, 0, 0, "",
	  "Meta's data-deletion callback (signed_request; CGI too)", NULL, NULL },
	{ "deletion-status", cmd_deletion_status, META_, NULL, 0, 1, "CODE",
	  "a data-deletion request's status (CGI too: ?id=CODE)", NULL, check_deletion_status },
	{ 0 }
};

static const struct cmd_program program = {
	"Connect Instagram accounts (Instagram Login or Facebook Login) to tenants and\n"
	"agents; keep their tokens sealed, tested and refreshed; answer Meta's callbacks.",
	"ACCOUNT is the Instagram account id, @username, or the Page id.\n",
	opts, rows, NULL, CMD_SAY_TAKE, NULL
};

int main(int argc, char **argv)
{
	return cmd_main(&program, argc, argv);
}
