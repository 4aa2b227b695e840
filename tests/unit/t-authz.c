/* Unit tests of lib/authz: the permission matrix, API key format, and
 * ig_authz_require's decisions and audit rows. */
#include <stdlib.h>
#include <string.h>

#include "apikey.h"
#include "audit.h"
#include "authz.h"
#include "tap.h"

/* sql: a literal (the store caches statements by its address) */
static int64_t count(struct ig_store *st, const char *sql)
{
	int64_t v = -1;

	ig_store_int(st, NULL, &v, sql, "");
	return v;
}

int main(void)
{
	static const struct { const char *role; enum ig_module m; enum ig_access a; int want; } cases[] = {
		{ "org_admin", IG_MOD_ACCOUNTS, IG_WRITE, 1 },
		{ "org_admin", IG_MOD_AUDIT, IG_READ, 1 },
		{ "org_admin", IG_MOD_PLATFORM, IG_WRITE, 0 },
		{ "marketer", IG_MOD_PUBLISHING, IG_WRITE, 1 },
		{ "marketer", IG_MOD_AGENTS, IG_WRITE, 1 },
		{ "marketer", IG_MOD_CONVERSATIONS, IG_WRITE, 0 },
		{ "marketer", IG_MOD_ACCOUNTS, IG_WRITE, 0 },
		{ "sales", IG_MOD_CONVERSATIONS, IG_WRITE, 1 },
		{ "sales", IG_MOD_COMMENTS, IG_WRITE, 1 },
		{ "sales", IG_MOD_PUBLISHING, IG_WRITE, 0 },
		{ "sales", IG_MOD_AUDIT, IG_READ, 0 },
		{ "viewer", IG_MOD_INSIGHTS, IG_READ, 1 },
		{ "viewer", IG_MOD_CONVERSATIONS, IG_WRITE, 0 },
		{ "viewer", IG_MOD_AUDIT, IG_READ, 0 },
		{ "super_admin", IG_MOD_PLATFORM, IG_WRITE, 1 },
		{ "nobody", IG_MOD_INSIGHTS, IG_READ, 0 },
	};
	char dir[] = "/tmp/igkit-t-authz.XXXXXX", path[128], prefix[17], hash[65], p2[17], h2[65];
	struct ig_ctx ctx;
	struct ig_err err = { 0 };
	size_t i;
	char *key;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(ig_role_allows(cases[i].role, cases[i].m, cases[i].a), cases[i].want,
		       "%s %s %s", cases[i].role, cases[i].a == IG_WRITE ? "writes" : "reads",
		       ig_module_name(cases[i].m));
	ok(ig_role_valid("sales") && !ig_role_valid("super_admin"), "tenant roles are the four");

	ok(ig_apikey_new(&key, prefix, hash) == 0, "new API key");
	ok(!strncmp(key, "igk_", 4) && strlen(prefix) == 16 && strlen(hash) == 64, "key shape igk_<16 hex>_<secret>");
	ok(ig_apikey_parse(key, p2, h2) == 0 && !strcmp(p2, prefix) && !strcmp(h2, hash), "parse gives the same prefix and hash");
	key[strlen(key) - 1] ^= 1;
	ok(ig_apikey_parse(key, p2, h2) == 0 && strcmp(h2, hash), "one changed character changes the hash");
	ig_wipe_free(key);
	ok(ig_apikey_parse("igk_short_x", p2, h2) == -1, "malformed key refused");
	ok(ig_apikey_parse("sk-whatever", p2, h2) == -1, "foreign key refused");

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/s.db", dir);
	ig_ctx_init(&ctx);
	is_int(ig_store_open(&ctx.store, path, IG_STORE_CREATE, &err), 0, "store");
	ig_store_exec(ctx.store, "INSERT INTO tenants(id,slug,name,created_at,updated_at) VALUES"
		      " (1,'rossi','Rossi',0,0),(2,'bianchi','Bianchi',0,0)", &err);
	is_int(ig_authz_require(&ctx, 1, IG_MOD_PLATFORM, IG_WRITE, "tenant.create", &err), 0,
	       "the owner may do anything");
	ctx.actor.kind = IG_ACTOR_KEY;
	ctx.actor.super_admin = 0;
	ctx.actor.tenant_id = 1;
	strcpy(ctx.actor.role, "viewer");
	strcpy(ctx.actor.label, "key:test(v@rossi.it)");
	is_int(ig_authz_require(&ctx, 1, IG_MOD_AGENTS, IG_READ, "agent.list", &err), 0, "viewer reads agents");
	is_int(ig_authz_require(&ctx, 1, IG_MOD_AGENTS, IG_WRITE, "agent.create", &err), IG_EX_NOPERM,
	       "viewer may not create agents (77)");
	is_str(err.msg, "permission denied: role 'viewer' may not change agents in tenant 'rossi'", "message");
	strcpy(ctx.actor.role, "org_admin");
	is_int(ig_authz_require(&ctx, 2, IG_MOD_AGENTS, IG_READ, "agent.list", &err), IG_EX_NOPERM,
	       "another tenant is out of reach even for org_admin");
	is_str(err.msg, "permission denied: this API key belongs to tenant 'rossi', not 'bianchi'", "message");
	is_int(ig_authz_require(&ctx, 0, IG_MOD_PLATFORM, IG_WRITE, "tenant.create", &err), IG_EX_NOPERM,
	       "platform actions need a super admin");
	is_int(count(ctx.store, "SELECT count(*) FROM audit_log WHERE outcome='denied'"), 3, "each denial audited");
	is_int(count(ctx.store, "SELECT count(*) FROM audit_log WHERE outcome='denied' AND action='agent.list'"
		     " AND tenant_id IS NULL AND target='bianchi' AND actor='key:test(v@rossi.it)'"), 1,
	       "with action and actor, in the platform's log, not bianchi's");
	ig_ctx_release(&ctx);
	{
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			ok(0, "cleanup");
	}
	return done_testing();
}
