/*
 * outbox.c — the outbox state machine (outbox.h) and sending through the
 * Send API (reference §3): POST /<IG_ID>/messages on graph.instagram.com for
 * Instagram Login accounts, POST /<PAGE_ID>/messages on graph.facebook.com
 * for Facebook Login (Instagram via Page) and Messenger.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "jsonio.h"
#include "crypto.h"
#include "igtime.h"
#include "kb.h"
#include "outbox.h"

void ig_outbox_item_release(struct ig_outbox_item *it)
{
	free(it->recipient);
	free(it->text);
	free(it->tag);
	free(it->payload);
	free(it->mid);
	ig_wipe_free(it->token);
	it->recipient = it->text = it->tag = it->payload = it->mid = it->token = NULL;
}

void ig_outbox_worker_id(char *buf, size_t n)
{
	char host[64] = "localhost";
	char *r = ig_random_id(4);

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, n, "%s:%ld:%s", host, (long)getpid(), r ? r : "x");
	free(r);
}

int64_t ig_outbox_lease_seconds(const struct ig_config *cfg)
{
	const char *t = ig_config_get(cfg, "http_timeout");
	const char *r = ig_config_get(cfg, "http_retries");
	long long timeout = t ? atoll(t) : 30, retries = r ? atoll(r) : 4, lease;

	if (timeout < 1)
		timeout = 30;
	if (retries < 0)
		retries = 0;
	lease = timeout * (retries + 2) + 60;
	return lease < 300 ? 300 : lease;
}

int ig_outbox_insert(struct ig_store *st, int64_t tenant_id, int64_t account_id,
		     int64_t conversation_id, const char *origin, const char *recipient,
		     const char *text, const char *tag, const char *state, int64_t created_by,
		     const char *lease_owner, int64_t lease_until, int64_t *id, struct ig_err *err)
{
	int64_t now = ig_time_now();
	int rc;

	if ((rc = ig_store_runf(st, err,
		"INSERT INTO outbox (tenant_id, account_id, conversation_id, origin, recipient, text,"
		" tag, state, created_by, lease_owner, lease_until, created_at, updated_at)"
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		"iiIsssssIsIii", tenant_id, account_id, conversation_id, origin, recipient,
		text, tag, state, created_by, lease_owner, lease_until, now, now)))
		return ig_err_prefix(err, "cannot queue the reply");
	*id = ig_store_last_id(st);
	return 0;
}

static char *dupcol(struct ig_stmt *s, int col)
{
	if (ig_col_null(s, col))
		return NULL;
	return strdup(ig_col_text(s, col));
}

static const char SQL_SEND_ROW[] =
	"SELECT o.state, COALESCE(o.lease_owner, ''), COALESCE(o.lease_until, 0), o.tenant_id,"
	" o.account_id, COALESCE(o.conversation_id, 0), o.origin, o.recipient, o.text, o.payload,"
	" o.tag, a.status, a.flavour, a.channel, a.external_id, COALESCE(a.page_id, ''),"
	" a.access_token, t.slug,"
	" COALESCE((SELECT g.name FROM agents g WHERE g.id = a.agent_id),"
	"          (SELECT g.name FROM agents g WHERE g.tenant_id = a.tenant_id AND g.is_default = 1), ''),"
	" o.created_at"
	" FROM outbox o JOIN accounts a ON a.id = o.account_id JOIN tenants t ON t.id = o.tenant_id"
	" WHERE o.id = ?";

/*
 * An AI reply goes out only while the AI may still speak (DESIGN §7): a
 * row queued earlier (left pending by a 5xx, a rate limit, an account
 * waiting for re-authorisation) may meet a conversation a human has taken
 * since.  Returns the reason to abandon the row, or NULL to send it; *skip
 * is the --explain skip code.  -1 in *rc on a store error.
 */
static const char *ai_gate(struct ig_store *st, int64_t conv, int64_t created, int64_t now,
			   const char **skip, int *rc, struct ig_err *err)
{
	struct ig_stmt *s = ig_store_query(st, err,
		"SELECT ai_state, COALESCE(thread_owner, ''), COALESCE(last_human_at, 0),"
		" COALESCE(last_inbound_at, 0) FROM conversations WHERE id = ?", "i", conv);
	const char *why = NULL;
	int step;

	*rc = 0;
	if (!s || (step = ig_stmt_next(st, s, err)) < 0) {
		*rc = err ? err->code : IG_EX_SOFTWARE;
		return NULL;
	}
	if (step == 1) {
		if (strcmp(ig_col_text(s, 0), "active"))
			why = "ai paused", *skip = "ai_paused";
		else if (*ig_col_text(s, 1))
			why = "human took over", *skip = "not_thread_owner";
		else if (ig_col_int(s, 2) > created)
			why = "human took over", *skip = "answered_by_human";
		else if (ig_col_int(s, 3) + IG_OUTBOX_WINDOW < now)
			why = "window closed", *skip = "window_closed";
		ig_stmt_reset(s);
	}
	return why;
}

/* Load row it->id and claim it (pending → sending) inside the open
 * transaction.  Returns 0 (claimed, or left alone with it->state set), or a
 * store error. */
static int claim_one(struct ig_ctx *ctx, struct ig_outbox_item *it, const char *worker,
		     int64_t now, int64_t lease, struct ig_err *err)
{
	struct ig_store *st = ctx->store;
	struct ig_stmt *s = ig_store_query(st, err, SQL_SEND_ROW, "i", it->id);
	const char *owner, *status, *flavour, *channel, *ext, *page;
	char aad[64];
	size_t tlen;
	int64_t until;
	int rc;

	if (!s || (rc = ig_stmt_next(st, s, err)) < 0)
		return ig_err_prefix(err, "cannot read the outbox");
	if (rc == 0) {
		it->rc = IG_EX_DATAERR;
		snprintf(it->error, sizeof(it->error), "no outbox row %lld", (long long)it->id);
		return 0;
	}
	owner = ig_col_text(s, 1);
	until = ig_col_int(s, 2);
	it->tenant_id = ig_col_int(s, 3);
	it->account_id = ig_col_int(s, 4);
	it->conversation_id = ig_col_int(s, 5);
	snprintf(it->origin, sizeof(it->origin), "%s", ig_col_text(s, 6));
	free(it->recipient);
	free(it->text);
	free(it->payload);
	free(it->tag);
	it->recipient = dupcol(s, 7);
	it->text = dupcol(s, 8);
	it->payload = dupcol(s, 9);
	it->tag = dupcol(s, 10);
	status = ig_col_text(s, 11);
	flavour = ig_col_text(s, 12);
	channel = ig_col_text(s, 13);
	ext = ig_col_text(s, 14);
	page = ig_col_text(s, 15);
	snprintf(it->account, sizeof(it->account), "%s", ext);
	snprintf(it->tenant, sizeof(it->tenant), "%s", ig_col_text(s, 17));
	snprintf(it->agent, sizeof(it->agent), "%s", ig_col_text(s, 18));
	if (strcmp(ig_col_text(s, 0), "pending") || (!it->text && !it->payload)
	    || (*owner && strcmp(owner, worker) && until >= now)) {
		/* another worker holds it, or it moved on: not ours to send */
		snprintf(it->state, sizeof(it->state), "%s", "");
		ig_stmt_reset(s);
		return 0;
	}
	if (!strcmp(it->origin, "ai") && it->conversation_id) {
		const char *why = ai_gate(st, it->conversation_id, ig_col_int(s, 19), now, &it->skip,
					  &rc, err);

		if (rc || why)
			ig_stmt_reset(s);
		if (rc)
			return rc;
		if (why) {
			if ((rc = ig_store_runf(st, err,
				"UPDATE outbox SET state = 'abandoned', error = ?, lease_owner = NULL,"
				" lease_until = NULL, updated_at = ? WHERE id = ? AND state = 'pending'",
				"sii", why, now, it->id)))
				return rc;
			snprintf(it->state, sizeof(it->state), "abandoned");
			snprintf(it->error, sizeof(it->error), "%s", why);
			return 0;
		}
	}
	if (strcmp(status, "active") || ig_col_null(s, 16)) {
		/* Left pending: it goes out once the account is re-authorised. */
		snprintf(it->state, sizeof(it->state), "pending");
		it->rc = IG_EX_NOPERM;
		snprintf(it->error, sizeof(it->error),
			 "account %s is %s: re-authorise it (ig-connect) and the reply goes out",
			 ext, ig_col_null(s, 16) ? "without a token" : status);
		ig_stmt_reset(s);
		return 0;
	}
	if (!strcmp(flavour, "instagram") && !strcmp(channel, "instagram")) {
		it->host = IG_HOST_GRAPH_IG;
		snprintf(it->path, sizeof(it->path), "/%s/messages", ext);
	} else {
		it->host = IG_HOST_GRAPH_FB;
		snprintf(it->path, sizeof(it->path), "/%s/messages", *page ? page : ext);
	}
	snprintf(aad, sizeof(aad), "accounts:%lld:access_token", (long long)it->account_id);
	ig_wipe_free(it->token);
	it->token = NULL;
	{
		struct ig_err oerr = { 0 };
		size_t blen;
		const void *blob = ig_col_blob(s, 16, &blen);

		rc = ig_open(&ctx->keys, aad, blob, blen, &it->token, &tlen, &oerr);
		ig_stmt_reset(s);
		if (rc) {
			snprintf(it->state, sizeof(it->state), "pending");
			it->rc = rc;
			snprintf(it->error, sizeof(it->error), "cannot open the token of account %.60s: %.480s",
				 ext, oerr.msg);
			return 0;
		}
	}
	if ((rc = ig_store_runf(st, err,
		"UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_owner = ?,"
		" lease_until = ?, updated_at = ? WHERE id = ? AND state = 'pending'",
		"siii", worker, now + lease, now, it->id)))
		return rc;
	snprintf(it->state, sizeof(it->state), "sending");
	return 0;
}

/* The Send API body (reference §3.2, §3.3): Instagram Login takes "tag"
 * alone; the Messenger Platform wants messaging_type MESSAGE_TAG with it. */
static json_t *send_body(const struct ig_outbox_item *it)
{
	json_t *msg = NULL, *body;

	if (it->payload)
		msg = json_loads(it->payload, 0, NULL);
	if (!msg)
		msg = json_pack("{s:s}", "text", it->text ? it->text : "");
	body = json_pack("{s:{s:s},s:o}", "recipient", "id", it->recipient ? it->recipient : "",
			 "message", msg);
	if (!body)
		return NULL;
	if (it->host == IG_HOST_GRAPH_FB)
		json_object_set_new(body, "messaging_type",
				    json_string(it->tag ? "MESSAGE_TAG" : "RESPONSE"));
	if (it->tag)
		json_object_set_new(body, "tag", json_string(it->tag));
	return body;
}

static void classify(struct ig_outbox_item *it, struct ig_graph_req *r)
{
	it->rc = r->rc;
	if (r->rc == 0) {
		const char *mid = ig_json_str(r->resp.body, "message_id");

		snprintf(it->state, sizeof(it->state), "sent");
		it->mid = mid ? strdup(mid) : NULL;
		if (!mid)
			snprintf(it->error, sizeof(it->error), "Meta answered without a message_id");
		return;
	}
	snprintf(it->error, sizeof(it->error), "%.590s", r->err.msg[0] ? r->err.msg : "send failed");
	if (r->resp.ambiguous)
		snprintf(it->state, sizeof(it->state), "unknown");
	else if (r->rc == IG_EX_TEMPFAIL)
		snprintf(it->state, sizeof(it->state), "pending");
	else
		snprintf(it->state, sizeof(it->state), "failed");
}

static int record_one(struct ig_store *st, struct ig_outbox_item *it, struct ig_graph_req *r,
		      int64_t now, struct ig_err *err)
{
	int rc;

	if (!strcmp(it->state, "sent")) {
		if ((rc = ig_store_runf(st, err,
			"UPDATE outbox SET state = 'sent', mid = ?, sent_at = ?, error = ?,"
			" lease_owner = NULL, lease_until = NULL, updated_at = ?"
			" WHERE id = ? AND state IN ('sending', 'unknown')",
			"sisii", it->mid, now, it->error[0] ? it->error : NULL, now, it->id)))
			return rc;
		if (it->conversation_id) {
			return ig_store_runf(st, err,
				"UPDATE conversations SET last_outbound_at = ?, updated_at = ? WHERE id = ?",
				"iii", now, now, it->conversation_id);
		}
		return 0;
	}
	if ((rc = ig_store_runf(st, err,
		"UPDATE outbox SET state = ?, error = ?, lease_owner = NULL, lease_until = NULL,"
		" updated_at = ? WHERE id = ? AND state = 'sending'",
		"ssii", it->state, it->error, now, it->id)))
		return rc;
	if (r && r->resp.gerr.code == 190)
		return ig_store_runf(st, err,
			"UPDATE accounts SET status = 'needs_reauth', last_error = ?,"
			" error_count = error_count + 1, updated_at = ? WHERE id = ?",
			"sii", it->error, now, it->account_id);
	if (it->rc == IG_EX_NOPERM)
		/* a permission problem is the account's; a refusal (window,
		 * blocked user) belongs to the conversation and stays on the row */
		return ig_store_runf(st, err,
			"UPDATE accounts SET last_error = ?, error_count = error_count + 1,"
			" updated_at = ? WHERE id = ?", "sii", it->error, now, it->account_id);
	return 0;
}

int ig_outbox_send(struct ig_ctx *ctx, struct ig_graph *g, struct ig_outbox_item *items,
		   size_t n, int parallel, const char *worker, struct ig_err *err)
{
	struct ig_store *st = ctx->store;
	struct ig_graph_req *reqs = NULL;
	size_t *map = NULL, m = 0, i;
	json_t **bodies = NULL;
	int64_t now = ig_time_now(), lease = ig_outbox_lease_seconds(&ctx->cfg);
	int rc;

	if (n == 0)
		return 0;
	if ((rc = ig_ctx_keys(ctx, err)))
		return rc;
	reqs = calloc(n, sizeof(*reqs));
	map = calloc(n, sizeof(*map));
	bodies = calloc(n, sizeof(*bodies));
	if (!reqs || !map || !bodies) {
		rc = ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
		goto out;
	}
	if ((rc = ig_store_begin(st, err)))
		goto out;
	for (i = 0; i < n; i++) {
		items[i].state[0] = '\0';
		items[i].rc = 0;
		items[i].error[0] = '\0';
		if ((rc = claim_one(ctx, &items[i], worker, now, lease, err))) {
			ig_store_rollback(st);
			goto out;
		}
	}
	if ((rc = ig_store_commit(st, err)))
		goto out;

	for (i = 0; i < n; i++) {
		struct ig_graph_req *r;

		if (strcmp(items[i].state, "sending"))
			continue;
		r = &reqs[m];
		bodies[m] = send_body(&items[i]);
		r->host = (enum ig_host)items[i].host;
		r->method = "POST";
		r->path = items[i].path;
		r->versioned = 1;
		r->json = bodies[m];
		r->token = items[i].token;
		r->idempotent = 0;   /* a resent message is a duplicate message */
		r->user = &items[i];
		map[m++] = i;
	}
	if (m)
		ig_graph_run_many(g, reqs, m, parallel > 0 ? parallel : IG_OUTBOX_PARALLEL);
	for (i = 0; i < m; i++)
		classify(&items[map[i]], &reqs[i]);

	now = ig_time_now();
	if (m) {
		if ((rc = ig_store_begin(st, err)))
			goto out;
		for (i = 0; i < m; i++) {
			if ((rc = record_one(st, &items[map[i]], &reqs[i], now, err))) {
				ig_store_rollback(st);
				ig_err_prefix(err, "cannot record what was sent (the rows stay 'sending'"
					      " and become 'unknown' when their lease ends)");
				goto out;
			}
		}
		if ((rc = ig_store_commit(st, err)))
			goto out;
	}
	rc = 0;
out:
	for (i = 0; i < m; i++) {
		ig_graph_resp_release(&reqs[i].resp);
		json_decref(bodies[i]);
	}
	for (i = 0; i < n; i++) {
		ig_wipe_free(items[i].token);
		items[i].token = NULL;
	}
	free(reqs);
	free(map);
	free(bodies);
	return rc;
}

int ig_outbox_expire(struct ig_store *st, int64_t tenant_id, int64_t account_id, int *n,
		      struct ig_err *err)
{
	return ig_store_write(st, n, err,
		"UPDATE outbox SET state = 'unknown',"
		" error = 'the sending worker stopped before recording the answer: it may have been"
		" delivered, so it is not resent', lease_owner = NULL, lease_until = NULL,"
		" updated_at = ?1 WHERE state = 'sending' AND lease_until < ?1"
		" AND (?2 = 0 OR tenant_id = ?2) AND (?3 = 0 OR account_id = ?3)", "iii",
		ig_time_now(), tenant_id, account_id);
}

int ig_outbox_ready(struct ig_store *st, int64_t tenant_id, int64_t account_id, int64_t after,
		    int64_t *ids, int max, struct ig_err *err)
{
	struct ig_stmt *s;
	int n = 0, more = 0;

	s = ig_store_query(st, err,
		"SELECT id FROM outbox WHERE state = 'pending'"
		" AND (text IS NOT NULL OR payload IS NOT NULL)"
		" AND (lease_until IS NULL OR lease_until < ?) AND (? = 0 OR tenant_id = ?)"
		" AND (? = 0 OR account_id = ?) AND id > ? ORDER BY id LIMIT ?", "iiiiiii",
		ig_time_now(), tenant_id, tenant_id, account_id, account_id, after, (int64_t)max);
	if (!s)
		return -1;
	while (n < max && (more = ig_stmt_next(st, s, err)) == 1)
		ids[n++] = ig_col_int(s, 0);
	if (more == 1)
		ig_stmt_reset(s);
	return more < 0 ? -1 : n;
}

int ig_outbox_list(struct ig_store *st, int64_t tenant_id, const char *state,
		   int64_t conversation_id, long limit, json_t **out, struct ig_err *err)
{
	struct ig_stmt *s = ig_store_query(st, err,
		"SELECT o.id, o.conversation_id, a.external_id, o.origin, o.state, o.recipient, o.text,"
		" o.tag, o.mid, o.error, o.attempts, o.created_at, o.sent_at"
		" FROM outbox o JOIN accounts a ON a.id = o.account_id"
		" WHERE o.tenant_id = ? AND (? IS NULL OR o.state = ?)"
		" AND (? = 0 OR o.conversation_id = ?) ORDER BY o.id LIMIT ?", "issiii",
		tenant_id, state, state, conversation_id, conversation_id,
		(int64_t)(limit > 0 ? limit : -1));
	json_t *arr;
	int rc;

	*out = NULL;
	if (!s)
		return ig_err_prefix(err, "cannot list the outbox");
	if (!(arr = json_array())) {
		ig_stmt_reset(s);
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	}
	while ((rc = ig_stmt_next(st, s, err)) == 1) {
		char c1[32], c2[32];
		json_t *row = json_pack("{s:I,s:o,s:s,s:s,s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:I,s:s,s:s?}",
			"id", (json_int_t)ig_col_int(s, 0),
			"conversation", ig_col_null(s, 1) ? json_null() : json_integer(ig_col_int(s, 1)),
			"account", ig_col_text(s, 2), "origin", ig_col_text(s, 3),
			"state", ig_col_text(s, 4), "recipient", ig_col_text(s, 5),
			"text", ig_col_textn(s, 6), "tag", ig_col_textn(s, 7),
			"mid", ig_col_textn(s, 8), "error", ig_col_textn(s, 9),
			"attempts", (json_int_t)ig_col_int(s, 10),
			"created", ig_time_iso(ig_col_int(s, 11), c1),
			"sent", ig_col_null(s, 12) ? NULL : ig_time_iso(ig_col_int(s, 12), c2));
		json_array_append_new(arr, row);
	}
	if (rc < 0) {
		json_decref(arr);
		return ig_err_prefix(err, "cannot list the outbox");
	}
	*out = arr;
	return 0;
}

int ig_outbox_decide(struct ig_ctx *ctx, int64_t tenant_id, int64_t id,
		     enum ig_outbox_action action, const char *new_text, struct ig_err *err)
{
	static const char *const names[] = { "outbox.approve", "outbox.retry", "outbox.reject",
					     "outbox.abandon" };
	static const char *const to[] = { "pending", "pending", "rejected", "abandoned" };
	struct ig_store *st = ctx->store;
	int64_t now = ig_time_now();
	int64_t found = 0;
	char state[16] = "", target[32];
	json_t *detail;
	int ok, rc;

	if (new_text && (!*new_text || strlen(new_text) > IG_REPLY_MAX_TEXT))
		return ig_err_set(err, IG_EX_DATAERR,
			"the text must be 1 to %d bytes (Instagram's limit), not %zu",
			IG_REPLY_MAX_TEXT, strlen(new_text));
	if ((rc = ig_store_begin(st, err)))
		return rc;
	{
		struct ig_stmt *s = ig_store_query(st, err,
			"SELECT state FROM outbox WHERE id = ? AND tenant_id = ?", "ii", id, tenant_id);

		if (!s || (rc = ig_stmt_next(st, s, err)) < 0)
			return ig_store_end(st, ig_err_prefix(err, "cannot read the outbox"), err);
		if (rc == 1) {
			found = 1;
			snprintf(state, sizeof(state), "%s", ig_col_text(s, 0));
			ig_stmt_reset(s);
		}
	}
	if (!found) {
		ig_store_rollback(st);
		return ig_err_set(err, IG_EX_DATAERR, "no outbox row %lld in this tenant", (long long)id);
	}
	switch (action) {
	case IG_OB_APPROVE:
	case IG_OB_REJECT:
		ok = !strcmp(state, "draft");
		break;
	case IG_OB_RETRY:
		ok = !strcmp(state, "failed") || !strcmp(state, "unknown");
		break;
	default:
		ok = !strcmp(state, "pending") || !strcmp(state, "failed") || !strcmp(state, "unknown");
		break;
	}
	if (!ok) {
		ig_store_rollback(st);
		return ig_err_set(err, IG_EX_DATAERR, "outbox row %lld is %s; %s applies to %s rows",
			(long long)id, state, names[action] + 7,
			action == IG_OB_RETRY ? "failed or unknown"
			: action == IG_OB_ABANDON ? "pending, failed or unknown" : "draft");
	}
	if ((rc = ig_store_runf(st, err,
		"UPDATE outbox SET state = ?, text = COALESCE(?, text), lease_owner = NULL,"
		" lease_until = NULL, updated_at = ? WHERE id = ?", "ssii", to[action], new_text, now,
		id))) {
		ig_store_rollback(st);
		return rc;
	}
	snprintf(target, sizeof(target), "outbox:%lld", (long long)id);
	detail = json_pack("{s:s,s:s,s:b}", "from", state, "to", to[action], "edited", new_text != NULL);
	rc = ig_audit(ctx, tenant_id, names[action], target, "ok", detail, err);
	json_decref(detail);
	if (rc) {
		ig_store_rollback(st);
		return rc;
	}
	return ig_store_commit(st, err);
}

json_t *ig_outbox_item_json(const struct ig_outbox_item *it)
{
	json_t *o = json_pack("{s:I,s:s,s:s,s:s?,s:I,s:s,s:s,s:s?,s:s?}",
		"conversation", (json_int_t)it->conversation_id, "tenant", it->tenant,
		"account", it->account, "agent", it->agent[0] ? it->agent : NULL,
		"outbox", (json_int_t)it->id, "origin", it->origin,
		"state", it->state[0] ? it->state : "skipped", "mid", it->mid, "text", it->text);

	if (o && it->tag)
		json_object_set_new(o, "tag", json_string(it->tag));
	if (o && it->error[0])
		json_object_set_new(o, "error", json_string(it->error));
	return o;
}
