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
#include <stddef.h>
#include <jansson.h>

#include "err.h"

#define IG_STORE_CREATE   0x1  /* create the file (0600) and its directory (0700) */
#define IG_STORE_READONLY 0x2
/*
 * A short-lived writer on a latency path (ig-route's CGI runs): the WAL
 * file outlives the connection, emptied at close (after the checkpoint)
 * instead of deleted, so the next run writes into the file it finds
 * instead of creating one (a new file costs a directory entry and its
 * fsync before the first commit).  Other programs delete it as before;
 * the empty -wal and the -shm files may stay beside the store.
 */
#define IG_STORE_KEEP_WAL 0x4

/* Opaque: known to store.c alone (ig_store_path, ig_store_in_tx). */
struct ig_store;
struct ig_stmt;

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
 * Statements.  A `struct ig_stmt` is opaque: only store.c knows it is an
 * SQLite statement, so a second backend (PostgreSQL through libpq) can put
 * its own behind the same calls.
 *
 * SQL text passed here is portable SQL with '?' parameters.  SQLite-only
 * features (FTS5, JSON functions, PRAGMAs, schema discovery) are named store
 * functions, never SQL in a module (docs/HACKING.md "The store").
 */

/*
 * A prepared statement, cached for the life of the store under the address
 * of `sql` — pass a string literal.  It comes back reset with its bindings
 * cleared; never free it.  NULL on error (err set, code 70).
 */
struct ig_stmt *ig_store_prepare(struct ig_store *st, const char *sql, struct ig_err *err);

/*
 * Bind parameters 1..n from a format string:
 *   's' const char *  (NULL binds NULL)     'i' int64_t
 *   'I' int64_t, bound as NULL when <= 0    'n' NULL (no argument)
 *   'b' const void *, int len (blob)        'd' double
 * 0, or 70 on a bad format (a bug).
 */
int ig_stmt_bind(struct ig_stmt *s, const char *fmt, ...);
int ig_stmt_vbind(struct ig_stmt *s, const char *fmt, va_list ap);

/*
 * Step: 1 a row is ready (read it with ig_col_*), 0 no more rows (the
 * statement is reset), -1 an error (err set with the exit code; the
 * statement is reset).  Reset a statement you stop reading early.
 */
int ig_stmt_next(struct ig_store *st, struct ig_stmt *s, struct ig_err *err);
void ig_stmt_reset(struct ig_stmt *s);

/* Step a statement expected to finish (INSERT/UPDATE/DELETE); resets it.
 * 0 or an exit code (err set). */
int ig_store_run(struct ig_store *st, struct ig_stmt *s, struct ig_err *err);

/*
 * Prepare (cached: sql a literal), bind from fmt and return the statement
 * ready for ig_stmt_next; NULL on error (err set).  The usual loop:
 *     s = ig_store_query(st, err, SQL, "i", tenant);
 *     while ((n = ig_stmt_next(st, s, err)) > 0) { ... ig_col_text(s, 0) ... }
 *     if (!s || n < 0) return err->code;
 */
struct ig_stmt *ig_store_query(struct ig_store *st, struct ig_err *err, const char *sql,
			       const char *fmt, ...);

/*
 * Run one writing statement in the open transaction (or none), bound from
 * fmt.  0 or an exit code (err set); ig_store_changes() and ig_store_last_id()
 * tell what it did.
 */
int ig_store_runf(struct ig_store *st, struct ig_err *err, const char *sql, const char *fmt, ...);

/*
 * The same in its own BEGIN IMMEDIATE transaction; *changes (may be NULL)
 * gets the rows changed.  Nothing is left behind on failure.  0 or an exit
 * code.
 */
int ig_store_write(struct ig_store *st, int *changes, struct ig_err *err, const char *sql,
		   const char *fmt, ...);

/*
 * One integer from the first column of the first row: 1 found (*out set),
 * 0 no row (*out untouched), -1 error (err set).
 */
int ig_store_int(struct ig_store *st, struct ig_err *err, int64_t *out, const char *sql,
		 const char *fmt, ...);

/*
 * Rows → JSON.  ig_stmt_row_json: the current row as a new object keyed by
 * column name (integers as integers, reals as reals, text as strings, blobs
 * as strings, NULL as null); NULL when out of memory.  ig_store_json: every
 * row of the query as a new array of such objects in *out; 0 or an exit code.
 */
json_t *ig_stmt_row_json(struct ig_stmt *s);
int ig_store_json(struct ig_store *st, struct ig_err *err, json_t **out, const char *sql,
		  const char *fmt, ...);

/*
 * Call fn for each row (fn reads the columns; a non-zero return stops and is
 * returned).  0, fn's code, or an exit code (err set).
 */
typedef int ig_store_row_fn(void *arg, struct ig_stmt *s);
int ig_store_each(struct ig_store *st, struct ig_err *err, ig_store_row_fn *fn, void *arg,
		  const char *sql, const char *fmt, ...);

/* Column readers.  Text is "" when NULL (never NULL); ig_col_textn gives NULL
 * for NULL.  Blob: *len set (may be NULL); NULL for an empty or NULL value. */
const char *ig_col_text(struct ig_stmt *s, int col);
const char *ig_col_textn(struct ig_stmt *s, int col);
int64_t ig_col_int(struct ig_stmt *s, int col);
double ig_col_double(struct ig_stmt *s, int col);
const void *ig_col_blob(struct ig_stmt *s, int col, size_t *len);
size_t ig_col_bytes(struct ig_stmt *s, int col);
int ig_col_null(struct ig_stmt *s, int col);
int ig_col_count(struct ig_stmt *s);
const char *ig_col_name(struct ig_stmt *s, int col);

/*
 * Transactions with one commit-or-rollback path.  ig_store_end(st, rc, err):
 * rc == 0 → commit (its failure is returned), else roll back and return rc.
 * ig_store_tx: BEGIN IMMEDIATE, fn, then ig_store_end.
 */
int ig_store_end(struct ig_store *st, int rc, struct ig_err *err);
typedef int ig_store_tx_fn(struct ig_store *st, void *arg, struct ig_err *err);
int ig_store_tx(struct ig_store *st, ig_store_tx_fn *fn, void *arg, struct ig_err *err);

/* Map the connection's last error (rc, a backend code) to an exit code and
 * a message "what: backend message". */
int ig_store_fail(struct ig_store *st, int rc, struct ig_err *err, const char *what);

int64_t ig_store_last_id(struct ig_store *st);
int ig_store_changes(struct ig_store *st);

/* Named backend features. */
/* 1 when the table exists, 0 when not (schema discovery). */
int ig_store_has_table(struct ig_store *st, const char *name);
/* Tune the connection for a bulk intake run (pipe mode): a larger page
 * cache, temporary structures in memory.  Durability is unchanged. */
int ig_store_tune_bulk(struct ig_store *st, struct ig_err *err);

/* ---- shape branch */
/* The backend library's version ("3.45.1"), for --version. */
const char *ig_store_backend_version(void);
/* --- ops branch --- */
/* Durability of the connection's next commits: lazy 1 = they may be lost
 * with the machine (not with the process: a kill -9 loses nothing that was
 * committed), 0 = back to the rule (synchronous=FULL).  For bookkeeping whose
 * loss only repeats work, never for data. */
int ig_store_lazy(struct ig_store *st, int lazy, struct ig_err *err);
/* The kind of value in a column of the current row. */
enum ig_col_kind { IG_COL_NULL, IG_COL_INT, IG_COL_REAL, IG_COL_TEXT, IG_COL_BLOB };
enum ig_col_kind ig_col_kind(struct ig_stmt *s, int col);
/* The schema version of the store file at path, read without opening it as
 * a store (nothing is created or migrated); -1 when it cannot be read. */
int ig_store_peek_version(const char *path);

/* ---- kb branch: the kb engine's full-text candidates (FTS5) ---- */
/*
 * The passages of the tenant that contain a word beginning with one of
 * prefixes[0..n) (lower case, accents folded; a prefix with a byte other
 * than a letter, a digit or a UTF-8 byte is skipped), best full-text rank
 * first, at most limit.  kind 'a': articles of the tenant that are
 * tenant-wide or agent_id's, columns id, agent id (0 = tenant-wide), title,
 * body, tags, rank (lower is better).  kind 't': templates, columns id,
 * agent id, name, text, '' , rank.  Read the statement with ig_stmt_next;
 * NULL on error (err set), and when no prefix is usable (err untouched).
 */
struct ig_stmt *ig_store_kb_candidates(struct ig_store *st, struct ig_err *err, int kind,
				       const char *const *prefixes, int n, int64_t tenant_id,
				       int64_t agent_id, int limit);
/* ---- end kb branch ---- */
/* ------------------------------------------------------------ branch meta */
/* The tables (but `except`) having both columns col1 and col2, by name
 * (schema discovery); *names is new (ig_store_names_free).  0 or an exit
 * code. */
int ig_store_tables_with(struct ig_store *st, const char *col1, const char *col2,
			 const char *except, char ***names, size_t *n, struct ig_err *err);
void ig_store_names_free(char **names, size_t n);

/* ---- store2 branch: read snapshots and JSON in stored documents (gdpr) ---- */
/*
 * A read-only snapshot: what the queries until ig_store_rollback() read is
 * one consistent state, without taking the write lock (SQLite: a deferred
 * BEGIN; PostgreSQL: BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY).  End
 * it with ig_store_rollback.  Nested in another transaction it is a bug (70).
 */
int ig_store_begin_read(struct ig_store *st, struct ig_err *err);
/*
 * Delete the stored webhook JSON that mentions `id` (digits) as the "id"
 * (text or integer) of an object under a "sender", "recipient" or "from" key
 * (the key compared without case); text that is not JSON mentions nobody.
 * which: IG_STORE_JSON_DEAD_LETTERS (dead_letters.raw of tenant_id, 0 = every
 * tenant) or IG_STORE_JSON_DELIVERIES (deliveries.body, which belong to no
 * tenant; tenant_id must be 0).  In the open transaction; *changes (may be
 * NULL) gets the rows deleted.  0 or an exit code (err set).
 */
enum ig_store_json_rows { IG_STORE_JSON_DEAD_LETTERS, IG_STORE_JSON_DELIVERIES };
int ig_store_delete_json_mentions(struct ig_store *st, enum ig_store_json_rows which,
				  int64_t tenant_id, const char *id, int *changes,
				  struct ig_err *err);
/*
 * Delete the audit rows about participant `id` (of tenant_id, 0 = every
 * tenant): target 'participant:<id>', or a detail that is a JSON object whose
 * "participant" is id (as text).  The caller opens the audit log's erasure
 * guard.  In the open transaction; *changes as above.  0 or an exit code.
 */
int ig_store_delete_audit_participant(struct ig_store *st, int64_t tenant_id, const char *id,
				      int *changes, struct ig_err *err);
/* The path the store was opened with; 1 while a transaction is open. */
const char *ig_store_path(const struct ig_store *st);
int ig_store_in_tx(const struct ig_store *st);
/* ---- end store2 branch ---- */

#endif
