/*
 * kb.c — knowledge base, templates and the kb engine's composition.
 * The definitions (terms, coverage, confidence, tones) are in kb.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "igtime.h"
#include "kb.h"

/* Words that carry no subject, in the languages the tone table speaks. */
static const char *const stopwords[] = {
	"the", "and", "for", "you", "your", "are", "what", "when", "where", "how", "can",
	"with", "this", "that", "have", "has", "had", "from", "please", "thanks", "thank",
	"hello", "hey", "about", "there", "would", "could", "should", "does", "did", "was",
	"were", "will", "our", "yes", "not", "any", "all", "but", "its", "just", "like",
	"know", "want", "need", "tell", "which", "who", "why", "also", "some", "then",
	"than", "them", "they", "their", "into", "out", "get", "got", "may", "might", "much",
	"many", "one", "too", "very", "really", "here", "still", "ciao", "che", "per", "una",
	"uno", "del", "della", "delle", "dei", "con", "sono", "come", "quando", "dove",
	"avete", "siete", "grazie", "buongiorno", "buonasera", "salve", "anche", "non",
	"piu", "questo", "questa", "quello", "quella", "nel", "nella", "alle", "agli",
	"hola", "gracias", "bonjour", "merci", "hallo", "danke", "hii", "hiya", "heyy",
	NULL
};

static int is_stopword(const char *w)
{
	int i;

	for (i = 0; stopwords[i]; i++)
		if (!strcmp(stopwords[i], w))
			return 1;
	return 0;
}

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
	/* never cut a UTF-8 sequence in half */
	while (n > 0 && ((unsigned char)w[n - 1] & 0xC0) == 0x80)
		n--;
	if (n > 0 && ((unsigned char)w[n - 1] & 0xC0) == 0xC0)
		n--;
	w[n] = '\0';
	*p = (const char *)s;
	return 1;
}

int ig_kb_terms(const char *text, char terms[][32], int max)
{
	const char *p = text ? text : "";
	char w[32];
	int n = 0, i;

	while (n < max && next_word(&p, w)) {
		size_t len = strlen(w);

		if (len < 3 || is_stopword(w))
			continue;
		if (len > 4 && w[len - 1] == 's' && w[len - 2] != 's')
			w[len - 1] = '\0';
		for (i = 0; i < n; i++)
			if (!strcmp(terms[i], w))
				break;
		if (i == n)
			strcpy(terms[n++], w);
	}
	return n;
}

/* Share of terms found in the texts (a term matches a word it begins). */
static double coverage(char terms[][32], int nterms, const char *const *texts, int ntexts)
{
	int found = 0, i, j;

	if (nterms == 0)
		return 0;
	for (i = 0; i < nterms; i++) {
		size_t tl = strlen(terms[i]);
		int hit = 0;

		for (j = 0; j < ntexts && !hit; j++) {
			const char *p = texts[j] ? texts[j] : "";
			char w[32];

			while (!hit && next_word(&p, w))
				if (!strncmp(w, terms[i], tl))
					hit = 1;
		}
		found += hit;
	}
	return (double)found / nterms;
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

static const char SQL_KB_MATCH[] =
	"SELECT a.id, COALESCE(a.agent_id, 0), a.title, a.body, a.tags,"
	" bm25(kb_fts, 4.0, 1.0, 2.0) AS r"
	" FROM kb_fts JOIN kb_articles a ON a.id = kb_fts.rowid"
	" WHERE kb_fts MATCH ? AND a.tenant_id = ? AND (a.agent_id IS NULL OR a.agent_id = ?)"
	" ORDER BY r LIMIT 24";
static const char SQL_TPL_MATCH[] =
	"SELECT t.id, COALESCE(t.agent_id, 0), t.name, t.text, bm25(templates_fts, 2.0, 1.0) AS r"
	" FROM templates_fts JOIN templates t ON t.id = templates_fts.rowid"
	" WHERE templates_fts MATCH ? AND t.tenant_id = ? AND (t.agent_id IS NULL OR t.agent_id = ?)"
	" ORDER BY r LIMIT 24";

int ig_kb_search(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *text,
		 const char *loc_name, const char *loc_context, int limit,
		 struct ig_kb_result *r, struct ig_err *err)
{
	struct ig_buf q = IG_BUF_INIT(4096);
	int i, pass, rc;

	memset(r, 0, sizeof(*r));
	if (limit > IG_KB_MAX_HITS)
		limit = IG_KB_MAX_HITS;
	if (limit < 1)
		limit = 1;
	r->nterms = ig_kb_terms(text, r->terms, IG_KB_MAX_TERMS);
	if (r->nterms == 0)
		return 0;
	/* Terms hold only word bytes, so quoting them is enough to keep the
	 * FTS5 query syntax out; the trailing * makes each a prefix query. */
	for (i = 0; i < r->nterms; i++)
		if (ig_buf_addf(&q, "%s\"%s\"*", i ? " OR " : "", r->terms[i]))
			break;
	for (pass = 0; pass < 2; pass++) {
		sqlite3_stmt *s = ig_store_prepare(st, pass ? SQL_TPL_MATCH : SQL_KB_MATCH, err);

		if (!s) {
			ig_buf_release(&q);
			ig_kb_result_release(r);
			return err ? err->code : IG_EX_SOFTWARE;
		}
		ig_store_bind(s, "sii", q.data, tenant_id, agent_id);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			struct ig_kb_hit h = { 0 };
			const char *texts[3];

			h.kind = pass ? IG_KB_TEMPLATE : IG_KB_ARTICLE;
			h.id = ig_col_int(s, 0);
			h.agent_id = ig_col_int(s, 1);
			texts[0] = ig_col_text(s, 2);
			texts[1] = ig_col_text(s, 3);
			texts[2] = pass ? "" : ig_col_text(s, 4);
			h.coverage = coverage(r->terms, r->nterms, texts, 3);
			h.bm25 = sqlite3_column_double(s, pass ? 4 : 5);
			h.title = strdup(texts[0]);
			h.body = strdup(texts[1]);
			if (!h.title || !h.body) {
				free(h.title);
				free(h.body);
				sqlite3_reset(s);
				ig_buf_release(&q);
				ig_kb_result_release(r);
				return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
			}
			add_hit(r, limit, &h);
		}
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			ig_buf_release(&q);
			ig_kb_result_release(r);
			return ig_store_fail(st, rc, err, "cannot search the knowledge base");
		}
	}
	ig_buf_release(&q);
	if (loc_context && *loc_context) {
		struct ig_kb_hit h = { 0 };
		const char *texts[2] = { loc_name, loc_context };

		h.kind = IG_KB_LOCATION;
		h.coverage = coverage(r->terms, r->nterms, texts, 2);
		if (h.coverage > 0) {
			h.title = strdup(loc_name ? loc_name : "");
			h.body = strdup(loc_context);
			if (!h.title || !h.body) {
				free(h.title);
				free(h.body);
				ig_kb_result_release(r);
				return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
			}
			add_hit(r, limit, &h);
		}
	}
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

/* [language][tone]: "en" and "it"; other languages use "en". */
static const struct phrases phrase_table[2][T_COUNT] = {
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
	int lang = p->language && !strncmp(p->language, "it", 2) ? 1 : 0;

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
	if (r->nterms == 0) {
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
	sqlite3_stmt *s = ig_store_prepare(st,
		"DELETE FROM kb_articles WHERE id = ? AND tenant_id = ?", err);
	int rc;

	if (!s)
		return err ? err->code : IG_EX_SOFTWARE;
	ig_store_bind(s, "ii", id, tenant_id);
	if ((rc = ig_store_run(st, s, err)))
		return rc;
	if (ig_store_changes(st) == 0)
		return ig_err_set(err, IG_EX_DATAERR, "no article %lld in this tenant", (long long)id);
	return 0;
}

int ig_kb_list(struct ig_store *st, int64_t tenant_id, int64_t agent_id, json_t **out,
	       struct ig_err *err)
{
	sqlite3_stmt *s = ig_store_prepare(st,
		"SELECT a.id, g.name, a.title, a.body, a.tags, a.created_at"
		" FROM kb_articles a LEFT JOIN agents g ON g.id = a.agent_id"
		" WHERE a.tenant_id = ?1 AND (?2 < 0 OR a.agent_id IS NULL OR a.agent_id = ?2)"
		" ORDER BY a.id", err);
	json_t *arr;
	int rc;

	*out = NULL;
	if (!s)
		return err ? err->code : IG_EX_SOFTWARE;
	if (!(arr = json_array()))
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	ig_store_bind(s, "ii", tenant_id, agent_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char iso[32];

		json_array_append_new(arr, json_pack("{s:I,s:s?,s:s,s:s,s:s,s:s}",
			"id", (json_int_t)ig_col_int(s, 0),
			"agent", sqlite3_column_type(s, 1) == SQLITE_NULL ? NULL : ig_col_text(s, 1),
			"title", ig_col_text(s, 2), "body", ig_col_text(s, 3),
			"tags", ig_col_text(s, 4), "created", ig_time_iso(ig_col_int(s, 5), iso)));
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return ig_store_fail(st, rc, err, "cannot list articles");
	}
	*out = arr;
	return 0;
}

int ig_template_add(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *name,
		    const char *text, int64_t *id, struct ig_err *err)
{
	int64_t now = ig_time_now();
	sqlite3_stmt *s;
	int rc;

	if (!name || !*name)
		return ig_err_set(err, IG_EX_DATAERR, "a template needs a name");
	if (!text || !*text)
		return ig_err_set(err, IG_EX_DATAERR, "template '%s' needs a text", name);
	if (strlen(text) > IG_REPLY_MAX_TEXT)
		return ig_err_set(err, IG_EX_DATAERR,
			"template '%s' is %zu bytes; Instagram takes at most %d", name,
			strlen(text), IG_REPLY_MAX_TEXT);
	s = ig_store_prepare(st, "SELECT 1 FROM templates WHERE tenant_id = ? AND name = ?", err);
	if (!s)
		return err ? err->code : IG_EX_SOFTWARE;
	ig_store_bind(s, "is", tenant_id, name);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
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
	sqlite3_stmt *s = ig_store_prepare(st,
		"DELETE FROM templates WHERE tenant_id = ? AND name = ?", err);
	int rc;

	if (!s)
		return err ? err->code : IG_EX_SOFTWARE;
	ig_store_bind(s, "is", tenant_id, name);
	if ((rc = ig_store_run(st, s, err)))
		return rc;
	if (ig_store_changes(st) == 0)
		return ig_err_set(err, IG_EX_DATAERR, "no template '%s' in this tenant", name);
	return 0;
}

int ig_template_list(struct ig_store *st, int64_t tenant_id, json_t **out, struct ig_err *err)
{
	sqlite3_stmt *s = ig_store_prepare(st,
		"SELECT t.id, t.name, g.name, t.text, t.created_at FROM templates t"
		" LEFT JOIN agents g ON g.id = t.agent_id WHERE t.tenant_id = ? ORDER BY t.name", err);
	json_t *arr;
	int rc;

	*out = NULL;
	if (!s)
		return err ? err->code : IG_EX_SOFTWARE;
	if (!(arr = json_array()))
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	ig_store_bind(s, "i", tenant_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char iso[32];

		json_array_append_new(arr, json_pack("{s:I,s:s,s:s?,s:s,s:s}",
			"id", (json_int_t)ig_col_int(s, 0), "name", ig_col_text(s, 1),
			"agent", sqlite3_column_type(s, 2) == SQLITE_NULL ? NULL : ig_col_text(s, 2),
			"text", ig_col_text(s, 3), "created", ig_time_iso(ig_col_int(s, 4), iso)));
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return ig_store_fail(st, rc, err, "cannot list templates");
	}
	*out = arr;
	return 0;
}

int ig_template_get(struct ig_store *st, int64_t tenant_id, int64_t agent_id, const char *name,
		    char **text, struct ig_err *err)
{
	sqlite3_stmt *s = ig_store_prepare(st,
		"SELECT text, COALESCE(agent_id, 0) FROM templates WHERE tenant_id = ? AND name = ?",
		err);
	int rc;

	*text = NULL;
	if (!s)
		return err ? err->code : IG_EX_SOFTWARE;
	ig_store_bind(s, "is", tenant_id, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int64_t owner = ig_col_int(s, 1);

		if (owner && owner != agent_id) {
			sqlite3_reset(s);
			return ig_err_set(err, IG_EX_DATAERR,
				"template '%s' belongs to another agent", name);
		}
		*text = strdup(ig_col_text(s, 0));
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ig_store_fail(st, rc, err, "cannot read template");
	if (rc == SQLITE_DONE)
		return ig_err_set(err, IG_EX_DATAERR, "no template '%s' in this tenant", name);
	if (!*text)
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	return 0;
}
