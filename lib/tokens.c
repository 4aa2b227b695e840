/*
 * lib/tokens.c — the tokens of connected accounts (see connect.h): sealed
 * under the master key with AAD "accounts:<id>:<column>", opened only here,
 * shown only masked; the outcome of a call on the account row (a refused
 * token marks it needs_reauth); debug_token; refresh before expiry; rekey.
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

/* ------------------------------------------------------------ sealed tokens */

static void aad_of(int64_t id, const char *col, char *buf, size_t n)
{
	snprintf(buf, n, "accounts:%lld:%s", (long long)id, col);
}

/* Open the account's access token (new string, ig_wipe_free). */
int conn_account_token(struct ig_ctx *ctx, const struct ig_account *acc, char **tok,
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
	if ((rc = conn_step_done(ctx->store, s, rc, err, "cannot read token")))
		return rc;
	return ig_err_set(err, IG_EX_DATAERR,
		"account %s has no token (%s); connect it again with 'ig-connect url'",
		acc->external_id, acc->status);
}

/* Seal token for account id and store it with its times; inside the
 * caller's transaction. */
int conn_store_token(struct ig_ctx *ctx, int64_t id, const char *token, int64_t issued,
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

/* A masked token for output, or NULL. */
static json_t *masked(const char *token)
{
	char *m = token ? ig_mask(token) : NULL;
	json_t *v = m ? json_string(m) : json_null();

	free(m);
	return v;
}

/* The masked form of the access token sealed in blob for account id; NULL
 * when it does not open.  New reference. */
json_t *conn_sealed_masked(struct ig_ctx *ctx, int64_t id, const void *blob, size_t len)
{
	char aad[64], *t = NULL;
	json_t *v = NULL;

	aad_of(id, "access_token", aad, sizeof(aad));
	if (!ig_open(&ctx->keys, aad, blob, len, &t, NULL, NULL))
		v = masked(t);
	ig_wipe_free(t);
	return v;
}

int conn_drop_tokens(struct ig_ctx *ctx, int64_t id, const char *why, struct ig_err *err)
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

/* Record the outcome of a call on the account row (own transaction). */
int conn_note_result(struct ig_ctx *ctx, const struct ig_account *acc, int code,
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

/* ------------------------------------------------------------ debug_token */

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

/* GET debug_token for token; *data new. */
int conn_debug_token(struct ig_ctx *ctx, struct ig_graph *g, const char *token, json_t **data,
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

		rc = conn_gcall(g, IG_HOST_GRAPH_FB, "GET", 1, "/debug_token", q, NULL, NULL, 1,
				&body, NULL, err);
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
	conn_set_error(o, rc, err->msg);
	conn_note_result(ctx, acc, rc, err->msg, NULL);
	audit_refresh_failure(ctx, acc, rc, err->msg);
	return rc;
}

/* Facebook Login: Page tokens from a long-lived user token do not expire
 * and there is nothing to refresh: check that it is still good. */
static int refresh_page_token(struct ig_ctx *ctx, struct ig_graph *g,
			      const struct ig_account *acc, const char *token, json_t *o,
			      struct ig_err *err)
{
	json_t *body = NULL;
	int rc = conn_debug_token(ctx, g, token, &body, err);

	if (!rc && !json_is_true(json_object_get(body, "is_valid")))
		rc = ig_err_set(err, IG_EX_NOPERM,
			"the Page token of account %s is no longer valid; the user must log in again",
			acc->external_id);
	if (rc) {
		json_decref(body);
		return refresh_failed(ctx, acc, o, rc, err);
	}
	json_object_set_new(o, "result", json_string("valid"));
	json_object_set_new(o, "token_expires_at", iso_or_null(ig_json_int(body, "expires_at", 0)));
	json_decref(body);
	conn_note_result(ctx, acc, 0, NULL, NULL);
	return 0;
}

/* Instagram Login: store the token Meta refreshed (body, its answer) and
 * mark the account active, in one transaction; say so in o. */
static int refresh_store(struct ig_ctx *ctx, const struct ig_account *acc, const json_t *body,
			 int64_t now, json_t *o, struct ig_err *err)
{
	long long in = ig_json_int(body, "expires_in", 0);
	int64_t exp = in > 0 ? now + in : 0;
	struct ig_stmt *s;
	int rc;

	if ((rc = ig_store_begin(ctx->store, err)))
		return rc;
	if ((rc = conn_store_token(ctx, acc->id, ig_json_str(body, "access_token"), now, exp,
				   err))) {
		ig_store_rollback(ctx->store);
		return rc;
	}
	s = ig_store_prepare(ctx->store,
		"UPDATE accounts SET status = 'active', last_error = NULL WHERE id = ?", err);
	if (!s || (rc = ig_store_run(ctx->store, (ig_stmt_bind(s, "i", acc->id), s), err))
	    || (rc = ig_store_commit(ctx->store, err))) {
		if (!s)
			rc = ecode(err);
		ig_store_rollback(ctx->store);
		return rc;
	}
	json_object_set_new(o, "result", json_string("refreshed"));
	json_object_set_new(o, "token_expires_at", iso_or_null(exp));
	json_object_set_new(o, "token", masked(ig_json_str(body, "access_token")));
	return 0;
}

int ig_connect_refresh(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
		       int64_t within, json_t **out, struct ig_err *err)
{
	int64_t now = ig_time_now();
	char *token = NULL, when[32];
	json_t *body = NULL;
	int rc;

	*out = conn_result(acc);
	json_object_set_new(*out, "token_expires_at", iso_or_null(acc->token_expires_at));
	if (!strcmp(acc->status, "disconnected")) {
		rc = ig_err_set(err, IG_EX_DATAERR, "account %s is disconnected", acc->external_id);
		conn_set_error(*out, rc, err->msg);
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
		conn_set_error(*out, rc, err->msg);
		return rc;
	}
	if ((rc = conn_account_token(ctx, acc, &token, err))) {
		conn_set_error(*out, rc, err->msg);
		json_object_set_new(*out, "result", json_string("failed"));
		return rc;
	}
	if (!is_ig(acc->flavour)) {
		rc = refresh_page_token(ctx, g, acc, token, *out, err);
		ig_wipe_free(token);
		return rc;
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

		rc = conn_gcall(g, IG_HOST_GRAPH_IG, "GET", 0, "/refresh_access_token", q, NULL,
				NULL, 1, &body, NULL, err);
	}
	ig_wipe_free(token);
	if (!rc && !ig_json_str(body, "access_token"))
		rc = bad_reply(err, "GET /refresh_access_token (no access_token)");
	if (rc) {
		json_decref(body);
		return refresh_failed(ctx, acc, *out, rc, err);
	}
	rc = refresh_store(ctx, acc, body, now, *out, err);
	json_decref(body);
	return rc;
}

/* ------------------------------------------------------------ rekey */

static const char *const rekey_cols[] = { "access_token", "refresh_token" };

/* A sealed token to re-seal: the account row and the column (rekey_cols). */
struct rekey_item {
	int64_t id;
	int col;
};

/* Every sealed token, in row order; *work new (free), also on failure. */
static int rekey_list(struct ig_ctx *ctx, struct rekey_item **work, size_t *n, struct ig_err *err)
{
	struct ig_stmt *s;
	int rc;

	s = ig_store_prepare(ctx->store,
		"SELECT id, access_token IS NOT NULL, refresh_token IS NOT NULL FROM accounts"
		" WHERE access_token IS NOT NULL OR refresh_token IS NOT NULL ORDER BY id", err);
	if (!s)
		return ecode(err);
	while ((rc = ig_stmt_next(ctx->store, s, err)) > 0) {
		int c;

		for (c = 0; c < 2; c++) {
			void *p;

			if (!ig_col_int(s, 1 + c))
				continue;
			p = realloc(*work, (*n + 1) * sizeof(**work));
			if (!p) {
				ig_stmt_reset(s);
				return oom(err);
			}
			*work = p;
			(*work)[*n].id = ig_col_int(s, 0);
			(*work)[*n].col = c;
			(*n)++;
		}
	}
	return conn_step_done(ctx->store, s, rc, err, "cannot list tokens");
}

/* Open one token with the current keyring and seal it under nk, inside the
 * caller's transaction; a token gone meanwhile is skipped. */
static int rekey_one(struct ig_ctx *ctx, struct ig_keyring *nk, const struct rekey_item *w,
		     struct ig_err *err)
{
	char aad[64], *pt = NULL;
	unsigned char *blob = NULL;
	size_t ptlen = 0, blen;
	struct ig_stmt *s;
	int rc;

	aad_of(w->id, rekey_cols[w->col], aad, sizeof(aad));
	s = w->col ? ig_store_prepare(ctx->store,
				"SELECT refresh_token FROM accounts WHERE id = ?", err)
		   : ig_store_prepare(ctx->store,
				"SELECT access_token FROM accounts WHERE id = ?", err);
	if (!s)
		return ecode(err);
	ig_stmt_bind(s, "i", w->id);
	if ((rc = ig_stmt_next(ctx->store, s, err)) <= 0)
		return conn_step_done(ctx->store, s, rc, err, "cannot read token");
	{
		size_t sl;
		const void *sb = ig_col_blob(s, 0, &sl);

		rc = ig_open(&ctx->keys, aad, sb, sl, &pt, &ptlen, err);
	}
	ig_stmt_reset(s);
	if (rc) {
		ig_err_prefix(err, "account row %lld, %s", (long long)w->id, rekey_cols[w->col]);
		return rc;
	}
	rc = ig_seal(nk, aad, pt, ptlen, &blob, &blen, err);
	ig_wipe_free(pt);
	if (rc)
		return rc;
	s = w->col ? ig_store_prepare(ctx->store,
				"UPDATE accounts SET refresh_token = ? WHERE id = ?", err)
		   : ig_store_prepare(ctx->store,
				"UPDATE accounts SET access_token = ? WHERE id = ?", err);
	if (!s) {
		free(blob);
		return ecode(err);
	}
	ig_stmt_bind(s, "bi", blob, (int)blen, w->id);
	rc = ig_store_run(ctx->store, s, err);
	free(blob);
	return rc;
}

int ig_connect_rekey(struct ig_ctx *ctx, const char *new_key_file, json_t **out,
		     struct ig_err *err)
{
	struct ig_keyring nk;
	struct rekey_item *work = NULL;
	size_t n = 0, i;
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
	if ((rc = rekey_list(ctx, &work, &n, err)))
		goto fail;
	for (i = 0; i < n; i++)
		if ((rc = rekey_one(ctx, &nk, &work[i], err)))
			goto fail;
	detail = json_pack("{s:i,s:s}", "tokens", (json_int_t)n, "key_id", hex);
	rc = ig_audit(ctx, 0, "account.rekey", new_key_file, "ok", detail, err);
	json_decref(detail);
	if (rc || (rc = ig_store_commit(ctx->store, err)))
		goto fail;
	*out = json_pack("{s:i,s:s,s:s}", "resealed", (json_int_t)n, "key_id", hex, "key_file",
			 new_key_file);
	goto out;
fail:
	rc = conn_rollback(ctx->store, rc, err);
out:
	free(work);
	ig_keyring_clear(&nk);
	return rc;
}
