/*
 * lib/oauth.c — OAuth for both login flavours (reference §7; see connect.h):
 * the signed single-use state, the authorisation URL, the code exchanges
 * (Instagram Login: short-lived, then long-lived token; Facebook Login:
 * user token, long-lived user token, then its Pages) and the callback that
 * ties them together.  The accounts an exchange finds are stored by
 * lib/accounts.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "cgi.h"
#include "connect_int.h"
#include "crypto.h"
#include "igtime.h"
#include "jsonio.h"

/* Scopes asked for by default (reference §7.1, §7.2). */
static const char ig_default_scopes[] =
	"instagram_business_basic,instagram_business_manage_messages,"
	"instagram_business_manage_comments,instagram_business_content_publish,"
	"instagram_business_manage_insights";
static const char fb_default_scopes[] =
	"instagram_basic,instagram_manage_messages,instagram_manage_comments,"
	"instagram_content_publish,instagram_manage_insights,pages_show_list,"
	"pages_read_engagement,pages_manage_metadata,pages_messaging,business_management";
/* Messenger (a Page connected with --channel messenger): the Page scopes
 * (reference §1.4, §7.2). */
static const char messenger_default_scopes[] =
	"pages_show_list,pages_manage_metadata,pages_messaging,pages_read_engagement,"
	"business_management";

/* The app id and secret of a login flavour. */
static int app_credentials(struct ig_ctx *ctx, const char *flavour, const char **id,
			   char **secret, struct ig_err *err)
{
	const char *idname = is_ig(flavour) ? "ig_app_id" : "app_id";

	*secret = NULL;
	*id = ig_config_get(&ctx->cfg, idname);
	if (!*id || !**id)
		return ig_err_set(err, IG_EX_CONFIG, "no %s configured (IGKIT_%s)", idname,
				  is_ig(flavour) ? "IG_APP_ID" : "APP_ID");
	return ig_config_secret(&ctx->cfg, is_ig(flavour) ? "ig_app_secret_file" : "app_secret_file",
				secret, err);
}

/* ------------------------------------------------------------ OAuth state */

/* mac = base64url(HMAC(HMAC(master, "oauth-state"), nonce|tenant|agent|flavour)). */
static char *state_mac(const unsigned char *master, const char *nonce, int64_t tenant,
		       int64_t agent, const char *flavour, const char *channel)
{
	unsigned char sub[32], mac[32];
	char msg[256];
	char *out;
	int n;

	ig_hmac_sha256(master, IG_KEY_LEN, "oauth-state", 11, sub);
	/* the channel is bound only when it is not the default, so states
	 * issued before channels existed still verify */
	n = snprintf(msg, sizeof(msg), "%s|%lld|%lld|%s%s%s", nonce, (long long)tenant,
		     (long long)agent, flavour, strcmp(channel, "instagram") ? "|" : "",
		     strcmp(channel, "instagram") ? channel : "");
	ig_hmac_sha256(sub, sizeof(sub), msg, (size_t)n, mac);
	out = ig_b64url_encode(mac, sizeof(mac));
	memset(sub, 0, sizeof(sub));
	return out;
}

/* A query string from key, value pairs (values escaped); new string. */
static char *query_string(const char *const *kv)
{
	char *out = NULL;
	int i;

	for (i = 0; kv[i]; i += 2) {
		char *v = ig_url_escape(kv[i + 1]);
		char *n;

		if (!v || asprintf(&n, "%s%s%s=%s", out ? out : "", out ? "&" : "", kv[i], v) < 0) {
			free(v);
			free(out);
			return NULL;
		}
		free(v);
		free(out);
		out = n;
	}
	return out ? out : strdup("");
}

int ig_connect_url(struct ig_ctx *ctx, int64_t tenant_id, const char *agent, const char *flavour,
		   const char *scopes, int64_t ttl, json_t **out, struct ig_err *err)
{
	return ig_connect_url_channel(ctx, tenant_id, agent, flavour, "instagram", scopes, ttl, out,
				      err);
}

/* The Instagram dialog lives on www.instagram.com only (reference §7.1):
 * the old host answers "Sorry, this page isn't available". */
static int dialog_host_check(const struct ig_config *cfg, struct ig_err *err)
{
	const char *base = ig_config_get(cfg, "www_instagram_url");

	if (base && strstr(base, "api.instagram.com"))
		return ig_err_set(err, IG_EX_CONFIG,
			"www_instagram_url is '%s': Meta serves the Instagram Login dialog on"
			" https://www.instagram.com only (api.instagram.com is for the code exchange)",
			base);
	return 0;
}

int ig_connect_url_channel(struct ig_ctx *ctx, int64_t tenant_id, const char *agent,
			   const char *flavour, const char *channel, const char *scopes, int64_t ttl,
			   json_t **out, struct ig_err *err)
{
	struct ig_graph cfg_only = { .cfg = &ctx->cfg };
	const char *redirect = ig_config_get(&ctx->cfg, "redirect_uri");
	const char *app = ig_config_get(&ctx->cfg, is_ig(flavour) ? "ig_app_id" : "app_id");
	int64_t agent_row = 0, now = ig_time_now();
	char *nonce = NULL, *mac = NULL, *state = NULL, *base = NULL, *q = NULL, *url = NULL;
	char slug[64], aname[128];
	struct ig_stmt *s;
	int rc;

	*out = NULL;
	if ((rc = conn_channel_check(flavour, channel, err)))
		return rc;
	if (is_ig(flavour) && (rc = dialog_host_check(&ctx->cfg, err)))
		return rc;
	if (!app || !*app)
		return ig_err_set(err, IG_EX_CONFIG, "no %s configured (IGKIT_%s)",
				  is_ig(flavour) ? "ig_app_id" : "app_id",
				  is_ig(flavour) ? "IG_APP_ID" : "APP_ID");
	if (!redirect || !*redirect)
		return ig_err_set(err, IG_EX_CONFIG,
				  "no redirect_uri configured (IGKIT_REDIRECT_URI): Meta sends the code there");
	if ((rc = ig_ctx_keys(ctx, err)))
		return rc;
	if (agent && (rc = ig_ctx_agent(ctx, tenant_id, agent, &agent_row, err)))
		return rc;
	if (!(nonce = ig_random_id(16)) || !(mac = state_mac(ctx->keys.keys[0].key, nonce, tenant_id,
							       agent_row, flavour, channel))
	    || asprintf(&state, "%s.%s", nonce, mac) < 0) {
		state = NULL;
		rc = oom(err);
		goto out;
	}
	{
		const char *kv[] = { "client_id", app, "redirect_uri", redirect, "response_type", "code",
				     "scope", scopes ? scopes : is_ig(flavour) ? ig_default_scopes
						: !strcmp(channel, "messenger") ? messenger_default_scopes
						: fb_default_scopes,
				     "state", state, NULL };

		/* Reference §7.1 (instagram.com/oauth/authorize) and §7.2
		 * (facebook.com/vX/dialog/oauth). */
		base = is_ig(flavour) ? ig_graph_url(&cfg_only, IG_HOST_WWW_IG, 0, "/oauth/authorize")
				      : ig_graph_url(&cfg_only, IG_HOST_WWW_FB, 1, "/dialog/oauth");
		q = query_string(kv);
		if (!base || !q || asprintf(&url, "%s?%s", base, q) < 0) {
			url = NULL;
			rc = oom(err);
			goto out;
		}
	}
	if ((rc = ig_store_begin(ctx->store, err)))
		goto out;
	/* Old states are useless after a day; keep the table small. */
	s = ig_store_prepare(ctx->store, "DELETE FROM oauth_states WHERE expires_at < ?", err);
	if (!s || ig_stmt_bind(s, "i", now - DAY) || (rc = ig_store_run(ctx->store, s, err)))
		goto fail;
	s = ig_store_prepare(ctx->store,
		"INSERT INTO oauth_states(nonce, tenant_id, agent_id, flavour, redirect_uri,"
		" created_at, expires_at, channel) VALUES (?,?,?,?,?,?,?,?)", err);
	if (!s || ig_stmt_bind(s, "siIssiis", nonce, tenant_id, agent_row, flavour, redirect, now,
				now + ttl, channel)
	    || (rc = ig_store_run(ctx->store, s, err)))
		goto fail;
	if ((rc = ig_store_commit(ctx->store, err)))
		goto out;
	*out = json_pack("{s:s,s:s,s:o,s:s,s:o,s:s,s:s}", "url", url, "state", state,
			 "expires_at", iso_or_null(now + ttl), "tenant",
			 ig_ctx_tenant_slug(ctx, tenant_id, slug), "agent",
			 agent_row ? json_string(conn_agent_name(ctx, agent_row, aname, sizeof(aname)))
				   : json_null(),
			 "flavour", flavour, "channel", channel);
	if (!*out)
		rc = oom(err);
	goto out;
fail:
	rc = conn_rollback(ctx->store, rc, err);
out:
	free(nonce);
	free(mac);
	free(state);
	free(base);
	free(q);
	free(url);
	return rc;
}

struct oauth_state {
	char nonce[64];
	int64_t tenant_id, agent_id;
	char flavour[16];
	char channel[16];
	char redirect_uri[2048];
};

/* Check the state without spending it (see connect.h for the exit codes). */
static int state_check(struct ig_ctx *ctx, const char *state, struct oauth_state *st,
		       struct ig_err *err)
{
	const char *dot = strchr(state, '.');
	int64_t expires = 0, used = 0, now = ig_time_now();
	struct ig_stmt *s;
	char when[32];
	int rc, found = 0, i, good = 0;

	memset(st, 0, sizeof(*st));
	if (!dot || dot == state || (size_t)(dot - state) >= sizeof(st->nonce) || !dot[1])
		return ig_err_set(err, IG_EX_DATAERR, "malformed OAuth state '%.40s'", state);
	memcpy(st->nonce, state, (size_t)(dot - state));
	s = ig_store_prepare(ctx->store,
		"SELECT tenant_id, agent_id, flavour, redirect_uri, expires_at, used_at, channel"
		" FROM oauth_states WHERE nonce = ?", err);
	if (!s)
		return ecode(err);
	ig_stmt_bind(s, "s", st->nonce);
	rc = ig_stmt_next(ctx->store, s, err);
	if (rc > 0) {
		found = 1;
		st->tenant_id = ig_col_int(s, 0);
		st->agent_id = ig_col_int(s, 1);
		snprintf(st->flavour, sizeof(st->flavour), "%s", ig_col_text(s, 2));
		snprintf(st->redirect_uri, sizeof(st->redirect_uri), "%s", ig_col_text(s, 3));
		expires = ig_col_int(s, 4);
		used = ig_col_int(s, 5);
		snprintf(st->channel, sizeof(st->channel), "%s", ig_col_text(s, 6));
	}
	if ((rc = conn_step_done(ctx->store, s, rc, err, "cannot read OAuth state")))
		return rc;
	if (!found)
		return ig_err_set(err, IG_EX_DATAERR,
			"unknown OAuth state '%.40s' (not issued by this store, or long expired)", state);
	/* Any key of the ring: a rotation may happen between url and callback. */
	for (i = 0; i < ctx->keys.n && !good; i++) {
		char *mac = state_mac(ctx->keys.keys[i].key, st->nonce, st->tenant_id,
				      st->agent_id, st->flavour, st->channel);

		good = mac && strlen(mac) == strlen(dot + 1)
			&& ig_ct_equal(mac, dot + 1, strlen(mac));
		free(mac);
	}
	if (!good)
		return ig_err_set(err, IG_EX_DATAERR,
			"OAuth state '%.40s' does not verify (tampered with, or not issued for this tenant and agent)",
			state);
	if (used)
		return ig_err_set(err, IG_EX_DATAERR,
			"OAuth state already used at %s; start again with 'ig-connect url'",
			ig_time_iso(used, when));
	if (expires <= now)
		return ig_err_set(err, IG_EX_DATAERR,
			"OAuth state expired at %s; start again with 'ig-connect url'",
			ig_time_iso(expires, when));
	return ig_authz_require(ctx, st->tenant_id, IG_MOD_ACCOUNTS, IG_WRITE, "account.connect",
				err);
}

/* Spend a checked state: single use, even under concurrent callbacks. */
static int state_mark_used(struct ig_ctx *ctx, const struct oauth_state *st, struct ig_err *err)
{
	struct ig_stmt *s;
	int64_t now = ig_time_now();
	int rc;

	if ((rc = ig_store_begin(ctx->store, err)))
		return rc;
	s = ig_store_prepare(ctx->store,
		"UPDATE oauth_states SET used_at = ? WHERE nonce = ? AND used_at IS NULL", err);
	if (!s || ig_stmt_bind(s, "is", now, st->nonce) || (rc = ig_store_run(ctx->store, s, err))) {
		ig_store_rollback(ctx->store);
		return s ? rc : ecode(err);
	}
	if (ig_store_changes(ctx->store) != 1) {
		ig_store_rollback(ctx->store);
		return ig_err_set(err, IG_EX_DATAERR,
			"OAuth state already used; start again with 'ig-connect url'");
	}
	return ig_store_commit(ctx->store, err);
}

/* ------------------------------------------------------------ exchanges */

/* The end of a token exchange: rc, its call's failure (err prefixed with
 * what), or 69 when answer holds no access_token. */
static int exchange_done(int rc, const json_t *answer, const char *what, struct ig_err *err)
{
	char reply[80];

	if (rc) {
		ig_err_prefix(err, "%s", what);
		return rc;
	}
	if (!ig_json_str(answer, "access_token")) {
		snprintf(reply, sizeof(reply), "the %s (no access_token)", what);
		return bad_reply(err, reply);
	}
	return 0;
}

/* Instagram Login code → short-lived → long-lived token (reference §7.1). */
static int ig_exchange(struct ig_ctx *ctx, struct ig_graph *g, const char *code,
		       const char *redirect_uri, struct cands *cs, struct ig_err *err)
{
	const char *app;
	char *secret = NULL, *scopes = NULL, *short_tok = NULL;
	char user[32] = "";
	json_t *body = NULL, *long_body = NULL;
	const json_t *rec;
	int rc;

	if ((rc = app_credentials(ctx, "instagram", &app, &secret, err)))
		return rc;
	{
		const char *form[] = { "client_id", app, "client_secret", secret,
				       "grant_type", "authorization_code",
				       "redirect_uri", redirect_uri, "code", code, NULL };

		/* Single-use code: a timed-out exchange is not resent. */
		rc = conn_gcall(g, IG_HOST_API_IG, "POST", 0, "/oauth/access_token", NULL, form,
				NULL, 0, &body, NULL, err);
	}
	/* Documented {"data":[{...}]}, observed flat {...}: accept both
	 * (reference §7.1 step 3, §12). */
	rec = json_is_array(json_object_get(body, "data"))
		? json_array_get(json_object_get(body, "data"), 0) : body;
	if ((rc = exchange_done(rc, rec, "code exchange", err)))
		goto out;
	short_tok = strdup(ig_json_str(rec, "access_token"));
	ig_json_id(rec, "user_id", user);
	scopes = conn_perms_csv(json_object_get(rec, "permissions"));
	{
		const char *q[] = { "grant_type", "ig_exchange_token", "client_secret", secret,
				    "access_token", short_tok, NULL };

		rc = conn_gcall(g, IG_HOST_GRAPH_IG, "GET", 0, "/access_token", q, NULL, NULL, 1,
				&long_body, NULL, err);
	}
	if ((rc = exchange_done(rc, long_body, "long-lived token exchange", err)))
		goto out;
	{
		long long in = ig_json_int(long_body, "expires_in", 0);

		rc = conn_ig_candidate(g, ig_json_str(long_body, "access_token"),
				       in > 0 ? ig_time_now() + in : 0, scopes, user, cs, err);
	}
out:
	ig_wipe_free(secret);
	ig_wipe_free(short_tok);
	free(scopes);
	json_decref(body);
	json_decref(long_body);
	return rc;
}

/* Facebook: short-lived user token → long-lived (reference §7.2 step 3). */
int conn_fb_long_lived(struct ig_ctx *ctx, struct ig_graph *g, const char *short_tok,
		       char **long_tok, struct ig_err *err)
{
	const char *app;
	char *secret;
	json_t *body = NULL;
	int rc;

	*long_tok = NULL;
	if ((rc = app_credentials(ctx, "facebook", &app, &secret, err)))
		return rc;
	{
		const char *q[] = { "grant_type", "fb_exchange_token", "client_id", app,
				    "client_secret", secret, "fb_exchange_token", short_tok, NULL };

		rc = conn_gcall(g, IG_HOST_GRAPH_FB, "GET", 1, "/oauth/access_token", q, NULL, NULL,
				1, &body, NULL, err);
	}
	ig_wipe_free(secret);
	if ((rc = exchange_done(rc, body, "long-lived token exchange", err))) {
		json_decref(body);
		return rc;
	}
	*long_tok = strdup(ig_json_str(body, "access_token"));
	json_decref(body);
	return *long_tok ? 0 : oom(err);
}

static int fb_exchange(struct ig_ctx *ctx, struct ig_graph *g, const char *code,
		       const char *redirect_uri, struct cands *cs, struct ig_err *err)
{
	const char *app;
	char *secret = NULL, *short_tok = NULL, *long_tok = NULL;
	json_t *body = NULL;
	int rc;

	if ((rc = app_credentials(ctx, "facebook", &app, &secret, err)))
		return rc;
	{
		const char *q[] = { "client_id", app, "redirect_uri", redirect_uri,
				    "client_secret", secret, "code", code, NULL };

		rc = conn_gcall(g, IG_HOST_GRAPH_FB, "GET", 1, "/oauth/access_token", q, NULL, NULL,
				1, &body, NULL, err);
	}
	ig_wipe_free(secret);
	if ((rc = exchange_done(rc, body, "code exchange", err)))
		goto out;
	short_tok = strdup(ig_json_str(body, "access_token"));
	if ((rc = conn_fb_long_lived(ctx, g, short_tok, &long_tok, err)))
		goto out;
	rc = conn_fb_candidates(ctx, g, long_tok, cs, err);
out:
	json_decref(body);
	ig_wipe_free(short_tok);
	ig_wipe_free(long_tok);
	return rc;
}

/* ------------------------------------------------------------ callback */

/* Split what the browser was sent to into code, state, error... */
struct redirect {
	char *code, *state, *error, *error_reason, *error_description;
};

static void redirect_release(struct redirect *r)
{
	ig_wipe_free(r->code);
	free(r->state);
	free(r->error);
	free(r->error_reason);
	free(r->error_description);
	memset(r, 0, sizeof(*r));
}

/* A redirect's field k read from src: a JSON object, or a query string. */
static char *json_field(const void *src, const char *k)
{
	const char *s = ig_json_str(src, k);

	return s ? strdup(s) : NULL;
}

static char *query_field(const void *src, const char *k)
{
	return ig_cgi_param(src, k);
}

static void redirect_take(struct redirect *r, char *(*get)(const void *, const char *),
			  const void *src)
{
	r->code = get(src, "code");
	r->state = get(src, "state");
	r->error = get(src, "error");
	r->error_reason = get(src, "error_reason");
	r->error_description = get(src, "error_description");
}

static int parse_redirect(const char *input, struct redirect *r, struct ig_err *err)
{
	const char *p = input;
	char *q, *hash;
	size_t n;

	memset(r, 0, sizeof(*r));
	p += strspn(p, " \t\r\n");
	n = strlen(p);
	while (n && isspace((unsigned char)p[n - 1]))
		n--;
	if (n == 0)
		return ig_err_set(err, IG_EX_DATAERR,
			"no redirect on stdin: give the URL Meta redirected to, 'code=..&state=..', or JSON");
	if (*p == '{') {
		json_t *o = ig_json_parse(p, n, err);

		if (!o)
			return ig_err_prefix(err, "stdin");
		if (!json_is_object(o)) {
			json_decref(o);
			return ig_err_set(err, IG_EX_DATAERR, "stdin: expected a JSON object");
		}
		redirect_take(r, json_field, o);
		json_decref(o);
		return 0;
	}
	q = strndup(p, n);
	if (!q)
		return oom(err);
	/* "…?code=X&state=Y#_": the fragment is not part of the code (§7.1). */
	if ((hash = strchr(q, '#')))
		*hash = '\0';
	redirect_take(r, query_field, strchr(q, '?') ? strchr(q, '?') + 1 : q);
	ig_wipe_free(q);
	return 0;
}

/* What the code exchange will need, read now (the secret is dropped). */
static int callback_config_check(struct ig_ctx *ctx, const char *flavour, struct ig_err *err)
{
	const char *app;
	char *secret = NULL;
	int rc = app_credentials(ctx, flavour, &app, &secret, err);

	ig_wipe_free(secret);
	if (rc)
		return ig_err_prefix(err, "configuration (the OAuth state is kept: fix it, then run"
				     " the callback again)");
	return 0;
}

int ig_connect_callback(struct ig_ctx *ctx, struct ig_graph *g, const char *input, json_t **out,
			struct ig_err *err)
{
	struct redirect r;
	struct oauth_state st;
	struct cands cs = { 0 };
	int rc;

	*out = NULL;
	if ((rc = parse_redirect(input, &r, err)))
		return rc;
	if (!r.state || !*r.state) {
		rc = ig_err_set(err, IG_EX_DATAERR, "the redirect carries no state");
		goto out;
	}
	/* Keys, the state and the local configuration first: a local mistake
	 * (a missing key, an app secret file readable by others) must not spend
	 * the single-use state or the code, so the owner need not consent
	 * again once it is fixed. */
	if ((rc = ig_ctx_keys(ctx, err)) || (rc = state_check(ctx, r.state, &st, err)))
		goto out;
	if (!r.error && (rc = callback_config_check(ctx, st.flavour, err)))
		goto out;
	if ((rc = state_mark_used(ctx, &st, err)))
		goto out;
	if (r.error) {
		rc = ig_err_set(err, IG_EX_UNAVAILABLE, "authorisation refused: %s (%s%s%s)",
				r.error_description ? r.error_description : "no description",
				r.error, r.error_reason ? ", " : "", r.error_reason ? r.error_reason : "");
		goto out;
	}
	if (!r.code || !*r.code) {
		rc = ig_err_set(err, IG_EX_DATAERR, "the redirect carries no code");
		goto out;
	}
	if (!(cs.skipped = json_array())) {
		rc = oom(err);
		goto out;
	}
	cs.channel = st.channel[0] ? st.channel : "instagram";
	rc = is_ig(st.flavour) ? ig_exchange(ctx, g, r.code, st.redirect_uri, &cs, err)
			       : fb_exchange(ctx, g, r.code, st.redirect_uri, &cs, err);
	if (!rc)
		rc = conn_finish_connect(ctx, st.tenant_id, st.agent_id, st.flavour, &cs, out, err);
out:
	conn_cands_release(&cs);
	redirect_release(&r);
	return rc;
}
