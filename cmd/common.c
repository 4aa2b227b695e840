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
