#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "authz.h"
#include "exitcodes.h"
#include "kb.h"
#include "kbadmin.h"
#include "textnorm.h"

static int require(struct ig_ctx *ctx, int64_t tenant, enum ig_access a, const char *action,
		   struct ig_err *err)
{
	return ig_authz_require(ctx, tenant, IG_MOD_AGENTS, a, action, err);
}

static int agent_id(struct ig_ctx *ctx, int64_t tenant, const char *name, int64_t *id,
		    struct ig_err *err)
{
	*id = 0;
	return name ? ig_ctx_agent(ctx, tenant, name, id, err) : 0;
}

static int oom(struct ig_err *err)
{
	return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
}

/* One article and its audit row, in the open transaction; its record is
 * appended to done. */
static int add_one(struct ig_ctx *ctx, int64_t tenant, const char *agent, const char *title,
		   const char *body, const char *tags, json_t *done, struct ig_err *err)
{
	char target[48];
	json_t *d, *rec;
	int64_t aid, id;
	int rc;

	if ((rc = agent_id(ctx, tenant, agent, &aid, err))
	    || (rc = ig_kb_add(ctx->store, tenant, aid, title, body, tags, &id, err)))
		return rc;
	snprintf(target, sizeof(target), "kb:%lld", (long long)id);
	d = json_pack("{s:s,s:s?}", "title", title, "agent", agent);
	rc = ig_audit(ctx, tenant, "kb.add", target, "ok", d, err);
	json_decref(d);
	if (rc)
		return rc;
	rec = json_pack("{s:I,s:s,s:s?}", "id", (json_int_t)id, "title", title, "agent", agent);
	if (!rec || json_array_append_new(done, rec))
		return oom(err);
	return 0;
}

int ig_kbadmin_add(struct ig_ctx *ctx, int64_t tenant, const char *agent, const char *title,
		   const char *body, const char *tags, json_t **out, struct ig_err *err)
{
	json_t *done;
	int rc;

	*out = NULL;
	if ((rc = require(ctx, tenant, IG_WRITE, "kb", err)))
		return rc;
	if (!(done = json_array()))
		return oom(err);
	if ((rc = ig_store_begin(ctx->store, err)) == 0)
		rc = ig_store_end(ctx->store, add_one(ctx, tenant, agent, title, body, tags, done, err),
				  err);
	if (!rc)
		*out = json_incref(json_array_get(done, 0));
	json_decref(done);
	return rc;
}

/* The lines of an import inside the open transaction: 0, 65 (some bad),
 * or an exit code that undoes it all. */
static int import_lines(struct ig_ctx *ctx, int64_t tenant, const char *agent, const char *tags,
			struct ig_jsonl_reader *rd, ig_kbadmin_report_fn *report, void *arg,
			json_t *done, struct ig_err *err)
{
	int more, bad = 0, rc;
	json_t *v;

	while ((more = ig_jsonl_next(rd, &v, err)) != 0) {
		const char *an;

		if (more < 0)
			return err->code;
		if (!v) {
			report(arg, err->msg);
			ig_err_clear(err);
			bad = 1;
			continue;
		}
		an = ig_json_str(v, "agent") ? ig_json_str(v, "agent") : agent;
		rc = add_one(ctx, tenant, an, ig_json_str(v, "title"), ig_json_str(v, "body"),
			     ig_json_str(v, "tags") ? ig_json_str(v, "tags") : tags, done, err);
		json_decref(v);
		if (rc == IG_EX_DATAERR) {
			char msg[sizeof(err->msg) + 64];

			snprintf(msg, sizeof(msg), "%s:%ld: %s", rd->name, rd->line, err->msg);
			report(arg, msg);
			ig_err_clear(err);
			bad = 1;
		} else if (rc) {
			return rc;
		}
	}
	return bad ? IG_EX_DATAERR : 0;
}

int ig_kbadmin_import(struct ig_ctx *ctx, int64_t tenant, const char *agent, const char *tags,
		      struct ig_jsonl_reader *rd, ig_kbadmin_report_fn *report, void *arg,
		      json_t **out, struct ig_err *err)
{
	int64_t aid;
	json_t *done;
	int rc, bad;

	*out = NULL;
	if ((rc = require(ctx, tenant, IG_WRITE, "kb", err))
	    || (rc = agent_id(ctx, tenant, agent, &aid, err)))
		return rc;
	if (!(done = json_array()))
		return oom(err);
	if ((rc = ig_store_begin(ctx->store, err))) {
		json_decref(done);
		return rc;
	}
	rc = import_lines(ctx, tenant, agent, tags, rd, report, arg, done, err);
	/* some bad lines: the good ones are committed all the same */
	bad = rc == IG_EX_DATAERR;
	if ((rc = ig_store_end(ctx->store, bad ? 0 : rc, err))) {
		json_decref(done);
		return rc;
	}
	*out = done;
	return bad ? IG_EX_DATAERR : 0;
}

int ig_kbadmin_rm(struct ig_ctx *ctx, int64_t tenant, int64_t id, json_t **out,
		  struct ig_err *err)
{
	char target[48];
	int rc;

	*out = NULL;
	if ((rc = require(ctx, tenant, IG_WRITE, "kb", err)) || (rc = ig_store_begin(ctx->store, err)))
		return rc;
	snprintf(target, sizeof(target), "kb:%lld", (long long)id);
	rc = ig_kb_rm(ctx->store, tenant, id, err);
	if (!rc)
		rc = ig_audit(ctx, tenant, "kb.rm", target, "ok", NULL, err);
	if ((rc = ig_store_end(ctx->store, rc, err)))
		return rc;
	if (!(*out = json_pack("{s:I,s:b}", "id", (json_int_t)id, "removed", 1)))
		return oom(err);
	return 0;
}

int ig_kbadmin_list(struct ig_ctx *ctx, int64_t tenant, const char *agent, json_t **out,
		    struct ig_err *err)
{
	int64_t aid;
	int rc;

	*out = NULL;
	if ((rc = require(ctx, tenant, IG_READ, "kb", err))
	    || (rc = agent_id(ctx, tenant, agent, &aid, err)))
		return rc;
	return ig_kb_list(ctx->store, tenant, agent ? aid : -1, out, err);
}

int ig_kbadmin_templates(struct ig_ctx *ctx, int64_t tenant, json_t **out, struct ig_err *err)
{
	int rc;

	*out = NULL;
	if ((rc = require(ctx, tenant, IG_READ, "templates", err)))
		return rc;
	return ig_template_list(ctx->store, tenant, out, err);
}

int ig_kbadmin_search(struct ig_ctx *ctx, int64_t tenant, const char *agent, const char *text,
		      long limit, json_t **out, struct ig_err *err)
{
	struct ig_kb_result kr;
	int64_t aid;
	int rc, i;

	*out = NULL;
	if ((rc = require(ctx, tenant, IG_READ, "kb", err))
	    || (rc = agent_id(ctx, tenant, agent, &aid, err)))
		return rc;
	if ((rc = ig_kb_search(ctx->store, tenant, aid, text, NULL, NULL,
			       limit > 0 && limit < IG_KB_MAX_HITS ? (int)limit : 5, &kr, err)))
		return rc;
	if (!(*out = json_array())) {
		ig_kb_result_release(&kr);
		return oom(err);
	}
	for (i = 0; i < kr.n; i++)
		json_array_append_new(*out, json_pack("{s:s,s:I,s:s,s:s,s:f,s:f}",
			"kind", kr.hits[i].kind == IG_KB_ARTICLE ? "article" : "template",
			"id", (json_int_t)kr.hits[i].id, "title", kr.hits[i].title,
			"body", kr.hits[i].body,
			"coverage", (double)(long long)(kr.hits[i].coverage * 100 + 0.5) / 100,
			"bm25", (double)(long long)(kr.hits[i].bm25 * 1000) / 1000));
	ig_kb_result_release(&kr);
	return 0;
}

int ig_kbadmin_template_add(struct ig_ctx *ctx, int64_t tenant, const char *agent,
			    const char *name, const char *text, json_t **out, struct ig_err *err)
{
	char target[160];
	int64_t aid, id;
	int rc;

	*out = NULL;
	if ((rc = require(ctx, tenant, IG_WRITE, "templates", err))
	    || (rc = agent_id(ctx, tenant, agent, &aid, err))
	    || (rc = ig_store_begin(ctx->store, err)))
		return rc;
	snprintf(target, sizeof(target), "template:%s", name);
	rc = ig_template_add(ctx->store, tenant, aid, name, text, &id, err);
	if (!rc)
		rc = ig_audit(ctx, tenant, "template.add", target, "ok", NULL, err);
	if ((rc = ig_store_end(ctx->store, rc, err)))
		return rc;
	if (!(*out = json_pack("{s:I,s:s,s:s?}", "id", (json_int_t)id, "name", name, "agent", agent)))
		return oom(err);
	return 0;
}

int ig_kbadmin_template_rm(struct ig_ctx *ctx, int64_t tenant, const char *name, json_t **out,
			   struct ig_err *err)
{
	char target[160];
	int rc;

	*out = NULL;
	if ((rc = require(ctx, tenant, IG_WRITE, "templates", err))
	    || (rc = ig_store_begin(ctx->store, err)))
		return rc;
	snprintf(target, sizeof(target), "template:%s", name);
	rc = ig_template_rm(ctx->store, tenant, name, err);
	if (!rc)
		rc = ig_audit(ctx, tenant, "template.rm", target, "ok", NULL, err);
	if ((rc = ig_store_end(ctx->store, rc, err)))
		return rc;
	if (!(*out = json_pack("{s:s,s:b}", "name", name, "removed", 1)))
		return oom(err);
	return 0;
}

int ig_kbadmin_explain(struct ig_ctx *ctx, int64_t tenant, const char *agent, const char *text,
		       json_t **out, struct ig_err *err)
{
	const char *v = ig_config_get(&ctx->cfg, "kb_min_confidence");
	char *end = NULL;
	double min = v ? strtod(v, &end) : 0.5;
	int64_t aid;
	int rc;

	*out = NULL;
	if (!v || end == v || *end || min < 0 || min > 1)
		return ig_err_set(err, IG_EX_CONFIG,
				  "setting kb_min_confidence must be a number from 0 to 1, not '%s'",
				  v ? v : "");
	if ((rc = require(ctx, tenant, IG_READ, "kb", err))
	    || (rc = agent_id(ctx, tenant, agent, &aid, err)))
		return rc;
	return ig_kb_explain(ctx->store, tenant, aid, text, NULL, NULL, min, out, err);
}

/* add or rm with its audit row, in one transaction. */
static int synonyms_change(struct ig_ctx *ctx, int64_t tenant, const char *agent, int add,
			   const char *word, const char *const *alts, int nalts, json_t **out,
			   struct ig_err *err)
{
	char folded[232], target[256];
	int64_t aid;
	json_t *d;
	int n = 0, rc;

	*out = NULL;
	if ((rc = require(ctx, tenant, IG_WRITE, "kb", err))
	    || (rc = agent_id(ctx, tenant, agent, &aid, err))
	    || (rc = ig_store_begin(ctx->store, err)))
		return rc;
	rc = add ? ig_kb_synonym_add(ctx->store, tenant, aid, word, alts, nalts, &n, err)
		 : ig_kb_synonym_rm(ctx->store, tenant, aid, word, alts, nalts, &n, err);
	ig_textnorm_fold(word, folded, sizeof(folded));
	snprintf(target, sizeof(target), "kb-synonym:%s", folded);
	if (!rc) {
		d = json_pack("{s:s?,s:i}", "agent", agent, "pairs", n);
		rc = ig_audit(ctx, tenant, add ? "kb.synonyms.add" : "kb.synonyms.rm", target, "ok", d,
			      err);
		json_decref(d);
	}
	if ((rc = ig_store_end(ctx->store, rc, err)))
		return rc;
	if (!(*out = json_pack("{s:s,s:s?,s:i}", "word", folded, "agent", agent,
			       add ? "added" : "removed", n)))
		return oom(err);
	return 0;
}

int ig_kbadmin_synonyms_add(struct ig_ctx *ctx, int64_t tenant, const char *agent,
			    const char *word, const char *const *alts, int nalts, json_t **out,
			    struct ig_err *err)
{
	return synonyms_change(ctx, tenant, agent, 1, word, alts, nalts, out, err);
}

int ig_kbadmin_synonyms_rm(struct ig_ctx *ctx, int64_t tenant, const char *agent,
			   const char *word, const char *const *alts, int nalts, json_t **out,
			   struct ig_err *err)
{
	return synonyms_change(ctx, tenant, agent, 0, word, alts, nalts, out, err);
}

int ig_kbadmin_synonyms_list(struct ig_ctx *ctx, int64_t tenant, const char *agent,
			     json_t **out, struct ig_err *err)
{
	int64_t aid;
	int rc;

	*out = NULL;
	if ((rc = require(ctx, tenant, IG_READ, "kb", err))
	    || (rc = agent_id(ctx, tenant, agent, &aid, err)))
		return rc;
	return ig_kb_synonym_list(ctx->store, tenant, agent ? aid : -1, out, err);
}
