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
 * The domain logic (checks, SQL, permissions, audit) is in lib/tenant.c and
 * lib/gdpr.c; this file parses, dispatches and maps results to exit codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "common.h"
#include "gdpr.h"
#include "igtime.h"
#include "jsonio.h"
#include "tenant.h"

enum {
	OPT_NAME = OPT_PROGRAM, OPT_YES, OPT_SUPER_ADMIN, OPT_ROLE,
	OPT_DISPLAY_NAME, OPT_PERSONALITY, OPT_INSTRUCTIONS, OPT_BUSINESS_NAME,
	OPT_LANGUAGE, OPT_BOOKING, OPT_ENGINE, OPT_MODEL, OPT_DEBOUNCE,
	OPT_PAUSE_ON_HUMAN, OPT_ACTIVE, OPT_NEW_DEFAULT, OPT_TIMEZONE, OPT_HOURS,
	OPT_CONTEXT, OPT_ACTOR, OPT_ACTION, OPT_SINCE, OPT_LIMIT, OPT_PARTICIPANT,
	OPT_END
};
#define NOPTS (OPT_END - OPT_PROGRAM + 1)   /* + 1: --dry-run has its own slot */
#define SLOT(o) ((int)(o) == (int)OPT_DRY_RUN ? NOPTS - 1 : (int)(o) - (int)OPT_PROGRAM)

/* ------------------------------------------------------------ help */

static const char help_main[] =
	"Usage: tenant-admin [OPTIONS] COMMAND [ARGS]\n"
	"Administer igkit's tenants, users and roles, agents, locations, API keys,\n"
	"the audit log, and GDPR export and erasure.\n"
	"\n"
	"Commands:\n"
	"  init                      create the store and the master key (idempotent)\n"
	"  onboard [FILE|-]          apply JSON Lines records: tenants, users with roles,\n"
	"                            agents, locations, API keys\n"
	"  tenant   create|list|show|rename|delete\n"
	"  user     add|list|remove\n"
	"  member   grant|revoke\n"
	"  agent    create|list|show|update|delete|set-default\n"
	"  location create|list|show|update|delete\n"
	"  key      create|list|revoke\n"
	"  audit                     list the audit log\n"
	"  export                    a tenant's data, or one customer's, as one JSON document\n"
	"  erase                     erase a tenant, or one customer in every tenant\n"
	"\n"
	"'tenant-admin COMMAND --help' shows a command's own options.  Where a command\n"
	"takes a NAME, '-' instead reads one JSON record per line from stdin.\n"
	"\n"
	"Options:\n";

static const char help_init[] =
	"Usage: tenant-admin init\n"
	"Create the store (mode 0600) and the master key file (master_key_file) if\n"
	"missing; migrate and keep an existing store, check and keep an existing key.\n"
	"\n"
	"Options:\n";

static const char help_onboard[] =
	"Usage: tenant-admin onboard [FILE|-] [--dry-run]\n"
	"Apply JSON Lines records (default: stdin), each in its own transaction:\n"
	"  {\"tenant\":\"rossi\",\"name\":\"Rossi Consulting\"}                      a tenant\n"
	"  {\"tenant\":\"rossi\",\"user\":\"anna@rossi.it\",\"role\":\"org_admin\"}     a user and role\n"
	"  {\"tenant\":\"rossi\",\"agent\":\"marco\",\"personality\":\"...\"}        an agent\n"
	"  {\"tenant\":\"rossi\",\"location\":\"milano\",\"timezone\":\"Europe/Rome\"} a location\n"
	"  {\"tenant\":\"rossi\",\"api_key\":\"ci\",\"user\":\"anna@rossi.it\"}      an API key\n"
	"Each line is reported on stdout; a failed line does not stop the run.\n"
	"Running the same records again is safe: what is already there is reported\n"
	"\"status\":\"exists\" and left alone (no second API key).\n"
	"\n"
	"Options:\n"
	"      --dry-run          report what would be created (\"would_create\"), change nothing\n";

static const char help_tenant[] =
	"Usage: tenant-admin tenant create SLUG|- [--name NAME]\n"
	"       tenant-admin tenant list\n"
	"       tenant-admin tenant show [SLUG]\n"
	"       tenant-admin tenant rename SLUG [NEW-SLUG] [--name NAME]\n"
	"       tenant-admin tenant delete SLUG --yes\n"
	"\n"
	"Options:\n"
	"      --name NAME        the tenant's display name\n"
	"      --yes              confirm a deletion\n";

static const char help_user[] =
	"Usage: tenant-admin user add EMAIL|- [--name NAME] [--super-admin] [--role ROLE]\n"
	"       tenant-admin user list\n"
	"       tenant-admin user remove EMAIL\n"
	"\n"
	"Options:\n"
	"      --name NAME        the user's full name\n"
	"      --super-admin      the user may hold a super-admin key\n"
	"      --role ROLE        also make the user a member of --tenant: org_admin,\n"
	"                         marketer, sales or viewer\n";

static const char help_member[] =
	"Usage: tenant-admin member grant EMAIL|- --role ROLE\n"
	"       tenant-admin member revoke EMAIL\n"
	"The tenant is --tenant, or the API key's own.\n"
	"\n"
	"Options:\n"
	"      --role ROLE        org_admin, marketer, sales or viewer\n";

static const char help_agent[] =
	"Usage: tenant-admin agent create NAME|- [FIELDS]\n"
	"       tenant-admin agent list\n"
	"       tenant-admin agent show NAME\n"
	"       tenant-admin agent update NAME FIELDS\n"
	"       tenant-admin agent delete NAME [--new-default NAME]\n"
	"       tenant-admin agent set-default NAME\n"
	"The tenant is --tenant, or the API key's own.\n"
	"\n"
	"Fields:\n"
	"      --display-name TEXT     the name customers see (\"Marco\")\n"
	"      --personality TEXT      tone and character of the replies\n"
	"      --instructions TEXT     what the agent must and must not do\n"
	"      --business-name TEXT    the business the agent speaks for\n"
	"      --language CODE         reply language, e.g. en, it, pt-BR (default en)\n"
	"      --booking yes|no        the agent may take bookings (default no)\n"
	"      --engine kb|openai      reply engine (default kb)\n"
	"      --model NAME            model for the openai engine\n"
	"      --debounce SECONDS      wait this long after the last message (30, 2m)\n"
	"      --pause-on-human yes|no pause the AI when a human replies (default yes)\n"
	"      --active yes|no         the agent answers at all (default yes)\n"
	"Options:\n"
	"      --new-default NAME      when deleting the default agent, its successor\n";

static const char help_location[] =
	"Usage: tenant-admin location create NAME|- [FIELDS]\n"
	"       tenant-admin location list\n"
	"       tenant-admin location show NAME\n"
	"       tenant-admin location update NAME FIELDS\n"
	"       tenant-admin location delete NAME\n"
	"The tenant is --tenant, or the API key's own.\n"
	"\n"
	"Fields:\n"
	"      --timezone ZONE    IANA time zone, e.g. Europe/Rome (default UTC)\n"
	"      --hours TEXT       opening hours, free text\n"
	"      --context TEXT     what the AI should know about this place\n"
	"Options:\n";

static const char help_key[] =
	"Usage: tenant-admin key create EMAIL [--name LABEL] [--super-admin]\n"
	"       tenant-admin key list\n"
	"       tenant-admin key revoke PREFIX\n"
	"The tenant is --tenant, or the API key's own.  'create' prints the key once.\n"
	"\n"
	"Options:\n"
	"      --name LABEL       what the key is for (\"ci\", \"crm-sync\")\n"
	"      --super-admin      a key without tenant, for a super-admin user\n"
	"                         (only the store owner may create one)\n";

static const char help_audit[] =
	"Usage: tenant-admin audit [--actor TEXT] [--action NAME] [--since TIME] [--limit N]\n"
	"List the audit log, oldest first: all tenants for a super admin without\n"
	"--tenant, else the tenant's rows.\n"
	"\n"
	"Options:\n"
	"      --actor TEXT       rows whose actor contains TEXT (\"owner\", an e-mail)\n"
	"      --action NAME      this action, or a prefix ending in '*' (\"agent.*\")\n"
	"      --since TIME       ISO-8601 time, Unix seconds, or an age (24h, 7d)\n"
	"      --limit N          at most N rows\n";

static const char help_export[] =
	"Usage: tenant-admin export [--participant ID]\n"
	"Print everything of the tenant (--tenant, or the API key's own) as one JSON\n"
	"document — without tokens or key hashes — or everything about one customer.\n"
	"\n"
	"Options:\n"
	"      --participant ID   only this customer (IGSID/PSID)\n";

static const char help_erase[] =
	"Usage: tenant-admin erase --participant ID [--dry-run]\n"
	"       tenant-admin erase --tenant SLUG --yes [--dry-run]\n"
	"Erase one customer (in every tenant for a super admin without --tenant), or\n"
	"a whole tenant with its audit rows.  An audit row records each erasure.\n"
	"\n"
	"Options:\n"
	"      --participant ID   the customer (IGSID/PSID) to erase\n"
	"      --yes              confirm erasing a whole tenant\n"
	"      --dry-run          report what would be erased, erase nothing\n";

/* ------------------------------------------------------------ option tables */

#define O(name, has, id) { name, has, NULL, id }
static const struct option opts_none[] = { CMD_COMMON_LONG, { 0, 0, 0, 0 } };
/* ops: onboard --dry-run */
static const struct option opts_onboard[] = {
	O("dry-run", no_argument, OPT_DRY_RUN), CMD_COMMON_LONG, { 0, 0, 0, 0 }
};
static const struct option opts_tenant[] = {
	O("name", required_argument, OPT_NAME), O("yes", no_argument, OPT_YES),
	CMD_COMMON_LONG, { 0, 0, 0, 0 }
};
static const struct option opts_user[] = {
	O("name", required_argument, OPT_NAME), O("super-admin", no_argument, OPT_SUPER_ADMIN),
	O("role", required_argument, OPT_ROLE), CMD_COMMON_LONG, { 0, 0, 0, 0 }
};
static const struct option opts_member[] = {
	O("role", required_argument, OPT_ROLE), CMD_COMMON_LONG, { 0, 0, 0, 0 }
};
static const struct option opts_agent[] = {
	O("display-name", required_argument, OPT_DISPLAY_NAME),
	O("personality", required_argument, OPT_PERSONALITY),
	O("instructions", required_argument, OPT_INSTRUCTIONS),
	O("business-name", required_argument, OPT_BUSINESS_NAME),
	O("language", required_argument, OPT_LANGUAGE),
	O("booking", required_argument, OPT_BOOKING),
	O("engine", required_argument, OPT_ENGINE),
	O("model", required_argument, OPT_MODEL),
	O("debounce", required_argument, OPT_DEBOUNCE),
	O("pause-on-human", required_argument, OPT_PAUSE_ON_HUMAN),
	O("active", required_argument, OPT_ACTIVE),
	O("new-default", required_argument, OPT_NEW_DEFAULT),
	CMD_COMMON_LONG, { 0, 0, 0, 0 }
};
static const struct option opts_location[] = {
	O("timezone", required_argument, OPT_TIMEZONE), O("hours", required_argument, OPT_HOURS),
	O("context", required_argument, OPT_CONTEXT), CMD_COMMON_LONG, { 0, 0, 0, 0 }
};
static const struct option opts_key[] = {
	O("name", required_argument, OPT_NAME), O("super-admin", no_argument, OPT_SUPER_ADMIN),
	CMD_COMMON_LONG, { 0, 0, 0, 0 }
};
static const struct option opts_audit[] = {
	O("actor", required_argument, OPT_ACTOR), O("action", required_argument, OPT_ACTION),
	O("since", required_argument, OPT_SINCE), O("limit", required_argument, OPT_LIMIT),
	CMD_COMMON_LONG, { 0, 0, 0, 0 }
};
static const struct option opts_export[] = {
	O("participant", required_argument, OPT_PARTICIPANT), CMD_COMMON_LONG, { 0, 0, 0, 0 }
};
static const struct option opts_erase[] = {
	O("participant", required_argument, OPT_PARTICIPANT), O("yes", no_argument, OPT_YES),
	O("dry-run", no_argument, OPT_DRY_RUN), CMD_COMMON_LONG, { 0, 0, 0, 0 }
};

/* ------------------------------------------------------------ run state */

struct run;
struct verb {
	const char *name;          /* NULL: the command takes no verb */
	int min, max;              /* operands after the verb */
	const char *operands;      /* for the usage message */
	const int *opts;           /* the program options it takes, 0-terminated */
	int (*fn)(struct run *r);
};

struct group {
	const char *name;
	const char *help;
	const struct option *longopts;
	const struct verb *verbs;
};

struct run {
	struct ig_ctx ctx;
	struct cmd_opts o;
	const char *val[NOPTS];    /* program options given, by SLOT */
	char **arg;                /* operands after the verb */
	int narg;
	char what[48];             /* "agent create", for messages */
	const struct option *lo;   /* the command's option table */
	int ctx_open;
};

#define VAL(r, o) ((r)->val[SLOT(o)])

static const char *opt_name(int id, const struct option *lo)
{
	for (; lo->name; lo++)
		if (lo->val == id)
			return lo->name;
	return "?";
}

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
static int emit(struct run *r, const json_t *rec)
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
static int result(struct run *r, int rc, json_t *rec, struct ig_err *err)
{
	if (rc)
		return fail(err);
	rc = emit(r, rec);
	json_decref(rec);
	return rc;
}

static int listing(struct run *r, const char *const *cols,
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

static void json_only(struct run *r)
{
	if (r->o.format != IG_FMT_JSON)
		usage_error("%s writes JSON only; --format does not apply", r->what);
}

/* ------------------------------------------------------------ streams */

typedef int apply_fn(struct run *r, const json_t *rec, json_t **out, struct ig_err *err);

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
	fprintf(stderr, "%s: %s%s\n", cmd_name, prefix, msg);
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
static int stream(struct run *r, FILE *f, const char *name, apply_fn *apply)
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
static int stdin_only(struct run *r, apply_fn *apply)
{
	int i;

	for (i = 0; i < NOPTS - 1; i++)
		if (r->val[i])
			usage_error("%s -: the records carry their fields; --%s does not apply",
				    r->what, opt_name(OPT_PROGRAM + i, r->lo));
	return stream(r, stdin, "stdin", apply);
}

/* ------------------------------------------------------------ record building */

static int yes_no(const char *opt, const char *v)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
		return 1;
	if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
		return 0;
	usage_error("--%s takes yes or no, not '%s'", opt, v);
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
static json_t *record(struct run *r, const char *key, const char *value,
		      const struct option *lo)
{
	json_t *rec = json_object();
	size_t i;

	if (!rec)
		die(IG_EX_SOFTWARE, "out of memory");
	if (key && value)
		json_object_set_new(rec, key, json_string(value));
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = VAL(r, fields[i].opt);

		if (!v)
			continue;
		json_object_set_new(rec, fields[i].key, fields[i].flag
			? json_boolean(yes_no(opt_name(fields[i].opt, lo), v)) : json_string(v));
	}
	return rec;
}

/* ------------------------------------------------------------ init, onboard */

static int do_init(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *rep;
	int rc;

	json_only(r);
	cmd_ctx_open(&r->ctx, &r->o, 0);
	r->ctx_open = 1;
	rc = ig_tenant_setup(&r->ctx, &rep, &err);
	return result(r, rc, rep, &err);
}

/* ops: one onboarding run (dry or not) across the stream's records */
static struct ig_onboard onboard_run;

static int apply_onboard(struct run *r, const json_t *rec, json_t **out, struct ig_err *err)
{
	return ig_tenant_onboard_run(&r->ctx, &onboard_run, rec, r->o.tenant, out, err);
}

static int do_onboard(struct run *r)
{
	const char *path = r->narg ? r->arg[0] : "-";
	FILE *f;
	int rc;

	json_only(r);
	onboard_run.dry_run = VAL(r, OPT_DRY_RUN) != NULL;
	if (!strcmp(path, "-")) {
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

static int apply_tenant(struct run *r, const json_t *rec, json_t **out, struct ig_err *err)
{
	return ig_tenant_create(&r->ctx, rec, out, err);
}

static int do_tenant_create(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *rec, *res;
	int rc;

	if (!strcmp(r->arg[0], "-"))
		return stdin_only(r, apply_tenant);
	rec = json_pack("{s:s,s:s?}", "tenant", r->arg[0], "name", VAL(r, OPT_NAME));
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

static int do_tenant_list(struct run *r)
{
	return listing(r, tenant_cols, tenant_list_fn);
}

static int do_tenant_show(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_tenant_show(&r->ctx, r->narg ? r->arg[0] : r->o.tenant, &res, &err);

	return result(r, rc, res, &err);
}

static int do_tenant_rename(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc;

	if (r->narg < 2 && !VAL(r, OPT_NAME))
		usage_error("tenant rename: give a NEW-SLUG, --name NAME, or both");
	rc = ig_tenant_rename(&r->ctx, r->arg[0], r->narg > 1 ? r->arg[1] : NULL,
			      VAL(r, OPT_NAME), &res, &err);
	return result(r, rc, res, &err);
}

static int do_tenant_delete(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc;

	if (!VAL(r, OPT_YES))
		usage_error("tenant delete removes everything tenant '%s' owns; add --yes to confirm",
			    r->arg[0]);
	rc = ig_tenant_delete(&r->ctx, r->arg[0], &res, &err);
	return result(r, rc, res, &err);
}

/* ------------------------------------------------------------ user, member */

static const char *const member_cols[] = { "user", "name", "role", "joined_at", NULL };
static const char *const user_cols[] = { "user", "name", "super_admin", "tenants", "created_at", NULL };

static int apply_user(struct run *r, const json_t *rec, json_t **out, struct ig_err *err)
{
	return ig_user_add(&r->ctx, rec, 0, r->o.tenant, out, err);
}

static int do_user_add(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *rec, *res;
	int rc;

	if (!strcmp(r->arg[0], "-"))
		return stdin_only(r, apply_user);
	rec = json_pack("{s:s,s:s?,s:s?}", "user", r->arg[0], "name", VAL(r, OPT_NAME),
			"role", VAL(r, OPT_ROLE));
	if (VAL(r, OPT_SUPER_ADMIN))
		json_object_set_new(rec, "super_admin", json_true());
	rc = ig_user_add(&r->ctx, rec, 0, r->o.tenant, &res, &err);
	json_decref(rec);
	return result(r, rc, res, &err);
}

static int do_user_list(struct run *r)
{
	int all = !r->o.tenant && !r->ctx.actor.tenant_id;

	return listing(r, all ? user_cols : member_cols, ig_user_list);
}

static int do_user_remove(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_user_remove(&r->ctx, r->arg[0], &res, &err);

	return result(r, rc, res, &err);
}

static int apply_member(struct run *r, const json_t *rec, json_t **out, struct ig_err *err)
{
	return ig_member_grant(&r->ctx, rec, r->o.tenant, out, err);
}

static int do_member_grant(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *rec, *res;
	int rc;

	if (!strcmp(r->arg[0], "-"))
		return stdin_only(r, apply_member);
	if (!VAL(r, OPT_ROLE))
		usage_error("member grant: which role? give --role ROLE");
	rec = json_pack("{s:s,s:s}", "user", r->arg[0], "role", VAL(r, OPT_ROLE));
	rc = ig_member_grant(&r->ctx, rec, r->o.tenant, &res, &err);
	json_decref(rec);
	return result(r, rc, res, &err);
}

static int do_member_revoke(struct run *r)
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

static int apply_agent(struct run *r, const json_t *rec, json_t **out, struct ig_err *err)
{
	return ig_agent_create(&r->ctx, rec, r->o.tenant, out, err);
}

static int do_agent_create(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *rec, *res;
	int rc;

	if (!strcmp(r->arg[0], "-"))
		return stdin_only(r, apply_agent);
	rec = record(r, "agent", r->arg[0], opts_agent);
	rc = ig_agent_create(&r->ctx, rec, r->o.tenant, &res, &err);
	json_decref(rec);
	return result(r, rc, res, &err);
}

static int do_agent_list(struct run *r)
{
	return listing(r, agent_cols, ig_agent_list);
}

static int do_agent_show(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_agent_show(&r->ctx, r->o.tenant, r->arg[0], &res, &err);

	return result(r, rc, res, &err);
}

static int do_agent_update(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *rec = record(r, NULL, NULL, opts_agent), *res;
	int rc;

	if (!json_object_size(rec))
		usage_error("agent update: nothing to change; give at least one field option");
	rc = ig_agent_update(&r->ctx, r->o.tenant, r->arg[0], rec, &res, &err);
	json_decref(rec);
	return result(r, rc, res, &err);
}

static int do_agent_delete(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_agent_delete(&r->ctx, r->o.tenant, r->arg[0], VAL(r, OPT_NEW_DEFAULT), &res, &err);

	return result(r, rc, res, &err);
}

static int do_agent_set_default(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_agent_set_default(&r->ctx, r->o.tenant, r->arg[0], &res, &err);

	return result(r, rc, res, &err);
}

static int apply_location(struct run *r, const json_t *rec, json_t **out, struct ig_err *err)
{
	return ig_location_create(&r->ctx, rec, r->o.tenant, out, err);
}

static int do_location_create(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *rec, *res;
	int rc;

	if (!strcmp(r->arg[0], "-"))
		return stdin_only(r, apply_location);
	rec = record(r, "location", r->arg[0], opts_location);
	rc = ig_location_create(&r->ctx, rec, r->o.tenant, &res, &err);
	json_decref(rec);
	return result(r, rc, res, &err);
}

static int do_location_list(struct run *r)
{
	return listing(r, location_cols, ig_location_list);
}

static int do_location_show(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *res;
	int rc = ig_location_show(&r->ctx, r->o.tenant, r->arg[0], &res, &err);

	return result(r, rc, res, &err);
}

static int do_location_update(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *rec = record(r, NULL, NULL, opts_location), *res;
	int rc;

	if (!json_object_size(rec))
		usage_error("location update: nothing to change; give at least one field option");
	rc = ig_location_update(&r->ctx, r->o.tenant, r->arg[0], rec, &res, &err);
	json_decref(rec);
	return result(r, rc, res, &err);
}

static int do_location_delete(struct run *r)
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

static int do_key_create(struct run *r)
{
	struct ig_err err = { 0 };
	json_t *rec, *res = NULL;
	int rc, super = VAL(r, OPT_SUPER_ADMIN) != NULL;

	if (super && r->o.tenant)
		usage_error("key create: a super-admin key has no tenant; drop --tenant");
	rec = json_pack("{s:s,s:s}", "user", r->arg[0], "api_key",
			VAL(r, OPT_NAME) ? VAL(r, OPT_NAME) : "");
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

static int do_key_list(struct run *r)
{
	return listing(r, key_cols, ig_apikey_list);
}

static int do_key_revoke(struct run *r)
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

static int do_audit(struct run *r)
{
	struct ig_audit_filter f = { r->o.tenant, VAL(r, OPT_ACTOR), VAL(r, OPT_ACTION), 0, 0 };
	const char *since = VAL(r, OPT_SINCE);
	struct ig_err err = { 0 };
	struct ig_out out;
	int64_t d;
	int rc;

	if (since) {
		size_t n = strlen(since);

		/* An age ("24h") counts back from now; a bare number is a time. */
		if (n && strchr("smhd", since[n - 1]) && !ig_duration_parse(since, &d))
			f.since = ig_time_now() - d;
		else if (ig_time_parse(since, &f.since))
			usage_error("--since takes an ISO-8601 time, Unix seconds or an age like 24h, not '%s'",
				    since);
	}
	if (VAL(r, OPT_LIMIT))
		f.limit = cmd_number("--limit", VAL(r, OPT_LIMIT), 1, 1000000000);
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

static int do_export(struct run *r)
{
	struct ig_err err = { 0 };
	const char *pid = VAL(r, OPT_PARTICIPANT);
	json_t *doc;
	int rc;

	json_only(r);
	rc = pid ? ig_gdpr_export_participant(&r->ctx, r->o.tenant, pid, &doc, &err)
		 : ig_gdpr_export_tenant(&r->ctx, r->o.tenant, &doc, &err);
	if (rc)
		return fail(&err);
	cmd_emit(doc);
	json_decref(doc);
	return 0;
}

static int do_erase(struct run *r)
{
	struct ig_err err = { 0 };
	const char *pid = VAL(r, OPT_PARTICIPANT);
	int dry = VAL(r, OPT_DRY_RUN) != NULL, rc;
	json_t *rep = NULL;
	int64_t tid = 0;

	json_only(r);
	if (pid) {
		/* Within one tenant (named, or the key's own) the audit module
		 * decides; across all tenants only a super admin may. */
		if (!ig_gdpr_participant_valid(pid))
			die(IG_EX_DATAERR,
			    "invalid participant id '%s' (an IGSID or PSID: 1-64 decimal digits)", pid);
		if (r->o.tenant || r->ctx.actor.tenant_id)
			rc = ig_tenant_resolve(&r->ctx, r->o.tenant, IG_MOD_AUDIT, IG_WRITE,
					       "erase.participant", &tid, NULL, &err);
		else
			rc = ig_authz_require(&r->ctx, 0, IG_MOD_PLATFORM, IG_WRITE,
					      "erase.participant", &err);
		if (!rc)
			rc = ig_gdpr_erase_participant_in(&r->ctx, tid, pid, dry, &rep, &err);
		return result(r, rc, rep, &err);
	}
	if (!r->o.tenant)
		usage_error("erase: name a customer with --participant ID, or a tenant with --tenant SLUG");
	if (!VAL(r, OPT_YES) && !dry)
		usage_error("erasing tenant '%s' deletes all its data and audit rows; add --yes to confirm",
			    r->o.tenant);
	rc = ig_gdpr_erase_tenant(&r->ctx, r->o.tenant, dry, &rep, &err);
	return result(r, rc, rep, &err);
}

/* ------------------------------------------------------------ dispatch */

static const int no_opts[] = { 0 };
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

static const struct verb v_init[] = { { NULL, 0, 0, "", no_opts, do_init }, { 0 } };
static const int o_onboard[] = { OPT_DRY_RUN, 0 };   /* ops */
static const struct verb v_onboard[] = { { NULL, 0, 1, "[FILE|-]", o_onboard, do_onboard }, { 0 } };
static const struct verb v_tenant[] = {
	{ "create", 1, 1, "SLUG|-", o_name, do_tenant_create },
	{ "list", 0, 0, "", no_opts, do_tenant_list },
	{ "show", 0, 1, "[SLUG]", no_opts, do_tenant_show },
	{ "rename", 1, 2, "SLUG [NEW-SLUG]", o_name, do_tenant_rename },
	{ "delete", 1, 1, "SLUG", o_yes, do_tenant_delete },
	{ 0 }
};
static const struct verb v_user[] = {
	{ "add", 1, 1, "EMAIL|-", o_user_add, do_user_add },
	{ "list", 0, 0, "", no_opts, do_user_list },
	{ "remove", 1, 1, "EMAIL", no_opts, do_user_remove },
	{ 0 }
};
static const struct verb v_member[] = {
	{ "grant", 1, 1, "EMAIL|-", o_role, do_member_grant },
	{ "revoke", 1, 1, "EMAIL", no_opts, do_member_revoke },
	{ 0 }
};
static const struct verb v_agent[] = {
	{ "create", 1, 1, "NAME|-", o_agent_fields, do_agent_create },
	{ "list", 0, 0, "", no_opts, do_agent_list },
	{ "show", 1, 1, "NAME", no_opts, do_agent_show },
	{ "update", 1, 1, "NAME", o_agent_fields, do_agent_update },
	{ "delete", 1, 1, "NAME", o_new_default, do_agent_delete },
	{ "set-default", 1, 1, "NAME", no_opts, do_agent_set_default },
	{ 0 }
};
static const struct verb v_location[] = {
	{ "create", 1, 1, "NAME|-", o_loc_fields, do_location_create },
	{ "list", 0, 0, "", no_opts, do_location_list },
	{ "show", 1, 1, "NAME", no_opts, do_location_show },
	{ "update", 1, 1, "NAME", o_loc_fields, do_location_update },
	{ "delete", 1, 1, "NAME", no_opts, do_location_delete },
	{ 0 }
};
static const struct verb v_key[] = {
	{ "create", 1, 1, "EMAIL", o_key, do_key_create },
	{ "list", 0, 0, "", no_opts, do_key_list },
	{ "revoke", 1, 1, "PREFIX", no_opts, do_key_revoke },
	{ 0 }
};
static const struct verb v_audit[] = { { NULL, 0, 0, "", o_audit, do_audit }, { 0 } };
static const struct verb v_export[] = { { NULL, 0, 0, "", o_export, do_export }, { 0 } };
static const struct verb v_erase[] = { { NULL, 0, 0, "", o_erase, do_erase }, { 0 } };

static const struct group groups[] = {
	{ "init", help_init, opts_none, v_init },
	{ "onboard", help_onboard, opts_onboard, v_onboard },
	{ "tenant", help_tenant, opts_tenant, v_tenant },
	{ "user", help_user, opts_user, v_user },
	{ "member", help_member, opts_member, v_member },
	{ "agent", help_agent, opts_agent, v_agent },
	{ "location", help_location, opts_location, v_location },
	{ "key", help_key, opts_key, v_key },
	{ "audit", help_audit, opts_audit, v_audit },
	{ "export", help_export, opts_export, v_export },
	{ "erase", help_erase, opts_erase, v_erase },
	{ 0 }
};

/* help + the shared options' lines, for cmd_option's -h. */
static char *full_help(const char *help)
{
	size_t n = strlen(help) + strlen(cmd_common_help) + 1;
	char *s = malloc(n);

	if (!s)
		die(IG_EX_SOFTWARE, "out of memory");
	snprintf(s, n, "%s%s", help, cmd_common_help);
	return s;
}

static void verb_names(const struct verb *v, char *buf, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (; v->fn && len < n; v++)
		len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", v->name);
}

static int in_opts(const int *list, int id)
{
	for (; *list; list++)
		if (*list == id)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option main_opts[] = { CMD_COMMON_LONG, { 0, 0, 0, 0 } };
	static struct run r;   /* static: zeroed, and reachable until exit */
	const struct group *g;
	const struct verb *v;
	char names[160], *help;
	int c, sub_argc, rc, i;
	char **sub_argv;

	cmd_init(argc, argv);
	help = full_help(help_main);
	while ((c = getopt_long(argc, argv, "+" CMD_COMMON_SHORT, main_opts, NULL)) != -1)
		cmd_option(&r.o, c, optarg, help);
	free(help);
	if (optind >= argc)
		usage_error("which command? (init, onboard, tenant, user, member, agent, location, key, audit, export, erase)");
	for (g = groups; g->name && strcmp(g->name, argv[optind]); g++)
		;
	if (!g->name)
		usage_error("unknown command '%s'", argv[optind]);

	/* The command's own options, anywhere after its name; the shared
	 * options work there too. */
	sub_argc = argc - optind;
	sub_argv = argv + optind;
	help = full_help(g->help);
	cmd_getopt_reset();
	while ((c = getopt_long(sub_argc, sub_argv, CMD_COMMON_SHORT, g->longopts, NULL)) != -1) {
		if (cmd_option(&r.o, c, optarg, help))
			continue;
		r.val[SLOT(c)] = optarg ? optarg : "1";
	}
	free(help);
	sub_argv += optind;
	sub_argc -= optind;

	v = g->verbs;
	if (v->name) {
		verb_names(v, names, sizeof(names));
		if (!sub_argc)
			usage_error("%s: which subcommand? (%s)", g->name, names);
		for (; v->fn && strcmp(v->name, sub_argv[0]); v++)
			;
		if (!v->fn)
			usage_error("%s: unknown subcommand '%s' (%s)", g->name, sub_argv[0], names);
		sub_argv++;
		sub_argc--;
		snprintf(r.what, sizeof(r.what), "%s %s", g->name, v->name);
	} else {
		snprintf(r.what, sizeof(r.what), "%s", g->name);
	}
	if (sub_argc < v->min)
		usage_error("%s: missing %s", r.what, v->operands);
	if (sub_argc > v->max)
		usage_error("%s: unexpected argument '%s'", r.what, sub_argv[v->max]);
	for (i = 0; i < NOPTS; i++) {
		int id = i == NOPTS - 1 ? OPT_DRY_RUN : OPT_PROGRAM + i;

		if (r.val[i] && !in_opts(v->opts, id))
			usage_error("%s: --%s does not apply here", r.what, opt_name(id, g->longopts));
	}
	r.arg = sub_argv;
	r.narg = sub_argc;
	r.lo = g->longopts;

	if (v->fn != do_init) {
		cmd_ctx_open(&r.ctx, &r.o, CMD_STORE);
		r.ctx_open = 1;
	}
	rc = v->fn(&r);
	if (r.ctx_open)
		ig_ctx_release(&r.ctx);
	return cmd_finish(rc);
}
