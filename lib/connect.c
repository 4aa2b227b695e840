/*
 * lib/connect.c — the core of the connect module (see connect.h): what its
 * files share (Graph calls, statement ends, listing helpers, the profile
 * Meta returns), flavour and channel, the account lookups every subcommand
 * starts from (tenant, find, all), and the two calls that keep a connected
 * account in touch with Meta: test and subscribe.  The other parts:
 * lib/oauth.c, lib/accounts.c, lib/tokens.c, lib/callbacks.c, lib/doctor.c
 * (connect_int.h says who shares what).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "authz.h"
#include "connect_int.h"
#include "crypto.h"
#include "igtime.h"
#include "jsonio.h"

/* Webhook fields per flavour (reference §1.4).  Instagram Login subscribes the
 * Instagram fields on the account itself; a Page takes only Page fields (the
 * Instagram fields of Facebook Login are chosen at app level). */
static const char ig_default_fields[] =
	"comments,live_comments,messages,message_reactions,messaging_postbacks,"
	"messaging_seen,messaging_referral,message_edit,messaging_optins,"
	"messaging_handover,standby";
static const char fb_default_fields[] =
	"messages,message_echoes,message_reactions,message_edits,messaging_postbacks,"
	"messaging_referrals,messaging_handovers,standby";

/* ------------------------------------------------------------------ helpers */

int ig_connect_flavour_valid(const char *f)
{
	return f && (!strcmp(f, "instagram") || !strcmp(f, "facebook")) ? 0 : -1;
}

int ig_connect_channel_valid(const char *c)
{
	return c && (!strcmp(c, "instagram") || !strcmp(c, "messenger")) ? 0 : -1;
}

/* Messenger needs Facebook Login: 64 otherwise. */
int conn_channel_check(const char *flavour, const char *channel, struct ig_err *err)
{
	if (ig_connect_channel_valid(channel))
		return ig_err_set(err, IG_EX_USAGE, "channel must be instagram or messenger, not '%s'",
				  channel ? channel : "");
	if (!strcmp(channel, "messenger") && is_ig(flavour))
		return ig_err_set(err, IG_EX_USAGE,
			"the messenger channel needs Facebook Login (--flavour facebook): Messenger"
			" belongs to a Facebook Page");
	return 0;
}

/* One Graph call; on success *body is a new reference (may be NULL for a
 * non-JSON body).  On failure err holds the client's message, and *gerr (if
 * not NULL) the decoded Graph error. */
int conn_gcall(struct ig_graph *g, enum ig_host host, const char *method, int versioned,
	       const char *path, const char *const *query, const char *const *form,
	       const char *token, int idem, json_t **body, struct ig_graph_error *gerr,
	       struct ig_err *err)
{
	struct ig_graph_req r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.host = host;
	r.method = method;
	r.versioned = versioned;
	r.path = path;
	r.query = query;
	r.form = form;
	r.token = token;
	r.idempotent = idem;
	rc = ig_graph_call(g, &r);
	if (body)
		*body = NULL;
	if (gerr)
		*gerr = r.resp.gerr;
	if (rc) {
		ig_err_set(err, rc, "%s", r.err.msg);
		ig_graph_resp_release(&r.resp);
		return rc;
	}
	if (body) {
		*body = r.resp.body;
		r.resp.body = NULL;
	}
	ig_graph_resp_release(&r.resp);
	return 0;
}

/* After a loop over ig_stmt_next: 0, or the error (rc < 0) with what
 * before the store's message.  The statement is reset either way. */
int conn_step_done(struct ig_store *st, struct ig_stmt *s, int rc, struct ig_err *err,
		   const char *what)
{
	(void)st;
	ig_stmt_reset(s);
	if (rc < 0)
		return err ? ig_err_prefix(err, "%s", what) : IG_EX_SOFTWARE;
	return 0;
}

const char *conn_agent_name(struct ig_ctx *ctx, int64_t id, char *buf, size_t n)
{
	struct ig_stmt *s;

	buf[0] = '\0';
	if (!id || !(s = ig_store_prepare(ctx->store, "SELECT name FROM agents WHERE id = ?", NULL)))
		return buf;
	ig_stmt_bind(s, "i", id);
	if (ig_stmt_next(ctx->store, s, NULL) > 0)
		snprintf(buf, n, "%s", ig_col_text(s, 0));
	ig_stmt_reset(s);
	return buf;
}

/* ------------------------------------------------------------ account lookups */

int ig_connect_tenant(struct ig_ctx *ctx, const char *slug, enum ig_access a, const char *action,
		      int allow_all, int64_t *id, struct ig_err *err)
{
	int rc;

	*id = 0;
	if (!slug || !*slug) {
		if (ctx->actor.tenant_id) {
			*id = ctx->actor.tenant_id;
		} else if (allow_all) {
			return 0;  /* an actor spanning tenants: all of them */
		} else {
			return ig_err_set(err, IG_EX_USAGE, "which tenant? name one with --tenant");
		}
	} else if ((rc = ig_ctx_tenant(ctx, slug, id, err))) {
		char have[64];

		if (rc != IG_EX_DATAERR || ctx->actor.super_admin || ctx->actor.kind != IG_ACTOR_KEY)
			return rc;
		/* A tenant key must not learn which tenants exist: same answer
		 * as for an existing one. */
		ig_ctx_tenant_slug(ctx, ctx->actor.tenant_id, have);
		ig_audit(ctx, ctx->actor.tenant_id, action, slug, "denied", NULL, NULL);
		return ig_err_set(err, IG_EX_NOPERM,
			"permission denied: this API key belongs to tenant '%s', not '%s'", have, slug);
	}
	return ig_authz_require(ctx, *id, IG_MOD_ACCOUNTS, a, action, err);
}

static void acc_from_row(struct ig_stmt *s, struct ig_account *a)
{
	memset(a, 0, sizeof(*a));
	a->id = ig_col_int(s, 0);
	a->tenant_id = ig_col_int(s, 1);
	a->agent_id = ig_col_int(s, 2);
	a->location_id = ig_col_int(s, 3);
	snprintf(a->tenant, sizeof(a->tenant), "%s", ig_col_text(s, 4));
	snprintf(a->flavour, sizeof(a->flavour), "%s", ig_col_text(s, 5));
	snprintf(a->external_id, sizeof(a->external_id), "%s", ig_col_text(s, 6));
	snprintf(a->page_id, sizeof(a->page_id), "%s", ig_col_text(s, 7));
	snprintf(a->username, sizeof(a->username), "%s", ig_col_text(s, 8));
	snprintf(a->status, sizeof(a->status), "%s", ig_col_text(s, 9));
	a->token_expires_at = ig_col_int(s, 10);
	a->token_issued_at = ig_col_int(s, 11);
	a->has_token = (int)ig_col_int(s, 12);
	snprintf(a->channel, sizeof(a->channel), "%s", ig_col_text(s, 13));
}

int conn_acc_rows(struct ig_ctx *ctx, struct ig_stmt *s, struct ig_account **accs, size_t *n,
		  const char *what, struct ig_err *err)
{
	size_t cap = 0;
	int rc;

	while ((rc = ig_stmt_next(ctx->store, s, err)) > 0) {
		if (*n == cap) {
			struct ig_account *p;

			cap = cap ? 2 * cap : 16;
			p = realloc(*accs, cap * sizeof(**accs));
			if (!p) {
				ig_stmt_reset(s);
				free(*accs);
				*accs = NULL;
				*n = 0;
				return oom(err);
			}
			*accs = p;
		}
		acc_from_row(s, &(*accs)[(*n)++]);
	}
	return conn_step_done(ctx->store, s, rc, err, what);
}

int ig_connect_find(struct ig_ctx *ctx, int64_t tenant_id, const char *ref, enum ig_access a,
		    const char *action, struct ig_account *acc, struct ig_err *err)
{
	struct ig_stmt *s;
	int rc, n = 0, exact = 0;
	int64_t scope = ctx->actor.tenant_id ? ctx->actor.tenant_id : tenant_id;
	char other[64] = "";

	if (!ref || !*ref || (ref[0] == '@' && !ref[1]))
		return ig_err_set(err, IG_EX_USAGE, "name an account: its id or @username");
	/* An exact account id wins over a Page id: a Page connected for
	 * Messenger (external_id = the Page) and for Instagram (page_id = the
	 * Page) is named by its id as the Messenger account. */
	s = ig_store_prepare(ctx->store,
		"SELECT " ACC_COLS ", a.external_id = ?2 FROM accounts a JOIN tenants t ON t.id = a.tenant_id"
		" WHERE (?1 = 0 OR a.tenant_id = ?1)"
		" AND (a.external_id = ?2 OR a.page_id = ?2 OR (?3 <> '' AND a.username = ?3 COLLATE NOCASE))"
		" ORDER BY a.external_id = ?2 DESC, a.id", err);
	if (!s)
		return ecode(err);
	ig_stmt_bind(s, "iss", scope, ref, ref[0] == '@' ? ref + 1 : "");
	while ((rc = ig_stmt_next(ctx->store, s, err)) > 0) {
		int is_exact = (int)ig_col_int(s, 14);

		if (n++ == 0) {
			acc_from_row(s, acc);
			exact = is_exact;
		} else if (!(exact && !is_exact)) {
			snprintf(other, sizeof(other), "%s", ig_col_text(s, 4));
		} else {
			n--;  /* a Page-id match behind an exact one */
		}
	}
	if ((rc = conn_step_done(ctx->store, s, rc, err, "cannot look up account")))
		return rc;
	if (n == 0)
		return ig_err_set(err, IG_EX_DATAERR, "unknown account '%s'", ref);
	if (n > 1)
		return ig_err_set(err, IG_EX_DATAERR,
			"'%s' names accounts in tenants '%s' and '%s'; add --tenant", ref, acc->tenant,
			other);
	return ig_authz_require(ctx, acc->tenant_id, IG_MOD_ACCOUNTS, a, action, err);
}

int ig_connect_all(struct ig_ctx *ctx, int64_t tenant_id, int include_disconnected,
		   struct ig_account **accs, size_t *n, struct ig_err *err)
{
	struct ig_stmt *s;
	int64_t scope = ctx->actor.tenant_id ? ctx->actor.tenant_id : tenant_id;

	*accs = NULL;
	*n = 0;
	s = ig_store_prepare(ctx->store,
		"SELECT " ACC_COLS " FROM accounts a JOIN tenants t ON t.id = a.tenant_id"
		" WHERE (?1 = 0 OR a.tenant_id = ?1) AND (?2 OR a.status <> 'disconnected')"
		" ORDER BY a.id", err);
	if (!s)
		return ecode(err);
	ig_stmt_bind(s, "ii", scope, (int64_t)include_disconnected);
	return conn_acc_rows(ctx, s, accs, n, "cannot list accounts", err);
}

/* ------------------------------------------------------------ records */

json_t *conn_scopes_array(const char *csv)
{
	json_t *a = json_array();
	const char *p = csv;

	while (p && *p) {
		size_t n = strcspn(p, ", ");

		if (n)
			json_array_append_new(a, json_stringn(p, n));
		p += n;
		p += strspn(p, ", ");
	}
	return a;
}

/* Copy the profile fields Meta returned into info. */
void conn_take_profile(json_t *info, const json_t *me)
{
	static const char *const keys[] = {
		"username", "name", "profile_picture_url", "biography", NULL
	};
	int i;

	for (i = 0; keys[i]; i++)
		if (ig_json_str(me, keys[i]))
			json_object_set_new(info, keys[i], json_string(ig_json_str(me, keys[i])));
	if (json_is_integer(json_object_get(me, "followers_count")))
		json_object_set(info, "followers_count", json_object_get(me, "followers_count"));
}

/* Permissions as Meta gives them (comma string or array) → comma string. */
char *conn_perms_csv(const json_t *v)
{
	char *out = NULL;
	size_t i;
	json_t *e;

	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (!json_is_array(v))
		return strdup("");
	json_array_foreach(v, i, e) {
		char *n;
		const char *s = json_is_string(e) ? json_string_value(e)
			: json_is_object(e) && json_is_string(json_object_get(e, "permission"))
			? json_string_value(json_object_get(e, "permission")) : NULL;

		if (!s)
			continue;
		if (asprintf(&n, "%s%s%s", out ? out : "", out ? "," : "", s) < 0) {
			free(out);
			return NULL;
		}
		free(out);
		out = n;
	}
	return out ? out : strdup("");
}

json_t *conn_result(const struct ig_account *acc)
{
	return json_pack("{s:s,s:s,s:s?,s:s}", "tenant", acc->tenant, "account", acc->external_id,
			 "username", acc->username[0] ? acc->username : NULL, "flavour", acc->flavour);
}

void conn_set_error(json_t *o, int rc, const char *msg)
{
	json_object_set_new(o, "error", json_string(msg));
	json_object_set_new(o, "exit", json_integer(rc));
}

/* ------------------------------------------------------------ test */

/* The profile behind the stored token: /me on graph.instagram.com, or the
 * Instagram account node on graph.facebook.com with the Page token. */
int conn_fetch_profile(struct ig_graph *g, const struct ig_account *acc, const char *token,
		       json_t **me, struct ig_err *err)
{
	static const char *const igq[] = { "fields", "user_id," PROFILE_FIELDS, NULL };
	static const char *const fbq[] = { "fields", "id," PROFILE_FIELDS, NULL };
	static const char *const pageq[] = { "fields", "id,name", NULL };
	char path[80], idbuf[32];
	const char *got;
	int rc;

	if (is_messenger(acc)) {
		/* a Messenger account is its Page: the Page node, no Instagram fields */
		snprintf(path, sizeof(path), "/%s", acc->page_id[0] ? acc->page_id : acc->external_id);
		rc = conn_gcall(g, IG_HOST_GRAPH_FB, "GET", 1, path, pageq, NULL, token, 1, me,
				NULL, err);
	} else if (is_ig(acc->flavour)) {
		rc = conn_gcall(g, IG_HOST_GRAPH_IG, "GET", 1, "/me", igq, NULL, token, 1, me, NULL,
				err);
	} else {
		snprintf(path, sizeof(path), "/%s", acc->external_id);
		rc = conn_gcall(g, IG_HOST_GRAPH_FB, "GET", 1, path, fbq, NULL, token, 1, me, NULL,
				err);
	}
	if (rc)
		return rc;
	got = ig_json_id(*me, is_ig(acc->flavour) ? "user_id" : "id", idbuf);
	if (got && strcmp(got, acc->external_id)) {
		json_decref(*me);
		*me = NULL;
		return ig_err_set(err, IG_EX_DATAERR,
			"the stored token belongs to account %s, not %s", got, acc->external_id);
	}
	return 0;
}

int ig_connect_test(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
		    json_t **out, struct ig_err *err)
{
	char *token = NULL;
	json_t *me = NULL;
	int rc;

	*out = conn_result(acc);
	if (!strcmp(acc->status, "disconnected")) {
		rc = ig_err_set(err, IG_EX_DATAERR,
			"account %s is disconnected; connect it again with 'ig-connect url'",
			acc->external_id);
		conn_set_error(*out, rc, err->msg);
		return rc;
	}
	if ((rc = conn_account_token(ctx, acc, &token, err))) {
		conn_set_error(*out, rc, err->msg);
		return rc;
	}
	rc = conn_fetch_profile(g, acc, token, &me, err);
	ig_wipe_free(token);
	if (rc) {
		conn_set_error(*out, rc, err->msg);
		json_object_set_new(*out, "status", json_string(rc == IG_EX_NOPERM ? "needs_reauth"
			: rc == IG_EX_UNAVAILABLE ? "error" : acc->status));
		/* the call's failure is the news; a failure to note it is not */
		conn_note_result(ctx, acc, rc, err->msg, NULL);
		return rc;
	}
	if ((rc = ig_store_begin(ctx->store, err)))
		goto out;
	{
		struct ig_stmt *s = ig_store_prepare(ctx->store,
			"UPDATE accounts SET username = coalesce(?1, username), name = coalesce(?2, name),"
			" profile_picture_url = coalesce(?3, profile_picture_url),"
			" followers_count = coalesce(?4, followers_count), biography = coalesce(?5, biography),"
			" status = 'active', last_error = NULL, last_synced_at = ?6, updated_at = ?6"
			" WHERE id = ?7", err);
		const json_t *fc = json_object_get(me, "followers_count");

		if (!s) {
			ig_store_rollback(ctx->store);
			rc = ecode(err);
			goto out;
		}
		if (json_is_integer(fc))
			ig_stmt_bind(s, "sssisii", ig_json_str(me, "username"), ig_json_str(me, "name"),
				      ig_json_str(me, "profile_picture_url"), (int64_t)json_integer_value(fc),
				      ig_json_str(me, "biography"), ig_time_now(), acc->id);
		else
			ig_stmt_bind(s, "sssnsii", ig_json_str(me, "username"), ig_json_str(me, "name"),
				      ig_json_str(me, "profile_picture_url"), ig_json_str(me, "biography"),
				      ig_time_now(), acc->id);
		if ((rc = ig_store_run(ctx->store, s, err)) || (rc = ig_store_commit(ctx->store, err))) {
			ig_store_rollback(ctx->store);
			goto out;
		}
	}
	json_object_set_new(*out, "username", str_or_null(ig_json_str(me, "username")));
	json_object_set_new(*out, "verified", json_true());
	json_object_set_new(*out, "status", json_string("active"));
	conn_take_profile(*out, me);
	json_object_set_new(*out, "media_count", json_is_integer(json_object_get(me, "media_count"))
			    ? json_incref(json_object_get(me, "media_count")) : json_null());
out:
	json_decref(me);
	return rc;
}

/* ------------------------------------------------------------ subscribe */

void conn_subscribed_path(const struct ig_account *acc, char *path, size_t n)
{
	if (is_ig(acc->flavour))
		snprintf(path, n, "/me/subscribed_apps");
	else
		snprintf(path, n, "/%s/subscribed_apps", acc->page_id);
}

int ig_connect_subscribe(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
			 const char *fields, json_t **out, struct ig_err *err)
{
	char *token = NULL, path[96];
	json_t *body = NULL, *detail;
	struct ig_stmt *s;
	int rc;

	*out = conn_result(acc);
	if (!fields)
		fields = is_ig(acc->flavour) ? ig_default_fields : fb_default_fields;
	if (!strcmp(acc->status, "disconnected")) {
		rc = ig_err_set(err, IG_EX_DATAERR, "account %s is disconnected", acc->external_id);
		conn_set_error(*out, rc, err->msg);
		return rc;
	}
	if (!is_ig(acc->flavour) && !acc->page_id[0]) {
		rc = ig_err_set(err, IG_EX_DATAERR, "account %s has no Page to subscribe",
				acc->external_id);
		conn_set_error(*out, rc, err->msg);
		return rc;
	}
	if ((rc = conn_account_token(ctx, acc, &token, err))) {
		conn_set_error(*out, rc, err->msg);
		return rc;
	}
	conn_subscribed_path(acc, path, sizeof(path));
	{
		const char *q[] = { "subscribed_fields", fields, NULL };

		/* Subscribing twice is harmless: safe to resend on a timeout. */
		rc = conn_gcall(g, is_ig(acc->flavour) ? IG_HOST_GRAPH_IG : IG_HOST_GRAPH_FB,
				"POST", 1, path, q, NULL, token, 1, &body, NULL, err);
	}
	ig_wipe_free(token);
	if (!rc && json_is_false(json_object_get(body, "success")))
		rc = ig_err_set(err, IG_EX_UNAVAILABLE, "graph: POST %s answered success: false", path);
	json_decref(body);
	if (rc) {
		conn_set_error(*out, rc, err->msg);
		conn_note_result(ctx, acc, rc, err->msg, NULL);
		return rc;
	}
	if ((rc = ig_store_begin(ctx->store, err)))
		return rc;
	s = ig_store_prepare(ctx->store,
		"UPDATE accounts SET subscribed_fields = ?, updated_at = ? WHERE id = ?", err);
	if (!s || (rc = ig_store_run(ctx->store,
			(ig_stmt_bind(s, "sii", fields, ig_time_now(), acc->id), s), err))) {
		ig_store_rollback(ctx->store);
		return s ? rc : ecode(err);
	}
	detail = json_pack("{s:s}", "fields", fields);
	rc = ig_audit(ctx, acc->tenant_id, "account.subscribe", acc->external_id, "ok", detail, err);
	json_decref(detail);
	if (rc || (rc = ig_store_commit(ctx->store, err))) {
		ig_store_rollback(ctx->store);
		return rc;
	}
	json_object_set_new(*out, "subscribed_fields", conn_scopes_array(fields));
	json_object_set_new(*out, "subscribed", json_true());
	return 0;
}
