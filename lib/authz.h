/*
 * authz.h — who may do what, decided in one place.
 *
 * The permission matrix (also in tenant-admin(1) and igkit(7)):
 *
 *   module          org_admin  marketer  sales  viewer
 *   tenancy         rw         r         r      r      users, members, keys, tenant settings
 *   agents          rw         rw        r      r      agents, locations, knowledge base, templates
 *   accounts        rw         r         r      r      connections, tokens, assignment
 *   conversations   rw         r         rw     r      conversations, replies, takeover
 *   publishing      rw         rw        r      r
 *   insights        rw         rw        r      r
 *   comments        rw         rw        rw     r
 *   audit           rw         -         -      -      audit log, export, erase of a customer
 *   platform        -          -         -      -      super admin only: create/delete tenants,
 *                                                      users, init, key rotation, cross-tenant erase
 *
 * super_admin (the store owner without a key, or a super-admin user's key)
 * may do everything in every tenant.  A tenant key never reaches another
 * tenant.  Every denial is written to the audit log and returns 77.
 */
#ifndef IG_AUTHZ_H
#define IG_AUTHZ_H

#include <stdint.h>

#include "ctx.h"

enum ig_module {
	IG_MOD_TENANCY, IG_MOD_AGENTS, IG_MOD_ACCOUNTS, IG_MOD_CONVERSATIONS,
	IG_MOD_PUBLISHING, IG_MOD_INSIGHTS, IG_MOD_COMMENTS, IG_MOD_AUDIT,
	IG_MOD_PLATFORM, IG_MOD_COUNT
};
enum ig_access { IG_READ = 1, IG_WRITE = 2 };

const char *ig_module_name(enum ig_module m);
/* 1 if role ("org_admin", …) may have access a on module m. */
int ig_role_allows(const char *role, enum ig_module m, enum ig_access a);
int ig_role_valid(const char *role);   /* one of the four tenant roles */

/*
 * Require access to module m of tenant_id (0 = no particular tenant:
 * platform-wide actions) for `action` (the audit action name, e.g.
 * "agent.create").  0 when allowed; 77 with err set and an audit row
 * (outcome "denied") when not.  Call it before opening a transaction, so
 * the audit row of a denial survives.
 */
int ig_authz_require(struct ig_ctx *ctx, int64_t tenant_id, enum ig_module m,
		     enum ig_access a, const char *action, struct ig_err *err);

/* ig_apikey_parse moved to apikey.h (it needs no context: ctx.c uses it
 * without depending on authz); included here for its old users. */
#include "apikey.h"

#endif
