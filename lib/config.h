/*
 * config.h — settings with their source: flags > environment > config file >
 * defaults (DESIGN.md §4).
 *
 * Every setting has a name (config-file key, "graph_version"), an
 * environment variable (IGKIT_ + upper-case name, "IGKIT_GRAPH_VERSION") and
 * a default.  The config file is $XDG_CONFIG_HOME/igkit/config (or IGKIT_CONFIG,
 * or --config): lines "name = value", '#' comments; an unknown name is a
 * configuration error (78) with its line number.
 *
 * Secrets never come from argv nor from the config file itself: a setting
 * names a file (app_secret_file), with an environment variable as fallback
 * (IGKIT_APP_SECRET); $CREDENTIALS_DIRECTORY/<name> (systemd) is tried too.
 */
#ifndef IG_CONFIG_H
#define IG_CONFIG_H

#include <stdio.h>

#include "err.h"

enum ig_cfg_src { IG_SRC_DEFAULT, IG_SRC_FILE, IG_SRC_ENV, IG_SRC_FLAG };

struct ig_config_def {
	const char *name;
	const char *dflt;        /* NULL: unset; "$XDG..." forms are expanded */
	const char *secret_env;  /* for *_file settings: env var holding the secret itself */
	const char *help;
};

/* The table of known settings (NULL-terminated), for docs and --print-config. */
extern const struct ig_config_def ig_config_defs[];

struct ig_config {
	char **values;            /* parallel to ig_config_defs */
	enum ig_cfg_src *src;
	char *file;               /* config file consulted (may not exist) */
	int n;
};

/* Load defaults, then the config file (path NULL = default location; a
 * missing default file is fine, a missing named one is 66), then the
 * environment.  Release with ig_config_release. */
int ig_config_load(struct ig_config *c, const char *path, struct ig_err *err);
void ig_config_release(struct ig_config *c);

/* Override from a flag.  Unknown name → 70 (a bug). */
int ig_config_set(struct ig_config *c, const char *name, const char *value,
		  enum ig_cfg_src src, struct ig_err *err);
/* Value (borrowed, valid until the next set) or NULL when unset. */
const char *ig_config_get(const struct ig_config *c, const char *name);
enum ig_cfg_src ig_config_source(const struct ig_config *c, const char *name);
const char *ig_config_src_name(enum ig_cfg_src s);

/*
 * Read the secret named by setting `file_setting` (e.g. "app_secret_file"):
 * the file if set, else $CREDENTIALS_DIRECTORY/<basename without _file>,
 * else the environment fallback.  Unset everywhere → 78 naming all three.
 * New string (ig_wipe_free).
 */
int ig_config_secret(const struct ig_config *c, const char *file_setting, char **out,
		     struct ig_err *err);
/* 1 if the secret is available from any source. */
int ig_config_has_secret(const struct ig_config *c, const char *file_setting);

/* One JSON line per setting: {"name","value","source"}; secrets show only
 * where they come from, never their value.  0 or -1 on a write error. */
int ig_config_print(const struct ig_config *c, FILE *f);

#endif
