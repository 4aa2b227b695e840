/*
 * rules.h — comment rules as code (ig-comments(1) "RULES"): a plain text
 * format, no dependency beyond POSIX <regex.h>.
 *
 *   # comment
 *   competitors @rival_shop @other_brand     (for `when competitor`)
 *   allow @our_partner                       (never acted on by any rule)
 *   deny @known_spammer                      (for `when denied`)
 *
 *   rule NAME
 *     when COND ...        every `when` must hold (AND)
 *     unless COND ...      none of the `unless` may hold
 *     then ACTION ...      what to do, in order
 *     stop                 later rules do not look at a comment this one took
 *
 * Conditions: keyword WORD|"PHRASE"... (any; case-insensitive, whole words),
 * regex "ERE" (POSIX extended, case-insensitive), link (URL or bare domain),
 * phone, emoji-only, question, mentions OP N (OP: >= > = <= <), competitor,
 * user @NAME... (any), denied, reply (the comment is a reply), length OP N.
 * Actions: hide, unhide, delete, tag TAG..., assign EMAIL, escalate,
 * reply "TEXT" | reply template NAME | reply ai [draft],
 * dm "TEXT" | dm template NAME | dm ai.
 *
 * The engine is pure: parsing and evaluation touch no store.
 */
#ifndef IG_RULES_H
#define IG_RULES_H

#include <stddef.h>

#include "err.h"

enum ig_rule_act {
	IG_RA_HIDE, IG_RA_UNHIDE, IG_RA_DELETE, IG_RA_TAG, IG_RA_ASSIGN, IG_RA_ESCALATE,
	IG_RA_REPLY, IG_RA_DM
};

struct ig_rule_action {
	enum ig_rule_act kind;
	int line;
	char **args;          /* tags; assignee; text; template name */
	int nargs;
	int ai, draft, is_template;
};

struct ig_rules;

/* What a rule looks at.  text may be NULL. */
struct ig_rules_input {
	const char *text;
	const char *username;  /* without '@' */
	int is_reply;
};

/*
 * Parse text (len bytes; name for messages, e.g. the file name).  Every
 * error is "NAME:LINE: message"; with report non-NULL each one is passed to
 * it and parsing goes on (rules check), else the first stops it.  Returns 0
 * with *out new (ig_rules_free), or 65 (err holds the first error; *nerr
 * the count when not NULL).
 */
int ig_rules_parse(const char *text, size_t len, const char *name,
		   void (*report)(void *arg, const char *msg), void *arg, struct ig_rules **out,
		   int *nerr, struct ig_err *err);
void ig_rules_free(struct ig_rules *r);

int ig_rules_count(const struct ig_rules *r);
const char *ig_rules_name(const struct ig_rules *r, int i);
int ig_rules_line(const struct ig_rules *r, int i);
int ig_rules_stop(const struct ig_rules *r, int i);
const struct ig_rule_action *ig_rules_actions(const struct ig_rules *r, int i, int *n);
const char *ig_rule_act_name(enum ig_rule_act a);

/*
 * The rules that match in, in file order (a `stop` rule ends the list):
 * their indexes in hits (at most max).  Returns how many; 0 for an author on
 * the allow list.
 */
int ig_rules_eval(const struct ig_rules *r, const struct ig_rules_input *in, int *hits, int max);

/* The detectors, exposed for tests (text is UTF-8). */
int ig_rules_has_link(const char *text);
int ig_rules_has_phone(const char *text);
int ig_rules_emoji_only(const char *text);
int ig_rules_mentions(const char *text);
/* A literal every match of the extended expression contains (lower case),
 * used to skip regexec; NULL when none is obvious.  New string. */
char *ig_rules_regex_literal(const char *re);

#endif
