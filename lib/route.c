/* lib/route.c — see lib/route.h.  Section numbers cite
 * shared/reference/meta-graph-api.md; rule numbers DESIGN.md §6. */
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "igtime.h"
#include "jsonio.h"
#include "route.h"
#include "store.h"

static const char *const how_names[] = {
	"own agent", "tenant default", "no agent", "unknown account", "ambiguous account",
	"duplicate", "unknown kind", "invalid",
};

const char *ig_route_how_name(enum ig_route_how h)
{
	return (unsigned)h <= IG_ROUTE_INVALID ? how_names[h] : "?";
}

/* Query or fail: every statement below is a literal, cached by address. */
#define QUERY(var, ...) do { \
	if (!((var) = ig_store_query(r->st, err, __VA_ARGS__))) \
		return err ? err->code : IG_EX_SOFTWARE; \
} while (0)

__attribute__((format(printf, 2, 3)))
static void report(struct ig_route *r, const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	if (r->explain)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one message per line: no newline may leak from Meta's data */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	ig_buf_adds(&r->report, line);
	ig_buf_add(&r->report, "\n", 1);
}

static const char *where(const struct ig_wh_event *e, char *buf, size_t n)
{
	if (e->level == IG_WH_LVL_ENTRY || e->flattened)
		snprintf(buf, n, "entry[%d]", e->entry);
	else
		snprintf(buf, n, "entry[%d].%s[%d]", e->entry,
			 e->level == IG_WH_LVL_CHANGE ? "changes" : e->standby ? "standby" : "messaging",
			 e->index);
	return buf;
}

/* ------------------------------------------------------------ set-up */

int ig_route_init(struct ig_route *r, struct ig_ctx *ctx, const char *source, struct ig_err *err)
{
	const char *v;

	memset(r, 0, sizeof(*r));
	r->ctx = ctx;
	r->st = ctx->store;
	r->source = source;
	r->now = ig_time_now();
	ig_buf_init(&r->out, SIZE_MAX);     /* one batch's output */
	ig_buf_init(&r->report, SIZE_MAX);
	if ((v = ig_config_get(&ctx->cfg, "app_id")))
		snprintf(r->app_ids[0], sizeof(r->app_ids[0]), "%s", v);
	if ((v = ig_config_get(&ctx->cfg, "ig_app_id")))
		snprintf(r->app_ids[1], sizeof(r->app_ids[1]), "%s", v);
	if (!r->st)
		return ig_err_set(err, IG_EX_SOFTWARE, "BUG: routing without a store");
	if (!strcmp(source, "pipe")) {
		/* a run id no other run has: the clock's nanoseconds and the pid */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		r->emit_run = (int64_t)((((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec)
					 ^ ((uint64_t)getpid() << 40)) & 0x3fffffffffffffffu) | 1;
	}
	return 0;
}

void ig_route_release(struct ig_route *r)
{
	/* a run that printed everything it stored needs no row: best effort
	 * (a row left behind only keeps saying what was printed) */
	if (r->emit_run && !r->emit_hi && !r->nreemit && r->emit_rows && !ig_store_lazy(r->st, 1, NULL)) {
		ig_store_write(r->st, NULL, NULL, "DELETE FROM emit_runs WHERE run = ?", "i",
			       r->emit_run);
		ig_store_lazy(r->st, 0, NULL);
	}
	free(r->reemit);
	r->reemit = NULL;
	ig_buf_release(&r->out);
	ig_buf_release(&r->report);
	free(r->acct);
	r->acct = NULL;
	r->nacct = r->aacct = 0;
	json_decref(r->rows);
	r->rows = NULL;
}

static int flush_counters(struct ig_route *r, struct ig_err *err)
{
	int i, rc;

	for (i = 0; i < r->nacct; i++) {
		struct ig_route_acct *a = &r->acct[i];

		if (a->found != 1 || (!a->dmsg && !a->dusers))
			continue;
		/* user_count = distinct participants = conversations created */
		if ((rc = ig_store_runf(r->st, err,
			"UPDATE accounts SET message_count = message_count + ?,"
			" user_count = user_count + ?, last_synced_at = ?, updated_at = ?"
			" WHERE id = ? AND tenant_id = ?",
			"iiiiii", (int64_t)a->dmsg, (int64_t)a->dusers, r->now, r->now,
			a->id, a->tenant_id)))
			return rc;
		a->dmsg = a->dusers = 0;
	}
	return 0;
}

int ig_route_begin(struct ig_route *r, struct ig_err *err)
{
	r->nacct = 0;
	r->now = ig_time_now();
	return ig_store_begin(r->st, err);
}

int ig_route_commit(struct ig_route *r, struct ig_err *err)
{
	int rc = flush_counters(r, err);

	/* the run's row, with the batch's deliveries (its first batch makes it) */
	if (!rc && r->emit_run && r->emit_hi)
		rc = ig_store_runf(r->st, err, "INSERT INTO emit_runs(run, printed, started)"
				   " VALUES (?, 0, ?) ON CONFLICT(run) DO NOTHING", "ii",
				   r->emit_run, r->now);

	r->nacct = 0;
	if (rc) {
		ig_store_rollback(r->st);
		return rc;
	}
	return ig_store_commit(r->st, err);
}

void ig_route_abort(struct ig_route *r)
{
	r->nacct = 0;
	ig_store_rollback(r->st);
}

int ig_route_max_body(const struct ig_config *cfg, size_t *out, struct ig_err *err)
{
	const char *v = ig_config_get(cfg, "max_body");
	char *end;
	long long n;

	errno = 0;
	n = v ? strtoll(v, &end, 10) : -1;
	if (!v || errno || end == v || *end || n < 1 || n > (1LL << 30))
		return ig_err_set(err, IG_EX_CONFIG,
			"max_body must be a number of bytes from 1 to 1073741824, not '%s'", v ? v : "");
	*out = (size_t)n;
	return 0;
}

int ig_route_policy_load(struct ig_wh_policy *p, const struct ig_config *cfg, struct ig_err *err)
{
	static const char *const file_setting[IG_WH_NSECRETS] = {
		"app_secret_file", "ig_app_secret_file", "previous_app_secret_file"
	};
	const char *v;
	int i, j, rc;

	ig_wh_policy_init(p);
	if ((rc = ig_wh_policy_parse(p, ig_config_get(cfg, "webhook_secrets"), err)))
		return rc;
	v = ig_config_get(cfg, "legacy_sha1");
	if (!v || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !*v)
		p->legacy_sha1 = 0;
	else if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		p->legacy_sha1 = 1;
	else
		return ig_err_set(err, IG_EX_CONFIG, "legacy_sha1 must be yes or no, not '%s'", v);
	for (i = 0; i < IG_WH_NSECRETS; i++) {
		char *s = NULL;

		if (!ig_wh_policy_uses(p, (enum ig_wh_secret)i)
		    || !ig_config_has_secret(cfg, file_setting[i]))
			continue;
		if ((rc = ig_config_secret(cfg, file_setting[i], &s, err)))
			return rc;
		rc = ig_wh_policy_set_secret(p, (enum ig_wh_secret)i, s);
		ig_wipe_free(s);
		if (rc)
			return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	}
	/* every term must be able to verify something, or its deliveries would
	 * all be refused: say so now rather than at Meta's first POST */
	for (i = 0; i < p->nterm; i++) {
		char names[128] = "";

		for (j = 0; j < p->term[i].n; j++)
			if (p->secret[p->term[i].order[j]])
				break;
		if (j < p->term[i].n)
			continue;
		for (j = 0; j < p->term[i].n; j++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 j ? ", " : "", file_setting[p->term[i].order[j]]);
		return ig_err_set(err, IG_EX_CONFIG,
			"no webhook secret available%s%s%s: set %s (or its IGKIT_ variable)",
			p->term[i].object[0] ? " for object '" : "", p->term[i].object,
			p->term[i].object[0] ? "'" : "", names);
	}
	return 0;
}

/* ------------------------------------------------------------ storing */

static int store_delivery(struct ig_route *r, const struct ig_route_in *in, const char *object,
			  enum ig_wh_sig sig, const char *status, const char *error, int64_t *id,
			  struct ig_err *err)
{
	const char *sigval = in->sha256 ? in->sha256 : in->sha1;
	char sigbuf[160];
	int rc;

	/* keep the header as received, but bounded: it is attacker-controlled */
	if (sigval && strlen(sigval) >= sizeof(sigbuf)) {
		snprintf(sigbuf, sizeof(sigbuf), "%.150s...", sigval);
		sigval = sigbuf;
	}
	if ((rc = ig_store_runf(r->st, err,
		"INSERT INTO deliveries(received_at, source, object, signature, sig_status, status,"
		" error, body, emit_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		"ississsbI", r->now, r->source, object, sigval, ig_wh_sig_name(sig), status,
		error, in->body ? in->body : "", (int)in->len, r->emit_run)))
		return ig_err_prefix(err, "cannot store the delivery");
	*id = ig_store_last_id(r->st);
	if (r->emit_run && *id > r->emit_hi)
		r->emit_hi = *id;
	return 0;
}

int ig_route_accept(struct ig_route *r, const struct ig_wh_policy *pol,
		    const struct ig_route_in *in, const char *status, struct ig_wh_delivery *d,
		    struct ig_route_res *res, struct ig_err *err)
{
	struct ig_err perr = { 0 };
	int parsed = 0, rc;

	memset(res, 0, sizeof(*res));
	memset(d, 0, sizeof(*d));
	res->http = 200;
	r->n.deliveries++;
	if (in->oversize) {
		res->sig = IG_SIG_UNCHECKED;
		res->code = IG_EX_DATAERR;
		res->http = 413;
		snprintf(res->msg, sizeof(res->msg),
			 "delivery larger than max_body (%zu bytes); its start is kept", in->max_body);
		goto reject;
	}
	parsed = ig_webhook_parse(d, in->body, in->len, &perr) == 0;
	/* Rule 1: the signature first; an unparsable body is checked against
	 * every secret, so unsigned garbage is a 403, signed garbage a 400. */
	if (in->no_verify)
		res->sig = IG_SIG_UNCHECKED;
	else
		res->sig = ig_wh_verify(pol, parsed ? d->object : NULL, in->sha256, in->sha1,
					in->body, in->len, &res->secret);
	if (res->sig == IG_SIG_MISSING || res->sig == IG_SIG_INVALID) {
		res->code = IG_EX_DATAERR;
		res->http = 403;
		if (res->sig == IG_SIG_MISSING)
			snprintf(res->msg, sizeof(res->msg), "unsigned delivery: no X-Hub-Signature-256 header%s",
				 pol->legacy_sha1 ? " (nor X-Hub-Signature)" : "");
		else
			snprintf(res->msg, sizeof(res->msg), "bad signature: %s does not match the body",
				 in->sha256 ? "X-Hub-Signature-256" : "X-Hub-Signature");
		goto reject;
	}
	if (!parsed) {
		res->code = IG_EX_DATAERR;
		res->http = 400;
		snprintf(res->msg, sizeof(res->msg), "malformed delivery: %s", perr.msg);
		goto reject;
	}
	return store_delivery(r, in, d->object, res->sig, status, NULL, &res->delivery_id, err);
reject:
	r->n.rejected++;
	rc = store_delivery(r, in, parsed ? d->object : NULL, res->sig, "rejected", res->msg,
			    &res->delivery_id, err);
	ig_webhook_release(d);
	return rc;
}

int ig_route_reject_input(struct ig_route *r, const char *raw, size_t len, const char *reason,
			  int64_t *id, struct ig_err *err)
{
	int rc;

	r->n.rejected++;
	if ((rc = ig_store_runf(r->st, err,
		"INSERT INTO dead_letters(source, reason, raw, created_at, updated_at)"
		" VALUES ('ig-route:input', ?, ?, ?, ?)",
		"sbii", reason, raw ? raw : "", (int)len, r->now, r->now)))
		return rc;
	*id = ig_store_last_id(r->st);
	return 0;
}

/* ------------------------------------------------------------ look-ups */

/* Rule 3: the account is entry[].id (the sender for echoes).  Object
 * "instagram" → an instagram account by its IG id; object "page" → a
 * messenger account by its Page id.  Either falls back to accounts.page_id:
 * an IG-via-Page account (Facebook Login), and §2.1's note that one Meta
 * example labels the Instagram entry id PAGE_ID.  A Page id linked in two
 * tenants is ambiguous: never guessed. */
static void fill_acct(struct ig_route_acct *a, struct ig_stmt *s)
{
	a->found = 1;
	a->id = ig_col_int(s, 0);
	a->tenant_id = ig_col_int(s, 1);
	ig_copy(a->tenant, sizeof(a->tenant), ig_col_text(s, 2));
	if (!ig_col_null(s, 4)) {
		a->own_agent = 1;
		a->agent_id = ig_col_int(s, 3);
		ig_copy(a->agent, sizeof(a->agent), ig_col_text(s, 4));
		a->pause_on_human = (int)ig_col_int(s, 5);
	} else if (!ig_col_null(s, 6)) {
		a->agent_id = ig_col_int(s, 6);
		ig_copy(a->agent, sizeof(a->agent), ig_col_text(s, 7));
		a->pause_on_human = (int)ig_col_int(s, 8);
	} else {
		a->pause_on_human = 1;   /* the schema's default */
	}
	ig_copy(a->external_id, sizeof(a->external_id), ig_col_text(s, 9));
}

#define ACCT_COLS \
	"SELECT a.id, a.tenant_id, t.slug, a.agent_id, ag.name, ag.pause_on_human," \
	" d.id, d.name, d.pause_on_human, a.external_id" \
	" FROM accounts a JOIN tenants t ON t.id = a.tenant_id" \
	" LEFT JOIN agents ag ON ag.id = a.agent_id AND ag.tenant_id = a.tenant_id" \
	" LEFT JOIN agents d ON d.tenant_id = a.tenant_id AND d.is_default = 1"

static int lookup_account(struct ig_route *r, const char *object, const char *ref,
			  struct ig_route_acct **out, struct ig_err *err)
{
	struct ig_route_acct *a;
	struct ig_stmt *s;
	int i, rc;

	for (i = 0; i < r->nacct; i++) {
		if (!strcmp(r->acct[i].ref, ref) && !strcmp(r->acct[i].object, object)) {
			*out = &r->acct[i];
			return 0;
		}
	}
	if (r->nacct == r->aacct) {
		int na = r->aacct ? 2 * r->aacct : 16;
		struct ig_route_acct *nv = realloc(r->acct, (size_t)na * sizeof(*nv));

		if (!nv)
			return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
		r->acct = nv;
		r->aacct = na;
	}
	a = &r->acct[r->nacct];
	memset(a, 0, sizeof(*a));
	ig_copy(a->object, sizeof(a->object), object);
	ig_copy(a->ref, sizeof(a->ref), ref);
	QUERY(s, ACCT_COLS " WHERE a.channel = ? AND a.external_id = ?", "ss",
	      !strcmp(object, "page") ? "messenger" : "instagram", ref);
	rc = ig_stmt_next(r->st, s, err);
	if (rc == 1) {
		fill_acct(a, s);
		ig_stmt_reset(s);
	} else if (rc == 0 && !strcmp(object, "page")) {
		/* Messenger (object "page"): entry.id is the Page and senders are
		 * PSIDs, which the Page's Instagram account can neither read nor
		 * answer.  Only a Messenger account routes them; an Instagram
		 * link of the Page only tells whose they are (reference §2). */
		QUERY(s, "SELECT DISTINCT tenant_id FROM accounts"
		      " WHERE page_id = ? AND channel = 'instagram'", "s", ref);
		while ((rc = ig_stmt_next(r->st, s, err)) == 1)
			a->page_tenant = a->page_tenant ? -1 : ig_col_int(s, 0);
	} else if (rc == 0) {
		QUERY(s, ACCT_COLS " WHERE a.page_id = ? ORDER BY a.id", "s", ref);
		while ((rc = ig_stmt_next(r->st, s, err)) == 1) {
			if (!a->found)
				fill_acct(a, s);
			else if (ig_col_int(s, 1) != a->tenant_id)
				a->found = -1;
		}
	}
	if (rc < 0)
		return ig_err_prefix(err, "cannot look up account");
	r->nacct++;
	*out = a;
	return 0;
}

struct conv {
	int64_t id;
	char ai[8];
	char owner[IG_WH_ID_MAX];
	char reason[64];
};

/* Conversation found or created per (account, participant). */
static int get_conv(struct ig_route *r, struct ig_route_acct *a, const char *participant,
		    struct conv *c, struct ig_err *err)
{
	struct ig_stmt *s;
	int rc;

	memset(c, 0, sizeof(*c));
	QUERY(s, "SELECT id, ai_state, thread_owner, ai_reason FROM conversations"
	      " WHERE account_id = ? AND participant_id = ?", "is", a->id, participant);
	rc = ig_stmt_next(r->st, s, err);
	if (rc == 1) {
		c->id = ig_col_int(s, 0);
		ig_copy(c->ai, sizeof(c->ai), ig_col_text(s, 1));
		ig_copy(c->owner, sizeof(c->owner), ig_col_text(s, 2));
		ig_copy(c->reason, sizeof(c->reason), ig_col_text(s, 3));
		ig_stmt_reset(s);
		return 0;
	}
	if (rc < 0)
		return ig_err_prefix(err, "cannot look up conversation");
	if ((rc = ig_store_runf(r->st, err,
		"INSERT INTO conversations(tenant_id, account_id, participant_id, created_at,"
		" updated_at) VALUES (?, ?, ?, ?, ?)",
		"iisii", a->tenant_id, a->id, participant, r->now, r->now)))
		return rc;
	c->id = ig_store_last_id(r->st);
	strcpy(c->ai, "active");
	a->pusers++;
	return 0;
}

/* 1 when key was new (claimed now), 0 when it was already there. */
static int claim_key(struct ig_route *r, const char *key, int64_t did, int *fresh,
		     struct ig_err *err)
{
	int rc;

	if ((rc = ig_store_runf(r->st, err,
		"INSERT INTO event_keys(key, delivery_id, created_at) VALUES (?, ?, ?)"
		" ON CONFLICT(key) DO NOTHING",
		"sIi", key, did, r->now)))
		return rc;
	*fresh = ig_store_changes(r->st) > 0;
	return 0;
}

static char *dump_or_null(const json_t *v)
{
	if (!v || (json_is_object(v) && !json_object_size(v)))
		return NULL;
	return json_dumps(v, JSON_COMPACT);
}

/* Insert a message; *inserted 0 when (account, mid) was already there. */
static int insert_message(struct ig_route *r, struct ig_route_acct *a, int64_t conv,
			  const struct ig_wh_event *e, const char *mid, const char *dir,
			  const char *sender, const char *kind, const char *text, int64_t did,
			  int deleted, int64_t edits, int *inserted, struct ig_err *err)
{
	char *att = e->attachments ? json_dumps(e->attachments, JSON_COMPACT) : NULL;
	char *meta = dump_or_null(e->extra);
	int rc;

	rc = ig_store_runf(r->st, err,
		"INSERT INTO messages(tenant_id, account_id, conversation_id, mid, direction,"
		" sender_kind, kind, text, attachments, meta, deleted, edit_count, sent_at,"
		" created_at, delivery_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		" ON CONFLICT(account_id, mid) DO NOTHING",
		"iiisssssssiiiiI", a->tenant_id, a->id, conv, mid, dir, sender, kind, text,
		att, meta, (int64_t)deleted, edits, e->at ? e->at : r->now, r->now, did);
	free(att);
	free(meta);
	if (rc)
		return rc;
	*inserted = ig_store_changes(r->st) > 0;
	if (*inserted)
		a->pmsg++;
	return 0;
}

static int dead_letter(struct ig_route *r, const struct ig_wh_delivery *d,
		       const struct ig_wh_event *e, int64_t did, int64_t tenant, const char *reason,
		       int64_t *id, struct ig_err *err)
{
	json_t *mini;
	char *raw;
	int rc;

	*id = 0;
	r->ndead++;
	if (r->replay) {
		/* replaying: the dead letter exists; keep it open with today's reason */
		*id = r->replay_id;
		return ig_store_runf(r->st, err,
			"UPDATE dead_letters SET reason = ?, updated_at = ? WHERE id = ?",
			"sii", reason, r->now, r->replay_id);
	}
	mini = ig_webhook_event_delivery(d, e);
	raw = mini ? json_dumps(mini, JSON_COMPACT) : NULL;
	json_decref(mini);
	if (!raw)
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	rc = ig_store_runf(r->st, err,
		"INSERT INTO dead_letters(delivery_id, tenant_id, source, reason, account_ref, raw,"
		" created_at, updated_at) VALUES (?, ?, 'ig-route', ?, ?, ?, ?, ?)",
		"IIssbii", did, tenant, reason, e->account[0] ? e->account : NULL, raw,
		(int)strlen(raw), r->now, r->now);
	free(raw);
	if (rc)
		return rc;
	*id = ig_store_last_id(r->st);
	return 0;
}

/* ------------------------------------------------------------ outcome */

static void explain_reason(const struct ig_route_acct *a, enum ig_route_how how, char *buf,
			   size_t n)
{
	switch (how) {
	case IG_ROUTE_OWN:
		snprintf(buf, n, "account '%s' of tenant '%s' has its own agent '%s'", a->ref,
			 a->tenant, a->agent);
		break;
	case IG_ROUTE_DEFAULT:
		snprintf(buf, n, "account '%s' of tenant '%s' has no agent of its own; the tenant's"
			 " default agent is '%s'", a->ref, a->tenant, a->agent);
		break;
	case IG_ROUTE_NOAGENT:
		snprintf(buf, n, "account '%s' of tenant '%s' has no agent and the tenant has no"
			 " default agent", a->ref, a->tenant);
		break;
	default:
		buf[0] = '\0';
	}
}

/*
 * Record what became of event e: a routed event for r->out, or an explain
 * row.  add (may be NULL, stolen) holds extra members for the routed event.
 */
static int outcome(struct ig_route *r, const struct ig_wh_event *e, const struct ig_route_acct *a,
		   enum ig_route_how how, const struct conv *c, int64_t did, json_t *add,
		   const char *why)
{
	char iso[24], reason[600];
	struct ig_jw w;
	const char *k;
	json_t *o, *v;
	int rc;

	r->last_outcome = how;
	if (how == IG_ROUTE_DUPLICATE)
		r->n.duplicates++;
	else if (how <= IG_ROUTE_NOAGENT)
		r->n.routed++;
	if (r->explain) {
		if (!why || !*why) {
			explain_reason(a, how, reason, sizeof(reason));
			why = reason;
		}
		o = json_object();
		json_object_set_new(o, "event",
				    json_integer((json_int_t)(json_array_size(r->rows) - r->explain_base + 1)));
		json_object_set_new(o, "type", json_string(ig_wh_type_name(e->type)));
		json_object_set_new(o, "kind", json_string(e->kind ? e->kind : ""));
		json_object_set_new(o, "account", json_string(e->account));
		json_object_set_new(o, "participant", json_string(e->participant));
		json_object_set_new(o, "mid", e->mid ? json_string(e->mid) : json_null());
		json_object_set_new(o, "tenant", a && a->found == 1 ? json_string(a->tenant) : json_null());
		json_object_set_new(o, "agent", a && a->found == 1 && a->agent[0] ? json_string(a->agent) : json_null());
		json_object_set_new(o, "route", json_string(ig_route_how_name(how)));
		json_object_set_new(o, "reason", json_string(why));
		json_array_append_new(r->rows, o);
		json_decref(add);
		return 0;
	}
	if (how > IG_ROUTE_NOAGENT) {
		json_decref(add);
		return 0;
	}
	/* DESIGN.md §6.5: the routed event, written member by member (an
	 * object built and dumped cost as much as storing the event).  A key
	 * of add replaces the same key of extra in place; neither ever holds
	 * one of the named members (webhook.c names them). */
	ig_jw_begin(&w, &r->out);
	ig_jw_str(&w, "type", ig_wh_type_name(e->type));
	ig_jw_str(&w, "tenant", a->tenant);
	ig_jw_str(&w, "account", e->account);
	ig_jw_str(&w, "agent", a->agent[0] ? a->agent : NULL);
	if (c)
		ig_jw_int(&w, "conversation", c->id);
	if (e->participant[0])
		ig_jw_str(&w, "participant", e->participant);
	if (e->mid)
		ig_jw_str(&w, "mid", e->mid);
	if ((e->type == IG_WH_MESSAGE || e->type == IG_WH_ECHO) && e->kind)
		ig_jw_str(&w, "kind", e->kind);
	if (e->text)
		ig_jw_str(&w, "text", e->text);
	if (e->attachments)
		ig_jw_value(&w, "attachments", e->attachments);
	json_object_foreach(e->extra, k, v) {
		json_t *over = add ? json_object_get(add, k) : NULL;

		ig_jw_value(&w, k, over ? over : v);
	}
	json_object_foreach(add, k, v)
		if (!json_object_get(e->extra, k))
			ig_jw_value(&w, k, v);
	json_decref(add);
	if (c) {
		ig_jw_str(&w, "ai", c->ai);
		if (c->owner[0])
			ig_jw_str(&w, "thread_owner", c->owner);
	}
	ig_jw_str(&w, "at", ig_time_iso(e->at ? e->at : r->now, iso));
	if (did)
		ig_jw_int(&w, "delivery", did);
	rc = ig_jw_end(&w) || ig_buf_add(&r->out, "\n", 1);
	return rc ? ig_err_set(NULL, IG_EX_SOFTWARE, "out of memory") : 0;
}

/* ------------------------------------------------------------ emission */

enum first_by { BY_MID, BY_KEY, BY_COMMENT };

/*
 * A duplicate: was the event's first delivery (found by mid, event key or
 * comment id) stored by another pipe run that never printed it?  Then *again
 * is 1, and that delivery is recorded printed once this batch is.
 */
static int emit_again(struct ig_route *r, enum first_by by, const struct ig_route_acct *a,
		      const char *k, int *again, struct ig_err *err)
{
	int64_t first = 0, run = 0;
	size_t i;
	int n;

	*again = 0;
	if (!r->emit_run || r->explain || !k)
		return 0;
	if (by == BY_MID)
		n = ig_store_int(r->st, err, &first, "SELECT COALESCE(delivery_id, 0) FROM messages"
				 " WHERE account_id = ? AND mid = ?", "is", a->id, k);
	else if (by == BY_COMMENT)
		n = ig_store_int(r->st, err, &first, "SELECT COALESCE(delivery_id, 0) FROM comments"
				 " WHERE account_id = ? AND comment_id = ?", "is", a->id, k);
	else
		n = ig_store_int(r->st, err, &first, "SELECT COALESCE(delivery_id, 0) FROM event_keys"
				 " WHERE key = ?", "s", k);
	if (n < 0)
		return err ? err->code : IG_EX_SOFTWARE;
	if (!first)
		return 0;
	/* printed unless its run has a row saying it printed less */
	n = ig_store_int(r->st, err, &run, "SELECT d.emit_run FROM deliveries d"
			 " JOIN emit_runs e ON e.run = d.emit_run WHERE d.id = ? AND d.id > e.printed"
			 " AND d.emit_run <> ?", "ii", first, r->emit_run);
	if (n < 0)
		return err ? err->code : IG_EX_SOFTWARE;
	if (n == 0)
		return 0;
	*again = 1;
	for (i = 0; i < r->nreemit; i++)
		if (r->reemit[i] == first)
			return 0;
	if (r->nreemit == r->areemit) {
		size_t na = r->areemit ? 2 * r->areemit : 16;
		int64_t *nv = realloc(r->reemit, na * sizeof(*nv));

		if (!nv)
			return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
		r->reemit = nv;
		r->areemit = na;
	}
	r->reemit[r->nreemit++] = first;
	return 0;
}

int ig_route_emitted(struct ig_route *r, struct ig_err *err)
{
	size_t i;
	int rc;

	if (!r->emit_run || (!r->emit_hi && !r->nreemit))
		return 0;
	if ((rc = ig_store_lazy(r->st, 1, err)))
		return rc;
	if (!(rc = ig_store_begin(r->st, err))) {
		if (r->emit_hi)
			rc = ig_store_runf(r->st, err, "UPDATE emit_runs SET printed = ? WHERE run = ?",
					   "ii", r->emit_hi, r->emit_run);
		for (i = 0; !rc && i < r->nreemit; i++)
			rc = ig_store_runf(r->st, err, "UPDATE deliveries SET emit_run = NULL"
					   " WHERE id = ?", "i", r->reemit[i]);
		rc = ig_store_end(r->st, rc, err);
	}
	ig_store_lazy(r->st, 0, rc ? NULL : err);
	if (rc)
		return ig_err_prefix(err, "cannot record the printed events");
	if (r->emit_hi)
		r->emit_rows = 1;
	r->emit_hi = 0;
	r->nreemit = 0;
	return 0;
}

/* ------------------------------------------------------------ handlers */

/* An event in entry[].standby[] means another app owns the thread (§2.3):
 * remember it, so ig-reply never answers there. */
static int note_owner(struct ig_route *r, struct conv *c, const char *owner, struct ig_err *err)
{

	if (!strcmp(c->owner, owner ? owner : ""))
		return 0;
	ig_copy(c->owner, sizeof(c->owner), owner ? owner : "");
	return ig_store_runf(r->st, err, "UPDATE conversations SET thread_owner = ?, updated_at = ?"
		" WHERE id = ?", "sii", c->owner[0] ? c->owner : NULL, r->now, c->id);
}

static const char *standby_owner(const struct ig_wh_event *e, const struct conv *c)
{
	const char *app = ig_json_str(e->extra, "app_id");

	if (app)
		return app;
	return c->owner[0] ? c->owner : "unknown";
}

static int on_inbound(struct ig_route *r, const struct ig_wh_delivery *d, struct ig_wh_event *e,
		      struct ig_route_acct *a, enum ig_route_how how, int64_t did, struct ig_err *err)
{
	struct conv c;
	char syn[160], *ref;
	const char *mid = e->mid, *owner;
	int ins, rc, again;

	(void)d;
	if ((rc = get_conv(r, a, e->participant, &c, err)))
		return rc;
	if (!mid || !*mid) {
		/* Messenger postbacks carry no mid: one per participant and time */
		snprintf(syn, sizeof(syn), "postback:%s:%lld", e->participant, (long long)e->ts_ms);
		mid = syn;
	}
	rc = insert_message(r, a, c.id, e, mid, "in", "customer",
			    e->type == IG_WH_POSTBACK ? "postback" : e->kind, e->text, did, 0,
			    0, &ins, err);
	if (rc)
		return rc;
	if (!ins) {
		if ((rc = emit_again(r, BY_MID, a, mid, &again, err)))
			return rc;
		return again ? outcome(r, e, a, how, &c, did, NULL, NULL)
			: outcome(r, e, a, IG_ROUTE_DUPLICATE, &c, did, NULL, "already received (same mid)");
	}
	/* a message on the primary channel means the thread is ours again;
	 * one on standby that another app holds it */
	owner = e->standby ? standby_owner(e, &c) : NULL;
	ref = dump_or_null(json_object_get(e->extra, "referral"));
	rc = ig_store_runf(r->st, err,
		"UPDATE conversations SET last_inbound_at = MAX(COALESCE(last_inbound_at, 0), ?),"
		" updated_at = ?, status = CASE status WHEN 'closed' THEN 'open' ELSE status END,"
		" thread_owner = ?, referral = COALESCE(?, referral) WHERE id = ?",
		"iissi", e->at ? e->at : r->now, r->now, owner, ref, c.id);
	free(ref);
	if (rc)
		return rc;
	ig_copy(c.owner, sizeof(c.owner), owner ? owner : "");
	return outcome(r, e, a, how, &c, did, NULL, NULL);
}

/*
 * Rule 4: an echo igkit's outbox did not send (no outbox row with its mid,
 * nor one being sent to that conversation with the same text) is a human
 * answering from the Instagram app.
 */
static int on_echo(struct ig_route *r, struct ig_wh_event *e, struct ig_route_acct *a,
		   enum ig_route_how how, int64_t did, struct ig_err *err)
{
	struct conv c;
	struct ig_stmt *s;
	char origin[16] = "";
	int again, ins, rc, own = 0, marker = 0, pause = 0;
	int64_t esc = 0;
	const char *reason = NULL;
	json_t *add;

	if ((rc = get_conv(r, a, e->participant, &c, err)))
		return rc;
	QUERY(s, "SELECT origin FROM outbox WHERE account_id = ? AND mid = ? LIMIT 1", "is",
	      a->id, e->mid);
	if ((rc = ig_stmt_next(r->st, s, err)) < 0)
		return ig_err_prefix(err, "cannot look up outbox");
	if (rc == 1) {
		own = 1;
		ig_copy(origin, sizeof(origin), ig_col_text(s, 0));
		ig_stmt_reset(s);
	}
	if (!own && e->text) {
		/* the echo can beat the Send API's answer: the row is still 'sending' */
		QUERY(s, "SELECT origin FROM outbox WHERE conversation_id = ? AND state = 'sending'"
		      " AND text = ? LIMIT 1", "is", c.id, e->text);
		if ((rc = ig_stmt_next(r->st, s, err)) < 0)
			return ig_err_prefix(err, "cannot look up outbox");
		if (rc == 1) {
			own = 1;
			ig_copy(origin, sizeof(origin), ig_col_text(s, 0));
			ig_stmt_reset(s);
		}
	}
	rc = insert_message(r, a, c.id, e, e->mid, "out",
			    own && strcmp(origin, "human") ? "ai" : "human", e->kind, e->text, did, 0,
			    0, &ins, err);
	if (rc)
		return rc;
	if (!ins) {
		if ((rc = emit_again(r, BY_MID, a, e->mid, &again, err)))
			return rc;
		return again ? outcome(r, e, a, how, &c, did, NULL, NULL)
			: outcome(r, e, a, IG_ROUTE_DUPLICATE, &c, did, NULL, "already received (same mid)");
	}
	if (!own) {
		/* the marker pauses always and escalates (DESIGN.md §6.4); a plain
		 * human reply pauses when the agent says so (pause_on_human) */
		marker = ig_webhook_has_marker(e->text);
		if (marker) {
			pause = 1;
			reason = "human marker";
		} else if (a->pause_on_human && !strcmp(c.ai, "active")) {
			pause = 1;
			reason = "human reply";
		}
	}
	if ((rc = ig_store_runf(r->st, err,
		"UPDATE conversations SET last_outbound_at = MAX(COALESCE(last_outbound_at, 0), ?),"
		" last_human_at = CASE WHEN ? THEN MAX(COALESCE(last_human_at, 0), ?) ELSE last_human_at END,"
		" ai_state = CASE WHEN ? THEN 'paused' ELSE ai_state END,"
		" ai_reason = CASE WHEN ? THEN ? ELSE ai_reason END, updated_at = ? WHERE id = ?",
		"iiiiisii", e->at ? e->at : r->now, (int64_t)!own, e->at ? e->at : r->now,
		(int64_t)pause, (int64_t)pause, reason, r->now, c.id)))
		return rc;
	if (pause) {
		strcpy(c.ai, "paused");
		ig_copy(c.reason, sizeof(c.reason), reason);
	}
	if (marker) {
		/* one open escalation per conversation is enough */
		if (ig_store_int(r->st, err, &esc, "SELECT id FROM escalations WHERE"
				 " conversation_id = ? AND status = 'open' ORDER BY id LIMIT 1", "i",
				 c.id) < 0)
			return ig_err_prefix(err, "cannot look up escalations");
		if (!esc) {
			if ((rc = ig_store_runf(r->st, err,
				"INSERT INTO escalations(tenant_id, conversation_id, reason, created_at)"
				" VALUES (?, ?, 'human marker', ?)",
				"iii", a->tenant_id, c.id, r->now)))
				return rc;
			esc = ig_store_last_id(r->st);
		}
	}
	if (e->standby && (rc = note_owner(r, &c, standby_owner(e, &c), err)))
		return rc;
	add = json_pack("{s:s}", "sender", own ? (strcmp(origin, "human") ? "ai" : "human") : "human");
	if (!own)
		json_object_set_new(add, "from_app", json_true());
	if (marker)
		json_object_set_new(add, "marker", json_true());
	if (esc)
		json_object_set_new(add, "escalation", json_integer(esc));
	if (pause)
		json_object_set_new(add, "ai_reason", json_string(reason));
	return outcome(r, e, a, how, &c, did, add, NULL);
}

static int on_delete(struct ig_route *r, struct ig_wh_event *e, struct ig_route_acct *a,
		     enum ig_route_how how, int64_t did, struct ig_err *err)
{
	struct conv c;
	int rc, ins, again;

	if ((rc = get_conv(r, a, e->participant, &c, err)))
		return rc;
	if ((rc = ig_store_runf(r->st, err,
		"UPDATE messages SET deleted = 1 WHERE account_id = ? AND mid = ? AND deleted = 0",
		"is", a->id, e->mid)))
		return rc;
	if (!ig_store_changes(r->st)) {
		/* unknown mid (the delete overtook the message, §1.3: no order
		 * guarantee): keep a deleted placeholder so the message, should it
		 * arrive later, counts as already handled */
		rc = insert_message(r, a, c.id, e, e->mid, "in", "customer", "message", NULL, did, 1,
				    0, &ins, err);
		if (rc)
			return rc;
		if (!ins) {
			if ((rc = emit_again(r, BY_MID, a, e->mid, &again, err)))
				return rc;
			if (!again)
				return outcome(r, e, a, IG_ROUTE_DUPLICATE, &c, did, NULL,
					       "already received (message already deleted)");
		}
	}
	return outcome(r, e, a, how, &c, did, NULL, NULL);
}

static int on_edit(struct ig_route *r, struct ig_wh_event *e, struct ig_route_acct *a,
		   enum ig_route_how how, int64_t did, struct ig_err *err)
{
	struct conv c;
	struct ig_stmt *s;
	int64_t msg = 0, num = ig_json_int(e->extra, "num_edit", 0);
	char *old = NULL;
	int rc, ins, fresh, again;

	if ((rc = claim_key(r, e->key, did, &fresh, err)))
		return rc;
	if (!fresh) {
		if ((rc = emit_again(r, BY_KEY, a, e->key, &again, err)))
			return rc;
		if (!again)
			return outcome(r, e, a, IG_ROUTE_DUPLICATE, NULL, did, NULL,
				       "already received (same edit)");
		if ((rc = get_conv(r, a, e->participant, &c, err)))
			return rc;
		return outcome(r, e, a, how, &c, did, NULL, NULL);
	}
	if ((rc = get_conv(r, a, e->participant, &c, err)))
		return rc;
	QUERY(s, "SELECT id, text FROM messages WHERE account_id = ? AND mid = ?", "is", a->id,
	      e->mid);
	rc = ig_stmt_next(r->st, s, err);
	if (rc == 1) {
		msg = ig_col_int(s, 0);
		if (!ig_col_null(s, 1))
			old = strdup(ig_col_text(s, 1));
		ig_stmt_reset(s);
	}
	if (rc < 0) {
		free(old);
		return ig_err_prefix(err, "cannot look up message");
	}
	if (msg) {
		rc = ig_store_runf(r->st, err,
			"UPDATE messages SET text = ?, edit_count = MAX(edit_count, ?) WHERE id = ?",
			"sii", e->text, num, msg);
	} else {
		/* the original never reached us: keep the edited text as the message */
		rc = insert_message(r, a, c.id, e, e->mid, "in", "customer", "message", e->text, did, 0,
				    num, &ins, err);
		msg = ig_store_last_id(r->st);
	}
	if (!rc) {
		/* history kept in message_edits */
		rc = ig_store_runf(r->st, err, "INSERT INTO message_edits(message_id, old_text,"
			" new_text, num_edit, at) VALUES (?, ?, ?, ?, ?)",
			"issii", msg, old, e->text, num, e->at ? e->at : r->now);
	}
	free(old);
	if (rc)
		return rc;
	return outcome(r, e, a, how, &c, did, NULL, NULL);
}

/* Reactions, reads, deliveries, opt-ins, referrals, handovers: nothing to
 * store but the key, the conversation, and what they change in it. */
static int on_signal(struct ig_route *r, struct ig_wh_event *e, struct ig_route_acct *a,
		     enum ig_route_how how, int64_t did, struct ig_err *err)
{
	struct conv c;
	int rc, fresh, again;

	if ((rc = claim_key(r, e->key, did, &fresh, err)))
		return rc;
	if (!fresh) {
		if ((rc = emit_again(r, BY_KEY, a, e->key, &again, err)))
			return rc;
		if (!again)
			return outcome(r, e, a, IG_ROUTE_DUPLICATE, NULL, did, NULL,
				       "already received (same event key)");
		if ((rc = get_conv(r, a, e->participant, &c, err)))
			return rc;
		return outcome(r, e, a, how, &c, did, NULL, NULL);
	}
	if ((rc = get_conv(r, a, e->participant, &c, err)))
		return rc;
	if (e->type == IG_WH_REFERRAL) {
		char *ref = dump_or_null(json_object_get(e->extra, "referral"));

		rc = ig_store_runf(r->st, err,
			"UPDATE conversations SET referral = ?, updated_at = ? WHERE id = ?",
			"sii", ref, r->now, c.id);
		free(ref);
		if (rc)
			return rc;
	}
	if (e->type == IG_WH_HANDOVER && (!strcmp(e->kind, "pass_thread_control")
					  || !strcmp(e->kind, "take_thread_control"))) {
		/* §2.3: the thread now belongs to new_owner_app_id; NULL when that is us */
		const char *nw = ig_json_str(e->extra, "new_owner");

		if (!nw)
			nw = !strcmp(e->kind, "take_thread_control") ? "unknown" : "";
		if ((r->app_ids[0][0] && !strcmp(nw, r->app_ids[0]))
		    || (r->app_ids[1][0] && !strcmp(nw, r->app_ids[1])))
			nw = "";
		if ((rc = note_owner(r, &c, nw, err)))
			return rc;
	} else if (e->standby && !c.owner[0]) {
		if ((rc = note_owner(r, &c, standby_owner(e, &c), err)))
			return rc;
	}
	return outcome(r, e, a, how, &c, did, NULL, NULL);
}

/* Comments, live comments, mentions, Page feed comments → comments table. */
static int on_comment(struct ig_route *r, struct ig_wh_event *e, struct ig_route_acct *a,
		      enum ig_route_how how, int64_t did, struct ig_err *err)
{
	const char *verb = ig_json_str(e->extra, "verb");
	const char *field = e->type == IG_WH_MENTION ? "mentions" : ig_json_str(e->extra, "field");
	const char *media = ig_json_str(e->extra, "media_id");
	const char *user = ig_json_str(e->extra, "username");
	int rc, fresh, again;

	if (!media)
		media = ig_json_str(e->extra, "post_id");
	if (!user)
		user = ig_json_str(e->extra, "name");
	if (verb && strcmp(verb, "add")) {
		/* edited / remove / hide / unhide of a Page comment (§2.5) */
		if ((rc = claim_key(r, e->key, did, &fresh, err)))
			return rc;
		if (!fresh) {
			if ((rc = emit_again(r, BY_KEY, a, e->key, &again, err)))
				return rc;
			return again ? outcome(r, e, a, how, NULL, did, NULL, NULL)
				: outcome(r, e, a, IG_ROUTE_DUPLICATE, NULL, did, NULL,
					  "already received (same event key)");
		}
		if (!strcmp(verb, "remove") || !strcmp(verb, "delete"))
			rc = ig_store_runf(r->st, err, "UPDATE comments SET deleted = 1"
				" WHERE account_id = ? AND comment_id = ?", "is", a->id, e->mid);
		else if (!strcmp(verb, "hide") || !strcmp(verb, "unhide"))
			rc = ig_store_runf(r->st, err, "UPDATE comments SET hidden = ?"
				" WHERE account_id = ? AND comment_id = ?",
				"iis", (int64_t)!strcmp(verb, "hide"), a->id, e->mid);
		else
			rc = ig_store_runf(r->st, err, "UPDATE comments SET text = ?"
				" WHERE account_id = ? AND comment_id = ?", "sis", e->text, a->id, e->mid);
		if (rc)
			return rc;
		if (ig_store_changes(r->st) || strcmp(verb, "edited"))
			return outcome(r, e, a, how, NULL, did, NULL, NULL);
		/* an edit of a comment we never saw: keep it as new */
	}
	if ((rc = ig_store_runf(r->st, err,
		"INSERT INTO comments(tenant_id, account_id, comment_id, field, media_id,"
		" media_product_type, parent_id, from_id, from_username, text, own, created_at,"
		" received_at, delivery_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		" ON CONFLICT(account_id, comment_id) DO NOTHING",
		"iissssssssiiiI", a->tenant_id, a->id, e->mid, field ? field : e->kind, media,
		ig_json_str(e->extra, "media_product_type"), ig_json_str(e->extra, "parent_id"),
		e->participant[0] ? e->participant : NULL, user, e->text,
		(int64_t)json_is_true(json_object_get(e->extra, "own")),
		e->at ? e->at : r->now, r->now, did)))
		return rc;
	if (!ig_store_changes(r->st)) {
		if ((rc = emit_again(r, BY_COMMENT, a, e->mid, &again, err)))
			return rc;
		return again ? outcome(r, e, a, how, NULL, did, NULL, NULL)
			: outcome(r, e, a, IG_ROUTE_DUPLICATE, NULL, did, NULL,
				  "already received (same comment id)");
	}
	return outcome(r, e, a, how, NULL, did, NULL, NULL);
}

/* The tenant a dead letter of event e belongs to, when the account it names
 * tells (0 when it does not). */
static int dead_tenant(struct ig_route *r, const struct ig_wh_delivery *d,
		       const struct ig_wh_event *e, int64_t *tenant, struct ig_err *err)
{
	struct ig_route_acct *a;
	int rc;

	*tenant = 0;
	if (!e->account[0] || !d->object)
		return 0;
	if ((rc = lookup_account(r, d->object, e->account, &a, err)))
		return rc;
	if (a->found == 1)
		*tenant = a->tenant_id;
	else if (a->page_tenant > 0)
		*tenant = a->page_tenant;
	return 0;
}

static int route_event(struct ig_route *r, const struct ig_wh_delivery *d, struct ig_wh_event *e,
		       int64_t did, struct ig_err *err)
{
	int64_t dt;
	struct ig_route_acct *a = NULL;
	enum ig_route_how how;
	char w[64], reason[600];
	int64_t dl;
	int rc, fresh;

	if (e->type == IG_WH_INVALID) {
		r->n.invalid++;
		snprintf(reason, sizeof(reason), "invalid event: %s", e->reason);
		if ((rc = dead_tenant(r, d, e, &dt, err))
		    || (rc = dead_letter(r, d, e, did, dt, reason, &dl, err)))
			return rc;
		report(r, "delivery %lld: %s (dead letter %lld)", (long long)did, reason, (long long)dl);
		return outcome(r, e, NULL, IG_ROUTE_INVALID, NULL, did, NULL, reason);
	}
	if (e->type == IG_WH_UNKNOWN) {
		/* kept and reported, never fatal */
		if ((rc = claim_key(r, e->key, did, &fresh, err)))
			return rc;
		if (!fresh)
			return outcome(r, e, NULL, IG_ROUTE_DUPLICATE, NULL, did, NULL,
				       "already received (same event key)");
		r->n.unknown++;
		snprintf(reason, sizeof(reason), "%s: %s", where(e, w, sizeof(w)), e->reason);
		if ((rc = dead_tenant(r, d, e, &dt, err))
		    || (rc = dead_letter(r, d, e, did, dt, reason, &dl, err)))
			return rc;
		report(r, "warning: delivery %lld: %s, kept as dead letter %lld", (long long)did,
		       reason, (long long)dl);
		return outcome(r, e, NULL, IG_ROUTE_KIND, NULL, did, NULL, reason);
	}
	if ((rc = lookup_account(r, d->object, e->account, &a, err)))
		return rc;
	if (a->found != 1) {
		/* Rule 3: unroutable, kept, reported, never guessed */
		if ((rc = claim_key(r, e->key, did, &fresh, err)))
			return rc;
		if (!fresh)
			return outcome(r, e, a, IG_ROUTE_DUPLICATE, NULL, did, NULL,
				       "already received (same event key; still unroutable)");
		r->n.dead++;
		if (a->found == 0 && a->page_tenant)
			snprintf(reason, sizeof(reason), "Page not connected for Messenger: Page '%s'"
				 " is connected for Instagram only", e->account);
		else if (a->found == 0)
			snprintf(reason, sizeof(reason), "unknown account '%s' (object %s)", e->account,
				 d->object);
		else
			snprintf(reason, sizeof(reason), "ambiguous account '%s': its Page is linked in"
				 " several tenants", e->account);
		if ((rc = dead_letter(r, d, e, did, a->page_tenant > 0 ? a->page_tenant : 0, reason,
				      &dl, err)))
			return rc;
		report(r, "delivery %lld: %s: unroutable %s: %s, kept as dead letter %lld",
		       (long long)did, where(e, w, sizeof(w)), ig_wh_type_name(e->type), reason,
		       (long long)dl);
		return outcome(r, e, a, a->found == 0 ? IG_ROUTE_UNKNOWN : IG_ROUTE_AMBIGUOUS, NULL,
			       did, NULL, reason);
	}
	how = !a->agent_id ? IG_ROUTE_NOAGENT : a->own_agent ? IG_ROUTE_OWN : IG_ROUTE_DEFAULT;
	switch (e->type) {
	case IG_WH_MESSAGE:
	case IG_WH_POSTBACK:
		return on_inbound(r, d, e, a, how, did, err);
	case IG_WH_ECHO:
		return on_echo(r, e, a, how, did, err);
	case IG_WH_DELETE:
		return on_delete(r, e, a, how, did, err);
	case IG_WH_EDIT:
		return on_edit(r, e, a, how, did, err);
	case IG_WH_COMMENT:
	case IG_WH_MENTION:
		return on_comment(r, e, a, how, did, err);
	case IG_WH_FEED:
	case IG_WH_INSIGHTS:
		if ((rc = claim_key(r, e->key, did, &fresh, err)))
			return rc;
		if (!fresh && (rc = emit_again(r, BY_KEY, a, e->key, &fresh, err)))
			return rc;
		return outcome(r, e, a, fresh ? how : IG_ROUTE_DUPLICATE, NULL, did, NULL,
			       fresh ? NULL : "already received (same event key)");
	default:
		return on_signal(r, e, a, how, did, err);
	}
}

/* ------------------------------------------------------------ deliveries */

int ig_route_delivery(struct ig_route *r, int64_t did, const char *stored,
		      struct ig_wh_delivery *d, struct ig_err *err)
{
	size_t out_len = r->out.len, rep_len = r->report.len, nreemit = r->nreemit, i;
	struct ig_route_counts saved = r->n;
	const char *status;
	int rc, j;

	for (j = 0; j < r->nacct; j++)
		r->acct[j].pmsg = r->acct[j].pusers = 0;
	r->ndead = 0;
	/* a savepoint copies every page it touches first to a sub-journal:
	 * several pages per delivery, most of a batch's work when routing is
	 * cheap.  The optimistic mode skips it and redoes the batch on failure. */
	if (!r->optimistic && (rc = ig_store_runf(r->st, err, "SAVEPOINT route_delivery", "")))
		return rc;
	for (i = 0; i < d->n; i++)
		if ((rc = route_event(r, d, &d->ev[i], did, err)))
			goto fail;
	status = r->ndead ? "partial" : "processed";
	if (did && !r->replay && strcmp(status, stored)) {
		if ((rc = ig_store_runf(r->st, err, "UPDATE deliveries SET status = ?, error = NULL"
					" WHERE id = ?", "si", status, did)))
			goto fail;
	}
	if (!r->optimistic && (rc = ig_store_runf(r->st, err, "RELEASE route_delivery", "")))
		goto fail;
	for (j = 0; j < r->nacct; j++) {
		r->acct[j].dmsg += r->acct[j].pmsg;
		r->acct[j].dusers += r->acct[j].pusers;
		r->acct[j].pmsg = r->acct[j].pusers = 0;
	}
	return 0;
fail:
	if (r->optimistic)
		return rc;      /* the caller rolls the batch back */
	/* undo this delivery's routing only; the raw row stays 'received' */
	ig_store_runf(r->st, NULL, "ROLLBACK TO route_delivery", "");
	ig_store_runf(r->st, NULL, "RELEASE route_delivery", "");
	for (j = 0; j < r->nacct; j++)
		r->acct[j].pmsg = r->acct[j].pusers = 0;
	r->out.len = out_len;
	r->nreemit = nreemit;   /* what it emitted again is not printed */
	if (r->out.data)
		r->out.data[out_len] = '\0';
	r->report.len = rep_len;
	if (r->report.data)
		r->report.data[rep_len] = '\0';
	r->n = saved;
	r->n.failed++;
	if (did && !r->replay)   /* stored before the savepoint: mark it unrouted (best effort) */
		ig_store_runf(r->st, NULL, "UPDATE deliveries SET status = 'received', error = ?"
			      " WHERE id = ?", "si", err ? err->msg : "routing failed", did);
	return rc;
}

int ig_route_explain(struct ig_route *r, struct ig_wh_delivery *d, struct ig_err *err)
{
	int rc;

	if (!r->rows && !(r->rows = json_array()))
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	if ((rc = ig_route_begin(r, err)))
		return rc;
	r->explain = 1;
	r->explain_base = json_array_size(r->rows);
	rc = ig_route_delivery(r, 0, "processed", d, err);
	r->explain = 0;
	ig_route_abort(r);
	return rc;
}

int ig_route_load_delivery(struct ig_route *r, int64_t id, char **body, size_t *len,
			   struct ig_err *err)
{
	struct ig_stmt *s;
	int rc;

	*body = NULL;
	*len = 0;
	QUERY(s, "SELECT body FROM deliveries WHERE id = ?", "i", id);
	rc = ig_stmt_next(r->st, s, err);
	if (rc == 1) {
		const void *blob = ig_col_blob(s, 0, len);

		*body = malloc(*len + 1);
		if (*body) {
			if (*len)
				memcpy(*body, blob, *len);
			(*body)[*len] = '\0';
		}
		ig_stmt_reset(s);
	}
	if (rc < 0)
		return ig_err_prefix(err, "cannot read delivery");
	if (rc == 0)
		return ig_err_set(err, IG_EX_DATAERR, "no delivery %lld", (long long)id);
	if (!*body)
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	return 0;
}

/* ------------------------------------------------------------ replay */

struct pending_row {
	int64_t id, delivery;
	char *blob;
	size_t len;
};

static void free_rows(struct pending_row *rows, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(rows[i].blob);
}

/* End one replay batch: abort on failure, roll back a dry run, else commit;
 * then (dry run too) let the caller print what the batch emitted. */
static int replay_batch_end(struct ig_route *r, int rc, int dry_run, struct ig_err *err)
{
	if (rc) {
		ig_route_abort(r);
		return rc;
	}
	if (dry_run)
		ig_route_abort(r);
	else if ((rc = ig_route_commit(r, err)))
		return rc;
	if (r->on_commit && (rc = r->on_commit(r, r->arg)))
		return ig_err_set(err, rc, "cannot write to stdout");
	return 0;
}

#define REPLAY_BATCH 200

/* Begin a replay batch and read up to REPLAY_BATCH rows (id, delivery,
 * blob) of sql (bound: after, id, id); the rows are copied out, so the table
 * may change while we work on them.  On failure nothing is left open. */
static int fetch_rows(struct ig_route *r, const char *sql, int64_t after, int64_t id,
		      struct pending_row *rows, int *n, struct ig_err *err)
{
	struct ig_stmt *s;
	int rc = 0;

	*n = 0;
	if ((rc = ig_route_begin(r, err)))
		return rc;
	if (!(s = ig_store_query(r->st, err, sql, "iii", after, id, id))) {
		ig_route_abort(r);
		return err ? err->code : IG_EX_SOFTWARE;
	}
	while (*n < REPLAY_BATCH && (rc = ig_stmt_next(r->st, s, err)) == 1) {
		struct pending_row *p = &rows[*n];
		const void *blob = ig_col_blob(s, 2, &p->len);

		p->id = ig_col_int(s, 0);
		p->delivery = ig_col_int(s, 1);
		p->blob = malloc(p->len + 1);
		if (!p->blob) {
			ig_stmt_reset(s);
			free_rows(rows, *n);
			ig_route_abort(r);
			return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
		}
		if (p->len)
			memcpy(p->blob, blob, p->len);
		p->blob[p->len] = '\0';
		(*n)++;
	}
	if (rc == 1)
		ig_stmt_reset(s);
	if (rc < 0) {
		free_rows(rows, *n);
		ig_route_abort(r);
		return ig_err_prefix(err, "cannot read the store");
	}
	return 0;
}

int ig_route_replay_dead(struct ig_route *r, int64_t id, int dry_run, long *replayed,
			 long *still, struct ig_err *err)
{
	struct pending_row rows[REPLAY_BATCH];
	int64_t after = 0;
	int n, i, rc;

	*replayed = *still = 0;
	do {
		if ((rc = fetch_rows(r, "SELECT id, delivery_id, raw FROM dead_letters"
			" WHERE status = 'open' AND source = 'ig-route' AND id > ? AND (? = 0 OR id = ?)"
			" ORDER BY id LIMIT 200", after, id, rows, &n, err)))
			return rc;
		for (i = 0; i < n; i++) {
			struct ig_wh_delivery d;
			struct ig_err perr = { 0 };

			after = rows[i].id;
			if (ig_webhook_parse(&d, rows[i].blob, rows[i].len, &perr) || d.n != 1) {
				report(r, "dead letter %lld: cannot replay: %s", (long long)rows[i].id,
				       perr.msg[0] ? perr.msg : "not a single event");
				ig_webhook_release(&d);
				(*still)++;
				continue;
			}
			r->replay = 1;
			r->replay_id = rows[i].id;
			if (d.ev[0].key)
				rc = ig_store_runf(r->st, err, "DELETE FROM event_keys WHERE key = ?",
						   "s", d.ev[0].key);
			if (!rc)
				rc = ig_route_delivery(r, rows[i].delivery, "processed", &d, err);
			r->replay = 0;
			ig_webhook_release(&d);
			if (rc)
				break;
			if (r->last_outcome <= IG_ROUTE_NOAGENT || r->last_outcome == IG_ROUTE_DUPLICATE) {
				if ((rc = ig_store_runf(r->st, err, "UPDATE dead_letters SET status = 'replayed',"
						" updated_at = ? WHERE id = ?", "ii", r->now, rows[i].id)))
					break;
				/* a partial delivery whose last dead letter is replayed is whole */
				if ((rc = ig_store_runf(r->st, err, "UPDATE deliveries SET status = 'processed'"
						" WHERE id = ? AND status = 'partial' AND NOT EXISTS (SELECT 1"
						" FROM dead_letters WHERE delivery_id = ? AND status = 'open')",
						"ii", rows[i].delivery, rows[i].delivery)))
					break;
				(*replayed)++;
			} else {
				(*still)++;
			}
		}
		free_rows(rows, n);
		if ((rc = replay_batch_end(r, rc, dry_run, err)))
			return rc;
	} while (n == REPLAY_BATCH);
	return 0;
}

int ig_route_replay_deliveries(struct ig_route *r, int64_t id, int dry_run, long *done,
			       struct ig_err *err)
{
	struct pending_row rows[REPLAY_BATCH];
	int64_t after = 0;
	int n, i, rc = 0;

	*done = 0;
	do {
		if ((rc = fetch_rows(r, "SELECT id, id, body FROM deliveries WHERE status = 'received'"
			" AND id > ? AND (? = 0 OR id = ?) ORDER BY id LIMIT 200", after, id, rows, &n,
			err)))
			return rc;
		for (i = 0; i < n; i++) {
			struct ig_wh_delivery d;
			struct ig_err perr = { 0 };

			after = rows[i].id;
			if (ig_webhook_parse(&d, rows[i].blob, rows[i].len, &perr)) {
				/* cannot happen for a row that was accepted, unless the
				 * body was altered in the store: reject it for good */
				if ((rc = ig_store_runf(r->st, err, "UPDATE deliveries SET status = 'rejected',"
						" error = ? WHERE id = ?", "si", perr.msg, rows[i].id)))
					break;
				report(r, "delivery %lld: %s (now rejected)", (long long)rows[i].id, perr.msg);
				r->n.rejected++;
				continue;
			}
			rc = ig_route_delivery(r, rows[i].id, "received", &d, err);
			ig_webhook_release(&d);
			if (rc) {
				report(r, "delivery %lld: routing failed: %s", (long long)rows[i].id,
				       err ? err->msg : "?");
				rc = 0;
				continue;
			}
			(*done)++;
		}
		free_rows(rows, n);
		if ((rc = replay_batch_end(r, rc, dry_run, err)))
			return rc;
	} while (n == REPLAY_BATCH);
	return 0;
}

/* ------------------------------------------------------------ listing */

int ig_route_dead_list(struct ig_store *st, const char *status, int64_t tenant_id, long limit,
		       json_t **rows, struct ig_err *err)
{
	struct ig_stmt *s;
	int rc = -1;

	if (!(*rows = json_array()))
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	s = ig_store_query(st, err, "SELECT d.id, d.created_at, d.status, d.source, d.reason,"
		" d.account_ref, d.delivery_id, t.slug, d.raw FROM dead_letters d"
		" LEFT JOIN tenants t ON t.id = d.tenant_id"
		" WHERE (? IS NULL OR d.status = ?) AND (? = 0 OR d.tenant_id = ?)"
		" ORDER BY d.id LIMIT ?", "ssiii", status, status, tenant_id, tenant_id,
		limit > 0 ? (int64_t)limit : (int64_t)-1);
	while (s && (rc = ig_stmt_next(st, s, err)) == 1) {
		char iso[24];
		json_t *o = json_object(), *raw;
		size_t n;
		const char *blob = ig_col_blob(s, 8, &n);

		json_object_set_new(o, "id", json_integer(ig_col_int(s, 0)));
		json_object_set_new(o, "created", json_string(ig_time_iso(ig_col_int(s, 1), iso)));
		json_object_set_new(o, "status", json_string(ig_col_text(s, 2)));
		json_object_set_new(o, "source", json_string(ig_col_text(s, 3)));
		json_object_set_new(o, "reason", json_string(ig_col_text(s, 4)));
		json_object_set_new(o, "account", ig_col_null(s, 5) ? json_null()
				    : json_string(ig_col_text(s, 5)));
		json_object_set_new(o, "delivery", ig_col_null(s, 6) ? json_null()
				    : json_integer(ig_col_int(s, 6)));
		json_object_set_new(o, "tenant", ig_col_null(s, 7) ? json_null()
				    : json_string(ig_col_text(s, 7)));
		/* raw: the JSON itself when it is JSON, else the bytes as text */
		raw = blob ? json_loadb(blob, n, 0, NULL) : NULL;
		if (!raw)
			raw = json_stringn(blob ? blob : "", blob ? n : 0);  /* NULL: not UTF-8 */
		json_object_set_new(o, "raw", raw ? raw : json_null());
		json_array_append_new(*rows, o);
	}
	if (rc < 0) {
		json_decref(*rows);
		*rows = NULL;
		return ig_err_prefix(err, "cannot list dead letters");
	}
	return 0;
}
