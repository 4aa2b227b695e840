#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curlver.h>
#include <openssl/opensslv.h>

#include <build.h>  /* autoconf: PACKAGE_VERSION */
#include "common.h"
#include "store.h"


const char *cmd_name = "igkit";
int cmd_verbose;
int cmd_quiet;

const char cmd_common_help[] =
	"      --db PATH              the store (IGKIT_DB; default $XDG_DATA_HOME/igkit/igkit.db)\n"
	"      --tenant SLUG          the tenant to act on (default: the API key's tenant)\n"
	"      --format FMT           output: json (JSON Lines, default), table, csv\n"
	"      --config FILE          configuration file (IGKIT_CONFIG)\n"
	"      --api-key-file F       act with the API key in F (else IGKIT_API_KEY, else as the\n"
	"                             store owner)\n"
	"      --print-config         print every setting, its value and its source, then exit\n"
	"  -q, --quiet                only errors on stderr\n"
	"  -v, --verbose              more detail on stderr (repeat for more)\n"
	"  -h, --help                 this help\n"
	"  -V, --version              program and library versions\n";

void cmd_init(int argc, char **argv)
{
	const char *slash;

	(void)argc;
	if (argv && argv[0]) {
		slash = strrchr(argv[0], '/');
		cmd_name = slash ? slash + 1 : argv[0];
		/* libtool-style wrappers name the binary lt-foo */
		if (!strncmp(cmd_name, "lt-", 3))
			cmd_name += 3;
	}
	umask(077);
	/* A closed pipe is an error we report (74), not a silent death. */
	signal(SIGPIPE, SIG_IGN);
}

static void vmsg(const char *fmt, va_list ap)
{
	int saved = errno;
	size_t n = strlen(fmt);

	fprintf(stderr, "%s: ", cmd_name);
	vfprintf(stderr, fmt, ap);
	if (n && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
}

void die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fflush(stdout);
	exit(code);
}

void die_err(const struct ig_err *err)
{
	fprintf(stderr, "%s: %s\n", cmd_name, err->msg[0] ? err->msg : "failed");
	fflush(stdout);
	exit(err->code ? err->code : IG_EX_SOFTWARE);
}

void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void warn_err(const struct ig_err *err)
{
	fprintf(stderr, "%s: %s\n", cmd_name, err->msg);
}

void note(const char *fmt, ...)
{
	va_list ap;

	if (!cmd_verbose)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

/* "tenant-admin agent create" once cmd_main knows the command: the help
 * a usage error points at. */
static char usage_hint[96];

void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n",
		usage_hint[0] ? usage_hint : cmd_name);
	exit(IG_EX_USAGE);
}

void cmd_stdin_hint(const char *what)
{
	if (isatty(STDIN_FILENO) && !cmd_quiet)
		fprintf(stderr, "%s: reading %s from stdin (end with Ctrl-D)\n", cmd_name, what);
}

static void version(void)
{
	printf("%s (igkit) %s\n", cmd_name, PACKAGE_VERSION);
	printf("SQLite %s, jansson %s, %s, libcurl %s (build)\n", ig_store_backend_version(),
	       jansson_version_str(), OPENSSL_VERSION_TEXT, LIBCURL_VERSION);
}

int cmd_option(struct cmd_opts *o, int c, const char *arg, const char *help)
{
	switch (c) {
	case OPT_DB:
		o->db = arg;
		return 1;
	case OPT_TENANT:
		o->tenant = arg;
		return 1;
	case OPT_FORMAT:
		if (ig_format_parse(arg, &o->format))
			usage_error("--format takes json, table or csv, not '%s'", arg);
		return 1;
	case OPT_CONFIG:
		o->config = arg;
		return 1;
	case OPT_API_KEY_FILE:
		o->api_key_file = arg;
		return 1;
	case OPT_PRINT_CONFIG:
		o->print_config = 1;
		return 1;
	case 'q':
		cmd_quiet = 1;
		return 1;
	case 'v':
		cmd_verbose++;
		return 1;
	case 'h':
		fputs(help, stdout);
		exit(cmd_finish(IG_EX_OK));
	case 'V':
		version();
		exit(cmd_finish(IG_EX_OK));
	case '?':
		fprintf(stderr, "Try '%s --help' for more information.\n", cmd_name);
		exit(IG_EX_USAGE);
	case ':':
		fprintf(stderr, "Try '%s --help' for more information.\n", cmd_name);
		exit(IG_EX_USAGE);
	}
	return 0;
}

void cmd_getopt_reset(void)
{
	optind = 0;   /* glibc: 0 re-initialises, then scanning starts at argv[1] */
}

void cmd_ctx_open(struct ig_ctx *ctx, const struct cmd_opts *o, int flags)
{
	struct ig_err err = { 0 };
	int rc;

	ig_ctx_init(ctx);
	ctx->verbose = cmd_verbose;
	if ((rc = ig_config_load(&ctx->cfg, o->config, &err)))
		die_err(&err);
	if (o->db)
		ig_config_set(&ctx->cfg, "db", o->db, IG_SRC_FLAG, NULL);
	if (o->api_key_file)
		ig_config_set(&ctx->cfg, "api_key_file", o->api_key_file, IG_SRC_FLAG, NULL);
	if (o->print_config) {
		if (ig_config_print(&ctx->cfg, stdout))
			die(IG_EX_IOERR, "cannot write to stdout:");
		ig_ctx_release(ctx);
		exit(cmd_finish(IG_EX_OK));
	}
	if (!(flags & (CMD_STORE | CMD_CREATE)))
		return;
	rc = ig_store_open(&ctx->store, ig_config_get(&ctx->cfg, "db"),
			   (flags & CMD_CREATE) ? IG_STORE_CREATE : 0, &err);
	if (rc)
		die_err(&err);
	if (!(flags & CMD_NOACTOR) && (rc = ig_ctx_actor(ctx, &err))) {
		ig_ctx_release(ctx);
		die_err(&err);
	}
	note("store %s, acting as %s", ig_store_path(ctx->store), ctx->actor.label);
}

void cmd_emit(const json_t *v)
{
	if (ig_json_emit(stdout, v))
		die(IG_EX_IOERR, "cannot write to stdout:");
}

long long cmd_number(const char *name, const char *arg, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		usage_error("%s takes a whole number from %lld to %lld, not '%s'", name, min, max, arg);
	return v;
}

int cmd_finish(int code)
{
	int bad = fflush(stdout) != 0 || ferror(stdout);

	if (fclose(stdout) != 0)
		bad = 1;
	if (bad) {
		if (errno != EPIPE || code == IG_EX_OK)
			fprintf(stderr, "%s: cannot write to stdout: %s\n", cmd_name, strerror(errno));
		return code ? code : IG_EX_IOERR;
	}
	return code;
}

/* ------------------------------------------------------------ command table */

/* Shared options accepted by every command. */
static const struct option common_long[] = { CMD_COMMON_LONG, { 0, 0, 0, 0 } };

static int opt_index(const struct cmd_program *p, int id)
{
	int i;

	for (i = 0; p->opts && p->opts[i].name; i++)
		if (p->opts[i].id == id)
			return i;
	return -1;
}

const char *cmd_val(const struct cmd_run *r, int id)
{
	int i = opt_index(r->prog, id);

	return i < 0 ? NULL : r->val[i];
}

int cmd_count(const struct cmd_run *r, int id)
{
	int i = opt_index(r->prog, id);

	return i < 0 ? 0 : r->count[i];
}

long long cmd_val_number(const struct cmd_run *r, int id, long long min, long long max,
			 long long def)
{
	const char *v = cmd_val(r, id);
	char name[80];
	int i = opt_index(r->prog, id);

	if (!v)
		return def;
	snprintf(name, sizeof(name), "--%s", r->prog->opts[i].name);
	return cmd_number(name, v, min, max);
}

static int row_takes(const struct cmd_row *row, int id)
{
	const int *o;

	for (o = row->opts; o && *o; o++)
		if (*o == id)
			return 1;
	return 0;
}

/* getopt_long's table: the program's options, then the shared ones. */
static struct option *long_table(const struct cmd_program *p)
{
	size_t n = 0, i, j = 0;
	struct option *lo;

	while (p->opts && p->opts[n].name)
		n++;
	lo = calloc(n + sizeof(common_long) / sizeof(common_long[0]), sizeof(*lo));
	if (!lo)
		die(IG_EX_SOFTWARE, "out of memory");
	for (i = 0; i < n; i++, j++) {
		lo[j].name = p->opts[i].name;
		lo[j].has_arg = p->opts[i].has_arg;
		lo[j].val = p->opts[i].id;
	}
	for (i = 0; common_long[i].name; i++)
		lo[j++] = common_long[i];
	return lo;
}

/* "agent create" → group length 5 (the part before the space), else 0. */
static size_t group_len(const char *name)
{
	const char *sp = name ? strchr(name, ' ') : NULL;

	return sp ? (size_t)(sp - name) : 0;
}

static int in_group(const struct cmd_row *row, const char *group)
{
	size_t n = group_len(row->name);

	return n && strlen(group) == n && !strncmp(row->name, group, n);
}

static const char *noun(const struct cmd_program *p)
{
	return p->noun ? p->noun : "command";
}

/* ------------------------------------------------------------ help */

static void opt_line(FILE *f, const struct cmd_optdef *d)
{
	char left[64];

	snprintf(left, sizeof(left), "--%s%s%s", d->name, d->arg ? " " : "", d->arg ? d->arg : "");
	if (strlen(left) > 22)
		fprintf(f, "      %s\n      %-22s %s\n", left, "", d->help ? d->help : "");
	else
		fprintf(f, "      %-22s %s\n", left, d->help ? d->help : "");
}

static void row_line(FILE *f, const struct cmd_row *row)
{
	char left[96];

	snprintf(left, sizeof(left), "%s%s%s", row->name ? row->name : "(no command)",
		 row->operands && *row->operands ? " " : "", row->operands ? row->operands : "");
	if (strlen(left) > 28)
		fprintf(f, "  %s\n  %-28s %s\n", left, "", row->help ? row->help : "");
	else
		fprintf(f, "  %-28s %s\n", left, row->help ? row->help : "");
}

/* The program options any row of group (NULL: any row at all) takes, each
 * once, in the order of the program's table. */
static void group_opts(FILE *f, const struct cmd_program *p, const char *group)
{
	const struct cmd_row *w;
	int i;

	for (i = 0; p->opts && p->opts[i].name; i++)
		for (w = p->rows; w->fn; w++)
			if ((!group || in_group(w, group)) && row_takes(w, p->opts[i].id)) {
				opt_line(f, &p->opts[i]);
				break;
			}
}

static void help_row(FILE *f, const struct cmd_program *p, const struct cmd_row *row)
{
	const int *o;

	fprintf(f, "Usage: %s%s%s%s%s [OPTIONS]\n", cmd_name, row->name ? " " : "",
		row->name ? row->name : "", row->operands && *row->operands ? " " : "",
		row->operands ? row->operands : "");
	if (row->help)
		fprintf(f, "%c%s.\n", row->help[0] >= 'a' && row->help[0] <= 'z'
			? row->help[0] - 'a' + 'A' : row->help[0], row->help + 1);
	if (row->more)
		fprintf(f, "%s", row->more);
	fputs("\nOptions:\n", f);
	for (o = row->opts; o && *o; o++) {
		int i = opt_index(p, *o);

		if (i >= 0)
			opt_line(f, &p->opts[i]);
	}
	fputs(row->opts && *row->opts ? "Shared options:\n" : "", f);
	fputs(cmd_common_help, f);
}

void cmd_help(FILE *f, const struct cmd_program *p, const struct cmd_row *row, const char *group)
{
	const struct cmd_row *w;
	int has_default = 0;

	for (w = p->rows; w->fn; w++)
		has_default |= !w->name;
	if (row) {
		help_row(f, p, row);
		return;
	}
	if (group) {
		fprintf(f, "Usage: %s %s COMMAND [ARGS] [OPTIONS]\n\nCommands:\n", cmd_name, group);
		for (w = p->rows; w->fn; w++)
			if (in_group(w, group))
				row_line(f, w);
		fputs("\nOptions:\n", f);
		group_opts(f, p, group);
		fprintf(f, "\n'%s %s COMMAND --help' shows a command's own options.\n", cmd_name, group);
		return;
	}
	if (p->synopsis)
		fprintf(f, "%s%s\n", p->synopsis, p->summary);
	else
		fprintf(f, "Usage: %s [OPTIONS] %s [ARGS]\n%s\n", cmd_name,
			has_default ? "[COMMAND]" : "COMMAND", p->summary);
	fputs("\nCommands:\n", f);
	for (w = p->rows; w->fn; w++)
		row_line(f, w);
	if (p->more)
		fprintf(f, "\n%s", p->more);
	fprintf(f, "\n'%s COMMAND --help' shows a command's own options.\n\nOptions:\n", cmd_name);
	group_opts(f, p, NULL);
	fputs("Shared options:\n", f);
	fputs(cmd_common_help, f);
}

/*
 * One line per row: its name ("-" for the default row), a tab, its options
 * (long names with "--", "=" after one that takes a value, shared ones
 * last), a tab, its operands.
 */
static void list_commands(const struct cmd_program *p)
{
	const struct cmd_row *w;
	const int *o;
	size_t i;

	for (w = p->rows; w->fn; w++) {
		printf("%s\t", w->name ? w->name : "-");
		for (o = w->opts; o && *o; o++) {
			int k = opt_index(p, *o);

			if (k >= 0)
				printf("--%s%s ", p->opts[k].name, p->opts[k].has_arg ? "=" : "");
		}
		for (i = 0; common_long[i].name; i++)
			printf("--%s%s%s", common_long[i].name, common_long[i].has_arg ? "=" : "",
			       common_long[i + 1].name ? " " : "");
		printf("\t%s\n", w->operands ? w->operands : "");
	}
}

/* The names of the commands (or of a group's verbs) for a usage message. */
static void names(const struct cmd_program *p, const char *group, char *buf, size_t n)
{
	const struct cmd_row *w;
	size_t len = 0, g;

	buf[0] = '\0';
	for (w = p->rows; w->fn && len + 2 < n; w++) {
		const char *name;
		size_t k;

		if (!w->name)
			continue;
		g = group_len(w->name);
		if (group) {
			if (!in_group(w, group))
				continue;
			name = w->name + g + 1;
			k = strlen(name);
		} else {
			name = w->name;
			k = g ? g : strlen(name);
			/* a group once */
			if (g && w != p->rows && w[-1].name && group_len(w[-1].name) == g
			    && !strncmp(w[-1].name, name, g))
				continue;
		}
		len += (size_t)snprintf(buf + len, n - len, "%s%.*s", len ? ", " : "", (int)k, name);
	}
}

/* ------------------------------------------------------------ parsing */

/* A usage error naming the command being parsed; the program's name comes
 * first (usage_error), never getopt's idea of it. */
static noreturn void sub_usage(const char *what, const char *msg, const char *arg)
{
	if (what && *what)
		usage_error("%s: %s '%s'", what, msg, arg);
	usage_error("%s '%s'", msg, arg);
}

/* -h seen: the help is shown once the command is known. */
static int want_help;

/*
 * Options from argv[1..] (getopt permutes, so they may follow operands;
 * stop_at_operand: up to the first operand only).  The shared ones are
 * handled, the program's recorded and their values checked.  optind is
 * left at the first operand.
 */
static void parse_opts(struct cmd_run *r, int argc, char **argv, const struct option *lo,
		       int stop_at_operand, const char *what)
{
	const char *shortopts = stop_at_operand ? "+:" CMD_COMMON_SHORT : ":" CMD_COMMON_SHORT;
	int c, i;

	opterr = 0;
	cmd_getopt_reset();
	while ((c = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
		switch (c) {
		case 'h':
			want_help = 1;
			continue;
		case '?':
			if (optopt)
				sub_usage(what, "unrecognized option", (char[]){ '-', (char)optopt, 0 });
			sub_usage(what, "unrecognized option", argv[optind - 1]);
		case ':':
			sub_usage(what, "an argument is needed by", argv[optind - 1]);
		}
		if (cmd_option(&r->o, c, optarg, ""))
			continue;
		i = opt_index(r->prog, c);
		if (i < 0)
			sub_usage(what, "unrecognized option", argv[optind - 1]);
		if (r->prog->opts[i].check && optarg)
			r->prog->opts[i].check(r->prog->opts[i].name, optarg);
		r->val[i] = optarg ? optarg : "";
		r->count[i]++;
	}
}

const char **cmd_vals(const struct cmd_run *r, int id, int *n)
{
	struct option *tab = long_table(r->prog);
	const char **out = calloc((size_t)r->argc + 1, sizeof(*out));
	int c, k = 0, saved = optind;

	if (!out)
		die(IG_EX_SOFTWARE, "out of memory");
	opterr = 0;
	cmd_getopt_reset();
	while ((c = getopt_long(r->argc, r->argv, ":" CMD_COMMON_SHORT, tab, NULL)) != -1)
		if (c == id)
			out[k++] = optarg ? optarg : "";
	optind = saved;
	free(tab);
	if (n)
		*n = k;
	return out;
}

static const struct cmd_row *default_row(const struct cmd_program *p)
{
	const struct cmd_row *w;

	for (w = p->rows; w->fn; w++)
		if (!w->name)
			return w;
	return NULL;
}

static noreturn void show_help(const struct cmd_program *p, const struct cmd_row *row,
			       const char *group)
{
	cmd_help(stdout, p, row, group);
	exit(cmd_finish(IG_EX_OK));
}

/*
 * The command word: a row, a group (*group set), or, for a program with a
 * default row taking operands, the default row's first operand (returns the
 * default row, *sub_argc unchanged).  No word: the default row, or a usage
 * error (after --help and --print-config, which need no command).
 */
static const struct cmd_row *find_command(struct cmd_run *r, int argc, char **argv,
					  const char **group)
{
	const struct cmd_program *p = r->prog;
	const struct cmd_row *w, *hit = NULL, *def = default_row(p);
	char list[512];

	*group = NULL;
	if (argc == 0) {
		if (want_help)
			show_help(p, NULL, NULL);
		if (def)
			return def;
		if (r->o.print_config) {
			struct ig_ctx ctx;

			cmd_ctx_open(&ctx, &r->o, 0);   /* prints and exits */
		}
		names(p, NULL, list, sizeof(list));
		usage_error("which %s? (%s)", noun(p), list);
	}
	for (w = p->rows; w->fn; w++) {
		if (!w->name)
			continue;
		if (!strcmp(w->name, argv[0]))
			hit = w;
		else if (in_group(w, argv[0]))
			*group = argv[0];
	}
	if (hit || *group) {
		snprintf(r->what, sizeof(r->what), "%s", argv[0]);
		snprintf(usage_hint, sizeof(usage_hint), "%s %s", cmd_name, r->what);
		return hit;
	}
	if (def && def->max)
		return def;
	names(p, NULL, list, sizeof(list));
	usage_error("unknown %s '%s' (%s)", noun(p), argv[0], list);
}

/* How many of argv's words the verb (the row's name after its group, one
 * word or more: "synonyms add") takes; 0 when they do not match. */
static int verb_words(const char *verb, int argc, char **argv)
{
	int k = 0;

	while (*verb) {
		size_t n = strcspn(verb, " ");

		if (k >= argc || strlen(argv[k]) != n || strncmp(argv[k], verb, n))
			return 0;
		k++;
		verb += n;
		verb += *verb == ' ';
	}
	return k;
}

/* The verb of group in argv (the longest that matches: "synonyms add"
 * before "synonyms"); *used the words it took.  Usage errors name the
 * group. */
static const struct cmd_row *find_verb(struct cmd_run *r, int argc, char **argv,
				       const char *group, int *used)
{
	const struct cmd_program *p = r->prog;
	const struct cmd_row *w, *best = NULL;
	char list[512];
	int k;

	*used = 0;
	names(p, group, list, sizeof(list));
	for (w = p->rows; argc && w->fn; w++)
		if (in_group(w, group)
		    && (k = verb_words(w->name + strlen(group) + 1, argc, argv)) > *used) {
			best = w;
			*used = k;
		}
	if (best)
		w = best;
	if (want_help)
		show_help(p, argc && w->fn ? w : NULL, argc && w->fn ? NULL : group);
	if (!argc)
		usage_error("%s: which subcommand? (%s)", group, list);
	if (!w->fn)
		usage_error("%s: unknown subcommand '%s' (%s)", group, argv[0], list);
	snprintf(r->what, sizeof(r->what), "%s", w->name);
	snprintf(usage_hint, sizeof(usage_hint), "%s %s", cmd_name, r->what);
	return w;
}

/* Operand counts and options that do not apply: usage errors. */
static void check_run(struct cmd_run *r)
{
	const struct cmd_program *p = r->prog;
	const struct cmd_row *row = r->row;
	const char *what = r->what;
	int i;

	if (r->narg < row->min)
		usage_error("%s%smissing %s", what, *what ? ": " : "", row->operands);
	if (r->narg > row->max)
		usage_error("%s%sunexpected argument '%s'", what, *what ? ": " : "",
			    r->arg[row->max]);
	for (i = 0; p->opts && p->opts[i].name; i++) {
		const char *o = p->opts[i].name;

		if (!r->count[i] || row_takes(row, p->opts[i].id))
			continue;
		if (!*what)
			usage_error("--%s needs a %s", o, noun(p));
		switch (p->wording) {
		case CMD_SAY_TAKE:
			usage_error("%s does not take --%s", what, o);
		case CMD_SAY_TO:
			usage_error("--%s does not apply to %s", o, what);
		default:
			usage_error("%s: --%s does not apply here", what, o);
		}
	}
	if (row->check)
		row->check(r);
}

int cmd_main(const struct cmd_program *p, int argc, char **argv)
{
	static struct cmd_run r;   /* static: zeroed, reachable until exit */
	const struct cmd_row *row;
	const char *group;
	struct option *lo;
	int sub_argc, rc;
	char **sub_argv;

	cmd_init(argc, argv);
	r.prog = p;
	r.argc = argc;
	r.argv = argv;
	for (rc = 0; p->opts && p->opts[rc].name; rc++)
		;
	if (rc > CMD_MAXOPT)
		die(IG_EX_SOFTWARE, "BUG: more than %d options", CMD_MAXOPT);
	if (argc == 2 && !strcmp(argv[1], "--list-commands")) {
		list_commands(p);
		return cmd_finish(IG_EX_OK);
	}
	lo = long_table(p);

	/* Options before the command (the shared ones, or the default row's). */
	parse_opts(&r, argc, argv, lo, 1, "");
	sub_argc = argc - optind;
	sub_argv = argv + optind;
	row = find_command(&r, sub_argc, sub_argv, &group);
	if (group || row->name) {
		/* the command's own options, anywhere after its name */
		parse_opts(&r, sub_argc, sub_argv, lo, 0, r.what);
		sub_argv += optind;
		sub_argc -= optind;
	}
	free(lo);
	if (group) {
		int used;

		row = find_verb(&r, sub_argc, sub_argv, group, &used);
		sub_argv += used;
		sub_argc -= used;
	}
	if (want_help)
		show_help(p, row, NULL);
	r.row = row;
	r.arg = sub_argv;
	r.narg = sub_argc;
	check_run(&r);
	if (row->needs || r.o.print_config) {
		cmd_ctx_open(&r.ctx, &r.o, row->needs & ~CMD_CONFIG);
		r.ctx_open = 1;
	}
	rc = row->fn(&r);
	if (r.ctx_open)
		ig_ctx_release(&r.ctx);
	return cmd_finish(rc);
}
