/*
 * comments.c — the comment board: sync with a gap report, the listing,
 * moderation actions confirmed by Graph, tags, assignment, the action log,
 * rules storage and the moderation driver.  Contracts in comments.h.
 *
 * Meta's side (reference): §6 comments, media listing, hide/unhide, delete,
 * replies (text only); §3.4 private replies (BLfI: graph.instagram.com
 * /<IG_ID>/messages; FLfB: graph.facebook.com /<PAGE_ID>/messages — the IG
 * node there answers (#3)); §9.1 ambiguous non-idempotent POSTs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "authz.h"
#include "comments.h"
#include "crypto.h"
#include "igtime.h"
#include "jsonio.h"
#include "kb.h"
#include "outbox.h"
#include "rules.h"
#include "store.h"
#include "tenant.h"

#define ERR_LOCAL(err) struct ig_err err_local_ = { 0 }; if (!(err)) (err) = &err_local_
#define OOM(err) ig_err_set((err), IG_EX_SOFTWARE, "out of memory")

/* Loop guards for automated replies (ig-comments(1) "LOOP GUARDS"). */
#define CAP_10MIN 5
#define CAP_HOUR 50

/* What each action is at Meta (reference §6, §3.4), by enum ig_cm_what. */
static const struct what_def {
	const char *name;
	const char *method;
	int moderation;      /* hide, unhide, delete: on the comment node, the media owner's */
	int idempotent;      /* the same state twice is the same state */
	const char *hide;    /* the "hide" form value, or NULL */
} whats[] = {
	[IG_CM_REPLY] = { "reply", "POST", 0, 0, NULL },
	[IG_CM_HIDE] = { "hide", "POST", 1, 1, "true" },
	[IG_CM_UNHIDE] = { "unhide", "POST", 1, 1, "false" },
	[IG_CM_DELETE] = { "delete", "DELETE", 1, 0, NULL },
	[IG_CM_DM] = { "dm", "POST", 0, 0, NULL },
};

int ig_comments_tenant(struct ig_ctx *ctx, const char *slug, int write, const char *action,
		       int64_t *tenant_id, struct ig_err *err)
{
	return ig_tenant_resolve(ctx, slug, IG_MOD_COMMENTS, write ? IG_WRITE : IG_READ, action,
				 tenant_id, NULL, err);
}

/* ------------------------------------------------------------ a comment */

struct cm {
	int64_t row, account_id, tenant_id, agent_id, location_id, created_at, replied_at;
	char comment_id[64], field[24], media_id[64], mpt[24], parent_id[64], from_id[64];
	char username[128], tags[512], dm_state[16];
	char *text;
	int own, hidden, deleted, moderated;
	char flavour[16], channel[16], ext[64], page[64], acct_user[128], status[16];
};

static void cm_release(struct cm *c)
{
	free(c->text);
	c->text = NULL;
}

#define CPY(dst, col) snprintf((dst), sizeof(dst), "%s", ig_col_text(s, (col)))

static const char SQL_LOAD[] =
	"SELECT c.id, c.account_id, c.comment_id, c.field, COALESCE(c.media_id, ''),"
	" COALESCE(c.media_product_type, ''), COALESCE(c.parent_id, ''), COALESCE(c.from_id, ''),"
	" COALESCE(c.from_username, ''), c.text, c.own, c.hidden, c.deleted, c.tags, c.created_at,"
	" COALESCE(c.replied_at, 0), COALESCE(c.dm_state, ''), a.flavour, a.channel, a.external_id,"
	" COALESCE(a.page_id, ''), COALESCE(a.username, ''), a.status, COALESCE(a.agent_id, 0),"
	" COALESCE(a.location_id, 0), c.tenant_id, c.moderated_at IS NOT NULL"
	" FROM comments c JOIN accounts a ON a.id = c.account_id"
	" WHERE c.tenant_id = ? AND c.comment_id = ? ORDER BY c.id LIMIT 1";

static void cm_read(struct ig_stmt *s, struct cm *c)
{
	const char *t;

	memset(c, 0, sizeof(*c));
	c->row = ig_col_int(s, 0);
	c->account_id = ig_col_int(s, 1);
	CPY(c->comment_id, 2);
	CPY(c->field, 3);
	CPY(c->media_id, 4);
	CPY(c->mpt, 5);
	CPY(c->parent_id, 6);
	CPY(c->from_id, 7);
	CPY(c->username, 8);
	t = ig_col_textn(s, 9);
	c->text = t ? strdup(t) : NULL;
	c->own = (int)ig_col_int(s, 10);
	c->hidden = (int)ig_col_int(s, 11);
	c->deleted = (int)ig_col_int(s, 12);
	CPY(c->tags, 13);
	c->created_at = ig_col_int(s, 14);
	c->replied_at = ig_col_int(s, 15);
	CPY(c->dm_state, 16);
	CPY(c->flavour, 17);
	CPY(c->channel, 18);
	CPY(c->ext, 19);
	CPY(c->page, 20);
	CPY(c->acct_user, 21);
	CPY(c->status, 22);
	c->agent_id = ig_col_int(s, 23);
	c->location_id = ig_col_int(s, 24);
	c->tenant_id = ig_col_int(s, 25);
	c->moderated = (int)ig_col_int(s, 26);
	/* §2.4: the business's own comments (self_ig_scoped_id, or from = the account) */
	if ((c->from_id[0] && !strcmp(c->from_id, c->ext))
	    || (c->username[0] && c->acct_user[0] && !strcasecmp(c->username, c->acct_user)))
		c->own = 1;
}

static int cm_load(struct ig_store *st, int64_t tid, const char *cid, struct cm *c,
		   struct ig_err *err)
{
	struct ig_stmt *s = ig_store_query(st, err, SQL_LOAD, "is", tid, cid);
	int n;

	if (!s)
		return err->code;
	n = ig_stmt_next(st, s, err);
	if (n < 0)
		return err->code;
	if (n == 0)
		return ig_err_set(err, IG_EX_DATAERR, "unknown comment '%.64s'", cid);
	cm_read(s, c);
	ig_stmt_reset(s);
	return 0;
}

static int is_live(const struct cm *c)
{
	return !strcmp(c->field, "live_comments") || !strcasecmp(c->mpt, "LIVE")
	       || !strcasecmp(c->mpt, "IG_LIVE");
}

static enum ig_host host_of(const char *flavour)
{
	return !strcmp(flavour, "instagram") ? IG_HOST_GRAPH_IG : IG_HOST_GRAPH_FB;
}

/* The account's token, opened (ig_wipe_free).  77 when it has none. */
static int open_token(struct ig_ctx *ctx, int64_t account_id, char **tok, struct ig_err *err)
{
	struct ig_stmt *s;
	const void *blob;
	char aad[64], ext[64], status[16];
	size_t len, tlen;
	int n, rc;

	*tok = NULL;
	if ((rc = ig_ctx_keys(ctx, err)))
		return rc;
	s = ig_store_query(ctx->store, err,
		"SELECT access_token, status, external_id FROM accounts WHERE id = ?", "i", account_id);
	if (!s)
		return err->code;
	if ((n = ig_stmt_next(ctx->store, s, err)) <= 0)
		return n < 0 ? err->code : ig_err_set(err, IG_EX_DATAERR, "no such account");
	snprintf(status, sizeof(status), "%s", ig_col_text(s, 1));
	snprintf(ext, sizeof(ext), "%s", ig_col_text(s, 2));
	blob = ig_col_blob(s, 0, &len);
	if (!blob || strcmp(status, "active")) {
		ig_stmt_reset(s);
		return ig_err_set(err, IG_EX_NOPERM,
			"account %s is %s: re-authorise it (ig-connect)", ext,
			blob ? status : "without a token");
	}
	snprintf(aad, sizeof(aad), "accounts:%lld:access_token", (long long)account_id);
	rc = ig_open(&ctx->keys, aad, blob, len, tok, &tlen, err);
	ig_stmt_reset(s);
	if (rc)
		ig_err_prefix(err, "cannot open the token of account %s", ext);
	return rc;
}

/* An answer that may mean the action happened (reference §9.1, §3.6, §4.6). */
static int ambiguous(const struct ig_graph_req *r)
{
	long c = r->resp.gerr.code, sc = r->resp.gerr.subcode;

	if (r->rc == 0)
		return 0;
	return r->resp.ambiguous || r->resp.status >= 500 || c == 1 || c == 2
	       || (c == 20 && sc == 1772107);
}

/* Meta said 190: as the outbox does, the account waits for ig-connect. */
static int needs_reauth(struct ig_store *st, int64_t account_id, const char *why,
			struct ig_err *err)
{
	return ig_store_write(st, NULL, err, "UPDATE accounts SET status = 'needs_reauth',"
			      " last_error = ?, error_count = error_count + 1, updated_at = ?"
			      " WHERE id = ?", "sii", why, ig_time_now(), account_id);
}

static char *json_text(const json_t *v)
{
	return v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

/* ------------------------------------------------------------ recording */

/* Insert a comment_actions row in the open transaction. */
static int action_insert(struct ig_ctx *ctx, const struct cm *c, const char *action,
			 const char *origin, const char *rule, const char *state, const json_t *before,
			 const json_t *after, const char *text, int64_t *id, struct ig_err *err)
{
	char *b = json_text(before), *a = json_text(after);
	int64_t now = ig_time_now();
	int rc;

	rc = ig_store_runf(ctx->store, err,
		"INSERT INTO comment_actions(tenant_id, account_id, comment_row, comment_id, media_id,"
		" from_id, action, origin, rule, actor, state, before, after, text, created_at,"
		" updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		"iiisssssssssssii", c->tenant_id, c->account_id, c->row, c->comment_id,
		c->media_id[0] ? c->media_id : NULL, c->from_id[0] ? c->from_id : NULL, action,
		origin ? origin : "human", rule, ctx->actor.label, state, b, a, text, now, now);
	free(b);
	free(a);
	if (!rc && id)
		*id = ig_store_last_id(ctx->store);
	return rc;
}

struct outcome {
	const char *state;        /* done | failed | unknown */
	char result_id[128];
	char trace[64];
	char error[700];
	int rc;
};

/* The local change an action makes once Meta confirmed it. */
static int apply_done(struct ig_ctx *ctx, const struct cm *c, enum ig_cm_what w,
		      const char *result_id, const char *text, int64_t outbox, int64_t conv,
		      struct ig_err *err)
{
	struct ig_store *st = ctx->store;
	int64_t now = ig_time_now();
	int rc = 0;

	switch (w) {
	case IG_CM_HIDE:
	case IG_CM_UNHIDE:
		rc = ig_store_runf(st, err, "UPDATE comments SET hidden = ? WHERE id = ?", "ii",
				   (int64_t)(w == IG_CM_HIDE), c->row);
		break;
	case IG_CM_DELETE:
		rc = ig_store_runf(st, err, "UPDATE comments SET deleted = 1 WHERE id = ?", "i", c->row);
		break;
	case IG_CM_REPLY:
		if ((rc = ig_store_runf(st, err,
			"UPDATE comments SET replied_at = ? WHERE id = ? OR (account_id = ? AND comment_id = ?)",
			"iiis", now, c->row, c->account_id, c->parent_id)))
			break;
		if (result_id && *result_id)
			/* our reply, so the rules and the board know it is ours */
			rc = ig_store_runf(st, err,
				"INSERT INTO comments(tenant_id, account_id, comment_id, field, media_id,"
				" media_product_type, parent_id, from_id, from_username, text, own,"
				" created_at, received_at, source, moderated_at, read_at)"
				" VALUES (?, ?, ?, 'comments', ?, ?, ?, ?, ?, ?, 1, ?, ?, 'igkit', ?, ?)"
				" ON CONFLICT(account_id, comment_id) DO NOTHING",
				"iisssssssiiii", c->tenant_id, c->account_id, result_id,
				c->media_id[0] ? c->media_id : NULL, c->mpt[0] ? c->mpt : NULL,
				c->parent_id[0] ? c->parent_id : c->comment_id, c->ext,
				c->acct_user[0] ? c->acct_user : NULL, text, now, now, now, now);
		break;
	case IG_CM_DM:
		if ((rc = ig_store_runf(st, err,
			"UPDATE comments SET dm_state = 'sent', dm_at = ? WHERE id = ?", "ii", now, c->row)))
			break;
		if (outbox && (rc = ig_store_runf(st, err,
			"UPDATE outbox SET state = 'sent', mid = ?, sent_at = ?, lease_owner = NULL,"
			" lease_until = NULL, updated_at = ? WHERE id = ?",
			"siii", result_id, now, now, outbox)))
			break;
		if (conv)
			rc = ig_store_runf(st, err,
				"UPDATE conversations SET last_outbound_at = ?, updated_at = ? WHERE id = ?",
				"iii", now, now, conv);
		break;
	}
	return rc;
}

/* Record what Meta answered: the action row, the comment, the audit row. */
static int record(struct ig_ctx *ctx, const struct cm *c, enum ig_cm_what w, int64_t aid,
		  const struct outcome *o, const char *text, int64_t outbox, int64_t conv,
		  const json_t *after, struct ig_err *err)
{
	struct ig_store *st = ctx->store;
	int64_t now = ig_time_now();
	char action[32], *a = json_text(after);
	json_t *detail;
	int rc;

	snprintf(action, sizeof(action), "comments.%s", whats[w].name);
	if ((rc = ig_store_begin(st, err))) {
		free(a);
		return rc;
	}
	rc = ig_store_runf(st, err,
		"UPDATE comment_actions SET state = ?, result_id = COALESCE(?, result_id), trace_id = COALESCE(?, trace_id), error = COALESCE(?, error),"
		" after = CASE WHEN ? = 'done' THEN ? ELSE after END, updated_at = ? WHERE id = ?",
		"ssssssii", o->state, o->result_id[0] ? o->result_id : NULL,
		o->trace[0] ? o->trace : NULL, o->error[0] ? o->error : NULL, o->state, a, now, aid);
	free(a);
	if (!rc && !strcmp(o->state, "done"))
		rc = apply_done(ctx, c, w, o->result_id, text, outbox, conv, err);
	if (!rc && w == IG_CM_DM && strcmp(o->state, "done")) {
		/* failed: another try is allowed; unknown: never again automatically */
		if (!strcmp(o->state, "unknown"))
			rc = ig_store_runf(st, err, "UPDATE comments SET dm_state = 'unknown', dm_at = ?"
					   " WHERE id = ?", "ii", now, c->row);
		if (!rc && outbox)
			rc = ig_store_runf(st, err,
				"UPDATE outbox SET state = ?, error = ?, lease_owner = NULL,"
				" lease_until = NULL, updated_at = ? WHERE id = ?",
				"ssii", o->state, o->error, now, outbox);
	}
	if (!rc) {
		detail = json_pack("{s:s,s:s,s:I}", "comment", c->comment_id, "state", o->state,
				   "action_id", (json_int_t)aid);
		if (detail && o->trace[0])
			json_object_set_new(detail, "trace_id", json_string(o->trace));
		if (detail && o->result_id[0])
			json_object_set_new(detail, "result_id", json_string(o->result_id));
		if (detail && o->error[0])
			json_object_set_new(detail, "error", json_string(o->error));
		rc = ig_audit(ctx, c->tenant_id, action, c->comment_id,
			      !strcmp(o->state, "failed") ? "failed" : "ok", detail, err);
		json_decref(detail);
	}
	return ig_store_end(st, rc, err);
}

/* ------------------------------------------------------------ composing */

struct persona {
	int64_t agent_id;
	char name[64], display[128], engine[16], model[128], lang[16];
	char *personality, *instructions, *business, *loc_name, *loc_ctx;
};

static void persona_release(struct persona *p)
{
	free(p->personality);
	free(p->instructions);
	free(p->business);
	free(p->loc_name);
	free(p->loc_ctx);
	memset(p, 0, sizeof(*p));
}

static char *dupt(struct ig_stmt *s, int col)
{
	return strdup(ig_col_text(s, col));
}

static int persona_load(struct ig_store *st, const struct cm *c, struct persona *p,
			struct ig_err *err)
{
	struct ig_stmt *s = ig_store_query(st, err,
		"SELECT g.id, g.name, g.display_name, g.personality, g.instructions, g.business_name,"
		" g.language, g.engine, g.model, COALESCE(l.name, ''), COALESCE(l.context, ''),"
		" g.active FROM accounts a"
		" JOIN agents g ON g.id = COALESCE(a.agent_id,"
		"   (SELECT d.id FROM agents d WHERE d.tenant_id = a.tenant_id AND d.is_default = 1))"
		" LEFT JOIN locations l ON l.id = a.location_id WHERE a.id = ?", "i", c->account_id);
	int n;

	memset(p, 0, sizeof(*p));
	if (!s)
		return err->code;
	if ((n = ig_stmt_next(st, s, err)) < 0)
		return err->code;
	if (n == 0)
		return ig_err_set(err, IG_EX_DATAERR,
			"no agent answers for account %s (assign one with ig-connect, or set a tenant default)",
			c->ext);
	p->agent_id = ig_col_int(s, 0);
	CPY(p->name, 1);
	CPY(p->display, 2);
	p->personality = dupt(s, 3);
	p->instructions = dupt(s, 4);
	p->business = dupt(s, 5);
	CPY(p->lang, 6);
	CPY(p->engine, 7);
	CPY(p->model, 8);
	p->loc_name = dupt(s, 9);
	p->loc_ctx = dupt(s, 10);
	if (!ig_col_int(s, 11)) {
		ig_stmt_reset(s);
		persona_release(p);
		return ig_err_set(err, IG_EX_DATAERR, "the agent of account %s is switched off", c->ext);
	}
	ig_stmt_reset(s);
	return 0;
}

/*
 * The account agent's answer to the comment.  kb engine: lib/kb.h, the same
 * search and composer as ig-reply.  openai engine: one chat completion with
 * the persona as system prompt.  (reply.h has no public entry point that
 * composes for a text outside a conversation; see ig-comments(1) BUGS.)
 */
static int compose_ai(struct ig_ctx *ctx, struct ig_graph *g, const struct cm *c, char **out,
		      char *source, size_t srclen, struct ig_err *err)
{
	struct persona p;
	struct ig_persona ip;
	struct ig_kb_result res;
	const char *mc = ig_config_get(&ctx->cfg, "kb_min_confidence");
	double conf = 0, min = mc ? atof(mc) : 0.5;
	int rc;

	*out = NULL;
	if ((rc = persona_load(ctx->store, c, &p, err)))
		return rc;
	if (!strcmp(p.engine, "openai") && g) {
		char *key = NULL, sys[4096];
		struct ig_graph_req req;
		const json_t *choice;
		const char *txt;
		json_t *body;

		if (ig_config_has_secret(&ctx->cfg, "llm_key_file")
		    && (rc = ig_config_secret(&ctx->cfg, "llm_key_file", &key, err))) {
			persona_release(&p);
			return rc;
		}
		snprintf(sys, sizeof(sys),
			 "You are %s, answering a public Instagram comment for %s. Personality: %s. "
			 "Instructions: %s. %s%s%s Answer in one or two short sentences, in language '%s'.",
			 p.display[0] ? p.display : p.name, p.business, p.personality, p.instructions,
			 p.loc_name[0] ? "Location: " : "", p.loc_name, p.loc_ctx[0] ? p.loc_ctx : "",
			 p.lang);
		body = json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s}],s:f}", "model",
				 p.model[0] ? p.model : ig_config_get(&ctx->cfg, "llm_model"),
				 "messages", "role", "system", "content", sys, "role", "user", "content",
				 c->text ? c->text : "", "temperature", 0.3);
		memset(&req, 0, sizeof(req));
		req.host = IG_HOST_LLM;
		req.method = "POST";
		req.path = "/chat/completions";
		req.json = body;
		req.token = key;
		req.idempotent = 1;
		rc = ig_graph_call(g, &req);
		json_decref(body);
		ig_wipe_free(key);
		choice = json_array_get(json_object_get(req.resp.body, "choices"), 0);
		txt = ig_json_str(json_object_get(choice, "message"), "content");
		if (!rc && txt && *txt) {
			*out = strdup(txt);
			ig_kb_clip(*out, IG_CM_REPLY_MAX);
			snprintf(source, srclen, "openai:%.60s", p.model);
		} else if (!rc)
			rc = ig_err_set(err, IG_EX_UNAVAILABLE, "the LLM answered without text");
		else
			ig_err_set(err, req.rc, "%s", req.err.msg);
		ig_graph_resp_release(&req.resp);
		persona_release(&p);
		return rc;
	}
	ip.name = p.name;
	ip.display_name = p.display;
	ip.personality = p.personality;
	ip.instructions = p.instructions;
	ip.business_name = p.business;
	ip.language = p.lang;
	ip.location_name = p.loc_name;
	ip.location_context = p.loc_ctx;
	memset(&res, 0, sizeof(res));
	rc = ig_kb_search(ctx->store, c->tenant_id, p.agent_id, c->text ? c->text : "", p.loc_name,
			  p.loc_ctx, IG_KB_MAX_HITS, &res, err);
	if (!rc) {
		int k = ig_kb_compose(&ip, &res, min, out, &conf, source, srclen);

		if (k < 0)
			rc = OOM(err);
		else if (k == 0)
			rc = ig_err_set(err, IG_EX_DATAERR,
				"the agent's knowledge base does not cover this comment (confidence below"
				" %.2f): answer it yourself", min);
	}
	ig_kb_result_release(&res);
	persona_release(&p);
	return rc;
}

/* ------------------------------------------------------------ actions */

/* Refusals before calling (comments.h).  65 with the reason. */
static int refuse(const struct cm *c, const struct ig_cm_act *a, struct ig_err *err)
{
	const char *w = whats[a->what].name;

	if (c->deleted)
		return ig_err_set(err, IG_EX_DATAERR, "%s: comment '%s' was deleted", w, c->comment_id);
	if (strcmp(c->channel, "instagram"))
		return ig_err_set(err, IG_EX_DATAERR,
			"%s: comment '%s' is a Facebook Page comment: ig-comments moderates Instagram comments",
			w, c->comment_id);
	if (whats[a->what].moderation) {
		if (!strcmp(c->field, "mentions"))
			return ig_err_set(err, IG_EX_DATAERR,
				"%s: comment '%s' is on media account %s does not own (a mention): only the"
				" media owner can %s it", w, c->comment_id, c->ext, w);
		if (is_live(c))
			return ig_err_set(err, IG_EX_DATAERR,
				"%s: comment '%s' is a live comment: Meta does not allow %s on live video",
				w, c->comment_id, a->what == IG_CM_DELETE ? "deleting" : "hiding");
		if (c->own && a->what != IG_CM_DELETE)
			return ig_err_set(err, IG_EX_DATAERR,
				"%s: comment '%s' is the account's own: Meta always shows the owner's comments",
				w, c->comment_id);
	}
	if (a->what == IG_CM_REPLY) {
		if (a->attachment)
			return ig_err_set(err, IG_EX_DATAERR,
				"reply: comment replies are text only: Meta takes no attachment (reference §6)");
		if (c->parent_id[0] && !a->on_parent)
			return ig_err_set(err, IG_EX_DATAERR,
				"reply: comment '%s' is itself a reply and Instagram threads are one level deep:"
				" answer on its parent '%s' (--on-parent)", c->comment_id, c->parent_id);
		if (!strcmp(c->field, "mentions") && strcmp(c->flavour, "facebook"))
			return ig_err_set(err, IG_EX_DATAERR,
				"reply: '%s' is a mention on media the account does not own: answering a"
				" mention needs Facebook Login (/<IG_USER_ID>/mentions, reference §6)",
				c->comment_id);
		if (!strcmp(c->field, "mentions") && !c->media_id[0])
			return ig_err_set(err, IG_EX_DATAERR,
				"reply: mention '%s' came without its media id", c->comment_id);
	}
	if (a->what == IG_CM_DM) {
		int64_t age = ig_time_now() - c->created_at;

		if (c->own)
			return ig_err_set(err, IG_EX_DATAERR,
				"dm: comment '%s' is the account's own: nobody to write to", c->comment_id);
		if (!c->from_id[0])
			return ig_err_set(err, IG_EX_DATAERR,
				"dm: comment '%s' has no author id: Meta did not say who wrote it", c->comment_id);
		if (c->dm_state[0])
			return ig_err_set(err, IG_EX_DATAERR,
				"dm: comment '%s' already has a private reply (%s): Meta allows one per comment",
				c->comment_id, c->dm_state);
		if (is_live(c) && age > IG_CM_LIVE_MAX)
			return ig_err_set(err, IG_EX_DATAERR,
				"dm: comment '%s' is a live comment of a broadcast that has ended: private"
				" replies to live comments go only while it runs (reference §3.4; a live"
				" lasts at most 4 hours)", c->comment_id);
		if (age > IG_CM_DM_WINDOW)
			return ig_err_set(err, IG_EX_DATAERR,
				"dm: comment '%s' is %lld days old: a private reply must go within 7 days of the"
				" comment (reference §3.4)", c->comment_id, (long long)(age / 86400));
	}
	return 0;
}

/* An earlier action of this kind on this comment still open: 65. */
static int open_action(struct ig_store *st, const struct cm *c, const char *w, struct ig_err *err)
{
	int64_t id = 0;
	int n = ig_store_int(st, err, &id,
		"SELECT id FROM comment_actions WHERE comment_row = ? AND action = ?"
		" AND (state = 'pending' OR state = 'unknown') ORDER BY id LIMIT 1", "is", c->row, w);

	if (n < 0)
		return err->code;
	if (n > 0)
		return ig_err_set(err, IG_EX_DATAERR,
			"%s: an earlier %s of comment '%s' (action %lld) has no confirmed outcome: run"
			" 'ig-comments sync' to settle it; nothing is sent twice", w, w, c->comment_id,
			(long long)id);
	return 0;
}

/* Loop guards of automated replies: 65 with the reason. */
static int loop_guard(struct ig_store *st, const struct cm *c, enum ig_cm_what w,
		      struct ig_err *err)
{
	static const struct { int64_t seconds; int most; const char *in; } caps[] = {
		{ 600, CAP_10MIN, "in 10 minutes" }, { 3600, CAP_HOUR, "in an hour" },
	};
	int64_t now = ig_time_now(), k = 0;
	size_t i;

	if (c->own)
		return ig_err_set(err, IG_EX_DATAERR,
			"loop guard: comment '%s' is the account's own (or an echo): never answered",
			c->comment_id);
	if (w != IG_CM_REPLY)
		return 0;
	if (ig_store_int(st, err, &k,
		"SELECT count(*) FROM comment_actions WHERE account_id = ? AND media_id = ?"
		" AND action = 'reply' AND origin <> 'human' AND from_id = ?"
		" AND (state = 'done' OR state = 'pending' OR state = 'unknown')", "iss",
		c->account_id, c->media_id, c->from_id) < 0)
		return err->code;
	if (k > 0)
		return ig_err_set(err, IG_EX_DATAERR,
			"loop guard: @%s already got an automated reply on this post", c->username);
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (ig_store_int(st, err, &k,
			"SELECT count(*) FROM comment_actions WHERE account_id = ? AND media_id = ?"
			" AND action = 'reply' AND origin <> 'human' AND created_at > ?"
			" AND (state = 'done' OR state = 'pending' OR state = 'unknown')", "isi",
			c->account_id, c->media_id, now - caps[i].seconds) < 0)
			return err->code;
		if (k >= caps[i].most)
			return ig_err_set(err, IG_EX_DATAERR,
				"loop guard: %d automated replies on post %s %s already", caps[i].most,
				c->media_id, caps[i].in);
	}
	return 0;
}

/* Conversation of the comment's author (found or created, as ig-route does). */
static int conv_for(struct ig_store *st, const struct cm *c, int64_t *conv, struct ig_err *err)
{
	int64_t now = ig_time_now();
	int rc, n;

	if ((rc = ig_store_runf(st, err,
		"INSERT INTO conversations(tenant_id, account_id, participant_id, participant_name,"
		" created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
		" ON CONFLICT(account_id, participant_id) DO NOTHING",
		"iissii", c->tenant_id, c->account_id, c->from_id, c->username[0] ? c->username : NULL,
		now, now)))
		return rc;
	/* the integration record counts unique users as ig-route does: one per
	 * conversation created */
	if (ig_store_changes(st) && (rc = ig_store_runf(st, err,
		"UPDATE accounts SET user_count = user_count + 1 WHERE id = ?", "i", c->account_id)))
		return rc;
	n = ig_store_int(st, err, conv,
		"SELECT id FROM conversations WHERE account_id = ? AND participant_id = ?", "is",
		c->account_id, c->from_id);
	return n < 0 ? err->code : n == 0 ? ig_err_set(err, IG_EX_SOFTWARE, "conversation vanished") : 0;
}

static json_t *state_json(const struct cm *c, enum ig_cm_what w, int after)
{
	switch (w) {
	case IG_CM_HIDE: return json_pack("{s:b}", "hidden", after ? 1 : c->hidden);
	case IG_CM_UNHIDE: return json_pack("{s:b}", "hidden", after ? 0 : c->hidden);
	case IG_CM_DELETE: return json_pack("{s:b}", "deleted", after);
	case IG_CM_REPLY: return json_pack("{s:b}", "replied", after || c->replied_at);
	case IG_CM_DM: return json_pack("{s:s?}", "dm", after ? "sent" : c->dm_state[0] ? c->dm_state : NULL);
	}
	return json_object();
}

/* Fill o from a finished request. */
static void outcome_of(struct outcome *o, const struct ig_graph_req *r, enum ig_cm_what w)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->trace, sizeof(o->trace), "%s", r->resp.gerr.fbtrace_id[0]
		 ? r->resp.gerr.fbtrace_id : ig_graph_resp_trace(&r->resp));
	o->rc = r->rc;
	if (r->rc == 0) {
		const char *id = w == IG_CM_DM ? ig_json_str(r->resp.body, "message_id")
			       : ig_json_str(r->resp.body, "id");
		const json_t *ok = json_object_get(r->resp.body, "success");

		if ((w == IG_CM_REPLY || w == IG_CM_DM) && !id) {
			o->state = "unknown";
			o->rc = IG_EX_TEMPFAIL;
			snprintf(o->error, sizeof(o->error), "Meta answered without an id");
			return;
		}
		if (w != IG_CM_REPLY && w != IG_CM_DM && ok && !json_is_true(ok)) {
			o->state = "failed";
			o->rc = IG_EX_UNAVAILABLE;
			snprintf(o->error, sizeof(o->error), "Meta answered success false");
			return;
		}
		o->state = "done";
		if (id)
			snprintf(o->result_id, sizeof(o->result_id), "%s", id);
		return;
	}
	snprintf(o->error, sizeof(o->error), "%.690s", r->err.msg);
	if (ambiguous(r)) {
		o->state = "unknown";
		o->rc = IG_EX_TEMPFAIL;
	} else
		o->state = "failed";
}

/* One action on its way through ig_comments_act's steps. */
struct act {
	struct ig_ctx *ctx;
	struct ig_graph *g;
	const struct ig_cm_act *a;
	const char *w;               /* the action's name */
	struct cm c;
	char *text, *tok;            /* owned */
	char source[96];
	json_t *before, *after, *body;
	int64_t aid, outbox, conv;
	struct ig_graph_req req;
	const char *form[8];         /* the request's form (borrows c and text) */
	char path[160];
	struct outcome o;
};

static void act_release(struct act *x)
{
	json_decref(x->before);
	json_decref(x->after);
	json_decref(x->body);
	ig_wipe_free(x->tok);
	free(x->text);
	cm_release(&x->c);
}

/* Everything that refuses the action before anything is written: 65. */
static int act_checks(struct act *x, struct ig_err *err)
{
	int rc;

	if ((rc = refuse(&x->c, x->a, err)))
		return rc;
	if (x->a->automated && (rc = loop_guard(x->ctx->store, &x->c, x->a->what, err)))
		return rc;
	return open_action(x->ctx->store, &x->c, x->w, err);
}

/* The text of a template, filled with the account agent's persona. */
static int template_text(struct act *x, struct ig_err *err)
{
	struct persona p;
	struct ig_persona ip = { 0 };
	char *raw = NULL;
	int rc;

	if (persona_load(x->ctx->store, &x->c, &p, err))
		p.agent_id = 0, ig_err_clear(err);
	if ((rc = ig_template_get(x->ctx->store, x->c.tenant_id, p.agent_id, x->a->template_name, &raw,
				  err))) {
		persona_release(&p);
		return rc;
	}
	ip.name = p.name;
	ip.display_name = p.display;
	ip.business_name = p.business ? p.business : "";
	ip.location_name = p.loc_name ? p.loc_name : "";
	x->text = ig_kb_fill(raw, &ip);
	free(raw);
	persona_release(&p);
	snprintf(x->source, sizeof(x->source), "template:%s", x->a->template_name);
	return 0;
}

/* A reply's or private reply's text: composed, from a template or as given,
 * then checked against Meta's limits. */
static int act_text(struct act *x, struct ig_err *err)
{
	const struct ig_cm_act *a = x->a;
	int dm = a->what == IG_CM_DM, rc;

	if (a->ai) {
		if ((rc = compose_ai(x->ctx, x->g, &x->c, &x->text, x->source, sizeof(x->source), err)))
			return rc;
		if (dm)
			ig_kb_clip(x->text, IG_REPLY_MAX_TEXT);
	} else if (a->template_name) {
		if ((rc = template_text(x, err)))
			return rc;
	} else if (a->text)
		x->text = strdup(a->text);
	if (!x->text || !x->text[strspn(x->text, " \t\r\n")])
		return ig_err_set(err, IG_EX_DATAERR, "%s: the text is empty: a %s needs text", x->w,
				  dm ? "private reply" : "reply");
	if (dm && strlen(x->text) > IG_REPLY_MAX_TEXT)
		return ig_err_set(err, IG_EX_DATAERR, "dm: the text is %zu bytes: Instagram takes at"
				  " most %d (reference §3.2)", strlen(x->text), IG_REPLY_MAX_TEXT);
	if (!dm && strlen(x->text) > IG_CM_REPLY_MAX)
		return ig_err_set(err, IG_EX_DATAERR, "reply: the text is %zu bytes: at most %d",
				  strlen(x->text), IG_CM_REPLY_MAX);
	return 0;
}

/* A draft for review: nothing leaves until `approve`. */
static int act_draft(struct act *x, json_t **out, struct ig_err *err)
{
	struct ig_store *st = x->ctx->store;
	const struct ig_cm_act *a = x->a;
	int rc;

	if (!(rc = ig_store_begin(st, err))
	    && !(rc = action_insert(x->ctx, &x->c, x->w, a->origin ? a->origin : "ai", a->rule, "draft",
				    x->before, NULL, x->text, &x->aid, err))) {
		json_t *d = json_pack("{s:s,s:I}", "comment", x->c.comment_id, "action_id",
				      (json_int_t)x->aid);

		rc = ig_audit(x->ctx, x->c.tenant_id, "comments.draft", x->c.comment_id, "ok", d, err);
		json_decref(d);
	}
	if ((rc = ig_store_end(st, rc, err)))
		return rc;
	*out = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "comment", x->c.comment_id, "action", x->w,
			 "state", "draft", "action_id", (json_int_t)x->aid, "text", x->text,
			 "source", x->source);
	return 0;
}

/* A private reply's outbox row, 'sending' (in the open transaction): one per
 * comment, ever. */
static int dm_outbox(struct act *x, struct ig_err *err)
{
	struct ig_store *st = x->ctx->store;
	const struct cm *c = &x->c;
	char worker[128];
	int64_t k = 0;
	int rc;

	if (ig_store_int(st, err, &k, "SELECT count(*) FROM outbox WHERE account_id = ?"
			 " AND origin = 'private_reply' AND recipient = ? AND (state = 'pending'"
			 " OR state = 'sending' OR state = 'sent' OR state = 'unknown')", "is",
			 c->account_id, c->comment_id) < 0)
		return err->code;
	if (k)
		return ig_err_set(err, IG_EX_DATAERR, "dm: comment '%s' already has a private reply"
				  " in the outbox: Meta allows one per comment", c->comment_id);
	ig_outbox_worker_id(worker, sizeof(worker));
	if ((rc = conv_for(st, c, &x->conv, err))
	    || (rc = ig_outbox_insert(st, c->tenant_id, c->account_id, x->conv, "private_reply",
				      c->comment_id, x->text, NULL, "pending", x->ctx->actor.user_id,
				      worker, ig_time_now() + ig_outbox_lease_seconds(&x->ctx->cfg),
				      &x->outbox, err)))
		return rc;
	return ig_store_runf(st, err, "UPDATE outbox SET state = 'sending', attempts = 1"
			     " WHERE id = ?", "i", x->outbox);
}

/* The 'pending' action row, written before sending: a crash after sending
 * leaves evidence, never a resend.  The checks again inside BEGIN
 * IMMEDIATE: two runs racing on one comment cannot both send. */
static int act_pending(struct act *x, struct ig_err *err)
{
	struct ig_store *st = x->ctx->store;
	int rc;

	if ((rc = ig_store_begin(st, err)))
		return rc;
	rc = open_action(st, &x->c, x->w, err);
	if (!rc && x->a->what == IG_CM_DM)
		rc = dm_outbox(x, err);
	if (!rc)
		rc = action_insert(x->ctx, &x->c, x->w, x->a->origin, x->a->rule, "pending", x->before,
				   NULL, x->text, &x->aid, err);
	return ig_store_end(st, rc, err);
}

/* The action's request (reference §6, §3.4) into x->req. */
static void act_request(struct act *x)
{
	const struct what_def *d = &whats[x->a->what];
	const struct cm *c = &x->c;
	const char **f = x->form;

	memset(&x->req, 0, sizeof(x->req));
	x->req.host = host_of(c->flavour);
	x->req.versioned = 1;
	x->req.token = x->tok;
	x->req.method = d->method;
	x->req.idempotent = d->idempotent;
	x->req.path = x->path;
	if (d->moderation) {
		snprintf(x->path, sizeof(x->path), "/%s", c->comment_id);
		if (d->hide) {
			f[0] = "hide", f[1] = d->hide, f[2] = NULL;
			x->req.form = f;
		}
	} else if (x->a->what == IG_CM_DM) {
		/* §3.4: the Page node on graph.facebook.com, the IG node on graph.instagram.com */
		snprintf(x->path, sizeof(x->path), "/%s/messages",
			 !strcmp(c->flavour, "facebook") ? c->page : c->ext);
		x->body = json_pack("{s:{s:s},s:{s:s}}", "recipient", "comment_id", c->comment_id,
				    "message", "text", x->text);
		x->req.json = x->body;
	} else if (!strcmp(c->field, "mentions")) {
		/* §6: a mention is answered on the account's own node, naming the
		 * media (and the comment, for a comment mention) */
		snprintf(x->path, sizeof(x->path), "/%s/mentions", c->ext);
		f[0] = "media_id", f[1] = c->media_id, f[2] = "message", f[3] = x->text;
		f[4] = strcmp(c->comment_id, c->media_id) ? "comment_id" : NULL;
		f[5] = c->comment_id, f[6] = NULL;
		x->req.form = f;
	} else {
		snprintf(x->path, sizeof(x->path), "/%s/replies",
			 c->parent_id[0] ? c->parent_id : c->comment_id);
		f[0] = "message", f[1] = x->text, f[2] = NULL;
		x->req.form = f;
	}
}

/* Record what Meta answered; an invalid token puts the account aside. */
static int act_record(struct act *x, struct ig_err *err)
{
	struct ig_graph_req *req = &x->req;
	int rc;

	outcome_of(&x->o, req, x->a->what);
	/* a delete of a comment Meta no longer has is done (§9.1 code 100) */
	if (x->a->what == IG_CM_DELETE && !strcmp(x->o.state, "failed") && req->resp.gerr.code == 100
	    && req->resp.gerr.subcode == 33)
		x->o.state = "done", x->o.rc = 0;
	rc = record(x->ctx, &x->c, x->a->what, x->aid, &x->o, x->text, x->outbox, x->conv, x->after,
		    err);
	if (!rc && req->resp.gerr.code == 190)
		rc = needs_reauth(x->ctx->store, x->c.account_id, x->o.error, err);
	return rc;
}

/* The action's record for the caller; the outcome's exit code in err. */
static int act_result(struct act *x, json_t **out, struct ig_err *err)
{
	const struct outcome *o = &x->o;
	json_t *r;

	r = *out = json_pack("{s:s,s:s,s:s,s:s,s:I}", "comment", x->c.comment_id, "account",
			     x->c.ext, "action", x->w, "state", o->state, "action_id",
			     (json_int_t)x->aid);
	if (r && o->result_id[0])
		json_object_set_new(r, x->a->what == IG_CM_DM ? "mid" : "reply_id",
				    json_string(o->result_id));
	if (r && x->text)
		json_object_set_new(r, "text", json_string(x->text));
	if (r && x->source[0])
		json_object_set_new(r, "source", json_string(x->source));
	if (r && x->conv)
		json_object_set_new(r, "conversation", json_integer(x->conv));
	if (r && x->a->rule)
		json_object_set_new(r, "rule", json_string(x->a->rule));
	if (r && o->error[0])
		json_object_set_new(r, "error", json_string(o->error));
	if (!o->rc)
		return 0;
	if (!strcmp(o->state, "unknown"))
		ig_err_set(err, IG_EX_TEMPFAIL, "%s: comment '%s': Meta's answer is ambiguous (%s): the"
			   " %s is 'unknown' until 'ig-comments sync' reads it back; it is not sent"
			   " again", x->w, x->c.comment_id, o->error, x->w);
	else
		ig_err_set(err, o->rc, "%s: comment '%s': %s", x->w, x->c.comment_id, o->error);
	return o->rc;
}

/* Checked, written 'pending', sent once, recorded, answered. */
static int act_run(struct act *x, json_t **out, struct ig_err *err)
{
	const struct ig_cm_act *a = x->a;
	struct cm *c = &x->c;
	int rc;

	if ((rc = act_checks(x, err)))
		return rc;
	if ((a->what == IG_CM_HIDE && c->hidden) || (a->what == IG_CM_UNHIDE && !c->hidden)) {
		/* already so (as Meta last said): nothing to send */
		*out = json_pack("{s:s,s:s,s:s,s:s}", "comment", c->comment_id, "account", c->ext,
				 "action", x->w, "state", "unchanged");
		return 0;
	}
	if ((a->what == IG_CM_REPLY || a->what == IG_CM_DM) && (rc = act_text(x, err)))
		return rc;
	x->before = state_json(c, a->what, 0);
	x->after = state_json(c, a->what, 1);
	if (a->what == IG_CM_REPLY && a->draft)
		return act_draft(x, out, err);
	if (a->what == IG_CM_DM && !strcmp(c->flavour, "facebook") && !c->page[0])
		return ig_err_set(err, IG_EX_CONFIG, "dm: account %s has no Page id: Facebook Login"
				  " private replies go to /<PAGE_ID>/messages (reconnect it with"
				  " ig-connect)", c->ext);
	if ((rc = open_token(x->ctx, c->account_id, &x->tok, err)) || (rc = act_pending(x, err)))
		return rc;
	act_request(x);
	/* sent once: graph.c never resends a non-idempotent request that Meta may
	 * have acted on (graph.h); what it resends cannot have been acted on */
	ig_graph_call(x->g, &x->req);
	rc = act_record(x, err);
	if (!rc)
		rc = act_result(x, out, err);
	ig_graph_resp_release(&x->req.resp);
	return rc;
}

int ig_comments_act(struct ig_ctx *ctx, struct ig_graph *g, int64_t tid,
		    const struct ig_cm_act *a, json_t **out, struct ig_err *err)
{
	struct act x;
	char action[32];
	int rc;
	ERR_LOCAL(err);

	*out = NULL;
	memset(&x, 0, sizeof(x));
	x.ctx = ctx;
	x.g = g;
	x.a = a;
	x.w = whats[a->what].name;
	snprintf(action, sizeof(action), "comments.%s", x.w);
	if ((rc = ig_authz_require(ctx, tid, IG_MOD_COMMENTS, IG_WRITE, action, err)))
		return rc;
	if ((rc = cm_load(ctx->store, tid, a->comment, &x.c, err)))
		return rc;
	rc = act_run(&x, out, err);
	act_release(&x);
	return rc;
}

int ig_comments_decide(struct ig_ctx *ctx, struct ig_graph *g, int64_t tid, int64_t id,
		       int approve, const char *new_text, json_t **out, struct ig_err *err)
{
	struct ig_store *st = ctx->store;
	struct ig_stmt *s;
	char cid[64], *text;
	struct ig_cm_act a;
	int n, rc;
	ERR_LOCAL(err);

	*out = NULL;
	if ((rc = ig_authz_require(ctx, tid, IG_MOD_COMMENTS, IG_WRITE, "comments.approve", err)))
		return rc;
	s = ig_store_query(st, err, "SELECT comment_id, state, text, COALESCE(rule, '') FROM"
			   " comment_actions WHERE tenant_id = ? AND id = ?", "ii", tid, id);
	if (!s)
		return err->code;
	if ((n = ig_stmt_next(st, s, err)) <= 0)
		return n < 0 ? err->code : ig_err_set(err, IG_EX_DATAERR, "unknown action %lld",
						      (long long)id);
	if (strcmp(ig_col_text(s, 1), "draft")) {
		rc = ig_err_set(err, IG_EX_DATAERR, "action %lld is %s, not a draft", (long long)id,
				ig_col_text(s, 1));
		ig_stmt_reset(s);
		return rc;
	}
	snprintf(cid, sizeof(cid), "%s", ig_col_text(s, 0));
	text = strdup(new_text ? new_text : ig_col_text(s, 2));
	ig_stmt_reset(s);
	if (!text)
		return OOM(err);
	rc = ig_store_write(st, NULL, err, "UPDATE comment_actions SET state = ?, updated_at = ?"
			    " WHERE id = ? AND state = 'draft'", "sii", approve ? "done" : "rejected",
			    ig_time_now(), id);
	if (!rc && !approve) {
		*out = json_pack("{s:I,s:s,s:s}", "action_id", (json_int_t)id, "comment", cid,
				 "state", "rejected");
		rc = ig_audit(ctx, tid, "comments.reject", cid, "ok", *out, err);
	}
	if (!rc && approve) {
		/* the draft row is closed ('done' = reviewed); the send is its own action */
		memset(&a, 0, sizeof(a));
		a.what = IG_CM_REPLY;
		a.comment = cid;
		a.text = text;
		a.on_parent = 1;
		a.origin = "ai";
		rc = ig_comments_act(ctx, g, tid, &a, out, err);
	}
	free(text);
	return rc;
}

/* ------------------------------------------------------------ tag, assign */

static int norm_tags(const char *have, const char *const *tags, int n, int remove, char *out,
		     size_t outlen, struct ig_err *err)
{
	char buf[1024], *list[64], *save = NULL, *t;
	int k = 0, i, j;

	snprintf(buf, sizeof(buf), "%s", have);
	for (t = strtok_r(buf, " ", &save); t && k < 64; t = strtok_r(NULL, " ", &save))
		list[k++] = t;
	for (i = 0; i < n; i++) {
		const char *tag = tags[i];

		if (!*tag || strspn(tag, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(tag)
		    || strlen(tag) > 40)
			return ig_err_set(err, IG_EX_DATAERR,
				"bad tag '%.60s' (lower-case letters, digits, '-' and '_', at most 40)", tag);
		for (j = 0; j < k && strcmp(list[j], tag); j++)
			;
		if (remove && j < k)
			list[j] = list[--k];
		else if (!remove && j == k && k < 64)
			list[k++] = (char *)tag;
	}
	/* sorted, space-separated */
	for (i = 1; i < k; i++)
		for (j = i; j > 0 && strcmp(list[j - 1], list[j]) > 0; j--) {
			char *x = list[j];

			list[j] = list[j - 1];
			list[j - 1] = x;
		}
	out[0] = '\0';
	for (i = 0; i < k; i++) {
		size_t len = strlen(out);

		if (len + strlen(list[i]) + 2 > outlen)
			return ig_err_set(err, IG_EX_DATAERR, "too many tags on one comment");
		snprintf(out + len, outlen - len, "%s%s", i ? " " : "", list[i]);
	}
	return 0;
}

static int local_action(struct ig_ctx *ctx, int64_t tid, const char *comment, const char *action,
			const char *origin, const char *rule, const char *audit_name,
			int (*change)(struct ig_ctx *, struct cm *, void *, json_t **, json_t **,
				      struct ig_err *),
			void *arg, json_t **out, struct ig_err *err)
{
	struct ig_store *st = ctx->store;
	json_t *before = NULL, *after = NULL, *d;
	struct cm c;
	int64_t aid = 0;
	int rc;
	ERR_LOCAL(err);

	*out = NULL;
	if ((rc = ig_authz_require(ctx, tid, IG_MOD_COMMENTS, IG_WRITE, audit_name, err)))
		return rc;
	if ((rc = ig_store_begin(st, err)))
		return rc;
	if (!(rc = cm_load(st, tid, comment, &c, err))) {
		if (!(rc = change(ctx, &c, arg, &before, &after, err))
		    && !(rc = action_insert(ctx, &c, action, origin, rule, "done", before, after, NULL,
					    &aid, err))) {
			d = json_pack("{s:s,s:O,s:O,s:I}", "comment", c.comment_id, "before", before,
				      "after", after, "action_id", (json_int_t)aid);
			if (d && rule)
				json_object_set_new(d, "rule", json_string(rule));
			rc = ig_audit(ctx, tid, audit_name, c.comment_id, "ok", d, err);
			*out = d;
		}
		cm_release(&c);
	}
	json_decref(before);
	json_decref(after);
	if ((rc = ig_store_end(st, rc, err))) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

struct tag_arg { const char *const *tags; int n, remove; };

static int tag_change(struct ig_ctx *ctx, struct cm *c, void *arg, json_t **before,
		      json_t **after, struct ig_err *err)
{
	struct tag_arg *t = arg;
	char now[1024];
	int rc;

	if ((rc = norm_tags(c->tags, t->tags, t->n, t->remove, now, sizeof(now), err)))
		return rc;
	*before = json_pack("{s:s}", "tags", c->tags);
	*after = json_pack("{s:s}", "tags", now);
	return ig_store_runf(ctx->store, err, "UPDATE comments SET tags = ? WHERE id = ?", "si", now,
			     c->row);
}

int ig_comments_tag(struct ig_ctx *ctx, int64_t tid, const char *comment, const char *const *tags,
		    int n, int remove, const char *origin, const char *rule, json_t **out,
		    struct ig_err *err)
{
	struct tag_arg t = { tags, n, remove };

	return local_action(ctx, tid, comment, remove ? "untag" : "tag", origin, rule,
			    remove ? "comments.untag" : "comments.tag", tag_change, &t, out, err);
}

static int assign_change(struct ig_ctx *ctx, struct cm *c, void *arg, json_t **before,
			 json_t **after, struct ig_err *err)
{
	const char *who = arg;
	int64_t uid = 0, old = 0;
	char oldmail[256] = "";
	int n;

	if (ig_store_int(ctx->store, err, &old,
		"SELECT COALESCE(assignee_user_id, 0) FROM comments WHERE id = ?", "i", c->row) < 0)
		return err->code;
	if (old) {
		struct ig_stmt *s = ig_store_query(ctx->store, err, "SELECT email FROM users WHERE id = ?",
						   "i", old);

		if (s && ig_stmt_next(ctx->store, s, err) > 0) {
			snprintf(oldmail, sizeof(oldmail), "%s", ig_col_text(s, 0));
			ig_stmt_reset(s);
		}
	}
	if (strcmp(who, "-")) {
		n = ig_store_int(ctx->store, err, &uid,
			"SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id"
			" WHERE m.tenant_id = ? AND u.email = ?", "is", c->tenant_id, who);
		if (n < 0)
			return err->code;
		if (n == 0)
			return ig_err_set(err, IG_EX_DATAERR, "assign: '%.200s' is not a member of this tenant",
					  who);
	}
	*before = json_pack("{s:s?}", "assignee", oldmail[0] ? oldmail : NULL);
	*after = json_pack("{s:s?}", "assignee", uid ? who : NULL);
	return ig_store_runf(ctx->store, err, "UPDATE comments SET assignee_user_id = ? WHERE id = ?",
			     "Ii", uid, c->row);
}

int ig_comments_assign(struct ig_ctx *ctx, int64_t tid, const char *comment, const char *who,
		       const char *origin, const char *rule, json_t **out, struct ig_err *err)
{
	return local_action(ctx, tid, comment, "assign", origin, rule, "comments.assign",
			    assign_change, (void *)who, out, err);
}

/* ------------------------------------------------------------ list, log */

static const char SQL_LIST[] =
	"SELECT c.comment_id, a.external_id, c.media_id, c.parent_id, c.from_username, c.from_id,"
	" c.text, c.created_at, c.hidden, c.own, c.tags, u.email, c.replied_at, c.dm_state,"
	" c.read_at, c.source, c.field, c.id"
	" FROM comments c JOIN accounts a ON a.id = c.account_id"
	" LEFT JOIN users u ON u.id = c.assignee_user_id"
	" WHERE c.tenant_id = ?1 AND c.deleted = 0"
	" AND (?2 = 0 OR c.read_at IS NULL)"
	" AND (?3 = 0 OR (' ' || c.tags || ' ') LIKE '% spam %')"
	" AND (?4 = 0 OR c.replied_at IS NOT NULL OR c.dm_state IS NOT NULL)"
	" AND (?5 = 0 OR c.hidden = 1)"
	" AND (?6 IS NULL OR (?6 = '-' AND c.assignee_user_id IS NULL) OR u.email = ?6)"
	" AND (?7 IS NULL OR (' ' || c.tags || ' ') LIKE ('% ' || ?7 || ' %'))"
	" AND (?8 IS NULL OR c.media_id = ?8)"
	" AND (?9 IS NULL OR a.external_id = ?9 OR ('@' || a.username) = ?9)"
	" AND c.created_at >= ?10"
	" AND (?11 = 0 OR (c.replied_at IS NULL AND c.dm_state IS NULL AND c.own = 0"
	"   AND c.hidden = 0 AND c.created_at < ?11))"
	" AND (?12 = 0 OR (c.replied_at IS NULL AND c.dm_state IS NULL AND c.own = 0))"
	" ORDER BY c.created_at DESC, c.id DESC LIMIT ?13";

int ig_comments_list(struct ig_ctx *ctx, int64_t tid, const struct ig_cm_filter *f, json_t **out,
		     struct ig_err *err)
{
	struct ig_store *st = ctx->store;
	struct ig_stmt *s;
	json_t *rows = json_array(), *ids = json_array();
	char iso[32];
	size_t i;
	int n, rc = 0;
	ERR_LOCAL(err);

	*out = NULL;
	if (!rows || !ids) {
		json_decref(rows);
		json_decref(ids);
		return OOM(err);
	}
	if (f->mark_read && (rc = ig_authz_require(ctx, tid, IG_MOD_COMMENTS, IG_WRITE,
						   "comments.read", err)))
		goto fail;
	s = ig_store_query(st, err, SQL_LIST, "iiiiissssiiii", tid, (int64_t)f->unread,
			   (int64_t)f->spam, (int64_t)f->replied, (int64_t)f->hidden, f->assigned,
			   f->tag, f->media, f->account, f->since,
			   f->overdue > 0 ? ig_time_now() - f->overdue : (int64_t)0,
			   (int64_t)f->unreplied, f->limit > 0 ? (int64_t)f->limit : (int64_t)1 << 62);
	if (!s) {
		rc = err->code;
		goto fail;
	}
	while ((n = ig_stmt_next(st, s, err)) > 0) {
		json_t *r = json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:s?,s:s,s:b,s:b,s:s,s:s?,s:b,"
				      "s:s?,s:b,s:s,s:s}",
			"comment", ig_col_text(s, 0), "account", ig_col_text(s, 1),
			"media", ig_col_textn(s, 2), "parent", ig_col_textn(s, 3),
			"username", ig_col_textn(s, 4), "from_id", ig_col_textn(s, 5),
			"text", ig_col_textn(s, 6), "created", ig_time_iso(ig_col_int(s, 7), iso),
			"hidden", (int)ig_col_int(s, 8), "own", (int)ig_col_int(s, 9),
			"tags", ig_col_text(s, 10), "assignee", ig_col_textn(s, 11),
			"replied", !ig_col_null(s, 12), "dm", ig_col_textn(s, 13),
			"read", !ig_col_null(s, 14), "source", ig_col_text(s, 15),
			"field", ig_col_text(s, 16));

		if (!r || json_array_append_new(rows, r)
		    || json_array_append_new(ids, json_integer(ig_col_int(s, 17)))) {
			ig_stmt_reset(s);
			rc = OOM(err);
			goto fail;
		}
	}
	if (n < 0) {
		rc = err->code;
		goto fail;
	}
	if (f->mark_read && json_array_size(ids)) {
		int64_t now = ig_time_now();
		json_t *d;

		if ((rc = ig_store_begin(st, err)))
			goto fail;
		for (i = 0; !rc && i < json_array_size(ids); i++)
			rc = ig_store_runf(st, err, "UPDATE comments SET read_at = ? WHERE id = ?"
					   " AND read_at IS NULL", "ii", now,
					   (int64_t)json_integer_value(json_array_get(ids, i)));
		d = json_pack("{s:I}", "comments", (json_int_t)json_array_size(ids));
		if (!rc)
			rc = ig_audit(ctx, tid, "comments.read", "", "ok", d, err);
		json_decref(d);
		if ((rc = ig_store_end(st, rc, err)))
			goto fail;
		for (i = 0; i < json_array_size(rows); i++)
			json_object_set_new(json_array_get(rows, i), "read", json_true());
	}
	json_decref(ids);
	*out = rows;
	return 0;
fail:
	json_decref(rows);
	json_decref(ids);
	return rc;
}

int ig_comments_log(struct ig_ctx *ctx, int64_t tid, const char *comment, int64_t since,
		    long limit, json_t **out, struct ig_err *err)
{
	struct ig_store *st = ctx->store;
	struct ig_stmt *s;
	json_t *rows = json_array();
	char iso[32];
	int n;
	ERR_LOCAL(err);

	*out = NULL;
	if (!rows)
		return OOM(err);
	s = ig_store_query(st, err,
		"SELECT x.id, x.created_at, x.actor, x.action, x.comment_id, a.external_id, x.origin,"
		" x.rule, x.state, x.before, x.after, x.text, x.result_id, x.trace_id, x.error"
		" FROM comment_actions x JOIN accounts a ON a.id = x.account_id"
		" WHERE x.tenant_id = ? AND (? IS NULL OR x.comment_id = ?) AND x.created_at >= ?"
		" ORDER BY x.id LIMIT ?", "issii", tid, comment, comment, since,
		limit > 0 ? (int64_t)limit : (int64_t)1 << 62);
	if (!s) {
		json_decref(rows);
		return err->code;
	}
	while ((n = ig_stmt_next(st, s, err)) > 0) {
		json_t *b = ig_col_null(s, 9) ? json_null() : json_loads(ig_col_text(s, 9), 0, NULL);
		json_t *a = ig_col_null(s, 10) ? json_null() : json_loads(ig_col_text(s, 10), 0, NULL);
		json_t *r = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s?,s:s,s:o,s:o,s:s?,s:s?,s:s?,s:s?}",
			"id", (json_int_t)ig_col_int(s, 0), "at", ig_time_iso(ig_col_int(s, 1), iso),
			"actor", ig_col_text(s, 2), "action", ig_col_text(s, 3),
			"comment", ig_col_text(s, 4), "account", ig_col_text(s, 5),
			"origin", ig_col_text(s, 6), "rule", ig_col_textn(s, 7),
			"state", ig_col_text(s, 8), "before", b ? b : json_null(),
			"after", a ? a : json_null(), "text", ig_col_textn(s, 11),
			"result_id", ig_col_textn(s, 12), "trace_id", ig_col_textn(s, 13),
			"error", ig_col_textn(s, 14));

		if (!r || json_array_append_new(rows, r)) {
			ig_stmt_reset(s);
			json_decref(rows);
			return OOM(err);
		}
	}
	if (n < 0) {
		json_decref(rows);
		return err->code;
	}
	*out = rows;
	return 0;
}

/* ------------------------------------------------------------ sync */

#define FIELDS_C "id,text,timestamp,from,username,like_count,hidden,parent_id"
#define FIELDS_COMMENTS FIELDS_C ",replies{" FIELDS_C "}"

struct sacct {
	int64_t id, tenant_id;
	char ext[64], user[128], flavour[16];
};

struct task {
	int kind;            /* 0 comments of a media, 1 replies of a comment */
	char node[64], media[64];
	char *after;
};

struct syncer {
	struct ig_ctx *ctx;
	struct ig_graph *g;
	struct sacct a;
	char *tok;
	struct task *q;
	size_t nq, aq;
	long media, comments, fresh, requests;
	int64_t now;
	int reauth;          /* Meta said 190: the token is no longer valid */
};

static int push(struct syncer *y, int kind, const char *node, const char *media, const char *after)
{
	struct task *t;

	if (y->nq == y->aq) {
		size_t na = y->aq ? y->aq * 2 : 64;
		struct task *nq = realloc(y->q, na * sizeof(*nq));

		if (!nq)
			return -1;
		y->q = nq;
		y->aq = na;
	}
	t = &y->q[y->nq++];
	t->kind = kind;
	snprintf(t->node, sizeof(t->node), "%s", node);
	snprintf(t->media, sizeof(t->media), "%s", media);
	t->after = after ? strdup(after) : NULL;
	return 0;
}

/* Meta's "2026-11-22T10:00:00+0000". */
static int64_t meta_time(const char *s, int64_t dflt)
{
	char buf[40];
	size_t n;
	int64_t t;

	if (!s)
		return dflt;
	snprintf(buf, sizeof(buf), "%s", s);
	n = strlen(buf);
	if (n > 5 && (!strcmp(buf + n - 5, "+0000") || !strcmp(buf + n - 5, "-0000")))
		strcpy(buf + n - 5, "Z");
	return ig_time_parse(buf, &t) ? dflt : t;
}

/* Store one comment object; counts what is new. */
static int upsert(struct syncer *y, const json_t *o, const char *media, const char *parent,
		  struct ig_err *err)
{
	struct ig_store *st = y->ctx->store;
	const json_t *from = json_object_get(o, "from");
	const char *id = ig_json_str(o, "id"), *text = ig_json_str(o, "text");
	const char *user = ig_json_str(from, "username");
	char fid[32] = "", *fp;
	int64_t own, hidden = json_is_true(json_object_get(o, "hidden"));
	json_int_t likes = (json_int_t)ig_json_int(o, "like_count", -1);
	int rc;

	if (!id)
		return 0;
	fp = (char *)ig_json_id(from, "id", fid);
	if (!user)
		user = ig_json_str(o, "username");
	if (!parent)
		parent = ig_json_str(o, "parent_id");
	own = (fp && !strcmp(fp, y->a.ext)) || (user && y->a.user[0] && !strcasecmp(user, y->a.user));
	y->comments++;
	if ((rc = ig_store_runf(st, err,
		"INSERT INTO comments(tenant_id, account_id, comment_id, field, media_id, parent_id,"
		" from_id, from_username, text, own, hidden, like_count, created_at, received_at, source)"
		" VALUES (?, ?, ?, 'comments', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'sync')"
		" ON CONFLICT(account_id, comment_id) DO NOTHING",
		"iissssssiiIii", y->a.tenant_id, y->a.id, id, media, parent, fp, user, text, own,
		hidden, (int64_t)likes, meta_time(ig_json_str(o, "timestamp"), y->now), y->now)))
		return rc;
	if (ig_store_changes(st)) {
		y->fresh++;
		return 0;
	}
	return ig_store_runf(st, err,
		"UPDATE comments SET hidden = ?, text = COALESCE(?, text),"
		" like_count = COALESCE(?, like_count), from_username = COALESCE(from_username, ?),"
		" from_id = COALESCE(from_id, ?), media_id = COALESCE(media_id, ?),"
		" parent_id = COALESCE(parent_id, ?) WHERE account_id = ? AND comment_id = ?",
		"isIssssis", hidden, text, (int64_t)likes, user, fp, media, parent, y->a.id, id) ;
}

static int page_of(struct syncer *y, const struct task *t, const json_t *body, struct ig_err *err)
{
	const json_t *data = json_object_get(body, "data"), *v;
	const json_t *paging = json_object_get(body, "paging");
	size_t i;
	int rc;

	json_array_foreach(data, i, v) {
		const json_t *rep = json_object_get(v, "replies"), *r;
		size_t k;

		if ((rc = upsert(y, v, t->media, t->kind ? t->node : NULL, err)))
			return rc;
		json_array_foreach(json_object_get(rep, "data"), k, r)
			if ((rc = upsert(y, r, t->media, ig_json_str(v, "id"), err)))
				return rc;
		if (json_object_get(json_object_get(rep, "paging"), "next")
		    && push(y, 1, ig_json_str(v, "id"), t->media,
			    ig_json_str(json_object_get(json_object_get(rep, "paging"), "cursors"), "after")))
			return OOM(err);
	}
	if (json_object_get(paging, "next")
	    && push(y, t->kind, t->node, t->media,
		    ig_json_str(json_object_get(paging, "cursors"), "after")))
		return OOM(err);
	return 0;
}

/* A GET of the account's (borrows path, q and the token). */
static void get_init(struct ig_graph_req *req, const struct syncer *y, const char *path,
		     const char *const *q)
{
	memset(req, 0, sizeof(*req));
	req->host = host_of(y->a.flavour);
	req->method = "GET";
	req->path = path;
	req->versioned = 1;
	req->query = q;
	req->token = y->tok;
}

/* The media of the account, newest first, at most `recent`. */
static int list_media(struct syncer *y, int recent, struct ig_err *err)
{
	char path[96], lim[16], *after = NULL;
	int rc = 0, got = 0;

	snprintf(path, sizeof(path), "/%s/media", y->a.ext);
	snprintf(lim, sizeof(lim), "%d", recent < 100 ? recent : 100);
	while (got < recent) {
		const char *q[] = { "fields", "id,caption,media_product_type,permalink,timestamp,comments_count",
				    "limit", lim, after ? "after" : NULL, after, NULL };
		struct ig_graph_req req;
		const json_t *v, *paging;
		size_t i;

		get_init(&req, y, path, q);
		y->requests++;
		if ((rc = ig_graph_call(y->g, &req))) {
			y->reauth |= req.resp.gerr.code == 190;
			ig_err_set(err, rc, "%s", req.err.msg);
			ig_graph_resp_release(&req.resp);
			break;
		}
		if ((rc = ig_store_begin(y->ctx->store, err))) {
			ig_graph_resp_release(&req.resp);
			break;
		}
		json_array_foreach(json_object_get(req.resp.body, "data"), i, v) {
			const char *mid = ig_json_str(v, "id");

			if (!mid || got >= recent)
				continue;
			got++;
			y->media++;
			rc = ig_store_runf(y->ctx->store, err,
				"INSERT INTO comment_media(tenant_id, account_id, media_id, media_product_type,"
				" caption, permalink, posted_at, comments_count, synced_at)"
				" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(account_id, media_id) DO UPDATE"
				" SET caption = excluded.caption, comments_count = excluded.comments_count,"
				" synced_at = excluded.synced_at",
				"iisssIiIi", y->a.tenant_id, y->a.id, mid,
				ig_json_str(v, "media_product_type"), ig_json_str(v, "caption"),
				ig_json_str(v, "permalink"), meta_time(ig_json_str(v, "timestamp"), 0),
				(int64_t)ig_json_int(v, "comments_count", 0), y->now);
			if (rc || push(y, 0, mid, mid, NULL)) {
				rc = rc ? rc : OOM(err);
				break;
			}
		}
		if ((rc = ig_store_end(y->ctx->store, rc, err))) {
			ig_graph_resp_release(&req.resp);
			break;
		}
		paging = json_object_get(req.resp.body, "paging");
		free(after);
		after = NULL;
		if (json_object_get(paging, "next") && ig_json_str(json_object_get(paging, "cursors"), "after"))
			after = strdup(ig_json_str(json_object_get(paging, "cursors"), "after"));
		ig_graph_resp_release(&req.resp);
		if (!after)
			break;
	}
	free(after);
	return rc;
}

/* Comments and replies, `parallel` requests in flight, one transaction a round. */
static int crawl(struct syncer *y, int parallel, struct ig_err *err)
{
	struct ig_graph_req *reqs = calloc((size_t)parallel, sizeof(*reqs));
	struct task *cur = calloc((size_t)parallel, sizeof(*cur));
	char (*paths)[96] = calloc((size_t)parallel, sizeof(*paths));
	const char *(*qs)[9] = calloc((size_t)parallel, sizeof(*qs));
	int rc = 0, worst = 0;

	if (!reqs || !cur || !paths || !qs) {
		rc = OOM(err);
		goto out;
	}
	while (y->nq && !rc) {
		size_t n = y->nq < (size_t)parallel ? y->nq : (size_t)parallel, i;

		/* take from the end: depth first keeps the queue short */
		for (i = 0; i < n; i++) {
			cur[i] = y->q[--y->nq];
			snprintf(paths[i], sizeof(paths[i]), "/%s/%s", cur[i].node,
				 cur[i].kind ? "replies" : "comments");
			qs[i][0] = "fields";
			qs[i][1] = cur[i].kind ? FIELDS_C : FIELDS_COMMENTS;
			qs[i][2] = "limit";
			qs[i][3] = "50";
			qs[i][4] = cur[i].after ? "after" : NULL;
			qs[i][5] = cur[i].after;
			qs[i][6] = NULL;
			get_init(&reqs[i], y, paths[i], qs[i]);
		}
		y->requests += (long)n;
		ig_graph_run_many(y->g, reqs, n, parallel);
		if ((rc = ig_store_begin(y->ctx->store, err))) {
			for (i = 0; i < n; i++) {
				ig_graph_resp_release(&reqs[i].resp);
				free(cur[i].after);
			}
			break;
		}
		for (i = 0; i < n; i++) {
			if (reqs[i].rc) {
				y->reauth |= reqs[i].resp.gerr.code == 190;
				if (!worst || reqs[i].rc == IG_EX_NOPERM) {
					worst = reqs[i].rc;
					ig_err_set(err, reqs[i].rc, "%s", reqs[i].err.msg);
				}
			} else if (!rc)
				rc = page_of(y, &cur[i], reqs[i].resp.body, err);
			ig_graph_resp_release(&reqs[i].resp);
			free(cur[i].after);
			cur[i].after = NULL;
		}
		if ((rc = ig_store_end(y->ctx->store, rc, err)))
			break;
		if (worst == IG_EX_NOPERM)
			break;
	}
out:
	while (y->nq)
		free(y->q[--y->nq].after);
	free(reqs);
	free(cur);
	free(paths);
	free(qs);
	return rc ? rc : worst;
}

/* The read-back of a hide, unhide or delete: the comment's hidden flag, or
 * code 100 when Meta no longer has it.  o->state stays NULL when the
 * answer cannot tell. */
static int readback_moderation(struct syncer *y, const struct cm *c, enum ig_cm_what w,
			       struct outcome *o, struct ig_err *err)
{
	const char *q[] = { "fields", "id,hidden", NULL };
	struct ig_graph_req req;
	char path[96];
	int rc = 0;

	snprintf(path, sizeof(path), "/%s", c->comment_id);
	get_init(&req, y, path, q);
	y->requests++;
	ig_graph_call(y->g, &req);
	if (req.rc == 0) {
		int hidden = json_is_true(json_object_get(req.resp.body, "hidden"));

		if (w == IG_CM_DELETE)
			o->state = "failed", snprintf(o->error, sizeof(o->error),
				"read back: Meta still has the comment: the delete did not happen");
		else if (hidden == (w == IG_CM_HIDE))
			o->state = "done";
		else
			o->state = "failed", snprintf(o->error, sizeof(o->error),
				"read back: Meta shows it %s: the %s did not happen",
				hidden ? "hidden" : "shown", whats[w].name);
	} else if (w == IG_CM_DELETE && req.resp.gerr.code == 100)
		o->state = "done";
	else if (req.resp.gerr.code == 100) {
		/* gone at Meta: the hide can no longer matter; the board follows */
		o->state = "failed";
		snprintf(o->error, sizeof(o->error), "read back: Meta no longer has the comment");
		rc = ig_store_write(y->ctx->store, NULL, err, "UPDATE comments SET deleted = 1"
				    " WHERE id = ?", "i", c->row);
	}
	ig_graph_resp_release(&req.resp);
	return rc;
}

/* One page of replies: is ours (by author and text) among them? */
static int ours_in(const struct syncer *y, const json_t *page, const char *text,
		   struct outcome *o)
{
	const json_t *v;
	size_t k;

	json_array_foreach(json_object_get(page, "data"), k, v) {
		char fid[32];
		const char *f = ig_json_id(json_object_get(v, "from"), "id", fid);
		const char *u = ig_json_str(json_object_get(v, "from"), "username");
		const char *t = ig_json_str(v, "text");

		if (((f && !strcmp(f, y->a.ext)) || (u && !strcasecmp(u, y->a.user)))
		    && text && t && !strcmp(t, text)) {
			snprintf(o->result_id, sizeof(o->result_id), "%s", ig_json_str(v, "id"));
			return 1;
		}
	}
	return 0;
}

/* The read-back of a reply: the thread's replies come oldest first, so ours
 * is near the end; page on.  o->state stays NULL when a page cannot be read. */
static void readback_reply(struct syncer *y, const struct cm *c, const char *text,
			   struct outcome *o)
{
	char path[96], *after = NULL;
	int pages;

	snprintf(path, sizeof(path), "/%s/replies", c->parent_id[0] ? c->parent_id : c->comment_id);
	for (pages = 0; pages < 100; pages++) {
		const char *q[] = { "fields", FIELDS_C, "limit", "50", after ? "after" : NULL, after,
				    NULL };
		struct ig_graph_req req;
		const json_t *pg;
		int found;

		get_init(&req, y, path, q);
		y->requests++;
		if (ig_graph_call(y->g, &req)) {
			o->state = NULL;     /* cannot tell: stays unknown */
			ig_graph_resp_release(&req.resp);
			break;
		}
		found = ours_in(y, req.resp.body, text, o);
		o->state = found ? "done" : "failed";
		snprintf(o->error, sizeof(o->error), "%s",
			 found ? "" : "read back: no reply of ours with that text: it was not posted");
		pg = json_object_get(req.resp.body, "paging");
		free(after);
		after = NULL;
		if (!found && json_object_get(pg, "next")
		    && ig_json_str(json_object_get(pg, "cursors"), "after"))
			after = strdup(ig_json_str(json_object_get(pg, "cursors"), "after"));
		ig_graph_resp_release(&req.resp);
		if (!after)
			break;
	}
	free(after);
}

/* A private reply: Meta has no read-back of one; the echo ig-route stored
 * tells. */
static int readback_dm(struct syncer *y, const struct cm *c, const char *text, int64_t created,
		       struct outcome *o, struct ig_err *err)
{
	int64_t seen = 0;

	if (ig_store_int(y->ctx->store, err, &seen,
		"SELECT count(*) FROM messages m JOIN conversations v ON v.id = m.conversation_id"
		" WHERE v.account_id = ? AND v.participant_id = ? AND m.direction = 'out'"
		" AND m.text = ? AND m.sent_at >= ?", "issi", y->a.id, c->from_id, text,
		created - 60) < 0)
		return err->code;
	if (seen)
		o->state = "done";
	return 0;
}

/* Record a settled action, with its private reply's outbox row and
 * conversation. */
static int settle_record(struct syncer *y, const struct cm *c, enum ig_cm_what w, int64_t aid,
			 const struct outcome *o, const char *text, struct ig_err *err)
{
	struct ig_store *st = y->ctx->store;
	json_t *after = state_json(c, w, 1);
	int64_t ob = 0, conv = 0;
	int rc;

	if (w == IG_CM_DM) {
		ig_store_int(st, err, &ob, "SELECT id FROM outbox WHERE account_id = ? AND"
			     " origin = 'private_reply' AND recipient = ? ORDER BY id DESC LIMIT 1",
			     "is", y->a.id, c->comment_id);
		ig_store_int(st, err, &conv, "SELECT id FROM conversations WHERE account_id = ?"
			     " AND participant_id = ?", "is", y->a.id, c->from_id);
	}
	rc = record(y->ctx, c, w, aid, o, text, ob, conv, after, err);
	json_decref(after);
	return rc;
}

/* One open action ({id, action, text, cid, created_at}): read back, and
 * recorded when Meta's state tells. */
static int settle_one(struct syncer *y, const json_t *x, long *settled, long *unsettled,
		      struct ig_err *err)
{
	const char *what = ig_json_str(x, "action"), *text = ig_json_str(x, "text");
	struct outcome o;
	struct cm c;
	enum ig_cm_what w;
	int rc = 0;

	for (w = IG_CM_REPLY; w <= IG_CM_DM && strcmp(whats[w].name, what); w++)
		;
	if (w > IG_CM_DM)
		return 0;
	if ((rc = cm_load(y->ctx->store, y->a.tenant_id, ig_json_str(x, "cid"), &c, err)))
		return rc;
	memset(&o, 0, sizeof(o));
	if (whats[w].moderation)
		rc = readback_moderation(y, &c, w, &o, err);
	else if (w == IG_CM_REPLY)
		readback_reply(y, &c, text, &o);
	else
		rc = readback_dm(y, &c, text, ig_json_int(x, "created_at", 0), &o, err);
	if (!rc && o.state) {
		rc = settle_record(y, &c, w, ig_json_int(x, "id", 0), &o, text, err);
		if (!rc)
			(*settled)++;
	} else if (!rc)
		(*unsettled)++;
	cm_release(&c);
	return rc;
}

/* Settle the account's unknown (and long-pending) actions by reading back. */
static int settle(struct syncer *y, long *settled, long *unsettled, struct ig_err *err)
{
	json_t *open;
	size_t i;
	int rc = 0;

	*settled = *unsettled = 0;
	if (ig_store_json(y->ctx->store, err, &open,
		"SELECT x.id, x.action, x.text, c.comment_id AS cid, x.created_at"
		" FROM comment_actions x JOIN comments c ON c.id = x.comment_row"
		" WHERE x.account_id = ? AND (x.state = 'unknown' OR (x.state = 'pending'"
		" AND x.created_at < ?)) ORDER BY x.id", "ii", y->a.id,
		y->now - ig_outbox_lease_seconds(&y->ctx->cfg)))
		return err->code;
	for (i = 0; i < json_array_size(open) && !rc; i++)
		rc = settle_one(y, json_array_get(open, i), settled, unsettled, err);
	json_decref(open);
	return rc;
}

int ig_comments_worse(int worst, int rc)
{
	static const int order[] = { IG_EX_NOPERM, IG_EX_TEMPFAIL, IG_EX_UNAVAILABLE };
	size_t i;

	if (!worst)
		return rc;
	for (i = 0; i < 3; i++) {
		if (worst == order[i])
			return worst;
		if (rc == order[i])
			return rc;
	}
	return worst;
}

int ig_comments_sync(struct ig_ctx *ctx, struct ig_graph *g, int64_t tid, const char *account,
		     int recent, int parallel, ig_cm_emit_fn *emit, void *arg, struct ig_err *err)
{
	struct ig_store *st = ctx->store;
	json_t *accs;
	size_t i;
	int rc, worst = 0, found = 0;
	ERR_LOCAL(err);

	if ((rc = ig_authz_require(ctx, tid, IG_MOD_COMMENTS, IG_WRITE, "comments.sync", err)))
		return rc;
	if (ig_store_json(st, err, &accs,
		"SELECT id, tenant_id, external_id, COALESCE(username, '') AS username, flavour"
		" FROM accounts WHERE (? = 0 OR tenant_id = ?) AND channel = 'instagram'"
		" AND status <> 'disconnected'"
		" AND (? IS NULL OR external_id = ? OR ('@' || username) = ?) ORDER BY id",
		"iisss", tid, tid, account, account, account))
		return err->code;
	for (i = 0; i < json_array_size(accs); i++) {
		const json_t *r = json_array_get(accs, i);
		struct syncer y;
		struct ig_err e = { 0 };
		char slug[64];
		long settled = 0, unsettled = 0;
		json_t *rec;
		int arc;

		found++;
		memset(&y, 0, sizeof(y));
		y.ctx = ctx;
		y.g = g;
		y.now = ig_time_now();
		y.a.id = ig_json_int(r, "id", 0);
		y.a.tenant_id = ig_json_int(r, "tenant_id", 0);
		snprintf(y.a.ext, sizeof(y.a.ext), "%s", ig_json_str(r, "external_id"));
		snprintf(y.a.user, sizeof(y.a.user), "%s", ig_json_str(r, "username"));
		snprintf(y.a.flavour, sizeof(y.a.flavour), "%s", ig_json_str(r, "flavour"));
		arc = open_token(ctx, y.a.id, &y.tok, &e);
		if (!arc)
			arc = list_media(&y, recent, &e);
		if (!arc)
			arc = crawl(&y, parallel, &e);
		if (!arc || arc == IG_EX_UNAVAILABLE || arc == IG_EX_TEMPFAIL) {
			struct ig_err e2 = { 0 };
			int src = y.tok ? settle(&y, &settled, &unsettled, &e2) : 0;

			if (src && !arc) {
				arc = src;
				e = e2;
			}
		}
		free(y.q);
		ig_wipe_free(y.tok);
		if (y.reauth) {
			struct ig_err e3 = { 0 };

			(void)needs_reauth(st, y.a.id, e.msg, &e3);
		}
		rec = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "tenant",
				ig_ctx_tenant_slug(ctx, y.a.tenant_id, slug), "account", y.a.ext,
				"username", y.a.user, "media", (int)y.media, "comments", (int)y.comments,
				"new", (int)y.fresh, "gap", (int)y.fresh, "settled", (int)settled,
				"unsettled", (int)unsettled, "requests", (int)y.requests);
		if (rec && arc)
			json_object_set_new(rec, "error", json_string(e.msg));
		if (!arc) {
			json_t *d = json_pack("{s:i,s:i,s:i}", "media", (int)y.media, "new", (int)y.fresh,
					      "settled", (int)settled);

			ig_audit(ctx, y.a.tenant_id, "comments.sync", y.a.ext, "ok", d, NULL);
			json_decref(d);
		}
		if (emit && rec)
			emit(arg, rec);
		json_decref(rec);
		if (arc) {
			if (arc == IG_EX_SOFTWARE || arc == IG_EX_IOERR) {
				json_decref(accs);
				*err = e;
				return arc;
			}
			if (worst != ig_comments_worse(worst, arc))
				*err = e;
			worst = ig_comments_worse(worst, arc);
		}
	}
	json_decref(accs);
	if (!found && account)
		return ig_err_set(err, IG_EX_DATAERR, "unknown account '%.64s'", account);
	return worst;
}

