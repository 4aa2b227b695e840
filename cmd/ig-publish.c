/*
 * ig-publish — the content calendar: drafts, assets, the preflight,
 * schedule, and the publishing worker that takes due posts through Meta's
 * container → status → publish flow exactly once.  See ig-publish(1).
 *
 * Reads:  JSON Lines posts (draft, check) from a file or stdin, one post per
 *         line; arguments and flags for the one-post case.
 * Writes: JSON Lines on stdout (--format table|csv for listings); run
 *         prints one line per failed or unknown post; diagnostics on stderr.
 * Exit:   0 ok; 64 usage; 65 a post refused (or some line of a stream), an
 *         unknown post; 66 input missing; 69 a post failed permanently at
 *         Meta; 70 internal; 73/74 store; 75 temporary (a post unknown,
 *         network, busy store); 77 permission denied or an account needs
 *         re-authorisation; 78 configuration.
 *
 * Behaviour (checks, SQL, permissions, audit, the worker) is in
 * lib/publish.c, lib/preflight.c and lib/pubworker.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "common.h"
#include "graph.h"
#include "igtime.h"
#include "jsonio.h"
#include "publish.h"

enum {
	OPT_ACCOUNT = OPT_PROGRAM, OPT_TYPE, OPT_MEDIA, OPT_CAPTION, OPT_AT, OPT_FIRST_COMMENT,
	OPT_SKU, OPT_KEY, OPT_ALT_TEXT, OPT_NO_NETWORK, OPT_STATE, OPT_FROM, OPT_TO, OPT_CALENDAR,
	OPT_LIMIT, OPT_WAIT, OPT_WAIT_MAX, OPT_POLL, OPT_PARALLEL, OPT_ALL, OPT_TITLE, OPT_TAGS,
	OPT_FOLDER, OPT_MEDIA_DIR, OPT_BASE_URL, OPT_JSON, OPT_COLLAB, OPT_LOCATION
};

static const struct cmd_optdef opts[] = {
	{ "account", required_argument, OPT_ACCOUNT, "ACCOUNT", "the account: its id or @username", NULL },
	{ "type", required_argument, OPT_TYPE, "TYPE", "image, carousel, reel or story", NULL },
	{ "media", required_argument, OPT_MEDIA, "URL", "a media URL (repeat for a carousel)", NULL },
	{ "caption", required_argument, OPT_CAPTION, "TEXT", "the caption", NULL },
	{ "at", required_argument, OPT_AT, "TIME", "when to publish (ISO-8601; past: at once)", NULL },
	{ "first-comment", required_argument, OPT_FIRST_COMMENT, "TEXT", "a first comment, posted once", NULL },
	{ "sku", required_argument, OPT_SKU, "SKU", "a SKU tag (repeatable)", NULL },
	{ "key", required_argument, OPT_KEY, "KEY", "idempotency key: the same key is one post", NULL },
	{ "alt-text", required_argument, OPT_ALT_TEXT, "TEXT", "alt text of the (first) image", NULL },
	{ "collaborator", required_argument, OPT_COLLAB, "USER", "a collaborator (repeatable, no '@')", NULL },
	{ "location-id", required_argument, OPT_LOCATION, "ID", "a Page id with location data", NULL },
	{ "no-network-check", no_argument, OPT_NO_NETWORK, NULL, "do not fetch media URLs in the preflight", NULL },
	{ "state", required_argument, OPT_STATE, "STATE", "only posts in this state", NULL },
	{ "from", required_argument, OPT_FROM, "TIME", "posts at or after TIME", NULL },
	{ "to", required_argument, OPT_TO, "TIME", "posts before TIME", NULL },
	{ "calendar", no_argument, OPT_CALENDAR, NULL, "one row per post by day (a calendar)", NULL },
	{ "limit", required_argument, OPT_LIMIT, "N", "at most N posts", NULL },
	{ "wait", no_argument, OPT_WAIT, NULL, "repeat until every claimed post is settled", NULL },
	{ "wait-max", required_argument, OPT_WAIT_MAX, "SECONDS", "give up waiting after SECONDS (600)", NULL },
	{ "poll-interval", required_argument, OPT_POLL, "MS", "pause between polling rounds (2000)", NULL },
	{ "parallel", required_argument, OPT_PARALLEL, "N", "requests in flight (32)", NULL },
	{ "all", no_argument, OPT_ALL, NULL, "a line for every post touched, not only failures", NULL },
	{ "title", required_argument, OPT_TITLE, "TEXT", "the asset's title", NULL },
	{ "tags", required_argument, OPT_TAGS, "TAGS", "the asset's tags (comma list)", NULL },
	{ "folder", required_argument, OPT_FOLDER, "NAME", "the asset's folder", NULL },
	{ "media-dir", required_argument, OPT_MEDIA_DIR, "DIR", "local media directory (served to Meta)", NULL },
	{ "media-base-url", required_argument, OPT_BASE_URL, "URL", "public URL of the media directory", NULL },
	{ "json", required_argument, OPT_JSON, "OBJECT", "changes as a JSON object (edit)", NULL },
	{ 0 }
};

#define POST_FLAGS OPT_ACCOUNT, OPT_TYPE, OPT_MEDIA, OPT_CAPTION, OPT_AT, OPT_FIRST_COMMENT, \
	OPT_SKU, OPT_KEY, OPT_ALT_TEXT, OPT_COLLAB, OPT_LOCATION, OPT_NO_NETWORK
static const int o_draft[] = { POST_FLAGS, 0 };
static const int o_schedule[] = { OPT_AT, 0 };
static const int o_edit[] = { OPT_CAPTION, OPT_AT, OPT_FIRST_COMMENT, OPT_MEDIA, OPT_SKU,
			      OPT_ALT_TEXT, OPT_COLLAB, OPT_LOCATION, OPT_TYPE, OPT_ACCOUNT, OPT_JSON,
			      OPT_NO_NETWORK, 0 };
static const int o_list[] = { OPT_STATE, OPT_ACCOUNT, OPT_FROM, OPT_TO, OPT_SKU, OPT_CALENDAR,
			      OPT_LIMIT, 0 };
static const int o_run[] = { OPT_WAIT, OPT_WAIT_MAX, OPT_POLL, OPT_PARALLEL, OPT_ALL, OPT_LIMIT, 0 };
static const int o_asset[] = { OPT_TITLE, OPT_TAGS, OPT_FOLDER, OPT_MEDIA_DIR, OPT_BASE_URL,
			       OPT_NO_NETWORK, 0 };

/* ------------------------------------------------------------ helpers */

static int64_t tenant_of(struct cmd_run *r, enum ig_access a, const char *action, int allow_all)
{
	struct ig_err err = { 0 };
	int64_t id;

	if (ig_publish_tenant(&r->ctx, r->o.tenant, a, action, allow_all, &id, &err))
		die_err(&err);
	return id;
}

static int64_t post_id(struct cmd_run *r, const char *s)
{
	return cmd_number("post id", s, 1, INT64_MAX / 2);
}

static int64_t time_opt(const char *name, const char *v)
{
	int64_t t;

	if (ig_time_parse(v, &t))
		usage_error("%s: not a time (ISO-8601 or Unix seconds): '%s'", name, v);
	return t;
}

static void emit_or_die(const json_t *v)
{
	cmd_emit(v);
}

/* The one-post case: flags → post JSON (new reference), or NULL when no
 * post flag was given. */
static json_t *post_from_flags(struct cmd_run *r, int edit)
{
	json_t *p = json_object(), *media = NULL;
	const char **vals;
	int n, i;

	if (cmd_val(r, OPT_ACCOUNT))
		json_object_set_new(p, "account", json_string(cmd_val(r, OPT_ACCOUNT)));
	if (cmd_val(r, OPT_TYPE))
		json_object_set_new(p, "type", json_string(cmd_val(r, OPT_TYPE)));
	if (cmd_val(r, OPT_CAPTION))
		json_object_set_new(p, "caption", json_string(cmd_val(r, OPT_CAPTION)));
	if (cmd_val(r, OPT_AT))
		json_object_set_new(p, "at", json_string(cmd_val(r, OPT_AT)));
	if (cmd_val(r, OPT_FIRST_COMMENT))
		json_object_set_new(p, "first_comment", json_string(cmd_val(r, OPT_FIRST_COMMENT)));
	if (!edit && cmd_val(r, OPT_KEY))
		json_object_set_new(p, "key", json_string(cmd_val(r, OPT_KEY)));
	if (cmd_val(r, OPT_LOCATION))
		json_object_set_new(p, "location_id", json_string(cmd_val(r, OPT_LOCATION)));
	vals = cmd_vals(r, OPT_MEDIA, &n);
	if (n) {
		media = json_array();
		for (i = 0; i < n; i++) {
			json_t *it = json_pack("{s:s}", "url", vals[i]);

			if (i == 0 && cmd_val(r, OPT_ALT_TEXT))
				json_object_set_new(it, "alt_text", json_string(cmd_val(r, OPT_ALT_TEXT)));
			json_array_append_new(media, it);
		}
		json_object_set_new(p, "media", media);
	}
	free(vals);
	vals = cmd_vals(r, OPT_SKU, &n);
	if (n) {
		json_t *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, json_string(vals[i]));
		json_object_set_new(p, "skus", a);
	}
	free(vals);
	vals = cmd_vals(r, OPT_COLLAB, &n);
	if (n) {
		json_t *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, json_string(vals[i]));
		json_object_set_new(p, "collaborators", a);
	}
	free(vals);
	if (!json_object_size(p)) {
		json_decref(p);
		return NULL;
	}
	return p;
}

typedef int post_fn(struct ig_ctx *ctx, int64_t tid, const json_t *post, int network,
		    json_t **out, struct ig_err *err);

/* draft and check: one post from the flags, or a stream of JSON Lines. */
static int posts(struct cmd_run *r, post_fn *fn, enum ig_access a, const char *action)
{
	int64_t tid = tenant_of(r, a, action, 0);
	int network = !cmd_val(r, OPT_NO_NETWORK), worst = 0;
	json_t *one = post_from_flags(r, 0), *out;
	struct ig_err err = { 0 };
	struct ig_jsonl_reader rd;
	FILE *f = stdin;
	const char *name = "stdin";

	if (one) {
		int rc;

		if (r->narg)
			usage_error("%s: give a FILE or the post flags, not both", r->what);
		rc = fn(&r->ctx, tid, one, network, &out, &err);
		json_decref(one);
		if (rc)
			die_err(&err);
		emit_or_die(out);
		json_decref(out);
		return 0;
	}
	if (r->narg && strcmp(r->arg[0], "-")) {
		if (!(f = fopen(r->arg[0], "r")))
			die(IG_EX_NOINPUT, "cannot open '%s':", r->arg[0]);
		name = r->arg[0];
	}
	ig_jsonl_reader_init(&rd, f, name, IG_JSONL_MAX_DEFAULT);
	for (;;) {
		json_t *v = NULL;
		int more = ig_jsonl_next(&rd, &v, &err), rc;

		if (more < 0) {
			warn_err(&err);
			worst = IG_EX_IOERR;
			break;
		}
		if (!more)
			break;
		if (!v) {
			rc = err.code ? err.code : IG_EX_DATAERR;
		} else {
			rc = fn(&r->ctx, tid, v, network, &out, &err);
			if (rc) {
				char msg[sizeof(err.msg)];

				snprintf(msg, sizeof(msg), "%s:%ld: %.990s", name, rd.line, err.msg);
				snprintf(err.msg, sizeof(err.msg), "%s", msg);
			}
		}
		json_decref(v);
		if (rc) {
			json_t *bad = json_pack("{s:I,s:b,s:s}", "line", (json_int_t)rd.line, "ok", 0,
						"error", err.msg);

			warn_err(&err);
			if (bad)
				emit_or_die(bad);
			json_decref(bad);
			/* permission and store failures stop the stream; a bad post does not */
			if (rc == IG_EX_NOPERM || rc == IG_EX_IOERR || rc == IG_EX_CANTCREAT
			    || rc == IG_EX_SOFTWARE) {
				worst = rc;
				break;
			}
			if (!worst)
				worst = IG_EX_DATAERR;
		} else {
			json_object_set_new(out, "line", json_integer(rd.line));
			emit_or_die(out);
			json_decref(out);
		}
		ig_err_clear(&err);
	}
	ig_jsonl_reader_release(&rd);
	if (f != stdin)
		fclose(f);
	return worst;
}

static int c_draft(struct cmd_run *r)
{
	return posts(r, ig_publish_draft, IG_WRITE, "post.draft");
}

static int c_check(struct cmd_run *r)
{
	return posts(r, ig_publish_check, IG_READ, "post.check");
}

static int c_schedule(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	const char *at = cmd_val(r, OPT_AT);
	int64_t tid, id;
	json_t *out;

	if (!at)
		usage_error("schedule: --at TIME is required");
	id = post_id(r, r->arg[0]);
	tid = tenant_of(r, IG_WRITE, "post.schedule", 0);
	if (ig_publish_schedule(&r->ctx, tid, id, time_opt("--at", at), &out, &err))
		die_err(&err);
	emit_or_die(out);
	json_decref(out);
	return 0;
}

static int c_cancel(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	int64_t id = post_id(r, r->arg[0]), tid = tenant_of(r, IG_WRITE, "post.cancel", 0);
	json_t *out;

	if (ig_publish_cancel(&r->ctx, tid, id, &out, &err))
		die_err(&err);
	emit_or_die(out);
	json_decref(out);
	return 0;
}

static int c_edit(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	int64_t id = post_id(r, r->arg[0]), tid;
	json_t *changes = post_from_flags(r, 1), *out;
	const char *js = cmd_val(r, OPT_JSON);

	if (js) {
		json_t *more = ig_json_parse(js, strlen(js), &err);
		const char *k;
		json_t *v;

		if (!more || !json_is_object(more))
			usage_error("edit: --json needs a JSON object%s%s", more ? "" : ": ",
				    more ? "" : err.msg);
		if (!changes)
			changes = json_object();
		json_object_foreach(more, k, v)
			json_object_set(changes, k, v);
		json_decref(more);
	}
	if (!changes)
		usage_error("edit: nothing to change (give --caption, --at, --media, ... or --json)");
	tid = tenant_of(r, IG_WRITE, "post.edit", 0);
	if (ig_publish_edit(&r->ctx, tid, id, changes, !cmd_val(r, OPT_NO_NETWORK), &out, &err)) {
		json_decref(changes);
		die_err(&err);
	}
	json_decref(changes);
	emit_or_die(out);
	json_decref(out);
	return 0;
}

static int list_row(void *arg, const json_t *row)
{
	return ig_out_row(arg, row) ? IG_EX_IOERR : 0;
}

static int c_list(struct cmd_run *r)
{
	static const char *const cols[] = { "id", "tenant", "username", "type", "state", "at",
					    "published_at", "media_id", "permalink", "caption",
					    "error", NULL };
	static const char *const cal_cols[] = { "day", "time", "id", "type", "state", "account",
						"caption", NULL };
	static const char *const states[] = { "draft", "scheduled", "publishing", "published",
					      "failed", "unknown", "cancelled", NULL };
	struct ig_publish_filter f = { 0 };
	struct ig_err err = { 0 };
	struct ig_out out;
	int64_t tid;
	int rc;

	f.state = cmd_val(r, OPT_STATE);
	if (f.state) {
		const char *const *s;

		for (s = states; *s && strcmp(*s, f.state); s++)
			;
		if (!*s)
			usage_error("list: --state is one of draft, scheduled, publishing, published,"
				    " failed, unknown, cancelled; not '%s'", f.state);
	}
	f.account = cmd_val(r, OPT_ACCOUNT);
	f.sku = cmd_val(r, OPT_SKU);
	f.from = cmd_val(r, OPT_FROM) ? time_opt("--from", cmd_val(r, OPT_FROM)) : 0;
	f.to = cmd_val(r, OPT_TO) ? time_opt("--to", cmd_val(r, OPT_TO)) : 0;
	f.calendar = cmd_val(r, OPT_CALENDAR) != NULL;
	f.limit = (long)cmd_val_number(r, OPT_LIMIT, 1, 1000000, 0);
	tid = tenant_of(r, IG_READ, "post.list", 1);
	ig_out_init(&out, stdout, r->o.format, f.calendar ? cal_cols : cols);
	rc = ig_publish_list(&r->ctx, tid, &f, list_row, &out, &err);
	if (ig_out_finish(&out) || rc == IG_EX_IOERR)
		die(IG_EX_IOERR, "cannot write to stdout:");
	if (rc)
		die_err(&err);
	return 0;
}

static int c_status(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	int64_t id = post_id(r, r->arg[0]), tid = tenant_of(r, IG_READ, "post.status", 0);
	json_t *out;

	if (ig_publish_status(&r->ctx, tid, id, &out, &err))
		die_err(&err);
	emit_or_die(out);
	json_decref(out);
	return 0;
}

static int c_asset_add(struct cmd_run *r)
{
	struct ig_asset_spec spec = { 0 };
	struct ig_err err = { 0 };
	int64_t tid = tenant_of(r, IG_WRITE, "asset.add", 0);
	json_t *out;

	spec.source = r->arg[0];
	spec.media_dir = cmd_val(r, OPT_MEDIA_DIR);
	spec.base_url = cmd_val(r, OPT_BASE_URL);
	spec.title = cmd_val(r, OPT_TITLE);
	spec.tags = cmd_val(r, OPT_TAGS);
	spec.folder = cmd_val(r, OPT_FOLDER);
	spec.network = !cmd_val(r, OPT_NO_NETWORK);
	if (ig_asset_add(&r->ctx, tid, &spec, &out, &err))
		die_err(&err);
	emit_or_die(out);
	json_decref(out);
	return 0;
}

static int c_asset_list(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	int64_t tid = tenant_of(r, IG_READ, "asset.list", 0);
	struct ig_out out;
	int rc;

	ig_out_init(&out, stdout, r->o.format, NULL);
	rc = ig_asset_list(&r->ctx, tid, list_row, &out, &err);
	if (ig_out_finish(&out) || rc == IG_EX_IOERR)
		die(IG_EX_IOERR, "cannot write to stdout:");
	if (rc)
		die_err(&err);
	return 0;
}

static void graph_open(struct cmd_run *r, struct ig_graph *g)
{
	struct ig_err err = { 0 };

	if (ig_graph_init(g, &r->ctx.cfg, cmd_verbose, &err))
		die_err(&err);
}

static int c_limit(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	struct ig_graph g;
	int64_t tid = tenant_of(r, IG_READ, "post.limit", 0);
	json_t *out;
	int rc;

	graph_open(r, &g);
	rc = ig_publish_limit(&r->ctx, &g, tid, r->arg[0], &out, &err);
	ig_graph_release(&g);
	if (rc)
		die_err(&err);
	emit_or_die(out);
	json_decref(out);
	return 0;
}

static int emit_row(void *arg, const json_t *row)
{
	(void)arg;
	cmd_emit(row);
	return 0;
}

static int c_run(struct cmd_run *r)
{
	struct ig_publish_run_opts o = { 0 };
	struct ig_publish_run_stats st;
	struct ig_err err = { 0 };
	struct ig_graph g;
	int rc;

	o.tenant_id = tenant_of(r, IG_WRITE, "post.publish", 1);
	o.wait = cmd_val(r, OPT_WAIT) != NULL;
	o.wait_max_s = (long)cmd_val_number(r, OPT_WAIT_MAX, 1, 86400, 600);
	o.poll_interval = (double)cmd_val_number(r, OPT_POLL, 0, 600000, 2000) / 1000.0;
	o.parallel = (int)cmd_val_number(r, OPT_PARALLEL, 1, 256, IG_PUBLISH_PARALLEL);
	o.limit = (long)cmd_val_number(r, OPT_LIMIT, 1, 1000000, 0);
	o.report_all = cmd_val(r, OPT_ALL) != NULL;
	o.emit = emit_row;
	graph_open(r, &g);
	rc = ig_publish_run(&r->ctx, &g, &o, &st, &err);
	ig_graph_release(&g);
	note("run: %ld claimed, %ld published, %ld failed, %ld unknown, %ld deferred, %ld requests,"
	     " %ld rounds", st.claimed, st.published, st.failed, st.unknown, st.deferred,
	     st.requests, st.rounds);
	if (rc)
		warn_err(&err);
	return rc;
}

/* ------------------------------------------------------------ the table */

static const struct cmd_row rows[] = {
	{ "draft", c_draft, CMD_STORE, o_draft, 0, 1, "[FILE|-]",
	  "store posts (JSON Lines, or the flags) after the preflight",
	  "Each line is one post (see ig-publish(1) for its fields); a post with \"at\"\n"
	  "is scheduled, one without is a draft.  A refused line is reported with its\n"
	  "line number and the rule it broke; the rest of the stream still runs.\n", NULL },
	{ "check", c_check, CMD_STORE, o_draft, 0, 1, "[FILE|-]",
	  "run the preflight alone, storing nothing", NULL, NULL },
	{ "schedule", c_schedule, CMD_STORE, o_schedule, 1, 1, "ID",
	  "schedule a draft (or reschedule) at --at TIME", NULL, NULL },
	{ "cancel", c_cancel, CMD_STORE, NULL, 1, 1, "ID",
	  "cancel a post that has not started publishing", NULL, NULL },
	{ "edit", c_edit, CMD_STORE, o_edit, 1, 1, "ID",
	  "change a draft or scheduled post (preflight again)", NULL, NULL },
	{ "list", c_list, CMD_STORE, o_list, 0, 0, "",
	  "the calendar: posts by time, with filters", NULL, NULL },
	{ "status", c_status, CMD_STORE, NULL, 1, 1, "ID",
	  "one post with its whole journal", NULL, NULL },
	{ "asset add", c_asset_add, CMD_STORE, o_asset, 1, 1, "URL|FILE",
	  "register media: an https URL or a file under the media directory", NULL, NULL },
	{ "asset list", c_asset_list, CMD_STORE, NULL, 0, 0, "",
	  "the tenant's assets", NULL, NULL },
	{ "limit", c_limit, CMD_STORE, NULL, 1, 1, "ACCOUNT",
	  "the account's live content_publishing_limit", NULL, NULL },
	{ "run", c_run, CMD_STORE, o_run, 0, 0, "",
	  "publish due posts (cron, every minute)",
	  "Takes every due post of the tenants the actor may publish in (or --tenant)\n"
	  "one step further; --wait repeats until each is settled.  Prints one JSON\n"
	  "line per failed or unknown post (--all: per post touched).\n", NULL },
	{ 0 }
};

static const struct cmd_program program = {
	"The content calendar and publishing worker: drafts, assets, preflight, schedule, run.",
	"'asset add' takes --title, --tags, --folder, --media-dir, --media-base-url and\n"
	"--no-network-check ('ig-publish asset add --help').\n", opts, rows, NULL, CMD_SAY_HERE, NULL
};

int main(int argc, char **argv)
{
	return cmd_main(&program, argc, argv);
}
