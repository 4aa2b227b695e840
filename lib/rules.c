/*
 * rules.c — the comment rules engine; the format and contracts are in
 * rules.h and ig-comments(1).
 */
#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"

enum cond_kind {
	C_KEYWORD, C_REGEX, C_LINK, C_PHONE, C_EMOJI, C_QUESTION, C_MENTIONS, C_COMPETITOR,
	C_USER, C_DENIED, C_REPLY, C_LENGTH
};

enum { OP_GE, OP_GT, OP_EQ, OP_LE, OP_LT };

struct cond {
	enum cond_kind k;
	int neg;
	char **words;
	int nwords;
	regex_t re;
	int has_re;
	char *lit;            /* regex: a literal every match contains (lower case), or NULL */
	int op;
	long n;
};

struct rule {
	char *name;
	int line;
	struct cond *conds;
	int nconds;
	struct ig_rule_action *acts;
	int nacts;
	int stop;
};

struct ig_rules {
	struct rule *rules;
	int n;
	char **allow, **deny, **competitors;
	int nallow, ndeny, ncomp;
	char **at_competitors;   /* "@handle", made once when parsing ends */
};

static const char *const act_names[] = {
	"hide", "unhide", "delete", "tag", "assign", "escalate", "reply", "dm"
};

const char *ig_rule_act_name(enum ig_rule_act a)
{
	return (unsigned)a < sizeof(act_names) / sizeof(act_names[0]) ? act_names[a] : "?";
}

/* ------------------------------------------------------------ detectors */

static int is_word_byte(unsigned char c)
{
	return isalnum(c) || c == '_' || c >= 0x80;
}

int ig_rules_mentions(const char *t)
{
	int n = 0;
	const char *p;

	for (p = t ? t : ""; *p; p++)
		if (*p == '@' && (p == t || !is_word_byte((unsigned char)p[-1]))
		    && (isalnum((unsigned char)p[1]) || p[1] == '_' || p[1] == '.'))
			n++;
	return n;
}

/* Top-level domains a bare domain may end in (a short, common list: "bit.ly",
 * "spam.xyz"; "e.g" or "3.50" are not links). */
static const char *const tlds[] = {
	"com", "net", "org", "io", "ly", "co", "me", "info", "biz", "xyz", "app", "shop",
	"store", "online", "site", "top", "club", "link", "click", "live", "win", "vip",
	"us", "uk", "it", "de", "fr", "es", "ru", "br", "in", "ai", "gg", "tv", "cc", "be",
	"ch", "nl", "eu", "pt", "pl", "cn", "jp", "ca", "au", "mx", "ar", "ws", "to", "tk",
	"gl", "ml", "ga", "cf", "gq", "pw", "su", "cz", "at", "se", "no", "dk", "fi", "ie",
	NULL
};

static int is_tld(const char *p, size_t n)
{
	size_t i;

	for (i = 0; tlds[i]; i++)
		if (strlen(tlds[i]) == n && !strncasecmp(tlds[i], p, n))
			return 1;
	return 0;
}

int ig_rules_has_link(const char *t)
{
	const char *p;

	if (!t)
		return 0;
	if (strcasestr(t, "http://") || strcasestr(t, "https://") || strcasestr(t, "www."))
		return 1;
	for (p = t; (p = strchr(p, '.')); p++) {
		const char *q = p + 1;
		size_t n = 0;

		if (p == t || !(isalnum((unsigned char)p[-1]) || p[-1] == '-'))
			continue;
		while (isalpha((unsigned char)q[n]))
			n++;
		if (n >= 2 && !isalnum((unsigned char)q[n]) && is_tld(q, n))
			return 1;
	}
	return 0;
}

int ig_rules_has_phone(const char *t)
{
	const char *p;

	for (p = t ? t : ""; *p; p++) {
		const char *q;
		int digits = 0;

		if (!(*p == '+' || isdigit((unsigned char)*p)))
			continue;
		if (p > t && isalnum((unsigned char)p[-1]))
			continue;
		for (q = p + (*p == '+'); *q && (isdigit((unsigned char)*q) || strchr(" -.()", *q)); q++)
			if (isdigit((unsigned char)*q))
				digits++;
		if (digits >= 9 && digits <= 15)
			return 1;
		p = q - 1 > p ? q - 1 : p;
	}
	return 0;
}

/* One UTF-8 code point at *p (advanced); 0xFFFD for a bad sequence. */
static unsigned utf8_next(const unsigned char **p)
{
	const unsigned char *s = *p;
	unsigned c = s[0];
	int n, i;

	if (c < 0x80) {
		*p = s + 1;
		return c;
	}
	n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
	c &= n == 3 ? 0x07 : n == 2 ? 0x0F : 0x1F;
	for (i = 1; i <= n; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			*p = s + i;
			return 0xFFFD;
		}
		c = c << 6 | (s[i] & 0x3F);
	}
	*p = s + (n ? n + 1 : 1);
	return n ? c : 0xFFFD;
}

static int is_emoji(unsigned c)
{
	return (c >= 0x1F000 && c <= 0x1FAFF) || (c >= 0x2190 && c <= 0x2BFF)
	       || c == 0x3030 || c == 0x303D || c == 0x3297 || c == 0x3299 || c == 0xA9 || c == 0xAE
	       || c == 0x203C || c == 0x2049 || c == 0x2122 || c == 0x2139;
}

static int is_emoji_glue(unsigned c)
{
	return c == 0x200D || c == 0xFE0F || c == 0xFE0E || c == 0x20E3
	       || (c >= 0x1F3FB && c <= 0x1F3FF) || (c >= 0xE0020 && c <= 0xE007F);
}

int ig_rules_emoji_only(const char *t)
{
	const unsigned char *p = (const unsigned char *)(t ? t : "");
	int seen = 0;

	while (*p) {
		unsigned c = utf8_next(&p);

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (is_emoji(c))
			seen = 1;
		else if (!is_emoji_glue(c))
			return 0;
	}
	return seen;
}

/*
 * A literal (ASCII, lower case, >= 2 bytes) that every match of the POSIX
 * extended expression re contains, or NULL when none is obvious: no
 * alternation anywhere, text outside groups and bracket expressions, a
 * character followed by ?, * or {} not counted.  New string.
 */
char *ig_rules_regex_literal(const char *re)
{
	char best[128] = "", cur[128] = "";
	size_t nb = 0, nc = 0, i = 0;
	int depth = 0;

	if (strchr(re, '|'))
		return NULL;
#define END_RUN() do { if (nc > nb) { memcpy(best, cur, nc); nb = nc; best[nb] = '\0'; } nc = 0; } while (0)
	while (re[i]) {
		unsigned char ch = (unsigned char)re[i];

		if (ch == '[') {
			END_RUN();
			i++;
			if (re[i] == '^')
				i++;
			if (re[i] == ']')
				i++;
			while (re[i] && re[i] != ']') {
				if (re[i] == '[' && (re[i + 1] == ':' || re[i + 1] == '.' || re[i + 1] == '=')) {
					char close = re[i + 1];

					i += 2;
					while (re[i] && !(re[i] == close && re[i + 1] == ']'))
						i++;
					if (re[i])
						i += 2;
					continue;
				}
				i++;
			}
			if (re[i])
				i++;
			continue;
		}
		if (ch == '(' || ch == ')') {
			END_RUN();
			depth += ch == '(' ? 1 : -1;
			i++;
			continue;
		}
		if (ch == '*' || ch == '?' || ch == '{') {
			/* the character before is optional (or counted): not required */
			if (nc)
				nc--;
			END_RUN();
			if (ch == '{')
				while (re[i] && re[i] != '}')
					i++;
			if (re[i])
				i++;
			continue;
		}
		if (ch == '+' || ch == '.' || ch == '^' || ch == '$' || ch >= 0x80 || depth > 0) {
			if (ch == '\\' && re[i + 1])
				i++;
			END_RUN();
			i++;
			continue;
		}
		if (ch == '\\') {
			unsigned char e = (unsigned char)re[i + 1];

			if (!e || isalnum(e) || e >= 0x80) {
				/* a back-reference or a GNU class (\w, \b): not a literal */
				END_RUN();
				i += e ? 2 : 1;
				continue;
			}
			ch = e;
			i++;
		}
		if (nc + 1 < sizeof(cur))
			cur[nc++] = (char)tolower(ch);
		i++;
	}
	END_RUN();
#undef END_RUN
	return nb >= 2 ? strdup(best) : NULL;
}

/* ------------------------------------------------------------ parsing */

struct parser {
	const char *name;
	int line;
	void (*report)(void *, const char *);
	void *arg;
	int nerr;
	struct ig_err *err;
};

static void perr(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr(struct parser *ps, const char *fmt, ...)
{
	char msg[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!ps->nerr)
		ig_err_set(ps->err, 65, "%s:%d: %s", ps->name, ps->line, msg);
	ps->nerr++;
	if (ps->report) {
		char full[800];

		snprintf(full, sizeof(full), "%s:%d: %s", ps->name, ps->line, msg);
		ps->report(ps->arg, full);
	}
}

/* Split a line into tokens (words, or "quoted strings" with \" and \\);
 * '#' outside quotes ends the line.  New array of new strings in *tok;
 * returns the count or -1 (unterminated quote). */
static int tokenize(const char *s, size_t len, char ***tok)
{
	char **v = NULL;
	int n = 0;
	size_t i = 0;

	*tok = NULL;
	while (i < len) {
		char *w;
		size_t k = 0;

		while (i < len && isspace((unsigned char)s[i]))
			i++;
		if (i >= len || s[i] == '#')
			break;
		w = malloc(len - i + 1);
		if (!w)
			goto fail;
		if (s[i] == '"') {
			i++;
			while (i < len && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				w[k++] = s[i++];
			}
			if (i >= len) {
				free(w);
				goto fail;
			}
			i++;
		} else {
			while (i < len && !isspace((unsigned char)s[i]))
				w[k++] = s[i++];
		}
		w[k] = '\0';
		{
			char **nv = realloc(v, sizeof(*v) * (size_t)(n + 2));

			if (!nv) {
				free(w);
				goto fail;
			}
			v = nv;
		}
		v[n++] = w;
		v[n] = NULL;
	}
	*tok = v;
	return n;
fail:
	while (n > 0)
		free(v[--n]);
	free(v);
	return -1;
}

static void free_words(char **w, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

/* Copy tokens [from, n) as a new list, lower-cased with a leading '@'
 * stripped when handles. */
static char **copy_words(char **tok, int from, int n, int handles, int lower)
{
	char **w = calloc((size_t)(n - from + 1), sizeof(*w));
	int i;

	if (!w)
		return NULL;
	for (i = from; i < n; i++) {
		const char *s = tok[i];
		char *p;

		if (handles && *s == '@')
			s++;
		if (!(w[i - from] = strdup(s))) {
			free_words(w, i - from);
			return NULL;
		}
		if (lower)
			for (p = w[i - from]; *p; p++)
				*p = (char)tolower((unsigned char)*p);
	}
	return w;
}

static int parse_op(const char *s)
{
	static const char *const ops[] = { ">=", ">", "=", "<=", "<" };
	int i;

	for (i = 0; i < 5; i++)
		if (!strcmp(s, ops[i]))
			return i;
	if (!strcmp(s, "=="))
		return OP_EQ;
	return -1;
}

static int parse_number(const char *s, long *out)
{
	char *end;

	if (!*s || !isdigit((unsigned char)*s))
		return -1;
	*out = strtol(s, &end, 10);
	return *end || *out > 1000000 ? -1 : 0;
}

static int parse_cond(struct parser *ps, struct rule *r, char **tok, int n, int neg)
{
	struct cond c;
	const char *k;
	struct cond *nc;

	memset(&c, 0, sizeof(c));
	c.neg = neg;
	if (n < 2) {
		perr(ps, "'%s' needs a condition", tok[0]);
		return -1;
	}
	k = tok[1];
	if (!strcmp(k, "keyword") || !strcmp(k, "keywords")) {
		c.k = C_KEYWORD;
		if (n < 3) {
			perr(ps, "'keyword' needs at least one word or \"phrase\"");
			return -1;
		}
		c.words = copy_words(tok, 2, n, 0, 1);
		c.nwords = n - 2;
	} else if (!strcmp(k, "regex")) {
		char buf[256];
		int rc;

		c.k = C_REGEX;
		if (n != 3) {
			perr(ps, "'regex' needs exactly one \"expression\" (quote it)");
			return -1;
		}
		rc = regcomp(&c.re, tok[2], REG_EXTENDED | REG_ICASE | REG_NOSUB);
		if (rc) {
			regerror(rc, &c.re, buf, sizeof(buf));
			perr(ps, "bad regular expression \"%.200s\": %s", tok[2], buf);
			return -1;
		}
		c.has_re = 1;
		c.lit = ig_rules_regex_literal(tok[2]);
	} else if (!strcmp(k, "link") || !strcmp(k, "phone") || !strcmp(k, "emoji-only")
		   || !strcmp(k, "question") || !strcmp(k, "competitor") || !strcmp(k, "denied")
		   || !strcmp(k, "reply")) {
		c.k = !strcmp(k, "link") ? C_LINK : !strcmp(k, "phone") ? C_PHONE
		      : !strcmp(k, "emoji-only") ? C_EMOJI : !strcmp(k, "question") ? C_QUESTION
		      : !strcmp(k, "competitor") ? C_COMPETITOR : !strcmp(k, "denied") ? C_DENIED
		      : C_REPLY;
		if (n != 2) {
			perr(ps, "'%s' takes no argument (got '%.100s')", k, tok[2]);
			return -1;
		}
	} else if (!strcmp(k, "mentions") || !strcmp(k, "length")) {
		c.k = !strcmp(k, "mentions") ? C_MENTIONS : C_LENGTH;
		if (n != 4 || (c.op = parse_op(tok[2])) < 0 || parse_number(tok[3], &c.n)) {
			perr(ps, "'%s' needs an operator (>=, >, =, <=, <) and a number, e.g. '%s >= 3'",
			     k, k);
			return -1;
		}
	} else if (!strcmp(k, "user")) {
		c.k = C_USER;
		if (n < 3) {
			perr(ps, "'user' needs at least one @username");
			return -1;
		}
		c.words = copy_words(tok, 2, n, 1, 1);
		c.nwords = n - 2;
	} else {
		perr(ps, "unknown condition '%.100s' (keyword, regex, link, phone, emoji-only,"
		     " question, mentions, length, competitor, user, denied, reply)", k);
		return -1;
	}
	if ((c.k == C_KEYWORD || c.k == C_USER) && !c.words) {
		perr(ps, "out of memory");
		return -1;
	}
	nc = realloc(r->conds, sizeof(*nc) * (size_t)(r->nconds + 1));
	if (!nc) {
		if (c.has_re)
			regfree(&c.re);
		free(c.lit);
		free_words(c.words, c.nwords);
		perr(ps, "out of memory");
		return -1;
	}
	r->conds = nc;
	r->conds[r->nconds++] = c;
	return 0;
}

static int parse_action(struct parser *ps, struct rule *r, char **tok, int n)
{
	struct ig_rule_action a;
	struct ig_rule_action *na;
	const char *k;
	int i, from = 2, handles = 0, lower = 0;

	memset(&a, 0, sizeof(a));
	a.line = ps->line;
	if (n < 2) {
		perr(ps, "'then' needs an action (hide, unhide, delete, tag, assign, escalate,"
		     " reply, dm)");
		return -1;
	}
	k = tok[1];
	for (i = 0; i < (int)(sizeof(act_names) / sizeof(act_names[0])); i++)
		if (!strcmp(k, act_names[i]))
			break;
	if (i == (int)(sizeof(act_names) / sizeof(act_names[0]))) {
		perr(ps, "unknown action '%.100s' (hide, unhide, delete, tag, assign, escalate,"
		     " reply, dm)", k);
		return -1;
	}
	a.kind = (enum ig_rule_act)i;
	switch (a.kind) {
	case IG_RA_HIDE: case IG_RA_UNHIDE: case IG_RA_DELETE: case IG_RA_ESCALATE:
		if (n != 2) {
			perr(ps, "'%s' takes no argument", k);
			return -1;
		}
		break;
	case IG_RA_TAG:
		if (n < 3) {
			perr(ps, "'tag' needs at least one tag");
			return -1;
		}
		lower = 1;
		for (i = 2; i < n; i++)
			if (strspn(tok[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_-") != strlen(tok[i]) || strlen(tok[i]) > 40) {
				perr(ps, "bad tag '%.60s' (letters, digits, '-' and '_', at most 40)",
				     tok[i]);
				return -1;
			}
		break;
	case IG_RA_ASSIGN:
		if (n != 3 || !strchr(tok[2], '@')) {
			perr(ps, "'assign' needs one member's e-mail");
			return -1;
		}
		break;
	case IG_RA_REPLY: case IG_RA_DM:
		if (n >= 3 && !strcmp(tok[2], "ai")) {
			a.ai = 1;
			if (n == 4 && !strcmp(tok[3], "draft") && a.kind == IG_RA_REPLY)
				a.draft = 1;
			else if (n != 3) {
				perr(ps, "'%s ai' takes %s", k,
				     a.kind == IG_RA_REPLY ? "only 'draft' after it" : "nothing after it");
				return -1;
			}
			from = n;
		} else if (n == 4 && !strcmp(tok[2], "template")) {
			a.is_template = 1;
			from = 3;
		} else if (n != 3 || !*tok[2]) {
			perr(ps, "'%s' needs one \"text\" (quoted), 'template NAME' or 'ai'", k);
			return -1;
		}
		break;
	}
	if (from < n) {
		if (!(a.args = copy_words(tok, from, n, handles, lower))) {
			perr(ps, "out of memory");
			return -1;
		}
		a.nargs = n - from;
	}
	na = realloc(r->acts, sizeof(*na) * (size_t)(r->nacts + 1));
	if (!na) {
		free_words(a.args, a.nargs);
		perr(ps, "out of memory");
		return -1;
	}
	r->acts = na;
	r->acts[r->nacts++] = a;
	return 0;
}

static void free_rule(struct rule *r)
{
	int i;

	free(r->name);
	for (i = 0; i < r->nconds; i++) {
		if (r->conds[i].has_re)
			regfree(&r->conds[i].re);
		free(r->conds[i].lit);
		free_words(r->conds[i].words, r->conds[i].nwords);
	}
	free(r->conds);
	for (i = 0; i < r->nacts; i++)
		free_words(r->acts[i].args, r->acts[i].nargs);
	free(r->acts);
}

void ig_rules_free(struct ig_rules *rs)
{
	int i;

	if (!rs)
		return;
	for (i = 0; i < rs->n; i++)
		free_rule(&rs->rules[i]);
	free(rs->rules);
	free_words(rs->allow, rs->nallow);
	free_words(rs->deny, rs->ndeny);
	free_words(rs->competitors, rs->ncomp);
	free_words(rs->at_competitors, rs->at_competitors ? rs->ncomp : 0);
	free(rs);
}

static int add_list(struct parser *ps, char ***list, int *nlist, char **tok, int n)
{
	char **w, **nl;
	int i;

	if (n < 2) {
		perr(ps, "'%s' needs at least one @username", tok[0]);
		return -1;
	}
	if (!(w = copy_words(tok, 1, n, 1, 1)) || !(nl = realloc(*list, sizeof(*nl)
						  * (size_t)(*nlist + n - 1 + 1)))) {
		if (w)
			free_words(w, n - 1);
		perr(ps, "out of memory");
		return -1;
	}
	for (i = 0; i < n - 1; i++)
		nl[(*nlist)++] = w[i];
	nl[*nlist] = NULL;
	*list = nl;
	free(w);
	return 0;
}

static void check_rule(struct parser *ps, struct rule *r)
{
	int line = ps->line;

	if (!r)
		return;
	ps->line = r->line;
	if (!r->nconds)
		perr(ps, "rule '%s' has no 'when' condition", r->name);
	if (!r->nacts && !r->stop)
		perr(ps, "rule '%s' has no 'then' action", r->name);
	ps->line = line;
}

int ig_rules_parse(const char *text, size_t len, const char *name,
		   void (*report)(void *arg, const char *msg), void *arg, struct ig_rules **out,
		   int *nerr, struct ig_err *err)
{
	struct parser ps = { name ? name : "rules", 0, report, arg, 0, err };
	struct ig_rules *rs = calloc(1, sizeof(*rs));
	struct rule *cur = NULL;
	size_t i = 0;

	*out = NULL;
	if (!rs)
		return ig_err_set(err, 70, "out of memory");
	while (i < len) {
		size_t e = i;
		char **tok;
		int n;

		while (e < len && text[e] != '\n')
			e++;
		ps.line++;
		if (memchr(text + i, '\0', e - i)) {
			perr(&ps, "a NUL byte: not a text file");
			i = e + 1;
			continue;
		}
		n = tokenize(text + i, e - i, &tok);
		i = e + 1;
		if (n < 0) {
			perr(&ps, "unterminated \"quoted string\"");
			continue;
		}
		if (n == 0) {
			free(tok);
			continue;
		}
		if (!strcmp(tok[0], "rule")) {
			struct rule *nr;

			check_rule(&ps, cur);
			cur = NULL;
			if (n != 2 || strspn(tok[1], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					     "0123456789_-.") != strlen(tok[1])) {
				perr(&ps, "'rule' needs one name (letters, digits, '-', '_', '.')");
			} else {
				int k;

				for (k = 0; k < rs->n; k++)
					if (!strcmp(rs->rules[k].name, tok[1]))
						break;
				if (k < rs->n)
					perr(&ps, "rule '%s' is already defined on line %d", tok[1],
					     rs->rules[k].line);
				else if (!(nr = realloc(rs->rules, sizeof(*nr) * (size_t)(rs->n + 1))))
					perr(&ps, "out of memory");
				else {
					rs->rules = nr;
					cur = &rs->rules[rs->n++];
					memset(cur, 0, sizeof(*cur));
					cur->name = strdup(tok[1]);
					cur->line = ps.line;
				}
			}
		} else if (!strcmp(tok[0], "allow")) {
			add_list(&ps, &rs->allow, &rs->nallow, tok, n);
		} else if (!strcmp(tok[0], "deny")) {
			add_list(&ps, &rs->deny, &rs->ndeny, tok, n);
		} else if (!strcmp(tok[0], "competitors")) {
			add_list(&ps, &rs->competitors, &rs->ncomp, tok, n);
		} else if (!strcmp(tok[0], "when") || !strcmp(tok[0], "unless")
			   || !strcmp(tok[0], "then") || !strcmp(tok[0], "stop")) {
			if (!cur)
				perr(&ps, "'%s' outside a rule (start one with 'rule NAME')", tok[0]);
			else if (!strcmp(tok[0], "stop")) {
				if (n != 1)
					perr(&ps, "'stop' takes no argument");
				cur->stop = 1;
			} else if (!strcmp(tok[0], "then"))
				parse_action(&ps, cur, tok, n);
			else
				parse_cond(&ps, cur, tok, n, !strcmp(tok[0], "unless"));
		} else {
			perr(&ps, "unknown directive '%.100s' (rule, when, unless, then, stop, allow,"
			     " deny, competitors)", tok[0]);
		}
		free_words(tok, n);
	}
	check_rule(&ps, cur);
	if (!ps.nerr && !rs->n) {
		ps.line = ps.line ? ps.line : 1;
		perr(&ps, "no rule defined");
	}
	if (!ps.nerr && rs->ncomp) {
		int k;

		if (!(rs->at_competitors = calloc((size_t)rs->ncomp + 1, sizeof(char *))))
			perr(&ps, "out of memory");
		for (k = 0; rs->at_competitors && k < rs->ncomp; k++) {
			size_t sz = strlen(rs->competitors[k]) + 2;

			if (!(rs->at_competitors[k] = malloc(sz))) {
				perr(&ps, "out of memory");
				break;
			}
			snprintf(rs->at_competitors[k], sz, "@%s", rs->competitors[k]);
		}
	}
	if (nerr)
		*nerr = ps.nerr;
	if (ps.nerr) {
		ig_rules_free(rs);
		return 65;
	}
	*out = rs;
	return 0;
}

int ig_rules_count(const struct ig_rules *r) { return r->n; }
const char *ig_rules_name(const struct ig_rules *r, int i) { return r->rules[i].name; }
int ig_rules_line(const struct ig_rules *r, int i) { return r->rules[i].line; }
int ig_rules_stop(const struct ig_rules *r, int i) { return r->rules[i].stop; }

const struct ig_rule_action *ig_rules_actions(const struct ig_rules *r, int i, int *n)
{
	*n = r->rules[i].nacts;
	return r->rules[i].acts;
}

/* ------------------------------------------------------------ evaluation */

/* What one comment's detectors found, computed once each (-1: not yet). */
struct seen {
	const char *text;      /* original */
	char *lower;           /* ASCII lower case */
	char small[1024];
	int link, phone, emoji, mentions, length;
	char user[128];
};

static int whole_word(const char *hay, const char *w)
{
	size_t n = strlen(w);
	const char *p = hay;

	if (!n)
		return 0;
	while ((p = strstr(p, w))) {
		if ((p == hay || !is_word_byte((unsigned char)p[-1]) || !is_word_byte((unsigned char)w[0]))
		    && (!is_word_byte((unsigned char)p[n]) || !is_word_byte((unsigned char)w[n - 1])))
			return 1;
		p++;
	}
	return 0;
}

static int in_list(char **list, int n, const char *user)
{
	int i;

	if (!*user)
		return 0;
	for (i = 0; i < n; i++)
		if (!strcmp(list[i], user))
			return 1;
	return 0;
}

static int cmp_op(long v, int op, long n)
{
	switch (op) {
	case OP_GE: return v >= n;
	case OP_GT: return v > n;
	case OP_EQ: return v == n;
	case OP_LE: return v <= n;
	default: return v < n;
	}
}

static int holds(const struct ig_rules *rs, const struct cond *c, struct seen *s,
		 const struct ig_rules_input *in)
{
	int i;

	switch (c->k) {
	case C_KEYWORD:
		for (i = 0; i < c->nwords; i++)
			if (whole_word(s->lower, c->words[i]))
				return 1;
		return 0;
	case C_REGEX:
		/* glibc's regexec costs microseconds; a required literal that is
		 * absent settles most comments first */
		if (c->lit && !strstr(s->lower, c->lit))
			return 0;
		return regexec(&c->re, s->text, 0, NULL, 0) == 0;
	case C_LINK:
		if (s->link < 0)
			s->link = ig_rules_has_link(s->text);
		return s->link;
	case C_PHONE:
		if (s->phone < 0)
			s->phone = ig_rules_has_phone(s->text);
		return s->phone;
	case C_EMOJI:
		if (s->emoji < 0)
			s->emoji = ig_rules_emoji_only(s->text);
		return s->emoji;
	case C_QUESTION:
		return strchr(s->text, '?') != NULL;
	case C_MENTIONS:
		if (s->mentions < 0)
			s->mentions = ig_rules_mentions(s->text);
		return cmp_op(s->mentions, c->op, c->n);
	case C_LENGTH:
		if (s->length < 0) {
			const unsigned char *p = (const unsigned char *)s->text;

			s->length = 0;
			while (*p) {
				utf8_next(&p);
				s->length++;
			}
		}
		return cmp_op(s->length, c->op, c->n);
	case C_COMPETITOR:
		for (i = 0; i < rs->ncomp; i++)
			if (whole_word(s->lower, rs->at_competitors[i])
			    || !strcmp(s->user, rs->competitors[i]))
				return 1;
		return 0;
	case C_USER:
		return in_list(c->words, c->nwords, s->user);
	case C_DENIED:
		return in_list(rs->deny, rs->ndeny, s->user);
	case C_REPLY:
		return in->is_reply;
	}
	return 0;
}

int ig_rules_eval(const struct ig_rules *rs, const struct ig_rules_input *in, int *hits, int max)
{
	struct seen s;
	size_t n;
	int i, j, nh = 0;
	char *p;

	s.text = in->text ? in->text : "";
	s.link = s.phone = s.emoji = s.mentions = s.length = -1;
	snprintf(s.user, sizeof(s.user), "%s", in->username ? in->username + (*in->username == '@') : "");
	for (p = s.user; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (in_list(rs->allow, rs->nallow, s.user))
		return 0;
	n = strlen(s.text);
	s.lower = n < sizeof(s.small) ? s.small : malloc(n + 1);
	if (!s.lower)
		return 0;
	for (i = 0; i <= (int)n; i++)
		s.lower[i] = (char)tolower((unsigned char)s.text[i]);
	for (i = 0; i < rs->n && nh < max; i++) {
		const struct rule *r = &rs->rules[i];

		for (j = 0; j < r->nconds; j++)
			if (holds(rs, &r->conds[j], &s, in) == r->conds[j].neg)
				break;
		if (j < r->nconds)
			continue;
		hits[nh++] = i;
		if (r->stop)
			break;
	}
	if (s.lower != s.small)
		free(s.lower);
	return nh;
}
