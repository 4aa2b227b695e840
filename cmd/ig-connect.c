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

#include "common.h"
#include "connect.h"
#include "crypto.h"
#include "graph.h"
#include "igtime.h"

static const char help_text[] =
	"Usage: ig-connect [OPTIONS] COMMAND [ARGS]\n"
	"Connect Instagram accounts (Instagram Login or Facebook Login) to tenants and\n"
	"agents; keep their tokens sealed, tested and refreshed; answer Meta's callbacks.\n"
	"\n"
	"Commands:\n"
	"  url --tenant T [--agent A] [--flavour F] [--channel C] [--scopes S] [--ttl D]\n"
	"                            print an authorisation URL with a single-use state\n"
	"  callback                  finish it: read the redirect URL on stdin\n"
	"  add --tenant T [--agent A] [--flavour F] [--channel C]\n"
	"                            connect from a token read on stdin\n"
	"  list                      the connected accounts (tokens masked)\n"
	"  assign ACCOUNT (--agent A | --default) [--location L | --no-location]\n"
	"  test ACCOUNT|--all        call the API with the stored token; brand snapshot\n"
	"  refresh [ACCOUNT] [--within DAYS]\n"
	"                            refresh tokens that expire soon (for cron)\n"
	"  subscribe [ACCOUNT|--all] [--fields LIST]\n"
	"                            subscribe accounts to webhook fields\n"
	"  doctor [ACCOUNT|--all]    check token, scopes, subscription, Page link\n"
	"  disconnect ACCOUNT [--erase]\n"
	"  move ACCOUNT --to-tenant T   (super admin)\n"
	"  rekey --new-key-file F    re-seal every token under a new master key (super admin)\n"
	"  deauthorize               Meta's deauthorize callback (signed_request; CGI too)\n"
	"  data-deletion             Meta's data-deletion callback (signed_request; CGI too)\n"
	"  deletion-status CODE      a data-deletion request's status (CGI too)\n"
	"\n"
	"ACCOUNT is the Instagram account id, @username, or the Page id.\n"
	"\n"
	"Options:\n"
	"      --agent NAME       the agent that answers on the account\n"
	"      --default          assign: the tenant's default agent answers\n"
	"      --location NAME    assign: the account's location\n"
	"      --no-location      assign: clear the location\n"
	"      --flavour F        instagram (Instagram Login, default) or facebook\n"
	"      --channel C        instagram (default) or messenger: connect the user's\n"
	"                         Facebook Pages for Messenger (needs --flavour facebook)\n"
	"      --scopes LIST      url: permissions to ask for (comma list)\n"
	"      --ttl DURATION     url: how long the URL stays valid (default 10m)\n"
	"      --all              every account of the tenant (all tenants for a super admin)\n"
	"      --within DAYS      refresh: tokens expiring within DAYS (default 10)\n"
	"      --fields LIST      subscribe: webhook fields (default: the flavour's list)\n"
	"      --erase            disconnect: delete the account and its history\n"
	"      --to-tenant SLUG   move: the tenant that gets the account\n"
	"      --new-key-file F   rekey: the new 32-byte master key\n";

/* The help: ours, then the shared options (filled in by main). */
static char help[sizeof(help_text) + 2048];

enum {
	OPT_AGENT = OPT_PROGRAM, OPT_DEFAULT, OPT_LOCATION, OPT_NO_LOCATION, OPT_FLAVOUR,
	OPT_SCOPES, OPT_TTL, OPT_ALL, OPT_WITHIN, OPT_FIELDS, OPT_ERASE, OPT_TO_TENANT,
	OPT_NEW_KEY_FILE,
	OPT_CHANNEL   /* meta: url/add --channel */
};

static const struct option long_opts[] = {
	CMD_COMMON_LONG,
	{ "agent", required_argument, NULL, OPT_AGENT },
	{ "default", no_argument, NULL, OPT_DEFAULT },
	{ "location", required_argument, NULL, OPT_LOCATION },
	{ "no-location", no_argument, NULL, OPT_NO_LOCATION },
	{ "flavour", required_argument, NULL, OPT_FLAVOUR },
	{ "scopes", required_argument, NULL, OPT_SCOPES },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "within", required_argument, NULL, OPT_WITHIN },
	{ "fields", required_argument, NULL, OPT_FIELDS },
	{ "erase", no_argument, NULL, OPT_ERASE },
	{ "to-tenant", required_argument, NULL, OPT_TO_TENANT },
	{ "new-key-file", required_argument, NULL, OPT_NEW_KEY_FILE },
	{ "channel", required_argument, NULL, OPT_CHANNEL },
	{ NULL, 0, NULL, 0 }
};

/* Everything any subcommand may be given; each checks what applies to it. */
struct args {
	struct cmd_opts o;
	const char *agent, *location, *flavour, *scopes, *fields, *to_tenant, *new_key_file;
	int to_default, no_location, all, erase;
	int64_t ttl, within;
	int seen_ttl, seen_within;
	const char *channel;  /* meta: --channel */
	char **pos;           /* positional arguments after the subcommand */
	int npos;
};

/* Options a subcommand accepts, as a bit per OPT_ value. */
#define BIT(o) (1u << ((o) - OPT_PROGRAM))

static void parse(int argc, char **argv, const char *cmd, unsigned allowed, struct args *a)
{
	int c;

	cmd_getopt_reset();
	while ((c = getopt_long(argc, argv, CMD_COMMON_SHORT, long_opts, NULL)) != -1) {
		if (cmd_option(&a->o, c, optarg, help))
			continue;
		if (c >= OPT_PROGRAM && !(allowed & BIT(c))) {
			const struct option *lo;

			for (lo = long_opts; lo->name && lo->val != c; lo++)
				;
			usage_error("%s does not take --%s", cmd, lo->name ? lo->name : "?");
		}
		switch (c) {
		case OPT_AGENT: a->agent = optarg; break;
		case OPT_DEFAULT: a->to_default = 1; break;
		case OPT_LOCATION: a->location = optarg; break;
		case OPT_NO_LOCATION: a->no_location = 1; break;
		case OPT_FLAVOUR:
			if (ig_connect_flavour_valid(optarg))
				usage_error("--flavour takes instagram or facebook, not '%s'", optarg);
			a->flavour = optarg;
			break;
		case OPT_SCOPES: a->scopes = optarg; break;
		case OPT_TTL:
			if (ig_duration_parse(optarg, &a->ttl) || a->ttl < 60 || a->ttl > 86400)
				usage_error("--ttl takes a duration from 60s to 24h (e.g. 10m), not '%s'",
					    optarg);
			a->seen_ttl = 1;
			break;
		case OPT_ALL: a->all = 1; break;
		case OPT_WITHIN:
			a->within = cmd_number("--within", optarg, 0, 3650);
			a->seen_within = 1;
			break;
		case OPT_FIELDS: a->fields = optarg; break;
		case OPT_ERASE: a->erase = 1; break;
		case OPT_TO_TENANT: a->to_tenant = optarg; break;
		case OPT_NEW_KEY_FILE: a->new_key_file = optarg; break;
		case OPT_CHANNEL:
			if (ig_connect_channel_valid(optarg))
				usage_error("--channel takes instagram or messenger, not '%s'", optarg);
			a->channel = optarg;
			break;
		default:
			usage_error("unknown option");
		}
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
}

static void no_more_args(const struct args *a, int max, const char *cmd)
{
	if (a->npos > max)
		usage_error("%s: unexpected argument '%s'", cmd, a->pos[max]);
}

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

/* Read all of stdin (at most max bytes); dies on error.  New string. */
static char *read_stdin(size_t max)
{
	struct ig_buf b = IG_BUF_INIT(max);

	if (ig_buf_read_file(&b, stdin)) {
		ig_buf_release(&b);
		die(IG_EX_DATAERR, "cannot read stdin (more than %zu bytes, or a read error)", max);
	}
	return ig_buf_detach(&b, NULL);
}

/* ------------------------------------------------------------ url, callback, add */

static int cmd_url(struct ig_ctx *ctx, struct args *a)
{
	struct ig_err err = { 0 };
	int64_t tid;
	json_t *out;

	no_more_args(a, 0, "url");
	if (!a->o.tenant)
		usage_error("url needs --tenant");
	cmd_ctx_open(ctx, &a->o, CMD_STORE);
	if (ig_connect_tenant(ctx, a->o.tenant, IG_WRITE, "account.connect", 0, &tid, &err)
	    || ig_connect_url_channel(ctx, tid, a->agent, a->flavour ? a->flavour : "instagram",
				      a->channel ? a->channel : "instagram", a->scopes,
				      a->seen_ttl ? a->ttl : IG_CONNECT_STATE_TTL, &out, &err))
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

static int cmd_callback(struct ig_ctx *ctx, struct args *a)
{
	struct ig_err err = { 0 };
	struct ig_graph g;
	json_t *out = NULL;
	char *in;
	int rc;

	no_more_args(a, 0, "callback");
	cmd_ctx_open(ctx, &a->o, CMD_STORE);
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

static int cmd_add(struct ig_ctx *ctx, struct args *a)
{
	struct ig_err err = { 0 };
	struct ig_graph g;
	json_t *out = NULL;
	int64_t tid;
	char *in;
	size_t n;
	int rc;

	no_more_args(a, 0, "add");
	if (!a->o.tenant)
		usage_error("add needs --tenant");
	cmd_ctx_open(ctx, &a->o, CMD_STORE);
	if (ig_connect_tenant(ctx, a->o.tenant, IG_WRITE, "account.connect", 0, &tid, &err))
		die_err(&err);
	in = read_stdin(16 * 1024);
	in[strcspn(in, "\r\n")] = '\0';
	for (n = strlen(in); n && (in[n - 1] == ' ' || in[n - 1] == '\t'); n--)
		in[n - 1] = '\0';
	open_graph(&g, ctx);
	rc = ig_connect_add_channel(ctx, &g, tid, a->agent, a->flavour ? a->flavour : "instagram",
				    a->channel ? a->channel : "instagram", in + strspn(in, " \t"),
				    &out, &err);
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

static int cmd_list(struct ig_ctx *ctx, struct args *a)
{
	static const char *const cols[] = {
		"tenant", "account", "username", "flavour", "status", "agent", "location",
		"token", "token_expires_at", "last_error", "error_count", "message_count",
		"user_count", "last_synced_at", NULL
	};
	struct ig_err err = { 0 };
	struct ig_out out;
	int64_t tid;
	int rc;

	no_more_args(a, 0, "list");
	cmd_ctx_open(ctx, &a->o, CMD_STORE);
	if (ig_connect_tenant(ctx, a->o.tenant, IG_READ, "account.list", 1, &tid, &err))
		die_err(&err);
	ig_out_init(&out, stdout, a->o.format, cols);
	rc = ig_connect_list(ctx, tid, list_row, &out, &err);
	if (ig_out_finish(&out) || rc == IG_EX_IOERR)
		die(IG_EX_IOERR, "cannot write to stdout:");
	if (rc)
		die_err(&err);
	return 0;
}

/* The one ACCOUNT argument of a subcommand, resolved with access. */
static void one_account(struct ig_ctx *ctx, struct args *a, const char *cmd, enum ig_access acc,
			const char *action, struct ig_account *out)
{
	struct ig_err err = { 0 };
	int64_t tid = 0;

	if (a->o.tenant && ig_connect_tenant(ctx, a->o.tenant, acc, action, 0, &tid, &err))
		die_err(&err);
	if (ig_connect_find(ctx, tid, a->pos[0], acc, action, out, &err))
		die_err(&err);
	(void)cmd;
}

static int cmd_assign(struct ig_ctx *ctx, struct args *a)
{
	struct ig_err err = { 0 };
	struct ig_account acc;
	json_t *out;

	if (a->npos < 1)
		usage_error("assign needs an ACCOUNT");
	no_more_args(a, 1, "assign");
	if (!!a->agent + a->to_default > 1)
		usage_error("assign takes --agent or --default, not both");
	if (a->location && a->no_location)
		usage_error("assign takes --location or --no-location, not both");
	if (!a->agent && !a->to_default && !a->location && !a->no_location)
		usage_error("assign needs --agent, --default, --location or --no-location");
	cmd_ctx_open(ctx, &a->o, CMD_STORE);
	one_account(ctx, a, "assign", IG_WRITE, "account.assign", &acc);
	if (ig_connect_assign(ctx, &acc, a->agent, a->to_default,
			      a->no_location ? "" : a->location, &out, &err))
		die_err(&err);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

/* ------------------------------------------------------------ per-account runs */

typedef int per_account_fn(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
			   const struct args *a, json_t **out, struct ig_err *err);

static int do_test(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
		   const struct args *a, json_t **out, struct ig_err *err)
{
	(void)a;
	return ig_connect_test(ctx, g, acc, out, err);
}

static int do_refresh(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
		      const struct args *a, json_t **out, struct ig_err *err)
{
	return ig_connect_refresh(ctx, g, acc, (a->seen_within ? a->within : 10) * 86400, out, err);
}

static int do_subscribe(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
			const struct args *a, json_t **out, struct ig_err *err)
{
	return ig_connect_subscribe(ctx, g, acc, a->fields, out, err);
}

static int do_doctor(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
		     const struct args *a, json_t **out, struct ig_err *err)
{
	int rc = ig_connect_doctor(ctx, g, acc, out, err);

	/* --format table: the compact problems-only view (cron mail) */
	if (a->o.format == IG_FMT_TABLE) {
		json_t *brief = ig_connect_doctor_brief(*out);

		json_decref(*out);
		*out = brief;
	}
	return rc;
}

/*
 * Run fn on ACCOUNT, or on every connected account of the tenant with --all
 * (or when all_default is set and no ACCOUNT is named).  One record per
 * account on stdout; failures also on stderr; the exit code is the most
 * serious one (see rank()).
 */
static int per_account(struct ig_ctx *ctx, struct args *a, const char *cmd, enum ig_access access,
		       const char *action, int all_default, int temp_first, per_account_fn *fn)
{
	struct ig_err err = { 0 };
	struct ig_account *accs = NULL, one;
	struct ig_graph g;
	struct ig_out listing;
	size_t n = 0, i;
	int64_t tid = 0;
	int code = 0;

	no_more_args(a, 1, cmd);
	if (a->npos && a->all)
		usage_error("%s takes an ACCOUNT or --all, not both", cmd);
	if (!a->npos && !a->all && !all_default)
		usage_error("%s needs an ACCOUNT or --all", cmd);
	cmd_ctx_open(ctx, &a->o, CMD_STORE);
	if (a->npos) {
		one_account(ctx, a, cmd, access, action, &one);
		accs = &one;
		n = 1;
	} else {
		if (ig_connect_tenant(ctx, a->o.tenant, access, action, 1, &tid, &err)
		    || ig_connect_all(ctx, tid, 0, &accs, &n, &err))
			die_err(&err);
		if (n == 0)
			note("no connected account");
	}
	open_graph(&g, ctx);
	/* One row per account; --format table|csv takes the record's keys as
	 * columns. */
	ig_out_init(&listing, stdout, a->o.format, NULL);
	for (i = 0; i < n; i++) {
		json_t *out = NULL;
		int rc;

		ig_err_clear(&err);
		rc = fn(ctx, &g, &accs[i], a, &out, &err);
		if (out && ig_out_row(&listing, out))
			die(IG_EX_IOERR, "cannot write to stdout:");
		json_decref(out);
		if (rc) {
			/* one line: who, then why (the library names neither) */
			warn("tenant '%s', account %s: %s", accs[i].tenant, accs[i].external_id,
			     err.msg);
		}
		code = worse(code, rc, temp_first);
	}
	if (ig_out_finish(&listing))
		die(IG_EX_IOERR, "cannot write to stdout:");
	ig_graph_release(&g);
	if (accs != &one)
		free(accs);
	return code;
}

/* ------------------------------------------------------------ disconnect, move, rekey */

static int cmd_disconnect(struct ig_ctx *ctx, struct args *a)
{
	struct ig_err err = { 0 };
	struct ig_account acc;
	struct ig_graph g;
	json_t *out = NULL, *w;
	size_t i;
	int rc;

	if (a->npos < 1)
		usage_error("disconnect needs an ACCOUNT");
	no_more_args(a, 1, "disconnect");
	cmd_ctx_open(ctx, &a->o, CMD_STORE);
	one_account(ctx, a, "disconnect", IG_WRITE, a->erase ? "account.erase" : "account.disconnect",
		    &acc);
	open_graph(&g, ctx);
	rc = ig_connect_disconnect(ctx, &g, &acc, a->erase, &out, &err);
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

static int cmd_move(struct ig_ctx *ctx, struct args *a)
{
	struct ig_err err = { 0 };
	struct ig_account acc;
	json_t *out;

	if (a->npos < 1 || !a->to_tenant)
		usage_error("move needs an ACCOUNT and --to-tenant");
	no_more_args(a, 1, "move");
	cmd_ctx_open(ctx, &a->o, CMD_STORE);
	one_account(ctx, a, "move", IG_WRITE, "account.move", &acc);
	if (ig_connect_move(ctx, &acc, a->to_tenant, &out, &err))
		die_err(&err);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

static int cmd_rekey(struct ig_ctx *ctx, struct args *a)
{
	struct ig_err err = { 0 };
	json_t *out;

	no_more_args(a, 0, "rekey");
	if (!a->new_key_file)
		usage_error("rekey needs --new-key-file");
	cmd_ctx_open(ctx, &a->o, CMD_STORE);
	if (ig_connect_rekey(ctx, a->new_key_file, &out, &err))
		die_err(&err);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

/* ------------------------------------------------------------ Meta's callbacks */

static int cgi_mode(void)
{
	const char *m = getenv("REQUEST_METHOD");

	return m && *m;
}

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

/* A CGI answer: status line, JSON body; the exit code is kept. */
static int cgi_reply(int code, const json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);

	printf("Status: %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n%s\n",
	       http_status(code), text ? text : "{}");
	free(text);
	return code;
}

static int cgi_error(const struct ig_err *err)
{
	json_t *b;
	int code = err->code ? err->code : IG_EX_SOFTWARE;

	warn_err(err);
	/* Meta sees only a generic reason; the details go to the server log. */
	b = json_pack("{s:s}", "error", code == IG_EX_DATAERR ? "bad signed_request"
		      : code == IG_EX_USAGE ? "POST only" : "internal error");
	cgi_reply(code, b);
	json_decref(b);
	return code;
}

/* The request body: CONTENT_LENGTH bytes in CGI mode, else all of stdin. */
static char *callback_input(int cgi, struct ig_err *err)
{
	const char *cl = getenv("CONTENT_LENGTH");
	size_t want, got;
	char *buf;

	if (!cgi)
		return read_stdin(64 * 1024);
	if (strcmp(getenv("REQUEST_METHOD"), "POST")) {
		ig_err_set(err, IG_EX_USAGE, "Meta's callbacks are POST requests, not %s",
			   getenv("REQUEST_METHOD"));
		return NULL;
	}
	want = cl && *cl ? strtoul(cl, NULL, 10) : 0;
	if (want > 64 * 1024) {
		ig_err_set(err, IG_EX_DATAERR, "request body of %zu bytes is too large", want);
		return NULL;
	}
	buf = malloc(want + 1);
	if (!buf) {
		ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
		return NULL;
	}
	got = fread(buf, 1, want, stdin);
	buf[got] = '\0';
	if (got != want) {
		free(buf);
		ig_err_set(err, IG_EX_DATAERR, "short request body (%zu of %zu bytes)", got, want);
		return NULL;
	}
	return buf;
}

static int cmd_meta(struct ig_ctx *ctx, struct args *a, int deletion)
{
	struct ig_err err = { 0 };
	json_t *payload = NULL, *out = NULL;
	int cgi = cgi_mode(), rc;
	char uid[32], *in;

	no_more_args(a, 0, deletion ? "data-deletion" : "deauthorize");
	cmd_ctx_open(ctx, &a->o, CMD_STORE | CMD_NOACTOR);
	/* Meta acts here, authenticated by the signature, not a local user. */
	ctx->actor.kind = IG_ACTOR_META;
	ctx->actor.super_admin = 1;
	snprintf(ctx->actor.role, sizeof(ctx->actor.role), "super_admin");
	snprintf(ctx->actor.label, sizeof(ctx->actor.label), "meta");
	in = callback_input(cgi, &err);
	rc = in ? ig_signed_request_verify(ctx, in, &payload, &err) : err.code;
	free(in);
	if (!rc) {
		ig_json_id(payload, "user_id", uid);
		rc = deletion ? ig_connect_data_deletion(ctx, uid, &out, &err)
			      : ig_connect_deauthorize(ctx, uid, &out, &err);
	}
	json_decref(payload);
	if (rc) {
		if (cgi)
			return cgi_error(&err);
		die_err(&err);
	}
	if (cgi) {
		/* Meta wants exactly {url, confirmation_code} for deletion (§8). */
		if (!deletion) {
			json_t *ok = json_pack("{s:b}", "success", 1);

			cgi_reply(0, ok);
			json_decref(ok);
		} else {
			cgi_reply(0, out);
		}
	} else {
		cmd_emit(out);
	}
	json_decref(out);
	return 0;
}

static int cmd_deletion_status(struct ig_ctx *ctx, struct args *a)
{
	struct ig_err err = { 0 };
	json_t *out = NULL;
	char *code = NULL;
	int cgi = cgi_mode(), rc;

	if (cgi) {
		const char *qs = getenv("QUERY_STRING");

		code = qs ? ig_form_value(qs, "id") : NULL;
		no_more_args(a, 0, "deletion-status");
	} else {
		if (a->npos < 1)
			usage_error("deletion-status needs a CODE");
		no_more_args(a, 1, "deletion-status");
		code = strdup(a->pos[0]);
	}
	cmd_ctx_open(ctx, &a->o, CMD_STORE | CMD_NOACTOR);
	rc = code && *code ? ig_connect_deletion_status(ctx, code, &out, &err)
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

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		unsigned opts;
	} cmds[] = {
		{ "url", BIT(OPT_AGENT) | BIT(OPT_FLAVOUR) | BIT(OPT_SCOPES) | BIT(OPT_TTL)
			| BIT(OPT_CHANNEL) },
		{ "callback", 0 },
		{ "add", BIT(OPT_AGENT) | BIT(OPT_FLAVOUR) | BIT(OPT_CHANNEL) },
		{ "list", 0 },
		{ "assign", BIT(OPT_AGENT) | BIT(OPT_DEFAULT) | BIT(OPT_LOCATION) | BIT(OPT_NO_LOCATION) },
		{ "test", BIT(OPT_ALL) },
		{ "refresh", BIT(OPT_WITHIN) | BIT(OPT_ALL) },
		{ "subscribe", BIT(OPT_ALL) | BIT(OPT_FIELDS) },
		{ "doctor", BIT(OPT_ALL) },
		{ "disconnect", BIT(OPT_ERASE) },
		{ "move", BIT(OPT_TO_TENANT) },
		{ "rekey", BIT(OPT_NEW_KEY_FILE) },
		{ "deauthorize", 0 },
		{ "data-deletion", 0 },
		{ "deletion-status", 0 },
	};
	struct args a;
	struct ig_ctx ctx;
	const char *cmd;
	size_t i;
	int c, code = 0;

	cmd_init(argc, argv);
	snprintf(help, sizeof(help), "%s%s", help_text, cmd_common_help);
	memset(&a, 0, sizeof(a));
	while ((c = getopt_long(argc, argv, "+" CMD_COMMON_SHORT, long_opts, NULL)) != -1) {
		if (!cmd_option(&a.o, c, optarg, help))
			usage_error("options before the command are the shared ones only");
	}
	if (optind >= argc)
		usage_error("a command is needed (url, callback, add, list, assign, test, refresh, "
			    "subscribe, doctor, disconnect, move, rekey, deauthorize, data-deletion, "
			    "deletion-status)");
	cmd = argv[optind];
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && strcmp(cmds[i].name, cmd); i++)
		;
	if (i == sizeof(cmds) / sizeof(cmds[0]))
		usage_error("unknown command '%s'", cmd);
	parse(argc - optind, argv + optind, cmd, cmds[i].opts, &a);
	ig_ctx_init(&ctx);
	if (!strcmp(cmd, "url"))
		code = cmd_url(&ctx, &a);
	else if (!strcmp(cmd, "callback"))
		code = cmd_callback(&ctx, &a);
	else if (!strcmp(cmd, "add"))
		code = cmd_add(&ctx, &a);
	else if (!strcmp(cmd, "list"))
		code = cmd_list(&ctx, &a);
	else if (!strcmp(cmd, "assign"))
		code = cmd_assign(&ctx, &a);
	else if (!strcmp(cmd, "test"))
		code = per_account(&ctx, &a, cmd, IG_READ, "account.test", 0, 0, do_test);
	else if (!strcmp(cmd, "refresh"))
		code = per_account(&ctx, &a, cmd, IG_WRITE, "token.refresh", 1, 1, do_refresh);
	else if (!strcmp(cmd, "subscribe"))
		code = per_account(&ctx, &a, cmd, IG_WRITE, "account.subscribe", 1, 0, do_subscribe);
	else if (!strcmp(cmd, "doctor"))
		code = per_account(&ctx, &a, cmd, IG_READ, "account.doctor", 1, 0, do_doctor);
	else if (!strcmp(cmd, "disconnect"))
		code = cmd_disconnect(&ctx, &a);
	else if (!strcmp(cmd, "move"))
		code = cmd_move(&ctx, &a);
	else if (!strcmp(cmd, "rekey"))
		code = cmd_rekey(&ctx, &a);
	else if (!strcmp(cmd, "deauthorize"))
		code = cmd_meta(&ctx, &a, 0);
	else if (!strcmp(cmd, "data-deletion"))
		code = cmd_meta(&ctx, &a, 1);
	else
		code = cmd_deletion_status(&ctx, &a);
	ig_ctx_release(&ctx);
	return cmd_finish(code);
}
