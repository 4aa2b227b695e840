/*
 * connect_int.h — what the files of the connect module share inside it (not
 * for programs: use connect.h, the module's one public header).
 *
 *   lib/connect.c    the helpers declared first below; flavour, channel and
 *                    the account lookups (tenant, find, all); test, subscribe
 *   lib/oauth.c      the OAuth state, the authorisation URL, the code
 *                    exchanges, the long-lived token exchange, the callback
 *   lib/accounts.c   the candidate accounts an exchange or a token yields,
 *                    storing them (add), list, assign, disconnect, move
 *   lib/tokens.c     sealed tokens (open, seal, mask, drop), the outcome of a
 *                    call on the account row, debug_token, refresh, rekey
 *   lib/callbacks.c  Meta's signed_request, deauthorize, data deletion
 *   lib/doctor.c     the health check, one function per check
 *
 * connect.h's contracts hold here too.  A function below writes inside the
 * caller's transaction only where its comment says so.
 */
#ifndef IG_CONNECT_INT_H
#define IG_CONNECT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <jansson.h>

#include "connect.h"
#include "err.h"
#include "graph.h"
#include "igtime.h"
#include "store.h"

#define PROFILE_FIELDS "username,name,profile_picture_url,followers_count,biography,media_count"
#define DAY 86400

/* Columns read into struct ig_account, in this order. */
#define ACC_COLS "a.id, a.tenant_id, a.agent_id, a.location_id, t.slug, a.flavour," \
	" a.external_id, a.page_id, a.username, a.status, a.token_expires_at," \
	" a.token_issued_at, a.access_token IS NOT NULL, a.channel"

static inline int is_messenger(const struct ig_account *acc)
{
	return !strcmp(acc->channel, "messenger");
}

static inline int is_ig(const char *flavour)
{
	return !strcmp(flavour, "instagram");
}

/* The code an error carries (70 when none: a bug, or err NULL). */
static inline int ecode(const struct ig_err *err)
{
	return err && err->code ? err->code : IG_EX_SOFTWARE;
}

static inline int oom(struct ig_err *err)
{
	return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
}

static inline json_t *iso_or_null(int64_t t)
{
	char buf[32];

	return t > 0 ? json_string(ig_time_iso(t, buf)) : json_null();
}

static inline json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* The end of a failed transaction: roll back, and return rc, or err's code
 * when rc is 0 (a statement that could not be prepared leaves rc at 0). */
static inline int conn_rollback(struct ig_store *st, int rc, const struct ig_err *err)
{
	ig_store_rollback(st);
	return rc ? rc : ecode(err);
}

/* Meta's answer lacks what the reference documents (69). */
static inline int bad_reply(struct ig_err *err, const char *what)
{
	return ig_err_set(err, IG_EX_UNAVAILABLE, "graph: unexpected answer to %s", what);
}

/* ------------------------------------------------------------ lib/connect.c */

/* One Graph call (lib/graph.h); *body new (NULL for a non-JSON body), *gerr
 * the decoded Graph error when gerr is not NULL. */
int conn_gcall(struct ig_graph *g, enum ig_host host, const char *method, int versioned,
	       const char *path, const char *const *query, const char *const *form,
	       const char *token, int idem, json_t **body, struct ig_graph_error *gerr,
	       struct ig_err *err);
/* The end of an ig_stmt_next loop: 0, or rc's error prefixed with what. */
int conn_step_done(struct ig_store *st, struct ig_stmt *s, int rc, struct ig_err *err,
		   const char *what);
/* The agent's name into buf ("" when id is 0 or unknown); returns buf. */
const char *conn_agent_name(struct ig_ctx *ctx, int64_t id, char *buf, size_t n);
/* The rows of s, a bound "SELECT " ACC_COLS " FROM accounts a JOIN tenants t
 * ...", appended to *accs (*n of them, empty at first; free it, also after
 * a failure); what prefixes a store error. */
int conn_acc_rows(struct ig_ctx *ctx, struct ig_stmt *s, struct ig_account **accs, size_t *n,
		  const char *what, struct ig_err *err);
/* A known channel, and messenger only with Facebook Login; else 64. */
int conn_channel_check(const char *flavour, const char *channel, struct ig_err *err);
/* "a,b c" → ["a","b","c"]; new reference. */
json_t *conn_scopes_array(const char *csv);
/* Copy the profile fields of Meta's answer me into info. */
void conn_take_profile(json_t *info, const json_t *me);
/* Permissions as Meta gives them (comma string or array) → new comma string. */
char *conn_perms_csv(const json_t *v);
/* The start of a per-account result record {tenant, account, username,
 * flavour}, new reference; conn_set_error adds {error, exit}. */
json_t *conn_result(const struct ig_account *acc);
void conn_set_error(json_t *o, int rc, const char *msg);
/* The profile behind token, checked to be acc's (65 otherwise); *me new. */
int conn_fetch_profile(struct ig_graph *g, const struct ig_account *acc, const char *token,
		       json_t **me, struct ig_err *err);
/* The subscribed_apps edge of acc (the account itself, or its Page). */
void conn_subscribed_path(const struct ig_account *acc, char *path, size_t n);

/* ------------------------------------------------------------ lib/oauth.c */

/* Facebook Login: a short-lived user token → a long-lived one (*long_tok
 * new, ig_wipe_free). */
int conn_fb_long_lived(struct ig_ctx *ctx, struct ig_graph *g, const char *short_tok,
		       char **long_tok, struct ig_err *err);

/* ------------------------------------------------------------ lib/accounts.c */

/* An account found by an exchange, waiting to be stored. */
struct cand {
	json_t *info;        /* external_id, page_id, username, name, profile_picture_url,
	                      * followers_count, biography, details (object) */
	char *token;         /* wiped on release */
	int64_t expires_at;  /* 0 = never */
	char *scopes;
	char login_user[64];
};

struct cands {
	struct cand *v;
	size_t n, cap;
	json_t *skipped;     /* array of {skipped, page_id, reason} */
	const char *channel; /* "instagram" (NULL) or "messenger" */
};

void conn_cands_release(struct cands *c);
/* Instagram Login: the account behind token (GET /me) becomes a candidate. */
int conn_ig_candidate(struct ig_graph *g, const char *token, int64_t expires,
		      const char *scopes, const char *login_user, struct cands *cs,
		      struct ig_err *err);
/* Facebook Login: the Pages of a long-lived user token become candidates
 * for cs->channel; a Page without what the channel needs is skipped. */
int conn_fb_candidates(struct ig_ctx *ctx, struct ig_graph *g, const char *user_token,
		       struct cands *cs, struct ig_err *err);
/* Store the candidates for tenant and agent (own transaction) and report
 * them in *out (new array, skipped ones too); 65 when none could be, or
 * some were refused. */
int conn_finish_connect(struct ig_ctx *ctx, int64_t tenant_id, int64_t agent, const char *flavour,
			struct cands *cs, json_t **out, struct ig_err *err);
/* Delete an account row and what hangs off it (the caller's transaction). */
int conn_erase_account(struct ig_ctx *ctx, int64_t id, struct ig_err *err);

/* ------------------------------------------------------------ lib/tokens.c */

/* Open acc's access token (*tok new, ig_wipe_free); 65 when it has none. */
int conn_account_token(struct ig_ctx *ctx, const struct ig_account *acc, char **tok,
		       struct ig_err *err);
/* Seal token for account id and store it with its times (the caller's
 * transaction). */
int conn_store_token(struct ig_ctx *ctx, int64_t id, const char *token, int64_t issued,
		     int64_t expires, struct ig_err *err);
/* The masked form of a sealed access token (new); NULL when it does not open. */
json_t *conn_sealed_masked(struct ig_ctx *ctx, int64_t id, const void *blob, size_t len);
/* Drop the tokens, mark disconnected with why (the caller's transaction). */
int conn_drop_tokens(struct ig_ctx *ctx, int64_t id, const char *why, struct ig_err *err);
/* Record a call's outcome on the row (own transaction): 0 active, 77
 * needs_reauth, 69 error; any code counts as an error with its message. */
int conn_note_result(struct ig_ctx *ctx, const struct ig_account *acc, int code,
		     const char *msg, struct ig_err *err);
/* GET /debug_token for token with the app token; *data (its "data") new. */
int conn_debug_token(struct ig_ctx *ctx, struct ig_graph *g, const char *token, json_t **data,
		     struct ig_err *err);

#endif
