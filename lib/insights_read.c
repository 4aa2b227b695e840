/*
 * insights_read.c — reading ig-insights' figures back: show, export, top.
 * Contracts in insights.h.  Every query is scoped by the tenant resolved
 * for the actor first (ig_insights_scope), then by account.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "igtime.h"
#include "insights.h"
#include "jsonio.h"
#include "metrics.h"
#include "store.h"

#define DAY 86400

static int oom(struct ig_err *err)
{
	return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
}

int ig_insights_metric_check(const char *metric, struct ig_err *err)
{
	const char *msg;

	if (!metric)
		return 0;
	if (ig_metric_deprecated(metric, &msg))
		return ig_err_set(err, IG_EX_USAGE, "%s", msg);
	if (!ig_metric_known(metric))
		return ig_err_set(err, IG_EX_USAGE,
			"unknown metric '%s' ('ig-insights metrics' lists them)", metric);
	return 0;
}

/* A stored number as JSON: an integer when it is one. */
static json_t *number(double v)
{
	if (v == floor(v) && fabs(v) < 9e15)
		return json_integer((json_int_t)v);
	return json_real(v);
}

static json_t *iso_or_null(int64_t t)
{
	char buf[32];

	return t > 0 ? json_string(ig_time_iso(t, buf)) : json_null();
}

static int resolve(struct ig_ctx *ctx, const struct ig_insights_filter *f, int64_t *tid,
		   int64_t *aid, struct ig_err *err)
{
	int rc;

	*aid = 0;
	if ((rc = ig_insights_metric_check(f->metric, err)))
		return rc;
	if ((rc = ig_insights_scope(ctx, f->tenant, 0, "insights.read", tid, err)))
		return rc;
	if (f->account && (rc = ig_insights_account_ref(ctx, *tid, f->account, aid, err)))
		return rc;
	return 0;
}

/* ------------------------------------------------------------ rows */

/* A nullable column as JSON. */
static json_t *text_or_null(struct ig_stmt *s, int col)
{
	return ig_col_textn(s, col) ? json_string(ig_col_text(s, col)) : json_null();
}

static json_t *int_or_null(struct ig_stmt *s, int col)
{
	return ig_col_null(s, col) ? json_null() : json_integer(ig_col_int(s, col));
}

/* The day a figure ending at end (00:00 UTC) is about: "2026-11-30". */
static const char *day_of(int64_t end, char iso[32])
{
	ig_time_iso(end - DAY, iso);
	iso[10] = '\0';
	return iso;
}

/* Where ig_store_each's rows go: each built into a record and handed to the
 * caller's fn (export, top). */
struct emit {
	ig_insights_row_fn *fn;
	void *arg;
	struct ig_err *err;
	const char *metric;       /* top */
	int64_t rank;             /* top: the last row's */
};

/* Hand row (a new reference, NULL out of memory) to the caller. */
static int emit(struct emit *e, json_t *row)
{
	int rc;

	if (!row)
		return oom(e->err);
	rc = e->fn(e->arg, row);
	json_decref(row);
	return rc;
}

/* ------------------------------------------------------------ show */

static const char *const show_metrics[] = {
	"reach", "views", "accounts_engaged", "total_interactions", "likes", "comments", "saves",
	"shares", "replies", "profile_links_taps", "follower_count", NULL
};

/* An account of the show query with its last snapshot and sync (new
 * reference); _id and _tenant are for show_figures. */
static json_t *account_row(struct ig_stmt *s, int64_t now)
{
	int64_t snap = ig_col_int(s, 13);
	json_t *row = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s}", "_id", (json_int_t)ig_col_int(s, 0),
				"_tenant", (json_int_t)ig_col_int(s, 18),
				"tenant", ig_col_text(s, 1), "account", ig_col_text(s, 2),
				"flavour", ig_col_text(s, 3), "status", ig_col_text(s, 4));

	if (!row)
		return NULL;
	json_object_set_new(row, "username", json_string(ig_col_textn(s, 5) ? ig_col_text(s, 5)
							 : ig_col_text(s, 17)));
	json_object_set_new(row, "name", text_or_null(s, 6));
	json_object_set_new(row, "followers", int_or_null(s, 7));
	json_object_set_new(row, "follows", int_or_null(s, 8));
	json_object_set_new(row, "media_count", int_or_null(s, 9));
	json_object_set_new(row, "biography", text_or_null(s, 10));
	json_object_set_new(row, "website", text_or_null(s, 11));
	json_object_set_new(row, "picture", json_boolean(ig_col_int(s, 12)));
	json_object_set_new(row, "snapshot_at", iso_or_null(snap));
	json_object_set_new(row, "snapshot_stale", json_boolean(!snap || now - snap > 86400));
	json_object_set_new(row, "last_sync", iso_or_null(ig_col_int(s, 14)));
	json_object_set_new(row, "last_ok", iso_or_null(ig_col_int(s, 15)));
	json_object_set_new(row, "last_error", text_or_null(s, 16));
	return row;
}

/* The accounts show lists, as rows (new reference in *rows). */
static int show_accounts(struct ig_store *st, int64_t tid, int64_t aid, int64_t now, json_t **rows,
			 struct ig_err *err)
{
	struct ig_stmt *s;
	json_t *row;
	int n = 0;

	if (!(*rows = json_array()))
		return oom(err);
	s = ig_store_query(st, err,
		"SELECT a.id, t.slug, a.external_id, a.flavour, a.status,"
		" b.username, b.name, b.followers_count, b.follows_count, b.media_count, b.biography,"
		" b.website, b.picture_id IS NOT NULL, b.fetched_at, y.last_sync_at, y.last_ok_at,"
		" y.last_error, coalesce(a.username, ''), a.tenant_id"
		" FROM accounts a JOIN tenants t ON t.id = a.tenant_id"
		" LEFT JOIN brand_snapshots b ON b.id = (SELECT max(b2.id) FROM brand_snapshots b2"
		"   WHERE b2.account_id = a.id AND b2.tenant_id = a.tenant_id)"
		" LEFT JOIN insight_sync y ON y.account_id = a.id AND y.tenant_id = a.tenant_id"
		" WHERE (?1 = 0 OR a.tenant_id = ?1) AND (?2 = 0 OR a.id = ?2)"
		" AND a.channel = 'instagram' ORDER BY t.slug, a.external_id", "ii", tid, aid);
	while (s && (n = ig_stmt_next(st, s, err)) > 0) {
		if (!(row = account_row(s, now)) || json_array_append_new(*rows, row)) {
			ig_stmt_reset(s);
			return oom(err);
		}
	}
	return !s || n < 0 ? err->code : 0;
}

/* The account's latest daily figures into row (and row.figures), with how
 * fresh they are. */
static int show_figures(struct ig_store *st, json_t *row, int64_t now, struct ig_err *err)
{
	int64_t id = json_integer_value(json_object_get(row, "_id"));
	int64_t tenant = json_integer_value(json_object_get(row, "_tenant"));
	int64_t oldest = 0, day = 0;
	json_t *figs = json_object();
	const char *const *m;
	char iso[32];
	int n;

	if (!figs)
		return oom(err);
	for (m = show_metrics; *m; m++) {
		struct ig_stmt *s = ig_store_query(st, err,
			"SELECT value, end_time, fetched_at FROM insight_values WHERE account_id = ?1"
			" AND tenant_id = ?2 AND media_id = '' AND metric = ?3 AND breakdown = ''"
			" AND period = 'day' ORDER BY end_time DESC LIMIT 1", "iis", id, tenant, *m);
		int64_t fa, et;

		if (!s || (n = ig_stmt_next(st, s, err)) < 0) {
			json_decref(figs);
			return err->code;
		}
		if (n == 0)
			continue;
		fa = ig_col_int(s, 2), et = ig_col_int(s, 1);
		json_object_set_new(figs, *m, json_pack("{s:o,s:s,s:o,s:b}",
			"value", number(ig_col_double(s, 0)), "day", day_of(et, iso),
			"fetched_at", iso_or_null(fa), "stale", now - fa > 86400));
		json_object_set_new(row, *m, number(ig_col_double(s, 0)));
		if (!oldest || fa < oldest)
			oldest = fa;
		if (et > day)
			day = et;
		ig_stmt_reset(s);
	}
	json_object_set_new(row, "day", day ? json_string(day_of(day, iso)) : json_null());
	json_object_set_new(row, "fetched_at", iso_or_null(oldest));
	json_object_set_new(row, "stale", json_boolean(!oldest || now - oldest > 86400
		|| json_is_true(json_object_get(row, "snapshot_stale"))));
	json_object_set_new(row, "figures", figs);
	json_object_del(row, "_id");
	json_object_del(row, "_tenant");
	return 0;
}

int ig_insights_show(struct ig_ctx *ctx, const struct ig_insights_filter *f, ig_insights_row_fn *fn,
		     void *arg, struct ig_err *err)
{
	int64_t tid, aid, now = ig_time_now();
	json_t *rows = NULL, *row;
	size_t i;
	int rc;

	if ((rc = resolve(ctx, f, &tid, &aid, err)))
		return rc;
	rc = show_accounts(ctx->store, tid, aid, now, &rows, err);
	json_array_foreach(rows, i, row) {
		if (rc || (rc = show_figures(ctx->store, row, now, err)) || (rc = fn(arg, row)))
			break;
	}
	json_decref(rows);
	return rc;
}

/* ------------------------------------------------------------ export */

const char *const ig_insights_export_cols[] = {
	"tenant", "account", "media", "metric", "period", "breakdown", "end_time", "value",
	"source", "fetched_at", NULL
};

static int export_row(void *e, struct ig_stmt *s)
{
	const char *media = ig_col_text(s, 2);

	return emit(e, json_pack("{s:s,s:s,s:o,s:s,s:s,s:o,s:o,s:o,s:s,s:o}",
		"tenant", ig_col_text(s, 0), "account", ig_col_text(s, 1),
		"media", *media ? json_string(media) : json_null(),
		"metric", ig_col_text(s, 3), "period", ig_col_text(s, 4),
		"breakdown", *ig_col_text(s, 5) ? json_string(ig_col_text(s, 5)) : json_null(),
		"end_time", iso_or_null(ig_col_int(s, 6)),
		"value", number(ig_col_double(s, 7)), "source", ig_col_text(s, 8),
		"fetched_at", iso_or_null(ig_col_int(s, 9))));
}

int ig_insights_export(struct ig_ctx *ctx, const struct ig_insights_filter *f,
		       ig_insights_row_fn *fn, void *arg, struct ig_err *err)
{
	struct emit e = { fn, arg, err, NULL, 0 };
	int64_t tid, aid;
	int rc;

	if ((rc = resolve(ctx, f, &tid, &aid, err)))
		return rc;
	return ig_store_each(ctx->store, err, export_row, &e,
		"SELECT t.slug, a.external_id, v.media_id, v.metric, v.period, v.breakdown, v.end_time,"
		" v.value, v.source, v.fetched_at FROM insight_values v"
		" JOIN accounts a ON a.id = v.account_id AND a.tenant_id = v.tenant_id"
		" JOIN tenants t ON t.id = v.tenant_id"
		" WHERE (?1 = 0 OR v.tenant_id = ?1) AND (?2 = 0 OR v.account_id = ?2)"
		" AND (?3 IS NULL OR v.metric = ?3) AND (?4 IS NULL OR v.media_id = ?4)"
		" AND (?5 = 0 OR (?5 = 1 AND v.media_id = '') OR (?5 = 2 AND v.media_id <> ''))"
		" AND (?6 = 0 OR v.end_time > ?6) AND (?7 = 0 OR v.end_time <= ?7)"
		" ORDER BY t.slug, a.external_id, v.media_id, v.metric, v.breakdown, v.end_time",
		"iissiii", tid, aid, f->metric, f->media, (int64_t)f->level, f->since, f->until);
}

/* ------------------------------------------------------------ top */

static int sku_row(void *arg, struct ig_stmt *s)
{
	struct emit *t = arg;
	double total = ig_col_double(s, 2);
	int64_t media = ig_col_int(s, 1);

	return emit(t, json_pack("{s:I,s:s,s:s,s:I,s:o,s:o,s:o}", "rank", (json_int_t)++t->rank,
		"sku", ig_col_text(s, 0), "metric", t->metric, "media", (json_int_t)media,
		"value", number(total), "per_media", number(media ? round(total / (double)media
			* 10) / 10 : 0), "last_posted_at", iso_or_null(ig_col_int(s, 3))));
}

static int media_row(void *arg, struct ig_stmt *s)
{
	struct emit *t = arg;
	const char *c = ig_col_text(s, 6);
	char cap[124];

	/* a caption's first line, cut at a character boundary */
	snprintf(cap, sizeof(cap), "%.*s", (int)strcspn(c, "\r\n"), c);
	if (strlen(cap) > 80) {
		size_t k = 80;

		while (k && ((unsigned char)cap[k] & 0xC0) == 0x80)
			k--;
		strcpy(cap + k, "…");
	}
	return emit(t, json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:s,s:o,s:s,s:o,s:o}",
		"rank", (json_int_t)++t->rank, "tenant", ig_col_text(s, 0), "account", ig_col_text(s, 1),
		"media", ig_col_text(s, 2), "product_type", ig_col_text(s, 3),
		"posted_at", iso_or_null(ig_col_int(s, 4)), "metric", t->metric,
		"value", number(ig_col_double(s, 5)), "caption", cap,
		"permalink", text_or_null(s, 7), "fetched_at", iso_or_null(ig_col_int(s, 8))));
}

int ig_insights_top(struct ig_ctx *ctx, const struct ig_insights_filter *f, ig_insights_row_fn *fn,
		    void *arg, struct ig_err *err)
{
	struct ig_store *st = ctx->store;
	struct emit t = { fn, arg, err, f->metric ? f->metric : "reach", 0 };
	int64_t tid, aid, limit = f->limit > 0 ? f->limit : 10;
	int rc, by_sku = f->by && !strcmp(f->by, "sku");

	if (f->by && strcmp(f->by, "media") && strcmp(f->by, "sku"))
		return ig_err_set(err, IG_EX_USAGE, "--by takes media or sku, not '%s'", f->by);
	if ((rc = resolve(ctx, f, &tid, &aid, err)))
		return rc;
	if (by_sku && (!ig_store_has_table(st, "post_skus") || !ig_store_has_table(st, "posts")))
		return ig_err_set(err, IG_EX_CONFIG,
			"results by SKU need ig-publish's posts and their SKU tags (tables 'posts'"
			" and 'post_skus'), which this store does not have");
	if (by_sku)
		return ig_store_each(st, err, sku_row, &t,
			"SELECT ps.sku, count(DISTINCT m.media_id), sum(v.value), max(m.posted_at)"
			" FROM post_skus ps JOIN posts p ON p.id = ps.post_id AND p.tenant_id = ps.tenant_id"
			" JOIN ig_media m ON m.media_id = p.media_id AND m.tenant_id = p.tenant_id"
			" AND m.account_id = p.account_id"
			" JOIN insight_values v ON v.account_id = m.account_id AND v.media_id = m.media_id"
			"  AND v.tenant_id = m.tenant_id AND v.metric = ?3 AND v.breakdown = ''"
			"  AND v.end_time = (SELECT max(x.end_time) FROM insight_values x"
			"   WHERE x.account_id = v.account_id AND x.media_id = v.media_id"
			"   AND x.metric = v.metric AND x.breakdown = '')"
			" WHERE (?1 = 0 OR ps.tenant_id = ?1) AND (?2 = 0 OR m.account_id = ?2)"
			" AND (?4 = 0 OR m.posted_at >= ?4) AND (?5 = 0 OR m.posted_at < ?5)"
			" GROUP BY ps.sku ORDER BY sum(v.value) DESC, ps.sku LIMIT ?6",
			"iisiii", tid, aid, t.metric, f->since, f->until, limit);
	return ig_store_each(st, err, media_row, &t,
		"SELECT t.slug, a.external_id, m.media_id, m.product_type, m.posted_at, v.value,"
		" coalesce(m.caption, ''), m.permalink, v.fetched_at"
		" FROM ig_media m JOIN accounts a ON a.id = m.account_id AND a.tenant_id = m.tenant_id"
		" JOIN tenants t ON t.id = m.tenant_id"
		" JOIN insight_values v ON v.account_id = m.account_id AND v.media_id = m.media_id"
		"  AND v.tenant_id = m.tenant_id AND v.metric = ?3 AND v.breakdown = ''"
		"  AND v.end_time = (SELECT max(x.end_time) FROM insight_values x"
		"   WHERE x.account_id = v.account_id AND x.media_id = v.media_id"
		"   AND x.metric = v.metric AND x.breakdown = '')"
		" WHERE (?1 = 0 OR m.tenant_id = ?1) AND (?2 = 0 OR m.account_id = ?2)"
		" AND (?4 = 0 OR m.posted_at >= ?4) AND (?5 = 0 OR m.posted_at < ?5)"
		" ORDER BY v.value DESC, m.posted_at DESC LIMIT ?6",
		"iisiii", tid, aid, t.metric, f->since, f->until, limit);
}
