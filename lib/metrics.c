/*
 * metrics.c — the metric catalogue; contracts in metrics.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "metrics.h"

/* §5.1 "Current metrics": every day metric but reach needs
 * metric_type=total_value; reach also takes time_series; follower_count is
 * legacy and works without metric_type. */
const struct ig_account_group ig_account_groups[IG_GRP_COUNT] = {
	[IG_GRP_TOTAL] = { "total",
		"accounts_engaged,comments,likes,profile_links_taps,replies,reposts,saves,shares,"
		"total_interactions,views", "total_value", NULL, 0, 0, 0 },
	[IG_GRP_FOLLOWS] = { "follows", "follows_and_unfollows", "total_value", "follow_type",
		0, 1, 0 },
	[IG_GRP_REACH] = { "reach", "reach", "time_series", NULL, 1, 0, 0 },
	[IG_GRP_FOLLOWERS] = { "followers", "follower_count", NULL, NULL, 1, 1, 30 },
};

/* §5.2, v25: the metrics of each product type that both login flavours
 * serve (no total_*), without the Facebook cross-post metrics. */
static const char feed_metrics[] =
	"comments,likes,saved,shares,reach,views,total_interactions,follows,profile_visits,reposts";
static const char reels_metrics[] =
	"comments,likes,saved,shares,reach,views,total_interactions,ig_reels_avg_watch_time,"
	"ig_reels_video_view_total_time,reels_skip_rate,reposts";
static const char story_metrics[] =
	"reach,views,replies,shares,total_interactions,follows,profile_visits,navigation,reposts";

enum ig_product ig_product_parse(const char *t)
{
	if (!t)
		return IG_PROD_OTHER;
	if (!strcasecmp(t, "FEED") || !strcasecmp(t, "POST") || !strcasecmp(t, "CAROUSEL_CONTAINER"))
		return IG_PROD_FEED;
	if (!strcasecmp(t, "REELS") || !strcasecmp(t, "REEL"))
		return IG_PROD_REELS;
	if (!strcasecmp(t, "STORY"))
		return IG_PROD_STORY;
	return IG_PROD_OTHER;
}

const char *ig_product_name(enum ig_product p)
{
	switch (p) {
	case IG_PROD_FEED: return "FEED";
	case IG_PROD_REELS: return "REELS";
	case IG_PROD_STORY: return "STORY";
	default: return "OTHER";
	}
}

const char *ig_media_metrics(enum ig_product p)
{
	switch (p) {
	case IG_PROD_FEED: return feed_metrics;
	case IG_PROD_REELS: return reels_metrics;
	case IG_PROD_STORY: return story_metrics;
	default: return NULL;
	}
}

/* §5.1 "Removed", §5.2 "Deprecated", §11. */
static const struct { const char *name, *msg; } removed[] = {
	{ "impressions", "'impressions' was removed by Meta (v22+, all versions since April 21,"
	  " 2025); use 'views'" },
	{ "plays", "'plays' was removed by Meta (v22+, all versions since April 21, 2025); use 'views'" },
	{ "clips_replays_count", "'clips_replays_count' was removed by Meta (April 21, 2025);"
	  " use 'views'" },
	{ "ig_reels_aggregated_all_plays_count", "'ig_reels_aggregated_all_plays_count' was"
	  " removed by Meta (April 21, 2025); use 'views'" },
	{ "video_views", "'video_views' was removed by Meta (v21+, all versions since January 8,"
	  " 2025); use 'views'" },
	{ "engagement", "'engagement' was removed by Meta (December 2023); use"
	  " 'total_interactions'" },
	{ "carousel_album_engagement", "'carousel_album_engagement' was removed by Meta"
	  " (December 2023); use 'total_interactions'" },
	{ "carousel_album_impressions", "'carousel_album_impressions' was removed by Meta"
	  " (December 2023); use 'views'" },
	{ "carousel_album_reach", "'carousel_album_reach' was removed by Meta (December 2023);"
	  " use 'reach'" },
	{ "carousel_album_saved", "'carousel_album_saved' was removed by Meta (December 2023);"
	  " use 'saved'" },
	{ "carousel_album_video_views", "'carousel_album_video_views' was removed by Meta"
	  " (December 2023); use 'views'" },
	{ "taps_forward", "'taps_forward' was removed by Meta (December 2023); use 'navigation'"
	  " (story_navigation_action_type TAP_FORWARD)" },
	{ "taps_back", "'taps_back' was removed by Meta (December 2023); use 'navigation'"
	  " (story_navigation_action_type TAP_BACK)" },
	{ "exits", "'exits' was removed by Meta (December 2023); use 'navigation'"
	  " (story_navigation_action_type TAP_EXIT)" },
	{ "profile_views", "'profile_views' was removed by Meta (v21+, January 8, 2025); use"
	  " 'profile_links_taps' (account) or 'profile_visits' (media)" },
	{ "website_clicks", "'website_clicks' was removed by Meta (v21+, January 8, 2025); use"
	  " 'profile_links_taps'" },
	{ "email_contacts", "'email_contacts' was removed by Meta (v21+, January 8, 2025); use"
	  " 'profile_links_taps' (contact_button_type EMAIL)" },
	{ "phone_call_clicks", "'phone_call_clicks' was removed by Meta (v21+, January 8, 2025);"
	  " use 'profile_links_taps' (contact_button_type CALL)" },
	{ "text_message_clicks", "'text_message_clicks' was removed by Meta (v21+, January 8,"
	  " 2025); use 'profile_links_taps' (contact_button_type TEXT)" },
	{ "get_direction_clicks", "'get_direction_clicks' was removed by Meta (v21+, January 8,"
	  " 2025); use 'profile_links_taps' (contact_button_type DIRECTION)" },
	{ "get_direction_links", "'get_direction_links' was removed by Meta (v21+, January 8,"
	  " 2025); use 'profile_links_taps' (contact_button_type DIRECTION)" },
	{ "get_directions_clicks", "'get_directions_clicks' was removed by Meta (v21+, January 8,"
	  " 2025); use 'profile_links_taps' (contact_button_type DIRECTION)" },
	{ "online_followers", "'online_followers' is legacy and no longer documented by Meta;"
	  " ig-insights does not store it" },
	{ NULL, NULL }
};

int ig_metric_deprecated(const char *name, const char **msg)
{
	size_t i;

	if (name && !strncmp(name, "audience_", 9)) {
		if (msg)
			*msg = "'audience_*' metrics were removed by Meta (December 2023); use"
			       " 'follower_demographics' or 'engaged_audience_demographics'";
		return 1;
	}
	for (i = 0; name && removed[i].name; i++)
		if (!strcmp(removed[i].name, name)) {
			if (msg)
				*msg = removed[i].msg;
			return 1;
		}
	return 0;
}

const struct ig_metric_doc ig_metric_docs[] = {
	{ "accounts_engaged", "account", "total", "accounts that interacted with the content, per day" },
	{ "comments", "account, media", "total; FEED, REELS", "comments, per day / on the media" },
	{ "likes", "account, media", "total; FEED, REELS", "likes" },
	{ "profile_links_taps", "account", "total", "taps on the profile's links and contact buttons" },
	{ "replies", "account, media", "total; STORY", "replies (to stories)" },
	{ "reposts", "account, media", "total; FEED, REELS, STORY", "reposts" },
	{ "saves", "account", "total", "saves, per day" },
	{ "saved", "media", "FEED, REELS", "saves of the media" },
	{ "shares", "account, media", "total; FEED, REELS, STORY", "shares" },
	{ "total_interactions", "account, media", "total; FEED, REELS, STORY",
	  "likes + comments + saves + shares + replies (Meta's sum)" },
	{ "views", "account, media", "total; FEED, REELS, STORY", "views (replaces impressions, plays)" },
	{ "follows_and_unfollows", "account", "follows",
	  "breakdown follow_type: FOLLOWER = follows, NON_FOLLOWER = unfollows; >= 100 followers" },
	{ "reach", "account, media", "reach (time series); FEED, REELS, STORY", "accounts reached" },
	{ "follower_count", "account", "followers (time series)",
	  "new followers per day (legacy; last 30 days; >= 100 followers)" },
	{ "follows", "media", "FEED, STORY", "follows from the media" },
	{ "profile_visits", "media", "FEED, STORY", "profile visits from the media" },
	{ "ig_reels_avg_watch_time", "media", "REELS", "average watch time (ms)" },
	{ "ig_reels_video_view_total_time", "media", "REELS", "total watch time (ms)" },
	{ "reels_skip_rate", "media", "REELS", "share of plays skipped in the first seconds (%)" },
	{ "navigation", "media", "STORY", "forward, back, exit taps and swipes (total)" },
	{ "followers_count", "account", "snapshot", "followers at the snapshot (IG User node)" },
	{ "follows_count", "account", "snapshot", "accounts followed (IG User node)" },
	{ "media_count", "account", "snapshot", "media published (IG User node)" },
	{ "like_count", "media", "listing", "likes (media node field)" },
	{ "comments_count", "media", "listing", "comments (media node field)" },
	{ NULL, NULL, NULL, NULL }
};

int ig_metric_known(const char *name)
{
	size_t i;

	for (i = 0; ig_metric_docs[i].name; i++)
		if (!strcmp(ig_metric_docs[i].name, name))
			return 1;
	return 0;
}

int ig_meta_time(const char *s, int64_t *out)
{
	struct tm tm;
	const char *p;
	int sign = 1, hh = 0, mm = 0;

	if (!s)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if (!(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return -1;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		p++;
		if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
			return -1;
		hh = (p[0] - '0') * 10 + (p[1] - '0');
		p += 2;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1])) {
			mm = (p[0] - '0') * 10 + (p[1] - '0');
			p += 2;
		}
	}
	if (*p)
		return -1;
	*out = (int64_t)timegm(&tm) - sign * (hh * 3600 + mm * 60);
	return 0;
}
