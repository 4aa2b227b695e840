/*
 * tenant.h — the tenancy module: tenants, the onboarding stream, the
 * audit-log listing, and the store set-up ("init").  Users, memberships,
 * agents, locations and API keys have their own modules (user.h, member.h,
 * agent.h, location.h, apikey.h) under the same contracts.  tenant-admin(1)
 * is a thin shell over these functions; ig-connect and the others may call
 * them too.
 *
 * Contracts shared by every function here and in those modules:
 *
 * - Each one checks the actor's permission itself (ig_authz_require, or
 *   ig_tenant_resolve below) before it opens its transaction, so a denial
 *   leaves its audit row and returns 77.
 * - Each change runs in one BEGIN IMMEDIATE transaction together with its
 *   audit row (ig_audit); on any failure the transaction is rolled back and
 *   nothing is left behind.  None may be called with a transaction open.
 * - Records are JSON objects.  Input records (`rec`) are borrowed, must be
 *   objects, and are checked strictly: an unknown field, a missing field or
 *   a value of the wrong type is 65 with a message naming the field.
 *   Results (`*out`) are new references the caller json_decref()s; times in
 *   them are ISO-8601 UTC strings.
 * - A tenant is named by its slug; NULL or "" means the API key's own tenant
 *   (64 "which tenant?" for an actor that spans tenants).  Unknown names are
 *   65: "unknown tenant 'x'", "unknown agent 'x' in tenant 'y'", …;
 *   duplicates are 65: "tenant 'x' already exists".
 * - Return 0 or an exit code from exitcodes.h with err set.  Nothing here
 *   prints or exits.
 * - Listings call an ig_row_fn (record.h); free text is limited to
 *   IG_NAME_MAX / IG_TEXT_MAX bytes (record.h).
 *
 * Record fields (input and output use the same names):
 *   tenant    {tenant, name}
 *   (user, member, agent, location and API key records: their headers)
 */
#ifndef IG_TENANT_H
#define IG_TENANT_H

#include <stdint.h>
#include <jansson.h>

#include "authz.h"
#include "ctx.h"
#include "record.h"
#include "store.h"

/* 1 if s is a valid handle (tenant slug, agent or location name):
 * 1-63 characters of [a-z0-9-], not starting with '-'. */
int ig_slug_valid(const char *s);
/* 1 if s looks like an e-mail address: something, '@', a dot after it with
 * text on both sides, no spaces, at most 254 bytes. */
int ig_email_valid(const char *s);

/*
 * Resolve a tenant slug and require access to `module` in it, for `action`
 * (the audit name, e.g. "agent.create").  An unknown tenant is 65 — except
 * for a tenant-scoped API key, which gets the same 77 (audited) as for
 * another existing tenant, so a key cannot probe which tenants exist.
 * *id is the tenant id; slug_out (>= 64 bytes, may be NULL) its slug.
 */
int ig_tenant_resolve(struct ig_ctx *ctx, const char *slug, enum ig_module module,
		      enum ig_access access, const char *action, int64_t *id,
		      char *slug_out, struct ig_err *err);

/*
 * "init": ctx has its configuration loaded and no store open.  Creates the
 * store (0600, its directory 0700) or opens and migrates an existing one,
 * establishes the actor (super admin required), and creates the master key
 * file (master_key_file) unless it exists.  An existing key is loaded and
 * checked (mode 0600, 32 bytes, and — when the store holds sealed tokens —
 * that it is the key, or a previous key, they were sealed with: 78
 * otherwise).  A missing key while the store holds sealed tokens is refused
 * (66): a new key could not open them.  ctx->store stays open.  *report
 * (new) says what was created: {store, store_created, schema_version,
 * migrated_from, master_key, master_key_created}.
 */
int ig_tenant_setup(struct ig_ctx *ctx, json_t **report, struct ig_err *err);

/* Tenants.  create: platform; list/show: tenancy read (a tenant key sees
 * only its own tenant); rename: tenancy write; delete: platform, cascades
 * to everything the tenant owns (the audit log keeps its rows). */
int ig_tenant_create(struct ig_ctx *ctx, const json_t *rec, json_t **out, struct ig_err *err);
int ig_tenant_list(struct ig_ctx *ctx, ig_row_fn *fn, void *arg, struct ig_err *err);
int ig_tenant_show(struct ig_ctx *ctx, const char *slug, json_t **out, struct ig_err *err);
/* new_slug and/or new_name (NULL = keep; at least one). */
int ig_tenant_rename(struct ig_ctx *ctx, const char *slug, const char *new_slug,
		     const char *new_name, json_t **out, struct ig_err *err);
int ig_tenant_delete(struct ig_ctx *ctx, const char *slug, json_t **out, struct ig_err *err);

/*
 * One onboarding record, of the kind its fields name: "api_key" → API key,
 * "agent" → agent, "location" → location, "user" → user (created if new,
 * then granted "role" — ensure semantics), otherwise a tenant.  *out is the
 * created record with "kind" added.  Permissions are those of the
 * underlying function.
 */
int ig_tenant_onboard(struct ig_ctx *ctx, const json_t *rec, const char *dflt_tenant,
		      json_t **out, struct ig_err *err);

/*
 * The same within one onboarding run (ob zeroed first, dry_run set or not).
 * Running a stream again is safe: a record that is already there (the
 * tenant, the membership, the agent or location by name, a live API key of
 * the same name for the same user) comes back as {"status":"exists", ...}
 * with 0, and nothing is changed or minted.  With ob->dry_run the whole run
 * is one transaction, each record under a savepoint, so later records see
 * earlier ones; records come back {"status":"would_create"} (no key) and
 * ig_tenant_onboard_end() rolls everything back.  Call it at the end of
 * every run.
 */
struct ig_onboard {
	int dry_run;
	int open;           /* internal: the dry run's transaction is open */
	int exists;         /* internal: the record was found already there */
	char prefix[17];    /* internal: the existing key's prefix */
};
int ig_tenant_onboard_run(struct ig_ctx *ctx, struct ig_onboard *ob, const json_t *rec,
			  const char *dflt_tenant, json_t **out, struct ig_err *err);
void ig_tenant_onboard_end(struct ig_ctx *ctx, struct ig_onboard *ob);

/* Audit log listing (audit module, read).  tenant NULL for an actor that
 * spans tenants lists every row (platform).  actor: substring of the actor
 * label; action: exact, or a prefix ending in '*' ("agent.*"); since: Unix
 * seconds, 0 = all; limit 0 = all.  Oldest first. */
struct ig_audit_filter {
	const char *tenant;
	const char *actor;
	const char *action;
	int64_t since;
	long long limit;
};
int ig_tenant_audit_list(struct ig_ctx *ctx, const struct ig_audit_filter *f, ig_row_fn *fn,
			 void *arg, struct ig_err *err);

/* A row of the current statement as a JSON object keyed by column name:
 * integers in columns named "at" or "*_at" become ISO-8601 strings, known
 * flag columns become booleans, JSON-text columns (detail, details,
 * attachments, meta) are parsed, blobs are left out.  New reference. */
json_t *ig_tenant_row_json(struct ig_stmt *stmt);

#endif
