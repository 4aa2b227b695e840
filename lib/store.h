/*
 * store.h — the one SQLite store.
 *
 * Opening applies the connection rules of DESIGN.md §4 (WAL, busy_timeout,
 * foreign_keys=ON, synchronous=FULL) and the numbered migrations in
 * share/schema/ (PRAGMA user_version); a store newer than this binary is
 * refused.  SQL lives in lib/ only; cmd/ never sees a statement.
 *
 * Errors map SQLite result codes to exit codes (ig_store_fail): BUSY/LOCKED
 * → 75 (retry later), IOERR/FULL → 74, CANTOPEN → 73, CONSTRAINT → 65,
 * anything else → 70.
 */
#ifndef IG_STORE_H
#define IG_STORE_H

#include <stdarg.h>
#include <stdint.h>
#include <sqlite3.h>

#include "err.h"

#define IG_STORE_CREATE   0x1  /* create the file (0600) and its directory (0700) */
#define IG_STORE_READONLY 0x2

struct ig_store_stmt_cache {
	const char *sql;     /* identity: the address of a string literal */
	sqlite3_stmt *stmt;
};

struct ig_store {
	sqlite3 *db;
	char *path;
	int in_tx;
	int ncache;
	struct ig_store_stmt_cache cache[96];
};

/* Open (and migrate) the store at path.  *out is new; free with ig_store_free.
 * Missing file without IG_STORE_CREATE → 66 with a hint to run
 * "tenant-admin init". */
int ig_store_open(struct ig_store **out, const char *path, int flags, struct ig_err *err);
void ig_store_free(struct ig_store *st);

/* Schema version of the open store, and the newest this binary knows. */
int ig_store_version(struct ig_store *st);
int ig_store_latest_version(void);

/* BEGIN IMMEDIATE (every read-modify-write), COMMIT, ROLLBACK.
 * begin while a transaction is open is an internal error (70). */
int ig_store_begin(struct ig_store *st, struct ig_err *err);
int ig_store_commit(struct ig_store *st, struct ig_err *err);
void ig_store_rollback(struct ig_store *st);

/* Run SQL without results (may hold several statements). */
int ig_store_exec(struct ig_store *st, const char *sql, struct ig_err *err);

/*
 * A prepared statement, cached for the life of the store under the address
 * of `sql` — pass a string literal.  The statement comes back reset with its
 * bindings cleared; do not finalize it.  NULL on error (err set).
 */
sqlite3_stmt *ig_store_prepare(struct ig_store *st, const char *sql, struct ig_err *err);

/*
 * Bind parameters 1..n from a format string:
 *   's' const char *  (NULL binds NULL)     'i' int64_t
 *   'I' int64_t, bound as NULL when <= 0    'n' NULL (no argument)
 *   'b' const void *, int len (blob)        'd' double
 * Returns SQLITE_OK or the bind error.
 */
int ig_store_bind(sqlite3_stmt *stmt, const char *fmt, ...);

int ig_store_vbind(sqlite3_stmt *stmt, const char *fmt, va_list ap);

/*
 * Prepare (cached, as ig_store_prepare: sql a literal), bind from fmt as
 * ig_store_bind and run one writing statement in the open transaction (or
 * none).  0 or an exit code (err set); ig_store_changes() and
 * ig_store_last_id() tell what it did.
 */
int ig_store_runf(struct ig_store *st, struct ig_err *err, const char *sql, const char *fmt, ...);

/*
 * The same in its own BEGIN IMMEDIATE transaction; *changes (may be NULL) gets the rows changed.
 * Nothing is left behind on failure.  0 or an exit code.
 */
int ig_store_write(struct ig_store *st, int *changes, struct ig_err *err, const char *sql,
		   const char *fmt, ...);

/* Step a statement expected to finish (INSERT/UPDATE/DELETE); resets it.
 * Returns 0 or an exit code (err set). */
int ig_store_run(struct ig_store *st, sqlite3_stmt *stmt, struct ig_err *err);

/* Map the connection's last error (rc) to an exit code and a message
 * "what: sqlite message". */
int ig_store_fail(struct ig_store *st, int rc, struct ig_err *err, const char *what);

/* Column helpers: text as "" when NULL (never NULL), int64. */
const char *ig_col_text(sqlite3_stmt *stmt, int col);
int64_t ig_col_int(sqlite3_stmt *stmt, int col);

int64_t ig_store_last_id(struct ig_store *st);
int ig_store_changes(struct ig_store *st);

#endif
