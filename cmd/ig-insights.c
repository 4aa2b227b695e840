/*
 * ig-insights — the brand snapshot and Instagram insights of every
 * connected account, kept fresh from cron with a 24-hour cache, and read
 * back as a listing, a long-format export, top media and SKUs, and an HTML
 * report.  See ig-insights(1).
 *
 * Reads:  the store (accounts, their sealed tokens; ig-route's raw
 *         story_insights deliveries); Meta's Graph API (sync).
 * Writes: JSON Lines on stdout (sync: one record per account; show, top:
 *         one per row, also --format table|csv; export: json or csv), the
 *         report's HTML on stdout or --output FILE; progress and
 *         diagnostics on stderr.
 * Exit:   0 ok; 64 usage (a removed metric names its replacement);
 *         65 unknown account; 66 store missing; 69 Meta refused an account;
 *         73/74 cannot write the report / I/O error; 75 some account failed
 *         temporarily (network, rate limit): retry later; 77 permission
 *         denied, or an account needs to log in again; 78 configuration
 *         (e.g. results by SKU without ig-publish's tables).
 *
 * The behaviour (cache, Graph calls, SQL, permissions) is in lib/insights.c,
 * lib/insights_read.c, lib/report.c and lib/metrics.c; this file parses,
 * dispatches and maps results to exit codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "graph.h"
#include "igtime.h"
#include "insights.h"
#include "metrics.h"

enum {
	OPT_ACCOUNT = OPT_PROGRAM, OPT_ALL, OPT_REFRESH, OPT_DAYS, OPT_MEDIA_DAYS, OPT_RETENTION,
	OPT_THUMBNAILS, OPT_PARALLEL, OPT_NO_BATCH, OPT_REFRESH_INTERVAL, OPT_METRIC, OPT_MEDIA,
	OPT_LEVEL, OPT_SINCE, OPT_UNTIL, OPT_BY, OPT_LIMIT, OPT_OUTPUT, OPT_TITLE
};

static const struct cmd_optdef opts[] = {
	{ "account", required_argument, OPT_ACCOUNT, "ACCOUNT", "one account: its id or @username", NULL },
	{ "all", no_argument, OPT_ALL, NULL, "every account in scope (all tenants for the owner)", NULL },
	{ "refresh", no_argument, OPT_REFRESH, NULL,
	  "ask Meta again even for values under 24 h old (rate-limited)", NULL },
	{ "days", required_argument, OPT_DAYS, "N", "days of account insights kept fresh (default 30, max 90)", NULL },
	{ "media-days", required_argument, OPT_MEDIA_DAYS, "N",
	  "media posted within N days get insights (default 30)", NULL },
	{ "retention", required_argument, OPT_RETENTION, "DAYS",
	  "purge history older than DAYS (default 400; 0 keeps all)", NULL },
	{ "thumbnails", required_argument, OPT_THUMBNAILS, "N",
	  "thumbnails per account, of its best media (default 3; the tenant's top 12 too)", NULL },
	{ "parallel", required_argument, OPT_PARALLEL, "N", "requests in flight per host (default 16)", NULL },
	{ "no-batch", no_argument, OPT_NO_BATCH, NULL, "no Graph batch requests (Facebook Login)", NULL },
	{ "refresh-interval", required_argument, OPT_REFRESH_INTERVAL, "DURATION",
	  "least time between two --refresh of an account (default 1h)", NULL },
	{ "metric", required_argument, OPT_METRIC, "NAME", "only this metric (top: rank by it; default reach)", NULL },
	{ "media", required_argument, OPT_MEDIA, "ID", "only this media", NULL },
	{ "level", required_argument, OPT_LEVEL, "L", "account or media figures only", NULL },
	{ "since", required_argument, OPT_SINCE, "TIME", "from this day or time (ISO-8601 or Unix seconds)", NULL },
	{ "until", required_argument, OPT_UNTIL, "TIME", "up to this day or time", NULL },
	{ "by", required_argument, OPT_BY, "WHAT", "top: media (default) or sku", NULL },
	{ "limit", required_argument, OPT_LIMIT, "N", "top: rows (default 10)", NULL },
	{ "output", required_argument, OPT_OUTPUT, "FILE", "report: write to FILE (also -o FILE)", NULL },
	{ "title", required_argument, OPT_TITLE, "TEXT", "report: its title", NULL },
	{ 0 }
};

/* ------------------------------------------------------------ helpers */

/* The store is opened after the arguments are checked, so a usage error is
 * 64 even where no store exists yet. */
static void open_store(struct cmd_run *r)
{
	cmd_ctx_open(&r->ctx, &r->o, CMD_STORE);
	r->ctx_open = 1;
}

static int emit_row(void *arg, const json_t *row)
{
	return ig_out_row(arg, row) ? IG_EX_IOERR : 0;
}

static int64_t time_opt(struct cmd_run *r, int id, const char *name, int end_of_day)
{
	const char *v = cmd_val(r, id);
	int64_t t;

	if (!v)
		return 0;
	if (ig_time_parse(v, &t))
		usage_error("%s: --%s takes a date or time (2026-11-30, 2026-11-30T10:00:00Z) or Unix"
			    " seconds, not '%s'", r->what, name, v);
	/* a bare date as --until means the whole day */
	if (end_of_day && strlen(v) == 10 && v[4] == '-')
		t += 86400;
	return t;
}

static void filter_from(struct cmd_run *r, struct ig_insights_filter *f)
{
	const char *lvl = cmd_val(r, OPT_LEVEL);
	struct ig_err err = { 0 };

	memset(f, 0, sizeof(*f));
	f->tenant = r->o.tenant;
	f->account = cmd_val(r, OPT_ACCOUNT);
	if (r->narg > 0)
		f->account = r->arg[0];
	f->metric = cmd_val(r, OPT_METRIC);
	f->media = cmd_val(r, OPT_MEDIA);
	f->since = time_opt(r, OPT_SINCE, "since", 0);
	f->until = time_opt(r, OPT_UNTIL, "until", 1);
	f->by = cmd_val(r, OPT_BY);
	f->limit = (int)cmd_val_number(r, OPT_LIMIT, 1, 10000, 0);
	f->title = cmd_val(r, OPT_TITLE);
	if (lvl && !strcmp(lvl, "account"))
		f->level = 1;
	else if (lvl && !strcmp(lvl, "media"))
		f->level = 2;
	else if (lvl)
		usage_error("%s: --level takes account or media, not '%s'", r->what, lvl);
	if (f->by && strcmp(f->by, "media") && strcmp(f->by, "sku"))
		usage_error("%s: --by takes media or sku, not '%s'", r->what, f->by);
	if (ig_insights_metric_check(f->metric, &err))
		usage_error("%s: %s", r->what, err.msg);
	if (f->since && f->until && f->since >= f->until)
		usage_error("%s: --since must come before --until", r->what);
}

/* ------------------------------------------------------------ sync */

static void progress(void *arg, size_t done, size_t total, size_t failed)
{
	static int tty = -1;

	(void)arg;
	if (cmd_quiet)
		return;
	if (tty < 0)
		tty = isatty(2);
	if (tty) {
		/* cosmetics only: a bar on a terminal */
		int w = 30, fill = total ? (int)(done * (size_t)w / total) : w;

		fprintf(stderr, "\r%s: sync [%.*s%*s] %zu/%zu accounts%s%.0zu%s", cmd_name, fill,
			"##############################", w - fill, "", done, total,
			failed ? ", failed " : "", failed, done == total ? "\n" : "");
	} else if (done < total || total == 0 || done == total) {
		fprintf(stderr, "%s: sync: %zu/%zu accounts, %zu failed\n", cmd_name, done, total, failed);
	}
	fflush(stderr);
}

struct sync_out {
	struct ig_out out;
};

static int on_account(void *arg, const json_t *rec)
{
	struct sync_out *so = arg;
	const char *e = ig_json_str(rec, "error"), *note = ig_json_str(rec, "note");

	if (e && !cmd_quiet)
		warn("%s: %s", ig_json_str(rec, "account"), e);
	if (note && !cmd_quiet)
		warn("%s: %s", ig_json_str(rec, "account"), note);
	return ig_out_row(&so->out, rec) ? IG_EX_IOERR : 0;
}

static const char *const sync_cols[] = {
	"tenant", "account", "username", "result", "requests", "media", "values", "error", NULL
};

static int do_sync(struct cmd_run *r)
{
	struct ig_insights_sync_opts o;
	struct ig_graph g;
	struct ig_err err = { 0 };
	struct sync_out so;
	json_t *summary = NULL;
	const char *ri = cmd_val(r, OPT_REFRESH_INTERVAL);
	int rc;

	memset(&o, 0, sizeof(o));
	o.tenant = r->o.tenant;
	o.account = r->narg ? r->arg[0] : cmd_val(r, OPT_ACCOUNT);
	if (r->narg && cmd_val(r, OPT_ACCOUNT))
		usage_error("sync: name the account once (ACCOUNT or --account)");
	if (!o.account && !o.tenant && !cmd_val(r, OPT_ALL))
		usage_error("sync: which accounts? (ACCOUNT, --tenant SLUG or --all)");
	if (o.account && cmd_val(r, OPT_ALL))
		usage_error("sync: ACCOUNT and --all exclude each other");
	o.refresh = cmd_val(r, OPT_REFRESH) != NULL;
	o.refresh_interval = 3600;
	if (ri && ig_duration_parse(ri, &o.refresh_interval))
		usage_error("sync: --refresh-interval takes a duration (90s, 15m, 1h, 1d), not '%s'", ri);
	o.backfill_days = (int)cmd_val_number(r, OPT_DAYS, 1, 90, 30);
	o.media_days = (int)cmd_val_number(r, OPT_MEDIA_DAYS, 1, 730, 30);
	o.retention_days = (int)cmd_val_number(r, OPT_RETENTION, 0, 100000, 400);
	if (o.retention_days && o.retention_days < o.backfill_days)
		usage_error("sync: --retention (%d) must keep at least --days (%d)", o.retention_days,
			    o.backfill_days);
	o.thumbnails = (int)cmd_val_number(r, OPT_THUMBNAILS, 0, 100, 3);
	o.parallel = (int)cmd_val_number(r, OPT_PARALLEL, 1, 256, 16);
	o.batch = cmd_val(r, OPT_NO_BATCH) == NULL;
	o.on_account = on_account;
	o.progress = progress;
	o.arg = &so;
	open_store(r);
	if (ig_graph_init(&g, &r->ctx.cfg, cmd_verbose, &err))
		die_err(&err);
	ig_out_init(&so.out, stdout, r->o.format, sync_cols);
	rc = ig_insights_sync(&r->ctx, &g, &o, &summary, &err);
	ig_graph_release(&g);
	if (ig_out_finish(&so.out) && !rc)
		rc = ig_err_set(&err, IG_EX_IOERR, "cannot write to stdout");
	if (summary && !cmd_quiet)
		note("sync: %lld accounts, %lld failed, %lld requests, %lld values",
		     ig_json_int(summary, "accounts", 0), ig_json_int(summary, "failed", 0),
		     ig_json_int(summary, "requests", 0), ig_json_int(summary, "values", 0));
	json_decref(summary);
	if (rc) {
		warn_err(&err);
		return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ reading */

static const char *const show_cols[] = {
	"tenant", "account", "username", "followers", "follows", "media_count", "snapshot_at",
	"day", "reach", "views", "accounts_engaged", "total_interactions", "fetched_at", "stale", NULL
};

/* The rows one of the readers gives, in the format asked for. */
static int list_rows(struct cmd_run *r, const struct ig_insights_filter *f,
		     const char *const *cols,
		     int (*read)(struct ig_ctx *, const struct ig_insights_filter *,
				 ig_insights_row_fn *, void *, struct ig_err *))
{
	struct ig_err err = { 0 };
	struct ig_out out;
	int rc;

	open_store(r);
	ig_out_init(&out, stdout, r->o.format, cols);
	rc = read(&r->ctx, f, emit_row, &out, &err);
	if (ig_out_finish(&out) && !rc)
		die(IG_EX_IOERR, "cannot write to stdout");
	if (rc)
		die_err(&err);
	return 0;
}

static int do_show(struct cmd_run *r)
{
	struct ig_insights_filter f;

	filter_from(r, &f);
	return list_rows(r, &f, show_cols, ig_insights_show);
}

static int do_export(struct cmd_run *r)
{
	struct ig_insights_filter f;

	if (r->o.format == IG_FMT_TABLE)
		usage_error("export: --format takes csv or json");
	filter_from(r, &f);
	return list_rows(r, &f, ig_insights_export_cols, ig_insights_export);
}

static const char *const top_media_cols[] = {
	"rank", "account", "media", "product_type", "posted_at", "metric", "value", "caption", NULL
};
static const char *const top_sku_cols[] = {
	"rank", "sku", "metric", "value", "media", "per_media", "last_posted_at", NULL
};

static int do_top(struct cmd_run *r)
{
	struct ig_insights_filter f;

	filter_from(r, &f);
	return list_rows(r, &f, f.by && !strcmp(f.by, "sku") ? top_sku_cols : top_media_cols,
			 ig_insights_top);
}

static int do_report(struct cmd_run *r)
{
	struct ig_insights_filter f;
	struct ig_err err = { 0 };
	const char *path = cmd_val(r, OPT_OUTPUT);
	char *tmp = NULL;
	FILE *out = stdout;
	int rc;

	filter_from(r, &f);
	open_store(r);
	if (path && strcmp(path, "-")) {
		/* written beside the target and renamed: never half a report */
		if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
			die(IG_EX_SOFTWARE, "out of memory");
		if (!(out = fopen(tmp, "w")))
			die(IG_EX_CANTCREAT, "report: cannot create '%s':", tmp);
	}
	rc = ig_insights_report(&r->ctx, &f, out, &err);
	if (out != stdout) {
		if (fclose(out) && !rc)
			rc = ig_err_errno(&err, IG_EX_IOERR, "report: cannot write '%s'", tmp);
		if (rc || rename(tmp, path)) {
			if (!rc)
				rc = ig_err_errno(&err, IG_EX_CANTCREAT, "report: cannot rename to '%s'", path);
			unlink(tmp);
		}
		free(tmp);
	}
	if (rc)
		die_err(&err);
	return 0;
}

static int do_metrics(struct cmd_run *r)
{
	static const char *const cols[] = { "metric", "level", "where", "notes", NULL };
	struct ig_out out;
	size_t i;

	ig_out_init(&out, stdout, r->o.format, cols);
	for (i = 0; ig_metric_docs[i].name; i++) {
		json_t *row = json_pack("{s:s,s:s,s:s,s:s}", "metric", ig_metric_docs[i].name,
					"level", ig_metric_docs[i].level, "where", ig_metric_docs[i].where,
					"notes", ig_metric_docs[i].notes);

		if (!row || ig_out_row(&out, row)) {
			json_decref(row);
			break;
		}
		json_decref(row);
	}
	if (ig_out_finish(&out))
		die(IG_EX_IOERR, "cannot write to stdout");
	return 0;
}

/* ------------------------------------------------------------ the table */

static const int o_sync[] = {
	OPT_ACCOUNT, OPT_ALL, OPT_REFRESH, OPT_DAYS, OPT_MEDIA_DAYS, OPT_RETENTION, OPT_THUMBNAILS,
	OPT_PARALLEL, OPT_NO_BATCH, OPT_REFRESH_INTERVAL, 0
};
static const int o_show[] = { OPT_ACCOUNT, 0 };
static const int o_export[] = { OPT_ACCOUNT, OPT_METRIC, OPT_MEDIA, OPT_LEVEL, OPT_SINCE, OPT_UNTIL, 0 };
static const int o_top[] = { OPT_ACCOUNT, OPT_BY, OPT_METRIC, OPT_SINCE, OPT_UNTIL, OPT_LIMIT, 0 };
static const int o_report[] = { OPT_ACCOUNT, OPT_SINCE, OPT_UNTIL, OPT_LIMIT, OPT_OUTPUT, OPT_TITLE, 0 };

static const struct cmd_row rows[] = {
	{ "sync", do_sync, 0, o_sync, 0, 1, "[ACCOUNT]",
	  "fetch snapshots and insights from Meta (for cron)",
	  "Takes ACCOUNT (or --account), --tenant SLUG, or --all.  Values under 24 h old\n"
	  "are not asked again; days younger than 72 h are re-read once a day.  One\n"
	  "account's failure never stops the others: exit 75 when some failed\n"
	  "temporarily, 77 when an account must log in again.\n", NULL },
	{ "show", do_show, 0, o_show, 0, 1, "[ACCOUNT]",
	  "the brand snapshot and latest figures per account", NULL, NULL },
	{ "export", do_export, 0, o_export, 0, 1, "[ACCOUNT]",
	  "every stored value, long format (--format csv|json)", NULL, NULL },
	{ "top", do_top, 0, o_top, 0, 1, "[ACCOUNT]",
	  "the best media, or SKUs, by a metric", NULL, NULL },
	{ "report", do_report, 0, o_report, 0, 1, "[ACCOUNT]",
	  "a self-contained HTML report (stdout, or --output FILE)", NULL, NULL },
	{ "metrics", do_metrics, 0, NULL, 0, 0, "",
	  "the metrics ig-insights stores and where they come from", NULL, NULL },
	{ 0 }
};

static const struct cmd_program program = {
	"Brand snapshots and Instagram insights with a 24-hour cache; exports and reports.",
	"ACCOUNT is the Instagram account id or @username.\n",
	opts, rows, NULL, CMD_SAY_HERE, NULL
};

int main(int argc, char **argv)
{
	int i;

	/* -o FILE is --output FILE (the table has long options only) */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-o"))
			argv[i] = "--output";
	}
	return cmd_main(&program, argc, argv);
}
