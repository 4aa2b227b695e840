#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

/* The only definitions of the store's types: callers see them opaque. */
struct ig_stmt {
	sqlite3_stmt *raw;
	const char *sql;     /* the cache's identity: the address of a string literal */
};

struct ig_store {
	sqlite3 *db;
	char *path;
	int in_tx;
	int ncache, acache;
	struct ig_stmt **cache;   /* grows; never evicts */
	struct timespec busy_t0;  /* when the current wait for a lock began */
};

/* How long a writer waits for another's lock before SQLITE_BUSY. */
#define BUSY_WAIT_MS 10000

/*
 * SQLite's own busy handler sleeps 1, 2, 5, 10 ms... between tries, so a
 * writer that finds the lock held for 0.3 ms (one commit on this disk)
 * loses a millisecond or more.  This one starts at 50 µs and doubles up to
 * 5 ms, for BUSY_WAIT_MS in all.  n counts the tries for this lock.
 */
static int busy_wait(void *arg, int n)
{
	struct ig_store *st = arg;
	struct timespec now, d;
	long us = n < 7 ? 50L << n : 5000L;
	double waited;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (n == 0)
		st->busy_t0 = now;
	waited = (double)(now.tv_sec - st->busy_t0.tv_sec) * 1e3
		 + (double)(now.tv_nsec - st->busy_t0.tv_nsec) / 1e6;
	if (waited >= BUSY_WAIT_MS)
		return 0;
	d.tv_sec = 0;
	d.tv_nsec = us * 1000L;
	nanosleep(&d, NULL);
	return 1;
}

extern const char *const ig_migrations[];
extern const int ig_migrations_count;

int ig_store_latest_version(void)
{
	return ig_migrations_count;
}

int ig_store_fail(struct ig_store *st, int rc, struct ig_err *err, const char *what)
{
	const char *msg = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
	int code;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = IG_EX_TEMPFAIL;
		break;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_READONLY:
		code = IG_EX_IOERR;
		break;
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
		code = IG_EX_CANTCREAT;
		break;
	case SQLITE_CONSTRAINT:
		code = IG_EX_DATAERR;
		break;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		code = IG_EX_IOERR;
		break;
	default:
		code = IG_EX_SOFTWARE;
	}
	/* ops: name the file, an operator may run several stores */
	if (st && st->path)
		return !strcmp(what, "store") ? ig_err_set(err, code, "store '%s': %s", st->path, msg)
			: ig_err_set(err, code, "%s: %s (store '%s')", what, msg, st->path);
	return ig_err_set(err, code, "%s: %s", what, msg);
}

/* mkdir -p for the store's directory, mode 0700 for what it creates. */
static int make_parent(const char *path, struct ig_err *err)
{
	char *dir = strdup(path), *p;

	if (!dir)
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	p = strrchr(dir, '/');
	if (!p || p == dir) {
		free(dir);
		return 0;
	}
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST) {
			ig_err_errno(err, IG_EX_CANTCREAT, "cannot create directory '%s'", dir);
			free(dir);
			return err ? err->code : IG_EX_CANTCREAT;
		}
		*p = '/';
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		ig_err_errno(err, IG_EX_CANTCREAT, "cannot create directory '%s'", dir);
		free(dir);
		return IG_EX_CANTCREAT;
	}
	free(dir);
	return 0;
}

static int migrate(struct ig_store *st, struct ig_err *err)
{
	sqlite3_stmt *s;
	int version, rc, i;
	char sql[64];

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return ig_store_fail(st, sqlite3_errcode(st->db), err, "cannot read schema version");
	rc = sqlite3_step(s);
	version = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
	sqlite3_finalize(s);
	if (version < 0)
		return ig_store_fail(st, rc, err, "cannot read schema version");
	if (version > ig_migrations_count)
		return ig_err_set(err, IG_EX_CONFIG,
			"store '%s' has schema version %d, newer than this igkit (%d): upgrade igkit",
			st->path, version, ig_migrations_count);
	if (version == ig_migrations_count)
		return 0;
	if ((rc = ig_store_begin(st, err)))
		return rc;
	/* Re-read inside the write lock: another process may have migrated. */
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK) {
		ig_store_rollback(st);
		return ig_store_fail(st, sqlite3_errcode(st->db), err, "cannot read schema version");
	}
	version = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
	sqlite3_finalize(s);
	for (i = version; i < ig_migrations_count; i++) {
		char *msg = NULL;

		if (sqlite3_exec(st->db, ig_migrations[i], NULL, NULL, &msg) != SQLITE_OK) {
			ig_err_set(err, IG_EX_SOFTWARE, "migration %d failed: %s", i + 1,
				   msg ? msg : "?");
			sqlite3_free(msg);
			ig_store_rollback(st);
			return IG_EX_SOFTWARE;
		}
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", ig_migrations_count);
	if ((rc = ig_store_exec(st, sql, err))) {
		ig_store_rollback(st);
		return rc;
	}
	return ig_store_commit(st, err);
}

int ig_store_open(struct ig_store **out, const char *path, int flags, struct ig_err *err)
{
	struct ig_store *st;
	int oflags, rc;
	struct stat sb;

	*out = NULL;
	if (!path || !*path)
		return ig_err_set(err, IG_EX_CONFIG, "no store path (set --db or IGKIT_DB)");
	if (stat(path, &sb) != 0) {
		int fd;

		if (errno != ENOENT || !(flags & IG_STORE_CREATE))
			return ig_err_errno(err, IG_EX_NOINPUT,
				"cannot open store '%s' (create it with 'tenant-admin init')", path);
		if ((rc = make_parent(path, err)))
			return rc;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return ig_err_errno(err, IG_EX_CANTCREAT, "cannot create store '%s'", path);
		if (fd >= 0)
			close(fd);
	} else if (!S_ISREG(sb.st_mode)) {
		return ig_err_set(err, IG_EX_NOINPUT, "store '%s' is not a regular file", path);
	}
	st = calloc(1, sizeof(*st));
	if (!st || !(st->path = strdup(path))) {
		free(st);
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	}
	/* no allocation statistics: they take a global mutex on every malloc
	 * (a few percent of ig-route's intake); before SQLite initialises, so
	 * a second open finds it done (SQLITE_MISUSE, ignored) */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	oflags = (flags & IG_STORE_READONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	rc = sqlite3_open_v2(path, &st->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		ig_store_fail(st, rc, err, path);
		ig_store_free(st);
		return err ? err->code : IG_EX_CANTCREAT;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_handler(st->db, busy_wait, st);
	if (flags & IG_STORE_KEEP_WAL) {
		int one = 1;

		/* kept, and emptied (journal_size_limit 0): a WAL left with
		 * frames would be read whole by the next process to open it */
		sqlite3_file_control(st->db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
		sqlite3_exec(st->db, "PRAGMA journal_size_limit = 0", NULL, NULL, NULL);
	}
	rc = ig_store_exec(st,
		"PRAGMA foreign_keys = ON;"
		"PRAGMA synchronous = FULL;", err);
	if (!rc && !(flags & IG_STORE_READONLY))
		rc = ig_store_exec(st, "PRAGMA journal_mode = WAL;", err);
	if (!rc)
		rc = migrate(st, err);
	if (rc) {
		if (err && err->code == IG_EX_SOFTWARE && strstr(err->msg, "not a database"))
			err->code = IG_EX_IOERR;
		ig_store_free(st);
		return rc;
	}
	*out = st;
	return 0;
}

void ig_store_free(struct ig_store *st)
{
	int i;

	if (!st)
		return;
	for (i = 0; i < st->ncache; i++) {
		sqlite3_finalize(st->cache[i]->raw);
		free(st->cache[i]);
	}
	free(st->cache);
	if (st->db)
		sqlite3_close(st->db);
	free(st->path);
	free(st);
}

int ig_store_version(struct ig_store *st)
{
	sqlite3_stmt *s;
	int v = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	return v;
}

int ig_store_exec(struct ig_store *st, const char *sql, struct ig_err *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		int code;

		sqlite3_free(msg);
		code = ig_store_fail(st, rc, err, "store");
		return code;
	}
	return 0;
}

int ig_store_begin(struct ig_store *st, struct ig_err *err)
{
	int rc;

	if (st->in_tx)
		return ig_err_set(err, IG_EX_SOFTWARE, "BUG: nested transaction");
	rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return ig_store_fail(st, rc, err, "cannot start a transaction");
	st->in_tx = 1;
	return 0;
}

int ig_store_commit(struct ig_store *st, struct ig_err *err)
{
	int rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		int code = ig_store_fail(st, rc, err, "cannot commit");

		ig_store_rollback(st);
		return code;
	}
	st->in_tx = 0;
	return 0;
}

void ig_store_rollback(struct ig_store *st)
{
	int i;

	/* Reset cached statements first: a pending read would keep the
	 * transaction open. */
	for (i = 0; i < st->ncache; i++)
		sqlite3_reset(st->cache[i]->raw);
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->in_tx = 0;
}

/*
 * The cached statement for sql (compared by address: SQL text is a literal
 * beside its module), prepared on first use.  Its old bindings are cleared
 * unless the caller rebinds all of them at once (keep).
 */
static struct ig_stmt *prepare(struct ig_store *st, const char *sql, int keep, struct ig_err *err)
{
	struct ig_stmt *s;
	sqlite3_stmt *raw;
	int i, rc;

	for (i = 0; i < st->ncache; i++) {
		if (st->cache[i]->sql == sql) {
			s = st->cache[i];
			sqlite3_reset(s->raw);
			if (!keep)
				sqlite3_clear_bindings(s->raw);
			return s;
		}
	}
	if (st->ncache == st->acache) {
		int n = st->acache ? st->acache * 2 : 64;
		struct ig_stmt **c = realloc(st->cache, sizeof(*c) * (size_t)n);

		if (!c) {
			ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
			return NULL;
		}
		st->cache = c;
		st->acache = n;
	}
	if (!(s = malloc(sizeof(*s)))) {
		ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
		return NULL;
	}
	rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, NULL);
	if (rc != SQLITE_OK) {
		free(s);
		ig_store_fail(st, rc, err, "cannot prepare statement");
		if (err)
			err->code = IG_EX_SOFTWARE;
		return NULL;
	}
	s->raw = raw;
	s->sql = sql;
	st->cache[st->ncache++] = s;
	return s;
}

struct ig_stmt *ig_store_prepare(struct ig_store *st, const char *sql, struct ig_err *err)
{
	return prepare(st, sql, 0, err);
}

/*
 * Bind fmt's values from parameter 1 on.  Text and blobs are copied
 * (SQLITE_TRANSIENT) unless the statement runs before the caller's values
 * can go (SQLITE_STATIC: ig_store_runf and friends step at once).
 */
static int vbind(struct ig_stmt *stmt, const char *fmt, va_list ap, void (*keep)(void *))
{
	int i = 1, rc = SQLITE_OK;

	for (; *fmt && rc == SQLITE_OK; fmt++, i++) {
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			rc = s ? sqlite3_bind_text(stmt->raw, i, s, -1, keep)
			       : sqlite3_bind_null(stmt->raw, i);
			break;
		}
		case 'i':
			rc = sqlite3_bind_int64(stmt->raw, i, va_arg(ap, int64_t));
			break;
		case 'I': {
			int64_t v = va_arg(ap, int64_t);

			rc = v > 0 ? sqlite3_bind_int64(stmt->raw, i, v) : sqlite3_bind_null(stmt->raw, i);
			break;
		}
		case 'd':
			rc = sqlite3_bind_double(stmt->raw, i, va_arg(ap, double));
			break;
		case 'n':
			rc = sqlite3_bind_null(stmt->raw, i);
			break;
		case 'b': {
			const void *p = va_arg(ap, const void *);
			int n = va_arg(ap, int);

			rc = p ? sqlite3_bind_blob(stmt->raw, i, p, n, keep)
			       : sqlite3_bind_null(stmt->raw, i);
			break;
		}
		default:
			return IG_EX_SOFTWARE;
		}
	}
	return rc == SQLITE_OK ? 0 : IG_EX_SOFTWARE;
}

int ig_stmt_vbind(struct ig_stmt *stmt, const char *fmt, va_list ap)
{
	return vbind(stmt, fmt, ap, SQLITE_TRANSIENT);
}

int ig_stmt_bind(struct ig_stmt *stmt, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = ig_stmt_vbind(stmt, fmt, ap);
	va_end(ap);
	return rc;
}

static int vrunf(struct ig_store *st, struct ig_err *err, const char *sql, const char *fmt,
		 va_list ap)
{
	/* When fmt rebinds every parameter (one letter each), nothing needs
	 * clearing and the values are bound in place: the statement runs and
	 * is reset here, and its next use binds them all again first. */
	struct ig_stmt *s = prepare(st, sql, 1, err);

	if (!s)
		return err ? err->code : IG_EX_SOFTWARE;
	if ((int)strlen(fmt) != sqlite3_bind_parameter_count(s->raw))
		sqlite3_clear_bindings(s->raw);
	if (vbind(s, fmt, ap, SQLITE_STATIC))
		return ig_err_set(err, IG_EX_SOFTWARE, "BUG: cannot bind '%s'", fmt);
	return ig_store_run(st, s, err);
}

int ig_store_runf(struct ig_store *st, struct ig_err *err, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vrunf(st, err, sql, fmt, ap);
	va_end(ap);
	return rc;
}

int ig_store_write(struct ig_store *st, int *changes, struct ig_err *err, const char *sql,
		   const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (changes)
		*changes = 0;
	if ((rc = ig_store_begin(st, err)))
		return rc;
	va_start(ap, fmt);
	rc = vrunf(st, err, sql, fmt, ap);
	va_end(ap);
	if (rc) {
		ig_store_rollback(st);
		return rc;
	}
	if (changes)
		*changes = ig_store_changes(st);
	return ig_store_commit(st, err);
}

int ig_store_run(struct ig_store *st, struct ig_stmt *stmt, struct ig_err *err)
{
	int rc = sqlite3_step(stmt->raw);

	sqlite3_reset(stmt->raw);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return ig_store_fail(st, rc, err, "store");
}

int ig_stmt_next(struct ig_store *st, struct ig_stmt *s, struct ig_err *err)
{
	int rc = sqlite3_step(s->raw);

	if (rc == SQLITE_ROW)
		return 1;
	sqlite3_reset(s->raw);
	if (rc == SQLITE_DONE)
		return 0;
	ig_store_fail(st, rc, err, "store");
	return -1;
}

void ig_stmt_reset(struct ig_stmt *s)
{
	if (s)
		sqlite3_reset(s->raw);
}

static struct ig_stmt *vquery(struct ig_store *st, struct ig_err *err, const char *sql,
			      const char *fmt, va_list ap)
{
	struct ig_stmt *s = ig_store_prepare(st, sql, err);

	if (s && ig_stmt_vbind(s, fmt, ap)) {
		ig_err_set(err, IG_EX_SOFTWARE, "BUG: cannot bind '%s'", fmt);
		return NULL;
	}
	return s;
}

struct ig_stmt *ig_store_query(struct ig_store *st, struct ig_err *err, const char *sql,
			       const char *fmt, ...)
{
	struct ig_stmt *s;
	va_list ap;

	va_start(ap, fmt);
	s = vquery(st, err, sql, fmt, ap);
	va_end(ap);
	return s;
}

int ig_store_int(struct ig_store *st, struct ig_err *err, int64_t *out, const char *sql,
		 const char *fmt, ...)
{
	struct ig_stmt *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	s = vquery(st, err, sql, fmt, ap);
	va_end(ap);
	if (!s)
		return -1;
	n = ig_stmt_next(st, s, err);
	if (n > 0) {
		*out = sqlite3_column_int64(s->raw, 0);
		sqlite3_reset(s->raw);
	}
	return n;
}

json_t *ig_stmt_row_json(struct ig_stmt *s)
{
	json_t *o = json_object(), *v;
	int i, n = sqlite3_column_count(s->raw);

	if (!o)
		return NULL;
	for (i = 0; i < n; i++) {
		switch (sqlite3_column_type(s->raw, i)) {
		case SQLITE_INTEGER:
			v = json_integer(sqlite3_column_int64(s->raw, i));
			break;
		case SQLITE_FLOAT:
			v = json_real(sqlite3_column_double(s->raw, i));
			break;
		case SQLITE_NULL:
			v = json_null();
			break;
		default:
			v = json_stringn_nocheck((const char *)sqlite3_column_text(s->raw, i),
						 (size_t)sqlite3_column_bytes(s->raw, i));
		}
		if (!v || json_object_set_new(o, sqlite3_column_name(s->raw, i), v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int ig_store_json(struct ig_store *st, struct ig_err *err, json_t **out, const char *sql,
		  const char *fmt, ...)
{
	struct ig_stmt *s;
	json_t *arr, *row;
	va_list ap;
	int n;

	*out = NULL;
	va_start(ap, fmt);
	s = vquery(st, err, sql, fmt, ap);
	va_end(ap);
	if (!s)
		return err ? err->code : IG_EX_SOFTWARE;
	if (!(arr = json_array()))
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	while ((n = ig_stmt_next(st, s, err)) > 0) {
		if (!(row = ig_stmt_row_json(s)) || json_array_append_new(arr, row)) {
			sqlite3_reset(s->raw);
			json_decref(arr);
			return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
		}
	}
	if (n < 0) {
		json_decref(arr);
		return err ? err->code : IG_EX_SOFTWARE;
	}
	*out = arr;
	return 0;
}

int ig_store_each(struct ig_store *st, struct ig_err *err, ig_store_row_fn *fn, void *arg,
		  const char *sql, const char *fmt, ...)
{
	struct ig_stmt *s;
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	s = vquery(st, err, sql, fmt, ap);
	va_end(ap);
	if (!s)
		return err ? err->code : IG_EX_SOFTWARE;
	while ((n = ig_stmt_next(st, s, err)) > 0) {
		if ((rc = fn(arg, s))) {
			sqlite3_reset(s->raw);
			return rc;
		}
	}
	return n < 0 ? (err ? err->code : IG_EX_SOFTWARE) : 0;
}

const char *ig_col_text(struct ig_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s->raw, col);

	return t ? (const char *)t : "";
}

const char *ig_col_textn(struct ig_stmt *s, int col)
{
	return (const char *)sqlite3_column_text(s->raw, col);
}

int64_t ig_col_int(struct ig_stmt *s, int col)
{
	return sqlite3_column_int64(s->raw, col);
}

double ig_col_double(struct ig_stmt *s, int col)
{
	return sqlite3_column_double(s->raw, col);
}

const void *ig_col_blob(struct ig_stmt *s, int col, size_t *len)
{
	const void *p = sqlite3_column_blob(s->raw, col);

	if (len)
		*len = (size_t)sqlite3_column_bytes(s->raw, col);
	return p;
}

size_t ig_col_bytes(struct ig_stmt *s, int col)
{
	return (size_t)sqlite3_column_bytes(s->raw, col);
}

int ig_col_null(struct ig_stmt *s, int col)
{
	return sqlite3_column_type(s->raw, col) == SQLITE_NULL;
}

int ig_col_count(struct ig_stmt *s)
{
	return sqlite3_column_count(s->raw);
}

const char *ig_col_name(struct ig_stmt *s, int col)
{
	return sqlite3_column_name(s->raw, col);
}

int ig_store_end(struct ig_store *st, int rc, struct ig_err *err)
{
	if (rc) {
		ig_store_rollback(st);
		return rc;
	}
	return ig_store_commit(st, err);
}

int ig_store_tx(struct ig_store *st, ig_store_tx_fn *fn, void *arg, struct ig_err *err)
{
	int rc;

	if ((rc = ig_store_begin(st, err)))
		return rc;
	return ig_store_end(st, fn(st, arg, err), err);
}

int ig_store_has_table(struct ig_store *st, const char *name)
{
	struct ig_stmt *s = ig_store_query(st, NULL,
		"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", "s", name);
	int n;

	if (!s)
		return 0;
	n = ig_stmt_next(st, s, NULL);
	ig_stmt_reset(s);
	return n > 0;
}

int ig_store_tune_bulk(struct ig_store *st, struct ig_err *err)
{
	/* a page cache of 64 MiB instead of 2 keeps the indexes a batch
	 * updates at random (conversations, messages) in memory */
	return ig_store_exec(st, "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY", err);
}

int64_t ig_store_last_id(struct ig_store *st)
{
	return sqlite3_last_insert_rowid(st->db);
}

int ig_store_changes(struct ig_store *st)
{
	return sqlite3_changes(st->db);
}

/* ---- shape branch: the backend's name and version, for --version */

const char *ig_store_backend_version(void)
{
	return sqlite3_libversion();
}
/* ---- kb branch: the kb engine's full-text candidates (FTS5) ---- */
static const char SQL_KB_CAND[] =
	"SELECT a.id, COALESCE(a.agent_id, 0), a.title, a.body, a.tags,"
	" bm25(kb_fts, 4.0, 1.0, 2.0) AS r"
	" FROM kb_fts JOIN kb_articles a ON a.id = kb_fts.rowid"
	" WHERE kb_fts MATCH ? AND a.tenant_id = ? AND (a.agent_id IS NULL OR a.agent_id = ?)"
	" ORDER BY r LIMIT ?";
static const char SQL_TPL_CAND[] =
	"SELECT t.id, COALESCE(t.agent_id, 0), t.name, t.text, '', bm25(templates_fts, 2.0, 1.0) AS r"
	" FROM templates_fts JOIN templates t ON t.id = templates_fts.rowid"
	" WHERE templates_fts MATCH ? AND t.tenant_id = ? AND (t.agent_id IS NULL OR t.agent_id = ?)"
	" ORDER BY r LIMIT ?";

struct ig_stmt *ig_store_kb_candidates(struct ig_store *st, struct ig_err *err, int kind,
				       const char *const *prefixes, int n, int64_t tenant_id,
				       int64_t agent_id, int limit)
{
	struct ig_stmt *s;
	char *q = NULL;
	size_t len = 1, used = 0;
	int i, terms = 0;

	for (i = 0; i < n; i++)
		len += strlen(prefixes[i]) + 8;
	if (!(q = malloc(len))) {
		ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
		return NULL;
	}
	q[0] = '\0';
	/* FTS5 query syntax stays here: "prefix"* OR-ed; a prefix made of
	 * word bytes only needs no escaping inside the quotes. */
	for (i = 0; i < n; i++) {
		const unsigned char *c = (const unsigned char *)prefixes[i];
		int okay = *c != '\0';

		for (; *c && okay; c++)
			okay = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c >= 0x80;
		if (!okay)
			continue;
		used += (size_t)snprintf(q + used, len - used, "%s\"%s\"*", terms ? " OR " : "",
					 prefixes[i]);
		terms++;
	}
	if (!terms) {
		free(q);
		return NULL;
	}
	s = ig_store_query(st, err, kind == 't' ? SQL_TPL_CAND : SQL_KB_CAND, "siii", q, tenant_id,
			   agent_id, (int64_t)limit);
	free(q);
	return s;
}
/* ---- end kb branch ---- */
/* ------------------------------------------------------------ branch meta:
 * schema discovery for ig_connect_move. */

int ig_store_tables_with(struct ig_store *st, const char *col1, const char *col2,
			 const char *except, char ***names, size_t *n, struct ig_err *err)
{
	struct ig_stmt *s = ig_store_query(st, err,
		"SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND m.name <> ?1"
		" AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = ?2)"
		" AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = ?3)"
		" ORDER BY m.name", "sss", except ? except : "", col1, col2);
	int rc;

	*names = NULL;
	*n = 0;
	if (!s)
		return err ? err->code : IG_EX_SOFTWARE;
	while ((rc = ig_stmt_next(st, s, err)) > 0) {
		char **p = realloc(*names, (*n + 1) * sizeof(**names));

		if (p)
			*names = p;
		if (!p || !(p[*n] = strdup(ig_col_text(s, 0)))) {
			ig_stmt_reset(s);
			ig_store_names_free(*names, *n);
			*names = NULL;
			*n = 0;
			return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
		}
		(*n)++;
	}
	if (rc < 0) {
		ig_store_names_free(*names, *n);
		*names = NULL;
		*n = 0;
		return err ? err->code : IG_EX_SOFTWARE;
	}
	return 0;
}

void ig_store_names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* --- ops branch --- */
int ig_store_lazy(struct ig_store *st, int lazy, struct ig_err *err)
{
	return ig_store_exec(st, lazy ? "PRAGMA synchronous = OFF" : "PRAGMA synchronous = FULL",
			     err);
}

enum ig_col_kind ig_col_kind(struct ig_stmt *s, int col)
{
	switch (sqlite3_column_type(s->raw, col)) {
	case SQLITE_INTEGER: return IG_COL_INT;
	case SQLITE_FLOAT: return IG_COL_REAL;
	case SQLITE_TEXT: return IG_COL_TEXT;
	case SQLITE_BLOB: return IG_COL_BLOB;
	default: return IG_COL_NULL;
	}
}

int ig_store_peek_version(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s;
	int v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
	    && sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return v;
}
/* ---- store2 branch: read snapshots and JSON in stored documents (gdpr) ---- */

int ig_store_begin_read(struct ig_store *st, struct ig_err *err)
{
	int rc;

	if (st->in_tx)
		return ig_err_set(err, IG_EX_SOFTWARE, "BUG: nested transaction");
	rc = sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return ig_store_fail(st, rc, err, "store");
	st->in_tx = 1;
	return 0;
}

/*
 * SQL: 1 if the JSON text in column COL (?2 = the id) has ?2 as the "id" of
 * a "sender", "recipient" or "from" object (json_tree: the parent's path ends
 * in that key; LIKE compares without case).  instr() only narrows the scan;
 * json_tree() decides, field by field.
 */
#define MENTIONS(col) \
	"instr(CAST(" col " AS TEXT), ?2) > 0 AND" \
	" EXISTS (SELECT 1 FROM json_tree(CASE WHEN json_valid(CAST(" col " AS TEXT))" \
	" THEN CAST(" col " AS TEXT) ELSE '{}' END) j WHERE j.key = 'id'" \
	" AND j.type IN ('text', 'integer') AND CAST(j.atom AS TEXT) = ?2" \
	" AND (j.path LIKE '%.sender' OR j.path LIKE '%.recipient' OR j.path LIKE '%.from'))"

int ig_store_delete_json_mentions(struct ig_store *st, enum ig_store_json_rows which,
				  int64_t tenant_id, const char *id, int *changes,
				  struct ig_err *err)
{
	int rc;

	if (changes)
		*changes = 0;
	if (which == IG_STORE_JSON_DEAD_LETTERS)
		rc = ig_store_runf(st, err, "DELETE FROM dead_letters WHERE (?1 = 0 OR tenant_id = ?1)"
				   " AND " MENTIONS("raw"), "is", tenant_id, id);
	else if (which == IG_STORE_JSON_DELIVERIES && tenant_id == 0)
		rc = ig_store_runf(st, err, "DELETE FROM deliveries WHERE " MENTIONS("body")
				   " AND ?1 = 0", "is", tenant_id, id);
	else
		return ig_err_set(err, IG_EX_SOFTWARE, "BUG: ig_store_delete_json_mentions(%d, %lld)",
				  (int)which, (long long)tenant_id);
	if (!rc && changes)
		*changes = ig_store_changes(st);
	return rc;
}
#undef MENTIONS

int ig_store_delete_audit_participant(struct ig_store *st, int64_t tenant_id, const char *id,
				      int *changes, struct ig_err *err)
{
	int rc = ig_store_runf(st, err,
		"DELETE FROM audit_log WHERE (?1 = 0 OR tenant_id = ?1) AND"
		" (target = 'participant:' || ?2 OR (json_valid(detail)"
		" AND json_type(detail) = 'object'"
		" AND CAST(json_extract(detail, '$.participant') AS TEXT) = ?2))",
		"is", tenant_id, id);

	if (changes)
		*changes = rc ? 0 : ig_store_changes(st);
	return rc;
}

const char *ig_store_path(const struct ig_store *st)
{
	return st->path;
}

int ig_store_in_tx(const struct ig_store *st)
{
	return st->in_tx;
}
/* ---- end store2 branch ---- */
