#include <stdlib.h>

#include "audit.h"
#include "igtime.h"

int ig_audit(struct ig_ctx *ctx, int64_t tenant_id, const char *action, const char *target,
	     const char *outcome, const json_t *detail, struct ig_err *err)
{
	char *d = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rc;

	rc = ig_store_runf(ctx->store, err,
		"INSERT INTO audit_log(at, tenant_id, actor, action, target, outcome, detail)"
		" VALUES (?,?,?,?,?,?,?)", "iIsssss", ig_time_now(), tenant_id, ctx->actor.label,
		action, target ? target : "", outcome ? outcome : "ok", d ? d : "{}");
	free(d);
	return rc;
}
