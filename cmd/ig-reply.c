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
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "authz.h"
#include "common.h"
#include "graph.h"
#include "kb.h"
#include "outbox.h"
#include "reply.h"

static const char help[] =
	"Usage: ig-reply [OPTIONS] < routed-events.jsonl\n"
	"       ig-reply --pending [OPTIONS]\n"
	"       ig-reply pause|resume CONVERSATION [--reason TEXT]\n"
	"       ig-reply send CONVERSATION (--text TEXT | --template NAME) [--keep-ai] [--dry-run]\n"
	"       ig-reply assign CONVERSATION USER|-\n"
	"       ig-reply status CONVERSATION open|pending|closed\n"
	"       ig-reply priority CONVERSATION P0|P1|P2|P3\n"
	"       ig-reply conversations [--status S] [--ai active|paused] [--priority P]\n"
	"                              [--assignee EMAIL] [--account ID] [--unanswered] [--escalated]\n"
	"       ig-reply drafts | approve ID [--text TEXT] | reject ID\n"
	"       ig-reply outbox list [--state S] [--conversation ID] | outbox retry|abandon ID\n"
	"       ig-reply kb add [--title T --body B [--tags T]] [--agent NAME] | kb list | kb rm ID\n"
	"       ig-reply kb search TEXT [--agent NAME]\n"
	"       ig-reply templates add NAME --text TEXT [--agent NAME] | templates list | templates rm NAME\n"
	"Answer customers' messages in the voice of the account's agent, through the outbox.\n"
	"\n"
	"Replying:\n"
	"      --pending          answer what the store holds unanswered (for cron), not stdin\n"
	"      --explain          print a JSON line for every conversation skipped, and why\n"
	"      --dry-run          print the answers without sending or changing anything\n"
	"      --review           keep the answers as drafts for a human (see drafts, approve)\n"
	"      --parallel N       requests in flight (default 16)\n"
	"      --history N        openai engine: messages of history in the prompt (default 10)\n"
	"      --account ID       only conversations of this account (external id)\n"
	"      --limit N          at most N conversations (--pending) or rows (listings)\n"
	"Humans and listings:\n"
	"      --text TEXT        the reply's text (send, approve, templates add)\n"
	"      --template NAME    send a canned response instead of --text\n"
	"      --keep-ai          send: leave the AI active (default: a human reply pauses it)\n"
	"      --reason TEXT      pause: why (shown in conversations)\n"
	"      --status S         conversations: open, pending or closed\n"
	"      --ai STATE         conversations: active or paused\n"
	"      --priority P       conversations: P0 to P3\n"
	"      --assignee EMAIL   conversations: assigned to this member\n"
	"      --unanswered       conversations: only with unanswered inbound messages\n"
	"      --escalated        conversations: only with an open escalation\n"
	"      --state S          outbox list: draft, pending, sending, sent, failed, unknown, ...\n"
	"      --conversation ID  outbox list: rows of this conversation\n"
	"Knowledge base and templates:\n"
	"      --agent NAME       the agent an article or template belongs to (default: tenant-wide)\n"
	"      --title T          kb add: the article's title (else JSON Lines on stdin)\n"
	"      --body B           kb add: the article's text\n"
	"      --tags T           kb add: words to find it by\n"
	"Shared:\n";

enum {
	O_PENDING = OPT_PROGRAM, O_EXPLAIN, O_REVIEW, O_PARALLEL, O_HISTORY, O_ACCOUNT, O_LIMIT,
	O_TEXT, O_TEMPLATE, O_KEEP_AI, O_REASON, O_STATUS, O_AI, O_PRIORITY, O_ASSIGNEE,
	O_UNANSWERED, O_ESCALATED, O_STATE, O_CONVERSATION, O_AGENT, O_TITLE, O_BODY, O_TAGS,
	O_DRY_RUN, O_END
};

static const struct option longopts[] = {
	CMD_COMMON_LONG,
	{ "pending", no_argument, NULL, O_PENDING },
	{ "explain", no_argument, NULL, O_EXPLAIN },
	{ "dry-run", no_argument, NULL, O_DRY_RUN },
	{ "review", no_argument, NULL, O_REVIEW },
	{ "parallel", required_argument, NULL, O_PARALLEL },
	{ "history", required_argument, NULL, O_HISTORY },
	{ "account", required_argument, NULL, O_ACCOUNT },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "text", required_argument, NULL, O_TEXT },
	{ "template", required_argument, NULL, O_TEMPLATE },
	{ "keep-ai", no_argument, NULL, O_KEEP_AI },
	{ "reason", required_argument, NULL, O_REASON },
	{ "status", required_argument, NULL, O_STATUS },
	{ "ai", required_argument, NULL, O_AI },
	{ "priority", required_argument, NULL, O_PRIORITY },
	{ "assignee", required_argument, NULL, O_ASSIGNEE },
	{ "unanswered", no_argument, NULL, O_UNANSWERED },
	{ "escalated", no_argument, NULL, O_ESCALATED },
	{ "state", required_argument, NULL, O_STATE },
	{ "conversation", required_argument, NULL, O_CONVERSATION },
	{ "agent", required_argument, NULL, O_AGENT },
	{ "title", required_argument, NULL, O_TITLE },
	{ "body", required_argument, NULL, O_BODY },
	{ "tags", required_argument, NULL, O_TAGS },
	{ NULL, 0, NULL, 0 }
};

#define BIT(o) (1u << ((o) - OPT_PROGRAM))

struct opts {
	struct cmd_opts c;
	unsigned used;     /* BIT(option) of every program option given */
	int pending, explain, dry_run, review, keep_ai, unanswered, escalated;
	long parallel, history, limit;
	int64_t conversation;
	const char *account, *text, *template, *reason, *status, *ai, *priority, *assignee;
	const char *state, *agent, *title, *body, *tags;
};

static char *full_help;

static void parse(int argc, char **argv, const char *shortopts, struct opts *o)
{
	int c;

	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (cmd_option(&o->c, c, optarg, full_help))
			continue;
		if (c >= OPT_PROGRAM && c < O_END)
			o->used |= BIT(c);
		switch (c) {
		case O_PENDING: o->pending = 1; break;
		case O_EXPLAIN: o->explain = 1; break;
		case O_DRY_RUN: o->dry_run = 1; break;
		case O_REVIEW: o->review = 1; break;
		case O_PARALLEL: o->parallel = (long)cmd_number("--parallel", optarg, 1, 256); break;
		case O_HISTORY: o->history = (long)cmd_number("--history", optarg, 1, 200); break;
		case O_ACCOUNT: o->account = optarg; break;
		case O_LIMIT: o->limit = (long)cmd_number("--limit", optarg, 1, 100000000); break;
		case O_TEXT: o->text = optarg; break;
		case O_TEMPLATE: o->template = optarg; break;
		case O_KEEP_AI: o->keep_ai = 1; break;
		case O_REASON: o->reason = optarg; break;
		case O_STATUS: o->status = optarg; break;
		case O_AI: o->ai = optarg; break;
		case O_PRIORITY: o->priority = optarg; break;
		case O_ASSIGNEE: o->assignee = optarg; break;
		case O_UNANSWERED: o->unanswered = 1; break;
		case O_ESCALATED: o->escalated = 1; break;
		case O_STATE: o->state = optarg; break;
		case O_CONVERSATION:
			o->conversation = cmd_number("--conversation", optarg, 1, INT64_MAX);
			break;
		case O_AGENT: o->agent = optarg; break;
		case O_TITLE: o->title = optarg; break;
		case O_BODY: o->body = optarg; break;
		case O_TAGS: o->tags = optarg; break;
		default:
			usage_error("unexpected option");
		}
	}
}

/* Refuse options that mean nothing to this subcommand. */
static void only(const struct opts *o, const char *what, unsigned allowed)
{
	unsigned extra = o->used & ~allowed;
	int i;

	if (!extra)
		return;
	for (i = 0; longopts[i].name; i++)
		if (longopts[i].val >= OPT_PROGRAM && longopts[i].val < O_END
		    && (extra & BIT(longopts[i].val)))
			usage_error("--%s does not apply to %s", longopts[i].name, what);
}

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
static int64_t tenant_for(struct ig_ctx *ctx, const struct opts *o, int64_t conv)
{
	struct ig_err err = { 0 };
	int64_t t = 0;

	if (!o->c.tenant && !ctx->actor.tenant_id && conv) {
		if (ig_reply_conv_tenant(ctx->store, conv, &t, &err))
			die_err(&err);
		return t;
	}
	if (ig_ctx_tenant(ctx, o->c.tenant, &t, &err)) {
		if (err.code == IG_EX_USAGE)
			usage_error("%s", err.msg);
		die_err(&err);
	}
	return t;
}

static void require(struct ig_ctx *ctx, int64_t tenant, enum ig_module m, enum ig_access a,
		    const char *action)
{
	struct ig_err err = { 0 };

	if (ig_authz_require(ctx, tenant, m, a, action, &err))
		die_err(&err);
}

static void graph_open(struct ig_ctx *ctx, struct ig_graph *g)
{
	struct ig_err err = { 0 };

	if (ig_graph_init(g, &ctx->cfg, cmd_verbose, &err))
		die_err(&err);
}

static int64_t account_id_of(struct ig_ctx *ctx, const char *ext, int64_t tenant)
{
	struct ig_err err = { 0 };
	int64_t id;

	if (ig_reply_account_id(ctx->store, tenant, ext, &id, &err))
		die_err(&err);
	return id;
}

static int input_ready(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* ops: every problem of a run on stderr, by tenant and account, so a cron
 * run that exits non-zero always says who and why (ig-reply(1) EXIT STATUS). */
static void report_problems(const struct ig_reply *r)
{
	size_t i;
	json_t *p;

	json_array_foreach(r->problems, i, p) {
		long long n = ig_json_int(p, "conversations", 1);
		const char *acct = ig_json_str(p, "account");

		warn("tenant '%s'%s%s: %s (%lld conversation%s, exit %lld)", ig_json_str(p, "tenant"),
		     acct && *acct ? " account " : "", acct ? acct : "", ig_json_str(p, "reason"), n,
		     n == 1 ? "" : "s", ig_json_int(p, "code", 0));
	}
}

/* The default mode and --pending. */
static int cmd_reply(struct ig_ctx *ctx, struct opts *o)
{
	struct ig_reply_opts ro = { 0 };
	struct ig_reply r;
	struct ig_graph g;
	struct ig_err err = { 0 };
	int rc;

	if (o->dry_run && o->review)
		usage_error("--dry-run and --review exclude each other");
	ro.dry_run = o->dry_run;
	ro.review = o->review;
	ro.explain = o->explain;
	ro.parallel = (int)o->parallel;
	ro.history = (int)o->history;
	ro.limit = o->limit;
	if (o->c.tenant || ctx->actor.tenant_id)
		ro.tenant_id = tenant_for(ctx, o, 0);
	require(ctx, ro.tenant_id, IG_MOD_CONVERSATIONS, IG_WRITE, "reply.run");
	if (o->account)
		ro.account_id = account_id_of(ctx, o->account, ro.tenant_id);
	graph_open(ctx, &g);
	if ((rc = ig_reply_init(&r, ctx, &g, &ro, &err))) {
		ig_graph_release(&g);
		die_err(&err);
	}
	r.emit = emit_cb;
	if (o->pending) {
		if ((rc = ig_reply_pending(&r, &err))) {
			warn_err(&err);
			ig_reply_note(&r, rc);
			if (rc != IG_EX_TEMPFAIL && rc != IG_EX_NOPERM)
				r.worst = rc;
		}
	} else {
		struct ig_jsonl_reader rd;
		int64_t ids[IG_REPLY_BATCH];
		size_t n = 0, i;
		json_t *v;

		ig_jsonl_reader_init(&rd, stdin, "stdin", IG_JSONL_MAX_DEFAULT);
		for (;;) {
			int more = ig_jsonl_next(&rd, &v, &err);
			int64_t conv, tenant;

			if (more < 0) {
				warn_err(&err);
				r.worst = IG_EX_IOERR;
				break;
			}
			if (more == 1) {
				if (!v) {
					/* keep the bad line, go on */
					warn_err(&err);
					ig_reply_note(&r, IG_EX_DATAERR);
					if (ig_reply_dead_letter(ctx->store, 0, err.msg, rd.raw.data,
								 rd.raw.len, &err))
						warn_err(&err);
				} else if (ig_reply_event(&r, v, &conv, &tenant, &err)) {
					char msg[sizeof(err.msg)];

					snprintf(msg, sizeof(msg), "stdin:%ld: %.980s", rd.line, err.msg);
					warn("%s", msg);
					ig_reply_note(&r, IG_EX_DATAERR);
					if (ig_reply_dead_letter(ctx->store, tenant, msg, rd.raw.data,
								 rd.raw.len, &err))
						warn_err(&err);
				} else if (conv) {
					for (i = 0; i < n && ids[i] != conv; i++)
						;
					if (i == n)
						ids[n++] = conv;
				}
				json_decref(v);
				ig_err_clear(&err);
			}
			/* A batch ends when it is full, at the end of input, or when
			 * the writer pauses (ig-route in a live pipe). */
			if (n && (more == 0 || n == IG_REPLY_BATCH || !input_ready())) {
				if ((rc = ig_reply_conversations(&r, ids, n, &err))) {
					warn_err(&err);
					ig_reply_note(&r, rc);
					if (rc != IG_EX_TEMPFAIL)
						r.worst = rc;
					break;
				}
				n = 0;
			}
			if (more == 0)
				break;
		}
		ig_jsonl_reader_release(&rd);
	}
	report_problems(&r);
	if (r.expired)
		warn("%ld outbox row%s left 'sending' by a stopped worker %s now 'unknown', not resent"
		     " (see 'ig-reply outbox list --state unknown')", r.expired,
		     r.expired == 1 ? "" : "s", r.expired == 1 ? "is" : "are");
	note("sent %ld, drafted %ld, skipped %ld, escalated %ld, failed %ld, unknown %ld,"
	     " requeued %ld", r.sent, r.drafted, r.skipped, r.escalated, r.failed, r.unknown,
	     r.requeued);
	rc = r.worst;
	ig_reply_release(&r);
	ig_graph_release(&g);
	return rc;
}

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

static int cmd_send(struct ig_ctx *ctx, struct opts *o, int argc, char **argv)
{
	struct ig_reply_opts ro = { 0 };
	struct ig_outbox_item it;
	struct ig_reply r;
	struct ig_graph g;
	struct ig_err err = { 0 };
	int64_t conv, tenant;
	json_t *rec;
	int rc;

	only(o, "send", BIT(O_TEXT) | BIT(O_TEMPLATE) | BIT(O_KEEP_AI) | BIT(O_DRY_RUN));
	if (argc != 1)
		usage_error("send takes one CONVERSATION");
	if (!o->text == !o->template)
		usage_error("send takes --text or --template (one of them)");
	conv = conv_arg(argv[0]);
	tenant = tenant_for(ctx, o, conv);
	require(ctx, tenant, IG_MOD_CONVERSATIONS, IG_WRITE, "conversation.send");
	ro.dry_run = o->dry_run;
	graph_open(ctx, &g);
	if ((rc = ig_reply_init(&r, ctx, &g, &ro, &err)))
		die_err(&err);
	rc = ig_reply_human_send(&r, tenant, conv, o->text, o->template, o->keep_ai, &it, &err);
	if (rc) {
		ig_outbox_item_release(&it);
		ig_reply_release(&r);
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
	ig_reply_release(&r);
	ig_graph_release(&g);
	return rc;
}

static int cmd_conv_change(struct ig_ctx *ctx, struct opts *o, const char *what, int argc,
			   char **argv)
{
	static const struct { const char *name; enum ig_conv_change c; int nargs; } table[] = {
		{ "pause", IG_CONV_PAUSE, 1 }, { "resume", IG_CONV_RESUME, 1 },
		{ "assign", IG_CONV_ASSIGN, 2 }, { "status", IG_CONV_STATUS, 2 },
		{ "priority", IG_CONV_PRIORITY, 2 },
	};
	struct ig_err err = { 0 };
	int64_t conv, tenant;
	json_t *row;
	size_t i;

	for (i = 0; strcmp(table[i].name, what); i++)
		;
	only(o, what, table[i].c == IG_CONV_PAUSE ? BIT(O_REASON) : 0);
	if (argc != table[i].nargs)
		usage_error("%s takes %s", what, table[i].nargs == 1 ? "one CONVERSATION"
			    : table[i].c == IG_CONV_ASSIGN ? "CONVERSATION USER (or -)"
			    : table[i].c == IG_CONV_STATUS ? "CONVERSATION open|pending|closed"
			    : "CONVERSATION P0|P1|P2|P3");
	conv = conv_arg(argv[0]);
	tenant = tenant_for(ctx, o, conv);
	require(ctx, tenant, IG_MOD_CONVERSATIONS, IG_WRITE, what);
	if (ig_reply_conv_change(ctx, tenant, conv, table[i].c,
				 table[i].c == IG_CONV_PAUSE ? o->reason : argc > 1 ? argv[1] : NULL,
				 &err))
		die_err(&err);
	if (ig_reply_conv_json(ctx->store, tenant, conv, &row, &err))
		die_err(&err);
	cmd_emit(row);
	json_decref(row);
	return 0;
}

static int listing(const struct opts *o, json_t *rows, const char *const *cols)
{
	struct ig_out out;
	size_t i;

	ig_out_init(&out, stdout, o->c.format, cols);
	for (i = 0; i < json_array_size(rows); i++)
		if (ig_out_row(&out, json_array_get(rows, i)))
			break;
	json_decref(rows);
	if (ig_out_finish(&out))
		die(IG_EX_IOERR, "cannot write to stdout:");
	return 0;
}

static int cmd_conversations(struct ig_ctx *ctx, struct opts *o, int argc)
{
	static const char *const cols[] = { "id", "account", "participant", "status", "priority",
		"assignee", "ai", "unanswered", "escalations", "last_inbound", NULL };
	struct ig_conv_filter f = { 0 };
	struct ig_err err = { 0 };
	int64_t tenant;
	json_t *rows;

	only(o, "conversations", BIT(O_STATUS) | BIT(O_AI) | BIT(O_PRIORITY) | BIT(O_ASSIGNEE)
	     | BIT(O_ACCOUNT) | BIT(O_UNANSWERED) | BIT(O_ESCALATED) | BIT(O_LIMIT));
	if (argc)
		usage_error("conversations takes no arguments");
	tenant = tenant_for(ctx, o, 0);
	require(ctx, tenant, IG_MOD_CONVERSATIONS, IG_READ, "conversation.list");
	f.status = o->status;
	f.ai = o->ai;
	f.priority = o->priority;
	f.assignee = o->assignee;
	f.account = o->account;
	f.unanswered = o->unanswered;
	f.escalated = o->escalated;
	f.limit = o->limit;
	if (ig_reply_conv_list(ctx->store, tenant, &f, &rows, &err))
		die_err(&err);
	return listing(o, rows, cols);
}

static const char *const outbox_cols[] = { "id", "conversation", "account", "origin", "state",
	"attempts", "mid", "text", "error", NULL };

static int cmd_outbox(struct ig_ctx *ctx, struct opts *o, const char *sub, int argc, char **argv)
{
	struct ig_err err = { 0 };
	int64_t tenant, id;
	json_t *rows;
	int action, rc;

	if (!strcmp(sub, "drafts") || !strcmp(sub, "list")) {
		if (!strcmp(sub, "drafts")) {
			only(o, "drafts", BIT(O_CONVERSATION) | BIT(O_LIMIT));
			o->state = "draft";
		} else {
			only(o, "outbox list", BIT(O_STATE) | BIT(O_CONVERSATION) | BIT(O_LIMIT));
		}
		if (argc)
			usage_error("%s takes no arguments", sub);
		tenant = tenant_for(ctx, o, 0);
		require(ctx, tenant, IG_MOD_CONVERSATIONS, IG_READ, "outbox.list");
		if (ig_outbox_list(ctx->store, tenant, o->state, o->conversation, o->limit, &rows, &err))
			die_err(&err);
		return listing(o, rows, outbox_cols);
	}
	action = !strcmp(sub, "approve") ? IG_OB_APPROVE : !strcmp(sub, "retry") ? IG_OB_RETRY
		: !strcmp(sub, "reject") ? IG_OB_REJECT : IG_OB_ABANDON;
	only(o, sub, action == IG_OB_APPROVE ? BIT(O_TEXT) : 0);
	if (argc != 1)
		usage_error("%s takes one outbox ID", sub);
	id = cmd_number("ID", argv[0], 1, INT64_MAX);
	tenant = tenant_for(ctx, o, 0);
	require(ctx, tenant, IG_MOD_CONVERSATIONS, IG_WRITE, "outbox.decide");
	if (ig_outbox_decide(ctx, tenant, id, (enum ig_outbox_action)action, o->text, &err))
		die_err(&err);
	if (action == IG_OB_APPROVE || action == IG_OB_RETRY) {
		struct ig_reply_opts ro = { 0 };
		struct ig_reply r;
		struct ig_graph g;

		ro.explain = 1;   /* an AI row abandoned at the send is reported */
		graph_open(ctx, &g);
		if (ig_reply_init(&r, ctx, &g, &ro, &err))
			die_err(&err);
		r.emit = emit_cb;
		rc = ig_reply_send_rows(&r, &id, 1, &err);
		if (rc) {
			warn_err(&err);
			ig_reply_note(&r, rc);
		}
		report_problems(&r);
		if (r.skipped) {
			warn("outbox row %lld was abandoned: its conversation is no longer the AI's",
			     (long long)id);
			ig_reply_note(&r, IG_EX_DATAERR);
		} else if (!r.sent && !r.failed && !r.unknown && !r.requeued) {
			ig_reply_note(&r, IG_EX_TEMPFAIL);   /* another worker holds it */
		}
		rc = r.worst;
		ig_reply_release(&r);
		ig_graph_release(&g);
		return rc;
	}
	rows = json_pack("{s:I,s:s}", "outbox", (json_int_t)id, "state",
			 action == IG_OB_REJECT ? "rejected" : "abandoned");
	cmd_emit(rows);
	json_decref(rows);
	return 0;
}

static int64_t agent_arg(struct ig_ctx *ctx, int64_t tenant, const char *name)
{
	struct ig_err err = { 0 };
	int64_t id = 0;

	if (name && ig_ctx_agent(ctx, tenant, name, &id, &err))
		die_err(&err);
	return id;
}

/* Add one article and its audit row inside the open transaction; its
 * record goes on done (printed once the transaction is committed). */
static int kb_add_one(struct ig_ctx *ctx, int64_t tenant, int64_t agent, const char *agent_name,
		      const char *title, const char *body, const char *tags, json_t *done,
		      struct ig_err *err)
{
	char target[48];
	json_t *d, *rec;
	int64_t id;
	int rc;

	if ((rc = ig_kb_add(ctx->store, tenant, agent, title, body, tags, &id, err)))
		return rc;
	snprintf(target, sizeof(target), "kb:%lld", (long long)id);
	d = json_pack("{s:s,s:s?}", "title", title, "agent", agent_name);
	rc = ig_audit(ctx, tenant, "kb.add", target, "ok", d, err);
	json_decref(d);
	if (rc)
		return rc;
	rec = json_pack("{s:I,s:s,s:s?}", "id", (json_int_t)id, "title", title, "agent", agent_name);
	if (!rec || json_array_append_new(done, rec))
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	return 0;
}

static int cmd_kb(struct ig_ctx *ctx, struct opts *o, int argc, char **argv)
{
	static const char *const cols[] = { "id", "agent", "title", "tags", "body", NULL };
	struct ig_err err = { 0 };
	const char *sub = argc ? argv[0] : "";
	int64_t tenant, agent;
	json_t *rows, *done;
	size_t k;
	int rc = 0;

	if (!argc)
		usage_error("kb takes add, list, rm or search");
	if (!strcmp(sub, "add")) {
		only(o, "kb add", BIT(O_TITLE) | BIT(O_BODY) | BIT(O_TAGS) | BIT(O_AGENT));
		if (argc != 1)
			usage_error("kb add takes no arguments (--title/--body, or JSON Lines on stdin)");
		if ((o->title || o->body || o->tags) && !(o->title && o->body))
			usage_error("kb add takes --title and --body together");
	} else if (!strcmp(sub, "list")) {
		only(o, "kb list", BIT(O_AGENT));
		if (argc != 1)
			usage_error("kb list takes no arguments");
	} else if (!strcmp(sub, "rm")) {
		only(o, "kb rm", 0);
		if (argc != 2)
			usage_error("kb rm takes one article ID");
	} else if (!strcmp(sub, "search")) {
		only(o, "kb search", BIT(O_AGENT) | BIT(O_LIMIT));
		if (argc != 2)
			usage_error("kb search takes one TEXT");
	} else {
		usage_error("unknown kb subcommand '%s' (add, list, rm, search)", sub);
	}
	tenant = tenant_for(ctx, o, 0);
	require(ctx, tenant, IG_MOD_AGENTS,
		!strcmp(sub, "list") || !strcmp(sub, "search") ? IG_READ : IG_WRITE, "kb");
	agent = agent_arg(ctx, tenant, o->agent);
	if (!strcmp(sub, "list")) {
		if (ig_kb_list(ctx->store, tenant, o->agent ? agent : -1, &rows, &err))
			die_err(&err);
		return listing(o, rows, cols);
	}
	if (!strcmp(sub, "search")) {
		static const char *const scols[] = { "kind", "id", "title", "coverage", "bm25", NULL };
		struct ig_kb_result kr;
		int i;

		if (ig_kb_search(ctx->store, tenant, agent, argv[1], NULL, NULL,
				 o->limit > 0 && o->limit < IG_KB_MAX_HITS ? (int)o->limit : 5, &kr, &err))
			die_err(&err);
		rows = json_array();
		for (i = 0; i < kr.n; i++)
			json_array_append_new(rows, json_pack("{s:s,s:I,s:s,s:s,s:f,s:f}",
				"kind", kr.hits[i].kind == IG_KB_ARTICLE ? "article" : "template",
				"id", (json_int_t)kr.hits[i].id, "title", kr.hits[i].title,
				"body", kr.hits[i].body,
				"coverage", (double)(long long)(kr.hits[i].coverage * 100 + 0.5) / 100,
				"bm25", (double)(long long)(kr.hits[i].bm25 * 1000) / 1000));
		ig_kb_result_release(&kr);
		return listing(o, rows, scols);
	}
	if (!(done = json_array()))
		die(IG_EX_SOFTWARE, "out of memory");
	if (ig_store_begin(ctx->store, &err))
		die_err(&err);
	if (!strcmp(sub, "rm")) {
		int64_t id = cmd_number("ID", argv[1], 1, INT64_MAX);
		char target[48];

		snprintf(target, sizeof(target), "kb:%lld", (long long)id);
		if ((rc = ig_kb_rm(ctx->store, tenant, id, &err))
		    || (rc = ig_audit(ctx, tenant, "kb.rm", target, "ok", NULL, &err))) {
			ig_store_rollback(ctx->store);
			die_err(&err);
		}
		json_array_append_new(done, json_pack("{s:I,s:b}", "id", (json_int_t)id, "removed", 1));
	} else if (o->title) {
		if ((rc = kb_add_one(ctx, tenant, agent, o->agent, o->title, o->body, o->tags, done,
				     &err))) {
			ig_store_rollback(ctx->store);
			die_err(&err);
		}
	} else {
		/* JSON Lines: {"title","body","tags","agent"}; a bad line is
		 * reported and skipped, the others are added (one transaction). */
		struct ig_jsonl_reader rd;
		json_t *v;
		int more, bad = 0;

		ig_jsonl_reader_init(&rd, stdin, "stdin", IG_JSONL_MAX_DEFAULT);
		while ((more = ig_jsonl_next(&rd, &v, &err)) != 0) {
			const char *an;
			int64_t aid = agent;

			if (more < 0) {
				ig_jsonl_reader_release(&rd);
				ig_store_rollback(ctx->store);
				die_err(&err);
			}
			if (!v) {
				warn_err(&err);
				bad = 1;
				continue;
			}
			an = ig_json_str(v, "agent") ? ig_json_str(v, "agent") : o->agent;
			rc = 0;
			if (an && an != o->agent)
				rc = ig_ctx_agent(ctx, tenant, an, &aid, &err);
			if (!rc)
				rc = kb_add_one(ctx, tenant, aid, an, ig_json_str(v, "title"),
						ig_json_str(v, "body"),
						ig_json_str(v, "tags") ? ig_json_str(v, "tags") : o->tags,
						done, &err);
			json_decref(v);
			if (rc == IG_EX_DATAERR) {
				warn("stdin:%ld: %s", rd.line, err.msg);
				bad = 1;
			} else if (rc) {
				ig_jsonl_reader_release(&rd);
				ig_store_rollback(ctx->store);
				die_err(&err);
			}
		}
		ig_jsonl_reader_release(&rd);
		rc = bad ? IG_EX_DATAERR : 0;
	}
	/* Records only once they are true: after the commit. */
	if (ig_store_commit(ctx->store, &err))
		die_err(&err);
	for (k = 0; k < json_array_size(done); k++)
		cmd_emit(json_array_get(done, k));
	json_decref(done);
	return rc;
}

static int cmd_templates(struct ig_ctx *ctx, struct opts *o, int argc, char **argv)
{
	static const char *const cols[] = { "name", "agent", "text", NULL };
	struct ig_err err = { 0 };
	const char *sub = argc ? argv[0] : "";
	int64_t tenant, agent, id;
	char target[160];
	json_t *rows;

	if (!strcmp(sub, "add")) {
		only(o, "templates add", BIT(O_TEXT) | BIT(O_AGENT));
		if (argc != 2 || !o->text)
			usage_error("templates add takes NAME and --text TEXT");
	} else if (!strcmp(sub, "list")) {
		only(o, "templates list", 0);
		if (argc != 1)
			usage_error("templates list takes no arguments");
	} else if (!strcmp(sub, "rm")) {
		only(o, "templates rm", 0);
		if (argc != 2)
			usage_error("templates rm takes one NAME");
	} else {
		usage_error("templates takes add, list or rm");
	}
	tenant = tenant_for(ctx, o, 0);
	require(ctx, tenant, IG_MOD_AGENTS, !strcmp(sub, "list") ? IG_READ : IG_WRITE, "templates");
	if (!strcmp(sub, "list")) {
		if (ig_template_list(ctx->store, tenant, &rows, &err))
			die_err(&err);
		return listing(o, rows, cols);
	}
	agent = agent_arg(ctx, tenant, o->agent);
	snprintf(target, sizeof(target), "template:%s", argv[1]);
	if (ig_store_begin(ctx->store, &err))
		die_err(&err);
	if (!strcmp(sub, "add")) {
		if (ig_template_add(ctx->store, tenant, agent, argv[1], o->text, &id, &err)
		    || ig_audit(ctx, tenant, "template.add", target, "ok", NULL, &err)) {
			ig_store_rollback(ctx->store);
			die_err(&err);
		}
		rows = json_pack("{s:I,s:s,s:s?}", "id", (json_int_t)id, "name", argv[1],
				 "agent", o->agent);
	} else {
		if (ig_template_rm(ctx->store, tenant, argv[1], &err)
		    || ig_audit(ctx, tenant, "template.rm", target, "ok", NULL, &err)) {
			ig_store_rollback(ctx->store);
			die_err(&err);
		}
		rows = json_pack("{s:s,s:b}", "name", argv[1], "removed", 1);
	}
	if (ig_store_commit(ctx->store, &err))
		die_err(&err);
	cmd_emit(rows);
	json_decref(rows);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct ig_ctx ctx;
	const char *sub = NULL;
	int rc, subc = 0;
	char **subv = NULL;

	cmd_init(argc, argv);
	if (asprintf(&full_help, "%s%s", help, cmd_common_help) < 0)
		die(IG_EX_SOFTWARE, "out of memory");
	parse(argc, argv, "+" CMD_COMMON_SHORT, &o);
	if (optind < argc) {
		int sargc = argc - optind;
		char **sargv = argv + optind;

		sub = sargv[0];
		cmd_getopt_reset();
		parse(sargc, sargv, CMD_COMMON_SHORT, &o);
		subc = sargc - optind;
		subv = sargv + optind;
	}
	if (sub && (o.pending || (o.used & (BIT(O_EXPLAIN) | BIT(O_REVIEW) | BIT(O_PARALLEL)
					       | BIT(O_HISTORY)))))
		usage_error("--pending, --explain, --review, --parallel and --history are for"
			    " replying, not for '%s'", sub);
	if (!sub) {
		only(&o, "replying", BIT(O_PENDING) | BIT(O_EXPLAIN) | BIT(O_DRY_RUN) | BIT(O_REVIEW)
		     | BIT(O_PARALLEL) | BIT(O_HISTORY) | BIT(O_ACCOUNT) | BIT(O_LIMIT));
		if (o.limit && !o.pending)
			usage_error("--limit applies to --pending");
	}
	if (sub && strcmp(sub, "pause") && strcmp(sub, "resume") && strcmp(sub, "send")
	    && strcmp(sub, "assign") && strcmp(sub, "status") && strcmp(sub, "priority")
	    && strcmp(sub, "conversations") && strcmp(sub, "drafts") && strcmp(sub, "approve")
	    && strcmp(sub, "reject") && strcmp(sub, "outbox") && strcmp(sub, "kb")
	    && strcmp(sub, "templates"))
		usage_error("unknown subcommand '%s'", sub);
	if (sub && !strcmp(sub, "outbox")) {
		if (!subc || (strcmp(subv[0], "list") && strcmp(subv[0], "retry")
			      && strcmp(subv[0], "abandon")))
			usage_error("outbox takes list, retry or abandon");
	}
	if (sub && strcmp(sub, "send") && o.dry_run)
		usage_error("--dry-run does not apply to %s", sub);

	cmd_ctx_open(&ctx, &o.c, CMD_STORE);
	if (!sub)
		rc = cmd_reply(&ctx, &o);
	else if (!strcmp(sub, "send"))
		rc = cmd_send(&ctx, &o, subc, subv);
	else if (!strcmp(sub, "conversations"))
		rc = cmd_conversations(&ctx, &o, subc);
	else if (!strcmp(sub, "drafts"))
		rc = cmd_outbox(&ctx, &o, "drafts", subc, subv);
	else if (!strcmp(sub, "approve") || !strcmp(sub, "reject"))
		rc = cmd_outbox(&ctx, &o, sub, subc, subv);
	else if (!strcmp(sub, "outbox"))
		rc = cmd_outbox(&ctx, &o, subv[0], subc - 1, subv + 1);
	else if (!strcmp(sub, "kb"))
		rc = cmd_kb(&ctx, &o, subc, subv);
	else if (!strcmp(sub, "templates"))
		rc = cmd_templates(&ctx, &o, subc, subv);
	else
		rc = cmd_conv_change(&ctx, &o, sub, subc, subv);
	ig_ctx_release(&ctx);
	free(full_help);
	return cmd_finish(rc);
}
