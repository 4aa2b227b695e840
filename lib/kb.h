/*
 * kb.h — the knowledge base (kb_articles + kb_fts), canned responses
 * (templates + templates_fts), and the built-in `kb` reply engine: search the
 * passages that answer a customer's messages and compose the answer in the
 * agent's voice.
 *
 * Confidence (the kb engine's definition; ig-reply(1) and igkit(7) state it):
 *   1. The customer's text is cut into words in the agent's language
 *      (agents.language; tenant-wide: the language most of the tenant's
 *      agents speak): lower case, accents folded, elisions split, stop words
 *      and question words/common verbs dropped, the rest stemmed with
 *      Snowball (lib/textnorm.h).  What is left are the question's terms.
 *   2. A synonym the business gave (kb_synonyms, both ways, phrases too)
 *      is an alternative of the term it names.
 *   3. A passage (article: title, tags, body; template: name, text; the
 *      location context) is stemmed the same way; a term is covered when
 *      one of its alternatives occurs in it (every word of a phrase; a stem
 *      matches an equal stem, or one it begins or that begins it when the
 *      shorter has at least 5 letters).
 *   4. coverage = covered terms / terms.  Passages are ranked by coverage,
 *      then by where the terms are (title 3, tags 2, body 1 each), then the
 *      agent's own before tenant-wide ones, then FTS5 bm25.
 *   5. The best passage's coverage is the confidence; below the
 *      kb_min_confidence setting the engine hands over to a human.  A text
 *      with no term and no question word ("hi!", "grazie", an emoji) gets a
 *      greeting; a question with no term ("quando?") is handed over.
 * Candidates come from FTS5 (unicode61, diacritics folded) by word prefix:
 * the index needs no tokenizer of igkit's own (see kb.c).
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
#define IG_KB_MAX_WORDS 64    /* words of the question kept for kb explain */
#define IG_KB_MAX_ALTS 4      /* a term and its synonyms */
#define IG_KB_MAX_PHRASE 3    /* words of a synonym phrase */
#define IG_KB_WORD 48         /* = IG_TN_WORD */
#define IG_REPLY_MAX_TEXT 1000   /* Instagram's text limit, bytes (reference §3.2) */

/* What the composer knows of the answering agent and account (borrowed). */
struct ig_persona {
	const char *name;             /* agent handle, e.g. "marco" */
	const char *display_name;     /* "Marco"; "" → name */
	const char *personality;
	const char *instructions;
	const char *business_name;
	const char *language;         /* en it es fr de pt nl; others fall back to en */
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
	int score;           /* Σ field weights of the covered terms */
	uint32_t covered;    /* bit i: terms[i] covered */
	unsigned char field[IG_KB_MAX_TERMS];  /* per term: 3 title, 2 tags, 1 body, 0 */
};

/* One alternative of a term: its stems (several for a phrase) and the
 * folded words they come from. */
struct ig_kb_alt {
	int n;
	char stem[IG_KB_MAX_PHRASE][IG_KB_WORD];
	char word[IG_KB_MAX_PHRASE][IG_KB_WORD];
};

struct ig_kb_term {
	int df;                                 /* passages that have it */
	double weight;                          /* ln((N + 1) / (max(df, 1) + 0.5)) */
	int nalts;                              /* alts[0]: the customer's word(s) */
	struct ig_kb_alt alts[IG_KB_MAX_ALTS];
};

struct ig_kb_word {
	char word[IG_KB_WORD], stem[IG_KB_WORD];
	int cls;                                /* enum ig_tn_class */
};

struct ig_kb_result {
	char lang[8];                           /* the language the text was read in */
	int stemmed;                            /* 1: Snowball stemmer for lang */
	int asked;                              /* a question word or a term was seen */
	int nwords;
	struct ig_kb_word words[IG_KB_MAX_WORDS];
	int nterms;                             /* terms of the question */
	struct ig_kb_term terms[IG_KB_MAX_TERMS];
	int nsynonyms;                          /* synonym pairs applied */
	int npassages;                          /* N: passages the agent can answer from */
	int n;
	struct ig_kb_hit hits[IG_KB_MAX_HITS];  /* best first */
};

void ig_kb_result_release(struct ig_kb_result *r);

/* Where the library's one-time notices go ("no stemmer for language 'xx'"):
 * the program gives a printer; without one they are dropped. */
void ig_kb_set_notice(void (*fn)(const char *msg));

/* The search keeps one normaliser (stemmer, lists) per language for the
 * life of the process; this frees them (a later search builds them again). */
void ig_kb_release_cache(void);

/*
 * Search the tenant's passages for text: articles and templates of the
 * tenant (agent_id NULL) and of agent_id (0 = tenant-wide only), and the
 * location context when given (loc_context may be NULL or "").  Fills r
 * (release it) with at most `limit` hits, best first.  0 or an exit code.
 */
int ig_kb_search(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *text,
		 const char *loc_name, const char *loc_context, int limit,
		 struct ig_kb_result *r, struct ig_err *err);

/*
 * kb explain: the reasons of the kb engine for text, as a new object in *out:
 * {language, stemmer, words:[{word,stem,class}],
 *  terms:[{alternatives:[stems],passages,weight}], synonyms, passages,
 *  hits:[{kind,id,title,coverage,score,matched,missing}],
 *  min_confidence, confidence, decision: "answer"|"escalate"|"greeting",
 *  reason}.  0 or an exit code.
 */
int ig_kb_explain(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *text,
		  const char *loc_name, const char *loc_context, double min_confidence,
		  json_t **out, struct ig_err *err);

/*
 * Synonyms (the caller checks permissions and audits).  agent_id 0 =
 * tenant-wide.  word and each alt are stored folded (lower case, no accents,
 * words separated by one space); a pair already there is not an error.
 * *added: pairs new.  An empty word or alt, an alt equal to the word, more
 * than 200 bytes → 65.
 */
int ig_kb_synonym_add(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *word,
		      const char *const *alts, int nalts, int *added, struct ig_err *err);
/* Remove word's pairs in that scope (only those with alts when nalts > 0);
 * *removed: pairs removed; none → 65 "no synonyms of 'w'". */
int ig_kb_synonym_rm(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *word,
		     const char *const *alts, int nalts, int *removed, struct ig_err *err);
/* [{word, agent (null = tenant-wide), alts:[...]}] ordered by word; agent_id
 * < 0 = every scope, 0 = tenant-wide only, > 0 = that agent's and
 * tenant-wide. */
int ig_kb_synonym_list(struct ig_store *st, int64_t tenant_id, int64_t agent_id, json_t **out,
		       struct ig_err *err);

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
