/*
 * user.c — users: add (with a first membership), list, remove.  Contracts
 * in user.h.
 */
#include "authz.h"
#include "igtime.h"
#include "store.h"
#include "tenant.h"
#include "tenant_int.h"
#include "user.h"

/* ------------------------------------------------------------ users */

static const char *const user_fields[] = { "user", "name", "super_admin", "tenant", "role", NULL };

int ig_user_add(struct ig_ctx *ctx, const json_t *rec, int ensure, const char *dflt_tenant,
		json_t **out, struct ig_err *err)
{
	const char *email, *name, *tslug, *role;
	char slug[64] = "";
	struct ig_stmt *s;
	int64_t uid, tid = 0;
	int rc, super;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = tn_check_fields(rec, user_fields, err))
	    || (rc = tn_get_str(rec, "user", 1, 254, &email, err))
	    || (rc = tn_check_email(email, err))
	    || (rc = tn_get_str(rec, "name", 0, IG_NAME_MAX, &name, err))
	    || (rc = tn_get_bool(rec, "super_admin", &super, err))
	    || (rc = tn_get_str(rec, "tenant", 0, 63, &tslug, err))
	    || (rc = tn_get_str(rec, "role", 0, 32, &role, err)))
		return rc;
	if (tslug && !role)
		return ig_err_set(err, IG_EX_DATAERR, "field 'tenant' needs a 'role' to grant");
	if (role) {
		if ((rc = tn_check_role(role, err))
		    || (rc = ig_tenant_resolve(ctx, tslug ? tslug : dflt_tenant, IG_MOD_TENANCY,
					       IG_WRITE, "member.grant", &tid, slug, err)))
			return rc;
	}
	if ((uid = tn_user_id(ctx, email, err)) < 0)
		return err->code;
	/* Creating a user is a platform act; adding an existing one to a
	 * tenant (onboarding) only needs the grant, within tn_grant_allowed()'s
	 * limits, which also answer for an unknown user. */
	if (ensure && role && !ctx->actor.super_admin
	    && (rc = tn_grant_allowed(ctx, tid, email, err)))
		return rc;
	if ((!uid || !ensure || !role)
	    && (rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_WRITE, "user.add", err)))
		return rc;
	if ((rc = tn_tx_begin(ctx, err)))
		return rc;
	if ((uid = tn_user_id(ctx, email, err)) < 0) {
		rc = err->code;
		goto out;
	}
	if (uid && (!ensure || !role)) {
		rc = tn_exists(err, "user '%s' already exists", email);
		goto out;
	}
	if (!uid) {
		if (!(s = ig_store_prepare(ctx->store,
				"INSERT INTO users(email, name, super_admin, created_at) VALUES (?,?,?,?)",
				err))) {
			rc = err->code;
			goto out;
		}
		ig_stmt_bind(s, "ssii", email, name ? name : "", (int64_t)(super > 0), ig_time_now());
		if ((rc = ig_store_run(ctx->store, s, err)))
			goto out;
		uid = ig_store_last_id(ctx->store);
		if ((rc = tn_audit_ok(ctx, 0, "user.add", email,
				      json_pack("{s:b}", "super_admin", super > 0), err)))
			goto out;
	}
	if (role) {
		if (!(s = ig_store_prepare(ctx->store, tn_member_sql, err))) {
			rc = err->code;
			goto out;
		}
		ig_stmt_bind(s, "ii", tid, uid);
		if ((rc = tn_fetch_one(ctx, s, NULL, err)) != 0) {
			rc = rc < 0 ? -rc : tn_exists(err,
				"user '%s' is already a member of tenant '%s'", email, slug);
			goto out;
		}
		if ((rc = tn_add_membership(ctx, tid, uid, email, role, err)))
			goto out;
	}
	if (!(s = ig_store_prepare(ctx->store,
			"SELECT u.email AS user, u.name, u.super_admin, ?2 AS tenant, ?3 AS role,"
			" u.created_at FROM users u WHERE u.id = ?1", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "iss", uid, role ? slug : NULL, role);
	rc = tn_fetch_one(ctx, s, out, err);
	rc = rc < 0 ? -rc : 0;
	if (!rc && !role) {
		json_object_del(*out, "tenant");
		json_object_del(*out, "role");
	}
out:
	return tn_tx_end_out(ctx, rc, out, err);
}

int ig_user_list(struct ig_ctx *ctx, const char *tenant, ig_row_fn *fn, void *arg,
		 struct ig_err *err)
{
	struct ig_stmt *s;
	int64_t tid;
	int rc;

	ERR_LOCAL(err);
	if ((!tenant || !*tenant) && !ctx->actor.tenant_id) {
		if ((rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_READ, "user.list", err)))
			return rc;
		PREPARE(s, "SELECT u.email AS user, u.name, u.super_admin,"
			   " (SELECT group_concat(t.slug || ':' || m.role, ' ') FROM memberships m"
			   "  JOIN tenants t ON t.id = m.tenant_id WHERE m.user_id = u.id) AS tenants,"
			   " u.created_at FROM users u ORDER BY u.email");
		return tn_list_rows(ctx, s, fn, arg, err);
	}
	if ((rc = ig_tenant_resolve(ctx, tenant, IG_MOD_TENANCY, IG_READ, "user.list", &tid, NULL, err)))
		return rc;
	PREPARE(s, "SELECT u.email AS user, u.name, m.role, t.slug AS tenant, u.super_admin,"
		   " m.created_at AS joined_at FROM memberships m"
		   " JOIN users u ON u.id = m.user_id JOIN tenants t ON t.id = m.tenant_id"
		   " WHERE m.tenant_id = ? ORDER BY u.email");
	ig_stmt_bind(s, "i", tid);
	return tn_list_rows(ctx, s, fn, arg, err);
}

int ig_user_remove(struct ig_ctx *ctx, const char *email, json_t **out, struct ig_err *err)
{
	struct ig_stmt *s;
	int64_t uid, nmem = 0, nkeys = 0;
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = tn_check_email(email, err))
	    || (rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_WRITE, "user.remove", err)))
		return rc;
	if ((rc = tn_tx_begin(ctx, err)))
		return rc;
	if ((uid = tn_user_id(ctx, email, err)) <= 0) {
		rc = uid < 0 ? err->code : ig_err_set(err, IG_EX_DATAERR, "unknown user '%s'", email);
		goto out;
	}
	if (!(s = ig_store_prepare(ctx->store,
			"SELECT (SELECT count(*) FROM memberships WHERE user_id = ?1) * 1000000"
			" + (SELECT count(*) FROM api_keys WHERE user_id = ?1)", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "i", uid);
	if ((nkeys = tn_fetch_int(ctx, s, 0, err)) < 0) {
		rc = err->code;
		goto out;
	}
	nmem = nkeys / 1000000;
	nkeys %= 1000000;
	if (!(s = ig_store_prepare(ctx->store, "DELETE FROM users WHERE id = ?", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "i", uid);
	if ((rc = ig_store_run(ctx->store, s, err)))
		goto out;
	rc = tn_audit_ok(ctx, 0, "user.remove", email,
			 json_pack("{s:I,s:I}", "memberships", (json_int_t)nmem, "keys", (json_int_t)nkeys), err);
out:
	if ((rc = tn_tx_end(ctx, rc, err)))
		return rc;
	*out = json_pack("{s:s,s:s,s:I,s:I}", "user", email, "status", "removed",
			 "memberships", (json_int_t)nmem, "keys", (json_int_t)nkeys);
	return *out ? 0 : OOM(err);
}
