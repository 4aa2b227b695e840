/*
 * route.h — webhook intake into the store: keep the raw delivery, verify it,
 * deduplicate, route each event to its account's agent, keep
 * conversations/messages/comments/escalations current, dead letters,
 * replay and explain (DESIGN.md §6, ig-route(1)).
 *
 * Transactions are the caller's: ig_route_begin() … ig_route_commit()
 * around any number of deliveries (pipe mode batches hundreds; CGI mode
 * commits the raw delivery alone, then routes in a second transaction).
 * Inside, each delivery's routing runs under a savepoint: a store error
 * while routing undoes that delivery's routing only, and its raw row stays
 * with status 'received' for `ig-route replay --deliveries`.
 *
 * Routed events are not printed here (the library never prints): they are
 * appended to r->out as JSON Lines, to be written once the transaction that
 * made them has committed — so a printed event is always a stored one.
 * Reports for stderr (dead letters, unknown kinds) go to r->report, one
 * message per line without the program name.
 *
 * Idempotency: messages, echoes, deletes and postbacks are unique by
 * (account, mid) in messages; comments and mentions by (account, comment
 * id) in comments; every other event, and every event of an unknown
 * account, by its key (lib/webhook.h) in event_keys.  A duplicate changes
 * nothing and is not emitted.
 */
#ifndef IG_ROUTE_H
#define IG_ROUTE_H

#include <stdint.h>
#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "ctx.h"
#include "err.h"
#include "webhook.h"

/* How an event was routed (explain's "route"). */
enum ig_route_how {
	IG_ROUTE_OWN,        /* the account's own agent */
	IG_ROUTE_DEFAULT,    /* the tenant's default agent */
	IG_ROUTE_NOAGENT,    /* known account, but no agent and no tenant default */
	IG_ROUTE_UNKNOWN,    /* unknown account: dead letter */
	IG_ROUTE_AMBIGUOUS,  /* a Page id linked in several tenants: dead letter */
	IG_ROUTE_DUPLICATE,  /* already received */
	IG_ROUTE_KIND,       /* unknown event kind: dead letter, not a failure */
	IG_ROUTE_INVALID,    /* malformed event: dead letter */
};
const char *ig_route_how_name(enum ig_route_how h);

struct ig_route_acct {
	char object[16];
	char ref[IG_WH_ID_MAX];
	int found;                  /* 1 known, 0 unknown, -1 ambiguous */
	/* object "page" with no Messenger account for the Page: the tenant
	 * holding the Page for Instagram (0 none, -1 several) */
	int64_t page_tenant;
	int64_t id, tenant_id, agent_id;
	int own_agent;              /* agent_id is the account's own (else tenant default) */
	int pause_on_human;
	char tenant[64], agent[64], external_id[IG_WH_ID_MAX];
	long dmsg, dusers;          /* counter deltas of this batch, flushed at commit */
	long pmsg, pusers;          /* ... of the delivery being routed */
};

struct ig_route {
	struct ig_ctx *ctx;
	struct ig_store *st;
	const char *source;         /* deliveries.source: cgi | pipe | replay */
	int64_t now;
	int explain;                /* collect r->rows instead of r->out */
	int replay;                 /* replaying dead letter replay_id: no new dead letters */
	int64_t replay_id;
	char app_ids[2][IG_WH_ID_MAX];  /* our app ids (handover: "is the new owner us?") */
	struct ig_route_acct *acct; /* look-up cache, valid for one transaction */
	int nacct, aacct;
	struct ig_buf out;          /* routed events, JSON Lines, to print after commit */
	struct ig_buf report;       /* messages for stderr, one per line */
	json_t *rows;               /* explain: one object per event */
	struct ig_route_counts {
		long deliveries, rejected, routed, duplicates, dead, unknown, invalid, failed;
	} n;
	/* called after each commit inside the replay functions (may be NULL):
	 * the caller prints r->out and r->report there and resets them */
	int (*on_commit)(struct ig_route *r, void *arg);
	void *arg;
	size_t explain_base;        /* rows before the delivery being explained */
	/* the delivery being routed */
	int ndead;                  /* events dead-lettered */
	int64_t last_outcome;       /* replay: how the single event ended (enum ig_route_how) */
	/* no savepoint per delivery: a failed delivery leaves the transaction
	 * half-done, so the caller must roll the whole batch back and route it
	 * again with this off (ig-route's pipe mode does) */
	int optimistic;
	/* Emission (pipe mode, schema 007): deliveries stored by this run carry
	 * emit_run, and emit_runs says up to which one the run has printed
	 * (ig_route_emitted); a redelivered event whose first delivery another
	 * run stored and never printed is emitted again.  0: not tracked (CGI,
	 * replay).  ig_route_release drops the run's row when all was printed. */
	int64_t emit_run;
	int64_t emit_hi;            /* this run's last delivery not yet recorded printed */
	int emit_rows;              /* the run has a row in emit_runs */
	int64_t *reemit;            /* earlier runs' deliveries emitted again, to record */
	size_t nreemit, areemit;
};

/* source is a static string.  0 or an exit code. */
int ig_route_init(struct ig_route *r, struct ig_ctx *ctx, const char *source, struct ig_err *err);
void ig_route_release(struct ig_route *r);

/* BEGIN IMMEDIATE / flush counters and COMMIT / ROLLBACK.  Account
 * look-ups are cached for the life of one transaction only. */
int ig_route_begin(struct ig_route *r, struct ig_err *err);
int ig_route_commit(struct ig_route *r, struct ig_err *err);

/*
 * Record that every event committed so far has been printed (call it after
 * writing and flushing r->out): this run's deliveries, and the earlier
 * deliveries whose events it emitted again, are recorded printed.  Its own
 * short transaction, lazily durable (a kill -9 loses nothing committed; a
 * power cut may make a re-send emit a batch twice).  0 or an exit code.
 */
int ig_route_emitted(struct ig_route *r, struct ig_err *err);
void ig_route_abort(struct ig_route *r);

/* Signature policy from the settings webhook_secrets, legacy_sha1 and the
 * secrets they name.  78 when the policy is malformed or a term has none
 * of its secrets available. */
int ig_route_policy_load(struct ig_wh_policy *p, const struct ig_config *cfg, struct ig_err *err);
/* The max_body setting; 78 when it is not a number from 1 to 1 GiB. */
int ig_route_max_body(const struct ig_config *cfg, size_t *out, struct ig_err *err);

/* One delivery as received. */
struct ig_route_in {
	const char *body;
	size_t len;
	int oversize;               /* the body was longer than max_body and was cut there */
	size_t max_body;
	const char *sha256;         /* X-Hub-Signature-256, NULL when absent */
	const char *sha1;           /* X-Hub-Signature, NULL when absent */
	int no_verify;              /* --no-verify: sig_status 'unchecked' */
};

/* What became of it. */
struct ig_route_res {
	int64_t delivery_id;
	enum ig_wh_sig sig;
	const char *secret;         /* the secret that matched, or NULL */
	int code;                   /* 0 accepted; 65 rejected */
	int http;                   /* 200, 400 (malformed), 403 (signature), 413 (too large) */
	char msg[1100];             /* why it was rejected */
};

/*
 * Verify, parse and store one delivery inside the open transaction.
 * Accepted: stored with status `status` ("received" when routing follows
 * in another transaction, "processed" when it follows in this one) and d
 * holds the parse.  Rejected (bad or missing signature, oversize,
 * malformed body): stored with status 'rejected', the reason in res and in
 * deliveries.error.  Returns 0, or an exit code for a store failure (err).
 */
int ig_route_accept(struct ig_route *r, const struct ig_wh_policy *pol,
		    const struct ig_route_in *in, const char *status, struct ig_wh_delivery *d,
		    struct ig_route_res *res, struct ig_err *err);

/*
 * Keep an input record that is not a delivery at all (a line of an
 * envelope stream that is not an envelope) as a dead letter with source
 * 'ig-route:input' — not replayable.  0 or an exit code.
 */
int ig_route_reject_input(struct ig_route *r, const char *raw, size_t len, const char *reason,
			  int64_t *id, struct ig_err *err);

/*
 * Route every event of d (stored as delivery_id with status `stored`)
 * inside the open transaction, under a savepoint.  Appends routed events
 * to r->out (or explain rows to r->rows), reports to r->report, and sets
 * the delivery's status: processed, or partial when some event went to the
 * dead letters.  A store error undoes this delivery's routing, leaves it
 * 'received' with the error, and returns the exit code (err set); the
 * transaction stays usable.  With r->optimistic there is no savepoint: an
 * error returns at once and the transaction must be rolled back.
 */
int ig_route_delivery(struct ig_route *r, int64_t delivery_id, const char *stored,
		      struct ig_wh_delivery *d, struct ig_err *err);

/*
 * Explain d without changing anything: routes it inside a transaction that
 * is rolled back, and appends one row per event to r->rows:
 * {"event","type","kind","account","participant","mid","tenant","agent",
 *  "route","reason"}.  0 or an exit code.
 */
int ig_route_explain(struct ig_route *r, struct ig_wh_delivery *d, struct ig_err *err);

/* Load a stored delivery's body (new, caller frees) for explain/replay.
 * Unknown id → 65. */
int ig_route_load_delivery(struct ig_route *r, int64_t id, char **body, size_t *len,
			   struct ig_err *err);

/*
 * Replay open dead letters of ig-route (id 0 = all): each is routed again;
 * routed (or found to be a duplicate) → status 'replayed'; still unroutable
 * → stays open with updated reason.  Runs its own transactions.  *replayed
 * and *still count them.  dry_run rolls every change back.
 */
int ig_route_replay_dead(struct ig_route *r, int64_t id, int dry_run, long *replayed,
			 long *still, struct ig_err *err);

/*
 * Re-process deliveries left with status 'received' (id 0 = all): a
 * routing failure, or a process killed between storing and routing.
 */
int ig_route_replay_deliveries(struct ig_route *r, int64_t id, int dry_run, long *done,
			       struct ig_err *err);

/*
 * Dead letters as rows {"id","created","status","source","reason",
 * "account","delivery","tenant","raw"} (new reference, a JSON array),
 * newest last.  status NULL = all; tenant_id 0 = all; limit 0 = no limit.
 */
int ig_route_dead_list(struct ig_store *st, const char *status, int64_t tenant_id, long limit,
		       json_t **rows, struct ig_err *err);

#endif
