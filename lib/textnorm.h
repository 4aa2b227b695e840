/*
 * textnorm.h — words for searching, per language.
 *
 * A text is cut into words (letters and digits; an apostrophe ends a word, so
 * the elisions "l'etichetta", "dell'ordine", "what's" give "l" + "etichetta",
 * "dell" + "ordine", "what" + "s").  Each word is lower-cased and its accents
 * folded ("più" → "piu", "Größe" → "grosse", "perché" → "perche"), then
 * classed against the language's lists:
 *   IG_TN_STOP     a word that carries no subject: articles, prepositions,
 *                  pronouns, greetings and thanks, elided forms, numbers,
 *                  one-letter words;
 *   IG_TN_ASK      a question word or a common verb ("quanto", "dura",
 *                  "posso", "how", "much", "can"): it makes the text a
 *                  question, but names nothing to look up;
 *   IG_TN_CONTENT  everything else: a term to look up.
 * and stemmed with Snowball (libstemmer) for the language, so that
 * "prenoto" and "prenotazione", "allergici" and "allergie", "costano" and
 * "costo" meet.  Both the question and the passages go through the same
 * steps, so folding and stemming apply on both sides.
 *
 * Languages with lists here: en it es fr de pt nl.  A language libstemmer
 * knows but without lists here (sv, da, ru...) is stemmed with only the
 * one-letter and number rules; a language libstemmer does not know is not
 * stemmed (ig_textnorm_stems() says 0).
 */
#ifndef IG_TEXTNORM_H
#define IG_TEXTNORM_H

#include <stddef.h>

#define IG_TN_WORD 48   /* bytes kept of a word, NUL included */

enum ig_tn_class { IG_TN_CONTENT = 0, IG_TN_STOP = 1, IG_TN_ASK = 2 };

struct ig_textnorm;

/* A normaliser for the language code ("it", "en", "pt-BR" → "pt", "ita" →
 * "it"; NULL or "" → "en"; other codes are kept, lower case, at most 7
 * bytes).  NULL when out of memory.  Free with ig_textnorm_free. */
struct ig_textnorm *ig_textnorm_new(const char *lang);
void ig_textnorm_free(struct ig_textnorm *tn);

/* The two-letter code in use, and whether words are stemmed (1) or not (0). */
const char *ig_textnorm_lang(const struct ig_textnorm *tn);
int ig_textnorm_stems(const struct ig_textnorm *tn);
/* Whether the language has its stop and question-word lists here. */
int ig_textnorm_has_lists(const struct ig_textnorm *tn);

/*
 * The next word of *p (advanced past it): the folded word in word, its stem
 * in stem (both IG_TN_WORD bytes), its class in *cls (may be NULL).  1, or 0
 * at the end of the text.  Never fails: a stemmer out of memory leaves the
 * word unstemmed.
 */
int ig_textnorm_next(struct ig_textnorm *tn, const char **p, char *word, char *stem,
		     enum ig_tn_class *cls);

/* The stem of one folded word (as ig_textnorm_next gives it) into stem. */
void ig_textnorm_stem(struct ig_textnorm *tn, const char *word, char *stem);

/* Fold one UTF-8 text (lower case, accents off) into out (outlen bytes,
 * always terminated); the letters are the same as ig_textnorm_next's. */
void ig_textnorm_fold(const char *text, char *out, size_t outlen);

#endif
