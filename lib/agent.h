/*
 * agent.h — a tenant's agents (the persona and settings that answer its
 * conversations).  The contracts of tenant.h hold: permission checked
 * first, one transaction with its audit row, strict records, 0 or an exit
 * code, nothing printed.
 *
 * Record: {tenant, agent, display_name, personality, instructions,
 *          business_name, language, booking, engine, model, debounce,
 *          pause_on_human, active}   (+ default, created_at, … on output)
 */
#ifndef IG_AGENT_H
#define IG_AGENT_H

#include <jansson.h>

#include "ctx.h"
#include "err.h"
#include "record.h"

/*
 * Agents (agents module; list/show read, the rest write).  The first agent
 * of a tenant becomes its default; set_default moves the mark in one
 * transaction; deleting the default agent needs new_default (the successor)
 * unless it is the tenant's last agent — else 65 naming --new-default.
 * update applies the fields present in `changes` (same names as create,
 * without tenant and agent).
 */
int ig_agent_create(struct ig_ctx *ctx, const json_t *rec, const char *dflt_tenant,
		    json_t **out, struct ig_err *err);
int ig_agent_list(struct ig_ctx *ctx, const char *tenant, ig_row_fn *fn, void *arg,
		  struct ig_err *err);
int ig_agent_show(struct ig_ctx *ctx, const char *tenant, const char *name, json_t **out,
		  struct ig_err *err);
int ig_agent_update(struct ig_ctx *ctx, const char *tenant, const char *name,
		    const json_t *changes, json_t **out, struct ig_err *err);
int ig_agent_delete(struct ig_ctx *ctx, const char *tenant, const char *name,
		    const char *new_default, json_t **out, struct ig_err *err);
int ig_agent_set_default(struct ig_ctx *ctx, const char *tenant, const char *name,
			 json_t **out, struct ig_err *err);

#endif
