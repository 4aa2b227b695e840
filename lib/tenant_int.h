/*
 * tenant_int.h — what the tenancy modules (tenant.c, user.c, member.c,
 * agent.c, location.c, apikey.c) share inside the library: checking input
 * records, stepping statements, the transaction of one change (which an
 * onboarding run may hold open), audit rows.  Not for programs: use
 * tenant.h, user.h, member.h, agent.h, location.h, apikey.h.  Defined in
 * tenant.c unless said otherwise.
 */
#ifndef IG_TENANT_INT_H
#define IG_TENANT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ctx.h"
#include "err.h"
#include "record.h"
#include "store.h"
#include "tenant.h"   /* struct ig_onboard */

/* Every public function may be given err == NULL; internally we always
 * have somewhere to put the message. */
#define ERR_LOCAL(err) struct ig_err err_local_ = { 0 }; if (!(err)) (err) = &err_local_

#define OOM(err) ig_err_set((err), IG_EX_SOFTWARE, "out of memory")

#define PREPARE(s, sql) do { \
	if (!((s) = ig_store_prepare(ctx->store, (sql), err))) \
		return err ? err->code : IG_EX_SOFTWARE; \
} while (0)

/* ------------------------------------------------------------ validation */

/* 65 with the message a user sees for a bad handle, address or role. */
int tn_check_slug(const char *what, const char *s, struct ig_err *err);
int tn_check_email(const char *s, struct ig_err *err);
int tn_check_role(const char *role, struct ig_err *err);

/* ------------------------------------------------------------ records */

/* rec is an object with no field outside allowed (NULL-terminated). */
int tn_check_fields(const json_t *rec, const char *const *allowed, struct ig_err *err);
/* A string field: absent or null → *out NULL (65 when required). */
int tn_get_str(const json_t *rec, const char *key, int required, size_t max,
	       const char **out, struct ig_err *err);
/* A flag: true/false → 1/0; absent → -1. */
int tn_get_bool(const json_t *rec, const char *key, int *out, struct ig_err *err);

/* ------------------------------------------------------------ store helpers */

/* Step a SELECT expected to give at most one row: 1 found (*out new, or
 * left alone when out is NULL), 0 not found, or -code on error. */
int tn_fetch_one(struct ig_ctx *ctx, struct ig_stmt *s, json_t **out, struct ig_err *err);
/* One integer from a SELECT; dflt when there is no row; -1 with err on error. */
int64_t tn_fetch_int(struct ig_ctx *ctx, struct ig_stmt *s, int64_t dflt, struct ig_err *err);
/* Each row of s (ig_tenant_row_json) to fn; fn's non-zero code stops it. */
int tn_list_rows(struct ig_ctx *ctx, struct ig_stmt *s, ig_row_fn *fn, void *arg,
		 struct ig_err *err);

/* The onboarding run under way (ig_tenant_onboard_run), for the length of
 * one record: a dry run keeps the whole stream in one transaction, each
 * record under a savepoint, and rolls it back at the end; an existing
 * record is noted (exists), not failed.  NULL outside a run. */
extern struct ig_onboard *tn_onboarding;

/* Begin one change's transaction (in a dry onboarding run: a savepoint). */
int tn_tx_begin(struct ig_ctx *ctx, struct ig_err *err);
/* End a transaction: commit when rc is 0, else roll back; returns the
 * final code. */
int tn_tx_end(struct ig_ctx *ctx, int rc, struct ig_err *err);
/* The same for a change that made a record: on failure *out is dropped
 * (json_decref, NULL). */
int tn_tx_end_out(struct ig_ctx *ctx, int rc, json_t **out, struct ig_err *err);

/* An onboarding record names something that is already there: 65 with
 * the message, noted for ig_tenant_onboard_run. */
#define tn_exists(err, ...) \
	((tn_onboarding ? (void)(tn_onboarding->exists = 1) : (void)0), \
	 ig_err_set((err), IG_EX_DATAERR, __VA_ARGS__))

/* An "ok" audit row; steals detail. */
int tn_audit_ok(struct ig_ctx *ctx, int64_t tenant, const char *action, const char *target,
		json_t *detail, struct ig_err *err);
/* The id of the user with that e-mail address; 0 when none, -1 on error. */
int64_t tn_user_id(struct ig_ctx *ctx, const char *email, struct ig_err *err);

/* ------------------------------------------------------------ memberships (member.c) */

/* SELECT role of membership (tenant_id ?, user_id ?): one literal, so the
 * store caches one statement for every module. */
extern const char tn_member_sql[];
/* Insert a membership (the caller holds the transaction and checked it is
 * new) and audit it. */
int tn_add_membership(struct ig_ctx *ctx, int64_t tid, int64_t uid, const char *email,
		      const char *role, struct ig_err *err);
/* May the actor give user email a role in tenant tid?  Before the
 * transaction (the denial is audited); 0 or 77.  See member.c. */
int tn_grant_allowed(struct ig_ctx *ctx, int64_t tid, const char *email, struct ig_err *err);
/* Inside the transaction: *uid of user email, to act on as a member of
 * tenant slug.  65 when there is no such user, worded "not a member of
 * tenant" but to a super admin: only a super admin learns whether the user
 * exists at all. */
int tn_member_user(struct ig_ctx *ctx, const char *email, const char *slug, int64_t *uid,
		   struct ig_err *err);

#endif
