/*
 * agent.c — a tenant's agents: create, list, show, update, delete, the
 * default agent.  Contracts in agent.h.
 */
#include <string.h>

#include "agent.h"
#include "authz.h"
#include "igtime.h"
#include "store.h"
#include "tenant.h"
#include "tenant_int.h"

/* ------------------------------------------------------------ fields */

/* "en", "it", "pt-BR", "zh-Hant-TW": a 2-3 letter code and subtags. */
static int language_valid(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz");

	if (n < 2 || n > 3)
		return 0;
	for (s += n; *s; s += n) {
		if (*s != '-' && *s != '_')
			return 0;
		s++;
		n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
		if (n < 2 || n > 8)
			return 0;
	}
	return 1;
}

/* Debounce: whole seconds, or a duration string ("30s", "2m"); at most a
 * day, which is already far beyond any sensible burst window. */
static int get_debounce(const json_t *rec, const char *key, int64_t *out, struct ig_err *err)
{
	const json_t *v = json_object_get(rec, key);
	int64_t d = -1;

	*out = -1;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		d = json_integer_value(v);
	else if (!json_is_string(v) || ig_duration_parse(json_string_value(v), &d))
		return ig_err_set(err, IG_EX_DATAERR,
			"field '%s' must be seconds (a whole number, or like \"30s\", \"2m\")", key);
	if (d < 0 || d > 86400)
		return ig_err_set(err, IG_EX_DATAERR, "field '%s' must be from 0 to 86400 seconds", key);
	*out = d;
	return 0;
}

/* ------------------------------------------------------------ agents */

static const char *const agent_fields[] = {
	"tenant", "agent", "display_name", "personality", "instructions", "business_name",
	"language", "booking", "engine", "model", "debounce", "pause_on_human", "active", NULL
};

struct agent_spec {
	const char *display_name, *personality, *instructions, *business_name, *language,
		   *engine, *model;
	int booking, pause_on_human, active;   /* -1 = unchanged */
	int64_t debounce;                      /* -1 = unchanged */
};

static int agent_parse(const json_t *rec, struct agent_spec *a, json_t *changed,
		       struct ig_err *err)
{
	int rc;

	if ((rc = tn_get_str(rec, "display_name", 0, IG_NAME_MAX, &a->display_name, err))
	    || (rc = tn_get_str(rec, "personality", 0, IG_TEXT_MAX, &a->personality, err))
	    || (rc = tn_get_str(rec, "instructions", 0, IG_TEXT_MAX, &a->instructions, err))
	    || (rc = tn_get_str(rec, "business_name", 0, IG_NAME_MAX, &a->business_name, err))
	    || (rc = tn_get_str(rec, "language", 0, 35, &a->language, err))
	    || (rc = tn_get_str(rec, "engine", 0, 16, &a->engine, err))
	    || (rc = tn_get_str(rec, "model", 0, IG_NAME_MAX, &a->model, err))
	    || (rc = tn_get_bool(rec, "booking", &a->booking, err))
	    || (rc = tn_get_bool(rec, "pause_on_human", &a->pause_on_human, err))
	    || (rc = tn_get_bool(rec, "active", &a->active, err))
	    || (rc = get_debounce(rec, "debounce", &a->debounce, err)))
		return rc;
	if (a->language && !language_valid(a->language))
		return ig_err_set(err, IG_EX_DATAERR,
			"invalid language '%s' (a code like 'en', 'it' or 'pt-BR')", a->language);
	if (a->engine && strcmp(a->engine, "kb") && strcmp(a->engine, "openai"))
		return ig_err_set(err, IG_EX_DATAERR, "invalid engine '%s' (kb or openai)", a->engine);
	if (changed) {
		const char *k;
		json_t *v;

		json_object_foreach((json_t *)rec, k, v)
			if (strcmp(k, "tenant") && strcmp(k, "agent"))
				json_array_append_new(changed, json_string(k));
	}
	return 0;
}

/* Apply the fields of a to agent id; absent fields keep their value (the
 * schema holds the defaults of a new agent). */
static int agent_apply(struct ig_ctx *ctx, int64_t id, const struct agent_spec *a,
		       struct ig_err *err)
{
	/* a NULL text or a negative number keeps the column */
	return ig_store_runf(ctx->store, err, "UPDATE agents SET"
		" display_name = COALESCE(?1, display_name), personality = COALESCE(?2, personality),"
		" instructions = COALESCE(?3, instructions), business_name = COALESCE(?4, business_name),"
		" language = COALESCE(?5, language), engine = COALESCE(?6, engine),"
		" model = COALESCE(?7, model),"
		" booking_enabled = CASE WHEN ?8 < 0 THEN booking_enabled ELSE ?8 END,"
		" pause_on_human = CASE WHEN ?9 < 0 THEN pause_on_human ELSE ?9 END,"
		" active = CASE WHEN ?10 < 0 THEN active ELSE ?10 END,"
		" debounce_seconds = CASE WHEN ?11 < 0 THEN debounce_seconds ELSE ?11 END,"
		" updated_at = ?12 WHERE id = ?13", "sssssssiiiiii",
		a->display_name, a->personality, a->instructions, a->business_name, a->language,
		a->engine, a->model, (int64_t)a->booking, (int64_t)a->pause_on_human,
		(int64_t)a->active, (int64_t)a->debounce, ig_time_now(), id);
}

static const char agent_sql[] =
	"SELECT t.slug AS tenant, a.name AS agent, a.display_name, a.personality, a.instructions,"
	" a.business_name, a.language, a.booking_enabled AS booking, a.engine, a.model,"
	" a.debounce_seconds AS debounce, a.pause_on_human, a.active, a.is_default AS \"default\","
	" (SELECT count(*) FROM accounts c WHERE c.agent_id = a.id) AS accounts,"
	" a.created_at, a.updated_at"
	" FROM agents a JOIN tenants t ON t.id = a.tenant_id"
	" WHERE a.tenant_id = ?1 AND (?2 IS NULL OR a.name = ?2) ORDER BY a.name";

static int agent_record(struct ig_ctx *ctx, int64_t tid, const char *name, json_t **out,
			struct ig_err *err)
{
	struct ig_stmt *s;
	int rc;

	PREPARE(s, agent_sql);
	ig_stmt_bind(s, "is", tid, name);
	rc = tn_fetch_one(ctx, s, out, err);
	return rc < 0 ? -rc : rc ? 0 : ig_err_set(err, IG_EX_SOFTWARE, "agent '%s' vanished", name);
}

/* The agent's id and default flag; 65 when unknown. */
static int agent_find(struct ig_ctx *ctx, int64_t tid, const char *slug, const char *name,
		      int64_t *id, int *is_default, struct ig_err *err)
{
	struct ig_stmt *s;
	int rc;

	PREPARE(s, "SELECT id, is_default FROM agents WHERE tenant_id = ? AND name = ?");
	ig_stmt_bind(s, "is", tid, name);
	if ((rc = ig_stmt_next(ctx->store, s, err)) < 0)
		return err->code;
	if (rc == 1) {
		*id = ig_col_int(s, 0);
		if (is_default)
			*is_default = (int)ig_col_int(s, 1);
		ig_stmt_reset(s);
		return 0;
	}
	return ig_err_set(err, IG_EX_DATAERR, "unknown agent '%s' in tenant '%s'", name, slug);
}

int ig_agent_create(struct ig_ctx *ctx, const json_t *rec, const char *dflt_tenant,
		    json_t **out, struct ig_err *err)
{
	struct agent_spec a;
	const char *tslug, *name;
	char slug[64];
	struct ig_stmt *s;
	int64_t tid, id, now = ig_time_now();
	int rc, dflt;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = tn_check_fields(rec, agent_fields, err))
	    || (rc = tn_get_str(rec, "tenant", 0, 63, &tslug, err))
	    || (rc = tn_get_str(rec, "agent", 1, 63, &name, err))
	    || (rc = tn_check_slug("agent", name, err))
	    || (rc = agent_parse(rec, &a, NULL, err)))
		return rc;
	if ((rc = ig_tenant_resolve(ctx, tslug ? tslug : dflt_tenant, IG_MOD_AGENTS, IG_WRITE,
				    "agent.create", &tid, slug, err)))
		return rc;
	if ((rc = tn_tx_begin(ctx, err)))
		return rc;
	rc = agent_find(ctx, tid, slug, name, &id, NULL, err);
	if (!rc) {
		rc = tn_exists(err, "agent '%s' already exists in tenant '%s'", name, slug);
		goto out;
	}
	if (rc != IG_EX_DATAERR)   /* a SELECT fails with 65 only for "unknown" */
		goto out;
	rc = 0;
	/* The first agent of a tenant becomes its default (agent.h). */
	if (!(s = ig_store_prepare(ctx->store,
			"INSERT INTO agents(tenant_id, name, is_default, created_at, updated_at)"
			" VALUES (?1, ?2, NOT EXISTS (SELECT 1 FROM agents WHERE tenant_id = ?1"
			" AND is_default = 1), ?3, ?3)", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "isi", tid, name, now);
	if ((rc = ig_store_run(ctx->store, s, err)))
		goto out;
	id = ig_store_last_id(ctx->store);
	if ((rc = agent_apply(ctx, id, &a, err))
	    || (rc = agent_record(ctx, tid, name, out, err)))
		goto out;
	dflt = json_is_true(json_object_get(*out, "default"));
	rc = tn_audit_ok(ctx, tid, "agent.create", name, json_pack("{s:b}", "default", dflt), err);
out:
	return tn_tx_end_out(ctx, rc, out, err);
}

int ig_agent_list(struct ig_ctx *ctx, const char *tenant, ig_row_fn *fn, void *arg,
		  struct ig_err *err)
{
	struct ig_stmt *s;
	int64_t tid;
	int rc;

	ERR_LOCAL(err);
	if ((rc = ig_tenant_resolve(ctx, tenant, IG_MOD_AGENTS, IG_READ, "agent.list", &tid, NULL, err)))
		return rc;
	PREPARE(s, agent_sql);
	ig_stmt_bind(s, "in", tid);
	return tn_list_rows(ctx, s, fn, arg, err);
}

int ig_agent_show(struct ig_ctx *ctx, const char *tenant, const char *name, json_t **out,
		  struct ig_err *err)
{
	char slug[64];
	int64_t tid, id;
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = ig_tenant_resolve(ctx, tenant, IG_MOD_AGENTS, IG_READ, "agent.show", &tid, slug, err))
	    || (rc = agent_find(ctx, tid, slug, name, &id, NULL, err)))
		return rc;
	return agent_record(ctx, tid, name, out, err);
}

static const char *const agent_update_fields[] = {
	"display_name", "personality", "instructions", "business_name", "language", "booking",
	"engine", "model", "debounce", "pause_on_human", "active", NULL
};

int ig_agent_update(struct ig_ctx *ctx, const char *tenant, const char *name,
		    const json_t *changes, json_t **out, struct ig_err *err)
{
	struct agent_spec a;
	json_t *changed;
	char slug[64];
	int64_t tid, id;
	int rc;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = tn_check_fields(changes, agent_update_fields, err)))
		return rc;
	if (!json_object_size(changes))
		return ig_err_set(err, IG_EX_USAGE, "nothing to update: give at least one field");
	if (!(changed = json_array()))
		return OOM(err);
	if ((rc = agent_parse(changes, &a, changed, err))
	    || (rc = ig_tenant_resolve(ctx, tenant, IG_MOD_AGENTS, IG_WRITE, "agent.update", &tid,
				       slug, err))) {
		json_decref(changed);
		return rc;
	}
	if ((rc = tn_tx_begin(ctx, err))) {
		json_decref(changed);
		return rc;
	}
	if (!(rc = agent_find(ctx, tid, slug, name, &id, NULL, err))
	    && !(rc = agent_apply(ctx, id, &a, err))
	    && !(rc = tn_audit_ok(ctx, tid, "agent.update", name,
				  json_pack("{s:O}", "changed", changed), err)))
		rc = agent_record(ctx, tid, name, out, err);
	json_decref(changed);
	return tn_tx_end_out(ctx, rc, out, err);
}

static int set_default(struct ig_ctx *ctx, int64_t tid, int64_t id, struct ig_err *err)
{
	struct ig_stmt *s;
	int rc;

	/* Clear first: the partial unique index allows one default at a time. */
	PREPARE(s, "UPDATE agents SET is_default = 0 WHERE tenant_id = ? AND is_default = 1");
	ig_stmt_bind(s, "i", tid);
	if ((rc = ig_store_run(ctx->store, s, err)))
		return rc;
	PREPARE(s, "UPDATE agents SET is_default = 1, updated_at = ? WHERE id = ?");
	ig_stmt_bind(s, "ii", ig_time_now(), id);
	return ig_store_run(ctx->store, s, err);
}

int ig_agent_delete(struct ig_ctx *ctx, const char *tenant, const char *name,
		    const char *new_default, json_t **out, struct ig_err *err)
{
	char slug[64];
	struct ig_stmt *s;
	int64_t tid, id, nid = 0, others = 0, accounts = 0;
	int rc, dflt = 0;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = ig_tenant_resolve(ctx, tenant, IG_MOD_AGENTS, IG_WRITE, "agent.delete", &tid,
				    slug, err)))
		return rc;
	if (new_default && !strcmp(new_default, name))
		return ig_err_set(err, IG_EX_DATAERR,
			"--new-default names the agent being deleted ('%s')", name);
	if ((rc = tn_tx_begin(ctx, err)))
		return rc;
	if ((rc = agent_find(ctx, tid, slug, name, &id, &dflt, err)))
		goto out;
	if (new_default && (rc = agent_find(ctx, tid, slug, new_default, &nid, NULL, err)))
		goto out;
	if (!(s = ig_store_prepare(ctx->store,
			"SELECT (SELECT count(*) FROM agents WHERE tenant_id = ?1 AND id <> ?2) * 1000000000"
			" + (SELECT count(*) FROM accounts WHERE agent_id = ?2)", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "ii", tid, id);
	if ((accounts = tn_fetch_int(ctx, s, 0, err)) < 0) {
		rc = err->code;
		goto out;
	}
	others = accounts / 1000000000;
	accounts %= 1000000000;
	if (dflt && others && !nid) {
		rc = ig_err_set(err, IG_EX_DATAERR,
			"agent '%s' is the default agent of tenant '%s': name its successor with --new-default NAME",
			name, slug);
		goto out;
	}
	if (!(s = ig_store_prepare(ctx->store, "DELETE FROM agents WHERE id = ?", err))) {
		rc = err->code;
		goto out;
	}
	ig_stmt_bind(s, "i", id);
	if ((rc = ig_store_run(ctx->store, s, err)))
		goto out;
	if (nid && (rc = set_default(ctx, tid, nid, err)))
		goto out;
	rc = tn_audit_ok(ctx, tid, "agent.delete", name,
			 json_pack("{s:s?,s:I}", "new_default", nid ? new_default : NULL,
				"accounts", (json_int_t)accounts), err);
out:
	if ((rc = tn_tx_end(ctx, rc, err)))
		return rc;
	/* Accounts of the deleted agent fall back to the tenant default
	 * (accounts.agent_id ON DELETE SET NULL). */
	*out = json_pack("{s:s,s:s,s:s,s:s?,s:I}", "tenant", slug, "agent", name,
			 "status", "deleted", "default_agent", nid ? new_default : NULL,
			 "accounts_to_default", (json_int_t)accounts);
	return *out ? 0 : OOM(err);
}

int ig_agent_set_default(struct ig_ctx *ctx, const char *tenant, const char *name,
			 json_t **out, struct ig_err *err)
{
	char slug[64];
	int64_t tid, id;
	int rc, dflt = 0;

	ERR_LOCAL(err);
	*out = NULL;
	if ((rc = ig_tenant_resolve(ctx, tenant, IG_MOD_AGENTS, IG_WRITE, "agent.set_default",
				    &tid, slug, err)))
		return rc;
	if ((rc = tn_tx_begin(ctx, err)))
		return rc;
	if ((rc = agent_find(ctx, tid, slug, name, &id, &dflt, err)))
		goto out;
	if (!dflt && !(rc = set_default(ctx, tid, id, err)))
		rc = tn_audit_ok(ctx, tid, "agent.set_default", name, NULL, err);
	if (!rc)
		rc = agent_record(ctx, tid, name, out, err);
out:
	if (!(rc = tn_tx_end_out(ctx, rc, out, err)))
		json_object_set_new(*out, "status", json_string(dflt ? "unchanged" : "updated"));
	return rc;
}
