/*
 * kbadmin.h — the knowledge base and the canned-response templates as a
 * tenant's members change them: permission checks (module agents: read for
 * listings and search, write for changes), each write with its audit row in
 * the same transaction, results as JSON records once committed.  The
 * storage and search themselves are lib/kb.c's.
 */
#ifndef IG_KBADMIN_H
#define IG_KBADMIN_H

#include <stdint.h>
#include <jansson.h>

#include "ctx.h"
#include "err.h"
#include "jsonio.h"

/*
 * agent: an agent's name (NULL: tenant-wide).  Unknown agent → 65.
 * Outputs are new references; on failure nothing was written.
 */

/* One article: *out {id,title,agent}. */
int ig_kbadmin_add(struct ig_ctx *ctx, int64_t tenant, const char *agent, const char *title,
		   const char *body, const char *tags, json_t **out, struct ig_err *err);

/* Called for each bad line of an import ("NAME:LINE: why"). */
typedef void ig_kbadmin_report_fn(void *arg, const char *msg);

/*
 * Articles from JSON Lines {"title","body","tags","agent"} (agent and tags
 * default to the given ones), all in one transaction: a bad line is
 * reported and skipped, the others are added.  *out: the array of added
 * records.  0, 65 when some line was bad (the rest committed; *out set), or
 * an exit code with *out NULL (nothing added: a store failure, a commit
 * refused).
 */
int ig_kbadmin_import(struct ig_ctx *ctx, int64_t tenant, const char *agent, const char *tags,
		      struct ig_jsonl_reader *rd, ig_kbadmin_report_fn *report, void *arg,
		      json_t **out, struct ig_err *err);

/* Remove an article (65 when not in tenant): *out {id,removed:true}. */
int ig_kbadmin_rm(struct ig_ctx *ctx, int64_t tenant, int64_t id, json_t **out,
		  struct ig_err *err);

/* Listings (read access): the articles (agent NULL: all), the templates. */
int ig_kbadmin_list(struct ig_ctx *ctx, int64_t tenant, const char *agent, json_t **out,
		    struct ig_err *err);
int ig_kbadmin_templates(struct ig_ctx *ctx, int64_t tenant, json_t **out, struct ig_err *err);

/* Search as the reply engine would (agent NULL: tenant-wide): *out an array
 * of {kind,id,title,body,coverage,bm25}, at most limit (1..IG_KB_MAX_HITS,
 * else 5). */
int ig_kbadmin_search(struct ig_ctx *ctx, int64_t tenant, const char *agent, const char *text,
		      long limit, json_t **out, struct ig_err *err);

/* A template: *out {id,name,agent}; remove: *out {name,removed:true}. */
int ig_kbadmin_template_add(struct ig_ctx *ctx, int64_t tenant, const char *agent,
			    const char *name, const char *text, json_t **out, struct ig_err *err);
int ig_kbadmin_template_rm(struct ig_ctx *ctx, int64_t tenant, const char *name, json_t **out,
			   struct ig_err *err);

/*
 * kb explain (read access): the engine's reasons for text as the agent
 * (NULL: tenant-wide) would see them, against the kb_min_confidence setting
 * (78 when it is not a number from 0 to 1).  *out new (see ig_kb_explain).
 */
int ig_kbadmin_explain(struct ig_ctx *ctx, int64_t tenant, const char *agent, const char *text,
		       json_t **out, struct ig_err *err);

/*
 * Synonyms of the tenant (agent NULL) or of an agent.  add/rm (write
 * access) run in one transaction with their audit row (kb.synonyms.add,
 * kb.synonyms.rm); *out {word (folded), agent, added|removed: pairs}.
 * list (read access): *out as ig_kb_synonym_list (agent NULL: every scope).
 */
int ig_kbadmin_synonyms_add(struct ig_ctx *ctx, int64_t tenant, const char *agent,
			    const char *word, const char *const *alts, int nalts, json_t **out,
			    struct ig_err *err);
int ig_kbadmin_synonyms_rm(struct ig_ctx *ctx, int64_t tenant, const char *agent,
			   const char *word, const char *const *alts, int nalts, json_t **out,
			   struct ig_err *err);
int ig_kbadmin_synonyms_list(struct ig_ctx *ctx, int64_t tenant, const char *agent,
			     json_t **out, struct ig_err *err);

#endif
