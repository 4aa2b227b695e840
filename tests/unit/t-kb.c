/* Unit tests of lib/textnorm (folding, elisions, stop and question words,
 * Snowball stems per language) and of the kb engine's search on a real
 * store: stemmed matches both ways, weighted coverage, synonyms (words and
 * phrases, tenant and agent scope, isolation), kb explain, deletion. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kb.h"
#include "store.h"
#include "textnorm.h"
#include "tap.h"

static char dir[] = "/tmp/igkit-t-kb.XXXXXX";
static char path[256];

/* The terms of text in lang, as "stem stem ...". */
static const char *terms(const char *lang, const char *text)
{
	static char out[512];
	struct ig_textnorm *tn = ig_textnorm_new(lang);
	const char *p = text;
	char w[IG_TN_WORD], st[IG_TN_WORD];
	enum ig_tn_class c;
	size_t n = 0;

	out[0] = '\0';
	while (tn && ig_textnorm_next(tn, &p, w, st, &c))
		if (c == IG_TN_CONTENT && n + strlen(st) + 2 < sizeof(out))
			n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s", n ? " " : "", st);
	ig_textnorm_free(tn);
	return out;
}

static int classes(const char *lang, const char *text, const char *want)
{
	struct ig_textnorm *tn = ig_textnorm_new(lang);
	const char *p = text;
	char w[IG_TN_WORD], st[IG_TN_WORD], got[128] = "";
	enum ig_tn_class c;
	size_t n = 0;

	while (tn && ig_textnorm_next(tn, &p, w, st, &c) && n < sizeof(got) - 1)
		got[n++] = "tsq"[c];
	got[n] = '\0';
	ig_textnorm_free(tn);
	if (strcmp(got, want))
		printf("#   classes of '%s': %s, want %s\n", text, got, want);
	return !strcmp(got, want);
}

static void test_textnorm(void)
{
	struct ig_textnorm *tn;
	char buf[128];

	ig_textnorm_fold("Più PERCHÉ Größe ÇA œuvre naïve ÅSA", buf, sizeof(buf));
	is_str(buf, "piu perche grosse ca oeuvre naive asa", "accents folded, lower case");
	ig_textnorm_fold("l'etichetta dell’ordine what's", buf, sizeof(buf));
	is_str(buf, "l etichetta dell ordine what s", "apostrophes (also U+2019) split elisions");
	ig_textnorm_fold("hi 😀!! ¿qué? «ok» — 12:30", buf, sizeof(buf));
	is_str(buf, "hi que ok 12 30", "emoji and punctuation separate words");
	ig_textnorm_fold("Привет ΚΑΛΗΜΕΡΑ", buf, sizeof(buf));
	is_str(buf, "привет καλημερα", "Cyrillic and Greek lower-cased, kept");
	ig_textnorm_fold("\xff\xfe broken \xc3", buf, sizeof(buf));
	is_str(buf, "broken", "bad UTF-8 is a separator");
	ig_textnorm_fold("abcdef", buf, 4);
	is_str(buf, "", "a word that does not fit is left out");

	/* the examples meet */
	is_str(terms("it", "prenoto"), terms("it", "prenotazione"), "it: prenoto ~ prenotazione");
	is_str(terms("it", "allergici"), terms("it", "allergie"), "it: allergici ~ allergie");
	is_str(terms("it", "costano"), terms("it", "costo"), "it: costano ~ costo");
	is_str(terms("it", "l'etichetta"), terms("it", "etichette"), "it: l'etichetta ~ etichette");
	is_str(terms("it", "Quanto dura la consegna?"), "consegn",
	       "it: question words and common verbs do not count");
	is_str(terms("en", "How much are the deliveries?"), terms("en", "delivery"),
	       "en: deliveries ~ delivery");
	is_str(terms("es", "¿Cuánto cuestan los envíos?"), terms("es", "cuesta envio"),
	       "es: stems and stop words");
	is_str(terms("fr", "Combien coûtent les livraisons ?"), terms("fr", "livraison coute"),
	       "fr: stems and stop words");
	is_str(terms("de", "Wie lange dauert die Lieferung?"), terms("de", "Lieferungen"),
	       "de: stems and stop words");
	is_str(terms("pt", "Quanto custa a entrega?"), terms("pt", "entregas custam"),
	       "pt: stems and stop words");
	is_str(terms("nl", "Hoeveel kost de bezorging?"), terms("nl", "bezorging kosten"),
	       "nl: stems and stop words");
	is_str(terms("pt-BR", "entregas"), terms("pt", "entrega"), "pt-BR reads as pt");
	is_str(terms("ITA", "prenotazioni"), terms("it", "prenoto"), "ITA reads as it");
	tn = ig_textnorm_new("fil");
	ok(tn && !ig_textnorm_stems(tn) && !strcmp(ig_textnorm_lang(tn), "fil"),
	   "fil is not cut to fi (Finnish)");
	ig_textnorm_free(tn);
	ok(classes("en", "Hi, what are your opening hours?", "sqqstt"), "en classes");
	ok(classes("it", "ciao, a che ora aprite?", "sssqt"), "it classes");
	ok(classes("en", "2 x 25", "sss"), "numbers and single letters are stop words");

	tn = ig_textnorm_new("xx");
	ok(tn && !ig_textnorm_stems(tn) && !ig_textnorm_has_lists(tn), "unknown language: no stemmer");
	ig_textnorm_free(tn);
	tn = ig_textnorm_new(NULL);
	is_str(tn ? ig_textnorm_lang(tn) : NULL, "en", "no language → en");
	ok(tn && ig_textnorm_stems(tn) && ig_textnorm_has_lists(tn), "…stemmed, with lists");
	ig_textnorm_free(tn);
}

static int notices;
static char last_notice[256];
static void on_notice(const char *msg)
{
	notices++;
	snprintf(last_notice, sizeof(last_notice), "%s", msg);
}

static int64_t add(struct ig_store *st, int64_t t, int64_t a, const char *title, const char *body,
		   const char *tags)
{
	struct ig_err err = { 0 };
	int64_t id = 0;

	if (ig_kb_add(st, t, a, title, body, tags, &id, &err))
		printf("# add: %s\n", err.msg);
	return id;
}

static void search(struct ig_store *st, int64_t t, int64_t a, const char *q,
		   struct ig_kb_result *r)
{
	struct ig_err err = { 0 };

	if (ig_kb_search(st, t, a, q, NULL, NULL, 5, r, &err))
		printf("# search: %s\n", err.msg);
}

static void test_search(void)
{
	struct ig_store *st;
	struct ig_err err = { 0 };
	struct ig_kb_result *r = calloc(1, sizeof(*r));
	const char *alts1[] = { "contrassegno" }, *alts2[] = { "telefono", "smartphone" };
	int64_t cons, pag, schermo, other, n = 0;
	json_t *j, *t0;
	int added, removed;

	snprintf(path, sizeof(path), "%s/igkit.db", dir);
	if (!r || ig_store_open(&st, path, IG_STORE_CREATE, &err)) {
		ok(0, "store: %s", err.msg);
		return;
	}
	ig_store_exec(st, "INSERT INTO tenants(id,slug,name,created_at,updated_at) VALUES"
		      " (1,'gino','Gino',0,0), (2,'altro','Altro',0,0);"
		      "INSERT INTO agents(id,tenant_id,name,language,created_at,updated_at) VALUES"
		      " (1,1,'sara','it',0,0), (2,1,'tom','en',0,0), (3,2,'ugo','it',0,0),"
		      " (4,1,'zed','xx',0,0)", &err);
	cons = add(st, 1, 0, "Consegna a domicilio", "Consegniamo in città: costa 2 euro,"
		   " gratuita sopra i 25 euro.", "domicilio");
	pag = add(st, 1, 0, "Pagamento", "Puoi pagare con carta o in contrassegno.", "");
	schermo = add(st, 1, 1, "Sostituzione dello schermo", "Il vetro del tuo smartphone"
		      " rotto? Lo sostituiamo in giornata.", "display");
	add(st, 1, 0, "Orari", "Siamo aperti più giorni: perché non passi?", "");
	other = add(st, 2, 0, "Consegna", "Consegna in tutta Italia.", "");

	search(st, 1, 1, "Quanto dura la consegna?", r);
	ok(r->n >= 1 && r->hits[0].id == cons, "the consegna article answers 'Quanto dura la consegna?'");
	ok(r->n >= 1 && r->hits[0].coverage == 1.0, "…covering its one term fully (a title word)");
	is_str(r->lang, "it", "…read in sara's language");
	ok(r->n == 1, "…and another tenant's article is not a hit");
	ig_kb_result_release(r);

	search(st, 1, 1, "PIU perche", r);
	ok(r->n == 0 && r->nterms == 0 && r->asked, "più/perche are a stop and a question word");
	ig_kb_result_release(r);
	search(st, 1, 1, "costano le consegne", r);
	ok(r->n >= 1 && r->hits[0].id == cons && r->hits[0].covered == 3,
	   "costano ~ costa, consegne ~ consegna (stemmed both sides)");
	ig_kb_result_release(r);
	search(st, 1, 1, "consegna lavatrici", r);
	ok(r->n >= 1 && r->hits[0].coverage == 0.5, "a known and an unknown word: 0.5");
	ig_kb_result_release(r);
	search(st, 1, 1, "gratuita lavatrici", r);
	ok(r->n >= 1 && r->hits[0].coverage == 0.25, "a word of a passage's body counts half: %.2f",
	   r->n ? r->hits[0].coverage : -1);
	ig_kb_result_release(r);

	/* synonyms: phrases, both ways, agent scope, other tenants */
	search(st, 1, 1, "posso pagare alla consegna?", r);
	ok(!(r->n && r->hits[0].id == pag && r->hits[0].coverage == 1.0), "no synonym yet");
	ig_kb_result_release(r);
	is_int(ig_kb_synonym_add(st, 1, 0, "Pagare alla CONSEGNA", alts1, 1, &added, &err), 0,
	       "synonym phrase added");
	is_int(added, 1, "…one pair");
	search(st, 1, 1, "posso pagare alla consegna?", r);
	ok(r->n && r->hits[0].id == pag && r->nterms == 1 && r->hits[0].covered == 1 && r->nsynonyms == 1,
	   "'pagare alla consegna' ~ contrassegno finds the payment article");
	ig_kb_result_release(r);
	is_int(ig_kb_synonym_add(st, 1, 1, "cellulare", alts2, 2, &added, &err), 0,
	       "agent synonyms added");
	search(st, 1, 1, "schermo del cellulare", r);
	ok(r->n && r->hits[0].id == schermo && r->hits[0].covered == 3, "cellulare ~ smartphone");
	ig_kb_result_release(r);
	search(st, 1, 1, "schermo del telefono", r);
	ok(r->n && r->hits[0].id == schermo && r->hits[0].covered == 1,
	   "telefono and smartphone are not synonyms of each other (only of cellulare)");
	ig_kb_result_release(r);
	search(st, 1, 0, "cellulare rotto", r);
	ok(!(r->n && r->hits[0].id == schermo), "an agent's synonym and article stay the agent's");
	ig_kb_result_release(r);
	search(st, 2, 3, "posso pagare alla consegna", r);
	ok(r->n == 1 && r->hits[0].id == other && r->nsynonyms == 0,
	   "another tenant does not get this tenant's synonyms");
	ig_kb_result_release(r);
	is_int(ig_kb_synonym_add(st, 1, 0, "pagare alla consegna", alts1, 1, &added, &err), 0,
	       "adding a pair again is no error");
	is_int(added, 0, "…and adds nothing");
	is_int(ig_kb_synonym_add(st, 1, 0, "x", (const char *[]){ "X" }, 1, &added, &err),
	       IG_EX_DATAERR, "a word is not its own synonym → 65");
	is_int(ig_kb_synonym_add(st, 1, 0, "x", NULL, 0, &added, &err), IG_EX_DATAERR,
	       "no alternative → 65");
	is_int(ig_kb_synonym_list(st, 1, -1, &j, &err), 0, "synonyms listed");
	is_int(json_array_size(j), 2, "…two words");
	is_str(json_string_value(json_object_get(json_array_get(j, 0), "word")), "cellulare",
	       "…by word");
	is_int(json_array_size(json_object_get(json_array_get(j, 0), "alts")), 2, "…with their alts");
	json_decref(j);
	is_int(ig_kb_synonym_list(st, 2, -1, &j, &err), 0, "another tenant's list");
	is_int(json_array_size(j), 0, "…is empty");
	json_decref(j);
	is_int(ig_kb_synonym_rm(st, 2, 0, "pagare alla consegna", NULL, 0, &removed, &err),
	       IG_EX_DATAERR, "another tenant cannot remove them → 65");
	is_int(ig_kb_synonym_rm(st, 1, 1, "cellulare", (const char *[]){ "telefono" }, 1, &removed,
				&err), 0, "one alternative removed");
	is_int(removed, 1, "…one pair");
	is_int(ig_kb_synonym_rm(st, 1, 1, "cellulare", NULL, 0, &removed, &err), 0, "the rest removed");
	is_int(removed, 1, "…one pair");

	/* explain */
	is_int(ig_kb_explain(st, 1, 1, "Quanto dura la consegna?", NULL, NULL, 0.5, &j, &err), 0,
	       "explain");
	is_str(json_string_value(json_object_get(j, "decision")), "answer", "…answer");
	t0 = json_array_get(json_object_get(j, "terms"), 0);
	is_str(json_string_value(json_array_get(json_object_get(t0, "alternatives"), 0)), "consegn",
	       "…its one term");
	is_int(json_array_size(json_object_get(j, "words")), 4, "…every word with its class");
	json_decref(j);
	is_int(ig_kb_explain(st, 1, 1, "consegna lavatrici", NULL, NULL, 0.6, &j, &err), 0,
	       "explain below the threshold");
	is_str(json_string_value(json_object_get(j, "decision")), "escalate", "…escalate");
	ok(strstr(json_string_value(json_object_get(j, "reason")), "0.50 < 0.60") != NULL,
	   "…and why: %s", json_string_value(json_object_get(j, "reason")));
	json_decref(j);
	is_int(ig_kb_explain(st, 1, 1, "grazie mille!", NULL, NULL, 0.5, &j, &err), 0, "explain thanks");
	is_str(json_string_value(json_object_get(j, "decision")), "greeting", "…a greeting");
	json_decref(j);

	/* unknown language: said once */
	ig_kb_set_notice(on_notice);
	search(st, 1, 4, "consegna", r);
	ok(r->n && !r->stemmed, "an unknown language is searched unstemmed");
	ig_kb_result_release(r);
	search(st, 1, 4, "consegna", r);
	ig_kb_result_release(r);
	is_int(notices, 1, "…said once");
	ok(strstr(last_notice, "'xx'") != NULL, "…naming the language: %s", last_notice);

	/* the FTS index follows deletions by cascade (no custom tokenizer) */
	ig_store_exec(st, "DELETE FROM tenants WHERE id = 1", &err);
	ig_store_int(st, &err, &n, "SELECT COUNT(*) FROM kb_fts WHERE kb_fts MATCH 'consegna'", "");
	is_int(n, 1, "a tenant deleted by plain SQL takes its index rows along");
	ig_store_int(st, &err, &n, "SELECT COUNT(*) FROM kb_synonyms", "");
	is_int(n, 0, "…and its synonyms");
	ig_store_free(st);
	free(r);
}

static void test_voice(void)
{
	static const struct { const char *lang, *open; } want[] = {
		{ "es", "Hola, gracias por tu mensaje." }, { "fr", "Bonjour, merci pour votre message." },
		{ "de", "Hallo, danke für Ihre Nachricht." }, { "pt", "Olá, obrigado pela sua mensagem." },
		{ "nl", "Hallo, bedankt voor uw bericht." }, { "it", "Salve, grazie per il messaggio." },
		{ "sv", "Hello, thanks for your message." },
	};
	struct ig_kb_result *r = calloc(1, sizeof(*r));
	struct ig_persona p = { .name = "ana", .display_name = "Ana", .business_name = "Biz" };
	char src[64], *text;
	double conf;
	size_t i;

	for (i = 0; r && i < sizeof(want) / sizeof(want[0]); i++) {
		p.language = want[i].lang;
		text = NULL;
		ok(ig_kb_compose(&p, r, 0.5, &text, &conf, src, sizeof(src)) == 1 && text
		   && !strncmp(text, want[i].open, strlen(want[i].open)),
		   "%s: a greeting in the agent's language: %s", want[i].lang, text ? text : "(none)");
		free(text);
	}
	free(r);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_textnorm();
	test_search();
	test_voice();
	ig_kb_release_cache();
	unlink(path);
	{
		char p[300];

		snprintf(p, sizeof(p), "%s-wal", path);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", path);
		unlink(p);
	}
	rmdir(dir);
	return done_testing();
}
