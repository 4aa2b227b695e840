/*
 * lib/doctor.c — the health check of a connected account (see connect.h),
 * one function per check: the token, the scopes, the webhook subscription,
 * the Page link; and the compact view of its record for cron mail.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect_int.h"
#include "crypto.h"
#include "igtime.h"
#include "jsonio.h"

/* Scopes without which the reply engine and moderation cannot work (doctor). */
static const char ig_required_scopes[] =
	"instagram_business_basic,instagram_business_manage_messages,"
	"instagram_business_manage_comments";
static const char fb_required_scopes[] =
	"instagram_basic,instagram_manage_messages,instagram_manage_comments,"
	"pages_show_list,pages_manage_metadata,pages_messaging";
/* Messenger (a Page connected with --channel messenger): the Page scopes
 * (reference §1.4, §7.2). */
static const char messenger_required_scopes[] =
	"pages_show_list,pages_manage_metadata,pages_messaging";

#define EXPIRY_WARN (7 * DAY)   /* doctor: a token this close to expiry is a problem */

/* Fields of `want` (comma list) missing from array `have`; new array. */
static json_t *missing(const char *want, const json_t *have)
{
	json_t *w = conn_scopes_array(want), *miss = json_array(), *e, *h;
	size_t i, k;

	json_array_foreach(w, i, e) {
		int found = 0;

		json_array_foreach(have, k, h)
			if (json_is_string(h) && json_equal(h, e))
				found = 1;
		if (!found)
			json_array_append(miss, e);
	}
	json_decref(w);
	return miss;
}

/* Which fields a subscribed_apps listing holds (IG: data[0]; FB: the entry
 * of our app, else the first); new array, empty when not subscribed. */
static json_t *subscribed_fields(const json_t *body, const char *app_id)
{
	const json_t *data = json_object_get(body, "data"), *e, *pick = NULL;
	json_t *out;
	size_t i;

	json_array_foreach(data, i, e) {
		char id[32];

		if (!pick || (app_id && ig_json_id(e, "id", id) && !strcmp(id, app_id)))
			pick = e;
	}
	if (!pick)
		return json_array();
	e = json_object_get(pick, "subscribed_fields");
	if (json_is_string(e))
		return conn_scopes_array(json_string_value(e));
	out = json_array();
	/* ["messages", ...] or [{"name":"messages"}, ...] */
	for (i = 0; i < json_array_size(e); i++) {
		const json_t *f = json_array_get(e, i);

		if (json_is_string(f))
			json_array_append_new(out, json_string(json_string_value(f)));
		else if (ig_json_str(f, "name"))
			json_array_append_new(out, json_string(ig_json_str(f, "name")));
	}
	return out;
}

/* One doctor run: the record, its problems, what the checks learnt. */
struct doctor {
	json_t *out, *problems;
	json_t *have_scopes;       /* granted scopes, or NULL when unknown */
	int64_t expires;
	int reauth, fix, temp;     /* the kinds of problem found */
	char reason[3][1400];      /* the first problem of each kind */
};

enum { D_REAUTH, D_FIX, D_TEMP };

static void problem(struct doctor *d, int kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(struct doctor *d, int kind, const char *fmt, ...)
{
	char buf[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(d->problems, json_string(buf));
	if (!d->reason[kind][0])
		snprintf(d->reason[kind], sizeof(d->reason[kind]), "%s", buf);
	if (kind == D_REAUTH)
		d->reauth = 1;
	else if (kind == D_FIX)
		d->fix = 1;
	else
		d->temp = 1;
}

/* 1. The token works (and, for Facebook Login, what debug_token says of it). */
static int doctor_token(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
			const char *token, struct doctor *d)
{
	struct ig_err e = { 0 };
	int64_t now = ig_time_now();
	char when[32];
	int rc;

	if (is_ig(acc->flavour)) {
		json_t *me = NULL;

		rc = conn_fetch_profile(g, acc, token, &me, &e);
		json_decref(me);
		if (!rc) {
			struct ig_stmt *s = ig_store_query(ctx->store, NULL,
				"SELECT scopes FROM accounts WHERE id = ?", "i", acc->id);

			if (s && ig_stmt_next(ctx->store, s, NULL) > 0 && *ig_col_text(s, 0))
				d->have_scopes = conn_scopes_array(ig_col_text(s, 0));
			ig_stmt_reset(s);
		}
	} else {
		json_t *dbg = NULL;

		rc = conn_debug_token(ctx, g, token, &dbg, &e);
		if (!rc && !json_is_true(json_object_get(dbg, "is_valid")))
			rc = ig_err_set(&e, IG_EX_NOPERM, "the Page token is not valid (debug_token)");
		if (!rc) {
			d->have_scopes = json_incref(json_object_get(dbg, "scopes"));
			d->expires = ig_json_int(dbg, "expires_at", 0);
		}
		json_decref(dbg);
	}
	if (rc == IG_EX_NOPERM) {
		conn_note_result(ctx, acc, rc, e.msg, NULL);
		problem(d, D_REAUTH, "token invalid: %s", e.msg);
		return -1;
	}
	if (rc) {
		problem(d, D_TEMP, "token not checked: %s", e.msg);
		return -1;
	}
	json_object_set_new(d->out, "token_valid", json_true());
	json_object_set_new(d->out, "token_expires_at", iso_or_null(d->expires));
	if (d->expires > 0 && d->expires - now < EXPIRY_WARN)
		problem(d, D_FIX, "token expires at %s: run 'ig-connect refresh'",
			ig_time_iso(d->expires, when));
	return 0;
}

/* 2. The scopes the programs need were granted. */
static void doctor_scopes(const struct ig_account *acc, struct doctor *d)
{
	const char *want = is_messenger(acc) ? messenger_required_scopes
		: is_ig(acc->flavour) ? ig_required_scopes : fb_required_scopes;
	json_t *miss;

	if (!json_is_array(d->have_scopes)) {
		json_object_set_new(d->out, "scopes", json_null());
		return;
	}
	miss = missing(want, d->have_scopes);
	json_object_set(d->out, "scopes", d->have_scopes);
	json_object_set(d->out, "scopes_missing", miss);
	if (json_array_size(miss)) {
		char *m = json_dumps(miss, JSON_COMPACT);

		problem(d, D_REAUTH, "scopes not granted: %s: the user must log in again and grant them",
			m ? m : "?");
		free(m);
	}
	json_decref(miss);
}

/* 3. The webhook subscription (reference §1.4 layer 2). */
static void doctor_subscription(struct ig_ctx *ctx, struct ig_graph *g,
				const struct ig_account *acc, const char *token, struct doctor *d)
{
	const char *app_id = ig_config_get(&ctx->cfg, is_ig(acc->flavour) ? "ig_app_id" : "app_id");
	struct ig_err e = { 0 };
	json_t *body = NULL, *fields, *miss;
	char path[96];
	int rc;

	if (!is_ig(acc->flavour) && !acc->page_id[0]) {
		problem(d, D_FIX, "no Page id stored: reconnect the account");
		return;
	}
	conn_subscribed_path(acc, path, sizeof(path));
	rc = conn_gcall(g, is_ig(acc->flavour) ? IG_HOST_GRAPH_IG : IG_HOST_GRAPH_FB, "GET", 1,
			path, NULL, NULL, token, 1, &body, NULL, &e);
	if (rc) {
		if (rc == IG_EX_TEMPFAIL)
			problem(d, D_TEMP, "subscription not checked: %s", e.msg);
		else
			problem(d, D_FIX, "subscription not readable: %s", e.msg);
		return;
	}
	fields = subscribed_fields(body, app_id);
	json_decref(body);
	json_object_set(d->out, "subscribed_fields", fields);
	miss = missing("messages", fields);
	if (!json_array_size(fields))
		problem(d, D_FIX, "not subscribed to webhooks: run 'ig-connect subscribe %s'",
			acc->external_id);
	else if (json_array_size(miss))
		problem(d, D_FIX, "webhook field 'messages' not subscribed: run 'ig-connect subscribe %s'",
			acc->external_id);
	json_decref(miss);
	json_decref(fields);
}

/* 4. The Page is still linked to the Instagram account (Facebook Login,
 * Instagram channel). */
static void doctor_page_link(struct ig_graph *g, const struct ig_account *acc, const char *token,
			     struct doctor *d)
{
	static const char *const q[] = { "fields", "instagram_business_account", NULL };
	struct ig_err e = { 0 };
	char pp[80], linked[32];
	json_t *body = NULL;
	int rc;

	if (is_ig(acc->flavour) || is_messenger(acc) || !acc->page_id[0])
		return;
	snprintf(pp, sizeof(pp), "/%s", acc->page_id);
	if ((rc = conn_gcall(g, IG_HOST_GRAPH_FB, "GET", 1, pp, q, NULL, token, 1, &body, NULL,
			     &e))) {
		if (rc == IG_EX_TEMPFAIL)
			problem(d, D_TEMP, "Page link not checked: %s", e.msg);
		else
			problem(d, D_FIX, "Page link not readable: %s", e.msg);
	} else if (!ig_json_id(json_object_get(body, "instagram_business_account"), "id", linked)) {
		problem(d, D_FIX, "Page %s is no longer linked to an Instagram account", acc->page_id);
	} else if (strcmp(linked, acc->external_id)) {
		problem(d, D_FIX, "Page %s is now linked to Instagram account %s, not %s", acc->page_id,
			linked, acc->external_id);
	}
	json_decref(body);
}

int ig_connect_doctor(struct ig_ctx *ctx, struct ig_graph *g, const struct ig_account *acc,
		      json_t **out, struct ig_err *err)
{
	struct doctor d = { 0 };
	struct ig_err e = { 0 };
	char *token = NULL;

	d.out = *out = conn_result(acc);
	d.problems = json_array();
	d.expires = acc->token_expires_at;
	json_object_set_new(*out, "problems", d.problems);
	if (!strcmp(acc->status, "disconnected"))
		problem(&d, D_REAUTH, "disconnected: connect it again with 'ig-connect url'");
	else if (conn_account_token(ctx, acc, &token, &e))
		problem(&d, D_REAUTH, "token: %s", e.msg);
	else if (!doctor_token(ctx, g, acc, token, &d)) {
		doctor_scopes(acc, &d);
		doctor_subscription(ctx, g, acc, token, &d);
		doctor_page_link(g, acc, token, &d);
	}
	ig_wipe_free(token);
	json_decref(d.have_scopes);
	json_object_set_new(*out, "ok", json_boolean(!d.reauth && !d.fix && !d.temp));
	/* The message says why (the caller names tenant and account). */
	if (d.reauth)
		return ig_err_set(err, IG_EX_NOPERM, "needs re-authorisation: %s", d.reason[D_REAUTH]);
	if (d.temp)
		return ig_err_set(err, IG_EX_TEMPFAIL, "not fully checked: %s", d.reason[D_TEMP]);
	if (d.fix)
		return ig_err_set(err, IG_EX_CONFIG, "needs attention: %s", d.reason[D_FIX]);
	return 0;
}

/* The compact view of a doctor record (see connect.h). */
json_t *ig_connect_doctor_brief(const json_t *record)
{
	const json_t *problems = json_object_get(record, "problems");
	const char *p = json_string_value(json_array_get(problems, 0));
	size_t n = json_array_size(problems);
	char line[IG_DOCTOR_BRIEF_WIDTH + 32];

	if (!n)
		return NULL;
	if (strlen(p) > IG_DOCTOR_BRIEF_WIDTH) {
		/* cut on a character boundary */
		size_t k = IG_DOCTOR_BRIEF_WIDTH - 3;

		while (k && ((unsigned char)p[k] & 0xC0) == 0x80)
			k--;
		snprintf(line, sizeof(line), "%.*s...", (int)k, p);
	} else {
		snprintf(line, sizeof(line), "%s", p);
	}
	if (n > 1) {
		size_t len = strlen(line);

		snprintf(line + len, sizeof(line) - len, " (+%zu)", n - 1);
	}
	return json_pack("{s:s?,s:s?,s:s}", "tenant", ig_json_str(record, "tenant"),
			 "account", ig_json_str(record, "account"), "problem", line);
}
