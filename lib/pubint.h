/*
 * pubint.h — what lib/publish.c, lib/preflight.c and lib/pubworker.c share
 * inside the publishing module (not for programs: use publish.h).
 */
#ifndef IG_PUBINT_H
#define IG_PUBINT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ctx.h"
#include "publish.h"

enum pub_kind { PUB_IMAGE, PUB_VIDEO };

struct pub_item {
	char *url;
	int64_t asset_id;          /* 0: a bare URL */
	enum pub_kind kind;
	char *alt_text;
	json_t *user_tags;         /* new reference or NULL */
	int is_reel_child;         /* a carousel item given as a reel */
	struct ig_media_info info; /* from the asset row, when registered */
};

/* A post as parsed from its JSON (draft, check, edit). */
struct pub_post {
	int64_t account_id;
	char account[64];          /* external id */
	char username[128];
	char type[16];
	char *caption;             /* never NULL */
	int64_t at;                /* 0: no time (a draft) */
	int has_at;
	char *location_id;
	json_t *collaborators;     /* new reference or NULL */
	int share_to_feed;         /* -1 absent */
	char *cover_url;
	long long thumb_offset;    /* -1 absent */
	char *audio_name;
	char *first_comment;
	json_t *skus;              /* array of strings, new reference (maybe empty) */
	char *key;
	struct pub_item *items;
	size_t nitems;
};

/* Parse and resolve (account, assets, within tenant_id) the shapes of a
 * post; 65 naming the field.  Release with pub_post_release. */
int pub_post_parse(struct ig_ctx *ctx, int64_t tenant_id, const json_t *post, struct pub_post *p,
		   struct ig_err *err);
void pub_post_release(struct pub_post *p);
/* The tenant's Instagram account named by external id or @username into
 * p->account_id, account, username; 65 when there is none. */
int pub_find_account(struct ig_ctx *ctx, int64_t tenant_id, const char *ref, struct pub_post *p,
		     struct ig_err *err);

void pub_media_info_init(struct ig_media_info *mi);
/* GET url's first bytes: *status, content type, Content-Length, JPEG/PNG
 * header into mi.  0, or -1 with why set (no answer at all). */
int pub_probe_url(const char *url, struct ig_media_info *mi, long *status, char *why, size_t whyn);

/* Download url into a new file path (0600), at most max bytes: the local
 * copy of an asset.  0, or -1 with why set (nothing left behind). */
int pub_fetch_file(const char *url, const char *path, long long max, char *why, size_t whyn);

/* Journal row for post_id (inside the caller's transaction). */
int pub_journal(struct ig_store *st, int64_t tenant_id, int64_t post_id, int64_t at,
		const char *step, const char *outcome, const char *meta_id, const char *request_id,
		long code, long subcode, const char *message, struct ig_err *err);
/* Open (or refresh) the post's failure notice (inside a transaction). */
int pub_alert(struct ig_store *st, int64_t tenant_id, int64_t post_id, int64_t at,
	      const char *reason, struct ig_err *err);
/* Resolve the open notice of post_id, if any (inside a transaction). */
int pub_alert_resolve(struct ig_store *st, int64_t post_id, int64_t at, struct ig_err *err);

/* The post as a listing row (a new object) from the columns of POST_COLS. */
json_t *pub_post_row(struct ig_ctx *ctx, struct ig_stmt *s);

#endif
