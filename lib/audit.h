/*
 * audit.h — the append-only audit log of sensitive actions.
 * Rows are never updated; the store's triggers refuse UPDATE, and DELETE
 * outside a GDPR erasure (lib/gdpr.c).
 */
#ifndef IG_AUDIT_H
#define IG_AUDIT_H

#include <stdint.h>
#include <jansson.h>

#include "ctx.h"

/*
 * Append a row as ctx's actor.  tenant_id 0 = platform-wide; outcome is
 * "ok", "denied" or "failed"; detail (borrowed, may be NULL) is stored as
 * compact JSON — never put a secret in it.  Runs inside the caller's
 * transaction if one is open.  0 or an exit code.
 */
int ig_audit(struct ig_ctx *ctx, int64_t tenant_id, const char *action, const char *target,
	     const char *outcome, const json_t *detail, struct ig_err *err);

#endif
