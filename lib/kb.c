/*
 * kb.c — knowledge base, templates and the kb engine's composition.
 * The definitions (terms, coverage, confidence, tones) are in kb.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "igtime.h"
#include "kb.h"
#include "textnorm.h"

/*
 * Why no FTS5 tokenizer of igkit's own (issue 14 suggested one): the stems
 * depend on the language of the agent who is asked, not on the article — a
 * tenant-wide article serves an Italian and an English agent alike — so an
 * index stemmed at write time would fix one language per article.  And a
 * custom tokenizer must be registered on every connection that touches the
 * FTS tables, including a tenant-admin cascade or a GDPR erasure, and would
 * bring libstemmer into ig-route and tenant-admin.  So the FTS5 tables keep
 * unicode61 (diacritics folded, 011-kb.sql) and only find candidates by word
 * prefix — the part of each stem the customer's word shares, at most 5
 * letters; every candidate is then read in the agent's language here, with
 * the same lib/textnorm steps applied to both sides.  The same can be done
 * on another backend with any prefix search.
 */
static void (*notice_fn)(const char *msg);

void ig_kb_set_notice(void (*fn)(const char *msg))
{
	notice_fn = fn;
}

/* Say once per process and language that it is read without stemming. */
static void notice_unstemmed(const char *lang)
{
	static char said[16][8];
	static int nsaid;
	char msg[160];
	int i;

	for (i = 0; i < nsaid; i++)
		if (!strcmp(said[i], lang))
			return;
	if (nsaid < 16)
		snprintf(said[nsaid++], sizeof(said[0]), "%s", lang);
	snprintf(msg, sizeof(msg), "kb: no stemmer for language '%s': its words are matched"
		 " unstemmed", lang);
	if (notice_fn)
		notice_fn(msg);
}

/* One normaliser per language for the life of the process: building one
 * (stemmer, sorted lists) costs more than a search. */
static struct ig_textnorm *tn_cache[8];
static char tn_langs[8][8];
static int tn_n;

void ig_kb_release_cache(void)
{
	while (tn_n > 0)
		ig_textnorm_free(tn_cache[--tn_n]);
}

static struct ig_textnorm *textnorm_for(const char *lang)
{
	struct ig_textnorm *tn;
	int i;

	for (i = 0; i < tn_n; i++)
		if (!strcmp(tn_langs[i], lang))
			return tn_cache[i];
	if (!(tn = ig_textnorm_new(lang)))
		return NULL;
	if (tn_n == 8) {       /* a ninth language: the oldest goes */
		ig_textnorm_free(tn_cache[0]);
		memmove(tn_cache, tn_cache + 1, sizeof(tn_cache[0]) * 7);
		memmove(tn_langs, tn_langs + 1, sizeof(tn_langs[0]) * 7);
		tn_n--;
	}
	tn_cache[tn_n] = tn;
	snprintf(tn_langs[tn_n++], sizeof(tn_langs[0]), "%s", lang);
	return tn;
}

/* Is the lowercase word w a byte-wise word (for tone words)? */
static int is_word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		|| c >= 0x80;
}

/* Next lower-cased word of *p into w (at most 31 bytes kept); 0 at end. */
static int next_word(const char **p, char w[32])
{
	const unsigned char *s = (const unsigned char *)*p;
	size_t n = 0;

	while (*s && !is_word_byte(*s))
		s++;
	if (!*s) {
		*p = (const char *)s;
		return 0;
	}
	while (*s && is_word_byte(*s)) {
		if (n < 31)
			w[n++] = (char)((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
		s++;
	}
	while (n > 0 && ((unsigned char)w[n - 1] & 0xC0) == 0x80)
		n--;
	if (n > 0 && ((unsigned char)w[n - 1] & 0xC0) == 0xC0)
		n--;
	w[n] = '\0';
	*p = (const char *)s;
	return 1;
}

/* ---------------------------------------------------------------- the question */

/* The language a text to agent_id is read in: the agent's; tenant-wide,
 * the one most of the tenant's agents speak; else English. */
static int search_lang(struct ig_store *st, int64_t tenant_id, int64_t agent_id, char lang[8],
		       struct ig_err *err)
{
	struct ig_stmt *s;
	int n;

	snprintf(lang, 8, "en");
	if (agent_id > 0)
		s = ig_store_query(st, err,
			"SELECT language FROM agents WHERE id = ? AND tenant_id = ?", "ii",
			agent_id, tenant_id);
	else
		s = ig_store_query(st, err,
			"SELECT language FROM agents WHERE tenant_id = ?"
			" GROUP BY language ORDER BY COUNT(*) DESC, language LIMIT 1", "i", tenant_id);
	if (!s)
		return err ? err->code : IG_EX_SOFTWARE;
	if ((n = ig_stmt_next(st, s, err)) > 0) {
		if (*ig_col_text(s, 0))
			snprintf(lang, 8, "%s", ig_col_text(s, 0));
		ig_stmt_reset(s);
	}
	return n < 0 ? (err ? err->code : IG_EX_SOFTWARE) : 0;
}

/* Do stems q (of the question) and p (of a passage) meet?  Equal, or the
 * shorter (5 letters at least) begins the longer, which has at most 3 more
 * ("allerg" and "allergen", not "caric" and "caricabatter"), or they differ
 * only in the shorter's last letter and share 5 ("garanz" and "garant"). */
static int stem_match(const char *q, const char *p)
{
	size_t lq = strlen(q), lp = strlen(p), m = lq < lp ? lq : lp, x = lq + lp - 2 * m, c = 0;

	while (q[c] && q[c] == p[c])
		c++;
	if (c == lq && c == lp)
		return 1;
	return c >= 5 && c + 1 >= m && x <= 3;
}

/* The content stems of a synonym side into a (words folded); 0 when none. */
static int side_of(struct ig_textnorm *tn, const char *text, struct ig_kb_alt *a)
{
	const char *p = text;
	char w[IG_TN_WORD], stem[IG_TN_WORD];
	enum ig_tn_class cls;

	a->n = 0;
	while (ig_textnorm_next(tn, &p, w, stem, &cls)) {
		if (cls != IG_TN_CONTENT)
			continue;
		if (a->n == IG_KB_MAX_PHRASE)
			return 0;      /* longer phrases are not matched */
		snprintf(a->stem[a->n], IG_KB_WORD, "%s", stem);
		snprintf(a->word[a->n], IG_KB_WORD, "%s", w);
		a->n++;
	}
	return a->n;
}

/* If side `from` occurs in r's terms (in order, one term a word), make
 * `to` an alternative of it (a phrase's terms become one); 1 when applied. */
static int apply_synonym(struct ig_kb_result *r, const struct ig_kb_alt *from,
			 const struct ig_kb_alt *to)
{
	int i, j, k;

	for (i = 0; i + from->n <= r->nterms; i++) {
		for (j = 0; j < from->n; j++)
			if (r->terms[i + j].alts[0].n != 1
			    || strcmp(r->terms[i + j].alts[0].stem[0], from->stem[j]))
				break;
		if (j < from->n)
			continue;
		if (from->n > 1) {
			/* the phrase's words become one term, alternative 0 */
			struct ig_kb_term *t = &r->terms[i];

			t->alts[0] = *from;
			t->nalts = 1;
			for (k = i + 1; k + from->n - 1 < r->nterms; k++)
				r->terms[k] = r->terms[k + from->n - 1];
			r->nterms -= from->n - 1;
		}
		for (k = 0; k < r->terms[i].nalts; k++) {
			const struct ig_kb_alt *have = &r->terms[i].alts[k];

			for (j = 0; j < to->n && have->n == to->n; j++)
				if (strcmp(have->stem[j], to->stem[j]))
					break;
			if (have->n == to->n && j == to->n)
				return 0;      /* already an alternative */
		}
		if (r->terms[i].nalts == IG_KB_MAX_ALTS)
			return 0;
		r->terms[i].alts[r->terms[i].nalts++] = *to;
		return 1;
	}
	return 0;
}

static const char SQL_SYNONYMS[] =
	"SELECT word, alt FROM kb_synonyms WHERE tenant_id = ? AND (agent_id IS NULL OR agent_id = ?)"
	" ORDER BY agent_id IS NULL, id";

/* Words, terms and synonyms of text into r. */
static int read_question(struct ig_store *st, struct ig_textnorm *tn, int64_t tenant_id,
			 int64_t agent_id, const char *text, struct ig_kb_result *r,
			 struct ig_err *err)
{
	const char *p = text ? text : "";
	char w[IG_TN_WORD], stem[IG_TN_WORD];
	enum ig_tn_class cls;
	struct ig_stmt *s;
	int i, n;

	while (ig_textnorm_next(tn, &p, w, stem, &cls)) {
		if (r->nwords < IG_KB_MAX_WORDS) {
			struct ig_kb_word *kw = &r->words[r->nwords++];

			snprintf(kw->word, IG_KB_WORD, "%s", w);
			snprintf(kw->stem, IG_KB_WORD, "%s", stem);
			kw->cls = cls;
		}
		if (cls == IG_TN_ASK)
			r->asked = 1;
		if (cls != IG_TN_CONTENT || r->nterms == IG_KB_MAX_TERMS)
			continue;
		r->asked = 1;
		for (i = 0; i < r->nterms; i++)
			if (!strcmp(r->terms[i].alts[0].stem[0], stem))
				break;
		if (i < r->nterms)
			continue;
		r->terms[i].nalts = 1;
		r->terms[i].alts[0].n = 1;
		snprintf(r->terms[i].alts[0].stem[0], IG_KB_WORD, "%s", stem);
		snprintf(r->terms[i].alts[0].word[0], IG_KB_WORD, "%s", w);
		r->nterms++;
	}
	if (!r->nterms)
		return 0;
	if (!(s = ig_store_query(st, err, SQL_SYNONYMS, "ii", tenant_id, agent_id)))
		return err ? err->code : IG_EX_SOFTWARE;
	while ((n = ig_stmt_next(st, s, err)) > 0) {
		struct ig_kb_alt a, b;

		if (!side_of(tn, ig_col_text(s, 0), &a) || !side_of(tn, ig_col_text(s, 1), &b))
			continue;
		r->nsynonyms += apply_synonym(r, &a, &b);
		r->nsynonyms += apply_synonym(r, &b, &a);
	}
	return n < 0 ? (err ? err->code : IG_EX_SOFTWARE) : 0;
}

/* ---------------------------------------------------------------- passages */

/* Covered terms, their fields and the score of hit h from its texts
 * (weights: 3 title, 2 tags, 1 body): each word of the passage is stemmed
 * once and compared with the question's stems; an alternative counts in the
 * lowest field among its words.  The coverage comes later, when every df is
 * known. */
static void score_hit(struct ig_textnorm *tn, const struct ig_kb_result *r, struct ig_kb_hit *h,
		      const char *const *texts, const int *weights, int ntexts)
{
	unsigned char best[IG_KB_MAX_TERMS][IG_KB_MAX_ALTS][IG_KB_MAX_PHRASE];
	char w[IG_TN_WORD], stem[IG_TN_WORD];
	int t, i, k, j;

	memset(best, 0, sizeof(best));
	for (t = 0; t < ntexts; t++) {
		const char *p = texts[t] ? texts[t] : "";

		while (ig_textnorm_next(tn, &p, w, stem, NULL))
			for (i = 0; i < r->nterms; i++)
				for (k = 0; k < r->terms[i].nalts; k++)
					for (j = 0; j < r->terms[i].alts[k].n; j++)
						if (best[i][k][j] < weights[t]
						    && stem_match(r->terms[i].alts[k].stem[j], stem))
							best[i][k][j] = (unsigned char)weights[t];
	}
	h->covered = 0;
	h->score = 0;
	for (i = 0; i < r->nterms; i++) {
		int top = 0;

		for (k = 0; k < r->terms[i].nalts; k++) {
			int low = 3;

			for (j = 0; j < r->terms[i].alts[k].n; j++)
				if (best[i][k][j] < low)
					low = best[i][k][j];
			if (low > top)
				top = low;
		}
		h->field[i] = (unsigned char)top;
		if (top) {
			h->covered |= 1u << i;
			h->score += top;
		}
	}
}

/* How much a term found in a field counts: title or tags fully, the body
 * (an article's text, a template's text, a location's context) half. */
static double field_share(int field)
{
	return field >= 2 ? 1.0 : field == 1 ? 0.5 : 0.0;
}

/* Weighted coverage of h: Σ weight × field share of its terms / Σ weight. */
static double coverage_of(const struct ig_kb_result *r, const struct ig_kb_hit *h)
{
	double got = 0, all = 0;
	int i;

	for (i = 0; i < r->nterms; i++) {
		all += r->terms[i].weight;
		got += r->terms[i].weight * field_share(h->field[i]);
	}
	return all > 0 ? got / all : 0;
}

void ig_kb_result_release(struct ig_kb_result *r)
{
	int i;

	for (i = 0; i < r->n; i++) {
		free(r->hits[i].title);
		free(r->hits[i].body);
	}
	r->n = 0;
}

static int hit_better(const struct ig_kb_hit *a, const struct ig_kb_hit *b)
{
	if (a->coverage != b->coverage)
		return a->coverage > b->coverage;
	if (a->score != b->score)
		return a->score > b->score;
	/* the agent's own passages before tenant-wide ones */
	if ((a->agent_id != 0) != (b->agent_id != 0))
		return a->agent_id != 0;
	if (a->bm25 != b->bm25)
		return a->bm25 < b->bm25;
	if (a->kind != b->kind)
		return a->kind < b->kind;
	return a->id < b->id;
}

/* Insert keeping hits sorted, at most `limit`; takes ownership of title/body. */
static void add_hit(struct ig_kb_result *r, int limit, struct ig_kb_hit *h)
{
	int i, pos;

	for (pos = 0; pos < r->n && !hit_better(h, &r->hits[pos]); pos++)
		;
	if (pos >= limit) {
		free(h->title);
		free(h->body);
		return;
	}
	if (r->n == limit) {
		free(r->hits[r->n - 1].title);
		free(r->hits[r->n - 1].body);
		r->n--;
	}
	for (i = r->n; i > pos; i--)
		r->hits[i] = r->hits[i - 1];
	r->hits[pos] = *h;
	r->n++;
}

/* The FTS prefixes of r's terms: what each stem shares with its word, at
 * most 5 bytes (stem_match meets longer stems on their first 5). */
static int prefixes_of(const struct ig_kb_result *r, char (*pre)[8], const char **ptr, int max)
{
	int i, k, j, n = 0, m;

	for (i = 0; i < r->nterms; i++)
		for (k = 0; k < r->terms[i].nalts; k++)
			for (j = 0; j < r->terms[i].alts[k].n && n < max; j++) {
				const char *st = r->terms[i].alts[k].stem[j];
				const char *w = r->terms[i].alts[k].word[j];
				size_t l = 0;

				while (st[l] && st[l] == w[l] && l < 5)
					l++;
				if (l < 2)
					l = strlen(st) < 5 ? strlen(st) : 5;
				while (l > 0 && ((unsigned char)st[l] & 0xC0) == 0x80)
					l--;    /* never half a UTF-8 letter */
				memcpy(pre[n], st, l);
				pre[n][l] = '\0';
				for (m = 0; m < n; m++)
					if (!strcmp(pre[m], pre[n]))
						break;
				if (m == n && l > 0) {
					ptr[n] = pre[n];
					n++;
				}
			}
	return n;
}

/* Candidates before they are weighed. */
struct cands {
	struct ig_kb_hit *v;
	size_t n, cap;
};

static int cands_push(struct cands *cv, const struct ig_kb_hit *h)
{
	if (cv->n == cv->cap) {
		size_t cap = cv->cap ? cv->cap * 2 : 32;
		struct ig_kb_hit *v = realloc(cv->v, cap * sizeof(*v));

		if (!v)
			return -1;
		cv->v = v;
		cv->cap = cap;
	}
	cv->v[cv->n++] = *h;
	return 0;
}

static void cands_free(struct cands *cv)
{
	size_t i;

	for (i = 0; i < cv->n; i++) {
		free(cv->v[i].title);
		free(cv->v[i].body);
	}
	free(cv->v);
	cv->v = NULL;
	cv->n = cv->cap = 0;
}

/* N: the articles and templates agent_id answers from. */
static int count_passages(struct ig_store *st, int64_t tenant_id, int64_t agent_id, int *n,
			  struct ig_err *err)
{
	int64_t a = 0, t = 0;

	if (ig_store_int(st, err, &a, "SELECT COUNT(*) FROM kb_articles WHERE tenant_id = ?"
			 " AND (agent_id IS NULL OR agent_id = ?)", "ii", tenant_id, agent_id) < 0
	    || ig_store_int(st, err, &t, "SELECT COUNT(*) FROM templates WHERE tenant_id = ?"
			    " AND (agent_id IS NULL OR agent_id = ?)", "ii", tenant_id, agent_id) < 0)
		return err ? err->code : IG_EX_SOFTWARE;
	*n = (int)(a + t);
	return 0;
}

int ig_kb_search(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *text,
		 const char *loc_name, const char *loc_context, int limit,
		 struct ig_kb_result *r, struct ig_err *err)
{
	static const int aw[3] = { 3, 1, 2 }, lw[2] = { 3, 2 };  /* a location context counts as tags */
	char pre[IG_KB_MAX_TERMS * IG_KB_MAX_ALTS * IG_KB_MAX_PHRASE][8];
	const char *ptr[IG_KB_MAX_TERMS * IG_KB_MAX_ALTS * IG_KB_MAX_PHRASE];
	struct ig_textnorm *tn;
	struct cands cv = { 0 };
	int pass, rc, n, npre, i;

	memset(r, 0, sizeof(*r));
	if (limit > IG_KB_MAX_HITS)
		limit = IG_KB_MAX_HITS;
	if (limit < 1)
		limit = 1;
	if ((rc = search_lang(st, tenant_id, agent_id, r->lang, err)))
		return rc;
	if (!(tn = textnorm_for(r->lang)))
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	r->stemmed = ig_textnorm_stems(tn);
	if (!r->stemmed)
		notice_unstemmed(r->lang);
	if ((rc = read_question(st, tn, tenant_id, agent_id, text, r, err)) || !r->nterms)
		return rc;
	if ((rc = count_passages(st, tenant_id, agent_id, &r->npassages, err)))
		return rc;
	npre = prefixes_of(r, pre, ptr, (int)(sizeof(ptr) / sizeof(ptr[0])));
	for (pass = 0; pass < 2 && npre; pass++) {
		struct ig_stmt *s = ig_store_kb_candidates(st, err, pass ? 't' : 'a', ptr, npre,
							   tenant_id, agent_id, 64);

		if (!s) {
				ig_kb_result_release(r);
			return err ? err->code : IG_EX_SOFTWARE;
		}
		while ((n = ig_stmt_next(st, s, err)) > 0) {
			struct ig_kb_hit h = { 0 };
			const char *texts[3];

			h.kind = pass ? IG_KB_TEMPLATE : IG_KB_ARTICLE;
			h.id = ig_col_int(s, 0);
			h.agent_id = ig_col_int(s, 1);
			texts[0] = ig_col_text(s, 2);
			texts[1] = ig_col_text(s, 3);
			texts[2] = ig_col_text(s, 4);
			h.bm25 = ig_col_double(s, 5);
			score_hit(tn, r, &h, texts, aw, pass ? 2 : 3);
			if (!(h.title = strdup(texts[0])) || !(h.body = strdup(texts[1]))) {
				free(h.title);
				ig_stmt_reset(s);
						ig_kb_result_release(r);
				return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
			}
			if (h.covered && cands_push(&cv, &h) == 0)
				continue;
			free(h.title);
			free(h.body);
			if (h.covered) {
				ig_stmt_reset(s);
				cands_free(&cv);
						ig_kb_result_release(r);
				return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
			}
		}
		if (n < 0) {
			cands_free(&cv);
				ig_kb_result_release(r);
			return err ? err->code : IG_EX_SOFTWARE;
		}
	}
	if (loc_context && *loc_context) {
		struct ig_kb_hit h = { 0 };
		const char *texts[2] = { loc_name, loc_context };

		h.kind = IG_KB_LOCATION;
		r->npassages++;
		score_hit(tn, r, &h, texts, lw, 2);
		if (h.covered) {
			h.title = strdup(loc_name ? loc_name : "");
			h.body = strdup(loc_context);
			if (!h.title || !h.body || cands_push(&cv, &h)) {
				free(h.title);
				free(h.body);
				cands_free(&cv);
						ig_kb_result_release(r);
				return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
			}
		}
	}
	/* A term weighs by its rarity among the passages (unknown words as the
	 * rarest), then each candidate gets its weighted coverage. */
	for (i = 0; i < r->nterms; i++) {
		size_t c;
		int df = 0;

		for (c = 0; c < cv.n; c++)
			df += !!(cv.v[c].covered & (1u << i));
		r->terms[i].df = df;
		r->terms[i].weight = log((r->npassages + 1.0) / ((df > 1 ? df : 1) + 0.5));
		if (r->terms[i].weight < 0.01)
			r->terms[i].weight = 0.01;
	}
	for (i = 0; i < (int)cv.n; i++) {
		cv.v[i].coverage = coverage_of(r, &cv.v[i]);
		add_hit(r, limit, &cv.v[i]);
	}
	free(cv.v);
	return 0;
}

/* ---------------------------------------------------------------- voice */

enum tone { T_ENERGETIC, T_EMPATHETIC, T_FORMAL, T_FRIENDLY, T_NEUTRAL, T_COUNT };

static const char *const tone_names[T_COUNT] = {
	"energetic", "empathetic", "formal", "friendly", "neutral"
};

/* Personality words that pick a tone (prefixes: "enthusiast" covers
 * enthusiastic; Italian words too). */
static const struct { const char *word; enum tone t; } tone_words[] = {
	{ "energ", T_ENERGETIC }, { "enthusias", T_ENERGETIC }, { "upbeat", T_ENERGETIC },
	{ "lively", T_ENERGETIC }, { "excit", T_ENERGETIC }, { "bubbly", T_ENERGETIC },
	{ "dynamic", T_ENERGETIC }, { "entusiast", T_ENERGETIC }, { "vivac", T_ENERGETIC },
	{ "empath", T_EMPATHETIC }, { "empati", T_EMPATHETIC }, { "caring", T_EMPATHETIC },
	{ "compassion", T_EMPATHETIC }, { "gentle", T_EMPATHETIC }, { "patient", T_EMPATHETIC },
	{ "warm", T_EMPATHETIC }, { "understanding", T_EMPATHETIC }, { "premuros", T_EMPATHETIC },
	{ "formal", T_FORMAL }, { "professional", T_FORMAL }, { "profession", T_FORMAL },
	{ "polite", T_FORMAL }, { "courteous", T_FORMAL }, { "elegant", T_FORMAL },
	{ "formale", T_FORMAL }, { "professional", T_FORMAL },
	{ "friendly", T_FRIENDLY }, { "casual", T_FRIENDLY }, { "cheerful", T_FRIENDLY },
	{ "relaxed", T_FRIENDLY }, { "playful", T_FRIENDLY }, { "amichevol", T_FRIENDLY },
	{ "simpatic", T_FRIENDLY }, { "allegr", T_FRIENDLY }, { "fun", T_FRIENDLY },
	{ NULL, T_NEUTRAL }
};

struct phrases {
	const char *open, *help, *close;
};

/* [language][tone]: en it es fr de pt nl (phrase_langs); other languages use "en". */
static const char phrase_langs[][3] = { "en", "it", "es", "fr", "de", "pt", "nl" };
static const struct phrases phrase_table[][T_COUNT] = {
	{
		{ "Hey there! Great question!", "What can I do for you today?",
		  "Can't wait to see you!" },
		{ "I understand, and I'm glad you asked.", "Tell me how I can help, I'm here for you.",
		  "We're here for you whenever you need us." },
		{ "Good day, and thank you for your message.", "How may we assist you?",
		  "Kind regards." },
		{ "Hi! Thanks for writing.", "How can I help?", "Talk soon!" },
		{ "Hello, thanks for your message.", "How can we help you?",
		  "Let us know if there is anything else." },
	}, {
		{ "Ciao! Ottima domanda!", "Cosa posso fare per te oggi?",
		  "Non vediamo l'ora di vederti!" },
		{ "Capisco, e sono felice che tu me lo abbia chiesto.",
		  "Dimmi come posso aiutarti, sono qui per te.", "Siamo qui per te, quando vuoi." },
		{ "Buongiorno, e grazie per il suo messaggio.", "Come possiamo esserle utili?",
		  "Cordiali saluti." },
		{ "Ciao! Grazie per averci scritto.", "Come posso aiutarti?", "A presto!" },
		{ "Salve, grazie per il messaggio.", "Come possiamo aiutarla?",
		  "Restiamo a disposizione." },
	}, {
		{ "¡Hola! ¡Qué buena pregunta!", "¿Qué puedo hacer por ti hoy?",
		  "¡Te esperamos con ganas!" },
		{ "Te entiendo, y me alegra que lo preguntes.",
		  "Dime cómo puedo ayudarte, estoy aquí para ti.",
		  "Estamos aquí para lo que necesites." },
		{ "Buenos días, y gracias por su mensaje.", "¿En qué podemos ayudarle?",
		  "Atentamente." },
		{ "¡Hola! Gracias por escribirnos.", "¿En qué te puedo ayudar?", "¡Hasta pronto!" },
		{ "Hola, gracias por tu mensaje.", "¿Cómo podemos ayudarte?",
		  "Quedamos a tu disposición." },
	}, {
		{ "Bonjour ! Excellente question !", "Que puis-je faire pour vous aujourd'hui ?",
		  "Au plaisir de vous voir !" },
		{ "Je comprends, et merci de nous avoir posé la question.",
		  "Dites-moi comment je peux vous aider, je suis là pour vous.",
		  "Nous sommes là pour vous, quand vous voulez." },
		{ "Bonjour, et merci pour votre message.", "Comment pouvons-nous vous aider ?",
		  "Cordialement." },
		{ "Salut ! Merci de nous avoir écrit.", "Comment puis-je t'aider ?", "À bientôt !" },
		{ "Bonjour, merci pour votre message.", "Comment pouvons-nous vous aider ?",
		  "N'hésitez pas si vous avez d'autres questions." },
	}, {
		{ "Hallo! Super Frage!", "Was kann ich heute für dich tun?",
		  "Wir freuen uns auf dich!" },
		{ "Ich verstehe, und danke, dass du fragst.",
		  "Sag mir, wie ich helfen kann, ich bin für dich da.",
		  "Wir sind jederzeit für dich da." },
		{ "Guten Tag, und vielen Dank für Ihre Nachricht.", "Wie können wir Ihnen helfen?",
		  "Mit freundlichen Grüßen." },
		{ "Hi! Danke für deine Nachricht.", "Wie kann ich helfen?", "Bis bald!" },
		{ "Hallo, danke für Ihre Nachricht.", "Wie können wir Ihnen helfen?",
		  "Melden Sie sich gern, wenn Sie noch etwas brauchen." },
	}, {
		{ "Olá! Ótima pergunta!", "O que posso fazer por você hoje?",
		  "Mal podemos esperar para te ver!" },
		{ "Entendo, e fico feliz que tenha perguntado.",
		  "Diga-me como posso ajudar, estou aqui para você.",
		  "Estamos aqui para você sempre que precisar." },
		{ "Bom dia, e obrigado pela sua mensagem.", "Como podemos ajudá-lo?",
		  "Atenciosamente." },
		{ "Oi! Obrigado por escrever.", "Como posso ajudar?", "Até breve!" },
		{ "Olá, obrigado pela sua mensagem.", "Como podemos ajudar?",
		  "Estamos à disposição para o que precisar." },
	}, {
		{ "Hoi! Goede vraag!", "Wat kan ik vandaag voor je doen?",
		  "We kijken ernaar uit je te zien!" },
		{ "Ik begrijp het, en fijn dat je het vraagt.",
		  "Vertel me hoe ik kan helpen, ik ben er voor je.",
		  "We zijn er voor je wanneer je ons nodig hebt." },
		{ "Goedendag, en dank u voor uw bericht.", "Waarmee kunnen wij u helpen?",
		  "Met vriendelijke groet." },
		{ "Hoi! Bedankt voor je bericht.", "Hoe kan ik helpen?", "Tot snel!" },
		{ "Hallo, bedankt voor uw bericht.", "Hoe kunnen we u helpen?",
		  "Laat het ons weten als u nog iets nodig heeft." },
	}
};

static enum tone pick_tone(const char *personality)
{
	const char *p = personality ? personality : "";
	char w[32];
	int i;

	while (next_word(&p, w))
		for (i = 0; tone_words[i].word; i++)
			if (!strncmp(w, tone_words[i].word, strlen(tone_words[i].word)))
				return tone_words[i].t;
	return T_NEUTRAL;
}

const char *ig_kb_tone(const char *personality)
{
	return tone_names[pick_tone(personality)];
}

static const struct phrases *phrases_for(const struct ig_persona *p)
{
	size_t i, lang = 0;

	for (i = 0; p->language && i < sizeof(phrase_langs) / sizeof(phrase_langs[0]); i++)
		if (!strncasecmp(p->language, phrase_langs[i], 2))
			lang = i;
	return &phrase_table[lang][pick_tone(p->personality)];
}

void ig_kb_clip(char *s, size_t max)
{
	size_t n = strlen(s), cut, i;

	if (n <= max)
		return;
	/* prefer a sentence end in the last third */
	for (i = max; i > max * 2 / 3; i--) {
		if ((s[i - 1] == '.' || s[i - 1] == '!' || s[i - 1] == '?' || s[i - 1] == '\n')) {
			s[i] = '\0';
			return;
		}
	}
	cut = max - 3;  /* room for "…" (3 bytes) */
	while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	memcpy(s + cut, "\xe2\x80\xa6", 4);
}

char *ig_kb_fill(const char *tmpl, const struct ig_persona *p)
{
	static const char *const keys[] = { "{business}", "{agent}", "{location}" };
	const char *vals[3];
	struct ig_buf b = IG_BUF_INIT(1 << 20);
	const char *s = tmpl;
	char *out;

	vals[0] = p->business_name;
	vals[1] = p->display_name && *p->display_name ? p->display_name : p->name;
	vals[2] = p->location_name;
	while (*s) {
		int k, done = 0;

		for (k = 0; k < 3 && *s == '{' && !done; k++) {
			size_t klen = strlen(keys[k]);

			if (strncmp(s, keys[k], klen))
				continue;
			if (ig_buf_adds(&b, vals[k] ? vals[k] : ""))
				goto oom;
			s += klen;
			done = 1;
		}
		if (!done) {
			if (ig_buf_add(&b, s, 1))
				goto oom;
			s++;
		}
	}
	if (!(out = ig_buf_detach(&b, NULL)))
		goto oom;
	return out;
oom:
	ig_buf_release(&b);
	return NULL;
}

/* "Marco, Pizzeria Rossi" — who signs; "" when the agent has no name. */
static void signature(const struct ig_persona *p, char *buf, size_t n)
{
	const char *who = p->display_name && *p->display_name ? p->display_name : p->name;
	const char *biz = p->business_name ? p->business_name : "";

	if (who && *who && *biz)
		snprintf(buf, n, "\n\xe2\x80\x94 %s, %s", who, biz);
	else if (who && *who)
		snprintf(buf, n, "\n\xe2\x80\x94 %s", who);
	else if (*biz)
		snprintf(buf, n, "\n\xe2\x80\x94 %s", biz);
	else
		buf[0] = '\0';
}

int ig_kb_compose(const struct ig_persona *p, const struct ig_kb_result *r,
		  double min_confidence, char **text, double *confidence, char *source,
		  size_t sourcelen)
{
	const struct phrases *ph = phrases_for(p);
	struct ig_buf b = IG_BUF_INIT(64 * 1024);
	char sig[256], *body = NULL, *out;
	size_t fixed;

	*text = NULL;
	*confidence = 0;
	snprintf(source, sourcelen, "none");
	signature(p, sig, sizeof(sig));
	if (r->nterms == 0 && !r->asked) {
		*confidence = 1;
		snprintf(source, sourcelen, "greeting");
		if (ig_buf_addf(&b, "%s %s%s", ph->open, ph->help, sig))
			goto oom;
		*text = ig_buf_detach(&b, NULL);
		ig_kb_clip(*text, IG_REPLY_MAX_TEXT);
		return 1;
	}
	if (r->n == 0 || r->hits[0].coverage < min_confidence) {
		if (r->n)
			*confidence = r->hits[0].coverage;
		return 0;
	}
	*confidence = r->hits[0].coverage;
	switch (r->hits[0].kind) {
	case IG_KB_ARTICLE:
		snprintf(source, sourcelen, "article:%lld", (long long)r->hits[0].id);
		body = strdup(r->hits[0].body);
		break;
	case IG_KB_TEMPLATE:
		snprintf(source, sourcelen, "template:%s", r->hits[0].title);
		body = ig_kb_fill(r->hits[0].body, p);
		break;
	case IG_KB_LOCATION:
		snprintf(source, sourcelen, "location");
		if (asprintf(&body, "%s%s%s", r->hits[0].title,
			     *r->hits[0].title ? ": " : "", r->hits[0].body) < 0)
			body = NULL;
		break;
	}
	if (!body)
		goto oom;
	/* The passage gets what the fixed parts leave of the limit. */
	fixed = strlen(ph->open) + 1 + 1 + strlen(ph->close) + strlen(sig);
	if (fixed + 16 < IG_REPLY_MAX_TEXT)
		ig_kb_clip(body, IG_REPLY_MAX_TEXT - fixed);
	if (ig_buf_addf(&b, "%s %s %s%s", ph->open, body, ph->close, sig))
		goto oom;
	free(body);
	out = ig_buf_detach(&b, NULL);
	ig_kb_clip(out, IG_REPLY_MAX_TEXT);
	*text = out;
	return 1;
oom:
	free(body);
	ig_buf_release(&b);
	return -1;
}

/* ---------------------------------------------------------------- management */

int ig_kb_add(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *title,
	      const char *body, const char *tags, int64_t *id, struct ig_err *err)
{
	int64_t now = ig_time_now();
	int rc;

	if (!title || !*title)
		return ig_err_set(err, IG_EX_DATAERR, "an article needs a title");
	if (!body || !*body)
		return ig_err_set(err, IG_EX_DATAERR, "article '%s' needs a body", title);
	if ((rc = ig_store_runf(st, err,
		"INSERT INTO kb_articles (tenant_id, agent_id, title, body, tags, created_at, updated_at)"
		" VALUES (?, ?, ?, ?, ?, ?, ?)",
		"iIsssii", tenant_id, agent_id, title, body, tags ? tags : "", now, now)))
		return rc;
	*id = ig_store_last_id(st);
	return 0;
}

int ig_kb_rm(struct ig_store *st, int64_t tenant_id, int64_t id, struct ig_err *err)
{
	int rc;

	if ((rc = ig_store_runf(st, err, "DELETE FROM kb_articles WHERE id = ? AND tenant_id = ?",
				"ii", id, tenant_id)))
		return rc;
	if (ig_store_changes(st) == 0)
		return ig_err_set(err, IG_EX_DATAERR, "no article %lld in this tenant", (long long)id);
	return 0;
}

int ig_kb_list(struct ig_store *st, int64_t tenant_id, int64_t agent_id, json_t **out,
	       struct ig_err *err)
{
	struct ig_stmt *s;
	json_t *arr;
	int n;

	*out = NULL;
	if (!(arr = json_array()))
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	s = ig_store_query(st, err,
		"SELECT a.id, g.name, a.title, a.body, a.tags, a.created_at"
		" FROM kb_articles a LEFT JOIN agents g ON g.id = a.agent_id"
		" WHERE a.tenant_id = ? AND (? < 0 OR a.agent_id IS NULL OR a.agent_id = ?)"
		" ORDER BY a.id", "iii", tenant_id, agent_id, agent_id);
	while (s && (n = ig_stmt_next(st, s, err)) > 0) {
		char iso[32];

		json_array_append_new(arr, json_pack("{s:I,s:s?,s:s,s:s,s:s,s:s}",
			"id", (json_int_t)ig_col_int(s, 0), "agent", ig_col_textn(s, 1),
			"title", ig_col_text(s, 2), "body", ig_col_text(s, 3),
			"tags", ig_col_text(s, 4), "created", ig_time_iso(ig_col_int(s, 5), iso)));
	}
	if (!s || n < 0) {
		json_decref(arr);
		return err ? err->code : IG_EX_SOFTWARE;
	}
	*out = arr;
	return 0;
}

int ig_template_add(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *name,
		    const char *text, int64_t *id, struct ig_err *err)
{
	int64_t now = ig_time_now(), one;
	int rc;

	if (!name || !*name)
		return ig_err_set(err, IG_EX_DATAERR, "a template needs a name");
	if (!text || !*text)
		return ig_err_set(err, IG_EX_DATAERR, "template '%s' needs a text", name);
	if (strlen(text) > IG_REPLY_MAX_TEXT)
		return ig_err_set(err, IG_EX_DATAERR,
			"template '%s' is %zu bytes; Instagram takes at most %d", name,
			strlen(text), IG_REPLY_MAX_TEXT);
	rc = ig_store_int(st, err, &one, "SELECT 1 FROM templates WHERE tenant_id = ? AND name = ?",
			  "is", tenant_id, name);
	if (rc < 0)
		return err ? err->code : IG_EX_SOFTWARE;
	if (rc > 0)
		return ig_err_set(err, IG_EX_DATAERR, "template '%s' already exists", name);
	if ((rc = ig_store_runf(st, err,
		"INSERT INTO templates (tenant_id, agent_id, name, text, created_at, updated_at)"
		" VALUES (?, ?, ?, ?, ?, ?)",
		"iIssii", tenant_id, agent_id, name, text, now, now)))
		return rc;
	*id = ig_store_last_id(st);
	return 0;
}

int ig_template_rm(struct ig_store *st, int64_t tenant_id, const char *name, struct ig_err *err)
{
	int rc;

	if ((rc = ig_store_runf(st, err, "DELETE FROM templates WHERE tenant_id = ? AND name = ?",
				"is", tenant_id, name)))
		return rc;
	if (ig_store_changes(st) == 0)
		return ig_err_set(err, IG_EX_DATAERR, "no template '%s' in this tenant", name);
	return 0;
}

int ig_template_list(struct ig_store *st, int64_t tenant_id, json_t **out, struct ig_err *err)
{
	struct ig_stmt *s;
	json_t *arr;
	int n;

	*out = NULL;
	if (!(arr = json_array()))
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	s = ig_store_query(st, err,
		"SELECT t.id, t.name, g.name, t.text, t.created_at FROM templates t"
		" LEFT JOIN agents g ON g.id = t.agent_id WHERE t.tenant_id = ? ORDER BY t.name",
		"i", tenant_id);
	while (s && (n = ig_stmt_next(st, s, err)) > 0) {
		char iso[32];

		json_array_append_new(arr, json_pack("{s:I,s:s,s:s?,s:s,s:s}",
			"id", (json_int_t)ig_col_int(s, 0), "name", ig_col_text(s, 1),
			"agent", ig_col_textn(s, 2), "text", ig_col_text(s, 3),
			"created", ig_time_iso(ig_col_int(s, 4), iso)));
	}
	if (!s || n < 0) {
		json_decref(arr);
		return err ? err->code : IG_EX_SOFTWARE;
	}
	*out = arr;
	return 0;
}

int ig_template_get(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *name,
		    char **text, struct ig_err *err)
{
	struct ig_stmt *s;
	int64_t owner;
	int n;

	*text = NULL;
	s = ig_store_query(st, err,
		"SELECT text, COALESCE(agent_id, 0) FROM templates WHERE tenant_id = ? AND name = ?",
		"is", tenant_id, name);
	if (!s || (n = ig_stmt_next(st, s, err)) < 0)
		return err ? err->code : IG_EX_SOFTWARE;
	if (n == 0)
		return ig_err_set(err, IG_EX_DATAERR, "no template '%s' in this tenant", name);
	owner = ig_col_int(s, 1);
	if (!owner || owner == agent_id)
		*text = strdup(ig_col_text(s, 0));
	ig_stmt_reset(s);
	if (owner && owner != agent_id)
		return ig_err_set(err, IG_EX_DATAERR, "template '%s' belongs to another agent", name);
	if (!*text)
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	return 0;
}

/* ---------------------------------------------------------------- explain */

static const char *const class_names[] = { "term", "stop", "question" };

static json_t *alt_json(const struct ig_kb_alt *a)
{
	char buf[IG_KB_MAX_PHRASE * IG_KB_WORD];
	size_t n = 0;
	int j;

	buf[0] = '\0';
	for (j = 0; j < a->n; j++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", j ? " " : "", a->stem[j]);
	return json_string(buf);
}

static const char *kind_name(enum ig_kb_kind k)
{
	return k == IG_KB_ARTICLE ? "article" : k == IG_KB_TEMPLATE ? "template" : "location";
}

static double round2(double d)
{
	return (double)(long long)(d * 100 + 0.5) / 100;
}

int ig_kb_explain(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *text,
		  const char *loc_name, const char *loc_context, double min_confidence,
		  json_t **out, struct ig_err *err)
{
	struct ig_kb_result *r = malloc(sizeof(*r));
	json_t *o = NULL, *words, *terms, *hits;
	char reason[512];
	const char *decision;
	int i, k, rc;

	*out = NULL;
	if (!r)
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	if ((rc = ig_kb_search(st, tenant_id, agent_id, text, loc_name, loc_context, 5, r, err))) {
		free(r);
		return rc;
	}
	words = json_array();
	terms = json_array();
	hits = json_array();
	for (i = 0; i < r->nwords; i++)
		json_array_append_new(words, json_pack("{s:s,s:s,s:s}", "word", r->words[i].word,
			"stem", r->words[i].stem, "class", class_names[r->words[i].cls]));
	for (i = 0; i < r->nterms; i++) {
		json_t *alts = json_array();

		for (k = 0; k < r->terms[i].nalts; k++)
			json_array_append_new(alts, alt_json(&r->terms[i].alts[k]));
		json_array_append_new(terms, json_pack("{s:o,s:i,s:f}", "alternatives", alts,
			"passages", r->terms[i].df, "weight", round2(r->terms[i].weight)));
	}
	for (i = 0; i < r->n; i++) {
		const struct ig_kb_hit *h = &r->hits[i];
		json_t *matched = json_array(), *missing = json_array(), *ho;

		for (k = 0; k < r->nterms; k++)
			json_array_append_new(h->covered & (1u << k) ? matched : missing,
					      alt_json(&r->terms[k].alts[0]));
		ho = json_pack("{s:s,s:I,s:s,s:f,s:i,s:o,s:o}", "kind", kind_name(h->kind),
			"id", (json_int_t)h->id, "title", h->title, "coverage", round2(h->coverage),
			"score", h->score, "matched", matched, "missing", missing);
		json_array_append_new(hits, ho);
	}
	if (r->nterms == 0 && !r->asked) {
		decision = "greeting";
		snprintf(reason, sizeof(reason), "no term and no question word: a greeting");
	} else if (r->nterms == 0) {
		decision = "escalate";
		snprintf(reason, sizeof(reason), "a question with no term to look up: a human answers");
	} else if (r->n == 0) {
		decision = "escalate";
		snprintf(reason, sizeof(reason), "no passage has any of the %d term%s: a human answers",
			 r->nterms, r->nterms == 1 ? "" : "s");
	} else {
		const struct ig_kb_hit *h = &r->hits[0];
		int c = 0;

		for (k = 0; k < r->nterms; k++)
			c += !!(h->covered & (1u << k));
		decision = h->coverage >= min_confidence ? "answer" : "escalate";
		snprintf(reason, sizeof(reason),
			 "%s %lld '%s' covers %d of %d term%s, weighted coverage %.2f %s %.2f%s",
			 kind_name(h->kind), (long long)h->id, h->title, c, r->nterms,
			 r->nterms == 1 ? "" : "s", h->coverage,
			 h->coverage >= min_confidence ? ">=" : "<", min_confidence,
			 h->coverage >= min_confidence ? "" : ": a human answers");
	}
	o = json_pack("{s:s,s:b,s:o,s:o,s:i,s:i,s:o,s:f,s:f,s:s,s:s}", "language", r->lang,
		"stemmer", r->stemmed, "words", words, "terms", terms, "synonyms", r->nsynonyms,
		"passages", r->npassages, "hits", hits, "min_confidence", min_confidence,
		"confidence", r->nterms == 0 && !r->asked ? 1.0 : r->n ? round2(r->hits[0].coverage) : 0.0,
		"decision", decision, "reason", reason);
	ig_kb_result_release(r);
	free(r);
	if (!o)
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	*out = o;
	return 0;
}

/* ---------------------------------------------------------------- synonyms */

/* Fold a synonym side into out (IG_KB_SYN bytes); an exit code when bad. */
#define IG_KB_SYN 201
static int syn_fold(const char *what, const char *in, char out[IG_KB_SYN], struct ig_err *err)
{
	char big[1024];

	if (!in || strlen(in) > 200)
		return ig_err_set(err, IG_EX_DATAERR, "%s '%.40s...' is longer than 200 bytes", what,
				  in ? in : "");
	ig_textnorm_fold(in, big, sizeof(big));
	if (!*big)
		return ig_err_set(err, IG_EX_DATAERR, "%s '%s' has no letters", what, in);
	if (strlen(big) >= IG_KB_SYN)
		return ig_err_set(err, IG_EX_DATAERR, "%s '%.40s...' is longer than 200 bytes",
				  what, in);
	memcpy(out, big, strlen(big) + 1);
	return 0;
}

int ig_kb_synonym_add(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *word,
		      const char *const *alts, int nalts, int *added, struct ig_err *err)
{
	char w[IG_KB_SYN], a[IG_KB_SYN];
	int64_t now = ig_time_now();
	int i, rc;

	*added = 0;
	if ((rc = syn_fold("synonym word", word, w, err)))
		return rc;
	if (nalts < 1)
		return ig_err_set(err, IG_EX_DATAERR, "'%s' needs at least one alternative", word);
	/* every alternative checked before anything is written */
	for (i = 0; i < nalts; i++) {
		if ((rc = syn_fold("alternative", alts[i], a, err)))
			return rc;
		if (!strcmp(a, w))
			return ig_err_set(err, IG_EX_DATAERR, "'%s' cannot be a synonym of itself",
					  alts[i]);
	}
	for (i = 0; i < nalts; i++) {
		syn_fold("alternative", alts[i], a, err);
		if ((rc = ig_store_runf(st, err,
			"INSERT INTO kb_synonyms (tenant_id, agent_id, word, alt, created_at)"
			" VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
			"iIssi", tenant_id, agent_id, w, a, now)))
			return rc;
		*added += ig_store_changes(st);
	}
	return 0;
}

int ig_kb_synonym_rm(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *word,
		     const char *const *alts, int nalts, int *removed, struct ig_err *err)
{
	char w[IG_KB_SYN], a[IG_KB_SYN];
	int i, rc;

	*removed = 0;
	if ((rc = syn_fold("synonym word", word, w, err)))
		return rc;
	if (!nalts) {
		if ((rc = ig_store_runf(st, err,
			"DELETE FROM kb_synonyms WHERE tenant_id = ? AND COALESCE(agent_id, 0) = ?"
			" AND word = ?", "iis", tenant_id, agent_id > 0 ? agent_id : 0, w)))
			return rc;
		*removed = ig_store_changes(st);
	}
	for (i = 0; i < nalts; i++) {
		if ((rc = syn_fold("alternative", alts[i], a, err)))
			return rc;
		if ((rc = ig_store_runf(st, err,
			"DELETE FROM kb_synonyms WHERE tenant_id = ? AND COALESCE(agent_id, 0) = ?"
			" AND word = ? AND alt = ?",
			"iiss", tenant_id, agent_id > 0 ? agent_id : 0, w, a)))
			return rc;
		*removed += ig_store_changes(st);
	}
	if (!*removed)
		return ig_err_set(err, IG_EX_DATAERR, "no synonyms of '%s'%s", w,
				  nalts ? " with those alternatives" : "");
	return 0;
}

int ig_kb_synonym_list(struct ig_store *st, int64_t tenant_id, int64_t agent_id, json_t **out,
		       struct ig_err *err)
{
	struct ig_stmt *s;
	json_t *arr, *cur = NULL;
	int n;

	*out = NULL;
	if (!(arr = json_array()))
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	s = ig_store_query(st, err,
		"SELECT y.word, g.name, y.alt, COALESCE(y.agent_id, 0) FROM kb_synonyms y"
		" LEFT JOIN agents g ON g.id = y.agent_id"
		" WHERE y.tenant_id = ? AND (? < 0 OR y.agent_id IS NULL OR y.agent_id = ?)"
		" ORDER BY y.word, COALESCE(y.agent_id, 0), y.id", "iii", tenant_id, agent_id, agent_id);
	while (s && (n = ig_stmt_next(st, s, err)) > 0) {
		const char *agent = ig_col_textn(s, 1);
		const char *cw = cur ? json_string_value(json_object_get(cur, "word")) : NULL;
		const char *ca = cur ? json_string_value(json_object_get(cur, "agent")) : NULL;

		if (!cur || strcmp(cw, ig_col_text(s, 0)) || (!ca) != (!agent)
		    || (ca && strcmp(ca, agent))) {
			cur = json_pack("{s:s,s:s?,s:[]}", "word", ig_col_text(s, 0), "agent", agent,
					"alts");
			json_array_append_new(arr, cur);
		}
		if (cur)
			json_array_append_new(json_object_get(cur, "alts"),
					      json_string(ig_col_text(s, 2)));
	}
	if (!s || n < 0) {
		json_decref(arr);
		return err ? err->code : IG_EX_SOFTWARE;
	}
	*out = arr;
	return 0;
}
