/*
 * textnorm.c — words for searching: UTF-8 words folded to lower case without
 * accents, classed by the language's stop and question-word lists, stemmed
 * with Snowball (libstemmer).  See textnorm.h.
 *
 * The lists are written folded (no accents) since they are compared with
 * folded words.  IG_TN_ASK holds the question words and the verbs a customer
 * asks with ("can", "posso", "fate", "dura"); IG_TN_STOP the words that
 * carry no subject, greetings and the elided forms an apostrophe leaves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libstemmer.h>

#include "textnorm.h"

struct lists {
	const char *lang;
	const char *stop;
	const char *ask;
};

static const struct lists lang_lists[] = {
	{ "en",
	  "a an the and or but if of to in on at by for with from about into onto over under"
	  " up down out off as than then so too very just also only even still yet again here"
	  " there this that these those it its i me my mine myself we us our ours you your yours"
	  " ya u ur he him his she her they them their theirs one ones some all both each every"
	  " no not nor none other such own same s t ll ve re d m nt don doesn isn aren wasn"
	  " weren won wouldn couldn shouldn didn hasn haven hadn cant dont im ive id youre"
	  " hi hello hey heya hiya hii heyy yo dear thanks thank thx ty cheers pls plz please"
	  " ok okay yes yeah yep sure good great nice morning afternoon evening night guys guy"
	  " folks sir madam maam mate buddy today tomorrow tonight now right bit lot lots"
	  " kind kindly regards best wondering quick question questions asking ask never ever"
	  " always two three four five six seven eight nine ten twelve twenty hundred people"
	  " morning evening afternoon",
	  "what whats when where wheres which who whom whose why how hows much many long often"
	  " soon time times can could would should will shall may might must do does did done"
	  " doing is are was were be been being am have has had having get gets got getting"
	  " make makes made take takes took need needs want wants wanted like tell know let"
	  " give go going come coming possible able anything something anyone someone way"
	  " any there available offer still look looking see" },
	{ "it",
	  "il lo la i gli le l un uno una di a da in con su per tra fra del dello della dei degli"
	  " delle dell al allo alla ai agli alle all dal dallo dalla dai dagli dalle dall nel"
	  " nello nella nei negli nelle nell sul sullo sulla sui sugli sulle sull col coi e ed"
	  " o od ma se che chi cui non ne ci vi si mi ti me te io tu lui lei noi voi loro mio"
	  " mia miei mie tuo tua tuoi tue suo sua suoi sue nostro nostra nostri nostre vostro"
	  " vostra vostri vostre questo questa questi queste quello quella quelli quelle quel"
	  " quest quell qualche anche ancora gia poi pure solo molto molta molti molte poco"
	  " tanto troppo piu meno cosi qui qua li ecco c d m n s t v sull nessun ogni tutto"
	  " tutta tutti tutte altro altra altri altre stesso stessa ciao salve buongiorno"
	  " buonasera buonanotte grazie mille prego favore cortesia piacere gentili gentile"
	  " ok okay va bene si no oggi domani stasera stamattina adesso subito ragazzi"
	  " scusate scusa scusi domanda info informazione informazioni sapere vorrei fino"
	  " mai sempre due tre quattro cinque sette otto nove dieci venti cento persone"
	  " gente mattina pomeriggio sera",
	  "quanto quanta quanti quante quando dove come perche cosa cos quale quali qual ora"
	  " e sono sei siamo siete era erano essere sara stato stata stati ho hai ha abbiamo"
	  " avete hanno avere avrei avremmo ce posso puoi puo possiamo potete possono potrei"
	  " potremmo potreste potere voglio vuoi vuole vogliamo volete vorremmo volere devo"
	  " devi deve dobbiamo dovete devono dovrei bisogna serve servono faccio fai fa"
	  " facciamo fate fanno fare sapete sai sa sapreste dite dimmi ditemi dire chiedere"
	  " chiedo dura durano vuole ci esiste esistono possibile disponibile sta stanno"
	  " tipo modo tempo prendete prendi prende prendono prendere" },
	{ "es",
	  "el la lo los las un una unos unas de del al a en con por para sin sobre entre y e"
	  " o u pero si no ni que quien cual me te se nos os le les mi mis tu tus su sus"
	  " nuestro nuestra nuestros nuestras vuestro vuestra este esta estos estas ese esa"
	  " esos esas aquel aquella muy mas menos tambien ya aun solo hola buenas buenos dias"
	  " tardes noches gracias favor vale ok si hoy manana ahora aqui alli nunca siempre"
	  " dos tres cuatro cinco seis siete ocho nueve diez personas gente",
	  "que cuanto cuanta cuantos cuantas cuando donde como por porque cual cuales quien"
	  " es son eres somos sois era ser estar esta estan estoy hay he has ha hemos habeis"
	  " han tener tiene tienen teneis tengo puedo puede puedes podemos podeis pueden poder"
	  " quiero quiere quieres queremos quisiera necesito hacer hace haceis hacen hago"
	  " saber sabe saben decir dura duran posible" },
	{ "fr",
	  "le la les l un une des de du d au aux a en dans sur sous avec pour par sans chez"
	  " et ou mais si ne pas ni que qu qui je j tu il elle on nous vous ils elles me m te"
	  " se s lui leur leurs mon ma mes ton ta tes son sa ses notre nos votre vos ce c cet"
	  " cette ces tres plus moins aussi deja encore seulement ici bonjour bonsoir salut"
	  " merci svp plait ok oui non aujourd hui demain maintenant jamais toujours deux trois"
	  " quatre cinq six sept huit neuf dix personnes gens",
	  "que quoi quel quelle quels quelles quand ou comment pourquoi combien est sont es"
	  " suis sommes etes etre ai as avons avez ont avoir peut peux pouvez pouvons peuvent"
	  " pouvoir veux veut voulez voudrais vouloir faut fait faites faire sais savez savoir"
	  " dure durent possible y" },
	{ "de",
	  "der die das den dem des ein eine einen einem einer eines und oder aber wenn ob von"
	  " vom zu zum zur in im an am auf aus bei mit nach fur uber unter vor durch ohne um"
	  " ich du er sie es wir ihr mich mir dich dir uns euch sich mein meine dein deine"
	  " sein seine unser unsere euer eure ihre ihr nicht kein keine auch noch schon nur"
	  " sehr mehr weniger hier da dort hallo hi guten tag morgen abend danke bitte ok ja"
	  " nein heute jetzt moin servus gruss nie immer zwei drei vier funf sechs sieben acht"
	  " neun zehn leute personen",
	  "was wann wo wie warum wieso welche welcher welches wer wieviel viel viele lange ist"
	  " sind bin bist seid war waren sein habe hast hat haben habt kann kannst konnen"
	  " konnt konnte mochte mochten will wollen muss mussen darf gibt es macht machen"
	  " weiss wissen dauert dauern moglich" },
	{ "pt",
	  "o a os as um uma uns umas de do da dos das em no na nos nas ao aos por pelo pela"
	  " para com sem sobre entre e ou mas se nao que me te se nos lhe lhes meu minha meus"
	  " minhas teu tua seu sua seus suas nosso nossa este esta estes estas esse essa isso"
	  " isto aquele aquela muito mais menos tambem ja ainda so aqui ali ola oi bom boa dia"
	  " tarde noite obrigado obrigada favor ok sim hoje amanha agora nunca sempre dois duas"
	  " tres quatro cinco seis sete oito nove dez pessoas gente",
	  "que quanto quanta quantos quantas quando onde como porque qual quais quem e sao es"
	  " somos sou ser estar esta estao estou ha tem tenho temos tens ter posso pode podem"
	  " podemos poder quero quer queremos queria preciso fazer faz fazem sabe saber dura"
	  " duram possivel" },
	{ "nl",
	  "de het een en of maar als dan van voor met aan op in uit bij naar door over onder"
	  " tot om te ik jij je u hij zij ze wij we jullie mij me mijn jouw jou uw zijn haar"
	  " ons onze hun dit dat deze die er niet geen ook nog al alleen heel erg meer minder"
	  " hier daar hallo hoi hey goedemorgen goedemiddag goedenavond dag dank bedankt"
	  " alstublieft alsjeblieft ok ja nee vandaag morgen nu nooit altijd twee drie vier vijf"
	  " zes zeven acht negen tien mensen",
	  "wat wanneer waar hoe waarom welke wie hoeveel veel lang is zijn ben bent was waren"
	  " heb hebt heeft hebben kan kun kunt kunnen wil wilt willen moet moeten mag mogen"
	  " doe doet doen maak maakt maken weet weten duurt duren mogelijk" },
};

struct ig_textnorm {
	char lang[8];
	struct sb_stemmer *stemmer;
	const struct lists *lists;
	char *words;      /* the lists' copy, cut into the arrays below */
	char **stop, **ask;
	size_t nstop, nask;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Cut the space-separated list src (copied at *buf) into a sorted array. */
static char **cut_list(const char *src, char **buf, size_t *n)
{
	size_t cap = 1, i = 0;
	const char *s;
	char **arr, *p = *buf;

	for (s = src; *s; s++)
		cap += *s == ' ';
	if (!(arr = malloc(cap * sizeof(*arr))))
		return NULL;
	strcpy(p, src);
	*buf = p + strlen(src) + 1;
	while (*p) {
		while (*p == ' ')
			*p++ = '\0';
		if (!*p)
			break;
		arr[i++] = p;
		while (*p && *p != ' ')
			p++;
	}
	qsort(arr, i, sizeof(*arr), cmp_str);
	*n = i;
	return arr;
}

static const char *const stemmer_codes[] = {
	"ar", "eu", "ca", "da", "nl", "en", "fi", "fr", "de", "el", "hi", "hu", "id", "ga",
	"it", "lt", "ne", "no", "pt", "ro", "ru", "sr", "es", "sv", "ta", "tr", "yi", NULL
};

static const char *const iso3[][3] = {
	{ "eng", "eng", "en" }, { "ita", "ita", "it" }, { "spa", "spa", "es" },
	{ "fra", "fre", "fr" }, { "deu", "ger", "de" }, { "por", "por", "pt" },
	{ "nld", "dut", "nl" },
};

struct ig_textnorm *ig_textnorm_new(const char *lang)
{
	struct ig_textnorm *tn = calloc(1, sizeof(*tn));
	size_t i, len;
	char *buf;

	if (!tn)
		return NULL;
	lang = lang && *lang ? lang : "en";
	for (len = 0; lang[len] && lang[len] != '-' && lang[len] != '_'; len++)
		;
	/* "pt-BR" → pt; three-letter codes of the languages with lists too;
	 * anything else is kept whole (and gets neither lists nor stemmer). */
	if (len == 3)
		for (i = 0; i < sizeof(iso3) / sizeof(iso3[0]); i++)
			if (!strncasecmp(lang, iso3[i][0], 3) || !strncasecmp(lang, iso3[i][1], 3)) {
				lang = iso3[i][2];
				len = 2;
				break;
			}
	if (len >= sizeof(tn->lang))
		len = sizeof(tn->lang) - 1;
	for (i = 0; i < len; i++)
		tn->lang[i] = (char)(lang[i] >= 'A' && lang[i] <= 'Z' ? lang[i] + 32 : lang[i]);
	tn->lang[len] = '\0';
	for (i = 0; i < sizeof(lang_lists) / sizeof(lang_lists[0]); i++)
		if (!strcmp(lang_lists[i].lang, tn->lang))
			tn->lists = &lang_lists[i];
	for (i = 0; stemmer_codes[i]; i++)
		if (!strcmp(stemmer_codes[i], tn->lang))
			break;
	/* Only codes libstemmer lists: it would also take "english" or
	 * "porter", which are not language codes. */
	if (stemmer_codes[i])
		tn->stemmer = sb_stemmer_new(tn->lang, "UTF_8");  /* NULL: not built in */
	if (tn->lists) {
		len = strlen(tn->lists->stop) + strlen(tn->lists->ask) + 2;
		if (!(tn->words = buf = malloc(len))
		    || !(tn->stop = cut_list(tn->lists->stop, &buf, &tn->nstop))
		    || !(tn->ask = cut_list(tn->lists->ask, &buf, &tn->nask))) {
			ig_textnorm_free(tn);
			return NULL;
		}
	}
	return tn;
}

void ig_textnorm_free(struct ig_textnorm *tn)
{
	if (!tn)
		return;
	if (tn->stemmer)
		sb_stemmer_delete(tn->stemmer);
	free(tn->stop);
	free(tn->ask);
	free(tn->words);
	free(tn);
}

const char *ig_textnorm_lang(const struct ig_textnorm *tn)
{
	return tn->lang;
}

int ig_textnorm_stems(const struct ig_textnorm *tn)
{
	return tn->stemmer != NULL;
}

int ig_textnorm_has_lists(const struct ig_textnorm *tn)
{
	return tn->lists != NULL;
}

/* ---------------------------------------------------------------- letters */

/* Latin letters with diacritics → their base letters, lower case. */
static const struct { uint16_t from, to; const char *base; } fold_ranges[] = {
	{ 0xC0, 0xC5, "a" }, { 0xC6, 0xC6, "ae" }, { 0xC7, 0xC7, "c" }, { 0xC8, 0xCB, "e" },
	{ 0xCC, 0xCF, "i" }, { 0xD0, 0xD0, "d" }, { 0xD1, 0xD1, "n" }, { 0xD2, 0xD6, "o" },
	{ 0xD8, 0xD8, "o" }, { 0xD9, 0xDC, "u" }, { 0xDD, 0xDD, "y" }, { 0xDE, 0xDE, "th" },
	{ 0xDF, 0xDF, "ss" }, { 0xE0, 0xE5, "a" }, { 0xE6, 0xE6, "ae" }, { 0xE7, 0xE7, "c" },
	{ 0xE8, 0xEB, "e" }, { 0xEC, 0xEF, "i" }, { 0xF0, 0xF0, "d" }, { 0xF1, 0xF1, "n" },
	{ 0xF2, 0xF6, "o" }, { 0xF8, 0xF8, "o" }, { 0xF9, 0xFC, "u" }, { 0xFD, 0xFD, "y" },
	{ 0xFE, 0xFE, "th" }, { 0xFF, 0xFF, "y" },
	{ 0x100, 0x105, "a" }, { 0x106, 0x10D, "c" }, { 0x10E, 0x111, "d" },
	{ 0x112, 0x11B, "e" }, { 0x11C, 0x123, "g" }, { 0x124, 0x127, "h" },
	{ 0x128, 0x131, "i" }, { 0x132, 0x133, "ij" }, { 0x134, 0x135, "j" },
	{ 0x136, 0x138, "k" }, { 0x139, 0x142, "l" }, { 0x143, 0x14B, "n" },
	{ 0x14C, 0x151, "o" }, { 0x152, 0x153, "oe" }, { 0x154, 0x159, "r" },
	{ 0x15A, 0x161, "s" }, { 0x162, 0x167, "t" }, { 0x168, 0x173, "u" },
	{ 0x174, 0x175, "w" }, { 0x176, 0x178, "y" }, { 0x179, 0x17E, "z" },
	{ 0x17F, 0x17F, "s" },
};

/* Decode one UTF-8 sequence at s (*len its bytes); a bad byte is U+FFFD. */
static uint32_t decode(const unsigned char *s, size_t *len)
{
	uint32_t c = s[0];
	size_t n, i;

	if (c < 0x80) {
		*len = 1;
		return c;
	}
	if ((c & 0xE0) == 0xC0)
		n = 2, c &= 0x1F;
	else if ((c & 0xF0) == 0xE0)
		n = 3, c &= 0x0F;
	else if ((c & 0xF8) == 0xF0)
		n = 4, c &= 0x07;
	else {
		*len = 1;
		return 0xFFFD;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			*len = i;
			return 0xFFFD;
		}
		c = (c << 6) | (s[i] & 0x3F);
	}
	*len = n;
	return c;
}

/* Letters and digits of the scripts a customer writes in; the rest (spaces,
 * punctuation, apostrophes, symbols, emoji) separates words. */
static int is_letter(uint32_t c)
{
	if (c < 0x80)
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
	if (c == 0xD7 || c == 0xF7)
		return 0;
	return (c >= 0xC0 && c <= 0x24F) || (c >= 0x300 && c <= 0x36F)
		|| (c >= 0x370 && c <= 0x3FF && c != 0x37E && c != 0x387)
		|| (c >= 0x400 && c <= 0x52F) || (c >= 0x5D0 && c <= 0x5EA)
		|| (c >= 0x620 && c <= 0x64A) || (c >= 0x900 && c <= 0xDFF)
		|| (c >= 0xE00 && c <= 0xE7F) || (c >= 0x1E00 && c <= 0x1EFF)
		|| (c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x9FFF)
		|| (c >= 0xAC00 && c <= 0xD7AF);
}

static size_t encode(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/* Append letter c folded to w (n bytes used of IG_TN_WORD); new n. */
static size_t put_folded(uint32_t c, char *w, size_t n)
{
	char tmp[4];
	const char *add = NULL;
	size_t i, len;

	if (c >= 0x300 && c <= 0x36F)  /* combining accents: dropped */
		return n;
	if (c < 0x80) {
		tmp[0] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		add = tmp, len = 1;
	} else {
		for (i = 0; i < sizeof(fold_ranges) / sizeof(fold_ranges[0]); i++)
			if (c >= fold_ranges[i].from && c <= fold_ranges[i].to) {
				add = fold_ranges[i].base;
				len = strlen(add);
				break;
			}
		if (!add) {
			if (c >= 0x391 && c <= 0x3A9)          /* Greek capitals */
				c += 0x20;
			else if (c >= 0x410 && c <= 0x42F)     /* Cyrillic capitals */
				c += 0x20;
			else if (c >= 0x400 && c <= 0x40F)
				c += 0x50;
			len = encode(c, tmp);
			add = tmp;
		}
	}
	if (n + len >= IG_TN_WORD)
		return n;
	memcpy(w + n, add, len);
	return n + len;
}

/* Next folded word of *p into w; 0 at the end. */
static int next_folded(const char **p, char *w)
{
	const unsigned char *s = (const unsigned char *)*p;
	size_t n = 0, len;
	uint32_t c;

	for (;;) {
		if (!*s) {
			*p = (const char *)s;
			return 0;
		}
		c = decode(s, &len);
		if (is_letter(c) && !(c >= 0x300 && c <= 0x36F))
			break;
		s += len;
	}
	while (*s) {
		c = decode(s, &len);
		if (!is_letter(c))
			break;
		n = put_folded(c, w, n);
		s += len;
	}
	w[n] = '\0';
	*p = (const char *)s;
	return 1;
}

void ig_textnorm_fold(const char *text, char *out, size_t outlen)
{
	const char *p = text ? text : "";
	char w[IG_TN_WORD];
	size_t n = 0, l;

	if (!outlen)
		return;
	while (next_folded(&p, w)) {
		l = strlen(w);
		if (n + l + (n ? 1 : 0) >= outlen)
			break;
		if (n)
			out[n++] = ' ';
		memcpy(out + n, w, l);
		n += l;
	}
	out[n] = '\0';
}

static int in_list(char **arr, size_t n, const char *w)
{
	return arr && bsearch(&w, arr, n, sizeof(*arr), cmp_str) != NULL;
}

void ig_textnorm_stem(struct ig_textnorm *tn, const char *word, char *stem)
{
	const sb_symbol *s;
	size_t len = strlen(word);

	if (tn->stemmer && (s = sb_stemmer_stem(tn->stemmer, (const sb_symbol *)word, (int)len))) {
		len = (size_t)sb_stemmer_length(tn->stemmer);
		if (len >= IG_TN_WORD)
			len = IG_TN_WORD - 1;
		memcpy(stem, s, len);
		stem[len] = '\0';
		return;
	}
	memcpy(stem, word, len + 1);
}

int ig_textnorm_next(struct ig_textnorm *tn, const char **p, char *word, char *stem,
		     enum ig_tn_class *cls)
{
	enum ig_tn_class k = IG_TN_CONTENT;
	size_t i;

	if (!next_folded(p, word))
		return 0;
	for (i = 0; word[i] >= '0' && word[i] <= '9'; i++)
		;
	if (!word[i] || !word[1])
		k = IG_TN_STOP;           /* a number or a single letter */
	else if (in_list(tn->stop, tn->nstop, word))
		k = IG_TN_STOP;
	else if (in_list(tn->ask, tn->nask, word))
		k = IG_TN_ASK;
	if (cls)
		*cls = k;
	ig_textnorm_stem(tn, word, stem);
	return 1;
}
