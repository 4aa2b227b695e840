/*
 * common.h — what every program's main shares: the message helpers (they
 * print and exit, so they live here, not in lib/), the shared options of
 * DESIGN.md §4, building the context, and checking stdout before exit.
 *
 * Messages: "program: message" on stderr, lower case, no final stop, the
 * subject quoted.  A format ending in ':' gets ": strerror(errno)" appended.
 */
#ifndef IG_CMD_COMMON_H
#define IG_CMD_COMMON_H

#include <getopt.h>
#include <stdio.h>
#include <stdnoreturn.h>

#include "ctx.h"
#include "err.h"
#include "exitcodes.h"
#include "jsonio.h"

extern const char *cmd_name;   /* the program's name, set by cmd_init */
extern int cmd_verbose;        /* -v count */
extern int cmd_quiet;          /* -q */

void cmd_init(int argc, char **argv);

noreturn void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
noreturn void die_err(const struct ig_err *err);
noreturn void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warn_err(const struct ig_err *err);
/* Only with -v. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The shared options. */
enum {
	OPT_DB = 0x1000, OPT_TENANT, OPT_FORMAT, OPT_CONFIG, OPT_API_KEY_FILE,
	OPT_PRINT_CONFIG, OPT_DRY_RUN,
	OPT_PROGRAM = 0x1100   /* programs number their own options from here */
};

#define CMD_COMMON_SHORT "qvhV"
#define CMD_COMMON_LONG \
	{ "db", required_argument, NULL, OPT_DB }, \
	{ "tenant", required_argument, NULL, OPT_TENANT }, \
	{ "format", required_argument, NULL, OPT_FORMAT }, \
	{ "config", required_argument, NULL, OPT_CONFIG }, \
	{ "api-key-file", required_argument, NULL, OPT_API_KEY_FILE }, \
	{ "print-config", no_argument, NULL, OPT_PRINT_CONFIG }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ "version", no_argument, NULL, 'V' }

/* The help text's lines for the shared options (each program's usage
 * prints it). */
extern const char cmd_common_help[];

struct cmd_opts {
	const char *db;
	const char *tenant;
	const char *config;
	const char *api_key_file;
	enum ig_format format;
	int print_config;
};

/*
 * Handle a shared option returned by getopt_long: 1 if it was one (the
 * caller continues), 0 if not.  -h prints `help` and exits 0; -V prints the
 * versions and exits 0; an unknown option ('?') exits 64.
 */
int cmd_option(struct cmd_opts *o, int c, const char *arg, const char *help);

/* Reset getopt to parse argv from argv[1] (a subcommand's own argv). */
void cmd_getopt_reset(void);

#define CMD_STORE   0x1  /* open the store (it must exist) */
#define CMD_CREATE  0x2  /* create the store if missing */
#define CMD_NOACTOR 0x4  /* do not establish an actor (Meta's callbacks) */

/*
 * Load configuration (flags applied over it), handle --print-config, open
 * the store and establish the actor as flags ask.  Dies on failure.
 */
void cmd_ctx_open(struct ig_ctx *ctx, const struct cmd_opts *o, int flags);

/* Write a JSON record to stdout (borrows); dies with 74 if stdout fails. */
void cmd_emit(const json_t *v);

/*
 * Parse a whole decimal number in [min, max] for option `name`; dies with
 * 64 otherwise.
 */
long long cmd_number(const char *name, const char *arg, long long min, long long max);

/* Flush and close stdout; a failure (dead pipe, full disk) turns code into
 * 74 with a message.  Returns the exit code to use. */
int cmd_finish(int code);

/* ------------------------------------------------------------------
 * The command table (git.c's commands[]).  Each program declares its
 * options once and one row per subcommand; cmd_main parses, rejects an
 * option that does not apply to the subcommand, builds --help and
 * --list-commands, opens the context as the row says, calls the row and
 * checks stdout.  A program's file holds the table, thin handlers that
 * call lib/, and main() { return cmd_main(&program, argc, argv); }.
 */

/* A program option.  id: OPT_PROGRAM + n, or OPT_DRY_RUN. */
struct cmd_optdef {
	const char *name;     /* the long name, without "--" */
	int has_arg;          /* no_argument or required_argument */
	int id;
	const char *arg;      /* its argument in --help ("N", "TIME"); NULL for a flag */
	const char *help;     /* one line */
	/* NULL, or a check of a given value (dies with usage_error), run as
	 * soon as the command line is parsed, before anything is opened */
	void (*check)(const char *opt, const char *arg);
};

struct cmd_run;

struct cmd_row {
	const char *name;     /* "list", or "agent create" (group and verb);
			       * NULL: what the program does with no command */
	int (*fn)(struct cmd_run *r);
	int needs;            /* CMD_* below: what to open before fn */
	const int *opts;      /* the program options it takes (ids), 0-terminated; NULL: none */
	int min, max;         /* how many operands */
	const char *operands; /* for usage: "SLUG|-", "[FILE]" */
	const char *help;     /* one line for the command list */
	const char *more;     /* NULL, or more text for the command's own --help */
	/* NULL, or checks of the invocation (operands, option combinations)
	 * that run before the context is opened; they die with usage_error */
	void (*check)(struct cmd_run *r);
};

/* How "option X does not apply to command C" is worded (programs keep
 * the wording their users and scripts know). */
enum cmd_wording {
	CMD_SAY_HERE = 0,   /* "agent delete: --personality does not apply here" */
	CMD_SAY_TAKE,       /* "list does not take --erase" */
	CMD_SAY_TO,         /* "--text does not apply to pause" */
};

struct cmd_program {
	const char *summary;              /* one line, shown under Usage */
	const char *more;                 /* NULL, or text after the command list */
	const struct cmd_optdef *opts;    /* every program option; { 0 }-terminated */
	const struct cmd_row *rows;       /* { 0 }-terminated (fn == NULL ends it) */
	const char *noun;                 /* NULL ("command"), or "subcommand" */
	enum cmd_wording wording;
	const char *synopsis;             /* NULL, or the Usage lines instead of the generated one */
};

#define CMD_MAXOPT 128   /* program options at most (cmd_main checks) */

/* A parsed invocation, handed to the row's function. */
struct cmd_run {
	const struct cmd_program *prog;
	const struct cmd_row *row;
	struct ig_ctx ctx;        /* opened as row->needs says */
	struct cmd_opts o;        /* the shared options */
	char what[64];            /* "agent create": for messages */
	char **arg;               /* operands */
	int narg;
	int ctx_open;
	const char *val[CMD_MAXOPT];  /* by index in prog->opts: the last value given ("" for a flag) */
	int count[CMD_MAXOPT];        /* how often each was given */
	char **argv;              /* the whole command line, for repeated options */
	int argc;
};

/* needs */
#define CMD_CONFIG  0x8   /* load the configuration only */
/* CMD_STORE, CMD_CREATE, CMD_NOACTOR as for cmd_ctx_open; 0: open nothing
 * (a handler that opens the context itself — ig-route's CGI and pipe mode —
 * calls cmd_ctx_open(&r->ctx, &r->o, ...) or ig_ctx_init(&r->ctx) and sets
 * r->ctx_open, so cmd_main releases it).  --print-config is handled for
 * every row, with or without a command. */

/* The value of program option id: NULL when not given, "" for a flag given. */
const char *cmd_val(const struct cmd_run *r, int id);
/* How many times option id was given. */
int cmd_count(const struct cmd_run *r, int id);
/* Every value of a repeatable option id, in order: a new NULL-terminated
 * array of borrowed strings (free the array only); *n (may be NULL) the count. */
const char **cmd_vals(const struct cmd_run *r, int id, int *n);
/* A numeric option: its value in [min, max], or def when not given; dies 64. */
long long cmd_val_number(const struct cmd_run *r, int id, long long min, long long max,
			 long long def);

/*
 * Run the program: parse argv against p, dispatch, return the exit code
 * (after cmd_finish).  Usage errors exit 64 with "program: what: message".
 * `program --list-commands` prints one line per row: the command name ("-"
 * for the default row), a tab, its options (long names with "--", a "="
 * after one that takes a value, space-separated, shared ones last), a tab,
 * its operands text; completions and tests read them from the binary.
 */
int cmd_main(const struct cmd_program *p, int argc, char **argv);

/*
 * Before reading stdin: when stdin is a terminal, say on stderr (one line)
 * what is expected there, e.g. "JSON Lines of routed events"; nothing
 * otherwise.  Cosmetic: a person who typed the command sees why it waits.
 */
void cmd_stdin_hint(const char *what);

/* Print p's help for row (NULL: the program's) to f. */
void cmd_help(FILE *f, const struct cmd_program *p, const struct cmd_row *row, const char *group);

#endif
