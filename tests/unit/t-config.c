/* Unit tests of lib/config: precedence flags > env > file > defaults, XDG
 * defaults, file errors with line numbers, secrets from files / credentials
 * directory / environment, --print-config redaction. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "tap.h"

static char dir[] = "/tmp/igkit-t-config.XXXXXX";

static void write_file(const char *path, const char *text, int mode)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	chmod(path, (mode_t)mode);
}

int main(void)
{
	struct ig_config c;
	struct ig_err err = { 0 };
	char path[256], sec[256], want[400], *s, *out = NULL;
	size_t outlen;
	FILE *f;

	ok(mkdtemp(dir) != NULL, "temp dir");
	unsetenv("IGKIT_CONFIG");
	unsetenv("IGKIT_DB");
	unsetenv("IGKIT_GRAPH_VERSION");
	unsetenv("IGKIT_APP_SECRET");
	unsetenv("CREDENTIALS_DIRECTORY");
	unsetenv("XDG_DATA_HOME");
	setenv("XDG_CONFIG_HOME", dir, 1);
	setenv("HOME", "/home/tester", 1);

	is_int(ig_config_load(&c, NULL, &err), 0, "no config file is fine");
	is_str(ig_config_get(&c, "db"), "/home/tester/.local/share/igkit/igkit.db", "db default from HOME");
	is_str(ig_config_get(&c, "graph_version"), "v25.0", "API version default v25.0");
	is_int(ig_config_source(&c, "graph_version"), IG_SRC_DEFAULT, "source default");
	ok(ig_config_get(&c, "app_secret_file") == NULL, "secret file unset by default");
	ig_config_release(&c);

	snprintf(path, sizeof(path), "%s/igkit", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/igkit/config", dir);
	write_file(path, "# comment\n\ngraph_version = v24.0\n  db=/srv/igkit.db  \n", 0600);
	setenv("XDG_DATA_HOME", "/xdg/data", 1);
	is_int(ig_config_load(&c, NULL, &err), 0, "default config file read");
	is_str(ig_config_get(&c, "graph_version"), "v24.0", "file beats default");
	is_str(ig_config_get(&c, "db"), "/srv/igkit.db", "spaces trimmed");
	is_int(ig_config_source(&c, "db"), IG_SRC_FILE, "source file");
	ig_config_release(&c);

	setenv("IGKIT_GRAPH_VERSION", "v26.0", 1);
	ig_config_load(&c, NULL, &err);
	is_str(ig_config_get(&c, "graph_version"), "v26.0", "environment beats file");
	is_int(ig_config_source(&c, "graph_version"), IG_SRC_ENV, "source env");
	ig_config_set(&c, "graph_version", "v23.0", IG_SRC_FLAG, &err);
	is_str(ig_config_get(&c, "graph_version"), "v23.0", "flag beats environment");
	is_int(ig_config_set(&c, "nonsense", "x", IG_SRC_FLAG, &err), IG_EX_SOFTWARE, "unknown setting is a bug");
	ig_config_release(&c);
	unsetenv("IGKIT_GRAPH_VERSION");

	write_file(path, "graph_version = v24.0\ncolour = blue\n", 0600);
	is_int(ig_config_load(&c, NULL, &err), IG_EX_CONFIG, "unknown setting in file → 78");
	ok(strstr(err.msg, "config:2: unknown setting 'colour'") != NULL, "with line number: %s", err.msg);
	ig_config_release(&c);
	write_file(path, "just words\n", 0600);
	is_int(ig_config_load(&c, NULL, &err), IG_EX_CONFIG, "malformed line → 78");
	ig_config_release(&c);
	is_int(ig_config_load(&c, "/nonexistent/igkit.conf", &err), IG_EX_NOINPUT, "named missing file → 66");
	ig_config_release(&c);
	write_file(path, "", 0600);

	/* Secrets: file, then $CREDENTIALS_DIRECTORY, then environment. */
	ig_config_load(&c, NULL, &err);
	is_int(ig_config_secret(&c, "app_secret_file", &s, &err), IG_EX_CONFIG, "no secret anywhere → 78");
	ok(strstr(err.msg, "IGKIT_APP_SECRET") != NULL, "message names the variable: %s", err.msg);
	ok(!ig_config_has_secret(&c, "app_secret_file"), "has_secret false");
	setenv("IGKIT_APP_SECRET", "from-env", 1);
	is_int(ig_config_secret(&c, "app_secret_file", &s, &err), 0, "secret from environment");
	is_str(s, "from-env", "value");
	ig_wipe_free(s);
	snprintf(sec, sizeof(sec), "%s/app_secret", dir);
	write_file(sec, "from-credentials\n", 0600);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	ig_config_secret(&c, "app_secret_file", &s, &err);
	is_str(s, "from-credentials", "credentials directory beats environment");
	ig_wipe_free(s);
	snprintf(sec, sizeof(sec), "%s/secret.txt", dir);
	write_file(sec, "from-file\n", 0600);
	ig_config_set(&c, "app_secret_file", sec, IG_SRC_FLAG, &err);
	ig_config_secret(&c, "app_secret_file", &s, &err);
	is_str(s, "from-file", "named file beats both");
	ig_wipe_free(s);

	f = open_memstream(&out, &outlen);
	ig_config_print(&c, f);
	fclose(f);
	snprintf(want, sizeof(want), "{\"name\":\"app_secret_file\",\"value\":\"%s\",\"source\":\"flag\"}", sec);
	ok(strstr(out, want) != NULL, "print-config shows the secret's file and source");
	ok(strstr(out, "from-file") == NULL && strstr(out, "from-env") == NULL, "never a secret's value");
	free(out);
	ig_config_release(&c);
	unsetenv("CREDENTIALS_DIRECTORY");
	ig_config_load(&c, NULL, &err);
	f = open_memstream(&out, &outlen);
	ig_config_print(&c, f);
	fclose(f);
	ok(strstr(out, "{\"name\":\"app_secret_file\",\"value\":\"(redacted)\",\"source\":\"IGKIT_APP_SECRET\"}") != NULL,
	   "a secret from the environment is shown redacted with its variable");
	free(out);
	ig_config_release(&c);

	{
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			ok(0, "cleanup");
	}
	return done_testing();
}
