/*
 * lib/callbacks.c — Meta's signed callbacks (reference §8; see connect.h):
 * signed_request verification, deauthorisation, data deletion with its
 * confirmation code, and the deletion status page's lookup.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "cgi.h"
#include "connect_int.h"
#include "crypto.h"
#include "gdpr.h"
#include "igtime.h"
#include "jsonio.h"

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
	return conn_acc_rows(ctx, s, accs, n, "cannot look up accounts", err);
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

		rc = erase ? conn_erase_account(ctx, accs[i].id, err)
			   : conn_drop_tokens(ctx, accs[i].id,
					      "deauthorized by the user (Meta callback)", err);
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
	rc = conn_rollback(ctx->store, rc, err);
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
	if ((rc = conn_step_done(ctx->store, s, rc, err, "cannot read deletion request")))
		return rc;
	if (!*out)
		return ig_err_set(err, IG_EX_DATAERR, "unknown confirmation code '%s'", code);
	return 0;
}
