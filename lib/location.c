/*
 * location.c — a tenant's locations: create, list, show, update, delete.
 * Contracts in location.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authz.h"
#include "igtime.h"
#include "location.h"
#include "store.h"
#include "tenant.h"
#include "tenant_int.h"

/* ------------------------------------------------------------ fields */

/* "UTC", "Europe/Rome", "America/Argentina/Buenos_Aires", "Etc/GMT+1": a
 * zone of the IANA time zone database ($TZDIR, else /usr/share/zoneinfo),
 * a TZif file there.  Where no database is installed only the form is
 * checked. */
static int timezone_valid(const char *s)
{
	const char *dir = getenv("TZDIR");
	char path[512], magic[4];
	size_t n = strlen(s);
	FILE *f;
	int ok;

	if (!n || n > 64 || *s == '/' || s[n - 1] == '/' || strstr(s, "..") || strstr(s, "//"))
		return 0;
	if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") != n)
		return 0;
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	snprintf(path, sizeof(path), "%s/%s", dir, s);
	if (!(f = fopen(path, "rb")))
		return access(dir, F_OK) != 0;   /* no database here: the form only */
	ok = fread(magic, 1, 4, f) == 4 && !memcmp(magic, "TZif", 4);
	fclose(f);
	return ok;
}

/* ------------------------------------------------------------ locations */

static const char *const location_fields[] = {
	"tenant", "location", "timezone", "hours", "context", NULL
};
static const char *const location_update_fields[] = { "timezone", "hours", "context", NULL };

struct location_spec {
	const char *timezone, *hours, *context;
};

static int location_parse(const json_t *rec, struct location_spec *l, struct ig_err *err)
{
	int rc;

	if ((rc = tn_get_str(rec, "timezone", 0, 64, &l->timezone, err))
	    || (rc = tn_get_str(rec, "hours", 0, IG_TEXT_MAX, &l->hours, err))
	    || (rc = tn_get_str(rec, "context", 0, IG_TEXT_MAX, &l->context, err)))
		return rc;
	if (l->timezone && !timezone_valid(l->timezone))
		return ig_err_set(err, IG_EX_DATAERR,
			"invalid timezone '%s' (an IANA name like 'Europe/Rome' or 'UTC')", l->timezone);
	return 0;
}

static int location_apply(struct ig_ctx *ctx, int64_t id, const struct location_spec *l,
			  struct ig_err *err)
{
	struct ig_stmt *s;

	PREPARE(s, "UPDATE locations SET timezone = COALESCE(?, timezone),"
		   " hours = COALESCE(?, hours), context = COALESCE(?, context), updated_at = ?"
		   " WHERE id = ?");
	ig_stmt_bind(s, "sssii", l->timezone, l->hours, l->context, ig_time_now(), id);
	return ig_store_run(ctx->store, s, err);
}

static const char location_sql[] =
	"SELECT t.slug AS tenant, l.name AS location, l.timezone, l.hours, l.context,"
	" (SELECT count(*) FROM accounts c WHERE c.location_id = l.id) AS accounts,"
	" l.created_at, l.updated_at"
	" FROM locations l JOIN tenants t ON t.id = l.tenant_id"
	" WHERE l.tenant_id = ?1 AND (?2 IS NULL OR l.name = ?2) ORDER BY l.name";

static int location_find(struct ig_ctx *ctx, int64_t tid, const char *slug, const char *name,
			 int64_t *id, struct ig_err *err)
{
	struct ig_stmt *s;

	PREPARE(s, "SELECT id FROM locations WHERE tenant_id = ? AND name = ?");
	ig_stmt_bind(s, "is", tid, name);
	if ((*id = tn_fetch_int(ctx, s, 0, err)) < 0)
		return err->code;
	if (!*id)
		return ig_err_set(err, IG_EX_DATAERR, "unknown location '%s' in tenant '%s'", name, slug);
	return 0;
}

static int location_record(struct ig_ctx *ctx, int64_t tid, const char *name, json_t **out,
			   struct ig_err *err)
{
	struct ig_stmt *s;
	int rc;

	PREPARE(s, location_sql);
	ig_stmt_bind(s, "is", tid, name);
	rc = tn_fetch_one(ctx, s, out, err);
	return rc < 0 ? -rc : rc ? 0 : ig_err_set(err, IG_EX_SOFTWARE, "location '%s' vanished", name);
}

int ig_location_create(struct ig_ctx *ctx, const json_t *rec, const char *dflt_tenant,
		       json_t **out, struct ig_err *err)
{
	struct location_spec l;
	const char *tslug, *name;
	char slug[64];
	struct ig_stmt *s;
	int64_t tid, id, now = ig_time_now();
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = tn_check_fields(rec, location_fields, err))
	    || (rc = tn_get_str(rec, "tenant", 0, 63, &tslug, err))
	    || (rc = tn_get_str(rec, "location", 1, 63, &name, err))
	    || (rc = tn_check_slug("location", name, err))
	    || (rc = location_parse(rec, &l, err)))
		return rc;
	if ((rc = ig_tenant_resolve(ctx, tslug ? tslug : dflt_tenant, IG_MOD_AGENTS, IG_WRITE,
				    "location.create", &tid, slug, err)))
		return rc;
	if ((rc = tn_tx_begin(ctx, err)))
		return rc;
	rc = location_find(ctx, tid, slug, name, &id, err);
	if (!rc) {
		rc = tn_exists(err, "location '%s' already exists in tenant '%s'", name, slug);
		goto out;
	}
	if (rc != IG_EX_DATAERR)   /* a SELECT fails with 65 only for "unknown" */
		goto out;
	rc = 0;
	if (!(s = ig_store_prepare(ctx->store,
			"INSERT INTO locations(tenant_id, name, created_at, updated_at) VALUES (?,?,?,?)",
			err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "isii", tid, name, now, now);
	if ((rc = ig_store_run(ctx->store, s, err)))
		goto out;
	id = ig_store_last_id(ctx->store);
	if (!(rc = location_apply(ctx, id, &l, err))
	    && !(rc = tn_audit_ok(ctx, tid, "location.create", name, NULL, err)))
		rc = location_record(ctx, tid, name, out, err);
out:
	return tn_tx_end_out(ctx, rc, out, err);
}

int ig_location_list(struct ig_ctx *ctx, const char *tenant, ig_row_fn *fn, void *arg,
		     struct ig_err *err)
{
	struct ig_stmt *s;
	int64_t tid;
	int rc;

	ERR_LOCAL(err);
	if ((rc = ig_tenant_resolve(ctx, tenant, IG_MOD_AGENTS, IG_READ, "location.list", &tid,
				    NULL, err)))
		return rc;
	PREPARE(s, location_sql);
	ig_stmt_bind(s, "in", tid);
	return tn_list_rows(ctx, s, fn, arg, err);
}

int ig_location_show(struct ig_ctx *ctx, const char *tenant, const char *name, json_t **out,
		     struct ig_err *err)
{
	char slug[64];
	int64_t tid, id;
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = ig_tenant_resolve(ctx, tenant, IG_MOD_AGENTS, IG_READ, "location.show", &tid,
				    slug, err))
	    || (rc = location_find(ctx, tid, slug, name, &id, err)))
		return rc;
	return location_record(ctx, tid, name, out, err);
}

int ig_location_update(struct ig_ctx *ctx, const char *tenant, const char *name,
		       const json_t *changes, json_t **out, struct ig_err *err)
{
	struct location_spec l;
	json_t *changed;
	const char *k;
	json_t *v;
	char slug[64];
	int64_t tid, id;
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = tn_check_fields(changes, location_update_fields, err))
	    || (rc = location_parse(changes, &l, err)))
		return rc;
	if (!json_object_size(changes))
		return ig_err_set(err, IG_EX_USAGE, "nothing to update: give at least one field");
	if ((rc = ig_tenant_resolve(ctx, tenant, IG_MOD_AGENTS, IG_WRITE, "location.update", &tid,
				    slug, err)))
		return rc;
	if (!(changed = json_array()))
		return OOM(err);
	json_object_foreach((json_t *)changes, k, v)
		json_array_append_new(changed, json_string(k));
	if ((rc = tn_tx_begin(ctx, err))) {
		json_decref(changed);
		return rc;
	}
	if (!(rc = location_find(ctx, tid, slug, name, &id, err))
	    && !(rc = location_apply(ctx, id, &l, err))
	    && !(rc = tn_audit_ok(ctx, tid, "location.update", name,
				  json_pack("{s:O}", "changed", changed), err)))
		rc = location_record(ctx, tid, name, out, err);
	json_decref(changed);
	return tn_tx_end_out(ctx, rc, out, err);
}

int ig_location_delete(struct ig_ctx *ctx, const char *tenant, const char *name,
		       json_t **out, struct ig_err *err)
{
	char slug[64];
	struct ig_stmt *s;
	int64_t tid, id;
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = ig_tenant_resolve(ctx, tenant, IG_MOD_AGENTS, IG_WRITE, "location.delete", &tid,
				    slug, err)))
		return rc;
	if ((rc = tn_tx_begin(ctx, err)))
		return rc;
	if ((rc = location_find(ctx, tid, slug, name, &id, err)))
		goto out;
	if (!(s = ig_store_prepare(ctx->store, "DELETE FROM locations WHERE id = ?", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "i", id);
	if (!(rc = ig_store_run(ctx->store, s, err)))
		rc = tn_audit_ok(ctx, tid, "location.delete", name, NULL, err);
out:
	if ((rc = tn_tx_end(ctx, rc, err)))
		return rc;
	*out = json_pack("{s:s,s:s,s:s}", "tenant", slug, "location", name, "status", "deleted");
	return *out ? 0 : OOM(err);
}
