/* Unit tests of lib/store: creation mode, pragmas, migrations, refusing a
 * newer store, transactions, statement cache, error mapping, the audit log's
 * append-only triggers. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "tap.h"

static char dir[] = "/tmp/igkit-t-store.XXXXXX";
static char path[256];

static int64_t one(struct ig_store *st, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v = -1;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static const char *text(struct ig_store *st, const char *sql, char *buf, size_t n)
{
	sqlite3_stmt *s;

	buf[0] = '\0';
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return buf;
	if (sqlite3_step(s) == SQLITE_ROW)
		snprintf(buf, n, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return buf;
}

int main(void)
{
	struct ig_store *st = NULL, *st2 = NULL;
	struct ig_err err = { 0 };
	struct stat sb;
	sqlite3_stmt *s, *s2;
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
	ig_store_bind(s, "ssii", "rossi", "Rossi", (int64_t)1, (int64_t)1);
	is_int(ig_store_run(st, s, &err), 0, "insert");
	is_int(ig_store_commit(st, &err), 0, "commit");
	is_int(one(st, "SELECT count(*) FROM tenants"), 1, "row committed");
	ig_store_begin(st, &err);
	s2 = ig_store_prepare(st, "INSERT INTO tenants(slug, name, created_at, updated_at) VALUES (?,?,?,?)", &err);
	ig_store_bind(s2, "ssii", "bianchi", "Bianchi", (int64_t)1, (int64_t)1);
	ig_store_run(st, s2, &err);
	ig_store_rollback(st);
	is_int(one(st, "SELECT count(*) FROM tenants"), 1, "rollback leaves nothing");
	ig_store_begin(st, &err);
	ig_store_bind(s2, "ssii", "rossi", "Dup", (int64_t)1, (int64_t)1);
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
		ok(!st->in_tx, "no transaction left open");
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
	ok(st->in_tx, "…the transaction stays open for the caller to end");
	is_int(one(st, "SELECT count(*) FROM tenants WHERE name = 'Runf'"), 1, "…and the earlier one stands");
	ig_store_rollback(st);
	is_int(ig_store_runf(st, &err, "UPDATE nosuchtable SET x = 1", ""), IG_EX_SOFTWARE,
	       "bad SQL → 70");
	is_int(one(st, "SELECT count(*) FROM tenants WHERE name = 'Runf'"), 0, "rolled back by the caller");

	/* A second connection waiting on the write lock gets 75, not a hang. */
	is_int(ig_store_open(&st2, path, 0, &err), 0, "second connection");
	sqlite3_busy_timeout(st2->db, 50);
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

	{
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			ok(0, "cleanup");
	}
	return done_testing();
}
