/*
 * publish.h — the content calendar and the publishing worker of ig-publish(1):
 * posts (draft, schedule, edit, cancel, list, status), assets, the preflight
 * (lib/preflight.c) and the worker that takes due posts through Meta's
 * container → status → publish flow exactly once (lib/pubworker.c).
 * Meta's side: reference §4 (content publishing), §9 (errors, limits).
 *
 * Contracts shared by every function here:
 *
 * - Permissions are checked here, before any transaction opens: module
 *   publishing; org_admin and marketer write (draft, schedule, edit, cancel,
 *   asset add, run), sales and viewer read.  A denial is audited and is 77.
 * - Every lookup is scoped by tenant first.  A post or asset id of another
 *   tenant is "unknown post 7" (65), exactly as one that does not exist:
 *   an error never names another tenant's objects.
 * - Every change runs in one BEGIN IMMEDIATE transaction with its audit row
 *   (post.draft, post.schedule, post.edit, post.cancel, post.publish,
 *   post.fail, asset.add).  Network calls never run inside a transaction.
 * - Results (*out) are new references; times in them are ISO-8601 UTC.
 *   Functions return 0 or an exit code (lib/exitcodes.h) with err set.
 *
 * Post JSON (one per line for draft, and the shape of edit):
 *   {"account": "1784…" | "@username", "type": "image|carousel|reel|story",
 *    "media": [{"url": "https://…" | "asset": 12, "kind": "image|video",
 *               "alt_text": "…", "user_tags": [{"username","x","y"}]}],
 *    "caption": "…", "at": "2026-12-01T10:00:00Z", "location_id": "…",
 *    "collaborators": ["user"], "share_to_feed": true, "cover_url": "…",
 *    "thumb_offset": 1500, "audio_name": "…", "first_comment": "…",
 *    "skus": ["SKU-1"], "key": "caller's idempotency key"}
 */
#ifndef IG_PUBLISH_H
#define IG_PUBLISH_H

#include <stdint.h>
#include <jansson.h>

#include "authz.h"
#include "ctx.h"
#include "graph.h"
#include "record.h"

#define IG_PUBLISH_LEASE 300         /* seconds a run holds a post */
#define IG_PUBLISH_PARALLEL 32       /* requests in flight by default */
#define IG_PUBLISH_CONTAINER_TTL (24 * 3600)   /* containers expire (§4.3) */

/* ------------------------------------------------------------ preflight */

/* What the preflight knows about one media item (filled by probing). */
struct ig_media_info {
	char mime[64];
	long long size;          /* -1 unknown */
	int width, height;       /* 0 unknown */
	long long duration_ms;   /* -1 unknown */
	char sha256[65];         /* "" unknown */
};

/* Read type and dimensions from the first bytes of a JPEG or PNG (n bytes
 * at p).  1 when recognised (info->mime, width, height set), 0 when not. */
int ig_media_sniff(const unsigned char *p, size_t n, struct ig_media_info *info);
/* The duration of an MP4/MOV (moov/mvhd) in n bytes at p: 1 with *ms set,
 * 0 when not found (moov not in the bytes given). */
int ig_media_mp4_duration(const unsigned char *p, size_t n, long long *ms);

/*
 * Run every preflight rule on post (borrowed) for tenant_id: the account
 * exists in the tenant, the fields, the caption, the media.  network: also
 * fetch each media URL (200 and a fitting content type; JPEG header read).
 * Returns 0 when the post passes, else 65 with err naming the field and the
 * rule: "media[1].url: rule image.aspect: aspect 0.50 is outside 4:5…1.91:1".
 * warnings (may be NULL) gets a new array of warning strings (http URLs).
 */
int ig_preflight(struct ig_ctx *ctx, int64_t tenant_id, const json_t *post, int network,
		 json_t **warnings, struct ig_err *err);

/* ------------------------------------------------------------ tenant */

/* Resolve --tenant (NULL: the key's own) for publishing access a and audit
 * action.  allow_all: a super admin without --tenant gets *id = 0 (all). */
int ig_publish_tenant(struct ig_ctx *ctx, const char *slug, enum ig_access a, const char *action,
		      int allow_all, int64_t *id, struct ig_err *err);

/* ------------------------------------------------------------ posts */

/*
 * Preflight and store one post (borrowed JSON as above) in tenant_id.  With
 * "at" it is scheduled (a past time is due at once), else a draft.  A "key"
 * already used in the tenant returns the existing post with "duplicate":
 * true and stores nothing.  *out: {id, state, key?, at?, duplicate?, warnings?}.
 */
int ig_publish_draft(struct ig_ctx *ctx, int64_t tenant_id, const json_t *post, int network,
		     json_t **out, struct ig_err *err);
/* The preflight alone: *out {ok: true, warnings: [...]} (0) or 65 with err. */
int ig_publish_check(struct ig_ctx *ctx, int64_t tenant_id, const json_t *post, int network,
		     json_t **out, struct ig_err *err);
/* Schedule a draft (or reschedule a scheduled or failed post) at t. */
int ig_publish_schedule(struct ig_ctx *ctx, int64_t tenant_id, int64_t id, int64_t t,
			json_t **out, struct ig_err *err);
/* Cancel a post that has not started publishing (draft, scheduled, failed). */
int ig_publish_cancel(struct ig_ctx *ctx, int64_t tenant_id, int64_t id, json_t **out,
		      struct ig_err *err);
/* Change fields of a draft or scheduled post: changes (borrowed) holds the
 * post keys to replace; the result passes the preflight again. */
int ig_publish_edit(struct ig_ctx *ctx, int64_t tenant_id, int64_t id, const json_t *changes,
		    int network, json_t **out, struct ig_err *err);

struct ig_publish_filter {
	const char *state;      /* NULL: any */
	const char *account;    /* external id or @username; NULL: any */
	const char *sku;
	int64_t from, to;       /* scheduled (or published) time range; 0: open */
	int calendar;           /* rows by day: {day, time, id, …} */
	long limit;             /* 0: no limit */
};
/* Posts of tenant_id (0 = every tenant the actor may read) by time, as
 * rows {id, tenant, account, username, type, state, step, at, published_at,
 * media_id, permalink, caption, skus, key, error}; fn per row. */
int ig_publish_list(struct ig_ctx *ctx, int64_t tenant_id, const struct ig_publish_filter *f,
		    ig_row_fn *fn, void *arg, struct ig_err *err);
/* One post with its media, its whole journal and its alerts. */
int ig_publish_status(struct ig_ctx *ctx, int64_t tenant_id, int64_t id, json_t **out,
		      struct ig_err *err);

/* ------------------------------------------------------------ assets */

struct ig_asset_spec {
	const char *source;      /* an https URL, or a path of a local file */
	const char *media_dir;   /* local files must lie under it (NULL: setting) */
	const char *base_url;    /* public URL media_dir is served at (NULL: setting) */
	const char *title, *tags, *folder;
	int network;             /* fetch a URL to read its type and header */
};
/* Register an asset: *out {id, kind, mime, size, width, height, sha256, url,
 * local_path}.  A local file is copied into media_dir when outside its
 * folder layout, and hashed; a URL is probed when network is set. */
int ig_asset_add(struct ig_ctx *ctx, int64_t tenant_id, const struct ig_asset_spec *spec,
		 json_t **out, struct ig_err *err);
int ig_asset_list(struct ig_ctx *ctx, int64_t tenant_id, ig_row_fn *fn, void *arg,
		  struct ig_err *err);
/* The media directory and public base URL: flag, else the settings
 * media_dir / media_base_url, else IGKIT_MEDIA_DIR / IGKIT_MEDIA_BASE_URL. */
const char *ig_asset_media_dir(const struct ig_ctx *ctx, const char *flag);
const char *ig_asset_base_url(const struct ig_ctx *ctx, const char *flag);

/* ------------------------------------------------------------ the worker */

struct ig_publish_run_opts {
	int64_t tenant_id;       /* 0: every tenant the actor may publish in */
	int parallel;            /* requests in flight (per host) */
	int wait;                /* repeat rounds until every claimed post is settled */
	long wait_max_s;         /* give up waiting after this long */
	double poll_interval;    /* seconds between rounds that only wait */
	int report_all;          /* a line for every post touched, not only failures */
	long limit;              /* at most this many posts claimed (0: no limit) */
	ig_row_fn *emit;         /* one line per post (failed/unknown, or all) */
	void *arg;
};

struct ig_publish_run_stats {
	long claimed, published, failed, unknown, deferred, requests, rounds;
	int relogin;             /* an account needs re-authorisation */
};

/*
 * One run of the worker (see lib/pubworker.c for the state machine).
 * Returns 0, or the most serious outcome: 77 an account needs re-login,
 * 75 a post became unknown or the store was busy, 69 a post failed; err
 * says which.  stats (may be NULL) is filled.
 */
int ig_publish_run(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_publish_run_opts *o,
		   struct ig_publish_run_stats *stats, struct ig_err *err);

/* Live content_publishing_limit of an account (reference §4.5):
 * *out {account, quota_usage, quota_total, quota_duration, remaining}. */
int ig_publish_limit(struct ig_ctx *ctx, struct ig_graph *g, int64_t tenant_id,
		     const char *account, json_t **out, struct ig_err *err);

/* ------------------------------------------------------------ Meta's codes */

enum ig_pub_action {
	IG_PUB_RETRY,        /* temporary: try again next round (bounded) */
	IG_PUB_WAIT,         /* rate limit or quota: defer, not a failure */
	IG_PUB_NOT_READY,    /* container not FINISHED: poll again */
	IG_PUB_RECREATE,     /* container expired or unknown: create it again */
	IG_PUB_PERMANENT,    /* fix the post: failed with an explanation */
	IG_PUB_RELOGIN,      /* the token is bad: re-authorise the account */
	IG_PUB_AMBIGUOUS,    /* a non-idempotent call may have happened */
};
/* The one table mapping a Graph error (code, subcode, HTTP status) to what
 * the worker does, with a plain-words explanation (static string). */
enum ig_pub_action ig_publish_classify(const struct ig_graph_error *e, int post_call,
				       const char **explain);
const char *ig_pub_action_name(enum ig_pub_action a);

#endif
