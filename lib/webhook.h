/*
 * webhook.h — Meta webhook deliveries: the signature policy, and parsing a
 * delivery body into a list of unified events (DESIGN.md §6, seed "Social
 * Channel Integrations").
 *
 * Pure: no store, no files, no globals, no printing.  The fuzz target
 * (tests/fuzz/fuzz-webhook.c) drives ig_webhook_parse() directly, so every
 * byte string must come back either as a parsed delivery or as a 65 with a
 * message — never a crash, never a leak.
 *
 * What a delivery becomes (reference §2):
 *   - a body that is not JSON, not an object, or lacks "object"/"entry[]"
 *     is refused as a whole (65);
 *   - every item of entry[].messaging[], entry[].standby[], entry[].changes[]
 *     (and the flattened {"field","value"} entry form, §2.4) becomes one
 *     event.  An item that is malformed becomes an IG_WH_INVALID event with
 *     the reason; a kind this code does not know becomes IG_WH_UNKNOWN.
 *     Neither stops the others.
 */
#ifndef IG_WEBHOOK_H
#define IG_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "err.h"

enum ig_wh_type {
	IG_WH_MESSAGE,    /* inbound message (text, attachments, story reply, quick reply, ...) */
	IG_WH_ECHO,       /* a message the business account sent (is_echo) */
	IG_WH_DELETE,     /* the customer unsent a message (is_deleted) */
	IG_WH_EDIT,       /* message_edit */
	IG_WH_REACTION,   /* react / unreact */
	IG_WH_READ,       /* messaging_seen / message_reads */
	IG_WH_DELIVERY,   /* Messenger message_deliveries */
	IG_WH_POSTBACK,   /* icebreaker, persistent menu, button */
	IG_WH_REFERRAL,   /* ig.me / m.me link or ad opening a thread */
	IG_WH_OPTIN,      /* messaging_optins */
	IG_WH_HANDOVER,   /* pass/take/request_thread_control, app_roles */
	IG_WH_COMMENT,    /* comments, live_comments, Page feed comments */
	IG_WH_MENTION,    /* mentions (caption or comment) */
	IG_WH_FEED,       /* Page feed items other than comments */
	IG_WH_INSIGHTS,   /* story_insights */
	IG_WH_UNKNOWN,    /* a kind we do not know: kept and reported */
	IG_WH_INVALID,    /* a malformed item: kept and reported (also: a string holding
	                   * a NUL, U+0000 — refused whole, since a C string would cut
	                   * the id or text at it) */
};

/* "message", "echo", ... (the "type" of a routed event). */
const char *ig_wh_type_name(enum ig_wh_type t);

#define IG_WH_ID_MAX 64

/* Where in the delivery an event came from. */
enum ig_wh_level { IG_WH_LVL_MESSAGING, IG_WH_LVL_CHANGE, IG_WH_LVL_ENTRY };

struct ig_wh_event {
	enum ig_wh_type type;
	enum ig_wh_level level;
	int entry;                       /* index in entry[] */
	int index;                       /* index in messaging[]/standby[]/changes[] */
	int standby;                     /* came in entry[].standby[] (another app owns the thread) */
	int flattened;                   /* {"field","value"} directly under the entry */
	char account[IG_WH_ID_MAX];      /* the business account: entry id; sender for echoes */
	char participant[IG_WH_ID_MAX];  /* the customer (IGSID/PSID), comment author */
	const char *mid;                 /* message id, or comment/media id for changes; borrowed */
	const char *text;                /* borrowed; NULL when none */
	const char *kind;                /* message kind / change field / unknown key; static or borrowed */
	int64_t ts_ms;                   /* Meta's time in milliseconds; 0 when absent */
	int64_t at;                      /* the same in Unix seconds (0 when absent) */
	json_t *attachments;             /* owned: [{type,url?,title?,media_id?}] or NULL */
	json_t *extra;                   /* owned: type-specific fields, an object (never NULL) */
	json_t *raw;                     /* borrowed: the item as received */
	json_t *entry_obj;               /* borrowed: its entry (NULL when the entry is not an object) */
	char *key;                       /* owned: deduplication key (see ig_webhook_parse) */
	char reason[256];                /* IG_WH_UNKNOWN / IG_WH_INVALID: why */
};

struct ig_wh_delivery {
	json_t *root;                    /* owned: the parsed body */
	const char *object;              /* borrowed: "instagram", "page", ... */
	struct ig_wh_event *ev;
	size_t n, alloc;
	int nul;                         /* a string in the body holds \u0000 */
};

#define IG_WH_DELIVERY_INIT { NULL, NULL, NULL, 0, 0, 0 }

/*
 * Parse and normalise a delivery body (len bytes, need not be
 * NUL-terminated).  0 with d filled, or 65 with err set when the body as a
 * whole is unusable (d is then empty).  Release d with
 * ig_webhook_release() in both cases.
 *
 * Deduplication keys (DESIGN.md §6.2), "<account>|<what>|...":
 *   messages, echoes, deletes: "|m|<mid>" (the same mid twice is one event),
 *   edits "|edit|<mid>|<num_edit>", reactions "|reaction|<mid>|<who>|<action>|<ms>",
 *   changes "|<field>|<object id>|<time>", others "|<type>|<who>|<ms>".
 */
int ig_webhook_parse(struct ig_wh_delivery *d, const char *body, size_t len, struct ig_err *err);
void ig_webhook_release(struct ig_wh_delivery *d);

/*
 * A self-contained delivery holding only event ev of d — what a dead letter
 * keeps, so `ig-route replay` can route it later with the same code.  New
 * reference.
 */
json_t *ig_webhook_event_delivery(const struct ig_wh_delivery *d, const struct ig_wh_event *ev);

/*
 * 1 when an echo's text carries the human-takeover marker (DESIGN.md §6.4):
 * the trimmed text is, or ends with, "..." or the ellipsis U+2026.
 */
int ig_webhook_has_marker(const char *text);

/* ------------------------------------------------------------ signatures */

/* The secrets that may sign deliveries (setting webhook_secrets). */
enum ig_wh_secret { IG_WH_APP, IG_WH_IG_APP, IG_WH_PREVIOUS_APP, IG_WH_NSECRETS };

/* "app" | "ig_app" | "previous_app" */
const char *ig_wh_secret_name(enum ig_wh_secret s);

/*
 * The policy.  webhook_secrets is a list of terms separated by blanks;
 * each term is NAMES or OBJECT:NAMES, NAMES a comma list of app, ig_app,
 * previous_app tried in order.  A delivery whose "object" has its own term
 * uses it; otherwise the unqualified term.  Examples:
 *   "app,ig_app"                          any object: app secret, then Instagram app secret
 *   "instagram:ig_app,app page:app"       Instagram deliveries: ig_app then app; Page: app only
 *   "app,previous_app"                    during an app secret rotation
 * Reference §1.2: which secret signs Instagram-Login deliveries is
 * unconfirmed, hence the list.
 */
struct ig_wh_policy {
	struct {
		char object[32];                 /* "" = any object */
		enum ig_wh_secret order[IG_WH_NSECRETS];
		int n;
	} term[8];
	int nterm;
	char *secret[IG_WH_NSECRETS];        /* owned (wiped on clear); NULL = not available */
	size_t secret_len[IG_WH_NSECRETS];
	int legacy_sha1;                     /* accept X-Hub-Signature (SHA-1) when -256 is absent */
};

void ig_wh_policy_init(struct ig_wh_policy *p);
void ig_wh_policy_clear(struct ig_wh_policy *p);   /* wipes the secrets */
/* Parse a webhook_secrets value; 0, or 78 with err naming the bad term. */
int ig_wh_policy_parse(struct ig_wh_policy *p, const char *spec, struct ig_err *err);
/* 1 when secret s is named by some term. */
int ig_wh_policy_uses(const struct ig_wh_policy *p, enum ig_wh_secret s);
/* Hand the policy a secret (it copies; the caller wipes its own). */
int ig_wh_policy_set_secret(struct ig_wh_policy *p, enum ig_wh_secret s, const char *secret);

enum ig_wh_sig { IG_SIG_VALID, IG_SIG_INVALID, IG_SIG_MISSING, IG_SIG_UNCHECKED };
/* "valid" | "invalid" | "missing" | "unchecked" (deliveries.sig_status) */
const char *ig_wh_sig_name(enum ig_wh_sig s);

/*
 * Check a delivery's signature headers (NULL when absent) against the
 * secrets the policy allows for `object` (NULL: the body could not be
 * parsed — every available secret is tried, so that garbage signed by Meta
 * is told from garbage signed by nobody).  sha256 = X-Hub-Signature-256,
 * sha1 = X-Hub-Signature (used only with legacy_sha1 and no sha256 header).
 * Constant-time in the digests.  *which (may be NULL) gets the name of the
 * secret that matched.
 */
enum ig_wh_sig ig_wh_verify(const struct ig_wh_policy *p, const char *object,
			    const char *sha256, const char *sha1, const void *body, size_t len,
			    const char **which);

#endif
