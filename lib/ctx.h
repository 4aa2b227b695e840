/*
 * ctx.h — the one context every program builds in main and passes down:
 * configuration, store, the acting identity, the master keyring.
 */
#ifndef IG_CTX_H
#define IG_CTX_H

#include <stdint.h>

#include "config.h"
#include "crypto.h"
#include "err.h"
#include "store.h"

enum ig_actor_kind {
	IG_ACTOR_OWNER,  /* no API key: the local owner of the store, super admin */
	IG_ACTOR_KEY,    /* an API key: a user with a role in one tenant (or super admin) */
	IG_ACTOR_META,   /* Meta's signed callbacks and webhooks */
};

struct ig_actor {
	enum ig_actor_kind kind;
	int64_t user_id;      /* 0 for the owner */
	int64_t tenant_id;    /* key's tenant; 0 = all (owner, super-admin key) */
	int super_admin;
	char role[16];        /* org_admin | marketer | sales | viewer | super_admin */
	char label[96];       /* for the audit log: "owner", "key:<prefix>(<email>)" */
};

struct ig_ctx {
	struct ig_config cfg;
	struct ig_store *store;    /* NULL until opened */
	struct ig_actor actor;
	struct ig_keyring keys;    /* empty until ig_ctx_keys() */
	int verbose;
};

void ig_ctx_init(struct ig_ctx *ctx);
/* Close the store, wipe the keys, free the configuration. */
void ig_ctx_release(struct ig_ctx *ctx);

/* Load the master key (and previous_key_file, if set) once; 0 or an exit code. */
int ig_ctx_keys(struct ig_ctx *ctx, struct ig_err *err);

/*
 * Establish the actor: with an API key (api_key_file / IGKIT_API_KEY) the
 * key's user and role; without, the owner of the store file (or root) as
 * super admin — anybody else without a key is refused (77).
 */
int ig_ctx_actor(struct ig_ctx *ctx, struct ig_err *err);

/*
 * Act as Meta: its signed callbacks and webhook deliveries, authenticated by
 * their signature, not by a local user.  A super admin for the permission
 * table ("meta" in the audit log); the one constructor for this identity.
 */
void ig_ctx_act_as_meta(struct ig_ctx *ctx);

/* Tenant by slug (or decimal id).  NULL/"" → the key's own tenant, or 64 when
 * the actor spans tenants.  Unknown → 65.  Does not check permissions. */
int ig_ctx_tenant(struct ig_ctx *ctx, const char *slug, int64_t *id, struct ig_err *err);
/* An agent or a location of a tenant by name; unknown → 65 "unknown agent
 * 'x' in tenant 'slug'".  No permission check. */
int ig_ctx_agent(struct ig_ctx *ctx, int64_t tenant_id, const char *name, int64_t *id,
		 struct ig_err *err);
int ig_ctx_location(struct ig_ctx *ctx, int64_t tenant_id, const char *name, int64_t *id,
		    struct ig_err *err);
/* The slug of a tenant id into buf (>= 64 bytes); "" if none. */
const char *ig_ctx_tenant_slug(struct ig_ctx *ctx, int64_t id, char *buf);

#endif
