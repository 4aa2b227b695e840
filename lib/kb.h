/*
 * kb.h — the knowledge base (kb_articles + kb_fts), canned responses
 * (templates + templates_fts), and the built-in `kb` reply engine: search the
 * passages that answer a customer's messages and compose the answer in the
 * agent's voice.
 *
 * Confidence (the kb engine's definition, ig-reply(1) documents it): the
 * customer's text is reduced to its content terms (words of 3+ bytes, lower
 * case, stop words dropped, a plural -s stripped); a passage's *coverage* is
 * the share of those terms that occur in it (a term matches a word it
 * begins).  Passages are found with FTS5 (prefix terms OR-ed) and ranked by
 * coverage, then bm25.  The best passage's coverage is the confidence; below
 * the kb_min_confidence setting the engine does not guess.  A text with no
 * content term at all ("hi!", an emoji) gets a greeting in the agent's voice.
 *
 * Everything here is deterministic: the same store and text give the same
 * answer.  Strings in results are owned by the result (release frees them).
 */
#ifndef IG_KB_H
#define IG_KB_H

#include <stdint.h>
#include <jansson.h>

#include "err.h"
#include "store.h"

#define IG_KB_MAX_TERMS 32
#define IG_KB_MAX_HITS 8
#define IG_REPLY_MAX_TEXT 1000   /* Instagram's text limit, bytes (reference §3.2) */

/* What the composer knows of the answering agent and account (borrowed). */
struct ig_persona {
	const char *name;             /* agent handle, e.g. "marco" */
	const char *display_name;     /* "Marco"; "" → name */
	const char *personality;
	const char *instructions;
	const char *business_name;
	const char *language;         /* "en", "it", ...; others fall back to en */
	const char *location_name;    /* "" when the account has no location */
	const char *location_context;
};

enum ig_kb_kind { IG_KB_ARTICLE = 'a', IG_KB_TEMPLATE = 't', IG_KB_LOCATION = 'l' };

struct ig_kb_hit {
	enum ig_kb_kind kind;
	int64_t id;          /* article / template id; 0 for the location */
	int64_t agent_id;    /* 0 = tenant-wide */
	char *title;         /* article title, template name, location name */
	char *body;          /* article body, template text, location context */
	double bm25;         /* FTS5 bm25 (lower is better); 0 for the location */
	double coverage;     /* 0..1 */
};

struct ig_kb_result {
	int nterms;                         /* content terms in the query */
	char terms[IG_KB_MAX_TERMS][32];
	int n;
	struct ig_kb_hit hits[IG_KB_MAX_HITS];  /* best first */
};

void ig_kb_result_release(struct ig_kb_result *r);

/* Reduce text to its content terms (see above); returns how many. */
int ig_kb_terms(const char *text, char terms[][32], int max);

/*
 * Search the tenant's passages for text: articles and templates of the
 * tenant (agent_id NULL) and of agent_id (0 = tenant-wide only), and the
 * location context when given (loc_context may be NULL or "").  Fills r
 * (release it) with at most `limit` hits, best first.  0 or an exit code.
 */
int ig_kb_search(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *text,
		 const char *loc_name, const char *loc_context, int limit,
		 struct ig_kb_result *r, struct ig_err *err);

/* The tone picked for a personality: "energetic", "empathetic", "formal",
 * "friendly" or "neutral" (the first personality word that names one). */
const char *ig_kb_tone(const char *personality);

/*
 * Compose the kb engine's answer to r in p's voice.  Returns 1 with *text a
 * new string (≤ IG_REPLY_MAX_TEXT bytes) and *confidence set; 0 when the
 * best passage covers less than min_confidence (*text NULL: hand over to a
 * human); -1 out of memory.  *source names what answered ("article:12",
 * "template:hours", "location", "greeting"; static or in r — copy it).
 */
int ig_kb_compose(const struct ig_persona *p, const struct ig_kb_result *r,
		  double min_confidence, char **text, double *confidence, char *source,
		  size_t sourcelen);

/* Replace {business}, {agent} and {location} in a template text; new string. */
char *ig_kb_fill(const char *tmpl, const struct ig_persona *p);

/* Cut s in place to at most max bytes on a UTF-8 boundary, preferring the
 * end of a sentence in its last third, else adding "…". */
void ig_kb_clip(char *s, size_t max);

/* --- management (the caller checks permissions and audits) --- */

/* agent_id 0 = tenant-wide.  *id is the new row's id. */
int ig_kb_add(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *title,
	      const char *body, const char *tags, int64_t *id, struct ig_err *err);
/* Unknown id (in this tenant) → 65. */
int ig_kb_rm(struct ig_store *st, int64_t tenant_id, int64_t id, struct ig_err *err);
/* Articles as objects {id,agent,title,body,tags,created} (new reference);
 * agent_id < 0 = all, 0 = tenant-wide only, > 0 = that agent's and
 * tenant-wide. */
int ig_kb_list(struct ig_store *st, int64_t tenant_id, int64_t agent_id, json_t **out,
	       struct ig_err *err);

/* Template names are unique per tenant: a second add of a name → 65. */
int ig_template_add(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *name,
		    const char *text, int64_t *id, struct ig_err *err);
int ig_template_rm(struct ig_store *st, int64_t tenant_id, const char *name, struct ig_err *err);
int ig_template_list(struct ig_store *st, int64_t tenant_id, json_t **out, struct ig_err *err);
/* The text of template `name` (new string); unknown → 65.  A template of
 * another agent than agent_id (when it has one) is refused with 65 too. */
int ig_template_get(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *name,
		    char **text, struct ig_err *err);

#endif
