/*
 * lib/connect.c — connecting Instagram accounts (see connect.h).
 *
 * Layout: helpers (Graph calls, secrets, lookups, sealed tokens), OAuth state,
 * the two code exchanges and the account candidates they yield, storing
 * candidates, then one section per subcommand.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "authz.h"
#include "cgi.h"
#include "connect.h"
#include "crypto.h"
#include "gdpr.h"
#include "igtime.h"
#include "jsonio.h"

/* Scopes asked for by default (reference §7.1, §7.2). */
static const char ig_default_scopes[] =
	"instagram_business_basic,instagram_business_manage_messages,"
	"instagram_business_manage_comments,instagram_business_content_publish,"
	"instagram_business_manage_insights";
static const char fb_default_scopes[] =
	"instagram_basic,instagram_manage_messages,instagram_manage_comments,"
	"instagram_content_publish,instagram_manage_insights,pages_show_list,"
	"pages_read_engagement,pages_manage_metadata,pages_messaging,business_management";

/* Scopes without which the reply engine and moderation cannot work (doctor). */
static const char ig_required_scopes[] =
	"instagram_business_basic,instagram_business_manage_messages,"
	"instagram_business_manage_comments";
static const char fb_required_scopes[] =
	"instagram_basic,instagram_manage_messages,instagram_manage_comments,"
	"pages_show_list,pages_manage_metadata,pages_messaging";

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
/* Messenger (a Page connected with --channel messenger): the Page fields its
 * DMs need, and the Page scopes (reference §1.4, §7.2). */
static const char messenger_default_scopes[] =
	"pages_show_list,pages_manage_metadata,pages_messaging,pages_read_engagement,"
	"business_management";
static const char messenger_required_scopes[] =
	"pages_show_list,pages_manage_metadata,pages_messaging";

#define PROFILE_FIELDS "username,name,profile_picture_url,followers_count,biography,media_count"
#define DAY 86400
#define EXPIRY_WARN (7 * DAY)   /* doctor: a token this close to expiry is a problem */
#define MAX_PAGES 500           /* /me/accounts entries followed, at most */

/* ------------------------------------------------------------------ helpers */

int ig_connect_flavour_valid(const char *f)
{
	return f && (!strcmp(f, "instagram") || !strcmp(f, "facebook")) ? 0 : -1;
}

int ig_connect_channel_valid(const char *c)
{
	return c && (!strcmp(c, "instagram") || !strcmp(c, "messenger")) ? 0 : -1;
}

static int is_messenger(const struct ig_account *acc)
{
	return !strcmp(acc->channel, "messenger");
}

static int is_ig(const char *flavour)
{
	return !strcmp(flavour, "instagram");
}

/* The code an error carries (70 when none: a bug, or err NULL). */
static int ecode(const struct ig_err *err)
{
	return err && err->code ? err->code : IG_EX_SOFTWARE;
}

static int oom(struct ig_err *err)
{
	return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
}

static json_t *iso_or_null(int64_t t)
{
	char buf[32];

	return t > 0 ? json_string(ig_time_iso(t, buf)) : json_null();
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* One Graph call; on success *body is a new reference (may be NULL for a
 * non-JSON body).  On failure err holds the client's message, and *gerr (if
 * not NULL) the decoded Graph error. */
static int gcall(struct ig_graph *g, enum ig_host host, const char *method, int versioned,
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

/* "app_id|app_secret", the app token debug_token wants (reference §7.4). */
static int app_token(struct ig_ctx *ctx, char **out, struct ig_err *err)
{
	const char *id = ig_config_get(&ctx->cfg, "app_id");
	char *secret;
	int rc;

	*out = NULL;
	if (!id || !*id)
		return ig_err_set(err, IG_EX_CONFIG, "no app_id configured (IGKIT_APP_ID)");
	if ((rc = ig_config_secret(&ctx->cfg, "app_secret_file", &secret, err)))
		return rc;
	if (asprintf(out, "%s|%s", id, secret) < 0)
		*out = NULL;
	ig_wipe_free(secret);
	return *out ? 0 : oom(err);
}

/* The app id and secret of a login flavour. */
static int app_credentials(struct ig_ctx *ctx, const char *flavour, const char **id,
			   char **secret, struct ig_err *err)
{
	const char *idname = is_ig(flavour) ? "ig_app_id" : "app_id";

	*secret = NULL;
	*id = ig_config_get(&ctx->cfg, idname);
	if (!*id || !**id)
		return ig_err_set(err, IG_EX_CONFIG, "no %s configured (IGKIT_%s)", idname,
				  is_ig(flavour) ? "IG_APP_ID" : "APP_ID");
	return ig_config_secret(&ctx->cfg, is_ig(flavour) ? "ig_app_secret_file" : "app_secret_file",
				secret, err);
}

/* After a loop over ig_stmt_next: 0, or the error (rc < 0) with what
 * before the store's message.  The statement is reset either way. */
static int step_done(struct ig_store *st, struct ig_stmt *s, int rc, struct ig_err *err,
		     const char *what)
{
	(void)st;
	ig_stmt_reset(s);
	if (rc < 0)
		return err ? ig_err_prefix(err, "%s", what) : IG_EX_SOFTWARE;
	return 0;
}

static const char *agent_name(struct ig_ctx *ctx, int64_t id, char *buf, size_t n)
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

/* Columns read into struct ig_account, in this order. */
#define ACC_COLS "a.id, a.tenant_id, a.agent_id, a.location_id, t.slug, a.flavour," \
	" a.external_id, a.page_id, a.username, a.status, a.token_expires_at," \
	" a.token_issued_at, a.access_token IS NOT NULL, a.channel"

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
	if ((rc = step_done(ctx->store, s, rc, err, "cannot look up account")))
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
	size_t cap = 0;
	int rc;
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
	return step_done(ctx->store, s, rc, err, "cannot list accounts");
}

/* ------------------------------------------------------------ sealed tokens */

static void aad_of(int64_t id, const char *col, char *buf, size_t n)
{
	snprintf(buf, n, "accounts:%lld:%s", (long long)id, col);
}

/* Open the account's access token (new string, ig_wipe_free). */
static int account_token(struct ig_ctx *ctx, const struct ig_account *acc, char **tok,
			 struct ig_err *err)
{
	struct ig_stmt *s;
	char aad[64];
	int rc;

	*tok = NULL;
	if ((rc = ig_ctx_keys(ctx, err)))
		return rc;
	s = ig_store_prepare(ctx->store, "SELECT access_token FROM accounts WHERE id = ?", err);
	if (!s)
		return ecode(err);
	ig_stmt_bind(s, "i", acc->id);
	rc = ig_stmt_next(ctx->store, s, err);
	if (rc > 0 && ig_col_blob(s, 0, NULL)) {
		size_t blen;
		const void *blob = ig_col_blob(s, 0, &blen);

		aad_of(acc->id, "access_token", aad, sizeof(aad));
		rc = ig_open(&ctx->keys, aad, blob, blen, tok, NULL, err);
		ig_stmt_reset(s);
		if (rc)
			return ig_err_prefix(err, "token of account %s", acc->external_id);
		return 0;
	}
	if ((rc = step_done(ctx->store, s, rc, err, "cannot read token")))
		return rc;
	return ig_err_set(err, IG_EX_DATAERR,
		"account %s has no token (%s); connect it again with 'ig-connect url'",
		acc->external_id, acc->status);
}

/* Seal token for account id and store it with its times; inside the
 * caller's transaction. */
static int store_token(struct ig_ctx *ctx, int64_t id, const char *token, int64_t issued,
		       int64_t expires, struct ig_err *err)
{
	unsigned char *blob;
	size_t len;
	struct ig_stmt *s;
	char aad[64];
	int rc;

	aad_of(id, "access_token", aad, sizeof(aad));
	if ((rc = ig_seal(&ctx->keys, aad, token, strlen(token), &blob, &len, err)))
		return rc;
	s = ig_store_prepare(ctx->store,
		"UPDATE accounts SET access_token = ?, token_issued_at = ?, token_expires_at = ?,"
		" updated_at = ? WHERE id = ?", err);
	if (!s) {
		free(blob);
		return ecode(err);
	}
	ig_stmt_bind(s, "bIIii", blob, (int)len, issued, expires, ig_time_now(), id);
	rc = ig_store_run(ctx->store, s, err);
	free(blob);
	return rc;
}

/* Record the outcome of a call on the account row (own transaction). */
static int note_result(struct ig_ctx *ctx, const struct ig_account *acc, int code,
		       const char *msg, struct ig_err *err)
{
	struct ig_stmt *s;
	int rc;

	if ((rc = ig_store_begin(ctx->store, err)))
		return rc;
	if (!code) {
		s = ig_store_prepare(ctx->store,
			"UPDATE accounts SET status = 'active', last_error = NULL,"
			" last_synced_at = ?1, updated_at = ?1 WHERE id = ?2", err);
		if (s)
			ig_stmt_bind(s, "ii", ig_time_now(), acc->id);
	} else {
		/* 77: the token is no good; 69: Meta refuses; 75: try later,
		 * the account itself may be fine. */
		s = ig_store_prepare(ctx->store,
			"UPDATE accounts SET status = CASE ?1 WHEN 77 THEN 'needs_reauth'"
			" WHEN 69 THEN 'error' ELSE status END,"
			" last_error = ?2, error_count = error_count + 1, updated_at = ?3 WHERE id = ?4", err);
		if (s)
			ig_stmt_bind(s, "isii", (int64_t)code, msg, ig_time_now(), acc->id);
	}
	if (!s || (rc = ig_store_run(ctx->store, s, err))) {
		ig_store_rollback(ctx->store);
		return s ? rc : ecode(err);
	}
	return ig_store_commit(ctx->store, err);
}

/* A masked token for output, or NULL. */
static json_t *masked(const char *token)
{
	char *m = token ? ig_mask(token) : NULL;
	json_t *v = m ? json_string(m) : json_null();

	free(m);
	return v;
}

/* ------------------------------------------------------------ listing rows */

static json_t *scopes_array(const char *csv)
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
		char aad[64], *t = NULL;
		size_t blen;
		const void *blob = ig_col_blob(s, 11, &blen);

		aad_of(ig_col_int(s, 0), "access_token", aad, sizeof(aad));
		/* Without the master key, or when it does not open, there is
		 * nothing to show: the field is left out, never a placeholder. */
		if (keys_ok && !ig_open(&ctx->keys, aad, blob, blen, &t, NULL, NULL))
			tok = masked(t);
		else
			tok = NULL;
		ig_wipe_free(t);
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
	json_object_set_new(o, "scopes", scopes_array(ig_col_text(s, 13)));
	json_object_set_new(o, "subscribed_fields", scopes_array(ig_col_text(s, 14)));
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
	return step_done(ctx->store, s, rc, err, "cannot list accounts");
}

/* ------------------------------------------------------------ OAuth state */

/* mac = base64url(HMAC(HMAC(master, "oauth-state"), nonce|tenant|agent|flavour)). */
static char *state_mac(const unsigned char *master, const char *nonce, int64_t tenant,
		       int64_t agent, const char *flavour, const char *channel)
{
	unsigned char sub[32], mac[32];
	char msg[256];
	char *out;
	int n;

	ig_hmac_sha256(master, IG_KEY_LEN, "oauth-state", 11, sub);
	/* the channel is bound only when it is not the default, so states
	 * issued before channels existed still verify */
	n = snprintf(msg, sizeof(msg), "%s|%lld|%lld|%s%s%s", nonce, (long long)tenant,
		     (long long)agent, flavour, strcmp(channel, "instagram") ? "|" : "",
		     strcmp(channel, "instagram") ? channel : "");
	ig_hmac_sha256(sub, sizeof(sub), msg, (size_t)n, mac);
	out = ig_b64url_encode(mac, sizeof(mac));
	memset(sub, 0, sizeof(sub));
	return out;
}

/* A query string from key, value pairs (values escaped); new string. */
static char *query_string(const char *const *kv)
{
	char *out = NULL;
	int i;

	for (i = 0; kv[i]; i += 2) {
		char *v = ig_url_escape(kv[i + 1]);
		char *n;

		if (!v || asprintf(&n, "%s%s%s=%s", out ? out : "", out ? "&" : "", kv[i], v) < 0) {
			free(v);
			free(out);
			return NULL;
		}
		free(v);
		free(out);
		out = n;
	}
	return out ? out : strdup("");
}

int ig_connect_url(struct ig_ctx *ctx, int64_t tenant_id, const char *agent, const char *flavour,
		   const char *scopes, int64_t ttl, json_t **out, struct ig_err *err)
{
	return ig_connect_url_channel(ctx, tenant_id, agent, flavour, "instagram", scopes, ttl, out,
				      err);
}

/* Messenger needs Facebook Login: 64 otherwise. */
static int channel_check(const char *flavour, const char *channel, struct ig_err *err)
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

/* The Instagram dialog lives on www.instagram.com only (reference §7.1):
 * the old host answers "Sorry, this page isn't available". */
static int dialog_host_check(const struct ig_config *cfg, struct ig_err *err)
{
	const char *base = ig_config_get(cfg, "www_instagram_url");

	if (base && strstr(base, "api.instagram.com"))
		return ig_err_set(err, IG_EX_CONFIG,
			"www_instagram_url is '%s': Meta serves the Instagram Login dialog on"
			" https://www.instagram.com only (api.instagram.com is for the code exchange)",
			base);
	return 0;
}

int ig_connect_url_channel(struct ig_ctx *ctx, int64_t tenant_id, const char *agent,
			   const char *flavour, const char *channel, const char *scopes, int64_t ttl,
			   json_t **out, struct ig_err *err)
{
	struct ig_graph cfg_only = { .cfg = &ctx->cfg };
	const char *redirect = ig_config_get(&ctx->cfg, "redirect_uri");
	const char *app = ig_config_get(&ctx->cfg, is_ig(flavour) ? "ig_app_id" : "app_id");
	int64_t agent_row = 0, now = ig_time_now();
	char *nonce = NULL, *mac = NULL, *state = NULL, *base = NULL, *q = NULL, *url = NULL;
	char slug[64], aname[128];
	struct ig_stmt *s;
	int rc;

	*out = NULL;
	if ((rc = channel_check(flavour, channel, err)))
		return rc;
	if (is_ig(flavour) && (rc = dialog_host_check(&ctx->cfg, err)))
		return rc;
	if (!app || !*app)
		return ig_err_set(err, IG_EX_CONFIG, "no %s configured (IGKIT_%s)",
				  is_ig(flavour) ? "ig_app_id" : "app_id",
				  is_ig(flavour) ? "IG_APP_ID" : "APP_ID");
	if (!redirect || !*redirect)
		return ig_err_set(err, IG_EX_CONFIG,
				  "no redirect_uri configured (IGKIT_REDIRECT_URI): Meta sends the code there");
	if ((rc = ig_ctx_keys(ctx, err)))
		return rc;
	if (agent && (rc = ig_ctx_agent(ctx, tenant_id, agent, &agent_row, err)))
		return rc;
	if (!(nonce = ig_random_id(16)) || !(mac = state_mac(ctx->keys.keys[0].key, nonce, tenant_id,
							       agent_row, flavour, channel))
	    || asprintf(&state, "%s.%s", nonce, mac) < 0) {
		state = NULL;
		rc = oom(err);
		goto out;
	}
	{
		const char *kv[] = { "client_id", app, "redirect_uri", redirect, "response_type", "code",
				     "scope", scopes ? scopes : is_ig(flavour) ? ig_default_scopes
						: !strcmp(channel, "messenger") ? messenger_default_scopes
						: fb_default_scopes,
				     "state", state, NULL };

		/* Reference §7.1 (instagram.com/oauth/authorize) and §7.2
		 * (facebook.com/vX/dialog/oauth). */
		base = is_ig(flavour) ? ig_graph_url(&cfg_only, IG_HOST_WWW_IG, 0, "/oauth/authorize")
				      : ig_graph_url(&cfg_only, IG_HOST_WWW_FB, 1, "/dialog/oauth");
		q = query_string(kv);
		if (!base || !q || asprintf(&url, "%s?%s", base, q) < 0) {
			url = NULL;
			rc = oom(err);
			goto out;
		}
	}
	if ((rc = ig_store_begin(ctx->store, err)))
		goto out;
	/* Old states are useless after a day; keep the table small. */
	s = ig_store_prepare(ctx->store, "DELETE FROM oauth_states WHERE expires_at < ?", err);
	if (!s || ig_stmt_bind(s, "i", now - DAY) || (rc = ig_store_run(ctx->store, s, err)))
		goto fail;
	s = ig_store_prepare(ctx->store,
		"INSERT INTO oauth_states(nonce, tenant_id, agent_id, flavour, redirect_uri,"
		" created_at, expires_at, channel) VALUES (?,?,?,?,?,?,?,?)", err);
	if (!s || ig_stmt_bind(s, "siIssiis", nonce, tenant_id, agent_row, flavour, redirect, now,
				now + ttl, channel)
	    || (rc = ig_store_run(ctx->store, s, err)))
		goto fail;
	if ((rc = ig_store_commit(ctx->store, err)))
		goto out;
	*out = json_pack("{s:s,s:s,s:o,s:s,s:o,s:s,s:s}", "url", url, "state", state,
			 "expires_at", iso_or_null(now + ttl), "tenant",
			 ig_ctx_tenant_slug(ctx, tenant_id, slug), "agent",
			 agent_row ? json_string(agent_name(ctx, agent_row, aname, sizeof(aname))) : json_null(),
			 "flavour", flavour, "channel", channel);
	if (!*out)
		rc = oom(err);
	goto out;
fail:
	if (!rc)
		rc = ecode(err);
	ig_store_rollback(ctx->store);
out:
	free(nonce);
	free(mac);
	free(state);
	free(base);
	free(q);
	free(url);
	return rc;
}

struct oauth_state {
	char nonce[64];
	int64_t tenant_id, agent_id;
	char flavour[16];
	char channel[16];
	char redirect_uri[2048];
};

/* Check the state without spending it (see connect.h for the exit codes). */
static int state_check(struct ig_ctx *ctx, const char *state, struct oauth_state *st,
		       struct ig_err *err)
{
	const char *dot = strchr(state, '.');
	int64_t expires = 0, used = 0, now = ig_time_now();
	struct ig_stmt *s;
	char when[32];
	int rc, found = 0, i, good = 0;

	memset(st, 0, sizeof(*st));
	if (!dot || dot == state || (size_t)(dot - state) >= sizeof(st->nonce) || !dot[1])
		return ig_err_set(err, IG_EX_DATAERR, "malformed OAuth state '%.40s'", state);
	memcpy(st->nonce, state, (size_t)(dot - state));
	s = ig_store_prepare(ctx->store,
		"SELECT tenant_id, agent_id, flavour, redirect_uri, expires_at, used_at, channel"
		" FROM oauth_states WHERE nonce = ?", err);
	if (!s)
		return ecode(err);
	ig_stmt_bind(s, "s", st->nonce);
	rc = ig_stmt_next(ctx->store, s, err);
	if (rc > 0) {
		found = 1;
		st->tenant_id = ig_col_int(s, 0);
		st->agent_id = ig_col_int(s, 1);
		snprintf(st->flavour, sizeof(st->flavour), "%s", ig_col_text(s, 2));
		snprintf(st->redirect_uri, sizeof(st->redirect_uri), "%s", ig_col_text(s, 3));
		expires = ig_col_int(s, 4);
		used = ig_col_int(s, 5);
		snprintf(st->channel, sizeof(st->channel), "%s", ig_col_text(s, 6));
	}
	if ((rc = step_done(ctx->store, s, rc, err, "cannot read OAuth state")))
		return rc;
	if (!found)
		return ig_err_set(err, IG_EX_DATAERR,
			"unknown OAuth state '%.40s' (not issued by this store, or long expired)", state);
	/* Any key of the ring: a rotation may happen between url and callback. */
	for (i = 0; i < ctx->keys.n && !good; i++) {
		char *mac = state_mac(ctx->keys.keys[i].key, st->nonce, st->tenant_id,
				      st->agent_id, st->flavour, st->channel);

		good = mac && strlen(mac) == strlen(dot + 1)
			&& ig_ct_equal(mac, dot + 1, strlen(mac));
		free(mac);
	}
	if (!good)
		return ig_err_set(err, IG_EX_DATAERR,
			"OAuth state '%.40s' does not verify (tampered with, or not issued for this tenant and agent)",
			state);
	if (used)
		return ig_err_set(err, IG_EX_DATAERR,
			"OAuth state already used at %s; start again with 'ig-connect url'",
			ig_time_iso(used, when));
	if (expires <= now)
		return ig_err_set(err, IG_EX_DATAERR,
			"OAuth state expired at %s; start again with 'ig-connect url'",
			ig_time_iso(expires, when));
	return ig_authz_require(ctx, st->tenant_id, IG_MOD_ACCOUNTS, IG_WRITE, "account.connect",
				err);
}

/* Spend a checked state: single use, even under concurrent callbacks. */
static int state_mark_used(struct ig_ctx *ctx, const struct oauth_state *st, struct ig_err *err)
{
	struct ig_stmt *s;
	int64_t now = ig_time_now();
	int rc;

	if ((rc = ig_store_begin(ctx->store, err)))
		return rc;
	s = ig_store_prepare(ctx->store,
		"UPDATE oauth_states SET used_at = ? WHERE nonce = ? AND used_at IS NULL", err);
	if (!s || ig_stmt_bind(s, "is", now, st->nonce) || (rc = ig_store_run(ctx->store, s, err))) {
		ig_store_rollback(ctx->store);
		return s ? rc : ecode(err);
	}
	if (ig_store_changes(ctx->store) != 1) {
		ig_store_rollback(ctx->store);
		return ig_err_set(err, IG_EX_DATAERR,
			"OAuth state already used; start again with 'ig-connect url'");
	}
	return ig_store_commit(ctx->store, err);
}

/* ------------------------------------------------------------ candidates */

/* An account found by an exchange, waiting to be stored. */
struct cand {
	json_t *info;        /* external_id, page_id, username, name, profile_picture_url,
	                      * followers_count, biography, details (object) */
	char *token;         /* wiped on release */
	int64_t expires_at;  /* 0 = never */
	char *scopes;
	char login_user[64];
};

struct cands {
	struct cand *v;
	size_t n, cap;
	json_t *skipped;     /* array of {skipped, page_id, reason} */
	const char *channel; /* "instagram" (NULL) or "messenger" */
};

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

static void cands_release(struct cands *c)
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

/* Copy the profile fields Meta returned into info. */
static void take_profile(json_t *info, const json_t *me)
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
static char *perms_csv(const json_t *v)
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

static int bad_reply(struct ig_err *err, const char *what)
{
	return ig_err_set(err, IG_EX_UNAVAILABLE, "graph: unexpected answer to %s", what);
}

/* Instagram Login: the Instagram account behind token (GET /me). */
static int ig_candidate(struct ig_graph *g, const char *token, int64_t expires,
			const char *scopes, const char *login_user, struct cands *cs,
			struct ig_err *err)
{
	static const char *const q[] = { "fields", "user_id," PROFILE_FIELDS ",account_type", NULL };
	json_t *me;
	struct cand *c;
	char idbuf[32], uidbuf[32];
	const char *ext, *id;
	int rc;

	if ((rc = gcall(g, IG_HOST_GRAPH_IG, "GET", 1, "/me", q, NULL, token, 1, &me, NULL, err)))
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
	take_profile(c->info, me);
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

/* GET debug_token for token; *data new. */
static int debug_token(struct ig_ctx *ctx, struct ig_graph *g, const char *token, json_t **data,
		       struct ig_err *err)
{
	char *app = NULL;
	json_t *body = NULL;
	int rc;

	*data = NULL;
	if ((rc = app_token(ctx, &app, err)))
		return rc;
	{
		const char *q[] = { "input_token", token, "access_token", app, NULL };

		rc = gcall(g, IG_HOST_GRAPH_FB, "GET", 1, "/debug_token", q, NULL, NULL, 1, &body,
			   NULL, err);
	}
	ig_wipe_free(app);
	if (rc)
		return rc;
	*data = json_incref(json_object_get(body, "data"));
	json_decref(body);
	if (!json_is_object(*data)) {
		json_decref(*data);
		*data = NULL;
		return bad_reply(err, "GET /debug_token");
	}
	return 0;
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
	if ((rc = gcall(g, IG_HOST_GRAPH_FB, "GET", 1, path, q, NULL, ptoken, 1, &ig, NULL, err))) {
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
	take_profile(c->info, ig);
	json_decref(ig);
	c->token = strdup(ptoken);
	c->expires_at = expires;
	c->scopes = strdup(scopes ? scopes : "");
	snprintf(c->login_user, sizeof(c->login_user), "%s", fb_user ? fb_user : "");
	return c->info && c->token && c->scopes ? 0 : oom(err);
}

/* Facebook Login, from a long-lived user token: every Page (reference §7.2
 * step 4), following the cursor. */
static int fb_candidates(struct ig_ctx *ctx, struct ig_graph *g, const char *user_token,
			 struct cands *cs, struct ig_err *err)
{
	static const char *const meq[] = { "fields", "id,name", NULL };
	json_t *me = NULL, *dbg = NULL;
	char fb_user[32] = "", *scopes = NULL, *after = NULL;
	int rc, seen = 0;

	if ((rc = gcall(g, IG_HOST_GRAPH_FB, "GET", 1, "/me", meq, NULL, user_token, 1, &me, NULL,
			err)))
		return rc;
	if (!ig_json_id(me, "id", fb_user)) {
		json_decref(me);
		return bad_reply(err, "GET /me (no id)");
	}
	json_decref(me);
	/* Granted scopes, for doctor; best effort: the code is spent already. */
	if (debug_token(ctx, g, user_token, &dbg, NULL) == 0) {
		scopes = perms_csv(json_object_get(dbg, "scopes"));
		json_decref(dbg);
	}
	for (;;) {
		const char *q[] = { "fields", "id,name,access_token,tasks,instagram_business_account",
				    "limit", "100", after ? "after" : NULL, after, NULL };
		json_t *body, *data, *page;
		const json_t *paging;
		size_t i;

		rc = gcall(g, IG_HOST_GRAPH_FB, "GET", 1, "/me/accounts", q, NULL, user_token, 1, &body,
			   NULL, err);
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

/* ------------------------------------------------------------ exchanges */

/* Instagram Login code → short-lived → long-lived token (reference §7.1). */
static int ig_exchange(struct ig_ctx *ctx, struct ig_graph *g, const char *code,
		       const char *redirect_uri, struct cands *cs, struct ig_err *err)
{
	const char *app;
	char *secret = NULL, *scopes = NULL, *short_tok = NULL;
	char user[32] = "";
	json_t *body = NULL, *long_body = NULL;
	const json_t *rec;
	int rc;

	if ((rc = app_credentials(ctx, "instagram", &app, &secret, err)))
		return rc;
	{
		const char *form[] = { "client_id", app, "client_secret", secret,
				       "grant_type", "authorization_code",
				       "redirect_uri", redirect_uri, "code", code, NULL };

		/* Single-use code: a timed-out exchange is not resent. */
		rc = gcall(g, IG_HOST_API_IG, "POST", 0, "/oauth/access_token", NULL, form, NULL, 0,
			   &body, NULL, err);
	}
	if (rc) {
		ig_err_prefix(err, "code exchange");
		goto out;
	}
	/* Documented {"data":[{...}]}, observed flat {...}: accept both
	 * (reference §7.1 step 3, §12). */
	rec = json_is_array(json_object_get(body, "data"))
		? json_array_get(json_object_get(body, "data"), 0) : body;
	if (!ig_json_str(rec, "access_token")) {
		rc = bad_reply(err, "the code exchange (no access_token)");
		goto out;
	}
	short_tok = strdup(ig_json_str(rec, "access_token"));
	ig_json_id(rec, "user_id", user);
	scopes = perms_csv(json_object_get(rec, "permissions"));
	{
		const char *q[] = { "grant_type", "ig_exchange_token", "client_secret", secret,
				    "access_token", short_tok, NULL };

		rc = gcall(g, IG_HOST_GRAPH_IG, "GET", 0, "/access_token", q, NULL, NULL, 1,
			   &long_body, NULL, err);
	}
	if (rc) {
		ig_err_prefix(err, "long-lived token exchange");
		goto out;
	}
	if (!ig_json_str(long_body, "access_token")) {
		rc = bad_reply(err, "the long-lived token exchange (no access_token)");
		goto out;
	}
	{
		long long in = ig_json_int(long_body, "expires_in", 0);

		rc = ig_candidate(g, ig_json_str(long_body, "access_token"),
				  in > 0 ? ig_time_now() + in : 0, scopes, user, cs, err);
	}
out:
	ig_wipe_free(secret);
	ig_wipe_free(short_tok);
	free(scopes);
	json_decref(body);
	json_decref(long_body);
	return rc;
}

/* Facebook: short-lived user token → long-lived (reference §7.2 step 3). */
static int fb_long_lived(struct ig_ctx *ctx, struct ig_graph *g, const char *short_tok,
			 char **long_tok, struct ig_err *err)
{
	const char *app;
	char *secret;
	json_t *body = NULL;
	int rc;

	*long_tok = NULL;
	if ((rc = app_credentials(ctx, "facebook", &app, &secret, err)))
		return rc;
	{
		const char *q[] = { "grant_type", "fb_exchange_token", "client_id", app,
				    "client_secret", secret, "fb_exchange_token", short_tok, NULL };

		rc = gcall(g, IG_HOST_GRAPH_FB, "GET", 1, "/oauth/access_token", q, NULL, NULL, 1,
			   &body, NULL, err);
	}
	ig_wipe_free(secret);
	if (rc)
		return ig_err_prefix(err, "long-lived token exchange");
	if (!ig_json_str(body, "access_token")) {
		json_decref(body);
		return bad_reply(err, "the long-lived token exchange (no access_token)");
	}
	*long_tok = strdup(ig_json_str(body, "access_token"));
	json_decref(body);
	return *long_tok ? 0 : oom(err);
}

static int fb_exchange(struct ig_ctx *ctx, struct ig_graph *g, const char *code,
		       const char *redirect_uri, struct cands *cs, struct ig_err *err)
{
	const char *app;
	char *secret = NULL, *short_tok = NULL, *long_tok = NULL;
	json_t *body = NULL;
	int rc;

	if ((rc = app_credentials(ctx, "facebook", &app, &secret, err)))
		return rc;
	{
		const char *q[] = { "client_id", app, "redirect_uri", redirect_uri,
				    "client_secret", secret, "code", code, NULL };

		rc = gcall(g, IG_HOST_GRAPH_FB, "GET", 1, "/oauth/access_token", q, NULL, NULL, 1,
			   &body, NULL, err);
	}
	ig_wipe_free(secret);
	if (rc) {
		ig_err_prefix(err, "code exchange");
		goto out;
	}
	if (!ig_json_str(body, "access_token")) {
		rc = bad_reply(err, "the code exchange (no access_token)");
		goto out;
	}
	short_tok = strdup(ig_json_str(body, "access_token"));
	if ((rc = fb_long_lived(ctx, g, short_tok, &long_tok, err)))
		goto out;
	rc = fb_candidates(ctx, g, long_tok, cs, err);
out:
	json_decref(body);
	ig_wipe_free(short_tok);
	ig_wipe_free(long_tok);
	return rc;
}

/* ------------------------------------------------------------ storing */

/*
 * Store the candidates for tenant/agent in one transaction: insert (or
 * update, when the account is already this tenant's), seal the token under
 * the row's id, audit.  An account of another tenant is refused and reported
 * in *out; *conflicts counts them.
 */
static int store_cands(struct ig_ctx *ctx, int64_t tenant_id, int64_t agent, const char *flavour,
		       struct cands *cs, json_t *out, int *conflicts, struct ig_err *err)
{
	int64_t now = ig_time_now();
	char slug[64], aname[128];
	size_t i;
	int rc;

	*conflicts = 0;
	if ((rc = ig_store_begin(ctx->store, err)))
		return rc;
	for (i = 0; i < cs->n; i++) {
		struct cand *c = &cs->v[i];
		const char *channel = cands_messenger(cs) ? "messenger" : "instagram";
		const char *ext = ig_json_str(c->info, "external_id");
		const char *user = ig_json_str(c->info, "username");
		char *details = json_dumps(json_object_get(c->info, "details"), JSON_COMPACT | JSON_SORT_KEYS);
		int64_t id = 0, owner = 0;
		int fc = json_is_integer(json_object_get(c->info, "followers_count"));
		struct ig_stmt *s;
		json_t *rec, *detail;

		s = ig_store_prepare(ctx->store,
			"SELECT id, tenant_id FROM accounts WHERE channel = ? AND external_id = ?", err);
		if (!s) {
			free(details);
			goto fail;
		}
		ig_stmt_bind(s, "ss", channel, ext);
		rc = ig_stmt_next(ctx->store, s, err);
		if (rc > 0) {
			id = ig_col_int(s, 0);
			owner = ig_col_int(s, 1);
		}
		if ((rc = step_done(ctx->store, s, rc, err, "cannot look up account"))) {
			free(details);
			goto fail;
		}
		if (id && owner != tenant_id) {
			char msg[512];

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
			(*conflicts)++;
			free(details);
			continue;
		}
		if (id) {
			s = ig_store_prepare(ctx->store,
				"UPDATE accounts SET agent_id = ?, flavour = ?, page_id = ?, username = ?,"
				" name = ?, profile_picture_url = ?, followers_count = ?, biography = ?,"
				" status = 'active', scopes = ?, details = ?, login_user_id = ?,"
				" last_error = NULL, last_synced_at = ?, updated_at = ? WHERE id = ?", err);
			/* followers_count: NULL when Meta did not say ('n' takes no argument) */
			if (s && fc)
				ig_stmt_bind(s, "Isssssissssiii", agent, flavour,
					ig_json_str(c->info, "page_id"), user, ig_json_str(c->info, "name"),
					ig_json_str(c->info, "profile_picture_url"),
					(int64_t)ig_json_int(c->info, "followers_count", 0), ig_json_str(c->info, "biography"),
					c->scopes, details ? details : "{}", c->login_user, now, now, id);
			else if (s)
				ig_stmt_bind(s, "Isssssnssssiii", agent, flavour,
					ig_json_str(c->info, "page_id"), user, ig_json_str(c->info, "name"),
					ig_json_str(c->info, "profile_picture_url"), ig_json_str(c->info, "biography"),
					c->scopes, details ? details : "{}", c->login_user, now, now, id);
		} else {
			s = ig_store_prepare(ctx->store,
				"INSERT INTO accounts(tenant_id, agent_id, channel, flavour, external_id,"
				" page_id, username, name, profile_picture_url, followers_count, biography,"
				" status, scopes, details, login_user_id, created_at, updated_at, last_synced_at)"
				" VALUES (?,?,?,?,?,?,?,?,?,?,?,'active',?,?,?,?,?,?)", err);
			if (s && fc)
				ig_stmt_bind(s, "iIsssssssissssiii", tenant_id, agent, channel, flavour, ext,
					ig_json_str(c->info, "page_id"), user, ig_json_str(c->info, "name"),
					ig_json_str(c->info, "profile_picture_url"),
					(int64_t)ig_json_int(c->info, "followers_count", 0), ig_json_str(c->info, "biography"),
					c->scopes, details ? details : "{}", c->login_user, now, now, now);
			else if (s)
				ig_stmt_bind(s, "iIsssssssnssssiii", tenant_id, agent, channel, flavour, ext,
					ig_json_str(c->info, "page_id"), user, ig_json_str(c->info, "name"),
					ig_json_str(c->info, "profile_picture_url"), ig_json_str(c->info, "biography"),
					c->scopes, details ? details : "{}", c->login_user, now, now, now);
		}
		free(details);
		if (!s || (rc = ig_store_run(ctx->store, s, err)))
			goto fail;
		if (!id)
			id = ig_store_last_id(ctx->store);
		if ((rc = store_token(ctx, id, c->token, now, c->expires_at, err)))
			goto fail;
		detail = json_pack("{s:s,s:s?,s:s?,s:s?,s:b}", "flavour", flavour, "username", user,
				   "page_id", ig_json_str(c->info, "page_id"), "agent",
				   agent ? agent_name(ctx, agent, aname, sizeof(aname)) : NULL,
				   "reconnect", owner != 0);
		rc = ig_audit(ctx, tenant_id, "account.connect", ext, "ok", detail, err);
		json_decref(detail);
		if (rc)
			goto fail;
		if (!(rec = account_record(ctx, id))) {
			rc = oom(err);
			goto fail;
		}
		json_object_set_new(rec, "reconnected", json_boolean(owner != 0));
		json_array_append_new(out, rec);
	}
	if ((rc = ig_store_commit(ctx->store, err)))
		return rc;
	return *conflicts ? IG_EX_DATAERR : 0;
fail:
	if (!rc)
		rc = ecode(err);
	ig_store_rollback(ctx->store);
	return rc;
}

/* The common end of callback and add. */
static int finish_connect(struct ig_ctx *ctx, int64_t tenant_id, int64_t agent, const char *flavour,
			  struct cands *cs, json_t **out, struct ig_err *err)
{
	int conflicts = 0, rc;
	size_t i;
	json_t *e;

	*out = json_array();
	if (!*out)
		return oom(err);
	if (cs->n == 0 && cands_messenger(cs)) {
		size_t pages = json_array_size(cs->skipped);

		json_array_extend(*out, cs->skipped);
		if (pages)
			return ig_err_set(err, IG_EX_DATAERR,
				"no Page connected for Messenger: none of the %zu Page%s is usable",
				pages, pages == 1 ? "" : "s");
		return ig_err_set(err, IG_EX_DATAERR,
			"no Page connected for Messenger: the user manages no Facebook Page");
	}
	if (cs->n == 0) {
		size_t pages = json_array_size(cs->skipped);

		json_array_extend(*out, cs->skipped);
		if (pages)
			return ig_err_set(err, IG_EX_DATAERR,
				"no Instagram account connected: none of the %zu Page%s has a usable linked Instagram professional account",
				pages, pages == 1 ? "" : "s");
		return ig_err_set(err, IG_EX_DATAERR,
			"no Instagram account connected: the user manages no Facebook Page");
	}
	rc = store_cands(ctx, tenant_id, agent, flavour, cs, *out, &conflicts, err);
	json_array_foreach(cs->skipped, i, e)
		json_array_append(*out, e);
	return rc;
}

/* Split what the browser was sent to into code, state, error... */
struct redirect {
	char *code, *state, *error, *error_reason, *error_description;
};

static void redirect_release(struct redirect *r)
{
	ig_wipe_free(r->code);
	free(r->state);
	free(r->error);
	free(r->error_reason);
	free(r->error_description);
	memset(r, 0, sizeof(*r));
}

static char *json_str_dup(const json_t *o, const char *k)
{
	const char *s = ig_json_str(o, k);

	return s ? strdup(s) : NULL;
}

static int parse_redirect(const char *input, struct redirect *r, struct ig_err *err)
{
	const char *p = input;
	char *q, *hash;
	size_t n;

	memset(r, 0, sizeof(*r));
	p += strspn(p, " \t\r\n");
	n = strlen(p);
	while (n && isspace((unsigned char)p[n - 1]))
		n--;
	if (n == 0)
		return ig_err_set(err, IG_EX_DATAERR,
			"no redirect on stdin: give the URL Meta redirected to, 'code=..&state=..', or JSON");
	if (*p == '{') {
		json_t *o = ig_json_parse(p, n, err);

		if (!o)
			return ig_err_prefix(err, "stdin");
		if (!json_is_object(o)) {
			json_decref(o);
			return ig_err_set(err, IG_EX_DATAERR, "stdin: expected a JSON object");
		}
		r->code = json_str_dup(o, "code");
		r->state = json_str_dup(o, "state");
		r->error = json_str_dup(o, "error");
		r->error_reason = json_str_dup(o, "error_reason");
		r->error_description = json_str_dup(o, "error_description");
		json_decref(o);
		return 0;
	}
	q = strndup(p, n);
	if (!q)
		return oom(err);
	/* "…?code=X&state=Y#_": the fragment is not part of the code (§7.1). */
	if ((hash = strchr(q, '#')))
		*hash = '\0';
	{
		const char *qs = strchr(q, '?') ? strchr(q, '?') + 1 : q;

		r->code = ig_cgi_param(qs, "code");
		r->state = ig_cgi_param(qs, "state");
		r->error = ig_cgi_param(qs, "error");
		r->error_reason = ig_cgi_param(qs, "error_reason");
		r->error_description = ig_cgi_param(qs, "error_description");
	}
	ig_wipe_free(q);
	return 0;
}

/* What the code exchange will need, read now (the secret is dropped). */
static int callback_config_check(struct ig_ctx *ctx, const char *flavour, struct ig_err *err)
{
	const char *app;
	char *secret = NULL;
	int rc = app_credentials(ctx, flavour, &app, &secret, err);

	ig_wipe_free(secret);
	if (rc)
		return ig_err_prefix(err, "configuration (the OAuth state is kept: fix it, then run"
				     " the callback again)");
	return 0;
}

int ig_connect_callback(struct ig_ctx *ctx, struct ig_graph *g, const char *input, json_t **out,
			struct ig_err *err)
{
	struct redirect r;
	struct oauth_state st;
	struct cands cs = { 0 };
	int rc;

	*out = NULL;
	if ((rc = parse_redirect(input, &r, err)))
		return rc;
	if (!r.state || !*r.state) {
		rc = ig_err_set(err, IG_EX_DATAERR, "the redirect carries no state");
		goto out;
	}
	/* Keys, the state and the local configuration first: a local mistake
	 * (a missing key, an app secret file readable by others) must not spend
	 * the single-use state or the code, so the owner need not consent
	 * again once it is fixed. */
	if ((rc = ig_ctx_keys(ctx, err)) || (rc = state_check(ctx, r.state, &st, err)))
		goto out;
	if (!r.error && (rc = callback_config_check(ctx, st.flavour, err)))
		goto out;
	if ((rc = state_mark_used(ctx, &st, err)))
		goto out;
	if (r.error) {
		rc = ig_err_set(err, IG_EX_UNAVAILABLE, "authorisation refused: %s (%s%s%s)",
				r.error_description ? r.error_description : "no description",
				r.error, r.error_reason ? ", " : "", r.error_reason ? r.error_reason : "");
		goto out;
	}
	if (!r.code || !*r.code) {
		rc = ig_err_set(err, IG_EX_DATAERR, "the redirect carries no code");
		goto out;
	}
	if (!(cs.skipped = json_array())) {
		rc = oom(err);
		goto out;
	}
	cs.channel = st.channel[0] ? st.channel : "instagram";
	rc = is_ig(st.flavour) ? ig_exchange(ctx, g, r.code, st.redirect_uri, &cs, err)
			       : fb_exchange(ctx, g, r.code, st.redirect_uri, &cs, err);
	if (!rc)
		rc = finish_connect(ctx, st.tenant_id, st.agent_id, st.flavour, &cs, out, err);
out:
	cands_release(&cs);
	redirect_release(&r);
	return rc;
}

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
	if ((rc = channel_check(flavour, channel, err)))
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
		rc = ig_candidate(g, token, 0, NULL, NULL, &cs, err);
		goto done;
	}
	/* Facebook: a user token lists its Pages; a Page token is one Page. */
	if ((rc = debug_token(ctx, g, token, &dbg, err)))
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
		char *scopes = perms_csv(json_object_get(dbg, "scopes"));
		char uid[32] = "";

		ig_json_id(dbg, "user_id", uid);
		rc = gcall(g, IG_HOST_GRAPH_FB, "GET", 1, "/me", q, NULL, token, 1, &page, NULL, err);
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
	if ((rc = fb_long_lived(ctx, g, token, &long_tok, err)))
		goto done;
	rc = fb_candidates(ctx, g, long_tok, &cs, err);
done:
	if (!rc)
		rc = finish_connect(ctx, tenant_id, agent_row, flavour, &cs, out, err);
	json_decref(dbg);
	ig_wipe_free(long_tok);
	cands_release(&cs);
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
	if (!rc)
		rc = ecode(err);
	ig_store_rollback(ctx->store);
	return rc;
}

/* ------------------------------------------------------------ test */

static json_t *result(const struct ig_account *acc)
{
	return json_pack("{s:s,s:s,s:s?,s:s}", "tenant", acc->tenant, "account", acc->external_id,
			 "username", acc->username[0] ? acc->username : NULL, "flavour", acc->flavour);
}

static void set_error(json_t *o, int rc, const char *msg)
{
	json_object_set_new(o, "error", json_string(msg));
	json_object_set_new(o, "exit", json_integer(rc));
}

/* The profile behind the stored token: /me on graph.instagram.com, or the
 * Instagram account node on graph.facebook.com with the Page token. */
static int fetch_profile(struct ig_graph *g, const struct ig_account *acc, const char *token,
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
		rc = gcall(g, IG_HOST_GRAPH_FB, "GET", 1, path, pageq, NULL, token, 1, me, NULL, err);
	} else if (is_ig(acc->flavour)) {
		rc = gcall(g, IG_HOST_GRAPH_IG, "GET", 1, "/me", igq, NULL, token, 1, me, NULL, err);
	} else {
		snprintf(path, sizeof(path), "/%s", acc->external_id);
		rc = gcall(g, IG_HOST_GRAPH_FB, "GET", 1, path, fbq, NULL, token, 1, me, NULL, err);
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

	*out = result(acc);
	if (!strcmp(acc->status, "disconnected")) {
		rc = ig_err_set(err, IG_EX_DATAERR,
			"account %s is disconnected; connect it again with 'ig-connect url'",
			acc->external_id);
		set_error(*out, rc, err->msg);
		return rc;
	}
	if ((rc = account_token(ctx, acc, &token, err))) {
		set_error(*out, rc, err->msg);
		return rc;
	}
	rc = fetch_profile(g, acc, token, &me, err);
	ig_wipe_free(token);
	if (rc) {
		set_error(*out, rc, err->msg);
		json_object_set_new(*out, "status", json_string(rc == IG_EX_NOPERM ? "needs_reauth"
			: rc == IG_EX_UNAVAILABLE ? "error" : acc->status));
		/* the call's failure is the news; a failure to note it is not */
		note_result(ctx, acc, rc, err->msg, NULL);
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
	take_profile(*out, me);
	json_object_set_new(*out, "media_count", json_is_integer(json_object_get(me, "media_count"))
			    ? json_incref(json_object_get(me, "media_count")) : json_null());
out:
	json_decref(me);
	return rc;
}

/* ------------------------------------------------------------ refresh */

static int audit_refresh_failure(struct ig_ctx *ctx, const struct ig_account *acc, int code,
				 const char *msg)
{
	json_t *d = json_pack("{s:i,s:s}", "exit", code, "error", msg);
	int rc;

	if (ig_store_begin(ctx->store, NULL)) {
		json_decref(d);
		return -1;
	}
	rc = ig_audit(ctx, acc->tenant_id, "token.refresh", acc->external_id, "failed", d, NULL);
	json_decref(d);
	if (rc || ig_store_commit(ctx->store, NULL)) {
		ig_store_rollback(ctx->store);
		return -1;
	}
	return 0;
}

/* A failed refresh: record it on the row and in the audit log. */
static int refresh_failed(struct ig_ctx *ctx, const struct ig_account *acc, json_t *o, int rc,
			  struct ig_err *err)
{
	json_object_set_new(o, "result", json_string(rc == IG_EX_NOPERM ? "needs_reauth" : "failed"));
	set_error(o, rc, err->msg);
	note_result(ctx, acc, rc, err->msg, NULL);
	audit_refresh_failure(ctx, acc, rc, err->msg);
	return rc;
}

int ig_connect_refresh(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
		       int64_t within, json_t **out, struct ig_err *err)
{
	int64_t now = ig_time_now();
	char *token = NULL, when[32];
	json_t *body = NULL;
	int rc;

	*out = result(acc);
	json_object_set_new(*out, "token_expires_at", iso_or_null(acc->token_expires_at));
	if (!strcmp(acc->status, "disconnected")) {
		rc = ig_err_set(err, IG_EX_DATAERR, "account %s is disconnected", acc->external_id);
		set_error(*out, rc, err->msg);
		return rc;
	}
	/* A token Meta already refused is not "not due": a person must log in
	 * again, and cron must hear of it (77). */
	if (!strcmp(acc->status, "needs_reauth")) {
		struct ig_stmt *s = ig_store_query(ctx->store, NULL,
			"SELECT last_error FROM accounts WHERE id = ?", "i", acc->id);
		const char *why = s && ig_stmt_next(ctx->store, s, NULL) > 0 ? ig_col_textn(s, 0) : NULL;

		rc = ig_err_set(err, IG_EX_NOPERM,
			"needs re-login%s%.300s%s: connect it again with 'ig-connect url --tenant %s'",
			why ? " (" : "", why ? why : "", why ? ")" : "", acc->tenant);
		ig_stmt_reset(s);
		json_object_set_new(*out, "result", json_string("needs_reauth"));
		json_object_set_new(*out, "status", json_string("needs_reauth"));
		set_error(*out, rc, err->msg);
		return rc;
	}
	if ((rc = account_token(ctx, acc, &token, err))) {
		set_error(*out, rc, err->msg);
		json_object_set_new(*out, "result", json_string("failed"));
		return rc;
	}
	if (!is_ig(acc->flavour)) {
		/* Page tokens from a long-lived user token do not expire and
		 * there is nothing to refresh: check that it is still good. */
		rc = debug_token(ctx, g, token, &body, err);
		ig_wipe_free(token);
		if (!rc && !json_is_true(json_object_get(body, "is_valid")))
			rc = ig_err_set(err, IG_EX_NOPERM,
				"the Page token of account %s is no longer valid; the user must log in again",
				acc->external_id);
		if (rc) {
			json_decref(body);
			return refresh_failed(ctx, acc, *out, rc, err);
		}
		json_object_set_new(*out, "result", json_string("valid"));
		json_object_set_new(*out, "token_expires_at",
			iso_or_null(ig_json_int(body, "expires_at", 0)));
		json_decref(body);
		note_result(ctx, acc, 0, NULL, NULL);
		return 0;
	}
	if (acc->token_expires_at > 0 && acc->token_expires_at <= now) {
		ig_wipe_free(token);
		ig_err_set(err, IG_EX_NOPERM,
			   "the token of account %s expired at %s and cannot be refreshed; the user must log in again",
			   acc->external_id, ig_time_iso(acc->token_expires_at, when));
		return refresh_failed(ctx, acc, *out, IG_EX_NOPERM, err);
	}
	/* Meta refreshes only tokens at least 24 h old (reference §7.1 step 5). */
	if ((acc->token_issued_at && now - acc->token_issued_at < DAY)
	    || (acc->token_expires_at > 0 && acc->token_expires_at - now > within)) {
		ig_wipe_free(token);
		json_object_set_new(*out, "result", json_string("not_due"));
		return 0;
	}
	{
		const char *q[] = { "grant_type", "ig_refresh_token", "access_token", token, NULL };

		rc = gcall(g, IG_HOST_GRAPH_IG, "GET", 0, "/refresh_access_token", q, NULL, NULL, 1,
			   &body, NULL, err);
	}
	ig_wipe_free(token);
	if (!rc && !ig_json_str(body, "access_token"))
		rc = bad_reply(err, "GET /refresh_access_token (no access_token)");
	if (rc) {
		json_decref(body);
		return refresh_failed(ctx, acc, *out, rc, err);
	}
	{
		long long in = ig_json_int(body, "expires_in", 0);
		int64_t exp = in > 0 ? now + in : 0;
		struct ig_stmt *s;

		if ((rc = ig_store_begin(ctx->store, err)))
			goto done;
		if ((rc = store_token(ctx, acc->id, ig_json_str(body, "access_token"), now, exp, err))) {
			ig_store_rollback(ctx->store);
			goto done;
		}
		s = ig_store_prepare(ctx->store,
			"UPDATE accounts SET status = 'active', last_error = NULL WHERE id = ?", err);
		if (!s || (rc = ig_store_run(ctx->store, (ig_stmt_bind(s, "i", acc->id), s), err))
		    || (rc = ig_store_commit(ctx->store, err))) {
			if (!s)
				rc = ecode(err);
			ig_store_rollback(ctx->store);
			goto done;
		}
		json_object_set_new(*out, "result", json_string("refreshed"));
		json_object_set_new(*out, "token_expires_at", iso_or_null(exp));
		json_object_set_new(*out, "token", masked(ig_json_str(body, "access_token")));
	}
done:
	json_decref(body);
	return rc;
}

/* ------------------------------------------------------------ subscribe */

static void subscribed_path(const struct ig_account *acc, char *path, size_t n)
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

	*out = result(acc);
	if (!fields)
		fields = is_ig(acc->flavour) ? ig_default_fields : fb_default_fields;
	if (!strcmp(acc->status, "disconnected")) {
		rc = ig_err_set(err, IG_EX_DATAERR, "account %s is disconnected", acc->external_id);
		set_error(*out, rc, err->msg);
		return rc;
	}
	if (!is_ig(acc->flavour) && !acc->page_id[0]) {
		rc = ig_err_set(err, IG_EX_DATAERR, "account %s has no Page to subscribe",
				acc->external_id);
		set_error(*out, rc, err->msg);
		return rc;
	}
	if ((rc = account_token(ctx, acc, &token, err))) {
		set_error(*out, rc, err->msg);
		return rc;
	}
	subscribed_path(acc, path, sizeof(path));
	{
		const char *q[] = { "subscribed_fields", fields, NULL };

		/* Subscribing twice is harmless: safe to resend on a timeout. */
		rc = gcall(g, is_ig(acc->flavour) ? IG_HOST_GRAPH_IG : IG_HOST_GRAPH_FB, "POST", 1, path,
			   q, NULL, token, 1, &body, NULL, err);
	}
	ig_wipe_free(token);
	if (!rc && json_is_false(json_object_get(body, "success")))
		rc = ig_err_set(err, IG_EX_UNAVAILABLE, "graph: POST %s answered success: false", path);
	json_decref(body);
	if (rc) {
		set_error(*out, rc, err->msg);
		note_result(ctx, acc, rc, err->msg, NULL);
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
	json_object_set_new(*out, "subscribed_fields", scopes_array(fields));
	json_object_set_new(*out, "subscribed", json_true());
	return 0;
}

/* ------------------------------------------------------------ doctor */

/* Fields of `want` (comma list) missing from array `have`; new array. */
static json_t *missing(const char *want, const json_t *have)
{
	json_t *w = scopes_array(want), *miss = json_array(), *e, *h;
	size_t i, k;

	json_array_foreach(w, i, e) {
		int found = 0;

		json_array_foreach(have, k, h)
			if (json_is_string(h) && json_equal(h, e))
				found = 1;
		if (!found)
			json_array_append(miss, e);
	}
	json_decref(w);
	return miss;
}

/* Which fields a subscribed_apps listing holds (IG: data[0]; FB: the entry
 * of our app, else the first); new array, empty when not subscribed. */
static json_t *subscribed_fields(const json_t *body, const char *app_id)
{
	const json_t *data = json_object_get(body, "data"), *e, *pick = NULL;
	json_t *out;
	size_t i;

	json_array_foreach(data, i, e) {
		char id[32];

		if (!pick || (app_id && ig_json_id(e, "id", id) && !strcmp(id, app_id)))
			pick = e;
	}
	if (!pick)
		return json_array();
	e = json_object_get(pick, "subscribed_fields");
	if (json_is_string(e))
		return scopes_array(json_string_value(e));
	out = json_array();
	/* ["messages", ...] or [{"name":"messages"}, ...] */
	for (i = 0; i < json_array_size(e); i++) {
		const json_t *f = json_array_get(e, i);

		if (json_is_string(f))
			json_array_append_new(out, json_string(json_string_value(f)));
		else if (ig_json_str(f, "name"))
			json_array_append_new(out, json_string(ig_json_str(f, "name")));
	}
	return out;
}

/* One doctor run: the record, its problems, what the checks learnt. */
struct doctor {
	json_t *out, *problems;
	json_t *have_scopes;       /* granted scopes, or NULL when unknown */
	int64_t expires;
	int reauth, fix, temp;     /* the kinds of problem found */
	char reason[3][1400];      /* the first problem of each kind */
};

enum { D_REAUTH, D_FIX, D_TEMP };

static void problem(struct doctor *d, int kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(struct doctor *d, int kind, const char *fmt, ...)
{
	char buf[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(d->problems, json_string(buf));
	if (!d->reason[kind][0])
		snprintf(d->reason[kind], sizeof(d->reason[kind]), "%s", buf);
	if (kind == D_REAUTH)
		d->reauth = 1;
	else if (kind == D_FIX)
		d->fix = 1;
	else
		d->temp = 1;
}

/* 1. The token works (and, for Facebook Login, what debug_token says of it). */
static int doctor_token(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
			const char *token, struct doctor *d)
{
	struct ig_err e = { 0 };
	int64_t now = ig_time_now();
	char when[32];
	int rc;

	if (is_ig(acc->flavour)) {
		json_t *me = NULL;

		rc = fetch_profile(g, acc, token, &me, &e);
		json_decref(me);
		if (!rc) {
			struct ig_stmt *s = ig_store_query(ctx->store, NULL,
				"SELECT scopes FROM accounts WHERE id = ?", "i", acc->id);

			if (s && ig_stmt_next(ctx->store, s, NULL) > 0 && *ig_col_text(s, 0))
				d->have_scopes = scopes_array(ig_col_text(s, 0));
			ig_stmt_reset(s);
		}
	} else {
		json_t *dbg = NULL;

		rc = debug_token(ctx, g, token, &dbg, &e);
		if (!rc && !json_is_true(json_object_get(dbg, "is_valid")))
			rc = ig_err_set(&e, IG_EX_NOPERM, "the Page token is not valid (debug_token)");
		if (!rc) {
			d->have_scopes = json_incref(json_object_get(dbg, "scopes"));
			d->expires = ig_json_int(dbg, "expires_at", 0);
		}
		json_decref(dbg);
	}
	if (rc == IG_EX_NOPERM) {
		note_result(ctx, acc, rc, e.msg, NULL);
		problem(d, D_REAUTH, "token invalid: %s", e.msg);
		return -1;
	}
	if (rc) {
		problem(d, D_TEMP, "token not checked: %s", e.msg);
		return -1;
	}
	json_object_set_new(d->out, "token_valid", json_true());
	json_object_set_new(d->out, "token_expires_at", iso_or_null(d->expires));
	if (d->expires > 0 && d->expires - now < EXPIRY_WARN)
		problem(d, D_FIX, "token expires at %s: run 'ig-connect refresh'",
			ig_time_iso(d->expires, when));
	return 0;
}

/* 2. The scopes the programs need were granted. */
static void doctor_scopes(const struct ig_account *acc, struct doctor *d)
{
	const char *want = is_messenger(acc) ? messenger_required_scopes
		: is_ig(acc->flavour) ? ig_required_scopes : fb_required_scopes;
	json_t *miss;

	if (!json_is_array(d->have_scopes)) {
		json_object_set_new(d->out, "scopes", json_null());
		return;
	}
	miss = missing(want, d->have_scopes);
	json_object_set(d->out, "scopes", d->have_scopes);
	json_object_set(d->out, "scopes_missing", miss);
	if (json_array_size(miss)) {
		char *m = json_dumps(miss, JSON_COMPACT);

		problem(d, D_REAUTH, "scopes not granted: %s: the user must log in again and grant them",
			m ? m : "?");
		free(m);
	}
	json_decref(miss);
}

/* 3. The webhook subscription (reference §1.4 layer 2). */
static void doctor_subscription(struct ig_ctx *ctx, struct ig_graph *g,
				const struct ig_account *acc, const char *token, struct doctor *d)
{
	const char *app_id = ig_config_get(&ctx->cfg, is_ig(acc->flavour) ? "ig_app_id" : "app_id");
	struct ig_err e = { 0 };
	json_t *body = NULL, *fields, *miss;
	char path[96];
	int rc;

	if (!is_ig(acc->flavour) && !acc->page_id[0]) {
		problem(d, D_FIX, "no Page id stored: reconnect the account");
		return;
	}
	subscribed_path(acc, path, sizeof(path));
	rc = gcall(g, is_ig(acc->flavour) ? IG_HOST_GRAPH_IG : IG_HOST_GRAPH_FB, "GET", 1, path, NULL,
		   NULL, token, 1, &body, NULL, &e);
	if (rc) {
		if (rc == IG_EX_TEMPFAIL)
			problem(d, D_TEMP, "subscription not checked: %s", e.msg);
		else
			problem(d, D_FIX, "subscription not readable: %s", e.msg);
		return;
	}
	fields = subscribed_fields(body, app_id);
	json_decref(body);
	json_object_set(d->out, "subscribed_fields", fields);
	miss = missing("messages", fields);
	if (!json_array_size(fields))
		problem(d, D_FIX, "not subscribed to webhooks: run 'ig-connect subscribe %s'",
			acc->external_id);
	else if (json_array_size(miss))
		problem(d, D_FIX, "webhook field 'messages' not subscribed: run 'ig-connect subscribe %s'",
			acc->external_id);
	json_decref(miss);
	json_decref(fields);
}

/* 4. The Page is still linked to the Instagram account (Facebook Login,
 * Instagram channel). */
static void doctor_page_link(struct ig_graph *g, const struct ig_account *acc, const char *token,
			     struct doctor *d)
{
	static const char *const q[] = { "fields", "instagram_business_account", NULL };
	struct ig_err e = { 0 };
	char pp[80], linked[32];
	json_t *body = NULL;
	int rc;

	if (is_ig(acc->flavour) || is_messenger(acc) || !acc->page_id[0])
		return;
	snprintf(pp, sizeof(pp), "/%s", acc->page_id);
	if ((rc = gcall(g, IG_HOST_GRAPH_FB, "GET", 1, pp, q, NULL, token, 1, &body, NULL, &e))) {
		if (rc == IG_EX_TEMPFAIL)
			problem(d, D_TEMP, "Page link not checked: %s", e.msg);
		else
			problem(d, D_FIX, "Page link not readable: %s", e.msg);
	} else if (!ig_json_id(json_object_get(body, "instagram_business_account"), "id", linked)) {
		problem(d, D_FIX, "Page %s is no longer linked to an Instagram account", acc->page_id);
	} else if (strcmp(linked, acc->external_id)) {
		problem(d, D_FIX, "Page %s is now linked to Instagram account %s, not %s", acc->page_id,
			linked, acc->external_id);
	}
	json_decref(body);
}

int ig_connect_doctor(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
		      json_t **out, struct ig_err *err)
{
	struct doctor d = { 0 };
	struct ig_err e = { 0 };
	char *token = NULL;

	d.out = *out = result(acc);
	d.problems = json_array();
	d.expires = acc->token_expires_at;
	json_object_set_new(*out, "problems", d.problems);
	if (!strcmp(acc->status, "disconnected"))
		problem(&d, D_REAUTH, "disconnected: connect it again with 'ig-connect url'");
	else if (account_token(ctx, acc, &token, &e))
		problem(&d, D_REAUTH, "token: %s", e.msg);
	else if (!doctor_token(ctx, g, acc, token, &d)) {
		doctor_scopes(acc, &d);
		doctor_subscription(ctx, g, acc, token, &d);
		doctor_page_link(g, acc, token, &d);
	}
	ig_wipe_free(token);
	json_decref(d.have_scopes);
	json_object_set_new(*out, "ok", json_boolean(!d.reauth && !d.fix && !d.temp));
	/* The message says why (the caller names tenant and account). */
	if (d.reauth)
		return ig_err_set(err, IG_EX_NOPERM, "needs re-authorisation: %s", d.reason[D_REAUTH]);
	if (d.temp)
		return ig_err_set(err, IG_EX_TEMPFAIL, "not fully checked: %s", d.reason[D_TEMP]);
	if (d.fix)
		return ig_err_set(err, IG_EX_CONFIG, "needs attention: %s", d.reason[D_FIX]);
	return 0;
}

/* The compact view of a doctor record (see connect.h). */
json_t *ig_connect_doctor_brief(const json_t *record)
{
	const json_t *problems = json_object_get(record, "problems");
	const char *p = json_string_value(json_array_get(problems, 0));
	size_t n = json_array_size(problems);
	char line[IG_DOCTOR_BRIEF_WIDTH + 32];

	if (!n)
		return NULL;
	if (strlen(p) > IG_DOCTOR_BRIEF_WIDTH) {
		/* cut on a character boundary */
		size_t k = IG_DOCTOR_BRIEF_WIDTH - 3;

		while (k && ((unsigned char)p[k] & 0xC0) == 0x80)
			k--;
		snprintf(line, sizeof(line), "%.*s...", (int)k, p);
	} else {
		snprintf(line, sizeof(line), "%s", p);
	}
	if (n > 1) {
		size_t len = strlen(line);

		snprintf(line + len, sizeof(line) - len, " (+%zu)", n - 1);
	}
	return json_pack("{s:s?,s:s?,s:s}", "tenant", ig_json_str(record, "tenant"),
			 "account", ig_json_str(record, "account"), "problem", line);
}

/* ------------------------------------------------------------ disconnect */

/* Delete an account row and, by the foreign keys, what hangs off it. */
static int erase_account(struct ig_ctx *ctx, int64_t id, struct ig_err *err)
{
	struct ig_stmt *s = ig_store_prepare(ctx->store, "DELETE FROM accounts WHERE id = ?", err);

	if (!s)
		return ecode(err);
	ig_stmt_bind(s, "i", id);
	return ig_store_run(ctx->store, s, err);
}

static int drop_tokens(struct ig_ctx *ctx, int64_t id, const char *why, struct ig_err *err)
{
	struct ig_stmt *s = ig_store_prepare(ctx->store,
		"UPDATE accounts SET access_token = NULL, refresh_token = NULL, token_expires_at = NULL,"
		" refresh_expires_at = NULL, status = 'disconnected', subscribed_fields = '',"
		" last_error = ?, updated_at = ? WHERE id = ?", err);

	if (!s)
		return ecode(err);
	ig_stmt_bind(s, "sii", why, ig_time_now(), id);
	return ig_store_run(ctx->store, s, err);
}

int ig_connect_disconnect(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
			  int erase, json_t **out, struct ig_err *err)
{
	json_t *warnings = json_array(), *detail;
	char *token = NULL, path[96];
	struct ig_err e = { 0 };
	int rc;

	*out = result(acc);
	json_object_set_new(*out, "warnings", warnings);
	if (!erase && !strcmp(acc->status, "disconnected"))
		return ig_err_set(err, IG_EX_DATAERR,
			"account %s is already disconnected (add --erase to delete it)", acc->external_id);
	/* Unsubscribe first, while we still hold the token; failing here must
	 * not keep the user from disconnecting (the token may be dead). */
	if (acc->has_token && (is_ig(acc->flavour) || acc->page_id[0])) {
		if (account_token(ctx, acc, &token, &e) == 0) {
			subscribed_path(acc, path, sizeof(path));
			if (gcall(g, is_ig(acc->flavour) ? IG_HOST_GRAPH_IG : IG_HOST_GRAPH_FB, "DELETE", 1,
				  path, NULL, NULL, token, 1, NULL, NULL, &e))
				json_array_append_new(warnings, json_pack("{s:s}", "unsubscribe", e.msg));
			ig_wipe_free(token);
		} else {
			json_array_append_new(warnings, json_pack("{s:s}", "unsubscribe", e.msg));
		}
	}
	if ((rc = ig_store_begin(ctx->store, err)))
		return rc;
	rc = erase ? erase_account(ctx, acc->id, err)
		   : drop_tokens(ctx, acc->id, "disconnected", err);
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
	if (!rc)
		rc = ecode(err);
	ig_store_rollback(ctx->store);
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	json_decref(tables);
	return rc;
}

/* ------------------------------------------------------------ rekey */

int ig_connect_rekey(struct ig_ctx *ctx, const char *new_key_file, json_t **out,
		     struct ig_err *err)
{
	static const char *const cols[] = { "access_token", "refresh_token" };
	struct ig_keyring nk;
	struct { int64_t id; int col; } *work = NULL;
	size_t n = 0, i;
	struct ig_stmt *s;
	char hex[2 * IG_KEYID_LEN + 1];
	json_t *detail;
	int rc;

	*out = NULL;
	ig_keyring_init(&nk);
	if ((rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_WRITE, "account.rekey", err)))
		return rc;
	if ((rc = ig_ctx_keys(ctx, err)))
		return rc;
	if ((rc = ig_key_load(&nk, new_key_file, err)))
		return rc;
	if (!memcmp(nk.keys[0].id, ctx->keys.keys[0].id, IG_KEYID_LEN)) {
		ig_keyring_clear(&nk);
		return ig_err_set(err, IG_EX_DATAERR, "'%s' is the current master key already",
				  new_key_file);
	}
	ig_hex(nk.keys[0].id, IG_KEYID_LEN, hex);
	if ((rc = ig_store_begin(ctx->store, err)))
		goto out;
	s = ig_store_prepare(ctx->store,
		"SELECT id, access_token IS NOT NULL, refresh_token IS NOT NULL FROM accounts"
		" WHERE access_token IS NOT NULL OR refresh_token IS NOT NULL ORDER BY id", err);
	if (!s)
		goto fail;
	while ((rc = ig_stmt_next(ctx->store, s, err)) > 0) {
		int c;

		for (c = 0; c < 2; c++) {
			void *p;

			if (!ig_col_int(s, 1 + c))
				continue;
			p = realloc(work, (n + 1) * sizeof(*work));
			if (!p) {
				ig_stmt_reset(s);
				rc = oom(err);
				goto fail;
			}
			work = p;
			work[n].id = ig_col_int(s, 0);
			work[n].col = c;
			n++;
		}
	}
	if ((rc = step_done(ctx->store, s, rc, err, "cannot list tokens")))
		goto fail;
	for (i = 0; i < n; i++) {
		char aad[64], *pt = NULL;
		unsigned char *blob = NULL;
		size_t ptlen = 0, blen;

		aad_of(work[i].id, cols[work[i].col], aad, sizeof(aad));
		s = work[i].col ? ig_store_prepare(ctx->store,
					"SELECT refresh_token FROM accounts WHERE id = ?", err)
				: ig_store_prepare(ctx->store,
					"SELECT access_token FROM accounts WHERE id = ?", err);
		if (!s)
			goto fail;
		ig_stmt_bind(s, "i", work[i].id);
		if ((rc = ig_stmt_next(ctx->store, s, err)) <= 0) {
			rc = step_done(ctx->store, s, rc, err, "cannot read token");
			if (!rc)
				continue;
			goto fail;
		}
		{
			size_t sl;
			const void *sb = ig_col_blob(s, 0, &sl);

			rc = ig_open(&ctx->keys, aad, sb, sl, &pt, &ptlen, err);
		}
		ig_stmt_reset(s);
		if (rc) {
			ig_err_prefix(err, "account row %lld, %s", (long long)work[i].id,
				      cols[work[i].col]);
			goto fail;
		}
		rc = ig_seal(&nk, aad, pt, ptlen, &blob, &blen, err);
		ig_wipe_free(pt);
		if (rc)
			goto fail;
		s = work[i].col ? ig_store_prepare(ctx->store,
					"UPDATE accounts SET refresh_token = ? WHERE id = ?", err)
				: ig_store_prepare(ctx->store,
					"UPDATE accounts SET access_token = ? WHERE id = ?", err);
		if (!s) {
			free(blob);
			goto fail;
		}
		ig_stmt_bind(s, "bi", blob, (int)blen, work[i].id);
		rc = ig_store_run(ctx->store, s, err);
		free(blob);
		if (rc)
			goto fail;
	}
	detail = json_pack("{s:i,s:s}", "tokens", (json_int_t)n, "key_id", hex);
	rc = ig_audit(ctx, 0, "account.rekey", new_key_file, "ok", detail, err);
	json_decref(detail);
	if (rc || (rc = ig_store_commit(ctx->store, err)))
		goto fail;
	*out = json_pack("{s:i,s:s,s:s}", "resealed", (json_int_t)n, "key_id", hex, "key_file",
			 new_key_file);
	goto out;
fail:
	if (!rc)
		rc = ecode(err);
	ig_store_rollback(ctx->store);
out:
	free(work);
	ig_keyring_clear(&nk);
	return rc;
}

/* ------------------------------------------------------------ Meta callbacks */

/* issued_at within [now - IG_SIGNED_REQUEST_MAX_AGE, now + IG_SIGNED_REQUEST_SKEW]:
 * a stale request is a replay, a future one a clock problem (connect.h). */
static int issued_at_check(const json_t *payload, struct ig_err *err)
{
	const json_t *v = json_object_get(payload, "issued_at");
	int64_t now = ig_time_now(), at;
	char when[32];

	if (!json_is_integer(v))
		return ig_err_set(err, IG_EX_DATAERR, "signed_request carries no issued_at");
	at = (int64_t)json_integer_value(v);
	if (at < now - IG_SIGNED_REQUEST_MAX_AGE)
		return ig_err_set(err, IG_EX_DATAERR,
			"signed_request was issued at %s, more than %d h ago: refused as a replay",
			ig_time_iso(at, when), IG_SIGNED_REQUEST_MAX_AGE / 3600);
	if (at > now + IG_SIGNED_REQUEST_SKEW)
		return ig_err_set(err, IG_EX_DATAERR,
			"signed_request was issued at %s, more than %d s in the future: check this"
			" machine's clock", ig_time_iso(at, when), IG_SIGNED_REQUEST_SKEW);
	return 0;
}

/* n random characters from [A-Za-z0-9] (Meta asks for an alphanumeric
 * confirmation code, reference §8); new string or NULL. */
static char *alnum_code(size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	char *out = malloc(n + 1);
	size_t i = 0;

	if (!out)
		return NULL;
	while (i < n) {
		unsigned char b[32];
		size_t k;

		if (ig_random(b, sizeof(b))) {
			free(out);
			return NULL;
		}
		/* 248 = 4 * 62: no bias */
		for (k = 0; k < sizeof(b) && i < n; k++)
			if (b[k] < 248)
				out[i++] = abc[b[k] % 62];
	}
	out[n] = '\0';
	return out;
}

int ig_signed_request_verify(struct ig_ctx *ctx, const char *input, json_t **payload,
			     struct ig_err *err)
{
	/* the previous app secret too: Meta may still sign with it while the
	 * secret is being rotated (reference §8) */
	static const char *const secrets[] = { "app_secret_file", "ig_app_secret_file",
					       "previous_app_secret_file" };
	char *sr = NULL, *p;
	unsigned char *sig = NULL, *json = NULL;
	size_t siglen = 0, jlen = 0, i, n;
	const char *dot, *alg;
	int rc = 0, tried = 0, good = 0;

	*payload = NULL;
	p = (char *)input + strspn(input, " \t\r\n");
	if (strstr(p, "signed_request="))
		sr = ig_cgi_param(p, "signed_request");
	else
		sr = strdup(p);
	if (!sr)
		return ig_err_set(err, IG_EX_DATAERR, "no signed_request in the input");
	n = strlen(sr);
	while (n && isspace((unsigned char)sr[n - 1]))
		sr[--n] = '\0';
	dot = strchr(sr, '.');
	if (!dot || dot == sr || !dot[1]) {
		rc = ig_err_set(err, IG_EX_DATAERR,
				"malformed signed_request (expected <signature>.<payload>)");
		goto out;
	}
	sig = ig_b64url_decode(sr, (size_t)(dot - sr), &siglen);
	if (!sig || siglen != 32) {
		rc = ig_err_set(err, IG_EX_DATAERR, "signed_request signature is not a base64url HMAC-SHA256");
		goto out;
	}
	/* The HMAC covers the payload text as sent, not the decoded JSON (§8). */
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]) && !good; i++) {
		char *secret = NULL;
		unsigned char mac[32];

		if (!ig_config_has_secret(&ctx->cfg, secrets[i]))
			continue;
		if ((rc = ig_config_secret(&ctx->cfg, secrets[i], &secret, err)))
			goto out;
		tried++;
		ig_hmac_sha256(secret, strlen(secret), dot + 1, strlen(dot + 1), mac);
		good = ig_ct_equal(mac, sig, 32);
		ig_wipe_free(secret);
	}
	if (!tried) {
		rc = ig_err_set(err, IG_EX_CONFIG,
				"no app secret to check signed_request with: set app_secret_file or ig_app_secret_file");
		goto out;
	}
	if (!good) {
		rc = ig_err_set(err, IG_EX_DATAERR, "signed_request signature does not verify");
		goto out;
	}
	json = ig_b64url_decode(dot + 1, strlen(dot + 1), &jlen);
	if (!json || !(*payload = ig_json_parse((const char *)json, jlen, err))
	    || !json_is_object(*payload)) {
		rc = ig_err_set(err, IG_EX_DATAERR, "signed_request payload is not a JSON object");
		goto out;
	}
	alg = ig_json_str(*payload, "algorithm");
	if (!alg || strcasecmp(alg, "HMAC-SHA256")) {
		rc = ig_err_set(err, IG_EX_DATAERR, "signed_request algorithm '%s' is not HMAC-SHA256",
				alg ? alg : "(none)");
		goto out;
	}
	{
		char uid[32];

		if (!ig_json_id(*payload, "user_id", uid)) {
			rc = ig_err_set(err, IG_EX_DATAERR, "signed_request carries no user_id");
			goto out;
		}
	}
	rc = issued_at_check(*payload, err);
out:
	if (rc) {
		json_decref(*payload);
		*payload = NULL;
	}
	free(sig);
	free(json);
	ig_wipe_free(sr);
	return rc;
}

/* The accounts a Meta user authorised; *accs new. */
static int user_accounts(struct ig_ctx *ctx, const char *user_id, struct ig_account **accs,
			 size_t *n, struct ig_err *err)
{
	struct ig_stmt *s;
	size_t cap = 0;
	int rc;

	*accs = NULL;
	*n = 0;
	/* Instagram Login: Meta names the Instagram user, which is also the
	 * account; Facebook Login: the app-scoped Facebook user. */
	s = ig_store_prepare(ctx->store,
		"SELECT " ACC_COLS " FROM accounts a JOIN tenants t ON t.id = a.tenant_id"
		" WHERE a.login_user_id = ?1 OR (a.flavour = 'instagram' AND a.external_id = ?1)"
		" ORDER BY a.id", err);
	if (!s)
		return ecode(err);
	ig_stmt_bind(s, "s", user_id);
	while ((rc = ig_stmt_next(ctx->store, s, err)) > 0) {
		if (*n == cap) {
			struct ig_account *p = realloc(*accs, (cap = cap ? 2 * cap : 4) * sizeof(*p));

			if (!p) {
				ig_stmt_reset(s);
				return oom(err);
			}
			*accs = p;
		}
		acc_from_row(s, &(*accs)[(*n)++]);
	}
	return step_done(ctx->store, s, rc, err, "cannot look up accounts");
}

static int meta_callback(struct ig_ctx *ctx, const char *user_id, int erase, const char *code,
			 json_t *list, struct ig_err *err)
{
	struct ig_account *accs = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = user_accounts(ctx, user_id, &accs, &n, err)))
		goto out;
	for (i = 0; i < n; i++) {
		json_t *d = json_pack("{s:s,s:s?,s:s?}", "reason",
				      erase ? "data deletion request" : "deauthorized by the user",
				      "username", accs[i].username[0] ? accs[i].username : NULL,
				      "confirmation_code", code);

		rc = erase ? erase_account(ctx, accs[i].id, err)
			   : drop_tokens(ctx, accs[i].id, "deauthorized by the user (Meta callback)", err);
		if (!rc)
			rc = ig_audit(ctx, accs[i].tenant_id, erase ? "account.erase" : "account.deauthorize",
				      accs[i].external_id, "ok", d, err);
		json_decref(d);
		if (rc)
			goto out;
		json_array_append_new(list, json_pack("{s:s,s:s}", "tenant", accs[i].tenant,
						      "account", accs[i].external_id));
	}
out:
	free(accs);
	return rc;
}

int ig_connect_deauthorize(struct ig_ctx *ctx, const char *user_id, json_t **out,
			   struct ig_err *err)
{
	json_t *list = json_array();
	int rc;

	*out = NULL;
	if ((rc = ig_store_begin(ctx->store, err))) {
		json_decref(list);
		return rc;
	}
	if ((rc = meta_callback(ctx, user_id, 0, NULL, list, err))
	    || (rc = ig_store_commit(ctx->store, err))) {
		ig_store_rollback(ctx->store);
		json_decref(list);
		return rc;
	}
	*out = json_pack("{s:s,s:o}", "user_id", user_id, "accounts", list);
	return 0;
}

int ig_connect_data_deletion(struct ig_ctx *ctx, const char *user_id, json_t **out,
			     struct ig_err *err)
{
	const char *base = ig_config_get(&ctx->cfg, "data_deletion_url");
	json_t *list = json_array();
	unsigned char h[32];
	char hash[65], *code = NULL, *url = NULL;
	struct ig_stmt *s;
	int64_t now = ig_time_now();
	int rc;

	*out = NULL;
	if (!base || !*base) {
		rc = ig_err_set(err, IG_EX_CONFIG,
			"no data_deletion_url configured: Meta needs a status page URL to show the user");
		goto out;
	}
	if (!(code = alnum_code(16))) {
		rc = oom(err);
		goto out;
	}
	ig_sha256(user_id, strlen(user_id), h);
	ig_hex(h, 32, hash);
	if ((rc = ig_store_begin(ctx->store, err)))
		goto out;
	if ((rc = meta_callback(ctx, user_id, 1, code, list, err)))
		goto fail;
	s = ig_store_prepare(ctx->store,
		"INSERT INTO deletion_requests(code, user_hash, status, accounts, received_at)"
		" VALUES (?,?,'received',?,?)", err);
	if (!s || (rc = ig_store_run(ctx->store, (ig_stmt_bind(s, "ssii", code, hash,
				(int64_t)json_array_size(list), now), s), err)))
		goto fail;
	if ((rc = ig_store_commit(ctx->store, err)))
		goto fail;
	/* The same person may also be a participant in conversations of any
	 * tenant: erase that too (lib/gdpr.c runs its own transaction, so the
	 * request stays 'received' if it fails, and Meta's retry finds it). */
	if (ig_gdpr_participant_valid(user_id)) {
		json_t *report = NULL;

		rc = ig_gdpr_erase_participant(ctx, user_id, &report, err);
		json_decref(report);
		if (rc)
			goto out;
	}
	if ((rc = ig_store_begin(ctx->store, err)))
		goto out;
	s = ig_store_prepare(ctx->store,
		"UPDATE deletion_requests SET status = 'completed', completed_at = ? WHERE code = ?", err);
	if (!s || (rc = ig_store_run(ctx->store, (ig_stmt_bind(s, "is", ig_time_now(), code), s),
				     err))
	    || (rc = ig_store_commit(ctx->store, err)))
		goto fail;
	if (asprintf(&url, "%s%cid=%s", base, strchr(base, '?') ? '&' : '?', code) < 0) {
		url = NULL;
		rc = oom(err);
		goto out;
	}
	*out = json_pack("{s:s,s:s}", "url", url, "confirmation_code", code);
	goto out;
fail:
	if (!rc)
		rc = ecode(err);
	ig_store_rollback(ctx->store);
out:
	json_decref(list);
	free(code);
	free(url);
	return rc;
}

int ig_connect_deletion_status(struct ig_ctx *ctx, const char *code, json_t **out,
			       struct ig_err *err)
{
	struct ig_stmt *s = ig_store_prepare(ctx->store,
		"SELECT status, accounts, received_at, completed_at FROM deletion_requests WHERE code = ?",
		err);
	int rc;

	*out = NULL;
	if (!s)
		return ecode(err);
	ig_stmt_bind(s, "s", code);
	rc = ig_stmt_next(ctx->store, s, err);
	if (rc > 0)
		*out = json_pack("{s:s,s:s,s:I,s:o,s:o}", "confirmation_code", code,
				 "status", ig_col_text(s, 0), "accounts_erased", (json_int_t)ig_col_int(s, 1),
				 "received_at", iso_or_null(ig_col_int(s, 2)),
				 "completed_at", iso_or_null(ig_col_int(s, 3)));
	if ((rc = step_done(ctx->store, s, rc, err, "cannot read deletion request")))
		return rc;
	if (!*out)
		return ig_err_set(err, IG_EX_DATAERR, "unknown confirmation code '%s'", code);
	return 0;
}
