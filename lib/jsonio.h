/*
 * jsonio.h — the one JSON I/O layer.
 *
 * Ownership follows jansson's words: "borrows" = the caller keeps its
 * reference; "new reference" = the caller must json_decref() it.
 *
 * Input is JSON Lines: one value per line, each line at most `max` bytes,
 * duplicate object keys rejected, errors carry "NAME:LINE:" positions.
 * Output is compact, one value per line, flushed per record.  Listings
 * also offer --format table (aligned columns) or csv (RFC 4180).
 */
#ifndef IG_JSONIO_H
#define IG_JSONIO_H

#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "buf.h"
#include "err.h"

#define IG_JSONL_MAX_DEFAULT (1024 * 1024)

/*
 * Lines from a file descriptor, the one line reader under every stream
 * igkit reads (ig_jsonl_reader below; ig-route's deliveries directly, for
 * speed).  NUL-safe: a line ends at '\n' only, and its length is counted,
 * never taken with strlen.  It can tell whether another line is ready
 * without blocking (a batch writer commits when it is not).
 */
struct ig_lines {
	int fd;
	FILE *f;            /* a stream without a descriptor (fmemopen), else NULL */
	char *buf;
	size_t len, pos, cap;
	int eof;
	long line;          /* number of the line last returned (1-based) */
};

void ig_lines_init(struct ig_lines *l, int fd);
void ig_lines_release(struct ig_lines *l);
/*
 * The next line, without its '\n' and a '\r' before it, NUL-terminated in
 * place (it may hold NULs: use *len), at most max bytes: 1 a line, 0 end of
 * input, -1 a read error (errno).  A longer line is consumed whole and
 * returned cut at max with *toolong set.  The line stays valid until the
 * next call.
 */
int ig_lines_next(struct ig_lines *l, size_t max, char **line, size_t *len, int *toolong);
/* 1 when another line (or the end of input) can be had without waiting. */
int ig_lines_ready(struct ig_lines *l);
/*
 * Buffer input until it holds a whole first line, more than max bytes, or
 * everything; *data and *len: what is buffered (not consumed).  0 or -1 (errno).
 */
int ig_lines_peek(struct ig_lines *l, size_t max, const char **data, size_t *len);
/*
 * All the rest of the input: *data (NUL-terminated, may hold NULs) of *len
 * bytes; more than max bytes are read to the end but only max + 1 kept (so
 * *len > max says it was too long).  Consumed.  0 or -1 (errno).
 */
int ig_lines_all(struct ig_lines *l, size_t max, char **data, size_t *len);

struct ig_jsonl_reader {
	FILE *f;            /* the stream given to init (read through its descriptor) */
	const char *name;   /* for messages: file name or "stdin" */
	long line;          /* line number of the record just read (1-based) */
	struct ig_buf raw;  /* the raw bytes of that line, without the newline */
	int truncated;      /* the line was longer than max; raw holds its start */
	struct ig_lines in;
};

/* f: a stream nothing has been read from through stdio (its descriptor is
 * read directly; a memory stream without one through fread).  max: the longest record (0: IG_JSONL_MAX_DEFAULT). */
void ig_jsonl_reader_init(struct ig_jsonl_reader *r, FILE *f, const char *name, size_t max);
void ig_jsonl_reader_release(struct ig_jsonl_reader *r);
/*
 * Read the next non-blank line.  Returns 1 with *out a new reference, or 1
 * with *out NULL and err set (65, "NAME:LINE: why") when the line is not
 * valid JSON (a NUL byte outside a string is not), or too long — the raw
 * bytes stay in r->raw so the caller can keep them — 0 at end of input, or
 * -1 on a read error (err set, 74).  A bad line never costs the next one.
 */
int ig_jsonl_next(struct ig_jsonl_reader *r, json_t **out, struct ig_err *err);
/* 1 when the next record can be read without waiting (ig_lines_ready). */
int ig_jsonl_ready(struct ig_jsonl_reader *r);

/* Parse one JSON text (duplicates rejected, no trailing data): igkit's own
 * parser (jsonparse.c), accepting exactly what json_loadb() with
 * JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL does, several times faster.  New
 * reference, or NULL with err set: 65 bad JSON, 70 out of memory. */
json_t *ig_json_parse(const char *buf, size_t len, struct ig_err *err);
/* The same; *nul (when not NULL) is 1 when a string value holds \u0000, so a
 * caller that refuses NULs needs no second walk of the tree. */
json_t *ig_json_parse_nul(const char *buf, size_t len, int *nul, struct ig_err *err);

/* Append v (borrowed) to b, compact, exactly as json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) would.  0, or -1 (b unchanged) when b is full. */
int ig_json_dumpb(struct ig_buf *b, const json_t *v);

/*
 * One JSON object written member by member into a buffer, in the order
 * given, exactly as ig_json_dumpb() prints the same object, without
 * building it first (hot paths: ig-route prints an object per event).
 * Errors stick: ig_jw_end() returns 0, or -1 (out of memory or over the
 * buffer's cap) with the buffer back at its length before ig_jw_begin().
 */
struct ig_jw {
	struct ig_buf *b;
	size_t len0;
	int n, rc;
};
void ig_jw_begin(struct ig_jw *w, struct ig_buf *b);
void ig_jw_str(struct ig_jw *w, const char *key, const char *val);   /* NULL: null */
void ig_jw_int(struct ig_jw *w, const char *key, int64_t val);
void ig_jw_value(struct ig_jw *w, const char *key, const json_t *val); /* borrowed */
int ig_jw_end(struct ig_jw *w);

/* Write v (borrowed) compact with a newline and flush.  0, or -1 (errno). */
int ig_json_emit(FILE *f, const json_t *v);

/* Object getters that tolerate absence: NULL / dflt when missing or of
 * another type.  Borrowed. */
const char *ig_json_str(const json_t *obj, const char *key);
long long ig_json_int(const json_t *obj, const char *key, long long dflt);
/* ID fields: Meta sends ids as strings, but accept integers too; writes into
 * buf (>= 32 bytes) and returns it, or NULL. */
const char *ig_json_id(const json_t *obj, const char *key, char *buf);

enum ig_format { IG_FMT_JSON, IG_FMT_TABLE, IG_FMT_CSV };
/* "json" | "table" | "csv"; 0 or -1. */
int ig_format_parse(const char *s, enum ig_format *out);

/* A listing.  cols: NULL-terminated column names (the object keys shown by
 * table and csv; json prints whole objects), or NULL for "the keys of the
 * first row, in their order". */
struct ig_out {
	FILE *f;
	enum ig_format fmt;
	const char *const *cols;
	char **own_cols;    /* cols taken from the first row (freed by finish) */
	json_t *rows;       /* table only: buffered until finish */
	int header_done;
	int failed;         /* a write failed */
};

void ig_out_init(struct ig_out *o, FILE *f, enum ig_format fmt, const char *const *cols);
int ig_out_row(struct ig_out *o, const json_t *row);  /* borrows; 0 or -1 */
int ig_out_finish(struct ig_out *o);                  /* 0 or -1; frees */

/* Render a scalar as text for table/csv cells; new string. */
char *ig_json_cell(const json_t *v);

#endif
