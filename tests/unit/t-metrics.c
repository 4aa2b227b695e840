/* Unit tests of lib/metrics: Meta's timestamps, product types, the metric
 * sets per type (never a metric a type lacks), removed metrics and their
 * replacements, the account groups' parameters (§5). */
#include <stdint.h>
#include <string.h>

#include "metrics.h"
#include "tap.h"

static int has(const char *list, const char *m)
{
	size_t n = strlen(m);
	const char *p = list;

	while (p && (p = strstr(p, m))) {
		if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return 1;
		p += n;
	}
	return 0;
}

int main(void)
{
	int64_t t = 0;
	const char *msg = NULL;
	int g;

	ok(ig_meta_time("2019-04-05T07:56:32+0000", &t) == 0 && t == 1554450992, "Meta's +0000 form");
	ok(ig_meta_time("2019-04-05T07:56:32Z", &t) == 0 && t == 1554450992, "Z form");
	ok(ig_meta_time("2019-04-05T09:56:32+02:00", &t) == 0 && t == 1554450992, "an offset is applied");
	{
		int64_t u = 0;

		ok(ig_meta_time("2026-11-30T00:00:00-0800", &t) == 0
		   && ig_meta_time("2026-11-30T08:00:00+0000", &u) == 0 && t == u,
		   "a negative offset (Pacific midnight) is applied");
	}
	ok(ig_meta_time("2019-04-05", &t) == -1, "a date alone is not a Meta timestamp");
	ok(ig_meta_time("yesterday", &t) == -1 && ig_meta_time(NULL, &t) == -1, "garbage refused");

	ok(ig_product_parse("REELS") == IG_PROD_REELS && ig_product_parse("REEL") == IG_PROD_REELS,
	   "REEL and REELS are one type (§5.1, open enum)");
	ok(ig_product_parse("FEED") == IG_PROD_FEED && ig_product_parse("POST") == IG_PROD_FEED
	   && ig_product_parse("CAROUSEL_CONTAINER") == IG_PROD_FEED, "FEED, POST, CAROUSEL_CONTAINER");
	ok(ig_product_parse("story") == IG_PROD_STORY, "case-insensitive");
	ok(ig_product_parse("AD") == IG_PROD_OTHER && ig_product_parse(NULL) == IG_PROD_OTHER,
	   "AD and unknown types are asked nothing");
	ok(ig_media_metrics(IG_PROD_OTHER) == NULL, "no metric list for OTHER");

	ok(has(ig_media_metrics(IG_PROD_REELS), "ig_reels_avg_watch_time")
	   && has(ig_media_metrics(IG_PROD_REELS), "reels_skip_rate"), "REELS: the reels metrics");
	ok(!has(ig_media_metrics(IG_PROD_FEED), "ig_reels_avg_watch_time")
	   && !has(ig_media_metrics(IG_PROD_FEED), "navigation"), "FEED: no reels or story metrics");
	ok(!has(ig_media_metrics(IG_PROD_STORY), "likes") && !has(ig_media_metrics(IG_PROD_STORY), "saved")
	   && !has(ig_media_metrics(IG_PROD_STORY), "comments"), "STORY: no likes, saved, comments");
	ok(has(ig_media_metrics(IG_PROD_STORY), "navigation") && has(ig_media_metrics(IG_PROD_STORY), "replies"),
	   "STORY: navigation and replies");
	for (g = 0; g < 3; g++) {
		const char *l = ig_media_metrics((enum ig_product)g);

		ok(!has(l, "impressions") && !has(l, "plays") && !has(l, "video_views")
		   && !has(l, "facebook_views") && !has(l, "crossposted_views"),
		   "%s: no removed metric, no Facebook cross-post metric", ig_product_name((enum ig_product)g));
	}

	ok(ig_metric_deprecated("impressions", &msg) && strstr(msg, "use 'views'"), "impressions → views");
	ok(ig_metric_deprecated("plays", &msg) && strstr(msg, "use 'views'"), "plays → views");
	ok(ig_metric_deprecated("video_views", &msg) && strstr(msg, "January 8, 2025"), "video_views, with its date");
	ok(ig_metric_deprecated("audience_city", &msg) && strstr(msg, "follower_demographics"), "audience_*");
	ok(ig_metric_deprecated("get_directions_clicks", &msg) && strstr(msg, "profile_links_taps"),
	   "every spelling of the directions metric (§5.1)");
	ok(!ig_metric_deprecated("views", NULL) && !ig_metric_deprecated("reach", NULL), "current metrics are not");
	ok(ig_metric_known("follows_and_unfollows") && !ig_metric_known("impressions"), "the catalogue");

	ok(!strcmp(ig_account_groups[IG_GRP_TOTAL].metric_type, "total_value")
	   && !has(ig_account_groups[IG_GRP_TOTAL].metrics, "reach"),
	   "the day group asks total_value, without reach");
	ok(!strcmp(ig_account_groups[IG_GRP_REACH].metric_type, "time_series"), "reach as a time series");
	ok(ig_account_groups[IG_GRP_FOLLOWERS].metric_type == NULL
	   && ig_account_groups[IG_GRP_FOLLOWERS].needs_followers
	   && ig_account_groups[IG_GRP_FOLLOWERS].max_days_back == 30,
	   "follower_count: no metric_type, >= 100 followers, the last 30 days");
	ok(!strcmp(ig_account_groups[IG_GRP_FOLLOWS].breakdown, "follow_type")
	   && ig_account_groups[IG_GRP_FOLLOWS].needs_followers, "follows_and_unfollows by follow_type");
	return done_testing();
}
