/*
 * reply.c — decision rules, claiming, the two engines and the human side of
 * a conversation.  The rules and their order are documented in reply.h and
 * ig-reply(1); outbox.c does the sending.
 */
#include <math.h>   /* isfinite: a macro, no libm needed */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "buf.h"
#include "igtime.h"
#include "jsonio.h"
#include "kb.h"
#include "reply.h"

/* ---------------------------------------------------------------- setup */

static int setting_num(const struct ig_config *cfg, const char *name, double min, double max,
		       double *out, struct ig_err *err)
{
	const char *v = ig_config_get(cfg, name);
	char *end;
	double d;

	if (!v || !*v)
		return ig_err_set(err, IG_EX_CONFIG, "setting %s is empty", name);
	d = strtod(v, &end);
	if (*end || end == v || !isfinite(d) || d < min || d > max)
		return ig_err_set(err, IG_EX_CONFIG, "setting %s must be a number from %g to %g, not '%s'",
				  name, min, max, v);
	*out = d;
	return 0;
}

int ig_reply_init(struct ig_reply *r, struct ig_ctx *ctx, struct ig_graph *g,
		  const struct ig_reply_opts *o, struct ig_err *err)
{
	double d;
	int rc;

	memset(r, 0, sizeof(*r));
	r->ctx = ctx;
	r->graph = g;
	r->o = *o;
	if (r->o.parallel <= 0)
		r->o.parallel = IG_OUTBOX_PARALLEL;
	if (r->o.history <= 0)
		r->o.history = 10;
	ig_outbox_worker_id(r->worker, sizeof(r->worker));
	if ((rc = setting_num(&ctx->cfg, "reply_max_per_hour", 0, 1e6, &d, err)))
		return rc;
	r->max_per_hour = (long)d;
	if ((rc = setting_num(&ctx->cfg, "kb_min_confidence", 0, 1, &d, err)))
		return rc;
	r->min_confidence = d;
	if ((rc = setting_num(&ctx->cfg, "llm_daily_token_cap", 0, 1e15, &d, err)))
		return rc;
	r->token_cap = (long long)d;
	return 0;
}

void ig_reply_release(struct ig_reply *r)
{
	ig_wipe_free(r->llm_key);
	r->llm_key = NULL;
	json_decref(r->problems);
	r->problems = NULL;
}

/* The most actionable first (reply.h): what needs a human outranks what the
 * next run fixes by itself. */
static int severity(int code)
{
	switch (code) {
	case 0:
		return 0;
	case IG_EX_NOPERM:
		return 6;
	case IG_EX_CONFIG:
		return 5;
	case IG_EX_UNAVAILABLE:
		return 4;
	case IG_EX_DATAERR:
		return 3;
	case IG_EX_TEMPFAIL:
		return 2;
	default:
		return 1;
	}
}

void ig_reply_note(struct ig_reply *r, int code)
{
	if (severity(code) > severity(r->worst))
		r->worst = code;
}

void ig_reply_problem(struct ig_reply *r, int code, const char *tenant, const char *account,
		      const char *reason)
{
	size_t i;
	json_t *p;

	ig_reply_note(r, code);
	tenant = tenant ? tenant : "";
	account = account ? account : "";
	reason = reason && *reason ? reason : "failed";
	if (!r->problems && !(r->problems = json_array()))
		return;
	json_array_foreach(r->problems, i, p) {
		if (ig_json_int(p, "code", 0) == code && !strcmp(ig_json_str(p, "tenant"), tenant)
		    && !strcmp(ig_json_str(p, "account"), account)
		    && !strcmp(ig_json_str(p, "reason"), reason)) {
			json_object_set_new(p, "conversations",
				json_integer(ig_json_int(p, "conversations", 0) + 1));
			return;
		}
	}
	json_array_append_new(r->problems, json_pack("{s:s,s:s,s:i,s:s,s:i}", "tenant", tenant,
		"account", account, "code", code, "reason", reason, "conversations", 1));
}

static void emit(struct ig_reply *r, json_t *rec)
{
	if (rec && r->emit)
		r->emit(r->cookie, rec);
	json_decref(rec);
}

/* ---------------------------------------------------------------- jobs */

enum job_state { J_SKIP, J_QUEUED, J_GENERATE, J_DONE };

struct job {
	int64_t conv, tenant_id, account_id, agent_id, outbox_id;
	char tenant[64], account[64], agent[64], participant[128];
	char engine[8], model[128];
	char *display_name, *personality, *instructions, *business, *language;
	char *loc_name, *loc_ctx;
	int64_t last_inbound, last_human;
	char *burst;                  /* the waiting texts, one per line */
	int nmsg;
	char *text;
	double confidence;
	char source[96];
	json_t *llm_body;             /* openai request */
	enum job_state state;
};

static void job_release(struct job *j)
{
	free(j->display_name);
	free(j->personality);
	free(j->instructions);
	free(j->business);
	free(j->language);
	free(j->loc_name);
	free(j->loc_ctx);
	free(j->burst);
	free(j->text);
	json_decref(j->llm_body);
	memset(j, 0, sizeof(*j));
}

static void persona_of(const struct job *j, struct ig_persona *p)
{
	p->name = j->agent;
	p->display_name = j->display_name;
	p->personality = j->personality;
	p->instructions = j->instructions;
	p->business_name = j->business;
	p->language = j->language;
	p->location_name = j->loc_name;
	p->location_context = j->loc_ctx;
}

static double two_places(double d)
{
	return (double)(long long)(d * 100 + 0.5) / 100;
}

static json_t *job_head(const struct job *j)
{
	return json_pack("{s:I,s:s,s:s,s:s?}", "conversation", (json_int_t)j->conv,
			 "tenant", j->tenant, "account", j->account,
			 "agent", j->agent[0] ? j->agent : NULL);
}

/* A skip record for --explain (new reference, or NULL when not explaining). */
static json_t *skip_rec(struct ig_reply *r, const struct job *j, const char *why,
			const char *detail)
{
	json_t *o;

	r->skipped++;
	if (!r->o.explain)
		return NULL;
	o = job_head(j);
	if (o) {
		json_object_set_new(o, "skip", json_string(why));
		if (detail && *detail)
			json_object_set_new(o, "detail", json_string(detail));
	}
	return o;
}

static const char SQL_JOB[] =
	"SELECT c.tenant_id, t.slug, c.account_id, a.external_id, a.status,"
	" a.access_token IS NOT NULL, COALESCE(l.name, ''), COALESCE(l.context, ''),"
	" c.participant_id, c.ai_state, COALESCE(c.ai_reason, ''), c.thread_owner,"
	" COALESCE(c.last_inbound_at, 0), COALESCE(c.last_human_at, 0),"
	" COALESCE(g.id, 0), COALESCE(g.name, ''), COALESCE(g.display_name, ''),"
	" COALESCE(g.personality, ''), COALESCE(g.instructions, ''), COALESCE(g.business_name, ''),"
	" COALESCE(g.language, 'en'), COALESCE(g.engine, 'kb'), COALESCE(g.model, ''),"
	" COALESCE(g.debounce_seconds, 0), COALESCE(g.active, 0)"
	" FROM conversations c JOIN tenants t ON t.id = c.tenant_id"
	" JOIN accounts a ON a.id = c.account_id"
	" LEFT JOIN locations l ON l.id = a.location_id AND l.tenant_id = c.tenant_id"
	" LEFT JOIN agents g ON g.tenant_id = c.tenant_id AND g.id = COALESCE(a.agent_id,"
	"   (SELECT d.id FROM agents d WHERE d.tenant_id = c.tenant_id AND d.is_default = 1))"
	" WHERE c.id = ?";

static const char SQL_BURST[] =
	"SELECT id, COALESCE(text, ''), sent_at FROM messages"
	" WHERE conversation_id = ? AND tenant_id = ? AND direction = 'in' AND replied_at IS NULL"
	" ORDER BY sent_at, id";

static const char SQL_MARK_BURST[] =
	"UPDATE messages SET replied_at = ?, reply_outbox_id = ?"
	" WHERE conversation_id = ? AND tenant_id = ? AND direction = 'in' AND replied_at IS NULL";

static char *sdup(const char *s)
{
	return strdup(s ? s : "");
}

/* Fill j from the store (j->conv set).  Returns 1 found, 0 not, or < 0 on
 * a store error (err set). */
static int job_load(struct ig_store *st, struct job *j, int *has_token, char *acct_status,
		    char *ai_state, char *ai_reason, int *thread_owned, int64_t *debounce,
		    int *agent_active, struct ig_err *err)
{
	struct ig_stmt *s = ig_store_query(st, err, SQL_JOB, "i", j->conv);
	int rc;

	if (!s || (rc = ig_stmt_next(st, s, err)) < 0) {
		ig_err_prefix(err, "cannot read conversation");
		return -1;
	}
	if (rc == 0)
		return 0;
	j->tenant_id = ig_col_int(s, 0);
	snprintf(j->tenant, sizeof(j->tenant), "%s", ig_col_text(s, 1));
	j->account_id = ig_col_int(s, 2);
	snprintf(j->account, sizeof(j->account), "%s", ig_col_text(s, 3));
	snprintf(acct_status, 16, "%s", ig_col_text(s, 4));
	*has_token = (int)ig_col_int(s, 5);
	j->loc_name = sdup(ig_col_text(s, 6));
	j->loc_ctx = sdup(ig_col_text(s, 7));
	snprintf(j->participant, sizeof(j->participant), "%s", ig_col_text(s, 8));
	snprintf(ai_state, 16, "%s", ig_col_text(s, 9));
	snprintf(ai_reason, 256, "%s", ig_col_text(s, 10));
	*thread_owned = !ig_col_null(s, 11) && *ig_col_text(s, 11);
	j->last_inbound = ig_col_int(s, 12);
	j->last_human = ig_col_int(s, 13);
	j->agent_id = ig_col_int(s, 14);
	snprintf(j->agent, sizeof(j->agent), "%s", ig_col_text(s, 15));
	j->display_name = sdup(ig_col_text(s, 16));
	j->personality = sdup(ig_col_text(s, 17));
	j->instructions = sdup(ig_col_text(s, 18));
	j->business = sdup(ig_col_text(s, 19));
	j->language = sdup(ig_col_text(s, 20));
	snprintf(j->engine, sizeof(j->engine), "%s", ig_col_text(s, 21));
	snprintf(j->model, sizeof(j->model), "%s", ig_col_text(s, 22));
	*debounce = ig_col_int(s, 23);
	*agent_active = (int)ig_col_int(s, 24);
	ig_stmt_reset(s);
	if (!j->loc_name || !j->loc_ctx || !j->display_name || !j->personality || !j->instructions
	    || !j->business || !j->language) {
		ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
		return -1;
	}
	return 1;
}

/* Read the burst: its texts joined by newlines, how many, the newest time. */
static int job_burst(struct ig_store *st, struct job *j, int64_t *newest, struct ig_err *err)
{
	struct ig_stmt *s = ig_store_query(st, err, SQL_BURST, "ii", j->conv, j->tenant_id);
	struct ig_buf b = IG_BUF_INIT(1 << 20);
	int rc = -1;

	j->nmsg = 0;
	*newest = 0;
	while (s && (rc = ig_stmt_next(st, s, err)) == 1) {
		const char *t = ig_col_text(s, 1);

		if (*t && b.len)
			ig_buf_adds(&b, "\n");
		if (*t)
			ig_buf_adds(&b, t);
		if (ig_col_int(s, 2) > *newest)
			*newest = ig_col_int(s, 2);
		j->nmsg++;
	}
	if (rc < 0) {
		ig_buf_release(&b);
		return ig_err_prefix(err, "cannot read messages");
	}
	free(j->burst);
	j->burst = ig_buf_detach(&b, NULL);
	if (!j->burst)
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	return 0;
}

static int mark_burst(struct ig_store *st, const struct job *j, int64_t outbox, int64_t now,
		      struct ig_err *err)
{
	return ig_store_runf(st, err, SQL_MARK_BURST, "iIii", now, outbox, j->conv, j->tenant_id);
}

/* Open an escalation unless one is open; the conversation goes 'pending'
 * (waiting for a human) while its AI stays active.  *id: the open one. */
static int escalate(struct ig_reply *r, const struct job *j, const char *reason, int64_t now,
		    int64_t *id, struct ig_err *err)
{
	struct ig_store *st = r->ctx->store;
	char target[48];
	json_t *detail;
	int rc, fresh;

	if ((rc = ig_store_runf(st, err,
		"INSERT INTO escalations (tenant_id, conversation_id, reason, created_at)"
		" SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM escalations"
		"  WHERE conversation_id = ?2 AND status = 'open')",
		"iisi", j->tenant_id, j->conv, reason, now)))
		return rc;
	fresh = ig_store_changes(st) > 0;
	*id = 0;
	if (ig_store_int(st, err, id,
		"SELECT id FROM escalations WHERE conversation_id = ? AND status = 'open'"
		" ORDER BY id DESC LIMIT 1", "i", j->conv) < 0)
		return err ? err->code : IG_EX_SOFTWARE;
	if (!fresh)
		return 0;
	r->escalated++;
	if ((rc = ig_store_runf(st, err,
		"UPDATE conversations SET status = 'pending', updated_at = ? WHERE id = ? AND status = 'open'",
		"ii", now, j->conv)))
		return rc;
	snprintf(target, sizeof(target), "conversation:%lld", (long long)j->conv);
	detail = json_pack("{s:s,s:I}", "reason", reason, "escalation", (json_int_t)*id);
	rc = ig_audit(r->ctx, j->tenant_id, "reply.escalate", target, "ok", detail, err);
	json_decref(detail);
	return rc;
}

static json_t *escalation_rec(const struct job *j, const char *reason, int64_t id,
			      const char *detail)
{
	json_t *o = job_head(j);

	if (o) {
		json_object_set_new(o, "state", json_string("escalated"));
		json_object_set_new(o, "reason", json_string(reason));
		json_object_set_new(o, "escalation", json_integer(id));
		if (detail)
			json_object_set_new(o, "detail", json_string(detail));
	}
	return o;
}

static void utc_day(int64_t t, char day[16])
{
	char iso[32];

	ig_time_iso(t, iso);
	snprintf(day, 16, "%.10s", iso);
}

/* The openai request for j: system prompt from the persona, the location and
 * the best passages; then the last messages as user/assistant turns. */
static int build_llm(struct ig_reply *r, struct job *j, struct ig_err *err)
{
	struct ig_store *st = r->ctx->store;
	struct ig_kb_result kr;
	struct ig_buf sys = IG_BUF_INIT(64 * 1024);
	const char *who = *j->display_name ? j->display_name : j->agent;
	const char *model = *j->model ? j->model : ig_config_get(&r->ctx->cfg, "llm_model");
	json_t *msgs, *turns;
	struct ig_stmt *s;
	int rc, i;

	if ((rc = ig_kb_search(st, j->tenant_id, j->agent_id, j->burst, NULL, NULL, 3, &kr, err)))
		return rc;
	ig_buf_addf(&sys, "You are %s, answering Instagram direct messages for %s.\n", who,
		    *j->business ? j->business : "this business");
	/* The simulator's fake LLM (and a reviewer) reads the voice from here. */
	ig_buf_addf(&sys, "Voice: %s (%s)\n", who, *j->personality ? j->personality : "neutral");
	if (*j->business)
		ig_buf_addf(&sys, "Business: %s\n", j->business);
	ig_buf_addf(&sys, "Language: reply in the language with code '%s'.\n", j->language);
	if (*j->instructions)
		ig_buf_addf(&sys, "Instructions: %s\n", j->instructions);
	if (*j->loc_ctx)
		ig_buf_addf(&sys, "Location: %s: %s\n", j->loc_name, j->loc_ctx);
	if (kr.n) {
		ig_buf_adds(&sys, "Knowledge (answer from it; do not invent facts):\n");
		for (i = 0; i < kr.n; i++)
			ig_buf_addf(&sys, "- %s: %s\n", kr.hits[i].title, kr.hits[i].body);
	}
	ig_buf_addf(&sys, "Keep the reply under 900 characters. If the answer is not known, say"
		    " that a colleague will follow up.");
	ig_kb_result_release(&kr);
	msgs = json_array();
	turns = json_array();
	json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content",
					      sys.data ? sys.data : ""));
	ig_buf_release(&sys);
	s = ig_store_query(st, err,
		"SELECT who, text FROM ("
		" SELECT CASE WHEN m.direction = 'in' THEN 'user' ELSE 'assistant' END AS who,"
		"  m.text AS text, m.sent_at AS at, m.id AS k FROM messages m"
		"  WHERE m.conversation_id = ?1 AND m.tenant_id = ?2 AND m.deleted = 0"
		"  AND m.text IS NOT NULL AND m.text <> ''"
		" UNION ALL"
		" SELECT 'assistant', o.text, COALESCE(o.sent_at, o.created_at), o.id FROM outbox o"
		"  WHERE o.conversation_id = ?1 AND o.tenant_id = ?2 AND o.state = 'sent'"
		"  AND o.text IS NOT NULL AND (o.mid IS NULL OR NOT EXISTS (SELECT 1 FROM messages x"
		"   WHERE x.account_id = o.account_id AND x.mid = o.mid))"
		") ORDER BY at DESC, k DESC LIMIT ?3", "iii", j->conv, j->tenant_id,
		(int64_t)(r->o.history > j->nmsg ? r->o.history : j->nmsg));
	rc = -1;
	while (s && (rc = ig_stmt_next(st, s, err)) == 1)
		json_array_insert_new(turns, 0, json_pack("{s:s,s:s}", "role", ig_col_text(s, 0),
							  "content", ig_col_text(s, 1)));
	if (rc < 0) {
		json_decref(msgs);
		json_decref(turns);
		return ig_err_prefix(err, "cannot read the conversation history");
	}
	if (json_array_size(turns) == 0)   /* attachments only: still a question */
		json_array_append_new(turns, json_pack("{s:s,s:s}", "role", "user", "content",
						       "(the customer sent an attachment)"));
	json_array_extend(msgs, turns);
	json_decref(turns);
	json_decref(j->llm_body);
	j->llm_body = json_pack("{s:s,s:o,s:f}", "model", model ? model : "", "messages", msgs,
				"temperature", 0.2);
	if (!j->llm_body)
		return ig_err_set(err, IG_EX_SOFTWARE, "cannot build the LLM request");
	return 0;
}

/*
 * Decide one conversation inside the claim transaction.  On a skip or an
 * escalation a record may be appended to recs.  0 or a store error.
 */
/*
 * decide(): the rules of reply.h, in their order, one named guard each.  A
 * guard returns PASS (the next rule applies), STOP (the conversation is
 * skipped or handed over; its record is in recs) or an exit code (>= 64)
 * when the store failed.
 */
#define PASS 0
#define STOP 1

struct gate {
	struct ig_reply *r;
	struct job *j;
	json_t *recs;
	int64_t now;
	char acct_status[16], ai_state[16], ai_reason[256], detail[160];
	int has_token, thread_owned, agent_active;
	int64_t debounce, newest, inbound, esc;
};

static int skip(struct gate *g, const char *why, const char *detail)
{
	json_array_append_new(g->recs, skip_rec(g->r, g->j, why, detail));
	return STOP;
}

/* no_conversation (or another tenant's), outside --account */
static int gate_scope(struct gate *g, int found)
{
	struct ig_reply *r = g->r;

	if (!found || (r->o.tenant_id && g->j->tenant_id != r->o.tenant_id)) {
		/* another tenant's conversation is no conversation of this run */
		r->skipped++;
		if (r->o.explain)
			json_array_append_new(g->recs, json_pack("{s:I,s:s}", "conversation",
				(json_int_t)g->j->conv, "skip", "no_conversation"));
		return STOP;
	}
	if (r->o.account_id && g->j->account_id != r->o.account_id)
		return skip(g, "other_tenant", "outside --tenant/--account");
	return PASS;
}

/* no_unanswered, answered_by_human */
static int gate_burst(struct gate *g, struct ig_err *err)
{
	struct ig_store *st = g->r->ctx->store;
	struct job *j = g->j;
	int rc;

	if ((rc = job_burst(st, j, &g->newest, err)))
		return rc;
	if (j->nmsg == 0)
		return skip(g, "no_unanswered", NULL);
	/* A human replied after these messages (ig-reply send, or from the
	 * Instagram app): they are answered; an AI reply would talk over them. */
	if (j->last_human && g->newest <= j->last_human) {
		if (!g->r->o.dry_run && (rc = mark_burst(st, j, 0, g->now, err)))
			return rc;
		return skip(g, "answered_by_human", NULL);
	}
	g->inbound = j->last_inbound > g->newest ? j->last_inbound : g->newest;
	return PASS;
}

/* ai_paused, not_thread_owner, no_agent, agent_inactive */
static int gate_ai(struct gate *g)
{
	if (strcmp(g->ai_state, "active"))
		return skip(g, "ai_paused", g->ai_reason);
	if (g->thread_owned)
		return skip(g, "not_thread_owner", NULL);
	if (!g->j->agent_id)
		return skip(g, "no_agent", "the account has no agent and the tenant no default agent");
	if (!g->agent_active)
		return skip(g, "agent_inactive", NULL);
	return PASS;
}

/* window_closed, debounce */
static int gate_time(struct gate *g)
{
	int64_t age = g->now - g->inbound;
	json_t *o;

	if (age > IG_REPLY_WINDOW) {
		char iso[32];

		snprintf(g->detail, sizeof(g->detail), "last customer message %s, more than 24 h ago",
			 ig_time_iso(g->inbound, iso));
		return skip(g, "window_closed", g->detail);
	}
	if (age < g->debounce) {
		snprintf(g->detail, sizeof(g->detail), "answer in %lld s",
			 (long long)(g->debounce - age));
		o = skip_rec(g->r, g->j, "debounce", g->detail);
		if (o)
			json_object_set_new(o, "wait", json_integer(g->debounce - age));
		json_array_append_new(g->recs, o);
		return STOP;
	}
	return PASS;
}

/* no_account_token: reported as a problem of the account (77) */
static int gate_account(struct gate *g)
{
	struct job *j = g->j;

	if (!strcmp(g->acct_status, "active") && g->has_token)
		return PASS;
	snprintf(g->detail, sizeof(g->detail), "account %s is %s", j->account,
		 g->has_token ? g->acct_status : "without a token");
	skip(g, "no_account_token", g->detail);
	if (g->has_token)
		snprintf(g->detail, sizeof(g->detail), "the account is '%s': its replies wait until"
			 " it is authorised again (ig-connect url, then callback)", g->acct_status);
	else
		snprintf(g->detail, sizeof(g->detail), "the account has no token: its replies wait"
			 " until it is connected (ig-connect add or url/callback)");
	ig_reply_problem(g->r, IG_EX_NOPERM, j->tenant, j->account, g->detail);
	return STOP;
}

/* loop_guard: reply_max_per_hour automated replies already (escalated) */
static int gate_loop(struct gate *g, struct ig_err *err)
{
	struct ig_reply *r = g->r;
	int64_t recent = 0;
	int rc;

	if (ig_store_int(r->ctx->store, err, &recent,
		"SELECT COUNT(*) FROM outbox WHERE conversation_id = ? AND origin = 'ai'"
		" AND created_at > ? AND state IN ('draft','pending','sending','sent','unknown')",
		"ii", g->j->conv, g->now - 3600) < 0)
		return err ? err->code : IG_EX_SOFTWARE;
	if (recent < r->max_per_hour)
		return PASS;
	snprintf(g->detail, sizeof(g->detail), "%ld automated replies in the last hour",
		 r->max_per_hour);
	if (!r->o.dry_run && (rc = escalate(r, g->j, "loop_guard", g->now, &g->esc, err)))
		return rc;
	return skip(g, "loop_guard", g->detail);
}

/* token_cap: the openai engine's daily tokens are spent (escalated, handled) */
static int gate_tokens(struct gate *g, struct ig_err *err)
{
	struct ig_reply *r = g->r;
	struct job *j = g->j;
	char day[16];
	int64_t used = 0;
	int rc;

	if (strcmp(j->engine, "openai") || r->token_cap <= 0)
		return PASS;
	utc_day(g->now, day);
	if (ig_store_int(r->ctx->store, err, &used,
		"SELECT total_tokens FROM llm_usage WHERE tenant_id = ? AND day = ?", "is",
		j->tenant_id, day) < 0)
		return err ? err->code : IG_EX_SOFTWARE;
	if (used < r->token_cap)
		return PASS;
	snprintf(g->detail, sizeof(g->detail), "%lld of %lld tokens used today", (long long)used,
		 r->token_cap);
	if (!r->o.dry_run) {
		if ((rc = escalate(r, j, "token_cap", g->now, &g->esc, err)))
			return rc;
		if ((rc = mark_burst(r->ctx->store, j, 0, g->now, err)))
			return rc;
	}
	skip(g, "token_cap", g->detail);
	if (!r->o.explain)
		json_array_append_new(g->recs, escalation_rec(j, "token_cap", g->esc, g->detail));
	return STOP;
}

/* The kb engine's answer, or low_confidence (escalated, handled). */
static int compose_kb(struct gate *g, struct ig_err *err)
{
	struct ig_reply *r = g->r;
	struct ig_store *st = r->ctx->store;
	struct job *j = g->j;
	struct ig_kb_result kr;
	struct ig_persona p;
	int got, rc;

	persona_of(j, &p);
	if ((rc = ig_kb_search(st, j->tenant_id, j->agent_id, j->burst, j->loc_name, j->loc_ctx, 3,
			       &kr, err)))
		return rc;
	got = ig_kb_compose(&p, &kr, r->min_confidence, &j->text, &j->confidence, j->source,
			    sizeof(j->source));
	ig_kb_result_release(&kr);
	if (got < 0)
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	if (got > 0) {
		j->state = J_QUEUED;
		return PASS;
	}
	/* Hand over rather than guess: the burst counts as handled by the
	 * escalation; the AI stays on for what follows. */
	snprintf(g->detail, sizeof(g->detail), "confidence %.2f below %.2f", j->confidence,
		 r->min_confidence);
	if (!r->o.dry_run) {
		if ((rc = escalate(r, j, "low_confidence", g->now, &g->esc, err)))
			return rc;
		if ((rc = mark_burst(st, j, 0, g->now, err)))
			return rc;
	} else {
		r->escalated++;
	}
	json_array_append_new(g->recs, escalation_rec(j, "low_confidence", g->esc, g->detail));
	return STOP;
}

/* Queue the burst's row (pending and leased, or a draft with --review),
 * mark the burst answered by it, audit. */
static int queue(struct gate *g, int64_t lease, struct ig_err *err)
{
	struct ig_reply *r = g->r;
	struct ig_store *st = r->ctx->store;
	struct job *j = g->j;
	int draft = r->o.review && j->state == J_QUEUED;
	char target[48];
	json_t *d;
	int rc;

	if ((rc = ig_outbox_insert(st, j->tenant_id, j->account_id, j->conv, "ai", j->participant,
				   j->text, NULL, draft ? "draft" : "pending", 0,
				   draft ? NULL : r->worker, draft ? 0 : g->now + lease,
				   &j->outbox_id, err)))
		return rc;
	if ((rc = mark_burst(st, j, j->outbox_id, g->now, err)))
		return rc;
	d = json_pack("{s:I,s:s,s:i}", "outbox", (json_int_t)j->outbox_id, "engine", j->engine,
		      "messages", j->nmsg);
	snprintf(target, sizeof(target), "conversation:%lld", (long long)j->conv);
	rc = ig_audit(r->ctx, j->tenant_id, "reply.queue", target, "ok", d, err);
	json_decref(d);
	return rc;
}

static int decide(struct ig_reply *r, struct job *j, int64_t now, int64_t lease, json_t *recs,
		  struct ig_err *err)
{
	struct gate g;
	int found, rc;

	memset(&g, 0, sizeof(g));
	g.r = r;
	g.j = j;
	g.recs = recs;
	g.now = now;
	j->state = J_SKIP;
	found = job_load(r->ctx->store, j, &g.has_token, g.acct_status, g.ai_state, g.ai_reason,
			 &g.thread_owned, &g.debounce, &g.agent_active, err);
	if (found < 0)
		return err ? err->code : IG_EX_SOFTWARE;
	if ((rc = gate_scope(&g, found)) || (rc = gate_burst(&g, err)) || (rc = gate_ai(&g))
	    || (rc = gate_time(&g)) || (rc = gate_account(&g)) || (rc = gate_loop(&g, err))
	    || (rc = gate_tokens(&g, err)))
		return rc == STOP ? 0 : rc;
	if (!strcmp(j->engine, "openai")) {
		if ((rc = build_llm(r, j, err)))
			return rc;
		j->state = J_GENERATE;
	} else if ((rc = compose_kb(&g, err))) {
		return rc == STOP ? 0 : rc;
	}
	return r->o.dry_run ? 0 : queue(&g, lease, err);
}

static const char SQL_SCAN[] =
	"SELECT c.id FROM conversations c WHERE c.id > ?1 AND c.last_inbound_at >= ?2"
	" AND (?3 = 0 OR c.tenant_id = ?3) AND (?4 = 0 OR c.account_id = ?4)"
	" AND EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = c.tenant_id"
	"  AND m.conversation_id = c.id AND m.direction = 'in' AND m.replied_at IS NULL)"
	" ORDER BY c.id LIMIT ?5";

static json_t *job_rec(const struct job *j, const char *state)
{
	json_t *o = job_head(j);

	if (!o)
		return NULL;
	json_object_set_new(o, "outbox", j->outbox_id ? json_integer(j->outbox_id) : json_null());
	json_object_set_new(o, "origin", json_string("ai"));
	json_object_set_new(o, "state", json_string(state));
	json_object_set_new(o, "mid", json_null());
	json_object_set_new(o, "text", j->text ? json_string(j->text) : json_null());
	json_object_set_new(o, "engine", json_string(j->engine));
	if (!strcmp(j->engine, "kb")) {
		json_object_set_new(o, "confidence", json_real(two_places(j->confidence)));
		json_object_set_new(o, "source", json_string(j->source));
	}
	return o;
}

/* The LLM answered job j: its text goes to the row (pending, or a draft
 * with --review) and the tokens to the tenant's day (llm_usage). */
static int llm_answered(struct ig_reply *r, struct job *j, const char *content,
			const json_t *usage, int64_t now, struct ig_err *err)
{
	struct ig_store *st = r->ctx->store;
	const char *to = r->o.review ? "draft" : "pending";
	long long pt = ig_json_int(usage, "prompt_tokens", 0);
	long long ct = ig_json_int(usage, "completion_tokens", 0);
	long long tt = ig_json_int(usage, "total_tokens", pt + ct);
	char day[16];
	int rc;

	free(j->text);
	if (!(j->text = strdup(content)))
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	ig_kb_clip(j->text, IG_REPLY_MAX_TEXT);
	j->state = J_QUEUED;
	if (r->o.dry_run)
		return 0;
	if ((rc = ig_store_runf(st, err,
		"UPDATE outbox SET text = ?, state = ?, lease_owner = CASE WHEN ? = 'draft'"
		" THEN NULL ELSE lease_owner END, lease_until = CASE WHEN ? = 'draft'"
		" THEN NULL ELSE lease_until END, updated_at = ? WHERE id = ?",
		"ssssii", j->text, to, to, to, now, j->outbox_id)))
		return rc;
	utc_day(now, day);
	return ig_store_runf(st, err,
		"INSERT INTO llm_usage (tenant_id, day, prompt_tokens, completion_tokens,"
		" total_tokens, calls) VALUES (?, ?, ?, ?, ?, 1)"
		" ON CONFLICT (tenant_id, day) DO UPDATE SET"
		" prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
		" completion_tokens = completion_tokens + excluded.completion_tokens,"
		" total_tokens = total_tokens + excluded.total_tokens, calls = calls + 1",
		"isiii", j->tenant_id, day, (int64_t)pt, (int64_t)ct, (int64_t)tt);
}

/* The LLM call of job j failed with qrc: nothing was sent.  Temporary: the
 * burst goes back to unanswered (a later run asks again); otherwise the row
 * fails and a human gets an escalation.  Reported as a problem either way. */
static int llm_failed(struct ig_reply *r, struct job *j, int qrc, const char *msg, int64_t now,
		      json_t *recs, struct ig_err *err)
{
	struct ig_store *st = r->ctx->store;
	char why[700], what[760];
	int64_t esc = 0;
	json_t *o;
	int rc;

	/* the HTTP client labels its errors "graph:"; this one is the LLM's */
	snprintf(why, sizeof(why), "llm: %s", !strncmp(msg, "graph: ", 7) ? msg + 7 : msg);
	snprintf(what, sizeof(what), "%s%s", why, qrc == IG_EX_TEMPFAIL
		 ? "; the messages wait for the next run" : "; escalated to a human");
	ig_reply_problem(r, qrc, j->tenant, j->account, what);
	j->state = J_DONE;
	if (qrc == IG_EX_TEMPFAIL) {
		if (!r->o.dry_run && ((rc = ig_store_runf(st, err,
			"UPDATE outbox SET state = 'abandoned', error = ?, lease_owner = NULL,"
			" lease_until = NULL, updated_at = ? WHERE id = ?", "sii", why, now, j->outbox_id))
		    || (rc = ig_store_runf(st, err,
			"UPDATE messages SET replied_at = NULL, reply_outbox_id = NULL"
			" WHERE reply_outbox_id = ?", "i", j->outbox_id))))
			return rc;
		r->skipped++;
		if ((o = job_head(j))) {
			json_object_set_new(o, "skip", json_string("llm_unavailable"));
			json_object_set_new(o, "detail", json_string(why));
		}
		json_array_append_new(recs, o);
		return 0;
	}
	r->failed++;
	if (!r->o.dry_run) {
		if ((rc = ig_store_runf(st, err,
			"UPDATE outbox SET state = 'failed', error = ?, lease_owner = NULL,"
			" lease_until = NULL, updated_at = ? WHERE id = ?", "sii", why, now, j->outbox_id)))
			return rc;
		if ((rc = escalate(r, j, "llm_error", now, &esc, err)))
			return rc;
	}
	if ((o = job_rec(j, "failed")))
		json_object_set_new(o, "error", json_string(why));
	json_array_append_new(recs, o);
	return 0;
}

/* Ask the LLM for every J_GENERATE job, concurrently; record the texts (and
 * the tokens spent) in one transaction. */
static int generate(struct ig_reply *r, struct job *jobs, size_t n, struct ig_err *err)
{
	struct ig_store *st = r->ctx->store;
	struct ig_graph_req *reqs;
	size_t *map, m = 0, i;
	int64_t now = ig_time_now();
	json_t *recs = json_array();
	int rc = 0;

	for (i = 0; i < n; i++)
		m += jobs[i].state == J_GENERATE;
	if (!m) {
		json_decref(recs);
		return 0;
	}
	if (!r->graph) {
		json_decref(recs);
		return ig_err_set(err, IG_EX_SOFTWARE, "BUG: no HTTP client for the openai engine");
	}
	if (!r->llm_key_loaded) {
		r->llm_key_loaded = 1;
		if (ig_config_has_secret(&r->ctx->cfg, "llm_key_file")
		    && (rc = ig_config_secret(&r->ctx->cfg, "llm_key_file", &r->llm_key, err))) {
			json_decref(recs);
			return rc;
		}
	}
	reqs = calloc(m, sizeof(*reqs));
	map = calloc(m, sizeof(*map));
	if (!reqs || !map) {
		free(reqs);
		free(map);
		json_decref(recs);
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	}
	for (i = 0, m = 0; i < n; i++) {
		if (jobs[i].state != J_GENERATE)
			continue;
		reqs[m].host = IG_HOST_LLM;
		reqs[m].method = "POST";
		reqs[m].path = "/chat/completions";
		reqs[m].versioned = 0;
		reqs[m].json = jobs[i].llm_body;
		reqs[m].token = r->llm_key;
		reqs[m].idempotent = 1;   /* asking again costs tokens, sends nothing */
		map[m++] = i;
	}
	ig_graph_run_many(r->graph, reqs, m, r->o.parallel);
	if (!r->o.dry_run && (rc = ig_store_begin(st, err)))
		goto out;
	for (i = 0; i < m && !rc; i++) {
		struct job *j = &jobs[map[i]];
		struct ig_graph_req *q = &reqs[i];
		json_t *choice = json_array_get(json_object_get(q->resp.body, "choices"), 0);
		const char *content = ig_json_str(json_object_get(choice, "message"), "content");
		int qrc = q->rc;

		if (!qrc && (!content || !*content)) {
			qrc = IG_EX_UNAVAILABLE;
			snprintf(q->err.msg, sizeof(q->err.msg), "the LLM answered without a message");
		}
		rc = qrc ? llm_failed(r, j, qrc, q->err.msg, now, recs, err)
			 : llm_answered(r, j, content, json_object_get(q->resp.body, "usage"), now, err);
	}
	if (!r->o.dry_run) {
		if (rc)
			ig_store_rollback(st);
		else
			rc = ig_store_commit(st, err);
	}
	if (!rc)
		for (i = 0; i < json_array_size(recs); i++)
			emit(r, json_incref(json_array_get(recs, i)));
out:
	for (i = 0; i < m; i++)
		ig_graph_resp_release(&reqs[i].resp);
	free(reqs);
	free(map);
	json_decref(recs);
	return rc;
}

/* Emit the outcome of sent items and fold it into the counters. */
static void sent_items(struct ig_reply *r, struct ig_outbox_item *items, size_t n,
		       const struct job *const *jobs)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct ig_outbox_item *it = &items[i];
		json_t *o;

		if (!it->state[0])
			continue;   /* another worker holds it */
		if (!strcmp(it->state, "abandoned")) {
			/* the conversation is no longer the AI's (ig_outbox_send) */
			r->skipped++;
			if (!r->o.explain)
				continue;
			if ((o = ig_outbox_item_json(it)))
				json_object_set_new(o, "skip", json_string(it->skip));
			emit(r, o);
			continue;
		}
		if (!strcmp(it->state, "sent")) {
			r->sent++;
		} else if (!strcmp(it->state, "unknown")) {
			r->unknown++;
			ig_reply_problem(r, IG_EX_TEMPFAIL, it->tenant, it->account,
				"a send's outcome is unknown, not resent"
				" (see 'ig-reply outbox list --state unknown')");
		} else if (!strcmp(it->state, "pending")) {
			char why[700];

			r->requeued++;
			snprintf(why, sizeof(why), "%s; queued, the next run retries",
				 it->error[0] ? it->error : "temporary failure");
			ig_reply_problem(r, it->rc ? it->rc : IG_EX_TEMPFAIL, it->tenant, it->account,
					 why);
		} else {
			r->failed++;
			ig_reply_problem(r, it->rc ? it->rc : IG_EX_UNAVAILABLE, it->tenant, it->account,
					 it->error[0] ? it->error : "the send failed");
		}
		o = ig_outbox_item_json(it);
		if (o && jobs && jobs[i]) {
			json_object_set_new(o, "engine", json_string(jobs[i]->engine));
			if (!strcmp(jobs[i]->engine, "kb")) {
				json_object_set_new(o, "confidence",
					json_real(two_places(jobs[i]->confidence)));
				json_object_set_new(o, "source", json_string(jobs[i]->source));
			}
		}
		emit(r, o);
	}
}

/*
 * One batch: claim (ids given, or scanned inside the transaction when
 * scan_after is not NULL), generate, send.  *scanned: conversations looked at.
 */
static int batch(struct ig_reply *r, const int64_t *ids, size_t n, int64_t *scan_after,
		 long scan_max, size_t *scanned, struct ig_err *err)
{
	struct ig_store *st = r->ctx->store;
	int64_t now = ig_time_now(), lease = ig_outbox_lease_seconds(&r->ctx->cfg);
	struct job *jobs;
	struct ig_outbox_item *items = NULL;
	const struct job **itemjobs = NULL;
	json_t *recs = json_array();
	size_t i, m = 0, cap = scan_after ? (size_t)scan_max : n;
	int rc;

	*scanned = 0;
	if (cap == 0) {
		json_decref(recs);
		return 0;
	}
	jobs = calloc(cap, sizeof(*jobs));
	if (!jobs || !recs) {
		free(jobs);
		json_decref(recs);
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	}
	if ((rc = ig_store_begin(st, err)))
		goto out;
	if (scan_after) {
		struct ig_stmt *s = ig_store_query(st, err, SQL_SCAN, "iiiii", *scan_after,
			now - IG_REPLY_WINDOW, r->o.tenant_id, r->o.account_id, (int64_t)cap);
		int more = -1;

		n = 0;
		while (s && n < cap && (more = ig_stmt_next(st, s, err)) == 1)
			jobs[n++].conv = ig_col_int(s, 0);
		if (more == 1)
			ig_stmt_reset(s);
		if (more < 0) {
			rc = ig_err_prefix(err, "cannot look for unanswered conversations");
			ig_store_rollback(st);
			goto out;
		}
		if (n)
			*scan_after = jobs[n - 1].conv;
	} else {
		for (i = 0; i < n; i++)
			jobs[i].conv = ids[i];
	}
	*scanned = n;
	for (i = 0; i < n; i++) {
		if ((rc = decide(r, &jobs[i], now, lease, recs, err))) {
			ig_store_rollback(st);
			goto out;
		}
	}
	if (r->o.dry_run)
		ig_store_rollback(st);
	else if ((rc = ig_store_commit(st, err)))
		goto out;
	for (i = 0; i < json_array_size(recs); i++)
		if (!json_is_null(json_array_get(recs, i)))
			emit(r, json_incref(json_array_get(recs, i)));

	if ((rc = generate(r, jobs, n, err)))
		goto out;

	if (r->o.dry_run || r->o.review) {
		for (i = 0; i < n; i++) {
			if (jobs[i].state != J_QUEUED)
				continue;
			r->drafted++;
			emit(r, job_rec(&jobs[i], r->o.dry_run ? "dry_run" : "draft"));
		}
		goto out;
	}
	items = calloc(n ? n : 1, sizeof(*items));
	itemjobs = calloc(n ? n : 1, sizeof(*itemjobs));
	if (!items || !itemjobs) {
		rc = ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (jobs[i].state != J_QUEUED)
			continue;
		items[m].id = jobs[i].outbox_id;
		itemjobs[m++] = &jobs[i];
	}
	if (m) {
		rc = ig_outbox_send(r->ctx, r->graph, items, m, r->o.parallel, r->worker, err);
		if (!rc)
			sent_items(r, items, m, itemjobs);
	}
out:
	if (items)
		for (i = 0; i < m; i++)
			ig_outbox_item_release(&items[i]);
	free(items);
	free(itemjobs);
	for (i = 0; i < cap; i++)
		job_release(&jobs[i]);
	free(jobs);
	json_decref(recs);
	return rc;
}

int ig_reply_conversations(struct ig_reply *r, const int64_t *ids, size_t n, struct ig_err *err)
{
	size_t done = 0, scanned;
	int rc;

	while (done < n) {
		size_t k = n - done > IG_REPLY_BATCH ? IG_REPLY_BATCH : n - done;

		if ((rc = batch(r, ids + done, k, NULL, 0, &scanned, err)))
			return rc;
		done += k;
	}
	return 0;
}

/* AI rows whose text never came: the worker asking the LLM stopped (lease
 * over), or a human retried a row whose LLM call had failed (lease free).
 * Nothing was sent, so the messages go back to unanswered and the row is
 * abandoned with `why`; the next batch answers them afresh.  id 0: every
 * such row of --tenant/--account; else that row only.  Its own transaction. */
#define SQL_TEXTLESS \
	" state = 'pending' AND text IS NULL AND payload IS NULL" \
	" AND (lease_until IS NULL OR lease_until < ?) AND (? = 0 OR tenant_id = ?)" \
	" AND (? = 0 OR account_id = ?) AND (? = 0 OR id = ?)"

static int give_back(struct ig_reply *r, int64_t id, const char *why, struct ig_err *err)
{
	struct ig_store *st = r->ctx->store;
	int64_t now = ig_time_now(), t = r->o.tenant_id, a = r->o.account_id;
	int rc;

	if ((rc = ig_store_begin(st, err)))
		return rc;
	rc = ig_store_runf(st, err,
		"UPDATE messages SET replied_at = NULL, reply_outbox_id = NULL"
		" WHERE reply_outbox_id IN (SELECT id FROM outbox WHERE" SQL_TEXTLESS ")",
		"iiiiiii", now, t, t, a, a, id, id);
	if (!rc)
		rc = ig_store_runf(st, err,
			"UPDATE outbox SET state = 'abandoned', error = ?, lease_owner = NULL,"
			" lease_until = NULL, updated_at = ? WHERE" SQL_TEXTLESS,
			"siiiiiiii", why, now, now, t, t, a, a, id, id);
	return ig_store_end(st, rc, err);
}

int ig_reply_send_rows(struct ig_reply *r, const int64_t *ids, size_t n, struct ig_err *err)
{
	struct ig_outbox_item *items = calloc(n ? n : 1, sizeof(*items));
	int64_t *convs = calloc(n ? n : 1, sizeof(*convs));
	size_t i, m = 0, k = 0;
	int rc = 0;

	if (!items || !convs) {
		free(items);
		free(convs);
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	}
	for (i = 0; i < n && !rc; i++) {
		int64_t conv = 0;
		int got = ig_store_int(r->ctx->store, err, &conv,
			"SELECT conversation_id FROM outbox WHERE id = ? AND origin = 'ai'"
			" AND state = 'pending' AND text IS NULL AND payload IS NULL", "i", ids[i]);

		if (got < 0) {
			rc = err ? err->code : IG_EX_SOFTWARE;
		} else if (got == 1) {
			/* No text to send (its LLM call failed): ask again. */
			rc = give_back(r, ids[i], "retried: the answer is generated again", err);
			convs[k++] = conv;
		} else {
			items[m++].id = ids[i];
		}
	}
	if (!rc && m) {
		rc = ig_outbox_send(r->ctx, r->graph, items, m, r->o.parallel, r->worker, err);
		if (!rc)
			sent_items(r, items, m, NULL);
	}
	if (!rc && k)
		rc = ig_reply_conversations(r, convs, k, err);
	for (i = 0; i < m; i++)
		ig_outbox_item_release(&items[i]);
	free(items);
	free(convs);
	return rc;
}

int ig_reply_pending(struct ig_reply *r, struct ig_err *err)
{
	struct ig_store *st = r->ctx->store;
	int64_t ids[IG_REPLY_BATCH], after = 0;
	long total = 0;
	int n, rc;

	if (!r->o.dry_run) {
		int expired;

		if ((rc = ig_outbox_expire(st, r->o.tenant_id, r->o.account_id, &expired, err)))
			return rc;
		r->expired += expired;
		if (expired)
			ig_reply_note(r, IG_EX_TEMPFAIL);
		/* An LLM answer that never came (its worker stopped), or a
		 * retried row without text: nothing was sent, give the burst back. */
		if ((rc = give_back(r, 0, "the LLM answer never arrived (worker stopped, or a"
				    " retry); the messages were given back", err)))
			return rc;
		/* Rows queued earlier (a temporary failure, a human's approval,
		 * an account re-authorised since). */
		while ((n = ig_outbox_ready(st, r->o.tenant_id, r->o.account_id, after, ids,
						IG_REPLY_BATCH, err)) > 0) {
			after = ids[n - 1];
			if ((rc = ig_reply_send_rows(r, ids, (size_t)n, err)))
				return rc;
		}
		if (n < 0)
			return err ? err->code : IG_EX_SOFTWARE;
	}
	after = 0;
	for (;;) {
		long want = IG_REPLY_BATCH;
		size_t scanned;

		if (r->o.limit > 0 && r->o.limit - total < want)
			want = r->o.limit - total;
		if (want <= 0)
			break;
		if ((rc = batch(r, NULL, 0, &after, want, &scanned, err)))
			return rc;
		if (scanned == 0)
			break;
		total += (long)scanned;
	}
	return 0;
}

int ig_reply_event(struct ig_reply *r, const json_t *ev, int64_t *conv, int64_t *tenant_id,
		   struct ig_err *err)
{
	struct ig_store *st = r->ctx->store;
	const char *type, *tenant, *dir;
	char acct[32], have[64];
	int64_t t = 0, id;
	json_t *cv;
	struct ig_stmt *s;
	int n;

	*conv = 0;
	/* A bad record is kept under the tenant the run acts for (a key's
	 * tenant or --tenant), never under a tenant the record names. */
	*tenant_id = r->o.tenant_id;
	if (!json_is_object(ev))
		return ig_err_set(err, IG_EX_DATAERR, "a routed event is a JSON object");
	type = ig_json_str(ev, "type");
	if (!type)
		return ig_err_set(err, IG_EX_DATAERR, "event without \"type\"");
	dir = ig_json_str(ev, "direction");
	if (strcmp(type, "message") || (dir && strcmp(dir, "in"))
	    || json_is_true(json_object_get(ev, "is_echo")))
		return 0;   /* echoes, reads, reactions...: nothing to answer */
	tenant = ig_json_str(ev, "tenant");
	cv = json_object_get(ev, "conversation");
	if (!tenant || !*tenant)
		return ig_err_set(err, IG_EX_DATAERR, "message event without \"tenant\"");
	if (!ig_json_id(ev, "account", acct))
		return ig_err_set(err, IG_EX_DATAERR, "message event without \"account\"");
	if (!json_is_integer(cv) || json_integer_value(cv) <= 0)
		return ig_err_set(err, IG_EX_DATAERR,
				  "message event without a \"conversation\" number");
	id = json_integer_value(cv);
	/* The tenant first: the one the run acts for, or (the store's owner
	 * without --tenant) the one the event names. */
	n = ig_store_int(st, err, &t, "SELECT id FROM tenants WHERE slug = ?", "s", tenant);
	if (n < 0)
		return err ? err->code : IG_EX_SOFTWARE;
	if (n == 0 || (r->o.tenant_id && t != r->o.tenant_id))
		return ig_err_set(err, IG_EX_DATAERR, "event for tenant '%s', %s", tenant,
				  r->o.tenant_id ? "not the tenant of this run" : "an unknown tenant");
	*tenant_id = t;
	/* Then the conversation, in that tenant only: one answer whether the id
	 * exists in another tenant or nowhere. */
	s = ig_store_query(st, err,
		"SELECT a.external_id FROM conversations c JOIN accounts a ON a.id = c.account_id"
		" AND a.tenant_id = c.tenant_id WHERE c.id = ? AND c.tenant_id = ?", "ii", id, t);
	if (!s)
		return err ? err->code : IG_EX_SOFTWARE;
	n = ig_stmt_next(st, s, err);
	if (n < 0)
		return err ? err->code : IG_EX_SOFTWARE;
	if (n == 0)
		return ig_err_set(err, IG_EX_DATAERR, "no conversation %lld", (long long)id);
	snprintf(have, sizeof(have), "%s", ig_col_text(s, 0));
	ig_stmt_reset(s);
	if (strcmp(have, acct))
		return ig_err_set(err, IG_EX_DATAERR,
				  "conversation %lld is of account %s, not %s", (long long)id, have, acct);
	*conv = id;
	return 0;
}

int ig_reply_dead_letter(struct ig_store *st, int64_t tenant_id, const char *reason,
			 const char *raw, size_t len, struct ig_err *err)
{
	int64_t now = ig_time_now();

	return ig_store_write(st, NULL, err,
		"INSERT INTO dead_letters (tenant_id, source, reason, raw, created_at, updated_at)"
		" VALUES (?, 'ig-reply', ?, ?, ?, ?)",
		"Isbii", tenant_id, reason, raw ? raw : "", (int)len, now, now);
}

int ig_reply_account_id(struct ig_store *st, int64_t tenant_id, const char *ext, int64_t *id,
			struct ig_err *err)
{
	*id = 0;
	if (ig_store_int(st, err, id,
		"SELECT id FROM accounts WHERE external_id = ? AND (? = 0 OR tenant_id = ?)", "sii",
		ext, tenant_id, tenant_id) < 0)
		return ig_err_prefix(err, "cannot read accounts");
	if (!*id)
		return ig_err_set(err, IG_EX_DATAERR, "no account '%s'%s", ext,
				  tenant_id ? " in this tenant" : "");
	return 0;
}

/* ---------------------------------------------------------------- humans */

int ig_reply_conv_tenant(struct ig_store *st, int64_t conv, int64_t *tenant_id,
			 struct ig_err *err)
{
	*tenant_id = 0;
	if (ig_store_int(st, err, tenant_id, "SELECT tenant_id FROM conversations WHERE id = ?",
			 "i", conv) < 0)
		return ig_err_prefix(err, "cannot read conversation");
	if (!*tenant_id)
		return ig_err_set(err, IG_EX_DATAERR, "no conversation %lld", (long long)conv);
	return 0;
}

static const char SQL_CONV_LIST[] =
	"SELECT c.id, a.external_id, c.participant_id, c.participant_name, c.status, c.priority,"
	" u.email, c.ai_state, c.ai_reason, c.last_inbound_at, c.last_outbound_at,"
	" (SELECT COUNT(*) FROM messages m WHERE m.tenant_id = c.tenant_id"
	"  AND m.conversation_id = c.id AND m.direction = 'in' AND m.replied_at IS NULL),"
	" (SELECT COUNT(*) FROM escalations e WHERE e.conversation_id = c.id AND e.status = 'open'),"
	" c.thread_owner"
	" FROM conversations c JOIN accounts a ON a.id = c.account_id"
	" LEFT JOIN users u ON u.id = c.assignee_user_id"
	" WHERE c.tenant_id = ?1 AND (?2 = 0 OR c.id = ?2)"
	" AND (?3 IS NULL OR c.status = ?3) AND (?4 IS NULL OR c.ai_state = ?4)"
	" AND (?5 IS NULL OR c.priority = ?5) AND (?6 IS NULL OR u.email = ?6 COLLATE NOCASE)"
	" AND (?7 IS NULL OR a.external_id = ?7)"
	" AND (?8 = 0 OR EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = c.tenant_id"
	"  AND m.conversation_id = c.id AND m.direction = 'in' AND m.replied_at IS NULL))"
	" AND (?9 = 0 OR EXISTS (SELECT 1 FROM escalations e WHERE e.conversation_id = c.id"
	"  AND e.status = 'open'))"
	" ORDER BY c.last_inbound_at DESC, c.id DESC LIMIT ?10";

static int conv_rows(struct ig_store *st, int64_t tenant_id, int64_t conv,
		     const struct ig_conv_filter *f, json_t **out, struct ig_err *err)
{
	struct ig_stmt *s;
	json_t *arr;
	int rc = -1;

	*out = NULL;
	if (!(arr = json_array()))
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	s = ig_store_query(st, err, SQL_CONV_LIST, "iisssssiii", tenant_id, conv, f->status, f->ai,
			   f->priority, f->assignee, f->account, (int64_t)f->unanswered,
			   (int64_t)f->escalated, (int64_t)(f->limit > 0 ? f->limit : -1));
	while (s && (rc = ig_stmt_next(st, s, err)) == 1) {
		char i1[32], i2[32];

		json_array_append_new(arr, json_pack(
			"{s:I,s:s,s:s,s:s?,s:s,s:s,s:s?,s:s,s:s?,s:s?,s:s?,s:I,s:I,s:s?}",
			"id", (json_int_t)ig_col_int(s, 0), "account", ig_col_text(s, 1),
			"participant", ig_col_text(s, 2), "name", ig_col_textn(s, 3),
			"status", ig_col_text(s, 4), "priority", ig_col_text(s, 5),
			"assignee", ig_col_textn(s, 6),
			"ai", ig_col_text(s, 7), "ai_reason", ig_col_textn(s, 8),
			"last_inbound", ig_col_null(s, 9) ? NULL : ig_time_iso(ig_col_int(s, 9), i1),
			"last_outbound", ig_col_null(s, 10) ? NULL : ig_time_iso(ig_col_int(s, 10), i2),
			"unanswered", (json_int_t)ig_col_int(s, 11),
			"escalations", (json_int_t)ig_col_int(s, 12),
			"thread_owner", ig_col_textn(s, 13)));
	}
	if (rc < 0) {
		json_decref(arr);
		return ig_err_prefix(err, "cannot list conversations");
	}
	*out = arr;
	return 0;
}

int ig_reply_conv_list(struct ig_store *st, int64_t tenant_id, const struct ig_conv_filter *f,
		       json_t **out, struct ig_err *err)
{
	return conv_rows(st, tenant_id, 0, f, out, err);
}

int ig_reply_conv_json(struct ig_store *st, int64_t tenant_id, int64_t conv, json_t **out,
		       struct ig_err *err)
{
	struct ig_conv_filter f = { 0 };
	json_t *arr;
	int rc;

	*out = NULL;
	if ((rc = conv_rows(st, tenant_id, conv, &f, &arr, err)))
		return rc;
	if (json_array_size(arr) == 0) {
		json_decref(arr);
		return ig_err_set(err, IG_EX_DATAERR, "no conversation %lld",
				  (long long)conv);
	}
	*out = json_incref(json_array_get(arr, 0));
	json_decref(arr);
	return 0;
}

/* The member of tenant_id named by e-mail or id. */
static int member_id(struct ig_store *st, int64_t tenant_id, const char *who, int64_t *id,
		     struct ig_err *err)
{
	*id = 0;
	if (ig_store_int(st, err, id,
		"SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id"
		" WHERE m.tenant_id = ? AND (u.email = ? COLLATE NOCASE OR CAST(u.id AS TEXT) = ?)",
		"iss", tenant_id, who, who) < 0)
		return ig_err_prefix(err, "cannot read users");
	if (!*id)
		return ig_err_set(err, IG_EX_DATAERR, "'%s' is not a member of this tenant", who);
	return 0;
}

static int resolve_escalations(struct ig_ctx *ctx, int64_t conv, int64_t now, int *n,
			       struct ig_err *err)
{
	int rc;

	if ((rc = ig_store_runf(ctx->store, err,
		"UPDATE escalations SET status = 'resolved', resolved_at = ?, resolved_by = ?"
		" WHERE conversation_id = ? AND status = 'open'", "isi", now, ctx->actor.label, conv)))
		return rc;
	*n = ig_store_changes(ctx->store);
	return 0;
}

int ig_reply_conv_change(struct ig_ctx *ctx, int64_t tenant_id, int64_t conv,
			 enum ig_conv_change what, const char *value, struct ig_err *err)
{
	static const char *const actions[] = { "conversation.pause", "conversation.resume",
		"conversation.assign", "conversation.status", "conversation.priority" };
	struct ig_store *st = ctx->store;
	int64_t now = ig_time_now(), user = 0, t;
	char target[48];
	json_t *detail;
	int rc, resolved = 0;

	if (what == IG_CONV_STATUS && (!value || (strcmp(value, "open") && strcmp(value, "pending")
						  && strcmp(value, "closed"))))
		return ig_err_set(err, IG_EX_DATAERR, "status is open, pending or closed, not '%s'",
				  value ? value : "");
	if (what == IG_CONV_PRIORITY && (!value || strlen(value) != 2 || value[0] != 'P'
					 || value[1] < '0' || value[1] > '3'))
		return ig_err_set(err, IG_EX_DATAERR, "priority is P0, P1, P2 or P3, not '%s'",
				  value ? value : "");
	if ((rc = ig_store_begin(st, err)))
		return rc;
	if ((rc = ig_reply_conv_tenant(st, conv, &t, err)) || t != tenant_id) {
		ig_store_rollback(st);
		if (!rc)
			rc = ig_err_set(err, IG_EX_DATAERR, "no conversation %lld",
					(long long)conv);
		return rc;
	}
	switch (what) {
	case IG_CONV_PAUSE:
		rc = ig_store_runf(st, err,
			"UPDATE conversations SET ai_state = 'paused', ai_reason = ?, updated_at = ?"
			" WHERE id = ?", "sii", value && *value ? value : "human takeover", now, conv);
		break;
	case IG_CONV_RESUME:
		rc = ig_store_runf(st, err,
			"UPDATE conversations SET ai_state = 'active', ai_reason = NULL, updated_at = ?"
			" WHERE id = ?", "ii", now, conv);
		break;
	case IG_CONV_ASSIGN:
		if (value && strcmp(value, "-") && (rc = member_id(st, tenant_id, value, &user, err)))
			break;
		rc = ig_store_runf(st, err,
			"UPDATE conversations SET assignee_user_id = ?, updated_at = ? WHERE id = ?",
			"Iii", user, now, conv);
		break;
	case IG_CONV_STATUS:
		rc = ig_store_runf(st, err,
			"UPDATE conversations SET status = ?, updated_at = ? WHERE id = ?",
			"sii", value, now, conv);
		break;
	case IG_CONV_PRIORITY:
		rc = ig_store_runf(st, err,
			"UPDATE conversations SET priority = ?, updated_at = ? WHERE id = ?",
			"sii", value, now, conv);
		break;
	}
	if (rc) {
		ig_store_rollback(st);
		return rc;
	}
	if (what == IG_CONV_RESUME && (rc = resolve_escalations(ctx, conv, now, &resolved, err))) {
		ig_store_rollback(st);
		return rc;
	}
	snprintf(target, sizeof(target), "conversation:%lld", (long long)conv);
	detail = json_pack("{s:s?,s:i}", "value", value, "escalations_resolved", resolved);
	rc = ig_audit(ctx, tenant_id, actions[what], target, "ok", detail, err);
	json_decref(detail);
	if (rc) {
		ig_store_rollback(st);
		return rc;
	}
	return ig_store_commit(st, err);
}

/* A human reply's text: a template filled with the conversation's persona
 * (a new string in *body, *text pointing at it), or *text as given; 1 to
 * IG_REPLY_MAX_TEXT bytes. */
static int human_text(struct ig_store *st, const struct job *j, const char *template_name,
		      const char **text, char **body, struct ig_err *err)
{
	if (template_name) {
		struct ig_persona p;
		char *raw = NULL;
		int rc;

		persona_of(j, &p);
		if ((rc = ig_template_get(st, j->tenant_id, j->agent_id, template_name, &raw, err))) {
			free(raw);
			return rc;
		}
		*body = ig_kb_fill(raw, &p);
		free(raw);
		if (!*body)
			return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
		*text = *body;
	}
	if (!*text || !**text || strlen(*text) > IG_REPLY_MAX_TEXT)
		return ig_err_set(err, IG_EX_DATAERR,
			"the text must be 1 to %d bytes (Instagram's limit), not %zu",
			IG_REPLY_MAX_TEXT, *text ? strlen(*text) : 0);
	return 0;
}

/* May a person write now?  Reference §3.3: 24 h standard window; a human
 * agent may answer up to 7 days after the customer's last message with the
 * HUMAN_AGENT tag (*tag).  And the account must be able to send. */
static int human_window(const struct job *j, int64_t now, const char *acct_status, int has_token,
			const char **tag, struct ig_err *err)
{
	int64_t age = now - j->last_inbound;
	char iso[32];

	*tag = NULL;
	if (!j->last_inbound)
		return ig_err_set(err, IG_EX_DATAERR,
			"conversation %lld has no message from the customer; Meta lets a business"
			" write only after the customer did", (long long)j->conv);
	if (age > IG_REPLY_HUMAN_WINDOW)
		return ig_err_set(err, IG_EX_DATAERR,
			"conversation %lld: the customer last wrote at %s, %lld days ago; Meta allows"
			" a human reply only within 7 days of it (HUMAN_AGENT tag), so it cannot be sent",
			(long long)j->conv, ig_time_iso(j->last_inbound, iso), (long long)(age / 86400));
	if (age > IG_REPLY_WINDOW)
		*tag = "HUMAN_AGENT";
	if (strcmp(acct_status, "active") || !has_token)
		return ig_err_set(err, IG_EX_NOPERM,
			"account %s is %s: re-authorise it with ig-connect before sending", j->account,
			has_token ? acct_status : "without a token");
	return 0;
}

/* In the open transaction: the outbox row (pending, leased to this
 * worker), the conversation's human mark and AI pause, its escalations
 * resolved, the audit row. */
static int human_enqueue(struct ig_reply *r, const struct job *j, const char *text,
			 const char *tag, const char *template_name, int keep_ai, int64_t now,
			 int64_t *id, struct ig_err *err)
{
	struct ig_ctx *ctx = r->ctx;
	struct ig_store *st = ctx->store;
	char target[48];
	json_t *detail;
	int rc, resolved = 0;

	if ((rc = ig_outbox_insert(st, j->tenant_id, j->account_id, j->conv,
				   template_name ? "template" : "human", j->participant, text, tag,
				   "pending", ctx->actor.user_id, r->worker,
				   now + ig_outbox_lease_seconds(&ctx->cfg), id, err))
	    || (rc = mark_burst(st, j, *id, now, err)))
		return rc;
	if ((rc = ig_store_runf(st, err,
		"UPDATE conversations SET last_human_at = ?1, updated_at = ?1,"
		" ai_state = CASE WHEN ?2 THEN ai_state ELSE 'paused' END,"
		" ai_reason = CASE WHEN ?2 THEN ai_reason ELSE 'human reply (ig-reply send)' END"
		" WHERE id = ?3", "iii", now, (int64_t)keep_ai, j->conv))
	    || (rc = resolve_escalations(ctx, j->conv, now, &resolved, err)))
		return rc;
	snprintf(target, sizeof(target), "conversation:%lld", (long long)j->conv);
	detail = json_pack("{s:I,s:s?,s:s?,s:b,s:i}", "outbox", (json_int_t)*id, "tag", tag,
			   "template", template_name, "ai_paused", !keep_ai,
			   "escalations_resolved", resolved);
	rc = ig_audit(ctx, j->tenant_id, "conversation.send", target, "ok", detail, err);
	json_decref(detail);
	return rc;
}

/* The outbox item the send works from (it owns its strings). */
static void human_item(struct ig_outbox_item *it, const struct job *j, int64_t id,
		       const char *text, const char *tag, const char *template_name)
{
	it->id = id;
	it->tenant_id = j->tenant_id;
	it->account_id = j->account_id;
	it->conversation_id = j->conv;
	snprintf(it->tenant, sizeof(it->tenant), "%s", j->tenant);
	snprintf(it->account, sizeof(it->account), "%s", j->account);
	snprintf(it->agent, sizeof(it->agent), "%s", j->agent);
	snprintf(it->origin, sizeof(it->origin), "%s", template_name ? "template" : "human");
	it->text = strdup(text);
	it->recipient = strdup(j->participant);
	it->tag = tag ? strdup(tag) : NULL;
}

int ig_reply_human_send(struct ig_reply *r, int64_t tenant_id, int64_t conv, const char *text,
			const char *template_name, int keep_ai, struct ig_outbox_item *it,
			struct ig_err *err)
{
	struct ig_store *st = r->ctx->store;
	int64_t now = ig_time_now(), id = 0, debounce;
	char acct_status[16], ai_state[16], ai_reason[256];
	int has_token, owned, active, found, rc;
	char *body = NULL;
	const char *tag = NULL;
	struct job j;

	memset(&j, 0, sizeof(j));
	memset(it, 0, sizeof(*it));
	j.conv = conv;
	if ((rc = ig_store_begin(st, err)))
		return rc;
	found = job_load(st, &j, &has_token, acct_status, ai_state, ai_reason, &owned, &debounce,
			 &active, err);
	if (found <= 0 || j.tenant_id != tenant_id)
		rc = found < 0 ? (err ? err->code : IG_EX_SOFTWARE)
			: ig_err_set(err, IG_EX_DATAERR, "no conversation %lld", (long long)conv);
	else if (!(rc = human_text(st, &j, template_name, &text, &body, err))
		 && !(rc = human_window(&j, now, acct_status, has_token, &tag, err))
		 && !(rc = human_enqueue(r, &j, text, tag, template_name, keep_ai, now, &id, err)))
		human_item(it, &j, id, text, tag, template_name);
	if (rc || r->o.dry_run) {
		ig_store_rollback(st);
		if (!rc) {
			it->id = 0;
			snprintf(it->state, sizeof(it->state), "dry_run");
		}
	} else
		rc = ig_store_commit(st, err);
	free(body);
	job_release(&j);
	if (rc || r->o.dry_run)
		return rc;
	return ig_outbox_send(r->ctx, r->graph, it, 1, 1, r->worker, err);
}
