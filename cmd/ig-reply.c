/*
 * ig-reply — the reply engine and the human side of conversations.
 *
 * Reads routed events (JSON Lines from ig-route) on stdin, or with
 * --pending finds unanswered inbound messages in the store; answers them in
 * the voice of the account's agent (kb or openai engine) through the outbox
 * and the Send API.  Subcommands manage takeover (pause, resume, send,
 * assign, status, priority, conversations), review (drafts, approve,
 * reject), the outbox (list, retry, abandon), the knowledge base and the
 * templates.
 *
 * Writes one JSON line per reply sent or drafted (and per skip with
 * --explain) on stdout; diagnostics on stderr.
 *
 * Exit: 0 ok; 64 usage; 65 a bad input line (kept as a dead letter), an
 * unknown conversation / row, a human reply outside Meta's 7-day window;
 * 69 Meta refused a send; 74 store I/O; 75 a send failed temporarily or
 * became 'unknown'; 77 permission denied, or an account needs
 * re-authorisation; 78 configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "authz.h"
#include "common.h"
#include "graph.h"
#include "kb.h"
#include "outbox.h"
#include "events.h"
#include "inbox.h"
#include "kbadmin.h"
#include "reply.h"

enum {
	O_PENDING = OPT_PROGRAM, O_EXPLAIN, O_REVIEW, O_PARALLEL, O_HISTORY, O_ACCOUNT, O_LIMIT,
	O_TEXT, O_TEMPLATE, O_KEEP_AI, O_REASON, O_STATUS, O_AI, O_PRIORITY, O_ASSIGNEE,
	O_UNANSWERED, O_ESCALATED, O_STATE, O_CONVERSATION, O_AGENT, O_TITLE, O_BODY, O_TAGS
};

static void check_parallel(const char *o, const char *v) { (void)o; cmd_number("--parallel", v, 1, 256); }
static void check_history(const char *o, const char *v) { (void)o; cmd_number("--history", v, 1, 200); }
static void check_limit(const char *o, const char *v) { (void)o; cmd_number("--limit", v, 1, 100000000); }
static void check_conversation(const char *o, const char *v)
{
	(void)o;
	cmd_number("--conversation", v, 1, INT64_MAX);
}

static const struct cmd_optdef opts[] = {
	{ "pending", no_argument, O_PENDING, NULL,
	  "answer what the store holds unanswered (for cron), not stdin", NULL },
	{ "explain", no_argument, O_EXPLAIN, NULL,
	  "print a JSON line for every conversation skipped, and why", NULL },
	{ "dry-run", no_argument, OPT_DRY_RUN, NULL,
	  "print the answers without sending or changing anything", NULL },
	{ "review", no_argument, O_REVIEW, NULL,
	  "keep the answers as drafts for a human (see drafts, approve)", NULL },
	{ "parallel", required_argument, O_PARALLEL, "N", "requests in flight (default 16)",
	  check_parallel },
	{ "history", required_argument, O_HISTORY, "N",
	  "openai engine: messages of history in the prompt (default 10)", check_history },
	{ "account", required_argument, O_ACCOUNT, "ID",
	  "only conversations of this account (external id)", NULL },
	{ "limit", required_argument, O_LIMIT, "N",
	  "at most N conversations (--pending) or rows (listings)", check_limit },
	{ "text", required_argument, O_TEXT, "TEXT", "the reply's text (send, approve, templates add)", NULL },
	{ "template", required_argument, O_TEMPLATE, "NAME", "send a canned response instead of --text", NULL },
	{ "keep-ai", no_argument, O_KEEP_AI, NULL,
	  "send: leave the AI active (default: a human reply pauses it)", NULL },
	{ "reason", required_argument, O_REASON, "TEXT", "pause: why (shown in conversations)", NULL },
	{ "status", required_argument, O_STATUS, "S", "conversations: open, pending or closed", NULL },
	{ "ai", required_argument, O_AI, "STATE", "conversations: active or paused", NULL },
	{ "priority", required_argument, O_PRIORITY, "P", "conversations: P0 to P3", NULL },
	{ "assignee", required_argument, O_ASSIGNEE, "EMAIL", "conversations: assigned to this member", NULL },
	{ "unanswered", no_argument, O_UNANSWERED, NULL,
	  "conversations: only with unanswered inbound messages", NULL },
	{ "escalated", no_argument, O_ESCALATED, NULL, "conversations: only with an open escalation", NULL },
	{ "state", required_argument, O_STATE, "S",
	  "outbox list: draft, pending, sending, sent, failed, unknown, ...", NULL },
	{ "conversation", required_argument, O_CONVERSATION, "ID", "outbox list: rows of this conversation",
	  check_conversation },
	{ "agent", required_argument, O_AGENT, "NAME",
	  "the agent an article or template belongs to (default: tenant-wide)", NULL },
	{ "title", required_argument, O_TITLE, "T", "kb add: the article's title (else JSON Lines on stdin)", NULL },
	{ "body", required_argument, O_BODY, "B", "kb add: the article's text", NULL },
	{ "tags", required_argument, O_TAGS, "T", "kb add: words to find it by", NULL },
	{ 0 }
};

#define V(o) cmd_val(r, o)
#define LIMIT(r) cmd_val_number(r, O_LIMIT, 1, 100000000, 0)

static void emit_cb(void *cookie, const json_t *rec)
{
	(void)cookie;
	cmd_emit(rec);
}

static int64_t conv_arg(const char *s)
{
	return cmd_number("CONVERSATION", s, 1, INT64_MAX);
}

/* The tenant to act on: --tenant, the key's tenant, or (for the owner)
 * the conversation's own tenant when one is named. */
static int64_t tenant_for(struct cmd_run *r, int64_t conv)
{
	struct ig_ctx *ctx = &r->ctx;
	struct ig_err err = { 0 };
	int64_t t = 0;

	if (!r->o.tenant && !ctx->actor.tenant_id && conv) {
		if (ig_reply_conv_tenant(ctx->store, conv, &t, &err))
			die_err(&err);
		return t;
	}
	if (ig_ctx_tenant(ctx, r->o.tenant, &t, &err)) {
		if (err.code == IG_EX_USAGE)
			usage_error("%s", err.msg);
		die_err(&err);
	}
	return t;
}

static void graph_open(struct ig_ctx *ctx, struct ig_graph *g)
{
	struct ig_err err = { 0 };

	if (ig_graph_init(g, &ctx->cfg, cmd_verbose, &err))
		die_err(&err);
}

/* ------------------------------------------------------------ replying */

static void check_reply(struct cmd_run *r)
{
	if (V(OPT_DRY_RUN) && V(O_REVIEW))
		usage_error("--dry-run and --review exclude each other");
	if (V(O_LIMIT) && !V(O_PENDING))
		usage_error("--limit applies to --pending");
}

/* The routed-events loop's consumer: ig_reply's event and batch. */
static int on_event(void *arg, const json_t *ev, int64_t *key, int64_t *tenant,
		    struct ig_err *err)
{
	return ig_reply_event(arg, ev, key, tenant, err);
}

static int batch_failed;

static int on_batch(void *arg, const int64_t *keys, size_t n, struct ig_err *err)
{
	int rc = ig_reply_conversations(arg, keys, n, err);

	batch_failed = rc != 0;
	return rc;
}

static void on_report(void *arg, int code, const char *msg)
{
	warn("%s", msg);
	if (code == IG_EX_DATAERR)
		ig_reply_note(arg, IG_EX_DATAERR);
}

static void reply_stdin(struct ig_reply *rp, struct ig_ctx *ctx)
{
	static const struct ig_events_ops ops = { on_event, on_batch, on_report };
	struct ig_jsonl_reader rd;
	struct ig_err err = { 0 };
	int rc;

	cmd_stdin_hint("JSON Lines of routed events (ig-route's output)");
	ig_jsonl_reader_init(&rd, stdin, "stdin", IG_JSONL_MAX_DEFAULT);
	rc = ig_events_run(&rd, ctx->store, IG_REPLY_BATCH, &ops, rp, &err);
	if (rc)
		warn_err(&err);
	if (rc && batch_failed) {
		ig_reply_note(rp, rc);
		if (rc != IG_EX_TEMPFAIL)
			rp->worst = rc;
	} else if (rc) {
		rp->worst = rc;   /* a read error */
	}
	ig_jsonl_reader_release(&rd);
}

/* Every problem of a run on stderr, by tenant and account, so a cron run
 * that exits non-zero always says who and why (ig-reply(1) EXIT STATUS). */
static void report_problems(const struct ig_reply *rp)
{
	size_t i;
	json_t *p;

	json_array_foreach(rp->problems, i, p) {
		long long n = ig_json_int(p, "conversations", 1);
		const char *acct = ig_json_str(p, "account");

		warn("tenant '%s'%s%s: %s (%lld conversation%s, exit %lld)", ig_json_str(p, "tenant"),
		     acct && *acct ? " account " : "", acct ? acct : "", ig_json_str(p, "reason"), n,
		     n == 1 ? "" : "s", ig_json_int(p, "code", 0));
	}
}

/* The default: routed events on stdin, or --pending. */
static int cmd_reply(struct cmd_run *r)
{
	struct ig_ctx *ctx = &r->ctx;
	struct ig_reply_opts ro = { 0 };
	struct ig_reply rp;
	struct ig_graph g;
	struct ig_err err = { 0 };
	int rc;

	ro.dry_run = V(OPT_DRY_RUN) != NULL;
	ro.review = V(O_REVIEW) != NULL;
	ro.explain = V(O_EXPLAIN) != NULL;
	ro.parallel = (int)cmd_val_number(r, O_PARALLEL, 1, 256, 0);
	ro.history = (int)cmd_val_number(r, O_HISTORY, 1, 200, 0);
	ro.limit = LIMIT(r);
	if (r->o.tenant || ctx->actor.tenant_id)
		ro.tenant_id = tenant_for(r, 0);
	if (V(O_ACCOUNT) && ig_reply_account_id(ctx->store, ro.tenant_id, V(O_ACCOUNT),
						 &ro.account_id, &err))
		die_err(&err);
	graph_open(ctx, &g);
	if ((rc = ig_inbox_reply_init(&rp, ctx, &g, &ro, &err))) {
		ig_graph_release(&g);
		die_err(&err);
	}
	rp.emit = emit_cb;
	if (V(O_PENDING)) {
		if ((rc = ig_reply_pending(&rp, &err))) {
			warn_err(&err);
			ig_reply_note(&rp, rc);
			if (rc != IG_EX_TEMPFAIL && rc != IG_EX_NOPERM)
				rp.worst = rc;
		}
	} else {
		reply_stdin(&rp, ctx);
	}
	report_problems(&rp);
	if (rp.expired)
		warn("%ld outbox row%s left 'sending' by a stopped worker %s now 'unknown', not resent"
		     " (see 'ig-reply outbox list --state unknown')", rp.expired,
		     rp.expired == 1 ? "" : "s", rp.expired == 1 ? "is" : "are");
	note("sent %ld, drafted %ld, skipped %ld, escalated %ld, failed %ld, unknown %ld,"
	     " requeued %ld", rp.sent, rp.drafted, rp.skipped, rp.escalated, rp.failed, rp.unknown,
	     rp.requeued);
	rc = rp.worst;
	ig_reply_release(&rp);
	ig_graph_release(&g);
	return rc;
}

/* ------------------------------------------------------------ humans */

/* The exit code an item's outcome means. */
static int item_code(const struct ig_outbox_item *it)
{
	if (!strcmp(it->state, "sent") || !strcmp(it->state, "dry_run"))
		return 0;
	if (!strcmp(it->state, "unknown"))
		return IG_EX_TEMPFAIL;
	if (!it->state[0])
		return IG_EX_TEMPFAIL;   /* another worker holds it */
	return it->rc ? it->rc : IG_EX_TEMPFAIL;
}

static void check_send(struct cmd_run *r)
{
	if (!V(O_TEXT) == !V(O_TEMPLATE))
		usage_error("send takes --text or --template (one of them)");
	conv_arg(r->arg[0]);
}

static int cmd_send(struct cmd_run *r)
{
	struct ig_ctx *ctx = &r->ctx;
	struct ig_reply_opts ro = { 0 };
	struct ig_outbox_item it;
	struct ig_reply rp;
	struct ig_graph g;
	struct ig_err err = { 0 };
	int64_t conv = conv_arg(r->arg[0]), tenant = tenant_for(r, conv);
	json_t *rec;
	int rc;

	ro.dry_run = V(OPT_DRY_RUN) != NULL;
	ro.tenant_id = tenant;
	graph_open(ctx, &g);
	if ((rc = ig_reply_init(&rp, ctx, &g, &ro, &err)))
		die_err(&err);
	rc = ig_inbox_send(&rp, tenant, conv, V(O_TEXT), V(O_TEMPLATE), V(O_KEEP_AI) != NULL, &it,
			   &err);
	if (rc) {
		ig_outbox_item_release(&it);
		ig_reply_release(&rp);
		ig_graph_release(&g);
		die_err(&err);
	}
	rec = ig_outbox_item_json(&it);
	cmd_emit(rec);
	json_decref(rec);
	rc = item_code(&it);
	if (rc && it.error[0])
		warn("outbox %lld: %s", (long long)it.id, it.error);
	ig_outbox_item_release(&it);
	ig_reply_release(&rp);
	ig_graph_release(&g);
	return rc;
}

static void check_conv(struct cmd_run *r)
{
	conv_arg(r->arg[0]);
}

static int cmd_conv_change(struct cmd_run *r)
{
	static const struct { const char *name; enum ig_conv_change c; } table[] = {
		{ "pause", IG_CONV_PAUSE }, { "resume", IG_CONV_RESUME }, { "assign", IG_CONV_ASSIGN },
		{ "status", IG_CONV_STATUS }, { "priority", IG_CONV_PRIORITY },
	};
	struct ig_err err = { 0 };
	int64_t conv = conv_arg(r->arg[0]), tenant = tenant_for(r, conv);
	json_t *row;
	size_t i;

	for (i = 0; strcmp(table[i].name, r->what); i++)
		;
	if (ig_inbox_change(&r->ctx, tenant, conv, r->what, table[i].c,
			    table[i].c == IG_CONV_PAUSE ? V(O_REASON) : r->narg > 1 ? r->arg[1] : NULL,
			    &row, &err))
		die_err(&err);
	cmd_emit(row);
	json_decref(row);
	return 0;
}

static int listing(struct cmd_run *r, json_t *rows, const char *const *cols)
{
	struct ig_out out;
	size_t i;

	ig_out_init(&out, stdout, r->o.format, cols);
	for (i = 0; i < json_array_size(rows); i++)
		if (ig_out_row(&out, json_array_get(rows, i)))
			break;
	json_decref(rows);
	if (ig_out_finish(&out))
		die(IG_EX_IOERR, "cannot write to stdout:");
	return 0;
}

static int cmd_conversations(struct cmd_run *r)
{
	static const char *const cols[] = { "id", "account", "participant", "status", "priority",
		"assignee", "ai", "unanswered", "escalations", "last_inbound", NULL };
	struct ig_conv_filter f = { 0 };
	struct ig_err err = { 0 };
	int64_t tenant = tenant_for(r, 0);
	json_t *rows;

	f.status = V(O_STATUS);
	f.ai = V(O_AI);
	f.priority = V(O_PRIORITY);
	f.assignee = V(O_ASSIGNEE);
	f.account = V(O_ACCOUNT);
	f.unanswered = V(O_UNANSWERED) != NULL;
	f.escalated = V(O_ESCALATED) != NULL;
	f.limit = LIMIT(r);
	if (ig_inbox_list(&r->ctx, tenant, &f, &rows, &err))
		die_err(&err);
	return listing(r, rows, cols);
}

/* ------------------------------------------------------------ the outbox */

static const char *const outbox_cols[] = { "id", "conversation", "account", "origin", "state",
	"attempts", "mid", "text", "error", NULL };

static int cmd_outbox_list(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	int64_t tenant = tenant_for(r, 0);
	json_t *rows;

	if (ig_inbox_outbox(&r->ctx, tenant, !strcmp(r->what, "drafts") ? "draft" : V(O_STATE),
			    cmd_val_number(r, O_CONVERSATION, 1, INT64_MAX, 0), LIMIT(r), &rows, &err))
		die_err(&err);
	return listing(r, rows, outbox_cols);
}

static void check_id(struct cmd_run *r)
{
	cmd_number("ID", r->arg[0], 1, INT64_MAX);
}

/* Send a row just approved or retried, now. */
static int send_row(struct cmd_run *r, int64_t id)
{
	struct ig_reply_opts ro = { 0 };
	struct ig_err err = { 0 };
	struct ig_reply rp;
	struct ig_graph g;
	int rc;

	ro.explain = 1;   /* an AI row abandoned at the send is reported */
	graph_open(&r->ctx, &g);
	if (ig_reply_init(&rp, &r->ctx, &g, &ro, &err))
		die_err(&err);
	rp.emit = emit_cb;
	if ((rc = ig_reply_send_rows(&rp, &id, 1, &err))) {
		warn_err(&err);
		ig_reply_note(&rp, rc);
	}
	report_problems(&rp);
	if (rp.skipped) {
		warn("outbox row %lld was abandoned: its conversation is no longer the AI's",
		     (long long)id);
		ig_reply_note(&rp, IG_EX_DATAERR);
	} else if (!rp.sent && !rp.failed && !rp.unknown && !rp.requeued) {
		ig_reply_note(&rp, IG_EX_TEMPFAIL);   /* another worker holds it */
	}
	rc = rp.worst;
	ig_reply_release(&rp);
	ig_graph_release(&g);
	return rc;
}

static int cmd_decide(struct cmd_run *r)
{
	const char *verb = strchr(r->what, ' ') ? strchr(r->what, ' ') + 1 : r->what;
	enum ig_outbox_action action = !strcmp(verb, "approve") ? IG_OB_APPROVE
		: !strcmp(verb, "retry") ? IG_OB_RETRY : !strcmp(verb, "reject") ? IG_OB_REJECT
		: IG_OB_ABANDON;
	struct ig_err err = { 0 };
	int64_t id = cmd_number("ID", r->arg[0], 1, INT64_MAX), tenant = tenant_for(r, 0);
	json_t *rec;

	if (ig_inbox_decide(&r->ctx, tenant, id, action, V(O_TEXT), &err))
		die_err(&err);
	if (action == IG_OB_APPROVE || action == IG_OB_RETRY)
		return send_row(r, id);
	rec = json_pack("{s:I,s:s}", "outbox", (json_int_t)id, "state",
			action == IG_OB_REJECT ? "rejected" : "abandoned");
	cmd_emit(rec);
	json_decref(rec);
	return 0;
}

/* ------------------------------------------------------------ kb, templates */

static int emit_all(json_t *recs, int rc)
{
	size_t k;

	for (k = 0; k < json_array_size(recs); k++)
		cmd_emit(json_array_get(recs, k));
	json_decref(recs);
	return rc;
}

static void check_kb_add(struct cmd_run *r)
{
	if ((V(O_TITLE) || V(O_BODY) || V(O_TAGS)) && !(V(O_TITLE) && V(O_BODY)))
		usage_error("kb add takes --title and --body together");
}

static void kb_report(void *arg, const char *msg)
{
	(void)arg;
	warn("%s", msg);
}

static int cmd_kb_add(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	int64_t tenant = tenant_for(r, 0);
	struct ig_jsonl_reader rd;
	json_t *out;
	int rc;

	if (V(O_TITLE)) {
		if (ig_kbadmin_add(&r->ctx, tenant, V(O_AGENT), V(O_TITLE), V(O_BODY), V(O_TAGS), &out,
				   &err))
			die_err(&err);
		cmd_emit(out);
		json_decref(out);
		return 0;
	}
	/* JSON Lines {"title","body","tags","agent"}: a bad line is reported and
	 * skipped, the others are added (one transaction) */
	cmd_stdin_hint("JSON Lines of articles {\"title\",\"body\",\"tags\",\"agent\"}");
	ig_jsonl_reader_init(&rd, stdin, "stdin", IG_JSONL_MAX_DEFAULT);
	rc = ig_kbadmin_import(&r->ctx, tenant, V(O_AGENT), V(O_TAGS), &rd, kb_report, NULL, &out,
			       &err);
	ig_jsonl_reader_release(&rd);
	if (!out)
		die_err(&err);
	return emit_all(out, rc);
}

static int cmd_kb_list(struct cmd_run *r)
{
	static const char *const cols[] = { "id", "agent", "title", "tags", "body", NULL };
	struct ig_err err = { 0 };
	int64_t tenant = tenant_for(r, 0);
	json_t *rows;

	if (ig_kbadmin_list(&r->ctx, tenant, V(O_AGENT), &rows, &err))
		die_err(&err);
	return listing(r, rows, cols);
}

static int cmd_kb_search(struct cmd_run *r)
{
	static const char *const cols[] = { "kind", "id", "title", "coverage", "bm25", NULL };
	struct ig_err err = { 0 };
	int64_t tenant = tenant_for(r, 0);
	json_t *rows;

	if (ig_kbadmin_search(&r->ctx, tenant, V(O_AGENT), r->arg[0], LIMIT(r), &rows, &err))
		die_err(&err);
	return listing(r, rows, cols);
}

static int cmd_kb_rm(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	int64_t id = cmd_number("ID", r->arg[0], 1, INT64_MAX), tenant = tenant_for(r, 0);
	json_t *out;

	if (ig_kbadmin_rm(&r->ctx, tenant, id, &out, &err))
		die_err(&err);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

static int cmd_kb_explain(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	int64_t tenant = tenant_for(r, 0);
	json_t *out;

	if (ig_kbadmin_explain(&r->ctx, tenant, V(O_AGENT), r->arg[0], &out, &err))
		die_err(&err);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

static int cmd_kb_synonyms(struct cmd_run *r)
{
	static const char *const cols[] = { "word", "agent", "alts", NULL };
	const char *const *alts = (const char *const *)r->arg + 1;
	struct ig_err err = { 0 };
	int64_t tenant = tenant_for(r, 0);
	json_t *out;
	int rc;

	if (!strcmp(r->what, "kb synonyms list")) {
		if (ig_kbadmin_synonyms_list(&r->ctx, tenant, V(O_AGENT), &out, &err))
			die_err(&err);
		return listing(r, out, cols);
	}
	rc = !strcmp(r->what, "kb synonyms add")
		? ig_kbadmin_synonyms_add(&r->ctx, tenant, V(O_AGENT), r->arg[0], alts, r->narg - 1,
					  &out, &err)
		: ig_kbadmin_synonyms_rm(&r->ctx, tenant, V(O_AGENT), r->arg[0], alts, r->narg - 1,
					 &out, &err);
	if (rc)
		die_err(&err);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

static void check_template_add(struct cmd_run *r)
{
	if (!V(O_TEXT))
		usage_error("templates add takes NAME and --text TEXT");
}

static int cmd_templates(struct cmd_run *r)
{
	static const char *const cols[] = { "name", "agent", "text", NULL };
	struct ig_err err = { 0 };
	int64_t tenant = tenant_for(r, 0);
	int rc;
	json_t *out;

	if (!strcmp(r->what, "templates list")) {
		if (ig_kbadmin_templates(&r->ctx, tenant, &out, &err))
			die_err(&err);
		return listing(r, out, cols);
	}
	rc = !strcmp(r->what, "templates add")
		? ig_kbadmin_template_add(&r->ctx, tenant, V(O_AGENT), r->arg[0], V(O_TEXT), &out, &err)
		: ig_kbadmin_template_rm(&r->ctx, tenant, r->arg[0], &out, &err);
	if (rc)
		die_err(&err);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

/* ------------------------------------------------------------ the command table */

static const int o_reply[] = {
	O_PENDING, O_EXPLAIN, OPT_DRY_RUN, O_REVIEW, O_PARALLEL, O_HISTORY, O_ACCOUNT, O_LIMIT, 0
};
static const int o_send[] = { O_TEXT, O_TEMPLATE, O_KEEP_AI, OPT_DRY_RUN, 0 };
static const int o_reason[] = { O_REASON, 0 };
static const int o_conversations[] = {
	O_STATUS, O_AI, O_PRIORITY, O_ASSIGNEE, O_ACCOUNT, O_UNANSWERED, O_ESCALATED, O_LIMIT, 0
};
static const int o_drafts[] = { O_CONVERSATION, O_LIMIT, 0 };
static const int o_outbox[] = { O_STATE, O_CONVERSATION, O_LIMIT, 0 };
static const int o_text[] = { O_TEXT, 0 };
static const int o_kb_add[] = { O_TITLE, O_BODY, O_TAGS, O_AGENT, 0 };
static const int o_agent[] = { O_AGENT, 0 };
static const int o_kb_search[] = { O_AGENT, O_LIMIT, 0 };
static const int o_template_add[] = { O_TEXT, O_AGENT, 0 };

#define S_ CMD_STORE

static const struct cmd_row rows[] = {
	{ NULL, cmd_reply, S_, o_reply, 0, 0, "",
	  "answer routed events on stdin, or with --pending what the store holds", NULL, check_reply },
	{ "pause", cmd_conv_change, S_, o_reason, 1, 1, "CONVERSATION",
	  "a human takes over: the AI stops answering", NULL, check_conv },
	{ "resume", cmd_conv_change, S_, NULL, 1, 1, "CONVERSATION",
	  "give the conversation back to the AI", NULL, check_conv },
	{ "send", cmd_send, S_, o_send, 1, 1, "CONVERSATION",
	  "a human reply (--text TEXT | --template NAME)", NULL, check_send },
	{ "assign", cmd_conv_change, S_, NULL, 2, 2, "CONVERSATION USER|-",
	  "assign to a member ('-': nobody)", NULL, check_conv },
	{ "status", cmd_conv_change, S_, NULL, 2, 2, "CONVERSATION open|pending|closed",
	  "set the status", NULL, check_conv },
	{ "priority", cmd_conv_change, S_, NULL, 2, 2, "CONVERSATION P0|P1|P2|P3",
	  "set the priority", NULL, check_conv },
	{ "conversations", cmd_conversations, S_, o_conversations, 0, 0, "",
	  "list conversations", NULL, NULL },
	{ "drafts", cmd_outbox_list, S_, o_drafts, 0, 0, "", "answers waiting for review", NULL, NULL },
	{ "approve", cmd_decide, S_, o_text, 1, 1, "ID", "send a draft (with --text: edited)", NULL,
	  check_id },
	{ "reject", cmd_decide, S_, NULL, 1, 1, "ID", "drop a draft", NULL, check_id },
	{ "outbox list", cmd_outbox_list, S_, o_outbox, 0, 0, "", "the outbox's rows", NULL, NULL },
	{ "outbox retry", cmd_decide, S_, NULL, 1, 1, "ID", "send a failed row again", NULL, check_id },
	{ "outbox abandon", cmd_decide, S_, NULL, 1, 1, "ID", "give up on a row", NULL, check_id },
	{ "kb add", cmd_kb_add, S_, o_kb_add, 0, 0, "",
	  "add an article (--title/--body, or JSON Lines on stdin)", NULL, check_kb_add },
	{ "kb list", cmd_kb_list, S_, o_agent, 0, 0, "", "list the articles", NULL, NULL },
	{ "kb rm", cmd_kb_rm, S_, NULL, 1, 1, "ID", "remove an article", NULL, check_id },
	{ "kb search", cmd_kb_search, S_, o_kb_search, 1, 1, "TEXT",
	  "what the reply engine would find for TEXT", NULL, NULL },
	{ "kb explain", cmd_kb_explain, S_, o_agent, 1, 1, "TEXT",
	  "why the reply engine would answer TEXT or escalate", NULL, NULL },
	{ "kb synonyms add", cmd_kb_synonyms, S_, o_agent, 2, 64, "WORD ALT...",
	  "words the business uses for the same thing", NULL, NULL },
	{ "kb synonyms list", cmd_kb_synonyms, S_, o_agent, 0, 0, "", "list the synonyms", NULL,
	  NULL },
	{ "kb synonyms rm", cmd_kb_synonyms, S_, o_agent, 1, 64, "WORD [ALT...]",
	  "remove a word's synonyms (only ALT... when given)", NULL, NULL },
	{ "templates add", cmd_templates, S_, o_template_add, 1, 1, "NAME",
	  "add a canned response (--text TEXT)", NULL, check_template_add },
	{ "templates list", cmd_templates, S_, NULL, 0, 0, "", "list the templates", NULL, NULL },
	{ "templates rm", cmd_templates, S_, NULL, 1, 1, "NAME", "remove a template", NULL, NULL },
	{ 0 }
};

static const struct cmd_program program = {
	"Answer customers' messages in the voice of the account's agent, through the outbox.",
	NULL, opts, rows, "subcommand", CMD_SAY_TO,
	"Usage: ig-reply [OPTIONS] < routed-events.jsonl\n"
	"       ig-reply --pending [OPTIONS]\n"
	"       ig-reply SUBCOMMAND [ARGS] [OPTIONS]\n"
};

static void kb_notice(const char *msg)
{
	warn("%s", msg);
}

int main(int argc, char **argv)
{
	ig_kb_set_notice(kb_notice);   /* "no stemmer for language 'xx'", once */
	atexit(ig_kb_release_cache);
	return cmd_main(&program, argc, argv);
}
