/*
 * comments.h — the comment board (ig-comments(1)): catch-up sync of each
 * account's recent media with a gap report, the listing, and moderation
 * actions on Meta's comment ids (reference §6, §3.4 private replies).
 *
 * Contracts shared by every function here:
 *
 * - Tenancy and permissions are checked here: module comments (authz.h:
 *   org_admin, marketer and sales change; viewer reads).  A comment is named
 *   by Meta's id and looked up inside the tenant only; a comment of another
 *   tenant is "unknown comment 'x'" (65), never named.
 * - Graph first: local state changes only after Meta confirmed.  Each
 *   action is a comment_actions row: 'pending' (committed before the
 *   request leaves), then 'done', 'failed' or 'unknown' with the audit row
 *   (ig_audit) in the same transaction.  An ambiguous answer (timeout after
 *   sending, HTTP 5xx, Graph code 1 or 2, 1/1357046, 20/1772107) leaves the
 *   action 'unknown'; ig_comments_sync settles it by reading the comment
 *   back.  Nothing is ever sent again automatically, and an action is
 *   refused while an earlier one of the same kind on the comment is
 *   pending or unknown.
 * - What Meta refuses is refused before calling (65, the message says why):
 *   hide/unhide/delete on media the account does not own (a mention) or on
 *   live comments, hiding the account's own comment, replying to a reply
 *   (Instagram threads are one level deep: answer on the parent), non-text
 *   or empty replies, a second private reply, or one after 7 days.
 * - Network calls never run inside a transaction; none of these may be
 *   called with one open.  Results (*out) are new references; times in
 *   them are ISO-8601 UTC.  Return 0 or an exit code with err set.
 */
#ifndef IG_COMMENTS_H
#define IG_COMMENTS_H

#include <stdint.h>
#include <jansson.h>

#include "ctx.h"
#include "graph.h"

#define IG_CM_PAGE 50                       /* Meta's maximum comments per page (§6) */
#define IG_CM_DM_WINDOW (7 * 24 * 3600)     /* private replies: 7 days (§3.4) */
#define IG_CM_REPLY_MAX 2200                /* bytes of a public reply we send */
#define IG_CM_LIVE_MAX (4 * 3600)           /* an Instagram live lasts at most 4 hours */

/* Called with every output record (borrowed). */
typedef void ig_cm_emit_fn(void *arg, const json_t *rec);

/* Resolve the tenant (slug NULL: the key's own) for access a on module
 * comments, audited as `action` when denied. */
int ig_comments_tenant(struct ig_ctx *ctx, const char *slug, int write, const char *action,
		       int64_t *tenant_id, struct ig_err *err);

/*
 * Sync: for each connected Instagram account of the tenant (tenant_id 0:
 * of every tenant, for a super admin), or only
 * `account`: external id or @username), read its `recent` most recent
 * media, their comments and replies page by page (50 a page, at most
 * `parallel` requests in flight), store what is new (source 'sync') and
 * refresh hidden/text/likes of what is known; then settle the account's
 * unknown actions by reading their comments back.  One record per account
 * through emit: {tenant, account, username, media, comments, new, gap, settled,
 * unsettled, requests, error?}; gap = comments found that no webhook
 * delivered.  Returns the most serious per-account failure (77 > 75 > 69)
 * after going through all accounts.
 */
int ig_comments_sync(struct ig_ctx *ctx, struct ig_graph *g, int64_t tenant_id,
		     const char *account, int recent, int parallel, ig_cm_emit_fn *emit, void *arg,
		     struct ig_err *err);

struct ig_cm_filter {
	int unread, spam, replied, unreplied, hidden;
	const char *assigned;     /* a member's e-mail, or "-" for unassigned */
	const char *tag, *media, *account;
	int64_t since;            /* 0 = any */
	int64_t overdue;          /* > 0: unanswered and older than this many seconds */
	long limit;
	int mark_read;            /* mark what is listed as read (needs write access) */
};

/* The board, newest first: an array of rows (new reference). */
int ig_comments_list(struct ig_ctx *ctx, int64_t tenant_id, const struct ig_cm_filter *f,
		     json_t **out, struct ig_err *err);

enum ig_cm_what { IG_CM_REPLY, IG_CM_HIDE, IG_CM_UNHIDE, IG_CM_DELETE, IG_CM_DM };

struct ig_cm_act {
	enum ig_cm_what what;
	const char *comment;      /* Meta's comment id */
	const char *text;         /* reply / dm text (NULL with ai or template_name) */
	const char *template_name;
	const char *attachment;   /* always refused: replies are text only (§6) */
	int ai;                   /* compose with the account agent's engine */
	int draft;                /* reply --ai: keep as a draft for review */
	int on_parent;            /* reply to a reply: answer on its parent */
	const char *origin;       /* "human" (NULL), "rule" or "ai" */
	const char *rule;         /* the deciding rule ("name:line") or NULL */
	int automated;            /* apply the loop guards (rules, --ai) */
};

/*
 * One action (see the contracts above).  *out (always set when it returns
 * 0 or after the request left) is {comment, action, state, action_id,
 * result_id?, error?, ...}.
 */
int ig_comments_act(struct ig_ctx *ctx, struct ig_graph *g, int64_t tenant_id,
		    const struct ig_cm_act *a, json_t **out, struct ig_err *err);

/* Tags are local (Meta has none): add or remove, audited. */
int ig_comments_tag(struct ig_ctx *ctx, int64_t tenant_id, const char *comment,
		    const char *const *tags, int n, int remove, const char *origin,
		    const char *rule, json_t **out, struct ig_err *err);
/* Assign to a member of the tenant (e-mail), or "-" to unassign. */
int ig_comments_assign(struct ig_ctx *ctx, int64_t tenant_id, const char *comment,
		       const char *who, const char *origin, const char *rule, json_t **out,
		       struct ig_err *err);

/* The actions, oldest first (comment NULL = all of the tenant). */
int ig_comments_log(struct ig_ctx *ctx, int64_t tenant_id, const char *comment, int64_t since,
		    long limit, json_t **out, struct ig_err *err);

/* A draft reply (action id) approved (text replaced when new_text) and
 * sent, or rejected. */
int ig_comments_decide(struct ig_ctx *ctx, struct ig_graph *g, int64_t tenant_id, int64_t action,
		       int approve, const char *new_text, json_t **out, struct ig_err *err);

/* The more serious of two exit codes for a run's final status: 77 > 75 > 69,
 * else the first. */
int ig_comments_worse(int worst, int rc);

/* --- rules (rules.h holds the engine; lib/modaction.c applies them) --- */

/* Store the rules text for the tenant (account NULL) or one account; it
 * must parse.  rules_get: the stored text (new string; NULL when none). */
int ig_comments_rules_set(struct ig_ctx *ctx, int64_t tenant_id, const char *account,
			  const char *text, const char *name, json_t **out, struct ig_err *err);
int ig_comments_rules_get(struct ig_ctx *ctx, int64_t tenant_id, const char *account,
			  char **text, struct ig_err *err);

struct ig_cm_moderate {
	int dry_run;
	int pending;              /* the store's unmoderated comments (else: ids fed in) */
	const char *rules_text;   /* NULL: the stored rules */
	const char *rules_name;
	const char *account;      /* NULL: every account */
	int64_t since;            /* backtest: comments created since */
	int backtest;             /* change nothing, count per rule */
	ig_cm_emit_fn *emit;
	void *arg;
	/* what happened */
	long comments, decisions, failed;
	int worst;
	void *state;              /* moderate_event's rules cache; ig_comments_moderate_end */
};

/* moderate --pending / backtest: every comment of the tenant the options
 * select (moderate with tenant_id 0: every tenant with rules, or every
 * tenant with m->rules_text; a super admin's).  Decisions go through emit, each naming its rule; backtest ends
 * with one {"summary":true, rule, line, matched, actions} record per rule. */
int ig_comments_moderate(struct ig_ctx *ctx, struct ig_graph *g, int64_t tenant_id,
			 struct ig_cm_moderate *m, struct ig_err *err);
/* moderate one routed event (type "comment"; others are ignored: *taken 0).
 * The rules are parsed once per tenant of the stream and kept in m->state
 * until ig_comments_moderate_end(m). */
int ig_comments_moderate_event(struct ig_ctx *ctx, struct ig_graph *g, const json_t *ev,
			       struct ig_cm_moderate *m, int *taken, struct ig_err *err);
void ig_comments_moderate_end(struct ig_cm_moderate *m);

/* Keep a bad input record (dead_letters, source 'ig-comments'). */
int ig_comments_dead_letter(struct ig_store *st, const char *reason, const char *raw, size_t len,
			    struct ig_err *err);

#endif
