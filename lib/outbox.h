/*
 * outbox.h — every outgoing message, and the state machine that sends it
 * exactly once in intent (DESIGN.md §7):
 *
 *   draft ──approve──► pending ──claim──► sending ──► sent
 *     │                  ▲  │                  ├────► failed     (permanent: 69, 77)
 *     └──reject──► rejected │                  ├────► unknown    (ambiguous timeout)
 *                           │                  └────► pending    (temporary, not acted on)
 *   failed|unknown ──retry──┘      pending|failed|unknown ──abandon──► abandoned
 *
 * Claiming is a committed transition pending → sending with lease_owner and
 * lease_until, in BEGIN IMMEDIATE, before the request leaves: two workers
 * never both claim a row.  A row left in 'sending' past its lease (its
 * worker died mid-request) may have been delivered: ig_outbox_expire()
 * turns it 'unknown', and nothing resends an 'unknown' row automatically —
 * only `ig-reply outbox retry` (a human's decision) does.
 *
 * Meta's message id is stored as soon as the answer arrives, so ig-route
 * recognises the echo as ours.  Error 190 marks the account needs_reauth
 * (last_error, error_count + 1); a window error (10/2534022) is recorded as
 * failed and not retried; rate limits and temporary errors were already
 * retried by the graph client (lib/graph.h).
 */
#ifndef IG_OUTBOX_H
#define IG_OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ctx.h"
#include "err.h"
#include "graph.h"

#define IG_OUTBOX_PARALLEL 16   /* requests in flight by default */
#define IG_OUTBOX_WINDOW (24 * 3600)  /* standard messaging window, reference §3.3 */

/* One row as sent (or not): filled by ig_outbox_send from the store. */
struct ig_outbox_item {
	int64_t id;                /* in: the outbox row */
	int64_t tenant_id, account_id, conversation_id;
	char tenant[64];           /* slug */
	char account[64];          /* the account's external id */
	char agent[64];            /* the answering agent's handle, "" if none */
	char origin[16];
	char *recipient, *text, *tag, *payload;
	/* results */
	char state[16];            /* sent | failed | unknown | pending | abandoned
	                              | (not claimed: "") */
	const char *skip;          /* abandoned: why, as an ig-reply --explain skip code */
	char *mid;
	int rc;                    /* 0 or the exit code of this send */
	char error[600];
	/* internal */
	char *token;
	int host;
	char path[96];
};

void ig_outbox_item_release(struct ig_outbox_item *it);

/* "host:pid:random" — who holds a lease. */
void ig_outbox_worker_id(char *buf, size_t n);

/* Seconds a claim is good for: long enough for every retry the graph client
 * may make (http_timeout × (http_retries + 2)), at least 300. */
int64_t ig_outbox_lease_seconds(const struct ig_config *cfg);

/*
 * Insert a row (inside the caller's transaction).  state is "draft" or
 * "pending"; lease_owner may be NULL.  tag NULL or "HUMAN_AGENT"; created_by
 * 0 = none.  *id set.  0 or an exit code.
 */
int ig_outbox_insert(struct ig_store *st, int64_t tenant_id, int64_t account_id,
		     int64_t conversation_id, const char *origin, const char *recipient,
		     const char *text, const char *tag, const char *state, int64_t created_by,
		     const char *lease_owner, int64_t lease_until, int64_t *id, struct ig_err *err);

/*
 * Send rows items[i].id (state pending, lease free or ours): claim them in
 * one transaction, send them concurrently (at most `parallel` in flight),
 * record every outcome in one transaction.  Each item gets state, mid, rc
 * and error; a row another worker holds is left alone (state "").  An AI
 * row (origin "ai") is not sent but made 'abandoned' (state "abandoned",
 * error and skip say why) when its conversation is no longer the AI's:
 * AI paused ("ai paused"), a thread owner set or a human reply since the
 * row was queued ("human took over"), or more than 24 h since the last
 * inbound message ("window closed").  Returns
 * 0, or an exit code when the store or the master key failed (then nothing
 * was claimed, or — if the recording failed — rows stay 'sending' and their
 * lease expiry turns them 'unknown').  The per-send outcome is in items.
 */
int ig_outbox_send(struct ig_ctx *ctx, struct ig_graph *g, struct ig_outbox_item *items,
		   size_t n, int parallel, const char *worker, struct ig_err *err);

/* Rows 'sending' whose lease ran out become 'unknown' (tenant 0 = all,
 * account 0 = all); *n how many.  Runs its own transaction. */
int ig_outbox_expire(struct ig_store *st, int64_t tenant_id, int64_t account_id, int *n,
		     struct ig_err *err);

/* Up to max ids above `after` of rows ready to send: pending, with text,
 * lease free (tenant 0 = all, account 0 = all), in id order.  Returns how
 * many (>= 0) or -1 with err set. */
int ig_outbox_ready(struct ig_store *st, int64_t tenant_id, int64_t account_id, int64_t after,
		    int64_t *ids, int max, struct ig_err *err);

/* A listing of rows (new reference): state / conversation filters optional
 * (NULL, 0); limit 0 = all. */
int ig_outbox_list(struct ig_store *st, int64_t tenant_id, const char *state,
		   int64_t conversation_id, long limit, json_t **out, struct ig_err *err);

/*
 * Human decisions on one row of tenant_id, each audited in its transaction:
 *   approve: draft → pending (text replaced when new_text is not NULL);
 *   retry:   failed | unknown → pending (a human accepts a possible duplicate);
 *   reject:  draft → rejected;
 *   abandon: pending | failed | unknown → abandoned.
 * A row in another state → 65 naming its state; unknown id → 65.
 */
enum ig_outbox_action { IG_OB_APPROVE, IG_OB_RETRY, IG_OB_REJECT, IG_OB_ABANDON };
int ig_outbox_decide(struct ig_ctx *ctx, int64_t tenant_id, int64_t id,
		     enum ig_outbox_action action, const char *new_text, struct ig_err *err);

/* The output record of an item (new reference):
 * {"conversation","tenant","account","agent","outbox","origin","state","mid","text",...}. */
json_t *ig_outbox_item_json(const struct ig_outbox_item *it);

#endif
