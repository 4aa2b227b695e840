/*
 * publish.c — posts and assets of the content calendar: parsing a post,
 * storing it after the preflight, schedule / edit / cancel, listings, the
 * journal of one post, assets.  The worker is lib/pubworker.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "authz.h"
#include "crypto.h"
#include "igtime.h"
#include "jsonio.h"
#include "publish.h"
#include "pubint.h"
#include "store.h"
#include "tenant.h"

#define OOM(err) ig_err_set(err, IG_EX_SOFTWARE, "out of memory")
#define ERR_LOCAL(err) struct ig_err err_local_; if (!(err)) (err) = &err_local_

/* ------------------------------------------------------------ tenant */

int ig_publish_tenant(struct ig_ctx *ctx, const char *slug, enum ig_access a, const char *action,
		      int allow_all, int64_t *id, struct ig_err *err)
{
	*id = 0;
	if ((!slug || !*slug) && !ctx->actor.tenant_id) {
		if (allow_all && ctx->actor.super_admin)
			return 0;
		return ig_err_set(err, IG_EX_USAGE, "which tenant? name one with --tenant");
	}
	return ig_tenant_resolve(ctx, slug, IG_MOD_PUBLISHING, a, action, id, NULL, err);
}

/* ------------------------------------------------------------ parsing */

static int bad(struct ig_err *err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct ig_err *err, const char *field, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ig_err_set(err, IG_EX_DATAERR, "%s: %s", field, msg);
}

/* An account of the tenant by external id or @username. */
int pub_find_account(struct ig_ctx *ctx, int64_t tenant_id, const char *ref,
		     struct pub_post *p, struct ig_err *err)
{
	struct ig_stmt *s;
	int n;

	if (*ref == '@')
		s = ig_store_query(ctx->store, err,
			"SELECT id, external_id, COALESCE(username, '') FROM accounts"
			" WHERE tenant_id = ? AND channel = 'instagram' AND username = ?",
			"is", tenant_id, ref + 1);
	else
		s = ig_store_query(ctx->store, err,
			"SELECT id, external_id, COALESCE(username, '') FROM accounts"
			" WHERE tenant_id = ? AND channel = 'instagram' AND external_id = ?",
			"is", tenant_id, ref);
	if (!s)
		return err->code;
	n = ig_stmt_next(ctx->store, s, err);
	if (n < 0)
		return err->code;
	if (n == 0)
		return ig_err_set(err, IG_EX_DATAERR,
			"account: rule account.known: no Instagram account '%.100s' in this tenant"
			" (connect it with ig-connect)", ref);
	p->account_id = ig_col_int(s, 0);
	snprintf(p->account, sizeof(p->account), "%s", ig_col_text(s, 1));
	snprintf(p->username, sizeof(p->username), "%s", ig_col_text(s, 2));
	ig_stmt_reset(s);
	return 0;
}

static int ext_is_video(const char *url)
{
	const char *q = url + strcspn(url, "?#");
	size_t n = (size_t)(q - url);

	return (n > 4 && (!strncasecmp(q - 4, ".mp4", 4) || !strncasecmp(q - 4, ".mov", 4)
			  || !strncasecmp(q - 4, ".m4v", 4)));
}

static int parse_item(struct ig_ctx *ctx, int64_t tenant_id, const char *type, size_t i,
		      const json_t *o, struct pub_item *it, struct ig_err *err)
{
	static const char *const keys[] = { "url", "asset", "kind", "alt_text", "user_tags",
					    "type", NULL };
	char field[48];
	const char *k, *kind;
	json_t *v;

	snprintf(field, sizeof(field), "media[%zu]", i);
	pub_media_info_init(&it->info);
	if (json_is_string(o)) {   /* a bare URL */
		it->url = strdup(json_string_value(o));
	} else if (!json_is_object(o)) {
		return bad(err, field, "an item is an object {url | asset, ...} or a URL");
	} else {
		json_object_foreach((json_t *)o, k, v) {
			const char *const *kk;

			for (kk = keys; *kk && strcmp(*kk, k); kk++)
				;
			if (!*kk) {
				char f2[96];

				snprintf(f2, sizeof(f2), "%s.%s", field, k);
				return bad(err, f2, "rule post.fields: unknown field (known: url, asset,"
					   " kind, alt_text, user_tags)");
			}
		}
		v = json_object_get(o, "asset");
		if (v && json_object_get(o, "url"))
			return bad(err, field, "give url or asset, not both");
		if (v) {
			struct ig_stmt *s;
			int n;

			if (!json_is_integer(v) || json_integer_value(v) <= 0)
				return bad(err, field, "asset is an asset id (a number)");
			s = ig_store_query(ctx->store, err,
				"SELECT url, kind, mime, size, width, height, duration_ms, sha256"
				" FROM assets WHERE tenant_id = ? AND id = ?", "ii", tenant_id,
				(int64_t)json_integer_value(v));
			if (!s)
				return err->code;
			if ((n = ig_stmt_next(ctx->store, s, err)) < 0)
				return err->code;
			if (!n)
				return ig_err_set(err, IG_EX_DATAERR, "%s.asset: unknown asset %lld", field,
						  (long long)json_integer_value(v));
			it->asset_id = json_integer_value(v);
			it->url = strdup(ig_col_text(s, 0));
			it->kind = strcmp(ig_col_text(s, 1), "video") ? PUB_IMAGE : PUB_VIDEO;
			snprintf(it->info.mime, sizeof(it->info.mime), "%s", ig_col_text(s, 2));
			it->info.size = ig_col_null(s, 3) ? -1 : ig_col_int(s, 3);
			it->info.width = (int)ig_col_int(s, 4);
			it->info.height = (int)ig_col_int(s, 5);
			it->info.duration_ms = ig_col_null(s, 6) ? -1 : ig_col_int(s, 6);
			ig_stmt_reset(s);
		} else {
			const char *u = ig_json_str(o, "url");

			if (!u || !*u)
				return bad(err, field, "an item needs url or asset");
			it->url = strdup(u);
		}
		if ((v = json_object_get(o, "alt_text")) && !json_is_null(v)) {
			if (!json_is_string(v))
				return bad(err, field, "alt_text is a string");
			it->alt_text = strdup(json_string_value(v));
		}
		if ((v = json_object_get(o, "user_tags")) && !json_is_null(v)) {
			if (!json_is_array(v))
				return bad(err, field, "user_tags is an array of {username, x, y}");
			it->user_tags = json_incref(v);
		}
		if ((v = json_object_get(o, "type")) && json_is_string(v)
		    && !strcmp(json_string_value(v), "reel"))
			it->is_reel_child = 1;
	}
	if (!it->url)
		return OOM(err);
	kind = json_is_object(o) ? ig_json_str(o, "kind") : NULL;
	if (json_is_object(o) && json_object_get(o, "kind") && !kind)
		return bad(err, field, "kind is \"image\" or \"video\"");
	if (kind) {
		if (!strcmp(kind, "image"))
			it->kind = PUB_IMAGE;
		else if (!strcmp(kind, "video"))
			it->kind = PUB_VIDEO;
		else
			return bad(err, field, "kind is \"image\" or \"video\", not '%.40s'", kind);
	} else if (!it->asset_id) {
		it->kind = !strcmp(type, "reel") || ext_is_video(it->url) ? PUB_VIDEO : PUB_IMAGE;
	}
	return 0;
}

static int opt_string(const json_t *post, const char *key, char **out, struct ig_err *err)
{
	json_t *v = json_object_get(post, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return bad(err, key, "must be a string");
	if (!(*out = strdup(json_string_value(v))))
		return OOM(err);
	return 0;
}

int pub_post_parse(struct ig_ctx *ctx, int64_t tenant_id, const json_t *post, struct pub_post *p,
		   struct ig_err *err)
{
	const char *type, *account;
	json_t *v, *media;
	size_t i;
	int rc;

	memset(p, 0, sizeof(*p));
	p->share_to_feed = -1;
	p->thumb_offset = -1;
	if (!(p->skus = json_array()))
		return OOM(err);
	if (!(account = ig_json_str(post, "account")) || !*account)
		return bad(err, "account", "required: the account's id or @username");
	type = ig_json_str(post, "type");
	if (!type || (strcmp(type, "image") && strcmp(type, "carousel") && strcmp(type, "reel")
		      && strcmp(type, "story")))
		return bad(err, "type", "rule post.type: one of image, carousel, reel, story");
	snprintf(p->type, sizeof(p->type), "%s", type);
	if ((rc = pub_find_account(ctx, tenant_id, account, p, err)))
		return rc;
	v = json_object_get(post, "caption");
	if (v && !json_is_null(v) && !json_is_string(v))
		return bad(err, "caption", "must be a string");
	if (!(p->caption = strdup(json_is_string(v) ? json_string_value(v) : "")))
		return OOM(err);
	if ((v = json_object_get(post, "at")) && !json_is_null(v)) {
		if (json_is_integer(v))
			p->at = json_integer_value(v);
		else if (!json_is_string(v) || ig_time_parse(json_string_value(v), &p->at))
			return bad(err, "at", "rule post.at: an ISO-8601 time (2026-12-01T10:00:00Z)");
		p->has_at = 1;
	}
	if ((v = json_object_get(post, "location_id")) && !json_is_null(v)) {
		char buf[32];
		const char *id = ig_json_id(post, "location_id", buf);
		const char *c;

		for (c = id; c && *c && *c >= '0' && *c <= '9'; c++)
			;
		if (!id || !*id || *c)
			return bad(err, "location_id", "rule location.id: a Page id with location data"
				   " (digits)");
		p->location_id = strdup(id);
	}
	if ((v = json_object_get(post, "collaborators")) && !json_is_null(v)) {
		if (!json_is_array(v))
			return bad(err, "collaborators", "an array of usernames");
		p->collaborators = json_incref(v);
	}
	if ((v = json_object_get(post, "share_to_feed")) && !json_is_null(v)) {
		if (!json_is_boolean(v))
			return bad(err, "share_to_feed", "true or false");
		p->share_to_feed = json_is_true(v);
	}
	if ((v = json_object_get(post, "thumb_offset")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return bad(err, "thumb_offset", "rule reel.thumb_offset: milliseconds, 0 or more");
		p->thumb_offset = json_integer_value(v);
	}
	if ((rc = opt_string(post, "cover_url", &p->cover_url, err))
	    || (rc = opt_string(post, "audio_name", &p->audio_name, err))
	    || (rc = opt_string(post, "first_comment", &p->first_comment, err))
	    || (rc = opt_string(post, "key", &p->key, err)))
		return rc;
	if (p->first_comment && !*p->first_comment) {
		free(p->first_comment);
		p->first_comment = NULL;
	}
	if (p->key && (!*p->key || strlen(p->key) > 200))
		return bad(err, "key", "1 to 200 characters");
	if ((v = json_object_get(post, "skus")) && !json_is_null(v)) {
		json_t *s;

		if (!json_is_array(v))
			return bad(err, "skus", "an array of strings");
		json_array_foreach(v, i, s) {
			const char *t = json_string_value(s);
			size_t j;
			json_t *o;
			int dup = 0;

			if (!t || !*t || strlen(t) > 64)
				return bad(err, "skus", "each SKU is a string of 1 to 64 characters");
			json_array_foreach(p->skus, j, o)
				dup |= !strcmp(json_string_value(o), t);
			if (!dup)
				json_array_append_new(p->skus, json_string(t));
		}
	}
	media = json_object_get(post, "media");
	if (!json_is_array(media) || !json_array_size(media))
		return bad(err, "media", "required: an array of {url | asset} items");
	if (json_array_size(media) > 64)
		return bad(err, "media", "rule carousel.count: at most 10 items");
	p->nitems = json_array_size(media);
	if (!(p->items = calloc(p->nitems, sizeof(*p->items))))
		return OOM(err);
	json_array_foreach(media, i, v)
		if ((rc = parse_item(ctx, tenant_id, p->type, i, v, &p->items[i], err)))
			return rc;
	return 0;
}

void pub_post_release(struct pub_post *p)
{
	size_t i;

	for (i = 0; i < p->nitems; i++) {
		free(p->items[i].url);
		free(p->items[i].alt_text);
		json_decref(p->items[i].user_tags);
	}
	free(p->items);
	free(p->caption);
	free(p->location_id);
	json_decref(p->collaborators);
	free(p->cover_url);
	free(p->audio_name);
	free(p->first_comment);
	json_decref(p->skus);
	free(p->key);
	memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------------ journal, alerts */

int pub_journal(struct ig_store *st, int64_t tenant_id, int64_t post_id, int64_t at,
		const char *step, const char *outcome, const char *meta_id, const char *request_id,
		long code, long subcode, const char *message, struct ig_err *err)
{
	meta_id = meta_id && *meta_id ? meta_id : NULL;
	request_id = request_id && *request_id ? request_id : NULL;
	message = message && *message ? message : NULL;
	if (code || subcode)
		return ig_store_runf(st, err,
			"INSERT INTO post_journal (post_id, tenant_id, at, step, outcome, meta_id,"
			" request_id, code, subcode, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			"iiissssiis", post_id, tenant_id, at, step, outcome, meta_id, request_id,
			(int64_t)code, (int64_t)subcode, message);
	return ig_store_runf(st, err,
		"INSERT INTO post_journal (post_id, tenant_id, at, step, outcome, meta_id, request_id,"
		" message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		"iiisssss", post_id, tenant_id, at, step, outcome, meta_id, request_id, message);
}

int pub_alert(struct ig_store *st, int64_t tenant_id, int64_t post_id, int64_t at,
	      const char *reason, struct ig_err *err)
{
	return ig_store_runf(st, err,
		"INSERT INTO post_alerts (tenant_id, post_id, reason, status, created_at)"
		" VALUES (?, ?, ?, 'open', ?) ON CONFLICT (post_id) WHERE status = 'open'"
		" DO UPDATE SET reason = excluded.reason", "iisi", tenant_id, post_id, reason, at);
}

int pub_alert_resolve(struct ig_store *st, int64_t post_id, int64_t at, struct ig_err *err)
{
	return ig_store_runf(st, err,
		"UPDATE post_alerts SET status = 'resolved', resolved_at = ?"
		" WHERE post_id = ? AND status = 'open'", "ii", at, post_id);
}

/* ------------------------------------------------------------ rows */

#define POST_COLS \
	"p.id, t.slug, a.external_id, a.username, p.type, p.state, p.step, p.scheduled_at," \
	" p.published_at, p.media_id, p.permalink, p.caption, p.idem_key, p.error, p.explain," \
	" p.created_at, p.updated_at, p.first_comment, p.comment_state, p.comment_id," \
	" p.container_id, p.not_before, p.error_code, p.error_subcode"

static void set_time(json_t *o, const char *key, struct ig_stmt *s, int col)
{
	char buf[32];

	if (ig_col_null(s, col) || ig_col_int(s, col) <= 0)
		json_object_set_new(o, key, json_null());
	else
		json_object_set_new(o, key, json_string(ig_time_iso(ig_col_int(s, col), buf)));
}

static void set_text(json_t *o, const char *key, struct ig_stmt *s, int col)
{
	const char *v = ig_col_textn(s, col);

	json_object_set_new(o, key, v ? json_string(v) : json_null());
}

static json_t *skus_of(struct ig_ctx *ctx, int64_t post_id)
{
	json_t *a = json_array();
	struct ig_stmt *s;
	struct ig_err e;

	s = ig_store_query(ctx->store, &e, "SELECT sku FROM post_skus WHERE post_id = ? ORDER BY sku",
			   "i", post_id);
	while (s && ig_stmt_next(ctx->store, s, &e) > 0)
		json_array_append_new(a, json_string(ig_col_text(s, 0)));
	return a;
}

/* The open failure notice of a post (its reason), or null. */
static json_t *alert_of(struct ig_ctx *ctx, int64_t post_id)
{
	struct ig_stmt *s;
	struct ig_err e;
	json_t *v = NULL;

	s = ig_store_query(ctx->store, &e,
		"SELECT reason FROM post_alerts WHERE post_id = ? AND status = 'open'", "i", post_id);
	if (s && ig_stmt_next(ctx->store, s, &e) > 0) {
		v = json_string(ig_col_text(s, 0));
		ig_stmt_reset(s);
	}
	return v ? v : json_null();
}

/* How a column of POST_COLS becomes a key of a row's JSON. */
enum col_as {
	AS_INT,      /* a number */
	AS_TEXT,     /* a string */
	AS_TEXTN,    /* a string or null */
	AS_TIME,     /* ISO-8601, or null for NULL and 0 */
	AS_CODE,     /* a number, absent when NULL */
};

static const struct post_col {
	const char *key;
	enum col_as as;
} list_cols[] = {   /* columns 0 to 14: a listing row */
	{ "id", AS_INT }, { "tenant", AS_TEXT }, { "account", AS_TEXT }, { "username", AS_TEXTN },
	{ "type", AS_TEXT }, { "state", AS_TEXT }, { "step", AS_TEXT }, { "at", AS_TIME },
	{ "published_at", AS_TIME }, { "media_id", AS_TEXTN }, { "permalink", AS_TEXTN },
	{ "caption", AS_TEXT }, { "key", AS_TEXTN }, { "error", AS_TEXTN }, { "explain", AS_TEXTN },
}, status_cols[] = {   /* columns 15 to 23: what status adds */
	{ "created_at", AS_TIME }, { "updated_at", AS_TIME }, { "first_comment", AS_TEXTN },
	{ "comment_state", AS_TEXT }, { "comment_id", AS_TEXTN }, { "container_id", AS_TEXTN },
	{ "deferred_until", AS_TIME }, { "error_code", AS_CODE }, { "error_subcode", AS_CODE },
};

/* Columns first.. of s into o, as the table says. */
static void set_cols(json_t *o, struct ig_stmt *s, int first, const struct post_col *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int col = first + (int)i;

		switch (t[i].as) {
		case AS_INT:
			json_object_set_new(o, t[i].key, json_integer(ig_col_int(s, col)));
			break;
		case AS_TEXT:
			json_object_set_new(o, t[i].key, json_string(ig_col_text(s, col)));
			break;
		case AS_TEXTN:
			set_text(o, t[i].key, s, col);
			break;
		case AS_TIME:
			set_time(o, t[i].key, s, col);
			break;
		case AS_CODE:
			if (!ig_col_null(s, col))
				json_object_set_new(o, t[i].key, json_integer(ig_col_int(s, col)));
			break;
		}
	}
}

json_t *pub_post_row(struct ig_ctx *ctx, struct ig_stmt *s)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	set_cols(o, s, 0, list_cols, sizeof(list_cols) / sizeof(list_cols[0]));
	json_object_set_new(o, "skus", skus_of(ctx, ig_col_int(s, 0)));
	json_object_set_new(o, "alert", alert_of(ctx, ig_col_int(s, 0)));
	return o;
}

/* ------------------------------------------------------------ draft */

static int lookup_key(struct ig_ctx *ctx, int64_t tenant_id, const char *key, json_t **out,
		      struct ig_err *err)
{
	struct ig_stmt *s;
	int n;

	s = ig_store_query(ctx->store, err,
		"SELECT id, state, scheduled_at FROM posts WHERE tenant_id = ? AND idem_key = ?",
		"is", tenant_id, key);
	if (!s)
		return -1;
	n = ig_stmt_next(ctx->store, s, err);
	if (n <= 0)
		return n;
	{
		char buf[32];

		*out = json_pack("{s:I,s:s,s:s,s:b}", "id", (json_int_t)ig_col_int(s, 0), "state",
				 ig_col_text(s, 1), "key", key, "duplicate", 1);
		if (*out && ig_col_int(s, 2) > 0)
			json_object_set_new(*out, "at", json_string(ig_time_iso(ig_col_int(s, 2), buf)));
	}
	ig_stmt_reset(s);
	return 1;
}

static char *json_text(const json_t *v)
{
	return v ? json_dumps(v, JSON_COMPACT) : NULL;
}

/* Write p as post `id` (0: a new post) with its media and SKUs. */
static int store_post(struct ig_ctx *ctx, int64_t tenant_id, int64_t *id, const struct pub_post *p,
		      const char *state, int64_t now, struct ig_err *err)
{
	struct ig_store *st = ctx->store;
	char *collab = json_text(p->collaborators);
	size_t i;
	json_t *v;
	int rc;

	if (!*id) {
		rc = ig_store_runf(st, err,
			"INSERT INTO posts (tenant_id, account_id, type, state, step, caption, location_id,"
			" collaborators, cover_url, audio_name, first_comment, idem_key, scheduled_at,"
			" comment_state, created_by, created_at, updated_at)"
			" VALUES (?, ?, ?, ?, 'children', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			"iisssssssssIsIii", tenant_id, p->account_id, p->type, state, p->caption,
			p->location_id, collab, p->cover_url, p->audio_name, p->first_comment, p->key,
			p->has_at ? (p->at > 0 ? p->at : now) : 0,
			p->first_comment ? "pending" : "none", ctx->actor.user_id, now, now);
		*id = ig_store_last_id(st);
	} else {
		rc = ig_store_runf(st, err,
			"UPDATE posts SET account_id = ?, type = ?, state = ?, caption = ?, location_id = ?,"
			" collaborators = ?, cover_url = ?, audio_name = ?, first_comment = ?,"
			" scheduled_at = ?, comment_state = ?, error = NULL, explain = NULL,"
			" error_code = NULL, error_subcode = NULL, updated_at = ?"
			" WHERE id = ? AND tenant_id = ?",
			"issssssssIsiii", p->account_id, p->type, state, p->caption, p->location_id,
			collab, p->cover_url, p->audio_name, p->first_comment,
			p->has_at ? (p->at > 0 ? p->at : now) : 0,
			p->first_comment ? "pending" : "none", now, *id, tenant_id);
		if (!rc)
			rc = ig_store_runf(st, err, "DELETE FROM post_media WHERE post_id = ?", "i", *id);
		if (!rc)
			rc = ig_store_runf(st, err, "DELETE FROM post_skus WHERE post_id = ?", "i", *id);
	}
	free(collab);
	if (rc)
		return rc;
	if (p->share_to_feed >= 0
	    && (rc = ig_store_runf(st, err, "UPDATE posts SET share_to_feed = ? WHERE id = ?", "ii",
				   (int64_t)p->share_to_feed, *id)))
		return rc;
	if (p->thumb_offset >= 0
	    && (rc = ig_store_runf(st, err, "UPDATE posts SET thumb_offset = ? WHERE id = ?", "ii",
				   (int64_t)p->thumb_offset, *id)))
		return rc;
	for (i = 0; i < p->nitems; i++) {
		const struct pub_item *it = &p->items[i];
		char *tags = json_text(it->user_tags);

		rc = ig_store_runf(st, err,
			"INSERT INTO post_media (post_id, position, tenant_id, kind, url, asset_id,"
			" alt_text, user_tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", "iiissIss", *id,
			(int64_t)i, tenant_id, it->kind == PUB_VIDEO ? "video" : "image", it->url,
			it->asset_id, it->alt_text, tags);
		free(tags);
		if (rc)
			return rc;
	}
	json_array_foreach(p->skus, i, v)
		if ((rc = ig_store_runf(st, err,
				"INSERT INTO post_skus (post_id, tenant_id, sku) VALUES (?, ?, ?)", "iis",
				*id, tenant_id, json_string_value(v))))
			return rc;
	return 0;
}

int ig_publish_check(struct ig_ctx *ctx, int64_t tenant_id, const json_t *post, int network,
		     json_t **out, struct ig_err *err)
{
	json_t *warnings = NULL;
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = ig_authz_require(ctx, tenant_id, IG_MOD_PUBLISHING, IG_READ, "post.check", err)))
		return rc;
	if ((rc = ig_preflight(ctx, tenant_id, post, network, &warnings, err))) {
		json_decref(warnings);
		return rc;
	}
	*out = json_pack("{s:b,s:o}", "ok", 1, "warnings", warnings);
	return *out ? 0 : OOM(err);
}

int ig_publish_draft(struct ig_ctx *ctx, int64_t tenant_id, const json_t *post, int network,
		     json_t **out, struct ig_err *err)
{
	struct pub_post p;
	json_t *warnings = NULL, *detail;
	const char *key = ig_json_str(post, "key");
	int64_t now = ig_time_now(), id = 0;
	char buf[32];
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = ig_authz_require(ctx, tenant_id, IG_MOD_PUBLISHING, IG_WRITE, "post.draft", err)))
		return rc;
	/* The same key again is the same post: answer it before any check, so
	 * a replayed stream is quiet. */
	if (key && *key) {
		int n = lookup_key(ctx, tenant_id, key, out, err);

		if (n < 0)
			return err->code;
		if (n > 0)
			return *out ? 0 : OOM(err);
	}
	if ((rc = ig_preflight(ctx, tenant_id, post, network, &warnings, err))) {
		json_decref(warnings);
		return rc;
	}
	if ((rc = pub_post_parse(ctx, tenant_id, post, &p, err))) {
		json_decref(warnings);
		pub_post_release(&p);
		return rc;
	}
	if ((rc = ig_store_begin(ctx->store, err)))
		goto done;
	rc = store_post(ctx, tenant_id, &id, &p, p.has_at ? "scheduled" : "draft", now, err);
	if (!rc) {
		detail = json_pack("{s:s,s:s,s:s?}", "type", p.type, "account", p.account, "key", p.key);
		snprintf(buf, sizeof(buf), "post:%lld", (long long)id);
		rc = ig_audit(ctx, tenant_id, p.has_at ? "post.schedule" : "post.draft", buf, "ok",
			      detail, err);
		json_decref(detail);
	}
	if (!rc)
		rc = pub_journal(ctx->store, tenant_id, id, now, "draft", "ok", NULL, NULL, 0, 0,
				 p.has_at ? "stored and scheduled" : "stored as a draft", err);
	if ((rc = ig_store_end(ctx->store, rc, err))) {
		if (rc == IG_EX_DATAERR && p.key) {   /* a concurrent writer took the key */
			int n = lookup_key(ctx, tenant_id, p.key, out, err);

			if (n > 0)
				rc = 0;
		}
		goto done;
	}
	*out = json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "state",
			 p.has_at ? "scheduled" : "draft", "account", p.account);
	if (!*out) {
		rc = OOM(err);
		goto done;
	}
	if (p.has_at)
		json_object_set_new(*out, "at", json_string(ig_time_iso(p.at > 0 ? p.at : now, buf)));
	if (p.key)
		json_object_set_new(*out, "key", json_string(p.key));
	if (json_array_size(warnings))
		json_object_set(*out, "warnings", warnings);
done:
	json_decref(warnings);
	pub_post_release(&p);
	return rc;
}

/* ------------------------------------------------------------ schedule, cancel, edit */

/* The post's state inside the open transaction; 65 "unknown post N" for a
 * missing post or another tenant's. */
static int post_state(struct ig_ctx *ctx, int64_t tenant_id, int64_t id, char state[16],
		      int64_t *lease_until, struct ig_err *err)
{
	struct ig_stmt *s;
	int n;

	s = ig_store_query(ctx->store, err,
		"SELECT state, COALESCE(lease_until, 0) FROM posts WHERE tenant_id = ? AND id = ?",
		"ii", tenant_id, id);
	if (!s)
		return err->code;
	if ((n = ig_stmt_next(ctx->store, s, err)) < 0)
		return err->code;
	if (!n)
		return ig_err_set(err, IG_EX_DATAERR, "unknown post %lld", (long long)id);
	snprintf(state, 16, "%s", ig_col_text(s, 0));
	if (lease_until)
		*lease_until = ig_col_int(s, 1);
	ig_stmt_reset(s);
	return 0;
}

/* Post id of the tenant as a listing row, with status's columns when full;
 * 65 "unknown post N" for a missing post or another tenant's. */
static int post_by_id(struct ig_ctx *ctx, int64_t tenant_id, int64_t id, int full, json_t **out,
		      struct ig_err *err)
{
	struct ig_stmt *s;
	int n;

	s = ig_store_query(ctx->store, err,
		"SELECT " POST_COLS " FROM posts p JOIN tenants t ON t.id = p.tenant_id"
		" JOIN accounts a ON a.id = p.account_id WHERE p.tenant_id = ? AND p.id = ?",
		"ii", tenant_id, id);
	if (!s)
		return err->code;
	if ((n = ig_stmt_next(ctx->store, s, err)) < 0)
		return err->code;
	if (!n)
		return ig_err_set(err, IG_EX_DATAERR, "unknown post %lld", (long long)id);
	*out = pub_post_row(ctx, s);
	if (*out && full)
		set_cols(*out, s, 15, status_cols, sizeof(status_cols) / sizeof(status_cols[0]));
	ig_stmt_reset(s);
	return *out ? 0 : OOM(err);
}

static int brief(struct ig_ctx *ctx, int64_t tenant_id, int64_t id, json_t **out, struct ig_err *err)
{
	return post_by_id(ctx, tenant_id, id, 0, out, err);
}

/* A change of post id (schedule, cancel): allowed, a transaction begun and
 * the post's state read; else an exit code, no transaction left open. */
static int change_begin(struct ig_ctx *ctx, int64_t tenant_id, int64_t id, const char *action,
			char state[16], struct ig_err *err)
{
	int rc;

	if ((rc = ig_authz_require(ctx, tenant_id, IG_MOD_PUBLISHING, IG_WRITE, action, err))
	    || (rc = ig_store_begin(ctx->store, err)))
		return rc;
	if ((rc = post_state(ctx, tenant_id, id, state, NULL, err)))
		return ig_store_end(ctx->store, rc, err);
	return 0;
}

/* Commit the change (rc 0) or roll it back; the post as it now is. */
static int change_end(struct ig_ctx *ctx, int64_t tenant_id, int64_t id, int rc, json_t **out,
		      struct ig_err *err)
{
	if ((rc = ig_store_end(ctx->store, rc, err)))
		return rc;
	return brief(ctx, tenant_id, id, out, err);
}

int ig_publish_schedule(struct ig_ctx *ctx, int64_t tenant_id, int64_t id, int64_t t,
			json_t **out, struct ig_err *err)
{
	char state[16], target[32], buf[32];
	int64_t now = ig_time_now();
	json_t *detail;
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = change_begin(ctx, tenant_id, id, "post.schedule", state, err)))
		return rc;
	if (strcmp(state, "draft") && strcmp(state, "scheduled") && strcmp(state, "failed")
	    && strcmp(state, "cancelled")) {
		rc = ig_err_set(err, IG_EX_DATAERR, "post %lld is %s: only a draft, scheduled, failed"
				" or cancelled post can be scheduled", (long long)id, state);
		return ig_store_end(ctx->store, rc, err);
	}
	/* A failed post starts over: any container it had is not trusted. */
	rc = ig_store_runf(ctx->store, err,
		"UPDATE posts SET state = 'scheduled', scheduled_at = ?, not_before = 0, retries = 0,"
		" polls = 0, error = NULL, explain = NULL, error_code = NULL, error_subcode = NULL,"
		" step = CASE WHEN state = 'failed' OR state = 'cancelled' THEN 'children' ELSE step END,"
		" container_id = CASE WHEN state = 'failed' OR state = 'cancelled' THEN NULL"
		" ELSE container_id END, updated_at = ? WHERE id = ? AND tenant_id = ?",
		"iiii", t, now, id, tenant_id);
	if (!rc && (!strcmp(state, "failed") || !strcmp(state, "cancelled")))
		rc = ig_store_runf(ctx->store, err,
			"UPDATE post_media SET container_id = NULL, status = NULL WHERE post_id = ?",
			"i", id);
	if (!rc)
		rc = pub_alert_resolve(ctx->store, id, now, err);
	snprintf(target, sizeof(target), "post:%lld", (long long)id);
	detail = json_pack("{s:s,s:s}", "at", ig_time_iso(t, buf), "from", state);
	if (!rc)
		rc = ig_audit(ctx, tenant_id, "post.schedule", target, "ok", detail, err);
	json_decref(detail);
	if (!rc)
		rc = pub_journal(ctx->store, tenant_id, id, now, "schedule", "ok", NULL, NULL, 0, 0,
				 buf, err);
	return change_end(ctx, tenant_id, id, rc, out, err);
}

int ig_publish_cancel(struct ig_ctx *ctx, int64_t tenant_id, int64_t id, json_t **out,
		      struct ig_err *err)
{
	char state[16], target[32];
	int64_t now = ig_time_now();
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = change_begin(ctx, tenant_id, id, "post.cancel", state, err)))
		return rc;
	if (strcmp(state, "draft") && strcmp(state, "scheduled") && strcmp(state, "failed")) {
		rc = ig_err_set(err, IG_EX_DATAERR, "post %lld is %s: only a draft, scheduled or"
				" failed post can be cancelled%s", (long long)id, state,
				!strcmp(state, "publishing") || !strcmp(state, "unknown")
				? " (Meta may already have it; let 'run' settle it first)" : "");
		return ig_store_end(ctx->store, rc, err);
	}
	snprintf(target, sizeof(target), "post:%lld", (long long)id);
	if (!(rc = ig_store_runf(ctx->store, err,
			"UPDATE posts SET state = 'cancelled', lease_owner = NULL, lease_until = NULL,"
			" updated_at = ? WHERE id = ? AND tenant_id = ?", "iii", now, id, tenant_id))
	    && !(rc = pub_alert_resolve(ctx->store, id, now, err))
	    && !(rc = ig_audit(ctx, tenant_id, "post.cancel", target, "ok", NULL, err)))
		rc = pub_journal(ctx->store, tenant_id, id, now, "cancel", "ok", NULL, NULL, 0, 0,
				 state, err);
	return change_end(ctx, tenant_id, id, rc, out, err);
}

/* The stored post as the JSON draft takes, for edit to merge changes into. */
static int post_json(struct ig_ctx *ctx, int64_t tenant_id, int64_t id, json_t **out,
		     struct ig_err *err)
{
	struct ig_stmt *s;
	json_t *o, *media, *skus;
	int n;

	s = ig_store_query(ctx->store, err,
		"SELECT a.external_id, p.type, p.caption, p.scheduled_at, p.location_id, p.collaborators,"
		" p.share_to_feed, p.cover_url, p.thumb_offset, p.audio_name, p.first_comment, p.state"
		" FROM posts p JOIN accounts a ON a.id = p.account_id WHERE p.tenant_id = ? AND p.id = ?",
		"ii", tenant_id, id);
	if (!s)
		return err->code;
	if ((n = ig_stmt_next(ctx->store, s, err)) < 0)
		return err->code;
	if (!n)
		return ig_err_set(err, IG_EX_DATAERR, "unknown post %lld", (long long)id);
	o = json_pack("{s:s,s:s,s:s}", "account", ig_col_text(s, 0), "type", ig_col_text(s, 1),
		      "caption", ig_col_text(s, 2));
	if (ig_col_int(s, 3) > 0 && strcmp(ig_col_text(s, 11), "draft"))
		json_object_set_new(o, "at", json_integer(ig_col_int(s, 3)));
	if (ig_col_textn(s, 4))
		json_object_set_new(o, "location_id", json_string(ig_col_text(s, 4)));
	if (ig_col_textn(s, 5))
		json_object_set_new(o, "collaborators", json_loads(ig_col_text(s, 5), 0, NULL));
	if (!ig_col_null(s, 6))
		json_object_set_new(o, "share_to_feed", json_boolean(ig_col_int(s, 6)));
	if (ig_col_textn(s, 7))
		json_object_set_new(o, "cover_url", json_string(ig_col_text(s, 7)));
	if (!ig_col_null(s, 8))
		json_object_set_new(o, "thumb_offset", json_integer(ig_col_int(s, 8)));
	if (ig_col_textn(s, 9))
		json_object_set_new(o, "audio_name", json_string(ig_col_text(s, 9)));
	if (ig_col_textn(s, 10))
		json_object_set_new(o, "first_comment", json_string(ig_col_text(s, 10)));
	ig_stmt_reset(s);
	media = json_array();
	s = ig_store_query(ctx->store, err,
		"SELECT url, asset_id, kind, alt_text, user_tags FROM post_media WHERE post_id = ?"
		" ORDER BY position", "i", id);
	while (s && (n = ig_stmt_next(ctx->store, s, err)) > 0) {
		json_t *it = json_pack("{s:s}", "kind", ig_col_text(s, 2));

		if (!ig_col_null(s, 1))
			json_object_set_new(it, "asset", json_integer(ig_col_int(s, 1)));
		else
			json_object_set_new(it, "url", json_string(ig_col_text(s, 0)));
		if (ig_col_textn(s, 3))
			json_object_set_new(it, "alt_text", json_string(ig_col_text(s, 3)));
		if (ig_col_textn(s, 4))
			json_object_set_new(it, "user_tags", json_loads(ig_col_text(s, 4), 0, NULL));
		json_array_append_new(media, it);
	}
	json_object_set_new(o, "media", media);
	skus = skus_of(ctx, id);
	json_object_set_new(o, "skus", skus);
	*out = o;
	return 0;
}

int ig_publish_edit(struct ig_ctx *ctx, int64_t tenant_id, int64_t id, const json_t *changes,
		    int network, json_t **out, struct ig_err *err)
{
	char state[16], target[32];
	struct pub_post p;
	json_t *merged = NULL, *v, *warnings = NULL, *detail;
	const char *k;
	int64_t now = ig_time_now();
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	memset(&p, 0, sizeof(p));
	if ((rc = ig_authz_require(ctx, tenant_id, IG_MOD_PUBLISHING, IG_WRITE, "post.edit", err)))
		return rc;
	if (!json_is_object(changes) || !json_object_size(changes))
		return ig_err_set(err, IG_EX_USAGE, "edit: nothing to change");
	if (json_object_get(changes, "key"))
		return ig_err_set(err, IG_EX_DATAERR, "key: the idempotency key of a post cannot change");
	if ((rc = post_state(ctx, tenant_id, id, state, NULL, err)))
		return rc;
	if (strcmp(state, "draft") && strcmp(state, "scheduled") && strcmp(state, "failed"))
		return ig_err_set(err, IG_EX_DATAERR, "post %lld is %s: only a draft, scheduled or"
				  " failed post can be edited", (long long)id, state);
	if ((rc = post_json(ctx, tenant_id, id, &merged, err)))
		return rc;
	json_object_foreach((json_t *)changes, k, v) {
		if (json_is_null(v))
			json_object_del(merged, k);
		else
			json_object_set(merged, k, v);
	}
	if ((rc = ig_preflight(ctx, tenant_id, merged, network, &warnings, err))
	    || (rc = pub_post_parse(ctx, tenant_id, merged, &p, err)))
		goto done;
	if ((rc = ig_store_begin(ctx->store, err)))
		goto done;
	/* the state may have moved since it was read (a run claimed it) */
	if (!(rc = post_state(ctx, tenant_id, id, state, NULL, err))
	    && strcmp(state, "draft") && strcmp(state, "scheduled") && strcmp(state, "failed"))
		rc = ig_err_set(err, IG_EX_DATAERR, "post %lld is %s: only a draft, scheduled or"
				" failed post can be edited", (long long)id, state);
	if (!rc)
		rc = store_post(ctx, tenant_id, &id, &p, p.has_at ? "scheduled" : "draft", now, err);
	if (!rc)
		rc = ig_store_runf(ctx->store, err,
			"UPDATE posts SET step = 'children', container_id = NULL, retries = 0, polls = 0,"
			" not_before = 0 WHERE id = ?", "i", id);
	snprintf(target, sizeof(target), "post:%lld", (long long)id);
	detail = json_pack("{s:o}", "changed", json_deep_copy(changes));
	if (!rc)
		rc = ig_audit(ctx, tenant_id, "post.edit", target, "ok", detail, err);
	json_decref(detail);
	if (!rc)
		rc = pub_journal(ctx->store, tenant_id, id, now, "edit", "ok", NULL, NULL, 0, 0, NULL,
				 err);
	if ((rc = ig_store_end(ctx->store, rc, err)))
		goto done;
	rc = brief(ctx, tenant_id, id, out, err);
	if (!rc && json_array_size(warnings))
		json_object_set(*out, "warnings", warnings);
done:
	json_decref(merged);
	json_decref(warnings);
	pub_post_release(&p);
	return rc;
}

/* ------------------------------------------------------------ list, status */

/* How a listing makes JSON of its current row: a new object, NULL when
 * out of memory. */
typedef json_t *row_json_fn(struct ig_ctx *ctx, struct ig_stmt *s);

/* Each row of s as JSON to fn, at most limit rows (0: all). */
static int each_row(struct ig_ctx *ctx, struct ig_stmt *s, row_json_fn *row_json, long limit,
		    ig_row_fn *fn, void *arg, struct ig_err *err)
{
	long count = 0;
	int n, rc;

	while ((n = ig_stmt_next(ctx->store, s, err)) > 0) {
		json_t *row = row_json(ctx, s);

		if (!row) {
			ig_stmt_reset(s);
			return OOM(err);
		}
		rc = fn(arg, row);
		json_decref(row);
		if (rc || (limit && ++count >= limit)) {
			ig_stmt_reset(s);
			return rc;
		}
	}
	return n < 0 ? err->code : 0;
}

static json_t *list_row(struct ig_ctx *ctx, struct ig_stmt *s)
{
	return pub_post_row(ctx, s);
}

/* A post as one line of the calendar: its day and time (published, else
 * scheduled), id, type, state, account and caption. */
static json_t *calendar_row(struct ig_ctx *ctx, struct ig_stmt *s)
{
	json_t *row = pub_post_row(ctx, s), *cal;
	const char *at;
	char day[11] = "-", tm[6] = "-";

	if (!row)
		return NULL;
	at = json_string_value(json_object_get(row, "published_at"));
	if (!at)
		at = json_string_value(json_object_get(row, "at"));
	if (at && strlen(at) >= 16) {
		memcpy(day, at, 10);
		day[10] = '\0';
		memcpy(tm, at + 11, 5);
		tm[5] = '\0';
	}
	cal = json_pack("{s:s,s:s,s:O,s:O,s:O,s:O,s:O}", "day", day, "time", tm,
			"id", json_object_get(row, "id"),
			"type", json_object_get(row, "type"),
			"state", json_object_get(row, "state"),
			"account", json_object_get(row, "username"),
			"caption", json_object_get(row, "caption"));
	json_decref(row);
	return cal;
}

static json_t *asset_row(struct ig_ctx *ctx, struct ig_stmt *s)
{
	return ig_stmt_row_json(s);
}

int ig_publish_list(struct ig_ctx *ctx, int64_t tenant_id, const struct ig_publish_filter *f,
		    ig_row_fn *fn, void *arg, struct ig_err *err)
{
	struct ig_stmt *s;
	const char *acc = f->account;
	int rc;

	ERR_LOCAL(err);
	if (tenant_id && (rc = ig_authz_require(ctx, tenant_id, IG_MOD_PUBLISHING, IG_READ,
						"post.list", err)))
		return rc;
	if (!tenant_id && !ctx->actor.super_admin)
		return ig_err_set(err, IG_EX_USAGE, "which tenant? name one with --tenant");
	s = ig_store_query(ctx->store, err,
		"SELECT " POST_COLS " FROM posts p JOIN tenants t ON t.id = p.tenant_id"
		" JOIN accounts a ON a.id = p.account_id"
		" WHERE (?1 = 0 OR p.tenant_id = ?1) AND (?2 IS NULL OR p.state = ?2)"
		" AND (?3 IS NULL OR a.external_id = ?3 OR '@' || a.username = ?3)"
		" AND (?4 = 0 OR COALESCE(p.published_at, p.scheduled_at, p.created_at) >= ?4)"
		" AND (?5 = 0 OR COALESCE(p.published_at, p.scheduled_at, p.created_at) < ?5)"
		" AND (?6 IS NULL OR EXISTS (SELECT 1 FROM post_skus k WHERE k.post_id = p.id"
		" AND k.sku = ?6))"
		" ORDER BY COALESCE(p.published_at, NULLIF(p.scheduled_at, 0), p.created_at), p.id",
		"issiis", tenant_id, f->state, acc, f->from, f->to, f->sku);
	if (!s)
		return err->code;
	return each_row(ctx, s, f->calendar ? calendar_row : list_row, f->limit, fn, arg, err);
}

/* Each row's integer time key as ISO-8601 (a null stays null). */
static void iso_times(json_t *rows, const char *key)
{
	size_t i;
	json_t *r;
	char buf[32];

	json_array_foreach(rows, i, r)
		if (json_is_integer(json_object_get(r, key)))
			json_object_set_new(r, key, json_string(ig_time_iso(
				json_integer_value(json_object_get(r, key)), buf)));
}

int ig_publish_status(struct ig_ctx *ctx, int64_t tenant_id, int64_t id, json_t **out,
		      struct ig_err *err)
{
	json_t *media = NULL, *journal = NULL, *alerts = NULL;
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = ig_authz_require(ctx, tenant_id, IG_MOD_PUBLISHING, IG_READ, "post.status", err))
	    || (rc = post_by_id(ctx, tenant_id, id, 1, out, err)))
		return rc;
	if ((rc = ig_store_json(ctx->store, err, &media,
			"SELECT position, kind, url, asset_id AS asset, alt_text, container_id, status"
			" FROM post_media WHERE post_id = ? ORDER BY position", "i", id))
	    || (rc = ig_store_json(ctx->store, err, &journal,
			"SELECT at, step, outcome, meta_id, request_id, code, subcode, message"
			" FROM post_journal WHERE post_id = ? ORDER BY id", "i", id))
	    || (rc = ig_store_json(ctx->store, err, &alerts,
			"SELECT id, reason, status, created_at, resolved_at FROM post_alerts"
			" WHERE post_id = ? ORDER BY id", "i", id))) {
		json_decref(media);
		json_decref(journal);
		json_decref(*out);
		*out = NULL;
		return rc;
	}
	iso_times(journal, "at");
	iso_times(alerts, "created_at");
	iso_times(alerts, "resolved_at");
	json_object_set_new(*out, "media", media);
	json_object_set_new(*out, "journal", journal);
	json_object_set_new(*out, "alerts", alerts);
	return 0;
}

/* ------------------------------------------------------------ assets */

/* A setting: the flag, else the configuration key, else the environment. */
static const char *setting(const struct ig_ctx *ctx, const char *flag, const char *key,
			   const char *env)
{
	const char *v = flag;

	if (!v || !*v)
		v = ig_config_get(&ctx->cfg, key);
	if (!v || !*v)
		v = getenv(env);
	return v && *v ? v : NULL;
}

const char *ig_asset_media_dir(const struct ig_ctx *ctx, const char *flag)
{
	return setting(ctx, flag, "media_dir", "IGKIT_MEDIA_DIR");
}

const char *ig_asset_base_url(const struct ig_ctx *ctx, const char *flag)
{
	return setting(ctx, flag, "media_base_url", "IGKIT_MEDIA_BASE_URL");
}

/* Read a file: its SHA-256, size and header; 0 or an exit code. */
static int hash_file(const char *path, struct ig_media_info *mi, struct ig_err *err)
{
	unsigned char head[65536], h[32];
	size_t nhead = 0;
	struct ig_buf all;
	FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;

	if (!f)
		return ig_err_errno(err, IG_EX_NOINPUT, "cannot open '%.200s'", path);
	/* A whole file in memory, bounded: Instagram's own limits (300 MB
	 * reels) are far above any image; hashing streams would need the
	 * incremental SHA-256 of lib/crypto.h, which it does not export. */
	ig_buf_init(&all, 400u * 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (nhead < sizeof(head)) {
			size_t k = n < sizeof(head) - nhead ? n : sizeof(head) - nhead;

			memcpy(head + nhead, chunk, k);
			nhead += k;
		}
		if (ig_buf_add(&all, chunk, n)) {
			fclose(f);
			ig_buf_release(&all);
			return ig_err_set(err, IG_EX_DATAERR, "'%.200s' is larger than 400 MB", path);
		}
	}
	if (ferror(f)) {
		fclose(f);
		ig_buf_release(&all);
		return ig_err_errno(err, IG_EX_IOERR, "cannot read '%.200s'", path);
	}
	fclose(f);
	ig_sha256(all.data ? all.data : "", all.len, h);
	ig_hex(h, 32, mi->sha256);
	mi->size = (long long)all.len;
	/* a video's duration: its moov box may be anywhere in the file */
	if (all.len)
		ig_media_mp4_duration((const unsigned char *)all.data, all.len, &mi->duration_ms);
	ig_buf_release(&all);
	ig_media_sniff(head, nhead, mi);
	return 0;
}

/* An asset on its way in: where Meta fetches it and what it is. */
struct asset {
	struct ig_media_info mi;
	char *url;             /* what Meta fetches */
	char *local;           /* the file in the media directory, or a local copy; NULL: none */
	int copied;            /* local is a copy made here: removed if the asset is not stored */
	int plain_http;
	const char *kind;      /* "image" or "video" */
};

/* The network check of a URL asset: it must answer 200. */
static int asset_probe(const char *src, struct asset *a, struct ig_err *err)
{
	long status;
	char why[256];

	if (pub_probe_url(src, &a->mi, &status, why, sizeof(why)))
		return ig_err_set(err, IG_EX_DATAERR,
			"asset: rule media.reachable: '%.200s' cannot be fetched: %s", src, why);
	if (status != 200)
		return ig_err_set(err, IG_EX_DATAERR,
			"asset: rule media.reachable: '%.200s' answers HTTP %ld, not 200", src, status);
	return 0;
}

/* A local copy of a URL asset's bytes under <dir>/.copies (drafts keep
 * local copies); its facts replace the probe's. */
static int asset_copy(int64_t tenant_id, const char *dir, const char *src, struct asset *a,
		      struct ig_err *err)
{
	char *rnd = ig_random_id(8), *local = NULL, *sub = NULL, why[300];
	struct ig_media_info got;
	int rc;

	pub_media_info_init(&got);
	if (!rnd || asprintf(&local, "%s/.copies/t%lld-%s", dir, (long long)tenant_id, rnd) < 0)
		local = NULL;
	free(rnd);
	if (!local)
		return OOM(err);
	if (asprintf(&sub, "%s/.copies", dir) >= 0) {
		mkdir(sub, 0700);
		free(sub);
	}
	if (pub_fetch_file(src, local, 400LL * 1024 * 1024, why, sizeof(why))) {
		free(local);
		return ig_err_set(err, IG_EX_DATAERR,
			"asset: rule media.reachable: cannot copy '%.200s': %s", src, why);
	}
	if ((rc = hash_file(local, &got, err))) {
		unlink(local);
		free(local);
		return rc;
	}
	if (!got.mime[0])
		snprintf(got.mime, sizeof(got.mime), "%s", a->mi.mime);
	a->mi = got;
	a->local = local;
	a->copied = 1;
	return 0;
}

/* An asset given by URL: checked and copied with the network check. */
static int asset_from_url(struct ig_ctx *ctx, int64_t tenant_id, const struct ig_asset_spec *spec,
			  struct asset *a, struct ig_err *err)
{
	const char *src = spec->source, *dir = ig_asset_media_dir(ctx, spec->media_dir);
	int rc;

	a->plain_http = strncasecmp(src, "https://", 8) != 0;
	if (spec->network && (rc = asset_probe(src, a, err)))
		return rc;
	if (!(a->url = strdup(src)))
		return OOM(err);
	/* with a media directory, the bytes too */
	if (spec->network && dir)
		return asset_copy(tenant_id, dir, src, a, err);
	return 0;
}

/* An asset given as a file: it must be under the media directory, which
 * is served to Meta at the base URL. */
static int asset_from_file(struct ig_ctx *ctx, const struct ig_asset_spec *spec, struct asset *a,
			   struct ig_err *err)
{
	const char *dir = ig_asset_media_dir(ctx, spec->media_dir);
	const char *base = ig_asset_base_url(ctx, spec->base_url);
	const char *src = spec->source;
	char rdir[PATH_MAX], rfile[PATH_MAX];
	size_t dl;
	int rc;

	if (!dir || !base)
		return ig_err_set(err, IG_EX_CONFIG,
			"asset: a local file needs a media directory served at a public URL:"
			" set --media-dir and --media-base-url (or IGKIT_MEDIA_DIR and"
			" IGKIT_MEDIA_BASE_URL); Meta cannot read a local path");
	if (!realpath(dir, rdir))
		return ig_err_errno(err, IG_EX_CONFIG, "media directory '%.200s'", dir);
	if (!realpath(src, rfile))
		return ig_err_errno(err, IG_EX_NOINPUT, "cannot open '%.200s'", src);
	dl = strlen(rdir);
	if (strncmp(rfile, rdir, dl) || rfile[dl] != '/')
		return ig_err_set(err, IG_EX_DATAERR,
			"asset: rule asset.media_dir: '%.200s' is not under the media directory"
			" '%.200s' (only files there are served to Meta)", src, rdir);
	if ((rc = hash_file(rfile, &a->mi, err)))
		return rc;
	if (asprintf(&a->url, "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/",
		     rfile + dl + 1) < 0) {
		a->url = NULL;
		return OOM(err);
	}
	if (!(a->local = strdup(rfile)))
		return OOM(err);
	return 0;
}

/* The assets row and its audit row, in one transaction. */
static int asset_store(struct ig_ctx *ctx, int64_t tenant_id, const struct ig_asset_spec *spec,
		       const struct asset *a, int64_t *id, struct ig_err *err)
{
	const struct ig_media_info *mi = &a->mi;
	int64_t now = ig_time_now();
	char target[32];
	int rc;

	if ((rc = ig_store_begin(ctx->store, err)))
		return rc;
	rc = ig_store_runf(ctx->store, err,
		"INSERT INTO assets (tenant_id, kind, mime, size, width, height, duration_ms, sha256,"
		" url, local_path, title, tags, folder, created_by, created_at, updated_at)"
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		"issIIIIssssssIii", tenant_id, a->kind, mi->mime,
		(int64_t)(mi->size >= 0 ? mi->size : 0), (int64_t)mi->width, (int64_t)mi->height,
		(int64_t)(mi->duration_ms >= 0 ? mi->duration_ms : 0),
		mi->sha256[0] ? mi->sha256 : NULL, a->url, a->local, spec->title ? spec->title : "",
		spec->tags ? spec->tags : "", spec->folder ? spec->folder : "", ctx->actor.user_id,
		now, now);
	*id = ig_store_last_id(ctx->store);
	snprintf(target, sizeof(target), "asset:%lld", (long long)*id);
	if (!rc)
		rc = ig_audit(ctx, tenant_id, "asset.add", target, "ok", NULL, err);
	return ig_store_end(ctx->store, rc, err);
}

/* What `asset add` answers. */
static json_t *asset_json(int64_t id, const struct asset *a)
{
	const struct ig_media_info *mi = &a->mi;
	json_t *o = json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)id, "kind", a->kind,
			      "mime", mi->mime, "url", a->url);

	if (!o)
		return NULL;
	json_object_set_new(o, "size", mi->size >= 0 ? json_integer(mi->size) : json_null());
	json_object_set_new(o, "width", mi->width ? json_integer(mi->width) : json_null());
	json_object_set_new(o, "height", mi->height ? json_integer(mi->height) : json_null());
	json_object_set_new(o, "sha256", mi->sha256[0] ? json_string(mi->sha256) : json_null());
	json_object_set_new(o, "duration_ms", mi->duration_ms > 0 ? json_integer(mi->duration_ms)
			    : json_null());
	json_object_set_new(o, "local_path", a->local ? json_string(a->local) : json_null());
	if (a->plain_http)
		json_object_set_new(o, "warnings", json_pack("[s]", "the URL is plain http; Meta"
				    " fetches it, but https is safer"));
	return o;
}

int ig_asset_add(struct ig_ctx *ctx, int64_t tenant_id, const struct ig_asset_spec *spec,
		 json_t **out, struct ig_err *err)
{
	struct asset a;
	const char *src = spec->source;
	int64_t id;
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	memset(&a, 0, sizeof(a));
	pub_media_info_init(&a.mi);
	if ((rc = ig_authz_require(ctx, tenant_id, IG_MOD_PUBLISHING, IG_WRITE, "asset.add", err)))
		return rc;
	if (!strncasecmp(src, "https://", 8) || !strncasecmp(src, "http://", 7))
		rc = asset_from_url(ctx, tenant_id, spec, &a, err);
	else
		rc = asset_from_file(ctx, spec, &a, err);
	if (rc)
		goto done;
	a.kind = !strncasecmp(a.mi.mime, "video/", 6) || ext_is_video(a.url) ? "video" : "image";
	if (!a.mi.mime[0])
		snprintf(a.mi.mime, sizeof(a.mi.mime), "%s", !strcmp(a.kind, "video") ? "video/mp4"
			 : "image/jpeg");
	if ((rc = asset_store(ctx, tenant_id, spec, &a, &id, err))) {
		if (a.copied)
			unlink(a.local);
		goto done;
	}
	if (!(*out = asset_json(id, &a)))
		rc = OOM(err);
done:
	free(a.url);
	free(a.local);
	return rc;
}

int ig_asset_list(struct ig_ctx *ctx, int64_t tenant_id, ig_row_fn *fn, void *arg,
		  struct ig_err *err)
{
	struct ig_stmt *s;
	int rc;

	ERR_LOCAL(err);
	if ((rc = ig_authz_require(ctx, tenant_id, IG_MOD_PUBLISHING, IG_READ, "asset.list", err)))
		return rc;
	s = ig_store_query(ctx->store, err,
		"SELECT id, kind, mime, size, width, height, duration_ms, sha256, url, local_path,"
		" title, tags, folder FROM assets WHERE tenant_id = ? ORDER BY id", "i", tenant_id);
	if (!s)
		return err->code;
	return each_row(ctx, s, asset_row, 0, fn, arg, err);
}
