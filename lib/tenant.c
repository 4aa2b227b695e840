/*
 * tenant.c — tenants, the onboarding stream, the audit listing and "init";
 * and the record and store helpers every tenancy module shares
 * (tenant_int.h).  Contracts in tenant.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "apikey.h"
#include "audit.h"
#include "authz.h"
#include "crypto.h"
#include "igtime.h"
#include "location.h"
#include "store.h"
#include "tenant.h"
#include "tenant_int.h"
#include "user.h"

/* ------------------------------------------------------------ validation */

int ig_slug_valid(const char *s)
{
	size_t n = 0;

	if (!s || !*s || *s == '-')
		return 0;
	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-'))
			return 0;
	return n <= 63;
}

int ig_email_valid(const char *s)
{
	const char *at, *dot, *p;

	if (!s || strlen(s) > 254)
		return 0;
	for (p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return 0;
	at = strchr(s, '@');
	if (!at || at == s || strchr(at + 1, '@'))
		return 0;
	dot = strrchr(at + 1, '.');
	return dot && dot > at + 1 && dot[1] != '\0';
}

int tn_check_slug(const char *what, const char *s, struct ig_err *err)
{
	if (ig_slug_valid(s))
		return 0;
	return ig_err_set(err, IG_EX_DATAERR,
		"invalid %s name '%s' (use 1-63 characters: a-z, 0-9 and '-', not starting with '-')",
		what, s);
}

int tn_check_email(const char *s, struct ig_err *err)
{
	if (ig_email_valid(s))
		return 0;
	return ig_err_set(err, IG_EX_DATAERR, "invalid e-mail address '%s'", s);
}

int tn_check_role(const char *role, struct ig_err *err)
{
	if (ig_role_valid(role))
		return 0;
	return ig_err_set(err, IG_EX_DATAERR,
		"invalid role '%s' (org_admin, marketer, sales or viewer)", role);
}

/* ------------------------------------------------------------ records */

static int in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return 1;
	return 0;
}

int tn_check_fields(const json_t *rec, const char *const *allowed, struct ig_err *err)
{
	const char *k;
	json_t *v;

	if (!json_is_object(rec))
		return ig_err_set(err, IG_EX_DATAERR, "a record must be a JSON object");
	json_object_foreach((json_t *)rec, k, v)
		if (!in_list(allowed, k))
			return ig_err_set(err, IG_EX_DATAERR, "unknown field '%s'", k);
	return 0;
}

/* A string field: absent or null → *out NULL (65 when required). */
int tn_get_str(const json_t *rec, const char *key, int required, size_t max,
	       const char **out, struct ig_err *err)
{
	const json_t *v = json_object_get(rec, key);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return ig_err_set(err, IG_EX_DATAERR, "missing field '%s'", key);
		return 0;
	}
	if (!json_is_string(v))
		return ig_err_set(err, IG_EX_DATAERR, "field '%s' must be a string", key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return ig_err_set(err, IG_EX_DATAERR, "field '%s' contains a NUL character", key);
	if (json_string_length(v) > max)
		return ig_err_set(err, IG_EX_DATAERR, "field '%s' is longer than %zu bytes", key, max);
	if (required && !json_string_length(v))
		return ig_err_set(err, IG_EX_DATAERR, "field '%s' is empty", key);
	*out = json_string_value(v);
	return 0;
}

/* A flag: true/false → 1/0; absent → -1. */
int tn_get_bool(const json_t *rec, const char *key, int *out, struct ig_err *err)
{
	const json_t *v = json_object_get(rec, key);

	*out = -1;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return ig_err_set(err, IG_EX_DATAERR, "field '%s' must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

static int is_time_col(const char *name)
{
	size_t n = strlen(name);

	return !strcmp(name, "at") || (n > 3 && !strcmp(name + n - 3, "_at"));
}

/* A JSON string of text that may not be valid UTF-8 (bytes from the store):
 * invalid bytes become '?', so the output stays valid JSON. */
static json_t *text_json(const char *s, size_t n)
{
	json_t *v = json_stringn(s, n);
	char *copy;
	size_t i;

	if (v)
		return v;
	copy = malloc(n + 1);
	if (!copy)
		return NULL;
	for (i = 0; i < n; i++)
		copy[i] = (unsigned char)s[i] < 0x80 && s[i] ? s[i] : '?';
	copy[n] = '\0';
	v = json_stringn(copy, n);
	free(copy);
	return v;
}

json_t *ig_tenant_row_json(struct ig_stmt *s)
{
	static const char *const flags[] = {
		"booking", "pause_on_human", "active", "default", "super_admin",
		"deleted", "own", "hidden", NULL
	};
	static const char *const json_cols[] = { "detail", "details", "attachments", "meta", NULL };
	json_t *o = json_object(), *v;
	int i, n = ig_col_count(s);
	char iso[32];

	if (!o)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *name = ig_col_name(s, i);

		switch (ig_col_kind(s, i)) {
		case IG_COL_NULL:
			v = json_null();
			break;
		case IG_COL_INT:
			if (is_time_col(name))
				v = json_string(ig_time_iso(ig_col_int(s, i), iso));
			else if (in_list(flags, name))
				v = json_boolean(ig_col_int(s, i));
			else
				v = json_integer(ig_col_int(s, i));
			break;
		case IG_COL_REAL:
			v = json_real(ig_col_double(s, i));
			break;
		case IG_COL_TEXT: {
			const char *t = ig_col_text(s, i);
			size_t len = ig_col_bytes(s, i);

			v = NULL;
			if (in_list(json_cols, name))
				v = json_loadb(t, len, JSON_DECODE_ANY, NULL);
			if (!v)
				v = text_json(t, len);
			break;
		}
		default:
			continue;   /* blobs (sealed tokens, raw bytes) never leave */
		}
		if (!v || json_object_set_new(o, name, v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* ------------------------------------------------------------ store helpers */

/* Step a SELECT expected to give at most one row: 1 found (*out new, or
 * left alone when out is NULL), 0 not found, or -code on error. */
int tn_fetch_one(struct ig_ctx *ctx, struct ig_stmt *s, json_t **out, struct ig_err *err)
{
	int rc = ig_stmt_next(ctx->store, s, err);

	if (rc == 1) {
		if (out && !(*out = ig_tenant_row_json(s))) {
			ig_stmt_reset(s);
			return -OOM(err);
		}
		ig_stmt_reset(s);
		return 1;
	}
	if (rc < 0)
		return -(err ? err->code : IG_EX_SOFTWARE);
	return 0;
}

/* One integer from a SELECT; dflt when there is no row; -1 with err on error. */
int64_t tn_fetch_int(struct ig_ctx *ctx, struct ig_stmt *s, int64_t dflt, struct ig_err *err)
{
	int rc = ig_stmt_next(ctx->store, s, err);
	int64_t v = dflt;

	if (rc < 0)
		return -1;
	if (rc == 1) {
		v = ig_col_int(s, 0);
		ig_stmt_reset(s);
	}
	return v;
}

int tn_list_rows(struct ig_ctx *ctx, struct ig_stmt *s, ig_row_fn *fn, void *arg,
		 struct ig_err *err)
{
	json_t *row;
	int rc, r;

	while ((rc = ig_stmt_next(ctx->store, s, err)) == 1) {
		if (!(row = ig_tenant_row_json(s))) {
			ig_stmt_reset(s);
			return OOM(err);
		}
		r = fn(arg, row);
		json_decref(row);
		if (r) {
			ig_stmt_reset(s);
			return r;
		}
	}
	return rc < 0 ? (err ? err->code : IG_EX_SOFTWARE) : 0;
}

/* The onboarding run under way (ig_tenant_onboard_run), for the length of
 * one record: a dry run keeps the whole stream in one transaction, each
 * record under a savepoint, and rolls it back at the end; an existing
 * record is noted (exists), not failed. */
struct ig_onboard *tn_onboarding;

int tn_tx_begin(struct ig_ctx *ctx, struct ig_err *err)
{
	int rc;

	if (!tn_onboarding || !tn_onboarding->dry_run)
		return ig_store_begin(ctx->store, err);
	if (!tn_onboarding->open) {
		if ((rc = ig_store_begin(ctx->store, err)))
			return rc;
		tn_onboarding->open = 1;
	}
	return ig_store_runf(ctx->store, err, "SAVEPOINT onboard_record", "");
}

int tn_tx_end(struct ig_ctx *ctx, int rc, struct ig_err *err)
{
	if (tn_onboarding && tn_onboarding->dry_run && tn_onboarding->open) {
		struct ig_err e2 = { 0 };

		if (rc)
			ig_store_runf(ctx->store, &e2, "ROLLBACK TO onboard_record", "");
		ig_store_runf(ctx->store, &e2, "RELEASE onboard_record", "");
		return rc;
	}
	if (rc) {
		ig_store_rollback(ctx->store);
		return rc;
	}
	return ig_store_commit(ctx->store, err);
}

int tn_tx_end_out(struct ig_ctx *ctx, int rc, json_t **out, struct ig_err *err)
{
	if ((rc = tn_tx_end(ctx, rc, err))) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

int tn_audit_ok(struct ig_ctx *ctx, int64_t tenant, const char *action, const char *target,
		json_t *detail, struct ig_err *err)
{
	int rc = ig_audit(ctx, tenant, action, target, "ok", detail, err);

	json_decref(detail);
	return rc;
}

int64_t tn_user_id(struct ig_ctx *ctx, const char *email, struct ig_err *err)
{
	struct ig_stmt *s = ig_store_prepare(ctx->store, "SELECT id FROM users WHERE email = ?", err);

	if (!s)
		return -1;
	ig_stmt_bind(s, "s", email);
	return tn_fetch_int(ctx, s, 0, err);
}

/* ------------------------------------------------------------ tenancy */

int ig_tenant_resolve(struct ig_ctx *ctx, const char *slug, enum ig_module module,
		      enum ig_access access, const char *action, int64_t *id,
		      char *slug_out, struct ig_err *err)
{
	int rc;

	ERR_LOCAL(err);
	rc = ig_ctx_tenant(ctx, slug, id, err);
	if (rc == IG_EX_DATAERR && ctx->actor.kind == IG_ACTOR_KEY && !ctx->actor.super_admin) {
		char have[64];
		json_t *d = json_pack("{s:s,s:s,s:s}", "module", ig_module_name(module),
				      "access", access == IG_WRITE ? "write" : "read",
				      "role", ctx->actor.role);

		ig_ctx_tenant_slug(ctx, ctx->actor.tenant_id, have);
		ig_audit(ctx, ctx->actor.tenant_id, action, slug, "denied", d, NULL);
		json_decref(d);
		return ig_err_set(err, IG_EX_NOPERM,
			"permission denied: this API key belongs to tenant '%s', not '%s'", have, slug);
	}
	if (rc)
		return rc;
	if ((rc = ig_authz_require(ctx, *id, module, access, action, err)))
		return rc;
	if (slug_out)
		ig_ctx_tenant_slug(ctx, *id, slug_out);
	return 0;
}

static const char tenant_sql[] =
	"SELECT t.slug AS tenant, t.name,"
	" (SELECT count(*) FROM memberships m WHERE m.tenant_id = t.id) AS users,"
	" (SELECT count(*) FROM agents a WHERE a.tenant_id = t.id) AS agents,"
	" (SELECT count(*) FROM locations l WHERE l.tenant_id = t.id) AS locations,"
	" (SELECT count(*) FROM accounts c WHERE c.tenant_id = t.id) AS accounts,"
	" (SELECT a.name FROM agents a WHERE a.tenant_id = t.id AND a.is_default = 1) AS default_agent,"
	" t.created_at, t.updated_at"
	" FROM tenants t WHERE (?1 = 0 OR t.id = ?1) ORDER BY t.slug";

static int tenant_record(struct ig_ctx *ctx, int64_t id, json_t **out, struct ig_err *err)
{
	struct ig_stmt *s;
	int rc;

	PREPARE(s, tenant_sql);
	ig_stmt_bind(s, "i", id);
	rc = tn_fetch_one(ctx, s, out, err);
	if (rc < 0)
		return -rc;
	return rc ? 0 : ig_err_set(err, IG_EX_SOFTWARE, "tenant %lld vanished", (long long)id);
}

static const char *const tenant_fields[] = { "tenant", "name", NULL };

int ig_tenant_create(struct ig_ctx *ctx, const json_t *rec, json_t **out, struct ig_err *err)
{
	const char *slug, *name;
	struct ig_stmt *s;
	int64_t id, now = ig_time_now();
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = tn_check_fields(rec, tenant_fields, err))
	    || (rc = tn_get_str(rec, "tenant", 1, 63, &slug, err))
	    || (rc = tn_check_slug("tenant", slug, err))
	    || (rc = tn_get_str(rec, "name", 0, IG_NAME_MAX, &name, err)))
		return rc;
	if (!name || !*name)
		name = slug;
	if ((rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_WRITE, "tenant.create", err)))
		return rc;
	if ((rc = tn_tx_begin(ctx, err)))
		return rc;
	if (!(s = ig_store_prepare(ctx->store, "SELECT id FROM tenants WHERE slug = ?", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "s", slug);
	if ((id = tn_fetch_int(ctx, s, 0, err)) != 0) {
		rc = id < 0 ? err->code : tn_exists(err, "tenant '%s' already exists", slug);
		goto out;
	}
	/* Never reuse the id of a deleted tenant: the audit log (no foreign
	 * key, it outlives rows) still holds that id's rows, and a new tenant
	 * must not see them. */
	if (!(s = ig_store_prepare(ctx->store,
			"INSERT INTO tenants(id, slug, name, created_at, updated_at) VALUES"
			" (max(coalesce((SELECT max(id) FROM tenants), 0),"
			"      coalesce((SELECT max(tenant_id) FROM audit_log), 0)) + 1, ?, ?, ?, ?)",
			err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "ssii", slug, name, now, now);
	if ((rc = ig_store_run(ctx->store, s, err)))
		goto out;
	id = ig_store_last_id(ctx->store);
	if ((rc = tn_audit_ok(ctx, id, "tenant.create", slug, json_pack("{s:s}", "name", name), err)))
		goto out;
	rc = tenant_record(ctx, id, out, err);
out:
	return tn_tx_end_out(ctx, rc, out, err);
}

int ig_tenant_list(struct ig_ctx *ctx, ig_row_fn *fn, void *arg, struct ig_err *err)
{
	struct ig_stmt *s;
	int64_t id = 0;
	int rc;

	ERR_LOCAL(err);
	/* A tenant key sees its own tenant only; an actor spanning tenants
	 * needs platform read to see them all. */
	if (ctx->actor.tenant_id)
		rc = ig_authz_require(ctx, id = ctx->actor.tenant_id, IG_MOD_TENANCY, IG_READ,
				      "tenant.list", err);
	else
		rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_READ, "tenant.list", err);
	if (rc)
		return rc;
	PREPARE(s, tenant_sql);
	ig_stmt_bind(s, "i", id);
	return tn_list_rows(ctx, s, fn, arg, err);
}

int ig_tenant_show(struct ig_ctx *ctx, const char *slug, json_t **out, struct ig_err *err)
{
	int64_t id;
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = ig_tenant_resolve(ctx, slug, IG_MOD_TENANCY, IG_READ, "tenant.show", &id, NULL, err)))
		return rc;
	return tenant_record(ctx, id, out, err);
}

int ig_tenant_rename(struct ig_ctx *ctx, const char *slug, const char *new_slug,
		     const char *new_name, json_t **out, struct ig_err *err)
{
	char old[64];
	struct ig_stmt *s;
	int64_t id, other;
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if (!new_slug && !new_name)
		return ig_err_set(err, IG_EX_USAGE, "nothing to rename: give a new name or --name");
	if (new_slug && (rc = tn_check_slug("tenant", new_slug, err)))
		return rc;
	if (new_name && (!*new_name || strlen(new_name) > IG_NAME_MAX))
		return ig_err_set(err, IG_EX_DATAERR, "a tenant's name must have 1 to %d bytes",
				  IG_NAME_MAX);
	if ((rc = ig_tenant_resolve(ctx, slug, IG_MOD_TENANCY, IG_WRITE, "tenant.rename", &id, old, err)))
		return rc;
	if ((rc = tn_tx_begin(ctx, err)))
		return rc;
	if (new_slug && strcmp(new_slug, old)) {
		if (!(s = ig_store_prepare(ctx->store, "SELECT id FROM tenants WHERE slug = ?", err))) {
			rc = err->code;
			goto out;
		}
		ig_stmt_bind(s, "s", new_slug);
		if ((other = tn_fetch_int(ctx, s, 0, err)) != 0) {
			rc = other < 0 ? err->code
				: ig_err_set(err, IG_EX_DATAERR, "tenant '%s' already exists", new_slug);
			goto out;
		}
	}
	if (!(s = ig_store_prepare(ctx->store,
			"UPDATE tenants SET slug = COALESCE(?, slug), name = COALESCE(?, name),"
			" updated_at = ? WHERE id = ?", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "ssii", new_slug, new_name, ig_time_now(), id);
	if ((rc = ig_store_run(ctx->store, s, err)))
		goto out;
	if ((rc = tn_audit_ok(ctx, id, "tenant.rename", old,
			      json_pack("{s:s?,s:s?}", "slug", new_slug, "name", new_name), err)))
		goto out;
	rc = tenant_record(ctx, id, out, err);
out:
	return tn_tx_end_out(ctx, rc, out, err);
}

int ig_tenant_delete(struct ig_ctx *ctx, const char *slug, json_t **out, struct ig_err *err)
{
	char name[64];
	struct ig_stmt *s;
	int64_t id;
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = ig_tenant_resolve(ctx, slug, IG_MOD_PLATFORM, IG_WRITE, "tenant.delete", &id,
				    name, err)))
		return rc;
	if ((rc = tn_tx_begin(ctx, err)))
		return rc;
	if (!(s = ig_store_prepare(ctx->store, "DELETE FROM tenants WHERE id = ?", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "i", id);
	if ((rc = ig_store_run(ctx->store, s, err)))
		goto out;
	rc = tn_audit_ok(ctx, id, "tenant.delete", name, NULL, err);
out:
	if ((rc = tn_tx_end(ctx, rc, err)))
		return rc;
	*out = json_pack("{s:s,s:s}", "tenant", name, "status", "deleted");
	return *out ? 0 : OOM(err);
}

/* ------------------------------------------------------------ onboarding */

int ig_tenant_onboard_run(struct ig_ctx *ctx, struct ig_onboard *ob, const json_t *rec,
			  const char *dflt_tenant, json_t **out, struct ig_err *err)
{
	static const char *const kinds[] = { "api_key", "agent", "location", NULL };
	const char *kind = NULL, *name_key;
	int i, n = 0, rc;

	ERR_LOCAL(err);
	*out = NULL;
	if (!json_is_object(rec))
		return ig_err_set(err, IG_EX_DATAERR, "a record must be a JSON object");
	for (i = 0; kinds[i]; i++)
		if (json_object_get(rec, kinds[i])) {
			kind = kinds[i];
			n++;
		}
	if (n > 1)
		return ig_err_set(err, IG_EX_DATAERR,
			"a record names more than one of 'agent', 'location' and 'api_key'");
	if (!kind)
		kind = json_object_get(rec, "user") ? "user" : "tenant";
	ob->exists = 0;
	ob->prefix[0] = '\0';
	tn_onboarding = ob;
	if (!strcmp(kind, "api_key"))
		rc = ig_apikey_create(ctx, rec, dflt_tenant, 0, out, err);
	else if (!strcmp(kind, "agent"))
		rc = ig_agent_create(ctx, rec, dflt_tenant, out, err);
	else if (!strcmp(kind, "location"))
		rc = ig_location_create(ctx, rec, dflt_tenant, out, err);
	else if (!strcmp(kind, "user"))
		rc = ig_user_add(ctx, rec, 1, dflt_tenant, out, err);
	else
		rc = ig_tenant_create(ctx, rec, out, err);
	tn_onboarding = NULL;
	if (rc == IG_EX_DATAERR && ob->exists) {
		/* already there: reported, not failed; nothing changed */
		const char *t = json_string_value(json_object_get(rec, "tenant"));

		name_key = !strcmp(kind, "tenant") ? NULL : kind;
		*out = json_pack("{s:s,s:s?}", "status", "exists", "tenant",
				 t ? t : dflt_tenant);
		if (*out && name_key)
			json_object_set(*out, name_key, json_object_get(rec, name_key));
		if (*out && !strcmp(kind, "api_key")) {
			json_object_set(*out, "user", json_object_get(rec, "user"));
			json_object_set_new(*out, "prefix", json_string(ob->prefix));
		}
		ig_err_clear(err);
		rc = *out ? 0 : OOM(err);
	} else if (!rc && ob->dry_run) {
		/* nothing was created: no key to show */
		ig_apikey_wipe(*out);
		json_object_del(*out, "key");
		json_object_del(*out, "prefix");
		json_object_set_new(*out, "status", json_string("would_create"));
	}
	if (!rc && json_object_set_new(*out, "kind", json_string(!strcmp(kind, "api_key") ? "key" : kind)))
		rc = OOM(err);
	return rc;
}

void ig_tenant_onboard_end(struct ig_ctx *ctx, struct ig_onboard *ob)
{
	if (ob->open)
		ig_store_rollback(ctx->store);
	ob->open = 0;
}

int ig_tenant_onboard(struct ig_ctx *ctx, const json_t *rec, const char *dflt_tenant,
		      json_t **out, struct ig_err *err)
{
	struct ig_onboard ob = { 0 };

	return ig_tenant_onboard_run(ctx, &ob, rec, dflt_tenant, out, err);
}

/* ------------------------------------------------------------ audit */

int ig_tenant_audit_list(struct ig_ctx *ctx, const struct ig_audit_filter *f, ig_row_fn *fn,
			 void *arg, struct ig_err *err)
{
	struct ig_stmt *s;
	int64_t tid = 0;
	int rc;

	ERR_LOCAL(err);
	if ((!f->tenant || !*f->tenant) && !ctx->actor.tenant_id)
		rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_READ, "audit.read", err);
	else
		rc = ig_tenant_resolve(ctx, f->tenant, IG_MOD_AUDIT, IG_READ, "audit.read", &tid, NULL, err);
	if (rc)
		return rc;
	PREPARE(s, "SELECT a.id, a.at, t.slug AS tenant, a.tenant_id, a.actor, a.action, a.target,"
		   " a.outcome, a.detail FROM audit_log a LEFT JOIN tenants t ON t.id = a.tenant_id"
		   " WHERE (?1 = 0 OR a.tenant_id = ?1)"
		   " AND (?2 IS NULL OR instr(a.actor, ?2) > 0)"
		   " AND (?3 IS NULL OR a.action = ?3 OR (substr(?3, -1) = '*'"
		   "      AND substr(a.action, 1, length(?3) - 1) = substr(?3, 1, length(?3) - 1)))"
		   " AND a.at >= ?4"
		   " ORDER BY a.id LIMIT ?5");
	ig_stmt_bind(s, "issii", tid, f->actor, f->action, f->since,
		      (int64_t)(f->limit > 0 ? f->limit : -1));
	return tn_list_rows(ctx, s, fn, arg, err);
}

/* ------------------------------------------------------------ init */

/* mkdir -p, 0700 for what it creates (the key's directory). */
static int make_dirs(const char *path, struct ig_err *err)
{
	char *dir = strdup(path), *p;
	int rc = 0;

	if (!dir)
		return OOM(err);
	p = strrchr(dir, '/');
	if (p && p != dir) {
		*p = '\0';
		for (p = dir + 1; ; p++) {
			if (*p != '/' && *p)
				continue;
			{
				char c = *p;

				*p = '\0';
				if (mkdir(dir, 0700) && errno != EEXIST) {
					rc = ig_err_errno(err, IG_EX_CANTCREAT, "cannot create directory '%s'", dir);
					break;
				}
				*p = c;
				if (!c)
					break;
			}
		}
	}
	free(dir);
	return rc;
}

/* The schema version of an existing store file, before ig_store_open
 * migrates it; -1 when it cannot be read (ig_store_open will say why). */
static int peek_version(const char *path)
{
	return ig_store_peek_version(path);
}

/* The key id (hex) of one sealed token in the store, "" when none. */
static int sealed_keyid(struct ig_ctx *ctx, char hex[2 * IG_KEYID_LEN + 1], struct ig_err *err)
{
	struct ig_stmt *s;
	int rc;

	hex[0] = '\0';
	PREPARE(s, "SELECT access_token FROM accounts WHERE access_token IS NOT NULL"
		   " UNION ALL SELECT refresh_token FROM accounts WHERE refresh_token IS NOT NULL"
		   " LIMIT 1");
	if ((rc = ig_stmt_next(ctx->store, s, err)) < 0)
		return ig_err_prefix(err, "cannot read accounts");
	if (rc == 1) {
		size_t len;
		const void *blob = ig_col_blob(s, 0, &len);

		if (ig_sealed_keyid(blob, len, hex))
			snprintf(hex, 2 * IG_KEYID_LEN + 1, "?");
		ig_stmt_reset(s);
	}
	return 0;
}

int ig_tenant_setup(struct ig_ctx *ctx, json_t **report, struct ig_err *err)
{
	const char *db = ig_config_get(&ctx->cfg, "db");
	const char *keyf = ig_config_get(&ctx->cfg, "master_key_file");
	const char *prev = ig_config_get(&ctx->cfg, "previous_key_file");
	char sealed[2 * IG_KEYID_LEN + 1];
	struct stat sb;
	int rc, store_existed, key_existed, from = 0, i;

	ERR_LOCAL(err);
	*report = NULL;
	if (!db || !*db)
		return ig_err_set(err, IG_EX_CONFIG, "no store path (set --db or IGKIT_DB)");
	if (!keyf || !*keyf)
		return ig_err_set(err, IG_EX_CONFIG, "no master key file (set master_key_file)");
	/* Check an existing key before touching anything: a key readable by
	 * others is refused (77, with the chmod hint) and nothing is created. */
	key_existed = stat(keyf, &sb) == 0;
	if (!key_existed && errno != ENOENT)
		return ig_err_errno(err, IG_EX_NOPERM, "cannot access master key '%s'", keyf);
	if (key_existed && (rc = ig_key_load(&ctx->keys, keyf, err)))
		return rc;
	if (prev && *prev && (rc = ig_key_load(&ctx->keys, prev, err)))
		return ig_err_prefix(err, "previous_key_file");
	store_existed = stat(db, &sb) == 0;
	if (store_existed && (from = peek_version(db)) < 0)
		from = 0;
	if ((rc = ig_store_open(&ctx->store, db, IG_STORE_CREATE, err))
	    || (rc = ig_ctx_actor(ctx, err))
	    || (rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_WRITE, "store.init", err))
	    || (rc = sealed_keyid(ctx, sealed, err)))
		return rc;
	if (*sealed && !key_existed)
		return ig_err_set(err, IG_EX_NOINPUT,
			"master key '%s' is missing, but the store holds tokens sealed with key %s:"
			" restore that key file (a new key could not open them)", keyf, sealed);
	if (*sealed) {
		char have[2 * IG_KEYID_LEN + 1];
		int match = 0;

		for (i = 0; i < ctx->keys.n; i++) {
			ig_hex(ctx->keys.keys[i].id, IG_KEYID_LEN, have);
			match |= !strcmp(have, sealed);
		}
		ig_hex(ctx->keys.keys[0].id, IG_KEYID_LEN, have);
		if (!match)
			return ig_err_set(err, IG_EX_CONFIG,
				"master key '%s' (id %s) is not the key the store's tokens were sealed"
				" with (id %s): set master_key_file to that key", keyf, have, sealed);
	}
	if (!key_existed && ((rc = make_dirs(keyf, err)) || (rc = ig_key_create(keyf, err))))
		return rc;
	*report = json_pack("{s:s,s:b,s:i,s:i,s:s,s:b}", "store", db, "store_created", !store_existed,
			    "schema_version", ig_store_version(ctx->store), "migrated_from", from,
			    "master_key", keyf, "master_key_created", !key_existed);
	if (!*report)
		return OOM(err);
	if ((rc = ig_audit(ctx, 0, "store.init", db, "ok", *report, err))) {
		json_decref(*report);
		*report = NULL;
	}
	return rc;
}
