#include <stdlib.h>

#include "audit.h"
#include "igtime.h"

int ig_audit(struct ig_ctx *ctx, int64_t tenant_id, const char *action, const char *target,
	     const char *outcome, const json_t *detail, struct ig_err *err)
{
	sqlite3_stmt *s;
	char *d;
	int rc;

	s = ig_store_prepare(ctx->store,
		"INSERT INTO audit_log(at, tenant_id, actor, action, target, outcome, detail)"
		" VALUES (?,?,?,?,?,?,?)", err);
	if (!s)
		return err ? err->code : IG_EX_SOFTWARE;
	d = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	ig_store_bind(s, "iIsssss", ig_time_now(), tenant_id, ctx->actor.label, action,
		      target ? target : "", outcome ? outcome : "ok", d ? d : "{}");
	rc = ig_store_run(ctx->store, s, err);
	free(d);
	return rc;
}
