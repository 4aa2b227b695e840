#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "authz.h"
#include "crypto.h"

static const char *const module_names[IG_MOD_COUNT] = {
	"tenancy", "agents", "accounts", "conversations", "publishing",
	"insights", "comments", "audit", "platform",
};

/* The matrix of authz.h, as bit masks of enum ig_access. */
static const struct {
	const char *role;
	unsigned char access[IG_MOD_COUNT];
} matrix[] = {
#define R IG_READ
#define RW (IG_READ | IG_WRITE)
	/*               ten agt acc conv pub ins com aud plat */
	{ "org_admin", { RW, RW, RW, RW,  RW, RW, RW, RW, 0 } },
	{ "marketer",  { R,  RW, R,  R,   RW, RW, RW, 0,  0 } },
	{ "sales",     { R,  R,  R,  RW,  R,  R,  RW, 0,  0 } },
	{ "viewer",    { R,  R,  R,  R,   R,  R,  R,  0,  0 } },
#undef R
#undef RW
};

const char *ig_module_name(enum ig_module m)
{
	return m < IG_MOD_COUNT ? module_names[m] : "?";
}

int ig_role_valid(const char *role)
{
	size_t i;

	for (i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++)
		if (!strcmp(matrix[i].role, role))
			return 1;
	return 0;
}

int ig_role_allows(const char *role, enum ig_module m, enum ig_access a)
{
	size_t i;

	if (!strcmp(role, "super_admin"))
		return 1;
	for (i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++)
		if (!strcmp(matrix[i].role, role))
			return (matrix[i].access[m] & a) == a;
	return 0;
}

int ig_authz_require(struct ig_ctx *ctx, int64_t tenant_id, enum ig_module m,
		     enum ig_access a, const char *action, struct ig_err *err)
{
	const struct ig_actor *ac = &ctx->actor;
	char want[64], have[64];
	json_t *detail;
	int code;

	if (ac->super_admin)
		return 0;
	if (ac->kind == IG_ACTOR_KEY && tenant_id && tenant_id == ac->tenant_id
	    && ig_role_allows(ac->role, m, a))
		return 0;
	ig_ctx_tenant_slug(ctx, tenant_id, want);
	ig_ctx_tenant_slug(ctx, ac->tenant_id, have);
	if (ac->kind == IG_ACTOR_KEY && tenant_id && tenant_id != ac->tenant_id)
		code = ig_err_set(err, IG_EX_NOPERM,
			"permission denied: this API key belongs to tenant '%s', not '%s'",
			have, want);
	else if (!tenant_id || m == IG_MOD_PLATFORM)
		code = ig_err_set(err, IG_EX_NOPERM,
			"permission denied: %s needs a super admin", action);
	else
		code = ig_err_set(err, IG_EX_NOPERM,
			"permission denied: role '%s' may not %s %s in tenant '%s'",
			ac->role, a == IG_WRITE ? "change" : "read", module_names[m], want);
	detail = json_pack("{s:s,s:s,s:s}", "module", module_names[m],
			   "access", a == IG_WRITE ? "write" : "read", "role", ac->role);
	/* A failure to audit must not turn a denial into success; the denial
	 * stands either way. */
	/* A key's attempt on another tenant goes to the platform's log (no
	 * tenant; super admins read it), never into that tenant's log: no
	 * tenant's log shows another tenant's users, keys or attempts. */
	ig_audit(ctx, ac->kind == IG_ACTOR_KEY && tenant_id && tenant_id != ac->tenant_id ? 0
		 : tenant_id ? tenant_id : ac->tenant_id, action, want, "denied", detail, NULL);
	json_decref(detail);
	return code;
}
