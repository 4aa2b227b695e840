/*
 * apikey.c — API keys: make, create, list, revoke, wipe.  Parsing a
 * presented key is in apikey_parse.c (see apikey.h why).  Contracts in
 * apikey.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apikey.h"
#include "audit.h"
#include "authz.h"
#include "crypto.h"
#include "igtime.h"
#include "store.h"
#include "tenant.h"
#include "tenant_int.h"

/* ------------------------------------------------------------ API keys */

static const char *const apikey_fields[] = { "tenant", "api_key", "user", NULL };

int ig_apikey_new(char **key, char prefix[17], char hash[65])
{
	unsigned char raw[8];
	char *secret, *k;
	size_t n;

	*key = NULL;
	if (ig_random(raw, sizeof(raw)))
		return -1;
	ig_hex(raw, sizeof(raw), prefix);
	secret = ig_random_id(32);
	if (!secret)
		return -1;
	n = 4 + 16 + 1 + strlen(secret) + 1;
	k = malloc(n);
	if (!k) {
		ig_wipe_free(secret);
		return -1;
	}
	snprintf(k, n, "igk_%s_%s", prefix, secret);
	ig_wipe_free(secret);
	if (ig_apikey_parse(k, prefix, hash)) {
		ig_wipe_free(k);
		return -1;
	}
	*key = k;
	return 0;
}

void ig_apikey_wipe(json_t *rec)
{
	json_t *k = json_object_get(rec, "key");

	if (json_is_string(k))
		memset((char *)json_string_value(k), 0, json_string_length(k));
}

/* A super-admin key is the most powerful credential there is: only the
 * person who owns the store file may mint one (authz.h). */
static int deny_super_key(struct ig_ctx *ctx, const char *email, struct ig_err *err)
{
	json_t *d = json_pack("{s:s,s:s}", "reason", "super-admin keys only by the store owner",
			      "role", ctx->actor.role);

	ig_audit(ctx, 0, "key.create", email, "denied", d, NULL);
	json_decref(d);
	return ig_err_set(err, IG_EX_NOPERM,
		"permission denied: only the store owner may create a super-admin key");
}

/* The role a new key of user uid acts with: super_admin (the user must be
 * one) or the user's role in tenant tid (they must be a member); 65 else. */
static int key_role(struct ig_ctx *ctx, int super_admin, int64_t tid, int64_t uid,
		    const char *email, const char *slug, char role[32], struct ig_err *err)
{
	struct ig_stmt *s;
	int rc;

	if (super_admin) {
		if (!(s = ig_store_prepare(ctx->store, "SELECT super_admin FROM users WHERE id = ?", err)))
			return err->code;
		ig_stmt_bind(s, "i", uid);
		if ((rc = (int)tn_fetch_int(ctx, s, 0, err)) != 1)
			return rc < 0 ? err->code : ig_err_set(err, IG_EX_DATAERR,
				"user '%s' is not a super admin (see 'user add --super-admin')", email);
		return 0;
	}
	if (!(s = ig_store_prepare(ctx->store, tn_member_sql, err)))
		return err->code;
	ig_stmt_bind(s, "ii", tid, uid);
	rc = ig_stmt_next(ctx->store, s, err);
	if (rc != 1)
		return rc < 0 ? err->code
			: ig_err_set(err, IG_EX_DATAERR, "user '%s' is not a member of tenant '%s'",
				     email, slug);
	snprintf(role, 32, "%s", ig_col_text(s, 0));
	ig_stmt_reset(s);
	return 0;
}

/* Onboarding again: a live key of that name for that user is there — 65,
 * noted as existing with its prefix (tn_onboarding must be set); else 0. */
static int key_exists(struct ig_ctx *ctx, int64_t uid, int64_t tid, const char *label,
		      const char *email, struct ig_err *err)
{
	struct ig_stmt *q = ig_store_query(ctx->store, err,
		"SELECT prefix FROM api_keys WHERE user_id = ? AND name = ?"
		" AND revoked_at IS NULL AND COALESCE(tenant_id, 0) = ?", "isi", uid, label, tid);
	int n = q ? ig_stmt_next(ctx->store, q, err) : -1;

	if (n < 0)
		return err->code;
	if (n == 1) {
		snprintf(tn_onboarding->prefix, sizeof(tn_onboarding->prefix), "%s",
			 ig_col_text(q, 0));
		ig_stmt_reset(q);
		return tn_exists(err, "API key '%s' of user '%s' already exists", label, email);
	}
	return 0;
}

int ig_apikey_create(struct ig_ctx *ctx, const json_t *rec, const char *dflt_tenant,
		     int super_admin, json_t **out, struct ig_err *err)
{
	const char *tslug, *label, *email;
	char slug[64] = "", role[32] = "super_admin", prefix[17], hash[65], iso[32];
	char *key = NULL;
	struct ig_stmt *s;
	int64_t tid = 0, uid, now = ig_time_now();
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = tn_check_fields(rec, apikey_fields, err))
	    || (rc = tn_get_str(rec, "tenant", 0, 63, &tslug, err))
	    || (rc = tn_get_str(rec, "api_key", 0, IG_NAME_MAX, &label, err))
	    || (rc = tn_get_str(rec, "user", 1, 254, &email, err))
	    || (rc = tn_check_email(email, err)))
		return rc;
	if (super_admin) {
		if (tslug)
			return ig_err_set(err, IG_EX_DATAERR, "a super-admin key has no tenant");
		if ((rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_WRITE, "key.create", err)))
			return rc;
		if (ctx->actor.kind != IG_ACTOR_OWNER)
			return deny_super_key(ctx, email, err);
	} else if ((rc = ig_tenant_resolve(ctx, tslug ? tslug : dflt_tenant, IG_MOD_TENANCY,
					   IG_WRITE, "key.create", &tid, slug, err))) {
		return rc;
	}
	if ((rc = tn_tx_begin(ctx, err)))
		return rc;
	if ((rc = tn_member_user(ctx, email, slug, &uid, err)))
		goto out;
	if ((rc = key_role(ctx, super_admin, tid, uid, email, slug, role, err))
	    || (tn_onboarding && label && *label
		&& (rc = key_exists(ctx, uid, tid, label, email, err))))
		goto out;
	if (ig_apikey_new(&key, prefix, hash)) {
		rc = ig_err_set(err, IG_EX_SOFTWARE, "cannot generate an API key (no randomness)");
		goto out;
	}
	if (!(s = ig_store_prepare(ctx->store,
			"INSERT INTO api_keys(tenant_id, user_id, prefix, hash, name, created_at)"
			" VALUES (?,?,?,?,?,?)", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "Iisssi", tid, uid, prefix, hash, label ? label : "", now);
	if ((rc = ig_store_run(ctx->store, s, err)))
		goto out;
	/* The audit row names the key by its prefix; the key itself is never
	 * written anywhere but stdout, once. */
	rc = tn_audit_ok(ctx, tid, "key.create", prefix,
			 json_pack("{s:s,s:s,s:s}", "user", email, "role", role, "name", label ? label : ""),
			 err);
out:
	if ((rc = tn_tx_end(ctx, rc, err))) {
		ig_wipe_free(key);
		return rc;
	}
	*out = json_pack("{s:s?,s:s,s:s,s:s,s:s,s:s,s:s}", "tenant", tid ? slug : NULL,
			 "user", email, "role", role, "api_key", label ? label : "",
			 "prefix", prefix, "key", key, "created_at", ig_time_iso(now, iso));
	ig_wipe_free(key);
	return *out ? 0 : OOM(err);
}

static const char apikey_sql[] =
	"SELECT k.prefix, t.slug AS tenant, u.email AS user,"
	" CASE WHEN k.tenant_id IS NULL THEN 'super_admin' ELSE m.role END AS role,"
	" k.name AS api_key,"
	" CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked' ELSE 'active' END AS status,"
	" k.created_at, k.last_used_at, k.revoked_at"
	" FROM api_keys k JOIN users u ON u.id = k.user_id"
	" LEFT JOIN tenants t ON t.id = k.tenant_id"
	" LEFT JOIN memberships m ON m.tenant_id = k.tenant_id AND m.user_id = k.user_id"
	" WHERE (?1 = 0 OR k.tenant_id = ?1) ORDER BY k.id";

int ig_apikey_list(struct ig_ctx *ctx, const char *tenant, ig_row_fn *fn, void *arg,
		   struct ig_err *err)
{
	struct ig_stmt *s;
	int64_t tid = 0;
	int rc;

	ERR_LOCAL(err);
	if ((!tenant || !*tenant) && !ctx->actor.tenant_id)
		rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_READ, "key.list", err);
	else
		rc = ig_tenant_resolve(ctx, tenant, IG_MOD_TENANCY, IG_READ, "key.list", &tid, NULL, err);
	if (rc)
		return rc;
	PREPARE(s, apikey_sql);
	ig_stmt_bind(s, "i", tid);
	return tn_list_rows(ctx, s, fn, arg, err);
}

int ig_apikey_revoke(struct ig_ctx *ctx, const char *prefix, json_t **out, struct ig_err *err)
{
	struct ig_stmt *s;
	int64_t tid;
	int rc, found;

	ERR_LOCAL(err);
	*out = NULL;
	if (strlen(prefix) != 16 || strspn(prefix, "0123456789abcdef") != 16)
		return ig_err_set(err, IG_EX_DATAERR,
			"invalid key prefix '%s' (16 hex digits, as 'key list' shows)", prefix);
	PREPARE(s, "SELECT coalesce(tenant_id, 0) FROM api_keys WHERE prefix = ?");
	ig_stmt_bind(s, "s", prefix);
	rc = ig_stmt_next(ctx->store, s, err);
	if (rc < 0)
		return err->code;
	found = rc == 1;
	tid = found ? ig_col_int(s, 0) : 0;
	if (found)
		ig_stmt_reset(s);
	if (found && !ctx->actor.super_admin && tid != ctx->actor.tenant_id) {
		/* Another tenant's key (or a super-admin key) is, for a tenant's
		 * key, no key at all: the answer must not name its tenant. */
		ig_audit(ctx, ctx->actor.tenant_id, "key.revoke", prefix, "denied", NULL, NULL);
		found = 0;
	}
	if (!found)
		return ig_err_set(err, IG_EX_DATAERR, "unknown API key '%s'", prefix);
	if ((rc = tid ? ig_authz_require(ctx, tid, IG_MOD_TENANCY, IG_WRITE, "key.revoke", err)
		      : ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_WRITE, "key.revoke", err)))
		return rc;
	if ((rc = tn_tx_begin(ctx, err)))
		return rc;
	if (!(s = ig_store_prepare(ctx->store,
			"UPDATE api_keys SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "is", ig_time_now(), prefix);
	if ((rc = ig_store_run(ctx->store, s, err)))
		goto out;
	if (!ig_store_changes(ctx->store)) {
		rc = ig_err_set(err, IG_EX_DATAERR, "API key '%s' is already revoked", prefix);
		goto out;
	}
	if ((rc = tn_audit_ok(ctx, tid, "key.revoke", prefix, NULL, err)))
		goto out;
	if (!(s = ig_store_prepare(ctx->store,
			"SELECT k.prefix, t.slug AS tenant, u.email AS user, k.name AS api_key,"
			" 'revoked' AS status, k.created_at, k.last_used_at, k.revoked_at"
			" FROM api_keys k JOIN users u ON u.id = k.user_id"
			" LEFT JOIN tenants t ON t.id = k.tenant_id WHERE k.prefix = ?", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "s", prefix);
	rc = tn_fetch_one(ctx, s, out, err);
	rc = rc < 0 ? -rc : 0;
out:
	return tn_tx_end_out(ctx, rc, out, err);
}
