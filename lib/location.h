/*
 * location.h — a tenant's locations (a place, its time zone and hours).
 * The contracts of tenant.h hold: permission checked first, one
 * transaction with its audit row, strict records, 0 or an exit code,
 * nothing printed.
 *
 * Record: {tenant, location, timezone, hours, context}.
 */
#ifndef IG_LOCATION_H
#define IG_LOCATION_H

#include <jansson.h>

#include "ctx.h"
#include "err.h"
#include "record.h"

/* Locations (agents module): {location, timezone, hours, context}. */
int ig_location_create(struct ig_ctx *ctx, const json_t *rec, const char *dflt_tenant,
		       json_t **out, struct ig_err *err);
int ig_location_list(struct ig_ctx *ctx, const char *tenant, ig_row_fn *fn, void *arg,
		     struct ig_err *err);
int ig_location_show(struct ig_ctx *ctx, const char *tenant, const char *name, json_t **out,
		     struct ig_err *err);
int ig_location_update(struct ig_ctx *ctx, const char *tenant, const char *name,
		       const json_t *changes, json_t **out, struct ig_err *err);
int ig_location_delete(struct ig_ctx *ctx, const char *tenant, const char *name,
		       json_t **out, struct ig_err *err);

#endif
