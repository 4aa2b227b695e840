/*
 * apikey.h — API keys: their form, "igk_<prefix>_<secret>", and their
 * management.  ig_apikey_parse (lib/apikey_parse.c) depends on nothing but
 * the hashes, so both the context (who is acting) and the permission table
 * use it without depending on each other, and a program that only checks
 * keys (ig-route) links neither the random source (OpenSSL) nor the
 * tenancy modules.  The rest (lib/apikey.c) keeps the contracts of
 * tenant.h: permission checked first, one transaction with its audit row,
 * strict records, 0 or an exit code, nothing printed.
 *
 * Record: {tenant, api_key (the key's label), user}
 *         (+ prefix, role, key — the secret, on creation only)
 */
#ifndef IG_APIKEY_H
#define IG_APIKEY_H

#include <jansson.h>

#include "ctx.h"
#include "err.h"
#include "record.h"

/* Split and hash a presented key: prefix (16 characters), hash (SHA-256,
 * hex).  0, or -1 when malformed. */
int ig_apikey_parse(const char *key, char prefix[17], char hash[65]);

/*
 * API keys (tenancy write; list: tenancy read).  create: rec {tenant?,
 * api_key (label, may be ""), user}; the user must be a member of the
 * tenant.  With super_admin set the key has no tenant: only the store owner
 * may make one (77 otherwise, audited), for a user with super_admin = 1.
 * *out holds the key itself ("key") — shown once, never stored: wipe it
 * with ig_apikey_wipe() before json_decref().  list never shows keys or
 * hashes; tenant NULL for an actor spanning tenants lists every key.
 * revoke takes the key's prefix; revoking twice is 65.
 */
/* Make a new key: *key new string (show once, wipe after), prefix (17
 * bytes) and SHA-256 hex (65 bytes) to store.  Not in authz.c or
 * apikey_parse.c, so that the programs that only check keys do not link
 * the random source (OpenSSL). */
int ig_apikey_new(char **key, char prefix[17], char hash[65]);
int ig_apikey_create(struct ig_ctx *ctx, const json_t *rec, const char *dflt_tenant,
		     int super_admin, json_t **out, struct ig_err *err);
int ig_apikey_list(struct ig_ctx *ctx, const char *tenant, ig_row_fn *fn, void *arg,
		   struct ig_err *err);
int ig_apikey_revoke(struct ig_ctx *ctx, const char *prefix, json_t **out, struct ig_err *err);
/* Overwrite the "key" member of a record in place (borrows rec). */
void ig_apikey_wipe(json_t *rec);

#endif
