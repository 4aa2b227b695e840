/* Unit tests of cmd_main (cmd/common.c), the command table's dispatcher,
 * with a fake program whose rows open nothing: which row runs with which
 * operands and option values, the usage errors (64, their messages), the
 * help for the program, a group and a command, --list-commands.
 *
 * cmd_main keeps its state in statics, closes stdout and exit()s on usage
 * errors and --help, so every invocation runs in a child process; its
 * stdout, stderr and exit status are what the tests look at. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "tap.h"

enum { OPT_LIMIT = OPT_PROGRAM, OPT_TAG, OPT_FORCE, OPT_NAME };

static const struct cmd_optdef opts[] = {
	{ "limit", required_argument, OPT_LIMIT, "N", "at most N", NULL },
	{ "tag", required_argument, OPT_TAG, "TAG", "a tag (repeatable)", NULL },
	{ "force", no_argument, OPT_FORCE, NULL, "even so", NULL },
	{ "name", required_argument, OPT_NAME, "NAME", "a name", NULL },
	{ 0 }
};

static const int o_list[] = { OPT_LIMIT, OPT_TAG, 0 };
static const int o_add[] = { OPT_TAG, OPT_FORCE, OPT_NAME, 0 };

static const char *shown(const char *v, char *buf, size_t n)
{
	if (!v)
		return "-";
	snprintf(buf, n, "[%s]", v);
	return buf;
}

/* Every row but ping: says on stdout what it was given. */
static int show(struct cmd_run *r)
{
	char b1[128], b2[128], b3[128], b4[128];
	const char **tags;
	int i, n;
	/* before anything is printed: a bad value dies with 64 */
	long long limit = r->row->opts == o_list ? cmd_val_number(r, OPT_LIMIT, 1, 100, 10) : -1;

	printf("row=%s what=%s narg=%d args=", r->row->name, r->what, r->narg);
	for (i = 0; i < r->narg; i++)
		printf("%s%s", i ? "|" : "", r->arg[i]);
	tags = cmd_vals(r, OPT_TAG, &n);
	printf(" tags=");
	for (i = 0; tags[i]; i++)
		printf("%s%s", i ? "," : "", tags[i]);
	free(tags);
	printf(" ntags=%d count=%d tag=%s force=%s name=%s tenant=%s ctx=%d", n,
	       cmd_count(r, OPT_TAG), shown(cmd_val(r, OPT_TAG), b1, sizeof(b1)),
	       shown(cmd_val(r, OPT_FORCE), b2, sizeof(b2)),
	       shown(cmd_val(r, OPT_NAME), b3, sizeof(b3)), shown(r->o.tenant, b4, sizeof(b4)),
	       r->ctx_open);
	if (limit >= 0)
		printf(" limit=%lld", limit);
	printf("\n");
	return 0;
}

static int ping(struct cmd_run *r)
{
	(void)r;
	printf("pong\n");
	return 3;
}

static const struct cmd_row rows[] = {
	{ "list", show, 0, o_list, 0, 0, NULL, "list the things", NULL, NULL },
	{ "kb add", show, CMD_NOACTOR, o_add, 1, 2, "FILE [NAME]", "add an entry",
	  "More about adding.\n", NULL },
	{ "kb list", show, 0, o_list, 0, 0, "", "list the entries", NULL, NULL },
	{ "ping", ping, 0, NULL, 0, 0, NULL, "answer with exit code 3", NULL, NULL },
	{ 0 }
};

static const struct cmd_program program = {
	"A program to test the dispatcher.", NULL, opts, rows, NULL, CMD_SAY_HERE, NULL
};

/* The last run: exit status (-1: no normal exit), stdout, stderr. */
static int rc;
static char out[16384], err[4096];

static void slurp(FILE *f, char *buf, size_t n)
{
	size_t k;

	rewind(f);
	k = fread(buf, 1, n - 1, f);
	buf[k] = '\0';
	fclose(f);
}

/* Run `fake ARGS...` (args NULL-terminated, at most 15) in a child. */
static void runv(const char *const *args)
{
	char *argv[17];
	int argc = 0, status;
	FILE *fo = tmpfile(), *fe = tmpfile();
	pid_t pid;

	argv[argc++] = (char *)"fake";
	for (; argc < 16 && args[argc - 1]; argc++)
		argv[argc] = (char *)args[argc - 1];
	argv[argc] = NULL;
	rc = -1;
	out[0] = err[0] = '\0';
	if (!fo || !fe) {
		perror("tmpfile");
		exit(99);
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(99);
	}
	if (pid == 0) {
		dup2(fileno(fo), 1);
		dup2(fileno(fe), 2);
		exit(cmd_main(&program, argc, argv));
	}
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		rc = WEXITSTATUS(status);
	slurp(fo, out, sizeof(out));
	slurp(fe, err, sizeof(err));
}

/* The same, the arguments as the function's (NULL-terminated, at most 15). */
static void run(const char *arg, ...)
{
	const char *args[16] = { 0 };
	va_list ap;
	int n = 0;

	va_start(ap, arg);
	for (; arg && n < 15; arg = va_arg(ap, const char *))
		args[n++] = arg;
	va_end(ap);
	runv(args);
}

static int has(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static int starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

#define COMMON "--db= --tenant= --format= --config= --api-key-file= --print-config" \
	" --quiet --verbose --help --version"

/* The row, its operands, its option values. */
static void dispatch(void)
{
	run("list", NULL);
	is_int(rc, 0, "list: 0");
	is_str(out, "row=list what=list narg=0 args= tags= ntags=0 count=0 tag=- force=- name=-"
	       " tenant=- ctx=0 limit=10\n", "list runs its row, no operands, defaults");
	is_str(err, "", "…nothing on stderr");

	run("kb", "list", "--limit", "5", NULL);
	is_str(out, "row=kb list what=kb list narg=0 args= tags= ntags=0 count=0 tag=- force=- name=-"
	       " tenant=- ctx=0 limit=5\n", "a verb of a group: its own row, its option's value");

	run("kb", "add", "f.txt", NULL);
	is_int(rc, 0, "kb add FILE: 0");
	is_str(out, "row=kb add what=kb add narg=1 args=f.txt tags= ntags=0 count=0 tag=- force=-"
	       " name=- tenant=- ctx=1\n", "kb add gets its operand; CMD_NOACTOR opens the context");

	run("kb", "add", "--force", "f.txt", "nm", "--name=x", NULL);
	is_str(out, "row=kb add what=kb add narg=2 args=f.txt|nm tags= ntags=0 count=0 tag=- force=[]"
	       " name=[x] tenant=- ctx=1\n", "options before and after the operands; a flag is \"\"");

	run("kb", "add", "f", "--name", "", NULL);
	is_str(out, "row=kb add what=kb add narg=1 args=f tags= ntags=0 count=0 tag=- force=-"
	       " name=[] tenant=- ctx=1\n", "an empty value is \"\", an option not given NULL");

	run("--tenant", "t1", "list", "--tag", "a", "--limit", "2", "--tag", "b", "--tag=c", NULL);
	is_int(rc, 0, "repeated --tag: 0");
	is_str(out, "row=list what=list narg=0 args= tags=a,b,c ntags=3 count=3 tag=[c] force=- name=-"
	       " tenant=[t1] ctx=0 limit=2\n",
	       "cmd_vals gives every --tag in order, cmd_val the last; a shared option before the command");

	run("kb", "add", "f", "--tag", "x", "--name", "y", "--tag", "z", NULL);
	ok(has(out, " tags=x,z ntags=2 count=2 tag=[z] ") && has(out, " name=[y] "),
	   "cmd_vals takes only that option's values");

	run("ping", NULL);
	is_int(rc, 3, "the row's return code is the exit status");
	is_str(out, "pong\n", "…after its output");
}

/* 64, the whole message (with the help it points at), nothing run. */
static void usage_errors(void)
{
	static const struct {
		const char *what, *args[8], *msg, *hint;
	} cases[] = {
		{ "an option the row does not take", { "kb", "add", "f", "--limit", "3" },
		  "kb add: --limit does not apply here", "fake kb add" },
		{ "too few operands", { "kb", "add" }, "kb add: missing FILE [NAME]", "fake kb add" },
		{ "too many operands", { "kb", "add", "a", "b", "c" },
		  "kb add: unexpected argument 'c'", "fake kb add" },
		{ "an operand for a row that takes none", { "list", "extra" },
		  "list: unexpected argument 'extra'", "fake list" },
		{ "an unknown command (a group listed once)", { "nope" },
		  "unknown command 'nope' (list, kb, ping)", "fake" },
		{ "no command", { NULL }, "which command? (list, kb, ping)", "fake" },
		{ "half a verb lists the group's verbs", { "kb" },
		  "kb: which subcommand? (add, list)", "fake kb" },
		{ "an unknown verb of a group", { "kb", "zap" },
		  "kb: unknown subcommand 'zap' (add, list)", "fake kb" },
		{ "an unknown option", { "list", "--bogus" },
		  "list: unrecognized option '--bogus'", "fake list" },
		{ "an option without its argument", { "list", "--limit" },
		  "list: an argument is needed by '--limit'", "fake list" },
		{ "cmd_val_number: not a number", { "list", "--limit", "x" },
		  "--limit takes a whole number from 1 to 100, not 'x'", "fake list" },
		{ "cmd_val_number: out of range", { "list", "--limit", "101" },
		  "--limit takes a whole number from 1 to 100, not '101'", "fake list" },
		{ "a shared option's bad value", { "list", "--format", "xml" },
		  "--format takes json, table or csv, not 'xml'", "fake list" },
	};
	char want[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		runv(cases[i].args);
		snprintf(want, sizeof(want), "fake: %s\nTry '%s --help' for more information.\n",
			 cases[i].msg, cases[i].hint);
		is_int(rc, 64, "%s: 64", cases[i].what);
		is_str(err, want, "…the message");
		is_str(out, "", "…and the row did not run");
	}
}

/* On stdout, 0. */
static void help(void)
{
	run("--help", NULL);
	is_int(rc, 0, "--help: 0");
	ok(starts(out, "Usage: fake [OPTIONS] COMMAND [ARGS]\nA program to test the dispatcher.\n")
	   && has(out, "\n  kb add FILE [NAME]") && has(out, "\n  ping ") && has(out, "--limit N")
	   && has(out, "Shared options:\n"), "the program's help lists commands and options");
	is_str(err, "", "…nothing on stderr");

	run("kb", "--help", NULL);
	is_int(rc, 0, "kb --help: 0");
	ok(starts(out, "Usage: fake kb COMMAND [ARGS] [OPTIONS]\n") && has(out, "  kb add ")
	   && has(out, "  kb list ") && !has(out, "ping") && has(out, "--force"),
	   "a group's help lists its verbs and their options only");

	run("kb", "add", "--help", NULL);
	is_int(rc, 0, "kb add --help: 0");
	ok(starts(out, "Usage: fake kb add FILE [NAME] [OPTIONS]\nAdd an entry.\nMore about adding.\n")
	   && has(out, "--force") && has(out, "--name NAME") && !has(out, "--limit"),
	   "a command's help: its usage, help text and its own options");
	is_str(err, "", "…nothing on stderr");

	run("kb", "add", "x", "-h", NULL);
	ok(rc == 0 && starts(out, "Usage: fake kb add "), "-h after an operand: the command's help");
}

static void list_commands(void)
{
	run("--list-commands", NULL);
	is_int(rc, 0, "--list-commands: 0");
	is_str(out,
	       "list\t--limit= --tag= " COMMON "\t\n"
	       "kb add\t--tag= --force --name= " COMMON "\tFILE [NAME]\n"
	       "kb list\t--limit= --tag= " COMMON "\t\n"
	       "ping\t" COMMON "\t\n",
	       "one line per row: name, its options (= for a value) then the shared ones, operands");
}

int main(void)
{
	/* nothing from the environment: no configuration file to load */
	setenv("XDG_CONFIG_HOME", "/nonexistent/igkit-t-cmdmain", 1);
	unsetenv("IGKIT_CONFIG");
	dispatch();
	usage_errors();
	help();
	list_commands();
	return done_testing();
}
