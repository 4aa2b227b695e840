/*
 * user.h — users of the store (people, by e-mail address).  The contracts
 * of tenant.h hold: permission checked first, one transaction with its
 * audit row, strict records, 0 or an exit code, nothing printed.
 *
 * Record: {user (e-mail), name, super_admin, [tenant, role]}.
 */
#ifndef IG_USER_H
#define IG_USER_H

#include <jansson.h>

#include "ctx.h"
#include "err.h"
#include "record.h"

/*
 * Users.  add (platform): rec {user, name?, super_admin?, tenant?, role?};
 * with tenant and role it also grants the membership, in the same
 * transaction.  An existing user is 65, unless `ensure` is set: then the
 * user is kept as is and only the membership is granted (the onboarding
 * form).  list: with a tenant, its members and roles (tenancy read);
 * tenant NULL and an actor spanning tenants, every user with the list of
 * their memberships (platform).  remove (platform): the user, their
 * memberships and keys.
 */
int ig_user_add(struct ig_ctx *ctx, const json_t *rec, int ensure, const char *dflt_tenant,
		json_t **out, struct ig_err *err);
int ig_user_list(struct ig_ctx *ctx, const char *tenant, ig_row_fn *fn, void *arg,
		 struct ig_err *err);
int ig_user_remove(struct ig_ctx *ctx, const char *email, json_t **out, struct ig_err *err);

#endif
