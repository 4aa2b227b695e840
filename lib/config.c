#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "crypto.h"
#include "jsonio.h"

/* Add a setting: one line here, its mention in igkit(7) ENVIRONMENT/FILES. */
const struct ig_config_def ig_config_defs[] = {
	{ "db", "$XDG_DATA_HOME/igkit/igkit.db", NULL, "the SQLite store" },
	{ "master_key_file", "$XDG_CONFIG_HOME/igkit/master.key", NULL,
	  "32-byte key that seals tokens at rest" },
	{ "previous_key_file", NULL, NULL, "older master key, accepted for opening during rotation" },
	{ "api_key_file", NULL, "IGKIT_API_KEY", "API key to act as (tenant-scoped); unset = store owner" },
	{ "app_id", "", NULL, "Meta app id (Facebook Login)" },
	{ "app_secret_file", NULL, "IGKIT_APP_SECRET", "Meta app secret" },
	{ "ig_app_id", "", NULL, "Instagram app id (Instagram Login)" },
	{ "ig_app_secret_file", NULL, "IGKIT_IG_APP_SECRET", "Instagram app secret" },
	{ "previous_app_secret_file", NULL, "IGKIT_PREVIOUS_APP_SECRET",
	  "old app secret still accepted on webhooks during rotation" },
	{ "webhook_secrets", "app,ig_app", NULL,
	  "which app secrets may sign webhooks, in order: app, ig_app, previous_app" },
	{ "legacy_sha1", "no", NULL, "accept X-Hub-Signature (SHA-1) when the SHA-256 header is absent" },
	{ "verify_token_file", NULL, "IGKIT_VERIFY_TOKEN", "webhook verification token (GET handshake)" },
	{ "redirect_uri", "", NULL, "OAuth redirect URI registered with Meta" },
	{ "graph_version", "v25.0", NULL, "Graph API version" },
	{ "graph_facebook_url", "https://graph.facebook.com", NULL, "graph.facebook.com base URL" },
	{ "graph_instagram_url", "https://graph.instagram.com", NULL, "graph.instagram.com base URL" },
	{ "api_instagram_url", "https://api.instagram.com", NULL, "api.instagram.com base URL" },
	{ "www_facebook_url", "https://www.facebook.com", NULL, "Facebook Login dialog base URL" },
	{ "www_instagram_url", "https://www.instagram.com", NULL, "Instagram Login dialog base URL" },
	{ "http_timeout", "30", NULL, "seconds before an HTTP request is abandoned" },
	{ "http_retries", "4", NULL, "retries of a temporary Graph failure" },
	{ "http_backoff_ms", "500", NULL, "first retry delay bound, ms (full jitter, doubling, capped at 30 s)" },
	{ "llm_url", "http://127.0.0.1:11434/v1", NULL, "OpenAI-compatible endpoint (openai engine)" },
	{ "llm_key_file", NULL, "IGKIT_LLM_KEY", "API key for the LLM endpoint" },
	{ "llm_model", "llama3.1", NULL, "model when the agent names none" },
	{ "reply_max_per_hour", "10", NULL, "loop guard: automated replies per conversation per hour" },
	{ "kb_min_confidence", "0.5", NULL, "kb engine: share of the question's terms an answer must cover" },
	{ "llm_daily_token_cap", "0", NULL, "openai engine: tokens per tenant per UTC day (0 = no cap)" },
	{ "max_body", "1048576", NULL, "largest webhook body accepted, bytes" },
	{ "data_deletion_url", "", NULL, "status page URL returned to Meta's data-deletion callback" },
	{ NULL, NULL, NULL, NULL }
};

static int find(const char *name)
{
	int i;

	for (i = 0; ig_config_defs[i].name; i++)
		if (!strcmp(ig_config_defs[i].name, name))
			return i;
	return -1;
}

/* "$XDG_DATA_HOME/x" → $XDG_DATA_HOME/x or $HOME/.local/share/x. */
static char *expand(const char *v)
{
	static const struct { const char *var, *fallback; } xdg[] = {
		{ "$XDG_DATA_HOME", "/.local/share" },
		{ "$XDG_CONFIG_HOME", "/.config" },
	};
	size_t i;

	for (i = 0; i < sizeof(xdg) / sizeof(xdg[0]); i++) {
		size_t n = strlen(xdg[i].var);
		const char *e, *home;
		char *out;

		if (strncmp(v, xdg[i].var, n))
			continue;
		e = getenv(xdg[i].var + 1);
		if (e && *e) {
			if (asprintf(&out, "%s%s", e, v + n) < 0)
				return NULL;
			return out;
		}
		home = getenv("HOME");
		if (asprintf(&out, "%s%s%s", home ? home : "", xdg[i].fallback, v + n) < 0)
			return NULL;
		return out;
	}
	return strdup(v);
}

static void put(struct ig_config *c, int i, const char *v, enum ig_cfg_src src)
{
	free(c->values[i]);
	c->values[i] = v ? strdup(v) : NULL;
	c->src[i] = src;
}

static int load_file(struct ig_config *c, const char *path, int must, struct ig_err *err)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	long lineno = 0;
	int rc = 0;

	if (!f) {
		if (errno == ENOENT && !must)
			return 0;
		return ig_err_errno(err, IG_EX_NOINPUT, "cannot read config file '%s'", path);
	}
	while (getline(&line, &cap, f) > 0) {
		char *k, *v, *end;
		int i;

		lineno++;
		k = line + strspn(line, " \t");
		if (*k == '#' || *k == '\n' || *k == '\0')
			continue;
		v = strchr(k, '=');
		if (!v) {
			rc = ig_err_set(err, IG_EX_CONFIG, "%s:%ld: expected 'name = value'", path, lineno);
			break;
		}
		for (end = v; end > k && isspace((unsigned char)end[-1]); end--)
			;
		*end = '\0';
		v++;
		v += strspn(v, " \t");
		for (end = v + strlen(v); end > v && isspace((unsigned char)end[-1]); end--)
			;
		*end = '\0';
		i = find(k);
		if (i < 0) {
			rc = ig_err_set(err, IG_EX_CONFIG, "%s:%ld: unknown setting '%s'", path, lineno, k);
			break;
		}
		put(c, i, v, IG_SRC_FILE);
	}
	free(line);
	fclose(f);
	return rc;
}

int ig_config_load(struct ig_config *c, const char *path, struct ig_err *err)
{
	int i, n, rc;
	char *def = NULL;

	for (n = 0; ig_config_defs[n].name; n++)
		;
	c->n = n;
	c->values = calloc((size_t)n, sizeof(*c->values));
	c->src = calloc((size_t)n, sizeof(*c->src));
	c->file = NULL;
	if (!c->values || !c->src)
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	for (i = 0; i < n; i++) {
		if (ig_config_defs[i].dflt)
			c->values[i] = expand(ig_config_defs[i].dflt);
		c->src[i] = IG_SRC_DEFAULT;
	}
	if (!path)
		path = getenv("IGKIT_CONFIG");
	if (path && *path) {
		c->file = strdup(path);
		rc = load_file(c, path, 1, err);
	} else {
		def = expand("$XDG_CONFIG_HOME/igkit/config");
		c->file = def;
		rc = def ? load_file(c, def, 0, err) : 0;
	}
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		char env[96], *p;
		const char *v;

		snprintf(env, sizeof(env), "IGKIT_%s", ig_config_defs[i].name);
		for (p = env; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		v = getenv(env);
		if (v && *v)
			put(c, i, v, IG_SRC_ENV);
	}
	return 0;
}

void ig_config_release(struct ig_config *c)
{
	int i;

	if (c->values)
		for (i = 0; i < c->n; i++)
			free(c->values[i]);
	free(c->values);
	free(c->src);
	free(c->file);
	c->values = NULL;
	c->src = NULL;
	c->file = NULL;
}

int ig_config_set(struct ig_config *c, const char *name, const char *value,
		  enum ig_cfg_src src, struct ig_err *err)
{
	int i = find(name);

	if (i < 0)
		return ig_err_set(err, IG_EX_SOFTWARE, "BUG: unknown setting '%s'", name);
	put(c, i, value, src);
	return 0;
}

const char *ig_config_get(const struct ig_config *c, const char *name)
{
	int i = find(name);

	return i < 0 || !c->values ? NULL : c->values[i];
}

enum ig_cfg_src ig_config_source(const struct ig_config *c, const char *name)
{
	int i = find(name);

	return i < 0 ? IG_SRC_DEFAULT : c->src[i];
}

const char *ig_config_src_name(enum ig_cfg_src s)
{
	switch (s) {
	case IG_SRC_FILE: return "file";
	case IG_SRC_ENV: return "env";
	case IG_SRC_FLAG: return "flag";
	default: return "default";
	}
}

/* "$CREDENTIALS_DIRECTORY/app_secret" for "app_secret_file", if it exists. */
static char *credential_path(const char *file_setting)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	size_t n = strlen(file_setting);
	char *p;

	if (!dir || !*dir || n < 5 || strcmp(file_setting + n - 5, "_file"))
		return NULL;
	if (asprintf(&p, "%s/%.*s", dir, (int)(n - 5), file_setting) < 0)
		return NULL;
	if (access(p, R_OK)) {
		free(p);
		return NULL;
	}
	return p;
}

int ig_config_secret(const struct ig_config *c, const char *file_setting, char **out,
		     struct ig_err *err)
{
	int i = find(file_setting);
	const char *path, *env;
	char *cred;

	*out = NULL;
	if (i < 0)
		return ig_err_set(err, IG_EX_SOFTWARE, "BUG: unknown setting '%s'", file_setting);
	path = c->values[i];
	if (path && *path)
		return ig_secret_file_read(path, out, err);
	if ((cred = credential_path(file_setting))) {
		int rc = ig_secret_file_read(cred, out, err);

		free(cred);
		return rc;
	}
	env = ig_config_defs[i].secret_env;
	if (env && getenv(env) && *getenv(env)) {
		*out = strdup(getenv(env));
		return *out ? 0 : ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	}
	return ig_err_set(err, IG_EX_CONFIG, "no %s: set %s (a file) or %s", file_setting,
			  file_setting, env ? env : "its environment variable");
}

int ig_config_has_secret(const struct ig_config *c, const char *file_setting)
{
	int i = find(file_setting);
	const char *env;
	char *cred;

	if (i < 0)
		return 0;
	if (c->values[i] && *c->values[i])
		return 1;
	if ((cred = credential_path(file_setting))) {
		free(cred);
		return 1;
	}
	env = ig_config_defs[i].secret_env;
	return env && getenv(env) && *getenv(env);
}

int ig_config_print(const struct ig_config *c, FILE *f)
{
	int i, rc = 0;

	for (i = 0; i < c->n && !rc; i++) {
		const struct ig_config_def *d = &ig_config_defs[i];
		json_t *o = json_object();
		const char *src = ig_config_src_name(c->src[i]);

		json_object_set_new(o, "name", json_string(d->name));
		json_object_set_new(o, "value", c->values[i] ? json_string(c->values[i]) : json_null());
		if (d->secret_env && !(c->values[i] && *c->values[i])) {
			char *cred = credential_path(d->name);

			if (cred) {
				json_object_set_new(o, "value", json_string(cred));
				src = "credentials";
				free(cred);
			} else if (getenv(d->secret_env) && *getenv(d->secret_env)) {
				json_object_set_new(o, "value", json_string("(redacted)"));
				src = d->secret_env;
			}
		}
		json_object_set_new(o, "source", json_string(src));
		rc = ig_json_emit(f, o);
		json_decref(o);
	}
	return rc;
}
