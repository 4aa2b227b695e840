/*
 * modaction.c — rules as code applied to comments: the stored rules texts,
 * `moderate` (routed events, or the store's pending comments) and
 * `backtest`.  The engine is lib/rules.c; every action goes through
 * lib/comments.c's checks, refusals, loop guards and audit.  Contracts in
 * comments.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "authz.h"
#include "comments.h"
#include "igtime.h"
#include "jsonio.h"
#include "rules.h"
#include "store.h"

#define ERR_LOCAL(err) struct ig_err err_local_ = { 0 }; if (!(err)) (err) = &err_local_
#define OOM(err) ig_err_set((err), IG_EX_SOFTWARE, "out of memory")
#define CPY(dst, col) snprintf((dst), sizeof(dst), "%s", ig_col_text(s, (col)))

/* A comment as the rules see it: id, account, author, text. */
struct crow {
	int64_t id, account_id;
	char ext[64], cid[64], user[128];
	char *text;
	int reply, own;
};

/* Columns: id, account_id, external_id, comment_id, from_username, text,
 * is a reply, own, the account's username, from_id. */
static void crow_read(struct ig_stmt *s, struct crow *c)
{
	const char *t = ig_col_textn(s, 5);

	c->id = ig_col_int(s, 0);
	c->account_id = ig_col_int(s, 1);
	CPY(c->ext, 2);
	CPY(c->cid, 3);
	CPY(c->user, 4);
	c->text = t ? strdup(t) : NULL;
	c->reply = (int)ig_col_int(s, 6);
	/* §2.4: the business's own comments, and the echoes of ours */
	c->own = (int)ig_col_int(s, 7) || (c->user[0] && !strcasecmp(c->user, ig_col_text(s, 8)))
		 || !strcmp(ig_col_text(s, 9), c->ext);
}

/* ------------------------------------------------------------ rules storage */

int ig_comments_rules_set(struct ig_ctx *ctx, int64_t tid, const char *account, const char *text,
			  const char *name, json_t **out, struct ig_err *err)
{
	struct ig_rules *rs;
	int64_t aid = 0;
	int rc, n;
	json_t *d;
	ERR_LOCAL(err);

	*out = NULL;
	if ((rc = ig_authz_require(ctx, tid, IG_MOD_COMMENTS, IG_WRITE, "comments.rules", err)))
		return rc;
	if (account) {
		n = ig_store_int(ctx->store, err, &aid, "SELECT id FROM accounts WHERE tenant_id = ?"
				 " AND (external_id = ? OR ('@' || username) = ?)", "iss", tid, account, account);
		if (n < 0)
			return err->code;
		if (!n)
			return ig_err_set(err, IG_EX_DATAERR, "unknown account '%.64s'", account);
	}
	if ((rc = ig_rules_parse(text, strlen(text), name, NULL, NULL, &rs, NULL, err)))
		return rc;
	n = ig_rules_count(rs);
	ig_rules_free(rs);
	if ((rc = ig_store_begin(ctx->store, err)))
		return rc;
	rc = ig_store_runf(ctx->store, err,
		"INSERT INTO comment_rules(tenant_id, scope, text, updated_at, updated_by)"
		" VALUES (?, ?, ?, ?, ?) ON CONFLICT(tenant_id, scope) DO UPDATE SET text = excluded.text,"
		" updated_at = excluded.updated_at, updated_by = excluded.updated_by",
		"issis", tid, account ? account : "", text, ig_time_now(), ctx->actor.label);
	d = json_pack("{s:s,s:i}", "scope", account ? account : "tenant", "rules", n);
	if (!rc)
		rc = ig_audit(ctx, tid, "comments.rules", account ? account : "", "ok", d, err);
	if ((rc = ig_store_end(ctx->store, rc, err))) {
		json_decref(d);
		return rc;
	}
	*out = d;
	return 0;
}

int ig_comments_rules_get(struct ig_ctx *ctx, int64_t tid, const char *account, char **text,
			  struct ig_err *err)
{
	struct ig_stmt *s = ig_store_query(ctx->store, err,
		"SELECT text FROM comment_rules WHERE tenant_id = ? AND scope = ?", "is", tid,
		account ? account : "");
	int n;

	*text = NULL;
	if (!s)
		return err->code;
	if ((n = ig_stmt_next(ctx->store, s, err)) < 0)
		return err->code;
	if (n) {
		*text = strdup(ig_col_text(s, 0));
		ig_stmt_reset(s);
	}
	return 0;
}

/* ------------------------------------------------------------ moderation */

/* The rules for an account: --rules text, or the tenant's plus the
 * account's stored texts (cached per account on m). */
struct rcache {
	int64_t account_id;
	struct ig_rules *tenant, *account;
};

/* backtest counts of one rules set, by rule index */
struct tally {
	const struct ig_rules *rs;
	long *matched;
	long (*acts)[8];
};

struct mstate {
	struct ig_ctx *ctx;
	struct ig_graph *g;
	struct ig_cm_moderate *m;
	int64_t tid;
	struct ig_rules *given, *tenant_rules;
	int tenant_loaded;
	struct rcache cache[32];
	int ncache;
	struct tally tallies[34];
	int ntallies;
};

static int load_text_rules(struct mstate *ms, const char *scope, struct ig_rules **out,
			   struct ig_err *err)
{
	char *text = NULL, name[96];
	int rc;

	*out = NULL;
	if ((rc = ig_comments_rules_get(ms->ctx, ms->tid, scope, &text, err)))
		return rc;
	if (!text)
		return 0;
	snprintf(name, sizeof(name), "stored rules (%.60s)", scope ? scope : "tenant");
	rc = ig_rules_parse(text, strlen(text), name, NULL, NULL, out, NULL, err);
	free(text);
	return rc;
}

static int rules_for(struct mstate *ms, int64_t account_id, const char *ext,
		     struct ig_rules **r1, struct ig_rules **r2, struct ig_err *err)
{
	int i, rc;

	*r1 = *r2 = NULL;
	if (ms->given) {
		*r1 = ms->given;
		return 0;
	}
	if (!ms->tenant_loaded) {
		ms->tenant_loaded = 1;
		if ((rc = load_text_rules(ms, NULL, &ms->tenant_rules, err)))
			return rc;
	}
	*r1 = ms->tenant_rules;
	for (i = 0; i < ms->ncache; i++)
		if (ms->cache[i].account_id == account_id) {
			*r2 = ms->cache[i].account;
			return 0;
		}
	if ((rc = load_text_rules(ms, ext, r2, err)))
		return rc;
	if (ms->ncache < 32) {
		ms->cache[ms->ncache].account_id = account_id;
		ms->cache[ms->ncache++].account = *r2;
	} else {
		/* more accounts than the cache: the tenant's rules only for the rest */
		ig_rules_free(*r2);
		*r2 = NULL;
	}
	return 0;
}

static void count(struct mstate *ms, const struct ig_rules *rs, int i, int act)
{
	struct tally *t = NULL;
	int k;

	for (k = 0; k < ms->ntallies; k++)
		if (ms->tallies[k].rs == rs)
			t = &ms->tallies[k];
	if (!t) {
		int n = ig_rules_count(rs);

		if (ms->ntallies == 34)
			return;
		t = &ms->tallies[ms->ntallies];
		t->rs = rs;
		t->matched = calloc((size_t)n, sizeof(*t->matched));
		t->acts = calloc((size_t)n, sizeof(*t->acts));
		if (!t->matched || !t->acts) {
			free(t->matched);
			free(t->acts);
			return;
		}
		ms->ntallies++;
	}
	if (act < 0)
		t->matched[i]++;
	else if (act < 8)
		t->acts[i][act]++;
}

/* The backtest summary: one record per rule that matched (by name and line). */
static json_t *summary(struct mstate *ms)
{
	json_t *out = json_object();
	int k, i, a;

	for (k = 0; out && k < ms->ntallies; k++) {
		const struct tally *t = &ms->tallies[k];

		for (i = 0; i < ig_rules_count(t->rs); i++) {
			char key[160];
			json_t *e, *acts;

			if (!t->matched[i])
				continue;
			snprintf(key, sizeof(key), "%s:%d", ig_rules_name(t->rs, i), ig_rules_line(t->rs, i));
			if (!(e = json_object_get(out, key))) {
				e = json_pack("{s:b,s:s,s:i,s:I,s:{}}", "summary", 1, "rule",
					      ig_rules_name(t->rs, i), "line", ig_rules_line(t->rs, i),
					      "matched", (json_int_t)0, "actions");
				json_object_set_new(out, key, e);
			}
			json_object_set_new(e, "matched", json_integer(
				json_integer_value(json_object_get(e, "matched")) + t->matched[i]));
			acts = json_object_get(e, "actions");
			for (a = 0; a < 8; a++)
				if (t->acts[i][a]) {
					const char *an = ig_rule_act_name((enum ig_rule_act)a);

					json_object_set_new(acts, an, json_integer(
						json_integer_value(json_object_get(acts, an)) + t->acts[i][a]));
				}
		}
	}
	return out;
}

/* Apply one rule action to comment cid; emits the decision. */
static int decide(struct mstate *ms, const struct ig_rules *rs, int ri,
		  const struct ig_rule_action *ra, const char *cid, const char *ext, struct ig_err *err)
{
	struct ig_cm_moderate *m = ms->m;
	char rule[160];
	json_t *out = NULL, *rec;
	struct ig_err e = { 0 };
	const char *an = ig_rule_act_name(ra->kind);
	int rc = 0;

	snprintf(rule, sizeof(rule), "%s:%d", ig_rules_name(rs, ri), ra->line);
	m->decisions++;
	if (m->backtest)
		count(ms, rs, ri, (int)ra->kind);
	if (m->dry_run || m->backtest) {
		rec = json_pack("{s:s,s:s,s:s,s:s,s:s}", "comment", cid, "account", ext, "rule", rule,
				"action", an, "result", m->backtest ? "backtest" : "dry_run");
		if (rec && ra->nargs)
			json_object_set_new(rec, "arg", json_string(ra->args[0]));
		if (rec && ra->ai)
			json_object_set_new(rec, "ai", json_true());
		if (m->emit && rec)
			m->emit(m->arg, rec);
		json_decref(rec);
		return 0;
	}
	switch (ra->kind) {
	case IG_RA_TAG:
		rc = ig_comments_tag(ms->ctx, ms->tid, cid, (const char *const *)ra->args, ra->nargs, 0,
				     "rule", rule, &out, &e);
		break;
	case IG_RA_ESCALATE: {
		const char *t[] = { "escalated" };

		rc = ig_comments_tag(ms->ctx, ms->tid, cid, t, 1, 0, "rule", rule, &out, &e);
		break;
	}
	case IG_RA_ASSIGN:
		rc = ig_comments_assign(ms->ctx, ms->tid, cid, ra->args[0], "rule", rule, &out, &e);
		break;
	default: {
		struct ig_cm_act a;

		memset(&a, 0, sizeof(a));
		a.what = ra->kind == IG_RA_HIDE ? IG_CM_HIDE : ra->kind == IG_RA_UNHIDE ? IG_CM_UNHIDE
			 : ra->kind == IG_RA_DELETE ? IG_CM_DELETE : ra->kind == IG_RA_REPLY ? IG_CM_REPLY
			 : IG_CM_DM;
		a.comment = cid;
		a.ai = ra->ai;
		a.draft = ra->draft;
		a.on_parent = 1;
		a.origin = ra->ai ? "ai" : "rule";
		a.rule = rule;
		a.automated = ra->kind == IG_RA_REPLY || ra->kind == IG_RA_DM;
		if (ra->is_template)
			a.template_name = ra->args[0];
		else if (!ra->ai && ra->nargs)
			a.text = ra->args[0];
		rc = ig_comments_act(ms->ctx, ms->g, ms->tid, &a, &out, &e);
	}
	}
	rec = json_pack("{s:s,s:s,s:s,s:s}", "comment", cid, "account", ext, "rule", rule, "action", an);
	if (rec) {
		const char *state = out ? ig_json_str(out, "state") : NULL;

		json_object_set_new(rec, "result", json_string(rc == IG_EX_DATAERR ? "refused"
							       : rc ? "failed" : state ? state : "done"));
		if (rc)
			json_object_set_new(rec, "reason", json_string(e.msg));
		if (out && ig_json_str(out, "text"))
			json_object_set_new(rec, "text", json_string(ig_json_str(out, "text")));
		if (out && json_object_get(out, "action_id"))
			json_object_set(rec, "action_id", json_object_get(out, "action_id"));
	}
	if (m->emit && rec)
		m->emit(m->arg, rec);
	json_decref(rec);
	json_decref(out);
	if (rc && rc != IG_EX_DATAERR) {
		m->failed++;
		if (rc == IG_EX_SOFTWARE || rc == IG_EX_IOERR) {
			/* the store failed: stop the run */
			*err = e;
			return rc;
		}
		m->worst = ig_comments_worse(m->worst, rc);
	}
	(void)err;
	return 0;
}

/* Evaluate and apply the rules to one stored comment. */
static int moderate_one(struct mstate *ms, int64_t account_id, const char *ext, const char *cid,
			const char *text, const char *user, int is_reply, int own, struct ig_err *err)
{
	struct ig_rules *r[2];
	struct ig_rules_input in = { text, user, is_reply };
	int hits[64], k, i, j, rc;

	if ((rc = rules_for(ms, account_id, ext, &r[0], &r[1], err)))
		return rc;
	ms->m->comments++;
	if (own)
		return 0;   /* the account's own comments and echoes: never moderated */
	for (k = 0; k < 2; k++) {
		int n;

		if (!r[k])
			continue;
		n = ig_rules_eval(r[k], &in, hits, 64);
		for (i = 0; i < n; i++) {
			int na;
			const struct ig_rule_action *acts = ig_rules_actions(r[k], hits[i], &na);

			if (ms->m->backtest)
				count(ms, r[k], hits[i], -1);
			for (j = 0; j < na; j++)
				if ((rc = decide(ms, r[k], hits[i], &acts[j], cid, ext, err)))
					return rc;
			if (ig_rules_stop(r[k], hits[i]))
				return 0;
		}
	}
	return 0;
}

static int mstate_init(struct mstate *ms, struct ig_ctx *ctx, struct ig_graph *g, int64_t tid,
		       struct ig_cm_moderate *m, struct ig_err *err)
{
	memset(ms, 0, sizeof(*ms));
	ms->ctx = ctx;
	ms->g = g;
	ms->m = m;
	ms->tid = tid;
	if (m->rules_text)
		return ig_rules_parse(m->rules_text, strlen(m->rules_text),
				      m->rules_name ? m->rules_name : "rules", NULL, NULL, &ms->given,
				      NULL, err);
	return 0;
}

static void mstate_release(struct mstate *ms)
{
	int i;

	ig_rules_free(ms->given);
	ig_rules_free(ms->tenant_rules);
	for (i = 0; i < ms->ncache; i++)
		ig_rules_free(ms->cache[i].account);
	for (i = 0; i < ms->ntallies; i++) {
		free(ms->tallies[i].matched);
		free(ms->tallies[i].acts);
	}
}


static int moderate_tenant(struct ig_ctx *ctx, struct ig_graph *g, int64_t tid,
			   struct ig_cm_moderate *m, struct ig_err *err);

int ig_comments_moderate(struct ig_ctx *ctx, struct ig_graph *g, int64_t tid,
			 struct ig_cm_moderate *m, struct ig_err *err)
{
	json_t *ids;
	size_t i;
	int rc = 0;
	ERR_LOCAL(err);

	if (tid || m->backtest)
		return moderate_tenant(ctx, g, tid, m, err);
	/* every tenant with rules (a super admin's cron line) */
	if ((rc = ig_authz_require(ctx, 0, IG_MOD_COMMENTS, IG_WRITE, "comments.moderate", err)))
		return rc;
	if (ig_store_json(ctx->store, err, &ids, m->rules_text
			  ? "SELECT id FROM tenants ORDER BY id"
			  : "SELECT DISTINCT tenant_id AS id FROM comment_rules ORDER BY tenant_id", ""))
		return err->code;
	for (i = 0; !rc && i < json_array_size(ids); i++)
		rc = moderate_tenant(ctx, g, ig_json_int(json_array_get(ids, i), "id", 0), m, err);
	json_decref(ids);
	return rc;
}

static int moderate_tenant(struct ig_ctx *ctx, struct ig_graph *g, int64_t tid,
			   struct ig_cm_moderate *m, struct ig_err *err)
{
	struct ig_store *st = ctx->store;
	struct mstate ms;
	struct crow *rows = NULL;
	int64_t after = 0;
	int rc, n = 0;
	ERR_LOCAL(err);

	if ((rc = ig_authz_require(ctx, tid, IG_MOD_COMMENTS,
				   m->dry_run || m->backtest ? IG_READ : IG_WRITE,
				   m->backtest ? "comments.backtest" : "comments.moderate", err)))
		return rc;
	if ((rc = mstate_init(&ms, ctx, g, tid, m, err)))
		goto out;
	if (m->backtest && !ms.given) {
		int64_t k = 0;

		if (ig_store_int(st, err, &k, "SELECT count(*) FROM comment_rules WHERE tenant_id = ?",
				 "i", tid) < 0) {
			rc = err->code;
			goto out;
		}
		if (!k) {
			rc = ig_err_set(err, IG_EX_DATAERR, "backtest: the tenant has no rules stored:"
					" give --rules FILE, or store them with 'rules set'");
			goto out;
		}
	}
	if (!(rows = calloc(1024, sizeof(*rows)))) {
		rc = OOM(err);
		goto out;
	}
	for (;;) {
		struct ig_stmt *s;
		int k = 0, i;

		/* a page of comments, the statement closed before acting on them */
		/* Pages in id order.  The unary '+' keeps the planner off the
		 * (tenant_id, created_at) index, which would sort every remaining
		 * row for each page: --pending walks the partial index of
		 * unmoderated comments, a backtest the table in rowid order. */
		if (m->pending)
			s = ig_store_query(st, err,
				"SELECT c.id, c.account_id, a.external_id, c.comment_id,"
				" COALESCE(c.from_username, ''), c.text, c.parent_id IS NOT NULL, c.own,"
				" COALESCE(a.username, ''), COALESCE(c.from_id, '')"
				" FROM comments c JOIN accounts a ON a.id = c.account_id"
				" WHERE c.tenant_id = ? AND c.moderated_at IS NULL AND c.id > ? AND c.deleted = 0"
				" AND +c.created_at >= ? AND (? IS NULL OR a.external_id = ? OR ('@' || a.username) = ?)"
				" ORDER BY c.id LIMIT 1024", "iiisss", tid, after, m->since,
				m->account, m->account, m->account);
		else
			s = ig_store_query(st, err,
				"SELECT c.id, c.account_id, a.external_id, c.comment_id,"
				" COALESCE(c.from_username, ''), c.text, c.parent_id IS NOT NULL, c.own,"
				" COALESCE(a.username, ''), COALESCE(c.from_id, '')"
				" FROM comments c JOIN accounts a ON a.id = c.account_id"
				" WHERE +c.tenant_id = ? AND c.id > ? AND c.deleted = 0"
				" AND +c.created_at >= ? AND (? IS NULL OR a.external_id = ? OR ('@' || a.username) = ?)"
				" ORDER BY c.id LIMIT 1024", "iiisss", tid, after, m->since,
				m->account, m->account, m->account);
		if (!s) {
			rc = err->code;
			break;
		}
		while (k < 1024 && (n = ig_stmt_next(st, s, err)) > 0)
			crow_read(s, &rows[k++]);
		if (k == 1024)
			ig_stmt_reset(s);
		else if (n < 0) {
			rc = err->code;
			break;
		}
		for (i = 0; i < k && !rc; i++)
			rc = moderate_one(&ms, rows[i].account_id, rows[i].ext, rows[i].cid, rows[i].text,
					  rows[i].user, rows[i].reply, rows[i].own, err);
		if (!rc && !m->dry_run && !m->backtest && k) {
			/* one transaction a page marks them moderated */
			if (!(rc = ig_store_begin(st, err))) {
				int64_t now = ig_time_now();

				for (i = 0; i < k && !rc; i++)
					rc = ig_store_runf(st, err, "UPDATE comments SET moderated_at = ?"
							   " WHERE id = ?", "ii", now, rows[i].id);
				rc = ig_store_end(st, rc, err);
			}
		}
		if (k)
			after = rows[k - 1].id;
		for (i = 0; i < k; i++) {
			free(rows[i].text);
			rows[i].text = NULL;
		}
		if (rc || k < 1024)
			break;
	}
	if (!rc && m->backtest && m->emit) {
		json_t *sum = summary(&ms), *v;
		const char *key;

		json_object_foreach(sum, key, v)
			m->emit(m->arg, v);
		json_decref(sum);
	}
out:
	free(rows);
	mstate_release(&ms);
	return rc;
}

int ig_comments_moderate_event(struct ig_ctx *ctx, struct ig_graph *g, const json_t *ev,
			       struct ig_cm_moderate *m, int *taken, struct ig_err *err)
{
	struct mstate *ms = m->state;
	const char *type = ig_json_str(ev, "type"), *tenant = ig_json_str(ev, "tenant");
	const char *cid = ig_json_str(ev, "comment_id");
	struct ig_stmt *s;
	struct crow c;
	int64_t tid;
	int rc, n, skip;
	ERR_LOCAL(err);

	*taken = 0;
	if (!type || strcmp(type, "comment"))
		return 0;
	*taken = 1;
	if (!cid)
		cid = ig_json_str(ev, "mid");
	if (!tenant || !cid)
		return ig_err_set(err, IG_EX_DATAERR, "a comment event needs 'tenant' and 'comment_id'");
	if ((rc = ig_comments_tenant(ctx, tenant, !m->dry_run, "comments.moderate", &tid, err)))
		return rc;
	if (!ms || ms->tid != tid) {
		ig_comments_moderate_end(m);
		if (!(ms = calloc(1, sizeof(*ms))))
			return OOM(err);
		if ((rc = mstate_init(ms, ctx, g, tid, m, err))) {
			mstate_release(ms);
			free(ms);
			return rc;
		}
		m->state = ms;
	}
	ms->m = m;
	s = ig_store_query(ctx->store, err,
		"SELECT c.id, c.account_id, a.external_id, c.comment_id, COALESCE(c.from_username, ''),"
		" c.text, c.parent_id IS NOT NULL, c.own, COALESCE(a.username, ''), COALESCE(c.from_id, ''),"
		" c.deleted, c.moderated_at IS NOT NULL FROM comments c JOIN accounts a ON a.id = c.account_id"
		" WHERE c.tenant_id = ? AND c.comment_id = ? ORDER BY c.id LIMIT 1", "is", tid, cid);
	if (!s)
		return err->code;
	if ((n = ig_stmt_next(ctx->store, s, err)) <= 0)
		return n < 0 ? err->code : ig_err_set(err, IG_EX_DATAERR, "unknown comment '%.64s'", cid);
	crow_read(s, &c);
	/* --account: another account's comment passes by; a comment the rules
	 * already decided on (a redelivery, a replay) is left alone */
	skip = (m->account && strcmp(m->account, c.ext)
		&& !(m->account[0] == '@' && !strcasecmp(m->account + 1, ig_col_text(s, 8))))
	       || ig_col_int(s, 10) || ig_col_int(s, 11);
	if (m->account && skip && !ig_col_int(s, 10) && !ig_col_int(s, 11))
		*taken = 0;
	ig_stmt_reset(s);
	if (!skip)
		rc = moderate_one(ms, c.account_id, c.ext, c.cid, c.text, c.user, c.reply, c.own, err);
	if (!skip && !rc && !m->dry_run)
		rc = ig_store_write(ctx->store, NULL, err, "UPDATE comments SET moderated_at = ?"
				    " WHERE id = ?", "ii", ig_time_now(), c.id);
	free(c.text);
	return rc;
}

void ig_comments_moderate_end(struct ig_cm_moderate *m)
{
	if (m->state) {
		mstate_release(m->state);
		free(m->state);
		m->state = NULL;
	}
}

int ig_comments_dead_letter(struct ig_store *st, const char *reason, const char *raw, size_t len,
			    struct ig_err *err)
{
	int64_t now = ig_time_now();

	return ig_store_write(st, NULL, err,
		"INSERT INTO dead_letters(source, reason, raw, created_at, updated_at)"
		" VALUES ('ig-comments', ?, ?, ?, ?)", "sbii", reason, raw, (int)len, now, now);
}
