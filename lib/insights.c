/*
 * insights.c — ig-insights sync: the brand snapshot, account and media
 * insights with the 24-hour cache, stories, the story_insights webhook
 * rows, the retention purge.  Contracts in insights.h; Meta's side in the
 * reference §5 (metrics), §9 (batch, rate limits), §0 (hosts).
 *
 * How a sync runs.  Accounts are taken IG_INSIGHTS_CHUNK at a time.  Each
 * account is a small state machine of "ops" (one logical Graph GET each:
 * the profile, a media listing page, one insights request); the ops of
 * every account of the batch are sent together with ig_graph_run_many, so
 * requests run in parallel across accounts.  An account on Facebook Login
 * (graph.facebook.com) sends its ops as Graph batch requests of up to 50
 * (reference §9.3); batch on graph.instagram.com is not documented, so an
 * Instagram Login account sends one request per op.  An op's answer may
 * add ops (the media listing adds the media's insights; a refused
 * multi-metric request adds one request per metric), and rounds go on until
 * no op is left.  Then the pictures are fetched, the story_insights webhook
 * rows read, and the batch is written in one transaction.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "authz.h"
#include "crypto.h"
#include "exitcodes.h"
#include "igtime.h"
#include "insights.h"
#include "jsonio.h"
#include "metrics.h"
#include "picture.h"
#include "store.h"
#include "tenant.h"

#define DAY 86400
#define BATCH_MAX 50          /* operations per Graph batch (§9.3) */
#define MEDIA_PAGE 50
#define MEDIA_MAX 500         /* media listed per account and sync */
#define OP_TRIES 3
#define SLICE_OPS 800         /* operations per ig_graph_run_many call */

static int oom(struct ig_err *err)
{
	return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
}

/* Room for element n of the array p (*cap elements of size bytes): p, or
 * p grown (doubling, from first), or NULL out of memory (p and *cap kept). */
static void *room(void *p, size_t n, size_t *cap, size_t size, size_t first)
{
	size_t nc;

	if (n < *cap)
		return p;
	nc = *cap ? 2 * *cap : first;
	if (!(p = realloc(p, nc * size)))
		return NULL;
	*cap = nc;
	return p;
}

/* ------------------------------------------------------------ scope */

int ig_insights_scope(struct ig_ctx *ctx, const char *tenant, int write, const char *action,
		      int64_t *tenant_id, struct ig_err *err)
{
	*tenant_id = 0;
	if ((!tenant || !*tenant) && !ctx->actor.tenant_id) {
		/* the store's owner (or a super-admin key): every tenant */
		return ig_authz_require(ctx, 0, IG_MOD_INSIGHTS, write ? IG_WRITE : IG_READ, action,
					err);
	}
	return ig_tenant_resolve(ctx, tenant && *tenant ? tenant : NULL, IG_MOD_INSIGHTS,
				 write ? IG_WRITE : IG_READ, action, tenant_id, NULL, err);
}

int ig_insights_account_ref(struct ig_ctx *ctx, int64_t tenant_id, const char *ref, int64_t *id,
			    struct ig_err *err)
{
	struct ig_stmt *s;
	int n = 0, rc;

	if (!ref || !*ref || (ref[0] == '@' && !ref[1]))
		return ig_err_set(err, IG_EX_USAGE, "name an account: its id or @username");
	s = ig_store_query(ctx->store, err,
		"SELECT id FROM accounts WHERE (?1 = 0 OR tenant_id = ?1) AND channel = 'instagram'"
		" AND (external_id = ?2 OR (?3 <> '' AND username = ?3 COLLATE NOCASE))",
		"iss", tenant_id, ref, ref[0] == '@' ? ref + 1 : "");
	while (s && (rc = ig_stmt_next(ctx->store, s, err)) > 0) {
		*id = ig_col_int(s, 0);
		n++;
	}
	if (!s || rc < 0)
		return err->code;
	if (n == 0)
		return ig_err_set(err, IG_EX_DATAERR, "unknown account '%s'", ref);
	if (n > 1)
		return ig_err_set(err, IG_EX_DATAERR, "'%s' names several accounts; add --tenant", ref);
	return 0;
}

/* ------------------------------------------------------------ state */

enum op_kind { OP_PROFILE, OP_MEDIA_LIST, OP_STORIES, OP_GROUP, OP_MEDIA };

struct acct;
struct sync;

/* One figure until written: compact, since a batch holds ~100k of them. */
struct val {
	char media[24];          /* "" = the account's own */
	const char *metric;      /* interned (struct sync) */
	const char *breakdown;   /* interned; "" none */
	int64_t end;
	double value;
	char lifetime, webhook, integer;
};

struct op {
	struct acct *a;
	enum op_kind kind;
	char path[96];
	char *kv[16];            /* query: key, value, ..., NULL (owned strings) */
	int grp;                 /* OP_GROUP */
	int64_t since, until;    /* OP_GROUP */
	int media;               /* OP_MEDIA: index in a->media */
	int single;              /* a one-metric retry (no further split) */
	int tries;
	struct op *next;
};

struct media {
	char id[40];
	char product[24];
	char scope[48];          /* "FEED.IMAGE": what a refused metric is remembered for */
	enum ig_product prod;
	json_t *node;            /* the listing's object (new reference) */
	int64_t posted_at;
	double reach;            /* this sync's reach, to pick thumbnails */
	int has_thumb;
	struct ig_buf thumb;     /* fetched thumbnail bytes, until written */
	char thumb_type[64];
};

struct acct {
	int64_t id, tenant_id;
	char tenant[64], external_id[64], page_id[64], username[128], flavour[16], status[16];
	char *token;
	int fb;                  /* graph.facebook.com; batch allowed */
	int refresh;             /* this sync ignores the cache */
	char note[256];          /* e.g. refresh refused */
	int64_t followers;       /* -1 unknown */
	int64_t webhook_seen;
	int64_t last_snapshot_at;
	char last_picture_url[1024];
	int64_t last_picture_id;
	json_t *profile;         /* this sync's profile answer, or NULL */
	json_t *cache;           /* {"media|grp|end": [fetched_at, "status"]} */
	json_t *known;           /* {media: [last reach or null, has a thumbnail]} */
	struct media *media;
	size_t nmedia, amedia;
	struct sync *S;
	struct val *vals;
	size_t nvals, avals;
	json_t *fetches;         /* [[media, grp, end, status, note]] */
	json_t *unavailable;     /* notes, for the record */
	struct op *ops;          /* pending */
	int requests;
	int rc;
	char error[600];
	int done_profile;
	/* pictures */
	struct ig_buf pic;
	char pic_type[64];
	int64_t picture_id;      /* stored picture for the snapshot (0 none) */
};

struct sync {
	char **names;            /* interned metric and breakdown names */
	size_t nnames, anames;
	struct ig_ctx *ctx;
	struct ig_graph *g;
	const struct ig_insights_sync_opts *o;
	int64_t now, today;      /* today = 00:00 UTC of now */
	struct acct *acc;
	size_t n;
	size_t total, done, failed;
	int worst;
	json_t *summary;
};

static int severity(int rc)
{
	switch (rc) {
	case 0: return 0;
	case IG_EX_NOPERM: return 5;
	case IG_EX_TEMPFAIL: return 4;
	case IG_EX_UNAVAILABLE: return 3;
	default: return 2;
	}
}

static void acct_fail(struct acct *a, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void acct_fail(struct acct *a, int rc, const char *fmt, ...)
{
	va_list ap;

	if (severity(rc) <= severity(a->rc))
		return;
	a->rc = rc;
	va_start(ap, fmt);
	vsnprintf(a->error, sizeof(a->error), fmt, ap);
	va_end(ap);
}

/* room() for an account's arrays: out of memory fails the account. */
static void *acct_room(struct acct *a, void *p, size_t n, size_t *cap, size_t size, size_t first)
{
	void *r = room(p, n, cap, size, first);

	if (!r)
		acct_fail(a, IG_EX_SOFTWARE, "out of memory");
	return r;
}

static void op_free(struct op *op)
{
	int i;

	for (i = 0; op->kv[i]; i++)
		free(op->kv[i]);
	free(op);
}

static void op_list_free(struct op *op)
{
	struct op *nx;

	for (; op; op = nx) {
		nx = op->next;
		op_free(op);
	}
}

static void ops_drop(struct acct *a)
{
	op_list_free(a->ops);
	a->ops = NULL;
}

static void acct_release(struct acct *a)
{
	size_t i;

	ops_drop(a);
	ig_wipe_free(a->token);
	a->token = NULL;
	json_decref(a->profile);
	json_decref(a->cache);
	json_decref(a->known);
	free(a->vals);
	json_decref(a->fetches);
	json_decref(a->unavailable);
	for (i = 0; i < a->nmedia; i++) {
		json_decref(a->media[i].node);
		ig_buf_release(&a->media[i].thumb);
	}
	free(a->media);
	ig_buf_release(&a->pic);
}

/* A new op with query pairs (kv: key, value, ..., NULL; copied). */
static struct op *op_newv(struct acct *a, enum op_kind kind, const char *path,
			  const char *const *kv)
{
	struct op *op = calloc(1, sizeof(*op));
	int i;

	if (!op)
		return NULL;
	op->a = a;
	op->kind = kind;
	snprintf(op->path, sizeof(op->path), "%s", path);
	for (i = 0; kv[i] && i < 15; i++) {
		if (!(op->kv[i] = strdup(kv[i]))) {
			op_free(op);
			return NULL;
		}
	}
	return op;
}

/* The same with the pairs as NULL-terminated varargs. */
static struct op *op_new(struct acct *a, enum op_kind kind, const char *path, ...)
{
	const char *kv[16];
	va_list ap;
	int i = 0;

	va_start(ap, path);
	while (i < 15 && (kv[i] = va_arg(ap, const char *)))
		i++;
	kv[i] = NULL;
	va_end(ap);
	return op_newv(a, kind, path, kv);
}

static void op_push(struct acct *a, struct op *op)
{
	struct op **p = &a->ops;

	if (!op) {
		acct_fail(a, IG_EX_SOFTWARE, "out of memory");
		return;
	}
	while (*p)
		p = &(*p)->next;
	*p = op;
}

static void num(char *buf, int64_t v)
{
	snprintf(buf, 24, "%lld", (long long)v);
}

/* ------------------------------------------------------------ the cache */

static json_t *cache_get(struct acct *a, const char *media, const char *grp, int64_t end)
{
	char key[160];

	snprintf(key, sizeof(key), "%s|%s|%lld", media, grp, (long long)end);
	return json_object_get(a->cache, key);
}

/* A cache entry's time (*at) and status ("ok", "empty", "unavailable",
 * "error", or NULL). */
static const char *cache_entry(const json_t *c, int64_t *at)
{
	*at = json_integer_value(json_array_get(c, 0));
	return json_string_value(json_array_get(c, 1));
}

/* Does (account or media, group, day ending at end) need asking again? */
static int day_needed(struct sync *S, struct acct *a, const char *grp, int64_t end)
{
	json_t *c = cache_get(a, "", grp, end);
	int64_t at;
	const char *st;

	if (!c || a->refresh)
		return 1;
	st = cache_entry(c, &at);
	if (st && !strcmp(st, "unavailable"))
		return 0;
	if (st && !strcmp(st, "error"))
		return 1;
	/* Meta's data lags up to 48 h (§5): a day read before it was 72 h old
	 * is read again, once a day. */
	return at < end + IG_INSIGHTS_LAG && S->now - at >= IG_INSIGHTS_TTL;
}

static int media_needed(struct sync *S, struct acct *a, const struct media *m)
{
	json_t *c = cache_get(a, m->id, "media", 0);
	int64_t at;
	const char *st;

	if (m->prod == IG_PROD_OTHER)
		return 0;
	if (m->prod == IG_PROD_STORY) {
		/* Stories answer for 24 h only (§5.2): read on sight, and once
		 * more after 20 h, before they expire. */
		if (m->posted_at && S->now >= m->posted_at + IG_INSIGHTS_STORY_LIFE)
			return 0;
		if (!c || a->refresh)
			return 1;
		cache_entry(c, &at);
		if (m->posted_at && at < m->posted_at + IG_INSIGHTS_STORY_FINAL
		    && S->now >= m->posted_at + IG_INSIGHTS_STORY_FINAL)
			return 1;
		return S->now - at >= IG_INSIGHTS_TTL;
	}
	if (!c || a->refresh)
		return 1;
	st = cache_entry(c, &at);
	if (st && !strcmp(st, "unavailable"))
		return 0;
	return S->now - at >= IG_INSIGHTS_TTL;
}

/* ------------------------------------------------------------ results */

static const char *intern(struct sync *S, const char *name)
{
	char **p;
	size_t i;

	for (i = 0; i < S->nnames; i++)
		if (!strcmp(S->names[i], name))
			return S->names[i];
	if (!(p = room(S->names, S->nnames, &S->anames, sizeof(*p), 64)))
		return NULL;
	S->names = p;
	if (!(S->names[S->nnames] = strdup(name)))
		return NULL;
	return S->names[S->nnames++];
}

static void add_value(struct acct *a, const char *media, const char *metric, const char *period,
		      const char *breakdown, int64_t end, const json_t *value, const char *source)
{
	struct val *v;

	if (!json_is_number(value) || strlen(media) >= sizeof(v->media))
		return;
	if (!(v = acct_room(a, a->vals, a->nvals, &a->avals, sizeof(*v), 256)))
		return;
	a->vals = v;
	v = &a->vals[a->nvals];
	snprintf(v->media, sizeof(v->media), "%s", media);
	v->metric = intern(a->S, metric);
	v->breakdown = intern(a->S, breakdown ? breakdown : "");
	if (!v->metric || !v->breakdown) {
		acct_fail(a, IG_EX_SOFTWARE, "out of memory");
		return;
	}
	v->end = end;
	v->integer = json_is_integer(value);
	v->value = json_number_value(value);
	v->lifetime = !strcmp(period, "lifetime");
	v->webhook = !strcmp(source, "webhook");
	a->nvals++;
}

static void add_fetch(struct acct *a, const char *media, const char *grp, int64_t end,
		      const char *status, const char *note)
{
	json_t *row = json_pack("[ssIss?]", media, grp, (json_int_t)end, status, note);
	char key[160];

	if (!row || json_array_append_new(a->fetches, row)) {
		acct_fail(a, IG_EX_SOFTWARE, "out of memory");
		return;
	}
	snprintf(key, sizeof(key), "%s|%s|%lld", media, grp, (long long)end);
	json_object_set_new(a->cache, key, json_pack("[Is]", (json_int_t)0, status));
}

static void note_unavailable(struct acct *a, const char *what, const char *why)
{
	char buf[400];

	if (json_array_size(a->unavailable) >= 20)
		return;
	snprintf(buf, sizeof(buf), "%s: %s", what, why);
	json_array_append_new(a->unavailable, json_string(buf));
}

/* A metric Meta refused for this account (one metric per request, still
 * refused) is not asked again until --refresh: "refused:<group>:<metric>". */
static void refuse(struct acct *a, const char *scope, const char *metric, const char *msg)
{
	char grp[128];

	snprintf(grp, sizeof(grp), "refused:%s:%s", scope, metric);
	add_fetch(a, "", grp, 0, "unavailable", msg);
}

/* all minus the refused metrics of scope, into buf; NULL when none is left. */
static const char *metric_list(struct acct *a, const char *scope, const char *all, char *buf,
			       size_t n)
{
	char *copy, *tok, *save = NULL, grp[128];
	size_t len = 0;

	buf[0] = '\0';
	if (!all || !(copy = strdup(all)))
		return NULL;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		snprintf(grp, sizeof(grp), "refused:%s:%s", scope, tok);
		if (!a->refresh && cache_get(a, "", grp, 0))
			continue;
		if (len < n)
			len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "," : "", tok);
	}
	free(copy);
	return buf[0] ? buf : NULL;
}

/* Breakdown rows of a total_value: "dimension=VALUE[,VALUE]". */
static void add_breakdowns(struct acct *a, const char *media, const char *metric,
			   const char *period, int64_t end, const json_t *tv)
{
	const json_t *bds = json_object_get(tv, "breakdowns"), *bd, *res, *r;
	size_t i, j, k;

	json_array_foreach(bds, i, bd) {
		const json_t *keys = json_object_get(bd, "dimension_keys");

		res = json_object_get(bd, "results");
		json_array_foreach(res, j, r) {
			const json_t *vals = json_object_get(r, "dimension_values"), *v;
			char label[256];
			size_t len;

			len = (size_t)snprintf(label, sizeof(label), "%s=",
				json_string_value(json_array_get(keys, 0)) ?
				json_string_value(json_array_get(keys, 0)) : "dimension");
			json_array_foreach(vals, k, v) {
				char up[96];
				size_t c;

				/* values may come back lowercase (§5.2): store them upper */
				snprintf(up, sizeof(up), "%s", json_string_value(v) ? json_string_value(v) : "");
				for (c = 0; up[c]; c++)
					if (up[c] >= 'a' && up[c] <= 'z')
						up[c] -= 32;
				if (len < sizeof(label))
					len += (size_t)snprintf(label + len, sizeof(label) - len, "%s%s",
								k ? "," : "", up);
			}
			add_value(a, media, metric, period, label, end,
				  json_object_get(r, "value"), "api");
		}
	}
}

/* The data[] of an insights answer: values stored, 1 when any value came. */
static int take_insights(struct acct *a, const char *media, const json_t *body, int64_t end,
			 int time_series)
{
	const json_t *data = json_object_get(body, "data"), *d;
	size_t i, j;
	int got = 0;

	json_array_foreach(data, i, d) {
		const char *name = ig_json_str(d, "name");
		const char *period = ig_json_str(d, "period");
		const json_t *tv = json_object_get(d, "total_value");
		const json_t *vals = json_object_get(d, "values"), *v;

		if (!name)
			continue;
		if (!period || *media)
			period = *media ? "lifetime" : "day";
		if (json_is_object(tv)) {
			add_value(a, media, name, period, "", end, json_object_get(tv, "value"), "api");
			add_breakdowns(a, media, name, period, end, tv);
			got = 1;
			continue;
		}
		json_array_foreach(vals, j, v) {
			int64_t t = end;
			const char *et = ig_json_str(v, "end_time");

			if (time_series && et && ig_meta_time(et, &t))
				continue;
			if (time_series && et) {
				/* Meta's day may end at Pacific midnight (07:00/08:00
				 * UTC): file it under the UTC midnight before. */
				t = t / DAY * DAY;
			}
			if (json_is_number(json_object_get(v, "value"))) {
				add_value(a, media, name, period, "", t, json_object_get(v, "value"), "api");
				got = 1;
			}
		}
	}
	return got;
}

/* ------------------------------------------------------------ ops */

static const char media_fields[] =
	"id,caption,media_type,media_product_type,media_url,permalink,thumbnail_url,timestamp,"
	"like_count,comments_count";

static void push_group(struct sync *S, struct acct *a, int grp, int64_t since, int64_t until,
		       const char *metrics, int single, const char *breakdown)
{
	const struct ig_account_group *G = &ig_account_groups[grp];
	char path[96], s1[24], s2[24];
	struct op *op;

	const char *kv[16];
	int n = 0;

	(void)S;
	snprintf(path, sizeof(path), "/%s/insights", a->external_id);
	num(s1, since);
	num(s2, until);
	kv[n++] = "metric", kv[n++] = metrics, kv[n++] = "period", kv[n++] = "day";
	if (G->metric_type)
		kv[n++] = "metric_type", kv[n++] = G->metric_type;
	if (G->metric_type && breakdown)
		kv[n++] = "breakdown", kv[n++] = breakdown;
	kv[n++] = "since", kv[n++] = s1, kv[n++] = "until", kv[n++] = s2, kv[n] = NULL;
	op = op_newv(a, OP_GROUP, path, kv);
	if (op) {
		op->grp = grp;
		op->since = since;
		op->until = until;
		op->single = single;
	}
	op_push(a, op);
}

/* The account insights still needed, as ops. */
static void plan_account(struct sync *S, struct acct *a)
{
	int grp, days = S->o->backfill_days;
	/* every day of the window not read yet, or read before it was 72 h
	 * old (the cache decides): on the first sync the whole window */
	int64_t first = S->today - (int64_t)days * DAY, d;

	for (grp = 0; grp < IG_GRP_COUNT; grp++) {
		const struct ig_account_group *G = &ig_account_groups[grp];
		int64_t lo = first, run_start = 0, run_end = 0;
		char mbuf[512];
		const char *metrics = metric_list(a, G->name, G->metrics, mbuf, sizeof(mbuf));

		if (!metrics)
			continue;

		if (G->needs_followers && a->followers >= 0 && a->followers < IG_METRICS_FOLLOWER_MIN) {
			/* §5.1: not returned below 100 followers; do not ask */
			continue;
		}
		if (G->max_days_back && lo < S->today - (int64_t)G->max_days_back * DAY)
			lo = S->today - (int64_t)G->max_days_back * DAY;
		for (d = lo; d < S->today; d += DAY) {
			int64_t end = d + DAY;

			if (!day_needed(S, a, G->name, end))
				continue;
			if (!G->time_series) {
				push_group(S, a, grp, d, end, metrics, 0, G->breakdown);
				continue;
			}
			/* time series: contiguous runs, at most 30 days per request */
			if (run_start && (d != run_end || (end - run_start) > IG_METRICS_MAX_DAYS * DAY)) {
				push_group(S, a, grp, run_start, run_end, metrics, 0, G->breakdown);
				run_start = 0;
			}
			if (!run_start)
				run_start = d;
			run_end = end;
		}
		if (run_start)
			push_group(S, a, grp, run_start, run_end, metrics, 0, G->breakdown);
	}
}

static void push_media(struct acct *a, size_t idx, const char *metrics, int single)
{
	char path[96];
	struct op *op;

	snprintf(path, sizeof(path), "/%s/insights", a->media[idx].id);
	op = op_new(a, OP_MEDIA, path, "metric", metrics, NULL);
	if (op) {
		op->media = (int)idx;
		op->single = single;
	}
	op_push(a, op);
}

static void add_media(struct sync *S, struct acct *a, const json_t *node, int story, int ask)
{
	const char *id = ig_json_str(node, "id");
	const char *prod = ig_json_str(node, "media_product_type");
	int64_t posted = 0;
	struct media *m;
	size_t i;

	if (!id)
		return;
	ig_meta_time(ig_json_str(node, "timestamp"), &posted);
	for (i = 0; i < a->nmedia; i++)
		if (!strcmp(a->media[i].id, id))
			return;
	if (!(m = acct_room(a, a->media, a->nmedia, &a->amedia, sizeof(*m), 32)))
		return;
	a->media = m;
	m = &a->media[a->nmedia];
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	snprintf(m->product, sizeof(m->product), "%s", prod ? prod : story ? "STORY" : "FEED");
	m->prod = ig_product_parse(m->product);
	snprintf(m->scope, sizeof(m->scope), "%s.%s", m->product,
		 ig_json_str(node, "media_type") ? ig_json_str(node, "media_type") : "");
	m->node = json_incref((json_t *)node);
	m->posted_at = posted;
	m->reach = -1;
	{
		const json_t *k = json_object_get(a->known, id);

		if (json_is_number(json_array_get(k, 0)))
			m->reach = json_number_value(json_array_get(k, 0));
		m->has_thumb = json_is_true(json_array_get(k, 1));
	}
	a->nmedia++;
	if (ask && media_needed(S, a, m)) {
		char mbuf[512];
		const char *metrics = metric_list(a, m->scope, ig_media_metrics(m->prod), mbuf,
						  sizeof(mbuf));

		if (metrics)
			push_media(a, a->nmedia - 1, metrics, 0);
	}
}

static void seed(struct sync *S, struct acct *a)
{
	char path[96], lim[8];

	snprintf(lim, sizeof(lim), "%d", MEDIA_PAGE);
	if (a->refresh || !a->last_snapshot_at || S->now - a->last_snapshot_at >= IG_INSIGHTS_TTL) {
		static const char fields[] =
			"username,name,biography,website,followers_count,follows_count,media_count,"
			"profile_picture_url";
		char f[256];

		snprintf(path, sizeof(path), "/%s", a->fb ? a->external_id : "me");
		snprintf(f, sizeof(f), "%s,%s", a->fb ? "id" : "user_id", fields);
		op_push(a, op_new(a, OP_PROFILE, path, "fields", f, NULL));
	} else {
		plan_account(S, a);
	}
	snprintf(path, sizeof(path), "/%s/media", a->external_id);
	op_push(a, op_new(a, OP_MEDIA_LIST, path, "fields", media_fields, "limit", lim, NULL));
	snprintf(path, sizeof(path), "/%s/stories", a->external_id);
	op_push(a, op_new(a, OP_STORIES, path, "fields", media_fields, NULL));
}

/* 1 when the op's query has key. */
static int op_has(const struct op *op, const char *key)
{
	int i;

	for (i = 0; op->kv[i] && op->kv[i + 1]; i += 2)
		if (!strcmp(op->kv[i], key))
			return 1;
	return 0;
}

/* What an error means for an op.  Returns 1 when handled (no account
 * failure), 0 when the account failed. */
static int op_error(struct sync *S, struct op *op, int rc, const struct ig_graph_error *ge,
		    const char *msg)
{
	struct acct *a = op->a;
	const char *metrics = op->kv[1];
	char what[160];

	if (op->kind == OP_MEDIA)
		snprintf(what, sizeof(what), "media %s", a->media[op->media].id);
	else if (op->kind == OP_GROUP)
		snprintf(what, sizeof(what), "%s %s", ig_account_groups[op->grp].name, metrics);
	else
		snprintf(what, sizeof(what), "%s", op->path);

	if (rc == IG_EX_NOPERM || (ge && (ge->code == 190 || ge->code == 102))) {
		acct_fail(a, IG_EX_NOPERM, "%s; the account needs to log in again (ig-connect url)", msg);
		return 0;
	}
	if (ge && ge->code >= 200 && ge->code <= 299) {
		acct_fail(a, IG_EX_NOPERM, "%s; grant the insights permission again (ig-connect url)",
			  msg);
		return 0;
	}
	if ((op->kind == OP_MEDIA || op->kind == OP_GROUP) && ge && ge->code) {
		const char *media = op->kind == OP_MEDIA ? a->media[op->media].id : "";
		const char *grp = op->kind == OP_MEDIA ? "media" : ig_account_groups[op->grp].name;
		int64_t end = op->kind == OP_MEDIA ? 0 : op->until;
		int several = !op->single && strchr(metrics, ',') != NULL;
		int bd = op_has(op, "breakdown");

		if (ge->code == 10) {
			if (op->kind == OP_MEDIA && a->media[op->media].prod == IG_PROD_STORY) {
				/* §5.2: story metrics under 5 viewers → code 10 */
				add_fetch(a, media, grp, end, "unavailable", "not enough viewers");
				note_unavailable(a, what, "not enough viewers (fewer than 5)");
				return 1;
			}
			acct_fail(a, IG_EX_NOPERM, "%s; grant the insights permission again (ig-connect url)",
				  msg);
			return 0;
		}
		if (ge->code == 100 && ge->subcode == 2108006) {
			add_fetch(a, media, grp, end, "unavailable",
				  "media posted before the business account conversion");
			note_unavailable(a, what, "posted before the business account conversion");
			return 1;
		}
		/* One unsupported metric (or breakdown) fails the whole request
		 * (§5.1, §5.2); a refused breakdown is code 1 "An unknown error
		 * has occurred".  Code 1 on a plain one-metric request is an
		 * outage, handled below. */
		if (ge->code == 100 || (ge->code == 1 && (several || bd))) {
			if (several) {
				char *copy = strdup(metrics), *tok, *save = NULL;

				if (!copy) {
					acct_fail(a, IG_EX_SOFTWARE, "out of memory");
					return 0;
				}
				for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
					if (op->kind == OP_MEDIA)
						push_media(a, (size_t)op->media, tok, 1);
					else
						push_group(S, a, op->grp, op->since, op->until, tok, 1,
							   bd ? ig_account_groups[op->grp].breakdown : NULL);
				}
				free(copy);
				return 1;
			}
			if (op->kind == OP_GROUP && bd) {
				/* once more without the breakdown */
				push_group(S, a, op->grp, op->since, op->until, metrics, 2, NULL);
				return 1;
			}
			if (ge->code == 100) {
				/* refused on its own: not asked again until --refresh */
				refuse(a, op->kind == OP_MEDIA ? a->media[op->media].scope
				       : ig_account_groups[op->grp].name, metrics, msg);
				if (op->kind == OP_MEDIA
				    && !strchr(ig_media_metrics(a->media[op->media].prod), ','))
					add_fetch(a, media, grp, end, "unavailable", msg);
				note_unavailable(a, what, msg);
				return 1;
			}
		}
	}
	if (rc == IG_EX_TEMPFAIL || (ge && ge->code == 1)) {
		acct_fail(a, IG_EX_TEMPFAIL, "%s", msg);
		return 0;
	}
	acct_fail(a, rc ? rc : IG_EX_UNAVAILABLE, "%s", msg);
	return 0;
}

static void op_ok(struct sync *S, struct op *op, const json_t *body)
{
	struct acct *a = op->a;
	const json_t *data, *it;
	size_t i;

	switch (op->kind) {
	case OP_PROFILE: {
		const json_t *fc = json_object_get(body, "followers_count");
		char idbuf[32];
		const char *got = ig_json_id(body, a->fb ? "id" : "user_id", idbuf);

		if (got && strcmp(got, a->external_id)) {
			acct_fail(a, IG_EX_DATAERR, "the stored token belongs to account %s, not %s", got,
				  a->external_id);
			return;
		}
		json_decref(a->profile);
		a->profile = json_incref((json_t *)body);
		if (json_is_integer(fc))
			a->followers = json_integer_value(fc);
		a->done_profile = 1;
		plan_account(S, a);
		return;
	}
	case OP_MEDIA_LIST:
	case OP_STORIES: {
		int64_t cutoff = S->now - (int64_t)S->o->media_days * DAY;
		int64_t oldest = S->now;
		const char *after;

		data = json_object_get(body, "data");
		json_array_foreach(data, i, it) {
			int64_t t = 0;

			ig_meta_time(ig_json_str(it, "timestamp"), &t);
			if (t && t < oldest)
				oldest = t;
			if (op->kind == OP_MEDIA_LIST && t && t < cutoff)
				continue;
			if (a->nmedia >= MEDIA_MAX)
				break;
			add_media(S, a, it, op->kind == OP_STORIES, 1);
		}
		after = json_string_value(json_object_get(json_object_get(json_object_get(body,
			"paging"), "cursors"), "after"));
		if (op->kind == OP_MEDIA_LIST && json_object_get(json_object_get(body, "paging"), "next")
		    && after && json_array_size(data) && oldest >= cutoff && a->nmedia < MEDIA_MAX) {
			char lim[8];

			snprintf(lim, sizeof(lim), "%d", MEDIA_PAGE);
			op_push(a, op_new(a, OP_MEDIA_LIST, op->path, "fields", media_fields, "limit", lim,
					  "after", after, NULL));
		}
		return;
	}
	case OP_GROUP: {
		const struct ig_account_group *G = &ig_account_groups[op->grp];
		int64_t d;
		int got = take_insights(a, "", body, op->until, G->time_series);

		for (d = op->since; d < op->until; d += DAY)
			add_fetch(a, "", G->name, d + DAY, got ? "ok" : "empty", NULL);
		return;
	}
	case OP_MEDIA: {
		struct media *m = &a->media[op->media];
		int64_t end = S->today + DAY;
		int got = take_insights(a, m->id, body, end, 0);

		data = json_object_get(body, "data");
		json_array_foreach(data, i, it) {
			const char *name = ig_json_str(it, "name");
			const json_t *v = json_object_get(json_array_get(json_object_get(it, "values"), 0),
							  "value");

			if (!v)
				v = json_object_get(json_object_get(it, "total_value"), "value");
			if (name && !strcmp(name, "reach") && json_is_number(v))
				m->reach = json_number_value(v);
		}
		add_fetch(a, m->id, "media", 0, got ? "ok" : "empty", NULL);
		return;
	}
	}
}

/* ------------------------------------------------------------ HTTP */

struct slot {               /* one HTTP request: a single op or a batch of them */
	struct acct *a;
	struct op *ops[BATCH_MAX];
	int nops;
	char *batch;            /* the batch JSON (owned) */
	const char *form[7];
};

/* "path?k=v&k=v" relative to the versioned root, for a batch operation. */
static char *relative_url(const struct op *op)
{
	struct ig_buf b = IG_BUF_INIT(16384);
	int i;

	ig_buf_adds(&b, op->path + 1);
	for (i = 0; op->kv[i] && op->kv[i + 1]; i += 2) {
		char *k = ig_url_escape(op->kv[i]), *v = ig_url_escape(op->kv[i + 1]);

		if (!k || !v || ig_buf_addf(&b, "%c%s=%s", i ? '&' : '?', k, v)) {
			free(k);
			free(v);
			ig_buf_release(&b);
			return NULL;
		}
		free(k);
		free(v);
	}
	return ig_buf_detach(&b, NULL);
}

static void handle_body(struct sync *S, struct op *op, long code, const json_t *body)
{
	struct ig_graph_error ge;
	struct ig_graph_verdict gv;
	char msg[800];
	int verdict;

	if (code >= 200 && code < 300) {
		op_ok(S, op, body);
		return;
	}
	ig_graph_error_decode(body, code, &ge);
	ig_graph_error_format(&ge, msg, sizeof(msg));
	/* -1: a temporary error worth one more try in this run; else the exit code */
	verdict = ig_graph_classify(&ge, &gv);
	if (gv.action == IG_GRAPH_RETRY)
		verdict = -1;
	if (ge.code == 1 && (op->kind == OP_GROUP || op->kind == OP_MEDIA)
	    && (op_has(op, "breakdown") || (!op->single && strchr(op->kv[1], ',')))) {
		/* Meta's answer to a refused breakdown or metric: not retried */
		op_error(S, op, IG_EX_UNAVAILABLE, &ge, msg);
		return;
	}
	if (verdict < 0 && ++op->tries < OP_TRIES && ge.code != 4 && ge.code != 17 && ge.code != 32
	    && ge.code != 613 && ge.code < 80000) {
		/* a transient error of one batch operation: once more */
		struct op *again = op_newv(op->a, op->kind, op->path, (const char *const *)op->kv);

		if (again) {
			again->grp = op->grp;
			again->since = op->since;
			again->until = op->until;
			again->media = op->media;
			again->single = op->single;
			again->tries = op->tries;
		}
		op_push(op->a, again);
		return;
	}
	op_error(S, op, verdict < 0 ? IG_EX_TEMPFAIL : verdict, &ge, msg);
}

/* Fill slots with requests, from account *ai on, at most `slice` of them
 * and SLICE_OPS operations (a batch answer of 50 is ~100 KB raw, and again
 * as parsed JSON): a Facebook Login account's ops go in batches of
 * BATCH_MAX.  The ops of an account that needs a re-login or is rate
 * limited are dropped.  Returns the number of slots filled. */
static size_t fill_slots(struct sync *S, struct op **heads, size_t *ai, struct slot *slots,
			 size_t slice)
{
	size_t ns = 0, nops = 0;

	memset(slots, 0, slice * sizeof(*slots));
	while (*ai < S->n && ns < slice && nops < SLICE_OPS) {
		struct acct *a = &S->acc[*ai];
		struct op *op = heads[*ai];
		struct slot *sl;

		if (op && a->rc && severity(a->rc) >= 4) {
			/* re-login or rate limited: stop calling for it */
			op_list_free(op);
			op = heads[*ai] = NULL;
		}
		if (!op) {
			(*ai)++;
			continue;
		}
		heads[*ai] = op->next;
		op->next = NULL;
		if (a->fb && S->o->batch && ns && slots[ns - 1].a == a && slots[ns - 1].nops < BATCH_MAX) {
			sl = &slots[ns - 1];
		} else {
			sl = &slots[ns++];
			sl->a = a;
		}
		sl->ops[sl->nops++] = op;
		nops++;
	}
	return ns;
}

/* A slot's request: one GET, or a Graph batch of its ops (§9.3). */
static void slot_request(struct slot *sl, struct ig_graph_req *r)
{
	struct acct *a = sl->a;
	json_t *arr;
	int k;

	memset(r, 0, sizeof(*r));
	r->host = a->fb ? IG_HOST_GRAPH_FB : IG_HOST_GRAPH_IG;
	r->versioned = 1;
	r->token = a->token;
	r->user = sl;
	r->idempotent = 1;
	if (sl->nops == 1) {
		r->method = "GET";
		r->path = sl->ops[0]->path;
		r->query = (const char *const *)sl->ops[0]->kv;
		return;
	}
	arr = json_array();
	for (k = 0; k < sl->nops; k++) {
		char *rel = relative_url(sl->ops[k]);

		json_array_append_new(arr, json_pack("{s:s,s:s?}", "method", "GET", "relative_url", rel));
		free(rel);
	}
	sl->batch = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	sl->form[0] = "batch";
	sl->form[1] = sl->batch ? sl->batch : "[]";
	sl->form[2] = "include_headers";
	sl->form[3] = "false";
	sl->form[4] = NULL;
	r->method = "POST";
	r->path = "/";
	r->form = sl->form;
}

/* A slot's answer, to its ops; the slot's ops and request are freed. */
static void slot_answer(struct sync *S, struct slot *sl, struct ig_graph_req *r)
{
	const struct ig_graph_error *ge = r->resp.gerr.code ? &r->resp.gerr : NULL;
	int k;

	sl->a->requests += r->resp.attempts ? r->resp.attempts : 1;
	if (!sl->batch) {
		if (r->rc == 0)
			handle_body(S, sl->ops[0], r->resp.status ? r->resp.status : 200, r->resp.body);
		else
			op_error(S, sl->ops[0], r->rc, ge, r->err.msg);
	} else if (r->rc) {
		/* the batch itself failed: every op with it */
		for (k = 0; k < sl->nops; k++)
			if (!op_error(S, sl->ops[k], r->rc, ge, r->err.msg))
				break;
	} else {
		for (k = 0; k < sl->nops; k++) {
			const json_t *item = json_array_get(r->resp.body, (size_t)k);
			const char *text = ig_json_str(item, "body");
			json_t *b;

			if (!json_is_object(item) || !text) {
				/* null: the operation timed out (§9.3); ask again */
				handle_body(S, sl->ops[k], 500, NULL);
				continue;
			}
			b = ig_json_parse(text, strlen(text), NULL);
			handle_body(S, sl->ops[k], (long)ig_json_int(item, "code", 0), b);
			json_decref(b);
		}
	}
	for (k = 0; k < sl->nops; k++)
		op_free(sl->ops[k]);
	free(sl->batch);
	ig_graph_resp_release(&r->resp);
}

/* One round: every pending op of every live account, sent slice by slice,
 * so handles and answers in memory stay bounded.  1 when ops were sent, 0
 * when none was left, -1 out of memory. */
static int round_trip(struct sync *S)
{
	size_t ns, i, ai = 0, slice = (size_t)(S->o->parallel > 32 ? 4 * S->o->parallel : 128);
	struct slot *slots = NULL;
	struct ig_graph_req *reqs = NULL;
	struct op **heads;
	int any = 0;

	if (!(heads = calloc(S->n ? S->n : 1, sizeof(*heads))))
		return -1;
	for (i = 0; i < S->n; i++) {
		heads[i] = S->acc[i].ops;
		S->acc[i].ops = NULL;
		any |= heads[i] != NULL;
	}
	if (any && (!(slots = calloc(slice, sizeof(*slots))) || !(reqs = calloc(slice, sizeof(*reqs)))))
		any = -1;
	while (any > 0 && ai < S->n) {
		ns = fill_slots(S, heads, &ai, slots, slice);
		for (i = 0; i < ns; i++)
			slot_request(&slots[i], &reqs[i]);
		ig_graph_run_many(S->g, reqs, ns, S->o->parallel);
		for (i = 0; i < ns; i++)
			slot_answer(S, &slots[i], &reqs[i]);
	}
	for (i = 0; i < S->n; i++)
		op_list_free(heads[i]);
	free(slots);
	free(reqs);
	free(heads);
	return any;
}

/* ------------------------------------------------------------ loading */

static int load_accounts(struct sync *S, int64_t tenant_id, int64_t only, struct ig_err *err)
{
	struct ig_store *st = S->ctx->store;
	struct ig_stmt *s;
	int rc = 0;
	size_t cap = 0;

	s = ig_store_query(st, err,
		"SELECT a.id, a.tenant_id, t.slug, a.external_id, coalesce(a.page_id, ''),"
		" coalesce(a.username, ''), a.flavour, a.status FROM accounts a"
		" JOIN tenants t ON t.id = a.tenant_id"
		" WHERE (?1 = 0 OR a.tenant_id = ?1) AND (?2 = 0 OR a.id = ?2)"
		" AND a.channel = 'instagram' AND a.status <> 'disconnected' ORDER BY a.id",
		"ii", tenant_id, only);
	while (s && (rc = ig_stmt_next(st, s, err)) > 0) {
		struct acct *a;

		if (!(a = room(S->acc, S->n, &cap, sizeof(*a), 64))) {
			ig_stmt_reset(s);
			return oom(err);
		}
		S->acc = a;
		a = &S->acc[S->n++];
		memset(a, 0, sizeof(*a));
		a->id = ig_col_int(s, 0);
		a->tenant_id = ig_col_int(s, 1);
		snprintf(a->tenant, sizeof(a->tenant), "%s", ig_col_text(s, 2));
		snprintf(a->external_id, sizeof(a->external_id), "%s", ig_col_text(s, 3));
		snprintf(a->page_id, sizeof(a->page_id), "%s", ig_col_text(s, 4));
		snprintf(a->username, sizeof(a->username), "%s", ig_col_text(s, 5));
		snprintf(a->flavour, sizeof(a->flavour), "%s", ig_col_text(s, 6));
		snprintf(a->status, sizeof(a->status), "%s", ig_col_text(s, 7));
		a->fb = !strcmp(a->flavour, "facebook");
	}
	if (!s || rc < 0)
		return err->code;
	return 0;
}

/* The account's token, opened into a->token; an account without one, or
 * whose token does not open, fails (not the batch). */
static int open_account_token(struct sync *S, struct acct *a, struct ig_err *err)
{
	struct ig_store *st = S->ctx->store;
	struct ig_stmt *s;
	int rc;

	s = ig_store_query(st, err, "SELECT access_token FROM accounts WHERE id = ?", "i", a->id);
	if (s && (rc = ig_stmt_next(st, s, err)) > 0) {
		size_t n = 0;
		const void *blob = ig_col_blob(s, 0, &n);
		char aad[64];
		struct ig_err oerr = { 0 };

		snprintf(aad, sizeof(aad), "accounts:%lld:access_token", (long long)a->id);
		if (!blob) {
			acct_fail(a, IG_EX_NOPERM, "account %s has no token; connect it again with"
				  " 'ig-connect url'", a->external_id);
		} else if (ig_open(&S->ctx->keys, aad, blob, n, &a->token, NULL, &oerr)) {
			acct_fail(a, oerr.code ? oerr.code : IG_EX_DATAERR,
				  "cannot open the token of account %s: %s", a->external_id, oerr.msg);
		}
		ig_stmt_reset(s);
	} else if (!s || rc < 0) {
		return err->code;
	}
	return 0;
}

/* A row of insight_fetches into the account's cache. */
static int cache_row(void *arg, struct ig_stmt *s)
{
	struct acct *a = arg;
	char key[160];

	snprintf(key, sizeof(key), "%s|%s|%lld", ig_col_text(s, 0), ig_col_text(s, 1),
		 (long long)ig_col_int(s, 2));
	json_object_set_new(a->cache, key, json_pack("[Is]", (json_int_t)ig_col_int(s, 3),
						     ig_col_text(s, 4)));
	return 0;
}

/* A stored media: its last reach and whether it has a thumbnail. */
static int known_row(void *arg, struct ig_stmt *s)
{
	struct acct *a = arg;

	json_object_set_new(a->known, ig_col_text(s, 0), json_pack("[ob]",
		ig_col_null(s, 2) ? json_null() : json_real(ig_col_double(s, 2)),
		(int)ig_col_int(s, 1)));
	return 0;
}

/* What was asked before (the 24-hour cache) and what the thumbnails are
 * chosen by. */
static int load_cache(struct sync *S, struct acct *a, struct ig_err *err)
{
	struct ig_store *st = S->ctx->store;
	int rc;

	if ((rc = ig_store_each(st, err, cache_row, a,
		"SELECT media_id, grp, end_time, fetched_at, status FROM insight_fetches"
		" WHERE account_id = ? AND tenant_id = ?", "ii", a->id, a->tenant_id)))
		return rc;
	/* what the thumbnails are chosen by: the media's last reach, and
	 * whether it has one already */
	return ig_store_each(st, err, known_row, a,
		"SELECT m.media_id, m.thumb_id IS NOT NULL, (SELECT v.value FROM insight_values v"
		" WHERE v.account_id = m.account_id AND v.media_id = m.media_id AND v.metric = 'reach'"
		" AND v.breakdown = '' ORDER BY v.end_time DESC LIMIT 1)"
		" FROM ig_media m WHERE m.account_id = ? AND m.tenant_id = ?", "ii", a->id, a->tenant_id);
}

/* The last snapshot, and whether --refresh is allowed yet. */
static int load_last(struct sync *S, struct acct *a, struct ig_err *err)
{
	struct ig_store *st = S->ctx->store;
	struct ig_stmt *s;
	int rc;

	s = ig_store_query(st, err,
		"SELECT fetched_at, coalesce(profile_picture_url, ''), coalesce(picture_id, 0),"
		" followers_count FROM brand_snapshots WHERE account_id = ? AND tenant_id = ?"
		" ORDER BY fetched_at DESC, id DESC LIMIT 1", "ii", a->id, a->tenant_id);
	if (s && (rc = ig_stmt_next(st, s, err)) > 0) {
		a->last_snapshot_at = ig_col_int(s, 0);
		snprintf(a->last_picture_url, sizeof(a->last_picture_url), "%s", ig_col_text(s, 1));
		a->last_picture_id = ig_col_int(s, 2);
		if (!ig_col_null(s, 3))
			a->followers = ig_col_int(s, 3);
		ig_stmt_reset(s);
	} else if (!s || rc < 0) {
		return err->code;
	}
	s = ig_store_query(st, err,
		"SELECT coalesce(last_refresh_at, 0), webhook_seen FROM insight_sync WHERE account_id = ?",
		"i", a->id);
	if (s && (rc = ig_stmt_next(st, s, err)) > 0) {
		int64_t last = ig_col_int(s, 0);

		a->webhook_seen = ig_col_int(s, 1);
		ig_stmt_reset(s);
		if (S->o->refresh && last && S->now - last < S->o->refresh_interval) {
			char iso[32];

			ig_time_iso(last + S->o->refresh_interval, iso);
			snprintf(a->note, sizeof(a->note),
				 "refresh refused: this account was refreshed less than %lld s ago;"
				 " next refresh from %s", (long long)S->o->refresh_interval, iso);
		} else {
			a->refresh = S->o->refresh;
		}
	} else if (!s || rc < 0) {
		return err->code;
	} else {
		a->refresh = S->o->refresh;
	}
	return 0;
}

/* Per account of the batch: the token, the cache, the last snapshot. */
static int prepare(struct sync *S, struct acct *a, struct ig_err *err)
{
	int rc;

	a->followers = -1;
	a->S = S;
	if (!(a->cache = json_object()) || !(a->known = json_object()) || !(a->fetches = json_array())
	    || !(a->unavailable = json_array()))
		return oom(err);
	ig_buf_init(&a->pic, IG_INSIGHTS_PICTURE_MAX);
	if (!strcmp(a->status, "needs_reauth")) {
		acct_fail(a, IG_EX_NOPERM,
			  "account %s needs to log in again (ig-connect url); not synced", a->external_id);
		return 0;
	}
	/* the master key only once an account's token is needed: a run with no
	 * account to sync (cron on a new store) needs no key */
	if ((rc = ig_ctx_keys(S->ctx, err)))
		return rc;
	if ((rc = open_account_token(S, a, err)) || (rc = load_cache(S, a, err)))
		return rc;
	return load_last(S, a, err);
}

/* ------------------------------------------------------------ pictures */

struct picjob {
	struct acct *a;
	int media;      /* -1: the profile picture */
	char *url;
};

static void fetch_pictures(struct sync *S)
{
	struct picjob *jobs;
	struct ig_picture_req *reqs;
	size_t nj = 0, cap = 0, i;
	int k;

	for (i = 0; i < S->n; i++)
		cap += 1 + (size_t)S->o->thumbnails;
	if (!cap || !(jobs = calloc(cap, sizeof(*jobs))))
		return;
	if (!(reqs = calloc(cap, sizeof(*reqs)))) {
		free(jobs);
		return;
	}
	for (i = 0; i < S->n; i++) {
		struct acct *a = &S->acc[i];
		const char *url = ig_json_str(a->profile, "profile_picture_url");
		int want = S->o->thumbnails;

		if (a->rc && severity(a->rc) >= 4)
			continue;
		if (url && (*url) && (strcmp(url, a->last_picture_url) || !a->last_picture_id || a->refresh)
		    && strlen(url) < sizeof(a->last_picture_url)) {
			jobs[nj].a = a;
			jobs[nj].media = -1;
			jobs[nj].url = strdup(url);
			nj++;
		} else if (url && !strcmp(url, a->last_picture_url)) {
			a->picture_id = a->last_picture_id;
		}
		/* thumbnails of the best media by reach (the report's top
		 * media): the top `want`, those not stored yet */
		{
			char *taken = calloc(a->nmedia + 1, 1);

			while (taken && want-- > 0) {
				int best = -1;

				for (k = 0; k < (int)a->nmedia; k++) {
					struct media *m = &a->media[k];

					if (taken[k] || m->prod == IG_PROD_OTHER)
						continue;
					if (best < 0 || m->reach > a->media[best].reach)
						best = k;
				}
				if (best < 0)
					break;
				taken[best] = 1;
				if (a->media[best].has_thumb)
					continue;
				url = ig_json_str(a->media[best].node, "thumbnail_url");
				if (!url)
					url = ig_json_str(a->media[best].node, "media_url");
				if (!url || nj >= cap)
					continue;
				jobs[nj].a = a;
				jobs[nj].media = best;
				jobs[nj].url = strdup(url);
				nj++;
			}
			free(taken);
		}
	}
	for (i = 0; i < nj; i++) {
		reqs[i].url = jobs[i].url ? jobs[i].url : "";
		reqs[i].user = &jobs[i];
	}
	/* the CDN is not the Graph API: no rate limit to respect, twice the
	 * parallelism */
	ig_picture_fetch_many(reqs, nj, 2 * S->o->parallel, 20000, IG_INSIGHTS_PICTURE_MAX);
	for (i = 0; i < nj; i++) {
		struct picjob *j = &jobs[i];
		struct acct *a = j->a;

		a->requests++;
		if (reqs[i].rc) {
			note_unavailable(a, j->media < 0 ? "profile picture" : a->media[j->media].id,
					 reqs[i].err.msg);
		} else if (j->media < 0) {
			ig_buf_release(&a->pic);
			a->pic = reqs[i].bytes;
			memset(&reqs[i].bytes, 0, sizeof(reqs[i].bytes));
			snprintf(a->pic_type, sizeof(a->pic_type), "%s", reqs[i].content_type);
		} else {
			struct media *m = &a->media[j->media];

			ig_buf_release(&m->thumb);
			m->thumb = reqs[i].bytes;
			memset(&reqs[i].bytes, 0, sizeof(reqs[i].bytes));
			snprintf(m->thumb_type, sizeof(m->thumb_type), "%s", reqs[i].content_type);
		}
		ig_picture_release(&reqs[i]);
		free(j->url);
	}
	free(jobs);
	free(reqs);
}

/* ------------------------------------------------------------ webhook rows */

/*
 * ig-route stores every delivery raw (deliveries.body) and keeps a
 * story_insights change as an event key naming its delivery; the figures
 * are read from the raw bytes here.  Per account, deliveries already read are skipped
 * (insight_sync.webhook_seen).  The webhook is Facebook Login only
 * (§5.2) and carries Meta's older metric names as sent.
 */
static int read_webhooks(struct sync *S, struct ig_err *err)
{
	struct ig_store *st = S->ctx->store;
	struct ig_stmt *s;
	int64_t from = -1, last = 0;
	size_t i;
	int rc;

	for (i = 0; i < S->n; i++)
		if (from < 0 || S->acc[i].webhook_seen < from)
			from = S->acc[i].webhook_seen;
	if (from < 0)
		return 0;
	/* ig-route's event keys name the change: "<account>|story_insights|..." */
	s = ig_store_query(st, err,
		"SELECT d.id, d.body FROM deliveries d WHERE d.id > ?1 AND d.status <> 'rejected'"
		" AND d.id IN (SELECT k.delivery_id FROM event_keys k WHERE k.delivery_id > ?1"
		" AND k.key LIKE '%|story_insights|%') ORDER BY d.id", "i", from);
	while (s && (rc = ig_stmt_next(st, s, err)) > 0) {
		int64_t did = ig_col_int(s, 0);
		size_t len = 0;
		const char *body = ig_col_blob(s, 1, &len);
		json_t *doc = body ? ig_json_parse(body, len, NULL) : NULL;
		const json_t *entries = json_object_get(doc, "entry"), *e;
		size_t j, k;

		last = did;
		json_array_foreach(entries, j, e) {
			char eid[32];
			const char *acc_id = ig_json_id(e, "id", eid);
			int64_t t = ig_time_from_meta(ig_json_int(e, "time", 0));
			const json_t *changes = json_object_get(e, "changes"), *c;

			if (!acc_id)
				continue;
			json_array_foreach(changes, k, c) {
				const json_t *val = json_object_get(c, "value"), *v;
				const char *field = ig_json_str(c, "field"), *key;
				char mid[40];
				struct acct *a = NULL;
				size_t x;

				if (!field || strcmp(field, "story_insights") || !ig_json_id(val, "media_id", mid))
					continue;
				for (x = 0; x < S->n; x++)
					if (!strcmp(S->acc[x].external_id, acc_id) && did > S->acc[x].webhook_seen)
						a = &S->acc[x];
				if (!a)
					continue;
				json_object_foreach((json_t *)val, key, v) {
					if (!strcmp(key, "media_id") || !json_is_number(v))
						continue;
					add_value(a, mid, key, "lifetime", "", t ? (t / DAY + 1) * DAY
						  : S->today + DAY, v, "webhook");
				}
				/* the story itself, so reports can name it; not asked
				 * again: the webhook has its figures */
				{
					json_t *node = json_pack("{s:s,s:s}", "id", mid, "media_product_type",
								 "STORY");

					if (node)
						add_media(S, a, node, 1, 0);
					json_decref(node);
				}
			}
		}
		json_decref(doc);
	}
	if (!s || rc < 0)
		return err->code;
	for (i = 0; i < S->n; i++)
		if (last > S->acc[i].webhook_seen)
			S->acc[i].webhook_seen = last;
	return 0;
}

/* ------------------------------------------------------------ writing */

static int store_picture(struct ig_store *st, struct acct *a, const struct ig_buf *b,
			 const char *type, int64_t now, int64_t *id, struct ig_err *err)
{
	unsigned char h[32];
	char hex[65];
	int rc;

	*id = 0;
	ig_sha256(b->data, b->len, h);
	ig_hex(h, 32, hex);
	if ((rc = ig_store_runf(st, err,
		"INSERT INTO insight_pictures (tenant_id, account_id, sha256, content_type, bytes,"
		" fetched_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, sha256) DO UPDATE"
		" SET fetched_at = excluded.fetched_at",
		"iissbi", a->tenant_id, a->id, hex, type, b->data, (int)b->len, now)))
		return rc;
	return ig_store_int(st, err, id,
		"SELECT id FROM insight_pictures WHERE account_id = ? AND sha256 = ?", "is", a->id, hex)
		< 0 ? err->code : 0;
}

/* An integer JSON value as text for a nullable INTEGER column (NULL when
 * absent; the column's type turns the text back into a number). */
static const char *numstr(const json_t *v, char buf[24])
{
	if (!json_is_integer(v))
		return NULL;
	snprintf(buf, 24, "%lld", (long long)json_integer_value(v));
	return buf;
}

/* The brand snapshot of this sync's profile answer, with its picture. */
static int write_snapshot(struct ig_store *st, struct acct *a, int64_t now, struct ig_err *err)
{
	const json_t *p = a->profile;
	char n1[24], n2[24], n3[24];
	int rc;

	if (a->pic.len && (rc = store_picture(st, a, &a->pic, a->pic_type, now, &a->picture_id, err)))
		return rc;
	return ig_store_runf(st, err,
		"INSERT INTO brand_snapshots (tenant_id, account_id, fetched_at, username, name,"
		" biography, website, followers_count, follows_count, media_count,"
		" profile_picture_url, picture_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		"iiissssssssI", a->tenant_id, a->id, now, ig_json_str(p, "username"),
		ig_json_str(p, "name"), ig_json_str(p, "biography"), ig_json_str(p, "website"),
		numstr(json_object_get(p, "followers_count"), n1),
		numstr(json_object_get(p, "follows_count"), n2),
		numstr(json_object_get(p, "media_count"), n3),
		ig_json_str(p, "profile_picture_url"), a->picture_id);
}

/* One listed media, with its thumbnail. */
static int write_media(struct ig_store *st, struct acct *a, const struct media *m, int64_t now,
		       struct ig_err *err)
{
	const json_t *n = m->node;
	int64_t thumb_id = 0;
	char n1[24], n2[24];
	int rc;

	if (m->thumb.len && (rc = store_picture(st, a, &m->thumb, m->thumb_type, now, &thumb_id, err)))
		return rc;
	return ig_store_runf(st, err,
		"INSERT INTO ig_media (tenant_id, account_id, media_id, product_type, media_type,"
		" caption, permalink, media_url, thumbnail_url, posted_at, like_count,"
		" comments_count, thumb_id, first_seen_at, listed_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)"
		" ON CONFLICT (account_id, media_id) DO UPDATE SET"
		" product_type = excluded.product_type,"
		" media_type = coalesce(excluded.media_type, ig_media.media_type),"
		" caption = coalesce(excluded.caption, ig_media.caption),"
		" permalink = coalesce(excluded.permalink, ig_media.permalink),"
		" media_url = coalesce(excluded.media_url, ig_media.media_url),"
		" thumbnail_url = coalesce(excluded.thumbnail_url, ig_media.thumbnail_url),"
		" posted_at = coalesce(excluded.posted_at, ig_media.posted_at),"
		" like_count = coalesce(excluded.like_count, ig_media.like_count),"
		" comments_count = coalesce(excluded.comments_count, ig_media.comments_count),"
		" thumb_id = coalesce(excluded.thumb_id, ig_media.thumb_id),"
		" listed_at = excluded.listed_at",
		"iisssssssIssIi", a->tenant_id, a->id, m->id, m->product,
		ig_json_str(n, "media_type"), ig_json_str(n, "caption"), ig_json_str(n, "permalink"),
		ig_json_str(n, "media_url"), ig_json_str(n, "thumbnail_url"), m->posted_at,
		numstr(json_object_get(n, "like_count"), n1),
		numstr(json_object_get(n, "comments_count"), n2), thumb_id, now);
}

static const char SQL_VALUE[] =
	"INSERT INTO insight_values (tenant_id, account_id, media_id, metric, period,"
	" breakdown, end_time, value, source, fetched_at)"
	" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	" ON CONFLICT (account_id, media_id, metric, period, breakdown, end_time)"
	" DO UPDATE SET value = excluded.value, source = excluded.source,"
	" fetched_at = excluded.fetched_at";

/* One figure: an integer stays an integer in the store. */
static int write_value(struct ig_store *st, const struct acct *a, const struct val *v,
		       int64_t now, struct ig_err *err)
{
	const char *period = v->lifetime ? "lifetime" : "day", *src = v->webhook ? "webhook" : "api";

	if (v->integer)
		return ig_store_runf(st, err, SQL_VALUE, "iissssiisi", a->tenant_id, a->id, v->media,
				     v->metric, period, v->breakdown, v->end, (int64_t)v->value, src, now);
	return ig_store_runf(st, err, SQL_VALUE, "iissssidsi", a->tenant_id, a->id, v->media,
			     v->metric, period, v->breakdown, v->end, v->value, src, now);
}

/* What was asked of Meta and how it answered (the 24-hour cache). */
static int write_fetches(struct ig_store *st, const struct acct *a, int64_t now,
			 struct ig_err *err)
{
	const json_t *row;
	size_t i;
	int rc;

	json_array_foreach(a->fetches, i, row) {
		if ((rc = ig_store_runf(st, err,
			"INSERT INTO insight_fetches (account_id, tenant_id, media_id, grp, end_time,"
			" fetched_at, status, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
			" ON CONFLICT (account_id, media_id, grp, end_time) DO UPDATE SET"
			" fetched_at = excluded.fetched_at, status = excluded.status, note = excluded.note",
			"iissiiss", a->id, a->tenant_id, json_string_value(json_array_get(row, 0)),
			json_string_value(json_array_get(row, 1)),
			(int64_t)json_integer_value(json_array_get(row, 2)), now,
			json_string_value(json_array_get(row, 3)), json_string_value(json_array_get(row, 4)))))
			return rc;
	}
	return 0;
}

/* The account's sync state; a re-login it needs puts it aside. */
static int write_sync_state(struct ig_store *st, const struct acct *a, int64_t now,
			    struct ig_err *err)
{
	int rc;

	if ((rc = ig_store_runf(st, err,
		"INSERT INTO insight_sync (account_id, tenant_id, last_sync_at, last_ok_at, last_refresh_at,"
		" last_rc, last_error, requests, webhook_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
		" ON CONFLICT (account_id) DO UPDATE SET last_sync_at = excluded.last_sync_at,"
		" last_ok_at = coalesce(excluded.last_ok_at, insight_sync.last_ok_at),"
		" last_refresh_at = coalesce(excluded.last_refresh_at, insight_sync.last_refresh_at),"
		" last_rc = excluded.last_rc, last_error = excluded.last_error,"
		" requests = excluded.requests, webhook_seen = excluded.webhook_seen",
		"iiiIIisii", a->id, a->tenant_id, now, a->rc ? 0 : now, a->refresh ? now : 0,
		(int64_t)a->rc, a->rc ? a->error : NULL, (int64_t)a->requests, a->webhook_seen)))
		return rc;
	if (a->rc == IG_EX_NOPERM && strcmp(a->status, "needs_reauth"))
		return ig_store_runf(st, err,
			"UPDATE accounts SET status = 'needs_reauth', last_error = ?,"
			" error_count = error_count + 1, updated_at = ? WHERE id = ? AND tenant_id = ?"
			" AND status = 'active'", "siii", a->error, now, a->id, a->tenant_id);
	return 0;
}

/* Everything one account's sync found, in the open transaction. */
static int write_account(struct sync *S, struct acct *a, struct ig_err *err)
{
	struct ig_store *st = S->ctx->store;
	size_t i;
	int rc;

	if (a->profile && (rc = write_snapshot(st, a, S->now, err)))
		return rc;
	for (i = 0; i < a->nmedia; i++)
		if ((rc = write_media(st, a, &a->media[i], S->now, err)))
			return rc;
	for (i = 0; i < a->nvals; i++)
		if ((rc = write_value(st, a, &a->vals[i], S->now, err)))
			return rc;
	if ((rc = write_fetches(st, a, S->now, err)))
		return rc;
	return write_sync_state(st, a, S->now, err);
}

static int write_chunk(struct sync *S, struct ig_err *err)
{
	struct ig_store *st = S->ctx->store;
	size_t i;
	int rc;

	if ((rc = ig_store_begin(st, err)))
		return rc;
	for (i = 0; i < S->n && !rc; i++)
		rc = write_account(S, &S->acc[i], err);
	return ig_store_end(st, rc, err);
}

static json_t *account_record(struct sync *S, struct acct *a)
{
	size_t got = a->nvals;
	json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:b,s:i,s:i}",
		"tenant", a->tenant, "account", a->external_id,
		"username", ig_json_str(a->profile, "username") ? ig_json_str(a->profile, "username")
			: a->username,
		"result", a->rc == 0 ? "ok" : a->rc == IG_EX_NOPERM ? "needs_reauth"
			: a->rc == IG_EX_TEMPFAIL ? "retry_later" : "failed",
		"exit", a->rc, "requests", a->requests, "snapshot", a->profile != NULL,
		"media", (int)a->nmedia, "values", (int)got);

	(void)S;
	if (!r)
		return NULL;
	if (a->rc)
		json_object_set_new(r, "error", json_string(a->error));
	if (a->note[0])
		json_object_set_new(r, "note", json_string(a->note));
	if (json_array_size(a->unavailable))
		json_object_set(r, "unavailable", a->unavailable);
	return r;
}

/*
 * The report's top media are the tenant's: after the accounts, the
 * tenant's best media by reach (IG_INSIGHTS_TOP_THUMBS) get their
 * thumbnail too, if they have none yet.
 */
static int tenant_thumbnails(struct sync *S, int64_t tenant_id, struct ig_err *err)
{
	struct ig_store *st = S->ctx->store;
	struct ig_picture_req reqs[IG_INSIGHTS_TOP_THUMBS];
	int64_t mid[IG_INSIGHTS_TOP_THUMBS], acc[IG_INSIGHTS_TOP_THUMBS], ten[IG_INSIGHTS_TOP_THUMBS];
	char *urls[IG_INSIGHTS_TOP_THUMBS];
	struct ig_stmt *s;
	size_t n = 0, i;
	int rc = 0, k;

	s = ig_store_query(st, err,
		"SELECT id, account_id, tenant_id, url FROM (SELECT m.id, m.account_id, m.tenant_id,"
		" m.thumb_id, coalesce(m.thumbnail_url, m.media_url) AS url, v.value FROM ig_media m"
		" JOIN insight_values v ON v.account_id = m.account_id AND v.media_id = m.media_id"
		"  AND v.metric = 'reach' AND v.breakdown = '' AND v.end_time = (SELECT max(x.end_time)"
		"  FROM insight_values x WHERE x.account_id = v.account_id AND x.media_id = v.media_id"
		"  AND x.metric = 'reach' AND x.breakdown = '')"
		" WHERE m.tenant_id = ? AND m.product_type <> 'STORY' ORDER BY v.value DESC LIMIT ?)"
		" WHERE thumb_id IS NULL AND url IS NOT NULL", "ii", tenant_id,
		(int64_t)IG_INSIGHTS_TOP_THUMBS);
	while (s && n < IG_INSIGHTS_TOP_THUMBS && (k = ig_stmt_next(st, s, err)) > 0) {
		if (!(urls[n] = strdup(ig_col_text(s, 3))))
			break;
		mid[n] = ig_col_int(s, 0);
		acc[n] = ig_col_int(s, 1);
		ten[n] = ig_col_int(s, 2);
		memset(&reqs[n], 0, sizeof(reqs[n]));
		reqs[n].url = urls[n];
		n++;
	}
	if (!s || k < 0)
		rc = err->code;
	if (s && k > 0)
		ig_stmt_reset(s);
	if (!rc && n)
		ig_picture_fetch_many(reqs, n, S->o->parallel, 20000, IG_INSIGHTS_PICTURE_MAX);
	if (!rc && n && !(rc = ig_store_begin(st, err))) {
		for (i = 0; i < n && !rc; i++) {
			struct acct a;
			int64_t pid = 0;

			if (reqs[i].rc)
				continue;
			memset(&a, 0, sizeof(a));
			a.id = acc[i];
			a.tenant_id = ten[i];
			rc = store_picture(st, &a, &reqs[i].bytes, reqs[i].content_type, S->now, &pid, err);
			if (!rc)
				rc = ig_store_runf(st, err, "UPDATE ig_media SET thumb_id = ? WHERE id = ?"
						   " AND tenant_id = ?", "iii", pid, mid[i], ten[i]);
		}
		rc = ig_store_end(st, rc, err);
	}
	for (i = 0; i < n; i++) {
		ig_picture_release(&reqs[i]);
		free(urls[i]);
	}
	return rc;
}

/* ------------------------------------------------------------ purge */

static int purge(struct sync *S, int64_t tenant_id, struct ig_err *err)
{
	/* a disconnected (deauthorised) account's figures go (purge on
	 * deauthorisation); erasing an account removes them by cascade */
#define OF_DISCONNECTED " WHERE (?1 = 0 OR tenant_id = ?1) AND account_id IN" \
	" (SELECT id FROM accounts WHERE status = 'disconnected')"
	static const char *const disconnected[] = {
		"DELETE FROM insight_values" OF_DISCONNECTED,
		"DELETE FROM brand_snapshots" OF_DISCONNECTED,
		"DELETE FROM ig_media" OF_DISCONNECTED,
		"DELETE FROM insight_pictures" OF_DISCONNECTED,
		"DELETE FROM insight_fetches" OF_DISCONNECTED,
	};
#undef OF_DISCONNECTED
	struct ig_store *st = S->ctx->store;
	int64_t cutoff = S->now - (int64_t)S->o->retention_days * DAY;
	size_t i;
	int rc;

	if ((rc = ig_store_begin(st, err)))
		return rc;
	for (i = 0; !rc && i < sizeof(disconnected) / sizeof(disconnected[0]); i++)
		rc = ig_store_runf(st, err, disconnected[i], "i", tenant_id);
	if (!rc && S->o->retention_days > 0) {
		/* history past the retention; a media's newest value stays */
		rc = ig_store_runf(st, err,
			"DELETE FROM insight_values WHERE (?1 = 0 OR tenant_id = ?1) AND end_time < ?2"
			" AND (media_id = '' OR end_time < (SELECT max(v2.end_time) FROM insight_values v2"
			" WHERE v2.account_id = insight_values.account_id"
			" AND v2.media_id = insight_values.media_id AND v2.metric = insight_values.metric))",
			"ii", tenant_id, cutoff);
		if (!rc)
			rc = ig_store_runf(st, err,
				"DELETE FROM brand_snapshots WHERE (?1 = 0 OR tenant_id = ?1) AND fetched_at < ?2"
				" AND id <> (SELECT max(b2.id) FROM brand_snapshots b2"
				" WHERE b2.account_id = brand_snapshots.account_id)", "ii", tenant_id, cutoff);
		if (!rc)
			rc = ig_store_runf(st, err,
				"DELETE FROM insight_fetches WHERE (?1 = 0 OR tenant_id = ?1) AND fetched_at < ?2",
				"ii", tenant_id, cutoff);
		if (!rc)
			rc = ig_store_runf(st, err,
				"DELETE FROM insight_pictures WHERE (?1 = 0 OR tenant_id = ?1)"
				" AND id NOT IN (SELECT picture_id FROM brand_snapshots WHERE picture_id IS NOT NULL)"
				" AND id NOT IN (SELECT thumb_id FROM ig_media WHERE thumb_id IS NOT NULL)",
				"i", tenant_id);
	}
	return ig_store_end(st, rc, err);
}

/* ------------------------------------------------------------ sync */

static int sync_chunk(struct sync *S, struct ig_err *err)
{
	size_t i;
	int rc, r;

	for (i = 0; i < S->n; i++)
		if ((rc = prepare(S, &S->acc[i], err)))
			return rc;
	for (i = 0; i < S->n; i++)
		if (!S->acc[i].rc)
			seed(S, &S->acc[i]);
	while ((r = round_trip(S)) > 0)
		;
	if (r < 0)
		return oom(err);
	fetch_pictures(S);
	if ((rc = read_webhooks(S, err)))
		return rc;
	if ((rc = write_chunk(S, err)))
		return rc;
	for (i = 0; i < S->n; i++) {
		struct acct *a = &S->acc[i];
		json_t *rec = account_record(S, a);

		S->done++;
		if (a->rc) {
			S->failed++;
			if (severity(a->rc) > severity(S->worst))
				S->worst = a->rc;
		}
		json_object_set_new(S->summary, "requests", json_integer(
			ig_json_int(S->summary, "requests", 0) + a->requests));
		json_object_set_new(S->summary, "values", json_integer(
			ig_json_int(S->summary, "values", 0) + (json_int_t)a->nvals));
		if (rec && S->o->on_account && (rc = S->o->on_account(S->o->arg, rec))) {
			json_decref(rec);
			return rc;
		}
		json_decref(rec);
	}
	if (S->o->progress)
		S->o->progress(S->o->arg, S->done, S->total, S->failed);
	return 0;
}

int ig_insights_sync(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_insights_sync_opts *o,
		     json_t **summary, struct ig_err *err)
{
	struct sync S;
	struct acct *all = NULL;
	int64_t tenant_id = 0, only = 0;
	size_t i, n_all;
	int rc;

	memset(&S, 0, sizeof(S));
	if (summary)
		*summary = NULL;
	S.ctx = ctx;
	S.g = g;
	S.o = o;
	S.now = ig_time_now();
	S.today = S.now / DAY * DAY;
	if ((rc = ig_insights_scope(ctx, o->tenant, 1, "insights.sync", &tenant_id, err)))
		return rc;
	if (o->account && (rc = ig_insights_account_ref(ctx, tenant_id, o->account, &only, err)))
		return rc;
	if ((rc = load_accounts(&S, tenant_id, only, err)))
		goto out;
	if (!(S.summary = json_pack("{s:i,s:i,s:i,s:i}", "accounts", (int)S.n, "failed", 0,
				    "requests", 0, "values", 0))) {
		rc = oom(err);
		goto out;
	}
	all = S.acc;
	n_all = S.n;
	S.total = n_all;
	if (o->progress)
		o->progress(o->arg, 0, S.total, 0);
	for (i = 0; i < n_all && !rc; i += IG_INSIGHTS_CHUNK) {
		size_t k;

		S.acc = all + i;
		S.n = n_all - i < IG_INSIGHTS_CHUNK ? n_all - i : IG_INSIGHTS_CHUNK;
		rc = sync_chunk(&S, err);
		for (k = 0; k < S.n; k++)
			acct_release(&S.acc[k]);
	}
	S.acc = all;
	S.n = n_all;
	/* each tenant synced: its best media get thumbnails */
	for (i = 0; i < n_all && !rc && S.o->thumbnails > 0; i++) {
		size_t k;

		for (k = 0; k < i && all[k].tenant_id != all[i].tenant_id; k++)
			;
		if (k == i)
			rc = tenant_thumbnails(&S, all[i].tenant_id, err);
	}
	if (!rc)
		rc = purge(&S, tenant_id, err);
	if (!rc && S.worst) {
		rc = S.worst;
		ig_err_set(err, rc, "%zu of %zu account%s did not sync", S.failed, S.total,
			   S.total == 1 ? "" : "s");
	}
	json_object_set_new(S.summary, "failed", json_integer((json_int_t)S.failed));
out:
	free(all);
	for (i = 0; i < S.nnames; i++)
		free(S.names[i]);
	free(S.names);
	if (summary)
		*summary = S.summary;
	else
		json_decref(S.summary);
	return rc;
}
