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

#endif
