/*
 * metrics.h — the catalogue of Meta's insight metrics that ig-insights asks
 * for (reference §5, the 2026-12 revision), and the names Meta removed.
 *
 * Account metrics (GET /<IG_ID>/insights, §5.1) are asked in groups, each
 * group with the parameters its metrics accept:
 *   "total"    metric_type=total_value, period=day, one request per day
 *              (since = the day's 00:00 UTC, until = the next 00:00);
 *   "follows"  follows_and_unfollows, total_value with breakdown=follow_type,
 *              one request per day, only at >= 100 followers;
 *   "reach"    reach as a time_series (per-day values, <= 30 days a request);
 *   "followers" follower_count (legacy: new followers per day) as a
 *              time_series, only the trailing 30 days excluding today, only
 *              at >= 100 followers.
 * Media metrics (GET /<IG_MEDIA_ID>/insights, §5.2, period lifetime) are
 * asked per product type; a metric a type lacks is never asked.
 * Everything here is static data: no allocation, no errors.
 */
#ifndef IG_METRICS_H
#define IG_METRICS_H

#include <stdint.h>

#define IG_METRICS_MAX_DAYS 30          /* since/until span Meta accepts (§5.1) */
#define IG_METRICS_FOLLOWER_MIN 100     /* follower metrics need this many followers */

enum ig_metric_group { IG_GRP_TOTAL, IG_GRP_FOLLOWS, IG_GRP_REACH, IG_GRP_FOLLOWERS,
		       IG_GRP_COUNT };

struct ig_account_group {
	const char *name;         /* "total", "follows", "reach", "followers" */
	const char *metrics;      /* comma list as sent */
	const char *metric_type;  /* "total_value", "time_series" or NULL (not sent) */
	const char *breakdown;    /* NULL or "follow_type" */
	int time_series;          /* one request covers many days */
	int needs_followers;      /* >= IG_METRICS_FOLLOWER_MIN */
	int max_days_back;        /* 0 = Meta's 90-day keep; else that many days */
};

/* The groups, indexed by enum ig_metric_group. */
extern const struct ig_account_group ig_account_groups[IG_GRP_COUNT];

/*
 * Product types.  Meta's set is open (§5.1 notes): REEL/REELS and
 * FEED/POST/CAROUSEL_CONTAINER are the same; AD and anything unknown gets no
 * insights request (its metric set is not documented).
 */
enum ig_product { IG_PROD_FEED, IG_PROD_REELS, IG_PROD_STORY, IG_PROD_OTHER };
enum ig_product ig_product_parse(const char *media_product_type);
const char *ig_product_name(enum ig_product p);   /* "FEED", "REELS", "STORY", "OTHER" */

/* The comma list of lifetime metrics asked for a product type (NULL for
 * OTHER).  facebook_views / crossposted_views are not asked: Meta answers
 * them with an error when the media was not shared to Facebook (§5.2), and
 * the FLfB-only totals are left out so both login flavours store the same
 * set. */
const char *ig_media_metrics(enum ig_product p);

/* A metric name Meta removed: 1 with *msg a sentence naming when and its
 * replacement ("'impressions' was removed by Meta (v22+, all versions
 * since April 21, 2025); use 'views'"), 0 when the name is current. */
int ig_metric_deprecated(const char *name, const char **msg);

/* 1 when name is a metric ig-insights stores (account, media, or the
 * story_insights webhook's fields), for filters. */
int ig_metric_known(const char *name);

/* One row per stored metric, for ig-insights(1) and `ig-insights metrics`:
 * {name, level "account"|"media", where (product types or group), notes}. */
struct ig_metric_doc {
	const char *name, *level, *where, *notes;
};
extern const struct ig_metric_doc ig_metric_docs[];

/* Meta's timestamps: "2019-04-05T07:56:32+0000", "...Z", "...+00:00".
 * 0 and *out, or -1. */
int ig_meta_time(const char *s, int64_t *out);

#endif
