/*
 * events.h — the routed-events loop: JSON Lines of ig-route's events (or any
 * JSON Lines a consumer understands) read record by record, each handed to
 * the consumer, which names the key it affects (a conversation id); the
 * distinct keys are acted on in batches.  ig-reply runs it; ig-comments can.
 *
 * A batch ends when it is full, at the end of input, or when the writer
 * pauses (ig-route in a live pipe): a trickle is answered promptly, a flood
 * in batches.  A bad record (not JSON, too long, refused by the consumer) is
 * kept as a dead letter with its raw bytes and reported; the stream goes
 * on.  The library prints nothing: reports go to ops->report.
 */
#ifndef IG_EVENTS_H
#define IG_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "err.h"
#include "jsonio.h"
#include "store.h"

struct ig_events_ops {
	/* One record (borrowed): 0 with *key set (0: nothing to act on), or an
	 * exit code (65) with err set and *tenant the tenant it belongs to
	 * (0 when unknown), for its dead letter. */
	int (*event)(void *arg, const json_t *rec, int64_t *key, int64_t *tenant,
		     struct ig_err *err);
	/* The distinct keys of a batch, in arrival order: 0, or an exit code
	 * that ends the loop (the store failed; err set). */
	int (*batch)(void *arg, const int64_t *keys, size_t n, struct ig_err *err);
	/* A message for the user: code 65 a record failed ("NAME:LINE: why"),
	 * another code a failure to keep it as a dead letter. */
	void (*report)(void *arg, int code, const char *msg);
};

/*
 * Run the loop over rd until end of input.  batch_max: keys per batch
 * (>= 1).  Dead letters go to st (source 'ig-reply').  0 at end of input;
 * 74 on a read error, or the code ops->batch returned, with err set.
 */
int ig_events_run(struct ig_jsonl_reader *rd, struct ig_store *st, size_t batch_max,
		  const struct ig_events_ops *ops, void *arg, struct ig_err *err);

#endif
