/*
 * lib/accounts.c — the account rows of the connect module (see connect.h):
 * the candidate accounts an exchange or a token yields (Instagram Login:
 * the account itself; Facebook Login: the Pages, for Instagram or
 * Messenger), storing them, connecting from a token (add), the listing,
 * assign, disconnect, move.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "authz.h"
#include "connect_int.h"
#include "crypto.h"
#include "igtime.h"
#include "jsonio.h"

#define MAX_PAGES 500           /* /me/accounts entries followed, at most */

/* ------------------------------------------------------------ listing rows */

/* The listing record of one account (stmt at a row of LIST_SQL). */
#define LIST_SQL "SELECT a.id, t.slug, a.external_id, a.username, a.name, a.flavour, a.channel," \
	" a.page_id, a.status, ag.name, lo.name, a.access_token, a.token_expires_at, a.scopes," \
	" a.subscribed_fields, a.last_error, a.error_count, a.message_count, a.user_count," \
	" a.followers_count, a.created_at, a.updated_at, a.last_synced_at, a.token_issued_at" \
	" FROM accounts a JOIN tenants t ON t.id = a.tenant_id" \
	" LEFT JOIN agents ag ON ag.id = a.agent_id LEFT JOIN locations lo ON lo.id = a.location_id"

static json_t *list_row(struct ig_ctx *ctx, struct ig_stmt *s, int keys_ok)
{
	json_t *o = json_object();
	json_t *tok = json_null();

	if (ig_col_blob(s, 11, NULL)) {
		size_t blen;
		const void *blob = ig_col_blob(s, 11, &blen);

		/* Without the master key, or when it does not open, there is
		 * nothing to show: the field is left out, never a placeholder. */
		tok = keys_ok ? conn_sealed_masked(ctx, ig_col_int(s, 0), blob, blen) : NULL;
	}
	json_object_set_new(o, "tenant", json_string(ig_col_text(s, 1)));
	json_object_set_new(o, "account", json_string(ig_col_text(s, 2)));
	json_object_set_new(o, "username", str_or_null(ig_col_text(s, 3)));
	json_object_set_new(o, "name", str_or_null(ig_col_text(s, 4)));
	json_object_set_new(o, "flavour", json_string(ig_col_text(s, 5)));
	json_object_set_new(o, "channel", json_string(ig_col_text(s, 6)));
	json_object_set_new(o, "page_id", str_or_null(ig_col_text(s, 7)));
	json_object_set_new(o, "status", json_string(ig_col_text(s, 8)));
	json_object_set_new(o, "agent", ig_col_null(s, 9) ? json_null()
							  : json_string(ig_col_text(s, 9)));
	json_object_set_new(o, "location", str_or_null(ig_col_text(s, 10)));
	if (tok)
		json_object_set_new(o, "token", tok);
	json_object_set_new(o, "token_issued_at", iso_or_null(ig_col_int(s, 23)));
	json_object_set_new(o, "token_expires_at", iso_or_null(ig_col_int(s, 12)));
	json_object_set_new(o, "scopes", conn_scopes_array(ig_col_text(s, 13)));
	json_object_set_new(o, "subscribed_fields", conn_scopes_array(ig_col_text(s, 14)));
	json_object_set_new(o, "last_error", str_or_null(ig_col_text(s, 15)));
	json_object_set_new(o, "error_count", json_integer(ig_col_int(s, 16)));
	json_object_set_new(o, "message_count", json_integer(ig_col_int(s, 17)));
	json_object_set_new(o, "user_count", json_integer(ig_col_int(s, 18)));
	json_object_set_new(o, "followers_count", ig_col_null(s, 19)
			    ? json_null() : json_integer(ig_col_int(s, 19)));
	json_object_set_new(o, "created_at", iso_or_null(ig_col_int(s, 20)));
	json_object_set_new(o, "updated_at", iso_or_null(ig_col_int(s, 21)));
	json_object_set_new(o, "last_synced_at", iso_or_null(ig_col_int(s, 22)));
	return o;
}

static json_t *account_record(struct ig_ctx *ctx, int64_t id)
{
	struct ig_stmt *s = ig_store_prepare(ctx->store, LIST_SQL " WHERE a.id = ?", NULL);
	json_t *o = NULL;

	if (!s)
		return NULL;
	ig_stmt_bind(s, "i", id);
	if (ig_stmt_next(ctx->store, s, NULL) > 0)
		o = list_row(ctx, s, ctx->keys.n > 0);
	ig_stmt_reset(s);
	return o;
}

int ig_connect_list(struct ig_ctx *ctx, int64_t tenant_id, ig_connect_row_fn *fn, void *arg,
		    struct ig_err *err)
{
	int64_t scope = ctx->actor.tenant_id ? ctx->actor.tenant_id : tenant_id;
	int keys_ok = ig_ctx_keys(ctx, NULL) == 0;
	struct ig_stmt *s;
	int rc;

	s = ig_store_prepare(ctx->store,
		LIST_SQL " WHERE (?1 = 0 OR a.tenant_id = ?1) ORDER BY t.slug, a.id", err);
	if (!s)
		return ecode(err);
	ig_stmt_bind(s, "i", scope);
	while ((rc = ig_stmt_next(ctx->store, s, err)) > 0) {
		json_t *o = list_row(ctx, s, keys_ok);
		int frc = o ? fn(arg, o) : oom(err);

		json_decref(o);
		if (frc) {
			ig_stmt_reset(s);
			return frc;
		}
	}
	return conn_step_done(ctx->store, s, rc, err, "cannot list accounts");
}

/* ------------------------------------------------------------ candidates */

static struct cand *cands_add(struct cands *c);

static int cands_messenger(const struct cands *cs)
{
	return cs->channel && !strcmp(cs->channel, "messenger");
}

/* 1 when the tasks array (from the /accounts edge) holds task. */
static int has_task(const json_t *tasks, const char *task)
{
	const json_t *t;
	size_t i;

	json_array_foreach(tasks, i, t)
		if (json_is_string(t) && !strcmp(json_string_value(t), task))
			return 1;
	return 0;
}

/* A Page as a Messenger account (channel 'messenger', external_id = the
 * Page id).  tasks come from the /me/accounts edge; a Page token brings
 * none (the Page node has no tasks field, reference §7.2). */
static int messenger_candidate(const json_t *page, const char *pid, int64_t expires,
			       const char *scopes, const char *fb_user, struct cands *cs,
			       struct ig_err *err)
{
	const json_t *tasks = json_object_get(page, "tasks");
	const char *ptoken = ig_json_str(page, "access_token");
	const char *pname = ig_json_str(page, "name");
	struct cand *c;

	if (json_is_array(tasks) && !has_task(tasks, "MESSAGING") && !has_task(tasks, "MANAGE")) {
		json_array_append_new(cs->skipped, json_pack("{s:b,s:s,s:s?,s:s}", "skipped", 1,
			"page_id", pid, "page_name", pname,
			"reason", "the user lacks the MESSAGING task on this Page"));
		return 0;
	}
	if (!ptoken) {
		json_array_append_new(cs->skipped, json_pack("{s:b,s:s,s:s}", "skipped", 1,
			"page_id", pid, "reason", "Meta returned no Page token (the user lacks a task on this Page)"));
		return 0;
	}
	if (!(c = cands_add(cs)))
		return oom(err);
	c->info = json_pack("{s:s,s:s,s:s?,s:{s:s?,s:O?}}", "external_id", pid, "page_id", pid,
			    "name", pname, "details", "page_name", pname, "tasks", tasks);
	c->token = strdup(ptoken);
	c->expires_at = expires;
	c->scopes = strdup(scopes ? scopes : "");
	snprintf(c->login_user, sizeof(c->login_user), "%s", fb_user ? fb_user : "");
	return c->info && c->token && c->scopes ? 0 : oom(err);
}

void conn_cands_release(struct cands *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		json_decref(c->v[i].info);
		ig_wipe_free(c->v[i].token);
		free(c->v[i].scopes);
	}
	free(c->v);
	json_decref(c->skipped);
	memset(c, 0, sizeof(*c));
}

static struct cand *cands_add(struct cands *c)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 4;
		struct cand *p = realloc(c->v, cap * sizeof(*p));

		if (!p)
			return NULL;
		c->v = p;
		c->cap = cap;
	}
	memset(&c->v[c->n], 0, sizeof(c->v[0]));
	return &c->v[c->n++];
}

/* Instagram Login: the Instagram account behind token (GET /me). */
int conn_ig_candidate(struct ig_graph *g, const char *token, int64_t expires,
		      const char *scopes, const char *login_user, struct cands *cs,
		      struct ig_err *err)
{
	static const char *const q[] = { "fields", "user_id," PROFILE_FIELDS ",account_type", NULL };
	json_t *me;
	struct cand *c;
	char idbuf[32], uidbuf[32];
	const char *ext, *id;
	int rc;

	if ((rc = conn_gcall(g, IG_HOST_GRAPH_IG, "GET", 1, "/me", q, NULL, token, 1, &me, NULL,
			     err)))
		return rc;
	/* user_id is the professional account id webhooks carry; id is
	 * app-scoped (reference §0, §7.1). */
	ext = ig_json_id(me, "user_id", uidbuf);
	id = ig_json_id(me, "id", idbuf);
	if (!ext)
		ext = id;
	if (!ext) {
		json_decref(me);
		return bad_reply(err, "GET /me (no user_id)");
	}
	if (!(c = cands_add(cs))) {
		json_decref(me);
		return oom(err);
	}
	c->info = json_pack("{s:s,s:{}}", "external_id", ext, "details");
	conn_take_profile(c->info, me);
	if (ig_json_str(me, "account_type"))
		json_object_set_new(json_object_get(c->info, "details"), "account_type",
				    json_string(ig_json_str(me, "account_type")));
	if (id)
		json_object_set_new(json_object_get(c->info, "details"), "app_scoped_id",
				    json_string(id));
	c->token = strdup(token);
	c->expires_at = expires;
	c->scopes = strdup(scopes ? scopes : "");
	/* Meta's callbacks name the user by the id the code exchange gave, which
	 * is the app-scoped id /me returns as "id" (reference §8). */
	snprintf(c->login_user, sizeof(c->login_user), "%s", login_user && *login_user ? login_user
		 : id ? id : ext);
	json_decref(me);
	return c->info && c->token && c->scopes ? 0 : oom(err);
}

/* Facebook Login: the Instagram account linked to one Page. */
static int fb_page_candidate(struct ig_graph *g, const json_t *page, int64_t expires,
			     const char *scopes, const char *fb_user, struct cands *cs,
			     struct ig_err *err)
{
	static const char *const q[] = { "fields", "id," PROFILE_FIELDS, NULL };
	const json_t *iga = json_object_get(page, "instagram_business_account");
	const char *ptoken = ig_json_str(page, "access_token");
	const char *pname = ig_json_str(page, "name");
	char pid[32], igid[32], path[64];
	json_t *ig;
	struct cand *c;
	int rc;

	if (!ig_json_id(page, "id", pid))
		return bad_reply(err, "GET /me/accounts (a Page without id)");
	if (cands_messenger(cs))
		return messenger_candidate(page, pid, expires, scopes, fb_user, cs, err);
	if (!json_is_object(iga) || !ig_json_id(iga, "id", igid)) {
		json_array_append_new(cs->skipped, json_pack("{s:b,s:s,s:s?,s:s}", "skipped", 1,
			"page_id", pid, "page_name", pname,
			"reason", "no Instagram professional account is linked to this Page"));
		return 0;
	}
	if (!ptoken) {
		json_array_append_new(cs->skipped, json_pack("{s:b,s:s,s:s,s:s}", "skipped", 1,
			"page_id", pid, "account", igid,
			"reason", "Meta returned no Page token (the user lacks a task on this Page)"));
		return 0;
	}
	snprintf(path, sizeof(path), "/%s", igid);
	if ((rc = conn_gcall(g, IG_HOST_GRAPH_FB, "GET", 1, path, q, NULL, ptoken, 1, &ig, NULL,
			     err))) {
		if (rc == IG_EX_TEMPFAIL)
			return rc;
		json_array_append_new(cs->skipped, json_pack("{s:b,s:s,s:s,s:s}", "skipped", 1,
			"page_id", pid, "account", igid, "reason", err->msg));
		ig_err_clear(err);
		return 0;
	}
	if (!(c = cands_add(cs))) {
		json_decref(ig);
		return oom(err);
	}
	c->info = json_pack("{s:s,s:s,s:{s:s?,s:O?}}", "external_id", igid, "page_id", pid,
			    "details", "page_name", pname, "tasks", json_object_get(page, "tasks"));
	conn_take_profile(c->info, ig);
	json_decref(ig);
	c->token = strdup(ptoken);
	c->expires_at = expires;
	c->scopes = strdup(scopes ? scopes : "");
	snprintf(c->login_user, sizeof(c->login_user), "%s", fb_user ? fb_user : "");
	return c->info && c->token && c->scopes ? 0 : oom(err);
}

/* Facebook Login, from a long-lived user token: every Page (reference §7.2
 * step 4), following the cursor. */
int conn_fb_candidates(struct ig_ctx *ctx, struct ig_graph *g, const char *user_token,
		       struct cands *cs, struct ig_err *err)
{
	static const char *const meq[] = { "fields", "id,name", NULL };
	json_t *me = NULL, *dbg = NULL;
	char fb_user[32] = "", *scopes = NULL, *after = NULL;
	int rc, seen = 0;

	if ((rc = conn_gcall(g, IG_HOST_GRAPH_FB, "GET", 1, "/me", meq, NULL, user_token, 1, &me,
			     NULL, err)))
		return rc;
	if (!ig_json_id(me, "id", fb_user)) {
		json_decref(me);
		return bad_reply(err, "GET /me (no id)");
	}
	json_decref(me);
	/* Granted scopes, for doctor; best effort: the code is spent already. */
	if (conn_debug_token(ctx, g, user_token, &dbg, NULL) == 0) {
		scopes = conn_perms_csv(json_object_get(dbg, "scopes"));
		json_decref(dbg);
	}
	for (;;) {
		const char *q[] = { "fields", "id,name,access_token,tasks,instagram_business_account",
				    "limit", "100", after ? "after" : NULL, after, NULL };
		json_t *body, *data, *page;
		const json_t *paging;
		size_t i;

		rc = conn_gcall(g, IG_HOST_GRAPH_FB, "GET", 1, "/me/accounts", q, NULL, user_token,
				1, &body, NULL, err);
		free(after);
		after = NULL;
		if (rc)
			break;
		data = json_object_get(body, "data");
		if (!json_is_array(data)) {
			json_decref(body);
			rc = bad_reply(err, "GET /me/accounts");
			break;
		}
		json_array_foreach(data, i, page) {
			if (++seen > MAX_PAGES)
				break;
			/* Page tokens from a long-lived user token do not expire
			 * (reference §7.2). */
			if ((rc = fb_page_candidate(g, page, 0, scopes, fb_user, cs, err)))
				break;
		}
		paging = json_object_get(body, "paging");
		if (!rc && seen <= MAX_PAGES && json_object_get(paging, "next")
		    && ig_json_str(json_object_get(paging, "cursors"), "after"))
			after = strdup(ig_json_str(json_object_get(paging, "cursors"), "after"));
		json_decref(body);
		if (rc || !after)
			break;
	}
	free(after);
	free(scopes);
	return rc;
}

/* ------------------------------------------------------------ storing */

/* The row a candidate already has on its channel: *id and its tenant
 * *owner, both 0 when none. */
static int cand_existing(struct ig_ctx *ctx, const char *channel, const char *ext, int64_t *id,
			 int64_t *owner, struct ig_err *err)
{
	struct ig_stmt *s;
	int rc;

	*id = *owner = 0;
	s = ig_store_prepare(ctx->store,
		"SELECT id, tenant_id FROM accounts WHERE channel = ? AND external_id = ?", err);
	if (!s)
		return ecode(err);
	ig_stmt_bind(s, "ss", channel, ext);
	rc = ig_stmt_next(ctx->store, s, err);
	if (rc > 0) {
		*id = ig_col_int(s, 0);
		*owner = ig_col_int(s, 1);
	}
	return conn_step_done(ctx->store, s, rc, err, "cannot look up account");
}

/* A candidate connected to tenant owner, not this one: reported in out as
 * skipped, and as err's message (the caller goes on with the others). */
static void cand_refuse(struct ig_ctx *ctx, const struct cand *c, int64_t owner, json_t *out,
			struct ig_err *err)
{
	const char *ext = ig_json_str(c->info, "external_id");
	const char *user = ig_json_str(c->info, "username");
	char msg[512], slug[64];

	/* Only an actor that spans tenants may learn which one: a
	 * tenant's key hears "another tenant" (tenant isolation). */
	if (ctx->actor.tenant_id == 0)
		snprintf(msg, sizeof(msg),
			 "account %s%s%s%s is already connected to tenant '%s'; a super admin can move it with 'ig-connect move'",
			 ext, user ? " (@" : "", user ? user : "", user ? ")" : "",
			 ig_ctx_tenant_slug(ctx, owner, slug));
	else
		snprintf(msg, sizeof(msg),
			 "account %s%s%s%s is already connected to another tenant; a super admin can move it with 'ig-connect move'",
			 ext, user ? " (@" : "", user ? user : "", user ? ")" : "");
	json_array_append_new(out, json_pack("{s:b,s:s,s:s?,s:s}", "skipped", 1,
		"account", ext, "username", user, "reason", msg));
	ig_err_set(err, IG_EX_DATAERR, "%s", msg);
}

/* Write the candidate's row: update *id (connected again in its own
 * tenant) or, when *id is 0, insert it and set *id. */
static int cand_upsert(struct ig_ctx *ctx, int64_t tenant_id, int64_t agent, const char *flavour,
		       const char *channel, const struct cand *c, int64_t now, int64_t *id,
		       struct ig_err *err)
{
	const char *ext = ig_json_str(c->info, "external_id");
	const char *user = ig_json_str(c->info, "username");
	char *details = json_dumps(json_object_get(c->info, "details"), JSON_COMPACT | JSON_SORT_KEYS);
	const json_t *fc = json_object_get(c->info, "followers_count");
	struct ig_stmt *s;
	int rc;

	/* followers_count is NULL when Meta did not say, set below when it did */
	if (*id) {
		s = ig_store_prepare(ctx->store,
			"UPDATE accounts SET agent_id = ?, flavour = ?, page_id = ?, username = ?,"
			" name = ?, profile_picture_url = ?, followers_count = NULL, biography = ?,"
			" status = 'active', scopes = ?, details = ?, login_user_id = ?,"
			" last_error = NULL, last_synced_at = ?, updated_at = ? WHERE id = ?", err);
		if (s)
			ig_stmt_bind(s, "Isssssssssiii", agent, flavour,
				ig_json_str(c->info, "page_id"), user, ig_json_str(c->info, "name"),
				ig_json_str(c->info, "profile_picture_url"), ig_json_str(c->info, "biography"),
				c->scopes, details ? details : "{}", c->login_user, now, now, *id);
	} else {
		s = ig_store_prepare(ctx->store,
			"INSERT INTO accounts(tenant_id, agent_id, channel, flavour, external_id,"
			" page_id, username, name, profile_picture_url, followers_count, biography,"
			" status, scopes, details, login_user_id, created_at, updated_at, last_synced_at)"
			" VALUES (?,?,?,?,?,?,?,?,?,NULL,?,'active',?,?,?,?,?,?)", err);
		if (s)
			ig_stmt_bind(s, "iIsssssssssssiii", tenant_id, agent, channel, flavour, ext,
				ig_json_str(c->info, "page_id"), user, ig_json_str(c->info, "name"),
				ig_json_str(c->info, "profile_picture_url"), ig_json_str(c->info, "biography"),
				c->scopes, details ? details : "{}", c->login_user, now, now, now);
	}
	free(details);
	if (!s)
		return ecode(err);
	if ((rc = ig_store_run(ctx->store, s, err)))
		return rc;
	if (!*id)
		*id = ig_store_last_id(ctx->store);
	if (json_is_integer(fc))
		return ig_store_runf(ctx->store, err, "UPDATE accounts SET followers_count = ? WHERE id = ?",
				     "ii", (int64_t)json_integer_value(fc), *id);
	return 0;
}

/* Seal the candidate's token under row id, audit the connection, and
 * append the account's record to out. */
static int cand_seal(struct ig_ctx *ctx, int64_t tenant_id, int64_t agent, const char *flavour,
		     const struct cand *c, int64_t id, int reconnect, int64_t now, json_t *out,
		     struct ig_err *err)
{
	char aname[128];
	json_t *rec, *detail;
	int rc;

	if ((rc = conn_store_token(ctx, id, c->token, now, c->expires_at, err)))
		return rc;
	detail = json_pack("{s:s,s:s?,s:s?,s:s?,s:b}", "flavour", flavour,
			   "username", ig_json_str(c->info, "username"),
			   "page_id", ig_json_str(c->info, "page_id"), "agent",
			   agent ? conn_agent_name(ctx, agent, aname, sizeof(aname)) : NULL,
			   "reconnect", reconnect);
	rc = ig_audit(ctx, tenant_id, "account.connect", ig_json_str(c->info, "external_id"), "ok",
		      detail, err);
	json_decref(detail);
	if (rc)
		return rc;
	if (!(rec = account_record(ctx, id)))
		return oom(err);
	json_object_set_new(rec, "reconnected", json_boolean(reconnect));
	json_array_append_new(out, rec);
	return 0;
}

/*
 * Store the candidates for tenant/agent in one transaction: insert (or
 * update, when the account is already this tenant's), seal the token under
 * the row's id, audit.  An account of another tenant is refused and reported
 * in *out; *conflicts counts them.
 */
static int store_cands(struct ig_ctx *ctx, int64_t tenant_id, int64_t agent, const char *flavour,
		       struct cands *cs, json_t *out, int *conflicts, struct ig_err *err)
{
	const char *channel = cands_messenger(cs) ? "messenger" : "instagram";
	int64_t now = ig_time_now();
	size_t i;
	int rc;

	*conflicts = 0;
	if ((rc = ig_store_begin(ctx->store, err)))
		return rc;
	for (i = 0; i < cs->n; i++) {
		const struct cand *c = &cs->v[i];
		int64_t id, owner;

		if ((rc = cand_existing(ctx, channel, ig_json_str(c->info, "external_id"), &id, &owner,
					err)))
			goto fail;
		if (id && owner != tenant_id) {
			cand_refuse(ctx, c, owner, out, err);
			(*conflicts)++;
			continue;
		}
		if ((rc = cand_upsert(ctx, tenant_id, agent, flavour, channel, c, now, &id, err))
		    || (rc = cand_seal(ctx, tenant_id, agent, flavour, c, id, owner != 0, now, out,
				       err)))
			goto fail;
	}
	if ((rc = ig_store_commit(ctx->store, err)))
		return rc;
	return *conflicts ? IG_EX_DATAERR : 0;
fail:
	ig_store_rollback(ctx->store);
	return rc;
}

/* The common end of callback and add. */
int conn_finish_connect(struct ig_ctx *ctx, int64_t tenant_id, int64_t agent, const char *flavour,
			struct cands *cs, json_t **out, struct ig_err *err)
{
	int conflicts = 0, rc;
	size_t i;
	json_t *e;

	*out = json_array();
	if (!*out)
		return oom(err);
	if (cs->n == 0) {
		int msgr = cands_messenger(cs);
		const char *none = msgr ? "no Page connected for Messenger"
					: "no Instagram account connected";
		size_t pages = json_array_size(cs->skipped);

		json_array_extend(*out, cs->skipped);
		if (pages)
			return ig_err_set(err, IG_EX_DATAERR, "%s: none of the %zu Page%s %s", none,
				pages, pages == 1 ? "" : "s", msgr ? "is usable"
				: "has a usable linked Instagram professional account");
		return ig_err_set(err, IG_EX_DATAERR, "%s: the user manages no Facebook Page", none);
	}
	rc = store_cands(ctx, tenant_id, agent, flavour, cs, *out, &conflicts, err);
	json_array_foreach(cs->skipped, i, e)
		json_array_append(*out, e);
	return rc;
}

/* ------------------------------------------------------------ add */

int ig_connect_add(struct ig_ctx *ctx, struct ig_graph *g, int64_t tenant_id, const char *agent,
		   const char *flavour, const char *token, json_t **out, struct ig_err *err)
{
	return ig_connect_add_channel(ctx, g, tenant_id, agent, flavour, "instagram", token, out,
				      err);
}

int ig_connect_add_channel(struct ig_ctx *ctx, struct ig_graph *g, int64_t tenant_id,
			   const char *agent, const char *flavour, const char *channel,
			   const char *token, json_t **out, struct ig_err *err)
{
	struct cands cs = { 0 };
	int64_t agent_row = 0;
	json_t *dbg = NULL;
	char *long_tok = NULL;
	int rc;

	*out = NULL;
	if ((rc = conn_channel_check(flavour, channel, err)))
		return rc;
	cs.channel = channel;
	if (!token || !*token)
		return ig_err_set(err, IG_EX_DATAERR, "no token on stdin");
	if ((rc = ig_ctx_keys(ctx, err)))
		return rc;
	if (agent && (rc = ig_ctx_agent(ctx, tenant_id, agent, &agent_row, err)))
		return rc;
	if (!(cs.skipped = json_array()))
		return oom(err);
	if (is_ig(flavour)) {
		/* The expiry is unknown until the first refresh. */
		rc = conn_ig_candidate(g, token, 0, NULL, NULL, &cs, err);
		goto done;
	}
	/* Facebook: a user token lists its Pages; a Page token is one Page. */
	if ((rc = conn_debug_token(ctx, g, token, &dbg, err)))
		goto done;
	if (!json_is_true(json_object_get(dbg, "is_valid"))) {
		rc = ig_err_set(err, IG_EX_NOPERM, "the token is not valid (debug_token says so)");
		goto done;
	}
	if (ig_json_str(dbg, "type") && !strcasecmp(ig_json_str(dbg, "type"), "PAGE")) {
		/* tasks is a field of the /me/accounts edge, not of the Page
		 * node: Meta answers (#100) for it here (reference §7.2). */
		static const char *const q[] = {
			"fields", "id,name,instagram_business_account", NULL };
		json_t *page = NULL;
		char *scopes = conn_perms_csv(json_object_get(dbg, "scopes"));
		char uid[32] = "";

		ig_json_id(dbg, "user_id", uid);
		rc = conn_gcall(g, IG_HOST_GRAPH_FB, "GET", 1, "/me", q, NULL, token, 1, &page,
				NULL, err);
		if (!rc) {
			json_object_set_new(page, "access_token", json_string(token));
			rc = fb_page_candidate(g, page, 0, scopes, uid, &cs, err);
			/* do not keep a token copy in the JSON value */
			json_object_set_new(page, "access_token", json_null());
		}
		json_decref(page);
		free(scopes);
		goto done;
	}
	if ((rc = conn_fb_long_lived(ctx, g, token, &long_tok, err)))
		goto done;
	rc = conn_fb_candidates(ctx, g, long_tok, &cs, err);
done:
	if (!rc)
		rc = conn_finish_connect(ctx, tenant_id, agent_row, flavour, &cs, out, err);
	json_decref(dbg);
	ig_wipe_free(long_tok);
	conn_cands_release(&cs);
	return rc;
}

/* ------------------------------------------------------------ assign */

int ig_connect_assign(struct ig_ctx *ctx, const struct ig_account *acc, const char *agent,
		      int to_default, const char *location, json_t **out, struct ig_err *err)
{
	int64_t ag = acc->agent_id, lo = acc->location_id;
	struct ig_stmt *s;
	json_t *detail;
	int rc;

	*out = NULL;
	if (agent && (rc = ig_ctx_agent(ctx, acc->tenant_id, agent, &ag, err)))
		return rc;
	if (to_default)
		ag = 0;
	if (location && *location && (rc = ig_ctx_location(ctx, acc->tenant_id, location, &lo, err)))
		return rc;
	if (location && !*location)
		lo = 0;
	if ((rc = ig_store_begin(ctx->store, err)))
		return rc;
	s = ig_store_prepare(ctx->store,
		"UPDATE accounts SET agent_id = ?, location_id = ?, updated_at = ? WHERE id = ?", err);
	if (!s || (rc = ig_store_run(ctx->store,
			(ig_stmt_bind(s, "IIii", ag, lo, ig_time_now(), acc->id), s), err)))
		goto fail;
	detail = json_pack("{s:s?,s:s?}", "agent", agent, "location", location);
	if (to_default)
		json_object_set_new(detail, "agent", json_null());
	rc = ig_audit(ctx, acc->tenant_id, "account.assign", acc->external_id, "ok", detail, err);
	json_decref(detail);
	if (rc)
		goto fail;
	if (!(*out = account_record(ctx, acc->id))) {
		rc = oom(err);
		goto fail;
	}
	if ((rc = ig_store_commit(ctx->store, err))) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
fail:
	return conn_rollback(ctx->store, rc, err);
}

/* ------------------------------------------------------------ disconnect */

/* Delete an account row and, by the foreign keys, what hangs off it. */
int conn_erase_account(struct ig_ctx *ctx, int64_t id, struct ig_err *err)
{
	struct ig_stmt *s = ig_store_prepare(ctx->store, "DELETE FROM accounts WHERE id = ?", err);

	if (!s)
		return ecode(err);
	ig_stmt_bind(s, "i", id);
	return ig_store_run(ctx->store, s, err);
}

int ig_connect_disconnect(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
			  int erase, json_t **out, struct ig_err *err)
{
	json_t *warnings = json_array(), *detail;
	char *token = NULL, path[96];
	struct ig_err e = { 0 };
	int rc;

	*out = conn_result(acc);
	json_object_set_new(*out, "warnings", warnings);
	if (!erase && !strcmp(acc->status, "disconnected"))
		return ig_err_set(err, IG_EX_DATAERR,
			"account %s is already disconnected (add --erase to delete it)", acc->external_id);
	/* Unsubscribe first, while we still hold the token; failing here must
	 * not keep the user from disconnecting (the token may be dead). */
	if (acc->has_token && (is_ig(acc->flavour) || acc->page_id[0])) {
		if (conn_account_token(ctx, acc, &token, &e) == 0) {
			conn_subscribed_path(acc, path, sizeof(path));
			if (conn_gcall(g, is_ig(acc->flavour) ? IG_HOST_GRAPH_IG : IG_HOST_GRAPH_FB,
				       "DELETE", 1, path, NULL, NULL, token, 1, NULL, NULL, &e))
				json_array_append_new(warnings, json_pack("{s:s}", "unsubscribe", e.msg));
			ig_wipe_free(token);
		} else {
			json_array_append_new(warnings, json_pack("{s:s}", "unsubscribe", e.msg));
		}
	}
	if ((rc = ig_store_begin(ctx->store, err)))
		return rc;
	rc = erase ? conn_erase_account(ctx, acc->id, err)
		   : conn_drop_tokens(ctx, acc->id, "disconnected", err);
	if (rc)
		goto fail;
	detail = json_pack("{s:s?,s:O}", "username", acc->username[0] ? acc->username : NULL,
			   "warnings", warnings);
	rc = ig_audit(ctx, acc->tenant_id, erase ? "account.erase" : "account.disconnect",
		      acc->external_id, "ok", detail, err);
	json_decref(detail);
	if (rc || (rc = ig_store_commit(ctx->store, err)))
		goto fail;
	json_object_set_new(*out, "status", json_string(erase ? "erased" : "disconnected"));
	return 0;
fail:
	ig_store_rollback(ctx->store);
	return rc;
}

/* ------------------------------------------------------------ move */

/* "name" as a quoted SQL identifier (double quotes doubled); new string. */
static char *quote_ident(const char *name)
{
	size_t n = strlen(name), i, o = 0;
	char *q = malloc(2 * n + 3);

	if (!q)
		return NULL;
	q[o++] = '"';
	for (i = 0; i < n; i++) {
		if (name[i] == '"')
			q[o++] = '"';
		q[o++] = name[i];
	}
	q[o++] = '"';
	q[o] = '\0';
	return q;
}

int ig_connect_move(struct ig_ctx *ctx, const struct ig_account *acc, const char *to_tenant,
		    json_t **out, struct ig_err *err)
{
	int64_t to = 0;
	json_t *detail, *tables = json_array();
	char **names = NULL;
	size_t n = 0, i;
	int rc;

	*out = NULL;
	if ((rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_WRITE, "account.move", err)))
		goto out;
	if ((rc = ig_ctx_tenant(ctx, to_tenant, &to, err)))
		goto out;
	if (to == acc->tenant_id) {
		rc = ig_err_set(err, IG_EX_DATAERR, "account %s already belongs to tenant '%s'",
				acc->external_id, to_tenant);
		goto out;
	}
	if ((rc = ig_store_begin(ctx->store, err)))
		goto out;
	/* Every table whose rows hang off an account and carry its tenant
	 * (conversations, messages, comments, outbox, and what later
	 * migrations add) follows the account (schema discovery: store.h). */
	if ((rc = ig_store_tables_with(ctx->store, "account_id", "tenant_id", "accounts", &names, &n,
				       err)))
		goto fail;
	for (i = 0; i < n; i++) {
		char *sql = NULL, *q = quote_ident(names[i]);

		/* the values are integers; the name is quoted as an identifier */
		if (!q || asprintf(&sql, "UPDATE %s SET tenant_id = %lld WHERE account_id = %lld", q,
				   (long long)to, (long long)acc->id) < 0)
			sql = NULL;
		free(q);
		rc = sql ? ig_store_exec(ctx->store, sql, err) : oom(err);
		free(sql);
		if (rc)
			goto fail;
		json_array_append_new(tables, json_string(names[i]));
	}
	if ((rc = ig_store_runf(ctx->store, err,
			"UPDATE escalations SET tenant_id = ? WHERE conversation_id IN"
			" (SELECT id FROM conversations WHERE account_id = ?)", "ii", to, acc->id))
	    || (rc = ig_store_runf(ctx->store, err,
			"UPDATE conversations SET assignee_user_id = NULL WHERE account_id = ?", "i", acc->id))
	    || (rc = ig_store_runf(ctx->store, err,
			"UPDATE comments SET assignee_user_id = NULL WHERE account_id = ?", "i", acc->id))
	    || (rc = ig_store_runf(ctx->store, err,
			"UPDATE accounts SET tenant_id = ?, agent_id = NULL, location_id = NULL,"
			" updated_at = ? WHERE id = ?", "iii", to, ig_time_now(), acc->id)))
		goto fail;
	detail = json_pack("{s:s,s:s,s:O}", "from", acc->tenant, "to", to_tenant, "tables", tables);
	rc = ig_audit(ctx, acc->tenant_id, "account.move", acc->external_id, "ok", detail, err);
	if (!rc)
		rc = ig_audit(ctx, to, "account.move", acc->external_id, "ok", detail, err);
	json_decref(detail);
	if (rc)
		goto fail;
	*out = account_record(ctx, acc->id);
	if ((rc = ig_store_commit(ctx->store, err))) {
		json_decref(*out);
		*out = NULL;
	}
	goto out;
fail:
	rc = conn_rollback(ctx->store, rc, err);
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	json_decref(tables);
	return rc;
}
