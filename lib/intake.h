/*
 * intake.h — ig-route's intake as library calls: pipe mode (deliveries on a
 * descriptor, verified, stored and routed in batches), the CGI requests
 * (Meta's handshake, a POSTed delivery), explain, replay and the dead
 * letters, each with its permission check.  The routing itself is
 * lib/route.c's; lib/cgi.c reads the request.
 *
 * Nothing here prints: routed events and messages collect in the route's
 * out and report buffers, handed to a flush callback after each commit (a
 * printed event is stored); an HTTP answer goes through an answer callback.
 * No libcurl, no libcrypto: ig-route links this.
 */
#ifndef IG_INTAKE_H
#define IG_INTAKE_H

#include <stddef.h>

#include "ctx.h"
#include "err.h"
#include "jsonio.h"
#include "route.h"

enum ig_intake_mode { IG_INTAKE_AUTO, IG_INTAKE_ENVELOPES, IG_INTAKE_RAW };

struct ig_intake_opts {
	enum ig_intake_mode mode;
	const char *signature;   /* raw mode: the X-Hub-Signature(-256) value, or NULL */
	int no_verify;
	int batch;               /* deliveries per transaction (>= 1) */
};

/* Called after each commit: print r->out (events) and r->report (one
 * message a line), then reset both; a non-zero return stops the run. */
typedef int ig_intake_flush_fn(struct ig_route *r, void *arg);

/*
 * Pipe mode over fd: JSON Lines of envelopes {"headers":{...},"body":"..."}
 * or one raw body (mode; AUTO: an envelope on the first line decides).
 * Many deliveries per transaction (DESIGN.md §10): a batch commits when it
 * is full, holds 16 MiB, input pauses, or 100 ms passed.  A delivery that
 * fails half-way rolls the batch back; it is routed again with a savepoint
 * per delivery, so only that one stays 'received'.
 * *n: the counts.  0; 65 when a delivery was rejected, an event dead-lettered
 * or invalid; or an exit code with err set (store, read error, permission).
 */
int ig_intake_pipe(struct ig_ctx *ctx, int fd, const struct ig_intake_opts *o,
		   ig_intake_flush_fn *flush, void *arg, struct ig_route_counts *n,
		   struct ig_err *err);

/* The longest envelope line for a body of max_body bytes (an escaped body
 * may be six times its raw size, plus the headers). */
size_t ig_intake_line_max(size_t max_body);

/* An envelope line → in's body and signature headers (borrowed from *env,
 * a new reference the caller releases, even on failure); -1 with why when
 * the line is not one. */
int ig_intake_envelope(const char *line, size_t len, json_t **env, struct ig_route_in *in,
		       char *why, size_t whylen);
/* 1 when line looks like an envelope (the auto-detection). */
int ig_intake_is_envelope(const char *line, size_t len);

/* ------------------------------------------------------------ CGI */

/* Write an HTTP answer: status, a text/plain body, an extra header line
 * ("Allow: GET, POST\r\n") or NULL.  The caller's: cmd/ prints. */
typedef void ig_intake_answer_fn(void *arg, int status, const char *body, const char *extra);

/*
 * GET: Meta's verification handshake (reference §1.1) from QUERY_STRING:
 * hub.mode=subscribe, hub.verify_token equal to verify_token_file's,
 * hub.challenge echoed.  Answers through answer; 0, 65 (refused), or an
 * exit code (not configured).  Messages for the server log in *msg.
 */
int ig_intake_handshake(struct ig_ctx *ctx, ig_intake_answer_fn *answer, void *arg,
			char *msg, size_t msglen);

/*
 * POST: one delivery.  Transaction 1 stores the raw delivery durably and
 * then the answer is given (200, or 4xx for a rejected one, 5xx when it
 * could not be stored: Meta retries); the store is closed and a detached
 * child (fork) routes it in transaction 2 (a failure leaves it 'received'
 * for replay --deliveries).  In the parent returns at once with 0; in the
 * child after routing.  *is_child set in the child.  Report lines in
 * r->report go to flush (in the child; in the parent for a rejection).
 */
int ig_intake_post(struct ig_ctx *ctx, ig_intake_answer_fn *answer, void *arg,
		   ig_intake_flush_fn *flush, int *is_child, struct ig_err *err);

/* ------------------------------------------------------------ explain, replay, dead */

/* Warnings of explain ("NAME:LINE: why"). */
typedef void ig_intake_warn_fn(void *arg, const char *msg);

/*
 * Explain each event of a stored delivery (delivery > 0), or of the
 * deliveries read from fd (name for messages): one raw body or envelopes.
 * Changes nothing (read access to the platform).  *rows: a new array of
 * objects with "record" first.  0, or 65 when some input was malformed
 * (reported through warn; *rows set); an exit code with *rows NULL (err set:
 * unknown delivery, store, permission).
 */
struct ig_intake_explain_opts {
	int64_t delivery;          /* > 0: a stored delivery instead of fd */
	int verify;                /* a signature that is not valid fails the run (65) */
	const char *signature;     /* a raw body's X-Hub-Signature(-256) ("sha1=" or "sha256=") */
};
int ig_intake_explain(struct ig_ctx *ctx, const struct ig_intake_explain_opts *o, int fd,
		      const char *name, ig_intake_warn_fn *warn, void *arg, json_t **rows,
		      struct ig_err *err);

/*
 * Replay open dead letters (or, with deliveries, deliveries left
 * 'received'); id > 0: only that one, which must exist (65).  Events go to
 * flush after each commit; an audit row records a real replay.  *done and
 * *still (dead letters still open) are counted.  0 or an exit code.
 */
int ig_intake_replay(struct ig_ctx *ctx, int deliveries, int64_t id, int dry_run,
		     ig_intake_flush_fn *flush, void *arg, long *done, long *still,
		     struct ig_err *err);

/* Dead letters (status NULL: all), of tenant (a slug; NULL: all, for a
 * platform reader). */
int ig_intake_dead(struct ig_ctx *ctx, const char *tenant, const char *status, long limit,
		   json_t **rows, struct ig_err *err);

#endif
