/*
 * gdpr.h — export (right of access) and erasure (right to erasure; Meta's
 * data-deletion callback) of a tenant's data or of one customer's.
 *
 * A customer is a participant: the IGSID/PSID that appears as
 * conversations.participant_id, comments.from_id and outbox.recipient.
 *
 * Erasure runs in one transaction.  The audit log is append-only; its
 * DELETE trigger lets rows go only while erasure_guard.active = 1, which
 * these functions set inside their transaction and reset before commit.
 * Each erasure leaves its own audit row ("erase.tenant",
 * "erase.participant"); a participant's row names them only by
 * "sha256:<hex of the id>", so the log proves the erasure without keeping
 * the id.  None of these may be called with a transaction open.
 *
 * Results are new references (json_decref); 0 or an exit code with err set.
 */
#ifndef IG_GDPR_H
#define IG_GDPR_H

#include <stdint.h>
#include <jansson.h>

#include "ctx.h"

/* 1 if s can be a participant id: an IGSID or PSID, 1-64 decimal digits. */
int ig_gdpr_participant_valid(const char *s);

/*
 * Everything of a tenant as one JSON document (audit module, read):
 * {exported_at, tenant, users (with roles), api_keys (prefixes only),
 * agents, locations, accounts (no tokens), conversations, messages,
 * comments, escalations, outbox, kb_articles, templates, audit}.
 * Sealed tokens and key hashes never appear.  tenant NULL = the key's own.
 */
int ig_gdpr_export_tenant(struct ig_ctx *ctx, const char *tenant, json_t **doc,
			  struct ig_err *err);
/* Everything about one participant in a tenant (audit module, read):
 * {exported_at, tenant, participant, conversations, messages, comments,
 * escalations, outbox}. */
int ig_gdpr_export_participant(struct ig_ctx *ctx, const char *tenant, const char *participant_id,
			       json_t **doc, struct ig_err *err);

/*
 * Erase a whole tenant (platform module: a super admin only, as for
 * deleting a tenant; an org_admin is refused with 77): the tenant row and, by cascade, every
 * row it owns, plus its audit rows; then one "erase.tenant" audit row.
 * With dry_run nothing changes and the report says what would go.
 * *report: {tenant, status ("erased" | "dry_run"), erased: {table: rows}}.
 */
int ig_gdpr_erase_tenant(struct ig_ctx *ctx, const char *tenant, int dry_run, json_t **report,
			 struct ig_err *err);

/*
 * Erase one participant across ALL tenants: their conversations (with
 * messages, edits, escalations), comments, outbox rows, dead letters and
 * raw webhook deliveries whose JSON has the id as a sender, recipient or
 * from "id", and the audit rows about them: targets "participant:<id>",
 * "conversation:<id>" and "outbox:<id>" of their conversations and outbox
 * rows, and rows whose detail has "participant": the id.  Rows that only
 * contain the digits somewhere are kept.
 * It does NOT check permissions — the caller decides who may ask
 * (tenant-admin requires a super admin; ig-connect a verified signed
 * request from Meta).  Idempotent: erasing an unknown participant succeeds
 * with zero counts and is audited all the same.
 * *report: {participant ("sha256:<hex>"), status, tenants: [{tenant,
 * conversations, messages, escalations, comments, outbox}], dead_letters,
 * deliveries, audit_rows, dry_run}.
 */
int ig_gdpr_erase_participant(struct ig_ctx *ctx, const char *participant_id, json_t **report,
			      struct ig_err *err);
/* The same within one tenant (tenant_id > 0; raw deliveries, which are not
 * tenant-scoped, are then kept) or all (tenant_id 0), optionally as a dry
 * run.  No permission check either. */
int ig_gdpr_erase_participant_in(struct ig_ctx *ctx, int64_t tenant_id, const char *participant_id,
				 int dry_run, json_t **report, struct ig_err *err);

/* shape branch: the permission check beside the erasure.  One customer in
 * tenant (a slug; NULL: the API key's tenant, or every tenant for a super
 * admin): the audit module's write access within a tenant, a super admin
 * across all.  An id that is not an IGSID/PSID → 65. */
int ig_gdpr_erase_customer(struct ig_ctx *ctx, const char *tenant, const char *participant_id,
			   int dry_run, json_t **report, struct ig_err *err);

#endif
