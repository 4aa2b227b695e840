/*
 * ig-comments — the comment board: sync with a gap report, the listing,
 * moderation actions confirmed by Meta (reply, hide, unhide, delete, private
 * reply), tags, assignment, rules as code with a backtest, the action log.
 * See ig-comments(1).
 *
 * Reads:  arguments; a rules file; routed events (JSON Lines) on stdin for
 *         'moderate' without --pending.
 * Writes: JSON Lines on stdout (--format table|csv for list, log and the
 *         backtest summary); diagnostics on stderr.
 * Exit:   0 ok; 64 usage; 65 bad input, unknown comment, a refused action
 *         (Meta would refuse it), or a stream with a bad record; 66 file
 *         missing; 69 Meta refused; 70 internal; 74 I/O; 75 temporary or an
 *         action left 'unknown'; 77 permission denied or token revoked;
 *         78 configuration.
 *
 * Behaviour, permissions and audit are in lib/comments.c and lib/rules.c;
 * this file declares the command table and maps results to exit codes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comments.h"
#include "common.h"
#include "igtime.h"
#include "jsonio.h"
#include "rules.h"

enum {
	OPT_ACCOUNT = OPT_PROGRAM, OPT_RECENT, OPT_PARALLEL, OPT_UNREAD, OPT_SPAM, OPT_REPLIED,
	OPT_UNREPLIED, OPT_HIDDEN, OPT_ASSIGNED, OPT_TAG, OPT_MEDIA, OPT_SINCE, OPT_OVERDUE,
	OPT_LIMIT, OPT_MARK_READ, OPT_TEXT, OPT_TEMPLATE, OPT_AI, OPT_DRAFT, OPT_ON_PARENT,
	OPT_ATTACHMENT, OPT_REMOVE, OPT_PENDING, OPT_RULES, OPT_DAYS, OPT_REJECT, OPT_SUMMARY
};

static const struct cmd_optdef opts[] = {
	{ "account", required_argument, OPT_ACCOUNT, "ID|@NAME", "only this account", NULL },
	{ "recent", required_argument, OPT_RECENT, "N", "sync: the N most recent media per account (default 25)", NULL },
	{ "parallel", required_argument, OPT_PARALLEL, "N", "sync: requests in flight (default 16)", NULL },
	{ "unread", no_argument, OPT_UNREAD, NULL, "not marked read", NULL },
	{ "spam", no_argument, OPT_SPAM, NULL, "tagged spam", NULL },
	{ "replied", no_argument, OPT_REPLIED, NULL, "answered (reply or private reply)", NULL },
	{ "unreplied", no_argument, OPT_UNREPLIED, NULL, "not answered", NULL },
	{ "hidden", no_argument, OPT_HIDDEN, NULL, "hidden on Instagram", NULL },
	{ "assigned", required_argument, OPT_ASSIGNED, "EMAIL|-", "assigned to this member ('-': nobody)", NULL },
	{ "tag", required_argument, OPT_TAG, "TAG", "carrying this tag", NULL },
	{ "media", required_argument, OPT_MEDIA, "ID", "on this media", NULL },
	{ "since", required_argument, OPT_SINCE, "TIME", "written since TIME (ISO-8601, Unix seconds, or an age: 24h, 7d)", NULL },
	{ "overdue", required_argument, OPT_OVERDUE, "AGE", "unanswered and older than AGE (the SLA: 30m, 4h)", NULL },
	{ "limit", required_argument, OPT_LIMIT, "N", "at most N rows", NULL },
	{ "mark-read", no_argument, OPT_MARK_READ, NULL, "mark what is listed as read", NULL },
	{ "text", required_argument, OPT_TEXT, "TEXT", "the reply or private reply", NULL },
	{ "template", required_argument, OPT_TEMPLATE, "NAME", "the text of this template (ig-reply templates)", NULL },
	{ "ai", no_argument, OPT_AI, NULL, "compose with the account agent's engine", NULL },
	{ "draft", no_argument, OPT_DRAFT, NULL, "reply --ai: keep as a draft for review ('approve')", NULL },
	{ "on-parent", no_argument, OPT_ON_PARENT, NULL, "reply to a reply: answer on its parent", NULL },
	{ "attachment", required_argument, OPT_ATTACHMENT, "URL", "refused: comment replies are text only", NULL },
	{ "remove", no_argument, OPT_REMOVE, NULL, "tag: remove the tags", NULL },
	{ "pending", no_argument, OPT_PENDING, NULL, "moderate the store's comments the rules have not seen", NULL },
	{ "rules", required_argument, OPT_RULES, "FILE", "these rules instead of the stored ones", NULL },
	{ "days", required_argument, OPT_DAYS, "N", "backtest: comments of the last N days (default 30)", NULL },
	{ "reject", no_argument, OPT_REJECT, NULL, "approve: reject the draft instead", NULL },
	{ "summary", no_argument, OPT_SUMMARY, NULL, "backtest: only the counts per rule", NULL },
	{ "dry-run", no_argument, OPT_DRY_RUN, NULL, "decide and print, change nothing, send nothing", NULL },
	{ 0 }
};

/* ------------------------------------------------------------ helpers */

static int64_t tenant(struct cmd_run *r, int write, const char *action)
{
	struct ig_err err = { 0 };
	int64_t id = 0;

	if (ig_comments_tenant(&r->ctx, r->o.tenant, write, action, &id, &err))
		die_err(&err);
	return id;
}

static void graph_open(struct cmd_run *r, struct ig_graph *g)
{
	struct ig_err err = { 0 };

	if (ig_graph_init(g, &r->ctx.cfg, cmd_verbose, &err))
		die_err(&err);
}

static void emit(void *arg, const json_t *rec)
{
	(void)arg;
	cmd_emit(rec);
}

static int64_t time_opt(struct cmd_run *r, int id)
{
	const char *v = cmd_val(r, id);
	int64_t t, d;

	if (!v)
		return 0;
	/* all digits: Unix seconds; a date: ISO-8601; else an age (24h, 7d) */
	if ((strspn(v, "0123456789") == strlen(v) || strchr(v, '-')) && !ig_time_parse(v, &t))
		return t;
	if (!strchr(v, '-') && !ig_duration_parse(v, &d))
		return ig_time_now() - d;
	usage_error("%s: bad time '%s' (ISO-8601, Unix seconds, or an age: 24h, 7d)", r->what, v);
}

static int listing(struct cmd_run *r, json_t *rows, const char *const *cols)
{
	struct ig_out out;
	size_t i;

	ig_out_init(&out, stdout, r->o.format, cols);
	for (i = 0; i < json_array_size(rows); i++)
		if (ig_out_row(&out, json_array_get(rows, i)))
			break;
	if (ig_out_finish(&out))
		die(IG_EX_IOERR, "cannot write to stdout:");
	return 0;
}

/* Read a whole file (or stdin for "-"): new string. */
static char *slurp(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	struct ig_buf b;
	char chunk[8192];
	size_t n;

	if (!f)
		die(IG_EX_NOINPUT, "cannot open '%s':", path);
	ig_buf_init(&b, 4 * 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (ig_buf_add(&b, chunk, n))
			die(IG_EX_DATAERR, "'%s' is larger than 4 MiB", path);
	if (ferror(f))
		die(IG_EX_IOERR, "cannot read '%s':", path);
	if (f != stdin)
		fclose(f);
	if (ig_buf_add(&b, "", 1))
		die(IG_EX_DATAERR, "'%s' is larger than 4 MiB", path);
	return b.data;
}

/* ------------------------------------------------------------ commands */

static int c_sync(struct cmd_run *r)
{
	struct ig_graph g;
	struct ig_err err = { 0 };
	/* without --tenant a super admin syncs every tenant (one cron line) */
	int64_t tid = !r->o.tenant && r->ctx.actor.super_admin && !r->ctx.actor.tenant_id
		      ? 0 : tenant(r, 1, "comments.sync");
	int rc;

	graph_open(r, &g);
	rc = ig_comments_sync(&r->ctx, &g, tid, cmd_val(r, OPT_ACCOUNT),
			      (int)cmd_val_number(r, OPT_RECENT, 1, 10000, 25),
			      (int)cmd_val_number(r, OPT_PARALLEL, 1, 64, 16), emit, NULL, &err);
	ig_graph_release(&g);
	if (rc)
		warn_err(&err);
	return rc;
}

static int c_list(struct cmd_run *r)
{
	static const char *const cols[] = {
		"comment", "account", "username", "created", "hidden", "replied", "dm", "read",
		"tags", "assignee", "text", NULL
	};
	struct ig_cm_filter f;
	struct ig_err err = { 0 };
	int64_t tid, d = 0;
	json_t *rows;

	memset(&f, 0, sizeof(f));
	f.unread = cmd_val(r, OPT_UNREAD) != NULL;
	f.spam = cmd_val(r, OPT_SPAM) != NULL;
	f.replied = cmd_val(r, OPT_REPLIED) != NULL;
	f.unreplied = cmd_val(r, OPT_UNREPLIED) != NULL;
	f.hidden = cmd_val(r, OPT_HIDDEN) != NULL;
	f.assigned = cmd_val(r, OPT_ASSIGNED);
	f.tag = cmd_val(r, OPT_TAG);
	f.media = cmd_val(r, OPT_MEDIA);
	f.account = cmd_val(r, OPT_ACCOUNT);
	f.since = time_opt(r, OPT_SINCE);
	if (cmd_val(r, OPT_OVERDUE) && (ig_duration_parse(cmd_val(r, OPT_OVERDUE), &d) || d <= 0))
		usage_error("list: bad --overdue '%s' (an age: 30m, 4h, 1d)", cmd_val(r, OPT_OVERDUE));
	f.overdue = d;
	f.limit = (long)cmd_val_number(r, OPT_LIMIT, 1, 1000000, 0);
	f.mark_read = cmd_val(r, OPT_MARK_READ) != NULL;
	if (f.replied && f.unreplied)
		usage_error("list: --replied and --unreplied exclude each other");
	tid = tenant(r, 0, "comments.list");
	if (ig_comments_list(&r->ctx, tid, &f, &rows, &err))
		die_err(&err);
	listing(r, rows, cols);
	json_decref(rows);
	return 0;
}

static int act(struct cmd_run *r, enum ig_cm_what w)
{
	static const char *const names[] = { "reply", "hide", "unhide", "delete", "dm" };
	struct ig_cm_act a;
	struct ig_graph g;
	struct ig_err err = { 0 };
	char action[32];
	json_t *out = NULL;
	int64_t tid;
	int rc, sources;

	memset(&a, 0, sizeof(a));
	a.what = w;
	a.comment = r->arg[0];
	a.text = r->narg > 1 ? r->arg[1] : cmd_val(r, OPT_TEXT);
	a.template_name = cmd_val(r, OPT_TEMPLATE);
	a.ai = cmd_val(r, OPT_AI) != NULL;
	a.draft = cmd_val(r, OPT_DRAFT) != NULL;
	a.on_parent = cmd_val(r, OPT_ON_PARENT) != NULL;
	a.attachment = cmd_val(r, OPT_ATTACHMENT);
	a.automated = a.ai;
	a.origin = a.ai ? "ai" : "human";
	if (r->narg > 1 && cmd_val(r, OPT_TEXT))
		usage_error("%s: the text is given twice (operand and --text)", r->what);
	if (w == IG_CM_REPLY || w == IG_CM_DM) {
		sources = (a.text != NULL) + (a.template_name != NULL) + a.ai;
		if (sources != 1)
			usage_error("%s: give exactly one of TEXT (or --text), --template and --ai", r->what);
		if (a.draft && !a.ai)
			usage_error("%s: --draft goes with --ai", r->what);
	}
	snprintf(action, sizeof(action), "comments.%s", names[w]);
	tid = tenant(r, 0, action);
	graph_open(r, &g);
	rc = ig_comments_act(&r->ctx, &g, tid, &a, &out, &err);
	ig_graph_release(&g);
	if (out)
		cmd_emit(out);
	json_decref(out);
	if (rc)
		warn_err(&err);
	return rc;
}

static int c_reply(struct cmd_run *r) { return act(r, IG_CM_REPLY); }
static int c_hide(struct cmd_run *r) { return act(r, IG_CM_HIDE); }
static int c_unhide(struct cmd_run *r) { return act(r, IG_CM_UNHIDE); }
static int c_delete(struct cmd_run *r) { return act(r, IG_CM_DELETE); }
static int c_dm(struct cmd_run *r) { return act(r, IG_CM_DM); }

static int c_tag(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *out;
	int64_t tid = tenant(r, 0, "comments.tag");

	if (ig_comments_tag(&r->ctx, tid, r->arg[0], (const char *const *)r->arg + 1, r->narg - 1,
			    cmd_val(r, OPT_REMOVE) != NULL, "human", NULL, &out, &err))
		die_err(&err);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

static int c_assign(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *out;
	int64_t tid = tenant(r, 0, "comments.assign");

	if (ig_comments_assign(&r->ctx, tid, r->arg[0], r->arg[1], "human", NULL, &out, &err))
		die_err(&err);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

static int c_approve(struct cmd_run *r)
{
	struct ig_graph g;
	struct ig_err err = { 0 };
	json_t *out = NULL;
	int64_t tid = tenant(r, 0, "comments.approve");
	long long id = cmd_number("ACTION", r->arg[0], 1, (long long)1 << 62);
	int rc;

	graph_open(r, &g);
	rc = ig_comments_decide(&r->ctx, &g, tid, id, cmd_val(r, OPT_REJECT) == NULL,
				cmd_val(r, OPT_TEXT), &out, &err);
	ig_graph_release(&g);
	if (out)
		cmd_emit(out);
	json_decref(out);
	if (rc)
		warn_err(&err);
	return rc;
}

static void report_line(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s: %s\n", cmd_name, msg);
}

static int c_rules_check(struct cmd_run *r)
{
	struct ig_rules *rs = NULL;
	struct ig_err err = { 0 };
	char *text = slurp(r->arg[0]);
	int nerr = 0, i;

	if (ig_rules_parse(text, strlen(text), strcmp(r->arg[0], "-") ? r->arg[0] : "stdin",
			   report_line, NULL, &rs, &nerr, &err)) {
		free(text);
		fprintf(stderr, "%s: %d error%s\n", cmd_name, nerr, nerr == 1 ? "" : "s");
		return IG_EX_DATAERR;
	}
	for (i = 0; i < ig_rules_count(rs); i++) {
		int n, k;
		const struct ig_rule_action *a = ig_rules_actions(rs, i, &n);
		json_t *acts = json_array(), *rec;

		for (k = 0; k < n; k++)
			json_array_append_new(acts, json_string(ig_rule_act_name(a[k].kind)));
		rec = json_pack("{s:s,s:i,s:o,s:b}", "rule", ig_rules_name(rs, i), "line",
				ig_rules_line(rs, i), "actions", acts, "stop", ig_rules_stop(rs, i));
		cmd_emit(rec);
		json_decref(rec);
	}
	ig_rules_free(rs);
	free(text);
	return 0;
}

static int c_rules_set(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *out;
	char *text = slurp(r->arg[0]);
	int64_t tid = tenant(r, 0, "comments.rules");

	if (ig_comments_rules_set(&r->ctx, tid, cmd_val(r, OPT_ACCOUNT), text,
				  strcmp(r->arg[0], "-") ? r->arg[0] : "stdin", &out, &err)) {
		free(text);
		die_err(&err);
	}
	free(text);
	cmd_emit(out);
	json_decref(out);
	return 0;
}

static int c_rules_show(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	char *text;
	int64_t tid = tenant(r, 0, "comments.rules");

	if (ig_comments_rules_get(&r->ctx, tid, cmd_val(r, OPT_ACCOUNT), &text, &err))
		die_err(&err);
	if (!text)
		die(IG_EX_DATAERR, "rules show: no rules stored for %s", cmd_val(r, OPT_ACCOUNT)
		    ? cmd_val(r, OPT_ACCOUNT) : "the tenant");
	fputs(text, stdout);
	if (*text && text[strlen(text) - 1] != '\n')
		putchar('\n');
	free(text);
	return 0;
}

static int c_moderate(struct cmd_run *r)
{
	struct ig_cm_moderate m;
	struct ig_graph g;
	struct ig_err err = { 0 };
	char *rules = cmd_val(r, OPT_RULES) ? slurp(cmd_val(r, OPT_RULES)) : NULL;
	int rc = 0, bad = 0;

	memset(&m, 0, sizeof(m));
	m.dry_run = cmd_val(r, OPT_DRY_RUN) != NULL;
	m.pending = cmd_val(r, OPT_PENDING) != NULL;
	m.rules_text = rules;
	m.rules_name = cmd_val(r, OPT_RULES);
	m.account = cmd_val(r, OPT_ACCOUNT);
	m.emit = emit;
	if (m.pending && r->narg)
		usage_error("moderate: --pending reads the store, not '%s'", r->arg[0]);
	if (cmd_val(r, OPT_SINCE) && !m.pending)
		usage_error("moderate: --since goes with --pending");
	/* a first sync stores months of comments: the rules look at the
	 * last 7 days unless told otherwise */
	m.since = cmd_val(r, OPT_SINCE) ? time_opt(r, OPT_SINCE) : ig_time_now() - 7 * 86400;
	graph_open(r, &g);
	if (m.pending) {
		/* without --tenant a super admin moderates every tenant with rules */
		int64_t tid = !r->o.tenant && r->ctx.actor.super_admin && !r->ctx.actor.tenant_id
			      ? 0 : tenant(r, !m.dry_run, "comments.moderate");

		rc = ig_comments_moderate(&r->ctx, &g, tid, &m, &err);
		if (rc)
			warn_err(&err);
	} else {
		struct ig_jsonl_reader in;
		FILE *f = r->narg && strcmp(r->arg[0], "-") ? fopen(r->arg[0], "r") : stdin;
		json_t *ev;
		int n, taken;

		if (!f)
			die(IG_EX_NOINPUT, "cannot open '%s':", r->arg[0]);
		ig_jsonl_reader_init(&in, f, f == stdin ? "stdin" : r->arg[0], IG_JSONL_MAX_DEFAULT);
		while ((n = ig_jsonl_next(&in, &ev, &err)) != 0) {
			if (n < 0) {
				warn_err(&err);
				rc = IG_EX_IOERR;
				break;
			}
			if (!ev) {
				struct ig_err derr = { 0 };

				warn_err(&err);
				if (ig_comments_dead_letter(r->ctx.store, err.msg, in.raw.data, in.raw.len, &derr))
					warn_err(&derr);
				bad = 1;
				continue;
			}
			if ((rc = ig_comments_moderate_event(&r->ctx, &g, ev, &m, &taken, &err))) {
				warn("%s:%ld: %s", in.name, in.line, err.msg);
				if (rc == IG_EX_SOFTWARE || rc == IG_EX_IOERR || rc == IG_EX_CONFIG) {
					json_decref(ev);
					break;
				}
				bad = 1;
				rc = 0;
			}
			json_decref(ev);
		}
		ig_comments_moderate_end(&m);
		ig_jsonl_reader_release(&in);
		if (f != stdin)
			fclose(f);
	}
	ig_graph_release(&g);
	free(rules);
	note("%ld comments, %ld decisions, %ld failed", m.comments, m.decisions, m.failed);
	if (rc)
		return rc;
	if (m.worst)
		return m.worst;
	return bad ? IG_EX_DATAERR : 0;
}

struct bt { struct cmd_run *r; int summary; json_t *sums; };

static void bt_emit(void *arg, const json_t *rec)
{
	struct bt *b = arg;

	if (json_is_true(json_object_get(rec, "summary")))
		json_array_append(b->sums, (json_t *)rec);
	else if (!b->summary && b->r->o.format == IG_FMT_JSON)
		cmd_emit(rec);
}

static int c_backtest(struct cmd_run *r)
{
	static const char *const cols[] = { "rule", "line", "matched", "actions", NULL };
	struct ig_cm_moderate m;
	struct ig_err err = { 0 };
	struct bt b = { r, cmd_val(r, OPT_SUMMARY) != NULL, json_array() };
	char *rules = cmd_val(r, OPT_RULES) ? slurp(cmd_val(r, OPT_RULES)) : NULL;
	int64_t tid = tenant(r, 0, "comments.backtest");
	long days = (long)cmd_val_number(r, OPT_DAYS, 1, 3650, 30);
	int rc;

	memset(&m, 0, sizeof(m));
	m.backtest = 1;
	m.rules_text = rules;
	m.rules_name = cmd_val(r, OPT_RULES);
	m.account = cmd_val(r, OPT_ACCOUNT);
	m.since = ig_time_now() - (int64_t)days * 86400;
	m.emit = bt_emit;
	m.arg = &b;
	rc = ig_comments_moderate(&r->ctx, NULL, tid, &m, &err);
	free(rules);
	if (rc) {
		json_decref(b.sums);
		die_err(&err);
	}
	if (r->o.format == IG_FMT_JSON) {
		size_t i;

		for (i = 0; i < json_array_size(b.sums); i++)
			cmd_emit(json_array_get(b.sums, i));
	} else
		listing(r, b.sums, cols);
	json_decref(b.sums);
	note("%ld comments, %ld decisions", m.comments, m.decisions);
	return 0;
}

static int c_log(struct cmd_run *r)
{
	static const char *const cols[] = {
		"id", "at", "actor", "action", "comment", "origin", "rule", "state", "trace_id",
		"error", NULL
	};
	struct ig_err err = { 0 };
	json_t *rows;
	int64_t tid = tenant(r, 0, "comments.log");

	if (ig_comments_log(&r->ctx, tid, r->narg ? r->arg[0] : NULL, time_opt(r, OPT_SINCE),
			    (long)cmd_val_number(r, OPT_LIMIT, 1, 1000000, 0), &rows, &err))
		die_err(&err);
	listing(r, rows, cols);
	json_decref(rows);
	return 0;
}

/* ------------------------------------------------------------ the table */

static const int o_sync[] = { OPT_ACCOUNT, OPT_RECENT, OPT_PARALLEL, 0 };
static const int o_list[] = {
	OPT_UNREAD, OPT_SPAM, OPT_REPLIED, OPT_UNREPLIED, OPT_HIDDEN, OPT_ASSIGNED, OPT_TAG,
	OPT_MEDIA, OPT_ACCOUNT, OPT_SINCE, OPT_OVERDUE, OPT_LIMIT, OPT_MARK_READ, 0
};
static const int o_reply[] = {
	OPT_TEXT, OPT_TEMPLATE, OPT_AI, OPT_DRAFT, OPT_ON_PARENT, OPT_ATTACHMENT, 0
};
static const int o_dm[] = { OPT_TEXT, OPT_TEMPLATE, OPT_AI, 0 };
static const int o_tag[] = { OPT_REMOVE, 0 };
static const int o_approve[] = { OPT_TEXT, OPT_REJECT, 0 };
static const int o_account[] = { OPT_ACCOUNT, 0 };
static const int o_moderate[] = { OPT_PENDING, OPT_SINCE, OPT_DRY_RUN, OPT_RULES, OPT_ACCOUNT, 0 };
static const int o_backtest[] = { OPT_DAYS, OPT_RULES, OPT_ACCOUNT, OPT_SUMMARY, 0 };
static const int o_log[] = { OPT_SINCE, OPT_LIMIT, 0 };

static const struct cmd_row rows[] = {
	{ "sync", c_sync, CMD_STORE, o_sync, 0, 0, "",
	  "read each account's recent media, comments and replies; report the gap", NULL, NULL },
	{ "list", c_list, CMD_STORE, o_list, 0, 0, "",
	  "the board, newest first, with filters", NULL, NULL },
	{ "reply", c_reply, CMD_STORE, o_reply, 1, 2, "COMMENT [TEXT]",
	  "answer a comment publicly (text only)", NULL, NULL },
	{ "hide", c_hide, CMD_STORE, NULL, 1, 1, "COMMENT", "hide a comment on Instagram", NULL, NULL },
	{ "unhide", c_unhide, CMD_STORE, NULL, 1, 1, "COMMENT", "show a hidden comment again", NULL, NULL },
	{ "delete", c_delete, CMD_STORE, NULL, 1, 1, "COMMENT", "delete a comment on Instagram", NULL, NULL },
	{ "dm", c_dm, CMD_STORE, o_dm, 1, 2, "COMMENT [TEXT]",
	  "private reply: turn the comment into a DM (once, within 7 days)", NULL, NULL },
	{ "tag", c_tag, CMD_STORE, o_tag, 2, 64, "COMMENT TAG...", "add (or --remove) tags", NULL, NULL },
	{ "assign", c_assign, CMD_STORE, NULL, 2, 2, "COMMENT EMAIL|-",
	  "assign to a member of the tenant ('-': nobody)", NULL, NULL },
	{ "approve", c_approve, CMD_STORE, o_approve, 1, 1, "ACTION",
	  "send (or --reject) a draft reply", NULL, NULL },
	{ "rules check", c_rules_check, 0, NULL, 1, 1, "FILE|-",
	  "validate a rules file (errors with line numbers)", NULL, NULL },
	{ "rules set", c_rules_set, CMD_STORE, o_account, 1, 1, "FILE|-",
	  "store the tenant's (or --account's) rules", NULL, NULL },
	{ "rules show", c_rules_show, CMD_STORE, o_account, 0, 0, "",
	  "print the stored rules", NULL, NULL },
	{ "moderate", c_moderate, CMD_STORE, o_moderate, 0, 1, "[FILE|-]",
	  "apply the rules to routed comment events (stdin) or --pending comments", NULL, NULL },
	{ "backtest", c_backtest, CMD_STORE, o_backtest, 0, 0, "",
	  "what the rules would have done to stored comments, counts per rule", NULL, NULL },
	{ "log", c_log, CMD_STORE, o_log, 0, 1, "[COMMENT]", "the moderation actions", NULL, NULL },
	{ 0 }
};

static const struct cmd_program program = {
	"The comment board: sync, moderation confirmed by Meta, private replies,\n"
	"rules as code with a backtest, and the log of every action.",
	"A COMMENT is Meta's comment id, as 'list' prints it.\n",
	opts, rows, NULL, CMD_SAY_HERE, NULL
};

int main(int argc, char **argv)
{
	return cmd_main(&program, argc, argv);
}
