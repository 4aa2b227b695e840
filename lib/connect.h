/*
 * connect.h — connecting Instagram accounts: OAuth state, code exchange for
 * both login flavours (reference §7), account rows with sealed tokens,
 * connection test, token refresh, webhook subscription, health check,
 * disconnection, Meta's signed deauthorize / data-deletion callbacks
 * (reference §8), moving an account between tenants, re-sealing every token
 * under a new master key.  ig-connect(1) is a thin shell over this module.
 *
 * This is the module's one public header: one program's facade, one prefix,
 * one struct ig_account and one set of contracts for all of it.  The code
 * is in six files, named before each group below (lib/connect_int.h holds
 * what they share).
 *
 * Contracts shared by every function here:
 *
 * - Permissions are checked here (ig_authz_require on the account's tenant,
 *   module accounts; move and rekey are platform actions) before any
 *   transaction opens, so a denial leaves its audit row and returns 77.
 * - Every change runs in one BEGIN IMMEDIATE transaction with its audit row;
 *   on failure it is rolled back.  Network calls never run inside a
 *   transaction.  None may be called with a transaction open.
 * - Tokens are sealed (ig_seal) with AAD "accounts:<id>:access_token"; they
 *   leave this module only as ig_mask() text.  Records never hold a token.
 * - Results (*out) are new references (json_decref); times in them are
 *   ISO-8601 UTC strings.  Return 0 or an exit code with err set.
 * - An account is named by its external id (the Instagram account id), by
 *   "@username", or by its Page id (Facebook Login).  Lookups are confined
 *   to the actor's tenant for a tenant-scoped key, and to `tenant_id` when
 *   it is non-zero; unknown is 65.
 */
#ifndef IG_CONNECT_H
#define IG_CONNECT_H

#include <stdint.h>
#include <jansson.h>

#include "authz.h"
#include "ctx.h"
#include "graph.h"

#define IG_CONNECT_STATE_TTL 600        /* seconds an authorisation URL stays valid */

/* An account row, as this module reads it (no token). */
struct ig_account {
	int64_t id, tenant_id, agent_id, location_id;
	char tenant[64];
	char flavour[16];               /* "instagram" | "facebook" */
	char external_id[64];
	char page_id[64];
	char username[128];
	char status[16];
	int64_t token_expires_at, token_issued_at;
	int has_token;
	char channel[16];               /* "instagram" | "messenger" (accounts.channel) */
};

/* ------------------------------------------------------------ lib/connect.c */

/* "instagram" | "facebook" → 0, else -1. */
int ig_connect_flavour_valid(const char *flavour);
/* "instagram" | "messenger" → 0, else -1. */
int ig_connect_channel_valid(const char *channel);

/* Resolve a tenant slug for `action` with access a on module accounts
 * (see tenant.h: a tenant key naming another tenant gets 77, never 65).
 * slug NULL: the key's own tenant; 0 with *id = 0 for an actor spanning
 * tenants when allow_all is set. */
int ig_connect_tenant(struct ig_ctx *ctx, const char *slug, enum ig_access a, const char *action,
		      int allow_all, int64_t *id, struct ig_err *err);

/* Find an account (see above) and require access a to it for action. */
int ig_connect_find(struct ig_ctx *ctx, int64_t tenant_id, const char *ref, enum ig_access a,
		    const char *action, struct ig_account *acc, struct ig_err *err);
/* Every account of tenant_id (0 = all the actor may see), oldest first;
 * disconnected ones only with include_disconnected.  *accs is new (free). */
int ig_connect_all(struct ig_ctx *ctx, int64_t tenant_id, int include_disconnected,
		   struct ig_account **accs, size_t *n, struct ig_err *err);

/* Call the API with the stored token, store the brand snapshot (username,
 * name, picture, followers, bio), status and sync time.  An invalid token
 * marks the account needs_reauth (77).  *out is always set (the result
 * record, with "error" on failure). */
int ig_connect_test(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
		    json_t **out, struct ig_err *err);

/* Subscribe the account to webhook fields (NULL = the flavour's default
 * list, reference §1.4) and record them.  *out always set. */
int ig_connect_subscribe(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
			 const char *fields, json_t **out, struct ig_err *err);

/* ------------------------------------------------------------ lib/oauth.c */

/*
 * Start an authorisation: stores a single-use state bound by HMAC (a sub-key
 * of the master key) to tenant, agent (NULL = tenant default) and flavour,
 * valid ttl seconds, and returns {url, state, expires_at, tenant, agent,
 * flavour}.  scopes NULL = the flavour's default list.  78 when the app id
 * or redirect_uri is not configured.
 */
int ig_connect_url(struct ig_ctx *ctx, int64_t tenant_id, const char *agent, const char *flavour,
		   const char *scopes, int64_t ttl, json_t **out, struct ig_err *err);

/* The same for a channel (see ig_connect_add_channel): the state remembers
 * the channel (006-meta.sql). */
int ig_connect_url_channel(struct ig_ctx *ctx, int64_t tenant_id, const char *agent,
			   const char *flavour, const char *channel, const char *scopes, int64_t ttl,
			   json_t **out, struct ig_err *err);

/*
 * Finish an authorisation from what the browser was redirected to: a URL,
 * a query string "code=..&state=..", or JSON {"code","state"} (also
 * "error"/"error_description").  The state is checked (unknown or tampered
 * 65, used 65, expired 65), then the local configuration the exchange needs
 * (the app secret: 77/78), and only then consumed — a local mistake leaves
 * the state for a second try; a denial is 69.  The code is
 * exchanged for a long-lived token and each Instagram account found is
 * stored (Facebook Login: one per Page with a linked Instagram account).
 * *out is an array, one record per account: connected ones as
 * ig_connect_list shows them plus "token" (masked), skipped ones as
 * {"skipped":true, "page_id"|"account", "reason"}.  Returns 65 when some
 * account was refused (already in another tenant: named only to an actor
 * that spans tenants) or none was found, after storing the others.
 */
int ig_connect_callback(struct ig_ctx *ctx, struct ig_graph *g, const char *input, json_t **out,
			struct ig_err *err);

/* ------------------------------------------------------------ lib/accounts.c */

/* Connect from a token the caller already has (flavour instagram: an
 * Instagram user token; facebook: a user or Page token), validated with
 * the Graph API first.  *out as for callback. */
int ig_connect_add(struct ig_ctx *ctx, struct ig_graph *g, int64_t tenant_id, const char *agent,
		   const char *flavour, const char *token, json_t **out, struct ig_err *err);
/*
 * The same for a channel: "instagram" (the above) or "messenger" — Facebook
 * Login only (flavour must be "facebook"; 64 otherwise): every Page the user
 * has the MESSAGING task on (tasks read from the /me/accounts edge; a Page
 * token is taken as it is) becomes an account with channel 'messenger' and
 * external_id = page_id = the Page id, so ig-route can give it the Page's
 * object:"page" deliveries.
 */
int ig_connect_add_channel(struct ig_ctx *ctx, struct ig_graph *g, int64_t tenant_id,
			   const char *agent, const char *flavour, const char *channel,
			   const char *token, json_t **out, struct ig_err *err);

/* Listing rows (no tokens, only their masked form) through fn. */
typedef int ig_connect_row_fn(void *arg, const json_t *row);
int ig_connect_list(struct ig_ctx *ctx, int64_t tenant_id, ig_connect_row_fn *fn, void *arg,
		    struct ig_err *err);

/* Assign: agent name, or NULL with to_default set; location name, NULL to
 * keep, "" to clear. */
int ig_connect_assign(struct ig_ctx *ctx, const struct ig_account *acc, const char *agent,
		      int to_default, const char *location, json_t **out, struct ig_err *err);

/* Unsubscribe (a failure is only a warning in *out's "warnings"), drop the
 * tokens, mark disconnected; with erase, delete the account and everything
 * hanging off it (conversations, messages, comments, outbox). */
int ig_connect_disconnect(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
			  int erase, json_t **out, struct ig_err *err);

/* Move an account (and its history) to another tenant; super admin only.
 * Agent, location and assignees are cleared: they belonged to the old
 * tenant. */
int ig_connect_move(struct ig_ctx *ctx, const struct ig_account *acc, const char *to_tenant,
		    json_t **out, struct ig_err *err);

/* ------------------------------------------------------------ lib/tokens.c */

/* Refresh the token if it is older than 24 h and expires within `within`
 * seconds (Instagram Login); validate the Page token (Facebook Login).
 * *out is always set: {account, result: refreshed|not_due|valid|failed|
 * needs_reauth, ...}.  An account already marked needs_reauth is 77 with
 * result needs_reauth and its last error (never "not_due"). */
int ig_connect_refresh(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
		       int64_t within, json_t **out, struct ig_err *err);

/* Re-seal every sealed token under the key in new_key_file (opened with the
 * current keyring), in one transaction; super admin only. */
int ig_connect_rekey(struct ig_ctx *ctx, const char *new_key_file, json_t **out,
		     struct ig_err *err);

/* ------------------------------------------------------------ lib/doctor.c */

/* Health check, one function per check (token, scopes, subscription, Page
 * link): {account, ok, problems[], ...}.  Returns 0 when healthy, 77 when
 * the account needs re-authorisation (invalid token, missing scopes), 78
 * when it needs another fix (subscription, Page link, expiry near), 75 when
 * the check itself failed temporarily; err's message is the reason (the
 * first problem of that kind), without the account id.  *out always set. */
int ig_connect_doctor(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
		      json_t **out, struct ig_err *err);
/* The compact, problems-only view of a doctor record for narrow output
 * (cron mail): {tenant, account, problem} with the first problem cut to
 * IG_DOCTOR_BRIEF_WIDTH bytes and "(+N)" more; NULL when there is none.
 * New reference. */
#define IG_DOCTOR_BRIEF_WIDTH 60
json_t *ig_connect_doctor_brief(const json_t *record);

/* ------------------------------------------------------------ lib/callbacks.c */

/*
 * Meta's signed_request (reference §8): "<sig>.<payload>", both base64url;
 * sig = HMAC-SHA256(app secret, payload text).  Tried with the Meta app
 * secret, the Instagram app secret and previous_app_secret_file (during a
 * rotation) — whichever are configured — compared in constant time;
 * algorithm must be HMAC-SHA256; issued_at must lie within
 * [now - IG_SIGNED_REQUEST_MAX_AGE, now + IG_SIGNED_REQUEST_SKEW] (a stale
 * request is refused as a replay, a future one points at the clock).  input
 * may be the raw value or a form body holding signed_request=.  *payload is
 * new.  65 on any failure; 78 when no secret is configured.
 */
#define IG_SIGNED_REQUEST_MAX_AGE 86400   /* seconds */
#define IG_SIGNED_REQUEST_SKEW 300        /* seconds */
int ig_signed_request_verify(struct ig_ctx *ctx, const char *input, json_t **payload,
			     struct ig_err *err);

/* Deauthorisation of user_id: that user's accounts are disconnected and
 * their tokens dropped, audited as "meta".  *out {user_id, accounts[]}. */
int ig_connect_deauthorize(struct ig_ctx *ctx, const char *user_id, json_t **out,
			   struct ig_err *err);
/* Data deletion for user_id: that user's accounts and everything hanging
 * off them are erased; the request is recorded under a confirmation code.
 * *out {url, confirmation_code}.  78 when data_deletion_url is unset. */
int ig_connect_data_deletion(struct ig_ctx *ctx, const char *user_id, json_t **out,
			     struct ig_err *err);
/* The stored deletion request; unknown code 65. */
int ig_connect_deletion_status(struct ig_ctx *ctx, const char *code, json_t **out,
			       struct ig_err *err);

#endif
