/*
 * member.h — memberships: a user's role in a tenant.  The contracts of
 * tenant.h hold: permission checked first, one transaction with its audit
 * row, strict records, 0 or an exit code, nothing printed.
 *
 * Record: {tenant, user, role}.
 */
#ifndef IG_MEMBER_H
#define IG_MEMBER_H

#include <jansson.h>

#include "ctx.h"
#include "err.h"

/* Memberships (tenancy write).  grant: rec {tenant?, user, role}; a member
 * with another role gets the new one (out's "status" is "updated", else
 * "created"; the same role again is 65).  revoke also revokes the user's API
 * keys in that tenant. */
int ig_member_grant(struct ig_ctx *ctx, const json_t *rec, const char *dflt_tenant,
		    json_t **out, struct ig_err *err);
int ig_member_revoke(struct ig_ctx *ctx, const char *tenant, const char *email,
		     json_t **out, struct ig_err *err);

#endif
