#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apikey.h"
#include "ctx.h"
#include "igtime.h"

void ig_ctx_init(struct ig_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ig_keyring_init(&ctx->keys);
	ctx->actor.kind = IG_ACTOR_OWNER;
	ctx->actor.super_admin = 1;
	strcpy(ctx->actor.role, "super_admin");
	strcpy(ctx->actor.label, "owner");
}

void ig_ctx_release(struct ig_ctx *ctx)
{
	ig_store_free(ctx->store);
	ctx->store = NULL;
	ig_keyring_clear(&ctx->keys);
	ig_config_release(&ctx->cfg);
}

int ig_ctx_keys(struct ig_ctx *ctx, struct ig_err *err)
{
	const char *prev;
	int rc;

	if (ctx->keys.n)
		return 0;
	if ((rc = ig_key_load(&ctx->keys, ig_config_get(&ctx->cfg, "master_key_file"), err)))
		return rc;
	prev = ig_config_get(&ctx->cfg, "previous_key_file");
	if (prev && *prev && (rc = ig_key_load(&ctx->keys, prev, err)))
		return ig_err_prefix(err, "previous_key_file");
	return 0;
}

static int actor_from_key(struct ig_ctx *ctx, const char *key, struct ig_err *err)
{
	char prefix[17], hash[65];
	struct ig_stmt *s;
	int n;

	if (ig_apikey_parse(key, prefix, hash))
		return ig_err_set(err, IG_EX_NOPERM, "the API key is malformed (expected igk_…)");
	s = ig_store_query(ctx->store, err,
		"SELECT k.hash, k.tenant_id, k.revoked_at, u.id, u.email, u.super_admin,"
		" (SELECT role FROM memberships m WHERE m.tenant_id = k.tenant_id AND m.user_id = u.id)"
		" FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = ?", "s", prefix);
	if (!s)
		return err ? err->code : IG_EX_SOFTWARE;
	n = ig_stmt_next(ctx->store, s, err);
	if (n < 0)
		return ig_err_prefix(err, "cannot check API key");
	if (n == 0 || strlen(ig_col_text(s, 0)) != 64 || !ig_ct_equal(ig_col_text(s, 0), hash, 64)) {
		ig_stmt_reset(s);
		return ig_err_set(err, IG_EX_NOPERM, "the API key is not valid");
	}
	if (!ig_col_null(s, 2)) {
		ig_stmt_reset(s);
		return ig_err_set(err, IG_EX_NOPERM, "the API key %s was revoked", prefix);
	}
	ctx->actor.kind = IG_ACTOR_KEY;
	ctx->actor.tenant_id = ig_col_int(s, 1);
	ctx->actor.user_id = ig_col_int(s, 3);
	snprintf(ctx->actor.label, sizeof(ctx->actor.label), "key:%s(%s)", prefix, ig_col_text(s, 4));
	ctx->actor.super_admin = ig_col_int(s, 5) && ctx->actor.tenant_id == 0;
	if (ctx->actor.super_admin) {
		strcpy(ctx->actor.role, "super_admin");
	} else if (ig_col_null(s, 6)) {
		ig_stmt_reset(s);
		return ig_err_set(err, IG_EX_NOPERM,
			"the API key's user is no longer a member of its tenant");
	} else {
		snprintf(ctx->actor.role, sizeof(ctx->actor.role), "%s", ig_col_text(s, 6));
	}
	ig_stmt_reset(s);
	/* Best effort, for "tenant-admin key list": at most one write a minute
	 * per key; a read-only or busy store does not stop the command. */
	ig_store_runf(ctx->store, NULL,
		"UPDATE api_keys SET last_used_at = ?1 WHERE prefix = ?2"
		" AND (last_used_at IS NULL OR last_used_at <= ?1 - 60)", "is", ig_time_now(), prefix);
	return 0;
}

int ig_ctx_actor(struct ig_ctx *ctx, struct ig_err *err)
{
	struct stat sb;
	char *key = NULL;
	int rc;

	if (ig_config_has_secret(&ctx->cfg, "api_key_file")) {
		if ((rc = ig_config_secret(&ctx->cfg, "api_key_file", &key, err)))
			return rc;
		rc = actor_from_key(ctx, key, err);
		ig_wipe_free(key);
		return rc;
	}
	/* No key: only the owner of the store file (or root) is the owner. */
	if (ctx->store && stat(ig_store_path(ctx->store), &sb) == 0 && getuid() != 0
	    && getuid() != sb.st_uid)
		return ig_err_set(err, IG_EX_NOPERM,
			"permission denied: not the owner of the store; use an API key (IGKIT_API_KEY)");
	ctx->actor.kind = IG_ACTOR_OWNER;
	ctx->actor.super_admin = 1;
	strcpy(ctx->actor.role, "super_admin");
	strcpy(ctx->actor.label, "owner");
	return 0;
}

int ig_ctx_tenant(struct ig_ctx *ctx, const char *slug, int64_t *id, struct ig_err *err)
{
	int n;

	*id = 0;
	if (!slug || !*slug) {
		if (ctx->actor.tenant_id) {
			*id = ctx->actor.tenant_id;
			return 0;
		}
		return ig_err_set(err, IG_EX_USAGE, "which tenant? name one with --tenant");
	}
	n = ig_store_int(ctx->store, err, id, "SELECT id FROM tenants WHERE slug = ?", "s", slug);
	if (n < 0)
		return ig_err_prefix(err, "cannot look up tenant");
	if (!*id)
		return ig_err_set(err, IG_EX_DATAERR, "unknown tenant '%s'", slug);
	return 0;
}

/* One row's id by (tenant, name) with the statement sql (a literal, so
 * the statement is cached); what names the kind of object in messages. */
static int id_by_name(struct ig_ctx *ctx, const char *sql, const char *what, int64_t tenant_id,
		      const char *name, int64_t *id, struct ig_err *err)
{
	char slug[64];
	int n;

	*id = 0;
	n = ig_store_int(ctx->store, err, id, sql, "is", tenant_id, name);
	if (n < 0)
		return ig_err_prefix(err, "cannot look up a name");
	if (!*id)
		return ig_err_set(err, IG_EX_DATAERR, "unknown %s '%s' in tenant '%s'", what, name,
				  ig_ctx_tenant_slug(ctx, tenant_id, slug));
	return 0;
}

int ig_ctx_agent(struct ig_ctx *ctx, int64_t tenant_id, const char *name, int64_t *id,
		 struct ig_err *err)
{
	return id_by_name(ctx, "SELECT id FROM agents WHERE tenant_id = ? AND name = ?", "agent",
			  tenant_id, name, id, err);
}

int ig_ctx_location(struct ig_ctx *ctx, int64_t tenant_id, const char *name, int64_t *id,
		    struct ig_err *err)
{
	return id_by_name(ctx, "SELECT id FROM locations WHERE tenant_id = ? AND name = ?",
			  "location", tenant_id, name, id, err);
}

const char *ig_ctx_tenant_slug(struct ig_ctx *ctx, int64_t id, char *buf)
{
	struct ig_stmt *s;

	buf[0] = '\0';
	if (!id || !ctx->store)
		return buf;
	s = ig_store_query(ctx->store, NULL, "SELECT slug FROM tenants WHERE id = ?", "i", id);
	if (s && ig_stmt_next(ctx->store, s, NULL) > 0) {
		snprintf(buf, 64, "%s", ig_col_text(s, 0));
		ig_stmt_reset(s);
	}
	return buf;
}

void ig_ctx_act_as_meta(struct ig_ctx *ctx)
{
	memset(&ctx->actor, 0, sizeof(ctx->actor));
	ctx->actor.kind = IG_ACTOR_META;
	ctx->actor.super_admin = 1;
	snprintf(ctx->actor.role, sizeof(ctx->actor.role), "super_admin");
	snprintf(ctx->actor.label, sizeof(ctx->actor.label), "meta");
}
