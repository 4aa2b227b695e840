/*
 * insights.h — ig-insights: the brand snapshot, account and media insights
 * with a 24-hour cache, and reading them back (show, export, top, report).
 * ig-insights(1) is a thin shell over this module.
 *
 * Contracts shared by every function here:
 *
 * - Permissions are checked here, module insights: sync needs write
 *   (org_admin, marketer), reading needs read (every role of the tenant).
 *   A tenant key never reaches another tenant's figures (77, audited).
 *   tenant NULL: the key's own tenant; for an actor spanning tenants (the
 *   store's owner) every tenant.
 * - Network calls never run inside a transaction; a sync writes each batch
 *   of accounts (IG_INSIGHTS_CHUNK) in one transaction after its calls.
 * - Tokens are opened here (AAD "accounts:<id>:access_token") and wiped
 *   after the batch; they never appear in records or messages.
 * - Records handed to callbacks are borrowed (valid during the call);
 *   a callback's non-zero return stops the walk and is returned.
 * - Return 0 or an exit code (lib/exitcodes.h) with err set.
 */
#ifndef IG_INSIGHTS_H
#define IG_INSIGHTS_H

#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "ctx.h"
#include "graph.h"

#define IG_INSIGHTS_TTL            86400   /* a value this young is not fetched again */
#define IG_INSIGHTS_LAG            (72 * 3600) /* days younger than this at fetch time are re-fetched */
#define IG_INSIGHTS_STORY_LIFE     86400
#define IG_INSIGHTS_STORY_FINAL    (20 * 3600) /* a story's last capture, before it expires */
#define IG_INSIGHTS_CHUNK          50      /* accounts per batch of calls and per transaction */
#define IG_INSIGHTS_PICTURE_MAX    (2 * 1024 * 1024)
#define IG_INSIGHTS_TOP_THUMBS     12      /* a tenant's best media that get a thumbnail */

typedef int ig_insights_row_fn(void *arg, const json_t *row);

struct ig_insights_sync_opts {
	const char *tenant;        /* slug, or NULL (see above) */
	const char *account;       /* id or @username, or NULL for every account in scope */
	int refresh;               /* ignore the 24 h cache (rate-limited per account) */
	int64_t refresh_interval;  /* seconds between two refreshes of an account */
	int backfill_days;         /* days of account insights on an account's first sync */
	int media_days;            /* media posted within this many days get insights */
	int retention_days;        /* history older than this is purged (0 = keep) */
	int thumbnails;            /* thumbnails per account (its top media); the tenant's
				    * top IG_INSIGHTS_TOP_THUMBS get one too (0: none at all) */
	int parallel;              /* requests in flight per host */
	int batch;                 /* use Graph batch requests on graph.facebook.com */
	/* Called once per account, after its batch is written: {tenant,
	 * account, username, result, exit, requests, ...}. */
	ig_insights_row_fn *on_account;
	/* Progress: accounts done of total, and how many failed. */
	void (*progress)(void *arg, size_t done, size_t total, size_t failed);
	void *arg;
};

/*
 * Sync: for every account in scope, the brand snapshot (with the picture's
 * bytes), account insights per day, media insights per product type,
 * stories before they expire, the story_insights webhook rows ig-route
 * stored, then the retention purge.  One account's failure never stops the
 * others.  Returns 0 when every account synced; else the most serious
 * account's code: 77 (needs re-login) > 75 (temporary: network, rate
 * limit) > 69 (refused) > others; *summary (new, may be NULL) totals.
 */
int ig_insights_sync(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_insights_sync_opts *o,
		     json_t **summary, struct ig_err *err);

/* A filter for the read side. */
struct ig_insights_filter {
	const char *tenant;        /* as above */
	const char *account;       /* id or @username, or NULL */
	const char *metric;        /* NULL = all; a removed metric is 64 with its replacement */
	const char *media;         /* a media id, or NULL */
	int level;                 /* 0 all, 1 account figures only, 2 media only */
	int64_t since, until;      /* end_time window; 0 = open */
	const char *by;            /* top: "media" | "sku" */
	int limit;                 /* top, report: rows (0 = default) */
	const char *title;         /* report: NULL = the tenant's name */
};

/* Validate a metric name for a filter: 0, or 64 with the replacement named
 * (a removed metric) or "unknown metric 'x'". */
int ig_insights_metric_check(const char *metric, struct ig_err *err);

/*
 * show: one row per account: the latest snapshot (username, name,
 * followers, follows, media, biography, website, picture stored or not,
 * snapshot_at), the latest figure of each account metric with its
 * fetched_at, last sync and whether anything is stale (older than 24 h).
 */
int ig_insights_show(struct ig_ctx *ctx, const struct ig_insights_filter *f, ig_insights_row_fn *fn,
		     void *arg, struct ig_err *err);

/* export: the long format, one row per value: tenant, account, media,
 * metric, period, breakdown, end_time, value, source, fetched_at. */
extern const char *const ig_insights_export_cols[];
int ig_insights_export(struct ig_ctx *ctx, const struct ig_insights_filter *f,
		       ig_insights_row_fn *fn, void *arg, struct ig_err *err);

/* top: the best media (or SKUs, through ig-publish's posts.media_id and
 * post_skus) by a metric (default reach) over media posted in the window.
 * by sku without ig-publish's tables is 78 with a message saying so. */
int ig_insights_top(struct ig_ctx *ctx, const struct ig_insights_filter *f, ig_insights_row_fn *fn,
		    void *arg, struct ig_err *err);

/* report: one self-contained HTML document (inline SVG, inline data: images,
 * no script, nothing fetched) written to out.  74 on a write error. */
int ig_insights_report(struct ig_ctx *ctx, const struct ig_insights_filter *f, FILE *out,
		       struct ig_err *err);

/* Internal to the module (insights.c / insights_read.c / report.c). */
int ig_insights_scope(struct ig_ctx *ctx, const char *tenant, int write, const char *action,
		      int64_t *tenant_id, struct ig_err *err);
int ig_insights_account_ref(struct ig_ctx *ctx, int64_t tenant_id, const char *ref, int64_t *id,
			    struct ig_err *err);

#endif
