/*
 * member.c — memberships: grant and revoke a user's role in a tenant, and
 * the membership helpers user.c and apikey.c share (tenant_int.h).
 * Contracts in member.h.
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "authz.h"
#include "igtime.h"
#include "member.h"
#include "store.h"
#include "tenant.h"
#include "tenant_int.h"

/* ------------------------------------------------------------ helpers (tenant_int.h) */

/* Insert a membership (the caller holds the transaction and checked it is
 * new) and audit it. */
int tn_add_membership(struct ig_ctx *ctx, int64_t tid, int64_t uid, const char *email,
		      const char *role, struct ig_err *err)
{
	struct ig_stmt *s;
	int rc;

	PREPARE(s, "INSERT INTO memberships(tenant_id, user_id, role, created_at) VALUES (?,?,?,?)");
	ig_stmt_bind(s, "iisi", tid, uid, role, ig_time_now());
	if ((rc = ig_store_run(ctx->store, s, err)))
		return rc;
	return tn_audit_ok(ctx, tid, "member.grant", email, json_pack("{s:s}", "role", role), err);
}

const char tn_member_sql[] =
	"SELECT role FROM memberships WHERE tenant_id = ? AND user_id = ?";

/*
 * May the actor give user `email` a role in tenant tid?  A super admin may
 * always.  Anyone else only to a user who is already a member of tid, or
 * who is no member anywhere and no super admin: otherwise a tenant's
 * org_admin could take in another tenant's user and mint a key in their
 * name.  An unknown user gets the same answer as a user of another tenant,
 * so the answer tells nothing about who else is in the store.  Call it
 * before the transaction (the denial is audited); 0 or 77.
 */
int tn_grant_allowed(struct ig_ctx *ctx, int64_t tid, const char *email, struct ig_err *err)
{
	struct ig_stmt *s;
	int64_t ok;
	json_t *d;

	if (ctx->actor.super_admin)
		return 0;
	PREPARE(s, "SELECT EXISTS (SELECT 1 FROM users u WHERE u.email = ?2 AND"
		   " (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.tenant_id = ?1)"
		   " OR (u.super_admin = 0 AND NOT EXISTS (SELECT 1 FROM memberships m"
		   " WHERE m.user_id = u.id))))");
	ig_stmt_bind(s, "is", tid, email);
	if ((ok = tn_fetch_int(ctx, s, 0, err)) < 0)
		return err->code;
	if (ok)
		return 0;
	d = json_pack("{s:s,s:s}", "reason", "unknown user or a member of another tenant",
		      "role", ctx->actor.role);
	ig_audit(ctx, tid, "member.grant", email, "denied", d, NULL);
	json_decref(d);
	return ig_err_set(err, IG_EX_NOPERM,
		"permission denied: user '%s' is unknown or a member of another tenant;"
		" ask a super admin", email);
}

int tn_member_user(struct ig_ctx *ctx, const char *email, const char *slug, int64_t *uid,
		   struct ig_err *err)
{
	if ((*uid = tn_user_id(ctx, email, err)) > 0)
		return 0;
	/* only a super admin learns whether the user exists at all */
	return *uid < 0 ? err->code : ctx->actor.super_admin
		? ig_err_set(err, IG_EX_DATAERR, "unknown user '%s'", email)
		: ig_err_set(err, IG_EX_DATAERR, "user '%s' is not a member of tenant '%s'",
			     email, slug);
}

/* ------------------------------------------------------------ members */

static const char *const member_fields[] = { "tenant", "user", "role", NULL };

int ig_member_grant(struct ig_ctx *ctx, const json_t *rec, const char *dflt_tenant,
		    json_t **out, struct ig_err *err)
{
	const char *email, *role, *tslug;
	char slug[64], prev[32] = "";
	struct ig_stmt *s;
	int64_t tid, uid;
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = tn_check_fields(rec, member_fields, err))
	    || (rc = tn_get_str(rec, "tenant", 0, 63, &tslug, err))
	    || (rc = tn_get_str(rec, "user", 1, 254, &email, err))
	    || (rc = tn_check_email(email, err))
	    || (rc = tn_get_str(rec, "role", 1, 32, &role, err))
	    || (rc = tn_check_role(role, err)))
		return rc;
	if ((rc = ig_tenant_resolve(ctx, tslug ? tslug : dflt_tenant, IG_MOD_TENANCY, IG_WRITE,
				    "member.grant", &tid, slug, err))
	    || (rc = tn_grant_allowed(ctx, tid, email, err)))
		return rc;
	if ((rc = tn_tx_begin(ctx, err)))
		return rc;
	if ((uid = tn_user_id(ctx, email, err)) <= 0) {
		rc = uid < 0 ? err->code : ig_err_set(err, IG_EX_DATAERR,
			"unknown user '%s' (add it with 'tenant-admin user add')", email);
		goto out;
	}
	if (!(s = ig_store_prepare(ctx->store, tn_member_sql, err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "ii", tid, uid);
	if ((rc = ig_stmt_next(ctx->store, s, err)) < 0) {
		rc = err->code;
		goto out;
	}
	if (rc == 1) {
		snprintf(prev, sizeof(prev), "%s", ig_col_text(s, 0));
		ig_stmt_reset(s);
	}
	rc = 0;
	if (!strcmp(prev, role)) {
		rc = ig_err_set(err, IG_EX_DATAERR, "user '%s' is already %s of tenant '%s'",
				email, role, slug);
		goto out;
	}
	if (!*prev) {
		rc = tn_add_membership(ctx, tid, uid, email, role, err);
	} else {
		if (!(s = ig_store_prepare(ctx->store,
				"UPDATE memberships SET role = ? WHERE tenant_id = ? AND user_id = ?", err))) {
			rc = err->code;
			goto out;
		}
		ig_stmt_bind(s, "sii", role, tid, uid);
		if (!(rc = ig_store_run(ctx->store, s, err)))
			rc = tn_audit_ok(ctx, tid, "member.grant", email,
					 json_pack("{s:s,s:s}", "role", role, "previous", prev), err);
	}
out:
	if ((rc = tn_tx_end(ctx, rc, err)))
		return rc;
	*out = json_pack("{s:s,s:s,s:s,s:s}", "tenant", slug, "user", email, "role", role,
			 "status", *prev ? "updated" : "created");
	if (*out && *prev)
		json_object_set_new(*out, "previous", json_string(prev));
	return *out ? 0 : OOM(err);
}

int ig_member_revoke(struct ig_ctx *ctx, const char *tenant, const char *email,
		     json_t **out, struct ig_err *err)
{
	char slug[64];
	struct ig_stmt *s;
	int64_t tid, uid;
	int rc, nkeys = 0;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = tn_check_email(email, err))
	    || (rc = ig_tenant_resolve(ctx, tenant, IG_MOD_TENANCY, IG_WRITE, "member.revoke",
				       &tid, slug, err)))
		return rc;
	if ((rc = tn_tx_begin(ctx, err)))
		return rc;
	if ((rc = tn_member_user(ctx, email, slug, &uid, err)))
		goto out;
	if (!(s = ig_store_prepare(ctx->store,
			"DELETE FROM memberships WHERE tenant_id = ? AND user_id = ?", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "ii", tid, uid);
	if ((rc = ig_store_run(ctx->store, s, err)))
		goto out;
	if (!ig_store_changes(ctx->store)) {
		rc = ig_err_set(err, IG_EX_DATAERR, "user '%s' is not a member of tenant '%s'",
				email, slug);
		goto out;
	}
	/* A key of a former member would be refused anyway (ctx.c checks the
	 * membership); revoking it says so in "key list" too. */
	if (!(s = ig_store_prepare(ctx->store,
			"UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND user_id = ?"
			" AND revoked_at IS NULL", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "iii", ig_time_now(), tid, uid);
	if ((rc = ig_store_run(ctx->store, s, err)))
		goto out;
	nkeys = ig_store_changes(ctx->store);
	rc = tn_audit_ok(ctx, tid, "member.revoke", email, json_pack("{s:i}", "keys_revoked", nkeys), err);
out:
	if ((rc = tn_tx_end(ctx, rc, err)))
		return rc;
	*out = json_pack("{s:s,s:s,s:s,s:i}", "tenant", slug, "user", email, "status", "revoked",
			 "keys_revoked", nkeys);
	return *out ? 0 : OOM(err);
}
