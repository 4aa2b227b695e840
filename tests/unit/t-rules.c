/* t-rules: the comment rules engine — parsing with line numbers, every
 * condition, allow lists, stop, and the detectors. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "tap.h"

static char reported[4096];

static void rep(void *arg, const char *msg)
{
	(void)arg;
	strncat(reported, msg, sizeof(reported) - strlen(reported) - 2);
	strcat(reported, "\n");
}

static struct ig_rules *parse(const char *t)
{
	struct ig_rules *r = NULL;
	struct ig_err err = { 0 };

	if (ig_rules_parse(t, strlen(t), "t", NULL, NULL, &r, NULL, &err))
		printf("# parse: %s\n", err.msg);
	return r;
}

/* The names of the rules that match, comma-separated. */
static const char *eval(struct ig_rules *r, const char *text, const char *user, int reply)
{
	static char out[256];
	struct ig_rules_input in = { text, user, reply };
	int hits[16], n = ig_rules_eval(r, &in, hits, 16), i;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, ig_rules_name(r, hits[i]));
	}
	return out;
}

int main(void)
{
	struct ig_rules *r;
	struct ig_err err = { 0 };
	int nerr = 0, n;
	const struct ig_rule_action *a;

	/* detectors */
	ok(ig_rules_has_link("visit https://x.io now"), "link: https URL");
	ok(ig_rules_has_link("go to spam.ly/abc"), "link: bare domain");
	ok(ig_rules_has_link("WWW.example.org"), "link: www.");
	ok(!ig_rules_has_link("e.g. it costs 3.50 euro"), "link: 'e.g.' and prices are not links");
	ok(!ig_rules_has_link("the end.Then"), "link: a sentence without a known TLD");
	ok(ig_rules_has_phone("call +39 333 123 4567"), "phone: international with spaces");
	ok(ig_rules_has_phone("(555) 123-4567 ok"), "phone: US style");
	ok(!ig_rules_has_phone("see you on 2026-12-01"), "phone: a date is not a phone");
	ok(!ig_rules_has_phone("order 12345"), "phone: a short number is not a phone");
	ok(ig_rules_emoji_only("\xF0\x9F\x94\xA5\xF0\x9F\x94\xA5 \xE2\x9D\xA4\xEF\xB8\x8F"),
	   "emoji-only: fire fire heart");
	ok(ig_rules_emoji_only("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"), "emoji-only: thumbs up with a skin tone");
	ok(!ig_rules_emoji_only("nice \xF0\x9F\x94\xA5"), "emoji-only: words and an emoji are not");
	ok(!ig_rules_emoji_only("   "), "emoji-only: blanks are not");
	is_int(ig_rules_mentions("@a @b_c hi @d.e mail x@y.com"), 3, "mentions: three, not the e-mail");


	/* the regex prefilter: the literal it extracts, and that it never
	 * changes an answer (every pattern against every text, with and without) */
	{
		static const char *const pats[] = {
			"whats?app", "t\\.me/", "!{4,}", "xx+x", "\\$[0-9]+", "[0-9]{3,}[ -]?off",
			"ab(cd)?ef", "foo.bar", "a\\.b*c", "^hello world$", "(x|y)z", "(.)\\1{3,}",
			"[[:digit:]]+ euro", "Free\\?", "c[ao]ke", "[]x]yz", "ab{2}c", "ciao+ bella",
			"(buy)+ now", "\\(free\\)", NULL
		};
		static const char *const texts[] = {
			"WhatsApp me", "whatapp", "join t.me/spam", "wow!!!!", "xxx", "xx", "pay $20",
			"50% off", "200-off today", "abef", "abcdef", "foo bar", "fooXbar", "a.c",
			"a.bbbc", "hello world", "Hello World!", "xz", "yz", "aaaa", "30 euro",
			"free?", "FREE?", "coke", "cake", "]yz", "xyz", "abbc", "abc", "ciaooo bella",
			"ciao bella", "buybuy now", "(free)", "", "\xF0\x9F\x94\xA5 ok", NULL
		};
		char *lit;
		int i, j, bad = 0;

		lit = ig_rules_regex_literal("whats?app");
		is_str(lit ? lit : "(null)", "what", "literal of whats?app");
		free(lit);
		lit = ig_rules_regex_literal("join t\\.me/");
		is_str(lit ? lit : "(null)", "join t.me/", "literal with an escaped dot");
		free(lit);
		lit = ig_rules_regex_literal("(a|b)cd");
		ok(lit == NULL, "no literal with an alternation");
		free(lit);
		lit = ig_rules_regex_literal("(.)\\1{5,}");
		ok(lit == NULL, "no literal for a back-reference");
		free(lit);
		for (i = 0; pats[i]; i++) {
			regex_t re;
			struct ig_rules *rr;

			if (regcomp(&re, pats[i], REG_EXTENDED | REG_ICASE | REG_NOSUB)) {
				printf("# pattern %s does not compile\n", pats[i]);
				bad++;
				continue;
			}
			/* the rules file escapes backslashes and quotes */
			{
				char esc[600];
				size_t k = 0;
				const char *q;

				k = (size_t)snprintf(esc, sizeof(esc), "rule r\nwhen regex \"");
				for (q = pats[i]; *q; q++) {
					if (*q == '\\' || *q == '"')
						esc[k++] = '\\';
					esc[k++] = *q;
				}
				snprintf(esc + k, sizeof(esc) - k, "\"\nthen hide\n");
				rr = parse(esc);
			}
			if (!rr) {
				bad++;
				regfree(&re);
				continue;
			}
			for (j = 0; texts[j]; j++) {
				int want = regexec(&re, texts[j], 0, NULL, 0) == 0;
				int got = *eval(rr, texts[j], "u", 0) != '\0';

				if (want != got) {
					printf("# /%s/ on '%s': regexec %d, rules %d\n", pats[i], texts[j], want, got);
					bad++;
				}
			}
			ig_rules_free(rr);
			regfree(&re);
		}
		is_int(bad, 0, "the prefilter never changes a regex answer (%d patterns)", i);
	}
	/* parsing errors carry line numbers, all of them with a reporter */
	reported[0] = '\0';
	{
		const char *bad = "rule a\n when frob\n then hide\nrule b\n when regex \"(\"\n then fly\n"
				  "when link\n";

		n = ig_rules_parse(bad, strlen(bad), "f.rules", rep, NULL, &r, &nerr, &err);
	}
	is_int(n, 65, "bad rules: 65");
	ok(r == NULL, "bad rules: nothing returned");
	is_int(nerr, 5, "bad rules: five errors (three lines, and rule a without a condition, b without an action)");
	ok(strstr(reported, "f.rules:2: unknown condition 'frob'") != NULL, "error on line 2 named");
	ok(strstr(reported, "f.rules:5: bad regular expression") != NULL, "bad regex on line 5");
	ok(strstr(reported, "f.rules:6: unknown action 'fly'") != NULL, "unknown action on line 6");
	ok(strstr(reported, "f.rules:7: 'when' outside") == NULL, "a 'when' after a rule belongs to it");
	ok(strncmp(err.msg, "f.rules:2:", 10) == 0, "err holds the first error");
	n = ig_rules_parse("rule a\n when link\n", 18, "g", NULL, NULL, &r, &nerr, &err);
	ok(n == 65 && strstr(err.msg, "g:1: rule 'a' has no 'then' action"), "a rule without action");
	n = ig_rules_parse("when link\n", 10, "h", NULL, NULL, &r, &nerr, &err);
	ok(n == 65 && strstr(err.msg, "h:1: 'when' outside a rule"), "a condition outside a rule");
	n = ig_rules_parse("rule a\nwhen link\nthen hide\nrule a\nwhen phone\nthen hide\n", 55, "d",
			   NULL, NULL, &r, &nerr, &err);
	ok(n == 65 && strstr(err.msg, "d:4: rule 'a' is already defined on line 1"), "duplicate rule");
	n = ig_rules_parse("rule a\nwhen keyword \"free\nthen hide\n", 36, "q", NULL, NULL, &r, &nerr, &err);
	ok(n == 65 && strstr(err.msg, "q:2: unterminated"), "unterminated quote");

	/* evaluation */
	r = parse("# spam and questions\n"
		  "competitors @rival_shop\n"
		  "allow @our_partner\n"
		  "deny @spammer\n"
		  "rule links\n  when link\n  unless user @trusted\n  then hide\n  then tag spam\n  stop\n"
		  "rule words\n  when keyword \"free followers\" promo\n  then tag spam\n"
		  "rule rx\n  when regex \"^buy .* now$\"\n  then delete\n"
		  "rule many\n  when mentions >= 3\n  then hide\n"
		  "rule rival\n  when competitor\n  then assign anna@rossi.it\n"
		  "rule denied\n  when denied\n  then hide\n"
		  "rule fire\n  when emoji-only\n  then reply \"Thank you!\"\n"
		  "rule ask\n  when question\n  unless reply\n  then dm ai\n"
		  "rule tel\n  when phone\n  then escalate\n"
		  "rule long\n  when length > 20\n  when keyword price\n  then reply ai draft\n");
	ok(r != NULL, "a rules file with every condition parses");
	if (!r)
		return done_testing();
	is_int(ig_rules_count(r), 10, "ten rules");
	is_int(ig_rules_line(r, 0), 5, "rule 'links' starts on line 5");
	a = ig_rules_actions(r, 0, &n);
	ok(n == 2 && a[0].kind == IG_RA_HIDE && a[1].kind == IG_RA_TAG && !strcmp(a[1].args[0], "spam"),
	   "links: hide, tag spam");
	is_str(eval(r, "great deals at spam.ly and more", "bob", 0), "links", "a link: hidden, stop");
	is_str(eval(r, "great deals at spam.ly", "trusted", 0), "", "unless user: a trusted author is left");
	is_str(eval(r, "Get FREE followers today", "bob", 0), "words", "keyword phrase, any case");
	is_str(eval(r, "promotional", "bob", 0), "", "keyword matches whole words only");
	is_str(eval(r, "Buy watches now", "bob", 0), "rx", "POSIX regex, case-insensitive");
	is_str(eval(r, "@a @b @c look", "bob", 0), "many", "mention count");
	is_str(eval(r, "better at @rival_shop", "bob", 0), "rival", "competitor handle");
	is_str(eval(r, "hello", "@Spammer", 0), "denied", "deny list, '@' and case ignored");
	is_str(eval(r, "buy x now spam.ly", "our_partner", 0), "", "allow list: no rule applies");
	is_str(eval(r, "\xF0\x9F\x94\xA5\xF0\x9F\x94\xA5", "bob", 0), "fire", "emoji-only");
	is_str(eval(r, "do you deliver?", "bob", 0), "ask", "a question");
	is_str(eval(r, "do you deliver?", "bob", 1), "", "unless reply: a reply is left");
	is_str(eval(r, "call me 333 123 4567 promo", "bob", 0), "words,tel", "several rules match, in order");
	is_str(eval(r, "what is the price of the big one", "bob", 0), "long", "length and keyword (AND)");
	is_str(eval(r, "the price", "bob", 0), "", "AND: one condition is not enough");
	a = ig_rules_actions(r, 9, &n);
	ok(n == 1 && a[0].kind == IG_RA_REPLY && a[0].ai && a[0].draft, "reply ai draft");
	a = ig_rules_actions(r, 7, &n);
	ok(n == 1 && a[0].kind == IG_RA_DM && a[0].ai, "dm ai");
	is_str(eval(r, NULL, NULL, 0), "", "no text, no author: nothing matches");
	ig_rules_free(r);
	return done_testing();
}
