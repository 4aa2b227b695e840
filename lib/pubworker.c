/*
 * pubworker.c — `ig-publish run`: due posts through Meta's publishing flow
 * (reference §4), exactly once.
 *
 * State machine (posts.state / posts.step; ig-publish(1) has it as a table):
 *
 *   scheduled ─claim─► publishing/children ─► container ─► poll ─► publish ─► sent
 *                          ▲  (child containers)  (parent)   │ IN_PROGRESS: poll again
 *                          └──── EXPIRED, 2207020, 2207008 ──┘ ERROR: failed
 *   sent ──{"id"}──► published/permalink ─► comment ─► done
 *   sent ──lost answer (timeout, 5xx, 1, 2)──► unknown/settle
 *   settle: GET status_code — PUBLISHED → published/find (the media id is looked
 *           up, never guessed from the newest /media item); FINISHED → publish
 *           again (it did not happen); IN_PROGRESS → poll; EXPIRED → recreate
 *
 * Exactly once.  A run claims posts with a lease (lease_owner, lease_until)
 * in one BEGIN IMMEDIATE transaction, so two overlapping runs never hold the
 * same post.  Before a media_publish or a first comment leaves, step 'sent'
 * (comment_state 'sending') is committed: a run that dies mid-request leaves
 * a post that the next run settles by reading Meta's state back, never by
 * sending again.  media_publish and comments are not marked idempotent,
 * so lib/graph.c never resends them after an answer that may have been
 * acted on (HTTP 5xx, codes 1/2, a timeout after the request left); such
 * an ambiguous answer becomes 'unknown'.
 *
 * One run moves each post as far as it gets without waiting (a container
 * that is not FINISHED waits for the next run); --wait repeats rounds,
 * sleeping only between rounds that had nothing but polling to do.  The
 * live content_publishing_limit is read per account before publishing; a
 * spent quota defers the post (not a failure).  Requests of a round go out
 * in parallel (ig_graph_run_many).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "authz.h"
#include "crypto.h"
#include "igtime.h"
#include "jsonio.h"
#include "publish.h"
#include "pubint.h"
#include "store.h"

#define OOM(err) ig_err_set(err, IG_EX_SOFTWARE, "out of memory")
#define MAX_RETRIES 5         /* temporary failures of one post before it fails */
#define MAX_POLLS 60          /* status polls of one container before it fails */
#define MAX_FIND 3            /* attempts to find a settled post's media id */
#define RETRY_DELAY 60        /* seconds, times the retry number */
#define WAIT_DELAY 300        /* rate limit: seconds */
#define QUOTA_DELAY 3600      /* publishing limit spent: seconds */
#define CONTAINER_LIMIT 400   /* containers per account per rolling 24 h (§4.5) */

/* ------------------------------------------------------------ Meta's codes */

static const struct {
	long code, subcode;    /* code 0: any code with this subcode */
	enum ig_pub_action a;
	const char *explain;
} media_codes[] = {
	/* reference §4.6, Meta's table */
	{ -2, 2207003, IG_PUB_RETRY, "Meta timed out downloading the media: make sure its URL answers quickly" },
	{ -2, 2207020, IG_PUB_RECREATE, "the container expired (24 h): a new one is created" },
	{ -1, 2207001, IG_PUB_RETRY, "a server error at Meta: tried again" },
	{ -1, 2207032, IG_PUB_RETRY, "Meta could not create the container: tried again" },
	{ -1, 2207053, IG_PUB_RETRY, "an unknown upload error at Meta: tried again" },
	{ 1, 2207057, IG_PUB_PERMANENT, "thumb_offset is not inside the video: give a smaller thumb_offset" },
	{ 36000, 2207004, IG_PUB_PERMANENT, "the image is larger than 8 MiB: make it smaller" },
	{ 4, 2207051, IG_PUB_PERMANENT, "Instagram restricted this account's activity (suspected spam): check the account in the Instagram app" },
	{ 9, 2207042, IG_PUB_WAIT, "the account reached its publishing limit for the last 24 hours: the post waits for quota" },
	/* seen in the wild (§4.6, secondary) */
	{ 9007, 2207027, IG_PUB_NOT_READY, "the container was not ready: its status is polled until FINISHED" },
	{ 9004, 2207052, IG_PUB_RETRY, "Meta could not fetch the media from its URL: it must be public (no login, not localhost)" },
	{ 24, 2207008, IG_PUB_RECREATE, "the container is unknown or expired: a new one is created" },
	{ 100, 2207089, IG_PUB_PERMANENT, "a carousel item cannot be published on its own" },
	{ 110, 2207018, IG_PUB_PERMANENT, "a collaborator was given with '@': give bare usernames" },
	{ 0, 2207082, IG_PUB_RETRY, "the upload failed (a large video fetched late, or audio on a silent video): tried again" },
	{ 0, 2207028, IG_PUB_PERMANENT, "Meta refused the carousel: check its items (2 to 10, no reels, same aspect ratio)" },
	{ 0, 2207050, IG_PUB_PERMANENT, "the Instagram account is restricted and cannot publish" },
	{ 0, 2207081, IG_PUB_PERMANENT, "the account cannot post trial reels" },
};

const char *ig_pub_action_name(enum ig_pub_action a)
{
	static const char *const n[] = { "retry", "wait", "not_ready", "recreate", "permanent",
					 "relogin", "ambiguous" };

	return (unsigned)a < sizeof(n) / sizeof(n[0]) ? n[a] : "?";
}

enum ig_pub_action ig_publish_classify(const struct ig_graph_error *e, int post_call,
				       const char **explain)
{
	size_t i;
	long c = e->code;

	*explain = NULL;
	for (i = 0; i < sizeof(media_codes) / sizeof(media_codes[0]); i++)
		if (e->subcode == media_codes[i].subcode
		    && (!media_codes[i].code || media_codes[i].code == c)) {
			*explain = media_codes[i].explain;
			return media_codes[i].a;
		}
	if (c == 190 || c == 102 || (!c && e->http_status == 401)) {
		*explain = "the account's token is no longer valid: re-authorise it with ig-connect";
		return IG_PUB_RELOGIN;
	}
	if (c == 10 || (c >= 200 && c <= 299)) {
		*explain = "the token lacks the publishing permission (instagram_business_content_publish"
			   " or instagram_content_publish): re-authorise the account granting it";
		return IG_PUB_RELOGIN;
	}
	if (c == 4 || c == 17 || c == 32 || c == 341 || c == 613 || c == 368
	    || (c >= 80001 && c <= 80014)) {
		*explain = "rate limited by Meta: the post waits and is tried later";
		return IG_PUB_WAIT;
	}
	if (c == 1 || c == 2 || (!c && e->http_status >= 500)) {
		*explain = post_call ? "Meta's answer was lost or ambiguous: the post is settled by"
				       " reading Meta's state, never sent again blindly"
				     : "a temporary error at Meta: tried again";
		return post_call ? IG_PUB_AMBIGUOUS : IG_PUB_RETRY;
	}
	if (c == 506) {
		*explain = "Meta says this is a duplicate of a recent post";
		return IG_PUB_PERMANENT;
	}
	if (c == 100) {
		*explain = "Meta refused a parameter of the post: fix it as the message says";
		return IG_PUB_PERMANENT;
	}
	if (e->is_transient || (!c && e->http_status == 429)) {
		*explain = "a temporary error at Meta: tried again";
		return IG_PUB_RETRY;
	}
	{
		struct ig_graph_verdict v;

		switch (ig_graph_classify(e, &v), v.action) {
		case IG_GRAPH_RETRY:
			if (v.acted && post_call) {
				*explain = "Meta's answer was lost or ambiguous: the post is settled by"
					   " reading Meta's state, never sent again blindly";
				return IG_PUB_AMBIGUOUS;
			}
			*explain = "a temporary error at Meta: tried again";
			return IG_PUB_RETRY;
		case IG_GRAPH_WAIT:
			*explain = "rate limited by Meta: the post waits and is tried later";
			return IG_PUB_WAIT;
		case IG_GRAPH_RELOGIN:
			*explain = "the account's token is no longer valid: re-authorise it with ig-connect";
			return IG_PUB_RELOGIN;
		default:
			*explain = "Meta refused the post";
			return IG_PUB_PERMANENT;
		}
	}
}

/* ------------------------------------------------------------ the run's state */

struct acct {
	int64_t id, tenant_id;
	char ext[64], username[128], flavour[16], status[16];
	char *token;
	enum ig_host host;
	int bad;                 /* no usable token: reason in why */
	char why[300];
	int limit_state;         /* 0 unknown, 1 wanted, 2 read, -1 failed */
	long remaining;
	long usage, total;
	long containers;         /* containers igkit created in the last 24 h */
	char limit_path[100];    /* the content_publishing_limit request's */
};

struct item {
	int pos;
	int video;
	char *url, *alt_text, *user_tags;
	char container[64];
	char status[24];
	int dirty;
	int want;                 /* REQ_CHILD or REQ_CHILD_STATUS this round */
	char path[96];
	const char *form[16];
	const char *query[4];
};

struct job {
	const char *trace;          /* Meta's request id of the answer being applied, or NULL */
	int64_t id, tenant_id;
	struct acct *acc;
	char tenant[64];
	char type[16], state[16], step[16];
	char *caption, *location_id, *collaborators, *cover_url, *audio_name, *first_comment;
	int share_to_feed;
	long long thumb_offset;
	char container[64];
	int64_t container_at, publish_sent_at, not_before, published_at;
	char media_id[64];
	char *permalink;
	char comment_state[16], comment_id[64];
	int polls, retries, finds;
	char *error, *explain;
	long error_code, error_subcode;
	struct item *items;
	size_t nitems;
	json_t *journal;          /* entries to write */
	int64_t account_id;
	int active;               /* still moving in this run */
	int hold;                 /* --wait: waiting for a container, lease kept */
	int finished;             /* written back with its lease let go */
	int notable;              /* needs re-login: reported */
	char children[400];
	int progressed;           /* did something other than wait this round */
	int audit_publish, audit_fail, alert, resolve_alert;
	const char *audit_outcome;
	/* the request of the current phase */
	int want;                 /* kind of request, REQ_* */
	int item_ix;
	char path[160];
	const char *query[16];
	const char *form[32];
	char qbuf[4][96];
};

enum { REQ_NONE, REQ_CHILD, REQ_CHILD_STATUS, REQ_CONTAINER, REQ_STATUS, REQ_SETTLE, REQ_FIND,
       REQ_PERMALINK, REQ_COMMENT_CHECK, REQ_PUBLISH, REQ_COMMENT };

struct run {
	struct ig_ctx *ctx;
	struct ig_graph *g;
	const struct ig_publish_run_opts *o;
	struct ig_publish_run_stats *st;
	char worker[128];
	int64_t now;
	struct job *jobs;
	size_t njobs;
	struct acct *accs;
	size_t naccs;
	int worst;
	char worst_msg[600];
};

static void job_free(struct job *j)
{
	size_t i;

	for (i = 0; i < j->nitems; i++) {
		free(j->items[i].url);
		free(j->items[i].alt_text);
		free(j->items[i].user_tags);
	}
	free(j->items);
	free(j->caption);
	free(j->location_id);
	free(j->collaborators);
	free(j->cover_url);
	free(j->audio_name);
	free(j->first_comment);
	free(j->permalink);
	free(j->error);
	free(j->explain);
	json_decref(j->journal);
}

static char *sdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void note_worst(struct run *w, int rc, const char *what, long long id, const char *msg)
{
	static const int rank[] = { [IG_EX_UNAVAILABLE] = 1, [IG_EX_TEMPFAIL] = 2, [IG_EX_NOPERM] = 3 };
	int have = w->worst ? rank[w->worst] : 0;

	if (rank[rc] > have) {
		w->worst = rc;
		snprintf(w->worst_msg, sizeof(w->worst_msg), "post %lld %s: %.500s", id, what, msg);
	}
}

static void journal(struct job *j, const char *step, const char *outcome, const char *meta_id,
		    const struct ig_graph_error *e, const char *message)
{
	json_t *o = json_pack("{s:s,s:s}", "step", step, "outcome", outcome);

	if (!o)
		return;
	if (meta_id && *meta_id)
		json_object_set_new(o, "meta_id", json_string(meta_id));
	if (e && e->fbtrace_id[0])
		json_object_set_new(o, "request_id", json_string(e->fbtrace_id));
	else if (j->trace && *j->trace)
		json_object_set_new(o, "request_id", json_string(j->trace));
	if (e && (e->code || e->subcode)) {
		json_object_set_new(o, "code", json_integer(e->code));
		json_object_set_new(o, "subcode", json_integer(e->subcode));
	}
	if (message && *message)
		json_object_set_new(o, "message", json_string(message));
	json_array_append_new(j->journal, o);
}

static void set_error(struct job *j, const struct ig_graph_error *e, const char *msg,
		      const char *explain)
{
	free(j->error);
	free(j->explain);
	j->error = sdup(msg);
	j->explain = sdup(explain);
	j->error_code = e ? e->code : 0;
	j->error_subcode = e ? e->subcode : 0;
}

static void set_step(struct job *j, const char *step)
{
	snprintf(j->step, sizeof(j->step), "%s", step);
}

/* End this run's work on j (it stays in its state for the next run). */
static void release(struct job *j)
{
	j->active = 0;
}

static void defer(struct run *w, struct job *j, int64_t seconds)
{
	j->not_before = w->now + seconds;
	w->st->deferred++;
	release(j);
}

static void fail(struct run *w, struct job *j, const char *step, const struct ig_graph_error *e,
		 const char *msg, const char *explain)
{
	char m[900];

	snprintf(j->state, sizeof(j->state), "failed");
	set_step(j, "done");
	set_error(j, e, msg, explain);
	snprintf(m, sizeof(m), "%s%s%s", msg ? msg : "failed", explain ? " — " : "",
		 explain ? explain : "");
	journal(j, step, "failed", NULL, e, m);
	j->audit_fail = 1;
	j->alert = 1;
	j->resolve_alert = 0;
	w->st->failed++;
	note_worst(w, IG_EX_UNAVAILABLE, "failed", (long long)j->id, msg);
	release(j);
}

static void unknown(struct run *w, struct job *j, const char *step, const struct ig_graph_error *e,
		    const char *msg)
{
	snprintf(j->state, sizeof(j->state), "unknown");
	set_step(j, "settle");
	set_error(j, e, msg, "the answer to media_publish was lost; the next run reads the"
		  " container's status_code and settles it");
	journal(j, step, "unknown", j->container, e, msg);
	j->alert = 1;
	j->resolve_alert = 0;
	w->st->unknown++;
	note_worst(w, IG_EX_TEMPFAIL, "is unknown", (long long)j->id, msg);
	release(j);
}

static void recreate(struct job *j, const char *why)
{
	size_t i;

	journal(j, "container", "recreate", j->container, NULL, why);
	j->container[0] = '\0';
	j->container_at = 0;
	j->polls = 0;
	for (i = 0; i < j->nitems; i++) {
		j->items[i].container[0] = '\0';
		j->items[i].status[0] = '\0';
		j->items[i].dirty = 1;
	}
	set_step(j, strcmp(j->type, "carousel") ? "container" : "children");
}

/* A temporary failure: try again later, boundedly. */
static void retry_later(struct run *w, struct job *j, const char *step,
			const struct ig_graph_error *e, const char *msg, const char *explain)
{
	if (++j->retries > MAX_RETRIES) {
		char m[700];

		snprintf(m, sizeof(m), "gave up after %d attempts: %s", MAX_RETRIES, msg);
		fail(w, j, step, e, m, explain);
		return;
	}
	set_error(j, e, msg, explain);
	journal(j, step, "retry", NULL, e, msg);
	defer(w, j, (int64_t)RETRY_DELAY * j->retries);
}

static void relogin(struct run *w, struct job *j, const char *step, const struct ig_graph_error *e,
		    const char *msg, const char *explain)
{
	set_error(j, e, msg, explain);
	journal(j, step, "relogin", NULL, e, msg);
	j->alert = 1;
	j->resolve_alert = 0;
	j->notable = 1;
	w->st->relogin = 1;
	note_worst(w, IG_EX_NOPERM, "waits for re-authorisation", (long long)j->id, msg);
	/* the account is marked below; the post waits for the new token */
	j->acc->bad = 2;
	snprintf(j->acc->why, sizeof(j->acc->why), "%.290s", msg);
	defer(w, j, WAIT_DELAY);
}

/* ------------------------------------------------------------ claiming */

#define DUE_WHERE \
	" WHERE ((p.state = 'scheduled' AND p.scheduled_at > 0 AND p.scheduled_at <= ?1)" \
	" OR p.state = 'publishing' OR p.state = 'unknown'" \
	" OR (p.state = 'published' AND p.step <> 'done'))" \
	" AND p.not_before <= ?1 AND (p.lease_until IS NULL OR p.lease_until < ?1)" \
	" AND (?2 = 0 OR p.tenant_id = ?2)"

static struct acct *acct_of(struct run *w, int64_t id)
{
	size_t i;

	for (i = 0; i < w->naccs; i++)
		if (w->accs[i].id == id)
			return &w->accs[i];
	return NULL;
}

/* Room for element n of arr (cap allocated, first the first time): the
 * array, maybe moved; NULL when out of memory (arr is left as it was). */
static void *grow_one(void *arr, size_t n, size_t *cap, size_t first, size_t size)
{
	size_t want = *cap ? *cap * 2 : first;
	void *na;

	if (n < *cap)
		return arr;
	if (!(na = realloc(arr, want * size)))
		return NULL;
	*cap = want;
	return na;
}

/* A claimed post from a row of claim_tx's query. */
static void job_from_row(struct job *j, struct ig_stmt *s)
{
	memset(j, 0, sizeof(*j));
	j->id = ig_col_int(s, 0);
	j->tenant_id = ig_col_int(s, 1);
	j->account_id = ig_col_int(s, 2);   /* j->acc: load_accounts */
	snprintf(j->tenant, sizeof(j->tenant), "%s", ig_col_text(s, 3));
	snprintf(j->type, sizeof(j->type), "%s", ig_col_text(s, 4));
	snprintf(j->state, sizeof(j->state), "%s", ig_col_text(s, 5));
	snprintf(j->step, sizeof(j->step), "%s", ig_col_text(s, 6));
	j->caption = sdup(ig_col_text(s, 7));
	j->location_id = sdup(ig_col_textn(s, 8));
	j->collaborators = sdup(ig_col_textn(s, 9));
	j->share_to_feed = (int)ig_col_int(s, 10);
	j->cover_url = sdup(ig_col_textn(s, 11));
	j->thumb_offset = ig_col_int(s, 12);
	j->audio_name = sdup(ig_col_textn(s, 13));
	j->first_comment = sdup(ig_col_textn(s, 14));
	snprintf(j->container, sizeof(j->container), "%s", ig_col_text(s, 15));
	j->container_at = ig_col_int(s, 16);
	j->publish_sent_at = ig_col_int(s, 17);
	snprintf(j->media_id, sizeof(j->media_id), "%s", ig_col_text(s, 18));
	j->permalink = sdup(ig_col_textn(s, 19));
	snprintf(j->comment_state, sizeof(j->comment_state), "%s", ig_col_text(s, 20));
	snprintf(j->comment_id, sizeof(j->comment_id), "%s", ig_col_text(s, 21));
	j->polls = (int)ig_col_int(s, 22);
	j->retries = (int)ig_col_int(s, 23);
	j->published_at = ig_col_int(s, 24);
	j->journal = json_array();
	j->active = 1;
}

/* Take the leases of the posts read; a post another run took meanwhile is
 * not ours (BEGIN IMMEDIATE makes that impossible here, the WHERE keeps it so). */
static int take_leases(struct ig_store *st, struct run *w, struct ig_err *err)
{
	size_t i, k = 0;

	for (i = 0; i < w->njobs; i++) {
		struct job *j = &w->jobs[i];
		int rc = ig_store_runf(st, err,
			"UPDATE posts SET lease_owner = ?, lease_until = ?,"
			" state = CASE WHEN state = 'scheduled' THEN 'publishing' ELSE state END,"
			" updated_at = ? WHERE id = ? AND (lease_until IS NULL OR lease_until < ?)",
			"siiii", w->worker, w->now + IG_PUBLISH_LEASE, w->now, j->id, w->now);

		if (rc)
			return rc;
		if (ig_store_changes(st) != 1) {
			job_free(j);
			continue;
		}
		if (!strcmp(j->state, "scheduled")) {
			snprintf(j->state, sizeof(j->state), "publishing");
			journal(j, "claim", "ok", NULL, NULL, "due: publishing started");
		}
		w->jobs[k++] = *j;
	}
	w->njobs = k;
	return 0;
}

static int claim_tx(struct ig_store *st, void *arg, struct ig_err *err)
{
	struct run *w = arg;
	struct ig_stmt *s;
	size_t cap = 0;
	int n;

	s = ig_store_query(st, err,
		"SELECT p.id, p.tenant_id, p.account_id, t.slug, p.type, p.state, p.step, p.caption,"
		" p.location_id, p.collaborators, COALESCE(p.share_to_feed, -1), p.cover_url,"
		" COALESCE(p.thumb_offset, -1), p.audio_name, p.first_comment, p.container_id,"
		" COALESCE(p.container_at, 0), COALESCE(p.publish_sent_at, 0), p.media_id, p.permalink,"
		" p.comment_state, p.comment_id, p.polls, p.retries, COALESCE(p.published_at, 0)"
		" FROM posts p JOIN tenants t ON t.id = p.tenant_id" DUE_WHERE
		" ORDER BY p.scheduled_at, p.id", "ii", w->now, w->o->tenant_id);
	if (!s)
		return err->code;
	while ((n = ig_stmt_next(st, s, err)) > 0) {
		struct job *j;

		if (w->o->limit && (long)w->njobs >= w->o->limit) {
			ig_stmt_reset(s);
			break;
		}
		if (!(j = grow_one(w->jobs, w->njobs, &cap, 64, sizeof(*j)))) {
			ig_stmt_reset(s);
			return OOM(err);
		}
		w->jobs = j;
		j = &w->jobs[w->njobs++];
		job_from_row(j, s);
	}
	if (n < 0)
		return err->code;
	return take_leases(st, w, err);
}

static int load_items(struct run *w, struct job *j, struct ig_err *err)
{
	struct ig_stmt *s;
	size_t cap = 0;
	int n;

	s = ig_store_query(w->ctx->store, err,
		"SELECT position, kind, url, alt_text, user_tags, container_id, status FROM post_media"
		" WHERE post_id = ? ORDER BY position", "i", j->id);
	if (!s)
		return err->code;
	while ((n = ig_stmt_next(w->ctx->store, s, err)) > 0) {
		struct item *it;

		if (!(it = grow_one(j->items, j->nitems, &cap, 4, sizeof(*it)))) {
			ig_stmt_reset(s);
			return OOM(err);
		}
		j->items = it;
		it = &j->items[j->nitems++];
		memset(it, 0, sizeof(*it));
		it->pos = (int)ig_col_int(s, 0);
		it->video = !strcmp(ig_col_text(s, 1), "video");
		it->url = sdup(ig_col_text(s, 2));
		it->alt_text = sdup(ig_col_textn(s, 3));
		it->user_tags = sdup(ig_col_textn(s, 4));
		snprintf(it->container, sizeof(it->container), "%s", ig_col_text(s, 5));
		snprintf(it->status, sizeof(it->status), "%s", ig_col_text(s, 6));
	}
	return n < 0 ? err->code : 0;
}

/* The accounts of the claimed posts, each token opened once. */
static int load_accounts(struct run *w, struct ig_err *err)
{
	size_t i;
	int keys_rc = -1;

	for (i = 0; i < w->njobs; i++) {
		struct acct *a;
		struct ig_stmt *s;
		int64_t aid = w->jobs[i].account_id;
		int n;

		if (acct_of(w, aid))
			continue;
		a = realloc(w->accs, (w->naccs + 1) * sizeof(*w->accs));
		if (!a)
			return OOM(err);
		w->accs = a;
		a = &w->accs[w->naccs++];
		memset(a, 0, sizeof(*a));
		a->id = aid;
		s = ig_store_query(w->ctx->store, err,
			"SELECT tenant_id, external_id, COALESCE(username, ''), flavour, status,"
			" access_token FROM accounts WHERE id = ?", "i", aid);
		if (!s)
			return err->code;
		if ((n = ig_stmt_next(w->ctx->store, s, err)) < 0)
			return err->code;
		if (n == 0) {
			a->bad = 1;
			snprintf(a->why, sizeof(a->why), "the account is gone");
			continue;
		}
		{
			size_t blen = 0, tlen;
			const void *blob = ig_col_blob(s, 5, &blen);
			char aad[64];
			struct ig_err oe = { 0 };

			a->tenant_id = ig_col_int(s, 0);
			snprintf(a->ext, sizeof(a->ext), "%s", ig_col_text(s, 1));
			snprintf(a->username, sizeof(a->username), "%s", ig_col_text(s, 2));
			snprintf(a->flavour, sizeof(a->flavour), "%s", ig_col_text(s, 3));
			snprintf(a->status, sizeof(a->status), "%s", ig_col_text(s, 4));
			a->host = !strcmp(a->flavour, "instagram") ? IG_HOST_GRAPH_IG : IG_HOST_GRAPH_FB;
			if (strcmp(a->status, "active") || !blob) {
				a->bad = 1;
				snprintf(a->why, sizeof(a->why), "account %s is %s: re-authorise it with"
					 " ig-connect and the post goes out", a->ext,
					 blob ? a->status : "without a token");
			} else {
				if (keys_rc < 0)
					keys_rc = ig_ctx_keys(w->ctx, &oe);
				snprintf(aad, sizeof(aad), "accounts:%lld:access_token", (long long)aid);
				if (keys_rc || ig_open(&w->ctx->keys, aad, blob, blen, &a->token, &tlen, &oe)) {
					a->bad = 1;
					snprintf(a->why, sizeof(a->why), "cannot open the token of account %s: %.200s",
						 a->ext, oe.msg);
				}
			}
			ig_stmt_reset(s);
		}
		{   /* the container-creation limit counts every child (§4.5) */
			int64_t c = 0;

			if (ig_store_int(w->ctx->store, err, &c,
				"SELECT count(*) FROM post_journal j JOIN posts p ON p.id = j.post_id"
				" WHERE p.account_id = ? AND (j.step = 'child' OR j.step = 'container')"
				" AND j.outcome = 'ok' AND j.at > ?", "ii", aid, w->now - 86400) < 0)
				return err->code;
			a->containers = (long)c;
		}
	}
	for (i = 0; i < w->njobs; i++)
		w->jobs[i].acc = acct_of(w, w->jobs[i].account_id);
	return 0;
}

/* ------------------------------------------------------------ planning requests */

static void q_set(struct job *j, const char **arr, int *n, const char *k, const char *v)
{
	arr[(*n)++] = k;
	arr[(*n)++] = v;
	arr[*n] = NULL;
	(void)j;
}

/* The container parameters of an item or the post (§4.1). */
static void plan_create(struct job *j, int child_ix)
{
	int n = 0;
	const char **f = j->form;

	j->form[0] = NULL;
	snprintf(j->path, sizeof(j->path), "/%s/media", j->acc->ext);
	if (child_ix >= 0) {
		struct item *it = &j->items[child_ix];

		f = it->form;
		it->want = REQ_CHILD;
		snprintf(it->path, sizeof(it->path), "/%s/media", j->acc->ext);
		j->want = REQ_CHILD;
		q_set(j, f, &n, "is_carousel_item", "true");
		if (it->video) {
			q_set(j, f, &n, "media_type", "VIDEO");
			q_set(j, f, &n, "video_url", it->url);
		} else {
			q_set(j, f, &n, "image_url", it->url);
			if (it->alt_text)
				q_set(j, f, &n, "alt_text", it->alt_text);
			if (it->user_tags)
				q_set(j, f, &n, "user_tags", it->user_tags);
		}
		return;
	}
	j->want = REQ_CONTAINER;
	if (!strcmp(j->type, "carousel")) {
		size_t i, len = 0;

		q_set(j, f, &n, "media_type", "CAROUSEL");
		/* children: a comma list of the child container ids (§4.1) */
		j->children[0] = '\0';
		for (i = 0; i < j->nitems && len < sizeof(j->children); i++)
			len += (size_t)snprintf(j->children + len, sizeof(j->children) - len, "%s%s",
					       i ? "," : "", j->items[i].container);
		q_set(j, f, &n, "children", j->children);
	} else {
		struct item *it = &j->items[0];

		if (!strcmp(j->type, "reel")) {
			q_set(j, f, &n, "media_type", "REELS");
			q_set(j, f, &n, "video_url", it->url);
			if (j->share_to_feed >= 0)
				q_set(j, f, &n, "share_to_feed", j->share_to_feed ? "true" : "false");
			if (j->cover_url)
				q_set(j, f, &n, "cover_url", j->cover_url);
			if (j->thumb_offset >= 0) {
				snprintf(j->qbuf[1], sizeof(j->qbuf[1]), "%lld", j->thumb_offset);
				q_set(j, f, &n, "thumb_offset", j->qbuf[1]);
			}
			if (j->audio_name)
				q_set(j, f, &n, "audio_name", j->audio_name);
		} else if (!strcmp(j->type, "story")) {
			q_set(j, f, &n, "media_type", "STORIES");
			q_set(j, f, &n, it->video ? "video_url" : "image_url", it->url);
		} else {
			q_set(j, f, &n, "image_url", it->url);
			if (it->alt_text)
				q_set(j, f, &n, "alt_text", it->alt_text);
			if (it->user_tags)
				q_set(j, f, &n, "user_tags", it->user_tags);
		}
	}
	if (j->caption && *j->caption && strcmp(j->type, "story"))
		q_set(j, f, &n, "caption", j->caption);
	if (j->location_id)
		q_set(j, f, &n, "location_id", j->location_id);
	if (j->collaborators && strcmp(j->type, "story"))
		q_set(j, f, &n, "collaborators", j->collaborators);
}

static void plan_get(struct job *j, int want, const char *node, const char *fields)
{
	j->want = want;
	snprintf(j->path, sizeof(j->path), "/%s", node);
	j->query[0] = "fields";
	j->query[1] = fields;
	j->query[2] = NULL;
}

/* 1 (and j deferred) when creating n more containers would pass the
 * account's container-creation limit; else 0, and they are counted. */
static int container_limit(struct run *w, struct job *j, long n)
{
	char m[160];

	if (j->acc->containers + n <= CONTAINER_LIMIT) {
		j->acc->containers += n;
		return 0;
	}
	snprintf(m, sizeof(m), "container-creation limit: %ld containers in 24 h (at most %d)",
		 j->acc->containers, CONTAINER_LIMIT);
	set_error(j, NULL, m, "the account created too many containers in the last 24 hours:"
		  " the post waits");
	journal(j, "container", "wait", NULL, NULL, m);
	defer(w, j, QUOTA_DELAY);
	return 1;
}

/*
 * Planning phase 1: one function per step.  Each returns 1 when the post
 * moved on to another step (plan that one now), 0 when a request is planned
 * (j->want) or the post waits.
 */
typedef int plan_fn(struct run *w, struct job *j);

/* Every missing carousel item at once, in parallel; then the video items'
 * status until FINISHED (they are created asynchronously, §4.1). */
static int plan_children(struct run *w, struct job *j)
{
	size_t i;
	long missing = 0;

	if (strcmp(j->type, "carousel")) {
		set_step(j, "container");
		return 1;
	}
	for (i = 0; i < j->nitems; i++)
		missing += !j->items[i].container[0];
	if (missing && container_limit(w, j, missing))
		return 0;
	for (i = 0; i < j->nitems; i++)
		if (!j->items[i].container[0])
			plan_create(j, (int)i);
	if (j->want == REQ_CHILD)
		return 0;
	for (i = 0; i < j->nitems; i++) {
		struct item *it = &j->items[i];

		if (it->video && strcmp(it->status, "FINISHED")) {
			it->want = j->want = REQ_CHILD_STATUS;
			snprintf(it->path, sizeof(it->path), "/%s", it->container);
			it->query[0] = "fields";
			it->query[1] = "status_code,status";
			it->query[2] = NULL;
		}
	}
	if (j->want == REQ_CHILD_STATUS)
		return 0;
	set_step(j, "container");
	return 1;
}

static int plan_container(struct run *w, struct job *j)
{
	if (j->container[0]) {
		set_step(j, "poll");
		return 1;
	}
	if (!container_limit(w, j, 1))
		plan_create(j, -1);
	return 0;
}

static int plan_poll(struct run *w, struct job *j)
{
	if (j->container_at && w->now - j->container_at >= IG_PUBLISH_CONTAINER_TTL) {
		recreate(j, "the container is older than 24 h (expired)");
		return 1;
	}
	plan_get(j, REQ_STATUS, j->container, "status_code,status");
	return 0;
}

static int plan_settle(struct run *w, struct job *j)
{
	plan_get(j, REQ_SETTLE, j->container, "status_code,status");
	return 0;
}

/* A settled post's media, listed from shortly before its publish was sent. */
static int plan_find(struct run *w, struct job *j)
{
	j->want = REQ_FIND;
	snprintf(j->path, sizeof(j->path), "/%s/%s", j->acc->ext,
		 !strcmp(j->type, "story") ? "stories" : "media");
	snprintf(j->qbuf[0], sizeof(j->qbuf[0]), "%lld", (long long)(j->publish_sent_at - 600));
	j->query[0] = "fields";
	j->query[1] = "id,caption,media_type,media_product_type,timestamp,permalink";
	j->query[2] = "since";
	j->query[3] = j->qbuf[0];
	j->query[4] = "limit";
	j->query[5] = "50";
	j->query[6] = NULL;
	return 0;
}

static int plan_publish(struct run *w, struct job *j)
{
	return 0;   /* phase 2, after the quota */
}

static int plan_permalink(struct run *w, struct job *j)
{
	if (!j->media_id[0] || j->permalink) {
		set_step(j, "comment");
		return 1;
	}
	plan_get(j, REQ_PERMALINK, j->media_id, "permalink");
	return 0;
}

static int plan_comment(struct run *w, struct job *j)
{
	if (!j->first_comment || !j->media_id[0] || !strcmp(j->comment_state, "sent")
	    || !strcmp(j->comment_state, "failed") || !strcmp(j->comment_state, "none")) {
		set_step(j, "done");
		return 1;
	}
	if (!strcmp(j->comment_state, "unknown") || !strcmp(j->comment_state, "sending")) {
		/* §4.6: the comment may exist though Meta answered an error:
		 * look before any second attempt */
		j->want = REQ_COMMENT_CHECK;
		snprintf(j->path, sizeof(j->path), "/%s/comments", j->media_id);
		j->query[0] = "fields";
		j->query[1] = "id,text,username,timestamp";
		j->query[2] = NULL;
	}
	return 0;   /* else pending: phase 2 */
}

static int plan_done(struct run *w, struct job *j)
{
	release(j);
	return 0;
}

static const struct {
	const char *step;
	plan_fn *fn;
} plan_steps[] = {
	{ "children", plan_children },
	{ "container", plan_container },
	{ "poll", plan_poll },
	{ "settle", plan_settle },
	{ "find", plan_find },
	{ "publish", plan_publish },
	{ "permalink", plan_permalink },
	{ "comment", plan_comment },
	{ "done", plan_done },
};

/* Forget the request of the previous phase. */
static void plan_reset(struct job *j)
{
	size_t i;

	j->want = REQ_NONE;
	j->query[0] = NULL;
	j->form[0] = NULL;
	for (i = 0; i < j->nitems; i++)
		j->items[i].want = REQ_NONE;
}

/* Decide the next request of j in phase 1 (reads and container creation). */
static void plan1(struct run *w, struct job *j)
{
	const size_t nsteps = sizeof(plan_steps) / sizeof(plan_steps[0]);
	size_t i;

	plan_reset(j);
	if (!j->active)
		return;
	if (j->acc->bad) {
		relogin(w, j, "account", NULL, j->acc->why,
			"the account must be re-authorised with ig-connect; the post then goes out");
		return;
	}
	/* a step 'sent' found at claim time: its run died mid-publish */
	if (!strcmp(j->step, "sent")) {
		/* settled right now, like any unknown post */
		snprintf(j->state, sizeof(j->state), "unknown");
		set_step(j, "settle");
		journal(j, "publish", "unknown", j->container, NULL, "a previous run sent media_publish"
			" and did not record the answer");
	}
	do {
		for (i = 0; i < nsteps && strcmp(j->step, plan_steps[i].step); i++)
			;
		if (i == nsteps) {
			/* an unknown step (a newer program's?): leave it alone */
			journal(j, j->step, "skipped", NULL, NULL,
				"unknown step; left for a newer ig-publish");
			release(j);
			return;
		}
	} while (plan_steps[i].fn(w, j));
}

/* ------------------------------------------------------------ applying answers */

static const char *gmsg(const struct ig_graph_req *r)
{
	return r->err.msg[0] ? r->err.msg : "request failed";
}

static void published(struct run *w, struct job *j, const char *media_id, const char *how)
{
	snprintf(j->media_id, sizeof(j->media_id), "%s", media_id ? media_id : "");
	snprintf(j->state, sizeof(j->state), "published");
	j->published_at = w->now;
	set_error(j, NULL, NULL, NULL);
	j->error_code = j->error_subcode = 0;
	journal(j, "publish", "ok", media_id, NULL, how);
	j->audit_publish = 1;
	j->resolve_alert = 1;
	j->alert = 0;
	j->progressed = 1;
	w->st->published++;
	set_step(j, media_id && *media_id ? "permalink" : "done");
}

/* A failed read or creation (phase 1). */
static void phase1_error(struct run *w, struct job *j, const char *step, struct ig_graph_req *r)
{
	const char *explain;
	enum ig_pub_action a = ig_publish_classify(&r->resp.gerr, 0, &explain);

	if (!r->resp.gerr.code && !r->resp.status)
		a = IG_PUB_RETRY;   /* no answer at all (network): a later run */
	switch (a) {
	case IG_PUB_RECREATE:
		recreate(j, explain);
		j->progressed = 1;
		break;
	case IG_PUB_NOT_READY:
		j->polls++;
		break;
	case IG_PUB_WAIT:
		set_error(j, &r->resp.gerr, gmsg(r), explain);
		journal(j, step, "wait", NULL, &r->resp.gerr, gmsg(r));
		defer(w, j, WAIT_DELAY);
		break;
	case IG_PUB_RELOGIN:
		relogin(w, j, step, &r->resp.gerr, gmsg(r), explain);
		break;
	case IG_PUB_PERMANENT:
		fail(w, j, step, &r->resp.gerr, gmsg(r), explain);
		break;
	default:
		retry_later(w, j, step, &r->resp.gerr, gmsg(r), explain);
	}
}

static int64_t parse_meta_time(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, se;

	if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &se) != 6)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return (int64_t)timegm(&tm);
}

/* A settled post's media id, looked up by content, never by position (§4). */
static void apply_find(struct run *w, struct job *j, struct ig_graph_req *r)
{
	json_t *data = json_object_get(r->resp.body, "data"), *m, *hit = NULL;
	size_t i, hits = 0;
	char why[200];

	json_array_foreach(data, i, m) {
		const char *id = ig_json_str(m, "id"), *cap = ig_json_str(m, "caption");
		const char *mt = ig_json_str(m, "media_type"), *pt = ig_json_str(m, "media_product_type");
		int64_t ts = parse_meta_time(ig_json_str(m, "timestamp")), other = 0;
		struct ig_err e;

		if (!id || (ts && j->publish_sent_at && ts < j->publish_sent_at - 600))
			continue;
		if (strcmp(cap ? cap : "", j->caption ? j->caption : ""))
			continue;
		if (!strcmp(j->type, "carousel") && mt && strcmp(mt, "CAROUSEL_ALBUM"))
			continue;
		if (!strcmp(j->type, "reel") && pt && strcmp(pt, "REELS"))
			continue;
		if (!strcmp(j->type, "image") && mt && strcmp(mt, "IMAGE"))
			continue;
		/* a media id another post already holds is not this one */
		if (ig_store_int(w->ctx->store, &e, &other,
				 "SELECT count(*) FROM posts WHERE account_id = ? AND media_id = ?", "is",
				 j->acc->id, id) < 0 || other)
			continue;
		hit = m;
		hits++;
	}
	if (hits == 1) {
		snprintf(j->media_id, sizeof(j->media_id), "%s", ig_json_str(hit, "id"));
		if (ig_json_str(hit, "permalink") && !j->permalink)
			j->permalink = sdup(ig_json_str(hit, "permalink"));
		journal(j, "find", "ok", j->media_id, NULL,
			"the media id, matched by caption, type and time");
		set_step(j, "permalink");
		j->progressed = 1;
		return;
	}
	snprintf(why, sizeof(why), "%zu media match this post's caption, type and time", hits);
	if (++j->finds >= MAX_FIND || hits > 1) {
		journal(j, "find", "unresolved", NULL, NULL, hits > 1
			? "several media match; the media id is left empty rather than guessed"
			: "no media matched; the media id is left empty rather than guessed");
		set_step(j, "done");
		j->progressed = 1;
		return;
	}
	journal(j, "find", "retry", NULL, NULL, why);
	defer(w, j, RETRY_DELAY);
}

/* A carousel item's container now exists at Meta: keep its id. */
static void item_created(struct item *it, const char *id)
{
	snprintf(it->container, sizeof(it->container), "%s", id);
	snprintf(it->status, sizeof(it->status), "%s", it->video ? "IN_PROGRESS" : "FINISHED");
	it->dirty = 1;
}

/* REQ_CHILD: the answer to creating a carousel item's container. */
static void apply_child(struct run *w, struct job *j, struct ig_graph_req *r)
{
	struct item *it = &j->items[j->item_ix];
	const char *id = ig_json_str(r->resp.body, "id");

	if (!j->active) {   /* keep the id: the child exists at Meta */
		if (!r->rc && id)
			item_created(it, id);
		return;
	}
	if (r->rc) {
		phase1_error(w, j, "child", r);
		return;
	}
	if (!id || !*id) {
		fail(w, j, "child", NULL, "Meta answered without a container id", NULL);
		return;
	}
	item_created(it, id);
	j->progressed = 1;
	journal(j, "child", "ok", it->container, NULL, it->url);
}

/* The answers to a status read (REQ_CHILD_STATUS, REQ_STATUS, REQ_SETTLE),
 * one function per status_code (reference §4.3). */
typedef void status_fn(struct run *w, struct job *j, const char *what);

/* FINISHED: a settled post's publish did not happen; a polled one may go. */
static void status_finished(struct run *w, struct job *j, const char *what)
{
	if (j->want == REQ_SETTLE) {
		/* the lost publish did not happen: publish again (§4.3) */
		snprintf(j->state, sizeof(j->state), "publishing");
		journal(j, what, "ok", j->container, NULL,
			"status FINISHED: the publish did not happen; publishing again");
		j->resolve_alert = 1;
		j->alert = 0;
		set_step(j, "publish");
	} else if (j->want == REQ_STATUS) {
		journal(j, what, "ok", j->container, NULL, "FINISHED");
		set_step(j, "publish");
	}
	j->progressed = 1;
}

/* PUBLISHED: the publish happened; its media id is looked up next. */
static void status_published(struct run *w, struct job *j, const char *what)
{
	if (j->want == REQ_CHILD_STATUS) {
		j->progressed = 1;
		return;
	}
	snprintf(j->state, sizeof(j->state), "published");
	journal(j, what, "ok", j->container, NULL,
		"status PUBLISHED: the publish happened; finding its media id");
	j->published_at = j->publish_sent_at ? j->publish_sent_at : w->now;
	j->audit_publish = 1;
	j->resolve_alert = 1;
	j->alert = 0;
	set_error(j, NULL, NULL, NULL);
	w->st->published++;
	set_step(j, "find");
	j->progressed = 1;
}

/* IN_PROGRESS (or no status yet): poll again, boundedly. */
static void status_in_progress(struct run *w, struct job *j, const char *what)
{
	if (j->want == REQ_SETTLE) {
		snprintf(j->state, sizeof(j->state), "publishing");
		set_step(j, "poll");
		journal(j, what, "ok", j->container, NULL, "status IN_PROGRESS: not published; polling");
		j->progressed = 1;
		return;
	}
	if (++j->polls > MAX_POLLS)
		fail(w, j, what, NULL, "the container stayed IN_PROGRESS too long",
		     "Meta did not finish processing the media; check the video's format"
		     " (MP4/MOV, H.264, AAC) and schedule it again");
	/* else not ready: the next round (--wait) or run polls again */
}

/* EXPIRED: not published within 24 h; a new container is created. */
static void status_expired(struct run *w, struct job *j, const char *what)
{
	if (j->want == REQ_SETTLE)
		snprintf(j->state, sizeof(j->state), "publishing");
	recreate(j, "status EXPIRED (not published within 24 h)");
	j->progressed = 1;
}

/* ERROR (or any other status): Meta could not process the media. */
static void status_error(struct run *w, struct job *j, const char *what, const char *code,
			 const struct ig_graph_req *r)
{
	const char *detail = ig_json_str(r->resp.body, "status");
	char m[400];

	snprintf(m, sizeof(m), "container %s: status %s%s%s", j->want == REQ_CHILD_STATUS
		 ? j->items[j->item_ix].container : j->container, code, detail ? ": " : "",
		 detail ? detail : "");
	if (j->want == REQ_SETTLE)
		snprintf(j->state, sizeof(j->state), "publishing");
	fail(w, j, what, NULL, m, "Meta could not process the media: check its format,"
	     " size and aspect ratio, then schedule the post again");
}

static const struct {
	const char *code;
	status_fn *fn;
} status_codes[] = {
	{ "FINISHED", status_finished },
	{ "PUBLISHED", status_published },
	{ "IN_PROGRESS", status_in_progress },
	{ "", status_in_progress },
	{ "EXPIRED", status_expired },
};

static void apply_status(struct run *w, struct job *j, struct ig_graph_req *r)
{
	const char *what = j->want == REQ_CHILD_STATUS ? "child status"
		: j->want == REQ_STATUS ? "status" : "settle";
	const char *code;
	size_t i;

	if (r->rc) {
		phase1_error(w, j, what, r);
		return;
	}
	code = ig_json_str(r->resp.body, "status_code");
	if (!code)
		code = "";
	if (j->want == REQ_CHILD_STATUS) {
		struct item *it = &j->items[j->item_ix];

		snprintf(it->status, sizeof(it->status), "%s", code);
		it->dirty = 1;
	}
	for (i = 0; i < sizeof(status_codes) / sizeof(status_codes[0]); i++)
		if (!strcmp(code, status_codes[i].code)) {
			status_codes[i].fn(w, j, what);
			return;
		}
	status_error(w, j, what, code, r);
}

/* REQ_CONTAINER: the post's (or carousel parent's) container. */
static void apply_container(struct run *w, struct job *j, struct ig_graph_req *r)
{
	const char *id = ig_json_str(r->resp.body, "id");

	if (r->rc) {
		phase1_error(w, j, "container", r);
		return;
	}
	snprintf(j->container, sizeof(j->container), "%s", id ? id : "");
	if (!j->container[0]) {
		fail(w, j, "container", NULL, "Meta answered without a container id", NULL);
		return;
	}
	j->container_at = w->now;
	j->polls = 0;
	journal(j, "container", "ok", j->container, NULL, NULL);
	set_step(j, "poll");
	j->progressed = 1;
}

/* REQ_PERMALINK: best effort; a failure is noted and the post goes on. */
static void apply_permalink(struct job *j, struct ig_graph_req *r)
{
	if (r->rc || !ig_json_str(r->resp.body, "permalink")) {
		journal(j, "permalink", "skipped", j->media_id, &r->resp.gerr,
			r->rc ? gmsg(r) : "no permalink in the answer");
	} else {
		j->permalink = sdup(ig_json_str(r->resp.body, "permalink"));
		journal(j, "permalink", "ok", j->media_id, NULL, j->permalink);
	}
	set_step(j, j->first_comment && strcmp(j->comment_state, "sent") ? "comment" : "done");
	j->progressed = 1;
}

/* REQ_COMMENT_CHECK: is the first comment on the media already (§4.6)? */
static void apply_comment_check(struct run *w, struct job *j, struct ig_graph_req *r)
{
	json_t *data = json_object_get(r->resp.body, "data"), *c;
	size_t i;

	if (r->rc) {
		phase1_error(w, j, "comment check", r);
		return;
	}
	json_array_foreach(data, i, c) {
		const char *text = ig_json_str(c, "text"), *user = ig_json_str(c, "username");

		if (text && !strcmp(text, j->first_comment)
		    && (!user || !*j->acc->username || !strcmp(user, j->acc->username))) {
			snprintf(j->comment_id, sizeof(j->comment_id), "%s",
				 ig_json_str(c, "id") ? ig_json_str(c, "id") : "");
			snprintf(j->comment_state, sizeof(j->comment_state), "sent");
			journal(j, "comment check", "ok", j->comment_id, NULL,
				"the first comment exists (created despite the error): not sent again");
			set_step(j, "done");
			j->progressed = 1;
			return;
		}
	}
	snprintf(j->comment_state, sizeof(j->comment_state), "pending");
	journal(j, "comment check", "ok", NULL, NULL,
		"the first comment is not on the media: it may be sent");
	j->progressed = 1;
}

/* A phase 1 answer, to the function for its kind of request. */
static void apply1(struct run *w, struct job *j, struct ig_graph_req *r)
{
	if (!j->active && j->want != REQ_CHILD)
		return;   /* another answer of this round already settled it */
	switch (j->want) {
	case REQ_CHILD:
		apply_child(w, j, r);
		return;
	case REQ_CHILD_STATUS:
	case REQ_STATUS:
	case REQ_SETTLE:
		apply_status(w, j, r);
		return;
	case REQ_CONTAINER:
		apply_container(w, j, r);
		return;
	case REQ_FIND:
		if (r->rc)
			phase1_error(w, j, "find", r);
		else
			apply_find(w, j, r);
		return;
	case REQ_PERMALINK:
		apply_permalink(j, r);
		return;
	case REQ_COMMENT_CHECK:
		apply_comment_check(w, j, r);
		return;
	}
}

/* Phase 2 answers: media_publish and the first comment. */
static void apply2(struct run *w, struct job *j, struct ig_graph_req *r)
{
	const char *explain;
	enum ig_pub_action a;

	if (j->want == REQ_PUBLISH) {
		if (!r->rc) {
			const char *id = ig_json_str(r->resp.body, "id");

			if (!id) {
				unknown(w, j, "publish", NULL, "media_publish answered without an id");
				return;
			}
			published(w, j, id, "media_publish");
			return;
		}
		a = ig_publish_classify(&r->resp.gerr, 1, &explain);
		if (r->resp.ambiguous)
			a = IG_PUB_AMBIGUOUS;
		else if (!r->resp.status && !r->resp.gerr.code)
			a = IG_PUB_RETRY;   /* never reached Meta: safe to send later */
		switch (a) {
		case IG_PUB_AMBIGUOUS:
			unknown(w, j, "publish", &r->resp.gerr, gmsg(r));
			return;
		case IG_PUB_NOT_READY:
			journal(j, "publish", "not_ready", j->container, &r->resp.gerr, gmsg(r));
			set_step(j, "poll");
			if (++j->polls > MAX_POLLS)
				fail(w, j, "publish", &r->resp.gerr, gmsg(r), explain);
			return;
		case IG_PUB_WAIT:
			set_step(j, "publish");
			set_error(j, &r->resp.gerr, gmsg(r), explain);
			journal(j, "publish", "wait", j->container, &r->resp.gerr, gmsg(r));
			defer(w, j, r->resp.gerr.code == 9 ? QUOTA_DELAY : WAIT_DELAY);
			return;
		case IG_PUB_RECREATE:
			recreate(j, explain);
			j->progressed = 1;
			return;
		case IG_PUB_RELOGIN:
			set_step(j, "publish");
			relogin(w, j, "publish", &r->resp.gerr, gmsg(r), explain);
			return;
		case IG_PUB_PERMANENT:
			fail(w, j, "publish", &r->resp.gerr, gmsg(r), explain);
			return;
		default:
			set_step(j, "publish");
			retry_later(w, j, "publish", &r->resp.gerr, gmsg(r), explain);
			return;
		}
	}
	/* the first comment */
	if (!r->rc && ig_json_str(r->resp.body, "id")) {
		snprintf(j->comment_id, sizeof(j->comment_id), "%s", ig_json_str(r->resp.body, "id"));
		snprintf(j->comment_state, sizeof(j->comment_state), "sent");
		journal(j, "comment", "ok", j->comment_id, NULL, NULL);
		set_step(j, "done");
		j->progressed = 1;
		return;
	}
	a = r->rc ? ig_publish_classify(&r->resp.gerr, 1, &explain) : IG_PUB_AMBIGUOUS;
	if (r->resp.ambiguous || (r->resp.gerr.code == 20 && r->resp.gerr.subcode == 1772107))
		a = IG_PUB_AMBIGUOUS;   /* §4.6: created, then an error */
	else if (r->rc && !r->resp.status && !r->resp.gerr.code)
		a = IG_PUB_RETRY;
	if (a == IG_PUB_AMBIGUOUS) {
		snprintf(j->comment_state, sizeof(j->comment_state), "unknown");
		journal(j, "comment", "unknown", NULL, &r->resp.gerr, r->rc ? gmsg(r)
			: "answered without an id");
		j->progressed = 1;   /* next round: look before sending again */
		return;
	}
	if (a == IG_PUB_RETRY || a == IG_PUB_WAIT) {
		snprintf(j->comment_state, sizeof(j->comment_state), "pending");
		if (++j->retries > MAX_RETRIES) {
			snprintf(j->comment_state, sizeof(j->comment_state), "failed");
			journal(j, "comment", "failed", NULL, &r->resp.gerr, gmsg(r));
			set_step(j, "done");
			j->alert = 1;
			return;
		}
		journal(j, "comment", a == IG_PUB_WAIT ? "wait" : "retry", NULL, &r->resp.gerr, gmsg(r));
		defer(w, j, a == IG_PUB_WAIT ? WAIT_DELAY : RETRY_DELAY);
		return;
	}
	snprintf(j->comment_state, sizeof(j->comment_state), "failed");
	journal(j, "comment", "failed", NULL, &r->resp.gerr, gmsg(r));
	set_step(j, "done");
	j->alert = 1;
	j->progressed = 1;
}

/* ------------------------------------------------------------ writing back */

static int write_job(struct run *w, struct job *j, struct ig_err *err)
{
	struct ig_store *st = w->ctx->store;
	size_t i;
	json_t *e;
	char target[32];
	int rc;

	if (j->finished)
		return 0;
	j->finished = !j->active && !j->hold;
	if ((rc = ig_store_runf(st, err,
		"UPDATE posts SET state = ?, step = ?, container_id = ?, container_at = ?, media_id = ?,"
		" permalink = ?, comment_state = ?, comment_id = ?, polls = ?, retries = ?,"
		" not_before = ?, publish_sent_at = ?, published_at = ?, error = ?, explain = ?,"
		" updated_at = ?, lease_owner = CASE WHEN ? THEN lease_owner ELSE NULL END,"
		" lease_until = CASE WHEN ? THEN lease_until ELSE NULL END"
		" WHERE id = ? AND lease_owner = ?",
		"sssIssssiiiIIssiiiis",
		j->state, j->step, j->container[0] ? j->container : NULL, j->container_at,
		j->media_id[0] ? j->media_id : NULL, j->permalink, j->comment_state,
		j->comment_id[0] ? j->comment_id : NULL, (int64_t)j->polls, (int64_t)j->retries,
		j->not_before, j->publish_sent_at, j->published_at, j->error, j->explain, w->now,
		(int64_t)(j->active || j->hold), (int64_t)(j->active || j->hold), j->id, w->worker)))
		return rc;
	if (j->error_code || j->error_subcode)
		rc = ig_store_runf(st, err, "UPDATE posts SET error_code = ?, error_subcode = ? WHERE id = ?",
				   "iii", (int64_t)j->error_code, (int64_t)j->error_subcode, j->id);
	else if (!j->error)
		rc = ig_store_runf(st, err,
				   "UPDATE posts SET error_code = NULL, error_subcode = NULL WHERE id = ?",
				   "i", j->id);
	if (rc)
		return rc;
	for (i = 0; i < j->nitems; i++) {
		struct item *it = &j->items[i];

		if (!it->dirty)
			continue;
		if ((rc = ig_store_runf(st, err,
				"UPDATE post_media SET container_id = ?, status = ? WHERE post_id = ?"
				" AND position = ?", "ssii", it->container[0] ? it->container : NULL,
				it->status[0] ? it->status : NULL, j->id, (int64_t)it->pos)))
			return rc;
		it->dirty = 0;
	}
	json_array_foreach(j->journal, i, e)
		if ((rc = pub_journal(st, j->tenant_id, j->id, w->now, ig_json_str(e, "step"),
				      ig_json_str(e, "outcome"), ig_json_str(e, "meta_id"),
				      ig_json_str(e, "request_id"), (long)ig_json_int(e, "code", 0),
				      (long)ig_json_int(e, "subcode", 0), ig_json_str(e, "message"), err)))
			return rc;
	json_array_clear(j->journal);
	snprintf(target, sizeof(target), "post:%lld", (long long)j->id);
	if (j->audit_publish) {
		json_t *d = json_pack("{s:s,s:s?,s:s}", "account", j->acc->ext,
				      "media_id", j->media_id[0] ? j->media_id : NULL, "type", j->type);

		rc = ig_audit(w->ctx, j->tenant_id, "post.publish", target, "ok", d, err);
		json_decref(d);
		if (rc)
			return rc;
		j->audit_publish = 0;
	}
	if (j->audit_fail) {
		json_t *d = json_pack("{s:s,s:s?,s:I,s:I}", "account", j->acc->ext, "error", j->error,
				      "code", (json_int_t)j->error_code, "subcode",
				      (json_int_t)j->error_subcode);

		rc = ig_audit(w->ctx, j->tenant_id, "post.fail", target, "failed", d, err);
		json_decref(d);
		if (rc)
			return rc;
		j->audit_fail = 0;
	}
	if (j->resolve_alert) {
		if ((rc = pub_alert_resolve(st, j->id, w->now, err)))
			return rc;
		j->resolve_alert = 0;
	}
	if (j->alert) {
		char reason[700];

		snprintf(reason, sizeof(reason), "post %lld %s: %.300s%s%.300s", (long long)j->id,
			 !strcmp(j->state, "failed") ? "failed" : !strcmp(j->state, "unknown")
			 ? "is unknown" : "needs attention", j->error ? j->error : "",
			 j->explain ? " — " : "", j->explain ? j->explain : "");
		if ((rc = pub_alert(st, j->tenant_id, j->id, w->now, reason, err)))
			return rc;
		j->alert = 0;
	}
	return 0;
}

struct wb { struct run *w; int commit_only_sent; };

static int writeback_tx(struct ig_store *st, void *arg, struct ig_err *err)
{
	struct run *w = arg;
	size_t i;
	int rc;

	for (i = 0; i < w->njobs; i++)
		if ((rc = write_job(w, &w->jobs[i], err)))
			return rc;
	/* the accounts whose token Meta refused */
	for (i = 0; i < w->naccs; i++)
		if (w->accs[i].bad == 2) {
			if ((rc = ig_store_runf(st, err,
					"UPDATE accounts SET status = 'needs_reauth', last_error = ?,"
					" error_count = error_count + 1, updated_at = ? WHERE id = ?",
					"sii", w->accs[i].why, w->now, w->accs[i].id)))
				return rc;
			w->accs[i].bad = 1;
		}
	/* keep the leases of the posts still moving */
	return ig_store_runf(st, err,
		"UPDATE posts SET lease_until = ? WHERE lease_owner = ? AND lease_until IS NOT NULL",
		"is", w->now + IG_PUBLISH_LEASE, w->worker);
}

/* Commit "sent" before a media_publish or a comment leaves. */
static int mark_sent_tx(struct ig_store *st, void *arg, struct ig_err *err)
{
	struct run *w = arg;
	size_t i;
	int rc;

	for (i = 0; i < w->njobs; i++) {
		struct job *j = &w->jobs[i];

		if (j->want == REQ_PUBLISH)
			rc = ig_store_runf(st, err,
				"UPDATE posts SET step = 'sent', publish_sent_at = ?, updated_at = ?"
				" WHERE id = ? AND lease_owner = ?", "iiis", w->now, w->now, j->id, w->worker);
		else if (j->want == REQ_COMMENT)
			rc = ig_store_runf(st, err,
				"UPDATE posts SET comment_state = 'sending', updated_at = ?"
				" WHERE id = ? AND lease_owner = ?", "iis", w->now, j->id, w->worker);
		else
			continue;
		if (rc)
			return rc;
		if (ig_store_changes(st) != 1)
			return ig_err_set(err, IG_EX_SOFTWARE, "post %lld: lease lost", (long long)j->id);
	}
	return 0;
}

/* ------------------------------------------------------------ rounds */

static struct ig_graph_req *req_for(struct job *j, struct ig_graph_req *r, const char *method)
{
	memset(r, 0, sizeof(*r));
	r->host = j->acc->host;
	r->method = method;
	r->path = j->path;
	r->versioned = 1;
	r->query = j->query[0] ? j->query : NULL;
	r->form = j->form[0] ? j->form : NULL;
	r->token = j->acc->token;
	r->user = j;
	return r;
}

/* The requests of one phase, in parallel.  The client's retries stay on for
 * every request: lib/graph.c resends a POST not marked idempotent
 * (media_publish, a comment) only after an answer that says it was not
 * acted on; one that may have been (5xx, codes 1 and 2, a timeout after it
 * left) comes back ambiguous, never resent (graph.h). */
static void run_batch(struct run *w, struct ig_graph_req *reqs, size_t n)
{
	if (!n)
		return;
	ig_graph_run_many(w->g, reqs, n, w->o->parallel > 0 ? w->o->parallel : IG_PUBLISH_PARALLEL);
	w->st->requests += (long)n;
}

/* One request of phase 1: the post, or one of its carousel items (ix). */
struct slot {
	struct job *j;
	int ix;
	int want;
};

/* Queue the phase 1 requests j planned into reqs from n on: one per
 * carousel item (children, their status), else the post's own.  Returns
 * the new count. */
static size_t queue_phase1(struct job *j, struct ig_graph_req *reqs, struct slot *slots, size_t n)
{
	size_t k;

	if (j->want != REQ_CHILD && j->want != REQ_CHILD_STATUS) {
		if (j->want == REQ_NONE)
			return n;
		req_for(j, &reqs[n], j->want == REQ_CONTAINER ? "POST" : "GET");
		reqs[n].idempotent = j->want == REQ_CONTAINER;   /* as for the items below */
		slots[n].j = j;
		slots[n].ix = -1;
		slots[n].want = j->want;
		reqs[n].user = &slots[n];
		return n + 1;
	}
	for (k = 0; k < j->nitems; k++) {
		struct item *it = &j->items[k];
		struct ig_graph_req *r;

		if (it->want == REQ_NONE)
			continue;
		r = req_for(j, &reqs[n], it->want == REQ_CHILD ? "POST" : "GET");
		r->path = it->path;
		r->form = it->want == REQ_CHILD ? it->form : NULL;
		r->query = it->want == REQ_CHILD ? NULL : it->query;
		/* a second container is harmless (never published, it expires in
		 * 24 h), so creation may be resent */
		r->idempotent = it->want == REQ_CHILD;
		slots[n].j = j;
		slots[n].ix = (int)k;
		slots[n].want = it->want;
		r->user = &slots[n++];
	}
	return n;
}

/* Phase 1: reads and container creation, every post's at once. */
static void phase1(struct run *w, struct ig_graph_req *reqs, struct slot *slots)
{
	size_t i, n = 0;

	for (i = 0; i < w->njobs; i++) {
		plan1(w, &w->jobs[i]);
		n = queue_phase1(&w->jobs[i], reqs, slots, n);
	}
	run_batch(w, reqs, n);
	for (i = 0; i < n; i++) {
		struct slot *sl = reqs[i].user;

		sl->j->want = sl->want;
		sl->j->item_ix = sl->ix;
		sl->j->trace = ig_graph_resp_trace(&reqs[i].resp);
		apply1(w, sl->j, &reqs[i]);
		sl->j->trace = NULL;
		ig_graph_resp_release(&reqs[i].resp);
	}
}

static const char *const limit_query[] = { "fields", "quota_usage,config", NULL };

/* GET /<IG_ID>/content_publishing_limit (§4.5) of account a into r. */
static void limit_req(struct acct *a, struct ig_graph_req *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(a->limit_path, sizeof(a->limit_path), "/%s/content_publishing_limit", a->ext);
	r->host = a->host;
	r->method = "GET";
	r->path = a->limit_path;
	r->versioned = 1;
	r->query = limit_query;
	r->token = a->token;
}

/* Phase 1b: the live publishing limit of each account about to publish. */
static void read_limits(struct run *w, struct ig_graph_req *reqs)
{
	size_t i, n = 0;

	for (i = 0; i < w->njobs; i++) {
		struct job *j = &w->jobs[i];

		if (j->active && !strcmp(j->step, "publish") && !j->acc->bad && !j->acc->limit_state) {
			j->acc->limit_state = 1;
			limit_req(j->acc, &reqs[n]);
			reqs[n++].user = j->acc;
		}
	}
	run_batch(w, reqs, n);
	for (i = 0; i < n; i++) {
		struct acct *a = reqs[i].user;
		json_t *d = json_array_get(json_object_get(reqs[i].resp.body, "data"), 0);

		if (reqs[i].rc || !d) {
			/* unreadable: publish anyway; a spent quota answers 9/2207042 */
			a->limit_state = -1;
			a->remaining = 1000000;
		} else {
			a->usage = (long)ig_json_int(d, "quota_usage", 0);
			a->total = (long)ig_json_int(json_object_get(d, "config"), "quota_total", 50);
			a->remaining = a->total - a->usage;
			a->limit_state = 2;
		}
		ig_graph_resp_release(&reqs[i].resp);
	}
}

/* Plan j's phase 2 request: media_publish within the quota, or the
 * pending first comment.  1 when one is planned. */
static int plan2(struct run *w, struct job *j)
{
	j->want = REQ_NONE;
	j->query[0] = NULL;
	j->form[0] = NULL;
	if (!j->active || j->acc->bad)
		return 0;
	if (!strcmp(j->step, "publish")) {
		if (j->acc->remaining <= 0) {
			char m[200];

			snprintf(m, sizeof(m), "publishing limit reached (%ld of %ld posts in 24 h)",
				 j->acc->usage, j->acc->total);
			set_error(j, NULL, m, "the account reached its publishing limit for the last"
				  " 24 hours: the post waits for quota");
			journal(j, "publish", "wait", j->container, NULL, m);
			defer(w, j, QUOTA_DELAY);
			return 0;
		}
		j->acc->remaining--;
		j->want = REQ_PUBLISH;
		/* §4.4: POST /<IG_ID>/media_publish?creation_id=<container id> */
		snprintf(j->path, sizeof(j->path), "/%s/media_publish", j->acc->ext);
		j->query[0] = "creation_id";
		j->query[1] = j->container;
		j->query[2] = NULL;
		return 1;
	}
	if (!strcmp(j->step, "comment") && !strcmp(j->comment_state, "pending") && j->first_comment
	    && j->media_id[0]) {
		j->want = REQ_COMMENT;
		snprintf(j->path, sizeof(j->path), "/%s/comments", j->media_id);
		/* §6: POST /<IG_MEDIA_ID>/comments?message=<text>; no fields= on the
		 * POST (§4.6, 20/1772107) */
		j->query[0] = "message";
		j->query[1] = j->first_comment;
		j->query[2] = NULL;
		return 1;
	}
	return 0;
}

/* Phase 2: media_publish and first comments, "sent" committed first. */
static int phase2(struct run *w, struct ig_graph_req *reqs, struct ig_err *err)
{
	size_t i, n = 0;
	int rc;

	for (i = 0; i < w->njobs; i++)
		if (plan2(w, &w->jobs[i]))
			req_for(&w->jobs[i], &reqs[n++], "POST");
	if (n && (rc = ig_store_tx(w->ctx->store, mark_sent_tx, w, err)))
		return rc;
	for (i = 0; i < n; i++) {
		struct job *j = reqs[i].user;

		if (j->want == REQ_PUBLISH) {
			set_step(j, "sent");
			j->publish_sent_at = w->now;
		} else {
			snprintf(j->comment_state, sizeof(j->comment_state), "sending");
		}
	}
	run_batch(w, reqs, n);
	for (i = 0; i < n; i++) {
		struct job *j = reqs[i].user;

		j->trace = ig_graph_resp_trace(&reqs[i].resp);
		apply2(w, j, &reqs[i]);
		j->trace = NULL;
		ig_graph_resp_release(&reqs[i].resp);
	}
	return 0;
}

/* One round: every post as far as it gets without waiting, then written back. */
static int round_once(struct run *w, struct ig_err *err)
{
	struct ig_graph_req *reqs = NULL;
	struct slot *slots = NULL;
	size_t i, cap = w->njobs * 10 + w->naccs + 1;
	int rc;

	if (!(reqs = calloc(cap, sizeof(*reqs))) || !(slots = calloc(cap, sizeof(*slots)))) {
		free(reqs);
		return OOM(err);
	}
	for (i = 0; i < w->njobs; i++)
		w->jobs[i].progressed = 0;
	phase1(w, reqs, slots);
	read_limits(w, reqs);
	if (!(rc = phase2(w, reqs, err)))
		rc = ig_store_tx(w->ctx->store, writeback_tx, w, err);
	free(reqs);
	free(slots);
	/* the quota is read again in the next round */
	for (i = 0; i < w->naccs; i++)
		if (w->accs[i].limit_state > 0)
			w->accs[i].limit_state = 0;
	w->st->rounds++;
	return rc;
}

static void emit_job(struct run *w, struct job *j)
{
	json_t *o;

	if (!w->o->emit || (!w->o->report_all && !j->notable && strcmp(j->state, "failed")
			     && strcmp(j->state, "unknown")))
		return;
	o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "id", (json_int_t)j->id, "tenant", j->tenant,
		      "account", j->acc->ext, "type", j->type, "state", j->state, "step", j->step);
	if (!o)
		return;
	json_object_set_new(o, "media_id", j->media_id[0] ? json_string(j->media_id) : json_null());
	json_object_set_new(o, "permalink", j->permalink ? json_string(j->permalink) : json_null());
	if (j->error) {
		json_object_set_new(o, "error", json_string(j->error));
		if (j->error_code || j->error_subcode) {
			json_object_set_new(o, "code", json_integer(j->error_code));
			json_object_set_new(o, "subcode", json_integer(j->error_subcode));
		}
		if (j->explain)
			json_object_set_new(o, "explain", json_string(j->explain));
	}
	if (j->not_before > w->now) {
		char buf[32];

		json_object_set_new(o, "deferred_until", json_string(ig_time_iso(j->not_before, buf)));
	}
	w->o->emit(w->o->arg, o);
	json_decref(o);
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int ig_publish_run(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_publish_run_opts *o,
		   struct ig_publish_run_stats *stats, struct ig_err *err)
{
	struct ig_publish_run_stats local;
	struct run w;
	size_t i;
	int rc = 0;
	double started = mono();

	memset(&w, 0, sizeof(w));
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	w.ctx = ctx;
	w.g = g;
	w.o = o;
	w.st = stats;
	w.now = ig_time_now();
	{
		char host[64] = "localhost";
		char *r = ig_random_id(4);

		gethostname(host, sizeof(host) - 1);
		host[sizeof(host) - 1] = '\0';
		snprintf(w.worker, sizeof(w.worker), "publish:%s:%ld:%s", host, (long)getpid(),
			 r ? r : "x");
		free(r);
	}
	if ((rc = ig_authz_require(ctx, o->tenant_id, IG_MOD_PUBLISHING, IG_WRITE, "post.publish",
				   err)))
		return rc;
	if ((rc = ig_store_tx(ctx->store, claim_tx, &w, err)))
		goto out;
	stats->claimed = (long)w.njobs;
	for (i = 0; i < w.njobs; i++)
		if ((rc = load_items(&w, &w.jobs[i], err)))
			goto out;
	if ((rc = load_accounts(&w, err)))
		goto out;
	for (;;) {
		int active = 0, progressed = 0;

		if ((rc = round_once(&w, err)))
			break;
		for (i = 0; i < w.njobs; i++) {
			active += w.jobs[i].active;
			progressed |= w.jobs[i].active && w.jobs[i].progressed;
		}
		if (!o->wait || !active)
			break;
		if (mono() - started > (double)(o->wait_max_s > 0 ? o->wait_max_s : 600))
			break;
		if (!progressed) {
			struct timespec ts;
			double d = o->poll_interval >= 0 ? o->poll_interval : 2.0;

			ts.tv_sec = (time_t)d;
			ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
			nanosleep(&ts, NULL);
			/* a post released to wait for its container joins again */
		}
		for (i = 0; i < w.njobs; i++) {
			struct job *j = &w.jobs[i];

			/* posts waiting for a container stay in this run (lease kept) */
			if (j->hold) {
				j->hold = 0;
				j->active = 1;
			}
		}
	}
	/* let go of every lease, then report */
	for (i = 0; i < w.njobs; i++)
		w.jobs[i].active = w.jobs[i].hold = 0;
	if (!rc) {
		int rc2 = ig_store_tx(ctx->store, writeback_tx, &w, err);

		if (rc2)
			rc = rc2;
	}
	for (i = 0; i < w.njobs; i++)
		emit_job(&w, &w.jobs[i]);
	if (!rc && w.worst) {
		rc = w.worst;
		ig_err_set(err, rc, "%s", w.worst_msg);
	}
out:
	for (i = 0; i < w.njobs; i++)
		job_free(&w.jobs[i]);
	free(w.jobs);
	for (i = 0; i < w.naccs; i++)
		ig_wipe_free(w.accs[i].token);
	free(w.accs);
	return rc;
}

/* ------------------------------------------------------------ limit */

int ig_publish_limit(struct ig_ctx *ctx, struct ig_graph *g, int64_t tenant_id,
		     const char *account, json_t **out, struct ig_err *err)
{
	struct run w;
	struct job j;
	struct pub_post p;
	struct ig_graph_req r;
	json_t *d;
	int rc;

	*out = NULL;
	if ((rc = ig_authz_require(ctx, tenant_id, IG_MOD_PUBLISHING, IG_READ, "post.limit", err)))
		return rc;
	memset(&w, 0, sizeof(w));
	memset(&j, 0, sizeof(j));
	memset(&p, 0, sizeof(p));
	if ((rc = pub_find_account(ctx, tenant_id, account, &p, err)))
		return rc;
	w.ctx = ctx;
	w.njobs = 1;
	w.jobs = &j;
	j.account_id = p.account_id;
	if ((rc = load_accounts(&w, err)))
		goto out;
	if (j.acc->bad) {
		rc = ig_err_set(err, IG_EX_NOPERM, "%s", j.acc->why);
		goto out;
	}
	limit_req(j.acc, &r);
	if ((rc = ig_graph_call(g, &r))) {
		ig_err_set(err, rc, "%s", r.err.msg);
		ig_graph_resp_release(&r.resp);
		goto out;
	}
	d = json_array_get(json_object_get(r.resp.body, "data"), 0);
	if (!d) {
		rc = ig_err_set(err, IG_EX_UNAVAILABLE, "content_publishing_limit: no data in the answer");
	} else {
		long usage = (long)ig_json_int(d, "quota_usage", 0);
		json_t *cfg = json_object_get(d, "config");
		long total = (long)ig_json_int(cfg, "quota_total", 0);

		*out = json_pack("{s:s,s:s,s:i,s:i,s:i,s:i}", "account", j.acc->ext, "username",
				 j.acc->username, "quota_usage", (int)usage, "quota_total", (int)total,
				 "quota_duration", (int)ig_json_int(cfg, "quota_duration", 86400),
				 "remaining", (int)(total - usage > 0 ? total - usage : 0));
		rc = *out ? 0 : OOM(err);
	}
	ig_graph_resp_release(&r.resp);
out:
	if (w.naccs)
		ig_wipe_free(w.accs[0].token);
	free(w.accs);
	return rc;
}
