/*
 * tenant-admin — administer igkit's tenants: the store and master key
 * (init), tenants, users, memberships and roles, agents, locations, API
 * keys, the audit log, GDPR export and erasure.  See tenant-admin(1).
 *
 * Reads:  arguments; JSON Lines records on stdin (or a file) where a name
 *         is given as '-', and for 'onboard'.
 * Writes: JSON Lines on stdout (or --format table|csv for records and
 *         listings), one JSON document for 'export'; diagnostics on stderr.
 * Exit:   0 ok; 64 usage; 65 bad or unknown input, or some record of a
 *         stream failed; 66 store or input file missing; 70 internal;
 *         73/74 cannot create / I/O error; 75 store busy; 77 permission
 *         denied; 78 configuration (e.g. a store newer than this program).
 *
 * The domain logic (checks, SQL, permissions, audit) is in lib/tenant.c,
 * user.c, member.c, agent.c, location.c, apikey.c and gdpr.c; this file
 * parses, dispatches and maps results to exit codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "apikey.h"
#include "authz.h"
#include "common.h"
#include "gdpr.h"
#include "igtime.h"
#include "jsonio.h"
#include "location.h"
#include "member.h"
#include "record.h"
#include "tenant.h"
#include "user.h"

enum {
	OPT_NAME = OPT_PROGRAM, OPT_YES, OPT_SUPER_ADMIN, OPT_ROLE,
	OPT_DISPLAY_NAME, OPT_PERSONALITY, OPT_INSTRUCTIONS, OPT_BUSINESS_NAME,
	OPT_LANGUAGE, OPT_BOOKING, OPT_ENGINE, OPT_MODEL, OPT_DEBOUNCE,
	OPT_PAUSE_ON_HUMAN, OPT_ACTIVE, OPT_NEW_DEFAULT, OPT_TIMEZONE, OPT_HOURS,
	OPT_CONTEXT, OPT_ACTOR, OPT_ACTION, OPT_SINCE, OPT_LIMIT, OPT_PARTICIPANT
};

static void check_yes_no(const char *opt, const char *v);
static void check_since(const char *opt, const char *v);
static void check_limit(const char *opt, const char *v);

static const struct cmd_optdef opts[] = {
	{ "name", required_argument, OPT_NAME, "NAME",
	  "a tenant's or user's display name; a key's label (\"ci\", \"crm-sync\")", NULL },
	{ "yes", no_argument, OPT_YES, NULL, "confirm a deletion or erasure", NULL },
	{ "super-admin", no_argument, OPT_SUPER_ADMIN, NULL,
	  "user add: the user may hold a super-admin key; key create: a key without tenant", NULL },
	{ "role", required_argument, OPT_ROLE, "ROLE", "org_admin, marketer, sales or viewer", NULL },
	{ "display-name", required_argument, OPT_DISPLAY_NAME, "TEXT",
	  "the name customers see (\"Marco\")", NULL },
	{ "personality", required_argument, OPT_PERSONALITY, "TEXT",
	  "tone and character of the replies", NULL },
	{ "instructions", required_argument, OPT_INSTRUCTIONS, "TEXT",
	  "what the agent must and must not do", NULL },
	{ "business-name", required_argument, OPT_BUSINESS_NAME, "TEXT",
	  "the business the agent speaks for", NULL },
	{ "language", required_argument, OPT_LANGUAGE, "CODE",
	  "reply language, e.g. en, it, pt-BR (default en)", NULL },
	{ "booking", required_argument, OPT_BOOKING, "yes|no",
	  "the agent may take bookings (default no)", check_yes_no },
	{ "engine", required_argument, OPT_ENGINE, "kb|openai", "reply engine (default kb)", NULL },
	{ "model", required_argument, OPT_MODEL, "NAME", "model for the openai engine", NULL },
	{ "debounce", required_argument, OPT_DEBOUNCE, "SECONDS",
	  "wait this long after the last message (30, 2m)", NULL },
	{ "pause-on-human", required_argument, OPT_PAUSE_ON_HUMAN, "yes|no",
	  "pause the AI when a human replies (default yes)", check_yes_no },
	{ "active", required_argument, OPT_ACTIVE, "yes|no",
	  "the agent answers at all (default yes)", check_yes_no },
	{ "new-default", required_argument, OPT_NEW_DEFAULT, "NAME",
	  "when deleting the default agent, its successor", NULL },
	{ "timezone", required_argument, OPT_TIMEZONE, "ZONE",
	  "IANA time zone, e.g. Europe/Rome (default UTC)", NULL },
	{ "hours", required_argument, OPT_HOURS, "TEXT", "opening hours, free text", NULL },
	{ "context", required_argument, OPT_CONTEXT, "TEXT",
	  "what the AI should know about this place", NULL },
	{ "actor", required_argument, OPT_ACTOR, "TEXT",
	  "rows whose actor contains TEXT (\"owner\", an e-mail)", NULL },
	{ "action", required_argument, OPT_ACTION, "NAME",
	  "this action, or a prefix ending in '*' (\"agent.*\")", NULL },
	{ "since", required_argument, OPT_SINCE, "TIME",
	  "ISO-8601 time, Unix seconds, or an age (24h, 7d)", check_since },
	{ "limit", required_argument, OPT_LIMIT, "N", "at most N rows", check_limit },
	{ "participant", required_argument, OPT_PARTICIPANT, "ID", "the customer (IGSID/PSID)", NULL },
	{ "dry-run", no_argument, OPT_DRY_RUN, NULL, "onboard, erase: report what would change, change nothing", NULL },
	{ 0 }
};

/* ------------------------------------------------------------ output */

static int out_row(void *arg, const json_t *row)
{
	return ig_out_row(arg, row) ? IG_EX_IOERR : 0;
}

static int out_finish(struct ig_out *out, int rc)
{
	if (ig_out_finish(out) && !rc) {
		warn("cannot write to stdout:");
		return IG_EX_IOERR;
	}
	return rc;
}

/* One record in the chosen format; table and csv show all its fields. */
static int emit(struct cmd_run *r, const json_t *rec)
{
	const char *cols[64];
	struct ig_out out;
	const char *k;
	json_t *v;
	int n = 0;

	json_object_foreach((json_t *)rec, k, v)
		if (n < 63)
			cols[n++] = k;
	cols[n] = NULL;
	ig_out_init(&out, stdout, r->o.format, cols);
	return out_finish(&out, out_row(&out, rec));
}

static int fail(struct ig_err *err)
{
	warn_err(err);
	return err->code ? err->code : IG_EX_SOFTWARE;
}

/* Emit a lib result, or report its error. */
static int result(struct cmd_run *r, int rc, json_t *rec, struct ig_err *err)
{
	if (rc)
		return fail(err);
	rc = emit(r, rec);
	json_decref(rec);
	return rc;
}

static int listing(struct cmd_run *r, const char *const *cols,
		   int (*fn)(struct ig_ctx *, const char *, ig_row_fn *, void *, struct ig_err *))
{
	struct ig_err err = { 0 };
	struct ig_out out;
	int rc;

	ig_out_init(&out, stdout, r->o.format, cols);
	rc = fn(&r->ctx, r->o.tenant, out_row, &out, &err);
	if (rc == IG_EX_IOERR && !err.code) {
		ig_out_finish(&out);
		warn("cannot write to stdout:");
		return rc;
	}
	if (rc) {
		ig_out_finish(&out);
		return fail(&err);
	}
	return out_finish(&out, 0);
}

static void json_only(struct cmd_run *r)
{
	if (r->o.format != IG_FMT_JSON)
		usage_error("%s writes JSON only; --format does not apply", r->what);
}

/* ------------------------------------------------------------ streams */

typedef int apply_fn(struct cmd_run *r, const json_t *rec, json_t **out, struct ig_err *err);

/* Failures that are not the record's fault set the exit status (the first
 * one seen); all others make it 65. */
static int environmental(int code)
{
	return code == IG_EX_NOPERM || code == IG_EX_TEMPFAIL || code == IG_EX_IOERR
	       || code == IG_EX_CANTCREAT || code == IG_EX_SOFTWARE;
}

static void line_failed(long line, const char *name, const char *msg, int code, int *status)
{
	char prefix[96];
	json_t *o;
	size_t n;

	n = (size_t)snprintf(prefix, sizeof(prefix), "%s:%ld: ", name, line);
	if (!strncmp(msg, prefix, n))
		msg += n;
	warn("%s%s", prefix, msg);
	o = json_pack("{s:I,s:s,s:s}", "line", (json_int_t)line, "status", "failed", "error", msg);
	if (o)
		cmd_emit(o);
	json_decref(o);
	if (environmental(code) && !environmental(*status))
		*status = code;
	else if (!*status)
		*status = IG_EX_DATAERR;
}

/* Apply one JSON record per line of f; each line is its own transaction
 * (the lib functions), reported as it goes; the run never stops early
 * except on a read error. */
static int stream(struct cmd_run *r, FILE *f, const char *name, apply_fn *apply)
{
	struct ig_jsonl_reader rd;
	struct ig_err err = { 0 };
	long total = 0, failed = 0;
	int status = 0, n, rc;
	json_t *rec, *res;

	ig_jsonl_reader_init(&rd, f, name, 0);
	while ((n = ig_jsonl_next(&rd, &rec, &err)) != 0) {
		if (n < 0) {
			warn_err(&err);
			status = IG_EX_IOERR;
			break;
		}
		total++;
		if (!rec) {
			failed++;
			line_failed(rd.line, name, err.msg, IG_EX_DATAERR, &status);
			continue;
		}
		res = NULL;
		ig_err_clear(&err);
		rc = apply(r, rec, &res, &err);
		json_decref(rec);
		if (rc) {
			failed++;
			line_failed(rd.line, name, err.msg, rc, &status);
			continue;
		}
		rec = json_pack("{s:I,s:s}", "line", (json_int_t)rd.line, "status",
				json_is_string(json_object_get(res, "status"))
				? json_string_value(json_object_get(res, "status")) : "created");
		if (rec && json_object_get(res, "kind"))
			json_object_set(rec, "kind", json_object_get(res, "kind"));
		if (!rec || json_object_update_missing(rec, res)) {
			ig_apikey_wipe(res);
			json_decref(res);
			json_decref(rec);
			ig_jsonl_reader_release(&rd);
			die(IG_EX_SOFTWARE, "out of memory");
		}
		cmd_emit(rec);
		ig_apikey_wipe(rec);
		ig_apikey_wipe(res);
		json_decref(rec);
		json_decref(res);
	}
	ig_jsonl_reader_release(&rd);
	if (failed && !cmd_quiet)
		warn("%ld of %ld records failed", failed, total);
	return status;
}

/* "NAME" given as '-': the records come from stdin and carry their own
 * fields, so field options would be ambiguous. */
static int stdin_only(struct cmd_run *r, apply_fn *apply)
{
	const struct cmd_optdef *d;

	for (d = opts; d->name; d++)
		if (cmd_val(r, d->id))
			usage_error("%s -: the records carry their fields; --%s does not apply",
				    r->what, d->name);
	cmd_stdin_hint("JSON Lines records");
	return stream(r, stdin, "stdin", apply);
}

/* ------------------------------------------------------------ record building */

/* 1 yes, 0 no, -1 neither. */
static int yes_no(const char *v)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
		return 1;
	if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
		return 0;
	return -1;
}

static void check_yes_no(const char *opt, const char *v)
{
	if (yes_no(v) < 0)
		usage_error("--%s takes yes or no, not '%s'", opt, v);
}

/* --since: an age ("24h") counts back from now; a bare number is a time. */
static int since_value(const char *since, int64_t *out)
{
	size_t n = strlen(since);
	int64_t d;

	if (n && strchr("smhd", since[n - 1]) && !ig_duration_parse(since, &d)) {
		*out = ig_time_now() - d;
		return 0;
	}
	return ig_time_parse(since, out);
}

static void check_since(const char *opt, const char *v)
{
	int64_t t;

	if (since_value(v, &t))
		usage_error("--%s takes an ISO-8601 time, Unix seconds or an age like 24h, not '%s'",
			    opt, v);
}

static void check_limit(const char *opt, const char *v)
{
	char name[32];

	snprintf(name, sizeof(name), "--%s", opt);
	cmd_number(name, v, 1, 1000000000);
}

static const struct { int opt; const char *key; int flag; } fields[] = {
	{ OPT_DISPLAY_NAME, "display_name", 0 }, { OPT_PERSONALITY, "personality", 0 },
	{ OPT_INSTRUCTIONS, "instructions", 0 }, { OPT_BUSINESS_NAME, "business_name", 0 },
	{ OPT_LANGUAGE, "language", 0 }, { OPT_BOOKING, "booking", 1 },
	{ OPT_ENGINE, "engine", 0 }, { OPT_MODEL, "model", 0 }, { OPT_DEBOUNCE, "debounce", 0 },
	{ OPT_PAUSE_ON_HUMAN, "pause_on_human", 1 }, { OPT_ACTIVE, "active", 1 },
	{ OPT_TIMEZONE, "timezone", 0 }, { OPT_HOURS, "hours", 0 }, { OPT_CONTEXT, "context", 0 },
};

/* A record from the field options given, plus key → value (may be NULL). */
static json_t *record(struct cmd_run *r, const char *key, const char *value)
{
	json_t *rec = json_object();
	size_t i;

	if (!rec)
		die(IG_EX_SOFTWARE, "out of memory");
	if (key && value)
		json_object_set_new(rec, key, json_string(value));
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = cmd_val(r, fields[i].opt);

		if (!v)
			continue;
		json_object_set_new(rec, fields[i].key, fields[i].flag
			? json_boolean(yes_no(v) == 1) : json_string(v));
	}
	return rec;
}

/* ------------------------------------------------------------ init, onboard */

static int do_init(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *rep;
	int rc;

	rc = ig_tenant_setup(&r->ctx, &rep, &err);
	return result(r, rc, rep, &err);
}

/* One onboarding run (dry or not) across the stream's records. */
static struct ig_onboard onboard_run;

static int apply_onboard(struct cmd_run *r, const json_t *rec, json_t **out, struct ig_err *err)
{
	return ig_tenant_onboard_run(&r->ctx, &onboard_run, rec, r->o.tenant, out, err);
}

static int do_onboard(struct cmd_run *r)
{
	const char *path = r->narg ? r->arg[0] : "-";
	FILE *f;
	int rc;

	onboard_run.dry_run = cmd_val(r, OPT_DRY_RUN) != NULL;
	if (!strcmp(path, "-")) {
		cmd_stdin_hint("JSON Lines records");
		rc = stream(r, stdin, "stdin", apply_onboard);
	} else {
		if (!(f = fopen(path, "r")))
			die(IG_EX_NOINPUT, "cannot open '%s':", path);
		rc = stream(r, f, path, apply_onboard);
		fclose(f);
	}
	ig_tenant_onboard_end(&r->ctx, &onboard_run);
	return rc;
}

/* ------------------------------------------------------------ tenant */

static const char *const tenant_cols[] = {
	"tenant", "name", "users", "agents", "locations", "accounts", "default_agent",
	"created_at", NULL
};

static int apply_tenant(struct cmd_run *r, const json_t *rec, json_t **out, struct ig_err *err)
{
	return ig_tenant_create(&r->ctx, rec, out, err);
}

static int do_tenant_create(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *rec, *res;
	int rc;

	if (!strcmp(r->arg[0], "-"))
		return stdin_only(r, apply_tenant);
	rec = json_pack("{s:s,s:s?}", "tenant", r->arg[0], "name", cmd_val(r, OPT_NAME));
	rc = ig_tenant_create(&r->ctx, rec, &res, &err);
	json_decref(rec);
	return result(r, rc, res, &err);
}

static int tenant_list_fn(struct ig_ctx *ctx, const char *t, ig_row_fn *fn, void *arg,
			  struct ig_err *err)
{
	(void)t;
	return ig_tenant_list(ctx, fn, arg, err);
}

static int do_tenant_list(struct cmd_run *r)
{
	return listing(r, tenant_cols, tenant_list_fn);
}

static int do_tenant_show(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_tenant_show(&r->ctx, r->narg ? r->arg[0] : r->o.tenant, &res, &err);

	return result(r, rc, res, &err);
}

static int do_tenant_rename(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc;

	if (r->narg < 2 && !cmd_val(r, OPT_NAME))
		usage_error("tenant rename: give a NEW-SLUG, --name NAME, or both");
	rc = ig_tenant_rename(&r->ctx, r->arg[0], r->narg > 1 ? r->arg[1] : NULL,
			      cmd_val(r, OPT_NAME), &res, &err);
	return result(r, rc, res, &err);
}

static int do_tenant_delete(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc;

	if (!cmd_val(r, OPT_YES))
		usage_error("tenant delete removes everything tenant '%s' owns; add --yes to confirm",
			    r->arg[0]);
	rc = ig_tenant_delete(&r->ctx, r->arg[0], &res, &err);
	return result(r, rc, res, &err);
}

/* ------------------------------------------------------------ user, member */

static const char *const member_cols[] = { "user", "name", "role", "joined_at", NULL };
static const char *const user_cols[] = { "user", "name", "super_admin", "tenants", "created_at", NULL };

static int apply_user(struct cmd_run *r, const json_t *rec, json_t **out, struct ig_err *err)
{
	return ig_user_add(&r->ctx, rec, 0, r->o.tenant, out, err);
}

static int do_user_add(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *rec, *res;
	int rc;

	if (!strcmp(r->arg[0], "-"))
		return stdin_only(r, apply_user);
	rec = json_pack("{s:s,s:s?,s:s?}", "user", r->arg[0], "name", cmd_val(r, OPT_NAME),
			"role", cmd_val(r, OPT_ROLE));
	if (cmd_val(r, OPT_SUPER_ADMIN))
		json_object_set_new(rec, "super_admin", json_true());
	rc = ig_user_add(&r->ctx, rec, 0, r->o.tenant, &res, &err);
	json_decref(rec);
	return result(r, rc, res, &err);
}

static int do_user_list(struct cmd_run *r)
{
	int all = !r->o.tenant && !r->ctx.actor.tenant_id;

	return listing(r, all ? user_cols : member_cols, ig_user_list);
}

static int do_user_remove(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_user_remove(&r->ctx, r->arg[0], &res, &err);

	return result(r, rc, res, &err);
}

static int apply_member(struct cmd_run *r, const json_t *rec, json_t **out, struct ig_err *err)
{
	return ig_member_grant(&r->ctx, rec, r->o.tenant, out, err);
}

static int do_member_grant(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *rec, *res;
	int rc;

	if (!strcmp(r->arg[0], "-"))
		return stdin_only(r, apply_member);
	if (!cmd_val(r, OPT_ROLE))
		usage_error("member grant: which role? give --role ROLE");
	rec = json_pack("{s:s,s:s}", "user", r->arg[0], "role", cmd_val(r, OPT_ROLE));
	rc = ig_member_grant(&r->ctx, rec, r->o.tenant, &res, &err);
	json_decref(rec);
	return result(r, rc, res, &err);
}

static int do_member_revoke(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_member_revoke(&r->ctx, r->o.tenant, r->arg[0], &res, &err);

	return result(r, rc, res, &err);
}

/* ------------------------------------------------------------ agent, location */

static const char *const agent_cols[] = {
	"agent", "display_name", "default", "active", "engine", "model", "language", "booking",
	"debounce", "pause_on_human", "accounts", NULL
};
static const char *const location_cols[] = {
	"location", "timezone", "hours", "context", "accounts", NULL
};

static int apply_agent(struct cmd_run *r, const json_t *rec, json_t **out, struct ig_err *err)
{
	return ig_agent_create(&r->ctx, rec, r->o.tenant, out, err);
}

static int do_agent_create(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *rec, *res;
	int rc;

	if (!strcmp(r->arg[0], "-"))
		return stdin_only(r, apply_agent);
	rec = record(r, "agent", r->arg[0]);
	rc = ig_agent_create(&r->ctx, rec, r->o.tenant, &res, &err);
	json_decref(rec);
	return result(r, rc, res, &err);
}

static int do_agent_list(struct cmd_run *r)
{
	return listing(r, agent_cols, ig_agent_list);
}

static int do_agent_show(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_agent_show(&r->ctx, r->o.tenant, r->arg[0], &res, &err);

	return result(r, rc, res, &err);
}

static int do_agent_update(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *rec = record(r, NULL, NULL), *res;
	int rc;

	if (!json_object_size(rec))
		usage_error("agent update: nothing to change; give at least one field option");
	rc = ig_agent_update(&r->ctx, r->o.tenant, r->arg[0], rec, &res, &err);
	json_decref(rec);
	return result(r, rc, res, &err);
}

static int do_agent_delete(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_agent_delete(&r->ctx, r->o.tenant, r->arg[0], cmd_val(r, OPT_NEW_DEFAULT), &res, &err);

	return result(r, rc, res, &err);
}

static int do_agent_set_default(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_agent_set_default(&r->ctx, r->o.tenant, r->arg[0], &res, &err);

	return result(r, rc, res, &err);
}

static int apply_location(struct cmd_run *r, const json_t *rec, json_t **out, struct ig_err *err)
{
	return ig_location_create(&r->ctx, rec, r->o.tenant, out, err);
}

static int do_location_create(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *rec, *res;
	int rc;

	if (!strcmp(r->arg[0], "-"))
		return stdin_only(r, apply_location);
	rec = record(r, "location", r->arg[0]);
	rc = ig_location_create(&r->ctx, rec, r->o.tenant, &res, &err);
	json_decref(rec);
	return result(r, rc, res, &err);
}

static int do_location_list(struct cmd_run *r)
{
	return listing(r, location_cols, ig_location_list);
}

static int do_location_show(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_location_show(&r->ctx, r->o.tenant, r->arg[0], &res, &err);

	return result(r, rc, res, &err);
}

static int do_location_update(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *rec = record(r, NULL, NULL), *res;
	int rc;

	if (!json_object_size(rec))
		usage_error("location update: nothing to change; give at least one field option");
	rc = ig_location_update(&r->ctx, r->o.tenant, r->arg[0], rec, &res, &err);
	json_decref(rec);
	return result(r, rc, res, &err);
}

static int do_location_delete(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_location_delete(&r->ctx, r->o.tenant, r->arg[0], &res, &err);

	return result(r, rc, res, &err);
}

/* ------------------------------------------------------------ key */

static const char *const key_cols[] = {
	"prefix", "tenant", "user", "role", "api_key", "status", "created_at", "last_used_at",
	"revoked_at", NULL
};

static int do_key_create(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *rec, *res = NULL;
	int rc, super = cmd_val(r, OPT_SUPER_ADMIN) != NULL;

	if (super && r->o.tenant)
		usage_error("key create: a super-admin key has no tenant; drop --tenant");
	rec = json_pack("{s:s,s:s}", "user", r->arg[0], "api_key",
			cmd_val(r, OPT_NAME) ? cmd_val(r, OPT_NAME) : "");
	rc = ig_apikey_create(&r->ctx, rec, r->o.tenant, super, &res, &err);
	json_decref(rec);
	if (rc)
		return fail(&err);
	rc = emit(r, res);
	ig_apikey_wipe(res);
	json_decref(res);
	if (!rc && !cmd_quiet)
		warn("store the key now: it is shown only this once");
	return rc;
}

static int do_key_list(struct cmd_run *r)
{
	return listing(r, key_cols, ig_apikey_list);
}

static int do_key_revoke(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_apikey_revoke(&r->ctx, r->arg[0], &res, &err);

	return result(r, rc, res, &err);
}

/* ------------------------------------------------------------ audit, export, erase */

static const char *const audit_cols[] = {
	"at", "tenant", "actor", "action", "target", "outcome", "detail", NULL
};

static int do_audit(struct cmd_run *r)
{
	struct ig_audit_filter f = { r->o.tenant, cmd_val(r, OPT_ACTOR), cmd_val(r, OPT_ACTION), 0, 0 };
	struct ig_err err = { 0 };
	struct ig_out out;
	int rc;

	if (cmd_val(r, OPT_SINCE))
		since_value(cmd_val(r, OPT_SINCE), &f.since);   /* checked by check_since */
	f.limit = cmd_val_number(r, OPT_LIMIT, 1, 1000000000, 0);
	ig_out_init(&out, stdout, r->o.format, audit_cols);
	rc = ig_tenant_audit_list(&r->ctx, &f, out_row, &out, &err);
	if (rc && err.code) {
		ig_out_finish(&out);
		return fail(&err);
	}
	if (rc) {
		ig_out_finish(&out);
		warn("cannot write to stdout:");
		return rc;
	}
	return out_finish(&out, 0);
}

static int do_export(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	const char *pid = cmd_val(r, OPT_PARTICIPANT);
	json_t *doc;
	int rc;

	rc = pid ? ig_gdpr_export_participant(&r->ctx, r->o.tenant, pid, &doc, &err)
		 : ig_gdpr_export_tenant(&r->ctx, r->o.tenant, &doc, &err);
	if (rc)
		return fail(&err);
	cmd_emit(doc);
	json_decref(doc);
	return 0;
}

static int do_erase(struct cmd_run *r)
{
	struct ig_err err = { 0 };
	const char *pid = cmd_val(r, OPT_PARTICIPANT);
	int dry = cmd_val(r, OPT_DRY_RUN) != NULL, rc;
	json_t *rep = NULL;

	if (pid) {
		rc = ig_gdpr_erase_customer(&r->ctx, r->o.tenant, pid, dry, &rep, &err);
		return result(r, rc, rep, &err);
	}
	if (!r->o.tenant)
		usage_error("erase: name a customer with --participant ID, or a tenant with --tenant SLUG");
	if (!cmd_val(r, OPT_YES) && !dry)
		usage_error("erasing tenant '%s' deletes all its data and audit rows; add --yes to confirm",
			    r->o.tenant);
	rc = ig_gdpr_erase_tenant(&r->ctx, r->o.tenant, dry, &rep, &err);
	return result(r, rc, rep, &err);
}

/* ------------------------------------------------------------ the command table */

/* Commands that write JSON only refuse --format table|csv. */
static void json_only_check(struct cmd_run *r)
{
	json_only(r);
}

static const int o_name[] = { OPT_NAME, 0 };
static const int o_yes[] = { OPT_YES, 0 };
static const int o_user_add[] = { OPT_NAME, OPT_SUPER_ADMIN, OPT_ROLE, 0 };
static const int o_role[] = { OPT_ROLE, 0 };
static const int o_agent_fields[] = {
	OPT_DISPLAY_NAME, OPT_PERSONALITY, OPT_INSTRUCTIONS, OPT_BUSINESS_NAME, OPT_LANGUAGE,
	OPT_BOOKING, OPT_ENGINE, OPT_MODEL, OPT_DEBOUNCE, OPT_PAUSE_ON_HUMAN, OPT_ACTIVE, 0
};
static const int o_new_default[] = { OPT_NEW_DEFAULT, 0 };
static const int o_loc_fields[] = { OPT_TIMEZONE, OPT_HOURS, OPT_CONTEXT, 0 };
static const int o_key[] = { OPT_NAME, OPT_SUPER_ADMIN, 0 };
static const int o_audit[] = { OPT_ACTOR, OPT_ACTION, OPT_SINCE, OPT_LIMIT, 0 };
static const int o_export[] = { OPT_PARTICIPANT, 0 };
static const int o_erase[] = { OPT_PARTICIPANT, OPT_YES, OPT_DRY_RUN, 0 };
static const int o_onboard[] = { OPT_DRY_RUN, 0 };

#define T_ "The tenant is --tenant, or the API key's own.\n"

static const struct cmd_row rows[] = {
	{ "init", do_init, CMD_CONFIG, NULL, 0, 0, "",
	  "create the store and the master key (idempotent)",
	  "Create the store (mode 0600) and the master key file (master_key_file) if\n"
	  "missing; migrate and keep an existing store, check and keep an existing key.\n",
	  json_only_check },
	{ "onboard", do_onboard, CMD_STORE, o_onboard, 0, 1, "[FILE|-]",
	  "apply JSON Lines records: tenants, users, agents, ...",
	  "Apply JSON Lines records (default: stdin), each in its own transaction:\n"
	  "  {\"tenant\":\"rossi\",\"name\":\"Rossi Consulting\"}                      a tenant\n"
	  "  {\"tenant\":\"rossi\",\"user\":\"anna@rossi.it\",\"role\":\"org_admin\"}     a user and role\n"
	  "  {\"tenant\":\"rossi\",\"agent\":\"marco\",\"personality\":\"...\"}        an agent\n"
	  "  {\"tenant\":\"rossi\",\"location\":\"milano\",\"timezone\":\"Europe/Rome\"} a location\n"
	  "  {\"tenant\":\"rossi\",\"api_key\":\"ci\",\"user\":\"anna@rossi.it\"}      an API key\n"
	  "Each line is reported on stdout; a failed line does not stop the run.\n"
	  "Running the same records again is safe: what is already there is reported\n"
	  "\"status\":\"exists\" and left alone (no second API key).  --dry-run reports\n"
	  "what would be created (\"would_create\") and changes nothing.\n",
	  json_only_check },
	{ "tenant create", do_tenant_create, CMD_STORE, o_name, 1, 1, "SLUG|-", "create a tenant", NULL, NULL },
	{ "tenant list", do_tenant_list, CMD_STORE, NULL, 0, 0, "", "list the tenants", NULL, NULL },
	{ "tenant show", do_tenant_show, CMD_STORE, NULL, 0, 1, "[SLUG]", "show a tenant", NULL, NULL },
	{ "tenant rename", do_tenant_rename, CMD_STORE, o_name, 1, 2, "SLUG [NEW-SLUG]",
	  "change a tenant's slug or name", NULL, NULL },
	{ "tenant delete", do_tenant_delete, CMD_STORE, o_yes, 1, 1, "SLUG",
	  "delete a tenant and everything it owns (--yes)", NULL, NULL },
	{ "user add", do_user_add, CMD_STORE, o_user_add, 1, 1, "EMAIL|-",
	  "add a user (with --role, a member of --tenant)", NULL, NULL },
	{ "user list", do_user_list, CMD_STORE, NULL, 0, 0, "", "list users (a tenant's members)", NULL, NULL },
	{ "user remove", do_user_remove, CMD_STORE, NULL, 1, 1, "EMAIL", "remove a user", NULL, NULL },
	{ "member grant", do_member_grant, CMD_STORE, o_role, 1, 1, "EMAIL|-",
	  "give a user a role in the tenant", T_, NULL },
	{ "member revoke", do_member_revoke, CMD_STORE, NULL, 1, 1, "EMAIL",
	  "take a user's role in the tenant away", T_, NULL },
	{ "agent create", do_agent_create, CMD_STORE, o_agent_fields, 1, 1, "NAME|-",
	  "create an agent", T_, NULL },
	{ "agent list", do_agent_list, CMD_STORE, NULL, 0, 0, "", "list the agents", T_, NULL },
	{ "agent show", do_agent_show, CMD_STORE, NULL, 1, 1, "NAME", "show an agent", T_, NULL },
	{ "agent update", do_agent_update, CMD_STORE, o_agent_fields, 1, 1, "NAME",
	  "change an agent's fields", T_, NULL },
	{ "agent delete", do_agent_delete, CMD_STORE, o_new_default, 1, 1, "NAME",
	  "delete an agent", T_, NULL },
	{ "agent set-default", do_agent_set_default, CMD_STORE, NULL, 1, 1, "NAME",
	  "make an agent the tenant's default", T_, NULL },
	{ "location create", do_location_create, CMD_STORE, o_loc_fields, 1, 1, "NAME|-",
	  "create a location", T_, NULL },
	{ "location list", do_location_list, CMD_STORE, NULL, 0, 0, "", "list the locations", T_, NULL },
	{ "location show", do_location_show, CMD_STORE, NULL, 1, 1, "NAME", "show a location", T_, NULL },
	{ "location update", do_location_update, CMD_STORE, o_loc_fields, 1, 1, "NAME",
	  "change a location's fields", T_, NULL },
	{ "location delete", do_location_delete, CMD_STORE, NULL, 1, 1, "NAME",
	  "delete a location", T_, NULL },
	{ "key create", do_key_create, CMD_STORE, o_key, 1, 1, "EMAIL",
	  "create an API key for a user (printed once)", T_, NULL },
	{ "key list", do_key_list, CMD_STORE, NULL, 0, 0, "", "list the API keys", T_, NULL },
	{ "key revoke", do_key_revoke, CMD_STORE, NULL, 1, 1, "PREFIX", "revoke an API key", T_, NULL },
	{ "audit", do_audit, CMD_STORE, o_audit, 0, 0, "", "list the audit log",
	  "Oldest first: all tenants for a super admin without --tenant, else the\n"
	  "tenant's rows.\n", NULL },
	{ "export", do_export, CMD_STORE, o_export, 0, 0, "",
	  "a tenant's data, or one customer's, as one JSON document",
	  "Print everything of the tenant (--tenant, or the API key's own) without\n"
	  "tokens or key hashes, or everything about one customer (--participant).\n",
	  json_only_check },
	{ "erase", do_erase, CMD_STORE, o_erase, 0, 0, "",
	  "erase a tenant, or one customer in every tenant",
	  "  tenant-admin erase --participant ID [--dry-run]\n"
	  "  tenant-admin erase --tenant SLUG --yes [--dry-run]\n"
	  "Erase one customer (in every tenant for a super admin without --tenant), or\n"
	  "a whole tenant with its audit rows.  An audit row records each erasure.\n",
	  json_only_check },
	{ 0 }
};

static const struct cmd_program program = {
	"Administer igkit's tenants, users and roles, agents, locations, API keys,\n"
	"the audit log, and GDPR export and erasure.",
	"Where a command takes a NAME, '-' instead reads one JSON record per line from stdin.\n",
	opts, rows, NULL, CMD_SAY_HERE, NULL
};

int main(int argc, char **argv)
{
	return cmd_main(&program, argc, argv);
}
