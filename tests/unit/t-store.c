/* Unit tests of lib/store: creation mode, pragmas, migrations, refusing a
 * newer store, transactions, statement cache, error mapping, the audit log's
 * append-only triggers. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>   /* a second connection of its own, behind the store's back */

#include "store.h"
#include "tap.h"

static char dir[] = "/tmp/igkit-t-store.XXXXXX";
static char path[256];

/* sql: a literal (the store caches statements by its address) */
static int64_t one(struct ig_store *st, const char *sql)
{
	int64_t v = -1;

	return ig_store_int(st, NULL, &v, sql, "") < 0 ? -2 : v;
}

static const char *text(struct ig_store *st, const char *sql, char *buf, size_t n)
{
	struct ig_stmt *s = ig_store_query(st, NULL, sql, "");

	buf[0] = '\0';
	if (s && ig_stmt_next(st, s, NULL) > 0) {
		snprintf(buf, n, "%s", ig_col_text(s, 0));
		ig_stmt_reset(s);
	}
	return buf;
}

static int count_row(void *arg, struct ig_stmt *s)
{
	int *n = arg;

	(void)s;
	return ++*n == 2 ? 42 : 0;   /* stop at the second row */
}

static int tx_insert(struct ig_store *st, void *arg, struct ig_err *err)
{
	int rc = ig_store_runf(st, err, "INSERT INTO tenants(slug, name, created_at, updated_at)"
			       " VALUES (?,?,1,1)", "ss", (const char *)arg, "Tx");

	return rc ? rc : !strcmp(arg, "fails") ? IG_EX_DATAERR : 0;
}

/* The store API modules use (store.h): queries and iteration, scalars,
 * rows as JSON, the one commit-or-rollback path, schema discovery, and a
 * statement cache that grows past any fixed size. */
static void api(const char *file)
{
	static char many[120][48];
	struct ig_store *st;
	struct ig_err err = { 0 };
	struct ig_stmt *s, *first = NULL;
	json_t *rows;
	int64_t v = -1;
	int n, i, good;

	if (ig_store_open(&st, file, IG_STORE_CREATE, &err)) {
		ok(0, "api: open: %s", err.msg);
		return;
	}
	ok(ig_store_backend_version()[0] != '\0', "backend version: %s", ig_store_backend_version());
	is_int(ig_store_tune_bulk(st, &err), 0, "tune_bulk");
	ig_store_exec(st, "CREATE TABLE t_api(slug TEXT, name TEXT, created_at INTEGER)", &err);
	for (i = 0; i < 3; i++) {
		char slug[16];

		snprintf(slug, sizeof(slug), "t%d", i);
		ig_store_runf(st, &err, "INSERT INTO t_api(slug, name, created_at) VALUES (?,?,?)", "ssi",
			      slug, i == 1 ? NULL : "N", (int64_t)(10 + i));
	}
	s = ig_store_query(st, &err, "SELECT slug, name, created_at FROM t_api ORDER BY slug", "");
	for (n = 0, good = 1; (i = ig_stmt_next(st, s, &err)) > 0; n++)
		good &= ig_col_int(s, 2) == 10 + n && (n == 1) == ig_col_null(s, 1)
			&& !strcmp(ig_col_text(s, 1), n == 1 ? "" : "N") && (n != 1 || !ig_col_textn(s, 1));
	is_int(n, 3, "query/next: three rows, then 0");
	ok(good && i == 0, "…columns by type, NULL as \"\" (text) and NULL (textn)");
	ok(!ig_store_query(st, &err, "SELECT x FROM nosuchtable", "") && err.code == IG_EX_SOFTWARE,
	   "a bad statement: NULL, 70");
	is_int(ig_store_int(st, &err, &v, "SELECT created_at FROM t_api WHERE slug = ?", "s", "t2"),
	       1, "ig_store_int: found");
	is_int((int)v, 12, "…its value");
	v = -1;
	is_int(ig_store_int(st, &err, &v, "SELECT created_at FROM t_api WHERE slug = ?", "s", "no"),
	       0, "ig_store_int: no row");
	is_int((int)v, -1, "…*out untouched");
	is_int(ig_store_json(st, &err, &rows, "SELECT slug, created_at, name FROM t_api"
			     " WHERE slug <> ? ORDER BY slug", "s", "t0"), 0, "ig_store_json");
	ok(json_array_size(rows) == 2 && json_is_integer(json_object_get(json_array_get(rows, 0),
		"created_at")) && json_is_null(json_object_get(json_array_get(rows, 0), "name"))
	   && !strcmp(json_string_value(json_object_get(json_array_get(rows, 1), "slug")), "t2"),
	   "…rows as objects, integers, null, strings");
	json_decref(rows);
	n = 0;
	is_int(ig_store_each(st, &err, count_row, &n, "SELECT slug FROM t_api", ""), 42,
	       "ig_store_each: the callback's code stops it");
	is_int(n, 2, "…after the second row");
	/* one commit-or-rollback path */
	ig_store_begin(st, &err);
	ig_store_runf(st, &err, "UPDATE t_api SET name = 'E' WHERE slug = 't0'", "");
	is_int(ig_store_end(st, IG_EX_DATAERR, &err), IG_EX_DATAERR, "ig_store_end(65): rolled back, 65");
	ig_store_begin(st, &err);
	is_int(ig_store_int(st, &err, &v, "SELECT count(*) FROM t_api WHERE name = 'E'", ""), 1,
	       "…inside a new transaction");
	is_int((int)v, 0, "…nothing of it left");
	ig_store_runf(st, &err, "UPDATE t_api SET name = 'E' WHERE slug = 't0'", "");
	is_int(ig_store_end(st, 0, &err), 0, "ig_store_end(0): committed");
	is_int(ig_store_tx(st, tx_insert, "ok1", &err), 0, "ig_store_tx: committed");
	is_int(ig_store_tx(st, tx_insert, "fails", &err), IG_EX_DATAERR, "ig_store_tx: fn's code");
	ig_store_int(st, &err, &v, "SELECT (SELECT count(*) FROM tenants WHERE slug IN ('ok1', 'fails'))"
		     " + (SELECT count(*) FROM t_api WHERE name = 'E')", "");
	is_int((int)v, 2, "…the failed one rolled back, the others kept");
	is_int(ig_store_has_table(st, "tenants"), 1, "has_table: tenants");
	is_int(ig_store_has_table(st, "nosuchtable"), 0, "has_table: no such table");
	/* the statement cache grows: 120 statements, each still right */
	for (i = 0, good = 1; i < 120; i++) {
		snprintf(many[i], sizeof(many[i]), "SELECT %d + ?", i);
		if (ig_store_int(st, &err, &v, many[i], "i", (int64_t)1) != 1 || v != i + 1)
			good = 0;
	}
	ok(good, "120 cached statements, each its own");
	s = ig_store_prepare(st, many[0], &err);
	first = ig_store_prepare(st, many[0], &err);
	ok(s && s == first, "…the first one still cached (same statement)");
	for (i = 119, good = 1; i >= 0; i--)
		if (ig_store_int(st, &err, &v, many[i], "i", (int64_t)2) != 1 || v != i + 2)
			good = 0;
	ok(good, "…and all of them still answer right");
	ig_store_free(st);
}

int main(void)
{
	struct ig_store *st = NULL, *st2 = NULL;
	struct ig_err err = { 0 };
	struct stat sb;
	struct ig_stmt *s, *s2;
	char buf[64];
	int rc;

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/data/igkit/igkit.db", dir);
	is_int(ig_store_open(&st, path, 0, &err), IG_EX_NOINPUT, "missing store without CREATE → 66");
	ok(strstr(err.msg, "tenant-admin init") != NULL, "message hints at init: %s", err.msg);
	is_int(ig_store_open(&st, path, IG_STORE_CREATE, &err), 0, "store created with its directories");
	ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "store file mode 0600");
	snprintf(buf, sizeof(buf), "%s/data/igkit", dir);
	ok(stat(buf, &sb) == 0 && (sb.st_mode & 0777) == 0700, "store directory mode 0700");
	is_str(text(st, "PRAGMA journal_mode", buf, sizeof(buf)), "wal", "WAL mode");
	is_int(one(st, "PRAGMA foreign_keys"), 1, "foreign keys on");
	is_int(one(st, "PRAGMA synchronous"), 2, "synchronous=FULL");
	is_int(ig_store_version(st), ig_store_latest_version(), "migrated to the latest version");
	ok(ig_store_latest_version() >= 1, "at least one migration");
	is_int(one(st, "SELECT count(*) FROM sqlite_master WHERE name='kb_fts'"), 1, "FTS5 table exists");

	/* Transactions and the statement cache. */
	is_int(ig_store_begin(st, &err), 0, "BEGIN IMMEDIATE");
	is_int(ig_store_begin(st, &err), IG_EX_SOFTWARE, "nested begin is a bug (70)");
	s = ig_store_prepare(st, "INSERT INTO tenants(slug, name, created_at, updated_at) VALUES (?,?,?,?)", &err);
	ok(s != NULL, "prepare");
	ig_stmt_bind(s, "ssii", "rossi", "Rossi", (int64_t)1, (int64_t)1);
	is_int(ig_store_run(st, s, &err), 0, "insert");
	is_int(ig_store_commit(st, &err), 0, "commit");
	is_int(one(st, "SELECT count(*) FROM tenants"), 1, "row committed");
	ig_store_begin(st, &err);
	s2 = ig_store_prepare(st, "INSERT INTO tenants(slug, name, created_at, updated_at) VALUES (?,?,?,?)", &err);
	ig_stmt_bind(s2, "ssii", "bianchi", "Bianchi", (int64_t)1, (int64_t)1);
	ig_store_run(st, s2, &err);
	ig_store_rollback(st);
	is_int(one(st, "SELECT count(*) FROM tenants"), 1, "rollback leaves nothing");
	ig_store_begin(st, &err);
	ig_stmt_bind(s2, "ssii", "rossi", "Dup", (int64_t)1, (int64_t)1);
	rc = ig_store_run(st, s2, &err);
	ig_store_rollback(st);
	is_int(rc, IG_EX_DATAERR, "constraint violation → 65");
	ok(strstr(err.msg, "UNIQUE") != NULL, "message from SQLite kept: %s", err.msg);

	/* One statement in its own transaction. */
	{
		int changes = -1;

		is_int(ig_store_write(st, &changes, &err, "UPDATE tenants SET name = ? WHERE slug = ?",
				      "ss", "Rossi & C.", "rossi"), 0, "ig_store_write");
		is_int(changes, 1, "reports the rows changed");
		is_int(ig_store_write(st, &changes, &err,
				      "INSERT INTO tenants(slug, name, created_at, updated_at) VALUES (?,?,0,0)",
				      "ss", "rossi", "Dup"), IG_EX_DATAERR, "a failing write → its exit code");
		is_int(changes, 0, "no rows changed");
		ok(!ig_store_in_tx(st), "no transaction left open");
		is_int(one(st, "SELECT count(*) FROM tenants WHERE name = 'Dup'"), 0, "nothing written");
	}

	/* One statement in the open transaction. */
	ig_store_begin(st, &err);
	is_int(ig_store_runf(st, &err, "UPDATE tenants SET name = ? WHERE slug = ?", "ss", "Runf",
			     "rossi"), 0, "ig_store_runf");
	is_int(ig_store_changes(st), 1, "…its changes are the connection's");
	is_int(ig_store_runf(st, &err, "INSERT INTO tenants(slug, name, created_at, updated_at)"
			     " VALUES (?,?,0,0)", "ss", "rossi", "Dup"), IG_EX_DATAERR,
	       "a failing statement → its exit code");
	ok(ig_store_in_tx(st), "…the transaction stays open for the caller to end");
	is_int(one(st, "SELECT count(*) FROM tenants WHERE name = 'Runf'"), 1, "…and the earlier one stands");
	ig_store_rollback(st);
	is_int(ig_store_runf(st, &err, "UPDATE nosuchtable SET x = 1", ""), IG_EX_SOFTWARE,
	       "bad SQL → 70");
	is_int(one(st, "SELECT count(*) FROM tenants WHERE name = 'Runf'"), 0, "rolled back by the caller");

	/* A second connection waiting on the write lock gets 75, not a hang. */
	is_int(ig_store_open(&st2, path, 0, &err), 0, "second connection");
	ig_store_exec(st2, "PRAGMA busy_timeout = 50", &err);   /* the SQLite backend */
	ig_store_begin(st, &err);
	is_int(ig_store_begin(st2, &err), IG_EX_TEMPFAIL, "busy store → 75 (retry later)");
	ig_store_rollback(st);

	/* Append-only audit log. */
	is_int(ig_store_exec(st, "INSERT INTO audit_log(at, actor, action) VALUES (1,'owner','x')", &err), 0,
	       "audit insert");
	ok(ig_store_exec(st, "UPDATE audit_log SET action='y'", &err) != 0, "audit UPDATE refused");
	ok(strstr(err.msg, "append-only") != NULL, "with the reason");
	ok(ig_store_exec(st, "DELETE FROM audit_log", &err) != 0, "audit DELETE refused");
	is_int(ig_store_exec(st, "BEGIN; UPDATE erasure_guard SET active=1; DELETE FROM audit_log;"
			     " UPDATE erasure_guard SET active=0; COMMIT;", &err), 0,
	       "DELETE allowed while an erasure runs");
	is_int(one(st, "SELECT count(*) FROM audit_log"), 0, "row erased");
	ig_store_free(st2);
	ig_store_free(st);

	/* A store newer than the binary is refused and left untouched. */
	{
		sqlite3 *db;

		sqlite3_open(path, &db);
		sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL);
		sqlite3_close(db);
	}
	is_int(ig_store_open(&st, path, 0, &err), IG_EX_CONFIG, "newer store refused (78)");
	ok(strstr(err.msg, "999") && strstr(err.msg, "upgrade igkit"), "message: %s", err.msg);

	/* Not a database. */
	snprintf(path, sizeof(path), "%s/junk.db", dir);
	{
		FILE *f = fopen(path, "w");

		fputs("this is not a database, just text that is long enough to be a header...", f);
		fclose(f);
	}
	rc = ig_store_open(&st, path, 0, &err);
	ok(rc == IG_EX_IOERR, "a file that is not a database → 74 (%d: %s)", rc, err.msg);

	snprintf(path, sizeof(path), "%s/api.db", dir);
	api(path);

	{
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			ok(0, "cleanup");
	}
	return done_testing();
}
