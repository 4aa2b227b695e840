#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curlver.h>
#include <openssl/opensslv.h>
#include <sqlite3.h>

#include <build.h>  /* autoconf: PACKAGE_VERSION */
#include "common.h"


const char *cmd_name = "igkit";
int cmd_verbose;
int cmd_quiet;

const char cmd_common_help[] =
	"      --db PATH          the store (IGKIT_DB; default $XDG_DATA_HOME/igkit/igkit.db)\n"
	"      --tenant SLUG      the tenant to act on (default: the API key's tenant)\n"
	"      --format FMT       output: json (JSON Lines, default), table, csv\n"
	"      --config FILE      configuration file (IGKIT_CONFIG)\n"
	"      --api-key-file F   act with the API key in F (else IGKIT_API_KEY, else as the store owner)\n"
	"      --print-config     print every setting, its value and its source, then exit\n"
	"  -q, --quiet            only errors on stderr\n"
	"  -v, --verbose          more detail on stderr (repeat for more)\n"
	"  -h, --help             this help\n"
	"  -V, --version          program and library versions\n";

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

void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", cmd_name);
	exit(IG_EX_USAGE);
}

static void version(void)
{
	printf("%s (igkit) %s\n", cmd_name, PACKAGE_VERSION);
	printf("SQLite %s, jansson %s, %s, libcurl %s (build)\n", sqlite3_libversion(),
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
	note("store %s, acting as %s", ctx->store->path, ctx->actor.label);
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

static void opt_line(FILE *f, const struct cmd_optdef *d)
{
	char left[64];

	snprintf(left, sizeof(left), "--%s%s%s", d->name, d->arg ? " " : "", d->arg ? d->arg : "");
	if (strlen(left) > 18)
		fprintf(f, "      %s\n      %-18s %s\n", left, "", d->help ? d->help : "");
	else
		fprintf(f, "      %-18s %s\n", left, d->help ? d->help : "");
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

void cmd_help(FILE *f, const struct cmd_program *p, const struct cmd_row *row, const char *group)
{
	const struct cmd_row *w;
	const int *o;
	int has_default = 0;

	for (w = p->rows; w->fn; w++)
		has_default |= !w->name;
	if (row) {
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
		fputs(cmd_common_help, f);
		return;
	}
	if (group) {
		fprintf(f, "Usage: %s %s COMMAND [ARGS] [OPTIONS]\n\nCommands:\n", cmd_name, group);
		for (w = p->rows; w->fn; w++)
			if (in_group(w, group))
				row_line(f, w);
		fprintf(f, "\n'%s %s COMMAND --help' shows a command's own options.\n", cmd_name, group);
		return;
	}
	fprintf(f, "Usage: %s [OPTIONS] %s [ARGS]\n%s\n\nCommands:\n", cmd_name,
		has_default ? "[COMMAND]" : "COMMAND", p->summary);
	for (w = p->rows; w->fn; w++)
		row_line(f, w);
	if (p->more)
		fprintf(f, "\n%s", p->more);
	fprintf(f, "\n'%s COMMAND --help' shows a command's own options.\n\nOptions:\n", cmd_name);
	fputs(cmd_common_help, f);
}

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
				printf("--%s ", p->opts[k].name);
		}
		for (i = 0; common_long[i].name; i++)
			printf("--%s%s", common_long[i].name, common_long[i + 1].name ? " " : "");
		putchar('\n');
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

/* A usage error naming the command being parsed. */
static noreturn void sub_usage(const char *what, const char *msg, const char *arg)
{
	if (what && *what)
		usage_error("%s: %s '%s'", what, msg, arg);
	usage_error("%s '%s'", msg, arg);
}

/* Options from argv (getopt permutes, so they may follow operands); the
 * shared ones are handled, program ones recorded, -h noted in want_help. */
static int want_help;

static void parse_opts(struct cmd_run *r, int argc, char **argv, const struct option *lo,
		       int stop_at_operand, const char *what)
{
	char shortopts[16];
	int c, i;

	snprintf(shortopts, sizeof(shortopts), ":%s%s", stop_at_operand ? "+" : "", CMD_COMMON_SHORT);
	if (stop_at_operand) {  /* '+' must come first */
		snprintf(shortopts, sizeof(shortopts), "+:%s", CMD_COMMON_SHORT);
	}
	opterr = 0;
	cmd_getopt_reset();
	while ((c = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
		switch (c) {
		case 'h':
			want_help = 1;   /* shown once the command is known */
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
		r->val[i] = optarg ? optarg : "";
		r->count[i]++;
	}
}

const char **cmd_vals(const struct cmd_run *r, int id, int *n)
{
	const struct option *lo;
	struct option *tab = long_table(r->prog);
	const char **out = calloc((size_t)r->argc + 1, sizeof(*out));
	int c, k = 0, saved = optind;

	if (!out)
		die(IG_EX_SOFTWARE, "out of memory");
	lo = tab;
	opterr = 0;
	cmd_getopt_reset();
	while ((c = getopt_long(r->argc, r->argv, ":" CMD_COMMON_SHORT, lo, NULL)) != -1)
		if (c == id)
			out[k++] = optarg ? optarg : "";
	optind = saved;
	free(tab);
	if (n)
		*n = k;
	return out;
}

int cmd_main(const struct cmd_program *p, int argc, char **argv)
{
	static struct cmd_run r;   /* static: zeroed, reachable until exit */
	const struct cmd_row *row = NULL, *w;
	const char *group = NULL;
	struct option *lo;
	char list[512];
	int sub_argc, rc, i, has_default = 0;
	char **sub_argv;

	cmd_init(argc, argv);
	r.prog = p;
	r.argc = argc;
	r.argv = argv;
	if (argc == 2 && !strcmp(argv[1], "--list-commands")) {
		list_commands(p);
		return cmd_finish(IG_EX_OK);
	}
	for (w = p->rows; w->fn; w++)
		if (!w->name)
			has_default = 1, row = w;
	lo = long_table(p);

	/* Options before the command (the shared ones, or the default row's). */
	parse_opts(&r, argc, argv, lo, 1, "");
	if (want_help) {
		cmd_help(stdout, p, NULL, NULL);
		exit(cmd_finish(IG_EX_OK));
	}
	sub_argc = argc - optind;
	sub_argv = argv + optind;

	if (sub_argc > 0) {
		const char *word = sub_argv[0];
		const struct cmd_row *hit = NULL;
		int is_group = 0;

		for (w = p->rows; w->fn; w++) {
			if (!w->name)
				continue;
			if (!strcmp(w->name, word))
				hit = w;
			else if (in_group(w, word))
				is_group = 1;
		}
		if (hit || is_group) {
			row = hit;
			group = is_group ? word : NULL;
			snprintf(r.what, sizeof(r.what), "%s", word);
		} else if (!has_default || !row->max) {
			names(p, NULL, list, sizeof(list));
			usage_error("unknown command '%s' (%s)", word, list);
		}
	} else if (!has_default) {
		if (r.o.print_config) {
			struct ig_ctx ctx;

			cmd_ctx_open(&ctx, &r.o, 0);   /* prints and exits */
		}
		names(p, NULL, list, sizeof(list));
		usage_error("which command? (%s)", list);
	}

	if (group || (row && row->name)) {
		/* the command's own options, anywhere after its name */
		parse_opts(&r, sub_argc, sub_argv, lo, 0, r.what);
		sub_argv += optind;
		sub_argc -= optind;
	}
	if (group) {
		names(p, group, list, sizeof(list));
		for (w = p->rows; sub_argc && w->fn; w++)
			if (in_group(w, group) && !strcmp(w->name + strlen(group) + 1, sub_argv[0]))
				break;
		if (want_help) {
			cmd_help(stdout, p, sub_argc && w->fn ? w : NULL, sub_argc && w->fn ? NULL : group);
			exit(cmd_finish(IG_EX_OK));
		}
		if (!sub_argc)
			usage_error("%s: which subcommand? (%s)", group, list);
		for (w = p->rows; w->fn; w++)
			if (in_group(w, group) && !strcmp(w->name + strlen(group) + 1, sub_argv[0]))
				break;
		if (!w->fn)
			usage_error("%s: unknown subcommand '%s' (%s)", group, sub_argv[0], list);
		row = w;
		snprintf(r.what, sizeof(r.what), "%s", w->name);
		sub_argv++;
		sub_argc--;
	}
	free(lo);
	if (want_help) {
		cmd_help(stdout, p, row, NULL);
		exit(cmd_finish(IG_EX_OK));
	}
	r.row = row;
	if (sub_argc < row->min)
		usage_error("%s%smissing %s", r.what, *r.what ? ": " : "", row->operands);
	if (sub_argc > row->max)
		usage_error("%s%sunexpected argument '%s'", r.what, *r.what ? ": " : "",
			    sub_argv[row->max]);
	for (i = 0; p->opts && p->opts[i].name; i++)
		if (r.count[i] && !row_takes(row, p->opts[i].id))
			usage_error("%s%s--%s does not apply here", r.what, *r.what ? ": " : "",
				    p->opts[i].name);
	r.arg = sub_argv;
	r.narg = sub_argc;
	if (row->needs || r.o.print_config) {
		cmd_ctx_open(&r.ctx, &r.o, row->needs & ~CMD_CONFIG);
		r.ctx_open = 1;
	}
	rc = row->fn(&r);
	if (r.ctx_open)
		ig_ctx_release(&r.ctx);
	return cmd_finish(rc);
}
