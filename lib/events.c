#include <stdio.h>
#include <stdlib.h>

#include "events.h"
#include "exitcodes.h"
#include "reply.h"

/* A failed record: report it, keep it. */
static void failed(struct ig_jsonl_reader *rd, struct ig_store *st, int64_t tenant,
		   const char *msg, const struct ig_events_ops *ops, void *arg)
{
	struct ig_err derr = { 0 };

	ops->report(arg, IG_EX_DATAERR, msg);
	if (ig_reply_dead_letter(st, tenant, msg, rd->raw.data, rd->raw.len, &derr))
		ops->report(arg, derr.code ? derr.code : IG_EX_SOFTWARE, derr.msg);
}

static void add_key(int64_t *keys, size_t *n, int64_t key)
{
	size_t i;

	for (i = 0; i < *n && keys[i] != key; i++)
		;
	if (i == *n)
		keys[(*n)++] = key;
}

int ig_events_run(struct ig_jsonl_reader *rd, struct ig_store *st, size_t batch_max,
		  const struct ig_events_ops *ops, void *arg, struct ig_err *err)
{
	int64_t *keys = calloc(batch_max ? batch_max : 1, sizeof(*keys));
	size_t n = 0;
	int rc = 0;

	if (!keys)
		return ig_err_set(err, IG_EX_SOFTWARE, "out of memory");
	for (;;) {
		struct ig_err rerr = { 0 };
		json_t *v = NULL;
		int more = ig_jsonl_next(rd, &v, &rerr);

		if (more < 0) {
			*err = rerr;
			rc = IG_EX_IOERR;
			break;
		}
		if (more == 1 && !v) {
			failed(rd, st, 0, rerr.msg, ops, arg);
		} else if (more == 1) {
			int64_t key = 0, tenant = 0;

			if (ops->event(arg, v, &key, &tenant, &rerr)) {
				char msg[sizeof(rerr.msg)];

				snprintf(msg, sizeof(msg), "%s:%ld: %.980s", rd->name, rd->line, rerr.msg);
				failed(rd, st, tenant, msg, ops, arg);
			} else if (key) {
				add_key(keys, &n, key);
			}
			json_decref(v);
		}
		if (n && (more == 0 || n == batch_max || !ig_jsonl_ready(rd))) {
			if ((rc = ops->batch(arg, keys, n, err)))
				break;
			n = 0;
		}
		if (more == 0)
			break;
	}
	free(keys);
	return rc;
}
