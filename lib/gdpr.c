/*
 * gdpr.c — export and erasure; contracts in gdpr.h.
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "authz.h"
#include "crypto.h"
#include "gdpr.h"
#include "igtime.h"
#include "store.h"
#include "tenant.h"

#define ERR_LOCAL(err) struct ig_err err_local_ = { 0 }; if (!(err)) (err) = &err_local_
#define OOM(err) ig_err_set((err), IG_EX_SOFTWARE, "out of memory")

int ig_gdpr_participant_valid(const char *s)
{
	size_t n;

	if (!s)
		return 0;
	n = strspn(s, "0123456789");
	return n >= 1 && n <= 64 && !s[n];
}

static int bad_participant(const char *s, struct ig_err *err)
{
	return ig_err_set(err, IG_EX_DATAERR,
		"invalid participant id '%.140s' (an IGSID or PSID: 1-64 decimal digits)",
		s ? s : "");
}

/* ------------------------------------------------------------ export */

/*
 * Every section is one SELECT bound with ?1 = tenant id and ?2 = the
 * participant (NULL for the whole tenant).  Columns are listed one by one:
 * an export is an allow-list, so sealed tokens, key hashes and raw bytes
 * cannot slip in when someone adds a column.
 */
struct section {
	const char *name;
	const char *sql;
	int participant;   /* also part of a participant's export */
};

static const struct section sections[] = {
	{ "users",
	  "SELECT u.email AS user, u.name, m.role, u.super_admin, m.created_at AS joined_at"
	  " FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = ?1"
	  " AND ?2 IS NULL ORDER BY u.email", 0 },
	{ "api_keys",
	  "SELECT k.prefix, u.email AS user, k.name AS api_key, k.created_at, k.last_used_at,"
	  " k.revoked_at FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.tenant_id = ?1"
	  " AND ?2 IS NULL ORDER BY k.id", 0 },
	{ "agents",
	  "SELECT a.name AS agent, a.display_name, a.personality, a.instructions, a.business_name,"
	  " a.language, a.booking_enabled AS booking, a.engine, a.model,"
	  " a.debounce_seconds AS debounce, a.pause_on_human, a.active, a.is_default AS \"default\","
	  " a.created_at, a.updated_at FROM agents a WHERE a.tenant_id = ?1 AND ?2 IS NULL"
	  " ORDER BY a.name", 0 },
	{ "locations",
	  "SELECT l.name AS location, l.timezone, l.hours, l.context, l.created_at, l.updated_at"
	  " FROM locations l WHERE l.tenant_id = ?1 AND ?2 IS NULL ORDER BY l.name", 0 },
	{ "accounts",
	  "SELECT c.id, c.channel, c.flavour, c.external_id, c.page_id, c.username, c.name,"
	  " c.profile_picture_url, c.followers_count, c.biography, c.status, ag.name AS agent,"
	  " l.name AS location, c.token_issued_at, c.token_expires_at, c.refresh_expires_at,"
	  " c.scopes, c.subscribed_fields, c.details, c.last_error, c.error_count,"
	  " c.message_count, c.user_count, c.created_at, c.updated_at, c.last_synced_at"
	  " FROM accounts c LEFT JOIN agents ag ON ag.id = c.agent_id"
	  " LEFT JOIN locations l ON l.id = c.location_id WHERE c.tenant_id = ?1 AND ?2 IS NULL"
	  " ORDER BY c.id", 0 },
	{ "conversations",
	  "SELECT c.id, a.external_id AS account, c.participant_id AS participant,"
	  " c.participant_name, c.status, c.priority, u.email AS assignee, c.ai_state,"
	  " c.ai_reason, c.last_inbound_at, c.last_outbound_at, c.last_human_at, c.created_at,"
	  " c.updated_at FROM conversations c JOIN accounts a ON a.id = c.account_id"
	  " LEFT JOIN users u ON u.id = c.assignee_user_id"
	  " WHERE c.tenant_id = ?1 AND (?2 IS NULL OR c.participant_id = ?2) ORDER BY c.id", 1 },
	{ "messages",
	  "SELECT m.id, m.conversation_id AS conversation, m.mid, m.direction, m.sender_kind,"
	  " m.kind, m.text, m.attachments, m.meta, m.deleted, m.edit_count, m.sent_at,"
	  " m.created_at FROM messages m WHERE m.tenant_id = ?1 AND (?2 IS NULL OR"
	  " m.conversation_id IN (SELECT id FROM conversations WHERE tenant_id = ?1"
	  " AND participant_id = ?2)) ORDER BY m.conversation_id, m.sent_at, m.id", 1 },
	{ "comments",
	  "SELECT c.id, a.external_id AS account, c.comment_id, c.field, c.media_id,"
	  " c.media_product_type, c.parent_id, c.from_id, c.from_username, c.text, c.own,"
	  " c.hidden, c.deleted, c.tags, c.created_at, c.received_at FROM comments c"
	  " JOIN accounts a ON a.id = c.account_id WHERE c.tenant_id = ?1"
	  " AND (?2 IS NULL OR c.from_id = ?2) ORDER BY c.id", 1 },
	/* comments branch: the authors' comments that came without an id (by
	 * the usernames the participant used), and the moderation actions */
	{ "comments_by_username",
	  "SELECT c.id, a.external_id AS account, c.comment_id, c.field, c.media_id, c.parent_id,"
	  " c.from_username, c.text, c.hidden, c.deleted, c.tags, c.created_at FROM comments c"
	  " JOIN accounts a ON a.id = c.account_id WHERE c.tenant_id = ?1 AND c.from_id IS NULL"
	  " AND ?2 IS NOT NULL AND c.from_username IN (SELECT from_username FROM comments"
	  " WHERE tenant_id = ?1 AND from_id = ?2 AND from_username IS NOT NULL) ORDER BY c.id", 1 },
	{ "comment_actions",
	  "SELECT x.id, x.comment_id, x.action, x.origin, x.rule, x.actor, x.state, x.before,"
	  " x.after, x.text, x.result_id, x.trace_id, x.error, x.created_at, x.updated_at"
	  " FROM comment_actions x WHERE x.tenant_id = ?1 AND (?2 IS NULL OR x.from_id = ?2)"
	  " ORDER BY x.id", 1 },
	{ "escalations",
	  "SELECT e.id, e.conversation_id AS conversation, e.reason, e.status, e.created_at,"
	  " e.resolved_at, e.resolved_by FROM escalations e WHERE e.tenant_id = ?1"
	  " AND (?2 IS NULL OR e.conversation_id IN (SELECT id FROM conversations"
	  " WHERE tenant_id = ?1 AND participant_id = ?2)) ORDER BY e.id", 1 },
	{ "outbox",
	  "SELECT o.id, o.conversation_id AS conversation, o.origin, o.recipient, o.text,"
	  " o.tag, o.state, o.attempts, o.mid, o.error, o.created_at, o.updated_at, o.sent_at"
	  " FROM outbox o WHERE o.tenant_id = ?1 AND (?2 IS NULL OR o.recipient = ?2"
	  " OR o.conversation_id IN (SELECT id FROM conversations WHERE tenant_id = ?1"
	  " AND participant_id = ?2)) ORDER BY o.id", 1 },
	{ "kb_articles",
	  "SELECT k.id, ag.name AS agent, k.title, k.body, k.tags, k.created_at, k.updated_at"
	  " FROM kb_articles k LEFT JOIN agents ag ON ag.id = k.agent_id WHERE k.tenant_id = ?1"
	  " AND ?2 IS NULL ORDER BY k.id", 0 },
	{ "templates",
	  "SELECT t.name AS template, ag.name AS agent, t.text, t.created_at, t.updated_at"
	  " FROM templates t LEFT JOIN agents ag ON ag.id = t.agent_id WHERE t.tenant_id = ?1"
	  " AND ?2 IS NULL ORDER BY t.name", 0 },
	{ "kb_synonyms",  /* kb branch */
	  "SELECT y.word, ag.name AS agent, y.alt, y.created_at FROM kb_synonyms y"
	  " LEFT JOIN agents ag ON ag.id = y.agent_id WHERE y.tenant_id = ?1"
	  " AND ?2 IS NULL ORDER BY y.word, y.id", 0 },
	/* publish: the content calendar (ig-publish) */
	{ "posts",
	  "SELECT p.id, a.external_id AS account, p.type, p.state, p.usage, p.caption, p.location_id,"
	  " p.collaborators, p.first_comment, p.idem_key AS key, p.scheduled_at, p.published_at,"
	  " p.media_id, p.permalink, p.comment_id, p.error, p.explain, p.created_at, p.updated_at,"
	  " (SELECT group_concat(k.sku, ',') FROM post_skus k WHERE k.post_id = p.id) AS skus,"
	  " (SELECT group_concat(m.url, ' ') FROM post_media m WHERE m.post_id = p.id) AS media"
	  " FROM posts p JOIN accounts a ON a.id = p.account_id WHERE p.tenant_id = ?1"
	  " AND ?2 IS NULL ORDER BY p.id", 0 },
	{ "post_journal",
	  "SELECT j.post_id AS post, j.at, j.step, j.outcome, j.meta_id, j.request_id, j.code,"
	  " j.subcode, j.message FROM post_journal j WHERE j.tenant_id = ?1 AND ?2 IS NULL"
	  " ORDER BY j.id", 0 },
	{ "assets",
	  "SELECT s.id, s.kind, s.mime, s.size, s.width, s.height, s.duration_ms, s.sha256, s.url,"
	  " s.local_path, s.title, s.tags, s.folder, s.created_at, s.updated_at FROM assets s"
	  " WHERE s.tenant_id = ?1 AND ?2 IS NULL ORDER BY s.id", 0 },
	/* ig-insights (branch insights): the brand snapshots and figures */
	{ "brand_snapshots",
	  "SELECT a.external_id AS account, b.fetched_at, b.username, b.name, b.biography,"
	  " b.website, b.followers_count, b.follows_count, b.media_count, b.profile_picture_url"
	  " FROM brand_snapshots b JOIN accounts a ON a.id = b.account_id WHERE b.tenant_id = ?1"
	  " AND ?2 IS NULL ORDER BY b.id", 0 },
	{ "ig_media",
	  "SELECT a.external_id AS account, m.media_id, m.product_type, m.media_type, m.caption,"
	  " m.permalink, m.posted_at, m.like_count, m.comments_count, m.first_seen_at, m.listed_at"
	  " FROM ig_media m JOIN accounts a ON a.id = m.account_id WHERE m.tenant_id = ?1"
	  " AND ?2 IS NULL ORDER BY m.id", 0 },
	{ "insight_values",
	  "SELECT a.external_id AS account, v.media_id, v.metric, v.period, v.breakdown, v.end_time,"
	  " v.value, v.source, v.fetched_at FROM insight_values v JOIN accounts a ON a.id = v.account_id"
	  " WHERE v.tenant_id = ?1 AND ?2 IS NULL ORDER BY v.id", 0 },
	{ "audit",
	  "SELECT a.id, a.at, a.actor, a.action, a.target, a.outcome, a.detail FROM audit_log a"
	  " WHERE a.tenant_id = ?1 AND ?2 IS NULL ORDER BY a.id", 0 },
};

static int add_section(struct ig_ctx *ctx, json_t *doc, const struct section *sec, int64_t tid,
		       const char *pid, struct ig_err *err)
{
	struct ig_stmt *s;
	json_t *arr, *row;
	int n;

	if (!(arr = json_array()) || json_object_set_new(doc, sec->name, arr))
		return OOM(err);
	if (!(s = ig_store_query(ctx->store, err, sec->sql, "is", tid, pid)))
		return err->code;
	while ((n = ig_stmt_next(ctx->store, s, err)) > 0) {
		if (!(row = ig_tenant_row_json(s)) || json_array_append_new(arr, row)) {
			ig_stmt_reset(s);
			return OOM(err);
		}
	}
	return n < 0 ? err->code : 0;
}

static int export(struct ig_ctx *ctx, const char *tenant, const char *pid, json_t **doc,
		  struct ig_err *err)
{
	char slug[64], iso[32];
	struct ig_stmt *s;
	json_t *t = NULL;
	int64_t tid;
	size_t i;
	int rc, n;

	*doc = NULL;
	if ((rc = ig_tenant_resolve(ctx, tenant, IG_MOD_AUDIT, IG_READ,
				    pid ? "export.participant" : "export.tenant", &tid, slug, err)))
		return rc;
	if (!(*doc = json_pack("{s:s}", "exported_at", ig_time_iso(ig_time_now(), iso))))
		return OOM(err);
	/* One read transaction: the sections are one consistent snapshot. */
	if ((rc = ig_store_begin_read(ctx->store, err)))
		goto fail;
	if (pid) {
		json_object_set_new(*doc, "tenant", json_string(slug));
		json_object_set_new(*doc, "participant", json_string(pid));
	} else {
		if (!(s = ig_store_query(ctx->store, err,
				"SELECT slug AS tenant, name, created_at, updated_at FROM tenants"
				" WHERE id = ?", "i", tid))
		    || (n = ig_stmt_next(ctx->store, s, err)) < 0) {
			rc = err->code;
			goto fail;
		}
		if (n > 0) {
			t = ig_tenant_row_json(s);
			ig_stmt_reset(s);
		}
		if (!t || json_object_set_new(*doc, "tenant", t)) {
			rc = OOM(err);
			goto fail;
		}
	}
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if ((!pid || sections[i].participant)
		    && (rc = add_section(ctx, *doc, &sections[i], tid, pid, err)))
			goto fail;
	ig_store_rollback(ctx->store);   /* read only: nothing to keep */
	return 0;
fail:
	ig_store_rollback(ctx->store);
	json_decref(*doc);
	*doc = NULL;
	return rc;
}

int ig_gdpr_export_tenant(struct ig_ctx *ctx, const char *tenant, json_t **doc,
			  struct ig_err *err)
{
	ERR_LOCAL(err);
	return export(ctx, tenant, NULL, doc, err);
}

int ig_gdpr_export_participant(struct ig_ctx *ctx, const char *tenant, const char *participant_id,
			       json_t **doc, struct ig_err *err)
{
	ERR_LOCAL(err);
	*doc = NULL;
	if (!ig_gdpr_participant_valid(participant_id))
		return bad_participant(participant_id, err);
	return export(ctx, tenant, participant_id, doc, err);
}

/* ------------------------------------------------------------ erasure */

static int run(struct ig_ctx *ctx, const char *sql, int64_t tid, const char *pid, int *changes,
	       struct ig_err *err)
{
	int rc;

	if ((rc = pid ? ig_store_runf(ctx->store, err, sql, "is", tid, pid)
		      : ig_store_runf(ctx->store, err, sql, "i", tid)))
		return rc;
	if (changes)
		*changes = ig_store_changes(ctx->store);
	return 0;
}

/* The audit log's DELETE trigger looks at this flag (001-core.sql). */
static int guard(struct ig_ctx *ctx, int on, struct ig_err *err)
{
	return ig_store_exec(ctx->store, on ? "UPDATE erasure_guard SET active = 1"
					    : "UPDATE erasure_guard SET active = 0", err);
}

int ig_gdpr_erase_tenant(struct ig_ctx *ctx, const char *tenant, int dry_run, json_t **report,
			 struct ig_err *err)
{
	char slug[64];
	struct ig_stmt *s;
	json_t *counts = NULL;
	int64_t tid;
	int rc, n;

	ERR_LOCAL(err);
	*report = NULL;
	/* Deleting a tenant is the platform's (as 'tenant delete' is), even
	 * for the tenant's own org_admin. */
	if ((rc = ig_tenant_resolve(ctx, tenant, IG_MOD_PLATFORM, IG_WRITE, "erase.tenant", &tid,
				    slug, err)))
		return rc;
	if ((rc = ig_store_begin(ctx->store, err)))
		return rc;
	if (!(s = ig_store_query(ctx->store, err,
			"SELECT (SELECT count(*) FROM memberships WHERE tenant_id = ?1) AS memberships,"
			" (SELECT count(*) FROM api_keys WHERE tenant_id = ?1) AS api_keys,"
			" (SELECT count(*) FROM agents WHERE tenant_id = ?1) AS agents,"
			" (SELECT count(*) FROM locations WHERE tenant_id = ?1) AS locations,"
			" (SELECT count(*) FROM accounts WHERE tenant_id = ?1) AS accounts,"
			" (SELECT count(*) FROM conversations WHERE tenant_id = ?1) AS conversations,"
			" (SELECT count(*) FROM messages WHERE tenant_id = ?1) AS messages,"
			" (SELECT count(*) FROM comments WHERE tenant_id = ?1) AS comments,"
			" (SELECT count(*) FROM escalations WHERE tenant_id = ?1) AS escalations,"
			" (SELECT count(*) FROM outbox WHERE tenant_id = ?1) AS outbox,"
			" (SELECT count(*) FROM kb_articles WHERE tenant_id = ?1) AS kb_articles,"
			" (SELECT count(*) FROM templates WHERE tenant_id = ?1) AS templates,"
			" (SELECT count(*) FROM dead_letters WHERE tenant_id = ?1) AS dead_letters,"
			" (SELECT count(*) FROM posts WHERE tenant_id = ?1) AS posts,"
			" (SELECT count(*) FROM assets WHERE tenant_id = ?1) AS assets,"
			" (SELECT count(*) FROM brand_snapshots WHERE tenant_id = ?1) AS brand_snapshots,"
			" (SELECT count(*) FROM insight_values WHERE tenant_id = ?1) AS insight_values,"
			" (SELECT count(*) FROM audit_log WHERE tenant_id = ?1) AS audit_rows", "i", tid))
	    || (n = ig_stmt_next(ctx->store, s, err)) < 0) {
		rc = err->code;
		goto out;
	}
	if (n == 0) {
		rc = ig_err_set(err, IG_EX_SOFTWARE, "cannot count the tenant's rows: no row");
		goto out;
	}
	counts = ig_tenant_row_json(s);
	ig_stmt_reset(s);
	if (!counts) {
		rc = OOM(err);
		goto out;
	}
	/* Everything else goes by ON DELETE CASCADE from tenants. */
	if ((rc = guard(ctx, 1, err))
	    || (rc = run(ctx, "DELETE FROM audit_log WHERE tenant_id = ?", tid, NULL, NULL, err))
	    || (rc = guard(ctx, 0, err))
	    || (rc = run(ctx, "DELETE FROM tenants WHERE id = ?", tid, NULL, NULL, err))
	    || (rc = ig_audit(ctx, tid, "erase.tenant", slug, "ok", counts, err)))
		goto out;
	if (dry_run) {
		ig_store_rollback(ctx->store);
	} else if ((rc = ig_store_commit(ctx->store, err))) {
		json_decref(counts);
		return rc;
	}
	*report = json_pack("{s:s,s:s,s:o}", "tenant", slug, "status", dry_run ? "dry_run" : "erased",
			    "erased", counts);
	return *report ? 0 : OOM(err);
out:
	ig_store_rollback(ctx->store);
	json_decref(counts);
	return rc;
}

int ig_gdpr_erase_participant(struct ig_ctx *ctx, const char *participant_id, json_t **report,
			      struct ig_err *err)
{
	return ig_gdpr_erase_participant_in(ctx, 0, participant_id, 0, report, err);
}

/* The participant's rows in one tenant: count, then delete. */
static int erase_in_tenant(struct ig_ctx *ctx, int64_t tid, const char *pid, json_t *tenants,
			   int64_t totals[5], int *naudit, struct ig_err *err)
{
	static const char *const names[5] = {
		"conversations", "messages", "escalations", "comments", "outbox"
	};
	char slug[64];
	struct ig_stmt *s;
	json_t *row;
	int64_t n[5];
	int rc, i, na = 0;

	if (!(s = ig_store_query(ctx->store, err,
			"SELECT (SELECT count(*) FROM conversations WHERE tenant_id = ?1"
			"   AND participant_id = ?2),"
			" (SELECT count(*) FROM messages WHERE tenant_id = ?1 AND conversation_id IN"
			"   (SELECT id FROM conversations WHERE tenant_id = ?1 AND participant_id = ?2)),"
			" (SELECT count(*) FROM escalations WHERE tenant_id = ?1 AND conversation_id IN"
			"   (SELECT id FROM conversations WHERE tenant_id = ?1 AND participant_id = ?2)),"
			" (SELECT count(*) FROM comments WHERE tenant_id = ?1 AND from_id = ?2),"
			" (SELECT count(*) FROM outbox WHERE tenant_id = ?1 AND (recipient = ?2 OR"
			"   conversation_id IN (SELECT id FROM conversations WHERE tenant_id = ?1"
			"   AND participant_id = ?2)))", "is", tid, pid))
	    || (rc = ig_stmt_next(ctx->store, s, err)) < 0)
		return err->code;
	if (rc == 0)
		return ig_err_set(err, IG_EX_SOFTWARE, "cannot count the participant's rows: no row");
	for (i = 0; i < 5; i++)
		n[i] = ig_col_int(s, i);
	ig_stmt_reset(s);
	/* Audit rows about the participant's conversations and outbox rows,
	 * by the targets ig-reply writes ("conversation:<id>", "outbox:<id>"),
	 * while those rows still exist to say which ids are theirs. */
	if ((rc = guard(ctx, 1, err))
	    || (rc = run(ctx, "DELETE FROM audit_log WHERE tenant_id = ?1 AND (target IN"
			      " (SELECT 'conversation:' || id FROM conversations WHERE tenant_id = ?1"
			      " AND participant_id = ?2) OR target IN (SELECT 'outbox:' || id FROM outbox"
			      " WHERE tenant_id = ?1 AND (recipient = ?2 OR conversation_id IN"
			      " (SELECT id FROM conversations WHERE tenant_id = ?1"
			      " AND participant_id = ?2))))", tid, pid, &na, err))
	    || (rc = guard(ctx, 0, err)))
		return rc;
	*naudit += na;
	/* comments branch: audit rows about the participant's comments, their
	 * comments that came without an id (by username), their actions */
	na = 0;
	if ((rc = guard(ctx, 1, err))
	    || (rc = run(ctx, "DELETE FROM audit_log WHERE tenant_id = ?1 AND action LIKE 'comments.%'"
			      " AND target IN (SELECT comment_id FROM comments WHERE tenant_id = ?1"
			      " AND from_id = ?2)", tid, pid, &na, err))
	    || (rc = guard(ctx, 0, err))
	    || (rc = run(ctx, "DELETE FROM comments WHERE tenant_id = ?1 AND from_id IS NULL"
			      " AND from_username IN (SELECT from_username FROM comments WHERE tenant_id = ?1"
			      " AND from_id = ?2 AND from_username IS NOT NULL)", tid, pid, NULL, err))
	    || (rc = run(ctx, "DELETE FROM comment_actions WHERE tenant_id = ?1 AND from_id = ?2",
			 tid, pid, NULL, err)))
		return rc;
	*naudit += na;
	/* Messages, their edits and escalations go with the conversations
	 * (ON DELETE CASCADE); outbox rows may also stand alone (recipient). */
	if ((rc = run(ctx, "DELETE FROM outbox WHERE tenant_id = ?1 AND (recipient = ?2 OR"
			   " conversation_id IN (SELECT id FROM conversations WHERE tenant_id = ?1"
			   " AND participant_id = ?2))", tid, pid, NULL, err))
	    || (rc = run(ctx, "DELETE FROM conversations WHERE tenant_id = ?1 AND participant_id = ?2",
			 tid, pid, NULL, err))
	    || (rc = run(ctx, "DELETE FROM comments WHERE tenant_id = ?1 AND from_id = ?2",
			 tid, pid, NULL, err)))
		return rc;
	if (!(row = json_pack("{s:s}", "tenant", ig_ctx_tenant_slug(ctx, tid, slug))))
		return OOM(err);
	for (i = 0; i < 5; i++) {
		json_object_set_new(row, names[i], json_integer(n[i]));
		totals[i] += n[i];
	}
	json_array_append_new(tenants, row);
	return 0;
}

int ig_gdpr_erase_participant_in(struct ig_ctx *ctx, int64_t tenant_id, const char *participant_id,
				 int dry_run, json_t **report, struct ig_err *err)
{
	static const char *const names[5] = {
		"conversations", "messages", "escalations", "comments", "outbox"
	};
	unsigned char h[32];
	char hex[65], target[72];
	int64_t *ids = NULL, totals[5] = { 0 };
	size_t nids = 0, cap = 0, i;
	json_t *tenants = NULL, *detail;
	struct ig_stmt *s;
	int rc, ndead = 0, ndeliv = 0, naudit = 0, i_audit = 0;

	ERR_LOCAL(err);
	*report = NULL;
	if (!ig_gdpr_participant_valid(participant_id))
		return bad_participant(participant_id, err);
	ig_sha256(participant_id, strlen(participant_id), h);
	ig_hex(h, 32, hex);
	snprintf(target, sizeof(target), "sha256:%s", hex);
	if (!(tenants = json_array()))
		return OOM(err);
	if ((rc = ig_store_begin(ctx->store, err))) {
		json_decref(tenants);
		return rc;
	}
	/* Collect the tenants first: deleting while a SELECT over the same
	 * tables is still stepping is best avoided. */
	if (!(s = ig_store_query(ctx->store, err,
			"SELECT tenant_id FROM conversations WHERE participant_id = ?2"
			" AND (?1 = 0 OR tenant_id = ?1)"
			" UNION SELECT tenant_id FROM comments WHERE from_id = ?2"
			" AND (?1 = 0 OR tenant_id = ?1)"
			" UNION SELECT tenant_id FROM outbox WHERE recipient = ?2"
			" AND (?1 = 0 OR tenant_id = ?1) ORDER BY 1", "is", tenant_id, participant_id))) {
		rc = err->code;
		goto out;
	}
	while ((rc = ig_stmt_next(ctx->store, s, err)) > 0) {
		if (nids == cap) {
			int64_t *p = realloc(ids, (cap = cap ? 2 * cap : 8) * sizeof(*ids));

			if (!p) {
				ig_stmt_reset(s);
				rc = OOM(err);
				goto out;
			}
			ids = p;
		}
		ids[nids++] = ig_col_int(s, 0);
	}
	if (rc < 0) {
		rc = err->code;
		goto out;
	}
	for (i = 0; i < nids && !rc; i++)
		rc = erase_in_tenant(ctx, ids[i], participant_id, tenants, totals, &naudit, err);
	if (rc)
		goto out;
	/* Raw JSON that has the id as a sender, recipient or from id (webhook
	 * shapes, reference §2): dead letters (in scope), and — when erasing
	 * everywhere — the raw webhook deliveries, which belong to no tenant
	 * (JSON in stored text: a named store function). */
	if ((rc = ig_store_delete_json_mentions(ctx->store, IG_STORE_JSON_DEAD_LETTERS, tenant_id,
						participant_id, &ndead, err)))
		goto out;
	if (!tenant_id && (rc = ig_store_delete_json_mentions(ctx->store, IG_STORE_JSON_DELIVERIES,
							       0, participant_id, &ndeliv, err)))
		goto out;
	/* Audit rows about the participant itself (their conversations' and
	 * outbox rows' went above); never rows that merely contain the
	 * digits, which may be another object's id. */
	if ((rc = guard(ctx, 1, err))
	    || (rc = ig_store_delete_audit_participant(ctx->store, tenant_id, participant_id,
						       &i_audit, err))
	    || (rc = guard(ctx, 0, err)))
		goto out;
	naudit += i_audit;
	/* The proof of erasure: one row per tenant touched, and one for the
	 * whole request (in the tenant asked for, or platform-wide). */
	for (i = 0; i < json_array_size(tenants) && tenant_id == 0; i++) {
		json_t *t = json_array_get(tenants, i);

		if ((rc = ig_audit(ctx, ids[i], "erase.participant", target, "ok", t, err)))
			goto out;
	}
	detail = json_pack("{s:i,s:i,s:i,s:I}", "dead_letters", ndead, "deliveries", ndeliv,
			   "audit_rows", naudit, "tenants", (json_int_t)nids);
	for (i = 0; detail && i < 5; i++)
		json_object_set_new(detail, names[i], json_integer(totals[i]));
	if (!detail) {
		rc = OOM(err);
		goto out;
	}
	rc = ig_audit(ctx, tenant_id, "erase.participant", target, "ok", detail, err);
	json_decref(detail);
	if (rc)
		goto out;
	if (dry_run)
		ig_store_rollback(ctx->store);
	else if ((rc = ig_store_commit(ctx->store, err)))
		goto done;
	*report = json_pack("{s:s,s:s,s:O,s:i,s:i,s:i,s:b}", "participant", target,
			    "status", dry_run ? "dry_run" : "erased", "tenants", tenants,
			    "dead_letters", ndead, "deliveries", ndeliv, "audit_rows", naudit,
			    "dry_run", dry_run);
	rc = *report ? 0 : OOM(err);
	goto done;
out:
	ig_store_rollback(ctx->store);
done:
	free(ids);
	json_decref(tenants);
	return rc;
}

/* ---- shape branch: the permission check of "tenant-admin erase --participant" */

int ig_gdpr_erase_customer(struct ig_ctx *ctx, const char *tenant, const char *participant_id,
			   int dry_run, json_t **report, struct ig_err *err)
{
	int64_t tid = 0;
	int rc;

	*report = NULL;
	if (!ig_gdpr_participant_valid(participant_id))
		return ig_err_set(err, IG_EX_DATAERR,
				  "invalid participant id '%s' (an IGSID or PSID: 1-64 decimal digits)",
				  participant_id);
	/* Within one tenant (named, or the key's own) the audit module decides;
	 * across all tenants only a super admin may. */
	if (tenant || ctx->actor.tenant_id)
		rc = ig_tenant_resolve(ctx, tenant, IG_MOD_AUDIT, IG_WRITE, "erase.participant", &tid,
				       NULL, err);
	else
		rc = ig_authz_require(ctx, 0, IG_MOD_PLATFORM, IG_WRITE, "erase.participant", err);
	return rc ? rc : ig_gdpr_erase_participant_in(ctx, tid, participant_id, dry_run, report, err);
}
