/*
 * reply.h — the reply engine (DESIGN.md §7): which unanswered inbound
 * messages get an automated answer, composing it (kb or openai engine),
 * queueing it in the outbox and sending it; and what humans do with a
 * conversation (pause, resume, send, assign, status, priority).
 *
 * Decision rules, in this order — the first that applies is the skip reason
 * reported with --explain:
 *   no_unanswered      nothing inbound is waiting (another worker answered)
 *   answered_by_human  every waiting message is older than a human reply
 *   ai_paused          conversation ai_state is 'paused'
 *   not_thread_owner   another app owns the thread (handover)
 *   no_agent           the account has no agent and the tenant no default
 *   agent_inactive     the answering agent is switched off
 *   window_closed      the customer's last message is older than 24 h
 *   debounce           the agent's debounce_seconds have not passed since the
 *                      last inbound message (the burst is answered later, once)
 *   no_account_token   the account has no token or needs re-authorisation
 *   loop_guard         reply_max_per_hour automated replies already went to
 *                      this conversation in the last hour (an escalation opens)
 *   token_cap          openai engine: the tenant's llm_daily_token_cap is spent
 *                      (escalated, the burst counts as handled)
 *   low_confidence     kb engine: the best passage covers less than
 *                      kb_min_confidence (escalated, the burst counts as handled)
 * Skips leave the messages unanswered (replied_at NULL) so a later
 * `--pending` run reconsiders them, except answered_by_human, token_cap and
 * low_confidence, which hand the burst to a human.
 *
 * Claiming: in one BEGIN IMMEDIATE transaction per batch, each conversation's
 * burst (all its unanswered inbound messages) gets replied_at and one outbox
 * row (pending, leased to this worker); so concurrent workers never answer a
 * message twice.  The library never prints: output records go through
 * the emit callback.
 */
#ifndef IG_REPLY_H
#define IG_REPLY_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ctx.h"
#include "err.h"
#include "graph.h"
#include "outbox.h"

#define IG_REPLY_BATCH 256          /* conversations per claim transaction */
#define IG_REPLY_WINDOW (24 * 3600)  /* standard messaging window, reference §3.3 */
#define IG_REPLY_HUMAN_WINDOW (7 * 24 * 3600)  /* HUMAN_AGENT tag window */

struct ig_reply_opts {
	int dry_run;         /* decide and compose; change nothing, send nothing */
	int review;          /* keep answers as drafts for a human (outbox 'draft') */
	int explain;         /* emit a record for every skip */
	int parallel;        /* requests in flight (0 = IG_OUTBOX_PARALLEL) */
	int history;         /* openai: messages of history in the prompt (0 = 10) */
	int64_t tenant_id;   /* 0 = every tenant */
	int64_t account_id;  /* 0 = every account */
	long limit;          /* --pending: at most this many conversations (0 = all) */
};

struct ig_reply {
	struct ig_ctx *ctx;            /* borrowed */
	struct ig_graph *graph;        /* borrowed; NULL: nothing can be sent */
	struct ig_reply_opts o;
	char worker[128];
	/* Called with every output record (borrowed); must not fail silently:
	 * cmd/ dies when stdout fails. */
	void (*emit)(void *cookie, const json_t *rec);
	void *cookie;
	/* settings */
	long max_per_hour;
	double min_confidence;
	long long token_cap;
	char *llm_key;                 /* loaded on first use; wiped on release */
	int llm_key_loaded;
	/* what happened */
	long sent, drafted, skipped, escalated, failed, unknown, requeued;
	long expired;                  /* 'sending' rows found past their lease (now unknown) */
	int worst;                     /* most actionable exit code: 77 > 78 > 69 > 65 > 75 */
	/* What went wrong, one entry per (tenant, account, code, reason), for
	 * cmd/ to report on stderr: a JSON array of {"tenant","account","code",
	 * "reason","conversations"} (owned; NULL until the first problem). */
	json_t *problems;
};

/* Read the settings; 78 when one is not a number. */
int ig_reply_init(struct ig_reply *r, struct ig_ctx *ctx, struct ig_graph *g,
		  const struct ig_reply_opts *o, struct ig_err *err);
void ig_reply_release(struct ig_reply *r);

/*
 * Fold an exit code into r->worst, the most actionable first: 77 (an account
 * needs re-authorisation, or a permission is missing), 78 (configuration),
 * 69 (Meta refused for good), 65 (bad data), then 75 (temporary: the next run
 * retries by itself).
 */
void ig_reply_note(struct ig_reply *r, int code);

/* Note code (as ig_reply_note) and record a problem of the account `account`
 * (external id; "" or NULL when none) of tenant `tenant` (slug) for the
 * report; the same problem again only counts one more conversation. */
void ig_reply_problem(struct ig_reply *r, int code, const char *tenant, const char *account,
		      const char *reason);

/*
 * A routed event (borrowed) → the conversation to consider.  0 with *conv
 * set, or *conv 0 when the event is not an inbound message (ignored);
 * 65 with err set when the record is malformed or names a conversation that
 * does not match its tenant and account.
 */
int ig_reply_event(struct ig_reply *r, const json_t *ev, int64_t *conv, int64_t *tenant_id,
		   struct ig_err *err);

/* Decide, claim, compose and send for these conversations (one batch, at
 * most IG_REPLY_BATCH).  0, or an exit code when the store failed (per-
 * conversation outcomes go to r->worst and the emitted records). */
int ig_reply_conversations(struct ig_reply *r, const int64_t *ids, size_t n, struct ig_err *err);

/*
 * `--pending`: turn 'sending' rows whose lease ran out into 'unknown', send
 * queued rows (pending, lease free), then walk conversations with open
 * windows and unanswered inbound messages, batch by batch.
 */
int ig_reply_pending(struct ig_reply *r, struct ig_err *err);

/* Keep a bad input record (dead_letters, source 'ig-reply'). */
int ig_reply_dead_letter(struct ig_store *st, int64_t tenant_id, const char *reason,
			 const char *raw, size_t len, struct ig_err *err);

/* --- humans --- */

/* The tenant a conversation belongs to (65 when there is no such
 * conversation). */
int ig_reply_conv_tenant(struct ig_store *st, int64_t conv, int64_t *tenant_id,
			 struct ig_err *err);
/* The conversation as a listing row (new reference); 65 when it is not in
 * tenant_id. */
int ig_reply_conv_json(struct ig_store *st, int64_t tenant_id, int64_t conv, json_t **out,
		       struct ig_err *err);

struct ig_conv_filter {
	const char *status, *ai, *priority, *assignee, *account;
	int unanswered, escalated;
	long limit;
};
int ig_reply_conv_list(struct ig_store *st, int64_t tenant_id, const struct ig_conv_filter *f,
		       json_t **out, struct ig_err *err);

enum ig_conv_change {
	IG_CONV_PAUSE, IG_CONV_RESUME, IG_CONV_ASSIGN, IG_CONV_STATUS, IG_CONV_PRIORITY
};
/*
 * One audited change of a conversation of tenant_id:
 *   pause:    ai_state paused, ai_reason = value or "human takeover"
 *   resume:   ai_state active, open escalations resolved
 *   assign:   value = a member's e-mail or user id, or "-" to unassign
 *   status:   open | pending | closed;  priority: P0..P3
 * A bad value → 65.
 */
int ig_reply_conv_change(struct ig_ctx *ctx, int64_t tenant_id, int64_t conv,
			 enum ig_conv_change what, const char *value, struct ig_err *err);

/*
 * A human reply (ig-reply send): within 24 h of the customer's last message
 * plain, up to 7 days with the HUMAN_AGENT tag, later refused (65, naming
 * the window).  Queued in the outbox (origin 'human', or 'template' with
 * template_name), the waiting messages count as answered, open escalations
 * resolve, and the AI pauses unless keep_ai.  With dry_run nothing changes;
 * it->state is "dry_run".  Otherwise the row is sent at once and it holds
 * the outcome (release it).
 */
int ig_reply_human_send(struct ig_reply *r, int64_t tenant_id, int64_t conv, const char *text,
			const char *template_name, int keep_ai, struct ig_outbox_item *it,
			struct ig_err *err);

/* Send (now) outbox rows a human just approved or retried; the outcome is
 * emitted and folded into r->worst. */
int ig_reply_send_rows(struct ig_reply *r, const int64_t *ids, size_t n, struct ig_err *err);

/* The account with external id `ext` (in tenant_id, 0 = any); 65 if none. */
int ig_reply_account_id(struct ig_store *st, int64_t tenant_id, const char *ext, int64_t *id,
			struct ig_err *err);

#endif
